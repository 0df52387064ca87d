/*
 * opdef_tensor.h - parameter resolution for tensor ops whose output shape
 * depends on constant inputs (Slice, Pad, Reduce*, Resize), shared by
 * their shape functions (opdef_tensor.c) and their CPU kernels
 * (lib/exec/cpu/tensor_ops.c) so that both agree on every clamp and
 * default.
 *
 * Each resolver takes the constant inputs as tensors (NULL when absent;
 * the shape function passes ->konst, the kernel its runtime inputs) and
 * falls back to the pre-opset-10/11/13/18 attributes where ONNX had them.
 * Errors are LG_EMODEL/LG_EUNSUP with the node named in err. Pure
 * functions; thread-safe.
 */
#ifndef LG_OPDEF_TENSOR_H
#define LG_OPDEF_TENSOR_H

#include "graph.h"

/* Slice: per data dimension, the first element and the step. */
typedef struct lg_slice {
    lg_shape out;               /* output shape */
    int64_t start[LG_MAX_RANK]; /* first index taken, per dim */
    int64_t step[LG_MAX_RANK];  /* step per dim (1 where not sliced) */
} lg_slice;

/* starts/ends/axes/steps tensors (opset >= 10), or the node's attributes
 * when starts is NULL (opset < 10). */
int lg_opdef_slice(const lg_node *n, const lg_shape *in,
                   const lg_tensor *starts, const lg_tensor *ends,
                   const lg_tensor *axes, const lg_tensor *steps,
                   lg_slice *s, char *err, size_t errlen);

/* Pad: begin/end padding per dim (negative crops). pads NULL: the "pads"
 * attribute (opset < 11). axes (opset 18) may be NULL. */
int lg_opdef_pad(const lg_node *n, const lg_shape *in, const lg_tensor *pads,
                 const lg_tensor *axes, int64_t *begin, int64_t *end,
                 lg_shape *out, char *err, size_t errlen);

/* Reduce*: which dims are reduced (reduced[i] = 1) and the output shape.
 * No dim reduced means the identity (noop_with_empty_axes). axes NULL:
 * the "axes" attribute, if any. */
int lg_opdef_reduce(const lg_node *n, const lg_shape *in,
                    const lg_tensor *axes, int *reduced, lg_shape *out,
                    char *err, size_t errlen);

/* Resize / Upsample. */
enum lg_resize_coord {
    LG_RC_HALF_PIXEL, LG_RC_PYTORCH_HALF_PIXEL, LG_RC_ALIGN_CORNERS,
    LG_RC_ASYMMETRIC, LG_RC_TF_HALF_PIXEL, LG_RC_HALF_PIXEL_SYM,
};
enum lg_resize_nearest {
    LG_RN_ROUND_PREFER_FLOOR, LG_RN_ROUND_PREFER_CEIL, LG_RN_FLOOR,
    LG_RN_CEIL, LG_RN_SIMPLE,   /* opset < 11: floor up, ceil down */
};
typedef struct lg_resize {
    lg_shape out;
    float scale[LG_MAX_RANK];   /* output / input per dim */
    int linear;                 /* 0 nearest, 1 linear (last two dims) */
    enum lg_resize_coord coord;
    enum lg_resize_nearest nearest;
} lg_resize;

/* Input indices of scales and sizes for this node and opset (-1: none). */
void lg_opdef_resize_inputs(int64_t opset, const lg_node *n, int *scales,
                            int *sizes);
int lg_opdef_resize(int64_t opset, const lg_node *n, const lg_shape *in,
                    const lg_tensor *scales, const lg_tensor *sizes,
                    lg_resize *r, char *err, size_t errlen);

#endif
