/*
 * inbox.h - delivery of completed objects at their destination, exactly
 * once, also across crashes.
 *
 * Owns one directory (DIR, created if missing):
 *   DIR/<32 hex object id>       a delivered object, whole and verified
 *   DIR/<32 hex object id>.tmp   a delivery in progress (removed at open)
 *   DIR/delivered.tsv            the delivery journal: one line per object,
 *       "unix_ms\tobjid_hex\tsize\tsha256_hex\tsrc\tname\n", src and name
 *       escaped (\\ \t \n \r and \xHH for other control bytes and DEL).
 * The file name is the object id only: names are untrusted and appear in
 * the journal, never in a path.
 *
 * An object is a set of chunks stored in the spool: chunk i is the spool
 * bundle ids[i]. As in lib/wire/chunk.h, chunk i holds bytes
 * [i * chunk_size, min((i + 1) * chunk_size, size)) of the object, and
 * those bytes are the LAST ones of its spool entry: the entry may be the
 * chunk's bytes alone or a whole stored wire frame (which ends with its
 * payload). With chunk_size 0 each entry is taken to be exactly its
 * chunk's bytes, in order. A single chunk holds the whole object.
 * inbox_deliver:
 *   1. checks that every chunk is in the spool and long enough, and that
 *      the chunks cover the object exactly (nothing is written otherwise);
 *   2. copies them in 1 MiB pieces (spool_read into one fixed buffer,
 *      never the whole object in memory) to DIR/<hex>.tmp while hashing;
 *   3. compares the SHA-256 with the object's (INBOX_ECHECKSUM on a
 *      mismatch: the .tmp is removed, nothing is delivered, the chunks
 *      stay in the spool);
 *   4. fsyncs the file, renames it to DIR/<hex>, fsyncs DIR;
 *   5. appends the journal line in one write and fdatasyncs it: from here
 *      on the object counts as delivered;
 *   6. deletes every chunk from the spool (SPOOL_DELIVERED, nosync) and
 *      makes that durable with one spool_sync.
 * A crash before 5 leaves no journal line: the chunks are still in the
 * spool and the delivery is done again (a .tmp is discarded, a renamed
 * file is overwritten with the same bytes). A crash after 5 leaves the
 * line: inbox_deliver for that object then skips to 6, never writing a
 * second line. So each object gets exactly one journal line.
 *
 * Chunks of an object delivered earlier that arrive again later (once the
 * spool's dedup memory forgot them) are removed by calling inbox_deliver
 * again: it deletes the ids given and returns INBOX_ALREADY.
 *
 * States of an object, as the inbox sees it: NOT DELIVERED (no line) ->
 * DELIVERED (line in the journal, chunks maybe still in the spool) ->
 * DONE (chunks gone; the inbox cannot tell this from DELIVERED and does
 * not need to). The inbox itself is OK or BROKEN: after a failed write or
 * fdatasync of the journal its state on disk is unknown, and it refuses
 * deliveries (-EIO) until reopened; reopening reads the journal again.
 *
 * The journal at open: every complete line is parsed (a line that does
 * not parse is corruption and fails the open with -EBADMSG, naming the
 * line, rather than risk a second delivery); an unterminated last line (a
 * torn append) is cut off and the cut made durable. The set of delivered
 * object ids is kept in memory (a hash set, as large as the journal).
 * An flock() on delivered.tsv keeps a second opener out.
 *
 * Errors: negative errno values with a message in err (-EINVAL misuse,
 * -ENOENT a chunk missing from the spool, -EBADMSG chunks that do not
 * cover the object (count, chunk_size, entry sizes) or a corrupt journal, -EBUSY another opener, -EIO after a
 * journal failure, -ENOMEM), spool errors as the spool gives them, and
 * INBOX_ECHECKSUM (the value of WIRE_ECHECKSUM) when the object's SHA-256
 * does not match.
 *
 * Threading: an inbox is not thread-safe and blocks on fsync: one thread
 * at a time, and the spool passed to inbox_deliver must not be used by
 * another thread meanwhile. The daemon uses it only on its store worker
 * (daemon/store.c, DSTORE_DELIVER / DSTORE_DELIVERED).
 */
#ifndef LG_STORE_INBOX_H
#define LG_STORE_INBOX_H

#include <stddef.h>
#include <stdint.h>

#include "spool.h"

#define INBOX_ECHECKSUM (-1101)     /* == WIRE_ECHECKSUM */
#define INBOX_ALREADY 1             /* inbox_deliver: was delivered before */
#define INBOX_ID_LEN 16
#define INBOX_SHA256_LEN 32
#define INBOX_NAME_MAX 256          /* name buffer: 255 bytes + NUL */
#define INBOX_PIECE ((size_t)1 << 20) /* copy buffer, bytes */
#define INBOX_LINE_MAX 4096         /* longest journal line accepted */

/* What the inbox needs to know of an object (from its chunks' bundles). */
typedef struct inbox_object {
    uint8_t object_id[INBOX_ID_LEN];    /* never all zero */
    uint64_t size;                      /* whole object, bytes */
    uint8_t sha256[INBOX_SHA256_LEN];   /* of the whole object */
    char src[SPOOL_NAME_MAX];           /* creating node (may be empty) */
    char name[INBOX_NAME_MAX];          /* untrusted; journal only */
    uint32_t chunk_count;               /* must equal n of inbox_deliver */
    uint64_t chunk_size;                /* bytes of each chunk but the
                                           last; 0: entries are the bare
                                           chunks (see above) */
} inbox_object;

typedef struct inbox inbox;

/* Open (create) dir, remove leftover .tmp files, read the journal. */
int inbox_open(inbox **out, const char *dir, char *err, size_t errlen);
/* Safe on NULL. */
void inbox_close(inbox *ib);

/* 1 if the object has a journal line, else 0. */
int inbox_delivered(const inbox *ib, const uint8_t object_id[INBOX_ID_LEN]);
/* Number of objects in the journal. */
size_t inbox_count(const inbox *ib);

/*
 * Deliver obj, whose chunk i is the spool bundle ids[i] (n ==
 * obj->chunk_count >= 1), as described above. Returns 0 when delivered
 * now, INBOX_ALREADY when the journal already had it (its chunks were
 * deleted now), or a negative error. If the object was delivered but
 * removing its chunks failed, the error is returned and
 * inbox_delivered() is 1: calling inbox_deliver again finishes the job.
 * If obj->src is not empty every chunk's spool source must equal it.
 */
int inbox_deliver(inbox *ib, spool *sp, const inbox_object *obj,
                  const uint8_t (*ids)[INBOX_ID_LEN], uint32_t n,
                  char *err, size_t errlen);

/* The journal's escaping of src and name into out (always terminated;
 * truncated at a whole escape if cap is short). Returns the length. */
size_t inbox_escape(const char *s, size_t maxlen, char *out, size_t cap);

#endif
