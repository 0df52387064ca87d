#!/bin/bash
# bench/bench_plan.sh: the planner's benchmarks (bench/bench_plan.c).
#
# Owns: planner speed and plan quality measurements (DESIGN.md,
# "Performance method"). Runs, in order, and prints their markdown tables:
#   1. bench_plan curve    plan_solve time per strategy, synthetic chains
#                          and DAGs (50..5000 groups) on synthetic
#                          constellations (5..1000 nodes)
#   2. bench_plan phases   where auto's time goes on the biggest instance
#   3. bench_plan quality  auto against every baseline and the lower bound,
#                          model zoo x examples/*.topo x start times
#   4. bench_plan ilp      the optimum by MILP (glpsol) on small chains
#                          against dp, auto and exhaustive, then dp, auto
#                          and list against exhaustive on random chains,
#                          chains on batteries and small DAGs
# Builds bench_plan first when it is missing or older than the library or
# its sources. Never fails on a slow or suboptimal result: the exit status
# only reports a failed build or bad usage. A part whose inputs are missing
# (no zoo, no glpsol) is skipped with a note. About 3 minutes in all on
# two cores (the curve 1.5, the MILPs 1); -q about 30 s.
#
# usage: bench/bench_plan.sh [-q] [PART ...]     PART: curve phases quality ilp
#        -q: quick (fewer repetitions, curve up to 1000 groups x 100 nodes)
# env:   BUILD (build dir with liblagrange.a, default build)  CC (gcc)
#        BENCH_PLAN (use this binary, do not build)  ZOO_DIR (the model
#        zoo, else the cached one of tests/zoo/zoo.sh if present)
#        GLPSOL (glpsol)  ILP_KEEP (keep the LP files in this directory)

set -u

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
build=${BUILD:-$top/build}
cc=${CC:-gcc}
quick=0

usage() {
	echo "usage: bench/bench_plan.sh [-q] [curve|phases|quality|ilp ...]" >&2
	exit 2
}
while getopts qh o; do
	case $o in
	q) quick=1 ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
parts=${*:-curve phases quality ilp}
for p in $parts; do
	case $p in
	curve | phases | quality | ilp) ;;
	*) usage ;;
	esac
done

# --- build ---------------------------------------------------------------
if [ -n "${BENCH_PLAN:-}" ]; then
	bin=$BENCH_PLAN
else
	bin=$build/bench/bench_plan
	lib=$build/liblagrange.a
	if [ ! -f "$lib" ]; then
		echo "bench_plan.sh: $lib missing: make -C $build liblagrange.a" >&2
		exit 1
	fi
	stale=0
	[ -x "$bin" ] || stale=1
	for f in "$here/bench_plan.c" "$lib" "$top"/lib/plan/*.h; do
		[ "$f" -nt "$bin" ] && stale=1
	done
	if [ $stale = 1 ]; then
		echo "building $bin" >&2
		mkdir -p "$build/bench"
		# shellcheck disable=SC2046
		if ! "$cc" -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror \
			-I"$top/lib/common" -I"$top/lib/model" -I"$top/lib/exec" \
			-I"$top/lib/plan" -I"$build/proto" "$here/bench_plan.c" "$lib" \
			$(pkg-config --cflags --libs libprotobuf-c openblas) \
			-lm -lpthread -o "$bin"; then
			echo "bench_plan.sh: build failed" >&2
			exit 1
		fi
	fi
fi

# --- inputs --------------------------------------------------------------
zoo=${ZOO_DIR:-}
if [ -z "$zoo" ]; then
	cache=${LAGRANGE_CACHE:-${HOME:-/tmp}/.cache/lagrange}
	hash=$(sha256sum "$top/tests/zoo/gen_zoo.py" 2>/dev/null | cut -c1-12)
	if [ -n "$hash" ] && [ -f "$cache/zoo-$hash/.complete" ]; then
		zoo=$cache/zoo-$hash
	else
		# an older zoo does as well for planning (shapes, not values)
		for d in "$cache"/zoo-*/; do
			[ -d "$d" ] && zoo=${d%/}
		done
	fi
fi
glpsol=${GLPSOL:-glpsol}

# --- run -----------------------------------------------------------------
start=$(date +%s)
echo "# lagrange planner benchmarks ($(uname -m), $(nproc) CPUs," \
	"$(date -u +%Y-%m-%dT%H:%MZ))"
echo
for p in $parts; do
	case $p in
	curve)
		if [ $quick = 1 ]; then
			"$bin" curve --quick --groups 50,300,1000 --nodes 5,20,100
		else
			"$bin" curve
		fi
		;;
	phases)
		if [ $quick = 1 ]; then
			"$bin" phases 1000 100 dag
		else
			"$bin" phases 300 20 dag
			"$bin" phases 5000 1000 chain
			"$bin" phases 5000 1000 dag
		fi
		;;
	quality)
		if [ -z "$zoo" ] || [ ! -d "$zoo" ]; then
			echo "## Plan quality: skipped (no model zoo: set ZOO_DIR" \
				"or run tests/zoo/zoo.sh)"
			echo
		else
			"$bin" quality "$zoo" "$top/examples"
			[ $quick = 1 ] ||
				"$bin" quality --batch 32 --only-diff "$zoo" \
					"$top/examples"
		fi
		;;
	ilp)
		if ! command -v "$glpsol" >/dev/null 2>&1; then
			echo "## MILP optimum: skipped ($glpsol not found:" \
				"apt-get install glpk-utils)"
			echo
		else
			keep=()
			[ -n "${ILP_KEEP:-}" ] && keep=(--keep "$ILP_KEEP")
			if [ $quick = 1 ]; then
				"$bin" ilp --glpsol "$glpsol" --tmlim 10 --random 60 \
					"${keep[@]}"
			else
				"$bin" ilp --glpsol "$glpsol" --tmlim 60 "${keep[@]}"
			fi
		fi
		;;
	esac
done
echo "(all parts: $(($(date +%s) - start)) s)"
exit 0
