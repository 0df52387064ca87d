/*
 * check_tls.c - unit tests for lib/wire/tlsio.c: two wire_tls sessions
 * joined in memory (ciphertext moved in 64 KiB slices, each followed by
 * reads until nothing more comes, as the daemon does).
 *
 * Certificates are made here, before the tests run, with OpenSSL 3's API
 * into a mkdtemp directory (removed at exit): an EC P-256 CA, a second
 * "other" CA, and node certificates (CN=name, subjectAltName DNS:name,
 * serverAuth+clientAuth, CA:FALSE), plus odd ones (CN and SAN that differ,
 * CN only, invalid names).
 *
 * Covered: a mutual handshake with 3 MiB each way compared byte for byte;
 * a client from another CA, a server with the wrong name and a client the
 * server does not accept, each refused before the refusing side completes
 * and with the other side failing on the alert; garbage, a corrupted
 * record and a TLS 1.2 client; close_notify as EOF; context errors naming
 * the file; our own name; invalid certificate names; the input limit.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "tlsio.h"

static char dir[64];            /* the certificates, from mkdtemp */
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

/* dir/name.ext, in one of 4 rotating buffers: copy what must live longer. */
static const char *path(const char *name, const char *ext)
{
    static char buf[4][256];
    static int i;
    char *p = buf[i++ % 4];
    snprintf(p, sizeof buf[0], "%s/%s.%s", dir, name, ext);
    return p;
}

/* ------------------------------------------------ certificate factory */

static void die(const char *what)
{
    fprintf(stderr, "check_tls: %s\n", what);
    ERR_print_errors_fp(stderr);
    exit(EXIT_FAILURE);
}

static void add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
    X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
    if (!e || !X509_add_ext(x, e, -1))
        die(value);
    X509_EXTENSION_free(e);
}

/* A certificate for key: a CA if ca, else a node certificate with san
 * (an X509v3 subjectAltName value, or NULL for none). Self-signed when
 * issuer is NULL. */
static X509 *make_cert(EVP_PKEY *key, const char *cn, const char *san,
                       X509 *issuer, EVP_PKEY *issuer_key, int ca)
{
    static long serial = 1;
    X509 *x = X509_new();
    X509_NAME *name;
    X509V3_CTX ctx;
    if (!x || !X509_set_version(x, 2) ||
        !ASN1_INTEGER_set(X509_get_serialNumber(x), serial++) ||
        !X509_gmtime_adj(X509_getm_notBefore(x), -300) ||
        !X509_gmtime_adj(X509_getm_notAfter(x), 86400L) ||
        !X509_set_pubkey(x, key))
        die("certificate");
    name = X509_get_subject_name(x);
    if (!X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                    (const unsigned char *)cn, -1, -1, 0) ||
        !X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer)
                                        : name))
        die("certificate name");
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer ? issuer : x, x, NULL, NULL, 0);
    if (ca) {
        add_ext(x, &ctx, NID_basic_constraints, "critical,CA:TRUE");
        add_ext(x, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign");
    } else {
        add_ext(x, &ctx, NID_basic_constraints, "critical,CA:FALSE");
        add_ext(x, &ctx, NID_key_usage, "critical,digitalSignature");
        add_ext(x, &ctx, NID_ext_key_usage, "serverAuth,clientAuth");
        if (san)
            add_ext(x, &ctx, NID_subject_alt_name, san);
    }
    if (!X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256()))
        die("sign");
    return x;
}

static void write_pair(const char *name, EVP_PKEY *key, X509 *x)
{
    FILE *f = fopen(path(name, "key"), "w");
    if (!f || !PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL) ||
        fclose(f) != 0)
        die(path(name, "key"));
    f = fopen(path(name, "crt"), "w");
    if (!f || !PEM_write_X509(f, x) || fclose(f) != 0)
        die(path(name, "crt"));
}

/* A node key and certificate signed by (ca, cakey) into dir/name.{crt,key}. */
static void make_node(const char *name, const char *cn, const char *san,
                      X509 *ca, EVP_PKEY *cakey)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");
    X509 *x;
    if (!k)
        die("EC key");
    x = make_cert(k, cn, san, ca, cakey, 0);
    write_pair(name, k, x);
    X509_free(x);
    EVP_PKEY_free(k);
}

static char long_name[80];      /* 64 valid characters: one too many */

static void make_all(void)
{
    EVP_PKEY *cak = EVP_EC_gen("P-256"), *otk = EVP_EC_gen("P-256");
    X509 *ca, *ot;
    char san[160];
    FILE *f;

    if (!cak || !otk)
        die("EC key");
    ca = make_cert(cak, "lagrange test CA", NULL, NULL, NULL, 1);
    ot = make_cert(otk, "other CA", NULL, NULL, NULL, 1);
    write_pair("ca", cak, ca);
    write_pair("other", otk, ot);
    make_node("gs-a", "gs-a", "DNS:gs-a", ca, cak);
    make_node("gs-b", "gs-b", "DNS:gs-b", ca, cak);
    make_node("gs-c", "gs-c", "DNS:gs-c", ca, cak);
    make_node("gs-x", "gs-x", "DNS:gs-x", ca, cak);
    make_node("gs-rogue", "gs-rogue", "DNS:gs-rogue", ot, otk);
    make_node("san", "cn-name", "DNS:gs-san,DNS:gs-second", ca, cak);
    make_node("cnonly", "gs-cnonly", NULL, ca, cak);
    memset(long_name, 'n', 64);
    long_name[64] = '\0';
    snprintf(san, sizeof san, "DNS:gs x,DNS:%s,DNS:gs/evil", long_name);
    make_node("badname", "gs-a", san, ca, cak);
    if (!(f = fopen(path("garbage", "pem"), "w")) ||
        fputs("this is not PEM\n", f) < 0 || fclose(f) != 0)
        die("garbage");
    X509_free(ca);
    X509_free(ot);
    EVP_PKEY_free(cak);
    EVP_PKEY_free(otk);
}

static void remove_all(void)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char p[512];
    if (!d)
        return;
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

/* ------------------------------------------------------ name checks */

typedef struct accept_list {
    const char *names[4];       /* accepted names; "*" accepts anything */
    int calls;                  /* how often the check was asked */
} accept_list;

static int check_list(void *arg, const char *name)
{
    accept_list *a = arg;
    a->calls++;
    ck_assert_uint_lt(strlen(name), WIRE_TLS_NAME_MAX);
    for (int i = 0; i < 4 && a->names[i]; i++)
        if (strcmp(a->names[i], "*") == 0 || strcmp(a->names[i], name) == 0)
            return 1;
    return 0;
}

/* ------------------------------------------------------------ pairs */

typedef struct end {
    wire_tls *t;
    wire_tls_ctx *ctx;
    accept_list acc;
    uint8_t *rx;                /* plaintext received */
    size_t rx_len, rx_cap;
    size_t rdcap;               /* read slice for wire_tls_read */
    int rc;                     /* 0, WIRE_TLS_EOF or the first error */
    int ever_done;              /* handshake_done was seen */
    char err[512];
} end;

static wire_tls_ctx *ctx_for(const char *name)
{
    wire_tls_ctx *c = NULL;
    int rc = wire_tls_ctx_new(&c, path(name, "crt"), path(name, "key"),
                              path("ca", "crt"), err, sizeof err);
    ck_assert_msg(rc == 0, "ctx %s: %s", name, err);
    return c;
}

/* Set up e as node name, accepting the listed names (up to 3). */
static void end_open(end *e, const char *name, int is_server,
                     const char *a0, const char *a1, const char *a2,
                     size_t rdcap)
{
    int rc;
    memset(e, 0, sizeof *e);
    e->ctx = ctx_for(name);
    e->acc.names[0] = a0;
    e->acc.names[1] = a1;
    e->acc.names[2] = a2;
    e->rdcap = rdcap;
    rc = wire_tls_new(&e->t, e->ctx, is_server, check_list, &e->acc, err,
                      sizeof err);
    ck_assert_msg(rc == 0, "wire_tls_new: %s", err);
    ck_assert_int_eq(wire_tls_handshake_done(e->t), 0);
    ck_assert_str_eq(wire_tls_peer_name(e->t), "");
    ck_assert_str_eq(wire_tls_cipher(e->t), "");
    ck_assert_str_eq(wire_tls_error(e->t), "");
    /* only a client has something to say first */
    if (is_server)
        ck_assert_uint_eq(wire_tls_out_pending(e->t), 0);
    else
        ck_assert_uint_gt(wire_tls_out_pending(e->t), 0);
}

static void end_close(end *e)
{
    wire_tls_free(e->t);
    wire_tls_ctx_free(e->ctx);
    free(e->rx);
    memset(e, 0, sizeof *e);
}

/* Read until wire_tls_read says 0 (or EOF, or an error). */
static void drain(end *e)
{
    for (;;) {
        ssize_t r;
        if (e->rx_cap - e->rx_len < e->rdcap) {
            size_t cap = e->rx_cap ? e->rx_cap * 2 : 65536;
            while (cap - e->rx_len < e->rdcap)
                cap *= 2;
            e->rx = realloc(e->rx, cap);
            ck_assert_ptr_nonnull(e->rx);
            e->rx_cap = cap;
        }
        r = wire_tls_read(e->t, e->rx + e->rx_len, e->rdcap, e->err,
                          sizeof e->err);
        if (wire_tls_handshake_done(e->t))
            e->ever_done = 1;
        if (r > 0) {
            ck_assert_uint_le((size_t)r, e->rdcap);
            e->rx_len += (size_t)r;
            continue;
        }
        if (r < 0 && e->rc == 0)
            e->rc = (int)r;
        return;
    }
}

/* Move everything from's write BIO holds to to, in 64 KiB slices, each
 * followed by reads. Bytes for a session that failed are dropped, as a
 * closed socket would. Returns the bytes moved. */
static size_t deliver(end *from, end *to)
{
    static uint8_t slice[65536];
    size_t n, moved = 0;
    while ((n = wire_tls_out_take(from->t, slice, sizeof slice)) > 0) {
        moved += n;
        if (to->rc < 0 && to->rc != WIRE_TLS_EOF)
            continue;
        ck_assert_int_eq(wire_tls_feed(to->t, slice, n, to->err,
                                       sizeof to->err), 0);
        drain(to);
    }
    return moved;
}

static void pump(end *a, end *b)
{
    for (int i = 0; i < 100000; i++)
        if (deliver(a, b) + deliver(b, a) == 0)
            return;
    ck_abort_msg("pump does not settle");
}

/* Write all of len bytes (the handshake must be done). */
static void send_all(end *e, const uint8_t *p, size_t len)
{
    ssize_t w = wire_tls_write(e->t, p, len, err, sizeof err);
    ck_assert_msg(w == (ssize_t)len, "write %zu: %zd %s", len, w, err);
}

/* --------------------------------------------------------------- tests */

START_TEST(test_handshake_and_3mib_each_way)
{
    const size_t total = (size_t)3 << 20;
    uint8_t *c2s = malloc(total), *s2c = malloc(total);
    size_t csent = 0, ssent = 0;
    end cli, srv;
    const char *cipher;

    ck_assert_ptr_nonnull(c2s);
    ck_assert_ptr_nonnull(s2c);
    fill_random(c2s, total);
    fill_random(s2c, total);
    end_open(&cli, "gs-a", 0, "gs-b", NULL, NULL, 65536);
    end_open(&srv, "gs-b", 1, "gs-c", "gs-a", NULL, 1000);
    wire_tls_set_expected(cli.t, "gs-b");

    /* nothing to do yet: writes wait, reads want input */
    ck_assert_int_eq(wire_tls_write(cli.t, c2s, 10, err, sizeof err), 0);
    ck_assert_int_eq(wire_tls_read(srv.t, srv.err, 16, err, sizeof err), 0);
    ck_assert_int_eq(wire_tls_shutdown(cli.t), -ENOTCONN);

    pump(&cli, &srv);
    ck_assert_msg(cli.rc == 0 && srv.rc == 0, "client: %s / server: %s",
                  cli.err, srv.err);
    ck_assert_int_eq(wire_tls_handshake_done(cli.t), 1);
    ck_assert_int_eq(wire_tls_handshake_done(srv.t), 1);
    ck_assert_str_eq(wire_tls_peer_name(cli.t), "gs-b");
    ck_assert_str_eq(wire_tls_peer_name(srv.t), "gs-a");
    ck_assert_int_eq(cli.acc.calls, 1);
    ck_assert_int_eq(srv.acc.calls, 1);
    cipher = wire_tls_cipher(cli.t);
    ck_assert_msg(strcmp(cipher, "TLS_AES_256_GCM_SHA384") == 0 ||
                  strcmp(cipher, "TLS_AES_128_GCM_SHA256") == 0 ||
                  strcmp(cipher, "TLS_CHACHA20_POLY1305_SHA256") == 0,
                  "cipher %s", cipher);
    ck_assert_str_eq(cipher, wire_tls_cipher(srv.t));

    /* 3 MiB each way in random pieces, both directions at once */
    while (csent < total || ssent < total) {
        size_t n = 1 + (size_t)(rnd() % 300000);
        if (csent < total) {
            size_t k = n < total - csent ? n : total - csent;
            send_all(&cli, c2s + csent, k);
            csent += k;
        }
        n = 1 + (size_t)(rnd() % 300000);
        if (ssent < total) {
            size_t k = n < total - ssent ? n : total - ssent;
            send_all(&srv, s2c + ssent, k);
            ssent += k;
        }
        pump(&cli, &srv);
    }
    ck_assert_msg(cli.rc == 0 && srv.rc == 0, "client: %s / server: %s",
                  cli.err, srv.err);
    ck_assert_uint_eq(srv.rx_len, total);
    ck_assert_uint_eq(cli.rx_len, total);
    ck_assert_int_eq(memcmp(srv.rx, c2s, total), 0);
    ck_assert_int_eq(memcmp(cli.rx, s2c, total), 0);
    ck_assert_str_eq(wire_tls_error(cli.t), "");
    ck_assert_str_eq(wire_tls_error(srv.t), "");
    end_close(&cli);
    end_close(&srv);
    free(c2s);
    free(s2c);
}
END_TEST

START_TEST(test_client_from_other_ca_refused)
{
    end cli, srv;
    end_open(&cli, "gs-rogue", 0, "gs-b", NULL, NULL, 65536);
    end_open(&srv, "gs-b", 1, "gs-a", "gs-rogue", NULL, 65536);
    pump(&cli, &srv);

    ck_assert_int_eq(srv.rc, -EACCES);
    ck_assert_msg(strstr(srv.err, "verification failed") &&
                  strstr(srv.err, "unable to get local issuer"),
                  "server: %s", srv.err);
    ck_assert_str_eq(wire_tls_error(srv.t), srv.err);
    ck_assert_int_eq(srv.ever_done, 0);
    ck_assert_int_eq(wire_tls_handshake_done(srv.t), 0);
    ck_assert_str_eq(wire_tls_peer_name(srv.t), "");
    ck_assert_int_eq(srv.acc.calls, 0);      /* chain failed: never asked */
    ck_assert_uint_eq(srv.rx_len, 0);
    /* the client finished its side (TLS 1.3) but then read the alert */
    ck_assert_msg(cli.rc < 0 && cli.rc != WIRE_TLS_EOF, "client rc %d",
                  cli.rc);
    ck_assert_int_eq(cli.rc, -ECONNABORTED);
    ck_assert_msg(strstr(cli.err, "alert"), "client: %s", cli.err);
    /* sticky */
    ck_assert_int_eq(wire_tls_read(srv.t, srv.err, 16, err, sizeof err),
                     -EACCES);
    ck_assert_str_eq(err, srv.err);
    ck_assert_int_eq(wire_tls_feed(srv.t, "x", 1, err, sizeof err), -EACCES);
    ck_assert_int_eq(wire_tls_write(srv.t, "x", 1, err, sizeof err),
                     -EACCES);
    ck_assert_int_eq(wire_tls_shutdown(srv.t), -EACCES);
    end_close(&cli);
    end_close(&srv);
}
END_TEST

START_TEST(test_server_with_wrong_name_refused)
{
    end cli, srv;
    end_open(&cli, "gs-a", 0, "gs-mad", NULL, NULL, 65536);
    end_open(&srv, "gs-x", 1, "gs-a", NULL, NULL, 65536);
    wire_tls_set_expected(cli.t, "gs-mad");
    pump(&cli, &srv);

    ck_assert_int_eq(cli.rc, -EACCES);
    ck_assert_str_eq(cli.err, "peer certificate names 'gs-x', "
                              "expected 'gs-mad'");
    ck_assert_int_eq(cli.ever_done, 0);
    ck_assert_int_eq(cli.acc.calls, 1);
    ck_assert_str_eq(wire_tls_peer_name(cli.t), "");
    /* the client's alert reaches the server, which never completes */
    ck_assert_msg(srv.rc < 0 && srv.rc != WIRE_TLS_EOF, "server rc %d",
                  srv.rc);
    ck_assert_int_eq(srv.ever_done, 0);
    ck_assert_int_eq(srv.acc.calls, 0);
    end_close(&cli);
    end_close(&srv);
}
END_TEST

START_TEST(test_client_name_not_accepted)
{
    end cli, srv;
    end_open(&cli, "gs-c", 0, "gs-b", NULL, NULL, 65536);
    end_open(&srv, "gs-b", 1, "gs-a", "gs-x", NULL, 65536);
    pump(&cli, &srv);

    ck_assert_int_eq(srv.rc, -EACCES);
    ck_assert_str_eq(srv.err, "peer certificate names 'gs-c', expected a "
                              "name this node accepts");
    ck_assert_int_eq(srv.ever_done, 0);
    ck_assert_int_eq(srv.acc.calls, 1);
    ck_assert_uint_gt(cli.acc.calls, 0);
    ck_assert_msg(cli.rc < 0 && cli.rc != WIRE_TLS_EOF, "client rc %d",
                  cli.rc);
    ck_assert_msg(strstr(cli.err, "alert"), "client: %s", cli.err);
    end_close(&cli);
    end_close(&srv);
}
END_TEST

START_TEST(test_garbage_and_corruption)
{
    uint8_t junk[4096], buf[4096];
    const char *http = "GET / HTTP/1.1\r\nHost: gs-b\r\n\r\n";
    end cli, srv;
    size_t n;
    ssize_t r;

    /* random bytes, and then an HTTP request, to fresh servers */
    fill_random(junk, sizeof junk);
    end_open(&srv, "gs-b", 1, "*", NULL, NULL, 4096);
    ck_assert_int_eq(wire_tls_feed(srv.t, junk, sizeof junk, err,
                                   sizeof err), 0);
    r = wire_tls_read(srv.t, buf, sizeof buf, err, sizeof err);
    ck_assert_int_eq(r, -EPROTO);
    ck_assert_msg(strstr(err, "TLS handshake failed"), "%s", err);
    ck_assert_int_eq(wire_tls_handshake_done(srv.t), 0);
    ck_assert_int_eq(srv.acc.calls, 0);
    end_close(&srv);

    end_open(&srv, "gs-b", 1, "*", NULL, NULL, 4096);
    ck_assert_int_eq(wire_tls_feed(srv.t, http, strlen(http), err,
                                   sizeof err), 0);
    r = wire_tls_read(srv.t, buf, sizeof buf, err, sizeof err);
    ck_assert_int_eq(r, -EPROTO);
    ck_assert_msg(strstr(err, "http request") || strstr(err, "wrong version"),
                  "%s", err);
    end_close(&srv);

    /* a flipped bit in an application record after the handshake */
    end_open(&cli, "gs-a", 0, "gs-b", NULL, NULL, 65536);
    end_open(&srv, "gs-b", 1, "gs-a", NULL, NULL, 65536);
    pump(&cli, &srv);
    ck_assert(wire_tls_handshake_done(srv.t));
    send_all(&cli, junk, 1000);
    n = wire_tls_out_take(cli.t, buf, sizeof buf);
    ck_assert_uint_gt(n, 1000);
    ck_assert_uint_eq(wire_tls_out_pending(cli.t), 0);
    buf[n / 2] ^= 0x10;
    ck_assert_int_eq(wire_tls_feed(srv.t, buf, n, err, sizeof err), 0);
    r = wire_tls_read(srv.t, buf, sizeof buf, err, sizeof err);
    ck_assert_int_eq(r, -EPROTO);
    ck_assert_msg(strstr(err, "TLS read failed") && strstr(err, "mac"),
                  "%s", err);
    ck_assert_uint_gt(wire_tls_out_pending(srv.t), 0);      /* the alert */
    srv.rc = (int)r;
    pump(&cli, &srv);
    ck_assert_int_eq(cli.rc, -ECONNABORTED);
    end_close(&cli);
    end_close(&srv);
}
END_TEST

START_TEST(test_tls12_client_refused)
{
    SSL_CTX *c = SSL_CTX_new(TLS_client_method());
    SSL *s;
    BIO *rb = BIO_new(BIO_s_mem()), *wb = BIO_new(BIO_s_mem());
    uint8_t buf[8192];
    end srv;
    int n;
    ssize_t r;

    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(SSL_CTX_set_max_proto_version(c, TLS1_2_VERSION), 1);
    s = SSL_new(c);
    ck_assert_ptr_nonnull(s);
    SSL_set_bio(s, rb, wb);
    SSL_set_connect_state(s);
    ck_assert_int_le(SSL_do_handshake(s), 0);           /* wants input */
    end_open(&srv, "gs-b", 1, "*", NULL, NULL, 4096);
    while ((n = BIO_read(wb, buf, sizeof buf)) > 0)
        ck_assert_int_eq(wire_tls_feed(srv.t, buf, (size_t)n, err,
                                       sizeof err), 0);
    r = wire_tls_read(srv.t, buf, sizeof buf, err, sizeof err);
    ck_assert_int_eq(r, -EPROTO);
    ck_assert_msg(strstr(err, "protocol"), "%s", err);
    ck_assert_uint_gt(wire_tls_out_pending(srv.t), 0);      /* the alert */
    ck_assert_int_eq(wire_tls_handshake_done(srv.t), 0);
    end_close(&srv);
    SSL_free(s);
    SSL_CTX_free(c);
    ERR_clear_error();
}
END_TEST

START_TEST(test_clean_shutdown)
{
    end cli, srv;
    uint8_t b[16];
    end_open(&cli, "gs-a", 0, "gs-b", NULL, NULL, 65536);
    end_open(&srv, "gs-b", 1, "gs-a", NULL, NULL, 7);
    pump(&cli, &srv);
    ck_assert(wire_tls_handshake_done(cli.t));
    ck_assert(wire_tls_handshake_done(srv.t));

    send_all(&cli, (const uint8_t *)"last words", 10);
    ck_assert_int_eq(wire_tls_shutdown(cli.t), 0);
    ck_assert_int_eq(wire_tls_shutdown(cli.t), 0);          /* harmless */
    ck_assert_int_eq(wire_tls_write(cli.t, "more", 4, err, sizeof err),
                     -EPIPE);
    pump(&cli, &srv);
    ck_assert_int_eq(srv.rc, WIRE_TLS_EOF);
    ck_assert_uint_eq(srv.rx_len, 10);
    ck_assert_int_eq(memcmp(srv.rx, "last words", 10), 0);
    ck_assert_int_eq(wire_tls_read(srv.t, b, sizeof b, err, sizeof err),
                     WIRE_TLS_EOF);
    ck_assert_str_eq(wire_tls_error(srv.t), "");
    ck_assert_int_eq(cli.rc, 0);

    /* half-close: the server may still answer, then close too */
    send_all(&srv, (const uint8_t *)"bye", 3);
    ck_assert_int_eq(wire_tls_shutdown(srv.t), 0);
    pump(&cli, &srv);
    ck_assert_int_eq(cli.rc, WIRE_TLS_EOF);
    ck_assert_uint_eq(cli.rx_len, 3);
    ck_assert_int_eq(memcmp(cli.rx, "bye", 3), 0);
    end_close(&cli);
    end_close(&srv);
}
END_TEST

START_TEST(test_ctx_errors_name_the_file)
{
    wire_tls_ctx *c = (wire_tls_ctx *)&c;       /* must be reset to NULL */
    char missing[256];
    int rc;

    snprintf(missing, sizeof missing, "%s", path("nosuch", "crt"));

    /* key of another node */
    rc = wire_tls_ctx_new(&c, path("gs-a", "crt"), path("gs-b", "key"),
                          path("ca", "crt"), err, sizeof err);
    ck_assert_int_lt(rc, 0);
    ck_assert_ptr_null(c);
    ck_assert_msg(strstr(err, path("gs-b", "key")) &&
                  strstr(err, "does not match"), "%s", err);

    rc = wire_tls_ctx_new(&c, missing, path("gs-a", "key"),
                          path("ca", "crt"), err, sizeof err);
    ck_assert_int_eq(rc, -ENOENT);
    ck_assert_msg(strstr(err, missing) && strstr(err, "No such file"), "%s",
                  err);
    rc = wire_tls_ctx_new(&c, path("gs-a", "crt"), missing,
                          path("ca", "crt"), err, sizeof err);
    ck_assert_int_eq(rc, -ENOENT);
    ck_assert_msg(strstr(err, missing) && strstr(err, "private key"), "%s",
                  err);
    rc = wire_tls_ctx_new(&c, path("gs-a", "crt"), path("gs-a", "key"),
                          missing, err, sizeof err);
    ck_assert_int_eq(rc, -ENOENT);
    ck_assert_msg(strstr(err, missing) && strstr(err, "CA"), "%s", err);

    /* files that are there but are not PEM */
    rc = wire_tls_ctx_new(&c, path("garbage", "pem"), path("gs-a", "key"),
                          path("ca", "crt"), err, sizeof err);
    ck_assert_int_eq(rc, -EINVAL);
    ck_assert_msg(strstr(err, path("garbage", "pem")), "%s", err);
    rc = wire_tls_ctx_new(&c, path("gs-a", "crt"), path("gs-a", "key"),
                          path("garbage", "pem"), err, sizeof err);
    ck_assert_int_eq(rc, -EINVAL);
    ck_assert_msg(strstr(err, path("garbage", "pem")), "%s", err);
    ck_assert_ptr_null(c);
    ck_assert_uint_eq(ERR_peek_error(), 0);     /* queue left empty */

    c = ctx_for("gs-a");
    ck_assert_ptr_nonnull(c);
    wire_tls_ctx_free(c);
}
END_TEST

START_TEST(test_own_name)
{
    char name[WIRE_TLS_NAME_MAX];
    wire_tls_ctx *c = ctx_for("san");
    ck_assert_int_eq(wire_tls_ctx_own_name(c, name, sizeof name), 0);
    ck_assert_str_eq(name, "gs-san");          /* first SAN, not the CN */
    ck_assert_int_eq(wire_tls_ctx_own_name(c, name, 6), -ENOBUFS);
    ck_assert_int_eq(wire_tls_ctx_own_name(c, name, 7), 0);
    ck_assert_str_eq(name, "gs-san");
    wire_tls_ctx_free(c);

    c = ctx_for("cnonly");
    ck_assert_int_eq(wire_tls_ctx_own_name(c, name, sizeof name), 0);
    ck_assert_str_eq(name, "gs-cnonly");
    wire_tls_ctx_free(c);

    c = ctx_for("badname");                     /* first SAN is "gs x" */
    ck_assert_int_eq(wire_tls_ctx_own_name(c, name, sizeof name), -EINVAL);
    ck_assert_str_eq(name, "");
    wire_tls_ctx_free(c);
}
END_TEST

START_TEST(test_peer_names)
{
    end cli, srv;

    /* invalid names are refused without asking, even by accept-all */
    end_open(&cli, "gs-a", 0, "*", NULL, NULL, 65536);
    end_open(&srv, "badname", 1, "*", NULL, NULL, 65536);
    pump(&cli, &srv);
    ck_assert_int_eq(cli.rc, -EACCES);
    ck_assert_int_eq(cli.acc.calls, 0);
    ck_assert_msg(strstr(cli.err, "'gs?x' (invalid)") &&
                  strstr(cli.err, "'gs?evil' (invalid)") &&
                  strstr(cli.err, "(invalid), 'nnnn"),
                  "%s", cli.err);
    ck_assert_int_eq(cli.ever_done, 0);
    end_close(&cli);
    end_close(&srv);

    /* the CN counts when there is no SAN dNSName */
    end_open(&cli, "gs-a", 0, "gs-cnonly", NULL, NULL, 65536);
    end_open(&srv, "cnonly", 1, "gs-a", NULL, NULL, 65536);
    pump(&cli, &srv);
    ck_assert_msg(cli.rc == 0 && srv.rc == 0, "%s / %s", cli.err, srv.err);
    ck_assert_str_eq(wire_tls_peer_name(cli.t), "gs-cnonly");
    end_close(&cli);
    end_close(&srv);

    /* with SANs the CN does not count; every SAN is tried in order */
    end_open(&cli, "gs-a", 0, "cn-name", NULL, NULL, 65536);
    end_open(&srv, "san", 1, "gs-a", NULL, NULL, 65536);
    pump(&cli, &srv);
    ck_assert_int_eq(cli.rc, -EACCES);
    ck_assert_msg(strstr(cli.err, "'gs-san', 'gs-second'"), "%s", cli.err);
    end_close(&cli);
    end_close(&srv);

    end_open(&cli, "gs-a", 0, "gs-second", NULL, NULL, 65536);
    end_open(&srv, "san", 1, "gs-a", NULL, NULL, 65536);
    pump(&cli, &srv);
    ck_assert_msg(cli.rc == 0 && srv.rc == 0, "%s / %s", cli.err, srv.err);
    ck_assert_str_eq(wire_tls_peer_name(cli.t), "gs-second");
    ck_assert_int_eq(cli.acc.calls, 2);
    end_close(&cli);
    end_close(&srv);
}
END_TEST

START_TEST(test_input_limit)
{
    end srv;
    uint8_t *big = calloc(1, WIRE_TLS_IN_MAX);
    ck_assert_ptr_nonnull(big);
    end_open(&srv, "gs-b", 1, "*", NULL, NULL, 4096);
    ck_assert_int_eq(wire_tls_feed(srv.t, big, WIRE_TLS_IN_MAX, err,
                                   sizeof err), 0);
    ck_assert_int_eq(wire_tls_feed(srv.t, big, 1, err, sizeof err),
                     -ENOBUFS);
    ck_assert_str_eq(wire_tls_error(srv.t), "");  /* not a session error */
    ck_assert_int_eq(wire_tls_feed(srv.t, NULL, 0, err, sizeof err), 0);
    ck_assert_int_eq(wire_tls_read(srv.t, big, 0, err, sizeof err), -EINVAL);
    ck_assert_int_eq(wire_tls_read(srv.t, big, 16, err, sizeof err),
                     -EPROTO);
    end_close(&srv);
    free(big);
}
END_TEST

/* ---------------------------------------------------------------- main */

int main(void)
{
    Suite *s;
    TCase *hs, *rf, *ed;
    SRunner *sr;
    int failed;

    snprintf(dir, sizeof dir, "%s", "/tmp/check_tls.XXXXXX");
    if (!mkdtemp(dir))
        die("mkdtemp");
    make_all();

    s = suite_create("tls");
    hs = tcase_create("handshake");
    rf = tcase_create("refusal");
    ed = tcase_create("edges");
    tcase_add_test(hs, test_handshake_and_3mib_each_way);
    tcase_add_test(hs, test_clean_shutdown);
    tcase_add_test(rf, test_client_from_other_ca_refused);
    tcase_add_test(rf, test_server_with_wrong_name_refused);
    tcase_add_test(rf, test_client_name_not_accepted);
    tcase_add_test(rf, test_peer_names);
    tcase_add_test(rf, test_garbage_and_corruption);
    tcase_add_test(rf, test_tls12_client_refused);
    tcase_add_test(ed, test_ctx_errors_name_the_file);
    tcase_add_test(ed, test_own_name);
    tcase_add_test(ed, test_input_limit);
    tcase_set_timeout(hs, 120);
    tcase_set_timeout(rf, 60);
    tcase_set_timeout(ed, 60);
    suite_add_tcase(s, hs);
    suite_add_tcase(s, rf);
    suite_add_tcase(s, ed);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    remove_all();
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
