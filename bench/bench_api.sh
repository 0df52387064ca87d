#!/bin/sh
# bench/bench_api.sh: what the gRPC API adds to one inference, and how many
# unary calls per second it serves (bench/bench_api.py does the measuring,
# with python3-grpcio as the client).
#
#   sh bench/bench_api.sh [-r RUNS] [-n N] [-c CLIENTS] [-t] [-k]
#
# One lagranged (Tls=no, no peers) with JobDir/ModelDir/BlobDir in a temp
# dir under /var/tmp (a disk: job records are fsynced), or in /dev/shm with
# -t (to see what the fsyncs cost). Each of RUNS runs (default 5) times N
# inferences (default 50) through the API against `lagrange run --repeat N`
# of the same model in the same run; then 1, 2, 4 .. CLIENTS (default 4)
# client processes call GetJob for 3 s each. Run it from the build
# directory (or set LAGRANGED and LAGRANGE). -k keeps the temp dir.
# Installs nothing; never fails on a slow result.
set -u
src=$(cd "$(dirname "$0")/.." && pwd)
LD=${LAGRANGED:-./daemon/lagranged}
L=${LAGRANGE:-./cli/lagrange}
case $LD in /*) ;; *) LD=$(pwd)/$LD ;; esac
case $L in /*) ;; *) L=$(pwd)/$L ;; esac
runs=5 n=50 clients=4 tmpfs= keep=
while getopts r:n:c:tk o; do
    case $o in
    r) runs=$OPTARG ;; n) n=$OPTARG ;; c) clients=$OPTARG ;;
    t) tmpfs=1 ;; k) keep=1 ;;
    *) echo "usage: sh bench/bench_api.sh [-r RUNS] [-n N] [-c CLIENTS] [-t] [-k]" >&2
       exit 2 ;;
    esac
done
/usr/bin/python3 -c 'import grpc, grpc_tools, onnx' 2>/dev/null || {
    echo "bench_api: needs python3-grpcio, python3-grpc-tools, python3-onnx"; exit 0; }
[ -x "$LD" ] && [ -x "$L" ] || { echo "bench_api: build first (no $LD or $L)"; exit 1; }
if [ -n "$tmpfs" ]; then T=$(mktemp -d /dev/shm/lgbench.XXXXXX)
else T=$(mktemp -d /var/tmp/lgbench.XXXXXX); fi
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null
            [ -n "$keep" ] && echo "kept $T" || rm -rf "$T"; }
trap cleanup EXIT
cp "$src/tests/daemon/conf/tiny.topo" "$T/"
cat >"$T/gs.conf" <<CONF
NodeId=gs
Topology=tiny.topo
Tls=no
Listen=127.0.0.1:$((26000 + $$ % 3000))
MetricsListen=none
SpoolDir=$T/spool
InboxDir=$T/inbox
ControlSocket=$T/ctl.sock
ApiSocket=$T/api.sock
JobDir=$T/jobs
ModelDir=$T/models
BlobDir=$T/blobs
CONF
"$LD" -f "$T/gs.conf" 2>"$T/gs.log" &
pid=$!
i=0
while [ ! -S "$T/api.sock" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
[ -S "$T/api.sock" ] || { cat "$T/gs.log"; exit 1; }
echo "bench_api: $(nproc) CPUs, JobDir on $(df -P "$T" | awk 'NR==2 {print $1}')" \
     "($T), $runs runs x $n inferences"
mkdir -p "$T/py"
/usr/bin/python3 "$src/bench/bench_api.py" "$T/api.sock" "$src/proto" "$L" \
    "$T/py" "$runs" "$n" "$clients" "$pid"
