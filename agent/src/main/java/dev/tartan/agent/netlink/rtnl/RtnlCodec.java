package dev.tartan.agent.netlink.rtnl;

import dev.tartan.net.MacAddress;

import static dev.tartan.agent.netlink.codec.IfAddr.IFADDRMSG_SIZE;
import static dev.tartan.agent.netlink.codec.IfAddr.IFA_ADDRESS;
import static dev.tartan.agent.netlink.codec.IfAddr.IFA_F_NODAD;
import static dev.tartan.agent.netlink.codec.IfAddr.IFA_LOCAL;
import static dev.tartan.agent.netlink.codec.IfLink.IFINFOMSG_SIZE;
import static dev.tartan.agent.netlink.codec.IfLink.IFLA_ADDRESS;
import static dev.tartan.agent.netlink.codec.IfLink.IFLA_EXT_MASK;
import static dev.tartan.agent.netlink.codec.IfLink.IFLA_IFNAME;
import static dev.tartan.agent.netlink.codec.IfLink.IFLA_INFO_DATA;
import static dev.tartan.agent.netlink.codec.IfLink.IFLA_INFO_KIND;
import static dev.tartan.agent.netlink.codec.IfLink.IFLA_LINKINFO;
import static dev.tartan.agent.netlink.codec.IfLink.IFLA_MASTER;
import static dev.tartan.agent.netlink.codec.IfLink.IFLA_MTU;
import static dev.tartan.agent.netlink.codec.IfLink.IFLA_NET_NS_FD;
import static dev.tartan.agent.netlink.codec.IfLink.IFLA_VXLAN_GBP;
import static dev.tartan.agent.netlink.codec.IfLink.IFLA_VXLAN_ID;
import static dev.tartan.agent.netlink.codec.IfLink.IFLA_VXLAN_LEARNING;
import static dev.tartan.agent.netlink.codec.IfLink.IFLA_VXLAN_LINK;
import static dev.tartan.agent.netlink.codec.IfLink.IFLA_VXLAN_LOCAL;
import static dev.tartan.agent.netlink.codec.IfLink.IFLA_VXLAN_LOCAL6;
import static dev.tartan.agent.netlink.codec.IfLink.IFLA_VXLAN_PORT;
import static dev.tartan.agent.netlink.codec.IfLink.IFLA_VXLAN_UDP_CSUM;
import static dev.tartan.agent.netlink.codec.IfLink.VETH_INFO_PEER;
import static dev.tartan.agent.netlink.codec.Neigh.NDA_DST;
import static dev.tartan.agent.netlink.codec.Neigh.NDA_IFINDEX;
import static dev.tartan.agent.netlink.codec.Neigh.NDA_LLADDR;
import static dev.tartan.agent.netlink.codec.Neigh.NDMSG_SIZE;
import static dev.tartan.agent.netlink.codec.Neigh.NTF_SELF;
import static dev.tartan.agent.netlink.codec.Neigh.NUD_PERMANENT;
import static dev.tartan.agent.netlink.codec.Netlink.NLM_F_ACK;
import static dev.tartan.agent.netlink.codec.Netlink.NLM_F_APPEND;
import static dev.tartan.agent.netlink.codec.Netlink.NLM_F_CREATE;
import static dev.tartan.agent.netlink.codec.Netlink.NLM_F_DUMP;
import static dev.tartan.agent.netlink.codec.Netlink.NLM_F_EXCL;
import static dev.tartan.agent.netlink.codec.Netlink.NLM_F_REPLACE;
import static dev.tartan.agent.netlink.codec.Netlink.NLM_F_REQUEST;
import static dev.tartan.agent.netlink.codec.Rtnl.AF_BRIDGE;
import static dev.tartan.agent.netlink.codec.Rtnl.AF_INET;
import static dev.tartan.agent.netlink.codec.Rtnl.AF_INET6;
import static dev.tartan.agent.netlink.codec.Rtnl.AF_UNSPEC;
import static dev.tartan.agent.netlink.codec.Rtnl.IFF_UP;
import static dev.tartan.agent.netlink.codec.Rtnl.RTA_DST;
import static dev.tartan.agent.netlink.codec.Rtnl.RTA_GATEWAY;
import static dev.tartan.agent.netlink.codec.Rtnl.RTA_OIF;
import static dev.tartan.agent.netlink.codec.Rtnl.RTA_TABLE;
import static dev.tartan.agent.netlink.codec.Rtnl.RTEXT_FILTER_SKIP_STATS;
import static dev.tartan.agent.netlink.codec.Rtnl.RTMSG_SIZE;
import static dev.tartan.agent.netlink.codec.Rtnl.RTM_DELADDR;
import static dev.tartan.agent.netlink.codec.Rtnl.RTM_DELLINK;
import static dev.tartan.agent.netlink.codec.Rtnl.RTM_DELNEIGH;
import static dev.tartan.agent.netlink.codec.Rtnl.RTM_DELROUTE;
import static dev.tartan.agent.netlink.codec.Rtnl.RTM_F_CLONED;
import static dev.tartan.agent.netlink.codec.Rtnl.RTM_GETADDR;
import static dev.tartan.agent.netlink.codec.Rtnl.RTM_GETLINK;
import static dev.tartan.agent.netlink.codec.Rtnl.RTM_GETNEIGH;
import static dev.tartan.agent.netlink.codec.Rtnl.RTM_GETROUTE;
import static dev.tartan.agent.netlink.codec.Rtnl.RTM_NEWADDR;
import static dev.tartan.agent.netlink.codec.Rtnl.RTM_NEWLINK;
import static dev.tartan.agent.netlink.codec.Rtnl.RTM_NEWNEIGH;
import static dev.tartan.agent.netlink.codec.Rtnl.RTM_NEWROUTE;
import static dev.tartan.agent.netlink.codec.Rtnl.RTNH_F_ONLINK;
import static dev.tartan.agent.netlink.codec.Rtnl.RTN_UNICAST;
import static dev.tartan.agent.netlink.codec.Rtnl.RTN_UNSPEC;
import static dev.tartan.agent.netlink.codec.Rtnl.RT_SCOPE_LINK;
import static dev.tartan.agent.netlink.codec.Rtnl.RT_SCOPE_NOWHERE;
import static dev.tartan.agent.netlink.codec.Rtnl.RT_SCOPE_UNIVERSE;
import static dev.tartan.agent.netlink.codec.Rtnl.RT_TABLE_UNSPEC;

import dev.tartan.agent.netlink.codec.Attributes;
import dev.tartan.agent.netlink.codec.MalformedMessageException;
import dev.tartan.agent.netlink.codec.MessageWriter;
import dev.tartan.net.IpSubnet;
import dev.tartan.net.Ipv4Subnet;
import dev.tartan.net.Ipv6Subnet;
import java.net.Inet6Address;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Optional;

/**
 * rtnetlink requests for the typed operations and the decoding of replies and notifications into
 * {@link Link}, {@link Address}, {@link Route}, {@link Neighbour}, {@link FdbEntry} and {@link
 * NetlinkEvent}. Pure: every encoder appends one message to a {@link MessageWriter}; every
 * decoder reads one message payload and returns null for what it does not describe (other
 * families, non-unicast routes, cache clones). Malformed payloads throw MalformedMessageException.
 */
final class RtnlCodec {
  static final int REQ_ACK = NLM_F_REQUEST | NLM_F_ACK;
  static final int REQ_DUMP = NLM_F_REQUEST | NLM_F_DUMP;

  private RtnlCodec() {}

  // ------------------------------------------------------------------ links

  /** {@code ip link show NAME}: RTM_GETLINK with IFLA_IFNAME. */
  static void getLinkByName(MessageWriter w, int seq, String name) {
    w.begin(RTM_GETLINK, REQ_ACK, seq).ifinfomsg(AF_UNSPEC, 0, 0, 0, 0)
        .string(IFLA_IFNAME, name).u32(IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS).end();
  }

  /** {@code ip link show} for one ifindex: RTM_GETLINK with ifi_index. */
  static void getLinkByIndex(MessageWriter w, int seq, int index) {
    w.begin(RTM_GETLINK, REQ_ACK, seq).ifinfomsg(AF_UNSPEC, 0, index, 0, 0)
        .u32(IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS).end();
  }

  /** {@code ip link show}: RTM_GETLINK dump. */
  static void dumpLinks(MessageWriter w, int seq) {
    w.begin(RTM_GETLINK, REQ_DUMP, seq).ifinfomsg(AF_UNSPEC, 0, 0, 0, 0)
        .u32(IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS).end();
  }

  /** {@code ip link add NAME type vxlan id VNI local L dev U dstport P nolearning ...}. */
  static void newVxlan(MessageWriter w, int seq, VxlanSpec s) {
    w.begin(RTM_NEWLINK, REQ_ACK | NLM_F_CREATE | NLM_F_EXCL, seq).ifinfomsg(AF_UNSPEC, 0, 0, 0, 0)
        .string(IFLA_IFNAME, s.name());
    if (s.mtu() != 0) {
      w.u32(IFLA_MTU, s.mtu());
    }
    if (s.mac() != null && !s.mac().isEmpty()) {
      w.bytes(IFLA_ADDRESS, MacAddress.parse(s.mac()));
    }
    try (var info = w.nest(IFLA_LINKINFO)) {
      w.string(IFLA_INFO_KIND, "vxlan");
      try (var data = w.nest(IFLA_INFO_DATA)) {
        w.u32(IFLA_VXLAN_ID, s.vni());
        if (s.local() instanceof Inet6Address) {
          w.inet(IFLA_VXLAN_LOCAL6, s.local());
        } else if (s.local() != null) {
          w.inet(IFLA_VXLAN_LOCAL, s.local());
        }
        if (s.underlay() != 0) {
          w.u32(IFLA_VXLAN_LINK, s.underlay());
        }
        if (s.port() != 0) {
          w.u16be(IFLA_VXLAN_PORT, s.port());
        }
        w.u8(IFLA_VXLAN_LEARNING, s.learning() ? 1 : 0);
        if (s.gbp()) {
          w.flag(IFLA_VXLAN_GBP);
        }
        if (s.udpCsum() != null) {
          w.u8(IFLA_VXLAN_UDP_CSUM, s.udpCsum() ? 1 : 0);
        }
      }
    }
    w.end();
  }

  /** {@code ip link add NAME type bridge [mtu MTU]}. */
  static void newBridge(MessageWriter w, int seq, String name, int mtu) {
    w.begin(RTM_NEWLINK, REQ_ACK | NLM_F_CREATE | NLM_F_EXCL, seq).ifinfomsg(AF_UNSPEC, 0, 0, 0, 0)
        .string(IFLA_IFNAME, name);
    if (mtu != 0) {
      w.u32(IFLA_MTU, mtu);
    }
    try (var info = w.nest(IFLA_LINKINFO)) {
      w.string(IFLA_INFO_KIND, "bridge");
    }
    w.end();
  }

  /** {@code ip link add NAME type veth peer name PEER [netns FD]}. */
  static void newVeth(MessageWriter w, int seq, String name, String peer, int peerNetnsFd) {
    w.begin(RTM_NEWLINK, REQ_ACK | NLM_F_CREATE | NLM_F_EXCL, seq).ifinfomsg(AF_UNSPEC, 0, 0, 0, 0)
        .string(IFLA_IFNAME, name);
    try (var info = w.nest(IFLA_LINKINFO)) {
      w.string(IFLA_INFO_KIND, "veth");
      try (var data = w.nest(IFLA_INFO_DATA)) {
        try (var p = w.nest(VETH_INFO_PEER)) {
          w.ifinfomsg(AF_UNSPEC, 0, 0, 0, 0).string(IFLA_IFNAME, peer);
          if (peerNetnsFd >= 0) {
            w.u32(IFLA_NET_NS_FD, peerNetnsFd);
          }
        }
      }
    }
    w.end();
  }

  /** {@code ip link set dev X up|down}: ifi_flags/ifi_change on IFF_UP. */
  static void setUp(MessageWriter w, int seq, int index, boolean up) {
    w.begin(RTM_NEWLINK, REQ_ACK, seq).ifinfomsg(AF_UNSPEC, 0, index, up ? IFF_UP : 0, IFF_UP).end();
  }

  /** {@code ip link set dev X mtu MTU}. */
  static void setMtu(MessageWriter w, int seq, int index, int mtu) {
    w.begin(RTM_NEWLINK, REQ_ACK, seq).ifinfomsg(AF_UNSPEC, 0, index, 0, 0).u32(IFLA_MTU, mtu).end();
  }

  /** {@code ip link set dev X address MAC}. */
  static void setMac(MessageWriter w, int seq, int index, String mac) {
    w.begin(RTM_NEWLINK, REQ_ACK, seq).ifinfomsg(AF_UNSPEC, 0, index, 0, 0)
        .bytes(IFLA_ADDRESS, MacAddress.parse(mac)).end();
  }

  /** {@code ip link set dev X master M} / {@code nomaster} (IFLA_MASTER 0). */
  static void setMaster(MessageWriter w, int seq, int index, int master) {
    w.begin(RTM_NEWLINK, REQ_ACK, seq).ifinfomsg(AF_UNSPEC, 0, index, 0, 0).u32(IFLA_MASTER, master).end();
  }

  /** {@code ip link del dev X}. */
  static void delLink(MessageWriter w, int seq, int index) {
    w.begin(RTM_DELLINK, REQ_ACK, seq).ifinfomsg(AF_UNSPEC, 0, index, 0, 0).end();
  }

  static Link decodeLink(ByteBuffer message) {
    ByteBuffer payload = message.slice().order(ByteOrder.nativeOrder());
    if (payload.remaining() < IFINFOMSG_SIZE) {
      throw new MalformedMessageException("ifinfomsg: " + payload.remaining() + " bytes, need " + IFINFOMSG_SIZE);
    }
    int family = payload.get(0) & 0xff;
    if (family == AF_BRIDGE) {
      return null; // bridge-port view of a link (RTM_NEWLINK with AF_BRIDGE), not a link change
    }
    int index = payload.getInt(4);
    int flags = payload.getInt(8);
    Attributes a = Attributes.after(payload, IFINFOMSG_SIZE, "RTM_NEWLINK");
    String name = a.string(IFLA_IFNAME);
    if (name == null) {
      throw new MalformedMessageException("RTM_NEWLINK for ifindex " + index + " without IFLA_IFNAME");
    }
    Attributes info = a.nested(IFLA_LINKINFO);
    String kind = info.string(IFLA_INFO_KIND);
    Optional<VxlanInfo> vxlan = Optional.empty();
    if ("vxlan".equals(kind)) {
      Attributes d = info.nested(IFLA_INFO_DATA);
      InetAddress local = d.inet4(IFLA_VXLAN_LOCAL);
      vxlan = Optional.of(new VxlanInfo(d.u32(IFLA_VXLAN_ID, 0), local != null ? local : d.inet6(IFLA_VXLAN_LOCAL6),
          d.u32(IFLA_VXLAN_LINK, 0), d.u16be(IFLA_VXLAN_PORT, 0), d.u8(IFLA_VXLAN_LEARNING, 0) != 0,
          d.has(IFLA_VXLAN_GBP), d.u8(IFLA_VXLAN_UDP_CSUM, 0) != 0));
    }
    return new Link(index, name, kind == null ? "" : kind, a.u32(IFLA_MTU, 0),
        MacAddress.format(a.bytes(IFLA_ADDRESS)), flags, a.u32(IFLA_MASTER, 0), vxlan);
  }

  // ------------------------------------------------------------------ addresses

  /** {@code ip addr add|replace A/LEN dev X}: IFA_LOCAL and IFA_ADDRESS both A (IPv6: nodad). */
  static void newAddress(MessageWriter w, int seq, Address a, boolean replace) {
    w.begin(RTM_NEWADDR, REQ_ACK | NLM_F_CREATE | (replace ? NLM_F_REPLACE : NLM_F_EXCL), seq);
    addressBody(w, a);
  }

  /** {@code ip addr del A/LEN dev X}. */
  static void delAddress(MessageWriter w, int seq, Address a) {
    w.begin(RTM_DELADDR, REQ_ACK, seq);
    addressBody(w, a);
  }

  private static void addressBody(MessageWriter w, Address a) {
    boolean v6 = a.ipv6();
    w.ifaddrmsg(v6 ? AF_INET6 : AF_INET, a.prefixLength(), v6 ? IFA_F_NODAD : 0, RT_SCOPE_UNIVERSE, a.link())
        .inet(IFA_LOCAL, a.address()).inet(IFA_ADDRESS, a.address()).end();
  }

  /** {@code ip -4 addr show [dev X]}: RTM_GETADDR dump, filtered by ifa_index (strict check). */
  static void dumpAddresses(MessageWriter w, int seq, int link) {
    dumpAddresses(w, seq, AF_INET, link);
  }

  /** {@code ip -4|-6 addr show [dev X]} for {@code family} AF_INET or AF_INET6. */
  static void dumpAddresses(MessageWriter w, int seq, int family, int link) {
    w.begin(RTM_GETADDR, REQ_DUMP, seq).ifaddrmsg(family, 0, 0, 0, link).end();
  }

  static Address decodeAddress(ByteBuffer message) {
    ByteBuffer payload = message.slice().order(ByteOrder.nativeOrder());
    if (payload.remaining() < IFADDRMSG_SIZE) {
      throw new MalformedMessageException("ifaddrmsg: " + payload.remaining() + " bytes, need " + IFADDRMSG_SIZE);
    }
    int family = payload.get(0) & 0xff;
    if (family != AF_INET && family != AF_INET6) {
      return null;
    }
    int prefix = payload.get(1) & 0xff;
    int index = payload.getInt(4);
    Attributes a = Attributes.after(payload, IFADDRMSG_SIZE, "RTM_NEWADDR");
    if (family == AF_INET6) {
      Inet6Address ip = a.inet6(IFA_LOCAL);
      if (ip == null) {
        ip = a.inet6(IFA_ADDRESS);
      }
      if (ip == null || prefix > 128) {
        throw new MalformedMessageException("RTM_NEWADDR for ifindex " + index + " without an IPv6 address");
      }
      return new Address(index, ip, prefix);
    }
    Inet4Address ip = a.inet4(IFA_LOCAL);
    if (ip == null) {
      ip = a.inet4(IFA_ADDRESS);
    }
    if (ip == null || prefix > 32) {
      throw new MalformedMessageException("RTM_NEWADDR for ifindex " + index + " without an IPv4 address");
    }
    return new Address(index, ip, prefix);
  }

  // ------------------------------------------------------------------ routes

  /**
   * {@code ip route replace DST [via GW] [dev X] [onlink] table T proto P}: scope link without a
   * gateway, universe with one (as iproute2); tables above 255 go in RTA_TABLE.
   */
  static void newRoute(MessageWriter w, int seq, Route r) {
    int table = r.table();
    w.begin(RTM_NEWROUTE, REQ_ACK | NLM_F_CREATE | NLM_F_REPLACE, seq)
        .rtmsg(family(r.dst()), r.dst().prefixLength(), 0, 0, table < 256 ? table : RT_TABLE_UNSPEC, r.protocol(),
            r.gateway() == null ? RT_SCOPE_LINK : RT_SCOPE_UNIVERSE, RTN_UNICAST, r.onlink() ? RTNH_F_ONLINK : 0);
    routeAttrs(w, r);
    w.end();
  }

  /**
   * {@code ip route del DST [via GW] [dev X] table T [proto P]}: scope NOWHERE and type UNSPEC so
   * the kernel matches any; protocol 0, gateway null and link 0 match any.
   */
  static void delRoute(MessageWriter w, int seq, Route r) {
    int table = r.table();
    w.begin(RTM_DELROUTE, REQ_ACK, seq)
        .rtmsg(family(r.dst()), r.dst().prefixLength(), 0, 0, table < 256 ? table : RT_TABLE_UNSPEC, r.protocol(),
            RT_SCOPE_NOWHERE, RTN_UNSPEC, 0);
    routeAttrs(w, r);
    w.end();
  }

  private static int family(IpSubnet dst) {
    return dst.ipv6() ? AF_INET6 : AF_INET;
  }

  private static void routeAttrs(MessageWriter w, Route r) {
    if (r.dst().prefixLength() > 0) {
      w.inet(RTA_DST, r.dst().networkAddress());
    }
    if (r.gateway() != null) {
      w.inet(RTA_GATEWAY, r.gateway());
    }
    if (r.link() != 0) {
      w.u32(RTA_OIF, r.link());
    }
    if (r.table() >= 256) {
      w.u32(RTA_TABLE, r.table());
    }
  }

  /** {@code ip -4 route show table T [proto P]}: filtered by the kernel (strict check). */
  static void dumpRoutes(MessageWriter w, int seq, int table, int protocol) {
    dumpRoutes(w, seq, AF_INET, table, protocol);
  }

  /** {@code ip -4|-6 route show table T [proto P]} for {@code family} AF_INET or AF_INET6. */
  static void dumpRoutes(MessageWriter w, int seq, int family, int table, int protocol) {
    w.begin(RTM_GETROUTE, REQ_DUMP, seq)
        .rtmsg(family, 0, 0, 0, table < 256 ? table : RT_TABLE_UNSPEC, protocol, 0, 0, 0);
    if (table >= 256) {
      w.u32(RTA_TABLE, table);
    }
    w.end();
  }

  /** {@code ip route get IP}: RTM_GETROUTE for one address (no dump). */
  static void getRoute(MessageWriter w, int seq, java.net.Inet4Address ip) {
    w.begin(RTM_GETROUTE, REQ_ACK, seq).rtmsg(AF_INET, 32, 0, 0, 0, 0, 0, 0, 0).inet4(RTA_DST, ip).end();
  }

  /**
   * The answer to {@link #getRoute}: the resolved route (the kernel marks it cloned), or null when
   * it is not unicast (a local address).
   */
  static Route decodeRouteGet(ByteBuffer message) {
    ByteBuffer payload = message.slice().order(ByteOrder.nativeOrder());
    if (payload.remaining() < RTMSG_SIZE) {
      throw new MalformedMessageException("rtmsg: " + payload.remaining() + " bytes, need " + RTMSG_SIZE);
    }
    int family = payload.get(0) & 0xff;
    int dstLen = payload.get(1) & 0xff;
    int table = payload.get(4) & 0xff;
    int protocol = payload.get(5) & 0xff;
    int type = payload.get(7) & 0xff;
    int flags = payload.getInt(8);
    if (family != AF_INET || type != RTN_UNICAST || dstLen > 32) {
      return null;
    }
    Attributes a = Attributes.after(payload, RTMSG_SIZE, "RTM_NEWROUTE");
    Inet4Address dst = a.inet4(RTA_DST);
    Ipv4Subnet net = dst == null ? new Ipv4Subnet(0, dstLen) : Ipv4Subnet.of(dst, dstLen);
    return new Route(net, a.inet4(RTA_GATEWAY), a.u32(RTA_OIF, 0), (flags & RTNH_F_ONLINK) != 0,
        a.u32(RTA_TABLE, table), protocol);
  }

  static Route decodeRoute(ByteBuffer message) {
    ByteBuffer payload = message.slice().order(ByteOrder.nativeOrder());
    if (payload.remaining() < RTMSG_SIZE) {
      throw new MalformedMessageException("rtmsg: " + payload.remaining() + " bytes, need " + RTMSG_SIZE);
    }
    int family = payload.get(0) & 0xff;
    int dstLen = payload.get(1) & 0xff;
    int table = payload.get(4) & 0xff;
    int protocol = payload.get(5) & 0xff;
    int type = payload.get(7) & 0xff;
    int flags = payload.getInt(8);
    if ((family != AF_INET && family != AF_INET6) || type != RTN_UNICAST || (flags & RTM_F_CLONED) != 0) {
      return null;
    }
    boolean v6 = family == AF_INET6;
    if (dstLen > (v6 ? 128 : 32)) {
      throw new MalformedMessageException((v6 ? "IPv6" : "IPv4") + " route with prefix length " + dstLen);
    }
    Attributes a = Attributes.after(payload, RTMSG_SIZE, "RTM_NEWROUTE");
    IpSubnet net;
    InetAddress gateway;
    if (v6) {
      Inet6Address dst = a.inet6(RTA_DST);
      net = dst == null ? new Ipv6Subnet(0, 0, dstLen) : Ipv6Subnet.of(dst, dstLen);
      gateway = a.inet6(RTA_GATEWAY);
    } else {
      Inet4Address dst = a.inet4(RTA_DST);
      net = dst == null ? new Ipv4Subnet(0, dstLen) : Ipv4Subnet.of(dst, dstLen);
      gateway = a.inet4(RTA_GATEWAY);
    }
    return new Route(net, gateway, a.u32(RTA_OIF, 0), (flags & RTNH_F_ONLINK) != 0,
        a.u32(RTA_TABLE, table), protocol);
  }

  // ------------------------------------------------------------------ neighbours

  /** {@code ip neigh replace IP lladdr MAC dev X nud STATE}. */
  static void newNeighbour(MessageWriter w, int seq, Neighbour n) {
    w.begin(RTM_NEWNEIGH, REQ_ACK | NLM_F_CREATE | NLM_F_REPLACE, seq)
        .ndmsg(n.ipv6() ? AF_INET6 : AF_INET, n.link(), n.state(), 0, 0).inet(NDA_DST, n.ip());
    if (!n.mac().isEmpty()) {
      w.bytes(NDA_LLADDR, MacAddress.parse(n.mac()));
    }
    w.end();
  }

  /** {@code ip neigh del IP dev X}. */
  static void delNeighbour(MessageWriter w, int seq, Neighbour n) {
    w.begin(RTM_DELNEIGH, REQ_ACK, seq).ndmsg(n.ipv6() ? AF_INET6 : AF_INET, n.link(), 0, 0, 0)
        .inet(NDA_DST, n.ip()).end();
  }

  /** {@code ip -4 neigh show [dev X]}: RTM_GETNEIGH dump, NDA_IFINDEX filter (strict check). */
  static void dumpNeighbours(MessageWriter w, int seq, int link) {
    dumpNeighbours(w, seq, AF_INET, link);
  }

  /** {@code ip -4|-6 neigh show [dev X]} for {@code family} AF_INET or AF_INET6. */
  static void dumpNeighbours(MessageWriter w, int seq, int family, int link) {
    w.begin(RTM_GETNEIGH, REQ_DUMP, seq).ndmsg(family, 0, 0, 0, 0);
    if (link != 0) {
      w.u32(NDA_IFINDEX, link);
    }
    w.end();
  }

  static Neighbour decodeNeighbour(ByteBuffer message) {
    ByteBuffer payload = message.slice().order(ByteOrder.nativeOrder());
    checkNdmsg(payload);
    int family = payload.get(0) & 0xff;
    if (family != AF_INET && family != AF_INET6) {
      return null;
    }
    int index = payload.getInt(4);
    int state = payload.getShort(8) & 0xffff;
    Attributes a = Attributes.after(payload, NDMSG_SIZE, "RTM_NEWNEIGH");
    InetAddress ip = family == AF_INET6 ? a.inet6(NDA_DST) : a.inet4(NDA_DST);
    if (ip == null) {
      throw new MalformedMessageException((family == AF_INET6 ? "IPv6" : "IPv4") + " neighbour on ifindex "
          + index + " without NDA_DST");
    }
    return new Neighbour(index, ip, MacAddress.format(a.bytes(NDA_LLADDR)), state);
  }

  // ------------------------------------------------------------------ fdb

  /**
   * {@code bridge fdb replace|append MAC dev X [dst D] self permanent}: AF_BRIDGE, NTF_SELF,
   * NUD_PERMANENT, NDA_LLADDR, NDA_DST.
   */
  static void newFdb(MessageWriter w, int seq, FdbEntry e, boolean append) {
    w.begin(RTM_NEWNEIGH, REQ_ACK | NLM_F_CREATE | (append ? NLM_F_APPEND : NLM_F_REPLACE), seq);
    fdbBody(w, e);
  }

  /** {@code bridge fdb del MAC dev X [dst D] self}. */
  static void delFdb(MessageWriter w, int seq, FdbEntry e) {
    w.begin(RTM_DELNEIGH, REQ_ACK, seq);
    fdbBody(w, e);
  }

  private static void fdbBody(MessageWriter w, FdbEntry e) {
    w.ndmsg(AF_BRIDGE, e.link(), NUD_PERMANENT, NTF_SELF, 0).bytes(NDA_LLADDR, MacAddress.parse(e.mac()));
    if (e.dst() != null) {
      w.inet(NDA_DST, e.dst());
    }
    w.end();
  }

  /** {@code bridge fdb show [dev X]}: RTM_GETNEIGH dump on AF_BRIDGE, ndm_ifindex filter. */
  static void dumpFdb(MessageWriter w, int seq, int link) {
    w.begin(RTM_GETNEIGH, REQ_DUMP, seq).ndmsg(AF_BRIDGE, link, 0, 0, 0).end();
  }

  /** An AF_BRIDGE NTF_SELF entry with a MAC (dst IPv4, IPv6 or none); null for anything else. */
  static FdbEntry decodeFdb(ByteBuffer message) {
    ByteBuffer payload = message.slice().order(ByteOrder.nativeOrder());
    checkNdmsg(payload);
    if ((payload.get(0) & 0xff) != AF_BRIDGE || (payload.get(10) & NTF_SELF) == 0) {
      return null;
    }
    int index = payload.getInt(4);
    Attributes a = Attributes.after(payload, NDMSG_SIZE, "RTM_NEWNEIGH");
    byte[] mac = a.bytes(NDA_LLADDR);
    if (mac == null || mac.length != 6) {
      return null;
    }
    byte[] dst = a.bytes(NDA_DST);
    if (dst != null && dst.length != 4 && dst.length != 16) {
      return null;
    }
    return new FdbEntry(index, MacAddress.format(mac), dst == null ? null : a.inet(NDA_DST));
  }

  private static void checkNdmsg(ByteBuffer payload) {
    if (payload.remaining() < NDMSG_SIZE) {
      throw new MalformedMessageException("ndmsg: " + payload.remaining() + " bytes, need " + NDMSG_SIZE);
    }
  }

  // ------------------------------------------------------------------ notifications

  /** A multicast notification as a typed event; null for what Tartan does not watch. */
  static NetlinkEvent decodeEvent(int type, ByteBuffer message) {
    ByteBuffer payload = message.slice().order(ByteOrder.nativeOrder());
    switch (type) {
      case RTM_NEWLINK, RTM_DELLINK -> {
        Link l = decodeLink(payload);
        return l == null ? null : new NetlinkEvent.LinkChanged(l, type == RTM_DELLINK);
      }
      case RTM_NEWADDR, RTM_DELADDR -> {
        Address a = decodeAddress(payload);
        return a == null ? null : new NetlinkEvent.AddressChanged(a, type == RTM_DELADDR);
      }
      case RTM_NEWROUTE, RTM_DELROUTE -> {
        Route r = decodeRoute(payload);
        return r == null ? null : new NetlinkEvent.RouteChanged(r, type == RTM_DELROUTE);
      }
      case RTM_NEWNEIGH, RTM_DELNEIGH -> {
        checkNdmsg(payload);
        int family = payload.get(0) & 0xff;
        if (family == AF_INET || family == AF_INET6) {
          return new NetlinkEvent.NeighbourChanged(decodeNeighbour(payload), type == RTM_DELNEIGH);
        }
        if (family == AF_BRIDGE) {
          FdbEntry e = decodeFdb(payload);
          return e == null ? null : new NetlinkEvent.FdbChanged(e, type == RTM_DELNEIGH);
        }
        return null;
      }
      default -> {
        return null;
      }
    }
  }
}
