#!/bin/sh
# test_reload.sh - SIGHUP applies the difference between the running
# configuration and the new one to lagranged's neighbours, without loss.
# Real daemons over TLS on loopback: A linked to B; C is a node of the
# topology but not A's neighbour until a reload gives A a link to it.
#
# While A streams 120 small files and a 4 MiB one to B, A is reloaded
# with configurations that
#   (a) add C (a new link a<>c and Peer=c): C's link comes up;
#   (b) change the rate of A-B: the new rate is in force at once;
#   (c) remove C while a 3 MiB object for C crosses the slow A-C link:
#       C's link is gone, the bundles not yet acked by C stay in A's
#       spool, and an inbound session from C is refused, naming it;
#   (d) are invalid (a broken topology, a Peer that is not a neighbour,
#       a missing TlsCert): refused with the error logged, nothing
#       changes;
#   (e) add C again with a wrong Address, then (f) the right one: A
#       redials and the 3 MiB object is delivered at C exactly once.
# Throughout, the A-B session is never set up again (B sees the same
# remote port, both sides' session counters do not move), every file is
# delivered at B exactly once (content hash), A's spool ends empty, each
# change is logged with the peer's name, and the daemons stay up. Then a
# reload naming other TLS files sets every session up again. Then A
# runs under valgrind (if installed and the build is not an ASan one)
# through an add, a delivery, a remove and a bad reload, and must stop
# clean.
# Waits poll with generous bounds; nothing asserts on time. Uses
# LG_SRCDIR, LAGRANGED and LAGRANGE like test_peers.sh.
set -u
LD=${LAGRANGED:-./daemon/lagranged}
L=${LAGRANGE:-./cli/lagrange}
case $LD in /*) ;; *) LD=$(pwd)/$LD ;; esac
case $L in /*) ;; *) L=$(pwd)/$L ;; esac
PY=/usr/bin/python3
T=$(mktemp -d)
pids=""
cleanup() {
    for p in $pids; do kill -9 "$p" 2>/dev/null; done
    rm -rf "$T"
}
[ -n "${KEEP:-}" ] && echo "# keeping $T" || trap cleanup EXIT
pass=0
fail=0
ok() { pass=$((pass+1)); }
bad() { fail=$((fail+1)); echo "FAIL: $*"; }
note() { echo "# $*"; }

# Ports: a base from the pid, so that parallel runs rarely collide (not
# the range test_peers.sh uses).
base=$((10000 + ($$ % 1100) * 20))   # below the ephemeral ports (32768-)
PA=$base; PB=$((base+1)); PC=$((base+2)); PX=$((base+3))

# ---- certificates, topologies, configurations --------------------------------

"$L" cert ca --out "$T/tls" >/dev/null 2>&1 || { echo "cert ca failed"; exit 1; }
for n in a b c; do
    "$L" cert node $n --ca "$T/tls" --out "$T/tls" >/dev/null 2>&1 ||
        { echo "cert node $n failed"; exit 1; }
done

epoch=$(date -u +%Y-%m-%dT%H:%M:%SZ)
# topo FILE LINKS...: a topology of nodes a, b, c with these links.
topo() {
    f=$1; shift
    {
        echo "Epoch=$epoch"
        echo "Horizon=2h"
        echo "Node=a Kind=ground"
        echo "Node=b Kind=ground"
        echo "Node=c Kind=leo"
        for k in "$@"; do echo "$k"; done
    } >"$T/$f"
}
AB1="Link=a<>b Delay=5ms Rate=400M"
AB2="Link=a<>b Delay=5ms Rate=300M"
# 2 Mbit/s: a 3 MiB object takes some 12 s to cross.
AC="Link=a<>c Delay=5ms Rate=2M"
topo ab.topo "$AB1"               # C is there, nobody's neighbour
topo abc.topo "$AB1" "$AC"        # (a)
topo abc2.topo "$AB2" "$AC"       # (b) A-B at 300M
topo ab2.topo "$AB2"              # (c)
printf 'Epoch=%s\nNode=a Kind=ground\nLink=a<>b Rate=fast\n' "$epoch" \
    >"$T/broken.topo"             # (d)

# conf NODE PORT TOPO [LINES...]: NODE's configuration (TlsCert= and
# TlsKey= lines replace the default ones). B and C have no Peer lines:
# they wait for A to dial.
conf() {
    n=$1; port=$2; tp=$3; shift 3
    cert=$T/tls/$n.crt
    key=$T/tls/$n.key
    for p in "$@"; do
        case $p in
        TlsCert=*) cert=${p#TlsCert=} ;;
        TlsKey=*) key=${p#TlsKey=} ;;
        esac
    done
    mkdir -p "$T/$n"
    {
        echo "NodeId=$n"
        echo "Topology=$T/$tp"
        echo "Listen=127.0.0.1:$port"
        echo "SpoolDir=$T/$n/spool"
        echo "InboxDir=$T/$n/inbox"
        echo "TlsCert=$cert"
        echo "TlsKey=$key"
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
        echo "ChunkSize=256K"
        for p in "$@"; do
            case $p in TlsCert=*|TlsKey=*) ;; *) echo "$p" ;; esac
        done
    } >"$T/$n/lagranged.conf.new"
    mv "$T/$n/lagranged.conf.new" "$T/$n/lagranged.conf"
}
PEER_B="Peer=b Address=127.0.0.1:$PB"
PEER_C="Peer=c Address=127.0.0.1:$PC"
conf a $PA ab.topo "$PEER_B"
conf b $PB ab.topo
conf c $PC abc.topo

start() {
    n=$1; shift
    "$@" "$LD" -f "$T/$n/lagranged.conf" 2>>"$T/$n/log" &
    eval "pid_$n=$!"
    pids="$pids $!"
}
stop() {
    eval "p=\$pid_$1"
    kill "$p" 2>/dev/null
    wait "$p" 2>/dev/null
    rc=$?
    eval "pid_$1="
    return $rc
}
sockof() { echo "$T/$1/ctl.sock"; }

# wait_for DESC CMD...: poll CMD (0.1 s) until it succeeds, at most ~3 min.
wait_for() {
    desc=$1; shift
    i=0
    until "$@" >/dev/null 2>&1; do
        i=$((i+1))
        if [ $i -gt 1800 ]; then bad "$desc: still waiting"; return 1; fi
        for n in a b c; do
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

# linkf NODE PEER FIELD: one field of NODE's link to PEER ("absent" if
# there is no such link).
linkf() {
    "$L" links --json --socket "$(sockof "$1")" 2>/dev/null |
        "$PY" -c '
import json, sys
l = {x["node"]: x for x in json.load(sys.stdin)}
print(l[sys.argv[1]][sys.argv[2]] if sys.argv[1] in l else "absent")' "$2" "$3"
}
link_up() { [ "$(linkf "$1" "$2" state)" = up ]; }
link_absent() { [ "$(linkf "$1" "$2" state)" = absent ]; }
peers_of() {
    "$L" links --json --socket "$(sockof "$1")" 2>/dev/null |
        "$PY" -c 'import json,sys; print(",".join(sorted(x["node"] for x in json.load(sys.stdin))))'
}
reloads() {
    "$L" status --json --socket "$(sockof "$1")" 2>/dev/null |
        "$PY" -c 'import json,sys; print(json.load(sys.stdin)["reloads"])'
}
count_delivered() {
    if [ -f "$T/$1/inbox/delivered.tsv" ]; then
        wc -l <"$T/$1/inbox/delivered.tsv"
    else
        echo 0
    fi
}
delivered() { grep -q "	$2	" "$T/$1/inbox/delivered.tsv" 2>/dev/null; }
# logged NODE FROM PATTERN: NODE's log after line FROM matches PATTERN.
logged() { tail -n +$(($2 + 1)) "$T/$1/log" | grep -q -- "$3"; }
loglines() { wc -l <"$T/$1/log"; }
spool_n() {
    "$L" spool --json --socket "$(sockof "$1")" 2>/dev/null |
        "$PY" -c 'import json,sys; print(json.load(sys.stdin)["bundles"])'
}

# hup CONFLINES...: rewrite A's configuration and SIGHUP it; waits for
# the reload to be counted (or, with hup_bad, for the refusal to be
# logged).
HUP_BAD=
hup_bad() { HUP_BAD=1; hup "$@"; HUP_BAD=; }
hup() {
    from=$(loglines a)
    want=$(( $(reloads a) + 1 ))
    conf a $PA "$@"
    kill -HUP "$pid_a"
    if [ -n "${HUP_BAD:-}" ]; then
        wait_for "A logs the refused reload" logged a "$from" "reload \(failed\|refused\)"
    else
        reloaded() { [ "$(reloads a)" -ge "$want" ]; }
        wait_for "A reloads" reloaded
    fi
}

start a; start b; start c
wait_for "A-B up" link_up a b && ok
[ "$(peers_of a)" = "b" ] && ok || bad "A's links before any reload: $(peers_of a)"

# The A-B session as both ends see it: B's remote address (A's ephemeral
# port) and both session counters. Settle first: nothing else dials.
sleep 1
sess_b=$(linkf b a session)
nsess_b=$(linkf b a sessions)
nsess_a=$(linkf a b sessions)
note "A-B session: B sees A at $sess_b; sessions a:$nsess_a b:$nsess_b"
case $sess_b in 127.0.0.1:*) ok ;; *) bad "B's session field: $sess_b" ;; esac

# ---- the stream to B --------------------------------------------------------

mkdir -p "$T/many"
"$PY" - "$T/many" <<'EOF'
import os, sys
for i in range(120):
    with open(os.path.join(sys.argv[1], "m%03d" % i), "wb") as f:
        f.write(os.urandom(512 + (i * 7919) % 20000))
with open(os.path.join(sys.argv[1], "big"), "wb") as f:
    f.write(os.urandom(4 << 20))
EOF
: >"$T/stream.ids"
(
    i=0
    for f in "$T"/many/m* "$T/many/big"; do
        i=$((i+1))
        id=$("$L" send b "$f" --socket "$(sockof a)" 2>>"$T/send.err") &&
            echo "$id $f" >>"$T/stream.ids"
        sleep 0.05
    done
) &
streamer=$!

# ---- (a) C added ----------------------------------------------------------------

from=$(loglines a)
hup abc.topo "$PEER_B" "$PEER_C"
logged a "$from" "reload: peer c added (Address 127.0.0.1:$PC)" && ok ||
    bad "(a): no 'peer c added' line: $(tail -n +$((from + 1)) "$T/a/log" | grep reload)"
wait_for "(a): A-C up" link_up a c && ok
[ "$(peers_of a)" = "b,c" ] && ok || bad "(a): A's links: $(peers_of a)"

# A 3 MiB object for C: 12 chunks over 2 Mbit/s.
head -c $((3 << 20)) /dev/urandom >"$T/forc.bin"
cobj=$("$L" send c "$T/forc.bin" --socket "$(sockof a)" 2>"$T/err") && ok ||
    bad "send to C: $(cat "$T/err")"
# Let a few chunks cross, not all.
some_acked() { [ "$(linkf a c acked)" -ge 2 ]; }
wait_for "(a): C acks a first chunk or two" some_acked

# ---- (b) the A-B rate changes -------------------------------------------------

from=$(loglines a)
hup abc2.topo "$PEER_B" "$PEER_C"
logged a "$from" "reload: link a->b windows changed" && ok ||
    bad "(b): no 'link a->b windows changed' line"
logged a "$from" "reload: link b->a windows changed" && ok ||
    bad "(b): no 'link b->a windows changed' line"
logged a "$from" "reload: link a->c" && bad "(b): a->c said to change" || ok
rate=$(linkf a b rate_bit_s)
"$PY" -c "import sys; sys.exit(0 if abs(float('$rate') - 300e6) < 1 else 1)" && ok ||
    bad "(b): A-B rate after the reload: $rate bit/s, want 300M"

# ---- (c) C removed mid-object ----------------------------------------------------

from=$(loglines a)
acked_before=$(linkf a c acked)
hup ab2.topo "$PEER_B"
logged a "$from" "reload: peer c removed, [0-9]* bundles\? handed back to routing" && ok ||
    bad "(c): no 'peer c removed' line: $(tail -n +$((from + 1)) "$T/a/log" | grep reload)"
logged a "$from" "link c down: no longer a neighbour" && ok ||
    bad "(c): C's session not closed with a reason naming it"
link_absent a c && ok || bad "(c): A still lists C: $(peers_of a)"
[ "$(peers_of a)" = "b" ] && ok || bad "(c): A's links: $(peers_of a)"
delivered c "$cobj" && bad "(c): the object reached C before its removal" || ok
# C's side saw a Goodbye: not a silent drop.
wait_for "(c): C logs A's Goodbye" grep -q "peer said goodbye: no longer a neighbour" "$T/c/log" && ok

# An inbound session from C is refused now, with a log line naming C.
from=$(loglines a)
"$PY" - "$PA" "$T/tls" <<'EOF' >/dev/null 2>&1
import socket, ssl, sys
port, d = int(sys.argv[1]), sys.argv[2]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.minimum_version = ssl.TLSVersion.TLSv1_3
ctx.check_hostname = False
ctx.load_verify_locations(d + "/ca.crt")
ctx.load_cert_chain(d + "/c.crt", d + "/c.key")
s = socket.create_connection(("127.0.0.1", port))
s.settimeout(20)
try:
    t = ctx.wrap_socket(s)
    t.recv(1)
except Exception:
    pass
EOF
wait_for "(c): A refuses C's session, naming it" logged a "$from" \
    "session from c .*refused: 'c' is not a neighbour of a" && ok

# ---- (d) invalid configurations are refused ------------------------------------

n_reloads=$(reloads a)
rate_before=$(linkf a b rate_bit_s)
from=$(loglines a)
hup_bad broken.topo "$PEER_B"
logged a "$from" "reload failed, keeping the running configuration: .*broken.topo:3" && ok ||
    bad "(d): the broken topology's error not logged: $(tail -n +$((from + 1)) "$T/a/log" | grep reload)"
from=$(loglines a)
hup_bad abc2.topo "$PEER_B" "Peer=zz Address=127.0.0.1:$PX"
logged a "$from" "reload failed.*zz" && ok || bad "(d): Peer=zz not named"
from=$(loglines a)
hup_bad abc2.topo "$PEER_B" "$PEER_C" "TlsCert=$T/tls/missing.crt"
logged a "$from" "reload refused, keeping the running configuration: .*missing.crt" && ok ||
    bad "(d): the missing TlsCert not named: $(tail -n +$((from + 1)) "$T/a/log" | grep reload)"
logged a "$from" "reload: peer c added" && bad "(d): a refused reload added C" || ok
[ "$(reloads a)" = "$n_reloads" ] && ok || bad "(d): refused reloads counted as reloads"
[ "$(peers_of a)" = "b" ] && [ "$(linkf a b rate_bit_s)" = "$rate_before" ] &&
    link_up a b && ok || bad "(d): the links changed: $(peers_of a), rate $(linkf a b rate_bit_s)"

# ---- the stream is delivered exactly once -------------------------------------------

wait "$streamer"
[ "$(wc -l <"$T/stream.ids")" -eq 121 ] && ok ||
    bad "only $(wc -l <"$T/stream.ids") of 121 sends stored: $(head -3 "$T/send.err")"
all_in() { [ "$(count_delivered b)" -ge "$(wc -l <"$T/stream.ids")" ]; }
wait_for "the stream delivered at B" all_in && ok
sleep 0.5
if "$PY" - "$T/stream.ids" "$T/b/inbox" <<'EOF'
import collections, hashlib, sys
ids = dict(l.split() for l in open(sys.argv[1]))
lines = [l.rstrip("\n").split("\t") for l in open(sys.argv[2] + "/delivered.tsv")]
seen = collections.Counter(l[1] for l in lines)
dup = [k for k, v in seen.items() if v > 1]
assert not dup, "delivered more than once: %s" % dup[:5]
missing = [k for k in ids if k not in seen]
assert not missing, "never delivered: %s" % missing[:5]
for oid, path in ids.items():
    want = hashlib.sha256(open(path, "rb").read()).hexdigest()
    got = hashlib.sha256(open(sys.argv[2] + "/" + oid, "rb").read()).hexdigest()
    assert want == got, (oid, path)
print("# %d objects to B across the reloads: each delivered once, hashes "
      "match" % len(ids))
EOF
then ok; else bad "the stream to B: not exactly once"; fi
# Nothing for C was lost: once B has acked the whole stream, A holds
# the chunks C does not (C keeps those it has until the object is
# whole), and at least one. A chunk C stored just as the session closed,
# before its ack reached A, is held by both (custody is at least once;
# C drops the resend by id), so the two spools hold 12 or more.
twelve() { [ $(( $(spool_n a) + $(spool_n c) )) -ge 12 ]; }
if wait_for "A and C hold the 12 chunks for C between them" twelve; then
    left=$(spool_n a)
    note "(c): C had acked $acked_before chunks; $left of 12 stay in A's spool"
    [ "$left" -ge 1 ] && ok ||
        bad "(c): no bundle for C left in A's spool (the object crossed too fast to test)"
fi

# ---- (e) C again, wrong Address; (f) the right one ------------------------------

from=$(loglines a)
hup abc2.topo "$PEER_B" "Peer=c Address=127.0.0.1:$PX"
logged a "$from" "reload: peer c added (Address 127.0.0.1:$PX)" && ok ||
    bad "(e): no 'peer c added' line"
retrying() { [ "$(linkf a c state)" = retrying ] || [ "$(linkf a c state)" = connecting ]; }
wait_for "(e): A tries C at the wrong address" retrying && ok
from=$(loglines a)
hup abc2.topo "$PEER_B" "$PEER_C"
logged a "$from" "reload: peer c address changed 127.0.0.1:$PX -> 127.0.0.1:$PC, redialling" && ok ||
    bad "(f): no 'address changed' line: $(tail -n +$((from + 1)) "$T/a/log" | grep reload)"
wait_for "(f): A-C up again" link_up a c && ok
if wait_for "(f): the 3 MiB object delivered at C" delivered c "$cobj"; then
    want=$(sha256sum <"$T/forc.bin" | cut -d' ' -f1)
    got=$(sha256sum <"$T/c/inbox/$cobj" | cut -d' ' -f1)
    [ "$want" = "$got" ] && ok || bad "(f): the object at C: sha256 $got, sent $want"
    n=$(grep -c "	$cobj	" "$T/c/inbox/delivered.tsv")
    [ "$n" -eq 1 ] && ok || bad "(f): the object delivered $n times at C"
fi
a_empty() { "$L" spool --json --socket "$(sockof a)" | "$PY" -c 'import json,sys; sys.exit(0 if json.load(sys.stdin)["bundles"] == 0 else 1)'; }
wait_for "A's spool drains" a_empty && ok

# ---- the A-B session was never set up again -------------------------------------

[ "$(linkf b a session)" = "$sess_b" ] && ok ||
    bad "B's session with A changed: $sess_b -> $(linkf b a session)"
[ "$(linkf b a sessions)" = "$nsess_b" ] && [ "$(linkf a b sessions)" = "$nsess_a" ] && ok ||
    bad "A-B set up again: sessions a:$nsess_a->$(linkf a b sessions) b:$nsess_b->$(linkf b a sessions)"
grep -q "link b down\|link a down" "$T/a/log" "$T/b/log" &&
    bad "A-B went down: $(grep -h "link b down\|link a down" "$T/a/log" "$T/b/log" | head -2)" || ok
# Every reload line names its peer.
grep "reload: " "$T/a/log" | grep -v "reload: \(peer [a-z]\|link [a-z]->[a-z]\) " >"$T/unnamed"
[ -s "$T/unnamed" ] && bad "reload lines without a peer: $(head -2 "$T/unnamed")" || ok

# ---- new TLS settings: every session is set up again ----------------------------

mkdir -p "$T/tls2"
cp "$T/tls/a.crt" "$T/tls/a.key" "$T/tls2/"
from=$(loglines a)
nsess_a=$(linkf a b sessions)
hup abc2.topo "$PEER_B" "$PEER_C" "TlsCert=$T/tls2/a.crt" "TlsKey=$T/tls2/a.key"
logged a "$from" "reload: TLS settings changed, [0-9]* sessions\? set up again" && ok ||
    bad "TLS change: $(tail -n +$((from + 1)) "$T/a/log" | grep reload)"
logged a "$from" "link b down: TLS settings changed" && ok ||
    bad "TLS change: A-B not closed with a reason"
again() { link_up a b && link_up a c && [ "$(linkf a b sessions)" -gt "$nsess_a" ]; }
wait_for "TLS change: A-B and A-C up again" again && ok

# ---- A under valgrind ---------------------------------------------------------------

if command -v valgrind >/dev/null 2>&1 && ! nm "$LD" 2>/dev/null | grep -q __asan_init; then
    stop a || bad "A did not stop cleanly before valgrind"
    conf a $PA ab.topo "$PEER_B"
    # LAGRANGE_NO_REEXEC: valgrind would not follow blastune.h's re-exec
    start a env LAGRANGE_NO_REEXEC=1 valgrind -q --error-exitcode=99 --leak-check=full \
        --errors-for-leak-kinds=definite --show-leak-kinds=definite
    wait_for "A (valgrind) up with B" link_up a b
    hup abc.topo "$PEER_B" "$PEER_C"
    wait_for "A (valgrind) up with C" link_up a c
    head -c $((200 << 10)) /dev/urandom >"$T/vg.bin"
    vg=$("$L" send c "$T/vg.bin" --socket "$(sockof a)" 2>/dev/null)
    wait_for "a file to C under valgrind" delivered c "$vg" && ok
    # Remove C with a bundle for it waiting, then a bad reload.
    "$L" send c "$T/vg.bin" --socket "$(sockof a)" >/dev/null 2>&1
    hup ab.topo "$PEER_B"
    wait_for "A (valgrind) drops C" link_absent a c && ok
    hup_bad broken.topo "$PEER_B"
    link_up a b && ok || bad "A (valgrind) lost B"
    stop a
    rc=$?
    [ $rc -eq 0 ] && ok || bad "A under valgrind exited $rc: $(grep '==' "$T/a/log" | head -20)"
else
    note "valgrind not run (not installed, or an ASan build)"
fi

for n in a b c; do
    eval "p=\${pid_$n:-}"
    if [ -n "$p" ]; then
        kill -0 "$p" 2>/dev/null || bad "$n died"
        stop $n || bad "$n did not stop cleanly (exit $?)"
    fi
done
for n in a b c; do
    if grep -q "ERROR\|AddressSanitizer\|runtime error" "$T/$n/log"; then
        bad "$n's log has errors: $(grep "ERROR\|runtime error" "$T/$n/log" | head -3)"
    fi
done

echo "test_reload: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
