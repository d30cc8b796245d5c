package dev.tartan.cni.delegate;

import dev.tartan.cni.CniException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The host's {@code subnet.env} as flannel's CNI plugin reads it (flannel-compat.md §5.2): the overlay
 * networks, this host's subnet (network-masked), the MTU for pods and whether the agent masquerades.
 *
 * @param networks {@code FLANNEL_NETWORK} entries, duplicates dropped (may be empty when IPv6-only)
 * @param subnet {@code FLANNEL_SUBNET} masked to its network, or null
 * @param ipv6Networks {@code FLANNEL_IPV6_NETWORK} entries (may be empty)
 * @param ipv6Subnet {@code FLANNEL_IPV6_SUBNET} masked, or null
 * @param mtu {@code FLANNEL_MTU}
 * @param ipMasq {@code FLANNEL_IPMASQ}: true only for the exact text {@code true}
 */
public record SubnetEnv(List<Cidr> networks, Cidr subnet, List<Cidr> ipv6Networks, Cidr ipv6Subnet, long mtu,
    boolean ipMasq) {
  public SubnetEnv {
    networks = List.copyOf(networks);
    ipv6Networks = List.copyOf(ipv6Networks);
    if (networks.isEmpty() && ipv6Networks.isEmpty()) {
      throw new IllegalArgumentException("no network");
    }
    if (subnet == null && ipv6Subnet == null) {
      throw new IllegalArgumentException("no subnet");
    }
    if (mtu < 0 || mtu > 0xffffffffL) {
      throw new IllegalArgumentException("mtu " + mtu + " out of range");
    }
  }

  /**
   * Reads and parses the file.
   *
   * @throws CniException code 11 ({@link CniException#TRY_AGAIN_LATER}) when the file does not exist (the
   *     agent has not written it yet), 5 when it cannot be read, 100 ({@link CniException#SUBNET_ENV_INVALID})
   *     when its content is wrong
   */
  public static SubnetEnv load(Path file) throws CniException {
    byte[] bytes;
    try {
      bytes = Files.readAllBytes(file);
    } catch (NoSuchFileException e) {
      throw new CniException(CniException.TRY_AGAIN_LATER, "failed to load subnet file " + file
          + ": no such file; check that the tartan agent is running (it writes this file once it holds a"
          + " subnet lease)", "");
    } catch (IOException e) {
      throw new CniException(CniException.IO_FAILURE, "failed to read subnet file " + file + ": " + e, "");
    }
    return parse(file.toString(), new String(bytes, StandardCharsets.UTF_8));
  }

  /**
   * Parses subnet.env text. Lines are split at the first {@code =}; unknown keys, comments and blank lines
   * are ignored; values are taken verbatim (a trailing CR is dropped).
   *
   * @param name the file name, for messages
   * @throws CniException code 100 naming the bad line or every missing key
   */
  public static SubnetEnv parse(String name, String text) throws CniException {
    List<Cidr> networks = new ArrayList<>();
    List<Cidr> ipv6Networks = new ArrayList<>();
    Cidr subnet = null;
    Cidr ipv6Subnet = null;
    long mtu = -1;
    Boolean ipMasq = null;
    int lineNo = 0;
    int start = 0;
    while (start <= text.length()) {
      int end = text.indexOf('\n', start);
      if (end < 0) {
        end = text.length();
      }
      String line = text.substring(start, end);
      if (line.endsWith("\r")) {
        line = line.substring(0, line.length() - 1);
      }
      start = end + 1;
      lineNo++;
      int eq = line.indexOf('=');
      String key = eq < 0 ? line : line.substring(0, eq);
      String value = eq < 0 ? null : line.substring(eq + 1);
      switch (key) {
        case "FLANNEL_NETWORK":
          networks = cidrList(name, lineNo, key, required(name, lineNo, key, value));
          break;
        case "FLANNEL_IPV6_NETWORK":
          ipv6Networks = cidrList(name, lineNo, key, required(name, lineNo, key, value));
          break;
        case "FLANNEL_SUBNET":
          subnet = cidr(name, lineNo, key, required(name, lineNo, key, value));
          break;
        case "FLANNEL_IPV6_SUBNET":
          ipv6Subnet = cidr(name, lineNo, key, required(name, lineNo, key, value));
          break;
        case "FLANNEL_MTU":
          mtu = unsigned32(name, lineNo, key, required(name, lineNo, key, value));
          break;
        case "FLANNEL_IPMASQ":
          ipMasq = "true".equals(required(name, lineNo, key, value));
          break;
        default:
          break;
      }
    }
    StringBuilder missing = new StringBuilder();
    if (networks.isEmpty() && ipv6Networks.isEmpty()) {
      missing.append(", FLANNEL_NETWORK, FLANNEL_IPV6_NETWORK");
    }
    if (subnet == null && ipv6Subnet == null) {
      missing.append(", FLANNEL_SUBNET, FLANNEL_IPV6_SUBNET");
    }
    if (mtu < 0) {
      missing.append(", FLANNEL_MTU");
    }
    if (ipMasq == null) {
      missing.append(", FLANNEL_IPMASQ");
    }
    if (missing.length() > 0) {
      throw new CniException(CniException.SUBNET_ENV_INVALID, name + " is missing " + missing.substring(2), "");
    }
    return new SubnetEnv(networks, subnet, ipv6Networks, ipv6Subnet, mtu, ipMasq);
  }

  private static String required(String name, int lineNo, String key, String value) throws CniException {
    if (value == null) {
      throw invalid(name, lineNo, key, "has no '=value'");
    }
    return value;
  }

  private static List<Cidr> cidrList(String name, int lineNo, String key, String value) throws CniException {
    List<Cidr> out = new ArrayList<>();
    List<String> seen = new ArrayList<>();
    int start = 0;
    while (start <= value.length()) {
      int comma = value.indexOf(',', start);
      if (comma < 0) {
        comma = value.length();
      }
      Cidr c = cidr(name, lineNo, key, value.substring(start, comma));
      String text = c.toString();
      if (!seen.contains(text)) {
        seen.add(text);
        out.add(c);
      }
      start = comma + 1;
    }
    return out;
  }

  private static Cidr cidr(String name, int lineNo, String key, String value) throws CniException {
    try {
      return Cidr.parse(value);
    } catch (IllegalArgumentException e) {
      throw invalid(name, lineNo, key, "is not a valid CIDR: " + e.getMessage());
    }
  }

  private static long unsigned32(String name, int lineNo, String key, String value) throws CniException {
    boolean ok = !value.isEmpty() && value.length() <= 10;
    long v = 0;
    for (int i = 0; ok && i < value.length(); i++) {
      char c = value.charAt(i);
      ok = c >= '0' && c <= '9';
      v = v * 10 + (c - '0');
    }
    if (!ok || v > 0xffffffffL) {
      throw invalid(name, lineNo, key, "\"" + value + "\" is not an unsigned 32-bit integer");
    }
    return v;
  }

  private static CniException invalid(String name, int lineNo, String key, String what) {
    return new CniException(CniException.SUBNET_ENV_INVALID, name + " line " + lineNo + ": " + key + " " + what,
        "");
  }
}
