#!/bin/sh
# test_replan.sh - re-planning a distributed job from persisted tensors
# when a node dies, with four real lagranged on loopback (Tls=no): the
# ring of tests/test_dist.sh, with a smaller model
#
#   gs <-120 ms-> geo <-1.28 s-> moon <-1.28 s-> gs2 <-5 ms-> gs
#
# gs is the controller (DeadAfter=4s there); every job is placed on
# geo,moon,gs2 (3 partitions), so partition 1's output needs 1.28 s of
# light time to reach moon: moon is killed -9 as soon as geo has run
# partition 1, before partition 2 can run. torch's outputs are the
# oracle (allclose), `lagrange run`'s the bit-exact one.
#
#  1. the daemons and links come up; job 1 completes and is correct (the
#     partitions are now on their nodes);
#  2. controller crash in the middle of a re-plan: job 2, moon killed for
#     good once geo ran partition 1; as soon as gs logs the re-plan from
#     persisted tensors, gs is killed -9 and restarted. The job completes,
#     correct; gs's log says it resumed; partition 1 ran once (on geo),
#     and every re-plan of job 2 (one, or two if the crash came before
#     the new plan was synced) kept partition 1; the graph input was
#     delivered once (epoch 1);
#  3. moon restarted and up again at gs;
#  4. a kept copy lost: job 3, geo's kept outputs (InboxDir/kept) removed
#     once it ran partition 1, then moon killed for good: gs re-plans
#     from persisted tensors, geo answers that partition 1's output is
#     not kept, and gs re-plans the job from its inputs (a log line
#     saying so); the job completes, correct, not on moon, attempts >= 3.
#
# Waits poll with generous bounds; nothing asserts on how long anything
# took. Skips (77) without /usr/bin/python3's torch, numpy and onnx.
# Uses LG_SRCDIR, LAGRANGED and LAGRANGE like test_peers.sh; KEEP=1 keeps
# the temp dir.
set -u
src=$(cd "${LG_SRCDIR:-$(dirname "$0")/..}" && pwd)
. "$src/tests/lib.sh"

if ! [ -x "$PY" ] || ! "$PY" -c 'import torch, numpy, onnx' 2>/dev/null; then
    echo "test_replan: SKIP: $PY cannot import torch, numpy and onnx"
    exit 77
fi
for b in "$LD" "$L"; do
    [ -x "$b" ] || { echo "test_replan: $b not built" >&2; exit 1; }
done
command -v timeout >/dev/null 2>&1 || { echo "test_replan: SKIP: no timeout(1)"; exit 77; }

lg_tmp replan
LG_NODES="gs geo moon gs2"
LG_WAIT=900                      # 90 s for any one condition
PLACE=geo,moon,gs2

base=$((10000 + ($$ % 1100) * 20))   # below the ephemeral ports (32768-)
P_gs=$base; P_geo=$((base+1)); P_moon=$((base+2)); P_gs2=$((base+3))
cat >"$T/net.topo" <<EOF
Epoch=$(date -u +%Y-%m-%dT%H:%M:%SZ)
Horizon=1d
Node=gs Kind=ground
Node=geo Kind=geo
Node=moon Kind=lunar
Node=gs2 Kind=ground
Link=gs<>geo Delay=120ms Rate=50M
Link=geo<>moon Delay=1.28s Rate=10M
Link=moon<>gs2 Delay=1.28s Rate=10M
Link=gs2<>gs Delay=5ms Rate=100M
EOF
conf gs $P_gs "Peer=geo Address=127.0.0.1:$P_geo" "Peer=gs2 Address=127.0.0.1:$P_gs2" \
    "SuspectAfter=2s" "DeadAfter=4s" "LogLevel=debug"
conf geo $P_geo "Peer=gs Address=127.0.0.1:$P_gs" "Peer=moon Address=127.0.0.1:$P_moon" \
    "LogLevel=debug"
conf moon $P_moon "Peer=geo Address=127.0.0.1:$P_geo" "Peer=gs2 Address=127.0.0.1:$P_gs2" \
    "LogLevel=debug"
conf gs2 $P_gs2 "Peer=moon Address=127.0.0.1:$P_moon" "Peer=gs Address=127.0.0.1:$P_gs" \
    "LogLevel=debug"

cat >"$T/gen.py" <<'EOF'
import sys
import numpy as np, onnx, torch
T = sys.argv[1]
torch.manual_seed(20261123)
m = torch.nn.Sequential(
    torch.nn.Linear(64, 256), torch.nn.ReLU(),
    torch.nn.Linear(256, 256), torch.nn.ReLU(),
    torch.nn.Linear(256, 256), torch.nn.ReLU(),
    torch.nn.Linear(256, 10)).eval()
g = torch.Generator().manual_seed(11)
xs = [torch.randn(1, 64, generator=g) for _ in range(3)]
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

for n in $LG_NODES; do start $n; done
"$PY" "$T/gen.py" "$T" >"$T/gen.log" 2>&1 ||
    { bad "making the model with torch: $(tail -3 "$T/gen.log")"; summary test_replan; exit 1; }
for k in 1 2 3; do
    "$L" run "$T/mlp.onnx" -i "$T/x$k.npy" -o "$T/r$k.npy" >/dev/null 2>"$T/run.err" ||
        bad "lagrange run of the model on x$k: $(head -3 "$T/run.err")"
done

# right FILE K: FILE is allclose to torch's output for input K and equal
# byte for byte to `lagrange run`'s.
right() {
    if "$PY" - "$1" "$T/e$2.npy" "$T/r$2.npy" >"$T/right.out" 2>&1 <<'EOF'
import sys
import numpy as np
got, want, run = (np.load(f) for f in sys.argv[1:4])
assert got.dtype == want.dtype and got.shape == want.shape, (got.dtype, got.shape)
assert np.allclose(got, want, rtol=1e-5, atol=1e-6), "max |diff| %.3g" % float(np.abs(got - want).max())
assert got.tobytes() == run.tobytes(), "not bit for bit lagrange run's"
EOF
    then ok; else bad "${1#"$T"/} (x$2): $(tail -1 "$T/right.out")"; fi
}

# ---- 1. up, and a first job -----------------------------------------------

up=yes
wait_for "gs-geo link up" link_up gs geo && ok || up=no
wait_for "geo-moon link up" link_up geo moon && ok || up=no
wait_for "moon-gs2 link up" link_up moon gs2 && ok || up=no
wait_for "gs2-gs link up" link_up gs2 gs && ok || up=no
# moon_is STATE: gs's node health says moon is STATE.
moon_is() {
    "$L" nodes --json --server "$(api gs)" 2>/dev/null | "$PY" -c '
import json, sys
d = {n["name"]: n for n in json.load(sys.stdin)}
sys.exit(0 if d.get("moon", {}).get("state") == sys.argv[1] else 1)' "$1"
}
wait_for "gs calls moon up" moon_is up && ok || up=no
if [ $up = no ]; then
    echo "test_replan: the daemons and their links are not up: nothing more to test"
    summary test_replan
    exit 1
fi

export LAGRANGE_SERVER="$(api gs)"
unset LAGRANGE_TOKEN_FILE LAGRANGE_CACERT
"$L" model push "$T/mlp.onnx" --name mlp >/dev/null 2>"$T/push.err" && ok ||
    bad "model push to gs: $(cat "$T/push.err")"

# submit K: submit the model on x K placed on $PLACE (no --wait); the id
# in $J ("" if refused).
submit() {
    J=$(timeout 60 "$L" submit mlp -i "$T/x$1.npy" --place "$PLACE" --json 2>"$T/sub.err" |
        "$PY" -c 'import json, sys; print(json.load(sys.stdin)["id"])' 2>/dev/null)
    [ -n "$J" ] && ok || bad "submit of x$1: $(head -2 "$T/sub.err" | tr '\n' ' ')"
}
# final JOB: the job is final at gs.
final() {
    "$L" show "$1" --json 2>/dev/null | "$PY" -c '
import json, sys
sys.exit(0 if json.load(sys.stdin)["state"] in ("COMPLETED", "FAILED", "CANCELLED", "EXPIRED") else 1)'
}
# done_ok JOB K WHAT: the job COMPLETED and its output is right.
done_ok() {
    wait_for "$3 final" final "$1" || return 1
    "$L" show "$1" --json >"$T/show.json" 2>&1
    st=$("$PY" -c 'import json, sys; j = json.load(open(sys.argv[1])); print(j["state"], j.get("error", ""))' \
        "$T/show.json" 2>/dev/null)
    if [ "$st" = "COMPLETED " ] || [ "${st%% *}" = COMPLETED ]; then ok
    else bad "$3: $st"; return 1; fi
    rm -rf "$T/res$2"
    if "$L" result "$1" -O "$T/res$2" >/dev/null 2>"$T/res.err"; then
        right "$T/res$2/y.npy" "$2"
    else
        bad "$3: lagrange result: $(head -1 "$T/res.err")"
    fi
}
# geo_done: how many partitions 1 geo has run to the end.
geo_done() { grep -c "done: partition 1/3, outputs stored" "$T/geo/log"; }
# kill_moon_after_part1 N0: wait until geo has finished more partitions 1
# than N0, then kill -9 moon (for good).
kill_moon_after_part1() {
    i=0
    while [ "$(geo_done)" -le "$1" ] && [ $i -lt 1500 ]; do sleep 0.02; i=$((i + 1)); done
    kill9 moon
    LG_NODES="gs geo gs2"
    [ "$(geo_done)" -gt "$1" ] && ok ||
        bad "geo never said it ran partition 1; moon killed -9 anyway"
}

submit 1
J1=$J
[ -n "$J1" ] && done_ok "$J1" 1 "job 1"

# ---- 2. the controller crashes in the middle of a re-plan -----------------

n0=$(geo_done)
submit 2
J2=$J
if [ -n "$J2" ]; then
    kill_moon_after_part1 "$n0"
    note "job 2 $J2: moon killed -9 for good once geo ran partition 1"
    i=0
    while ! grep -q "job $J2: re-planned from persisted tensors" "$T/gs/log" &&
        [ $i -lt 3000 ]; do sleep 0.02; i=$((i + 1)); done
    kill9 gs
    if grep -q "job $J2: re-planned from persisted tensors (epoch 1 -> 2): part 1 done kept" "$T/gs/log"
    then ok; note "gs killed -9 right after: $(grep "job $J2: re-planned" "$T/gs/log" | head -1 | cut -d' ' -f4-)"
    else bad "job 2: gs never re-planned from persisted tensors keeping part 1: $(grep "job $J2: re-planned" "$T/gs/log")"; fi
    lines0=$(wc -l <"$T/gs/log")
    start gs
    done_ok "$J2" 2 "job 2 (gs killed -9 mid re-plan)"
    tail -n +"$((lines0 + 1))" "$T/gs/log" >"$T/gs.after"
    grep -q "job $J2 resumes" "$T/gs.after" && ok ||
        bad "job 2: gs's log after the restart does not say it resumed"
    n=$(grep -c "job $J2: re-planned" "$T/gs/log")
    k=$(grep -c "job $J2: re-planned from persisted tensors (epoch [0-9]* -> [0-9]*): part 1 done kept" "$T/gs/log")
    [ "$n" -ge 1 ] && [ "$n" = "$k" ] && ok ||
        bad "job 2: $n re-plans, $k of them from persisted tensors keeping part 1: $(grep "job $J2: re-planned" "$T/gs/log" | tr '\n' '|')"
    if [ "$n" = 1 ]; then note "job 2: the restarted gs resumed the re-planned epoch"
    else note "job 2: gs died before the new plan was synced; re-planned again after the restart"; fi
    n=$(cat "$T/gs/log" "$T/geo/log" "$T/gs2/log" | grep -c "task $J2/[0-9]*/1: partition 1/3 running")
    m=$(grep -c "task $J2/[0-9]*/1: partition 1/3 running" "$T/geo/log")
    [ "$n" = 1 ] && [ "$m" = 1 ] && ok ||
        bad "job 2: partition 1 ran $n times ($m on geo), want once on geo"
    n=$(cat "$T/gs/log" "$T/geo/log" "$T/gs2/log" | grep -c " t/$J2/[0-9]*/x delivered")
    [ "$n" = 1 ] && ok || bad "job 2: the graph input was delivered $n times, want once"
fi

# ---- 3. moon back -----------------------------------------------------------

start moon
LG_NODES="gs geo moon gs2"
wait_for "moon back up at gs" moon_is up && ok

# ---- 4. a kept copy lost: re-planned from the inputs ------------------------

n0=$(geo_done)
submit 3
J3=$J
if [ -n "$J3" ]; then
    i=0
    while [ "$(geo_done)" -le "$n0" ] && [ $i -lt 1500 ]; do sleep 0.02; i=$((i + 1)); done
    rm -rf "$T/geo/inbox/kept"
    kill_moon_after_part1 "$n0"
    note "job 3 $J3: geo's kept outputs removed, moon killed -9 for good"
    done_ok "$J3" 3 "job 3 (a kept copy lost)"
    grep -q "job $J3: re-planned from persisted tensors (epoch 1 -> 2): part 1 done kept" "$T/gs/log" && ok ||
        bad "job 3: gs did not first re-plan from persisted tensors: $(grep "job $J3: re-planned" "$T/gs/log" | tr '\n' '|')"
    grep -q "task.resend $J3/2/1 from gs: output '[^']*' of epoch 1 is not kept here" "$T/geo/log" && ok ||
        bad "job 3: geo did not say partition 1's output is not kept: $(grep "task.resend $J3" "$T/geo/log" | head -2)"
    grep -q "job $J3: re-planned from its inputs (epoch 2 -> 3): partition 1/3's kept outputs at geo" "$T/gs/log" && ok ||
        bad "job 3: gs did not re-plan from the inputs: $(grep "job $J3: re-planned" "$T/gs/log" | tr '\n' '|')"
    "$PY" - "$T/show.json" >"$T/showpy.out" 2>&1 <<'EOF'
import json, sys
j = json.load(open(sys.argv[1]))
assert "moon" not in j.get("nodes", []), "on moon: %r" % j.get("nodes")
assert j.get("attempts", 0) >= 3, "attempts %r, want >= 3 (two re-plans)" % j.get("attempts")
EOF
    [ $? = 0 ] && ok || bad "job 3: $(tail -1 "$T/showpy.out")"
fi

# ---- the daemons stop cleanly, their logs are clean ------------------------

for n in $LG_NODES; do
    [ "$n" = moon ] && continue      # dead for good
    stop $n || bad "$n did not stop cleanly (exit $?): $(tail -n 2 "$T/$n/log" | tr '\n' ' ')"
done
for n in gs geo gs2; do
    if grep -q "AddressSanitizer\|LeakSanitizer\|runtime error" "$T/$n/log"; then
        bad "$n's log has errors: $(grep "AddressSanitizer\|runtime error" "$T/$n/log" | head -3)"
    fi
done

summary test_replan
