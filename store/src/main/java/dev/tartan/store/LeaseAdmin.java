package dev.tartan.store;

import dev.tartan.net.Ipv4Subnet;
import java.net.Inet4Address;
import java.util.List;
import java.util.Optional;

/** The operator's operations ({@code tartan network ...}, {@code tartan leases ...}, {@code tartan doctor}). */
public interface LeaseAdmin extends AutoCloseable {

  /** The stored {@code <prefix>/config} text, if any. */
  Optional<String> rawConfig() throws LeaseStoreException;

  /** Validates and writes {@code <prefix>/config}; an existing different config only with {@code force}. */
  void putConfig(String json, boolean force) throws LeaseStoreException;

  /** Every parsable lease with its expiry, sorted by subnet. */
  List<SubnetLease> list() throws LeaseStoreException;

  /** Pins {@code subnet} to {@code publicIp} with a key that has no etcd lease (flannel's reservation). */
  SubnetLease reserve(Ipv4Subnet subnet, Inet4Address publicIp) throws LeaseStoreException;

  /** Deletes the key of {@code subnet} (lease or reservation); false when there was none. */
  boolean releaseSubnet(Ipv4Subnet subnet) throws LeaseStoreException;

  /** {@code <prefix>/config}. */
  String configKey();

  /** {@code <prefix>/subnets/}. */
  String subnetsPrefix();

  @Override
  void close();
}
