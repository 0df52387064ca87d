/*
 * tle.h - NORAD two-line element sets (TLEs): parsing, checking and epochs.
 *
 * Owns the fixed-column TLE text format as CelesTrak and Space-Track
 * publish it (https://celestrak.org/columns/v04n03/): an optional name
 * line ("line 0", with or without Space-Track's "0 " prefix) followed by
 * line 1 and line 2, 69 columns each. Columns are read exactly where the
 * format puts them; the separator columns must be blank, every numeric
 * field must be well formed, the catalog numbers of the two lines must
 * match, and the modulo-10 checksum in column 69 must hold unless
 * ORB_TLE_LENIENT is given. Anything after column 69 is ignored provided
 * it is separated by whitespace (the official SGP4 verification file puts
 * start/stop/step times there). Alpha-5 catalog numbers are not supported.
 *
 * Values are kept in TLE units (degrees, revolutions per day, B* in inverse
 * Earth radii); lib/orbit/sgp4.c converts them. The epoch is UTC, kept as a
 * split Julian date (whole part ending in .5, plus the exact fraction of
 * the day taken from the TLE's digits) and as Unix seconds.
 *
 * Errors: -EINVAL for malformed input, with a message naming the line and
 * the columns, e.g. "line 2 col 27-33: eccentricity ' 12345x' must be 7
 * digits with an implied leading decimal point"; -ENOMEM; -E2BIG when a
 * buffer holds more satellites than the set allows. No globals: all
 * functions are thread-safe; a set must not be shared while it is filled.
 */
#ifndef ORB_TLE_H
#define ORB_TLE_H

#include <stddef.h>

#define ORB_TLE_COLS 69               /* columns of lines 1 and 2 */
#define ORB_TLE_NAME_MAX 63           /* longest name line kept */
#define ORB_TLE_MAX_SATS 100000       /* default and hard cap of a set */

/* Flags for the parsers. */
#define ORB_TLE_LENIENT 0x1u          /* skip the column-69 checksum check
                                         (the column may then be absent) */

typedef struct orb_tle {
    char name[ORB_TLE_NAME_MAX + 1];  /* line 0 trimmed, "" if absent */
    char catnum[6];                   /* cols 3-7 without leading blanks */
    int satnum;                       /* the catalog number as an integer */
    char classification;              /* col 8: 'U', 'C', 'S' or ' ' */
    char intldes[9];                  /* cols 10-17 trimmed, may be "" */

    int epoch_year;                   /* four digits (57-99 -> 19xx) */
    double epoch_doy;                 /* day of year, 1.0 = Jan 1 00:00 */
    double epoch_jd;                  /* Julian date, whole part (x.5) */
    double epoch_jdfrac;              /* + this fraction of a day, [0, 1) */
    double epoch_unix;                /* the epoch in Unix seconds (UTC) */

    double ndot;                      /* dn/dt / 2, rev/day^2 (as printed) */
    double nddot;                     /* d2n/dt2 / 6, rev/day^3 (printed) */
    double bstar;                     /* drag term, 1/earth radii */
    int ephtype;                      /* col 63, blank read as 0 */
    int elnum;                        /* element set number, cols 65-68 */

    double incl_deg;                  /* inclination, [0, 180] */
    double raan_deg;                  /* right ascension of node, [0, 360] */
    double ecc;                       /* eccentricity, [0, 1) */
    double argp_deg;                  /* argument of perigee, [0, 360] */
    double mo_deg;                    /* mean anomaly, [0, 360] */
    double n_revday;                  /* mean motion, rev/day, > 0 */
    long revnum;                      /* revolution number at epoch */
} orb_tle;

/* Parse one TLE. name may be NULL (or "") for a two-line element set.
 * Lines are NUL-terminated and may end in "\n" or "\r\n". Messages number
 * the lines as the format does: "line 0" (name), "line 1", "line 2". */
int orb_tle_parse(orb_tle *t, const char *name, const char *line1,
                  const char *line2, unsigned flags, char *err,
                  size_t errlen);

/* Modulo-10 checksum of columns 1-68 (digits count their value, '-'
 * counts 1). len is the line's length; columns past it count nothing. */
int orb_tle_checksum(const char *line, size_t len);

/* A satellite of a buffer that could not be parsed. */
typedef struct orb_tle_bad {
    int lineno;                       /* its first line in the buffer, 1.. */
    char msg[192];                    /* why, naming buffer line and cols */
} orb_tle_bad;

/* Many TLEs read from one buffer (a CelesTrak or Space-Track file). */
typedef struct orb_tle_set {
    orb_tle *v;                       /* parsed satellites, in file order */
    size_t n;                         /* how many */
    size_t cap;                       /* allocated slots of v */
    size_t max;                       /* hard cap on n (and on nbad) */
    orb_tle_bad *bad;                 /* records that failed, first max */
    size_t nbad;                      /* how many failed, all counted */
    size_t badcap;                    /* allocated slots of bad */
} orb_tle_set;

/* Start an empty set holding at most max satellites (0 or anything above
 * ORB_TLE_MAX_SATS means ORB_TLE_MAX_SATS). */
void orb_tle_set_init(orb_tle_set *s, size_t max);

/* Parse buf[0..len) and append its satellites to s. Blank lines and lines
 * starting with '#' are skipped. A record is an optional name line, then
 * line 1 and line 2; a record that fails is listed in s->bad (its message
 * names the buffer line, e.g. "line 101 (TLE line 2) col 69: ...") and
 * parsing goes on at the next line that was not part of it. Returns 0
 * even if some records failed; -E2BIG (keeping the first s->max) when
 * there are more satellites than s->max; -ENOMEM. */
int orb_tle_set_parse(orb_tle_set *s, const char *buf, size_t len,
                      unsigned flags, char *err, size_t errlen);

/* Free the arrays of s and leave it empty (it can be parsed into again). */
void orb_tle_set_free(orb_tle_set *s);

#endif
