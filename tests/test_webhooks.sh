#!/bin/sh
# test_webhooks.sh - webhooks (Webhook=, lagranged(8) WEBHOOKS) against
# real receivers on loopback (tests/hooks/receiver.py, python's
# http.server; it records every POST and can be told to fail):
#  - a bad Webhook= line is a configuration error naming FILE:LINE (-n,
#    exit 3);
#  - job.completed and job.failed arrive with their headers (event,
#    delivery id, user agent, JSON), the body's fields (id, event, time,
#    node, the job's id, name, model, sha256, state, error, times) and a
#    valid HMAC-SHA256 signature (checked with python's hmac); a second
#    URL with Events=job.failed gets only that one, unsigned;
#  - a receiver answering 500 twice, then 200: the delivery arrives again
#    with the same id until taken; 429 with Retry-After: the same;
#  - a receiver answering 400: logged as a permanent failure (status and
#    URL), not retried;
#  - the receiver down: events queue in EventDir; SIGTERM (exit 0), the
#    files stay; a restart with the receiver up delivers every one (each
#    delivery id at least once), EventDir ends empty;
#  - /metrics: lagrange_webhook_deliveries_total and
#    lagrange_webhook_pending;
#  - the daemon under valgrind (when installed and not an ASan build) for
#    the first part: clean, no definite leak.
# Waits poll with generous bounds; nothing asserts on time. Uses
# LG_SRCDIR, LAGRANGED and LAGRANGE; skips (77) without /usr/bin/python3's
# numpy and onnx (the failing model is built with onnx.helper).
set -u
src=$(cd "${LG_SRCDIR:-$(dirname "$0")/..}" && pwd)
LD=${LAGRANGED:-./daemon/lagranged}
L=${LAGRANGE:-./cli/lagrange}
case $LD in /*) ;; *) LD=$(pwd)/$LD ;; esac
case $L in /*) ;; *) L=$(pwd)/$L ;; esac
PY=/usr/bin/python3
RECV=$src/tests/hooks/receiver.py

if ! [ -x "$PY" ] || ! "$PY" -c 'import numpy, onnx' 2>/dev/null; then
    echo "test_webhooks: SKIP: $PY cannot import numpy and onnx"
    exit 77
fi
T=$(mktemp -d /tmp/lg-hooks.XXXXXX)
pid=
rpids=
cleanup() {
    for p in $rpids; do kill "$p" 2>/dev/null; done
    [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
    if [ -n "${KEEP:-}" ]; then echo "# keeping $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP
pass=0
fail=0
ok() { pass=$((pass+1)); }
bad() { fail=$((fail+1)); echo "FAIL: $*"; }
pycheck() {
    w=$1; shift
    if "$PY" -c "$@" >"$T/py.err" 2>&1; then ok
    else bad "$w: $(tail -c 600 "$T/py.err" | tr '\n' ' ')"; fi
}
# wait_for WHAT CMD...: poll CMD (at most 60 s).
wait_for() {
    w=$1; shift
    i=0
    until "$@" >/dev/null 2>&1; do
        i=$((i+1))
        if [ $i -gt 600 ]; then bad "timed out waiting for $w"; return 1; fi
        sleep 0.1
    done
    ok
}
# posts LOG: the number of POSTs a receiver logged.
posts() { [ -f "$1" ] && wc -l <"$1" | tr -d ' ' || echo 0; }
atleast() { [ "$(posts "$1")" -ge "$2" ]; }

unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy \
    LAGRANGE_TOKEN_FILE LAGRANGE_CACERT
export LAGRANGE_SERVER="unix:$T/api.sock"
base=$((10000 + ($$ % 1100) * 20))   # below the ephemeral ports (32768-)
P1=$base; P2=$((base+1)); P3=$((base+2)); PM=$((base+3)); PL=$((base+4))
# R1: every event, signed; R2: job.failed only; R3: answers 400
start_recv() { # N PORT
    rm -f "$T/r$1.log.ready"
    "$PY" "$RECV" "$2" "$T/r$1.log" "$T/r$1.ctl" 2>>"$T/r$1.err" &
    eval "rpid$1=$!"
    rpids="$rpids $!"
    i=0
    while [ ! -f "$T/r$1.log.ready" ] && [ $i -lt 200 ]; do
        sleep 0.05; i=$((i+1)); done
}
stop_recv() { # N
    eval "kill \$rpid$1; wait \$rpid$1" 2>/dev/null
}

cp "$src/tests/daemon/conf/tiny.topo" "$T/"
printf 'hunter2-not-a-real-secret\n' >"$T/secret"
chmod 600 "$T/secret"
cat >"$T/gs.conf" <<CONF
NodeId=gs
Topology=tiny.topo
Tls=no
Listen=127.0.0.1:$PL
SpoolDir=$T/spool
InboxDir=$T/inbox
ControlSocket=$T/ctl.sock
ApiSocket=$T/api.sock
JobDir=$T/jobs
ModelDir=$T/models
BlobDir=$T/blobs
MetricsListen=127.0.0.1:$PM
EventDir=$T/events
WebhookTimeout=5s
Webhook=http://127.0.0.1:$P1/hook SecretFile=secret
Webhook=http://127.0.0.1:$P2/failed-only Events=job.failed
Webhook=http://127.0.0.1:$P3/refuses Events=job.completed
CONF

# ---- configuration errors --------------------------------------------------
cp "$T/gs.conf" "$T/bad.conf"
echo "Webhook=gopher://127.0.0.1:$P1/x" >>"$T/bad.conf"
bl=$(wc -l <"$T/bad.conf" | tr -d ' ')
"$LD" -n -f "$T/bad.conf" >"$T/out" 2>"$T/err"
rc=$?
if [ $rc -eq 3 ] && grep -q "bad.conf:$bl: Webhook URL must start with http:// or https://" "$T/err" &&
    [ ! -s "$T/out" ]; then ok
else bad "bad Webhook= line: exit $rc, $(cat "$T/err")"; fi
"$LD" -n -f "$T/gs.conf" >"$T/out" 2>"$T/err" &&
    grep -q "^Webhook=http://127.0.0.1:$P2/failed-only Events=job.failed$" "$T/out" &&
    ok || bad "-n of the good config: $(cat "$T/err")"

# ---- fixtures: a small model; its stored copy is damaged after the push,
# so that its jobs FAIL ------------------------------------------------------
"$PY" - "$T" <<'EOF' || { echo "fixtures failed"; exit 1; }
import sys, onnx
from onnx import TensorProto, helper
g = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "relu",
    [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3, 3])],
    [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3, 3])])
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
m.ir_version = 7
onnx.save(m, sys.argv[1] + "/det.onnx")
import numpy as np
np.save(sys.argv[1] + "/eye.npy", np.eye(3, dtype=np.float32))
EOF

VG=
if command -v valgrind >/dev/null 2>&1 && ! nm "$LD" 2>/dev/null | grep -q __asan_init; then
    # LAGRANGE_NO_REEXEC: valgrind would not follow blastune.h's re-exec
    VG="env LAGRANGE_NO_REEXEC=1 valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite"
    echo "# lagranged under valgrind for the first run"
fi
start() { # [VG]
    $1 "$LD" -f "$T/gs.conf" 2>>"$T/gs.log" &
    pid=$!
    i=0
    until "$L" queue --timeout 2s >/dev/null 2>&1; do
        i=$((i+1))
        if [ $i -gt 300 ] || ! kill -0 "$pid" 2>/dev/null; then
            echo "FAIL: lagranged did not start:"; tail -15 "$T/gs.log"
            exit 1
        fi
        sleep 0.2
    done
}
stop() {
    kill -TERM "$pid"
    wait "$pid"
    drc=$?
    pid=
    if [ $drc -eq 0 ]; then ok
    else bad "lagranged exited $drc after SIGTERM: $(tail -5 "$T/gs.log" | tr '\n' ' ')"; fi
}

start_recv 1 $P1
start_recv 2 $P2
echo "status 400" >"$T/r3.ctl"
start_recv 3 $P3
start "$VG"

# ---- job.completed, job.failed: fields, headers, signature ---------------------
"$L" model push "$src/examples/tinynet.onnx" >"$T/tsha" 2>"$T/err" || bad "push tinynet: $(cat "$T/err")"
"$L" model push "$T/det.onnx" >"$T/dsha" 2>"$T/err" || bad "push det: $(cat "$T/err")"
dm="$T/models/$(cat "$T/dsha")"
chmod u+w "$dm" 2>/dev/null
printf 'damaged\n' >"$dm" || bad "cannot damage $dm"
"$L" submit tinynet -i "$src/examples/tinynet-input.npy" --name nightly --wait \
    -O "$T/o1" >/dev/null 2>"$T/err" || bad "submit tinynet: $(cat "$T/err")"
"$L" submit det -i "$T/eye.npy" --wait -O "$T/o2" >/dev/null 2>"$T/err"
rc=$?
[ $rc -eq 9 ] && ok || bad "the Det job: exit $rc, want 9 (FAILED): $(cat "$T/err")"
wait_for "2 POSTs at R1" atleast "$T/r1.log" 2
wait_for "1 POST at R2" atleast "$T/r2.log" 1
wait_for "the 400 logged" grep -q "failed for good.*HTTP 400" "$T/gs.log"
pycheck "R1: job.completed and job.failed, signed" '
import hashlib, hmac, json, re, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
key = open(sys.argv[2], "rb").read().strip()
tsha = open(sys.argv[3]).read().strip()
by = {}
for r in recs:
    h = r["headers"]
    assert r["path"] == "/hook", r
    assert r["status"] == 200, r
    assert h["content-type"] == "application/json", h
    assert h["user-agent"].startswith("lagranged/"), h
    sig = h.get("x-lagrange-signature", "")
    want = "sha256=" + hmac.new(key, r["body"].encode(), hashlib.sha256).hexdigest()
    assert hmac.compare_digest(sig, want), (sig, want)
    b = json.loads(r["body"])
    assert h["x-lagrange-event"] == b["event"], (h, b)
    assert h["x-lagrange-delivery"] == b["id"], (h, b)
    assert re.fullmatch("[0-9a-f]{32}", b["id"]), b
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", b["time"]), b
    assert b["node"] == "gs", b
    by[b["event"]] = b
assert sorted(by) == ["job.completed", "job.failed"], sorted(by)
c = by["job.completed"]["job"]
assert c["name"] == "nightly" and c["model"] == "tinynet", c
assert c["model_sha256"] == tsha and c["state"] == "COMPLETED", c
assert re.fullmatch("j[0-9a-f]{12}", c["id"]), c
assert c["submitted"] <= c["started"] <= c["finished"], c
assert c["attempts"] == 1 and c["error"] == "", c
f = by["job.failed"]["job"]
assert f["state"] == "FAILED" and f["error"], f
' "$T/r1.log" "$T/secret" "$T/tsha"
pycheck "R2: job.failed only, unsigned" '
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
assert len(recs) == 1, recs
r = recs[0]
assert r["headers"]["x-lagrange-event"] == "job.failed", r
assert "x-lagrange-signature" not in r["headers"], r
assert json.loads(r["body"])["job"]["state"] == "FAILED", r
' "$T/r2.log"
[ "$(posts "$T/r3.log")" -eq 1 ] && ok || bad "R3 (400) got $(posts "$T/r3.log") POSTs, want 1 (not retried)"
grep -q "job.completed [0-9a-f]\{32\} to http://127.0.0.1:$P3/refuses failed for good after 1 attempt: HTTP 400" "$T/gs.log" &&
    ok || bad "the 400 is not logged with the id, event and URL: $(grep 400 "$T/gs.log" | head -3)"
grep -q "hunter2" "$T/gs.log" && bad "the secret is in the log" || ok

# ---- retries: 500 twice, then 429 with Retry-After -------------------------------
echo "fail500 2" >"$T/r1.ctl"
"$L" submit tinynet -i "$src/examples/tinynet-input.npy" --wait -O "$T/o3" \
    >/dev/null 2>"$T/err" || bad "submit: $(cat "$T/err")"
wait_for "the 500s retried to a 200" atleast "$T/r1.log" 5
pycheck "500, 500, 200: one delivery id" '
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])][2:]
assert [r["status"] for r in recs] == [500, 500, 200], [r["status"] for r in recs]
ids = {r["headers"]["x-lagrange-delivery"] for r in recs}
assert len(ids) == 1, ids
assert len({r["body"] for r in recs}) == 1
' "$T/r1.log"
grep -q "webhook: job.completed [0-9a-f]* to http://127.0.0.1:$P1/hook: HTTP 500 (attempt 1); retrying" "$T/gs.log" &&
    ok || bad "the 500 retry is not logged"
rm -f "$T/r1.ctl.n"
echo "fail429 1 1" >"$T/r1.ctl"
"$L" submit tinynet -i "$src/examples/tinynet-input.npy" --wait -O "$T/o4" \
    >/dev/null 2>"$T/err" || bad "submit: $(cat "$T/err")"
wait_for "the 429 retried" atleast "$T/r1.log" 7
grep -q "HTTP 429 (attempt 1); retrying in 1.0 s" "$T/gs.log" &&
    ok || bad "Retry-After: 1 not honoured: $(grep 429 "$T/gs.log" | head -2)"
rm -f "$T/r1.ctl" "$T/r1.ctl.n"
pycheck "/metrics: webhook counters" '
import sys, time, urllib.request
def v(t, name):
    for l in t.splitlines():
        if l.startswith(name + " "):
            return float(l.split()[-1])
    raise AssertionError("no " + name)
# the receiver logs a POST before it answers: poll until the daemon has
# seen the last answer
for i in range(300):
    t = urllib.request.urlopen("http://127.0.0.1:%s/metrics" % sys.argv[1]).read().decode()
    got = [v(t, "lagrange_webhook_deliveries_total{result=\"%s\"}" % r)
           for r in ("ok", "retry", "failed")] + [v(t, "lagrange_webhook_pending")]
    if got == [5, 3, 3, 0]:
        break
    time.sleep(0.1)
assert got == [5, 3, 3, 0], got  # ok: R1 x4, R2; failed: the 3 job.completed at R3 (400)
' $PM
stop
[ -n "$VG" ] && { grep -q "==[0-9]*==" "$T/gs.log" &&
    bad "valgrind: $(grep "==[0-9]*==" "$T/gs.log" | head -5)" || ok; }

# ---- the receiver down across a restart: nothing lost ------------------------
stop_recv 1
stop_recv 2
stop_recv 3
n1=$(posts "$T/r1.log")
start ""
for k in 1 2; do
    "$L" submit tinynet -i "$src/examples/tinynet-input.npy" --wait -O "$T/d$k" \
        >/dev/null 2>"$T/err" || bad "submit: $(cat "$T/err")"
done
"$L" submit det -i "$T/eye.npy" --wait -O "$T/d3" >/dev/null 2>&1
# 2 completed (R1, R3) + 1 failed (R1, R2) = 6 deliveries, each tried once
wait_for "first attempts failing" sh -c "[ \$(grep -c 'Couldn.t connect.*attempt 1); retrying' '$T/gs.log') -ge 6 ]"
stop
nq=$(ls "$T/events" | grep -c '\.ev$')
[ "$nq" -eq 6 ] && ok || bad "EventDir holds $nq deliveries after the stop, want 6: $(ls "$T/events")"
grep -o '^id=.*' "$T/events"/*-*.ev | sed 's/.*id=//' | sort -u >"$T/queued"
rm -f "$T/r3.ctl"
start_recv 1 $P1
start_recv 2 $P2
start_recv 3 $P3
start ""
wait_for "the queued deliveries sent" sh -c "[ -z \"\$(ls '$T/events' | grep '\\.ev\$')\" ]"
pycheck "every queued delivery arrived" '
import json, sys
want = set(open(sys.argv[1]).read().split())
got = {}
for lg in sys.argv[3:]:
    for l in open(lg):
        r = json.loads(l)
        if r["status"] == 200:
            got.setdefault(r["headers"]["x-lagrange-delivery"], []).append(lg)
n1 = int(sys.argv[2])
assert len(want) == 3, want
missing = want - set(got)
assert not missing, missing
# each id: at R1, and at R2 (failed) or R3 (completed)
for i in want:
    assert len(set(got[i])) == 2, (i, got[i])
' "$T/queued" "$n1" "$T/r1.log" "$T/r2.log" "$T/r3.log"
grep -q "webhook: 6 deliveries queued in $T/events, sending" "$T/gs.log" && ok ||
    bad "the restart does not say what it found queued"
stop

echo "# pass $pass fail $fail"
[ $fail -eq 0 ] || { echo "--- lagranged log (tail)"; tail -30 "$T/gs.log"; exit 1; }
exit 0
