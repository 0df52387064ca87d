/*
 * search.h - all the sign changes of a scalar function of time between
 * two samples, with a proof that none was missed.
 *
 * Owns the event search that contact windows and eclipses share: given
 * f at the two ends of an interval and a bound on how fast f can move
 * inside it, either prove that f keeps its sign, or split the interval
 * and look again, or find the crossing by root finding. Two kinds of
 * bound are supported:
 *
 *  - smooth: the caller gives f and f' at every point and a bound B on
 *    |f''| over an interval. Then f lies above the lower parabolas
 *    f(a) + f'(a)(t-a) - B(t-a)^2/2 and f(b) - f'(b)(b-t) - B(b-t)^2/2
 *    (and below the upper ones), and keeping the sign is proven when the
 *    larger of the two lower (or the smaller of the two upper) parabolas
 *    stays clear of zero; a sign change is proven single when f' keeps
 *    its sign the same way. Crossings are found by Newton's method kept
 *    inside the bracket (rtsafe), usually in 2-4 evaluations.
 *  - Lipschitz: the caller gives only f and a bound L on |f'|; f keeps
 *    its sign on [a, b] when |f(a)| + |f(b)| > L (b - a). Crossings are
 *    found by Brent's method.
 *
 * Intervals that cannot be settled are split in two, down to `floor`
 * seconds: a window or gap shorter than that may go unreported, nothing
 * longer can. With a true bound the result does not depend on how coarse
 * the first samples are; the sampling step only sets the cost.
 *
 * "Positive" means f > 0; a crossing is "up" when f goes from <= 0 to
 * > 0. A crossing exactly at the right end of an interval belongs to
 * that interval, so consecutive intervals never report one twice.
 *
 * An orb_search is used by one thread at a time; the evaluation callback
 * may keep state in its context.
 */
#ifndef ORB_SEARCH_H
#define ORB_SEARCH_H

#include <stddef.h>

struct orb_sat;

typedef struct orb_search_pt {
    double t;                    /* time, s (any origin) */
    double f;                    /* the function */
    double d;                    /* its derivative (smooth searches) */
    double x;                    /* the caller's own (e.g. a range for
                                    its bound); carried, never read */
} orb_search_pt;

/* Evaluate f (and f' for smooth searches) at t into p (p->t = t).
 * Returns 0, or a nonzero code that stops the search and is returned. */
typedef int (*orb_search_eval_fn)(void *ctx, double t, orb_search_pt *p);

/* A bound over [a->t, b->t]: on |f''| (smooth) or on |f'| (Lipschitz). */
typedef double (*orb_search_bound_fn)(void *ctx, const orb_search_pt *a,
                                      const orb_search_pt *b);

typedef struct orb_search {
    orb_search_eval_fn eval;     /* the function */
    orb_search_bound_fn bound;   /* its bound, see above */
    void *ctx;                   /* passed to both */
    int smooth;                  /* 1: pt.d is f' and bound is on |f''| */
    double lip;                  /* smooth searches: a bound on |f'| for
                                    a cheap first test (0: none) */
    double tol;                  /* crossing time tolerance, s (> 0) */
    double floor;                /* shortest interval split, s (> 0) */
    long budget;                 /* most evaluations, 0: no limit */
    long evals;                  /* evaluations made so far */
    double *t;                   /* crossings found, in time order */
    signed char *up;             /* 1: f rose above 0, 0: fell to <= 0 */
    size_t n;                    /* how many */
    size_t cap;                  /* allocated slots */
    size_t max;                  /* hard cap on n (0: 1e7) */
} orb_search;

/* Set up s (callbacks, ctx, smooth, tol, floor, budget given) with no
 * crossings; keeps the arrays if s was used before. */
void orb_search_reset(orb_search *s);

/* Append the crossings of f strictly after a->t up to and including
 * b->t (a->t < b->t; a and b already evaluated). Returns 0, the code of a
 * failed evaluation, -ETIME when the evaluation budget is spent, -E2BIG
 * past max crossings, or -ENOMEM. */
int orb_search_interval(orb_search *s, const orb_search_pt *a,
                        const orb_search_pt *b);

/* Find the one crossing between a and b (pos(a) != pos(b)) with the
 * configured method, without recording it: *t is within tol of it.
 * Returns 0 or the code of a failed evaluation / -ETIME. */
int orb_search_root(orb_search *s, const orb_search_pt *a,
                    const orb_search_pt *b, double *t);

/* Free the crossing arrays. */
void orb_search_free(orb_search *s);

/* Kinematic limits of an SGP4 orbit, for the callers' bounds. From the
 * mean elements, widened by margins for SGP4's short-period terms (tens
 * of km) and for what the samples showed (decay, resonance). */
typedef struct orb_search_kin {
    double rmin, rmax;           /* geocentric radius, km */
    double vmax;                 /* inertial speed, km/s */
    double amax;                 /* inertial acceleration, km/s^2 */
} orb_search_kin;

/* Fill k for satellite s; rmin_seen / rmax_seen are the least and
 * greatest radius (km) of the positions sampled over the span (NaN if
 * none were). */
void orb_search_kin_sat(orb_search_kin *k, const struct orb_sat *s,
                        double rmin_seen, double rmax_seen);

#endif
