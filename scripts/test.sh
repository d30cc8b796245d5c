#!/usr/bin/env bash
# Sets everything up and runs every test: unit tests (*Test) first, then integration tests (*IT)
# on real etcd, real network namespaces and the real CNI plugins. Run as root.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
# A previous interrupted run may have left test namespaces behind; they all carry a test prefix.
scripts/cleanup-testbeds.sh
mvn -B -ntp verify "$@"
