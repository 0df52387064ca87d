#!/bin/sh
# test_partcache.sh - the partition cache (PartitionCacheMax, lagranged(8),
# DISTRIBUTED JOBS): two real lagranged on loopback (Tls=no), a controller
# gs and a worker w, and two torch-made MLPs A and B of the same shape
# (64 -> 256 -> 256 -> 10, about 340 KB each, different weights). w's
# PartitionCacheMax is 1.5 x A's ONNX size: one whole-model partition
# fits, two do not. Every job is `submit --place w --wait` at gs (one
# partition: the whole model, on w); torch's outputs are the oracle.
#
#  1. job A completes, its output allclose to torch's; w imported A's
#     partition (its log, its ModelDir); the sizes gs logs for the
#     partitions bear out the setup (one fits under the maximum, two not);
#  2. job B completes, correct; w evicted A's partition (a log line naming
#     it), ModelDir no longer has it, and the partitions w lists hold at
#     most PartitionCacheMax bytes; w's /metrics has
#     lagrange_partition_evictions_total >= 1 and
#     lagrange_partition_cache_bytes <= the maximum;
#  3. a model pushed to w by a user (a third, small one) is never evicted:
#     still listed at the end, its blob still in ModelDir;
#  4. job A again completes, correct: gs thought w had the partition, w
#     asked for it (gs's log: "w lacks partition 1 (...); shipping it"),
#     it crossed the link again (gs's tx_bytes grew by at least 0.9 x its
#     size), w imported it a second time and evicted B's;
#  5. the LRU order survives a restart: w restarted with room for two
#     partitions, job B (B imported) then job A (A only used, so it is the
#     most recently used by its blob's mtime); w restarted with room for
#     one: at start it evicts B, not A;
#  6. both daemons stop cleanly; no ERROR or sanitizer line in their logs.
#
# Waits poll with generous bounds; nothing asserts on time. Skips (77)
# without /usr/bin/python3's torch, numpy and onnx. Uses LG_SRCDIR,
# LAGRANGED and LAGRANGE like test_peers.sh; KEEP=1 keeps the temp dir.
set -u
src=$(cd "${LG_SRCDIR:-$(dirname "$0")/..}" && pwd)
. "$src/tests/lib.sh"

if ! [ -x "$PY" ] || ! "$PY" -c 'import torch, numpy, onnx' 2>/dev/null; then
    echo "test_partcache: SKIP: $PY cannot import torch, numpy and onnx"
    exit 77
fi
for b in "$LD" "$L"; do
    [ -x "$b" ] || { echo "test_partcache: $b not built" >&2; exit 1; }
done
command -v timeout >/dev/null 2>&1 || { echo "test_partcache: SKIP: no timeout(1)"; exit 77; }

lg_tmp partcache
LG_NODES="gs w"
LG_WAIT=600                      # 60 s for any one condition
JOB_LIMIT=60                     # seconds for any one submit --wait

base=$((10000 + ($$ % 1100) * 20))   # below the ephemeral ports (32768-)
P_gs=$base; P_w=$((base+1)); PM_w=$((base+2))

# ---- the models first: w's PartitionCacheMax follows their size -------------

cat >"$T/gen.py" <<'EOF'
import sys
import numpy as np, onnx, torch
T = sys.argv[1]
def mlp(seed, dims):
    torch.manual_seed(seed)
    layers = []
    for i in range(len(dims) - 1):
        layers.append(torch.nn.Linear(dims[i], dims[i + 1]))
        if i + 2 < len(dims):
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers).eval()
g = torch.Generator().manual_seed(11)
for name, seed, dims in (("a", 101, (64, 256, 256, 10)),
                         ("b", 202, (64, 256, 256, 10)),
                         ("c", 303, (16, 8, 4))):
    m = mlp(seed, dims)
    x = torch.randn(1, dims[0], generator=g)
    with torch.no_grad():
        torch.onnx.export(m, (x,), "%s/%s.onnx" % (T, name),
                          input_names=["x"], output_names=["y"],
                          opset_version=13, do_constant_folding=True,
                          training=torch.onnx.TrainingMode.EVAL)
        np.save("%s/x%s.npy" % (T, name), x.numpy())
        np.save("%s/e%s.npy" % (T, name), m(x).numpy())
    onnx.checker.check_model(onnx.load("%s/%s.onnx" % (T, name)))
EOF
if ! "$PY" "$T/gen.py" "$T" >"$T/gen.log" 2>&1; then
    bad "making the models with torch: $(tail -3 "$T/gen.log")"
    summary test_partcache
    exit 1
fi
SA=$(wc -c <"$T/a.onnx" | tr -d ' ')
SB=$(wc -c <"$T/b.onnx" | tr -d ' ')
MAX=$((SA * 3 / 2))
note "models: A $SA bytes, B $SB bytes; w's PartitionCacheMax=$MAX"

cat >"$T/net.topo" <<EOF
Epoch=$(date -u +%Y-%m-%dT%H:%M:%SZ)
Horizon=1d
Node=gs Kind=ground
Node=w Kind=ground
Link=gs<>w Delay=5ms Rate=100M
EOF
conf gs $P_gs "Peer=w Address=127.0.0.1:$P_w" "LogLevel=debug"
conf w $P_w "Peer=gs Address=127.0.0.1:$P_gs" "LogLevel=debug" \
    "PartitionCacheMax=$MAX"
sed -i "s/^MetricsListen=none\$/MetricsListen=127.0.0.1:$PM_w/" "$T/w/lagranged.conf"
start gs
start w

if ! wait_for "gs-w link up" link_up gs w || ! wait_for "w-gs link up" link_up w gs; then
    for n in $LG_NODES; do
        echo "# $n's log:"; tail -n 5 "$T/$n/log" | sed 's/^/#   /'
    done
    summary test_partcache
    exit 1
fi
ok

export LAGRANGE_SERVER="$(api gs)"
unset LAGRANGE_TOKEN_FILE LAGRANGE_CACERT
for m in a b; do
    "$L" model push "$T/$m.onnx" --name "mlp-$m" >/dev/null 2>"$T/push.err" && ok ||
        bad "model push $m.onnx to gs: $(cat "$T/push.err")"
done
# 3. a user's model on w
if "$L" model push "$T/c.onnx" --name user-c --server "$(api w)" \
        >"$T/pushc.out" 2>"$T/push.err"; then ok
else bad "model push c.onnx to w: $(cat "$T/push.err")"; fi
CID=$(cat "$T/pushc.out" 2>/dev/null)

# errof FILE: the start of an error message, on one line.
errof() { head -n 2 "$1" | tr '\n' ' ' | cut -c1-300; }
# close GOT NAME: GOT is allclose to torch's output for model NAME.
close() {
    if "$PY" - "$1" "$T/e$2.npy" >"$T/close.out" 2>&1 <<'EOF'
import sys
import numpy as np
got, want = np.load(sys.argv[1]), np.load(sys.argv[2])
assert got.dtype == want.dtype and got.shape == want.shape, (got.dtype, got.shape, want.dtype, want.shape)
d = float(np.abs(got.astype(np.float64) - want).max())
print("max |diff| against torch %.3g" % d)
assert np.allclose(got, want, rtol=1e-5, atol=1e-6), "max |diff| %.3g" % d
EOF
    then ok
    else bad "${1#"$T"/} against torch ($2): $(tail -2 "$T/close.out" | tr '\n' ' ')"; fi
}
# job NAME N: submit model NAME on its input, --place w --wait, at gs
# (run N); COMPLETED and correct, or a failure. The id in $J.
job() {
    m=$1; k=$2
    rm -rf "$T/out$k"
    timeout "$JOB_LIMIT" "$L" submit "mlp-$m" -i "$T/x$m.npy" --place w --wait \
        -O "$T/out$k" --json >"$T/sub$k.json" 2>"$T/sub$k.err"
    rc=$?
    J=$("$PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))["job"]["id"])' \
        "$T/sub$k.json" 2>/dev/null)
    if [ $rc -ne 0 ]; then
        [ $rc -eq 124 ] && echo "(killed by timeout after $JOB_LIMIT s)" >>"$T/sub$k.err"
        bad "job $k (model $m): submit exited $rc: $(errof "$T/sub$k.err")"
        return 1
    fi
    st=$("$PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))["job"]["state"])' \
        "$T/sub$k.json" 2>/dev/null)
    if [ "$st" != COMPLETED ]; then
        bad "job $k (model $m): '$st', not COMPLETED"
        return 1
    fi
    ok
    close "$T/out$k/y.npy" "$m"
}
# part JOB: "SHA12 SIZE" of the one partition gs logged for JOB.
part() {
    sed -n "s/.*job $1: partition 1\/1 on w: \([0-9a-f]\{12\}\) (\([0-9]*\) bytes).*/\1 \2/p" \
        "$T/gs/log" | head -n 1
}
# in_modeldir SHA12: w's ModelDir has a blob whose id starts with SHA12.
in_modeldir() { ls "$T/w/models" | grep -q "^$1[0-9a-f]*\$"; }
# wmodels: w's models as JSON.
wmodels() { "$L" model ls --json --server "$(api w)" 2>/dev/null; }
# part_bytes: the bytes of the partitions (part-*) w lists.
part_bytes() {
    wmodels | "$PY" -c '
import json, sys
print(sum(int(m["size"]) for m in json.load(sys.stdin) if m["name"].startswith("part-")))'
}
# metric NAME: its value in w's /metrics.
metric() {
    "$PY" - "$PM_w" "$1" <<'EOF'
import sys, urllib.request
body = urllib.request.urlopen("http://127.0.0.1:%s/metrics" % sys.argv[1], timeout=10).read().decode()
for line in body.splitlines():
    if line.startswith(sys.argv[2] + " "):
        print(line.split()[1])
        sys.exit(0)
sys.exit(1)
EOF
}
# evicted SHA12 [N]: w's log has at least N (1) eviction lines for SHA12.
evicted() {
    [ "$(grep -c "partition $1 evicted from ModelDir" "$T/w/log")" -ge "${2:-1}" ]
}

# ---- 1. job A --------------------------------------------------------------

job a 1 && JA=$J
set -- $(part "$J")
PA=${1:-}; LA=${2:-0}
if [ -n "$PA" ]; then
    ok
    note "A's partition $PA: $LA bytes"
    grep -q "partition $PA stored in ModelDir" "$T/w/log" && ok ||
        bad "job A: w's log does not say partition $PA was stored"
    in_modeldir "$PA" && ok || bad "job A: w's ModelDir has no $PA*"
else
    bad "job A: gs's log has no 'partition 1/1 on w' line for the job"
fi

# ---- 2. job B: A's partition evicted ------------------------------------------

job b 2
set -- $(part "$J")
PB=${1:-}; LB=${2:-0}
note "B's partition $PB: $LB bytes"
if [ "$LA" -gt 0 ] && [ "$LB" -gt 0 ]; then
    [ "$LA" -le $MAX ] && [ "$LB" -le $MAX ] && [ $((LA + LB)) -gt $MAX ] && ok ||
        bad "the setup: partitions of $LA and $LB bytes, PartitionCacheMax $MAX (one must fit, two not)"
fi
if [ -n "$PA" ]; then
    if wait_for "w evicts A's partition $PA" evicted "$PA"; then
        ok
        note "w: $(grep "partition $PA evicted" "$T/w/log" | head -n 1 | sed "s/.*\\(partition $PA\\)/\\1/")"
    fi
    wait_for "A's partition $PA gone from w's ModelDir" sh -c "! ls '$T/w/models' | grep -q '^$PA'" && ok
fi
[ -n "$PB" ] && { in_modeldir "$PB" && ok || bad "job B: w's ModelDir has no $PB*"; }
pb=$(part_bytes)
[ -n "$pb" ] && [ "$pb" -le $MAX ] && ok ||
    bad "after job B, w lists '$pb' bytes of partitions, above PartitionCacheMax $MAX"
v=$(metric lagrange_partition_evictions_total)
[ -n "$v" ] && [ "$v" -ge 1 ] && ok ||
    bad "w's /metrics: lagrange_partition_evictions_total '$v', want >= 1"
v=$(metric lagrange_partition_cache_bytes)
[ -n "$v" ] && [ "$v" -le $MAX ] && [ "$v" -gt 0 ] && ok ||
    bad "w's /metrics: lagrange_partition_cache_bytes '$v', want 1..$MAX"

# ---- 4. job A again: w asks for it, it crosses again ----------------------------

tx0=$(tx_bytes gs)
job a 3 && JA2=$J
tx1=$(tx_bytes gs)
if [ -n "$PA" ]; then
    grep -q "job $JA2: w lacks partition 1 ($PA); shipping it" "$T/gs/log" && ok ||
        bad "job A again: gs's log has no 'w lacks partition 1 ($PA); shipping it'"
    [ "$(grep -c "partition $PA stored in ModelDir" "$T/w/log")" -ge 2 ] && ok ||
        bad "job A again: w did not import $PA a second time"
    if [ -n "$tx0" ] && [ -n "$tx1" ]; then
        d=$((tx1 - tx0))
        note "job A again: gs sent $d bytes (partition $LA)"
        [ $((d * 10)) -ge $((LA * 9)) ] && ok ||
            bad "job A again: gs sent $d bytes, under 0.9 x the partition's $LA"
    else
        bad "gs's tx_bytes not readable"
    fi
    [ -n "$PB" ] && { wait_for "w evicts B's partition $PB" evicted "$PB" && ok; }
fi
pb=$(part_bytes)
[ -n "$pb" ] && [ "$pb" -le $MAX ] && ok ||
    bad "after job A again, w lists '$pb' bytes of partitions, above $MAX"

# ---- 5. the LRU order survives a restart ----------------------------------------

setmax() { sed -i "s/^PartitionCacheMax=.*/PartitionCacheMax=$1/" "$T/w/lagranged.conf"; }
restart_w() {
    stop w || bad "w did not stop cleanly (exit $?): $(tail -n 2 "$T/w/log" | tr '\n' ' ')"
    start w
    wait_for "w back up with gs" link_up gs w && wait_for "w sees gs" link_up w gs
}
setmax $((MAX * 3))
if restart_w; then
    job b 4                       # B imported: A then B in the cache
    job a 5                       # A used: now the most recently used
    if in_modeldir "$PA" && in_modeldir "$PB"; then ok
    else bad "with room for three, w's ModelDir does not hold both $PA and $PB"; fi
    nb=$(grep -c "partition $PB evicted" "$T/w/log")
    na=$(grep -c "partition $PA evicted" "$T/w/log")
    setmax $MAX
    if restart_w; then
        if wait_for "w evicts B's partition at start" evicted "$PB" $((nb + 1)); then ok
        fi
        [ "$(grep -c "partition $PA evicted" "$T/w/log")" = "$na" ] && ok ||
            bad "after the restart w evicted A's partition (the most recently used)"
        in_modeldir "$PA" && ok || bad "after the restart w's ModelDir has no $PA*"
        job a 6                   # and it still runs (no shipping needed)
    fi
fi

# ---- 3. the user's model is still there -------------------------------------------

if [ -n "$CID" ]; then
    wmodels | "$PY" -c '
import json, sys
sys.exit(0 if any(m["id"] == sys.argv[1] and m["name"] == "user-c" for m in json.load(sys.stdin)) else 1)' "$CID" &&
        ok || bad "w no longer lists the user's model user-c ($CID)"
    [ -f "$T/w/models/$CID" ] && ok || bad "w's ModelDir lost the user's model $CID"
    grep -q "partition $(echo "$CID" | cut -c1-12) evicted" "$T/w/log" &&
        bad "w's log says it evicted the user's model"
fi

# ---- 6. clean stops, clean logs ----------------------------------------------------

for n in $LG_NODES; do
    stop $n || bad "$n did not stop cleanly (exit $?): $(tail -n 2 "$T/$n/log" | tr '\n' ' ')"
done
for n in $LG_NODES; do
    if grep -q "ERROR\|AddressSanitizer\|runtime error" "$T/$n/log"; then
        bad "$n's log has errors: $(grep "ERROR\|runtime error" "$T/$n/log" | head -3)"
    fi
done

summary test_partcache
