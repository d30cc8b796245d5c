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
}
