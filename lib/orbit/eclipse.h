/*
 * eclipse.h - the Earth's shadow: how much of the Sun a satellite sees,
 * and when it enters and leaves the penumbra and the umbra.
 *
 * Owns the conical shadow model of a spherical Earth (radius 6378.137 km)
 * and a spherical Sun (radius 696000 km), as in Montenbruck & Gill,
 * "Satellite Orbits", 3.4.2: seen from the satellite, the Sun's disc
 * (apparent radius a_s) and the Earth's (a_e) are circles theta apart;
 * the illuminated fraction is 1 minus the share of the Sun's disc the
 * Earth covers. Umbra: the Earth covers the whole Sun (fraction 0);
 * penumbra: part of it (0 < fraction < 1). Neglected: the atmosphere
 * (refraction, ~20 km of extra shadow height), the Earth's flattening
 * (up to 21 km), the Moon's shadow, and the light time from the Sun.
 * The Sun's position is orb_sun_pos (~0.01 deg).
 *
 * Shadow edges are the zeros of theta - (a_s + a_e) (penumbra) and
 * theta - (a_e - a_s) (umbra), found with orb_search under a bound on
 * how fast they move (the satellite's angular rate about the Earth's
 * centre plus the rate of change of a_e), so no eclipse longer than half
 * a second is missed, however grazing, and edges are found to `tol`.
 *
 * Functions are thread-safe given distinct orb_sat (propagation updates
 * the deep-space integrator state of the satellite).
 */
#ifndef ORB_ECLIPSE_H
#define ORB_ECLIPSE_H

#include <stddef.h>

#include "sgp4.h"

#define ORB_EARTH_R_KM 6378.137      /* shadow-casting Earth radius */
#define ORB_SUN_R_KM 696000.0        /* solar radius */

/* One passage through the Earth's shadow, times in Unix seconds (UTC). */
typedef struct orb_eclipse {
    double start, end;           /* in shadow (fraction < 1): [start, end) */
    double umb_start, umb_end;   /* in umbra inside it; NaN if none */
    int clip_start;              /* 1: already in shadow at the span start */
    int clip_end;                /* 1: still in shadow at the span end */
} orb_eclipse;

/* Illuminated fraction of the solar disc, in [0, 1], for a satellite at
 * r_sat and the Sun at r_sun (km, the same Earth-centred frame). */
double orb_eclipse_fraction(const double r_sat[3], const double r_sun[3]);

/* The eclipses of satellite s over [from, from + span] (Unix s, span in
 * (0, 400 days]). step: first sampling step in s (0: 1/50 of the orbit,
 * 10 s to 300 s; the bound makes any step safe, this one is cheapest); tol: edge tolerance in s (0: 1 ms). At most max events
 * go to ev; *n gets how many were stored. Returns 0; -EINVAL for bad
 * arguments; -E2BIG when more than max were found (the first max are
 * kept); LG_EMODEL when SGP4 fails within the span ("SGP4 error 6 at
 * 2024-03-01T12:00:00Z: ..."), with the events before the failure stored
 * and *t_fail (if not NULL) set to the first failing sample time; -ENOMEM.
 */
int orb_eclipse_find(orb_sat *s, double from, double span, double step,
                     double tol, orb_eclipse *ev, size_t max, size_t *n,
                     double *t_fail, char *err, size_t errlen);

#endif
