/*
 * tensor.c - lg_tensor allocation, reference counting and shape arithmetic.
 * Every size computation is overflow-checked: shapes come from untrusted
 * model files.
 */
#include "tensor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lgerr.h"

size_t lg_dtype_size(enum lg_dtype t)
{
    switch (t) {
    case LG_F32: case LG_I32: return 4;
    case LG_I64: case LG_F64: return 8;
    case LG_U8: case LG_I8: case LG_BOOL: return 1;
    default: return 0;
    }
}

const char *lg_dtype_name(enum lg_dtype t)
{
    switch (t) {
    case LG_F32: return "float32";
    case LG_I32: return "int32";
    case LG_I64: return "int64";
    case LG_F64: return "float64";
    case LG_U8: return "uint8";
    case LG_I8: return "int8";
    case LG_BOOL: return "bool";
    default: return "undefined";
    }
}

int lg_dtype_supported(int onnx_type)
{
    return onnx_type > 0 && lg_dtype_size((enum lg_dtype)onnx_type) != 0;
}

int lg_shape_numel(const lg_shape *s, int64_t *numel)
{
    int64_t n = 1;
    if (s->rank < 0 || s->rank > LG_MAX_RANK)
        return -ERANGE;
    for (int i = 0; i < s->rank; i++) {
        if (s->d[i] < 0)
            return -ERANGE;
        if (s->d[i] != 0 && n > INT64_MAX / s->d[i])
            return -ERANGE;
        n *= s->d[i];
    }
    *numel = n;
    return 0;
}

int lg_shape_nbytes(const lg_shape *s, enum lg_dtype t, size_t *nbytes)
{
    int64_t n;
    size_t es = lg_dtype_size(t);
    if (es == 0)
        return -EINVAL;
    if (lg_shape_numel(s, &n) < 0)
        return -ERANGE;
    if ((uint64_t)n > LG_TENSOR_MAX_BYTES / es)
        return -ERANGE;
    *nbytes = (size_t)n * es;
    return 0;
}

int lg_shape_eq(const lg_shape *a, const lg_shape *b)
{
    if (a->rank != b->rank)
        return 0;
    for (int i = 0; i < a->rank; i++)
        if (a->d[i] != b->d[i])
            return 0;
    return 1;
}

char *lg_shape_str(const lg_shape *s, char *buf, size_t len)
{
    size_t off = 0;
    if (len == 0)
        return buf;
    buf[0] = 0;
    off += (size_t)snprintf(buf + off, len - off, "[");
    for (int i = 0; i < s->rank && off < len; i++)
        off += (size_t)snprintf(buf + off, len - off, "%s%lld", i ? "," : "",
                                (long long)s->d[i]);
    if (off < len)
        snprintf(buf + off, len - off, "]");
    return buf;
}

lg_shape lg_shape_make(int rank, const int64_t *d)
{
    lg_shape s;
    memset(&s, 0, sizeof s);
    s.rank = rank;
    for (int i = 0; i < rank && i < LG_MAX_RANK; i++)
        s.d[i] = d[i];
    return s;
}

void *lg_aligned_alloc(size_t nbytes)
{
    void *p = NULL;
    /* Round up so that vector loops may read a whole last vector. */
    size_t n = (nbytes + 63) & ~(size_t)63;
    if (n == 0)
        n = 64;
    if (posix_memalign(&p, 64, n) != 0)
        return NULL;
    return p;
}

lg_tensor *lg_tensor_wrap(enum lg_dtype t, const lg_shape *s, void *data,
                          void (*release)(void *, void *), void *opaque)
{
    size_t nb;
    lg_tensor *x;
    if (lg_shape_nbytes(s, t, &nb) < 0)
        return NULL;
    x = calloc(1, sizeof *x);
    if (!x)
        return NULL;
    x->dtype = t;
    x->shape = *s;
    x->data = data;
    x->nbytes = nb;
    x->refs = 1;
    x->release = release;
    x->release_opaque = opaque;
    return x;
}

lg_tensor *lg_tensor_alloc(enum lg_dtype t, const lg_shape *s)
{
    size_t nb;
    void *d;
    lg_tensor *x;
    if (lg_shape_nbytes(s, t, &nb) < 0)
        return NULL;
    d = lg_aligned_alloc(nb);
    if (!d)
        return NULL;
    x = lg_tensor_wrap(t, s, d, NULL, NULL);
    if (!x)
        free(d);
    return x;
}

void lg_tensor_view_release(void *data, void *opaque)
{
    (void)data;
    lg_tensor_unref(opaque);
}

lg_tensor *lg_tensor_view(lg_tensor *src, const lg_shape *s)
{
    size_t nb;
    lg_tensor *x;
    if (lg_shape_nbytes(s, src->dtype, &nb) < 0 || nb != src->nbytes)
        return NULL;
    x = lg_tensor_wrap(src->dtype, s, src->data, lg_tensor_view_release,
                       src);
    if (x)
        lg_tensor_ref(src);
    return x;
}

lg_tensor *lg_tensor_new(enum lg_dtype t, const lg_shape *s)
{
    lg_tensor *x = lg_tensor_alloc(t, s);
    if (x)
        memset(x->data, 0, x->nbytes);
    return x;
}

lg_tensor *lg_tensor_ref(lg_tensor *t)
{
    if (t)
        t->refs++;
    return t;
}

void lg_tensor_unref(lg_tensor *t)
{
    if (!t || --t->refs > 0)
        return;
    if (t->release)
        t->release(t->data, t->release_opaque);
    else
        free(t->data);
    free(t);
}

int64_t lg_tensor_numel(const lg_tensor *t)
{
    int64_t n = 0;
    lg_shape_numel(&t->shape, &n);
    return n;
}

int64_t lg_tensor_geti(const lg_tensor *t, int64_t i)
{
    switch (t->dtype) {
    case LG_I64: return ((const int64_t *)t->data)[i];
    case LG_I32: return ((const int32_t *)t->data)[i];
    case LG_U8: case LG_BOOL: return ((const uint8_t *)t->data)[i];
    case LG_I8: return ((const int8_t *)t->data)[i];
    case LG_F32: return (int64_t)((const float *)t->data)[i];
    case LG_F64: return (int64_t)((const double *)t->data)[i];
    default: return 0;
    }
}
