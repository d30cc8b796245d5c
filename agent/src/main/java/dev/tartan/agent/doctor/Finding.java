package dev.tartan.agent.doctor;

import static java.util.Objects.requireNonNull;

/**
 * One discrepancy {@code tartan doctor} found: what is wrong, where, and how to fix it, each one
 * line.
 *
 * @param check   the area: {@code etcd}, {@code lease}, {@code device}, {@code bridge}, {@code
 *                route}, {@code neighbour}, {@code fdb}, {@code subnet-file}, {@code masquerade}
 * @param where   the object: a device name, a peer ({@code 10.244.2.0/24 (198.51.100.2)}), a file,
 *                an etcd key, an iptables chain
 * @param problem what differs from what the leases and the network config ask for
 * @param fix     the command or step that repairs it
 */
public record Finding(String check, String where, String problem, String fix) {
  public Finding {
    requireNonNull(check, "check");
    requireNonNull(where, "where");
    requireNonNull(problem, "problem");
    requireNonNull(fix, "fix");
  }
}
