/*
 * scheduler.h - lagrange.v1.Scheduler: models, blobs and jobs behind the
 * gRPC API (proto/lagrange/v1/api.proto). Its symbols are prefixed sched_
 * (the file is not sched.h, which would hide the system's <sched.h>).
 *
 * Owns the model store (ModelDir, content-addressed, lib/store/blobstore),
 * the blob store (BlobDir), the durable jobs (JobDir, lib/store/jobdb),
 * the job table in memory and the executor runs on the libuv threadpool.
 *
 * A job, in memory and in JobDir/<id>/job.rec:
 *
 *   PENDING ─(a worker is free)─> RUNNING ─> COMPLETED | FAILED
 *      │                             │
 *      └─(CancelJob / deadline)─> CANCELLED | EXPIRED   (from either)
 *
 * (A distributed job goes PENDING -> STAGING -> RUNNING instead: see
 * scheduler_dist.c.) A job exists once
 * jobdb_create has made it durable with its inputs; only then does
 * SubmitJob answer OK. Every change of state is written back (one write
 * in flight per job, the latest state wins). At start every job not final
 * goes back to PENDING ("Resumed after restart") and runs again: outputs
 * are written before COMPLETED is, so a crash between the two reruns the
 * job and rewrites the same outputs; no job is lost or finished twice.
 *
 * Threading: loop thread, except the work functions, which touch only
 * their own op and the stores (thread-safe).
 */
#ifndef LG_DAEMON_SCHED_H
#define LG_DAEMON_SCHED_H

#include <stddef.h>
#include <stdint.h>

#include "h2rpc.h"
#include "lagranged.h"

#define SCHED_MAX_JOBS 100000       /* jobs kept, final ones included */
#define SCHED_MAX_MODELS 1024
#define SCHED_MAX_INPUTS 64         /* tensors per job */
#define SCHED_MAX_WATCHERS 64       /* WatchJob streams per job */
#define SCHED_LAT_BUCKETS 12        /* job latency histogram */

typedef struct dsched dsched;

/* Open the stores, load models and jobs, resume what was not finished. */
int sched_start(lagranged *d, char *err, size_t errlen);
/* Stop starting jobs; done(arg) once no store or executor work is in
 * flight: a running inference is waited for, and its job's final state is
 * on disk before done runs. Jobs still PENDING stay so and resume at the
 * next start. */
void sched_stop(lagranged *d, void (*done)(void *arg), void *arg);
/* Jobs whose run is on the threadpool: returns how many, and writes the
 * ids of the first SCHED_DESCRIBE_MAX ("ID ID and N more") into buf. For
 * the stop's log lines. */
#define SCHED_DESCRIBE_MAX 8
int sched_describe_running(lagranged *d, char *buf, size_t len);
void sched_free(lagranged *d);

/* JobCompLog (jobcomp.h): open the file the configuration in force names
 * anew, or none. For SIGHUP: a moved log (logrotate) or a changed key.
 * Failures are logged, not returned: jobs never depend on their log. */
void sched_reopen_log(lagranged *d);

const h2rpc_method *sched_methods(int *n);

/* For status and /metrics. */
typedef struct sched_model_stat {
    char id[65];
    char name[64];
    uint64_t runs;
    double exec_s;                 /* executor seconds, summed */
} sched_model_stat;

typedef struct sched_stats {
    uint64_t by_state[9];          /* jobs now, by lagrange.v1.JobState */
    uint64_t submitted;            /* accepted since start */
    uint64_t lat_le_ms[SCHED_LAT_BUCKETS]; /* bucket bounds, ms */
    uint64_t lat_count[SCHED_LAT_BUCKETS]; /* COMPLETED jobs <= bound */
    uint64_t lat_n;                /* all COMPLETED since start */
    double lat_sum_s;
    int n_models;
    const sched_model_stat *models; /* valid until the next loop turn */
    uint64_t partition_evictions;  /* PartitionCacheMax evictions */
    uint64_t partition_bytes;      /* partitions in ModelDir now */
} sched_stats;
void sched_get_stats(lagranged *d, sched_stats *out);

/* For node health (daemon/health.c): executor runs in flight now (O(1)),
 * and accepted jobs waiting for an executor (PENDING; O(jobs)). */
int sched_running(lagranged *d);
uint32_t sched_queued(lagranged *d);

#endif
