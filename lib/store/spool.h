/*
 * spool.h - the crash-safe bundle spool: custody of store-and-forward
 * bundles on local disk, with no server.
 *
 * Owns one directory. A bundle is opaque payload bytes plus metadata (id,
 * source, destination, priority, creation time, lifetime, kind). The spool
 * stores it durably, hands it out for sending in priority order,
 * deduplicates by id (also across restarts) and forgets it only after an
 * ack, an expiry or an explicit delete.
 *
 * Threading: a spool is not thread-safe. One thread at a time per spool;
 * calls block on fsync, so the daemon runs them on the libuv threadpool
 * through a per-spool serial queue (one work item in flight), never on the
 * loop thread. Separate spools (directories) are independent. The log
 * callback runs synchronously on the calling thread and must not call back
 * into the spool. An flock() on DIR/LOCK keeps a second opener out, in this
 * process or another.
 *
 * Storage layout, and why (design notes):
 *   DIR/b-<32 hex id>.bdl   one file per large bundle (payload > small_max,
 *                           64 KiB by default)
 *   DIR/s-<8 hex>.seg       segment files: small bundles appended back to back
 *   DIR/delivered.log       append-only record of ids acked/delivered/expired
 *                           (the dedup memory and the segment tombstones)
 *   DIR/<name>.tmp          writes in progress (never trusted at open)
 *   DIR/quarantine/         entries that failed verification, moved aside
 *   DIR/LOCK                flock target
 * A large bundle is written to b-ID.tmp, fdatasync'ed, renamed to b-ID.bdl
 * and the directory fsync'ed: it is durable when spool_put returns, and
 * deleting it is one unlink. Small bundles are appended to the open segment
 * and made durable by one fdatasync of that segment (plus one directory
 * fsync when the segment is new), so a batch of N small bundles costs one
 * flush instead of N file creations, N file fsyncs and a directory fsync.
 * Measured on the dev VM (ext4 on virtio): 4 KiB bundles as one file each
 * reach ~1.8-4 k/s even when N files share one directory fsync, while
 * appends to a segment with one fdatasync per 64 reach 30-80 k/s
 * (bench/bench_spool.sh: ~46 k/s with group commit, 18x dd bs=4k
 * oflag=dsync; 1 MiB bundles durable one by one at 1.0x dd bs=1M). A
 * deleted small bundle is dead once its id is in delivered.log (a record we
 * need anyway for dedup); a segment file is unlinked when its last live
 * entry dies, and spool_compact() copies the few survivors out of mostly
 * dead segments. Large bundles stay one file each so that deleting them
 * never copies data and a partial send can re-read any range cheaply.
 *
 * On-disk entry (bundle file, or one entry in a segment; little-endian):
 *   0  u32 magic "LGSB"     4  u16 version (1)    6  u16 hdr_len
 *   8  id[16]               24 u64 seq (arrival number in this spool)
 *   32 u64 created_unix_ms  40 u64 lifetime_ms    48 u64 payload_len
 *   56 u16 kind  58 u8 priority  59 u8 src_len  60 u8 dst_len  61 u8 flags
 *   62 u8 job_len (0..16; 0: no job tag)  63 u8 reserved (0)
 *   64 u32 crc:  CRC-32C of header (both crc fields zero) then payload
 *   68 u32 hcrc: CRC-32C of header (hcrc zero), checked before any length
 *                in the header is trusted
 *   72 src, dst (no NUL), then if job_len > 0 the job tag (job_len
 *      bytes) and u32 job_epoch; zero padding to hdr_len (a multiple of 8)
 *   hdr_len: payload; in segments, zero padding to a multiple of 8.
 * A length is believed only after hcrc passes and only if it fits both the
 * configured maximum and the bytes actually on disk; nothing is allocated
 * from it (payloads are verified in a fixed 1 MiB buffer).
 *
 * Entries written before job tags existed have job_len 0 (the byte was
 * reserved and zero), so they read as bundles of no job.
 *
 * Crash safety: temp files, torn tails and entries that fail their CRC are
 * moved into quarantine/ at open (segment ranges are copied there, then
 * cut off or left as dead space) and reported through the log callback:
 * never delivered, never silently deleted.
 *
 * Capacity and backpressure: max_bytes (stored bytes: header + payload)
 * and max_count bound the live bundles. Priority p may fill the spool up to
 * (100 - reserve_pct * (7 - p) / 7) percent of each limit, so low
 * priorities are pushed back first and priority 7 can use it all. Past
 * its limit spool_put returns -ENOSPC with a message and stores nothing:
 * the spool never evicts or drops a stored bundle to make room.
 */
#ifndef LG_SPOOL_H
#define LG_SPOOL_H

#include <stddef.h>
#include <stdint.h>

#define SPOOL_ID_LEN 16
#define SPOOL_NAME_MAX 64       /* node name buffer: at most 63 bytes + NUL */
#define SPOOL_JOB_MAX 17        /* job tag buffer: at most 16 bytes + NUL */
#define SPOOL_PRIO_MAX 7        /* priorities 0..7, higher is sent first */
#define SPOOL_DUPLICATE 1       /* put: id already stored or delivered */

typedef struct spool spool;

/* A bundle's metadata. On put the caller fills everything above `progress`;
 * the spool fills the rest on output. */
typedef struct spool_meta {
    uint8_t id[SPOOL_ID_LEN];   /* unique bundle id */
    char src[SPOOL_NAME_MAX];   /* source node, 1..63 printable bytes */
    char dst[SPOOL_NAME_MAX];   /* destination node, same rule */
    uint8_t priority;           /* 0..7, higher first */
    uint16_t kind;              /* caller's type tag (tensor, control, ...) */
    uint64_t created_unix_ms;   /* creation at the source */
    uint64_t lifetime_ms;       /* expires at created + lifetime */
    uint64_t size;              /* payload bytes */
    char job[SPOOL_JOB_MAX];    /* the job it belongs to: "" none, else
                                   1..16 printable bytes (spool_drop_job) */
    uint32_t job_epoch;         /* that job's epoch; 0 when job is "" */
    uint64_t progress;          /* out: sent-offset hint, spool_set_progress */
    uint64_t seq;               /* out: arrival number in this spool */
    int inflight;               /* out: handed out by spool_next, not acked */
} spool_meta;

/* Why a bundle left the spool (recorded in delivered.log). */
typedef enum spool_reason {
    SPOOL_ACKED = 1,            /* next hop acked custody */
    SPOOL_DELIVERED = 2,        /* consumed on this node */
    SPOOL_EXPIRED = 3,          /* lifetime over */
    SPOOL_CANCELLED = 4,        /* its job was cancelled */
    SPOOL_ADMIN = 5             /* removed by an operator */
} spool_reason;

/* What the log callback is told about. */
typedef enum spool_event {
    SPOOL_EV_INFO = 0,          /* recovery summary, housekeeping */
    SPOOL_EV_WARN = 1,          /* something odd that the spool worked around */
    SPOOL_EV_ERROR = 2,         /* I/O failure; the spool stops writing */
    SPOOL_EV_EXPIRED = 3,       /* a bundle expired (meta given) */
    SPOOL_EV_QUARANTINED = 4,   /* an entry or file moved aside (meta if known) */
    SPOOL_EV_DEDUP_EVICTED = 5  /* delivered-id memory full: ids forgotten */
} spool_event;

/* meta is NULL when the event concerns no single decoded bundle. */
typedef void (*spool_log_fn)(void *arg, spool_event ev,
                             const spool_meta *meta, const char *msg);
/* Current time in unix ms; the default reads CLOCK_REALTIME. */
typedef uint64_t (*spool_clock_fn)(void *arg);

typedef struct spool_opts {
    uint64_t max_bytes;         /* stored bytes of live bundles (1 GiB) */
    uint32_t max_count;         /* live bundles (100000) */
    uint32_t reserve_pct;       /* capacity kept for higher priorities (10) */
    uint64_t max_bundle;        /* largest payload accepted (1 GiB) */
    uint32_t small_max;         /* payloads <= this go to segments (64 KiB) */
    uint64_t segment_bytes;     /* start a new segment past this (8 MiB) */
    uint32_t max_delivered;     /* delivered ids remembered (4 * max_count) */
    uint64_t dedup_grace_ms;    /* remember ids this long past expiry (1 h) */
    uint64_t progress_step;     /* persist progress every this many bytes
                                   (16 MiB) */
    uint32_t dlog_slack;        /* rewrite delivered.log when it holds this
                                   many records more than twice what the
                                   last rewrite kept (4096) */
    int create;                 /* create DIR if missing (1) */
    spool_log_fn log;           /* may be NULL */
    void *log_arg;
    spool_clock_fn clock;       /* may be NULL: CLOCK_REALTIME */
    void *clock_arg;
} spool_opts;

/* Destinations a spool_next() may pick from: `dst` exactly, else those for
 * which match(arg, dst) != 0 (e.g. the destinations routed over one link),
 * else any. */
typedef struct spool_filter {
    const char *dst;
    int (*match)(void *arg, const char *dst);
    void *arg;
} spool_filter;

typedef struct spool_stats {
    uint64_t count;             /* live bundles */
    uint64_t bytes;             /* their stored bytes */
    uint64_t inflight;          /* handed out by spool_next, not yet gone */
    uint64_t pending;           /* puts/deletes waiting for spool_sync */
    uint64_t segments;          /* segment files */
    uint64_t segment_bytes;     /* their total size (live + dead) */
    uint64_t delivered;         /* delivered ids remembered */
    uint64_t dlog_records;      /* records in delivered.log */
    uint64_t quarantined;       /* entries moved aside since open */
    uint64_t syncs;             /* fsync/fdatasync calls since open */
    uint64_t active_segment;    /* number of the segment being appended,
                                   0 if none is open */
    uint64_t active_synced;     /* its bytes known durable */
    uint64_t next_segment;      /* number the next new segment gets */
} spool_stats;

/* Defaults as documented above. */
void spool_opts_init(spool_opts *o);

/* Open (and recover) the spool in dir: verify every entry, quarantine bad
 * ones, rebuild the index, expire what expired while we were down. */
int spool_open(spool **out, const char *dir, const spool_opts *opts,
               char *err, size_t errlen);
/* spool_sync, then free everything. Safe on NULL. */
int spool_close(spool *sp, char *err, size_t errlen);

/* Store a bundle durably: 0 when stored (durable on return), or
 * SPOOL_DUPLICATE when the id is already stored or was delivered, acked or
 * expired recently (nothing stored; also durable on return, so the caller
 * may ack the sender either way). Errors: -EINVAL bad metadata, -EFBIG
 * payload over max_bundle, -ETIME already expired, -ENOSPC over capacity
 * for its priority (backpressure: retry later), -EIO and other errnos from
 * the disk (after an fsync failure the spool refuses writes until
 * reopened). */
int spool_put(spool *sp, const spool_meta *m, const void *payload,
              char *err, size_t errlen);
/* The same without waiting for the disk: the bundle is visible at once but
 * durable only when the next spool_sync() returns 0; ack the sender then,
 * for SPOOL_DUPLICATE too. */
int spool_put_nosync(spool *sp, const spool_meta *m, const void *payload,
                     char *err, size_t errlen);
/* Group commit: one fdatasync of the open segment, one per pending large
 * file, one directory fsync and one of delivered.log, whatever is pending. */
int spool_sync(spool *sp, char *err, size_t errlen);

/* Metadata of a stored bundle; -ENOENT if none. */
int spool_stat(spool *sp, const uint8_t id[SPOOL_ID_LEN], spool_meta *m);
/* Whole payload into buf (cap bytes): verified against its CRC first.
 * -ENOBUFS if cap < size (m, if given, is filled so the caller can
 * retry), -EIO if the disk copy went bad (it is quarantined and gone). */
int spool_get(spool *sp, const uint8_t id[SPOOL_ID_LEN], spool_meta *m,
              void *buf, size_t cap, char *err, size_t errlen);
/* len bytes of payload from off, for sending large bundles in pieces.
 * Not re-verified (every entry was verified at open or written by us);
 * the bundle's end-to-end SHA-256 covers it in transit. */
int spool_read(spool *sp, const uint8_t id[SPOOL_ID_LEN], uint64_t off,
               void *buf, size_t len, char *err, size_t errlen);

/* The bundle to send next among those the filter allows (NULL: any):
 * highest priority, then oldest creation time, then arrival; skips in-flight
 * and expired ones. Marks it in-flight and fills m. -ENOENT if none. */
int spool_next(spool *sp, const spool_filter *f, spool_meta *m);
/* Clear the in-flight mark (the send failed); -ENOENT if not stored. */
int spool_release(spool *sp, const uint8_t id[SPOOL_ID_LEN]);
/* Partial-send resume: record that the receiver holds [0, off). A hint
 * kept in memory and persisted (without its own fsync) whenever it moves
 * progress_step past the last persisted value or goes back; after a crash
 * it is at most the last value set and possibly older, never past size.
 * The daemon must still confirm the offset with the receiver on resume. */
int spool_set_progress(spool *sp, const uint8_t id[SPOOL_ID_LEN],
                       uint64_t off);

/* Custody passed to the next hop: durably forget the bundle, remembering
 * its id for dedup. Same as spool_delete(sp, id, SPOOL_ACKED). -ENOENT if
 * not stored. */
int spool_ack(spool *sp, const uint8_t id[SPOOL_ID_LEN],
              char *err, size_t errlen);
int spool_delete(spool *sp, const uint8_t id[SPOOL_ID_LEN], spool_reason why,
                 char *err, size_t errlen);
/* Forgotten at once, durable at the next spool_sync. If lost in a crash the
 * bundle comes back (and is resent, which the next hop dedups). */
int spool_delete_nosync(spool *sp, const uint8_t id[SPOOL_ID_LEN],
                        spool_reason why, char *err, size_t errlen);

/* Delete every bundle with created + lifetime <= now, reporting each
 * (SPOOL_EV_EXPIRED: id, src, dst, age, lifetime) and remembering its id.
 * Returns how many expired, or a negative error. */
int spool_expire(spool *sp, uint64_t now_unix_ms, char *err, size_t errlen);
/* Durably delete every stored bundle of job `job` (its tag, spool_meta
 * .job; not ""), of epoch `epoch` only or of every epoch when epoch is 0,
 * in flight or not, recording each as deleted for `why` (its id is
 * remembered like an acked one, so a copy that arrives later is taken
 * for a duplicate). each(arg, m), if given, is called for each one before
 * it goes and must not touch the spool. *bytes (if given) gets their
 * payload bytes. Returns how many were dropped (0: none, nothing
 * written), or a negative error (-EINVAL for a bad tag or reason). */
int spool_drop_job(spool *sp, const char *job, uint32_t epoch,
                   spool_reason why,
                   void (*each)(void *arg, const spool_meta *m), void *arg,
                   uint64_t *bytes, char *err, size_t errlen);
/* Housekeeping for the daemon's timer: copy live entries out of segments
 * that are more than half dead (or held a bad range) and unlink them;
 * rewrite delivered.log without records no longer needed. */
int spool_compact(spool *sp, char *err, size_t errlen);

/* Visit every stored bundle (order unspecified); stop early when fn
 * returns nonzero and return that value. fn must not modify the spool. */
int spool_foreach(spool *sp, int (*fn)(void *arg, const spool_meta *m),
                  void *arg);
void spool_stats_get(const spool *sp, spool_stats *st);

const char *spool_reason_name(spool_reason why);
/* 32 lowercase hex digits and a NUL. */
void spool_id_hex(const uint8_t id[SPOOL_ID_LEN], char out[33]);

#endif
