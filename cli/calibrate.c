/*
 * calibrate.c - `lagrange calibrate`: measure this machine's effective
 * throughput per op class with the real executor, and print it as a
 * topology Profile= line (lagrange-topology(5)) that `lagrange plan
 * --profiles` and topology files take.
 *
 * Each measurement is a small hand-built graph run through lg_exec, timed
 * as the median of --repeat runs after one warm-up. The numbers are fitted
 * to the planner's cost model (lib/plan/plan_model.c): a graph node costs
 * flops / class_throughput, plus (for the "other" class) bytes moved /
 * MemBW, plus a fixed Overhead per node. So the overhead is measured first
 * (a chain of tiny Relus), then the memory bandwidth (a large Transpose,
 * which does no arithmetic), and each class's throughput is what is left
 * of its time after those two.
 */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "exec.h"
#include "lgerr.h"

static void help(FILE *f)
{
    fprintf(f,
"usage: lagrange calibrate [--repeat N] [--threads N] [--name NAME] [--json]\n\n"
"Measure this machine's effective throughput per op class by running small\n"
"graphs through the executor: a 3x3 convolution (1x64x56x56, 64 filters),\n"
"a 512x512x512 matrix product, elementwise Add + Relu on 4M floats, a 3x3\n"
"max pool, a large transpose (memory bandwidth) and a chain of tiny ops\n"
"(per-node overhead); each ends in a small Slice so that its result stays\n"
"in the executor's buffer cache, as intermediates do. Prints a topology line such as\n\n"
"  Profile=local Conv=120G Gemm=250G Elem=4G Other=2G MemBW=12G Overhead=8us\n\n"
"on stdout (FLOP/s, bytes/s) for 'lagrange plan --profiles FILE', and a\n"
"table on stderr. --repeat N runs each graph N times after two warm-ups and\n"
"takes the median (default 10). --threads sets the executor's threads\n"
"(default: all online CPUs, as 'lagrange run' does). --name sets the\n"
"profile's name (default local). --json prints one object instead.\n");
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* ------------------------------------------------------ graph building */

typedef struct bench {
    const char *cls;             /* Conv, Gemm, Elem, Other, MemBW, Overhead */
    const char *what;            /* human description */
    lg_graph *g;
    char err[512];
} bench;

static uint32_t seed = 12345u;

static float frand(void)
{
    seed = seed * 1103515245u + 12345u;
    return (float)((seed >> 8) % 2001) / 1000.0f - 1.0f;
}

static lg_tensor *rand_tensor(const lg_shape *s)
{
    lg_tensor *t = lg_tensor_new(LG_F32, s);
    if (t)
        for (int64_t i = 0; i < lg_tensor_numel(t); i++)
            ((float *)t->data)[i] = frand();
    return t;
}

static int add_input(lg_graph *g, const char *name, int rank,
                     const int64_t *d)
{
    int v = lg_graph_value(g, name);
    if (v < 0)
        return v;
    g->values[v].dtype = LG_F32;
    g->values[v].shape = lg_shape_make(rank, d);
    g->values[v].has_shape = 1;
    return lg_graph_add_input(g, v);
}

static int add_const(lg_graph *g, const char *name, int rank,
                     const int64_t *d)
{
    lg_shape s = lg_shape_make(rank, d);
    lg_tensor *t = rand_tensor(&s);
    int v = lg_graph_value(g, name);
    if (!t || v < 0) {
        lg_tensor_unref(t);
        return -ENOMEM;
    }
    lg_graph_set_const(g, v, t, 1);
    return 0;
}

/* An INTS attribute, in a malloc'd array of one (the graph takes it). */
static int ints_attr(lg_attr *a, const char *name, int n, const int64_t *v)
{
    memset(a, 0, sizeof *a);
    a->name = strdup(name);
    a->type = LG_ATTR_INTS;
    a->ints = malloc((size_t)n * sizeof *a->ints);
    if (!a->name || !a->ints)
        return -ENOMEM;
    memcpy(a->ints, v, (size_t)n * sizeof *v);
    a->n = n;
    return 0;
}

static int node(lg_graph *g, const char *name, const char *op, int nin,
                const char *const *in, const char *out, lg_attr *attrs,
                int nattrs)
{
    const char *outs[1] = { out };
    int rc = lg_graph_add_node(g, name, op, "", nin, in, 1, outs, attrs,
                               nattrs);
    return rc < 0 ? rc : 0;
}

static lg_graph *new_graph(void)
{
    lg_graph *g = lg_graph_new();
    if (g) {
        g->name = strdup("calibrate");
        g->opset = 13;
        g->ir_version = 8;
    }
    return g;
}

/* Feed the measured node's output through a Slice of its first row and
 * make that the graph output: graph outputs are fresh allocations every
 * run (page faults on big ones, which would be measured instead of the
 * op), intermediates come from the executor's buffer cache, as they do in
 * a real model. */
static int finish(bench *b, const char *out)
{
    static const int64_t one[] = { 1 };
    static const char *const names[] = { "cal_s0", "cal_s1", "cal_ax" };
    static const int64_t vals[] = { 0, 1, 0 };
    lg_shape s1 = lg_shape_make(1, one);
    int rc, v;
    for (int i = 0; i < 3; i++) {
        lg_tensor *t = lg_tensor_new(LG_I64, &s1);
        if (!t || (v = lg_graph_value(b->g, names[i])) < 0) {
            lg_tensor_unref(t);
            return -ENOMEM;
        }
        ((int64_t *)t->data)[0] = vals[i];
        lg_graph_set_const(b->g, v, t, 1);
    }
    if ((rc = node(b->g, "cal_tail", "Slice", 4,
                   (const char *const[]){ out, "cal_s0", "cal_s1", "cal_ax" },
                   "cal_out", NULL, 0)) < 0)
        return rc;
    if ((v = lg_graph_value(b->g, "cal_out")) < 0)
        return v;
    if ((rc = lg_graph_add_output(b->g, v)) < 0)
        return rc;
    return lg_graph_infer(b->g, lg_exec_fold, b->err, sizeof b->err);
}

static int build_conv(bench *b)
{
    static const int64_t x[] = { 1, 64, 56, 56 }, w[] = { 64, 64, 3, 3 },
                         bias[] = { 64 }, pads[] = { 1, 1, 1, 1 };
    lg_attr *a = calloc(1, sizeof *a);
    int rc;
    if (!a || (rc = ints_attr(a, "pads", 4, pads)) < 0) {
        free(a);
        return -ENOMEM;
    }
    if ((rc = add_input(b->g, "x", 4, x)) < 0 ||
        (rc = add_const(b->g, "W", 4, w)) < 0 ||
        (rc = add_const(b->g, "B", 1, bias)) < 0 ||
        (rc = node(b->g, "conv", "Conv", 3,
                   (const char *const[]){ "x", "W", "B" }, "y", a, 1)) < 0)
        return rc;
    return finish(b, "y");
}

static int build_gemm(bench *b)
{
    static const int64_t x[] = { 512, 512 };
    int rc;
    if ((rc = add_input(b->g, "x", 2, x)) < 0 ||
        (rc = add_const(b->g, "W", 2, x)) < 0 ||
        (rc = node(b->g, "matmul", "MatMul", 2,
                   (const char *const[]){ "x", "W" }, "y", NULL, 0)) < 0)
        return rc;
    return finish(b, "y");
}

static int build_elem(bench *b)
{
    static const int64_t x[] = { 4, 1024, 1024 };
    int rc;
    if ((rc = add_input(b->g, "x", 3, x)) < 0 ||
        (rc = add_input(b->g, "z", 3, x)) < 0 ||
        (rc = node(b->g, "add", "Add", 2, (const char *const[]){ "x", "z" },
                   "s", NULL, 0)) < 0 ||
        (rc = node(b->g, "relu", "Relu", 1, (const char *const[]){ "s" },
                   "y", NULL, 0)) < 0)
        return rc;
    return finish(b, "y");
}

static int build_pool(bench *b)
{
    static const int64_t x[] = { 1, 64, 112, 112 }, k[] = { 3, 3 },
                         st[] = { 2, 2 }, pads[] = { 1, 1, 1, 1 };
    lg_attr *a = calloc(3, sizeof *a);
    int rc;
    if (!a || ints_attr(&a[0], "kernel_shape", 2, k) < 0 ||
        ints_attr(&a[1], "strides", 2, st) < 0 ||
        ints_attr(&a[2], "pads", 4, pads) < 0) {
        free(a);
        return -ENOMEM;
    }
    if ((rc = add_input(b->g, "x", 4, x)) < 0 ||
        (rc = node(b->g, "pool", "MaxPool", 1, (const char *const[]){ "x" },
                   "y", a, 3)) < 0)
        return rc;
    return finish(b, "y");
}

static int build_transpose(bench *b)
{
    static const int64_t x[] = { 128, 128, 256 }, perm[] = { 1, 0, 2 };
    lg_attr *a = calloc(1, sizeof *a);
    int rc;
    if (!a || ints_attr(a, "perm", 3, perm) < 0) {
        free(a);
        return -ENOMEM;
    }
    if ((rc = add_input(b->g, "x", 3, x)) < 0 ||
        (rc = node(b->g, "transpose", "Transpose", 1,
                   (const char *const[]){ "x" }, "y", a, 1)) < 0)
        return rc;
    return finish(b, "y");
}

#define CHAIN 64

static int build_chain(bench *b)
{
    static const int64_t x[] = { 1, 16 };
    char in[16], out[16], name[16];
    int rc;
    if ((rc = add_input(b->g, "v0", 2, x)) < 0)
        return rc;
    for (int i = 0; i < CHAIN; i++) {
        const char *ins[1] = { in };
        snprintf(in, sizeof in, "v%d", i);
        snprintf(out, sizeof out, "v%d", i + 1);
        snprintf(name, sizeof name, "relu%d", i);
        if ((rc = node(b->g, name, "Relu", 1, ins, out, NULL, 0)) < 0)
            return rc;
    }
    snprintf(out, sizeof out, "v%d", CHAIN);
    return finish(b, out);
}

/* ----------------------------------------------------------- measuring */

typedef struct result {
    double median_s, min_s;
    uint64_t flops, bytes;       /* totals over the graph's nodes */
    int nodes;
} result;

static int measure(bench *b, int repeat, int threads, result *r)
{
    lg_exec_opts eo = { NULL, threads };
    lg_exec *e = NULL;
    lg_tensor *in[4] = { 0 }, *out[4] = { 0 };
    double *ts = calloc((size_t)repeat, sizeof *ts);
    int rc;

    memset(r, 0, sizeof *r);
    if (!ts)
        return -ENOMEM;
    for (int i = 0; i < b->g->n_nodes; i++) {
        const lg_node *n = &b->g->nodes[i];
        if (!strcmp(n->name, "cal_tail"))
            continue;           /* counted in nodes only (its overhead) */
        r->flops += n->flops;
        r->bytes += n->bytes_read + n->bytes_written - n->param_bytes;
    }
    r->nodes = b->g->n_nodes;
    if ((rc = lg_exec_new(b->g, &eo, &e, b->err, sizeof b->err)) < 0)
        goto out;
    for (int i = 0; i < b->g->n_inputs && i < 4; i++) {
        in[i] = rand_tensor(&b->g->values[b->g->inputs[i]].shape);
        if (!in[i]) {
            rc = -ENOMEM;
            goto out;
        }
    }
    for (int k = -2; k < repeat; k++) {         /* k < 0: warm-up */
        double t = cli_now_ms();
        if ((rc = lg_exec_run(e, in, out, b->err, sizeof b->err)) < 0)
            goto out;
        t = (cli_now_ms() - t) / 1e3;
        for (int i = 0; i < b->g->n_outputs && i < 4; i++) {
            lg_tensor_unref(out[i]);
            out[i] = NULL;
        }
        if (k >= 0)
            ts[k] = t;
    }
    qsort(ts, (size_t)repeat, sizeof *ts, cmp_double);
    r->median_s = repeat % 2 ? ts[repeat / 2] :
                  (ts[repeat / 2 - 1] + ts[repeat / 2]) / 2;
    r->min_s = ts[0];
out:
    for (int i = 0; i < 4; i++)
        lg_tensor_unref(in[i]);
    lg_exec_free(e);
    free(ts);
    return rc;
}

/* "123G": 3 significant digits and a k/M/G/T/P suffix (the topology
 * format's numbers). */
static const char *si(double v, char *buf, size_t len)
{
    static const char *suf = " kMGTP";
    int u = 0;
    while (v >= 1000 && u < 5) {
        v /= 1000;
        u++;
    }
    if (u == 0)
        snprintf(buf, len, "%.3g", v);
    else
        snprintf(buf, len, "%.3g%c", v, suf[u]);
    return buf;
}

/* Overhead in the topology format: a duration with a unit. */
static const char *dur(double s, char *buf, size_t len)
{
    if (s >= 1)
        snprintf(buf, len, "%.3gs", s);
    else if (s >= 1e-3)
        snprintf(buf, len, "%.3gms", s * 1e3);
    else
        snprintf(buf, len, "%.3gus", s * 1e6);
    return buf;
}

int cmd_calibrate(int argc, char **argv)
{
    static const struct option opts[] = {
        { "repeat", required_argument, 0, 'r' },
        { "threads", required_argument, 0, 't' },
        { "name", required_argument, 0, 'n' },
        { "json", no_argument, 0, 'j' },
        { "help", no_argument, 0, 'h' },
        { 0, 0, 0, 0 },
    };
    static const struct {
        const char *cls, *what;
        int (*build)(bench *);
    } plan[] = {
        { "Overhead", "64 x Relu on 1x16 (per-node cost)", build_chain },
        { "MemBW", "Transpose 128x128x256 (16 MiB), perm 1,0,2", build_transpose },
        { "Conv", "Conv 1x64x56x56, 64 filters 3x3, pad 1", build_conv },
        { "Gemm", "MatMul 512x512 by 512x512", build_gemm },
        { "Elem", "Add + Relu on 4x1024x1024", build_elem },
        { "Other", "MaxPool 3x3/2 on 1x64x112x112", build_pool },
    };
    enum { NB = sizeof plan / sizeof plan[0] };
    result res[NB];
    double value[NB];            /* FLOP/s, bytes/s or seconds */
    int repeat = 10, threads = 0, json = 0, c, ex = EXIT_OK;
    const char *name = "local";
    int tty = isatty(2);
    double overhead = 0, membw = INFINITY;
    char b1[32], b2[32], b3[32], line[512];

    optind = 1;
    while ((c = getopt_long(argc, argv, "r:t:n:jh", opts, NULL)) != -1) {
        switch (c) {
        case 'r': repeat = atoi(optarg); break;
        case 't': threads = atoi(optarg); break;
        case 'n': name = optarg; break;
        case 'j': json = 1; break;
        case 'h': help(stdout); return EXIT_OK;
        default: help(stderr); return EXIT_USAGE;
        }
    }
    if (optind != argc) {
        cli_err("calibrate", "unexpected argument '%s'", argv[optind]);
        help(stderr);
        return EXIT_USAGE;
    }
    if (repeat < 1 || repeat > 10000 || threads < 0 || threads > 256) {
        cli_err("calibrate", "--repeat must be 1..10000 and --threads 0..256");
        return EXIT_USAGE;
    }
    if (!*name || strlen(name) >= 48 || strpbrk(name, " \t=#")) {
        cli_err("calibrate", "--name must be 1..47 characters without "
                "blanks, '=' or '#'");
        return EXIT_USAGE;
    }

    for (int i = 0; i < (int)NB; i++) {
        bench b = { plan[i].cls, plan[i].what, NULL, "" };
        int rc;
        if (tty)
            fprintf(stderr, "\rcalibrate: %d/%d %-8s %-42s", i + 1, (int)NB,
                    plan[i].cls, plan[i].what);
        else
            fprintf(stderr, "calibrate: %d/%d %s: %s\n", i + 1, (int)NB,
                    plan[i].cls, plan[i].what);
        fflush(stderr);
        b.g = new_graph();
        rc = b.g ? plan[i].build(&b) : -ENOMEM;
        if (rc == 0)
            rc = measure(&b, repeat, threads, &res[i]);
        lg_graph_free(b.g);
        if (rc < 0) {
            if (tty)
                fputc('\n', stderr);
            cli_err("calibrate", "%s: %s", plan[i].cls,
                    b.err[0] ? b.err : lg_strerror(rc));
            return cli_exit_code(rc) == EXIT_USAGE ? EXIT_FAIL
                                                   : cli_exit_code(rc);
        }
        /* Fit to the cost model: what is left after the per-node overhead
         * (and, for Other, the bytes at MemBW) is the arithmetic. Never
         * less than a fifth of the measured time, so noise cannot make a
         * class look infinitely fast. */
        {
            const result *r = &res[i];
            double t = r->median_s, left;
            if (!strcmp(plan[i].cls, "Overhead")) {
                overhead = value[i] = t / r->nodes;
                continue;
            }
            left = t - r->nodes * overhead;
            if (!strcmp(plan[i].cls, "Other") && isfinite(membw))
                left -= (double)r->bytes / membw;
            left = fmax(left, 0.2 * t);
            if (!strcmp(plan[i].cls, "MemBW"))
                membw = value[i] = (double)r->bytes / left;
            else
                value[i] = (double)r->flops / left;
        }
    }
    if (tty)
        fprintf(stderr, "\r%-72s\r", "");

    snprintf(line, sizeof line, "Profile=%s Conv=%s Gemm=%s Elem=%s Other=%s "
             "MemBW=%s Overhead=%s", name, si(value[2], b1, sizeof b1),
             si(value[3], b2, sizeof b2), si(value[4], b3, sizeof b3),
             si(value[5], (char[32]){0}, 32), si(value[1], (char[32]){0}, 32),
             dur(value[0], (char[32]){0}, 32));

    fprintf(stderr, "%-8s %-42s %10s %10s %10s %14s\n", "CLASS", "GRAPH",
            "MEDIAN", "MIN", "WORK", "RATE");
    for (int i = 0; i < (int)NB; i++) {
        const result *r = &res[i];
        char work[48], rate[48];
        if (!strcmp(plan[i].cls, "Overhead")) {
            snprintf(work, sizeof work, "%d nodes", r->nodes);
            snprintf(rate, sizeof rate, "%s/node",
                     dur(value[i], b1, sizeof b1));
        } else if (!strcmp(plan[i].cls, "MemBW")) {
            snprintf(work, sizeof work, "%sB", si((double)r->bytes, b1,
                                                  sizeof b1));
            snprintf(rate, sizeof rate, "%sB/s", si(value[i], b2, sizeof b2));
        } else {
            snprintf(work, sizeof work, "%sFLOP", si((double)r->flops, b1,
                                                     sizeof b1));
            snprintf(rate, sizeof rate, "%sFLOP/s",
                     si(value[i], b2, sizeof b2));
        }
        fprintf(stderr, "%-8s %-42s %10s %10s %10s %14s\n", plan[i].cls,
                plan[i].what, dur(r->median_s, b1, sizeof b1),
                dur(r->min_s, b2, sizeof b2), work, rate);
    }
    fprintf(stderr, "(median of %d runs after two warm-ups, %s threads; "
            "rates fitted to the planner's cost model)\n", repeat,
            threads ? (snprintf(b3, sizeof b3, "%d", threads), b3) : "all");

    if (json) {
        printf("{\"profile\":");
        cli_json_str(stdout, name);
        printf(",\"repeat\":%d,\"threads\":%d,\"conv_flops\":%.6g,"
               "\"gemm_flops\":%.6g,\"elem_flops\":%.6g,\"other_flops\":%.6g,"
               "\"mem_bw\":%.6g,\"overhead_s\":%.6g,\"line\":", repeat,
               threads, value[2], value[3], value[4], value[5], value[1],
               value[0]);
        cli_json_str(stdout, line);
        printf(",\"runs\":[");
        for (int i = 0; i < (int)NB; i++) {
            printf("%s{\"class\":\"%s\",\"graph\":", i ? "," : "",
                   plan[i].cls);
            cli_json_str(stdout, plan[i].what);
            printf(",\"median_s\":%.6g,\"min_s\":%.6g,\"flops\":%llu,"
                   "\"bytes\":%llu,\"nodes\":%d,\"value\":%.6g}",
                   res[i].median_s, res[i].min_s,
                   (unsigned long long)res[i].flops,
                   (unsigned long long)res[i].bytes, res[i].nodes, value[i]);
        }
        printf("]}\n");
    } else {
        printf("%s\n", line);
    }
    return ex;
}
