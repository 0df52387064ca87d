/*
 * onnx_save.c - serializing a graph (a whole model or an extracted
 * partition) as an ONNX ModelProto, with protobuf-c and our wire-compatible
 * subset (proto/onnx/onnx-subset.proto).
 *
 * What is written: the nodes in the graph's order with every attribute
 * (tensor attributes as raw_data), the runtime inputs and the outputs as
 * ValueInfoProto with element type and static shape, and the constants
 * that nodes read or that are graph outputs (nothing else): initializers
 * (raw_data, little-endian) for constants that came from the file as
 * initializers, Constant nodes for constants folded at prepare time. The
 * loader turns Constant nodes back into constants, so a save and a load
 * give the same graph, `initializer` flags included.
 *
 * The message tree points into the graph's own strings and tensor data (no
 * copy of the weights on little-endian hosts); the small structures it
 * needs live in an arena freed when the call returns. The graph is only
 * read: saving is thread-safe for a prepared graph.
 */
#include "onnx_save.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lgerr.h"
#include "onnx/onnx-subset.pb-c.h"

/* A protobuf message may not exceed 2 GiB; larger models need external
 * data, which we do not write. */
#define SAVE_MAX_BYTES ((size_t)INT32_MAX)

/* ---------------------------------------------------------------- arena */

struct blk {
    struct blk *next;
    max_align_t data[];
};

/* One save: the arena holding the message tree, and the first error. */
typedef struct arena {
    struct blk *head;
    int rc;                     /* first error code, 0 while none */
    char *err;                  /* caller's detail buffer */
    size_t errlen;
} arena;

static void *az(arena *a, size_t n)
{
    struct blk *b = calloc(1, sizeof *b + (n ? n : 1));
    if (!b) {
        if (!a->rc)
            a->rc = lg_errf(a->err, a->errlen, -ENOMEM,
                            "out of memory serializing the model");
        return NULL;
    }
    b->next = a->head;
    a->head = b;
    return b->data;
}

static void arena_free(arena *a)
{
    while (a->head) {
        struct blk *b = a->head;
        a->head = b->next;
        free(b);
    }
}

static char *astrdup(arena *a, const char *s)
{
    size_t n = strlen(s);
    char *d = az(a, n + 1);
    if (d)
        memcpy(d, s, n + 1);
    return d;
}

/* Record the first error (the NULL-returning converters' way to fail). */
#define FAIL(a, code, ...) \
    ((a)->rc ? (void)0 \
     : (void)((a)->rc = lg_errf((a)->err, (a)->errlen, code, __VA_ARGS__)))

/* ----------------------------------------------------------- converters */

/* Tensor data as little-endian bytes: the tensor's own buffer on a
 * little-endian host, a swapped copy otherwise. */
static int raw_bytes(arena *a, const lg_tensor *t, ProtobufCBinaryData *out)
{
    out->len = t->nbytes;
    out->data = t->data;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    {
        size_t es = lg_dtype_size(t->dtype);
        uint8_t *d;
        if (es > 1 && t->nbytes > 0) {
            if (!(d = az(a, t->nbytes)))
                return -ENOMEM;
            for (size_t i = 0; i < t->nbytes; i += es)
                for (size_t b = 0; b < es; b++)
                    d[i + b] = ((const uint8_t *)t->data)[i + es - 1 - b];
            out->data = d;
        }
    }
#else
    (void)a;
#endif
    if (t->nbytes > 0 && !t->data)
        return LG_EMODEL;
    return 0;
}

static Onnx__TensorProto *tensor_proto(arena *a, const char *name,
                                       const lg_tensor *t)
{
    Onnx__TensorProto *tp = az(a, sizeof *tp);
    int rc;
    if (!tp)
        return NULL;
    onnx__tensor_proto__init(tp);
    if (lg_dtype_size(t->dtype) == 0) {
        FAIL(a, LG_EUNSUP, "tensor '%s' has element type %d, which cannot "
             "be saved", name ? name : "", (int)t->dtype);
        return NULL;
    }
    tp->name = (char *)name;
    tp->has_data_type = 1;
    tp->data_type = (int32_t)t->dtype;
    tp->n_dims = (size_t)t->shape.rank;
    if (t->shape.rank > 0) {
        if (!(tp->dims = az(a, (size_t)t->shape.rank * sizeof *tp->dims)))
            return NULL;
        memcpy(tp->dims, t->shape.d, (size_t)t->shape.rank * sizeof *tp->dims);
    }
    tp->has_raw_data = 1;
    if ((rc = raw_bytes(a, t, &tp->raw_data)) < 0) {
        FAIL(a, rc, "tensor '%s' has no data", name ? name : "");
        return NULL;
    }
    return tp;
}

static Onnx__ValueInfoProto *value_info(arena *a, const lg_value *v)
{
    Onnx__ValueInfoProto *vi = az(a, sizeof *vi);
    Onnx__TypeProto *tp = az(a, sizeof *tp);
    Onnx__TypeProto__Tensor *tt = az(a, sizeof *tt);
    if (!vi || !tp || !tt)
        return NULL;
    if (v->dtype == LG_UNDEF) {
        FAIL(a, LG_EMODEL, "graph input or output '%s' has no known "
             "element type", v->name);
        return NULL;
    }
    onnx__value_info_proto__init(vi);
    onnx__type_proto__init(tp);
    onnx__type_proto__tensor__init(tt);
    vi->name = v->name;
    vi->type = tp;
    tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    tp->tensor_type = tt;
    tt->has_elem_type = 1;
    tt->elem_type = (int32_t)v->dtype;
    if (v->has_shape) {
        Onnx__TensorShapeProto *sp = az(a, sizeof *sp);
        if (!sp)
            return NULL;
        onnx__tensor_shape_proto__init(sp);
        sp->n_dim = (size_t)v->shape.rank;
        if (v->shape.rank > 0 &&
            !(sp->dim = az(a, (size_t)v->shape.rank * sizeof *sp->dim)))
            return NULL;
        for (int k = 0; k < v->shape.rank; k++) {
            Onnx__TensorShapeProto__Dimension *d = az(a, sizeof *d);
            if (!d)
                return NULL;
            onnx__tensor_shape_proto__dimension__init(d);
            d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
            d->dim_value = v->shape.d[k];
            sp->dim[k] = d;
        }
        tt->shape = sp;
    }
    return vi;
}

static Onnx__AttributeProto *attr_proto(arena *a, const lg_node *n,
                                        const lg_attr *at)
{
    Onnx__AttributeProto *ap = az(a, sizeof *ap);
    if (!ap)
        return NULL;
    onnx__attribute_proto__init(ap);
    ap->name = at->name;
    ap->has_type = 1;
    ap->type = (Onnx__AttributeProto__AttributeType)at->type;
    switch (at->type) {
    case LG_ATTR_FLOAT:
        ap->has_f = 1;
        ap->f = at->f;
        break;
    case LG_ATTR_INT:
        ap->has_i = 1;
        ap->i = at->i;
        break;
    case LG_ATTR_STRING:
        ap->has_s = 1;
        ap->s.len = at->s ? at->slen : 0;
        ap->s.data = (uint8_t *)at->s;
        break;
    case LG_ATTR_TENSOR:
        if (!at->t) {
            FAIL(a, LG_EMODEL, "node '%s': tensor attribute '%s' has no "
                 "tensor", n->name, at->name);
            return NULL;
        }
        if (!(ap->t = tensor_proto(a, NULL, at->t)))
            return NULL;
        break;
    case LG_ATTR_FLOATS:
        ap->n_floats = at->floats ? (size_t)at->n : 0;
        ap->floats = at->floats;
        break;
    case LG_ATTR_INTS:
        ap->n_ints = at->ints ? (size_t)at->n : 0;
        ap->ints = at->ints;
        break;
    case LG_ATTR_STRINGS:
        if (at->strings && at->n > 0) {
            ap->n_strings = (size_t)at->n;
            if (!(ap->strings = az(a, (size_t)at->n * sizeof *ap->strings)))
                return NULL;
            for (int k = 0; k < at->n; k++) {
                const char *s = at->strings[k] ? at->strings[k] : "";
                ap->strings[k].len = strlen(s);
                ap->strings[k].data = (uint8_t *)s;
            }
        }
        break;
    default:
        FAIL(a, LG_EUNSUP, "node '%s' (%s): attribute '%s' of type %d "
             "cannot be saved", n->name, n->op, at->name, (int)at->type);
        return NULL;
    }
    return ap;
}

static int default_domain(const char *d)
{
    return !d || !*d || strcmp(d, "ai.onnx") == 0;
}

static Onnx__NodeProto *node_proto(arena *a, const lg_graph *g,
                                   const lg_node *n)
{
    Onnx__NodeProto *np = az(a, sizeof *np);
    if (!np)
        return NULL;
    onnx__node_proto__init(np);
    np->name = n->name;
    np->op_type = n->op;
    np->domain = default_domain(n->domain) ? NULL : n->domain;
    np->n_input = (size_t)n->n_in;
    np->n_output = (size_t)n->n_out;
    np->input = az(a, (size_t)(n->n_in ? n->n_in : 1) * sizeof *np->input);
    np->output = az(a, (size_t)(n->n_out ? n->n_out : 1) * sizeof *np->output);
    if (!np->input || !np->output)
        return NULL;
    for (int k = 0; k < n->n_in; k++)
        np->input[k] = n->in[k] >= 0 ? g->values[n->in[k]].name : "";
    for (int k = 0; k < n->n_out; k++)
        np->output[k] = n->out[k] >= 0 ? g->values[n->out[k]].name : "";
    if (n->n_attrs > 0) {
        np->n_attribute = (size_t)n->n_attrs;
        np->attribute = az(a, (size_t)n->n_attrs * sizeof *np->attribute);
        if (!np->attribute)
            return NULL;
        for (int k = 0; k < n->n_attrs; k++)
            if (!(np->attribute[k] = attr_proto(a, n, &n->attrs[k])))
                return NULL;
    }
    return np;
}

/* A Constant node that produces constant value v (a graph output). */
static Onnx__NodeProto *const_node(arena *a, const lg_value *v)
{
    Onnx__NodeProto *np = az(a, sizeof *np);
    Onnx__AttributeProto *ap = az(a, sizeof *ap);
    char *name = az(a, strlen(v->name) + 16);
    if (!np || !ap || !name)
        return NULL;
    onnx__node_proto__init(np);
    onnx__attribute_proto__init(ap);
    sprintf(name, "%s_constant", v->name);
    np->name = name;
    np->op_type = "Constant";
    np->n_output = 1;
    if (!(np->output = az(a, sizeof *np->output)))
        return NULL;
    np->output[0] = v->name;
    np->n_attribute = 1;
    if (!(np->attribute = az(a, sizeof *np->attribute)))
        return NULL;
    np->attribute[0] = ap;
    ap->name = "value";
    ap->has_type = 1;
    ap->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR;
    if (!(ap->t = tensor_proto(a, NULL, v->konst)))
        return NULL;
    return np;
}

/* The IR version a default-domain opset needs (onnx/helper.py's table). */
static int64_t ir_for_opset(int64_t opset)
{
    if (opset <= 8) return 3;
    if (opset <= 9) return 4;
    if (opset <= 10) return 5;
    if (opset <= 11) return 6;
    if (opset <= 14) return 7;
    if (opset <= 18) return 8;
    if (opset <= 20) return 9;
    return 10;
}

/* Build the ModelProto for g in arena a (a->rc and the detail are set on
 * failure). */
static int build_model(arena *a, const lg_graph *g, Onnx__ModelProto **out)
{
    Onnx__ModelProto *m = az(a, sizeof *m);
    Onnx__GraphProto *gp = az(a, sizeof *gp);
    char *role = az(a, (size_t)(g->n_values ? g->n_values : 1));
    const char **doms = az(a, (size_t)(g->n_nodes + 1) * sizeof *doms);
    int n_init = 0, n_cnode = 0, n_dom = 0;
    size_t w;

    if (!m || !gp || !role || !doms)
        return a->rc;
    onnx__model_proto__init(m);
    onnx__graph_proto__init(gp);

    /* role: 1 = initializer, 2 = Constant node. Initializers stay
     * initializers; constants folded at prepare time become Constant nodes,
     * so that the loader gives them back with the same `initializer` flag
     * (which decides what counts as parameters). A constant graph output
     * is then either an initializer or a node's output, both of which
     * onnx.checker accepts for graph outputs. */
    for (int i = 0; i < g->n_nodes; i++) {
        const lg_node *n = &g->nodes[i];
        for (int k = 0; k < n->n_in; k++) {
            int v = n->in[k];
            if (v >= 0 && g->values[v].kind == LG_VAL_CONST)
                role[v] = g->values[v].initializer ? 1 : 2;
        }
        if (!default_domain(n->domain)) {
            int seen = 0;
            for (int d = 0; d < n_dom; d++)
                if (strcmp(doms[d], n->domain) == 0)
                    seen = 1;
            if (!seen)
                doms[n_dom++] = n->domain;
        }
    }
    for (int k = 0; k < g->n_outputs; k++) {
        int v = g->outputs[k];
        if (v >= 0 && g->values[v].kind == LG_VAL_CONST)
            role[v] = g->values[v].initializer ? 1 : 2;
    }
    for (int v = 0; v < g->n_values; v++) {
        if (!role[v])
            continue;
        if (!g->values[v].konst) {
            FAIL(a, LG_EMODEL, "constant '%s' has no data", g->values[v].name);
            return a->rc;
        }
        if (role[v] == 1)
            n_init++;
        else
            n_cnode++;
    }

    /* Nodes: Constant producers first, then the graph's own. */
    gp->n_node = (size_t)(n_cnode + g->n_nodes);
    if (!(gp->node = az(a, (gp->n_node ? gp->n_node : 1) * sizeof *gp->node)))
        return a->rc;
    w = 0;
    for (int v = 0; v < g->n_values; v++)
        if (role[v] == 2 && !(gp->node[w++] = const_node(a, &g->values[v])))
            return a->rc;
    for (int i = 0; i < g->n_nodes; i++)
        if (!(gp->node[w++] = node_proto(a, g, &g->nodes[i])))
            return a->rc;
    gp->n_initializer = (size_t)n_init;
    if (!(gp->initializer = az(a, (size_t)(n_init ? n_init : 1) *
                               sizeof *gp->initializer)))
        return a->rc;
    w = 0;
    for (int v = 0; v < g->n_values; v++)
        if (role[v] == 1 &&
            !(gp->initializer[w++] = tensor_proto(a, g->values[v].name,
                                                  g->values[v].konst)))
            return a->rc;
    gp->n_input = (size_t)g->n_inputs;
    if (!(gp->input = az(a, (size_t)(g->n_inputs ? g->n_inputs : 1) *
                         sizeof *gp->input)))
        return a->rc;
    for (int k = 0; k < g->n_inputs; k++)
        if (!(gp->input[k] = value_info(a, &g->values[g->inputs[k]])))
            return a->rc;
    gp->n_output = (size_t)g->n_outputs;
    if (!(gp->output = az(a, (size_t)(g->n_outputs ? g->n_outputs : 1) *
                          sizeof *gp->output)))
        return a->rc;
    for (int k = 0; k < g->n_outputs; k++)
        if (!(gp->output[k] = value_info(a, &g->values[g->outputs[k]])))
            return a->rc;
    if (!(gp->name = astrdup(a, g->name && *g->name ? g->name : "lagrange")))
        return a->rc;

    /* IR 8 at least (what onnx 1.12 and torch 1.13 write), more if the
     * opset or the source file needs it. */
    m->has_ir_version = 1;
    m->ir_version = ir_for_opset(g->opset);
    if (m->ir_version < 8)
        m->ir_version = 8;
    if (g->ir_version > m->ir_version)
        m->ir_version = g->ir_version;
    m->producer_name = "lagrange";
#ifdef PACKAGE_VERSION
    m->producer_version = PACKAGE_VERSION;
#endif
    m->n_opset_import = (size_t)(1 + n_dom);
    if (!(m->opset_import = az(a, m->n_opset_import *
                               sizeof *m->opset_import)))
        return a->rc;
    for (int d = 0; d <= n_dom; d++) {
        Onnx__OperatorSetIdProto *os = az(a, sizeof *os);
        if (!os)
            return a->rc;
        onnx__operator_set_id_proto__init(os);
        os->domain = d == 0 ? "" : (char *)doms[d - 1];
        os->has_version = 1;
        os->version = d == 0 ? g->opset : 1;
        m->opset_import[d] = os;
    }
    m->graph = gp;
    *out = m;
    return 0;
}

static int packed_size(const Onnx__ModelProto *m, size_t *len, char *err,
                       size_t errlen)
{
    *len = onnx__model_proto__get_packed_size(m);
    if (*len > SAVE_MAX_BYTES)
        return lg_errf(err, errlen, LG_EUNSUP, "the model would be %zu "
                       "bytes; ONNX files over 2 GiB need external data, "
                       "which lagrange does not write", *len);
    return 0;
}

int lg_onnx_save_buffer(const lg_graph *g, void **buf, size_t *len,
                        char *err, size_t errlen)
{
    arena a = {NULL, 0, err, errlen};
    Onnx__ModelProto *m = NULL;
    uint8_t *b = NULL;
    size_t n = 0;
    int rc;

    *buf = NULL;
    *len = 0;
    if ((rc = build_model(&a, g, &m)) < 0)
        goto out;
    if ((rc = packed_size(m, &n, err, errlen)) < 0)
        goto out;
    if (!(b = malloc(n ? n : 1))) {
        rc = lg_errf(err, errlen, -ENOMEM, "out of memory (%zu bytes)", n);
        goto out;
    }
    if (onnx__model_proto__pack(m, b) != n) {
        free(b);
        rc = lg_errf(err, errlen, -EIO, "protobuf packing size mismatch");
        goto out;
    }
    *buf = b;
    *len = n;
out:
    arena_free(&a);
    return rc;
}

/* Streams the packed message into a file descriptor through a buffer, so
 * that saving never holds a second copy of the weights. */
typedef struct fd_sink {
    ProtobufCBuffer base;
    int fd;
    int err;                    /* first errno, or 0 */
    size_t used;
    uint8_t buf[1 << 16];
} fd_sink;

static void sink_flush(fd_sink *s)
{
    size_t off = 0;
    while (off < s->used && !s->err) {
        ssize_t w = write(s->fd, s->buf + off, s->used - off);
        if (w < 0) {
            if (errno != EINTR)
                s->err = errno;
            continue;
        }
        off += (size_t)w;
    }
    s->used = 0;
}

static void sink_append(ProtobufCBuffer *b, size_t len, const uint8_t *data)
{
    fd_sink *s = (fd_sink *)b;
    while (len > 0 && !s->err) {
        size_t room = sizeof s->buf - s->used;
        if (len >= sizeof s->buf && s->used == 0) {
            ssize_t w = write(s->fd, data, len);
            if (w < 0) {
                if (errno != EINTR)
                    s->err = errno;
                continue;
            }
            data += w;
            len -= (size_t)w;
            continue;
        }
        if (room > len)
            room = len;
        memcpy(s->buf + s->used, data, room);
        s->used += room;
        data += room;
        len -= room;
        if (s->used == sizeof s->buf)
            sink_flush(s);
    }
}

/* Create a fresh temporary file next to path (honouring the umask). */
static int open_temp(const char *path, char *tmp, size_t tmplen)
{
    static unsigned counter;
    for (int tries = 0; tries < 100; tries++) {
        unsigned c = __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED);
        int fd;
        if ((size_t)snprintf(tmp, tmplen, "%s.tmp.%ld.%u", path,
                             (long)getpid(), c) >= tmplen)
            return -ENAMETOOLONG;
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd >= 0 || errno != EEXIST)
            return fd >= 0 ? fd : -errno;
    }
    return -EEXIST;
}

int lg_onnx_save_file(const lg_graph *g, const char *path, char *err,
                      size_t errlen)
{
    arena a = {NULL, 0, err, errlen};
    Onnx__ModelProto *m = NULL;
    fd_sink *s = NULL;
    char *tmp = NULL;
    size_t n = 0, tmplen = strlen(path) + 64;
    int rc, fd = -1;

    if ((rc = build_model(&a, g, &m)) < 0)
        goto out;
    if ((rc = packed_size(m, &n, err, errlen)) < 0)
        goto out;
    s = malloc(sizeof *s);
    tmp = malloc(tmplen);
    if (!s || !tmp) {
        rc = lg_errf(err, errlen, -ENOMEM, "out of memory");
        goto out;
    }
    if ((fd = open_temp(path, tmp, tmplen)) < 0) {
        rc = lg_errf(err, errlen, fd, "%s: cannot create a temporary file: "
                     "%s", path, strerror(-fd));
        fd = -1;
        goto out;
    }
    memset(&s->base, 0, sizeof s->base);
    s->base.append = sink_append;
    s->fd = fd;
    s->err = 0;
    s->used = 0;
    if (onnx__model_proto__pack_to_buffer(m, &s->base) != n && !s->err)
        s->err = EIO;
    sink_flush(s);
    if (!s->err && fsync(fd) < 0)
        s->err = errno;
    if (close(fd) < 0 && !s->err)
        s->err = errno;
    fd = -1;
    if (!s->err && rename(tmp, path) < 0)
        s->err = errno;
    if (s->err) {
        rc = lg_errf(err, errlen, -s->err, "%s: %s", path,
                     strerror(s->err));
        unlink(tmp);
    }
out:
    if (fd >= 0) {
        close(fd);
        unlink(tmp);
    }
    free(s);
    free(tmp);
    arena_free(&a);
    return rc;
}
