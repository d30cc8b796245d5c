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
exit 0
