/*
 * graph.h - the graph IR: values (tensors flowing along edges) and nodes in
 * topological order.
 *
 * Owns lg_graph and everything hanging off it. A graph is built by the ONNX
 * loader (onnx_load.c) or by partition extraction (partition.c), then
 * "prepared" by lg_graph_infer(): topological sort, static shape inference
 * with constant folding, and per-node costs. After that every value has a
 * dtype and a static shape, and every remaining node does real work on
 * runtime data. A prepared graph is read-only and may be shared by threads.
 *
 * Values are addressed by index into g->values; -1 marks an absent optional
 * input (ONNX's empty name).
 */
#ifndef LG_GRAPH_H
#define LG_GRAPH_H

#include <stddef.h>
#include <stdint.h>

#include "tensor.h"

enum lg_attr_type {             /* == onnx.AttributeProto.AttributeType */
    LG_ATTR_UNDEF = 0,
    LG_ATTR_FLOAT = 1,
    LG_ATTR_INT = 2,
    LG_ATTR_STRING = 3,
    LG_ATTR_TENSOR = 4,
    LG_ATTR_GRAPH = 5,          /* kept by type only; no op we run needs one */
    LG_ATTR_FLOATS = 6,
    LG_ATTR_INTS = 7,
    LG_ATTR_STRINGS = 8,
};

typedef struct lg_attr {
    char *name;
    enum lg_attr_type type;
    float f;                    /* FLOAT */
    int64_t i;                  /* INT */
    char *s;                    /* STRING, NUL-terminated copy */
    size_t slen;                /* its length (may hold NULs) */
    float *floats;              /* FLOATS */
    int64_t *ints;              /* INTS */
    char **strings;             /* STRINGS */
    int n;                      /* count for FLOATS / INTS / STRINGS */
    lg_tensor *t;               /* TENSOR */
} lg_attr;

enum lg_val_kind {
    LG_VAL_ACT = 0,             /* produced by a node at run time */
    LG_VAL_INPUT,               /* graph input, fed by the caller */
    LG_VAL_CONST,               /* initializer, or folded at prepare time */
};

typedef struct lg_value {
    char *name;
    enum lg_dtype dtype;        /* LG_UNDEF until known */
    lg_shape shape;
    int has_shape;              /* shape is known and static */
    enum lg_val_kind kind;
    lg_tensor *konst;           /* data for LG_VAL_CONST, else NULL */
    int initializer;            /* came from the file: counts as parameters */
    int producer;               /* node index, or -1 */
    int is_output;              /* listed in the graph outputs */
    int n_consumers;            /* nodes reading it (after prepare) */
    int last_use;               /* index of the last node reading it, or -1 */
} lg_value;

struct lg_opdef;

typedef struct lg_node {
    char *name;                 /* never NULL after load (synthesized if empty) */
    char *op;                   /* op_type */
    char *domain;               /* "" for the default ONNX domain */
    int n_in, n_out;
    int *in, *out;              /* value indices; in[i] == -1: absent */
    lg_attr *attrs;
    int n_attrs;
    const struct lg_opdef *def; /* resolved by lg_graph_infer */
    uint64_t flops;             /* multiply-adds count as 2 */
    uint64_t bytes_read;        /* activations + parameters read */
    uint64_t bytes_written;     /* outputs written */
    uint64_t param_bytes;       /* initializer bytes this node reads */
} lg_node;

struct lg_namemap;

typedef struct lg_graph {
    char *name;
    int64_t opset;              /* default-domain opset version */
    int64_t ir_version;
    char *producer;             /* producer_name, for inspect */
    lg_value *values;
    int n_values, cap_values;
    lg_node *nodes;
    int n_nodes, cap_nodes;
    int *inputs, n_inputs;      /* runtime inputs (initializers excluded) */
    int *outputs, n_outputs;
    struct lg_namemap *map;     /* value name -> index */
    int prepared;               /* lg_graph_infer succeeded */
} lg_graph;

lg_graph *lg_graph_new(void);
void lg_graph_free(lg_graph *g);

/* Index of the value named name, creating it if absent; <0 on OOM. */
int lg_graph_value(lg_graph *g, const char *name);
/* Index of the value named name, or -1. */
int lg_graph_find(const lg_graph *g, const char *name);
/* Append a node; takes copies of strings. Returns its index or <0. Inputs
 * named "" become -1. attrs are moved into the graph (caller's array is
 * freed by the graph, each lg_attr owned). */
int lg_graph_add_node(lg_graph *g, const char *name, const char *op,
                      const char *domain, int n_in, const char *const *in,
                      int n_out, const char *const *out, lg_attr *attrs,
                      int n_attrs);
int lg_graph_add_input(lg_graph *g, int v);
int lg_graph_add_output(lg_graph *g, int v);
/* Make value v a constant holding t (takes the reference). */
void lg_graph_set_const(lg_graph *g, int v, lg_tensor *t, int initializer);

/* Sort nodes topologically (stable: keeps file order where legal).
 * Fails with LG_EMODEL naming a node on a cycle, or a value that is read
 * but never produced. Fills producer, n_consumers and last_use. */
int lg_graph_toposort(lg_graph *g, char *err, size_t errlen);

/* Evaluates a node whose inputs are all constant, storing outputs as
 * constants. Supplied by the executor so that lib/model need not link the
 * kernels; see lg_graph_infer. */
typedef int (*lg_fold_fn)(lg_graph *g, int node, char *err, size_t errlen);

/* Prepare: toposort, resolve op definitions (an unknown op is an
 * LG_EUNSUP error naming op and node), infer static shapes, fold nodes
 * whose inputs are all constant (via fold, if not NULL), drop folded and
 * dead nodes, and compute costs. */
int lg_graph_infer(lg_graph *g, lg_fold_fn fold, char *err, size_t errlen);

/* Recompute producer / consumers / last_use after nodes changed. */
void lg_graph_link(lg_graph *g);

/* Attribute access. Absent attributes give the default. */
const lg_attr *lg_node_attr(const lg_node *n, const char *name);
int64_t lg_attr_int(const lg_node *n, const char *name, int64_t def);
float lg_attr_float(const lg_node *n, const char *name, float def);
const char *lg_attr_str(const lg_node *n, const char *name, const char *def);
/* INTS attribute: count and pointer, or -1 if absent. */
int lg_attr_ints(const lg_node *n, const char *name, const int64_t **v);
void lg_attr_clear(lg_attr *a);
/* Free what a node owns (names, edges, attributes); the slot is zeroed. */
void lg_node_clear(lg_node *n);

/* Convenience for shape functions and kernels. */
static inline lg_value *lg_in(const lg_graph *g, const lg_node *n, int i)
{
    return (i < n->n_in && n->in[i] >= 0) ? &g->values[n->in[i]] : NULL;
}
static inline lg_value *lg_out(const lg_graph *g, const lg_node *n, int i)
{
    return (i < n->n_out && n->out[i] >= 0) ? &g->values[n->out[i]] : NULL;
}

/* Totals over the graph. */
uint64_t lg_graph_flops(const lg_graph *g);
uint64_t lg_graph_param_bytes(const lg_graph *g);

#endif
