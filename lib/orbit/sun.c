/*
 * sun.c - the Astronomical Almanac's low-precision Sun and Moon series.
 * Each series is evaluated in degrees as printed in the Almanac, with
 * the time argument formed from a split Julian date so that the number of
 * days from J2000 keeps its sub-second digits. No globals; thread-safe.
 */
#include "sun.h"

#include <math.h>

#define PI 3.14159265358979323846
#define DEG (PI / 180.0)
#define JD_J2000 2451545.0

static double sind(double x) { return sin(x * DEG); }
static double cosd(double x) { return cos(x * DEG); }

/* Ecliptic (of date) to equatorial (of date) for longitude lam, latitude
 * bet (degrees), distance r and obliquity eps (degrees). */
static void ecl_to_eq(double lam, double bet, double r, double eps,
                      double out[3])
{
    double cb = cosd(bet), sb = sind(bet), cl = cosd(lam), sl = sind(lam);
    double ce = cosd(eps), se = sind(eps);

    out[0] = r * cb * cl;
    out[1] = r * (ce * cb * sl - se * sb);
    out[2] = r * (se * cb * sl + ce * sb);
}

void orb_sun_pos(double jd, double frac, double r_km[3])
{
    double n = (jd - JD_J2000) + frac;         /* days from J2000.0 */
    double L = fmod(280.460 + 0.9856474 * n, 360.0); /* mean longitude,
                                                  aberration included */
    double g = fmod(357.528 + 0.9856003 * n, 360.0); /* mean anomaly */
    double lam = L + 1.915 * sind(g) + 0.020 * sind(2 * g);
    double eps = 23.439 - 0.0000004 * n;
    double R = 1.00014 - 0.01671 * cosd(g) - 0.00014 * cosd(2 * g);

    ecl_to_eq(lam, 0.0, R * ORB_AU_KM, eps, r_km);
}

void orb_moon_ecliptic(double jd, double frac, double *lon_deg,
                       double *lat_deg, double *dist_km)
{
    double T = ((jd - JD_J2000) + frac) / 36525.0; /* Julian centuries */
    double lam, bet, par;

    /* The arguments grow by ~5e5 degrees per century; fmod before the
     * sine keeps their rounding at ~1e-10 degree. */
#define ARG(a, b) fmod((a) + (b) * T, 360.0)
    lam = ARG(218.32, 481267.881)
        + 6.29 * sind(ARG(135.0, 477198.87))
        - 1.27 * sind(ARG(259.3, -413335.36))
        + 0.66 * sind(ARG(235.7, 890534.22))
        + 0.21 * sind(ARG(269.9, 954397.74))
        - 0.19 * sind(ARG(357.5, 35999.05))
        - 0.11 * sind(ARG(186.5, 966404.03));
    bet = 5.13 * sind(ARG(93.3, 483202.02))
        + 0.28 * sind(ARG(228.2, 960400.89))
        - 0.28 * sind(ARG(318.3, 6003.15))
        - 0.17 * sind(ARG(217.6, -407332.21));
    par = 0.9508
        + 0.0518 * cosd(ARG(135.0, 477198.87))
        + 0.0095 * cosd(ARG(259.3, -413335.36))
        + 0.0078 * cosd(ARG(235.7, 890534.22))
        + 0.0028 * cosd(ARG(269.9, 954397.74));
#undef ARG
    lam = fmod(lam, 360.0);
    if (lam < 0)
        lam += 360.0;
    *lon_deg = lam;
    *lat_deg = bet;
    /* Horizontal parallax to distance: r = R_earth / sin(parallax). */
    *dist_km = ORB_AA_EARTH_R_KM / sind(par);
}

void orb_moon_pos(double jd, double frac, double r_km[3])
{
    double T = ((jd - JD_J2000) + frac) / 36525.0;
    double lam, bet, r;
    /* Mean obliquity of date (IAU 1980, linear term): the Almanac's
     * 0.9175 / 0.3978 are its cosine and sine rounded for 2000. */
    double eps = 23.439291 - 0.0130042 * T;

    orb_moon_ecliptic(jd, frac, &lam, &bet, &r);
    ecl_to_eq(lam, bet, r, eps, r_km);
}
