package dev.tartan.agent.netlink.rtnl;

/** The ip/bridge-style text of a request, for error messages and logs. */
final class Describe {
  private Describe() {}

  static String address(Address a) {
    return a.address().getHostAddress() + "/" + a.prefixLength() + " dev " + a.link();
  }

  static String route(Route r) {
    return r.dst() + (r.gateway() == null ? "" : " via " + r.gateway().getHostAddress())
        + (r.link() == 0 ? "" : " dev " + r.link()) + (r.onlink() ? " onlink" : "")
        + " table " + r.table() + (r.protocol() == 0 ? "" : " proto " + r.protocol());
  }

  static String neighbour(Neighbour n) {
    return n.ip().getHostAddress() + (n.mac().isEmpty() ? "" : " lladdr " + n.mac()) + " dev " + n.link()
        + (n.state() == Neighbour.NUD_PERMANENT ? " nud permanent" : " nud 0x" + Integer.toHexString(n.state()));
  }

  static String fdb(FdbEntry e) {
    return e.mac() + " dev " + e.link() + (e.dst() == null ? "" : " dst " + e.dst().getHostAddress()) + " self";
  }
}
