#!/bin/sh
# tartan-cni: launcher of the Tartan CNI plugin (a flannel-compatible meta plugin written in Java).
#
# Install it with its jar in one directory and link it into the CNI plugin directory under the plugin type:
#   /usr/share/tartan/tartan-cni, /usr/share/tartan/tartan-cni.jar
#   ln -s /usr/share/tartan/tartan-cni /usr/lib/cni/tartan      (and /opt/cni/bin/tartan, or .../flannel)
# The link is followed to find the jar. The JVM is tuned for start-up, which every container start pays:
# C1 only, serial GC, class-data sharing, and tartan-cni.jsa (an AppCDS archive) when it exists.
# JVM warnings go to stderr: stdout carries only the CNI result or error.
#
#   tartan-cni --create-cds   build tartan-cni.jsa beside the jar (run at install time, as the owner of the
#                             directory; the archive is tied to the JVM build, so re-run after JVM upgrades;
#                             a stale archive is ignored by the JVM, never fatal)
# Environment: TARTAN_JAVA (default: java on PATH, else /usr/bin/java), TARTAN_CNI_JAVA_OPTS (extra options).
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
  # The runtime reads stdout as a CNI error; 50 = plugin not available.
  printf '{"cniVersion":"1.1.0","code":50,"msg":"tartan-cni: no java found (tried %s); install a Java 17+ runtime or set TARTAN_JAVA"}\n' "$java"
  exit 1
fi

jar=$dir/tartan-cni.jar
jsa=$dir/tartan-cni.jsa

if [ "${1:-}" = "--create-cds" ]; then
  rm -f "$jsa"
  # The training run exercises the plugin's code paths in a temporary directory (no network changes).
  env -u CNI_COMMAND "$java" -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Xshare:auto \
    -XX:ArchiveClassesAtExit="$jsa" -Xlog:disable -Xlog:all=error:stderr \
    -cp "$jar" dev.tartan.cni.CniMain --cds-training || exit 1
  [ -f "$jsa" ] || { echo "tartan-cni: the JVM did not write $jsa" >&2; exit 1; }
  echo "tartan-cni: wrote $jsa" >&2
  exit 0
fi

if [ -f "$jsa" ]; then
  exec "$java" -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Xshare:auto -XX:SharedArchiveFile="$jsa" \
    -Xlog:disable -Xlog:all=warning:stderr $TARTAN_CNI_JAVA_OPTS -cp "$jar" dev.tartan.cni.CniMain "$@"
fi
exec "$java" -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Xshare:auto $TARTAN_CNI_JAVA_OPTS \
  -cp "$jar" dev.tartan.cni.CniMain "$@"
