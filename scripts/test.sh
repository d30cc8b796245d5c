#!/usr/bin/env bash
# Sets everything up and runs every test: unit tests (*Test) first, then integration tests (*IT)
# on real etcd, real network namespaces and the real CNI plugins. Run as root.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
# A previous interrupted run may have left test namespaces behind; they all carry a test prefix.
scripts/cleanup-testbeds.sh
# The etcd version matrix: the store ITs and ThreeHostAgentIT run a second time against Debian 13's etcd 3.5
# (from the cached trixie root fs, which the Debian 13 host ITs use too; built here once, about 2 minutes).
etcd35=$(scripts/rootfs.sh trixie)/usr/bin/etcd
mvn -B -ntp verify -Dtartan.etcd35.binary="$etcd35" "$@"
