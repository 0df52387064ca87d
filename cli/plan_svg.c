/*
 * plan_svg.c - the Gantt chart of a plan (`lagrange plan --svg`) and the
 * time formatting the plan output shares.
 *
 * One row per topology node (partitions as coloured bars, eclipses shaded,
 * the battery's charge as a thin line) and one per directed link the plan
 * uses (contact windows shaded, transmissions as bars, light time as an
 * arrow). Plans mix scales: a 400 s wait for a pass, then 20 ms of compute.
 * On a linear axis the compute would vanish, so when a linear axis would
 * leave a bar under a few pixels, idle stretches (nothing computing or
 * sending) are cut short to a fixed width and marked as axis breaks with
 * the time they stand for; bars that are still narrow get a minimum width
 * and a label. Plain stdio; no state beyond one call.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "plan.h"
#include "power.h"

const char *cli_dt(double dt, char *buf, size_t len)
{
    char sign = dt < 0 ? '-' : '+';
    double a = fabs(dt);
    if (!isfinite(dt))
        snprintf(buf, len, "%snever", dt < 0 ? "-" : "");
    else if (a < 5e-10)
        snprintf(buf, len, "+0s");
    else if (a < 1e-3)
        snprintf(buf, len, "%c%.3gus", sign, a * 1e6);
    else if (a < 1)
        snprintf(buf, len, "%c%.4gms", sign, a * 1e3);
    else if (a < 600)
        snprintf(buf, len, "%c%.3fs", sign, a);
    else {
        /* whole milliseconds, so that 59.9996 s never prints as 60.000 */
        long long ms = llround(a * 1e3), s = ms / 1000;
        int frac = (int)(ms % 1000);
        if (a < 3600)
            snprintf(buf, len, "%c%lldm%02lld.%03ds", sign, s / 60, s % 60,
                     frac);
        else if (a < 86400)
            snprintf(buf, len, "%c%lldh%02lldm%02lld.%03ds", sign, s / 3600,
                     s / 60 % 60, s % 60, frac);
        else
            snprintf(buf, len, "%c%lldd%02lldh%02lldm%02llds", sign,
                     s / 86400, s / 3600 % 24, s / 60 % 60, s % 60);
    }
    /* "+412.000s" -> "+412s", "+13m52.500s" -> "+13m52.5s" */
    {
        char *dot = strrchr(buf, '.'), *e;
        if (dot && (e = strchr(dot, 's')) && e[1] == 0) {
            char *z = e;
            while (z > dot + 1 && z[-1] == '0')
                z--;
            if (z == dot + 1)
                z = dot;
            memmove(z, e, 2);
        }
    }
    return buf;
}

/* ------------------------------------------------------------ the axis */

typedef struct seg {
    double t0, t1;               /* time span */
    double x0, x1;               /* pixels */
    int brk;                     /* an idle stretch drawn shortened */
} seg;

typedef struct axis {
    seg *s;
    int n;
} axis;

static double ax_x(const axis *a, double t)
{
    const seg *s;
    int lo = 0, hi = a->n - 1;
    if (t <= a->s[0].t0)
        return a->s[0].x0;
    if (t >= a->s[a->n - 1].t1)
        return a->s[a->n - 1].x1;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (a->s[mid].t1 < t)
            lo = mid + 1;
        else
            hi = mid;
    }
    s = &a->s[lo];
    if (s->t1 <= s->t0)
        return s->x0;
    return s->x0 + (t - s->t0) / (s->t1 - s->t0) * (s->x1 - s->x0);
}

static double ax_t(const axis *a, double x)
{
    for (int i = 0; i < a->n; i++) {
        const seg *s = &a->s[i];
        if (x <= s->x1 || i == a->n - 1) {
            if (s->x1 <= s->x0)
                return s->t0;
            if (x < s->x0)
                x = s->x0;
            return s->t0 + (x - s->x0) / (s->x1 - s->x0) * (s->t1 - s->t0);
        }
    }
    return a->s[0].t0;
}

typedef struct span {
    double a, b;
} span;

static int cmp_span(const void *x, const void *y)
{
    const span *p = x, *q = y;
    return (p->a > q->a) - (p->a < q->a);
}

/* The busy runs of partition k: maximal stretches of its groups with no
 * pause between them (a group may wait inside a partition, for its
 * battery or an input). Without per-group times, [start, finish]. */
static int part_runs(const plan_sched *s, int k, span *out)
{
    const plan_part *pt = &s->parts[k];
    int n = 0;
    if (!s->gstart || !s->gfinish || pt->g1 >= s->n_assign) {
        out[0] = (span){ pt->start, pt->finish };
        return isfinite(pt->start) && isfinite(pt->finish);
    }
    for (int g = pt->g0; g <= pt->g1; g++) {
        double a = s->gstart[g], b = s->gfinish[g];
        if (!isfinite(a) || !isfinite(b))
            continue;
        if (n && a <= out[n - 1].b + 1e-9)
            out[n - 1].b = fmax(out[n - 1].b, b);
        else
            out[n++] = (span){ a, b };
    }
    return n;
}

static double ax_x(const axis *a, double t);

/* When the plan first sends on link l. */
static double first_use(const plan_sched *s, int l)
{
    double t = INFINITY;
    for (int i = 0; i < s->n_legs; i++)
        if (s->legs[i].link == l && s->legs[i].start < t)
            t = s->legs[i].start;
    return t;
}

/* part_runs, with pauses too short to see on the axis (< 3 px) merged. */
static int vis_runs(const axis *ax, const plan_sched *s, int k, span *out)
{
    int n = part_runs(s, k, out), m = 0;
    for (int i = 0; i < n; i++) {
        if (m && ax_x(ax, out[i].a) - ax_x(ax, out[m - 1].b) < 3)
            out[m - 1].b = out[i].b;
        else
            out[m++] = out[i];
    }
    return m;
}

/* Build the axis over [tmin, tmax] into plot pixels [x0, x0 + w), plus a
 * right margin of `pad` px in the last segment's scale. act: busy spans
 * (computing or sending). */
static int build_axis(axis *ax, double tmin, double tmax, span *act,
                      int n_act, double x0, double w, double pad)
{
    span *u = NULL, *gap = NULL;
    int nu = 0, ng = 0, *cmp = NULL, i;
    double total = tmax - tmin, s, bw;

    if (!(total > 0))
        total = tmax = tmin + 1e-3;
    qsort(act, (size_t)n_act, sizeof *act, cmp_span);
    u = malloc(((size_t)n_act + 1) * sizeof *u);
    gap = malloc(((size_t)n_act + 2) * sizeof *gap);
    cmp = calloc((size_t)n_act + 2, sizeof *cmp);
    ax->s = malloc(((size_t)n_act * 2 + 4) * sizeof *ax->s);
    if (!u || !gap || !cmp || !ax->s) {
        free(u);
        free(gap);
        free(cmp);
        return -ENOMEM;
    }
    for (i = 0; i < n_act; i++) {
        double a = fmax(act[i].a, tmin), b = fmin(act[i].b, tmax);
        if (b < a)
            continue;
        if (nu && a <= u[nu - 1].b)
            u[nu - 1].b = fmax(u[nu - 1].b, b);
        else
            u[nu++] = (span){ a, b };
    }
    /* idle gaps between the busy spans */
    {
        double c = tmin;
        for (i = 0; i < nu; i++) {
            if (u[i].a > c)
                gap[ng++] = (span){ c, u[i].a };
            c = fmax(c, u[i].b);
        }
        if (tmax > c)
            gap[ng++] = (span){ c, tmax };
    }
    /* Shorten every idle gap that would take more than a quarter of the
     * plot to bw px, until stable: each shortening widens the rest, so the
     * set only grows. A plan with no such gap keeps a linear axis. */
    bw = ng ? fmin(56, 0.4 * w / ng) : 56;
    s = w / total;
    for (int changed = 1; changed;) {
        double lin = total;
        int nb = 0;
        changed = 0;
        for (i = 0; i < ng; i++)
            if (cmp[i]) {
                nb++;
                lin -= gap[i].b - gap[i].a;
            }
        s = lin > 0 ? (w - nb * bw) / lin : 1;
        for (i = 0; i < ng; i++)
            if (!cmp[i] && (gap[i].b - gap[i].a) * s > fmax(bw, 0.25 * w)) {
                cmp[i] = 1;
                changed = 1;
            }
    }
    /* segments: alternate linear stretches and shortened gaps */
    ax->n = 0;
    {
        double t = tmin, x = x0;
        for (i = 0; i <= ng; i++) {
            double ga = i < ng ? gap[i].a : tmax;
            if (i < ng && !cmp[i])
                continue;
            if (ga > t) {
                ax->s[ax->n++] = (seg){ t, ga, x, x + (ga - t) * s, 0 };
                x += (ga - t) * s;
            }
            if (i < ng) {
                ax->s[ax->n++] = (seg){ gap[i].a, gap[i].b, x, x + bw, 1 };
                x += bw;
                t = gap[i].b;
            }
        }
        if (ax->n == 0)
            ax->s[ax->n++] = (seg){ tmin, tmax, x0, x0 + w, 0 };
        /* right margin, at the last linear scale */
        ax->s[ax->n] = (seg){ tmax, tmax + pad / s, x, x + pad, 0 };
        ax->n++;
    }
    free(u);
    free(gap);
    free(cmp);
    return 0;
}

/* ------------------------------------------------------------ drawing */

static const char *const palette[] = {
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
    "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#86bcb6",
};
#define NPAL ((int)(sizeof palette / sizeof palette[0]))

static void xml_str(FILE *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&apos;", f); break;
        default:
            if ((unsigned char)*s >= 0x20 || *s == '\t')
                fputc(*s, f);
        }
    }
}

/* Tick label for time rel (seconds after t0) on a grid of `step`. */
static void tick_label(double rel, double step, char *buf, size_t len)
{
    int dec;
    if (fabs(rel) < step * 1e-6) {
        snprintf(buf, len, "+0");
        return;
    }
    if (rel >= 600 && step < 60) {
        /* far from t0 on a fine grid: hours and minutes, then seconds
         * to the grid's precision ("+2h13m00.005s") */
        long long whole = (long long)floor(rel / 60 + 1e-9);
        double sec = rel - 60.0 * (double)whole;
        dec = (int)ceil(-log10(step) - 1e-9);
        if (dec < 0)
            dec = 0;
        if (sec < 0)
            sec = 0;
        if (whole >= 60)
            snprintf(buf, len, "+%lldh%02lldm%0*.*fs", whole / 60, whole % 60,
                     dec ? dec + 3 : 2, dec, sec);
        else
            snprintf(buf, len, "+%lldm%0*.*fs", whole, dec ? dec + 3 : 2, dec,
                     sec);
    } else if (rel < 1 && step < 1) {
        dec = (int)ceil(-log10(step * 1e3) - 1e-9);
        snprintf(buf, len, "+%.*fms", dec > 0 ? dec : 0, rel * 1e3);
    } else if (step < 60) {
        dec = (int)ceil(-log10(step) - 1e-9);
        snprintf(buf, len, "+%.*fs", dec > 0 ? dec : 0, rel);
    } else {
        long long s = llround(rel);
        if (s < 3600)
            snprintf(buf, len, "+%lldmin", s / 60);
        else if (s < 86400)
            snprintf(buf, len, "+%lldh%02lld", s / 3600, s / 60 % 60);
        else
            snprintf(buf, len, "+%lldd%02lldh", s / 86400, s / 3600 % 24);
    }
}

static double nice_step(double raw)
{
    static const double big[] = { 60, 120, 300, 600, 900, 1800, 3600, 7200,
                                  10800, 21600, 43200, 86400 };
    double p, f;
    if (raw >= 45) {
        for (size_t i = 0; i < sizeof big / sizeof big[0]; i++)
            if (big[i] >= raw)
                return big[i];
        return 86400 * ceil(raw / 86400);
    }
    p = pow(10, floor(log10(raw)));
    f = raw / p;
    return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * p;
}

static double text_w(const char *s, double font)
{
    return 0.64 * font * (double)strlen(s);
}

typedef struct busy_list {
    plan_interval *iv;
    int n;
} busy_list;

static int cmp_iv(const void *x, const void *y)
{
    const plan_interval *p = x, *q = y;
    return (p->start > q->start) - (p->start < q->start);
}

#define LEFT 190.0               /* label column */
#define PLOTW 980.0              /* plot width before the right margin */
#define PAD 40.0                 /* right margin inside the axis, px */
#define NODE_H 42.0
#define LINK_H 26.0
#define MIN_BAR 3.0
#define BAT_H 9.0                /* battery band at a node row's foot */
#define BAR_Y 5.0                /* partition bars inside a node row */
#define BAR_H (NODE_H - BAT_H - 9)

int cli_plan_svg(const char *path, const struct plan_problem *pp,
                 const struct plan_sched *ss, const char *title, char *err,
                 size_t errlen)
{
    const plan_problem *p = pp;
    const plan_sched *s = ss;
    const plan_topology *t = p->t;
    FILE *f = NULL;
    axis ax = { NULL, 0 };
    span *act = NULL, *runs = NULL;
    int n_act = 0, rc = 0, *show = NULL, *lrow = NULL, n_rows = 0, n_lrows = 0;
    int has[8] = { 1, 0, 0, 0, 0, 0, 0, 0 }; /* legend items drawn */
    double tmin = p->t0, tmax = p->t0, y, width, height, xr, axis_y;
    char b1[64], b2[64];

    show = calloc((size_t)t->n_nodes + 1, sizeof *show);
    lrow = calloc((size_t)t->n_links + 1, sizeof *lrow);
    act = malloc(((size_t)s->n_parts + (size_t)s->n_assign + (size_t)s->n_legs
                  + 1) * sizeof *act);
    runs = malloc(((size_t)s->n_assign + 2) * sizeof *runs);
    if (!show || !lrow || !act || !runs) {
        rc = -ENOMEM;
        snprintf(err, errlen, "%s: out of memory", path);
        goto out;
    }

    /* the time range and the busy spans */
    if (isfinite(s->completion))
        tmax = fmax(tmax, s->completion);
    for (int k = 0; k < s->n_parts; k++) {
        const plan_part *pt = &s->parts[k];
        if (isfinite(pt->finish))
            tmax = fmax(tmax, pt->finish);
        n_act += part_runs(s, k, act + n_act);
    }
    for (int i = 0; i < s->n_legs; i++) {
        const plan_leg *lg = &s->legs[i];
        if (isfinite(lg->arrive))
            tmax = fmax(tmax, lg->arrive);
        if (isfinite(lg->start) && isfinite(lg->end))
            act[n_act++] = (span){ lg->start, lg->end };
    }
    if ((rc = build_axis(&ax, tmin, tmax, act, n_act, LEFT, PLOTW, PAD)) < 0) {
        snprintf(err, errlen, "%s: out of memory", path);
        goto out;
    }
    xr = ax.s[ax.n - 1].x1;

    /* which rows */
    for (int n = 0; n < t->n_nodes; n++)
        show[n] = t->n_nodes <= 24 || n == p->src || n == p->dst;
    for (int k = 0; k < s->n_parts; k++)
        show[s->parts[k].node] = 1;
    for (int n = 0; n < t->n_nodes; n++)
        n_rows += show[n];
    /* link rows in the order the plan first uses them */
    for (int i = 0; i < s->n_legs; i++) {
        int l = s->legs[i].link, j;
        if (l < 0 || l >= t->n_links)
            continue;
        for (j = 0; j < n_lrows && lrow[j] != l; j++)
            ;
        if (j == n_lrows)
            lrow[n_lrows++] = l;
    }
    for (int a = 1; a < n_lrows; a++)
        for (int b = a; b > 0 && first_use(s, lrow[b]) <
                                 first_use(s, lrow[b - 1]); b--) {
            int tmpl = lrow[b];
            lrow[b] = lrow[b - 1];
            lrow[b - 1] = tmpl;
        }

    width = xr + 20;
    axis_y = 78 + n_rows * NODE_H + (n_lrows ? 22 + n_lrows * LINK_H : 0) + 8;
    height = axis_y + 46 + 70;

    if (!(f = fopen(path, "w"))) {
        rc = -errno;
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        goto out;
    }
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" "
            "height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" "
            "font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\">\n",
            width, height, width, height);
    fprintf(f, "<defs>\n"
            "<pattern id=\"brk\" width=\"6\" height=\"6\" "
            "patternUnits=\"userSpaceOnUse\" patternTransform=\"rotate(45)\">"
            "<line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"6\" stroke=\"#bbbbbb\" "
            "stroke-width=\"1.5\" stroke-opacity=\"0.7\"/></pattern>\n"
            "<marker id=\"arr\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" "
            "markerWidth=\"6\" markerHeight=\"6\" orient=\"auto\">"
            "<path d=\"M0,0 L10,5 L0,10 z\" fill=\"#555555\"/></marker>\n"
            "</defs>\n");
    fprintf(f, "<rect width=\"100%%\" height=\"100%%\" fill=\"#ffffff\"/>\n");
    fprintf(f, "<text x=\"12\" y=\"26\" font-size=\"16\" font-weight=\"bold\">");
    xml_str(f, title);
    fprintf(f, "</text>\n<text x=\"12\" y=\"46\" font-size=\"12\" "
            "fill=\"#444444\">");
    {
        char line[512];
        snprintf(line, sizeof line, "submitted at %s after the topology "
                 "epoch; input at %s, output to %s; %s; orbital energy "
                 "%.3g J", cli_dt(p->t0, b1, sizeof b1), t->nodes[p->src].name,
                 t->nodes[p->dst].name,
                 s->proven_optimal ? "proven optimal" : "not proven optimal",
                 s->energy_orbit_j);
        xml_str(f, line);
        if (isfinite(s->lower_bound)) {
            fprintf(f, "; lower bound ");
            xml_str(f, cli_dt(s->lower_bound - p->t0, b2, sizeof b2));
        }
    }
    fprintf(f, "</text>\n");

    /* ---- node rows ---- */
    y = 60;
    fprintf(f, "<text x=\"12\" y=\"%.1f\" font-size=\"11\" fill=\"#777777\" "
            "font-style=\"italic\">nodes</text>\n", y + 12);
    y += 18;
    for (int n = 0, r = 0; n < t->n_nodes; n++) {
        const plan_node *nd = &t->nodes[n];
        busy_list bl = { NULL, 0 };
        if (!show[n])
            continue;
        fprintf(f, "<g class=\"node\">\n");
        fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\""
                " fill=\"%s\" fill-opacity=\"0.6\"/>\n", LEFT, y, xr - LEFT,
                NODE_H, r++ % 2 ? "#f4f4f4" : "#fbfbfb");
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"13\" "
                "text-anchor=\"end\" font-weight=\"bold\">", LEFT - 8,
                y + 16);
        xml_str(f, nd->name);
        fprintf(f, "</text>\n<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\" "
                "text-anchor=\"end\" fill=\"#666666\">%s%s%s</text>\n",
                LEFT - 8, y + 28, plan_kind_name(nd->kind),
                nd->power.solar ? ", solar" : "",
                n == p->src ? (n == p->dst ? ", in+out" : ", input") :
                n == p->dst ? ", output" : "");
        /* eclipses */
        for (int e = 0; e < nd->power.n_eclipse; e++) {
            double a = nd->power.eclipse[e].start, b = nd->power.eclipse[e].end;
            double xa, xb;
            if (b <= tmin || a >= ax.s[ax.n - 1].t1)
                continue;
            xa = ax_x(&ax, a);
            xb = ax_x(&ax, b);
            has[3] = 1;
            fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
                    "height=\"%.1f\" fill=\"#9a9a9a\" fill-opacity=\"0.45\">"
                    "<title>eclipse %s .. %s</title></rect>\n", xa, y,
                    fmax(xb - xa, 1), NODE_H,
                    cli_dt(a - p->t0, b1, sizeof b1),
                    cli_dt(b - p->t0, b2, sizeof b2));
        }
        /* waits before a partition and pauses inside one (dashed), then
         * its busy runs (bars) */
        for (int k = 0; k < s->n_parts; k++) {
            const plan_part *pt = &s->parts[k];
            int nr;
            double prev;
            if (pt->node != n || !isfinite(pt->ready))
                continue;
            nr = vis_runs(&ax, s, k, runs);
            prev = pt->ready;
            for (int r2 = 0; r2 < nr; r2++) {
                double xa = ax_x(&ax, prev), xb = ax_x(&ax, runs[r2].a);
                if (xb - xa >= 2 && (has[6] = 1)) {
                    fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
                            "y2=\"%.1f\" stroke=\"%s\" stroke-width=\"2\" "
                            "stroke-dasharray=\"2,3\"><title>P%d %s %s .. %s"
                            "%s%s</title></line>\n", xa, y + BAR_Y + BAR_H / 2,
                            xb, y + BAR_Y + BAR_H / 2, palette[k % NPAL], k,
                            r2 ? "paused" : "waits",
                            cli_dt(prev - p->t0, b1, sizeof b1),
                            cli_dt(runs[r2].a - p->t0, b2, sizeof b2),
                            !r2 && pt->wait ? ": " : "",
                            !r2 ? plan_wait_name(pt->wait) : "");
                }
                prev = runs[r2].b;
            }
        }
        for (int k = 0; k < s->n_parts; k++) {
            const plan_part *pt = &s->parts[k];
            int nr;
            double busy = 0;
            char lab[32], dur[48];
            if (pt->node != n)
                continue;
            nr = part_runs(s, k, runs);
            for (int r2 = 0; r2 < nr; r2++)
                busy += runs[r2].b - runs[r2].a;
            nr = vis_runs(&ax, s, k, runs);
            snprintf(lab, sizeof lab, "P%d", k);
            cli_dt(busy, dur, sizeof dur);
            {
                /* label inside the widest run if it fits, else once,
                 * after the last run */
                int wi = 0;
                double ww = -1, lx = 0;
                for (int r2 = 0; r2 < nr; r2++) {
                    double xa = ax_x(&ax, runs[r2].a), xb = ax_x(&ax, runs[r2].b);
                    double bwid = fmax(xb - xa, MIN_BAR);
                    fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
                            "height=\"%.1f\" fill=\"%s\" stroke=\"#333333\" "
                            "stroke-width=\"0.6\" rx=\"2\"><title>P%d on ", xa,
                            y + BAR_Y, bwid, BAR_H, palette[k % NPAL], k);
                    xml_str(f, nd->name);
                    fprintf(f, ": groups %d-%d, computing %s .. %s (%s in "
                            "all)</title></rect>\n", pt->g0, pt->g1,
                            cli_dt(runs[r2].a - p->t0, b1, sizeof b1),
                            cli_dt(runs[r2].b - p->t0, b2, sizeof b2), dur + 1);
                    if (bwid > ww) {
                        ww = bwid;
                        wi = r2;
                    }
                    lx = xa + bwid;
                }
                if (nr && ww >= text_w(lab, 11) + 6)
                    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" "
                            "text-anchor=\"middle\" fill=\"#ffffff\" "
                            "font-weight=\"bold\">%s</text>\n",
                            ax_x(&ax, runs[wi].a) + ww / 2,
                            y + BAR_Y + BAR_H / 2 + 4, lab);
                else if (nr)
                    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\" "
                            "fill=\"#222222\">%s %s</text>\n", lx + 2,
                            y + BAR_Y + BAR_H / 2 + 4, lab, dur + 1);
            }
        }
        /* battery charge: a thin line over the row, 0 .. capacity */
        if (nd->power.solar && nd->power.battery_wh > 0) {
            double cap = nd->power.battery_wh, e0 = 0, e1 = 0;
            for (int k = 0; k < s->n_parts; k++)
                if (s->parts[k].node == n)
                    bl.n += s->parts[k].g1 - s->parts[k].g0 + 1;
            bl.iv = calloc((size_t)bl.n + 1, sizeof *bl.iv);
            if (bl.iv) {
                int j = 0;
                has[4] = 1;
                for (int k = 0; k < s->n_parts; k++) {
                    int nr;
                    if (s->parts[k].node != n)
                        continue;
                    nr = part_runs(s, k, runs);
                    for (int r2 = 0; r2 < nr; r2++)
                        bl.iv[j++] = (plan_interval){ runs[r2].a, runs[r2].b };
                }
                bl.n = j;
                qsort(bl.iv, (size_t)bl.n, sizeof *bl.iv, cmp_iv);
                fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
                        "height=\"%.1f\" fill=\"#e3f2e6\"/>\n", LEFT,
                        y + NODE_H - BAT_H - 1, xr - LEFT, BAT_H);
                fprintf(f, "<polyline fill=\"none\" stroke=\"#1a7f37\" "
                        "stroke-width=\"1.2\" points=\"");
                for (double x = LEFT; x <= xr + 0.01; x += 2) {
                    double tt = ax_t(&ax, x);
                    double e = plan_power_energy(&nd->power, bl.iv, bl.n, tt);
                    double fr = fmin(fmax(e / cap, 0), 1);
                    if (x == LEFT)
                        e0 = fr;
                    e1 = fr;
                    fprintf(f, "%.1f,%.1f ", x, y + NODE_H - 1.5 -
                            fr * (BAT_H - 1));
                }
                fprintf(f, "\"><title>battery charge, empty at the band's "
                        "bottom, full at its top</title></polyline>\n");
                fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\" "
                        "fill=\"#1a7f37\" text-anchor=\"end\">battery "
                        "%.1f%% \xe2\x86\x92 %.1f%%</text>\n", LEFT - 8,
                        y + 39, e0 * 100, e1 * 100);
                free(bl.iv);
            }
        }
        fprintf(f, "</g>\n");
        y += NODE_H;
    }

    /* ---- link rows ---- */
    if (n_lrows) {
        fprintf(f, "<text x=\"12\" y=\"%.1f\" font-size=\"11\" "
                "fill=\"#777777\" font-style=\"italic\">links used</text>\n",
                y + 14);
        y += 22;
    }
    for (int r = 0; r < n_lrows; r++) {
        const plan_link *lk = &t->links[lrow[r]];
        double tend = ax.s[ax.n - 1].t1;
        fprintf(f, "<g class=\"link\">\n");
        fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\""
                " fill=\"%s\"/>\n", LEFT, y, xr - LEFT, LINK_H,
                r % 2 ? "#f4f4f4" : "#fbfbfb");
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\" "
                "text-anchor=\"end\">", LEFT - 8, y + LINK_H / 2 + 4);
        xml_str(f, t->nodes[lk->from].name);
        fprintf(f, " \xe2\x86\x92 ");
        xml_str(f, t->nodes[lk->to].name);
        fprintf(f, "</text>\n");
        /* contact windows */
        has[2] = 1;
        if (lk->always)
            fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
                    "height=\"%.1f\" fill=\"#cde4fa\"><title>always in "
                    "contact</title></rect>\n", LEFT, y + 2, xr - LEFT,
                    LINK_H - 4);
        else
            for (int w = plan_link_window_at(lk, tmin); w < lk->n_win; w++) {
                const plan_window *wn = &lk->win[w];
                double xa, xb;
                if (wn->start >= tend)
                    break;
                xa = ax_x(&ax, wn->start);
                xb = ax_x(&ax, wn->end);
                fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
                        "height=\"%.1f\" fill=\"#cde4fa\"><title>contact "
                        "%s .. %s, %.4g Mbit/s, light time %s</title>"
                        "</rect>\n", xa, y + 2, fmax(xb - xa, 1), LINK_H - 4,
                        cli_dt(wn->start - p->t0, b1, sizeof b1),
                        cli_dt(wn->end - p->t0, b2, sizeof b2),
                        wn->rate * 8 / 1e6, wn->delay > 0 ?
                        cli_dt(wn->delay, (char[48]){0}, 48) + 1 : "0");
            }
        /* waits for this link, then the legs on it */
        for (int i = 0; i < s->n_xfers; i++) {
            const plan_xfer *x = &s->xfers[i];
            double xa, xb;
            if (x->wait == PLAN_WAIT_NONE || x->n_legs == 0 ||
                x->leg0 >= s->n_legs || s->legs[x->leg0].link != lrow[r] ||
                !isfinite(x->ready) || !isfinite(x->first_send))
                continue;
            xa = ax_x(&ax, x->ready);
            xb = ax_x(&ax, x->first_send);
            if (xb - xa < 2)
                continue;
            has[6] = 1;
            fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\""
                    " stroke=\"#888888\" stroke-width=\"1.5\" "
                    "stroke-dasharray=\"2,3\"/>\n", xa, y + LINK_H / 2, xb,
                    y + LINK_H / 2);
            if (xb - xa > 110)
                fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"9\" "
                        "fill=\"#555555\" text-anchor=\"middle\">T%d: %s"
                        "</text>\n", (xa + xb) / 2, y + LINK_H / 2 - 3, i,
                        plan_wait_name(x->wait));
        }
        for (int i = 0; i < s->n_xfers; i++) {
            const plan_xfer *x = &s->xfers[i];
            const char *col = x->from_part >= 0 ?
                palette[x->from_part % NPAL] : "#999999";
            for (int j = 0; j < x->n_legs && x->leg0 + j < s->n_legs; j++) {
                const plan_leg *lg = &s->legs[x->leg0 + j];
                double xa, xb, xc, bwid;
                char lab[128], bb[32];
                if (lg->link != lrow[r] || !isfinite(lg->end))
                    continue;
                xa = ax_x(&ax, lg->start);
                xb = ax_x(&ax, lg->end);
                xc = ax_x(&ax, lg->arrive);
                bwid = fmax(xb - xa, MIN_BAR);
                has[1] = 1;
                if (xc - (xa + bwid) > 4 && (has[5] = 1))
                    fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
                            "y2=\"%.1f\" stroke=\"#555555\" stroke-width=\"1\""
                            " marker-end=\"url(#arr)\"><title>in flight "
                            "(light time) until %s</title></line>\n",
                            xa + bwid, y + LINK_H - 6, xc, y + LINK_H - 6,
                            cli_dt(lg->arrive - p->t0, b1, sizeof b1));
                snprintf(lab, sizeof lab, "T%d", i);
                fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
                        "height=\"%.1f\" fill=\"%s\" stroke=\"#333333\" "
                        "stroke-width=\"0.6\"><title>T%d: %s sent %s .. %s, "
                        "arrives %s</title></rect>\n", xa, y + 5, bwid,
                        LINK_H - 14, col, i, cli_bytes(lg->bytes, bb, sizeof bb),
                        cli_dt(lg->start - p->t0, b1, sizeof b1),
                        cli_dt(lg->end - p->t0, b2, sizeof b2),
                        cli_dt(lg->arrive - p->t0, (char[48]){0}, 48));
                /* the first leg of a transfer that waited says so */
                if (j == 0 && x->wait != PLAN_WAIT_NONE &&
                    isfinite(x->ready) && x->first_send > x->ready) {
                    char wl[128];
                    snprintf(wl, sizeof wl, "T%d %s, after %s %s", i, bb,
                             plan_wait_name(x->wait),
                             cli_dt(x->first_send - x->ready, b1,
                                    sizeof b1) + 1);
                    if (bwid >= text_w(wl, 10) + 8)
                        snprintf(lab, sizeof lab, "%.*s", (int)sizeof lab - 1,
                                 wl);
                }
                if (bwid >= text_w(lab, 10) + 4)
                    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\" "
                            "text-anchor=\"middle\" fill=\"#ffffff\">%s"
                            "</text>\n", xa + bwid / 2, y + LINK_H / 2 + 1,
                            lab);
                else
                    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"9\" "
                            "fill=\"#222222\">%s %s</text>\n", xa + bwid + 2,
                            y + LINK_H / 2 - 1, lab, bb);
            }
        }
        fprintf(f, "</g>\n");
        y += LINK_H;
    }

    /* breaks: hatched bands over the rows (nothing runs there) */
    for (int i = 0; i < ax.n; i++)
        if (ax.s[i].brk && (has[7] = 1))
            fprintf(f, "<rect x=\"%.1f\" y=\"60\" width=\"%.1f\" "
                    "height=\"%.1f\" fill=\"url(#brk)\"><title>%s .. %s: "
                    "nothing computing or sending (axis shortened)</title>"
                    "</rect>\n", ax.s[i].x0, ax.s[i].x1 - ax.s[i].x0,
                    axis_y - 60, cli_dt(ax.s[i].t0 - p->t0, b1, sizeof b1),
                    cli_dt(ax.s[i].t1 - p->t0, b2, sizeof b2));

    /* ---- completion and deadline markers ---- */
    if (isfinite(s->completion)) {
        double xc = ax_x(&ax, s->completion);
        fprintf(f, "<line x1=\"%.1f\" y1=\"60\" x2=\"%.1f\" y2=\"%.1f\" "
                "stroke=\"#c0392b\" stroke-width=\"1.5\"/>\n", xc, xc, axis_y);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\" "
                "fill=\"#c0392b\" text-anchor=\"end\">done %s</text>\n",
                xc - 3, 70.0, cli_dt(s->completion - p->t0, b1, sizeof b1));
    }
    if (isfinite(p->deadline) && p->deadline <= ax.s[ax.n - 1].t1) {
        double xd = ax_x(&ax, p->deadline);
        fprintf(f, "<line x1=\"%.1f\" y1=\"60\" x2=\"%.1f\" y2=\"%.1f\" "
                "stroke=\"#e67e22\" stroke-width=\"1.5\" "
                "stroke-dasharray=\"6,3\"/>\n<text x=\"%.1f\" y=\"%.1f\" "
                "font-size=\"10\" fill=\"#e67e22\">deadline</text>\n", xd, xd,
                axis_y, xd + 3, 70.0);
    }

    /* ---- the time axis ---- */
    fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
            "stroke=\"#333333\"/>\n", LEFT, axis_y, xr, axis_y);
    {
        double last_right = -1e9, last_brk = -1e9, last_brk2 = -1e9;
        double anc_right = -1e9;
        int n_anc = 0;
        span *anc = act;         /* reused: the busy spans are done with */
        /* Exact labels where a stretch starts after a break come first;
         * the regular ticks then keep clear of them. */
        for (int i = 1; i < ax.n; i++) {
            char lab[64];
            double w;
            if (!ax.s[i - 1].brk || ax.s[i].brk)
                continue;
            w = text_w(cli_dt(ax.s[i].t0 - p->t0, lab, sizeof lab), 10);
            if (ax.s[i].x0 - w / 2 <= anc_right + 4)
                continue;
            anc[n_anc++] = (span){ ax.s[i].x0 - w / 2, ax.s[i].x0 + w / 2 };
            anc_right = ax.s[i].x0 + w / 2;
        }
        for (int i = 0; i < ax.n; i++) {
            const seg *sg = &ax.s[i];
            double sc, step;
            if (sg->brk) {
                char lab[64];
                double xm = (sg->x0 + sg->x1) / 2;
                fprintf(f, "<path d=\"M%.1f,%.1f l4,-8 M%.1f,%.1f l4,-8\" "
                        "stroke=\"#333333\" stroke-width=\"1.2\"/>\n"
                        "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
                        "height=\"4\" fill=\"#ffffff\"/>\n",
                        xm - 5, axis_y + 4, xm + 1, axis_y + 4, xm - 3,
                        axis_y - 2, 4.0);
                snprintf(lab, sizeof lab, "%s skipped",
                         cli_dt(sg->t1 - sg->t0, b1, sizeof b1) + 1);
                {
                    /* a second line when the first is taken */
                    int row2 = xm - text_w(lab, 9) / 2 <= last_brk + 4;
                    if (!row2 || xm - text_w(lab, 9) / 2 > last_brk2 + 4) {
                        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" "
                                "font-size=\"9\" fill=\"#777777\" "
                                "text-anchor=\"middle\">%s</text>\n", xm,
                                axis_y + (row2 ? 40 : 30), lab);
                        *(row2 ? &last_brk2 : &last_brk) =
                            xm + text_w(lab, 9) / 2;
                    }
                }
                continue;
            }
            if (sg->x1 - sg->x0 < 1 || sg->t1 <= sg->t0)
                continue;
            sc = (sg->x1 - sg->x0) / (sg->t1 - sg->t0);
            /* ticks at least a label's width apart */
            step = nice_step(90 / sc);
            for (int it = 0; it < 3; it++) {
                char probe[64];
                double need;
                tick_label(sg->t1 - p->t0, step, probe, sizeof probe);
                need = text_w(probe, 10) + 14;
                if (step * sc >= need)
                    break;
                step = nice_step(need / sc);
            }
            /* label where a linear stretch starts after a break, exactly */
            if (i > 0 && ax.s[i - 1].brk) {
                char lab[64];
                cli_dt(sg->t0 - p->t0, lab, sizeof lab);
                fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
                        "y2=\"%.1f\" stroke=\"#333333\"/>\n", sg->x0, axis_y,
                        sg->x0, axis_y + 6);
                for (int a = 0; a < n_anc; a++)
                    if (fabs((anc[a].a + anc[a].b) / 2 - sg->x0) < 0.01) {
                        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" "
                                "font-size=\"10\" text-anchor=\"middle\">"
                                "%s</text>\n", sg->x0, axis_y + 18, lab);
                        last_right = fmax(last_right, anc[a].b);
                    }
            }
            for (double k = ceil((sg->t0 - p->t0) / step - 1e-9);; k++) {
                double tt = p->t0 + k * step, x;
                char lab[64];
                if (tt > sg->t1 + 1e-12)
                    break;
                x = ax_x(&ax, tt);
                if (x > xr + 0.5)
                    break;
                fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
                        "y2=\"%.1f\" stroke=\"#333333\"/>\n", x, axis_y, x,
                        axis_y + 5);
                fprintf(f, "<line x1=\"%.1f\" y1=\"60\" x2=\"%.1f\" "
                        "y2=\"%.1f\" stroke=\"#e6e6e6\" stroke-width=\"0.6\"/>"
                        "\n", x, x, axis_y);
                tick_label(k * step, step, lab, sizeof lab);
                {
                    double lo = x - text_w(lab, 10) / 2 - 6,
                           hi = x + text_w(lab, 10) / 2 + 6;
                    int clash = lo <= last_right || hi >= width;
                    for (int a = 0; a < n_anc && !clash; a++)
                        clash = lo < anc[a].b && hi > anc[a].a;
                    if (clash)
                        continue;
                }
                fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\" "
                        "text-anchor=\"middle\">%s</text>\n", x, axis_y + 18,
                        lab);
                last_right = x + text_w(lab, 10) / 2;
            }
        }
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\" "
                "fill=\"#555555\" text-anchor=\"end\">time after "
                "submission</text>\n", LEFT - 22, axis_y + 18);
    }

    /* ---- legend ---- */
    {
        double lx = 12, ly = axis_y + 58;
        static const struct { const char *kind, *label; } items[] = {
            { "part", "Pk: partition k computing (colour per partition)" },
            { "xfer", "Tk: transfer k sending (colour of its producer)" },
            { "win", "contact window" },
            { "ecl", "eclipse" },
            { "bat", "battery charge" },
            { "fly", "light time in flight" },
            { "wait", "waiting (hover for why)" },
            { "brk", "nothing computing or sending: axis shortened" },
        };
        for (size_t i = 0; i < sizeof items / sizeof items[0]; i++) {
            double w = 22 + text_w(items[i].label, 11) + 18;
            if (!has[i])
                continue;
            if (lx + w > width - 10) {
                lx = 12;
                ly += 20;
            }
            if (!strcmp(items[i].kind, "part"))
                fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"16\" "
                        "height=\"11\" fill=\"%s\" stroke=\"#333333\" "
                        "stroke-width=\"0.6\"/>\n", lx, ly - 9, palette[0]);
            else if (!strcmp(items[i].kind, "xfer"))
                fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"16\" "
                        "height=\"8\" fill=\"%s\" stroke=\"#333333\" "
                        "stroke-width=\"0.6\"/>\n", lx, ly - 7, palette[1]);
            else if (!strcmp(items[i].kind, "win"))
                fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"16\" "
                        "height=\"11\" fill=\"#cde4fa\"/>\n", lx, ly - 9);
            else if (!strcmp(items[i].kind, "ecl"))
                fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"16\" "
                        "height=\"11\" fill=\"#9a9a9a\" fill-opacity=\"0.45\""
                        "/>\n", lx, ly - 9);
            else if (!strcmp(items[i].kind, "bat"))
                fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
                        "y2=\"%.1f\" stroke=\"#1a7f37\" stroke-width=\"1.5\"/>"
                        "\n", lx, ly - 3, lx + 16, ly - 3);
            else if (!strcmp(items[i].kind, "fly"))
                fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
                        "y2=\"%.1f\" stroke=\"#555555\" "
                        "marker-end=\"url(#arr)\"/>\n", lx, ly - 3, lx + 16,
                        ly - 3);
            else if (!strcmp(items[i].kind, "wait"))
                fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
                        "y2=\"%.1f\" stroke=\"#888888\" stroke-width=\"2\" "
                        "stroke-dasharray=\"2,3\"/>\n", lx, ly - 3, lx + 16,
                        ly - 3);
            else
                fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"16\" "
                        "height=\"11\" fill=\"url(#brk)\" stroke=\"#cccccc\""
                        "/>\n", lx, ly - 9);
            fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\">%s"
                    "</text>\n", lx + 22, ly, items[i].label);
            lx += w;
        }
    }
    fprintf(f, "</svg>\n");
    if (ferror(f)) {
        rc = -EIO;
        snprintf(err, errlen, "%s: write error", path);
    }
out:
    if (f && fclose(f) != 0 && rc == 0) {
        rc = -EIO;
        snprintf(err, errlen, "%s: write error", path);
    }
    free(ax.s);
    free(act);
    free(runs);
    free(show);
    free(lrow);
    return rc;
}
