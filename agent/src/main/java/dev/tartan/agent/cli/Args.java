package dev.tartan.agent.cli;

import dev.tartan.net.Ipv4Subnet;
import dev.tartan.net.Ipv6Subnet;
import dev.tartan.net.Ipv6Text;
import java.net.Inet4Address;
import java.net.Inet6Address;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

/** Strict converters for addresses and subnets on the command line (no DNS lookups, no masking). */
final class Args {
  private Args() {}

  /** A dotted-quad IPv4 address. */
  static final class Ipv4 implements ITypeConverter<Inet4Address> {
    @Override
    public Inet4Address convert(String value) {
      try {
        return Ipv4Subnet.toInet(Ipv4Subnet.parseAddress(value.strip()));
      } catch (IllegalArgumentException e) {
        throw new TypeConversionException("'" + value + "' is not an IPv4 address");
      }
    }
  }

  /** A CIDR network that may be written in key form too ({@code 10.244.3.0/24} or {@code 10.244.3.0-24}). */
  static final class Subnet implements ITypeConverter<Ipv4Subnet> {
    @Override
    public Ipv4Subnet convert(String value) {
      return subnet(value);
    }
  }

  /** A CIDR network ({@code 10.244.0.0/16}); host bits must be zero. */
  static final class Network implements ITypeConverter<Ipv4Subnet> {
    @Override
    public Ipv4Subnet convert(String value) {
      if (!value.contains("/")) {
        throw new TypeConversionException("'" + value + "' is not a CIDR network (expected e.g. 10.244.0.0/16)");
      }
      return subnet(value);
    }
  }

  static Ipv4Subnet subnet(String value) {
    String text = value.strip();
    int dash = text.lastIndexOf('-');
    if (!text.contains("/") && dash > 0) {
      text = text.substring(0, dash) + "/" + text.substring(dash + 1);
    }
    Ipv4Subnet subnet;
    try {
      subnet = Ipv4Subnet.parse(text);
    } catch (IllegalArgumentException e) {
      throw new TypeConversionException("'" + value + "' is not a subnet (expected e.g. 10.244.3.0/24)");
    }
    int given = Ipv4Subnet.parseAddress(text.substring(0, text.indexOf('/')));
    if (given != subnet.address()) {
      throw new TypeConversionException("'" + value + "' has host bits set; did you mean " + subnet + "?");
    }
    return subnet;
  }

  /** An IPv6 address ({@code fd00:5:0:1::}). */
  static final class Ipv6 implements ITypeConverter<Inet6Address> {
    @Override
    public Inet6Address convert(String value) {
      try {
        return Ipv6Text.parse(value.strip());
      } catch (IllegalArgumentException e) {
        throw new TypeConversionException("'" + value + "' is not an IPv6 address");
      }
    }
  }

  /** An IPv6 CIDR network ({@code fd00:5::/48}); host bits must be zero. */
  static final class Ipv6Network implements ITypeConverter<Ipv6Subnet> {
    @Override
    public Ipv6Subnet convert(String value) {
      String text = value.strip();
      Ipv6Subnet net;
      try {
        net = Ipv6Subnet.parse(text);
      } catch (IllegalArgumentException e) {
        throw new TypeConversionException("'" + value + "' is not an IPv6 CIDR network (expected e.g. fd00:10:244::/48)");
      }
      if (!Ipv6Subnet.of(Ipv6Text.parse(text.substring(0, text.indexOf('/'))), 128)
          .equals(new Ipv6Subnet(net.high(), net.low(), 128))) {
        throw new TypeConversionException("'" + value + "' has host bits set; did you mean " + net + "?");
      }
      return net;
    }
  }
}
