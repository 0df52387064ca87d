#!/bin/sh
# test_topology.sh - `lagrange topology` on the golden files of
# tests/plan/topo, in the style of bgpd's regression tests:
#  - NAME.in (good) -> exit 0 and stdout equal to NAME.ok (the normal
#    form); the normal form must load again to itself (round trip);
#  - bad-NAME.in -> exit 3 and stderr equal to bad-NAME.ok (the message
#    names FILE:LINE);
#  - every examples/*.topo loads and round-trips, and --json is valid;
#  - the limits (line length, file size) and the exit codes for usage and
#    I/O errors, on files made here.
# Run by `make check` (automake TESTS); uses LG_SRCDIR and ./cli/lagrange.
set -u
src=${LG_SRCDIR:-$(dirname "$0")/..}
L=${LAGRANGE:-./cli/lagrange}
case $L in /*) ;; *) L=$(pwd)/$L ;; esac
D="$src/tests/plan/topo"
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

# roundtrip FILE: the normal form of FILE loads again to itself. It is
# written to $tmp, so the TLE files that FILE names by relative paths
# (Tle=) go there too.
roundtrip() {
    for tle in "$(dirname "$1")"/*.tle; do
        [ -f "$tle" ] && cp "$tle" "$tmp/"
    done
    if ! "$L" topology "$1" >"$tmp/n1" 2>"$tmp/err"; then
        bad "$1: $(head -c 300 "$tmp/err")"
        return
    fi
    if "$L" topology "$tmp/n1" >"$tmp/n2" 2>"$tmp/err" &&
        cmp -s "$tmp/n1" "$tmp/n2"; then
        ok
    else
        bad "$1: normal form does not load to itself: $(head -c 300 "$tmp/err")"
        diff "$tmp/n1" "$tmp/n2" | head -5
    fi
}

# The golden files name themselves in messages, so run beside them.
cd "$D" || { echo "no $D"; exit 1; }
ngood=0
nbad=0
for f in *.in; do
    name=${f%.in}
    [ -f "$name.ok" ] || { bad "$f has no $name.ok"; continue; }
    case $name in
    bad-*)
        nbad=$((nbad+1))
        "$L" topology "$f" >"$tmp/out" 2>"$tmp/err"
        rc=$?
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
        "$L" topology "$f" >"$tmp/out" 2>"$tmp/err"
        rc=$?
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
[ "$ngood" -ge 4 ] && [ "$nbad" -ge 20 ] && ok ||
    bad "found only $ngood good and $nbad bad golden files in $D"

# The shipped examples.
for f in "$src"/examples/*.topo; do
    roundtrip "$f"
    expect 0 "" "$L" topology --json "$f"
    if [ -x "$PY" ]; then
        "$PY" -c 'import json, sys; d = json.load(open(sys.argv[1])); assert d["nodes"] and d["links"]' "$tmp/out" && ok ||
            bad "$f --json is not the expected JSON"
    fi
done

# The default demo constellation, as DESIGN.md describes it.
if [ -x "$PY" ]; then
    "$L" topology --json "$src/examples/default.topo" >"$tmp/d.json" &&
    "$PY" - "$tmp/d.json" <<'PYEOF' && ok || bad "default.topo is not the demo constellation"
import json, sys
d = json.load(open(sys.argv[1]))
nodes = {n["name"]: n for n in d["nodes"]}
assert set(nodes) == {"gs-mad", "leo-gpu-1", "leo-gpu-2", "leo-gpu-3",
                      "geo-relay", "luna-1"}, nodes.keys()
links = {(l["from"], l["to"]): l for l in d["links"]}
for i in (1, 2, 3):
    n = nodes["leo-gpu-%d" % i]
    assert n["kind"] == "leo" and n["power"] == "solar"
    assert n["array_w"] == 1700 and n["battery_wh"] == 2000
    assert n["busy_w"] == 1000
    # eclipse: 37% of each compressed 60-s orbit
    assert abs(n["eclipse_s"] / d["horizon_s"] - 0.37) < 0.01
    g = links[("gs-mad", "leo-gpu-%d" % i)]
    assert not g["always"] and g["windows"] > 0
    assert g["open_s"] / d["horizon_s"] < 0.2          # passes only
    assert links[("geo-relay", "leo-gpu-%d" % i)]["always"]
    for j in (1, 2, 3):
        if i != j:
            assert links[("leo-gpu-%d" % i, "leo-gpu-%d" % j)]["always"]
assert links[("gs-mad", "geo-relay")]["always"]
m = links[("luna-1", "gs-mad")]
assert abs(m["delay_s_min"] - 1.28) < 1e-9 and not m["always"]
assert nodes["gs-mad"]["kind"] == "ground" and nodes["gs-mad"]["power"] == "grid"
PYEOF
fi

# --profiles replaces and adds profiles; a bad profiles file changes nothing.
printf 'Profile=local Conv=1T Gemm=2T Elem=30G Other=20G MemBW=50G Overhead=3us\nProfile=extra Conv=1G Gemm=1G Elem=1G Other=1G MemBW=1G\n' >"$tmp/prof"
"$L" topology "$D/basic.in" --profiles "$tmp/prof" >"$tmp/out" 2>"$tmp/err" &&
    grep -q '^Profile=local Conv=1T Gemm=2T Elem=30G Other=20G MemBW=50G Overhead=3us$' "$tmp/out" &&
    grep -q '^Profile=extra ' "$tmp/out" && ok || bad "--profiles"
printf 'Node=x Kind=ground\n' >"$tmp/badprof"
expect 3 "badprof:1: only Profile= lines" "$L" topology "$D/basic.in" --profiles "$tmp/badprof"

# Limits: a line over 64 KiB, a file over 256 MiB (sparse; never read).
"$PY" -c 'print("Node=a Kind=ground # " + "x" * 70000)' >"$tmp/long.topo" 2>/dev/null ||
    awk 'BEGIN { s = "Node=a Kind=ground # "; for (i = 0; i < 70000; i++) s = s "x"; print s }' >"$tmp/long.topo"
expect 3 "long.topo:1: line longer than 65536 bytes" "$L" topology "$tmp/long.topo"
if truncate -s 300M "$tmp/huge.topo" 2>/dev/null; then
    expect 3 "huge.topo: larger than 256 MiB" "$L" topology "$tmp/huge.topo"
fi
printf 'Node=a Kind=ground\000\n' >"$tmp/nul.topo"
expect 3 "nul.topo:1: NUL byte" "$L" topology "$tmp/nul.topo"
: >"$tmp/empty.topo"
expect 0 "" "$L" topology "$tmp/empty.topo"

# Standard input, usage and I/O errors.
"$L" topology - <"$D/basic.in" >"$tmp/out" 2>/dev/null &&
    cmp -s "$tmp/out" "$D/basic.ok" && ok || bad "topology - (stdin)"
expect 0 "" "$L" topology --help
expect 2 "need exactly one" "$L" topology
expect 2 "" "$L" topology --bogus "$D/basic.in"
expect 1 "No such file" "$L" topology "$tmp/nonexistent.topo"
expect 1 "Is a directory" "$L" topology "$tmp"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
