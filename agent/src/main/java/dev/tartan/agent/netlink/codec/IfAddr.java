package dev.tartan.agent.netlink.codec;

/** Constants of {@code <linux/if_addr.h>}. */
public final class IfAddr {
  private IfAddr() {}

  /** sizeof(struct ifaddrmsg). */
  public static final int IFADDRMSG_SIZE = 8;

  public static final int IFA_ADDRESS = 1;
  public static final int IFA_LOCAL = 2;
  public static final int IFA_LABEL = 3;
  public static final int IFA_BROADCAST = 4;
  public static final int IFA_CACHEINFO = 6;
  public static final int IFA_FLAGS = 8;
  /** ifa_flags: no duplicate address detection (IPv6). */
  public static final int IFA_F_NODAD = 0x02;
}
