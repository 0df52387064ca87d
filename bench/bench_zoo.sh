#!/bin/bash
# bench/bench_zoo.sh: lagrange's executor vs. ONNX Runtime on the model zoo.
#
# Owns: the executor speed benchmark (DESIGN.md, "Performance method").  For
# each zoo model it runs, R rounds, alternately in the same loop (the order
# flips every round so neither engine always runs on a warmer machine):
#   $LAGRANGE run MODEL -i NAME=FILE ... --repeat N --json $LAGRANGE_RUN_ARGS
#   node bench/ort_run.js MODEL --threads T --repeat N --warmup W NAME=FILE ...
# and takes, per engine, the median over rounds of each run's median_ms.
# Prints a markdown table (model | GFLOP | lagrange ms | ORT ms | ratio |
# lagrange GFLOP/s | lagrange peak RSS MiB | ORT peak RSS MiB; ratio is
# lagrange/ORT, below 1 means lagrange is faster; RSS is the max over rounds)
# and the machine's nominal FP32 peak.  Never fails on a slow result: the
# exit status only reports usage errors.  Without the CLI (or with
# BENCH_ORT_ONLY=1) it benchmarks the ORT half alone.
#
# usage: bench/bench_zoo.sh [-r ROUNDS] [-n REPEAT] [-w WARMUP] [-t THREADS]
#                           [MODEL ...]
#        defaults: 5 rounds, 10 repeats, 2 warmups, 2 threads, every model
# env:   LAGRANGE (./cli/lagrange)  LAGRANGE_RUN_ARGS (extra `run` flags)
#        ZOO_DIR (else tests/zoo/zoo.sh)  NODE (node)  PYTHON (/usr/bin/python3)
# The GEMM library's threads are pinned to T too (OPENBLAS_NUM_THREADS,
# OMP_NUM_THREADS) unless already set, so both engines get the same cores.

set -u

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
py=${PYTHON:-/usr/bin/python3}
node=${NODE:-node}
LAGRANGE=${LAGRANGE:-./cli/lagrange}
rounds=5 repeat=10 warmup=2 threads=2

usage() {
	echo "usage: bench/bench_zoo.sh [-r ROUNDS] [-n REPEAT] [-w WARMUP] [-t THREADS] [MODEL ...]" >&2
	exit 2
}
while getopts r:n:w:t:h o; do
	case $o in
	r) rounds=$OPTARG ;;
	n) repeat=$OPTARG ;;
	w) warmup=$OPTARG ;;
	t) threads=$OPTARG ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
for v in "$rounds" "$repeat" "$threads"; do
	case $v in '' | *[!0-9]* | 0) usage ;; esac
done

export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-$threads}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-$threads}

use_lag=1
if [ "${BENCH_ORT_ONLY:-0}" = 1 ]; then
	use_lag=0
elif [ ! -x "$LAGRANGE" ]; then
	echo "bench_zoo.sh: $LAGRANGE not found; benchmarking ORT only" >&2
	use_lag=0
fi

zoo=${ZOO_DIR:-$("$top/tests/zoo/zoo.sh")} || {
	echo "bench_zoo.sh: no zoo" >&2
	exit 2
}

work=$(mktemp -d "${TMPDIR:-/tmp}/lagrange-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT

if [ $# -gt 0 ]; then
	models=("$@")
else
	models=()
	for d in "$zoo"/*/; do
		[ -f "$d/meta.json" ] && models+=("$(basename "$d")")
	done
fi

# lastjson FILE: the last JSON object in FILE that starts at the beginning
# of a line (compact or pretty-printed), printed on one line; fails if none.
lastjson() {
	"$py" -c 'import json, sys
s = open(sys.argv[1]).read()
dec = json.JSONDecoder()
starts = [i for i, c in enumerate(s) if c == "{" and (i == 0 or s[i - 1] == "\n")]
for i in reversed(starts):
    try:
        o = dec.raw_decode(s, i)[0]
    except ValueError:
        continue
    print(json.dumps(o))
    sys.exit(0)
sys.exit(1)' "$1"
}

run_lag() {
	# LAGRANGE_RUN_ARGS is split into words on purpose.
	# shellcheck disable=SC2086
	"$LAGRANGE" run "$d/model.onnx" "${lagargs[@]}" --repeat "$repeat" \
		--json ${LAGRANGE_RUN_ARGS:-} >"$work/out" 2>"$work/err" </dev/null
	local rc=$?
	if [ $rc -eq 0 ] && lastjson "$work/out" >>"$work/$m.lag"; then
		:
	else
		echo "bench_zoo.sh: $m: lagrange exit $rc: $(tail -n 1 "$work/err")" >&2
	fi
}

run_ort() {
	"$node" "$here/ort_run.js" "$d/model.onnx" --threads "$threads" \
		--repeat "$repeat" --warmup "$warmup" "${ortargs[@]}" \
		>"$work/out" 2>"$work/err" </dev/null
	local rc=$?
	if [ $rc -eq 0 ] && lastjson "$work/out" >>"$work/$m.ort"; then
		:
	else
		echo "bench_zoo.sh: $m: ORT exit $rc: $(tail -n 1 "$work/err")" >&2
	fi
}

for m in "${models[@]}"; do
	d="$zoo/$m"
	if [ ! -f "$d/meta.json" ]; then
		echo "bench_zoo.sh: no model $m in $zoo" >&2
		continue
	fi
	lagargs=()
	ortargs=()
	while read -r name f; do
		lagargs+=(-i "$name=$d/$f")
		ortargs+=("$name=$d/$f")
	done < <("$py" -c 'import json,sys
for i in json.load(open(sys.argv[1]))["inputs"]: print(i["name"], i["file"])' "$d/meta.json")
	: >"$work/$m.lag"
	: >"$work/$m.ort"
	for ((r = 1; r <= rounds; r++)); do
		echo "bench_zoo.sh: $m round $r/$rounds" >&2
		if [ $((r % 2)) = 1 ]; then
			[ $use_lag = 1 ] && run_lag
			run_ort
		else
			run_ort
			[ $use_lag = 1 ] && run_lag
		fi
	done
	echo "$m" >>"$work/models"
done
[ -f "$work/models" ] || exit 2

ortv=$(cd "$here" && "$node" -p 'require("onnxruntime-node/package.json").version' 2>/dev/null || echo "?")
echo "# lagrange vs ONNX Runtime $ortv (CPU), $threads threads, $rounds rounds x $repeat runs, $(date -u +%Y-%m-%dT%H:%MZ)"
echo "# command: $0 -r $rounds -n $repeat -w $warmup -t $threads${*:+ $*}"
echo
"$py" - "$work" <<'EOF'
import json, os, statistics, sys

work = sys.argv[1]

def load(path):
    rows = []
    if os.path.exists(path):
        for line in open(path):
            try:
                rows.append(json.loads(line))
            except ValueError:
                pass
    return rows

def med(rows, k):
    v = [r[k] for r in rows if isinstance(r.get(k), (int, float))]
    return statistics.median(v) if v else None

def peak(rows):
    v = [r["peak_rss_bytes"] for r in rows if r.get("peak_rss_bytes")]
    return max(v) / 2**20 if v else None

def peak_net(rows):
    # Peak RSS less the runtime's own before the model loads (node + ORT's
    # library for ORT), to compare what the model costs each engine.
    v = [r["peak_rss_bytes"] - r.get("baseline_rss_bytes", 0) for r in rows
         if r.get("peak_rss_bytes")]
    return max(v) / 2**20 if v else None

def f(x, fmt):
    return fmt % x if x is not None else "-"

print("| model | GFLOP | lagrange ms | ORT ms | ratio | lagrange GFLOP/s "
      "| lagrange peak RSS MiB | ORT peak RSS MiB | ORT RSS less node+ORT baseline |")
print("|---|--:|--:|--:|--:|--:|--:|--:|--:|")
for m in open(os.path.join(work, "models")).read().split():
    lag = load(os.path.join(work, m + ".lag"))
    ort = load(os.path.join(work, m + ".ort"))
    lms, oms = med(lag, "median_ms"), med(ort, "median_ms")
    gf = med(lag, "gflops")
    ratio = lms / oms if lms and oms else None
    rate = gf / (lms / 1e3) if gf and lms else None
    print("| %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
        m, f(gf, "%.3f"), f(lms, "%.2f"), f(oms, "%.2f"), f(ratio, "%.2f"),
        f(rate, "%.1f"), f(peak(lag), "%.0f"), f(peak(ort), "%.0f"),
        f(peak_net(ort), "%.0f")))
EOF

# Nominal FP32 peak: cores x clock x FLOP/cycle.  FLOP/cycle assumes two FMA
# pipes: AVX-512 2 x 16 lanes x 2 = 64, AVX2+FMA 2 x 8 x 2 = 32, AVX 16,
# else 8.  "cpu MHz" is the current (often base) clock, not turbo, and some
# cores run AVX-512 as 2 x 256 bits, so this is a label, not a promise.
cores=$(nproc)
mhz=$(awk -F: '/^cpu MHz/ { print $2 + 0; exit }' /proc/cpuinfo)
[ -n "$mhz" ] || mhz=0
flags=$(awk -F: '/^flags/ { print $2; exit }' /proc/cpuinfo)
case " $flags " in
*" avx512f "*) fpc=64 isa="AVX-512 FMA" ;;
*" fma "*) fpc=32 isa="AVX2 FMA" ;;
*" avx "*) fpc=16 isa="AVX" ;;
*) fpc=8 isa="SSE" ;;
esac
echo
awk -v c="$cores" -v m="$mhz" -v f="$fpc" -v t="$threads" -v isa="$isa" 'BEGIN {
	g = m / 1000
	printf "nominal FP32 peak: %d cores x %.2f GHz x %d FLOP/cycle (%s, 2 pipes) = %.1f GFLOP/s", c, g, f, isa, c * g * f
	if (t < c) printf "; %d threads: %.1f GFLOP/s", t, t * g * f
	printf "\n"
}'
exit 0
