#!/usr/bin/env bash
# Builds (once) and prints the path of a cached Debian root file system for the test hosts and booted
# machines: `scripts/rootfs.sh bookworm|trixie`. Built with mmdebstrap from the mirror apt already uses,
# cached under /var/cache/tartan-test/rootfs/<suite>-<hash of this script> (never in the repository);
# a new package list or recipe gives a new hash and a fresh build, and older builds are removed.
# Tests copy it per host with an overlayfs (lower = this directory); nothing here is ever modified after
# the build. Safe to run concurrently (flock) and again (a finished build is reused as it is).
set -euo pipefail

suite=${1:?usage: rootfs.sh bookworm|trixie}
case "$suite" in
  bookworm) java=openjdk-17-jre-headless; extra= ;;
  trixie) java=openjdk-21-jre-headless; extra=etcd-server ;;  # etcd 3.5 for the etcd version matrix
  *) echo "rootfs: unknown suite '$suite' (want bookworm or trixie)" >&2; exit 2 ;;
esac
if [ "$(id -u)" -ne 0 ]; then
  echo "rootfs: run as root" >&2
  exit 1
fi
command -v mmdebstrap >/dev/null || { echo "rootfs: mmdebstrap missing (apt-get install mmdebstrap)" >&2; exit 1; }

# What a test host needs: podman (5 on trixie, 4 on bookworm) with netavark, containerd and the CNI
# plugins, the firewall tools, Java for the agent, systemd + dbus to boot under systemd-nspawn, an ssh
# server and python3 for the Ansible role's tests, busybox for the container image.
packages=(
  systemd-sysv dbus libpam-systemd openssh-server python3 python3-apt
  iproute2 iputils-ping iptables nftables ipset procps kmod curl ca-certificates
  podman netavark aardvark-dns runc conmon containerd containernetworking-plugins
  busybox-static "$java" $extra
)

cache=${TARTAN_ROOTFS_CACHE:-/var/cache/tartan-test/rootfs}
mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
mirror=${mirror:-http://deb.debian.org/debian}
hash=$( { cat "$0"; echo "$suite ${packages[*]} $mirror"; } | sha256sum | cut -c1-12)
dir="$cache/$suite-$hash"

mkdir -p "$cache"
exec 9>"$cache/.lock-$suite"
flock 9
if [ -e "$dir/.complete" ]; then
  echo "$dir"
  exit 0
fi
# Older builds of this suite (another recipe) and a half-built directory from an interrupted run.
for old in "$cache/$suite"-*; do
  [ -e "$old" ] && [ "$old" != "$dir" ] && rm -rf --one-file-system "$old"
done
rm -rf --one-file-system "$dir.tmp"
start=$(date +%s)
include=$(IFS=,; echo "${packages[*]}")
echo "rootfs: building $suite root file system in $dir (mmdebstrap, about 2 minutes)" >&2
mmdebstrap --quiet --variant=minbase --include="$include" \
  --customize-hook='echo tartan-test > "$1/etc/hostname"' \
  --customize-hook='rm -f "$1/etc/machine-id"; touch "$1/etc/machine-id"' \
  "$suite" "$dir.tmp" "deb $mirror $suite main" >&2
mv "$dir.tmp" "$dir"
touch "$dir/.complete"
echo "rootfs: $suite built in $(( $(date +%s) - start )) s ($(du -sh --one-file-system "$dir" | cut -f1))" >&2
echo "$dir"
