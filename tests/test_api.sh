#!/bin/sh
# test_api.sh - lagranged's gRPC API (lagrange.v1.Scheduler, grpc.health.v1,
# grpc.reflection.v1) against a real gRPC client: tests/api/test_api.py
# under /usr/bin/python3 with grpcio, stubs generated from proto/ by
# grpc_tools.protoc, models built with onnx and references from numpy and
# from `lagrange run`. It starts its own daemons: on a unix socket, on TLS
# with bearer tokens, with a 64 KiB message limit, and one killed -9
# mid-queue and restarted. See the header of test_api.py for the cases.
#
# Here: find the binaries, make a temporary directory with a CA and gs's
# certificate (and a second CA a client must not trust), run the Python
# test and clean up (daemons killed, directory removed; KEEP=1 keeps the
# directory and says where). Skipped (exit 77) when /usr/bin/python3 lacks
# grpc, grpc_tools, numpy or onnx. Run by `make check`; uses LG_SRCDIR,
# LAGRANGED (default ./daemon/lagranged) and LAGRANGE (default
# ./cli/lagrange) like test_lagranged.sh.
set -u
src=$(cd "${LG_SRCDIR:-$(dirname "$0")/..}" && pwd)
LD=${LAGRANGED:-./daemon/lagranged}
L=${LAGRANGE:-./cli/lagrange}
case $LD in /*) ;; *) LD=$(pwd)/$LD ;; esac
case $L in /*) ;; *) L=$(pwd)/$L ;; esac
PY=/usr/bin/python3

if [ ! -x "$PY" ] ||
    ! "$PY" -c 'import grpc, grpc_tools.protoc, numpy, onnx' >/dev/null 2>&1; then
    echo "test_api: SKIP: $PY cannot import grpc, grpc_tools, numpy and onnx" \
         "(python3-grpcio python3-grpc-tools python3-numpy python3-onnx)"
    exit 77
fi
for b in "$LD" "$L"; do
    [ -x "$b" ] || { echo "test_api: $b not built" >&2; exit 1; }
done

T=$(mktemp -d)
cleanup() {
    # The Python side keeps $T/pids to the daemons it has running.
    if [ -f "$T/pids" ]; then
        for p in $(cat "$T/pids"); do kill -9 "$p" 2>/dev/null; done
    fi
    if [ -n "${KEEP:-}" ]; then
        echo "# keeping $T"
    else
        rm -rf "$T"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

"$L" cert ca --out "$T/tls" >/dev/null 2>"$T/cert.err" &&
    "$L" cert node gs --ca "$T/tls" --out "$T/tls" >/dev/null 2>>"$T/cert.err" &&
    "$L" cert ca --out "$T/other" >/dev/null 2>>"$T/cert.err" ||
    { echo "test_api: lagrange cert failed: $(cat "$T/cert.err")"; exit 1; }

"$PY" "$src/tests/api/test_api.py" --lagranged "$LD" --lagrange "$L" \
    --srcdir "$src" --tmp "$T"
rc=$?
[ $rc -eq 0 ] || [ $rc -eq 77 ] || echo "test_api: failed (exit $rc)"
exit $rc
