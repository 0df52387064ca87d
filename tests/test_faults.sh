#!/bin/sh
# test_faults.sh - the faults a distributed job must end on, with a reason
# naming the partition and the node, instead of hanging or completing
# wrong (lagranged(8), "Distributed jobs"): three real lagranged on
# loopback (Tls=no, tests/lib.sh), gs (the controller), a and b, each
# linked to the others; tinynet, whose expected output comes from torch
# (examples/tinynet-expected.npy).
#
#  1. a node returns a malformed tensor: `lagrange fault upset` at a (the
#     drill: the next tensor a sends leaves with its header zeroed), a job
#     placed on a is FAILED at gs naming "partition 1/1 on a" and the
#     output; a logged the upset; the next job on a completes with
#     torch's output (one upset, one tensor);
#  2. the same in the middle of a job: placed on a,b with an upset at a,
#     the tensor a sends b does not parse there, and the job is FAILED
#     naming partition 2/2 on b and the input;
#  3. an input that never arrives: every link of b taken down by the
#     operator (and gs told to call nobody dead for an hour, so it does
#     not re-plan), a job placed on b is FAILED once StallTimeout (3 s
#     at gs) has passed after its predicted completion, naming partition
#     1/1 on b and that its inputs never arrived; a, to which gs routes
#     b's bundles, holds them rather than bounce them back to gs (split
#     horizon: gs would drop them as duplicates); with b's links back
#     the job stays FAILED (no second final state) and a job on b
#     completes with torch's output.
# Waits poll with generous bounds; nothing asserts on how long anything
# took. Uses LG_SRCDIR, LAGRANGED, LAGRANGE.
set -u
src=$(cd "${LG_SRCDIR:-$(dirname "$0")/..}" && pwd)
. "$src/tests/lib.sh"
if ! [ -x "$PY" ] || ! "$PY" -c 'import numpy' 2>/dev/null; then
    echo "test_faults: SKIP: $PY cannot import numpy"; exit 77
fi
lg_tmp faults
base=$((10000 + ($$ % 1100) * 20 + 7))   # below the ephemeral ports (32768-)
P_gs=$base; P_a=$((base + 1)); P_b=$((base + 2))
LG_NODES="gs a b"
cat >"$T/net.topo" <<EOT
Epoch=$(date -u +%Y-%m-%dT%H:%M:%SZ)
Horizon=2h
Node=gs Kind=ground
Node=a Kind=ground
Node=b Kind=ground
Link=gs<>a Delay=5ms Rate=100M
Link=a<>b Delay=5ms Rate=100M
Link=gs<>b Delay=5ms Rate=100M
EOT
conf gs $P_gs "Peer=a Address=127.0.0.1:$P_a" "Peer=b Address=127.0.0.1:$P_b" \
    "StallTimeout=3s" "SuspectAfter=2s" "DeadAfter=1h"
conf a $P_a "Peer=gs Address=127.0.0.1:$P_gs" "Peer=b Address=127.0.0.1:$P_b"
conf b $P_b "Peer=gs Address=127.0.0.1:$P_gs" "Peer=a Address=127.0.0.1:$P_a"
start gs; start a; start b
for l in "gs a" "gs b" "a b"; do
    set -- $l
    wait_for "$1-$2 link up" link_up $1 $2 || { summary test_faults; exit 1; }
done
export LAGRANGE_SERVER=$(api gs)
IN=$src/examples/tinynet-input.npy
EXP=$src/examples/tinynet-expected.npy
"$L" model push "$src/examples/tinynet.onnx" --name tinynet >/dev/null 2>"$T/push.err" &&
    ok || bad "model push: $(cat "$T/push.err")"

# job_field J FIELD: one field of lagrange show --json.
job_field() {
    "$L" show "$1" --json 2>/dev/null |
        "$PY" -c 'import json, sys; print(json.load(sys.stdin).get(sys.argv[1], ""))' "$2"
}
is_final() {
    case $(job_field "$1" state) in COMPLETED|FAILED|CANCELLED|EXPIRED) return 0 ;; esac
    return 1
}
same_as_torch() {   # OUT.npy
    "$PY" - "$1" "$EXP" <<'PYEOF'
import sys, numpy as np
a, b = np.load(sys.argv[1]), np.load(sys.argv[2])
sys.exit(0 if a.shape == b.shape and np.allclose(a, b, rtol=1e-5, atol=1e-6) else 1)
PYEOF
}
# expect_failed J WORDS...: J ends FAILED and its error holds every word.
expect_failed() {
    _j=$1; shift
    wait_for "job $_j final" is_final "$_j" || return 1
    st=$(job_field "$_j" state); er=$(job_field "$_j" error)
    note "job $_j: $st: $er"
    [ "$st" = FAILED ] && ok || bad "job $_j is $st, not FAILED ($er)"
    for w in "$@"; do
        case $er in *"$w"*) ok ;; *) bad "job $_j's error does not say '$w': $er" ;; esac
    done
}

# ---- 1. a malformed output ------------------------------------------------------
"$L" fault upset 1 --socket "$(ctl a)" >"$T/f.out" 2>&1 && ok ||
    bad "lagrange fault upset at a: $(cat "$T/f.out")"
J1=$("$L" submit tinynet -i "$IN" --place a 2>"$T/sub.err")
[ -n "$J1" ] || { bad "submit: $(cat "$T/sub.err")"; summary test_faults; exit 1; }
expect_failed "$J1" "partition 1/1 on a" "output"
grep -q "task $J1/1: output .* mangled by an upset" "$T/a/log" && ok ||
    bad "a did not log the upset of job $J1's output"
"$L" submit tinynet -i "$IN" --place a --wait -O "$T/o1" >/dev/null 2>"$T/sub.err" &&
    same_as_torch "$T/o1/logits.npy" && ok ||
    bad "the job on a after the upset: $(tail -2 "$T/sub.err")"

# ---- 2. a malformed tensor between two partitions ---------------------------
"$L" fault upset 1 --socket "$(ctl a)" >"$T/f.out" 2>&1 && ok ||
    bad "lagrange fault upset at a: $(cat "$T/f.out")"
J2=$("$L" submit tinynet -i "$IN" --place a,b 2>"$T/sub.err")
[ -n "$J2" ] || { bad "submit: $(cat "$T/sub.err")"; summary test_faults; exit 1; }
expect_failed "$J2" "partition 2/2 on b" "input"

# ---- 3. an input that never arrives -----------------------------------------------
"$L" link down b --socket "$(ctl gs)" >/dev/null 2>&1 &&
"$L" link down b --socket "$(ctl a)" >/dev/null 2>&1 &&
"$L" link down gs --socket "$(ctl b)" >/dev/null 2>&1 &&
"$L" link down a --socket "$(ctl b)" >/dev/null 2>&1 && ok ||
    bad "cannot take b's links down"
J3=$("$L" submit tinynet -i "$IN" --place b 2>"$T/sub.err")
[ -n "$J3" ] || { bad "submit: $(cat "$T/sub.err")"; summary test_faults; exit 1; }
expect_failed "$J3" "stalled" "partition 1/1 on b" "inputs never arrived" "StallTimeout"
grep -q "re-planned" "$T/gs/log" && bad "gs re-planned a job (DeadAfter=1h)" || ok
# gs routes b's bundles through a (its own link to b is down); a, whose
# link to b is down too, must hold them, not bounce them back to gs,
# which would take them for duplicates and drop them (split horizon).
grep -q "route to b: bundles for it come from gs.*split horizon" "$T/a/log" && ok ||
    bad "a did not hold b's bundles from gs (split horizon)"
"$L" link up b --socket "$(ctl gs)" >/dev/null 2>&1 &&
"$L" link up b --socket "$(ctl a)" >/dev/null 2>&1 &&
"$L" link up gs --socket "$(ctl b)" >/dev/null 2>&1 &&
"$L" link up a --socket "$(ctl b)" >/dev/null 2>&1 && ok ||
    bad "cannot bring b's links up"
wait_for "gs-b link up again" link_up gs b
"$L" submit tinynet -i "$IN" --place b --wait -O "$T/o3" >/dev/null 2>"$T/sub.err" &&
    same_as_torch "$T/o3/logits.npy" && ok ||
    bad "the job on b after its links came back: $(tail -2 "$T/sub.err")"
# b hears job J3 ended (job.end waited in gs's spool for the links)
wait_for "b hears job $J3 ended" grep -q "job $J3 ended at gs" "$T/b/log" && ok
st=$(job_field "$J3" state)
[ "$st" = FAILED ] && ok || bad "job $J3 is $st after b's links came back"
n=$(grep -c "job $J3 .*failed\|job $J3 completed" "$T/gs/log")
[ "$n" -eq 1 ] && ok || bad "gs logged $n final states for job $J3"

for n in $LG_NODES; do
    stop $n || bad "$n did not stop cleanly (exit $?)"
done
grep -l "AddressSanitizer\|runtime error" "$T"/*/log >"$T/errs" 2>/dev/null &&
    bad "sanitizer errors in the logs: $(cat "$T/errs")" || ok
if [ "$fail" -ne 0 ]; then
    for n in $LG_NODES; do note "$n's log:"; tail -n 40 "$T/$n/log" | sed 's/^/#   /'; done
fi
summary test_faults
