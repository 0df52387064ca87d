/*
 * topology.c - the planner's topology: the lagrange-topology(5) parser,
 * its checks, the normal-form printer and the lookups.
 *
 * Parsing makes two passes over the lines. The first reads the settings
 * that other lines depend on wherever they appear (Epoch for ION absolute
 * times, Horizon for periodic schedules) and notes whether the file
 * declares any Node (if not, ION node numbers create nodes). The second
 * builds profiles, nodes and links in declaration order. Windows and
 * eclipses are gathered together with the line that gave them, so that
 * the final sort-and-check can name the line of an overlap; ION contacts
 * get their light time from the ranges only then, because an ION plan
 * usually lists its ranges after its contacts. Every array is bounded by
 * a PLAN_MAX_* constant before it grows.
 *
 * Orbit keys (Tle=, Lat=/Lon=, Moon=yes; Window=orbit, Eclipse=orbit)
 * call into lib/orbit during the second pass, at the line that asks: see
 * the "orbits" section. Their windows and eclipses join the gathered ones
 * and go through the same checks; the printer writes the keys as
 * declared, not the intervals they gave.
 *
 * The printer writes each number in the shortest form that the parser
 * reads back as the same double, so print -> parse -> print is a fixed
 * point (tests/test_topology.sh checks it).
 *
 * Threading: a parse touches only its own state; a loaded topology is
 * read-only.
 */
#include "topology.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include "eclipse.h"
#include "frames.h"
#include "ion.h"
#include "lgerr.h"
#include "lgtime.h"
#include "units.h"
#include "passes.h"
#include "sgp4.h"
#include "sun.h"
#include "tle.h"

#define MAX_WORDS 64             /* words on one line */
#define PER_LINE 50              /* windows / eclipses per printed line */
#define DEFAULT_MEMORY (16ull << 30)
#define DEFAULT_MIN_SOC 0.2
#define DEFAULT_SOC 1.0
#define DEFAULT_OVERHEAD 5e-6

static const plan_profile builtin = {
    "local", { 150e9, 150e9, 4e9, 4e9 }, 20e9, 5e-6, 0,
};

static const char *const kind_names[] = { "ground", "leo", "geo", "lunar" };
static const char *const oc_names[] = { "conv", "gemm", "elem", "other" };

/* ---- numbers and units (lib/common/units.c) ----------------------------- */

#define DUR_HINT "units us, ms, s, min, h, d"
#define DEC_HINT "suffixes k, M, G, T, P"

/* Bytes/s as the bit/s the file speaks. */
static const char *fmt_rate(char *buf, size_t n, double bytes)
{
    return lg_units_fmt(buf, n, bytes * 8, lg_units_dec, "");
}

static const char *fmt_dur(char *buf, size_t n, double s)
{
    return lg_units_fmt(buf, n, s, lg_units_dur, "s");
}

static const char *fmt_mem(char *buf, size_t n, uint64_t m)
{
    static const char sfx[] = "TGMK";
    for (int i = 0; i < 4; i++) {
        uint64_t u = 1ull << (10 * (4 - i));
        if (m >= u && m % u == 0) {
            snprintf(buf, n, "%llu%c", (unsigned long long)(m / u), sfx[i]);
            return buf;
        }
    }
    snprintf(buf, n, "%llu", (unsigned long long)m);
    return buf;
}


/* ---- the builder ------------------------------------------------------ */

typedef struct bwin {
    plan_window w;
    int line;
} bwin;

typedef struct bivl {
    plan_interval iv;
    int line;
} bivl;

typedef struct blink {           /* a link while its windows are gathered */
    bwin *w;
    int n, cap;
    double rate, delay;          /* defaults for Window= lines; rate < 0: none */
} blink;

typedef struct bnode {           /* a node's eclipses while gathered */
    bivl *e;
    int n, cap;
    orb_sat *sat;                /* Tle= nodes: SGP4 state, else NULL */
    int sat_bad;                 /* SGP4 fails at the TLE epoch already */
} bnode;

typedef struct tlefile {         /* a TLE file, read once per load */
    char *path;                  /* as opened */
    unsigned flags;              /* ORB_TLE_LENIENT or 0 */
    int64_t mtime;               /* ns since 1970 */
    orb_tle_set set;
} tlefile;

typedef struct pending {         /* an ION contact waiting for its range */
    int link, win;               /* the window it became */
    int from, to;                /* ION node numbers */
    double t;                    /* its start, before clipping at 0 */
    int line;
} pending;

typedef struct sitem {           /* one interval of a parsed schedule */
    double s, e;
    double rate, rate2, delay;   /* per-window overrides; NaN: none */
} sitem;

typedef struct tab {             /* open addressing; slot = index + 1 */
    int *slot;
    size_t cap, n;
} tab;

typedef struct builder {
    plan_topology *t;
    const char *name;            /* for messages */
    char *err;
    size_t errlen;
    int line;                    /* current line, 0: none */
    char *buf;                   /* one line, NUL-terminated */
    int cap_prof, cap_nodes, cap_links;
    unsigned char *seen;         /* profiles declared by this file */
    bnode *bn;                   /* parallel to t->nodes */
    blink *bl;                   /* parallel to t->links */
    tab names, pairs, ions;      /* node names, (from, to), ION numbers */
    pending *pd;
    int n_pd, cap_pd;
    plan_ion_range *rg;
    int n_rg, cap_rg;
    sitem *si;                   /* the schedule being parsed */
    int cap_si;
    size_t n_ivl;                /* windows + eclipses + ranges so far */
    int has_nodes;               /* a Node line: ION numbers must be declared */
    int epoch_line, horizon_line;
    int epoch_set;
    double ion_ref;              /* ION '@' reference time, s after epoch */
    const char *dir;             /* Tle= paths are relative to it; NULL:
                                    the current directory */
    tlefile *tf;                 /* TLE files read so far */
    int n_tf, cap_tf;
    plan_window *ow;             /* scratch for orbit sub-windows */
    size_t cap_ow;
} builder;

static int perr(builder *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int perr(builder *b, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (b->line > 0)
        return lg_errf(b->err, b->errlen, LG_EMODEL, "%s:%d: %s", b->name,
                       b->line, msg);
    return lg_errf(b->err, b->errlen, LG_EMODEL, "%s: %s", b->name, msg);
}

static int oom(builder *b)
{
    return lg_errf(b->err, b->errlen, -ENOMEM, "%s: out of memory", b->name);
}

/* Make room for one more element; caps are checked by the callers. */
static int grow(void **p, int *cap, int n, size_t elem)
{
    void *q;
    int nc;
    if (n < *cap)
        return 0;
    nc = *cap ? *cap * 2 : 8;
    q = realloc(*p, (size_t)nc * elem);
    if (!q)
        return -ENOMEM;
    *p = q;
    *cap = nc;
    return 0;
}

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

static uint64_t hstr(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

static uint64_t hpair(int a, int c)
{
    return mix(((uint64_t)(uint32_t)a << 32) | (uint32_t)c);
}

typedef uint64_t (*keyfn)(const builder *b, int idx);

static uint64_t key_name(const builder *b, int i)
{
    return hstr(b->t->nodes[i].name);
}

static uint64_t key_pair(const builder *b, int i)
{
    return hpair(b->t->links[i].from, b->t->links[i].to);
}

static uint64_t key_ion(const builder *b, int i)
{
    return mix((uint64_t)b->t->nodes[i].ion);
}

static void tab_put(int *slot, size_t cap, uint64_t h, int idx)
{
    size_t i = h & (cap - 1);
    while (slot[i])
        i = (i + 1) & (cap - 1);
    slot[i] = idx + 1;
}

static int tab_add(builder *b, tab *h, int idx, keyfn kf)
{
    if ((h->n + 1) * 2 > h->cap) {
        size_t nc = h->cap ? h->cap * 2 : 64;
        int *ns = calloc(nc, sizeof *ns);
        if (!ns)
            return -ENOMEM;
        for (size_t i = 0; i < h->cap; i++)
            if (h->slot[i])
                tab_put(ns, nc, kf(b, h->slot[i] - 1), h->slot[i] - 1);
        free(h->slot);
        h->slot = ns;
        h->cap = nc;
    }
    tab_put(h->slot, h->cap, kf(b, idx), idx);
    h->n++;
    return 0;
}

static int find_node(const builder *b, const char *name)
{
    const tab *h = &b->names;
    if (!h->cap)
        return -1;
    for (size_t i = hstr(name) & (h->cap - 1);; i = (i + 1) & (h->cap - 1)) {
        int v = h->slot[i];
        if (!v)
            return -1;
        if (!strcmp(b->t->nodes[v - 1].name, name))
            return v - 1;
    }
}

static int find_link(const builder *b, int from, int to)
{
    const tab *h = &b->pairs;
    if (!h->cap)
        return -1;
    for (size_t i = hpair(from, to) & (h->cap - 1);;
         i = (i + 1) & (h->cap - 1)) {
        int v = h->slot[i];
        if (!v)
            return -1;
        if (b->t->links[v - 1].from == from && b->t->links[v - 1].to == to)
            return v - 1;
    }
}

static int find_ion(const builder *b, int num)
{
    const tab *h = &b->ions;
    if (!h->cap)
        return -1;
    for (size_t i = mix((uint64_t)num) & (h->cap - 1);;
         i = (i + 1) & (h->cap - 1)) {
        int v = h->slot[i];
        if (!v)
            return -1;
        if (b->t->nodes[v - 1].ion == num)
            return v - 1;
    }
}

static int find_profile(const plan_topology *t, const char *name)
{
    for (int i = 0; i < t->n_profiles; i++)
        if (!strcmp(t->profiles[i].name, name))
            return i;
    return -1;
}

static void builder_free(builder *b)
{
    if (b->bn)
        for (int i = 0; i < b->t->n_nodes; i++) {
            free(b->bn[i].e);
            free(b->bn[i].sat);
        }
    for (int i = 0; i < b->n_tf; i++) {
        free(b->tf[i].path);
        orb_tle_set_free(&b->tf[i].set);
    }
    free(b->tf);
    free(b->ow);
    if (b->bl)
        for (int i = 0; i < b->t->n_links; i++)
            free(b->bl[i].w);
    free(b->bn);
    free(b->bl);
    free(b->names.slot);
    free(b->pairs.slot);
    free(b->ions.slot);
    free(b->pd);
    free(b->rg);
    free(b->si);
    free(b->seen);
    free(b->buf);
}

/* ---- words, keys and values ------------------------------------------- */

/* Split at white space, dropping '#' to the end of the line. Returns the
 * word count, or -1 if there are more than MAX_WORDS. */
static int split_words(char *s, char **w)
{
    int n = 0;
    char *h = strchr(s, '#');
    if (h)
        *h = '\0';
    for (;;) {
        while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\v' ||
               *s == '\f')
            s++;
        if (!*s)
            return n;
        if (n == MAX_WORDS)
            return -1;
        w[n++] = s;
        while (*s && *s != ' ' && *s != '\t' && *s != '\r' && *s != '\v' &&
               *s != '\f')
            s++;
        if (*s)
            *s++ = '\0';
    }
}

/* Is word "KEY=..." (case-insensitively)? */
static int is_key(const char *w, const char *key)
{
    size_t n = strlen(key);
    return !strncasecmp(w, key, n) && w[n] == '=';
}

static const char *value_of(const char *w)
{
    const char *eq = strchr(w, '=');
    return eq ? eq + 1 : "";
}

/* Words 1..n-1 as values of the keys in names[] (NULL where not given). */
static int kv(builder *b, char **w, int n, const char *entity,
              const char *const *names, int nk, const char **val)
{
    for (int k = 0; k < nk; k++)
        val[k] = NULL;
    for (int i = 1; i < n; i++) {
        char *eq = strchr(w[i], '=');
        int k;
        if (!eq || eq == w[i])
            return perr(b, "expected Key=Value on the %s line, got '%s'",
                        entity, w[i]);
        *eq = '\0';
        for (k = 0; k < nk && strcasecmp(w[i], names[k]); k++)
            ;
        if (k == nk)
            return perr(b, "unknown key '%s' on a %s line", w[i], entity);
        if (val[k])
            return perr(b, "key '%s' given twice", names[k]);
        val[k] = eq + 1;
    }
    return 0;
}

static int check_name(builder *b, const char *what, const char *s)
{
    size_t n = strlen(s);
    int ok = n > 0 && n < PLAN_NAME_MAX;
    for (const char *p = s; ok && *p; p++)
        ok = isalnum((unsigned char)*p) || *p == '.' || *p == '_' ||
             *p == '-';
    if (!ok)
        return perr(b, "bad %s name '%s' (1-%d characters of A-Z a-z 0-9 . _ -)",
                    what, s, PLAN_NAME_MAX - 1);
    return 0;
}

static int val_dur(builder *b, const char *key, const char *v, double *x)
{
    if (lg_units_parse(v, lg_units_dur, 1, x) < 0)
        return perr(b, "bad duration '%s' for %s (" DUR_HINT ")", v, key);
    return 0;
}

static int val_dec(builder *b, const char *key, const char *v, double *x)
{
    if (lg_units_parse(v, lg_units_dec, 1, x) < 0)
        return perr(b, "bad number '%s' for %s (" DEC_HINT ")", v, key);
    return 0;
}

static int val_plain(builder *b, const char *key, const char *v, double *x)
{
    if (lg_units_parse(v, lg_units_plain, 1, x) < 0)
        return perr(b, "bad number '%s' for %s", v, key);
    return 0;
}

/* A rate in bit/s with decimal suffixes, > 0; returns bytes/s. */
static int val_rate(builder *b, const char *key, const char *v, double *x)
{
    if (lg_units_parse(v, lg_units_dec, 1, x) < 0)
        return perr(b, "bad rate '%s' for %s (bit/s, " DEC_HINT ")", v, key);
    if (!(*x > 0))
        return perr(b, "%s must be > 0 bit/s, got '%s'", key, v);
    *x /= 8;
    return 0;
}

/* ---- schedules -------------------------------------------------------- */

static int si_push(builder *b, int n, const sitem *it)
{
    if (b->n_ivl + (size_t)n >= PLAN_MAX_WINDOWS)
        return perr(b, "more than %d windows and eclipses in all",
                    PLAN_MAX_WINDOWS);
    if (grow((void **)&b->si, &b->cap_si, n, sizeof *b->si) < 0)
        return oom(b);
    b->si[n] = *it;
    return 0;
}

/* A rate override inside a window item: RATE[/RATE2], bit/s. */
static int scan_rate(builder *b, const char **pp, const char *item,
                     double *x)
{
    if (lg_units_scan(pp, lg_units_dec, 1, x) < 0)
        return perr(b, "bad rate in window '%s' (bit/s, " DEC_HINT ")", item);
    if (!(*x > 0))
        return perr(b, "rate must be > 0 in window '%s'", item);
    *x /= 8;
    return 0;
}

/* Parse schedule v into b->si[0..*n). `what` names its owner for
 * messages ("windows for link a->b"); over: per-window :RATE[:DELAY]
 * overrides allowed; bidir: RATE/RATE2 allowed. */
static int parse_sched(builder *b, const char *key, const char *v,
                       const char *what, int over, int bidir, int *n,
                       int *always)
{
    const char *p;
    int rc;
    *n = 0;
    *always = 0;
    if (!strcasecmp(v, "always")) {
        *always = 1;
        return 0;
    }
    if (!strcasecmp(v, "none"))
        return 0;
    if (!strncasecmp(v, "every:", 6)) {
        double per, dur, off = 0, k, s0;
        p = v + 6;
        if (lg_units_scan(&p, lg_units_dur, 0, &per) < 0 || *p++ != '/' ||
            lg_units_scan(&p, lg_units_dur, 0, &dur) < 0 ||
            (*p == '@' && (p++, lg_units_scan(&p, lg_units_dur, 1, &off) < 0)) || *p)
            return perr(b, "bad schedule '%s' for %s (every:PERIOD/DURATION"
                        "[@OFFSET], " DUR_HINT ")", v, key);
        if (!(per > 0) || !(dur > 0))
            return perr(b, "%s: period and duration must be > 0 in '%s'",
                        key, v);
        if (dur > per)
            return perr(b, "overlapping %s: duration longer than the period "
                        "in '%s'", what, v);
        if (fabs(off) > 1e10)
            return perr(b, "%s: offset out of range in '%s'", key, v);
        /* First k whose window ends after 0, then count to the horizon
         * before expanding anything. */
        k = off + dur > 0 ? 0 : floor((-off - dur) / per) + 1;
        s0 = off + k * per;
        if (s0 < b->t->horizon &&
            (b->t->horizon - s0) / per + 1 >
                (double)(PLAN_MAX_WINDOWS - b->n_ivl))
            return perr(b, "'%s' makes more than %d windows and eclipses by "
                        "the horizon", v, PLAN_MAX_WINDOWS);
        for (;; k++) {
            sitem it = { off + k * per, off + k * per + dur, NAN, NAN, NAN };
            if (it.s >= b->t->horizon)
                break;
            if (it.e <= 0)
                continue;
            if (it.s < 0)
                it.s = 0;
            /* a period too fine for the numbers' precision */
            if (!(it.e > it.s) || (*n && it.s < b->si[*n - 1].e))
                return perr(b, "%s: '%s' cannot be expanded exactly", key, v);
            if ((rc = si_push(b, *n, &it)) < 0)
                return rc;
            (*n)++;
        }
        return 0;
    }
    p = v;
    for (;;) {
        const char *item = p, *q;
        char ib[128];
        sitem it = { 0, 0, NAN, NAN, NAN };
        for (q = p; *q && *q != ','; q++)
            ;
        snprintf(ib, sizeof ib, "%.*s", (int)(q - item), item);
        if (lg_units_scan(&p, lg_units_dur, 0, &it.s) < 0 || *p++ != '-' ||
            lg_units_scan(&p, lg_units_dur, 0, &it.e) < 0)
            return perr(b, "bad schedule '%s' for %s (always, none, "
                        "every:PERIOD/DURATION[@OFFSET] or START-END,..., "
                        DUR_HINT ")", ib, key);
        if (*p == ':') {
            if (!over)
                return perr(b, "'%s': :RATE:DELAY belongs to link windows "
                            "only", ib);
            p++;
            if ((rc = scan_rate(b, &p, ib, &it.rate)) < 0)
                return rc;
            if (*p == '/') {
                if (!bidir)
                    return perr(b, "'%s': RATE/RATE2 is for A<>B links", ib);
                p++;
                if ((rc = scan_rate(b, &p, ib, &it.rate2)) < 0)
                    return rc;
            }
            if (*p == ':') {
                p++;
                if (lg_units_scan(&p, lg_units_dur, 0, &it.delay) < 0)
                    return perr(b, "bad delay in window '%s' (" DUR_HINT ")",
                                ib);
            }
        }
        if (*p && *p != ',')
            return perr(b, "bad schedule '%s' for %s (START-END[:RATE"
                        "[:DELAY]], " DUR_HINT ")", ib, key);
        if (!(it.e > it.s))
            return perr(b, "%s '%s' has zero or negative duration", key, ib);
        if (*n && it.s < b->si[*n - 1].e) {
            if (it.s < b->si[*n - 1].s)
                return perr(b, "%s out of order at '%s' (list them by start "
                            "time)", what, ib);
            return perr(b, "overlapping %s: '%s' starts before the one "
                        "before it ends", what, ib);
        }
        if ((rc = si_push(b, *n, &it)) < 0)
            return rc;
        (*n)++;
        if (!*p)
            return 0;
        p++;
    }
}

/* ---- entities --------------------------------------------------------- */

static void node_init(plan_node *nd)
{
    memset(nd, 0, sizeof *nd);
    nd->kind = PLAN_GROUND;
    nd->scale = 1;
    nd->memory = DEFAULT_MEMORY;
    nd->power.min_soc = DEFAULT_MIN_SOC;
    nd->power.soc0 = DEFAULT_SOC;
}

static int add_node(builder *b, const plan_node *nd)
{
    plan_topology *t = b->t;
    int i = t->n_nodes;
    if (t->n_nodes >= PLAN_MAX_NODES)
        return perr(b, "more than %d nodes", PLAN_MAX_NODES);
    if (t->n_nodes == b->cap_nodes) {
        int c1 = b->cap_nodes, c2 = b->cap_nodes;
        if (grow((void **)&t->nodes, &c1, i, sizeof *t->nodes) < 0 ||
            grow((void **)&b->bn, &c2, i, sizeof *b->bn) < 0)
            return oom(b);
        /* the smaller of the two is what both can hold */
        b->cap_nodes = c1 < c2 ? c1 : c2;
    }
    t->nodes[i] = *nd;
    memset(&b->bn[i], 0, sizeof b->bn[i]);
    t->n_nodes++;
    if (tab_add(b, &b->names, i, key_name) < 0 ||
        (nd->ion && tab_add(b, &b->ions, i, key_ion) < 0))
        return oom(b);
    return i;
}

static int add_link(builder *b, int from, int to, double rate, double delay)
{
    plan_topology *t = b->t;
    int i = t->n_links;
    if (t->n_links >= PLAN_MAX_LINKS)
        return perr(b, "more than %d links", PLAN_MAX_LINKS);
    if (t->n_links == b->cap_links) {
        int c1 = b->cap_links, c2 = b->cap_links;
        if (grow((void **)&t->links, &c1, i, sizeof *t->links) < 0 ||
            grow((void **)&b->bl, &c2, i, sizeof *b->bl) < 0)
            return oom(b);
        b->cap_links = c1 < c2 ? c1 : c2;
    }
    memset(&t->links[i], 0, sizeof t->links[i]);
    t->links[i].from = from;
    t->links[i].to = to;
    t->links[i].line = b->line;
    b->bl[i] = (blink){ NULL, 0, 0, rate, delay };
    t->n_links++;
    if (tab_add(b, &b->pairs, i, key_pair) < 0)
        return oom(b);
    return i;
}

static int add_win(builder *b, int l, double s, double e, double rate,
                   double delay)
{
    blink *k = &b->bl[l];
    if (b->n_ivl >= PLAN_MAX_WINDOWS)
        return perr(b, "more than %d windows and eclipses in all",
                    PLAN_MAX_WINDOWS);
    if (grow((void **)&k->w, &k->cap, k->n, sizeof *k->w) < 0)
        return oom(b);
    k->w[k->n] = (bwin){ { s, e, rate, delay }, b->line };
    b->n_ivl++;
    return k->n++;
}

static int add_eclipses(builder *b, int node, const char *key, const char *v)
{
    bnode *k = &b->bn[node];
    char what[128];
    int n, always, rc;
    snprintf(what, sizeof what, "eclipses for node %s",
             b->t->nodes[node].name);
    if ((rc = parse_sched(b, key, v, what, 0, 0, &n, &always)) < 0)
        return rc;
    if (always) {
        sitem it = { 0, INFINITY, NAN, NAN, NAN };
        if ((rc = si_push(b, 0, &it)) < 0)
            return rc;
        n = 1;
    }
    for (int i = 0; i < n; i++) {
        if (grow((void **)&k->e, &k->cap, k->n, sizeof *k->e) < 0)
            return oom(b);
        k->e[k->n++] = (bivl){ { b->si[i].s, b->si[i].e }, b->line };
        b->n_ivl++;
    }
    return 0;
}

/* ---- orbits ----------------------------------------------------------- */

/* Nodes placed by orbit keys get their windows and eclipses here, at the
 * line that asks for them, over [Epoch, Epoch + Horizon]: a TLE is read
 * (each file once per load) and initialised when its Node line is
 * parsed; a Window=orbit link is computed when its Link line is parsed
 * (both nodes are known by then). What goes wrong with an orbit itself
 * (decay, an old TLE) is a warning, not an error: the link keeps the
 * windows found before it, never NaN ones. */

static int read_file(const char *path, size_t limit, const char *what,
                     int allow_stdin, int64_t *mtime, char **text,
                     size_t *len, char *err, size_t errlen);

/* Keep a warning once, prefixed with FILE:LINE; past PLAN_MAX_WARNINGS
 * only count it. Out of memory drops it: a warning is advice. */
static void pwarn(builder *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void pwarn(builder *b, const char *fmt, ...)
{
    plan_topology *t = b->t;
    char msg[1024], full[1280];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (b->line > 0)
        snprintf(full, sizeof full, "%s:%d: %s", b->name, b->line, msg);
    else
        snprintf(full, sizeof full, "%s: %s", b->name, msg);
    for (int i = 0; i < t->n_warnings; i++)
        if (!strcmp(t->warnings[i], full))
            return;
    if (t->n_warnings >= PLAN_MAX_WARNINGS) {
        t->n_warnings_dropped++;
        return;
    }
    if (!t->warnings &&
        !(t->warnings = calloc(PLAN_MAX_WARNINGS, sizeof *t->warnings)))
        return;
    if ((t->warnings[t->n_warnings] = strdup(full)))
        t->n_warnings++;
}

static int val_bool(builder *b, const char *key, const char *v, int *x)
{
    if (!strcasecmp(v, "yes"))
        *x = 1;
    else if (!strcasecmp(v, "no"))
        *x = 0;
    else
        return perr(b, "%s must be yes or no, got '%s'", key, v);
    return 0;
}

/* A Tle= path as opened: relative ones against the topology's
 * directory. */
static char *resolve(const builder *b, const char *p)
{
    size_t n;
    char *r;
    if (!b->dir || p[0] == '/')
        return strdup(p);
    n = strlen(b->dir) + strlen(p) + 2;
    if ((r = malloc(n)))
        snprintf(r, n, "%s%s%s", b->dir,
                 b->dir[strlen(b->dir) - 1] == '/' ? "" : "/", p);
    return r;
}

/* A bad record's "line N (TLE line k) col C: what" as "FILE:N col C:
 * what", the way compilers name a place in a file. */
static void tle_where(char *out, size_t n, const char *path, const char *msg)
{
    const char *p = msg;
    char *end;
    unsigned long ln;
    if (strncmp(p, "line ", 5) || !isdigit((unsigned char)p[5])) {
        snprintf(out, n, "%s: %s", path, msg);
        return;
    }
    ln = strtoul(p + 5, &end, 10);
    p = end;
    if (!strncmp(p, " (TLE line ", 11) && strchr(p, ')'))
        p = strchr(p, ')') + 1;
    snprintf(out, n, "%s:%lu%s", path, ln, p);
}

/* The TLE file at path, read and parsed once per load. A bad record is
 * an error, or with TleLenient=yes a warning (the record is skipped). */
static int tle_file(builder *b, const char *path, unsigned flags,
                    tlefile **out)
{
    tlefile *f;
    char *text = NULL, msg[512], where[1024];
    size_t len = 0;
    int rc;
    for (int i = 0; i < b->n_tf; i++)
        if (b->tf[i].flags == flags && !strcmp(b->tf[i].path, path)) {
            *out = &b->tf[i];
            return 0;
        }
    if (grow((void **)&b->tf, &b->cap_tf, b->n_tf, sizeof *b->tf) < 0)
        return oom(b);
    f = &b->tf[b->n_tf];
    memset(f, 0, sizeof *f);
    rc = read_file(path, PLAN_MAX_TLE_FILE, "TLE file", 0, &f->mtime, &text,
                   &len, msg, sizeof msg);
    if (rc < 0)
        return rc == -ENOMEM ? oom(b) : perr(b, "%s", msg);
    orb_tle_set_init(&f->set, 0);
    rc = orb_tle_set_parse(&f->set, text ? text : "", len, flags, msg,
                           sizeof msg);
    free(text);
    if (rc < 0 || !(f->path = strdup(path))) {
        orb_tle_set_free(&f->set);
        return rc == -ENOMEM || rc == 0 ? oom(b)
                                        : perr(b, "%s: %s", path, msg);
    }
    f->flags = flags;
    b->n_tf++;
    for (size_t i = 0; i < f->set.nbad && i < 5; i++) {
        tle_where(where, sizeof where, path, f->set.bad[i].msg);
        if (!(flags & ORB_TLE_LENIENT))
            return perr(b, "%s", where);
        pwarn(b, "%s (record skipped)", where);
    }
    if (f->set.nbad > 5)
        pwarn(b, "%s: %zu more bad records skipped", path, f->set.nbad - 5);
    *out = f;
    return 0;
}

enum {
    NK_KIND, NK_PROFILE, NK_SCALE, NK_MEMORY, NK_POWER, NK_ARRAYW,
    NK_BATTERYWH, NK_MINSOC, NK_SOC, NK_IDLEW, NK_BUSYW, NK_ECLIPSE,
    NK_ION, NK_TLE, NK_TLENAME, NK_TLELENIENT, NK_LAT, NK_LON, NK_ALT,
    NK_MASK, NK_MOON, NK_N
};
static const char *const node_keys[NK_N] = {
    "Kind", "Profile", "Scale", "Memory", "Power", "ArrayW", "BatteryWh",
    "MinSoc", "Soc", "IdleW", "BusyW", "Eclipse", "Ion", "Tle", "TleName",
    "TleLenient", "Lat", "Lon", "Alt", "Mask", "Moon",
};

/* Check the orbit keys of a Node line into nd->orbit; node_tle reads the
 * TLE once the node exists. */
static int node_orbit(builder *b, plan_node *nd, const char *const *v)
{
    plan_orbit *o = &nd->orbit;
    int rc;
    if (v[NK_TLE]) {
        if (nd->kind != PLAN_LEO && nd->kind != PLAN_GEO)
            return perr(b, "Tle= is for Kind=leo or geo nodes (a ground "
                        "station takes Lat= and Lon=)");
        if (!*v[NK_TLE])
            return perr(b, "Tle= needs a file name");
        if (!b->epoch_set)
            return perr(b, "Tle= needs Epoch= (orbits are computed from "
                        "it)");
    } else if (v[NK_TLENAME] || v[NK_TLELENIENT] ||
               (v[NK_ECLIPSE] && !strcasecmp(v[NK_ECLIPSE], "orbit"))) {
        return perr(b, "%s needs Tle= (the satellite's elements)",
                    v[NK_TLENAME] ? "TleName=" : v[NK_TLELENIENT]
                                                 ? "TleLenient="
                                                 : "Eclipse=orbit");
    }
    if (v[NK_TLENAME]) {
        if (!*v[NK_TLENAME] || strlen(v[NK_TLENAME]) >= PLAN_TLE_NAME_MAX)
            return perr(b, "TleName must be 1-%d characters",
                        PLAN_TLE_NAME_MAX - 1);
        snprintf(o->tle_name, sizeof o->tle_name, "%s", v[NK_TLENAME]);
    }
    if (v[NK_TLELENIENT] &&
        (rc = val_bool(b, "TleLenient", v[NK_TLELENIENT],
                       &o->tle_lenient)) < 0)
        return rc;
    if (v[NK_ECLIPSE] && !strcasecmp(v[NK_ECLIPSE], "orbit"))
        o->eclipse = 1;
    if (v[NK_LAT] || v[NK_LON] || v[NK_ALT] || v[NK_MASK]) {
        orb_station st;
        char msg[300];
        if (nd->kind != PLAN_GROUND)
            return perr(b, "Lat=, Lon=, Alt= and Mask= place a ground "
                        "station (Kind=ground)");
        if (!v[NK_LAT] || !v[NK_LON])
            return perr(b, "a ground station needs both Lat= and Lon= "
                        "(degrees)");
        o->mask_deg = PLAN_DEFAULT_MASK;
        if ((rc = val_plain(b, "Lat", v[NK_LAT], &o->lat_deg)) < 0 ||
            (rc = val_plain(b, "Lon", v[NK_LON], &o->lon_deg)) < 0 ||
            (v[NK_ALT] &&
             (rc = val_plain(b, "Alt", v[NK_ALT], &o->alt_m)) < 0) ||
            (v[NK_MASK] &&
             (rc = val_plain(b, "Mask", v[NK_MASK], &o->mask_deg)) < 0))
            return rc;
        if (orb_contact_station_init(&st, nd->name, o->lat_deg, o->lon_deg,
                                     o->alt_m, o->mask_deg, msg,
                                     sizeof msg) < 0)
            return perr(b, "%s", msg);
        o->site = 1;
    }
    if (v[NK_MOON]) {
        if ((rc = val_bool(b, "Moon", v[NK_MOON], &o->moon)) < 0)
            return rc;
        if (o->moon && nd->kind != PLAN_LUNAR)
            return perr(b, "Moon=yes is for Kind=lunar nodes");
    }
    return 0;
}

/* Read node i's TLE (Tle=, TleName=) and initialise SGP4 for it. */
static int node_tle(builder *b, int i, const char *decl)
{
    plan_topology *t = b->t;
    plan_node *nd = &t->nodes[i];
    plan_orbit *o = &nd->orbit;
    const char *want = o->tle_name[0] ? o->tle_name : nd->name;
    const orb_tle *tle = NULL;
    tlefile *f = NULL;
    char msg[512], ep[64];
    double age;
    int rc;
    if (!(o->tle_decl = strdup(decl)) || !(o->tle_path = resolve(b, decl)))
        return oom(b);
    if ((rc = tle_file(b, o->tle_path, o->tle_lenient ? ORB_TLE_LENIENT : 0,
                       &f)) < 0)
        return rc;
    o->tle_mtime = f->mtime;
    for (size_t k = 0; k < f->set.n && !tle; k++)
        if (!strcmp(f->set.v[k].name, want))
            tle = &f->set.v[k];
    if (!tle && !o->tle_name[0] && f->set.n == 1)
        tle = &f->set.v[0];
    if (!tle) {
        char names[256] = "";
        size_t used = 0;
        for (size_t k = 0; k < f->set.n && k < 4 && used < sizeof names;
             k++)
            used += (size_t)snprintf(names + used, sizeof names - used,
                                     "%s'%s'", k ? ", " : "",
                                     f->set.v[k].name[0] ? f->set.v[k].name
                                                         : "(no name)");
        if (f->set.n == 0)
            return perr(b, "%s holds no TLE", o->tle_path);
        if (o->tle_name[0])
            return perr(b, "TleName '%s' is not in %s (it holds %s%s)",
                        o->tle_name, o->tle_path, names,
                        f->set.n > 4 ? ", ..." : "");
        return perr(b, "%s holds %zu satellites and none is named '%s': "
                    "choose one with TleName= (%s%s)", o->tle_path,
                    f->set.n, nd->name, names, f->set.n > 4 ? ", ..." : "");
    }
    o->satnum = tle->satnum;
    o->tle_epoch_unix = tle->epoch_unix;
    if (!(b->bn[i].sat = malloc(sizeof *b->bn[i].sat)))
        return oom(b);
    rc = orb_sgp4_init(b->bn[i].sat, tle, msg, sizeof msg);
    if (rc == LG_EMODEL) {
        b->bn[i].sat_bad = 1;
        pwarn(b, "%s: SGP4 fails at the TLE epoch (%s): no windows or "
              "eclipses from it", nd->name, msg);
    } else if (rc < 0) {
        return rc == -ENOMEM ? oom(b)
                             : perr(b, "%s: catalog %d: %s", o->tle_path,
                                    tle->satnum, msg);
    }
    age = fmax(fabs(t->epoch_unix - tle->epoch_unix),
               fabs(t->epoch_unix + t->horizon - tle->epoch_unix)) / 86400;
    if (age > PLAN_TLE_WARN_DAYS)
        pwarn(b, "%s: TLE epoch %s is %.1f days from the span (over %g): "
              "SGP4 errors grow by km per day away from the epoch",
              nd->name, lg_time_fmt_iso(ep, sizeof ep, floor(tle->epoch_unix)), age,
              PLAN_TLE_WARN_DAYS);
    return 0;
}

/* Sunlight lost over [t0, t1] in seconds of full sun: the integral of
 * 1 - (illuminated fraction), by Simpson's rule on 32 intervals (a
 * penumbra passage is smooth and lasts seconds to minutes). If SGP4
 * fails there, half the interval: the mid-penumbra rule. */
static double sun_deficit(orb_sat *s, double t0, double t1)
{
    const int n = 32;
    double h = (t1 - t0) / n, sum = 0;
    if (!(t1 > t0))
        return 0;
    for (int k = 0; k <= n; k++) {
        double t = t0 + k * h, r[3], v[3], sun[3], jd, fr;
        if (orb_sgp4_prop_unix(s, t, r, v) != 0)
            return (t1 - t0) / 2;
        orb_frames_unix_to_jd(t, &jd, &fr);
        orb_sun_pos(jd, fr, sun);
        sum += (1 - orb_eclipse_fraction(r, sun)) *
               (k == 0 || k == n ? 1 : k % 2 ? 4 : 2);
    }
    return sum * h / 3;
}

/* Eclipse=orbit: node i's passages through the Earth's shadow. The power
 * model knows only sun or shadow, so each passage becomes one interval
 * that loses as much sunlight as the real one: the umbra widened on each
 * side by the penumbra's deficit (about mid-penumbra), or, for a passage
 * through the penumbra only, an interval of its deficit centred on it. */
static int node_eclipses(builder *b, int i)
{
    plan_topology *t = b->t;
    bnode *k = &b->bn[i];
    size_t max = (size_t)(t->horizon / (85 * 60)) + 4, n = 0;
    orb_eclipse *ev;
    char msg[512];
    int rc;
    if (k->sat_bad)
        return 0;
    if (t->horizon > ORB_CONTACT_MAX_SPAN_S)
        return perr(b, "Eclipse=orbit: Horizon is over %gd, the longest "
                    "span orbits are computed for",
                    ORB_CONTACT_MAX_SPAN_S / 86400);
    if (!(ev = malloc(max * sizeof *ev)))
        return oom(b);
    rc = orb_eclipse_find(k->sat, t->epoch_unix, t->horizon, 0, 0, ev, max,
                          &n, NULL, msg, sizeof msg);
    if (rc == LG_EMODEL) {
        pwarn(b, "%s: %s; no eclipses after it", t->nodes[i].name, msg);
    } else if (rc < 0) {
        free(ev);
        return rc == -ENOMEM ? oom(b)
                             : perr(b, "eclipses of %s: %s", t->nodes[i].name,
                                    msg);
    }
    for (size_t j = 0; j < n; j++) {
        const orb_eclipse *e = &ev[j];
        double s, z;
        if (!isnan(e->umb_start)) {
            s = e->umb_start - sun_deficit(k->sat, e->start, e->umb_start);
            z = e->umb_end + sun_deficit(k->sat, e->umb_end, e->end);
        } else {
            double d = sun_deficit(k->sat, e->start, e->end);
            s = (e->start + e->end) / 2 - d / 2;
            z = s + d;
        }
        s -= t->epoch_unix;
        z -= t->epoch_unix;
        if (s < 0)
            s = 0;
        if (!isfinite(s) || !isfinite(z) || !(z > s))
            continue;
        if (b->n_ivl >= PLAN_MAX_WINDOWS) {
            free(ev);
            return perr(b, "more than %d windows and eclipses in all",
                        PLAN_MAX_WINDOWS);
        }
        if (grow((void **)&k->e, &k->cap, k->n, sizeof *k->e) < 0) {
            free(ev);
            return oom(b);
        }
        k->e[k->n++] = (bivl){ { s, z }, b->line };
        b->n_ivl++;
    }
    free(ev);
    return 0;
}

enum { OL_NONE, OL_PASS, OL_ISL, OL_MOON };

/* What Window=orbit means between nodes a and c; *sa gets the station
 * (or the first satellite of an ISL), *sb the other. */
static int orbit_kind(const builder *b, int a, int c, int *sa, int *sb)
{
    const plan_orbit *x = &b->t->nodes[a].orbit, *y = &b->t->nodes[c].orbit;
    int xs = x->tle_path != NULL, ys = y->tle_path != NULL;
    *sa = a;
    *sb = c;
    if (x->site && ys)
        return OL_PASS;
    if (x->site && y->moon)
        return OL_MOON;
    if (xs && ys)
        return OL_ISL;
    *sa = c;
    *sb = a;
    if (y->site && xs)
        return OL_PASS;
    if (y->site && x->moon)
        return OL_MOON;
    return OL_NONE;
}

/* Window=orbit: the windows of link l1 (and its reverse l2 if >= 0) from
 * geometry, split where the light time moves by PLAN_ORBIT_TOL (each
 * piece carries its largest light time plus the link's Delay=, and FIFO
 * holds across pieces: orb_contact_plan). */
static int orbit_link(builder *b, int l1, int l2, int kind, int sa, int sb)
{
    plan_topology *t = b->t;
    orb_contact_cfg cfg;
    orb_contact_list cl;
    orb_station st;
    char msg[512];
    int rc = 0;
    orb_contact_cfg_init(&cfg, t->epoch_unix, t->horizon);
    cfg.epoch_warn_days = 0;     /* node_tle says it once per node */
    cfg.isl_max_km = t->links[l1].max_range_km;
    orb_contact_list_init(&cl, 0, 0);
    if (kind != OL_ISL) {
        const plan_orbit *o = &t->nodes[sa].orbit;
        if (orb_contact_station_init(&st, t->nodes[sa].name, o->lat_deg,
                                     o->lon_deg, o->alt_m, o->mask_deg, msg,
                                     sizeof msg) < 0) {
            rc = perr(b, "%s", msg);
            goto out;
        }
    }
    if (kind == OL_PASS) {
        if (!b->bn[sb].sat_bad)
            rc = orb_contact_stations(&cfg, b->bn[sb].sat, 0,
                                      t->nodes[sb].name, &st, 1, &cl, msg,
                                      sizeof msg);
    } else if (kind == OL_MOON) {
        rc = orb_contact_moon(&cfg, &st, 1, &cl, msg, sizeof msg);
    } else if (!b->bn[sa].sat_bad && !b->bn[sb].sat_bad) {
        orb_sat two[2];
        const char *names[2] = { t->nodes[sa].name, t->nodes[sb].name };
        two[0] = *b->bn[sa].sat;
        two[1] = *b->bn[sb].sat;
        rc = orb_contact_isl(&cfg, two, names, 2, &cl, msg, sizeof msg);
    }
    if (rc < 0) {
        rc = rc == -ENOMEM ? oom(b) : perr(b, "Window=orbit: %s", msg);
        goto out;
    }
    for (size_t i = 0; i < cl.n_warn && i < ORB_CONTACT_MAX_WARN; i++)
        pwarn(b, "%s", cl.warn[i].msg);
    orb_contact_sort(&cl);
    for (size_t i = 0; i < cl.n_win; i++) {
        size_t n = 0;
        rc = orb_contact_plan(&cl, &cl.win[i], t->epoch_unix, 1,
                              PLAN_ORBIT_TOL, b->ow, b->cap_ow, &n);
        if (rc == -E2BIG) {
            plan_window *nw = realloc(b->ow, 2 * n * sizeof *nw);
            if (!nw) {
                rc = oom(b);
                goto out;
            }
            b->ow = nw;
            b->cap_ow = 2 * n;
            rc = orb_contact_plan(&cl, &cl.win[i], t->epoch_unix, 1,
                                  PLAN_ORBIT_TOL, b->ow, b->cap_ow, &n);
        }
        if (rc < 0) {
            rc = perr(b, "Window=orbit: %s", lg_strerror(rc));
            goto out;
        }
        for (size_t j = 0; j < n; j++) {
            const plan_window *w = &b->ow[j];
            if (!isfinite(w->start) || !isfinite(w->end) ||
                !isfinite(w->delay) || !(w->end > w->start))
                continue;
            for (int d = 0; d < 2; d++) {
                int l = d ? l2 : l1;
                if (l >= 0 &&
                    (rc = add_win(b, l, w->start, w->end,
                                  t->links[l].orbit_rate,
                                  w->delay + t->links[l].orbit_delay)) < 0)
                    goto out;
            }
        }
    }
    rc = 0;
out:
    orb_contact_list_free(&cl);
    return rc;
}

static const char *const prof_keys[] = {
    "Conv", "Gemm", "Elem", "Other", "MemBW", "Overhead",
};

static int do_profile(builder *b, char **w, int n)
{
    plan_topology *t = b->t;
    plan_profile p;
    const char *v[6], *name = value_of(w[0]);
    int rc, i;
    memset(&p, 0, sizeof p);
    if ((rc = check_name(b, "profile", name)) < 0 ||
        (rc = kv(b, w, n, "Profile", prof_keys, 6, v)) < 0)
        return rc;
    for (int c = 0; c < 5; c++) {
        double *x = c < PLAN_OC_N ? &p.flops[c] : &p.mem_bw;
        if (!v[c])
            return perr(b, "Profile=%s needs %s=", name, prof_keys[c]);
        if ((rc = val_dec(b, prof_keys[c], v[c], x)) < 0)
            return rc;
        if (!(*x > 0))
            return perr(b, "%s must be > 0, got '%s'", prof_keys[c], v[c]);
    }
    p.overhead_s = DEFAULT_OVERHEAD;
    if (v[5]) {
        if ((rc = val_dur(b, "Overhead", v[5], &p.overhead_s)) < 0)
            return rc;
        if (p.overhead_s < 0)
            return perr(b, "Overhead must be >= 0, got '%s'", v[5]);
    }
    snprintf(p.name, sizeof p.name, "%s", name);
    p.line = b->line;
    i = find_profile(t, name);
    if (i >= 0) {
        if (b->seen[i])
            return perr(b, "duplicate profile '%s' (first at line %d)", name,
                        t->profiles[i].line);
    } else {
        if (t->n_profiles >= PLAN_MAX_PROFILES)
            return perr(b, "more than %d profiles", PLAN_MAX_PROFILES);
        if (grow((void **)&t->profiles, &b->cap_prof, t->n_profiles,
                 sizeof *t->profiles) < 0)
            return oom(b);
        i = t->n_profiles++;
    }
    t->profiles[i] = p;
    b->seen[i] = 1;
    return 0;
}

static int do_node(builder *b, char **w, int n)
{
    plan_topology *t = b->t;
    plan_node nd;
    plan_power *pw = &nd.power;
    const char *v[NK_N], *name = value_of(w[0]);
    int rc, i;
    node_init(&nd);
    if ((rc = check_name(b, "node", name)) < 0)
        return rc;
    if ((i = find_node(b, name)) >= 0)
        return perr(b, "duplicate node '%s' (first at line %d)", name,
                    t->nodes[i].line);
    if ((rc = kv(b, w, n, "Node", node_keys, NK_N, v)) < 0)
        return rc;
    snprintf(nd.name, sizeof nd.name, "%s", name);
    nd.line = b->line;
    if (!v[NK_KIND])
        return perr(b, "Node=%s needs Kind= (ground, leo, geo or lunar)",
                    name);
    for (i = 0; i < 4 && strcasecmp(v[NK_KIND], kind_names[i]); i++)
        ;
    if (i == 4)
        return perr(b, "unknown Kind '%s' (ground, leo, geo or lunar)",
                    v[NK_KIND]);
    nd.kind = (enum plan_kind)i;
    if (v[NK_PROFILE] && (nd.profile = find_profile(t, v[NK_PROFILE])) < 0)
        return perr(b, "unknown profile '%s' (declare it with a Profile= "
                    "line before the node)", v[NK_PROFILE]);
    if (v[NK_SCALE]) {
        if ((rc = val_plain(b, "Scale", v[NK_SCALE], &nd.scale)) < 0)
            return rc;
        if (!(nd.scale > 0))
            return perr(b, "Scale must be > 0, got '%s'", v[NK_SCALE]);
    }
    if (v[NK_MEMORY]) {
        double m;
        if (lg_units_parse(v[NK_MEMORY], lg_units_bin, 1, &m) < 0)
            return perr(b, "bad size '%s' for Memory (bytes; K, M, G, T "
                        "are powers of 1024)", v[NK_MEMORY]);
        if (!(m >= 1) || m != floor(m) || m >= 18446744073709551616.0)
            return perr(b, "Memory must be a whole number of bytes >= 1, "
                        "got '%s'", v[NK_MEMORY]);
        nd.memory = (uint64_t)m;
    }
    if (v[NK_POWER]) {
        if (!strcasecmp(v[NK_POWER], "solar"))
            pw->solar = 1;
        else if (strcasecmp(v[NK_POWER], "grid"))
            return perr(b, "unknown Power '%s' (grid or solar)", v[NK_POWER]);
    }
    if (!pw->solar) {
        for (int k = NK_ARRAYW; k <= NK_SOC; k++)
            if (v[k])
                return perr(b, "%s applies only to Power=solar nodes",
                            node_keys[k]);
    } else {
        if (!v[NK_ARRAYW])
            return perr(b, "Power=solar needs ArrayW= (array output in "
                        "sunlight, W)");
        if (!v[NK_BATTERYWH])
            return perr(b, "Power=solar needs BatteryWh= (battery "
                        "capacity, Wh)");
        if ((rc = val_dec(b, "ArrayW", v[NK_ARRAYW], &pw->array_w)) < 0 ||
            (rc = val_dec(b, "BatteryWh", v[NK_BATTERYWH],
                          &pw->battery_wh)) < 0)
            return rc;
        if (!(pw->array_w > 0))
            return perr(b, "ArrayW must be > 0, got '%s'", v[NK_ARRAYW]);
        if (!(pw->battery_wh > 0))
            return perr(b, "BatteryWh must be > 0, got '%s'",
                        v[NK_BATTERYWH]);
        if ((v[NK_MINSOC] &&
             (rc = val_plain(b, "MinSoc", v[NK_MINSOC], &pw->min_soc)) < 0) ||
            (v[NK_SOC] && (rc = val_plain(b, "Soc", v[NK_SOC], &pw->soc0)) < 0))
            return rc;
        if (!(pw->min_soc >= 0 && pw->min_soc < 1))
            return perr(b, "MinSoc must be in [0, 1), got '%s'", v[NK_MINSOC]);
        if (!(pw->soc0 > 0 && pw->soc0 <= 1))
            return perr(b, "Soc must be in (0, 1], got '%s'", v[NK_SOC]);
        if (!(pw->min_soc < pw->soc0)) {
            char m1[32], m2[32];
            return perr(b, "MinSoc (%s) must be below Soc (%s)",
                        lg_units_fmt_g(m1, sizeof m1, pw->min_soc),
                        lg_units_fmt_g(m2, sizeof m2, pw->soc0));
        }
    }
    if ((v[NK_IDLEW] &&
         (rc = val_dec(b, "IdleW", v[NK_IDLEW], &pw->idle_w)) < 0) ||
        (v[NK_BUSYW] && (rc = val_dec(b, "BusyW", v[NK_BUSYW], &pw->busy_w)) < 0))
        return rc;
    if (!(pw->idle_w >= 0))
        return perr(b, "IdleW must be >= 0, got '%s'", v[NK_IDLEW]);
    if (!v[NK_BUSYW] && pw->idle_w > 0)
        pw->busy_w = pw->idle_w;
    if (!(pw->busy_w >= pw->idle_w)) {
        char m1[32], m2[32];
        return perr(b, "BusyW (%s) must be >= IdleW (%s)",
                    lg_units_fmt_g(m1, sizeof m1, pw->busy_w),
                    lg_units_fmt_g(m2, sizeof m2, pw->idle_w));
    }
    if (v[NK_ION]) {
        double x;
        if (lg_units_parse(v[NK_ION], lg_units_plain, 0, &x) < 0 || x != floor(x) || x < 0 ||
            x > 2147483647.0)
            return perr(b, "Ion must be an ION node number (0 for none), "
                        "got '%s'", v[NK_ION]);
        nd.ion = (int)x;
        if (nd.ion && (i = find_ion(b, nd.ion)) >= 0)
            return perr(b, "Ion=%d already belongs to node '%s'", nd.ion,
                        t->nodes[i].name);
    }
    if ((rc = node_orbit(b, &nd, v)) < 0)
        return rc;
    if ((i = add_node(b, &nd)) < 0)
        return i;
    if (v[NK_TLE] && (rc = node_tle(b, i, v[NK_TLE])) < 0)
        return rc;
    if (nd.orbit.eclipse)
        return node_eclipses(b, i);
    if (v[NK_ECLIPSE])
        return add_eclipses(b, i, "Eclipse", v[NK_ECLIPSE]);
    return 0;
}

/* "A<>B" or "A>B" naming declared nodes. */
static int parse_pair(builder *b, const char *key, const char *v, int *a,
                      int *c, int *bidir)
{
    char buf[2 * PLAN_NAME_MAX + 8], *sep;
    const char *nb;
    if (strlen(v) >= sizeof buf)
        return perr(b, "%s=%s: names are at most %d characters", key, v,
                    PLAN_NAME_MAX - 1);
    strcpy(buf, v);
    if ((sep = strstr(buf, "<>"))) {
        *bidir = 1;
        nb = sep + 2;
    } else if ((sep = strchr(buf, '>'))) {
        *bidir = 0;
        nb = sep + 1;
    } else {
        return perr(b, "%s=%s: want A<>B (both ways) or A>B (one way)", key,
                    v);
    }
    *sep = '\0';
    if ((*a = find_node(b, buf)) < 0)
        return perr(b, "unknown node '%s' in %s=%s (declare it with Node= "
                    "first)", buf, key, v);
    if ((*c = find_node(b, nb)) < 0)
        return perr(b, "unknown node '%s' in %s=%s (declare it with Node= "
                    "first)", nb, key, v);
    if (*a == *c)
        return perr(b, "link from node '%s' to itself", buf);
    return 0;
}

/* Add the parsed schedule b->si[0..n) (or always) to link l1 (and its
 * reverse l2 if >= 0), with the links' defaults where an item has none. */
static int add_sched(builder *b, int l1, int l2, int n, int always)
{
    const plan_topology *t = b->t;
    int rc;
    if (always) {
        sitem it = { 0, INFINITY, NAN, NAN, NAN };
        if ((rc = si_push(b, 0, &it)) < 0)
            return rc;
        n = 1;
    }
    for (int i = 0; i < n; i++) {
        const sitem *it = &b->si[i];
        for (int d = 0; d < 2; d++) {
            int l = d ? l2 : l1;
            const blink *k;
            double rate, delay;
            if (l < 0)
                continue;
            k = &b->bl[l];
            rate = !isnan(it->rate) ? (d && !isnan(it->rate2) ? it->rate2
                                                               : it->rate)
                                    : k->rate;
            delay = !isnan(it->delay) ? it->delay : k->delay;
            if (rate < 0 || delay < 0)
                return perr(b, "link %s->%s has no Rate= and Delay= of its "
                            "own: give its windows as START-END:RATE:DELAY",
                            t->nodes[t->links[l].from].name,
                            t->nodes[t->links[l].to].name);
            if ((rc = add_win(b, l, it->s, it->e, rate, delay)) < 0)
                return rc;
        }
    }
    return 0;
}

static const char *const link_keys[] = { "Delay", "Rate", "Window",
                                          "MaxRange" };

static int do_link(builder *b, char **w, int n)
{
    const plan_topology *t = b->t;
    const char *v[4], *pair = value_of(w[0]), *win;
    char what[160], rb[64], *slash;
    double rate = -1, rate2 = -1, delay = -1, maxkm = 0;
    int a, c, bidir, rc, l1, l2 = -1, ns, always, orbit, kind = OL_NONE;
    int sa = -1, sb = -1;
    if ((rc = parse_pair(b, "Link", pair, &a, &c, &bidir)) < 0 ||
        (rc = kv(b, w, n, "Link", link_keys, 4, v)) < 0)
        return rc;
    win = v[2] ? v[2] : "always";
    orbit = !strcasecmp(win, "orbit");
    if (strcasecmp(win, "none")) {
        if (!v[1])
            return perr(b, "Link=%s needs Rate= (bit/s)", pair);
        if (!v[0] && !orbit)
            return perr(b, "Link=%s needs Delay= (one-way light time)", pair);
    }
    if (v[3] && !orbit)
        return perr(b, "MaxRange= applies to Window=orbit links");
    if (orbit) {
        if (!b->epoch_set)
            return perr(b, "Window=orbit needs Epoch= (orbits are computed "
                        "from it)");
        if ((kind = orbit_kind(b, a, c, &sa, &sb)) == OL_NONE)
            return perr(b, "Window=orbit needs a ground station (Lat=, Lon=) "
                        "and a satellite (Tle=), two satellites, or a ground "
                        "station and a Moon=yes node: %s and %s are not",
                        t->nodes[a].name, t->nodes[c].name);
        if (v[3]) {
            if (kind != OL_ISL)
                return perr(b, "MaxRange= applies between two satellites");
            if ((rc = val_plain(b, "MaxRange", v[3], &maxkm)) < 0)
                return rc;
            if (!(maxkm > 0))
                return perr(b, "MaxRange must be > 0 km, got '%s'", v[3]);
        }
    }
    if (v[1]) {
        snprintf(rb, sizeof rb, "%s", v[1]);
        if ((slash = strchr(rb, '/'))) {
            if (!bidir)
                return perr(b, "Rate=%s: RATE/RATE2 is for A<>B links", v[1]);
            *slash = '\0';
            if ((rc = val_rate(b, "Rate", slash + 1, &rate2)) < 0)
                return rc;
        }
        if ((rc = val_rate(b, "Rate", rb, &rate)) < 0)
            return rc;
        if (!slash)
            rate2 = rate;
    }
    if (v[0]) {
        if ((rc = val_dur(b, "Delay", v[0], &delay)) < 0)
            return rc;
        if (delay < 0)
            return perr(b, "Delay must be >= 0, got '%s'", v[0]);
    }
    if ((l1 = find_link(b, a, c)) >= 0 ||
        (bidir && (l1 = find_link(b, c, a)) >= 0))
        return perr(b, "link %s->%s already declared at line %d",
                    t->nodes[t->links[l1].from].name,
                    t->nodes[t->links[l1].to].name, t->links[l1].line);
    if (orbit) {
        if (delay < 0)
            delay = 0;
        if ((l1 = add_link(b, a, c, rate, delay)) < 0)
            return l1;
        if (bidir && (l2 = add_link(b, c, a, rate2, delay)) < 0)
            return l2;
        for (int d = 0; d < 2; d++) {
            plan_link *L = d ? (l2 >= 0 ? &b->t->links[l2] : NULL)
                             : &b->t->links[l1];
            if (!L)
                continue;
            L->orbit = 1;
            L->orbit_rate = d ? rate2 : rate;
            L->orbit_delay = delay;
            L->max_range_km = maxkm;
        }
        /* the station first, as orb_contact_* want it; windows are the
         * same both ways */
        return orbit_link(b, l1, l2, kind, sa, sb);
    }
    snprintf(what, sizeof what, "windows for link %s%s%s", t->nodes[a].name,
             bidir ? "<>" : "->", t->nodes[c].name);
    if ((rc = parse_sched(b, "Window", win, what, 1, bidir, &ns, &always)) < 0)
        return rc;
    if ((l1 = add_link(b, a, c, rate, delay)) < 0)
        return l1;
    if (bidir && (l2 = add_link(b, c, a, rate2, delay)) < 0)
        return l2;
    return add_sched(b, l1, l2, ns, always);
}

/* Window=A<>B SCHED: more windows for declared links. */
static int do_window(builder *b, char **w, int n)
{
    const plan_topology *t = b->t;
    const char *pair = value_of(w[0]);
    char what[160];
    int a, c, bidir, rc, l1, l2 = -1, ns, always;
    if (n != 2)
        return perr(b, "want 'Window=A<>B SCHEDULE' (or A>B)");
    if ((rc = parse_pair(b, "Window", pair, &a, &c, &bidir)) < 0)
        return rc;
    if ((l1 = find_link(b, a, c)) < 0 || (bidir && (l2 = find_link(b, c, a)) < 0))
        return perr(b, "no link %s->%s to add windows to (declare it with "
                    "Link= first)", t->nodes[l1 < 0 ? a : c].name,
                    t->nodes[l1 < 0 ? c : a].name);
    if (t->links[l1].orbit || (l2 >= 0 && t->links[l2].orbit))
        return perr(b, "link %s->%s has Window=orbit: its windows come from "
                    "the orbits only", t->nodes[a].name, t->nodes[c].name);
    if (!strcasecmp(w[1], "orbit"))
        return perr(b, "Window=orbit belongs on the Link= line");
    snprintf(what, sizeof what, "windows for link %s%s%s", t->nodes[a].name,
             bidir ? "<>" : "->", t->nodes[c].name);
    if ((rc = parse_sched(b, "Window", w[1], what, 1, bidir, &ns, &always)) < 0)
        return rc;
    return add_sched(b, l1, l2, ns, always);
}

/* Eclipse=NODE SCHED: more eclipses for a declared node. */
static int do_eclipse(builder *b, char **w, int n)
{
    const char *name = value_of(w[0]);
    int i;
    if (n != 2)
        return perr(b, "want 'Eclipse=NODE SCHEDULE'");
    if ((i = find_node(b, name)) < 0)
        return perr(b, "unknown node '%s' in Eclipse=%s (declare it with "
                    "Node= first)", name, name);
    if (b->t->nodes[i].orbit.eclipse)
        return perr(b, "node %s has Eclipse=orbit: its eclipses come from "
                    "the orbit only", name);
    if (!strcasecmp(w[1], "orbit"))
        return perr(b, "Eclipse=orbit belongs on the Node= line");
    return add_eclipses(b, i, "Eclipse", w[1]);
}

/* ---- ION contact plans ------------------------------------------------ */

static int ion_time(builder *b, const plan_ion_time *it, double *out)
{
    if (!it->absolute) {
        *out = b->ion_ref + it->v;
        return 0;
    }
    if (!b->epoch_set)
        return perr(b, "an absolute ION time needs Epoch= (or an ION '@' "
                    "line) first");
    *out = it->v - b->t->epoch_unix;
    return 0;
}

/* The node an ION number stands for: Ion=N, else a node named N, else
 * (in a file without Node lines) a new ground node named N. */
static int ion_node(builder *b, int num)
{
    plan_node nd;
    char name[24];
    int i;
    if ((i = find_ion(b, num)) >= 0)
        return i;
    snprintf(name, sizeof name, "%d", num);
    if ((i = find_node(b, name)) >= 0)
        return i;
    if (b->has_nodes)
        return perr(b, "ION node %d is not declared (give a Node Ion=%d, or "
                    "name a node %d)", num, num, num);
    node_init(&nd);
    snprintf(nd.name, sizeof nd.name, "%s", name);
    nd.ion = num;
    nd.line = b->line;
    return add_node(b, &nd);
}

static int do_ion(builder *b, char **w, int n)
{
    plan_topology *t = b->t;
    plan_ion_cmd c;
    char msg[512];
    double t1 = 0, t2 = 0;
    int rc, a, z, l, wi;
    if (plan_ion_parse(w, n, &c, msg, sizeof msg) < 0)
        return perr(b, "%s", msg);
    if (c.op == PLAN_ION_SKIP)
        return 0;
    if (c.op == PLAN_ION_REFTIME) {
        if (!b->epoch_set) {
            t->epoch_unix = c.t1.v;
            b->epoch_set = 1;
        }
        b->ion_ref = c.t1.v - t->epoch_unix;
        return 0;
    }
    if ((rc = ion_time(b, &c.t1, &t1)) < 0 ||
        (rc = ion_time(b, &c.t2, &t2)) < 0)
        return rc;
    if (!(t2 > t1))
        return perr(b, "ION %s ends before it starts ('%s' to '%s')", w[1],
                    w[2], w[3]);
    if (c.from == c.to)
        return 0;                /* loopback: ION's own delivery, no link */
    if (c.op == PLAN_ION_RANGE) {
        if (b->n_ivl >= PLAN_MAX_WINDOWS)
            return perr(b, "more than %d windows, eclipses and ranges",
                        PLAN_MAX_WINDOWS);
        if (grow((void **)&b->rg, &b->cap_rg, b->n_rg, sizeof *b->rg) < 0)
            return oom(b);
        b->rg[b->n_rg++] = (plan_ion_range){ c.from, c.to, t1, t2, c.value,
                                              b->line };
        b->n_ivl++;
        return 0;
    }
    if ((a = ion_node(b, c.from)) < 0)
        return a;
    if ((z = ion_node(b, c.to)) < 0)
        return z;
    if ((l = find_link(b, a, z)) < 0 && (l = add_link(b, a, z, -1, -1)) < 0)
        return l;
    if (t->links[l].orbit)
        return perr(b, "ION contact on link %s->%s, which has Window=orbit",
                    t->nodes[a].name, t->nodes[z].name);
    if (t2 <= 0)
        return 0;                /* wholly before t = 0 */
    if ((wi = add_win(b, l, t1 > 0 ? t1 : 0, t2, c.value, NAN)) < 0)
        return wi;
    if (grow((void **)&b->pd, &b->cap_pd, b->n_pd, sizeof *b->pd) < 0)
        return oom(b);
    b->pd[b->n_pd++] = (pending){ l, wi, c.from, c.to, t1, b->line };
    return 0;
}

/* ---- lines ------------------------------------------------------------ */

/* Pass 1: Epoch and Horizon, and whether any Node is declared. */
static int line_globals(builder *b, char **w, int n)
{
    plan_topology *t = b->t;
    const char *v = value_of(w[0]);
    int rc;
    if (is_key(w[0], "Node")) {
        b->has_nodes = 1;
    } else if (is_key(w[0], "Epoch")) {
        if (n != 1)
            return perr(b, "Epoch= stands alone on its line");
        if (b->epoch_line)
            return perr(b, "Epoch given twice (first at line %d)",
                        b->epoch_line);
        b->epoch_line = b->line;
        if (strcasecmp(v, "none")) {
            if (lg_time_parse_iso(v, &t->epoch_unix) < 0)
                return perr(b, "bad Epoch '%s' (ISO 8601 UTC, e.g. "
                            "2026-11-22T00:00:00Z)", v);
            b->epoch_set = 1;
        }
    } else if (is_key(w[0], "Horizon")) {
        if (n != 1)
            return perr(b, "Horizon= stands alone on its line");
        if (b->horizon_line)
            return perr(b, "Horizon given twice (first at line %d)",
                        b->horizon_line);
        b->horizon_line = b->line;
        if ((rc = val_dur(b, "Horizon", v, &t->horizon)) < 0)
            return rc;
        if (!(t->horizon > 0))
            return perr(b, "Horizon must be > 0, got '%s'", v);
    }
    return 0;
}

/* Pass 2: everything else, in order. */
static int line_entity(builder *b, char **w, int n)
{
    const char *eq = strchr(w[0], '=');
    if (!eq) {
        if (plan_ion_is_cmd(w[0]))
            return do_ion(b, w, n);
        return perr(b, "'%s' is neither Key=Value nor an ION command", w[0]);
    }
    if (is_key(w[0], "Epoch") || is_key(w[0], "Horizon"))
        return 0;
    if (is_key(w[0], "Profile"))
        return do_profile(b, w, n);
    if (is_key(w[0], "Node"))
        return do_node(b, w, n);
    if (is_key(w[0], "Link"))
        return do_link(b, w, n);
    if (is_key(w[0], "Eclipse"))
        return do_eclipse(b, w, n);
    if (is_key(w[0], "Window"))
        return do_window(b, w, n);
    return perr(b, "unknown entity '%.*s=' (Epoch, Horizon, Profile, Node, "
                "Link, Eclipse, Window, or ION commands)", (int)(eq - w[0]),
                w[0]);
}

static int line_profile_only(builder *b, char **w, int n)
{
    if (!is_key(w[0], "Profile"))
        return perr(b, "only Profile= lines belong in a profiles file");
    return do_profile(b, w, n);
}

enum { PASS_GLOBALS, PASS_ENTITIES, PASS_PROFILES };

static int each_line(builder *b, const char *text, size_t len, int pass)
{
    size_t pos = 0;
    int rc;
    b->line = 0;
    if (len >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3))
        pos = 3;                 /* a UTF-8 byte order mark */
    while (pos < len) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - text) : len, n = end - pos;
        char *w[MAX_WORDS];
        int nw;
        b->line++;
        if (n > PLAN_MAX_LINE)
            return perr(b, "line longer than %d bytes", PLAN_MAX_LINE);
        if (memchr(text + pos, '\0', n))
            return perr(b, "NUL byte in the line (not a text file?)");
        memcpy(b->buf, text + pos, n);
        b->buf[n] = '\0';
        pos = end + 1;
        if ((nw = split_words(b->buf, w)) < 0)
            return perr(b, "more than %d words on one line", MAX_WORDS);
        if (nw == 0)
            continue;
        rc = pass == PASS_GLOBALS    ? line_globals(b, w, nw)
             : pass == PASS_ENTITIES ? line_entity(b, w, nw)
                                     : line_profile_only(b, w, nw);
        if (rc < 0)
            return rc;
    }
    b->line = 0;
    return 0;
}

/* ---- the final checks ------------------------------------------------- */

static int cmp_bwin(const void *x, const void *y)
{
    const bwin *a = x, *c = y;
    if (a->w.start != c->w.start)
        return a->w.start < c->w.start ? -1 : 1;
    return (a->line > c->line) - (a->line < c->line);
}

static int cmp_bivl(const void *x, const void *y)
{
    const bivl *a = x, *c = y;
    if (a->iv.start != c->iv.start)
        return a->iv.start < c->iv.start ? -1 : 1;
    return (a->line > c->line) - (a->line < c->line);
}

/* Give each ION contact the light time of the range covering its start. */
static int resolve_ranges(builder *b)
{
    char g1[32], g2[32];
    int bad = 0, m = plan_ion_ranges_sort(b->rg, b->n_rg, &bad);
    if (m < 0) {
        const plan_ion_range *p = &b->rg[bad - 1], *r = &b->rg[bad];
        b->line = p->line > r->line ? p->line : r->line;
        return perr(b, "overlapping ION ranges %d->%d with different light "
                    "times (%s s and %s s)", r->from, r->to,
                    lg_units_fmt_g(g1, sizeof g1, p->owlt),
                    lg_units_fmt_g(g2, sizeof g2, r->owlt));
    }
    b->n_rg = m;
    for (int i = 0; i < b->n_pd; i++) {
        const pending *p = &b->pd[i];
        if (plan_ion_owlt(b->rg, b->n_rg, p->from, p->to, p->t,
                          &b->bl[p->link].w[p->win].w.delay) < 0) {
            b->line = p->line;
            return perr(b, "no ION range covers contact %d->%d at %s s "
                        "(add 'a range')", p->from, p->to,
                        lg_units_fmt_g(g1, sizeof g1, p->t));
        }
    }
    return 0;
}

static int finalize(builder *b)
{
    plan_topology *t = b->t;
    char g[4][32];
    int rc;
    if ((rc = resolve_ranges(b)) < 0)
        return rc;
    for (int l = 0; l < t->n_links; l++) {
        blink *k = &b->bl[l];
        plan_link *L = &t->links[l];
        if (k->n > 1)
            qsort(k->w, (size_t)k->n, sizeof *k->w, cmp_bwin);
        for (int i = 1; i < k->n; i++)
            if (k->w[i].w.start < k->w[i - 1].w.end) {
                b->line = k->w[i].line > k->w[i - 1].line ? k->w[i].line
                                                          : k->w[i - 1].line;
                return perr(b, "overlapping windows for link %s->%s: %s-%s "
                            "and %s-%s", t->nodes[L->from].name,
                            t->nodes[L->to].name,
                            lg_units_fmt_g(g[0], 32, k->w[i - 1].w.start),
                            lg_units_fmt_g(g[1], 32, k->w[i - 1].w.end),
                            lg_units_fmt_g(g[2], 32, k->w[i].w.start),
                            lg_units_fmt_g(g[3], 32, k->w[i].w.end));
            }
        if (k->n) {
            if (!(L->win = malloc((size_t)k->n * sizeof *L->win)))
                return oom(b);
            for (int i = 0; i < k->n; i++)
                L->win[i] = k->w[i].w;
        }
        L->n_win = k->n;
        L->always = k->n == 1 && k->w[0].w.start <= 0 && isinf(k->w[0].w.end);
    }
    for (int n = 0; n < t->n_nodes; n++) {
        bnode *k = &b->bn[n];
        plan_power *p = &t->nodes[n].power;
        if (k->n > 1)
            qsort(k->e, (size_t)k->n, sizeof *k->e, cmp_bivl);
        for (int i = 1; i < k->n; i++)
            if (k->e[i].iv.start < k->e[i - 1].iv.end) {
                b->line = k->e[i].line > k->e[i - 1].line ? k->e[i].line
                                                          : k->e[i - 1].line;
                return perr(b, "overlapping eclipses for node %s: %s-%s and "
                            "%s-%s", t->nodes[n].name,
                            lg_units_fmt_g(g[0], 32, k->e[i - 1].iv.start),
                            lg_units_fmt_g(g[1], 32, k->e[i - 1].iv.end),
                            lg_units_fmt_g(g[2], 32, k->e[i].iv.start),
                            lg_units_fmt_g(g[3], 32, k->e[i].iv.end));
            }
        if (k->n) {
            if (!(p->eclipse = malloc((size_t)k->n * sizeof *p->eclipse)))
                return oom(b);
            for (int i = 0; i < k->n; i++)
                p->eclipse[i] = k->e[i].iv;
        }
        p->n_eclipse = k->n;
    }
    t->out_first = calloc((size_t)t->n_nodes + 1, sizeof *t->out_first);
    t->out_links = malloc(((size_t)t->n_links + 1) * sizeof *t->out_links);
    if (!t->out_first || !t->out_links)
        return oom(b);
    for (int l = 0; l < t->n_links; l++)
        t->out_first[t->links[l].from + 1]++;
    for (int n = 0; n < t->n_nodes; n++)
        t->out_first[n + 1] += t->out_first[n];
    {
        int *next = malloc(((size_t)t->n_nodes + 1) * sizeof *next);
        if (!next)
            return oom(b);
        memcpy(next, t->out_first, ((size_t)t->n_nodes + 1) * sizeof *next);
        for (int l = 0; l < t->n_links; l++)
            t->out_links[next[t->links[l].from]++] = l;
        free(next);
    }
    return 0;
}

/* ---- loading ---------------------------------------------------------- */

static int64_t mtime_ns(const struct stat *st)
{
    return (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

/* Read a whole file (standard input for "-" if allow_stdin) of at most
 * limit bytes; what names it in messages ("topology"). */
static int read_file(const char *path, size_t limit, const char *what,
                     int allow_stdin, int64_t *mtime, char **text,
                     size_t *len, char *err, size_t errlen)
{
    int is_stdin = allow_stdin && !strcmp(path, "-");
    FILE *f = is_stdin ? stdin : fopen(path, "rb");
    struct stat st;
    char *buf = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    if (mtime)
        *mtime = -1;
    if (!f)
        return lg_errf(err, errlen, -errno, "%s: %s", path, strerror(errno));
    if (fstat(fileno(f), &st) == 0) {
        if (S_ISDIR(st.st_mode)) {
            rc = lg_errf(err, errlen, -EISDIR, "%s: %s", path,
                         strerror(EISDIR));
            goto out;
        }
        if (S_ISREG(st.st_mode) && st.st_size > (off_t)limit) {
            rc = lg_errf(err, errlen, LG_EMODEL,
                         "%s: larger than %zu MiB, the limit for a %s",
                         path, limit >> 20, what);
            goto out;
        }
        if (mtime)
            *mtime = mtime_ns(&st);
    }
    for (;;) {
        size_t got;
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 65536;
            char *q;
            if (nc > limit + 1)
                nc = limit + 1;
            if (n == nc) {
                rc = lg_errf(err, errlen, LG_EMODEL,
                             "%s: larger than %zu MiB, the limit for a %s",
                             path, limit >> 20, what);
                goto out;
            }
            if (!(q = realloc(buf, nc))) {
                rc = lg_errf(err, errlen, -ENOMEM, "%s: out of memory", path);
                goto out;
            }
            buf = q;
            cap = nc;
        }
        got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            if (ferror(f))
                rc = lg_errf(err, errlen, -EIO, "%s: read error", path);
            break;
        }
    }
out:
    if (!is_stdin)
        fclose(f);
    if (rc < 0) {
        free(buf);
        return rc;
    }
    *text = buf;
    *len = n;
    return 0;
}

static int read_all(const char *path, char **text, size_t *len, char *err,
                    size_t errlen)
{
    return read_file(path, PLAN_MAX_FILE, "topology", 1, NULL, text, len,
                     err, errlen);
}

static int builder_init(builder *b, plan_topology *t, const char *name,
                        char *err, size_t errlen)
{
    memset(b, 0, sizeof *b);
    b->t = t;
    b->name = name;
    b->err = err;
    b->errlen = errlen;
    b->cap_prof = t->n_profiles;
    b->buf = malloc(PLAN_MAX_LINE + 1);
    b->seen = calloc(PLAN_MAX_PROFILES, 1);
    if (!b->buf || !b->seen)
        return oom(b);
    return 0;
}

/* Parse with Tle= paths relative to dir (NULL: the current directory). */
static int parse_in(const char *name, const char *dir, const char *text,
                    size_t len, plan_topology **out, char *err,
                    size_t errlen)
{
    plan_topology *t;
    builder b;
    int rc;
    *out = NULL;
    if (len > PLAN_MAX_FILE)
        return lg_errf(err, errlen, LG_EMODEL,
                       "%s: larger than %u MiB, the limit for a topology",
                       name, PLAN_MAX_FILE >> 20);
    if (!(t = calloc(1, sizeof *t)) || !(t->path = strdup(name)) ||
        !(t->profiles = malloc(sizeof *t->profiles))) {
        plan_topology_free(t);
        return lg_errf(err, errlen, -ENOMEM, "%s: out of memory", name);
    }
    t->profiles[0] = builtin;
    t->n_profiles = 1;
    t->horizon = PLAN_DEFAULT_HORIZON;
    rc = builder_init(&b, t, t->path, err, errlen);
    b.dir = dir;
    if (rc == 0 && (rc = each_line(&b, text, len, PASS_GLOBALS)) == 0 &&
        (rc = each_line(&b, text, len, PASS_ENTITIES)) == 0)
        rc = finalize(&b);
    builder_free(&b);
    if (rc < 0) {
        plan_topology_free(t);
        return rc;
    }
    *out = t;
    return 0;
}

int plan_topology_parse(const char *name, const char *text, size_t len,
                        plan_topology **out, char *err, size_t errlen)
{
    return parse_in(name, NULL, text, len, out, err, errlen);
}

int plan_topology_load(const char *path, plan_topology **out, char *err,
                       size_t errlen)
{
    char *text = NULL, *dir = NULL;
    const char *slash = strrchr(path, '/');
    size_t len = 0;
    int rc;
    *out = NULL;
    if ((rc = read_all(path, &text, &len, err, errlen)) < 0)
        return rc;
    /* Tle= paths are relative to the file's directory ("-": the current
     * one); "dir/x.tle" rather than "./x.tle" in messages. */
    if (slash && strcmp(path, "-") &&
        !(dir = strndup(path, slash == path ? 1 : (size_t)(slash - path)))) {
        free(text);
        return lg_errf(err, errlen, -ENOMEM, "%s: out of memory", path);
    }
    rc = parse_in(path, dir, text ? text : "", len, out, err, errlen);
    free(dir);
    free(text);
    return rc;
}

int plan_topology_stale(const plan_topology *t)
{
    for (int i = 0; i < t->n_nodes; i++) {
        const plan_orbit *o = &t->nodes[i].orbit;
        struct stat st;
        if (!o->tle_path)
            continue;
        if (stat(o->tle_path, &st) != 0 || mtime_ns(&st) != o->tle_mtime)
            return 1;
    }
    return 0;
}

int plan_topology_add_profiles(plan_topology *t, const char *path, char *err,
                               size_t errlen)
{
    plan_topology tmp;
    builder b;
    char *text = NULL;
    size_t len = 0;
    int rc;
    if ((rc = read_all(path, &text, &len, err, errlen)) < 0)
        return rc;
    /* Work on a copy of the profile table so a bad file changes nothing. */
    memset(&tmp, 0, sizeof tmp);
    tmp.n_profiles = t->n_profiles;
    tmp.profiles = malloc(((size_t)t->n_profiles + 1) * sizeof *tmp.profiles);
    if (!tmp.profiles) {
        free(text);
        return lg_errf(err, errlen, -ENOMEM, "%s: out of memory", path);
    }
    memcpy(tmp.profiles, t->profiles,
           (size_t)t->n_profiles * sizeof *tmp.profiles);
    if ((rc = builder_init(&b, &tmp, path, err, errlen)) == 0) {
        b.cap_prof = t->n_profiles + 1;
        rc = each_line(&b, text ? text : "", len, PASS_PROFILES);
    }
    builder_free(&b);
    free(text);
    if (rc < 0) {
        free(tmp.profiles);
        return rc;
    }
    free(t->profiles);
    t->profiles = tmp.profiles;
    t->n_profiles = tmp.n_profiles;
    return 0;
}

void plan_topology_free(plan_topology *t)
{
    if (!t)
        return;
    if (t->nodes)
        for (int i = 0; i < t->n_nodes; i++) {
            free(t->nodes[i].power.eclipse);
            free(t->nodes[i].orbit.tle_decl);
            free(t->nodes[i].orbit.tle_path);
        }
    for (int i = 0; i < t->n_warnings; i++)
        free(t->warnings[i]);
    free(t->warnings);
    if (t->links)
        for (int i = 0; i < t->n_links; i++)
            free(t->links[i].win);
    free(t->nodes);
    free(t->links);
    free(t->profiles);
    free(t->out_first);
    free(t->out_links);
    free(t->path);
    free(t);
}

/* ---- lookups ---------------------------------------------------------- */

int plan_topology_find(const plan_topology *t, const char *name)
{
    for (int i = 0; i < t->n_nodes; i++)
        if (!strcmp(t->nodes[i].name, name))
            return i;
    return -1;
}

int plan_topology_link(const plan_topology *t, int a, int b)
{
    if (a < 0 || a >= t->n_nodes)
        return -1;
    if (!t->out_first) {         /* built by hand, without adjacency */
        for (int l = 0; l < t->n_links; l++)
            if (t->links[l].from == a && t->links[l].to == b)
                return l;
        return -1;
    }
    for (int k = t->out_first[a]; k < t->out_first[a + 1]; k++)
        if (t->links[t->out_links[k]].to == b)
            return t->out_links[k];
    return -1;
}

const char *plan_kind_name(enum plan_kind k)
{
    return (unsigned)k < 4 ? kind_names[k] : "?";
}

const char *plan_opclass_name(enum plan_opclass c)
{
    return (unsigned)c < PLAN_OC_N ? oc_names[c] : "?";
}

const plan_profile *plan_profile_builtin(void)
{
    return &builtin;
}

/* ---- normal form ------------------------------------------------------ */

static void print_ivls(FILE *f, const plan_interval *iv, int from, int to)
{
    char a[40], c[40];
    for (int i = from; i < to; i++)
        fprintf(f, "%s%s-%s", i > from ? "," : "",
                lg_units_fmt_g(a, sizeof a, iv[i].start), lg_units_fmt_g(c, sizeof c, iv[i].end));
}

/* The orbit keys as declared (the windows they give are not printed). */
static void print_orbit(FILE *f, const plan_orbit *o)
{
    char a[64], c[64], d[64], e[64];
    if (o->tle_decl) {
        fprintf(f, " Tle=%s", o->tle_decl);
        if (o->tle_name[0])
            fprintf(f, " TleName=%s", o->tle_name);
        if (o->tle_lenient)
            fprintf(f, " TleLenient=yes");
    }
    if (o->site)
        fprintf(f, " Lat=%s Lon=%s Alt=%s Mask=%s",
                lg_units_fmt_g(a, sizeof a, o->lat_deg), lg_units_fmt_g(c, sizeof c, o->lon_deg),
                lg_units_fmt_g(d, sizeof d, o->alt_m), lg_units_fmt_g(e, sizeof e, o->mask_deg));
    if (o->moon)
        fprintf(f, " Moon=yes");
}

static void print_node(FILE *f, const plan_topology *t, const plan_node *nd)
{
    const plan_power *p = &nd->power;
    char a[64], c[64], d[64], e[64];
    fprintf(f, "Node=%s Kind=%s Profile=%s Scale=%s Memory=%s", nd->name,
            plan_kind_name(nd->kind), t->profiles[nd->profile].name,
            lg_units_fmt_g(a, sizeof a, nd->scale), fmt_mem(c, sizeof c, nd->memory));
    if (nd->ion)
        fprintf(f, " Ion=%d", nd->ion);
    if (p->solar)
        fprintf(f, " Power=solar ArrayW=%s BatteryWh=%s MinSoc=%s Soc=%s",
                lg_units_fmt_g(a, sizeof a, p->array_w),
                lg_units_fmt_g(c, sizeof c, p->battery_wh),
                lg_units_fmt_g(d, sizeof d, p->min_soc), lg_units_fmt_g(e, sizeof e, p->soc0));
    else
        fprintf(f, " Power=grid");
    fprintf(f, " IdleW=%s BusyW=%s", lg_units_fmt_g(a, sizeof a, p->idle_w),
            lg_units_fmt_g(c, sizeof c, p->busy_w));
    print_orbit(f, &nd->orbit);
    if (nd->orbit.eclipse) {
        fprintf(f, " Eclipse=orbit\n");
        return;
    }
    if (p->n_eclipse == 1 && p->eclipse[0].start <= 0 &&
        isinf(p->eclipse[0].end)) {
        fprintf(f, " Eclipse=always\n");
        return;
    }
    if (p->n_eclipse == 0) {
        fprintf(f, "%s\n", p->solar ? " Eclipse=none" : "");
        return;
    }
    for (int i = 0; i < p->n_eclipse; i += PER_LINE) {
        int to = i + PER_LINE < p->n_eclipse ? i + PER_LINE : p->n_eclipse;
        if (i == 0)
            fputs(" Eclipse=", f);
        else
            fprintf(f, "Eclipse=%s ", nd->name);
        print_ivls(f, p->eclipse, i, to);
        fputc('\n', f);
    }
}

/* Links i and i + 1 print as one A<>B line: each other's reverse, with the
 * same intervals and light times (rates may differ). */
static int mergeable(const plan_topology *t, int i)
{
    const plan_link *x, *y;
    if (i + 1 >= t->n_links)
        return 0;
    x = &t->links[i];
    y = &t->links[i + 1];
    if (y->from != x->to || y->to != x->from || x->n_win != y->n_win ||
        x->orbit != y->orbit)
        return 0;
    if (x->orbit)                /* computed alike; declared alike? */
        return x->orbit_delay == y->orbit_delay &&
               x->max_range_km == y->max_range_km;
    for (int k = 0; k < x->n_win; k++)
        if (x->win[k].start != y->win[k].start ||
            x->win[k].end != y->win[k].end ||
            x->win[k].delay != y->win[k].delay)
            return 0;
    return 1;
}

static void print_link(FILE *f, const plan_topology *t, int i, int bidir)
{
    const plan_link *x = &t->links[i], *y = bidir ? &t->links[i + 1] : NULL;
    const char *a = t->nodes[x->from].name, *z = t->nodes[x->to].name,
               *arrow = bidir ? "<>" : ">";
    char r1[64], r2[64], d[64];
    double rx, ry, dl;
    if (x->orbit) {
        fprintf(f, "Link=%s%s%s Delay=%s Rate=%s", a, arrow, z,
                fmt_dur(d, sizeof d, x->orbit_delay),
                fmt_rate(r1, sizeof r1, x->orbit_rate));
        if (y && y->orbit_rate != x->orbit_rate)
            fprintf(f, "/%s", fmt_rate(r2, sizeof r2, y->orbit_rate));
        fprintf(f, " Window=orbit");
        if (x->max_range_km > 0)
            fprintf(f, " MaxRange=%s",
                    lg_units_fmt_g(r1, sizeof r1, x->max_range_km));
        fputc('\n', f);
        return;
    }
    if (x->n_win == 0) {
        fprintf(f, "Link=%s%s%s Window=none\n", a, arrow, z);
        return;
    }
    rx = x->win[0].rate;
    ry = y ? y->win[0].rate : rx;
    dl = x->win[0].delay;
    fprintf(f, "Link=%s%s%s Delay=%s Rate=%s", a, arrow, z,
            fmt_dur(d, sizeof d, dl), fmt_rate(r1, sizeof r1, rx));
    if (ry != rx)
        fprintf(f, "/%s", fmt_rate(r2, sizeof r2, ry));
    if (x->always) {
        fprintf(f, " Window=always\n");
        return;
    }
    for (int i0 = 0; i0 < x->n_win; i0 += PER_LINE) {
        int to = i0 + PER_LINE < x->n_win ? i0 + PER_LINE : x->n_win;
        if (i0 == 0)
            fputs(" Window=", f);
        else
            fprintf(f, "Window=%s%s%s ", a, arrow, z);
        for (int k = i0; k < to; k++) {
            const plan_window *w = &x->win[k];
            double wy = y ? y->win[k].rate : w->rate;
            fprintf(f, "%s%s-%s", k > i0 ? "," : "",
                    lg_units_fmt_g(r1, sizeof r1, w->start),
                    lg_units_fmt_g(r2, sizeof r2, w->end));
            if (w->rate != rx || wy != ry || w->delay != dl) {
                fprintf(f, ":%s", fmt_rate(r1, sizeof r1, w->rate));
                if (wy != w->rate)
                    fprintf(f, "/%s", fmt_rate(r2, sizeof r2, wy));
                fprintf(f, ":%s", fmt_dur(d, sizeof d, w->delay));
            }
        }
        fputc('\n', f);
    }
}

int plan_topology_print(const plan_topology *t, FILE *f)
{
    char a[128], c[64], d[64], e[64], g[64], h[64];
    size_t nw = 0, ne = 0;
    for (int l = 0; l < t->n_links; l++)
        nw += (size_t)t->links[l].n_win;
    for (int n = 0; n < t->n_nodes; n++)
        ne += (size_t)t->nodes[n].power.n_eclipse;
    fprintf(f, "# lagrange-topology(5) normal form: %d profiles, %d nodes, "
            "%d links, %zu windows, %zu eclipses\n", t->n_profiles,
            t->n_nodes, t->n_links, nw, ne);
    fprintf(f, "Epoch=%s\n",
            t->epoch_unix != 0 ? lg_time_fmt_iso(a, sizeof a, t->epoch_unix) : "none");
    fprintf(f, "Horizon=%s\n", fmt_dur(a, sizeof a, t->horizon));
    for (int i = 0; i < t->n_profiles; i++) {
        const plan_profile *p = &t->profiles[i];
        fprintf(f, "Profile=%s Conv=%s Gemm=%s Elem=%s Other=%s MemBW=%s "
                "Overhead=%s\n", p->name,
                lg_units_fmt(a, sizeof a, p->flops[PLAN_OC_CONV], lg_units_dec, ""),
                lg_units_fmt(c, sizeof c, p->flops[PLAN_OC_GEMM], lg_units_dec, ""),
                lg_units_fmt(d, sizeof d, p->flops[PLAN_OC_ELEM], lg_units_dec, ""),
                lg_units_fmt(e, sizeof e, p->flops[PLAN_OC_OTHER], lg_units_dec, ""),
                lg_units_fmt(g, sizeof g, p->mem_bw, lg_units_dec, ""),
                fmt_dur(h, sizeof h, p->overhead_s));
    }
    for (int n = 0; n < t->n_nodes; n++)
        print_node(f, t, &t->nodes[n]);
    for (int l = 0; l < t->n_links; l++) {
        int bidir = mergeable(t, l);
        print_link(f, t, l, bidir);
        l += bidir;
    }
    if (fflush(f) != 0 || ferror(f))
        return -EIO;
    return 0;
}
