/*
 * kernel.h - the interface between the executor and a backend's kernels.
 *
 * A kernel runs one node. The executor has already allocated every output
 * with the static shape from shape inference (out[i]->shape, ->data,
 * zero-filled is NOT guaranteed), so a kernel only computes. in[i] is NULL
 * for an absent optional input. Kernels read attributes through the node
 * (lg_attr_int etc.) or, when parsing is costly, once in prepare().
 *
 * Kernels are called on one thread at a time per executor, and may use
 * ctx->pool for data parallelism. They return 0, or a negative code with a
 * message in err naming the node.
 */
#ifndef LG_KERNEL_H
#define LG_KERNEL_H

#include <stddef.h>

#include "graph.h"
#include "pool.h"

typedef struct lg_kctx {
    lg_pool *pool;              /* may be NULL: run single-threaded */
    void *state;                /* from the kernel's prepare(), or NULL */
    char *err;                  /* error detail buffer */
    size_t errlen;
} lg_kctx;

typedef int (*lg_kernel_fn)(const lg_graph *g, const lg_node *n,
                            lg_tensor *const *in, lg_tensor *const *out,
                            lg_kctx *ctx);

typedef struct lg_kernel {
    const char *op;             /* ONNX op_type */
    lg_kernel_fn run;
    /* Optional: called once per node when an executor is built (constant
     * inputs are available as g->values[..].konst, e.g. to pack weights). */
    int (*prepare)(const lg_graph *g, const lg_node *n, void **state,
                   char *err, size_t errlen);
    void (*release)(void *state);
} lg_kernel;

/* CPU kernel tables, each terminated by {NULL}. */
extern const lg_kernel lg_cpu_kernels_nn[];     /* cpu/nn.c, cpu/conv.c ... */
extern const lg_kernel lg_cpu_kernels_conv[];   /* cpu/conv.c */
extern const lg_kernel lg_cpu_kernels_elem[];   /* cpu/elem.c */
extern const lg_kernel lg_cpu_kernels_tensor[]; /* cpu/tensor_ops.c */

#endif
