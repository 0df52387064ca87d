#!/bin/sh
# test_power.sh - a node refuses work that would drain its battery below
# MinSoc, and the job waits (WaitingPower) until the sun comes back: two
# real lagranged on loopback (Tls=no, tests/lib.sh), gs (the controller)
# and sat, a solar node whose battery starts just above its minimum (Soc=MinSoc+0.001),
# in eclipse for the first 20 s of every 40 s of the topology's clock,
# drawing more than it can hold for a second in eclipse, and charged fast
# in sunlight.
#
#  1. a job placed on sat, submitted in sat's eclipse, shows
#     WaitingPower(sat: ...) as its reason and sat logs that the task waits
#     for power; sat has not run it while in eclipse;
#  2. when the eclipse ends the battery charges, sat runs the task, and the
#     job completes with tinynet's expected output (torch's,
#     examples/tinynet-expected.npy);
#  3. the order is right: sat logged "waits for power" before "the battery
#     allows it now", and that before the run.
# Waits poll with generous bounds; nothing asserts on how long anything
# took. Uses LG_SRCDIR, LAGRANGED, LAGRANGE.
set -u
src=$(cd "${LG_SRCDIR:-$(dirname "$0")/..}" && pwd)
. "$src/tests/lib.sh"
if ! [ -x "$PY" ] || ! "$PY" -c 'import numpy' 2>/dev/null; then
    echo "test_power: SKIP: $PY cannot import numpy"; exit 77
fi
lg_tmp power
base=$((10000 + ($$ % 1100) * 20))   # below the ephemeral ports (32768-)
P_gs=$base; P_sat=$((base + 1))
LG_NODES="gs sat"
# The epoch is now: sat's eclipse is [0, 20 s) of every 40 s, so the job,
# submitted within a few seconds of the start, meets it.
cat >"$T/net.topo" <<EOT
Epoch=$(date -u +%Y-%m-%dT%H:%M:%SZ)
Horizon=2h
Node=gs Kind=ground
Node=sat Kind=leo Power=solar ArrayW=4000 BatteryWh=1 MinSoc=0.5 Soc=0.501 IdleW=2000 BusyW=2500 Eclipse=every:40s/20s@0
Link=gs<>sat Delay=5ms Rate=100M
EOT
conf gs $P_gs "Peer=sat Address=127.0.0.1:$P_sat"
conf sat $P_sat "Peer=gs Address=127.0.0.1:$P_gs"
start gs; start sat
wait_for "gs and sat linked" link_up gs sat || { summary test_power; exit 1; }
export LAGRANGE_SERVER=$(api gs)
"$L" model push "$src/examples/tinynet.onnx" --name tinynet >/dev/null 2>"$T/push.err" &&
    ok || bad "model push: $(cat "$T/push.err")"
# Submit once sat's own record says its battery is below MinSoc (the
# first record, made at its start, still says 0.501).
soc_low() {
    "$L" nodes --json --server "$(api sat)" 2>/dev/null | "$PY" -c '
import json, sys
d = {n["name"]: n for n in json.load(sys.stdin)}
sys.exit(0 if d["sat"]["soc"] < 0.5 and d["sat"]["sun"] == "eclipse" else 1)'
}
wait_for "sat's battery below MinSoc in eclipse" soc_low && ok
J=$("$L" submit tinynet -i "$src/examples/tinynet-input.npy" --place sat 2>"$T/sub.err")
[ -n "$J" ] && ok || { bad "submit: $(cat "$T/sub.err")"; summary test_power; exit 1; }
note "job $J placed on sat"

reason_power() {
    "$L" show "$J" --json 2>/dev/null |
        "$PY" -c 'import json, sys; j = json.load(sys.stdin); sys.exit(0 if j["reason"].startswith("WaitingPower(sat: soc ") else 1)'
}
wait_for "job $J shows WaitingPower(sat: ...)" reason_power && ok
grep -q "task $J/1/1: waits for power" "$T/sat/log" && ok ||
    bad "sat did not log that the task waits for power"
grep -q "task $J/1/1: partition 1/1 running" "$T/sat/log" &&
    bad "sat ran the task while its battery was at the minimum" || ok

done_() { [ "$("$L" show "$J" --json 2>/dev/null | "$PY" -c 'import json, sys; print(json.load(sys.stdin)["state"])')" = COMPLETED ]; }
LG_WAIT=1200 wait_for "job $J completes once the sun is back" done_ && ok
"$L" result "$J" -O "$T/out" >/dev/null 2>"$T/res.err" || bad "result: $(cat "$T/res.err")"
"$PY" - "$T/out/logits.npy" "$src/examples/tinynet-expected.npy" <<'PYEOF' && ok || bad "job $J's output differs from torch's"
import sys, numpy as np
a, b = np.load(sys.argv[1]), np.load(sys.argv[2])
sys.exit(0 if a.shape == b.shape and np.allclose(a, b, rtol=1e-4, atol=1e-5) else 1)
PYEOF
# Order of sat's lines: waits, then allowed, then running.
awk -v j="$J" '
    index($0, "task " j "/1/1: waits for power") && !w { w = NR }
    index($0, "task " j "/1/1: the battery allows it now") && !a { a = NR }
    index($0, "task " j "/1/1: partition 1/1 running") && !r { r = NR }
    END { exit !(w && a && r && w < a && a <= r) }' "$T/sat/log" && ok ||
    bad "sat's log lines are not waits -> allowed -> running: $(grep "$J" "$T/sat/log" | cut -c1-160)"

for n in $LG_NODES; do
    stop $n || bad "$n did not stop cleanly (exit $?)"
done
grep -l "ERROR\|AddressSanitizer\|runtime error" "$T"/*/log >"$T/errs" 2>/dev/null &&
    bad "errors in the logs: $(cat "$T/errs")" || ok
summary test_power
