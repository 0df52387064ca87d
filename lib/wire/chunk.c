/*
 * chunk.c - object splitting and reassembly (see chunk.h).
 *
 * Memory: the reassembler allocates the object (at most its cap) and a
 * bitmap of one bit per chunk when the first chunk arrives; a chunk
 * carries at least one byte (wire_bundle_validate), so the bitmap is at
 * most an eighth of the object. Both come from calloc, which for large
 * sizes maps zero pages lazily: a peer that announces a big object and
 * sends one chunk does not make us touch the whole cap.
 *
 * Threading: no globals.
 */
#include "chunk.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "frame.h"
#include "lgerr.h"

struct wire_chunk_asm {
    wire_chunk_state state;     /* see wire_chunk_state */
    uint64_t max;               /* cap on object_size */
    uint8_t object_id[WIRE_ID_LEN];         /* fixed by the first chunk */
    uint8_t object_sha256[WIRE_SHA256_LEN]; /* fixed by the first chunk */
    uint64_t size;              /* object_size of the first chunk */
    uint32_t count;             /* chunk_count of the first chunk */
    uint32_t have;              /* distinct chunks in */
    uint64_t covered;           /* payload bytes of distinct chunks */
    uint8_t *data;              /* the object being filled */
    uint8_t *seen;              /* bitmap, one bit per chunk */
};

static const uint8_t *nonnull(const void *p)
{
    static const uint8_t empty[1];
    return p ? p : empty;
}

void wire_chunk_bundle_id(const uint8_t object_id[WIRE_ID_LEN],
                          uint32_t index, uint8_t id[WIRE_ID_LEN])
{
    static const char tag[] = "lagrange.v1 chunk id";
    uint8_t in[sizeof tag - 1 + WIRE_ID_LEN + 4], md[WIRE_SHA256_LEN];
    memcpy(in, tag, sizeof tag - 1);
    memcpy(in + sizeof tag - 1, object_id, WIRE_ID_LEN);
    in[sizeof in - 4] = (uint8_t)(index >> 24);
    in[sizeof in - 3] = (uint8_t)(index >> 16);
    in[sizeof in - 2] = (uint8_t)(index >> 8);
    in[sizeof in - 1] = (uint8_t)index;
    SHA256(in, sizeof in, md);
    memcpy(id, md, WIRE_ID_LEN);
}

int wire_chunk_split_init(wire_chunk_split *s, const void *obj,
                          uint64_t size, size_t chunk,
                          const wire_bundle *tmpl, char *err, size_t errlen)
{
    uint64_t count;
    int rc;
    static const uint8_t zero[WIRE_ID_LEN];

    memset(s, 0, sizeof *s);
    if (chunk == 0)
        chunk = WIRE_CHUNK_DEFAULT;
    if (chunk > WIRE_FRAME_LIMIT)
        return lg_errf(err, errlen, -EINVAL, "chunk size %zu exceeds the "
                       "frame limit %lu", chunk,
                       (unsigned long)WIRE_FRAME_LIMIT);
    if (size > WIRE_OBJECT_MAX)
        return lg_errf(err, errlen, -EFBIG, "object of %llu bytes exceeds "
                       "the limit %llu", (unsigned long long)size,
                       (unsigned long long)WIRE_OBJECT_MAX);
    if (size > SIZE_MAX || (!obj && size))
        return lg_errf(err, errlen, -EINVAL, "object of %llu bytes is not "
                       "in memory", (unsigned long long)size);
    if (memcmp(tmpl->object_id, zero, WIRE_ID_LEN) == 0)
        return lg_errf(err, errlen, -EINVAL, "object_id is all zero");
    count = size ? (size - 1) / chunk + 1 : 1;
    if (count > UINT32_MAX)
        return lg_errf(err, errlen, -EINVAL, "%llu chunks are too many",
                       (unsigned long long)count);
    s->obj = obj;
    s->size = size;
    s->chunk = chunk;
    s->count = (uint32_t)count;
    s->tmpl = *tmpl;
    s->tmpl.object_size = size;
    s->tmpl.chunk_count = s->count;
    SHA256(nonnull(obj), (size_t)size, s->tmpl.object_sha256);
    /* Validate the shared fields once, on chunk 0. */
    {
        wire_bundle b;
        if ((rc = wire_chunk_split_get(s, 0, &b)) < 0 ||
            (rc = wire_bundle_validate(&b, err, errlen)) < 0) {
            memset(s, 0, sizeof *s);
            return rc;
        }
    }
    return 0;
}

uint32_t wire_chunk_split_count(const wire_chunk_split *s)
{
    return s->count;
}

int wire_chunk_split_get(const wire_chunk_split *s, uint32_t index,
                         wire_bundle *out)
{
    uint64_t off;
    if (index >= s->count)
        return -ERANGE;
    off = (uint64_t)index * s->chunk;
    *out = s->tmpl;
    out->chunk_index = index;
    out->offset = off;
    out->payload = s->size ? s->obj + off : NULL;
    out->payload_len = (size_t)(s->size - off < s->chunk ? s->size - off
                                                         : s->chunk);
    wire_chunk_bundle_id(s->tmpl.object_id, index, out->id);
    wire_bundle_seal(out);
    return 0;
}

/* --------------------------------------------------------- reassembly */

int wire_chunk_asm_new(wire_chunk_asm **out, uint64_t max_object,
                       char *err, size_t errlen)
{
    wire_chunk_asm *a;
    *out = NULL;
    if (max_object > WIRE_OBJECT_MAX || max_object > SIZE_MAX)
        return lg_errf(err, errlen, -EINVAL, "object cap %llu exceeds %llu",
                       (unsigned long long)max_object,
                       (unsigned long long)WIRE_OBJECT_MAX);
    if (!(a = calloc(1, sizeof *a)))
        return lg_errf(err, errlen, -ENOMEM, "out of memory");
    a->max = max_object;
    *out = a;
    return 0;
}

static int bit(const uint8_t *map, uint32_t i)
{
    return map[i >> 3] >> (i & 7) & 1;
}

/* The first chunk fixes the object: check the cap, then allocate. */
static int start(wire_chunk_asm *a, const wire_bundle *b, char *err,
                 size_t errlen)
{
    char hex[2 * WIRE_ID_LEN + 1];
    if (b->object_size > a->max) {
        wire_bundle_id_hex(b->object_id, hex);
        return lg_errf(err, errlen, -EFBIG, "object %s: %llu bytes exceed "
                       "the cap %llu", hex,
                       (unsigned long long)b->object_size,
                       (unsigned long long)a->max);
    }
    a->data = calloc(1, b->object_size ? (size_t)b->object_size : 1);
    a->seen = calloc(1, ((size_t)b->chunk_count + 7) / 8);
    if (!a->data || !a->seen) {
        free(a->data);
        free(a->seen);
        a->data = a->seen = NULL;
        return lg_errf(err, errlen, -ENOMEM, "out of memory for a %llu-byte "
                       "object", (unsigned long long)b->object_size);
    }
    memcpy(a->object_id, b->object_id, WIRE_ID_LEN);
    memcpy(a->object_sha256, b->object_sha256, WIRE_SHA256_LEN);
    a->size = b->object_size;
    a->count = b->chunk_count;
    a->state = WIRE_CHUNK_FILLING;
    return 0;
}

/* All chunks in: coverage, then the object's SHA-256. */
static int finish(wire_chunk_asm *a, char *err, size_t errlen)
{
    uint8_t md[WIRE_SHA256_LEN];
    char hex[2 * WIRE_ID_LEN + 1];
    wire_bundle_id_hex(a->object_id, hex);
    free(a->seen);
    a->seen = NULL;
    a->state = WIRE_CHUNK_FAILED;
    if (a->covered != a->size)
        return lg_errf(err, errlen, -EBADMSG, "object %s: its %lu chunks "
                       "carry %llu bytes, the object has %llu", hex,
                       (unsigned long)a->count,
                       (unsigned long long)a->covered,
                       (unsigned long long)a->size);
    SHA256(a->data, (size_t)a->size, md);
    if (memcmp(md, a->object_sha256, WIRE_SHA256_LEN) != 0)
        return lg_errf(err, errlen, WIRE_ECHECKSUM, "object %s: sha256 "
                       "mismatch after reassembly (%llu bytes, %lu chunks)",
                       hex, (unsigned long long)a->size,
                       (unsigned long)a->count);
    a->state = WIRE_CHUNK_DONE;
    return 1;
}

int wire_chunk_asm_add(wire_chunk_asm *a, const wire_bundle *b, char *err,
                       size_t errlen)
{
    char hex[2 * WIRE_ID_LEN + 1];
    int rc;

    if ((rc = wire_bundle_validate(b, err, errlen)) < 0)
        return rc;
    if (b->chunk_count == 0)
        return lg_errf(err, errlen, -EBADMSG, "bundle is not a chunk "
                       "(chunk_count 0)");
    if (a->state == WIRE_CHUNK_FAILED)
        return lg_errf(err, errlen, -EINVAL, "object already failed");
    if (a->state == WIRE_CHUNK_EMPTY &&
        (rc = start(a, b, err, errlen)) < 0)
        return rc;
    wire_bundle_id_hex(a->object_id, hex);
    if (memcmp(b->object_id, a->object_id, WIRE_ID_LEN) != 0)
        return lg_errf(err, errlen, -EBADMSG, "chunk of another object "
                       "(assembling %s)", hex);
    if (b->object_size != a->size || b->chunk_count != a->count ||
        memcmp(b->object_sha256, a->object_sha256, WIRE_SHA256_LEN) != 0)
        return lg_errf(err, errlen, -EBADMSG, "object %s: chunk %lu says "
                       "%llu bytes in %lu chunks, earlier chunks said %llu "
                       "bytes in %lu chunks%s", hex,
                       (unsigned long)b->chunk_index,
                       (unsigned long long)b->object_size,
                       (unsigned long)b->chunk_count,
                       (unsigned long long)a->size, (unsigned long)a->count,
                       b->object_size == a->size && b->chunk_count == a->count
                           ? " but another sha256" : "");
    /* validate() put [offset, offset + len) inside object_size. */
    if (a->state == WIRE_CHUNK_DONE || bit(a->seen, b->chunk_index)) {
        if (b->payload_len && a->data &&
            memcmp(a->data + b->offset, b->payload, b->payload_len) != 0)
            return lg_errf(err, errlen, -EBADMSG, "object %s: chunk %lu "
                           "arrived again with other bytes", hex,
                           (unsigned long)b->chunk_index);
        return a->state == WIRE_CHUNK_DONE ? 1 : 0;
    }
    if (b->payload_len)
        memcpy(a->data + b->offset, b->payload, b->payload_len);
    a->seen[b->chunk_index >> 3] |= (uint8_t)(1u << (b->chunk_index & 7));
    a->have++;
    a->covered += b->payload_len;
    if (a->have < a->count)
        return 0;
    return finish(a, err, errlen);
}

wire_chunk_state wire_chunk_asm_state(const wire_chunk_asm *a)
{
    return a->state;
}

uint32_t wire_chunk_asm_missing(const wire_chunk_asm *a)
{
    return a->count - a->have;
}

const uint8_t *wire_chunk_asm_data(const wire_chunk_asm *a, uint64_t *size)
{
    if (a->state != WIRE_CHUNK_DONE)
        return NULL;
    if (size)
        *size = a->size;
    return a->data;
}

uint8_t *wire_chunk_asm_take(wire_chunk_asm *a, uint64_t *size)
{
    uint8_t *d;
    if (a->state != WIRE_CHUNK_DONE || !a->data)
        return NULL;
    d = a->data;
    a->data = NULL;
    if (size)
        *size = a->size;
    return d;
}

void wire_chunk_asm_free(wire_chunk_asm *a)
{
    if (!a)
        return;
    free(a->data);
    free(a->seen);
    free(a);
}
