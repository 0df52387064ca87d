/*
 * contacts.c - `lagrange contacts`: contact windows, light time and
 * eclipses from TLEs, for a set of ground stations over a span. Prints a
 * table (passes, inter-satellite and Moon windows, eclipses), JSON, an
 * ION contact plan, or an SVG timeline. The orbit work is the library's
 * (lib/orbit/passes.h, eclipse.h); this file reads the command line and
 * the TLE files and formats the results.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "lgtime.h"
#include "eclipse.h"
#include "lgerr.h"
#include "sgp4.h"
#include "tle.h"
#include "passes.h"

/* Declared in cli.h once the verb is registered; repeated here so that
 * the file stands alone until then. */

#define VERB "contacts"
#define MAX_TLE_FILES 64
#define MAX_TLE_BYTES (64u << 20)
#define MAX_BAD_SHOWN 5
#define DEF_MASK_DEG 10.0
#define DEF_SPAN_S 86400.0
#define DEF_RATE 200e6              /* ground <-> LEO, bit/s (X band) */
#define DEF_ISL_RATE 10e9           /* optical ISL */
#define DEF_MOON_RATE 100e6         /* Ka band to the Moon */

static void help(FILE *f)
{
    fprintf(f,
"usage: lagrange contacts --tle FILE [--tle FILE...] --station NAME=LAT,LON,ALT_M[,MASK]\n"
"                         [--station ...] --from ISO8601 [--span DUR] [--isl MAXKM]\n"
"                         [--moon] [--lenient] [--json | --ion | --svg FILE]\n"
"                         [--rate BIT/S] [--isl-rate BIT/S] [--moon-rate BIT/S]\n"
"                         [--mask DEG] [--dut1 SECONDS] [--step SECONDS]\n\n"
"Contact windows of the satellites in the TLE files (SGP4) over the ground\n"
"stations from --from for --span (default 24h): passes above each station's\n"
"elevation mask with their maximum elevation, one-way light time along each\n"
"window, and each satellite's eclipses (umbra and penumbra). --isl adds\n"
"inter-satellite windows (line of sight clear of the Earth by 100 km,\n"
"range at most MAXKM; 0: no limit), --moon the Moon above each station.\n\n"
"  --station NAME=LAT,LON,ALT_M[,MASK]  geodetic degrees, height in m above\n"
"                   WGS-84, mask in degrees (default --mask, 10)\n"
"  --from T         span start, ISO 8601 UTC (2024-03-02T00:00:00Z)\n"
"  --span DUR       N[s|m|h|d], at most 400d (default 24h)\n"
"  --lenient        accept bad TLE checksums and skip unreadable records\n"
"                   (with a warning) instead of failing\n"
"  --json           windows and eclipses as JSON\n"
"  --ion            an ION contact plan (a contact / a range lines)\n"
"  --svg FILE       a timeline, one row per satellite\n"
"  --rate, --isl-rate, --moon-rate  link rates in bit/s (k, M, G\n"
"                   suffixes) for --ion and --json (default 200M, 10G, 100M)\n"
"  --dut1 S         UT1 - UTC in seconds, for the Earth's rotation (default 0)\n"
"  --step S         first sampling step (default: 1/100 of each orbit)\n\n"
"Exit status: 0 ok (propagation problems are warnings on stderr), 1 I/O\n"
"failure, 2 usage, 3 bad TLE file.\n");
}

/* ------------------------------------------------------------ parsing */

static int parse_num(const char *s, double *v)
{
    char *end;
    if (!*s)
        return -1;
    errno = 0;
    *v = strtod(s, &end);
    return *end || errno || !isfinite(*v) ? -1 : 0;
}

/* N[s|m|h|d] in seconds. */
static int parse_dur(const char *s, double *out)
{
    char buf[64];
    size_t n = strlen(s);
    double mul = 1, v;
    if (n == 0 || n >= sizeof buf)
        return -1;
    memcpy(buf, s, n + 1);
    switch (buf[n - 1]) {
    case 's': mul = 1; buf[n - 1] = 0; break;
    case 'm': mul = 60; buf[n - 1] = 0; break;
    case 'h': mul = 3600; buf[n - 1] = 0; break;
    case 'd': mul = 86400; buf[n - 1] = 0; break;
    default: break;
    }
    if (parse_num(buf, &v) < 0)
        return -1;
    *out = v * mul;
    return 0;
}

/* A rate in bit/s with k, M, G, T suffixes (decimal). */
static int parse_rate(const char *s, double *out)
{
    char buf[64];
    size_t n = strlen(s);
    double mul = 1, v;
    if (n == 0 || n >= sizeof buf)
        return -1;
    memcpy(buf, s, n + 1);
    switch (buf[n - 1]) {
    case 'k': case 'K': mul = 1e3; buf[n - 1] = 0; break;
    case 'M': mul = 1e6; buf[n - 1] = 0; break;
    case 'G': mul = 1e9; buf[n - 1] = 0; break;
    case 'T': mul = 1e12; buf[n - 1] = 0; break;
    default: break;
    }
    if (parse_num(buf, &v) < 0 || !(v > 0))
        return -1;
    *out = v * mul;
    return 0;
}

/* A station name: 1-47 of [A-Za-z0-9._-], as topology names are. */
static int good_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= ORB_CONTACT_NAME_MAX)
        return 0;
    for (; *s; s++) {
        char c = *s;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

static int parse_station(const char *arg, double def_mask, orb_station *st)
{
    char buf[256], *eq, *p, *tok[5], *save = NULL;
    double v[4];
    int n = 0;
    char err[300];

    if (strlen(arg) >= sizeof buf) {
        cli_err(VERB, "--station '%.40s...': too long", arg);
        return -1;
    }
    strcpy(buf, arg);
    if (!(eq = strchr(buf, '='))) {
        cli_err(VERB, "--station '%s': want NAME=LAT,LON,ALT_M[,MASK_DEG]",
                arg);
        return -1;
    }
    *eq = 0;
    if (!good_name(buf)) {
        cli_err(VERB, "--station '%s': name must be 1-%d characters of "
                "A-Z a-z 0-9 . _ -", arg, ORB_CONTACT_NAME_MAX - 1);
        return -1;
    }
    for (p = strtok_r(eq + 1, ",", &save); p && n < 5;
         p = strtok_r(NULL, ",", &save))
        tok[n++] = p;
    if (n < 3 || n > 4) {
        cli_err(VERB, "--station '%s': want NAME=LAT,LON,ALT_M[,MASK_DEG]",
                arg);
        return -1;
    }
    for (int i = 0; i < n; i++)
        if (parse_num(tok[i], &v[i]) < 0) {
            cli_err(VERB, "--station '%s': '%s' is not a number", arg,
                    tok[i]);
            return -1;
        }
    if (orb_contact_station_init(st, buf, v[0], v[1], v[2],
                                 n == 4 ? v[3] : def_mask, err,
                                 sizeof err) < 0) {
        cli_err(VERB, "--station: %s", err);
        return -1;
    }
    return 0;
}

/* ----------------------------------------------------------- TLE input */

typedef struct sats {
    orb_tle *tle;
    orb_sat *sat;
    const char **name;           /* display names (TLE name or catalog) */
    char (*label)[24];           /* "catalog N" when nameless */
    int n, cap;
} sats;

static char *slurp(const char *path, size_t *len)
{
    FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    char *buf = NULL;
    size_t n = 0, cap = 0;

    if (!f) {
        cli_err(VERB, "%s: %s", path, strerror(errno));
        return NULL;
    }
    for (;;) {
        size_t got;
        if (n + 65536 + 1 > cap) {
            char *nb;
            cap = cap ? 2 * cap : 131072;
            if (cap > MAX_TLE_BYTES + 65536 + 1)
                cap = MAX_TLE_BYTES + 65536 + 1;
            nb = realloc(buf, cap);
            if (!nb) {
                cli_err(VERB, "%s: out of memory", path);
                free(buf);
                buf = NULL;
                goto done;
            }
            buf = nb;
        }
        got = fread(buf + n, 1, 65536, f);
        n += got;
        if (n > MAX_TLE_BYTES) {
            cli_err(VERB, "%s: larger than %u MiB", path, MAX_TLE_BYTES >> 20);
            free(buf);
            buf = NULL;
            goto done;
        }
        if (got < 65536) {
            if (ferror(f)) {
                cli_err(VERB, "%s: %s", path, strerror(errno));
                free(buf);
                buf = NULL;
                goto done;
            }
            break;
        }
    }
    buf[n] = 0;
    *len = n;
done:
    if (f != stdin)
        fclose(f);
    return buf;
}

/* Read one TLE file into ss. Returns an exit code. */
static int read_tles(const char *path, int lenient, sats *ss)
{
    orb_tle_set set;
    size_t len;
    char err[512] = "", *buf = slurp(path, &len);
    int rc, ex = EXIT_OK;

    if (!buf)
        return EXIT_FAIL;
    orb_tle_set_init(&set, 0);
    rc = orb_tle_set_parse(&set, buf, len, lenient ? ORB_TLE_LENIENT : 0,
                           err, sizeof err);
    free(buf);
    if (rc < 0) {
        cli_err(VERB, "%s: %s", path, err[0] ? err : lg_strerror(rc));
        ex = rc == -ENOMEM ? EXIT_FAIL : EXIT_DATA;
        goto out;
    }
    if (set.nbad) {
        for (size_t i = 0; i < set.nbad && i < MAX_BAD_SHOWN; i++)
            cli_err(VERB, "%s%s: %s", lenient ? "warning: " : "", path,
                    set.bad[i].msg);
        if (set.nbad > MAX_BAD_SHOWN)
            cli_err(VERB, "%s%s: %zu more bad records", lenient ?
                    "warning: " : "", path, set.nbad - MAX_BAD_SHOWN);
        if (!lenient) {
            cli_err(VERB, "%s: %zu bad TLE record%s (--lenient skips them)",
                    path, set.nbad, set.nbad == 1 ? "" : "s");
            ex = EXIT_DATA;
            goto out;
        }
    }
    if (set.n == 0) {
        cli_err(VERB, "%s: no TLEs in it", path);
        ex = EXIT_DATA;
        goto out;
    }
    for (size_t i = 0; i < set.n; i++) {
        if (ss->n == ss->cap) {
            int cap = ss->cap ? 2 * ss->cap : 64;
            orb_tle *nt;
            if (cap > ORB_TLE_MAX_SATS) {
                cli_err(VERB, "more than %d satellites", ORB_TLE_MAX_SATS);
                ex = EXIT_USAGE;
                goto out;
            }
            nt = realloc(ss->tle, (size_t)cap * sizeof *nt);
            if (!nt) {
                ex = EXIT_FAIL;
                goto out;
            }
            ss->tle = nt;
            ss->cap = cap;
        }
        ss->tle[ss->n++] = set.v[i];
    }
out:
    orb_tle_set_free(&set);
    return ex;
}

/* SGP4 initialisation of every satellite; unusable elements are bad data
 * (or, with --lenient, dropped with a warning). */
static int init_sats(sats *ss, int lenient)
{
    int k = 0;
    ss->sat = calloc((size_t)ss->n + 1, sizeof *ss->sat);
    ss->name = calloc((size_t)ss->n + 1, sizeof *ss->name);
    ss->label = calloc((size_t)ss->n + 1, sizeof *ss->label);
    if (!ss->sat || !ss->name || !ss->label) {
        cli_err(VERB, "out of memory");
        return EXIT_FAIL;
    }
    for (int i = 0; i < ss->n; i++) {
        char err[300];
        int rc = orb_sgp4_init(&ss->sat[k], &ss->tle[i], err, sizeof err);
        if (rc < 0 && rc != LG_EMODEL) {
            cli_err(VERB, "%scatalog %d%s%s%s: %s", lenient ? "warning: " : "",
                    ss->tle[i].satnum, ss->tle[i].name[0] ? " (" : "",
                    ss->tle[i].name, ss->tle[i].name[0] ? ")" : "", err);
            if (!lenient)
                return EXIT_DATA;
            continue;
        }
        /* LG_EMODEL: SGP4 fails at the epoch already; the window search
         * reports it per satellite. */
        ss->tle[k] = ss->tle[i];
        k++;
    }
    ss->n = k;
    for (int i = 0; i < ss->n; i++) {
        snprintf(ss->label[i], sizeof ss->label[i], "catalog %d",
                 ss->tle[i].satnum);
        ss->name[i] = ss->tle[i].name[0] ? ss->tle[i].name : ss->label[i];
    }
    if (ss->n == 0) {
        cli_err(VERB, "no usable satellites");
        return EXIT_DATA;
    }
    return EXIT_OK;
}

static void sats_free(sats *ss)
{
    free(ss->tle);
    free(ss->sat);
    free(ss->name);
    free(ss->label);
}

/* ------------------------------------------------------------- output */

typedef struct run {
    const orb_contact_cfg *cfg;
    sats *ss;
    const orb_station *st;
    int nst;
    orb_contact_list *l;
    orb_eclipse **ecl;           /* per satellite */
    size_t *necl;
    double rate, isl_rate, moon_rate; /* bit/s */
} run;

static const char *iso_ms(double t, char *buf, size_t len)
{
    return lg_time_fmt_fixed(buf, len, t, 3);
}

/* "2024-03-02T07:40:31.2Z" for tables. */
static const char *iso_ds(double t, char *buf, size_t len)
{
    return lg_time_fmt_fixed(buf, len, t, 1);
}

static const char *dur(double s, char *buf, size_t len)
{
    long t = lround(s);
    if (s < 60)
        snprintf(buf, len, "%.1fs", s);
    else if (t < 3600)
        snprintf(buf, len, "%ldm%02lds", t / 60, t % 60);
    else
        snprintf(buf, len, "%ldh%02ldm%02lds", t / 3600, t / 60 % 60, t % 60);
    return buf;
}

static const char *win_from(const run *r, const orb_window *w)
{
    return w->kind == ORB_WIN_MOON ? "moon" : r->ss->name[w->a];
}

static const char *win_to(const run *r, const orb_window *w)
{
    return w->kind == ORB_WIN_ISL ? r->ss->name[w->b] : r->st[w->b].name;
}

static void print_table(const run *r)
{
    const orb_contact_list *l = r->l;
    char a[100], b[100], d[100];
    int first;

    printf("PASSES (elevation above each station's mask)\n");
    printf("%-24s %-12s %-22s %-22s %9s %6s %s\n", "SATELLITE", "STATION",
           "START", "END", "DURATION", "MAXEL", "LIGHT_MS");
    for (size_t i = 0; i < l->n_win; i++) {
        const orb_window *w = &l->win[i];
        if (w->kind != ORB_WIN_STATION)
            continue;
        printf("%-24s %-12s %-22s %-22s %9s %6.1f %.2f-%.2f%s\n",
               r->ss->name[w->a], r->st[w->b].name,
               iso_ds(w->start, a, sizeof a), iso_ds(w->end, b, sizeof b),
               dur(w->end - w->start, d, sizeof d), w->max_el_deg,
               w->lt_min * 1e3, w->lt_max * 1e3,
               w->clip_start || w->clip_end ? " (clipped)" : "");
    }
    first = 1;
    for (size_t i = 0; i < l->n_win; i++) {
        const orb_window *w = &l->win[i];
        if (w->kind != ORB_WIN_ISL)
            continue;
        if (first) {
            printf("\nINTER-SATELLITE (line of sight %g km above the "
                   "surface", ORB_CONTACT_ISL_MARGIN_KM);
            if (r->cfg->isl_max_km > 0)
                printf(", range <= %g km", r->cfg->isl_max_km);
            printf(")\n%-24s %-24s %-22s %-22s %9s %s\n", "SATELLITE",
                   "SATELLITE", "START", "END", "DURATION", "LIGHT_MS");
            first = 0;
        }
        printf("%-24s %-24s %-22s %-22s %9s %.2f-%.2f%s\n",
               r->ss->name[w->a], r->ss->name[w->b],
               iso_ds(w->start, a, sizeof a), iso_ds(w->end, b, sizeof b),
               dur(w->end - w->start, d, sizeof d), w->lt_min * 1e3,
               w->lt_max * 1e3,
               w->clip_start || w->clip_end ? " (clipped)" : "");
    }
    first = 1;
    for (size_t i = 0; i < l->n_win; i++) {
        const orb_window *w = &l->win[i];
        if (w->kind != ORB_WIN_MOON)
            continue;
        if (first) {
            printf("\nMOON (above each station's mask)\n%-12s %-22s %-22s "
                   "%9s %6s %s\n", "STATION", "START", "END", "DURATION",
                   "MAXEL", "LIGHT_MS");
            first = 0;
        }
        printf("%-12s %-22s %-22s %9s %6.1f %.1f-%.1f%s\n", r->st[w->b].name,
               iso_ds(w->start, a, sizeof a), iso_ds(w->end, b, sizeof b),
               dur(w->end - w->start, d, sizeof d), w->max_el_deg,
               w->lt_min * 1e3, w->lt_max * 1e3,
               w->clip_start || w->clip_end ? " (clipped)" : "");
    }
    printf("\nECLIPSES (shadow: penumbra start/end; umbra inside)\n");
    printf("%-24s %-22s %-22s %-22s %-22s %9s\n", "SATELLITE", "SHADOW_START",
           "UMBRA_START", "UMBRA_END", "SHADOW_END", "UMBRA");
    for (int s = 0; s < r->ss->n; s++)
        for (size_t k = 0; k < r->necl[s]; k++) {
            const orb_eclipse *e = &r->ecl[s][k];
            char u1[100], u2[100];
            printf("%-24s %-22s %-22s %-22s %-22s %9s%s\n", r->ss->name[s],
                   iso_ds(e->start, a, sizeof a),
                   iso_ds(e->umb_start, u1, sizeof u1),
                   iso_ds(e->umb_end, u2, sizeof u2),
                   iso_ds(e->end, b, sizeof b),
                   isnan(e->umb_start) ? "-"
                                       : dur(e->umb_end - e->umb_start, d,
                                             sizeof d),
                   e->clip_start || e->clip_end ? " (clipped)" : "");
        }
}

static void jnum(double x, const char *fmt)
{
    if (isfinite(x))
        printf(fmt, x);
    else
        printf("null");
}

static void jtime(double t)
{
    char b[100];
    if (isfinite(t))
        printf("\"%s\"", iso_ms(t, b, sizeof b));
    else
        printf("null");
}

static double win_rate(const run *r, const orb_window *w)
{
    return w->kind == ORB_WIN_ISL ? r->isl_rate
         : w->kind == ORB_WIN_MOON ? r->moon_rate : r->rate;
}

static void print_json(const run *r)
{
    const orb_contact_list *l = r->l;
    const orb_contact_cfg *c = r->cfg;

    printf("{\"span\":{\"start\":");
    jtime(c->from);
    printf(",\"end\":");
    jtime(c->from + c->span);
    printf(",\"seconds\":%.3f},\"satellites\":[", c->span);
    for (int i = 0; i < r->ss->n; i++) {
        printf("%s{\"name\":", i ? "," : "");
        cli_json_str(stdout, r->ss->name[i]);
        printf(",\"catalog\":%d,\"epoch\":", r->ss->tle[i].satnum);
        jtime(r->ss->tle[i].epoch_unix);
        printf("}");
    }
    printf("],\"stations\":[");
    for (int i = 0; i < r->nst; i++) {
        const orb_station *s = &r->st[i];
        printf("%s{\"name\":", i ? "," : "");
        cli_json_str(stdout, s->name);
        printf(",\"lat_deg\":%.9g,\"lon_deg\":%.9g,\"alt_m\":%.9g,"
               "\"mask_deg\":%.9g}", s->site.lat_deg, s->site.lon_deg,
               s->site.alt_m, s->mask_deg);
    }
    printf("],\"windows\":[");
    for (size_t i = 0; i < l->n_win; i++) {
        const orb_window *w = &l->win[i];
        static const char *kinds[] = { "station", "isl", "moon" };
        printf("%s\n{\"kind\":\"%s\",\"from\":", i ? "," : "", kinds[w->kind]);
        cli_json_str(stdout, win_from(r, w));
        printf(",\"to\":");
        cli_json_str(stdout, win_to(r, w));
        printf(",\"start\":");
        jtime(w->start);
        printf(",\"end\":");
        jtime(w->end);
        printf(",\"duration_s\":%.3f,\"start_clipped\":%s,\"end_clipped\":%s",
               w->end - w->start, w->clip_start ? "true" : "false",
               w->clip_end ? "true" : "false");
        if (w->kind != ORB_WIN_ISL) {
            printf(",\"max_elevation_deg\":");
            jnum(w->max_el_deg, "%.4f");
            printf(",\"max_elevation_time\":");
            jtime(w->t_max);
        }
        printf(",\"light_time_ms\":{\"min\":");
        jnum(w->lt_min * 1e3, "%.6f");
        printf(",\"max\":");
        jnum(w->lt_max * 1e3, "%.6f");
        printf("},\"rate_bit_s\":%.17g,\"light_time_samples\":[",
               win_rate(r, w));
        for (size_t k = 0; k < w->lt_n; k++) {
            const orb_lt *s = &l->lt[w->lt_first + k];
            printf("%s[%.4f,%.6f]", k ? "," : "", s->t - c->from,
                   s->lt * 1e3);
        }
        printf("]}");
    }
    printf("],\n\"eclipses\":[");
    {
        int first = 1;
        for (int s = 0; s < r->ss->n; s++)
            for (size_t k = 0; k < r->necl[s]; k++) {
                const orb_eclipse *e = &r->ecl[s][k];
                printf("%s\n{\"satellite\":", first ? "" : ",");
                first = 0;
                cli_json_str(stdout, r->ss->name[s]);
                printf(",\"start\":");
                jtime(e->start);
                printf(",\"end\":");
                jtime(e->end);
                printf(",\"umbra_start\":");
                jtime(e->umb_start);
                printf(",\"umbra_end\":");
                jtime(e->umb_end);
                printf(",\"start_clipped\":%s,\"end_clipped\":%s}",
                       e->clip_start ? "true" : "false",
                       e->clip_end ? "true" : "false");
            }
    }
    printf("],\n\"warnings\":[");
    for (size_t i = 0; i < l->n_warn && i < ORB_CONTACT_MAX_WARN; i++) {
        printf("%s", i ? "," : "");
        cli_json_str(stdout, l->warn[i].msg);
    }
    printf("]}\n");
}

/* ION node numbers: stations 1..S, the Moon S+1, satellites by catalog
 * number. Returns -1 (with a message) when they collide. */
static int ion_numbers(const run *r, int moon)
{
    int lim = r->nst + (moon ? 1 : 0);
    for (int i = 0; i < r->ss->n; i++) {
        int num = r->ss->tle[i].satnum;
        if (num <= lim) {
            cli_err(VERB, "--ion: catalog number %d of %s collides with the "
                    "station/Moon node numbers 1..%d", num, r->ss->name[i],
                    lim);
            return -1;
        }
        for (int j = 0; j < i; j++)
            if (r->ss->tle[j].satnum == num) {
                cli_err(VERB, "--ion: catalog number %d appears twice (%s, "
                        "%s)", num, r->ss->name[j], r->ss->name[i]);
                return -1;
            }
    }
    return 0;
}

static int ion_node(const run *r, const orb_window *w, int which)
{
    int idx = which ? w->b : w->a;
    if (w->kind == ORB_WIN_ISL || (w->kind == ORB_WIN_STATION && !which))
        return r->ss->tle[idx].satnum;
    if (w->kind == ORB_WIN_MOON && !which)
        return r->nst + 1;
    return idx + 1;              /* a station */
}

static void print_ion(const run *r, int moon)
{
    const orb_contact_list *l = r->l;
    const orb_contact_cfg *c = r->cfg;
    char a[100];
    time_t tt = (time_t)floor(c->from);
    struct tm tm;
    double base = floor(c->from);

    printf("# lagrange contacts: ION contact plan, %s + %.0f s\n",
           iso_ms(c->from, a, sizeof a), c->span);
    printf("# Rates in bytes/s (ION's unit): ground %.17g, ISL %.17g, Moon "
           "%.17g bit/s.\n", r->rate, r->isl_rate, r->moon_rate);
    printf("# Times: whole seconds after the '@' time, each contact shrunk "
           "to whole\n# seconds inside its window; OWLT in whole seconds, "
           "rounded up.\n");
    for (int i = 0; i < r->nst; i++)
        printf("# node %d = %s (station %.6f, %.6f, %g m, mask %g deg)\n",
               i + 1, r->st[i].name, r->st[i].site.lat_deg,
               r->st[i].site.lon_deg, r->st[i].site.alt_m,
               r->st[i].mask_deg);
    if (moon)
        printf("# node %d = moon\n", r->nst + 1);
    for (int i = 0; i < r->ss->n; i++)
        printf("# node %d = %s (satellite)\n", r->ss->tle[i].satnum,
               r->ss->name[i]);
    gmtime_r(&tt, &tm);
    printf("@ %04d/%02d/%02d-%02d:%02d:%02d\n", tm.tm_year + 1900,
           tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    for (size_t i = 0; i < l->n_win; i++) {
        const orb_window *w = &l->win[i];
        double t1 = ceil(w->start - base), t2 = floor(w->end - base);
        double bytes = floor(win_rate(r, w) / 8.0);
        int x = ion_node(r, w, 0), y = ion_node(r, w, 1);
        if (!(t2 > t1))
            continue;            /* under a whole second */
        if (bytes < 1)
            bytes = 1;
        printf("a contact +%.0f +%.0f %d %d %.0f\n", t1, t2, x, y, bytes);
        printf("a contact +%.0f +%.0f %d %d %.0f\n", t1, t2, y, x, bytes);
        printf("a range +%.0f +%.0f %d %d %.0f\n", t1, t2, x < y ? x : y,
               x < y ? y : x, ceil(w->lt_max));
    }
}

/* ---------------------------------------------------------------- SVG */

static void xml_str(FILE *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        default:
            if ((unsigned char)*s >= 0x20)
                fputc(*s, f);
        }
    }
}

static const char *palette[] = {
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f",
};
#define NPAL (sizeof palette / sizeof palette[0])

static int write_svg(const run *r, const char *path, int moon)
{
    const orb_contact_cfg *c = r->cfg;
    const orb_contact_list *l = r->l;
    FILE *f = fopen(path, "w");
    double left = 190, right = 30, width = 1400, top = 70, rowh = 24;
    int rows = r->ss->n + (moon ? r->nst : 0);
    double legend_y = top + rows * rowh + 40;
    double height = legend_y + 20 * ((r->nst + 3) / 4) + 40;
    double span = c->span, plotw = width - left - right, tick;
    char a[100], b[100];

#define X(t) (left + plotw * (((t) - c->from) / span))
    if (!f) {
        cli_err(VERB, "--svg %s: %s", path, strerror(errno));
        return EXIT_FAIL;
    }
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" "
            "height=\"%.0f\" font-family=\"sans-serif\">\n", width, height);
    fprintf(f, "<rect width=\"100%%\" height=\"100%%\" fill=\"#ffffff\"/>\n");
    fprintf(f, "<text x=\"12\" y=\"24\" font-size=\"16\" "
            "font-weight=\"bold\">Contact windows and eclipses</text>\n");
    fprintf(f, "<text x=\"12\" y=\"44\" font-size=\"12\" fill=\"#444444\">"
            "%s to %s UTC; %d satellites, %d stations; passes coloured by "
            "station, shadow shaded (dark: umbra)</text>\n",
            iso_ds(c->from, a, sizeof a), iso_ds(c->from + span, b, sizeof b),
            r->ss->n, r->nst);
    /* time grid: a tick every 1, 2, 3, 6, 12 or 24 h, or per day */
    tick = span <= 6 * 3600 ? 1800 : span <= 12 * 3600 ? 3600
         : span <= 36 * 3600 ? 3 * 3600 : span <= 4 * 86400 ? 12 * 3600
         : 86400 * ceil(span / 86400 / 8);
    for (double t = ceil(c->from / tick) * tick; t <= c->from + span;
         t += tick) {
        time_t tt = (time_t)t;
        struct tm tm;
        gmtime_r(&tt, &tm);
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
                "stroke=\"#dddddd\"/>\n", X(t), top - 6, X(t),
                top + rows * rowh);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\" "
                "text-anchor=\"middle\" fill=\"#555555\">", X(t), top - 10);
        if (tm.tm_hour == 0 && tm.tm_min == 0)
            fprintf(f, "%02d-%02d", tm.tm_mon + 1, tm.tm_mday);
        else
            fprintf(f, "%02d:%02d", tm.tm_hour, tm.tm_min);
        fprintf(f, "</text>\n");
    }
    for (int s = 0; s < r->ss->n; s++) {
        double y = top + s * rowh;
        fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
                "height=\"%.1f\" fill=\"%s\"/>\n", left, y, plotw, rowh,
                s % 2 ? "#fafafa" : "#f2f5f9");
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\" "
                "text-anchor=\"end\">", left - 8, y + rowh * 0.68);
        xml_str(f, r->ss->name[s]);
        fprintf(f, "</text>\n");
        for (size_t k = 0; k < r->necl[s]; k++) {
            const orb_eclipse *e = &r->ecl[s][k];
            fprintf(f, "<rect x=\"%.2f\" y=\"%.1f\" width=\"%.2f\" "
                    "height=\"%.1f\" fill=\"#b0b0b0\"><title>shadow %s - %s"
                    "</title></rect>\n", X(e->start), y + 2,
                    fmax(0.5, X(e->end) - X(e->start)), rowh - 4,
                    iso_ds(e->start, a, sizeof a), iso_ds(e->end, b, sizeof b));
            if (!isnan(e->umb_start))
                fprintf(f, "<rect x=\"%.2f\" y=\"%.1f\" width=\"%.2f\" "
                        "height=\"%.1f\" fill=\"#808080\"/>\n",
                        X(e->umb_start), y + 2,
                        fmax(0.5, X(e->umb_end) - X(e->umb_start)),
                        rowh - 4);
        }
    }
    for (int s = 0; moon && s < r->nst; s++) {
        double y = top + (r->ss->n + s) * rowh;
        fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
                "height=\"%.1f\" fill=\"#fbf8ee\"/>\n", left, y, plotw, rowh);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\" "
                "text-anchor=\"end\">Moon from %s</text>\n", left - 8,
                y + rowh * 0.68, r->st[s].name);
    }
    for (size_t i = 0; i < l->n_win; i++) {
        const orb_window *w = &l->win[i];
        double y;
        const char *col;
        if (w->kind == ORB_WIN_ISL)
            continue;
        y = w->kind == ORB_WIN_STATION ? top + w->a * rowh
                                       : top + (r->ss->n + w->b) * rowh;
        col = palette[(size_t)w->b % NPAL];
        fprintf(f, "<rect x=\"%.2f\" y=\"%.1f\" width=\"%.2f\" "
                "height=\"%.1f\" fill=\"%s\" fill-opacity=\"0.9\"><title>",
                X(w->start), y + 6, fmax(1.5, X(w->end) - X(w->start)),
                rowh - 12, col);
        xml_str(f, win_from(r, w));
        fprintf(f, " - %s: %s - %s, max %.1f deg, %.2f-%.2f ms</title>"
                "</rect>\n", r->st[w->b].name, iso_ds(w->start, a, sizeof a),
                iso_ds(w->end, b, sizeof b), w->max_el_deg, w->lt_min * 1e3,
                w->lt_max * 1e3);
    }
    fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
            "fill=\"none\" stroke=\"#999999\"/>\n", left, top, plotw,
            rows * rowh);
    for (int s = 0; s < r->nst; s++) {
        double x = left + (s % 4) * 260, y = legend_y + (s / 4) * 20;
        fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"14\" height=\"10\" "
                "fill=\"%s\"/>\n<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\">"
                "%s (mask %g deg)</text>\n", x, y - 9, palette[(size_t)s % NPAL],
                x + 20, y, r->st[s].name, r->st[s].mask_deg);
    }
    {
        double y = legend_y + 20 * ((r->nst + 3) / 4) + 6;
        fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"14\" height=\"10\" "
                "fill=\"#b0b0b0\"/>\n<text x=\"%.1f\" y=\"%.1f\" "
                "font-size=\"12\">penumbra</text>\n", left, y - 9, left + 20,
                y);
        fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"14\" height=\"10\" "
                "fill=\"#808080\"/>\n<text x=\"%.1f\" y=\"%.1f\" "
                "font-size=\"12\">umbra</text>\n", left + 120, y - 9,
                left + 140, y);
    }
    fprintf(f, "</svg>\n");
#undef X
    if (fclose(f) != 0) {
        cli_err(VERB, "--svg %s: %s", path, strerror(errno));
        return EXIT_FAIL;
    }
    return EXIT_OK;
}

/* --------------------------------------------------------------- main */

int cmd_contacts(int argc, char **argv)
{
    static const struct option opts[] = {
        { "tle", required_argument, 0, 't' },
        { "station", required_argument, 0, 's' },
        { "from", required_argument, 0, 'f' },
        { "span", required_argument, 0, 'S' },
        { "isl", required_argument, 0, 'I' },
        { "moon", no_argument, 0, 'M' },
        { "lenient", no_argument, 0, 'L' },
        { "json", no_argument, 0, 'j' },
        { "ion", no_argument, 0, 'i' },
        { "svg", required_argument, 0, 'g' },
        { "rate", required_argument, 0, 'r' },
        { "isl-rate", required_argument, 0, 'R' },
        { "moon-rate", required_argument, 0, 'm' },
        { "mask", required_argument, 0, 'k' },
        { "dut1", required_argument, 0, 'u' },
        { "step", required_argument, 0, 'p' },
        { "help", no_argument, 0, 'h' },
        { 0, 0, 0, 0 },
    };
    const char *tles[MAX_TLE_FILES], *svg = NULL, *from_s = NULL;
    const char *st_args[ORB_CONTACT_MAX_STATIONS];
    int ntle = 0, nst_arg = 0, moon = 0, lenient = 0, json = 0, ion = 0;
    int c, ex = EXIT_OK, isl = 0;
    double span = DEF_SPAN_S, isl_km = 0, mask = DEF_MASK_DEG, dut1 = 0;
    double step = 0, rate = DEF_RATE, isl_rate = DEF_ISL_RATE;
    double moon_rate = DEF_MOON_RATE, from;
    orb_station *st = NULL;
    sats ss = { 0 };
    orb_contact_cfg cfg;
    orb_contact_list l;
    orb_eclipse **ecl = NULL;
    size_t *necl = NULL;
    char err[1024] = "";
    run r;

    optind = 1;
    orb_contact_list_init(&l, 0, 0);
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 't':
            if (ntle == MAX_TLE_FILES) {
                cli_err(VERB, "at most %d --tle files", MAX_TLE_FILES);
                return EXIT_USAGE;
            }
            tles[ntle++] = optarg;
            break;
        case 's':
            if (nst_arg == ORB_CONTACT_MAX_STATIONS) {
                cli_err(VERB, "at most %d stations", ORB_CONTACT_MAX_STATIONS);
                return EXIT_USAGE;
            }
            st_args[nst_arg++] = optarg;
            break;
        case 'f': from_s = optarg; break;
        case 'S':
            if (parse_dur(optarg, &span) < 0 || !(span > 0) ||
                span > ORB_CONTACT_MAX_SPAN_S) {
                cli_err(VERB, "--span '%s': want N[s|m|h|d], > 0, at most "
                        "400d", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'I':
            if (parse_num(optarg, &isl_km) < 0 || isl_km < 0) {
                cli_err(VERB, "--isl '%s': want a range in km (0: no limit)",
                        optarg);
                return EXIT_USAGE;
            }
            isl = 1;
            break;
        case 'M': moon = 1; break;
        case 'L': lenient = 1; break;
        case 'j': json = 1; break;
        case 'i': ion = 1; break;
        case 'g': svg = optarg; break;
        case 'r':
        case 'R':
        case 'm': {
            double *dst = c == 'r' ? &rate : c == 'R' ? &isl_rate : &moon_rate;
            if (parse_rate(optarg, dst) < 0) {
                cli_err(VERB, "bad rate '%s' (bit/s, > 0, k/M/G suffixes)",
                        optarg);
                return EXIT_USAGE;
            }
            break;
        }
        case 'k':
            if (parse_num(optarg, &mask) < 0 || mask < -10 || mask > 90) {
                cli_err(VERB, "--mask '%s': want degrees in [-10, 90]",
                        optarg);
                return EXIT_USAGE;
            }
            break;
        case 'u':
            if (parse_num(optarg, &dut1) < 0 || fabs(dut1) >= 1) {
                cli_err(VERB, "--dut1 '%s': want seconds, |UT1-UTC| < 1",
                        optarg);
                return EXIT_USAGE;
            }
            break;
        case 'p':
            if (parse_num(optarg, &step) < 0 || step < 1 || step > 3600) {
                cli_err(VERB, "--step '%s': want seconds in [1, 3600]",
                        optarg);
                return EXIT_USAGE;
            }
            break;
        case 'h': help(stdout); return EXIT_OK;
        default: help(stderr); return EXIT_USAGE;
        }
    }
    if (optind != argc) {
        cli_err(VERB, "unexpected argument '%s'", argv[optind]);
        return EXIT_USAGE;
    }
    if (!ntle || !nst_arg || !from_s) {
        cli_err(VERB, "need --tle FILE, --station NAME=LAT,LON,ALT_M and "
                "--from TIME");
        help(stderr);
        return EXIT_USAGE;
    }
    if (json + ion + (svg != NULL) > 1) {
        cli_err(VERB, "--json, --ion and --svg exclude each other");
        return EXIT_USAGE;
    }
    if (lg_time_parse_iso(from_s, &from) < 0) {
        cli_err(VERB, "--from '%s': want ISO 8601 UTC, e.g. "
                "2024-03-02T00:00:00Z", from_s);
        return EXIT_USAGE;
    }
    st = calloc((size_t)nst_arg, sizeof *st);
    if (!st) {
        ex = EXIT_FAIL;
        goto out;
    }
    for (int i = 0; i < nst_arg; i++) {
        if (parse_station(st_args[i], mask, &st[i]) < 0) {
            ex = EXIT_USAGE;
            goto out;
        }
        for (int j = 0; j < i; j++)
            if (!strcmp(st[j].name, st[i].name)) {
                cli_err(VERB, "station '%s' given twice", st[i].name);
                ex = EXIT_USAGE;
                goto out;
            }
    }
    for (int i = 0; i < ntle; i++)
        if ((ex = read_tles(tles[i], lenient, &ss)) != EXIT_OK)
            goto out;
    if ((ex = init_sats(&ss, lenient)) != EXIT_OK)
        goto out;

    orb_contact_cfg_init(&cfg, from, span);
    cfg.dut1 = dut1;
    cfg.step = step;
    cfg.isl_max_km = isl_km;
    r = (run){ &cfg, &ss, st, nst_arg, &l, NULL, NULL, rate, isl_rate,
               moon_rate };
    if (ion && ion_numbers(&r, moon) < 0) {
        ex = EXIT_USAGE;
        goto out;
    }
    for (int i = 0; i < ss.n; i++) {
        int rc = orb_contact_stations(&cfg, &ss.sat[i], i, ss.name[i], st,
                                      nst_arg, &l, err, sizeof err);
        if (rc < 0) {
            cli_err(VERB, "%s", err);
            ex = cli_exit_code(rc);
            goto out;
        }
    }
    if (isl) {
        int rc = orb_contact_isl(&cfg, ss.sat, ss.name, ss.n, &l, err,
                                 sizeof err);
        if (rc < 0) {
            cli_err(VERB, "--isl: %s", err);
            ex = rc == -E2BIG ? EXIT_USAGE : cli_exit_code(rc);
            goto out;
        }
    }
    if (moon) {
        int rc = orb_contact_moon(&cfg, st, nst_arg, &l, err, sizeof err);
        if (rc < 0) {
            cli_err(VERB, "--moon: %s", err);
            ex = cli_exit_code(rc);
            goto out;
        }
    }
    orb_contact_sort(&l);

    ecl = calloc((size_t)ss.n, sizeof *ecl);
    necl = calloc((size_t)ss.n, sizeof *necl);
    if (!ecl || !necl) {
        ex = EXIT_FAIL;
        goto out;
    }
    for (int i = 0; i < ss.n; i++) {
        /* at most one shadow per orbit, and orbits last >= 85 minutes */
        size_t max = (size_t)(span / (85 * 60)) + 4;
        int rc;
        ecl[i] = malloc(max * sizeof **ecl);
        if (!ecl[i]) {
            ex = EXIT_FAIL;
            goto out;
        }
        rc = orb_eclipse_find(&ss.sat[i], from, span, step, 0, ecl[i], max,
                              &necl[i], NULL, err, sizeof err);
        if (rc == LG_EMODEL)
            continue;            /* said already by the window search */
        if (rc < 0) {
            cli_err(VERB, "eclipses of %s: %s", ss.name[i], err);
            ex = cli_exit_code(rc);
            goto out;
        }
    }
    r.ecl = ecl;
    r.necl = necl;

    for (size_t i = 0; i < l.n_warn && i < ORB_CONTACT_MAX_WARN; i++)
        cli_err(VERB, "warning: %s", l.warn[i].msg);
    if (l.n_warn > ORB_CONTACT_MAX_WARN)
        cli_err(VERB, "warning: %zu more warnings",
                l.n_warn - ORB_CONTACT_MAX_WARN);

    if (json)
        print_json(&r);
    else if (ion)
        print_ion(&r, moon);
    else if (svg)
        ex = write_svg(&r, svg, moon);
    else
        print_table(&r);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        cli_err(VERB, "write error on standard output");
        ex = EXIT_FAIL;
    }
out:
    if (ecl)
        for (int i = 0; i < ss.n; i++)
            free(ecl[i]);
    free(ecl);
    free(necl);
    orb_contact_list_free(&l);
    sats_free(&ss);
    free(st);
    return ex;
}
