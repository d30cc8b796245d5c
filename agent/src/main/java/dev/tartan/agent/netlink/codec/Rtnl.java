package dev.tartan.agent.netlink.codec;

/**
 * Constants of {@code <linux/rtnetlink.h>}, plus the address families ({@code <sys/socket.h>})
 * and interface flags ({@code <linux/if.h>}) rtnetlink messages carry.
 */
public final class Rtnl {
  private Rtnl() {}

  public static final int AF_UNSPEC = 0;
  public static final int AF_INET = 2;
  public static final int AF_BRIDGE = 7;
  public static final int AF_INET6 = 10;

  public static final int IFF_UP = 0x1;
  public static final int IFF_BROADCAST = 0x2;
  public static final int IFF_LOOPBACK = 0x8;
  public static final int IFF_RUNNING = 0x40;
  public static final int IFF_NOARP = 0x80;
  public static final int IFF_MULTICAST = 0x1000;
  public static final int IFF_LOWER_UP = 0x10000;

  public static final int RTM_NEWLINK = 16;
  public static final int RTM_DELLINK = 17;
  public static final int RTM_GETLINK = 18;
  public static final int RTM_SETLINK = 19;
  public static final int RTM_NEWADDR = 20;
  public static final int RTM_DELADDR = 21;
  public static final int RTM_GETADDR = 22;
  public static final int RTM_NEWROUTE = 24;
  public static final int RTM_DELROUTE = 25;
  public static final int RTM_GETROUTE = 26;
  public static final int RTM_NEWNEIGH = 28;
  public static final int RTM_DELNEIGH = 29;
  public static final int RTM_GETNEIGH = 30;

  /** sizeof(struct rtmsg). */
  public static final int RTMSG_SIZE = 12;

  // rtm_type
  public static final int RTN_UNSPEC = 0;
  public static final int RTN_UNICAST = 1;
  public static final int RTN_LOCAL = 2;
  public static final int RTN_BROADCAST = 3;

  // rtm_protocol
  public static final int RTPROT_UNSPEC = 0;
  public static final int RTPROT_REDIRECT = 1;
  public static final int RTPROT_KERNEL = 2;
  public static final int RTPROT_BOOT = 3;
  public static final int RTPROT_STATIC = 4;

  // rtm_scope
  public static final int RT_SCOPE_UNIVERSE = 0;
  public static final int RT_SCOPE_SITE = 200;
  public static final int RT_SCOPE_LINK = 253;
  public static final int RT_SCOPE_HOST = 254;
  public static final int RT_SCOPE_NOWHERE = 255;

  // rtm_table
  public static final int RT_TABLE_UNSPEC = 0;
  public static final int RT_TABLE_DEFAULT = 253;
  public static final int RT_TABLE_MAIN = 254;
  public static final int RT_TABLE_LOCAL = 255;

  // rtm_flags
  public static final int RTNH_F_DEAD = 1;
  public static final int RTNH_F_PERVASIVE = 2;
  public static final int RTNH_F_ONLINK = 4;

  // rtm_flags (rtnetlink.h)
  public static final int RTM_F_NOTIFY = 0x100;
  public static final int RTM_F_CLONED = 0x200;

  // IFLA_EXT_MASK values
  public static final int RTEXT_FILTER_VF = 1;
  public static final int RTEXT_FILTER_SKIP_STATS = 1 << 3;

  // enum rtattr_type_t
  public static final int RTA_DST = 1;
  public static final int RTA_SRC = 2;
  public static final int RTA_IIF = 3;
  public static final int RTA_OIF = 4;
  public static final int RTA_GATEWAY = 5;
  public static final int RTA_PRIORITY = 6;
  public static final int RTA_PREFSRC = 7;
  public static final int RTA_METRICS = 8;
  public static final int RTA_MULTIPATH = 9;
  public static final int RTA_TABLE = 15;

  // enum rtnetlink_groups
  public static final int RTNLGRP_LINK = 1;
  public static final int RTNLGRP_NOTIFY = 2;
  public static final int RTNLGRP_NEIGH = 3;
  public static final int RTNLGRP_IPV4_IFADDR = 5;
  public static final int RTNLGRP_IPV4_ROUTE = 7;
  public static final int RTNLGRP_IPV6_IFADDR = 9;
  public static final int RTNLGRP_IPV6_ROUTE = 11;
}
