# tests/lib.sh - helpers for shell tests that run several real lagranged
# on loopback without TLS (Tls=no). Sourced, never run:
#
#   src=$(cd "${LG_SRCDIR:-$(dirname "$0")/..}" && pwd)
#   . "$src/tests/lib.sh"
#
# Sourcing sets LD and L (absolute paths of lagranged and lagrange, from
# LAGRANGED and LAGRANGE like the other tests), PY=/usr/bin/python3, the
# ok/bad/note counters, and defines:
#
#   lg_tmp NAME          make $T (mktemp -d), remove it on exit (KEEP=1
#                        keeps it) after killing the daemons started here
#   conf NODE PORT [LINE...]
#                        write $T/NODE/lagranged.conf: NodeId, Topology
#                        ($LG_TOPO, default $T/net.topo), Listen, Tls=no,
#                        every per-daemon directory and socket under
#                        $T/NODE, MetricsListen=none, short heartbeats and
#                        reconnects, then each LINE (Peer=..., ...)
#   start NODE           run NODE's daemon in the background (log in
#                        $T/NODE/log, appended), its pid in pid_NODE
#   stop NODE            SIGTERM, wait; returns the daemon's exit status
#   kill9 NODE           kill -9, wait
#   ctl NODE, api NODE   NODE's control socket, its API server address
#   wait_for DESC CMD... poll CMD every 0.1 s until it succeeds, at most
#                        $LG_WAIT tenths (default 600); a daemon of
#                        $LG_NODES that died fails it at once, naming it
#   link_up NODE PEER    NODE's `lagrange links` says the link to PEER is up
#   tx_bytes NODE        the sum of tx_bytes over NODE's links
#   summary NAME         print "NAME: N passed, M failed", exit 0 or 1
#
# Nothing here asserts on how long something took.

LD=${LAGRANGED:-./daemon/lagranged}
L=${LAGRANGE:-./cli/lagrange}
case $LD in /*) ;; *) LD=$(pwd)/$LD ;; esac
case $L in /*) ;; *) L=$(pwd)/$L ;; esac
PY=/usr/bin/python3
pids=""
pass=0
fail=0
ok() { pass=$((pass+1)); }
bad() { fail=$((fail+1)); echo "FAIL: $*"; }
note() { echo "# $*"; }

lg_cleanup() {
    for p in $pids; do kill -9 "$p" 2>/dev/null; done
    if [ -n "${KEEP:-}" ]; then echo "# keeping $T"; else rm -rf "$T"; fi
}
lg_tmp() {
    T=$(mktemp -d "/tmp/lg-$1.XXXXXX") || { echo "$1: mktemp failed"; exit 1; }
    trap lg_cleanup EXIT
    trap 'exit 130' INT TERM HUP
}

conf() {
    _n=$1; _port=$2; shift 2
    mkdir -p "$T/$_n"
    {
        echo "NodeId=$_n"
        echo "Topology=${LG_TOPO:-$T/net.topo}"
        echo "Listen=127.0.0.1:$_port"
        echo "Tls=no"
        echo "SpoolDir=$T/$_n/spool"
        echo "InboxDir=$T/$_n/inbox"
        echo "ControlSocket=$T/$_n/ctl.sock"
        echo "ApiSocket=$T/$_n/api.sock"
        echo "JobDir=$T/$_n/jobs"
        echo "ModelDir=$T/$_n/models"
        echo "BlobDir=$T/$_n/blobs"
        echo "MetricsListen=none"
        echo "HeartbeatInterval=1s"
        echo "ReconnectMin=200ms"
        echo "ReconnectMax=1s"
        for _p in "$@"; do echo "$_p"; done
    } >"$T/$_n/lagranged.conf"
}

start() {
    "$LD" -f "$T/$1/lagranged.conf" 2>>"$T/$1/log" &
    eval "pid_$1=$!"
    pids="$pids $!"
}
stop() {
    eval "p=\${pid_$1:-}"
    [ -n "$p" ] || return 0
    kill "$p" 2>/dev/null
    wait "$p" 2>/dev/null
    rc=$?
    eval "pid_$1="
    return $rc
}
kill9() {
    eval "p=\${pid_$1:-}"
    [ -n "$p" ] || return 0
    kill -9 "$p" 2>/dev/null
    wait "$p" 2>/dev/null
    eval "pid_$1="
}
ctl() { echo "$T/$1/ctl.sock"; }
api() { echo "unix:$T/$1/api.sock"; }

wait_for() {
    desc=$1; shift
    i=0
    until "$@" >/dev/null 2>&1; do
        i=$((i+1))
        if [ $i -gt "${LG_WAIT:-600}" ]; then bad "$desc: still waiting"; return 1; fi
        for _wn in ${LG_NODES:-}; do
            eval "wp=\${pid_$_wn:-}"
            if [ -n "$wp" ] && ! kill -0 "$wp" 2>/dev/null; then
                bad "$desc: lagranged $_wn died: $(tail -n 3 "$T/$_wn/log")"
                eval "pid_$_wn="
                return 1
            fi
        done
        sleep 0.1
    done
    return 0
}

link_up() {
    "$L" links --json --socket "$(ctl "$1")" 2>/dev/null |
        "$PY" -c 'import json,sys; l={x["node"]: x for x in json.load(sys.stdin)}; sys.exit(0 if l[sys.argv[1]]["state"] == "up" else 1)' "$2"
}

# tx_bytes NODE: prints the sum, or nothing (status 1) if the links of
# NODE cannot be read.
tx_bytes() {
    "$L" links --json --socket "$(ctl "$1")" 2>/dev/null |
        "$PY" -c 'import json,sys; print(sum(int(x["tx_bytes"]) for x in json.load(sys.stdin)))'
}

summary() {
    echo "$1: $pass passed, $fail failed"
    [ "$fail" -eq 0 ]
}
