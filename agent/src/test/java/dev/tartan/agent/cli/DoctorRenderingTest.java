package dev.tartan.agent.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tartan.agent.doctor.Diagnosis;
import dev.tartan.agent.doctor.Finding;
import dev.tartan.agent.doctor.Report;
import dev.tartan.agent.subnetenv.SubnetEnv;
import dev.tartan.net.Ipv4Subnet;
import dev.tartan.store.LeaseAttrs;
import dev.tartan.store.SubnetLease;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.Inet4Address;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DoctorRenderingTest {
  static final Instant NOW = Instant.parse("2026-11-27T10:00:00Z");

  static Inet4Address ip(String s) {
    return Ipv4Subnet.toInet(Ipv4Subnet.parseAddress(s));
  }

  static final SubnetLease OWN = new SubnetLease(Ipv4Subnet.parse("10.244.1.0/24"), null,
      LeaseAttrs.ipv4(ip("198.51.100.1"), "vxlan", "{\"VNI\":1,\"VtepMAC\":\"0e:00:00:00:00:01\"}"),
      NOW.plusSeconds(3600), 7, 1);
  static final Report.Host HOST = new Report.Host(ip("198.51.100.1"), "eth0", OWN, "flannel.1");
  static final Finding ROUTE = new Finding("route", "10.244.2.0/24 (198.51.100.2)",
      "route 10.244.2.0/24 via 10.244.2.0 dev flannel.1 onlink proto 111 missing",
      "ip route replace 10.244.2.0/24 via 10.244.2.0 dev flannel.1 onlink proto 111");
  static final Finding FILE = new Finding("subnet-file", "/run/flannel/subnet.env",
      "FLANNEL_MTU is 1400, expected 1450", "systemctl restart tartan");

  @Test
  void consistentTable() {
    assertThat(DoctorCommand.text(new Report(HOST, 3, 2, List.of()))).isEqualTo(
        "host 198.51.100.1 (eth0): lease 10.244.1.0/24, device flannel.1; 3 leases in etcd, 2 peers checked\n"
            + "consistent: no discrepancies\n");
  }

  @Test
  void findingsTableOneLineEachWithAlignedColumns() {
    String text = DoctorCommand.text(new Report(HOST, 3, 2, List.of(ROUTE, FILE)));
    String[] lines = text.split("\n");
    assertThat(lines).hasSize(5);
    assertThat(lines[0]).isEqualTo(
        "host 198.51.100.1 (eth0): lease 10.244.1.0/24, device flannel.1; 3 leases in etcd, 2 peers checked");
    assertThat(lines[1]).startsWith("CHECK        WHERE                         PROBLEM  ");
    assertThat(lines[2]).startsWith("route        10.244.2.0/24 (198.51.100.2)  " + ROUTE.problem() + "  " + ROUTE.fix());
    assertThat(lines[3]).startsWith("subnet-file  /run/flannel/subnet.env       " + FILE.problem() + " ");
    // the FIX column starts at the same place on every line: two spaces after the longest problem
    int fixAt = lines[1].indexOf("FIX");
    assertThat(fixAt).isEqualTo(lines[2].indexOf(ROUTE.fix())).isEqualTo(lines[3].indexOf(FILE.fix()))
        .isEqualTo(lines[2].indexOf(ROUTE.problem()) + ROUTE.problem().length() + 2);
    assertThat(lines[4]).isEqualTo("2 discrepancies. A running agent repairs kernel entries within its resync interval;"
        + " 'systemctl restart tartan' re-applies everything.");
  }

  @Test
  void unidentifiedHost() {
    assertThat(DoctorCommand.summary(new Report(null, 5, 0, List.of()))).isEqualTo("host: not identified; 5 leases in etcd");
  }

  @Test
  void jsonForScripts() throws Exception {
    JsonNode j = new ObjectMapper().readTree(DoctorCommand.json(new Report(HOST, 3, 2, List.of(ROUTE)), NOW));
    assertThat(j.path("consistent").asBoolean(true)).isFalse();
    assertThat(j.path("host").path("publicIp").asText()).isEqualTo("198.51.100.1");
    assertThat(j.path("host").path("iface").asText()).isEqualTo("eth0");
    assertThat(j.path("host").path("subnet").asText()).isEqualTo("10.244.1.0/24");
    assertThat(j.path("host").path("device").asText()).isEqualTo("flannel.1");
    assertThat(j.path("host").path("leaseTtlSeconds").asLong()).isEqualTo(3600);
    assertThat(j.path("leases").asInt()).isEqualTo(3);
    assertThat(j.path("peers").asInt()).isEqualTo(2);
    assertThat(j.path("findings")).hasSize(1);
    JsonNode f = j.path("findings").get(0);
    assertThat(f.path("check").asText()).isEqualTo("route");
    assertThat(f.path("where").asText()).isEqualTo("10.244.2.0/24 (198.51.100.2)");
    assertThat(f.path("problem").asText()).isEqualTo(ROUTE.problem());
    assertThat(f.path("fix").asText()).isEqualTo(ROUTE.fix());

    JsonNode none = new ObjectMapper().readTree(DoctorCommand.json(new Report(null, 0, 0, List.of()), NOW));
    assertThat(none.path("consistent").asBoolean()).isTrue();
    assertThat(none.path("host").isNull()).isTrue();
  }

  @Test
  void subnetFileStates(@TempDir Path dir) throws Exception {
    Path f = dir.resolve("subnet.env");
    assertThat(DoctorCommand.readSubnetFile(f)).isEqualTo(Diagnosis.SubnetFile.missing(f));
    Files.writeString(f, "FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.1.1/24\n");
    assertThat(DoctorCommand.readSubnetFile(f).error()).isEqualTo("subnet.env is missing FLANNEL_MTU, FLANNEL_IPMASQ");
    Files.writeString(f, "FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.1.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n");
    assertThat(DoctorCommand.readSubnetFile(f).env()).isEqualTo(
        SubnetEnv.of(Ipv4Subnet.parse("10.244.0.0/16"), Ipv4Subnet.parse("10.244.1.0/24"), 1450, true));
  }

  @Test
  void progressDrawsOnATerminalOnlyAndErasesItself() {
    AtomicLong nanos = new AtomicLong();
    StringWriter tty = new StringWriter();
    Progress p = new Progress(new PrintWriter(tty), true, nanos::get);
    p.step("reading the leases from etcd");
    p.draw();
    assertThat(tty.toString()).isEmpty(); // quick steps stay silent
    nanos.set(2_500_000_000L);
    p.draw();
    assertThat(tty.toString()).isEqualTo("\r\033[Kreading the leases from etcd ... 2.5 s");
    p.close();
    assertThat(tty.toString()).endsWith("2.5 s\r\033[K");

    StringWriter pipe = new StringWriter();
    Progress silent = new Progress(new PrintWriter(pipe), false, nanos::get);
    nanos.set(9_000_000_000L);
    silent.step("reading");
    silent.draw();
    silent.close();
    assertThat(pipe.toString()).isEmpty();
  }

  @Test
  void notATerminalUnderTest() {
    // surefire pipes the test JVM's output: no console, so no progress
    assertThat(Progress.onTerminal()).isFalse();
  }

  @Test
  void peersHeldInGraceAreListedUnderTheSummary() throws Exception {
    var h = new dev.tartan.agent.routing.GraceFile.Held(dev.tartan.net.Ipv4Subnet.parse("10.244.3.0/24"),
        (java.net.Inet4Address) java.net.InetAddress.getByName("198.51.100.3"), "0e:00:00:00:00:03",
        java.time.Instant.parse("2026-12-01T00:01:00Z"));
    String text = DoctorCommand.text(new Report(HOST, 3, 2, List.of(), List.of(h)));
    assertThat(text).contains("1 peer held in grace (lease expired; kept programmed until renewed, leased again or "
        + "the grace ends): 10.244.3.0/24 (198.51.100.3) until 2026-12-01T00:01:00Z\n");
    JsonNode j = new ObjectMapper().readTree(DoctorCommand.json(new Report(HOST, 3, 2, List.of(), List.of(h)), NOW));
    assertThat(j.path("peersInGrace").get(0).path("subnet").asText()).isEqualTo("10.244.3.0/24");
  }
}
