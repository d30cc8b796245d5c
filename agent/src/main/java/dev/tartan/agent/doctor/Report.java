package dev.tartan.agent.doctor;

import dev.tartan.store.SubnetLease;
import java.net.Inet4Address;
import java.util.List;

/**
 * What {@code tartan doctor} found.
 *
 * @param host     this host as identified (null when no lease could be matched to it)
 * @param leases   leases in etcd
 * @param peers    peers whose neighbour, FDB entry and route were checked
 * @param findings every discrepancy, in check order; empty when the host is consistent
 */
public record Report(Host host, int leases, int peers, List<Finding> findings) {
  public Report {
    findings = List.copyOf(findings);
  }

  public boolean consistent() {
    return findings.isEmpty();
  }

  /**
   * This host.
   *
   * @param publicIp its lease's PublicIP
   * @param iface    the interface holding it (or given with --iface), null when neither
   * @param lease    its lease
   * @param device   the overlay device name ({@code flannel.1})
   */
  public record Host(Inet4Address publicIp, String iface, SubnetLease lease, String device) {}
}
