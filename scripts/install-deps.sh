#!/usr/bin/env bash
# Installs (idempotently) every Debian package Tartan's build, tests, demo and benchmarks need.
# Safe to run again: it only calls apt-get when something is missing.
set -euo pipefail

packages=(
  # build
  openjdk-17-jdk-headless maven
  # the CNI front end (cni/src/main/c) is compiled by the build
  gcc libc6-dev
  # real etcd for the tests and the demo
  etcd-server etcd-client
  # kernel data path, firewall, CNI delegates
  iproute2 iptables nftables ipset containernetworking-plugins conntrack
  # tools the tests and the demo use
  iputils-ping tcpdump iperf3 curl jq procps util-linux busybox-static
  # container runtime for the podman end-to-end test
  podman runc
  # packaging tests: systemd-analyze verify on the unit, dpkg + lintian on the .deb, python3 as the
  # notify-socket stand-in; the Ansible role's tests (ansible's apt module needs python3-apt)
  systemd lintian python3 python3-apt ansible ansible-lint
  # Debian 12 and 13 test hosts and booted machines (scripts/rootfs.sh, systemd-nspawn); the role
  # run over ssh against booted machines (AnsibleMachinesIT)
  mmdebstrap systemd-container openssh-client
)

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: run as root (sudo $0)" >&2
  exit 1
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q "${missing[@]}"
