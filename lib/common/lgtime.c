/*
 * lgtime.c - ISO 8601 UTC timestamps (see lgtime.h).
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lgtime.h"

static int digits(const char *s, int n, int *v)
{
    *v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -1;
        *v = *v * 10 + (s[i] - '0');
    }
    return 0;
}

int lg_time_parse_iso(const char *s, double *out)
{
    struct tm tm = { 0 }, chk;
    int Y, M, D, h = 0, m = 0, sec = 0;
    double frac = 0;
    time_t tt;

    if (strlen(s) < 10 || s[4] != '-' || s[7] != '-' || digits(s, 4, &Y) ||
        digits(s + 5, 2, &M) || digits(s + 8, 2, &D))
        return -1;
    s += 10;
    if (*s == 'T' || *s == ' ') {
        if (strlen(s) < 6 || s[3] != ':' || digits(s + 1, 2, &h) ||
            digits(s + 4, 2, &m))
            return -1;
        s += 6;
        if (*s == ':') {
            if (digits(s + 1, 2, &sec))
                return -1;
            s += 3;
            if (*s == '.') {
                const char *p = s + 1;
                char fb[32];
                while (isdigit((unsigned char)*p))
                    p++;
                if (p == s + 1 || (size_t)(p - s) >= sizeof fb)
                    return -1;
                memcpy(fb, s, (size_t)(p - s));
                fb[p - s] = '\0';
                frac = strtod(fb, NULL);
                s = p;
            }
        }
    }
    if (*s == 'Z')
        s++;
    else if (!strcmp(s, "+00:00"))
        s += 6;
    if (*s)
        return -1;
    tm.tm_year = Y - 1900;
    tm.tm_mon = M - 1;
    tm.tm_mday = D;
    tm.tm_hour = h;
    tm.tm_min = m;
    tm.tm_sec = sec;
    tt = timegm(&tm);
    /* timegm normalises 2026-02-30 to March: refuse what it changed */
    if (tt == (time_t)-1 || !gmtime_r(&tt, &chk) || chk.tm_year != Y - 1900 ||
        chk.tm_mon != M - 1 || chk.tm_mday != D || chk.tm_hour != h ||
        chk.tm_min != m || chk.tm_sec != sec)
        return -1;
    *out = (double)tt + frac;
    return 0;
}

const char *lg_time_fmt_iso(char *buf, size_t n, double e)
{
    time_t tt;
    double frac;
    struct tm tm;
    char fb[40] = "";

    if (!isfinite(e) || fabs(e) > 1e15) {
        snprintf(buf, n, "none");
        return buf;
    }
    tt = (time_t)floor(e);
    frac = e - (double)tt;
    if (!gmtime_r(&tt, &tm)) {
        snprintf(buf, n, "none");
        return buf;
    }
    for (int p = 1; frac > 0 && p <= 17; p++) {
        snprintf(fb, sizeof fb, "%.*f", p, frac);
        if (fb[0] == '0' && (double)tt + strtod(fb, NULL) == e)
            break;
    }
    snprintf(buf, n, "%04d-%02d-%02dT%02d:%02d:%02d%.18sZ",
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
             tm.tm_min, tm.tm_sec, frac > 0 ? fb + 1 : "");
    return buf;
}

const char *lg_time_fmt_fixed(char *buf, size_t n, double unix_s,
                              int decimals)
{
    static const double scale[] = { 1, 10, 100, 1000 };
    double fl;
    long f;
    time_t tt;
    struct tm tm;

    if (decimals < 0 || decimals > 3)
        decimals = 3;
    if (!isfinite(unix_s) || fabs(unix_s) > 1e15) {
        snprintf(buf, n, "-");
        return buf;
    }
    fl = floor(unix_s);
    f = lround((unix_s - fl) * scale[decimals]);
    tt = (time_t)fl;
    if (f >= (long)scale[decimals]) {  /* rounding carried into seconds */
        tt++;
        f -= (long)scale[decimals];
    }
    if (!gmtime_r(&tt, &tm)) {
        snprintf(buf, n, "-");
        return buf;
    }
    if (decimals == 0)
        snprintf(buf, n, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                 tm.tm_sec);
    else
        snprintf(buf, n, "%04d-%02d-%02dT%02d:%02d:%02d.%0*ldZ",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                 tm.tm_min, tm.tm_sec, decimals, f);
    return buf;
}
