/*
 * plan.c - `lagrange plan`: split a model and place the pieces on the nodes
 * of a topology (lib/plan), then show the schedule a person can follow:
 * which node runs which part of the model and when, every transfer and the
 * contact window it uses, why anything waits, the predicted completion and
 * the energy per node. --json for programs, --svg for a Gantt chart
 * (cli/plan_svg.c). Exit 5 when no plan meets the constraints.
 */
#include <ctype.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "lgtime.h"
#include "lgerr.h"
#include "plan.h"
#include "topology.h"

#define MAX_OPT_LIST 256

static void help(FILE *f)
{
    fprintf(f,
"usage: lagrange plan MODEL.onnx --topology FILE [--at TIME]\n"
"                     [--input-at NODE] [--output-to NODE]\n"
"                     [--objective time|energy] [--deadline DUR]\n"
"                     [--strategy auto|dp|list|source|fastest|split|heft|exhaustive]\n"
"                     [--forbid NODE[,NODE...]] [--pin MODELNODE=NODE]\n"
"                     [--profiles FILE] [--no-coarsen] [--dim NAME=V]\n"
"                     [--json] [--svg FILE]\n\n"
"Split MODEL into partitions and place them on the nodes of a topology\n"
"(lagrange-topology(5)), scheduling every transfer inside a contact window\n"
"and every run inside its node's power budget. Prints the partitions, the\n"
"transfers with the windows they use, the reason for every wait, the\n"
"predicted completion and the energy per node.\n\n"
"  --at TIME         submission time: seconds after the topology's epoch\n"
"                    (300, +300, 5min, 1.5h, 2d) or an ISO 8601 UTC time\n"
"                    (2026-11-22T10:00:00Z; needs Epoch= in the topology)\n"
"  --input-at NODE   where the inputs are (default: the first ground node)\n"
"  --output-to NODE  where the outputs must go (default: the input node)\n"
"  --objective       time: earliest completion (default); energy: least\n"
"                    energy on solar-powered nodes, meeting --deadline\n"
"  --deadline DUR    latest completion, as a duration after --at\n"
"  --strategy S      search to use (default auto: all of them, keep the best)\n"
"  --forbid NODES    run nothing on these nodes (they may still relay)\n"
"  --pin M=NODE      run the part holding model node M (name or index from\n"
"                    'lagrange inspect --nodes') on NODE; repeatable\n"
"  --profiles FILE   extra Profile= lines (from 'lagrange calibrate')\n"
"  --no-coarsen      one planning group per graph node (slower, finer)\n"
"  --json            one JSON object instead of the tables\n"
"  --svg FILE        also write a Gantt chart of the schedule\n\n"
"Exit status: 0 planned, 2 usage (unknown node names), 3 bad model or\n"
"topology, 5 infeasible (the reason is printed).\n");
}

/* ------------------------------------------------------------ parsing */

/* A duration: a non-negative number with an optional leading '+' and an
 * optional unit (us, ms, s, m/min, h, d). */
static int parse_dur(const char *s, double *out)
{
    static const struct { const char *u; double k; } units[] = {
        { "", 1 }, { "s", 1 }, { "sec", 1 }, { "ms", 1e-3 }, { "us", 1e-6 },
        { "m", 60 }, { "min", 60 }, { "h", 3600 }, { "hr", 3600 },
        { "d", 86400 }, { "day", 86400 },
    };
    char *end;
    double v;
    if (*s == '+')
        s++;
    if (!isdigit((unsigned char)*s) && *s != '.')
        return -1;
    errno = 0;
    v = strtod(s, &end);
    if (end == s || errno || !isfinite(v) || v < 0)
        return -1;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (!strcmp(end, units[i].u)) {
            *out = v * units[i].k;
            return 0;
        }
    return -1;
}

static int looks_iso(const char *s)
{
    return strlen(s) >= 10 && isdigit((unsigned char)s[0]) &&
           isdigit((unsigned char)s[3]) && s[4] == '-';
}

static int model_node(const lg_graph *g, const char *s)
{
    char *end;
    long v;
    for (int i = 0; i < g->n_nodes; i++)
        if (!strcmp(g->nodes[i].name, s))
            return i;
    v = strtol(s, &end, 10);
    if (*s && !*end && v >= 0 && v < g->n_nodes)
        return (int)v;
    return -1;
}

/* Append name to a comma-separated list of unknown names. */
static void add_unknown(char *buf, size_t len, const char *what,
                        const char *name)
{
    size_t n = strlen(buf);
    snprintf(buf + n, len - n, "%s%s '%s'", n ? ", " : "", what, name);
}

/* -------------------------------------------------------------- output */

typedef struct view {
    const lg_graph *g;
    const plan_model *m;
    const plan_topology *t;
    const plan_problem *p;
    const plan_sched *s;
    double t0;
} view;

static int imax(int a, int b)
{
    return a > b ? a : b;
}

static const char *node_name(const view *v, int n)
{
    return n >= 0 && n < v->t->n_nodes ? v->t->nodes[n].name : "?";
}

static const char *link_name(const view *v, int l, char *buf, size_t len)
{
    if (l < 0 || l >= v->t->n_links)
        snprintf(buf, len, "?");
    else
        snprintf(buf, len, "%s->%s", node_name(v, v->t->links[l].from),
                 node_name(v, v->t->links[l].to));
    return buf;
}

static const char *energy_str(double j, char *buf, size_t len)
{
    double a = fabs(j);
    if (!isfinite(j))
        snprintf(buf, len, "-");
    else if (a == 0)
        snprintf(buf, len, "0 J");
    else if (a < 1e-3)
        snprintf(buf, len, "%.3g uJ", j * 1e6);
    else if (a < 1)
        snprintf(buf, len, "%.3g mJ", j * 1e3);
    else if (a < 1e4)
        snprintf(buf, len, "%.3g J", j);
    else if (a < 1e7)
        snprintf(buf, len, "%.3g kJ", j / 1e3);
    else
        snprintf(buf, len, "%.3g MJ", j / 1e6);
    return buf;
}

static const char *rel(const view *v, double t, char *buf, size_t len)
{
    if (!isfinite(t))
        return snprintf(buf, len, "never"), buf;
    return cli_dt(t - v->t0, buf, len);
}

/* The transfer into part k that arrived last (what its ready waited on). */
static const plan_xfer *last_input(const view *v, int k)
{
    const plan_xfer *best = NULL;
    for (int i = 0; i < v->s->n_xfers; i++) {
        const plan_xfer *x = &v->s->xfers[i];
        if (x->to_part == k && (!best || x->arrive > best->arrive))
            best = x;
    }
    return best;
}

/* "WaitingContact gs-mad->leo-1 until +412.0s" for a transfer. */
static const char *xfer_wait(const view *v, const plan_xfer *x, char *buf,
                             size_t len)
{
    char lb[2 * PLAN_NAME_MAX + 8], tb[48];
    if (x->wait == PLAN_WAIT_NONE) {
        snprintf(buf, len, "-");
        return buf;
    }
    if (x->wait_link >= 0)
        link_name(v, x->wait_link, lb, sizeof lb);
    else
        snprintf(lb, sizeof lb, "%s->%s", node_name(v, x->from_node),
                 node_name(v, x->to_node));
    snprintf(buf, len, "%s %s until %s", plan_wait_name(x->wait), lb,
             rel(v, x->first_send, tb, sizeof tb));
    return buf;
}

/* Compute time of part k: the sum of its groups' runs, which may pause
 * inside the partition (battery, a late input). *pause_g gets the last
 * group that started after a pause, or -1. */
static double part_busy(const view *v, int k, int *pause_g)
{
    const plan_sched *s = v->s;
    const plan_part *pt = &s->parts[k];
    double busy = 0, prev = NAN;
    *pause_g = -1;
    if (!s->gstart || !s->gfinish || pt->g1 >= s->n_assign)
        return pt->finish - pt->start;
    for (int g = pt->g0; g <= pt->g1; g++) {
        double a = s->gstart[g], b = s->gfinish[g];
        if (!isfinite(a) || !isfinite(b))
            continue;
        busy += b - a;
        if (!isnan(prev) && a > prev + 1e-9)
            *pause_g = g;
        prev = b;
    }
    return busy;
}

/* Why part k started (or went on) when it did: its own wait (power, a
 * busy node), a pause inside it, or else the wait of the input transfer
 * that arrived last. */
static const char *part_wait(const view *v, int k, char *buf, size_t len)
{
    const plan_part *pt = &v->s->parts[k];
    char tb[48];
    const plan_xfer *x;
    int pg;
    if (pt->wait != PLAN_WAIT_NONE) {
        snprintf(buf, len, "%s %s until %s", plan_wait_name(pt->wait),
                 node_name(v, pt->node), rel(v, pt->start, tb, sizeof tb));
        return buf;
    }
    part_busy(v, k, &pg);
    if (pg >= 0) {
        double at = v->s->gstart[pg];
        /* an input that arrived just then, else the battery (solar) */
        for (int i = 0; i < v->s->n_xfers; i++) {
            x = &v->s->xfers[i];
            if (x->to_part == k && fabs(x->arrive - at) < 1e-6) {
                if (x->wait != PLAN_WAIT_NONE)
                    return xfer_wait(v, x, buf, len);
                snprintf(buf, len, "%s from %s until %s",
                         x->producer == PLAN_XFER_WEIGHTS ? "weights" : "input",
                         node_name(v, x->from_node), rel(v, at, tb, sizeof tb));
                return buf;
            }
        }
        snprintf(buf, len, "%s %s until %s",
                 plan_wait_name(v->t->nodes[pt->node].power.solar ?
                                PLAN_WAIT_POWER : PLAN_WAIT_NODE),
                 node_name(v, pt->node), rel(v, at, tb, sizeof tb));
        return buf;
    }
    x = last_input(v, k);
    if (x && x->wait != PLAN_WAIT_NONE)
        return xfer_wait(v, x, buf, len);
    snprintf(buf, len, "-");
    return buf;
}

/* A graph node name shortened to at most max chars, keeping its tail
 * (torch names differ at the end: /layer1/layer1.0/conv1/Conv). */
static const char *short_name(const char *s, char *buf, size_t len, int max)
{
    size_t n = strlen(s);
    const char *tail;
    if ((int)n <= max) {
        snprintf(buf, len, "%s", s);
        return buf;
    }
    tail = s + n - (size_t)(max - 3);
    if (*tail == '/' && tail[1])
        tail++;
    snprintf(buf, len, "...%s", tail);
    return buf;
}

static const char *gnode_name(const view *v, int i)
{
    if (v->g && i >= 0 && i < v->g->n_nodes)
        return v->g->nodes[i].name;
    return "?";
}

/* "conv1 .. layer2.0" (or one name) for a partition's graph nodes. */
static void part_nodes(const view *v, const plan_part *pt, char *buf,
                       size_t len)
{
    char fb[64], lb[64];
    int a = v->m->grp[pt->g0].first, b = v->m->grp[pt->g1].last;
    short_name(gnode_name(v, a), fb, sizeof fb, 26);
    if (a == b)
        snprintf(buf, len, "%s", fb);
    else
        snprintf(buf, len, "%s .. %s", fb,
                 short_name(gnode_name(v, b), lb, sizeof lb, 26));
}

static void print_text(const view *v, const char *model, const char *topo,
                       enum plan_strategy st, const char *input_name,
                       const char *output_name)
{
    const plan_sched *s = v->s;
    const plan_topology *t = v->t;
    char b1[64], b2[64], b3[64], b4[64], wb[256], eb[32];
    int nw = 4, mw = 11, tw = 9;
    int *used = calloc((size_t)t->n_nodes, sizeof *used);

    printf("plan: %s on %s at %s", model, topo, cli_dt(v->t0, b1, sizeof b1));
    if (t->epoch_unix > 0) {
        time_t tt = (time_t)floor(t->epoch_unix + v->t0);
        struct tm tm;
        gmtime_r(&tt, &tm);
        strftime(b2, sizeof b2, "%Y-%m-%dT%H:%M:%SZ", &tm);
        printf(" (%s)", b2);
    }
    printf(", input %s -> output %s\n", input_name, output_name);
    printf("      objective %s", v->p->obj == PLAN_OBJ_ENERGY ? "energy" : "time");
    if (isfinite(v->p->deadline))
        printf(" (deadline %s)", rel(v, v->p->deadline, b1, sizeof b1));
    printf(", strategy %s", plan_strategy_name(st));
    if (s->strategy[0] && strcmp(s->strategy, plan_strategy_name(st)))
        printf(" (%s)", s->strategy);
    if (s->proven_optimal)
        printf(", proven optimal");
    else if (s->proven_cuts > 0)
        printf(", not proven optimal (best of all plans cutting at the %d "
               "block boundar%s)", s->proven_cuts,
               s->proven_cuts == 1 ? "y" : "ies");
    else
        printf(", not proven optimal");
    printf(", solved in %.1f ms\n", s->solve_ms);

    for (int k = 0; k < s->n_parts; k++) {
        int l = (int)strlen(node_name(v, s->parts[k].node));
        char mb[160];
        if (l > nw)
            nw = l;
        if (used)
            used[s->parts[k].node] = 1;
        part_nodes(v, &s->parts[k], mb, sizeof mb);
        if ((int)strlen(mb) > mw)
            mw = (int)strlen(mb);
    }
    for (int k = 0; k < s->n_parts; k++) {
        const plan_part *pt = &s->parts[k];
        tw = imax(tw, (int)strlen(rel(v, pt->ready, b1, sizeof b1)));
        tw = imax(tw, (int)strlen(rel(v, pt->start, b1, sizeof b1)));
        tw = imax(tw, (int)strlen(rel(v, pt->finish, b1, sizeof b1)));
    }
    for (int i = 0; i < s->n_xfers; i++) {
        const plan_xfer *x = &s->xfers[i];
        tw = imax(tw, (int)strlen(rel(v, x->ready, b1, sizeof b1)));
        tw = imax(tw, (int)strlen(rel(v, x->first_send, b1, sizeof b1)));
        tw = imax(tw, (int)strlen(rel(v, x->arrive, b1, sizeof b1)));
    }
    printf("\npartitions:\n");
    printf("  %3s  %-*s %-9s %-*s %*s %*s %9s %*s %9s  %s\n", "#", nw,
           "node", "groups", mw, "model nodes", tw, "ready", tw, "start",
           "run", tw, "finish", "energy", "wait");
    for (int k = 0; k < s->n_parts; k++) {
        const plan_part *pt = &s->parts[k];
        char gb[32], mb[160];
        int pg;
        if (pt->g0 == pt->g1)
            snprintf(gb, sizeof gb, "%d", pt->g0);
        else
            snprintf(gb, sizeof gb, "%d-%d", pt->g0, pt->g1);
        part_nodes(v, pt, mb, sizeof mb);
        printf("  %3d  %-*s %-9s %-*s %*s %*s %9s %*s %9s  %s\n", k, nw,
               node_name(v, pt->node), gb, mw, mb,
               tw, rel(v, pt->ready, b1, sizeof b1),
               tw, rel(v, pt->start, b2, sizeof b2),
               cli_dt(part_busy(v, k, &pg), b4, sizeof b4) + 1,
               tw, rel(v, pt->finish, b3, sizeof b3),
               energy_str(pt->energy_j, eb, sizeof eb),
               part_wait(v, k, wb, sizeof wb));
    }

    printf("\ntransfers:\n");
    if (s->n_xfers == 0)
        printf("  (none: everything runs where the input is)\n");
    else
        printf("  %3s  %-*s  %-*s %10s %*s %*s %*s  %s\n", "#", nw + 5,
               "from", nw + 5, "to", "bytes", tw, "ready", tw, "send", tw,
               "arrive", "wait");
    for (int i = 0; i < s->n_xfers; i++) {
        const plan_xfer *x = &s->xfers[i];
        char fb[PLAN_NAME_MAX + 16], tb[PLAN_NAME_MAX + 16], bb[32];
        if (x->producer == PLAN_XFER_WEIGHTS)
            snprintf(fb, sizeof fb, "wts %s", node_name(v, x->from_node));
        else if (x->from_part < 0)
            snprintf(fb, sizeof fb, "in  %s", node_name(v, x->from_node));
        else
            snprintf(fb, sizeof fb, "#%-2d %s", x->from_part,
                     node_name(v, x->from_node));
        if (x->to_part < 0)
            snprintf(tb, sizeof tb, "out %s", node_name(v, x->to_node));
        else
            snprintf(tb, sizeof tb, "#%-2d %s", x->to_part,
                     node_name(v, x->to_node));
        printf("  %3d  %-*s  %-*s %10s %*s %*s %*s  %s\n", i, nw + 5, fb,
               nw + 5, tb, cli_bytes(x->bytes, bb, sizeof bb),
               tw, rel(v, x->ready, b1, sizeof b1),
               tw, x->n_legs ? rel(v, x->first_send, b2, sizeof b2) : "-",
               tw, rel(v, x->arrive, b3, sizeof b3),
               xfer_wait(v, x, wb, sizeof wb));
        if (x->n_legs == 0 && x->from_node == x->to_node)
            printf("       local: no link needed\n");
        for (int j = 0; j < x->n_legs && x->leg0 + j < s->n_legs; j++) {
            const plan_leg *lg = &s->legs[x->leg0 + j];
            const plan_link *lk = &t->links[lg->link];
            char ln[2 * PLAN_NAME_MAX + 8], w1[160], w2[64];
            link_name(v, lg->link, ln, sizeof ln);
            if (lk->always || lg->window < 0 || lg->window >= lk->n_win)
                snprintf(w1, sizeof w1, "always open");
            else
                snprintf(w1, sizeof w1, "window %s..%s",
                         rel(v, lk->win[lg->window].start, b1, sizeof b1),
                         rel(v, lk->win[lg->window].end, w2, sizeof w2));
            printf("       via %s (%s): send %s..%s, arrive %s, %s\n", ln, w1,
                   rel(v, lg->start, b2, sizeof b2),
                   rel(v, lg->end, b3, sizeof b3),
                   rel(v, lg->arrive, b4, sizeof b4),
                   cli_bytes(lg->bytes, bb, sizeof bb));
        }
    }

    printf("\nnodes:\n  %-*s %-7s %10s %10s %11s %9s\n", nw, "node", "kind",
           "memory", "used", "busy", "energy");
    for (int n = 0; n < t->n_nodes; n++) {
        char mb1[32], mb2[32];
        if (!(used && used[n]) && n != v->p->src && n != v->p->dst)
            continue;
        printf("  %-*s %-7s %10s %10s %11s %9s\n", nw, node_name(v, n),
               plan_kind_name(t->nodes[n].kind),
               t->nodes[n].memory ? cli_bytes(t->nodes[n].memory, mb1,
                                              sizeof mb1) : "-",
               cli_bytes(s->node_mem ? s->node_mem[n] : 0, mb2, sizeof mb2),
               cli_dt(s->node_busy_s ? s->node_busy_s[n] : 0, b1, sizeof b1)
                   + 1,
               energy_str(s->node_energy_j ? s->node_energy_j[n] : 0, eb,
                          sizeof eb));
    }

    printf("\ncompletion: %s (lower bound %s)\n",
           rel(v, s->completion, b1, sizeof b1),
           rel(v, s->lower_bound, b2, sizeof b2));
    printf("energy:");
    {
        int first = 1;
        for (int n = 0; n < t->n_nodes; n++) {
            if (!(used && used[n]))
                continue;
            printf("%s %s %s", first ? "" : ",", node_name(v, n),
                   energy_str(s->node_energy_j ? s->node_energy_j[n] : 0, eb,
                              sizeof eb));
            first = 0;
        }
        printf("%s(orbital total %s)\n", first ? " " : " ",
               energy_str(s->energy_orbit_j, eb, sizeof eb));
    }
    free(used);
}

/* A JSON number, or null for inf/nan (JSON has neither). */
static void jnum(double x)
{
    if (isfinite(x))
        printf("%.9g", x);
    else
        printf("null");
}

static void jrel(const view *v, double t)
{
    jnum(isfinite(t) ? t - v->t0 : t);
}

static void print_json(const view *v, enum plan_strategy st,
                       const char *model, const char *topo)
{
    const plan_sched *s = v->s;
    const plan_topology *t = v->t;
    char lb[2 * PLAN_NAME_MAX + 8];

    printf("{\"model\":");
    cli_json_str(stdout, model);
    printf(",\"topology\":");
    cli_json_str(stdout, topo);
    printf(",\"t0_s\":");
    jnum(v->t0);
    printf(",\"t0_unix\":");
    if (t->epoch_unix > 0)
        jnum(t->epoch_unix + v->t0);
    else
        printf("null");
    printf(",\"input_at\":");
    cli_json_str(stdout, node_name(v, v->p->src));
    printf(",\"output_to\":");
    cli_json_str(stdout, node_name(v, v->p->dst));
    printf(",\"objective\":\"%s\",\"deadline_s\":",
           v->p->obj == PLAN_OBJ_ENERGY ? "energy" : "time");
    jrel(v, v->p->deadline);
    printf(",\"strategy_requested\":");
    cli_json_str(stdout, plan_strategy_name(st));
    printf(",\"strategy\":");
    cli_json_str(stdout, s->strategy[0] ? s->strategy : plan_strategy_name(st));
    printf(",\"feasible\":%s,\"reason\":", s->feasible ? "true" : "false");
    cli_json_str(stdout, s->reason);
    printf(",\"proven_optimal\":%s,\"proven_cut_points\":%d,"
           "\"predicted_completion_s\":",
           s->proven_optimal ? "true" : "false",
           s->proven_cuts);
    jrel(v, s->feasible ? s->completion : INFINITY);
    printf(",\"lower_bound_s\":");
    jrel(v, s->lower_bound);
    printf(",\"solve_ms\":");
    jnum(s->solve_ms);
    printf(",\"groups\":%d,\"graph_nodes\":%d,\"energy_orbit_j\":",
           v->m->n_grp, v->g ? v->g->n_nodes : 0);
    jnum(s->energy_orbit_j);
    printf(",\"energy_j\":{");
    for (int n = 0; n < t->n_nodes; n++) {
        printf("%s", n ? "," : "");
        cli_json_str(stdout, node_name(v, n));
        putchar(':');
        jnum(s->node_energy_j ? s->node_energy_j[n] : 0);
    }
    printf("},\"partitions\":[");
    for (int k = 0; k < s->n_parts; k++) {
        const plan_part *pt = &s->parts[k];
        char wb[256];
        int pg;
        printf("%s{\"index\":%d,\"node\":", k ? "," : "", k);
        cli_json_str(stdout, node_name(v, pt->node));
        printf(",\"groups\":[%d,%d],\"first_node\":", pt->g0, pt->g1);
        cli_json_str(stdout, gnode_name(v, v->m->grp[pt->g0].first));
        printf(",\"last_node\":");
        cli_json_str(stdout, gnode_name(v, v->m->grp[pt->g1].last));
        printf(",\"first_node_index\":%d,\"last_node_index\":%d,\"ready_s\":",
               v->m->grp[pt->g0].first, v->m->grp[pt->g1].last);
        jrel(v, pt->ready);
        printf(",\"start_s\":");
        jrel(v, pt->start);
        printf(",\"finish_s\":");
        jrel(v, pt->finish);
        printf(",\"busy_s\":");
        jnum(part_busy(v, k, &pg));
        printf(",\"wait\":");
        cli_json_str(stdout, plan_wait_name(pt->wait));
        printf(",\"wait_detail\":");
        cli_json_str(stdout, part_wait(v, k, wb, sizeof wb));
        printf(",\"energy_j\":");
        jnum(pt->energy_j);
        printf(",\"param_bytes\":%llu,\"weight_bytes\":%llu,"
               "\"weights_arrive_s\":", (unsigned long long)pt->param_bytes,
               (unsigned long long)pt->weight_bytes);
        jrel(v, pt->weights_arrive);
        putchar('}');
    }
    printf("],\"transfers\":[");
    for (int i = 0; i < s->n_xfers; i++) {
        const plan_xfer *x = &s->xfers[i];
        printf("%s{\"from\":", i ? "," : "");
        cli_json_str(stdout, node_name(v, x->from_node));
        printf(",\"to\":");
        cli_json_str(stdout, node_name(v, x->to_node));
        printf(",\"from_part\":%d,\"to_part\":%d,\"weights\":%s,"
               "\"bytes\":%llu,\"n_tensors\":%d,\"ready_s\":",
               x->from_part, x->to_part,
               x->producer == PLAN_XFER_WEIGHTS ? "true" : "false",
               (unsigned long long)x->bytes, x->n_tensors);
        jrel(v, x->ready);
        printf(",\"first_send_s\":");
        jrel(v, x->first_send);
        printf(",\"arrive_s\":");
        jrel(v, x->arrive);
        printf(",\"wait\":");
        cli_json_str(stdout, plan_wait_name(x->wait));
        printf(",\"wait_link\":");
        if (x->wait_link >= 0)
            cli_json_str(stdout, link_name(v, x->wait_link, lb, sizeof lb));
        else
            printf("null");
        printf(",\"legs\":[");
        for (int j = 0; j < x->n_legs && x->leg0 + j < s->n_legs; j++) {
            const plan_leg *lg = &s->legs[x->leg0 + j];
            const plan_link *lk = &t->links[lg->link];
            printf("%s{\"link\":", j ? "," : "");
            cli_json_str(stdout, link_name(v, lg->link, lb, sizeof lb));
            printf(",\"window\":[");
            if (lk->always || lg->window < 0 || lg->window >= lk->n_win) {
                jrel(v, 0);
                printf(",null");
            } else {
                jrel(v, lk->win[lg->window].start);
                putchar(',');
                jrel(v, lk->win[lg->window].end);
            }
            printf("],\"start_s\":");
            jrel(v, lg->start);
            printf(",\"end_s\":");
            jrel(v, lg->end);
            printf(",\"arrive_s\":");
            jrel(v, lg->arrive);
            printf(",\"bytes\":%llu}", (unsigned long long)lg->bytes);
        }
        printf("]}");
    }
    printf("],\"nodes\":[");
    for (int n = 0; n < t->n_nodes; n++) {
        printf("%s{\"name\":", n ? "," : "");
        cli_json_str(stdout, node_name(v, n));
        printf(",\"kind\":");
        cli_json_str(stdout, plan_kind_name(t->nodes[n].kind));
        printf(",\"memory_bytes\":%llu,\"mem_used_bytes\":%llu,\"busy_s\":",
               (unsigned long long)t->nodes[n].memory,
               (unsigned long long)(s->node_mem ? s->node_mem[n] : 0));
        jnum(s->node_busy_s ? s->node_busy_s[n] : 0);
        printf(",\"energy_j\":");
        jnum(s->node_energy_j ? s->node_energy_j[n] : 0);
        printf("}");
    }
    printf("]}\n");
}

/* "models/resnet18.onnx" -> "resnet18" */
static void model_label(const char *path, char *buf, size_t len)
{
    const char *b = strrchr(path, '/');
    size_t n;
    b = b ? b + 1 : path;
    snprintf(buf, len, "%s", b);
    n = strlen(buf);
    if (n > 5 && !strcmp(buf + n - 5, ".onnx"))
        buf[n - 5] = 0;
}

/* --------------------------------------------------------------- verb */

int cmd_plan(int argc, char **argv)
{
    static const struct option opts[] = {
        { "topology", required_argument, 0, 't' },
        { "at", required_argument, 0, 'a' },
        { "input-at", required_argument, 0, 'i' },
        { "output-to", required_argument, 0, 'o' },
        { "objective", required_argument, 0, 'b' },
        { "deadline", required_argument, 0, 'D' },
        { "strategy", required_argument, 0, 's' },
        { "forbid", required_argument, 0, 'f' },
        { "pin", required_argument, 0, 'p' },
        { "profiles", required_argument, 0, 'P' },
        { "no-coarsen", no_argument, 0, 'N' },
        { "dim", required_argument, 0, 'd' },
        { "json", no_argument, 0, 'j' },
        { "svg", required_argument, 0, 'S' },
        { "help", no_argument, 0, 'h' },
        { 0, 0, 0, 0 },
    };
    const char *topo = NULL, *at = NULL, *in_name = NULL, *out_name = NULL;
    const char *deadline = NULL, *profiles = NULL, *svg = NULL;
    const char *forbid[MAX_OPT_LIST], *pin[MAX_OPT_LIST];
    int n_forbid = 0, n_pin = 0, coarsen = 1, json = 0, c, rc, ex = EXIT_OK;
    enum plan_strategy st = PLAN_STRAT_AUTO;
    enum plan_objective obj = PLAN_OBJ_TIME;
    cli_dims dims = { .n = 0 };
    lg_graph *g = NULL;
    plan_model *m = NULL;
    plan_topology *t = NULL;
    plan_problem prob;
    plan_sched sched;
    unsigned char *allowed = NULL;
    char err[1024] = "", unknown[1024] = "", label[256];
    double t0 = 0, dl = INFINITY;
    int src = -1, dst = -1;

    plan_sched_init(&sched);
    optind = 1;
    while ((c = getopt_long(argc, argv, "t:jh", opts, NULL)) != -1) {
        switch (c) {
        case 't': topo = optarg; break;
        case 'a': at = optarg; break;
        case 'i': in_name = optarg; break;
        case 'o': out_name = optarg; break;
        case 'b':
            if (!strcmp(optarg, "time"))
                obj = PLAN_OBJ_TIME;
            else if (!strcmp(optarg, "energy"))
                obj = PLAN_OBJ_ENERGY;
            else {
                cli_err("plan", "--objective must be time or energy, not '%s'",
                        optarg);
                return EXIT_USAGE;
            }
            break;
        case 'D': deadline = optarg; break;
        case 's':
            if (plan_strategy_parse(optarg, &st) < 0) {
                cli_err("plan", "unknown --strategy '%s' (auto, dp, list, "
                        "source, fastest, split, heft, exhaustive)", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'f':
        case 'p':
            if ((c == 'f' ? n_forbid : n_pin) == MAX_OPT_LIST) {
                cli_err("plan", "too many --%s options",
                        c == 'f' ? "forbid" : "pin");
                return EXIT_USAGE;
            }
            if (c == 'f')
                forbid[n_forbid++] = optarg;
            else
                pin[n_pin++] = optarg;
            break;
        case 'P': profiles = optarg; break;
        case 'N': coarsen = 0; break;
        case 'd':
            if ((rc = cli_dims_add(&dims, "plan", optarg)) != EXIT_OK)
                return rc;
            break;
        case 'j': json = 1; break;
        case 'S': svg = optarg; break;
        case 'h': help(stdout); return EXIT_OK;
        default: help(stderr); return EXIT_USAGE;
        }
    }
    if (optind != argc - 1) {
        cli_err("plan", optind >= argc ? "missing MODEL" : "too many arguments");
        help(stderr);
        return EXIT_USAGE;
    }
    if (!topo) {
        cli_err("plan", "missing --topology FILE");
        help(stderr);
        return EXIT_USAGE;
    }
    if (deadline && parse_dur(deadline, &dl) < 0) {
        cli_err("plan", "--deadline '%s': want a duration such as 90, 250ms, "
                "5min, 1.5h", deadline);
        return EXIT_USAGE;
    }
    for (int k = 0; k < n_pin; k++) {
        const char *eq = strrchr(pin[k], '=');
        if (!eq || eq == pin[k] || !eq[1]) {
            cli_err("plan", "--pin takes MODELNODE=NODE, got '%s'", pin[k]);
            return EXIT_USAGE;
        }
    }
    if (at && !looks_iso(at) && parse_dur(at, &t0) < 0) {
        cli_err("plan", "--at '%s': want seconds after the topology epoch "
                "(300, +5min, 1.5h) or an ISO 8601 UTC time", at);
        return EXIT_USAGE;
    }

    if ((rc = plan_topology_load(topo, &t, err, sizeof err)) < 0) {
        cli_err("plan", "%s", err[0] ? err : lg_strerror(rc));
        ex = cli_exit_code(rc);
        goto out;
    }
    for (int i = 0; i < t->n_warnings; i++)
        cli_err("plan", "warning: %s", t->warnings[i]);
    if (t->n_warnings_dropped)
        cli_err("plan", "warning: %d more warnings", t->n_warnings_dropped);
    if (profiles &&
        (rc = plan_topology_add_profiles(t, profiles, err, sizeof err)) < 0) {
        cli_err("plan", "%s", err[0] ? err : lg_strerror(rc));
        ex = cli_exit_code(rc);
        goto out;
    }
    if (t->n_nodes == 0) {
        cli_err("plan", "%s: the topology has no nodes", topo);
        ex = EXIT_DATA;
        goto out;
    }
    if (at && looks_iso(at)) {
        double u;
        if (lg_time_parse_iso(at, &u) < 0) {
            cli_err("plan", "--at '%s': not an ISO 8601 UTC time "
                    "(YYYY-MM-DDTHH:MM:SSZ)", at);
            ex = EXIT_USAGE;
            goto out;
        }
        if (!(t->epoch_unix > 0)) {
            cli_err("plan", "--at %s: %s has no Epoch=, so only times "
                    "relative to its t = 0 work (e.g. --at 300)", at, topo);
            ex = EXIT_USAGE;
            goto out;
        }
        t0 = u - t->epoch_unix;
        if (t0 < 0) {
            cli_err("plan", "--at %s is before the topology's epoch", at);
            ex = EXIT_USAGE;
            goto out;
        }
    }
    if (t0 > t->horizon) {
        char b[48];
        cli_err("plan", "--at %s is past the topology's horizon (%s)",
                cli_dt(t0, err, sizeof err), cli_dt(t->horizon, b, sizeof b));
        ex = EXIT_USAGE;
        goto out;
    }

    /* Nodes named on the command line; report every unknown name at once. */
    if (in_name) {
        if ((src = plan_topology_find(t, in_name)) < 0)
            add_unknown(unknown, sizeof unknown, "--input-at", in_name);
    } else {
        src = 0;
        for (int n = 0; n < t->n_nodes; n++)
            if (t->nodes[n].kind == PLAN_GROUND) {
                src = n;
                break;
            }
    }
    if (out_name) {
        if ((dst = plan_topology_find(t, out_name)) < 0)
            add_unknown(unknown, sizeof unknown, "--output-to", out_name);
    } else {
        dst = src;
    }
    for (int k = 0; k < n_forbid; k++) {
        char *list = strdup(forbid[k]), *save = NULL;
        if (!list) {
            ex = EXIT_FAIL;
            goto out;
        }
        for (char *tok = strtok_r(list, ",", &save); tok;
             tok = strtok_r(NULL, ",", &save))
            if (plan_topology_find(t, tok) < 0)
                add_unknown(unknown, sizeof unknown, "--forbid", tok);
        free(list);
    }
    for (int k = 0; k < n_pin; k++) {
        const char *eq = strrchr(pin[k], '=');
        if (plan_topology_find(t, eq + 1) < 0)
            add_unknown(unknown, sizeof unknown, "--pin", eq + 1);
    }
    if (unknown[0]) {
        cli_err("plan", "unknown node %s (not in %s)", unknown, topo);
        ex = EXIT_USAGE;
        goto out;
    }

    if ((ex = cli_open_model("plan", argv[optind], &dims, &g)) != EXIT_OK)
        goto out;
    if ((rc = plan_model_from_graph(g, coarsen, &m, err, sizeof err)) < 0) {
        cli_err("plan", "%s", err[0] ? err : lg_strerror(rc));
        ex = cli_exit_code(rc);
        goto out;
    }

    if (n_forbid || n_pin) {
        size_t nn = (size_t)t->n_nodes;
        allowed = malloc((size_t)m->n_grp * nn);
        if (!allowed) {
            cli_err("plan", "out of memory");
            ex = EXIT_FAIL;
            goto out;
        }
        memset(allowed, 1, (size_t)m->n_grp * nn);
        for (int k = 0; k < n_forbid; k++) {
            char *list = strdup(forbid[k]), *save = NULL;
            if (!list) {
                ex = EXIT_FAIL;
                goto out;
            }
            for (char *tok = strtok_r(list, ",", &save); tok;
                 tok = strtok_r(NULL, ",", &save)) {
                int n = plan_topology_find(t, tok);
                for (int gi = 0; gi < m->n_grp; gi++)
                    allowed[(size_t)gi * nn + (size_t)n] = 0;
            }
            free(list);
        }
        for (int k = 0; k < n_pin; k++) {
            const char *eq = strrchr(pin[k], '=');
            char mn[512];
            int n = plan_topology_find(t, eq + 1), gi, idx;
            snprintf(mn, sizeof mn, "%.*s", (int)(eq - pin[k]), pin[k]);
            if ((idx = model_node(g, mn)) < 0) {
                cli_err("plan", "--pin %s: the model has no node '%s' (see "
                        "lagrange inspect --nodes)", pin[k], mn);
                ex = EXIT_USAGE;
                goto out;
            }
            for (gi = 0; gi < m->n_grp; gi++)
                if (m->grp[gi].first <= idx && idx <= m->grp[gi].last)
                    break;
            if (gi == m->n_grp) {
                cli_err("plan", "--pin %s: node '%s' is in no planning group",
                        pin[k], mn);
                ex = EXIT_FAIL;
                goto out;
            }
            if (!allowed[(size_t)gi * nn + (size_t)n]) {
                cli_err("plan", "--pin %s: %s is forbidden or already pinned "
                        "elsewhere (model node '%s' is in group %d)", pin[k],
                        eq + 1, mn, gi);
                ex = EXIT_USAGE;
                goto out;
            }
            memset(allowed + (size_t)gi * nn, 0, nn);
            allowed[(size_t)gi * nn + (size_t)n] = 1;
        }
    }

    memset(&prob, 0, sizeof prob);
    prob.m = m;
    prob.t = t;
    prob.t0 = t0;
    prob.src = src;
    prob.dst = dst;
    prob.deadline = isfinite(dl) ? t0 + dl : INFINITY;
    prob.obj = obj;
    prob.allowed = allowed;
    prob.budget_ms = 0;
    if ((rc = plan_solve(&prob, st, &sched, err, sizeof err)) == LG_EMODEL) {
        /* No strategy found any assignment: infeasible, with its reason. */
        plan_sched_free(&sched);
        plan_sched_init(&sched);
        sched.feasible = 0;
        snprintf(sched.reason, sizeof sched.reason, "%.*s",
                 (int)sizeof sched.reason - 1, err[0] ? err : "no plan found");
        snprintf(sched.strategy, sizeof sched.strategy, "%s",
                 plan_strategy_name(st));
        sched.completion = INFINITY;
        sched.lower_bound = plan_lower_bound(&prob);
    } else if (rc < 0) {
        cli_err("plan", "%s", err[0] ? err : lg_strerror(rc));
        ex = rc == -EINVAL || rc == -E2BIG ? EXIT_USAGE : cli_exit_code(rc);
        goto out;
    }

    {
        view v = { g, m, t, &prob, &sched, t0 };
        model_label(argv[optind], label, sizeof label);
        if (json)
            print_json(&v, st, argv[optind], topo);
        else if (sched.feasible)
            print_text(&v, label, topo, st, node_name(&v, src),
                       node_name(&v, dst));
        if (svg && sched.feasible) {
            char title[512], b1[48];
            snprintf(title, sizeof title,
                     "%s on %s: done at %s, objective %s, strategy %s%s%s%s",
                     label, topo, cli_dt(sched.completion - t0, b1, sizeof b1),
                     obj == PLAN_OBJ_ENERGY ? "energy" : "time",
                     plan_strategy_name(st), sched.strategy[0] ? " (" : "",
                     sched.strategy, sched.strategy[0] ? ")" : "");
            if ((rc = cli_plan_svg(svg, &prob, &sched, title, err,
                                   sizeof err)) < 0) {
                cli_err("plan", "%s", err);
                ex = EXIT_FAIL;
                goto out;
            }
        }
        if (!sched.feasible) {
            cli_err("plan", "infeasible: %s",
                    sched.reason[0] ? sched.reason : "no reason given");
            ex = EXIT_INFEASIBLE;
        }
    }
out:
    plan_sched_free(&sched);
    free(allowed);
    plan_model_free(m);
    plan_topology_free(t);
    lg_graph_free(g);
    for (int k = 0; k < dims.n; k++)
        free((char *)dims.d[k].name);
    return ex;
}
