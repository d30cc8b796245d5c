#!/bin/bash
# bench-cni.sh: start-up cost of the Tartan CNI plugin against the plain Go plugins it delegates to.
#
# Measures, N times each (default 30), interleaved, inside a throw-away host namespace:
#   bare        /usr/lib/cni/bridge ADD and DEL with host-local: the config the plugin hands on (checked against
#               the one the attach path saves before anything is timed)
#   tartan      the standalone plugin cni/target/tartan-cni-java (JVM + subnet.env + delegate config + bridge)
#   tartan+cds  the same with an AppCDS archive (made with `tartan-cni-java --create-cds` in a temp copy)
#   attach      the front end cni/target/tartan-cni with the agent up: a full `tartan agent` (through the
#               packaged launcher systemd/tartan, agent/target/tartan.jar, its AppCDS archive made with
#               `tartan --create-cds` as the package does) on an etcd in the same namespace, serving the calls
#               on its attach socket; warmed by 3 discarded calls, as an agent is after its first containers
#   fallback    the front end with no server (socket absent): it runs tartan+cds
# and prints the medians and the ADD ratio against bare (targets: attach <= 1.5x; fallback ~ tartan+cds).
#
# BENCH_SERVER_JAVA_OPTS: extra JVM flags for the agent (TARTAN_JAVA_OPTS, to try a lever).
# Usage: sudo scripts/bench-cni.sh [N]     (needs root, iproute2, /usr/lib/cni/bridge, java, etcd; build first:
#                                           mvn -B -o -pl agent -am package -DskipTests)
# Only namespaces and files this script creates are touched; everything is removed on exit.
set -euo pipefail

N=${1:-30}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
LAUNCHER=$ROOT/cni/target/tartan-cni-java
FRONT=$ROOT/cni/target/tartan-cni
PLUGINS=${CNI_PLUGIN_DIR:-/usr/lib/cni}

[ "$(id -u)" = 0 ] || { echo "bench-cni: needs root (network namespaces)" >&2; exit 2; }
[ -x "$PLUGINS/bridge" ] && [ -x "$PLUGINS/host-local" ] || { echo "bench-cni: no bridge/host-local in $PLUGINS" >&2; exit 2; }
[ -x "$LAUNCHER" ] && [ -x "$FRONT" ] && [ -f "$ROOT/cni/target/tartan-cni.jar" ] && [ -f "$ROOT/agent/target/tartan.jar" ] \
  || { echo "bench-cni: build first: mvn -B -o -pl agent -am package -DskipTests" >&2; exit 2; }
command -v etcd >/dev/null || { echo "bench-cni: no etcd (apt-get install etcd-server)" >&2; exit 2; }

suffix=$$
H=cnibh-$suffix
C=cnibc-$suffix
T=$(mktemp -d /tmp/bench-cni.XXXXXX)
SERVER=
ETCD=
cleanup() {
  if [ -n "$SERVER" ]; then kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; fi
  if [ -n "$ETCD" ]; then kill "$ETCD" 2>/dev/null || true; wait "$ETCD" 2>/dev/null || true; fi
  ip netns del "$H" 2>/dev/null || true
  ip netns del "$C" 2>/dev/null || true
  rm -rf "$T"
}
trap cleanup EXIT

ip netns add "$H"
ip netns add "$C"
ip -n "$H" link set lo up

# A private copy of the plugin, so the CDS archive does not land in cni/target.
mkdir -p "$T/plain" "$T/cds"
cp "$LAUNCHER" "$ROOT/cni/target/tartan-cni.jar" "$T/plain/"
cp "$LAUNCHER" "$FRONT" "$ROOT/cni/target/tartan-cni.jar" "$T/cds/"
"$T/cds/tartan-cni-java" --create-cds 2>/dev/null

# The host: an underlay link (a veth pair, both ends here, 198.51.100.1/24), etcd on its loopback, the agent.
ip -n "$H" link add eth0 type veth peer name ul0
ip -n "$H" addr add 198.51.100.1/24 dev eth0
ip -n "$H" link set eth0 up
ip -n "$H" link set ul0 up
ip -n "$H" route add default via 198.51.100.254 dev eth0 onlink
ports=$(python3 -c 'import socket
s=[socket.socket() for _ in range(2)]
[x.bind(("127.0.0.1",0)) for x in s]
print(" ".join(str(x.getsockname()[1]) for x in s))')
read -r cport pport <<<"$ports"
ip netns exec "$H" etcd --name b --data-dir "$T/etcd" --listen-client-urls "http://127.0.0.1:$cport" \
  --advertise-client-urls "http://127.0.0.1:$cport" --listen-peer-urls "http://127.0.0.1:$pport" \
  --initial-advertise-peer-urls "http://127.0.0.1:$pport" --initial-cluster "b=http://127.0.0.1:$pport" >"$T/etcd.log" 2>&1 &
ETCD=$!
for _ in $(seq 100); do
  ip netns exec "$H" etcdctl --endpoints="127.0.0.1:$cport" endpoint health >/dev/null 2>&1 && break
  sleep 0.1
done
mkdir -p "$T/agent" "$T/run"
cp "$ROOT/agent/target/tartan.jar" "$T/agent/tartan.jar"
TARTAN_JAR="$T/agent/tartan.jar" "$ROOT/systemd/tartan" --create-cds 2>/dev/null || true
ip netns exec "$H" env TARTAN_JAR="$T/agent/tartan.jar" "$ROOT/systemd/tartan" network init \
  --etcd-endpoints "http://127.0.0.1:$cport" --network 10.244.0.0/16 --backend vxlan >/dev/null

# The agent inside the host namespace (the delegates run as its children there), through the packaged
# launcher, at the same priority as the measuring loop below (nice -20 in a session of its own): its
# delegates do the work the loop's bare delegates do, so they compete for the CPU on equal terms.
# --ip-masq as the shipped agent.conf (and kube-flannel's manifest): subnet.env then says FLANNEL_IPMASQ=true
# and the plugin hands bridge "ipMasq":false, as the bare config below. Without it bridge masquerades itself:
# 9 iptables runs per ADD and 6 per DEL (~20 and ~50 ms here) that the bare row would not do.
nice -n -20 setsid ip netns exec "$H" sh -c \
  'if [ -w /proc/self/autogroup ]; then echo -20 >/proc/self/autogroup 2>/dev/null || true; fi; exec "$@"' sh \
  env -u NOTIFY_SOCKET -u JAVA_OPTS TARTAN_JAR="$T/agent/tartan.jar" TARTAN_JAVA_OPTS="${BENCH_SERVER_JAVA_OPTS:-}" \
  "$ROOT/systemd/tartan" agent --etcd-endpoints "http://127.0.0.1:$cport" --iface eth0 \
  --subnet-file "$T/subnet.env" --ip-masq --healthz-port 0 --attach-socket "$T/run/attach.sock" >"$T/server.log" 2>&1 &
SERVER=$!
for _ in $(seq 600); do grep -q ' - ready: ' "$T/server.log" 2>/dev/null && break; sleep 0.1; done
grep -q ' - ready: ' "$T/server.log" && [ -S "$T/run/attach.sock" ] \
  || { echo "bench-cni: the agent did not get ready:" >&2; tail -20 "$T/server.log" >&2; exit 1; }

# Every variant uses the agent's subnet (the bridge plugin refuses a second IPv4 gateway on cni0).
subnet=$(sed -n 's/^FLANNEL_SUBNET=\(.*\)\.1\/24$/\1.0\/24/p' "$T/subnet.env")
[ -n "$subnet" ] || { echo "bench-cni: no FLANNEL_SUBNET in the agent's $T/subnet.env" >&2; exit 1; }
cat >"$T/bare.json" <<EOF
{"cniVersion":"1.0.0","ipMasq":false,"ipam":{"dataDir":"$T/ipam","ranges":[[{"subnet":"$subnet"}]],"routes":[{"dst":"10.244.0.0/16"}],"type":"host-local"},"isGateway":true,"mtu":1450,"name":"bench","type":"bridge"}
EOF
cat >"$T/tartan.json" <<EOF
{"cniVersion":"1.0.0","name":"bench","type":"tartan","subnetFile":"$T/subnet.env","dataDir":"$T/data","ipam":{"dataDir":"$T/ipam"}}
EOF
sed "s|\"type\":\"tartan\"|&,\"attachSocket\":\"$T/run/attach.sock\"|" "$T/tartan.json" >"$T/attach.json"
sed "s|\"type\":\"tartan\"|&,\"attachSocket\":\"$T/absent.sock\"|" "$T/tartan.json" >"$T/fallback.json"

# The loop runs inside the host namespace, so no call pays for `ip netns exec`, and at nice -20 in a session
# of its own (with autogroup scheduling, nice only counts within a session), so other work on the machine
# (2 cores, often shared with builds) distorts it less. It lasts N x 8 plugin calls.
nice -n -20 setsid -w ip netns exec "$H" bash -s -- "$N" "$T" "$C" "$PLUGINS" <<'INNER'
set -euo pipefail
N=$1 T=$2 C=$3 PLUGINS=$4
if [ -w /proc/self/autogroup ]; then echo -20 >/proc/self/autogroup 2>/dev/null || true; fi
export CNI_NETNS=/run/netns/$C CNI_IFNAME=eth0 CNI_PATH=$PLUGINS CNI_ARGS="IgnoreUnknown=1;K8S_POD_NAME=bench"
now_us() { local t=${EPOCHREALTIME/./}; echo "$t"; }
call() { # call VARIANT COMMAND ID BIN CONFIG -> appends elapsed ms to $T/VARIANT.COMMAND
  local start end
  start=$(now_us)
  if ! CNI_COMMAND=$2 CNI_CONTAINERID=$3 "$4" <"$5" >"$T/out" 2>"$T/err"; then
    echo "bench-cni: $1 $2 failed:" >&2; cat "$T/out" "$T/err" >&2; exit 1
  fi
  end=$(now_us)
  echo "$(( (end - start) / 1000 )).$(( (end - start) % 1000 / 100 ))" >>"$T/$1.$2"
}
# bare must do the work the plugin hands on: the delegate config the attach path saves is bare's config.
same() { python3 -c 'import json, sys; sys.exit(json.load(open(sys.argv[1])) != json.load(open(sys.argv[2])))' "$1" "$2"; }
CNI_COMMAND=ADD CNI_CONTAINERID=conf "$T/cds/tartan-cni" <"$T/attach.json" >/dev/null
if ! same "$T/data/conf" "$T/bare.json"; then
  echo "bench-cni: the bare config differs from the delegate config the plugin hands on; fix bare.json:" >&2
  cat "$T/data/conf" "$T/bare.json" >&2; exit 1
fi
CNI_COMMAND=DEL CNI_CONTAINERID=conf "$T/cds/tartan-cni" <"$T/attach.json" >/dev/null
for ((i = 0; i < 3; i++)); do # warms the attach server's code paths; not counted
  call warmup ADD "warm$i" "$T/cds/tartan-cni" "$T/attach.json"
  call warmup DEL "warm$i" "$T/cds/tartan-cni" "$T/attach.json"
done
for ((i = 0; i < N; i++)); do
  call bare ADD "bare$i" "$PLUGINS/bridge" "$T/bare.json"
  call bare DEL "bare$i" "$PLUGINS/bridge" "$T/bare.json"
  call tartan ADD "tartan$i" "$T/plain/tartan-cni-java" "$T/tartan.json"
  call tartan DEL "tartan$i" "$T/plain/tartan-cni-java" "$T/tartan.json"
  call tartan+cds ADD "cds$i" "$T/cds/tartan-cni-java" "$T/tartan.json"
  call tartan+cds DEL "cds$i" "$T/cds/tartan-cni-java" "$T/tartan.json"
  call attach ADD "attach$i" "$T/cds/tartan-cni" "$T/attach.json"
  call attach DEL "attach$i" "$T/cds/tartan-cni" "$T/attach.json"
  call fallback ADD "fb$i" "$T/cds/tartan-cni" "$T/fallback.json"
  call fallback DEL "fb$i" "$T/cds/tartan-cni" "$T/fallback.json"
  call tartan VERSION "v$i" "$T/plain/tartan-cni-java" "$T/tartan.json"
  call tartan+cds VERSION "v$i" "$T/cds/tartan-cni-java" "$T/tartan.json"
  call attach VERSION "v$i" "$T/cds/tartan-cni" "$T/attach.json"
done
INNER

median() { sort -n "$1" | awk '{a[NR]=$1} END {if (NR % 2) print a[(NR+1)/2]; else printf "%.1f\n", (a[NR/2]+a[NR/2+1])/2}'; }
range() { sort -n "$1" | awk 'NR==1{lo=$1} {hi=$1} END {print lo "-" hi}'; }
bare_add=$(median "$T/bare.ADD")
echo
echo "CNI plugin timings, median of $N (ms; range in brackets), $(java -version 2>&1 | head -1), load $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-12s %20s %20s %14s %12s\n' variant ADD DEL VERSION "ADD / bare"
for v in bare tartan tartan+cds attach fallback; do
  add=$(median "$T/$v.ADD"); del=$(median "$T/$v.DEL")
  ver="-"; [ -f "$T/$v.VERSION" ] && ver=$(median "$T/$v.VERSION")
  ratio=$(awk -v a="$add" -v b="$bare_add" 'BEGIN {printf "%.2fx", a / b}')
  printf '%-12s %20s %20s %14s %12s\n' "$v" "$add [$(range "$T/$v.ADD")]" "$del [$(range "$T/$v.DEL")]" "$ver" "$ratio"
done
leftover=$(ls "$T/data" 2>/dev/null | wc -l)
ips=$(ls "$T/ipam/bench" 2>/dev/null | grep -vc -e '^lock$' -e '^last_reserved_ip' || true)
echo "left behind: $leftover saved configs, $ips host-local IPs (both should be 0)"
echo "the agent that served attach: $(grep -m1 ' - ready: ' "$T/server.log" | sed 's/^.* - //'); its VmRSS after the run: $(awk '/^VmRSS/ {printf "%.1f MiB", $2 / 1024}' /proc/$SERVER/status 2>/dev/null)"
