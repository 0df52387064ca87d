/*
 * jobplan.c - building a job's distributed plan from a prepared graph and
 * a cut of its topological order into contiguous ranges (see jobplan.h).
 *
 * Owns the jobplan structure and everything hanging off it. Each range is
 * extracted with lg_partition_extract, serialized with lg_onnx_save_buffer
 * and hashed (SHA-256, hex) here; the extracted graph is freed right away,
 * so a jobplan never refers to the parent graph. Routing: with contiguous
 * ranges in topological order a value produced in part i is read only by
 * parts j > i, so an input of part j comes from the part holding its
 * producer node (or from the controller for a graph input), and an output
 * of part i goes to the nodes of the later parts listing it as an input,
 * plus the controller if it is a graph output.
 *
 * Every count that sizes an allocation is checked first: n_parts against
 * JOBPLAN_MAX_PARTS, ranges against g->n_nodes.
 */
#include "jobplan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "graph.h"
#include "lgerr.h"
#include "onnx_save.h"
#include "partition.h"

void jobplan_free(jobplan *p)
{
    if (!p)
        return;
    for (int i = 0; p->parts && i < p->n_parts; i++) {
        jp_part *pt = &p->parts[i];
        free(pt->onnx);
        for (int k = 0; pt->in && k < pt->n_in; k++)
            free(pt->in[k]);
        free(pt->in);
        free(pt->in_from);
        for (int k = 0; pt->out && k < pt->n_out; k++) {
            free(pt->out[k].name);
            free(pt->out[k].dst);
        }
        free(pt->out);
    }
    free(p->parts);
    for (int k = 0; p->outputs && k < p->n_outputs; k++)
        free(p->outputs[k]);
    free(p->outputs);
    free(p->out_part);
    free(p);
}

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* Lower-case hex SHA-256 of buf[0..len) into hex[65]. */
static int sha256_hex(const void *buf, size_t len, char hex[65])
{
    static const char digits[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (EVP_Digest(buf, len, md, &mdlen, EVP_sha256(), NULL) != 1 ||
        mdlen != 32)
        return -1;
    for (unsigned int k = 0; k < 32; k++) {
        hex[2 * k] = digits[md[k] >> 4];
        hex[2 * k + 1] = digits[md[k] & 15];
    }
    hex[64] = 0;
    return 0;
}

/* Argument and range checks, before anything is allocated. */
static int check_args(const lg_graph *g, const int *first, const int *last,
                      const int *node, int n_parts, int ctl_node,
                      char *err, size_t errlen)
{
    if (!g)
        return lg_errf(err, errlen, -EINVAL, "job plan: no graph");
    if (!g->prepared)
        return lg_errf(err, errlen, -EINVAL, "job plan: graph '%s' is not "
                       "prepared", g->name ? g->name : "");
    if (n_parts < 1 || n_parts > JOBPLAN_MAX_PARTS)
        return lg_errf(err, errlen, -EINVAL, "job plan: %d parts; a plan "
                       "has 1 to %d parts", n_parts, JOBPLAN_MAX_PARTS);
    if (!first || !last || !node)
        return lg_errf(err, errlen, -EINVAL, "job plan: no node ranges or "
                       "placement given");
    if (ctl_node < 0)
        return lg_errf(err, errlen, -EINVAL, "job plan: controller node %d "
                       "is not a topology node index", ctl_node);
    if (g->n_nodes < 1)
        return lg_errf(err, errlen, LG_EMODEL, "job plan: graph '%s' has no "
                       "nodes to place", g->name ? g->name : "");
    for (int i = 0; i < n_parts; i++) {
        if (node[i] < 0)
            return lg_errf(err, errlen, -EINVAL, "job plan: part %d is "
                           "placed on node %d, not a topology node index",
                           i, node[i]);
        if (first[i] < 0 || first[i] >= g->n_nodes || last[i] < 0 ||
            last[i] >= g->n_nodes)
            return lg_errf(err, errlen, LG_EMODEL, "job plan: part %d's "
                           "range [%d, %d] lies outside the graph's nodes "
                           "[0, %d]", i, first[i], last[i], g->n_nodes - 1);
        if (first[i] > last[i])
            return lg_errf(err, errlen, LG_EMODEL, "job plan: part %d's "
                           "range [%d, %d] is empty", i, first[i], last[i]);
        if (i == 0 && first[i] != 0)
            return lg_errf(err, errlen, LG_EMODEL, "job plan: part 0 starts "
                           "at node %d; the first part must start at node 0",
                           first[i]);
        if (i > 0 && first[i] != last[i - 1] + 1)
            return lg_errf(err, errlen, LG_EMODEL, "job plan: part %d starts "
                           "at node %d but part %d ends at node %d; ranges "
                           "must be ascending and contiguous", i, first[i],
                           i - 1, last[i - 1]);
    }
    if (last[n_parts - 1] != g->n_nodes - 1)
        return lg_errf(err, errlen, LG_EMODEL, "job plan: part %d (the last) "
                       "ends at node %d but the graph's last node is %d",
                       n_parts - 1, last[n_parts - 1], g->n_nodes - 1);
    return 0;
}

/* Re-prefix err with the part it concerns ("part 2 (nodes 5..9): ..."). */
static int part_err(char *err, size_t errlen, int rc, int i, int first,
                    int last)
{
    char tmp[512];
    snprintf(tmp, sizeof tmp, "%s", err && errlen ? err : lg_strerror(rc));
    return lg_errf(err, errlen, rc, "job plan: part %d (graph nodes %d..%d): "
                   "%s", i, first, last, tmp);
}

/* Extract, serialize and hash part i; fill its input/output names and the
 * parent value indices of its inputs (in_v) and outputs (out_v). */
static int build_part(const lg_graph *g, jp_part *pt, int i, int **in_v,
                      int **out_v, char *err, size_t errlen)
{
    int n = pt->last - pt->first + 1, rc;
    int *idx = malloc((size_t)n * sizeof *idx);
    lg_graph *pg = NULL;
    void *buf = NULL;
    size_t len = 0;

    if (!idx)
        return -ENOMEM;
    for (int k = 0; k < n; k++)
        idx[k] = pt->first + k;
    rc = lg_partition_extract(g, idx, n, &pg, err, errlen);
    free(idx);
    if (rc < 0)
        return part_err(err, errlen, rc, i, pt->first, pt->last);
    if ((rc = lg_onnx_save_buffer(pg, &buf, &len, err, errlen)) < 0) {
        rc = part_err(err, errlen, rc, i, pt->first, pt->last);
        goto out;
    }
    pt->onnx = buf;
    pt->onnx_len = len;
    if (sha256_hex(buf, len, pt->sha256) < 0) {
        rc = lg_errf(err, errlen, -ENOMEM, "job plan: part %d: cannot "
                     "compute SHA-256", i);
        goto out;
    }
    pt->in = calloc((size_t)(pg->n_inputs ? pg->n_inputs : 1),
                    sizeof *pt->in);
    pt->in_from = calloc((size_t)(pg->n_inputs ? pg->n_inputs : 1),
                         sizeof *pt->in_from);
    *in_v = calloc((size_t)(pg->n_inputs ? pg->n_inputs : 1), sizeof **in_v);
    pt->out = calloc((size_t)(pg->n_outputs ? pg->n_outputs : 1),
                     sizeof *pt->out);
    *out_v = calloc((size_t)(pg->n_outputs ? pg->n_outputs : 1),
                    sizeof **out_v);
    if (!pt->in || !pt->in_from || !*in_v || !pt->out || !*out_v) {
        rc = -ENOMEM;
        goto out;
    }
    for (int k = 0; k < pg->n_inputs; k++) {
        const char *nm = pg->values[pg->inputs[k]].name;
        int v = lg_graph_find(g, nm);
        if (v < 0) {
            rc = lg_errf(err, errlen, LG_EMODEL, "job plan: part %d reads "
                         "'%s', which the graph does not have", i, nm);
            goto out;
        }
        if (!(pt->in[k] = strdup(nm))) {
            rc = -ENOMEM;
            goto out;
        }
        pt->n_in = k + 1;
        (*in_v)[k] = v;
    }
    for (int k = 0; k < pg->n_outputs; k++) {
        const char *nm = pg->values[pg->outputs[k]].name;
        int v = lg_graph_find(g, nm);
        if (v < 0) {
            rc = lg_errf(err, errlen, LG_EMODEL, "job plan: part %d writes "
                         "'%s', which the graph does not have", i, nm);
            goto out;
        }
        if (!(pt->out[k].name = strdup(nm))) {
            rc = -ENOMEM;
            goto out;
        }
        pt->n_out = k + 1;
        (*out_v)[k] = v;
    }
    rc = 0;
out:
    lg_graph_free(pg);
    return rc;
}

int jobplan_build(const struct lg_graph *g, const int *first, const int *last,
                  const int *node, int n_parts, int ctl_node, jobplan **out,
                  char *err, size_t errlen)
{
    jobplan *p = NULL;
    int *prod = NULL, *part_of = NULL, *dst = NULL;
    int *in_v[JOBPLAN_MAX_PARTS] = {0}, *out_v[JOBPLAN_MAX_PARTS] = {0};
    char *isout = NULL;
    int rc;

    if (!out)
        return lg_errf(err, errlen, -EINVAL, "job plan: no result pointer");
    *out = NULL;
    if ((rc = check_args(g, first, last, node, n_parts, ctl_node, err,
                         errlen)) < 0)
        return rc;

    p = calloc(1, sizeof *p);
    prod = malloc((size_t)(g->n_values ? g->n_values : 1) * sizeof *prod);
    isout = calloc((size_t)(g->n_values ? g->n_values : 1), 1);
    part_of = malloc((size_t)g->n_nodes * sizeof *part_of);
    dst = malloc(((size_t)n_parts + 1) * sizeof *dst);
    if (!p || !prod || !isout || !part_of || !dst) {
        rc = -ENOMEM;
        goto fail;
    }
    p->ctl = ctl_node;
    for (int v = 0; v < g->n_values; v++)
        prod[v] = -1;
    for (int i = 0; i < g->n_nodes; i++)
        for (int k = 0; k < g->nodes[i].n_out; k++)
            if (g->nodes[i].out[k] >= 0 && g->nodes[i].out[k] < g->n_values)
                prod[g->nodes[i].out[k]] = i;
    for (int i = 0; i < n_parts; i++)
        for (int k = first[i]; k <= last[i]; k++)
            part_of[k] = i;

    /* Graph outputs and the parts producing them: checked before the
     * (costly) extraction. */
    if (g->n_outputs < 0) {
        rc = lg_errf(err, errlen, LG_EMODEL, "job plan: graph has a "
                     "negative output count");
        goto fail;
    }
    p->outputs = calloc((size_t)(g->n_outputs ? g->n_outputs : 1),
                        sizeof *p->outputs);
    p->out_part = calloc((size_t)(g->n_outputs ? g->n_outputs : 1),
                         sizeof *p->out_part);
    if (!p->outputs || !p->out_part) {
        rc = -ENOMEM;
        goto fail;
    }
    for (int k = 0; k < g->n_outputs; k++) {
        int v = g->outputs[k];
        if (v < 0 || v >= g->n_values) {
            rc = lg_errf(err, errlen, LG_EMODEL, "job plan: graph output %d "
                         "refers to no value", k);
            goto fail;
        }
        if (prod[v] < 0) {
            rc = lg_errf(err, errlen, LG_EUNSUP, "job plan: graph output "
                         "'%s' is produced by no node (%s), so no part "
                         "carries it", g->values[v].name,
                         g->values[v].kind == LG_VAL_INPUT ?
                         "a graph input passed through" :
                         "a constant folded at prepare time");
            goto fail;
        }
        isout[v] = 1;
        if (!(p->outputs[k] = strdup(g->values[v].name))) {
            rc = -ENOMEM;
            goto fail;
        }
        p->n_outputs = k + 1;
        p->out_part[k] = part_of[prod[v]];
    }

    if (!(p->parts = calloc((size_t)n_parts, sizeof *p->parts))) {
        rc = -ENOMEM;
        goto fail;
    }
    p->n_parts = n_parts;
    for (int i = 0; i < n_parts; i++) {
        jp_part *pt = &p->parts[i];
        pt->node = node[i];
        pt->first = first[i];
        pt->last = last[i];
        if ((rc = build_part(g, pt, i, &in_v[i], &out_v[i], err,
                             errlen)) < 0)
            goto fail;
        for (int k = 0; k < pt->n_in; k++) {
            int v = in_v[i][k];
            if (prod[v] < 0) {
                pt->in_from[k] = -1;    /* graph input: the controller's */
                continue;
            }
            pt->in_from[k] = part_of[prod[v]];
            if (pt->in_from[k] >= i) {  /* not topological: cannot happen */
                rc = lg_errf(err, errlen, LG_EMODEL, "job plan: part %d "
                             "reads '%s' from part %d, which is not "
                             "earlier", i, pt->in[k], pt->in_from[k]);
                goto fail;
            }
        }
    }

    /* Destinations: every later part reading the value, the controller
     * for a graph output; sorted, deduplicated. */
    for (int i = 0; i < n_parts; i++) {
        jp_part *pt = &p->parts[i];
        for (int k = 0; k < pt->n_out; k++) {
            int v = out_v[i][k], nd = 0, w = 0;
            for (int j = i + 1; j < n_parts; j++)
                for (int m = 0; m < p->parts[j].n_in; m++)
                    if (in_v[j][m] == v) {
                        dst[nd++] = node[j];
                        break;
                    }
            if (isout[v])
                dst[nd++] = ctl_node;
            qsort(dst, (size_t)nd, sizeof *dst, cmp_int);
            for (int m = 0; m < nd; m++)
                if (w == 0 || dst[w - 1] != dst[m])
                    dst[w++] = dst[m];
            if (w == 0) {           /* extraction says someone reads it */
                rc = lg_errf(err, errlen, LG_EMODEL, "job plan: part %d "
                             "outputs '%s' but no later part reads it and "
                             "it is no graph output", i, pt->out[k].name);
                goto fail;
            }
            if (!(pt->out[k].dst = malloc((size_t)w * sizeof *dst))) {
                rc = -ENOMEM;
                goto fail;
            }
            memcpy(pt->out[k].dst, dst, (size_t)w * sizeof *dst);
            pt->out[k].n_dst = w;
        }
    }
    *out = p;
    p = NULL;
    rc = 0;
fail:
    if (rc == -ENOMEM)
        lg_errf(err, errlen, rc, "job plan: out of memory building %d parts "
                "of graph '%s'", n_parts, g->name ? g->name : "");
    jobplan_free(p);
    for (int i = 0; i < n_parts; i++) {
        free(in_v[i]);
        free(out_v[i]);
    }
    free(prod);
    free(isout);
    free(part_of);
    free(dst);
    return rc;
}

int jobplan_build_balanced(const struct lg_graph *g, const int *node,
                           int n_parts, int ctl_node, jobplan **out,
                           char *err, size_t errlen)
{
    int first[JOBPLAN_MAX_PARTS], last[JOBPLAN_MAX_PARTS], rc;

    if (!out)
        return lg_errf(err, errlen, -EINVAL, "job plan: no result pointer");
    *out = NULL;
    if (!g)
        return lg_errf(err, errlen, -EINVAL, "job plan: no graph");
    if (n_parts < 1 || n_parts > JOBPLAN_MAX_PARTS)
        return lg_errf(err, errlen, -EINVAL, "job plan: %d parts; a plan "
                       "has 1 to %d parts", n_parts, JOBPLAN_MAX_PARTS);
    if (n_parts > g->n_nodes)
        return lg_errf(err, errlen, -EINVAL, "job plan: cannot split graph "
                       "'%s' of %d nodes into %d parts",
                       g->name ? g->name : "", g->n_nodes, n_parts);
    if ((rc = lg_partition_balanced(g, n_parts, first, err, errlen)) < 0)
        return rc;
    for (int i = 0; i < n_parts; i++)
        last[i] = i + 1 < n_parts ? first[i + 1] - 1 : g->n_nodes - 1;
    return jobplan_build(g, first, last, node, n_parts, ctl_node, out, err,
                         errlen);
}
