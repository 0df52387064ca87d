/*
 * onnx_load.c - ONNX ModelProto -> lg_graph (see onnx_load.h).
 *
 * Owns the conversion of protobuf-c messages into the IR. The whole file
 * is unpacked by protobuf-c, whose lengths are bounded by the input size;
 * everything else taken from the file (dims, element counts, external data
 * offsets and lengths, paths) is checked here before it is used. Raw
 * initializer bytes are adopted from the unpacked message rather than
 * copied, so a model costs about its own size once loaded.
 */
#include "onnx_load.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lgerr.h"
#include "onnx/onnx-subset.pb-c.h"

#define OPSET_MIN 7
#define OPSET_MAX 21

typedef struct loadctx {
    const char *file;           /* for messages: the model's path or "<buffer>" */
    const char *base_dir;       /* external data root, or NULL */
    char *err;
    size_t errlen;
} loadctx;

static char *xstrdup(const char *s)
{
    return strdup(s ? s : "");
}

/* Resolve an external-data location inside base_dir, refusing anything
 * that escapes it (absolute paths, "..", symlinks pointing out). */
static int external_path(loadctx *c, const char *tname, const char *loc,
                         char *out, size_t outlen)
{
    char joined[PATH_MAX], rbase[PATH_MAX], rfile[PATH_MAX];
    size_t bl;
    if (!c->base_dir)
        return lg_errf(c->err, c->errlen, LG_EMODEL,
                       "%s: tensor '%s' uses external data, which needs the "
                       "model loaded from a file", c->file, tname);
    if (!loc || !*loc || loc[0] == '/' || strstr(loc, ".."))
        return lg_errf(c->err, c->errlen, LG_EMODEL,
                       "%s: tensor '%s': external data location '%s' must "
                       "be a relative path inside the model's folder",
                       c->file, tname, loc ? loc : "");
    if ((size_t)snprintf(joined, sizeof joined, "%s/%s", c->base_dir, loc) >=
        sizeof joined)
        return lg_errf(c->err, c->errlen, LG_EMODEL,
                       "%s: tensor '%s': external data path too long",
                       c->file, tname);
    if (!realpath(c->base_dir, rbase) || !realpath(joined, rfile))
        return lg_errf(c->err, c->errlen, LG_EMODEL,
                       "%s: tensor '%s': external data file '%s' not found",
                       c->file, tname, joined);
    bl = strlen(rbase);
    if (strncmp(rfile, rbase, bl) != 0 || (rfile[bl] != '/' && bl > 1))
        return lg_errf(c->err, c->errlen, LG_EMODEL,
                       "%s: tensor '%s': external data '%s' resolves outside "
                       "the model's folder", c->file, tname, loc);
    snprintf(out, outlen, "%s", rfile);
    return 0;
}

static int read_external(loadctx *c, const Onnx__TensorProto *tp,
                         enum lg_dtype dt, const lg_shape *shape,
                         lg_tensor **out)
{
    lg_tensor *t;
    size_t nbytes;
    const char *loc = NULL;
    char path[PATH_MAX];
    long long off = 0, len = -1;
    int fd, rc;
    struct stat st;
    for (size_t i = 0; i < tp->n_external_data; i++) {
        const Onnx__StringStringEntryProto *e = tp->external_data[i];
        char *end;
        if (!e->key || !e->value)
            continue;
        if (strcmp(e->key, "location") == 0) {
            loc = e->value;
        } else if (strcmp(e->key, "offset") == 0 ||
                   strcmp(e->key, "length") == 0) {
            long long v = strtoll(e->value, &end, 10);
            if (*end || v < 0)
                return lg_errf(c->err, c->errlen, LG_EMODEL,
                               "%s: tensor '%s': bad external data %s '%s'",
                               c->file, tp->name, e->key, e->value);
            if (e->key[0] == 'o')
                off = v;
            else
                len = v;
        }
    }
    if ((rc = external_path(c, tp->name, loc, path, sizeof path)) < 0)
        return rc;
    if (lg_shape_nbytes(shape, dt, &nbytes) < 0)
        return lg_errf(c->err, c->errlen, LG_EMODEL,
                       "%s: tensor '%s' is too large", c->file, tp->name);
    if (len >= 0 && (unsigned long long)len != nbytes)
        return lg_errf(c->err, c->errlen, LG_EMODEL,
                       "%s: tensor '%s': external data length %lld, but its "
                       "shape needs %zu bytes", c->file, tp->name, len,
                       nbytes);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) < 0) {
        if (fd >= 0)
            close(fd);
        return lg_errf(c->err, c->errlen, LG_EMODEL,
                       "%s: tensor '%s': cannot open external data '%s'",
                       c->file, tp->name, path);
    }
    if (off > st.st_size || (unsigned long long)(st.st_size - off) <
        nbytes) {
        close(fd);
        return lg_errf(c->err, c->errlen, LG_EMODEL,
                       "%s: tensor '%s': external data '%s' is %lld bytes, "
                       "too short for offset %lld + %zu", c->file, tp->name,
                       path, (long long)st.st_size, off, nbytes);
    }
    /* Allocated only now that the file is known to hold that much. */
    t = lg_tensor_alloc(dt, shape);
    if (!t) {
        close(fd);
        return -ENOMEM;
    }
    for (size_t done = 0; done < t->nbytes;) {
        ssize_t r = pread(fd, (char *)t->data + done, t->nbytes - done,
                          (off_t)(off + (long long)done));
        if (r <= 0) {
            close(fd);
            lg_tensor_unref(t);
            return lg_errf(c->err, c->errlen, LG_EMODEL,
                           "%s: tensor '%s': read error on '%s'", c->file,
                           tp->name, path);
        }
        done += (size_t)r;
    }
    close(fd);
    *out = t;
    return 0;
}

/* TensorProto -> lg_tensor. raw_data is adopted (the message's pointer is
 * taken over), so tp is not const. */
static int convert_tensor(loadctx *c, Onnx__TensorProto *tp,
                          lg_tensor **out)
{
    lg_shape s;
    int64_t numel;
    size_t nbytes;
    lg_tensor *t;
    const char *name = tp->name && *tp->name ? tp->name : "(unnamed)";
    enum lg_dtype dt = (enum lg_dtype)tp->data_type;
    char sb[128];

    memset(&s, 0, sizeof s);
    if (!lg_dtype_supported(tp->data_type))
        return lg_errf(c->err, c->errlen, LG_EUNSUP,
                       "%s: tensor '%s' has element type %d, which is not "
                       "supported (float32, float64, int64, int32, int8, "
                       "uint8, bool are)", c->file, name, tp->data_type);
    if (tp->n_dims > LG_MAX_RANK)
        return lg_errf(c->err, c->errlen, LG_EUNSUP,
                       "%s: tensor '%s' has rank %zu (max %d)", c->file, name,
                       tp->n_dims, LG_MAX_RANK);
    s.rank = (int)tp->n_dims;
    for (size_t i = 0; i < tp->n_dims; i++)
        s.d[i] = tp->dims[i];
    if (lg_shape_numel(&s, &numel) < 0 ||
        lg_shape_nbytes(&s, dt, &nbytes) < 0)
        return lg_errf(c->err, c->errlen, LG_EMODEL,
                       "%s: tensor '%s' has invalid dims %s", c->file, name,
                       lg_shape_str(&s, sb, sizeof sb));
    if (tp->has_data_location &&
        tp->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL) {
        return read_external(c, tp, dt, &s, out);
    }
    if (tp->has_raw_data) {
        if (tp->raw_data.len != nbytes)
            return lg_errf(c->err, c->errlen, LG_EMODEL,
                           "%s: tensor '%s': raw_data has %zu bytes, shape %s "
                           "of %s needs %zu", c->file, name, tp->raw_data.len,
                           lg_shape_str(&s, sb, sizeof sb), lg_dtype_name(dt),
                           nbytes);
        if (nbytes > 0 && ((uintptr_t)tp->raw_data.data % 16) == 0) {
            t = lg_tensor_wrap(dt, &s, tp->raw_data.data, NULL, NULL);
            if (!t)
                return -ENOMEM;
            tp->raw_data.data = NULL;   /* adopted */
            tp->raw_data.len = 0;
        } else {
            t = lg_tensor_new(dt, &s);
            if (!t)
                return -ENOMEM;
            if (nbytes)
                memcpy(t->data, tp->raw_data.data, nbytes);
        }
        *out = t;
        return 0;
    }
    {
        size_t have;
        const char *field;
        switch (dt) {
        case LG_F32: have = tp->n_float_data; field = "float_data"; break;
        case LG_F64: have = tp->n_double_data; field = "double_data"; break;
        case LG_I64: have = tp->n_int64_data; field = "int64_data"; break;
        default: have = tp->n_int32_data; field = "int32_data"; break;
        }
        /* Checked before allocating: the dims are the file's word only. */
        if (have != (size_t)numel)
            return lg_errf(c->err, c->errlen, LG_EMODEL,
                           "%s: tensor '%s' has %zu values in %s, shape %s "
                           "needs %lld", c->file, name, have, field,
                           lg_shape_str(&s, sb, sizeof sb), (long long)numel);
    }
    t = lg_tensor_alloc(dt, &s);
    if (!t)
        return -ENOMEM;
    {
        for (int64_t i = 0; i < numel; i++) {
            switch (dt) {
            case LG_F32: ((float *)t->data)[i] = tp->float_data[i]; break;
            case LG_F64: ((double *)t->data)[i] = tp->double_data[i]; break;
            case LG_I64: ((int64_t *)t->data)[i] = tp->int64_data[i]; break;
            case LG_I32: ((int32_t *)t->data)[i] = tp->int32_data[i]; break;
            case LG_BOOL: ((uint8_t *)t->data)[i] = tp->int32_data[i] != 0;
                break;
            case LG_U8: ((uint8_t *)t->data)[i] = (uint8_t)tp->int32_data[i];
                break;
            case LG_I8: ((int8_t *)t->data)[i] = (int8_t)tp->int32_data[i];
                break;
            default: break;
            }
        }
    }
    *out = t;
    return 0;
}

static int convert_attr(loadctx *c, const Onnx__NodeProto *np,
                        Onnx__AttributeProto *ap, lg_attr *a)
{
    int type = ap->has_type ? (int)ap->type : 0;
    int rc;
    memset(a, 0, sizeof *a);
    if (!ap->name || !*ap->name)
        return lg_errf(c->err, c->errlen, LG_EMODEL,
                       "%s: node '%s' has an attribute without a name",
                       c->file, np->name ? np->name : "");
    if (ap->ref_attr_name && *ap->ref_attr_name)
        return lg_errf(c->err, c->errlen, LG_EUNSUP,
                       "%s: node '%s': attribute '%s' refers to a function "
                       "attribute", c->file, np->name, ap->name);
    if (type == 0) {            /* IR < 3: infer from which field is set */
        if (ap->n_floats) type = LG_ATTR_FLOATS;
        else if (ap->n_ints) type = LG_ATTR_INTS;
        else if (ap->n_strings) type = LG_ATTR_STRINGS;
        else if (ap->t) type = LG_ATTR_TENSOR;
        else if (ap->g) type = LG_ATTR_GRAPH;
        else if (ap->has_s) type = LG_ATTR_STRING;
        else if (ap->has_i) type = LG_ATTR_INT;
        else type = LG_ATTR_FLOAT;
    }
    a->name = xstrdup(ap->name);
    if (!a->name)
        return -ENOMEM;
    a->type = (enum lg_attr_type)type;
    switch (type) {
    case LG_ATTR_FLOAT: a->f = ap->f; break;
    case LG_ATTR_INT: a->i = ap->i; break;
    case LG_ATTR_STRING:
        a->s = malloc(ap->s.len + 1);
        if (!a->s)
            return -ENOMEM;
        if (ap->s.len)
            memcpy(a->s, ap->s.data, ap->s.len);
        a->s[ap->s.len] = 0;
        a->slen = ap->s.len;
        break;
    case LG_ATTR_FLOATS:
        a->n = (int)ap->n_floats;
        a->floats = malloc((ap->n_floats ? ap->n_floats : 1) * sizeof(float));
        if (!a->floats)
            return -ENOMEM;
        if (ap->n_floats)
            memcpy(a->floats, ap->floats, ap->n_floats * sizeof(float));
        break;
    case LG_ATTR_INTS:
        a->n = (int)ap->n_ints;
        a->ints = malloc((ap->n_ints ? ap->n_ints : 1) * sizeof(int64_t));
        if (!a->ints)
            return -ENOMEM;
        if (ap->n_ints)
            memcpy(a->ints, ap->ints, ap->n_ints * sizeof(int64_t));
        break;
    case LG_ATTR_STRINGS:
        a->strings = calloc(ap->n_strings ? ap->n_strings : 1, sizeof(char *));
        if (!a->strings)
            return -ENOMEM;
        for (size_t i = 0; i < ap->n_strings; i++) {
            a->strings[i] = malloc(ap->strings[i].len + 1);
            if (!a->strings[i])
                return -ENOMEM;
            a->n = (int)i + 1;
            if (ap->strings[i].len)
                memcpy(a->strings[i], ap->strings[i].data, ap->strings[i].len);
            a->strings[i][ap->strings[i].len] = 0;
        }
        break;
    case LG_ATTR_TENSOR:
        if (!ap->t)
            return lg_errf(c->err, c->errlen, LG_EMODEL,
                           "%s: node '%s': tensor attribute '%s' is empty",
                           c->file, np->name, ap->name);
        if ((rc = convert_tensor(c, ap->t, &a->t)) < 0)
            return rc;
        break;
    case LG_ATTR_GRAPH:
    case 9: case 10: case 11: case 12: case 13: case 14:
        a->type = LG_ATTR_GRAPH;    /* kept as a marker only */
        break;
    default:
        return lg_errf(c->err, c->errlen, LG_EMODEL,
                       "%s: node '%s': attribute '%s' has unknown type %d",
                       c->file, np->name, ap->name, type);
    }
    return 0;
}

/* A Constant node becomes a constant value; no node is kept. */
static int constant_node(loadctx *c, lg_graph *g, Onnx__NodeProto *np)
{
    lg_tensor *t = NULL;
    lg_shape s;
    int v, rc;
    memset(&s, 0, sizeof s);
    if (np->n_output != 1 || !np->output[0] || !*np->output[0])
        return lg_errf(c->err, c->errlen, LG_EMODEL,
                       "%s: Constant node '%s' must have one output", c->file,
                       np->name ? np->name : "");
    if (np->n_attribute != 1)
        return lg_errf(c->err, c->errlen, LG_EMODEL,
                       "%s: Constant node '%s' must have exactly one "
                       "attribute", c->file, np->name ? np->name : "");
    {
        Onnx__AttributeProto *ap = np->attribute[0];
        const char *an = ap->name ? ap->name : "";
        if (strcmp(an, "value") == 0 && ap->t) {
            if ((rc = convert_tensor(c, ap->t, &t)) < 0)
                return rc;
        } else if (strcmp(an, "value_float") == 0) {
            t = lg_tensor_new(LG_F32, &s);
            if (t) *(float *)t->data = ap->f;
        } else if (strcmp(an, "value_int") == 0) {
            t = lg_tensor_new(LG_I64, &s);
            if (t) *(int64_t *)t->data = ap->i;
        } else if (strcmp(an, "value_floats") == 0) {
            s.rank = 1;
            s.d[0] = (int64_t)ap->n_floats;
            t = lg_tensor_new(LG_F32, &s);
            if (t && ap->n_floats)
                memcpy(t->data, ap->floats, ap->n_floats * sizeof(float));
        } else if (strcmp(an, "value_ints") == 0) {
            s.rank = 1;
            s.d[0] = (int64_t)ap->n_ints;
            t = lg_tensor_new(LG_I64, &s);
            if (t && ap->n_ints)
                memcpy(t->data, ap->ints, ap->n_ints * sizeof(int64_t));
        } else {
            return lg_errf(c->err, c->errlen, LG_EUNSUP,
                           "%s: Constant node '%s': attribute '%s' is not "
                           "supported", c->file, np->name ? np->name : "",
                           an);
        }
    }
    if (!t)
        return -ENOMEM;
    v = lg_graph_value(g, np->output[0]);
    if (v < 0) {
        lg_tensor_unref(t);
        return v;
    }
    if (g->values[v].kind != LG_VAL_ACT || g->values[v].konst) {
        lg_tensor_unref(t);
        return lg_errf(c->err, c->errlen, LG_EMODEL,
                       "%s: Constant node '%s' redefines tensor '%s'",
                       c->file, np->name ? np->name : "", np->output[0]);
    }
    lg_graph_set_const(g, v, t, 0);
    return 0;
}

static int add_node(loadctx *c, lg_graph *g, Onnx__NodeProto *np)
{
    lg_attr *attrs = NULL;
    int rc;
    const char *op = np->op_type ? np->op_type : "";
    const char *dom = np->domain ? np->domain : "";
    if (!*op)
        return lg_errf(c->err, c->errlen, LG_EMODEL,
                       "%s: node '%s' has no op_type", c->file,
                       np->name ? np->name : "");
    if (strcmp(op, "Constant") == 0 && (!*dom || !strcmp(dom, "ai.onnx")))
        return constant_node(c, g, np);
    if (np->n_input > 1024 || np->n_output > 1024 || np->n_attribute > 1024)
        return lg_errf(c->err, c->errlen, LG_EMODEL,
                       "%s: node '%s' has too many inputs, outputs or "
                       "attributes", c->file, np->name ? np->name : "");
    if (np->n_attribute) {
        attrs = calloc(np->n_attribute, sizeof *attrs);
        if (!attrs)
            return -ENOMEM;
        for (size_t i = 0; i < np->n_attribute; i++) {
            if ((rc = convert_attr(c, np, np->attribute[i], &attrs[i])) < 0) {
                for (size_t k = 0; k <= i; k++)
                    lg_attr_clear(&attrs[k]);
                free(attrs);
                return rc;
            }
        }
    }
    for (size_t i = 0; i < np->n_output; i++)
        if (!np->output[i])
            np->output[i] = "";
    rc = lg_graph_add_node(g, np->name, op, dom, (int)np->n_input,
                           (const char *const *)np->input, (int)np->n_output,
                           (const char *const *)np->output, attrs,
                           (int)np->n_attribute);
    return rc < 0 ? rc : 0;
}

static int add_input(loadctx *c, lg_graph *g, const Onnx__ValueInfoProto *vi,
                     const lg_load_opts *o)
{
    int v;
    lg_value *val;
    const Onnx__TypeProto__Tensor *tt;
    if (!vi->name || !*vi->name)
        return lg_errf(c->err, c->errlen, LG_EMODEL,
                       "%s: a graph input has no name", c->file);
    v = lg_graph_find(g, vi->name);
    if (v >= 0 && g->values[v].kind == LG_VAL_CONST)
        return 0;               /* an initializer listed as input (IR < 4) */
    if (v >= 0 && g->values[v].kind == LG_VAL_INPUT)
        return lg_errf(c->err, c->errlen, LG_EMODEL,
                       "%s: graph input '%s' is listed twice", c->file,
                       vi->name);
    if (!vi->type || vi->type->value_case !=
        ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !vi->type->tensor_type)
        return lg_errf(c->err, c->errlen, LG_EUNSUP,
                       "%s: graph input '%s' is not a tensor", c->file,
                       vi->name);
    tt = vi->type->tensor_type;
    if (!lg_dtype_supported(tt->elem_type))
        return lg_errf(c->err, c->errlen, LG_EUNSUP,
                       "%s: graph input '%s' has element type %d, which is "
                       "not supported", c->file, vi->name, tt->elem_type);
    if (!tt->shape)
        return lg_errf(c->err, c->errlen, LG_EMODEL,
                       "%s: graph input '%s' has no shape", c->file,
                       vi->name);
    if (tt->shape->n_dim > LG_MAX_RANK)
        return lg_errf(c->err, c->errlen, LG_EUNSUP,
                       "%s: graph input '%s' has rank %zu (max %d)", c->file,
                       vi->name, tt->shape->n_dim, LG_MAX_RANK);
    if ((v = lg_graph_value(g, vi->name)) < 0)
        return v;
    val = &g->values[v];
    val->dtype = (enum lg_dtype)tt->elem_type;
    val->shape.rank = (int)tt->shape->n_dim;
    for (size_t i = 0; i < tt->shape->n_dim; i++) {
        const Onnx__TensorShapeProto__Dimension *d = tt->shape->dim[i];
        int64_t dv = 1;         /* unknown or symbolic: bind, default 1 */
        if (d->value_case ==
            ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE) {
            dv = d->dim_value;
        } else if (d->value_case ==
                   ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM &&
                   o) {
            for (int k = 0; k < o->n_dims; k++)
                if (d->dim_param && strcmp(o->dims[k].name, d->dim_param) == 0)
                    dv = o->dims[k].value;
        }
        if (dv < 0)
            return lg_errf(c->err, c->errlen, LG_EMODEL,
                           "%s: graph input '%s' has negative dimension %lld",
                           c->file, vi->name, (long long)dv);
        val->shape.d[i] = dv;
    }
    {
        size_t nb;
        if (lg_shape_nbytes(&val->shape, val->dtype, &nb) < 0)
            return lg_errf(c->err, c->errlen, LG_EMODEL,
                           "%s: graph input '%s' is too large", c->file,
                           vi->name);
    }
    val->has_shape = 1;
    return lg_graph_add_input(g, v);
}

static int build(loadctx *c, Onnx__ModelProto *m, const lg_load_opts *o,
                 lg_graph *g)
{
    Onnx__GraphProto *gp = m->graph;
    int rc;
    int64_t opset = -1;

    if (!gp)
        return lg_errf(c->err, c->errlen, LG_EMODEL,
                       "%s: the model has no graph", c->file);
    for (size_t i = 0; i < m->n_opset_import; i++) {
        const char *d = m->opset_import[i]->domain;
        if (!d || !*d || strcmp(d, "ai.onnx") == 0)
            opset = m->opset_import[i]->version;
    }
    if (opset < 0)
        return lg_errf(c->err, c->errlen, LG_EMODEL,
                       "%s: the model imports no default-domain opset",
                       c->file);
    if (opset < OPSET_MIN || opset > OPSET_MAX)
        return lg_errf(c->err, c->errlen, LG_EUNSUP,
                       "%s: opset %lld is not supported (%d-%d; 11-17 are "
                       "tested)", c->file, (long long)opset, OPSET_MIN,
                       OPSET_MAX);
    g->opset = opset;
    g->ir_version = m->ir_version;
    g->name = xstrdup(gp->name);
    g->producer = xstrdup(m->producer_name);
    if (!g->name || !g->producer)
        return -ENOMEM;

    for (size_t i = 0; i < gp->n_initializer; i++) {
        Onnx__TensorProto *tp = gp->initializer[i];
        lg_tensor *t;
        int v;
        if (!tp->name || !*tp->name)
            return lg_errf(c->err, c->errlen, LG_EMODEL,
                           "%s: initializer #%zu has no name", c->file, i);
        if (lg_graph_find(g, tp->name) >= 0)
            return lg_errf(c->err, c->errlen, LG_EMODEL,
                           "%s: initializer '%s' is defined twice", c->file,
                           tp->name);
        if ((rc = convert_tensor(c, tp, &t)) < 0)
            return rc;
        if ((v = lg_graph_value(g, tp->name)) < 0) {
            lg_tensor_unref(t);
            return v;
        }
        lg_graph_set_const(g, v, t, 1);
    }
    for (size_t i = 0; i < gp->n_input; i++)
        if ((rc = add_input(c, g, gp->input[i], o)) < 0)
            return rc;
    for (size_t i = 0; i < gp->n_node; i++)
        if ((rc = add_node(c, g, gp->node[i])) < 0)
            return rc;
    if (gp->n_output == 0)
        return lg_errf(c->err, c->errlen, LG_EMODEL,
                       "%s: the graph has no outputs", c->file);
    for (size_t i = 0; i < gp->n_output; i++) {
        const char *nm = gp->output[i]->name;
        int v;
        if (!nm || !*nm)
            return lg_errf(c->err, c->errlen, LG_EMODEL,
                           "%s: graph output #%zu has no name", c->file, i);
        v = lg_graph_find(g, nm);
        if (v < 0)
            return lg_errf(c->err, c->errlen, LG_EMODEL,
                           "%s: graph output '%s' is not produced by any "
                           "node", c->file, nm);
        if (g->values[v].is_output)
            return lg_errf(c->err, c->errlen, LG_EMODEL,
                           "%s: graph output '%s' is listed twice", c->file,
                           nm);
        if ((rc = lg_graph_add_output(g, v)) < 0)
            return rc;
    }
    return 0;
}

static int load_mem(loadctx *c, const void *buf, size_t len,
                    const lg_load_opts *o, lg_graph **out)
{
    Onnx__ModelProto *m;
    lg_graph *g;
    int rc;
    *out = NULL;
    if (len > LG_MODEL_MAX_BYTES)
        return lg_errf(c->err, c->errlen, LG_EMODEL,
                       "%s: %zu bytes is larger than the %zu-byte limit "
                       "(use external data)", c->file, len,
                       LG_MODEL_MAX_BYTES);
    m = onnx__model_proto__unpack(NULL, len, buf);
    if (!m)
        return lg_errf(c->err, c->errlen, LG_EMODEL,
                       "%s: not a valid ONNX model (the protobuf is "
                       "truncated or corrupt)", c->file);
    g = lg_graph_new();
    if (!g) {
        onnx__model_proto__free_unpacked(m, NULL);
        return -ENOMEM;
    }
    rc = build(c, m, o, g);
    onnx__model_proto__free_unpacked(m, NULL);
    if (rc < 0) {
        if (rc == -ENOMEM)
            lg_errf(c->err, c->errlen, rc, "%s: out of memory", c->file);
        lg_graph_free(g);
        return rc;
    }
    *out = g;
    return 0;
}

int lg_onnx_load_buffer(const void *buf, size_t len, const char *base_dir,
                        const lg_load_opts *o, lg_graph **out, char *err,
                        size_t errlen)
{
    loadctx c = { "<buffer>", base_dir, err, errlen };
    return load_mem(&c, buf, len, o, out);
}

int lg_onnx_load_file(const char *path, const lg_load_opts *o,
                      lg_graph **out, char *err, size_t errlen)
{
    loadctx c = { path, NULL, err, errlen };
    char dir[PATH_MAX];
    struct stat st;
    void *map;
    int fd, rc;
    const char *slash;

    *out = NULL;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return lg_errf(err, errlen, -errno, "%s: %s", path, strerror(errno));
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return lg_errf(err, errlen, LG_EMODEL, "%s: not a regular file",
                       path);
    }
    if (st.st_size == 0) {
        close(fd);
        return lg_errf(err, errlen, LG_EMODEL, "%s: empty file", path);
    }
    if ((uint64_t)st.st_size > LG_MODEL_MAX_BYTES) {
        close(fd);
        return lg_errf(err, errlen, LG_EMODEL,
                       "%s: %lld bytes is larger than the %zu-byte limit "
                       "(use external data)", path, (long long)st.st_size,
                       LG_MODEL_MAX_BYTES);
    }
    map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED)
        return lg_errf(err, errlen, -errno, "%s: mmap: %s", path,
                       strerror(errno));
    slash = strrchr(path, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == path)
        snprintf(dir, sizeof dir, "/");
    else
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    c.base_dir = dir;
    rc = load_mem(&c, map, (size_t)st.st_size, o, out);
    munmap(map, (size_t)st.st_size);
    return rc;
}
