/*
 * check_jobdb.c - unit tests for lib/store/jobdb.c: one directory per
 * job, created, updated and removed atomically and durably.
 *
 *  - round trip: create with files from buffers (in subdirectories) and
 *    from link_from (a hard link: same inode; a copy across file systems,
 *    from /dev/shm where that is another one), read, path, put_file,
 *    update, remove; a second create of the id is -EEXIST and changes
 *    nothing;
 *  - bad ids and bad relative names are refused by every function
 *    taking them, and leave nothing; a failed create (missing link_from,
 *    duplicate names, a file where a directory must go) leaves nothing;
 *  - records above JOBDB_MAX_REC refused on write and on read;
 *  - update atomicity: a child process replaces a record, and a file
 *    with put_file, again and again with two contents of very different
 *    sizes while this one reads them: every read is one of the two,
 *    whole; after a kill -9 of the child the load finds the job once,
 *    with one of the two records, and no temp file;
 *  - load: id order, .tmp-* and .del-* directories (complete-looking
 *    ones too) removed and never reported, a job's .tmp-rec removed,
 *    entries that are not jobs reported to the bad callback and counted
 *    without failing the load; cb's stop code returned;
 *  - 8 threads creating, updating, writing files into and removing jobs
 *    of their own at once;
 *  - kill -9: a child loops creating jobs (record + files + a hard link),
 *    writing an output, updating, replacing the output, removing some
 *    jobs, and reports through a pipe after each call returns; it is
 *    killed at random moments, 12 times on the same root (set
 *    JOBDB_CRASH_VERBOSE to see the rounds). Then jobdb_load must see only
 *    complete jobs: every record carries its length, a checksum and its
 *    id, every file it lists exists with its own length and checksum,
 *    every job whose create returned is there (unless its remove began),
 *    every update that returned is seen, every removed job is gone, and
 *    no temp directory or file is left.
 *
 * Each test works in its own directory under /tmp and removes it.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "jobdb.h"

static char err[512];
static char dir[256];
static char root[300];

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/check_jobdb.%d.XXXXXX", (int)getpid());
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(root, sizeof root, "%s/jobs", dir);
}

static char shmpath[200];          /* a file outside dir, if not "" */

static void teardown(void)
{
    char cmd[400];
    if (shmpath[0])
        unlink(shmpath);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* ------------------------------------------------------------ helpers */

static jobdb *db_at(const char *d)
{
    jobdb *db = NULL;
    int rc = jobdb_open(d, &db, err, sizeof err);
    ck_assert_msg(rc == 0, "jobdb_open %s: %d %s", d, rc, err);
    ck_assert_ptr_nonnull(db);
    return db;
}

static uint8_t *make_data(size_t size, uint32_t seed)
{
    uint8_t *p = malloc(size ? size : 1);
    uint32_t x = seed * 2654435761u + 1;
    ck_assert_ptr_nonnull(p);
    for (size_t i = 0; i < size; i++) {
        x = x * 1664525u + 1013904223u;
        p[i] = (uint8_t)(x >> 24);
    }
    return p;
}

/* Whole file at path into a new buffer (NULL if it cannot be read). */
static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *p = NULL;
    long n;
    if (!f)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 &&
        fseek(f, 0, SEEK_SET) == 0 && (p = malloc((size_t)n + 1)) &&
        fread(p, 1, (size_t)n, f) == (size_t)n) {
        *len = (size_t)n;
    } else {
        free(p);
        p = NULL;
    }
    fclose(f);
    return p;
}

static void write_path(const char *path, const void *buf, size_t len)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(buf, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
}

/* Does the job file hold exactly len bytes of buf? */
static int file_is(jobdb *db, const char *id, const char *name,
                   const void *buf, size_t len)
{
    char path[1024];
    size_t got = 0;
    uint8_t *p;
    int ok;
    ck_assert_int_eq(jobdb_path(db, id, name, path, sizeof path), 0);
    if (!(p = slurp(path, &got)))
        return 0;
    ok = got == len && !memcmp(p, buf, len);
    free(p);
    return ok;
}

/* Entries of d (not . and ..); prefix_count: how many start with pfx. */
static int count_entries(const char *d, const char *pfx, int *prefix_count)
{
    DIR *dd = opendir(d);
    struct dirent *de;
    int n = 0;
    ck_assert_ptr_nonnull(dd);
    if (prefix_count)
        *prefix_count = 0;
    while ((de = readdir(dd))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        n++;
        if (prefix_count && !strncmp(de->d_name, pfx, strlen(pfx)))
            (*prefix_count)++;
    }
    closedir(dd);
    return n;
}

static int path_exists(const char *fmt, const char *a, const char *b)
{
    char path[1024];
    struct stat st;
    snprintf(path, sizeof path, fmt, a, b);
    return lstat(path, &st) == 0;
}

/* -------------------------------------------------------------- tests */

START_TEST(create_read_roundtrip)
{
    uint8_t *x = make_data(300000, 1), *y = make_data(1234, 2);
    uint8_t *src = make_data(77777, 3);
    char srcpath[400], path[1024], big[400];
    jobdb_file files[4];
    void *rec = NULL;
    size_t len = 0;
    struct stat a, b;
    jobdb *db = db_at(root);
    snprintf(srcpath, sizeof srcpath, "%s/source.bin", dir);
    write_path(srcpath, src, 77777);
    memset(files, 0, sizeof files);
    files[0].name = "in/0.npy";
    files[0].buf = x;
    files[0].len = 300000;
    files[1].name = "in/deep/er/1.npy";
    files[1].buf = y;
    files[1].len = 1234;
    files[2].name = "model.onnx";
    files[2].link_from = srcpath;
    files[3].name = "empty";
    ck_assert_int_eq(jobdb_create(db, "job-1", "rec one", 7, files, 4, err,
                                  sizeof err), 0);
    ck_assert_int_eq(jobdb_read(db, "job-1", &rec, &len, err, sizeof err),
                     0);
    ck_assert_uint_eq(len, 7);
    ck_assert_str_eq(rec, "rec one");
    free(rec);
    ck_assert(file_is(db, "job-1", "in/0.npy", x, 300000));
    ck_assert(file_is(db, "job-1", "in/deep/er/1.npy", y, 1234));
    ck_assert(file_is(db, "job-1", "model.onnx", src, 77777));
    ck_assert(file_is(db, "job-1", "empty", "", 0));
    ck_assert(file_is(db, "job-1", "job.rec", "rec one", 7));
    /* Same file system: a hard link, the very same inode. */
    ck_assert_int_eq(jobdb_path(db, "job-1", "model.onnx", path,
                                sizeof path), 0);
    ck_assert_int_eq(stat(path, &a), 0);
    ck_assert_int_eq(stat(srcpath, &b), 0);
    ck_assert_uint_eq(a.st_ino, b.st_ino);
    ck_assert_uint_eq(b.st_nlink, 2);
    /* Paths. */
    ck_assert_int_eq(jobdb_path(db, "job-1", NULL, path, sizeof path), 0);
    snprintf(big, sizeof big, "%s/job-1", root);
    ck_assert_str_eq(path, big);
    ck_assert_int_eq(jobdb_path(db, "job-1", "in/0.npy", path, 10),
                     -ENAMETOOLONG);
    /* A second create of the id: refused, the job unchanged. */
    ck_assert_int_eq(jobdb_create(db, "job-1", "other", 5, NULL, 0, err,
                                  sizeof err), -EEXIST);
    ck_assert(file_is(db, "job-1", "job.rec", "rec one", 7));
    ck_assert(file_is(db, "job-1", "in/0.npy", x, 300000));
    /* No files at all, and an empty record, are fine. */
    ck_assert_int_eq(jobdb_create(db, "j2", NULL, 0, NULL, 0, err,
                                  sizeof err), 0);
    ck_assert_int_eq(jobdb_read(db, "j2", &rec, &len, err, sizeof err), 0);
    ck_assert_uint_eq(len, 0);
    free(rec);
    ck_assert_int_eq(jobdb_read(db, "nope", &rec, &len, err, sizeof err),
                     -ENOENT);
    ck_assert_ptr_null(rec);
    ck_assert_int_eq(count_entries(root, NULL, NULL), 2);
    free(x);
    free(y);
    free(src);
    jobdb_close(db);
}
END_TEST

START_TEST(link_copy_across_filesystems)
{
    uint8_t *src = make_data(600000, 4);
    char *srcpath = shmpath, path[1024];
    jobdb_file f;
    struct stat a, b, r;
    jobdb *db = db_at(root);
    snprintf(shmpath, sizeof shmpath, "/dev/shm/check_jobdb.%d",
             (int)getpid());
    if (stat("/dev/shm", &a) < 0) {
        /* No second file system at hand: the copy path stays untested. */
        jobdb_close(db);
        free(src);
        return;
    }
    write_path(srcpath, src, 600000);
    memset(&f, 0, sizeof f);
    f.name = "in/big.bin";
    f.link_from = srcpath;
    ck_assert_int_eq(jobdb_create(db, "x", "r", 1, &f, 1, err, sizeof err),
                     0);
    ck_assert(file_is(db, "x", "in/big.bin", src, 600000));
    ck_assert_int_eq(stat(srcpath, &b), 0);
    ck_assert_int_eq(stat(root, &r), 0);
    ck_assert_int_eq(jobdb_path(db, "x", "in/big.bin", path, sizeof path),
                     0);
    ck_assert_int_eq(stat(path, &a), 0);
    if (b.st_dev != r.st_dev)
        ck_assert_uint_ne(a.st_ino, b.st_ino);     /* copied */
    unlink(srcpath);
    ck_assert(file_is(db, "x", "in/big.bin", src, 600000));
    /* A link_from that is not there: nothing created. */
    ck_assert_int_eq(jobdb_create(db, "y", "r", 1, &f, 1, err, sizeof err),
                     -ENOENT);
    ck_assert(!path_exists("%s/%s", root, "y"));
    ck_assert(!path_exists("%s/%s", root, ".tmp-y"));
    ck_assert_int_eq(count_entries(root, NULL, NULL), 1);
    free(src);
    jobdb_close(db);
}
END_TEST

static const char *bad_ids[] = {
    "", "a/b", "..", ".", ".tmp-x", "a b", "a.b", "\xc3\xbc", "a\n",
    "x\\y",
    "01234567890123456789012345678901234567890123456789012345678901234",
};

static const char *bad_names[] = {
    "", "/abs", "/etc/passwd", "../x", "..", ".", "a/../b", "a/./b", "a//b",
    "a/", ".hidden", "a/.b", "job.rec", "x y", "a\\b", "\xc3\xbc", "a\nb",
    "in/..", "a:b",
};

START_TEST(bad_ids_and_names_refused)
{
    char longname[300], path[1024], okid[65];
    jobdb_file f;
    void *rec = NULL;
    size_t len;
    jobdb *db = db_at(root);
    memset(&f, 0, sizeof f);
    f.buf = "x";
    f.len = 1;
    for (size_t i = 0; i < sizeof bad_ids / sizeof *bad_ids; i++) {
        const char *id = bad_ids[i];
        ck_assert_int_eq(jobdb_create(db, id, "r", 1, NULL, 0, err,
                                      sizeof err), -EINVAL);
        ck_assert_int_eq(jobdb_update(db, id, "r", 1, err, sizeof err),
                         -EINVAL);
        ck_assert_int_eq(jobdb_put_file(db, id, "a", "x", 1, err,
                                        sizeof err), -EINVAL);
        ck_assert_int_eq(jobdb_read(db, id, &rec, &len, err, sizeof err),
                         -EINVAL);
        ck_assert_int_eq(jobdb_path(db, id, NULL, path, sizeof path),
                         -EINVAL);
        ck_assert_int_eq(jobdb_remove(db, id), -EINVAL);
    }
    ck_assert_int_eq(jobdb_create(db, NULL, "r", 1, NULL, 0, err,
                                  sizeof err), -EINVAL);
    ck_assert_int_eq(count_entries(root, NULL, NULL), 0);
    /* The longest id, and every allowed character. */
    memset(okid, 'a', 64);
    okid[64] = 0;
    ck_assert_int_eq(jobdb_create(db, okid, "r", 1, NULL, 0, err,
                                  sizeof err), 0);
    ck_assert_int_eq(jobdb_create(db, "AZaz09_-", "r", 1, NULL, 0, err,
                                  sizeof err), 0);
    ck_assert_int_eq(count_entries(root, NULL, NULL), 2);
    memset(longname, 'n', sizeof longname);
    longname[256] = 0;                                  /* 256: too long */
    for (size_t i = 0; i <= sizeof bad_names / sizeof *bad_names; i++) {
        const char *nm = i < sizeof bad_names / sizeof *bad_names
                         ? bad_names[i] : longname;
        f.name = nm;
        ck_assert_msg(jobdb_create(db, "j", "r", 1, &f, 1, err, sizeof err)
                      == -EINVAL, "create with name \"%s\" not refused", nm);
        ck_assert_int_eq(jobdb_put_file(db, "AZaz09_-", nm, "x", 1, err,
                                        sizeof err), -EINVAL);
        if (strcmp(nm, "job.rec"))
            ck_assert_int_eq(jobdb_path(db, "AZaz09_-", nm, path,
                                        sizeof path), -EINVAL);
    }
    f.name = NULL;
    ck_assert_int_eq(jobdb_create(db, "j", "r", 1, &f, 1, err, sizeof err),
                     -EINVAL);
    /* Nothing was created or written by any of them. */
    ck_assert_int_eq(count_entries(root, NULL, NULL), 2);
    snprintf(path, sizeof path, "%s/AZaz09_-", root);
    ck_assert_int_eq(count_entries(path, NULL, NULL), 1);   /* job.rec */
    ck_assert(!path_exists("%s/%s", dir, "x"));
    /* The longest name is fine; job.rec has a path. */
    longname[255] = 0;
    ck_assert_int_eq(jobdb_put_file(db, "AZaz09_-", longname, "x", 1, err,
                                    sizeof err), 0);
    ck_assert_int_eq(jobdb_path(db, "AZaz09_-", "job.rec", path,
                                sizeof path), 0);
    ck_assert_int_eq(jobdb_put_file(db, "AZaz09_-", "a-b_c.d/e.F9", "x", 1,
                                    err, sizeof err), 0);
    jobdb_close(db);
}
END_TEST

START_TEST(failed_create_leaves_nothing)
{
    jobdb_file f[3];
    char big_rec_dummy;
    jobdb *db = db_at(root);
    int tmps;
    memset(f, 0, sizeof f);
    /* Duplicate names. */
    f[0].name = "in/a";
    f[0].buf = "1";
    f[0].len = 1;
    f[1].name = "in/a";
    f[1].buf = "2";
    f[1].len = 1;
    ck_assert_int_eq(jobdb_create(db, "d", "r", 1, f, 2, err, sizeof err),
                     -EEXIST);
    ck_assert_int_eq(count_entries(root, NULL, NULL), 0);
    /* A file where a directory must go. */
    f[1].name = "in/a/b";
    ck_assert_int_lt(jobdb_create(db, "d", "r", 1, f, 2, err, sizeof err),
                     0);
    ck_assert_int_eq(count_entries(root, NULL, NULL), 0);
    /* Contents missing. */
    f[1].name = "in/b";
    f[1].buf = NULL;
    f[1].len = 5;
    ck_assert_int_eq(jobdb_create(db, "d", "r", 1, f, 2, err, sizeof err),
                     -EINVAL);
    /* Too many files, a negative count, a record too large. */
    ck_assert_int_eq(jobdb_create(db, "d", "r", 1, f, JOBDB_MAX_FILES + 1,
                                  err, sizeof err), -EINVAL);
    ck_assert_int_eq(jobdb_create(db, "d", "r", 1, f, -1, err, sizeof err),
                     -EINVAL);
    ck_assert_int_eq(jobdb_create(db, "d", &big_rec_dummy,
                                  JOBDB_MAX_REC + 1, NULL, 0, err,
                                  sizeof err), -EFBIG);
    ck_assert_int_eq(count_entries(root, ".tmp-", &tmps), 0);
    /* A leftover .tmp-<id> from an earlier failure does not block it. */
    {
        char p[600];
        snprintf(p, sizeof p, "%s/.tmp-d", root);
        ck_assert_int_eq(mkdir(p, 0700), 0);
        snprintf(p, sizeof p, "%s/.tmp-d/job.rec", root);
        write_path(p, "stale", 5);
    }
    f[1].buf = "2";
    f[1].len = 1;
    ck_assert_int_eq(jobdb_create(db, "d", "r", 1, f, 2, err, sizeof err),
                     0);
    ck_assert(file_is(db, "d", "job.rec", "r", 1));
    ck_assert_int_eq(count_entries(root, ".tmp-", &tmps), 1);
    ck_assert_int_eq(tmps, 0);
    jobdb_close(db);
}
END_TEST

START_TEST(update_put_remove)
{
    uint8_t *big = make_data(JOBDB_MAX_REC, 5);
    uint8_t *out = make_data(100000, 6);
    char p[1024];
    void *rec;
    size_t len;
    int tmps;
    jobdb *db = db_at(root);
    ck_assert_int_eq(jobdb_create(db, "u", "v0", 2, NULL, 0, err,
                                  sizeof err), 0);
    ck_assert_int_eq(jobdb_update(db, "u", "version one", 11, err,
                                  sizeof err), 0);
    ck_assert_int_eq(jobdb_read(db, "u", &rec, &len, err, sizeof err), 0);
    ck_assert_uint_eq(len, 11);
    ck_assert_str_eq(rec, "version one");
    free(rec);
    /* The largest record, then a record too large (old one kept). */
    ck_assert_int_eq(jobdb_update(db, "u", big, JOBDB_MAX_REC, err,
                                  sizeof err), 0);
    ck_assert(file_is(db, "u", "job.rec", big, JOBDB_MAX_REC));
    ck_assert_int_eq(jobdb_update(db, "u", big, JOBDB_MAX_REC + 1, err,
                                  sizeof err), -EFBIG);
    ck_assert(file_is(db, "u", "job.rec", big, JOBDB_MAX_REC));
    ck_assert_int_eq(jobdb_update(db, "u", "v2", 2, err, sizeof err), 0);
    ck_assert(file_is(db, "u", "job.rec", "v2", 2));
    ck_assert_int_eq(jobdb_update(db, "none", "v", 1, err, sizeof err),
                     -ENOENT);
    ck_assert(!path_exists("%s/%s", root, "none"));
    /* put_file: new subdirectories, then a replacement. */
    ck_assert_int_eq(jobdb_put_file(db, "u", "out/sub/y.npy", out, 100000,
                                    err, sizeof err), 0);
    ck_assert(file_is(db, "u", "out/sub/y.npy", out, 100000));
    ck_assert_int_eq(jobdb_put_file(db, "u", "out/sub/y.npy", "short", 5,
                                    err, sizeof err), 0);
    ck_assert(file_is(db, "u", "out/sub/y.npy", "short", 5));
    ck_assert_int_eq(jobdb_put_file(db, "u", "job.rec", "x", 1, err,
                                    sizeof err), -EINVAL);
    ck_assert_int_eq(jobdb_put_file(db, "none", "a", "x", 1, err,
                                    sizeof err), -ENOENT);
    ck_assert_int_lt(jobdb_put_file(db, "u", "out/sub/y.npy/z", "x", 1, err,
                                    sizeof err), 0);
    ck_assert(file_is(db, "u", "job.rec", "v2", 2));
    /* No temp file left in the job. */
    ck_assert_int_eq(jobdb_path(db, "u", NULL, p, sizeof p), 0);
    ck_assert_int_eq(count_entries(p, ".tmp-", &tmps), 2); /* rec, out */
    ck_assert_int_eq(tmps, 0);
    /* A record too large on disk is refused on read. */
    ck_assert_int_eq(jobdb_create(db, "huge", "x", 1, NULL, 0, err,
                                  sizeof err), 0);
    ck_assert_int_eq(jobdb_path(db, "huge", "job.rec", p, sizeof p), 0);
    ck_assert_int_eq(truncate(p, (off_t)JOBDB_MAX_REC + 1), 0);
    rec = (void *)1;
    ck_assert_int_eq(jobdb_read(db, "huge", &rec, &len, err, sizeof err),
                     -EFBIG);
    ck_assert_ptr_null(rec);
    /* Remove: recursive, durable, once. */
    ck_assert_int_eq(jobdb_remove(db, "u"), 0);
    ck_assert(!path_exists("%s/%s", root, "u"));
    ck_assert(!path_exists("%s/%s", root, ".del-u"));
    ck_assert_int_eq(jobdb_remove(db, "u"), -ENOENT);
    ck_assert_int_eq(jobdb_read(db, "u", &rec, &len, err, sizeof err),
                     -ENOENT);
    ck_assert_int_eq(count_entries(root, NULL, NULL), 1);   /* huge */
    /* The id can be used again. */
    ck_assert_int_eq(jobdb_create(db, "u", "again", 5, NULL, 0, err,
                                  sizeof err), 0);
    ck_assert(file_is(db, "u", "job.rec", "again", 5));
    ck_assert(!path_exists("%s/%s/out", root, "u"));
    free(big);
    free(out);
    jobdb_close(db);
}
END_TEST

START_TEST(second_opener_refused)
{
    jobdb *db = db_at(root), *db2 = (jobdb *)1;
    char nested[400];
    struct stat st;
    ck_assert_int_eq(jobdb_open(root, &db2, err, sizeof err), -EBUSY);
    ck_assert_ptr_null(db2);
    jobdb_close(db);
    db = db_at(root);
    jobdb_close(db);
    jobdb_close(NULL);
    snprintf(nested, sizeof nested, "%s/p/q/r", dir);
    db = db_at(nested);
    ck_assert_int_eq(stat(nested, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0750);
    jobdb_close(db);
}
END_TEST

/* ------------------------------------------------------------ load */

typedef struct seen {
    int n;
    int stop_at;                /* return -EINTR at this call, or 0 */
    char ids[16][70];
    char recs[16][32];
    int nbad;
    char bad[16][70];
    int badcode[16];
} seen;

static int seen_cb(void *arg, const char *id, const void *rec, size_t len)
{
    seen *s = arg;
    ck_assert_int_lt(s->n, 16);
    snprintf(s->ids[s->n], sizeof s->ids[0], "%s", id);
    snprintf(s->recs[s->n], sizeof s->recs[0], "%.*s", (int)len,
             (const char *)rec);
    s->n++;
    return s->n == s->stop_at ? -EINTR : 0;
}

static void bad_cb(void *arg, const char *name, int code, const char *why)
{
    seen *s = arg;
    ck_assert_int_lt(s->nbad, 16);
    ck_assert_ptr_nonnull(why);
    ck_assert_int_gt(strlen(why), 0);
    snprintf(s->bad[s->nbad], sizeof s->bad[0], "%s", name);
    s->badcode[s->nbad] = code;
    s->nbad++;
}

static void mkdir_rec(const char *name, const char *rec)
{
    char p[600];
    snprintf(p, sizeof p, "%s/%s", root, name);
    ck_assert_int_eq(mkdir(p, 0750), 0);
    if (rec) {
        snprintf(p, sizeof p, "%s/%s/job.rec", root, name);
        write_path(p, rec, strlen(rec));
    }
}

START_TEST(load_skips_and_cleans)
{
    seen s;
    char p[600];
    int rc;
    jobdb *db = db_at(root);
    ck_assert_int_eq(jobdb_create(db, "b", "rb", 2, NULL, 0, err,
                                  sizeof err), 0);
    ck_assert_int_eq(jobdb_create(db, "a", "ra", 2, NULL, 0, err,
                                  sizeof err), 0);
    ck_assert_int_eq(jobdb_create(db, "c", "rc", 2, NULL, 0, err,
                                  sizeof err), 0);
    /* Leftovers of crashed calls, complete-looking ones too. */
    mkdir_rec(".tmp-d", "rd");
    mkdir_rec(".tmp-e", NULL);
    mkdir_rec(".del-f", "rf");
    snprintf(p, sizeof p, "%s/.tmp-d/in", root);
    ck_assert_int_eq(mkdir(p, 0750), 0);
    snprintf(p, sizeof p, "%s/a/.tmp-rec", root);
    write_path(p, "half", 4);
    snprintf(p, sizeof p, "%s/a/.tmp-file", root);
    write_path(p, "half", 4);
    /* Entries that are not jobs. */
    snprintf(p, sizeof p, "%s/junk", root);
    write_path(p, "x", 1);
    mkdir_rec("x.y", "rx");
    mkdir_rec("norec", NULL);
    mkdir_rec("big", "r");
    snprintf(p, sizeof p, "%s/big/job.rec", root);
    ck_assert_int_eq(truncate(p, (off_t)JOBDB_MAX_REC + 1), 0);
    memset(&s, 0, sizeof s);
    rc = jobdb_load(db, seen_cb, bad_cb, &s, err, sizeof err);
    ck_assert_msg(rc == 4, "load: %d %s", rc, err);
    ck_assert_int_eq(s.n, 3);
    ck_assert_str_eq(s.ids[0], "a");
    ck_assert_str_eq(s.recs[0], "ra");
    ck_assert_str_eq(s.ids[1], "b");
    ck_assert_str_eq(s.recs[1], "rb");
    ck_assert_str_eq(s.ids[2], "c");
    ck_assert_str_eq(s.recs[2], "rc");
    ck_assert_int_eq(s.nbad, 4);            /* in name order */
    ck_assert_str_eq(s.bad[0], "big");
    ck_assert_int_eq(s.badcode[0], -EFBIG);
    ck_assert_str_eq(s.bad[1], "junk");
    ck_assert_int_eq(s.badcode[1], -ENOTDIR);
    ck_assert_str_eq(s.bad[2], "norec");
    ck_assert_int_eq(s.badcode[2], -ENOENT);
    ck_assert_str_eq(s.bad[3], "x.y");
    ck_assert_int_eq(s.badcode[3], -EINVAL);
    ck_assert(!path_exists("%s/%s", root, ".tmp-d"));
    ck_assert(!path_exists("%s/%s", root, ".tmp-e"));
    ck_assert(!path_exists("%s/%s", root, ".del-f"));
    ck_assert(!path_exists("%s/%s/.tmp-rec", root, "a"));
    ck_assert(!path_exists("%s/%s/.tmp-file", root, "a"));
    ck_assert(file_is(db, "a", "job.rec", "ra", 2));
    /* Skipped entries are reported, not deleted. */
    ck_assert(path_exists("%s/%s", root, "junk"));
    ck_assert(path_exists("%s/%s", root, "norec"));
    ck_assert_int_eq(count_entries(root, NULL, NULL), 7);
    /* Without a bad callback; and cb's stop code. */
    memset(&s, 0, sizeof s);
    s.stop_at = 2;
    ck_assert_int_eq(jobdb_load(db, seen_cb, NULL, &s, err, sizeof err),
                     -EINTR);
    ck_assert_int_eq(s.n, 2);
    ck_assert_int_eq(s.nbad, 0);
    jobdb_close(db);
}
END_TEST

/* ------------------------------------------------ update atomicity */

START_TEST(update_atomic_under_reads)
{
    size_t lb = 300000;
    uint8_t *a = make_data(100, 7), *b = make_data(lb, 8);
    int na = 0, nb = 0, ny = 0, status;
    char ypath[1024];
    pid_t pid;
    seen s;
    jobdb *db = db_at(root);
    ck_assert_int_eq(jobdb_create(db, "atom", a, 100, NULL, 0, err,
                                  sizeof err), 0);
    ck_assert_int_eq(jobdb_path(db, "atom", "out/y", ypath, sizeof ypath),
                     0);
    fflush(NULL);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        /* Shares db (and its flock) with the parent. */
        char e[256];
        for (unsigned k = 0;; k++) {
            if (jobdb_update(db, "atom", k & 1 ? a : b, k & 1 ? 100 : lb, e,
                             sizeof e))
                _exit(3);
            if (jobdb_put_file(db, "atom", "out/y", k & 1 ? b : a,
                               k & 1 ? lb : 100, e, sizeof e))
                _exit(4);
        }
    }
    for (int i = 0; i < 3000; i++) {
        void *rec = NULL;
        size_t len = 0;
        int rc = jobdb_read(db, "atom", &rec, &len, err, sizeof err);
        ck_assert_msg(rc == 0, "read %d: %d %s", i, rc, err);
        if (len == 100 && !memcmp(rec, a, 100))
            na++;
        else if (len == lb && !memcmp(rec, b, lb))
            nb++;
        else
            ck_abort_msg("read %d: a record of %zu bytes that was never "
                         "written", i, len);
        free(rec);
        /* The file put again and again: absent at first, then whole. */
        if ((rec = slurp(ypath, &len))) {
            ck_assert_msg((len == 100 && !memcmp(rec, a, 100)) ||
                          (len == lb && !memcmp(rec, b, lb)),
                          "read %d: out/y of %zu bytes was never written",
                          i, len);
            ny++;
            free(rec);
        }
        /* The root never shows anything but the job. */
        if (i % 100 == 0)
            ck_assert_int_eq(count_entries(root, NULL, NULL), 1);
    }
    ck_assert_int_eq(kill(pid, SIGKILL), 0);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFSIGNALED(status), "updater failed: %d",
                  WEXITSTATUS(status));
    ck_assert_int_eq(na + nb, 3000);
    memset(&s, 0, sizeof s);
    ck_assert_int_eq(jobdb_load(db, seen_cb, bad_cb, &s, err, sizeof err),
                     0);
    ck_assert_int_eq(s.n, 1);
    ck_assert_int_eq(s.nbad, 0);
    ck_assert_str_eq(s.ids[0], "atom");
    ck_assert(file_is(db, "atom", "job.rec", a, 100) ||
              file_is(db, "atom", "job.rec", b, lb));
    ck_assert(!path_exists("%s/%s/.tmp-rec", root, "atom"));
    ck_assert(!path_exists("%s/%s/.tmp-file", root, "atom"));
    ck_assert_int_gt(ny, 0);
    ck_assert(file_is(db, "atom", "out/y", a, 100) ||
              file_is(db, "atom", "out/y", b, lb));
    free(a);
    free(b);
    jobdb_close(db);
}
END_TEST

/* ------------------------------------------------------------ threads */

#define NTHREADS 8
#define PER_THREAD 10

typedef struct tharg {
    jobdb *db;
    int t;
    int fails;
} tharg;

static void *worker(void *p)
{
    tharg *a = p;
    char e[256], id[32], rec[64];
    uint8_t buf[5000];
    for (int i = 0; i < PER_THREAD; i++) {
        jobdb_file f[2];
        int n;
        memset(buf, a->t * 16 + i, sizeof buf);
        memset(f, 0, sizeof f);
        f[0].name = "in/0.bin";
        f[0].buf = buf;
        f[0].len = sizeof buf;
        f[1].name = "in/1.bin";
        f[1].buf = "one";
        f[1].len = 3;
        snprintf(id, sizeof id, "t%d-%d", a->t, i);
        n = snprintf(rec, sizeof rec, "rec %s v0", id);
        if (jobdb_create(a->db, id, rec, (size_t)n, f, 2, e, sizeof e))
            a->fails++;
        if (jobdb_put_file(a->db, id, "out/y.bin", buf, 100, e, sizeof e))
            a->fails++;
        n = snprintf(rec, sizeof rec, "rec %s v1", id);
        if (jobdb_update(a->db, id, rec, (size_t)n, e, sizeof e))
            a->fails++;
        if (i % 2 && jobdb_remove(a->db, id))
            a->fails++;
    }
    return NULL;
}

static int thread_cb(void *arg, const char *id, const void *rec, size_t len)
{
    jobdb *db = arg;
    char want[64];
    uint8_t buf[5000];
    int t, i;
    ck_assert_int_eq(sscanf(id, "t%d-%d", &t, &i), 2);
    ck_assert_int_eq(i % 2, 0);                 /* odd ones were removed */
    snprintf(want, sizeof want, "rec %s v1", id);
    ck_assert_uint_eq(len, strlen(want));
    ck_assert(!memcmp(rec, want, len));
    memset(buf, t * 16 + i, sizeof buf);
    ck_assert(file_is(db, id, "in/0.bin", buf, sizeof buf));
    ck_assert(file_is(db, id, "in/1.bin", "one", 3));
    ck_assert(file_is(db, id, "out/y.bin", buf, 100));
    return 0;
}

START_TEST(concurrent_jobs)
{
    pthread_t th[NTHREADS];
    tharg a[NTHREADS];
    int tmps;
    jobdb *db = db_at(root);
    for (int t = 0; t < NTHREADS; t++) {
        a[t].db = db;
        a[t].t = t;
        a[t].fails = 0;
        ck_assert_int_eq(pthread_create(&th[t], NULL, worker, &a[t]), 0);
    }
    for (int t = 0; t < NTHREADS; t++)
        ck_assert_int_eq(pthread_join(th[t], NULL), 0);
    for (int t = 0; t < NTHREADS; t++)
        ck_assert_int_eq(a[t].fails, 0);
    ck_assert_int_eq(count_entries(root, ".", &tmps),
                     NTHREADS * PER_THREAD / 2);
    ck_assert_int_eq(tmps, 0);
    ck_assert_int_eq(jobdb_load(db, thread_cb, NULL, db, err, sizeof err),
                     0);
    jobdb_close(db);
}
END_TEST

/* --------------------------------------------------------- kill -9 */

/*
 * Self-checking contents. A record: "JREC" len(u32) fnv(u32) then text
 * "id=<id> v=<n>\n" and one "f <name> <len>\n" per file of the job.
 * A file: "JFIL" len(u32) fnv(u32) then bytes. len is the whole size.
 */
static uint32_t fnv1a(const uint8_t *p, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 16777619u;
    return h;
}

static size_t seal(uint8_t *buf, const char *magic, size_t payload_len)
{
    uint32_t len = (uint32_t)(12 + payload_len), h;
    memcpy(buf, magic, 4);
    memcpy(buf + 4, &len, 4);
    h = fnv1a(buf + 12, payload_len);
    memcpy(buf + 8, &h, 4);
    return len;
}

static int sealed_ok(const uint8_t *buf, size_t len, const char *magic)
{
    uint32_t l, h;
    if (len < 12 || memcmp(buf, magic, 4))
        return 0;
    memcpy(&l, buf + 4, 4);
    memcpy(&h, buf + 8, 4);
    return l == len && h == fnv1a(buf + 12, len - 12);
}

static size_t make_file(uint8_t *buf, size_t payload, uint32_t seed)
{
    uint32_t x = seed * 2654435761u + 7;
    for (size_t i = 0; i < payload; i++) {
        x = x * 1664525u + 1013904223u;
        buf[12 + i] = (uint8_t)(x >> 24);
    }
    return seal(buf, "JFIL", payload);
}

static size_t make_rec(uint8_t *buf, const char *id, int v,
                       const char *names[], const size_t lens[], int n)
{
    size_t off = 12;
    off += (size_t)sprintf((char *)buf + off, "id=%s v=%d\n", id, v);
    for (int i = 0; i < n; i++)
        off += (size_t)sprintf((char *)buf + off, "f %s %zu\n", names[i],
                               lens[i]);
    return seal(buf, "JREC", off - 12);
}

#define CRASH_FILE_MAX (200u << 10)

static void report_line(int fd, const char *fmt, const char *id)
{
    char line[128];
    int n = snprintf(line, sizeof line, fmt, id);
    if (write(fd, line, (size_t)n) != n)    /* one write per line */
        _exit(9);
}

static void crash_child(const char *srcpath, int iter, int pfd)
{
    jobdb *db;
    char e[256], id[64];
    uint8_t *f0 = malloc(CRASH_FILE_MAX + 12), *out = malloc(5000 + 12);
    uint8_t rec[1024];
    if (!f0 || !out || jobdb_open(root, &db, e, sizeof e))
        _exit(3);
    for (int k = 0; k < 2000; k++) {
        const char *names[3] = { "in/0.bin", "in/1.bin", "out/y.bin" };
        size_t lens[3], rl;
        jobdb_file f[2];
        snprintf(id, sizeof id, "k%d-%d", iter, k);
        lens[0] = make_file(f0, 1 + (size_t)(k * 7919u) % CRASH_FILE_MAX,
                            (uint32_t)(iter * 10000 + k));
        lens[1] = 12 + 4096;                /* the linked source */
        memset(f, 0, sizeof f);
        f[0].name = names[0];
        f[0].buf = f0;
        f[0].len = lens[0];
        f[1].name = names[1];
        f[1].link_from = srcpath;
        rl = make_rec(rec, id, 0, names, lens, 2);
        if (jobdb_create(db, id, rec, rl, f, 2, e, sizeof e))
            _exit(4);
        report_line(pfd, "C %s\n", id);
        lens[2] = make_file(out, (size_t)(k % 5000), (uint32_t)k);
        if (jobdb_put_file(db, id, names[2], out, lens[2], e, sizeof e))
            _exit(5);
        rl = make_rec(rec, id, 1, names, lens, 3);
        if (jobdb_update(db, id, rec, rl, e, sizeof e))
            _exit(6);
        report_line(pfd, "U %s\n", id);
        /* Replace the output: the record's length for it is now stale,
         * so only its own seal is checked. */
        lens[2] = make_file(out, (size_t)((k * 31) % 5000), (uint32_t)~k);
        if (jobdb_put_file(db, id, names[2], out, lens[2], e, sizeof e))
            _exit(8);
        if (k % 3 == 1) {
            report_line(pfd, "r %s\n", id);
            if (jobdb_remove(db, id))
                _exit(7);
            report_line(pfd, "R %s\n", id);
        }
    }
    _exit(0);
}

#define MAXJOBS 20000

typedef struct crash_state {
    int n;
    struct {
        char id[32];
        char state;             /* 'C' created, 'U' updated, 'r' removing,
                                   'R' removed */
        int seen;               /* found by the last load */
        int version;            /* its record's v */
    } j[MAXJOBS];
} crash_state;

static int find_job(crash_state *cs, const char *id, int add)
{
    for (int i = cs->n - 1; i >= 0; i--)
        if (!strcmp(cs->j[i].id, id))
            return i;
    if (!add)
        return -1;
    ck_assert_int_lt(cs->n, MAXJOBS);
    snprintf(cs->j[cs->n].id, sizeof cs->j[0].id, "%s", id);
    cs->j[cs->n].state = 0;
    return cs->n++;
}

static void parse_report(crash_state *cs, char *text)
{
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        int i;
        ck_assert_msg(strlen(line) > 2 && line[1] == ' ', "report: %s",
                      line);
        i = find_job(cs, line + 2, 1);
        cs->j[i].state = line[0];
    }
}

typedef struct crash_ctx {
    jobdb *db;
    crash_state *cs;
    int loaded;
} crash_ctx;

/* Every job the load shows must be whole: its record and every file. */
static int crash_cb(void *arg, const char *id, const void *rec, size_t len)
{
    crash_ctx *c = arg;
    const uint8_t *r = rec;
    char text[1100], rid[64], *save = NULL, *line;
    int v = -1, nfiles = 0, i;
    ck_assert_msg(sealed_ok(r, len, "JREC"), "job %s: torn or foreign "
                  "record (%zu bytes)", id, len);
    ck_assert_uint_lt(len - 12, sizeof text);
    memcpy(text, r + 12, len - 12);
    text[len - 12] = 0;
    line = strtok_r(text, "\n", &save);
    ck_assert_ptr_nonnull(line);
    ck_assert_int_eq(sscanf(line, "id=%63s v=%d", rid, &v), 2);
    ck_assert_str_eq(rid, id);
    while ((line = strtok_r(NULL, "\n", &save))) {
        char name[256], path[1024];
        size_t flen = 0, got = 0;
        uint8_t *data;
        ck_assert_int_eq(sscanf(line, "f %255s %zu", name, &flen), 2);
        ck_assert_int_eq(jobdb_path(c->db, id, name, path, sizeof path), 0);
        data = slurp(path, &got);
        ck_assert_msg(data != NULL, "job %s: file %s missing", id, name);
        ck_assert_msg((got == flen || !strncmp(name, "out/", 4)) &&
                      sealed_ok(data, got, "JFIL"),
                      "job %s: file %s torn (%zu of %zu bytes)", id, name,
                      got, flen);
        free(data);
        nfiles++;
    }
    ck_assert_int_eq(nfiles, v == 0 ? 2 : 3);
    i = find_job(c->cs, id, 0);
    if (i < 0) {
        /* Created but killed before it could report: fine, if whole. */
        i = find_job(c->cs, id, 1);
        c->cs->j[i].state = '?';
    }
    c->cs->j[i].seen = 1;
    c->cs->j[i].version = v;
    c->loaded++;
    return 0;
}

static void bad_fail(void *arg, const char *name, int code, const char *why)
{
    ck_abort_msg("load skipped %s: %d %s", name, code, why);
}

START_TEST(kill9_jobs_whole_or_absent)
{
    static crash_state cs;
    static char text[1 << 20];
    uint8_t src[12 + 4096];
    char srcpath[400];
    int total_created = 0;
    memset(&cs, 0, sizeof cs);
    snprintf(srcpath, sizeof srcpath, "%s/blob.src", dir);
    make_file(src, 4096, 42);
    write_path(srcpath, src, sizeof src);
    srand((unsigned)time(NULL) ^ (unsigned)getpid());
    for (int it = 0; it < 12; it++) {
        long delay_us = rand() % 250000;
        struct timespec ts = { delay_us / 1000000,
                               (delay_us % 1000000) * 1000 };
        int p[2], status, tmps;
        size_t used = 0;
        ssize_t n;
        pid_t pid;
        crash_ctx ctx;
        int rc;
        ck_assert_int_eq(pipe(p), 0);
        fcntl(p[1], F_SETPIPE_SZ, 1 << 20);
        fflush(NULL);
        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
            close(p[0]);
            crash_child(srcpath, it, p[1]);
        }
        close(p[1]);
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert_msg(WIFSIGNALED(status) || WEXITSTATUS(status) == 0,
                      "child failed with %d", WEXITSTATUS(status));
        while (used < sizeof text - 1 &&
               (n = read(p[0], text + used, sizeof text - 1 - used)) > 0)
            used += (size_t)n;
        close(p[0]);
        text[used] = 0;
        parse_report(&cs, text);
        for (int i = 0; i < cs.n; i++)
            cs.j[i].seen = 0;
        memset(&ctx, 0, sizeof ctx);
        ctx.db = db_at(root);
        ctx.cs = &cs;
        rc = jobdb_load(ctx.db, crash_cb, bad_fail, &ctx, err, sizeof err);
        ck_assert_msg(rc == 0, "load: %d %s", rc, err);
        /* Nothing left of the calls the kill cut short. */
        ck_assert_int_eq(count_entries(root, ".", &tmps), ctx.loaded);
        ck_assert_int_eq(tmps, 0);
        for (int i = 0; i < cs.n; i++) {
            switch (cs.j[i].state) {
            case 'C':
                ck_assert_msg(cs.j[i].seen, "job %s lost", cs.j[i].id);
                break;
            case 'U':
                ck_assert_msg(cs.j[i].seen && cs.j[i].version == 1,
                              "job %s lost its update", cs.j[i].id);
                ck_assert(!path_exists("%s/%s/.tmp-rec", root,
                                       cs.j[i].id));
                break;
            case 'R':
                ck_assert_msg(!cs.j[i].seen, "removed job %s is back",
                              cs.j[i].id);
                break;
            default:            /* 'r', '?': either way, whole */
                break;
            }
            /* Settle what the load decided, for the next rounds. */
            if (!cs.j[i].seen)
                cs.j[i].state = 'R';
            else if (cs.j[i].state == 'r' || cs.j[i].state == '?')
                cs.j[i].state = cs.j[i].version == 1 ? 'U' : 'C';
        }
        jobdb_close(ctx.db);
        if (getenv("JOBDB_CRASH_VERBOSE"))
            fprintf(stderr, "iteration %d: delay %ld us, %d jobs known, "
                    "%d loaded\n", it, delay_us, cs.n, ctx.loaded);
        total_created = cs.n;
    }
    /* The kills must have hit a child that was doing something. */
    ck_assert_int_gt(total_created, 12);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("jobdb");
    TCase *t = tcase_create("core");
    SRunner *sr;
    int failed;
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_set_timeout(t, 180);
    tcase_add_test(t, create_read_roundtrip);
    tcase_add_test(t, link_copy_across_filesystems);
    tcase_add_test(t, bad_ids_and_names_refused);
    tcase_add_test(t, failed_create_leaves_nothing);
    tcase_add_test(t, update_put_remove);
    tcase_add_test(t, second_opener_refused);
    tcase_add_test(t, load_skips_and_cleans);
    tcase_add_test(t, update_atomic_under_reads);
    tcase_add_test(t, concurrent_jobs);
    tcase_add_test(t, kill9_jobs_whole_or_absent);
    suite_add_tcase(s, t);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
