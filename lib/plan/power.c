/*
 * power.c - battery integration for solar nodes: the energy curve under a
 * schedule of busy intervals, the feasibility check against the minimum
 * state of charge, the earliest feasible start of a new job and the
 * longest run that is safe at any time.
 *
 * Everything is exact piecewise-linear arithmetic: between events
 * (eclipse edges, busy edges, the battery reaching full) the net power is
 * constant, so the energy is linear and its crossings are solved, not
 * stepped. Pure functions of their arguments; thread-safe.
 *
 * Grid nodes (solar == 0) have no energy budget: always feasible, their
 * energy is reported as INFINITY.
 *
 * A comparison tolerance of 1e-9 of the capacity absorbs rounding, so a
 * schedule that drains the battery exactly to the minimum is feasible.
 */
#include "power.h"

#include <errno.h>
#include <math.h>

#include "lgerr.h"

#define EARLIEST_TOL 1e-5       /* s: bisection width, well under 1 ms */
#define SLOPE_H 1e-5            /* s: step of the finite-difference slope */

/* A walk along the energy curve. Cursors only move forward, so a walk
 * over the whole horizon is linear in the number of events. */
typedef struct pw_sim {
    const plan_power *p;
    const plan_interval *busy;  /* sorted by start, disjoint */
    int n_busy;
    double job_s, job_e;        /* the job being placed; empty if e <= s */
    double quiet;               /* no busy time at or after this instant */
    double cap, emin, eps;      /* Wh */
    double t, e;                /* now, and the energy now */
    int ie, ib;                 /* first eclipse / busy interval ending > t */
} pw_sim;

enum { SIM_UNTIL = 0, SIM_VIOL, SIM_FULL };
#define STOP_VIOL 1             /* stop at the first dip below the minimum */
#define STOP_FULL 2             /* stop once full with no busy time ahead */

static double dmax(double a, double b) { return a > b ? a : b; }
static double dmin(double a, double b) { return a < b ? a : b; }

static void sim_init(pw_sim *m, const plan_power *p,
                     const plan_interval *busy, int n_busy)
{
    m->p = p;
    m->busy = busy;
    m->n_busy = busy ? n_busy : 0;
    m->job_s = m->job_e = -INFINITY;
    m->quiet = m->n_busy > 0 ? busy[m->n_busy - 1].end : -INFINITY;
    m->cap = p->battery_wh > 0 ? p->battery_wh : 0;
    m->emin = p->min_soc * m->cap;
    m->eps = 1e-9 * m->cap + 1e-12;
    m->t = 0;
    m->e = dmin(p->soc0 * m->cap, m->cap);
    m->ie = 0;
    m->ib = 0;
}

/* Add the job [s, s + dur): it follows every busy interval. */
static void sim_job(pw_sim *m, double s, double dur)
{
    m->job_s = s;
    m->job_e = s + dur;
    m->quiet = dmax(m->quiet, m->job_e);
}

/* Net power at m->t in Wh/s, and in *next the end of the stretch over
 * which it stays constant (ignoring the battery filling up). */
static double sim_rate(pw_sim *m, double *next)
{
    const plan_power *p = m->p;
    double nx = INFINITY, solar = p->array_w, load = p->idle_w;
    int busy = 0;

    while (m->ie < p->n_eclipse && p->eclipse[m->ie].end <= m->t)
        m->ie++;
    if (m->ie < p->n_eclipse) {
        const plan_interval *x = &p->eclipse[m->ie];
        if (x->start <= m->t) {
            solar = 0;
            nx = x->end;
        } else {
            nx = x->start;
        }
    }
    while (m->ib < m->n_busy && m->busy[m->ib].end <= m->t)
        m->ib++;
    if (m->ib < m->n_busy) {
        const plan_interval *b = &m->busy[m->ib];
        if (b->start <= m->t) {
            busy = 1;
            nx = dmin(nx, b->end);
        } else {
            nx = dmin(nx, b->start);
        }
    }
    if (m->job_e > m->job_s) {
        if (m->t < m->job_s) {
            nx = dmin(nx, m->job_s);
        } else if (m->t < m->job_e) {
            busy = 1;
            nx = dmin(nx, m->job_e);
        }
    }
    if (busy)
        load = p->busy_w;
    *next = nx;
    return (solar - load) / 3600.0;
}

/*
 * Walk to `until`. Tracks the lowest energy seen in *low (the curve is
 * linear between the points visited, so its minimum is at one of them).
 * STOP_VIOL: stop at the first instant the energy would go below the
 * minimum, reported in *viol. STOP_FULL: stop once the battery is full
 * and no busy time lies ahead (see plan_power_earliest for why the rest
 * is then known).
 */
static int sim_run(pw_sim *m, double until, int flags, double *low,
                   double *viol)
{
    if ((flags & STOP_VIOL) && m->e < m->emin - m->eps) {
        if (viol)
            *viol = m->t;
        return SIM_VIOL;
    }
    while (m->t < until) {
        double nx, e1, r = sim_rate(m, &nx);

        if ((flags & STOP_FULL) && m->e >= m->cap && m->t >= m->quiet)
            return SIM_FULL;
        if (nx > until)
            nx = until;
        if (r > 0) {
            if (m->e < m->cap) {
                double tf = m->t + (m->cap - m->e) / r;
                if (tf < nx) {
                    nx = tf;     /* an event of its own: full from here */
                    e1 = m->cap;
                } else {
                    e1 = dmin(m->cap, m->e + r * (nx - m->t));
                }
            } else {
                e1 = m->cap;     /* full: the surplus is shed */
            }
        } else if (r < 0) {
            e1 = m->e + r * (nx - m->t);
        } else {
            e1 = m->e;           /* no 0 * INFINITY */
        }
        if ((flags & STOP_VIOL) && e1 < m->emin - m->eps) {
            double tv = m->t + (m->e - m->emin) / -r;
            if (viol)
                *viol = dmin(dmax(tv, m->t), nx);
            m->e = m->emin;
            m->t = dmin(dmax(tv, m->t), nx);
            if (low && m->e < *low)
                *low = m->e;
            return SIM_VIOL;
        }
        m->t = nx;
        m->e = e1;
        if (low && e1 < *low)
            *low = e1;
    }
    return SIM_UNTIL;
}

static int bad_args(const plan_power *p, const plan_interval *busy,
                    int n_busy)
{
    return !p || n_busy < 0 || (n_busy > 0 && !busy) ||
           (p->n_eclipse > 0 && !p->eclipse);
}

/* First eclipse interval ending after t. */
static int eclipse_at(const plan_power *p, double t)
{
    int lo = 0, hi = p->n_eclipse;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (p->eclipse[mid].end > t)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

int plan_power_in_eclipse(const plan_power *p, double t)
{
    int i;
    if (!p || p->n_eclipse <= 0 || !p->eclipse)
        return 0;
    i = eclipse_at(p, t);
    return i < p->n_eclipse && p->eclipse[i].start <= t;
}

double plan_power_solar(const plan_power *p, double t)
{
    if (!p)
        return 0;
    return plan_power_in_eclipse(p, t) ? 0 : p->array_w;
}

double plan_power_energy(const plan_power *p, const plan_interval *busy,
                         int n_busy, double t)
{
    pw_sim m;
    if (bad_args(p, busy, n_busy))
        return NAN;
    if (!p->solar)
        return INFINITY;
    sim_init(&m, p, busy, n_busy);
    sim_run(&m, t, 0, NULL, NULL);
    return m.e;
}

/*
 * One forward pass, O(eclipse edges + busy edges up to `until`). It does
 * not stop early at a full battery: knowing that the rest is feasible
 * would take the same pass over the idle baseline. plan_power_earliest,
 * which asks many times about one schedule, is where that pays.
 */
int plan_power_check(const plan_power *p, const plan_interval *busy,
                     int n_busy, double until, double *viol)
{
    pw_sim m;
    if (bad_args(p, busy, n_busy))
        return -EINVAL;
    if (!p->solar)
        return 0;
    sim_init(&m, p, busy, n_busy);
    if (sim_run(&m, until, STOP_VIOL, NULL, viol) == SIM_VIOL)
        return LG_EMODEL;
    return 0;
}

/* ----------------------------------------------------------- earliest */

/*
 * Why the search below is exact (to EARLIEST_TOL).
 *
 * Write Y(t) for the integral of net power from 0 (unclamped, Wh). The
 * clamp at capacity C is a reflecting barrier, so (Skorokhod)
 *     E(t) = C - (P(t) - Y(t)),  P(t) = max(C - E(0), max_{u<=t} Y(u)):
 * the battery's deficit is the drawdown of Y from its running peak. The
 * lowest energy over [0, until] is C minus the largest drawdown, and
 * Y is piecewise linear, so that drawdown is attained at a pair of
 * breakpoints of Y: eclipse edges, busy edges, 0, until, and the job's
 * own edges s and s + dur.
 *
 * Cut the start times at every s where s or s + dur meets an eclipse
 * edge (busy edges all lie before the job). Inside one piece the order
 * of the breakpoints is fixed and the value of Y at each is linear in s,
 * so the lowest energy is a minimum of linear functions of s: concave.
 * Feasible starts within a piece therefore form one interval, possibly
 * strictly inside the piece (neither end feasible), which is why the
 * search finds the piece's maximum before bisecting, rather than testing
 * the ends alone; feasibility is not monotone across pieces (a later
 * start can push the job into an eclipse), so pieces are scanned in
 * time order and the first feasible start wins.
 *
 * Evaluating one start is cheap: the prefix before s is the baseline
 * (existing busy time, no job), walked once in time order; after the job,
 * once the battery is full again, the curve equals the baseline (the job
 * only lowers energy, so full here means full there; then the same
 * equation runs from the same state). The baseline was checked feasible
 * first, with lowest point low_n, so feasibility of s is
 *     min(lowest energy on [s, refill], low_n) >= minimum,
 * and min(., low_n) keeps the per-piece concavity.
 */

typedef struct pw_search {
    const pw_sim *base;         /* baseline walk, at or before the piece */
    double dur, until, low_n;
} pw_search;

/* Lowest energy of the schedule with the job at s, floored at low_n. */
static double job_low(const pw_search *q, double s)
{
    pw_sim m = *q->base;
    double low;

    sim_run(&m, s, 0, NULL, NULL);
    sim_job(&m, s, q->dur);
    low = m.e;
    sim_run(&m, q->until, STOP_FULL, &low, NULL);
    return dmin(low, q->low_n);
}

static int job_ok(const pw_search *q, double s)
{
    const pw_sim *b = q->base;
    return job_low(q, s) >= b->emin - b->eps;
}

/* First feasible start in (a, b], given a is not feasible; INFINITY if
 * none. The lowest energy is concave on [a, b]. */
static double piece_search(const pw_search *q, double a, double b)
{
    double h = SLOPE_H, l, r, x, fx;

    if (b - a <= 4 * h) {
        x = b;
    } else {
        /* Non-increasing at a: concave, so non-increasing on all of it. */
        if (!(job_low(q, a + h) > job_low(q, a)))
            return INFINITY;
        /* Bisect on the sign of the slope for the maximum. Invariant: it
         * lies in [l, r]; the loop ends when r - l <= 3h. */
        l = a;
        r = b;
        while (r - l > 3 * h) {
            double mid = 0.5 * (l + r);
            if (job_low(q, mid + h) > job_low(q, mid))
                l = mid;
            else
                r = dmin(mid + h, b);
        }
        x = l;
        fx = job_low(q, l);
        if (job_low(q, 0.5 * (l + r)) > fx) {
            x = 0.5 * (l + r);
            fx = job_low(q, x);
        }
        if (job_low(q, r) > fx)
            x = r;
    }
    if (!job_ok(q, x))
        return INFINITY;
    /* Feasible on [first, x], infeasible on [a, first): bisect. */
    l = a;
    r = x;
    while (r - l > EARLIEST_TOL) {
        double mid = 0.5 * (l + r);
        if (job_ok(q, mid))
            r = mid;
        else
            l = mid;
    }
    return r;
}

/* Eclipse edges in time order: start0, end0, start1, end1, ... */
static double edge(const plan_power *p, int k)
{
    return k & 1 ? p->eclipse[k / 2].end : p->eclipse[k / 2].start;
}

/* First k with edge(k) - off > x. */
static int edge_after(const plan_power *p, double off, double x)
{
    int lo = 0, hi = 2 * p->n_eclipse;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (edge(p, mid) - off > x)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

double plan_power_earliest(const plan_power *p, const plan_interval *busy,
                           int n_busy, double ready, double dur,
                           double until)
{
    pw_sim base;
    pw_search q;
    double lo, hi, a, low_n;
    int ka, kb, ne;

    if (bad_args(p, busy, n_busy) || ready != ready)
        return INFINITY;
    if (!p->solar)
        return ready;
    if (!(dur > 0))
        dur = 0;
    sim_init(&base, p, busy, n_busy);
    /* A job never overlaps busy time: it waits for the last to end. */
    lo = dmax(ready, base.quiet);
    hi = until - dur;
    if (!(lo <= hi))
        return INFINITY;

    /* The baseline must be feasible: adding work only lowers energy. */
    low_n = base.e;
    sim_run(&base, until, 0, &low_n, NULL);
    if (low_n < base.emin - base.eps)
        return INFINITY;
    if (dur == 0)
        return lo;

    sim_init(&base, p, busy, n_busy);
    q.base = &base;
    q.dur = dur;
    q.until = until;
    q.low_n = low_n;
    ne = 2 * p->n_eclipse;
    a = lo;
    ka = edge_after(p, 0, a);
    kb = edge_after(p, dur, a);
    for (;;) {
        double b = hi, x;
        int last;

        if (ka < ne)
            b = dmin(b, edge(p, ka));
        if (kb < ne)
            b = dmin(b, edge(p, kb) - dur);
        last = b >= hi;
        sim_run(&base, a, 0, NULL, NULL);
        if (job_ok(&q, a))
            return a;
        if (!isfinite(b)) {
            /* No horizon and no eclipse ahead: the light is constant, so
             * once the baseline is full a later start changes nothing,
             * and before that a later start only has more energy. */
            double r = (plan_power_solar(p, a) - p->idle_w) / 3600.0;
            b = a + 1 + (r > 0 ? (base.cap - base.e) / r : 0);
        }
        if (b > a) {
            x = piece_search(&q, a, b);
            if (x < INFINITY)
                return x;
        }
        if (last)
            return INFINITY;
        a = b;
        while (ka < ne && edge(p, ka) <= a)
            ka++;
        while (kb < ne && edge(p, kb) - dur <= a)
            kb++;
    }
}

/*
 * Extra load over the idle draw lowers the energy curve by at most the
 * extra energy drawn so far: with the drawdown form above, subtracting a
 * non-decreasing g (0 <= g <= beta * dur) from Y raises any drawdown by
 * at most beta * dur. So a run of dur seconds is safe at every start if
 * the idle baseline's lowest point, minus beta * dur, stays above the
 * minimum. The bound is tight when a run can end at that lowest point
 * without the battery filling during it (a run inside the eclipse that
 * ends there); otherwise it underestimates, which is the safe side.
 */
double plan_power_free_run(const plan_power *p, double until)
{
    pw_sim m;
    double low, beta;

    if (!p || (p->n_eclipse > 0 && !p->eclipse))
        return 0;
    if (!p->solar)
        return INFINITY;
    sim_init(&m, p, NULL, 0);
    low = m.e;
    sim_run(&m, until, 0, &low, NULL);
    if (low < m.emin - m.eps)
        return 0;
    beta = (p->busy_w - p->idle_w) / 3600.0;
    if (!(beta > 0))
        return INFINITY;
    return dmax(0, (low - m.emin) / beta);
}
