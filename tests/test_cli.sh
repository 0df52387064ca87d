#!/bin/sh
# test_cli.sh - the lagrange CLI end to end on the shipped example model:
# documented exit codes and messages for bad input, and output checked
# against torch's (examples/tinynet-expected.npy, written by torch).
# Run by `make check` (automake TESTS); uses LG_SRCDIR and ./cli/lagrange.
set -u
src=${LG_SRCDIR:-$(dirname "$0")/..}
L=${LAGRANGE:-./cli/lagrange}
M="$src/examples/tinynet.onnx"
IN="$src/examples/tinynet-input.npy"
PY=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
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

expect 0 "" "$L" --help
expect 0 "" "$L" --version
expect 2 "unknown verb" "$L" frobnicate
expect 2 "" "$L"
expect 2 "missing MODEL" "$L" run
expect 2 "missing input 'image'" "$L" run "$M"
expect 2 "no input named 'nope'" "$L" run "$M" -i nope="$IN"
expect 1 "No such file" "$L" run /nonexistent.onnx -i "$IN"

# Malformed models: truncated, garbage, empty -> exit 3 naming the file.
head -c 5000 "$M" >"$tmp/trunc.onnx"
expect 3 "trunc.onnx" "$L" inspect "$tmp/trunc.onnx"
printf 'this is not a protobuf at all\377\377\377' >"$tmp/junk.onnx"
expect 3 "junk.onnx" "$L" run "$tmp/junk.onnx" -i "$IN"
: >"$tmp/empty.onnx"
expect 3 "empty" "$L" inspect "$tmp/empty.onnx"

# Malformed .npy and wrong shapes -> exit 3 naming the file or tensor.
head -c 100 "$IN" >"$tmp/short.npy"
expect 3 "short.npy" "$L" run "$M" -i "$tmp/short.npy"
printf 'NOTNUMPY' >"$tmp/magic.npy"
expect 3 "magic.npy" "$L" run "$M" -i "$tmp/magic.npy"
if [ -x "$PY" ] && "$PY" -c 'import numpy' 2>/dev/null; then
    "$PY" -c 'import numpy as np; np.save("'"$tmp"'/wrong.npy", np.zeros((1,3,32,32), np.float32)); np.save("'"$tmp"'/i64.npy", np.zeros((1,3,96,96), np.int64))'
    expect 3 "must have shape" "$L" run "$M" -i "$tmp/wrong.npy"
    expect 3 "must be float32" "$L" run "$M" -i "$tmp/i64.npy"
fi

# The real thing: run, compare to torch, inspect --json, split + run parts.
expect 0 "" "$L" run "$M" -i image="$IN" -o "$tmp/out.npy"
expect 0 "" "$L" run "$M" -i "$IN" --repeat 3 --json
if [ -x "$PY" ] && "$PY" -c 'import numpy' 2>/dev/null; then
    "$PY" - "$tmp/out.npy" "$src/examples/tinynet-expected.npy" "$tmp/out" <<'PYEOF' && ok || bad "run output vs torch / --json report"
import json, sys, numpy as np
a, ref = np.load(sys.argv[1]), np.load(sys.argv[2])
err = float(np.abs(a - ref).max()) / float(np.abs(ref).max())
assert a.shape == ref.shape and err <= 1e-4, (a.shape, err)
rep = json.load(open(sys.argv[3]))
for k in ("load_ms", "median_ms", "p90_ms", "peak_rss_bytes", "gflops"):
    assert k in rep and rep[k] >= 0, k
PYEOF
    "$L" inspect "$M" --json >"$tmp/inspect.json" && "$PY" -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["opset"] == 13 and d["nodes"] == len(d["node_list"]) > 0
assert d["inputs"][0]["shape"] == [1, 3, 96, 96]
assert all(c["tensors"] == 1 and c["bytes"] > 0 for c in d["cut_points"])
' "$tmp/inspect.json" && ok || bad "inspect --json"
    expect 0 "" "$L" split "$M" --parts 3 -O "$tmp/parts"
    # Run the parts in order via the manifest; the result must equal the
    # whole model's output exactly.
    "$PY" - "$L" "$tmp/parts" "$IN" "$tmp/out.npy" <<'PYEOF' && ok || bad "split parts reproduce the whole model"
import json, os, subprocess, sys, numpy as np
L, d, inp, whole = sys.argv[1:]
man = json.load(open(os.path.join(d, "manifest.json")))
have = {"image": inp}
for p in man["parts"]:
    args = [L, "run", os.path.join(d, p["file"]), "-O", os.path.join(d, "o%d" % p["index"])]
    for i in p["inputs"]:
        args += ["-i", "%s=%s" % (i["name"], have[i["name"]])]
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL)
    for o in p["outputs"]:
        safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in o["name"])
        have[o["name"]] = os.path.join(d, "o%d" % p["index"], safe + ".npy")
assert len(man["parts"]) == 3
a, b = np.load(have["logits"]), np.load(whole)
assert a.tobytes() == b.tobytes(), "parts differ from the whole model"
PYEOF
fi
expect 2 "" "$L" split "$M" -O "$tmp/p2"
expect 2 "not a node" "$L" split "$M" --at no_such_node -O "$tmp/p3"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
