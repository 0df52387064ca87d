#!/bin/sh
# bench/bench_link.sh: throughput of one large object between two lagranged
# daemons on loopback, emulation off, against iperf3 on the same loopback.
#
# Two nodes a and b joined by one link (Link=a<>b Delay=0 Rate=100G,
# Emulate=no on both, so the rate is never applied). Variants:
#   plain        Tls=no,  SpoolDir/InboxDir under a temp dir in /var/tmp
#   tls          Tls=yes (TLS 1.3, mutual auth), same directories
#   plain-tmpfs  Tls=no,  SpoolDir/InboxDir in /dev/shm: the disk taken out,
#                to separate the storage path from the network path
# Each variant starts its two daemons once and keeps them for all its runs.
# One run is:
#   1. iperf3 on 127.0.0.1 (iperf3 -s -1, then iperf3 -c -n SIZE --json):
#      end.sum_received.bits_per_second, the reference of this run;
#   2. with a's link to b taken down (lagrange link down b), a fresh
#      object (the SIZE file of random bytes, its first 4 KiB
#      renewed from /dev/urandom each run) sent with `lagrange send b FILE`:
#      timed from just before `send` until b's InboxDir/delivered.tsv names
#      the object (polled every 10 ms). `send` returns once the object is
#      stored durably in a's spool: its time is reported as "send s" (the
#      sender-side ingest: reading the file, chunking, fdatasync); then the
#      link comes up and the rest is "net+deliv s" (a -> b over TCP/TLS, custody at b with its fsyncs,
#      reassembly, SHA-256, delivery into the inbox);
#   3. untimed: the journal's SHA-256 is checked against the file sent, the
#      delivered file is removed from b's inbox (as a consumer would, so
#      that runs do not fill /dev/shm), and both spools are waited empty.
# Throughput = SIZE / (send + net+deliv); ratio = that / iperf3 of the same
# run. The table gives medians over the runs (MB = 10^6 bytes) and the
# ratio's min and max. The goal of the issue is a median ratio >= 0.8 for
# "plain". Also printed: CPUs, and a dd oflag=dsync rate in the temp dir as
# the disk reference (durability costs fsyncs at both ends).
# With -v, one line per run, with the CPU seconds each daemon used during
# the timed window (utime+stime from /proc: about 1.0 x the time means
# that daemon's thread ran flat out). Warnings and errors in the daemons'
# logs are summarised at the end; -k keeps the temp dir (configurations,
# logs, per-run records in runs.tsv).
#
# Installs nothing; without iperf3 it says so and exits 0. Never fails on
# a slow result; exits 1 if the daemons cannot be brought up or an object
# is not delivered intact.
#
# usage: bench/bench_link.sh [-r RUNS] [-s SIZE_MIB] [-V VARIANTS] [-v] [-k]
#        defaults: 5 runs, 256 MiB, VARIANTS "plain,tls,plain-tmpfs"
# env:   LAGRANGED, LAGRANGE (binaries; default build/ then the source tree),
#        PYTHON (/usr/bin/python3), IPERF3 (iperf3), BENCH_TMP (/var/tmp),
#        BENCH_SHM (/dev/shm)

set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
runs=5
size_mib=256
variants="plain,tls,plain-tmpfs"
verbose=0
keep=0
usage() {
	echo "usage: bench/bench_link.sh [-r RUNS] [-s SIZE_MIB] [-V VARIANTS] [-v] [-k]" >&2
	exit 2
}
while getopts r:s:V:vkh o; do
	case $o in
	r) runs=$OPTARG ;;
	s) size_mib=$OPTARG ;;
	V) variants=$OPTARG ;;
	v) verbose=1 ;;
	k) keep=1 ;;
	*) usage ;;
	esac
done
case $runs in ''|*[!0-9]*) usage ;; esac
case $size_mib in ''|*[!0-9]*) usage ;; esac
if [ "$runs" -lt 1 ] || [ "$size_mib" -lt 1 ] || [ "$size_mib" -gt 1024 ]; then
	echo "bench_link.sh: RUNS >= 1 and 1 <= SIZE_MIB <= 1024 (send's limit)" >&2
	exit 2
fi
for v in $(echo "$variants" | tr ',' ' '); do
	case $v in plain|tls|plain-tmpfs) ;; *)
		echo "bench_link.sh: unknown variant '$v'" >&2; exit 2 ;; esac
done

iperf=${IPERF3:-iperf3}
if ! command -v "$iperf" >/dev/null 2>&1; then
	echo "bench_link.sh: iperf3 not installed: skipped (apt-get install iperf3)"
	exit 0
fi
py=${PYTHON:-/usr/bin/python3}
[ -x "$py" ] || py=$(command -v python3) || {
	echo "bench_link.sh: python3 not found" >&2; exit 1; }

pick() { # pick ENVVALUE CANDIDATE...: the first that is executable
	for c in "$@"; do
		[ -n "$c" ] && [ -x "$c" ] && { echo "$c"; return 0; }
	done
	return 1
}
LD=$(pick "${LAGRANGED:-}" "$top/build/daemon/lagranged" "$top/daemon/lagranged") || {
	echo "bench_link.sh: lagranged not built (make -C build, or set LAGRANGED)" >&2
	exit 1; }
L=$(pick "${LAGRANGE:-}" "$top/build/cli/lagrange" "$top/cli/lagrange") || {
	echo "bench_link.sh: lagrange not built (make -C build, or set LAGRANGE)" >&2
	exit 1; }

T=$(mktemp -d "${BENCH_TMP:-/var/tmp}/bench_link.XXXXXX") || exit 1
S=""
pids=""
iperf_pid=""
cleanup() {
	for p in $pids $iperf_pid; do kill -9 "$p" 2>/dev/null; done
	[ -n "$S" ] && rm -rf "$S"
	if [ "$keep" -eq 1 ]; then
		rm -f "$T/src.bin" "$T"/*/inbox/[0-9a-f]*[0-9a-f]
		echo "# kept $T (configurations, logs, runs.tsv)"
	else
		rm -rf "$T"
	fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

size=$((size_mib << 20))
base=$((20000 + ($$ % 4000) * 10))
PI=$((base + 9))
die() { echo "bench_link.sh: $*" >&2; exit 1; }

# ---- references ---------------------------------------------------------

cpus=$(getconf _NPROCESSORS_ONLN 2>/dev/null || nproc)
model=$(sed -n 's/^model name[	 ]*: *//p' /proc/cpuinfo 2>/dev/null | head -1)
echo "# $(uname -m), $cpus CPUs (nproc $(nproc)) ${model:+($model)}, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# $size_mib MiB object, $runs runs per variant, temp dir $T"
disk=$(dd if=/dev/zero of="$T/dd.bin" bs=1M count=256 oflag=dsync 2>&1 | tail -1)
rm -f "$T/dd.bin"
echo "# disk reference, dd bs=1M count=256 oflag=dsync in $(dirname "$T"): ${disk##*, }"
echo "# $("$iperf" --version 2>&1 | head -1)"

# ---- certificates and topology -----------------------------------------

"$L" cert ca --out "$T/tls" >/dev/null 2>&1 || die "lagrange cert ca failed"
for n in a b; do
	"$L" cert node $n --ca "$T/tls" --out "$T/tls" >/dev/null 2>&1 ||
		die "lagrange cert node $n failed"
done
cat >"$T/net.topo" <<EOF
Horizon=1d
Node=a Kind=ground
Node=b Kind=ground
Link=a<>b Delay=0 Rate=100G
EOF

head -c "$size" /dev/urandom >"$T/src.bin" || die "cannot write $T/src.bin"
printf 'variant\trun\tobj\tsize\tsend_s\ttotal_s\tiperf_bps\tcpu_a_s\tcpu_b_s\n' >"$T/runs.tsv"

# ---- daemons --------------------------------------------------------------

# conf VARIANT NODE PORT PEERPORT TLS DATADIR
conf() {
	v=$1; n=$2; port=$3; pport=$4; tls=$5; data=$6
	if [ "$n" = a ]; then peer=b; else peer=a; fi
	mkdir -p "$T/$v/$n"
	cat >"$T/$v/$n/lagranged.conf" <<EOF
NodeId=$n
Topology=$T/net.topo
Listen=127.0.0.1:$port
SpoolDir=$data/$n/spool
InboxDir=$data/$n/inbox
Tls=$tls
TlsCert=$T/tls/$n.crt
TlsKey=$T/tls/$n.key
TlsCA=$T/tls/ca.crt
ControlSocket=$T/$v/$n/ctl.sock
ApiSocket=$T/$v/$n/api.sock
JobDir=$data/$n/jobs
ModelDir=$data/$n/models
BlobDir=$data/$n/blobs
MetricsListen=none
Emulate=no
Peer=$peer Address=127.0.0.1:$pport
EOF
}

start() { # start VARIANT NODE
	"$LD" -f "$T/$1/$2/lagranged.conf" 2>>"$T/$1/$2/log" &
	eval "pid_$2=$!"
	pids="$pids $!"
}

stop() { # stop NODE: SIGTERM, and its exit status
	eval "p=\$pid_$1"
	kill "$p" 2>/dev/null
	wait "$p" 2>/dev/null
	rc=$?
	pids=$(echo "$pids" | tr ' ' '\n' | grep -vx "$p" | tr '\n' ' ')
	return $rc
}

# link_up VARIANT NODE PEER WANT_TLS: NODE's session with PEER is up (and
# TLS if WANT_TLS is yes).
link_up() {
	"$L" links --json --socket "$T/$1/$2/ctl.sock" 2>/dev/null |
		"$py" -c '
import json, sys
l = {x["node"]: x for x in json.load(sys.stdin)}[sys.argv[1]]
ok = l["state"] == "up" and (sys.argv[2] != "yes" or l.get("tls"))
sys.exit(0 if ok else 1)' "$3" "$4" 2>/dev/null
}

# settled VARIANT: both spools hold nothing (acked, reassembled, delivered).
settled() {
	for n in a b; do
		"$L" spool --json --socket "$T/$1/$n/ctl.sock" 2>/dev/null |
			"$py" -c '
import json, sys
s = json.load(sys.stdin)
sys.exit(0 if s["bundles"] == 0 and s["in_flight"] == 0 and
         s.get("reassembling", 0) == 0 else 1)' 2>/dev/null || return 1
	done
}

wait_for() { # wait_for TENTHS CMD...
	lim=$1; shift
	i=0
	until "$@"; do
		i=$((i + 1))
		[ $i -gt "$lim" ] && return 1
		sleep 0.1
	done
}

# iperf_once: prints end.sum_received.bits_per_second of one -n SIZE test.
iperf_once() {
	"$iperf" -s -1 -p "$PI" >"$T/iperf-s.log" 2>&1 &
	iperf_pid=$!
	i=0
	until "$iperf" -c 127.0.0.1 -p "$PI" -n "$size" --json >"$T/iperf.json" 2>/dev/null &&
		"$py" -c '
import json, sys
print(json.load(open(sys.argv[1]))["end"]["sum_received"]["bits_per_second"])' \
			"$T/iperf.json" 2>/dev/null; do
		i=$((i + 1))
		if [ $i -gt 50 ]; then
			kill "$iperf_pid" 2>/dev/null
			wait "$iperf_pid" 2>/dev/null
			iperf_pid=""
			return 1
		fi
		sleep 0.1
	done
	wait "$iperf_pid" 2>/dev/null
	iperf_pid=""
}

# transfer VARIANT: one timed send; prints "OBJ SEND_S TOTAL_S CPU_A CPU_B
# JOURNAL_SIZE JOURNAL_SHA" or fails.
transfer() {
	# shellcheck disable=SC2154 # pid_a, pid_b: set by start through eval
	"$py" - "$L" "$T/$1/a/ctl.sock" "$T/src.bin" "$inbox_b/delivered.tsv" \
		"$pid_a" "$pid_b" <<'PYEOF'
import os, subprocess, sys, time
lg, sock, src, journal, pa, pb = sys.argv[1:]
tick = os.sysconf("SC_CLK_TCK")
def cpu(pid):
    f = open("/proc/%s/stat" % pid).read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / tick
try:
    off = os.path.getsize(journal)
except OSError:
    off = 0
# The link is down while the object is stored at a, so that the transfer
# a -> b (link up until delivered) is timed apart from the ingest.
subprocess.run([lg, "link", "down", "b", "--socket", sock], check=True,
               stdout=subprocess.DEVNULL)
ca, cb = cpu(pa), cpu(pb)
t0 = time.monotonic()
r = subprocess.run([lg, "send", "b", src, "--socket", sock],
                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
t1 = time.monotonic()
subprocess.run([lg, "link", "up", "b", "--socket", sock], check=True,
               stdout=subprocess.DEVNULL)
obj = r.stdout.decode().strip()
if r.returncode != 0 or not obj:
    sys.exit("send failed (%d): %s" % (r.returncode, r.stderr.decode().strip()))
key, line = ("\t" + obj + "\t").encode(), None
deadline = t1 + 600
while True:
    try:
        with open(journal, "rb") as f:
            f.seek(off)
            data = f.read()
    except OSError:
        data = b""
    i = data.find(key)
    if i >= 0 and data.find(b"\n", i) >= 0:
        j = data.rfind(b"\n", 0, i) + 1
        line = data[j:data.index(b"\n", i)].decode().split("\t")
        break
    if time.monotonic() > deadline:
        sys.exit("object %s not delivered in 600 s" % obj)
    time.sleep(0.01)
t2 = time.monotonic()
print(obj, "%.6f" % (t1 - t0), "%.6f" % (t2 - t0),
      "%.2f" % (cpu(pa) - ca), "%.2f" % (cpu(pb) - cb), line[2], line[3])
PYEOF
}

fmt_run() { # VARIANT RUN SEND TOTAL IPERF_BPS CPUA CPUB
	"$py" -c '
import sys
v, r, s, t, bps, ca, cb, size = sys.argv[1:]
s, t, bps, size = float(s), float(t), float(bps), int(size)
mbs = size / t / 1e6
print("  %-11s run %s: %7.1f MB/s in %6.3f s (send %6.3f s, net+deliv %6.3f s), "
      "iperf3 %7.1f MB/s, ratio %.4f, cpu a %s s b %s s"
      % (v, r, mbs, t, s, t - s, bps / 8e6, mbs / (bps / 8e6), ca, cb))' \
		"$@" "$size"
}

# ---- the variants ------------------------------------------------------------

status=0
vi=0
for v in $(echo "$variants" | tr ',' ' '); do
	vi=$((vi + 1))
	pa=$((base + 2 * vi)); pb=$((base + 2 * vi + 1))
	case $v in
	plain) tls=no; data=$T/$v ;;
	tls) tls=yes; data=$T/$v ;;
	plain-tmpfs)
		tls=no
		[ -n "$S" ] || S=$(mktemp -d "${BENCH_SHM:-/dev/shm}/bench_link.XXXXXX") ||
			die "no tmpfs dir in ${BENCH_SHM:-/dev/shm}"
		data=$S ;;
	esac
	inbox_b=$data/b/inbox
	conf "$v" a "$pa" "$pb" "$tls" "$data"
	conf "$v" b "$pb" "$pa" "$tls" "$data"
	start "$v" a
	start "$v" b
	if ! wait_for 300 link_up "$v" a b "$tls" || ! wait_for 300 link_up "$v" b a "$tls"; then
		echo "bench_link.sh: $v: link a<>b not up in 30 s; a's log:" >&2
		tail -5 "$T/$v/a/log" >&2
		exit 1
	fi
	[ $verbose -eq 1 ] && echo "# $v: daemons a ($pid_a) and b ($pid_b) up, data in $data"
	r=0
	while [ $r -lt "$runs" ]; do
		r=$((r + 1))
		bps=$(iperf_once) || die "$v run $r: iperf3 failed: $(tail -3 "$T/iperf-s.log")"
		# a fresh object: new first 4 KiB
		head -c 4096 /dev/urandom |
			dd of="$T/src.bin" bs=4096 count=1 conv=notrunc 2>/dev/null
		out=$(transfer "$v") || die "$v run $r: transfer failed"
		# shellcheck disable=SC2086 # split into fields
		set -- $out
		obj=$1; send_s=$2; total_s=$3; cpu_a=$4; cpu_b=$5; jsize=$6; jsha=$7
		want=$(sha256sum "$T/src.bin" | cut -d' ' -f1)
		if [ "$jsize" != "$size" ] || [ "$jsha" != "$want" ]; then
			echo "bench_link.sh: $v run $r: object $obj delivered as $jsize bytes sha256 $jsha, sent $size $want" >&2
			status=1
		fi
		printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$v" "$r" "$obj" "$size" \
			"$send_s" "$total_s" "$bps" "$cpu_a" "$cpu_b" >>"$T/runs.tsv"
		[ $verbose -eq 1 ] && fmt_run "$v" "$r" "$send_s" "$total_s" "$bps" "$cpu_a" "$cpu_b"
		rm -f "$inbox_b/$obj"
		wait_for 600 settled "$v" ||
			echo "# $v run $r: spools not empty 60 s after delivery" >&2
	done
	for n in a b; do
		stop $n || echo "# $v: lagranged $n exited $? on SIGTERM" >&2
	done
done

# ---- the table ------------------------------------------------------------------

"$py" - "$T/runs.tsv" "$variants" <<'PYEOF'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
med = statistics.median
print()
print("| variant     | runs | lagrange MB/s | iperf3 MB/s | ratio  | min    | max    "
      "| send s | net+deliv s | transfer MB/s | transfer ratio | cpu a s | cpu b s |")
print("|-------------|-----:|--------------:|------------:|-------:|-------:|-------:"
      "|-------:|------------:|--------------:|---------------:|--------:|--------:|")
for v in sys.argv[2].split(","):
    rs = [r for r in rows if r["variant"] == v]
    if not rs:
        continue
    mbs = [int(r["size"]) / float(r["total_s"]) / 1e6 for r in rs]
    ip = [float(r["iperf_bps"]) / 8e6 for r in rs]
    ratio = [m / i for m, i in zip(mbs, ip)]
    send = [float(r["send_s"]) for r in rs]
    rest = [float(r["total_s"]) - float(r["send_s"]) for r in rs]
    ca = [float(r["cpu_a_s"]) for r in rs]
    cb = [float(r["cpu_b_s"]) for r in rs]
    xm = [int(r["size"]) / x / 1e6 for r, x in zip(rs, rest)]
    xr = [m / i for m, i in zip(xm, ip)]
    print("| %-11s | %4d | %13.1f | %11.1f | %6.4f | %6.4f | %6.4f | %6.3f | %11.3f "
          "| %13.1f | %14.4f | %7.2f | %7.2f |" % (v, len(rs), med(mbs), med(ip),
                                med(ratio), min(ratio), max(ratio), med(send),
                                med(rest), med(xm), med(xr), med(ca), med(cb)))
print("# MB = 10^6 bytes; ratio = lagrange / iperf3 of the same run (goal >= 0.8 "
      "for plain); medians except min/max")
print("# transfer = the object already stored at a: link a->b up until b has "
      "it durably, reassembled, verified and delivered (net+deliv)")
PYEOF

# ---- what the daemons logged -----------------------------------------------------

for v in $(echo "$variants" | tr ',' ' '); do
	for n in a b; do
		f=$T/$v/$n/log
		[ -f "$f" ] || continue
		# <0>..<4>: emergency .. warning, less the expected Tls=no notice
		w=$(grep '^<[0-4]>' "$f" | grep -v 'Tls=no: peer sessions' )
		if [ -n "$w" ]; then
			echo "# $v/$n log: $(echo "$w" | wc -l) warnings/errors, first:"
			echo "$w" | head -3 | sed 's/^/#   /'
		fi
	done
done
exit $status
