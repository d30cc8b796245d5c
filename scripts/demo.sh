#!/usr/bin/env bash
# Tartan local multi-host demo.
#
# Builds a small network out of network namespaces on this machine and runs Tartan on it:
#   tartan-ctl          the underlay: bridge br0 (198.51.100.254/24) and an etcd server
#   tartan-h1..h3       three "hosts" (198.51.100.1..3 on eth0), each running `tartan agent`
#   tartan-hN-c1, -c2   two "containers" per host, attached by Tartan's CNI plugin
#                       (tartan-cni -> bridge + host-local)
# then prints the lease table, a ping matrix (same host and across hosts) and an iperf3 figure
# across hosts, and removes everything again — also on Ctrl-C or failure. Nothing is created in
# the root network namespace. Run as root (or it re-runs itself with sudo).
set -euo pipefail

HOSTS=${TARTAN_DEMO_HOSTS:-3}
PODS_PER_HOST=2
ROOT=$(cd "$(dirname "$0")/.." && pwd)
JAR=$ROOT/agent/target/tartan.jar
CNI=$ROOT/cni/target/tartan-cni
CTL=tartan-ctl
ETCD_IP=198.51.100.254
ETCD=http://$ETCD_IP:2379
JAVA_OPTS=(-Xms8m -Xmx64m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xss512k -XX:ReservedCodeCacheSize=24m)

if [ "$(id -u)" -ne 0 ]; then
  exec sudo -E "$0" "$@"
fi

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

WORK=$(mktemp -d /tmp/tartan-demo.XXXXXX)
AGENT_PIDS=()
ETCD_PID=""

teardown() {
  local rc=$?
  trap - EXIT INT TERM
  say "tearing down"
  for h in $(seq 1 "$HOSTS"); do
    for c in $(seq 1 "$PODS_PER_HOST"); do
      if [ -f "$WORK/h$h/cni-c$c.conf" ]; then
        cni_call DEL "$h" "$c" >/dev/null 2>&1 || true
      fi
    done
  done
  for pid in "${AGENT_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  [ -n "$ETCD_PID" ] && kill "$ETCD_PID" 2>/dev/null || true
  for pid in "${AGENT_PIDS[@]}" $ETCD_PID; do wait "$pid" 2>/dev/null || true; done
  for ns in $(ip netns list | awk '{print $1}' | grep -E '^tartan-'); do
    pids=$(ip netns pids "$ns" 2>/dev/null || true)
    [ -n "$pids" ] && kill -9 $pids 2>/dev/null || true
    ip netns del "$ns" 2>/dev/null || true
  done
  if [ $rc -ne 0 ]; then
    echo "demo failed (exit $rc); logs were in $WORK:" >&2
    for f in "$WORK"/h*/agent.log "$WORK"/etcd.log; do
      [ -f "$f" ] && { echo "--- $f (last 15 lines)" >&2; tail -n 15 "$f" >&2; }
    done
  fi
  rm -rf "$WORK"
  echo "done: no namespaces, processes or files left behind"
  exit $rc
}
trap teardown EXIT
trap 'exit 130' INT TERM

tartan() { ip netns exec "$CTL" java "${JAVA_OPTS[@]}" -jar "$JAR" "$@"; }

cni_call() { # cni_call ADD|DEL HOST POD
  local cmd=$1 h=$2 c=$3
  ip netns exec "tartan-h$h" env CNI_COMMAND="$cmd" CNI_CONTAINERID="demo-h$h-c$c" \
    CNI_NETNS="/run/netns/tartan-h$h-c$c" CNI_IFNAME=eth0 CNI_PATH="/usr/lib/cni" \
    CNI_ARGS="IgnoreUnknown=1;K8S_POD_NAME=demo-h$h-c$c" \
    "$CNI" < "$WORK/h$h/cni-c$c.conf"
}

say "installing missing packages and building"
"$ROOT/scripts/install-deps.sh"
"$ROOT/scripts/cleanup-testbeds.sh"
(cd "$ROOT" && mvn -B -q -ntp -DskipTests package)

say "underlay: namespace $CTL with bridge br0 ($ETCD_IP/24) and etcd"
ip netns add "$CTL"
ip -n "$CTL" link set lo up
ip -n "$CTL" link add br0 type bridge
ip -n "$CTL" addr add "$ETCD_IP/24" dev br0
ip -n "$CTL" link set br0 up
ip netns exec "$CTL" etcd --name demo --data-dir "$WORK/etcd" \
  --listen-client-urls "$ETCD,http://127.0.0.1:2379" --advertise-client-urls "$ETCD" \
  --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
  --initial-cluster demo=http://127.0.0.1:2380 >"$WORK/etcd.log" 2>&1 &
ETCD_PID=$!
for _ in $(seq 1 100); do
  ip netns exec "$CTL" etcdctl --endpoints="$ETCD" endpoint health >/dev/null 2>&1 && break
  sleep 0.1
done
ip netns exec "$CTL" etcdctl --endpoints="$ETCD" endpoint health

for h in $(seq 1 "$HOSTS"); do
  ns=tartan-h$h
  ip netns add "$ns"
  ip -n "$ns" link set lo up
  ip -n "$CTL" link add "veth-h$h" type veth peer name eth0 netns "$ns"
  ip -n "$CTL" link set "veth-h$h" master br0 up
  ip -n "$ns" addr add "198.51.100.$h/24" dev eth0
  ip -n "$ns" link set eth0 up
  ip -n "$ns" route add default via "$ETCD_IP"
  mkdir -p "$WORK/h$h"
done
echo "hosts: $(seq -s ' ' -f 'tartan-h%g' 1 "$HOSTS") on 198.51.100.0/24"

say "network config: tartan network init --network 10.244.0.0/16 --backend vxlan"
tartan network init --etcd-endpoints "$ETCD" --network 10.244.0.0/16 --backend vxlan
tartan network show --etcd-endpoints "$ETCD"

say "starting one agent per host"
for h in $(seq 1 "$HOSTS"); do
  ip netns exec "tartan-h$h" java "${JAVA_OPTS[@]}" -jar "$JAR" agent \
    --etcd-endpoints "$ETCD" --subnet-file "$WORK/h$h/subnet.env" --ip-masq \
    --healthz-ip 127.0.0.1 --healthz-port 8471 --attach-socket "$WORK/h$h/attach.sock" >"$WORK/h$h/agent.log" 2>&1 &
  AGENT_PIDS+=($!)
done
for h in $(seq 1 "$HOSTS"); do
  for _ in $(seq 1 300); do
    if ip netns exec "tartan-h$h" curl -sf http://127.0.0.1:8471/readyz >/dev/null 2>&1; then break; fi
    kill -0 "${AGENT_PIDS[$((h - 1))]}" 2>/dev/null || { echo "agent on tartan-h$h exited" >&2; exit 1; }
    sleep 0.1
  done
  ip netns exec "tartan-h$h" curl -sf http://127.0.0.1:8471/readyz >/dev/null \
    || { echo "agent on tartan-h$h did not become ready" >&2; exit 1; }
  echo "tartan-h$h ready: $(tr '\n' ' ' <"$WORK/h$h/subnet.env")"
done

say "containers: $PODS_PER_HOST per host through the CNI plugin (tartan -> bridge + host-local)"
declare -A POD_IP
for h in $(seq 1 "$HOSTS"); do
  for c in $(seq 1 "$PODS_PER_HOST"); do
    ip netns add "tartan-h$h-c$c"
    cat >"$WORK/h$h/cni-c$c.conf" <<CONF
{"cniVersion":"1.0.0","name":"tartan-demo","type":"tartan","subnetFile":"$WORK/h$h/subnet.env","attachSocket":"$WORK/h$h/attach.sock",
 "dataDir":"$WORK/h$h/cni","delegate":{"hairpinMode":true},"ipam":{"dataDir":"$WORK/h$h/ipam"}}
CONF
    result=$(cni_call ADD "$h" "$c")
    ip=$(printf '%s' "$result" | jq -r '.ips[0].address' | cut -d/ -f1)
    POD_IP[$h.$c]=$ip
    echo "tartan-h$h-c$c: $ip"
  done
done

say "leases in etcd (tartan leases list)"
tartan leases list --etcd-endpoints "$ETCD"

say "kernel state on tartan-h1 (what the agent programmed)"
ip -n tartan-h1 -d link show flannel.1 | sed -n '1,3p'
ip -n tartan-h1 neigh show dev flannel.1
bridge -n tartan-h1 fdb show dev flannel.1 | grep dst || true
ip -n tartan-h1 route show proto 111

say "ping matrix (rows: from, columns: to; ok = 3/3 replies)"
pods=()
for h in $(seq 1 "$HOSTS"); do for c in $(seq 1 "$PODS_PER_HOST"); do pods+=("$h.$c"); done; done
printf '%-8s' ""
for t in "${pods[@]}"; do printf '%-8s' "h${t%.*}c${t#*.}"; done
echo
failures=0
for f in "${pods[@]}"; do
  printf '%-8s' "h${f%.*}c${f#*.}"
  for t in "${pods[@]}"; do
    if [ "$f" = "$t" ]; then printf '%-8s' "-"; continue; fi
    if ip netns exec "tartan-h${f%.*}-c${f#*.}" ping -c 3 -i 0.2 -W 1 -q "${POD_IP[$t]}" >/dev/null 2>&1; then
      printf '%-8s' "ok"
    else
      printf '%-8s' "FAIL"; failures=$((failures + 1))
    fi
  done
  echo
done

say "iperf3 TCP, 3 s: tartan-h1-c1 -> tartan-h2-c1 across the overlay"
ip netns exec tartan-h2-c1 iperf3 -s -1 -B "${POD_IP[2.1]}" >/dev/null 2>&1 &
sleep 0.5
ip netns exec tartan-h1-c1 iperf3 -c "${POD_IP[2.1]}" -t 3 -f m | grep -E 'sender|receiver' || true

if [ "$failures" -ne 0 ]; then
  echo "$failures pings failed" >&2
  exit 1
fi
say "all pings answered"
