/*
 * geo.h - ground sites on the WGS-84 ellipsoid and what they see: the
 * Earth-fixed position of a site, the topocentric elevation, azimuth,
 * range and range rate of a target given in the same Earth-fixed frame,
 * and one-way light time.
 *
 * Owns the geodetic <-> Earth-fixed conversion (WGS-84: a = 6378.137 km,
 * f = 1/298.257223563) and the local east-north-up basis. "Up" is the
 * ellipsoid normal (geodetic latitude), as antenna pointing and skyfield's
 * altaz use; no refraction. The Earth-fixed frame is the one
 * orb_frames_teme_to_ecef produces (PEF; polar motion ignored).
 *
 * Pure functions on caller storage; thread-safe.
 */
#ifndef ORB_GEO_H
#define ORB_GEO_H

#include <stddef.h>

#define ORB_WGS84_A_KM 6378.137             /* equatorial radius */
#define ORB_WGS84_F (1.0 / 298.257223563)   /* flattening */
#define ORB_C_KM_S 299792.458               /* speed of light */

typedef struct orb_geo_site {
    double lat_deg, lon_deg, alt_m;   /* geodetic, as given */
    double r[3];                      /* Earth-fixed position, km */
    double up[3];                     /* ellipsoid normal, unit */
    double east[3];                   /* local east, unit */
    double north[3];                  /* local north, unit */
} orb_geo_site;

/* What a site sees of a target. */
typedef struct orb_geo_look {
    double el_deg;                    /* elevation above the horizon plane */
    double az_deg;                    /* azimuth from north through east,
                                         [0, 360) */
    double range_km;                  /* site to target */
    double range_rate_km_s;           /* d(range)/dt, 0 without velocity */
} orb_geo_look;

/* Earth-fixed position (km) of geodetic latitude/longitude (degrees) and
 * height above the ellipsoid (m). */
void orb_geo_to_ecef(double lat_deg, double lon_deg, double alt_m,
                     double r[3]);

/* The inverse: geodetic latitude, longitude (degrees, (-180, 180]) and
 * height (m) of an Earth-fixed position (km). Iterates to < 1e-12 rad. */
void orb_geo_from_ecef(const double r[3], double *lat_deg, double *lon_deg,
                       double *alt_m);

/* Fill s for a site. Latitude must be in [-90, 90], longitude in
 * [-180, 360], height in [-12000, 1e5] m (deep mine to high balloon);
 * otherwise -EINVAL with a message. */
int orb_geo_site_init(orb_geo_site *s, double lat_deg, double lon_deg,
                      double alt_m, char *err, size_t errlen);

/* Look from site s at a target at Earth-fixed r (km) moving at v (km/s,
 * Earth-fixed; may be NULL). */
void orb_geo_look_at(const orb_geo_site *s, const double r[3],
                     const double v[3], orb_geo_look *out);

/* One-way light time (s) over range_km: range / c. */
double orb_geo_light_time(double range_km);

#endif
