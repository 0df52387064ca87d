#!/bin/sh
# bench/bench_orbit.sh: contact windows from TLEs at constellation scale,
# and SGP4's speed against python3-sgp4.
#
# Owns the orbit benchmark (DESIGN.md, "Performance method"). Runs
# bench/bench_orbit (built here with gcc if absent: BENCH_ORBIT names a
# binary to use instead): a 1,584-satellite shell (22 planes x 72, 550 km,
# 53 deg) against 20 stations over 24 h on 1 and on T threads, eclipses,
# SGP4 calls per second and a cost model of one call. Then times
# python3-sgp4's Satrec.sgp4 (the C-accelerated one if the package has
# it, else its pure-Python Satrec: the table says which) on the same kind
# of orbit, and prints the ratio. Never fails on a slow result.
#
# usage: bench/bench_orbit.sh [-t THREADS] [-r REPS]
#        defaults: all online CPUs, 3 repetitions (medians)
# env:   BENCH_ORBIT (binary), PYTHON (/usr/bin/python3), CC (gcc)

set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
py=${PYTHON:-/usr/bin/python3}
cc=${CC:-gcc}
threads=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)
reps=3
while getopts t:r:h o; do
	case $o in
	t) threads=$OPTARG ;;
	r) reps=$OPTARG ;;
	*) echo "usage: bench/bench_orbit.sh [-t THREADS] [-r REPS]" >&2; exit 2 ;;
	esac
done

bin=${BENCH_ORBIT:-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [ -z "$bin" ]; then
	bin=$tmp/bench_orbit
	"$cc" -std=c11 -D_GNU_SOURCE -O2 -I"$top/lib/common" -I"$top/lib/orbit" \
		-I"$top/lib/plan" "$top/lib/common/lgerr.c" "$top"/lib/orbit/*.c \
		"$top/bench/bench_orbit.c" -lm -lpthread -o "$bin" || {
		echo "bench_orbit.sh: cannot build bench_orbit" >&2; exit 1; }
fi

echo "# $(uname -m), $(getconf _NPROCESSORS_ONLN) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
"$bin" --threads "$threads" --reps "$reps" >"$tmp/c.txt" || exit 1
grep -v '^SGP4_NS_PER_CALL' "$tmp/c.txt"
c_ns=$(sed -n 's/^SGP4_NS_PER_CALL //p' "$tmp/c.txt")

if [ -x "$py" ] && "$py" -c 'import sgp4' 2>/dev/null; then
	"$py" - "$c_ns" "$reps" <<'PYEOF'
import sys, time
from sgp4.api import Satrec, accelerated
c_ns, reps = float(sys.argv[1]), int(sys.argv[2])
# the bench shell's first satellite (550 km, 53 deg, epoch 2024-03-01T18Z)
l1 = '1 60000U 24001A   24061.75000000  .00001000  00000+0  10000-3 0  9990'
l2 = '2 60000  53.0000   0.0000 0001000  90.0000   0.0000 15.05000000  1000'
def fix(l):
    s = sum(int(c) if c.isdigit() else (1 if c == '-' else 0) for c in l[:68])
    return l[:68] + str(s % 10)
sat = Satrec.twoline2rv(fix(l1), fix(l2))
n = 100000
runs = []
for _ in range(reps):
    t = time.perf_counter()
    for i in range(n):
        sat.sgp4(2460372.5, i / n)
    runs.append((time.perf_counter() - t) / n * 1e9)
runs.sort()
ns = runs[len(runs) // 2]
kind = 'C-accelerated' if accelerated else 'pure-Python'
print('| SGP4 calls/s, python3-sgp4 %s Satrec.sgp4 | %.3g (%.0f ns/call) |'
      % (kind, 1e9 / ns, ns))
print('| lagrange C / python3-sgp4 speed | %.1fx |' % (ns / c_ns))
PYEOF
else
	echo "| python3-sgp4 | not installed |"
fi
