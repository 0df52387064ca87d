/*
 * tle.c - two-line element sets: fixed-column parsing, checksums, epochs
 * and multi-satellite buffers.
 *
 * Every field is read from the columns the format assigns it, and checked
 * character by character before it is converted, so that a shifted or
 * corrupted line fails with a message naming the line and the columns
 * instead of turning into a plausible wrong orbit. Numbers are converted
 * here from their digits (an integer mantissa divided by an exact power of
 * ten), which gives the correctly rounded value that strtod would, without
 * strtod's locale dependence or its acceptance of "inf", hex and exponents.
 * No globals; thread-safe.
 */
#include "tle.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lgerr.h"

#define JD_UNIX_EPOCH 2440587.5 /* Julian date of 1970-01-01 00:00 UTC */
#define SET_FIRST_CAP 64        /* first allocation of a set's arrays */

/* One line of input as the parser sees it. */
struct tline {
    const char *s;              /* text, not NUL-terminated */
    size_t len;                 /* length without the "\n" / "\r\n" */
    int tleno;                  /* 0 (name), 1 or 2: line of the TLE */
    size_t fileno;              /* line in the buffer, 1..; 0 if none */
};

/* Exact powers of ten: every one up to 1e22 is a double. */
static const double pow10_exact[] = {
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12,
    1e13, 1e14, 1e15, 1e16, 1e17, 1e18,
};

/* ------------------------------------------------------------ messages */

/* Fail with "line N[ (TLE line k)] col a[-b]: <fmt>". c0 == 0 leaves out
 * the columns (whole-line problems such as a missing line). */
static int fail(const struct tline *l, int c0, int c1, char *err,
                size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

static int fail(const struct tline *l, int c0, int c1, char *err,
                size_t errlen, const char *fmt, ...)
{
    char where[64], cols[32] = "", msg[160];
    va_list ap;

    if (l->fileno)
        snprintf(where, sizeof where, "line %zu (TLE line %d)", l->fileno,
                 l->tleno);
    else
        snprintf(where, sizeof where, "line %d", l->tleno);
    if (c0 > 0 && c1 > c0)
        snprintf(cols, sizeof cols, " col %d-%d", c0, c1);
    else if (c0 > 0)
        snprintf(cols, sizeof cols, " col %d", c0);
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return lg_errf(err, errlen, -EINVAL, "%s%s: %s", where, cols, msg);
}

/* Copy columns c0..c1 (1-based, inclusive; the line is long enough) into
 * out as a C string for messages and further parsing. */
static void field(const struct tline *l, int c0, int c1, char *out)
{
    size_t n = (size_t)(c1 - c0 + 1);
    memcpy(out, l->s + c0 - 1, n);
    out[n] = '\0';
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* ------------------------------------------------------- field readers */

/* Columns c0..c1 as a decimal number: blanks around it, an optional sign,
 * digits with at most one '.', and at least one digit. */
static int read_decimal(const struct tline *l, int c0, int c1,
                        const char *what, double *out, char *err,
                        size_t errlen)
{
    char f[32];
    const char *p;
    uint64_t mant = 0;
    int neg = 0, ndig = 0, nfrac = 0, dot = 0;

    field(l, c0, c1, f);
    p = f;
    while (*p == ' ')
        p++;
    if (*p == '+' || *p == '-')
        neg = *p++ == '-';
    for (; is_digit(*p) || *p == '.'; p++) {
        if (*p == '.') {
            if (dot++)
                break;
            continue;
        }
        mant = mant * 10 + (uint64_t)(*p - '0');
        ndig++;
        nfrac += dot;
    }
    while (*p == ' ')
        p++;
    if (*p != '\0' || ndig == 0 || dot > 1)
        return fail(l, c0, c1, err, errlen, "%s '%s' is not a number",
                    what, f);
    /* mant < 10^12 and nfrac <= 11 here: one exact division, rounded
     * once, as strtod would round the decimal string. */
    *out = (double)mant / pow10_exact[nfrac];
    if (neg)
        *out = -*out;
    return 0;
}

/* Eight columns "SNNNNNEN" with an implied decimal point before the five
 * digits: sign (' ', '+', '-'), mantissa, exponent sign, exponent digit.
 * " 28098-4" is 0.28098e-4. Computed as mantissa * pow(10, exp), the way
 * the reference twoline2rv does, so B* agrees with it to the last bit. */
static int read_implied_exp(const struct tline *l, int c0, const char *what,
                            double *out, char *err, size_t errlen)
{
    char f[16];
    const char *p = l->s + c0 - 1;
    long mant = 0;
    int e;

    field(l, c0, c0 + 7, f);
    if ((p[0] != ' ' && p[0] != '+' && p[0] != '-') ||
        (p[6] != ' ' && p[6] != '+' && p[6] != '-') || !is_digit(p[7]))
        goto bad;
    for (int i = 1; i <= 5; i++) {
        if (!is_digit(p[i]))
            goto bad;
        mant = mant * 10 + (p[i] - '0');
    }
    e = p[7] - '0';
    if (p[6] == '-')
        e = -e;
    *out = (double)mant / 1e5 * pow(10.0, e);
    if (p[0] == '-')
        *out = -*out;
    return 0;
bad:
    return fail(l, c0, c0 + 7, err, errlen,
                "%s '%s' is not of the form SNNNNNEN (sign, five digits "
                "after an implied decimal point, signed exponent digit)",
                what, f);
}

/* Columns c0..c1 as a non-negative integer: right-justified digits, blanks
 * around them; all blanks read as 0 (old element sets leave some empty). */
static int read_uint(const struct tline *l, int c0, int c1, const char *what,
                     long *out, char *err, size_t errlen)
{
    char f[16];
    const char *p;
    long v = 0;

    field(l, c0, c1, f);
    for (p = f; *p == ' '; p++)
        ;
    for (; is_digit(*p); p++)
        v = v * 10 + (*p - '0');
    while (*p == ' ')
        p++;
    if (*p != '\0')
        return fail(l, c0, c1, err, errlen, "%s '%s' is not a number",
                    what, f);
    *out = v;
    return 0;
}

/* The catalog number, columns 3-7: digits, leading blanks allowed. */
static int read_catnum(const struct tline *l, char catnum[6], int *satnum,
                       char *err, size_t errlen)
{
    char f[8];
    const char *p;
    int v = 0;

    field(l, 3, 7, f);
    for (p = f; *p == ' '; p++)
        ;
    if (*p >= 'A' && *p <= 'Z' && p == f)
        return fail(l, 3, 7, err, errlen, "catalog number '%s': alpha-5 "
                    "catalog numbers are not supported", f);
    if (*p == '\0')
        return fail(l, 3, 7, err, errlen, "catalog number is blank");
    strcpy(catnum, p);
    for (; *p; p++) {
        if (!is_digit(*p))
            return fail(l, 3, 7, err, errlen,
                        "catalog number '%s' is not a number", f);
        v = v * 10 + (*p - '0');
    }
    *satnum = v;
    return 0;
}

/* An angle in degrees in [0, hi]. */
static int read_angle(const struct tline *l, int c0, int c1,
                      const char *what, double hi, double *out, char *err,
                      size_t errlen)
{
    int rc = read_decimal(l, c0, c1, what, out, err, errlen);
    if (rc == 0 && !(*out >= 0.0 && *out <= hi))
        return fail(l, c0, c1, err, errlen,
                    "%s %.4f is outside [0, %.0f] degrees", what, *out, hi);
    return rc;
}

/* ------------------------------------------------------ line structure */

/* Length, line number, blank separators and (unless lenient) checksum.
 * seps lists the columns that must be blank, ending with 0. */
static int check_frame(const struct tline *l, char want, const int *seps,
                       unsigned flags, char *err, size_t errlen)
{
    size_t need = (flags & ORB_TLE_LENIENT) ? ORB_TLE_COLS - 1
                                            : ORB_TLE_COLS;

    if (l->len == 0 || l->s[0] != want)
        return fail(l, 1, 0, err, errlen, "expected line number '%c', "
                    "found '%.1s'", want, l->len ? l->s : "");
    if (l->len < need)
        return fail(l, 0, 0, err, errlen, "truncated: %zu columns, a TLE "
                    "line has %d", l->len, ORB_TLE_COLS);
    /* Trailing text is tolerated only when a blank separates it, so that
     * a line shifted right by a stray character is still caught. */
    if (l->len > ORB_TLE_COLS && l->s[ORB_TLE_COLS] != ' ' &&
        l->s[ORB_TLE_COLS] != '\t')
        return fail(l, ORB_TLE_COLS + 1, 0, err, errlen,
                    "line is longer than %d columns", ORB_TLE_COLS);
    for (; *seps; seps++)
        if (l->s[*seps - 1] != ' ')
            return fail(l, *seps, 0, err, errlen, "expected a blank, found "
                        "'%c'", l->s[*seps - 1]);
    return 0;
}

/* Column 69 against the computed checksum. Checked after the fields, so
 * that a corrupted field is reported as itself, not as a bad checksum. */
static int check_sum(const struct tline *l, unsigned flags, char *err,
                     size_t errlen)
{
    char c;
    int want;

    if (flags & ORB_TLE_LENIENT)
        return 0;
    c = l->s[ORB_TLE_COLS - 1];
    want = orb_tle_checksum(l->s, l->len);
    if (!is_digit(c))
        return fail(l, ORB_TLE_COLS, 0, err, errlen,
                    "checksum '%c' is not a digit", c);
    if (c - '0' != want)
        return fail(l, ORB_TLE_COLS, 0, err, errlen, "checksum is %c but "
                    "the line sums to %d", c, want);
    return 0;
}

int orb_tle_checksum(const char *line, size_t len)
{
    int sum = 0;
    for (size_t i = 0; i < len && i < ORB_TLE_COLS - 1; i++) {
        if (is_digit(line[i]))
            sum += line[i] - '0';
        else if (line[i] == '-')
            sum += 1;
    }
    return sum % 10;
}

/* ------------------------------------------------------------- epoch */

/* Columns 19-32: two-digit year and "DDD.DDDDDDDD" day of year. The JD is
 * split into a whole part and the exact fraction of the day from the
 * digits, so no precision is lost to the 2.4e6 of the Julian date. */
static int read_epoch(const struct tline *l, orb_tle *t, char *err,
                      size_t errlen)
{
    char f[16];
    const char *p = l->s;
    int yy, day = 0, nfrac = 0;
    uint64_t frac = 0;
    int i;

    if (!is_digit(p[18]) || !is_digit(p[19])) {
        field(l, 19, 20, f);
        return fail(l, 19, 20, err, errlen, "epoch year '%s' is not two "
                    "digits", f);
    }
    yy = (p[18] - '0') * 10 + (p[19] - '0');
    /* The format's own convention: 57-99 is 1957-1999 (Sputnik was 57). */
    t->epoch_year = yy < 57 ? 2000 + yy : 1900 + yy;

    field(l, 21, 32, f);
    for (i = 20; i < 23 && p[i] == ' '; i++)
        ;
    for (; i < 23 && is_digit(p[i]); i++)
        day = day * 10 + (p[i] - '0');
    if (i != 23 || p[23] != '.' || !is_digit(p[24]))
        goto bad;
    for (i = 24; i < 32 && is_digit(p[i]); i++, nfrac++)
        frac = frac * 10 + (uint64_t)(p[i] - '0');
    for (; i < 32 && p[i] == ' '; i++)
        ;
    if (i != 32)
        goto bad;
    /* Day 366 of a common year happens ("December 32"): the arithmetic
     * below carries it into the next year, as the reference code does. */
    if (day < 1 || day > 366)
        return fail(l, 21, 32, err, errlen, "epoch day '%s' is outside "
                    "1-366", f);

    t->epoch_jdfrac = (double)frac / pow10_exact[nfrac];
    t->epoch_doy = day + t->epoch_jdfrac;
    /* JD of 0 January 00:00 of the year; valid for 1901-2099, which covers
     * every year a two-digit TLE year can name. */
    t->epoch_jd = t->epoch_year * 365.0 + (t->epoch_year - 1) / 4 +
                  1721044.5 + day;
    t->epoch_unix = (t->epoch_jd - JD_UNIX_EPOCH) * 86400.0 +
                    t->epoch_jdfrac * 86400.0;
    return 0;
bad:
    return fail(l, 21, 32, err, errlen, "epoch day '%s' is not of the "
                "form DDD.DDDDDDDD", f);
}

/* --------------------------------------------------------------- lines */

static int parse_line1(const struct tline *l, orb_tle *t, unsigned flags,
                       char *err, size_t errlen)
{
    static const int seps[] = {2, 9, 18, 33, 44, 53, 62, 64, 0};
    char f[16];
    long v = 0;
    int rc;

    if ((rc = check_frame(l, '1', seps, flags, err, errlen)) ||
        (rc = read_catnum(l, t->catnum, &t->satnum, err, errlen)))
        return rc;
    t->classification = l->s[7];
    if (t->classification != ' ' &&
        (t->classification < 'A' || t->classification > 'Z'))
        return fail(l, 8, 0, err, errlen, "classification '%c' is not a "
                    "letter", t->classification);
    field(l, 10, 17, f);
    for (int i = 7; i >= 0 && f[i] == ' '; i--)
        f[i] = '\0';
    memcpy(t->intldes, f, sizeof t->intldes);

    if ((rc = read_epoch(l, t, err, errlen)) ||
        (rc = read_decimal(l, 34, 43, "mean motion derivative", &t->ndot,
                           err, errlen)) ||
        (rc = read_implied_exp(l, 45, "mean motion second derivative",
                               &t->nddot, err, errlen)) ||
        (rc = read_implied_exp(l, 54, "B*", &t->bstar, err, errlen)))
        return rc;
    if (l->s[62] != ' ' && !is_digit(l->s[62]))
        return fail(l, 63, 0, err, errlen, "ephemeris type '%c' is not a "
                    "digit", l->s[62]);
    t->ephtype = l->s[62] == ' ' ? 0 : l->s[62] - '0';
    if ((rc = read_uint(l, 65, 68, "element set number", &v, err, errlen)))
        return rc;
    t->elnum = (int)v;
    return check_sum(l, flags, err, errlen);
}

static int parse_line2(const struct tline *l, orb_tle *t, unsigned flags,
                       char *err, size_t errlen)
{
    static const int seps[] = {2, 8, 17, 26, 34, 43, 52, 0};
    char cat[6], f[16];
    int satnum, rc;
    long ecc = 0;

    if ((rc = check_frame(l, '2', seps, flags, err, errlen)) ||
        (rc = read_catnum(l, cat, &satnum, err, errlen)))
        return rc;
    if (satnum != t->satnum)
        return fail(l, 3, 7, err, errlen, "catalog number %s does not "
                    "match line 1's %s", cat, t->catnum);
    if ((rc = read_angle(l, 9, 16, "inclination", 180.0, &t->incl_deg, err,
                         errlen)) ||
        (rc = read_angle(l, 18, 25, "right ascension of the node", 360.0,
                         &t->raan_deg, err, errlen)))
        return rc;
    /* Seven digits after an implied "0.": the field cannot say 1 or more,
     * so malformed (a written point, a sign, a blank) is all to catch. */
    field(l, 27, 33, f);
    for (int i = 0; i < 7; i++) {
        if (!is_digit(f[i]))
            return fail(l, 27, 33, err, errlen, "eccentricity '%s' must be "
                        "7 digits with an implied leading decimal point",
                        f);
        ecc = ecc * 10 + (f[i] - '0');
    }
    t->ecc = (double)ecc / 1e7;
    if ((rc = read_angle(l, 35, 42, "argument of perigee", 360.0,
                         &t->argp_deg, err, errlen)) ||
        (rc = read_angle(l, 44, 51, "mean anomaly", 360.0, &t->mo_deg, err,
                         errlen)) ||
        (rc = read_decimal(l, 53, 63, "mean motion", &t->n_revday, err,
                           errlen)))
        return rc;
    if (!(t->n_revday > 0.0)) {
        field(l, 53, 63, f);
        return fail(l, 53, 63, err, errlen, "mean motion '%s' is not > 0",
                    f);
    }
    if ((rc = read_uint(l, 64, 68, "revolution number", &t->revnum, err,
                        errlen)))
        return rc;
    return check_sum(l, flags, err, errlen);
}

/* The name line: trailing blanks go, and so does Space-Track's "0 "
 * prefix (its 3LE files number the name line as line 0). */
static int parse_name(const struct tline *l, orb_tle *t, char *err,
                      size_t errlen)
{
    const char *s = l->s;
    size_t n = l->len;

    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    if (n >= 2 && s[0] == '0' && s[1] == ' ') {
        s += 2;
        n -= 2;
    }
    if (n > ORB_TLE_NAME_MAX)
        return fail(l, 0, 0, err, errlen, "name is longer than %d "
                    "characters", ORB_TLE_NAME_MAX);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return fail(l, (int)i + 1, 0, err, errlen, "control character "
                        "0x%02x in the name", (unsigned char)s[i]);
    memcpy(t->name, s, n);
    t->name[n] = '\0';
    return 0;
}

/* Parse a record into *t (left zeroed on failure). name may be NULL. */
static int parse_record(orb_tle *t, const struct tline *name,
                        const struct tline *l1, const struct tline *l2,
                        unsigned flags, char *err, size_t errlen)
{
    int rc;

    memset(t, 0, sizeof *t);
    if ((name && (rc = parse_name(name, t, err, errlen))) ||
        (rc = parse_line1(l1, t, flags, err, errlen)) ||
        (rc = parse_line2(l2, t, flags, err, errlen))) {
        memset(t, 0, sizeof *t);
        return rc;
    }
    return 0;
}

/* A NUL-terminated line without its "\n" or "\r\n". */
static struct tline str_line(const char *s, int tleno)
{
    struct tline l = {s, strlen(s), tleno, 0};
    while (l.len > 0 && (s[l.len - 1] == '\n' || s[l.len - 1] == '\r'))
        l.len--;
    return l;
}

int orb_tle_parse(orb_tle *t, const char *name, const char *line1,
                  const char *line2, unsigned flags, char *err,
                  size_t errlen)
{
    struct tline n, l1, l2;

    if (!t || !line1 || !line2)
        return lg_errf(err, errlen, -EINVAL, "orb_tle_parse: missing %s",
                       !t ? "output" : "line");
    n = str_line(name ? name : "", 0);
    l1 = str_line(line1, 1);
    l2 = str_line(line2, 2);
    return parse_record(t, n.len ? &n : NULL, &l1, &l2, flags, err, errlen);
}

/* ------------------------------------------------------------- buffers */

/* A cursor over the lines of a buffer. */
struct cursor {
    const char *buf;
    size_t len;
    size_t pos;                 /* start of the next line */
    size_t fileno;              /* number of the line last returned */
};

/* The next physical line, or 0 at the end of the buffer. */
static int next_line(struct cursor *c, struct tline *l, int tleno)
{
    const char *s, *nl;

    if (c->pos >= c->len)
        return 0;
    s = c->buf + c->pos;
    nl = memchr(s, '\n', c->len - c->pos);
    l->s = s;
    l->len = nl ? (size_t)(nl - s) : c->len - c->pos;
    c->pos += l->len + (nl != NULL);
    if (l->len > 0 && s[l->len - 1] == '\r')
        l->len--;
    l->tleno = tleno;
    l->fileno = ++c->fileno;
    return 1;
}

static int is_blank(const struct tline *l)
{
    for (size_t i = 0; i < l->len; i++)
        if (l->s[i] != ' ' && l->s[i] != '\t')
            return 0;
    return 1;
}

static int starts(const struct tline *l, char c)
{
    return l->len >= 2 && l->s[0] == c && l->s[1] == ' ';
}

/* Grow an array of elem-sized items to hold one more, capped at max. */
static int grow(void **v, size_t *cap, size_t n, size_t max, size_t elem)
{
    size_t ncap;
    void *p;

    if (n < *cap)
        return 0;
    ncap = *cap ? *cap * 2 : SET_FIRST_CAP;
    if (ncap > max)
        ncap = max;
    if (ncap <= n || ncap > SIZE_MAX / elem)
        return -ENOMEM;
    p = realloc(*v, ncap * elem);
    if (!p)
        return -ENOMEM;
    *v = p;
    *cap = ncap;
    return 0;
}

/* List a failed record. Past s->max details it is only counted. */
static int add_bad(orb_tle_set *s, size_t lineno, const char *msg)
{
    if (s->nbad < s->max) {
        if (grow((void **)&s->bad, &s->badcap, s->nbad, s->max,
                 sizeof *s->bad))
            return -ENOMEM;
        s->bad[s->nbad].lineno = lineno;
        snprintf(s->bad[s->nbad].msg, sizeof s->bad[s->nbad].msg, "%s",
                 msg);
    }
    s->nbad++;
    return 0;
}

void orb_tle_set_init(orb_tle_set *s, size_t max)
{
    memset(s, 0, sizeof *s);
    s->max = (max == 0 || max > ORB_TLE_MAX_SATS) ? ORB_TLE_MAX_SATS : max;
}

void orb_tle_set_free(orb_tle_set *s)
{
    size_t max = s->max;
    free(s->v);
    free(s->bad);
    orb_tle_set_init(s, max);
}

/* Read one record starting at line a (not blank, not a comment). Sets
 * *have to 1 and fills *t when it parsed; else the failure is listed.
 * Lines that do not belong to the record are pushed back on c. */
static int read_record(orb_tle_set *s, struct cursor *c, struct tline a,
                       unsigned flags, orb_tle *t, int *have)
{
    struct tline name, l1, l2;
    struct tline *np = NULL;
    size_t mark;
    char msg[192];

    *have = 0;
    if (starts(&a, '2')) {
        a.tleno = 2;
        fail(&a, 0, 0, msg, sizeof msg, "line 2 without a line 1");
        return add_bad(s, a.fileno, msg);
    }
    if (starts(&a, '1')) {
        l1 = a;
        l1.tleno = 1;
    } else {
        name = a;
        np = &name;
        mark = c->pos;
        if (!next_line(c, &l1, 1) || !starts(&l1, '1')) {
            c->pos = mark;
            c->fileno = name.fileno;
            fail(&name, 0, 0, msg, sizeof msg,
                 "name line is not followed by a line 1");
            return add_bad(s, name.fileno, msg);
        }
    }
    /* Accept any line starting with '2' as the record's line 2, so that a
     * damaged one is reported for what it is. */
    mark = c->pos;
    if (!next_line(c, &l2, 2) || l2.len == 0 || l2.s[0] != '2') {
        c->pos = mark;
        c->fileno = l1.fileno;
        fail(&l1, 0, 0, msg, sizeof msg, "line 1 is not followed by a "
             "line 2");
        return add_bad(s, np ? np->fileno : l1.fileno, msg);
    }
    if (parse_record(t, np, &l1, &l2, flags, msg, sizeof msg))
        return add_bad(s, np ? np->fileno : l1.fileno, msg);
    *have = 1;
    return 0;
}

int orb_tle_set_parse(orb_tle_set *s, const char *buf, size_t len,
                      unsigned flags, char *err, size_t errlen)
{
    struct cursor c = {buf, buf ? len : 0, 0, 0};
    struct tline a;
    orb_tle t;
    int have, rc;

    if (s->max == 0)
        orb_tle_set_init(s, 0);
    while (next_line(&c, &a, 0)) {
        if (is_blank(&a) || a.s[0] == '#')
            continue;
        if ((rc = read_record(s, &c, a, flags, &t, &have)))
            return lg_errf(err, errlen, rc, "line %zu: out of memory",
                           a.fileno);
        if (!have)
            continue;
        if (s->n >= s->max)
            return lg_errf(err, errlen, -E2BIG, "line %zu: more than %zu "
                           "satellites", a.fileno, s->max);
        if (grow((void **)&s->v, &s->cap, s->n, s->max, sizeof *s->v))
            return lg_errf(err, errlen, -ENOMEM, "line %zu: out of memory "
                           "for %zu satellites", a.fileno, s->n + 1);
        s->v[s->n++] = t;
    }
    return 0;
}
