package dev.tartan.agent.netlink.codec;

/** Constants of {@code <linux/if_link.h>} (and {@code <linux/veth.h>}). */
public final class IfLink {
  private IfLink() {}

  /** sizeof(struct ifinfomsg). */
  public static final int IFINFOMSG_SIZE = 16;

  public static final int IFLA_ADDRESS = 1;
  public static final int IFLA_BROADCAST = 2;
  public static final int IFLA_IFNAME = 3;
  public static final int IFLA_MTU = 4;
  public static final int IFLA_LINK = 5;
  public static final int IFLA_MASTER = 10;
  public static final int IFLA_TXQLEN = 13;
  public static final int IFLA_OPERSTATE = 16;
  public static final int IFLA_LINKINFO = 18;
  public static final int IFLA_NET_NS_PID = 19;
  public static final int IFLA_NET_NS_FD = 28;
  public static final int IFLA_EXT_MASK = 29;

  public static final int IFLA_INFO_KIND = 1;
  public static final int IFLA_INFO_DATA = 2;
  public static final int IFLA_INFO_SLAVE_KIND = 4;

  public static final int IFLA_VXLAN_ID = 1;
  public static final int IFLA_VXLAN_GROUP = 2;
  public static final int IFLA_VXLAN_LINK = 3;
  public static final int IFLA_VXLAN_LOCAL = 4;
  public static final int IFLA_VXLAN_TTL = 5;
  public static final int IFLA_VXLAN_TOS = 6;
  public static final int IFLA_VXLAN_LEARNING = 7;
  public static final int IFLA_VXLAN_AGEING = 8;
  public static final int IFLA_VXLAN_PORT = 15;
  public static final int IFLA_VXLAN_GROUP6 = 16;
  public static final int IFLA_VXLAN_LOCAL6 = 17;
  public static final int IFLA_VXLAN_UDP_CSUM = 18;
  public static final int IFLA_VXLAN_GBP = 23;

  /** {@code <linux/veth.h>}: the peer's ifinfomsg and attributes. */
  public static final int VETH_INFO_PEER = 1;
}
