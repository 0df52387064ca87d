#!/bin/sh
# test_partition.sh - partition equivalence over the model zoo: for every
# zoo model, tests/zoo_partition splits at every cut point (or the
# candidate cuts on large graphs) and at random k-way partitions, runs the
# pieces in order and requires outputs bit-identical to the whole model.
# usage: test_partition.sh ZOO_PARTITION_BINARY ZOO_DIR [RANDOM_K]
set -u
bin=$1
zoo=$2
k=${3:-8}
pass=0
fail=0
for dir in "$zoo"/*/; do
    m=$(basename "$dir")
    [ -f "$dir/model.onnx" ] || continue
    args=$(/usr/bin/python3 -c '
import json, sys
m = json.load(open(sys.argv[1]))
print(" ".join("%s=%s/%s" % (i["name"], sys.argv[2], i["file"]) for i in m["inputs"]))
' "$dir/meta.json" "$dir") || { echo "FAIL $m: bad meta.json"; fail=$((fail+1)); continue; }
    # shellcheck disable=SC2086
    if out=$("$bin" "$dir/model.onnx" $args --random "$k" --seed 1 2>&1); then
        echo "PASS $m: $(echo "$out" | grep -v '^[0-9]* passed' | tail -n 1)"
        pass=$((pass+1))
    else
        echo "FAIL $m:"
        echo "$out" | tail -n 5
        fail=$((fail+1))
    fi
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
