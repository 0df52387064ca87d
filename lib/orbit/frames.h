/*
 * frames.h - sidereal time and the TEME to Earth-fixed rotation.
 *
 * Owns the step from SGP4's output frame, TEME (true equator, mean
 * equinox), to an Earth-fixed frame: a rotation about z by the Greenwich
 * mean sidereal time of the IAU-82 model, as Vallado's gstime computes it
 * (AIAA 2006-6753, appendix C). Polar motion is ignored, so the result is
 * the pseudo Earth-fixed frame (PEF), within about 15 m of ITRF; that is
 * well below what a TLE is good for. UT1 - UTC (under 0.9 s) is left to
 * the caller: pass UTC and accept up to ~0.4 km of along-track rotation
 * at the equator, or pass UT1.
 *
 * Julian dates travel as two doubles (jd + frac), as in the SGP4 code:
 * one double near 2.45e6 days resolves only ~40 us, which is ~3e-9 rad
 * of Earth rotation. Any split works; functions add the small parts
 * first. Pure functions, thread-safe.
 */
#ifndef ORB_FRAMES_H
#define ORB_FRAMES_H

#define ORB_JD_UNIX_EPOCH 2440587.5          /* JD of 1970-01-01 00:00 */
#define ORB_EARTH_ROT_RAD_S 7.29211514670698e-5 /* Vallado's teme2ecef */

/* Greenwich mean sidereal angle (IAU-82) in radians, [0, 2 pi), at the
 * UT1 Julian date jd + frac. With frac == 0 it is bit for bit gstime(jd)
 * of the reference code, which sgp4.c relies on. */
double orb_frames_gmst(double jd, double frac);

/* Rotate a TEME position (km) and velocity (km/s) at UT1 Julian date
 * jd + frac into the Earth-fixed frame (PEF). v_teme and v_ecef may be
 * NULL together to convert a position only. Outputs may alias inputs. */
void orb_frames_teme_to_ecef(const double r_teme[3], const double v_teme[3],
                             double jd, double frac, double r_ecef[3],
                             double v_ecef[3]);

/* Unix seconds to a split Julian date: *jd is a whole day ending in .5,
 * *frac in [0, 1). */
void orb_frames_unix_to_jd(double unix_s, double *jd, double *frac);

#endif
