/*
 * chunk.h - objects (a serialized tensor, a partition, model weights) cut
 * into bundles of at most a chunk size, and put back together.
 *
 * Owns the chunking rules and the reassembler. Splitting is an iterator
 * over an object held in memory: nothing is copied, chunk i's payload
 * points into the object. Every chunk carries the object's id, size, SHA-256
 * and chunk count; chunk i is bytes [i * chunk, min((i + 1) * chunk,
 * size)). A bundle id is derived from (object id, chunk index), so a chunk
 * that is sent again after a crash has the same id and receivers dedupe it.
 *
 * The reassembler holds one object. Its size is checked against a cap
 * before anything is allocated; chunks may come in any order and more than
 * once (a duplicate must carry the same bytes); a chunk whose object
 * metadata disagrees with the first one's is refused; when the last chunk
 * is in, the bytes received must cover the object exactly and hash to its
 * SHA-256 (WIRE_ECHECKSUM otherwise, and the reassembler is then FAILED).
 *
 * Errors: -EBADMSG (a chunk that does not fit), -EFBIG (object above the
 * cap), WIRE_ECHECKSUM, -EINVAL (misuse), -ENOMEM.
 *
 * Threading: no globals; a splitter or reassembler is used by one thread.
 */
#ifndef LG_WIRE_CHUNK_H
#define LG_WIRE_CHUNK_H

#include <stddef.h>
#include <stdint.h>

#include "bundle.h"

#define WIRE_CHUNK_DEFAULT ((size_t)1 << 20) /* 1 MiB per bundle */

/* A split in progress; fill with wire_chunk_split_init. */
typedef struct wire_chunk_split {
    const uint8_t *obj;         /* the object, not owned */
    uint64_t size;              /* its size */
    size_t chunk;               /* bytes per chunk (the last may be less) */
    uint32_t count;             /* number of chunks */
    wire_bundle tmpl;           /* shared fields, object fields filled in */
} wire_chunk_split;

/*
 * Prepare to split size bytes at obj into chunks of chunk bytes (0 means
 * WIRE_CHUNK_DEFAULT). tmpl gives src, dst, times, priority, kind, name,
 * hops and object_id (which must not be all zero: see wire_bundle_new_id);
 * its id, payload and other chunk fields are ignored. Hashes the object
 * once. An empty object is one empty chunk.
 */
int wire_chunk_split_init(wire_chunk_split *s, const void *obj,
                          uint64_t size, size_t chunk,
                          const wire_bundle *tmpl, char *err, size_t errlen);

/* Number of chunks. */
uint32_t wire_chunk_split_count(const wire_chunk_split *s);

/* Chunk index as a sealed bundle (payload into the object, its SHA-256
 * computed). -ERANGE if index >= count. */
int wire_chunk_split_get(const wire_chunk_split *s, uint32_t index,
                         wire_bundle *out);

/* The id of chunk index of object object_id (what split_get puts in id). */
void wire_chunk_bundle_id(const uint8_t object_id[WIRE_ID_LEN],
                          uint32_t index, uint8_t id[WIRE_ID_LEN]);

typedef enum wire_chunk_state {
    WIRE_CHUNK_EMPTY = 0,       /* no chunk yet: object unknown */
    WIRE_CHUNK_FILLING,         /* some chunks in */
    WIRE_CHUNK_DONE,            /* all in, SHA-256 verified */
    WIRE_CHUNK_FAILED           /* all in, but the object did not verify */
} wire_chunk_state;

typedef struct wire_chunk_asm wire_chunk_asm;

/* A reassembler for one object of at most max_object bytes (at most
 * WIRE_OBJECT_MAX; -EINVAL otherwise). */
int wire_chunk_asm_new(wire_chunk_asm **out, uint64_t max_object,
                       char *err, size_t errlen);

/*
 * Add one chunk (a decoded, verified bundle; its payload is copied). 0:
 * more chunks needed (or a harmless duplicate); 1: the object is complete
 * and verified (further duplicates also return 1); negative: this chunk is
 * refused (the reassembler is unchanged), or the object failed its check
 * (WIRE_ECHECKSUM or -EBADMSG, and the state is FAILED for good).
 */
int wire_chunk_asm_add(wire_chunk_asm *a, const wire_bundle *b, char *err,
                       size_t errlen);

wire_chunk_state wire_chunk_asm_state(const wire_chunk_asm *a);

/* Chunks still missing (0 before the first chunk). */
uint32_t wire_chunk_asm_missing(const wire_chunk_asm *a);

/* The object once DONE (NULL before): valid until free or take. */
const uint8_t *wire_chunk_asm_data(const wire_chunk_asm *a, uint64_t *size);

/* Hand the DONE object's buffer to the caller (free() it); NULL if not
 * DONE. The reassembler keeps its state but no longer its data. */
uint8_t *wire_chunk_asm_take(wire_chunk_asm *a, uint64_t *size);

/* Idempotent on NULL. */
void wire_chunk_asm_free(wire_chunk_asm *a);

#endif
