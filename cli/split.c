/*
 * split.c - `lagrange split`: cut a model into contiguous pieces of its
 * topological order and write each as a self-contained ONNX model, plus a
 * manifest.json naming the tensors that cross between them.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "lgerr.h"
#include "onnx_save.h"
#include "partition.h"

#define MAX_PARTS 1024

static void help(FILE *f)
{
    fprintf(f,
"usage: lagrange split MODEL.onnx (--parts N | --at NODE[,NODE...]) -O DIR\n"
"                      [--json] [--dim NAME=V]\n\n"
"Cut MODEL into pieces along its topological order and write DIR/part-K.onnx\n"
"for each, with DIR/manifest.json listing every piece's nodes, inputs,\n"
"outputs, FLOPs and parameter bytes. --parts N balances FLOPs, preferring\n"
"cuts where a single tensor crosses. --at cuts after each named node (a\n"
"name or an index from 'lagrange inspect --nodes'). Running the pieces in\n"
"order, feeding each the tensors named in the manifest, reproduces the\n"
"whole model's outputs exactly.\n");
}

static int node_index(const lg_graph *g, const char *s)
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

static int cmp_int(const void *a, const void *b)
{
    return *(const int *)a - *(const int *)b;
}

static void manifest_io(FILE *f, const lg_graph *p, const int *v, int n)
{
    fputc('[', f);
    for (int k = 0; k < n; k++) {
        const lg_value *val = &p->values[v[k]];
        size_t nb = 0;
        lg_shape_nbytes(&val->shape, val->dtype, &nb);
        fprintf(f, "%s{\"name\":", k ? "," : "");
        cli_json_str(f, val->name);
        fprintf(f, ",\"dtype\":\"%s\",\"shape\":", lg_dtype_name(val->dtype));
        cli_json_shape(f, &val->shape);
        fprintf(f, ",\"bytes\":%zu}", nb);
    }
    fputc(']', f);
}

int cmd_split(int argc, char **argv)
{
    static const struct option opts[] = {
        { "parts", required_argument, 0, 'p' },
        { "at", required_argument, 0, 'a' },
        { "output-dir", required_argument, 0, 'O' },
        { "json", no_argument, 0, 'j' },
        { "dim", required_argument, 0, 'd' },
        { "help", no_argument, 0, 'h' },
        { 0, 0, 0, 0 },
    };
    int parts = 0, json = 0, c, rc, ex, nb = 0;
    const char *at = NULL, *dir = NULL;
    cli_dims dims = { .n = 0 };
    lg_graph *g = NULL;
    int *bounds = NULL, *nodes = NULL;
    char err[1024] = "", path[4096];
    FILE *mf = NULL;

    optind = 1;
    while ((c = getopt_long(argc, argv, "p:a:O:jh", opts, NULL)) != -1) {
        switch (c) {
        case 'p': parts = atoi(optarg); break;
        case 'a': at = optarg; break;
        case 'O': dir = optarg; break;
        case 'j': json = 1; break;
        case 'd':
            if ((rc = cli_dims_add(&dims, "split", optarg)) != EXIT_OK)
                return rc;
            break;
        case 'h': help(stdout); return EXIT_OK;
        default: help(stderr); return EXIT_USAGE;
        }
    }
    if (optind != argc - 1 || !dir || (!parts && !at) || (parts && at)) {
        cli_err("split", "need MODEL, -O DIR and one of --parts / --at");
        help(stderr);
        return EXIT_USAGE;
    }
    if (parts && (parts < 1 || parts > MAX_PARTS)) {
        cli_err("split", "--parts must be 1..%d", MAX_PARTS);
        return EXIT_USAGE;
    }
    if ((ex = cli_open_model("split", argv[optind], &dims, &g)) != EXIT_OK)
        goto out;
    bounds = calloc(MAX_PARTS + 1, sizeof *bounds);
    nodes = calloc((size_t)g->n_nodes + 1, sizeof *nodes);
    if (!bounds || !nodes) {
        ex = EXIT_FAIL;
        goto out;
    }
    if (parts) {
        if (parts > g->n_nodes) {
            cli_err("split", "--parts %d: the model has only %d nodes", parts,
                    g->n_nodes);
            ex = EXIT_USAGE;
            goto out;
        }
        if ((rc = lg_partition_balanced(g, parts, bounds, err, sizeof err)) < 0) {
            cli_err("split", "%s", err);
            ex = cli_exit_code(rc);
            goto out;
        }
        nb = parts;
    } else {
        char *list = strdup(at), *save = NULL;
        bounds[nb++] = 0;
        for (char *tok = strtok_r(list, ",", &save); tok;
             tok = strtok_r(NULL, ",", &save)) {
            int i = node_index(g, tok);
            if (i < 0 || i >= g->n_nodes - 1) {
                cli_err("split", "--at: '%s' is not a node that can be cut "
                        "after (see lagrange inspect --nodes)", tok);
                free(list);
                ex = EXIT_USAGE;
                goto out;
            }
            if (nb == MAX_PARTS) {
                free(list);
                cli_err("split", "--at: too many cuts");
                ex = EXIT_USAGE;
                goto out;
            }
            bounds[nb++] = i + 1;
        }
        free(list);
        qsort(bounds, (size_t)nb, sizeof *bounds, cmp_int);
        for (int k = 1; k < nb; k++)
            if (bounds[k] == bounds[k - 1]) {
                cli_err("split", "--at names the same node twice");
                ex = EXIT_USAGE;
                goto out;
            }
    }
    bounds[nb] = g->n_nodes;

    if (mkdir(dir, 0777) < 0 && errno != EEXIST) {
        cli_err("split", "%s: %s", dir, strerror(errno));
        ex = EXIT_FAIL;
        goto out;
    }
    snprintf(path, sizeof path, "%s/manifest.json", dir);
    mf = fopen(path, "w");
    if (!mf) {
        cli_err("split", "%s: %s", path, strerror(errno));
        ex = EXIT_FAIL;
        goto out;
    }
    fprintf(mf, "{\"model\":");
    cli_json_str(mf, argv[optind]);
    fprintf(mf, ",\"parts\":[");
    if (!json)
        printf("%4s  %-14s %11s %10s %10s  %s\n", "PART", "FILE", "NODES",
               "GFLOP", "PARAMS", "OUTPUTS (bytes)");
    for (int k = 0; k < nb; k++) {
        lg_graph *p = NULL;
        int cnt = bounds[k + 1] - bounds[k];
        char file[64], b1[32];
        uint64_t outb = 0;
        for (int i = 0; i < cnt; i++)
            nodes[i] = bounds[k] + i;
        if ((rc = lg_partition_extract(g, nodes, cnt, &p, err, sizeof err)) < 0) {
            cli_err("split", "part %d: %s", k, err);
            ex = cli_exit_code(rc);
            goto out;
        }
        snprintf(file, sizeof file, "part-%d.onnx", k);
        snprintf(path, sizeof path, "%s/%s", dir, file);
        if ((rc = lg_onnx_save_file(p, path, err, sizeof err)) < 0) {
            cli_err("split", "%s", err);
            lg_graph_free(p);
            ex = EXIT_FAIL;
            goto out;
        }
        fprintf(mf, "%s{\"index\":%d,\"file\":\"%s\",\"first_node\":%d,"
                "\"last_node\":%d,\"flops\":%llu,\"param_bytes\":%llu,"
                "\"inputs\":", k ? "," : "", k, file, bounds[k],
                bounds[k + 1] - 1, (unsigned long long)lg_graph_flops(p),
                (unsigned long long)lg_graph_param_bytes(p));
        manifest_io(mf, p, p->inputs, p->n_inputs);
        fprintf(mf, ",\"outputs\":");
        manifest_io(mf, p, p->outputs, p->n_outputs);
        fputc('}', mf);
        for (int i = 0; i < p->n_outputs; i++) {
            size_t sz = 0;
            const lg_value *v = &p->values[p->outputs[i]];
            lg_shape_nbytes(&v->shape, v->dtype, &sz);
            outb += sz;
        }
        if (!json)
            printf("%4d  %-14s %5d-%-5d %10.3f %10s  %d (%llu)\n", k, file,
                   bounds[k], bounds[k + 1] - 1,
                   (double)lg_graph_flops(p) / 1e9,
                   cli_bytes(lg_graph_param_bytes(p), b1, sizeof b1),
                   p->n_outputs, (unsigned long long)outb);
        lg_graph_free(p);
    }
    fprintf(mf, "]}\n");
    if (fclose(mf) != 0) {
        mf = NULL;
        cli_err("split", "%s/manifest.json: write error", dir);
        ex = EXIT_FAIL;
        goto out;
    }
    mf = NULL;
    if (json) {
        FILE *r;
        snprintf(path, sizeof path, "%s/manifest.json", dir);
        r = fopen(path, "r");
        if (r) {
            char buf[8192];
            size_t n;
            while ((n = fread(buf, 1, sizeof buf, r)) > 0)
                fwrite(buf, 1, n, stdout);
            fclose(r);
        }
    } else {
        printf("wrote %d parts and manifest.json to %s\n", nb, dir);
    }
out:
    if (mf)
        fclose(mf);
    free(bounds);
    free(nodes);
    lg_graph_free(g);
    for (int k = 0; k < dims.n; k++)
        free((char *)dims.d[k].name);
    return ex;
}
