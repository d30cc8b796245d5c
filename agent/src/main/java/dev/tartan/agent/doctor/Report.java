package dev.tartan.agent.doctor;

import dev.tartan.agent.routing.GraceFile;
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
 * @param held     peers the agent keeps programmed after their lease expired, until their grace ends
 */
public record Report(Host host, int leases, int peers, List<Finding> findings, List<GraceFile.Held> held) {
  public Report {
    findings = List.copyOf(findings);
    held = List.copyOf(held);
  }

  /** Without peers held in grace. */
  public Report(Host host, int leases, int peers, List<Finding> findings) {
    this(host, leases, peers, findings, List.of());
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
