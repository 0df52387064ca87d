/*
 * contact.c - station passes, inter-satellite line of sight and Moon
 * windows over a span, their light-time samples, and their conversion to
 * plan_window entries. The method and its guarantees are in passes.h;
 * the proofs that nothing is missed are orb_search's (search.c), fed with
 * the bounds worked out here. No globals; see passes.h for threads.
 */
#include "passes.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "eclipse.h"
#include "frames.h"
#include "lgerr.h"
#include "search.h"
#include "sun.h"

#define PI 3.14159265358979323846
#define DEG (PI / 180.0)
#define OMEGA ORB_EARTH_ROT_RAD_S
#define PASS_FLOOR_S 0.01        /* smooth search: shortest window kept */
#define LIP_FLOOR_S 0.5          /* Lipschitz search (ISL) */
#define MAX_TOL_S 1e-3           /* culmination time tolerance */
#define MOON_STEP_S 600.0        /* first step for the Moon */
#define MOON_FD_S 10.0           /* central difference for its velocity */
#define MOON_RMIN_KM 350000.0    /* the series' distance stays within */
#define MOON_RMAX_KM 420000.0    /*   6378.14 / sin(1.0227 .. 0.8789 deg) */
#define MOON_VMAX_KM_S 1.2       /* inertial speed, < 1.1 */
#define MOON_AMAX_KM_S2 1e-5     /* inertial acceleration, ~3e-6 */
#define LT_FLOOR_S 1e-3          /* shortest light-time segment */
#define MAX_SAMPLES 2000000      /* first samples of one span */

/* ------------------------------------------------------------ helpers */

static void iso(double t, char *buf, size_t len)
{
    time_t tt = (time_t)floor(t);
    struct tm tm;
    if (!isfinite(t) || !gmtime_r(&tt, &tm)) {
        snprintf(buf, len, "%.3f", t);
        return;
    }
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static double dot(const double a[3], const double b[3])
{
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
}

static double norm(const double a[3])
{
    return sqrt(dot(a, a));
}

static void sat_label(char *buf, size_t len, const orb_sat *s,
                      const char *name)
{
    if (name && *name)
        snprintf(buf, len, "%s", name);
    else
        snprintf(buf, len, "catalog %d", s->satnum);
}

static void warn(orb_contact_list *l, int sat, int code, double t,
                 const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void warn(orb_contact_list *l, int sat, int code, double t,
                 const char *fmt, ...)
{
    orb_warning *w;
    va_list ap;

    l->n_warn++;
    if (l->n_warn > ORB_CONTACT_MAX_WARN)
        return;
    if (l->n_warn > l->cap_warn) {
        size_t cap = l->cap_warn ? 2 * l->cap_warn : 16;
        orb_warning *nw;
        if (cap > ORB_CONTACT_MAX_WARN)
            cap = ORB_CONTACT_MAX_WARN;
        nw = realloc(l->warn, cap * sizeof *nw);
        if (!nw) {
            l->n_warn--;          /* dropped, as if never said */
            return;
        }
        l->warn = nw;
        l->cap_warn = cap;
    }
    w = &l->warn[l->n_warn - 1];
    w->sat = sat;
    w->code = code;
    w->t = t;
    va_start(ap, fmt);
    vsnprintf(w->msg, sizeof w->msg, fmt, ap);
    va_end(ap);
}

static int grow(void **v, size_t *cap, size_t need, size_t max, size_t elem)
{
    size_t nc;
    void *nv;
    if (need <= *cap)
        return 0;
    if (need > max)
        return -E2BIG;
    nc = *cap ? *cap : 64;
    while (nc < need)
        nc *= 2;
    if (nc > max)
        nc = max;
    nv = realloc(*v, nc * elem);
    if (!nv)
        return -ENOMEM;
    *v = nv;
    *cap = nc;
    return 0;
}

static int push_lt(orb_contact_list *l, double t, double lt)
{
    int rc = grow((void **)&l->lt, &l->cap_lt, l->n_lt + 1, l->max_lt,
                  sizeof *l->lt);
    if (rc < 0)
        return rc;
    l->lt[l->n_lt].t = t;
    l->lt[l->n_lt].lt = lt;
    l->n_lt++;
    return 0;
}

/* ------------------------------------------------------- public basics */

void orb_contact_cfg_init(orb_contact_cfg *c, double from, double span)
{
    memset(c, 0, sizeof *c);
    c->from = from;
    c->span = span;
    c->root_tol = 1e-4;
    c->lt_tol = 1e-3;
    c->epoch_warn_days = 30.0;
}

int orb_contact_station_init(orb_station *st, const char *name,
                             double lat_deg, double lon_deg, double alt_m,
                             double mask_deg, char *err, size_t errlen)
{
    char msg[200];
    int rc;

    memset(st, 0, sizeof *st);
    snprintf(st->name, sizeof st->name, "%s", name ? name : "");
    if ((rc = orb_geo_site_init(&st->site, lat_deg, lon_deg, alt_m, msg,
                                sizeof msg)) < 0)
        return lg_errf(err, errlen, rc, "station '%s': %s", st->name, msg);
    if (!(mask_deg >= -10.0 && mask_deg <= 90.0))
        return lg_errf(err, errlen, -EINVAL,
                       "station '%s': elevation mask %g is not in "
                       "[-10, 90] degrees", st->name, mask_deg);
    st->mask_deg = mask_deg;
    return 0;
}

double orb_contact_step(const orb_sat *s)
{
    double period_s = 2 * PI / s->no_unkozai * 60.0;
    double step = period_s / 100.0;
    return step < 10.0 ? 10.0 : step > 300.0 ? 300.0 : step;
}

void orb_contact_list_init(orb_contact_list *l, size_t max_win,
                           size_t max_lt)
{
    memset(l, 0, sizeof *l);
    l->max_win = max_win && max_win <= ORB_CONTACT_MAX_WINDOWS
                     ? max_win : ORB_CONTACT_MAX_WINDOWS;
    l->max_lt = max_lt && max_lt <= ORB_CONTACT_MAX_LT ? max_lt
                                                       : ORB_CONTACT_MAX_LT;
}

void orb_contact_list_free(orb_contact_list *l)
{
    free(l->win);
    free(l->lt);
    free(l->warn);
    l->win = NULL;
    l->lt = NULL;
    l->warn = NULL;
    l->n_win = l->cap_win = l->n_lt = l->cap_lt = 0;
    l->n_warn = l->cap_warn = 0;
}

static int check_cfg(const orb_contact_cfg *c, char *err, size_t errlen)
{
    if (!isfinite(c->from))
        return lg_errf(err, errlen, -EINVAL, "span start is not finite");
    if (!(c->span > 0 && c->span <= ORB_CONTACT_MAX_SPAN_S))
        return lg_errf(err, errlen, -EINVAL,
                       "span must be in (0, %g] s, got %g",
                       ORB_CONTACT_MAX_SPAN_S, c->span);
    if (!(c->step >= 0 && c->step <= 86400))
        return lg_errf(err, errlen, -EINVAL,
                       "step must be in [0, 86400] s, got %g", c->step);
    if (!(fabs(c->dut1) < 1.0))
        return lg_errf(err, errlen, -EINVAL,
                       "UT1-UTC must be under 1 s, got %g", c->dut1);
    if (!(c->root_tol > 0 && c->root_tol <= 1.0) ||
        !(c->lt_tol > 0 && c->lt_tol <= 1.0))
        return lg_errf(err, errlen, -EINVAL,
                       "tolerances must be in (0, 1] s");
    if (!(c->isl_max_km >= 0))
        return lg_errf(err, errlen, -EINVAL, "ISL range must be >= 0 km");
    return 0;
}

/* Sample times: n points from `from` to `from + span`, both included. */
static size_t n_samples(const orb_contact_cfg *c, double step)
{
    double n = ceil(c->span / step) + 1;
    return n > MAX_SAMPLES ? MAX_SAMPLES : n < 2 ? 2 : (size_t)n;
}

static double sample_t(const orb_contact_cfg *c, size_t i, size_t n)
{
    return c->from + c->span * (double)i / (double)(n - 1);
}

/* ------------------------------------------------------------ targets */

/* What a station looks at: a satellite or the Moon, with the bounds on
 * its Earth-fixed motion (for F'') and on its inertial motion (for the
 * range's second derivative, i.e. light-time sampling). */
typedef struct target {
    orb_sat *sat;                /* NULL: the Moon */
    double dut1;
    double ve, ae;               /* Earth-fixed speed, acceleration bounds */
    double vi, ai;               /* inertial ones */
    double rmin;                 /* least geocentric radius, km */
    int code;                    /* SGP4 code of the last failure */
    double fail_t;
} target;

static void moon_teme(double t, double r[3])
{
    double jd, fr;
    orb_frames_unix_to_jd(t, &jd, &fr);
    orb_moon_pos(jd, fr, r);
}

/* Earth-fixed position and velocity of the target at t. */
static int target_state(target *tg, double t, double r[3], double v[3])
{
    double rt[3], vt[3], jd, fr;

    if (tg->sat) {
        int rc = orb_sgp4_prop_unix(tg->sat, t, rt, vt);
        if (rc != 0) {
            tg->code = rc;
            tg->fail_t = t;
            return rc;
        }
    } else {
        double a[3], b[3];
        moon_teme(t, rt);
        moon_teme(t - MOON_FD_S, a);
        moon_teme(t + MOON_FD_S, b);
        for (int k = 0; k < 3; k++)
            vt[k] = (b[k] - a[k]) / (2 * MOON_FD_S);
    }
    orb_frames_unix_to_jd(t + tg->dut1, &jd, &fr);
    orb_frames_teme_to_ecef(rt, vt, jd, fr, r, v);
    return 0;
}

static void target_bounds(target *tg, const orb_search_kin *k)
{
    tg->rmin = k->rmin;
    tg->vi = k->vmax;
    tg->ai = k->amax;
    /* v_ecef = v - w x r; a_ecef = a - 2 w x v_ecef - w x (w x r) */
    tg->ve = k->vmax + OMEGA * k->rmax;
    tg->ae = k->amax + 2 * OMEGA * tg->ve + OMEGA * OMEGA * k->rmax;
}

/* ------------------------------------------------- station geometry */

typedef struct geom {
    double F, dF;                /* rho.up - |rho| sin(mask), and d/dt */
    double S, dS;                /* sin(elevation), and d/dt */
    double rho;                  /* range, km */
} geom;

static void geometry(const orb_station *st, double smask, const double r[3],
                     const double v[3], geom *g)
{
    double d[3] = { r[0] - st->site.r[0], r[1] - st->site.r[1],
                    r[2] - st->site.r[2] };
    double n = norm(d), pu = dot(d, st->site.up), vu = dot(v, st->site.up);
    double pr = dot(d, v) / n;   /* range rate */

    g->rho = n;
    g->S = pu / n;
    g->dS = vu / n - pu * pr / (n * n);
    g->F = pu - smask * n;
    g->dF = vu - smask * pr;
}

typedef struct pctx {
    target *tg;
    const orb_station *st;
    double smask;                /* sin(mask) */
    double rst;                  /* |station|, km */
} pctx;

static int p_eval(void *vc, double t, orb_search_pt *p)
{
    pctx *c = vc;
    double r[3], v[3];
    geom g;
    int rc = target_state(c->tg, t, r, v);
    if (rc != 0)
        return rc;
    geometry(c->st, c->smask, r, v, &g);
    p->f = g.F;
    p->d = g.dF;
    p->x = g.rho;
    return 0;
}

/* Least range over [a, b]: the target moves at most ve, so the range
 * is at least the larger of rho_a - ve (t - a) and rho_b - ve (b - t),
 * whose minimum is where they meet; and it is never below the target's
 * least radius less the station's. */
static double rho_min(double ra, double rb, double h, double v,
                      double floor_km)
{
    double m = 0.5 * (ra + rb - v * h);
    if (m < floor_km)
        m = floor_km;
    return m < 1.0 ? 1.0 : m;
}

/* |F''| <= |rho''| (1 + |s|) + |s| |rho'|^2 / |rho| (see passes.h). */
static double p_bound(void *vc, const orb_search_pt *a,
                      const orb_search_pt *b)
{
    pctx *c = vc;
    double s = fabs(c->smask);
    double rm = rho_min(a->x, b->x, b->t - a->t, c->tg->ve,
                        c->tg->rmin - c->rst);
    return c->tg->ae * (1 + s) + s * c->tg->ve * c->tg->ve / rm;
}

static double lip_bound_dS(void *vc, const orb_search_pt *a,
                           const orb_search_pt *b)
{
    (void)vc;
    (void)a;
    (void)b;
    return 0;                    /* unused: Brent only */
}

/* ------------------------------------------------ light-time sampling */

typedef struct ltctx {
    int (*range)(void *ctx, double t, double *rho);
    void *ctx;
    double ai, vi;               /* inertial bounds of the range's ends:
                                    |rho''| <= ai + vi^2 / rho_min */
    double floor_km;             /* least possible range */
    double tol_km;               /* c * lt_tol */
    orb_contact_list *l;
} ltctx;

typedef struct knot {
    double t, rho;
} knot;

static int seg_ok(const ltctx *c, const knot *a, const knot *b, double rm)
{
    double h = b->t - a->t;
    return (c->ai + c->vi * c->vi / rm) * h * h / 8.0 <= c->tol_km;
}

/* Emit samples strictly after a up to b, splitting [a, b] until each
 * piece meets the bound. */
static int lt_split(ltctx *c, knot a, knot b, int depth)
{
    knot m;
    int rc;
    double rm = rho_min(a.rho, b.rho, b.t - a.t, c->vi, c->floor_km);
    if (seg_ok(c, &a, &b, rm) || b.t - a.t <= LT_FLOOR_S || depth > 40)
        return push_lt(c->l, b.t, b.rho / ORB_C_KM_S);
    m.t = 0.5 * (a.t + b.t);
    if ((rc = c->range(c->ctx, m.t, &m.rho)) != 0)
        return rc;
    if ((rc = lt_split(c, a, m, depth + 1)) != 0)
        return rc;
    return lt_split(c, m, b, depth + 1);
}

/* Samples of a window from its knots (exact ranges at increasing times,
 * the window's ends first and last): the longest runs of knots that one
 * segment covers within tolerance, and splits where one gap is too long.
 * Fills w->lt_first, lt_n, lt_min, lt_max. */
static int lt_sample(ltctx *c, const knot *k, size_t nk, orb_window *w)
{
    size_t i = 0, first = c->l->n_lt;
    int rc;

    if ((rc = push_lt(c->l, k[0].t, k[0].rho / ORB_C_KM_S)) != 0)
        return rc;
    while (i + 1 < nk) {
        size_t j = i + 1;
        double rm = rho_min(k[i].rho, k[j].rho, k[j].t - k[i].t, c->vi,
                            c->floor_km);
        if (!seg_ok(c, &k[i], &k[j], rm)) {
            if ((rc = lt_split(c, k[i], k[j], 0)) != 0)
                return rc;
            i = j;
            continue;
        }
        while (j + 1 < nk) {
            double r2 = rho_min(k[j].rho, k[j + 1].rho,
                                k[j + 1].t - k[j].t, c->vi, c->floor_km);
            double rr = rm < r2 ? rm : r2;
            if (!seg_ok(c, &k[i], &k[j + 1], rr))
                break;
            rm = rr;
            j++;
        }
        if ((rc = push_lt(c->l, k[j].t, k[j].rho / ORB_C_KM_S)) != 0)
            return rc;
        i = j;
    }
    w->lt_first = first;
    w->lt_n = c->l->n_lt - first;
    w->lt_min = INFINITY;
    w->lt_max = -INFINITY;
    for (size_t q = first; q < c->l->n_lt; q++) {
        w->lt_min = fmin(w->lt_min, c->l->lt[q].lt);
        w->lt_max = fmax(w->lt_max, c->l->lt[q].lt);
    }
    return 0;
}

static int push_win(orb_contact_list *l, const orb_window *w)
{
    int rc = grow((void **)&l->win, &l->cap_win, l->n_win + 1, l->max_win,
                  sizeof *l->win);
    if (rc < 0)
        return rc;
    l->win[l->n_win++] = *w;
    return 0;
}

/* ------------------------------------------------- windows over a site */

typedef struct grid {
    size_t n;                    /* samples that propagated */
    double *t;
    double (*r)[3], (*v)[3];     /* Earth-fixed */
} grid;

/* Scratch arrays reused across windows. */
typedef struct scratch {
    knot *k;                     /* light-time knots */
    size_t kcap;
    double *lo, *hi;             /* window intervals */
    size_t icap;
    double *ct, *cs, *cd;        /* culmination candidates: t, S, dS */
    size_t ccap;
} scratch;

static void scratch_free(scratch *x)
{
    free(x->k);
    free(x->lo);
    free(x->hi);
    free(x->ct);
    free(x->cs);
    free(x->cd);
    memset(x, 0, sizeof *x);
}

static int scratch_knots(scratch *x, size_t n)
{
    return grow((void **)&x->k, &x->kcap, n, (size_t)-1 / 64, sizeof *x->k);
}

static int scratch_cand(scratch *x, size_t n)
{
    size_t c;
    int rc;
    if (n <= x->ccap)
        return 0;
    /* grow() sets the same capacity from the same start each time */
    c = x->ccap;
    if ((rc = grow((void **)&x->ct, &c, n, (size_t)-1 / 64,
                   sizeof *x->ct)) < 0)
        return rc;
    c = x->ccap;
    if ((rc = grow((void **)&x->cs, &c, n, (size_t)-1 / 64,
                   sizeof *x->cs)) < 0)
        return rc;
    c = x->ccap;
    if ((rc = grow((void **)&x->cd, &c, n, (size_t)-1 / 64,
                   sizeof *x->cd)) < 0)
        return rc;
    x->ccap = c;
    return 0;
}

/* Intervals where f > 0 over [t0, t1], from its sign at t0 and its
 * crossings (in time order). */
static int pos_intervals(scratch *x, int open0, const orb_search *s,
                         double t0, double t1, size_t *n)
{
    size_t k = 0, c = x->icap;
    int open = open0, rc;
    double start = t0;

    if ((rc = grow((void **)&x->lo, &c, s->n / 2 + 2, (size_t)-1 / 64,
                   sizeof *x->lo)) < 0)
        return rc;
    c = x->icap;
    if ((rc = grow((void **)&x->hi, &c, s->n / 2 + 2, (size_t)-1 / 64,
                   sizeof *x->hi)) < 0)
        return rc;
    x->icap = c;
    for (size_t i = 0; i < s->n; i++) {
        if (s->up[i] && !open) {
            open = 1;
            start = s->t[i];
        } else if (!s->up[i] && open) {
            open = 0;
            if (s->t[i] > start) {
                x->lo[k] = start;
                x->hi[k++] = s->t[i];
            }
        }
    }
    if (open && t1 > start) {
        x->lo[k] = start;
        x->hi[k++] = t1;
    }
    *n = k;
    return 0;
}

static int st_range(void *vc, double t, double *rho)
{
    pctx *c = vc;
    double r[3], v[3], d[3];
    int rc = target_state(c->tg, t, r, v);
    if (rc != 0)
        return rc;
    for (int k = 0; k < 3; k++)
        d[k] = r[k] - c->st->site.r[k];
    *rho = norm(d);
    return 0;
}

/* -d(sin el)/dt: it rises through zero at a culmination. */
static int neg_dS_eval(void *vc, double t, orb_search_pt *p)
{
    pctx *c = vc;
    double r[3], v[3];
    geom g;
    int rc = target_state(c->tg, t, r, v);
    if (rc != 0)
        return rc;
    geometry(c->st, c->smask, r, v, &g);
    p->f = -g.dS;
    return 0;
}

/* Culmination of window w: the highest of the candidates (its ends and
 * the samples inside), then the zero of d(sin el)/dt between it and the
 * neighbour it is climbing towards, found by Brent's method. */
static int culminate(pctx *c, orb_search *br, const scratch *x, size_t nc,
                     orb_window *w)
{
    size_t best = 0, lft, rgt;
    orb_search_pt a, b;
    double t, r[3], v[3];
    geom g;
    int rc;

    for (size_t k = 1; k < nc; k++)
        if (x->cs[k] > x->cs[best])
            best = k;
    w->t_max = x->ct[best];
    w->max_el_deg = asin(fmin(1.0, x->cs[best])) / DEG;
    if (x->cd[best] > 0 && best + 1 < nc) {
        lft = best;
        rgt = best + 1;
    } else if (x->cd[best] < 0 && best > 0) {
        lft = best - 1;
        rgt = best;
    } else {
        return 0;
    }
    if (!(x->cd[lft] > 0 && x->cd[rgt] <= 0))
        return 0;                /* the top is the candidate itself */
    a = (orb_search_pt){ x->ct[lft], -x->cd[lft], 0, 0 };
    b = (orb_search_pt){ x->ct[rgt], -x->cd[rgt], 0, 0 };
    if ((rc = orb_search_root(br, &a, &b, &t)) != 0)
        return rc;
    if ((rc = target_state(c->tg, t, r, v)) != 0)
        return rc;
    geometry(c->st, c->smask, r, v, &g);
    if (g.S > x->cs[best]) {
        w->t_max = t;
        w->max_el_deg = asin(fmin(1.0, g.S)) / DEG;
    }
    return 0;
}

/* One window [ws, we] of a target over a station: ends, culmination and
 * light-time samples; samples g->t[i0 .. i1) lie strictly inside. */
static int site_window(const orb_contact_cfg *cfg, pctx *c, orb_search *br,
                       const grid *g, size_t i0, size_t i1, double ws,
                       double we, orb_window *w, scratch *x,
                       orb_contact_list *l)
{
    size_t nc = i1 - i0 + 2, nk = 0;
    double r[3], v[3];
    geom ge;
    ltctx lc;
    int rc;

    if ((rc = scratch_cand(x, nc)) < 0 || (rc = scratch_knots(x, nc)) < 0)
        return rc;
    if ((rc = target_state(c->tg, ws, r, v)) != 0)
        return rc;
    geometry(c->st, c->smask, r, v, &ge);
    x->ct[nk] = ws;
    x->cs[nk] = ge.S;
    x->cd[nk] = ge.dS;
    x->k[nk++] = (knot){ ws, ge.rho };
    for (size_t i = i0; i < i1; i++) {
        geometry(c->st, c->smask, g->r[i], g->v[i], &ge);
        x->ct[nk] = g->t[i];
        x->cs[nk] = ge.S;
        x->cd[nk] = ge.dS;
        x->k[nk++] = (knot){ g->t[i], ge.rho };
    }
    if ((rc = target_state(c->tg, we, r, v)) != 0)
        return rc;
    geometry(c->st, c->smask, r, v, &ge);
    x->ct[nk] = we;
    x->cs[nk] = ge.S;
    x->cd[nk] = ge.dS;
    x->k[nk++] = (knot){ we, ge.rho };
    if ((rc = culminate(c, br, x, nk, w)) != 0)
        return rc;
    lc.range = st_range;
    lc.ctx = c;
    /* inertial bounds: the station turns with the Earth */
    lc.ai = c->tg->ai + OMEGA * OMEGA * c->rst;
    lc.vi = c->tg->vi + OMEGA * c->rst;
    lc.floor_km = c->tg->rmin - c->rst;
    lc.tol_km = ORB_C_KM_S * cfg->lt_tol;
    lc.l = l;
    if ((rc = lt_sample(&lc, x->k, nk, w)) != 0)
        return rc;
    return push_win(l, w);
}

/* Windows of one target over one station from its samples. */
static int site_windows(const orb_contact_cfg *cfg, target *tg, int a_idx,
                        int st_idx, const orb_station *st, const grid *g,
                        enum orb_win_kind kind, orb_search *sr,
                        orb_search *br, scratch *x, orb_contact_list *l)
{
    pctx c = { tg, st, sin(st->mask_deg * DEG), norm(st->site.r) };
    double t_end = g->t[g->n - 1], t0 = g->t[0];
    orb_search_pt prev, cur;
    size_t nwin, i0 = 0;
    geom gg;
    int rc, open0;

    sr->eval = p_eval;
    sr->bound = p_bound;
    sr->ctx = &c;
    sr->smooth = 1;
    /* |F'| <= |rho'| (1 + |sin mask|) */
    sr->lip = tg->ve * (1 + fabs(c.smask));
    sr->tol = cfg->root_tol;
    sr->floor = PASS_FLOOR_S;
    sr->budget = 200 * (long)g->n + 100000;
    orb_search_reset(sr);
    br->eval = neg_dS_eval;
    br->bound = lip_bound_dS;
    br->ctx = &c;
    br->smooth = 0;
    br->lip = 0;
    br->tol = MAX_TOL_S;
    br->floor = LIP_FLOOR_S;
    br->budget = 0;
    orb_search_reset(br);

    geometry(st, c.smask, g->r[0], g->v[0], &gg);
    prev = (orb_search_pt){ t0, gg.F, gg.dF, gg.rho };
    open0 = gg.F > 0;
    for (size_t i = 1; i < g->n; i++) {
        geometry(st, c.smask, g->r[i], g->v[i], &gg);
        cur = (orb_search_pt){ g->t[i], gg.F, gg.dF, gg.rho };
        if ((rc = orb_search_interval(sr, &prev, &cur)) != 0)
            return rc;
        prev = cur;
    }
    if ((rc = pos_intervals(x, open0, sr, t0, t_end, &nwin)) < 0)
        return rc;
    for (size_t k = 0; k < nwin; k++) {
        double ws = x->lo[k], we = x->hi[k];
        orb_window w;
        size_t i1;
        memset(&w, 0, sizeof w);
        w.kind = kind;
        w.a = a_idx;
        w.b = st_idx;
        w.start = ws;
        w.end = we;
        w.clip_start = ws <= t0;
        w.clip_end = we >= t_end;
        while (i0 < g->n && g->t[i0] <= ws)
            i0++;
        for (i1 = i0; i1 < g->n && g->t[i1] < we; i1++)
            ;
        if ((rc = site_window(cfg, &c, br, g, i0, i1, ws, we, &w, x, l)) != 0)
            return rc;
        i0 = i1;
    }
    return 0;
}

/* --------------------------------------------------- satellites x sites */

static void epoch_check(const orb_contact_cfg *c, const orb_sat *s,
                        int isat, const char *label, orb_contact_list *l)
{
    double d0 = fabs(c->from - s->epoch_unix) / 86400.0;
    double d1 = fabs(c->from + c->span - s->epoch_unix) / 86400.0;
    double d = d0 > d1 ? d0 : d1;
    if (c->epoch_warn_days > 0 && d > c->epoch_warn_days) {
        char e[40];
        iso(s->epoch_unix, e, sizeof e);
        warn(l, isat, 0, NAN,
             "%s: TLE epoch %s is %.1f days from the span (over %g): "
             "SGP4 errors grow by km per day away from the epoch",
             label, e, d, c->epoch_warn_days);
    }
}

static void grid_free(grid *g)
{
    free(g->t);
    free(g->r);
    free(g->v);
    memset(g, 0, sizeof *g);
}

static int grid_alloc(grid *g, size_t n)
{
    memset(g, 0, sizeof *g);
    g->t = malloc(n * sizeof *g->t);
    g->r = malloc(n * sizeof *g->r);
    g->v = malloc(n * sizeof *g->v);
    if (!g->t || !g->r || !g->v) {
        grid_free(g);
        return -ENOMEM;
    }
    return 0;
}

/* Sample a target over the span (Earth-fixed), stopping at the first
 * failure. Returns the radii seen through *rmin / *rmax. */
static void grid_fill(const orb_contact_cfg *c, target *tg, grid *g,
                      size_t n, double *rmin, double *rmax)
{
    *rmin = NAN;
    *rmax = NAN;
    for (g->n = 0; g->n < n; g->n++) {
        double t = sample_t(c, g->n, n), rr;
        if (target_state(tg, t, g->r[g->n], g->v[g->n]) != 0)
            break;
        g->t[g->n] = t;
        rr = norm(g->r[g->n]);
        if (!(rr >= *rmin))
            *rmin = rr;
        if (!(rr <= *rmax))
            *rmax = rr;
    }
}

static void fail_warn(orb_contact_list *l, int isat, const char *label,
                      const target *tg, const char *what)
{
    char when[40];
    iso(tg->fail_t, when, sizeof when);
    warn(l, isat, tg->code, tg->fail_t,
         "%s: SGP4 error %d at %s: %s; %s", label, tg->code, when,
         orb_sgp4_strerror(tg->code), what);
}

int orb_contact_stations(const orb_contact_cfg *c, orb_sat *sat, int isat,
                         const char *name, const orb_station *st, int nst,
                         orb_contact_list *l, char *err, size_t errlen)
{
    target tg = { 0 };
    orb_search_kin kin;
    orb_search sr = { 0 }, br = { 0 };
    scratch x = { 0 };
    grid g;
    size_t n;
    double rmin, rmax;
    char label[80];
    int rc;

    if ((rc = check_cfg(c, err, errlen)) < 0)
        return rc;
    if (nst < 0 || nst > ORB_CONTACT_MAX_STATIONS)
        return lg_errf(err, errlen, -EINVAL, "%d stations (at most %d)",
                       nst, ORB_CONTACT_MAX_STATIONS);
    sat_label(label, sizeof label, sat, name);
    epoch_check(c, sat, isat, label, l);
    if (nst == 0)
        return 0;
    n = n_samples(c, c->step > 0 ? c->step : orb_contact_step(sat));
    if (grid_alloc(&g, n) < 0)
        return lg_errf(err, errlen, -ENOMEM, "out of memory");
    tg.sat = sat;
    tg.dut1 = c->dut1;
    grid_fill(c, &tg, &g, n, &rmin, &rmax);
    if (g.n < n)
        fail_warn(l, isat, label, &tg,
                  g.n ? "no windows after the sample before it"
                      : "no windows for it");
    orb_search_kin_sat(&kin, sat, rmin, rmax);
    target_bounds(&tg, &kin);
    rc = 0;
    for (int k = 0; k < nst && g.n >= 1; k++) {
        size_t nw = l->n_win, nl = l->n_lt;
        tg.code = 0;
        rc = site_windows(c, &tg, isat, k, &st[k], &g, ORB_WIN_STATION, &sr,
                          &br, &x, l);
        if (rc > 0 || rc == -ETIME) {
            /* SGP4 failed between samples that propagated (decay within
             * one step), or the search ran away: this pair keeps nothing. */
            l->n_win = nw;
            l->n_lt = nl;
            if (rc > 0)
                fail_warn(l, isat, label, &tg, "its windows over that "
                          "station dropped");
            else
                warn(l, isat, rc, NAN, "%s: search budget spent over "
                     "station '%s'; its windows dropped", label,
                     st[k].name);
            rc = 0;
            continue;
        }
        if (rc < 0)
            break;
    }
    if (rc == -E2BIG)
        lg_errf(err, errlen, rc, "more windows or light-time samples than "
                "the list allows (%zu, %zu)", l->max_win, l->max_lt);
    else if (rc < 0)
        lg_errf(err, errlen, rc, "%s", lg_strerror(rc));
    orb_search_free(&sr);
    orb_search_free(&br);
    scratch_free(&x);
    grid_free(&g);
    return rc;
}

int orb_contact_moon(const orb_contact_cfg *c, const orb_station *st,
                     int nst, orb_contact_list *l, char *err, size_t errlen)
{
    target tg = { 0 };
    orb_search sr = { 0 }, br = { 0 };
    scratch x = { 0 };
    grid g;
    size_t n;
    double rmin, rmax;
    int rc = 0;

    if ((rc = check_cfg(c, err, errlen)) < 0)
        return rc;
    if (nst <= 0)
        return 0;
    if (nst > ORB_CONTACT_MAX_STATIONS)
        return lg_errf(err, errlen, -EINVAL, "%d stations (at most %d)",
                       nst, ORB_CONTACT_MAX_STATIONS);
    n = n_samples(c, c->step > 0 ? c->step : MOON_STEP_S);
    if (grid_alloc(&g, n) < 0)
        return lg_errf(err, errlen, -ENOMEM, "out of memory");
    tg.dut1 = c->dut1;
    grid_fill(c, &tg, &g, n, &rmin, &rmax);
    tg.rmin = MOON_RMIN_KM;
    tg.vi = MOON_VMAX_KM_S;
    tg.ai = MOON_AMAX_KM_S2;
    tg.ve = MOON_VMAX_KM_S + OMEGA * MOON_RMAX_KM;
    tg.ae = MOON_AMAX_KM_S2 + 2 * OMEGA * tg.ve +
            OMEGA * OMEGA * MOON_RMAX_KM;
    for (int k = 0; k < nst && rc == 0; k++)
        rc = site_windows(c, &tg, -1, k, &st[k], &g, ORB_WIN_MOON, &sr, &br,
                          &x, l);
    if (rc == -E2BIG)
        lg_errf(err, errlen, rc, "more windows or light-time samples than "
                "the list allows (%zu, %zu)", l->max_win, l->max_lt);
    else if (rc != 0)
        lg_errf(err, errlen, rc, "%s", lg_strerror(rc));
    orb_search_free(&sr);
    orb_search_free(&br);
    scratch_free(&x);
    grid_free(&g);
    return rc;
}

/* ---------------------------------------------------------------- ISL */

typedef struct isl_sat {
    orb_sat *sat;
    const char *name;
    size_t n;                    /* samples that propagated */
    double (*r)[3];              /* TEME positions at the shared times */
    orb_search_kin kin;
    int gcode;                   /* SGP4 code that ended the samples */
    int code;                    /* SGP4 code of a failure in a search */
    double fail_t;
} isl_sat;

typedef struct ictx {
    isl_sat *A, *B;
    double rclear;               /* km */
    double maxr;                 /* km, 0: none */
    double L;                    /* bound on |G'| */
} ictx;

/* G = min(clearance of the line of sight, range margin): > 0 in view.
 * The clearance is the distance from the Earth's centre to the segment
 * AB less rclear; *range gets |AB|. */
static double isl_G(const ictx *c, const double a[3], const double b[3],
                    double *range)
{
    double d[3] = { b[0] - a[0], b[1] - a[1], b[2] - a[2] };
    double dd = dot(d, d), s = dd > 0 ? -dot(a, d) / dd : 0, p[3], g;
    if (s < 0)
        s = 0;
    if (s > 1)
        s = 1;
    for (int k = 0; k < 3; k++)
        p[k] = a[k] + s * d[k];
    *range = sqrt(dd);
    g = norm(p) - c->rclear;
    if (c->maxr > 0 && c->maxr - *range < g)
        g = c->maxr - *range;
    return g;
}

static int isl_pos(isl_sat *s, double t, double r[3])
{
    double v[3];
    int rc = orb_sgp4_prop_unix(s->sat, t, r, v);
    if (rc != 0) {
        s->code = rc;
        s->fail_t = t;
    }
    return rc;
}

static int i_eval(void *vc, double t, orb_search_pt *p)
{
    ictx *c = vc;
    double a[3], b[3];
    int rc;
    if ((rc = isl_pos(c->A, t, a)) != 0 || (rc = isl_pos(c->B, t, b)) != 0)
        return rc;
    p->f = isl_G(c, a, b, &p->x);
    return 0;
}

/* The distance from a fixed point to a segment whose ends move at vA and
 * vB changes at most at max(vA, vB); |AB| at most at vA + vB. */
static double i_bound(void *vc, const orb_search_pt *a,
                      const orb_search_pt *b)
{
    (void)a;
    (void)b;
    return ((ictx *)vc)->L;
}

static int i_range(void *vc, double t, double *rho)
{
    orb_search_pt p;
    int rc = i_eval(vc, t, &p);
    if (rc == 0)
        *rho = p.x;
    return rc;
}

static void isl_label(char *buf, size_t len, const isl_sat *s)
{
    sat_label(buf, len, s->sat, s->name);
}

/* The windows of one pair over their common good samples. */
static int isl_pair(const orb_contact_cfg *c, isl_sat *A, int ia, isl_sat *B,
                    int ib, const double *ts, orb_search *sr, scratch *x,
                    orb_contact_list *l)
{
    ictx ic = { A, B, ORB_EARTH_R_KM + ORB_CONTACT_ISL_MARGIN_KM,
                c->isl_max_km, A->kin.vmax + B->kin.vmax };
    size_t m = A->n < B->n ? A->n : B->n, nwin, i0 = 0;
    orb_search_pt prev, cur;
    int rc, open0;

    if (m < 1)
        return 0;
    sr->eval = i_eval;
    sr->bound = i_bound;
    sr->ctx = &ic;
    sr->smooth = 0;
    sr->lip = 0;
    sr->tol = c->root_tol;
    sr->floor = LIP_FLOOR_S;
    sr->budget = 400 * (long)m + 100000;
    orb_search_reset(sr);
    prev = (orb_search_pt){ ts[0], 0, 0, 0 };
    prev.f = isl_G(&ic, A->r[0], B->r[0], &prev.x);
    open0 = prev.f > 0;
    for (size_t k = 1; k < m; k++) {
        cur = (orb_search_pt){ ts[k], 0, 0, 0 };
        cur.f = isl_G(&ic, A->r[k], B->r[k], &cur.x);
        if ((rc = orb_search_interval(sr, &prev, &cur)) != 0)
            return rc;
        prev = cur;
    }
    if ((rc = pos_intervals(x, open0, sr, ts[0], ts[m - 1], &nwin)) < 0)
        return rc;
    for (size_t q = 0; q < nwin; q++) {
        double ws = x->lo[q], we = x->hi[q], rho;
        orb_window w;
        ltctx lc;
        size_t i1, nk = 0;

        memset(&w, 0, sizeof w);
        w.kind = ORB_WIN_ISL;
        w.a = ia;
        w.b = ib;
        w.start = ws;
        w.end = we;
        w.clip_start = ws <= ts[0];
        w.clip_end = we >= ts[m - 1];
        w.t_max = NAN;
        w.max_el_deg = NAN;
        while (i0 < m && ts[i0] <= ws)
            i0++;
        for (i1 = i0; i1 < m && ts[i1] < we; i1++)
            ;
        if ((rc = scratch_knots(x, i1 - i0 + 2)) < 0)
            return rc;
        if ((rc = i_range(&ic, ws, &rho)) != 0)
            return rc;
        x->k[nk++] = (knot){ ws, rho };
        for (size_t k = i0; k < i1; k++) {
            double d[3];
            for (int j = 0; j < 3; j++)
                d[j] = B->r[k][j] - A->r[k][j];
            x->k[nk++] = (knot){ ts[k], norm(d) };
        }
        if ((rc = i_range(&ic, we, &rho)) != 0)
            return rc;
        x->k[nk++] = (knot){ we, rho };
        lc.range = i_range;
        lc.ctx = &ic;
        lc.ai = A->kin.amax + B->kin.amax;
        lc.vi = A->kin.vmax + B->kin.vmax;
        lc.floor_km = 0;
        lc.tol_km = ORB_C_KM_S * c->lt_tol;
        lc.l = l;
        if ((rc = lt_sample(&lc, x->k, nk, &w)) != 0)
            return rc;
        if ((rc = push_win(l, &w)) != 0)
            return rc;
        i0 = i1;
    }
    return 0;
}

int orb_contact_isl(const orb_contact_cfg *c, orb_sat *sats,
                    const char *const *names, int nsat, orb_contact_list *l,
                    char *err, size_t errlen)
{
    isl_sat *is = NULL;
    orb_search sr = { 0 };
    scratch x = { 0 };
    double *ts = NULL, step = c->step;
    size_t n;
    int rc = 0;

    if ((rc = check_cfg(c, err, errlen)) < 0)
        return rc;
    if (nsat < 2)
        return 0;
    if (step <= 0) {
        step = 300;
        for (int i = 0; i < nsat; i++)
            if (orb_contact_step(&sats[i]) < step)
                step = orb_contact_step(&sats[i]);
    }
    n = n_samples(c, step);
    if ((double)n * nsat > ORB_CONTACT_ISL_MAX_SAMPLES)
        return lg_errf(err, errlen, -E2BIG,
                       "ISL search over %d satellites x %zu samples exceeds "
                       "%d; shorten the span or use fewer satellites",
                       nsat, n, ORB_CONTACT_ISL_MAX_SAMPLES);
    is = calloc((size_t)nsat, sizeof *is);
    ts = malloc(n * sizeof *ts);
    if (!is || !ts) {
        rc = -ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        ts[i] = sample_t(c, i, n);
    for (int i = 0; i < nsat; i++) {
        double rmin = NAN, rmax = NAN;
        is[i].sat = &sats[i];
        is[i].name = names ? names[i] : NULL;
        is[i].r = malloc(n * sizeof *is[i].r);
        if (!is[i].r) {
            rc = -ENOMEM;
            goto out;
        }
        for (is[i].n = 0; is[i].n < n; is[i].n++) {
            double rr;
            if (isl_pos(&is[i], ts[is[i].n], is[i].r[is[i].n]) != 0) {
                char la[80], when[40];
                is[i].gcode = is[i].code;
                isl_label(la, sizeof la, &is[i]);
                iso(is[i].fail_t, when, sizeof when);
                warn(l, i, is[i].gcode, is[i].fail_t,
                     "%s: SGP4 error %d at %s: %s; %s", la, is[i].gcode,
                     when, orb_sgp4_strerror(is[i].gcode),
                     is[i].n ? "no ISL windows after the sample before it"
                             : "no ISL windows for it");
                break;
            }
            rr = norm(is[i].r[is[i].n]);
            if (!(rr >= rmin))
                rmin = rr;
            if (!(rr <= rmax))
                rmax = rr;
        }
        orb_search_kin_sat(&is[i].kin, &sats[i], rmin, rmax);
    }
    for (int i = 0; i < nsat && rc == 0; i++) {
        for (int j = i + 1; j < nsat && rc == 0; j++) {
            size_t nw = l->n_win, nl = l->n_lt;
            is[i].code = is[j].code = 0;
            rc = isl_pair(c, &is[i], i, &is[j], j, ts, &sr, &x, l);
            if (rc > 0 || rc == -ETIME) {
                char la[80], lb[80], when[40];
                isl_sat *bad = is[i].code ? &is[i] : &is[j];
                l->n_win = nw;
                l->n_lt = nl;
                isl_label(la, sizeof la, &is[i]);
                isl_label(lb, sizeof lb, &is[j]);
                if (rc > 0) {
                    iso(bad->fail_t, when, sizeof when);
                    warn(l, bad == &is[i] ? i : j, rc, bad->fail_t,
                         "%s: SGP4 error %d at %s: %s; ISL windows %s - %s "
                         "dropped", bad == &is[i] ? la : lb, rc, when,
                         orb_sgp4_strerror(rc), la, lb);
                } else {
                    warn(l, i, rc, NAN, "%s: search budget spent for the "
                         "ISL with %s; its windows dropped", la, lb);
                }
                rc = 0;
            }
        }
    }
out:
    if (rc == -E2BIG)
        lg_errf(err, errlen, rc, "more windows or light-time samples than "
                "the list allows (%zu, %zu)", l->max_win, l->max_lt);
    else if (rc < 0)
        lg_errf(err, errlen, rc, "%s", lg_strerror(rc));
    if (is)
        for (int i = 0; i < nsat; i++)
            free(is[i].r);
    free(is);
    free(ts);
    scratch_free(&x);
    orb_search_free(&sr);
    return rc;
}

/* ---------------------------------------------------- sort and export */

static int cmp_win(const void *x, const void *y)
{
    const orb_window *a = x, *b = y;
    if (a->start != b->start)
        return a->start < b->start ? -1 : 1;
    if (a->kind != b->kind)
        return a->kind < b->kind ? -1 : 1;
    if (a->a != b->a)
        return a->a < b->a ? -1 : 1;
    if (a->b != b->b)
        return a->b < b->b ? -1 : 1;
    return 0;
}

void orb_contact_sort(orb_contact_list *l)
{
    if (l->n_win > 1)
        qsort(l->win, l->n_win, sizeof *l->win, cmp_win);
}

double orb_contact_lt_at(const orb_contact_list *l, const orb_window *w,
                         double t)
{
    const orb_lt *s = l->lt + w->lt_first;
    size_t lo = 0, hi = w->lt_n - 1;
    if (w->lt_n == 0)
        return NAN;
    if (t <= s[0].t)
        return s[0].lt;
    if (t >= s[hi].t)
        return s[hi].lt;
    while (hi - lo > 1) {            /* s[lo].t <= t < s[hi].t */
        size_t mid = lo + (hi - lo) / 2;
        if (s[mid].t <= t)
            lo = mid;
        else
            hi = mid;
    }
    return s[lo].lt + (s[hi].lt - s[lo].lt) * (t - s[lo].t) /
                          (s[hi].t - s[lo].t);
}

typedef struct emitter {
    plan_window *out;
    size_t max, n;
    double epoch, rate;
    double last_end;             /* of the previous sub-window, relative */
    double last_delay;           /* its delay, or NAN */
} emitter;

/* One sub-window [s, t) (Unix s) with this delay. FIFO across
 * sub-windows: after a larger delay, start late enough that the first
 * arrival is no earlier than the previous last one, checked in the
 * relative times that are stored (rounding included). */
static void emit(emitter *e, double s, double t, double delay)
{
    double rs = s - e->epoch, rt = t - e->epoch;

    if (isfinite(e->last_delay) && delay < e->last_delay) {
        double need = e->last_end + e->last_delay;
        if (rs < need - delay)
            rs = need - delay;
        while (rs + delay < need)
            rs = nextafter(rs, INFINITY);
    }
    if (!(rt > rs))
        return;                  /* the step ate it (at most tol long) */
    if (e->n < e->max) {
        plan_window *p = &e->out[e->n];
        p->start = rs;
        p->end = rt;
        p->rate = e->rate;
        p->delay = delay;
    }
    e->n++;
    e->last_end = rt;
    e->last_delay = delay;
}

int orb_contact_plan(const orb_contact_list *l, const orb_window *w,
                     double epoch_unix, double rate, double tol,
                     plan_window *out, size_t max, size_t *n)
{
    emitter e = { out, max, 0, epoch_unix, rate, 0, NAN };
    const orb_lt *s = l->lt + w->lt_first;
    double ts, lo, hi;

    *n = 0;
    if (!(rate > 0) || !isfinite(rate))
        return -EINVAL;
    if (tol <= 0 || w->lt_n < 2) {
        emit(&e, w->start, w->end, w->lt_max);
        *n = e.n;
        return e.n > max ? -E2BIG : 0;
    }
    /* Walk the linear pieces keeping lo <= lt <= hi <= lo + tol over the
     * current sub-window; where a piece would break that, cut where it
     * reaches lo + tol (rising: that is the sub-window's maximum) or
     * hi - tol (falling: hi is). Each cut moves the value by tol, so the
     * loop ends. */
    ts = s[0].t;
    lo = hi = s[0].lt;
    for (size_t k = 0; k + 1 < w->lt_n; k++) {
        double t0 = s[k].t, l0 = s[k].lt, t1 = s[k + 1].t, l1 = s[k + 1].lt;
        for (;;) {
            double tc, lc, d;
            if (l1 >= l0 && l1 > lo + tol) {
                lc = lo + tol;
                d = lc;
            } else if (l1 < l0 && l1 < hi - tol) {
                lc = hi - tol;
                d = hi;
            } else {
                hi = fmax(hi, l1);
                lo = fmin(lo, l1);
                break;
            }
            tc = t0 + (t1 - t0) * (lc - l0) / (l1 - l0);
            if (tc < t0)
                tc = t0;
            if (tc > t1)
                tc = t1;
            emit(&e, ts, tc, d);
            ts = tc;
            t0 = tc;
            l0 = lc;
            lo = hi = lc;
        }
    }
    if (w->end > ts)
        emit(&e, ts, w->end, hi);
    *n = e.n;
    return e.n > max ? -E2BIG : 0;
}
