#!/bin/sh
# tartan-cni: launcher of the Tartan CNI plugin (a flannel-compatible meta plugin written in Java).
#
# This is the standalone path: runtimes exec the C front end (/usr/lib/tartan/tartan-cni, linked as
# /usr/lib/cni/tartan, /opt/cni/bin/tartan and .../flannel), which hands each call to the agent's attach
# socket and execs this launcher (as tartan-cni-java beside it) only when the agent cannot take the call.
# It lives with its jar in one directory (/usr/share/tartan/tartan-cni, tartan-cni.jar); links to it are
# followed to find the jar. The JVM is tuned for start-up, which every container start pays
# (measured on JDK 17 with scripts/bench-cni.sh and -Xlog:startuptime):
#   -Xint            a call lasts ~100 ms, too short for JIT work to pay back: 15-20 ms and ~20 % CPU less
#                    per ADD than C1 only (-XX:TieredStopAtLevel=1)
#   G1, 1 GC thread  on JDK 17 only G1 maps the CDS archived heap (module graph): 10-15 ms less than
#                    -XX:+UseSerialGC, whose "Initialize module system" takes 12-17 ms instead of 1.5 ms
#   -XX:-UsePerfData no hsperfdata file written and removed in /tmp on every call
#   tartan-cni.jsa   an AppCDS archive of the plugin's classes, when it exists: ~30 ms less per ADD
# JVM warnings go to stderr: stdout carries only the CNI result or error.
#
#   tartan-cni --create-cds   build tartan-cni.jsa beside the jar (run at install time, as the owner of the
#                             directory; the archive is tied to the JVM build, so re-run after JVM upgrades;
#                             a stale archive is ignored by the JVM, never fatal)
#
# The same script is the standalone launcher of the netavark plugin "tartan" (podman 5): called by a name
# with "netavark" in it (installed as /usr/share/tartan/tartan-netavark, linked as
# /usr/lib/tartan/tartan-netavark-java beside the front end) it runs dev.tartan.cni.NetavarkMain
# (`tartan info | create | setup NETNS | teardown NETNS`, JSON on stdin and stdout) with the same JVM
# options and archive.
# Environment: TARTAN_JAVA (default: java on PATH, else /usr/bin/java), TARTAN_CNI_JAVA_OPTS (extra options).
case ${0##*/} in
  *netavark*)
    main=dev.tartan.cni.NetavarkMain
    nojava='{"error":"tartan: no java found (tried %s); install a Java 17+ runtime or set TARTAN_JAVA"}\n'
    ;;
  *)
    main=dev.tartan.cni.CniMain
    # The runtime reads stdout as a CNI error; 50 = plugin not available.
    nojava='{"cniVersion":"1.1.0","code":50,"msg":"tartan-cni: no java found (tried %s); install a Java 17+ runtime or set TARTAN_JAVA"}\n'
    ;;
esac
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
  # shellcheck disable=SC2059 # the format is one of the two fixed texts above
  printf "$nojava" "$java"
  exit 1
fi

jar=$dir/tartan-cni.jar
jsa=$dir/tartan-cni.jsa

if [ "${1:-}" = "--create-cds" ]; then
  rm -f "$jsa"
  # The training run exercises the plugin's code paths in a temporary directory (no network changes).
  "$java" -Xint -XX:+UseG1GC -XX:-UsePerfData -Xshare:auto \
    -XX:ArchiveClassesAtExit="$jsa" -Xlog:disable -Xlog:all=error:stderr \
    -cp "$jar" dev.tartan.cni.CniMain --cds-training || exit 1
  [ -f "$jsa" ] || { echo "tartan-cni: the JVM did not write $jsa" >&2; exit 1; }
  echo "tartan-cni: wrote $jsa" >&2
  exit 0
fi

opts="-Xint -XX:+UseG1GC -XX:ParallelGCThreads=1 -XX:ConcGCThreads=1 -Xmx128m -XX:-UsePerfData -Xshare:auto"
opts="$opts -Xlog:disable -Xlog:all=warning:stderr"
if [ -f "$jsa" ]; then
  # shellcheck disable=SC2086 # word splitting of the option lists is intended
  exec "$java" $opts -XX:SharedArchiveFile="$jsa" ${TARTAN_CNI_JAVA_OPTS:-} -cp "$jar" "$main" "$@"
fi
# shellcheck disable=SC2086
exec "$java" $opts ${TARTAN_CNI_JAVA_OPTS:-} -cp "$jar" "$main" "$@"
