/*
 * check_blobstore.c - unit tests for lib/store/blobstore.c: content-
 * addressed blobs written through a streaming writer.
 *
 *  - a 5 MiB blob written in odd pieces: its id is the SHA-256 computed
 *    here with OpenSSL EVP and by sha256sum(1), independently of the
 *    store; its file holds the bytes; stat, list; no temp file left; the
 *    empty blob has the well-known empty SHA-256;
 *  - an expected SHA-256 (either case) that matches is accepted; one that
 *    does not, a short blob, bytes beyond the declared size and a size
 *    above the store's maximum are refused and leave nothing in DIR;
 *  - putting the same bytes again keeps the stored file (same inode); a
 *    damaged stored file (wrong size) is replaced;
 *  - prefix resolution: unique, either case, full id, ambiguous
 *    (-ENOTUNIQ), none (-ENOENT), too short or not hex (-EINVAL);
 *  - bad ids are refused by every function taking one;
 *  - metadata: round trip, replace, bounded read, none, blob missing,
 *    removed with the blob;
 *  - open: creates missing parents (mode 0750), removes temp files and
 *    metadata without a blob, keeps blobs; a second opener gets -EBUSY;
 *  - list: id order, sizes, non-blob names ignored, cb's stop value;
 *  - 8 threads writing blobs at once (some the same bytes);
 *  - kill -9 of a child in the middle of writes: every file named as a
 *    blob has the SHA-256 of its name, and reopening leaves no temp.
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

#include <openssl/evp.h>

#include "blobstore.h"

#define MAXSZ ((uint64_t)64 << 20)
#define EMPTY_SHA \
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static char err[512];
static char dir[256];
static char bdir[300];

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/check_blobstore.%d.XXXXXX",
             (int)getpid());
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(bdir, sizeof bdir, "%s/blobs", dir);
}

static void teardown(void)
{
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* ------------------------------------------------------------ helpers */

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

static void sha256_hex(const void *p, size_t n, char out[65])
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    uint8_t md[32];
    unsigned len = 0;
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(EVP_DigestInit_ex(c, EVP_sha256(), NULL), 1);
    ck_assert_int_eq(EVP_DigestUpdate(c, p, n), 1);
    ck_assert_int_eq(EVP_DigestFinal_ex(c, md, &len), 1);
    ck_assert_uint_eq(len, 32);
    EVP_MD_CTX_free(c);
    for (int i = 0; i < 32; i++)
        sprintf(out + 2 * i, "%02x", md[i]);
}

/* SHA-256 of a file by sha256sum(1): a second, independent opinion. */
static void sha256sum_file(const char *path, char out[65])
{
    char cmd[600], line[200];
    FILE *f;
    snprintf(cmd, sizeof cmd, "sha256sum '%s'", path);
    f = popen(cmd, "r");
    ck_assert_ptr_nonnull(f);
    ck_assert_ptr_nonnull(fgets(line, sizeof line, f));
    ck_assert_int_eq(pclose(f), 0);
    ck_assert_msg(strlen(line) > 64 && line[64] == ' ', "sha256sum: %s",
                  line);
    memcpy(out, line, 64);
    out[64] = 0;
}

static blobstore *store_at(const char *d)
{
    blobstore *s = NULL;
    int rc = blobstore_open(d, MAXSZ, &s, err, sizeof err);
    ck_assert_msg(rc == 0, "blobstore_open %s: %d %s", d, rc, err);
    ck_assert_ptr_nonnull(s);
    return s;
}

/* Write len bytes in pieces of piece bytes; the commit's return value. */
static int put(blobstore *s, const void *data, size_t len, size_t piece,
               const char *expect, char id[65])
{
    blobw *w = NULL;
    const uint8_t *p = data;
    int rc = blobstore_begin(s, len, expect, &w, err, sizeof err);
    if (rc)
        return rc;
    ck_assert_ptr_nonnull(w);
    for (size_t off = 0; off < len;) {
        size_t n = len - off < piece ? len - off : piece;
        rc = blobw_write(w, p + off, n, err, sizeof err);
        ck_assert_msg(rc == 0, "blobw_write: %d %s", rc, err);
        off += n;
    }
    return blobw_commit(w, id, err, sizeof err);
}

/* Entries in d other than . and .., and how many start with ".tmp-". */
static int count_entries(const char *d, int *tmps)
{
    DIR *dd = opendir(d);
    struct dirent *de;
    int n = 0;
    ck_assert_ptr_nonnull(dd);
    if (tmps)
        *tmps = 0;
    while ((de = readdir(dd))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        n++;
        if (tmps && !strncmp(de->d_name, ".tmp-", 5))
            (*tmps)++;
    }
    closedir(dd);
    return n;
}

static void touch(const char *d, const char *name, const char *text)
{
    char path[600];
    FILE *f;
    snprintf(path, sizeof path, "%s/%s", d, name);
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    ck_assert_int_eq(fclose(f), 0);
}

static int exists(const char *d, const char *name)
{
    char path[600];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", d, name);
    return stat(path, &st) == 0;
}

/* -------------------------------------------------------------- tests */

START_TEST(put_roundtrip_sha256sum)
{
    size_t len = ((size_t)5 << 20) + 4321;
    uint8_t *data = make_data(len, 1), *back;
    char id[65], want[65], other[65], path[512];
    uint64_t size = 0;
    blobstore *s = store_at(bdir);
    FILE *f;
    int tmps;
    sha256_hex(data, len, want);
    ck_assert_int_eq(put(s, data, len, 7777, NULL, id), 0);
    ck_assert_str_eq(id, want);
    ck_assert_int_eq(blobstore_path(s, id, path, sizeof path), 0);
    sha256sum_file(path, other);
    ck_assert_str_eq(other, want);
    ck_assert_int_eq(blobstore_stat(s, id, &size), 0);
    ck_assert_uint_eq(size, len);
    back = malloc(len + 1);
    f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fread(back, 1, len + 1, f), len);
    fclose(f);
    ck_assert(!memcmp(back, data, len));
    ck_assert_int_eq(count_entries(bdir, &tmps), 1);
    ck_assert_int_eq(tmps, 0);
    free(back);
    free(data);
    blobstore_close(s);
}
END_TEST

START_TEST(empty_blob)
{
    char id[65], path[512], other[65];
    uint64_t size = 99;
    blobstore *s = store_at(bdir);
    ck_assert_int_eq(put(s, "", 0, 1, EMPTY_SHA, id), 0);
    ck_assert_str_eq(id, EMPTY_SHA);
    ck_assert_int_eq(blobstore_stat(s, id, &size), 0);
    ck_assert_uint_eq(size, 0);
    ck_assert_int_eq(blobstore_path(s, id, path, sizeof path), 0);
    sha256sum_file(path, other);
    ck_assert_str_eq(other, EMPTY_SHA);
    blobstore_close(s);
}
END_TEST

START_TEST(expected_sha_accepted)
{
    uint8_t *data = make_data(100000, 2);
    char want[65], upper[65], id[65];
    blobstore *s = store_at(bdir);
    sha256_hex(data, 100000, want);
    for (int i = 0; i < 65; i++)
        upper[i] = (char)(want[i] >= 'a' && want[i] <= 'f' ?
                          want[i] - 32 : want[i]);
    ck_assert_int_eq(put(s, data, 100000, 4096, want, id), 0);
    ck_assert_str_eq(id, want);
    ck_assert_int_eq(blobstore_remove(s, id), 0);
    ck_assert_int_eq(put(s, data, 100000, 100000, upper, id), 0);
    ck_assert_str_eq(id, want);
    ck_assert_int_eq(count_entries(bdir, NULL), 1);
    free(data);
    blobstore_close(s);
}
END_TEST

START_TEST(sha_mismatch_leaves_nothing)
{
    uint8_t *data = make_data(300000, 3), *other = make_data(300000, 4);
    char wrong[65], id[65] = "";
    blobw *w = NULL;
    blobstore *s = store_at(bdir);
    sha256_hex(other, 300000, wrong);
    ck_assert_int_eq(put(s, data, 300000, 65536, wrong, id), -EBADMSG);
    ck_assert_str_eq(id, "");
    ck_assert_ptr_nonnull(strstr(err, wrong));
    ck_assert_int_eq(count_entries(bdir, NULL), 0);
    /* Expectations that are not 64 hex digits: refused at begin. */
    wrong[63] = 0;
    ck_assert_int_eq(blobstore_begin(s, 10, wrong, &w, err, sizeof err),
                     -EINVAL);
    ck_assert_ptr_null(w);
    wrong[63] = 'g';
    ck_assert_int_eq(blobstore_begin(s, 10, wrong, &w, err, sizeof err),
                     -EINVAL);
    ck_assert_int_eq(count_entries(bdir, NULL), 0);
    free(data);
    free(other);
    blobstore_close(s);
}
END_TEST

START_TEST(size_mismatch_leaves_nothing)
{
    uint8_t *data = make_data(5000, 5);
    char id[65], want[65];
    blobw *w = NULL;
    blobstore *s = NULL;
    ck_assert_int_eq(blobstore_open(bdir, 4096, &s, err, sizeof err), 0);
    /* Above the store's maximum. */
    ck_assert_int_eq(blobstore_begin(s, 4097, NULL, &w, err, sizeof err),
                     -EFBIG);
    ck_assert_ptr_null(w);
    ck_assert_int_eq(count_entries(bdir, NULL), 0);
    /* Short: commit refuses. */
    ck_assert_int_eq(blobstore_begin(s, 4000, NULL, &w, err, sizeof err), 0);
    ck_assert_int_eq(blobw_write(w, data, 3999, err, sizeof err), 0);
    ck_assert_int_eq(blobw_commit(w, id, err, sizeof err), -EMSGSIZE);
    ck_assert_int_eq(count_entries(bdir, NULL), 0);
    /* Beyond the declared size: refused, nothing written, still usable. */
    ck_assert_int_eq(blobstore_begin(s, 4000, NULL, &w, err, sizeof err), 0);
    ck_assert_int_eq(blobw_write(w, data, 3000, err, sizeof err), 0);
    ck_assert_int_eq(blobw_write(w, data + 3000, 1001, err, sizeof err),
                     -EMSGSIZE);
    ck_assert_int_eq(blobw_write(w, data + 3000, 1000, err, sizeof err), 0);
    ck_assert_int_eq(blobw_write(w, data, 1, err, sizeof err), -EMSGSIZE);
    ck_assert_int_eq(blobw_commit(w, id, err, sizeof err), 0);
    sha256_hex(data, 4000, want);
    ck_assert_str_eq(id, want);
    ck_assert_int_eq(blobstore_remove(s, id), 0);
    /* Aborted: nothing. */
    ck_assert_int_eq(blobstore_begin(s, 4000, NULL, &w, err, sizeof err), 0);
    ck_assert_int_eq(blobw_write(w, data, 100, err, sizeof err), 0);
    ck_assert_int_eq(count_entries(bdir, NULL), 1);    /* the temp */
    blobw_abort(w);
    ck_assert_int_eq(count_entries(bdir, NULL), 0);
    free(data);
    blobstore_close(s);
}
END_TEST

START_TEST(idempotent_reput)
{
    uint8_t *data = make_data(200000, 6);
    char id[65], id2[65], path[512], sum[65];
    struct stat a, b;
    blobstore *s = store_at(bdir);
    ck_assert_int_eq(put(s, data, 200000, 9999, NULL, id), 0);
    ck_assert_int_eq(blobstore_path(s, id, path, sizeof path), 0);
    ck_assert_int_eq(stat(path, &a), 0);
    ck_assert_int_eq(put(s, data, 200000, 200000, id, id2), 0);
    ck_assert_str_eq(id, id2);
    ck_assert_int_eq(stat(path, &b), 0);
    ck_assert_uint_eq(a.st_ino, b.st_ino);     /* kept, not replaced */
    ck_assert_int_eq(count_entries(bdir, NULL), 1);
    /* A damaged stored copy (wrong size) is replaced by a good one. */
    ck_assert_int_eq(truncate(path, 1000), 0);
    ck_assert_int_eq(put(s, data, 200000, 12345, NULL, id2), 0);
    ck_assert_str_eq(id, id2);
    ck_assert_int_eq(stat(path, &b), 0);
    ck_assert_int_eq(b.st_size, 200000);
    sha256sum_file(path, sum);
    ck_assert_str_eq(sum, id);
    ck_assert_int_eq(count_entries(bdir, NULL), 1);
    free(data);
    blobstore_close(s);
}
END_TEST

START_TEST(prefix_resolve)
{
    char ids[3][65], got[65], p[65], none[65];
    const char *fa = "deadbeef0000000000000000000000000000000000000000"
                     "0000000000000001";
    const char *fb = "deadbeef1000000000000000000000000000000000000000"
                     "0000000000000002";
    blobstore *s = store_at(bdir);
    for (int i = 0; i < 3; i++) {
        uint8_t *d = make_data(1000 + (size_t)i, 10 + (uint32_t)i);
        ck_assert_int_eq(put(s, d, 1000 + (size_t)i, 333, NULL, ids[i]), 0);
        free(d);
    }
    for (int i = 0; i < 3; i++) {
        memcpy(p, ids[i], 8);
        p[8] = 0;
        memset(got, 0, sizeof got);
        ck_assert_int_eq(blobstore_resolve_prefix(s, p, got), 0);
        ck_assert_str_eq(got, ids[i]);
        for (int k = 0; k < 8; k++)
            if (p[k] >= 'a')
                p[k] = (char)(p[k] - 32);
        ck_assert_int_eq(blobstore_resolve_prefix(s, p, got), 0);
        ck_assert_str_eq(got, ids[i]);
        ck_assert_int_eq(blobstore_resolve_prefix(s, ids[i], got), 0);
        ck_assert_str_eq(got, ids[i]);
    }
    /* Two blobs sharing 8 digits (named by hand: real collisions are
     * too rare to make), and a .meta that shares them too. */
    touch(bdir, fa, "a");
    touch(bdir, fb, "b");
    touch(bdir, "deadbeef22222222222222222222222222222222222222222222"
                "222222222222.meta", "m");
    ck_assert_int_eq(blobstore_resolve_prefix(s, "deadbeef", got),
                     -ENOTUNIQ);
    ck_assert_int_eq(blobstore_resolve_prefix(s, "DEADBEEF", got),
                     -ENOTUNIQ);
    ck_assert_int_eq(blobstore_resolve_prefix(s, "deadbeef1", got), 0);
    ck_assert_str_eq(got, fb);
    ck_assert_int_eq(blobstore_resolve_prefix(s, "deadbeef0", got), 0);
    ck_assert_str_eq(got, fa);
    ck_assert_int_eq(blobstore_resolve_prefix(s, "deadbeef2", got),
                     -ENOENT);
    /* None: a prefix none of the ids has. */
    snprintf(none, sizeof none, "%s", "0123456789");
    for (char c = '0'; ; c++) {
        int hit = 0;
        none[0] = c;
        for (int i = 0; i < 3; i++)
            hit |= !strncmp(ids[i], none, 10);
        if (!hit)
            break;
    }
    ck_assert_int_eq(blobstore_resolve_prefix(s, none, got), -ENOENT);
    ck_assert_int_eq(blobstore_resolve_prefix(s, "deadbee", got), -EINVAL);
    ck_assert_int_eq(blobstore_resolve_prefix(s, "deadbeeg", got), -EINVAL);
    ck_assert_int_eq(blobstore_resolve_prefix(s, "", got), -EINVAL);
    ck_assert_int_eq(blobstore_resolve_prefix(s, NULL, got), -EINVAL);
    snprintf(p, sizeof p, "%s", fa);
    ck_assert_int_eq(blobstore_resolve_prefix(s, p, got), 0);
    blobstore_close(s);
}
END_TEST

START_TEST(bad_ids_refused)
{
    static const char *bad[] = {
        "",
        "abc",
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85",
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8555",
        "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85g",
        "../c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        ".tmp-0123456789abcdef",
    };
    char path[512], id[65];
    uint64_t size;
    void *buf = (void *)1;
    size_t len = 7;
    blobstore *s = store_at(bdir);
    ck_assert_int_eq(put(s, "", 0, 1, NULL, id), 0);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        ck_assert_int_eq(blobstore_path(s, bad[i], path, sizeof path),
                         -EINVAL);
        ck_assert_int_eq(blobstore_stat(s, bad[i], &size), -EINVAL);
        ck_assert_int_eq(blobstore_remove(s, bad[i]), -EINVAL);
        ck_assert_int_eq(blobstore_put_meta(s, bad[i], "x", 1, err,
                                            sizeof err), -EINVAL);
        ck_assert_int_eq(blobstore_get_meta(s, bad[i], &buf, &len, 100, err,
                                            sizeof err), -EINVAL);
        ck_assert_ptr_null(buf);
    }
    ck_assert_int_eq(blobstore_path(s, NULL, path, sizeof path), -EINVAL);
    ck_assert_int_eq(blobstore_path(s, id, path, 10), -ENAMETOOLONG);
    ck_assert_int_eq(blobstore_stat(s, EMPTY_SHA "", &size), 0);
    ck_assert_int_eq(blobstore_stat(s, "0000000000000000000000000000000000"
                                    "000000000000000000000000000000",
                                    &size), -ENOENT);
    ck_assert_int_eq(count_entries(bdir, NULL), 1);
    blobstore_close(s);
}
END_TEST

START_TEST(meta_roundtrip)
{
    char id[65], idx[65];
    void *buf = NULL;
    size_t len = 0;
    uint8_t *big = make_data(BLOBSTORE_META_MAX + 1, 7);
    blobstore *s = store_at(bdir);
    ck_assert_int_eq(put(s, "hello", 5, 2, NULL, id), 0);
    ck_assert_int_eq(blobstore_get_meta(s, id, &buf, &len, 100, err,
                                        sizeof err), -ENOENT);
    ck_assert_int_eq(blobstore_put_meta(s, id, "{\"name\":\"m\"}", 12, err,
                                        sizeof err), 0);
    ck_assert_int_eq(blobstore_get_meta(s, id, &buf, &len, 100, err,
                                        sizeof err), 0);
    ck_assert_uint_eq(len, 12);
    ck_assert_str_eq(buf, "{\"name\":\"m\"}");    /* NUL-terminated */
    free(buf);
    /* Replaced whole, by a shorter one. */
    ck_assert_int_eq(blobstore_put_meta(s, id, "xy", 2, err, sizeof err),
                     0);
    ck_assert_int_eq(blobstore_get_meta(s, id, &buf, &len, 2, err,
                                        sizeof err), 0);
    ck_assert_uint_eq(len, 2);
    ck_assert(!memcmp(buf, "xy", 3));
    free(buf);
    buf = NULL;
    ck_assert_int_eq(blobstore_get_meta(s, id, &buf, &len, 1, err,
                                        sizeof err), -EFBIG);
    ck_assert_ptr_null(buf);
    ck_assert_int_eq(blobstore_put_meta(s, id, big, BLOBSTORE_META_MAX + 1,
                                        err, sizeof err), -EFBIG);
    ck_assert_int_eq(blobstore_put_meta(s, id, big, BLOBSTORE_META_MAX, err,
                                        sizeof err), 0);
    ck_assert_int_eq(blobstore_get_meta(s, id, &buf, &len,
                                        BLOBSTORE_META_MAX, err, sizeof err),
                     0);
    ck_assert_uint_eq(len, BLOBSTORE_META_MAX);
    ck_assert(!memcmp(buf, big, len));
    free(buf);
    /* No metadata for a blob that is not there. */
    sha256_hex("other", 5, idx);
    ck_assert_int_eq(blobstore_put_meta(s, idx, "x", 1, err, sizeof err),
                     -ENOENT);
    ck_assert_int_eq(count_entries(bdir, NULL), 2);    /* blob + meta */
    /* Remove takes both; a second remove finds nothing. */
    ck_assert_int_eq(blobstore_remove(s, id), 0);
    ck_assert_int_eq(count_entries(bdir, NULL), 0);
    ck_assert_int_eq(blobstore_remove(s, id), -ENOENT);
    ck_assert_int_eq(blobstore_get_meta(s, id, &buf, &len, 100, err,
                                        sizeof err), -ENOENT);
    free(big);
    blobstore_close(s);
}
END_TEST

START_TEST(open_cleans_leftovers)
{
    char nested[400], id[65], id2[65], meta[80], orphan[80];
    struct stat st;
    blobstore *s, *s2 = (blobstore *)1;
    snprintf(nested, sizeof nested, "%s/a/b/c/", dir);
    s = store_at(nested);
    nested[strlen(nested) - 1] = 0;
    ck_assert_int_eq(stat(nested, &st), 0);
    ck_assert(S_ISDIR(st.st_mode));
    ck_assert_int_eq(st.st_mode & 0777, 0750);
    ck_assert_int_eq(put(s, "keep", 4, 4, NULL, id), 0);
    ck_assert_int_eq(blobstore_put_meta(s, id, "m", 1, err, sizeof err), 0);
    /* A second opener of the same directory is kept out. */
    ck_assert_int_eq(blobstore_open(nested, MAXSZ, &s2, err, sizeof err),
                     -EBUSY);
    ck_assert_ptr_null(s2);
    blobstore_close(s);
    /* What a crash leaves: temps, metadata whose blob is gone. */
    sha256_hex("gone", 4, id2);
    snprintf(meta, sizeof meta, "%s.meta", id);
    snprintf(orphan, sizeof orphan, "%s.meta", id2);
    touch(nested, ".tmp-0123456789abcdef", "partial");
    touch(nested, ".tmp-x", "partial");
    touch(nested, orphan, "orphan");
    touch(nested, "README", "not a blob");
    ck_assert_int_eq(count_entries(nested, NULL), 6);
    s = store_at(nested);
    ck_assert(!exists(nested, ".tmp-0123456789abcdef"));
    ck_assert(!exists(nested, ".tmp-x"));
    ck_assert(!exists(nested, orphan));
    ck_assert(exists(nested, id));
    ck_assert(exists(nested, meta));
    ck_assert(exists(nested, "README"));
    ck_assert_int_eq(count_entries(nested, NULL), 3);
    blobstore_close(s);
    blobstore_close(NULL);
}
END_TEST

typedef struct listed {
    int n;
    int stop_at;                /* return 7 at this call (1-based), or 0 */
    char ids[8][65];
    uint64_t sizes[8];
} listed;

static int list_cb(void *arg, const char *id, uint64_t size)
{
    listed *l = arg;
    ck_assert_int_lt(l->n, 8);
    snprintf(l->ids[l->n], 65, "%s", id);
    l->sizes[l->n] = size;
    l->n++;
    return l->n == l->stop_at ? 7 : 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(a, b);
}

START_TEST(list_sorted_and_stop)
{
    char ids[5][65];
    listed l;
    blobstore *s = store_at(bdir);
    for (int i = 0; i < 5; i++) {
        uint8_t *d = make_data(100 * (size_t)(i + 1), 20 + (uint32_t)i);
        ck_assert_int_eq(put(s, d, 100 * (size_t)(i + 1), 64, NULL, ids[i]),
                         0);
        if (i == 2)
            ck_assert_int_eq(blobstore_put_meta(s, ids[i], "m", 1, err,
                                                sizeof err), 0);
        free(d);
    }
    touch(bdir, "README", "x");
    {
        char sub[400];
        /* A directory with a blob's name is not a blob. */
        snprintf(sub, sizeof sub, "%s/%064d", bdir, 0);
        ck_assert_int_eq(mkdir(sub, 0700), 0);
    }
    memset(&l, 0, sizeof l);
    ck_assert_int_eq(blobstore_list(s, list_cb, &l), 0);
    ck_assert_int_eq(l.n, 5);
    for (int i = 1; i < 5; i++)
        ck_assert_int_lt(strcmp(l.ids[i - 1], l.ids[i]), 0);
    for (int i = 0; i < 5; i++) {
        int k;
        for (k = 0; k < 5 && strcmp(ids[k], l.ids[i]); k++)
            ;
        ck_assert_int_lt(k, 5);
        ck_assert_uint_eq(l.sizes[i], 100 * (uint64_t)(k + 1));
    }
    qsort(ids, 5, sizeof ids[0], cmp_str);
    ck_assert_str_eq(l.ids[0], ids[0]);
    memset(&l, 0, sizeof l);
    l.stop_at = 2;
    ck_assert_int_eq(blobstore_list(s, list_cb, &l), 7);
    ck_assert_int_eq(l.n, 2);
    blobstore_close(s);
}
END_TEST

/* ------------------------------------------------------------ threads */

#define NTHREADS 8
#define PER_THREAD 12

typedef struct tharg {
    blobstore *s;
    int t;
    int fails;
    char ids[PER_THREAD][65];
} tharg;

static void *writer(void *p)
{
    tharg *a = p;
    char e[256];
    for (int i = 0; i < PER_THREAD; i++) {
        /* Every third blob is the same in every thread. */
        uint32_t seed = i % 3 == 0 ? 1000u + (uint32_t)i
                                   : 2000u + (uint32_t)(a->t * 100 + i);
        size_t len = 20000 + (size_t)seed * 7;
        uint8_t *d = malloc(len);
        uint32_t x = seed;
        blobw *w;
        if (!d) {
            a->fails++;
            continue;
        }
        for (size_t k = 0; k < len; k++) {
            x = x * 1664525u + 1013904223u;
            d[k] = (uint8_t)(x >> 24);
        }
        if (blobstore_begin(a->s, len, NULL, &w, e, sizeof e) ||
            blobw_write(w, d, len / 2, e, sizeof e) ||
            blobw_write(w, d + len / 2, len - len / 2, e, sizeof e) ||
            blobw_commit(w, a->ids[i], e, sizeof e))
            a->fails++;
        free(d);
    }
    return NULL;
}

START_TEST(concurrent_writers)
{
    pthread_t th[NTHREADS];
    tharg a[NTHREADS];
    blobstore *s = store_at(bdir);
    int tmps, distinct = PER_THREAD / 3 + NTHREADS * (PER_THREAD -
                                                      PER_THREAD / 3);
    for (int t = 0; t < NTHREADS; t++) {
        memset(&a[t], 0, sizeof a[t]);
        a[t].s = s;
        a[t].t = t;
        ck_assert_int_eq(pthread_create(&th[t], NULL, writer, &a[t]), 0);
    }
    for (int t = 0; t < NTHREADS; t++)
        ck_assert_int_eq(pthread_join(th[t], NULL), 0);
    for (int t = 0; t < NTHREADS; t++) {
        ck_assert_int_eq(a[t].fails, 0);
        for (int i = 0; i < PER_THREAD; i++) {
            char path[512], sum[65];
            ck_assert_int_eq(blobstore_path(s, a[t].ids[i], path,
                                            sizeof path), 0);
            if (i % 3 == 0)
                ck_assert_str_eq(a[t].ids[i], a[0].ids[i]);
            if (t == 0 || i % 4 == 1) {
                sha256sum_file(path, sum);
                ck_assert_str_eq(sum, a[t].ids[i]);
            }
        }
    }
    ck_assert_int_eq(count_entries(bdir, &tmps), distinct);
    ck_assert_int_eq(tmps, 0);
    blobstore_close(s);
}
END_TEST

/* --------------------------------------------------------- kill -9 */

static void crash_child(const char *d)
{
    blobstore *s;
    char e[256], id[65];
    uint8_t *buf = malloc(1 << 16);
    if (!buf || blobstore_open(d, MAXSZ, &s, e, sizeof e))
        _exit(3);
    for (uint32_t k = 0;; k++) {
        size_t len = 1000 + (size_t)(k * 7919u % (3u << 20));
        uint32_t x = k * 2654435761u + (uint32_t)getpid();
        blobw *w;
        if (blobstore_begin(s, len, NULL, &w, e, sizeof e))
            _exit(4);
        for (size_t off = 0; off < len;) {
            size_t n = len - off < (1u << 16) ? len - off : (1u << 16);
            for (size_t i = 0; i < n; i++) {
                x = x * 1664525u + 1013904223u;
                buf[i] = (uint8_t)(x >> 24);
            }
            if (blobw_write(w, buf, n, e, sizeof e))
                _exit(5);
            off += n;
        }
        if (blobw_commit(w, id, e, sizeof e))
            _exit(6);
        if (k % 4 == 3 && blobstore_put_meta(s, id, "meta", 4, e, sizeof e))
            _exit(7);
    }
}

static int verify_cb(void *arg, const char *id, uint64_t size)
{
    blobstore *s = ((void **)arg)[0];
    int *n = ((void **)arg)[1];
    char path[512], sum[65];
    FILE *f;
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    uint8_t buf[1 << 14], md[32];
    unsigned mdlen;
    size_t r;
    ck_assert_int_eq(blobstore_path(s, id, path, sizeof path), 0);
    f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    EVP_DigestInit_ex(c, EVP_sha256(), NULL);
    while ((r = fread(buf, 1, sizeof buf, f)) > 0)
        EVP_DigestUpdate(c, buf, r);
    fclose(f);
    EVP_DigestFinal_ex(c, md, &mdlen);
    EVP_MD_CTX_free(c);
    for (int i = 0; i < 32; i++)
        sprintf(sum + 2 * i, "%02x", md[i]);
    ck_assert_msg(!strcmp(sum, id), "blob %s holds bytes of %s", id, sum);
    ck_assert_uint_ge(size, 1000);
    (*n)++;
    return 0;
}

START_TEST(kill9_blobs_whole_or_absent)
{
    int total = 0;
    srand((unsigned)time(NULL) ^ (unsigned)getpid());
    for (int it = 0; it < 8; it++) {
        long delay_us = 5000 + rand() % 150000;
        struct timespec ts = { 0, delay_us * 1000 };
        pid_t pid;
        int status, tmps, n = 0;
        blobstore *s;
        void *arg[2];
        fflush(NULL);
        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0)
            crash_child(bdir);
        nanosleep(&ts, NULL);
        ck_assert_int_eq(kill(pid, SIGKILL), 0);
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert_msg(WIFSIGNALED(status), "child exited with %d before "
                      "the kill", WEXITSTATUS(status));
        s = store_at(bdir);
        count_entries(bdir, &tmps);
        ck_assert_int_eq(tmps, 0);
        arg[0] = s;
        arg[1] = &n;
        ck_assert_int_eq(blobstore_list(s, verify_cb, arg), 0);
        ck_assert_int_ge(n, total);        /* nothing whole was lost */
        total = n;
        blobstore_close(s);
    }
    ck_assert_int_gt(total, 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("blobstore");
    TCase *t = tcase_create("core");
    SRunner *sr;
    int failed;
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_set_timeout(t, 120);
    tcase_add_test(t, put_roundtrip_sha256sum);
    tcase_add_test(t, empty_blob);
    tcase_add_test(t, expected_sha_accepted);
    tcase_add_test(t, sha_mismatch_leaves_nothing);
    tcase_add_test(t, size_mismatch_leaves_nothing);
    tcase_add_test(t, idempotent_reput);
    tcase_add_test(t, prefix_resolve);
    tcase_add_test(t, bad_ids_refused);
    tcase_add_test(t, meta_roundtrip);
    tcase_add_test(t, open_cleans_leftovers);
    tcase_add_test(t, list_sorted_and_stop);
    tcase_add_test(t, concurrent_writers);
    tcase_add_test(t, kill9_blobs_whole_or_absent);
    suite_add_tcase(s, t);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
