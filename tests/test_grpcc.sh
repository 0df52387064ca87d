#!/bin/sh
# test_grpcc.sh - the CLI's gRPC client (cli/grpcc.c) and the API verbs
# (cli/jobs.c, cli/models.c) against tests/api/fake_server.py, an
# in-memory lagrange.v1.Scheduler on grpcio: a gRPC server we did not
# write is the oracle for the transport (HTTP/2 over a unix socket and
# over TLS, framing, trailers, Trailers-Only errors, deadlines, bearer
# tokens) and for the exit codes of lagrange(1).
# Run by `make check`; uses LG_SRCDIR and ./cli/lagrange (or $LAGRANGE).
# Skips (77) without python3-grpcio, python3-grpc-tools and numpy.
set -u
src=$(cd "${LG_SRCDIR:-$(dirname "$0")/..}" && pwd)
L=${LAGRANGE:-./cli/lagrange}
case $L in /*) ;; *) L=$(pwd)/$L ;; esac
PY=/usr/bin/python3
if ! [ -x "$PY" ] || ! "$PY" -c 'import grpc, grpc_tools, numpy' 2>/dev/null
then
    echo "SKIP: needs $PY with grpc, grpc_tools and numpy"
    exit 77
fi
tmp=$(mktemp -d /tmp/lg-grpcc.XXXXXX)
spid=
jpid=
cleanup() {
    [ -n "$spid" ] && kill "$spid" 2>/dev/null && wait "$spid" 2>/dev/null
    [ -n "$jpid" ] && kill "$jpid" 2>/dev/null && wait "$jpid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
pass=0
fail=0
ok() { pass=$((pass+1)); }
bad() { fail=$((fail+1)); echo "FAIL: $*"; }

# expect CODE PATTERN CMD...: exit code CODE and stderr matching PATTERN;
# stdout in $tmp/out, stderr in $tmp/err.
expect() {
    code=$1; pat=$2; shift 2
    "$@" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    if [ "$rc" -ne "$code" ]; then
        bad "$* -> exit $rc, want $code: $(head -c 300 "$tmp/err")"
        return 1
    elif [ -n "$pat" ] && ! grep -q -- "$pat" "$tmp/err"; then
        bad "$* -> stderr lacks '$pat': $(head -c 300 "$tmp/err")"
        return 1
    fi
    ok
}
# check DESCRIPTION CMD...: the command succeeds.
check() {
    d=$1; shift
    if "$@" >/dev/null 2>&1; then ok; else bad "$d"; fi
}

# ---- the server: unix socket, a bearer token, and TLS when openssl is here
echo secret-token >"$tmp/token"
tls=
if command -v openssl >/dev/null 2>&1 &&
   openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
       -nodes -keyout "$tmp/key.pem" -out "$tmp/cert.pem" -days 1 \
       -subj /CN=localhost -addext subjectAltName=DNS:localhost \
       >/dev/null 2>&1; then
    tls="--tls $tmp/cert.pem $tmp/key.pem --port-file $tmp/port"
fi
# shellcheck disable=SC2086
"$PY" "$src/tests/api/fake_server.py" "$tmp/api.sock" --token secret-token \
    $tls 2>"$tmp/server.log" &
spid=$!
i=0
while ! grep -q '^ready' "$tmp/server.log" 2>/dev/null; do
    i=$((i+1))
    if [ $i -gt 300 ] || ! kill -0 "$spid" 2>/dev/null; then
        echo "FAIL: fake server did not start:"; cat "$tmp/server.log"
        exit 1
    fi
    sleep 0.1
done
export LAGRANGE_SERVER="unix:$tmp/api.sock"
export LAGRANGE_TOKEN_FILE="$tmp/token"
unset LAGRANGE_CACERT

# ---- help and usage
for v in model submit queue show watch cancel result nodes; do
    expect 0 "" "$L" $v --help
    grep -q "^usage: lagrange $v" "$tmp/out" || bad "$v --help: no usage line"
done
expect 2 "unknown column 'bogus'" "$L" queue -o id,bogus
expect 2 "columns: name,kind,self,up,gflops,power_w" "$L" nodes -o nope
expect 2 "missing MODEL" "$L" submit
expect 2 "no inputs" "$L" submit m
expect 2 "write NAME=FILE.npy" "$L" submit m -i "$tmp/a.npy" -i "$tmp/b.npy"
expect 2 "unix:/PATH or https://HOST:PORT" "$L" nodes --server tcp:foo
expect 2 "--timeout wants a duration" "$L" nodes --timeout soon
expect 2 "--deadline wants a duration" "$L" submit m -i x.npy --deadline 3x
expect 2 "--priority wants 0..7" "$L" submit m -i x.npy --priority 9
expect 2 "unknown state 'done'" "$L" queue --state running,done
expect 2 "is for listings" "$L" show j1 --parsable
expect 2 "one or the other" "$L" result j1 -o a.npy -O d
expect 2 "missing JOB" "$L" watch
expect 2 "unknown command 'frob'" "$L" model frob

# ---- unary: nodes, table and JSON
expect 0 "" "$L" nodes
# This server sends no node health: those columns are "-" and null.
grep -q '^NAME  *KIND  *SELF  *UP  *GFLOPS  *POWER_W  *STATE  *LOAD  *JOBS  *SOC  *SUN  *FAULTS  *HEARD$' "$tmp/out" &&
    grep -q '^gs-mad  *ground  *yes  *yes  *50000  *5000  *-  *-  *-  *-  *-  *-  *-$' "$tmp/out" ||
    bad "nodes table: $(cat "$tmp/out")"
expect 0 "" "$L" nodes --json
"$PY" -c 'import json,sys; d=json.load(open(sys.argv[1]))
h = dict.fromkeys(["state", "load", "jobs", "soc", "sun", "faults", "heard"])
assert len(d)==6 and d[0]=={"name":"gs-mad","kind":"ground","self":True,"up":True,"gflops":50000,"power_w":5000, **h}, d[0]' \
    "$tmp/out" || bad "nodes --json: $(cat "$tmp/out")"
grep -q "call ListNodes ua=lagrange-cli/.* timeout=[23][0-9]\.[0-9]" \
    "$tmp/server.log" || bad "server saw no user-agent or grpc-timeout"

# ---- client stream: a 9 MiB model, checked by SHA-256 at both ends
head -c 9437185 /dev/urandom >"$tmp/m.onnx"
sha=$(sha256sum "$tmp/m.onnx" | cut -d' ' -f1)
expect 0 "" "$L" model push "$tmp/m.onnx"
[ "$(cat "$tmp/out")" = "$sha" ] || bad "model push printed $(cat "$tmp/out"), want $sha"
expect 0 "" "$L" model push "$tmp/m.onnx" --name again --json
"$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["id"]==sys.argv[2] and d["name"]=="again" and d["size"]==9437185, d' \
    "$tmp/out" "$sha" || bad "model push --json: $(cat "$tmp/out")"
expect 0 "" "$L" model push "$tmp/m.onnx" --name m
expect 2 "--name wants" "$L" model push "$tmp/m.onnx" --name 'a b'
expect 1 "No such file" "$L" model push "$tmp/none.onnx"
# refused on its header while the bytes are still going: the answer
# arrives mid-upload (see probe in cli/grpcc.c)
head -c 13000000 /dev/zero >"$tmp/huge.onnx"
expect 1 "above the limit of 12582912 (RESOURCE_EXHAUSTED)" \
    "$L" model push "$tmp/huge.onnx"
rm -f "$tmp/huge.onnx"
head -c 1000 /dev/urandom >"$tmp/two.onnx"
head -c 1001 /dev/urandom >"$tmp/fail.onnx"
head -c 1002 /dev/urandom >"$tmp/slow.onnx"
head -c 1003 /dev/urandom >"$tmp/trunc.onnx"
for n in two fail slow trunc; do
    expect 0 "" "$L" model push "$tmp/$n.onnx"
done
expect 0 "" "$L" model ls
grep -q "^m  *$(echo "$sha" | cut -c1-16)  *9.0 MiB " "$tmp/out" ||
    bad "model ls: $(cat "$tmp/out")"
expect 0 "" "$L" model ls --json
"$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); m=[x for x in d if x["name"]=="m"][0]
assert m["id"]==sys.argv[2] and m["inputs"]==[{"name":"input","dtype":"float32","shape":[-1]}], m' \
    "$tmp/out" "$sha" || bad "model ls --json: $(cat "$tmp/out")"
expect 0 "" "$L" model ls -o name --noheader
[ "$(sort "$tmp/out" | tr '\n' ' ')" = "fail m slow trunc two " ] ||
    bad "model ls -o name: $(cat "$tmp/out")"

# ---- inputs
"$PY" -c '
import numpy as np, sys
d = sys.argv[1]
np.random.seed(7)
np.save(d + "/small.npy", np.random.rand(1, 3, 8, 8).astype(np.float32))
np.save(d + "/big.npy", np.random.rand(3, 1000, 700).astype(np.float32))
np.save(d + "/a.npy", np.arange(12, dtype=np.int64).reshape(3, 4))
np.save(d + "/b.npy", np.random.rand(5).astype(np.float64))
' "$tmp"

# ---- submit, watch, show, result (server streams)
expect 0 "" "$L" submit m -i "$tmp/small.npy" --name first
J1=$(cat "$tmp/out")
case $J1 in j????????????) ok ;; *) bad "submit printed '$J1'" ;; esac
expect 0 "" "$L" watch "$J1"
# the first line is the job as it is now: PENDING if we were quick
grep -qv "^20[0-9-]*T[0-9:]*\.[0-9][0-9][0-9]Z $J1 [A-Z]* [^ ].* [0-9]*%$" \
    "$tmp/out" && bad "watch line format: $(cat "$tmp/out")"
tail -1 "$tmp/out" | grep -q "^20[0-9-]*T[0-9:.]*Z $J1 COMPLETED - 100%$" ||
    bad "watch lines: $(cat "$tmp/out")"
expect 0 "" "$L" show "$J1"
grep -q "^Id=$J1$" "$tmp/out" && grep -q "^State=COMPLETED$" "$tmp/out" &&
    grep -q "^Name=first$" "$tmp/out" &&
    grep -q "^Outputs=output:float32\[1,3,8,8\]$" "$tmp/out" ||
    bad "show: $(cat "$tmp/out")"
expect 0 "" "$L" show "$J1" --json
"$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["id"]==sys.argv[2] and d["state"]=="COMPLETED" and d["nodes"]==["gs-mad","leo-gpu-1"] and d["progress"]==1, d' \
    "$tmp/out" "$J1" || bad "show --json: $(cat "$tmp/out")"
expect 0 "" "$L" result "$J1" -o "$tmp/r1.npy"
cmp -s "$tmp/r1.npy" "$tmp/small.npy" || bad "result -o differs from the input"
(cd "$tmp" && "$L" result "$J1") >"$tmp/out" 2>"$tmp/err" &&
    [ "$(cat "$tmp/out")" = "$J1/output.npy" ] &&
    cmp -s "$tmp/$J1/output.npy" "$tmp/small.npy" ||
    bad "result into ./JOB/: $(cat "$tmp/out" "$tmp/err")"

# a 8.4 MiB input goes through PutBlob, its 8.4 MiB output in 9 chunks
expect 0 "" "$L" submit m -i input="$tmp/big.npy" --wait -O "$tmp/bigout"
[ "$(cat "$tmp/out")" = "$tmp/bigout/output.npy" ] ||
    bad "submit --wait printed $(cat "$tmp/out")"
cmp -s "$tmp/bigout/output.npy" "$tmp/big.npy" ||
    bad "submit --wait: the 8.4 MiB result differs from the input"
grep -q "call PutBlob" "$tmp/server.log" || bad "big input did not use PutBlob"
expect 0 "" "$L" submit m -i "$tmp/small.npy" --wait --json -O "$tmp/jw"
"$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["job"]["state"]=="COMPLETED" and d["files"]==[sys.argv[2]+"/jw/output.npy"], d' \
    "$tmp/out" "$tmp" || bad "submit --wait --json: $(cat "$tmp/out")"
expect 0 "" "$L" watch "$J1" --json
"$PY" -c 'import json,sys
ev=[json.loads(l) for l in open(sys.argv[1])]
assert ev[0]["event"]=="snapshot" and ev[-1]["job"]["state"]=="COMPLETED", ev' \
    "$tmp/out" || bad "watch --json: $(cat "$tmp/out")"

# two inputs, two outputs
expect 0 "" "$L" submit two -i a="$tmp/a.npy" -i b="$tmp/b.npy" --wait \
    -O "$tmp/two"
cmp -s "$tmp/two/a_out.npy" "$tmp/a.npy" &&
    cmp -s "$tmp/two/b_out.npy" "$tmp/b.npy" || bad "two outputs differ"
J2=$("$L" queue -o id,model --noheader | awk '$2=="two"{print $1}')
expect 2 "has 2 outputs (a_out, b_out)" "$L" result "$J2" -o "$tmp/x.npy"
expect 0 "" "$L" result "$J2" --output b_out -o "$tmp/x.npy"
cmp -s "$tmp/x.npy" "$tmp/b.npy" || bad "result --output b_out differs"
expect 6 "no output 'c_out'" "$L" result "$J2" --output c_out -O "$tmp/c"

# idempotency: the same key gives the same job
expect 0 "" "$L" submit m -i "$tmp/small.npy" --idempotency-key k1
K1=$(cat "$tmp/out")
expect 0 "" "$L" submit m -i "$tmp/small.npy" --idempotency-key k1
[ "$(cat "$tmp/out")" = "$K1" ] || bad "idempotency key: $K1 then $(cat "$tmp/out")"

# ---- statuses and exit codes
expect 6 "no job 'j000000000000' (NOT_FOUND)" "$L" show j000000000000
expect 6 "no job" "$L" watch j000000000000
expect 6 "no model 'nosuch'" "$L" submit nosuch -i "$tmp/small.npy"
expect 6 "no model 'nosuch'" "$L" model rm nosuch
expect 3 "has no input 'nope'" "$L" submit m -i nope="$tmp/small.npy"
expect 3 "short.npy" sh -c "head -c 100 '$tmp/small.npy' >'$tmp/short.npy' && '$L' submit m -i '$tmp/short.npy'"
expect 9 "FAILED: executor: out of memory" "$L" submit fail -i "$tmp/small.npy" --wait
JF=$("$L" queue --state failed -o id --noheader)
expect 9 "FAILED" "$L" watch "$JF"
expect 0 "" "$L" submit slow -i "$tmp/small.npy"
JS=$(cat "$tmp/out")
sleep 0.3
expect 0 "" "$L" show "$JS"
grep -q "^Reason=WaitingContact(leo-gpu-1, 41s)$" "$tmp/out" ||
    bad "slow job reason: $(cat "$tmp/out")"
expect 1 "is PLANNED: no result (FAILED_PRECONDITION)" "$L" result "$JS"
# watch in the background, cancel: the watch ends with exit 9
"$L" watch "$JS" >"$tmp/wout" 2>"$tmp/werr" &
jpid=$!
sleep 0.5
expect 0 "" "$L" cancel "$JS" --reason "drill"
[ "$(cat "$tmp/out")" = "$JS CANCELLED" ] || bad "cancel printed $(cat "$tmp/out")"
wait "$jpid"; rc=$?; jpid=
[ $rc -eq 9 ] && grep -q "CANCELLED: drill" "$tmp/werr" ||
    bad "watch of a cancelled job: exit $rc, $(cat "$tmp/werr")"
expect 1 "already ended CANCELLED (FAILED_PRECONDITION)" "$L" cancel "$JS"
# an error after the first message of a stream
expect 1 "damaged (DATA_LOSS)" "$L" submit trunc -i "$tmp/big.npy" --wait \
    -O "$tmp/tr"
JT=$("$L" queue -o id,model --noheader | awk '$2=="trunc"{print $1}')
expect 1 "damaged (DATA_LOSS)" "$L" result "$JT" -O "$tmp/tr2"
[ ! -e "$tmp/tr2/output.npy" ] || bad "a truncated result was written"
# deadlines: the server sleeps 5 s; we give it 1 s
t0=$(date +%s)
expect 8 "DEADLINE_EXCEEDED" "$L" show jsleep --timeout 1s
[ $(( $(date +%s) - t0 )) -le 3 ] || bad "--timeout 1s took $(( $(date +%s) - t0 ))s"
# no server, no token, a wrong token, an empty token file
expect 7 "cannot reach lagranged at unix:$tmp/none.sock: No such file or directory (is lagranged running?" \
    "$L" nodes --server "unix:$tmp/none.sock"
expect 7 "cannot reach" env LAGRANGE_SERVER="unix:$tmp/none.sock" "$L" queue
expect 10 "missing or wrong bearer token (UNAUTHENTICATED)" \
    env -u LAGRANGE_TOKEN_FILE "$L" nodes
echo wrong >"$tmp/wrong"
expect 10 "UNAUTHENTICATED" "$L" model push "$tmp/two.onnx" --token-file "$tmp/wrong"
: >"$tmp/empty"
expect 1 "no token on its first line" "$L" nodes --token-file "$tmp/empty"
# a unix socket that answers HTTP/1.1, not HTTP/2
"$PY" -c '
import socket, sys, os
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(4)
while True:
    c, _ = s.accept(); c.recv(65536)
    c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"); c.close()
' "$tmp/h1.sock" &
jpid=$!
i=0; while [ ! -S "$tmp/h1.sock" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done
expect 7 "does it speak gRPC" "$L" nodes --server "unix:$tmp/h1.sock"
kill "$jpid"; wait "$jpid" 2>/dev/null; jpid=

# answers grpcio never gives, from a hand-made HTTP/2 server
raw() {
    mode=$1; code=$2; pat=$3
    rm -f "$tmp/raw.sock" "$tmp/raw.log"
    "$PY" "$src/tests/api/fake_server.py" "$tmp/raw.sock" --raw "$mode" \
        2>"$tmp/raw.log" &
    jpid=$!
    i=0
    while ! grep -q '^ready' "$tmp/raw.log" 2>/dev/null && [ $i -lt 300 ]; do
        sleep 0.1; i=$((i+1))
    done
    expect "$code" "$pat" "$L" nodes --server "unix:$tmp/raw.sock" --timeout 5s
    kill "$jpid"; wait "$jpid" 2>/dev/null; jpid=
}
raw http415 1 "HTTP 415 from unix:$tmp/raw.sock (INTERNAL)"
raw html 1 "content-type 'text/html', not application/grpc (UNKNOWN)"
raw nostatus 1 "without a grpc-status (INTERNAL)"
raw huge 1 "2147483648 bytes is above the client's limit of 64 MiB (RESOURCE_EXHAUSTED)"
raw compressed 1 "compressed message (we accept identity only) (INTERNAL)"
raw message 6 "no job ✓ 100% (NOT_FOUND)"

# ---- TLS: https://localhost:PORT with our CA; without it the peer is refused
if [ -n "$tls" ]; then
    port=$(cat "$tmp/port")
    expect 0 "" "$L" nodes --server "https://localhost:$port" --cacert "$tmp/cert.pem"
    grep -q "^gs-mad " "$tmp/out" || bad "nodes over TLS: $(cat "$tmp/out")"
    expect 0 "" "$L" submit m -i input="$tmp/big.npy" --wait -O "$tmp/tlsout" \
        --server "https://localhost:$port" --cacert "$tmp/cert.pem"
    cmp -s "$tmp/tlsout/output.npy" "$tmp/big.npy" || bad "TLS result differs"
    expect 7 "cannot reach lagranged at https://localhost:$port" \
        "$L" nodes --server "https://localhost:$port"
    expect 1 "CA file" "$L" nodes --server "https://localhost:$port" --cacert "$tmp/nope.pem"
else
    echo "note: no openssl, TLS not tested"
fi

# ---- queue: table, --parsable, -o, --json, --state
expect 0 "" "$L" queue
head -1 "$tmp/out" | grep -q '^ID  *MODEL  *STATE  *REASON  *AGE  *NODES$' ||
    bad "queue header: $(head -1 "$tmp/out")"
grep -q "^$J1  *m  *COMPLETED  *-  *[0-9][0-9ms]*  *gs-mad,leo-gpu-1$" "$tmp/out" ||
    bad "queue row: $(cat "$tmp/out")"
n=$(($(wc -l <"$tmp/out") - 1))
expect 0 "" "$L" queue --parsable
head -1 "$tmp/out" | grep -qx 'ID|MODEL|STATE|REASON|AGE|NODES' ||
    bad "queue --parsable header: $(head -1 "$tmp/out")"
grep -q "^$JS|slow|CANCELLED||[0-9ms]*|gs-mad,leo-gpu-1$" "$tmp/out" ||
    bad "queue --parsable row: $(cat "$tmp/out")"
[ $(($(wc -l <"$tmp/out") - 1)) -eq "$n" ] || bad "queue --parsable rows"
expect 0 "" "$L" queue -o id,state
grep -q "^$JS  *CANCELLED$" "$tmp/out" || bad "queue -o id,state: $(cat "$tmp/out")"
expect 0 "" "$L" queue -o ID,Model --parsable --noheader
grep -qx "$J1|m" "$tmp/out" || bad "queue -o ID,Model --parsable: $(cat "$tmp/out")"
expect 0 "" "$L" queue --json
"$PY" -c 'import json,sys
d=json.load(open(sys.argv[1])); n=int(sys.argv[2])
keys=["id","name","model","model_id","state","reason","age","nodes","progress","priority","objective","attempts","created","started","finished","updated","deadline","error","idempotency_key","outputs","partitions","predicted_s"]
assert len(d)==n, (len(d), n)
for j in d: assert list(j)==keys, list(j)
s=[j for j in d if j["id"]==sys.argv[3]][0]
assert s["state"]=="CANCELLED" and s["error"]=="drill" and s["model"]=="slow" and isinstance(s["age"],(int,float)) and s["deadline"] is None, s' \
    "$tmp/out" "$n" "$JS" || bad "queue --json: $(head -c 600 "$tmp/out")"
expect 0 "" "$L" queue -o id,state --json
"$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); assert all(list(j)==["id","state"] for j in d)' \
    "$tmp/out" || bad "queue -o id,state --json: $(cat "$tmp/out")"
expect 0 "" "$L" queue --state cancelled,FAILED -o state --noheader
[ "$(sort -u "$tmp/out" | tr '\n' ' ')" = "CANCELLED FAILED " ] ||
    bad "queue --state: $(cat "$tmp/out")"
expect 0 "" "$L" queue --limit 2 -o id --noheader
[ "$(wc -l <"$tmp/out")" -eq 2 ] || bad "queue --limit 2: $(cat "$tmp/out")"

# ---- model rm
expect 0 "" "$L" model rm m
[ "$(cat "$tmp/out")" = "$sha" ] || bad "model rm printed $(cat "$tmp/out")"
expect 6 "NOT_FOUND" "$L" model rm "$(echo "$sha" | cut -c1-12)"

echo "test_grpcc: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
