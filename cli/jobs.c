/*
 * jobs.c - the job verbs of lagrange(1), gRPC to lagranged's
 * lagrange.v1.Scheduler: submit (SubmitJob, PutBlob for large inputs,
 * then with --wait WatchJob and GetResult), queue (ListJobs), show
 * (GetJob), watch (WatchJob), cancel (CancelJob), result (GetResult) and
 * nodes (ListNodes).
 *
 * A job is one row of the job table (job_cols): queue prints many, show
 * one as Key=Value lines, and --json prints the same objects everywhere.
 * Results arrive as chunks, one output after the other; fetch puts each
 * output together in a tensor as it comes and writes it with lg_npy_write
 * once its last chunk is in.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "grpcc.h"
#include "lagrange/v1/api.pb-c.h"
#include "npy.h"
#include "table.h"

#define RPC_TIMEOUT_MS 30000            /* unary calls, unless --timeout */
#define MAX_INPUTS 256
/* Inputs travel inline in SubmitJob while the request stays below gRPC's
 * default message limit (4 MiB) with room to spare; the rest, and any
 * input above 4 MiB, go first through PutBlob. */
#define INLINE_BUDGET (((size_t)4 << 20) - ((size_t)64 << 10))
#define MAX_OPTS 32

typedef Lagrange__V1__Job Job;

/* ---- option parsing shared by the verbs ---------------------------------- */

typedef struct vopts {
    grpcc_opts go;
    table_opts to;
    int listing;                 /* takes --parsable, -o, --noheader */
} vopts;

/* getopt_long over the verb's own options plus the connection options,
 * --json (always) and the listing options (when v->listing). own handles
 * the verb's options and returns 0 or an exit code. Returns 0 to go on,
 * -1 after --help (exit 0), or an exit code. */
static int parse(int argc, char **argv, const char *verb, const char *sopts,
                 const struct option *own, void (*help)(FILE *), vopts *v,
                 int (*own_fn)(void *ctx, int c, const char *arg),
                 void *ctx)
{
    const struct option common[] = {
        GRPCC_LONG_OPTIONS,
        TABLE_LONG_OPTIONS,
        { "help", no_argument, 0, 'h' },
    };
    struct option all[MAX_OPTS];
    char shorts[64];
    int n = 0, c, r;

    for (; own && own[n].name && n < MAX_OPTS - 12; n++)
        all[n] = own[n];
    for (size_t i = 0; i < sizeof common / sizeof common[0]; i++)
        all[n++] = common[i];
    memset(&all[n], 0, sizeof all[n]);
    snprintf(shorts, sizeof shorts, "%sh%s", sopts, v->listing ? "o:" : "");
    optind = 1;
    while ((c = getopt_long(argc, argv, shorts, all, NULL)) != -1) {
        if ((r = grpcc_opt(&v->go, verb, c, optarg)) != 0) {
            if (r < 0)
                return EXIT_USAGE;
            continue;
        }
        if (c == 'h') {
            help(stdout);
            return -1;
        }
        if (c == '?') {
            help(stderr);
            return EXIT_USAGE;
        }
        if ((c == TABLE_OPT_JSON || v->listing) &&
            table_opt(&v->to, c, optarg))
            continue;
        if (c == TABLE_OPT_PARSABLE || c == TABLE_OPT_NOHEADER ||
            c == TABLE_OPT_FORMAT) {
            cli_err(verb, "%s is for listings (queue, nodes, model ls)",
                    argv[optind - 1]);
            return EXIT_USAGE;
        }
        if (!own_fn) {
            help(stderr);
            return EXIT_USAGE;
        }
        if ((r = own_fn(ctx, c, optarg)) != 0)
            return r;
    }
    return 0;
}

static int unary_ms(const vopts *v)
{
    return v->go.timeout_ms ? v->go.timeout_ms : RPC_TIMEOUT_MS;
}

static int out_flush(const char *verb)
{
    if (fflush(stdout) != 0 || ferror(stdout)) {
        cli_err(verb, "write error on standard output");
        return EXIT_FAIL;
    }
    return EXIT_OK;
}

static uint64_t now_unix_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- jobs as rows -------------------------------------------------------- */

static const char *state_name(int s)
{
    const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(
        &lagrange__v1__job_state__descriptor, s);
    return v ? v->name : "UNKNOWN";
}

static int is_final(int s)
{
    return s == LAGRANGE__V1__JOB_STATE__COMPLETED ||
           s == LAGRANGE__V1__JOB_STATE__FAILED ||
           s == LAGRANGE__V1__JOB_STATE__CANCELLED ||
           s == LAGRANGE__V1__JOB_STATE__EXPIRED;
}

static const char *objective_name(int o)
{
    switch (o) {
    case LAGRANGE__V1__OBJECTIVE__MIN_TIME: return "time";
    case LAGRANGE__V1__OBJECTIVE__MIN_ENERGY: return "energy";
    default: return "";
    }
}

enum {
    JC_ID, JC_NAME, JC_MODEL, JC_MODEL_ID, JC_STATE, JC_REASON, JC_AGE,
    JC_NODES, JC_PROGRESS, JC_PRIORITY, JC_OBJECTIVE, JC_ATTEMPTS,
    JC_CREATED, JC_STARTED, JC_FINISHED, JC_UPDATED, JC_DEADLINE, JC_ERROR,
    JC_IDEMPOTENCY_KEY, JC_OUTPUTS, JC_PARTITIONS, JC_PREDICTED, JC_N
};
static const table_col job_cols[JC_N] = {
    [JC_ID] = { "id", "ID", 0, 0 },
    [JC_NAME] = { "name", "NAME", TABLE_EXTRA, 0 },
    [JC_MODEL] = { "model", "MODEL", 0, 24 },
    [JC_MODEL_ID] = { "model_id", "MODEL_ID", TABLE_EXTRA, 16 },
    [JC_STATE] = { "state", "STATE", 0, 0 },
    [JC_REASON] = { "reason", "REASON", 0, 0 },
    [JC_AGE] = { "age", "AGE", TABLE_RIGHT, 0 },
    [JC_NODES] = { "nodes", "NODES", 0, 0 },
    [JC_PROGRESS] = { "progress", "PROGRESS", TABLE_EXTRA | TABLE_RIGHT, 0 },
    [JC_PRIORITY] = { "priority", "PRIORITY", TABLE_EXTRA | TABLE_RIGHT, 0 },
    [JC_OBJECTIVE] = { "objective", "OBJECTIVE", TABLE_EXTRA, 0 },
    [JC_ATTEMPTS] = { "attempts", "ATTEMPTS", TABLE_EXTRA | TABLE_RIGHT, 0 },
    [JC_CREATED] = { "created", "CREATED", TABLE_EXTRA, 0 },
    [JC_STARTED] = { "started", "STARTED", TABLE_EXTRA, 0 },
    [JC_FINISHED] = { "finished", "FINISHED", TABLE_EXTRA, 0 },
    [JC_UPDATED] = { "updated", "UPDATED", TABLE_EXTRA, 0 },
    [JC_DEADLINE] = { "deadline", "DEADLINE", TABLE_EXTRA, 0 },
    [JC_ERROR] = { "error", "ERROR", TABLE_EXTRA, 0 },
    [JC_IDEMPOTENCY_KEY] = { "idempotency_key", "IDEMPOTENCY_KEY",
                             TABLE_EXTRA, 0 },
    [JC_OUTPUTS] = { "outputs", "OUTPUTS", TABLE_EXTRA, 0 },
    [JC_PARTITIONS] = { "partitions", "PARTITIONS",
                        TABLE_EXTRA | TABLE_RIGHT, 0 },
    [JC_PREDICTED] = { "predicted_s", "PREDICTED", TABLE_EXTRA | TABLE_RIGHT,
                       0 },
};

static void time_cell(table *t, int col, uint64_t ms)
{
    char a[64], b[64];
    table_set(t, col, table_time(a, sizeof a, ms),
              table_time_json(b, sizeof b, ms));
}

static int job_row(table *t, const Job *j, uint64_t now_ms)
{
    char a[64], *text = NULL, *json = NULL;
    size_t tl = 0, jl = 0;
    FILE *ft, *fj;

    if (table_row(t) < 0)
        return -ENOMEM;
    table_set(t, JC_ID, j->id, NULL);
    table_set(t, JC_NAME, j->name, NULL);
    if (j->model_name[0]) {
        table_set(t, JC_MODEL, j->model_name, NULL);
    } else {
        snprintf(a, sizeof a, "%.12s", j->model);
        table_set(t, JC_MODEL, a, "\"\"");
    }
    table_set(t, JC_MODEL_ID, j->model, NULL);
    table_set(t, JC_STATE, state_name(j->state), NULL);
    table_set(t, JC_REASON, j->reason, NULL);
    if (j->created_unix_ms) {
        double age = now_ms > j->created_unix_ms
                         ? (double)(now_ms - j->created_unix_ms) / 1e3 : 0;
        table_num(t, JC_AGE, table_dur(a, sizeof a, age), age);
    }
    if (!(ft = open_memstream(&text, &tl)))
        return -ENOMEM;
    if (!(fj = open_memstream(&json, &jl))) {
        fclose(ft);
        free(text);
        return -ENOMEM;
    }
    fputc('[', fj);
    for (size_t i = 0; i < j->n_nodes; i++) {
        fprintf(ft, "%s%s", i ? "," : "", j->nodes[i]);
        if (i)
            fputc(',', fj);
        cli_json_str(fj, j->nodes[i]);
    }
    fputc(']', fj);
    if (fclose(ft) | fclose(fj)) {
        free(text);
        free(json);
        return -ENOMEM;
    }
    table_set(t, JC_NODES, text, json);
    free(text);
    free(json);
    snprintf(a, sizeof a, "%.0f%%", j->progress * 100);
    table_num(t, JC_PROGRESS, a, j->progress);
    table_num(t, JC_PRIORITY, NULL, j->priority);
    table_set(t, JC_OBJECTIVE, objective_name(j->objective), NULL);
    table_num(t, JC_ATTEMPTS, NULL, j->attempts);
    time_cell(t, JC_CREATED, j->created_unix_ms);
    time_cell(t, JC_STARTED, j->started_unix_ms);
    time_cell(t, JC_FINISHED, j->finished_unix_ms);
    time_cell(t, JC_UPDATED, j->updated_unix_ms);
    time_cell(t, JC_DEADLINE, j->deadline_unix_ms);
    table_set(t, JC_ERROR, j->error, NULL);
    table_set(t, JC_IDEMPOTENCY_KEY, j->idempotency_key, NULL);
    table_num(t, JC_PARTITIONS, NULL, j->partitions);
    if (j->predicted_s > 0) {
        if (j->predicted_s < 60)
            snprintf(a, sizeof a, "%.3gs", j->predicted_s);
        else
            table_dur(a, sizeof a, j->predicted_s);
        table_num(t, JC_PREDICTED, a, j->predicted_s);
    }
    return models_tinfo_cell(t, JC_OUTPUTS, j->outputs, j->n_outputs);
}

/* One job as one JSON object (every column) on f, without a newline. */
static int job_json(FILE *f, const Job *j)
{
    table_opts to = { TABLE_JSON, 0, NULL };
    table *t;
    char err[128];
    if (table_new(&t, job_cols, JC_N, &to, err, sizeof err) < 0)
        return -ENOMEM;
    if (job_row(t, j, now_unix_ms()) < 0) {
        table_free(t);
        return -ENOMEM;
    }
    table_json_row(t, f, 0);
    table_free(t);
    return 0;
}

static int get_job(grpcc *g, const char *verb, const char *id, int ms,
                   Job **j)
{
    Lagrange__V1__GetJobRequest req = LAGRANGE__V1__GET_JOB_REQUEST__INIT;
    req.job_id = (char *)id;
    return grpcc_call(g, verb, NULL, GRPCC_API "GetJob", &req.base,
                      &lagrange__v1__job__descriptor, (ProtobufCMessage **)j,
                      ms);
}

/* ---- watching ------------------------------------------------------------ */

enum watch_mode { W_QUIET, W_BAR, W_LINES, W_JSON };

typedef struct watcher {
    const char *verb;
    enum watch_mode mode;
    FILE *out;
    Job *last;                   /* the latest job seen */
    int bar_drawn;               /* a bar line is open on out */
    int bad;                     /* an event we could not decode */
} watcher;

static void draw_bar(watcher *w, const Job *j)
{
    int fill = (int)(j->progress * 30 + 0.5);
    if (fill < 0)
        fill = 0;
    if (fill > 30)
        fill = 30;
    fprintf(w->out, "\r%s %-9s [%.*s%.*s] %3.0f%% %s\033[K", j->id,
            state_name(j->state), fill, "##############################",
            30 - fill, "------------------------------", j->progress * 100,
            j->reason);
    w->bar_drawn = 1;
    if (is_final(j->state)) {
        fputc('\n', w->out);
        w->bar_drawn = 0;
    }
    fflush(w->out);
}

static int watch_msg(void *arg, const uint8_t *m, size_t n)
{
    watcher *w = arg;
    Lagrange__V1__JobEvent *ev = lagrange__v1__job_event__unpack(NULL, n, m);
    char ts[64];
    Job *j;

    if (!ev || !ev->job) {
        if (ev)
            lagrange__v1__job_event__free_unpacked(ev, NULL);
        w->bad = 1;
        return 1;
    }
    j = ev->job;
    switch (w->mode) {
    case W_QUIET:
        break;
    case W_BAR:
        draw_bar(w, j);
        break;
    case W_LINES: {
        uint64_t t = j->updated_unix_ms ? j->updated_unix_ms : now_unix_ms();
        time_t s = (time_t)(t / 1000);
        struct tm tm;
        gmtime_r(&s, &tm);
        strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
        fprintf(w->out, "%s.%03uZ %s %s %s %.0f%%\n", ts,
                (unsigned)(t % 1000), j->id, state_name(j->state),
                j->reason[0] ? j->reason : "-", j->progress * 100);
        fflush(w->out);
        break;
    }
    case W_JSON:
        fprintf(w->out, "{\"event\":");
        cli_json_str(w->out, ev->event);
        fprintf(w->out, ",\"job\":");
        job_json(w->out, j);
        fprintf(w->out, "}\n");
        fflush(w->out);
        break;
    }
    /* Keep the job; drop the event around it. */
    if (w->last)
        lagrange__v1__job__free_unpacked(w->last, NULL);
    w->last = j;
    ev->job = NULL;
    lagrange__v1__job_event__free_unpacked(ev, NULL);
    return 0;
}

/* Follow job id to its end. Returns an exit code: 0 COMPLETED, EXIT_JOBFAIL
 * for another final state (with the job's error printed), or the call's.
 * *last (may be NULL) gets the final job; the caller frees it. */
static int watch_job(grpcc *g, const char *verb, const char *id,
                     enum watch_mode mode, FILE *out, int timeout_ms,
                     Job **last)
{
    Lagrange__V1__WatchJobRequest req = LAGRANGE__V1__WATCH_JOB_REQUEST__INIT;
    watcher w = { .verb = verb, .mode = mode, .out = out };
    grpcc_status st;
    uint8_t *buf;
    size_t n;
    int rc, ex;

    if (last)
        *last = NULL;
    req.job_id = (char *)id;
    n = lagrange__v1__watch_job_request__get_packed_size(&req);
    if (!(buf = malloc(n ? n : 1))) {
        cli_err(verb, "out of memory");
        return EXIT_FAIL;
    }
    lagrange__v1__watch_job_request__pack(&req, buf);
    rc = grpcc_server_stream(g, GRPCC_API "WatchJob", buf, n, watch_msg, &w,
                             timeout_ms, &st);
    free(buf);
    if (w.bar_drawn)
        fputc('\n', out);
    if (w.bad) {
        cli_err(verb, "cannot decode an event from %s", grpcc_server(g));
        ex = EXIT_FAIL;
    } else if (rc != 0) {
        ex = grpcc_fail(verb, id, rc, &st);
    } else if (!w.last || !is_final(w.last->state)) {
        cli_err(verb, "job %s: the watch ended before the job did", id);
        ex = EXIT_FAIL;
    } else if (w.last->state != LAGRANGE__V1__JOB_STATE__COMPLETED) {
        cli_err(verb, "job %s %s%s%s", w.last->id,
                state_name(w.last->state), w.last->error[0] ? ": " : "",
                w.last->error);
        ex = EXIT_JOBFAIL;
    } else {
        ex = EXIT_OK;
    }
    if (last && w.last && ex != EXIT_FAIL && rc == 0)
        *last = w.last;
    else if (w.last)
        lagrange__v1__job__free_unpacked(w.last, NULL);
    return ex;
}

/* ---- lagrange model stage ------------------------------------------------- */

int jobs_stage(grpcc *g, const char *model, char **nodes, int n, int json,
               int timeout_ms)
{
    const char *verb = "model stage";
    Lagrange__V1__SubmitJobRequest req =
        LAGRANGE__V1__SUBMIT_JOB_REQUEST__INIT;
    Job *job = NULL, *fin = NULL;
    int ex;
    req.model = (char *)model;
    req.n_placement = (size_t)n;
    req.placement = nodes;
    req.stage_only = 1;
    ex = grpcc_call(g, verb, NULL, GRPCC_API "SubmitJob", &req.base,
                    &lagrange__v1__job__descriptor, (ProtobufCMessage **)&job,
                    timeout_ms ? timeout_ms : RPC_TIMEOUT_MS);
    if (ex != EXIT_OK)
        return ex;
    ex = watch_job(g, verb, job->id, isatty(2) && !json ? W_BAR : W_QUIET,
                   stderr, timeout_ms, &fin);
    if (ex == EXIT_OK && fin) {
        if (json) {
            job_json(stdout, fin);
            putchar('\n');
        } else {
            printf("%s: %zu partitions of %s staged on", fin->id,
                   (size_t)fin->partitions, fin->model_name);
            for (size_t i = 0; i < fin->n_nodes; i++)
                printf("%s%s", i ? "," : " ", fin->nodes[i]);
            putchar('\n');
        }
        ex = out_flush(verb);
    }
    if (fin)
        lagrange__v1__job__free_unpacked(fin, NULL);
    lagrange__v1__job__free_unpacked(job, NULL);
    return ex;
}

/* ---- results ------------------------------------------------------------- */

typedef struct fetch {
    const char *verb;
    const char *file;            /* -o: the one output goes here */
    const char *dir;             /* else DIR/NAME.npy */
    int dir_made;
    lg_tensor *t;                /* the output being put together */
    char name[256];
    uint64_t size, off;
    int done;                    /* outputs written */
    int ex;                      /* a local failure (printed) */
    FILE *out;                   /* where the paths go */
} fetch;

static enum lg_dtype dtype_of(const char *name)
{
    static const enum lg_dtype all[] = { LG_F32, LG_F64, LG_I64, LG_I32,
                                         LG_U8, LG_I8, LG_BOOL };
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (!strcmp(lg_dtype_name(all[i]), name))
            return all[i];
    return LG_UNDEF;
}

static int fetch_fail(fetch *f, int ex, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fetch_fail(fetch *f, int ex, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cli_err(f->verb, "%s", msg);
    f->ex = ex;
    return 1;
}

/* A new output starts with chunk c. */
static int fetch_start(fetch *f, const Lagrange__V1__ResultChunk *c)
{
    enum lg_dtype dt = dtype_of(c->dtype);
    lg_shape s = { .rank = (int)c->n_shape };
    size_t nb;

    if (f->file && f->done)
        return fetch_fail(f, EXIT_USAGE, "the job has more than one output "
                          "(%s, %s, ...): -o takes one; give --output NAME "
                          "or -O DIR", f->name, c->name);
    snprintf(f->name, sizeof f->name, "%s", c->name);
    if (c->offset != 0)
        return fetch_fail(f, EXIT_FAIL, "output %s: the first chunk is at "
                          "offset %llu", c->name,
                          (unsigned long long)c->offset);
    if (dt == LG_UNDEF)
        return fetch_fail(f, EXIT_UNSUP, "output %s: dtype '%s' cannot be "
                          "written as .npy here", c->name, c->dtype);
    if (c->n_shape > LG_MAX_RANK)
        return fetch_fail(f, EXIT_UNSUP, "output %s: rank %zu is above %d",
                          c->name, c->n_shape, LG_MAX_RANK);
    for (size_t i = 0; i < c->n_shape; i++)
        s.d[i] = c->shape[i];
    if (lg_shape_nbytes(&s, dt, &nb) < 0 || nb != c->size)
        return fetch_fail(f, EXIT_FAIL, "output %s: %llu bytes do not make "
                          "a %s tensor of that shape", c->name,
                          (unsigned long long)c->size, c->dtype);
    if (!(f->t = lg_tensor_alloc(dt, &s)))
        return fetch_fail(f, EXIT_FAIL, "output %s: out of memory for %zu "
                          "bytes", c->name, nb);
    f->size = c->size;
    f->off = 0;
    return 0;
}

static int fetch_finish(fetch *f)
{
    char path[4096], safe[256], err[1024];
    int rc;
    if (f->file) {
        snprintf(path, sizeof path, "%s", f->file);
    } else {
        if (!f->dir_made) {
            if (mkdir(f->dir, 0777) < 0 && errno != EEXIST)
                return fetch_fail(f, EXIT_FAIL, "%s: %s", f->dir,
                                  strerror(errno));
            f->dir_made = 1;
        }
        cli_safe_name(f->name, safe, sizeof safe);
        snprintf(path, sizeof path, "%s/%s.npy", f->dir, safe);
    }
    if ((rc = lg_npy_write(path, f->t, err, sizeof err)) < 0)
        return fetch_fail(f, cli_exit_code(rc), "%s", err);
    fprintf(f->out, "%s\n", path);
    fflush(f->out);
    lg_tensor_unref(f->t);
    f->t = NULL;
    f->done++;
    return 0;
}

static int fetch_msg(void *arg, const uint8_t *m, size_t n)
{
    fetch *f = arg;
    Lagrange__V1__ResultChunk *c =
        lagrange__v1__result_chunk__unpack(NULL, n, m);
    int r = 0;

    if (!c)
        return fetch_fail(f, EXIT_FAIL, "cannot decode a result chunk");
    if (!f->t)
        r = fetch_start(f, c);
    else if (strcmp(c->name, f->name))
        r = fetch_fail(f, EXIT_FAIL, "output %s ended without its last "
                       "chunk (a chunk of %s came)", f->name, c->name);
    if (!r && c->offset != f->off)
        r = fetch_fail(f, EXIT_FAIL, "output %s: chunk at offset %llu, "
                       "expected %llu", f->name,
                       (unsigned long long)c->offset,
                       (unsigned long long)f->off);
    if (!r && c->data.len > f->size - f->off)
        r = fetch_fail(f, EXIT_FAIL, "output %s: chunks past its %llu "
                       "bytes", f->name, (unsigned long long)f->size);
    if (!r) {
        if (c->data.len)
            memcpy((uint8_t *)f->t->data + f->off, c->data.data,
                   c->data.len);
        f->off += c->data.len;
        if (c->last) {
            if (f->off != f->size)
                r = fetch_fail(f, EXIT_FAIL, "output %s: last chunk at %llu "
                               "of %llu bytes", f->name,
                               (unsigned long long)f->off,
                               (unsigned long long)f->size);
            else
                r = fetch_finish(f);
        }
    }
    lagrange__v1__result_chunk__free_unpacked(c, NULL);
    return r;
}

/* GetResult of job id into file (one output) or dir; prints the paths. */
static int fetch_result(grpcc *g, const char *verb, const char *id,
                        const char *output, const char *file,
                        const char *dir, int timeout_ms, FILE *out)
{
    Lagrange__V1__GetResultRequest req =
        LAGRANGE__V1__GET_RESULT_REQUEST__INIT;
    fetch f = { .verb = verb, .file = file, .dir = dir, .out = out };
    grpcc_status st;
    uint8_t *buf;
    size_t n;
    int rc;

    req.job_id = (char *)id;
    req.output = (char *)(output ? output : "");
    n = lagrange__v1__get_result_request__get_packed_size(&req);
    if (!(buf = malloc(n ? n : 1))) {
        cli_err(verb, "out of memory");
        return EXIT_FAIL;
    }
    lagrange__v1__get_result_request__pack(&req, buf);
    rc = grpcc_server_stream(g, GRPCC_API "GetResult", buf, n, fetch_msg, &f,
                             timeout_ms, &st);
    free(buf);
    if (f.t)
        lg_tensor_unref(f.t);
    if (f.ex)
        return f.ex;
    if (rc != 0)
        return grpcc_fail(verb, id, rc, &st);
    if (f.t) {
        cli_err(verb, "job %s: the result ended inside output %s", id,
                f.name);
        return EXIT_FAIL;
    }
    if (!f.done) {
        cli_err(verb, "job %s: the server sent no output", id);
        return EXIT_FAIL;
    }
    if (fflush(out) != 0 || ferror(out)) {
        cli_err(verb, "write error on standard output");
        return EXIT_FAIL;
    }
    return EXIT_OK;
}

/* ---- lagrange submit ----------------------------------------------------- */

static void submit_help(FILE *f)
{
    fprintf(f,
"usage: lagrange submit MODEL -i [NAME=]FILE.npy... [--wait] [-O DIR]\n"
"                       [--deadline D] [--priority 0-7]\n"
"                       [--objective time|energy] [--idempotency-key K]\n"
"                       [--name LABEL] [--place NODE,...] [--replicas 2]\n"
"                       [--json]\n\n"
"Submit a job: run MODEL (an id, an id prefix of 8+ hex digits, or a\n"
"name, as `lagrange model push` gave it) on the inputs. Each -i feeds the\n"
"graph input NAME from a .npy file; NAME= may be left out when there is\n"
"one -i. Inputs travel in the request while it stays under 4 MiB; larger\n"
"ones are uploaded first (PutBlob). Prints the job id once lagranged has\n"
"it on disk. With --wait, follows the job (progress on stderr when it is\n"
"a terminal), then writes its outputs as DIR/NAME.npy (-O DIR; default\n"
"./JOBID/) and prints their paths.\n\n"
"  -i, --input [NAME=]FILE   an input (repeatable)\n"
"  -w, --wait                wait for the job, fetch its outputs\n"
"  -O, --output-dir DIR      with --wait: where the outputs go\n"
"  --deadline D              give up (EXPIRED) if not done D after\n"
"                            acceptance (30s, 5m, 1h, 1d)\n"
"  -p, --priority N          0..7, higher first (default 0)\n"
"  --objective time|energy   earliest completion (default) or least energy\n"
"                            that meets the deadline\n"
"  --idempotency-key K       a retry with the same K returns the first job\n"
"  -n, --name LABEL          a label for listings\n"
"  --place NODE,...          split MODEL into one partition per NODE (about\n"
"                            equal FLOPs, in graph order) and run partition i\n"
"                            on the i-th NODE; tensors travel between them\n"
"                            by store-and-forward (default: the planner of\n"
"                            the lagranged that takes the job places it)\n"
"  --replicas 2              run each partition of a distributed job on a\n"
"                            second node too; the first result wins\n"
"  --json                    print the job as a JSON object (with --wait:\n"
"                            {\"job\":{...},\"files\":[...]})\n"
GRPCC_OPTIONS_HELP
"\nExit status: 0 ok, 2 usage, 3 bad input file or inputs that do not fit\n"
"the model, 6 no such model, 7 lagranged not reachable, 8 timed out,\n"
"9 the job ended FAILED, CANCELLED or EXPIRED (--wait), 10 not\n"
"authorised, 1 any other failure.\n");
}

typedef struct submit_args {
    const char *in[MAX_INPUTS];
    int n_in;
    int wait;
    const char *dir;
    uint64_t deadline_ms;
    long priority;
    int objective;
    const char *key;
    const char *name;
    char *place[64];
    int n_place;
    char place_buf[4096];
    unsigned replicas;
} submit_args;

enum { SO_DEADLINE = 0x6a01, SO_OBJECTIVE, SO_KEY, SO_PLACE, SO_REPLICAS };

static int submit_opt(void *ctx, int c, const char *arg)
{
    submit_args *a = ctx;
    char *e;
    switch (c) {
    case 'i':
        if (a->n_in == MAX_INPUTS) {
            cli_err("submit", "too many -i options (max %d)", MAX_INPUTS);
            return EXIT_USAGE;
        }
        a->in[a->n_in++] = arg;
        return 0;
    case 'w': a->wait = 1; return 0;
    case 'O': a->dir = arg; return 0;
    case 'n': a->name = arg; return 0;
    case SO_PLACE: {
        char *p, *save = NULL;
        if (strlen(arg) >= sizeof a->place_buf) {
            cli_err("submit", "--place: list too long");
            return EXIT_USAGE;
        }
        snprintf(a->place_buf, sizeof a->place_buf, "%s", arg);
        a->n_place = 0;
        for (p = strtok_r(a->place_buf, ",", &save); p;
             p = strtok_r(NULL, ",", &save)) {
            if (a->n_place == 64) {
                cli_err("submit", "--place: at most 64 nodes");
                return EXIT_USAGE;
            }
            a->place[a->n_place++] = p;
        }
        if (a->n_place == 0) {
            cli_err("submit", "--place wants NODE[,NODE...], got '%s'", arg);
            return EXIT_USAGE;
        }
        return 0;
    }
    case SO_REPLICAS:
        if (strcmp(arg, "1") && strcmp(arg, "2")) {
            cli_err("submit", "--replicas wants 1 or 2, got '%s'", arg);
            return EXIT_USAGE;
        }
        a->replicas = (unsigned)(arg[0] - '0');
        return 0;
    case SO_KEY:
        if (strlen(arg) > 128) {
            cli_err("submit", "--idempotency-key: at most 128 bytes");
            return EXIT_USAGE;
        }
        a->key = arg;
        return 0;
    case SO_DEADLINE:
        if (grpcc_dur_ms(arg, &a->deadline_ms) < 0) {
            cli_err("submit", "--deadline wants a duration (30s, 5m, 1h, "
                    "1d), got '%s'", arg);
            return EXIT_USAGE;
        }
        return 0;
    case 'p':
        a->priority = strtol(arg, &e, 10);
        if (*e || e == arg || a->priority < 0 || a->priority > 7) {
            cli_err("submit", "--priority wants 0..7, got '%s'", arg);
            return EXIT_USAGE;
        }
        return 0;
    case SO_OBJECTIVE:
        if (!strcmp(arg, "time"))
            a->objective = LAGRANGE__V1__OBJECTIVE__MIN_TIME;
        else if (!strcmp(arg, "energy"))
            a->objective = LAGRANGE__V1__OBJECTIVE__MIN_ENERGY;
        else {
            cli_err("submit", "--objective wants time or energy, got '%s'",
                    arg);
            return EXIT_USAGE;
        }
        return 0;
    default:
        submit_help(stderr);
        return EXIT_USAGE;
    }
}

int cmd_submit(int argc, char **argv)
{
    static const struct option opts[] = {
        { "input", required_argument, 0, 'i' },
        { "wait", no_argument, 0, 'w' },
        { "output-dir", required_argument, 0, 'O' },
        { "deadline", required_argument, 0, SO_DEADLINE },
        { "priority", required_argument, 0, 'p' },
        { "objective", required_argument, 0, SO_OBJECTIVE },
        { "idempotency-key", required_argument, 0, SO_KEY },
        { "name", required_argument, 0, 'n' },
        { "place", required_argument, 0, SO_PLACE },
        { "replicas", required_argument, 0, SO_REPLICAS },
        { 0, 0, 0, 0 },
    };
    submit_args a = { .n_in = 0 };
    vopts v = { .listing = 0 };
    Lagrange__V1__SubmitJobRequest req =
        LAGRANGE__V1__SUBMIT_JOB_REQUEST__INIT;
    Lagrange__V1__Tensor tens[MAX_INPUTS], *tp[MAX_INPUTS];
    lg_tensor *held[MAX_INPUTS] = { 0 };
    char names[MAX_INPUTS][256], blob[MAX_INPUTS][65], dtypes[MAX_INPUTS][16];
    int64_t shapes[MAX_INPUTS][LG_MAX_RANK];
    size_t inline_total = 0;
    grpcc *g = NULL;
    Job *job = NULL, *fin = NULL;
    int ex;

    grpcc_opts_init(&v.go, 0);
    if ((ex = parse(argc, argv, "submit", "i:wO:p:n:", opts, submit_help,
                    &v, submit_opt, &a)))
        return ex < 0 ? EXIT_OK : ex;
    if (optind != argc - 1) {
        cli_err("submit", optind >= argc ? "missing MODEL%s"
                                         : "unexpected argument '%s'",
                optind >= argc ? "" : argv[optind + 1]);
        submit_help(stderr);
        return EXIT_USAGE;
    }
    if (a.n_in == 0) {
        cli_err("submit", "no inputs: give -i [NAME=]FILE.npy");
        return EXIT_USAGE;
    }
    if (a.dir && !a.wait) {
        cli_err("submit", "-O DIR is for --wait (else: lagrange result JOB "
                "-O DIR)");
        return EXIT_USAGE;
    }
    if ((ex = grpcc_connect("submit", &v.go, &g)) != EXIT_OK)
        return ex;

    /* Inputs: read and check each file, then inline or upload. */
    for (int k = 0; k < a.n_in; k++) {
        const char *spec = a.in[k], *eq = strchr(spec, '='), *file = spec;
        char err[1024];
        lg_tensor *t;
        int rc;

        names[k][0] = '\0';
        if (eq) {
            snprintf(names[k], sizeof names[k], "%.*s", (int)(eq - spec),
                     spec);
            file = eq + 1;
        } else if (a.n_in > 1) {
            cli_err("submit", "-i %s: with several inputs write "
                    "NAME=FILE.npy", spec);
            ex = EXIT_USAGE;
            goto out;
        }
        for (int q = 0; q < k; q++)
            if (!strcmp(names[q], names[k])) {
                cli_err("submit", "input '%s' given twice", names[k]);
                ex = EXIT_USAGE;
                goto out;
            }
        if ((rc = lg_npy_read(file, &t, err, sizeof err)) < 0) {
            cli_err("submit", "%s", err);
            ex = cli_exit_code(rc);
            goto out;
        }
        lagrange__v1__tensor__init(&tens[k]);
        tp[k] = &tens[k];
        tens[k].name = names[k];
        if (t->nbytes <= INLINE_BUDGET - inline_total) {
            inline_total += t->nbytes;
            snprintf(dtypes[k], sizeof dtypes[k], "%s",
                     lg_dtype_name(t->dtype));
            for (int d = 0; d < t->shape.rank; d++)
                shapes[k][d] = t->shape.d[d];
            tens[k].dtype = dtypes[k];
            tens[k].n_shape = (size_t)t->shape.rank;
            tens[k].shape = shapes[k];
            tens[k].data.len = t->nbytes;
            tens[k].data.data = t->data;
            held[k] = t;
        } else {
            lg_tensor_unref(t);
            if ((ex = models_put_blob(g, "submit", file, v.go.timeout_ms,
                                      isatty(2), blob[k])) != EXIT_OK)
                goto out;
            tens[k].blob = blob[k];
        }
    }
    req.model = argv[optind];
    req.n_inputs = (size_t)a.n_in;
    req.inputs = tp;
    req.objective = a.objective;
    req.deadline_ms = a.deadline_ms;
    req.priority = (uint32_t)a.priority;
    req.idempotency_key = (char *)(a.key ? a.key : "");
    req.name = (char *)(a.name ? a.name : "");
    req.n_placement = (size_t)a.n_place;
    req.placement = a.place;
    req.replicas = a.replicas;
    ex = grpcc_call(g, "submit", NULL, GRPCC_API "SubmitJob", &req.base,
                    &lagrange__v1__job__descriptor, (ProtobufCMessage **)&job,
                    unary_ms(&v));
    for (int k = 0; k < a.n_in; k++)
        if (held[k]) {
            lg_tensor_unref(held[k]);
            held[k] = NULL;
        }
    if (ex != EXIT_OK)
        goto out;
    if (!a.wait) {
        if (v.to.mode == TABLE_JSON) {
            job_json(stdout, job);
            putchar('\n');
        } else {
            printf("%s\n", job->id);
        }
        ex = out_flush("submit");
        goto out;
    }

    /* --wait: follow it, then fetch the outputs. */
    ex = watch_job(g, "submit", job->id, isatty(2) ? W_BAR : W_QUIET, stderr,
                   v.go.timeout_ms, &fin);
    if (ex == EXIT_OK && v.to.mode != TABLE_JSON) {
        ex = fetch_result(g, "submit", job->id, NULL, NULL,
                          a.dir ? a.dir : job->id, v.go.timeout_ms, stdout);
    } else if (ex == EXIT_OK) {
        /* {"job":{...},"files":[...]}: collect the paths first. */
        char *paths = NULL, *p, *nl;
        size_t plen = 0;
        FILE *pf = open_memstream(&paths, &plen);
        if (!pf) {
            cli_err("submit", "out of memory");
            ex = EXIT_FAIL;
            goto out;
        }
        ex = fetch_result(g, "submit", job->id, NULL, NULL,
                          a.dir ? a.dir : job->id, v.go.timeout_ms, pf);
        if (fclose(pf) != 0 && ex == EXIT_OK)
            ex = EXIT_FAIL;
        if (ex == EXIT_OK) {
            printf("{\"job\":");
            job_json(stdout, fin ? fin : job);
            printf(",\"files\":[");
            for (p = paths; p && (nl = strchr(p, '\n')); p = nl + 1) {
                *nl = '\0';
                if (p != paths)
                    putchar(',');
                cli_json_str(stdout, p);
            }
            printf("]}\n");
            ex = out_flush("submit");
        }
        free(paths);
    }
out:
    for (int k = 0; k < a.n_in; k++)
        if (held[k])
            lg_tensor_unref(held[k]);
    if (job)
        lagrange__v1__job__free_unpacked(job, NULL);
    if (fin)
        lagrange__v1__job__free_unpacked(fin, NULL);
    grpcc_close(g);
    return ex;
}

/* ---- lagrange queue ------------------------------------------------------ */

static void queue_help(FILE *f)
{
    fprintf(f,
"usage: lagrange queue [--state S[,S...]] [--limit N] [--json | --parsable]\n"
"                      [-o COLS] [--noheader]\n\n"
"The jobs lagranged knows, oldest first: ID, MODEL, STATE, REASON (why\n"
"not further along, e.g. WaitingContact(leo-2, 41s)), AGE since\n"
"submission, NODES where it runs.\n\n"
"  --state S,...      only jobs in these states: PENDING, PLANNED, STAGING,\n"
"                     RUNNING, COMPLETED, FAILED, CANCELLED, EXPIRED\n"
"  --limit N          only the N most recent jobs\n"
TABLE_OPTIONS_HELP
GRPCC_OPTIONS_HELP
"\nColumns: id, name, model, model_id, state, reason, age, nodes, progress,\n"
"priority, objective, attempts, created, started, finished, updated,\n"
"deadline, error, idempotency_key, outputs. --json shows them all.\n"
"\nExit status: 0 ok, 2 usage, 7 lagranged not reachable, 8 timed out,\n"
"10 not authorised, 1 any other failure.\n");
}

typedef struct queue_args {
    Lagrange__V1__JobState states[16];
    size_t n_states;
    long limit;
} queue_args;

enum { QO_STATE = 0x6b01, QO_LIMIT };

static int queue_opt(void *ctx, int c, const char *arg)
{
    queue_args *q = ctx;
    char *e;
    if (c == QO_LIMIT) {
        q->limit = strtol(arg, &e, 10);
        if (*e || e == arg || q->limit < 1 || q->limit > 1000000) {
            cli_err("queue", "--limit wants 1..1000000, got '%s'", arg);
            return EXIT_USAGE;
        }
        return 0;
    }
    if (c != QO_STATE) {
        queue_help(stderr);
        return EXIT_USAGE;
    }
    for (const char *p = arg;;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        char up[32];
        const ProtobufCEnumValue *ev = NULL;
        if (len && len < sizeof up) {
            for (size_t i = 0; i < len; i++)
                up[i] = (char)(p[i] >= 'a' && p[i] <= 'z' ? p[i] - 32 : p[i]);
            up[len] = '\0';
            ev = protobuf_c_enum_descriptor_get_value_by_name(
                &lagrange__v1__job_state__descriptor, up);
        }
        if (!ev || ev->value == 0) {
            cli_err("queue", "--state: unknown state '%.*s' (PENDING, "
                    "PLANNED, STAGING, RUNNING, COMPLETED, FAILED, "
                    "CANCELLED, EXPIRED)", (int)len, p);
            return EXIT_USAGE;
        }
        if (q->n_states == sizeof q->states / sizeof q->states[0]) {
            cli_err("queue", "--state: too many states");
            return EXIT_USAGE;
        }
        q->states[q->n_states++] = (Lagrange__V1__JobState)ev->value;
        if (!end)
            break;
        p = end + 1;
    }
    return 0;
}

/* After a listing verb's options: no operands left, the table its -o asks
 * for, and a connection. An exit code, or EXIT_OK with *t and *g set. */
static int listing_start(const char *verb, int argc, char **argv,
                         const table_col *cols, int ncols, const vopts *v,
                         table **t, grpcc **g)
{
    char err[512];
    int ex;
    if (optind != argc) {
        cli_err(verb, "unexpected argument '%s'", argv[optind]);
        return EXIT_USAGE;
    }
    if (table_new(t, cols, ncols, &v->to, err, sizeof err) < 0) {
        cli_err(verb, "-o: %s", err);
        return EXIT_USAGE;
    }
    if ((ex = grpcc_connect(verb, &v->go, g)) != EXIT_OK)
        table_free(*t);
    return ex;
}

int cmd_queue(int argc, char **argv)
{
    static const struct option opts[] = {
        { "state", required_argument, 0, QO_STATE },
        { "limit", required_argument, 0, QO_LIMIT },
        { 0, 0, 0, 0 },
    };
    queue_args q = { .n_states = 0 };
    vopts v = { .listing = 1 };
    Lagrange__V1__ListJobsRequest req = LAGRANGE__V1__LIST_JOBS_REQUEST__INIT;
    Lagrange__V1__ListJobsResponse *r;
    table *t;
    grpcc *g;
    uint64_t now;
    int ex;

    grpcc_opts_init(&v.go, 0);
    if ((ex = parse(argc, argv, "queue", "", opts, queue_help, &v, queue_opt,
                    &q)))
        return ex < 0 ? EXIT_OK : ex;
    if ((ex = listing_start("queue", argc, argv, job_cols, JC_N, &v, &t, &g)))
        return ex;
    req.n_states = q.n_states;
    req.states = q.states;
    req.limit = (uint32_t)q.limit;
    ex = grpcc_call(g, "queue", NULL, GRPCC_API "ListJobs", &req.base,
                    &lagrange__v1__list_jobs_response__descriptor,
                    (ProtobufCMessage **)&r, unary_ms(&v));
    grpcc_close(g);
    if (ex == EXIT_OK) {
        now = now_unix_ms();
        for (size_t i = 0; i < r->n_jobs && ex == EXIT_OK; i++)
            if (job_row(t, r->jobs[i], now) < 0) {
                cli_err("queue", "out of memory");
                ex = EXIT_FAIL;
            }
        if (ex == EXIT_OK) {
            table_print(t, stdout);
            ex = out_flush("queue");
        }
        lagrange__v1__list_jobs_response__free_unpacked(r, NULL);
    }
    table_free(t);
    return ex;
}

/* ---- lagrange show / cancel ---------------------------------------------- */

static void show_help(FILE *f)
{
    fprintf(f,
"usage: lagrange show JOB [--json]\n\n"
"Everything about JOB, one Key=Value per line (as scontrol show job):\n"
"Id, Name, Model, ModelId, State, Reason, Age (seconds in JSON),\n"
"Nodes, Progress, Priority, Objective, Attempts, Created, Started,\n"
"Finished, Updated, Deadline (UTC), Error, IdempotencyKey, Outputs.\n"
"--json prints one JSON object with the keys of `lagrange queue --json`.\n\n"
GRPCC_OPTIONS_HELP
"\nExit status: 0 ok, 2 usage, 6 no such job, 7 lagranged not reachable,\n"
"8 timed out, 10 not authorised, 1 any other failure.\n");
}

/* Print j as show does. */
static int print_job(const Job *j, int json)
{
    table_opts to = { json ? TABLE_JSON : TABLE_KV, 0, NULL };
    table *t;
    char err[128];
    if (table_new(&t, job_cols, JC_N, &to, err, sizeof err) < 0)
        return -ENOMEM;
    if (job_row(t, j, now_unix_ms()) < 0) {
        table_free(t);
        return -ENOMEM;
    }
    if (json) {
        table_json_row(t, stdout, 0);
        putchar('\n');
    } else {
        table_print(t, stdout);
    }
    table_free(t);
    return 0;
}

static int one_job_args(int argc, char **argv, const char *verb,
                        void (*help)(FILE *), vopts *v,
                        const struct option *own, const char *sopts,
                        int (*own_fn)(void *, int, const char *), void *ctx)
{
    int ex;
    grpcc_opts_init(&v->go, 0);
    if ((ex = parse(argc, argv, verb, sopts, own, help, v, own_fn, ctx)))
        return ex;
    if (optind != argc - 1) {
        cli_err(verb, optind >= argc ? "missing JOB%s"
                                     : "unexpected argument '%s'",
                optind >= argc ? "" : argv[optind + 1]);
        help(stderr);
        return EXIT_USAGE;
    }
    return 0;
}

int cmd_show(int argc, char **argv)
{
    vopts v = { .listing = 0 };
    grpcc *g;
    Job *j;
    int ex;

    if ((ex = one_job_args(argc, argv, "show", show_help, &v, NULL, "", NULL,
                           NULL)))
        return ex < 0 ? EXIT_OK : ex;
    if ((ex = grpcc_connect("show", &v.go, &g)) != EXIT_OK)
        return ex;
    ex = get_job(g, "show", argv[optind], unary_ms(&v), &j);
    grpcc_close(g);
    if (ex != EXIT_OK)
        return ex;
    if (print_job(j, v.to.mode == TABLE_JSON) < 0) {
        cli_err("show", "out of memory");
        ex = EXIT_FAIL;
    }
    lagrange__v1__job__free_unpacked(j, NULL);
    return ex != EXIT_OK ? ex : out_flush("show");
}

static void cancel_help(FILE *f)
{
    fprintf(f,
"usage: lagrange cancel JOB [--reason TEXT] [--json]\n\n"
"Cancel JOB: it ends CANCELLED (TEXT kept as its error). Prints the job's\n"
"id and state, or the job as JSON.\n\n"
GRPCC_OPTIONS_HELP
"\nExit status: 0 ok, 2 usage, 6 no such job, 7 lagranged not reachable,\n"
"8 timed out, 10 not authorised, 1 any other failure (a job already\n"
"ended cannot be cancelled).\n");
}

static int cancel_opt(void *ctx, int c, const char *arg)
{
    if (c != 'r') {
        cancel_help(stderr);
        return EXIT_USAGE;
    }
    *(const char **)ctx = arg;
    return 0;
}

int cmd_cancel(int argc, char **argv)
{
    static const struct option opts[] = {
        { "reason", required_argument, 0, 'r' },
        { 0, 0, 0, 0 },
    };
    Lagrange__V1__CancelJobRequest req =
        LAGRANGE__V1__CANCEL_JOB_REQUEST__INIT;
    vopts v = { .listing = 0 };
    const char *reason = "";
    grpcc *g;
    Job *j;
    int ex;

    if ((ex = one_job_args(argc, argv, "cancel", cancel_help, &v, opts, "r:",
                           cancel_opt, &reason)))
        return ex < 0 ? EXIT_OK : ex;
    if ((ex = grpcc_connect("cancel", &v.go, &g)) != EXIT_OK)
        return ex;
    req.job_id = argv[optind];
    req.reason = (char *)reason;
    ex = grpcc_call(g, "cancel", NULL, GRPCC_API "CancelJob", &req.base,
                    &lagrange__v1__job__descriptor, (ProtobufCMessage **)&j,
                    unary_ms(&v));
    grpcc_close(g);
    if (ex != EXIT_OK)
        return ex;
    if (v.to.mode == TABLE_JSON) {
        job_json(stdout, j);
        putchar('\n');
    } else {
        printf("%s %s\n", j->id, state_name(j->state));
    }
    lagrange__v1__job__free_unpacked(j, NULL);
    return out_flush("cancel");
}

/* ---- lagrange watch ------------------------------------------------------ */

static void watch_help(FILE *f)
{
    fprintf(f,
"usage: lagrange watch JOB [--json] [--timeout D]\n\n"
"Follow JOB until it ends. On a terminal, a progress bar with its state\n"
"and reason; otherwise one line per change:\n"
"  TIME JOB STATE REASON PROGRESS\n"
"(TIME in UTC to the millisecond, REASON '-' when none). --json prints\n"
"one object per change: {\"event\":...,\"job\":{...}}.\n\n"
GRPCC_OPTIONS_HELP
"\nExit status: 0 the job COMPLETED, 9 it ended FAILED, CANCELLED or\n"
"EXPIRED, 8 --timeout passed first, 6 no such job, 7 lagranged not\n"
"reachable, 10 not authorised, 2 usage, 1 any other failure.\n");
}

int cmd_watch(int argc, char **argv)
{
    vopts v = { .listing = 0 };
    grpcc *g;
    int ex;

    if ((ex = one_job_args(argc, argv, "watch", watch_help, &v, NULL, "",
                           NULL, NULL)))
        return ex < 0 ? EXIT_OK : ex;
    if ((ex = grpcc_connect("watch", &v.go, &g)) != EXIT_OK)
        return ex;
    ex = watch_job(g, "watch", argv[optind],
                   v.to.mode == TABLE_JSON ? W_JSON
                   : isatty(1)             ? W_BAR
                                           : W_LINES,
                   stdout, v.go.timeout_ms, NULL);
    grpcc_close(g);
    if (ex == EXIT_OK || ex == EXIT_JOBFAIL) {
        int fx = out_flush("watch");
        return fx != EXIT_OK ? fx : ex;
    }
    return ex;
}

/* ---- lagrange result ----------------------------------------------------- */

static void result_help(FILE *f)
{
    fprintf(f,
"usage: lagrange result JOB [-o OUT.npy | -O DIR] [--output NAME]\n\n"
"Fetch the outputs of a COMPLETED job as .npy files: -o writes the one\n"
"output (or the one --output names) to OUT.npy; -O writes each as\n"
"DIR/NAME.npy (default ./JOB/). Prints the paths written.\n\n"
"  -o FILE            write the output here\n"
"  -O, --output-dir D write outputs into D (made if missing)\n"
"  --output NAME      only this output\n"
GRPCC_OPTIONS_HELP
"\nExit status: 0 ok, 2 usage (-o with several outputs), 6 no such job or\n"
"output, 7 lagranged not reachable, 8 timed out, 10 not authorised,\n"
"1 any other failure (the job has no result: it has not COMPLETED).\n");
}

typedef struct result_args {
    const char *file, *dir, *output;
} result_args;

enum { RO_OUTPUT = 0x6c01 };

static int result_opt(void *ctx, int c, const char *arg)
{
    result_args *r = ctx;
    switch (c) {
    case 'o': r->file = arg; return 0;
    case 'O': r->dir = arg; return 0;
    case RO_OUTPUT: r->output = arg; return 0;
    default: result_help(stderr); return EXIT_USAGE;
    }
}

int cmd_result(int argc, char **argv)
{
    static const struct option opts[] = {
        { "output-dir", required_argument, 0, 'O' },
        { "output", required_argument, 0, RO_OUTPUT },
        { 0, 0, 0, 0 },
    };
    result_args r = { 0 };
    vopts v = { .listing = 0 };
    grpcc *g;
    Job *j = NULL;
    int ex;

    if ((ex = one_job_args(argc, argv, "result", result_help, &v, opts, "o:O:",
                           result_opt, &r)))
        return ex < 0 ? EXIT_OK : ex;
    if (r.file && r.dir) {
        cli_err("result", "-o and -O: one or the other");
        return EXIT_USAGE;
    }
    if ((ex = grpcc_connect("result", &v.go, &g)) != EXIT_OK)
        return ex;
    /* With -o and no --output, the job must have one output: ask first,
     * so that the answer is a usage error naming them, not a half-written
     * result. */
    if (r.file && !r.output) {
        ex = get_job(g, "result", argv[optind], unary_ms(&v), &j);
        if (ex == EXIT_OK && j->n_outputs > 1) {
            char list[512] = "";
            size_t n = 0;
            for (size_t i = 0; i < j->n_outputs && n < sizeof list; i++)
                n += (size_t)snprintf(list + n, sizeof list - n, "%s%s",
                                      i ? ", " : "", j->outputs[i]->name);
            cli_err("result", "job %s has %zu outputs (%s): -o takes one; "
                    "give --output NAME or -O DIR", j->id, j->n_outputs,
                    list);
            ex = EXIT_USAGE;
        }
        if (j)
            lagrange__v1__job__free_unpacked(j, NULL);
    }
    if (ex == EXIT_OK)
        ex = fetch_result(g, "result", argv[optind], r.output, r.file,
                          r.dir ? r.dir : argv[optind], v.go.timeout_ms,
                          stdout);
    grpcc_close(g);
    return ex;
}

/* ---- lagrange nodes ------------------------------------------------------ */

enum { NC_NAME, NC_KIND, NC_SELF, NC_UP, NC_GFLOPS, NC_POWER, NC_STATE,
       NC_LOAD, NC_JOBS, NC_SOC, NC_SUN, NC_FAULTS, NC_HEARD, NC_N };
static const table_col node_cols[NC_N] = {
    [NC_NAME] = { "name", "NAME", 0, 0 },
    [NC_KIND] = { "kind", "KIND", 0, 0 },
    [NC_SELF] = { "self", "SELF", 0, 0 },
    [NC_UP] = { "up", "UP", 0, 0 },
    [NC_GFLOPS] = { "gflops", "GFLOPS", TABLE_RIGHT, 0 },
    [NC_POWER] = { "power_w", "POWER_W", TABLE_RIGHT, 0 },
    [NC_STATE] = { "state", "STATE", 0, 0 },
    [NC_LOAD] = { "load", "LOAD", TABLE_RIGHT, 0 },
    [NC_JOBS] = { "jobs", "JOBS", TABLE_RIGHT, 0 },
    [NC_SOC] = { "soc", "SOC", TABLE_RIGHT, 0 },
    [NC_SUN] = { "sun", "SUN", 0, 0 },
    [NC_FAULTS] = { "faults", "FAULTS", TABLE_RIGHT, 0 },
    [NC_HEARD] = { "heard", "HEARD", TABLE_RIGHT, 0 },
};

/* The health columns of one node: "-" (JSON null) without a record, or
 * all of them from a server that sends no health (no state). */
static void node_health_cells(table *t, const Lagrange__V1__Node *n)
{
    char a[64], j[128];
    uint64_t f = n->fault_exec_checksum + n->fault_ecc +
                 n->fault_spool_quarantined;
    if (!n->state[0]) {          /* a server without node health */
        for (int c = NC_STATE; c <= NC_HEARD; c++)
            table_set(t, c, "-", "null");
        return;
    }
    table_set(t, NC_STATE, n->state, NULL);
    if (n->heard_age_s < 0) {
        for (int c = NC_LOAD; c <= NC_HEARD; c++)
            table_set(t, c, "-", "null");
        return;
    }
    snprintf(a, sizeof a, "%.0f%%", 100 * n->load);
    table_num(t, NC_LOAD, a, n->load);
    snprintf(a, sizeof a, "%lu/%lu", (unsigned long)n->jobs_running,
             (unsigned long)n->jobs_queued);
    snprintf(j, sizeof j, "{\"running\":%lu,\"queued\":%lu}",
             (unsigned long)n->jobs_running, (unsigned long)n->jobs_queued);
    table_set(t, NC_JOBS, a, j);
    if (n->battery_soc < 0) {
        table_num(t, NC_SOC, "grid", -1);
    } else {
        snprintf(a, sizeof a, "%.0f%%", 100 * n->battery_soc);
        table_num(t, NC_SOC, a, n->battery_soc);
    }
    table_set(t, NC_SUN, n->sunlit ? "sunlit" : "eclipse",
              n->sunlit ? "\"sunlit\"" : "\"eclipse\"");
    snprintf(j, sizeof j, "{\"exec_checksum\":%llu,\"ecc\":%llu,"
             "\"spool_quarantined\":%llu}",
             (unsigned long long)n->fault_exec_checksum,
             (unsigned long long)n->fault_ecc,
             (unsigned long long)n->fault_spool_quarantined);
    snprintf(a, sizeof a, "%llu", (unsigned long long)f);
    table_set(t, NC_FAULTS, a, j);
    table_num(t, NC_HEARD, table_dur(a, sizeof a, n->heard_age_s),
              n->heard_age_s);
}

static void nodes_help(FILE *f)
{
    fprintf(f,
"usage: lagrange nodes [--json | --parsable] [-o COLS] [--noheader]\n\n"
"The nodes of the constellation as the answering lagranged sees them:\n"
"NAME, KIND (ground, leo, geo, lunar, ...), SELF (the node answering),\n"
"UP (itself, or a neighbour with a session up), GFLOPS (executor speed)\n"
"and POWER_W (power budget), from its topology; then node health, from\n"
"the freshest record it holds of each node (lagranged(8), NODE HEALTH):\n"
"STATE (up, suspect, dead, unknown), LOAD (executor busy fraction), JOBS\n"
"(running/queued), SOC (battery state of charge, or grid), SUN (sunlit or\n"
"eclipse), FAULTS (fault counters summed) and HEARD (the record's age);\n"
"\"-\" where no record is held.\n\n"
"Columns: name, kind, self, up, gflops, power_w, state, load, jobs, soc,\n"
"sun, faults, heard.\n"
TABLE_OPTIONS_HELP
GRPCC_OPTIONS_HELP
"\nExit status: 0 ok, 2 usage, 7 lagranged not reachable, 8 timed out,\n"
"10 not authorised, 1 any other failure.\n");
}

int cmd_nodes(int argc, char **argv)
{
    Lagrange__V1__ListNodesRequest req =
        LAGRANGE__V1__LIST_NODES_REQUEST__INIT;
    Lagrange__V1__ListNodesResponse *r;
    vopts v = { .listing = 1 };
    table *t;
    grpcc *g;
    int ex;

    grpcc_opts_init(&v.go, 0);
    if ((ex = parse(argc, argv, "nodes", "", NULL, nodes_help, &v, NULL,
                    NULL)))
        return ex < 0 ? EXIT_OK : ex;
    if ((ex = listing_start("nodes", argc, argv, node_cols, NC_N, &v, &t, &g)))
        return ex;
    ex = grpcc_call(g, "nodes", NULL, GRPCC_API "ListNodes", &req.base,
                    &lagrange__v1__list_nodes_response__descriptor,
                    (ProtobufCMessage **)&r, unary_ms(&v));
    grpcc_close(g);
    if (ex == EXIT_OK) {
        for (size_t i = 0; i < r->n_nodes && ex == EXIT_OK; i++) {
            const Lagrange__V1__Node *n = r->nodes[i];
            if (table_row(t) < 0) {
                cli_err("nodes", "out of memory");
                ex = EXIT_FAIL;
                break;
            }
            table_set(t, NC_NAME, n->name, NULL);
            table_set(t, NC_KIND, n->kind, NULL);
            table_bool(t, NC_SELF, n->self);
            table_bool(t, NC_UP, n->up);
            table_num(t, NC_GFLOPS, NULL, n->gflops);
            table_num(t, NC_POWER, NULL, n->power_w);
            node_health_cells(t, n);
        }
        if (ex == EXIT_OK) {
            table_print(t, stdout);
            ex = out_flush("nodes");
        }
        lagrange__v1__list_nodes_response__free_unpacked(r, NULL);
    }
    table_free(t);
    return ex;
}
