package dev.tartan.cni.delegate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tartan.cni.CniException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SubnetEnvTest {

  @Test
  void flannelIpv4File() throws Exception {
    SubnetEnv e = SubnetEnv.parse("f", "\nFLANNEL_NETWORK=10.1.0.0/16\nFLANNEL_SUBNET=10.1.17.1/24\nFLANNEL_MTU=1472\n"
        + "FLANNEL_IPMASQ=true\n");
    assertThat(e.networks()).extracting(Cidr::toString).containsExactly("10.1.0.0/16");
    assertThat(e.subnet()).hasToString("10.1.17.0/24");
    assertThat(e.ipv6Networks()).isEmpty();
    assertThat(e.ipv6Subnet()).isNull();
    assertThat(e.mtu()).isEqualTo(1472);
    assertThat(e.ipMasq()).isTrue();
  }

  @Test
  void dualStackInFlannelsOrder() throws Exception {
    SubnetEnv e = SubnetEnv.parse("f", "FLANNEL_NETWORK=10.5.0.0/16\nFLANNEL_SUBNET=10.5.72.1/24\n"
        + "FLANNEL_IPV6_NETWORK=2001:cafe:42::/56\nFLANNEL_IPV6_SUBNET=2001:cafe:42::1/64\nFLANNEL_MTU=1450\n"
        + "FLANNEL_IPMASQ=false\n");
    assertThat(e.subnet()).hasToString("10.5.72.0/24");
    assertThat(e.ipv6Networks()).extracting(Cidr::toString).containsExactly("2001:cafe:42::/56");
    assertThat(e.ipv6Subnet()).hasToString("2001:cafe:42::/64");
    assertThat(e.ipMasq()).isFalse();
  }

  @Test
  void ipv6Only() throws Exception {
    SubnetEnv e = SubnetEnv.parse("f", "FLANNEL_IPV6_NETWORK=fc00::/48\nFLANNEL_IPV6_SUBNET=fc00::1/64\n"
        + "FLANNEL_MTU=1472\nFLANNEL_IPMASQ=true\n");
    assertThat(e.networks()).isEmpty();
    assertThat(e.subnet()).isNull();
    assertThat(e.ipv6Subnet()).hasToString("fc00::/64");
  }

  @Test
  void networkListDropsDuplicates() throws Exception {
    SubnetEnv e = SubnetEnv.parse("f", "FLANNEL_NETWORK=10.1.0.0/16,192.168.0.0/16,10.1.5.0/16\n"
        + "FLANNEL_SUBNET=10.1.17.1/24\nFLANNEL_MTU=1472\nFLANNEL_IPMASQ=true");
    assertThat(e.networks()).extracting(Cidr::toString).containsExactly("10.1.0.0/16", "192.168.0.0/16");
  }

  @Test
  void ipMasqIsTrueOnlyForExactlyTrue() throws Exception {
    for (String v : new String[] {"TRUE", "1", "yes", "true ", ""}) {
      assertThat(SubnetEnv.parse("f", "FLANNEL_NETWORK=10.1.0.0/16\nFLANNEL_SUBNET=10.1.17.1/24\nFLANNEL_MTU=1\n"
          + "FLANNEL_IPMASQ=" + v).ipMasq()).as(v).isFalse();
    }
  }

  @Test
  void crlfCommentsAndUnknownKeys() throws Exception {
    SubnetEnv e = SubnetEnv.parse("f", "# written by tartan\r\nFLANNEL_NETWORK=10.1.0.0/16\r\nOTHER=1\r\n"
        + "FLANNEL_SUBNET=10.1.17.1/24\r\nFLANNEL_MTU=1472\r\nFLANNEL_IPMASQ=true\r\n");
    assertThat(e.mtu()).isEqualTo(1472);
    assertThat(e.ipMasq()).isTrue();
  }

  @Test
  void missingEverythingListsAllKeysAsFlannelDoes() {
    assertThatThrownBy(() -> SubnetEnv.parse("/run/flannel/subnet.env", "foo=bar"))
        .isInstanceOfSatisfying(CniException.class, e -> assertThat(e.code()).isEqualTo(100))
        .hasMessage("/run/flannel/subnet.env is missing FLANNEL_NETWORK, FLANNEL_IPV6_NETWORK, FLANNEL_SUBNET, "
            + "FLANNEL_IPV6_SUBNET, FLANNEL_MTU, FLANNEL_IPMASQ");
  }

  @Test
  void missingSomeListsThose() {
    assertThatThrownBy(() -> SubnetEnv.parse("f", "FLANNEL_NETWORK=10.1.0.0/16\nFLANNEL_SUBNET=10.1.17.1/24\n"))
        .hasMessage("f is missing FLANNEL_MTU, FLANNEL_IPMASQ");
  }

  @Test
  void badValuesNameTheLine() {
    assertThatThrownBy(() -> SubnetEnv.parse("f", "FLANNEL_NETWORK=10.1.0.0/16\nFLANNEL_SUBNET=10.1.17.1\n"))
        .isInstanceOfSatisfying(CniException.class, e -> assertThat(e.code()).isEqualTo(100))
        .hasMessage("f line 2: FLANNEL_SUBNET is not a valid CIDR: \"10.1.17.1\" is not in CIDR notation (missing /prefix)");
    assertThatThrownBy(() -> SubnetEnv.parse("f", "FLANNEL_MTU=-1\n"))
        .hasMessage("f line 1: FLANNEL_MTU \"-1\" is not an unsigned 32-bit integer");
    assertThatThrownBy(() -> SubnetEnv.parse("f", "FLANNEL_MTU=4294967296\n"))
        .hasMessage("f line 1: FLANNEL_MTU \"4294967296\" is not an unsigned 32-bit integer");
    assertThatThrownBy(() -> SubnetEnv.parse("f", "FLANNEL_MTU= 1450\n")).hasMessageContaining("\" 1450\"");
    assertThatThrownBy(() -> SubnetEnv.parse("f", "FLANNEL_NETWORK=10.1.0.0/16,\n"))
        .hasMessageStartingWith("f line 1: FLANNEL_NETWORK is not a valid CIDR");
    assertThatThrownBy(() -> SubnetEnv.parse("f", "FLANNEL_IPMASQ\n")).hasMessage("f line 1: FLANNEL_IPMASQ has no '=value'");
  }

  @Test
  void largestMtuIsAccepted() throws Exception {
    assertThat(SubnetEnv.parse("f", "FLANNEL_NETWORK=10.1.0.0/16\nFLANNEL_SUBNET=10.1.17.1/24\nFLANNEL_MTU=4294967295\n"
        + "FLANNEL_IPMASQ=true").mtu()).isEqualTo(4294967295L);
  }

  @Test
  void missingFileMeansTryAgainLaterAndNamesTheAgent(@TempDir Path dir) {
    Path file = dir.resolve("subnet.env");
    assertThatThrownBy(() -> SubnetEnv.load(file))
        .isInstanceOfSatisfying(CniException.class, e -> assertThat(e.code()).isEqualTo(11))
        .hasMessageContaining(file.toString()).hasMessageContaining("tartan agent is running");
  }

  @Test
  void unreadableFileIsAnIoFailure(@TempDir Path dir) throws Exception {
    Path notAFile = Files.createDirectory(dir.resolve("subnet.env"));
    assertThatThrownBy(() -> SubnetEnv.load(notAFile))
        .isInstanceOfSatisfying(CniException.class, e -> assertThat(e.code()).isEqualTo(5));
  }

  @Test
  void loadsAFile(@TempDir Path dir) throws Exception {
    Path file = Files.writeString(dir.resolve("subnet.env"),
        "FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.7.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n");
    assertThat(SubnetEnv.load(file).subnet()).hasToString("10.244.7.0/24");
  }
}
