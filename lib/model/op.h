/*
 * op.h - op definitions: what the IR knows about each ONNX operator
 * independently of how it is executed: arity, static shape inference and
 * cost (FLOPs).
 *
 * Definitions live in tables, one per op family (opdef_nn.c, opdef_elem.c,
 * opdef_tensor.c), joined by lg_op_find() in opdef.c. The kernels that run
 * them are elsewhere (lib/exec/cpu/), behind the executor's backend table.
 *
 * Shape functions run during lg_graph_infer(), in topological order: when
 * one runs, every input value has dtype and shape set, and constant inputs
 * (initializers, folded values) have ->konst. It must set dtype + shape of
 * every present output with lg_set_out(), or fail with LG_EMODEL naming the
 * node and the problem (e.g. "Conv 'conv1': input channels 3 != weight 4").
 * Shape functions never allocate from unchecked sizes: lg_set_out checks.
 */
#ifndef LG_OP_H
#define LG_OP_H

#include "graph.h"

typedef int (*lg_shape_fn)(lg_graph *g, lg_node *n, char *err, size_t errlen);
/* FLOPs of one execution; shapes are set. Multiply-add = 2 FLOPs. */
typedef uint64_t (*lg_flops_fn)(const lg_graph *g, const lg_node *n);

typedef struct lg_opdef {
    const char *op;             /* ONNX op_type, default domain */
    int min_in, max_in;         /* input count bounds */
    int min_out, max_out;
    lg_shape_fn shape;
    lg_flops_fn flops;          /* NULL: one FLOP per output element */
    int no_fold;                /* never constant-fold (e.g. RandomNormal) */
} lg_opdef;

/* Tables, each terminated by an entry with op == NULL. */
extern const lg_opdef lg_opdefs_nn[];      /* opdef_nn.c */
extern const lg_opdef lg_opdefs_elem[];    /* opdef_elem.c */
extern const lg_opdef lg_opdefs_tensor[];  /* opdef_tensor.c */

/* Definition for (domain, op), or NULL. "ai.onnx" and "" are the same. */
const lg_opdef *lg_op_find(const char *domain, const char *op);

/* Set output i of n (no-op if that output is absent). Checks the size
 * against LG_TENSOR_MAX_BYTES: LG_EMODEL on overflow. */
int lg_set_out(lg_graph *g, lg_node *n, int i, enum lg_dtype t,
               const lg_shape *s, char *err, size_t errlen);

/* Numpy-style multidirectional broadcast of a and b into out; LG_EMODEL
 * naming node n if incompatible. */
int lg_broadcast(const lg_node *n, const lg_shape *a, const lg_shape *b,
                 lg_shape *out, char *err, size_t errlen);

/* Normalize axis (may be negative) for a given rank; -1 if out of range. */
int lg_axis(int64_t axis, int rank);

/* Read a constant int tensor input (e.g. Reshape's shape) into v[max].
 * Returns the count, or LG_EMODEL/LG_EUNSUP (not constant) with err set. */
int lg_const_ints(const lg_graph *g, const lg_node *n, int input,
                  int64_t *v, int max, char *err, size_t errlen);

#endif
