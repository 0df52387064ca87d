/*
 * frames.c - GMST (IAU-82) and the TEME -> pseudo Earth-fixed rotation.
 *
 * The GMST polynomial is evaluated exactly as in the reference gstime,
 * operation for operation, so that SGP4's deep-space initialization (which
 * takes the sidereal angle at epoch from it) matches the verification
 * output; only the time argument is formed from a split Julian date.
 * No globals; thread-safe.
 */
#include "frames.h"

#include <math.h>

#define TWOPI (2.0 * 3.14159265358979323846)
#define DEG2RAD (3.14159265358979323846 / 180.0)
#define JD_J2000 2451545.0
#define SECONDS_PER_DAY 86400.0

double orb_frames_gmst(double jd, double frac)
{
    /* jd - J2000 is exact for any date of interest (Sterbenz), so the
     * fraction is added to a number of ~1e4 days, not ~2.4e6. */
    double tut1 = ((jd - JD_J2000) + frac) / 36525.0;
    double temp;

    /* Seconds of sidereal time: the IAU-82 series, with 876600 h of
     * rotation per Julian century folded into the linear term. */
    temp = -6.2e-6 * tut1 * tut1 * tut1 + 0.093104 * tut1 * tut1 +
           (876600.0 * 3600 + 8640184.812866) * tut1 + 67310.54841;
    /* 360 degrees per 86400 s is 1/240 degree per second. */
    temp = fmod(temp * DEG2RAD / 240.0, TWOPI);
    if (temp < 0.0)
        temp += TWOPI;
    return temp;
}

void orb_frames_teme_to_ecef(const double r_teme[3], const double v_teme[3],
                             double jd, double frac, double r_ecef[3],
                             double v_ecef[3])
{
    double g = orb_frames_gmst(jd, frac);
    double c = cos(g), s = sin(g);
    double r[3], v[3];

    /* PEF = R3(gmst) TEME: the frame turns with the Earth, so points
     * appear rotated backwards by the sidereal angle. */
    r[0] = c * r_teme[0] + s * r_teme[1];
    r[1] = -s * r_teme[0] + c * r_teme[1];
    r[2] = r_teme[2];
    if (v_teme && v_ecef) {
        /* Rotated velocity less the frame's own rotation, omega x r. */
        v[0] = c * v_teme[0] + s * v_teme[1] + ORB_EARTH_ROT_RAD_S * r[1];
        v[1] = -s * v_teme[0] + c * v_teme[1] - ORB_EARTH_ROT_RAD_S * r[0];
        v[2] = v_teme[2];
        v_ecef[0] = v[0];
        v_ecef[1] = v[1];
        v_ecef[2] = v[2];
    }
    r_ecef[0] = r[0];
    r_ecef[1] = r[1];
    r_ecef[2] = r[2];
}

void orb_frames_unix_to_jd(double unix_s, double *jd, double *frac)
{
    double days = floor(unix_s / SECONDS_PER_DAY);

    *jd = ORB_JD_UNIX_EPOCH + days;
    *frac = (unix_s - days * SECONDS_PER_DAY) / SECONDS_PER_DAY;
    /* Rounding can give exactly 1.0 for the last instant of a day. */
    if (*frac >= 1.0) {
        *jd += 1.0;
        *frac -= 1.0;
    }
}
