/*
 * units.c - numbers with unit suffixes, read strictly and written back in
 * the shortest form that reads back exactly. Shared by the topology
 * format (lagrange-topology(5)) and lagranged.conf(5). Pure functions.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "units.h"

/* Seconds. Sub-second units divide so that "4ms" is exactly 0.004. */
const lg_unit lg_units_dur[] = {
    { "d", 86400, 1, 1 }, { "h", 3600, 1, 1 }, { "min", 60, 1, 1 },
    { "s", 1, 1, 1 }, { "ms", 1, 1e3, 1 }, { "us", 1, 1e6, 1 },
    { "", 1, 1, 0 }, { NULL, 0, 0, 0 },
};
/* Decimal multiples: bit/s, FLOP/s, bytes/s, watts. */
const lg_unit lg_units_dec[] = {
    { "P", 1e15, 1, 1 }, { "T", 1e12, 1, 1 }, { "G", 1e9, 1, 1 },
    { "M", 1e6, 1, 1 }, { "k", 1e3, 1, 1 }, { "K", 1e3, 1, 0 },
    { "", 1, 1, 1 }, { NULL, 0, 0, 0 },
};
/* Binary multiples: memory. */
const lg_unit lg_units_bin[] = {
    { "T", 1099511627776.0, 1, 1 }, { "G", 1073741824.0, 1, 1 },
    { "M", 1048576.0, 1, 1 }, { "K", 1024, 1, 1 }, { "k", 1024, 1, 0 },
    { "", 1, 1, 1 }, { NULL, 0, 0, 0 },
};
/* Plain numbers (fractions, scale factors). */
const lg_unit lg_units_plain[] = { { "", 1, 1, 1 }, { NULL, 0, 0, 0 } };


/* A strict decimal number at *pp: [+-]digits[.digits][e[+-]digits]. No
 * hex, inf or nan, which strtod alone would take. */
int lg_units_scan_num(const char **pp, double *v, int sign_ok)
{
    const char *p = *pp, *s = *pp;
    char buf[64];
    int digits = 0;
    if (*p == '+' || *p == '-') {
        if (!sign_ok)
            return -1;
        p++;
    }
    for (; isdigit((unsigned char)*p); p++)
        digits++;
    if (*p == '.')
        for (p++; isdigit((unsigned char)*p); p++)
            digits++;
    if (!digits)
        return -1;
    if ((*p == 'e' || *p == 'E') &&
        (isdigit((unsigned char)p[1]) ||
         ((p[1] == '+' || p[1] == '-') && isdigit((unsigned char)p[2])))) {
        p += 2;
        while (isdigit((unsigned char)*p))
            p++;
    }
    if ((size_t)(p - s) >= sizeof buf)
        return -1;
    memcpy(buf, s, (size_t)(p - s));
    buf[p - s] = '\0';
    *v = strtod(buf, NULL);
    if (!isfinite(*v))
        return -1;
    *pp = p;
    return 0;
}

/* NUMBER[SUFFIX] at *pp; the suffix is the run of letters after it. */
int lg_units_scan(const char **pp, const lg_unit *u, int sign_ok, double *v)
{
    const char *p = *pp, *q;
    double x;
    size_t n;
    if (lg_units_scan_num(&p, &x, sign_ok) < 0)
        return -1;
    for (q = p; isalpha((unsigned char)*q); q++)
        ;
    n = (size_t)(q - p);
    for (; u->sfx; u++)
        if (strlen(u->sfx) == n && !strncmp(u->sfx, p, n)) {
            x = x * u->mul / u->div;
            if (!isfinite(x))
                return -1;
            *v = x;
            *pp = q;
            return 0;
        }
    return -1;
}

int lg_units_parse(const char *s, const lg_unit *u, int sign_ok, double *v)
{
    const char *p = s;
    return lg_units_scan(&p, u, sign_ok, v) < 0 || *p ? -1 : 0;
}

/* Shortest text that strtod reads back as x: integers plainly, else the
 * first %.Ng that round-trips. */
const char *lg_units_fmt_g(char *buf, size_t n, double x)
{
    if (x == 0) {
        snprintf(buf, n, "0");
    } else if (x == floor(x) && fabs(x) < 1e15) {
        snprintf(buf, n, "%.0f", x);
    } else {
        for (int p = 1; p <= 17; p++) {
            snprintf(buf, n, "%.*g", p, x);
            if (strtod(buf, NULL) == x)
                break;
        }
    }
    return buf;
}

/* x (in the table's base unit) as NUMBER SUFFIX: the largest unit whose
 * short form (at most 6 digits, no exponent) parses back to exactly x;
 * else the shortest exact number followed by `base`. */
const char *lg_units_fmt(char *buf, size_t n, double x, const lg_unit *tab,
                            const char *base)
{
    char num[40];
    if (x == 0) {
        snprintf(buf, n, "0%s", base);
        return buf;
    }
    for (const lg_unit *u = tab; u->sfx; u++) {
        if (!u->print || fabs(x) < u->mul / u->div)
            continue;
        for (int p = 1; p <= 6; p++) {
            double back;
            snprintf(num, sizeof num, "%.*g", p, x * u->div / u->mul);
            if (strchr(num, 'e'))
                continue;
            snprintf(buf, n, "%s%s", num, u->sfx);
            if (lg_units_parse(buf, tab, 1, &back) == 0 && back == x)
                return buf;
        }
    }
    lg_units_fmt_g(num, sizeof num, x);
    snprintf(buf, n, "%s%s", num, base);
    return buf;
}

