package dev.tartan.agent.subnetenv;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tartan.net.Ipv4Subnet;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Optional;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SubnetEnvFileTest {
  static final SubnetEnv ENV = SubnetEnv.of(Ipv4Subnet.parse("10.5.0.0/16"),
      Ipv4Subnet.parse("10.5.72.0/24"), 1450, false);

  @TempDir Path dir;

  @Test
  void writeCreatesParentsAndSetsModes() throws Exception {
    Path file = dir.resolve("run/flannel/subnet.env");
    SubnetEnvFile.write(file, ENV);
    assertThat(Files.readString(file)).isEqualTo(ENV.render());
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(file)))
        .isEqualTo("rw-r--r--");
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(file.getParent())))
        .isEqualTo("rwxr-xr-x");
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(dir.resolve("run"))))
        .isEqualTo("rwxr-xr-x");
    try (Stream<Path> s = Files.list(file.getParent())) {
      assertThat(s).containsExactly(file);
    }
  }

  @Test
  void writeReplacesAnOldFileAndItsMode() throws Exception {
    Path file = dir.resolve("subnet.env");
    Files.writeString(file, "FLANNEL_NETWORK=10.9.0.0/16\n");
    Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
    Object inodeBefore = Files.getAttribute(file, "unix:ino");
    SubnetEnv changed = SubnetEnv.of(Ipv4Subnet.parse("10.5.0.0/16"),
        Ipv4Subnet.parse("10.5.9.0/24"), 1400, true);
    SubnetEnvFile.write(file, changed);
    assertThat(Files.readString(file)).isEqualTo(changed.render());
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(file)))
        .isEqualTo("rw-r--r--");
    assertThat(Files.getAttribute(file, "unix:ino")).as("renamed, not rewritten in place")
        .isNotEqualTo(inodeBefore);
    assertThat(SubnetEnvFile.read(file)).contains(changed);
    try (Stream<Path> s = Files.list(dir)) {
      assertThat(s).containsExactly(file);
    }
  }

  @Test
  void readPreviousMasksTheSubnetAndTheNetwork() throws Exception {
    Path file = dir.resolve("subnet.env");
    SubnetEnvFile.write(file, ENV);
    assertThat(SubnetEnvFile.readPrevious(file)).contains(Ipv4Subnet.parse("10.5.72.0/24"));
    assertThat(SubnetEnvFile.readPreviousNetwork(file)).contains(Ipv4Subnet.parse("10.5.0.0/16"));
  }

  @Test
  void readPreviousIsEmptyWhenAbsentBrokenOrAmbiguous() throws Exception {
    Path file = dir.resolve("subnet.env");
    assertThat(SubnetEnvFile.readPrevious(file)).isEmpty();
    assertThat(SubnetEnvFile.read(file)).isEmpty();
    Files.writeString(file, "FLANNEL_NETWORK=10.5.0.0/16\n");
    assertThat(SubnetEnvFile.readPrevious(file)).isEmpty();
    assertThat(SubnetEnvFile.readPreviousNetwork(file)).contains(Ipv4Subnet.parse("10.5.0.0/16"));
    Files.writeString(file, "FLANNEL_SUBNET=10.5.72.1/24,10.5.73.1/24\n");
    assertThat(SubnetEnvFile.readPrevious(file)).isEmpty();
    Files.writeString(file, "FLANNEL_SUBNET=not-a-cidr\nFLANNEL_NETWORK=10.5.0.0\n");
    assertThat(SubnetEnvFile.readPrevious(file)).isEqualTo(Optional.empty());
    assertThat(SubnetEnvFile.readPreviousNetwork(file)).isEmpty();
    // flanneld's own file (same format) is understood
    Files.writeString(file, "FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.7.1/24\n"
        + "FLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n");
    assertThat(SubnetEnvFile.readPrevious(file)).contains(Ipv4Subnet.parse("10.244.7.0/24"));
  }

  @Test
  void readPreviousV6MasksTheIpv6SubnetAndIsQuietWithoutOne() throws Exception {
    Path file = dir.resolve("dual.env");
    Files.writeString(file, "FLANNEL_NETWORK=10.5.0.0/16\nFLANNEL_SUBNET=10.5.72.1/24\n"
        + "FLANNEL_IPV6_NETWORK=fd00:10::/48\nFLANNEL_IPV6_SUBNET=fd00:10:0:7::1/64\nFLANNEL_MTU=1450\n"
        + "FLANNEL_IPMASQ=false\n");
    assertThat(SubnetEnvFile.readPreviousV6(file)).contains(dev.tartan.net.Ipv6Subnet.parse("fd00:10:0:7::/64"));
    Path v4 = dir.resolve("v4.env");
    Files.writeString(v4, "FLANNEL_NETWORK=10.5.0.0/16\nFLANNEL_SUBNET=10.5.72.1/24\n");
    assertThat(SubnetEnvFile.readPreviousV6(v4)).isEmpty();
    assertThat(SubnetEnvFile.readPreviousV6(dir.resolve("missing.env"))).isEmpty();
    Files.writeString(v4, "FLANNEL_IPV6_SUBNET=not-an-address/64\n");
    assertThat(SubnetEnvFile.readPreviousV6(v4)).isEmpty();
  }
}
