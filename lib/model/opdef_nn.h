/*
 * opdef_nn.h - sliding-window geometry shared by the NN op definitions
 * (opdef_nn.c) and the kernels that run them (lib/exec/cpu/conv.c, nn.c).
 *
 * Conv, MaxPool and AveragePool place a window over the spatial dims of an
 * [N, C, D1..Dk] input from the same attributes (kernel_shape, strides,
 * dilations, pads, auto_pad, ceil_mode). lg_nn_window() is the one place
 * that turns those attributes into output sizes and begin/end pads, so the
 * shape function and the kernel can never disagree. Pure functions; safe
 * from any thread.
 */
#ifndef LG_OPDEF_NN_H
#define LG_OPDEF_NN_H

#include <stddef.h>
#include <stdint.h>

#include "graph.h"

#define LG_NN_MAX_SPATIAL 3     /* Conv/pool dims we handle: 1-D to 3-D */

typedef struct lg_window {
    int nsp;                                /* spatial dims, 1..3 */
    int64_t in[LG_NN_MAX_SPATIAL];          /* input spatial sizes */
    int64_t k[LG_NN_MAX_SPATIAL];           /* kernel sizes */
    int64_t stride[LG_NN_MAX_SPATIAL];
    int64_t dil[LG_NN_MAX_SPATIAL];
    int64_t pad0[LG_NN_MAX_SPATIAL];        /* padding before, auto_pad done */
    int64_t pad1[LG_NN_MAX_SPATIAL];        /* padding after, as declared */
    int64_t out[LG_NN_MAX_SPATIAL];         /* output spatial sizes, >= 1 */
} lg_window;

/* Window of node n over input shape x ([N, C, spatial...]) with kernel
 * sizes k[x->rank - 2]. ceil_mode selects ceil rounding of the output
 * size (pools); the last window must start inside the input or the begin
 * padding, as in PyTorch. LG_EMODEL naming the node on bad attributes or
 * an empty output, LG_EUNSUP for more than 3 spatial dims. */
int lg_nn_window(const lg_node *n, const lg_shape *x, const int64_t *k,
                 int ceil_mode, lg_window *w, char *err, size_t errlen);

#endif
