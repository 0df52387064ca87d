#!/bin/sh
# test_pass.sh - a pass ends in the middle of a transfer, and the job
# completes after the next window, when the plan said: two real lagranged
# on loopback (Tls=no, tests/lib.sh), gs (the controller) and sat, linked
# only in passes of 4 s every 12 s at 8 Mbit/s. The job runs a model
# without weights (y = mean over rows of 2 relu(x), made with torch) on a
# 4 MiB input placed on sat: the input takes 4.19 s of link time, so it
# never fits one pass; the 4 KiB output comes down in the next one.
#
# The job is submitted at a chosen phase of the schedule, 2 s after a pass
# closes, so the run is the same every time: everything waits 6 s for the
# next pass; 15 of the input's 16 chunks of 256 KiB go up in it and the
# last one waits 8 s more for the pass after; the output comes down at
# about 0.5 s into that pass, 3.5 s before it closes. That margin is what
# keeps a slow machine (CI runs tests in parallel) from sliding the end
# into a third pass; with a random phase it can be well under 1 s.
#
#  1. the job completes, its output equals torch's, and its prediction
#     (predicted_s) spans the closed gap between two passes (> 12 s);
#  2. the measured time, from just before submit to just after it
#     returned (submit --wait: at least the job's own time), is within
#     the plan's prediction: |measured - predicted| <= 15% of predicted
#     + 1.5 s (the tolerance: chunks of 256 KiB are sent whole within a
#     window, where the planner splits bytes exactly, and the CLI's and
#     fsyncs' time is not in the plan);
#  3. the pass really ended mid-transfer: gs's spool still held bundles
#     for sat while the link was closed after the first pass of the job
#     (polled every 0.5 s; each poll is placed in the schedule by time).
# The only timing checks are 2 (the issue's: measured against the plan,
# with the stated tolerance) and the lower bound in 1 (physics of the
# schedule). On failure the test prints the plan, the job and both logs.
# Uses LG_SRCDIR, LAGRANGED, LAGRANGE.
set -u
src=$(cd "${LG_SRCDIR:-$(dirname "$0")/..}" && pwd)
. "$src/tests/lib.sh"
if ! [ -x "$PY" ] || ! "$PY" -c 'import torch, numpy, onnx' 2>/dev/null; then
    echo "test_pass: SKIP: $PY cannot import torch, numpy and onnx"; exit 77
fi
lg_tmp pass
base=$((10000 + ($$ % 1100) * 20))   # below the ephemeral ports (32768-)
P_gs=$base; P_sat=$((base + 1))
LG_NODES="gs sat"
# The schedule: passes [E+2+12k, E+6+12k) with E the epoch, in seconds.
E=$(date -u +%s)
cat >"$T/net.topo" <<EOT
Epoch=$(date -u -d "@$E" +%Y-%m-%dT%H:%M:%SZ)
Horizon=2h
Node=gs Kind=ground
Node=sat Kind=leo
Link=gs<>sat Delay=10ms Rate=8M Window=every:12s/4s@2s
EOT
conf gs $P_gs "Peer=sat Address=127.0.0.1:$P_sat" "ChunkSize=256K"
conf sat $P_sat "Peer=gs Address=127.0.0.1:$P_gs" "ChunkSize=256K"
cat >"$T/gen.py" <<'PYEOF'
import sys
import numpy as np, onnx, torch
T = sys.argv[1]
class M(torch.nn.Module):
    def forward(self, x):
        return (torch.relu(x) * 2).reshape(1024, 1024).mean(1)
m = M().eval()
x = torch.randn(1, 1048576, generator=torch.Generator().manual_seed(3))
with torch.no_grad():
    torch.onnx.export(m, (x,), T + "/big.onnx", input_names=["x"],
                      output_names=["y"], opset_version=13,
                      training=torch.onnx.TrainingMode.EVAL)
    np.save(T + "/x.npy", x.numpy())
    np.save(T + "/e.npy", m(x).numpy())
onnx.checker.check_model(onnx.load(T + "/big.onnx"))
PYEOF
"$PY" "$T/gen.py" "$T" >"$T/gen.log" 2>&1 ||
    { bad "torch model: $(tail -3 "$T/gen.log")"; summary test_pass; exit 1; }
start gs; start sat
# The session is up whatever the windows (they gate bundles, not TCP).
wait_for "gs and sat connected" link_up gs sat || { summary test_pass; exit 1; }
export LAGRANGE_SERVER=$(api gs)
"$L" model push "$T/big.onnx" --name big >/dev/null 2>"$T/push.err" && ok ||
    bad "model push: $(cat "$T/push.err")"

# 3, while the job runs: gs's spool holds bundles for sat ("TIME COUNT").
( while :; do
      n=$("$L" spool --json --socket "$(ctl gs)" 2>/dev/null |
          "$PY" -c 'import json, sys; print(json.load(sys.stdin)["bundles"])' 2>/dev/null)
      [ -n "$n" ] && [ "$n" -gt 0 ] && echo "$(date +%s.%N) $n" >>"$T/held"
      sleep 0.5
  done ) &
poller=$!
# Submit 2 s after a pass closes (phase 8 of 12), at least 1 s from now.
"$PY" -c "
import time
e, now = $E, time.time()
k = int((now + 1 - e - 8) // 12) + 1
time.sleep(max(0, e + 8 + 12 * k - now))" || bad "cannot wait for the phase"
t0=$(date +%s.%N)
"$L" submit big -i "$T/x.npy" --place sat --wait -O "$T/out" --json >"$T/sub.json" 2>"$T/sub.err"
rc=$?
t1=$(date +%s.%N)
kill $poller 2>/dev/null; wait $poller 2>/dev/null
[ $rc -eq 0 ] && ok || { bad "submit --wait exited $rc: $(tail -3 "$T/sub.err")"; summary test_pass; exit 1; }
J=$("$PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))["job"]["id"])' "$T/sub.json")
"$PY" - "$T/out/y.npy" "$T/e.npy" <<'PYEOF' && ok || bad "job $J: output differs from torch's"
import sys, numpy as np
a, b = np.load(sys.argv[1]), np.load(sys.argv[2])
sys.exit(0 if a.shape == b.shape and np.allclose(a, b, rtol=1e-6, atol=1e-6) else 1)
PYEOF
P=$("$L" show "$J" --json | "$PY" -c 'import json, sys; print(json.load(sys.stdin)["predicted_s"])')
M=$("$PY" -c "print('%.3f' % ($t1 - $t0))")
note "job $J: predicted $P s, measured $M s (submit to answer)"
"$PY" -c "import sys; sys.exit(0 if float('$P') > 12 else 1)" && ok ||
    bad "predicted $P s: the plan does not wait for a second pass each way"
"$PY" -c "
import sys
p, m = float('$P'), float('$M')
sys.exit(0 if abs(m - p) <= 0.15 * p + 1.5 else 1)" && ok ||
    bad "measured $M s is not within 15% + 1.5 s of the predicted $P s"
# A poll with bundles held, in a closed gap after a pass the job used:
# from 0.3 s after a pass closes to 0.3 s before the next opens.
"$PY" - "$T/held" "$E" "$t0" <<'PYEOF' && ok ||
import sys
e, t0 = float(sys.argv[2]), float(sys.argv[3])
first_open = e + 2 + 12 * ((t0 - e - 2) // 12 + 1)   # first pass after t0
for line in open(sys.argv[1]):
    t, n = line.split()
    ph = (float(t) - e - 2) % 12          # 0..4 open, 4..12 closed
    if float(t) > first_open + 4 and 4.3 < ph < 11.7 and int(n) > 0:
        sys.exit(0)
sys.exit(1)
PYEOF
    bad "gs's spool did not hold bundles for sat in the gap after the first pass: $(cat "$T/held" 2>/dev/null | tr '\n' ' ')"
if [ "$fail" -ne 0 ]; then
    note "the job:"; "$L" show "$J" 2>&1 | sed 's/^/#   /'
    for n in $LG_NODES; do note "$n's log:"; sed 's/^/#   /' "$T/$n/log"; done
fi
for n in $LG_NODES; do
    stop $n || bad "$n did not stop cleanly (exit $?)"
done
grep -l "ERROR\|AddressSanitizer\|runtime error" "$T"/*/log >"$T/errs" 2>/dev/null &&
    bad "errors in the logs: $(cat "$T/errs")" || ok
summary test_pass
