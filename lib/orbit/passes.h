/*
 * passes.h - contact windows from orbits: passes of satellites over
 * ground stations, inter-satellite line of sight, the Moon above a
 * station; one-way light time along each window; and the conversion of
 * a window into the planner's plan_window entries.
 *
 * Owns the window search and the light-time sampling. The method, for a
 * satellite over a station: sample the span every `step` seconds (1/100
 * of the orbit, 10-300 s: 57 s in LEO), and between samples search for
 * sign changes of F(t) = rho.up - |rho| sin(mask), which has the sign of
 * elevation - mask (rho: station to satellite, Earth-fixed). F' comes
 * from the satellite's velocity and |F''| <= A (1 + |sin mask|) +
 * |sin mask| V^2 / rho_min, with A and V the largest Earth-fixed
 * acceleration and speed the orbit allows. With that bound orb_search
 * (search.h) proves that an interval holds no pass or splits it, so no
 * pass longer than 10 ms is missed whatever the step (the step sets only
 * the cost), and rise and set come from bracketed Newton to `root_tol`
 * (default 0.1 ms). The culmination is the zero of d(sin el)/dt, found by
 * Brent's method to 1 ms. ISL and eclipse edges use the same search with
 * a Lipschitz bound (no window or gap longer than 0.5 s is missed).
 *
 * Light time along a window is kept as piecewise-linear samples (t, lt),
 * accurate to `lt_tol` (default 1 ms) against the model: a segment of
 * length h is accepted when |range''| h^2 / 8 <= c lt_tol, with |range''|
 * bounded by A + V^2 / range_min (inertial A and V of both ends), and
 * split otherwise. Samples include the window's ends, which are exact.
 * The model itself: SGP4 positions (km-level errors growing ~1-3 km a
 * day from the TLE epoch), the station at rest on WGS-84, UT1 = UTC +
 * dut1, polar motion ignored, straight-line range (no light-time
 * iteration: < 1 us for LEO, ~4 us for the Moon) and, for the Moon, the
 * Almanac's low-precision series (~0.3 deg, ~0.2 Earth radii = 4 ms).
 *
 * Times are Unix seconds (UTC). Satellites are identified by their index
 * in the caller's array; windows and light-time samples go into an
 * orb_contact_list bounded by its max counts. Propagation failures
 * (decay, eccentricity out of range) do not fail the call: they become
 * warnings naming the satellite, with the SGP4 message, and that
 * satellite's windows stop at the last good sample. A TLE epoch more than
 * epoch_warn_days from the span also gets a warning.
 *
 * Thread safety: calls are independent given distinct orb_sat objects
 * (propagation updates the deep-space integrator state) and distinct
 * lists; stations are read only. orb_contact_stations handles one
 * satellite so that callers can spread satellites over threads.
 */
#ifndef ORB_CONTACT_H
#define ORB_CONTACT_H

#include <stddef.h>

#include "geo.h"
#include "sgp4.h"
#include "topology.h"

#define ORB_CONTACT_NAME_MAX 48           /* = PLAN_NAME_MAX */
#define ORB_CONTACT_MAX_SPAN_S (400 * 86400.0)
#define ORB_CONTACT_MAX_STATIONS 4096
#define ORB_CONTACT_MAX_WINDOWS 10000000  /* default and cap of a list */
#define ORB_CONTACT_MAX_LT 100000000      /* light-time samples, ditto */
#define ORB_CONTACT_MAX_WARN 10000        /* warnings kept (all counted) */
#define ORB_CONTACT_ISL_MARGIN_KM 100.0   /* atmosphere above the radius */
#define ORB_CONTACT_ISL_MAX_SAMPLES 4000000 /* satellites x samples kept
                                             for the ISL search */

typedef struct orb_station {
    char name[ORB_CONTACT_NAME_MAX];  /* as given, for messages */
    double mask_deg;                  /* elevation mask, [-10, 90] */
    orb_geo_site site;                /* position and horizon basis */
} orb_station;

enum orb_win_kind {
    ORB_WIN_STATION = 0,              /* satellite a above station b's mask */
    ORB_WIN_ISL = 1,                  /* satellites a < b see each other */
    ORB_WIN_MOON = 2,                 /* the Moon (a = -1) above station b */
};

typedef struct orb_lt {
    double t;                         /* Unix s */
    double lt;                        /* one-way light time, s */
} orb_lt;

typedef struct orb_window {
    enum orb_win_kind kind;
    int a, b;                         /* see enum orb_win_kind */
    double start, end;                /* Unix s, start < end */
    int clip_start;                   /* 1: open at the span start */
    int clip_end;                     /* 1: open at the span end (or at the
                                         last good sample) */
    double t_max;                     /* culmination (NaN for ISL) */
    double max_el_deg;                /* elevation then (NaN for ISL) */
    double lt_min, lt_max;            /* light time over the samples, s */
    size_t lt_first;                  /* its samples: list lt[lt_first .. */
    size_t lt_n;                      /*   lt_first + lt_n), >= 2 */
} orb_window;

typedef struct orb_warning {
    int sat;                          /* satellite index, -1 if none */
    int code;                         /* SGP4 code (> 0); 0: epoch age;
                                         < 0: search failure (errno) */
    double t;                         /* Unix s of the failure, or NaN */
    char msg[256];                    /* "NAME: ...", one line */
} orb_warning;

typedef struct orb_contact_list {
    orb_window *win;                  /* windows, in the order found */
    size_t n_win, cap_win, max_win;
    orb_lt *lt;                       /* light-time samples of all windows */
    size_t n_lt, cap_lt, max_lt;
    orb_warning *warn;                /* the first ORB_CONTACT_MAX_WARN */
    size_t n_warn;                    /* all warnings, counted */
    size_t cap_warn;
} orb_contact_list;

typedef struct orb_contact_cfg {
    double from;                      /* span start, Unix s (UTC) */
    double span;                      /* s, (0, ORB_CONTACT_MAX_SPAN_S] */
    double step;                      /* first sampling step, s; 0: from
                                         each orbit (orb_contact_step) */
    double dut1;                      /* UT1 - UTC, s (|dut1| < 1) */
    double root_tol;                  /* window edge tolerance, s */
    double lt_tol;                    /* light-time sampling tolerance, s */
    double isl_max_km;                /* ISL range limit, km; 0: none */
    double epoch_warn_days;           /* warn beyond this TLE age */
} orb_contact_cfg;

/* Defaults: step 0, dut1 0, root_tol 1e-4 s, lt_tol 1e-3 s, no ISL range
 * limit, epoch_warn_days 30. */
void orb_contact_cfg_init(orb_contact_cfg *c, double from, double span);

/* A station; mask in [-10, 90] degrees, position as orb_geo_site_init.
 * name is truncated to ORB_CONTACT_NAME_MAX - 1 bytes. -EINVAL with a
 * message naming the station otherwise. */
int orb_contact_station_init(orb_station *st, const char *name,
                             double lat_deg, double lon_deg, double alt_m,
                             double mask_deg, char *err, size_t errlen);

/* The default first sampling step of a satellite: 1/100 of its period,
 * kept in [10, 300] s. */
double orb_contact_step(const orb_sat *s);

/* An empty list holding at most max_win windows and max_lt light-time
 * samples (0 or above the caps: the caps). */
void orb_contact_list_init(orb_contact_list *l, size_t max_win,
                           size_t max_lt);
void orb_contact_list_free(orb_contact_list *l);

/* Windows of satellite sat (index isat, name for messages, may be NULL)
 * over each of the nst stations, appended to l. Returns 0 (propagation
 * problems become warnings in l); -EINVAL for a bad configuration;
 * -E2BIG when l is full; -ENOMEM; messages in err. */
int orb_contact_stations(const orb_contact_cfg *c, orb_sat *sat, int isat,
                         const char *name, const orb_station *st, int nst,
                         orb_contact_list *l, char *err, size_t errlen);

/* Inter-satellite windows of every pair of the nsat satellites (names
 * may be NULL): the line of sight clears a sphere of radius
 * ORB_EARTH_R_KM + ORB_CONTACT_ISL_MARGIN_KM and, if c->isl_max_km > 0,
 * the range is at most that. Computed in TEME (no Earth rotation).
 * Returns as orb_contact_stations; -E2BIG also when nsat x samples
 * exceeds ORB_CONTACT_ISL_MAX_SAMPLES. */
int orb_contact_isl(const orb_contact_cfg *c, orb_sat *sats,
                    const char *const *names, int nsat, orb_contact_list *l,
                    char *err, size_t errlen);

/* Windows of the Moon above each station's mask (orb_moon_pos). */
int orb_contact_moon(const orb_contact_cfg *c, const orb_station *st,
                     int nst, orb_contact_list *l, char *err, size_t errlen);

/* Sort the windows by start time, then kind, a, b (samples stay put). */
void orb_contact_sort(orb_contact_list *l);

/* Light time of window w at t (clamped to the window), interpolated. */
double orb_contact_lt_at(const orb_contact_list *l, const orb_window *w,
                         double t);

/* Window w as plan_window entries of one direction of its link, times in
 * s after epoch_unix, rate in bytes/s (> 0).
 *  - tol <= 0: one entry, delay = the largest light-time sample (the
 *    window's maximum, to lt_tol; exact for passes, whose maximum is at
 *    an end).
 *  - tol > 0: consecutive sub-windows over each of which the light time
 *    varies by at most tol; delay = its maximum there, so it overstates
 *    by at most tol. When the delay steps down between two sub-windows,
 *    the second starts later by the step, so that sending later never
 *    arrives earlier (FIFO, see plan_link_fifo): at most tol of contact
 *    is given up per boundary.
 * Up to max entries go to out; *n gets how many the window needs.
 * Returns 0, -E2BIG when *n > max, -EINVAL for a bad rate. */
int orb_contact_plan(const orb_contact_list *l, const orb_window *w,
                     double epoch_unix, double rate, double tol,
                     plan_window *out, size_t max, size_t *n);

#endif
