/*
 * lgtime.h - ISO 8601 UTC timestamps, read and written the same way by
 * the topology parser, the daemon and every CLI verb. Pure functions.
 */
#ifndef LG_TIME_H
#define LG_TIME_H

#include <stddef.h>

/* YYYY-MM-DD[(T| )HH:MM[:SS[.frac]]][Z|+00:00] in UTC to Unix seconds.
 * Impossible dates (2026-02-30) are refused. 0 or -1. */
int lg_time_parse_iso(const char *s, double *out);

/* Unix seconds as YYYY-MM-DDTHH:MM:SS[.frac]Z with the shortest fraction
 * that reads back exactly; "none" if the time cannot be represented. */
const char *lg_time_fmt_iso(char *buf, size_t n, double unix_s);

/* Unix seconds as YYYY-MM-DDTHH:MM:SS.fffZ with a fixed number of
 * decimals (0-3), rounded; "-" if not representable. For tables. */
const char *lg_time_fmt_fixed(char *buf, size_t n, double unix_s,
                              int decimals);

#endif
