/*
 * blobstore.h - content-addressed files: ONNX models and uploaded input
 * blobs behind lagranged's job API.
 *
 * Owns one directory (DIR, created with its parents if missing, mode 0750):
 *   DIR/<64 hex>        a blob, named by the SHA-256 of its bytes (lower
 *                       case); written once, never modified in place
 *   DIR/<64 hex>.meta   optional sidecar metadata of that blob (opaque
 *                       bytes, at most BLOBSTORE_META_MAX), replaced whole
 *   DIR/.tmp-<16 hex>   a write in progress (random name); removed at open
 * Anything else in DIR is ignored.
 *
 * A blob is written through a writer (blobstore_begin, blobw_write...,
 * blobw_commit) that streams the bytes into a temp file while hashing
 * them; nothing is ever named <hex> before its size and SHA-256 were
 * checked and its bytes fsynced: commit fsyncs the file, renames it to
 * DIR/<hex> and fsyncs DIR. A blob that already exists (same hash, same
 * size) is left alone and the temp dropped, so putting the same bytes
 * twice is harmless. A crash at any instant leaves either the whole blob
 * or none of it (plus a temp file that the next open removes).
 *
 * Metadata is written the same way (temp, fsync, rename, fsync DIR), and
 * only for a blob that exists. blobstore_remove unlinks the blob, then its
 * metadata; a .meta left without its blob by a crash is removed at open.
 *
 * Errors: 0 or a negative errno with a message in err where there is an
 * err argument: -EINVAL a bad id, prefix or argument; -ENOENT no such
 * blob (or metadata); -ENOTUNIQ a prefix that matches several blobs;
 * -EFBIG a size above the store's maximum (or metadata above the caller's
 * max); -EMSGSIZE bytes beyond the declared size, or fewer than declared
 * at commit; -EBADMSG a SHA-256 that is not the expected one; -EBUSY the
 * directory is open in another blobstore (an flock on DIR); -ENOMEM;
 * I/O errors as the system gives them.
 *
 * Threading: a blobstore holds no mutable state after open, so every
 * function may run concurrently on different threads (libuv threadpool
 * workers), also on the same blob: concurrent commits of the same bytes
 * both succeed. A writer (blobw) belongs to one thread at a time. Calls
 * block on disk I/O and fsync: never call them on an event loop thread.
 */
#ifndef LG_STORE_BLOBSTORE_H
#define LG_STORE_BLOBSTORE_H

#include <stddef.h>
#include <stdint.h>

#define BLOBSTORE_ID_LEN 64            /* hex characters of an id */
#define BLOBSTORE_PREFIX_MIN 8         /* shortest prefix resolved */
#define BLOBSTORE_META_MAX ((size_t)1 << 20) /* largest metadata, bytes */
#define BLOBSTORE_DIR_MAX 1024         /* longest DIR accepted, bytes */

typedef struct blobstore blobstore;
typedef struct blobw blobw;            /* one blob being written */

/* Open (create) dir; blobs above max_size bytes are refused. Removes
 * leftover temp files and metadata without a blob. */
int blobstore_open(const char *dir, uint64_t max_size, blobstore **out,
                   char *err, size_t errlen);
/* Safe on NULL. Every writer must have been committed or aborted. */
void blobstore_close(blobstore *s);

/* Start writing a blob of exactly size bytes. If expect_sha_hex is not
 * NULL (64 hex digits, either case) commit refuses other bytes. */
int blobstore_begin(blobstore *s, uint64_t size, const char *expect_sha_hex,
                    blobw **out, char *err, size_t errlen);
/* Append len bytes. Refuses (-EMSGSIZE, nothing written) bytes beyond
 * the declared size; the writer stays usable. After an I/O error the
 * writer only fails (commit reports it): abort it. */
int blobw_write(blobw *w, const void *buf, size_t len, char *err,
                size_t errlen);
/* Check the size and the SHA-256, make the blob durable under its id,
 * write that id (64 lower-case hex + NUL) into id_hex. Frees w whatever
 * the outcome; on an error nothing is left behind. */
int blobw_commit(blobw *w, char id_hex[BLOBSTORE_ID_LEN + 1], char *err,
                 size_t errlen);
/* Drop the temp file and free w. Safe on NULL. */
void blobw_abort(blobw *w);

/* DIR/<id> into buf. -EINVAL unless id is 64 lower-case hex digits,
 * -ENAMETOOLONG if buf is short. Does not look at the disk. */
int blobstore_path(const blobstore *s, const char *id_hex, char *buf,
                   size_t len);
/* Size of blob id (-ENOENT if it is not there). */
int blobstore_stat(const blobstore *s, const char *id_hex, uint64_t *size);
/* Remove blob id and its metadata, durably (-ENOENT if it was not there;
 * metadata is removed either way). */
int blobstore_remove(blobstore *s, const char *id_hex);
/* Call cb for every blob, in id order (taken from one listing of DIR).
 * cb returns 0 to go on; anything else stops the listing and is returned. */
int blobstore_list(blobstore *s,
                   int (*cb)(void *arg, const char *id_hex, uint64_t size),
                   void *arg);
/* The one blob whose id starts with prefix (BLOBSTORE_PREFIX_MIN to 64
 * hex digits, either case): -ENOENT none, -ENOTUNIQ several. */
int blobstore_resolve_prefix(blobstore *s, const char *prefix,
                             char id_hex[BLOBSTORE_ID_LEN + 1]);

/* Replace the metadata of blob id (which must exist) with len bytes
 * (len <= BLOBSTORE_META_MAX), durably. */
int blobstore_put_meta(blobstore *s, const char *id_hex, const void *buf,
                       size_t len, char *err, size_t errlen);
/* Read the metadata of blob id into a new buffer (*buf, free() it; one
 * NUL byte follows its *len bytes). -ENOENT if there is none, -EFBIG if
 * it is longer than max bytes. */
int blobstore_get_meta(blobstore *s, const char *id_hex, void **buf,
                       size_t *len, size_t max, char *err, size_t errlen);

#endif
