#!/bin/sh
# test_topology_orbit.sh - topologies placed by orbits (lagrange-topology(5),
# ORBITS): what `lagrange topology` computes at load time for Window=orbit
# and Eclipse=orbit must be what `lagrange contacts` finds for the same
# TLEs and station, turned into plan windows as the man page says:
#  - station passes, inter-satellite and Moon windows: the sub-windows of a
#    link, joined again where they touch or step down by the light-time
#    tolerance, start and end with the window of `lagrange contacts
#    --json` to 1 ms; every sub-window's delay is the light time along it
#    to within 1 ms, never under it; the same both ways;
#  - FIFO on every link (a byte sent later never arrives earlier);
#  - eclipses: one per shadow passage, about 15 a day at 550 km, each
#    starting inside the entry penumbra and ending inside the exit one;
#  - an old TLE and a decaying satellite are warnings on stderr
#    ("lagrange topology: warning: FILE:LINE: ..."), never NaN windows;
#  - examples/default-tle.topo plans tinynet end to end.
# Run by `make check`; uses LG_SRCDIR and ./cli/lagrange ($LAGRANGE).
set -u
src=${LG_SRCDIR:-$(dirname "$0")/..}
L=${LAGRANGE:-./cli/lagrange}
case $L in /*) ;; *) L=$(pwd)/$L ;; esac
PY=/usr/bin/python3
EX="$src/examples"
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

FROM=2026-11-22T00:00:00Z
MAD=gs-mad=40.43,-4.25,650,10

# ---- the demo constellation by TLE --------------------------------------
expect 0 "" "$L" topology "$EX/default-tle.topo"
[ -s "$tmp/err" ] && bad "default-tle.topo warns: $(head -c 300 "$tmp/err")"
grep -q '^Node=leo-gpu-1 .* Tle=default.tle Eclipse=orbit$' "$tmp/out" &&
    grep -q '^Link=gs-mad<>leo-gpu-1 Delay=0s Rate=50M/2G Window=orbit$' "$tmp/out" &&
    ok || bad "normal form of default-tle.topo does not keep the orbit keys"
expect 0 "" "$L" topology --windows "$EX/default-tle.topo"
grep -q '^gs-mad->leo-gpu-1 ' "$tmp/out" && grep -q '^leo-gpu-1  ' "$tmp/out" &&
    ok || bad "--windows lists no pass or no eclipse"
# From another directory: Tle= is relative to the topology's directory.
(cd "$tmp" && "$L" topology "$EX/default-tle.topo" >/dev/null 2>&1) && ok ||
    bad "default-tle.topo does not load from another directory"
# ... but from standard input, to the current one.
(cd "$tmp" && "$L" topology - <"$EX/default-tle.topo" >/dev/null 2>"$tmp/err2")
grep -q "default.tle: No such file" "$tmp/err2" && ok ||
    bad "stdin topology: Tle= not relative to the current directory"

expect 0 "" "$L" plan "$EX/tinynet.onnx" --topology "$EX/default-tle.topo" \
    --input-at leo-gpu-1 --output-to gs-mad
grep -q '^completion: +' "$tmp/out" && ok || bad "plan on default-tle.topo: no completion"

if [ -x "$PY" ]; then
    "$L" topology --windows --json "$EX/default-tle.topo" >"$tmp/topo.json" 2>"$tmp/err" ||
        bad "topology --windows --json: $(head -c 300 "$tmp/err")"
    "$L" contacts --tle "$EX/default.tle" --station $MAD --from $FROM \
        --span 1d --isl 0 --moon --json >"$tmp/contacts.json" 2>"$tmp/err" ||
        bad "contacts --json: $(head -c 300 "$tmp/err")"
    "$PY" - "$tmp/topo.json" "$tmp/contacts.json" <<'PYEOF' && ok || bad "windows differ from lagrange contacts"
import json, sys, datetime
topo = json.load(open(sys.argv[1]))
con = json.load(open(sys.argv[2]))
T0 = datetime.datetime(2026, 11, 22, tzinfo=datetime.timezone.utc).timestamp()
assert topo["epoch_unix"] == T0, topo["epoch_unix"]
MS = 1e-3
errors = []
def check(cond, msg):
    if not cond:
        errors.append(msg)

links = {(l["from"], l["to"]): l for l in topo["links"]}
nodes = {n["name"]: n for n in topo["nodes"]}

def ts(iso):
    return datetime.datetime.strptime(iso, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc).timestamp() - T0

def lt_at(samples, t):
    """Light time (s) at t (s after the epoch) from contacts' samples."""
    if t <= samples[0][0]:
        return samples[0][1] / 1e3
    for (t0, l0), (t1, l1) in zip(samples, samples[1:]):
        if t <= t1:
            return (l0 + (l1 - l0) * (t - t0) / (t1 - t0)) / 1e3
    return samples[-1][1] / 1e3

def joined(wins):
    """Sub-windows joined where they touch or FIFO moved a start by at
    most the 1 ms tolerance."""
    out = []
    for w in wins:
        if out and w[0] - out[-1][1] <= MS * 1.001:
            out[-1][1] = w[1]
            out[-1][2].append(w)
        else:
            out.append([w[0], w[1], [w]])
    return out

def compare(name, a, b, cwins, extra=0.0):
    wa = links[(a, b)]["window_list"]
    wb = links[(b, a)]["window_list"]
    check(links[(a, b)]["orbit"], "%s: not an orbit link" % name)
    # the same windows and delays both ways
    check([w[:3] for w in wa] == [w[:3] for w in wb], "%s: directions differ" % name)
    j = joined(wa)
    check(len(j) == len(cwins), "%s: %d windows, contacts has %d" % (name, len(j), len(cwins)))
    for (s, e, parts), c in zip(j, cwins):
        smp = c["light_time_samples"]
        cs, ce = smp[0][0], smp[-1][0]
        check(abs(s - cs) <= MS, "%s: start %.4f vs %.4f" % (name, s, cs))
        check(abs(e - ce) <= MS, "%s: end %.4f vs %.4f" % (name, e, ce))
        for w in parts:
            d = w[2] - extra
            for t in (w[0], w[1]):
                lt = lt_at(smp, t)
                check(d >= lt - 2e-6, "%s: delay %.6f under the light time %.6f at %.3f" % (name, d, lt, t))
                check(d <= lt + MS + 2e-6, "%s: delay %.6f over %.6f + 1 ms at %.3f" % (name, d, lt, t))
            check(all(x == x and abs(x) != float("inf") for x in w), "%s: non-finite window %r" % (name, w))

cw = con["windows"]
for i in (1, 2, 3):
    sat = "leo-gpu-%d" % i
    compare("gs-mad<>" + sat, "gs-mad", sat,
            [c for c in cw if c["kind"] == "station" and c["from"] == sat and c["to"] == "gs-mad"])
    # about 4-7 passes a day over a mid-latitude station
    check(4 <= len(joined(links[("gs-mad", sat)]["window_list"])) <= 8, sat + ": pass count")
    compare("geo-relay<>" + sat, "geo-relay", sat,
            [c for c in cw if c["kind"] == "isl" and {c["from"], c["to"]} == {sat, "geo-relay"}])
for a, b in (("leo-gpu-1", "leo-gpu-2"), ("leo-gpu-2", "leo-gpu-3"), ("leo-gpu-1", "leo-gpu-3")):
    compare(a + "<>" + b, a, b,
            [c for c in cw if c["kind"] == "isl" and {c["from"], c["to"]} == {a, b}])
compare("gs-mad<>luna-1", "gs-mad", "luna-1", [c for c in cw if c["kind"] == "moon"])
# the GEO relay's light time, as the file says, and always open
g = links[("gs-mad", "geo-relay")]
check(g["always"] and abs(g["delay_s_min"] - 0.1257) < 1e-9, "gs-mad<>geo-relay")
gs = [c for c in cw if c["kind"] == "station" and c["from"] == "geo-relay"]
check(len(gs) == 1 and abs(gs[0]["light_time_ms"]["min"] - 125.7) < 0.1, "GEO light time moved")

# FIFO on every link
for l in topo["links"]:
    w = l["window_list"]
    for x, y in zip(w, w[1:]):
        check(y[0] >= x[1] and y[0] + y[2] >= x[1] + x[2],
              "%s->%s: not FIFO at %r, %r" % (l["from"], l["to"], x, y))

# eclipses: one per shadow passage, ~15 a day at 550 km, each edge inside
# its penumbra (mid-penumbra to first order)
ce = con["eclipses"]
for i in (1, 2, 3):
    sat = "leo-gpu-%d" % i
    n = nodes[sat]
    e = n["eclipse_list"]
    c = [x for x in ce if x["satellite"] == sat]
    check(n["eclipse_orbit"] and 14 <= len(e) <= 16, "%s: %d eclipses" % (sat, len(e)))
    check(len(e) == len(c), "%s: %d eclipses, contacts has %d" % (sat, len(e), len(c)))
    frac = n["eclipse_s"] / topo["horizon_s"]
    check(0.30 < frac < 0.38, "%s: in shadow %.3f of the day" % (sat, frac))
    for (s, z), x in zip(e, c):
        p0, u0, u1, p1 = (ts(x[k]) if x[k] else None for k in
                          ("start", "umbra_start", "umbra_end", "end"))
        if x["start_clipped"]:
            check(s == 0, "%s: clipped eclipse starts at %r" % (sat, s))
        else:
            check(p0 - MS <= s <= u0 + MS, "%s: eclipse start %.3f outside the penumbra %.3f-%.3f" % (sat, s, p0, u0))
            check(abs(s - (p0 + u0) / 2) < 1.0, "%s: eclipse start %.3f not mid-penumbra" % (sat, s))
        if not x["end_clipped"]:
            check(u1 - MS <= z <= p1 + MS, "%s: eclipse end %.3f outside the penumbra %.3f-%.3f" % (sat, z, u1, p1))
            check(abs(z - (u1 + p1) / 2) < 1.0, "%s: eclipse end %.3f not mid-penumbra" % (sat, z))
check(nodes["geo-relay"]["eclipses"] == 0, "geo-relay has eclipses")
check(topo["warnings"] == [], "warnings: %r" % topo["warnings"])
if errors:
    print("\n".join(errors[:20]))
    sys.exit(1)
PYEOF
fi

# ---- Delay= is added; MaxRange= limits an ISL ---------------------------
cp "$EX/default.tle" "$tmp/"
cat >"$tmp/delay.topo" <<'EOF'
Epoch=2026-11-22T00:00:00Z
Horizon=6h
Node=gs-mad Kind=ground Lat=40.43 Lon=-4.25 Alt=650
Node=leo-gpu-1 Kind=leo Tle=default.tle
Node=leo-gpu-3 Kind=leo Tle=default.tle
Link=gs-mad>leo-gpu-1 Rate=1G Window=orbit
Link=leo-gpu-1>gs-mad Rate=1G Window=orbit Delay=5ms
Link=leo-gpu-1<>leo-gpu-3 Rate=10G Window=orbit MaxRange=4000
EOF
if [ -x "$PY" ] && "$L" topology --windows --json "$tmp/delay.topo" >"$tmp/d.json" 2>"$tmp/err"; then
    "$PY" - "$tmp/d.json" <<'PYEOF' && ok || bad "Delay= not added, or MaxRange= ignored"
import json, sys
d = json.load(open(sys.argv[1]))
L = {(l["from"], l["to"]): l["window_list"] for l in d["links"]}
up, down = L[("gs-mad", "leo-gpu-1")], L[("leo-gpu-1", "gs-mad")]
assert up and [w[:2] for w in up] == [w[:2] for w in down]
assert all(abs(b[2] - a[2] - 0.005) < 1e-12 for a, b in zip(up, down))
# 40 deg apart is 4739 km: never within 4000 km
assert L[("leo-gpu-1", "leo-gpu-3")] == [], L[("leo-gpu-1", "leo-gpu-3")][:2]
PYEOF
else
    bad "delay.topo: $(head -c 300 "$tmp/err")"
fi
"$L" topology "$tmp/delay.topo" >"$tmp/n1" 2>/dev/null &&
    grep -q '^Link=gs-mad>leo-gpu-1 Delay=0s Rate=1G Window=orbit$' "$tmp/n1" &&
    grep -q '^Link=leo-gpu-1>gs-mad Delay=5ms Rate=1G Window=orbit$' "$tmp/n1" &&
    grep -q '^Link=leo-gpu-1<>leo-gpu-3 Delay=0s Rate=10G Window=orbit MaxRange=4000$' "$tmp/n1" &&
    ok || bad "normal form of Delay=/MaxRange= on Window=orbit"

# ---- warnings: an old TLE, a decaying satellite -------------------------
# decayer: 16.2 rev/day with a huge drag term, SGP4 gives up after ~7.5 h;
# oldsat: epoch 2025-07-19, 492 days before the span.
cat >"$tmp/warn.tle" <<'EOF'
decayer
1 90020U 26902A   26326.00000000  .01000000  00000+0  50000-1 0  9995
2 90020  53.0000  30.0000 0005000  90.0000   0.0000 16.20000000    52
oldsat
1 90021U 25900A   25200.00000000  .00000800  00000+0  40000-4 0  9992
2 90021  53.0000  30.0000 0001200  90.0000   0.0000 15.05570000    55
EOF
cat >"$tmp/warn.topo" <<'EOF'
Epoch=2026-11-22T00:00:00Z
Horizon=1d
Node=gs Kind=ground Lat=40.43 Lon=-4.25 Alt=650
Node=decayer Kind=leo Tle=warn.tle Eclipse=orbit
Node=oldsat Kind=leo Tle=warn.tle
Link=gs<>decayer Rate=1G Window=orbit
Link=decayer<>oldsat Rate=1G Window=orbit
EOF
expect 0 "lagrange topology: warning: .*warn.topo:5: oldsat: TLE epoch 2025-07-19T00:00:00Z is 492.0 days from the span" \
    "$L" topology "$tmp/warn.topo"
grep -q "lagrange topology: warning: .*warn.topo:6: decayer: SGP4 error 1 at 2026-11-22T07:31:33Z" "$tmp/err" &&
    grep -q "lagrange topology: warning: .*warn.topo:4: decayer: SGP4 error 1 .*no eclipses after it" "$tmp/err" &&
    ok || bad "no decay warning: $(head -c 500 "$tmp/err")"
expect 0 "lagrange plan: warning: .*warn.topo:6: decayer: SGP4 error" \
    "$L" plan "$EX/tinynet.onnx" --topology "$tmp/warn.topo" --input-at decayer --output-to gs
if [ -x "$PY" ]; then
    "$L" topology --windows --json "$tmp/warn.topo" >"$tmp/w.json" 2>/dev/null
    "$PY" - "$tmp/w.json" <<'PYEOF' && ok || bad "decayed satellite: bad windows"
import json, math, sys
d = json.load(open(sys.argv[1]))
assert len(d["warnings"]) == 4, d["warnings"]
for l in d["links"]:
    for w in l["window_list"]:
        assert all(x is not None and math.isfinite(x) for x in w), w
        if "decayer" in (l["from"], l["to"]):
            assert w[1] <= 7.6 * 3600, w          # nothing after the decay
n = {x["name"]: x for x in d["nodes"]}
assert all(e[1] <= 7.6 * 3600 for e in n["decayer"]["eclipse_list"])
assert n["decayer"]["eclipses"] >= 4
PYEOF
fi

# ---- lenient TLEs, errors naming both files -----------------------------
sed 's/^\(2 90001 .*\)4$/\15/' "$EX/default.tle" >"$tmp/cks.tle"
printf 'Epoch=2026-11-22T00:00:00Z\nNode=leo-gpu-1 Kind=leo Tle=cks.tle\n' >"$tmp/cks.topo"
expect 3 "cks.topo:2: .*cks.tle:12 col 69: checksum" "$L" topology "$tmp/cks.topo"
printf 'Epoch=2026-11-22T00:00:00Z\nNode=leo-gpu-1 Kind=leo Tle=cks.tle TleLenient=yes\n' >"$tmp/cks2.topo"
expect 0 "" "$L" topology "$tmp/cks2.topo"
# a mangled record: skipped with a warning when lenient
sed 's/^\(2 90002 .*\)/\1 x/; s/^1 90002U/1 9x002U/' "$EX/default.tle" >"$tmp/mangled.tle"
printf 'Epoch=2026-11-22T00:00:00Z\nNode=leo-gpu-1 Kind=leo Tle=mangled.tle TleLenient=yes\n' >"$tmp/m.topo"
expect 0 "warning: .*m.topo:2: .*mangled.tle:14 col 3-7: .*(record skipped)" "$L" topology "$tmp/m.topo"
printf 'Epoch=2026-11-22T00:00:00Z\nNode=leo-gpu-2 Kind=leo Tle=mangled.tle TleLenient=yes\n' >"$tmp/m2.topo"
expect 3 "m2.topo:2: .*mangled.tle holds 3 satellites and none is named 'leo-gpu-2'" "$L" topology "$tmp/m2.topo"
printf 'Epoch=2026-11-22T00:00:00Z\nNode=x Kind=leo Tle=%s\n' "$tmp" >"$tmp/dir.topo"
expect 3 "dir.topo:2: .*Is a directory" "$L" topology "$tmp/dir.topo"
printf 'Epoch=2026-11-22T00:00:00Z\nNode=x Kind=leo Tle=default.tle TleName=geo-relay Eclipse=orbit Lat=1\n' >"$tmp/k.topo"
expect 3 "k.topo:2: Lat=, Lon=, Alt= and Mask= place a ground station" "$L" topology "$tmp/k.topo"
printf 'Node=x Kind=lunar Moon=maybe\n' >"$tmp/k.topo"
expect 3 "k.topo:1: Moon must be yes or no" "$L" topology "$tmp/k.topo"
printf 'Node=x Kind=leo Moon=yes\n' >"$tmp/k.topo"
expect 3 "k.topo:1: Moon=yes is for Kind=lunar nodes" "$L" topology "$tmp/k.topo"
printf 'Node=x Kind=leo Eclipse=orbit\n' >"$tmp/k.topo"
expect 3 "k.topo:1: Eclipse=orbit needs Tle=" "$L" topology "$tmp/k.topo"
printf 'Node=a Kind=ground\nNode=b Kind=ground\nLink=a<>b Rate=1G Delay=1ms MaxRange=10\n' >"$tmp/k.topo"
expect 3 "k.topo:3: MaxRange= applies to Window=orbit links" "$L" topology "$tmp/k.topo"
printf 'Epoch=2026-11-22T00:00:00Z\nNode=gs Kind=ground Lat=40 Lon=-4\nNode=l Kind=leo Tle=default.tle TleName=leo-gpu-1\nLink=gs<>l Rate=1G Window=orbit MaxRange=10\n' >"$tmp/k.topo"
expect 3 "k.topo:4: MaxRange= applies between two satellites" "$L" topology "$tmp/k.topo"
printf 'Epoch=2026-11-22T00:00:00Z\nHorizon=500d\nNode=l Kind=leo Tle=default.tle TleName=leo-gpu-1 Eclipse=orbit\n' >"$tmp/k.topo"
expect 3 "k.topo:3: Eclipse=orbit: Horizon is over 400d" "$L" topology "$tmp/k.topo"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
