#!/bin/sh
# test_sockact.sh - lagranged under systemd's conventions, without systemd:
#  - the directories: `lagranged -n` with STATE_DIRECTORY, RUNTIME_DIRECTORY,
#    CONFIGURATION_DIRECTORY and LOGS_DIRECTORY set (several paths: the
#    first) prints the paths under them (tests/daemon/conf/minimal-env.ok),
#    without them the plain ones, which the CLI's defaults match;
#    a run with only those variables and a config that names no path: no
#    -f (the config comes from CONFIGURATION_DIRECTORY), the sockets in
#    the runtime directory, the stores in the state directory, a job's
#    line in LOGS_DIRECTORY/jobcomp.log (no JobCompLog key);
#  - socket activation (systemd-socket-activate, skipped with a note if
#    it is not installed): the first client's connection starts lagranged
#    and is served on the socket systemd bound, the log says so, ApiSocket
#    is not bound, and the socket is still there after SIGTERM; two
#    sockets named x:api; the fallback (nothing passed, or another
#    process's LISTEN_PID) binds ApiSocket and removes it at stop;
#    unusable sockets (datagram, TCP, two without the name api, not
#    listening, not a socket, a closed fd, LISTEN_FDS=abc or huge) exit 3
#    naming the fd;
#  - the job completion log (JobCompLog): a COMPLETED, an EXPIRED, a
#    CANCELLED (while running) and a FAILED job (an index out of range),
#    one line each with every field; logrotate's move then SIGHUP: the
#    next line goes to a new file; a JobCompLog that cannot be opened
#    (under a regular file) is logged naming it and the job still
#    COMPLETES. Needs /usr/bin/python3 with numpy and onnx (the slow and
#    the failing models; skipped with a note otherwise).
# Waits poll with generous bounds; nothing asserts on time. Uses LG_SRCDIR,
# LAGRANGED (default ./daemon/lagranged), LAGRANGE (default ./cli/lagrange).
set -u
src=$(cd "${LG_SRCDIR:-$(dirname "$0")/..}" && pwd)
LD=${LAGRANGED:-./daemon/lagranged}
L=${LAGRANGE:-./cli/lagrange}
case $LD in /*) ;; *) LD=$(pwd)/$LD ;; esac
case $L in /*) ;; *) L=$(pwd)/$L ;; esac
PY=/usr/bin/python3
EX=$src/examples
TINY=$EX/tinynet.onnx
IN=$EX/tinynet-input.npy
for b in "$LD" "$L"; do
    [ -x "$b" ] || { echo "test_sockact: $b not built" >&2; exit 1; }
done
unset STATE_DIRECTORY RUNTIME_DIRECTORY CONFIGURATION_DIRECTORY \
    LOGS_DIRECTORY LISTEN_PID LISTEN_FDS LISTEN_FDNAMES NOTIFY_SOCKET \
    LAGRANGE_SERVER LAGRANGE_TOKEN_FILE LAGRANGE_CACERT LAGRANGE_SOCKET

T=$(mktemp -d /tmp/lg-sockact.XXXXXX)
pid=
cleanup() {
    [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    if [ -n "${KEEP:-}" ]; then echo "# keeping $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP
pass=0
fail=0
ok() { pass=$((pass+1)); }
bad() { fail=$((fail+1)); echo "FAIL: $*"; }
note() { echo "# $*"; }

# expect CODE PATTERN CMD...: exit status CODE, stderr containing PATTERN
# (fixed string); stdout in $T/out, stderr in $T/err.
expect() {
    code=$1; pat=$2; shift 2
    "$@" >"$T/out" 2>"$T/err"
    rc=$?
    if [ "$rc" -ne "$code" ]; then
        bad "$* -> exit $rc, want $code: $(head -c 300 "$T/err")"
        return 1
    elif [ -n "$pat" ] && ! grep -qF -- "$pat" "$T/err"; then
        bad "$* -> stderr lacks '$pat': $(head -c 300 "$T/err")"
        return 1
    fi
    ok
}
is() {
    if [ "$2" = "$3" ]; then ok; else bad "$1: got '$2', want '$3'"; fi
}

PORT=$((21000 + $$ % 20000))
cp "$src/tests/daemon/conf/tiny.topo" "$T/"
# conf FILE APISOCKET PREFIX [EXTRA]: a config with every path under
# $T/PREFIX (ApiSocket as given).
conf() {
    PORT=$((PORT + 1))
    cat >"$1" <<CONF
NodeId=gs
Topology=$T/tiny.topo
Tls=no
Listen=127.0.0.1:$PORT
SpoolDir=$T/$3/spool
InboxDir=$T/$3/inbox
ControlSocket=$T/$3/ctl.sock
ApiSocket=$2
JobDir=$T/$3/jobs
ModelDir=$T/$3/models
BlobDir=$T/$3/blobs
MetricsListen=none
JobWorkers=1
${4:-}
CONF
}

# serving SERVER PID LOG: the API answers on SERVER within 30 s while
# PID lives. Polling is also what starts a socket-activated daemon.
serving() {
    i=0
    until "$L" queue --server "$1" --timeout 3s >/dev/null 2>&1; do
        i=$((i+1))
        if [ $i -gt 100 ] || ! kill -0 "$2" 2>/dev/null; then
            bad "lagranged did not serve $1: $(tail -5 "$3" | tr '\n' '|')"
            return 1
        fi
        sleep 0.3
    done
    ok
}
# stop PID LOG: SIGTERM, and the daemon exits 0.
stop() {
    kill -TERM "$1"
    wait "$1"
    src_rc=$?
    pid=
    if [ $src_rc -eq 0 ]; then ok
    else bad "lagranged exited $src_rc after SIGTERM: $(tail -3 "$2" | tr '\n' '|')"; fi
}
# exits3 WHAT PID LOG PATTERN: PID ends with status 3 and LOG says PATTERN.
exits3() {
    wait "$2"
    e_rc=$?
    pid=
    if [ $e_rc -ne 3 ]; then
        bad "$1: exit $e_rc, want 3: $(tail -3 "$3" | tr '\n' '|')"
    elif ! grep -qF -- "$4" "$3"; then
        bad "$1: the log lacks '$4': $(tail -3 "$3" | tr '\n' '|')"
    else
        ok
    fi
}
# poke KIND ADDR: one connection (stream, tcp) or datagram to ADDR, which
# is what makes systemd-socket-activate start the daemon.
poke() {
    "$PY" - "$1" "$2" <<'EOF' 2>/dev/null
import socket, sys
kind, addr = sys.argv[1], sys.argv[2]
if kind == "tcp":
    h, p = addr.rsplit(":", 1)
    s = socket.create_connection((h, int(p)), timeout=5)
elif kind == "dgram":
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.sendto(b"x", addr)
else:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(addr)
s.close()
EOF
}

# ---- the directories: the normal form ------------------------------------
cd "$src/tests/daemon/conf" || exit 1
STATE_DIRECTORY=/var/lib/x:/var/lib/y RUNTIME_DIRECTORY=/run/x/ \
CONFIGURATION_DIRECTORY=/etc/x LOGS_DIRECTORY=/var/log/x \
    "$LD" -n -f minimal.in >"$T/out" 2>"$T/err"
rc=$?
if [ $rc -ne 0 ]; then bad "-n with systemd's directories: exit $rc: $(cat "$T/err")"
elif ! cmp -s "$T/out" minimal-env.ok; then
    bad "-n with systemd's directories differs from minimal-env.ok:" \
        "$(diff minimal-env.ok "$T/out" | head -6 | tr '\n' '|')"
else ok; fi
# Without them: the plain defaults (minimal.ok), whatever was set before.
"$LD" -n -f minimal.in >"$T/out" 2>"$T/err" && cmp -s "$T/out" minimal.ok &&
    ok || bad "-n without systemd's directories differs from minimal.ok"
# A relative one is ignored, and said.
expect 0 "STATE_DIRECTORY='var/lib/x' ignored: not an absolute path" \
    env STATE_DIRECTORY=var/lib/x "$LD" -n -f minimal.in
grep -qx 'SpoolDir=/var/lib/lagrange/spool' "$T/out" && ok ||
    bad "an ignored STATE_DIRECTORY changed SpoolDir: $(grep SpoolDir "$T/out")"
# The CLI's defaults are the daemon's plain ones.
ctl=$("$LD" -n -f minimal.in | sed -n 's/^ControlSocket=//p')
api=$("$LD" -n -f minimal.in | sed -n 's/^ApiSocket=//p')
"$L" status --help 2>&1 | grep -qF "else $ctl)" && ok ||
    bad "lagrange status's default socket is not lagranged's $ctl"
"$L" queue --help 2>&1 | grep -qF "else unix:$api)" && ok ||
    bad "lagrange's default server is not lagranged's unix:$api"
# No -f: the configuration directory's lagranged.conf.
mkdir -p "$T/nof"
expect 3 "$T/nof/lagranged.conf: No such file" \
    env CONFIGURATION_DIRECTORY="$T/nof" "$LD" -n
cd "$T" || exit 1

# ---- the directories: a run ------------------------------------------------
# Only NodeId and its neighbours' business in the file; every path from
# the environment. No -f.
mkdir -p "$T/etc"
cp "$T/tiny.topo" "$T/etc/"
PORT=$((PORT + 1))
printf 'NodeId=gs\nTopology=tiny.topo\nTls=no\nListen=127.0.0.1:%s\nMetricsListen=none\n' \
    "$PORT" >"$T/etc/lagranged.conf"
STATE_DIRECTORY="$T/st" RUNTIME_DIRECTORY="$T/rt:$T/rt2" \
CONFIGURATION_DIRECTORY="$T/etc" LOGS_DIRECTORY="$T/lg" \
    "$LD" 2>"$T/env.log" &
pid=$!
if serving "unix:$T/rt/api.sock" "$pid" "$T/env.log"; then
    for f in rt/lagranged.sock rt/api.sock; do
        [ -S "$T/$f" ] && ok || bad "no socket $T/$f"
    done
    for d in st/spool st/jobs st/models st/blobs; do
        [ -d "$T/$d" ] && ok || bad "no directory $T/$d"
    done
    [ -e "$T/rt2" ] && bad "the second RUNTIME_DIRECTORY path was used"
    expect 0 "" "$L" status --socket "$T/rt/lagranged.sock"
    expect 0 "" "$L" model push "$TINY" --server "unix:$T/rt/api.sock"
    TSHA=$(sha256sum "$TINY" | cut -c1-12)
    expect 0 "" "$L" submit tinynet -i "$IN" --name envjob --wait \
        -O "$T/envout" --server "unix:$T/rt/api.sock"
    J=$("$L" queue -o id --noheader --server "unix:$T/rt/api.sock")
    if [ -f "$T/lg/jobcomp.log" ] &&
        grep -q "^JobId=$J Name=envjob Model=tinynet@$TSHA State=COMPLETED Reason=- " \
            "$T/lg/jobcomp.log"; then ok
    else bad "no COMPLETED line in LOGS_DIRECTORY/jobcomp.log:" \
        "$(cat "$T/lg/jobcomp.log" 2>&1)"; fi
    stop "$pid" "$T/env.log"
    [ -e "$T/rt/api.sock" ] && bad "ApiSocket left behind at stop" || ok
else
    kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; pid=
fi

# ---- socket activation: what cannot be used exits 3 ----------------------
mkdir -p "$T/bad"
conf "$T/bad.conf" "$T/bad/api.sock" bad
sh -c 'export LISTEN_PID=$$ LISTEN_FDS=abc; exec "$0" -f "$1"' \
    "$LD" "$T/bad.conf" 2>"$T/b1.log" &
pid=$!
exits3 "LISTEN_FDS=abc" "$pid" "$T/b1.log" "LISTEN_FDS='abc' is not a number"
sh -c 'export LISTEN_PID=$$ LISTEN_FDS=99999999999999999999999; exec "$0" -f "$1"' \
    "$LD" "$T/bad.conf" 2>"$T/b2.log" &
pid=$!
exits3 "LISTEN_FDS huge" "$pid" "$T/b2.log" "LISTEN_FDS='99999999999999999999999' is not a number"
sh -c 'export LISTEN_PID=$$ LISTEN_FDS=1 LISTEN_FDNAMES=api; exec "$0" -f "$1" 3<"$1"' \
    "$LD" "$T/bad.conf" 2>"$T/b3.log" &
pid=$!
exits3 "a file as fd 3" "$pid" "$T/b3.log" "LISTEN_FDS: fd 3 (name 'api') is not a socket"
sh -c 'export LISTEN_PID=$$ LISTEN_FDS=1; exec "$0" -f "$1" 3<&-' \
    "$LD" "$T/bad.conf" 2>"$T/b4.log" &
pid=$!
exits3 "fd 3 closed" "$pid" "$T/b4.log" "LISTEN_FDS: fd 3: Bad file descriptor"
if [ -x "$PY" ]; then
    # a unix stream socket bound but not listening
    "$PY" - "$LD" "$T/bad.conf" "$T/bad/nl.sock" 2>"$T/b8.log" <<'EOF' &
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[3])
if s.fileno() != 3:
    os.dup2(s.fileno(), 3)
os.set_inheritable(3, True)
os.environ.update(LISTEN_PID=str(os.getpid()), LISTEN_FDS="1",
                  LISTEN_FDNAMES="api")
os.execv(sys.argv[1], [sys.argv[1], "-f", sys.argv[2]])
EOF
    pid=$!
    exits3 "a socket not listening" "$pid" "$T/b8.log" \
        "LISTEN_FDS: fd 3 (name 'api') is not listening"
fi
[ -e "$T/bad/api.sock" ] && bad "a refused start bound ApiSocket" || ok

# ---- socket activation: with systemd-socket-activate ----------------------
SSA=$(command -v systemd-socket-activate)
mkdir -p "$T/sa"
conf "$T/sa.conf" "$T/sa/unused.sock" sa "JobCompLog=$T/jc/jobcomp.log"
if [ -z "$SSA" ]; then
    note "SKIP socket activation with systemd-socket-activate: not installed"
elif ! [ -x "$PY" ]; then
    note "SKIP socket activation with systemd-socket-activate: no $PY to connect"
else
    # unusable sockets: each starts at the first contact and exits 3
    "$SSA" -d -l "$T/bad/dg.sock" --fdname=api "$LD" -f "$T/bad.conf" \
        2>"$T/b5.log" &
    pid=$!
    i=0; until [ -S "$T/bad/dg.sock" ] || [ $i -gt 100 ]; do sleep 0.1; i=$((i+1)); done
    poke dgram "$T/bad/dg.sock"
    exits3 "a datagram socket" "$pid" "$T/b5.log" \
        "LISTEN_FDS: fd 3 (name 'api') is not a stream socket"
    PORT=$((PORT + 1))
    "$SSA" -l "127.0.0.1:$PORT" --fdname=api "$LD" -f "$T/bad.conf" \
        2>"$T/b6.log" &
    pid=$!
    i=0; until poke tcp "127.0.0.1:$PORT" || [ $i -gt 100 ]; do sleep 0.1; i=$((i+1)); done
    exits3 "a TCP socket" "$pid" "$T/b6.log" \
        "LISTEN_FDS: fd 3 (name 'api') is not a unix socket"
    "$SSA" -l "$T/bad/a.sock" -l "$T/bad/b.sock" "$LD" -f "$T/bad.conf" \
        2>"$T/b7.log" &
    pid=$!
    i=0; until poke stream "$T/bad/a.sock" || [ $i -gt 100 ]; do sleep 0.1; i=$((i+1)); done
    exits3 "two sockets, no names" "$pid" "$T/b7.log" \
        "systemd passed 2 sockets and none is named 'api'"

    # the API socket from systemd: the first client starts the daemon
    "$SSA" -l "$T/sa/api.sock" --fdname=api "$LD" -f "$T/sa.conf" \
        2>"$T/sa.log" &
    pid=$!
    i=0; until [ -S "$T/sa/api.sock" ] || [ $i -gt 100 ]; do sleep 0.1; i=$((i+1)); done
    expect 0 "" "$L" model push "$TINY" --server "unix:$T/sa/api.sock" \
        --timeout 60s
    TSHA=$(sha256sum "$TINY" | cut -c1-12)
    serving "unix:$T/sa/api.sock" "$pid" "$T/sa.log"
    expect 0 "" "$L" model ls -o name --noheader --server "unix:$T/sa/api.sock" &&
        is "model ls over systemd's socket" "$(cat "$T/out")" tinynet
    grep -qF "API socket from systemd (fd 3, path $T/sa/api.sock, name api)" \
        "$T/sa.log" && ok || bad "the log does not say the API socket came" \
        "from systemd: $(grep -i api "$T/sa.log" | head -3 | tr '\n' '|')"
    [ -e "$T/sa/unused.sock" ] && bad "ApiSocket was bound under socket activation" || ok
    SA_PID=$pid
fi

# ---- the job completion log -----------------------------------------------
if [ -n "${SA_PID:-}" ]; then
    API="unix:$T/sa/api.sock"
    LOGF=$T/jc/jobcomp.log
    if ! "$PY" -c 'import numpy, onnx' 2>/dev/null; then
        note "SKIP the job completion log's states: $PY cannot import numpy and onnx"
        JC=
    else
        JC=1
    fi
fi
if [ -n "${SA_PID:-}" ] && [ -n "$JC" ]; then
    cat >"$T/fixtures.py" <<'EOF'
import json, subprocess, sys
import numpy as np, onnx
from onnx import TensorProto, helper, numpy_helper
T, L = sys.argv[1], sys.argv[2]

def save(g, path):
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 7
    onnx.save(m, path)

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
    save(helper.make_graph(
        nodes, "slow",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, n])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, n])],
        [numpy_helper.from_array(W, "W")]), path)

rng = np.random.default_rng(11)
np.save(T + "/x.npy", rng.standard_normal((64, 512)).astype(np.float32))
# Gather from 3 values at the index given: index 10 passes every check
# made at upload and submit, and fails the run
save(helper.make_graph(
    [helper.make_node("Gather", ["d", "i"], ["y"], axis=0)], "gather",
    [helper.make_tensor_value_info("i", TensorProto.INT64, [1])],
    [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
    [numpy_helper.from_array(np.arange(3, dtype=np.float32), "d")]),
    T + "/gather.onnx")
np.save(T + "/i10.npy", np.array([10], dtype=np.int64))
# the slow model runs about 8 s: long enough to outlast a 1 s deadline
# behind it and a cancel while it runs
chain(100, T + "/c100.onnx")
r = subprocess.run([L, "run", T + "/c100.onnx", "-i", T + "/x.npy",
                    "--repeat", "3", "--json"], check=True,
                   capture_output=True, text=True)
per = json.loads(r.stdout)["median_ms"] / 1e3 / 100
layers = int(min(max(8.0 / per, 400), 40000))
chain(layers, T + "/slow.onnx")
print("slow model: %d layers, %.2f ms each, about %.1f s" %
      (layers, per * 1e3, layers * per))
EOF
    if ! "$PY" "$T/fixtures.py" "$T" "$L" >"$T/fix.log" 2>&1; then
        bad "fixtures: $(tail -3 "$T/fix.log" | tr '\n' '|')"
    else
        SSHA=$(sha256sum "$T/slow.onnx" | cut -c1-12)
        expect 0 "" "$L" model push "$T/slow.onnx" --name slow --server "$API"
        expect 0 "" "$L" model push "$T/gather.onnx" --name gather --server "$API"
        GSHA=$(sha256sum "$T/gather.onnx" | cut -c1-12)
        expect 0 "" "$L" submit slow -i "$T/x.npy" --name slow-1 --server "$API"
        S=$(cat "$T/out")
        i=0
        until "$L" show "$S" --server "$API" 2>/dev/null | grep -qx 'State=RUNNING'; do
            i=$((i+1)); [ $i -gt 200 ] && break; sleep 0.1
        done
        # behind it, a job with a 1 s deadline: EXPIRED without running
        expect 0 "" "$L" submit tinynet -i "$IN" --deadline 1s --server "$API"
        E=$(cat "$T/out")
        i=0
        until "$L" show "$E" --server "$API" 2>/dev/null | grep -qx 'State=EXPIRED'; do
            i=$((i+1)); [ $i -gt 300 ] && break; sleep 0.1
        done
        expect 0 "" "$L" cancel "$S" --reason "drill two" --server "$API" &&
            is "cancel of the running slow job" "$(cat "$T/out")" "$S CANCELLED"
        # an index out of range: accepted, and FAILED when it runs
        expect 0 "" "$L" submit gather -i "$T/i10.npy" --server "$API"
        F=$(cat "$T/out")
        expect 0 "" "$L" submit tinynet -i "$IN" --name done --wait \
            -O "$T/done" --timeout 120s --server "$API"
        C=$("$L" queue --state completed -o id --noheader --server "$API")
        expect 9 "" "$L" watch "$F" --timeout 60s --server "$API"
        # one line per final job, each field
        TS='[0-9]\{4\}-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9]\.[0-9][0-9][0-9]Z'
        EL='[0-9][0-9]*\.[0-9][0-9][0-9]'
        line() {       # line WHAT REGEX: exactly one line of LOGF matches
            n=$(grep -c "^$2\$" "$LOGF" 2>/dev/null)
            if [ "$n" = 1 ]; then ok
            else bad "$1: $n lines match in $LOGF: $(cat "$LOGF" 2>&1 | tr '\n' '|')"; fi
        }
        line "the COMPLETED job" "JobId=$C Name=done Model=tinynet@$TSHA State=COMPLETED Reason=- Submit=$TS Start=$TS End=$TS Elapsed=$EL Node=gs Attempts=1"
        line "the EXPIRED job" "JobId=$E Name=- Model=tinynet@$TSHA State=EXPIRED Reason=\"deadline passed before the job could start\" Submit=$TS Start=- End=$TS Elapsed=0\.000 Node=gs Attempts=0"
        line "the CANCELLED job" "JobId=$S Name=slow-1 Model=slow@$SSHA State=CANCELLED Reason=\"cancelled: drill two\" Submit=$TS Start=$TS End=$TS Elapsed=$EL Node=gs Attempts=1"
        line "the FAILED job" "JobId=$F Name=- Model=gather@$GSHA State=FAILED Reason=\".*index 10 out of range.*\" Submit=$TS Start=$TS End=$TS Elapsed=$EL Node=gs Attempts=1"
        NL=4
        is "lines in the completion log" "$(wc -l <"$LOGF" | tr -d ' ')" "$NL"
        # a job cancelled while it ran logs once, not again when the run ends
        i=0
        until grep -qF "job $S: run ended after it became CANCELLED" "$T/sa.log" ||
            [ $i -gt 600 ]; do sleep 0.1; i=$((i+1)); done
        is "the cancelled job logged once" "$(grep -c "JobId=$S " "$LOGF")" 1

        # logrotate: move, SIGHUP, the next line goes to a new file
        mv "$LOGF" "$LOGF.1"
        kill -HUP "$SA_PID"
        i=0
        until grep -q "reloaded $T/sa.conf" "$T/sa.log" || [ $i -gt 100 ]; do
            sleep 0.1; i=$((i+1)); done
        expect 0 "" "$L" submit tinynet -i "$IN" --name rotated --wait \
            -O "$T/rot" --server "$API"
        if [ -f "$LOGF" ] && [ "$(wc -l <"$LOGF")" -eq 1 ] &&
            grep -q "^JobId=j[0-9a-f]* Name=rotated .* State=COMPLETED " "$LOGF"
        then ok
        else bad "after the move and SIGHUP, a new log with one line:" \
            "$(cat "$LOGF" 2>&1 | tr '\n' '|')"; fi
        is "the moved log keeps its lines" "$(wc -l <"$LOGF.1" | tr -d ' ')" "$NL"
        [ "$(stat -c %a "$LOGF")" = 640 ] && ok ||
            bad "JobCompLog mode $(stat -c %a "$LOGF"), want 640"

        # a JobCompLog that cannot be opened: said, naming it; jobs go on
        : >"$T/plain"
        sed -i "s|^JobCompLog=.*|JobCompLog=$T/plain/jobcomp.log|" "$T/sa.conf"
        n=$(grep -c "reloaded $T/sa.conf" "$T/sa.log")
        kill -HUP "$SA_PID"
        i=0
        until [ "$(grep -c "reloaded $T/sa.conf" "$T/sa.log")" -gt "$n" ] ||
            [ $i -gt 100 ]; do sleep 0.1; i=$((i+1)); done
        grep -qF "JobCompLog $T/plain/jobcomp.log: Not a directory" "$T/sa.log" &&
            ok || bad "no error naming the JobCompLog that cannot be opened"
        expect 0 "" "$L" submit tinynet -i "$IN" --name unlogged --wait \
            -O "$T/unl" --server "$API"
        grep -qF "COMPLETED, not logged: JobCompLog $T/plain/jobcomp.log: Not a directory (the job is not affected" \
            "$T/sa.log" && ok || bad "a failed JobCompLog write is not logged: $(tail -3 "$T/sa.log" | tr '\n' '|')"
        is "the old log untouched" "$(wc -l <"$LOGF" | tr -d ' ')" 1
    fi
fi
if [ -n "${SA_PID:-}" ]; then
    stop "$SA_PID" "$T/sa.log"
    [ -S "$T/sa/api.sock" ] && ok ||
        bad "systemd's socket $T/sa/api.sock was removed at stop"
    [ -e "$T/sa/unused.sock" ] && bad "ApiSocket created at stop" || ok
fi

# ---- socket activation: two sockets, named x:api --------------------------
if [ -n "$SSA" ] && [ -x "$PY" ]; then
    conf "$T/two.conf" "$T/two/unused.sock" two
    mkdir -p "$T/two"
    "$SSA" -l "$T/two/x.sock" -l "$T/two/api.sock" --fdname=x:api \
        "$LD" -f "$T/two.conf" 2>"$T/two.log" &
    pid=$!
    i=0; until [ -S "$T/two/api.sock" ] || [ $i -gt 100 ]; do sleep 0.1; i=$((i+1)); done
    if serving "unix:$T/two/api.sock" "$pid" "$T/two.log"; then
        grep -qF "API socket from systemd (fd 4, path $T/two/api.sock, name api)" \
            "$T/two.log" && ok || bad "two sockets: fd 4 not taken as the API socket"
        grep -qF "systemd passed 1 socket besides the API socket" "$T/two.log" &&
            ok || bad "two sockets: the other one is not mentioned"
        stop "$pid" "$T/two.log"
    fi
fi

# ---- the fallback: nothing passed, or passed to another process -----------
mkdir -p "$T/fb"
conf "$T/fb.conf" "$T/fb/api.sock" fb
"$LD" -f "$T/fb.conf" 2>"$T/fb.log" &
pid=$!
if serving "unix:$T/fb/api.sock" "$pid" "$T/fb.log"; then
    grep -q "from systemd" "$T/fb.log" && bad "fallback: the log says systemd" || ok
    stop "$pid" "$T/fb.log"
    [ -e "$T/fb/api.sock" ] && bad "fallback: ApiSocket left at stop" || ok
fi
LISTEN_PID=1 LISTEN_FDS=1 LISTEN_FDNAMES=api "$LD" -f "$T/fb.conf" 2>"$T/fb2.log" &
pid=$!
if serving "unix:$T/fb/api.sock" "$pid" "$T/fb2.log"; then
    grep -q "from systemd" "$T/fb2.log" && bad "another LISTEN_PID: taken" || ok
    stop "$pid" "$T/fb2.log"
fi

echo "test_sockact: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
