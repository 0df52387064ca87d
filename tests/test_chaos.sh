#!/bin/sh
# test_chaos.sh - distributed jobs under chaos: six real lagranged on
# loopback (Tls=no), 100 jobs split over 3 or 4 of them while workers are
# killed -9 and links are dropped, then a kill -9 of the controller with
# 20 jobs in flight. Every job must complete exactly once, with the right
# answer.
#
# The constellation (light time scaled down for CI: the GEO hops are tens
# of ms instead of ~120 ms, the lunar ones 300 ms instead of 1.28 s, so
# that 120 jobs fit in a few minutes; rates are real):
#
#            10 ms              300 ms
#       gs -------- gs2 ------------------- moon
#        |  \______  |  \______               |
#  30 ms |    10 ms \|  10 ms  \              | 300 ms
#       geo ------- leo1 ----- leo2 ----------+-- geo
#            20 ms        5 ms
#
#   gs<>gs2 10ms, gs<>geo 30ms, geo<>leo1 20ms, geo<>leo2 20ms,
#   leo1<>leo2 5ms, leo1<>gs2 10ms, leo2<>gs2 10ms, geo<>moon 300ms,
#   moon<>gs2 300ms
#
# gs is the controller (every job is submitted there), gs2 a second ground
# station; gs2, geo, leo1, leo2 and moon are the workers. Each daemon
# knows only its neighbours (Peer= lines); moon, for one, reaches gs only
# through geo or gs2 (multi-hop).
#
# The model is an MLP (64 -> 256 -> 256 -> 256 -> 10) made with torch in
# $T each run, with 20 inputs; torch's output for each input is the
# independent oracle, `lagrange run` of the whole model the bit-exact one.
#
#  1. the six daemons and their nine links come up;
#  2. 100 jobs are submitted to gs (no --wait), job k on input k mod 20,
#     with placements cycling over six routes of 3 or 4 workers; all the
#     while a chaos loop follows a schedule drawn from a seed (printed;
#     CHAOS_SEED=N replays it): at least 20 kill -9 of a random worker,
#     each restarted with the same configuration 0.5-3 s later, and link
#     drops (`lagrange link PEER down`, up again 0.2-2 s later), each
#     action a note;
#  3. all 100 become final (polling `lagrange queue --json`; a bound of
#     5 min, then a failure naming the jobs not final and their reasons);
#     every one COMPLETED, gs has exactly 100 jobs, one per submitted id;
#     each job's output (`lagrange result -O`) is allclose to its input's
#     torch output (rtol 1e-5, atol 1e-6) and byte-identical to `lagrange
#     run`'s; JobCompLog has exactly one line per job;
#  4. controller crash: 20 more jobs, the last 10 with gs's links taken
#     down (so that they are surely in flight), gs killed -9 one second
#     later and restarted (its links up again); at least 10 of the 20 were
#     not final at the crash; all 20 complete, correct, gs has exactly
#     120 jobs; in
#     JobCompLog each of the 20 has a line, and a second line only for a
#     job whose first line was written before the crash (the line is
#     written when the job becomes COMPLETED, just before its record is
#     saved: lagranged(8), Jobs, says a job never completes twice, not
#     that the log line cannot repeat);
#  5. the link gs <-> gs2 taken down at both ends, a job on leo1, leo2,
#     gs2 (its last output made at gs2, which must hold it: each of its
#     other neighbours would send it back), the link up again: the job
#     completes, correct;
#  6. every daemon exits 0 on SIGTERM; no log has "AddressSanitizer" or
#     "runtime error".
#
# No timing assertions: waits poll with generous bounds. Skips (77)
# without /usr/bin/python3's torch, numpy and onnx. Uses LG_SRCDIR,
# LAGRANGED and LAGRANGE like test_peers.sh; KEEP=1 keeps the temp dir
# (daemon logs at LogLevel=debug in $T/NODE/log).
set -u
src=$(cd "${LG_SRCDIR:-$(dirname "$0")/..}" && pwd)
. "$src/tests/lib.sh"

if ! [ -x "$PY" ] || ! "$PY" -c 'import torch, numpy, onnx' 2>/dev/null; then
    echo "test_chaos: SKIP: $PY cannot import torch, numpy and onnx"
    exit 77
fi
for b in "$LD" "$L"; do
    [ -x "$b" ] || { echo "test_chaos: $b not built" >&2; exit 1; }
done
command -v timeout >/dev/null 2>&1 || { echo "test_chaos: SKIP: no timeout(1)"; exit 77; }

lg_tmp chaos
LG_NODES="gs gs2 geo leo1 leo2 moon"
WORKERS="gs2 geo leo1 leo2 moon"
LG_WAIT=600                      # 60 s for any one condition
NJOBS=100                        # jobs under worker chaos
NCRASH=20                        # jobs across the controller's crash
NIN=20                           # distinct inputs
KILLS=${CHAOS_KILLS:-24}         # kill -9 in the schedule (at least 20)
FINAL_LIMIT=300                  # seconds for all jobs to be final
SEED=${CHAOS_SEED:-$$}
note "chaos seed $SEED (CHAOS_SEED=$SEED replays the schedule)"
PLACES="geo,moon,gs2 leo1,leo2,gs2 geo,leo1,gs2 leo2,geo,moon,gs2 gs2,leo1,leo2 geo,leo2,leo1,gs2"

# ---- topology, configurations, daemons ------------------------------------

base=$((10000 + ($$ % 1100) * 20))   # below the ephemeral ports (32768-)
P_gs=$base; P_gs2=$((base+1)); P_geo=$((base+2))
P_leo1=$((base+3)); P_leo2=$((base+4)); P_moon=$((base+5))
# Light time scaled down for CI (see the top of this file).
LINKS="gs:gs2:10ms:100M gs:geo:30ms:50M geo:leo1:20ms:50M geo:leo2:20ms:50M
leo1:leo2:5ms:100M leo1:gs2:10ms:100M leo2:gs2:10ms:100M geo:moon:300ms:10M
moon:gs2:300ms:10M"
{
    echo "Epoch=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "Horizon=1d"
    echo "Node=gs Kind=ground"
    echo "Node=gs2 Kind=ground"
    echo "Node=geo Kind=geo"
    echo "Node=leo1 Kind=leo"
    echo "Node=leo2 Kind=leo"
    echo "Node=moon Kind=lunar"
    for l in $LINKS; do
        echo "$l" | awk -F: '{ printf "Link=%s<>%s Delay=%s Rate=%s\n", $1, $2, $3, $4 }'
    done
} >"$T/net.topo"
# peers NODE: NODE's neighbours, one a line
peers() {
    for l in $LINKS; do
        echo "$l" | awk -F: -v n="$1" '$1 == n { print $2 } $2 == n { print $1 }'
    done
}
for n in $LG_NODES; do
    set --
    for p in $(peers $n); do
        eval "pp=\$P_$p"
        set -- "$@" "Peer=$p Address=127.0.0.1:$pp"
    done
    eval "conf $n \$P_$n \"\$@\" LogLevel=debug"
done
echo "JobCompLog=$T/gs/jobcomp.log" >>"$T/gs/lagranged.conf"
if ! "$L" topology "$T/net.topo" >"$T/topo.out" 2>&1; then
    bad "lagrange topology refuses the test's topology: $(head -3 "$T/topo.out")"
fi

# The model, the inputs and torch's outputs, made while the daemons start.
cat >"$T/gen.py" <<'EOF'
import sys
import numpy as np, onnx, torch
T, n = sys.argv[1], int(sys.argv[2])
torch.manual_seed(20261123)
m = torch.nn.Sequential(
    torch.nn.Linear(64, 256), torch.nn.ReLU(),
    torch.nn.Linear(256, 256), torch.nn.ReLU(),
    torch.nn.Linear(256, 256), torch.nn.ReLU(),
    torch.nn.Linear(256, 10)).eval()
g = torch.Generator().manual_seed(11)
xs = [torch.randn(1, 64, generator=g) for _ in range(n)]
with torch.no_grad():
    # as tests/zoo/gen_zoo.py exports
    torch.onnx.export(m, (xs[0],), T + "/mlp.onnx", input_names=["x"],
                      output_names=["y"], opset_version=13,
                      do_constant_folding=True,
                      training=torch.onnx.TrainingMode.EVAL)
    for k, x in enumerate(xs, 1):
        np.save("%s/x%d.npy" % (T, k), x.numpy())
        np.save("%s/e%d.npy" % (T, k), m(x).numpy())
onnx.checker.check_model(onnx.load(T + "/mlp.onnx"))
EOF

for n in $LG_NODES; do start $n; done

"$PY" "$T/gen.py" "$T" $NIN >"$T/gen.log" 2>&1 ||
    { bad "making the model with torch: $(tail -3 "$T/gen.log")"; summary test_chaos; exit 1; }
k=1
while [ $k -le $NIN ]; do
    "$L" run "$T/mlp.onnx" -i "$T/x$k.npy" -o "$T/r$k.npy" >/dev/null 2>"$T/run.err" ||
        bad "lagrange run of the model on x$k: $(head -3 "$T/run.err")"
    k=$((k+1))
done

# check_results LIST: LIST has lines "JOB K FILE"; FILE (JOB's output) is
# allclose to torch's output for input K and equal byte for byte to
# `lagrange run`'s. Prints "ok JOB" or "bad JOB why" per line, then the
# largest difference from torch as a note.
check_results() {
    "$PY" - "$T" "$1" <<'EOF'
import sys
import numpy as np
T, lst = sys.argv[1], sys.argv[2]
worst = 0.0
for line in open(lst):
    job, k, f = line.split()
    try:
        got = np.load(f)
        want, exact = np.load("%s/e%s.npy" % (T, k)), np.load("%s/r%s.npy" % (T, k))
        if got.dtype != want.dtype or got.shape != want.shape:
            raise Exception("dtype/shape %s %s, torch's %s %s" % (got.dtype, got.shape, want.dtype, want.shape))
        d = float(np.abs(got.astype(np.float64) - want).max())
        worst = max(worst, d)
        if not np.allclose(got, want, rtol=1e-5, atol=1e-6):
            raise Exception("not allclose to torch's output for x%s: max |diff| %.3g" % (k, d))
        if got.tobytes() != exact.tobytes():
            raise Exception("not bit for bit `lagrange run`'s output for x%s: %d of %d values differ" % (
                k, int((got != exact).sum()), got.size))
        print("ok", job)
    except Exception as e:
        print("bad", job, e)
print("note max |diff| against torch over these jobs: %.3g" % worst)
EOF
}
# The oracles agree with each other: `lagrange run` against torch.
: >"$T/runs.lst"
k=1
while [ $k -le $NIN ]; do
    [ -f "$T/r$k.npy" ] && echo "run$k $k $T/r$k.npy" >>"$T/runs.lst"
    k=$((k+1))
done
check_results "$T/runs.lst" >"$T/runs.chk" 2>&1
while read -r w j why; do
    case $w in
        ok) ok ;;
        note) note "lagrange run: $j $why" ;;
        *) bad "$j: $why" ;;
    esac
done <"$T/runs.chk"

# ---- 1. six daemons, nine links ---------------------------------------------

up=yes
for l in $LINKS; do
    a=${l%%:*}; r=${l#*:}; b=${r%%:*}
    wait_for "$a-$b link up" link_up $a $b && ok || up=no
done
if [ $up = no ]; then
    for n in $LG_NODES; do
        echo "# $n's log:"; tail -n 5 "$T/$n/log" | sed 's/^/#   /'
    done
    echo "test_chaos: the daemons and their links are not up: nothing more to test"
    summary test_chaos
    exit 1
fi
all_up() {
    "$L" nodes --json --server "$(api gs)" 2>/dev/null | "$PY" -c '
import json, sys
d = {n["name"]: n for n in json.load(sys.stdin)}
sys.exit(0 if all(d.get(n, {}).get("state") == "up" for n in sys.argv[1:]) else 1)' $LG_NODES
}
wait_for "lagrange nodes at gs shows all six up" all_up && ok

export LAGRANGE_SERVER="$(api gs)"
unset LAGRANGE_TOKEN_FILE LAGRANGE_CACERT
"$L" model push "$T/mlp.onnx" --name mlp >"$T/push.out" 2>"$T/push.err" ||
    bad "model push to gs: $(cat "$T/push.err")"

DIST=yes
if ! "$L" submit --help 2>&1 | grep -q -- '--place'; then
    bad "lagrange submit has no --place option: nothing to test"
    DIST=no
fi

# ---- helpers ----------------------------------------------------------------

# submit_jobs FROM TO PAUSE: submit jobs FROM..TO at gs (no --wait), job
# k on input (k-1) mod NIN + 1 with the (k-1) mod 6-th placement, PAUSE
# seconds between them; "k JOB" lines appended to $T/jobs.lst, failures
# to $T/submit.err.
submit_jobs() {
    k=$1
    while [ $k -le $2 ]; do
        i=$(( (k - 1) % NIN + 1 ))
        pl=$(echo $PLACES | cut -d' ' -f$(( (k - 1) % 6 + 1 )))
        if timeout 60 "$L" submit mlp -i "$T/x$i.npy" --place "$pl" --json \
            --name "chaos$k" >"$T/sj.json" 2>"$T/sj.err"; then
            j=$("$PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))["id"])' \
                "$T/sj.json" 2>/dev/null)
            if [ -n "$j" ]; then echo "$k $j $i $pl" >>"$T/jobs.lst"
            else echo "job $k: no id in '$(head -c 200 "$T/sj.json")'" >>"$T/submit.err"; fi
        else
            echo "job $k (x$i, --place $pl): $(head -2 "$T/sj.err" | tr '\n' ' ')" >>"$T/submit.err"
        fi
        [ "$3" = 0 ] || sleep "$3"
        k=$((k+1))
    done
}

# queue_py SCRIPT: a Python script on gs's `queue --json` (as q, a list),
# the "k JOB INPUT PLACE" lines of $T/jobs.lst as jobs.
queue_py() {
    "$L" queue --json >"$T/queue.json" 2>"$T/queue.err" || return 2
    "$PY" - "$T/queue.json" "$T/jobs.lst" <<EOF
import json, sys
q = json.load(open(sys.argv[1]))
jobs = [l.split() for l in open(sys.argv[2]) if l.strip()]
$1
EOF
}
# all_final N: gs has at least N jobs, every one in a final state.
all_final() {
    queue_py '
final = ("COMPLETED", "FAILED", "CANCELLED", "EXPIRED")
sys.exit(0 if len(q) >= '"$1"' and all(j["state"] in final for j in q) else 1)'
}
# wait_final N WHAT: wait for all_final N; on timeout, fail naming the jobs
# not final and their reasons.
wait_final() {
    i=$(( $(date +%s) + FINAL_LIMIT ))
    until all_final $1 >/dev/null 2>&1; do
        if [ "$(date +%s)" -gt $i ]; then
            queue_py '
final = ("COMPLETED", "FAILED", "CANCELLED", "EXPIRED")
left = [j for j in q if j["state"] not in final]
pl = {l[1]: "job %s, x%s, --place %s" % (l[0], l[2], l[3]) for l in jobs}
print("%d of %d jobs not final:" % (len(left), len(q)), "; ".join(
    "%s (%s) %s %s" % (j["id"], pl.get(j["id"], "?"), j["state"], j.get("reason", ""))
    for j in left[:20]))' \
                >"$T/notfinal.out" 2>&1
            bad "$2: not all final after $FINAL_LIMIT s: $(cat "$T/notfinal.out")"
            return 1
        fi
        sleep 0.1
    done
    ok
}
# check_jobs FROM TO TOTAL WHAT: jobs FROM..TO of jobs.lst are each
# COMPLETED, gs has TOTAL jobs (the ids of jobs.lst, each once), and each
# output (lagrange result -O) is right.
check_jobs() {
    queue_py '
ids = [j["id"] for j in q]
want = [l[1] for l in jobs]
st = {j["id"]: j for j in q}
bad = []
if len(ids) != len(set(ids)):
    bad.append("ids listed twice: %s" % sorted({i for i in ids if ids.count(i) > 1}))
if len(q) != '"$3"':
    bad.append("%d jobs at gs, want '"$3"'" % len(q))
if set(ids) != set(want):
    bad.append("jobs at gs not submitted: %s; submitted, not at gs: %s" % (
        sorted(set(ids) - set(want))[:10], sorted(set(want) - set(ids))[:10]))
for l in jobs[int('"$1"') - 1:int('"$2"')]:
    j = st.get(l[1])
    if j and j["state"] != "COMPLETED":
        bad.append("job %s (%s, x%s, --place %s) %s: %s %s" % (l[0], l[1], l[2], l[3],
                   j["state"], j.get("reason", ""), j.get("error", "")))
print("\n".join(bad[:15]))
sys.exit(1 if bad else 0)' >"$T/check.out" 2>&1
    case $? in
        0) ok ;;
        2) bad "$4: queue --json at gs: $(cat "$T/queue.err")" ;;
        *) bad "$4: $(tr '\n' '|' <"$T/check.out")" ;;
    esac
    : >"$T/res.lst"
    sed -n "$1,$2p" "$T/jobs.lst" | while read -r k j i pl; do
        rm -rf "$T/res/$j"
        if "$L" result "$j" -O "$T/res/$j" >/dev/null 2>"$T/res.err"; then
            echo "$j $i $T/res/$j/y.npy" >>"$T/res.lst"
        else
            echo "bad $j job $k (x$i, --place $pl): lagrange result: $(head -1 "$T/res.err")"
        fi
    done >"$T/res.chk"
    check_results "$T/res.lst" >>"$T/res.chk" 2>&1
    nok=0
    while read -r w j why; do
        case $w in
            ok) ok; nok=$((nok+1)) ;;
            note) note "$4: $j $why" ;;
            *) bad "$4: job $j: $why" ;;
        esac
    done <"$T/res.chk"
    note "$4: $nok of $(($2 - $1 + 1)) outputs right"
}
# complog: "JOB COUNT" per job id in gs's JobCompLog.
complog() {
    sed -n 's/^JobId=\([^ ]*\) .*/\1/p' "$T/gs/jobcomp.log" 2>/dev/null | sort | uniq -c |
        awk '{ print $2, $1 }'
}

# ---- the chaos schedule -------------------------------------------------------

# Drawn up front from the seed: "TIME kill NODE", "TIME start NODE", "TIME
# down NODE PEER", "TIME up NODE PEER", TIME in tenths of a second from
# the start of the chaos. A kill is followed by its restart 0.5-3 s
# later, a link drop by the link up 0.2-2 s later; actions start every
# 0.3-1.2 s; a node being restarted, or with a link down, is left alone
# until it is back (a restart would forget the link's admin state).
awk -v seed="$SEED" -v kills="$KILLS" -v workers="$WORKERS" -v links="$LINKS" '
function r(a, b) { return a + int(rand() * (b - a + 1)) }
BEGIN {
    srand(seed)
    nw = split(workers, W, " ")
    nl = split(links, LK, /[ \n]+/)
    t = 5; k = 0
    while (k < kills) {
        if (rand() < 0.6) {
            n = W[r(1, nw)]
            if (busy[n] > t) { t += r(1, 3); continue }
            d = r(5, 30)
            printf "%d kill %s\n", t, n
            printf "%d start %s\n", t + d, n
            busy[n] = t + d + 5
            k++
        } else {
            split(LK[r(1, nl)], f, ":")
            a = f[1]; b = f[2]
            if (rand() < 0.5) { c = a; a = b; b = c }
            if (busy[a] > t || busy[b] > t) { t += r(1, 3); continue }
            d = r(2, 20)
            printf "%d down %s %s\n", t, a, b
            printf "%d up %s %s\n", t + d, a, b
            busy[a] = busy[b] = t + d + 3
        }
        t += r(3, 12)
    }
}' | sort -n -s >"$T/chaos.plan"
note "chaos plan: $(grep -c ' kill ' "$T/chaos.plan") kills, $(grep -c ' down ' "$T/chaos.plan") link drops over $(tail -1 "$T/chaos.plan" | cut -d' ' -f1 | sed 's/.$/.&/') s"

now10() { echo $(( $(date +%s%N) / 100000000 )); }
nkill=0; ndown=0
chaos() {
    t0=$(now10)
    while read -r at what n p; do
        dt=$((at - ($(now10) - t0)))
        [ $dt -gt 0 ] && sleep "$((dt / 10)).$((dt % 10))"
        case $what in
            kill)
                kill9 $n; nkill=$((nkill+1))
                note "chaos $at: kill -9 $n ($nkill)" ;;
            start)
                start $n; note "chaos $at: $n restarted" ;;
            down)
                if "$L" link down $p --socket "$(ctl $n)" >"$T/link.out" 2>&1; then
                    ndown=$((ndown+1)); note "chaos $at: link $n -> $p down"
                else
                    bad "chaos $at: lagrange link down $p at $n: $(head -1 "$T/link.out")"
                fi ;;
            up)
                "$L" link up $p --socket "$(ctl $n)" >"$T/link.out" 2>&1 &&
                    note "chaos $at: link $n -> $p up" ||
                    bad "chaos $at: lagrange link up $p at $n: $(head -1 "$T/link.out")" ;;
        esac
    done <"$T/chaos.plan"
}

if [ $DIST = yes ]; then

# ---- 2. 100 jobs under worker chaos -----------------------------------------------

: >"$T/jobs.lst"; : >"$T/submit.err"; mkdir -p "$T/res"
plan_s=$(( $(tail -1 "$T/chaos.plan" | cut -d' ' -f1) / 10 ))
# spread the submissions over the chaos (each submit takes time too)
pause=$(awk -v s="$plan_s" -v n=$NJOBS 'BEGIN { p = 0.6 * s / n; printf "%.2f", p < 0.05 ? 0 : p }')
start_ts=$(date +%s)
submit_jobs 1 $NJOBS "$pause" &
subpid=$!
chaos
wait $subpid
note "chaos done: $nkill kill -9, $ndown link drops; $(wc -l <"$T/jobs.lst") jobs submitted"
[ $nkill -ge 20 ] && ok || bad "only $nkill kill -9 in the chaos, want at least 20"
[ -s "$T/submit.err" ] && bad "submits refused: $(head -3 "$T/submit.err" | tr '\n' '|')"
[ "$(wc -l <"$T/jobs.lst")" -eq $NJOBS ] && ok ||
    bad "$(wc -l <"$T/jobs.lst") of $NJOBS jobs submitted"
for n in $WORKERS; do
    eval "p=\${pid_$n:-}"
    [ -n "$p" ] && kill -0 "$p" 2>/dev/null || bad "$n is not running after the chaos"
done

# ---- 3. all final, completed, right, once ---------------------------------------

wait_final $NJOBS "$NJOBS jobs under chaos"
note "the $NJOBS jobs final $(( $(date +%s) - start_ts )) s after the first submit"
check_jobs 1 $NJOBS $NJOBS "jobs under chaos"
# how often the chaos hit a task: a worker took it again after a restart
grep -h ": task .* from gs: " "$T"/*/log 2>/dev/null | sed 's/.*: task \([^ ]*\) from gs.*/\1/' |
    sort | uniq -d | wc -l >"$T/refound"
note "tasks a worker took up again after a restart: $(cat "$T/refound")"
complog >"$T/complog.1"
awk -v n=$NJOBS 'NR == FNR { c[$1] = $2; next }
    { if (c[$2] != 1) { printf "job %s (%s) has %d JobCompLog lines\n", $1, $2, c[$2]; b++ } delete c[$2] }
    END { for (j in c) { printf "JobCompLog names %s, not one of the jobs\n", j; b++ } exit b > 0 }' \
    "$T/complog.1" "$T/jobs.lst" >"$T/complog.chk" &&
    ok || bad "JobCompLog after the chaos: $(head -5 "$T/complog.chk" | tr '\n' '|')"

# ---- 4. controller crash with 20 jobs in flight -------------------------------------

# The first half is submitted with gs's links up (some may complete before
# the crash), the second with both taken down at gs, so that those are
# surely in flight (staged or dispatched into gs's spool, no output back)
# when gs dies; a restart forgets the links' admin state.
from=$((NJOBS + 1)); to=$((NJOBS + NCRASH)); half=$((NJOBS + NCRASH / 2))
submit_jobs $from $half 0
sleep 0.5
for p in $(peers gs); do
    "$L" link down $p --socket "$(ctl gs)" >"$T/link.out" 2>&1 ||
        bad "lagrange link down $p at gs: $(head -1 "$T/link.out")"
done
submit_jobs $((half + 1)) $to 0
[ -s "$T/submit.err" ] && bad "submits refused: $(head -3 "$T/submit.err" | tr '\n' '|')"
sleep 1
kill9 gs
cp "$T/gs/jobcomp.log" "$T/jobcomp.before" 2>/dev/null || : >"$T/jobcomp.before"
nb=$(( $(wc -l <"$T/jobcomp.before") - NJOBS ))
note "gs killed -9 with $((NCRASH - nb)) of $NCRASH more jobs in flight (its links down for the last $((to - half)))"
[ $((NCRASH - nb)) -ge $((to - half)) ] && ok ||
    bad "only $((NCRASH - nb)) jobs were in flight at gs's crash, want at least $((to - half))"
sleep 1
start gs
wait_final $to "$NCRASH jobs across gs's crash"
check_jobs $from $to $to "jobs across gs's crash"
complog >"$T/complog.2"
sed -n 's/^JobId=\([^ ]*\) .*/\1/p' "$T/jobcomp.before" | sort -u >"$T/before.ids"
awk -v from=$from 'FILENAME == ARGV[1] { pre[$1] = 1; next }
    FILENAME == ARGV[2] { c[$1] = $2; next }
    FNR >= from {
        if (c[$2] == 0 || c[$2] > 2 || (c[$2] == 2 && !pre[$2])) {
            printf "job %s (%s) has %d JobCompLog lines%s\n", $1, $2, c[$2],
                pre[$2] ? " (completed before the crash)" : ""; b++
        } else if (c[$2] == 2) dup++
    }
    FNR < from && c[$2] != 1 { printf "job %s (%s) now has %d JobCompLog lines\n", $1, $2, c[$2]; b++ }
    END { if (dup) printf "note %d job(s) completed just before the crash logged twice\n", dup; exit b > 0 }' \
    "$T/before.ids" "$T/complog.2" "$T/jobs.lst" >"$T/complog.chk" &&
    ok || bad "JobCompLog after gs's crash: $(grep -v '^note' "$T/complog.chk" | head -5 | tr '\n' '|')"
grep '^note' "$T/complog.chk" | sed 's/^note /# /'

# ---- 5. a job's output made behind a link that is down ----------------------------

# gs <-> gs2 taken down at both ends, then a job on leo1, leo2, gs2: its
# tasks reach gs2 by way of geo and leo1; gs2's output for gs can only
# wait (every other neighbour of gs2 routes to gs back through gs2), and
# must arrive once the link is up. (It used to bounce to leo1 and back,
# where gs2 took it for a duplicate of what it had passed on: lost.)
for e in "gs gs2" "gs2 gs"; do
    set -- $e
    "$L" link down $2 --socket "$(ctl $1)" >"$T/link.out" 2>&1 ||
        bad "lagrange link down $2 at $1: $(head -1 "$T/link.out")"
done
J=$(timeout 60 "$L" submit mlp -i "$T/x1.npy" --place leo1,leo2,gs2 --json 2>"$T/sj.err" |
    "$PY" -c 'import json, sys; print(json.load(sys.stdin)["id"])' 2>/dev/null)
if [ -n "$J" ]; then
    note "job $J on leo1,leo2,gs2 with gs <-> gs2 down"
    wait_for "job $J's last partition done at gs2" grep -q "task $J/[0-9]*/3 done" "$T/gs2/log" && ok
    sleep 1
    for e in "gs gs2" "gs2 gs"; do
        set -- $e
        "$L" link up $2 --socket "$(ctl $1)" >"$T/link.out" 2>&1 ||
            bad "lagrange link up $2 at $1: $(head -1 "$T/link.out")"
    done
    job_done() {
        "$L" show "$J" --json 2>/dev/null | "$PY" -c '
import json, sys
sys.exit(0 if json.load(sys.stdin)["state"] in ("COMPLETED", "FAILED", "CANCELLED", "EXPIRED") else 1)'
    }
    if wait_for "job $J final after gs <-> gs2 came back up" job_done; then
        echo "$((to + 1)) $J 1 leo1,leo2,gs2" >>"$T/jobs.lst"
        check_jobs $((to + 1)) $((to + 1)) $((to + 1)) "job behind a link down"
    else
        "$L" show "$J" 2>&1 | sed 's/^/#   /'
    fi
else
    bad "submit with gs <-> gs2 down: $(head -2 "$T/sj.err" | tr '\n' ' ')"
fi

fi # DIST

# ---- 6. the daemons stop cleanly, their logs are clean ------------------------------

for n in $LG_NODES; do
    stop $n || bad "$n did not stop cleanly (exit $?): $(tail -n 2 "$T/$n/log" | tr '\n' ' ')"
done
for n in $LG_NODES; do
    if grep -q "AddressSanitizer\|runtime error" "$T/$n/log"; then
        bad "$n's log: $(grep "AddressSanitizer\|runtime error" "$T/$n/log" | head -3)"
    fi
done

summary test_chaos
