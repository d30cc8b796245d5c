package dev.tartan.agent.firewall;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SysctlTest {
  @TempDir Path procSys;

  @Test
  void enablesIpForwardOnce() throws Exception {
    Path f = Files.createDirectories(procSys.resolve("net/ipv4")).resolve("ip_forward");
    Files.writeString(f, "0\n");
    Sysctl s = new Sysctl(procSys);
    assertThat(s.enableIpForward()).isTrue();
    assertThat(Files.readString(f)).isEqualTo("1\n");
    assertThat(s.enableIpForward()).isFalse();
  }

  @Test
  void brNetfilterIsDetectedByItsSysctl() throws Exception {
    Sysctl s = new Sysctl(procSys);
    assertThat(s.checkBrNetfilter()).isFalse();
    Files.createDirectories(procSys.resolve("net/bridge"));
    Files.writeString(procSys.resolve("net/bridge/bridge-nf-call-iptables"), "1\n");
    assertThat(s.checkBrNetfilter()).isTrue();
  }

  @Test
  void enablesIpv6ForwardingOnceAndTurnsRouterAdvertisementsOffOnADevice() throws Exception {
    Path f = Files.createDirectories(procSys.resolve("net/ipv6/conf/all")).resolve("forwarding");
    Files.writeString(f, "0\n");
    Path ra = Files.createDirectories(procSys.resolve("net/ipv6/conf/flannel-v6.1")).resolve("accept_ra");
    Files.writeString(ra, "1\n");
    Sysctl s = new Sysctl(procSys);
    assertThat(s.enableIpv6Forward()).isTrue();
    assertThat(Files.readString(f)).isEqualTo("1\n");
    assertThat(s.enableIpv6Forward()).isFalse();
    s.disableAcceptRa("flannel-v6.1");
    assertThat(Files.readString(ra)).isEqualTo("0\n");
    s.disableAcceptRa("no-such-device"); // ignored, as flanneld does
  }
}
