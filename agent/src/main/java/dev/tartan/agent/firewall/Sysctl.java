package dev.tartan.agent.firewall;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The kernel switches the agent needs. {@code /proc/sys/net} belongs to the network namespace of
 * the process that opens it, so this acts on the agent's namespace.
 */
public final class Sysctl {
  private static final Logger log = LoggerFactory.getLogger(Sysctl.class);
  static final String IP_FORWARD = "net/ipv4/ip_forward";
  static final String BRIDGE_NF_CALL_IPTABLES = "net/bridge/bridge-nf-call-iptables";
  static final String IPV6_FORWARD = "net/ipv6/conf/all/forwarding";

  private final Path procSys;

  /** @param procSys the sysctl tree, {@code /proc/sys} (a directory of the same shape in tests) */
  public Sysctl(Path procSys) {
    this.procSys = procSys;
  }

  public static Sysctl system() {
    return new Sysctl(Path.of("/proc/sys"));
  }

  /**
   * Sets {@code net.ipv4.ip_forward = 1} unless it already is (flanneld leaves this to the CNI
   * bridge plugin; the agent makes sure).
   *
   * @return true when it was changed
   */
  public boolean enableIpForward() throws IOException {
    Path p = procSys.resolve(IP_FORWARD);
    if (Files.readString(p, StandardCharsets.US_ASCII).strip().equals("1")) {
      return false;
    }
    Files.writeString(p, "1\n", StandardCharsets.US_ASCII);
    log.info("enabled net.ipv4.ip_forward");
    return true;
  }

  /** Whether {@code br_netfilter} is loaded ({@code net/bridge/bridge-nf-call-iptables} exists). */
  public boolean brNetfilterLoaded() {
    return Files.exists(procSys.resolve(BRIDGE_NF_CALL_IPTABLES));
  }

  /**
   * flanneld exits when br_netfilter is missing (docs/flannel-compat.md §3.7); the agent only warns, because only
   * traffic between pods on the same bridge is affected (it bypasses iptables).
   *
   * @return whether br_netfilter is loaded
   */
  public boolean checkBrNetfilter() {
    boolean loaded = brNetfilterLoaded();
    if (!loaded) {
      log.warn("br_netfilter is not loaded ({} is missing): traffic between pods on the same bridge "
          + "bypasses iptables; load it with: modprobe br_netfilter", procSys.resolve(BRIDGE_NF_CALL_IPTABLES));
    }
    return loaded;
  }

  // ---- IPv6 (dual stack)

  /**
   * Sets {@code net.ipv6.conf.all.forwarding = 1} unless it already is (the IPv6 counterpart of
   * {@link #enableIpForward()}, for a dual-stack network).
   *
   * @return true when it was changed
   */
  public boolean enableIpv6Forward() throws IOException {
    Path p = procSys.resolve(IPV6_FORWARD);
    if (Files.readString(p, StandardCharsets.US_ASCII).strip().equals("1")) {
      return false;
    }
    Files.writeString(p, "1\n", StandardCharsets.US_ASCII);
    log.info("enabled net.ipv6.conf.all.forwarding");
    return true;
  }

  /**
   * {@code net.ipv6.conf.<dev>.accept_ra = 0}, as flanneld does on its vxlan devices; errors are
   * ignored (IPv6 disabled, device gone), as there.
   */
  public void disableAcceptRa(String device) {
    Path p = procSys.resolve("net/ipv6/conf/" + device + "/accept_ra");
    try {
      if (!Files.readString(p, StandardCharsets.US_ASCII).strip().equals("0")) {
        Files.writeString(p, "0\n", StandardCharsets.US_ASCII);
      }
    } catch (IOException e) {
      log.debug("cannot set {}: {}", p, e.toString());
    }
  }
}
