/*
 * scheduler_models.c - models and blobs behind lagrange.v1.Scheduler:
 * PutModel and PutBlob (client streaming into lib/store/blobstore, the
 * commit and, for a model, parsing it to describe its inputs, outputs and
 * cost, on the threadpool), ListModels, DeleteModel, the model table
 * loaded at start, and the partition cache (PartitionCacheMax: the
 * partitions of distributed jobs, evicted least recently used first). An
 * upload cut short (RST_STREAM, deadline, a bad message) leaves nothing
 * behind.
 */
#include "scheduler_int.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lgerr.h"
#include "log.h"
#include "model.h"

/* ---- models ----------------------------------------------------------------- */

dmodel *sched_find_model_id(dsched *s, const char *id)
{
    for (int i = 0; i < s->n_models; i++)
        if (!strcmp(s->mv[i]->id, id))
            return s->mv[i];
    return NULL;
}

/* id, unique id prefix (>= 8 hex digits) or name (the latest upload). */
dmodel *sched_resolve_model(dsched *s, const char *ref, char *why,
                             size_t whylen)
{
    dmodel *hit = NULL;
    size_t n = strlen(ref);
    int hex = n >= 8 && n <= 64, nhit = 0;
    for (size_t i = 0; hex && i < n; i++)
        hex = isxdigit((unsigned char)ref[i]) && !isupper((unsigned char)ref[i]);
    if (hex)
        for (int i = 0; i < s->n_models; i++)
            if (!strncmp(s->mv[i]->id, ref, n)) {
                hit = s->mv[i];
                nhit++;
            }
    if (nhit > 1) {
        snprintf(why, whylen, "model id prefix '%s' is ambiguous (%d models)",
                 ref, nhit);
        return NULL;
    }
    if (hit)
        return hit;
    for (int i = 0; i < s->n_models; i++)
        if (!strcmp(s->mv[i]->m->name, ref) &&
            (!hit || s->mv[i]->m->created_unix_ms >= hit->m->created_unix_ms))
            hit = s->mv[i];
    if (!hit)
        snprintf(why, whylen, "no model '%.80s' (lagrange model ls lists "
                 "them)", ref);
    return hit;
}

int sched_add_model(dsched *s, const char *id, const uint8_t *meta,
                     size_t len)
{
    dmodel *m;
    Lagrange__V1__Model *u;
    dmodel **nv;
    if (s->n_models == SCHED_MAX_MODELS)
        return -ENOSPC;
    if (!(u = lagrange__v1__model__unpack(NULL, len, meta)))
        return LG_EMODEL;
    if ((m = sched_find_model_id(s, id))) {     /* re-upload: new name */
        lagrange__v1__model__free_unpacked(m->m, NULL);
        m->m = u;
        return 0;
    }
    if (!(m = calloc(1, sizeof *m)) ||
        !(nv = realloc(s->mv, sizeof *nv * (size_t)(s->n_models + 1)))) {
        free(m);
        lagrange__v1__model__free_unpacked(u, NULL);
        return -ENOMEM;
    }
    s->mv = nv;
    snprintf(m->id, sizeof m->id, "%s", id);
    m->m = u;
    m->last_used = sched_now_ms();
    s->mv[s->n_models++] = m;
    return 0;
}

/* Out of the table at once (no new job can take it), its prepared
 * executor never matched again; the blob goes with an OP_DELETE_MODEL. */
static void model_drop(dsched *s, dmodel *m)
{
    for (int i = 0; i < s->n_models; i++)
        if (s->mv[i] == m) {
            s->mv[i] = s->mv[--s->n_models];
            break;
        }
    for (int i = 0; i < XCACHE; i++)
        if (!strcmp(s->xc[i].id, m->id))
            s->xc[i].id[0] = '\0';
    lagrange__v1__model__free_unpacked(m->m, NULL);
    free(m);
}

/* ---- the partition cache -------------------------------------------------------- */

static int is_partition(const dmodel *m)
{
    char want[32];
    snprintf(want, sizeof want, "part-%.12s", m->id);
    return m->m->name && !strcmp(m->m->name, want);
}

void sched_model_touch(dsched *s, const char *id)
{
    dmodel *m = sched_find_model_id(s, id);
    char path[4096];
    struct timespec ts[2] = { { 0, UTIME_OMIT }, { 0, UTIME_NOW } };
    if (!m)
        return;
    m->last_used = sched_now_ms();
    /* The mtime is the LRU time after a restart; a metadata write, no
     * data (and a failure only costs the order after a restart). */
    if (blobstore_path(s->models, id, path, sizeof path) == 0)
        (void)utimensat(AT_FDCWD, path, ts, 0);
}

/* A task here waits for or runs it, a cached plan names it, or a job
 * still going has it in its plan. */
static int partition_busy(const dsched *s, const char *id)
{
    for (const dtask *t = s->tasks; t; t = t->next)
        if (!strcmp(t->t->partition_sha256, id))
            return 1;
    for (int i = 0; i < BUILT_MAX; i++) {
        const jobplan *jp = s->built[i].jp;
        for (int k = 0; jp && k < jp->n_parts; k++)
            if (!strcmp(jp->parts[k].sha256, id))
                return 1;
    }
    for (int i = 0; i < s->n_jobs; i++) {
        const djob *j = s->jv[i];
        const Lagrange__V1__DistPlan *dp = j->dist ? j->dist->plan : NULL;
        if (!dp || sched_is_final(j->state))
            continue;
        for (size_t k = 0; k < dp->n_tasks; k++)
            if (!strcmp(dp->tasks[k]->partition_sha256, id))
                return 1;
    }
    for (int i = 0; i < XCACHE; i++)
        if (s->xc[i].busy && !strcmp(s->xc[i].id, id))
            return 1;
    return 0;
}

/* A job planning or cutting partitions (PREP, BUILD) may count on
 * partitions already here that no plan names yet. */
static int building(const dsched *s)
{
    for (int i = 0; i < s->n_jobs; i++) {
        const djob *j = s->jv[i];
        if (j->dist && !sched_is_final(j->state) &&
            (j->dist->phase == DJ_PREP || j->dist->phase == DJ_BUILD))
            return 1;
    }
    return 0;
}

uint64_t sched_partition_bytes(const dsched *s)
{
    uint64_t n = 0;
    for (int i = 0; i < s->n_models; i++)
        if (is_partition(s->mv[i]))
            n += s->mv[i]->m->size;
    return n;
}

int sched_partition_evicted(const dsched *s, const char *id)
{
    for (size_t i = 0; i < sizeof s->evicted / sizeof s->evicted[0]; i++)
        if (!strcmp(s->evicted[i], id))
            return 1;
    return 0;
}

void sched_partition_evict(dsched *s)
{
    uint64_t max = s->d->conf->partition_cache_max, total, now;
    if (!max || s->stopping || building(s))
        return;
    while ((total = sched_partition_bytes(s)) > max) {
        dmodel *v = NULL;
        sop *op;
        char a[32], b[32], c[32];
        for (int i = 0; i < s->n_models; i++) {
            dmodel *m = s->mv[i];
            if (is_partition(m) && (!v || m->last_used < v->last_used) &&
                !partition_busy(s, m->id))
                v = m;
        }
        if (!v) {
            log_debug("partition cache: %llu bytes above PartitionCacheMax, "
                      "all in use", (unsigned long long)(total - max));
            return;
        }
        if (!(op = sched_op_new(s, OP_DELETE_MODEL, NULL, NULL)))
            return;
        snprintf(op->id, sizeof op->id, "%s", v->id);
        if (sched_op_queue(op) < 0) {
            sched_op_free(op);
            return;
        }
        now = sched_now_ms();
        log_info("partition %.12s evicted from ModelDir: %llu bytes, last "
                 "used %s ago (partitions %s > PartitionCacheMax %s)", v->id,
                 (unsigned long long)v->m->size,
                 dconf_fmt_duration(a, sizeof a, now > v->last_used
                                    ? (double)(now - v->last_used) / 1e3 : 0),
                 dconf_fmt_size(b, sizeof b, total),
                 dconf_fmt_size(c, sizeof c, max));
        snprintf(s->evicted[s->evicted_next], sizeof s->evicted[0], "%s",
                 v->id);
        s->evicted_next = (s->evicted_next + 1) %
                          (int)(sizeof s->evicted / sizeof s->evicted[0]);
        s->part_evictions++;
        model_drop(s, v);
    }
}

static int info_from_value(const lg_value *v, Lagrange__V1__TensorInfo *ti,
                           int64_t *dims)
{
    lagrange__v1__tensor_info__init(ti);
    ti->name = v->name;
    ti->dtype = (char *)lg_dtype_name(v->dtype);
    ti->n_shape = (size_t)v->shape.rank;
    for (int k = 0; k < v->shape.rank; k++)
        dims[k] = v->has_shape ? v->shape.d[k] : -1;
    ti->shape = dims;
    return 0;
}

/* Worker: parse the model we just stored, describe it. */
static int describe_model(sop *op, const char *path)
{
    lg_graph *g = NULL;
    Lagrange__V1__Model m = LAGRANGE__V1__MODEL__INIT;
    Lagrange__V1__TensorInfo *ti = NULL, **tip = NULL;
    int64_t (*dims)[LG_MAX_RANK] = NULL;
    int rc, n;
    if ((rc = lg_model_open(path, NULL, &g, op->err, sizeof op->err)) < 0)
        return rc;
    n = g->n_inputs + g->n_outputs;
    if (!(ti = calloc((size_t)n, sizeof *ti)) ||
        !(tip = calloc((size_t)n, sizeof *tip)) ||
        !(dims = calloc((size_t)n, sizeof *dims))) {
        rc = lg_errf(op->err, sizeof op->err, -ENOMEM, "out of memory");
        goto out;
    }
    for (int i = 0; i < n; i++) {
        int v = i < g->n_inputs ? g->inputs[i] : g->outputs[i - g->n_inputs];
        info_from_value(&g->values[v], &ti[i], dims[i]);
        tip[i] = &ti[i];
    }
    m.id = op->id;
    m.name = op->name;
    blobstore_stat(op->s->models, op->id, &m.size);
    m.created_unix_ms = sched_now_ms();
    {
        /* A re-upload keeps the time of the first. */
        void *old;
        size_t olen;
        char e[64];
        Lagrange__V1__Model *om;
        if (blobstore_get_meta(op->s->models, op->id, &old, &olen,
                               BLOBSTORE_META_MAX, e, sizeof e) == 0) {
            if ((om = lagrange__v1__model__unpack(NULL, olen, old))) {
                if (om->created_unix_ms)
                    m.created_unix_ms = om->created_unix_ms;
                lagrange__v1__model__free_unpacked(om, NULL);
            }
            free(old);
        }
    }
    m.n_inputs = (size_t)g->n_inputs;
    m.inputs = tip;
    m.n_outputs = (size_t)g->n_outputs;
    m.outputs = tip + g->n_inputs;
    m.nodes = (uint32_t)g->n_nodes;
    m.gflops = (double)lg_graph_flops(g) / 1e9;
    op->meta_len = lagrange__v1__model__get_packed_size(&m);
    if (!(op->meta = malloc(op->meta_len ? op->meta_len : 1))) {
        rc = lg_errf(op->err, sizeof op->err, -ENOMEM, "out of memory");
        goto out;
    }
    lagrange__v1__model__pack(&m, op->meta);
    rc = 0;
out:
    free(ti);
    free(tip);
    free(dims);
    lg_graph_free(g);
    return rc;
}

int sched_describe_into(sop *op)
{
    char path[4096];
    int rc;
    if ((rc = blobstore_path(op->s->models, op->id, path, sizeof path)) < 0)
        return lg_errf(op->err, sizeof op->err, rc, "model %s: bad id",
                       op->id);
    if ((rc = describe_model(op, path)) < 0)
        return rc;
    return blobstore_put_meta(op->s->models, op->id, op->meta, op->meta_len,
                              op->err, sizeof op->err);
}

void sched_work_put_commit(sop *op)
{
    dsched *s = op->s;
    blobstore *bs = op->is_model ? s->models : s->blobs;
    char path[4096];
    op->rc = blobw_commit(op->bw, op->id, op->err, sizeof op->err);
    op->bw = NULL;
    if (op->rc < 0 || !op->is_model)
        return;
    if ((op->rc = blobstore_path(bs, op->id, path, sizeof path)) < 0)
        return;
    if ((op->rc = describe_model(op, path)) < 0) {
        blobstore_remove(bs, op->id);
        return;
    }
    op->rc = blobstore_put_meta(bs, op->id, op->meta, op->meta_len, op->err,
                                sizeof op->err);
}

/* ---- PutModel / PutBlob -------------------------------------------------------- */

static int put_start(h2rpc_call *c, int is_model)
{
    dsched *s = sched_of(c);
    upload *u = calloc(1, sizeof *u);
    if (!u)
        return h2rpc_finish(c, H2RPC_RESOURCE_EXHAUSTED, "out of memory"), 0;
    u->s = s;
    u->is_model = is_model;
    h2rpc_call_set_data(c, u);
    return 0;
}

int sched_putmodel_start(h2rpc_call *c) { return put_start(c, 1); }
int sched_putblob_start(h2rpc_call *c) { return put_start(c, 0); }

int sched_put_message(h2rpc_call *c, const uint8_t *msg, size_t len)
{
    upload *u = h2rpc_call_data(c);
    char err[512];
    int rc, part = 0;            /* 1 header, 2 chunk */
    const char *what;
    ProtobufCBinaryData chunk = { 0, NULL };
    uint64_t size = 0;
    const char *sha = NULL;
    void *q;
    if (!u || u->op)
        return h2rpc_finish(c, H2RPC_INTERNAL, "upload state lost"), 0;
    what = u->is_model ? "PutModelRequest" : "PutBlobRequest";
    if (u->is_model) {
        Lagrange__V1__PutModelRequest *m =
            lagrange__v1__put_model_request__unpack(NULL, len, msg);
        q = m;
        if (m && m->part_case == LAGRANGE__V1__PUT_MODEL_REQUEST__PART_HEADER &&
            m->header) {
            if (!u->have_header && !sched_valid_name(m->header->name)) {
                h2rpc_finishf(c, H2RPC_INVALID_ARGUMENT,
                              "model name '%.80s' must be 1-63 of "
                              "[A-Za-z0-9._-]", m->header->name);
                lagrange__v1__put_model_request__free_unpacked(m, NULL);
                return 0;
            }
            snprintf(u->name, sizeof u->name, "%s", m->header->name);
            size = m->header->size;
            sha = *m->header->sha256 ? m->header->sha256 : NULL;
            part = 1;
        } else if (m && m->part_case ==
                            LAGRANGE__V1__PUT_MODEL_REQUEST__PART_CHUNK) {
            chunk = m->chunk;
            part = 2;
        }
    } else {
        Lagrange__V1__PutBlobRequest *m =
            lagrange__v1__put_blob_request__unpack(NULL, len, msg);
        q = m;
        if (m && m->part_case == LAGRANGE__V1__PUT_BLOB_REQUEST__PART_HEADER &&
            m->header) {
            size = m->header->size;
            sha = *m->header->sha256 ? m->header->sha256 : NULL;
            part = 1;
        } else if (m && m->part_case ==
                            LAGRANGE__V1__PUT_BLOB_REQUEST__PART_CHUNK) {
            chunk = m->chunk;
            part = 2;
        }
    }
    if (!q) {
        h2rpc_finishf(c, H2RPC_INVALID_ARGUMENT, "malformed %s", what);
        return 0;
    }
    if (!u->have_header) {
        if (part != 1) {
            h2rpc_finishf(c, H2RPC_INVALID_ARGUMENT,
                          "the first %s must be a header with the size",
                          what);
        } else if (size == 0) {
            h2rpc_finishf(c, H2RPC_INVALID_ARGUMENT,
                          "%s header: size must be > 0", what);
        } else if ((rc = blobstore_begin(u->is_model ? u->s->models
                                                     : u->s->blobs,
                                         size, sha, &u->bw, err,
                                         sizeof err)) < 0) {
            h2rpc_finish(c, sched_status_of(rc), err);
        } else {
            u->have_header = 1;
            u->size = size;
        }
    } else if (part != 2) {
        h2rpc_finishf(c, H2RPC_INVALID_ARGUMENT,
                      "%s: only the first message may be a header, and "
                      "every other one must be a chunk", what);
    } else if (chunk.len == 0) {
        /* an empty chunk is a valid split */
    } else if (u->got + chunk.len > u->size) {
        h2rpc_finishf(c, H2RPC_INVALID_ARGUMENT,
                      "%s: more bytes than the %llu the header announced",
                      what, (unsigned long long)u->size);
    } else if ((rc = blobw_write(u->bw, chunk.data, chunk.len, err,
                                 sizeof err)) < 0) {
        h2rpc_finish(c, sched_status_of(rc), err);
    } else {
        u->got += chunk.len;
    }
    if (u->is_model)
        lagrange__v1__put_model_request__free_unpacked(q, NULL);
    else
        lagrange__v1__put_blob_request__free_unpacked(q, NULL);
    return 0;
}

void sched_put_end(h2rpc_call *c)
{
    upload *u = h2rpc_call_data(c);
    sop *op;
    if (!u)
        return;
    if (!u->have_header) {
        h2rpc_finish(c, H2RPC_INVALID_ARGUMENT, "empty upload: no header");
        return;
    }
    if (u->got != u->size) {
        h2rpc_finishf(c, H2RPC_INVALID_ARGUMENT,
                      "upload ended after %llu of %llu bytes",
                      (unsigned long long)u->got,
                      (unsigned long long)u->size);
        return;
    }
    if (!(op = sched_op_new(u->s, OP_PUT_COMMIT, NULL, NULL))) {
        h2rpc_finish(c, H2RPC_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    op->call = c;                /* the call's data stays the upload */
    op->bw = u->bw;
    op->is_model = u->is_model;
    snprintf(op->name, sizeof op->name, "%s", u->name);
    u->bw = NULL;
    if (sched_op_queue(op) < 0) {
        blobw_abort(op->bw);
        sched_op_free(op);
        h2rpc_finish(c, H2RPC_INTERNAL, "cannot queue the commit");
        return;
    }
    u->op = op;
}

void sched_put_close(h2rpc_call *c, int cancelled)
{
    upload *u = h2rpc_call_data(c);
    (void)cancelled;
    if (!u)
        return;
    if (u->op)
        u->op->call = NULL;
    blobw_abort(u->bw);          /* an upload cut short leaves nothing */
    free(u);
}

int sched_listmodels_msg(h2rpc_call *c, const uint8_t *msg, size_t len)
{
    dsched *s = sched_of(c);
    Lagrange__V1__ListModelsResponse r = LAGRANGE__V1__LIST_MODELS_RESPONSE__INIT;
    Lagrange__V1__Model **mv = calloc((size_t)s->n_models + 1, sizeof *mv);
    UNPACK_OR_FAIL(Lagrange__V1__ListModelsRequest,
                   lagrange__v1__list_models_request__unpack, c, msg, len);
    lagrange__v1__list_models_request__free_unpacked(q, NULL);
    if (!mv)
        return h2rpc_finish(c, H2RPC_RESOURCE_EXHAUSTED, "out of memory"), 0;
    for (int i = 0; i < s->n_models; i++)
        mv[i] = s->mv[i]->m;
    r.n_models = (size_t)s->n_models;
    r.models = mv;
    sched_reply(c, &r.base);
    free(mv);
    return 0;
}

int sched_deletemodel_msg(h2rpc_call *c, const uint8_t *msg, size_t len)
{
    dsched *s = sched_of(c);
    char why[256];
    dmodel *m;
    sop *op;
    UNPACK_OR_FAIL(Lagrange__V1__DeleteModelRequest,
                   lagrange__v1__delete_model_request__unpack, c, msg, len);
    m = sched_resolve_model(s, q->model, why, sizeof why);
    lagrange__v1__delete_model_request__free_unpacked(q, NULL);
    if (!m)
        return h2rpc_finish(c, H2RPC_NOT_FOUND, why), 0;
    for (int i = 0; i < s->n_jobs; i++)
        if (!sched_is_final(s->jv[i]->state) && !strcmp(s->jv[i]->model, m->id))
            return h2rpc_finishf(c, H2RPC_FAILED_PRECONDITION,
                                 "model %.12s is used by job %s (%s)", m->id,
                                 s->jv[i]->id, sched_state_name(s->jv[i]->state)),
                   0;
    if (!(op = sched_op_new(s, OP_DELETE_MODEL, c, NULL)))
        return h2rpc_finish(c, H2RPC_RESOURCE_EXHAUSTED, "out of memory"), 0;
    snprintf(op->id, sizeof op->id, "%s", m->id);
    if (sched_op_queue(op) < 0) {
        h2rpc_call_set_data(c, NULL);
        sched_op_free(op);
        return h2rpc_finish(c, H2RPC_INTERNAL, "cannot queue"), 0;
    }
    /* Gone from the table at once: no new job can take it. */
    model_drop(s, m);
    return 0;
}

int sched_load_model(void *arg, const char *id, uint64_t size)
{
    dsched *s = arg;
    void *meta;
    size_t len;
    char err[256];
    (void)size;
    if (blobstore_get_meta(s->models, id, &meta, &len, BLOBSTORE_META_MAX,
                           err, sizeof err) < 0) {
        log_warn("model %s has no readable metadata (%s); push it again",
                 id, err);
        return 0;
    }
    if (sched_add_model(s, id, meta, len) < 0)
        log_warn("model %s: metadata does not parse; push it again", id);
    else {
        /* The partition cache's LRU time: the blob's mtime (touched at
         * each use). */
        dmodel *m = sched_find_model_id(s, id);
        char path[4096];
        struct stat st;
        if (m && blobstore_path(s->models, id, path, sizeof path) == 0 &&
            stat(path, &st) == 0)
            m->last_used = (uint64_t)st.st_mtim.tv_sec * 1000 +
                           (uint64_t)st.st_mtim.tv_nsec / 1000000;
    }
    free(meta);
    return 0;
}

