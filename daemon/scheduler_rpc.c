/*
 * scheduler_rpc.c - the job methods of lagrange.v1.Scheduler: SubmitJob (the
 * request checked against the model, then the job made durable on the
 * threadpool before the answer), PlanJob, GetJob, ListJobs, WatchJob,
 * CancelJob, GetResult (outputs streamed in chunks, with backpressure),
 * ListNodes and ListLinks.
 */
#include "scheduler_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "lgerr.h"
#include "log.h"
#include "net.h"
#include "nodehealth.h"
#include "npy.h"
#include "topology.h"

void sched_reply_job(h2rpc_call *c, const dsched *s, const djob *j)
{
    size_t len;
    uint8_t *buf = sched_pack_job(s, j, &len);
    if (!buf) {
        h2rpc_finish(c, H2RPC_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    h2rpc_send(c, buf, len);
    free(buf);
    h2rpc_finish(c, H2RPC_OK, NULL);
}

static void shape_str(const int64_t *d, size_t n, char *buf, size_t len);

void sched_work_create(sop *op)
{
    dsched *s = op->s;
    djob *j = op->job;
    int k = 0;
    /* Inline inputs become .npy files; blob inputs are checked, then
     * linked. */
    for (int i = 0; i < op->n_files; i++) {
        if (op->blob_paths && op->blob_paths[i]) {
            const sched_want *w = &op->want[i];
            enum lg_dtype dt;
            lg_shape sh;
            int ok;
            if ((op->rc = lg_npy_stat(op->blob_paths[i], &dt, &sh, op->err,
                                      sizeof op->err)) < 0) {
                if (op->rc != LG_EMODEL && op->rc != LG_EUNSUP)
                    return;
                op->rc = lg_errf(op->err, sizeof op->err, LG_EMODEL,
                                 "input '%s': the blob is not a usable "
                                 ".npy file: %s", w->name, op->err);
                return;
            }
            ok = !strcmp(lg_dtype_name(dt), w->dtype) && sh.rank == w->rank;
            for (int d = 0; ok && d < sh.rank; d++)
                ok = w->d[d] < 0 || w->d[d] == sh.d[d];
            if (!ok) {
                char a[128], b[128];
                int64_t given[LG_MAX_RANK];
                for (int d = 0; d < sh.rank; d++)
                    given[d] = sh.d[d];
                shape_str(given, (size_t)sh.rank, a, sizeof a);
                shape_str(w->d, (size_t)w->rank, b, sizeof b);
                op->rc = lg_errf(op->err, sizeof op->err, LG_EMODEL,
                                 "input '%s' (blob) is %s%s; the model "
                                 "wants %s%s", w->name, lg_dtype_name(dt), a,
                                 w->dtype, b);
                return;
            }
            op->files[i].link_from = op->blob_paths[i];
        } else {
            void *buf;
            size_t len;
            if ((op->rc = lg_npy_encode(op->tens[k++], &buf, &len, op->err,
                                        sizeof op->err)) < 0)
                return;
            op->files[i].buf = buf;
            op->files[i].len = len;
        }
    }
    op->rc = jobdb_create(s->jobs, j->id, op->rec, op->rec_len, op->files,
                          op->n_files, op->err, sizeof op->err);
}

void sched_work_read_result(sop *op)
{
    djob *j = op->job;
    char path[4096], rel[32];
    for (int i = 0; i < op->n_tens; i++) {
        int k = (int)(intptr_t)op->tens[i];    /* which output */
        op->tens[i] = NULL;
        snprintf(rel, sizeof rel, "out-%d.npy", k);
        if ((op->rc = jobdb_path(op->s->jobs, j->id, rel, path,
                                 sizeof path)) < 0 ||
            (op->rc = lg_npy_read(path, &op->tens[i], op->err,
                                  sizeof op->err)) < 0) {
            for (int r = i + 1; r < op->n_tens; r++)
                op->tens[r] = NULL;
            return;
        }
    }
}

static djob *job_or_fail(h2rpc_call *c, dsched *s, const char *id)
{
    djob *j = sched_find_job(s, id);
    if (!j || !j->accepted) {
        h2rpc_finishf(c, H2RPC_NOT_FOUND, "no job '%.40s'", id);
        return NULL;
    }
    return j;
}

int sched_getjob_msg(h2rpc_call *c, const uint8_t *msg, size_t len)
{
    dsched *s = sched_of(c);
    djob *j;
    UNPACK_OR_FAIL(Lagrange__V1__GetJobRequest,
                   lagrange__v1__get_job_request__unpack, c, msg, len);
    if ((j = job_or_fail(c, s, q->job_id)))
        sched_reply_job(c, s, j);
    lagrange__v1__get_job_request__free_unpacked(q, NULL);
    return 0;
}

int sched_listjobs_msg(h2rpc_call *c, const uint8_t *msg, size_t len)
{
    dsched *s = sched_of(c);
    Lagrange__V1__ListJobsResponse r = LAGRANGE__V1__LIST_JOBS_RESPONSE__INIT;
    Lagrange__V1__Job *jobs = calloc((size_t)s->n_jobs + 1, sizeof *jobs);
    Lagrange__V1__Job **jp = calloc((size_t)s->n_jobs + 1, sizeof *jp);
    Lagrange__V1__TensorInfo *ti = NULL, **tip = NULL;
    char *nodes[1];
    size_t n_out = 0, o = 0;
    int n = 0, first = 0;
    UNPACK_OR_FAIL(Lagrange__V1__ListJobsRequest,
                   lagrange__v1__list_jobs_request__unpack, c, msg, len);
    for (int i = 0; i < s->n_jobs; i++)
        n_out += (size_t)s->jv[i]->n_out;
    if (!jobs || !jp || !(ti = calloc(n_out + 1, sizeof *ti)) ||
        !(tip = calloc(n_out + 1, sizeof *tip))) {
        h2rpc_finish(c, H2RPC_RESOURCE_EXHAUSTED, "out of memory");
        goto out;
    }
    for (int i = 0; i < s->n_jobs; i++) {
        djob *j = s->jv[i];
        int want = q->n_states == 0;
        for (size_t k = 0; k < q->n_states; k++)
            want |= q->states[k] == j->state;
        if (!j->accepted || !want)
            continue;
        /* nodes[0] is the same self for every job */
        sched_fill_job(j, &jobs[n], ti + o, tip + o, nodes,
                       s->d->conf->node_id);
        o += (size_t)j->n_out;
        jp[n] = &jobs[n];
        n++;
    }
    if (q->limit && (uint32_t)n > q->limit)
        first = n - (int)q->limit;     /* the most recent */
    r.n_jobs = (size_t)(n - first);
    r.jobs = jp + first;
    sched_reply(c, &r.base);
out:
    free(jobs);
    free(jp);
    free(ti);
    free(tip);
    lagrange__v1__list_jobs_request__free_unpacked(q, NULL);
    return 0;
}

int sched_canceljob_msg(h2rpc_call *c, const uint8_t *msg, size_t len)
{
    dsched *s = sched_of(c);
    djob *j;
    UNPACK_OR_FAIL(Lagrange__V1__CancelJobRequest,
                   lagrange__v1__cancel_job_request__unpack, c, msg, len);
    if ((j = job_or_fail(c, s, q->job_id))) {
        if (sched_is_final(j->state)) {
            h2rpc_finishf(c, H2RPC_FAILED_PRECONDITION,
                          "job %s is already %s", j->id,
                          sched_state_name(j->state));
        } else {
            snprintf(j->error, sizeof j->error, "cancelled%s%.400s",
                     *q->reason ? ": " : " by request", q->reason);
            sched_set_state(j, LAGRANGE__V1__JOB_STATE__CANCELLED, "");
            log_info("job %s cancelled", j->id);
            sched_persist(j);
            sched_notify(j, "state");
            sched_reply_job(c, s, j);
        }
    }
    lagrange__v1__cancel_job_request__free_unpacked(q, NULL);
    return 0;
}

/* ---- SubmitJob, PlanJob ---------------------------------------------------- */

static enum lg_dtype dtype_of(const char *name)
{
    static const enum lg_dtype all[] = { LG_F32, LG_U8, LG_I8, LG_I32,
                                         LG_I64, LG_BOOL, LG_F64 };
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (!strcmp(lg_dtype_name(all[i]), name))
            return all[i];
    return LG_UNDEF;
}

static void shape_str(const int64_t *d, size_t n, char *buf, size_t len)
{
    size_t o = 0;
    o += (size_t)snprintf(buf + o, len - o, "[");
    for (size_t i = 0; i < n && o < len; i++)
        o += (size_t)snprintf(buf + o, len - o, "%s%lld", i ? "," : "",
                              (long long)d[i]);
    if (o < len)
        snprintf(buf + o, len - o, "]");
}

/* Check the request against the model; on success *j is a new job (not
 * in the table) and op (if not NULL) holds its inputs. Returns 0 or a
 * status with the message in why. */
static enum h2rpc_status check_submit(dsched *s,
                                      const Lagrange__V1__SubmitJobRequest *q,
                                      dmodel **mout, sop *op, djob **jout,
                                      char *why, size_t whylen)
{
    dmodel *m;
    djob *j = NULL;
    const Lagrange__V1__Model *md;
    int seen[SCHED_MAX_INPUTS] = { 0 };
    *jout = NULL;
    if (!*q->model)
        return snprintf(why, whylen, "no model given"),
               H2RPC_INVALID_ARGUMENT;
    if (!(m = sched_resolve_model(s, q->model, why, whylen)))
        return H2RPC_NOT_FOUND;
    *mout = m;
    md = m->m;
    if (q->priority > 7)
        return snprintf(why, whylen, "priority %u is not in 0..7",
                        q->priority), H2RPC_INVALID_ARGUMENT;
    if (strlen(q->idempotency_key) > IDEM_MAX)
        return snprintf(why, whylen, "idempotency_key longer than %d bytes",
                        IDEM_MAX), H2RPC_INVALID_ARGUMENT;
    if (*q->name && !sched_valid_name(q->name))
        return snprintf(why, whylen, "job name '%.80s' must be 1-63 of "
                        "[A-Za-z0-9._-]", q->name), H2RPC_INVALID_ARGUMENT;
    if (q->replicas > 2)
        return snprintf(why, whylen, "replicas %u: 1 or 2", q->replicas),
               H2RPC_INVALID_ARGUMENT;
    if (q->n_placement > SCHED_MAX_PARTS)
        return snprintf(why, whylen, "placement names %zu nodes; at most %d "
                        "partitions", q->n_placement, SCHED_MAX_PARTS),
               H2RPC_INVALID_ARGUMENT;
    for (size_t i = 0; i < q->n_placement; i++) {
        const plan_topology *t = s->d->conf->topo;
        int found = 0;
        for (int n = 0; n < t->n_nodes; n++)
            found |= !strcmp(t->nodes[n].name, q->placement[i]);
        if (!found)
            return snprintf(why, whylen, "placement %zu: '%.63s' is not a "
                            "node of the topology", i + 1, q->placement[i]),
                   H2RPC_INVALID_ARGUMENT;
    }
    if (q->n_placement && !s->d->net &&
        !(q->n_placement == 1 &&
          !strcmp(q->placement[0], s->d->conf->node_id)))
        return snprintf(why, whylen, "placement on other nodes needs the "
                        "network, which is off here"),
               H2RPC_FAILED_PRECONDITION;
    if (md->n_inputs > SCHED_MAX_INPUTS)
        return snprintf(why, whylen, "model %.40s has %zu inputs; jobs take "
                        "at most %d", md->name, md->n_inputs,
                        SCHED_MAX_INPUTS), H2RPC_UNIMPLEMENTED;
    /* More tensors than inputs: the loop below names the extra one. */
    if (q->n_inputs > 2 * SCHED_MAX_INPUTS)
        return snprintf(why, whylen, "%zu inputs given; model %.40s takes %zu",
                        q->n_inputs, md->name, md->n_inputs),
               H2RPC_INVALID_ARGUMENT;
    if (!op)
        goto names_only;
    if (!(j = calloc(1, sizeof *j)) ||
        !(j->in_names = calloc(q->n_inputs + 1, sizeof *j->in_names)) ||
        !(op->files = calloc(q->n_inputs + 1, sizeof *op->files)) ||
        !(op->blob_paths = calloc(q->n_inputs + 1, sizeof *op->blob_paths)) ||
        !(op->want = calloc(q->n_inputs + 1, sizeof *op->want)) ||
        !(op->tens = calloc(q->n_inputs + 1, sizeof *op->tens))) {
        sched_free_job(j);
        return snprintf(why, whylen, "out of memory"),
               H2RPC_RESOURCE_EXHAUSTED;
    }
names_only:
    for (size_t i = 0; i < q->n_inputs; i++) {
        const Lagrange__V1__Tensor *t = q->inputs[i];
        const Lagrange__V1__TensorInfo *ti = NULL;
        const char *name = t->name;
        char a[128], b[128];
        size_t k;
        if (!*name && md->n_inputs == 1)
            name = md->inputs[0]->name;
        for (k = 0; k < md->n_inputs; k++)
            if (!strcmp(md->inputs[k]->name, name)) {
                ti = md->inputs[k];
                break;
            }
        if (!ti) {
            snprintf(why, whylen, "model %.40s has no input '%.80s'",
                     md->name, name);
            goto bad;
        }
        if (seen[k]++) {
            snprintf(why, whylen, "input '%.80s' given twice", name);
            goto bad;
        }
        if (*t->blob) {
            uint64_t size;
            char path[4096];
            if (blobstore_stat(s->blobs, t->blob, &size) < 0 ||
                blobstore_path(s->blobs, t->blob, path, sizeof path) < 0) {
                snprintf(why, whylen, "input '%.80s': no blob '%.70s'", name,
                         t->blob);
                sched_free_job(j);
                return H2RPC_NOT_FOUND;
            }
            if (op && !(op->blob_paths[i] = strdup(path)))
                goto oom;
            if (op) {
                sched_want *w = &op->want[i];
                snprintf(w->name, sizeof w->name, "%s", name);
                snprintf(w->dtype, sizeof w->dtype, "%s", ti->dtype);
                w->rank = (int)(ti->n_shape < LG_MAX_RANK ? ti->n_shape
                                                          : LG_MAX_RANK);
                for (int d = 0; d < w->rank; d++)
                    w->d[d] = ti->shape[d];
            }
        } else {
            enum lg_dtype dt = dtype_of(t->dtype);
            lg_shape sh = { 0 };
            size_t need;
            if (dt == LG_UNDEF || strcmp(t->dtype, ti->dtype) != 0) {
                snprintf(why, whylen, "input '%.80s' is %.20s; the model "
                         "wants %.20s", name, *t->dtype ? t->dtype : "(none)",
                         ti->dtype);
                goto bad;
            }
            int ok = t->n_shape == ti->n_shape && t->n_shape <= LG_MAX_RANK;
            for (size_t d = 0; ok && d < t->n_shape; d++)
                ok = t->shape[d] >= 0 &&
                     (ti->shape[d] < 0 || ti->shape[d] == t->shape[d]);
            if (!ok) {
                shape_str(t->shape, t->n_shape, a, sizeof a);
                shape_str(ti->shape, ti->n_shape, b, sizeof b);
                snprintf(why, whylen, "input '%.80s' has shape %s; the model "
                         "wants %s", name, a, b);
                goto bad;
            }
            sh.rank = (int)t->n_shape;
            for (size_t d = 0; d < t->n_shape; d++)
                sh.d[d] = t->shape[d];
            if (lg_shape_nbytes(&sh, dt, &need) < 0 || need != t->data.len) {
                snprintf(why, whylen, "input '%.80s': %zu data bytes for a "
                         "%s tensor that needs %zu", name, t->data.len,
                         t->dtype, need);
                goto bad;
            }
            if (op) {
                lg_tensor *x = lg_tensor_alloc(dt, &sh);
                if (!x)
                    goto oom;
                if (need)
                    memcpy(x->data, t->data.data, need);
                op->tens[op->n_tens++] = x;
            }
        }
        if (op && !(j->in_names[i] = strdup(name)))
            goto oom;
        if (op) {
            char *rel = malloc(32);
            if (!rel)
                goto oom;
            snprintf(rel, 32, "in-%u.npy", (unsigned)i);
            op->files[i].name = rel;
            j->n_in = (int)i + 1;
        }
    }
    if (q->stage_only) {
        if (!q->n_placement) {
            snprintf(why, whylen, "stage_only needs a placement (the nodes "
                     "to stage the partitions on)");
            goto bad;
        }
        if (q->n_inputs) {
            snprintf(why, whylen, "stage_only takes no inputs");
            goto bad;
        }
    }
    for (size_t k = 0; k < md->n_inputs && !q->stage_only; k++)
        if (!seen[k]) {
            snprintf(why, whylen, "input '%.80s' of model %.40s is missing",
                     md->inputs[k]->name, md->name);
            goto bad;
        }
    *jout = j;
    return H2RPC_OK;
oom:
    snprintf(why, whylen, "out of memory");
    sched_free_job(j);
    return H2RPC_RESOURCE_EXHAUSTED;
bad:
    sched_free_job(j);
    return H2RPC_INVALID_ARGUMENT;
}

int sched_submit_msg(h2rpc_call *c, const uint8_t *msg, size_t len)
{
    dsched *s = sched_of(c);
    char why[512];
    enum h2rpc_status st;
    dmodel *m = NULL;
    djob *j = NULL, *old;
    sop *op;
    uint8_t rnd[6];
    UNPACK_OR_FAIL(Lagrange__V1__SubmitJobRequest,
                   lagrange__v1__submit_job_request__unpack, c, msg, len);
    if (s->stopping) {
        h2rpc_finish(c, H2RPC_UNAVAILABLE, "lagranged is stopping");
        goto out;
    }
    if ((old = sched_find_idem(s, q->idempotency_key))) {
        if (old->accepted)
            sched_reply_job(c, s, old);
        else
            h2rpc_finishf(c, H2RPC_ABORTED, "a submit with idempotency key "
                          "'%.80s' is in progress; retry",
                          q->idempotency_key);
        goto out;
    }
    if (!(op = sched_op_new(s, OP_CREATE, NULL, NULL))) {
        h2rpc_finish(c, H2RPC_RESOURCE_EXHAUSTED, "out of memory");
        goto out;
    }
    if ((st = check_submit(s, q, &m, op, &j, why, sizeof why)) != H2RPC_OK) {
        h2rpc_finish(c, st, why);
        op->n_files = (int)q->n_inputs;
        sched_op_free(op);
        goto out;
    }
    op->n_files = j->n_in;
    do {
        RAND_bytes(rnd, sizeof rnd);
        snprintf(j->id, sizeof j->id, "j%02x%02x%02x%02x%02x%02x", rnd[0],
                 rnd[1], rnd[2], rnd[3], rnd[4], rnd[5]);
    } while (sched_find_job(s, j->id));
    j->s = s;
    snprintf(j->model, sizeof j->model, "%s", m->id);
    snprintf(j->model_name, sizeof j->model_name, "%s", m->m->name);
    snprintf(j->name, sizeof j->name, "%s", q->name);
    snprintf(j->idem, sizeof j->idem, "%s", q->idempotency_key);
    if (q->n_placement) {
        if (!(j->place = calloc(q->n_placement, sizeof *j->place))) {
            h2rpc_finish(c, H2RPC_RESOURCE_EXHAUSTED, "out of memory");
            sched_free_job(j);
            op->job = NULL;
            sched_op_free(op);
            goto out;
        }
        for (size_t i = 0; i < q->n_placement; i++)
            if ((j->place[i] = strdup(q->placement[i])))
                j->n_place = (int)i + 1;
    }
    j->replicas = q->replicas ? (int)q->replicas : 1;
    j->stage_only = q->stage_only;
    j->priority = q->priority;
    j->objective = q->objective ? q->objective
                                : LAGRANGE__V1__OBJECTIVE__MIN_TIME;
    j->created = j->updated = sched_now_ms();
    if (q->deadline_ms)
        j->deadline = j->created + q->deadline_ms;
    j->state = LAGRANGE__V1__JOB_STATE__PENDING;
    snprintf(j->reason, sizeof j->reason, "WaitingExecutor");
    op->job = j;
    op->call = c;
    h2rpc_call_set_data(c, op);
    if (sched_add_job(s, j) < 0) {
        h2rpc_call_set_data(c, NULL);
        h2rpc_finishf(c, H2RPC_RESOURCE_EXHAUSTED, "more than %d jobs",
                      SCHED_MAX_JOBS);
        sched_free_job(j);
        op->job = NULL;
        sched_op_free(op);
        goto out;
    }
    if (!(op->rec = sched_pack_record(s, j, &op->rec_len)) || sched_op_queue(op) < 0) {
        h2rpc_call_set_data(c, NULL);
        h2rpc_finish(c, H2RPC_INTERNAL, "cannot queue the job's write");
        sched_drop_job(s, j);
        sched_op_free(op);
    }
out:
    lagrange__v1__submit_job_request__free_unpacked(q, NULL);
    return 0;
}

int sched_planjob_msg(h2rpc_call *c, const uint8_t *msg, size_t len)
{
    dsched *s = sched_of(c);
    const plan_topology *t = s->d->conf->topo;
    const plan_node *self = &t->nodes[s->d->conf->node];
    Lagrange__V1__Plan p = LAGRANGE__V1__PLAN__INIT;
    Lagrange__V1__PlanStep st = LAGRANGE__V1__PLAN_STEP__INIT;
    Lagrange__V1__PlanStep *stp[1] = { &st };
    char why[512], summary[256];
    enum h2rpc_status rc;
    dmodel *m = NULL;
    djob *j = NULL;
    double flops;
    UNPACK_OR_FAIL(Lagrange__V1__SubmitJobRequest,
                   lagrange__v1__submit_job_request__unpack, c, msg, len);
    if ((rc = check_submit(s, q, &m, NULL, &j, why, sizeof why)) != H2RPC_OK) {
        h2rpc_finish(c, rc, why);
        goto out;
    }
    /* Until distributed jobs: the whole model here, at the speed of this
     * node's profile for matrix products. */
    flops = t->profiles[self->profile].flops[PLAN_OC_GEMM] * self->scale;
    st.partition = "p0";
    st.node = s->d->conf->node_id;
    st.start_s = 0;
    st.end_s = flops > 0 ? m->m->gflops * 1e9 / flops : 0;
    st.nodes_in_partition = m->m->nodes;
    p.n_steps = 1;
    p.steps = stp;
    p.completion_s = st.end_s;
    p.energy_j = st.end_s * self->power.busy_w;
    snprintf(summary, sizeof summary, "whole model on %s: %.3g s (%s "
             "profile), no transfers", st.node, st.end_s,
             t->profiles[self->profile].name);
    p.summary = summary;
    sched_reply(c, &p.base);
out:
    lagrange__v1__submit_job_request__free_unpacked(q, NULL);
    return 0;
}

/* ---- WatchJob --------------------------------------------------------------- */

int sched_watch_msg(h2rpc_call *c, const uint8_t *msg, size_t len)
{
    dsched *s = sched_of(c);
    djob *j;
    UNPACK_OR_FAIL(Lagrange__V1__WatchJobRequest,
                   lagrange__v1__watch_job_request__unpack, c, msg, len);
    j = job_or_fail(c, s, q->job_id);
    lagrange__v1__watch_job_request__free_unpacked(q, NULL);
    if (!j)
        return 0;
    if (j->n_watch == SCHED_MAX_WATCHERS)
        return h2rpc_finishf(c, H2RPC_RESOURCE_EXHAUSTED,
                             "job %s has %d watchers already", j->id,
                             SCHED_MAX_WATCHERS), 0;
    j->watch[j->n_watch++] = c;
    h2rpc_call_set_data(c, j);
    /* The snapshot goes to every watcher of j: cheap, and harmless. */
    {
        int keep = j->n_watch;
        h2rpc_call *only[1] = { c };
        h2rpc_call *saved[SCHED_MAX_WATCHERS];
        memcpy(saved, j->watch, sizeof *saved * (size_t)keep);
        memcpy(j->watch, only, sizeof only);
        j->n_watch = 1;
        sched_notify(j, "snapshot");
        if (j->n_watch == 1) {   /* not final: keep every watcher */
            memcpy(j->watch, saved, sizeof *saved * (size_t)keep);
            j->n_watch = keep;
        } else {                 /* final: c was finished and removed */
            memcpy(j->watch, saved, sizeof *saved * (size_t)(keep - 1));
            j->n_watch = keep - 1;
        }
    }
    return 0;
}

void sched_watch_close(h2rpc_call *c, int cancelled)
{
    djob *j = h2rpc_call_data(c);
    (void)cancelled;
    if (!j)
        return;
    for (int i = 0; i < j->n_watch; i++)
        if (j->watch[i] == c) {
            j->watch[i] = j->watch[--j->n_watch];
            break;
        }
}

/* ---- GetResult -------------------------------------------------------------- */

void sched_result_writable(h2rpc_call *c)
{
    rstream *r = h2rpc_call_data(c);
    Lagrange__V1__ResultChunk ch;
    uint8_t *buf;
    if (!r || !r->tens)
        return;
    buf = malloc(r->chunk + 4096);
    if (!buf) {
        h2rpc_finish(c, H2RPC_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    while (r->cur < r->n) {
        const lg_tensor *t = r->tens[r->cur];
        size_t left = t->nbytes - r->off, take = left < r->chunk ? left
                                                                 : r->chunk;
        int64_t dims[LG_MAX_RANK];
        int rc;
        lagrange__v1__result_chunk__init(&ch);
        ch.name = r->names[r->cur];
        if (r->off == 0) {
            ch.dtype = (char *)lg_dtype_name(t->dtype);
            for (int k = 0; k < t->shape.rank; k++)
                dims[k] = t->shape.d[k];
            ch.n_shape = (size_t)t->shape.rank;
            ch.shape = dims;
            ch.size = t->nbytes;
        }
        ch.offset = r->off;
        ch.data.data = (uint8_t *)t->data + r->off;
        ch.data.len = take;
        ch.last = take == left;
        rc = h2rpc_send(c, buf, lagrange__v1__result_chunk__pack(&ch, buf));
        r->off += take;
        if (ch.last) {
            r->cur++;
            r->off = 0;
        }
        if (rc == -EAGAIN)
            break;               /* on_writable brings us back */
        if (rc < 0) {
            free(buf);
            h2rpc_finishf(c, H2RPC_INTERNAL, "cannot send a result chunk: %s",
                          strerror(-rc));
            return;
        }
    }
    free(buf);
    if (r->cur == r->n)
        h2rpc_finish(c, H2RPC_OK, NULL);
}

int sched_result_msg(h2rpc_call *c, const uint8_t *msg, size_t len)
{
    dsched *s = sched_of(c);
    rstream *r = NULL;
    sop *op = NULL;
    djob *j;
    UNPACK_OR_FAIL(Lagrange__V1__GetResultRequest,
                   lagrange__v1__get_result_request__unpack, c, msg, len);
    if (!(j = job_or_fail(c, s, q->job_id)))
        goto out;
    if (j->state != LAGRANGE__V1__JOB_STATE__COMPLETED) {
        h2rpc_finishf(c, H2RPC_FAILED_PRECONDITION, "job %s is %s: %s",
                      j->id, sched_state_name(j->state),
                      sched_is_final(j->state) ? "it has no result"
                                         : "no result yet (lagrange watch)");
        goto out;
    }
    if (q->chunk_size > RESULT_CHUNK_MAX) {
        h2rpc_finishf(c, H2RPC_INVALID_ARGUMENT,
                      "chunk_size %u is above %u", q->chunk_size,
                      RESULT_CHUNK_MAX);
        goto out;
    }
    if (!(r = calloc(1, sizeof *r)) ||
        !(r->names = calloc((size_t)j->n_out + 1, sizeof *r->names)) ||
        !(op = sched_op_new(s, OP_READ_RESULT, NULL, j)) ||
        !(op->tens = calloc((size_t)j->n_out + 1, sizeof *op->tens))) {
        h2rpc_finish(c, H2RPC_RESOURCE_EXHAUSTED, "out of memory");
        goto fail;
    }
    r->s = s;
    r->job = j;
    r->chunk = q->chunk_size ? q->chunk_size : RESULT_CHUNK_DEF;
    /* A chunk and its few header bytes must fit in one message. */
    if (r->chunk + 1024 > s->d->conf->api_max_message)
        r->chunk = (size_t)s->d->conf->api_max_message - 1024;
    for (int i = 0; i < j->n_out; i++)
        if (!*q->output || !strcmp(q->output, j->out[i].name)) {
            r->names[r->n] = j->out[i].name;
            op->tens[r->n++] = (lg_tensor *)(intptr_t)i;
        }
    op->n_tens = r->n;
    if (r->n == 0) {
        h2rpc_finishf(c, H2RPC_NOT_FOUND, "job %s has no output '%.80s'",
                      j->id, q->output);
        op->n_tens = 0;
        goto fail;
    }
    if (j->cached) {             /* just completed: no disk read */
        if (!(r->tens = calloc((size_t)r->n + 1, sizeof *r->tens))) {
            h2rpc_finish(c, H2RPC_RESOURCE_EXHAUSTED, "out of memory");
            op->n_tens = 0;
            goto fail;
        }
        for (int i = 0; i < r->n; i++)
            r->tens[i] = lg_tensor_ref(
                j->cached[(int)(intptr_t)op->tens[i]]);
        op->n_tens = 0;
        sched_op_free(op);
        j->readers++;
        h2rpc_call_set_data(c, r);
        sched_result_writable(c);
        goto out;
    }
    op->call = c;
    r->op = op;
    h2rpc_call_set_data(c, r);
    j->readers++;
    if (sched_op_queue(op) < 0) {
        j->readers--;
        h2rpc_call_set_data(c, NULL);
        h2rpc_finish(c, H2RPC_INTERNAL, "cannot queue the read");
        op->n_tens = 0;
        goto fail;
    }
    goto out;
fail:
    if (op)
        op->n_tens = 0;
    sched_op_free(op);
    if (r)
        free(r->names);
    free(r);
out:
    lagrange__v1__get_result_request__free_unpacked(q, NULL);
    return 0;
}

void sched_result_close(h2rpc_call *c, int cancelled)
{
    rstream *r = h2rpc_call_data(c);
    (void)cancelled;
    if (!r)
        return;
    r->job->readers--;
    if (r->op)
        r->op->call = NULL;
    if (r->tens) {
        for (int i = 0; i < r->n; i++)
            lg_tensor_unref(r->tens[i]);
        free(r->tens);
    }
    free(r->names);
    free(r);
}

/* ---- nodes and links ---------------------------------------------------------- */

int sched_listnodes_msg(h2rpc_call *c, const uint8_t *msg, size_t len)
{
    dsched *s = sched_of(c);
    const plan_topology *t = s->d->conf->topo;
    Lagrange__V1__ListNodesResponse r = LAGRANGE__V1__LIST_NODES_RESPONSE__INIT;
    Lagrange__V1__Node *nv = calloc((size_t)t->n_nodes + 1, sizeof *nv);
    Lagrange__V1__Node **np = calloc((size_t)t->n_nodes + 1, sizeof *np);
    dnet_link lk[64];
    int nl = dnet_links(s->d, lk, 64);
    UNPACK_OR_FAIL(Lagrange__V1__ListNodesRequest,
                   lagrange__v1__list_nodes_request__unpack, c, msg, len);
    lagrange__v1__list_nodes_request__free_unpacked(q, NULL);
    if (!nv || !np) {
        h2rpc_finish(c, H2RPC_RESOURCE_EXHAUSTED, "out of memory");
        goto out;
    }
    for (int i = 0; i < t->n_nodes; i++) {
        const plan_node *pn = &t->nodes[i];
        lagrange__v1__node__init(&nv[i]);
        nv[i].name = (char *)pn->name;
        nv[i].kind = (char *)plan_kind_name(pn->kind);
        nv[i].self = i == s->d->conf->node;
        nv[i].up = nv[i].self;
        for (int k = 0; k < nl; k++)
            if (!strcmp(lk[k].peer, pn->name) && lk[k].session_up)
                nv[i].up = 1;
        nv[i].gflops = t->profiles[pn->profile].flops[PLAN_OC_GEMM] *
                       pn->scale / 1e9;
        nv[i].power_w = pn->power.busy_w;
        {
            dhealth_view hv;
            dhealth_node(s->d, i, &hv);
            nv[i].state = (char *)hv.state;
            nv[i].heard_age_s = hv.have ? hv.age_s : -1;
            if (hv.have) {
                nv[i].load = hv.rec.load;
                nv[i].jobs_running = hv.rec.jobs_running;
                nv[i].jobs_queued = hv.rec.jobs_queued;
                nv[i].battery_soc = hv.rec.battery_soc;
                nv[i].sunlit = hv.rec.sunlit != 0;
                nv[i].fault_exec_checksum = hv.rec.fault_exec_checksum;
                nv[i].fault_ecc = hv.rec.fault_ecc;
                nv[i].fault_spool_quarantined =
                    hv.rec.fault_spool_quarantined;
            }
        }
        np[i] = &nv[i];
    }
    r.n_nodes = (size_t)t->n_nodes;
    r.nodes = np;
    sched_reply(c, &r.base);
out:
    free(nv);
    free(np);
    return 0;
}

int sched_listlinks_msg(h2rpc_call *c, const uint8_t *msg, size_t len)
{
    dsched *s = sched_of(c);
    Lagrange__V1__ListLinksResponse r = LAGRANGE__V1__LIST_LINKS_RESPONSE__INIT;
    Lagrange__V1__Link lv[64], *lp[64];
    dnet_link lk[64];
    int nl = dnet_links(s->d, lk, 64);
    UNPACK_OR_FAIL(Lagrange__V1__ListLinksRequest,
                   lagrange__v1__list_links_request__unpack, c, msg, len);
    lagrange__v1__list_links_request__free_unpacked(q, NULL);
    for (int i = 0; i < nl; i++) {
        lagrange__v1__link__init(&lv[i]);
        lv[i].peer = lk[i].peer;
        lv[i].state = lk[i].state;
        lv[i].window_open = lk[i].window_open;
        lv[i].rate_bps = lk[i].rate_bps;
        lv[i].delay_s = lk[i].delay_s;
        lv[i].tx_bytes = lk[i].tx_bytes;
        lv[i].rx_bytes = lk[i].rx_bytes;
        lv[i].inflight = (uint32_t)lk[i].inflight;
        lp[i] = &lv[i];
    }
    r.n_links = (size_t)nl;
    r.links = lp;
    sched_reply(c, &r.base);
    return 0;
}

