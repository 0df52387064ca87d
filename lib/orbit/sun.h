/*
 * sun.h - low-precision analytic positions of the Sun and the Moon.
 *
 * Owns the "low precision" formulas of the Astronomical Almanac (Sun:
 * section C, ~0.01 deg in 1950-2050; Moon: section D, ~0.3 deg in
 * longitude, 0.2 deg in latitude, ~0.2 Earth radii in distance), as also
 * given in Montenbruck & Pfleger, "Astronomy on the Personal Computer".
 * Positions are geocentric, in km, on the mean equator and equinox of
 * date. That is the TEME frame of SGP4 (true equator, mean equinox) up to
 * the nutation of the pole, at most ~9" (0.0025 deg) in obliquity and
 * ~7" across it, which is below the formulas' own error and is neglected.
 * Also neglected: the difference between UT and TT (~69 s: 0.0008 deg of
 * Sun, 0.01 deg of Moon), annual aberration (20", included in the Sun's
 * mean longitude, i.e. these are apparent directions) and light time.
 *
 * Times are UTC Julian dates split as jd + frac (any split). Pure
 * functions; thread-safe.
 */
#ifndef ORB_SUN_H
#define ORB_SUN_H

#define ORB_AU_KM 149597870.7       /* astronomical unit (IAU 2012) */
#define ORB_AA_EARTH_R_KM 6378.14   /* Earth radius the Moon's parallax
                                       formula is expressed in */

/* Geocentric Sun position (km), mean equator and equinox of date. */
void orb_sun_pos(double jd, double frac, double r_km[3]);

/* Geocentric Moon position (km), mean equator and equinox of date. */
void orb_moon_pos(double jd, double frac, double r_km[3]);

/* The Moon's geocentric ecliptic longitude and latitude (degrees, of
 * date) and distance (km) as the formulas give them, for tests. */
void orb_moon_ecliptic(double jd, double frac, double *lon_deg,
                       double *lat_deg, double *dist_km);

#endif
