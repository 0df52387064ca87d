/*
 * bundle.c - frame bodies <-> wire_msg: validation of every received
 * field, zero-copy decoding of bundle payloads, and the encoders (see
 * bundle.h for the contract).
 *
 * How a frame is decoded. A small scanner walks the raw protobuf fields
 * first (no allocation): it finds the one body of the Frame, caps repeated
 * and unknown fields (so that protobuf-c's per-element allocations stay
 * proportional to what we allow, not to the frame size), refuses NUL bytes
 * in strings (protobuf-c would silently cut the string there) and, in a
 * Bundle, finds the payload field. Only then does protobuf-c unpack the
 * body - for a Bundle, the body without its payload field, which is legal
 * protobuf because fields may come in any order. Our encoder writes the
 * payload last, so the metadata is one contiguous slice and is unpacked in
 * place; from an encoder that writes fields in number order (Python, C++)
 * the few hundred bytes of metadata are copied into a scratch buffer. The
 * payload itself is never copied: the wire_bundle points into the body.
 *
 * Threading: no globals; thread-safe.
 */
#include "bundle.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>
#include <openssl/sha.h>

#include "frame.h"
#include "lgerr.h"
#include "lagrange/v1/wire.pb-c.h"

/* ----------------------------------------------------------- raw scan */

enum { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_I32 = 5 };

#define MAX_FIELDS 64           /* fields per message beyond the repeated */
#define MAX_RULES 8

/* One protobuf field as it lies in the buffer. */
typedef struct pbf {
    uint32_t num;               /* field number */
    unsigned wt;                /* wire type */
    const uint8_t *start;       /* first byte of its tag */
    const uint8_t *val;         /* WT_LEN: first byte of the value */
    size_t len;                 /* WT_LEN: value length */
    const uint8_t *end;         /* one past the field */
} pbf;

/* What the scanner enforces for one field number. */
typedef struct rule {
    uint32_t num;               /* field number */
    const char *name;           /* for messages */
    unsigned text;              /* a string: no NUL bytes */
    unsigned maxcount;          /* occurrences allowed (0: any) */
} rule;

typedef struct scan_out {
    unsigned count[MAX_RULES];  /* occurrences per rule */
    pbf last[MAX_RULES];        /* the last occurrence per rule */
} scan_out;

static int get_varint(const uint8_t **pp, const uint8_t *end, uint64_t *v)
{
    const uint8_t *p = *pp;
    uint64_t x = 0;
    for (unsigned i = 0; i < 10; i++) {
        uint8_t c;
        if (p >= end)
            return -1;
        c = *p++;
        if (i == 9 && c > 1)
            return -1;          /* more than 64 bits */
        x |= (uint64_t)(c & 0x7f) << (7 * i);
        if (!(c & 0x80)) {
            *pp = p;
            *v = x;
            return 0;
        }
    }
    return -1;
}

/* Next field at *pp: 1 (f filled), 0 (end), -1 (malformed, *why set). */
static int pb_next(const uint8_t **pp, const uint8_t *end, pbf *f,
                   const char **why)
{
    const uint8_t *p = *pp;
    uint64_t tag, v;

    if (p >= end)
        return 0;
    memset(f, 0, sizeof *f);
    f->start = p;
    if (get_varint(&p, end, &tag) < 0 || tag > UINT32_MAX) {
        *why = "bad tag";
        return -1;
    }
    f->num = (uint32_t)(tag >> 3);
    f->wt = (unsigned)(tag & 7);
    if (f->num == 0) {
        *why = "field number 0";
        return -1;
    }
    switch (f->wt) {
    case WT_VARINT:
        if (get_varint(&p, end, &v) < 0) {
            *why = "truncated or overlong varint";
            return -1;
        }
        break;
    case WT_I64:
    case WT_I32: {
        size_t n = f->wt == WT_I64 ? 8 : 4;
        if ((size_t)(end - p) < n) {
            *why = "truncated fixed-width field";
            return -1;
        }
        p += n;
        break;
    }
    case WT_LEN:
        if (get_varint(&p, end, &v) < 0) {
            *why = "bad length";
            return -1;
        }
        if (v > (uint64_t)(end - p)) {
            *why = "length runs past the end";
            return -1;
        }
        f->val = p;
        f->len = (size_t)v;
        p += v;
        break;
    default:
        *why = "unsupported wire type (groups?)";
        return -1;
    }
    f->end = p;
    *pp = p;
    return 1;
}

/* Walk a message of n bytes at p, applying rules; maxf caps the number of
 * fields that no rule limits (known or unknown). */
static int scan(const char *what, const uint8_t *p, size_t n,
                const rule *rules, size_t nrules, unsigned maxf,
                scan_out *s, char *err, size_t errlen)
{
    const uint8_t *base = p, *end = p + n;
    const char *why = "";
    unsigned other = 0;
    pbf f;
    int rc;

    memset(s, 0, sizeof *s);
    while ((rc = pb_next(&p, end, &f, &why)) > 0) {
        size_t i;
        for (i = 0; i < nrules && rules[i].num != f.num; i++)
            ;
        if (i == nrules || !rules[i].maxcount) {
            if (++other > maxf)
                return lg_errf(err, errlen, -EBADMSG,
                               "%s: more than %u fields", what, maxf);
        }
        if (i == nrules)
            continue;
        s->count[i]++;
        s->last[i] = f;
        if (rules[i].maxcount && s->count[i] > rules[i].maxcount)
            return lg_errf(err, errlen, -EBADMSG,
                           "%s: more than %u %s", what, rules[i].maxcount,
                           rules[i].name);
        if (rules[i].text && f.wt == WT_LEN && f.len > 0 &&
            memchr(f.val, 0, f.len))
            return lg_errf(err, errlen, -EBADMSG,
                           "%s: %s contains a NUL byte", what,
                           rules[i].name);
    }
    if (rc < 0)
        return lg_errf(err, errlen, -EBADMSG,
                       "%s: malformed protobuf: %s at byte %zu", what, why,
                       (size_t)(f.start - base));
    return 0;
}

/* ---------------------------------------------------------- text rules */

static int node_char(int c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
           (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

/* 1..max-1 bytes of [A-Za-z0-9._-]; s may lack a NUL within max. */
static int token_ok(const char *s, size_t max)
{
    size_t n = strnlen(s, max);
    if (n == 0 || n >= max)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!node_char((unsigned char)s[i]))
            return 0;
    return 1;
}

int wire_bundle_node_ok(const char *name)
{
    return name && token_ok(name, WIRE_NODE_MAX);
}

int wire_text_ok(const char *str, size_t max)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t n = strnlen(str, max), i = 0;
    if (n >= max)
        return 0;
    while (i < n) {
        unsigned c = s[i], need;
        uint32_t cp, min;
        if (c < 0x80) {
            if (c < 0x20 || c == 0x7f)
                return 0;
            i++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf) {
            need = 1;
            cp = c & 0x1f;
            min = 0x80;
        } else if (c >= 0xe0 && c <= 0xef) {
            need = 2;
            cp = c & 0x0f;
            min = 0x800;
        } else if (c >= 0xf0 && c <= 0xf4) {
            need = 3;
            cp = c & 0x07;
            min = 0x10000;
        } else {
            return 0;
        }
        if (n - i <= need)
            return 0;
        for (unsigned k = 1; k <= need; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return 0;
            cp = cp << 6 | (s[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        i += need + 1;
    }
    return 1;
}

/* A printable, bounded copy of untrusted text for an error message. */
static const char *clean(const char *s, char out[72])
{
    size_t i;
    for (i = 0; i < 64 && s[i]; i++)
        out[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
    if (i == 64 && s[i]) {
        memcpy(out + i, "...", 4);
        return out;
    }
    out[i] = '\0';
    return out;
}

/* ---------------------------------------------------------- helpers */

void wire_bundle_id_hex(const uint8_t id[WIRE_ID_LEN],
                        char hex[2 * WIRE_ID_LEN + 1])
{
    static const char dig[] = "0123456789abcdef";
    for (int i = 0; i < WIRE_ID_LEN; i++) {
        hex[2 * i] = dig[id[i] >> 4];
        hex[2 * i + 1] = dig[id[i] & 15];
    }
    hex[2 * WIRE_ID_LEN] = '\0';
}

int wire_bundle_new_id(uint8_t id[WIRE_ID_LEN])
{
    return RAND_bytes(id, WIRE_ID_LEN) == 1 ? 0 : -EIO;
}

static const uint8_t *nonnull(const uint8_t *p)
{
    static const uint8_t empty[1];
    return p ? p : empty;
}

void wire_bundle_seal(wire_bundle *b)
{
    SHA256(nonnull(b->payload), b->payload_len, b->payload_sha256);
}

static int all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return 0;
    return 1;
}

/* "bundle <id>: <detail>" with code. */
static int bundle_errf(const wire_bundle *b, char *err, size_t errlen,
                       int code, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static int bundle_errf(const wire_bundle *b, char *err, size_t errlen,
                       int code, const char *fmt, ...)
{
    char hex[2 * WIRE_ID_LEN + 1], what[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    wire_bundle_id_hex(b->id, hex);
    return lg_errf(err, errlen, code, "bundle %s: %s", hex, what);
}

#define bad_bundle(b, err, errlen, ...) \
    bundle_errf(b, err, errlen, -EBADMSG, __VA_ARGS__)

int wire_bundle_verify(const wire_bundle *b, char *err, size_t errlen)
{
    uint8_t got[WIRE_SHA256_LEN];
    char hex[2 * WIRE_ID_LEN + 1];
    SHA256(nonnull(b->payload), b->payload_len, got);
    if (memcmp(got, b->payload_sha256, WIRE_SHA256_LEN) == 0)
        return 0;
    wire_bundle_id_hex(b->id, hex);
    return lg_errf(err, errlen, WIRE_ECHECKSUM,
                   "bundle %s: payload sha256 mismatch (%zu bytes; "
                   "sha256 %02x%02x%02x%02x..., header says "
                   "%02x%02x%02x%02x...)", hex, b->payload_len, got[0],
                   got[1], got[2], got[3], b->payload_sha256[0],
                   b->payload_sha256[1], b->payload_sha256[2],
                   b->payload_sha256[3]);
}

int wire_bundle_validate(const wire_bundle *b, char *err, size_t errlen)
{
    char c[72];
    if (!token_ok(b->src, WIRE_NODE_MAX))
        return bad_bundle(b, err, errlen, "src '%s' is not a node id "
                          "(1-63 bytes of [A-Za-z0-9._-])",
                          clean(b->src, c));
    if (!token_ok(b->dst, WIRE_NODE_MAX))
        return bad_bundle(b, err, errlen, "dst '%s' is not a node id "
                          "(1-63 bytes of [A-Za-z0-9._-])",
                          clean(b->dst, c));
    if ((int)b->kind < WIRE_KIND_TENSOR_CHUNK ||
        (int)b->kind > WIRE_KIND_CONTROL)
        return bad_bundle(b, err, errlen, "unknown kind %d", (int)b->kind);
    if (b->priority > WIRE_PRIO_MAX)
        return bad_bundle(b, err, errlen, "priority %lu is above %d",
                          (unsigned long)b->priority, WIRE_PRIO_MAX);
    if (b->hops > WIRE_HOPS_MAX)
        return bad_bundle(b, err, errlen, "hops %lu is above %d",
                          (unsigned long)b->hops, WIRE_HOPS_MAX);
    if (b->lifetime_ms > UINT64_MAX - b->created_unix_ms)
        return bad_bundle(b, err, errlen,
                          "created_unix_ms + lifetime_ms overflows");
    if (b->job[0] && !token_ok(b->job, WIRE_JOB_MAX))
        return bad_bundle(b, err, errlen, "job '%s' is not a job tag "
                          "(1-%d bytes of [A-Za-z0-9._-])",
                          strnlen(b->job, WIRE_JOB_MAX) < WIRE_JOB_MAX ?
                          clean(b->job, c) : "(too long)", WIRE_JOB_MAX - 1);
    if (!b->job[0] && b->job_epoch)
        return bad_bundle(b, err, errlen, "job_epoch %lu set on a bundle "
                          "of no job", (unsigned long)b->job_epoch);
    if (!wire_text_ok(b->name, WIRE_NAME_MAX))
        return bad_bundle(b, err, errlen, "name '%s' is not text (at most "
                          "%d bytes of UTF-8 without control characters)",
                          strnlen(b->name, WIRE_NAME_MAX) < WIRE_NAME_MAX ?
                          clean(b->name, c) : "(unterminated)",
                          WIRE_NAME_MAX - 1);
    if (!b->payload && b->payload_len > 0)
        return bad_bundle(b, err, errlen, "payload_len %zu with no payload",
                          b->payload_len);
    if (b->payload_len > WIRE_FRAME_LIMIT)
        return bad_bundle(b, err, errlen, "payload of %zu bytes exceeds "
                          "the frame limit %lu", b->payload_len,
                          (unsigned long)WIRE_FRAME_LIMIT);
    if (b->chunk_count == 0) {
        if (b->chunk_index || b->offset || b->object_size ||
            !all_zero(b->object_id, WIRE_ID_LEN) ||
            !all_zero(b->object_sha256, WIRE_SHA256_LEN))
            return bad_bundle(b, err, errlen, "chunk fields set on a "
                              "bundle that is not chunked (chunk_count 0)");
        return 0;
    }
    if (b->chunk_index >= b->chunk_count)
        return bad_bundle(b, err, errlen,
                          "chunk_index %lu is not below chunk_count %lu",
                          (unsigned long)b->chunk_index,
                          (unsigned long)b->chunk_count);
    if (b->object_size > WIRE_OBJECT_MAX)
        return bad_bundle(b, err, errlen, "object_size %llu exceeds the "
                          "limit %llu", (unsigned long long)b->object_size,
                          (unsigned long long)WIRE_OBJECT_MAX);
    if (b->offset > b->object_size ||
        b->payload_len > b->object_size - b->offset)
        return bad_bundle(b, err, errlen, "chunk at offset %llu with %zu "
                          "bytes lies outside the %llu-byte object",
                          (unsigned long long)b->offset, b->payload_len,
                          (unsigned long long)b->object_size);
    if (b->chunk_count > (b->object_size ? b->object_size : 1))
        return bad_bundle(b, err, errlen, "chunk_count %lu for a %llu-byte "
                          "object (a chunk carries at least one byte)",
                          (unsigned long)b->chunk_count,
                          (unsigned long long)b->object_size);
    return 0;
}

/* ------------------------------------------------------------ encoding */

static size_t varint_len(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static uint8_t *put_varint(uint8_t *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

/* b's metadata as a protobuf-c message pointing into b (no payload).
 * protobuf-c's structs are not const-correct; packing only reads them. */
static void bundle_to_pb(const wire_bundle *b, Lagrange__V1__Bundle *pb)
{
    lagrange__v1__bundle__init(pb);
    pb->id.len = WIRE_ID_LEN;
    pb->id.data = (uint8_t *)b->id;
    pb->src = (char *)b->src;
    pb->dst = (char *)b->dst;
    pb->created_unix_ms = b->created_unix_ms;
    pb->lifetime_ms = b->lifetime_ms;
    pb->priority = b->priority;
    pb->kind = (Lagrange__V1__Bundle__Kind)b->kind;
    pb->payload_sha256.len = WIRE_SHA256_LEN;
    pb->payload_sha256.data = (uint8_t *)b->payload_sha256;
    pb->name = (char *)b->name;
    pb->hops = b->hops;
    pb->job = (char *)b->job;
    pb->job_epoch = b->job_epoch;
    if (b->chunk_count) {
        pb->object_id.len = WIRE_ID_LEN;
        pb->object_id.data = (uint8_t *)b->object_id;
        pb->object_size = b->object_size;
        pb->offset = b->offset;
        pb->chunk_index = b->chunk_index;
        pb->chunk_count = b->chunk_count;
        pb->object_sha256.len = WIRE_SHA256_LEN;
        pb->object_sha256.data = (uint8_t *)b->object_sha256;
    }
}

/* Sizes of a valid b's frame: metadata, Bundle message, Frame body. */
typedef struct bsize {
    size_t meta, blen, body, head;
} bsize;

static void bundle_sizes(const wire_bundle *b, Lagrange__V1__Bundle *pb,
                         bsize *z)
{
    size_t pfield = 0;
    bundle_to_pb(b, pb);
    z->meta = protobuf_c_message_get_packed_size(&pb->base);
    if (b->payload_len)
        pfield = 1 + varint_len(b->payload_len) + b->payload_len;
    z->blen = z->meta + pfield;
    z->body = 1 + varint_len(z->blen) + z->blen;
    z->head = WIRE_FRAME_HDR + 1 + varint_len(z->blen) + z->meta +
              (b->payload_len ? 1 + varint_len(b->payload_len) : 0);
}

size_t wire_bundle_frame_size(const wire_bundle *b)
{
    Lagrange__V1__Bundle pb;
    bsize z;
    if (wire_bundle_validate(b, NULL, 0) < 0)
        return 0;
    bundle_sizes(b, &pb, &z);
    return WIRE_FRAME_HDR + z.body;
}

int wire_bundle_encode_head(const wire_bundle *b, uint32_t max,
                            uint8_t *head, size_t cap, size_t *headlen,
                            size_t *framelen, char *err, size_t errlen)
{
    Lagrange__V1__Bundle pb;
    uint32_t lim = max < WIRE_FRAME_LIMIT ? max : WIRE_FRAME_LIMIT;
    uint8_t *p;
    bsize z;
    int rc = wire_bundle_validate(b, err, errlen);
    if (rc < 0)
        return rc;
    bundle_sizes(b, &pb, &z);
    *headlen = z.head;
    *framelen = WIRE_FRAME_HDR + z.body;
    if (z.body > lim)
        return bundle_errf(b, err, errlen, -EMSGSIZE, "frame of %zu bytes "
                           "exceeds the maximum %lu", z.body,
                           (unsigned long)lim);
    if (cap < z.head)
        return lg_errf(err, errlen, -ENOBUFS, "bundle frame head needs %zu "
                       "bytes, buffer has %zu", z.head, cap);
    wire_frame_put_len(head, (uint32_t)z.body);
    p = head + WIRE_FRAME_HDR;
    *p++ = 2 << 3 | WT_LEN;                     /* Frame.bundle */
    p = put_varint(p, z.blen);
    p += protobuf_c_message_pack(&pb.base, p);
    if (b->payload_len) {
        *p++ = 8 << 3 | WT_LEN;                 /* Bundle.payload */
        p = put_varint(p, b->payload_len);
    }
    if ((size_t)(p - head) != z.head)
        return lg_errf(err, errlen, -EINVAL, "bundle head packed to %zu "
                       "bytes, expected %zu", (size_t)(p - head), z.head);
    return 0;
}

static int hello_validate(const wire_hello *h, char *err, size_t errlen)
{
    char c[72];
    if (!token_ok(h->node_id, WIRE_NODE_MAX))
        return lg_errf(err, errlen, -EBADMSG, "hello: node_id '%s' is not "
                       "a node id (1-63 bytes of [A-Za-z0-9._-])",
                       strnlen(h->node_id, WIRE_NODE_MAX) < WIRE_NODE_MAX ?
                       clean(h->node_id, c) : "(unterminated)");
    if (h->ncaps > WIRE_CAPS_MAX)
        return lg_errf(err, errlen, -EBADMSG, "hello from %s: %zu "
                       "capabilities, at most %d", h->node_id, h->ncaps,
                       WIRE_CAPS_MAX);
    for (size_t i = 0; i < h->ncaps; i++)
        if (!token_ok(h->caps[i], WIRE_CAP_MAX))
            return lg_errf(err, errlen, -EBADMSG, "hello from %s: "
                           "capability %zu is not 1-%d bytes of "
                           "[A-Za-z0-9._-]", h->node_id, i, WIRE_CAP_MAX - 1);
    if (h->max_frame < WIRE_HELLO_MIN_FRAME)
        return lg_errf(err, errlen, -EBADMSG, "hello from %s: max_frame "
                       "%lu is below %u", h->node_id,
                       (unsigned long)h->max_frame, WIRE_HELLO_MIN_FRAME);
    return 0;
}

static int goodbye_validate(const wire_goodbye *g, char *err, size_t errlen)
{
    if (!wire_text_ok(g->reason, WIRE_REASON_MAX))
        return lg_errf(err, errlen, -EBADMSG, "goodbye: reason is not text "
                       "(at most %d bytes of UTF-8 without control "
                       "characters)", WIRE_REASON_MAX - 1);
    return 0;
}

/* Build the Frame for a non-bundle message and pack it (into buf, or into
 * a new buffer when out is set). */
static int encode_session(const wire_msg *m, uint32_t max, uint8_t *buf,
                          size_t cap, uint8_t **out, size_t *outlen,
                          char *err, size_t errlen)
{
    Lagrange__V1__Frame f = LAGRANGE__V1__FRAME__INIT;
    Lagrange__V1__Hello h = LAGRANGE__V1__HELLO__INIT;
    Lagrange__V1__Ack a = LAGRANGE__V1__ACK__INIT;
    Lagrange__V1__Heartbeat hb = LAGRANGE__V1__HEARTBEAT__INIT;
    Lagrange__V1__Goodbye g = LAGRANGE__V1__GOODBYE__INIT;
    char *caps[WIRE_CAPS_MAX];
    ProtobufCBinaryData ids[WIRE_ACK_MAX];
    Lagrange__V1__NodeHealth *nh = NULL, **nhp = NULL;
    int rc;

    switch (m->type) {
    case WIRE_MSG_HELLO:
        if ((rc = hello_validate(&m->u.hello, err, errlen)) < 0)
            return rc;
        h.node_id = (char *)m->u.hello.node_id;
        h.version = m->u.hello.version;
        h.max_frame = m->u.hello.max_frame;
        for (size_t i = 0; i < m->u.hello.ncaps; i++)
            caps[i] = (char *)m->u.hello.caps[i];
        h.n_capabilities = m->u.hello.ncaps;
        h.capabilities = caps;
        f.body_case = LAGRANGE__V1__FRAME__BODY_HELLO;
        f.hello = &h;
        break;
    case WIRE_MSG_ACK:
        if (m->u.ack.n > WIRE_ACK_MAX)
            return lg_errf(err, errlen, -EBADMSG, "ack: %zu ids, at most %d",
                           m->u.ack.n, WIRE_ACK_MAX);
        for (size_t i = 0; i < m->u.ack.n; i++) {
            ids[i].len = WIRE_ID_LEN;
            ids[i].data = (uint8_t *)m->u.ack.ids[i];
        }
        a.n_ids = m->u.ack.n;
        a.ids = ids;
        f.body_case = LAGRANGE__V1__FRAME__BODY_ACK;
        f.ack = &a;
        break;
    case WIRE_MSG_HEARTBEAT: {
        const wire_heartbeat *w = &m->u.heartbeat;
        if (w->n_health > WIRE_HEALTH_MAX)
            return lg_errf(err, errlen, -EBADMSG, "heartbeat: %zu health "
                           "records, at most %d", w->n_health,
                           WIRE_HEALTH_MAX);
        for (size_t i = 0; i < w->n_health; i++)
            if ((rc = wire_health_validate(&w->health[i], err, errlen)) < 0)
                return rc;
        if (w->n_health) {
            nh = calloc(w->n_health, sizeof *nh);
            nhp = calloc(w->n_health, sizeof *nhp);
            if (!nh || !nhp) {
                free(nh);
                free(nhp);
                return lg_errf(err, errlen, -ENOMEM, "out of memory");
            }
        }
        for (size_t i = 0; i < w->n_health; i++) {
            const wire_health *r = &w->health[i];
            lagrange__v1__node_health__init(&nh[i]);
            nh[i].node = (char *)r->node;
            nh[i].unix_ms = r->unix_ms;
            nh[i].seq = r->seq;
            nh[i].boot_unix_ms = r->boot_unix_ms;
            nh[i].jobs_running = r->jobs_running;
            nh[i].jobs_queued = r->jobs_queued;
            nh[i].load = r->load;
            nh[i].battery_soc = r->battery_soc;
            nh[i].sunlit = r->sunlit != 0;
            nh[i].fault_exec_checksum = r->fault_exec_checksum;
            nh[i].fault_ecc = r->fault_ecc;
            nh[i].fault_spool_quarantined = r->fault_spool_quarantined;
            nhp[i] = &nh[i];
        }
        hb.unix_ms = w->unix_ms;
        hb.seq = w->seq;
        hb.n_health = w->n_health;
        hb.health = nhp;
        f.body_case = LAGRANGE__V1__FRAME__BODY_HEARTBEAT;
        f.heartbeat = &hb;
        break;
    }
    case WIRE_MSG_GOODBYE:
        if ((rc = goodbye_validate(&m->u.goodbye, err, errlen)) < 0)
            return rc;
        g.reason = (char *)m->u.goodbye.reason;
        f.body_case = LAGRANGE__V1__FRAME__BODY_GOODBYE;
        f.goodbye = &g;
        break;
    default:
        return lg_errf(err, errlen, -EINVAL, "cannot encode message type %d",
                       (int)m->type);
    }
    if (out)
        rc = wire_frame_encode_alloc(&f, max, out, outlen, err, errlen);
    else
        rc = wire_frame_encode(&f, max, buf, cap, outlen, err, errlen);
    free(nh);
    free(nhp);
    return rc;
}

int wire_msg_encode(const wire_msg *m, uint32_t max, uint8_t *buf,
                    size_t cap, size_t *outlen, char *err, size_t errlen)
{
    if (m->type == WIRE_MSG_BUNDLE) {
        const wire_bundle *b = &m->u.bundle;
        size_t head;
        int rc = wire_bundle_encode_head(b, max, buf, cap, &head, outlen,
                                         err, errlen);
        if (rc == -ENOBUFS || (rc == 0 && cap < *outlen))
            return lg_errf(err, errlen, -ENOBUFS, "bundle frame needs %zu "
                           "bytes, buffer has %zu", *outlen, cap);
        if (rc < 0)
            return rc;
        if (b->payload_len)
            memcpy(buf + head, b->payload, b->payload_len);
        return 0;
    }
    return encode_session(m, max, buf, cap, NULL, outlen, err, errlen);
}

int wire_msg_encode_alloc(const wire_msg *m, uint32_t max, uint8_t **out,
                          size_t *outlen, char *err, size_t errlen)
{
    *out = NULL;
    if (m->type == WIRE_MSG_BUNDLE) {
        uint8_t *buf;
        size_t n = 0;
        /* A sizing pass: validation and size errors come out here. */
        int rc = wire_msg_encode(m, max, NULL, 0, &n, err, errlen);
        if (rc != -ENOBUFS)
            return rc < 0 ? rc : -EINVAL;
        if (!(buf = malloc(n)))
            return lg_errf(err, errlen, -ENOMEM, "out of memory for a "
                           "%zu-byte frame", n);
        rc = wire_msg_encode(m, max, buf, n, outlen, err, errlen);
        if (rc < 0) {
            free(buf);
            return rc;
        }
        *out = buf;
        return 0;
    }
    return encode_session(m, max, NULL, 0, out, outlen, err, errlen);
}

/* ------------------------------------------------------------ decoding */

static const rule frame_rules[] = {
    {1, "hello", 0, 0}, {2, "bundle", 0, 0}, {3, "ack", 0, 0},
    {4, "heartbeat", 0, 0}, {5, "goodbye", 0, 0},
};
enum { BR_SRC, BR_DST, BR_NAME, BR_JOB, BR_PAYLOAD };
static const rule bundle_rules[] = {
    {2, "src", 1, 0}, {3, "dst", 1, 0}, {16, "name", 1, 0}, {18, "job", 1, 0},
    {8, "payload fields", 0, 1},
};
static const rule hello_rules[] = {
    {1, "node_id", 1, 0}, {3, "capabilities", 1, WIRE_CAPS_MAX},
};
static const rule ack_rules[] = {
    {1, "ids", 0, WIRE_ACK_MAX},
};
static const rule goodbye_rules[] = {
    {1, "reason", 1, 0},
};
static const rule heartbeat_rules[] = {
    {3, "health records", 0, WIRE_HEALTH_MAX},
};
static const rule health_rules[] = {
    {1, "node", 1, 0},
};
#define NRULES(r) (sizeof(r) / sizeof((r)[0]))

static int unpack_failed(const char *what, char *err, size_t errlen)
{
    return lg_errf(err, errlen, -EBADMSG, "%s: malformed protobuf "
                   "(a field has the wrong wire type or a bad value)", what);
}

/* Fill b from an unpacked Bundle: lengths and presence; the rest is
 * wire_bundle_validate's. */
static int bundle_from_pb(const Lagrange__V1__Bundle *pb, wire_bundle *b,
                          char *err, size_t errlen)
{
    size_t n;
    if (pb->id.len != WIRE_ID_LEN)
        return lg_errf(err, errlen, -EBADMSG, "bundle: id is %zu bytes, "
                       "want %d", pb->id.len, WIRE_ID_LEN);
    memcpy(b->id, pb->id.data, WIRE_ID_LEN);
    if (pb->payload_sha256.len != WIRE_SHA256_LEN)
        return bad_bundle(b, err, errlen, "payload_sha256 is %zu bytes, "
                          "want %d", pb->payload_sha256.len,
                          WIRE_SHA256_LEN);
    memcpy(b->payload_sha256, pb->payload_sha256.data, WIRE_SHA256_LEN);
    if ((n = strlen(pb->src)) >= WIRE_NODE_MAX)
        return bad_bundle(b, err, errlen, "src is %zu bytes, at most %d", n,
                          WIRE_NODE_MAX - 1);
    memcpy(b->src, pb->src, n + 1);
    if ((n = strlen(pb->dst)) >= WIRE_NODE_MAX)
        return bad_bundle(b, err, errlen, "dst is %zu bytes, at most %d", n,
                          WIRE_NODE_MAX - 1);
    memcpy(b->dst, pb->dst, n + 1);
    if ((n = strlen(pb->name)) >= WIRE_NAME_MAX)
        return bad_bundle(b, err, errlen, "name is %zu bytes, at most %d",
                          n, WIRE_NAME_MAX - 1);
    memcpy(b->name, pb->name, n + 1);
    if ((n = strlen(pb->job)) >= WIRE_JOB_MAX)
        return bad_bundle(b, err, errlen, "job is %zu bytes, at most %d",
                          n, WIRE_JOB_MAX - 1);
    memcpy(b->job, pb->job, n + 1);
    b->job_epoch = pb->job_epoch;
    b->created_unix_ms = pb->created_unix_ms;
    b->lifetime_ms = pb->lifetime_ms;
    b->priority = pb->priority;
    b->hops = pb->hops;
    if ((int)pb->kind < WIRE_KIND_TENSOR_CHUNK ||
        (int)pb->kind > WIRE_KIND_CONTROL)
        return bad_bundle(b, err, errlen, "unknown kind %d", (int)pb->kind);
    b->kind = (wire_kind)pb->kind;
    b->object_size = pb->object_size;
    b->offset = pb->offset;
    b->chunk_index = pb->chunk_index;
    b->chunk_count = pb->chunk_count;
    if (pb->chunk_count == 0) {
        if (pb->object_id.len || pb->object_sha256.len)
            return bad_bundle(b, err, errlen, "object_id or object_sha256 "
                              "set on a bundle that is not chunked");
        return 0;
    }
    if (pb->object_id.len != WIRE_ID_LEN)
        return bad_bundle(b, err, errlen, "object_id is %zu bytes, want %d",
                          pb->object_id.len, WIRE_ID_LEN);
    memcpy(b->object_id, pb->object_id.data, WIRE_ID_LEN);
    if (pb->object_sha256.len != WIRE_SHA256_LEN)
        return bad_bundle(b, err, errlen, "object_sha256 is %zu bytes, "
                          "want %d", pb->object_sha256.len, WIRE_SHA256_LEN);
    memcpy(b->object_sha256, pb->object_sha256.data, WIRE_SHA256_LEN);
    return 0;
}

static int decode_bundle(const uint8_t *p, size_t n, wire_bundle *b,
                         char *err, size_t errlen)
{
    const uint8_t *meta = p, *payload = NULL;
    size_t mlen = n, plen = 0;
    uint8_t *tmp = NULL;
    Lagrange__V1__Bundle *pb;
    scan_out s;
    int rc;

    memset(b, 0, sizeof *b);
    rc = scan("bundle", p, n, bundle_rules, NRULES(bundle_rules),
              MAX_FIELDS, &s, err, errlen);
    if (rc < 0)
        return rc;
    if (s.count[BR_PAYLOAD]) {
        const pbf *f = &s.last[BR_PAYLOAD];
        size_t before = (size_t)(f->start - p), after =
            (size_t)(p + n - f->end);
        if (f->wt != WT_LEN)
            return lg_errf(err, errlen, -EBADMSG, "bundle: payload has "
                           "wire type %u, want 2", f->wt);
        payload = f->len ? f->val : NULL;
        plen = f->len;
        mlen = before + after;
        if (after == 0) {
            meta = p;                   /* payload last: our encoder */
        } else if (before == 0) {
            meta = f->end;
        } else {
            tmp = malloc(mlen);
            if (!tmp)
                return lg_errf(err, errlen, -ENOMEM, "out of memory");
            memcpy(tmp, p, before);
            memcpy(tmp + before, f->end, after);
            meta = tmp;
        }
    }
    pb = lagrange__v1__bundle__unpack(NULL, mlen, meta);
    free(tmp);
    if (!pb)
        return unpack_failed("bundle", err, errlen);
    rc = bundle_from_pb(pb, b, err, errlen);
    lagrange__v1__bundle__free_unpacked(pb, NULL);
    if (rc < 0)
        return rc;
    b->payload = payload;
    b->payload_len = plen;
    if ((rc = wire_bundle_validate(b, err, errlen)) < 0)
        return rc;
    return wire_bundle_verify(b, err, errlen);
}

static int decode_hello(const uint8_t *p, size_t n, wire_hello *h,
                        char *err, size_t errlen)
{
    Lagrange__V1__Hello *pb;
    scan_out s;
    size_t len;
    int rc = scan("hello", p, n, hello_rules, NRULES(hello_rules),
                  MAX_FIELDS, &s, err, errlen);
    memset(h, 0, sizeof *h);
    if (rc < 0)
        return rc;
    if (!(pb = lagrange__v1__hello__unpack(NULL, n, p)))
        return unpack_failed("hello", err, errlen);
    rc = -EBADMSG;
    if ((len = strlen(pb->node_id)) >= WIRE_NODE_MAX) {
        lg_errf(err, errlen, rc, "hello: node_id is %zu bytes, at most %d",
                len, WIRE_NODE_MAX - 1);
        goto out;
    }
    memcpy(h->node_id, pb->node_id, len + 1);
    h->version = pb->version;
    h->max_frame = pb->max_frame;
    h->ncaps = pb->n_capabilities;      /* <= WIRE_CAPS_MAX: scanned */
    for (size_t i = 0; i < pb->n_capabilities; i++) {
        if ((len = strlen(pb->capabilities[i])) >= WIRE_CAP_MAX) {
            lg_errf(err, errlen, rc, "hello: capability %zu is %zu bytes, "
                    "at most %d", i, len, WIRE_CAP_MAX - 1);
            goto out;
        }
        memcpy(h->caps[i], pb->capabilities[i], len + 1);
    }
    rc = hello_validate(h, err, errlen);
out:
    lagrange__v1__hello__free_unpacked(pb, NULL);
    return rc;
}

static int decode_ack(const uint8_t *p, size_t n, wire_ack *a, char *err,
                      size_t errlen)
{
    Lagrange__V1__Ack *pb;
    scan_out s;
    int rc = scan("ack", p, n, ack_rules, NRULES(ack_rules), MAX_FIELDS, &s,
                  err, errlen);
    a->n = 0;
    if (rc < 0)
        return rc;
    if (!(pb = lagrange__v1__ack__unpack(NULL, n, p)))
        return unpack_failed("ack", err, errlen);
    for (size_t i = 0; i < pb->n_ids; i++) {
        if (pb->ids[i].len != WIRE_ID_LEN) {
            rc = lg_errf(err, errlen, -EBADMSG, "ack: id %zu is %zu bytes, "
                         "want %d", i, pb->ids[i].len, WIRE_ID_LEN);
            break;
        }
        memcpy(a->ids[i], pb->ids[i].data, WIRE_ID_LEN);
    }
    if (rc == 0)
        a->n = pb->n_ids;
    lagrange__v1__ack__free_unpacked(pb, NULL);
    return rc;
}

/* A NodeHealth's raw bytes: its fields are bounded before protobuf-c
 * allocates, and its node is checked for NUL bytes. */
static int scan_health(const uint8_t *p, size_t n, char *err, size_t errlen)
{
    scan_out s;
    return scan("heartbeat: health record", p, n, health_rules,
                NRULES(health_rules), MAX_FIELDS, &s, err, errlen);
}

static int decode_heartbeat(const uint8_t *p, size_t n, wire_heartbeat *h,
                            char *err, size_t errlen)
{
    Lagrange__V1__Heartbeat *pb;
    const uint8_t *q = p, *end = p + n;
    const char *why = "";
    scan_out s;
    pbf f;
    int rc = scan("heartbeat", p, n, heartbeat_rules,
                  NRULES(heartbeat_rules), MAX_FIELDS, &s, err, errlen);
    h->unix_ms = h->seq = 0;
    h->n_health = h->n_health_bad = 0;
    if (rc < 0)
        return rc;
    /* Each record's inside, before protobuf-c sees any of them: a
     * malformed record makes the frame malformed. */
    while (pb_next(&q, end, &f, &why) > 0)
        if (f.num == 3 && f.wt == WT_LEN &&
            (rc = scan_health(f.val, f.len, err, errlen)) < 0)
            return rc;
    if (!(pb = lagrange__v1__heartbeat__unpack(NULL, n, p)))
        return unpack_failed("heartbeat", err, errlen);
    h->unix_ms = pb->unix_ms;
    h->seq = pb->seq;
    for (size_t i = 0; i < pb->n_health; i++) {
        const Lagrange__V1__NodeHealth *r = pb->health[i];
        wire_health *w = &h->health[h->n_health];
        size_t len = strlen(r->node);
        char e[160];
        memset(w, 0, sizeof *w);
        if (len >= WIRE_NODE_MAX) {
            h->n_health_bad++;
            continue;
        }
        memcpy(w->node, r->node, len + 1);
        w->unix_ms = r->unix_ms;
        w->seq = r->seq;
        w->boot_unix_ms = r->boot_unix_ms;
        w->jobs_running = r->jobs_running;
        w->jobs_queued = r->jobs_queued;
        w->load = r->load;
        w->battery_soc = r->battery_soc;
        w->sunlit = r->sunlit ? 1 : 0;
        w->fault_exec_checksum = r->fault_exec_checksum;
        w->fault_ecc = r->fault_ecc;
        w->fault_spool_quarantined = r->fault_spool_quarantined;
        /* A record that breaks the rules is skipped, not the heartbeat:
         * one bad origin must not cut the links that gossip it. */
        if (wire_health_validate(w, e, sizeof e) < 0)
            h->n_health_bad++;
        else
            h->n_health++;
    }
    lagrange__v1__heartbeat__free_unpacked(pb, NULL);
    return 0;
}

int wire_health_validate(const wire_health *h, char *err, size_t errlen)
{
    if (!token_ok(h->node, WIRE_NODE_MAX))
        return lg_errf(err, errlen, -EBADMSG, "health record: node is not "
                       "1-%d bytes of [A-Za-z0-9._-]", WIRE_NODE_MAX - 1);
    if (h->unix_ms == 0 || h->boot_unix_ms == 0)
        return lg_errf(err, errlen, -EBADMSG, "health record of %s: "
                       "unix_ms and boot_unix_ms must be set", h->node);
    if (!isfinite(h->load) || h->load < 0 || h->load > 1)
        return lg_errf(err, errlen, -EBADMSG, "health record of %s: load "
                       "%g is not in [0, 1]", h->node, h->load);
    if (!isfinite(h->battery_soc) ||
        (h->battery_soc != -1 &&
         (h->battery_soc < 0 || h->battery_soc > 1)))
        return lg_errf(err, errlen, -EBADMSG, "health record of %s: "
                       "battery_soc %g is neither in [0, 1] nor -1 (grid)",
                       h->node, h->battery_soc);
    return 0;
}

static int decode_goodbye(const uint8_t *p, size_t n, wire_goodbye *g,
                          char *err, size_t errlen)
{
    Lagrange__V1__Goodbye *pb;
    scan_out s;
    size_t len;
    int rc = scan("goodbye", p, n, goodbye_rules, NRULES(goodbye_rules),
                  MAX_FIELDS, &s, err, errlen);
    memset(g, 0, sizeof *g);
    if (rc < 0)
        return rc;
    if (!(pb = lagrange__v1__goodbye__unpack(NULL, n, p)))
        return unpack_failed("goodbye", err, errlen);
    if ((len = strlen(pb->reason)) >= WIRE_REASON_MAX)
        rc = lg_errf(err, errlen, -EBADMSG, "goodbye: reason is %zu bytes, "
                     "at most %d", len, WIRE_REASON_MAX - 1);
    else
        memcpy(g->reason, pb->reason, len + 1);
    lagrange__v1__goodbye__free_unpacked(pb, NULL);
    return rc < 0 ? rc : goodbye_validate(g, err, errlen);
}

int wire_msg_decode(const uint8_t *body, size_t len, wire_msg *m,
                    char *err, size_t errlen)
{
    scan_out s;
    const pbf *f = NULL;
    unsigned bodies = 0;
    size_t which = 0;
    int rc;

    m->type = WIRE_MSG_NONE;
    rc = scan("frame", body, len, frame_rules, NRULES(frame_rules),
              MAX_FIELDS, &s, err, errlen);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < NRULES(frame_rules); i++) {
        bodies += s.count[i];
        if (s.count[i]) {
            which = i;
            f = &s.last[i];
        }
    }
    if (bodies == 0)
        return lg_errf(err, errlen, -EBADMSG, "frame has no body we know");
    if (bodies > 1)
        return lg_errf(err, errlen, -EBADMSG, "frame holds %u bodies, one "
                       "expected", bodies);
    if (f->wt != WT_LEN)
        return lg_errf(err, errlen, -EBADMSG, "frame: %s has wire type %u, "
                       "want 2", frame_rules[which].name, f->wt);
    switch (f->num) {
    case 1:
        rc = decode_hello(f->val, f->len, &m->u.hello, err, errlen);
        break;
    case 2:
        rc = decode_bundle(f->val, f->len, &m->u.bundle, err, errlen);
        break;
    case 3:
        rc = decode_ack(f->val, f->len, &m->u.ack, err, errlen);
        break;
    case 4:
        rc = decode_heartbeat(f->val, f->len, &m->u.heartbeat, err, errlen);
        break;
    default:
        rc = decode_goodbye(f->val, f->len, &m->u.goodbye, err, errlen);
        break;
    }
    if (rc == 0)
        m->type = (wire_msg_type)(f->num);  /* field n is WIRE_MSG_ n */
    return rc;
}

const char *wire_msg_type_name(wire_msg_type t)
{
    switch (t) {
    case WIRE_MSG_HELLO: return "hello";
    case WIRE_MSG_BUNDLE: return "bundle";
    case WIRE_MSG_ACK: return "ack";
    case WIRE_MSG_HEARTBEAT: return "heartbeat";
    case WIRE_MSG_GOODBYE: return "goodbye";
    default: return "none";
    }
}

/* --------------------------------------------------------- session */

int wire_hello_init(wire_hello *h, const char *node_id, uint32_t max_frame)
{
    memset(h, 0, sizeof *h);
    if (!wire_bundle_node_ok(node_id))
        return -EINVAL;
    memcpy(h->node_id, node_id, strlen(node_id) + 1);
    h->version = WIRE_PROTO_VERSION;
    h->max_frame = max_frame;
    return 0;
}

int wire_hello_check_version(const wire_hello *h, char *err, size_t errlen)
{
    if (h->version == WIRE_PROTO_VERSION)
        return 0;
    return lg_errf(err, errlen, -EPROTONOSUPPORT,
                   "peer %s speaks wire protocol version %lu; this node "
                   "speaks version %u only", h->node_id,
                   (unsigned long)h->version, WIRE_PROTO_VERSION);
}

int wire_hello_has_cap(const wire_hello *h, const char *cap)
{
    for (size_t i = 0; i < h->ncaps && i < WIRE_CAPS_MAX; i++)
        if (strcmp(h->caps[i], cap) == 0)
            return 1;
    return 0;
}
