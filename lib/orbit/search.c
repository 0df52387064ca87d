/*
 * search.c - proven event search: interval splitting against a bound on
 * how fast the function moves, then bracketed Newton (smooth) or Brent
 * (Lipschitz) for each crossing. No globals; an orb_search belongs to
 * one thread at a time.
 */
#include "search.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "sgp4.h"

#define DEFAULT_MAX 10000000
#define MAX_DEPTH 64            /* splits halve: 64 levels is < 1e-18 s */

typedef orb_search_pt pt;

static int pos(const pt *p)
{
    return p->f > 0;
}

static int ev(orb_search *s, double t, pt *p)
{
    if (s->budget > 0 && s->evals >= s->budget)
        return -ETIME;
    s->evals++;
    p->t = t;
    p->d = 0;
    p->x = 0;
    return s->eval(s->ctx, t, p);
}

static int push(orb_search *s, double t, int up)
{
    size_t max = s->max ? s->max : DEFAULT_MAX;
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 64;
        double *nt;
        signed char *nu;
        if (s->n >= max)
            return -E2BIG;
        if (cap > max)
            cap = max;
        nt = realloc(s->t, cap * sizeof *nt);
        if (!nt)
            return -ENOMEM;
        s->t = nt;
        nu = realloc(s->up, cap * sizeof *nu);
        if (!nu)
            return -ENOMEM;
        s->up = nu;
        s->cap = cap;
    }
    s->t[s->n] = t;
    s->up[s->n] = (signed char)up;
    s->n++;
    return 0;
}

/* 1 if f provably keeps the common sign of a and b strictly inside. */
static int keeps_sign(const orb_search *s, const pt *a, const pt *b,
                      double B)
{
    double h = b->t - a->t;
    double sg = pos(a) ? 1.0 : -1.0;
    double fa = sg * a->f, fb = sg * b->f;   /* both must stay > 0 */
    double da, db, k, c0, x;

    if (!(fa > 0) || !(fb > 0) || !(B >= 0) || !isfinite(B))
        return 0;
    if (!s->smooth)
        return fa + fb > B * h;
    da = sg * a->d;
    db = sg * b->d;
    /* g = sg f lies above pa(x) = fa + da x - B x^2/2 and above
     * pb(x) = fb - db (h - x) - B (h - x)^2/2 (x = t - a). max(pa, pb) is
     * concave on each side of the one point where pa = pb (their
     * difference is linear), so its minimum is at 0, h or that point. */
    k = da - db - B * h;
    c0 = fa - fb + db * h + B * h * h / 2;
    if (k == 0)
        return 1;
    x = -c0 / k;
    if (!(x > 0 && x < h))
        return 1;
    return fa + da * x - B * x * x / 2 > 0;
}

/* 1 if a smooth f is provably monotonic on [a, b] (a sign change there
 * is then a single crossing): f' stays on one side of 0 by the same
 * envelope argument, one order down. */
static int monotone(const pt *a, const pt *b, double B)
{
    double h = b->t - a->t;
    double sg = pos(b) ? 1.0 : -1.0;         /* rising when b is positive */
    double ga = sg * a->d, gb = sg * b->d;
    if (!(B >= 0) || !isfinite(B))
        return 0;
    return ga > 0 && gb > 0 && ga + gb > B * h;
}

/* Bracketed Newton (Numerical Recipes' rtsafe): a Newton step when it
 * stays inside the bracket and halves the previous step, else bisection.
 * pos(l) != pos(r) on entry. */
static int root_smooth(orb_search *s, pt l, pt r, double *out)
{
    double x, dx, dxold = r.t - l.t;
    pt p;
    int rc;

    /* Start from the secant through the ends: ~linear near a crossing. */
    x = l.t + (r.t - l.t) * (l.f / (l.f - r.f));
    if (!(x > l.t && x < r.t))
        x = 0.5 * (l.t + r.t);
    dx = dxold;
    for (int it = 0; it < 100; it++) {
        double xn;
        if ((rc = ev(s, x, &p)) != 0)
            return rc;
        if (pos(&p) == pos(&l))
            l = p;
        else
            r = p;
        if (r.t - l.t <= s->tol) {
            *out = r.t;               /* where f is first on the far side */
            return 0;
        }
        xn = p.d != 0 ? p.t - p.f / p.d : NAN;
        if (xn > l.t && xn < r.t && fabs(p.f / p.d) < 0.5 * fabs(dxold)) {
            dxold = dx;
            dx = p.f / p.d;
            x = xn;
            if (fabs(dx) < 0.25 * s->tol) {
                *out = x;
                return 0;
            }
        } else {
            dxold = dx;
            dx = 0.5 * (r.t - l.t);
            x = l.t + dx;
        }
    }
    *out = 0.5 * (l.t + r.t);
    return 0;
}

/* Brent's method (Numerical Recipes' zbrent) on the sign class: it sees
 * f, and a crossing is where pos() flips. pos(a) != pos(b) on entry. */
static int root_brent(orb_search *s, pt pa, pt pb, double *out)
{
    double a = pa.t, b = pb.t, c, fa = pa.f, fb = pb.f, fc;
    double d = b - a, e = d;
    int rc;

    /* f may be exactly 0 at a: treat 0 as the negative class, as pos()
     * does, by nudging it below. */
    if (fa == 0)
        fa = -1e-300;
    if (fb == 0)
        fb = -1e-300;
    c = b;
    fc = fb;
    for (int it = 0; it < 200; it++) {
        double tol1, xm;
        pt p;
        if ((fb > 0 && fc > 0) || (fb <= 0 && fc <= 0)) {
            c = a;
            fc = fa;
            e = d = b - a;
        }
        if (fabs(fc) < fabs(fb)) {
            a = b;
            b = c;
            c = a;
            fa = fb;
            fb = fc;
            fc = fa;
        }
        tol1 = 0.5 * s->tol;
        xm = 0.5 * (c - b);
        if (fabs(xm) <= tol1 || fb == 0) {
            *out = b;
            return 0;
        }
        if (fabs(e) >= tol1 && fabs(fa) > fabs(fb)) {
            double pp, q, r, ss = fb / fa;
            if (a == c) {
                pp = 2.0 * xm * ss;
                q = 1.0 - ss;
            } else {
                q = fa / fc;
                r = fb / fc;
                pp = ss * (2.0 * xm * q * (q - r) - (b - a) * (r - 1.0));
                q = (q - 1.0) * (r - 1.0) * (ss - 1.0);
            }
            if (pp > 0)
                q = -q;
            pp = fabs(pp);
            if (2.0 * pp < fmin(3.0 * xm * q - fabs(tol1 * q),
                                fabs(e * q))) {
                e = d;
                d = pp / q;
            } else {
                d = xm;
                e = d;
            }
        } else {
            d = xm;
            e = d;
        }
        a = b;
        fa = fb;
        b += fabs(d) > tol1 ? d : (xm > 0 ? tol1 : -tol1);
        if ((rc = ev(s, b, &p)) != 0)
            return rc;
        fb = p.f == 0 ? -1e-300 : p.f;
    }
    *out = b;
    return 0;
}

int orb_search_root(orb_search *s, const orb_search_pt *a,
                    const orb_search_pt *b, double *t)
{
    int rc;
    *t = b->t;
    rc = s->smooth ? root_smooth(s, *a, *b, t) : root_brent(s, *a, *b, t);
    if (*t < a->t)
        *t = a->t;
    if (*t > b->t)
        *t = b->t;
    return rc;
}

static int crossing(orb_search *s, const pt *a, const pt *b)
{
    double t;
    int rc = orb_search_root(s, a, b, &t);
    if (rc != 0)
        return rc;
    return push(s, t, pos(b));
}

static int rec(orb_search *s, const pt *a, const pt *b, int depth)
{
    double h = b->t - a->t;
    double B;
    pt m;
    int rc;

    if (!(h > 0))
        return 0;
    /* Most intervals are far from any crossing: settle those with the
     * first-order bound before the caller's (costlier) one. */
    if (s->lip > 0 && pos(a) == pos(b) && fabs(a->f) + fabs(b->f) > s->lip * h)
        return 0;
    B = s->bound(s->ctx, a, b);
    if (pos(a) == pos(b)) {
        if (keeps_sign(s, a, b, B) || h <= s->floor || depth >= MAX_DEPTH)
            return 0;
    } else if (h <= s->floor || depth >= MAX_DEPTH ||
               (s->smooth && monotone(a, b, B))) {
        return crossing(s, a, b);
    }
    if ((rc = ev(s, a->t + 0.5 * h, &m)) != 0)
        return rc;
    if ((rc = rec(s, a, &m, depth + 1)) != 0)
        return rc;
    return rec(s, &m, b, depth + 1);
}

void orb_search_reset(orb_search *s)
{
    s->n = 0;
    s->evals = 0;
}

int orb_search_interval(orb_search *s, const orb_search_pt *a,
                        const orb_search_pt *b)
{
    return rec(s, a, b, 0);
}

void orb_search_free(orb_search *s)
{
    free(s->t);
    free(s->up);
    s->t = NULL;
    s->up = NULL;
    s->n = s->cap = 0;
}

/* WGS-72, the constants the elements were fitted with. */
#define MU_KM3_S2 398600.8
#define RE_KM 6378.135
#define MARGIN_KM 50.0          /* short-period terms: J2 R^2/a ~ 10 km */

void orb_search_kin_sat(orb_search_kin *k, const struct orb_sat *s,
                        double rmin_seen, double rmax_seen)
{
    double a = s->a * RE_KM;                 /* Brouwer mean a, km */
    double rp = a * (1.0 - s->ecco), ra = a * (1.0 + s->ecco);
    double amaj, v2;

    if (rmin_seen < rp)
        rp = rmin_seen;                      /* false for NaN */
    if (rmax_seen > ra)
        ra = rmax_seen;
    rp -= MARGIN_KM;
    ra += MARGIN_KM;
    if (rp < 100.0)
        rp = 100.0;                          /* decayed: anything goes */
    amaj = a + MARGIN_KM > 0.5 * (rp + ra) ? a + MARGIN_KM : 0.5 * (rp + ra);
    /* vis-viva at the lowest radius, with the largest semi-major axis */
    v2 = MU_KM3_S2 * (2.0 / rp - 1.0 / amaj);
    k->rmin = rp;
    k->rmax = ra;
    k->vmax = 1.02 * sqrt(v2 > 0 ? v2 : 2.0 * MU_KM3_S2 / rp);
    /* point-mass gravity plus 5% for J2 (0.16% at the surface x 3) and
     * SGP4's periodic terms */
    k->amax = 1.05 * MU_KM3_S2 / (rp * rp);
}
