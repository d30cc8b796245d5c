#!/bin/bash
# bench-netlink.sh: rtnetlink programming speed of the agent's netlink layer (RtNetlinkClient).
#
# Programs N peers (default 5000; per peer an ARP entry, an FDB entry and an onlink route = 3N
# operations) on a vxlan device inside a throw-away namespace (nlt-XXXXXX), batched and one request
# at a time, for R rounds (default 5), and prints wall and CPU time and ops/s per phase.
# Target: all 15,000 operations in under 1 s batched.
#
# Usage: sudo scripts/bench-netlink.sh [peers] [rounds]
# Needs root, iproute2 and the agent's test classes (built here with mvn -o). The classpath comes from
# maven-dependency-plugin 3.8.1 (offline; if it is not in ~/.m2 yet, the first run fetches it once).
# Only the namespace the benchmark creates is touched; it is removed on exit.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
[ "$(id -u)" = 0 ] || { echo "bench-netlink: needs root (network namespaces)" >&2; exit 2; }
command -v ip >/dev/null || { echo "bench-netlink: needs iproute2 (ip)" >&2; exit 2; }

cd "$ROOT"
mvn -B -o -q -pl agent test-compile
CP_FILE=$(mktemp /tmp/bench-netlink-cp.XXXXXX)
trap 'rm -f "$CP_FILE"' EXIT
DEP=org.apache.maven.plugins:maven-dependency-plugin:3.8.1:build-classpath
mvn -B -o -q -pl agent "$DEP" -Dmdep.outputFile="$CP_FILE" -Dmdep.includeScope=test >/dev/null 2>&1 \
  || mvn -B -q -pl agent "$DEP" -Dmdep.outputFile="$CP_FILE" -Dmdep.includeScope=test

java -Xms256m -cp "agent/target/test-classes:agent/target/classes:$(cat "$CP_FILE")" \
  dev.tartan.agent.netlink.bench.NetlinkBench "$@"
