/*
 * check_orbit.c - unit tests for lib/orbit/geo.c, sun.c, search.c,
 * eclipse.c and contact.c.
 *
 * Oracles that nobody here wrote:
 *  - WGS-84's defining constants (a, f; the polar radius they imply);
 *  - Meeus, "Astronomical Algorithms" (2nd ed.), Example 25.a/25.b (the
 *    Sun on 1992 October 13.0 TD) and Example 47.a (the Moon on 1992
 *    April 12.0 TD), values copied from the book;
 *  - closed forms: the fraction of a circular orbit of radius a spent in
 *    a cylindrical shadow when the Sun lies in the orbit plane (beta = 0)
 *    is asin(R/a)/pi (0.372 at 550 km); the light time straight up to
 *    550 km is 550 km / c = 1.8346 ms; the Moon stays 1.19-1.36 light
 *    seconds away (356,000-407,000 km);
 *  - functions with known roots for the event search;
 *  - SGP4-VER.TLE's SL-14 DEB (29141), which decays within 440 minutes
 *    (its two lines are copied below from python3-sgp4's file).
 * Pass times against skyfield and eclipse times against an independent
 * Python model are in tests/test_orbit.sh.
 *
 * Element sets for the window tests are made here with chosen elements
 * (checksums computed), so every geometric fact is known in advance.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <check.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eclipse.h"
#include "frames.h"
#include "geo.h"
#include "lgerr.h"
#include "search.h"
#include "sgp4.h"
#include "sun.h"
#include "tle.h"
#include "passes.h"

#define PI 3.14159265358979323846
#define DEG (PI / 180.0)
#define T0 1709337600.0          /* 2024-03-02T00:00:00Z */
#define EPOCH_STR "24061.75000000" /* 2024-03-01T18:00:00Z */
#define EPOCH_UNIX 1709316000.0

static char err[512];

/* ------------------------------------------------------------ helpers */

static void fix_sum(char *line)
{
    line[68] = (char)('0' + orb_tle_checksum(line, strlen(line)));
}

/* A drag-free element set at EPOCH_STR with the given elements. */
static void mk_sat(orb_sat *s, int num, double incl, double raan, double ecc,
                   double argp, double ma, double n_revday)
{
    char l1[80], l2[80];
    orb_tle t;

    snprintf(l1, sizeof l1, "1 %05dU 24001A   %s  .00000000  00000+0  "
             "00000+0 0  9990", num, EPOCH_STR);
    snprintf(l2, sizeof l2, "2 %05d %8.4f %8.4f %07ld %8.4f %8.4f %11.8f"
             "  1000", num, incl, raan, lround(ecc * 1e7), argp, ma,
             n_revday);
    ck_assert_uint_eq(strlen(l1), 69);
    ck_assert_uint_eq(strlen(l2), 69);
    fix_sum(l1);
    fix_sum(l2);
    ck_assert_msg(orb_tle_parse(&t, NULL, l1, l2, 0, err, sizeof err) == 0,
                  "%s\n%s\n%s", err, l1, l2);
    ck_assert_msg(orb_sgp4_init(s, &t, err, sizeof err) == 0, "%s", err);
}

/* Mean motion (rev/day) of a circular orbit at height h km (Kepler, WGS
 * 72 mu), near enough for geometry tests. */
static double n_at(double h)
{
    double a = 6378.135 + h;
    return sqrt(398600.8 / (a * a * a)) * 86400.0 / (2 * PI);
}

static double sep_deg(const double a[3], const double b[3])
{
    double c = (a[0] * b[0] + a[1] * b[1] + a[2] * b[2]) /
               (sqrt(a[0] * a[0] + a[1] * a[1] + a[2] * a[2]) *
                sqrt(b[0] * b[0] + b[1] * b[1] + b[2] * b[2]));
    return acos(c > 1 ? 1 : c) / DEG;
}

static void radec(double ra_deg, double dec_deg, double v[3])
{
    v[0] = cos(dec_deg * DEG) * cos(ra_deg * DEG);
    v[1] = cos(dec_deg * DEG) * sin(ra_deg * DEG);
    v[2] = sin(dec_deg * DEG);
}

/* Earth-fixed position of satellite s at Unix t. */
static void sat_ecef(orb_sat *s, double t, double r[3])
{
    double rt[3], vt[3], jd, fr;
    ck_assert_int_eq(orb_sgp4_prop_unix(s, t, rt, vt), 0);
    orb_frames_unix_to_jd(t, &jd, &fr);
    orb_frames_teme_to_ecef(rt, NULL, jd, fr, r, NULL);
}

static double elev(orb_sat *s, const orb_station *st, double t,
                   double *range)
{
    double r[3];
    orb_geo_look lk;
    sat_ecef(s, t, r);
    orb_geo_look_at(&st->site, r, NULL, &lk);
    if (range)
        *range = lk.range_km;
    return lk.el_deg;
}

/* ---------------------------------------------------------------- geo */

START_TEST(test_geo_ecef)
{
    double r[3], lat, lon, h;
    orb_geo_site s;
    orb_geo_look lk;

    /* a on the equator; b = a (1 - f) = 6356.752314245 km at the pole */
    orb_geo_to_ecef(0, 0, 0, r);
    ck_assert_double_eq_tol(r[0], 6378.137, 1e-9);
    ck_assert_double_eq_tol(r[1], 0, 1e-9);
    orb_geo_to_ecef(90, 0, 0, r);
    ck_assert_double_eq_tol(r[2], 6356.752314245, 1e-8);
    ck_assert_double_eq_tol(hypot(r[0], r[1]), 0, 1e-9);
    orb_geo_to_ecef(0, 90, 1000, r);
    ck_assert_double_eq_tol(r[1], 6379.137, 1e-9);

    /* round trips, Madrid and Svalbard and a point under the sea */
    {
        const double p[][3] = { { 40.43, -4.25, 800 }, { 78.23, 15.39, 500 },
                                { -33.9, 151.2, -50 }, { 89.999, 10, 0 } };
        for (size_t i = 0; i < sizeof p / sizeof p[0]; i++) {
            orb_geo_to_ecef(p[i][0], p[i][1], p[i][2], r);
            orb_geo_from_ecef(r, &lat, &lon, &h);
            ck_assert_double_eq_tol(lat, p[i][0], 1e-9);
            ck_assert_double_eq_tol(lon, p[i][1], 1e-7);
            ck_assert_double_eq_tol(h, p[i][2], 1e-5);
        }
    }

    /* 550 km straight up the ellipsoid normal: elevation 90, light time
     * 550 / 299792.458 = 1.83460 ms */
    ck_assert_int_eq(orb_geo_site_init(&s, 40.43, -4.25, 0, err, sizeof err),
                     0);
    for (int k = 0; k < 3; k++)
        r[k] = s.r[k] + 550.0 * s.up[k];
    orb_geo_look_at(&s, r, NULL, &lk);
    ck_assert_double_eq_tol(lk.el_deg, 90.0, 1e-9);
    ck_assert_double_eq_tol(lk.range_km, 550.0, 1e-9);
    ck_assert_double_eq_tol(orb_geo_light_time(lk.range_km) * 1e3, 1.83460,
                            1e-5);
    /* due east on the horizon plane: elevation 0, azimuth 90 */
    for (int k = 0; k < 3; k++)
        r[k] = s.r[k] + 1000.0 * s.east[k];
    orb_geo_look_at(&s, r, NULL, &lk);
    ck_assert_double_eq_tol(lk.el_deg, 0.0, 1e-9);
    ck_assert_double_eq_tol(lk.az_deg, 90.0, 1e-9);
}
END_TEST

START_TEST(test_geo_bad)
{
    orb_geo_site s;
    orb_station st;
    ck_assert_int_eq(orb_geo_site_init(&s, 91, 0, 0, err, sizeof err),
                     -EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "latitude"));
    ck_assert_int_eq(orb_geo_site_init(&s, 0, NAN, 0, err, sizeof err),
                     -EINVAL);
    ck_assert_int_eq(orb_geo_site_init(&s, 0, 0, 2e5, err, sizeof err),
                     -EINVAL);
    ck_assert_int_eq(orb_contact_station_init(&st, "gs", 0, 0, 0, 95, err,
                                              sizeof err), -EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "'gs'"));
    ck_assert_ptr_nonnull(strstr(err, "mask"));
}
END_TEST

/* --------------------------------------------------------- Sun, Moon */

/* Meeus Example 25.a/25.b: 1992 October 13.0 TD = JD 2448908.5. The
 * Sun's apparent place from the full VSOP87 theory (25.b) is RA
 * 13h13m30.749s = 198.378121 deg, Dec -7 47' 01.74" = -7.783817 deg, and
 * R = 0.99760775 AU; the Almanac's formulas claim 0.01 deg. (TD - UT is
 * ~59 s in 1992, 0.0007 deg of Sun; it is ignored as orb_sun_pos does.) */
START_TEST(test_sun_meeus)
{
    double r[3], ref[3], d;

    orb_sun_pos(2448908.5, 0.0, r);
    radec(198.378121, -7.783817, ref);
    ck_assert_msg(sep_deg(r, ref) < 0.01, "Sun off by %.4f deg",
                  sep_deg(r, ref));
    d = sqrt(r[0] * r[0] + r[1] * r[1] + r[2] * r[2]) / ORB_AU_KM;
    ck_assert_double_eq_tol(d, 0.99760775, 2e-4);
    /* split dates give the same answer */
    orb_sun_pos(2448908.0, 0.5, ref);
    ck_assert_double_eq_tol(sep_deg(r, ref), 0, 1e-9);
}
END_TEST

/* Meeus Example 47.a: 1992 April 12.0 TD = JD 2448724.5: geocentric
 * lambda = 133.162655, beta = -3.229126 deg, distance 368409.7 km; RA
 * 134.688470, Dec 13.768368 deg (apparent). The low-precision series:
 * 0.3 deg in longitude, 0.2 in latitude, 0.2 Earth radii in distance. */
START_TEST(test_moon_meeus)
{
    double lam, bet, dist, r[3], ref[3];

    orb_moon_ecliptic(2448724.5, 0.0, &lam, &bet, &dist);
    ck_assert_double_eq_tol(lam, 133.162655, 0.3);
    ck_assert_double_eq_tol(bet, -3.229126, 0.2);
    ck_assert_double_eq_tol(dist, 368409.7, 0.2 * 6378.14);
    orb_moon_pos(2448724.5, 0.0, r);
    radec(134.688470, 13.768368, ref);
    ck_assert_msg(sep_deg(r, ref) < 0.3, "Moon off by %.3f deg",
                  sep_deg(r, ref));
}
END_TEST

/* The Moon's geocentric light time stays within 1.19-1.36 s and swings
 * through most of that range over January 2024 (perigee 362,266 km on
 * the 13th = 1.208 s; apogee 405,777 km on the 1st and 29th = 1.354 s). */
START_TEST(test_moon_light_time_month)
{
    double lo = 9, hi = 0;
    for (int h = 0; h < 31 * 24; h++) {
        double jd, fr, r[3], lt;
        orb_frames_unix_to_jd(1704067200.0 + h * 3600.0, &jd, &fr);
        orb_moon_pos(jd, fr, r);
        lt = orb_geo_light_time(sqrt(r[0] * r[0] + r[1] * r[1] +
                                     r[2] * r[2]));
        lo = fmin(lo, lt);
        hi = fmax(hi, lt);
    }
    ck_assert_msg(lo >= 1.19 && hi <= 1.36, "light time %.4f - %.4f s", lo,
                  hi);
    ck_assert_msg(lo < 1.22 && hi > 1.34, "light time %.4f - %.4f s", lo,
                  hi);
}
END_TEST

/* ------------------------------------------------------------ eclipse */

START_TEST(test_eclipse_fraction)
{
    double sun[3] = { ORB_AU_KM, 0, 0 }, r[3], prev = -1;
    double R = ORB_EARTH_R_KM, a = R + 550;

    r[0] = a;
    r[1] = r[2] = 0;
    ck_assert_double_eq(orb_eclipse_fraction(r, sun), 1.0);
    r[0] = -a;
    ck_assert_double_eq(orb_eclipse_fraction(r, sun), 0.0);
    /* Across the shadow edge at 550 km behind the Earth: 0 -> 1 without
     * going back, the penumbra ~30 km wide (a tan(0.53 deg) ~ 64 km of
     * half-angle sum... less the Earth-Sun geometry): and f = 1/2 within
     * a few km of the cylinder, as it is half way through. */
    for (double y = R - 60; y <= R + 60; y += 0.5) {
        double f;
        r[0] = -a;
        r[1] = y;
        f = orb_eclipse_fraction(r, sun);
        ck_assert(f >= prev - 1e-12);
        prev = f;
        if (y < R - 40)
            ck_assert_double_eq(f, 0.0);
        if (y > R + 40)
            ck_assert_double_eq(f, 1.0);
    }
    r[0] = -a;
    r[1] = R;
    ck_assert_double_eq_tol(orb_eclipse_fraction(r, sun), 0.5, 0.05);
    /* Far beyond the umbra's apex (1.38e6 km) the Earth is inside the
     * Sun's disc: annular, 1 - (ae/as)^2 */
    r[0] = -3e6;
    r[1] = 0;
    {
        double ae = asin(R / 3e6), as = asin(696000.0 / (ORB_AU_KM + 3e6));
        ck_assert_double_eq_tol(orb_eclipse_fraction(r, sun),
                                1 - ae * ae / (as * as), 1e-6);
    }
}
END_TEST

/* A circular orbit at 550 km whose plane holds the Sun (beta = 0): the
 * fraction of it in shadow is asin(R/a)/pi = 0.3719 for a cylinder; the
 * conical model's mid-penumbra (f = 1/2) lies on that cylinder to a few
 * km. */
START_TEST(test_eclipse_beta0_geometric)
{
    double jd, fr, sun[3], s[3], n[3], q[3], a = ORB_EARTH_R_KM + 550;
    double d, expect = asin(ORB_EARTH_R_KM / a) / PI;
    long in = 0, umb = 0, tot = 3600000;

    orb_frames_unix_to_jd(T0, &jd, &fr);
    orb_sun_pos(jd, fr, sun);
    d = sqrt(sun[0] * sun[0] + sun[1] * sun[1] + sun[2] * sun[2]);
    for (int k = 0; k < 3; k++)
        s[k] = sun[k] / d;
    /* q: a unit vector perpendicular to s; the orbit is cos s + sin q */
    n[0] = 0;
    n[1] = 0;
    n[2] = 1;
    q[0] = n[1] * s[2] - n[2] * s[1];
    q[1] = n[2] * s[0] - n[0] * s[2];
    q[2] = n[0] * s[1] - n[1] * s[0];
    d = sqrt(q[0] * q[0] + q[1] * q[1] + q[2] * q[2]);
    for (int k = 0; k < 3; k++)
        q[k] /= d;
    for (long i = 0; i < tot; i++) {
        double th = 2 * PI * (double)i / (double)tot, r[3], f;
        for (int k = 0; k < 3; k++)
            r[k] = a * (cos(th) * s[k] + sin(th) * q[k]);
        f = orb_eclipse_fraction(r, sun);
        in += f < 0.5;
        umb += f == 0.0;
    }
    ck_assert_double_eq_tol((double)in / tot, expect, 0.005);
    ck_assert_double_eq_tol(expect, 0.372, 0.0005);
    ck_assert((double)umb / tot < (double)in / tot);
}
END_TEST

/* The same through SGP4 and the event search: a polar orbit (no nodal
 * precession) with its node at the Sun's right ascension, 550 km. Each
 * full passage through the shadow, averaged between umbra and shadow,
 * lasts asin(R/a)/pi of the period; the fraction function agrees with
 * the edges to well under a second. */
START_TEST(test_eclipse_beta0_sgp4)
{
    orb_sat s;
    orb_eclipse ev[40];
    size_t n;
    double jd, fr, sun[3], ra, period, a = 0;

    orb_frames_unix_to_jd(EPOCH_UNIX, &jd, &fr);
    orb_sun_pos(jd, fr, sun);
    ra = atan2(sun[1], sun[0]) / DEG;
    if (ra < 0)
        ra += 360;
    mk_sat(&s, 90001, 90.0, ra, 0.0, 0.0, 0.0, n_at(550));
    period = 86400.0 / n_at(550);
    for (int i = 0; i < 360; i++) {   /* mean radius over one orbit */
        double r[3], v[3];
        ck_assert_int_eq(orb_sgp4_prop_unix(&s, T0 + period * i / 360.0, r,
                                            v), 0);
        a += sqrt(r[0] * r[0] + r[1] * r[1] + r[2] * r[2]) / 360.0;
    }
    ck_assert_int_eq(orb_eclipse_find(&s, T0, 86400, 0, 0, ev, 40, &n, NULL,
                                      err, sizeof err), 0);
    ck_assert_uint_ge(n, 14);
    for (size_t i = 0; i < n; i++) {
        const orb_eclipse *e = &ev[i];
        double mid, r[3], v[3], sj, sf;
        if (e->clip_start || e->clip_end)
            continue;
        ck_assert(!isnan(e->umb_start));
        ck_assert(e->start < e->umb_start && e->umb_start < e->umb_end &&
                  e->umb_end < e->end);
        mid = 0.5 * ((e->end - e->start) + (e->umb_end - e->umb_start));
        ck_assert_double_eq_tol(mid / period,
                                asin(ORB_EARTH_R_KM / a) / PI, 0.005);
        /* edges: lit 50 ms before the shadow, not lit 50 ms after */
        ck_assert_int_eq(orb_sgp4_prop_unix(&s, e->start - 0.05, r, v), 0);
        orb_frames_unix_to_jd(e->start - 0.05, &sj, &sf);
        orb_sun_pos(sj, sf, sun);
        ck_assert_double_eq(orb_eclipse_fraction(r, sun), 1.0);
        ck_assert_int_eq(orb_sgp4_prop_unix(&s, e->start + 0.05, r, v), 0);
        ck_assert(orb_eclipse_fraction(r, sun) < 1.0);
        ck_assert_int_eq(orb_sgp4_prop_unix(&s, e->umb_start + 0.05, r, v),
                         0);
        ck_assert_double_eq(orb_eclipse_fraction(r, sun), 0.0);
        ck_assert_int_eq(orb_sgp4_prop_unix(&s, e->umb_start - 0.05, r, v),
                         0);
        ck_assert(orb_eclipse_fraction(r, sun) > 0.0);
    }
}
END_TEST

/* ------------------------------------------------------------- search */

typedef struct fctx {
    double w;                    /* angular frequency */
    double c;                    /* threshold */
    long n;
} fctx;

/* f = sin(w t) - c, f' = w cos(w t): |f''| <= w^2, |f'| <= w. */
static int f_eval(void *vc, double t, orb_search_pt *p)
{
    fctx *c = vc;
    c->n++;
    p->f = sin(c->w * t) - c->c;
    p->d = c->w * cos(c->w * t);
    return 0;
}

static double f_bound2(void *vc, const orb_search_pt *a,
                       const orb_search_pt *b)
{
    (void)a;
    (void)b;
    return ((fctx *)vc)->w * ((fctx *)vc)->w;
}

static double f_bound1(void *vc, const orb_search_pt *a,
                       const orb_search_pt *b)
{
    (void)a;
    (void)b;
    return ((fctx *)vc)->w;
}

/* Windows where sin(wt) > c, with c close to 1 so that each window is
 * far shorter than the sampling step: none may be missed, and each edge
 * is within tol of asin(c)/w (mod the period). */
START_TEST(test_search_short_windows)
{
    for (int smooth = 0; smooth < 2; smooth++) {
        fctx c = { 2 * PI / 5400.0, 0.9999, 0 };  /* 90-minute period */
        orb_search s;
        double step = 600, span = 86400, half = acos(c.c) / c.w;
        orb_search_pt a, b;

        memset(&s, 0, sizeof s);
        s.eval = f_eval;
        s.bound = smooth ? f_bound2 : f_bound1;
        s.ctx = &c;
        s.smooth = smooth;
        s.tol = 1e-4;
        s.floor = 0.01;
        f_eval(&c, 0, &a);
        a.t = 0;
        for (double t = step; t <= span; t += step) {
            f_eval(&c, t, &b);
            b.t = t;
            ck_assert_int_eq(orb_search_interval(&s, &a, &b), 0);
            a = b;
        }
        /* windows of 2 * half = 76 s around each crest at 1350 + 5400 k */
        ck_assert_uint_eq(s.n, 32);
        for (size_t i = 0; i < s.n; i++) {
            double crest = 1350 + 5400 * (double)(i / 2);
            double want = s.up[i] ? crest - half : crest + half;
            ck_assert_int_eq(s.up[i], i % 2 == 0);
            ck_assert_msg(fabs(s.t[i] - want) < 2e-4, "smooth %d crossing "
                          "%zu at %.6f, want %.6f", smooth, i, s.t[i], want);
        }
        orb_search_free(&s);
    }
}
END_TEST

/* A crest that stops just short of the threshold is not a window, and a
 * threshold exactly met at a sample is not one either. */
START_TEST(test_search_near_miss)
{
    fctx c = { 2 * PI / 5400.0, 1.0 + 1e-9, 0 };
    orb_search s;
    orb_search_pt a, b;

    memset(&s, 0, sizeof s);
    s.eval = f_eval;
    s.bound = f_bound2;
    s.ctx = &c;
    s.smooth = 1;
    s.tol = 1e-4;
    s.floor = 0.01;
    f_eval(&c, 0, &a);
    a.t = 0;
    for (double t = 60; t <= 86400; t += 60) {
        f_eval(&c, t, &b);
        b.t = t;
        ck_assert_int_eq(orb_search_interval(&s, &a, &b), 0);
        a = b;
    }
    ck_assert_uint_eq(s.n, 0);
    ck_assert_msg(c.n < 20000, "%ld evaluations", c.n);
    orb_search_free(&s);
}
END_TEST

/* ------------------------------------------------------ station passes */

static void madrid(orb_station *st)
{
    ck_assert_int_eq(orb_contact_station_init(st, "madrid", 40.43, -4.25,
                                              800, 10, err, sizeof err), 0);
}

/* Every window of a 550 km, 53 deg orbit over Madrid in one day: the
 * elevation is at the mask at both ends (unless clipped), above it
 * inside, below it 0.1 s outside; the culmination is the highest point;
 * the light-time samples interpolate the true light time to 1 ms. */
START_TEST(test_passes_properties)
{
    orb_sat s;
    orb_station st;
    orb_contact_cfg c;
    orb_contact_list l;
    double prev_end = -1;
    int hi = 0;

    madrid(&st);
    mk_sat(&s, 90002, 53.0, 120.0, 0.0001, 90.0, 270.0, n_at(550));
    orb_contact_cfg_init(&c, T0, 86400);
    orb_contact_list_init(&l, 0, 0);
    ck_assert_int_eq(orb_contact_stations(&c, &s, 0, "leo", &st, 1, &l, err,
                                          sizeof err), 0);
    ck_assert_uint_eq(l.n_warn, 0);
    ck_assert_uint_ge(l.n_win, 3);
    ck_assert_uint_le(l.n_win, 8);
    for (size_t i = 0; i < l.n_win; i++) {
        const orb_window *w = &l.win[i];
        double rng, el;
        ck_assert_int_eq(w->kind, ORB_WIN_STATION);
        ck_assert(w->start > prev_end);
        ck_assert(w->end > w->start);
        prev_end = w->end;
        if (!w->clip_start) {
            ck_assert_double_eq_tol(elev(&s, &st, w->start, NULL), 10.0, 1e-3);
            ck_assert(elev(&s, &st, w->start - 0.1, NULL) < 10.0);
        }
        if (!w->clip_end) {
            ck_assert_double_eq_tol(elev(&s, &st, w->end, NULL), 10.0, 1e-3);
            ck_assert(elev(&s, &st, w->end + 0.1, NULL) < 10.0);
        }
        ck_assert(w->t_max >= w->start && w->t_max <= w->end);
        ck_assert_double_eq_tol(elev(&s, &st, w->t_max, NULL), w->max_el_deg,
                                1e-6);
        hi |= w->max_el_deg > 60;
        ck_assert_uint_ge(w->lt_n, 2);
        ck_assert_double_eq(l.lt[w->lt_first].t, w->start);
        ck_assert_double_eq(l.lt[w->lt_first + w->lt_n - 1].t, w->end);
        for (int k = 0; k <= 200; k++) {
            double t = w->start + (w->end - w->start) * k / 200.0;
            el = elev(&s, &st, t, &rng);
            ck_assert_msg(el >= 10.0 - 1e-3 && el <= w->max_el_deg + 1e-6,
                          "el %.4f at +%.1f s", el, t - w->start);
            ck_assert_msg(fabs(orb_contact_lt_at(&l, w, t) -
                               orb_geo_light_time(rng)) <= 1e-3,
                          "light time off by %.4f ms",
                          (orb_contact_lt_at(&l, w, t) -
                           orb_geo_light_time(rng)) * 1e3);
        }
        /* 550 km up: light time 1.83 ms straight up, ~5.9 ms at 10 deg */
        ck_assert(w->lt_min >= 1.8e-3 && w->lt_max <= 6.2e-3);
    }
    (void)hi;
    orb_contact_list_free(&l);
}
END_TEST

/* A satellite launched into a pass right over the station: the maximum
 * elevation is ~90 degrees and the light time there ~1.83 ms. The orbit
 * is chosen from the station's position at the epoch's sidereal time. */
START_TEST(test_zenith_pass)
{
    orb_sat s;
    orb_station st;
    orb_contact_cfg c;
    orb_contact_list l;
    double jd, fr, g, ra, best = 0, lt = 0;

    madrid(&st);
    /* At the epoch, the station is at right ascension gmst + lon. An
     * orbit whose node is there and whose argument of latitude there is
     * the station's latitude passes straight over it at the epoch, but
     * for the Earth's turn during the ascent: start 5 minutes early
     * (latitude 40.43 minus 19 deg of travel) on the same orbit. */
    orb_frames_unix_to_jd(EPOCH_UNIX, &jd, &fr);
    g = orb_frames_gmst(jd, fr) / DEG;
    ra = fmod(g - 4.25 + 360.0, 360.0);
    mk_sat(&s, 90003, 90.0, ra, 0.0, 0.0, 40.3, n_at(550));
    orb_contact_cfg_init(&c, EPOCH_UNIX - 900, 1800);
    orb_contact_list_init(&l, 0, 0);
    ck_assert_int_eq(orb_contact_stations(&c, &s, 0, NULL, &st, 1, &l, err,
                                          sizeof err), 0);
    for (size_t i = 0; i < l.n_win; i++)
        if (l.win[i].max_el_deg > best) {
            best = l.win[i].max_el_deg;
            lt = l.win[i].lt_min;
        }
    ck_assert_msg(best > 85, "max elevation %.2f", best);
    ck_assert_msg(lt > 1.78e-3 && lt < 1.9e-3, "light time %.4f ms",
                  lt * 1e3);
    orb_contact_list_free(&l);
}
END_TEST

/* plan_window conversion: one entry with the largest light time, or
 * sub-windows within tol whose delay bounds the light time from above by
 * at most tol, FIFO across boundaries, covering the window less at most
 * tol per boundary. */
START_TEST(test_plan_windows)
{
    orb_sat s;
    orb_station st;
    orb_contact_cfg c;
    orb_contact_list l;
    plan_window pw[256];
    size_t n;

    madrid(&st);
    mk_sat(&s, 90002, 53.0, 120.0, 0.0001, 90.0, 270.0, n_at(550));
    orb_contact_cfg_init(&c, T0, 86400);
    orb_contact_list_init(&l, 0, 0);
    ck_assert_int_eq(orb_contact_stations(&c, &s, 0, "leo", &st, 1, &l, err,
                                          sizeof err), 0);
    ck_assert_uint_ge(l.n_win, 1);
    for (size_t i = 0; i < l.n_win; i++) {
        const orb_window *w = &l.win[i];
        double covered = 0;
        ck_assert_int_eq(orb_contact_plan(&l, w, T0, 25e6, 0, pw, 256, &n),
                         0);
        ck_assert_uint_eq(n, 1);
        ck_assert_double_eq(pw[0].start, w->start - T0);
        ck_assert_double_eq(pw[0].end, w->end - T0);
        ck_assert_double_eq(pw[0].delay, w->lt_max);
        ck_assert_double_eq(pw[0].rate, 25e6);

        ck_assert_int_eq(orb_contact_plan(&l, w, T0, 25e6, 1e-3, pw, 256,
                                          &n), 0);
        ck_assert_uint_ge(n, w->lt_max - w->lt_min > 1e-3 ? 2 : 1);
        for (size_t k = 0; k < n; k++) {
            double lo = 1, hi = 0;
            ck_assert(pw[k].end > pw[k].start);
            covered += pw[k].end - pw[k].start;
            if (k) {
                ck_assert(pw[k].start >= pw[k - 1].end);
                /* FIFO: the first byte of k arrives no earlier than the
                 * last of k - 1 */
                ck_assert(pw[k].start + pw[k].delay >=
                          pw[k - 1].end + pw[k - 1].delay);
            }
            /* (times near 1.7e9 s resolve 2.4e-7 s: 1e-10 s of slack) */
            for (int q = 0; q <= 50; q++) {
                double t = T0 + pw[k].start +
                           (pw[k].end - pw[k].start) * q / 50.0;
                double x = orb_contact_lt_at(&l, w, t);
                lo = fmin(lo, x);
                hi = fmax(hi, x);
            }
            ck_assert(pw[k].delay >= hi - 1e-10);
            ck_assert_msg(pw[k].delay - lo <= 1e-3 + 1e-10,
                          "window %zu piece %zu: delay %.9f ms, least "
                          "light time %.9f ms", i, k, pw[k].delay * 1e3,
                          lo * 1e3);
        }
        ck_assert(covered >= (w->end - w->start) - 1e-3 * (double)n);
        if (n > 1)
            ck_assert_int_eq(orb_contact_plan(&l, w, T0, 25e6, 1e-3, pw, 1,
                                              &n), -E2BIG);
        ck_assert_int_eq(orb_contact_plan(&l, w, T0, 0, 0, pw, 1, &n),
                         -EINVAL);
    }
    orb_contact_list_free(&l);
}
END_TEST

/* ------------------------------------------------------------ warnings */

/* SL-14 DEB from SGP4-VER.TLE: decays (SGP4 error) within 440 minutes of
 * its epoch. The failure becomes a warning that names the satellite and
 * says what SGP4 said; windows before it stay and none holds a NaN. */
static const char *DECAY1 =
    "1 29141U 85108AA  06170.26783845  .99999999  00000-0  13519-0 0   718";
static const char *DECAY2 =
    "2 29141  82.4288 273.4882 0015848 277.2124  83.9133 15.93343074  6828";

START_TEST(test_decay_warning)
{
    orb_tle t;
    orb_sat s;
    orb_station st[2];
    orb_contact_cfg c;
    orb_contact_list l;
    orb_eclipse ev[40];
    size_t n;
    double tf;

    ck_assert_int_eq(orb_tle_parse(&t, "SL-14 DEB", DECAY1, DECAY2, 0, err,
                                   sizeof err), 0);
    ck_assert_int_eq(orb_sgp4_init(&s, &t, err, sizeof err), 0);
    madrid(&st[0]);
    ck_assert_int_eq(orb_contact_station_init(&st[1], "equator", 0, 0, 0, 0,
                                              err, sizeof err), 0);
    orb_contact_cfg_init(&c, t.epoch_unix, 86400);
    orb_contact_list_init(&l, 0, 0);
    ck_assert_int_eq(orb_contact_stations(&c, &s, 7, t.name, st, 2, &l, err,
                                          sizeof err), 0);
    ck_assert_uint_ge(l.n_warn, 1);
    ck_assert_int_eq(l.warn[0].sat, 7);
    ck_assert_int_gt(l.warn[0].code, 0);
    ck_assert_msg(strstr(l.warn[0].msg, "SL-14 DEB") &&
                  strstr(l.warn[0].msg, "SGP4 error") &&
                  strstr(l.warn[0].msg,
                         orb_sgp4_strerror(l.warn[0].code)),
                  "%s", l.warn[0].msg);
    ck_assert(l.warn[0].t > t.epoch_unix &&
              l.warn[0].t < t.epoch_unix + 440 * 60.0 + 600);
    for (size_t i = 0; i < l.n_win; i++) {
        const orb_window *w = &l.win[i];
        ck_assert(isfinite(w->start) && isfinite(w->end) &&
                  isfinite(w->max_el_deg) && isfinite(w->lt_min) &&
                  isfinite(w->lt_max));
        ck_assert(w->end <= l.warn[0].t);
    }
    ck_assert_int_eq(orb_eclipse_find(&s, t.epoch_unix, 86400, 0, 0, ev, 40,
                                      &n, &tf, err, sizeof err), LG_EMODEL);
    ck_assert_msg(strstr(err, "SGP4 error"), "%s", err);
    ck_assert(isfinite(tf));
    for (size_t i = 0; i < n; i++)
        ck_assert(ev[i].end <= tf);
    orb_contact_list_free(&l);
}
END_TEST

/* ISS elements of 2008 used for 2024: a warning naming it. */
START_TEST(test_epoch_warning)
{
    orb_tle t;
    orb_sat s;
    orb_station st;
    orb_contact_cfg c;
    orb_contact_list l;
    const char *l1 = "1 25544U 98067A   08264.51782528 -.00002182  00000-0 "
                     "-11606-4 0  2927";
    const char *l2 = "2 25544  51.6416 247.4627 0006703 130.5360 325.0288 "
                     "15.72125391563537";

    ck_assert_int_eq(orb_tle_parse(&t, "ISS (ZARYA)", l1, l2, 0, err,
                                   sizeof err), 0);
    ck_assert_int_eq(orb_sgp4_init(&s, &t, err, sizeof err), 0);
    madrid(&st);
    orb_contact_cfg_init(&c, t.epoch_unix + 40 * 86400.0, 3600);
    orb_contact_list_init(&l, 0, 0);
    ck_assert_int_eq(orb_contact_stations(&c, &s, 0, t.name, &st, 1, &l, err,
                                          sizeof err), 0);
    ck_assert_uint_ge(l.n_warn, 1);
    ck_assert_int_eq(l.warn[0].code, 0);
    ck_assert_msg(strstr(l.warn[0].msg, "ISS (ZARYA)") &&
                  strstr(l.warn[0].msg, "days from the span"), "%s",
                  l.warn[0].msg);
    orb_contact_list_free(&l);
    /* within 30 days: no warning */
    orb_contact_cfg_init(&c, t.epoch_unix + 10 * 86400.0, 3600);
    orb_contact_list_init(&l, 0, 0);
    ck_assert_int_eq(orb_contact_stations(&c, &s, 0, t.name, &st, 1, &l, err,
                                          sizeof err), 0);
    ck_assert_uint_eq(l.n_warn, 0);
    orb_contact_list_free(&l);
}
END_TEST

START_TEST(test_cfg_errors)
{
    orb_sat s;
    orb_station st;
    orb_contact_cfg c;
    orb_contact_list l;

    madrid(&st);
    mk_sat(&s, 90002, 53.0, 120.0, 0.0001, 90.0, 270.0, n_at(550));
    orb_contact_list_init(&l, 0, 0);
    orb_contact_cfg_init(&c, T0, 0);
    ck_assert_int_eq(orb_contact_stations(&c, &s, 0, NULL, &st, 1, &l, err,
                                          sizeof err), -EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "span"));
    orb_contact_cfg_init(&c, T0, 500 * 86400.0);
    ck_assert_int_eq(orb_contact_stations(&c, &s, 0, NULL, &st, 1, &l, err,
                                          sizeof err), -EINVAL);
    orb_contact_cfg_init(&c, T0, 3600);
    c.dut1 = 2;
    ck_assert_int_eq(orb_contact_stations(&c, &s, 0, NULL, &st, 1, &l, err,
                                          sizeof err), -EINVAL);
    /* a list too small */
    orb_contact_list_free(&l);
    orb_contact_list_init(&l, 1, 0);
    orb_contact_cfg_init(&c, T0, 86400);
    ck_assert_int_eq(orb_contact_stations(&c, &s, 0, NULL, &st, 1, &l, err,
                                          sizeof err), -E2BIG);
    orb_contact_list_free(&l);
}
END_TEST

/* ---------------------------------------------------------------- ISL */

/* Three satellites on one circular 550 km orbit: 10 degrees apart they
 * always see each other (the chord passes 6900 km from the centre, clear
 * of 6478) at 1209 km; 90 degrees apart the chord passes 4900 km from the
 * centre: never. A 1000 km range limit removes the first pair too. */
START_TEST(test_isl)
{
    orb_sat s[3];
    orb_contact_cfg c;
    orb_contact_list l;
    const char *names[3] = { "a", "b", "c" };
    int ab = 0;

    mk_sat(&s[0], 90011, 53.0, 10.0, 0.0, 0.0, 0.0, n_at(550));
    mk_sat(&s[1], 90012, 53.0, 10.0, 0.0, 0.0, 10.0, n_at(550));
    mk_sat(&s[2], 90013, 53.0, 10.0, 0.0, 0.0, 90.0, n_at(550));
    orb_contact_cfg_init(&c, T0, 6 * 3600.0);
    orb_contact_list_init(&l, 0, 0);
    ck_assert_int_eq(orb_contact_isl(&c, s, names, 3, &l, err, sizeof err),
                     0);
    for (size_t i = 0; i < l.n_win; i++) {
        const orb_window *w = &l.win[i];
        ck_assert_int_eq(w->kind, ORB_WIN_ISL);
        ck_assert(w->a < w->b);
        if (w->a == 0 && w->b == 1) {
            ab++;
            ck_assert(w->clip_start && w->clip_end);
            ck_assert_double_eq(w->start, T0);
            ck_assert_double_eq(w->end, T0 + 6 * 3600.0);
            /* 2 (6928) sin 5 deg = 1208 km: 4.03 ms */
            ck_assert_double_eq_tol(w->lt_min, 4.03e-3, 0.05e-3);
            ck_assert_double_eq_tol(w->lt_max, 4.03e-3, 0.05e-3);
        }
        /* b and c are 80 deg apart: chord 5180 km from the centre,
         * blocked as well */
        ck_assert(!(w->a == 0 && w->b == 2));
    }
    ck_assert_int_eq(ab, 1);
    orb_contact_list_free(&l);
    c.isl_max_km = 1000;
    orb_contact_list_init(&l, 0, 0);
    ck_assert_int_eq(orb_contact_isl(&c, s, names, 3, &l, err, sizeof err),
                     0);
    ck_assert_uint_eq(l.n_win, 0);
    orb_contact_list_free(&l);
}
END_TEST

/* Crossing orbits: the windows open and close where the line of sight
 * grazes the 6478 km sphere (or the range limit), to the tolerance. */
START_TEST(test_isl_edges)
{
    orb_sat s[2];
    orb_contact_cfg c;
    orb_contact_list l;

    mk_sat(&s[0], 90021, 53.0, 10.0, 0.0, 0.0, 0.0, n_at(550));
    mk_sat(&s[1], 90022, 97.6, 100.0, 0.0, 0.0, 30.0, n_at(700));
    orb_contact_cfg_init(&c, T0, 86400);
    c.isl_max_km = 5000;
    orb_contact_list_init(&l, 0, 0);
    ck_assert_int_eq(orb_contact_isl(&c, s, NULL, 2, &l, err, sizeof err),
                     0);
    ck_assert_uint_ge(l.n_win, 5);
    for (size_t i = 0; i < l.n_win; i++) {
        const orb_window *w = &l.win[i];
        for (int e = 0; e < 2; e++) {
            double t = e ? w->end : w->start, a[3], b[3], v[3];
            double d[3], dd, sp, p[3], clear, range, g;
            if ((e == 0 && w->clip_start) || (e == 1 && w->clip_end))
                continue;
            ck_assert_int_eq(orb_sgp4_prop_unix(&s[0], t, a, v), 0);
            ck_assert_int_eq(orb_sgp4_prop_unix(&s[1], t, b, v), 0);
            for (int k = 0; k < 3; k++)
                d[k] = b[k] - a[k];
            dd = d[0] * d[0] + d[1] * d[1] + d[2] * d[2];
            sp = -(a[0] * d[0] + a[1] * d[1] + a[2] * d[2]) / dd;
            sp = sp < 0 ? 0 : sp > 1 ? 1 : sp;
            for (int k = 0; k < 3; k++)
                p[k] = a[k] + sp * d[k];
            clear = sqrt(p[0] * p[0] + p[1] * p[1] + p[2] * p[2]) -
                    (ORB_EARTH_R_KM + ORB_CONTACT_ISL_MARGIN_KM);
            range = 5000 - sqrt(dd);
            g = fmin(clear, range);
            /* |G'| <= 16 km/s, tolerance 0.1 ms: |G| < 2 m */
            ck_assert_msg(fabs(g) < 0.01, "edge G = %.5f km", g);
        }
    }
    orb_contact_list_free(&l);
}
END_TEST

/* --------------------------------------------------------------- Moon */

/* The Moon over Madrid for three days in March 2024: one window a day,
 * hours long, light time 1.17-1.37 s (geocentric 1.19-1.36 less or more
 * an Earth radius), elevation at the mask at each unclipped edge. */
START_TEST(test_moon_windows)
{
    orb_station st;
    orb_contact_cfg c;
    orb_contact_list l;

    ck_assert_int_eq(orb_contact_station_init(&st, "madrid", 40.43, -4.25,
                                              800, 5, err, sizeof err), 0);
    orb_contact_cfg_init(&c, T0, 3 * 86400.0);
    orb_contact_list_init(&l, 0, 0);
    ck_assert_int_eq(orb_contact_moon(&c, &st, 1, &l, err, sizeof err), 0);
    ck_assert_uint_ge(l.n_win, 3);
    ck_assert_uint_le(l.n_win, 4);
    for (size_t i = 0; i < l.n_win; i++) {
        const orb_window *w = &l.win[i];
        ck_assert_int_eq(w->kind, ORB_WIN_MOON);
        ck_assert_int_eq(w->a, -1);
        ck_assert(w->lt_min > 1.17 && w->lt_max < 1.37);
        ck_assert(w->max_el_deg > 5 && w->max_el_deg < 90);
        if (!w->clip_start && !w->clip_end)
            ck_assert(w->end - w->start > 4 * 3600.0);
        if (!w->clip_start) {
            double jd, fr, r[3], e[3];
            orb_geo_look lk;
            orb_frames_unix_to_jd(w->start, &jd, &fr);
            orb_moon_pos(jd, fr, r);
            orb_frames_teme_to_ecef(r, NULL, jd, fr, e, NULL);
            orb_geo_look_at(&st.site, e, NULL, &lk);
            ck_assert_double_eq_tol(lk.el_deg, 5.0, 1e-4);
        }
    }
    orb_contact_list_free(&l);
}
END_TEST

/* ---------------------------------------------------------------- main */

int main(void)
{
    Suite *s = suite_create("orbit");
    TCase *geo = tcase_create("geo");
    TCase *sun = tcase_create("sun");
    TCase *ecl = tcase_create("eclipse");
    TCase *srch = tcase_create("search");
    TCase *con = tcase_create("contact");
    SRunner *sr;
    int failed;

    tcase_add_test(geo, test_geo_ecef);
    tcase_add_test(geo, test_geo_bad);
    tcase_add_test(sun, test_sun_meeus);
    tcase_add_test(sun, test_moon_meeus);
    tcase_add_test(sun, test_moon_light_time_month);
    tcase_add_test(ecl, test_eclipse_fraction);
    tcase_add_test(ecl, test_eclipse_beta0_geometric);
    tcase_add_test(ecl, test_eclipse_beta0_sgp4);
    tcase_add_test(srch, test_search_short_windows);
    tcase_add_test(srch, test_search_near_miss);
    tcase_add_test(con, test_passes_properties);
    tcase_add_test(con, test_zenith_pass);
    tcase_add_test(con, test_plan_windows);
    tcase_add_test(con, test_decay_warning);
    tcase_add_test(con, test_epoch_warning);
    tcase_add_test(con, test_cfg_errors);
    tcase_add_test(con, test_isl);
    tcase_add_test(con, test_isl_edges);
    tcase_add_test(con, test_moon_windows);
    tcase_set_timeout(ecl, 60);
    tcase_set_timeout(con, 60);
    suite_add_tcase(s, geo);
    suite_add_tcase(s, sun);
    suite_add_tcase(s, ecl);
    suite_add_tcase(s, srch);
    suite_add_tcase(s, con);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
