/*
 * scheduler.c - lagrange.v1.Scheduler's core (see scheduler.h for the job states
 * and the durability rule): the job table, the ops on the threadpool, the
 * executor runs, start and stop, stats and the method table. The methods
 * themselves are in scheduler_models.c and scheduler_rpc.c.
 *
 * Everything that touches the disk or runs a model is an op (struct sop)
 * on the libuv threadpool. An op that answers a call keeps the call
 * pointer only while the call lives: the call's on_close clears it (the
 * call's data points at the op), so a client that went away is simply not
 * answered. Jobs are never freed while the daemon runs, so ops hold plain
 * job pointers.
 */
#include "scheduler_int.h"

#include <ctype.h>
#include <errno.h>
#include <sys/stat.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lgerr.h"
#include "log.h"
#include "model.h"
#include "npy.h"
#include "webhook.h"

/* Job latency histogram bounds, ms (sched_stats). */
static const uint64_t lat_bounds[SCHED_LAT_BUCKETS] = {
    1, 5, 10, 50, 100, 500, 1000, 5000, 10000, 60000, 600000, 3600000,
};

static void kick(dsched *s);

uint64_t sched_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

const char *sched_state_name(jstate st)
{
    const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(
        &lagrange__v1__job_state__descriptor, (int)st);
    return v ? v->name : "?";
}

int sched_is_final(jstate st)
{
    return st >= LAGRANGE__V1__JOB_STATE__COMPLETED;
}

int sched_valid_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > NAME_MAX_)
        return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '.' && *s != '_' &&
            *s != '-')
            return 0;
    return 1;
}

/* ---- ops on the threadpool ------------------------------------------------ */

void sched_op_free(sop *op)
{
    free(op->rec);
    if (op->files)
        for (int i = 0; i < op->n_files; i++) {
            free((void *)op->files[i].buf);
            free((void *)op->files[i].name);
        }
    free(op->files);
    for (int i = 0; i < op->n_tens; i++)
        lg_tensor_unref(op->tens[i]);
    free(op->tens);
    if (op->blob_paths)
        for (int i = 0; i < op->n_files; i++)
            free(op->blob_paths[i]);
    free(op->blob_paths);
    free(op->want);
    free(op->meta);
    if (op->enc)
        for (int i = 0; i < op->n_tens; i++)
            free(op->enc[i]);
    free(op->enc);
    free(op->enc_len);
    plan_model_free(op->pm);
    jobplan_free(op->jp);
    if (op->kind != OP_RUN && op->kind != OP_TASK_RUN)
        lg_graph_free(op->g);
    free(op);
}

static void maybe_done(dsched *s)
{
    if (s->stopping && s->ops == 0 && !s->timer_open && s->done) {
        void (*done)(void *) = s->done;
        s->done = NULL;
        done(s->done_arg);
    }
}

static void op_after(uv_work_t *w, int status);
static void op_work(uv_work_t *w);

int sched_op_queue(sop *op)
{
    int rc = uv_queue_work(&op->s->d->loop, &op->w, op_work, op_after);
    if (rc == 0)
        op->s->ops++;
    return rc;
}

sop *sched_op_new(dsched *s, enum op_kind k, h2rpc_call *c, djob *j)
{
    sop *op = calloc(1, sizeof *op);
    if (!op)
        return NULL;
    op->s = s;
    op->kind = k;
    op->call = c;
    op->job = j;
    op->w.data = op;
    if (c)
        h2rpc_call_set_data(c, op);
    return op;
}

/* A call that waits on an op: forget it when it goes. */
void sched_op_call_close(h2rpc_call *c, int cancelled)
{
    sop *op = h2rpc_call_data(c);
    (void)cancelled;
    if (op)
        op->call = NULL;
}

/* ---- packing ---------------------------------------------------------------- */

void sched_fill_job(const djob *j, Lagrange__V1__Job *p,
                     Lagrange__V1__TensorInfo *ti,
                     Lagrange__V1__TensorInfo **tip, char **nodes,
                     const char *self)
{
    lagrange__v1__job__init(p);
    p->id = (char *)j->id;
    p->model = (char *)j->model;
    p->model_name = (char *)j->model_name;
    p->state = j->state;
    p->reason = (char *)j->reason;
    p->error = (char *)j->error;
    p->created_unix_ms = j->created;
    p->updated_unix_ms = j->updated;
    p->started_unix_ms = j->started;
    p->finished_unix_ms = j->finished;
    p->deadline_unix_ms = j->deadline;
    p->priority = j->priority;
    p->objective = (Lagrange__V1__Objective)j->objective;
    p->idempotency_key = (char *)j->idem;
    p->progress = j->progress;
    p->name = (char *)j->name;
    p->attempts = j->attempts;
    if (j->dist && j->dist->plan) {
        const Lagrange__V1__DistPlan *dp = j->dist->plan;
        p->partitions = (uint32_t)dp->n_tasks;
        p->predicted_s = dp->predicted_s;
        /* The job's own array: callers share their nodes[] between jobs.
         * The partitions' nodes, then their replicas'. */
        size_t n = 0;
        for (size_t i = 0; i < dp->n_tasks && n < 2 * SCHED_MAX_PARTS; i++)
            j->dist->nodev[n++] = dp->tasks[i]->node;
        for (size_t i = 0; i < dp->n_replicas && n < 2 * SCHED_MAX_PARTS; i++)
            j->dist->nodev[n++] = dp->replicas[i]->node;
        p->n_nodes = n;
        p->nodes = j->dist->nodev;
    } else if (j->n_place) {
        /* Placed by the submitter, not yet planned: where it will run. */
        p->partitions = (uint32_t)j->n_place;
        p->n_nodes = (size_t)j->n_place;
        p->nodes = j->place;
    } else if (self && j->state != LAGRANGE__V1__JOB_STATE__PENDING &&
        j->state != LAGRANGE__V1__JOB_STATE__CANCELLED &&
        j->state != LAGRANGE__V1__JOB_STATE__EXPIRED) {
        nodes[0] = (char *)self;
        p->n_nodes = 1;
        p->nodes = nodes;
        p->partitions = 1;
    }
    for (int i = 0; i < j->n_out && ti; i++) {
        lagrange__v1__tensor_info__init(&ti[i]);
        ti[i].name = j->out[i].name;
        ti[i].dtype = (char *)j->out[i].dtype;
        ti[i].n_shape = (size_t)j->out[i].rank;
        ti[i].shape = (int64_t *)j->out[i].d;
        tip[i] = &ti[i];
    }
    if (ti) {
        p->n_outputs = (size_t)j->n_out;
        p->outputs = tip;
    }
}

/* Pack a Job into a new buffer. */
uint8_t *sched_pack_job(const dsched *s, const djob *j, size_t *len)
{
    Lagrange__V1__Job p;
    Lagrange__V1__TensorInfo *ti = calloc((size_t)j->n_out + 1, sizeof *ti);
    Lagrange__V1__TensorInfo **tip = calloc((size_t)j->n_out + 1,
                                            sizeof *tip);
    char *nodes[1];
    uint8_t *buf = NULL;
    if (ti && tip) {
        sched_fill_job(j, &p, ti, tip, nodes, s->d->conf->node_id);
        *len = lagrange__v1__job__get_packed_size(&p);
        if ((buf = malloc(*len ? *len : 1)))
            lagrange__v1__job__pack(&p, buf);
    }
    free(ti);
    free(tip);
    return buf;
}

uint8_t *sched_pack_record(const dsched *s, const djob *j, size_t *len)
{
    Lagrange__V1__JobRecord r = LAGRANGE__V1__JOB_RECORD__INIT;
    Lagrange__V1__Job p;
    Lagrange__V1__TensorInfo *ti = calloc((size_t)j->n_out + 1, sizeof *ti);
    Lagrange__V1__TensorInfo **tip = calloc((size_t)j->n_out + 1,
                                            sizeof *tip);
    Lagrange__V1__Tensor *in = calloc((size_t)j->n_in + 1, sizeof *in);
    Lagrange__V1__Tensor **inp = calloc((size_t)j->n_in + 1, sizeof *inp);
    char (*files)[24] = calloc((size_t)j->n_in + 1, sizeof *files);
    char *nodes[1];
    uint8_t *buf = NULL;
    (void)s;
    if (ti && tip && in && inp && files) {
        sched_fill_job(j, &p, ti, tip, nodes, NULL);
        for (int i = 0; i < j->n_in; i++) {
            lagrange__v1__tensor__init(&in[i]);
            in[i].name = j->in_names[i];
            snprintf(files[i], sizeof files[i], "in-%d.npy", i);
            in[i].blob = files[i];
            inp[i] = &in[i];
        }
        r.version = 1;
        r.job = &p;
        r.n_inputs = (size_t)j->n_in;
        r.inputs = inp;
        r.n_placement = (size_t)j->n_place;
        r.placement = j->place;
        r.plan = (Lagrange__V1__DistPlan *)sched_dist_record(j);
        r.replicas = (uint32_t)j->replicas;
        r.stage_only = j->stage_only;
        *len = lagrange__v1__job_record__get_packed_size(&r);
        if ((buf = malloc(*len ? *len : 1)))
            lagrange__v1__job_record__pack(&r, buf);
    }
    free(ti);
    free(tip);
    free(in);
    free(inp);
    free(files);
    return buf;
}

/* ---- the job table ---------------------------------------------------------- */

djob *sched_find_job(dsched *s, const char *id)
{
    for (int i = 0; i < s->n_jobs; i++)
        if (!strcmp(s->jv[i]->id, id))
            return s->jv[i];
    return NULL;
}

djob *sched_find_idem(dsched *s, const char *key)
{
    if (!key || !*key)
        return NULL;
    for (int i = 0; i < s->n_jobs; i++)
        if (!strcmp(s->jv[i]->idem, key))
            return s->jv[i];
    return NULL;
}

int sched_add_job(dsched *s, djob *j)
{
    if (s->n_jobs == SCHED_MAX_JOBS)
        return -ENOSPC;
    if (s->n_jobs == s->cap_jobs) {
        int cap = s->cap_jobs ? s->cap_jobs * 2 : 64;
        djob **n = realloc(s->jv, sizeof *n * (size_t)cap);
        if (!n)
            return -ENOMEM;
        s->jv = n;
        s->cap_jobs = cap;
    }
    s->jv[s->n_jobs++] = j;
    return 0;
}

/* Let go of j's outputs in memory (they stay in JobDir/<id>/out/). */
static void uncache(djob *j)
{
    if (!j->cached)
        return;
    for (int i = 0; i < j->n_out; i++)
        lg_tensor_unref(j->cached[i]);
    free(j->cached);
    j->cached = NULL;
    j->s->cache_bytes -= j->cached_bytes;
    j->cached_bytes = 0;
}

/* Keep the outputs of a job that just completed, so that the GetResult
 * that usually follows needs no disk read; the oldest go first. */
static void cache_outputs(dsched *s, djob *j, lg_tensor **t, int n)
{
    size_t bytes = 0;
    for (int i = 0; i < n; i++)
        bytes += t[i]->nbytes;
    if (bytes > CACHE_MAX / 4 || !(j->cached = calloc((size_t)n + 1,
                                                      sizeof *j->cached)))
        return;
    for (int i = 0; i < s->n_jobs && s->cache_bytes + bytes > CACHE_MAX; i++)
        if (s->jv[i] != j)
            uncache(s->jv[i]);
    for (int i = 0; i < n; i++) {
        j->cached[i] = lg_tensor_ref(t[i]);
    }
    j->cached_bytes = bytes;
    s->cache_bytes += bytes;
}

void sched_free_job(djob *j)
{
    if (!j)
        return;
    if (j->cached) {
        for (int i = 0; i < j->n_out; i++)
            lg_tensor_unref(j->cached[i]);
        free(j->cached);
    }
    for (int i = 0; i < j->n_in; i++)
        free(j->in_names[i]);
    free(j->in_names);
    for (int i = 0; i < j->n_out; i++)
        free(j->out[i].name);
    free(j->out);
    sched_dist_free_job(j);
    free(j);
}

/* Remove a job that never became durable (its create failed). */
void sched_drop_job(dsched *s, djob *j)
{
    for (int i = 0; i < s->n_jobs; i++)
        if (s->jv[i] == j) {
            memmove(&s->jv[i], &s->jv[i + 1],
                    sizeof *s->jv * (size_t)(s->n_jobs - i - 1));
            s->n_jobs--;
            break;
        }
    sched_free_job(j);
}

/* ---- the job completion log (JobCompLog, jobcomp.h) ------------------------ */

/* Open s->jc at JobCompLog (or none). A failure is logged, not fatal: the
 * jobs run whatever happens to their log. */
static void jobcomp_reopen(dsched *s)
{
    const dconf_path *p = &s->d->conf->jobcomp_log;
    char err[512] = "";
    if (jobcomp_open(&s->jc, p->path, err, sizeof err) < 0) {
        log_err("%s; finished jobs are logged there once it opens", err);
        snprintf(s->jc_err, sizeof s->jc_err, "%s", err);
    } else {
        s->jc_err[0] = '\0';
        if (p->path)
            log_debug("jobs: completion log %s", p->path);
    }
}

void sched_reopen_log(lagranged *d)
{
    if (d->sched)
        jobcomp_reopen(d->sched);
}

/* A job just became final: its line. A failure to write is logged (the
 * job and why) and changes nothing for the job. */
static void jobcomp_job(djob *j)
{
    dsched *s = j->s;
    char line[JOBCOMP_LINE_MAX], err[512] = "";
    jobcomp_rec r;
    int n;
    if (!s->jc.path)
        return;
    memset(&r, 0, sizeof r);
    r.id = j->id;
    r.name = j->name;
    r.model_name = j->model_name;
    r.model_id = j->model;
    r.state = sched_state_name(j->state);
    r.reason = j->reason[0] ? j->reason : j->error;
    r.node = s->d->conf->node_id;
    r.submit_ms = j->created;
    r.start_ms = j->started;
    r.end_ms = j->finished;
    r.attempts = j->attempts;
    if ((n = jobcomp_format(&r, line, sizeof line)) < 0) {
        log_err("job %s: its JobCompLog line does not fit in %d bytes",
                j->id, JOBCOMP_LINE_MAX);
        return;
    }
    if (jobcomp_write(&s->jc, line, (size_t)n, err, sizeof err) < 0) {
        /* Each line lost is said: as often as jobs finish, no more. */
        log_err("job %s %s, not logged: %s (the job is not affected)",
                j->id, r.state, err);
        snprintf(s->jc_err, sizeof s->jc_err, "%s", err);
        return;
    }
    if (s->jc_err[0]) {
        log_info("JobCompLog %s: writing again", s->jc.path);
        s->jc_err[0] = '\0';
    }
}

/* A job just became final: its webhook event (webhook.h), queued
 * durably for each Webhook= that wants it. */
static void hook_job(djob *j)
{
    dsched *s = j->s;
    dhook_fields f;
    const char *ev;
    switch (j->state) {
    case LAGRANGE__V1__JOB_STATE__COMPLETED: ev = "job.completed"; break;
    case LAGRANGE__V1__JOB_STATE__FAILED: ev = "job.failed"; break;
    case LAGRANGE__V1__JOB_STATE__CANCELLED: ev = "job.cancelled"; break;
    case LAGRANGE__V1__JOB_STATE__EXPIRED: ev = "job.expired"; break;
    default: return;
    }
    if (!s->d->hooks)
        return;
    dhook_fields_init(&f);
    dhook_f_begin(&f, "job");
    dhook_f_str(&f, "id", j->id);
    dhook_f_str(&f, "name", j->name);
    dhook_f_str(&f, "model", j->model_name);
    dhook_f_str(&f, "model_sha256", j->model);
    dhook_f_str(&f, "state", sched_state_name(j->state));
    dhook_f_str(&f, "reason", j->reason);
    dhook_f_str(&f, "error", j->error);
    dhook_f_time(&f, "submitted", j->created);
    dhook_f_time(&f, "started", j->started);
    dhook_f_time(&f, "finished", j->finished);
    dhook_f_num(&f, "elapsed_s", j->started && j->finished > j->started
                                     ? (double)(j->finished - j->started) /
                                           1e3
                                     : 0.0);
    dhook_f_uint(&f, "attempts", j->attempts);
    dhook_f_end(&f);
    dhook_emit(s->d->hooks, ev, &f);
}

void sched_set_state(djob *j, jstate st, const char *reason)
{
    int was_final = sched_is_final(j->state);
    j->state = st;
    snprintf(j->reason, sizeof j->reason, "%s", reason ? reason : "");
    j->updated = sched_now_ms();
    if (sched_is_final(st) && !j->finished)
        j->finished = j->updated;
    if (sched_is_final(st) && !was_final && j->accepted) {
        jobcomp_job(j);
        hook_job(j);
        sched_dist_final(j);
    }
}

/* ---- the worker side ---------------------------------------------------------- */

/* lg_progress_fn, on the worker: the loop reads it (on_expire). */
static void run_progress(void *arg, uint64_t done, uint64_t total)
{
    sop *op = arg;
    atomic_store_explicit(&op->progress_ppm,
                          (unsigned)((double)done / (double)total * 1e6),
                          memory_order_relaxed);
}

int sched_exec_load(sop *op, const char *id)
{
    char path[4096];
    int rc;
    if (op->x) {
        op->g = op->x->g;
        op->e = op->x->e;
        return 0;
    }
    if ((rc = blobstore_path(op->s->models, id, path, sizeof path)) < 0 ||
        (rc = lg_model_open(path, NULL, &op->g, op->err,
                            sizeof op->err)) < 0 ||
        (rc = lg_exec_new(op->g, NULL, &op->e, op->err,
                          sizeof op->err)) < 0)
        return op->rc = rc;
    return 0;
}

static void work_run(sop *op)
{
    dsched *s = op->s;
    djob *j = op->job;
    lg_tensor *ins[SCHED_MAX_INPUTS] = { 0 };
    char path[4096];
    struct timespec t0, t1;
    int rc = 0;
    if (sched_exec_load(op, j->model) < 0)
        return;
    const lg_graph *g = op->g;
    for (int i = 0; i < j->n_in && rc == 0; i++) {
        lg_tensor *t = NULL;
        char rel[32];
        int slot = -1;
        snprintf(rel, sizeof rel, "in-%d.npy", i);
        for (int k = 0; k < g->n_inputs; k++)
            if (!strcmp(g->values[g->inputs[k]].name, j->in_names[i]))
                slot = k;
        if (slot < 0) {
            rc = lg_errf(op->err, sizeof op->err, LG_EMODEL,
                         "input '%s' is not an input of the model",
                         j->in_names[i]);
            break;
        }
        if ((rc = jobdb_path(s->jobs, j->id, rel, path, sizeof path)) < 0 ||
            (rc = lg_npy_read(path, &t, op->err, sizeof op->err)) < 0)
            break;
        lg_tensor_unref(ins[slot]);
        ins[slot] = t;
    }
    for (int k = 0; k < g->n_inputs && rc == 0; k++)
        if (!ins[k])
            rc = lg_errf(op->err, sizeof op->err, LG_EMODEL,
                         "no tensor for input '%s'",
                         g->values[g->inputs[k]].name);
    if (rc == 0 && !(op->tens = calloc((size_t)g->n_outputs + 1,
                                       sizeof *op->tens)))
        rc = lg_errf(op->err, sizeof op->err, -ENOMEM, "out of memory");
    if (rc == 0) {
        op->n_tens = g->n_outputs;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        lg_exec_set_progress(op->e, run_progress, op);
        rc = lg_exec_run(op->e, ins, op->tens, op->err, sizeof op->err);
        lg_exec_set_progress(op->e, NULL, NULL);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        op->exec_s = (double)(t1.tv_sec - t0.tv_sec) +
                     (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    }
    /* Outputs first, durably; COMPLETED is written after them. */
    for (int i = 0; i < op->n_tens && rc == 0; i++) {
        void *buf;
        size_t len;
        char rel[32];
        if (!op->tens[i]) {
            rc = lg_errf(op->err, sizeof op->err, -EIO, "output %d missing",
                         i);
            break;
        }
        snprintf(rel, sizeof rel, "out-%d.npy", i);
        if ((rc = lg_npy_encode(op->tens[i], &buf, &len, op->err,
                                sizeof op->err)) < 0)
            break;
        rc = jobdb_put_file(s->jobs, j->id, rel, buf, len, op->err,
                            sizeof op->err);
        free(buf);
    }
    for (int k = 0; k < SCHED_MAX_INPUTS; k++)
        lg_tensor_unref(ins[k]);
    op->rc = rc;
}

/* JobRetention for blobs: remove those whose file is older than the
 * cutoff (jobs that used one hold their own hard link). op->rc counts. */
static int sweep_one(void *arg, const char *id, uint64_t size)
{
    sop *op = arg;
    char path[4096];
    struct stat st;
    (void)size;
    if (blobstore_path(op->s->blobs, id, path, sizeof path) == 0 &&
        stat(path, &st) == 0 &&
        (uint64_t)st.st_mtime * 1000 < op->cutoff_ms &&
        blobstore_remove(op->s->blobs, id) == 0)
        op->rc++;
    return 0;
}

static void work_sweep_blobs(sop *op)
{
    op->rc = 0;
    blobstore_list(op->s->blobs, sweep_one, op);
}

static void op_work(uv_work_t *w)
{
    sop *op = w->data;
    switch (op->kind) {
    case OP_CREATE: sched_work_create(op); break;
    case OP_UPDATE:
        op->rc = jobdb_update(op->s->jobs, op->job->id, op->rec, op->rec_len,
                              op->err, sizeof op->err);
        break;
    case OP_RUN: work_run(op); break;
    case OP_PUT_COMMIT: sched_work_put_commit(op); break;
    case OP_READ_RESULT: sched_work_read_result(op); break;
    case OP_DELETE_MODEL:
        op->rc = blobstore_remove(op->s->models, op->id);
        if (op->rc < 0)
            lg_errf(op->err, sizeof op->err, op->rc, "%s", strerror(-op->rc));
        break;
    case OP_REMOVE_JOB:
        op->rc = jobdb_remove(op->s->jobs, op->job->id);
        if (op->rc < 0)
            lg_errf(op->err, sizeof op->err, op->rc, "%s", strerror(-op->rc));
        break;
    case OP_SWEEP_BLOBS: work_sweep_blobs(op); break;
    default: sched_dist_work(op); break;
    }
}

/* ---- the loop side ------------------------------------------------------------ */

/* Answer a unary call with one message and OK; RESOURCE_EXHAUSTED when it
 * cannot be packed or is above ApiMaxMessage. */
void sched_reply(h2rpc_call *c, const ProtobufCMessage *m)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf) {
        h2rpc_finish(c, H2RPC_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    protobuf_c_message_pack(m, buf);
    if (h2rpc_send(c, buf, n) == -EMSGSIZE)
        h2rpc_finishf(c, H2RPC_RESOURCE_EXHAUSTED, "the answer (%zu bytes) "
                      "is above ApiMaxMessage; ask for less", n);
    else
        h2rpc_finish(c, H2RPC_OK, NULL);
    free(buf);
}

enum h2rpc_status sched_status_of(int rc)
{
    switch (rc) {
    case LG_EMODEL: return H2RPC_INVALID_ARGUMENT;
    case LG_EUNSUP: return H2RPC_UNIMPLEMENTED;
    case -ENOENT: return H2RPC_NOT_FOUND;
    case -EEXIST: return H2RPC_ALREADY_EXISTS;
    case -EFBIG: case -EMSGSIZE: case -ENOSPC: case -ENOMEM:
        return H2RPC_RESOURCE_EXHAUSTED;
    case -EINVAL: case -EBADMSG: return H2RPC_INVALID_ARGUMENT;
    default: return H2RPC_INTERNAL;
    }
}

void sched_keep_exec(dsched *s, sop *op, const char *id)
{
    if (op->x) {
        op->x->busy = 0;
        op->x->used = ++s->xclock;
    } else if (op->e) {
        /* Keep the prepared model for the next job: replace the least
         * recently used idle entry. */
        xentry *v = NULL;
        for (int i = 0; i < XCACHE; i++)
            if (!s->xc[i].busy && (!v || s->xc[i].used < v->used))
                v = &s->xc[i];
        if (v) {
            lg_exec_free(v->e);
            lg_graph_free(v->g);
            snprintf(v->id, sizeof v->id, "%s", id);
            v->g = op->g;
            v->e = op->e;
            v->used = ++s->xclock;
        } else {
            lg_exec_free(op->e);
            lg_graph_free(op->g);
        }
    } else {
        lg_graph_free(op->g);
    }
    op->e = NULL;
    op->g = NULL;
}

int sched_queue_exec(dsched *s, sop *op, const char *id)
{
    for (int i = 0; i < XCACHE; i++)
        if (!s->xc[i].busy && s->xc[i].e && !strcmp(s->xc[i].id, id)) {
            op->x = &s->xc[i];
            op->x->busy = 1;
            break;
        }
    if (sched_op_queue(op) < 0) {
        if (op->x)
            op->x->busy = 0;
        sched_op_free(op);
        return -1;
    }
    return 0;
}

int sched_complete(djob *j, lg_tensor **t, int n, const char *const *names)
{
    dsched *s = j->s;
    outinfo *o = calloc((size_t)n + 1, sizeof *o);
    uint64_t lat;
    for (int i = 0; o && i < n; i++) {
        if (!(o[i].name = strdup(names[i]))) {
            for (int k = 0; k < i; k++)
                free(o[k].name);
            free(o);
            o = NULL;
            break;
        }
        snprintf(o[i].dtype, sizeof o[i].dtype, "%s",
                 lg_dtype_name(t[i]->dtype));
        o[i].rank = t[i]->shape.rank < 8 ? t[i]->shape.rank : 8;
        for (int d = 0; d < o[i].rank; d++)
            o[i].d[d] = t[i]->shape.d[d];
    }
    if (!o) {
        snprintf(j->error, sizeof j->error, "out of memory");
        sched_set_state(j, LAGRANGE__V1__JOB_STATE__FAILED, "");
        sched_persist(j);
        sched_notify(j, "state");
        return -ENOMEM;
    }
    for (int i = 0; i < j->n_out; i++)
        free(j->out[i].name);
    free(j->out);
    j->out = o;
    j->n_out = n;
    cache_outputs(s, j, t, n);
    j->progress = 1.0;
    sched_set_state(j, LAGRANGE__V1__JOB_STATE__COMPLETED, "");
    lat = j->finished - j->created;
    s->lat_n++;
    s->lat_sum += (double)lat / 1e3;
    for (int b = 0; b < SCHED_LAT_BUCKETS; b++)
        if (lat <= lat_bounds[b])
            s->lat_count[b]++;
    sched_persist(j);
    sched_notify(j, "state");
    return 0;
}

static void after_run(sop *op)
{
    dsched *s = op->s;
    djob *j = op->job;
    const lg_graph *g = op->x ? op->x->g : op->g;
    j->run_op = NULL;
    s->running--;
    if (op->cancelled && !sched_is_final(j->state)) {
        /* A stop took the run off the threadpool's queue before it
         * started: the job waits for the next start, as PENDING. */
        j->attempts--;
        j->started = 0;
        sched_set_state(j, LAGRANGE__V1__JOB_STATE__PENDING,
                        "Stopped before it ran; resumes at the next start");
        log_info("job %s: not started before the stop; PENDING, it runs "
                 "at the next start", j->id);
    } else if (sched_is_final(j->state)) {
        /* Cancelled or expired while it ran: the result is dropped. */
        log_info("job %s: run ended after it became %s", j->id,
                 sched_state_name(j->state));
    } else if (op->rc < 0 || !g) {
        snprintf(j->error, sizeof j->error, "%s",
                 op->rc < 0 ? op->err : "no executor");
        sched_set_state(j, LAGRANGE__V1__JOB_STATE__FAILED, "");
        log_info("job %s failed: %s", j->id, j->error);
    } else {
        dmodel *m = sched_find_model_id(s, j->model);
        const char **names = calloc((size_t)g->n_outputs + 1,
                                    sizeof *names);
        for (int i = 0; names && i < g->n_outputs; i++)
            names[i] = g->values[g->outputs[i]].name;
        if (!names) {
            snprintf(j->error, sizeof j->error, "out of memory");
            sched_set_state(j, LAGRANGE__V1__JOB_STATE__FAILED, "");
        } else {
            if (sched_complete(j, op->tens, op->n_tens, names) == 0) {
                if (m) {
                    m->runs++;
                    m->exec_s += op->exec_s;
                }
                log_info("job %s completed in %.3f s (executor %.3f s)",
                         j->id, (double)(j->finished - j->created) / 1e3,
                         op->exec_s);
            }
            free(names);
            sched_keep_exec(s, op, j->model);
            return;              /* sched_complete wrote and told */
        }
    }
    sched_keep_exec(s, op, j->model);
    sched_persist(j);
    sched_notify(j, "state");
}

static void op_after(uv_work_t *w, int status)
{
    sop *op = w->data;
    dsched *s = op->s;
    djob *j = op->job;
    s->ops--;
    op->cancelled = status == UV_ECANCELED;
    if (status == UV_ECANCELED && op->rc == 0)
        op->rc = lg_errf(op->err, sizeof op->err, -ECANCELED, "cancelled");
    switch (op->kind) {
    case OP_CREATE:
        if (op->rc < 0) {
            log_info("job %s not accepted: %s", j->id, op->err);
            if (op->call)
                h2rpc_finish(op->call, sched_status_of(op->rc), op->err);
            sched_drop_job(s, j);
        } else {
            j->accepted = 1;
            s->submitted++;
            log_info("job %s accepted: model %s, %d input%s, priority %u",
                     j->id, j->model_name[0] ? j->model_name : j->model,
                     j->n_in, j->n_in == 1 ? "" : "s", j->priority);
            if (op->call)
                sched_reply_job(op->call, s, j);
        }
        break;
    case OP_UPDATE:
        j->io_busy = 0;
        if (op->rc < 0)
            log_err("job %s: cannot write its record: %s", j->id, op->err);
        if (j->io_dirty)         /* also while stopping: the last state
                                    must reach the disk */
            sched_persist(j);
        if (!j->io_busy && j->dist)
            sched_dist_persisted(j, op->rc);
        break;
    case OP_RUN:
        after_run(op);
        break;
    case OP_PUT_COMMIT:
        if (op->rc == 0 && op->is_model &&
            (op->rc = sched_add_model(s, op->id, op->meta, op->meta_len)) < 0)
            lg_errf(op->err, sizeof op->err, op->rc,
                    "cannot index the model");
        if (op->call) {
            h2rpc_call *c = op->call;
            upload *u = h2rpc_call_data(c);
            if (u)
                u->op = NULL;
            if (op->rc < 0) {
                h2rpc_finish(c, sched_status_of(op->rc), op->err);
            } else if (op->is_model) {
                sched_reply(c, &sched_find_model_id(s, op->id)->m->base);
            } else {
                Lagrange__V1__Blob b = LAGRANGE__V1__BLOB__INIT;
                b.id = op->id;
                blobstore_stat(s->blobs, op->id, &b.size);
                sched_reply(c, &b.base);
            }
        }
        if (op->rc == 0)
            log_info("%s %s stored%s%s", op->is_model ? "model" : "blob",
                     op->id, op->name[0] ? " as " : "", op->name);
        break;
    case OP_READ_RESULT:
        if (op->call) {
            rstream *r = h2rpc_call_data(op->call);
            r->op = NULL;
            if (op->rc < 0) {
                h2rpc_finish(op->call, sched_status_of(op->rc), op->err);
            } else {
                r->tens = op->tens;
                op->tens = NULL;
                op->n_tens = 0;
                const h2rpc_method *m = h2rpc_call_method(op->call);
                m->on_writable(op->call);
            }
        }
        break;
    case OP_DELETE_MODEL:
        if (op->call) {
            if (op->rc < 0) {
                h2rpc_finish(op->call, sched_status_of(op->rc), op->err);
            } else {
                Lagrange__V1__DeleteModelResponse r =
                    LAGRANGE__V1__DELETE_MODEL_RESPONSE__INIT;
                r.id = op->id;
                sched_reply(op->call, &r.base);
            }
        } else if (op->rc < 0 && op->rc != -ENOENT) {
            log_warn("model %.12s: cannot remove it from ModelDir: %s",
                     op->id, op->err);  /* an eviction */
        }
        break;
    case OP_REMOVE_JOB:
        if (op->rc < 0 && op->rc != -ENOENT) {
            log_warn("job %s: cannot remove it (JobRetention): %s", j->id,
                     op->err);
            j->removing = 0;
        } else {
            log_debug("job %s removed (JobRetention)", j->id);
            s->removed_jobs++;
            uncache(j);
            sched_drop_job(s, j);
            op->job = NULL;
        }
        break;
    case OP_SWEEP_BLOBS:
        s->sweeping = 0;
        if (op->rc > 0) {
            log_info("%d blob%s older than JobRetention removed", op->rc,
                     op->rc == 1 ? "" : "s");
            s->removed_blobs += (uint64_t)op->rc;
        }
        break;
    default:
        sched_dist_after(op);
        break;
    }
    if (op->call && h2rpc_call_data(op->call) == op)
        h2rpc_call_set_data(op->call, NULL);
    sched_op_free(op);
    kick(s);
    maybe_done(s);
}

/* Write j's record back (latest state wins; one write in flight). */
void sched_persist(djob *j)
{
    dsched *s = j->s;
    sop *op;
    if (!j->accepted)
        return;
    if (j->io_busy) {
        j->io_dirty = 1;
        return;
    }
    if (!(op = sched_op_new(s, OP_UPDATE, NULL, j)) ||
        !(op->rec = sched_pack_record(s, j, &op->rec_len)) || sched_op_queue(op) < 0) {
        log_err("job %s: cannot queue its record write", j->id);
        if (op)
            sched_op_free(op);
        return;
    }
    j->io_busy = 1;
    j->io_dirty = 0;
}

/* Tell WatchJob streams; a final state ends them. */
void sched_notify(djob *j, const char *event)
{
    Lagrange__V1__JobEvent ev = LAGRANGE__V1__JOB_EVENT__INIT;
    Lagrange__V1__Job p;
    Lagrange__V1__TensorInfo *ti;
    Lagrange__V1__TensorInfo **tip;
    char *nodes[1];
    uint8_t *buf;
    size_t len;
    if (j->n_watch == 0)
        return;
    ti = calloc((size_t)j->n_out + 1, sizeof *ti);
    tip = calloc((size_t)j->n_out + 1, sizeof *tip);
    if (ti && tip) {
        sched_fill_job(j, &p, ti, tip, nodes, j->s->d->conf->node_id);
        ev.job = &p;
        ev.event = (char *)event;
        len = lagrange__v1__job_event__get_packed_size(&ev);
        if ((buf = malloc(len ? len : 1))) {
            lagrange__v1__job_event__pack(&ev, buf);
            for (int i = 0; i < j->n_watch; i++)
                h2rpc_send(j->watch[i], buf, len);
            free(buf);
        }
    }
    free(ti);
    free(tip);
    if (sched_is_final(j->state))
        while (j->n_watch > 0)  /* on_close removes it from the list */
            if (h2rpc_finish(j->watch[j->n_watch - 1], H2RPC_OK, NULL) < 0 ||
                j->n_watch > 0) {
                h2rpc_call_set_data(j->watch[j->n_watch - 1], NULL);
                j->n_watch--;
            }
}

/* Start what can start: highest priority first, then the oldest. */
static void kick(dsched *s)
{
    int workers = s->d->conf->job_workers;
    sched_dist_kick(s);
    while (!s->stopping && s->running < workers) {
        djob *best = NULL;
        sop *op;
        for (int i = 0; i < s->n_jobs; i++) {
            djob *j = s->jv[i];
            if (!j->accepted || j->run_op ||
                j->state != LAGRANGE__V1__JOB_STATE__PENDING ||
                (j->dist && j->dist->phase != DJ_LOCAL &&
                 j->dist->phase != DJ_PREP))
                continue;
            if (!best || j->priority > best->priority)
                best = j;
        }
        if (!best)
            break;
        /* The next job in order is being planned: wait for its plan, so
         * that planning never reorders the queue. */
        if (best->dist && best->dist->phase == DJ_PREP)
            break;
        if (!sched_dist_local(s, best))
            continue;            /* distributed, or planning started */
        if (!sched_find_model_id(s, best->model)) {
            snprintf(best->error, sizeof best->error,
                     "model %s is no longer stored", best->model);
            sched_set_state(best, LAGRANGE__V1__JOB_STATE__FAILED, "");
            sched_persist(best);
            sched_notify(best, "state");
            continue;
        }
        if (!(op = sched_op_new(s, OP_RUN, NULL, best)))
            break;
        if (sched_queue_exec(s, op, best->model) < 0)
            break;
        best->run_op = op;
        best->attempts++;
        best->started = sched_now_ms();
        best->progress = 0;
        sched_set_state(best, LAGRANGE__V1__JOB_STATE__RUNNING, "Executing");
        s->running++;
        sched_persist(best);     /* attempts survive a crash */
        sched_notify(best, "state");
    }
    /* Whoever waits says why. */
    for (int i = 0; i < s->n_jobs; i++) {
        djob *j = s->jv[i];
        if (j->accepted && j->state == LAGRANGE__V1__JOB_STATE__PENDING &&
            (!j->dist || j->dist->phase == DJ_LOCAL) &&
            strcmp(j->reason, "WaitingExecutor") != 0) {
            snprintf(j->reason, sizeof j->reason, "WaitingExecutor");
            sched_notify(j, "state");
        }
    }
}

/* JobRetention: final jobs finished longer ago than it go, with their
 * directory; so do uploaded blobs. A job still read (GetResult) or
 * written stays for the next sweep. */
static void sweep(dsched *s, uint64_t now)
{
    uint64_t keep = (uint64_t)(s->d->conf->job_retention * 1000.0);
    uint64_t cutoff = now > keep ? now - keep : 0;
    int queued = 0;
    sop *op;
    for (int i = 0; i < s->n_jobs && queued < SWEEP_MAX; i++) {
        djob *j = s->jv[i];
        if (!j->accepted || !sched_is_final(j->state) || j->removing ||
            j->io_busy || j->io_dirty || j->run_op || j->readers ||
            j->n_watch || !j->finished || j->finished >= cutoff)
            continue;
        if (!(op = sched_op_new(s, OP_REMOVE_JOB, NULL, j)))
            return;
        if (sched_op_queue(op) < 0) {
            sched_op_free(op);
            return;
        }
        j->removing = 1;
        queued++;
    }
    if (!s->sweeping && (op = sched_op_new(s, OP_SWEEP_BLOBS, NULL, NULL))) {
        op->cutoff_ms = cutoff;
        if (sched_op_queue(op) < 0)
            sched_op_free(op);
        else
            s->sweeping = 1;
    }
}

static void on_expire(uv_timer_t *t)
{
    dsched *s = t->data;
    uint64_t now = sched_now_ms();
    /* Every minute, or a quarter of a short JobRetention. */
    double per = s->d->conf->job_retention / 4 / (EXPIRE_MS / 1000.0);
    unsigned every = per < 1 ? 1 : per > SWEEP_TICKS ? SWEEP_TICKS
                                                     : (unsigned)per;
    if (++s->ticks % every == 0 && !s->stopping)
        sweep(s, now);
    if (!s->stopping)
        sched_dist_tick(s, now);
    /* Running jobs tell their watchers how far the executor is, by 1%. */
    for (int i = 0; i < s->n_jobs; i++) {
        djob *j = s->jv[i];
        double p;
        if (!j->run_op || j->state != LAGRANGE__V1__JOB_STATE__RUNNING)
            continue;
        p = atomic_load_explicit(&j->run_op->progress_ppm,
                                 memory_order_relaxed) / 1e6;
        if (p >= j->progress + 0.01 && p < 1.0) {
            j->progress = p;
            sched_notify(j, "progress");
        }
    }
    for (int i = 0; i < s->n_jobs; i++) {
        djob *j = s->jv[i];
        if (!j->accepted || j->state != LAGRANGE__V1__JOB_STATE__PENDING ||
            !j->deadline || j->deadline > now)
            continue;
        snprintf(j->error, sizeof j->error,
                 "deadline passed before the job could start");
        sched_set_state(j, LAGRANGE__V1__JOB_STATE__EXPIRED, "");
        log_info("job %s expired", j->id);
        sched_persist(j);
        sched_notify(j, "state");
    }
}

/* ---- the table ------------------------------------------------------------------ */

#define S "/lagrange.v1.Scheduler/"
static const h2rpc_method methods[] = {
    { S "PutModel", H2RPC_CLIENT_STREAM, 1, sched_putmodel_start, sched_put_message,
      sched_put_end, NULL, sched_put_close },
    { S "ListModels", H2RPC_UNARY, 1, NULL, sched_listmodels_msg, NULL, NULL,
      NULL },
    { S "DeleteModel", H2RPC_UNARY, 1, NULL, sched_deletemodel_msg, NULL, NULL,
      sched_op_call_close },
    { S "PutBlob", H2RPC_CLIENT_STREAM, 1, sched_putblob_start, sched_put_message,
      sched_put_end, NULL, sched_put_close },
    { S "SubmitJob", H2RPC_UNARY, 1, NULL, sched_submit_msg, NULL, NULL,
      sched_op_call_close },
    { S "GetJob", H2RPC_UNARY, 1, NULL, sched_getjob_msg, NULL, NULL, NULL },
    { S "ListJobs", H2RPC_UNARY, 1, NULL, sched_listjobs_msg, NULL, NULL, NULL },
    { S "WatchJob", H2RPC_SERVER_STREAM, 1, NULL, sched_watch_msg, NULL, NULL,
      sched_watch_close },
    { S "CancelJob", H2RPC_UNARY, 1, NULL, sched_canceljob_msg, NULL, NULL, NULL },
    { S "GetResult", H2RPC_SERVER_STREAM, 1, NULL, sched_result_msg, NULL,
      sched_result_writable, sched_result_close },
    { S "ListNodes", H2RPC_UNARY, 1, NULL, sched_listnodes_msg, NULL, NULL, NULL },
    { S "ListLinks", H2RPC_UNARY, 1, NULL, sched_listlinks_msg, NULL, NULL, NULL },
    { S "PlanJob", H2RPC_UNARY, 1, NULL, sched_planjob_msg, NULL, NULL, NULL },
};
#undef S

const h2rpc_method *sched_methods(int *n)
{
    *n = (int)(sizeof methods / sizeof methods[0]);
    return methods;
}

/* ---- start, stop ------------------------------------------------------------------ */

static int load_job(void *arg, const char *id, const void *rec, size_t len)
{
    dsched *s = arg;
    Lagrange__V1__JobRecord *r =
        lagrange__v1__job_record__unpack(NULL, len, rec);
    const Lagrange__V1__Job *p;
    djob *j;
    if (!r || !r->job || strcmp(r->job->id, id) != 0 ||
        r->n_inputs > SCHED_MAX_INPUTS) {
        log_err("job %s: record does not parse; left on disk, ignored", id);
        if (r)
            lagrange__v1__job_record__free_unpacked(r, NULL);
        return 0;
    }
    p = r->job;
    if (!(j = calloc(1, sizeof *j)) ||
        !(j->in_names = calloc(r->n_inputs + 1, sizeof *j->in_names)) ||
        !(j->out = calloc(p->n_outputs + 1, sizeof *j->out)))
        goto oom;
    j->s = s;
    snprintf(j->id, sizeof j->id, "%s", p->id);
    snprintf(j->model, sizeof j->model, "%s", p->model);
    snprintf(j->model_name, sizeof j->model_name, "%s", p->model_name);
    snprintf(j->name, sizeof j->name, "%s", p->name);
    snprintf(j->idem, sizeof j->idem, "%s", p->idempotency_key);
    snprintf(j->reason, sizeof j->reason, "%s", p->reason);
    snprintf(j->error, sizeof j->error, "%s", p->error);
    j->state = p->state;
    j->created = p->created_unix_ms;
    j->updated = p->updated_unix_ms;
    j->started = p->started_unix_ms;
    j->finished = p->finished_unix_ms;
    j->deadline = p->deadline_unix_ms;
    j->priority = p->priority;
    j->objective = p->objective;
    j->attempts = p->attempts;
    j->progress = p->progress;
    for (size_t i = 0; i < r->n_inputs; i++) {
        if (!(j->in_names[i] = strdup(r->inputs[i]->name)))
            goto oom;
        j->n_in = (int)i + 1;
    }
    for (size_t i = 0; i < p->n_outputs && p->outputs[i]->n_shape <= 8; i++) {
        outinfo *o = &j->out[i];
        if (!(o->name = strdup(p->outputs[i]->name)))
            goto oom;
        snprintf(o->dtype, sizeof o->dtype, "%s", p->outputs[i]->dtype);
        o->rank = (int)p->outputs[i]->n_shape;
        memcpy(o->d, p->outputs[i]->shape, sizeof(int64_t) * (size_t)o->rank);
        j->n_out = (int)i + 1;
    }
    j->accepted = 1;
    if (sched_dist_load(j, r) < 0)
        goto oom;
    if (!sched_is_final(j->state)) {
        j->was = j->state;
        j->state = LAGRANGE__V1__JOB_STATE__PENDING;
        snprintf(j->reason, sizeof j->reason, "Resumed after restart");
        j->progress = 0;
        j->io_dirty = 1;         /* written back once resumed */
    }
    lagrange__v1__job_record__free_unpacked(r, NULL);
    if (sched_add_job(s, j) < 0) {
        sched_free_job(j);
        return -ENOSPC;
    }
    return 0;
oom:
    sched_free_job(j);
    lagrange__v1__job_record__free_unpacked(r, NULL);
    return -ENOMEM;
}

static void bad_entry(void *arg, const char *name, int code, const char *why)
{
    (void)arg;
    (void)code;
    log_warn("JobDir: skipping %s: %s", name, why);
}

static int cmp_created(const void *a, const void *b)
{
    const djob *x = *(djob *const *)a, *y = *(djob *const *)b;
    return x->created < y->created ? -1 : x->created > y->created;
}

int sched_start(lagranged *d, char *err, size_t errlen)
{
    const dconf *c = d->conf;
    dsched *s;
    int rc, resumed = 0;
    if (!(s = calloc(1, sizeof *s)))
        return lg_errf(err, errlen, -ENOMEM, "out of memory");
    s->d = d;
    d->sched = s;
    jobcomp_init(&s->jc);
    if ((rc = blobstore_open(c->model_dir.path, LG_MODEL_MAX_BYTES,
                             &s->models, err, errlen)) < 0 ||
        (rc = blobstore_open(c->blob_dir.path, LG_TENSOR_MAX_BYTES, &s->blobs,
                             err, errlen)) < 0 ||
        (rc = jobdb_open(c->job_dir.path, &s->jobs, err, errlen)) < 0)
        return rc;
    blobstore_list(s->models, sched_load_model, s);
    if ((rc = jobdb_load(s->jobs, load_job, bad_entry, s, err, errlen)) < 0)
        return rc;
    if (s->n_jobs > 1)
        qsort(s->jv, (size_t)s->n_jobs, sizeof *s->jv, cmp_created);
    for (int i = 0; i < s->n_jobs; i++)
        if (s->jv[i]->io_dirty) {
            djob *j = s->jv[i];
            j->io_dirty = 0;
            sched_persist(j);
            if (++resumed <= SCHED_DESCRIBE_MAX)
                log_info("job %s resumes: it was %s when lagranged "
                         "stopped; PENDING until it runs (attempt %u)",
                         j->id, sched_state_name(j->was), j->attempts + 1);
        }
    if (resumed > SCHED_DESCRIBE_MAX)
        log_info("and %d more jobs resume", resumed - SCHED_DESCRIBE_MAX);
    uv_timer_init(&d->loop, &s->expire);
    s->expire.data = s;
    uv_timer_start(&s->expire, on_expire, EXPIRE_MS, EXPIRE_MS);
    uv_unref((uv_handle_t *)&s->expire);
    s->timer_open = 1;
    jobcomp_reopen(s);
    log_info("jobs: %d models, %d jobs (%d resumed) in %s", s->n_models,
             s->n_jobs, resumed, c->job_dir.path);
    sched_dist_start(s);
    sched_dist_resume(s);
    sched_partition_evict(s);
    kick(s);
    return 0;
}

static void on_timer_closed(uv_handle_t *h)
{
    dsched *s = h->data;
    s->timer_open = 0;
    maybe_done(s);
}

void sched_stop(lagranged *d, void (*done)(void *arg), void *arg)
{
    dsched *s = d->sched;
    int cancelled = 0;
    if (!s) {
        done(arg);
        return;
    }
    s->stopping = 1;
    s->done = done;
    s->done_arg = arg;
    if (s->timer_open)
        uv_close((uv_handle_t *)&s->expire, on_timer_closed);
    /* Runs still queued behind busy threads never start: uv_cancel takes
     * them off the queue and after_run makes them PENDING again. A run
     * that has started cannot be cancelled (the threadpool does not
     * interrupt work); the stop waits for it, at most StopTimeout (see
     * main.c). Record writes are never cancelled: they carry states. */
    for (int i = 0; i < s->n_jobs; i++)
        if (s->jv[i]->run_op &&
            uv_cancel((uv_req_t *)&s->jv[i]->run_op->w) == 0)
            cancelled++;
    if (cancelled)
        log_info("jobs: %d run%s not yet started put back to PENDING",
                 cancelled, cancelled == 1 ? "" : "s");
    if (s->ops)
        log_info("jobs: waiting for %d store and executor operation%s", s->ops,
                 s->ops == 1 ? "" : "s");
    maybe_done(s);
}

int sched_describe_running(lagranged *d, char *buf, size_t len)
{
    dsched *s = d->sched;
    int n = 0, shown = 0;
    size_t at = 0;
    if (len)
        buf[0] = '\0';
    if (!s)
        return 0;
    for (int i = 0; i < s->n_jobs; i++) {
        djob *j = s->jv[i];
        if (!j->run_op)
            continue;
        n++;
        if (shown < SCHED_DESCRIBE_MAX && at < len) {
            int w = snprintf(buf + at, len - at, "%s%s", shown ? " " : "",
                             j->id);
            if (w > 0)
                at += (size_t)w;
            shown++;
        }
    }
    if (n > shown && at < len)
        snprintf(buf + at, len - at, " and %d more", n - shown);
    return n;
}

void sched_free(lagranged *d)
{
    dsched *s = d->sched;
    if (!s)
        return;
    for (int i = 0; i < s->n_jobs; i++)
        sched_free_job(s->jv[i]);
    free(s->jv);
    sched_dist_stop(s);
    for (int i = 0; i < s->n_models; i++) {
        lagrange__v1__model__free_unpacked(s->mv[i]->m, NULL);
        free(s->mv[i]);
    }
    free(s->mv);
    for (int i = 0; i < XCACHE; i++) {
        lg_exec_free(s->xc[i].e);
        lg_graph_free(s->xc[i].g);
    }
    free(s->mstat);
    jobcomp_close(&s->jc);
    blobstore_close(s->models);
    blobstore_close(s->blobs);
    jobdb_close(s->jobs);
    free(s);
    d->sched = NULL;
}

int sched_running(lagranged *d)
{
    return d->sched ? d->sched->running : 0;
}

uint32_t sched_queued(lagranged *d)
{
    dsched *s = d->sched;
    uint32_t n = 0;
    if (!s)
        return 0;
    for (int i = 0; i < s->n_jobs; i++)
        if (s->jv[i]->accepted &&
            s->jv[i]->state == LAGRANGE__V1__JOB_STATE__PENDING)
            n++;
    return n;
}

void sched_get_stats(lagranged *d, sched_stats *out)
{
    dsched *s = d->sched;
    memset(out, 0, sizeof *out);
    if (!s)
        return;
    for (int i = 0; i < s->n_jobs; i++)
        if (s->jv[i]->accepted && (int)s->jv[i]->state < 9)
            out->by_state[s->jv[i]->state]++;
    out->submitted = s->submitted;
    memcpy(out->lat_le_ms, lat_bounds, sizeof lat_bounds);
    memcpy(out->lat_count, s->lat_count, sizeof s->lat_count);
    out->lat_n = s->lat_n;
    out->lat_sum_s = s->lat_sum;
    free(s->mstat);
    s->mstat = calloc((size_t)s->n_models + 1, sizeof *s->mstat);
    if (s->mstat) {
        for (int i = 0; i < s->n_models; i++) {
            sched_model_stat *m = &s->mstat[i];
            snprintf(m->id, sizeof m->id, "%s", s->mv[i]->id);
            snprintf(m->name, sizeof m->name, "%s", s->mv[i]->m->name);
            m->runs = s->mv[i]->runs;
            m->exec_s = s->mv[i]->exec_s;
        }
        out->n_models = s->n_models;
        out->models = s->mstat;
    }
    out->partition_evictions = s->part_evictions;
    out->partition_bytes = sched_partition_bytes(s);
}
