#!/bin/sh
# test_plan_cli.sh - `lagrange plan` and `lagrange calibrate` end to end on
# the shipped example model and topologies: the JSON report's keys and its
# internal consistency (checked by Python, not by us), the documented exit
# codes (2 usage, 3 bad topology, 5 infeasible), the SVG being well-formed
# XML, and a calibrated Profile= line that `lagrange topology --profiles`
# and `lagrange plan --profiles` accept.
# Run by `make check` (automake TESTS); uses LG_SRCDIR and ./cli/lagrange.
set -u
src=${LG_SRCDIR:-$(dirname "$0")/..}
L=${LAGRANGE:-./cli/lagrange}
M="$src/examples/tinynet.onnx"
EX="$src/examples"
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

have_py() { [ -x "$PY" ]; }

# check_json FILE [EXTRA-PYTHON]: the report parses and is consistent.
check_json() {
    have_py || return 0
    "$PY" - "$1" "${2:-}" <<'PYEOF'
import json, math, sys
d = json.load(open(sys.argv[1]))
extra = sys.argv[2]
for k in ("predicted_completion_s", "proven_optimal", "feasible", "reason",
          "strategy", "objective", "lower_bound_s", "solve_ms", "energy_j",
          "energy_orbit_j", "partitions", "transfers", "nodes"):
    assert k in d, "missing key " + k
assert isinstance(d["proven_optimal"], bool) and isinstance(d["feasible"], bool)
assert d["objective"] in ("time", "energy")
names = [n["name"] for n in d["nodes"]]
assert sorted(names) == sorted(d["energy_j"]), "energy_j must name every node"
for n in d["nodes"]:
    for k in ("name", "kind", "memory_bytes", "mem_used_bytes", "busy_s",
              "energy_j"):
        assert k in n, "node lacks " + k
    assert n["kind"] in ("ground", "leo", "geo", "lunar")
    assert n["mem_used_bytes"] <= n["memory_bytes"] or not d["feasible"]
if d["feasible"]:
    eps = 1e-6
    c = d["predicted_completion_s"]
    assert c >= d["lower_bound_s"] - eps, (c, d["lower_bound_s"])
    g = 0
    for p in d["partitions"]:
        for k in ("node", "groups", "first_node", "last_node", "start_s",
                  "finish_s", "ready_s", "wait", "energy_j", "param_bytes"):
            assert k in p, "partition lacks " + k
        assert p["node"] in names
        assert p["groups"][0] == g and p["groups"][1] >= g, "groups in order"
        g = p["groups"][1] + 1
        assert p["ready_s"] - eps <= p["start_s"] <= p["finish_s"] + eps
        assert p["finish_s"] <= c + eps
    assert g == d["groups"], "partitions cover every group"
    for x in d["transfers"]:
        for k in ("from", "to", "bytes", "n_tensors", "ready_s",
                  "first_send_s", "arrive_s", "wait", "wait_link", "legs"):
            assert k in x, "transfer lacks " + k
        if x["legs"]:
            assert x["ready_s"] - eps <= x["first_send_s"] <= x["arrive_s"] + eps
            assert x["legs"][0]["link"].startswith(x["from"] + "->")
            assert x["legs"][-1]["link"].endswith("->" + x["to"])
        assert x["arrive_s"] <= c + eps
        for l in x["legs"]:
            w = l["window"]
            assert w[0] - eps <= l["start_s"] <= l["end_s"] + eps
            assert w[1] is None or l["end_s"] <= w[1] + eps
            assert l["bytes"] <= x["bytes"]
    total = sum(p["energy_j"] for p in d["partitions"])
    assert d["energy_orbit_j"] <= total + 1e-6
exec(extra)
PYEOF
}

# Every example topology plans, with a consistent JSON report and SVG.
for t in default leo-pass geo-relay earth-moon; do
    T="$EX/$t.topo"
    [ -f "$T" ] || { bad "missing $T"; continue; }
    expect 0 "" "$L" plan "$M" --topology "$T"
    grep -q "^partitions:" "$tmp/out" && grep -q "^completion: " "$tmp/out" \
        && ok || bad "plan $t: text output lacks partitions/completion"
    if "$L" plan "$M" --topology "$T" --json >"$tmp/$t.json" 2>"$tmp/err"; then
        check_json "$tmp/$t.json" && ok || bad "plan $t --json"
        have_py && { "$PY" -m json.tool "$tmp/$t.json" >/dev/null && ok ||
            bad "plan $t --json: json.tool"; }
    else
        bad "plan $t --json -> exit $?: $(head -c 300 "$tmp/err")"
    fi
    # Nothing on the ground: the model must travel, so transfers have legs.
    if "$L" plan "$M" --topology "$T" --forbid gs-mad --json \
            --svg "$tmp/$t.svg" >"$tmp/$t-f.json" 2>"$tmp/err"; then
        check_json "$tmp/$t-f.json" '
assert all(p["node"] != "gs-mad" for p in d["partitions"])
assert d["transfers"] and all(x["legs"] for x in d["transfers"])
' && ok || bad "plan $t --forbid gs-mad --json"
        if have_py; then
            "$PY" -c 'import xml.dom.minidom,sys; xml.dom.minidom.parse(sys.argv[1])' \
                "$tmp/$t.svg" && ok || bad "plan $t --svg: not well-formed XML"
        fi
    else
        bad "plan $t --forbid gs-mad -> exit $?: $(head -c 300 "$tmp/err")"
    fi
done

# leo-pass: the only LEO contact opens at 7980 s, so a plan that may not
# use the ground waits for it, and says so.
if "$L" plan "$M" --topology "$EX/leo-pass.topo" --forbid gs-mad --json \
        >"$tmp/lp.json" 2>/dev/null; then
    check_json "$tmp/lp.json" '
x = d["transfers"][0]
assert x["wait"] == "WaitingContact" and x["wait_link"].startswith("gs-mad->leo-gpu-")
assert abs(x["first_send_s"] - 7980) < 1e-6, x["first_send_s"]
assert d["predicted_completion_s"] > 7980
' && ok || bad "leo-pass: transfer waits for the 7980 s pass"
    "$L" plan "$M" --topology "$EX/leo-pass.topo" --forbid gs-mad \
        >"$tmp/lp.txt" 2>&1
    grep -q "WaitingContact gs-mad->leo-gpu-" "$tmp/lp.txt" && ok ||
        bad "leo-pass text: no WaitingContact"
fi

# --at: relative and ISO 8601 name the same instant; the plan starts there.
if have_py; then
    "$L" plan "$M" --topology "$EX/leo-pass.topo" --at 2h --json >"$tmp/a1.json" &&
    "$L" plan "$M" --topology "$EX/leo-pass.topo" --at 2026-11-22T02:00:00Z \
        --json >"$tmp/a2.json" &&
    "$PY" - "$tmp/a1.json" "$tmp/a2.json" <<'PYEOF' && ok || bad "--at 2h vs ISO"
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
assert a["t0_s"] == b["t0_s"] == 7200, (a["t0_s"], b["t0_s"])
assert a["predicted_completion_s"] == b["predicted_completion_s"]
PYEOF
fi

# --pin: the part holding the model's last node runs where it is pinned.
if "$L" plan "$M" --topology "$EX/leo-pass.topo" --pin /head/Gemm=leo-gpu-1 \
        --json >"$tmp/pin.json" 2>"$tmp/err"; then
    check_json "$tmp/pin.json" '
p = [p for p in d["partitions"] if p["last_node"] == "/head/Gemm"]
assert p and p[0]["node"] == "leo-gpu-1", d["partitions"]
' && ok || bad "--pin /head/Gemm=leo-gpu-1"
else
    bad "--pin -> exit $?: $(head -c 300 "$tmp/err")"
fi

# Usage errors (2), bad topology (3), infeasible (5).
expect 2 "missing --topology" "$L" plan "$M"
expect 2 "missing MODEL" "$L" plan --topology "$EX/default.topo"
expect 2 "nowhere" "$L" plan "$M" --topology "$EX/default.topo" --input-at nowhere
expect 2 "mars-1" "$L" plan "$M" --topology "$EX/default.topo" --output-to mars-1
expect 2 "nope" "$L" plan "$M" --topology "$EX/default.topo" --forbid gs-mad,nope
expect 2 "no node 'nosuch'" "$L" plan "$M" --topology "$EX/default.topo" --pin nosuch=gs-mad
expect 2 "strategy" "$L" plan "$M" --topology "$EX/default.topo" --strategy fast
expect 2 "objective" "$L" plan "$M" --topology "$EX/default.topo" --objective speed
expect 2 "deadline" "$L" plan "$M" --topology "$EX/default.topo" --deadline soon
expect 2 "--at" "$L" plan "$M" --topology "$EX/default.topo" --at yesterday
printf 'Node=gs-mad Kind=ground\n' >"$tmp/noepoch.topo"
expect 2 "Epoch" "$L" plan "$M" --topology "$tmp/noepoch.topo" --at 2026-11-22T00:00:00Z
printf 'Node=gs-mad Kind=ground\nFrobnicate=3\n' >"$tmp/bad.topo"
expect 3 "bad.topo:2" "$L" plan "$M" --topology "$tmp/bad.topo"
printf 'Node=gs-mad Kind=ground\nLink=gs-mad<>nowhere Rate=1G Delay=1ms\n' >"$tmp/bad2.topo"
expect 3 "bad2.topo:2" "$L" plan "$M" --topology "$tmp/bad2.topo"
expect 1 "" "$L" plan "$M" --topology "$tmp/no-such-file.topo"
printf 'Node=gs-mad Kind=ground Memory=1K\n' >"$tmp/tiny.topo"
expect 5 "infeasible" "$L" plan "$M" --topology "$tmp/tiny.topo"
"$L" plan "$M" --topology "$tmp/tiny.topo" --json >"$tmp/inf.json" 2>/dev/null
rc=$?
if [ "$rc" -eq 5 ] && have_py; then
    check_json "$tmp/inf.json" '
assert d["feasible"] is False and d["reason"]
assert d["predicted_completion_s"] is None
' && ok || bad "infeasible --json report"
elif [ "$rc" -ne 5 ]; then
    bad "infeasible --json -> exit $rc, want 5"
fi
# No chain of links from the input to the output: named with file and line.
printf 'Node=gs Kind=ground\nNode=sat Kind=leo\nNode=b Kind=geo\nLink=gs<>b Delay=1ms Rate=1G\n' >"$tmp/noroute.topo"
expect 5 "noroute.topo:2: no route from gs to sat" "$L" plan "$M" \
    --topology "$tmp/noroute.topo" --output-to sat
# A battery that cannot even carry the idle load says so.
printf 'Node=gs Kind=ground\nNode=sat Kind=leo Power=solar ArrayW=10 BatteryWh=1 IdleW=100 BusyW=200 Eclipse=every:100/40\nLink=gs<>sat Delay=5ms Rate=100M\n' >"$tmp/idle.topo"
expect 5 "sat's battery goes below its minimum .* even when idle" "$L" plan "$M" \
    --topology "$tmp/idle.topo" --forbid gs
# A deadline nothing can meet is infeasible too, with the reason.
expect 5 "infeasible" "$L" plan "$M" --topology "$EX/leo-pass.topo" \
    --forbid gs-mad --deadline 10min

# calibrate: a Profile= line that the topology parser takes.
if "$L" calibrate --repeat 1 >"$tmp/prof" 2>"$tmp/err"; then
    ok
    grep -q '^Profile=local Conv=[0-9.]*[kMGTP]* Gemm=.* Elem=.* Other=.* MemBW=.* Overhead=' \
        "$tmp/prof" && ok || bad "calibrate: no Profile= line: $(cat "$tmp/prof")"
    expect 0 "" "$L" topology "$EX/default.topo" --profiles "$tmp/prof"
    expect 0 "" "$L" plan "$M" --topology "$EX/default.topo" --profiles "$tmp/prof"
else
    bad "calibrate --repeat 1 -> exit $?: $(head -c 300 "$tmp/err")"
fi
if have_py; then
    "$L" calibrate --repeat 1 --json 2>/dev/null >"$tmp/cal.json" &&
    "$PY" -c '
import json, sys
d = json.load(open(sys.argv[1]))
for k in ("conv_flops", "gemm_flops", "elem_flops", "other_flops", "mem_bw", "overhead_s"):
    assert d[k] > 0, k
assert d["line"].startswith("Profile=local ")
' "$tmp/cal.json" && ok || bad "calibrate --json"
fi
expect 2 "" "$L" calibrate --repeat 0
expect 2 "" "$L" calibrate extra

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
