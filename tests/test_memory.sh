#!/bin/sh
# test_memory.sh - a job whose model needs more memory than any node has
# ends FAILED at once, with the planner's reason naming the node: one real
# lagranged, gs, in a topology where gs and sat (not running) each have
# 64 KiB of memory (Memory=64K), and tinynet needs more than that.
#  1. submit --wait exits 9 (the job failed) and says why;
#  2. the job is FAILED, its error says no plan fits the nodes' memory and
#     names gs and the MiB it would need;
#  3. the daemon stays up and a second topology node changes nothing;
#     it stops cleanly.
# Uses LG_SRCDIR, LAGRANGED, LAGRANGE.
set -u
src=$(cd "${LG_SRCDIR:-$(dirname "$0")/..}" && pwd)
. "$src/tests/lib.sh"
lg_tmp memory
base=$((10000 + ($$ % 1100) * 20))   # below the ephemeral ports (32768-)
LG_NODES="gs"
cat >"$T/net.topo" <<EOT
Horizon=1d
Node=gs Kind=ground Memory=64K
Node=sat Kind=leo Memory=64K
Link=gs<>sat Delay=5ms Rate=100M
EOT
conf gs $base "Peer=sat Address=127.0.0.1:$((base + 1))"
start gs
export LAGRANGE_SERVER=$(api gs)
up() { "$L" queue >/dev/null 2>&1; }
wait_for "gs serves" up || { summary test_memory; exit 1; }
"$L" model push "$src/examples/tinynet.onnx" --name tinynet >/dev/null 2>"$T/push.err" &&
    ok || bad "model push: $(cat "$T/push.err")"
"$L" submit tinynet -i "$src/examples/tinynet-input.npy" --wait -O "$T/out" \
    >"$T/sub.out" 2>"$T/sub.err"
rc=$?
[ $rc -eq 9 ] && ok || bad "submit --wait exited $rc, want 9: $(cat "$T/sub.err")"
grep -q "FAILED: no plan fits the nodes' memory: gs lacks memory" "$T/sub.err" && ok ||
    bad "submit's error: $(cat "$T/sub.err")"
J=$("$L" queue -o id --noheader | tail -1)
"$L" show "$J" --json >"$T/show.json" 2>&1 && "$PY" - "$T/show.json" <<'PYEOF' && ok || bad "show $J: $(cat "$T/show.json")"
import json, sys, re
j = json.load(open(sys.argv[1]))
assert j["state"] == "FAILED", j["state"]
assert re.search(r"gs lacks memory: needs [0-9.]+ MiB", j["error"]), j["error"]
PYEOF
up && ok || bad "gs no longer serves"
stop gs && ok || bad "gs did not stop cleanly"
grep -q "ERROR\|AddressSanitizer\|runtime error" "$T/gs/log" &&
    bad "errors in gs's log: $(grep 'ERROR\|runtime error' "$T/gs/log" | head -3)" || ok
summary test_memory
