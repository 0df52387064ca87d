/*
 * table.c - listings for the API verbs (see table.h).
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "cli.h"
#include "table.h"
#include "units.h"

typedef struct cell {
    char *text;                 /* NULL = empty */
    char *json;                 /* JSON literal; NULL = text as a string */
} cell;

struct table {
    const table_col *cols;
    int ncols;
    int *sel;                   /* the columns printed, in order */
    int nsel;
    table_opts o;
    cell *cells;                /* rows * ncols */
    int rows, cap;
};

int table_opt(table_opts *o, int c, const char *arg)
{
    switch (c) {
    case TABLE_OPT_JSON: o->mode = TABLE_JSON; return 1;
    case TABLE_OPT_PARSABLE: o->mode = TABLE_PARSABLE; return 1;
    case TABLE_OPT_NOHEADER: o->noheader = 1; return 1;
    case 'o': case TABLE_OPT_FORMAT: o->format = arg; return 1;
    default: return 0;
    }
}

static int find_col(const table_col *cols, int ncols, const char *name,
                    size_t len)
{
    for (int i = 0; i < ncols; i++)
        if (strlen(cols[i].key) == len &&
            !strncasecmp(cols[i].key, name, len))
            return i;
    return -1;
}

static void list_cols(const table_col *cols, int ncols, char *err,
                      size_t errlen, size_t used)
{
    for (int i = 0; i < ncols && used < errlen; i++) {
        int n = snprintf(err + used, errlen - used, "%s%s", i ? "," : "",
                         cols[i].key);
        if (n < 0)
            break;
        used += (size_t)n;
    }
    if (used < errlen)
        snprintf(err + used, errlen - used, ")");
}

int table_new(table **out, const table_col *cols, int ncols,
              const table_opts *o, char *err, size_t errlen)
{
    table *t = calloc(1, sizeof *t);
    *out = NULL;
    if (!t || !(t->sel = calloc((size_t)ncols + 64, sizeof *t->sel))) {
        free(t);
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    t->cols = cols;
    t->ncols = ncols;
    t->o = *o;
    if (o->format) {
        const char *p = o->format;
        for (;;) {
            const char *e = strchr(p, ',');
            size_t len = e ? (size_t)(e - p) : strlen(p);
            int k;
            while (len && isspace((unsigned char)*p)) {
                p++;
                len--;
            }
            while (len && isspace((unsigned char)p[len - 1]))
                len--;
            k = find_col(cols, ncols, p, len);
            if (k < 0 || t->nsel == ncols + 64) {
                int n = k < 0 ? snprintf(err, errlen, "unknown column "
                                         "'%.*s' (columns: ", (int)len, p)
                              : snprintf(err, errlen, "too many columns "
                                         "(columns: ");
                list_cols(cols, ncols, err, errlen, n > 0 ? (size_t)n : 0);
                table_free(t);
                return -EINVAL;
            }
            t->sel[t->nsel++] = k;
            if (!e)
                break;
            p = e + 1;
        }
    } else {
        for (int i = 0; i < ncols; i++)
            if (o->mode == TABLE_JSON || o->mode == TABLE_KV ||
                !(cols[i].flags & TABLE_EXTRA))
                t->sel[t->nsel++] = i;
    }
    *out = t;
    return 0;
}

void table_free(table *t)
{
    if (!t)
        return;
    for (int i = 0; i < t->rows * t->ncols; i++) {
        free(t->cells[i].text);
        free(t->cells[i].json);
    }
    free(t->cells);
    free(t->sel);
    free(t);
}

int table_row(table *t)
{
    if (t->rows == t->cap) {
        int nc = t->cap ? 2 * t->cap : 16;
        cell *n = realloc(t->cells, (size_t)nc * (size_t)t->ncols *
                                        sizeof *n);
        if (!n)
            return -ENOMEM;
        t->cells = n;
        t->cap = nc;
    }
    memset(&t->cells[(size_t)t->rows * (size_t)t->ncols], 0,
           (size_t)t->ncols * sizeof *t->cells);
    t->rows++;
    return 0;
}

int table_set(table *t, int col, const char *text, const char *json)
{
    cell *c;
    if (t->rows == 0 || col < 0 || col >= t->ncols)
        return -EINVAL;
    c = &t->cells[(size_t)(t->rows - 1) * (size_t)t->ncols + (size_t)col];
    free(c->text);
    free(c->json);
    c->text = text ? strdup(text) : NULL;
    c->json = json ? strdup(json) : NULL;
    if ((text && !c->text) || (json && !c->json))
        return -ENOMEM;
    return 0;
}

int table_num(table *t, int col, const char *text, double v)
{
    char buf[64], txt[64];
    if (!isfinite(v))
        return table_set(t, col, text ? text : "-", "null");
    lg_units_fmt_g(buf, sizeof buf, v);
    if (!text) {
        if (v == floor(v) && fabs(v) < 1e15)
            snprintf(txt, sizeof txt, "%.0f", v);
        else
            snprintf(txt, sizeof txt, "%.4g", v);
        text = txt;
    }
    return table_set(t, col, text, buf);
}

int table_bool(table *t, int col, int v)
{
    return table_set(t, col, v ? "yes" : "no", v ? "true" : "false");
}

/* ---- printing ------------------------------------------------------------ */

static const cell *get(const table *t, int row, int col)
{
    return &t->cells[(size_t)row * (size_t)t->ncols + (size_t)col];
}

/* Display width of s (UTF-8 code points), up to max bytes. */
static size_t width_of(const char *s, size_t max)
{
    size_t w = 0;
    for (size_t i = 0; s[i] && i < max; i++)
        if (((unsigned char)s[i] & 0xc0) != 0x80)
            w++;
    return w;
}

/* Bytes of text shown in column col: all, or cut at the column's width on
 * a code point boundary. */
static size_t shown_len(const table_col *c, const char *s)
{
    size_t n = strlen(s);
    if (c->width > 0 && width_of(s, n) > (size_t)c->width) {
        size_t w = 0, i = 0;
        for (; s[i]; i++)
            if (((unsigned char)s[i] & 0xc0) != 0x80 && w++ == (size_t)c->width)
                break;
        n = i;
    }
    return n;
}

/* Text without control characters (a name with a newline must not break a
 * line-oriented listing). */
static void put_text(FILE *f, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        fputc((unsigned char)s[i] < 0x20 ? ' ' : s[i], f);
}

static void pad(FILE *f, size_t n)
{
    while (n--)
        fputc(' ', f);
}

static void print_text(const table *t, FILE *f)
{
    size_t *w = calloc((size_t)t->nsel, sizeof *w);
    if (!w)
        return;
    for (int j = 0; j < t->nsel; j++) {
        const table_col *c = &t->cols[t->sel[j]];
        w[j] = t->o.noheader ? 0 : strlen(c->head);
        for (int r = 0; r < t->rows; r++) {
            const char *s = get(t, r, t->sel[j])->text;
            size_t cw = s && *s ? width_of(s, shown_len(c, s)) : 1;
            if (cw > w[j])
                w[j] = cw;
        }
    }
    for (int r = t->o.noheader ? 0 : -1; r < t->rows; r++) {
        for (int j = 0; j < t->nsel; j++) {
            const table_col *c = &t->cols[t->sel[j]];
            const char *s = r < 0 ? c->head : get(t, r, t->sel[j])->text;
            size_t n, cw;
            int last = j == t->nsel - 1;
            if (!s || !*s)
                s = "-";
            n = r < 0 ? strlen(s) : shown_len(c, s);
            cw = width_of(s, n);
            if (j)
                fputs("  ", f);
            if (c->flags & TABLE_RIGHT)
                pad(f, w[j] - cw);
            put_text(f, s, n);
            if (!(c->flags & TABLE_RIGHT) && !last)
                pad(f, w[j] - cw);
        }
        fputc('\n', f);
    }
    free(w);
}

static void print_parsable(const table *t, FILE *f)
{
    if (!t->o.noheader) {
        for (int j = 0; j < t->nsel; j++)
            fprintf(f, "%s%s", j ? "|" : "", t->cols[t->sel[j]].head);
        fputc('\n', f);
    }
    for (int r = 0; r < t->rows; r++) {
        for (int j = 0; j < t->nsel; j++) {
            const char *s = get(t, r, t->sel[j])->text;
            if (j)
                fputc('|', f);
            if (s)
                put_text(f, s, strlen(s));
        }
        fputc('\n', f);
    }
}

/* "model_id" -> "ModelId". */
static void put_camel(FILE *f, const char *key)
{
    int up = 1;
    for (; *key; key++) {
        if (*key == '_') {
            up = 1;
            continue;
        }
        fputc(up ? toupper((unsigned char)*key) : *key, f);
        up = 0;
    }
}

static void print_kv(const table *t, FILE *f)
{
    for (int r = 0; r < t->rows; r++) {
        if (r)
            fputc('\n', f);
        for (int j = 0; j < t->nsel; j++) {
            const char *s = get(t, r, t->sel[j])->text;
            put_camel(f, t->cols[t->sel[j]].key);
            fputc('=', f);
            if (s)
                put_text(f, s, strlen(s));
            fputc('\n', f);
        }
    }
}

void table_json_row(const table *t, FILE *f, int row)
{
    fputc('{', f);
    for (int j = 0; j < t->nsel; j++) {
        const cell *c = get(t, row, t->sel[j]);
        if (j)
            fputc(',', f);
        cli_json_str(f, t->cols[t->sel[j]].key);
        fputc(':', f);
        if (c->json)
            fputs(c->json, f);
        else if (c->text)
            cli_json_str(f, c->text);
        else
            fputs("null", f);
    }
    fputc('}', f);
}


int table_print(const table *t, FILE *f)
{
    switch (t->o.mode) {
    case TABLE_TEXT: print_text(t, f); break;
    case TABLE_PARSABLE: print_parsable(t, f); break;
    case TABLE_KV: print_kv(t, f); break;
    case TABLE_JSON:
        fputc('[', f);
        for (int r = 0; r < t->rows; r++) {
            fputs(r ? ",\n" : "\n", f);
            table_json_row(t, f, r);
        }
        fputs(t->rows ? "\n]\n" : "]\n", f);
        break;
    }
    return ferror(f) ? -EIO : 0;
}

/* ---- cell helpers -------------------------------------------------------- */

const char *table_time(char *buf, size_t len, uint64_t unix_ms)
{
    time_t s = (time_t)(unix_ms / 1000);
    struct tm tm;
    if (!unix_ms || !gmtime_r(&s, &tm))
        snprintf(buf, len, "%s", "");
    else
        strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

const char *table_time_json(char *buf, size_t len, uint64_t unix_ms)
{
    char t[64];
    if (!unix_ms)
        snprintf(buf, len, "null");
    else
        snprintf(buf, len, "\"%s\"", table_time(t, sizeof t, unix_ms));
    return buf;
}

const char *table_dur(char *buf, size_t len, double s)
{
    long long v;
    if (!isfinite(s)) {
        snprintf(buf, len, "-");
        return buf;
    }
    if (s < 0)
        s = 0;
    v = (long long)s;
    if (v < 60)
        snprintf(buf, len, "%llds", v);
    else if (v < 3600)
        snprintf(buf, len, "%lldm%02llds", v / 60, v % 60);
    else if (v < 86400)
        snprintf(buf, len, "%lldh%02lldm", v / 3600, v % 3600 / 60);
    else
        snprintf(buf, len, "%lldd%02lldh", v / 86400, v % 86400 / 3600);
    return buf;
}
