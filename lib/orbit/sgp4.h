/*
 * sgp4.h - the SGP4/SDP4 orbit propagator for two-line element sets.
 *
 * Owns the propagation of TLE mean elements to a position and velocity in
 * the TEME frame (true equator, mean equinox of date; see frames.h to go
 * on to Earth-fixed coordinates). The algorithm is the one in Vallado,
 * Crawford, Hujsak and Kelso, "Revisiting Spacetrack Report #3", AIAA
 * 2006-6753, in its "improved" operation mode ('i'), with WGS-72
 * constants, which are the constants the TLEs were fitted with. Orbits
 * with periods of 225 minutes or more use the deep-space (SDP4) lunar-
 * solar and resonance terms. It reproduces the paper's verification file
 * (tcppver.out) to 2e-7 km and 2e-7 km/s; see tests/check_sgp4.c.
 *
 * Results at a given time do not depend on earlier calls. But a call does
 * update the state: the deep-space resonance integrator keeps its last
 * step so that the next call need not integrate from the epoch again.
 * So an orb_sat may be used by one thread at a time; copies are
 * independent (the struct holds no pointers).
 *
 * Errors: orb_sgp4_init returns 0 or a negative code with a message;
 * the propagation calls return 0 or a positive SGP4 code, ORB_SGP4_E*
 * below (the numbering is the paper's), described by orb_sgp4_strerror,
 * or -ERANGE for a time they refuse to propagate to.
 */
#ifndef ORB_SGP4_H
#define ORB_SGP4_H

#include <stddef.h>

#include "tle.h"

/* SGP4 error codes, as numbered in AIAA 2006-6753 (returned positive). */
#define ORB_SGP4_EMEANECC 1  /* mean eccentricity out of [-0.001, 1) */
#define ORB_SGP4_EMEANMOT 2  /* mean motion <= 0 */
#define ORB_SGP4_EPERTECC 3  /* perturbed eccentricity out of [0, 1] */
#define ORB_SGP4_ESEMILAT 4  /* semi-latus rectum < 0 */
#define ORB_SGP4_ESUBORB  5  /* epoch elements sub-orbital: the paper
                                dropped this check, never returned */
#define ORB_SGP4_EDECAYED 6  /* radius below the Earth's: decayed; the
                                position and velocity are still filled */

/* Furthest time from the epoch a call accepts, in minutes (~190 years).
 * It bounds the deep-space resonance integrator, which takes one step per
 * 720 minutes: a time in milliseconds mistaken for seconds must fail, not
 * spin for hours. */
#define ORB_SGP4_MAX_TSINCE_MIN 1.0e8

/* Deep-space lunar-solar periodic coefficients (dscom -> dpper). */
typedef struct orb_sgp4_lsper {
    double e3, ee2, se2, se3;              /* eccentricity */
    double si2, si3, xi2, xi3;             /* inclination */
    double sl2, sl3, sl4, xl2, xl3, xl4;   /* mean longitude */
    double sgh2, sgh3, sgh4;               /* perigee, solar */
    double xgh2, xgh3, xgh4;               /* perigee, lunar */
    double sh2, sh3, xh2, xh3;             /* node */
    double peo, pinco, plo, pgho, pho;     /* values at epoch (all 0) */
    double zmos, zmol;                     /* sun, moon mean anomaly at epoch */
} orb_sgp4_lsper;

/* Deep-space secular rates and geopotential resonance (dsinit -> dspace). */
typedef struct orb_sgp4_res {
    int irez;                    /* 0 none, 1 one-day, 2 half-day orbit */
    double dedt, didt, dmdt;     /* lunar-solar secular rates, per min */
    double domdt, dnodt;
    double d2201, d2211, d3210, d3222, d4410; /* half-day resonance */
    double d4422, d5220, d5232, d5421, d5433;
    double del1, del2, del3;     /* one-day resonance */
    double xfact, xlamo;         /* resonance rate offset, phase at epoch */
    double atime, xli, xni;      /* integrator state: last step's time,
                                    phase, mean motion (updated by calls) */
} orb_sgp4_res;

/* An initialized satellite. Angles in radians, time in minutes; lengths
 * in Earth radii unless marked. Filled by orb_sgp4_init only. */
typedef struct orb_sat {
    int satnum;                  /* catalog number */
    double jdepoch, jdepochF;    /* epoch as a split Julian date, UTC */
    double epoch_unix;           /* the epoch in Unix seconds, UTC */
    double epoch;                /* days since 1949 Dec 31 00:00 UTC */
    double gsto;                 /* Greenwich sidereal angle at epoch */
    int error;                   /* last SGP4 code, 0 = ok */
    int deep;                    /* uses the deep-space (SDP4) terms */
    int isimp;                   /* simplified drag (low perigee or deep) */

    /* mean elements at epoch (for deep space, as left by dpper at init) */
    double bstar, ecco, inclo, nodeo, argpo, mo;
    double no_kozai;             /* mean motion as in the TLE, rad/min */
    double no_unkozai;           /* Brouwer mean motion, rad/min */
    double a, altp, alta;        /* semi-major axis, perigee and apogee
                                    heights (earth radii above surface) */

    /* near-earth secular, drag and long-period coefficients */
    double mdot, argpdot, nodedot, nodecf;
    double cc1, cc4, cc5, d2, d3, d4, delmo, eta, omgcof, sinmao, xmcof;
    double t2cof, t3cof, t4cof, t5cof;
    double con41, x1mth2, x7thm1, xlcof, aycof;

    orb_sgp4_lsper ls;           /* deep space only */
    orb_sgp4_res res;            /* deep space only */
} orb_sat;

/* Initialize s from a parsed TLE and propagate it to its epoch. Returns 0;
 * -EINVAL if the elements cannot be used (eccentricity outside [0, 1),
 * mean motion not > 0); LG_EMODEL if the propagation at the epoch already
 * fails, in which case s is still filled and s->error holds the code. */
int orb_sgp4_init(orb_sat *s, const orb_tle *t, char *err, size_t errlen);

/* Position r (km) and velocity v (km/s) in TEME at tsince minutes from the
 * epoch (negative is fine). Returns 0 or an ORB_SGP4_E* code; r and v are
 * NaN for codes 1 to 4 and filled for ORB_SGP4_EDECAYED. Returns -ERANGE
 * (r, v NaN) if tsince is not finite or beyond ORB_SGP4_MAX_TSINCE_MIN. */
int orb_sgp4_prop(orb_sat *s, double tsince_min, double r[3], double v[3]);

/* The same at a UTC split Julian date jd + jdfrac (any split works; the
 * difference from the epoch is formed before the parts are added). */
int orb_sgp4_prop_jd(orb_sat *s, double jd, double jdfrac, double r[3],
                     double v[3]);

/* The same at a UTC time in Unix seconds (leap seconds ignored, as POSIX
 * time does; the TLE epoch is UTC). */
int orb_sgp4_prop_unix(orb_sat *s, double unix_s, double r[3], double v[3]);

/* What an ORB_SGP4_E* code (or 0) means, as a static string. */
const char *orb_sgp4_strerror(int code);

#endif
