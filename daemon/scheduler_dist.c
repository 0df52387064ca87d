/*
 * scheduler_dist.c - distributed jobs: a job split into partitions that
 * run on the nodes the planner (or the submitter's placement) chose, with
 * tensors moving between them as bundles through store-and-forward.
 * lagranged(8), DISTRIBUTED JOBS; the messages are in wire.proto (Task,
 * TaskStatus) and store.proto (DistPlan).
 *
 * Owns both sides:
 *
 * The controller (the node that accepted the job), per job (djdist):
 *
 *   NONE ─> PREP ─(graph loaded, plan solved)─> LOCAL  (one partition
 *            │                                          here: the plain
 *            │                                          executor path)
 *            └─> BUILD ─(partitions cut, stored)─> PERSIST ─(the record
 *                 with the plan synced)─> DISPATCH ─(every task,
 *                 partition and input durable in the spool)─> WAIT
 *                 ─(every graph output in the inbox)─> FINISH ─> COMPLETED
 *
 *   A node dying with a part unfinished (sched_dist_tick) re-plans the
 *   job from persisted tensors (replan_kept): the same cut in a new epoch
 *   E+1, the parts done on live nodes kept (done in E+1's plan; their
 *   Task keeps the epoch that made its outputs), the other parts again,
 *   a dead node's moved to the live node the planner's evaluator likes
 *   best; the new plan goes PERSIST -> DISPATCH -> WAIT like a first one,
 *   and DISPATCH sends no task for a kept part but a "task.resend" to its
 *   node. When nothing can be kept (or with replicas, no node for a
 *   moved part, a kept copy lost: FAILED for a done part) the job is
 *   re-planned from its inputs (replan: a new job's planning, epoch E+1).
 *
 *   PREP and BUILD are skipped for a model and cut seen before (the
 *   planner's view and the cut plans are cached). PREP, BUILD and FINISH
 *   run on the threadpool (sched ops). The plan
 *   (DistPlan) is written in the job's record before anything is sent;
 *   after a restart a job in WAIT only waits (its bundles are in some
 *   spool), one still dispatching dispatches again: workers ignore a task
 *   they hold, inboxes drop a second copy of a tensor (its object id is
 *   derived from job, epoch, value and destination).
 *
 * The worker (any node, the controller too), per task (dtask):
 *
 *   WAIT (partition and inputs) ─> RUN (threadpool) ─> SEND (outputs into
 *   the spool) ─> done: TaskStatus DONE to the controller, the task bundle
 *   deleted.
 *
 *   The task's CONTROL bundle stays in the spool until then, so a restart
 *   finds it again (dnet's on_control at recovery). Each output someone
 *   reads is also kept (InboxDir/kept/<job>/<epoch>-<id>, written in RUN)
 *   until a job.end for epoch 0, or for a later epoch without
 *   keep_outputs; a "task.resend" sends those copies again under a new
 *   epoch's ids (the bundle stays in the spool until they are durable;
 *   then TaskStatus DONE for the new epoch, or FAILED if a copy is
 *   gone). Inputs are the inbox files of their derived object ids; a
 *   partition arrives as a PARTITION object and is imported into ModelDir
 *   under its SHA-256 (the cache the controller counts on: a second job
 *   with the same partitions ships no weights). A worker that lacks a
 *   partition the controller did not send asks for it (NEED_PARTITION).
 *
 * Threading: loop thread, except the work functions (sched_dist_work),
 * which touch only their op and the stores.
 */
#include "scheduler_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/sha.h>

#include "bundle.h"
#include "inbox.h"
#include "jobplan.h"
#include "lgerr.h"
#include "lgfs.h"
#include "log.h"
#include "model.h"
#include "net.h"
#include "nodehealth.h"
#include "npy.h"
#include "onnx_load.h"
#include "partition.h"
#include "plan.h"
#include "report.h"
#include "taskmsg.h"

#define TASK_LIFETIME_MS (30ull * 86400 * 1000) /* bundles of a job */
#define DONE_MEMORY 1024           /* finished tasks remembered */

/* ---- names and ids ------------------------------------------------------------ */

/* The object id of tensor `value` of (job, epoch) for node dst. */
static void tensor_oid(const char *job, unsigned epoch, const char *value,
                       const char *dst, uint8_t oid[WIRE_ID_LEN])
{
    /* "lagrange/t" NUL job NUL epoch NUL value NUL dst NUL, hashed. */
    uint8_t b[16 + 32 + 16 + WIRE_NAME_MAX + WIRE_NODE_MAX];
    uint8_t h[SHA256_DIGEST_LENGTH];
    size_t n = 0;
    char e[16];
    const char *part[5];
    snprintf(e, sizeof e, "%u", epoch);
    part[0] = "lagrange/t";
    part[1] = job;
    part[2] = e;
    part[3] = value;
    part[4] = dst;
    for (int i = 0; i < 5; i++) {
        size_t l = strnlen(part[i], WIRE_NAME_MAX - 1) + 1;
        if (n + l > sizeof b)
            l = sizeof b - n;
        memcpy(b + n, part[i], l);
        n += l;
    }
    SHA256(b, n, h);
    memcpy(oid, h, WIRE_ID_LEN);
}

/* InboxDir/<hex> of that tensor here. */
static void tensor_path(dsched *s, const char *job, unsigned epoch,
                        const char *value, char *buf, size_t len)
{
    uint8_t oid[WIRE_ID_LEN];
    char hex[33];
    tensor_oid(job, epoch, value, s->d->conf->node_id, oid);
    wire_bundle_id_hex(oid, hex);
    snprintf(buf, len, "%s/%s", s->d->conf->inbox_dir.path, hex);
}

/* Read the tensor at path (in InboxDir) into *t; on error, err says
 * "'name' does not parse: why" without the file's name, which means
 * nothing to whoever reads the job's error. */
static int read_tensor(const char *path, const char *what, const char *name,
                       lg_tensor **t, char *err, size_t errlen)
{
    char e[512];
    const char *why = e;
    size_t pl = strlen(path);
    int rc = lg_npy_read(path, t, e, sizeof e);
    if (rc == 0)
        return 0;
    if (!strncmp(e, path, pl) && !strncmp(e + pl, ": ", 2))
        why = e + pl + 2;
    return lg_errf(err, errlen, rc, "%s '%s' does not parse: %s", what,
                   name, why);
}

/* Send tensor `value` of (job, epoch) to dst as one object, under the id
 * dst's inbox knows it by: the bytes of file path, or data (len bytes,
 * taken: freed by the network, also on an error). 0 or -errno. */
static int send_tensor(dsched *s, const char *job, unsigned epoch,
                       const char *value, const char *dst, unsigned prio,
                       const char *path, uint8_t *data, size_t len,
                       dnet_sent_cb done, void *arg)
{
    char name[WIRE_NAME_MAX];
    uint8_t oid[WIRE_ID_LEN];
    dnet_object o;
    snprintf(name, sizeof name, "t/%s/%u/%s", job, epoch, value);
    tensor_oid(job, epoch, value, dst, oid);
    memset(&o, 0, sizeof o);
    o.dst = dst;
    o.name = name;
    o.kind = WIRE_KIND_TENSOR_CHUNK;
    o.object_id = oid;
    o.priority = prio;
    o.lifetime_ms = TASK_LIFETIME_MS;
    o.job = job;
    o.job_epoch = epoch;
    o.path = path;
    o.data = data;
    o.len = len;
    return dnet_send_object(s->d, &o, done, arg);
}

static int have_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int node_index(const dsched *s, const char *name)
{
    const plan_topology *t = s->d->conf->topo;
    for (int i = 0; i < t->n_nodes; i++)
        if (!strcmp(t->nodes[i].name, name))
            return i;
    return -1;
}

static const char *self_name(const dsched *s)
{
    return s->d->conf->node_id;
}

static int valid_sha(const char *h)
{
    if (strlen(h) != 64)
        return 0;
    for (int i = 0; i < 64; i++)
        if (!((h[i] >= '0' && h[i] <= '9') || (h[i] >= 'a' && h[i] <= 'f')))
            return 0;
    return 1;
}

/* ---- resident partitions, as the controller knows them ------------------------ */

static int resident(dsched *s, const char *node, const char *sha)
{
    for (int i = 0; i < s->n_res; i++)
        if (!strcmp(s->res[i].node, node) && !strcmp(s->res[i].sha, sha))
            return 1;
    return 0;
}

static void set_resident(dsched *s, const char *node, const char *sha)
{
    if (resident(s, node, sha))
        return;
    if (s->n_res == SCHED_MAX_RESIDENT) {
        memmove(&s->res[0], &s->res[1], sizeof *s->res * (SCHED_MAX_RESIDENT - 1));
        s->n_res--;
    }
    snprintf(s->res[s->n_res].node, sizeof s->res[0].node, "%s", node);
    snprintf(s->res[s->n_res].sha, sizeof s->res[0].sha, "%s", sha);
    s->n_res++;
}

/* ---- the controller ---------------------------------------------------------- */

/* An unpacked copy of dp whose done[] has room for every task. */
static Lagrange__V1__DistPlan *plan_own(const Lagrange__V1__DistPlan *dp)
{
    size_t len = lagrange__v1__dist_plan__get_packed_size(dp);
    uint8_t *buf = malloc(len ? len : 1);
    Lagrange__V1__DistPlan *p = NULL;
    uint32_t *done;
    if (!buf)
        return NULL;
    lagrange__v1__dist_plan__pack(dp, buf);
    p = lagrange__v1__dist_plan__unpack(NULL, len, buf);
    free(buf);
    if (!p)
        return NULL;
    if (p->n_done > p->n_tasks)
        p->n_done = p->n_tasks;
    if (!(done = realloc(p->done, (p->n_tasks + 1) * sizeof *done))) {
        lagrange__v1__dist_plan__free_unpacked(p, NULL);
        return NULL;
    }
    p->done = done;
    return p;
}

static void dist_free(djdist *x)
{
    if (!x)
        return;
    if (x->plan)
        lagrange__v1__dist_plan__free_unpacked(x->plan, NULL);
    free(x);
}

void sched_dist_free_job(djob *j)
{
    dist_free(j->dist);
    j->dist = NULL;
    for (int i = 0; i < j->n_place; i++)
        free(j->place[i]);
    free(j->place);
    j->place = NULL;
    j->n_place = 0;
}

static void set_reason(djob *j, jstate st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_reason(djob *j, jstate st, const char *fmt, ...)
{
    char r[REASON_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r, sizeof r, fmt, ap);
    va_end(ap);
    if (j->state == st && !strcmp(j->reason, r))
        return;
    sched_set_state(j, st, r);
    sched_notify(j, "state");
}

static void job_fail(djob *j, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void job_fail(djob *j, const char *fmt, ...)
{
    va_list ap;
    if (sched_is_final(j->state))
        return;
    va_start(ap, fmt);
    vsnprintf(j->error, sizeof j->error, fmt, ap);
    va_end(ap);
    log_info("job %s failed: %s", j->id, j->error);
    sched_set_state(j, LAGRANGE__V1__JOB_STATE__FAILED, "");
    sched_persist(j);
    sched_notify(j, "state");
}

/* Whether job j should be planned across nodes at all. */
static int wants_dist(dsched *s, djob *j)
{
    if (j->n_place > 0)
        return 1;
    return s->d->conf->distribute && s->d->net && s->d->conf->topo->n_nodes > 1;
}

static plan_model *pm_cached(dsched *s, const char *model)
{
    for (int i = 0; i < PMCACHE; i++)
        if (s->pmc[i].pm && !strcmp(s->pmc[i].id, model)) {
            s->pmc[i].used = ++s->xclock;
            return s->pmc[i].pm;
        }
    return NULL;
}

/* Keep pm (taken) as model's planner view, replacing the oldest. */
static void pm_keep(dsched *s, const char *model, plan_model *pm)
{
    int v = 0;
    if (pm_cached(s, model)) {
        plan_model_free(pm);
        return;
    }
    for (int i = 1; i < PMCACHE; i++)
        if (s->pmc[i].used < s->pmc[v].used)
            v = i;
    plan_model_free(s->pmc[v].pm);
    snprintf(s->pmc[v].id, sizeof s->pmc[v].id, "%s", model);
    s->pmc[v].pm = pm;
    s->pmc[v].used = ++s->xclock;
}

static int decide(dsched *s, djob *j, const plan_model *pm);
static int resident(dsched *s, const char *node, const char *sha);

/* Whether node n holds a partition of model, from a plan cut earlier,
 * whose graph-node range covers group g of pm. */
static int group_resident(dsched *s, const char *model, const plan_model *pm,
                          int g, int n)
{
    const char *node = s->d->conf->topo->nodes[n].name;
    for (int i = 0; i < BUILT_MAX; i++) {
        const dbuilt *e = &s->built[i];
        if (!e->jp || strcmp(e->model, model))
            continue;
        for (int k = 0; k < e->n_parts; k++)
            if (e->first[k] <= pm->grp[g].first &&
                pm->grp[g].last <= e->last[k] &&
                resident(s, node, e->jp->parts[k].sha256))
                return 1;
    }
    return 0;
}
static double predict(dsched *s, djob *j, const plan_model *pm);
static dbuilt *built_find(dsched *s, const char *model, int n,
                          const int *first, const int *last);
static int built_usable(dsched *s, const dbuilt *e);
static dbuilt *built_get(dsched *s, const char *model, int n,
                         const int *first, const int *last);
static void use_built(dsched *s, djob *j, const dbuilt *e);

/* A cached placement of model in n parts (made by an earlier job). */
static dbuilt *built_place(dsched *s, const char *model, int n)
{
    for (int i = 0; i < BUILT_MAX; i++) {
        dbuilt *e = &s->built[i];
        if (e->pm0 && e->jp && e->n_parts == n && !strcmp(e->model, model))
            return e;
    }
    return NULL;
}

/* Kick's question for the next PENDING job: 1 if it may run on the
 * local executor now, 0 if the distributed path has it (or is planning
 * it: PREP, while the model is loaded for the planner the first time). */
int sched_dist_local(dsched *s, djob *j)
{
    djdist *x = j->dist;
    const plan_model *pm;
    sop *op;
    if (x)
        return x->phase == DJ_LOCAL;
    if (!wants_dist(s, j))
        return 1;
    if (s->stopping || !(x = calloc(1, sizeof *x)))
        return 1;
    j->dist = x;
    if (!j->n_place && (pm = pm_cached(s, j->model)))
        return decide(s, j, pm);
    if (j->n_place) {
        dbuilt *e = built_place(s, j->model, j->n_place);
        if (built_usable(s, e)) {
            x->ctl = s->d->conf->node;
            x->n_parts = x->n_place = j->n_place;
            for (int i = 0; i < j->n_place; i++) {
                x->node[i] = node_index(s, j->place[i]);
                x->first[i] = e->first[i];
                x->last[i] = e->last[i];
            }
            x->predicted_s = predict(s, j, e->pm0);
            snprintf(x->summary, sizeof x->summary, "placed by the "
                     "submitter on %d nodes, completion predicted in %.3g s",
                     j->n_place, x->predicted_s);
            use_built(s, j, e);
            return 0;
        }
    }
    if (!(op = sched_op_new(s, OP_DIST_PREP, NULL, j))) {
        x->phase = DJ_LOCAL;
        return 1;
    }
    x->phase = DJ_PREP;
    if (sched_op_queue(op) < 0) {
        sched_op_free(op);
        x->phase = DJ_LOCAL;
        return 1;
    }
    set_reason(j, LAGRANGE__V1__JOB_STATE__PENDING, "Planning");
    return 0;
}

/* Threadpool: load the model and describe it for the planner. */
static void work_prep(sop *op)
{
    dsched *s = op->s;
    char path[4096];
    if ((op->rc = blobstore_path(s->models, op->job->model, path,
                                 sizeof path)) < 0) {
        lg_errf(op->err, sizeof op->err, op->rc, "model %s: no path",
                op->job->model);
        return;
    }
    if ((op->rc = lg_model_open(path, NULL, &op->g, op->err,
                                sizeof op->err)) < 0)
        return;
    /* An explicit placement cuts at any graph node: one group per node,
     * so that the prediction follows its cuts exactly. */
    op->rc = plan_model_from_graph(op->g, op->job->n_place ? 0 : 1, &op->pm,
                                   op->err, sizeof op->err);
}

/* Threadpool: cut the partitions and keep each in ModelDir. */
static void work_build(sop *op)
{
    dsched *s = op->s;
    djdist *x = op->job->dist;
    jobplan *jp = NULL;
    char path[4096];
    int rc;
    if (!op->g &&
        ((rc = blobstore_path(s->models, op->job->model, path,
                              sizeof path)) < 0 ||
         (rc = lg_model_open(path, NULL, &op->g, op->err,
                             sizeof op->err)) < 0)) {
        op->rc = rc;
        return;
    }
    rc = jobplan_build(op->g, x->first, x->last, x->node, x->n_parts,
                       x->ctl, &jp, op->err, sizeof op->err);
    if (rc < 0) {
        op->rc = rc;
        return;
    }
    op->jp = jp;
    for (int i = 0; i < jp->n_parts; i++) {
        jp_part *p = &jp->parts[i];
        uint64_t size;
        blobw *w = NULL;
        if (blobstore_stat(s->models, p->sha256, &size) == 0 &&
            size == p->onnx_len) {
            /* Already here: metadata too? */
            void *m;
            size_t ml;
            char e[64];
            if (blobstore_get_meta(s->models, p->sha256, &m, &ml,
                                   BLOBSTORE_META_MAX, e, sizeof e) == 0) {
                free(m);
                continue;
            }
        } else {
            if ((rc = blobstore_begin(s->models, p->onnx_len, p->sha256, &w,
                                      op->err, sizeof op->err)) < 0 ||
                (rc = blobw_write(w, p->onnx, p->onnx_len, op->err,
                                  sizeof op->err)) < 0) {
                blobw_abort(w);
                op->rc = rc;
                return;
            }
        }
        /* Commit (when written) and describe, as an upload would. */
        op->bw = w;
        op->is_model = 1;
        snprintf(op->name, sizeof op->name, "part-%.12s", p->sha256);
        if (w)
            sched_work_put_commit(op);
        else {
            snprintf(op->id, sizeof op->id, "%s", p->sha256);
            op->rc = sched_describe_into(op);
        }
        if (op->rc < 0)
            return;
        /* Hand the metadata to the loop (sched_add_model). */
        x->meta[i] = op->meta;
        x->meta_len[i] = op->meta_len;
        op->meta = NULL;
    }
    op->rc = 0;
}

static void dispatch(djob *j);

/* Start BUILD (cutting the partitions); g (taken) may be NULL: loaded
 * there. 0 (the job is STAGING) or -1 (FAILED). */
static int start_build(dsched *s, djob *j, lg_graph *g)
{
    djdist *x = j->dist;
    sop *b = sched_op_new(s, OP_DIST_BUILD, NULL, j);
    if (!b) {
        lg_graph_free(g);
        job_fail(j, "out of memory");
        return -1;
    }
    b->g = g;
    if (sched_op_queue(b) < 0) {
        sched_op_free(b);
        job_fail(j, "cannot queue the partitioning");
        return -1;
    }
    x->phase = DJ_BUILD;
    j->started = sched_now_ms();
    j->attempts++;
    set_reason(j, LAGRANGE__V1__JOB_STATE__STAGING, "Partitioning (%d "
               "partitions)", x->n_parts);
    return 0;
}

/* Plan j over the live topology with the planner's view of its model:
 * 1 if it runs here whole (LOCAL), 0 if distributed (BUILD started) or
 * failed. */
static int decide(dsched *s, djob *j, const plan_model *pm)
{
    djdist *x = j->dist;
    const plan_topology *t = s->d->conf->topo;
    int self = s->d->conf->node;
    plan_problem p;
    plan_sched ps;
    unsigned char *allowed, *resident_v = NULL;
    char err[256] = "";
    int n_grp = pm->n_grp, rc;
    x->ctl = self;
    x->phase = DJ_LOCAL;
    memset(&p, 0, sizeof p);
    p.m = pm;
    p.t = t;
    p.t0 = report_topo_now(s->d);
    p.src = p.dst = self;
    p.deadline = INFINITY;
    p.obj = j->objective == LAGRANGE__V1__OBJECTIVE__MIN_ENERGY
                ? PLAN_OBJ_ENERGY : PLAN_OBJ_TIME;
    p.budget_ms = 20;
    /* Only nodes known to be alive take work: this one, and those node
     * health calls up (heard lately; not suspect, dead, or never heard
     * from). */
    if (!(allowed = malloc((size_t)n_grp * (size_t)t->n_nodes)))
        return 1;
    for (int n = 0; n < t->n_nodes; n++) {
        dhealth_view v;
        int ok = n == self || (dhealth_node(s->d, n, &v) == 0 &&
                               !strcmp(v.state, "up"));
        for (int g = 0; g < n_grp; g++)
            allowed[(size_t)g * (size_t)t->n_nodes + (size_t)n] =
                (unsigned char)ok;
    }
    p.allowed = allowed;
    /* What each node holds: a group is resident on a node that holds a
     * partition (of a plan cut earlier for this model) covering it. A new
     * cut makes new partitions, so this is a hint that steers plans
     * towards the cuts and nodes used before, not a promise. */
    if ((resident_v = calloc((size_t)n_grp * (size_t)t->n_nodes, 1))) {
        for (int n = 0; n < t->n_nodes; n++)
            for (int g = 0; g < n_grp; g++)
                resident_v[(size_t)g * (size_t)t->n_nodes + (size_t)n] =
                    (unsigned char)(n == self ||
                                    group_resident(s, j->model, pm, g, n));
        p.resident = resident_v;
    }
    plan_sched_init(&ps);
    rc = plan_solve(&p, PLAN_STRAT_AUTO, &ps, err, sizeof err);
    if (rc == 0 && !ps.feasible && strstr(ps.reason, "lacks memory")) {
        /* Even the best plan, the whole model here included, needs more
         * memory than a node has: no node can run it. */
        job_fail(j, "no plan fits the nodes' memory: %s", ps.reason);
        plan_sched_free(&ps);
        free(allowed);
        free(resident_v);
        return 0;
    }
    if (rc < 0 || !ps.feasible || ps.n_parts < 1 ||
        ps.n_parts > JOBPLAN_MAX_PARTS) {
        log_debug("job %s: no distributed plan (%s); it runs here", j->id,
                  *err ? err : ps.reason);
        plan_sched_free(&ps);
        free(allowed);
        free(resident_v);
        return 1;
    }
    free(allowed);
    free(resident_v);
    if (ps.n_parts == 1 && ps.parts[0].node == self) {
        plan_sched_free(&ps);
        return 1;
    }
    x->n_parts = ps.n_parts;
    for (int i = 0; i < ps.n_parts; i++) {
        x->node[i] = ps.parts[i].node;
        x->first[i] = pm->grp[ps.parts[i].g0].first;
        x->last[i] = pm->grp[ps.parts[i].g1].last;
    }
    x->predicted_s = ps.completion - p.t0;
    snprintf(x->summary, sizeof x->summary, "%d partitions by the %s "
             "planner, completion in %.3g s", ps.n_parts, ps.strategy,
             x->predicted_s);
    plan_sched_free(&ps);
    {
        dbuilt *e = built_find(s, j->model, x->n_parts, x->first, x->last);
        if (built_usable(s, e))
            use_built(s, j, e);
        else
            start_build(s, j, NULL);
    }
    return 0;
}

/* The planner's completion time (s after now) for j's ranges on nodes
 * node[] (one per part): each group goes where its first graph node
 * does. -1 when it cannot say (the reason in why, when not NULL); with
 * verbose, the parts' times are logged (debug) and a failure (info). */
static double eval_nodes(dsched *s, djob *j, const plan_model *pm,
                         const int *node, int verbose, char *why,
                         size_t whylen)
{
    djdist *x = j->dist;
    plan_problem p;
    plan_sched ps;
    int *assign = malloc(sizeof *assign * (size_t)(pm->n_grp + 1));
    unsigned char *res = NULL;
    double r = -1;
    if (why && whylen)
        snprintf(why, whylen, "out of memory");
    if (!assign)
        return -1;
    for (int g = 0; g < pm->n_grp; g++) {
        int k = 0;
        while (k + 1 < x->n_parts && pm->grp[g].first > x->last[k])
            k++;
        assign[g] = node[k];
    }
    memset(&p, 0, sizeof p);
    p.m = pm;
    p.t = s->d->conf->topo;
    p.t0 = report_topo_now(s->d);
    p.src = p.dst = s->d->conf->node;
    p.deadline = INFINITY;
    /* Weights the nodes lack are shipped first (see decide). */
    if ((res = calloc((size_t)pm->n_grp * (size_t)p.t->n_nodes, 1))) {
        for (int n = 0; n < p.t->n_nodes; n++)
            for (int g = 0; g < pm->n_grp; g++)
                res[(size_t)g * (size_t)p.t->n_nodes + (size_t)n] =
                    (unsigned char)(n == p.src ||
                                    group_resident(s, j->model, pm, g, n));
        p.resident = res;
    }
    plan_sched_init(&ps);
    if (plan_eval(&p, assign, &ps) == 0 && ps.feasible) {
        r = ps.completion - p.t0;
        for (int i = 0; i < ps.n_parts && verbose; i++)
            log_debug("job %s: predicted part on %s, groups %d-%d, %.3f to "
                      "%.3f s", j->id, p.t->nodes[ps.parts[i].node].name,
                      ps.parts[i].g0, ps.parts[i].g1,
                      ps.parts[i].start - p.t0, ps.parts[i].finish - p.t0);
    } else {
        if (verbose)
            log_info("job %s: no prediction for its placement: %s", j->id,
                     ps.reason);
        if (why && whylen) {
            size_t l = strnlen(ps.reason, whylen - 1);
            memcpy(why, ps.reason, l);
            why[l] = 0;
        }
    }
    plan_sched_free(&ps);
    free(assign);
    free(res);
    return r;
}

/* The planner's completion time (s after now) for j's ranges and nodes
 * (an explicit placement). 0 when it cannot say. */
static double predict(dsched *s, djob *j, const plan_model *pm)
{
    double r = eval_nodes(s, j, pm, j->dist->node, 1, NULL, 0);
    return r < 0 ? 0 : r;
}

/* Back on the loop after PREP: plan, then BUILD or LOCAL. */
static void after_prep(sop *op)
{
    dsched *s = op->s;
    djob *j = op->job;
    djdist *x = j->dist;
    if (sched_is_final(j->state) || s->stopping) {
        x->phase = DJ_LOCAL;     /* nothing more to plan */
        return;
    }
    if (op->rc < 0) {
        if (j->n_place) {
            job_fail(j, "cannot plan: %s", op->err);
            return;
        }
        log_warn("job %s: cannot plan it across nodes (%s); it runs here",
                 j->id, op->err);
        x->phase = DJ_LOCAL;
        return;
    }
    x->ctl = s->d->conf->node;
    if (j->n_place) {
        if (j->n_place > op->g->n_nodes) {
            job_fail(j, "placement names %d nodes; the model has only %d "
                     "graph nodes to split", j->n_place, op->g->n_nodes);
            return;
        }
        int bounds[JOBPLAN_MAX_PARTS];
        char err[256];
        x->n_parts = j->n_place;
        x->n_place = j->n_place;
        for (int i = 0; i < j->n_place; i++)
            x->node[i] = node_index(s, j->place[i]);
        if (lg_partition_balanced(op->g, j->n_place, bounds, err,
                                  sizeof err) < 0) {
            job_fail(j, "cannot split the model in %d: %s", j->n_place, err);
            return;
        }
        for (int i = 0; i < j->n_place; i++) {
            x->first[i] = bounds[i];
            x->last[i] = i + 1 < j->n_place ? bounds[i + 1] - 1
                                            : op->g->n_nodes - 1;
        }
        x->predicted_s = predict(s, j, op->pm);
        snprintf(x->summary, sizeof x->summary, "placed by the submitter on "
                 "%d nodes, completion predicted in %.3g s", j->n_place,
                 x->predicted_s);
        {
            dbuilt *e = built_get(s, j->model, j->n_place, x->first,
                                  x->last);
            plan_model_free(e->pm0);
            e->pm0 = op->pm;
            op->pm = NULL;
        }
        start_build(s, j, op->g);
        op->g = NULL;
        return;
    }
    pm_keep(s, j->model, op->pm);
    op->pm = NULL;
    decide(s, j, pm_cached(s, j->model));
}

static void dispatch(djob *j);

/* ---- built plans, cached per (model, ranges) ----------------------------------- */

static dbuilt *built_find(dsched *s, const char *model, int n,
                          const int *first, const int *last)
{
    for (int i = 0; i < BUILT_MAX; i++) {
        dbuilt *e = &s->built[i];
        if (!e->model[0] || e->n_parts != n || strcmp(e->model, model))
            continue;
        if (first && (memcmp(e->first, first, sizeof *first * (size_t)n) ||
                      memcmp(e->last, last, sizeof *last * (size_t)n)))
            continue;
        e->used = ++s->xclock;
        return e;
    }
    return NULL;
}

/* The entry for (model, ranges), made (replacing the oldest) if new. */
static dbuilt *built_get(dsched *s, const char *model, int n,
                         const int *first, const int *last)
{
    dbuilt *e = built_find(s, model, n, first, last);
    if (e)
        return e;
    e = &s->built[0];
    for (int i = 1; i < BUILT_MAX; i++)
        if (s->built[i].used < e->used)
            e = &s->built[i];
    jobplan_free(e->jp);
    plan_model_free(e->pm0);
    memset(e, 0, sizeof *e);
    snprintf(e->model, sizeof e->model, "%s", model);
    e->n_parts = n;
    memcpy(e->first, first, sizeof *first * (size_t)n);
    memcpy(e->last, last, sizeof *last * (size_t)n);
    e->used = ++s->xclock;
    return e;
}

/* A cached plan is usable if every partition is still in ModelDir. */
static int built_usable(dsched *s, const dbuilt *e)
{
    if (!e || !e->jp)
        return 0;
    for (int i = 0; i < e->jp->n_parts; i++)
        if (!sched_find_model_id(s, e->jp->parts[i].sha256))
            return 0;
    return 1;
}

static int node_alive(dsched *s, int n)
{
    dhealth_view v;
    return n == s->d->conf->node ||
           (dhealth_node(s->d, n, &v) == 0 && !strcmp(v.state, "up"));
}

/* With replicas 2: a second node for each part, alive and not the
 * part's own; a node that runs no primary part first, then one with a
 * direct link to the primary, then any (x->node2, -1: none found). */
static void choose_replicas(dsched *s, djob *j, int n)
{
    djdist *x = j->dist;
    const plan_topology *t = s->d->conf->topo;
    for (int i = 0; i < n; i++) {
        int best = -1, best_score = -1;
        x->node2[i] = -1;
        if (j->replicas < 2)
            continue;
        for (int c = 0; c < t->n_nodes; c++) {
            int score = 0, primary = 0;
            if (c == x->node[i] || !node_alive(s, c))
                continue;
            for (int k = 0; k < n; k++)
                primary |= x->node[k] == c;
            score += primary ? 0 : 2;
            for (int l = t->out_first[x->node[i]];
                 l < t->out_first[x->node[i] + 1]; l++)
                if (t->links[t->out_links[l]].to == c)
                    score += 1;
            if (score > best_score) {
                best = c;
                best_score = score;
            }
        }
        x->node2[i] = best;
        if (best < 0)
            log_info("job %s: no second node for partition %d's replica",
                     j->id, i + 1);
    }
}

/* jp's partitions on j's nodes (x->node): the plan into the record (the
 * destinations of each output follow the nodes, not jp's), then dispatch.
 * jp is only read. */
static void make_plan(djob *j, const jobplan *jp)
{
    dsched *s = j->s;
    djdist *x = j->dist;
    const plan_topology *t = s->d->conf->topo;
    Lagrange__V1__DistPlan dp = LAGRANGE__V1__DIST_PLAN__INIT;
    Lagrange__V1__Task tk[JOBPLAN_MAX_PARTS], *tkp[JOBPLAN_MAX_PARTS];
    Lagrange__V1__Task rk[JOBPLAN_MAX_PARTS], *rkp[JOBPLAN_MAX_PARTS];
    Lagrange__V1__TaskOutput **outs[JOBPLAN_MAX_PARTS] = { 0 };
    Lagrange__V1__TaskOutput *outv[JOBPLAN_MAX_PARTS] = { 0 };
    char ***dsts[JOBPLAN_MAX_PARTS] = { 0 };
    int ok = 1, nr = 0;
    choose_replicas(s, j, jp->n_parts);
    dp.epoch = x->epoch = j->next_epoch ? j->next_epoch : 1;
    dp.n_tasks = (size_t)jp->n_parts;
    dp.tasks = tkp;
    dp.n_outputs = (size_t)jp->n_outputs;
    dp.outputs = jp->outputs;
    dp.predicted_s = x->predicted_s;
    dp.summary = x->summary;
    for (int i = 0; i < jp->n_parts && ok; i++) {
        const jp_part *p = &jp->parts[i];
        Lagrange__V1__Task *k = &tk[i];
        lagrange__v1__task__init(k);
        tkp[i] = k;
        k->job = j->id;
        k->epoch = x->epoch;
        k->part = (uint32_t)i;
        k->n_parts = (uint32_t)jp->n_parts;
        k->controller = (char *)self_name(s);
        k->node = t->nodes[x->node[i]].name;
        k->partition_sha256 = (char *)p->sha256;
        k->partition_size = p->onnx_len;
        k->n_inputs = (size_t)p->n_in;
        k->inputs = p->in;
        k->priority = j->priority;
        k->deadline_unix_ms = j->deadline;
        if (!(outs[i] = calloc((size_t)p->n_out + 1, sizeof *outs[i])) ||
            !(outv[i] = calloc((size_t)p->n_out + 1, sizeof *outv[i])) ||
            !(dsts[i] = calloc((size_t)p->n_out + 1, sizeof *dsts[i]))) {
            ok = 0;
            break;
        }
        for (int o = 0; o < p->n_out && ok; o++) {
            Lagrange__V1__TaskOutput *to = &outv[i][o];
            const char *v = p->out[o].name;
            int nd = 0;
            lagrange__v1__task_output__init(to);
            outs[i][o] = to;
            to->name = (char *)v;
            if (!(dsts[i][o] = calloc(2 * (size_t)jp->n_parts + 2,
                                      sizeof *dsts[i][o]))) {
                ok = 0;
                break;
            }
            /* Later parts that read v (and their replicas), then the
             * controller for a graph output; each node once. */
            for (int q = i + 1; q <= jp->n_parts; q++) {
                const char *node[2] = { NULL, NULL };
                int reads = 0;
                if (q < jp->n_parts) {
                    for (int in = 0; in < jp->parts[q].n_in; in++)
                        reads |= !strcmp(jp->parts[q].in[in], v);
                    node[0] = t->nodes[x->node[q]].name;
                    if (x->node2[q] >= 0)
                        node[1] = t->nodes[x->node2[q]].name;
                } else {
                    for (int g = 0; g < jp->n_outputs; g++)
                        reads |= !strcmp(jp->outputs[g], v);
                    node[0] = self_name(s);
                }
                for (int r = 0; r < 2 && reads && node[r]; r++) {
                    int seen = 0;
                    for (int d = 0; d < nd; d++)
                        seen |= !strcmp(dsts[i][o][d], node[r]);
                    if (!seen)
                        dsts[i][o][nd++] = (char *)node[r];
                }
            }
            to->n_dst = (size_t)nd;
            to->dst = dsts[i][o];
        }
        k->n_outputs = (size_t)p->n_out;
        k->outputs = outs[i];
        if (x->node2[i] >= 0) {
            rk[nr] = *k;         /* the same task, for another node */
            rk[nr].node = t->nodes[x->node2[i]].name;
            rkp[nr] = &rk[nr];
            nr++;
        }
    }
    dp.n_replicas = (size_t)nr;
    dp.replicas = rkp;
    if (ok && !(x->plan = plan_own(&dp)))
        ok = 0;
    for (int i = 0; i < jp->n_parts; i++) {
        for (int o = 0; o < jp->parts[i].n_out && dsts[i]; o++)
            free(dsts[i][o]);
        free(dsts[i]);
        free(outs[i]);
        free(outv[i]);
    }
    if (!ok) {
        job_fail(j, "out of memory making the plan");
        return;
    }
    log_info("job %s: %s", j->id, x->summary);
    for (size_t i = 0; i < x->plan->n_tasks; i++) {
        const Lagrange__V1__Task *k = x->plan->tasks[i];
        log_info("job %s: partition %zu/%zu on %s%s%s: %.12s (%llu bytes), "
                 "%zu inputs, %zu outputs", j->id, i + 1, x->plan->n_tasks,
                 t->nodes[x->node[i]].name, x->node2[i] >= 0 ? " and " : "",
                 x->node2[i] >= 0 ? t->nodes[x->node2[i]].name : "",
                 k->partition_sha256, (unsigned long long)k->partition_size,
                 k->n_inputs, k->n_outputs);
    }
    dispatch(j);
}

/* Use a cached plan: STAGING at once, no PREP or BUILD. */
static void use_built(dsched *s, djob *j, const dbuilt *e)
{
    djdist *x = j->dist;
    x->phase = DJ_BUILD;
    j->started = sched_now_ms();
    j->attempts++;
    log_debug("job %s: partitions cached (%d)", j->id, e->n_parts);
    (void)s;
    make_plan(j, e->jp);
}

/* After BUILD: the partitions' metadata, the plan, the cache. */
static void after_build(sop *op)
{
    dsched *s = op->s;
    djob *j = op->job;
    djdist *x = j->dist;
    jobplan *jp = op->jp;
    dbuilt *e;
    for (int i = 0; i < JOBPLAN_MAX_PARTS; i++)
        if (x->meta[i]) {
            sched_add_model(s, jp ? jp->parts[i].sha256 : "", x->meta[i],
                            x->meta_len[i]);
            free(x->meta[i]);
            x->meta[i] = NULL;
        }
    if (sched_is_final(j->state) || s->stopping) {
        x->phase = DJ_LOCAL;
        return;                  /* op_free frees jp */
    }
    if (op->rc < 0) {
        if (j->n_place || op->rc != LG_EUNSUP) {
            job_fail(j, "cannot partition the model: %s", op->err);
        } else {
            log_warn("job %s: cannot partition it (%s); it runs here", j->id,
                     op->err);
            x->phase = DJ_LOCAL;
            sched_set_state(j, LAGRANGE__V1__JOB_STATE__PENDING,
                            "WaitingExecutor");
        }
        return;
    }
    make_plan(j, jp);
    /* Keep it for the next job on the same model and cuts (without the
     * ONNX bytes, which are in ModelDir). */
    if ((e = built_get(s, j->model, jp->n_parts, x->first, x->last))) {
        for (int i = 0; i < jp->n_parts; i++) {
            free(jp->parts[i].onnx);
            jp->parts[i].onnx = NULL;
        }
        jobplan_free(e->jp);
        e->jp = jp;
        op->jp = NULL;
    }
    sched_partition_evict(s);
}

/* Node of part i of j's plan (the name in the task's order). */
static const char *part_node(dsched *s, djob *j, size_t i)
{
    return s->d->conf->topo->nodes[j->dist->node[i]].name;
}

static void check_outputs(djob *j);

/* Whether part k of plan p is done. */
static int part_done(const Lagrange__V1__DistPlan *p, size_t k)
{
    for (size_t d = 0; d < p->n_done; d++)
        if (p->done[d] == k)
            return 1;
    return 0;
}

/* Part k of j's plan is done (once). */
static void mark_done(djob *j, uint32_t k)
{
    Lagrange__V1__DistPlan *p = j->dist->plan;
    for (size_t i = 0; i < p->n_done; i++)
        if (p->done[i] == k)
            return;
    if (p->n_done < p->n_tasks) {
        p->done[p->n_done++] = k;   /* done[] holds n_tasks (plan_own) */
        j->progress = (double)p->n_done / (double)p->n_tasks;
        sched_persist(j);
    }
}

/* A stage-only job: COMPLETED (no outputs) once every partition is
 * stored where it belongs. */
static void stage_check(djob *j)
{
    djdist *x = j->dist;
    const Lagrange__V1__DistPlan *p = x->plan;
    if (sched_is_final(j->state) || x->phase != DJ_WAIT)
        return;
    if (p->n_done < p->n_tasks) {
        set_reason(j, LAGRANGE__V1__JOB_STATE__RUNNING,
                   "Staging(%zu/%zu partitions stored)", p->n_done,
                   p->n_tasks);
        return;
    }
    x->phase = DJ_DONE;
    if (sched_complete(j, NULL, 0, NULL) == 0)
        log_info("job %s: %zu partitions staged", j->id, p->n_tasks);
}

/* A node stored a partition (part.stored): it holds it now; a stage-only
 * job waiting for that (node, partition) moves on. */
static void on_stored(dsched *s, const Lagrange__V1__PartitionStored *ps)
{
    if (!valid_sha(ps->sha256) || node_index(s, ps->node) < 0)
        return;
    set_resident(s, ps->node, ps->sha256);
    for (int i = 0; i < s->n_jobs; i++) {
        djob *j = s->jv[i];
        djdist *x = j->dist;
        if (!j->stage_only || !x || !x->plan || sched_is_final(j->state))
            continue;
        for (size_t k = 0; k < x->plan->n_tasks; k++)
            if (!strcmp(x->plan->tasks[k]->node, ps->node) &&
                !strcmp(x->plan->tasks[k]->partition_sha256, ps->sha256))
                mark_done(j, (uint32_t)k);
        stage_check(j);
    }
}

static void dispatch_sent(void *arg, int rc, const char *err)
{
    djob *j = arg;
    djdist *x = j->dist;
    x->sends--;
    if (rc < 0 && !x->send_failed++)
        snprintf(x->send_err, sizeof x->send_err, "%s", err ? err : "?");
    if (x->sends > 0)
        return;
    if (x->send_failed) {
        if (!j->s->stopping)
            job_fail(j, "dispatch: %d sends failed: %s", x->send_failed,
                     x->send_err);
        return;
    }
    x->plan->dispatched = 1;
    x->phase = DJ_WAIT;
    x->t_wait = x->t_progress = sched_now_ms();
    sched_persist(j);
    if (j->stage_only) {
        stage_check(j);
        return;
    }
    if (!sched_is_final(j->state))
        set_reason(j, LAGRANGE__V1__JOB_STATE__RUNNING,
                   "Transferring(inputs to %s)", part_node(j->s, j, 0));
    check_outputs(j);
}

/* Task k, done in an earlier epoch (k->epoch) of j's plan, kept by a
 * re-plan from persisted tensors: ask its node to send the outputs it
 * kept again under this epoch's ids (task.resend). 0 or -errno. */
static int send_resend(dsched *s, djob *j, const Lagrange__V1__Task *k)
{
    const Lagrange__V1__DistPlan *dp = j->dist->plan;
    Lagrange__V1__TaskResend r = LAGRANGE__V1__TASK_RESEND__INIT;
    Lagrange__V1__TaskOutput *outs[256];
    uint8_t *buf;
    size_t len;
    int rc;
    r.job = k->job;
    r.epoch = dp->epoch;
    r.from_epoch = k->epoch;
    r.part = k->part;
    r.n_parts = k->n_parts;
    r.controller = (char *)self_name(s);
    r.priority = k->priority;
    r.outputs = outs;
    for (size_t o = 0; o < k->n_outputs && r.n_outputs < 256; o++)
        if (k->outputs[o]->n_dst)
            outs[r.n_outputs++] = k->outputs[o];
    if (!r.n_outputs)
        return 0;                /* nobody needs what it made */
    len = lagrange__v1__task_resend__get_packed_size(&r);
    if (!(buf = malloc(len ? len : 1)))
        return -ENOMEM;
    lagrange__v1__task_resend__pack(&r, buf);
    rc = dnet_send_control_job(s->d, k->node, "task.resend", buf, len,
                               TASK_LIFETIME_MS, r.job, r.epoch);
    free(buf);
    return rc;
}

/* Send every task, the partitions their nodes lack and the graph inputs;
 * the job is STAGING until they are all durable here. Parts done already
 * (kept by a re-plan from persisted tensors) are not sent: their nodes
 * are asked to send what they kept again. */
static void dispatch(djob *j)
{
    dsched *s = j->s;
    djdist *x = j->dist;
    Lagrange__V1__DistPlan *dp = x->plan;
    char path[4096];
    int shipped = 0, skipped = 0;
    if (!x->plan_durable) {
        /* The plan reaches the disk before any of it leaves: a restart
         * then finds the plan its tasks belong to. */
        x->phase = DJ_PERSIST;
        sched_persist(j);
        return;
    }
    x->phase = DJ_DISPATCH;
    x->sends = 1;                /* held until the loop below ends */
    x->send_failed = 0;
    for (size_t i = 0; i < dp->n_tasks + dp->n_replicas; i++) {
        Lagrange__V1__Task *k = i < dp->n_tasks ? dp->tasks[i]
                                                : dp->replicas[i - dp->n_tasks];
        const char *node = k->node;
        uint8_t *buf;
        size_t len;
        int rc;
        if (!j->stage_only && part_done(dp, k->part)) {
            skipped++;
            if (i < dp->n_tasks && k->epoch != dp->epoch &&
                (rc = send_resend(s, j, k)) < 0) {
                x->send_failed++;
                snprintf(x->send_err, sizeof x->send_err, "task.resend %zu "
                         "for %s: %s", i, node, strerror(-rc));
            }
            continue;
        }
        sched_model_touch(s, k->partition_sha256);
        k->partition_follows = (j->stage_only ||
                                !resident(s, node, k->partition_sha256)) &&
                               strcmp(node, self_name(s)) != 0;
        if (j->stage_only && !k->partition_follows)
            mark_done(j, k->part);   /* here already (BUILD stored it) */
        if (k->partition_follows) {
            char name[80];
            dnet_object o;
            memset(&o, 0, sizeof o);
            snprintf(name, sizeof name, "p/%s", k->partition_sha256);
            if ((rc = blobstore_path(s->models, k->partition_sha256, path,
                                     sizeof path)) == 0) {
                o.dst = node;
                o.name = name;
                o.kind = WIRE_KIND_PARTITION;
                o.priority = j->priority;
                o.lifetime_ms = TASK_LIFETIME_MS;
                o.job = j->id;
                o.job_epoch = dp->epoch;
                o.path = path;
                rc = dnet_send_object(s->d, &o, dispatch_sent, j);
            }
            if (rc < 0) {
                x->send_failed++;
                snprintf(x->send_err, sizeof x->send_err, "partition %zu for "
                         "%s: %s", i, node, strerror(-rc));
            } else {
                x->sends++;
                shipped++;
                set_resident(s, node, k->partition_sha256);
            }
        }
        if (j->stage_only)
            continue;            /* the partition only */
        len = lagrange__v1__task__get_packed_size(k);
        if (!(buf = malloc(len ? len : 1))) {
            x->send_failed++;
            continue;
        }
        lagrange__v1__task__pack(k, buf);
        if ((rc = dnet_send_control_job(s->d, node, "task", buf, len,
                                        TASK_LIFETIME_MS, j->id,
                                        dp->epoch)) < 0) {
            x->send_failed++;
            snprintf(x->send_err, sizeof x->send_err, "task %zu for %s: %s",
                     i, node, strerror(-rc));
        }
        free(buf);
        /* Graph inputs this part reads: from JobDir. */
        for (size_t in = 0; in < k->n_inputs; in++)
            for (int g = 0; g < j->n_in; g++) {
                char rel[32];
                if (strcmp(j->in_names[g], k->inputs[in]))
                    continue;
                snprintf(rel, sizeof rel, "in-%d.npy", g);
                if (jobdb_path(s->jobs, j->id, rel, path, sizeof path) < 0)
                    continue;
                if ((rc = send_tensor(s, j->id, dp->epoch, k->inputs[in],
                                      node, j->priority, path, NULL, 0,
                                      dispatch_sent, j)) < 0) {
                    x->send_failed++;
                    snprintf(x->send_err, sizeof x->send_err, "input '%s' "
                             "for %s: %s", k->inputs[in], node,
                             strerror(-rc));
                } else
                    x->sends++;
            }
    }
    if (j->stage_only)
        set_reason(j, LAGRANGE__V1__JOB_STATE__STAGING, "Staging(%d "
                   "partitions shipped, %zu/%zu stored)", shipped,
                   dp->n_done, dp->n_tasks);
    else
        set_reason(j, LAGRANGE__V1__JOB_STATE__STAGING, "Staging(%zu tasks, "
                   "%d partitions shipped)",
                   dp->n_tasks + dp->n_replicas - (size_t)skipped, shipped);
    dispatch_sent(j, 0, NULL);   /* let go of the hold */
}

/* Every graph output in the inbox? Then FINISH. */
static void check_outputs(djob *j)
{
    dsched *s = j->s;
    djdist *x = j->dist;
    char path[4096];
    sop *op;
    if (!x || !x->plan || x->phase != DJ_WAIT || sched_is_final(j->state) ||
        j->stage_only)
        return;
    for (size_t i = 0; i < x->plan->n_outputs; i++) {
        tensor_path(s, j->id, x->plan->epoch, x->plan->outputs[i], path,
                    sizeof path);
        if (!have_file(path))
            return;
    }
    if (!(op = sched_op_new(s, OP_DIST_FINISH, NULL, j)) ||
        sched_op_queue(op) < 0) {
        if (op)
            sched_op_free(op);
        log_err("job %s: cannot queue its completion; retried when an "
                "output arrives again", j->id);
        return;
    }
    x->phase = DJ_FINISH;
    set_reason(j, LAGRANGE__V1__JOB_STATE__RUNNING, "Collecting outputs");
}

/* Threadpool: outputs from the inbox into JobDir/out-<k>.npy. */
static void work_finish(sop *op)
{
    dsched *s = op->s;
    djob *j = op->job;
    djdist *x = j->dist;
    int n = (int)x->plan->n_outputs;
    if (!(op->tens = calloc((size_t)n + 1, sizeof *op->tens))) {
        op->rc = lg_errf(op->err, sizeof op->err, -ENOMEM, "out of memory");
        return;
    }
    op->n_tens = n;
    op->bad_out = -1;
    for (int i = 0; i < n; i++) {
        char path[4096], rel[32];
        op->bad_out = i;
        void *buf;
        size_t len;
        tensor_path(s, j->id, x->plan->epoch, x->plan->outputs[i], path,
                    sizeof path);
        if ((op->rc = read_tensor(path, "output", x->plan->outputs[i],
                                  &op->tens[i], op->err,
                                  sizeof op->err)) < 0)
            return;
        snprintf(rel, sizeof rel, "out-%d.npy", i);
        if ((op->rc = lg_npy_encode(op->tens[i], &buf, &len, op->err,
                                    sizeof op->err)) < 0)
            return;
        op->rc = jobdb_put_file(s->jobs, j->id, rel, buf, len, op->err,
                                sizeof op->err);
        free(buf);
        if (op->rc < 0)
            return;
    }
    op->bad_out = -1;
    op->rc = 0;
}

static void after_finish(sop *op)
{
    djob *j = op->job;
    djdist *x = j->dist;
    if (sched_is_final(j->state))
        return;
    if (op->rc < 0) {
        /* Name the partition and node that made the bad output. */
        const char *node = "?";
        size_t part = 0;
        for (size_t k = 0; k < x->plan->n_tasks; k++)
            for (size_t o = 0; o < x->plan->tasks[k]->n_outputs; o++)
                if (op->bad_out >= 0 &&
                    (size_t)op->bad_out < x->plan->n_outputs &&
                    !strcmp(x->plan->tasks[k]->outputs[o]->name,
                            x->plan->outputs[op->bad_out])) {
                    node = x->plan->tasks[k]->node;
                    part = k + 1;
                }
        if (part)
            job_fail(j, "collecting the outputs: from partition %zu/%zu on "
                     "%s: %s", part, x->plan->n_tasks, node, op->err);
        else
            job_fail(j, "collecting the outputs: %s", op->err);
        return;
    }
    x->phase = DJ_DONE;
    if (sched_complete(j, op->tens, op->n_tens,
                       (const char *const *)x->plan->outputs) == 0)
        log_info("job %s completed on %zu nodes in %.3f s (predicted %.3f s)",
                 j->id, x->plan->n_tasks,
                 (double)(j->finished - j->created) / 1e3,
                 x->plan->predicted_s);
}

static void replan(dsched *s, djob *j, const char *why);

/* The controller hears from a worker. */
static void on_status(dsched *s, const Lagrange__V1__TaskStatus *st)
{
    djob *j = sched_find_job(s, st->job);
    djdist *x = j ? j->dist : NULL;
    const char *node = st->node;
    if (!x || !x->plan || st->epoch != x->plan->epoch ||
        st->part >= x->plan->n_tasks || sched_is_final(j->state))
        return;
    x->t_progress = sched_now_ms();
    if (st->state > x->heard[st->part])
        x->heard[st->part] = (unsigned char)st->state;
    switch (st->state) {
    case LAGRANGE__V1__TASK_STATUS__STATE__NEED_PARTITION: {
        const Lagrange__V1__Task *k = x->plan->tasks[st->part];
        char path[4096], name[80];
        dnet_object o;
        memset(&o, 0, sizeof o);
        snprintf(name, sizeof name, "p/%s", k->partition_sha256);
        log_info("job %s: %s lacks partition %u (%.12s); shipping it",
                 j->id, node, st->part + 1, k->partition_sha256);
        if (blobstore_path(s->models, k->partition_sha256, path,
                           sizeof path) == 0) {
            o.dst = node;
            o.name = name;
            o.kind = WIRE_KIND_PARTITION;
            o.priority = j->priority;
            o.lifetime_ms = TASK_LIFETIME_MS;
            o.job = j->id;
            o.job_epoch = x->plan->epoch;
            o.path = path;
            if (dnet_send_object(s->d, &o, NULL, NULL) < 0)
                job_fail(j, "cannot ship partition %u to %s", st->part + 1,
                         node);
        }
        break;
    }
    case LAGRANGE__V1__TASK_STATUS__STATE__WAITING:
        if (!strncmp(st->detail, "WaitingPower(", 13)) {
            snprintf(x->power[st->part], sizeof x->power[0], "%s",
                     st->detail);
            set_reason(j, LAGRANGE__V1__JOB_STATE__RUNNING, "%s",
                       st->detail);
        }
        break;
    case LAGRANGE__V1__TASK_STATUS__STATE__RUNNING:
        set_resident(s, node, x->plan->tasks[st->part]->partition_sha256);
        set_reason(j, LAGRANGE__V1__JOB_STATE__RUNNING,
                   "Running(%s: part %u/%zu)", node, st->part + 1,
                   x->plan->n_tasks);
        break;
    case LAGRANGE__V1__TASK_STATUS__STATE__DONE: {
        size_t done;
        mark_done(j, st->part);
        done = x->plan->n_done;
        if (done < x->plan->n_tasks) {
            size_t next = st->part + 1 < x->plan->n_tasks ? st->part + 1
                                                          : st->part;
            set_reason(j, LAGRANGE__V1__JOB_STATE__RUNNING,
                       "Transferring(%s->%s, part %u done)", node,
                       part_node(s, j, next), st->part + 1);
        } else
            sched_notify(j, "progress");
        break;
    }
    case LAGRANGE__V1__TASK_STATUS__STATE__FAILED: {
        /* An input that does not parse: name who sent it too. */
        char from[200] = "";
        const char *q = !strncmp(st->detail, "input '", 7) ? st->detail + 7
                                                           : NULL;
        const char *qe = q ? strchr(q, '\'') : NULL;
        if (part_done(x->plan, st->part)) {
            /* Only a task.resend fails for a part done: what its node
             * kept is gone. Run it all again. */
            char why[400];
            snprintf(why, sizeof why, "partition %u/%zu's kept outputs at "
                     "%s: %s", st->part + 1, x->plan->n_tasks, node,
                     st->detail);
            replan(s, j, why);
            break;
        }
        for (size_t k = 0; qe && k < x->plan->n_tasks && !*from; k++)
            for (size_t o = 0; o < x->plan->tasks[k]->n_outputs; o++)
                if (strlen(x->plan->tasks[k]->outputs[o]->name) ==
                        (size_t)(qe - q) &&
                    !strncmp(x->plan->tasks[k]->outputs[o]->name, q,
                             (size_t)(qe - q))) {
                    snprintf(from, sizeof from, " (sent by partition "
                             "%zu/%zu on %.63s)", k + 1, x->plan->n_tasks,
                             x->plan->tasks[k]->node);
                    break;
                }
        job_fail(j, "partition %u/%zu on %s: %s%s", st->part + 1,
                 x->plan->n_tasks, node, st->detail, from);
        break;
    }
    default:
        break;
    }
}

/* Task i of a plan's tasks then replicas. */
static const Lagrange__V1__Task *task_at(const Lagrange__V1__DistPlan *p,
                                         size_t i)
{
    return i < p->n_tasks ? p->tasks[i] : p->replicas[i - p->n_tasks];
}

/* Tell every node of j's plan that (epoch of) the job is over. */
static void send_end(dsched *s, djob *j, unsigned epoch, const char *why)
{
    djdist *x = j->dist;
    Lagrange__V1__JobEnd e = LAGRANGE__V1__JOB_END__INIT;
    uint8_t buf[256];
    size_t len;
    if (!x || !x->plan)
        return;
    e.job = j->id;
    e.epoch = epoch;
    e.why = (char *)why;
    len = lagrange__v1__job_end__get_packed_size(&e);
    if (len > sizeof buf)
        return;
    lagrange__v1__job_end__pack(&e, buf);
    for (size_t i = 0; i < x->plan->n_tasks + x->plan->n_replicas; i++) {
        const char *node = task_at(x->plan, i)->node;
        int seen = 0;
        for (size_t k = 0; k < i; k++)
            seen |= !strcmp(task_at(x->plan, k)->node, node);
        if (!seen && dnet_send_control_job(s->d, node, "job.end", buf, len,
                                           TASK_LIFETIME_MS, j->id,
                                           epoch) < 0)
            log_debug("job %s: cannot tell %s it ended", j->id, node);
    }
    /* What this node still holds of it (waiting for a link) goes too;
     * the nodes it was bound for were all told just now. */
    if (dnet_drop_job(s->d, j->id, epoch, why, NULL, 0, NULL, 0) < 0)
        log_debug("job %s: cannot drop its bundles here", j->id);
}

/* The controller's own copies of the outputs (in JobDir by now, or
 * useless). */
static void drop_outputs(dsched *s, djob *j)
{
    djdist *x = j->dist;
    char path[4096];
    for (size_t i = 0; x && x->plan && i < x->plan->n_outputs; i++) {
        tensor_path(s, j->id, x->plan->epoch, x->plan->outputs[i], path,
                    sizeof path);
        unlink(path);
    }
}

void sched_dist_persisted(djob *j, int rc)
{
    djdist *x = j->dist;
    if (x->phase != DJ_PERSIST || sched_is_final(j->state))
        return;
    if (rc < 0) {
        job_fail(j, "cannot write its plan to JobDir");
        return;
    }
    x->plan_durable = 1;
    if (!j->s->stopping)
        dispatch(j);
}

void sched_dist_final(djob *j)
{
    dsched *s = j->s;
    djdist *x = j->dist;
    if (!x || !x->plan)
        return;
    send_end(s, j, 0, sched_state_name(j->state));
    drop_outputs(s, j);
}

/* Re-plan j without the nodes now dead: a new epoch from the job's
 * inputs (the tensors of the old one are dropped where they lie). */
static void replan(dsched *s, djob *j, const char *why)
{
    djdist *x = j->dist;
    unsigned old = x->plan ? x->plan->epoch : (unsigned)x->epoch;
    log_info("job %s: re-planned from its inputs (epoch %u -> %u): %s",
             j->id, old, old + 1, why);
    send_end(s, j, old, "re-planned");
    drop_outputs(s, j);
    if (j->n_place) {
        log_info("job %s: its placement no longer holds; the planner places "
                 "it", j->id);
        for (int i = 0; i < j->n_place; i++)
            free(j->place[i]);
        free(j->place);
        j->place = NULL;
        j->n_place = 0;
    }
    dist_free(x);
    j->dist = NULL;
    j->next_epoch = old + 1;
    set_reason(j, LAGRANGE__V1__JOB_STATE__PENDING, "Re-planning: %s", why);
    sched_persist(j);
}

static int node_dead(dsched *s, int n)
{
    dhealth_view v;
    return n != s->d->conf->node && dhealth_node(s->d, n, &v) == 0 &&
           !strcmp(v.state, "dead");
}

/* ---- re-planning from persisted tensors ------------------------------------ */

/* The planner's view of j's model whose groups each fall within one of
 * j's parts (the view its plan came from), or NULL: after a restart,
 * say, when the ranges are not known. */
static const plan_model *replan_view(dsched *s, djob *j)
{
    djdist *x = j->dist;
    const plan_model *pm;
    int n = x->n_parts;
    if (n < 1 || n > JOBPLAN_MAX_PARTS || x->last[n - 1] <= 0)
        return NULL;
    for (int k = 0; k < n; k++)
        if (x->first[k] > x->last[k])
            return NULL;
    if (j->n_place) {
        dbuilt *e = built_find(s, j->model, n, x->first, x->last);
        pm = e ? e->pm0 : NULL;
    } else
        pm = pm_cached(s, j->model);
    for (int g = 0; pm && g < pm->n_grp; g++) {
        int in = 0;
        for (int k = 0; k < n; k++)
            in |= x->first[k] <= pm->grp[g].first &&
                  pm->grp[g].last <= x->last[k];
        if (!in)
            return NULL;
    }
    return pm;
}

/* A live node for part k of j (node[] holds the others' nodes): with
 * the planner's view pm, the one whose substitution the evaluator says
 * completes first (*eta: its completion, s after now); without, one that
 * holds the partition, then one next to the node of the part before (or
 * this one), then any. -1 when none can (the evaluator's reason in why). */
static int replan_choose(dsched *s, djob *j, const plan_model *pm,
                         int *node, size_t k, double *eta, char *why,
                         size_t whylen)
{
    const plan_topology *t = s->d->conf->topo;
    const Lagrange__V1__Task *tk = j->dist->plan->tasks[k];
    int prev = k ? node[k - 1] : s->d->conf->node, was = node[k];
    int best = -1;
    double best_v = INFINITY;
    snprintf(why, whylen, "no node is up");
    for (int c = 0; c < t->n_nodes; c++) {
        double v;
        if (!node_alive(s, c))
            continue;
        if (pm) {
            node[k] = c;
            v = eval_nodes(s, j, pm, node, 0, why, whylen);
            if (v < 0)
                continue;
        } else {
            v = 8;
            if (resident(s, t->nodes[c].name, tk->partition_sha256))
                v -= 4;
            if (c == prev)
                v -= 2;
            for (int l = t->out_first[prev]; l < t->out_first[prev + 1]; l++)
                if (t->links[t->out_links[l]].to == c)
                    v -= 1;
        }
        if (v < best_v) {
            best = c;
            best_v = v;
        }
    }
    node[k] = best >= 0 ? best : was;
    *eta = pm ? best_v : -1;
    return best;
}

/* job.end for epoch of j's (old) plan p, to each of its nodes: those
 * that keep[] (by topology index) keep the outputs they kept. */
static void send_end_kept(dsched *s, djob *j,
                          const Lagrange__V1__DistPlan *p, unsigned epoch,
                          const unsigned char *keep)
{
    Lagrange__V1__JobEnd e = LAGRANGE__V1__JOB_END__INIT;
    uint8_t buf[256];
    size_t len;
    e.job = j->id;
    e.epoch = epoch;
    e.why = (char *)"re-planned from persisted tensors";
    for (size_t i = 0; i < p->n_tasks + p->n_replicas; i++) {
        const char *node = task_at(p, i)->node;
        int seen = 0, n = node_index(s, node);
        for (size_t k = 0; k < i; k++)
            seen |= !strcmp(task_at(p, k)->node, node);
        if (seen)
            continue;
        e.keep_outputs = n >= 0 && keep[n];
        len = lagrange__v1__job_end__get_packed_size(&e);
        if (len > sizeof buf)
            return;
        lagrange__v1__job_end__pack(&e, buf);
        if (dnet_send_control_job(s->d, node, "job.end", buf, len,
                                  TASK_LIFETIME_MS, j->id, epoch) < 0)
            log_debug("job %s: cannot tell %s epoch %u ended", j->id, node,
                      epoch);
    }
}

/* "1", "1, 3" (1-based) of the parts k with on[k], into buf. */
static void part_list(const unsigned char *on, size_t n, char *buf,
                      size_t len)
{
    size_t w = 0;
    buf[0] = 0;
    for (size_t k = 0; k < n && w < len; k++)
        if (on[k])
            w += (size_t)snprintf(buf + w, len - w, "%s%zu", w ? ", " : "",
                                  k + 1);
}

/* Re-plan j from what is persisted, after a node died: the same cut
 * (partitions, SHA-256s), a new epoch. A part done on a node that is up
 * stays done (its node kept its outputs: task.resend has it send them
 * again under the new epoch's ids to whoever needs them now); every
 * other part runs again, on its node if that is up, else on the live
 * node the planner's evaluator finds best for it. The new plan goes
 * through PERSIST and DISPATCH like a first one. 0, or -1 with the
 * reason in why (then j is re-planned from its inputs). */
static int replan_kept(dsched *s, djob *j, const char *cause, char *why,
                       size_t whylen)
{
    djdist *x = j->dist;
    const plan_topology *t = s->d->conf->topo;
    Lagrange__V1__DistPlan *op = x->plan, np = LAGRANGE__V1__DIST_PLAN__INIT,
                           *p2;
    Lagrange__V1__Task tk[JOBPLAN_MAX_PARTS], *tkp[JOBPLAN_MAX_PARTS];
    Lagrange__V1__TaskOutput *ov[JOBPLAN_MAX_PARTS] = { 0 };
    Lagrange__V1__TaskOutput **ovp[JOBPLAN_MAX_PARTS] = { 0 };
    char **dsts[JOBPLAN_MAX_PARTS] = { 0 };
    uint32_t done[JOBPLAN_MAX_PARTS];
    unsigned char keep[JOBPLAN_MAX_PARTS] = { 0 };
    unsigned char moved[JOBPLAN_MAX_PARTS] = { 0 };
    unsigned char rerun[JOBPLAN_MAX_PARTS] = { 0 }, *keepn;
    int node[JOBPLAN_MAX_PARTS], was[JOBPLAN_MAX_PARTS], ok = 1;
    size_t n = op->n_tasks, n_keep = 0;
    unsigned ne = op->epoch + 1;
    const plan_model *pm = replan_view(s, j);
    double eta = -1;
    char kept_s[256], again_s[256], moves[512] = "";
    if (j->replicas >= 2 || op->n_replicas) {
        snprintf(why, whylen, "its partitions have replicas (which copy of "
                 "a finished one ran is not recorded)");
        return -1;
    }
    for (size_t k = 0; k < n; k++) {
        node[k] = was[k] = x->node[k];
        keep[k] = part_done(op, k) && node_alive(s, x->node[k]);
        n_keep += keep[k];
        rerun[k] = !keep[k];
    }
    if (!n_keep) {
        snprintf(why, whylen, "no partition is done on a live node");
        return -1;
    }
    for (size_t k = 0; k < n; k++) {
        char r[256];
        if (keep[k] || node_alive(s, node[k]))
            continue;
        if (replan_choose(s, j, pm, node, k, &eta, r, sizeof r) < 0) {
            snprintf(why, whylen, "no live node can run partition %zu/%zu: "
                     "%s", k + 1, n, r);
            return -1;
        }
        moved[k] = 1;
    }
    if (!(keepn = calloc((size_t)t->n_nodes + 1, 1))) {
        snprintf(why, whylen, "out of memory");
        return -1;
    }
    for (size_t k = 0; k < n; k++)
        if (keep[k])
            keepn[x->node[k]] = 1;
    /* The plan of the new epoch: the old one's tasks, on their nodes now,
     * each output to the parts that run again and read it (and here, for
     * a graph output). A kept task keeps the epoch that made its outputs
     * (task.resend's from_epoch). */
    for (size_t k = 0; k < n && ok; k++) {
        const Lagrange__V1__Task *o = op->tasks[k];
        tk[k] = *o;
        tkp[k] = &tk[k];
        tk[k].epoch = keep[k] ? o->epoch : ne;
        tk[k].node = t->nodes[node[k]].name;
        tk[k].partition_follows = 0;
        if (!(ov[k] = calloc(o->n_outputs + 1, sizeof *ov[k])) ||
            !(ovp[k] = calloc(o->n_outputs + 1, sizeof *ovp[k])) ||
            !(dsts[k] = calloc((o->n_outputs + 1) * (n + 1),
                               sizeof *dsts[k]))) {
            ok = 0;
            break;
        }
        for (size_t v = 0; v < o->n_outputs; v++) {
            const char *name = o->outputs[v]->name;
            char **d = dsts[k] + v * (n + 1);
            size_t nd = 0;
            lagrange__v1__task_output__init(&ov[k][v]);
            ovp[k][v] = &ov[k][v];
            ov[k][v].name = (char *)name;
            for (size_t q = k + 1; q <= n; q++) {
                const char *to = NULL;
                int reads = 0, seen = 0;
                if (q < n && rerun[q]) {
                    for (size_t in = 0; in < op->tasks[q]->n_inputs; in++)
                        reads |= !strcmp(op->tasks[q]->inputs[in], name);
                    to = t->nodes[node[q]].name;
                } else if (q == n) {
                    for (size_t g = 0; g < op->n_outputs; g++)
                        reads |= !strcmp(op->outputs[g], name);
                    to = self_name(s);
                }
                for (size_t e = 0; e < nd && reads; e++)
                    seen |= !strcmp(d[e], to);
                if (reads && !seen)
                    d[nd++] = (char *)to;
            }
            ov[k][v].n_dst = nd;
            ov[k][v].dst = d;
        }
        tk[k].outputs = ovp[k];
    }
    np.epoch = ne;
    np.n_tasks = n;
    np.tasks = tkp;
    np.n_outputs = op->n_outputs;
    np.outputs = op->outputs;
    np.predicted_s = eta >= 0 ? eta : op->predicted_s;
    np.summary = op->summary;
    np.n_done = 0;
    np.done = done;
    for (size_t k = 0; k < n; k++)
        if (keep[k])
            done[np.n_done++] = (uint32_t)k;
    p2 = ok ? plan_own(&np) : NULL;
    for (size_t k = 0; k < n; k++) {
        free(ov[k]);
        free(ovp[k]);
        free(dsts[k]);
    }
    if (!p2) {
        free(keepn);
        snprintf(why, whylen, "out of memory");
        return -1;
    }
    /* The log line says what was kept and what moved. */
    part_list(keep, n, kept_s, sizeof kept_s);
    for (size_t k = 0, w = 0; k < n && w < sizeof moves; k++)
        if (moved[k])
            w += (size_t)snprintf(moves + w, sizeof moves - w, ", part %zu "
                                  "moved %s -> %s", k + 1,
                                  t->nodes[was[k]].name,
                                  t->nodes[node[k]].name);
    {
        unsigned char again[JOBPLAN_MAX_PARTS] = { 0 };
        for (size_t k = 0; k < n; k++)
            again[k] = rerun[k] && !moved[k];
        part_list(again, n, again_s, sizeof again_s);
    }
    log_info("job %s: re-planned from persisted tensors (epoch %u -> %u): "
             "part%s %s done kept%s%s%s%s: %s", j->id, op->epoch, ne,
             n_keep == 1 ? "" : "s", kept_s, moves,
             *again_s ? ", again on their nodes: part " : "", again_s,
             pm ? "" : " (no planner view here: placed by residence and "
                       "links)", cause);
    if (pm && eta >= 0)
        log_info("job %s: the planner's evaluator predicts completion in "
                 "%.3g s", j->id, eta);
    /* The old epoch ends (the nodes holding kept outputs keep them), the
     * new one is persisted, then dispatched. */
    send_end_kept(s, j, op, op->epoch, keepn);
    free(keepn);
    drop_outputs(s, j);
    lagrange__v1__dist_plan__free_unpacked(op, NULL);
    x->plan = p2;
    x->epoch = (int)ne;
    j->next_epoch = ne;
    for (size_t k = 0; k < n; k++) {
        x->node[k] = node[k];
        x->node2[k] = -1;
    }
    memset(x->heard, 0, sizeof x->heard);
    memset(x->power, 0, sizeof x->power);
    x->plan_durable = 0;
    x->predicted_s = p2->predicted_s;
    j->attempts++;
    j->progress = (double)p2->n_done / (double)p2->n_tasks;
    set_reason(j, LAGRANGE__V1__JOB_STATE__STAGING, "Re-planned from "
               "persisted tensors: %s", cause);
    dispatch(j);
    return 0;
}

/* A wait in whole seconds, by 5 s above 10 s and by 60 s above 5 min, so
 * that a watcher gets an event every few seconds, not every tick. */
static double coarse_s(double s)
{
    if (s <= 0)
        return 0;
    if (s <= 10)
        return ceil(s);
    if (s <= 300)
        return ceil(s / 5) * 5;
    return ceil(s / 60) * 60;
}

/* Part k is the first not done and has not started: if what it waits
 * for must cross a link whose window is closed now, say so. */
static void waiting_reason(dsched *s, djob *j, size_t k)
{
    djdist *x = j->dist;
    const plan_topology *t = s->d->conf->topo;
    int to = x->node[k];
    int from = k == 0 ? s->d->conf->node : x->node[k - 1];
    double now = report_topo_now(s->d);
    dhealth_view v;
    if (x->heard[k] >= LAGRANGE__V1__TASK_STATUS__STATE__RUNNING)
        return;
    if (x->power[k][0]) {
        set_reason(j, LAGRANGE__V1__JOB_STATE__RUNNING, "%s", x->power[k]);
        return;
    }
    if (to != s->d->conf->node && dhealth_node(s->d, to, &v) == 0 &&
        (!strcmp(v.state, "suspect") || !strcmp(v.state, "dead"))) {
        set_reason(j, LAGRANGE__V1__JOB_STATE__RUNNING,
                   "WaitingNode(%s: %s)", t->nodes[to].name, v.state);
        return;
    }
    if (from == to)
        return;
    if (from == s->d->conf->node) {
        /* From here: the route this node's relay uses now. */
        char hop[64];
        int open;
        double in;
        if (dnet_first_hop(s->d, t->nodes[to].name, hop, sizeof hop, &open,
                           &in) == 0 && open)
            set_reason(j, LAGRANGE__V1__JOB_STATE__RUNNING,
                       "Transferring(%s->%s, to %s)", t->nodes[from].name,
                       hop, t->nodes[to].name);
        else if (dnet_first_hop(s->d, t->nodes[to].name, hop, sizeof hop,
                                &open, &in) == 0 && !open) {
            if (isfinite(in))
                set_reason(j, LAGRANGE__V1__JOB_STATE__RUNNING,
                           "WaitingContact(%s->%s, %.0fs)",
                           t->nodes[from].name, hop, coarse_s(in));
            else
                set_reason(j, LAGRANGE__V1__JOB_STATE__RUNNING,
                           "WaitingContact(%s->%s, no window before the "
                           "horizon)", t->nodes[from].name, hop);
        }
        return;
    }
    for (int l = t->out_first[from]; l < t->out_first[from + 1]; l++) {
        const plan_link *lk = &t->links[t->out_links[l]];
        const plan_window *w;
        if (lk->to != to || lk->always)
            continue;
        w = report_window_at(lk, now);
        if (w && w->start > now)
            set_reason(j, LAGRANGE__V1__JOB_STATE__RUNNING,
                       "WaitingContact(%s->%s, %.0fs)", t->nodes[from].name,
                       t->nodes[to].name, coarse_s(w->start - now));
        else if (!w)
            set_reason(j, LAGRANGE__V1__JOB_STATE__RUNNING,
                       "WaitingContact(%s->%s, no window before the "
                       "horizon)", t->nodes[from].name, t->nodes[to].name);
        return;
    }
}

/* StallTimeout: j (in WAIT, first the first part not done, SIZE_MAX if
 * none) has gone StallTimeout past the later of its predicted completion
 * and the last status a worker sent: it FAILs, naming the part, its node
 * and what it waited for, so that an input that never arrives (a link
 * an operator keeps down, a bundle lost beyond custody, a worker that
 * never heard of its task) ends the job instead of holding it forever. */
static int stalled(dsched *s, djob *j, size_t first, uint64_t now)
{
    djdist *x = j->dist;
    const Lagrange__V1__DistPlan *p = x->plan;
    double lim = s->d->conf->stall_timeout;
    uint64_t due, last;
    char why[320];
    if (lim <= 0 || !x->t_wait)
        return 0;
    due = x->t_wait + (uint64_t)(p->predicted_s * 1e3);
    last = x->t_progress > due ? x->t_progress : due;
    if (now < last + (uint64_t)(lim * 1e3))
        return 0;
    if (first == SIZE_MAX)
        snprintf(why, sizeof why, "its outputs never reached %s",
                 self_name(s));
    else if (x->heard[first] >= LAGRANGE__V1__TASK_STATUS__STATE__RUNNING)
        snprintf(why, sizeof why, "partition %zu/%zu on %s started and "
                 "never finished", first + 1, p->n_tasks,
                 p->tasks[first]->node);
    else if (x->power[first][0])
        snprintf(why, sizeof why, "partition %zu/%zu on %s waited for "
                 "power", first + 1, p->n_tasks, p->tasks[first]->node);
    else
        snprintf(why, sizeof why, "partition %zu/%zu on %s never started: "
                 "its inputs never arrived", first + 1, p->n_tasks,
                 p->tasks[first]->node);
    job_fail(j, "stalled: %s (no word for %.0f s; predicted %.1f s, "
             "StallTimeout %.0f s; last: %s)", why,
             (double)(now - x->t_progress) / 1e3, p->predicted_s, lim,
             j->reason[0] ? j->reason : "none");
    return 1;
}

void sched_dist_tick(dsched *s, uint64_t now)
{
    sched_dist_kick(s);          /* a battery may allow a task now */
    for (int i = 0; i < s->n_jobs; i++) {
        djob *j = s->jv[i];
        djdist *x = j->dist;
        size_t first = SIZE_MAX;
        if (!x || !x->plan || sched_is_final(j->state) ||
            (x->phase != DJ_WAIT && x->phase != DJ_DISPATCH))
            continue;
        for (size_t k = 0; k < x->plan->n_tasks && first == SIZE_MAX; k++) {
            int done = 0;
            for (size_t d = 0; d < x->plan->n_done; d++)
                done |= x->plan->done[d] == k;
            if (!done)
                first = k;
        }
        if (j->deadline && j->deadline <= now) {
            if (first != SIZE_MAX)
                snprintf(j->error, sizeof j->error, "deadline passed with "
                         "partition %zu/%zu on %s not done", first + 1,
                         x->plan->n_tasks, x->plan->tasks[first]->node);
            else
                snprintf(j->error, sizeof j->error, "deadline passed while "
                         "the outputs travelled to %s", self_name(s));
            log_info("job %s expired: %s", j->id, j->error);
            sched_set_state(j, LAGRANGE__V1__JOB_STATE__EXPIRED, "");
            sched_persist(j);
            sched_notify(j, "state");
            continue;
        }
        if (x->phase != DJ_WAIT)
            continue;
        if (stalled(s, j, first, now))
            continue;
        if (first != SIZE_MAX)
            waiting_reason(s, j, first);
        for (size_t k = 0; k < x->plan->n_tasks; k++) {
            int done = 0, lost;
            for (size_t d = 0; d < x->plan->n_done; d++)
                done |= x->plan->done[d] == k;
            /* A part kept by a re-plan whose node died before it sent
             * what it kept again is lost too. */
            lost = done && x->plan->tasks[k]->epoch != x->plan->epoch &&
                   x->heard[k] < LAGRANGE__V1__TASK_STATUS__STATE__DONE &&
                   node_dead(s, x->node[k]);
            if (lost || (!done && node_dead(s, x->node[k]) &&
                         (x->node2[k] < 0 || node_dead(s, x->node2[k])))) {
                char why[160];
                snprintf(why, sizeof why, "node %s is dead with partition "
                         "%zu/%zu %s", x->plan->tasks[k]->node, k + 1,
                         x->plan->n_tasks, lost ? "kept, its outputs not "
                         "sent again" : "not done");
                if (j->stage_only)
                    job_fail(j, "staging: %s", why);
                else {
                    char r[400];
                    if (replan_kept(s, j, why, r, sizeof r) < 0) {
                        char w2[600];
                        snprintf(w2, sizeof w2, "%s (%s)", why, r);
                        replan(s, j, w2);
                    }
                }
                break;
            }
        }
    }
}

/* ---- the worker ----------------------------------------------------------------- */

/* Outputs kept for a re-plan: a copy of each output of a task run here,
 * InboxDir/kept/<hex of the job>/<epoch>-<hex of epoch and value>, made
 * when the task ran (before DONE), sent again on a task.resend, removed
 * at the job's end (job.end for epoch 0), or at a job.end for a later
 * epoch that does not say keep_outputs. */
static void kept_dir(dsched *s, const char *job, char *buf, size_t len)
{
    uint8_t id[WIRE_ID_LEN];
    char hex[33];
    tensor_oid(job, 0, "", "", id);
    wire_bundle_id_hex(id, hex);
    snprintf(buf, len, "%s/kept/%s", s->d->conf->inbox_dir.path, hex);
}

static void kept_path(dsched *s, const char *job, unsigned epoch,
                      const char *value, char *buf, size_t len)
{
    uint8_t id[WIRE_ID_LEN];
    char jhex[33], hex[33];
    tensor_oid(job, 0, "", "", id);
    wire_bundle_id_hex(id, jhex);
    tensor_oid(job, epoch, value, "", id);
    wire_bundle_id_hex(id, hex);
    snprintf(buf, len, "%s/kept/%s/%u-%s", s->d->conf->inbox_dir.path, jhex,
             epoch, hex);
}

/* Threadpool: keep len bytes of buf as value of (job, epoch): written
 * under a temporary name, synced, renamed. 0 or -errno with err. */
static int kept_write(dsched *s, const char *job, unsigned epoch,
                      const char *value, const void *buf, size_t len,
                      char *err, size_t errlen)
{
    char path[4096], tmp[4200];
    int fd, rc;
    kept_path(s, job, epoch, value, path, sizeof path);
    if ((rc = lg_mkdir_parents(path, err, errlen)) < 0)
        return rc;
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640)) < 0)
        return lg_errf(err, errlen, -errno, "%s: %s", tmp, strerror(errno));
    rc = lg_write_all(fd, buf, len);
    if (rc == 0)
        rc = lg_fsync(fd, 1);
    if (lg_close(fd) < 0 && rc == 0)
        rc = -EIO;
    if (rc == 0 && rename(tmp, path) < 0)
        rc = -errno;
    if (rc < 0) {
        unlink(tmp);
        return lg_errf(err, errlen, rc, "%s: %s", path, strerror(-rc));
    }
    return 0;
}

/* Remove job's kept outputs: every one (upto 0), or those of epochs up
 * to upto. */
static void kept_drop(dsched *s, const char *job, unsigned upto)
{
    char dir[4096], path[4400];
    DIR *d;
    struct dirent *de;
    int left = 0, n = 0;
    kept_dir(s, job, dir, sizeof dir);
    if (!(d = opendir(dir)))
        return;
    while ((de = readdir(d))) {
        char *end;
        unsigned long e;
        if (de->d_name[0] == '.')
            continue;
        e = strtoul(de->d_name, &end, 10);
        if (upto && (*end != '-' || e > upto)) {
            left++;
            continue;
        }
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        if (unlink(path) < 0 && errno != ENOENT)
            left++;
        else
            n++;
    }
    closedir(d);
    if (!left)
        rmdir(dir);
    if (n)
        log_debug("job %s: %d kept output%s dropped here", job, n,
                  n == 1 ? "" : "s");
}

static void task_free(dtask *t)
{
    if (!t)
        return;
    if (t->t)
        lagrange__v1__task__free_unpacked(t->t, NULL);
    free(t);
}

static void task_remove(dsched *s, dtask *t)
{
    for (dtask **pp = &s->tasks; *pp; pp = &(*pp)->next)
        if (*pp == t) {
            *pp = t->next;
            s->n_tasks--;
            break;
        }
    task_free(t);
}

static void task_status(dsched *s, const Lagrange__V1__Task *k, int state,
                        const char *detail, double exec_s)
{
    Lagrange__V1__TaskStatus st = LAGRANGE__V1__TASK_STATUS__INIT;
    uint8_t buf[1024];
    size_t len;
    char d[256];
    snprintf(d, sizeof d, "%s", detail ? detail : "");
    st.job = k->job;
    st.epoch = k->epoch;
    st.part = k->part;
    st.node = (char *)self_name(s);
    st.state = (Lagrange__V1__TaskStatus__State)state;
    st.detail = d;
    st.exec_s = exec_s;
    len = lagrange__v1__task_status__get_packed_size(&st);
    if (len > sizeof buf)
        return;
    lagrange__v1__task_status__pack(&st, buf);
    if (dnet_send_control_job(s->d, k->controller, "task.status", buf, len,
                              TASK_LIFETIME_MS, k->job, k->epoch) < 0)
        log_err("task %s/%u: cannot tell %s (%s)", k->job, k->part + 1,
                k->controller, "the network is stopping");
}

static void task_key(const Lagrange__V1__Task *k, char *buf, size_t len)
{
    snprintf(buf, len, "%s/%u/%u", k->job, k->epoch, k->part);
}

static int done_before(dsched *s, const char *key)
{
    for (int i = 0; i < s->n_done_keys; i++)
        if (!strcmp(s->done_keys[i], key))
            return 1;
    return 0;
}

static void remember_done(dsched *s, const char *key)
{
    snprintf(s->done_keys[s->done_next], sizeof s->done_keys[0], "%s", key);
    s->done_next = (s->done_next + 1) % DONE_MEMORY;
    if (s->n_done_keys < DONE_MEMORY)
        s->n_done_keys++;
}

static int ended(dsched *s, const char *job, unsigned epoch)
{
    for (int i = 0; i < s->n_ended; i++)
        if (!strcmp(s->ended[i].job, job) &&
            (s->ended[i].epoch == 0 || s->ended[i].epoch == epoch))
            return 1;
    return 0;
}

/* Drop t's input tensors from the inbox. */
static void task_drop_inputs(dsched *s, const Lagrange__V1__Task *k)
{
    char path[4096];
    for (size_t i = 0; i < k->n_inputs; i++) {
        tensor_path(s, k->job, k->epoch, k->inputs[i], path, sizeof path);
        unlink(path);
    }
}

static void on_end(dsched *s, const Lagrange__V1__JobEnd *e,
                   const wire_bundle *b)
{
    const char *src = b->src;
    const char *skip[2];
    int n = 0;
    if (!sched_valid_name(e->job) || strlen(e->job) > JOB_ID_LEN)
        return;
    /* The job's bundles still in this node's spool go, and the end
     * follows those bound elsewhere (not back to its sender). */
    skip[0] = src;
    skip[1] = self_name(s);
    if (dnet_drop_job(s->d, e->job, e->epoch, e->why, b->payload,
                      b->payload_len, skip, 2) < 0)
        log_debug("job %s: cannot drop its bundles here", e->job);
    snprintf(s->ended[s->ended_next].job, sizeof s->ended[0].job, "%s",
             e->job);
    s->ended[s->ended_next].epoch = e->epoch;
    s->ended_next = (s->ended_next + 1) % 1024;
    if (s->n_ended < 1024)
        s->n_ended++;
    for (dtask *t = s->tasks, *nx; t; t = nx) {
        nx = t->next;
        if (strcmp(t->t->job, e->job) ||
            (e->epoch && t->t->epoch != e->epoch))
            continue;
        n++;
        if (t->state != TK_WAIT) {
            t->ended = 1;        /* after_task / task_sent finish it */
            continue;
        }
        task_drop_inputs(s, t->t);
        dnet_control_done(s->d, t->bid);
        task_remove(s, t);
    }
    if (!e->epoch || !e->keep_outputs)
        kept_drop(s, e->job, e->epoch);
    if (e->epoch)
        log_info("job %s epoch %u ended at %s (%s): %d task%s dropped here",
                 e->job, e->epoch, src, e->why, n, n == 1 ? "" : "s");
    else
        log_info("job %s ended at %s (%s): %d task%s dropped here", e->job,
                 src, e->why, n, n == 1 ? "" : "s");
}

/* Whether this node's battery allows running t (always on grid power):
 * the run, at BusyW for the time this node's profile gives the
 * partition's FLOPs, must leave the state of charge at MinSoc or above.
 * If not, the task waits, and the controller hears WaitingPower once per
 * change of what is missing. */
static int power_ok(dsched *s, dtask *t)
{
    const plan_topology *tp = s->d->conf->topo;
    const plan_node *me = &tp->nodes[s->d->conf->node];
    const plan_power *pw = &me->power;
    const dmodel *m = sched_find_model_id(s, t->t->partition_sha256);
    double flops = tp->profiles[me->profile].flops[PLAN_OC_GEMM] * me->scale;
    double run_s, need_wh, have_wh;
    dhealth_view v;
    char why[200];
    if (!pw->solar || pw->battery_wh <= 0 ||
        dhealth_node(s->d, s->d->conf->node, &v) < 0 || !v.have ||
        v.rec.battery_soc < 0)
        return 1;
    run_s = m && flops > 0 ? m->m->gflops * 1e9 / flops : 0;
    need_wh = pw->busy_w * run_s / 3600 + pw->min_soc * pw->battery_wh;
    have_wh = v.rec.battery_soc * pw->battery_wh;
    if (have_wh >= need_wh && v.rec.battery_soc > pw->min_soc) {
        if (t->power_wait) {
            t->power_wait = 0;
            log_info("task %s/%u/%u: the battery allows it now (soc %.3f)",
                     t->t->job, t->t->epoch, t->t->part + 1,
                     v.rec.battery_soc);
        }
        return 1;
    }
    snprintf(why, sizeof why, "WaitingPower(%s: soc %.2f, needs %.2f)",
             s->d->conf->node_id, v.rec.battery_soc,
             need_wh / pw->battery_wh);
    if (!t->power_wait) {
        t->power_wait = 1;
        log_info("task %s/%u/%u: waits for power: state of charge %.3f, the "
                 "run needs %.3f (MinSoc %.2f)", t->t->job, t->t->epoch,
                 t->t->part + 1, v.rec.battery_soc,
                 need_wh / pw->battery_wh, pw->min_soc);
        task_status(s, t->t, LAGRANGE__V1__TASK_STATUS__STATE__WAITING, why,
                    0);
    }
    return 0;
}

/* Start t if it can: partition here, inputs here, an executor free, the
 * battery willing. */
static void task_poke(dsched *s, dtask *t)
{
    const Lagrange__V1__Task *k = t->t;
    char path[4096];
    sop *op;
    if (t->state != TK_WAIT || s->stopping)
        return;
    if (!sched_find_model_id(s, k->partition_sha256)) {
        if (sched_partition_evicted(s, k->partition_sha256))
            t->t->partition_follows = 0; /* it came and was evicted: ask */
        if (!k->partition_follows && !t->need_sent) {
            t->need_sent = 1;
            task_status(s, k, LAGRANGE__V1__TASK_STATUS__STATE__NEED_PARTITION,
                        "partition not here", 0);
        }
        return;
    }
    for (size_t i = 0; i < k->n_inputs; i++) {
        tensor_path(s, k->job, k->epoch, k->inputs[i], path, sizeof path);
        if (!have_file(path))
            return;
    }
    if (s->running >= s->d->conf->job_workers)
        return;
    if (!power_ok(s, t))
        return;
    sched_model_touch(s, k->partition_sha256);
    if (!(op = sched_op_new(s, OP_TASK_RUN, NULL, NULL)))
        return;
    op->task = t;
    if (sched_queue_exec(s, op, k->partition_sha256) < 0)
        return;
    t->state = TK_RUN;
    s->running++;
    log_info("task %s/%u/%u: partition %u/%u running (%.12s)", k->job,
             k->epoch, k->part + 1, k->part + 1, k->n_parts,
             k->partition_sha256);
    task_status(s, k, LAGRANGE__V1__TASK_STATUS__STATE__RUNNING, NULL, 0);
}

void sched_dist_kick(dsched *s)
{
    for (dtask *t = s->tasks; t && s->running < s->d->conf->job_workers;
         t = t->next)
        task_poke(s, t);
}

/* Threadpool: run a partition on its inputs; outputs encoded as .npy. */
static void work_task(sop *op)
{
    dsched *s = op->s;
    const Lagrange__V1__Task *k = op->task->t;
    lg_tensor **ins = NULL;
    char path[4096];
    int rc = 0;
    struct timespec t0, t1;
    if (sched_exec_load(op, k->partition_sha256) < 0)
        return;
    const lg_graph *g = op->g;
    if (!(ins = calloc((size_t)g->n_inputs + 1, sizeof *ins)) ||
        !(op->tens = calloc((size_t)g->n_outputs + 1, sizeof *op->tens)) ||
        !(op->enc = calloc((size_t)g->n_outputs + 1, sizeof *op->enc)) ||
        !(op->enc_len = calloc((size_t)g->n_outputs + 1,
                               sizeof *op->enc_len))) {
        free(ins);
        op->rc = lg_errf(op->err, sizeof op->err, -ENOMEM, "out of memory");
        return;
    }
    op->n_tens = g->n_outputs;
    for (int i = 0; i < g->n_inputs && rc == 0; i++) {
        const char *name = g->values[g->inputs[i]].name;
        tensor_path(s, k->job, k->epoch, name, path, sizeof path);
        rc = read_tensor(path, "input", name, &ins[i], op->err,
                         sizeof op->err);
    }
    if (rc == 0) {
        clock_gettime(CLOCK_MONOTONIC, &t0);
        rc = lg_exec_run(op->e, ins, op->tens, op->err, sizeof op->err);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        op->exec_s = (double)(t1.tv_sec - t0.tv_sec) +
                     (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    }
    for (int i = 0; i < g->n_outputs && rc == 0; i++) {
        void *buf;
        if (!op->tens[i]) {
            rc = lg_errf(op->err, sizeof op->err, -EIO, "output %d missing",
                         i);
            break;
        }
        if ((rc = lg_npy_encode(op->tens[i], &buf, &op->enc_len[i], op->err,
                                sizeof op->err)) < 0)
            break;
        op->enc[i] = buf;
        /* A copy kept for a re-plan (task.resend) of each output someone
         * reads; without it a re-plan runs this part again. */
        for (size_t o = 0; o < k->n_outputs; o++) {
            char e[300];
            const char *name = g->values[g->outputs[i]].name;
            if (strcmp(k->outputs[o]->name, name) || !k->outputs[o]->n_dst)
                continue;
            if (kept_write(s, k->job, k->epoch, name, buf, op->enc_len[i], e,
                           sizeof e) < 0)
                log_warn("task %s/%u/%u: output '%s' not kept for a "
                         "re-plan: %s", k->job, k->epoch, k->part + 1, name,
                         e);
            break;
        }
    }
    for (int i = 0; i < g->n_inputs; i++)
        lg_tensor_unref(ins[i]);
    free(ins);
    op->rc = rc;
}

static void task_sent(void *arg, int rc, const char *err)
{
    dtask *t = arg;
    dsched *s = t->s;
    const Lagrange__V1__Task *k = t->t;
    char key[160];
    t->sends--;
    if (rc < 0 && !t->send_failed++)
        log_err("task %s/%u: an output was not stored: %s", k->job,
                k->part + 1, err ? err : "?");
    if (t->sends > 0)
        return;
    if (t->send_failed) {
        /* Stopping, or the spool refused: the task bundle stays, and the
         * task runs again at the next start. */
        t->state = TK_WAIT;
        return;
    }
    task_key(k, key, sizeof key);
    remember_done(s, key);
    task_status(s, k, LAGRANGE__V1__TASK_STATUS__STATE__DONE, NULL,
                t->exec_s);
    dnet_control_done(s->d, t->bid);
    log_info("task %s/%u/%u done: partition %u/%u, outputs stored (executor "
             "%.3f s)", k->job, k->epoch, k->part + 1, k->part + 1,
             k->n_parts, t->exec_s);
    task_remove(s, t);
    sched_dist_kick(s);
}

static void after_task(sop *op)
{
    dsched *s = op->s;
    dtask *t = op->task;
    const Lagrange__V1__Task *k = t->t;
    const lg_graph *g = op->x ? op->x->g : op->g;
    s->running--;
    sched_keep_exec(s, op, k->partition_sha256);
    if (t->ended) {
        char path[4096];
        task_drop_inputs(s, k);
        for (size_t o = 0; o < k->n_outputs; o++) {
            kept_path(s, k->job, k->epoch, k->outputs[o]->name, path,
                      sizeof path);
            unlink(path);        /* kept after the job.end: not needed */
        }
        dnet_control_done(s->d, t->bid);
        task_remove(s, t);
        sched_dist_kick(s);
        return;
    }
    if (op->rc < 0 || op->cancelled) {
        if (op->cancelled) {
            t->state = TK_WAIT;
            return;
        }
        log_info("task %s/%u: partition %u failed: %s", k->job, k->part + 1,
                 k->part + 1, op->err);
        task_status(s, k, LAGRANGE__V1__TASK_STATUS__STATE__FAILED, op->err,
                    0);
        dnet_control_done(s->d, t->bid);
        task_remove(s, t);
        return;
    }
    t->exec_s = op->exec_s;
    t->state = TK_SEND;
    t->sends = 1;
    t->send_failed = 0;
    for (int i = 0; i < op->n_tens && g; i++) {
        const char *name = g->values[g->outputs[i]].name;
        const Lagrange__V1__TaskOutput *to = NULL;
        for (size_t o = 0; o < k->n_outputs; o++)
            if (!strcmp(k->outputs[o]->name, name))
                to = k->outputs[o];
        if (!to)
            continue;            /* nobody reads it */
        for (size_t d = 0; d < to->n_dst; d++) {
            uint8_t *copy;
            if (!(copy = malloc(op->enc_len[i] ? op->enc_len[i] : 1))) {
                t->send_failed++;
                continue;
            }
            memcpy(copy, op->enc[i], op->enc_len[i]);
            if (dhealth_take_upset(s->d)) {
                /* A fault drill (lagrange fault upset): what an upset in
                 * this buffer would send, a tensor that does not parse. */
                memset(copy, 0, op->enc_len[i] < 16 ? op->enc_len[i] : 16);
                log_warn("task %s/%u: output '%s' for %s mangled by an "
                         "upset (fault drill)", k->job, k->part + 1, name,
                         to->dst[d]);
            }
            if (send_tensor(s, k->job, k->epoch, name, to->dst[d],
                            k->priority, NULL, copy, op->enc_len[i],
                            task_sent, t) < 0)
                t->send_failed++;
            else
                t->sends++;
        }
    }
    task_sent(t, 0, NULL);
}

/* A "task" bundle: take it (it stays in the spool until the task ends). */
static int on_task(dsched *s, const wire_bundle *b)
{
    Lagrange__V1__Task *k = NULL;
    char key[160], why[256] = "";
    dtask *t;
    _Static_assert(TASKMSG_JOB_MAX == JOB_ID_LEN, "job ids on the wire");
    if (taskmsg_task_decode(b->payload, b->payload_len, s->d->conf->topo, &k,
                            why, sizeof why) < 0) {
        if (!*why)
            snprintf(why, sizeof why, "payload is not a Task");
    } else if (strcmp(k->node, self_name(s)) != 0)
        snprintf(why, sizeof why, "it is for node '%.63s'", k->node);
    if (*why) {
        log_err("task from %s refused: %s", b->src, why);
        if (k)
            lagrange__v1__task__free_unpacked(k, NULL);
        return 0;
    }
    if (ended(s, k->job, k->epoch)) {
        log_info("task %s/%u/%u from %s: its job has ended; dropped", k->job,
                 k->epoch, k->part + 1, k->controller);
        dnet_control_done(s->d, b->id);
        lagrange__v1__task__free_unpacked(k, NULL);
        return 1;
    }
    task_key(k, key, sizeof key);
    for (t = s->tasks; t; t = t->next) {
        char k2[160];
        task_key(t->t, k2, sizeof k2);
        if (!strcmp(k2, key))
            break;
    }
    if (t || done_before(s, key)) {
        if (!t || memcmp(t->bid, b->id, WIRE_ID_LEN) != 0)
            dnet_control_done(s->d, b->id); /* a second copy */
        lagrange__v1__task__free_unpacked(k, NULL);
        return 1;
    }
    if (s->n_tasks >= SCHED_MAX_TASKS || !(t = calloc(1, sizeof *t))) {
        log_err("task %s from %s: too many tasks here; it stays in the spool "
                "until the next start", key, b->src);
        lagrange__v1__task__free_unpacked(k, NULL);
        return 1;
    }
    t->s = s;
    t->t = k;
    memcpy(t->bid, b->id, WIRE_ID_LEN);
    t->state = TK_WAIT;
    t->next = s->tasks;
    s->tasks = t;
    s->n_tasks++;
    log_info("task %s/%u/%u from %s: partition %u/%u (%.12s), %zu inputs",
             k->job, k->epoch, k->part + 1, k->controller, k->part + 1,
             k->n_parts, k->partition_sha256, k->n_inputs);
    task_poke(s, t);
    return 1;
}

/* A task.resend being sent: its bundle stays in the spool until every
 * copy is durable here. */
typedef struct dresend {
    dsched *s;
    Lagrange__V1__TaskResend *r;   /* owned (unpacked) */
    uint8_t bid[WIRE_ID_LEN];
    int sends, failed, n;
} dresend;

static void resend_status(dsched *s, const Lagrange__V1__TaskResend *r,
                          int state, const char *detail)
{
    Lagrange__V1__Task k = LAGRANGE__V1__TASK__INIT;
    k.job = r->job;
    k.epoch = r->epoch;
    k.part = r->part;
    k.controller = r->controller;
    task_status(s, &k, state, detail, 0);
}

static void resend_sent(void *arg, int rc, const char *err)
{
    dresend *q = arg;
    dsched *s = q->s;
    const Lagrange__V1__TaskResend *r = q->r;
    q->sends--;
    if (rc < 0 && !q->failed++)
        log_err("task %s/%u/%u: a kept output was not stored again: %s",
                r->job, r->epoch, r->part + 1, err ? err : "?");
    if (q->sends > 0)
        return;
    if (!q->failed) {
        resend_status(s, r, LAGRANGE__V1__TASK_STATUS__STATE__DONE,
                      "kept outputs sent again");
        dnet_control_done(s->d, q->bid);
        log_info("task %s/%u/%u: %d kept output cop%s of epoch %u sent "
                 "again (partition %u/%u)", r->job, r->epoch, r->part + 1,
                 q->n, q->n == 1 ? "y" : "ies", r->from_epoch, r->part + 1,
                 r->n_parts);
    }
    /* Else stopping, or the spool refused: the bundle stays, and is
     * taken again at the next start. */
    lagrange__v1__task_resend__free_unpacked(q->r, NULL);
    free(q);
}

/* A "task.resend" bundle: send what this node kept of a part it ran in
 * an earlier epoch again, under the new epoch's ids. */
static int on_resend(dsched *s, const wire_bundle *b)
{
    Lagrange__V1__TaskResend *r = NULL;
    char why[300] = "", path[4096];
    dresend *q;
    if (taskmsg_resend_decode(b->payload, b->payload_len, s->d->conf->topo,
                              &r, why, sizeof why) < 0 && !*why)
        snprintf(why, sizeof why, "payload is not a TaskResend");
    if (*why) {
        log_err("task.resend from %s refused: %s", b->src, why);
        if (r)
            lagrange__v1__task_resend__free_unpacked(r, NULL);
        return 0;
    }
    if (ended(s, r->job, r->epoch)) {
        log_info("task.resend %s/%u/%u: its job has ended; dropped", r->job,
                 r->epoch, r->part + 1);
        dnet_control_done(s->d, b->id);
        lagrange__v1__task_resend__free_unpacked(r, NULL);
        return 1;
    }
    for (size_t i = 0; i < r->n_outputs && !*why; i++) {
        kept_path(s, r->job, r->from_epoch, r->outputs[i]->name, path,
                  sizeof path);
        if (!have_file(path))
            snprintf(why, sizeof why, "output '%.200s' of epoch %u is not "
                     "kept here", r->outputs[i]->name, r->from_epoch);
    }
    if (*why || !(q = calloc(1, sizeof *q))) {
        if (!*why)
            snprintf(why, sizeof why, "out of memory");
        log_warn("task.resend %s/%u/%u from %s: %s", r->job, r->epoch,
                 r->part + 1, b->src, why);
        resend_status(s, r, LAGRANGE__V1__TASK_STATUS__STATE__FAILED, why);
        dnet_control_done(s->d, b->id);
        lagrange__v1__task_resend__free_unpacked(r, NULL);
        return 1;
    }
    q->s = s;
    q->r = r;
    memcpy(q->bid, b->id, WIRE_ID_LEN);
    q->sends = 1;                /* held until the loop below ends */
    for (size_t i = 0; i < r->n_outputs; i++) {
        const Lagrange__V1__TaskOutput *o = r->outputs[i];
        kept_path(s, r->job, r->from_epoch, o->name, path, sizeof path);
        for (size_t d = 0; d < o->n_dst; d++) {
            if (send_tensor(s, r->job, r->epoch, o->name, o->dst[d],
                            r->priority, path, NULL, 0, resend_sent, q) < 0)
                q->failed++;
            else {
                q->sends++;
                q->n++;
            }
        }
    }
    log_info("task.resend %s/%u/%u from %s: sending %d kept output cop%s "
             "of epoch %u", r->job, r->epoch, r->part + 1, b->src, q->n,
             q->n == 1 ? "y" : "ies", r->from_epoch);
    resend_sent(q, 0, NULL);     /* let go of the hold */
    return 1;
}

static int hook_control(void *arg, const wire_bundle *b)
{
    dsched *s = arg;
    const plan_topology *topo = s->d->conf->topo;
    char why[256] = "";
    if (!strcmp(b->name, "task"))
        return on_task(s, b);
    if (!strcmp(b->name, "part.stored")) {
        Lagrange__V1__PartitionStored *ps;
        if (taskmsg_stored_decode(b->payload, b->payload_len, topo, &ps, why,
                                  sizeof why) < 0) {
            log_err("part.stored from %s refused: %s; dropped", b->src, why);
            return 0;
        }
        on_stored(s, ps);
        lagrange__v1__partition_stored__free_unpacked(ps, NULL);
        dnet_control_done(s->d, b->id);
        return 1;
    }
    if (!strcmp(b->name, "job.end")) {
        Lagrange__V1__JobEnd *e;
        if (taskmsg_end_decode(b->payload, b->payload_len, &e, why,
                               sizeof why) < 0) {
            log_err("job.end from %s refused: %s; dropped", b->src, why);
            return 0;
        }
        on_end(s, e, b);
        lagrange__v1__job_end__free_unpacked(e, NULL);
        dnet_control_done(s->d, b->id);
        return 1;
    }
    /* A re-plan from persisted tensors (on_resend). */
    if (!strcmp(b->name, "task.resend"))
        return on_resend(s, b);
    if (!strcmp(b->name, "task.status")) {
        Lagrange__V1__TaskStatus *st;
        if (taskmsg_status_decode(b->payload, b->payload_len, topo, &st, why,
                                  sizeof why) < 0) {
            log_err("task.status from %s refused: %s; dropped", b->src, why);
            return 0;
        }
        on_status(s, st);
        lagrange__v1__task_status__free_unpacked(st, NULL);
        dnet_control_done(s->d, b->id);
        return 1;
    }
    return 0;
}

/* A job.end for another node passes through: drop what this node holds
 * of that job, and pass the end on along its bundles' way. */
static void hook_transit_end(void *arg, const wire_bundle *b)
{
    dsched *s = arg;
    Lagrange__V1__JobEnd *e =
        lagrange__v1__job_end__unpack(NULL, b->payload_len, b->payload);
    const char *skip[2];
    if (!e || !sched_valid_name(e->job) || strlen(e->job) > JOB_ID_LEN ||
        strcmp(e->job, b->job) != 0) {
        log_err("job.end from %s for %s passing through does not parse or "
                "names another job than its bundle; this node keeps the "
                "job's bundles", b->src, b->dst);
        if (e)
            lagrange__v1__job_end__free_unpacked(e, NULL);
        return;
    }
    skip[0] = b->src;
    skip[1] = b->dst;            /* the end is on its way there */
    if (dnet_drop_job(s->d, e->job, e->epoch, e->why, b->payload,
                      b->payload_len, skip, 2) < 0)
        log_debug("job %s: cannot drop its bundles here", e->job);
    lagrange__v1__job_end__free_unpacked(e, NULL);
}

/* Tell node to (the sender of a partition) that this node holds it. */
static void tell_stored(dsched *s, const char *sha, const char *to)
{
    Lagrange__V1__PartitionStored ps = LAGRANGE__V1__PARTITION_STORED__INIT;
    uint8_t buf[256];
    size_t len;
    if (!*to || node_index(s, to) < 0)
        return;
    ps.sha256 = (char *)sha;
    ps.node = (char *)self_name(s);
    len = lagrange__v1__partition_stored__get_packed_size(&ps);
    if (len > sizeof buf)
        return;
    lagrange__v1__partition_stored__pack(&ps, buf);
    if (!strcmp(to, self_name(s)))
        return;
    dnet_send_control(s->d, to, "part.stored", buf, len, TASK_LIFETIME_MS);
}

/* A partition arrived: into ModelDir under its SHA-256. */
static void work_import(sop *op)
{
    dsched *s = op->s;
    int fd = -1;
    uint64_t size = 0;
    struct stat st;
    blobw *w = NULL;
    uint8_t *buf = NULL;
    if ((fd = open(op->path, O_RDONLY | O_CLOEXEC)) < 0 ||
        fstat(fd, &st) < 0) {
        op->rc = lg_errf(op->err, sizeof op->err, -errno, "%s: %s", op->path,
                         strerror(errno));
        goto out;
    }
    size = (uint64_t)st.st_size;
    if ((op->rc = blobstore_begin(s->models, size, op->id, &w, op->err,
                                  sizeof op->err)) < 0)
        goto out;
    if (!(buf = malloc(1 << 20))) {
        op->rc = lg_errf(op->err, sizeof op->err, -ENOMEM, "out of memory");
        goto out;
    }
    for (;;) {
        ssize_t r = read(fd, buf, 1 << 20);
        if (r < 0) {
            op->rc = lg_errf(op->err, sizeof op->err, -errno, "%s: %s",
                             op->path, strerror(errno));
            goto out;
        }
        if (r == 0)
            break;
        if ((op->rc = blobw_write(w, buf, (size_t)r, op->err,
                                  sizeof op->err)) < 0)
            goto out;
    }
    op->bw = w;
    w = NULL;
    op->is_model = 1;
    snprintf(op->name, sizeof op->name, "part-%.12s", op->id);
    {
        char want[65];
        snprintf(want, sizeof want, "%s", op->id);
        sched_work_put_commit(op);
        if (op->rc == 0 && strcmp(op->id, want) != 0)
            op->rc = lg_errf(op->err, sizeof op->err, -EBADMSG,
                             "partition bytes hash to %.12s, not %.12s",
                             op->id, want);
    }
    if (op->rc == 0)
        unlink(op->path);
out:
    blobw_abort(w);
    free(buf);
    if (fd >= 0)
        close(fd);
}

static void after_import(sop *op)
{
    dsched *s = op->s;
    if (op->rc < 0) {
        log_err("partition %.12s not imported: %s", op->id, op->err);
        return;
    }
    sched_add_model(s, op->id, op->meta, op->meta_len);
    log_info("partition %.12s stored in ModelDir", op->id);
    tell_stored(s, op->id, op->src);
    sched_partition_evict(s);
    sched_dist_kick(s);
}

static void hook_delivered(void *arg, const inbox_object *o, int again)
{
    dsched *s = arg;
    if (!strncmp(o->name, "p/", 2) && valid_sha(o->name + 2) && !again) {
        sop *op;
        char hex[33];
        wire_bundle_id_hex(o->object_id, hex);
        if (sched_find_model_id(s, o->name + 2)) {
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", s->d->conf->inbox_dir.path,
                     hex);
            unlink(path);
            tell_stored(s, o->name + 2, o->src);
            return;
        }
        if (!(op = sched_op_new(s, OP_PART_IMPORT, NULL, NULL)))
            return;
        snprintf(op->id, sizeof op->id, "%s", o->name + 2);
        snprintf(op->src, sizeof op->src, "%s", o->src);
        snprintf(op->path, sizeof op->path, "%s/%s",
                 s->d->conf->inbox_dir.path, hex);
        if (sched_op_queue(op) < 0)
            sched_op_free(op);
        return;
    }
    if (!strncmp(o->name, "t/", 2)) {
        char job[JOB_ID_LEN + 2];
        const char *p = o->name + 2, *sl = strchr(p, '/');
        djob *j;
        if (!sl || (size_t)(sl - p) > JOB_ID_LEN)
            return;
        memcpy(job, p, (size_t)(sl - p));
        job[sl - p] = 0;
        if (ended(s, job, (unsigned)strtoul(sl + 1, NULL, 10))) {
            char hex[33], path[4096];
            wire_bundle_id_hex(o->object_id, hex);
            snprintf(path, sizeof path, "%s/%s", s->d->conf->inbox_dir.path,
                     hex);
            unlink(path);
            log_debug("%s: its job has ended; dropped", o->name);
            return;
        }
        if ((j = sched_find_job(s, job)) && j->dist)
            check_outputs(j);
        sched_dist_kick(s);
    }
}

/* ---- life -------------------------------------------------------------------------- */

void sched_dist_start(dsched *s)
{
    dnet_hooks h = { hook_control, hook_transit_end, hook_delivered, s };
    dnet_set_hooks(s->d, &h);
}

/* A job loaded from JobDir: its plan, if it had one. */
int sched_dist_load(djob *j, const Lagrange__V1__JobRecord *r)
{
    djdist *x;
    if (r->n_placement) {
        if (!(j->place = calloc(r->n_placement, sizeof *j->place)))
            return -ENOMEM;
        for (size_t i = 0; i < r->n_placement; i++) {
            if (!(j->place[i] = strdup(r->placement[i])))
                return -ENOMEM;
            j->n_place = (int)i + 1;
        }
    }
    j->replicas = r->replicas == 2 ? 2 : 1;
    j->stage_only = r->stage_only;
    if (!r->plan || sched_is_final(j->state) || !r->plan->n_tasks ||
        r->plan->n_tasks > JOBPLAN_MAX_PARTS)
        return 0;
    if (!(x = calloc(1, sizeof *x)))
        return -ENOMEM;
    if (!(x->plan = plan_own(r->plan))) {
        free(x);
        return -ENOMEM;
    }
    x->n_parts = (int)x->plan->n_tasks;
    x->epoch = x->plan->epoch;
    x->plan_durable = 1;
    j->dist = x;
    return 0;
}

/* At start, after every job is loaded: distributed jobs not final go on
 * (the node indices come from the task order of the plan). */
void sched_dist_resume(dsched *s)
{
    for (int i = 0; i < s->n_jobs; i++) {
        djob *j = s->jv[i];
        djdist *x = j->dist;
        int bad = 0;
        if (!x || !x->plan || sched_is_final(j->state))
            continue;
        /* Node of each part: recorded as the destination of its task,
         * which the record does not hold; the placement or the plan's
         * outputs do not either, so the tasks carry it. */
        for (size_t k = 0; k < x->plan->n_tasks; k++) {
            int n = node_index(s, x->plan->tasks[k]->node);
            if (n < 0)
                bad = 1;
            else
                x->node[k] = n;
            x->node2[k] = -1;
        }
        for (size_t k = 0; k < x->plan->n_replicas; k++) {
            const Lagrange__V1__Task *r = x->plan->replicas[k];
            int n = node_index(s, r->node);
            if (n < 0)
                bad = 1;
            else if (r->part < x->plan->n_tasks)
                x->node2[r->part] = n;
        }
        if (bad) {
            job_fail(j, "after a restart: its plan names a node the "
                     "topology no longer has");
            continue;
        }
        if (x->plan->dispatched) {
            x->phase = DJ_WAIT;
            x->t_wait = x->t_progress = sched_now_ms();
            sched_set_state(j, LAGRANGE__V1__JOB_STATE__RUNNING,
                            "Resumed after restart: waiting for outputs");
            log_info("job %s resumes: plan dispatched, waiting for its "
                     "outputs", j->id);
            if (j->stage_only)
                stage_check(j);
            else
                check_outputs(j);
        } else {
            log_info("job %s resumes: dispatching its plan again", j->id);
            dispatch(j);
        }
    }
}

void sched_dist_after(sop *op)
{
    switch (op->kind) {
    case OP_DIST_PREP: after_prep(op); break;
    case OP_DIST_BUILD: after_build(op); break;
    case OP_DIST_FINISH: after_finish(op); break;
    case OP_TASK_RUN: after_task(op); break;
    case OP_PART_IMPORT: after_import(op); break;
    default: break;
    }
}

void sched_dist_work(sop *op)
{
    switch (op->kind) {
    case OP_DIST_PREP: work_prep(op); break;
    case OP_DIST_BUILD: work_build(op); break;
    case OP_DIST_FINISH: work_finish(op); break;
    case OP_TASK_RUN: work_task(op); break;
    case OP_PART_IMPORT: work_import(op); break;
    default: break;
    }
}

void sched_dist_stop(dsched *s)
{
    for (int i = 0; i < BUILT_MAX; i++) {
        jobplan_free(s->built[i].jp);
        plan_model_free(s->built[i].pm0);
        memset(&s->built[i], 0, sizeof s->built[i]);
    }
    for (int i = 0; i < PMCACHE; i++) {
        plan_model_free(s->pmc[i].pm);
        s->pmc[i].pm = NULL;
    }
    dtask *t = s->tasks;
    while (t) {
        dtask *n = t->next;
        task_free(t);
        t = n;
    }
    s->tasks = NULL;
    s->n_tasks = 0;
}

/* Fill the DistPlan for the job record (NULL: none). */
const Lagrange__V1__DistPlan *sched_dist_record(const djob *j)
{
    return j->dist && j->dist->plan ? j->dist->plan : NULL;
}
