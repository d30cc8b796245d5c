package dev.tartan.agent.netlink.codec;

/** Constants of {@code <linux/netlink.h>} (and the socket-level values a netlink socket needs). */
public final class Netlink {
  private Netlink() {}

  public static final int AF_NETLINK = 16;
  public static final int NETLINK_ROUTE = 0;
  public static final int SOL_NETLINK = 270;

  /** sizeof(struct nlmsghdr). */
  public static final int NLMSG_HDRLEN = 16;
  /** sizeof(struct nlattr). */
  public static final int NLA_HDRLEN = 4;
  /** sizeof(struct nlmsgerr) without the echoed request: error + the original nlmsghdr. */
  public static final int NLMSGERR_SIZE = 20;

  public static final int NLMSG_NOOP = 1;
  public static final int NLMSG_ERROR = 2;
  public static final int NLMSG_DONE = 3;
  public static final int NLMSG_OVERRUN = 4;
  /** Types below this are netlink control messages. */
  public static final int NLMSG_MIN_TYPE = 0x10;

  public static final int NLM_F_REQUEST = 0x01;
  public static final int NLM_F_MULTI = 0x02;
  public static final int NLM_F_ACK = 0x04;
  public static final int NLM_F_ECHO = 0x08;
  public static final int NLM_F_DUMP_INTR = 0x10;
  public static final int NLM_F_DUMP_FILTERED = 0x20;
  // GET requests
  public static final int NLM_F_ROOT = 0x100;
  public static final int NLM_F_MATCH = 0x200;
  public static final int NLM_F_ATOMIC = 0x400;
  public static final int NLM_F_DUMP = NLM_F_ROOT | NLM_F_MATCH;
  // NEW requests
  public static final int NLM_F_REPLACE = 0x100;
  public static final int NLM_F_EXCL = 0x200;
  public static final int NLM_F_CREATE = 0x400;
  public static final int NLM_F_APPEND = 0x800;
  // ACK flags
  public static final int NLM_F_CAPPED = 0x100;
  public static final int NLM_F_ACK_TLVS = 0x200;

  public static final int NLA_F_NESTED = 1 << 15;
  public static final int NLA_F_NET_BYTEORDER = 1 << 14;
  public static final int NLA_TYPE_MASK = ~(NLA_F_NESTED | NLA_F_NET_BYTEORDER) & 0xffff;

  // enum nlmsgerr_attrs
  public static final int NLMSGERR_ATTR_MSG = 1;
  public static final int NLMSGERR_ATTR_OFFS = 2;
  public static final int NLMSGERR_ATTR_COOKIE = 3;
  public static final int NLMSGERR_ATTR_POLICY = 4;
  public static final int NLMSGERR_ATTR_MISS_TYPE = 5;
  public static final int NLMSGERR_ATTR_MISS_NEST = 6;

  // SOL_NETLINK socket options
  public static final int NETLINK_ADD_MEMBERSHIP = 1;
  public static final int NETLINK_DROP_MEMBERSHIP = 2;
  public static final int NETLINK_NO_ENOBUFS = 5;
  public static final int NETLINK_CAP_ACK = 10;
  public static final int NETLINK_EXT_ACK = 11;
  public static final int NETLINK_GET_STRICT_CHK = 12;

  /** NLMSG_ALIGN / NLA_ALIGN: round up to 4. */
  public static int align(int len) {
    return (len + 3) & ~3;
  }
}
