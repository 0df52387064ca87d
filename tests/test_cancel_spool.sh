#!/bin/sh
# test_cancel_spool.sh - cancelling a distributed job frees its spool
# entries on every node it touched, the relay in between included, and
# nothing else. Three real lagranged on loopback (Tls=no):
#
#   gs <-5 ms, 100M-> relay <-5 ms, 100M-> sat
#
# gs is the controller; sat is reachable only through relay. The model is
# an MLP (4096 -> 64 -> 10, about 1 MB of weights) made with torch in $T;
# torch's output is the oracle for the job that completes.
#
#  1. the three daemons and both links come up; the model is pushed to gs;
#  2. the link relay <-> sat is taken down at both ends (`lagrange link
#     down`); job A is submitted placed on sat: its task, partition and
#     input travel to relay and wait there (`lagrange spool --job A` at
#     relay: bundles > 0, and none left at gs); job B (same model, another
#     input, also on sat) likewise;
#  3. `lagrange cancel A`: A is CANCELLED; relay's and gs's spools hold no
#     bundle of A (polled); relay's log has "job A: dropped N bundles (B
#     bytes) from the spool: cancelled" with N > 0, gs's log has that line
#     too, relay's `spool` counter job_dropped is > 0; relay still holds
#     B's bundles (they were not dropped);
#  4. the link comes back: B completes, its output allclose to torch's;
#     sat never ran, received or stored anything of A (its log has no task
#     of A and no tensor t/A/..., its spool no bundle of A);
#  5. the daemons exit 0 on SIGTERM; no log has "AddressSanitizer" or
#     "runtime error".
#
# No timing assertions: waits poll with generous bounds. Skips (77)
# without /usr/bin/python3's torch, numpy and onnx. Uses LG_SRCDIR,
# LAGRANGED and LAGRANGE like test_peers.sh; KEEP=1 keeps the temp dir.
set -u
src=$(cd "${LG_SRCDIR:-$(dirname "$0")/..}" && pwd)
. "$src/tests/lib.sh"

if ! [ -x "$PY" ] || ! "$PY" -c 'import torch, numpy, onnx' 2>/dev/null; then
    echo "test_cancel_spool: SKIP: $PY cannot import torch, numpy and onnx"
    exit 77
fi
for b in "$LD" "$L"; do
    [ -x "$b" ] || { echo "test_cancel_spool: $b not built" >&2; exit 1; }
done
command -v timeout >/dev/null 2>&1 || { echo "test_cancel_spool: SKIP: no timeout(1)"; exit 77; }

lg_tmp cancel
LG_NODES="gs relay sat"
LG_WAIT=600                      # 60 s for any one condition

base=$((10000 + ($$ % 1100) * 20))   # below the ephemeral ports (32768-)
P_gs=$base; P_relay=$((base+1)); P_sat=$((base+2))
cat >"$T/net.topo" <<EOF
Epoch=$(date -u +%Y-%m-%dT%H:%M:%SZ)
Horizon=1d
Node=gs Kind=ground
Node=relay Kind=geo
Node=sat Kind=leo
Link=gs<>relay Delay=5ms Rate=100M
Link=relay<>sat Delay=5ms Rate=100M
EOF
conf gs $P_gs "Peer=relay Address=127.0.0.1:$P_relay"
conf relay $P_relay "Peer=gs Address=127.0.0.1:$P_gs" "Peer=sat Address=127.0.0.1:$P_sat"
conf sat $P_sat "Peer=relay Address=127.0.0.1:$P_relay"
for n in $LG_NODES; do
    echo "LogLevel=debug" >>"$T/$n/lagranged.conf"
done
for n in $LG_NODES; do start $n; done

cat >"$T/gen.py" <<'EOF'
import sys
import numpy as np, onnx, torch
T = sys.argv[1]
torch.manual_seed(20261201)
m = torch.nn.Sequential(torch.nn.Linear(4096, 64), torch.nn.ReLU(),
                        torch.nn.Linear(64, 10)).eval()
g = torch.Generator().manual_seed(3)
xs = [torch.randn(1, 4096, generator=g) for _ in range(2)]
with torch.no_grad():
    torch.onnx.export(m, (xs[0],), T + "/mlp.onnx", input_names=["x"],
                      output_names=["y"], opset_version=13,
                      do_constant_folding=True,
                      training=torch.onnx.TrainingMode.EVAL)
    for k, x in enumerate(xs, 1):
        np.save("%s/x%d.npy" % (T, k), x.numpy())
        np.save("%s/e%d.npy" % (T, k), m(x).numpy())
onnx.checker.check_model(onnx.load(T + "/mlp.onnx"))
EOF
"$PY" "$T/gen.py" "$T" >"$T/gen.log" 2>&1 ||
    { bad "making the model with torch: $(tail -3 "$T/gen.log")"; summary test_cancel_spool; exit 1; }

# ---- 1. daemons, links, the model ------------------------------------------

up=yes
wait_for "gs-relay link up" link_up gs relay && ok || up=no
wait_for "relay-sat link up" link_up relay sat && ok || up=no
if [ $up = no ]; then
    for n in $LG_NODES; do
        echo "# $n's log:"; tail -n 5 "$T/$n/log" | sed 's/^/#   /'
    done
    echo "test_cancel_spool: the daemons and their links are not up"
    summary test_cancel_spool
    exit 1
fi
export LAGRANGE_SERVER="$(api gs)"
unset LAGRANGE_TOKEN_FILE LAGRANGE_CACERT
"$L" model push "$T/mlp.onnx" --name mlp >"$T/push.out" 2>"$T/push.err" && ok ||
    bad "model push to gs: $(cat "$T/push.err")"

# job_bundles NODE JOB: how many bundles of JOB NODE's spool holds.
job_bundles() {
    "$L" spool --job "$2" --json --socket "$(ctl "$1")" 2>/dev/null |
        "$PY" -c 'import json, sys; print(json.load(sys.stdin)["job_bundles"])'
}
has_bundles() { n=$(job_bundles "$1" "$2") && [ "${n:-0}" -gt 0 ]; }
no_bundles() { n=$(job_bundles "$1" "$2") && [ "$n" -eq 0 ]; }
state() {
    "$L" show "$1" --json 2>/dev/null |
        "$PY" -c 'import json, sys; print(json.load(sys.stdin)["state"])'
}
is_state() { [ "$(state "$1")" = "$2" ]; }
submit() {
    timeout 60 "$L" submit mlp -i "$T/x$1.npy" --place sat --json 2>"$T/s$1.err" |
        "$PY" -c 'import json, sys; print(json.load(sys.stdin)["id"])' 2>/dev/null
}

# ---- 2. relay <-> sat down, jobs A and B wait at relay -------------------------

for e in "relay sat" "sat relay"; do
    set -- $e
    "$L" link down $2 --socket "$(ctl $1)" >"$T/link.out" 2>&1 ||
        bad "lagrange link down $2 at $1: $(head -1 "$T/link.out")"
done
A=$(submit 1)
B=""
if [ -z "$A" ]; then
    bad "submit of job A: $(head -2 "$T/s1.err" | tr '\n' ' ')"
else
    note "job A = $A"
    wait_for "job A's bundles held at relay" has_bundles relay "$A" && ok
    wait_for "no bundle of job A left at gs" no_bundles gs "$A" && ok
    note "relay holds $(job_bundles relay "$A") bundles of A"
    B=$(submit 2)
    if [ -z "$B" ]; then
        bad "submit of job B: $(head -2 "$T/s2.err" | tr '\n' ' ')"
    else
        note "job B = $B"
        wait_for "job B's bundles held at relay" has_bundles relay "$B" && ok
    fi
fi

# ---- 3. cancel A ------------------------------------------------------------------

if [ -n "$A" ]; then
    nb_before=$(job_bundles relay "$B")
    "$L" cancel "$A" >"$T/cancel.out" 2>&1 && ok ||
        bad "lagrange cancel $A: $(head -2 "$T/cancel.out" | tr '\n' ' ')"
    wait_for "job A CANCELLED" is_state "$A" CANCELLED && ok
    wait_for "relay's spool holds no bundle of A" no_bundles relay "$A" && ok
    wait_for "gs's spool holds no bundle of A" no_bundles gs "$A" && ok
    line_re="job $A: dropped [0-9]* bundles ([0-9]* bytes) from the spool: cancelled"
    wait_for "relay logs the drop" grep -q "$line_re" "$T/relay/log" && ok
    n=$(grep -o "job $A: dropped [0-9]* bundles" "$T/relay/log" | head -1 | awk '{print $4}')
    if [ "${n:-0}" -gt 0 ]; then ok; note "relay: $(grep "$line_re" "$T/relay/log" | head -1 | sed 's/.*job /job /')"
    else bad "relay's log says it dropped '${n:-?}' bundles of A, not more than 0"; fi
    wait_for "gs logs the drop" grep -q "$line_re" "$T/gs/log" && ok
    jd=$("$L" spool --json --socket "$(ctl relay)" 2>/dev/null |
        "$PY" -c 'import json, sys; print(json.load(sys.stdin)["job_dropped"])')
    [ "${jd:-0}" -gt 0 ] && ok || bad "relay's spool counter job_dropped is '${jd:-?}', not > 0"
    if [ -n "$B" ]; then
        nb=$(job_bundles relay "$B")
        if [ -n "$nb" ] && [ "$nb" -eq "$nb_before" ] && [ "$nb" -gt 0 ]; then ok
        else bad "relay held $nb_before bundles of B before the cancel, '$nb' after"; fi
        is_state "$B" CANCELLED && bad "job B is CANCELLED too" || ok
    fi
fi

# ---- 4. the link comes back: B completes, nothing of A reaches sat ----------------

for e in "relay sat" "sat relay"; do
    set -- $e
    "$L" link up $2 --socket "$(ctl $1)" >"$T/link.out" 2>&1 ||
        bad "lagrange link up $2 at $1: $(head -1 "$T/link.out")"
done
if [ -n "$B" ]; then
    if wait_for "job B COMPLETED after the link came back" is_state "$B" COMPLETED; then
        ok
        if "$L" result "$B" -O "$T/outB" >"$T/res.out" 2>&1 &&
            "$PY" - "$T/outB/y.npy" "$T/e2.npy" >"$T/close.out" 2>&1 <<'EOF'
import sys
import numpy as np
got, want = np.load(sys.argv[1]), np.load(sys.argv[2])
assert got.shape == want.shape, (got.shape, want.shape)
assert np.allclose(got, want, rtol=1e-5, atol=1e-6), float(np.abs(got - want).max())
EOF
        then ok
        else bad "job B's output: $(tail -2 "$T/res.out" "$T/close.out" | tr '\n' ' ')"; fi
    else
        "$L" show "$B" 2>&1 | sed 's/^/#   /'
    fi
fi
if [ -n "$A" ]; then
    # The job.end reaches sat once the link is up; give what was in the
    # spools time to flow before judging (B completing means relay's queue
    # to sat has been served).
    wait_for "sat hears that A ended" grep -q "job $A ended at" "$T/sat/log" && ok
    grep -q "task $A/" "$T/sat/log" &&
        bad "sat took a task of A: $(grep "task $A/" "$T/sat/log" | head -1)" || ok
    grep -q "t/$A/" "$T/sat/log" &&
        bad "a tensor of A reached sat: $(grep "t/$A/" "$T/sat/log" | head -1)" || ok
    n=$(job_bundles sat "$A")
    [ "$n" = 0 ] && ok || bad "sat's spool holds '$n' bundles of A"
    n=$(job_bundles relay "$A")
    [ "$n" = 0 ] && ok || bad "relay's spool holds '$n' bundles of A after the link came back"
fi

# ---- 5. clean exit, clean logs -------------------------------------------------

for n in $LG_NODES; do
    stop $n || bad "$n did not stop cleanly (exit $?): $(tail -n 2 "$T/$n/log" | tr '\n' ' ')"
done
for n in $LG_NODES; do
    if grep -q "AddressSanitizer\|runtime error" "$T/$n/log"; then
        bad "$n's log: $(grep "AddressSanitizer\|runtime error" "$T/$n/log" | head -3)"
    fi
done

summary test_cancel_spool
