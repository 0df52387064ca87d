/*
 * tlsio.h - TLS 1.3 for a peer link, as a byte-in/byte-out engine over
 * OpenSSL memory BIOs: the daemon moves ciphertext between this and its
 * libuv socket, and plaintext between this and the frame reader. No
 * socket, event loop or libuv type appears here.
 *
 * Owns: the daemon's SSL_CTX (wire_tls_ctx: our certificate chain and key,
 * the CA every peer must be signed by, TLS 1.3 only, peer certificates
 * required in both directions, no session tickets or resumption) and one
 * session per link (wire_tls: an SSL with a read BIO for ciphertext from
 * the socket and a write BIO for ciphertext to it), plus the rule that
 * decides who a peer is: a node name is the first acceptable subjectAltName
 * dNSName of its certificate (the last CN only when there is no dNSName),
 * 1..63 bytes of [A-Za-z0-9._-].
 *
 * Session state machine (wire_tls):
 *
 *   HANDSHAKE --(handshake completes)--> OPEN --(peer's close_notify)--> EOF
 *       |                                  |
 *       +------------ any failure ---------+------> ERROR (sticky)
 *
 * plus an independent "close_notify sent" flag (wire_tls_shutdown; reads
 * go on until the peer's close_notify). A client queues its ClientHello in
 * wire_tls_new; after that every call may leave ciphertext to send
 * (wire_tls_out_pending), including the alert that follows a failure:
 * flush it, then close the socket. The peer's certificate is judged during
 * the handshake, before it can complete on either side: the chain must
 * verify against the CA (else wire_tls_read fails and the check is never
 * consulted), then the caller's wire_tls_name_fn is asked about each name;
 * if it accepts none, the handshake is aborted with an alert. In TLS 1.3 a
 * client finishes its side before the server has seen the client's
 * certificate, so a refused client learns it from the server's alert on its
 * next wire_tls_read.
 *
 * Errors: negative codes with detail in the caller's err buffer (lgerr.h);
 * a session keeps its first failure (code and text, wire_tls_error) and
 * returns it from every later call. -EACCES: we refused the peer's
 * certificate (chain does not verify against our CA, or no acceptable
 * name); -ECONNABORTED: the peer sent a fatal alert (it refused us, or
 * something of ours); -EPROTO: anything else wrong on the wire (garbage,
 * a bad record, another protocol version); -ENOBUFS: more than
 * WIRE_TLS_IN_MAX bytes of ciphertext fed and not yet read; -ENOTCONN:
 * shutdown before the handshake completed; -EPIPE: write after shutdown;
 * -ENOMEM; -EINVAL for misuse. wire_tls_ctx_new returns -errno for files
 * it cannot open (-ENOENT, -EACCES) and -EINVAL for files it cannot use;
 * its text names the file and OpenSSL's reason. WIRE_TLS_EOF is not an
 * error: the peer closed cleanly.
 *
 * Threading: a wire_tls_ctx may be shared by sessions on any thread once
 * created (OpenSSL's SSL_CTX is thread-safe for that); a wire_tls belongs
 * to one link and one thread. No globals of our own; OpenSSL's error queue
 * is per thread and every call leaves it empty.
 */
#ifndef LG_WIRE_TLSIO_H
#define LG_WIRE_TLSIO_H

#include <stddef.h>
#include <sys/types.h>

#define WIRE_TLS_EOF (-1201)        /* peer sent close_notify */
#define WIRE_TLS_NAME_MAX 64        /* node name buffer: 63 bytes + NUL */
#define WIRE_TLS_IN_MAX ((size_t)16 << 20) /* unread ciphertext, bytes */

/* One per daemon: SSL_CTX for both roles. */
typedef struct wire_tls_ctx wire_tls_ctx;

/*
 * Load our certificate chain (PEM file, ours first), our private key (PEM)
 * and the CA (PEM) that must sign every peer. TLS 1.3 only, peer
 * certificate required in both directions, no session tickets, key checked
 * against the certificate. Errors name the file and OpenSSL's reason.
 */
int wire_tls_ctx_new(wire_tls_ctx **out, const char *cert_pem,
                     const char *key_pem, const char *ca_pem, char *err,
                     size_t errlen);
void wire_tls_ctx_free(wire_tls_ctx *c);

/*
 * The context of the gRPC API listener (lagranged.conf ApiListen): server
 * side only, TLS 1.2 or 1.3, our certificate and key, no client
 * certificate (apps authenticate with a bearer token inside), ALPN "h2"
 * required as gRPC clients expect. Sessions on it take check = NULL.
 */
int wire_tls_ctx_new_api(wire_tls_ctx **out, const char *cert_pem,
                         const char *key_pem, char *err, size_t errlen);

/*
 * The node name in our own certificate (first SAN dNSName, else the CN),
 * for a startup check that it equals the configured node id. 0, -ENOENT if
 * the certificate has no name, -EINVAL if the name is not a valid node
 * name (then name is ""), -ENOBUFS if len is too short.
 */
int wire_tls_ctx_own_name(const wire_tls_ctx *c, char *name, size_t len);

/* Decides whether a peer certificate's name is acceptable: return 1 to
 * accept. Only ever called with valid node names. */
typedef int (*wire_tls_name_fn)(void *arg, const char *name);

typedef struct wire_tls wire_tls;

/*
 * One session. is_server: accept side. check(arg, name) is called during
 * certificate verification, at depth 0 and only once the chain verified
 * against the CA, with each valid name of the peer certificate (every SAN
 * dNSName; the CN only if there is no SAN dNSName) until it returns 1;
 * that name becomes wire_tls_peer_name. If none is accepted the handshake
 * is aborted with an alert, and the text says e.g. "peer certificate names
 * 'gs-x', expected 'gs-mad'". Names outside [A-Za-z0-9._-] or longer than
 * 63 bytes are refused without asking check. check is required. A client
 * has its ClientHello pending when this returns.
 */
int wire_tls_new(wire_tls **out, wire_tls_ctx *c, int is_server,
                 wire_tls_name_fn check, void *arg, char *err,
                 size_t errlen);
void wire_tls_free(wire_tls *t);

/* What the refusal text says was expected: a client passes the neighbour
 * id ("expected 'gs-mad'"). Without it the text says "expected a name
 * this node accepts". Copies; invalid characters become '?'. */
void wire_tls_set_expected(wire_tls *t, const char *name);

/* Ciphertext arriving from the socket, copied into the read BIO. Fails
 * (-ENOBUFS) rather than buffer more than WIRE_TLS_IN_MAX unread bytes;
 * returns the session's error once it has failed. */
int wire_tls_feed(wire_tls *t, const void *data, size_t len, char *err,
                  size_t errlen);

/*
 * Drive the handshake and decrypt: >0 plaintext bytes written to buf, 0
 * when more ciphertext is needed (or only the handshake advanced),
 * WIRE_TLS_EOF once the peer's close_notify arrived (and on every later
 * call), or a negative error. Call it in a loop after each feed until it
 * returns 0 or less. After any call, ciphertext may be pending.
 */
ssize_t wire_tls_read(wire_tls *t, void *buf, size_t cap, char *err,
                      size_t errlen);

/* Encrypt plaintext: returns len (all of it is consumed: partial writes
 * are off), 0 before the handshake is done (retry later), or negative. */
ssize_t wire_tls_write(wire_tls *t, const void *buf, size_t len, char *err,
                       size_t errlen);

/* Ciphertext waiting to go to the socket, and taking it: copies up to cap
 * bytes straight from the write BIO into buf (the only copy), returns how
 * many. Take everything pending before writing a lot more: what is left
 * behind is moved to the front of the BIO on its next write. */
size_t wire_tls_out_pending(const wire_tls *t);
size_t wire_tls_out_take(wire_tls *t, void *buf, size_t cap);

/* Queue a close_notify (0). -ENOTCONN before the handshake is done (just
 * close the socket then), the session's error after a failure. Calling it
 * twice is harmless. */
int wire_tls_shutdown(wire_tls *t);

int wire_tls_handshake_done(const wire_tls *t);
/* The accepted peer name ("" until the handshake is done). */
const char *wire_tls_peer_name(const wire_tls *t);
/* The negotiated suite, e.g. "TLS_AES_256_GCM_SHA384" ("" before). */
const char *wire_tls_cipher(const wire_tls *t);
/* The session's failure text ("" while it has not failed). */
const char *wire_tls_error(const wire_tls *t);

#endif
