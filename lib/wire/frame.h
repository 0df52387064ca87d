/*
 * frame.h - framing of a peer link: a stream of frames, each a 4-byte
 * big-endian body length followed by that many bytes of a serialized
 * lagrange.v1.Frame (proto/lagrange/v1/wire.proto).
 *
 * Owns the incremental reader (bytes in, whole frame bodies out) and the
 * helpers that put a length prefix in front of a packed Frame. What is
 * inside a body is bundle.h's business; this module never looks at it.
 *
 * The reader is a state machine (READ_LEN -> READ_BODY -> READ_LEN ..., or
 * ERROR, which is sticky). It takes byte slices of any size, exactly as a
 * socket delivers them, and calls back once per complete frame. A length
 * of 0 or above the link's maximum is refused as soon as the 4 length
 * bytes are in, before anything is allocated; the body buffer then grows
 * with the bytes that actually arrive (never past the announced length),
 * so a peer that claims a large frame and stalls costs almost nothing.
 * A frame that arrives whole inside one slice is handed to the callback
 * straight from that slice, without a copy.
 *
 * Errors: -EMSGSIZE for a length above the maximum, -EBADMSG for a zero
 * length or a stream that ends inside a frame, -ENOMEM, and whatever a
 * callback returns. Detail goes into the caller's err buffer.
 *
 * Threading: a reader belongs to one link and is used from one thread; no
 * globals, so distinct readers are independent.
 */
#ifndef LG_WIRE_FRAME_H
#define LG_WIRE_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define WIRE_FRAME_HDR 4u                     /* length prefix, bytes */
#define WIRE_FRAME_LIMIT ((uint32_t)1 << 28)  /* no link may allow more */
#define WIRE_FRAME_DEFAULT_MAX ((uint32_t)2 << 20) /* 1 MiB chunks + room */

struct Lagrange__V1__Frame; /* protobuf-c; only the wire modules build one */

typedef enum wire_frame_state {
    WIRE_FRAME_READ_LEN = 0,    /* collecting the 4 length bytes */
    WIRE_FRAME_READ_BODY,       /* collecting want body bytes */
    WIRE_FRAME_ERROR            /* refused something; sticky until reset */
} wire_frame_state;

/*
 * Called once per complete frame with its body (without the length). The
 * body is only valid during the call: it points either into the slice
 * being fed or into the reader's buffer, which the next frame reuses. Copy
 * what must outlive the call. Return 0 to go on, or a negative code (with
 * detail written to err) to stop: the reader then enters ERROR with that
 * code, and feed returns it. The callback must not feed, reset or free
 * the reader it is called from.
 */
typedef int (*wire_frame_cb)(void *ud, const uint8_t *body, size_t len,
                             char *err, size_t errlen);

/* Embed one per link; fields are private, read them through the calls. */
typedef struct wire_frame_reader {
    wire_frame_state state;     /* see wire_frame_state */
    uint32_t max;               /* largest body accepted, bytes */
    uint8_t hdr[WIRE_FRAME_HDR];/* length bytes gathered so far */
    unsigned hdr_have;          /* how many of them */
    uint32_t want;              /* body length of the current frame */
    uint32_t have;              /* body bytes buffered so far */
    uint8_t *buf;               /* body buffer, NULL until first needed */
    size_t cap;                 /* its size; never above max */
    wire_frame_cb cb;           /* frame consumer */
    void *ud;                   /* its argument */
    int in_cb;                  /* inside cb: refuse reentrant feeds */
    int error;                  /* code kept in ERROR */
    char errmsg[160];           /* detail kept in ERROR */
    uint64_t frames;            /* frames delivered */
    uint64_t bytes;             /* bytes consumed, length prefixes included */
} wire_frame_reader;

/* Set up r for a link that accepts bodies of at most max bytes (1 ..
 * WIRE_FRAME_LIMIT). Allocates nothing. -EINVAL for a bad max. */
int wire_frame_reader_init(wire_frame_reader *r, uint32_t max,
                           wire_frame_cb cb, void *ud, char *err,
                           size_t errlen);

/* Feed len bytes (len may be 0). Returns the number of frames delivered
 * by this call (>= 0), or a negative code: a refused length, a callback's
 * code, -ENOMEM, or the code of an earlier error (ERROR is sticky). On a
 * negative return, frames before the bad one have been delivered and the
 * rest of the slice is not looked at. */
int wire_frame_reader_feed(wire_frame_reader *r, const void *data,
                           size_t len, char *err, size_t errlen);

/* The peer closed the stream: 0 if that happened between frames, else
 * -EBADMSG saying how much of a frame was missing (or the sticky error). */
int wire_frame_reader_finish(const wire_frame_reader *r, char *err,
                             size_t errlen);

/* Back to READ_LEN with nothing buffered; keeps the buffer for reuse. */
void wire_frame_reader_reset(wire_frame_reader *r);

/* Release the buffer. Idempotent; r may be reused after init. */
void wire_frame_reader_free(wire_frame_reader *r);

wire_frame_state wire_frame_reader_state(const wire_frame_reader *r);

/* Bytes currently allocated for the body buffer (0 before the first frame
 * that had to be buffered). Lets tests see that nothing was allocated. */
size_t wire_frame_reader_capacity(const wire_frame_reader *r);

/* Length prefix helpers. */
void wire_frame_put_len(uint8_t hdr[WIRE_FRAME_HDR], uint32_t len);
uint32_t wire_frame_get_len(const uint8_t hdr[WIRE_FRAME_HDR]);

/*
 * Pack f with its length prefix into buf (cap bytes). *outlen gets the
 * frame's full size (prefix included) even when cap is too small, in which
 * case -ENOBUFS. -EMSGSIZE if the body would exceed max (the peer's
 * max_frame) or WIRE_FRAME_LIMIT; -EBADMSG if it would be empty.
 */
int wire_frame_encode(const struct Lagrange__V1__Frame *f, uint32_t max,
                      uint8_t *buf, size_t cap, size_t *outlen, char *err,
                      size_t errlen);

/* Same into a new malloc'ed buffer (*out, freed by the caller). */
int wire_frame_encode_alloc(const struct Lagrange__V1__Frame *f,
                            uint32_t max, uint8_t **out, size_t *outlen,
                            char *err, size_t errlen);

#endif
