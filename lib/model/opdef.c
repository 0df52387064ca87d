/*
 * opdef.c - lookup over the op definition tables, and the helpers that
 * every shape function shares (output setting, broadcasting, axes,
 * constant int inputs).
 */
#include "op.h"

#include <stdio.h>
#include <string.h>

#include "lgerr.h"

static const lg_opdef *const tables[] = {
    lg_opdefs_nn, lg_opdefs_elem, lg_opdefs_tensor,
};

const lg_opdef *lg_op_find(const char *domain, const char *op)
{
    if (domain && *domain && strcmp(domain, "ai.onnx") != 0)
        return NULL;
    for (size_t t = 0; t < sizeof tables / sizeof tables[0]; t++)
        for (const lg_opdef *d = tables[t]; d->op; d++)
            if (strcmp(d->op, op) == 0)
                return d;
    return NULL;
}

int lg_set_out(lg_graph *g, lg_node *n, int i, enum lg_dtype t,
               const lg_shape *s, char *err, size_t errlen)
{
    lg_value *v = lg_out(g, n, i);
    size_t nb;
    char buf[128];
    if (!v)
        return 0;
    if (s->rank < 0 || s->rank > LG_MAX_RANK)
        return lg_errf(err, errlen, LG_EUNSUP,
                       "node '%s' (%s): output '%s' has rank %d (max %d)",
                       n->name, n->op, v->name, s->rank, LG_MAX_RANK);
    if (lg_shape_nbytes(s, t, &nb) < 0)
        return lg_errf(err, errlen, LG_EMODEL,
                       "node '%s' (%s): output '%s' shape %s is negative or "
                       "too large", n->name, n->op, v->name,
                       lg_shape_str(s, buf, sizeof buf));
    v->dtype = t;
    v->shape = *s;
    v->has_shape = 1;
    return 0;
}

int lg_broadcast(const lg_node *n, const lg_shape *a, const lg_shape *b,
                 lg_shape *out, char *err, size_t errlen)
{
    int r = a->rank > b->rank ? a->rank : b->rank;
    lg_shape o;
    memset(&o, 0, sizeof o);
    o.rank = r;
    for (int i = 0; i < r; i++) {
        int ia = i - (r - a->rank), ib = i - (r - b->rank);
        int64_t da = ia >= 0 ? a->d[ia] : 1, db = ib >= 0 ? b->d[ib] : 1;
        if (da == db || db == 1)
            o.d[i] = da;
        else if (da == 1)
            o.d[i] = db;
        else {
            char sa[128], sb[128];
            return lg_errf(err, errlen, LG_EMODEL,
                           "node '%s' (%s): shapes %s and %s do not "
                           "broadcast", n->name, n->op,
                           lg_shape_str(a, sa, sizeof sa),
                           lg_shape_str(b, sb, sizeof sb));
        }
    }
    *out = o;
    return 0;
}

int lg_axis(int64_t axis, int rank)
{
    if (axis < 0)
        axis += rank;
    return (axis < 0 || axis >= (rank ? rank : 1)) ? -1 : (int)axis;
}

int lg_const_ints(const lg_graph *g, const lg_node *n, int input,
                  int64_t *v, int max, char *err, size_t errlen)
{
    const lg_value *val = lg_in(g, n, input);
    int64_t cnt;
    if (!val)
        return lg_errf(err, errlen, LG_EMODEL,
                       "node '%s' (%s): input %d is missing", n->name, n->op,
                       input);
    if (!val->konst)
        return lg_errf(err, errlen, LG_EUNSUP,
                       "node '%s' (%s): input '%s' must be constant for "
                       "static shapes (computed at run time here)", n->name,
                       n->op, val->name);
    if (val->konst->dtype != LG_I64 && val->konst->dtype != LG_I32)
        return lg_errf(err, errlen, LG_EMODEL,
                       "node '%s' (%s): input '%s' must be int64, is %s",
                       n->name, n->op, val->name,
                       lg_dtype_name(val->konst->dtype));
    cnt = lg_tensor_numel(val->konst);
    if (cnt > max)
        return lg_errf(err, errlen, LG_EMODEL,
                       "node '%s' (%s): input '%s' has %lld values (max %d)",
                       n->name, n->op, val->name, (long long)cnt, max);
    for (int64_t i = 0; i < cnt; i++)
        v[i] = lg_tensor_geti(val->konst, i);
    return (int)cnt;
}
