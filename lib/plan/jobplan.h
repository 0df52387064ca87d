/*
 * jobplan.h - a job's distributed plan made concrete: a prepared graph cut
 * into contiguous ranges of its topological node order, each range
 * extracted as a partition and serialized as ONNX bytes (with their
 * SHA-256, the cache key under which a node keeps the partition), plus the
 * routing of every tensor that crosses a cut: where each partition's
 * inputs come from (an earlier part or the controller) and which topology
 * nodes each of its outputs must reach.
 *
 * Pure library code: the daemon turns a planner result into a jobplan and
 * ships the parts; nothing here does I/O. A jobplan owns all its memory and
 * does not refer to the graph it was built from. Building extracts
 * partitions, which take (non-atomic) references on the graph's constant
 * tensors: build from one thread at a time per graph (see partition.h).
 * The bytes, hence the SHA-256s, depend on the graph and the ranges only,
 * not on the placement (node[], ctl_node).
 */
#ifndef LG_JOBPLAN_H
#define LG_JOBPLAN_H

#include <stddef.h>
#include <stdint.h>

struct lg_graph;

#define JOBPLAN_MAX_PARTS 64

typedef struct jp_out {
    char *name;          /* value name in the parent graph (= the partition
                            graph's output name) */
    int n_dst;
    int *dst;            /* topology node indices it must reach, sorted
                            ascending, no duplicates: the nodes of every
                            LATER part that reads it, plus ctl_node if it
                            is a graph output. A part never lists a
                            destination for a value nobody reads. */
} jp_out;

typedef struct jp_part {
    int node;            /* topology node index (as given) */
    int first, last;     /* graph node range [first, last] in g's
                            (topological) node order */
    uint8_t *onnx;       /* the partition as ONNX bytes (lg_onnx_save_buffer
                            of the extracted graph) */
    size_t onnx_len;
    char sha256[65];     /* lower-case hex SHA-256 of onnx[0..onnx_len) */
    int n_in;
    char **in;           /* value names the partition reads, in the order of
                            its graph's inputs */
    int *in_from;        /* per input: index of the part producing it, or -1
                            for a graph input (the controller holds those) */
    int n_out;
    jp_out *out;         /* the partition graph's outputs, in its order */
} jp_part;

typedef struct jobplan {
    int n_parts;
    jp_part *parts;
    int ctl;             /* controller node (as given) */
    int n_outputs;       /* graph outputs of g, in g's order */
    char **outputs;
    int *out_part;       /* per graph output: the part producing it */
} jobplan;

/* Cut g (prepared) into n_parts contiguous ranges: part i covers graph
 * nodes [first[i], last[i]]; ranges must be non-empty, ascending and
 * contiguous (first[0] = 0, first[i+1] = last[i] + 1, last[n-1] =
 * g->n_nodes - 1), else LG_EMODEL naming the bad part. 1 <= n_parts <=
 * JOBPLAN_MAX_PARTS, else -EINVAL. node[i] is part i's topology node (any
 * int >= 0; not interpreted). Consecutive parts on the same node are not
 * merged (the caller decides). A graph output that no part produces (a
 * folded constant or a graph input passed through) is LG_EUNSUP naming
 * the output. Errors: LG_EMODEL / LG_EUNSUP / -EINVAL / -ENOMEM with a
 * message in err; *out is NULL then. */
int jobplan_build(const struct lg_graph *g, const int *first, const int *last,
                  const int *node, int n_parts, int ctl_node, jobplan **out,
                  char *err, size_t errlen);

/* Balanced variant for explicit placement: split g into n_parts contiguous
 * ranges of about equal FLOPs (lg_partition_balanced), part i on node[i].
 * n_parts may not exceed the graph's node count. */
int jobplan_build_balanced(const struct lg_graph *g, const int *node,
                           int n_parts, int ctl_node, jobplan **out,
                           char *err, size_t errlen);

void jobplan_free(jobplan *p);   /* NULL-safe */

#endif
