/*
 * fuzz_frame.c - libFuzzer target for the peer link's wire code
 * (lib/wire/frame.c, bundle.c, chunk.c).
 *
 * Input: one mode byte, then bytes as a peer would send them. The bytes go
 * (1) straight to wire_msg_decode as one frame body, and (2) through a
 * wire_frame_reader (maximum 64 KiB) in slices whose size the mode byte
 * picks (low 4 bits: 0 = all at once, n = n bytes at a time), every frame
 * it delivers being decoded and every chunk fed to a reassembler (cap
 * 1 MiB). Beyond "no crash, no leak, no out-of-bounds read" (ASan/UBSan),
 * it checks the contracts: a failed decode leaves WIRE_MSG_NONE and a
 * NUL-terminated message; whatever decodes re-encodes (the encoder accepts
 * all the decoder accepts), and decodes again to the same message; a
 * bundle's payload lies inside the body it came from. Build and run with
 * tests/fuzz/run.sh.
 *
 * Seeds (tests/fuzz/corpus_frame/: every message type, a 3-chunk object
 * out of order with a duplicate, streams in 1- and 7-byte slices) are
 * written by Python's protobuf runtime:
 *   protoc-c -Iproto -o /tmp/wire.desc proto/lagrange/v1/wire.proto
 *   /usr/bin/python3 tests/wire/oracle.py corpus /tmp/wire.desc \
 *       tests/fuzz/corpus_frame
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bundle.h"
#include "chunk.h"
#include "frame.h"
#include "lgerr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void same_bundle(const wire_bundle *a, const wire_bundle *b)
{
    if (memcmp(a->id, b->id, sizeof a->id) || strcmp(a->src, b->src) ||
        strcmp(a->dst, b->dst) || strcmp(a->name, b->name) ||
        a->created_unix_ms != b->created_unix_ms ||
        a->lifetime_ms != b->lifetime_ms || a->priority != b->priority ||
        a->kind != b->kind || a->hops != b->hops ||
        memcmp(a->object_id, b->object_id, sizeof a->object_id) ||
        a->object_size != b->object_size || a->offset != b->offset ||
        a->chunk_index != b->chunk_index ||
        a->chunk_count != b->chunk_count ||
        memcmp(a->object_sha256, b->object_sha256, WIRE_SHA256_LEN) ||
        memcmp(a->payload_sha256, b->payload_sha256, WIRE_SHA256_LEN) ||
        a->payload_len != b->payload_len ||
        (a->payload_len && memcmp(a->payload, b->payload, a->payload_len)))
        abort();
}

static void same_msg(const wire_msg *a, const wire_msg *b)
{
    if (a->type != b->type)
        abort();
    switch (a->type) {
    case WIRE_MSG_BUNDLE:
        same_bundle(&a->u.bundle, &b->u.bundle);
        break;
    case WIRE_MSG_HELLO:
        if (memcmp(&a->u.hello, &b->u.hello, sizeof a->u.hello))
            abort();            /* both memset before filling */
        break;
    case WIRE_MSG_ACK:
        if (a->u.ack.n != b->u.ack.n ||
            memcmp(a->u.ack.ids, b->u.ack.ids, a->u.ack.n * WIRE_ID_LEN))
            abort();
        break;
    case WIRE_MSG_HEARTBEAT: {
        /* Field by field: records skipped at the first decode
         * (n_health_bad) are not re-encoded, and struct padding is not
         * part of the contract. */
        const wire_heartbeat *x = &a->u.heartbeat, *y = &b->u.heartbeat;
        if (x->unix_ms != y->unix_ms || x->seq != y->seq ||
            x->n_health != y->n_health || y->n_health_bad != 0)
            abort();
        for (size_t i = 0; i < x->n_health; i++) {
            const wire_health *h = &x->health[i], *k = &y->health[i];
            if (strcmp(h->node, k->node) || h->unix_ms != k->unix_ms ||
                h->seq != k->seq || h->boot_unix_ms != k->boot_unix_ms ||
                h->jobs_running != k->jobs_running ||
                h->jobs_queued != k->jobs_queued || h->load != k->load ||
                h->battery_soc != k->battery_soc || h->sunlit != k->sunlit ||
                h->fault_exec_checksum != k->fault_exec_checksum ||
                h->fault_ecc != k->fault_ecc ||
                h->fault_spool_quarantined != k->fault_spool_quarantined)
                abort();
        }
        break;
    }
    case WIRE_MSG_GOODBYE:
        if (strcmp(a->u.goodbye.reason, b->u.goodbye.reason))
            abort();
        break;
    default:
        abort();
    }
}

/* Decode one body and check the contracts; 0 and *m on success. */
static int decode_checked(const uint8_t *body, size_t len, wire_msg *m)
{
    char err[256];
    wire_msg *again;
    uint8_t *f;
    size_t flen;
    int rc;

    memset(err, 'x', sizeof err);
    rc = wire_msg_decode(body, len, m, err, sizeof err);
    if (rc < 0) {
        if (m->type != WIRE_MSG_NONE || !memchr(err, '\0', sizeof err))
            abort();
        return rc;
    }
    if (rc != 0 || m->type == WIRE_MSG_NONE)
        abort();
    if (m->type == WIRE_MSG_BUNDLE && m->u.bundle.payload_len &&
        (m->u.bundle.payload < body ||
         m->u.bundle.payload + m->u.bundle.payload_len > body + len))
        abort();                /* zero copy: inside the body */
    if (wire_msg_encode_alloc(m, WIRE_FRAME_LIMIT, &f, &flen, err,
                              sizeof err) < 0)
        abort();                /* decoded, so it must encode */
    if (flen < WIRE_FRAME_HDR || wire_frame_get_len(f) != flen - 4)
        abort();
    if (!(again = malloc(sizeof *again)))
        abort();
    if (wire_msg_decode(f + 4, flen - 4, again, err, sizeof err) != 0)
        abort();
    same_msg(m, again);
    free(again);
    free(f);
    return 0;
}

typedef struct ctx {
    wire_chunk_asm *a;          /* reassembler for this input */
    wire_msg *m;                /* scratch message (heap: it is big) */
} ctx;

static int on_frame(void *ud, const uint8_t *body, size_t len, char *err,
                    size_t errlen)
{
    ctx *c = ud;
    if (decode_checked(body, len, c->m) == 0 &&
        c->m->type == WIRE_MSG_BUNDLE && c->m->u.bundle.chunk_count) {
        int rc = wire_chunk_asm_add(c->a, &c->m->u.bundle, err, errlen);
        if (rc == 1 && !wire_chunk_asm_data(c->a, NULL))
            abort();
    }
    return 0;                   /* keep reading whatever happened */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    wire_frame_reader r;
    ctx c;
    size_t slice, off = 0;
    int rc = 0;

    if (size < 1)
        return 0;
    slice = data[0] & 15;
    data++;
    size--;
    if (!(c.m = malloc(sizeof *c.m)))
        abort();
    (void)decode_checked(data, size, c.m);

    if (wire_chunk_asm_new(&c.a, 1 << 20, err, sizeof err) != 0 ||
        wire_frame_reader_init(&r, 64 << 10, on_frame, &c, err,
                               sizeof err) != 0)
        abort();
    while (off < size) {
        size_t n = slice && slice < size - off ? slice : size - off;
        rc = wire_frame_reader_feed(&r, data + off, n, err, sizeof err);
        if (rc < 0)
            break;
        off += n;
    }
    if (rc < 0) {
        if (wire_frame_reader_state(&r) != WIRE_FRAME_ERROR ||
            wire_frame_reader_capacity(&r) > (64 << 10))
            abort();
    } else {
        (void)wire_frame_reader_finish(&r, err, sizeof err);
    }
    wire_frame_reader_free(&r);
    wire_chunk_asm_free(c.a);
    free(c.m);
    return 0;
}
