/*
 * units.h - numbers with unit suffixes ("4ms", "2G", "16G"), read
 * strictly (no hex, inf or nan) and written back in the shortest form
 * that reads back exactly. Tables end with a NULL suffix; a value is
 * number * mul / div in the table's base unit.
 */
#ifndef LG_UNITS_H
#define LG_UNITS_H

#include <stddef.h>

typedef struct lg_unit {
    const char *sfx;
    double mul, div;             /* value = number * mul / div */
    int print;                   /* the printer may choose this suffix */
} lg_unit;

extern const lg_unit lg_units_dur[];    /* seconds: us ms s min h d */
extern const lg_unit lg_units_dec[];    /* decimal: k M G T P */
extern const lg_unit lg_units_bin[];    /* binary (memory): K M G T */
extern const lg_unit lg_units_plain[];  /* no suffix */

/* A strict decimal number at *pp ([+-] only if sign_ok); advances *pp.
 * 0 or -1. */
int lg_units_scan_num(const char **pp, double *v, int sign_ok);
/* NUMBER[SUFFIX] at *pp, the suffix being the letters after it. */
int lg_units_scan(const char **pp, const lg_unit *u, int sign_ok, double *v);
/* All of s as NUMBER[SUFFIX]. 0 or -1. */
int lg_units_parse(const char *s, const lg_unit *u, int sign_ok, double *v);
/* Shortest text that strtod reads back as x. */
const char *lg_units_fmt_g(char *buf, size_t n, double x);
/* x as NUMBER SUFFIX with the largest printable unit that reads back
 * exactly, else the shortest exact number followed by base. */
const char *lg_units_fmt(char *buf, size_t n, double x, const lg_unit *tab,
                         const char *base);

#endif
