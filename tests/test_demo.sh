#!/bin/sh
# test_demo.sh - `lagrange demo`: the default constellation as six real
# lagranged processes on loopback, toured and stopped.
#  - a plain run exits 0: every daemon serves, the pings cross the GEO
#    relay, the job's result equals the local run bit for bit, the job
#    split over leo-gpu-1 and leo-gpu-2 (GEO link down: it waits for a
#    pass, or finds one open) runs on both, COMPLETED, its result equal to
#    the local run's bit for bit, every daemon exits 0 at SIGTERM, and the
#    scratch directory is removed;
#  - --keep --dir: the daemons stay up and answer; the job's result is
#    checked against torch's output for the example model
#    (examples/tinynet-expected.npy); --stop stops them all, exit 0;
#  - bad command lines: exit 2 with a message; a missing lagranged: exit 1
#    naming it.
# No timing assertions: the pass wait is bounded by the demo itself.
# Uses LG_SRCDIR, LAGRANGED and LAGRANGE like the other daemon tests.
set -u
src=$(cd "${LG_SRCDIR:-$(dirname "$0")/..}" && pwd)
LD=${LAGRANGED:-./daemon/lagranged}
L=${LAGRANGE:-./cli/lagrange}
case $LD in /*) ;; *) LD=$(pwd)/$LD ;; esac
case $L in /*) ;; *) L=$(pwd)/$L ;; esac
PY=/usr/bin/python3
T=$(mktemp -d)
cleanup() {
    for f in "$T"/keep/*/pid; do
        [ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null
    done
    rm -rf "$T"
}
trap cleanup EXIT
pass=0
fail=0
ok() { pass=$((pass+1)); }
bad() { fail=$((fail+1)); echo "FAIL: $*"; }
# Ports: a base from the pid, so that parallel runs rarely collide.
base=$((10000 + ($$ % 550) * 40))   # below the ephemeral ports (32768-)
export LAGRANGED="$LD"

# ---- a plain run -------------------------------------------------------------
TMPDIR=$T "$L" demo --port "$base" >"$T/out" 2>"$T/err"
rc=$?
[ $rc -eq 0 ] && ok || bad "demo exited $rc: $(tail -20 "$T/out") $(cat "$T/err")"
for want in "starting 6 lagranged processes" \
        "bundle round trip to geo-relay: " "bundle round trip to leo-gpu-2: " \
        "result/logits.npy and local/logits.npy are identical, bit for bit" \
        "Nodes=leo-gpu-1,leo-gpu-2" "Partitions=2" \
        "Running(leo-gpu-1: part 1/2)" "Running(leo-gpu-2: part 2/2)" \
        "result-dist/logits.npy and local/logits.npy are identical, bit for bit" \
        "demo done; $T/lagrange-demo."; do
    grep -qF "$want" "$T/out" && ok || bad "demo output lacks '$want'"
done
n=$(grep -c "stopped (exit 0)" "$T/out")
[ "$n" -eq 6 ] && ok || bad "$n of 6 daemons stopped with exit 0"
# Light time is a floor: GEO is 2 x 126 ms away; no round trip beats it.
awk '/bundle round trip to geo-relay: / { if ($6 + 0 < 252) bad = 1; n++ }
     END { exit !(n == 2 && !bad) }' "$T/out" && ok ||
    bad "geo-relay round trips under 252 ms: $(grep 'to geo-relay' "$T/out")"
# The distributed job either waited for a pass (and said so while it
# waited) or found one open.
if grep -qF "it waited for a pass, then ran on both satellites" "$T/out"; then
    grep -q "WaitingContact(gs-mad->leo-gpu-1, [0-9]*s)" "$T/out" && ok ||
        bad "the job waited for a pass but no WaitingContact reason was shown"
else
    grep -qF "a pass was open: no wait this time" "$T/out" && ok ||
        bad "the demo says neither that the job waited nor that a pass was open"
fi
grep -q "COMPLETED - 100%" "$T/out" && ok || bad "watch did not show the job COMPLETED"
ls -d "$T"/lagrange-demo.* >/dev/null 2>&1 && bad "scratch directory left behind" || ok

# ---- --keep, then --stop ------------------------------------------------------
"$L" demo --keep --dir "$T/keep" --port $((base + 20)) >"$T/kout" 2>"$T/kerr"
rc=$?
[ $rc -eq 0 ] && ok || bad "demo --keep exited $rc: $(tail -20 "$T/kout") $(cat "$T/kerr")"
grep -qF "stop it: lagrange demo --stop $T/keep" "$T/kout" && ok ||
    bad "demo --keep does not say how to stop it"
alive=0
for f in "$T"/keep/*/pid; do kill -0 "$(cat "$f")" 2>/dev/null && alive=$((alive+1)); done
[ $alive -eq 6 ] && ok || bad "$alive of 6 daemons running after --keep"
"$L" links --socket "$T/keep/gs-mad/ctl.sock" >"$T/links" 2>&1 &&
    grep -q "^gs-mad->geo-relay  *up " "$T/links" && ok ||
    bad "links of the kept constellation: $(cat "$T/links")"
LAGRANGE_SERVER=unix:$T/keep/gs-mad/api.sock "$L" queue -o state --noheader >"$T/q" 2>&1 &&
    [ "$(cat "$T/q" | tr '\n' ' ')" = "COMPLETED COMPLETED " ] && ok ||
    bad "queue of the kept constellation: $(cat "$T/q")"
# The job's output against torch's for the example model.
"$PY" - "$T/keep/result/logits.npy" "$src/examples/tinynet-expected.npy" <<'PYEOF' && ok || bad "the demo job's result differs from torch's"
import sys, numpy as np
a, b = np.load(sys.argv[1]), np.load(sys.argv[2])
sys.exit(0 if a.shape == b.shape and np.allclose(a, b, rtol=1e-4, atol=1e-5) else 1)
PYEOF
"$PY" - "$T/keep/result-dist/logits.npy" "$src/examples/tinynet-expected.npy" <<'PYEOF' && ok || bad "the distributed job's result differs from torch's"
import sys, numpy as np
a, b = np.load(sys.argv[1]), np.load(sys.argv[2])
sys.exit(0 if a.shape == b.shape and np.allclose(a, b, rtol=1e-4, atol=1e-5) else 1)
PYEOF
"$L" demo --stop "$T/keep" >"$T/sout" 2>&1
rc=$?
[ $rc -eq 0 ] && [ "$(grep -c ' stopped$' "$T/sout")" -eq 6 ] && ok ||
    bad "demo --stop exited $rc: $(cat "$T/sout")"
alive=0
for f in "$T"/keep/*/pid; do [ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null && alive=$((alive+1)); done
[ $alive -eq 0 ] && ok || bad "$alive daemons still running after --stop"
grep -l "ERROR\|AddressSanitizer\|runtime error" "$T"/keep/*/log >"$T/errs" 2>/dev/null &&
    bad "errors in the logs: $(cat "$T/errs")" || ok

# ---- bad command lines ----------------------------------------------------------
expect() {   # STATUS TEXT CMD...
    want=$1 text=$2; shift 2
    "$@" >"$T/o" 2>"$T/e"
    got=$?
    [ $got -eq "$want" ] && grep -qF -- "$text" "$T/e" && ok ||
        bad "$*: exit $got (want $want), stderr: $(cat "$T/e")"
}
expect 2 "--port wants a number" "$L" demo --port abc
expect 2 "--port wants a number" "$L" demo --port 80
expect 2 "unexpected argument 'x'" "$L" demo x
expect 1 "$T/none is not an executable lagranged" "$L" demo --lagranged "$T/none"
expect 2 "is not a demo directory" "$L" demo --stop "$T"
"$L" demo --help | grep -q "^usage: lagrange demo" && ok || bad "demo --help"

echo "# test_demo: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
