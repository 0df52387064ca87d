/*
 * bundle.h - the messages of a peer link as plain C structs, and their
 * encoding to and from lagrange.v1.Frame (proto/lagrange/v1/wire.proto).
 *
 * Owns: the bundle (the unit of store-and-forward: id, source, destination,
 * times, priority, kind, chunk position, payload and its SHA-256), the
 * session messages (Hello, Ack, Heartbeat with its NodeHealth records,
 * Goodbye), every validation rule
 * a received message must pass, and the protocol version. No protobuf type
 * appears here, so the spool and the daemon need not know protobuf-c.
 *
 * Decoding never copies a bundle's payload: wire_msg_decode leaves
 * bundle.payload pointing into the frame body it was given (so it lives as
 * long as that body does), and unpacks only the metadata with protobuf-c.
 * Encoding writes the payload last, so wire_bundle_encode_head can produce
 * everything before it and the payload can go to the socket from where it
 * lies (two iovecs).
 *
 * Rules beyond protobuf's (see wire.proto): a frame holds one body; node ids
 * are 1..63 bytes of [A-Za-z0-9._-]; text (bundle names, capabilities,
 * goodbye reasons) is bounded, valid UTF-8, without control characters;
 * repeated and unknown fields are capped before protobuf-c allocates for
 * them. A bundle's payload SHA-256 is verified on decode.
 *
 * Errors: -EBADMSG for anything malformed or invalid (the field is named),
 * WIRE_ECHECKSUM for a payload whose SHA-256 does not match,
 * -EPROTONOSUPPORT for a peer speaking another protocol version, -EMSGSIZE
 * for a frame above the peer's maximum, -ENOBUFS for a short caller buffer,
 * -ENOMEM.
 *
 * Threading: no globals; every call is thread-safe.
 */
#ifndef LG_WIRE_BUNDLE_H
#define LG_WIRE_BUNDLE_H

#include <stddef.h>
#include <stdint.h>

#define WIRE_PROTO_VERSION 1u   /* Hello.version this build speaks */

#define WIRE_ECHECKSUM (-1101)  /* a SHA-256 did not match the data */

#define WIRE_ID_LEN 16          /* bundle and object ids, bytes */
#define WIRE_SHA256_LEN 32
#define WIRE_NODE_MAX 64        /* node id buffer: at most 63 bytes + NUL */
#define WIRE_NAME_MAX 256       /* bundle name buffer: 255 bytes + NUL */
#define WIRE_JOB_MAX 17         /* job tag buffer: at most 16 bytes + NUL */
#define WIRE_REASON_MAX 256     /* goodbye reason buffer */
#define WIRE_CAP_MAX 32         /* one capability: 31 bytes + NUL */
#define WIRE_CAPS_MAX 16        /* capabilities per Hello */
#define WIRE_ACK_MAX 256        /* ids per Ack frame */
#define WIRE_HEALTH_MAX 256     /* NodeHealth records per Heartbeat */
#define WIRE_PRIO_MAX 7         /* priorities are 0..7, higher first */
#define WIRE_HOPS_MAX 64        /* a bundle that crossed more is refused */
#define WIRE_OBJECT_MAX ((uint64_t)16 << 30) /* largest chunked object */
#define WIRE_HELLO_MIN_FRAME 1024u /* smallest max_frame a peer may set */

/* Upper bound of everything in a bundle frame but the payload bytes, length
 * prefix included: a chunk of at most max_frame - WIRE_BUNDLE_HEAD_MAX
 * bytes always fits a peer's max_frame. */
#define WIRE_BUNDLE_HEAD_MAX 1024u

typedef enum wire_kind {
    WIRE_KIND_UNSPECIFIED = 0,  /* refused on the wire */
    WIRE_KIND_TENSOR_CHUNK = 1, /* part of a serialized tensor (.npy) */
    WIRE_KIND_PARTITION = 2,    /* part of an ONNX partition */
    WIRE_KIND_MODEL_CHUNK = 3,  /* part of a model or its weights */
    WIRE_KIND_CONTROL = 4       /* control message between daemons */
} wire_kind;

/*
 * A bundle. chunk_count 0 means "not part of an object": then chunk_index,
 * offset, object_size, object_id and object_sha256 are all zero. Otherwise
 * the payload is bytes [offset, offset + payload_len) of an object of
 * object_size bytes whose SHA-256 is object_sha256.
 */
typedef struct wire_bundle {
    uint8_t id[WIRE_ID_LEN];    /* unique; receivers dedupe by it */
    char src[WIRE_NODE_MAX];    /* creating node */
    char dst[WIRE_NODE_MAX];    /* destination node */
    uint64_t created_unix_ms;   /* creation time at src */
    uint64_t lifetime_ms;       /* expires at created + lifetime */
    uint32_t priority;          /* 0..WIRE_PRIO_MAX, higher first */
    wire_kind kind;             /* never WIRE_KIND_UNSPECIFIED */
    char name[WIRE_NAME_MAX];   /* e.g. tensor name; may be empty */
    uint32_t hops;              /* links crossed so far */
    char job[WIRE_JOB_MAX];     /* job it belongs to ("" none): 1..16
                                   bytes of [A-Za-z0-9._-] */
    uint32_t job_epoch;         /* its plan epoch; 0 when job is "" */
    uint8_t object_id[WIRE_ID_LEN];     /* object this chunk belongs to */
    uint64_t object_size;       /* whole object, bytes */
    uint64_t offset;            /* payload's place in the object */
    uint32_t chunk_index;       /* 0-based, < chunk_count */
    uint32_t chunk_count;       /* 0: not chunked */
    uint8_t object_sha256[WIRE_SHA256_LEN]; /* of the whole object */
    const uint8_t *payload;     /* not owned; NULL only if payload_len 0 */
    size_t payload_len;         /* bytes at payload */
    uint8_t payload_sha256[WIRE_SHA256_LEN]; /* of the payload */
} wire_bundle;

typedef struct wire_hello {
    char node_id[WIRE_NODE_MAX];        /* sender's node name */
    uint32_t version;                   /* its WIRE_PROTO_VERSION */
    uint32_t max_frame;                 /* largest body it accepts */
    size_t ncaps;                       /* entries used in caps */
    char caps[WIRE_CAPS_MAX][WIRE_CAP_MAX]; /* [A-Za-z0-9._-]{1,31} */
} wire_hello;

typedef struct wire_ack {
    size_t n;                           /* ids used */
    uint8_t ids[WIRE_ACK_MAX][WIRE_ID_LEN]; /* bundles now durable */
} wire_ack;

/* One node's health record (wire.proto NodeHealth), made by that node and
 * gossiped unchanged. Rules: node is a valid node id; unix_ms and
 * boot_unix_ms are > 0; load is in [0, 1]; battery_soc is in [0, 1] or
 * exactly -1 (grid power); no NaN or infinity. */
typedef struct wire_health {
    char node[WIRE_NODE_MAX];           /* origin node */
    uint64_t unix_ms;                   /* made at, origin's clock, ms */
    uint64_t seq;                       /* per boot, increasing */
    uint64_t boot_unix_ms;              /* origin's daemon start, ms */
    uint32_t jobs_running, jobs_queued;
    double load;                        /* executor busy fraction, 0..1 */
    double battery_soc;                 /* 0..1, -1: grid */
    int sunlit;                         /* 0/1 */
    uint64_t fault_exec_checksum;       /* fault counters, since boot */
    uint64_t fault_ecc;
    uint64_t fault_spool_quarantined;
} wire_health;

/* Upper bound of one encoded NodeHealth inside a Heartbeat (tag, length
 * and every field at its widest), and of a Heartbeat frame without its
 * records (length prefix included): a heartbeat of k records always fits
 * WIRE_HEARTBEAT_HEAD_MAX + k * WIRE_HEALTH_ENC_MAX bytes. */
#define WIRE_HEALTH_ENC_MAX 176u
#define WIRE_HEARTBEAT_HEAD_MAX 48u

typedef struct wire_heartbeat {
    uint64_t unix_ms;                   /* sender's clock */
    uint64_t seq;                       /* per-session counter */
    size_t n_health;                    /* records used in health */
    size_t n_health_bad;                /* decode: records skipped for
                                           breaking the rules */
    wire_health health[WIRE_HEALTH_MAX]; /* sender's own first */
} wire_heartbeat;

typedef struct wire_goodbye {
    char reason[WIRE_REASON_MAX];       /* text for the peer's log */
} wire_goodbye;

/* Values are the Frame.body field numbers. */
typedef enum wire_msg_type {
    WIRE_MSG_NONE = 0,          /* nothing decoded */
    WIRE_MSG_HELLO = 1,
    WIRE_MSG_BUNDLE = 2,
    WIRE_MSG_ACK = 3,
    WIRE_MSG_HEARTBEAT = 4,
    WIRE_MSG_GOODBYE = 5
} wire_msg_type;

/* One frame's body, decoded. */
typedef struct wire_msg {
    wire_msg_type type;                 /* which member of u is set */
    union {
        wire_hello hello;
        wire_bundle bundle;
        wire_ack ack;
        wire_heartbeat heartbeat;
        wire_goodbye goodbye;
    } u;
} wire_msg;

/* --- frames <-> messages ------------------------------------------------ */

/*
 * Decode one frame body (as a wire_frame_reader delivers it) into *m and
 * validate it. For a bundle, m->u.bundle.payload points into body (no
 * copy) and the payload's SHA-256 has been checked (WIRE_ECHECKSUM if it
 * does not match). A Hello's version is not judged here: see
 * wire_hello_check_version. On error m->type is WIRE_MSG_NONE.
 */
int wire_msg_decode(const uint8_t *body, size_t len, wire_msg *m,
                    char *err, size_t errlen);

/*
 * Validate m and encode it as a whole frame (length prefix included) into
 * buf (cap bytes); *outlen gets the frame's size, also when -ENOBUFS says
 * cap is too small. max is the peer's max_frame (-EMSGSIZE above it).
 * A bundle's payload_sha256 is sent as it is, not recomputed.
 */
int wire_msg_encode(const wire_msg *m, uint32_t max, uint8_t *buf,
                    size_t cap, size_t *outlen, char *err, size_t errlen);

/* Same into a new malloc'ed buffer *out (the caller frees it). */
int wire_msg_encode_alloc(const wire_msg *m, uint32_t max, uint8_t **out,
                          size_t *outlen, char *err, size_t errlen);

/* Human name of a message type ("bundle"). */
const char *wire_msg_type_name(wire_msg_type t);

/* --- bundles ------------------------------------------------------------ */

/*
 * Everything of b's frame that precedes the payload bytes, into head (cap
 * bytes; WIRE_BUNDLE_HEAD_MAX always suffices): the frame is head[0 ..
 * *headlen) followed by b->payload[0 .. b->payload_len). *framelen gets the
 * whole frame's size. Validates b; -EMSGSIZE if the frame exceeds max.
 */
int wire_bundle_encode_head(const wire_bundle *b, uint32_t max,
                            uint8_t *head, size_t cap, size_t *headlen,
                            size_t *framelen, char *err, size_t errlen);

/* Size of b's whole frame, length prefix included; 0 if b is invalid. */
size_t wire_bundle_frame_size(const wire_bundle *b);

/* Check every rule of a bundle (not the payload's SHA-256). */
int wire_bundle_validate(const wire_bundle *b, char *err, size_t errlen);

/* Set payload_sha256 from the payload. */
void wire_bundle_seal(wire_bundle *b);

/* Check payload_sha256 against the payload (WIRE_ECHECKSUM if wrong). */
int wire_bundle_verify(const wire_bundle *b, char *err, size_t errlen);

/* A fresh random id (OpenSSL's CSPRNG). -EIO if it has no entropy. */
int wire_bundle_new_id(uint8_t id[WIRE_ID_LEN]);

/* Lower-case hex of an id, NUL-terminated. */
void wire_bundle_id_hex(const uint8_t id[WIRE_ID_LEN],
                        char hex[2 * WIRE_ID_LEN + 1]);

/* 1 if name is a valid node id (1..63 bytes of [A-Za-z0-9._-]), else 0. */
int wire_bundle_node_ok(const char *name);

/* 1 if str is valid UTF-8 (no overlong forms, surrogates or code points
 * above U+10FFFF), without C0 control characters or DEL, and shorter
 * than max bytes. */
int wire_text_ok(const char *str, size_t max);

/* --- session messages --------------------------------------------------- */

/* A Hello for this node: version WIRE_PROTO_VERSION, no capabilities.
 * -EINVAL if node_id is not a valid node id. */
int wire_hello_init(wire_hello *h, const char *node_id, uint32_t max_frame);

/*
 * 0 if the peer speaks our version; else -EPROTONOSUPPORT with a message
 * naming the peer and both versions, fit to send back in a Goodbye.
 */
int wire_hello_check_version(const wire_hello *h, char *err, size_t errlen);

/* 1 if h lists capability cap, else 0. */
int wire_hello_has_cap(const wire_hello *h, const char *cap);

/* Check every rule of a health record (see wire_health); -EBADMSG naming
 * the field. */
int wire_health_validate(const wire_health *h, char *err, size_t errlen);

#endif
