/*
 * spool_int.h - the spool's private state, shared by the files of
 * lib/store: spool.c (public calls), spool_index.c (in-memory index:
 * entries, node names, send queues, segment table), spool_dlog.c
 * (delivered.log and the delivered-id memory), spool_recover.c (the scan
 * at open) and spool_io.c (I/O helpers, quarantine, logging).
 *
 * Threading: everything here belongs to one spool and is touched by one
 * thread at a time (see spool.h).
 */
#ifndef LG_SPOOL_INT_H
#define LG_SPOOL_INT_H

#include <stdint.h>
#include <sys/types.h>

#include "spool.h"
#include "spool_fmt.h"
#include "spool_tab.h"

#define SP_NIL UINT32_MAX
#define SP_NPRIO (SPOOL_PRIO_MAX + 1)
#define SP_IOBUF (1u << 20)     /* verification / copy buffer */
#define SP_PFILES 64            /* large files awaiting spool_sync */
#define SP_UNLINKS 4096         /* unlinks awaiting spool_sync */

/* entry flags */
#define SP_E_LIVE 1u            /* slot in use */
#define SP_E_INFLIGHT 2u        /* handed out by spool_next */
#define SP_E_TMP 4u             /* large file still at its .tmp name */

/* One stored bundle. */
typedef struct sp_ent {
    uint8_t id[SPOOL_ID_LEN];
    uint64_t seq;               /* arrival number */
    uint64_t created;           /* unix ms */
    uint64_t lifetime;          /* ms */
    uint64_t size;              /* payload bytes */
    uint64_t progress;          /* sent-offset hint */
    uint64_t progress_saved;    /* last value written to delivered.log */
    uint64_t off;               /* entry offset in its segment */
    uint32_t seg;               /* segment number; 0: own file b-ID.bdl */
    uint32_t hdr_len;           /* header bytes */
    uint32_t crc;               /* header + payload CRC-32C */
    uint32_t src, dst;          /* name table indices */
    uint32_t prev, next;        /* send queue (dst, priority); free list */
    uint32_t job_epoch;
    uint16_t kind;
    uint8_t prio;
    uint8_t flags;              /* SP_E_* */
    char job[SPOOL_JOB_MAX];    /* job tag, "" none */
} sp_ent;

/* An interned node name; also the send queues of bundles bound to it. */
typedef struct sp_name {
    char s[SPOOL_NAME_MAX];
    uint32_t hash;
    uint32_t refs;              /* entries naming it (src or dst) */
    uint32_t queued;            /* entries queued for it as dst */
    uint32_t head[SP_NPRIO];    /* oldest first */
    uint32_t tail[SP_NPRIO];
} sp_name;

/* A segment file s-<no>.seg. */
typedef struct sp_seg {
    uint32_t no;
    uint32_t live;              /* live entries in it */
    uint64_t size;              /* bytes in the file */
    uint64_t live_bytes;        /* bytes of live entries (with padding) */
    int bad;                    /* held a quarantined range: compact it */
} sp_seg;

/* A delivered (acked, expired, ...) id, remembered for dedup. */
typedef struct sp_dead {
    uint8_t id[SPOOL_ID_LEN];
    uint64_t expiry;            /* created + lifetime, saturated */
    uint32_t pin;               /* segment still holding a dead copy, 0 none */
    uint8_t reason;
} sp_dead;

/* A large bundle written to b-ID.tmp, waiting for spool_sync. */
typedef struct sp_pfile {
    int fd;
    uint32_t ent;
} sp_pfile;

struct spool {
    spool_opts o;
    char dir[4096];
    int dfd;                    /* the directory */
    int qfd;                    /* quarantine/ */
    int lockfd;                 /* DIR/LOCK, flocked */
    uint64_t seed;              /* hash seed */
    int broken;                 /* <0: a write failed; refuse writes */
    char broken_why[256];

    /* entries */
    sp_ent *ents;
    uint32_t nents;             /* slots allocated */
    uint32_t free_head;         /* free slot list through .next */
    spool_tab ids;              /* id -> entry */
    uint64_t count, bytes;      /* live entries, their stored bytes */
    uint64_t inflight;
    uint64_t next_seq;

    /* names */
    sp_name *names;
    uint32_t nnames;
    uint32_t name_free;         /* free list through .queued */
    spool_tab name_ix;

    /* segments, sorted by number */
    sp_seg *segs;
    uint32_t nsegs, segs_cap;
    uint32_t next_seg;          /* number for the next new segment */
    int act_fd;                 /* open segment, -1 none */
    uint32_t act_no;
    uint64_t act_synced;        /* bytes of it known durable */
    int act_dirty;              /* appended since the last fdatasync */

    /* group commit */
    sp_pfile pfiles[SP_PFILES];
    uint32_t npfiles;
    uint8_t (*unlinks)[SPOOL_ID_LEN]; /* b-ID.bdl to unlink after the log */
    uint32_t nunlinks;
    int dir_dirty;              /* names changed since the last dir fsync */
    int reap;                   /* some segment's live count reached 0 */
    uint64_t pending;           /* nosync operations since the last sync */

    /* delivered ids */
    sp_dead *dead;
    uint32_t ndead, dead_cap;
    spool_tab dead_ix;
    int dlog_fd;
    uint64_t dlog_recs;         /* records in delivered.log */
    uint64_t dlog_base;         /* records kept by the last rewrite */
    int loading;                /* recovery: no eviction while loading */
    int dlog_dirty;

    /* counters and scratch */
    uint64_t quarantined;
    uint64_t syncs;
    unsigned char *iobuf;       /* SP_IOBUF bytes */
};

/* ---- spool_io.c ---- */
void spool_logf(spool *sp, spool_event ev, const spool_meta *m,
                const char *fmt, ...) __attribute__((format(printf, 4, 5)));
uint64_t spool_now(spool *sp);
int spool_pwrite_all(int fd, const void *buf, size_t len, uint64_t off);
int spool_pwritev_all(int fd, const void *hdr, size_t hlen,
                      const void *body, size_t blen, size_t pad,
                      uint64_t off);
/* Read exactly len bytes: 0, -EIO at a short read, or -errno. */
int spool_pread_all(int fd, void *buf, size_t len, uint64_t off);
int spool_fsync(spool *sp, int fd, int datasync);
/* Mark the spool broken after a failed write/fsync; returns code. */
int spool_fail(spool *sp, int code, char *err, size_t errlen,
               const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Move DIR/name into quarantine/ (renamed with a unique suffix). */
int spool_quarantine_file(spool *sp, const char *name, const char *why,
                          const spool_meta *m);
/* Copy bytes [a, b) of fd (DIR/name) into a new quarantine/ file. */
int spool_quarantine_range(spool *sp, int fd, const char *name,
                           uint64_t a, uint64_t b, const char *why,
                           const spool_meta *m);
/* CRC of len payload bytes at off, continued from c, through iobuf. */
int spool_crc_range(spool *sp, int fd, uint64_t off, uint64_t len,
                    uint32_t *c);
void spool_file_name(char out[64], const uint8_t id[SPOOL_ID_LEN],
                     int tmp);
void spool_seg_name(char out[64], uint32_t no);

/* ---- spool_index.c ---- */
uint64_t spool_expiry(uint64_t created, uint64_t lifetime);
sp_ent *spool_ix_find(spool *sp, const uint8_t id[SPOOL_ID_LEN]);
uint32_t spool_ix_name_find(spool *sp, const char *s);  /* or SP_NIL */
/* New live entry from a header (not yet queued): index or SP_NIL. */
uint32_t spool_ix_add(spool *sp, const spool_hdr *h, uint32_t seg,
                      uint64_t off);
void spool_ix_queue(spool *sp, uint32_t ei);     /* into its send queue */
void spool_ix_remove(spool *sp, uint32_t ei);    /* from everything */
void spool_ix_meta(const spool *sp, const sp_ent *e, spool_meta *m);
uint64_t spool_ix_stored(const sp_ent *e);       /* header + payload */
uint64_t spool_ix_padded(const sp_ent *e);       /* ... rounded to 8 */
sp_seg *spool_seg_find(spool *sp, uint32_t no);
sp_seg *spool_seg_add(spool *sp, uint32_t no);   /* NULL: -ENOMEM */
void spool_seg_del(spool *sp, uint32_t no);
void spool_ix_free(spool *sp);

/* ---- spool_dlog.c ---- */
sp_dead *spool_dead_find(spool *sp, const uint8_t id[SPOOL_ID_LEN]);
/* Remember a delivered id (in memory; see spool_dlog_append). -EAGAIN:
 * the memory is full of records that pin segments; compact them
 * (spool_compact_int with all=1) and retry. */
int spool_dead_add(spool *sp, const uint8_t id[SPOOL_ID_LEN],
                   uint64_t expiry, uint32_t pin, uint8_t reason);
/* Bring the memory back under max_delivered after loading (compacts and
 * evicts as needed). */
int spool_dead_trim(spool *sp, char *err, size_t errlen);
int spool_dlog_open(spool *sp, char *err, size_t errlen);
/* Append one record (no fsync; spool_sync flushes it). */
int spool_dlog_append(spool *sp, const spool_drec *r, char *err,
                      size_t errlen);
/* Read delivered.log: pass 1 loads DELETED records, pass 2 applies
 * PROGRESS records to live entries. Quarantines a torn tail. */
int spool_dlog_load(spool *sp, int pass, char *err, size_t errlen);
/* Rewrite delivered.log if it holds more than twice the records the last
 * rewrite kept plus dlog_slack, or always if force. */
int spool_dlog_compact(spool *sp, int force, char *err, size_t errlen);
void spool_dlog_free(spool *sp);

/* ---- spool.c ---- */
/* Compact segments: all=0 those more than half dead or bad; all=1 every
 * segment with any dead bytes, the open one included (which releases
 * every pin). */
int spool_compact_int(spool *sp, int all, char *err, size_t errlen);

/* ---- spool_recover.c ---- */
int spool_recover(spool *sp, char *err, size_t errlen);

#endif
