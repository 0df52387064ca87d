/*
 * jobdb.h - durable job records behind lagranged's job API: one directory
 * per job under a root.
 *
 * Owns one root directory (DIR, created with its parents if missing, mode
 * 0750):
 *   DIR/<id>/job.rec      the job's record (opaque bytes, at most
 *                         JOBDB_MAX_REC), replaced whole by jobdb_update
 *   DIR/<id>/<name>       the job's files (inputs, outputs), names
 *                         relative, subdirectories allowed ("in/0.npy")
 *   DIR/<id>/.tmp-rec     an update in progress; .tmp-file likewise for
 *                         jobdb_put_file (removed by jobdb_load)
 *   DIR/.tmp-<id>/        a job being created (removed by jobdb_load)
 *   DIR/.del-<id>/        a job being removed (removed by jobdb_load)
 * Anything else in DIR is reported by jobdb_load as unreadable, and left.
 *
 * Ids: 1 to JOBDB_ID_MAX characters of [A-Za-z0-9_-], given by the
 * caller. File names: at most JOBDB_NAME_MAX bytes of [A-Za-z0-9._/-],
 * '/'-separated components that are not empty and do not start with '.'
 * (so no "..", no hidden names, no clash with the temp names above), no
 * leading or trailing '/'; "job.rec" is the record's and not a file name.
 *
 * Crash safety. jobdb_create builds the whole job in DIR/.tmp-<id>/,
 * fsyncs every file and directory in it, renames it to DIR/<id> and
 * fsyncs DIR: after a crash at any instant the job exists complete or not
 * at all. jobdb_update and jobdb_put_file write a temp file in the job's
 * directory, fsync it, rename it over the target and fsync the target's
 * directory: a reader sees the old bytes or the new ones, never a mix.
 * jobdb_remove renames the job to DIR/.del-<id> (fsyncing DIR) before
 * deleting it, so a crash never leaves half a job under its id.
 * When any of these returns 0 the change is durable.
 *
 * Errors: 0 or a negative errno with a message in err where there is an
 * err argument: -EINVAL a bad id, file name or argument; -EEXIST a job
 * (or a file of jobdb_create) that already exists; -ENOENT no such job
 * (or link_from file); -EFBIG a record above JOBDB_MAX_REC; -EBUSY the
 * root is open in another jobdb (an flock on DIR); -ENOMEM; I/O errors
 * as the system gives them.
 *
 * Threading: a jobdb holds no mutable state after open. Its functions
 * may run concurrently on different threads (libuv threadpool workers)
 * for different ids; calls for the same id must not overlap. jobdb_load
 * must run alone (it deletes the temp directories of calls in progress):
 * at startup, before any other call. Calls block on disk I/O and fsync:
 * never call them on an event loop thread.
 */
#ifndef LG_STORE_JOBDB_H
#define LG_STORE_JOBDB_H

#include <stddef.h>

#define JOBDB_ID_MAX 64                 /* longest job id, characters */
#define JOBDB_NAME_MAX 255              /* longest file name, bytes */
#define JOBDB_MAX_REC ((size_t)1 << 20) /* largest job.rec, bytes */
#define JOBDB_MAX_FILES 1024            /* files per jobdb_create */
#define JOBDB_DIR_MAX 1024              /* longest DIR accepted, bytes */
#define JOBDB_REC_NAME "job.rec"

typedef struct jobdb jobdb;

/* One file of a new job: either len bytes at buf, or (link_from not
 * NULL) the existing file link_from, hard-linked (copied where it cannot
 * be linked, e.g. across file systems). A linked file is shared with its
 * source: neither may be modified in place (the blobstore and jobdb never
 * do). */
typedef struct jobdb_file {
    const char *name;                   /* relative, e.g. "in/0.npy" */
    const void *buf;                    /* contents, if link_from is NULL */
    size_t len;                         /* bytes at buf */
    const char *link_from;              /* or: path of a file to link */
} jobdb_file;

/* Open (create) the root dir. Takes an flock on it: -EBUSY if another
 * jobdb has it open. Nothing is cleaned up here: see jobdb_load. */
int jobdb_open(const char *dir, jobdb **out, char *err, size_t errlen);
/* Safe on NULL. */
void jobdb_close(jobdb *db);

/* Create job id with record rec (rec_len <= JOBDB_MAX_REC) and the n
 * files (n <= JOBDB_MAX_FILES), atomically and durably. -EEXIST if the
 * job exists. On an error nothing is left behind. */
int jobdb_create(jobdb *db, const char *id, const void *rec, size_t rec_len,
                 const jobdb_file *files, int n, char *err, size_t errlen);
/* Replace job id's record, atomically and durably (-ENOENT: no job). */
int jobdb_update(jobdb *db, const char *id, const void *rec, size_t len,
                 char *err, size_t errlen);
/* Write (or replace) file name of job id, atomically and durably,
 * creating its subdirectories. */
int jobdb_put_file(jobdb *db, const char *id, const char *name,
                   const void *buf, size_t len, char *err, size_t errlen);
/* DIR/<id>/<name> into buf, or DIR/<id> if name is NULL. -EINVAL for a
 * bad id or name ("job.rec" is accepted here), -ENAMETOOLONG if buf is
 * short. Does not look at the disk. */
int jobdb_path(const jobdb *db, const char *id, const char *name, char *buf,
               size_t len);
/* Read job id's record into a new buffer (*rec, free() it; one NUL byte
 * follows its *len bytes). -ENOENT no job, -EFBIG record too large. */
int jobdb_read(jobdb *db, const char *id, void **rec, size_t *len,
               char *err, size_t errlen);

/* Called by jobdb_load for a root entry it skips: name in DIR, the error
 * and its message. */
typedef void (*jobdb_bad_cb)(void *arg, const char *name, int code,
                             const char *why);

/*
 * At startup: remove what crashed calls left (DIR/.tmp-*, DIR/.del-*,
 * a job's .tmp-rec and .tmp-file), then call cb for every job in id
 * order (strcmp) with its record. Entries that are not jobs (a bad name,
 * not a directory, a missing, unreadable or oversized job.rec) are
 * skipped and reported to bad (if not NULL); they do not fail the load.
 * cb returns 0 to go on, or a negative code that stops the load and is
 * returned. Returns the number of entries skipped (>= 0), or a negative
 * error if DIR itself cannot be listed or cleaned.
 */
int jobdb_load(jobdb *db,
               int (*cb)(void *arg, const char *id, const void *rec,
                         size_t len),
               jobdb_bad_cb bad, void *arg, char *err, size_t errlen);

/* Remove job id and all its files, durably (-ENOENT: no job). */
int jobdb_remove(jobdb *db, const char *id);

#endif
