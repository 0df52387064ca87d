/*
 * frame.c - the peer link's framing: the incremental frame reader and the
 * length-prefixed Frame encoders (see frame.h for the contract).
 *
 * Why the reader buffers lazily: a header is 4 bytes, a maximum frame a
 * few MiB, and a link may have many peers. Allocating the announced length
 * up front would let each peer pin max bytes with 4 bytes sent; growing
 * with what arrives (doubling, capped at the announced length) bounds the
 * cost by what the peer actually sent, and the total by max.
 *
 * Threading: no globals; a reader is used by one thread.
 */
#include "frame.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lgerr.h"
#include "lagrange/v1/wire.pb-c.h"

#define BUF_MIN 4096u           /* first body buffer, unless want is less */

int wire_frame_reader_init(wire_frame_reader *r, uint32_t max,
                           wire_frame_cb cb, void *ud, char *err,
                           size_t errlen)
{
    memset(r, 0, sizeof *r);
    r->state = WIRE_FRAME_ERROR;
    r->error = -EINVAL;
    if (max == 0 || max > WIRE_FRAME_LIMIT)
        snprintf(r->errmsg, sizeof r->errmsg,
                 "frame maximum %lu is outside 1..%lu", (unsigned long)max,
                 (unsigned long)WIRE_FRAME_LIMIT);
    else if (!cb)
        snprintf(r->errmsg, sizeof r->errmsg,
                 "frame reader needs a callback");
    else {
        r->state = WIRE_FRAME_READ_LEN;
        r->error = 0;
        r->max = max;
        r->cb = cb;
        r->ud = ud;
        return 0;
    }
    return lg_errf(err, errlen, -EINVAL, "%s", r->errmsg);
}

/* Enter ERROR with code, keeping the detail for later calls, and copy the
 * detail into err. */
static int failf(wire_frame_reader *r, char *err, size_t errlen, int code,
                 const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int failf(wire_frame_reader *r, char *err, size_t errlen, int code,
                 const char *fmt, ...)
{
    va_list ap;
    r->state = WIRE_FRAME_ERROR;
    r->error = code;
    va_start(ap, fmt);
    vsnprintf(r->errmsg, sizeof r->errmsg, fmt, ap);
    va_end(ap);
    return lg_errf(err, errlen, code, "%s", r->errmsg);
}

/* Make room for at least need body bytes (need <= want <= max); ERROR
 * if that fails. */
static int reserve(wire_frame_reader *r, size_t need, char *err,
                   size_t errlen)
{
    size_t ncap;
    uint8_t *nb;
    if (need <= r->cap)
        return 0;
    ncap = r->cap ? r->cap * 2 : BUF_MIN;
    if (ncap < need)
        ncap = need;
    if (ncap > r->want)
        ncap = r->want;
    nb = realloc(r->buf, ncap);
    if (!nb)
        return failf(r, err, errlen, -ENOMEM,
                     "out of memory for a %zu-byte frame buffer", ncap);
    r->buf = nb;
    r->cap = ncap;
    return 0;
}

/* Hand a complete body to the callback; the reader is already back in
 * READ_LEN so that the next frame starts cleanly. */
static int deliver(wire_frame_reader *r, const uint8_t *body, size_t len,
                   char *err, size_t errlen)
{
    int rc;
    if (err && errlen)
        err[0] = '\0';
    r->state = WIRE_FRAME_READ_LEN;
    r->hdr_have = 0;
    r->have = 0;
    r->in_cb = 1;
    rc = r->cb(r->ud, body, len, err, errlen);
    r->in_cb = 0;
    if (rc < 0) {
        /* Keep what the callback wrote into err, if anything. */
        if (err && errlen && err[0])
            return failf(r, err, errlen, rc, "%.*s",
                         (int)sizeof r->errmsg - 1, err);
        return failf(r, err, errlen, rc, "frame consumer: %s",
                     lg_strerror(rc));
    }
    r->frames++;
    return 0;
}

int wire_frame_reader_feed(wire_frame_reader *r, const void *data,
                           size_t len, char *err, size_t errlen)
{
    const uint8_t *p = data;
    int frames = 0, rc;

    if (r->in_cb)
        return lg_errf(err, errlen, -EINVAL,
                       "frame reader fed from its own callback");
    if (r->state == WIRE_FRAME_ERROR)
        return lg_errf(err, errlen, r->error, "%s", r->errmsg);
    while (len > 0) {
        if (r->state == WIRE_FRAME_READ_LEN) {
            size_t n = WIRE_FRAME_HDR - r->hdr_have;
            uint32_t flen;
            if (n > len)
                n = len;
            memcpy(r->hdr + r->hdr_have, p, n);
            r->hdr_have += (unsigned)n;
            p += n;
            len -= n;
            r->bytes += n;
            if (r->hdr_have < WIRE_FRAME_HDR)
                break;
            flen = wire_frame_get_len(r->hdr);
            if (flen == 0)
                return failf(r, err, errlen, -EBADMSG,
                             "frame length 0 (after %llu frames)",
                             (unsigned long long)r->frames);
            if (flen > r->max)
                return failf(r, err, errlen, -EMSGSIZE,
                             "frame length %lu exceeds the link maximum %lu",
                             (unsigned long)flen, (unsigned long)r->max);
            r->want = flen;
            r->have = 0;
            r->state = WIRE_FRAME_READ_BODY;
            /* Whole body in this slice: no copy at all. */
            if (len >= flen) {
                r->bytes += flen;
                rc = deliver(r, p, flen, err, errlen);
                if (rc < 0)
                    return rc;
                frames++;
                p += flen;
                len -= flen;
            }
        } else if (r->state == WIRE_FRAME_READ_BODY) {
            size_t n = r->want - r->have;
            if (n > len)
                n = len;
            rc = reserve(r, (size_t)r->have + n, err, errlen);
            if (rc < 0)
                return rc;
            memcpy(r->buf + r->have, p, n);
            r->have += (uint32_t)n;
            r->bytes += n;
            p += n;
            len -= n;
            if (r->have == r->want) {
                rc = deliver(r, r->buf, r->want, err, errlen);
                if (rc < 0)
                    return rc;
                frames++;
            }
        } else {
            return lg_errf(err, errlen, r->error, "%s", r->errmsg);
        }
    }
    return frames;
}

int wire_frame_reader_finish(const wire_frame_reader *r, char *err,
                             size_t errlen)
{
    switch (r->state) {
    case WIRE_FRAME_READ_LEN:
        if (r->hdr_have == 0)
            return 0;
        return lg_errf(err, errlen, -EBADMSG,
                       "stream ended inside a frame header (%u of %u bytes)",
                       r->hdr_have, WIRE_FRAME_HDR);
    case WIRE_FRAME_READ_BODY:
        return lg_errf(err, errlen, -EBADMSG,
                       "stream ended inside a frame (%lu of %lu body bytes)",
                       (unsigned long)r->have, (unsigned long)r->want);
    case WIRE_FRAME_ERROR:
    default:
        return lg_errf(err, errlen, r->error ? r->error : -EINVAL, "%s",
                       r->errmsg);
    }
}

void wire_frame_reader_reset(wire_frame_reader *r)
{
    r->state = WIRE_FRAME_READ_LEN;
    r->hdr_have = 0;
    r->want = 0;
    r->have = 0;
    r->error = 0;
    r->errmsg[0] = '\0';
}

void wire_frame_reader_free(wire_frame_reader *r)
{
    free(r->buf);
    r->buf = NULL;
    r->cap = 0;
    r->have = 0;
}

wire_frame_state wire_frame_reader_state(const wire_frame_reader *r)
{
    return r->state;
}

size_t wire_frame_reader_capacity(const wire_frame_reader *r)
{
    return r->cap;
}

void wire_frame_put_len(uint8_t hdr[WIRE_FRAME_HDR], uint32_t len)
{
    hdr[0] = (uint8_t)(len >> 24);
    hdr[1] = (uint8_t)(len >> 16);
    hdr[2] = (uint8_t)(len >> 8);
    hdr[3] = (uint8_t)len;
}

uint32_t wire_frame_get_len(const uint8_t hdr[WIRE_FRAME_HDR])
{
    return (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 |
           (uint32_t)hdr[2] << 8 | (uint32_t)hdr[3];
}

/* Body size of f, checked against the limits. */
static int body_size(const Lagrange__V1__Frame *f, uint32_t max,
                     size_t *size, char *err, size_t errlen)
{
    size_t n = protobuf_c_message_get_packed_size(&f->base);
    uint32_t lim = max < WIRE_FRAME_LIMIT ? max : WIRE_FRAME_LIMIT;
    *size = n;
    if (n == 0)
        return lg_errf(err, errlen, -EBADMSG, "frame has no body");
    if (n > lim)
        return lg_errf(err, errlen, -EMSGSIZE,
                       "frame of %zu bytes exceeds the maximum %lu", n,
                       (unsigned long)lim);
    return 0;
}

int wire_frame_encode(const struct Lagrange__V1__Frame *f, uint32_t max,
                      uint8_t *buf, size_t cap, size_t *outlen, char *err,
                      size_t errlen)
{
    size_t n;
    int rc = body_size(f, max, &n, err, errlen);
    if (rc < 0)
        return rc;
    *outlen = WIRE_FRAME_HDR + n;
    if (cap < *outlen)
        return lg_errf(err, errlen, -ENOBUFS,
                       "frame needs %zu bytes, buffer has %zu", *outlen, cap);
    wire_frame_put_len(buf, (uint32_t)n);
    if (protobuf_c_message_pack(&f->base, buf + WIRE_FRAME_HDR) != n)
        return lg_errf(err, errlen, -EINVAL, "frame packed to a wrong size");
    return 0;
}

int wire_frame_encode_alloc(const struct Lagrange__V1__Frame *f,
                            uint32_t max, uint8_t **out, size_t *outlen,
                            char *err, size_t errlen)
{
    size_t n;
    uint8_t *buf;
    int rc = body_size(f, max, &n, err, errlen);
    *out = NULL;
    if (rc < 0)
        return rc;
    buf = malloc(WIRE_FRAME_HDR + n);
    if (!buf)
        return lg_errf(err, errlen, -ENOMEM,
                       "out of memory for a %zu-byte frame", n);
    rc = wire_frame_encode(f, max, buf, WIRE_FRAME_HDR + n, outlen, err,
                           errlen);
    if (rc < 0) {
        free(buf);
        return rc;
    }
    *out = buf;
    return 0;
}
