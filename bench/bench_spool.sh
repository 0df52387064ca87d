#!/bin/sh
# bench/bench_spool.sh: durable ingest into the bundle spool against
# dd oflag=dsync on the same filesystem, in the same run.
#
# Owns the spool benchmark (DESIGN.md, "Performance method"). Runs
# bench/bench_spool (built here with gcc if absent: BENCH_SPOOL names a
# binary to use instead) and dd, interleaved, REPS times, and prints the
# medians as a table with ratios:
#   - 1 MiB bundles, spool_put each (durable on return: temp file,
#     fdatasync, rename, directory fsync) vs dd bs=1M oflag=dsync;
#   - 1 MiB bundles with group commit of 8 (spool_put_nosync x 8 +
#     spool_sync: one fdatasync per file, one directory fsync per batch),
#     which is how lagranged's store worker (daemon/store.c) batches them;
#   - 4 KiB bundles, spool_put each (append to a segment + fdatasync) vs
#     dd bs=4k oflag=dsync;
#   - 4 KiB bundles with group commit (spool_put_nosync x B + spool_sync);
#   - 4 KiB acks with group commit (spool_delete_nosync x B + spool_sync).
# Never fails on a slow result.
#
# usage: bench/bench_spool.sh [-d DIR] [-r REPS] [-m N1M] [-k N4K] [-g NGC] [-b B]
#        DIR: where to write (default ${TMPDIR:-/tmp}); REPS: 5;
#        N1M: 1 MiB bundles per run (200); N4K: 4 KiB durable puts (2000);
#        NGC: 4 KiB bundles per group-commit run (40000); B: batch (64)
# env:   BENCH_SPOOL (binary), CC (gcc)

set -u
LC_ALL=C
export LC_ALL
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
cc=${CC:-gcc}
base=${TMPDIR:-/tmp}
reps=5 n1m=200 n4k=2000 ngc=40000 batch=64
while getopts d:r:m:k:g:b:h o; do
	case $o in
	d) base=$OPTARG ;;
	r) reps=$OPTARG ;;
	m) n1m=$OPTARG ;;
	k) n4k=$OPTARG ;;
	g) ngc=$OPTARG ;;
	b) batch=$OPTARG ;;
	*) echo "usage: bench/bench_spool.sh [-d DIR] [-r REPS] [-m N1M] [-k N4K] [-g NGC] [-b B]" >&2
	   exit 2 ;;
	esac
done

work=$(mktemp -d "$base/bench_spool.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT INT TERM
bin=${BENCH_SPOOL:-}
if [ -z "$bin" ]; then
	bin=$work/bench_spool
	"$cc" -std=c11 -D_GNU_SOURCE -O2 -I"$top/lib/common" -I"$top/lib/store" \
		"$top/lib/common/lgerr.c" "$top"/lib/store/*.c \
		"$top/bench/bench_spool.c" -lpthread -lcrypto -o "$bin" || {
		echo "bench_spool.sh: cannot build bench_spool" >&2; exit 1; }
fi

# dd BS COUNT -> seconds, as dd reports them
dd_secs() {
	dd if=/dev/zero of="$work/dd.out" bs="$1" count="$2" oflag=dsync \
		2>"$work/dd.err" || { cat "$work/dd.err" >&2; rm -f "$work/dd.out"; return 1; }
	rm -f "$work/dd.out"
	sed -n 's/.*copied, \([0-9.e+-]*\) s,.*/\1/p' "$work/dd.err"
}

# bench_spool ARGS -> "seconds fsyncs"
sp_secs() {
	mode=$1; shift
	"$bin" "$mode" "$work/spool" "$@" | awk '/^RESULT/ { print $5, $8 }'
}

median() {
	sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "nan";
		else if (NR % 2) print v[(NR + 1) / 2];
		else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

: >"$work/r"
r=1
while [ "$r" -le "$reps" ]; do
	# Interleaved, so that drift in the shared disk hits both sides.
	s=$(dd_secs 1M "$n1m") && echo "dd1m $s" >>"$work/r"
	s=$(sp_secs put 1048576 "$n1m") && echo "sp1m $s" >>"$work/r"
	s=$(sp_secs batch 1048576 "$n1m" 8) && echo "gc1m $s" >>"$work/r"
	s=$(dd_secs 4k "$n4k") && echo "dd4k $s" >>"$work/r"
	s=$(sp_secs put 4096 "$n4k") && echo "sp4k $s" >>"$work/r"
	s=$(sp_secs batch 4096 "$ngc" "$batch") && echo "gc4k $s" >>"$work/r"
	s=$(sp_secs ack 4096 "$ngc" "$batch") && echo "ack4k $s" >>"$work/r"
	r=$((r + 1))
done

med() { awk -v k="$1" -v f="$2" '$1 == k { print $f }' "$work/r" | median; }
d1=$(med dd1m 2); s1=$(med sp1m 2); f1=$(med sp1m 3)
g1=$(med gc1m 2); g1f=$(med gc1m 3)
d4=$(med dd4k 2); s4=$(med sp4k 2); f4=$(med sp4k 3)
g4=$(med gc4k 2); gf=$(med gc4k 3); a4=$(med ack4k 2); af=$(med ack4k 3)

fs=$(df -T "$work" 2>/dev/null | awk 'NR == 2 { print $2 }')
echo "# $(uname -m), $(getconf _NPROCESSORS_ONLN) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), $fs at $base"
echo "# medians of $reps runs; dd if=/dev/zero oflag=dsync on the same filesystem, interleaved"
awk -v d1="$d1" -v s1="$s1" -v f1="$f1" -v n1="$n1m" -v g1="$g1" -v g1f="$g1f" \
    -v d4="$d4" -v s4="$s4" -v f4="$f4" -v n4="$n4k" \
    -v g4="$g4" -v gf="$gf" -v a4="$a4" -v af="$af" -v ng="$ngc" -v b="$batch" 'BEGIN {
	printf "| workload | dd oflag=dsync | spool | spool / dd | fsyncs per bundle |\n"
	printf "|---|---|---|---|---|\n"
	printf "| 1 MiB bundles, spool_put each (%d per run) | %.0f MiB/s | %.0f MiB/s (%.0f bundles/s) | %.2fx | %.2f |\n",
		n1, n1 / d1, n1 / s1, n1 / s1, d1 / s1, f1 / n1
	printf "| 1 MiB bundles, group commit of 8, as lagranged batches them (%d per run) | %.0f MiB/s | %.0f MiB/s (%.0f bundles/s) | %.2fx | %.3f |\n",
		n1, n1 / d1, n1 / g1, n1 / g1, d1 / g1, g1f / n1
	printf "| 4 KiB bundles, spool_put each (%d per run) | %.0f writes/s | %.0f bundles/s | %.2fx | %.2f |\n",
		n4, n4 / d4, n4 / s4, d4 / s4 * 1, f4 / n4
	printf "| 4 KiB bundles, group commit of %d (%d per run) | %.0f writes/s | %.0f bundles/s (%.0f MiB/s) | %.1fx | %.3f |\n",
		b, ng, n4 / d4, ng / g4, ng / g4 * 4096 / 1048576, (ng / g4) / (n4 / d4), gf / ng
	printf "| 4 KiB acks, group commit of %d (%d per run) | - | %.0f acks/s | - | %.3f |\n",
		b, ng, ng / a4, af / ng
}'
