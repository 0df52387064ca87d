/*
 * geo.c - WGS-84 geodetic conversions, the local horizon basis, look
 * angles and light time. No globals; thread-safe.
 */
#include "geo.h"

#include <errno.h>
#include <math.h>

#include "lgerr.h"

#define PI 3.14159265358979323846
#define DEG (PI / 180.0)
#define E2 (ORB_WGS84_F * (2.0 - ORB_WGS84_F))  /* first eccentricity^2 */

void orb_geo_to_ecef(double lat_deg, double lon_deg, double alt_m,
                     double r[3])
{
    double sp = sin(lat_deg * DEG), cp = cos(lat_deg * DEG);
    double sl = sin(lon_deg * DEG), cl = cos(lon_deg * DEG);
    double n = ORB_WGS84_A_KM / sqrt(1.0 - E2 * sp * sp); /* prime vertical */
    double h = alt_m / 1000.0;

    r[0] = (n + h) * cp * cl;
    r[1] = (n + h) * cp * sl;
    r[2] = (n * (1.0 - E2) + h) * sp;
}

void orb_geo_from_ecef(const double r[3], double *lat_deg, double *lon_deg,
                       double *alt_m)
{
    double p = hypot(r[0], r[1]);
    double lat, n = ORB_WGS84_A_KM, h = 0;

    /* Fixed-point iteration on latitude (Heiskanen & Moritz); it converges
     * geometrically with ratio ~e^2, so 20 rounds reach rounding. Near the
     * poles p ~ 0 and the z form of the height is used instead. */
    lat = atan2(r[2], p * (1.0 - E2));
    for (int i = 0; i < 20; i++) {
        double sp = sin(lat), prev = lat;
        n = ORB_WGS84_A_KM / sqrt(1.0 - E2 * sp * sp);
        lat = atan2(r[2] + E2 * n * sp, p);
        if (fabs(lat - prev) < 1e-14)
            break;
    }
    if (fabs(lat) < PI / 4)
        h = p / cos(lat) - n;
    else
        h = r[2] / sin(lat) - n * (1.0 - E2);
    *lat_deg = lat / DEG;
    *lon_deg = atan2(r[1], r[0]) / DEG;
    *alt_m = h * 1000.0;
}

int orb_geo_site_init(orb_geo_site *s, double lat_deg, double lon_deg,
                      double alt_m, char *err, size_t errlen)
{
    double sp, cp, sl, cl;

    if (!(lat_deg >= -90.0 && lat_deg <= 90.0))
        return lg_errf(err, errlen, -EINVAL,
                       "latitude %g is not in [-90, 90] degrees", lat_deg);
    if (!(lon_deg >= -180.0 && lon_deg <= 360.0))
        return lg_errf(err, errlen, -EINVAL,
                       "longitude %g is not in [-180, 360] degrees", lon_deg);
    if (!(alt_m >= -12000.0 && alt_m <= 1e5))
        return lg_errf(err, errlen, -EINVAL,
                       "height %g m is not in [-12000, 100000] m", alt_m);
    s->lat_deg = lat_deg;
    s->lon_deg = lon_deg;
    s->alt_m = alt_m;
    orb_geo_to_ecef(lat_deg, lon_deg, alt_m, s->r);
    sp = sin(lat_deg * DEG);
    cp = cos(lat_deg * DEG);
    sl = sin(lon_deg * DEG);
    cl = cos(lon_deg * DEG);
    s->up[0] = cp * cl;
    s->up[1] = cp * sl;
    s->up[2] = sp;
    s->east[0] = -sl;
    s->east[1] = cl;
    s->east[2] = 0.0;
    s->north[0] = -sp * cl;
    s->north[1] = -sp * sl;
    s->north[2] = cp;
    return 0;
}

void orb_geo_look_at(const orb_geo_site *s, const double r[3],
                     const double v[3], orb_geo_look *out)
{
    double d[3] = { r[0] - s->r[0], r[1] - s->r[1], r[2] - s->r[2] };
    double u = d[0] * s->up[0] + d[1] * s->up[1] + d[2] * s->up[2];
    double e = d[0] * s->east[0] + d[1] * s->east[1] + d[2] * s->east[2];
    double n = d[0] * s->north[0] + d[1] * s->north[1] + d[2] * s->north[2];
    double rng = sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]);
    double az;

    /* atan2 keeps full precision near the zenith, where asin(u/range)
     * would lose half the digits. */
    out->el_deg = atan2(u, hypot(e, n)) / DEG;
    az = atan2(e, n) / DEG;
    if (az < 0)
        az += 360.0;
    if (az >= 360.0)
        az = 0.0;
    out->az_deg = az;
    out->range_km = rng;
    out->range_rate_km_s = 0.0;
    if (v && rng > 0)
        out->range_rate_km_s = (d[0] * v[0] + d[1] * v[1] + d[2] * v[2]) / rng;
}

double orb_geo_light_time(double range_km)
{
    return range_km / ORB_C_KM_S;
}
