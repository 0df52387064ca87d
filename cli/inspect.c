/*
 * inspect.c - `lagrange inspect`: what a model is made of and where it can
 * be cut. Table by default, --json for scripts.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "lgerr.h"
#include "partition.h"

static void help(FILE *f)
{
    fprintf(f,
"usage: lagrange inspect MODEL.onnx [--json] [--nodes] [--dim NAME=V]\n\n"
"Show a model's inputs, outputs, op counts, FLOPs and parameters, and the\n"
"candidate cut points: positions in topological order where a single\n"
"tensor crosses, with its size (the bytes a link would carry). --nodes\n"
"adds the per-node table. --json prints everything as one object.\n");
}

static void print_io(const lg_graph *g, const char *what, const int *v, int n)
{
    for (int k = 0; k < n; k++) {
        const lg_value *val = &g->values[v[k]];
        char sb[128], bb[32];
        size_t nb = 0;
        lg_shape_nbytes(&val->shape, val->dtype, &nb);
        printf("%-8s %-24s %-8s %-20s %s\n", what, val->name,
               lg_dtype_name(val->dtype),
               lg_shape_str(&val->shape, sb, sizeof sb),
               cli_bytes(nb, bb, sizeof bb));
    }
}

static void json_io(const lg_graph *g, const int *v, int n)
{
    putchar('[');
    for (int k = 0; k < n; k++) {
        const lg_value *val = &g->values[v[k]];
        size_t nb = 0;
        lg_shape_nbytes(&val->shape, val->dtype, &nb);
        printf("%s{\"name\":", k ? "," : "");
        cli_json_str(stdout, val->name);
        printf(",\"dtype\":\"%s\",\"shape\":", lg_dtype_name(val->dtype));
        cli_json_shape(stdout, &val->shape);
        printf(",\"bytes\":%zu}", nb);
    }
    putchar(']');
}

/* Op histogram: distinct op names with counts, in first-seen order. */
static int op_counts(const lg_graph *g, const char **ops, int *cnt, int max)
{
    int n = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        int j;
        for (j = 0; j < n; j++)
            if (!strcmp(ops[j], g->nodes[i].op))
                break;
        if (j == n) {
            if (n == max)
                continue;
            ops[n] = g->nodes[i].op;
            cnt[n++] = 0;
        }
        cnt[j]++;
    }
    return n;
}

int cmd_inspect(int argc, char **argv)
{
    static const struct option opts[] = {
        { "json", no_argument, 0, 'j' },
        { "nodes", no_argument, 0, 'n' },
        { "dim", required_argument, 0, 'd' },
        { "help", no_argument, 0, 'h' },
        { 0, 0, 0, 0 },
    };
    int json = 0, nodes = 0, c, rc, ex, ncut = 0, nops;
    cli_dims dims = { .n = 0 };
    lg_graph *g = NULL;
    lg_cut *cuts = NULL;
    char err[1024] = "";
    const char *ops[256];
    int cnt[256];
    uint64_t flops, params, cum = 0;

    optind = 1;
    while ((c = getopt_long(argc, argv, "jnh", opts, NULL)) != -1) {
        switch (c) {
        case 'j': json = 1; break;
        case 'n': nodes = 1; break;
        case 'd':
            if ((rc = cli_dims_add(&dims, "inspect", optarg)) != EXIT_OK)
                return rc;
            break;
        case 'h': help(stdout); return EXIT_OK;
        default: help(stderr); return EXIT_USAGE;
        }
    }
    if (optind != argc - 1) {
        cli_err("inspect", optind >= argc ? "missing MODEL" : "too many arguments");
        help(stderr);
        return EXIT_USAGE;
    }
    if ((ex = cli_open_model("inspect", argv[optind], &dims, &g)) != EXIT_OK)
        goto out;
    if ((rc = lg_cuts_candidates(g, &cuts, &ncut, err, sizeof err)) < 0) {
        cli_err("inspect", "%s", err);
        ex = cli_exit_code(rc);
        goto out;
    }
    flops = lg_graph_flops(g);
    params = lg_graph_param_bytes(g);
    nops = op_counts(g, ops, cnt, 256);

    if (json) {
        printf("{\"model\":");
        cli_json_str(stdout, argv[optind]);
        printf(",\"producer\":");
        cli_json_str(stdout, g->producer ? g->producer : "");
        printf(",\"opset\":%lld,\"nodes\":%d,\"flops\":%llu,"
               "\"param_bytes\":%llu,\"inputs\":", (long long)g->opset,
               g->n_nodes, (unsigned long long)flops,
               (unsigned long long)params);
        json_io(g, g->inputs, g->n_inputs);
        printf(",\"outputs\":");
        json_io(g, g->outputs, g->n_outputs);
        printf(",\"ops\":{");
        for (int i = 0; i < nops; i++) {
            printf("%s", i ? "," : "");
            cli_json_str(stdout, ops[i]);
            printf(":%d", cnt[i]);
        }
        printf("},\"node_list\":[");
        for (int i = 0; i < g->n_nodes; i++) {
            const lg_node *n = &g->nodes[i];
            const lg_value *o = lg_out(g, n, 0);
            printf("%s{\"index\":%d,\"name\":", i ? "," : "", i);
            cli_json_str(stdout, n->name);
            printf(",\"op\":");
            cli_json_str(stdout, n->op);
            printf(",\"output_shape\":");
            if (o)
                cli_json_shape(stdout, &o->shape);
            else
                printf("null");
            printf(",\"flops\":%llu,\"bytes_read\":%llu,\"bytes_written\":"
                   "%llu,\"param_bytes\":%llu}",
                   (unsigned long long)n->flops,
                   (unsigned long long)n->bytes_read,
                   (unsigned long long)n->bytes_written,
                   (unsigned long long)n->param_bytes);
        }
        printf("],\"cut_points\":[");
        for (int i = 0; i < ncut; i++) {
            uint64_t before = 0;
            for (int k = 0; k <= cuts[i].after; k++)
                before += g->nodes[k].flops;
            printf("%s{\"after\":%d,\"after_node\":", i ? "," : "",
                   cuts[i].after);
            cli_json_str(stdout, g->nodes[cuts[i].after].name);
            printf(",\"tensors\":%d,\"bytes\":%llu,\"flops_before\":%llu}",
                   cuts[i].n_tensors, (unsigned long long)cuts[i].bytes,
                   (unsigned long long)before);
        }
        printf("]}\n");
        goto out;
    }

    {
        char b1[32];
        printf("model    %s\n", argv[optind]);
        printf("producer %s, opset %lld\n", g->producer ? g->producer : "",
               (long long)g->opset);
        printf("nodes    %d, %.3f GFLOP, parameters %s\n\n", g->n_nodes,
               (double)flops / 1e9, cli_bytes(params, b1, sizeof b1));
        print_io(g, "input", g->inputs, g->n_inputs);
        print_io(g, "output", g->outputs, g->n_outputs);
        printf("\nops     ");
        for (int i = 0; i < nops; i++)
            printf(" %s×%d", ops[i], cnt[i]);
        printf("\n");
    }
    if (nodes) {
        printf("\n%5s  %-32s %-18s %-20s %10s %10s\n", "#", "NODE", "OP",
               "OUTPUT", "MFLOP", "PARAMS");
        for (int i = 0; i < g->n_nodes; i++) {
            const lg_node *n = &g->nodes[i];
            const lg_value *o = lg_out(g, n, 0);
            char sb[128] = "", pb[32];
            if (o)
                lg_shape_str(&o->shape, sb, sizeof sb);
            printf("%5d  %-32.32s %-18.18s %-20.20s %10.2f %10s\n", i,
                   n->name, n->op, sb, (double)n->flops / 1e6,
                   n->param_bytes ? cli_bytes(n->param_bytes, pb, sizeof pb)
                   : "-");
        }
    }
    printf("\ncut points (%d; a single tensor crosses each):\n", ncut);
    printf("%6s  %-32s %12s %9s\n", "AFTER", "NODE", "BYTES", "FLOPS%");
    for (int i = 0, k = 0; i < ncut; i++) {
        char bb[32];
        for (; k <= cuts[i].after; k++)
            cum += g->nodes[k].flops;
        printf("%6d  %-32.32s %12s %8.1f%%\n", cuts[i].after,
               g->nodes[cuts[i].after].name,
               cli_bytes(cuts[i].bytes, bb, sizeof bb),
               flops ? 100.0 * (double)cum / (double)flops : 0.0);
    }
out:
    free(cuts);
    lg_graph_free(g);
    for (int k = 0; k < dims.n; k++)
        free((char *)dims.d[k].name);
    return ex;
}
