/*
 * grpcc.h - a small gRPC client over libcurl, for the CLI's API verbs
 * (cli/jobs.c, cli/models.c) talking to lagranged's lagrange.v1.Scheduler.
 *
 * Owns the transport: one libcurl easy handle per grpcc (so that calls made
 * one after the other over TLS share one HTTP/2 connection), the gRPC message
 * framing (1 byte compressed flag, 4 bytes big-endian length, message), the
 * request headers (content-type application/grpc, te: trailers,
 * grpc-timeout, user-agent, authorization) and the status: grpc-status and
 * grpc-message from the trailers, or from the headers of a Trailers-Only
 * response; a non-200 HTTP status maps to a gRPC status as gRPC's
 * http-grpc-status-mapping says (415, which only a client sending the
 * wrong content-type sees, is INTERNAL).
 *
 * Servers: "unix:/path" (HTTP/2 with prior knowledge over a unix socket;
 * also unix:///path) or "https://host:port" (HTTP/2 over TLS, ALPN h2,
 * peer verified against --cacert or the system store), with
 * "authorization: Bearer TOKEN" when a token file is given.
 *
 * Responses are parsed as they arrive, in libcurl's write callback: a
 * message may span many callbacks. Each message's length is checked
 * against GRPCC_MAX_MSG before anything is allocated. Requests of a
 * client-streaming call are pulled from the caller one message at a time
 * and framed into libcurl's upload buffer, so an upload is never whole in
 * memory.
 *
 * Calls return 0 when the call ended with grpc-status OK, the gRPC status
 * code (> 0) when it ended with another, and a negative errno-style code
 * when the server could not be reached or the connection broke; st is
 * filled in every case (st->code is UNAVAILABLE for a transport error),
 * with a message fit to print after "lagrange VERB: ".
 *
 * The second half of this header is the command-line glue shared by the
 * API verbs: the --server/--token-file/--cacert/--timeout options, the
 * mapping of a gRPC status to an exit code, and a protobuf-c unary call.
 *
 * LAGRANGE_GRPC_TRACE in the environment turns on libcurl's trace of each
 * call on stderr (CURLOPT_VERBOSE), for debugging.
 *
 * Threading: a grpcc is used by one thread at a time. grpcc_open calls
 * curl_global_init, which is not thread-safe: call it before any thread
 * starts (the CLI has none).
 */
#ifndef LG_GRPCC_H
#define LG_GRPCC_H

#include <getopt.h>
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

/* gRPC status codes (grpc/status.h numbering). */
enum grpcc_code {
    GRPCC_OK = 0,
    GRPCC_CANCELLED = 1,
    GRPCC_UNKNOWN = 2,
    GRPCC_INVALID_ARGUMENT = 3,
    GRPCC_DEADLINE_EXCEEDED = 4,
    GRPCC_NOT_FOUND = 5,
    GRPCC_ALREADY_EXISTS = 6,
    GRPCC_PERMISSION_DENIED = 7,
    GRPCC_RESOURCE_EXHAUSTED = 8,
    GRPCC_FAILED_PRECONDITION = 9,
    GRPCC_ABORTED = 10,
    GRPCC_OUT_OF_RANGE = 11,
    GRPCC_UNIMPLEMENTED = 12,
    GRPCC_INTERNAL = 13,
    GRPCC_UNAVAILABLE = 14,
    GRPCC_DATA_LOSS = 15,
    GRPCC_UNAUTHENTICATED = 16,
};

#define GRPCC_MAX_MSG ((size_t)64 << 20)   /* largest response message */
/* lagranged's ApiSocket default outside systemd (DCONF_DEF_API_SOCKET;
 * tests/test_sockact.sh checks they agree); $RUNTIME_DIRECTORY is the
 * calling unit's, not lagranged's, so it is not looked at. */
#define GRPCC_DEFAULT_SERVER "unix:/run/lagrange/api.sock"
#define GRPCC_MAX_TOKEN 4096               /* bytes of a token file read */

typedef struct grpcc grpcc;

typedef struct grpcc_status {
    int code;                   /* enum grpcc_code */
    char message[512];          /* grpc-message, decoded; or ours */
} grpcc_status;

/* A client for server (see above; NULL = GRPCC_DEFAULT_SERVER). token_file
 * (may be NULL): its first line, trimmed, is sent as a bearer token; an
 * empty token is refused. cacert (may be NULL): CA file for https. Nothing
 * is connected yet. Returns 0, -EINVAL for a malformed server (err says
 * why), or -errno for the token file. */
int grpcc_open(grpcc **out, const char *server, const char *token_file,
               const char *cacert, char *err, size_t errlen);
/* Idempotent on NULL. */
void grpcc_close(grpcc *g);
/* The server as given to grpcc_open, for messages. */
const char *grpcc_server(const grpcc *g);
/* A unary method (path) that takes an empty request, has no effect and is
 * checked like every other (authorization): asked when libcurl 7.88 loses
 * the answer to a client stream, to learn why (see grpcc.c, probe). NULL
 * for none (the default). 0 or -ENOMEM. */
int grpcc_set_probe(grpcc *g, const char *path);

/* path: "/package.Service/Method". timeout_ms > 0 sends grpc-timeout and
 * gives up locally a little later (DEADLINE_EXCEEDED); 0 = no deadline.
 * On 0, *resp is a malloc'd copy of the one response message (the caller
 * frees it; NULL with *resp_len 0 for an empty message). */
int grpcc_unary(grpcc *g, const char *path, const void *req, size_t len,
                void **resp, size_t *resp_len, int timeout_ms,
                grpcc_status *st);

/* One request, a stream of responses: on_msg gets each message (valid
 * during the call only). on_msg returning nonzero ends the call, which
 * then reports CANCELLED "cancelled by the client". */
typedef int (*grpcc_msg_fn)(void *arg, const uint8_t *m, size_t n);
int grpcc_server_stream(grpcc *g, const char *path, const void *req,
                        size_t len, grpcc_msg_fn on_msg, void *arg,
                        int timeout_ms, grpcc_status *st);

/* A stream of requests, one response. next returns 0 with the next message
 * in *m, *n (the caller's memory, valid until next is called again or the
 * call returns), 1 when there are no more, or < 0 to abort (the call then
 * reports CANCELLED "aborted by the client"). */
typedef int (*grpcc_next_fn)(void *arg, const void **m, size_t *n);
int grpcc_client_stream(grpcc *g, const char *path, grpcc_next_fn next,
                        void *arg, void **resp, size_t *resp_len,
                        int timeout_ms, grpcc_status *st);

/* "NOT_FOUND"; "CODE_%d" for unknown codes (static buffer). */
const char *grpcc_code_name(int code);

/* ---- command-line glue ------------------------------------------------- */

/* The exit code for a call's result (0, a gRPC code, or < 0), as
 * lagrange(1) documents: NOT_FOUND 6; transport errors and UNAVAILABLE 7;
 * DEADLINE_EXCEEDED 8; UNAUTHENTICATED and PERMISSION_DENIED 10;
 * INVALID_ARGUMENT 3; any other 1. */
int grpcc_exit_code(int rc);

/* Print "lagrange VERB: [what: ]MESSAGE (CODE)" for a failed call and
 * return its exit code. what may be NULL. */
int grpcc_fail(const char *verb, const char *what, int rc,
               const grpcc_status *st);

/* Options every API verb takes; add GRPCC_LONG_OPTIONS to the verb's
 * getopt_long table and pass unknown option codes to grpcc_opt. */
typedef struct grpcc_opts {
    const char *server;         /* --server, $LAGRANGE_SERVER */
    const char *token_file;     /* --token-file, $LAGRANGE_TOKEN_FILE */
    const char *cacert;         /* --cacert, $LAGRANGE_CACERT */
    int timeout_ms;             /* --timeout, per call; 0 = none */
} grpcc_opts;

enum {
    GRPCC_OPT_SERVER = 0x4701,
    GRPCC_OPT_TOKEN,
    GRPCC_OPT_CACERT,
    GRPCC_OPT_TIMEOUT,
};
#define GRPCC_LONG_OPTIONS                                                 \
    { "server", required_argument, 0, GRPCC_OPT_SERVER },                  \
    { "token-file", required_argument, 0, GRPCC_OPT_TOKEN },               \
    { "cacert", required_argument, 0, GRPCC_OPT_CACERT },                  \
    { "timeout", required_argument, 0, GRPCC_OPT_TIMEOUT }

/* Help text for those options (for a verb's --help). */
#define GRPCC_OPTIONS_HELP                                                 \
"  --server URL       unix:/PATH or https://HOST:PORT (default\n"          \
"                     $LAGRANGE_SERVER, else " GRPCC_DEFAULT_SERVER ")\n"  \
"  --token-file F     bearer token, first line of F ($LAGRANGE_TOKEN_FILE)\n" \
"  --cacert F         CA certificates for https ($LAGRANGE_CACERT)\n"      \
"  --timeout D        give up on each call after D (30s, 5min, 1h, 1d)\n"

/* Defaults from the environment; timeout_ms as given. */
void grpcc_opts_init(grpcc_opts *o, int timeout_ms);
/* Handle option c if it is one of GRPCC_OPT_*: 1 handled, 0 not ours,
 * -1 bad value (printed). */
int grpcc_opt(grpcc_opts *o, const char *verb, int c, const char *arg);
/* Open a client for o, with ListNodes as its probe (grpcc_set_probe);
 * prints its error; returns an exit code. */
int grpcc_connect(const char *verb, const grpcc_opts *o, grpcc **g);

/* A duration ("30s", "5m", "5min", "1.5h", "2d", "250ms"; a bare number
 * is seconds) in ms. 0 or -1. */
int grpcc_dur_ms(const char *s, uint64_t *ms);

/* A unary call with protobuf-c messages: packs req, unpacks the answer as
 * out_desc into *out (free with protobuf_c_message_free_unpacked). On
 * failure prints "lagrange VERB: ..." (what names the object, may be NULL)
 * and returns the exit code; 0 on success. */
int grpcc_call(grpcc *g, const char *verb, const char *what,
               const char *path, const ProtobufCMessage *req,
               const ProtobufCMessageDescriptor *out_desc,
               ProtobufCMessage **out, int timeout_ms);

#define GRPCC_API "/lagrange.v1.Scheduler/"

#endif
