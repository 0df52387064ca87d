#!/bin/sh
# test_lagranged.sh - lagranged: its configuration check and its life.
#  - golden files in tests/daemon/conf, as bgpd's regression tests do:
#    NAME.in -> `lagranged -n` exits 0 with stdout equal to NAME.ok (the
#    normal form), and the normal form checks again to itself (round
#    trip); bad-NAME.in -> exit 3, nothing on stdout, stderr equal to
#    bad-NAME.ok (the message names FILE:LINE);
#  - the options, exit codes, limits and log formats (the systemd units
#    are test_systemd.sh's);
#  - a run: lagranged on examples/default.topo as gs-mad with its control
#    socket in a temporary directory; `lagrange status` and `lagrange
#    links` (table and JSON), the line protocol, a stale socket, a second
#    daemon refused, SIGHUP with a good and a bad configuration, SIGTERM
#    ending with status 0 and the socket removed; a changed TLE file
#    reloading the topology by itself;
#  - the same run under valgrind (if installed, and the build is not an
#    ASan one), which must end clean.
# Waits poll for a condition (with a generous bound); nothing asserts on
# time. Run by `make check`; uses LG_SRCDIR, LAGRANGED (default
# ./daemon/lagranged) and LAGRANGE (default ./cli/lagrange).
set -u
src=$(cd "${LG_SRCDIR:-$(dirname "$0")/..}" && pwd)
LD=${LAGRANGED:-./daemon/lagranged}
L=${LAGRANGE:-./cli/lagrange}
case $LD in /*) ;; *) LD=$(pwd)/$LD ;; esac
case $L in /*) ;; *) L=$(pwd)/$L ;; esac
D="$src/tests/daemon/conf"
PY=/usr/bin/python3
tmp=$(mktemp -d)
dpid=
trap '[ -n "$dpid" ] && kill "$dpid" 2>/dev/null; rm -rf "$tmp"' EXIT
pass=0
fail=0

ok() { pass=$((pass+1)); }
bad() { fail=$((fail+1)); echo "FAIL: $*"; }

# expect CODE PATTERN CMD...: exit code CODE and stderr matching PATTERN.
expect() {
    code=$1; pat=$2; shift 2
    "$@" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    if [ "$rc" -ne "$code" ]; then
        bad "$* -> exit $rc, want $code: $(head -c 300 "$tmp/err")"
    elif [ -n "$pat" ] && ! grep -q -- "$pat" "$tmp/err"; then
        bad "$* -> stderr lacks '$pat': $(head -c 300 "$tmp/err")"
    else
        ok
    fi
}

# ---- golden files -------------------------------------------------------

# roundtrip FILE: the normal form of FILE checks again to itself. It is
# written to $tmp/rt beside copies of the topologies it names.
roundtrip() {
    mkdir -p "$tmp/rt"
    cp "$D"/*.topo "$tmp/rt/"
    if ! "$LD" -n -f "$1" >"$tmp/rt/n1.conf" 2>"$tmp/err"; then
        bad "$1: $(head -c 300 "$tmp/err")"
        return
    fi
    if "$LD" -n -f "$tmp/rt/n1.conf" >"$tmp/rt/n2.conf" 2>"$tmp/err" &&
        cmp -s "$tmp/rt/n1.conf" "$tmp/rt/n2.conf"; then
        ok
    else
        bad "$1: normal form does not check to itself: $(head -c 300 "$tmp/err")"
        diff "$tmp/rt/n1.conf" "$tmp/rt/n2.conf" | head -5
    fi
}

# The golden files name themselves (and tiny.topo) by relative paths.
cd "$D" || { echo "no $D"; exit 1; }
ngood=0
nbad=0
for f in *.in; do
    name=${f%.in}
    [ -f "$name.ok" ] || { bad "$f has no $name.ok"; continue; }
    "$LD" -n -f "$f" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    case $name in
    bad-*)
        nbad=$((nbad+1))
        if [ "$rc" -ne 3 ]; then
            bad "$f: exit $rc, want 3: $(head -c 300 "$tmp/err")"
        elif [ -s "$tmp/out" ]; then
            bad "$f: printed something on stdout"
        elif ! cmp -s "$tmp/err" "$name.ok"; then
            bad "$f: stderr differs from $name.ok"
            diff "$name.ok" "$tmp/err"
        else
            ok
        fi
        ;;
    *)
        ngood=$((ngood+1))
        if [ "$rc" -ne 0 ]; then
            bad "$f: exit $rc: $(head -c 300 "$tmp/err")"
        elif ! cmp -s "$tmp/out" "$name.ok"; then
            bad "$f: normal form differs from $name.ok"
            diff "$name.ok" "$tmp/out" | head -20
        else
            ok
        fi
        roundtrip "$f"
        ;;
    esac
done
[ "$ngood" -ge 4 ] && [ "$nbad" -ge 25 ] && ok ||
    bad "found only $ngood good and $nbad bad golden files in $D"
cd "$tmp" || exit 1

# ---- options, exit codes, limits ------------------------------------------

expect 0 "" "$LD" --help
grep -q '^usage: lagranged' "$tmp/out" && ok || bad "--help prints no usage"
expect 0 "" "$LD" --version
grep -q '^lagranged [0-9]' "$tmp/out" && ok || bad "--version"
expect 2 "" "$LD" --bogus
expect 2 "unexpected argument 'extra'" "$LD" -n -f "$D/minimal.in" extra
expect 3 "nonexistent.conf: No such file" "$LD" -n -f "$tmp/nonexistent.conf"
expect 3 "nonexistent.conf: No such file" "$LD" -f "$tmp/nonexistent.conf"
expect 3 "Is a directory" "$LD" -n -f "$tmp"

# Relative paths are taken against the config file's directory, wherever
# lagranged runs from.
mkdir -p "$tmp/etc/lagrange"
cp "$D/tiny.topo" "$tmp/etc/lagrange/"
printf 'NodeId=gs\nTopology=tiny.topo\n' >"$tmp/etc/lagrange/l.conf"
(cd / && "$LD" -n -f "$tmp/etc/lagrange/l.conf") >"$tmp/out" 2>"$tmp/err" &&
    grep -q '^Topology=tiny.topo$' "$tmp/out" && ok ||
    bad "relative Topology= from another directory: $(cat "$tmp/err")"

# Limits: a line over 4 KiB, a NUL byte, a file over 1 MiB (sparse).
{ printf 'NodeId=gs # '; head -c 5000 /dev/zero | tr '\0' x; echo; } >"$tmp/long.conf"
expect 3 "long.conf:1: line longer than 4096 bytes" "$LD" -n -f "$tmp/long.conf"
printf 'NodeId=gs\000\n' >"$tmp/nul.conf"
expect 3 "nul.conf:1: NUL byte" "$LD" -n -f "$tmp/nul.conf"
if truncate -s 2M "$tmp/huge.conf" 2>/dev/null; then
    expect 3 "huge.conf: larger than 1024 KiB" "$LD" -n -f "$tmp/huge.conf"
fi

# Log formats. A file (not a terminal): "TIME <3>lagranged[PID]: ...",
# TIME in UTC to the ms. The journal ($JOURNAL_STREAM naming our stderr):
# "<3>..." alone, since journald adds time, name and pid itself.
"$LD" -f "$D/bad-unknown-key.in" 2>"$tmp/log1"
rc=$?
[ "$rc" -eq 3 ] && grep -q '^20[0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9]\.[0-9][0-9][0-9]Z <3>lagranged\[[0-9]*\]: .*bad-unknown-key.in:3: unknown key' "$tmp/log1" &&
    ok || bad "syslog-style log line (exit $rc): $(cat "$tmp/log1")"
: >"$tmp/journal"
JOURNAL_STREAM=$(stat -c %d:%i "$tmp/journal") "$LD" -f "$D/bad-unknown-key.in" 2>>"$tmp/journal"
grep -q '^<3>[^<]*bad-unknown-key.in:3: unknown key' "$tmp/journal" &&
    ! grep -q 'lagranged\[' "$tmp/journal" && ok ||
    bad "journal log line: $(cat "$tmp/journal")"

# -q keeps errors; -v and -q together are a usage error.
"$LD" -q -f "$D/bad-unknown-key.in" 2>"$tmp/log2"
rc=$?
[ "$rc" -eq 3 ] && grep -q '<3>lagranged\[[0-9]*\]: .*unknown key' "$tmp/log2" &&
    ok || bad "-q: errors still logged (exit $rc): $(cat "$tmp/log2")"
expect 2 "-v and -q contradict each other" "$LD" -v -q -f "$D/bad-unknown-key.in"

# No daemon: a clear message naming the socket, exit 1.
expect 1 "cannot reach lagranged at $tmp/none.sock" "$L" status --socket "$tmp/none.sock"
expect 1 "cannot reach lagranged at $tmp/none.sock" "$L" links --socket "$tmp/none.sock"
expect 2 "" "$L" links --bogus
expect 0 "" "$L" links --help

# The systemd units are checked by test_systemd.sh.

# ---- the daemon's life ------------------------------------------------------

# wait_for DESC CMD...: poll until CMD succeeds; fail if the daemon dies
# or it never does (a bound for slow machines and valgrind, not a test).
wait_for() {
    desc=$1; shift
    i=0
    until "$@" >/dev/null 2>&1; do
        if ! kill -0 "$dpid" 2>/dev/null; then
            bad "$desc: lagranged died: $(tail -5 "$dir/log")"
            return 1
        fi
        i=$((i+1))
        if [ "$i" -gt 1800 ]; then
            bad "$desc: still waiting after 1800 polls"
            return 1
        fi
        sleep 0.1
    done
    return 0
}

# status_is KEY VALUE: the daemon's status has KEY equal to VALUE (JSON).
status_is() {
    "$L" status --json --socket "$sock" >"$dir/st.json" 2>/dev/null &&
        "$PY" -c 'import json, sys; d = json.load(open(sys.argv[1])); sys.exit(0 if d[sys.argv[2]] == json.loads(sys.argv[3]) else 1)' \
            "$dir/st.json" "$1" "$2"
}

# Make a unix socket file that no process listens on.
stale_socket() {
    "$PY" -c 'import socket, sys; s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.close()' "$1"
}

# run_daemon LABEL SETUP [PREFIX...]: lagranged's life, started through
# PREFIX (nothing, or valgrind). SETUP: "fresh" (the socket's directory
# does not exist yet) or "stale" (a dead daemon's socket is in the way).
run_daemon() {
    label=$1; setup=$2; shift 2
    dir=$tmp/$label
    sock=$dir/run/lagrange/ctl.sock
    mkdir -p "$dir"
    if [ "$setup" = stale ]; then
        mkdir -p "$dir/run/lagrange"
        stale_socket "$sock"
        [ -S "$sock" ] && ok || bad "$label: could not make a stale socket"
    fi
    [ -f "$tmp/tls/gs-mad.crt" ] ||
        { "$L" cert ca --out "$tmp/tls" && "$L" cert node gs-mad --ca "$tmp/tls" --out "$tmp/tls"; } >/dev/null 2>&1 ||
        bad "$label: lagrange cert failed"
    cat >"$dir/lagranged.conf" <<EOF
# $label
NodeId=gs-mad
Topology=$src/examples/default.topo
ControlSocket=$sock
Listen=127.0.0.1:$((30000 + $$ % 20000))
SpoolDir=$dir/state/spool
InboxDir=$dir/state/inbox
ApiSocket=$dir/run/lagrange/api.sock
JobDir=$dir/state/jobs
ModelDir=$dir/state/models
BlobDir=$dir/state/blobs
MetricsListen=none
TlsCert=$tmp/tls/gs-mad.crt
TlsKey=$tmp/tls/gs-mad.key
TlsCA=$tmp/tls/ca.crt
Peer=geo-relay Address=127.0.0.1:9
EOF
    "$@" "$LD" -f "$dir/lagranged.conf" 2>"$dir/log" &
    dpid=$!
    wait_for "$label: control socket" "$L" status --socket "$sock" || {
        kill "$dpid" 2>/dev/null; wait "$dpid"; dpid=; return; }
    ok

    # lagrange status
    if "$L" status --json --socket "$sock" >"$dir/st.json" 2>"$dir/err" &&
        "$PY" - "$dir/st.json" "$dpid" "$src/examples/default.topo" <<'PYEOF'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["node"] == "gs-mad", d
assert d["pid"] == int(sys.argv[2]), d
assert d["topology"] == sys.argv[3], d
assert d["nodes"] == 6 and d["links"] == 22, d
assert d["out_links"] == 5 and d["in_links"] == 5 and d["peers"] == 1, d
assert d["state"] == "running" and d["reloads"] == 0, d
assert d["uptime_s"] >= 0 and d["epoch_unix"] == 1795305600, d
PYEOF
    then ok; else bad "$label: status --json: $(cat "$dir/err" "$dir/st.json")"; fi
    "$L" status --socket "$sock" >"$dir/out" 2>&1 &&
        grep -q '^node  *gs-mad$' "$dir/out" &&
        grep -q "^control socket  *$sock$" "$dir/out" && ok ||
        bad "$label: status table: $(cat "$dir/out")"

    # lagrange links
    if "$L" links --json --socket "$sock" >"$dir/links.json" 2>"$dir/err" &&
        "$PY" - "$dir/links.json" <<'PYEOF'
import json, sys
links = json.load(open(sys.argv[1]))
to = {l["to"]: l for l in links}
assert set(to) == {"leo-gpu-1", "leo-gpu-2", "leo-gpu-3", "geo-relay",
                   "luna-1"}, to.keys()
for name, l in to.items():
    assert l["from"] == "gs-mad" and l["link"] == "gs-mad->" + name, l
g = to["geo-relay"]
assert g["window"] == "always" and g["up"] is True, g
assert g["rate_bit_s"] == 1.2e9 and g["delay_s"] == 0.126, g
assert g["peer"] == "127.0.0.1:9" and to["luna-1"]["peer"] is None
# Nobody listens on the discard port: the session keeps retrying.
assert g["state"] in ("connecting", "retrying"), g
assert all(l["state"] == "waiting" for l in links if l["to"] != "geo-relay"), links
# The others depend on the wall clock against the epoch: whatever they
# say must be consistent.
for l in links:
    assert l["window"] in ("always", "open", "waiting", "none"), l
    if l["window"] == "open":
        assert l["up"] and l["opens_in_s"] <= 0 < l["closes_in_s"], l
    if l["window"] == "waiting":
        assert not l["up"] and 0 < l["opens_in_s"] < l["closes_in_s"], l
    if l["window"] == "none":
        assert l["opens_in_s"] is None and l["rate_bit_s"] is None, l
    if l["window"] != "none" and l["to"].startswith("leo"):
        assert l["rate_bit_s"] == 50e6 and l["delay_s"] == 0.004, l
PYEOF
    then ok; else bad "$label: links --json: $(cat "$dir/err" "$dir/links.json")"; fi
    "$L" links --socket "$sock" >"$dir/out" 2>&1 &&
        head -1 "$dir/out" | grep -q '^LINK  *STATE  *WINDOW  *OPENS  *CLOSES  *RATE  *DELAY  *INFLIGHT  *TX  *RX  *PEER$' &&
        grep -q '^gs-mad->geo-relay  *[a-z]*  *always  *-  *-  *1.2 Gbit/s  *126ms  *0  *0B  *0B  *127.0.0.1:9$' "$dir/out" &&
        [ "$(wc -l <"$dir/out")" -eq 6 ] && ok ||
        bad "$label: links table: $(cat "$dir/out")"
    "$L" links --parsable --socket "$sock" >"$dir/out" 2>&1 &&
        head -1 "$dir/out" | grep -q '^LINK|STATE|WINDOW|OPENS|CLOSES|RATE|DELAY|INFLIGHT|TX|RX|PEER$' &&
        grep -q '^gs-mad->geo-relay|[a-z]*|always|-|-|1.2 Gbit/s|126ms|0|0B|0B|127.0.0.1:9$' "$dir/out" &&
        [ "$(wc -l <"$dir/out")" -eq 6 ] && ok ||
        bad "$label: links --parsable: $(cat "$dir/out")"
    "$L" links -o link,delay --noheader --socket "$sock" >"$dir/out" 2>&1 &&
        grep -q '^gs-mad->geo-relay  *126ms$' "$dir/out" &&
        [ "$(wc -l <"$dir/out")" -eq 5 ] && ok ||
        bad "$label: links -o link,delay: $(cat "$dir/out")"
    "$L" links -o link,delay --json --socket "$sock" >"$dir/out" 2>&1 &&
        "$PY" -c 'import json, sys; d = json.load(open(sys.argv[1])); assert len(d) == 5 and all(set(x) == {"link", "delay"} for x in d) and {"link": "gs-mad->geo-relay", "delay": 0.126} in d, d' "$dir/out" &&
        ok || bad "$label: links -o link,delay --json: $(cat "$dir/out")"
    "$L" links -o link,bogus --socket "$sock" >"$dir/out" 2>&1
    [ $? -eq 2 ] && grep -q "unknown column 'bogus'" "$dir/out" && ok ||
        bad "$label: links -o bogus: $(cat "$dir/out")"

    # The line protocol itself: several requests on one connection,
    # unknown commands, arguments where none are taken, blank lines, an
    # unterminated last line, and a line that is too long.
    if "$PY" - "$sock" <<'PYEOF'
import json, socket, sys
def ask(data):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(120)
    s.connect(sys.argv[1])
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
    out = b""
    while True:
        b = s.recv(65536)
        if not b:
            return out.decode()
        out += b
r = ask(b"help\n\n  frobnicate now\nstatus extra\r\nstatus").split("\n\n")
assert r[-1] == "", r
helps = [json.loads(x) for x in r[0].split("\n")]
assert {"status", "links", "help"} <= {h["command"] for h in helps}, helps
e = json.loads(r[1])
assert "unknown command 'frobnicate'" in e["error"], e
e = json.loads(r[2])
assert e["error"] == "status takes no arguments", e
assert json.loads(r[3])["node"] == "gs-mad", r[3]
assert len(r) == 5, r
# A line too long is refused and skipped; the next one is served.
r = ask(b"x" * 9000 + b"\nstatus\n").split("\n\n")
assert "longer than 4096" in json.loads(r[0])["error"], r
assert json.loads(r[1])["node"] == "gs-mad" and r[2:] == [""], r
PYEOF
    then ok; else bad "$label: control protocol"; fi

    # A second daemon on the same socket is refused, and leaves it alone.
    if [ "$setup" = fresh ]; then
        expect 1 "another lagranged is listening there" "$LD" -f "$dir/lagranged.conf"
        status_is node '"gs-mad"' && ok || bad "$label: socket lost to a second daemon"
    fi

    # SIGHUP with a good configuration: reloaded; with a bad one: the
    # running configuration stays and the log says why.
    kill -HUP "$dpid"
    wait_for "$label: reload" status_is reloads 1 && ok
    echo "Bogus=1" >>"$dir/lagranged.conf"
    kill -HUP "$dpid"
    wait_for "$label: failed reload logged" grep -q "reload failed, keeping the running configuration: .*lagranged.conf:17: unknown key 'Bogus'" "$dir/log" && ok
    status_is reloads 1 && status_is node '"gs-mad"' && ok ||
        bad "$label: not serving after a failed reload"
    sed -i '/^Bogus=1$/d' "$dir/lagranged.conf"
    sed -i 's/^NodeId=gs-mad$/NodeId=leo-gpu-1/' "$dir/lagranged.conf"
    kill -HUP "$dpid"
    wait_for "$label: identity change refused" grep -q "reload refused.*NodeId changed from gs-mad to leo-gpu-1" "$dir/log" && ok
    status_is node '"gs-mad"' && ok || bad "$label: identity changed by a reload"

    # The log is syslog-style on a file.
    grep -q "^[0-9T:.Z-]* <6>lagranged\[$dpid\]: node gs-mad up: " "$dir/log" && ok ||
        bad "$label: no start line in the log: $(head -5 "$dir/log")"

    # SIGTERM: a clean exit, status 0, socket removed.
    kill -TERM "$dpid"
    wait "$dpid"
    rc=$?
    dpid=
    if [ "$rc" -eq 0 ]; then ok; else bad "$label: exit status $rc after SIGTERM: $(tail -20 "$dir/log")"; fi
    [ ! -e "$sock" ] && ok || bad "$label: socket $sock left behind"
    grep -q "node gs-mad stopped" "$dir/log" && ok || bad "$label: no stop line in the log"
    if grep -q "not empty at exit\|handle still open" "$dir/log"; then
        bad "$label: handles left open: $(grep handle "$dir/log")"
    fi
}

if [ -x "$PY" ]; then
    run_daemon run fresh
    run_daemon stale stale

    # A TLE file behind the topology changes: the topology reloads by
    # itself (TleCheckInterval); a broken one is logged, the old one kept.
    dir=$tmp/tle
    sock=$dir/ctl.sock
    mkdir -p "$dir"
    cp "$src/examples/default-tle.topo" "$src/examples/default.tle" "$dir/"
    chmod u+w "$dir/default.tle"     # distcheck's sources are read-only
    printf 'NodeId=gs-mad\nTopology=default-tle.topo\nControlSocket=%s\nTleCheckInterval=50ms\n' \
        "$sock" >"$dir/lagranged.conf"
    printf 'SpoolDir=%s\nInboxDir=%s\nTlsCert=%s\nTlsKey=%s\nTlsCA=%s\nListen=127.0.0.1:%s\n' \
        "$dir/spool" "$dir/inbox" "$tmp/tls/gs-mad.crt" "$tmp/tls/gs-mad.key" \
        "$tmp/tls/ca.crt" $((30001 + $$ % 20000)) >>"$dir/lagranged.conf"
    printf 'ApiSocket=%s\nJobDir=%s\nModelDir=%s\nBlobDir=%s\nMetricsListen=none\n' \
        "$dir/api.sock" "$dir/jobs" "$dir/models" "$dir/blobs" >>"$dir/lagranged.conf"
    "$LD" -f "$dir/lagranged.conf" 2>"$dir/log" &
    dpid=$!
    if wait_for "tle: control socket" "$L" status --socket "$sock"; then
        status_is topology_reloads 0 && ok || bad "tle: reloaded before any change"
        touch -d '2030-01-01 00:00:00' "$dir/default.tle"
        wait_for "tle: topology reloaded" status_is topology_reloads 1 &&
            grep -q "a TLE file changed: topology .*default-tle.topo reloaded" "$dir/log" && ok
        echo garbage >"$dir/default.tle"
        wait_for "tle: broken TLE logged" grep -q "a TLE file changed but the topology does not reload, keeping the old one: .*default.tle:1: " "$dir/log" && ok
        status_is topology_reloads 1 && status_is nodes 6 && ok ||
            bad "tle: not serving the old topology after a broken TLE"
        kill -TERM "$dpid"
        wait "$dpid" && ok || bad "tle: exit status $? after SIGTERM"
    else
        kill "$dpid" 2>/dev/null
        wait "$dpid"
    fi
    dpid=

    # The control socket path is taken by something that is not a socket:
    # refused, exit 1, the file left alone.
    mkdir -p "$tmp/nosock"
    echo keep >"$tmp/nosock/ctl.sock"
    printf 'NodeId=gs-mad\nTopology=%s\nControlSocket=%s\n' \
        "$src/examples/default.topo" "$tmp/nosock/ctl.sock" >"$tmp/nosock/l.conf"
    expect 1 "ctl.sock exists and is not a socket" "$LD" -f "$tmp/nosock/l.conf"
    [ "$(cat "$tmp/nosock/ctl.sock")" = keep ] && ok || bad "a file at ControlSocket was touched"

    # systemd's notify protocol, with a datagram socket standing in for
    # systemd: READY=1 and STATUS= at start, WATCHDOG=1 at half of
    # WATCHDOG_USEC, RELOADING=1 + MONOTONIC_USEC then READY=1 around
    # SIGHUP, STOPPING=1 on SIGTERM, and exit 0.
    nd=$tmp/notify
    mkdir -p "$nd"
    "$PY" - "$nd/notify.sock" "$nd/msgs" <<'PYEOF' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(60)
with open(sys.argv[2] + ".tmp", "w") as f:
    try:
        while True:
            m = s.recv(4096).decode()
            f.write(repr(m) + "\n")
            f.flush()
            if m == "STOPPING=1":
                break
    except socket.timeout:
        pass
import os
os.rename(sys.argv[2] + ".tmp", sys.argv[2])
PYEOF
    lpid=$!
    i=0
    while [ ! -S "$nd/notify.sock" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done
    printf 'NodeId=gs-mad\nTopology=%s\nControlSocket=%s\nListen=127.0.0.1:%s\n' \
        "$src/examples/default.topo" "$nd/ctl.sock" $((30002 + $$ % 20000)) >"$nd/l.conf"
    printf 'SpoolDir=%s\nInboxDir=%s\nTls=no\nApiSocket=%s\nJobDir=%s\nModelDir=%s\nBlobDir=%s\nMetricsListen=none\n' \
        "$nd/spool" "$nd/inbox" "$nd/api.sock" "$nd/jobs" "$nd/models" \
        "$nd/blobs" >>"$nd/l.conf"
    NOTIFY_SOCKET=$nd/notify.sock WATCHDOG_USEC=300000 "$LD" -f "$nd/l.conf" 2>"$nd/log" &
    dpid=$!
    dir=$nd
    if wait_for "notify: READY=1" grep -q "'READY=1'" "$nd/msgs.tmp"; then
        # SIGUSR1 turns debug logging on, and off again (status shows it).
        sock=$nd/ctl.sock
        status_is log_level '"info"' && ok || bad "usr1: level before"
        kill -USR1 "$dpid"
        wait_for "usr1: debug on" status_is log_level '"debug"' &&
            grep -q 'SIGUSR1: debug logging on' "$nd/log" && ok
        kill -USR1 "$dpid"
        wait_for "usr1: back to info" status_is log_level '"info"' &&
            grep -q 'SIGUSR1: debug logging off, back to info' "$nd/log" && ok
        sleep 1
        kill -HUP "$dpid"
        wait_for "notify: READY=1 after the reload" \
            sh -c "[ \$(grep -c \"'READY=1'\" '$nd/msgs.tmp') -ge 2 ]"
        kill -TERM "$dpid"
        wait "$dpid"
        drc=$?
        wait "$lpid"
        [ $drc -eq 0 ] && ok || bad "notify: lagranged exited $drc"
        if "$PY" - "$nd/msgs" <<'PYEOF'
import ast, re, sys
m = [ast.literal_eval(l) for l in open(sys.argv[1])]
k = [x.split("=")[0] for x in m]
assert m[0] == "READY=1", m[:3]
assert m[1].startswith("STATUS=node gs-mad: ") and " links up, " in m[1], m[1]
assert k.count("WATCHDOG") >= 3, k
r = [i for i, x in enumerate(m) if x.startswith("RELOADING=1\n")]
assert len(r) == 1 and re.fullmatch(r"RELOADING=1\nMONOTONIC_USEC=\d+", m[r[0]]), m
assert m[r[0] + 1] == "READY=1", m[r[0]:r[0] + 2]
assert m[-1] == "STOPPING=1" and k.count("STOPPING") == 1, m[-3:]
PYEOF
        then ok; else bad "notify: messages: $(cat "$nd/msgs")"; fi
    else
        kill "$dpid" 2>/dev/null; wait "$dpid"; kill "$lpid" 2>/dev/null
    fi
    dpid=

    if grep -q __asan_init "$LD" 2>/dev/null; then
        echo "ASan build: the valgrind run is skipped (valgrind cannot run it)"
    elif command -v valgrind >/dev/null 2>&1; then
        # LAGRANGE_NO_REEXEC: valgrind would not follow blastune.h's re-exec
        LAGRANGE_NO_REEXEC=1 run_daemon valgrind fresh valgrind -q --error-exitcode=1 \
            --leak-check=full --show-leak-kinds=definite,indirect,possible \
            --errors-for-leak-kinds=definite,indirect,possible
        grep -q '^==[0-9]*==' "$tmp/valgrind/log" &&
            bad "valgrind reported: $(grep '^==' "$tmp/valgrind/log" | head -20)"
    else
        echo "valgrind not installed: the valgrind run is skipped"
    fi
else
    echo "$PY not found: the run tests are skipped"
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
