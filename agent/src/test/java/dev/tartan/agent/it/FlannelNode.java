package dev.tartan.agent.it;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tartan.agent.testbed.Cmd;
import dev.tartan.agent.testbed.Testbed;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A hand-built flannel node in a testbed host: the test performs the steps flanneld's host-gw or
 * vxlan backend would (ip_forward, the {@code flannel.1} device, the subnet file, the lease in etcd,
 * one route or three entries per peer) with {@code ip}/{@code bridge}/{@code etcdctl}, so a Tartan
 * host is checked against flannel's own layout, not against another Tartan. Also moves testbed
 * hosts to the second L2 (203.0.113.0/24) behind the control namespace, which routes between the two.
 */
final class FlannelNode {
  static final String FAR_ROUTER = "203.0.113.254";
  private static final Pattern LEASE_ID = Pattern.compile("lease ([0-9a-f]+) granted");

  final Testbed bed;
  final int h;
  final String ns;
  final String subnet; // "10.244.200.0"
  String publicIp;
  String vtepMac; // vxlan only

  FlannelNode(Testbed bed, int h, String subnet) {
    this.bed = bed;
    this.h = h;
    this.ns = bed.host(h);
    this.subnet = subnet;
    this.publicIp = Testbed.hostIp(h);
    Cmd.run("ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv4.ip_forward=1");
  }

  /** The control namespace becomes a router between 198.51.100.0/24 (br0) and 203.0.113.0/24 (br1). */
  static void addFarL2(Testbed bed) {
    String ctl = bed.ns("ctl");
    Cmd.run("ip", "-n", ctl, "link", "add", "br1", "type", "bridge");
    Cmd.run("ip", "-n", ctl, "addr", "add", FAR_ROUTER + "/24", "dev", "br1");
    Cmd.run("ip", "-n", ctl, "link", "set", "br1", "up");
    Cmd.run("ip", "netns", "exec", ctl, "sysctl", "-qw", "net.ipv4.ip_forward=1");
  }

  /** Moves host {@code h} to the far L2 as 203.0.113.h, default route via the router; returns its address. */
  static String moveToFarL2(Testbed bed, int h) {
    String ns = bed.host(h);
    String ip = "203.0.113." + h;
    Cmd.run("ip", "-n", bed.ns("ctl"), "link", "set", "vh" + h, "master", "br1");
    Cmd.run("ip", "-n", ns, "addr", "flush", "dev", "eth0");
    Cmd.run("ip", "-n", ns, "addr", "add", ip + "/24", "dev", "eth0");
    Cmd.run("ip", "-n", ns, "route", "replace", "default", "via", FAR_ROUTER);
    return ip;
  }

  /** flannel's vxlan device: {@code flannel.1}, VNI 1, port 8472, nolearning, MTU 1450, {@code <subnet>/32}, up. */
  void vxlanDevice(String mac) {
    Cmd.quiet("ip", "-n", ns, "link", "del", "flannel.1");
    if (mac == null) {
      Cmd.run("ip", "-n", ns, "link", "add", "flannel.1", "type", "vxlan", "id", "1", "local", publicIp, "dev",
          "eth0", "dstport", "8472", "nolearning");
    } else {
      Cmd.run("ip", "-n", ns, "link", "add", "flannel.1", "address", mac, "type", "vxlan", "id", "1", "local",
          publicIp, "dev", "eth0", "dstport", "8472", "nolearning");
    }
    Cmd.run("ip", "-n", ns, "link", "set", "flannel.1", "mtu", "1450");
    Cmd.run("ip", "-n", ns, "addr", "add", subnet + "/32", "dev", "flannel.1");
    Cmd.run("ip", "-n", ns, "link", "set", "flannel.1", "up");
    vtepMac = bed.ipJson(ns, "link", "show", "flannel.1").get(0).path("address").asText();
  }

  /**
   * The subnet file flanneld writes with {@code --ip-masq} (the CNI plugin reads it to attach
   * containers; without it the CNI bridge would masquerade pod-to-pod traffic). Pod-to-pod traffic
   * is never masqueraded by flanneld's rules, so they are not installed here.
   */
  void subnetFile(int mtu) {
    String gw = subnet.substring(0, subnet.lastIndexOf('.')) + ".1";
    try {
      Files.writeString(bed.subnetFile(h), "FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=" + gw + "/24\nFLANNEL_MTU="
          + mtu + "\nFLANNEL_IPMASQ=true\n");
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The lease value flanneld writes (docs/flannel-compat.md §1.4). */
  String leaseJson(String backendType) {
    return "{\"PublicIP\":\"" + publicIp + "\",\"PublicIPv6\":null,\"BackendType\":\"" + backendType + "\""
        + (vtepMac == null ? "" : ",\"BackendData\":{\"VNI\":1,\"VtepMAC\":\"" + vtepMac + "\"}") + "}";
  }

  /** Puts the lease under an etcd lease of 24 h, as flanneld. */
  void publish(String backendType) {
    String granted = bed.etcdctl("lease", "grant", "86400");
    Matcher m = LEASE_ID.matcher(granted);
    if (!m.find()) {
      throw new IllegalStateException("etcdctl lease grant printed: " + granted);
    }
    bed.etcdctl("put", "--lease=" + m.group(1), key(), leaseJson(backendType));
  }

  String key() {
    return "/coreos.com/network/subnets/" + subnet + "-24";
  }

  /** flannel's host-gw route, and DirectRouting's: {@code ip route replace S via R} (kernel picks the device). */
  void directRoute(String peerSubnet, String peerIp) {
    Cmd.quiet("ip", "-n", ns, "neigh", "del", peerSubnet, "dev", "flannel.1");
    Cmd.run("ip", "-n", ns, "route", "replace", peerSubnet + "/24", "via", peerIp);
  }

  /** flannel's three VXLAN entries for one peer (docs/flannel-compat.md §2.4). */
  void vxlanPeer(String peerSubnet, String peerIp, String peerMac) {
    Cmd.run("ip", "-n", ns, "neigh", "replace", peerSubnet, "lladdr", peerMac, "dev", "flannel.1", "nud", "permanent");
    Cmd.run("ip", "netns", "exec", ns, "bridge", "fdb", "replace", peerMac, "dev", "flannel.1", "dst", peerIp, "self", "permanent");
    Cmd.run("ip", "-n", ns, "route", "replace", peerSubnet + "/24", "via", peerSubnet, "dev", "flannel.1", "onlink");
  }

  /** {@code tartan doctor} inside Tartan host {@code h} (the shaded jar), as an operator runs it there. */
  static Cmd.Result doctor(Testbed bed, int h) {
    java.util.List<String> argv = new java.util.ArrayList<>(java.util.List.of(Cmd.inNs(bed.host(h), "java")));
    argv.addAll(Testbed.AGENT_JVM);
    argv.addAll(java.util.List.of("-jar", Testbed.agentJar().toString(), "doctor",
        "--etcd-endpoints", bed.etcdEndpoints(), "--subnet-file", bed.subnetFile(h).toString()));
    return Cmd.exec(argv, null);
  }

  /** The VtepMAC of Tartan host {@code p}'s {@code flannel.1}. */
  static String macOf(Testbed bed, int p) {
    JsonNode l = bed.ipJson(bed.host(p), "link", "show", "flannel.1").get(0);
    return l.path("address").asText();
  }
}
