/*
 * tlsio.c - TLS 1.3 for a peer link over OpenSSL memory BIOs (see tlsio.h
 * for the contract and the state machine).
 *
 * Owns: the SSL_CTX settings (TLS 1.3 only, mutual certificates, no
 * tickets), the certificate name rule, the verify callback that applies
 * it, and the translation of OpenSSL's results into codes and texts.
 *
 * Why the name check lives in the verify callback: returning 0 there makes
 * OpenSSL abort the handshake with an alert at the moment the certificate
 * arrives, so a peer with the wrong name never gets a completed handshake
 * on either side (checking after SSL_do_handshake returned would be too
 * late for the server's part of a TLS 1.3 handshake, and would send no
 * alert). The session is found from the SSL by its app data (ex_data
 * index 0), so no ex_data index of our own is needed.
 *
 * Buffers: ciphertext in is appended to the read BIO and consumed from its
 * front without moving the rest (OpenSSL's memory BIO keeps a read
 * pointer); plaintext goes straight into the caller's buffer; ciphertext
 * out is copied once, from the write BIO into the caller's buffer. Nothing
 * is allocated from a length a peer sent: records are bounded by OpenSSL,
 * and unread input by WIRE_TLS_IN_MAX.
 *
 * Threading: no globals; OpenSSL's error queue is per thread, cleared
 * before each SSL call and drained into the error text after a failure.
 */
#include "tlsio.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "lgerr.h"

#define VERIFY_DEPTH 8          /* node <- intermediates <- CA, generous */
#define MSG_MAX 256             /* kept failure text */

struct wire_tls_ctx {
    SSL_CTX *ssl;
    int api;                            /* wire_tls_ctx_new_api: no client
                                           certificate, ALPN h2 */
    int name_rc;                        /* wire_tls_ctx_own_name's code */
    char name[WIRE_TLS_NAME_MAX];       /* our certificate's node name */
};

struct wire_tls {
    SSL *ssl;
    BIO *rbio;                  /* ciphertext from the socket (SSL owns) */
    BIO *wbio;                  /* ciphertext to the socket (SSL owns) */
    int is_server;
    wire_tls_name_fn check;
    void *arg;
    int done;                   /* handshake completed */
    int got_close;              /* peer's close_notify read: EOF */
    int sent_close;             /* our close_notify queued */
    int error;                  /* first failure, sticky; 0 if none */
    int refused;                /* the verify callback refused the peer */
    char errmsg[MSG_MAX];       /* text of error */
    char vmsg[MSG_MAX];         /* why the verify callback refused */
    char cand[WIRE_TLS_NAME_MAX];   /* name accepted by check */
    char peer[WIRE_TLS_NAME_MAX];   /* cand, once the handshake is done */
    char expected[WIRE_TLS_NAME_MAX]; /* for the refusal text, or "" */
    char cipher[64];
};

/* ------------------------------------------------------------ names */

static int name_char_ok(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
           (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-';
}

static int name_ok(const unsigned char *s, size_t len)
{
    if (len == 0 || len >= WIRE_TLS_NAME_MAX)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!name_char_ok(s[i]))
            return 0;
    return 1;
}

/* A printable copy of a (possibly hostile) name for messages: at most 63
 * bytes, invalid characters as '?', "..." when cut. */
static void name_show(char *out, size_t cap, const unsigned char *s,
                      size_t len)
{
    size_t n = len < WIRE_TLS_NAME_MAX - 1 ? len : WIRE_TLS_NAME_MAX - 1;
    size_t o = 0;
    if (cap == 0)
        return;
    for (size_t i = 0; i < n && o + 1 < cap; i++)
        out[o++] = name_char_ok(s[i]) ? (char)s[i] : '?';
    out[o] = '\0';
    if (n < len && o + 4 < cap)
        memcpy(out + o, "...", 4);
}

typedef int (*name_visit_fn)(void *ud, const unsigned char *s, size_t len);

/* Call fn with each name of x (every SAN dNSName; the last CN only when
 * there is no dNSName) until it returns nonzero; return that, or 0. A SAN
 * extension that is present but cannot be decoded yields no names. */
static int visit_names(X509 *x, name_visit_fn fn, void *ud)
{
    int crit = -1, ndns = 0, rc = 0;
    GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, &crit,
                                           NULL);
    if (!gens && crit != -1)
        return 0;
    for (int i = 0; gens && i < sk_GENERAL_NAME_num(gens) && !rc; i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
        if (g->type != GEN_DNS || !g->d.dNSName)
            continue;
        ndns++;
        rc = fn(ud, ASN1_STRING_get0_data(g->d.dNSName),
                (size_t)ASN1_STRING_length(g->d.dNSName));
    }
    GENERAL_NAMES_free(gens);
    if (ndns == 0) {
        const X509_NAME *subj = X509_get_subject_name(x);
        int idx = -1, last = -1;
        while (subj &&
               (idx = X509_NAME_get_index_by_NID(subj, NID_commonName,
                                                 idx)) >= 0)
            last = idx;
        if (last >= 0) {
            const ASN1_STRING *cn =
                X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, last));
            if (cn)
                rc = fn(ud, ASN1_STRING_get0_data(cn),
                        (size_t)ASN1_STRING_length(cn));
        }
    }
    return rc;
}

/* ------------------------------------------------------------ errors */

/* Append src to the string in dst (cap bytes), cutting what does not fit. */
static void str_cat(char *dst, size_t cap, const char *src)
{
    size_t have = strnlen(dst, cap), n = strlen(src);
    if (have + 1 >= cap)
        return;
    if (n > cap - have - 1)
        n = cap - have - 1;
    memcpy(dst + have, src, n);
    dst[have + n] = '\0';
}

/* The reason part of one OpenSSL error ("error:XXXXXXXX:lib:func:reason"
 * without its first four fields). */
static void ossl_reason(unsigned long e, char *buf, size_t len)
{
    char tmp[256];
    const char *p = tmp;
    ERR_error_string_n(e, tmp, sizeof tmp);
    for (int i = 0; i < 4 && p; i++) {
        p = strchr(p, ':');
        if (p)
            p++;
    }
    if (len == 0)
        return;
    buf[0] = '\0';
    str_cat(buf, len, p && *p ? p : tmp);
}

static int ossl_is_system(unsigned long e)
{
#ifdef ERR_SYSTEM_ERROR
    return ERR_SYSTEM_ERROR(e);
#else
    return ERR_GET_LIB(e) == ERR_LIB_SYS;
#endif
}

/* A fatal alert received from the peer (OpenSSL reports it as an SSL
 * error whose reason is the alert number plus SSL_AD_REASON_OFFSET). */
static int ossl_is_alert(unsigned long e)
{
    return !ossl_is_system(e) && ERR_GET_LIB(e) == ERR_LIB_SSL &&
           ERR_GET_REASON(e) >= SSL_AD_REASON_OFFSET;
}

/* Empty this thread's error queue into buf: the first (root) reason, and
 * the last in parentheses if it differs. Returns the first error code (0
 * if the queue was empty); *alert is set if any error was a peer alert. */
static unsigned long ossl_drain(char *buf, size_t len, int *alert)
{
    unsigned long e, first = 0, last = 0;
    char a[128], b[128];
    if (alert)
        *alert = 0;
    while ((e = ERR_get_error()) != 0) {
        if (!first)
            first = e;
        last = e;
        if (alert && ossl_is_alert(e))
            *alert = 1;
    }
    if (len == 0)
        return first;
    buf[0] = '\0';
    if (!first) {
        str_cat(buf, len, "no detail from OpenSSL");
        return 0;
    }
    ossl_reason(first, a, sizeof a);
    str_cat(buf, len, a);
    if (last != first) {
        ossl_reason(last, b, sizeof b);
        if (strcmp(a, b) != 0) {
            str_cat(buf, len, " (");
            str_cat(buf, len, b);
            str_cat(buf, len, ")");
        }
    }
    return first;
}

/* Enter ERROR with code, keeping the text, and copy it to err. */
static int failf(wire_tls *t, char *err, size_t errlen, int code,
                 const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int failf(wire_tls *t, char *err, size_t errlen, int code,
                 const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->errmsg, sizeof t->errmsg, fmt, ap);
    va_end(ap);
    t->error = code;
    return lg_errf(err, errlen, code, "%s", t->errmsg);
}

/* The session failed inside an SSL call (what: "handshake", "read"...):
 * pick the code and text, clearing the error queue. */
static int ssl_failure(wire_tls *t, const char *what, char *err,
                       size_t errlen)
{
    char why[200];
    int alert;
    long vr = SSL_get_verify_result(t->ssl);
    ossl_drain(why, sizeof why, &alert);
    if (t->refused)
        return failf(t, err, errlen, -EACCES, "%s", t->vmsg);
    if (vr != X509_V_OK)
        return failf(t, err, errlen, -EACCES,
                     "peer certificate verification failed: %s",
                     X509_verify_cert_error_string(vr));
    if (alert)
        return failf(t, err, errlen, -ECONNABORTED,
                     "TLS %s failed: peer sent alert: %s", what, why);
    return failf(t, err, errlen, -EPROTO, "TLS %s failed: %s", what, why);
}

/* Interpret r, the result of an SSL call that did not succeed: 0 if it
 * only wants more input, WIRE_TLS_EOF for close_notify, else a failure. */
static int ssl_result(wire_tls *t, int r, const char *what, char *err,
                      size_t errlen)
{
    switch (SSL_get_error(t->ssl, r)) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:
        ERR_clear_error();
        return 0;
    case SSL_ERROR_ZERO_RETURN:
        ERR_clear_error();
        t->got_close = 1;
        return lg_errf(err, errlen, WIRE_TLS_EOF,
                       "peer closed the session (close_notify)");
    default:
        return ssl_failure(t, what, err, errlen);
    }
}

/* ------------------------------------------------------------ verify */

/* Remember the first reason the callback refused the peer. */
static void refuse(wire_tls *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void refuse(wire_tls *t, const char *fmt, ...)
{
    va_list ap;
    if (t->refused)
        return;
    t->refused = 1;
    va_start(ap, fmt);
    vsnprintf(t->vmsg, sizeof t->vmsg, fmt, ap);
    va_end(ap);
}

typedef struct name_walk {
    wire_tls *t;
    char seen[160];             /* "'a', 'b' (invalid)" for the message */
    size_t used;
    int cut;                    /* seen ran out of room */
} name_walk;

static void walk_note(name_walk *w, const unsigned char *s, size_t len,
                      int valid)
{
    char show[WIRE_TLS_NAME_MAX + 4];
    int n;
    if (w->cut)
        return;
    name_show(show, sizeof show, s, len);
    n = snprintf(w->seen + w->used, sizeof w->seen - w->used, "%s'%s'%s",
                 w->used ? ", " : "", show, valid ? "" : " (invalid)");
    /* keep room for ", ..." after the last name that fits */
    if (n < 0 || (size_t)n + 6 > sizeof w->seen - w->used) {
        w->cut = 1;
        memcpy(w->seen + w->used, ", ...", 6);
        w->used += 5;
        return;
    }
    w->used += (size_t)n;
}

static int walk_one(void *ud, const unsigned char *s, size_t len)
{
    name_walk *w = ud;
    char name[WIRE_TLS_NAME_MAX];
    if (!name_ok(s, len)) {
        walk_note(w, s, len, 0);
        return 0;
    }
    memcpy(name, s, len);
    name[len] = '\0';
    if (w->t->check(w->t->arg, name) == 1) {
        memcpy(w->t->cand, name, len + 1);
        return 1;
    }
    walk_note(w, s, len, 1);
    return 0;
}

static int verify_cb(int ok, X509_STORE_CTX *xs)
{
    SSL *ssl = X509_STORE_CTX_get_ex_data(
        xs, SSL_get_ex_data_X509_STORE_CTX_idx());
    wire_tls *t = ssl ? SSL_get_app_data(ssl) : NULL;
    X509 *x = X509_STORE_CTX_get_current_cert(xs);
    int depth = X509_STORE_CTX_get_error_depth(xs);
    name_walk w;

    if (!t)
        return 0;               /* not one of our sessions: refuse */
    if (!ok) {
        char subj[128] = "?";
        if (x)
            X509_NAME_oneline(X509_get_subject_name(x), subj, sizeof subj);
        refuse(t, "peer certificate verification failed: %s "
               "(depth %d, subject %s)",
               X509_verify_cert_error_string(X509_STORE_CTX_get_error(xs)),
               depth, subj);
        return 0;
    }
    if (depth != 0)
        return 1;
    if (!x) {
        X509_STORE_CTX_set_error(xs, X509_V_ERR_APPLICATION_VERIFICATION);
        refuse(t, "peer certificate missing at depth 0");
        return 0;
    }
    memset(&w, 0, sizeof w);
    w.t = t;
    t->cand[0] = '\0';
    if (visit_names(x, walk_one, &w) == 1)
        return 1;
    X509_STORE_CTX_set_error(xs, X509_V_ERR_APPLICATION_VERIFICATION);
    if (t->expected[0])
        refuse(t, "peer certificate names %s, expected '%s'",
               w.used ? w.seen : "nothing", t->expected);
    else
        refuse(t, "peer certificate names %s, expected a name this node "
               "accepts", w.used ? w.seen : "nothing");
    return 0;
}

/* ------------------------------------------------------------ context */

static int take_first(void *ud, const unsigned char *s, size_t len)
{
    wire_tls_ctx *c = ud;
    if (!name_ok(s, len)) {
        c->name_rc = -EINVAL;
        return 1;
    }
    memcpy(c->name, s, len);
    c->name[len] = '\0';
    c->name_rc = 0;
    return 1;
}

/* A file OpenSSL could not use: -errno if it could not be opened. */
static int file_error(const char *what, const char *path, char *err,
                      size_t errlen)
{
    char why[200];
    unsigned long e = ossl_drain(why, sizeof why, NULL);
    int code = -EINVAL;
    if (e && ossl_is_system(e) && ERR_GET_REASON(e) > 0)
        code = -ERR_GET_REASON(e);
    return lg_errf(err, errlen, code, "%s %s: %s", what, path, why);
}

/* Our certificate chain and its private key, which must match. */
static int load_identity(SSL_CTX *s, const char *cert_pem,
                         const char *key_pem, char *err, size_t errlen)
{
    char why[200];
    if (SSL_CTX_use_certificate_chain_file(s, cert_pem) != 1)
        return file_error("certificate", cert_pem, err, errlen);
    if (SSL_CTX_use_PrivateKey_file(s, key_pem, SSL_FILETYPE_PEM) != 1) {
        unsigned long e = ERR_peek_last_error();
        if (ERR_GET_LIB(e) != ERR_LIB_X509 ||
            ERR_GET_REASON(e) != X509_R_KEY_VALUES_MISMATCH)
            return file_error("private key", key_pem, err, errlen);
    } else if (SSL_CTX_check_private_key(s) == 1) {
        return 0;
    }
    ossl_drain(why, sizeof why, NULL);
    return lg_errf(err, errlen, -EINVAL,
                   "private key %s does not match certificate %s: %s",
                   key_pem, cert_pem, why);
}

int wire_tls_ctx_new(wire_tls_ctx **out, const char *cert_pem,
                     const char *key_pem, const char *ca_pem, char *err,
                     size_t errlen)
{
    wire_tls_ctx *c;
    SSL_CTX *s;
    STACK_OF(X509_NAME) *cas;
    X509 *own;
    char why[200];
    int rc;

    if (!out)
        return lg_errf(err, errlen, -EINVAL, "wire_tls_ctx_new: no out");
    *out = NULL;
    if (!cert_pem || !key_pem || !ca_pem)
        return lg_errf(err, errlen, -EINVAL,
                       "TLS needs a certificate, a key and a CA file");
    if (!(c = calloc(1, sizeof *c)))
        return lg_errf(err, errlen, -ENOMEM, "out of memory");
    c->name_rc = -ENOENT;
    ERR_clear_error();
    if (!(s = c->ssl = SSL_CTX_new(TLS_method()))) {
        ossl_drain(why, sizeof why, NULL);
        rc = lg_errf(err, errlen, -ENOMEM, "SSL_CTX_new: %s", why);
        goto fail;
    }
    if (SSL_CTX_set_min_proto_version(s, TLS1_3_VERSION) != 1 ||
        SSL_CTX_set_max_proto_version(s, TLS1_3_VERSION) != 1) {
        ossl_drain(why, sizeof why, NULL);
        rc = lg_errf(err, errlen, -EINVAL, "cannot restrict to TLS 1.3: %s",
                     why);
        goto fail;
    }
    SSL_CTX_set_options(s, SSL_OP_NO_TICKET);
    SSL_CTX_set_num_tickets(s, 0);
    SSL_CTX_set_session_cache_mode(s, SSL_SESS_CACHE_OFF);
    SSL_CTX_clear_mode(s, SSL_MODE_ENABLE_PARTIAL_WRITE);

    if ((rc = load_identity(s, cert_pem, key_pem, err, errlen)) < 0)
        goto fail;
    if (SSL_CTX_load_verify_locations(s, ca_pem, NULL) != 1) {
        rc = file_error("CA", ca_pem, err, errlen);
        goto fail;
    }
    /* Tell clients which CA we want (their CertificateRequest). */
    if ((cas = SSL_load_client_CA_file(ca_pem)) != NULL)
        SSL_CTX_set_client_CA_list(s, cas);
    ERR_clear_error();
    SSL_CTX_set_verify(s, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
                       verify_cb);
    SSL_CTX_set_verify_depth(s, VERIFY_DEPTH);

    if ((own = SSL_CTX_get0_certificate(s)) != NULL)
        visit_names(own, take_first, c);
    ERR_clear_error();
    *out = c;
    return 0;

fail:
    ERR_clear_error();
    wire_tls_ctx_free(c);
    return rc;
}

/* ALPN for the API listener: gRPC clients offer "h2" and insist on it
 * being selected; a client that offers only other protocols is refused. */
static int alpn_select(SSL *ssl, const unsigned char **out,
                       unsigned char *outlen, const unsigned char *in,
                       unsigned int inlen, void *arg)
{
    static const unsigned char h2[] = "\x02h2";
    unsigned char *sel = NULL;
    (void)ssl;
    (void)arg;
    if (SSL_select_next_proto(&sel, outlen, h2, sizeof h2 - 1, in, inlen) !=
        OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    *out = sel;
    return SSL_TLSEXT_ERR_OK;
}

int wire_tls_ctx_new_api(wire_tls_ctx **out, const char *cert_pem,
                         const char *key_pem, char *err, size_t errlen)
{
    wire_tls_ctx *c;
    SSL_CTX *s;
    char why[200];
    int rc;

    if (!out)
        return lg_errf(err, errlen, -EINVAL, "wire_tls_ctx_new_api: no out");
    *out = NULL;
    if (!cert_pem || !key_pem)
        return lg_errf(err, errlen, -EINVAL,
                       "TLS needs a certificate and a key");
    if (!(c = calloc(1, sizeof *c)))
        return lg_errf(err, errlen, -ENOMEM, "out of memory");
    c->api = 1;
    c->name_rc = -ENOENT;
    ERR_clear_error();
    if (!(s = c->ssl = SSL_CTX_new(TLS_server_method()))) {
        ossl_drain(why, sizeof why, NULL);
        rc = lg_errf(err, errlen, -ENOMEM, "SSL_CTX_new: %s", why);
        goto fail;
    }
    if (SSL_CTX_set_min_proto_version(s, TLS1_2_VERSION) != 1) {
        ossl_drain(why, sizeof why, NULL);
        rc = lg_errf(err, errlen, -EINVAL, "cannot require TLS 1.2: %s", why);
        goto fail;
    }
    SSL_CTX_set_options(s, SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION |
                               SSL_OP_NO_COMPRESSION);
    SSL_CTX_set_num_tickets(s, 0);
    SSL_CTX_set_session_cache_mode(s, SSL_SESS_CACHE_OFF);
    SSL_CTX_clear_mode(s, SSL_MODE_ENABLE_PARTIAL_WRITE);
    if ((rc = load_identity(s, cert_pem, key_pem, err, errlen)) < 0)
        goto fail;
    SSL_CTX_set_verify(s, SSL_VERIFY_NONE, NULL);
    SSL_CTX_set_alpn_select_cb(s, alpn_select, NULL);
    ERR_clear_error();
    *out = c;
    return 0;

fail:
    ERR_clear_error();
    wire_tls_ctx_free(c);
    return rc;
}

void wire_tls_ctx_free(wire_tls_ctx *c)
{
    if (!c)
        return;
    SSL_CTX_free(c->ssl);
    free(c);
}

int wire_tls_ctx_own_name(const wire_tls_ctx *c, char *name, size_t len)
{
    size_t n;
    if (name && len)
        name[0] = '\0';
    if (!c || !name)
        return -EINVAL;
    if (c->name_rc)
        return c->name_rc;
    n = strlen(c->name);
    if (n >= len)
        return -ENOBUFS;
    memcpy(name, c->name, n + 1);
    return 0;
}

/* ------------------------------------------------------------ session */

int wire_tls_new(wire_tls **out, wire_tls_ctx *c, int is_server,
                 wire_tls_name_fn check, void *arg, char *err,
                 size_t errlen)
{
    wire_tls *t;
    BIO *rb = NULL, *wb = NULL;
    char why[200];
    int rc;

    if (!out)
        return lg_errf(err, errlen, -EINVAL, "wire_tls_new: no out");
    *out = NULL;
    if (!c || (!check && !(c->api && is_server)))
        return lg_errf(err, errlen, -EINVAL,
                       "a TLS session needs a context and a name check");
    if (!(t = calloc(1, sizeof *t)))
        return lg_errf(err, errlen, -ENOMEM, "out of memory");
    t->is_server = is_server != 0;
    t->check = check;
    t->arg = arg;
    ERR_clear_error();
    if (!(t->ssl = SSL_new(c->ssl)) || !(rb = BIO_new(BIO_s_mem())) ||
        !(wb = BIO_new(BIO_s_mem()))) {
        ossl_drain(why, sizeof why, NULL);
        BIO_free(rb);
        SSL_free(t->ssl);
        free(t);
        return lg_errf(err, errlen, -ENOMEM, "TLS session: %s", why);
    }
    /* Empty BIOs mean "try again later", never EOF. */
    BIO_set_mem_eof_return(rb, -1);
    BIO_set_mem_eof_return(wb, -1);
    SSL_set_bio(t->ssl, rb, wb);        /* the SSL owns both now */
    t->rbio = rb;
    t->wbio = wb;
    if (SSL_set_app_data(t->ssl, t) != 1) {
        ERR_clear_error();
        wire_tls_free(t);
        return lg_errf(err, errlen, -ENOMEM, "TLS session: out of memory");
    }
    if (t->is_server) {
        SSL_set_accept_state(t->ssl);
    } else {
        int r;
        SSL_set_connect_state(t->ssl);
        r = SSL_do_handshake(t->ssl);   /* queue the ClientHello */
        if (r != 1 && (rc = ssl_result(t, r, "handshake", err, errlen)) < 0) {
            wire_tls_free(t);
            return rc;
        }
    }
    *out = t;
    return 0;
}

void wire_tls_free(wire_tls *t)
{
    if (!t)
        return;
    SSL_free(t->ssl);           /* frees both BIOs */
    free(t);
}

void wire_tls_set_expected(wire_tls *t, const char *name)
{
    if (!t)
        return;
    if (!name) {
        t->expected[0] = '\0';
        return;
    }
    name_show(t->expected, sizeof t->expected, (const unsigned char *)name,
              strlen(name));
}

int wire_tls_feed(wire_tls *t, const void *data, size_t len, char *err,
                  size_t errlen)
{
    size_t pending;
    if (!t || (!data && len))
        return lg_errf(err, errlen, -EINVAL, "wire_tls_feed: bad arguments");
    if (t->error)
        return lg_errf(err, errlen, t->error, "%s", t->errmsg);
    if (len == 0)
        return 0;
    pending = BIO_ctrl_pending(t->rbio);
    if (pending > WIRE_TLS_IN_MAX || len > WIRE_TLS_IN_MAX - pending)
        return lg_errf(err, errlen, -ENOBUFS,
                       "TLS input: %zu bytes unread, %zu more would pass "
                       "the %zu-byte limit", pending, len, WIRE_TLS_IN_MAX);
    /* len <= WIRE_TLS_IN_MAX < INT_MAX */
    ERR_clear_error();
    if (BIO_write(t->rbio, data, (int)len) != (int)len) {
        ERR_clear_error();
        return failf(t, err, errlen, -ENOMEM, "TLS input: out of memory");
    }
    return 0;
}

/* The handshake just completed: publish the peer's name and the suite. */
static int handshake_finished(wire_tls *t, char *err, size_t errlen)
{
    const SSL_CIPHER *cs = SSL_get_current_cipher(t->ssl);
    /* API sessions (no name check: wire_tls_ctx_new_api) take TLS 1.2 too
     * and ask for no client certificate. */
    if (t->check && SSL_version(t->ssl) != TLS1_3_VERSION)
        return failf(t, err, errlen, -EPROTO,
                     "TLS handshake ended in %s, not TLS 1.3",
                     SSL_get_version(t->ssl));
    if (t->check &&
        (!t->cand[0] || SSL_get_verify_result(t->ssl) != X509_V_OK))
        return failf(t, err, errlen, -EACCES,
                     "TLS handshake completed without an accepted peer "
                     "certificate");
    t->done = 1;
    memcpy(t->peer, t->cand, sizeof t->peer);
    snprintf(t->cipher, sizeof t->cipher, "%s",
             cs ? SSL_CIPHER_get_name(cs) : "");
    return 0;
}

ssize_t wire_tls_read(wire_tls *t, void *buf, size_t cap, char *err,
                      size_t errlen)
{
    size_t n = 0;
    int r, rc;

    if (!t || !buf || cap == 0)
        return lg_errf(err, errlen, -EINVAL, "wire_tls_read: bad arguments");
    if (t->error)
        return lg_errf(err, errlen, t->error, "%s", t->errmsg);
    if (t->got_close)
        return lg_errf(err, errlen, WIRE_TLS_EOF,
                       "peer closed the session (close_notify)");
    ERR_clear_error();
    if (!t->done) {
        r = SSL_do_handshake(t->ssl);
        if (r != 1)
            return ssl_result(t, r, "handshake", err, errlen);
        if ((rc = handshake_finished(t, err, errlen)) < 0)
            return rc;
    }
    if (cap > SSIZE_MAX)
        cap = SSIZE_MAX;
    r = SSL_read_ex(t->ssl, buf, cap, &n);
    if (r == 1)
        return (ssize_t)n;
    return ssl_result(t, r, "read", err, errlen);
}

ssize_t wire_tls_write(wire_tls *t, const void *buf, size_t len, char *err,
                       size_t errlen)
{
    size_t n = 0;
    int r;

    if (!t || (!buf && len))
        return lg_errf(err, errlen, -EINVAL, "wire_tls_write: bad arguments");
    if (t->error)
        return lg_errf(err, errlen, t->error, "%s", t->errmsg);
    if (t->sent_close)
        return lg_errf(err, errlen, -EPIPE,
                       "TLS write after close_notify was sent");
    if (!t->done || len == 0)
        return 0;
    if (len > SSIZE_MAX)
        len = SSIZE_MAX;
    ERR_clear_error();
    r = SSL_write_ex(t->ssl, buf, len, &n);
    if (r == 1)
        return (ssize_t)n;
    return ssl_result(t, r, "write", err, errlen);
}

size_t wire_tls_out_pending(const wire_tls *t)
{
    return t ? BIO_ctrl_pending(t->wbio) : 0;
}

size_t wire_tls_out_take(wire_tls *t, void *buf, size_t cap)
{
    int n;
    if (!t || !buf || cap == 0)
        return 0;
    n = BIO_read(t->wbio, buf, cap > INT_MAX ? INT_MAX : (int)cap);
    return n > 0 ? (size_t)n : 0;
}

int wire_tls_shutdown(wire_tls *t)
{
    int r;
    if (!t)
        return -EINVAL;
    if (t->error)
        return t->error;
    if (!t->done)
        return -ENOTCONN;
    if (t->sent_close)
        return 0;
    ERR_clear_error();
    r = SSL_shutdown(t->ssl);
    if (r < 0) {
        int rc = ssl_result(t, r, "shutdown", NULL, 0);
        if (rc < 0 && rc != WIRE_TLS_EOF)
            return rc;
    }
    t->sent_close = 1;
    return 0;
}

int wire_tls_handshake_done(const wire_tls *t)
{
    return t ? t->done : 0;
}

const char *wire_tls_peer_name(const wire_tls *t)
{
    return t && t->done ? t->peer : "";
}

const char *wire_tls_cipher(const wire_tls *t)
{
    return t && t->done ? t->cipher : "";
}

const char *wire_tls_error(const wire_tls *t)
{
    return t && t->error ? t->errmsg : "";
}
