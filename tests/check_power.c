/*
 * check_power.c - unit tests for lib/plan/power.c: grid nodes, charging
 * clamped at full, idle drain through an eclipse, jobs that fit and jobs
 * that cross the minimum (the violation instant against a hand-computed
 * one), integration across eclipse edges against a time-stepping oracle,
 * the earliest start (waiting for recharge, skipping an eclipse, never),
 * the free run, and a randomized property test of the check and the
 * earliest start against the oracle and a 1 s scan.
 *
 * The oracle steps dE = (solar - load) / 3600 * dt, clamped at capacity,
 * with dt = 0.01 s, sampling solar and load at each step's midpoint: an
 * independent method. Event times in its tests lie on the 0.01 s grid, so
 * it is exact up to rounding and its first step below the minimum brackets
 * the violation instant within dt.
 *
 * Most cases use a LEO node from DESIGN.md: 1.7 kW array, 2 kWh battery,
 * 20% minimum, 500 W idle, 2.3 kW busy (GPU + bus). In Wh/s:
 *     sun idle +1200/3600 = +1/3      sun busy  -600/3600 = -1/6
 *     dark idle -500/3600 = -5/36     dark busy -2300/3600 = -23/36
 * Minimum 400 Wh; 1600 Wh usable from full.
 */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lgerr.h"
#include "power.h"

#define TOL 1e-6                /* Wh or s, for closed forms */
#define MS 1e-3

static plan_power leo(double soc0, plan_interval *ecl, int n_ecl)
{
    plan_power p;
    memset(&p, 0, sizeof p);
    p.solar = 1;
    p.array_w = 1700;
    p.battery_wh = 2000;
    p.min_soc = 0.2;
    p.soc0 = soc0;
    p.idle_w = 500;
    p.busy_w = 2300;
    p.eclipse = ecl;
    p.n_eclipse = n_ecl;
    return p;
}

static plan_interval I(double s, double e)
{
    plan_interval x = {s, e};
    return x;
}

/* busy[0..n) plus the job [s, s + dur) appended, for checks. */
static int check_with(const plan_power *p, const plan_interval *busy, int n,
                      double s, double dur, double until, double *viol)
{
    plan_interval b[16];
    ck_assert_int_lt(n, 16);
    if (n > 0)
        memcpy(b, busy, (size_t)n * sizeof *b);
    b[n] = I(s, s + dur);
    return plan_power_check(p, b, n + 1, until, viol);
}

/* ----------------------------------------------------------- oracle */

typedef struct orc {
    double min_e;               /* lowest energy seen, Wh */
    double viol;                /* end of the first step below minimum */
} orc;

/* Euler at dt from 0 to until; es[i] gets E at ts[i] (sorted, on the dt
 * grid). */
static void oracle(const plan_power *p, const plan_interval *busy, int nb,
                   double dt, double until, const double *ts, double *es,
                   int ns, orc *o)
{
    long steps = lround(until / dt);
    double cap = p->battery_wh, e = fmin(p->soc0 * cap, cap);
    double emin = p->min_soc * cap;
    int ie = 0, ib = 0, is = 0;

    o->min_e = e;
    o->viol = e < emin ? 0 : INFINITY;
    for (long k = 0; k <= steps; k++) {
        double t = k * dt, tm = t + dt / 2, r;
        int dark, on;
        while (is < ns && ts[is] <= t + dt / 2)
            es[is++] = e;
        if (k == steps)
            break;
        while (ie < p->n_eclipse && p->eclipse[ie].end <= tm)
            ie++;
        dark = ie < p->n_eclipse && p->eclipse[ie].start <= tm;
        while (ib < nb && busy[ib].end <= tm)
            ib++;
        on = ib < nb && busy[ib].start <= tm;
        r = ((dark ? 0 : p->array_w) - (on ? p->busy_w : p->idle_w)) / 3600;
        e += r * dt;
        if (e > cap)
            e = cap;
        if (e < o->min_e)
            o->min_e = e;
        if (e < emin && isinf(o->viol))
            o->viol = t + dt;
    }
}

/* ------------------------------------------------------------ cases */

START_TEST(test_grid_node)
{
    plan_power p;
    plan_interval busy[2] = {I(0, 1e6), I(2e6, 3e6)};
    double viol = -1;
    memset(&p, 0, sizeof p);
    p.solar = 0;
    p.idle_w = 1e4;
    p.busy_w = 1e5;
    ck_assert_int_eq(plan_power_check(&p, busy, 2, 1e7, &viol), 0);
    ck_assert_double_eq(viol, -1);
    ck_assert_double_eq(plan_power_earliest(&p, busy, 2, 123.4, 5e6, 1e7),
                        123.4);
    ck_assert(isinf(plan_power_free_run(&p, 1e7)));
    ck_assert(isinf(plan_power_energy(&p, busy, 2, 50)));
}
END_TEST

START_TEST(test_sun_charging_clamped)
{
    /* Half full (1000 Wh) in sun at idle: +1/3 Wh/s, full at 3000 s,
     * then the surplus is shed. */
    plan_power p = leo(0.5, NULL, 0);
    ck_assert_double_eq_tol(plan_power_energy(&p, NULL, 0, 0), 1000, TOL);
    ck_assert_double_eq_tol(plan_power_energy(&p, NULL, 0, 1500), 1500, TOL);
    ck_assert_double_eq_tol(plan_power_energy(&p, NULL, 0, 2999),
                            2000 - 1.0 / 3, TOL);
    ck_assert_double_eq_tol(plan_power_energy(&p, NULL, 0, 3000), 2000, TOL);
    ck_assert_double_eq_tol(plan_power_energy(&p, NULL, 0, 5000), 2000, TOL);
    ck_assert_double_eq_tol(plan_power_energy(&p, NULL, 0, -5), 1000, TOL);
    ck_assert_double_eq(plan_power_solar(&p, 100), 1700);
    ck_assert_int_eq(plan_power_in_eclipse(&p, 100), 0);
    /* soc0 above 1 is clamped to the capacity. */
    p.soc0 = 1.5;
    ck_assert_double_eq_tol(plan_power_energy(&p, NULL, 0, 0), 2000, TOL);
}
END_TEST

START_TEST(test_idle_eclipse_drain)
{
    /* Full, eclipse [1000, 3160): 2160 s * 5/36 = 300 Wh -> 1700 at 3160;
     * E(2000) = 2000 - 1000 * 5/36; recharge +1/3: 1850 at 3610, full at
     * 3160 + 300 * 3 = 4060. */
    plan_interval ecl[1] = {I(1000, 3160)};
    plan_power p = leo(1, ecl, 1);
    ck_assert_double_eq_tol(plan_power_energy(&p, NULL, 0, 1000), 2000, TOL);
    ck_assert_double_eq_tol(plan_power_energy(&p, NULL, 0, 2000),
                            2000 - 5000.0 / 36, TOL);
    ck_assert_double_eq_tol(plan_power_energy(&p, NULL, 0, 3160), 1700, TOL);
    ck_assert_double_eq_tol(plan_power_energy(&p, NULL, 0, 3610), 1850, TOL);
    ck_assert_double_eq_tol(plan_power_energy(&p, NULL, 0, 4060), 2000, TOL);
    ck_assert_double_eq_tol(plan_power_energy(&p, NULL, 0, 9000), 2000, TOL);
    ck_assert_int_eq(plan_power_in_eclipse(&p, 999.99), 0);
    ck_assert_int_eq(plan_power_in_eclipse(&p, 1000), 1);
    ck_assert_int_eq(plan_power_in_eclipse(&p, 3159.99), 1);
    ck_assert_int_eq(plan_power_in_eclipse(&p, 3160), 0);
    ck_assert_double_eq(plan_power_solar(&p, 2000), 0);
    ck_assert_double_eq(plan_power_solar(&p, 3160), 1700);
    ck_assert_int_eq(plan_power_check(&p, NULL, 0, 10000, NULL), 0);
}
END_TEST

START_TEST(test_job_fits)
{
    /* Busy [1000, 2000) inside eclipse [1000, 3160): 1000 * 23/36 ->
     * 2000 - 638.889 = 1361.111 at 2000; idle in the dark 1160 * 5/36 =
     * 161.111 -> 1200 at 3160 (the lowest, >= 400); +1/3 after: 1500 at
     * 4060. */
    plan_interval ecl[1] = {I(1000, 3160)};
    plan_interval busy[1] = {I(1000, 2000)};
    plan_power p = leo(1, ecl, 1);
    double viol = -1;
    ck_assert_double_eq_tol(plan_power_energy(&p, busy, 1, 2000),
                            2000 - 23000.0 / 36, TOL);
    ck_assert_double_eq_tol(plan_power_energy(&p, busy, 1, 3160), 1200, TOL);
    ck_assert_double_eq_tol(plan_power_energy(&p, busy, 1, 4060), 1500, TOL);
    ck_assert_int_eq(plan_power_check(&p, busy, 1, 20000, &viol), 0);
    ck_assert_double_eq(viol, -1);
}
END_TEST

START_TEST(test_job_crosses_minimum)
{
    /* Busy through a long eclipse [1000, 5000) from full: 1600 Wh at
     * 23/36 Wh/s last 1600 * 36 / 23 s; below 400 from 3504.3478 s. */
    plan_interval ecl[1] = {I(1000, 5000)};
    plan_interval busy[1] = {I(1000, 5000)};
    plan_power p = leo(1, ecl, 1);
    double viol = -1;
    ck_assert_int_eq(plan_power_check(&p, busy, 1, 20000, &viol), LG_EMODEL);
    ck_assert_double_eq_tol(viol, 1000 + 1600.0 * 36 / 23, TOL);
    /* Checked only up to 3000, the schedule passes. */
    ck_assert_int_eq(plan_power_check(&p, busy, 1, 3000, NULL), 0);
    /* In sun, busy drains 1/6 Wh/s: from 600 Wh, 200 Wh last 1200 s. */
    plan_power q = leo(0.3, NULL, 0);
    plan_interval all[1] = {I(0, 10000)};
    ck_assert_int_eq(plan_power_check(&q, all, 1, 20000, &viol), LG_EMODEL);
    ck_assert_double_eq_tol(viol, 1200, TOL);
    /* Starting below the minimum fails at 0. */
    q.soc0 = 0.1;
    ck_assert_int_eq(plan_power_check(&q, NULL, 0, 20000, &viol), LG_EMODEL);
    ck_assert_double_eq(viol, 0);
    /* Draining exactly to the minimum is allowed: busy [0, 1200) from 600. */
    q.soc0 = 0.3;
    all[0] = I(0, 1200);
    ck_assert_int_eq(plan_power_check(&q, all, 1, 20000, NULL), 0);
    ck_assert_int_eq(plan_power_check(NULL, NULL, 0, 1, NULL), -EINVAL);
}
END_TEST

START_TEST(test_integration_vs_oracle)
{
    /* Jobs that start in sun and end in eclipse, start and end in the
     * dark, and span an eclipse's end; three eclipses; from 60%. */
    plan_interval ecl[3] = {I(2000, 4160), I(6000, 8160), I(10000, 12160)};
    plan_interval busy[3] = {I(500, 2500), I(7000, 7500), I(11800, 13000)};
    plan_power p = leo(0.6, ecl, 3);
    double ts[300], es[300];
    int ns = 0;
    orc o;
    for (double t = 0; t <= 14000; t += 50)
        ts[ns++] = t;
    oracle(&p, busy, 3, 0.01, 14000, ts, es, ns, &o);
    for (int i = 0; i < ns; i++)
        ck_assert_msg(fabs(plan_power_energy(&p, busy, 3, ts[i]) - es[i]) <
                          1e-4,
                      "t=%g: %.9g vs oracle %.9g", ts[i],
                      plan_power_energy(&p, busy, 3, ts[i]), es[i]);
    /* The oracle's lowest point is above the minimum: feasible. By hand:
     * 1200 Wh at 0, +1/3 to 500 (1366.67), busy -1/6 in sun to 2000
     * (1116.67), busy dark -23/36 to 2500 (797.22), idle dark to 4160
     * (566.67), the lowest point of the run; later lows are 721.6 at
     * 7500, 630.1 at 8160 and 623.4 at 13000. */
    ck_assert_double_eq_tol(plan_power_energy(&p, busy, 3, 4160),
                            1200 + 500.0 / 3 - 1500.0 / 6 - 500 * 23.0 / 36 -
                                1660 * 5.0 / 36,
                            TOL);
    ck_assert(o.min_e >= 400);
    ck_assert_int_eq(plan_power_check(&p, busy, 3, 14000, NULL), 0);
}
END_TEST

START_TEST(test_earliest_waits_for_recharge)
{
    /* 500 Wh in sun, a 1200 s job drains 1200/6 = 200 Wh: it needs 600 Wh
     * at its start, which idle charging (+1/3) reaches at 300 s. */
    plan_power p = leo(0.25, NULL, 0);
    double s = plan_power_earliest(&p, NULL, 0, 0, 1200, 10000);
    ck_assert_double_eq_tol(s, 300, MS);
    ck_assert_int_eq(check_with(&p, NULL, 0, s, 1200, 10000, NULL), 0);
    ck_assert_int_ne(check_with(&p, NULL, 0, s - 0.002, 1200, 10000, NULL), 0);
    ck_assert_double_eq_tol(plan_power_earliest(&p, NULL, 0, 100, 1200, 10000),
                            300, MS);
    ck_assert_double_eq(plan_power_earliest(&p, NULL, 0, 400, 1200, 10000),
                        400);
    /* After an earlier job [0, 100): 500 - 100/6 = 483.33 at 100, so 600
     * at 100 + (600 - 483.33) * 3 = 450. */
    plan_interval busy[1] = {I(0, 100)};
    ck_assert_double_eq_tol(plan_power_earliest(&p, busy, 1, 100, 1200, 10000),
                            450, MS);
    /* A ready time inside the busy interval waits for its end. */
    ck_assert_double_eq_tol(plan_power_earliest(&p, busy, 1, 20, 1200, 10000),
                            450, MS);
    p.soc0 = 1;
    ck_assert_double_eq(plan_power_earliest(&p, busy, 1, 20, 1200, 10000), 100);
}
END_TEST

START_TEST(test_earliest_skips_eclipse)
{
    /* 1 kWh battery (minimum 200), 1.5 kW busy: below the array, so busy
     * in sun still charges; dark busy -15/36, dark idle -5/36 Wh/s.
     * Eclipse [1000, 6500): idle alone drains 5500 * 5/36 = 763.89 to
     * 236.11 at its end, leaving 36.11 Wh = 1300/36 for the job's extra
     * 10/36 Wh/s in the dark: at most 130 s of the job may overlap it.
     * A 300 s job ready at 900 overlaps by 200 s or more until it starts
     * at 6500 - 130 = 6370: at 6370 the battery is 1000 - 5370 * 5/36,
     * minus 130 * 15/36 by 6500: exactly 200. */
    plan_interval ecl[1] = {I(1000, 6500)};
    plan_power p = leo(1, ecl, 1);
    double s;
    p.battery_wh = 1000;
    p.busy_w = 1500;
    s = plan_power_earliest(&p, NULL, 0, 900, 300, 20000);
    ck_assert_double_eq_tol(s, 6370, MS);
    ck_assert_int_eq(check_with(&p, NULL, 0, s, 300, 20000, NULL), 0);
    ck_assert_int_ne(check_with(&p, NULL, 0, s - 0.002, 300, 20000, NULL), 0);
    ck_assert_int_ne(check_with(&p, NULL, 0, 900, 300, 20000, NULL), 0);
    /* Ready at 600 the job fits before the eclipse: [600, 900). Ready at
     * 701 it would overlap by 1 s only... and fits; at 831 it overlaps
     * by 131 s and must wait for 6370. */
    ck_assert_double_eq(plan_power_earliest(&p, NULL, 0, 600, 300, 20000), 600);
    ck_assert_double_eq(plan_power_earliest(&p, NULL, 0, 701, 300, 20000), 701);
    ck_assert_double_eq_tol(plan_power_earliest(&p, NULL, 0, 831, 300, 20000),
                            6370, MS);
}
END_TEST

START_TEST(test_earliest_not_monotone)
{
    /* Feasible starts form [300, 3900] and [16140, ...): the first lies
     * strictly inside a stretch whose ends both fail, so testing the
     * ends of stretches alone would miss it.
     *
     * From 800 Wh at 0 in sun, full at 3600 (+1/3). A 3000 s job drains
     * 500 Wh (-1/6): it needs 900 at its start, s >= 300. The eclipse
     * [7200, 15840) then drains 8640 * 5/36 = 1200 Wh at idle, so the
     * battery must hold 1600 at 7200. Started at s <= 3600 (nothing
     * shed yet) it holds 800 + s/3 - 500 + (4200 - s)/3 = 1700 by 7200,
     * whatever s is; started at s > 3600
     * from full it holds 1500 + (4200 - s)/3, >= 1600 up to s = 3900. At
     * 4200 the job ends as the eclipse begins (1500: fails); overlapping
     * the eclipse fails too (300 Wh at best by 15840), and after it the
     * battery holds 800, so a start needs 900 again: 15840 + 300. */
    plan_interval ecl[1] = {I(7200, 15840)};
    plan_power p = leo(0.4, ecl, 1);
    const double until = 30000;
    ck_assert_int_ne(check_with(&p, NULL, 0, 0, 3000, until, NULL), 0);
    ck_assert_int_eq(check_with(&p, NULL, 0, 2000, 3000, until, NULL), 0);
    ck_assert_int_ne(check_with(&p, NULL, 0, 4200, 3000, until, NULL), 0);
    ck_assert_double_eq_tol(plan_power_earliest(&p, NULL, 0, 0, 3000, until),
                            300, MS);
    ck_assert_double_eq(plan_power_earliest(&p, NULL, 0, 3000, 3000, until),
                        3000);
    ck_assert_double_eq_tol(plan_power_earliest(&p, NULL, 0, 3899, 3000,
                                                until),
                            3899, MS);
    ck_assert_double_eq_tol(plan_power_earliest(&p, NULL, 0, 3950, 3000,
                                                until),
                            16140, MS);
    ck_assert_int_ne(check_with(&p, NULL, 0, 3901, 3000, until, NULL), 0);
    ck_assert_int_ne(check_with(&p, NULL, 0, 16139.99, 3000, until, NULL), 0);
}
END_TEST

START_TEST(test_earliest_never)
{
    /* In sun a 2.3 kW job drains 1/6 Wh/s: 1600 Wh last 9600 s, so a
     * 10000 s job never fits, even from full. */
    plan_power p = leo(1, NULL, 0);
    ck_assert(isinf(plan_power_earliest(&p, NULL, 0, 0, 10000, 1e6)));
    ck_assert_double_eq(plan_power_earliest(&p, NULL, 0, 0, 9000, 1e6), 0);
    /* Ready too close to the horizon for the job to end before it. */
    ck_assert(isinf(plan_power_earliest(&p, NULL, 0, 5000, 1000, 5500)));
    /* An infeasible schedule admits nothing more. */
    plan_interval busy[1] = {I(0, 9700)};
    ck_assert(isinf(plan_power_earliest(&p, busy, 1, 9700, 1, 1e6)));
    /* No horizon at all: the search still ends. */
    ck_assert(isinf(plan_power_earliest(&p, NULL, 0, 0, 10000, INFINITY)));
    p.soc0 = 0.25;
    ck_assert_double_eq_tol(plan_power_earliest(&p, NULL, 0, 0, 1200, INFINITY),
                            300, MS);
}
END_TEST

START_TEST(test_free_run)
{
    /* Eclipses [1000 + 5600k, 4600 + 5600k): idle drains 500 Wh in each
     * and recharges in 1500 s, before the next. Lowest idle point 1500
     * Wh; a run's extra draw is 1800 W = 0.5 Wh/s, so 1100 Wh last 2200
     * s - exact here: a run of 2200 s ending at an eclipse's end drains
     * it to 400 (from 2400: 2000 - 1400 * 5/36 - 2200 * 23/36 = 400). */
    plan_interval ecl[4] = {I(1000, 4600), I(6600, 10200), I(12200, 15800),
                            I(17800, 21400)};
    plan_power p = leo(1, ecl, 4);
    double until = 20000, fr = plan_power_free_run(&p, until);
    ck_assert_double_eq_tol(fr, 2200, TOL);
    for (double s = 0; s + fr <= until; s += 1)
        ck_assert_msg(check_with(&p, NULL, 0, s, fr, until, NULL) == 0,
                      "a %g s run at %g fails", fr, s);
    /* One second more fails somewhere. */
    ck_assert_int_ne(check_with(&p, NULL, 0, 4600 - 2201, 2201, until, NULL),
                     0);
    /* A node whose idle load alone fails has no free run. */
    p.soc0 = 0.1;
    ck_assert_double_eq(plan_power_free_run(&p, until), 0);
    /* Busy no more than idle: any run is free. */
    p.soc0 = 1;
    p.busy_w = p.idle_w;
    ck_assert(isinf(plan_power_free_run(&p, until)));
}
END_TEST

/* --------------------------------------------------------- property */

static uint64_t rng_state;

static uint32_t rnd(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (uint32_t)((rng_state * 2685821657736338717ull) >> 32);
}

static double urand(double lo, double hi)
{
    return lo + (hi - lo) * (rnd() / 4294967296.0);
}

/* On the oracle's 0.01 s grid. */
static double grid(double t)
{
    return round(t * 100) / 100;
}

/* A random solar node with eclipses of a random period and a random
 * busy schedule, all on the 0.01 s grid, over [0, until]. heavy: jobs
 * that often do not fit, for the earliest-start search. */
static void random_node(plan_power *p, plan_interval *ecl,
                        plan_interval *busy, int *nb, double until,
                        int heavy)
{
    double period = urand(1500, 3000), frac = urand(0.2, 0.45);
    double phase = urand(0, period), t;
    int ne = 0;

    memset(p, 0, sizeof *p);
    p->solar = 1;
    p->array_w = urand(800, 2500);
    p->idle_w = urand(100, 700);
    p->busy_w = heavy ? fmax(p->idle_w + 100, p->array_w + urand(-300, 1500))
                      : p->idle_w + urand(200, 2500);
    p->battery_wh = heavy ? urand(300, 2000) : urand(300, 3000);
    p->min_soc = urand(0.1, 0.4);
    p->soc0 = rnd() % 8 ? urand(p->min_soc + 0.05, heavy ? 0.8 : 1)
                        : urand(0, 1);
    for (double s = phase - period; s < until && ne < 8; s += period) {
        double a = grid(s), b = grid(s + frac * period);
        if (b <= 0)
            continue;
        ecl[ne++] = I(a, b);
    }
    p->eclipse = ecl;
    p->n_eclipse = ne;
    *nb = 0;
    t = urand(0, 1500);
    for (int k = (int)(rnd() % 5); k > 0 && *nb < 8; k--) {
        double a = grid(t), b = grid(t + urand(10, heavy ? 300 : 900));
        busy[(*nb)++] = I(a, b);
        t = b + urand(1, 1200);
    }
}

START_TEST(test_property_check)
{
    const double until = 4000;
    int agree = 0, feas = 0, infeas = 0;

    rng_state = 0x2545f4914f6cdd1dull;
    for (int iter = 0; iter < 100; iter++) {
        plan_interval ecl[8], busy[8];
        plan_power p;
        int nb;
        orc o;
        double ts[9], es[9], viol = -1;

        random_node(&p, ecl, busy, &nb, until, 0);
        for (int i = 0; i < 9; i++)
            ts[i] = i * 500.0;
        oracle(&p, busy, nb, 0.01, until, ts, es, 9, &o);
        for (int i = 0; i < 9; i++)
            ck_assert_msg(fabs(plan_power_energy(&p, busy, nb, ts[i]) - es[i]) <
                              1e-4,
                          "iter %d t=%g", iter, ts[i]);
        /* Within 1e-3 Wh of the minimum the two may differ by rounding. */
        double emin = p.min_soc * p.battery_wh;
        int rc = plan_power_check(&p, busy, nb, until, &viol);
        if (fabs(o.min_e - emin) <= 1e-3)
            continue;
        ck_assert_msg((rc == 0) == (o.min_e >= emin),
                      "iter %d: check %d, oracle lowest %.6f min %.6f", iter,
                      rc, o.min_e, emin);
        /* The oracle's first step below ends within dt of the instant. */
        if (rc != 0)
            ck_assert_msg(viol <= o.viol + 1e-6 && viol >= o.viol - 0.01 - 1e-6,
                          "iter %d: violation at %.6f, oracle %.6f", iter,
                          viol, o.viol);
        agree++;
        rc == 0 ? feas++ : infeas++;
    }
    /* The generator covers both answers. */
    ck_assert_int_ge(agree, 95);
    ck_assert_int_ge(feas, 25);
    ck_assert_int_ge(infeas, 10);
}
END_TEST

START_TEST(test_property_earliest)
{
    const double until = 6000;
    int waited = 0, never = 0, now = 0;

    rng_state = 0x853c49e6748fea9bull;
    for (int iter = 0; iter < 250; iter++) {
        plan_interval ecl[8], busy[8];
        plan_power p;
        int nb;

        random_node(&p, ecl, busy, &nb, until, 1);
        /* Durations around what the usable energy gives in the dark, so
         * that where the job lands matters; ready often just before an
         * eclipse. */
        double usable = (1 - p.min_soc) * p.battery_wh;
        double dur = urand(0.2, 1.3) * usable * 3600 / p.busy_w;
        double ready = (nb ? busy[nb - 1].end : 0) + urand(0, 600);
        if (rnd() % 2) {
            int k = plan_power_in_eclipse(&p, ready) ? 1 : 0;
            for (int i = 0; i < p.n_eclipse; i++)
                if (ecl[i].start > ready && k-- == 0) {
                    ready = fmax(ready, ecl[i].start - urand(0, dur));
                    break;
                }
        }
        double s = plan_power_earliest(&p, busy, nb, ready, dur, until);
        /* Feasible; 2 ms earlier not; nothing feasible on a 1 s scan
         * from ready up to it (or anywhere, if it says never). */
        if (isinf(s)) {
            never++;
        } else {
            ck_assert(s >= ready);
            ck_assert(s + dur <= until);
            ck_assert_msg(check_with(&p, busy, nb, s, dur, until, NULL) == 0,
                          "iter %d: earliest %.6f is not feasible", iter, s);
            if (s - 0.002 >= ready)
                ck_assert_msg(check_with(&p, busy, nb, s - 0.002, dur, until,
                                         NULL) != 0,
                              "iter %d: %.6f - 2 ms is feasible", iter, s);
            s > ready ? waited++ : now++;
        }
        for (double x = ready; x < s - 0.002 && x + dur <= until; x += 1)
            ck_assert_msg(check_with(&p, busy, nb, x, dur, until, NULL) != 0,
                          "iter %d: %.3f is feasible, earliest said %.6f", iter,
                          x, s);
    }
    ck_assert_int_ge(waited, 25);
    ck_assert_int_ge(never, 25);
    ck_assert_int_ge(now, 25);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("power");
    TCase *bat = tcase_create("battery");
    TCase *ear = tcase_create("earliest");
    TCase *pr = tcase_create("property");
    SRunner *sr;
    int failed;

    tcase_add_test(bat, test_grid_node);
    tcase_add_test(bat, test_sun_charging_clamped);
    tcase_add_test(bat, test_idle_eclipse_drain);
    tcase_add_test(bat, test_job_fits);
    tcase_add_test(bat, test_job_crosses_minimum);
    tcase_add_test(bat, test_integration_vs_oracle);
    tcase_add_test(ear, test_earliest_waits_for_recharge);
    tcase_add_test(ear, test_earliest_skips_eclipse);
    tcase_add_test(ear, test_earliest_not_monotone);
    tcase_add_test(ear, test_earliest_never);
    tcase_add_test(ear, test_free_run);
    tcase_add_test(pr, test_property_check);
    tcase_add_test(pr, test_property_earliest);
    tcase_set_timeout(pr, 60);
    suite_add_tcase(s, bat);
    suite_add_tcase(s, ear);
    suite_add_tcase(s, pr);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
