#!/bin/sh
# test_stop.sh - SIGTERM stops lagranged without loss, and a restart
# resumes exactly where it stopped (issue 7). Real daemons on loopback,
# A - R - B, R the only relay, both links emulated at 80 Mbit/s so that a
# 64 MiB tensor takes several seconds to cross:
#
#  1. a 64 MiB random .npy from A to B; SIGTERM of B (the receiver) while
#     some but not all of its chunks are at B: B exits 0, its log's
#     "stopping:" line names the object partly received (K/64 chunks);
#     restarted, B says what resumes, and the tensor arrives, SHA-256
#     equal to the one sent, delivered exactly once (one delivered.tsv
#     line);
#  2. the same with SIGTERM of A (the sender) while its spool still holds
#     part of the object: exit 0, then a restart of A: complete, once;
#  3. the same with SIGTERM of R (the relay) mid-transfer;
#  4. a job RUNNING on B (a MatMul+Tanh chain built with onnx.helper and
#     sized by `lagrange run` to take several seconds): SIGTERM, B exits 0
#     after the job, whose id the "stopping:" line names; while it waits
#     for the job, B's API, control socket and peer port refuse new work;
#     after a restart the job is COMPLETED, ran once, and its output
#     equals `lagrange run`;
#  5. the same with StopTimeout=1s: B exits 0 at the deadline without
#     waiting for the run, the job stays RUNNING on disk, and the restart
#     runs it again to COMPLETED, once, with the same output;
#  6. a second SIGTERM during the stop ends the wait at once: exit 0, and
#     the job completes after the restart;
#  7. runs still queued on the threadpool at SIGTERM (JobWorkers=3 on a
#     pool of 2 threads) are taken off it and become PENDING, never
#     FAILED; after the restart every job is COMPLETED once.
# Every SIGTERM must give exit status 0. Waits poll with generous bounds;
# nothing asserts how long anything took. Uses LG_SRCDIR, LAGRANGED and
# LAGRANGE like test_peers.sh; KEEP=1 keeps the temp dir. Skips (77)
# without /usr/bin/python3's numpy and onnx.
set -u
src=$(cd "${LG_SRCDIR:-$(dirname "$0")/..}" && pwd)
LD=${LAGRANGED:-./daemon/lagranged}
L=${LAGRANGE:-./cli/lagrange}
case $LD in /*) ;; *) LD=$(pwd)/$LD ;; esac
case $L in /*) ;; *) L=$(pwd)/$L ;; esac
PY=/usr/bin/python3
if ! [ -x "$PY" ] || ! "$PY" -c 'import numpy, onnx' 2>/dev/null; then
    echo "test_stop: SKIP: $PY cannot import numpy and onnx"
    exit 77
fi
T=$(mktemp -d /tmp/lg-stop.XXXXXX)
pids=""
cleanup() {
    for p in $pids; do kill -9 "$p" 2>/dev/null; done
    if [ -n "${KEEP:-}" ]; then echo "# keeping $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP
pass=0
fail=0
ok() { pass=$((pass+1)); }
bad() { fail=$((fail+1)); echo "FAIL: $*"; }
note() { echo "# $*"; }
unset LAGRANGE_TOKEN_FILE LAGRANGE_CACERT LAGRANGE_GRPC_TRACE

# Ports: a base from the pid, so that parallel runs rarely collide.
base=$((10000 + ($$ % 1100) * 20))   # below the ephemeral ports (32768-)
PA=$base; PR=$((base+1)); PB=$((base+2))

# ---- certificates, topology, configurations --------------------------------

"$L" cert ca --out "$T/tls" >/dev/null 2>&1 || { echo "cert ca failed"; exit 1; }
for n in a r b; do
    "$L" cert node $n --ca "$T/tls" --out "$T/tls" >/dev/null 2>&1 ||
        { echo "cert node $n failed"; exit 1; }
done
cat >"$T/net.topo" <<EOF
Epoch=$(date -u +%Y-%m-%dT%H:%M:%SZ)
Horizon=2h
Node=a Kind=ground
Node=r Kind=geo
Node=b Kind=ground
Link=a<>r Delay=10ms Rate=80M
Link=r<>b Delay=10ms Rate=80M
EOF

# conf NODE PORT [LINES...]: NODE's configuration.
conf() {
    n=$1; port=$2; shift 2
    mkdir -p "$T/$n"
    {
        echo "NodeId=$n"
        echo "Topology=$T/net.topo"
        echo "Listen=127.0.0.1:$port"
        echo "SpoolDir=$T/$n/spool"
        echo "InboxDir=$T/$n/inbox"
        echo "TlsCert=$T/tls/$n.crt"
        echo "TlsKey=$T/tls/$n.key"
        echo "TlsCA=$T/tls/ca.crt"
        echo "ControlSocket=$T/$n/ctl.sock"
        echo "ApiSocket=$T/$n/api.sock"
        echo "JobDir=$T/$n/jobs"
        echo "ModelDir=$T/$n/models"
        echo "BlobDir=$T/$n/blobs"
        echo "MetricsListen=none"
        echo "HeartbeatInterval=1s"
        echo "ReconnectMin=200ms"
        echo "ReconnectMax=1s"
        echo "JobWorkers=${JW:-1}"
        for p in "$@"; do echo "$p"; done
    } >"$T/$n/lagranged.conf"
}
conf a $PA "Peer=r Address=127.0.0.1:$PR"
conf r $PR "Peer=a Address=127.0.0.1:$PA" "Peer=b Address=127.0.0.1:$PB"
conf b $PB "Peer=r Address=127.0.0.1:$PR"

# start NODE [CONF]: run NODE's daemon in the background (on a threadpool
# of $POOL threads if set).
start() {
    n=$1
    c=${2:-$T/$n/lagranged.conf}
    echo "---- start $(date -u +%H:%M:%S.%N)" >>"$T/$n/log"
    env ${POOL:+UV_THREADPOOL_SIZE=$POOL} "$LD" -f "$c" 2>>"$T/$n/log" &
    eval "pid_$n=$!"
    pids="$pids $!"
}
# term NODE [WHAT]: SIGTERM NODE, wait (at most ~2 min) for it to exit;
# its exit status must be 0 and its log must have a "stopping:" line.
# The lines it logged during this stop go to $T/NODE.stop.
term() {
    eval "p=\$pid_$1"
    lines=$(wc -l <"$T/$1/log")
    kill -TERM "$p"
    if [ -n "${during:-}" ]; then
        sleep 0.3
        kill -0 "$p" 2>/dev/null && "$during" "$1" "$p"
    fi
    i=0
    while kill -0 "$p" 2>/dev/null; do
        i=$((i+1))
        if [ $i -gt 1200 ]; then
            bad "${2:-$1}: lagranged $1 still running 2 min after SIGTERM"
            kill -9 "$p" 2>/dev/null
            break
        fi
        sleep 0.1
    done
    wait "$p"
    rc=$?
    eval "pid_$1="
    tail -n +$((lines + 1)) "$T/$1/log" >"$T/$1.stop"
    if [ "$rc" -eq 0 ]; then ok
    else bad "${2:-$1}: lagranged $1 exited $rc after SIGTERM: $(tail -n 3 "$T/$1.stop" | tr '\n' '|')"; fi
    grep -q "stopping: " "$T/$1.stop" && ok ||
        bad "${2:-$1}: no 'stopping:' line in $1's log"
}
sockof() { echo "$T/$1/ctl.sock"; }
api() { echo "unix:$T/$1/api.sock"; }

# wait_for DESC CMD...: poll CMD (0.1 s) until it succeeds, at most ~3 min.
wait_for() {
    desc=$1; shift
    i=0
    until "$@" >/dev/null 2>&1; do
        i=$((i+1))
        if [ $i -gt 1800 ]; then bad "$desc: still waiting"; return 1; fi
        for n in a r b; do
            eval "wp=\${pid_$n:-}"
            if [ -n "$wp" ] && ! kill -0 "$wp" 2>/dev/null; then
                bad "$desc: lagranged $n died: $(tail -n 3 "$T/$n/log")"
                eval "pid_$n="
                return 1
            fi
        done
        sleep 0.1
    done
    return 0
}

# link_up NODE PEER: NODE's session with PEER is up.
link_up() {
    "$L" links --json --socket "$(sockof "$1")" 2>/dev/null |
        "$PY" -c 'import json,sys; l={x["node"]: x for x in json.load(sys.stdin)}; sys.exit(0 if l[sys.argv[1]]["state"] == "up" else 1)' "$2"
}
# rx NODE PEER: bytes NODE has received from PEER (0 if not answering).
rx() {
    "$L" links --json --socket "$(sockof "$1")" 2>/dev/null |
        "$PY" -c 'import json,sys; l={x["node"]: x for x in json.load(sys.stdin)}; print(l[sys.argv[1]]["rx_bytes"])' "$2" 2>/dev/null || echo 0
}
# spooled NODE: bundles in NODE's spool.
spooled() {
    "$L" spool --json --socket "$(sockof "$1")" 2>/dev/null |
        "$PY" -c 'import json,sys; print(json.load(sys.stdin)["bundles"])' 2>/dev/null || echo -1
}
delivered() {
    grep -q "	$2	" "$T/$1/inbox/delivered.tsv" 2>/dev/null
}
all_up() { link_up a r && link_up r b && link_up b r; }

# check_delivered CASE OBJ FILE: OBJ reaches B intact, exactly once.
check_delivered() {
    if wait_for "$1: delivered after the restart" delivered b "$2"; then
        want=$(sha256sum <"$3" | cut -d' ' -f1)
        got=$(sha256sum <"$T/b/inbox/$2" | cut -d' ' -f1)
        [ "$want" = "$got" ] && ok || bad "$1: sha256 $got, sent $want"
        sleep 1                  # a duplicate would show up by now
        n=$(grep -c "	$2	" "$T/b/inbox/delivered.tsv")
        [ "$n" -eq 1 ] && ok || bad "$1: delivered $n times"
    fi
}

# send_big CASE: a fresh 64 MiB random tensor from A to B (65 chunks of
# 1 MiB with the .npy header); sets obj, big.
send_big() {
    big=$T/$1.npy
    "$PY" -c 'import numpy as np, sys
np.save(sys.argv[1], np.random.default_rng().standard_normal(16 << 20).astype(np.float32))' "$big"
    obj=$("$L" send b "$big" --name "$1.npy" --socket "$(sockof a)" 2>"$T/err")
    if [ -n "$obj" ]; then ok; else bad "$1: send 64 MiB: $(cat "$T/err")"; fi
}

start a; start r; start b
wait_for "links up" all_up && ok

# ---- 1. SIGTERM of the receiver mid-transfer ---------------------------------

send_big recv
r0=$(rx b r)
# Some chunks at B, not all: between 4 and 56 MiB received since.
mid_b() { x=$(rx b r); [ "$x" -ge $((r0 + (4 << 20))) ]; }
wait_for "1: chunks reach B" mid_b
if delivered b "$obj"; then
    bad "1: the object was delivered before the SIGTERM (not mid-transfer)"
fi
term b "1 (receiver)"
grep "stopping: " "$T/b.stop" | sed 's/^.*\(stopping: \)/# B: \1/'
grep -q "stopping: 1 session, 1 object partly received (recv.npy, [1-9][0-9]*/65 chunks)" "$T/b.stop" && ok ||
    bad "1: B's stopping line does not name recv.npy partly received: $(grep stopping: "$T/b.stop")"
start b
resumed() { grep -q "resuming: object $obj recv.npy from a, [1-9][0-9]*/65 chunks here" "$T/b/log"; }
wait_for "1: B logs the object it resumes" resumed && ok
check_delivered 1 "$obj" "$big"

# ---- 2. SIGTERM of the sender mid-transfer -----------------------------------

wait_for "2: links up" all_up
send_big send
# A still holds part of the object (the rest is acked by R already).
mid_a() { x=$(spooled a); [ "$x" -gt 0 ] && [ "$x" -lt 60 ]; }
wait_for "2: A hands over part of the object" mid_a
delivered b "$obj" && bad "2: delivered before the SIGTERM (not mid-transfer)"
term a "2 (sender)"
grep "stopping: " "$T/a.stop" | sed 's/^.*\(stopping: \)/# A: \1/'
grep -q "stopping: 1 session, 0 objects partly received, [0-9]* bundles\? sent and not yet acked, [1-9][0-9]* in the spool, 0 jobs running" "$T/a.stop" && ok ||
    bad "2: A's stopping line: $(grep stopping: "$T/a.stop")"
start a
check_delivered 2 "$obj" "$big"

# ---- 3. SIGTERM of the relay mid-transfer ------------------------------------

wait_for "3: links up" all_up
send_big relay
r0=$(rx b r)
wait_for "3: chunks reach B through R" mid_b
delivered b "$obj" && bad "3: delivered before the SIGTERM (not mid-transfer)"
term r "3 (relay)"
grep "stopping: " "$T/r.stop" | sed 's/^.*\(stopping: \)/# R: \1/'
grep -q "stopping: 2 sessions, 0 objects partly received, .*0 jobs running" "$T/r.stop" && ok ||
    bad "3: R's stopping line: $(grep stopping: "$T/r.stop")"
start r
check_delivered 3 "$obj" "$big"

# ---- jobs: a model that runs several seconds ----------------------------------

cat >"$T/fixtures.py" <<'EOF'
import json, subprocess, sys
import numpy as np, onnx
from onnx import TensorProto, helper, numpy_helper
T, L = sys.argv[1], sys.argv[2]

def chain(layers, path, n=512, batch=64):
    """x[64,512] -> layers x (MatMul W, Tanh) -> y, one shared W."""
    rng = np.random.default_rng(7)
    W = (rng.standard_normal((n, n)) / np.sqrt(n)).astype(np.float32)
    nodes, prev = [], "x"
    for k in range(layers):
        nodes.append(helper.make_node("MatMul", [prev, "W"], ["m%d" % k]))
        out = "y" if k == layers - 1 else "t%d" % k
        nodes.append(helper.make_node("Tanh", ["m%d" % k], [out]))
        prev = out
    g = helper.make_graph(
        nodes, "slow",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, n])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, n])],
        [numpy_helper.from_array(W, "W")])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 7
    onnx.save(m, path)

rng = np.random.default_rng(11)
np.save(T + "/x.npy", rng.standard_normal((64, 512)).astype(np.float32))
chain(100, T + "/c100.onnx")
r = subprocess.run([L, "run", T + "/c100.onnx", "-i", T + "/x.npy",
                    "--repeat", "3", "--json"], check=True,
                   capture_output=True, text=True)
per = json.loads(r.stdout)["median_ms"] / 1e3 / 100
layers = int(min(max(4.0 / per, 300), 40000))
chain(layers, T + "/slow.onnx")
print("slow model: %d layers, %.2f ms each, about %.1f s" %
      (layers, per * 1e3, layers * per))
EOF
if "$PY" "$T/fixtures.py" "$T" "$L" >"$T/fix.log" 2>&1; then
    note "$(tail -1 "$T/fix.log")"
else
    bad "fixtures: $(tail -3 "$T/fix.log")"
fi
"$L" run "$T/slow.onnx" -i "$T/x.npy" -o "$T/ref.npy" >/dev/null 2>"$T/err" ||
    bad "lagrange run slow.onnx: $(cat "$T/err")"
"$L" model push "$T/slow.onnx" --name slow --server "$(api b)" >/dev/null 2>"$T/err" && ok ||
    bad "model push: $(cat "$T/err")"

# state JOB: the job's state at B.
state() {
    "$L" show "$1" --json --server "$(api b)" 2>/dev/null |
        "$PY" -c 'import json,sys; print(json.load(sys.stdin)["state"])' 2>/dev/null
}
is_state() { [ "$(state "$1")" = "$2" ]; }
# job_case CASE [CONF]: submit the slow model at B, SIGTERM B while it is
# RUNNING (then whatever $extra says), restart B with CONF; the job ends
# COMPLETED, with `lagrange run`'s output, and ran to completion once.
job_case() {
    c=$1
    job=$("$L" submit slow -i "$T/x.npy" --name "$c" --server "$(api b)" 2>"$T/err")
    if [ -z "$job" ]; then bad "$c: submit: $(cat "$T/err")"; return; fi
    ok
    wait_for "$c: job RUNNING" is_state "$job" RUNNING || return
    sleep 0.5
    if [ -n "${extra:-}" ]; then
        # the second SIGTERM once the first one's stop has begun (its
        # "stopping:" line is in the log), while the job still runs
        eval "p=\$pid_b"
        k=$(grep -c "stopping: " "$T/b/log")
        ( i=0
          while [ $i -lt 400 ] && [ "$(grep -c "stopping: " "$T/b/log")" -le "$k" ]; do
              sleep 0.02; i=$((i+1))
          done
          kill -TERM "$p" 2>/dev/null ) &
    fi
    term b "$c"
    grep "stopping: " "$T/b.stop" | sed 's/^.*\(stopping: \)/# B: \1/'
    grep -q "stopping: .*, 1 job running ($job)" "$T/b.stop" && ok ||
        bad "$c: the stopping line does not name job $job: $(grep stopping: "$T/b.stop")"
    start b "${2:-}"
    wait_for "$c: job COMPLETED after the restart" is_state "$job" COMPLETED || return
    ok
    n=$(grep -c "job $job completed" "$T/b/log")
    [ "$n" -eq 1 ] && ok || bad "$c: job $job completed $n times"
    rm -f "$T/out.npy"
    if "$L" result "$job" -o "$T/out.npy" --server "$(api b)" >/dev/null 2>"$T/err" &&
        "$PY" -c 'import numpy as np, sys
a, b = np.load(sys.argv[1]), np.load(sys.argv[2])
assert a.dtype == b.dtype and a.shape == b.shape, (a.shape, b.shape)
assert np.allclose(a, b, rtol=1e-5, atol=1e-6), abs(a - b).max()' "$T/out.npy" "$T/ref.npy"
    then ok; else bad "$c: output differs from lagrange run: $(cat "$T/err")"; fi
}

# closed NODE PID: while NODE stops (PID still running), it takes no new
# work: the API, the control socket and the peer port refuse connections.
closed() {
    eval "port=\$P$(echo "$1" | tr a-z A-Z)"
    "$L" queue --server "$(api "$1")" --timeout 10s >/dev/null 2>"$T/err"
    qrc=$?
    "$L" links --socket "$(sockof "$1")" >/dev/null 2>&1
    lrc=$?
    "$PY" -c 'import socket, sys
try:
    socket.create_connection(("127.0.0.1", int(sys.argv[1])), 5).close()
except ConnectionRefusedError:
    sys.exit(0)
sys.exit(1)' "$port"
    prc=$?
    if ! kill -0 "$2" 2>/dev/null; then
        note "$1 exited before the checks of its stop ended: not conclusive"
        return
    fi
    [ $qrc -eq 7 ] && ok || bad "$1 stopping: lagrange queue exited $qrc, want 7: $(cat "$T/err")"
    [ $lrc -ne 0 ] && ok || bad "$1 stopping: the control socket still answers"
    [ $prc -eq 0 ] && ok || bad "$1 stopping: the peer port $port still accepts"
}

# ---- 4. a job running at SIGTERM finishes within StopTimeout -----------------
# (and meanwhile B takes no new work)

during=closed
job_case 4
during=
grep -q "job $job completed" "$T/b.stop" && ok ||
    bad "4: the job did not finish during the stop (StopTimeout 20s)"
grep -q "StopTimeout=.* passed" "$T/b.stop" && bad "4: the stop ran into StopTimeout"

# ---- 5. StopTimeout=1s: exit at the deadline, the job runs again -------------

# reconf_b [LINES...]: B's configuration with LINES, loaded by SIGHUP
# (StopTimeout is read when a stop begins).
reconf_b() {
    conf b $PB "Peer=r Address=127.0.0.1:$PR" "$@"
    k=$(grep -c "reloaded $T/b/lagranged.conf" "$T/b/log")
    reloaded() { [ "$(grep -c "reloaded $T/b/lagranged.conf" "$T/b/log")" -gt "$k" ]; }
    kill -HUP "$pid_b"
    wait_for "B reloads its configuration" reloaded
}
reconf_b "StopTimeout=1s"
job_case 5
grep -q "stop: StopTimeout=1s passed after" "$T/b.stop" && ok ||
    bad "5: no StopTimeout line: $(tail -n 4 "$T/b.stop" | tr '\n' '|')"
grep -q "job $job left RUNNING in $T/b/jobs" "$T/b.stop" && ok ||
    bad "5: the log does not say job $job was left RUNNING"
grep -q "job $job completed" "$T/b.stop" && bad "5: the job completed during the 1 s stop"
grep -q "job $job resumes: it was RUNNING when lagranged stopped" "$T/b/log" && ok ||
    bad "5: B does not log that job $job resumes"

# ---- 6. a second SIGTERM ends the wait ---------------------------------------

reconf_b
extra=1
job_case 6
extra=
grep -q "stop: SIGTERM again after" "$T/b.stop" && ok ||
    bad "6: no 'SIGTERM again' line: $(tail -n 4 "$T/b.stop" | tr '\n' '|')"

# ---- 7. runs queued on the threadpool go back to PENDING ------------------------
# Three jobs on disk, not final (a double SIGTERM leaves the first RUNNING,
# the others PENDING); B restarts with JobWorkers=3 on a threadpool of 2
# threads, so the third run waits in the pool's queue. SIGTERM: that run
# is taken off the queue (PENDING, not FAILED), the two others finish;
# after a restart all three are COMPLETED, once each, with the right
# output.

q=""
for k in 1 2 3; do
    jq=$("$L" submit slow -i "$T/x.npy" --name "7-$k" --server "$(api b)" 2>"$T/err")
    [ -n "$jq" ] && q="$q $jq" || bad "7: submit $k: $(cat "$T/err")"
done
set -- $q
wait_for "7: first job RUNNING" is_state "$1" RUNNING
eval "p=\$pid_b"
( sleep 0.5; kill -TERM "$p" 2>/dev/null ) &
term b "7 (double SIGTERM)"
JW=3
conf b $PB "Peer=r Address=127.0.0.1:$PR"
JW=1
POOL=2
start b
POOL=
all_running() { for j in $q; do is_state "$j" RUNNING || return 1; done; }
wait_for "7: three jobs RUNNING" all_running && ok
term b 7
grep -q "jobs: 1 run not yet started put back to PENDING" "$T/b.stop" && ok ||
    bad "7: no queued run put back to PENDING: $(grep 'jobs:' "$T/b.stop" | tr '\n' '|')"
grep -q "not started before the stop; PENDING" "$T/b.stop" && ok ||
    bad "7: the log does not name the job put back"
grep -q "failed" "$T/b.stop" && bad "7: a job failed at the stop: $(grep failed "$T/b.stop")"
conf b $PB "Peer=r Address=127.0.0.1:$PR"
start b
for j in $q; do
    wait_for "7: job $j COMPLETED" is_state "$j" COMPLETED || continue
    n=$(grep -c "job $j completed" "$T/b/log")
    [ "$n" -eq 1 ] && ok || bad "7: job $j completed $n times"
    rm -f "$T/out.npy"
    if "$L" result "$j" -o "$T/out.npy" --server "$(api b)" >/dev/null 2>"$T/err" &&
        "$PY" -c 'import numpy as np, sys
a, b = np.load(sys.argv[1]), np.load(sys.argv[2])
assert a.shape == b.shape and np.allclose(a, b, rtol=1e-5, atol=1e-6)' "$T/out.npy" "$T/ref.npy"
    then ok; else bad "7: job $j: output differs from lagrange run: $(cat "$T/err")"; fi
done

# ---- the end: every daemon stops cleanly ---------------------------------------

term a "end"; term r "end"; term b "end"
echo "# pass $pass fail $fail"
[ "$fail" -eq 0 ]
