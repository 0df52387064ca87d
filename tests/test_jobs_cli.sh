#!/bin/sh
# test_jobs_cli.sh - the CLI's API verbs (model, submit, queue, show, watch,
# cancel, result, nodes) against a real lagranged: output checked against
# golden text (tests/jobs_cli/*.ok, with ids, ages and times normalised),
# exit codes against lagrange(1) EXIT STATUS, results against `lagrange
# run` (the CLI's own executor, an independent path from the daemon's
# scheduler and stores) and examples/tinynet-expected.npy (torch's).
# tests/test_grpcc.sh tests the same verbs against a fake server; this one
# runs the daemon itself.
#
# Cases: model push/ls (table, --json, --parsable, -o, unknown column)/rm;
# submit --wait -O, submit, watch, queue (table, --json, --parsable, -o,
# --noheader, --state, --limit), show, result -o / -O / ./JOB/; exit codes
# 6 (unknown model, job), 3 (wrong shape, bad .npy), 1 (cancel of an ended
# job, result of a cancelled one, rm of a model in use), 9 (submit --wait
# of a job cancelled while PENDING behind a slow job, JobWorkers=1), 8
# (watch --timeout of a PENDING job), 7 (daemon stopped); nodes; the jobs
# after SIGTERM and a restart; ApiListen over TLS with a bearer token
# (good 0, wrong 10, none 10, another CA 7, a certificate naming gs for
# https://127.0.0.1 7). The slow model is a MatMul+Tanh chain built with
# onnx.helper and sized by a `lagrange run` of 100 layers to take ~3 s.
#
#   sh ../tests/test_jobs_cli.sh    (from the build directory; KEEP=1 keeps
#                                    the temp dir; UPDATE=1 rewrites the
#                                    golden files from this run)
# Uses LG_SRCDIR, LAGRANGED (default ./daemon/lagranged) and LAGRANGE
# (default ./cli/lagrange). Skips (77) without /usr/bin/python3's numpy
# and onnx.
set -u
src=$(cd "${LG_SRCDIR:-$(dirname "$0")/..}" && pwd)
LD=${LAGRANGED:-./daemon/lagranged}
L=${LAGRANGE:-./cli/lagrange}
case $LD in /*) ;; *) LD=$(pwd)/$LD ;; esac
case $L in /*) ;; *) L=$(pwd)/$L ;; esac
PY=/usr/bin/python3
G=$src/tests/jobs_cli
EX=$src/examples

if ! [ -x "$PY" ] || ! "$PY" -c 'import numpy, onnx' 2>/dev/null; then
    echo "test_jobs_cli: SKIP: $PY cannot import numpy and onnx"
    exit 77
fi
for b in "$LD" "$L"; do
    [ -x "$b" ] || { echo "test_jobs_cli: $b not built" >&2; exit 1; }
done

T=$(mktemp -d /tmp/lg-jobscli.XXXXXX)
pid=
bpid=
cleanup() {
    [ -n "$bpid" ] && kill "$bpid" 2>/dev/null && wait "$bpid" 2>/dev/null
    [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    if [ -n "${KEEP:-}" ]; then echo "# keeping $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP
pass=0
fail=0
ok() { pass=$((pass+1)); }
bad() { fail=$((fail+1)); echo "FAIL: $*"; }

unset LAGRANGE_TOKEN_FILE LAGRANGE_CACERT LAGRANGE_GRPC_TRACE
export LAGRANGE_SERVER="unix:$T/api.sock"

# expect CODE PATTERN CMD...: exit status CODE and stderr containing
# PATTERN (fixed string); stdout in $T/out, stderr in $T/err.
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
# is WHAT GOT WANT: two strings are equal.
is() {
    if [ "$2" = "$3" ]; then ok; else bad "$1: got '$2', want '$3'"; fi
}
# same FILE1 FILE2 WHAT: the two files are byte for byte equal.
same() {
    if cmp -s "$1" "$2"; then ok; else bad "$3"; fi
}
# pycheck WHAT SCRIPT ARGS...: a /usr/bin/python3 assertion.
pycheck() {
    w=$1; shift
    if "$PY" -c "$@" >"$T/py.err" 2>&1; then ok
    else bad "$w: $(tail -c 400 "$T/py.err" | tr '\n' ' ')"; fi
}

# Normalising: ids found during the run become <J1>, <TINY_ID>, ...;
# ISO 8601 times become <TIME>; Age= of show becomes <AGE>.
: >"$T/ids.sed"
name_id() { [ -n "$2" ] && printf 's/%s/<%s>/g\n' "$2" "$1" >>"$T/ids.sed"; }
TIMERE='[0-9]\{4\}-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9]\(\.[0-9]*\)\{0,1\}Z'
# norm SEP AGEFIELD FIRSTROW <in >out: in rows from FIRSTROW on, field
# AGEFIELD (0: none) becomes <AGE>; with SEP " " runs of blanks squeeze to
# one (the table's padding), with SEP "|" fields stay as they are.
norm() {
    sed -f "$T/ids.sed" -e "s/$TIMERE/<TIME>/g" -e 's/^Age=.*/Age=<AGE>/' |
    awk -v sep="$1" -v f="$2" -v r="$3" '
        BEGIN { if (sep != " ") { FS = sep; OFS = sep } }
        { if (f > 0 && NR >= r) $f = "<AGE>"; else $1 = $1; print }'
}
# golden NAME SEP AGEFIELD FIRSTROW: $T/out, normalised, must equal
# tests/jobs_cli/NAME.ok.
golden() {
    gn=$1; shift
    norm "$@" <"$T/out" >"$T/norm"
    [ -n "${UPDATE:-}" ] && cp "$T/norm" "$G/$gn.ok"
    if diff "$G/$gn.ok" "$T/norm" >"$T/diff" 2>&1; then ok
    else
        bad "$gn: differs from tests/jobs_cli/$gn.ok:" \
            "$(grep '^[<>]' "$T/diff" | head -8 | tr '\n' '|')"
    fi
}

# ---- fixtures: inputs, and a chain model sized to run about 3 s --------
TINY=$EX/tinynet.onnx
IN=$EX/tinynet-input.npy
cp "$src/tests/daemon/conf/tiny.topo" "$T/"
cat >"$T/fixtures.py" <<'EOF'
import json, socket, subprocess, sys
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
np.save(T + "/wrong.npy", np.zeros((1, 3, 32, 32), np.float32))
with open(T + "/bad.npy", "wb") as f:
    f.write(b"this is not a .npy file\n")
chain(100, T + "/c100.onnx")
r = subprocess.run([L, "run", T + "/c100.onnx", "-i", T + "/x.npy",
                    "--repeat", "3", "--json"], check=True,
                   capture_output=True, text=True)
per = json.loads(r.stdout)["median_ms"] / 1e3 / 100
# about 6 s: long enough that the steps behind it (a PENDING job shown,
# watched with a timeout, then cancelled) finish while it runs, even on a
# loaded machine
layers = int(min(max(6.0 / per, 200), 40000))
chain(layers, T + "/slow.onnx")
print("slow model: %d layers, %.2f ms each, about %.1f s" %
      (layers, per * 1e3, layers * per))
ports = []
socks = [socket.socket() for _ in range(3)]
for s in socks:
    s.bind(("127.0.0.1", 0))
    ports.append(s.getsockname()[1])
for s in socks:
    s.close()
with open(T + "/ports", "w") as f:
    f.write(" ".join(map(str, ports)) + "\n")
EOF
"$PY" "$T/fixtures.py" "$T" "$L" >"$T/fix.log" 2>&1 ||
    { echo "test_jobs_cli: fixtures failed: $(tail -5 "$T/fix.log")"; exit 1; }
read -r PEERPORT APIPORT _ <"$T/ports"

# the daemon's configuration; $T/tls.conf adds ApiListen for the restarts
cat >"$T/gs.conf" <<CONF
NodeId=gs
Topology=tiny.topo
Tls=no
Listen=127.0.0.1:$PEERPORT
SpoolDir=$T/spool
InboxDir=$T/inbox
ControlSocket=$T/ctl.sock
ApiSocket=$T/api.sock
JobDir=$T/jobs
ModelDir=$T/models
BlobDir=$T/blobs
MetricsListen=none
JobWorkers=1
CONF

# start CONF: lagranged in the background, serving the API within 15 s
start() {
    "$LD" -f "$1" 2>>"$T/gs.log" &
    pid=$!
    i=0
    until "$L" queue --timeout 2s >/dev/null 2>&1; do
        i=$((i+1))
        if [ $i -gt 150 ] || ! kill -0 "$pid" 2>/dev/null; then
            echo "FAIL: lagranged did not start with $1:"; tail -15 "$T/gs.log"
            exit 1
        fi
        sleep 0.1
    done
}
# stop: SIGTERM, and the daemon exits 0
stop() {
    kill -TERM "$pid"
    wait "$pid"
    drc=$?
    pid=
    if [ $drc -eq 0 ]; then ok
    else bad "lagranged exited $drc after SIGTERM: $(tail -3 "$T/gs.log" | tr '\n' ' ')"; fi
}
start "$T/gs.conf"

# ---- model push / ls ----------------------------------------------------
TSHA=$(sha256sum "$TINY" | cut -d' ' -f1)
SSHA=$(sha256sum "$T/slow.onnx" | cut -d' ' -f1)
name_id TINY_ID "$TSHA"
name_id TINY_ID16 "$(echo "$TSHA" | cut -c1-16)"
expect 0 "" "$L" model push "$TINY" &&
    is "model push prints the sha256" "$(cat "$T/out")" "$TSHA"
expect 0 "" "$L" model ls && golden model_ls " " 0 1
expect 0 "" "$L" model ls --json &&
    pycheck "model ls --json" 'import json, sys
d = json.load(open(sys.argv[1]))
assert isinstance(d, list) and len(d) == 1, d
m = d[0]
assert list(m) == ["name", "id", "size", "nodes", "gflops", "created",
                   "inputs", "outputs"], list(m)
assert m["name"] == "tinynet" and m["id"] == sys.argv[2], m
assert m["size"] == int(sys.argv[3]) and m["nodes"] == 60, m
assert m["inputs"] == [{"name": "image", "dtype": "float32",
                        "shape": [1, 3, 96, 96]}], m
assert m["outputs"] == [{"name": "logits", "dtype": "float32",
                         "shape": [1, 10]}], m' \
        "$T/out" "$TSHA" "$(wc -c <"$TINY")"
expect 0 "" "$L" model ls --parsable && golden model_ls_parsable "|" 0 1
expect 0 "" "$L" model ls -o name,id && golden model_ls_o " " 0 1
expect 0 "" "$L" model ls -o NAME,Id --parsable --noheader &&
    is "model ls -o NAME,Id --parsable --noheader" "$(cat "$T/out")" "tinynet|$TSHA"
expect 2 "unknown column 'bogus' (columns: name,id,size,nodes,gflops,created,inputs,outputs)" \
    "$L" model ls -o name,bogus

# ---- submit --wait, submit, watch ----------------------------------------
expect 0 "" "$L" run "$TINY" -i "$IN" -o "$T/ref.npy"
expect 0 "" "$L" submit tinynet -i "$IN" --wait -O "$T/w1" &&
    is "submit --wait prints the output's path" "$(cat "$T/out")" "$T/w1/logits.npy"
pycheck "submit --wait output vs lagrange run and torch" '
import numpy as np, sys
got = np.load(sys.argv[1])
for ref in sys.argv[2:]:
    r = np.load(ref)
    assert got.dtype == r.dtype and got.shape == r.shape == (1, 10), (got.shape, r.shape)
    assert np.allclose(got, r, rtol=1e-4, atol=1e-5), (ref, abs(got - r).max())' \
    "$T/w1/logits.npy" "$T/ref.npy" "$EX/tinynet-expected.npy"
J1=$("$L" queue -o id --noheader 2>"$T/err")
name_id J1 "$J1"
expect 0 "" "$L" submit tinynet -i image="$IN" --name second
J2=$(cat "$T/out")
if printf '%s\n' "$J2" | grep -qx 'j[0-9a-f]\{12\}'; then ok
else bad "submit printed '$J2', want ^j[0-9a-f]{12}\$"; fi
name_id J2 "$J2"
expect 0 "" "$L" watch "$J2" && {
    # the first line is the job as it is now (PENDING if we were quick)
    if grep -vq "^20[0-9-]*T[0-9:]*\.[0-9][0-9][0-9]Z $J2 [A-Z]* [^ ][^ ]* [0-9]*%\$" "$T/out"
    then bad "watch line format: $(cat "$T/out")"; else ok; fi
    tail -1 "$T/out" >"$T/out1" && mv "$T/out1" "$T/out" && golden watch " " 0 1
}

# ---- queue ---------------------------------------------------------------
expect 0 "" "$L" queue && golden queue " " 5 2
expect 0 "" "$L" queue --parsable && golden queue_parsable "|" 5 2
expect 0 "" "$L" queue -o id,state --noheader && golden queue_o " " 0 1
expect 0 "" "$L" queue --json && cp "$T/out" "$T/queue.json" &&
    pycheck "queue --json" 'import json, sys
d = json.load(open(sys.argv[1]))
keys = ["id", "name", "model", "model_id", "state", "reason", "age", "nodes",
        "progress", "priority", "objective", "attempts", "created", "started",
        "finished", "updated", "deadline", "error", "idempotency_key",
        "outputs", "partitions", "predicted_s"]
assert isinstance(d, list) and [j["id"] for j in d] == sys.argv[2:4], d
for j in d:
    assert list(j) == keys, list(j)
    assert j["state"] == "COMPLETED" and j["model"] == "tinynet", j
    assert j["model_id"] == sys.argv[4] and j["nodes"] == ["gs"], j
    assert j["partitions"] == 1 and j["predicted_s"] is None, j
    assert j["progress"] == 1 and j["attempts"] == 1 and j["reason"] == "", j
    assert isinstance(j["age"], (int, float)) and j["age"] >= 0, j
    assert j["deadline"] is None and j["objective"] == "time", j
    for k in ("created", "started", "finished", "updated"):
        assert j[k].endswith("Z") and "T" in j[k], (k, j[k])
assert d[0]["name"] == "" and d[1]["name"] == "second", d' \
        "$T/out" "$J1" "$J2" "$TSHA"
expect 0 "" "$L" queue --state COMPLETED -o id --noheader &&
    is "queue --state COMPLETED" "$(tr '\n' ' ' <"$T/out")" "$J1 $J2 "
expect 0 "" "$L" queue --state pending,RUNNING --noheader &&
    is "queue --state pending,RUNNING" "$(cat "$T/out")" ""
expect 0 "" "$L" queue --limit 1 -o id --noheader &&
    is "queue --limit 1: one row" "$(wc -l <"$T/out" | tr -d ' ')" 1
# lagrange(1): --limit keeps the N most recent jobs.
is "queue --limit 1: the most recent job" "$(cat "$T/out")" "$J2"

# ---- show ----------------------------------------------------------------
expect 0 "" "$L" show "$J2" && golden show " " 0 1
expect 0 "" "$L" show "$J2" --json &&
    pycheck "show --json" 'import json, sys
j = json.load(open(sys.argv[1]))
assert j["id"] == sys.argv[2] and j["state"] == "COMPLETED", j
assert j["outputs"] == [{"name": "logits", "dtype": "float32",
                         "shape": [1, 10]}], j
q = [x for x in json.load(open(sys.argv[3])) if x["id"] == sys.argv[2]][0]
assert list(q) == list(j), (list(q), list(j))' "$T/out" "$J2" "$T/queue.json"
# lagrange(1), Listings: --json has "every column", outputs included.
pycheck "queue --json: the outputs of a COMPLETED job, as show --json has them" '
import json, sys
q = [x for x in json.load(open(sys.argv[1])) if x["id"] == sys.argv[2]][0]
assert q["outputs"] == [{"name": "logits", "dtype": "float32",
                         "shape": [1, 10]}], q["outputs"]' \
    "$T/queue.json" "$J2"
expect 6 "no job 'nosuch' (NOT_FOUND)" "$L" show nosuch
expect 6 "no job 'j000000000000' (NOT_FOUND)" "$L" show j000000000000

# ---- result --------------------------------------------------------------
expect 0 "" "$L" result "$J2" -o "$T/r2.npy" &&
    is "result -o prints the path" "$(cat "$T/out")" "$T/r2.npy"
same "$T/r2.npy" "$T/w1/logits.npy" \
    "result -o differs from the submit --wait output"
expect 0 "" "$L" result "$J2" -O "$T/r2d" &&
    is "result -O prints the path" "$(cat "$T/out")" "$T/r2d/logits.npy"
same "$T/r2d/logits.npy" "$T/w1/logits.npy" \
    "result -O differs from the submit --wait output"
mkdir "$T/cwd"
if (cd "$T/cwd" && "$L" result "$J2") >"$T/out" 2>"$T/err" &&
    [ "$(cat "$T/out")" = "$J2/logits.npy" ] &&
    cmp -s "$T/cwd/$J2/logits.npy" "$T/w1/logits.npy"; then ok
else bad "result into ./JOB/: $(cat "$T/out" "$T/err")"; fi

# ---- exit codes ----------------------------------------------------------
expect 6 "no model 'nosuch'" "$L" submit nosuch -i "$IN"
expect 3 "input 'image' has shape [1,3,32,32]; the model wants [1,3,96,96] (INVALID_ARGUMENT)" \
    "$L" submit tinynet -i "$T/wrong.npy"
expect 3 "$T/bad.npy" "$L" submit tinynet -i "$T/bad.npy"
expect 3 "has no input 'nope'" "$L" submit tinynet -i nope="$IN"
expect 1 "job $J2 is already COMPLETED (FAILED_PRECONDITION)" "$L" cancel "$J2"
expect 6 "no job" "$L" cancel j000000000000
expect 6 "no job" "$L" result j000000000000 -o "$T/none.npy"
expect 0 "" "$L" queue -o id --noheader &&
    is "refused submits make no job" "$(tr '\n' ' ' <"$T/out")" "$J1 $J2 "

# ---- nodes ---------------------------------------------------------------
# LOAD and JOBS of this node depend on the jobs just run, HEARD on timing:
# normalised where set (other nodes are never heard of here: "-").
expect 0 "" "$L" nodes &&
    awk 'NR >= 2 && $8 != "-" { $8 = "<LOAD>"; $9 = "<JOBS>" } { print }' \
        "$T/out" >"$T/out.n" && mv "$T/out.n" "$T/out" &&
    golden nodes " " 13 2
expect 0 "" "$L" nodes --json &&
    pycheck "nodes --json" 'import json, sys
d = json.load(open(sys.argv[1]))
assert [n["name"] for n in d if n["self"]] == ["gs"], d
assert d[0]["name"] == "gs" and d[0]["up"] is True and d[0]["kind"] == "ground", d[0]
assert d[0]["state"] == "up" and d[0]["soc"] == -1 and d[0]["sun"] == "sunlit", d[0]
assert d[1]["state"] == "unknown" and d[1]["heard"] is None, d[1]' \
        "$T/out"

# ---- a job cancelled while PENDING behind a slow one (JobWorkers=1) ------
expect 0 "" "$L" model push "$T/slow.onnx" --name slow &&
    is "model push slow prints the sha256" "$(cat "$T/out")" "$SSHA"
expect 0 "" "$L" submit slow -i "$T/x.npy" --name slow-1
S=$(cat "$T/out")
i=0
until "$L" show "$S" 2>/dev/null | grep -qx 'State=RUNNING'; do
    i=$((i+1)); [ $i -gt 100 ] && break; sleep 0.1
done
"$L" submit tinynet -i "$IN" --wait -O "$T/cw" >"$T/bout" 2>"$T/berr" &
bpid=$!
P=
i=0
while [ -z "$P" ] && [ $i -lt 100 ]; do
    P=$("$L" queue --state pending -o id --noheader 2>/dev/null)
    [ -z "$P" ] && sleep 0.1
    i=$((i+1))
done
if [ -z "$P" ]; then
    bad "no PENDING job behind the slow one: $("$L" queue 2>&1 | tr '\n' '|')"
else
    name_id P "$P"
    expect 0 "" "$L" show "$P" &&
        is "show of the PENDING job" \
            "$(grep -E '^(State|Reason)=' "$T/out" | tr '\n' ' ')" \
            "State=PENDING Reason=WaitingExecutor "
    # watch gives up after --timeout while the job waits: status 8
    expect 8 "DEADLINE_EXCEEDED" "$L" watch "$P" --timeout 300ms &&
        is "watch --timeout: the snapshot line" "$(norm " " 0 1 <"$T/out")" \
            "<TIME> <P> PENDING WaitingExecutor 0%"
    expect 0 "" "$L" cancel "$P" --reason drill &&
        is "cancel prints JOB STATE" "$(cat "$T/out")" "$P CANCELLED"
    wait "$bpid"
    rc=$?
    bpid=
    if [ $rc -eq 9 ] && grep -qF "job $P CANCELLED: cancelled: drill" "$T/berr"
    then ok
    else bad "submit --wait of a job cancelled while PENDING: exit $rc" \
        "(want 9): $(cat "$T/berr")"; fi
    [ -e "$T/cw/logits.npy" ] && bad "submit --wait of a cancelled job wrote an output"
    expect 0 "" "$L" show "$P" &&
        is "show of the cancelled job" \
            "$(grep -E '^(State|Error)=' "$T/out" | tr '\n' ' ')" \
            "State=CANCELLED Error=cancelled: drill "
    expect 1 "job $P is already CANCELLED (FAILED_PRECONDITION)" "$L" cancel "$P"
    expect 1 "no result (FAILED_PRECONDITION)" "$L" result "$P" -o "$T/none.npy"
    expect 9 "job $P CANCELLED: cancelled: drill" "$L" watch "$P"
fi
expect 1 "is used by job $S (RUNNING) (FAILED_PRECONDITION)" "$L" model rm slow
if expect 0 "" "$L" watch "$S"; then
    tail -1 "$T/out" | grep -q " $S COMPLETED - 100%\$" ||
        bad "watch of the slow job: $(tail -1 "$T/out")"
fi

# ---- model rm --------------------------------------------------------------
expect 0 "" "$L" model rm slow &&
    is "model rm prints the id" "$(cat "$T/out")" "$SSHA"
expect 6 "no model 'slow'" "$L" model rm slow
expect 6 "no model 'nosuch'" "$L" model rm nosuch
expect 0 "" "$L" model ls -o name --noheader &&
    is "model ls after rm" "$(cat "$T/out")" "tinynet"

# ---- stop: the API verbs cannot reach it ---------------------------------
"$L" queue -o id,state --noheader >"$T/before" 2>&1
stop
expect 7 "cannot reach lagranged at unix:$T/api.sock" "$L" queue

# ---- restart on the same directories, now also on TLS ----------------
if ! { "$L" cert ca --out "$T/ca" &&
        "$L" cert node gs --ca "$T/ca" --out "$T/ca" &&
        "$L" cert node localhost --ca "$T/ca" --out "$T/ca" &&
        "$L" cert ca --out "$T/other"; } >/dev/null 2>"$T/cert.err"; then
    echo "FAIL: lagrange cert: $(cat "$T/cert.err")"; exit 1
fi
echo 0f1e2d3c4b5a69788796a5b4c3d2e1f0 >"$T/token"      # 32 characters
echo 0f1e2d3c4b5a69788796a5b4c3d2e1fX >"$T/wrong"
chmod 600 "$T/token"
tlsconf() {
    cat "$T/gs.conf"
    printf 'ApiListen=127.0.0.1:%s\nTlsCert=%s\nTlsKey=%s\nApiTokenFile=%s\n' \
        "$APIPORT" "$T/ca/$1.crt" "$T/ca/$1.key" "$T/token"
}
tlsconf gs >"$T/gs-tls.conf"
tlsconf localhost >"$T/localhost-tls.conf"
start "$T/gs-tls.conf"
expect 0 "" "$L" queue -o id,state --noheader &&
    is "queue after a restart" "$(cat "$T/out")" "$(cat "$T/before")"
expect 0 "" "$L" result "$J2" -o "$T/r3.npy"
same "$T/r3.npy" "$T/w1/logits.npy" \
    "result after a restart differs from the submit --wait output"
expect 0 "" "$L" show "$J1" &&
    is "show after a restart" "$(grep -E '^(State|Attempts)=' "$T/out" | tr '\n' ' ')" \
        "State=COMPLETED Attempts=1 "
# lagrange cert node gs makes subjectAltName DNS:gs only: https://127.0.0.1
# must be refused by the client's host name check (status 7)
expect 7 "cannot reach lagranged at https://127.0.0.1:$APIPORT" \
    "$L" queue --server "https://127.0.0.1:$APIPORT" --cacert "$T/ca/ca.crt" \
    --token-file "$T/token"
stop

# The daemon does not check the API certificate against NodeId when Tls=no
# (only peer sessions use NodeId's certificate), so one naming localhost
# gives a host name the client can verify without a resolver trick.
start "$T/localhost-tls.conf"
H="https://localhost:$APIPORT"
expect 0 "" "$L" queue --server "$H" --cacert "$T/ca/ca.crt" \
    --token-file "$T/token" -o id,state --noheader &&
    is "queue over TLS with the token" "$(cat "$T/out")" "$(cat "$T/before")"
expect 10 "UNAUTHENTICATED" "$L" queue --server "$H" --cacert "$T/ca/ca.crt" \
    --token-file "$T/wrong"
expect 10 "UNAUTHENTICATED" "$L" queue --server "$H" --cacert "$T/ca/ca.crt"
expect 7 "cannot reach lagranged at $H" "$L" queue --server "$H" \
    --cacert "$T/other/ca.crt" --token-file "$T/token"
expect 0 "" "$L" result "$J1" -o "$T/r4.npy" --server "$H" \
    --cacert "$T/ca/ca.crt" --token-file "$T/token"
same "$T/r4.npy" "$T/w1/logits.npy" \
    "result over TLS differs from the submit --wait output"
stop

echo "test_jobs_cli: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
