package dev.tartan.agent.iface;

import static java.util.Objects.requireNonNull;

import java.net.Inet4Address;

/**
 * The underlay interface the overlay runs over (flannel's ExternalInterface).
 *
 * @param index         ifindex (IFLA_VXLAN_LINK of the vxlan device)
 * @param name          interface name
 * @param mtu           its MTU (the vxlan device gets this minus 50)
 * @param address       the interface address: the {@code --iface} IP when one was given, the
 *                      route's source for {@code --iface-can-reach}, else its first usable IPv4
 *                      address (global before link-local)
 * @param publicIp      the address published in the lease: {@code --public-ip} or {@code address}
 * @param publicIpLocal whether {@code publicIp} is assigned to an interface of this host (false
 *                      behind NAT)
 */
public record ExternalInterface(int index, String name, int mtu, Inet4Address address,
    Inet4Address publicIp, boolean publicIpLocal) {

  public ExternalInterface {
    requireNonNull(name, "name");
    requireNonNull(address, "address");
    requireNonNull(publicIp, "publicIp");
    if (index <= 0) {
      throw new IllegalArgumentException("ifindex must be positive, got " + index);
    }
    if (mtu <= 0) {
      throw new IllegalArgumentException("interface " + name + " has MTU " + mtu);
    }
  }

  /**
   * The vxlan device's {@code local} address: the public IP when it is an address of this host
   * (flannel >= 0.27.4), else the interface address (a NATed public IP cannot be bound).
   */
  public Inet4Address vxlanLocal() {
    return publicIpLocal ? publicIp : address;
  }

  @Override
  public String toString() {
    return name + " (index " + index + ", mtu " + mtu + ", address " + address.getHostAddress()
        + ", public IP " + publicIp.getHostAddress() + (publicIpLocal ? "" : " (not local)") + ")";
  }
}
