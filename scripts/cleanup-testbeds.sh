#!/usr/bin/env bash
# Removes network namespaces and processes left by an interrupted test or demo run.
# Only touches namespaces whose names carry one of Tartan's test prefixes.
set -uo pipefail
prefixes='^(tt-|tartan-|nlt-|dpt-|cnih-|cnic-|hst-|etcdt-|tmasq)'
for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E "$prefixes"); do
  pids=$(ip netns pids "$ns" 2>/dev/null)
  [ -n "$pids" ] && kill -9 $pids 2>/dev/null
  ip netns del "$ns" 2>/dev/null && echo "cleanup: removed stale namespace $ns"
done
# Machines booted by the tests (agent testbed/Machine.java): processes left in their cgroups, their
# overlay root mounts under target/testbed, then the cgroups (all named tartan-machine-<namespace>).
for procs in $(find /sys/fs/cgroup -path '*/tartan-machine-tt-*' -name cgroup.procs 2>/dev/null); do
  pids=$(cat "$procs" 2>/dev/null)
  [ -n "$pids" ] && kill -9 $pids 2>/dev/null
done
awk '$5 ~ /\/target\/testbed\/tt-[^/]*\/machine-h[0-9]+\/root$/ {print $5}' /proc/self/mountinfo | sort -u |
  while read -r mp; do umount -R -l "$mp" && echo "cleanup: unmounted stale machine root $mp"; done
find /sys/fs/cgroup -depth -type d -path '*/tartan-machine-tt-*' -exec rmdir {} \; 2>/dev/null
exit 0
