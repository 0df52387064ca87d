/*
 * ion.c - reading ION contact-plan commands (ionadmin syntax) for the
 * topology parser: "a contact", "a range", "@" and the commands that only
 * matter to a running ION node (m, s, 1, x, ...), which are skipped so
 * that a whole ionadmin .rc file loads. Deletions and changes (d, c) are
 * refused rather than skipped: ignoring them would load a different plan
 * from the one ION runs.
 *
 * Times are "+SECONDS" (relative to the reference time) or
 * "yyyy/mm/dd-hh:mm:ss[.frac]" (UTC). ION writes whole numbers; fractions
 * are accepted (one-way light time to the Moon is 1.28 s).
 *
 * It also owns the range table: ION gives light times by range, apart
 * from contacts and usually after them, so they are matched at the end.
 *
 * Pure functions; thread-safe.
 */
#include "ion.h"

#include <ctype.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lgerr.h"

/* Commands skipped: ionadmin's initialise (1), production / consumption
 * rates (m), start / stop (s, x), and the query and housekeeping ones. */
static const char skipped[] = "1msxwelihvq";

int plan_ion_is_cmd(const char *w)
{
    if (!w[0] || w[1])
        return 0;
    return w[0] == 'a' || w[0] == 'd' || w[0] == 'c' || w[0] == '@' ||
           strchr(skipped, w[0]) != NULL;
}

/* A plain decimal number, all of s: no hex, inf or nan. */
static int num(const char *s, double *v)
{
    const char *p = s;
    char *end;
    int digits = 0;
    if (*p == '+')
        p++;
    for (; isdigit((unsigned char)*p); p++)
        digits++;
    if (*p == '.')
        for (p++; isdigit((unsigned char)*p); p++)
            digits++;
    if (!digits)
        return -1;
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-')
            p++;
        if (!isdigit((unsigned char)*p))
            return -1;
        while (isdigit((unsigned char)*p))
            p++;
    }
    if (*p)
        return -1;
    *v = strtod(s, &end);
    return *end || !isfinite(*v) ? -1 : 0;
}

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

/* yyyy/mm/dd-hh:mm:ss[.frac], UTC. */
static int abstime(const char *s, double *out)
{
    struct tm tm = { 0 }, chk;
    int Y, M, D, h, m, sec;
    double frac = 0;
    time_t tt;
    if (strlen(s) < 19 || s[4] != '/' || s[7] != '/' || s[10] != '-' ||
        s[13] != ':' || s[16] != ':' || digits(s, 4, &Y) ||
        digits(s + 5, 2, &M) || digits(s + 8, 2, &D) ||
        digits(s + 11, 2, &h) || digits(s + 14, 2, &m) ||
        digits(s + 17, 2, &sec))
        return -1;
    if (s[19]) {
        if (s[19] != '.' || !s[20] || num(s + 19, &frac) < 0)
            return -1;
        for (const char *p = s + 20; *p; p++)
            if (!isdigit((unsigned char)*p))
                return -1;
    }
    tm.tm_year = Y - 1900;
    tm.tm_mon = M - 1;
    tm.tm_mday = D;
    tm.tm_hour = h;
    tm.tm_min = m;
    tm.tm_sec = sec;
    tt = timegm(&tm);
    /* timegm normalises 2026/02/30 to March; refuse what it changed. */
    if (tt == (time_t)-1 || !gmtime_r(&tt, &chk) || chk.tm_year != Y - 1900 ||
        chk.tm_mon != M - 1 || chk.tm_mday != D || chk.tm_hour != h ||
        chk.tm_min != m || chk.tm_sec != sec)
        return -1;
    *out = (double)tt + frac;
    return 0;
}

static int itime(const char *s, plan_ion_time *t)
{
    if (s[0] == '+') {
        t->absolute = 0;
        return num(s + 1, &t->v) < 0 || s[1] == '+' ? -1 : 0;
    }
    t->absolute = 1;
    return abstime(s, &t->v);
}

static int node(const char *s, int *v)
{
    long long x = 0;
    if (!*s)
        return -1;
    for (const char *p = s; *p; p++) {
        if (!isdigit((unsigned char)*p))
            return -1;
        x = x * 10 + (*p - '0');
        if (x > INT_MAX)
            return -1;
    }
    if (x < 1)
        return -1;
    *v = (int)x;
    return 0;
}

int plan_ion_parse(char *const *w, int n, plan_ion_cmd *c, char *err,
                   size_t errlen)
{
    int contact;
    memset(c, 0, sizeof *c);
    if (!strcmp(w[0], "@")) {
        if (n != 2 || itime(w[1], &c->t1) < 0 || !c->t1.absolute)
            return lg_errf(err, errlen, LG_EMODEL,
                           "ION '@' needs one time yyyy/mm/dd-hh:mm:ss");
        c->op = PLAN_ION_REFTIME;
        return 0;
    }
    if (!strcmp(w[0], "d") || !strcmp(w[0], "c"))
        return lg_errf(err, errlen, LG_EMODEL,
                       "ION command '%s' (%s) is not supported; give the "
                       "plan as it should be", w[0],
                       w[0][0] == 'd' ? "delete" : "change");
    if (strcmp(w[0], "a")) {
        c->op = PLAN_ION_SKIP;
        return 0;
    }
    if (n < 2 || (strcmp(w[1], "contact") && strcmp(w[1], "range")))
        return lg_errf(err, errlen, LG_EMODEL,
                       "ION 'a' must add a contact or a range");
    contact = !strcmp(w[1], "contact");
    if (contact ? (n != 7 && n != 8) : n != 7)
        return lg_errf(err, errlen, LG_EMODEL,
                       "malformed ION %s: want 'a %s +T1 +T2 FROM TO %s'",
                       w[1], w[1],
                       contact ? "RATE [CONFIDENCE]" : "OWLT");
    if (itime(w[2], &c->t1) < 0 || itime(w[3], &c->t2) < 0)
        return lg_errf(err, errlen, LG_EMODEL,
                       "malformed ION %s: times are +SECONDS or "
                       "yyyy/mm/dd-hh:mm:ss, got '%s' '%s'", w[1], w[2], w[3]);
    if (node(w[4], &c->from) < 0 || node(w[5], &c->to) < 0)
        return lg_errf(err, errlen, LG_EMODEL,
                       "malformed ION %s: node numbers are integers >= 1, "
                       "got '%s' '%s'", w[1], w[4], w[5]);
    if (num(w[6], &c->value) < 0)
        return lg_errf(err, errlen, LG_EMODEL, "malformed ION %s: bad %s '%s'",
                       w[1], contact ? "rate" : "light time", w[6]);
    if (contact && !(c->value > 0))
        return lg_errf(err, errlen, LG_EMODEL,
                       "ION contact rate must be > 0 bytes/s, got '%s'", w[6]);
    if (contact && n == 8) {
        double conf;
        if (num(w[7], &conf) < 0 || conf > 1)
            return lg_errf(err, errlen, LG_EMODEL,
                           "malformed ION contact: confidence '%s' is not in "
                           "[0, 1]", w[7]);
    }
    c->op = contact ? PLAN_ION_CONTACT : PLAN_ION_RANGE;
    return 0;
}

static int cmp_range(const void *x, const void *y)
{
    const plan_ion_range *a = x, *c = y;
    if (a->from != c->from)
        return a->from < c->from ? -1 : 1;
    if (a->to != c->to)
        return a->to < c->to ? -1 : 1;
    if (a->t1 != c->t1)
        return a->t1 < c->t1 ? -1 : 1;
    return (a->line > c->line) - (a->line < c->line);
}

int plan_ion_ranges_sort(plan_ion_range *r, int n, int *bad)
{
    int m = 0;
    if (n > 1)
        qsort(r, (size_t)n, sizeof *r, cmp_range);
    for (int i = 0; i < n; i++) {
        plan_ion_range *p = m ? &r[m - 1] : NULL;
        if (p && p->from == r[i].from && p->to == r[i].to && r[i].t1 < p->t2) {
            if (p->owlt != r[i].owlt) {
                if (bad)
                    *bad = m;
                r[m] = r[i];     /* keep the pair side by side for messages */
                return -1;
            }
            if (r[i].t2 > p->t2)
                p->t2 = r[i].t2;
            continue;
        }
        r[m++] = r[i];
    }
    return m;
}

static const plan_ion_range *range_at(const plan_ion_range *r, int n,
                                      int from, int to, double t)
{
    int lo = 0, hi = n;          /* first range after (from, to, t) */
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        const plan_ion_range *x = &r[mid];
        if (x->from < from || (x->from == from && x->to < to) ||
            (x->from == from && x->to == to && x->t1 <= t))
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo > 0 && r[lo - 1].from == from && r[lo - 1].to == to &&
        t < r[lo - 1].t2)
        return &r[lo - 1];
    return NULL;
}

int plan_ion_owlt(const plan_ion_range *r, int n, int from, int to, double t,
                  double *owlt)
{
    const plan_ion_range *x = range_at(r, n, from, to, t);
    if (!x)
        x = range_at(r, n, to, from, t);
    if (!x)
        return -1;
    *owlt = x->owlt;
    return 0;
}
