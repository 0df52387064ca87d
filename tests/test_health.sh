#!/bin/sh
# test_health.sh - node health gossiped in heartbeats, and liveness, with
# real lagranged processes on loopback (Tls=no): a chain A - B - C, and D
# hanging off A by a link whose contact window stays closed all test long.
#
#  1. A learns C's record through B (C is not A's neighbour): `lagrange
#     nodes --json` at A shows C up, with a battery state of charge (C is
#     a solar node in eclipse) and "eclipse"; B and D up too;
#  2. C's state of charge, as A sees it, goes down while C sits in eclipse
#     (direction only);
#  3. a fault counted at C (`lagrange fault ecc 2`) shows at A under
#     FAULTS and A logs "node c fault";
#  4. kill -9 of C: A marks C suspect, then dead (log lines naming C and
#     why); B's links and its own state are not affected;
#  5. kill -9 of D, behind the closed window: A does not mark D suspect
#     while C, killed at the same moment, goes dead (silence counts only
#     while the contact plan says a node could be heard);
#  6. restart of C: A logs "node c recovered", and shows C up again;
#  7. A's webhook receiver got node.fault, node.suspect, node.dead and
#     node.recovered for C, and nothing for D;
#  8. the text table of `lagrange nodes` has the health columns (in 1).
# Waits poll with generous bounds; nothing asserts on how long something
# took. Uses LG_SRCDIR, LAGRANGED and LAGRANGE like test_peers.sh.
set -u
src=$(cd "${LG_SRCDIR:-$(dirname "$0")/..}" && pwd)
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

base=$((10000 + ($$ % 1100) * 20))   # below the ephemeral ports (32768-)
PA=$base; PB=$((base+1)); PC=$((base+2)); PD=$((base+3))

# C: a solar node in eclipse for the whole test (the eclipse starts at the
# epoch and lasts 119 of every 120 minutes), 10 Wh, drawing 50 W idle.
# A - D: one 1 s window an hour, 59 min after the epoch: closed all test.
cat >"$T/net.topo" <<EOF
Epoch=$(date -u +%Y-%m-%dT%H:%M:%SZ)
Horizon=3h
Node=a Kind=ground
Node=b Kind=geo
Node=c Kind=leo Power=solar ArrayW=100 BatteryWh=10 MinSoc=0.1 Soc=0.8 IdleW=50 BusyW=200 Eclipse=every:120min/119min@0
Node=d Kind=leo
Link=a<>b Delay=10ms Rate=100M
Link=b<>c Delay=10ms Rate=100M
Link=a<>d Delay=5ms Rate=100M Window=every:1h/1s@59min
EOF

conf() {
    n=$1; port=$2; shift 2
    mkdir -p "$T/$n"
    {
        echo "NodeId=$n"
        echo "Topology=$T/net.topo"
        echo "Listen=127.0.0.1:$port"
        echo "Tls=no"
        echo "SpoolDir=$T/$n/spool"
        echo "InboxDir=$T/$n/inbox"
        echo "ControlSocket=$T/$n/ctl.sock"
        echo "ApiSocket=$T/$n/api.sock"
        echo "JobDir=$T/$n/jobs"
        echo "ModelDir=$T/$n/models"
        echo "BlobDir=$T/$n/blobs"
        echo "MetricsListen=none"
        echo "HeartbeatInterval=200ms"
        echo "SuspectAfter=1s"
        echo "DeadAfter=3s"
        echo "ReconnectMin=200ms"
        echo "ReconnectMax=1s"
        echo "LogLevel=debug"
        for p in "$@"; do echo "$p"; done
    } >"$T/$n/lagranged.conf"
}
# A's node events go to a webhook receiver (tests/hooks/receiver.py).
PH=$((base+5))
"$PY" "$src/tests/hooks/receiver.py" "$PH" "$T/hooks.log" &
pids="$pids $!"
i=0
while [ ! -e "$T/hooks.log.ready" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
[ -e "$T/hooks.log.ready" ] || { echo "FAIL: the webhook receiver did not start"; exit 1; }
conf a $PA "Peer=b Address=127.0.0.1:$PB" "Peer=d Address=127.0.0.1:$PD" \
    "EventDir=$T/a/events" \
    "Webhook=http://127.0.0.1:$PH/node Events=node.suspect,node.dead,node.recovered,node.fault"
conf b $PB "Peer=a Address=127.0.0.1:$PA" "Peer=c Address=127.0.0.1:$PC"
conf c $PC "Peer=b Address=127.0.0.1:$PB"
conf d $PD "Peer=a Address=127.0.0.1:$PA"

start() {
    n=$1
    "$LD" -f "$T/$n/lagranged.conf" 2>>"$T/$n/log" &
    eval "pid_$n=$!"
    pids="$pids $!"
}
kill9() {
    eval "p=\$pid_$1"
    kill -9 "$p" 2>/dev/null
    wait "$p" 2>/dev/null
    eval "pid_$1="
}

# nodes NODE: `lagrange nodes --json` at NODE into $T/nodes.json.
nodes() {
    "$L" nodes --json --server "unix:$T/$1/api.sock" >"$T/nodes.json" \
        2>"$T/nodes.err"
}
# field AT NODE KEY: NODE's KEY in AT's `nodes --json` ("" if none).
field() {
    nodes "$1" || { echo ""; return; }
    "$PY" -c 'import json, sys
d = {n["name"]: n for n in json.load(open(sys.argv[1]))}
v = d.get(sys.argv[2], {}).get(sys.argv[3])
print("" if v is None else json.dumps(v) if isinstance(v, (dict, bool)) else v)' \
        "$T/nodes.json" "$2" "$3"
}
state_is() { [ "$(field "$1" "$2" state)" = "$3" ]; }

# wait_for DESC CMD...: poll CMD (0.1 s) until it succeeds, at most ~2 min.
wait_for() {
    desc=$1; shift
    i=0
    until "$@" >/dev/null 2>&1; do
        i=$((i+1))
        if [ $i -gt 1200 ]; then bad "$desc: still waiting"; return 1; fi
        for n in a b c d; do
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
logged() { grep -q "$2" "$T/$1/log"; }

start a; start b; start c; start d

# ---- 1. gossip: A learns C (two hops) through B ----------------------------
wait_for "A sees C up" state_is a c up && ok
wait_for "A sees B up" state_is a b up && ok
wait_for "A sees D up" state_is a d up && ok
if nodes a; then
    if "$PY" -c 'import json, sys
d = {n["name"]: n for n in json.load(open(sys.argv[1]))}
c, a = d["c"], d["a"]
assert c["self"] is False and c["up"] is False, c     # not a neighbour
assert 0 < c["soc"] <= 0.8, c                         # from C topology Soc=0.8
assert c["sun"] == "eclipse", c
assert c["jobs"] == {"running": 0, "queued": 0}, c
assert c["faults"] == {"exec_checksum": 0, "ecc": 0, "spool_quarantined": 0}, c
assert c["heard"] is not None and c["heard"] >= 0, c
assert a["state"] == "up" and a["soc"] == -1 and a["sun"] == "sunlit", a
assert d["b"]["soc"] == -1, d["b"]' "$T/nodes.json" 2>"$T/py.err"; then ok
    else bad "A's view of C: $(tail -n 2 "$T/py.err")"; fi
else
    bad "nodes at A: $(cat "$T/nodes.err")"
fi
logged a "node c heard: first record" && ok || bad "A did not log 'node c heard'"
# The text table has the new columns.
if "$L" nodes --server "unix:$T/a/api.sock" >"$T/nodes.txt" 2>&1 &&
   head -n 1 "$T/nodes.txt" | grep -q "STATE.*LOAD.*JOBS.*SOC.*SUN.*FAULTS.*HEARD" &&
   grep -q "^c .* up .*eclipse" "$T/nodes.txt"; then ok
else bad "nodes table: $(head -n 3 "$T/nodes.txt" | tr '\n' '|')"; fi

# ---- 2. C's battery drains in eclipse (direction only) ----------------------
soc1=$(field a c soc)
soc_lower() {
    s=$(field a c soc)
    [ -n "$s" ] && "$PY" -c 'import sys; sys.exit(0 if float(sys.argv[1]) < float(sys.argv[2]) else 1)' "$s" "$soc1"
}
if [ -n "$soc1" ]; then
    wait_for "C's SoC at A goes down in eclipse (from $soc1)" soc_lower && ok
else
    bad "no SoC for C at A"
fi

# ---- 3. a fault at C reaches A -----------------------------------------------
if "$L" fault ecc 2 --socket "$T/c/ctl.sock" >"$T/f.out" 2>&1; then ok
else bad "lagrange fault at C: $(cat "$T/f.out")"; fi
ecc_at_a() { [ "$(field a c faults)" = '{"exec_checksum": 0, "ecc": 2, "spool_quarantined": 0}' ]; }
wait_for "A sees C's 2 ECC faults" ecc_at_a && ok
wait_for "A logs node c fault" logged a "node c fault: ecc +2 (2)" && ok
"$L" fault bogus --socket "$T/c/ctl.sock" >"$T/f.out" 2>&1
[ $? -eq 2 ] && grep -q "unknown fault kind 'bogus'" "$T/f.out" && ok ||
    bad "fault bogus: $(cat "$T/f.out")"
"$L" fault ecc 0 --socket "$T/c/ctl.sock" >"$T/f.out" 2>&1
[ $? -eq 2 ] && ok || bad "fault ecc 0 accepted: $(cat "$T/f.out")"

# ---- 4./5. kill -9 of C and of D -------------------------------------------
kill9 c
kill9 d
wait_for "A marks C suspect" logged a "node c suspect: silent for .* while reachable" && ok
wait_for "A marks C dead" state_is a c dead && ok
logged a "node c dead: silent for .* while reachable (last heard" && ok ||
    bad "A's log has no 'node c dead' line"
# C died after D was killed: D, behind a closed window, must still be up.
if state_is a d up; then ok; else bad "D is $(field a d state) at A behind a closed window"; fi
if logged a "node d suspect"; then bad "A marked D suspect behind a closed window"; else ok; fi
# B, C's neighbour, saw the same.
wait_for "B marks C dead" state_is b c dead && ok
if state_is a b up; then ok; else bad "B is $(field a b state) at A"; fi

# ---- 6. C comes back -----------------------------------------------------
start c
wait_for "A sees C recovered" logged a "node c recovered: was dead" && ok
wait_for "A shows C up again" state_is a c up && ok
# A restarted C's fault counters start over.
if [ "$(field a c faults)" = '{"exec_checksum": 0, "ecc": 0, "spool_quarantined": 0}' ]; then ok
else bad "C's faults after restart: $(field a c faults)"; fi
if state_is a d up; then ok; else bad "D is $(field a d state) at A at the end"; fi

# ---- 7. the node events reached the webhook ---------------------------------
# hooked EVENT: A's receiver got EVENT for node c.
hooked() {
    "$PY" - "$T/hooks.log" "$1" <<'PYEOF'
import json, sys
ev = sys.argv[2]
for line in open(sys.argv[1]):
    r = json.loads(line)
    b = json.loads(r["body"])
    if r["headers"].get("x-lagrange-event") == ev and b["event"] == ev \
            and b["node"] == "a" and b["peer"]["name"] == "c":
        sys.exit(0)
sys.exit(1)
PYEOF
}
for ev in node.fault node.suspect node.dead node.recovered; do
    wait_for "webhook $ev for c" hooked "$ev" && ok
done
if "$PY" -c 'import json, sys
for line in open(sys.argv[1]):
    b = json.loads(json.loads(line)["body"])
    if b.get("peer", {}).get("name") == "d":
        sys.exit(1)' "$T/hooks.log"; then ok
else bad "a node event for d, silent behind its closed window"; fi

for n in a b c; do
    if grep -q "ERROR\|AddressSanitizer\|runtime error" "$T/$n/log"; then
        bad "$n's log has errors: $(grep "ERROR\|runtime error" "$T/$n/log" | head -n 2)"
    fi
done

echo "# pass $pass fail $fail"
[ "$fail" -eq 0 ]
