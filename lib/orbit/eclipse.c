/*
 * eclipse.c - conical Earth shadow: illuminated fraction and the
 * penumbra / umbra passages of one satellite over a span. Edges come
 * from orb_search in Lipschitz mode over a first sampling of the span.
 * No globals; thread-safe given distinct satellites.
 */
#include "eclipse.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "frames.h"
#include "lgerr.h"
#include "search.h"
#include "sun.h"

#define PI 3.14159265358979323846
#define MAX_SPAN_S (400 * 86400.0)
#define FLOOR_S 0.5               /* shortest shadow or gap not missed */
#define SUN_V_KM_S 30.3           /* geocentric speed of the Sun, max */
#define SUN_DIST_MIN_KM 1.47e8    /* perihelion distance, rounded down */

static double clamp1(double x)
{
    return x > 1.0 ? 1.0 : x < -1.0 ? -1.0 : x;
}

/* Apparent radii of Sun and Earth and their separation, seen from the
 * satellite. */
static void discs(const double r[3], const double sun[3], double *as,
                  double *ae, double *th)
{
    double d[3] = { sun[0] - r[0], sun[1] - r[1], sun[2] - r[2] };
    double rd = sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]);
    double rr = sqrt(r[0] * r[0] + r[1] * r[1] + r[2] * r[2]);
    double c = -(r[0] * d[0] + r[1] * d[1] + r[2] * d[2]) / (rr * rd);

    *as = asin(clamp1(ORB_SUN_R_KM / rd));
    *ae = asin(clamp1(ORB_EARTH_R_KM / rr));
    *th = acos(clamp1(c));
}

double orb_eclipse_fraction(const double r_sat[3], const double r_sun[3])
{
    double as, ae, th, x, y, area;

    discs(r_sat, r_sun, &as, &ae, &th);
    if (th >= as + ae)
        return 1.0;
    if (ae >= as && th <= ae - as)
        return 0.0;
    if (as > ae && th <= as - ae)
        return 1.0 - (ae * ae) / (as * as);  /* annular: Earth inside Sun */
    /* Partial overlap of two discs of radii as, ae with centres th apart
     * (small-angle, planar): area of the lens they share. */
    x = (th * th + as * as - ae * ae) / (2.0 * th);
    y = sqrt(fmax(0.0, as * as - x * x));
    area = as * as * acos(clamp1(x / as)) +
           ae * ae * acos(clamp1((th - x) / ae)) - th * y;
    x = 1.0 - area / (PI * as * as);
    return x < 0 ? 0 : x > 1 ? 1 : x;
}

/* ------------------------------------------------------------ search */

typedef struct ectx {
    orb_sat *s;
    int umbra;                   /* 0: penumbra edge function, 1: umbra */
    double L;                    /* bound on |f'| over the orbit, rad/s */
    double Lth;                  /* the part of it from theta, rad/s */
    double ke;                   /* |d ae/dt| <= ke |r'| */
    double rdd;                  /* bound on |r''|, km/s^2 */
    int code;                    /* SGP4 code of a failed evaluation */
    double fail_t;               /* its time */
} ectx;

/* Both edge functions for a satellite at r (TEME, km) at time t:
 * theta - (as + ae) and theta - (ae - as). */
static void edge_at(const double r[3], double t, double *fp, double *fu)
{
    double sun[3], jd, fr, as, ae, th;

    orb_frames_unix_to_jd(t, &jd, &fr);
    orb_sun_pos(jd, fr, sun);
    discs(r, sun, &as, &ae, &th);
    *fp = th - (as + ae);
    *fu = th - (ae - as);
}

static double rdot(const double r[3], const double v[3])
{
    return (r[0] * v[0] + r[1] * v[1] + r[2] * v[2]) /
           sqrt(r[0] * r[0] + r[1] * r[1] + r[2] * r[2]);
}

static int e_eval(void *vc, double t, orb_search_pt *p)
{
    ectx *c = vc;
    double r[3], v[3], fp, fu;
    int rc = orb_sgp4_prop_unix(c->s, t, r, v);

    if (rc != 0) {
        c->code = rc;
        c->fail_t = t;
        return rc;
    }
    edge_at(r, t, &fp, &fu);
    p->f = c->umbra ? fu : fp;
    p->x = rdot(r, v);
    return 0;
}

/* Over [a, b] the radial speed |r'| is at most the larger of its values
 * at the ends plus |r''| h/2 (every instant is within h/2 of an end);
 * near-circular orbits have |r'| ~ 0.01 km/s, which makes ae's share of
 * the bound (ke |r'|) small and the search cheap. */
static double e_bound(void *vc, const orb_search_pt *a,
                      const orb_search_pt *b)
{
    const ectx *c = vc;
    double rd = fmax(fabs(a->x), fabs(b->x)) + c->rdd * 0.5 * (b->t - a->t);
    double L = c->Lth + c->ke * rd;
    return L < c->L ? L : c->L;
}

/* Bound on |d/dt (theta -+ as - ae)|: the direction to the Earth's
 * centre turns at most v/r; the direction to the Sun at most
 * (v + v_sun)/|sun - r|; ae = asin(R/r) changes at R |r'| /
 * (r sqrt(r^2 - R^2)) = ke |r'| <= ke v; as by ~1e-9 (in the 1e-8). And
 * |r''| = |(v^2 - r'^2)/r + a.r/r| <= v^2/r + a. */
static void edge_bounds(const orb_search_kin *k, ectx *c)
{
    double r = k->rmin > ORB_EARTH_R_KM + 1.0 ? k->rmin : ORB_EARTH_R_KM + 1.0;
    double q = sqrt(r * r - ORB_EARTH_R_KM * ORB_EARTH_R_KM);
    double far = SUN_DIST_MIN_KM - k->rmax;

    if (far < 1e6)
        far = 1e6;
    c->Lth = k->vmax / r + (k->vmax + SUN_V_KM_S) / far + 1e-8;
    c->ke = ORB_EARTH_R_KM / (r * q);
    c->L = c->Lth + c->ke * k->vmax;
    c->rdd = k->vmax * k->vmax / r + k->amax;
}

static void iso(double t, char *buf, size_t len)
{
    time_t tt = (time_t)floor(t);
    struct tm tm;
    if (!gmtime_r(&tt, &tm)) {
        snprintf(buf, len, "%.3f", t);
        return;
    }
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Intervals where f <= 0, from its sign at t0 and its crossings. */
static size_t neg_intervals(int neg0, const orb_search *s, double t0,
                            double t1, double *lo, double *hi, size_t max)
{
    size_t k = 0;
    int in = neg0;
    double start = t0;

    for (size_t i = 0; i < s->n; i++) {
        if (!s->up[i] && !in) {
            in = 1;
            start = s->t[i];
        } else if (s->up[i] && in) {
            in = 0;
            if (k < max && s->t[i] > start) {
                lo[k] = start;
                hi[k] = s->t[i];
                k++;
            }
        }
    }
    if (in && k < max && t1 > start) {
        lo[k] = start;
        hi[k] = t1;
        k++;
    }
    return k;
}

int orb_eclipse_find(orb_sat *s, double from, double span, double step,
                     double tol, orb_eclipse *ev, size_t max, size_t *n,
                     double *t_fail, char *err, size_t errlen)
{
    orb_search_kin kin;
    orb_search sr = { 0 };
    ectx c = { 0 };
    double *ts = NULL, *fp = NULL, *fu = NULL, *lo = NULL, *hi = NULL;
    double *ulo = NULL, *uhi = NULL, rmin = NAN, rmax = NAN, t_end;
    double *rd = NULL;
    size_t ns, ngood, nsh = 0, nu = 0, cap, out = 0;
    int rc = 0;

    *n = 0;
    if (t_fail)
        *t_fail = NAN;
    if (!(span > 0 && span <= MAX_SPAN_S) || !isfinite(from))
        return lg_errf(err, errlen, -EINVAL,
                       "eclipse span must be in (0, 400 days], got %g s",
                       span);
    if (step <= 0) {
        double period_s = 2 * PI / s->no_unkozai * 60.0;
        step = period_s / 50.0;
        step = step < 10.0 ? 10.0 : step > 300.0 ? 300.0 : step;
    }
    if (tol <= 0)
        tol = 1e-3;
    ns = (size_t)ceil(span / step) + 1;
    ts = malloc(ns * sizeof *ts);
    fp = malloc(ns * sizeof *fp);
    fu = malloc(ns * sizeof *fu);
    rd = malloc(ns * sizeof *rd);
    if (!ts || !fp || !fu || !rd) {
        rc = -ENOMEM;
        goto out;
    }

    /* First sampling, stopping at the first SGP4 failure. */
    for (ngood = 0; ngood < ns; ngood++) {
        double t = from + span * (double)ngood / (double)(ns - 1);
        double r[3], v[3], rr;
        int e = orb_sgp4_prop_unix(s, t, r, v);
        if (e != 0) {
            c.code = e;
            c.fail_t = t;
            break;
        }
        edge_at(r, t, &fp[ngood], &fu[ngood]);
        rd[ngood] = rdot(r, v);
        ts[ngood] = t;
        rr = sqrt(r[0] * r[0] + r[1] * r[1] + r[2] * r[2]);
        if (!(rr >= rmin))
            rmin = rr;
        if (!(rr <= rmax))
            rmax = rr;
    }
    t_end = ngood ? ts[ngood - 1] : from;

    orb_search_kin_sat(&kin, s, rmin, rmax);
    c.s = s;
    edge_bounds(&kin, &c);
    sr.eval = e_eval;
    sr.bound = e_bound;
    sr.ctx = &c;
    sr.smooth = 0;
    sr.tol = tol;
    sr.floor = FLOOR_S;
    sr.budget = 1000 * (long)ns + 100000;

    cap = ns / 2 + 4;              /* shadows alternate with light */
    lo = malloc(cap * sizeof *lo);
    hi = malloc(cap * sizeof *hi);
    ulo = malloc(cap * sizeof *ulo);
    uhi = malloc(cap * sizeof *uhi);
    if (!lo || !hi || !ulo || !uhi) {
        rc = -ENOMEM;
        goto out;
    }
    /* Both edge functions over the good samples. A failure between two
     * samples that propagated (rare: decay inside a step) shortens the
     * span to the sample before it, and the search starts again. */
    while (ngood >= 1) {
        size_t bad = 0;
        for (int pass = 0; pass < 2 && !bad; pass++) {
            double *f = pass ? fu : fp;
            c.umbra = pass;
            orb_search_reset(&sr);
            for (size_t i = 0; i + 1 < ngood; i++) {
                orb_search_pt a = { ts[i], f[i], 0, rd[i] };
                orb_search_pt b = { ts[i + 1], f[i + 1], 0, rd[i + 1] };
                rc = orb_search_interval(&sr, &a, &b);
                if (rc > 0) {
                    bad = i + 1;     /* keep samples 0..i */
                    break;
                }
                if (rc < 0)
                    goto out;
            }
            if (bad)
                break;
            if (pass == 0)
                nsh = neg_intervals(!(f[0] > 0), &sr, from, t_end, lo, hi,
                                    cap);
            else
                nu = neg_intervals(!(f[0] > 0), &sr, from, t_end, ulo, uhi,
                                   cap);
        }
        if (!bad)
            break;
        rc = 0;
        ngood = bad;
        t_end = ts[ngood - 1];
    }

    for (size_t i = 0; i < nsh; i++) {
        orb_eclipse e = { lo[i], hi[i], NAN, NAN, lo[i] <= from,
                          hi[i] >= t_end };
        for (size_t j = 0; j < nu; j++) {
            double mid = 0.5 * (ulo[j] + uhi[j]);
            if (mid < lo[i] || mid > hi[i])
                continue;
            e.umb_start = isnan(e.umb_start) ? ulo[j] : fmin(e.umb_start, ulo[j]);
            e.umb_end = isnan(e.umb_end) ? uhi[j] : fmax(e.umb_end, uhi[j]);
        }
        if (out == max) {
            rc = lg_errf(err, errlen, -E2BIG,
                         "more than %zu eclipses in the span", max);
            break;
        }
        ev[out++] = e;
    }
    *n = out;
    if (rc == 0 && c.code != 0) {
        char when[40];
        iso(c.fail_t, when, sizeof when);
        if (t_fail)
            *t_fail = c.fail_t;
        rc = lg_errf(err, errlen, LG_EMODEL, "SGP4 error %d at %s: %s",
                     c.code, when, orb_sgp4_strerror(c.code));
    }
out:
    if (rc == -ENOMEM)
        lg_errf(err, errlen, rc, "out of memory");
    orb_search_free(&sr);
    free(ts);
    free(fp);
    free(fu);
    free(rd);
    free(lo);
    free(hi);
    free(ulo);
    free(uhi);
    return rc;
}
