package dev.tartan.agent.routing;

import dev.tartan.net.Ipv4Subnet;
import dev.tartan.store.LeaseAttrs;
import dev.tartan.store.SubnetLease;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.time.Instant;

/** Lease and address fixtures for the data-path tests. */
public final class TestLeases {
  private TestLeases() {}

  public static Inet4Address ip(String dotted) {
    try {
      return (Inet4Address) InetAddress.getByName(dotted); // a literal: no DNS lookup
    } catch (UnknownHostException e) {
      throw new AssertionError(e);
    }
  }

  public static Ipv4Subnet net(String cidr) {
    return Ipv4Subnet.parse(cidr);
  }

  /** A vxlan lease as flannel writes it. */
  public static SubnetLease vxlan(String cidr, String publicIp, String mac) {
    return lease(cidr, publicIp, "vxlan", "{\"VNI\":1,\"VtepMAC\":\"" + mac + "\"}");
  }

  public static SubnetLease lease(String cidr, String publicIp, String type, String data) {
    return new SubnetLease(net(cidr), null, LeaseAttrs.ipv4(ip(publicIp), type, data),
        Instant.parse("2026-11-28T00:00:00Z"), 7, 100);
  }
}
