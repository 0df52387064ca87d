/*
 * check_wire.c - unit tests for lib/wire: frame.c (the incremental reader
 * fed 1 byte at a time, in random slices and all at once; lengths of 0 and
 * above the maximum refused before any allocation; truncation; callback
 * errors), bundle.c (round trips of every message, zero-copy payloads,
 * field order, unknown fields, garbage, and each validation rule with its
 * message) and chunk.c (a 10 MiB object split, framed, shuffled,
 * duplicated and reassembled; corrupted and inconsistent chunks).
 *
 * The same binary serves the protobuf oracle (tests/test_wire_oracle.sh,
 * tests/wire/oracle.py): `check_wire --emit DIR` writes frames encoded
 * here, each with a text dump of what it should hold, for Python's
 * protobuf runtime to check; `check_wire --verify DIR` decodes the frames
 * Python wrote and compares them with Python's dumps (and checks that the
 * bad ones are refused with the expected message).
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/sha.h>

#include "bundle.h"
#include "chunk.h"
#include "frame.h"
#include "lgerr.h"
#include "lagrange/v1/wire.pb-c.h"

static char err[512];

/* ------------------------------------------------------------ helpers */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
    uint64_t x = rng_state;     /* xorshift64* */
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng_state = x;
    return x * 0x2545f4914f6cdd1dull;
}

static void fill_random(uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(rnd() >> 56);
}

/* A valid bundle; chunked as chunk 1 of 3 of a 3*len-byte object if
 * chunked, else a plain control bundle. */
static void sample_bundle(wire_bundle *b, const uint8_t *payload, size_t len,
                          int chunked)
{
    memset(b, 0, sizeof *b);
    for (int i = 0; i < WIRE_ID_LEN; i++)
        b->id[i] = (uint8_t)(0xa0 + i);
    strcpy(b->src, "gs-mad");
    strcpy(b->dst, "leo-gpu-1");
    b->created_unix_ms = 1700000000123ull;
    b->lifetime_ms = 3600000;
    b->priority = 5;
    b->kind = chunked ? WIRE_KIND_TENSOR_CHUNK : WIRE_KIND_CONTROL;
    strcpy(b->name, chunked ? "/layer1/Conv_output_0" : "");
    b->hops = 2;
    if (chunked) {
        strcpy(b->job, "j0123456789ab");
        b->job_epoch = 3;
    }
    b->payload = payload;
    b->payload_len = len;
    if (chunked) {
        for (int i = 0; i < WIRE_ID_LEN; i++)
            b->object_id[i] = (uint8_t)(0x10 + i);
        b->object_size = 3 * (uint64_t)len + 7;
        b->offset = len;
        b->chunk_index = 1;
        b->chunk_count = 3;
        for (int i = 0; i < WIRE_SHA256_LEN; i++)
            b->object_sha256[i] = (uint8_t)i;
    }
    wire_bundle_seal(b);
}

static void assert_bundle_eq(const wire_bundle *a, const wire_bundle *b)
{
    ck_assert_mem_eq(a->id, b->id, WIRE_ID_LEN);
    ck_assert_str_eq(a->src, b->src);
    ck_assert_str_eq(a->dst, b->dst);
    ck_assert_uint_eq(a->created_unix_ms, b->created_unix_ms);
    ck_assert_uint_eq(a->lifetime_ms, b->lifetime_ms);
    ck_assert_uint_eq(a->priority, b->priority);
    ck_assert_int_eq(a->kind, b->kind);
    ck_assert_str_eq(a->name, b->name);
    ck_assert_uint_eq(a->hops, b->hops);
    ck_assert_str_eq(a->job, b->job);
    ck_assert_uint_eq(a->job_epoch, b->job_epoch);
    ck_assert_mem_eq(a->object_id, b->object_id, WIRE_ID_LEN);
    ck_assert_uint_eq(a->object_size, b->object_size);
    ck_assert_uint_eq(a->offset, b->offset);
    ck_assert_uint_eq(a->chunk_index, b->chunk_index);
    ck_assert_uint_eq(a->chunk_count, b->chunk_count);
    ck_assert_mem_eq(a->object_sha256, b->object_sha256, WIRE_SHA256_LEN);
    ck_assert_uint_eq(a->payload_len, b->payload_len);
    if (a->payload_len)
        ck_assert_int_eq(memcmp(a->payload, b->payload, a->payload_len), 0);
    ck_assert_mem_eq(a->payload_sha256, b->payload_sha256, WIRE_SHA256_LEN);
}

/* Encode m into a new frame, checking the length prefix. */
static uint8_t *enc(const wire_msg *m, size_t *len)
{
    uint8_t *f = NULL;
    int rc = wire_msg_encode_alloc(m, WIRE_FRAME_DEFAULT_MAX, &f, len, err,
                                   sizeof err);
    ck_assert_msg(rc == 0, "encode: %s", err);
    ck_assert_uint_ge(*len, WIRE_FRAME_HDR + 1);
    ck_assert_uint_eq(wire_frame_get_len(f), *len - WIRE_FRAME_HDR);
    return f;
}

/* Decode a whole frame (prefix included). */
static int dec(const uint8_t *frame, size_t len, wire_msg *m)
{
    ck_assert_uint_ge(len, WIRE_FRAME_HDR);
    ck_assert_uint_eq(wire_frame_get_len(frame), len - WIRE_FRAME_HDR);
    err[0] = '\0';
    return wire_msg_decode(frame + WIRE_FRAME_HDR, len - WIRE_FRAME_HDR, m,
                           err, sizeof err);
}

/* A protobuf-c Bundle mirroring b, payload included (so protobuf-c packs
 * it in field-number order: the payload lands in the middle). */
static void pb_from(const wire_bundle *b, Lagrange__V1__Bundle *pb)
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
    pb->payload.len = b->payload_len;
    pb->payload.data = (uint8_t *)b->payload;
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

/* Pack a Frame holding pb into a new frame. */
static uint8_t *pack_pb(Lagrange__V1__Bundle *pb, size_t *len)
{
    Lagrange__V1__Frame f = LAGRANGE__V1__FRAME__INIT;
    uint8_t *out;
    f.body_case = LAGRANGE__V1__FRAME__BODY_BUNDLE;
    f.bundle = pb;
    ck_assert_int_eq(wire_frame_encode_alloc(&f, WIRE_FRAME_LIMIT, &out,
                                             len, err, sizeof err), 0);
    return out;
}

/* Decode a protobuf-c built bundle, expecting code and a message part. */
static void expect_pb(Lagrange__V1__Bundle *pb, int code, const char *part)
{
    size_t n;
    wire_msg m;
    uint8_t *f = pack_pb(pb, &n);
    int rc = dec(f, n, &m);
    ck_assert_msg(rc == code, "want %d got %d (%s)", code, rc, err);
    if (part)
        ck_assert_msg(strstr(err, part), "'%s' lacks '%s'", err, part);
    if (rc < 0)
        ck_assert_int_eq(m.type, WIRE_MSG_NONE);
    free(f);
}

/* Decode a raw body, expecting code and a message part. */
static void expect_body(const void *body, size_t len, int code,
                        const char *part)
{
    wire_msg m;
    int rc = wire_msg_decode(body, len, &m, err, sizeof err);
    ck_assert_msg(rc == code, "want %d got %d (%s)", code, rc, err);
    if (part)
        ck_assert_msg(strstr(err, part), "'%s' lacks '%s'", err, part);
}

/* Collects frames delivered by a reader: copies of each body. */
typedef struct sink {
    size_t n;                   /* frames seen */
    uint8_t *bodies[64];        /* copies */
    size_t lens[64];
    int fail_at;                /* return -EPROTO at this frame (1-based) */
} sink;

static int sink_cb(void *ud, const uint8_t *body, size_t len, char *e,
                   size_t elen)
{
    sink *s = ud;
    if (s->fail_at && (int)s->n + 1 == s->fail_at)
        return lg_errf(e, elen, -EPROTO, "consumer refuses frame %zu",
                       s->n + 1);
    ck_assert_uint_lt(s->n, 64);
    s->bodies[s->n] = malloc(len);
    ck_assert_ptr_nonnull(s->bodies[s->n]);
    memcpy(s->bodies[s->n], body, len);
    s->lens[s->n++] = len;
    return 0;
}

static void sink_free(sink *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->bodies[i]);
    memset(s, 0, sizeof *s);
}

/* A stream of every message type: 6 frames, one a 100 KiB bundle. */
static uint8_t *stream_of_all(size_t *len, size_t *nframes,
                              uint8_t **big_payload)
{
    static uint8_t small[37];
    wire_msg m;
    uint8_t *out = NULL, *f;
    size_t n, total = 0;
    *big_payload = malloc(100 << 10);
    ck_assert_ptr_nonnull(*big_payload);
    fill_random(*big_payload, 100 << 10);
    fill_random(small, sizeof small);
    *nframes = 0;
    for (int k = 0; k < 6; k++) {
        memset(&m, 0, sizeof m);
        switch (k) {
        case 0:
            m.type = WIRE_MSG_HELLO;
            ck_assert_int_eq(wire_hello_init(&m.u.hello, "gs-mad",
                                             WIRE_FRAME_DEFAULT_MAX), 0);
            strcpy(m.u.hello.caps[0], "zstd");
            m.u.hello.ncaps = 1;
            break;
        case 1:
            m.type = WIRE_MSG_BUNDLE;
            sample_bundle(&m.u.bundle, *big_payload, 100 << 10, 1);
            break;
        case 2:
            m.type = WIRE_MSG_BUNDLE;
            sample_bundle(&m.u.bundle, small, sizeof small, 0);
            break;
        case 3:
            m.type = WIRE_MSG_ACK;
            m.u.ack.n = 2;
            memset(m.u.ack.ids[0], 1, WIRE_ID_LEN);
            memset(m.u.ack.ids[1], 2, WIRE_ID_LEN);
            break;
        case 4:
            m.type = WIRE_MSG_HEARTBEAT;
            break;                      /* all zero: smallest frame */
        default:
            m.type = WIRE_MSG_GOODBYE;
            strcpy(m.u.goodbye.reason, "shutting down");
            break;
        }
        f = enc(&m, &n);
        out = realloc(out, total + n);
        ck_assert_ptr_nonnull(out);
        memcpy(out + total, f, n);
        total += n;
        free(f);
        (*nframes)++;
    }
    *len = total;
    return out;
}

/* --------------------------------------------------------------- frame */

START_TEST(test_frame_round_trip_all_types)
{
    uint8_t *big, *stream;
    size_t len, nf;
    static const wire_msg_type want[] = {WIRE_MSG_HELLO, WIRE_MSG_BUNDLE,
        WIRE_MSG_BUNDLE, WIRE_MSG_ACK, WIRE_MSG_HEARTBEAT, WIRE_MSG_GOODBYE};
    wire_frame_reader r;
    sink s = {0};
    wire_msg m;

    stream = stream_of_all(&len, &nf, &big);
    ck_assert_int_eq(wire_frame_reader_init(&r, WIRE_FRAME_DEFAULT_MAX,
                                            sink_cb, &s, err, sizeof err), 0);
    ck_assert_int_eq(wire_frame_reader_feed(&r, stream, len, err,
                                            sizeof err), (int)nf);
    ck_assert_uint_eq(s.n, nf);
    /* Everything arrived in one slice: nothing was buffered. */
    ck_assert_uint_eq(wire_frame_reader_capacity(&r), 0);
    ck_assert_int_eq(wire_frame_reader_finish(&r, err, sizeof err), 0);
    for (size_t i = 0; i < nf; i++) {
        int rc = wire_msg_decode(s.bodies[i], s.lens[i], &m, err,
                                 sizeof err);
        ck_assert_msg(rc == 0, "frame %zu: %s", i, err);
        ck_assert_int_eq(m.type, want[i]);
        if (i == 0) {
            ck_assert_str_eq(m.u.hello.node_id, "gs-mad");
            ck_assert_uint_eq(m.u.hello.version, WIRE_PROTO_VERSION);
            ck_assert_uint_eq(m.u.hello.max_frame, WIRE_FRAME_DEFAULT_MAX);
            ck_assert_uint_eq(m.u.hello.ncaps, 1);
            ck_assert(wire_hello_has_cap(&m.u.hello, "zstd"));
            ck_assert(!wire_hello_has_cap(&m.u.hello, "lz4"));
        } else if (i == 1) {
            wire_bundle b;
            sample_bundle(&b, big, 100 << 10, 1);
            assert_bundle_eq(&m.u.bundle, &b);
        } else if (i == 3) {
            ck_assert_uint_eq(m.u.ack.n, 2);
            ck_assert_uint_eq(m.u.ack.ids[1][15], 2);
        } else if (i == 4) {
            ck_assert_uint_eq(m.u.heartbeat.seq, 0);
        } else if (i == 5) {
            ck_assert_str_eq(m.u.goodbye.reason, "shutting down");
        }
    }
    ck_assert_uint_eq(r.frames, nf);
    ck_assert_uint_eq(r.bytes, len);
    sink_free(&s);
    wire_frame_reader_free(&r);
    wire_frame_reader_free(&r);         /* idempotent */
    free(stream);
    free(big);
}
END_TEST

/* Feed the stream in slices of the given sizes (0: random 1..max). */
static void feed_sliced(size_t slice, size_t maxrand)
{
    uint8_t *big, *stream;
    size_t len, nf, off = 0;
    int frames = 0;
    wire_frame_reader r;
    sink s = {0};

    stream = stream_of_all(&len, &nf, &big);
    ck_assert_int_eq(wire_frame_reader_init(&r, WIRE_FRAME_DEFAULT_MAX,
                                            sink_cb, &s, err, sizeof err), 0);
    while (off < len) {
        size_t n = slice ? slice : 1 + rnd() % maxrand;
        int rc;
        if (n > len - off)
            n = len - off;
        rc = wire_frame_reader_feed(&r, stream + off, n, err, sizeof err);
        /* Plain ifs: a ck_assert per byte would dominate the run time. */
        if (rc < 0 || wire_frame_reader_state(&r) == WIRE_FRAME_ERROR)
            ck_abort_msg("feed at %zu: %s", off, err);
        frames += rc;
        off += n;
    }
    ck_assert_int_eq(frames, (int)nf);
    ck_assert_uint_eq(s.n, nf);
    ck_assert_int_eq(wire_frame_reader_finish(&r, err, sizeof err), 0);
    /* Buffered bodies never needed more than the largest frame. */
    ck_assert_uint_le(wire_frame_reader_capacity(&r), (100 << 10) + 1024);
    /* The bodies are the frames' bytes, in order. */
    off = 0;
    for (size_t i = 0; i < nf; i++) {
        uint32_t fl = wire_frame_get_len(stream + off);
        ck_assert_uint_eq(fl, s.lens[i]);
        ck_assert_int_eq(memcmp(stream + off + 4, s.bodies[i], fl), 0);
        off += 4 + fl;
    }
    sink_free(&s);
    wire_frame_reader_free(&r);
    free(stream);
    free(big);
}

START_TEST(test_frame_one_byte_at_a_time)
{
    feed_sliced(1, 0);
}
END_TEST

START_TEST(test_frame_random_slices)
{
    for (int k = 0; k < 20; k++)
        feed_sliced(0, k < 10 ? 7 : 40000);
    feed_sliced(3, 0);                  /* splits every header */
}
END_TEST

START_TEST(test_frame_oversize_rejected_before_alloc)
{
    static const uint8_t huge[] = {0xff, 0xff, 0xff, 0xff, 1, 2, 3};
    uint8_t hdr[4];
    wire_frame_reader r;
    sink s = {0};

    ck_assert_int_eq(wire_frame_reader_init(&r, 1024, sink_cb, &s, err,
                                            sizeof err), 0);
    ck_assert_int_eq(wire_frame_reader_feed(&r, huge, sizeof huge, err,
                                            sizeof err), -EMSGSIZE);
    ck_assert_ptr_nonnull(strstr(err, "4294967295"));
    ck_assert_ptr_nonnull(strstr(err, "1024"));
    ck_assert_uint_eq(wire_frame_reader_capacity(&r), 0);
    ck_assert_ptr_null(r.buf);
    ck_assert_int_eq(wire_frame_reader_state(&r), WIRE_FRAME_ERROR);
    ck_assert_uint_eq(s.n, 0);
    /* Sticky: later bytes get the same error. */
    err[0] = '\0';
    ck_assert_int_eq(wire_frame_reader_feed(&r, huge, 1, err, sizeof err),
                     -EMSGSIZE);
    ck_assert_ptr_nonnull(strstr(err, "4294967295"));
    ck_assert_int_eq(wire_frame_reader_finish(&r, err, sizeof err),
                     -EMSGSIZE);

    /* One above the maximum is refused, the maximum itself is taken; the
     * header alone allocates nothing. */
    wire_frame_reader_reset(&r);
    wire_frame_put_len(hdr, 1025);
    ck_assert_int_eq(wire_frame_reader_feed(&r, hdr, 4, err, sizeof err),
                     -EMSGSIZE);
    ck_assert_ptr_nonnull(strstr(err, "1025"));
    wire_frame_reader_reset(&r);
    wire_frame_put_len(hdr, 1024);
    ck_assert_int_eq(wire_frame_reader_feed(&r, hdr, 4, err, sizeof err), 0);
    ck_assert_uint_eq(wire_frame_reader_capacity(&r), 0);
    ck_assert_int_eq(wire_frame_reader_state(&r), WIRE_FRAME_READ_BODY);
    wire_frame_reader_free(&r);

    /* A bad maximum is refused at init. */
    ck_assert_int_eq(wire_frame_reader_init(&r, 0, sink_cb, &s, err,
                                            sizeof err), -EINVAL);
    ck_assert_int_eq(wire_frame_reader_init(&r, WIRE_FRAME_LIMIT + 1,
                                            sink_cb, &s, err, sizeof err),
                     -EINVAL);
    ck_assert_int_eq(wire_frame_reader_feed(&r, hdr, 4, err, sizeof err),
                     -EINVAL);
}
END_TEST

START_TEST(test_frame_lazy_buffer)
{
    /* A peer that claims a maximal frame and sends 10 bytes costs at most
     * the first small buffer, not the announced size. */
    uint8_t hdr[4], ten[10] = {0};
    wire_frame_reader r;
    sink s = {0};
    ck_assert_int_eq(wire_frame_reader_init(&r, 1 << 20, sink_cb, &s, err,
                                            sizeof err), 0);
    wire_frame_put_len(hdr, 1 << 20);
    ck_assert_int_eq(wire_frame_reader_feed(&r, hdr, 4, err, sizeof err), 0);
    ck_assert_int_eq(wire_frame_reader_feed(&r, ten, 10, err, sizeof err),
                     0);
    ck_assert_uint_le(wire_frame_reader_capacity(&r), 4096);
    ck_assert_int_eq(wire_frame_reader_finish(&r, err, sizeof err),
                     -EBADMSG);
    ck_assert_ptr_nonnull(strstr(err, "10 of 1048576 body bytes"));
    wire_frame_reader_free(&r);
}
END_TEST

START_TEST(test_frame_zero_length)
{
    static const uint8_t zero[] = {0, 0, 0, 0};
    wire_frame_reader r;
    sink s = {0};
    ck_assert_int_eq(wire_frame_reader_init(&r, 1024, sink_cb, &s, err,
                                            sizeof err), 0);
    ck_assert_int_eq(wire_frame_reader_feed(&r, zero, 4, err, sizeof err),
                     -EBADMSG);
    ck_assert_ptr_nonnull(strstr(err, "frame length 0"));
    ck_assert_uint_eq(wire_frame_reader_capacity(&r), 0);
    wire_frame_reader_free(&r);
}
END_TEST

START_TEST(test_frame_truncated)
{
    wire_msg m;
    wire_frame_reader r;
    sink s = {0};
    uint8_t *f;
    size_t n;

    memset(&m, 0, sizeof m);
    m.type = WIRE_MSG_GOODBYE;
    strcpy(m.u.goodbye.reason, "bye");
    f = enc(&m, &n);
    ck_assert_int_eq(wire_frame_reader_init(&r, 1024, sink_cb, &s, err,
                                            sizeof err), 0);
    ck_assert_int_eq(wire_frame_reader_finish(&r, err, sizeof err), 0);
    ck_assert_int_eq(wire_frame_reader_feed(&r, f, 2, err, sizeof err), 0);
    ck_assert_int_eq(wire_frame_reader_finish(&r, err, sizeof err),
                     -EBADMSG);
    ck_assert_ptr_nonnull(strstr(err, "header (2 of 4 bytes)"));
    ck_assert_int_eq(wire_frame_reader_feed(&r, f + 2, n - 3, err,
                                            sizeof err), 0);
    ck_assert_int_eq(wire_frame_reader_finish(&r, err, sizeof err),
                     -EBADMSG);
    ck_assert_ptr_nonnull(strstr(err, "body bytes"));
    ck_assert_int_eq(wire_frame_reader_feed(&r, f + n - 1, 1, err,
                                            sizeof err), 1);
    ck_assert_int_eq(wire_frame_reader_finish(&r, err, sizeof err), 0);
    wire_frame_reader_free(&r);
    sink_free(&s);

    /* A body cut short inside its protobuf: every shorter prefix of the
     * body is refused by the decoder, never read past. */
    for (size_t k = 1; k + 4 < n; k++) {
        uint8_t *cut = malloc(k);
        ck_assert_ptr_nonnull(cut);
        memcpy(cut, f + 4, k);
        ck_assert_int_lt(wire_msg_decode(cut, k, &m, err, sizeof err), 0);
        free(cut);
    }
    free(f);
}
END_TEST

START_TEST(test_frame_callback_error)
{
    uint8_t *big, *stream;
    size_t len, nf;
    wire_frame_reader r;
    sink s = {0};
    s.fail_at = 3;
    stream = stream_of_all(&len, &nf, &big);
    ck_assert_int_eq(wire_frame_reader_init(&r, WIRE_FRAME_DEFAULT_MAX,
                                            sink_cb, &s, err, sizeof err), 0);
    ck_assert_int_eq(wire_frame_reader_feed(&r, stream, len, err,
                                            sizeof err), -EPROTO);
    ck_assert_str_eq(err, "consumer refuses frame 3");
    ck_assert_uint_eq(s.n, 2);
    ck_assert_int_eq(wire_frame_reader_state(&r), WIRE_FRAME_ERROR);
    err[0] = '\0';
    ck_assert_int_eq(wire_frame_reader_feed(&r, stream, 1, err, sizeof err),
                     -EPROTO);
    ck_assert_str_eq(err, "consumer refuses frame 3");
    sink_free(&s);
    wire_frame_reader_free(&r);
    free(stream);
    free(big);
}
END_TEST

START_TEST(test_frame_encode_limits)
{
    uint8_t payload[2000], buf[64], *out = (uint8_t *)1;
    size_t n = 0, head = 0, total = 0;
    wire_msg m;

    fill_random(payload, sizeof payload);
    memset(&m, 0, sizeof m);
    m.type = WIRE_MSG_BUNDLE;
    sample_bundle(&m.u.bundle, payload, sizeof payload, 0);
    ck_assert_int_eq(wire_msg_encode(&m, WIRE_FRAME_DEFAULT_MAX, buf,
                                     sizeof buf, &n, err, sizeof err),
                     -ENOBUFS);
    ck_assert_uint_eq(n, wire_bundle_frame_size(&m.u.bundle));
    ck_assert_uint_gt(n, sizeof payload);
    ck_assert_int_eq(wire_msg_encode_alloc(&m, 1500, &out, &n, err,
                                           sizeof err), -EMSGSIZE);
    ck_assert_ptr_null(out);
    ck_assert_ptr_nonnull(strstr(err, "exceeds the maximum 1500"));
    ck_assert_int_eq(wire_bundle_encode_head(&m.u.bundle, 1500, buf,
                                             sizeof buf, &head, &total, err,
                                             sizeof err), -EMSGSIZE);
    /* Session messages too. */
    memset(&m, 0, sizeof m);
    m.type = WIRE_MSG_GOODBYE;
    memset(m.u.goodbye.reason, 'x', 200);
    ck_assert_int_eq(wire_msg_encode(&m, 100, buf, sizeof buf, &n, err,
                                     sizeof err), -EMSGSIZE);
    ck_assert_int_eq(wire_msg_encode(&m, 1000, buf, sizeof buf, &n, err,
                                     sizeof err), -ENOBUFS);
    ck_assert_uint_eq(n, 4 + 1 + 2 + 1 + 2 + 200);
    m.type = WIRE_MSG_NONE;
    ck_assert_int_eq(wire_msg_encode(&m, 1000, buf, sizeof buf, &n, err,
                                     sizeof err), -EINVAL);
}
END_TEST

/* -------------------------------------------------------------- bundle */

START_TEST(test_bundle_round_trip_zero_copy)
{
    static const size_t sizes[] = {0, 1, 127, 128, 16383, 16384, 1 << 20};
    uint8_t *payload = malloc(1 << 20);
    ck_assert_ptr_nonnull(payload);
    fill_random(payload, 1 << 20);
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        for (int chunked = 0; chunked < 2; chunked++) {
            wire_msg m, d;
            uint8_t *f;
            size_t n;
            memset(&m, 0, sizeof m);
            m.type = WIRE_MSG_BUNDLE;
            sample_bundle(&m.u.bundle, payload, sizes[k], chunked);
            f = enc(&m, &n);
            ck_assert_uint_eq(n, wire_bundle_frame_size(&m.u.bundle));
            ck_assert_msg(dec(f, n, &d) == 0, "%zu: %s", sizes[k], err);
            ck_assert_int_eq(d.type, WIRE_MSG_BUNDLE);
            assert_bundle_eq(&d.u.bundle, &m.u.bundle);
            /* Zero copy: the payload is the frame's last bytes. */
            if (sizes[k])
                ck_assert_ptr_eq(d.u.bundle.payload, f + n - sizes[k]);
            else
                ck_assert_ptr_null(d.u.bundle.payload);
            free(f);
        }
    }
    free(payload);
}
END_TEST

START_TEST(test_bundle_head_plus_payload)
{
    uint8_t payload[3000], head[WIRE_BUNDLE_HEAD_MAX], *f;
    size_t n, hl, total;
    wire_msg m;
    fill_random(payload, sizeof payload);
    memset(&m, 0, sizeof m);
    m.type = WIRE_MSG_BUNDLE;
    sample_bundle(&m.u.bundle, payload, sizeof payload, 1);
    /* The largest head there can be still fits WIRE_BUNDLE_HEAD_MAX. */
    memset(m.u.bundle.src, 'a', WIRE_NODE_MAX - 1);
    memset(m.u.bundle.dst, 'b', WIRE_NODE_MAX - 1);
    memset(m.u.bundle.name, 'n', WIRE_NAME_MAX - 1);
    m.u.bundle.created_unix_ms = m.u.bundle.lifetime_ms = UINT64_MAX / 2;
    m.u.bundle.hops = WIRE_HOPS_MAX;
    m.u.bundle.priority = WIRE_PRIO_MAX;
    m.u.bundle.object_size = WIRE_OBJECT_MAX;
    m.u.bundle.offset = WIRE_OBJECT_MAX - sizeof payload;
    m.u.bundle.chunk_count = UINT32_MAX;
    m.u.bundle.chunk_index = UINT32_MAX - 1;
    ck_assert_int_eq(wire_bundle_encode_head(&m.u.bundle,
                                             WIRE_FRAME_DEFAULT_MAX, head,
                                             sizeof head, &hl, &total, err,
                                             sizeof err), 0);
    ck_assert_uint_eq(total, hl + sizeof payload);
    ck_assert_uint_le(hl, WIRE_BUNDLE_HEAD_MAX);
    f = enc(&m, &n);
    ck_assert_uint_eq(n, total);
    ck_assert_int_eq(memcmp(f, head, hl), 0);
    ck_assert_int_eq(memcmp(f + hl, payload, sizeof payload), 0);
    free(f);
    /* A head buffer that is too small is refused, not overrun. */
    ck_assert_int_eq(wire_bundle_encode_head(&m.u.bundle,
                                             WIRE_FRAME_DEFAULT_MAX, head,
                                             hl - 1, &hl, &total, err,
                                             sizeof err), -ENOBUFS);
}
END_TEST

START_TEST(test_bundle_field_order)
{
    /* Payload in the middle (protobuf-c packs by field number, as Python
     * and C++ do) and first: the same bundle, still without a payload
     * copy. */
    uint8_t payload[777];
    Lagrange__V1__Bundle pb;
    wire_bundle b;
    wire_msg m;
    uint8_t *f, *g;
    size_t n;

    fill_random(payload, sizeof payload);
    sample_bundle(&b, payload, sizeof payload, 1);
    pb_from(&b, &pb);
    f = pack_pb(&pb, &n);
    ck_assert_msg(dec(f, n, &m) == 0, "%s", err);
    assert_bundle_eq(&m.u.bundle, &b);
    ck_assert((uintptr_t)m.u.bundle.payload >= (uintptr_t)f);
    ck_assert((uintptr_t)m.u.bundle.payload < (uintptr_t)(f + n));

    /* Move the payload field to the front by hand. */
    {
        const uint8_t *pf = m.u.bundle.payload;
        size_t ptag = 3;                /* 0x42 + 2-byte length */
        size_t bstart = 4 + 1 + 2;      /* prefix, 0x12, 2-byte length */
        size_t before = (size_t)(pf - ptag - (f + bstart));
        g = malloc(n);
        ck_assert_ptr_nonnull(g);
        memcpy(g, f, bstart);
        memcpy(g + bstart, pf - ptag, ptag + sizeof payload);
        memcpy(g + bstart + ptag + sizeof payload, f + bstart, before);
        memcpy(g + bstart + ptag + sizeof payload + before,
               pf + sizeof payload, n - (size_t)(pf - f) - sizeof payload);
        ck_assert_msg(dec(g, n, &m) == 0, "%s", err);
        assert_bundle_eq(&m.u.bundle, &b);
        ck_assert_ptr_eq(m.u.bundle.payload, g + bstart + ptag);
        free(g);
    }
    free(f);
}
END_TEST

START_TEST(test_bundle_unknown_fields)
{
    /* Fields from a future version are skipped; floods of them are not. */
    uint8_t payload[10] = "0123456789", *f, *g;
    size_t n;
    wire_msg m;
    fill_random(payload, sizeof payload);
    memset(&m, 0, sizeof m);
    m.type = WIRE_MSG_BUNDLE;
    sample_bundle(&m.u.bundle, payload, sizeof payload, 0);
    f = enc(&m, &n);
    for (int extra = 1; extra <= 70; extra += 69) {
        /* Insert `extra` unknown varint fields (field 100 = tag a0 06)
         * right after the bundle's length. */
        size_t add = 3 * (size_t)extra, bl = n - 4 - 2, nl;
        ck_assert_uint_lt(bl, 128);     /* 1-byte lengths in f */
        nl = bl + add;
        g = malloc(n + add + 2);
        ck_assert_ptr_nonnull(g);
        g[4] = 0x12;
        g[5] = (uint8_t)(nl | 0x80);
        g[6] = (uint8_t)(nl >> 7);
        for (int i = 0; i < extra; i++)
            memcpy(g + 7 + 3 * i, "\xa0\x06\x01", 3);
        memcpy(g + 7 + add, f + 6, bl);
        wire_frame_put_len(g, (uint32_t)(3 + nl));
        if (extra < 64) {
            ck_assert_msg(dec(g, 7 + nl, &m) == 0, "%s", err);
            ck_assert_uint_eq(m.u.bundle.payload_len, sizeof payload);
        } else {
            ck_assert_int_eq(dec(g, 7 + nl, &m), -EBADMSG);
            ck_assert_ptr_nonnull(strstr(err, "more than 64 fields"));
        }
        free(g);
    }
    free(f);
}
END_TEST

START_TEST(test_bundle_garbage)
{
    uint8_t buf[512];
    wire_msg m;
    /* Structural garbage, each with the reason named. */
    expect_body("", 0, -EBADMSG, "no body");
    expect_body("\x12\x05\x0a\x01", 4, -EBADMSG, "runs past the end");
    expect_body("\x13\x00", 2, -EBADMSG, "wire type");        /* group */
    expect_body("\x12\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", 11,
                -EBADMSG, "bad length");
    expect_body("\x00\x01", 2, -EBADMSG, "field number 0");
    expect_body("\x48\x01", 2, -EBADMSG, "no body");     /* field 9 only */
    expect_body("\x10\x01", 2, -EBADMSG, "bundle has wire type 0");
    expect_body("\x22\x00\x22\x00", 4, -EBADMSG, "2 bodies");
    expect_body("\x0a\x00\x22\x00", 4, -EBADMSG, "2 bodies");
    /* Bundle.id as a varint: protobuf-c refuses the wire type. */
    expect_body("\x12\x02\x08\x01", 4, -EBADMSG,
                "bundle: malformed protobuf");
    expect_body("\x12\x02\x0a\xff", 4, -EBADMSG,
                "bundle: malformed protobuf: bad length");
    /* A heartbeat whose seq has the wrong wire type: protobuf-c says no. */
    expect_body("\x22\x02\x12\x00", 4, -EBADMSG, "heartbeat: malformed");
    expect_body("\x22\x00", 2, 0, NULL);
    /* Random bytes never crash and never decode as something invalid. */
    for (int k = 0; k < 20000; k++) {
        size_t n = rnd() % sizeof buf;
        fill_random(buf, n);
        if (k & 1)
            buf[0] = (uint8_t)(((rnd() % 5) + 1) << 3 | 2);
        int rc = wire_msg_decode(buf, n, &m, err, sizeof err);
        if ((rc == 0) != (m.type != WIRE_MSG_NONE) || rc > 0)
            ck_abort_msg("decode gave %d with type %d", rc, (int)m.type);
    }
}
END_TEST

START_TEST(test_bundle_unknown_kind)
{
    uint8_t payload[5] = {1, 2, 3, 4, 5};
    Lagrange__V1__Bundle pb;
    wire_bundle b;
    sample_bundle(&b, payload, sizeof payload, 0);
    pb_from(&b, &pb);
    pb.kind = (Lagrange__V1__Bundle__Kind)9;
    expect_pb(&pb, -EBADMSG, "unknown kind 9");
    pb.kind = LAGRANGE__V1__BUNDLE__KIND__KIND_UNSPECIFIED;
    expect_pb(&pb, -EBADMSG, "unknown kind 0");
    pb.kind = (Lagrange__V1__Bundle__Kind)-1;
    expect_pb(&pb, -EBADMSG, "unknown kind -1");
    pb.kind = LAGRANGE__V1__BUNDLE__KIND__KIND_MODEL_CHUNK;
    expect_pb(&pb, 0, NULL);
    /* And on the encoding side. */
    b.kind = (wire_kind)7;
    ck_assert_int_eq(wire_bundle_validate(&b, err, sizeof err), -EBADMSG);
    ck_assert_ptr_nonnull(strstr(err, "unknown kind 7"));
}
END_TEST

START_TEST(test_bundle_wrong_lengths)
{
    uint8_t payload[5] = {1, 2, 3, 4, 5}, id17[17] = {0};
    Lagrange__V1__Bundle pb;
    wire_bundle b;
    sample_bundle(&b, payload, sizeof payload, 1);
    pb_from(&b, &pb);
    pb.id.len = 15;
    expect_pb(&pb, -EBADMSG, "id is 15 bytes, want 16");
    pb.id.len = 17;
    pb.id.data = id17;
    expect_pb(&pb, -EBADMSG, "id is 17 bytes, want 16");
    pb.id.len = 0;
    expect_pb(&pb, -EBADMSG, "id is 0 bytes, want 16");
    pb_from(&b, &pb);
    pb.job = "j0123456789abcdef";
    expect_pb(&pb, -EBADMSG, "job is 17 bytes, at most 16");
    pb_from(&b, &pb);
    pb.payload_sha256.len = 31;
    expect_pb(&pb, -EBADMSG, "payload_sha256 is 31 bytes, want 32");
    pb_from(&b, &pb);
    pb.object_id.len = 8;
    expect_pb(&pb, -EBADMSG, "object_id is 8 bytes, want 16");
    pb_from(&b, &pb);
    pb.object_sha256.len = 0;
    expect_pb(&pb, -EBADMSG, "object_sha256 is 0 bytes, want 32");
    /* Not chunked, yet carrying object fields. */
    sample_bundle(&b, payload, sizeof payload, 0);
    pb_from(&b, &pb);
    pb.object_id.len = WIRE_ID_LEN;
    pb.object_id.data = b.id;
    expect_pb(&pb, -EBADMSG, "not chunked");
    pb_from(&b, &pb);
    pb.offset = 3;
    expect_pb(&pb, -EBADMSG, "chunk_count 0");
}
END_TEST

START_TEST(test_bundle_bad_checksum)
{
    uint8_t payload[4096], *f;
    size_t n;
    wire_msg m, d;
    fill_random(payload, sizeof payload);
    memset(&m, 0, sizeof m);
    m.type = WIRE_MSG_BUNDLE;
    sample_bundle(&m.u.bundle, payload, sizeof payload, 1);
    f = enc(&m, &n);
    f[n - 100] ^= 0x20;                 /* a bit flip in the payload */
    ck_assert_int_eq(dec(f, n, &d), WIRE_ECHECKSUM);
    ck_assert_ptr_nonnull(strstr(err, "payload sha256 mismatch"));
    ck_assert_ptr_nonnull(strstr(err, "a0a1a2a3"));     /* names the id */
    ck_assert_int_eq(d.type, WIRE_MSG_NONE);
    f[n - 100] ^= 0x20;
    ck_assert_int_eq(dec(f, n, &d), 0);
    ck_assert_int_eq(wire_bundle_verify(&d.u.bundle, err, sizeof err), 0);
    free(f);
}
END_TEST

/* Expect wire_bundle_validate and the decoder to both refuse b. */
static void expect_invalid(const wire_bundle *b, const char *part)
{
    Lagrange__V1__Bundle pb;
    char e2[512];
    int rc = wire_bundle_validate(b, e2, sizeof e2);
    ck_assert_msg(rc == -EBADMSG, "validate accepted (%s)", part);
    ck_assert_msg(strstr(e2, part), "'%s' lacks '%s'", e2, part);
    pb_from(b, &pb);
    expect_pb(&pb, -EBADMSG, part);
}

START_TEST(test_bundle_invalid_fields)
{
    uint8_t payload[64];
    wire_bundle b;
    Lagrange__V1__Bundle pb;
    fill_random(payload, sizeof payload);

#define CASE(chunked, stmt, part) do {                          \
        sample_bundle(&b, payload, sizeof payload, chunked);    \
        stmt;                                                   \
        wire_bundle_seal(&b);                                   \
        expect_invalid(&b, part);                               \
    } while (0)
    CASE(0, strcpy(b.src, "gs/mad"), "src 'gs/mad' is not a node id");
    CASE(0, strcpy(b.src, ""), "src '' is not a node id");
    CASE(0, strcpy(b.dst, "leo gpu"), "dst 'leo gpu' is not a node id");
    CASE(0, b.priority = 8, "priority 8 is above 7");
    CASE(0, b.hops = 65, "hops 65 is above 64");
    CASE(1, strcpy(b.job, "j/1"), "job 'j/1' is not a job tag");
    CASE(0, b.job_epoch = 2, "job_epoch 2 set on a bundle of no job");
    CASE(0, (b.created_unix_ms = UINT64_MAX - 5, b.lifetime_ms = 6),
         "overflows");
    CASE(0, strcpy(b.name, "bad\xff utf8"), "name 'bad? utf8' is not text");
    CASE(0, strcpy(b.name, "\xc0\x80"), "is not text");  /* overlong NUL */
    CASE(0, strcpy(b.name, "\xed\xa0\x80"), "is not text"); /* surrogate */
    CASE(0, strcpy(b.name, "tab\there"), "is not text");
    CASE(1, b.chunk_index = 3, "chunk_index 3 is not below chunk_count 3");
    CASE(1, b.offset = b.object_size - 10, "lies outside the");
    CASE(1, b.offset = UINT64_MAX - 10, "lies outside the");
    CASE(1, (b.object_size = WIRE_OBJECT_MAX + 1, b.offset = 0),
         "exceeds the limit");
    CASE(1, (b.object_size = 64, b.offset = 0, b.chunk_count = 65),
         "chunk_count 65 for a 64-byte object");
#undef CASE
    /* Valid UTF-8 names pass. */
    sample_bundle(&b, payload, sizeof payload, 1);
    strcpy(b.name, "t\xc3\xa9nsor/\xe2\x82\xac/\xf0\x9f\x9a\x80");
    ck_assert_int_eq(wire_bundle_validate(&b, err, sizeof err), 0);
    /* Strings too long for the struct, straight from the wire. */
    {
        char longname[WIRE_NAME_MAX + 1], longnode[WIRE_NODE_MAX + 1];
        memset(longname, 'n', WIRE_NAME_MAX);
        longname[WIRE_NAME_MAX] = '\0';
        memset(longnode, 's', WIRE_NODE_MAX);
        longnode[WIRE_NODE_MAX] = '\0';
        sample_bundle(&b, payload, sizeof payload, 1);
        pb_from(&b, &pb);
        pb.name = longname;
        expect_pb(&pb, -EBADMSG, "name is 256 bytes, at most 255");
        pb_from(&b, &pb);
        pb.src = longnode;
        expect_pb(&pb, -EBADMSG, "src is 64 bytes, at most 63");
        pb_from(&b, &pb);
        pb.dst = longnode;
        expect_pb(&pb, -EBADMSG, "dst is 64 bytes, at most 63");
        /* An unterminated src in a caller's struct is refused, not read
         * past. */
        memset(b.src, 'x', WIRE_NODE_MAX);
        ck_assert_int_eq(wire_bundle_validate(&b, err, sizeof err),
                         -EBADMSG);
    }
}
END_TEST

START_TEST(test_bundle_nul_and_duplicate_payload)
{
    /* A NUL inside src would make protobuf-c cut "gs-mad\0x" to "gs-mad";
     * the scanner refuses it. A second payload field is refused too. */
    uint8_t payload[8] = "abcdefgh", *f, *g;
    size_t n;
    wire_msg m;
    memset(&m, 0, sizeof m);
    m.type = WIRE_MSG_BUNDLE;
    sample_bundle(&m.u.bundle, payload, sizeof payload, 0);
    f = enc(&m, &n);
    {
        /* src "gs-mad" is field 2: 12 06 'g' 's' '-' 'm' 'a' 'd'. */
        uint8_t *p = memmem(f, n, "\x12\x06gs-mad", 8);
        ck_assert_ptr_nonnull(p);
        p[4] = '\0';
        ck_assert_int_eq(dec(f, n, &m), -EBADMSG);
        ck_assert_ptr_nonnull(strstr(err, "src contains a NUL byte"));
        p[4] = '-';
    }
    /* Append a second payload field (42 01 'z') to the bundle. */
    g = malloc(n + 3);
    ck_assert_ptr_nonnull(g);
    memcpy(g, f, n);
    memcpy(g + n, "\x42\x01z", 3);
    ck_assert_uint_lt(g[5], 0x7d);      /* 1-byte bundle length */
    g[5] = (uint8_t)(g[5] + 3);
    wire_frame_put_len(g, (uint32_t)(n - 4 + 3));
    ck_assert_int_eq(dec(g, n + 3, &m), -EBADMSG);
    ck_assert_ptr_nonnull(strstr(err, "more than 1 payload fields"));
    free(g);
    free(f);
}
END_TEST

START_TEST(test_hello)
{
    wire_msg m, d;
    uint8_t *f;
    size_t n;
    Lagrange__V1__Frame fr = LAGRANGE__V1__FRAME__INIT;
    Lagrange__V1__Hello h = LAGRANGE__V1__HELLO__INIT;
    char *caps[17];

    memset(&m, 0, sizeof m);
    m.type = WIRE_MSG_HELLO;
    ck_assert_int_eq(wire_hello_init(&m.u.hello, "bad id", 4096), -EINVAL);
    ck_assert_int_eq(wire_hello_init(&m.u.hello, "luna-1", 4096), 0);
    for (int i = 0; i < WIRE_CAPS_MAX; i++)
        snprintf(m.u.hello.caps[i], WIRE_CAP_MAX, "cap.%d", i);
    m.u.hello.ncaps = WIRE_CAPS_MAX;
    f = enc(&m, &n);
    ck_assert_int_eq(dec(f, n, &d), 0);
    ck_assert_int_eq(d.type, WIRE_MSG_HELLO);
    ck_assert_str_eq(d.u.hello.node_id, "luna-1");
    ck_assert_uint_eq(d.u.hello.ncaps, WIRE_CAPS_MAX);
    ck_assert_str_eq(d.u.hello.caps[15], "cap.15");
    ck_assert_int_eq(wire_hello_check_version(&d.u.hello, err, sizeof err),
                     0);
    free(f);

    /* Version mismatch: decodes, then the check says what is wrong. */
    m.u.hello.version = 2;
    f = enc(&m, &n);
    ck_assert_int_eq(dec(f, n, &d), 0);
    ck_assert_int_eq(wire_hello_check_version(&d.u.hello, err, sizeof err),
                     -EPROTONOSUPPORT);
    ck_assert_str_eq(err, "peer luna-1 speaks wire protocol version 2; this "
                     "node speaks version 1 only");
    free(f);

    /* Encoder-side checks. */
    m.u.hello.version = 1;
    m.u.hello.max_frame = 100;
    ck_assert_int_eq(wire_msg_encode_alloc(&m, 4096, &f, &n, err,
                                           sizeof err), -EBADMSG);
    ck_assert_ptr_nonnull(strstr(err, "max_frame 100 is below 1024"));
    m.u.hello.max_frame = 4096;
    strcpy(m.u.hello.caps[3], "no spaces");
    ck_assert_int_eq(wire_msg_encode_alloc(&m, 4096, &f, &n, err,
                                           sizeof err), -EBADMSG);
    ck_assert_ptr_nonnull(strstr(err, "capability 3"));

    /* Decoder-side: 17 capabilities, a bad node id, max_frame 0. */
    for (int i = 0; i < 17; i++)
        caps[i] = "x";
    h.node_id = "gs-mad";
    h.version = 1;
    h.max_frame = 4096;
    h.n_capabilities = 17;
    h.capabilities = caps;
    fr.body_case = LAGRANGE__V1__FRAME__BODY_HELLO;
    fr.hello = &h;
    ck_assert_int_eq(wire_frame_encode_alloc(&fr, 4096, &f, &n, err,
                                             sizeof err), 0);
    ck_assert_int_eq(dec(f, n, &d), -EBADMSG);
    ck_assert_ptr_nonnull(strstr(err, "more than 16 capabilities"));
    free(f);
    h.n_capabilities = 0;
    h.node_id = "gs mad";
    ck_assert_int_eq(wire_frame_encode_alloc(&fr, 4096, &f, &n, err,
                                             sizeof err), 0);
    ck_assert_int_eq(dec(f, n, &d), -EBADMSG);
    ck_assert_ptr_nonnull(strstr(err, "node_id 'gs mad' is not a node id"));
    free(f);
    h.node_id = "gs-mad";
    h.max_frame = 0;
    ck_assert_int_eq(wire_frame_encode_alloc(&fr, 4096, &f, &n, err,
                                             sizeof err), 0);
    ck_assert_int_eq(dec(f, n, &d), -EBADMSG);
    ck_assert_ptr_nonnull(strstr(err, "max_frame 0 is below"));
    free(f);
}
END_TEST

static void sample_health(wire_health *h, const char *node, double load,
                          double soc, int sunlit)
{
    memset(h, 0, sizeof *h);
    snprintf(h->node, sizeof h->node, "%s", node);
    h->unix_ms = 1700000001234ull;
    h->seq = 77;
    h->boot_unix_ms = 1700000000000ull;
    h->jobs_running = 2;
    h->jobs_queued = 40000;
    h->load = load;
    h->battery_soc = soc;
    h->sunlit = sunlit;
    h->fault_exec_checksum = 3;
    h->fault_ecc = 1ull << 40;
    h->fault_spool_quarantined = 5;
}

/* Heartbeat health records: a full round trip at the limit, the size
 * bound the daemon packs by, the limit on the wire, and bad records
 * (skipped and counted on decode, refused on encode). */
START_TEST(test_heartbeat_health)
{
    static wire_msg m, d;
    uint8_t *f;
    size_t n;
    char name[32];
    Lagrange__V1__Frame fr = LAGRANGE__V1__FRAME__INIT;
    Lagrange__V1__Heartbeat hb = LAGRANGE__V1__HEARTBEAT__INIT;
    Lagrange__V1__NodeHealth nh[WIRE_HEALTH_MAX + 1], *nhp[WIRE_HEALTH_MAX + 1];

    memset(&m, 0, sizeof m);
    m.type = WIRE_MSG_HEARTBEAT;
    m.u.heartbeat.unix_ms = 1700000009999ull;
    m.u.heartbeat.seq = 9;
    for (int i = 0; i < WIRE_HEALTH_MAX; i++) {
        wire_health *h = &m.u.heartbeat.health[i];
        /* Widest values: the size bound must hold for them. */
        sample_health(h, "x", i % 2 ? 0.5 : 1, i % 3 ? -1 : 0.123, i % 2);
        memset(h->node, 'n', WIRE_NODE_MAX - 1);
        h->node[WIRE_NODE_MAX - 1] = '\0';
        h->node[0] = (char)('a' + i % 26);
        h->unix_ms = h->seq = h->boot_unix_ms = UINT64_MAX;
        h->jobs_running = h->jobs_queued = UINT32_MAX;
        h->fault_exec_checksum = h->fault_ecc = UINT64_MAX;
        h->fault_spool_quarantined = UINT64_MAX;
    }
    m.u.heartbeat.n_health = WIRE_HEALTH_MAX;
    f = enc(&m, &n);
    ck_assert_uint_le(n, WIRE_HEARTBEAT_HEAD_MAX +
                             WIRE_HEALTH_MAX * WIRE_HEALTH_ENC_MAX);
    ck_assert_int_eq(dec(f, n, &d), 0);
    ck_assert_int_eq(d.type, WIRE_MSG_HEARTBEAT);
    ck_assert_uint_eq(d.u.heartbeat.seq, 9);
    ck_assert_uint_eq(d.u.heartbeat.n_health, WIRE_HEALTH_MAX);
    ck_assert_uint_eq(d.u.heartbeat.n_health_bad, 0);
    for (int i = 0; i < WIRE_HEALTH_MAX; i++) {
        const wire_health *a = &m.u.heartbeat.health[i],
                          *b = &d.u.heartbeat.health[i];
        ck_assert_str_eq(a->node, b->node);
        ck_assert_uint_eq(a->unix_ms, b->unix_ms);
        ck_assert_uint_eq(a->seq, b->seq);
        ck_assert_uint_eq(a->boot_unix_ms, b->boot_unix_ms);
        ck_assert_uint_eq(a->jobs_running, b->jobs_running);
        ck_assert_uint_eq(a->jobs_queued, b->jobs_queued);
        ck_assert(a->load == b->load);
        ck_assert(a->battery_soc == b->battery_soc);
        ck_assert_int_eq(a->sunlit, b->sunlit);
        ck_assert_uint_eq(a->fault_exec_checksum, b->fault_exec_checksum);
        ck_assert_uint_eq(a->fault_ecc, b->fault_ecc);
        ck_assert_uint_eq(a->fault_spool_quarantined,
                          b->fault_spool_quarantined);
    }
    free(f);
    /* A small frame: one record's bound, each. */
    m.u.heartbeat.n_health = 1;
    f = enc(&m, &n);
    ck_assert_uint_le(n, WIRE_HEARTBEAT_HEAD_MAX + WIRE_HEALTH_ENC_MAX);
    free(f);
    /* Too many records, and bad ones, are refused on encode. */
    m.u.heartbeat.n_health = WIRE_HEALTH_MAX + 1;
    ck_assert_int_eq(wire_msg_encode_alloc(&m, 1 << 20, &f, &n, err,
                                           sizeof err), -EBADMSG);
    m.u.heartbeat.n_health = 2;
    m.u.heartbeat.health[1].battery_soc = 1.5;
    ck_assert_int_eq(wire_msg_encode_alloc(&m, 1 << 20, &f, &n, err,
                                           sizeof err), -EBADMSG);
    ck_assert_ptr_nonnull(strstr(err, "battery_soc 1.5"));
    m.u.heartbeat.health[1].battery_soc = -1;
    m.u.heartbeat.health[1].load = NAN;
    ck_assert_int_eq(wire_msg_encode_alloc(&m, 1 << 20, &f, &n, err,
                                           sizeof err), -EBADMSG);
    ck_assert_ptr_nonnull(strstr(err, "load"));
    m.u.heartbeat.health[1].load = 0;
    strcpy(m.u.heartbeat.health[1].node, "bad name");
    ck_assert_int_eq(wire_msg_encode_alloc(&m, 1 << 20, &f, &n, err,
                                           sizeof err), -EBADMSG);

    /* From the wire: bad records are skipped and counted, the heartbeat
     * and the good records stay. */
    for (int i = 0; i < 5; i++) {
        lagrange__v1__node_health__init(&nh[i]);
        snprintf(name, sizeof name, "node-%d", i);
        nh[i].node = strdup(name);
        nh[i].unix_ms = 5;
        nh[i].boot_unix_ms = 4;
        nh[i].load = 0.5;
        nh[i].battery_soc = 0.5;
        nhp[i] = &nh[i];
    }
    nh[1].load = -0.1;                  /* out of range */
    nh[2].battery_soc = NAN;            /* not a number */
    nh[3].boot_unix_ms = 0;             /* unset */
    free(nh[4].node);
    nh[4].node = strdup("sp ace");      /* not a node id */
    hb.unix_ms = 1;
    hb.n_health = 5;
    hb.health = nhp;
    fr.body_case = LAGRANGE__V1__FRAME__BODY_HEARTBEAT;
    fr.heartbeat = &hb;
    ck_assert_int_eq(wire_frame_encode_alloc(&fr, 1 << 20, &f, &n, err,
                                             sizeof err), 0);
    ck_assert_int_eq(dec(f, n, &d), 0);
    ck_assert_uint_eq(d.u.heartbeat.n_health, 1);
    ck_assert_uint_eq(d.u.heartbeat.n_health_bad, 4);
    ck_assert_str_eq(d.u.heartbeat.health[0].node, "node-0");
    free(f);
    /* More than WIRE_HEALTH_MAX records: the frame is refused. */
    for (int i = 0; i <= WIRE_HEALTH_MAX; i++)
        nhp[i] = &nh[0];
    hb.n_health = WIRE_HEALTH_MAX + 1;
    ck_assert_int_eq(wire_frame_encode_alloc(&fr, 1 << 20, &f, &n, err,
                                             sizeof err), 0);
    ck_assert_int_eq(dec(f, n, &d), -EBADMSG);
    ck_assert_ptr_nonnull(strstr(err, "more than 256 health records"));
    free(f);
    for (int i = 0; i < 5; i++)
        free(nh[i].node);
}
END_TEST

START_TEST(test_ack_heartbeat_goodbye)
{
    wire_msg m, d;
    uint8_t *f, short_id[15] = {0};
    size_t n;
    Lagrange__V1__Frame fr = LAGRANGE__V1__FRAME__INIT;
    Lagrange__V1__Ack a = LAGRANGE__V1__ACK__INIT;
    ProtobufCBinaryData ids[WIRE_ACK_MAX + 1];

    memset(&m, 0, sizeof m);
    m.type = WIRE_MSG_ACK;
    m.u.ack.n = WIRE_ACK_MAX;
    fill_random(&m.u.ack.ids[0][0], sizeof m.u.ack.ids);
    f = enc(&m, &n);
    ck_assert_int_eq(dec(f, n, &d), 0);
    ck_assert_uint_eq(d.u.ack.n, WIRE_ACK_MAX);
    ck_assert_int_eq(memcmp(d.u.ack.ids, m.u.ack.ids, sizeof m.u.ack.ids),
                     0);
    free(f);
    m.u.ack.n = WIRE_ACK_MAX + 1;
    ck_assert_int_eq(wire_msg_encode_alloc(&m, 1 << 20, &f, &n, err,
                                           sizeof err), -EBADMSG);
    /* From the wire: 257 ids, and an id of 15 bytes. */
    for (int i = 0; i <= WIRE_ACK_MAX; i++) {
        ids[i].len = WIRE_ID_LEN;
        ids[i].data = m.u.ack.ids[0];
    }
    a.ids = ids;
    a.n_ids = WIRE_ACK_MAX + 1;
    fr.body_case = LAGRANGE__V1__FRAME__BODY_ACK;
    fr.ack = &a;
    ck_assert_int_eq(wire_frame_encode_alloc(&fr, 1 << 20, &f, &n, err,
                                             sizeof err), 0);
    ck_assert_int_eq(dec(f, n, &d), -EBADMSG);
    ck_assert_ptr_nonnull(strstr(err, "more than 256 ids"));
    free(f);
    a.n_ids = 3;
    ids[2].len = 15;
    ids[2].data = short_id;
    ck_assert_int_eq(wire_frame_encode_alloc(&fr, 1 << 20, &f, &n, err,
                                             sizeof err), 0);
    ck_assert_int_eq(dec(f, n, &d), -EBADMSG);
    ck_assert_ptr_nonnull(strstr(err, "ack: id 2 is 15 bytes, want 16"));
    free(f);

    memset(&m, 0, sizeof m);
    m.type = WIRE_MSG_HEARTBEAT;
    m.u.heartbeat.unix_ms = UINT64_MAX;
    m.u.heartbeat.seq = 12345678901ull;
    f = enc(&m, &n);
    ck_assert_int_eq(dec(f, n, &d), 0);
    ck_assert_int_eq(d.type, WIRE_MSG_HEARTBEAT);
    ck_assert_uint_eq(d.u.heartbeat.unix_ms, UINT64_MAX);
    ck_assert_uint_eq(d.u.heartbeat.seq, 12345678901ull);
    free(f);

    memset(&m, 0, sizeof m);
    m.type = WIRE_MSG_GOODBYE;
    strcpy(m.u.goodbye.reason, "version mismatch: peer speaks 2, "
           "\xc3\xa9t\xc3\xa9");
    f = enc(&m, &n);
    ck_assert_int_eq(dec(f, n, &d), 0);
    ck_assert_str_eq(d.u.goodbye.reason, m.u.goodbye.reason);
    ck_assert_str_eq(wire_msg_type_name(d.type), "goodbye");
    free(f);
    strcpy(m.u.goodbye.reason, "bell\a");
    ck_assert_int_eq(wire_msg_encode_alloc(&m, 1 << 20, &f, &n, err,
                                           sizeof err), -EBADMSG);
    ck_assert_ptr_nonnull(strstr(err, "reason is not text"));
}
END_TEST

/* --------------------------------------------------------------- chunk */

#define OBJ_SIZE ((size_t)10 << 20)

typedef struct asm_sink {
    wire_chunk_asm *a;
    int done;                   /* add returned 1 */
    size_t frames;
} asm_sink;

static int asm_cb(void *ud, const uint8_t *body, size_t len, char *e,
                  size_t elen)
{
    asm_sink *s = ud;
    wire_msg m;
    int rc = wire_msg_decode(body, len, &m, e, elen);
    if (rc < 0)
        return rc;
    if (m.type != WIRE_MSG_BUNDLE)
        return lg_errf(e, elen, -EPROTO, "not a bundle");
    rc = wire_chunk_asm_add(s->a, &m.u.bundle, e, elen);
    if (rc < 0)
        return rc;
    s->frames++;
    if (rc == 1)
        s->done = 1;
    return 0;
}

static void tmpl_bundle(wire_bundle *t)
{
    memset(t, 0, sizeof *t);
    strcpy(t->src, "gs-mad");
    strcpy(t->dst, "luna-1");
    t->created_unix_ms = 1700000000000ull;
    t->lifetime_ms = 86400000;
    t->priority = 3;
    t->kind = WIRE_KIND_TENSOR_CHUNK;
    strcpy(t->name, "input.1");
    /* No ck_assert: --emit calls this outside the test runner. */
    if (wire_bundle_new_id(t->object_id) != 0)
        abort();
}

START_TEST(test_chunk_10mib_shuffled_duplicated)
{
    uint8_t *obj = malloc(OBJ_SIZE), *stream = NULL;
    size_t total = 0, order[40], norder = 0;
    wire_chunk_split sp;
    wire_bundle t, b;
    wire_frame_reader r;
    asm_sink s = {0};
    uint32_t count;
    uint64_t size;

    ck_assert_ptr_nonnull(obj);
    fill_random(obj, OBJ_SIZE);
    tmpl_bundle(&t);
    ck_assert_int_eq(wire_chunk_split_init(&sp, obj, OBJ_SIZE, 0, &t, err,
                                           sizeof err), 0);
    count = wire_chunk_split_count(&sp);
    ck_assert_uint_eq(count, 10);
    /* Every chunk once, then 5 duplicates, shuffled together. */
    for (uint32_t i = 0; i < count; i++)
        order[norder++] = i;
    for (int k = 0; k < 5; k++)
        order[norder++] = rnd() % count;
    for (size_t i = norder - 1; i > 0; i--) {
        size_t j = rnd() % (i + 1), tmp = order[i];
        order[i] = order[j];
        order[j] = tmp;
    }
    for (size_t k = 0; k < norder; k++) {
        wire_msg m;
        uint8_t *f;
        size_t n;
        memset(&m, 0, sizeof m);
        m.type = WIRE_MSG_BUNDLE;
        ck_assert_int_eq(wire_chunk_split_get(&sp, (uint32_t)order[k],
                                              &m.u.bundle), 0);
        ck_assert_ptr_eq(m.u.bundle.payload,
                         obj + (size_t)order[k] * WIRE_CHUNK_DEFAULT);
        f = enc(&m, &n);
        stream = realloc(stream, total + n);
        ck_assert_ptr_nonnull(stream);
        memcpy(stream + total, f, n);
        total += n;
        free(f);
    }
    ck_assert_int_eq(wire_chunk_split_get(&sp, count, &b), -ERANGE);

    /* Through the frame reader in 64 KiB slices, as a socket would. */
    ck_assert_int_eq(wire_chunk_asm_new(&s.a, 64 << 20, err, sizeof err), 0);
    ck_assert_int_eq(wire_chunk_asm_state(s.a), WIRE_CHUNK_EMPTY);
    ck_assert_int_eq(wire_frame_reader_init(&r, WIRE_FRAME_DEFAULT_MAX,
                                            asm_cb, &s, err, sizeof err), 0);
    for (size_t off = 0; off < total; off += 65536) {
        size_t n = total - off < 65536 ? total - off : 65536;
        int rc = wire_frame_reader_feed(&r, stream + off, n, err,
                                        sizeof err);
        ck_assert_msg(rc >= 0, "%s", err);
    }
    ck_assert_int_eq(wire_frame_reader_finish(&r, err, sizeof err), 0);
    ck_assert_uint_eq(s.frames, norder);
    ck_assert(s.done);
    ck_assert_int_eq(wire_chunk_asm_state(s.a), WIRE_CHUNK_DONE);
    ck_assert_uint_eq(wire_chunk_asm_missing(s.a), 0);
    ck_assert_int_eq(memcmp(wire_chunk_asm_data(s.a, &size), obj, OBJ_SIZE),
                     0);
    ck_assert_uint_eq(size, OBJ_SIZE);
    /* A duplicate after completion is harmless. */
    ck_assert_int_eq(wire_chunk_split_get(&sp, 4, &b), 0);
    ck_assert_int_eq(wire_chunk_asm_add(s.a, &b, err, sizeof err), 1);
    {
        uint8_t *own = wire_chunk_asm_take(s.a, &size);
        ck_assert_ptr_nonnull(own);
        ck_assert_ptr_null(wire_chunk_asm_data(s.a, NULL));
        ck_assert_int_eq(wire_chunk_asm_add(s.a, &b, err, sizeof err), 1);
        free(own);
    }
    wire_frame_reader_free(&r);
    wire_chunk_asm_free(s.a);
    free(stream);
    free(obj);
}
END_TEST

START_TEST(test_chunk_corrupted)
{
    /* Chunk 2's bytes changed and resealed, as by a buggy sender: each
     * bundle passes its own check, the object does not. */
    uint8_t obj[10000], bad[1000];
    wire_chunk_split sp;
    wire_chunk_asm *a;
    wire_bundle t, b;
    int rc = 0;
    fill_random(obj, sizeof obj);
    tmpl_bundle(&t);
    ck_assert_int_eq(wire_chunk_split_init(&sp, obj, sizeof obj, 1000, &t,
                                           err, sizeof err), 0);
    ck_assert_uint_eq(wire_chunk_split_count(&sp), 10);
    ck_assert_int_eq(wire_chunk_asm_new(&a, sizeof obj, err, sizeof err), 0);
    for (uint32_t i = 0; i < 10; i++) {
        ck_assert_int_eq(wire_chunk_split_get(&sp, 9 - i, &b), 0);
        if (9 - i == 2) {
            memcpy(bad, b.payload, sizeof bad);
            bad[17] ^= 1;
            b.payload = bad;
            wire_bundle_seal(&b);
        }
        ck_assert_int_eq(wire_bundle_verify(&b, err, sizeof err), 0);
        rc = wire_chunk_asm_add(a, &b, err, sizeof err);
        if (i < 9)
            ck_assert_int_eq(rc, 0);
    }
    ck_assert_int_eq(rc, WIRE_ECHECKSUM);
    ck_assert_ptr_nonnull(strstr(err, "sha256 mismatch after reassembly"));
    ck_assert_int_eq(wire_chunk_asm_state(a), WIRE_CHUNK_FAILED);
    ck_assert_ptr_null(wire_chunk_asm_data(a, NULL));
    ck_assert_ptr_null(wire_chunk_asm_take(a, NULL));
    ck_assert_int_eq(wire_chunk_asm_add(a, &b, err, sizeof err), -EINVAL);
    wire_chunk_asm_free(a);
}
END_TEST

START_TEST(test_chunk_inconsistent)
{
    uint8_t obj[5000], other[1000];
    wire_chunk_split sp;
    wire_chunk_asm *a;
    wire_bundle t, b;
    fill_random(obj, sizeof obj);
    fill_random(other, sizeof other);
    tmpl_bundle(&t);
    ck_assert_int_eq(wire_chunk_split_init(&sp, obj, sizeof obj, 1000, &t,
                                           err, sizeof err), 0);
    ck_assert_int_eq(wire_chunk_asm_new(&a, 1 << 20, err, sizeof err), 0);
    ck_assert_int_eq(wire_chunk_split_get(&sp, 0, &b), 0);
    ck_assert_int_eq(wire_chunk_asm_add(a, &b, err, sizeof err), 0);
    ck_assert_uint_eq(wire_chunk_asm_missing(a), 4);

    /* Another object_size, count or sha: refused, state kept. */
    ck_assert_int_eq(wire_chunk_split_get(&sp, 1, &b), 0);
    b.object_size = 6000;
    ck_assert_int_eq(wire_chunk_asm_add(a, &b, err, sizeof err), -EBADMSG);
    ck_assert_ptr_nonnull(strstr(err, "says 6000 bytes in 5 chunks, earlier "
                                 "chunks said 5000 bytes in 5 chunks"));
    ck_assert_int_eq(wire_chunk_split_get(&sp, 1, &b), 0);
    b.chunk_count = 6;
    ck_assert_int_eq(wire_chunk_asm_add(a, &b, err, sizeof err), -EBADMSG);
    ck_assert_ptr_nonnull(strstr(err, "in 6 chunks"));
    ck_assert_int_eq(wire_chunk_split_get(&sp, 1, &b), 0);
    b.object_sha256[0] ^= 1;
    ck_assert_int_eq(wire_chunk_asm_add(a, &b, err, sizeof err), -EBADMSG);
    ck_assert_ptr_nonnull(strstr(err, "another sha256"));
    ck_assert_int_eq(wire_chunk_split_get(&sp, 1, &b), 0);
    b.object_id[0] ^= 1;
    ck_assert_int_eq(wire_chunk_asm_add(a, &b, err, sizeof err), -EBADMSG);
    ck_assert_ptr_nonnull(strstr(err, "another object"));
    /* Chunk 0 again with other bytes. */
    ck_assert_int_eq(wire_chunk_split_get(&sp, 0, &b), 0);
    b.payload = other;
    wire_bundle_seal(&b);
    ck_assert_int_eq(wire_chunk_asm_add(a, &b, err, sizeof err), -EBADMSG);
    ck_assert_ptr_nonnull(strstr(err, "chunk 0 arrived again with other"));
    /* A chunk that is not a chunk. */
    {
        wire_bundle c;
        sample_bundle(&c, other, 10, 0);
        ck_assert_int_eq(wire_chunk_asm_add(a, &c, err, sizeof err),
                         -EBADMSG);
        ck_assert_ptr_nonnull(strstr(err, "not a chunk"));
    }
    ck_assert_uint_eq(wire_chunk_asm_missing(a), 4);
    ck_assert_int_eq(wire_chunk_asm_state(a), WIRE_CHUNK_FILLING);
    /* The right chunks still complete the object. */
    for (uint32_t i = 0; i < 5; i++) {
        ck_assert_int_eq(wire_chunk_split_get(&sp, i, &b), 0);
        ck_assert_int_eq(wire_chunk_asm_add(a, &b, err, sizeof err),
                         i == 4 ? 1 : 0);
    }
    wire_chunk_asm_free(a);
}
END_TEST

START_TEST(test_chunk_overlap_coverage)
{
    /* Consistent metadata, sealed payloads, but chunks that overlap and
     * leave a gap: refused at completion, before the hash. */
    uint8_t obj[300];
    wire_chunk_split sp;
    wire_chunk_asm *a;
    wire_bundle t, b;
    fill_random(obj, sizeof obj);
    tmpl_bundle(&t);
    ck_assert_int_eq(wire_chunk_split_init(&sp, obj, sizeof obj, 100, &t,
                                           err, sizeof err), 0);
    ck_assert_int_eq(wire_chunk_asm_new(&a, 1000, err, sizeof err), 0);
    for (uint32_t i = 0; i < 3; i++) {
        ck_assert_int_eq(wire_chunk_split_get(&sp, i, &b), 0);
        if (i == 2) {
            b.offset = 50;
            b.payload = obj + 50;
            b.payload_len = 50;
            wire_bundle_seal(&b);
        }
        ck_assert_int_eq(wire_chunk_asm_add(a, &b, err, sizeof err),
                         i == 2 ? -EBADMSG : 0);
    }
    ck_assert_ptr_nonnull(strstr(err, "carry 250 bytes, the object has 300"));
    ck_assert_int_eq(wire_chunk_asm_state(a), WIRE_CHUNK_FAILED);
    wire_chunk_asm_free(a);
}
END_TEST

START_TEST(test_chunk_cap_and_edges)
{
    uint8_t obj[10] = "abcdefghij";
    wire_chunk_split sp;
    wire_chunk_asm *a;
    wire_bundle t, b, c;
    uint64_t size;

    tmpl_bundle(&t);
    /* The cap is checked on the first chunk, before allocating. */
    ck_assert_int_eq(wire_chunk_split_init(&sp, obj, sizeof obj, 4, &t, err,
                                           sizeof err), 0);
    ck_assert_uint_eq(wire_chunk_split_count(&sp), 3);
    ck_assert_int_eq(wire_chunk_asm_new(&a, 9, err, sizeof err), 0);
    ck_assert_int_eq(wire_chunk_split_get(&sp, 2, &b), 0);
    ck_assert_uint_eq(b.payload_len, 2);
    ck_assert_uint_eq(b.offset, 8);
    ck_assert_int_eq(wire_chunk_asm_add(a, &b, err, sizeof err), -EFBIG);
    ck_assert_ptr_nonnull(strstr(err, "10 bytes exceed the cap 9"));
    ck_assert_int_eq(wire_chunk_asm_state(a), WIRE_CHUNK_EMPTY);
    wire_chunk_asm_free(a);
    wire_chunk_asm_free(NULL);
    ck_assert_int_eq(wire_chunk_asm_new(&a, WIRE_OBJECT_MAX + 1, err,
                                        sizeof err), -EINVAL);
    ck_assert_ptr_null(a);

    /* Chunk ids: distinct, deterministic, as split_get gives them. */
    ck_assert_int_eq(wire_chunk_split_get(&sp, 0, &b), 0);
    ck_assert_int_eq(wire_chunk_split_get(&sp, 1, &c), 0);
    ck_assert_int_ne(memcmp(b.id, c.id, WIRE_ID_LEN), 0);
    {
        uint8_t id[WIRE_ID_LEN];
        wire_chunk_bundle_id(t.object_id, 1, id);
        ck_assert_mem_eq(id, c.id, WIRE_ID_LEN);
    }

    /* One-byte chunks; an exact multiple; the empty object. */
    for (size_t chunk = 1; chunk <= 10; chunk += 4) {
        ck_assert_int_eq(wire_chunk_split_init(&sp, obj, sizeof obj, chunk,
                                               &t, err, sizeof err), 0);
        ck_assert_int_eq(wire_chunk_asm_new(&a, 100, err, sizeof err), 0);
        for (uint32_t i = 0; i < wire_chunk_split_count(&sp); i++) {
            ck_assert_int_eq(wire_chunk_split_get(&sp, i, &b), 0);
            ck_assert_int_eq(wire_chunk_asm_add(a, &b, err, sizeof err),
                             i + 1 == wire_chunk_split_count(&sp));
        }
        ck_assert_int_eq(memcmp(wire_chunk_asm_data(a, &size), obj, 10), 0);
        wire_chunk_asm_free(a);
    }
    ck_assert_int_eq(wire_chunk_split_init(&sp, NULL, 0, 0, &t, err,
                                           sizeof err), 0);
    ck_assert_uint_eq(wire_chunk_split_count(&sp), 1);
    ck_assert_int_eq(wire_chunk_asm_new(&a, 0, err, sizeof err), 0);
    ck_assert_int_eq(wire_chunk_split_get(&sp, 0, &b), 0);
    ck_assert_uint_eq(b.payload_len, 0);
    ck_assert_int_eq(wire_chunk_asm_add(a, &b, err, sizeof err), 1);
    ck_assert_ptr_nonnull(wire_chunk_asm_data(a, &size));
    ck_assert_uint_eq(size, 0);
    wire_chunk_asm_free(a);

    /* Bad splits. */
    memset(t.object_id, 0, WIRE_ID_LEN);
    ck_assert_int_eq(wire_chunk_split_init(&sp, obj, 10, 0, &t, err,
                                           sizeof err), -EINVAL);
    tmpl_bundle(&t);
    strcpy(t.dst, "no/where");
    ck_assert_int_eq(wire_chunk_split_init(&sp, obj, 10, 0, &t, err,
                                           sizeof err), -EBADMSG);
    tmpl_bundle(&t);
    ck_assert_int_eq(wire_chunk_split_init(&sp, obj, WIRE_OBJECT_MAX + 1, 0,
                                           &t, err, sizeof err), -EFBIG);
}
END_TEST

/* ------------------------------------------------------- oracle modes */

static void hex(FILE *f, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%02x", p[i]);
}

/* The dump format shared with tests/wire/oracle.py: key=value lines,
 * bytes and text as hex, payloads by length and SHA-256. */
static void dump(FILE *f, const wire_msg *m)
{
    fprintf(f, "type=%s\n", wire_msg_type_name(m->type));
    switch (m->type) {
    case WIRE_MSG_HELLO:
        fprintf(f, "node_id=%s\nversion=%lu\nmax_frame=%lu\ncaps=",
                m->u.hello.node_id, (unsigned long)m->u.hello.version,
                (unsigned long)m->u.hello.max_frame);
        for (size_t i = 0; i < m->u.hello.ncaps; i++)
            fprintf(f, "%s%s", i ? "," : "", m->u.hello.caps[i]);
        fprintf(f, "\n");
        break;
    case WIRE_MSG_BUNDLE: {
        const wire_bundle *b = &m->u.bundle;
        uint8_t md[WIRE_SHA256_LEN];
        fprintf(f, "id=");
        hex(f, b->id, WIRE_ID_LEN);
        fprintf(f, "\nsrc=%s\ndst=%s\ncreated_unix_ms=%llu\n"
                "lifetime_ms=%llu\npriority=%lu\nkind=%d\nname=", b->src,
                b->dst, (unsigned long long)b->created_unix_ms,
                (unsigned long long)b->lifetime_ms,
                (unsigned long)b->priority, (int)b->kind);
        hex(f, (const uint8_t *)b->name, strlen(b->name));
        fprintf(f, "\nhops=%lu\njob=%s\njob_epoch=%lu\npayload_len=%zu\n"
                "payload_hash=", (unsigned long)b->hops, b->job,
                (unsigned long)b->job_epoch, b->payload_len);
        SHA256(b->payload ? b->payload : (const uint8_t *)"",
               b->payload_len, md);
        hex(f, md, sizeof md);
        fprintf(f, "\npayload_sha256=");
        hex(f, b->payload_sha256, WIRE_SHA256_LEN);
        fprintf(f, "\nobject_id=");
        if (b->chunk_count)
            hex(f, b->object_id, WIRE_ID_LEN);
        fprintf(f, "\nobject_size=%llu\noffset=%llu\nchunk_index=%lu\n"
                "chunk_count=%lu\nobject_sha256=",
                (unsigned long long)b->object_size,
                (unsigned long long)b->offset,
                (unsigned long)b->chunk_index,
                (unsigned long)b->chunk_count);
        if (b->chunk_count)
            hex(f, b->object_sha256, WIRE_SHA256_LEN);
        fprintf(f, "\n");
        break;
    }
    case WIRE_MSG_ACK:
        fprintf(f, "ids=");
        for (size_t i = 0; i < m->u.ack.n; i++) {
            if (i)
                fputc(',', f);
            hex(f, m->u.ack.ids[i], WIRE_ID_LEN);
        }
        fprintf(f, "\n");
        break;
    case WIRE_MSG_HEARTBEAT:
        fprintf(f, "unix_ms=%llu\nseq=%llu\n",
                (unsigned long long)m->u.heartbeat.unix_ms,
                (unsigned long long)m->u.heartbeat.seq);
        for (size_t i = 0; i < m->u.heartbeat.n_health; i++) {
            const wire_health *h = &m->u.heartbeat.health[i];
            fprintf(f, "health=%s,%llu,%llu,%llu,%lu,%lu,%.17g,%.17g,%d,"
                    "%llu,%llu,%llu\n", h->node,
                    (unsigned long long)h->unix_ms,
                    (unsigned long long)h->seq,
                    (unsigned long long)h->boot_unix_ms,
                    (unsigned long)h->jobs_running,
                    (unsigned long)h->jobs_queued, h->load, h->battery_soc,
                    h->sunlit, (unsigned long long)h->fault_exec_checksum,
                    (unsigned long long)h->fault_ecc,
                    (unsigned long long)h->fault_spool_quarantined);
        }
        break;
    case WIRE_MSG_GOODBYE:
        fprintf(f, "reason=");
        hex(f, (const uint8_t *)m->u.goodbye.reason,
            strlen(m->u.goodbye.reason));
        fprintf(f, "\n");
        break;
    default:
        break;
    }
}

static int emit_one(const char *dir, const char *name, const wire_msg *m)
{
    char path[4096];
    uint8_t *f;
    size_t n;
    FILE *out;
    if (wire_msg_encode_alloc(m, WIRE_FRAME_LIMIT, &f, &n, err,
                              sizeof err) < 0) {
        fprintf(stderr, "check_wire: encode %s: %s\n", name, err);
        return -1;
    }
    snprintf(path, sizeof path, "%s/%s.frame", dir, name);
    if (!(out = fopen(path, "wb")) || fwrite(f, 1, n, out) != n ||
        fclose(out) != 0) {
        perror(path);
        free(f);
        return -1;
    }
    free(f);
    snprintf(path, sizeof path, "%s/%s.txt", dir, name);
    if (!(out = fopen(path, "w"))) {
        perror(path);
        return -1;
    }
    dump(out, m);
    return fclose(out) == 0 ? 0 : -1;
}

/* Frames encoded here for Python to read: every type, edge values,
 * a 1 MiB chunk of a split object. */
static int emit(const char *dir)
{
    static uint8_t payload[1 << 20];
    wire_msg m;
    wire_chunk_split sp;
    wire_bundle t;
    int bad = 0;

    mkdir(dir, 0777);
    fill_random(payload, sizeof payload);
    memset(&m, 0, sizeof m);
    m.type = WIRE_MSG_HELLO;
    wire_hello_init(&m.u.hello, "gs-mad", WIRE_FRAME_DEFAULT_MAX);
    strcpy(m.u.hello.caps[0], "zstd");
    strcpy(m.u.hello.caps[1], "relay.v2");
    m.u.hello.ncaps = 2;
    bad |= emit_one(dir, "hello", &m);
    memset(&m, 0, sizeof m);
    m.type = WIRE_MSG_BUNDLE;
    sample_bundle(&m.u.bundle, payload, 1000, 1);
    strcpy(m.u.bundle.name, "t\xc3\xa9nsor:0/\xf0\x9f\x9a\x80");
    bad |= emit_one(dir, "bundle_chunked", &m);
    sample_bundle(&m.u.bundle, payload, 0, 0);
    bad |= emit_one(dir, "bundle_empty", &m);
    sample_bundle(&m.u.bundle, payload, 1, 0);
    m.u.bundle.created_unix_ms = UINT64_MAX - 1;
    m.u.bundle.lifetime_ms = 1;
    m.u.bundle.priority = 7;
    m.u.bundle.hops = 64;
    memset(m.u.bundle.src, 'S', WIRE_NODE_MAX - 1);
    memset(m.u.bundle.name, 'n', WIRE_NAME_MAX - 1);
    bad |= emit_one(dir, "bundle_edges", &m);
    tmpl_bundle(&t);
    if (wire_chunk_split_init(&sp, payload, sizeof payload - 5,
                              (sizeof payload >> 1) + 1, &t, err,
                              sizeof err) < 0 ||
        wire_chunk_split_get(&sp, 0, &m.u.bundle) < 0)
        return -1;
    bad |= emit_one(dir, "bundle_big", &m);
    if (wire_chunk_split_get(&sp, 1, &m.u.bundle) < 0)
        return -1;
    bad |= emit_one(dir, "bundle_tail", &m);
    memset(&m, 0, sizeof m);
    m.type = WIRE_MSG_ACK;
    m.u.ack.n = 3;
    fill_random(&m.u.ack.ids[0][0], 3 * WIRE_ID_LEN);
    bad |= emit_one(dir, "ack", &m);
    m.u.ack.n = 0;
    bad |= emit_one(dir, "ack_empty", &m);
    memset(&m, 0, sizeof m);
    m.type = WIRE_MSG_HEARTBEAT;
    m.u.heartbeat.unix_ms = 1700000000999ull;
    m.u.heartbeat.seq = UINT64_MAX;
    bad |= emit_one(dir, "heartbeat", &m);
    sample_health(&m.u.heartbeat.health[0], "leo-gpu-1", 0.25, 0.8125, 1);
    sample_health(&m.u.heartbeat.health[1], "gs-mad", 1, -1, 0);
    m.u.heartbeat.health[1].fault_ecc = UINT64_MAX;
    sample_health(&m.u.heartbeat.health[2], "luna-1", 0, 0, 1);
    m.u.heartbeat.health[2].load = 1.0 / 3;
    m.u.heartbeat.n_health = 3;
    bad |= emit_one(dir, "heartbeat_health", &m);
    memset(&m, 0, sizeof m);
    m.type = WIRE_MSG_GOODBYE;
    strcpy(m.u.goodbye.reason, "peer speaks version 2; \xc3\xa9");
    bad |= emit_one(dir, "goodbye", &m);
    return bad ? -1 : 0;
}

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    long n;
    if (!f)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 &&
        fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)n + 1)) &&
        fread(buf, 1, (size_t)n, f) == (size_t)n) {
        *len = (size_t)n;
        buf[n] = 0;
    } else {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    return buf;
}

/* Decode DIR/NAME.frame (Python's); compare with NAME.txt, or for bad_*
 * frames check the refusal against NAME.err ("code message-part"). */
static int verify_one(const char *dir, const char *name)
{
    char path[4096], *want = NULL, *got = NULL;
    size_t flen = 0, wlen = 0, glen = 0;
    uint8_t *frame;
    wire_msg m;
    int rc, ok = 0;
    FILE *mem;

    snprintf(path, sizeof path, "%s/%s.frame", dir, name);
    if (!(frame = slurp(path, &flen)) || flen < 4 ||
        wire_frame_get_len(frame) != flen - 4) {
        fprintf(stderr, "check_wire: %s: unreadable or bad prefix\n", path);
        free(frame);
        return -1;
    }
    rc = wire_msg_decode(frame + 4, flen - 4, &m, err, sizeof err);
    if (strncmp(name, "bad_", 4) == 0) {
        int code;
        char part[256];
        snprintf(path, sizeof path, "%s/%s.err", dir, name);
        want = (char *)slurp(path, &wlen);
        if (want && sscanf(want, "%d %255[^\n]", &code, part) == 2 &&
            rc == code && strstr(err, part))
            ok = 1;
        else
            fprintf(stderr, "check_wire: %s: got %d '%s', want %s", name,
                    rc, err, want ? want : "(no .err)\n");
        free(want);
        free(frame);
        return ok ? 0 : -1;
    }
    if (rc < 0) {
        fprintf(stderr, "check_wire: %s: %s\n", name, err);
        free(frame);
        return -1;
    }
    snprintf(path, sizeof path, "%s/%s.txt", dir, name);
    want = (char *)slurp(path, &wlen);
    mem = open_memstream(&got, &glen);
    if (mem) {
        dump(mem, &m);
        fclose(mem);
    }
    if (want && got && strcmp(want, got) == 0)
        ok = 1;
    else
        fprintf(stderr, "check_wire: %s differs\n--- python\n%s--- C\n%s",
                name, want ? want : "(none)\n", got ? got : "(none)\n");
    free(want);
    free(got);
    free(frame);
    return ok ? 0 : -1;
}

static int verify(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int bad = 0, n = 0;
    if (!d) {
        perror(dir);
        return -1;
    }
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        char name[256];
        if (l < 7 || l - 6 >= sizeof name ||
            strcmp(e->d_name + l - 6, ".frame") != 0)
            continue;
        memcpy(name, e->d_name, l - 6);
        name[l - 6] = '\0';
        bad |= verify_one(dir, name);
        n++;
    }
    closedir(d);
    printf("check_wire: verified %d frames from %s: %s\n", n, dir,
           bad || n == 0 ? "FAILED" : "ok");
    return bad || n == 0 ? -1 : 0;
}

/* ---------------------------------------------------------------- main */

int main(int argc, char **argv)
{
    Suite *s;
    TCase *fr, *bu, *ch;
    SRunner *sr;
    int failed;

    if (argc == 3 && strcmp(argv[1], "--emit") == 0)
        return emit(argv[2]) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
    if (argc == 3 && strcmp(argv[1], "--verify") == 0)
        return verify(argv[2]) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
    if (argc != 1) {
        fprintf(stderr, "usage: check_wire [--emit DIR | --verify DIR]\n");
        return 2;
    }
    s = suite_create("wire");
    fr = tcase_create("frame");
    bu = tcase_create("bundle");
    ch = tcase_create("chunk");
    tcase_add_test(fr, test_frame_round_trip_all_types);
    tcase_add_test(fr, test_frame_one_byte_at_a_time);
    tcase_add_test(fr, test_frame_random_slices);
    tcase_add_test(fr, test_frame_oversize_rejected_before_alloc);
    tcase_add_test(fr, test_frame_lazy_buffer);
    tcase_add_test(fr, test_frame_zero_length);
    tcase_add_test(fr, test_frame_truncated);
    tcase_add_test(fr, test_frame_callback_error);
    tcase_add_test(fr, test_frame_encode_limits);
    tcase_add_test(bu, test_bundle_round_trip_zero_copy);
    tcase_add_test(bu, test_bundle_head_plus_payload);
    tcase_add_test(bu, test_bundle_field_order);
    tcase_add_test(bu, test_bundle_unknown_fields);
    tcase_add_test(bu, test_bundle_garbage);
    tcase_add_test(bu, test_bundle_unknown_kind);
    tcase_add_test(bu, test_bundle_wrong_lengths);
    tcase_add_test(bu, test_bundle_bad_checksum);
    tcase_add_test(bu, test_bundle_invalid_fields);
    tcase_add_test(bu, test_bundle_nul_and_duplicate_payload);
    tcase_add_test(bu, test_hello);
    tcase_add_test(bu, test_ack_heartbeat_goodbye);
    tcase_add_test(bu, test_heartbeat_health);
    tcase_add_test(ch, test_chunk_10mib_shuffled_duplicated);
    tcase_add_test(ch, test_chunk_corrupted);
    tcase_add_test(ch, test_chunk_inconsistent);
    tcase_add_test(ch, test_chunk_overlap_coverage);
    tcase_add_test(ch, test_chunk_cap_and_edges);
    tcase_set_timeout(ch, 120);
    tcase_set_timeout(fr, 60);
    tcase_set_timeout(bu, 60);
    suite_add_tcase(s, fr);
    suite_add_tcase(s, bu);
    suite_add_tcase(s, ch);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
