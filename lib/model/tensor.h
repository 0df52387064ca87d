/*
 * tensor.h - dense tensors: element type, shape and data.
 *
 * Owns the lg_tensor type used by the loader, the executor and the .npy
 * reader. Element types use ONNX's TensorProto.DataType numbering so they
 * pass through the loader unchanged. Data is reference-counted so that a
 * partition extracted from a graph shares its weights instead of copying
 * them. Not thread-safe for refcount changes: tensors are shared across
 * threads only read-only, with references taken on one thread.
 */
#ifndef LG_TENSOR_H
#define LG_TENSOR_H

#include <stddef.h>
#include <stdint.h>

#define LG_MAX_RANK 8
/* Hard ceiling on any single tensor (16 GiB): lengths from files and the
 * wire are checked against it before allocating. */
#define LG_TENSOR_MAX_BYTES ((uint64_t)16 << 30)

enum lg_dtype {                 /* == onnx.TensorProto.DataType */
    LG_UNDEF = 0,
    LG_F32 = 1,
    LG_U8 = 2,
    LG_I8 = 3,
    LG_I32 = 6,
    LG_I64 = 7,
    LG_BOOL = 9,
    LG_F64 = 11,
};

typedef struct lg_shape {
    int rank;                   /* 0 = scalar */
    int64_t d[LG_MAX_RANK];     /* each >= 0 */
} lg_shape;

typedef struct lg_tensor {
    enum lg_dtype dtype;
    lg_shape shape;
    void *data;                 /* 64-byte aligned when we allocated it */
    size_t nbytes;              /* numel * dtype size */
    int refs;                   /* lg_tensor_unref frees at zero */
    void (*release)(void *data, void *opaque); /* NULL = free() */
    void *release_opaque;
} lg_tensor;

/* Size of one element, or 0 for types we do not hold. */
size_t lg_dtype_size(enum lg_dtype t);
const char *lg_dtype_name(enum lg_dtype t);
int lg_dtype_supported(int onnx_type);

/* numel of a shape, checked: -ERANGE if the product overflows or any
 * dimension is negative. */
int lg_shape_numel(const lg_shape *s, int64_t *numel);
/* Byte size checked against LG_TENSOR_MAX_BYTES. */
int lg_shape_nbytes(const lg_shape *s, enum lg_dtype t, size_t *nbytes);
int lg_shape_eq(const lg_shape *a, const lg_shape *b);
/* "[1,3,224,224]" into buf; returns buf. */
char *lg_shape_str(const lg_shape *s, char *buf, size_t len);
lg_shape lg_shape_make(int rank, const int64_t *d);

/* New tensor with zeroed, aligned data; NULL on overflow or OOM. */
lg_tensor *lg_tensor_new(enum lg_dtype t, const lg_shape *s);
/* Like lg_tensor_new but the data is left uninitialized (for outputs a
 * kernel fully overwrites). */
lg_tensor *lg_tensor_alloc(enum lg_dtype t, const lg_shape *s);
/* A tensor that views src's data with another shape of the same byte size
 * (Reshape and friends): holds a reference to src. */
lg_tensor *lg_tensor_view(lg_tensor *src, const lg_shape *s);
/* The release function of views (to tell a view from an owner). */
void lg_tensor_view_release(void *data, void *opaque);
/* New tensor that adopts data (freed with release(data, opaque), or free()). */
lg_tensor *lg_tensor_wrap(enum lg_dtype t, const lg_shape *s, void *data,
                          void (*release)(void *, void *), void *opaque);
lg_tensor *lg_tensor_ref(lg_tensor *t);
void lg_tensor_unref(lg_tensor *t);
int64_t lg_tensor_numel(const lg_tensor *t);

/* Aligned allocation used for all tensor data (64 bytes: AVX-512). */
void *lg_aligned_alloc(size_t nbytes);

/* Read element i of an integer tensor (I64/I32/U8/I8/BOOL) as int64. */
int64_t lg_tensor_geti(const lg_tensor *t, int64_t i);

#endif
