#!/bin/bash
# tests/zoo/test_zoo.sh: runs every zoo model through the lagrange CLI and
# checks the results against the oracles.
#
# Owns: the end-to-end executor test on real model graphs.  Per model, two
# checks, each one line and one count in the tally:
#   run    $LAGRANGE run DIR/model.onnx -i NAME=FILE.npy ... -O OUT
#          then every OUT/<output>.npy (name chars outside [A-Za-z0-9._-]
#          mapped to '_') against torch's ref_<output>.npy by compare.py:
#          pass iff max|A-B| <= tol * max|B|  (ZOO_TOL, default 1e-4).
#   split  $LAGRANGE split DIR/model.onnx --parts 3 -O SPLITDIR, then every
#          SPLITDIR/*.onnx through onnx.checker (check_onnx.py).
# Output: "PASS <model> ..." / "FAIL <model>/split ..." lines, then exactly
# "N passed, M failed".  exit 0 if M == 0, 1 if M > 0, 77 (automake skip)
# if the zoo cannot be generated here, 99 if the CLI is missing.
#
# usage: tests/zoo/test_zoo.sh [MODEL ...]      (default: every model)
# env:   LAGRANGE  the CLI (./cli/lagrange)     ZOO_DIR  use this zoo
#        ZOO_TOL   tolerance (1e-4)             ZOO_TIMEOUT  s per command (600)
#        ZOO_KEEP=1 keep the work directory     PYTHON  (/usr/bin/python3)
# CLI exit codes (cli contract): 0 ok, 2 usage, 3 bad model/data,
# 4 unsupported op.

set -u

here=$(cd "$(dirname "$0")" && pwd)
py=${PYTHON:-/usr/bin/python3}
LAGRANGE=${LAGRANGE:-./cli/lagrange}
tol=${ZOO_TOL:-1e-4}
tmo=${ZOO_TIMEOUT:-600}

if [ ! -x "$LAGRANGE" ]; then
	echo "test_zoo.sh: CLI not found: $LAGRANGE (set LAGRANGE=)" >&2
	exit 99
fi

if [ -n "${ZOO_DIR:-}" ]; then
	zoo=$ZOO_DIR
else
	zoo=$("$here/zoo.sh")
	rc=$?
	[ $rc -eq 0 ] || exit $rc        # 77 passes through as "skip"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/lagrange-zoo.XXXXXX")
if [ "${ZOO_KEEP:-0}" = 1 ]; then
	echo "test_zoo.sh: work directory $work" >&2
else
	trap 'rm -rf "$work"' EXIT
fi

if [ $# -gt 0 ]; then
	models=("$@")
else
	models=()
	for d in "$zoo"/*/; do
		[ -f "$d/meta.json" ] && models+=("$(basename "$d")")
	done
fi

npass=0
nfail=0
pass() { echo "PASS $*"; npass=$((npass + 1)); }
fail() { echo "FAIL $*"; nfail=$((nfail + 1)); }

# why RC: a short reason for a CLI exit status.
why() {
	case $1 in
	2) echo "usage error (exit 2)" ;;
	3) echo "bad model/data (exit 3)" ;;
	4) echo "unsupported op (exit 4)" ;;
	124) echo "timed out after ${tmo}s" ;;
	*) echo "exit $1" ;;
	esac
}

# lastline FILE: the last non-empty line of FILE, for a one-line reason.
lastline() { grep -v '^[[:space:]]*$' "$1" | tail -n 1 | cut -c1-200; }

for m in "${models[@]}"; do
	d="$zoo/$m"
	if [ ! -f "$d/meta.json" ]; then
		fail "$m no such model in $zoo"
		continue
	fi
	# meta.json -> lines "in NAME FILE" / "out NAME SAFENAME FILE"
	spec=$("$py" - "$d/meta.json" <<'EOF'
import json, re, sys
m = json.load(open(sys.argv[1]))
for i in m["inputs"]:
    print("in", i["name"], i["file"])
for o in m["outputs"]:
    print("out", o["name"], re.sub(r"[^A-Za-z0-9._-]", "_", o["name"]), o["file"])
EOF
	) || { fail "$m unreadable meta.json"; continue; }
	args=()
	while read -r kind name f1 _; do
		[ "$kind" = in ] && args+=(-i "$name=$d/$f1")
	done <<<"$spec"

	# --- run: whole model vs. torch
	out="$work/$m/out"
	mkdir -p "$out"
	timeout "$tmo" "$LAGRANGE" run "$d/model.onnx" "${args[@]}" -O "$out" \
		>"$work/$m/run.log" 2>&1 </dev/null
	rc=$?
	if [ $rc -ne 0 ]; then
		fail "$m $(why $rc): $(lastline "$work/$m/run.log")"
	else
		ok=1
		msg=""
		while read -r kind name safe ref; do
			[ "$kind" = out ] || continue
			if [ ! -f "$out/$safe.npy" ]; then
				ok=0
				msg="$msg $name: missing $safe.npy;"
				continue
			fi
			if ! line=$("$py" "$here/compare.py" "$out/$safe.npy" \
				"$d/$ref" --tol "$tol" --label "$name" </dev/null); then
				ok=0
			fi
			msg="$msg $line;"
		done <<<"$spec"
		if [ $ok = 1 ]; then pass "$m${msg%;}"; else fail "$m${msg%;}"; fi
	fi

	# --- split: every partition must be a valid ONNX model
	sdir="$work/$m/split"
	mkdir -p "$sdir"
	timeout "$tmo" "$LAGRANGE" split "$d/model.onnx" --parts 3 -O "$sdir" \
		>"$work/$m/split.log" 2>&1 </dev/null
	rc=$?
	parts=("$sdir"/*.onnx)
	if [ $rc -ne 0 ]; then
		fail "$m/split $(why $rc): $(lastline "$work/$m/split.log")"
	elif [ ! -e "${parts[0]}" ]; then
		fail "$m/split no .onnx written in -O dir"
	elif "$py" "$here/check_onnx.py" "${parts[@]}" >"$work/$m/check.log" 2>&1; then
		pass "$m/split ${#parts[@]} parts valid (onnx.checker)"
	else
		fail "$m/split $(grep -c '^FAIL' "$work/$m/check.log") of ${#parts[@]} parts invalid: $(grep -m1 '^FAIL' "$work/$m/check.log" | cut -c1-200)"
	fi
done

echo "$npass passed, $nfail failed"
[ $nfail -eq 0 ]
