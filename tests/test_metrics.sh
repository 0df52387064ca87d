#!/bin/sh
# test_metrics.sh - lagranged's /metrics (MetricsListen) against
# prometheus_client's two parsers and promtool (tests/api/test_metrics.py
# does the checking), with the daemon under valgrind when it is installed
# and the build is not an ASan one: the API, the jobs and the metrics
# paths then run clean or the test fails. Skips (77) without
# /usr/bin/python3's grpc, onnx and prometheus_client, or without promtool.
#
#   sh tests/test_metrics.sh        (from the build directory; KEEP=1 keeps
#                                    the temp dir)
set -u
src=$(cd "${LG_SRCDIR:-$(dirname "$0")/..}" && pwd)
LD=${LAGRANGED:-./daemon/lagranged}
case $LD in /*) ;; *) LD=$(pwd)/$LD ;; esac
PY=/usr/bin/python3
T=$(mktemp -d)
pid=""
cleanup() {
    [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
    rm -rf "$T"
}
[ -n "${KEEP:-}" ] && echo "# keeping $T" || trap cleanup EXIT

"$PY" -c 'import grpc, grpc_tools, onnx, prometheus_client' 2>/dev/null || {
    echo "skip: /usr/bin/python3 lacks grpc, grpc_tools, onnx or prometheus_client"
    exit 77
}
command -v promtool >/dev/null 2>&1 || { echo "skip: no promtool"; exit 77; }

base=$((10000 + ($$ % 1100) * 20))   # below the ephemeral ports (32768-)
cp "$src/tests/daemon/conf/tiny.topo" "$T/"
cat >"$T/gs.conf" <<CONF
NodeId=gs
Topology=tiny.topo
Tls=no
Listen=127.0.0.1:$base
MetricsListen=127.0.0.1:$((base+1))
SpoolDir=$T/spool
InboxDir=$T/inbox
ControlSocket=$T/ctl.sock
ApiSocket=$T/api.sock
JobDir=$T/jobs
ModelDir=$T/models
BlobDir=$T/blobs
CONF
VG=
if command -v valgrind >/dev/null 2>&1 && ! nm "$LD" 2>/dev/null | grep -q __asan_init; then
    # LAGRANGE_NO_REEXEC: valgrind would not follow blastune.h's re-exec
    VG="env LAGRANGE_NO_REEXEC=1 valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite"
    echo "# lagranged under valgrind"
fi
$VG "$LD" -f "$T/gs.conf" 2>"$T/gs.log" &
pid=$!
i=0
while [ ! -S "$T/api.sock" ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done
[ -S "$T/api.sock" ] || { echo "lagranged did not start:"; cat "$T/gs.log"; exit 1; }

"$PY" "$src/tests/api/test_metrics.py" "$T/api.sock" "127.0.0.1:$((base+1))" \
    "$src/proto"
rc=$?
kill -TERM "$pid"
wait "$pid"
drc=$?
pid=""
if [ $drc -ne 0 ]; then
    echo "FAIL: lagranged exited $drc after SIGTERM"; tail -20 "$T/gs.log"; exit 1
fi
[ $rc -ne 0 ] && tail -20 "$T/gs.log"
exit $rc
