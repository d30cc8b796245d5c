#!/bin/sh
# tartan-netavark: the standalone launcher of the netavark plugin "tartan" (podman 5), the same jar as the CNI
# plugin. Netavark runs /usr/libexec/netavark/tartan (one of netavark_plugin_dirs), which is the front end
# tartan-cni (C): it hands the call to the running agent's attach socket, and only when the agent cannot take
# it runs this script, installed as /usr/share/tartan/tartan-netavark next to tartan-cni.jar and linked as
# /usr/lib/tartan/tartan-netavark-java beside the front end. Either way the call is
#   tartan info | create | setup NETNS | teardown NETNS   with JSON on stdin and stdout.
# The JVM options are the CNI plugin's (see tartan-cni), and so is its class-data archive tartan-cni.jsa
# when it exists. Environment: TARTAN_JAVA, TARTAN_CNI_JAVA_OPTS as for tartan-cni.
self=$0
if [ -L "$self" ]; then
  self=$(readlink -f -- "$self")
fi
dir=${self%/*}
[ "$dir" = "$self" ] && dir=.

java=${TARTAN_JAVA:-}
if [ -z "$java" ]; then
  if command -v java >/dev/null 2>&1; then java=java; else java=/usr/bin/java; fi
fi
if ! command -v "$java" >/dev/null 2>&1; then
  printf '{"error":"tartan: no java found (tried %s); install a Java 17+ runtime or set TARTAN_JAVA"}\n' "$java"
  exit 1
fi

jar=$dir/tartan-cni.jar
jsa=$dir/tartan-cni.jsa
opts="-Xint -XX:+UseG1GC -XX:ParallelGCThreads=1 -XX:ConcGCThreads=1 -Xmx128m -XX:-UsePerfData -Xshare:auto"
opts="$opts -Xlog:disable -Xlog:all=warning:stderr"
if [ -f "$jsa" ]; then
  # shellcheck disable=SC2086 # word splitting of the option lists is intended
  exec "$java" $opts -XX:SharedArchiveFile="$jsa" ${TARTAN_CNI_JAVA_OPTS:-} -cp "$jar" dev.tartan.cni.NetavarkMain "$@"
fi
# shellcheck disable=SC2086
exec "$java" $opts ${TARTAN_CNI_JAVA_OPTS:-} -cp "$jar" dev.tartan.cni.NetavarkMain "$@"
