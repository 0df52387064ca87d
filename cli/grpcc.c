/*
 * grpcc.c - a small gRPC client over libcurl (see grpcc.h).
 *
 * One call is one curl_easy_perform on the grpcc's easy handle, reset and
 * set up again for each call (curl_easy_reset keeps the connection cache,
 * so calls over TLS made one after the other share one HTTP/2 connection;
 * over a unix socket each call has its own, see call_run). The
 * request body is produced by on_read from the caller's messages, the
 * response body is cut into messages by on_write as it arrives, and the
 * status comes from on_header, which libcurl also calls for trailers.
 * After the transfer, call_status decides what the call ended with, in this
 * order: our own abort (a callback refused), no response at all (transport
 * error), not HTTP/2, an HTTP status other than 200, a content-type other
 * than application/grpc, grpc-status, and the curl error last.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <curl/curl.h>

#include "cli.h"
#include "grpcc.h"
#include "units.h"

#define GRPCC_GRACE_MS 1000          /* past the deadline, before we cut */
#define GRPCC_CONNECT_MS 10000       /* connection set-up, TLS included */
#define GRPCC_UA "lagrange-cli/" PACKAGE_VERSION
#define GRPCC_PROBE_MAX (1 << 20)    /* largest first message kept */
#define GRPCC_WHOLE (16 * 1024)      /* requests up to this go at once */
#define GRPCC_PROBES 3               /* tries of a probe that gets lost */

struct grpcc {
    CURL *curl;                  /* one easy handle: one connection */
    char *server;                /* as given, for messages */
    char *url;                   /* "http://localhost" or "https://h:p" */
    char *unix_path;             /* unix socket, or NULL for https */
    char *cacert;                /* CA file for https, or NULL */
    char *auth;                  /* "authorization: Bearer ..." or NULL */
    char *probe;                 /* see probe(), or NULL */
};

enum call_kind { CALL_UNARY, CALL_SSTREAM, CALL_CSTREAM };

typedef struct call {
    grpcc *g;
    enum call_kind kind;
    /* request side (on_read) */
    grpcc_next_fn next;          /* client stream: the caller's messages */
    void *next_arg;
    const uint8_t *req;          /* message being sent */
    size_t req_len, req_off;
    uint8_t pfx[5];              /* its length prefix */
    size_t pfx_off;
    int have_req;                /* req/pfx hold a message not yet sent */
    int req_done;                /* no more messages: end of stream */
    uint8_t *first;              /* client stream: a copy of message 1 */
    size_t first_len;
    int n_req;                   /* messages taken from next */
    /* response side (on_header, on_write) */
    long http;                   /* :status, 0 before the headers */
    int ctype;                   /* -1 none seen, 0 not gRPC, 1 gRPC */
    char ctype_val[64];
    int got_status;              /* grpc-status seen */
    int status;
    char status_msg[512];        /* grpc-message, decoded */
    uint8_t hdr[5];              /* length prefix being read */
    size_t hdr_have;
    uint8_t *buf;                /* message being read */
    size_t cap, need, have;
    size_t n_msgs;               /* complete messages received */
    void *resp;                  /* unary / client stream: the answer */
    size_t resp_len;
    grpcc_msg_fn on_msg;         /* server stream */
    void *arg;
    int err_code;                /* > 0: we ended the call with this */
    char err_msg[512];
    int lost;                    /* connected, then no answer: see probe */
} call;

/* ---- names and status ---------------------------------------------------- */

static const char *const code_names[] = {
    "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED",
    "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED",
    "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
};

const char *grpcc_code_name(int code)
{
    static char buf[32];
    if (code >= 0 && code < (int)(sizeof code_names / sizeof code_names[0]))
        return code_names[code];
    snprintf(buf, sizeof buf, "CODE_%d", code);
    return buf;
}

static void set_status(grpcc_status *st, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_status(grpcc_status *st, int code, const char *fmt, ...)
{
    va_list ap;
    st->code = code;
    va_start(ap, fmt);
    vsnprintf(st->message, sizeof st->message, fmt, ap);
    va_end(ap);
}

/* End the call from a callback with our own status. */
static void call_fail(call *c, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void call_fail(call *c, int code, const char *fmt, ...)
{
    va_list ap;
    if (c->err_code)
        return;
    c->err_code = code;
    va_start(ap, fmt);
    vsnprintf(c->err_msg, sizeof c->err_msg, fmt, ap);
    va_end(ap);
}

/* The gRPC status for an HTTP status (gRPC's
 * doc/http-grpc-status-mapping.md; 415 is ours: only a client that sent
 * the wrong content-type sees it, so it is the client's fault). */
static int http_to_grpc(long http)
{
    switch (http) {
    case 400: return GRPCC_INTERNAL;
    case 401: return GRPCC_UNAUTHENTICATED;
    case 403: return GRPCC_PERMISSION_DENIED;
    case 404: return GRPCC_UNIMPLEMENTED;
    case 415: return GRPCC_INTERNAL;
    case 429: case 502: case 503: case 504: return GRPCC_UNAVAILABLE;
    default: return GRPCC_UNKNOWN;
    }
}

/* ---- opening ------------------------------------------------------------- */

static int read_token(const char *path, char **out, char *err, size_t errlen)
{
    char buf[GRPCC_MAX_TOKEN + 1], *s, *e;
    size_t n;
    int rc = 0;
    FILE *f = fopen(path, "re");

    if (!f) {
        rc = -errno;
        snprintf(err, errlen, "token file %s: %s", path, strerror(errno));
        return rc;
    }
    n = fread(buf, 1, GRPCC_MAX_TOKEN, f);
    if (ferror(f)) {
        rc = errno ? -errno : -EIO;
        snprintf(err, errlen, "token file %s: %s", path, strerror(-rc));
        fclose(f);
        goto out;
    }
    fclose(f);
    buf[n] = '\0';
    if ((e = memchr(buf, '\n', n))) {
        *e = '\0';
    } else if (n == GRPCC_MAX_TOKEN) {
        snprintf(err, errlen, "token file %s: first line longer than %d "
                 "bytes", path, GRPCC_MAX_TOKEN);
        rc = -EMSGSIZE;
        goto out;
    }
    for (s = buf; *s == ' ' || *s == '\t'; s++)
        ;
    e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
        *--e = '\0';
    if (!*s) {
        snprintf(err, errlen, "token file %s: no token on its first line",
                 path);
        rc = -ENODATA;
        goto out;
    }
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f) {
            snprintf(err, errlen, "token file %s: the token must be "
                     "printable ASCII without spaces", path);
            rc = -EBADMSG;
            goto out;
        }
    if (asprintf(out, "authorization: Bearer %s", s) < 0) {
        *out = NULL;
        snprintf(err, errlen, "out of memory");
        rc = -ENOMEM;
    }
out:
    explicit_bzero(buf, sizeof buf);
    return rc;
}

/* Split server into g->url / g->unix_path. */
static int parse_server(grpcc *g, const char *server, char *err,
                        size_t errlen)
{
    if (!strncmp(server, "unix:", 5)) {
        const char *p = server + 5;
        if (!strncmp(p, "//", 2))       /* unix:///abs/path */
            p += 2;
        if (!*p) {
            snprintf(err, errlen, "--server %s: no socket path", server);
            return -EINVAL;
        }
        if (strlen(p) >= sizeof ((struct sockaddr_un *)0)->sun_path) {
            snprintf(err, errlen, "--server %s: socket path too long",
                     server);
            return -EINVAL;
        }
        if (!(g->unix_path = strdup(p)) ||
            !(g->url = strdup("http://localhost")))
            goto nomem;
        return 0;
    }
    if (!strncmp(server, "https://", 8)) {
        const char *h = server + 8, *end = h + strlen(h), *hend;
        long port = 0;
        if (end > h && end[-1] == '/')
            end--;
        if (h[0] == '[') {              /* [v6 address] */
            hend = memchr(h, ']', (size_t)(end - h));
            hend = hend ? hend + 1 : h;
        } else {
            hend = memchr(h, ':', (size_t)(end - h));
            if (!hend)
                hend = end;
        }
        if (hend == h || memchr(h, '/', (size_t)(end - h)) ||
            memchr(h, '@', (size_t)(end - h)) ||
            (hend < end && *hend != ':')) {
            snprintf(err, errlen, "--server %s: want https://HOST:PORT",
                     server);
            return -EINVAL;
        }
        if (hend < end) {
            const char *q = hend + 1;
            for (; q < end && port <= 65535; q++)
                port = isdigit((unsigned char)*q) ? port * 10 + (*q - '0')
                                                  : 99999;
            if (q == hend + 1 || port < 1 || port > 65535) {
                snprintf(err, errlen, "--server %s: bad port", server);
                return -EINVAL;
            }
        }
        if (asprintf(&g->url, "https://%.*s%s", (int)(end - h), h,
                     hend < end ? "" : ":443") < 0) {
            g->url = NULL;
            goto nomem;
        }
        return 0;
    }
    snprintf(err, errlen, "--server wants unix:/PATH or https://HOST:PORT, "
             "got '%s'", server);
    return -EINVAL;
nomem:
    snprintf(err, errlen, "out of memory");
    return -ENOMEM;
}

int grpcc_open(grpcc **out, const char *server, const char *token_file,
               const char *cacert, char *err, size_t errlen)
{
    static int curl_ready;
    grpcc *g;
    int rc;

    *out = NULL;
    if (!server || !*server)
        server = GRPCC_DEFAULT_SERVER;
    if (!curl_ready) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
            snprintf(err, errlen, "libcurl failed to initialise");
            return -ENOMEM;
        }
        curl_ready = 1;
    }
    if (!(g = calloc(1, sizeof *g)) || !(g->server = strdup(server))) {
        free(g);
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    if ((rc = parse_server(g, server, err, errlen)) < 0)
        goto fail;
    if (token_file && *token_file &&
        (rc = read_token(token_file, &g->auth, err, errlen)) < 0)
        goto fail;
    if (cacert && *cacert && !g->unix_path) {
        if (access(cacert, R_OK) < 0) {
            rc = -errno;
            snprintf(err, errlen, "CA file %s: %s", cacert, strerror(errno));
            goto fail;
        }
        if (!(g->cacert = strdup(cacert))) {
            rc = -ENOMEM;
            snprintf(err, errlen, "out of memory");
            goto fail;
        }
    }
    if (!(g->curl = curl_easy_init())) {
        rc = -ENOMEM;
        snprintf(err, errlen, "libcurl: cannot make a handle");
        goto fail;
    }
    *out = g;
    return 0;
fail:
    grpcc_close(g);
    return rc;
}

void grpcc_close(grpcc *g)
{
    if (!g)
        return;
    if (g->curl)
        curl_easy_cleanup(g->curl);
    free(g->server);
    free(g->url);
    free(g->unix_path);
    free(g->cacert);
    free(g->probe);
    if (g->auth) {
        explicit_bzero(g->auth, strlen(g->auth));
        free(g->auth);
    }
    free(g);
}

const char *grpcc_server(const grpcc *g)
{
    return g->server;
}

int grpcc_set_probe(grpcc *g, const char *path)
{
    char *p = path ? strdup(path) : NULL;
    if (path && !p)
        return -ENOMEM;
    free(g->probe);
    g->probe = p;
    return 0;
}

/* ---- the transfer's callbacks -------------------------------------------- */

/* Request body: the length-prefixed messages, then end of stream. */
static size_t on_read(char *dst, size_t size, size_t nitems, void *ud)
{
    call *c = ud;
    size_t room = size * nitems, n = 0;

    while (n < room) {
        size_t k;
        if (!c->have_req) {
            if (c->req_done)
                break;
            if (c->next) {
                const void *m = NULL;
                size_t len = 0;
                int r = c->next(c->next_arg, &m, &len);
                if (r < 0) {
                    call_fail(c, GRPCC_CANCELLED, "aborted by the client");
                    return CURL_READFUNC_ABORT;
                }
                if (r > 0) {
                    c->req_done = 1;
                    break;
                }
                if (len > UINT32_MAX) {
                    call_fail(c, GRPCC_INTERNAL, "request message of %zu "
                              "bytes is too large", len);
                    return CURL_READFUNC_ABORT;
                }
                c->req = m;
                c->req_len = len;
                /* Keep the first message for a probe (see probe). */
                if (c->n_req++ == 0 && len <= GRPCC_PROBE_MAX &&
                    (c->first = malloc(len ? len : 1))) {
                    memcpy(c->first, m, len);
                    c->first_len = len;
                }
            }
            c->pfx[0] = 0;
            c->pfx[1] = (uint8_t)(c->req_len >> 24);
            c->pfx[2] = (uint8_t)(c->req_len >> 16);
            c->pfx[3] = (uint8_t)(c->req_len >> 8);
            c->pfx[4] = (uint8_t)c->req_len;
            c->pfx_off = c->req_off = 0;
            c->have_req = 1;
        }
        if (c->pfx_off < 5) {
            k = 5 - c->pfx_off < room - n ? 5 - c->pfx_off : room - n;
            memcpy(dst + n, c->pfx + c->pfx_off, k);
            c->pfx_off += k;
            n += k;
        }
        if (c->pfx_off == 5 && c->req_off < c->req_len && n < room) {
            k = c->req_len - c->req_off < room - n ? c->req_len - c->req_off
                                                   : room - n;
            memcpy(dst + n, c->req + c->req_off, k);
            c->req_off += k;
            n += k;
        }
        if (c->pfx_off == 5 && c->req_off == c->req_len) {
            c->have_req = 0;
            if (!c->next)
                c->req_done = 1;        /* unary request: one message */
        }
    }
    return n;
}

static void percent_decode(const char *s, size_t len, char *out,
                           size_t outlen)
{
    size_t o = 0;
    for (size_t i = 0; i < len && o + 1 < outlen; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '%' && i + 2 < len && isxdigit((unsigned char)s[i + 1]) &&
            isxdigit((unsigned char)s[i + 2])) {
            char hx[3] = { s[i + 1], s[i + 2], 0 };
            ch = (unsigned char)strtoul(hx, NULL, 16);
            i += 2;
        }
        /* Never let the server write control characters to a terminal. */
        out[o++] = ch < 0x20 || ch == 0x7f ? '?' : (char)ch;
    }
    out[o] = '\0';
}

/* Headers and trailers, one line per call. */
static size_t on_header(char *p, size_t size, size_t nitems, void *ud)
{
    call *c = ud;
    size_t len = size * nitems, nl, vl;
    const char *colon, *v;

    while (len && (p[len - 1] == '\n' || p[len - 1] == '\r'))
        len--;
    if (len > 5 && !strncmp(p, "HTTP/", 5)) {
        const char *sp = memchr(p, ' ', len);
        long code = 0;
        for (sp = sp ? sp + 1 : p + len; sp < p + len && isdigit(
                 (unsigned char)*sp); sp++)
            code = code * 10 + (*sp - '0');
        if (code >= 200) {          /* not an informational 1xx */
            c->http = code;
            c->ctype = -1;
            c->got_status = 0;
        }
        return size * nitems;
    }
    if (!(colon = memchr(p, ':', len)))
        return size * nitems;
    nl = (size_t)(colon - p);
    for (v = colon + 1; v < p + len && (*v == ' ' || *v == '\t'); v++)
        ;
    vl = (size_t)(p + len - v);
    if (nl == 11 && !strncasecmp(p, "grpc-status", 11)) {
        int code = 0, ok = vl > 0 && vl <= 3;
        for (size_t i = 0; ok && i < vl; i++) {
            if (!isdigit((unsigned char)v[i]))
                ok = 0;
            else
                code = code * 10 + (v[i] - '0');
        }
        c->got_status = 1;
        c->status = ok ? code : GRPCC_UNKNOWN;
    } else if (nl == 12 && !strncasecmp(p, "grpc-message", 12)) {
        percent_decode(v, vl, c->status_msg, sizeof c->status_msg);
    } else if (nl == 12 && !strncasecmp(p, "content-type", 12)) {
        snprintf(c->ctype_val, sizeof c->ctype_val, "%.*s",
                 (int)(vl < 60 ? vl : 60), v);
        c->ctype = vl >= 16 && !strncasecmp(v, "application/grpc", 16) &&
                   (vl == 16 || v[16] == '+' || v[16] == ';');
    }
    return size * nitems;
}

/* A complete response message is in c->buf[0..need). 0, or -1 to stop. */
static int deliver(call *c)
{
    c->n_msgs++;
    if (c->kind == CALL_SSTREAM) {
        if (c->on_msg(c->arg, c->buf, c->need)) {
            call_fail(c, GRPCC_CANCELLED, "cancelled by the client");
            return -1;
        }
        return 0;
    }
    if (c->n_msgs > 1) {
        call_fail(c, GRPCC_INTERNAL, "the server sent more than one "
                  "response message on a unary call");
        return -1;
    }
    c->resp = c->need ? c->buf : NULL;
    c->resp_len = c->need;
    if (c->need) {
        c->buf = NULL;
        c->cap = 0;
    }
    return 0;
}

/* Response body: length-prefixed messages, in pieces of any size. */
static size_t on_write(char *p, size_t size, size_t nitems, void *ud)
{
    call *c = ud;
    size_t len = size * nitems, i = 0;

    if (c->http != 200 || c->ctype == 0)
        return len;                 /* not gRPC: decided after the call */
    while (i < len) {
        size_t k;
        if (c->hdr_have < 5) {
            k = 5 - c->hdr_have < len - i ? 5 - c->hdr_have : len - i;
            memcpy(c->hdr + c->hdr_have, p + i, k);
            c->hdr_have += k;
            i += k;
            if (c->hdr_have < 5)
                break;
            if (c->hdr[0] != 0) {
                call_fail(c, GRPCC_INTERNAL, c->hdr[0] == 1
                          ? "the server sent a compressed message (we "
                            "accept identity only)"
                          : "bad message flag %u from the server",
                          c->hdr[0]);
                return 0;
            }
            c->need = (size_t)c->hdr[1] << 24 | (size_t)c->hdr[2] << 16 |
                      (size_t)c->hdr[3] << 8 | c->hdr[4];
            c->have = 0;
            if (c->need > GRPCC_MAX_MSG) {
                call_fail(c, GRPCC_RESOURCE_EXHAUSTED, "response message of "
                          "%zu bytes is above the client's limit of %zu MiB",
                          c->need, GRPCC_MAX_MSG >> 20);
                return 0;
            }
            if (c->need > c->cap) {
                uint8_t *nb = realloc(c->buf, c->need);
                if (!nb) {
                    call_fail(c, GRPCC_RESOURCE_EXHAUSTED, "out of memory "
                              "for a response message of %zu bytes",
                              c->need);
                    return 0;
                }
                c->buf = nb;
                c->cap = c->need;
            }
        }
        k = c->need - c->have < len - i ? c->need - c->have : len - i;
        if (k) {
            memcpy(c->buf + c->have, p + i, k);
            c->have += k;
            i += k;
        }
        if (c->have == c->need) {
            c->hdr_have = 0;
            if (deliver(c) < 0)
                return 0;
        }
    }
    return len;
}

/* ---- one call ------------------------------------------------------------ */

static int is_connect_error(CURLcode rc)
{
    switch (rc) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_USE_SSL_FAILED:
        return 1;
    default:
        return 0;
    }
}

/* What the call ended with; see the file's header. */
static int call_status(call *c, CURLcode rc, const char *errbuf,
                       int timeout_ms, grpcc_status *st)
{
    grpcc *g = c->g;
    const char *why = errbuf[0] ? errbuf : curl_easy_strerror(rc);
    long oserr = 0, ver = 0, nconn = 0;
    curl_off_t connected = 0;

    if (c->err_code) {
        set_status(st, c->err_code, "%s", c->err_msg);
        return c->err_code;
    }
    curl_easy_getinfo(g->curl, CURLINFO_OS_ERRNO, &oserr);
    curl_easy_getinfo(g->curl, CURLINFO_CONNECT_TIME_T, &connected);
    curl_easy_getinfo(g->curl, CURLINFO_HTTP_VERSION, &ver);
    curl_easy_getinfo(g->curl, CURLINFO_NUM_CONNECTS, &nconn);
    if (c->http == 0) {
        /* Connected: a connection was made (or one was reused). */
        int up = !is_connect_error(rc) && (connected > 0 || nconn == 0);
        if (rc == CURLE_OPERATION_TIMEDOUT && up) {
            set_status(st, GRPCC_DEADLINE_EXCEEDED, "no answer within %.3gs "
                       "(deadline exceeded)", timeout_ms / 1000.0);
            return GRPCC_DEADLINE_EXCEEDED;
        }
        if (!up) {
            int unreach = oserr == ENOENT || oserr == ECONNREFUSED;
            set_status(st, GRPCC_UNAVAILABLE,
                       "cannot reach lagranged at %s: %s%s", g->server,
                       oserr && rc == CURLE_COULDNT_CONNECT
                           ? strerror((int)oserr) : why,
                       unreach ? " (is lagranged running? --server names "
                                 "another)" : "");
            return oserr ? -(int)oserr : -ECONNREFUSED;
        }
        c->lost = rc == CURLE_HTTP2_STREAM || rc == CURLE_SEND_ERROR ||
                  rc == CURLE_HTTP2 || rc == CURLE_GOT_NOTHING;
        set_status(st, GRPCC_UNAVAILABLE, "lagranged at %s: %s%s", g->server,
                   rc == CURLE_OK ? "no response" : why,
                   rc == CURLE_HTTP2 || rc == CURLE_RECV_ERROR ||
                           rc == CURLE_SEND_ERROR ||
                           rc == CURLE_GOT_NOTHING ||
                           rc == CURLE_WEIRD_SERVER_REPLY
                       ? " (does it speak gRPC? --server names another)"
                       : "");
        return -EPROTO;
    }
    if (ver != CURL_HTTP_VERSION_2_0) {
        set_status(st, GRPCC_UNAVAILABLE, "%s answered over HTTP/1, not "
                   "HTTP/2: not a gRPC server", g->server);
        return -EPROTO;
    }
    if (c->http != 200) {
        int code = http_to_grpc(c->http);
        set_status(st, code, "HTTP %ld from %s%s%s", c->http, g->server,
                   c->status_msg[0] ? ": " : "", c->status_msg);
        return code;
    }
    if (c->ctype == 0 || (c->ctype < 0 && !c->got_status)) {
        set_status(st, GRPCC_UNKNOWN, "%s answered with content-type '%s', "
                   "not application/grpc", g->server,
                   c->ctype < 0 ? "" : c->ctype_val);
        return GRPCC_UNKNOWN;
    }
    if (c->got_status) {
        if (c->status != GRPCC_OK) {
            if (c->status_msg[0])
                set_status(st, c->status, "%s", c->status_msg);
            else
                set_status(st, c->status, "the server answered %s",
                           grpcc_code_name(c->status));
            return c->status;
        }
        if (c->hdr_have) {
            set_status(st, GRPCC_INTERNAL, "the server ended the call "
                       "inside a message");
            return GRPCC_INTERNAL;
        }
        if (c->kind != CALL_SSTREAM && c->n_msgs != 1) {
            set_status(st, GRPCC_INTERNAL, "the server sent no response "
                       "message");
            return GRPCC_INTERNAL;
        }
        set_status(st, GRPCC_OK, "OK");
        return GRPCC_OK;
    }
    if (rc == CURLE_OPERATION_TIMEDOUT) {
        set_status(st, GRPCC_DEADLINE_EXCEEDED, "no answer within %.3gs "
                   "(deadline exceeded)", timeout_ms / 1000.0);
        return GRPCC_DEADLINE_EXCEEDED;
    }
    if (rc != CURLE_OK) {
        set_status(st, GRPCC_UNAVAILABLE, "connection to lagranged at %s "
                   "broke: %s", g->server, why);
        return -ECONNRESET;
    }
    set_status(st, GRPCC_INTERNAL, "the server ended the call without a "
               "grpc-status");
    return GRPCC_INTERNAL;
}

static int call_run(call *c, const char *path, int timeout_ms,
                    grpcc_status *st)
{
    grpcc *g = c->g;
    CURL *h = g->curl;
    struct curl_slist *hd = NULL, *t;
    char url[1024], tmo[64], errbuf[CURL_ERROR_SIZE] = "";
    uint8_t *framed = NULL;
    CURLcode rc;
    int ret;

    c->ctype = -1;
    if (timeout_ms < 0)
        timeout_ms = 0;
    if ((size_t)snprintf(url, sizeof url, "%s%s", g->url, path) >=
        sizeof url) {
        set_status(st, GRPCC_INTERNAL, "method path too long");
        return GRPCC_INTERNAL;
    }
    /* grpc-timeout: at most 8 digits. */
    if (timeout_ms <= 99999999)
        snprintf(tmo, sizeof tmo, "grpc-timeout: %dm", timeout_ms);
    else
        snprintf(tmo, sizeof tmo, "grpc-timeout: %dS", timeout_ms / 1000);
    const char *hdrs[] = {
        "content-type: application/grpc",
        "te: trailers",
        timeout_ms > 0 ? tmo : NULL,
        g->auth,
        /* libcurl's defaults that a gRPC request has no use for */
        "Accept:", "Expect:", "Transfer-Encoding:", "Content-Length:",
    };
    for (size_t i = 0; i < sizeof hdrs / sizeof hdrs[0]; i++) {
        if (!hdrs[i])
            continue;
        if (!(t = curl_slist_append(hd, hdrs[i]))) {
            curl_slist_free_all(hd);
            set_status(st, GRPCC_RESOURCE_EXHAUSTED, "out of memory");
            return GRPCC_RESOURCE_EXHAUSTED;
        }
        hd = t;
    }

    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, g->unix_path ? "http"
                                                            : "https");
    if (g->unix_path) {
        curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, g->unix_path);
        curl_easy_setopt(h, CURLOPT_HTTP_VERSION,
                         (long)CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE);
        /* libcurl 7.88 fails the second request on a reused connection
         * made with prior knowledge ("Error in the HTTP2 framing layer",
         * curl issue 10634, fixed in 7.89): one connection per call, which
         * costs little on a unix socket. */
        curl_easy_setopt(h, CURLOPT_FRESH_CONNECT, 1L);
        curl_easy_setopt(h, CURLOPT_FORBID_REUSE, 1L);
    } else {
        curl_easy_setopt(h, CURLOPT_HTTP_VERSION,
                         (long)CURL_HTTP_VERSION_2TLS);
        curl_easy_setopt(h, CURLOPT_SSLVERSION,
                         (long)CURL_SSLVERSION_TLSv1_2);
        if (g->cacert)
            curl_easy_setopt(h, CURLOPT_CAINFO, g->cacert);
        curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    }
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    if (c->next) {
        /* A stream of messages, pulled as libcurl sends. */
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)-1);
        curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(h, CURLOPT_READDATA, c);
    } else {
        /* One message, framed in memory and handed over whole. libcurl
         * 7.88 loses answers that arrive while it still sends (see probe);
         * given the body with the request, it sends a small one in the
         * same write as the headers, with END_STREAM, and a large one as
         * fast as flow control allows. (No content-length is sent: see
         * hdrs above.) */
        if (c->req_len > UINT32_MAX ||
            !(framed = malloc(c->req_len + 5))) {
            curl_slist_free_all(hd);
            set_status(st, GRPCC_RESOURCE_EXHAUSTED, "request message of "
                       "%zu bytes: out of memory", c->req_len);
            return GRPCC_RESOURCE_EXHAUSTED;
        }
        framed[0] = 0;
        framed[1] = (uint8_t)(c->req_len >> 24);
        framed[2] = (uint8_t)(c->req_len >> 16);
        framed[3] = (uint8_t)(c->req_len >> 8);
        framed[4] = (uint8_t)c->req_len;
        if (c->req_len)
            memcpy(framed + 5, c->req, c->req_len);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
                         (curl_off_t)(c->req_len + 5));
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, framed);
    }
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, c);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
    curl_easy_setopt(h, CURLOPT_USERAGENT, GRPCC_UA);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    if (getenv("LAGRANGE_GRPC_TRACE"))
        curl_easy_setopt(h, CURLOPT_VERBOSE, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)GRPCC_CONNECT_MS);
    /* libcurl's buffers stay at their defaults: with a 512 KiB upload
     * buffer, libcurl 7.88 now and then sends zero bytes in the place of
     * data in a long HTTP/2 upload (seen as an empty message after 8 MiB
     * by grpcio, one upload in four); with the default none in hundreds. */
    if (timeout_ms > 0)
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS,
                         (long)timeout_ms + GRPCC_GRACE_MS);

    rc = curl_easy_perform(h);
    ret = call_status(c, rc, errbuf, timeout_ms, st);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, NULL);
    curl_slist_free_all(hd);
    free(framed);
    free(c->buf);
    c->buf = NULL;
    if (ret != GRPCC_OK) {
        free(c->resp);
        c->resp = NULL;
        c->resp_len = 0;
    }
    return ret;
}

static int ignore_msg(void *arg, const uint8_t *m, size_t n)
{
    return 0;
}

/* Statuses a server gives on a call's headers alone, whatever its
 * messages: a probe's answer with one of these is the call's. */
static int header_status(int code)
{
    return code == GRPCC_UNAUTHENTICATED || code == GRPCC_PERMISSION_DENIED ||
           code == GRPCC_UNIMPLEMENTED || code == GRPCC_UNAVAILABLE;
}

/* libcurl 7.88 loses an answer that ends the stream while it is still
 * sending the request: a server that refuses a call before the request's
 * end (a wrong token on a client-streaming method, an upload above its
 * limit) answers and resets the stream, and the transfer fails with
 * "Stream error in the HTTP/2 framing layer" or "Empty reply from server"
 * and no headers (c->lost).
 * Unary requests are safe when small (they go whole with END_STREAM, and
 * the server waits for it); client streams and large requests are not.
 * To still say why, ask again with requests that have no effect:
 *   1. a client stream: its first message alone (an upload cut short is
 *      refused), up to GRPCC_PROBES times as this can be lost the same
 *      way; any refusal is reported, saying what was asked;
 *   2. then g->probe (or, for a unary call, the same method) with an
 *      empty message: a unary call, whose answer is not lost, and which
 *      is only believed when it cannot depend on the message (a token
 *      refused, the server unavailable).
 * Else the call reports the loss. */
static int probe(call *c, const char *path, int ret, int timeout_ms,
                 grpcc_status *st)
{
    grpcc_status ps;
    const char *again;
    int pr;

    if (!c->lost || (c->kind != CALL_CSTREAM && c->req_len <= GRPCC_WHOLE))
        return ret;
    for (int i = 0; c->kind == CALL_CSTREAM && c->first &&
                    i < GRPCC_PROBES; i++) {
        call p = { .g = c->g, .kind = CALL_SSTREAM, .on_msg = ignore_msg,
                   .req = c->first, .req_len = c->first_len };
        pr = call_run(&p, path, timeout_ms, &ps);
        if (pr > 0 && header_status(pr)) {
            *st = ps;
            return pr;
        }
        if (pr > 0) {
            set_status(st, pr, "the server cut the upload short; its answer "
                       "to the first message alone: %.300s", ps.message);
            return pr;
        }
        if (!p.lost)
            break;
    }
    again = c->kind == CALL_CSTREAM ? c->g->probe : path;
    if (again) {
        call p = { .g = c->g, .kind = CALL_SSTREAM, .on_msg = ignore_msg };
        pr = call_run(&p, again, timeout_ms, &ps);
        if (pr > 0 && header_status(pr)) {
            *st = ps;
            return pr;
        }
    }
    set_status(st, GRPCC_UNAVAILABLE, "lagranged at %s ended the call while "
               "the request was being sent, and libcurl lost its answer%s",
               c->g->server, c->kind == CALL_CSTREAM ? ""
               : " (a request above the server's message limit?)");
    return ret;
}

int grpcc_unary(grpcc *g, const char *path, const void *req, size_t len,
                void **resp, size_t *resp_len, int timeout_ms,
                grpcc_status *st)
{
    call c = { .g = g, .kind = CALL_UNARY, .req = req, .req_len = len };
    int rc;
    rc = probe(&c, path, call_run(&c, path, timeout_ms, st), timeout_ms, st);
    *resp = c.resp;
    *resp_len = c.resp_len;
    return rc;
}

int grpcc_server_stream(grpcc *g, const char *path, const void *req,
                        size_t len, grpcc_msg_fn on_msg, void *arg,
                        int timeout_ms, grpcc_status *st)
{
    call c = { .g = g, .kind = CALL_SSTREAM, .req = req, .req_len = len,
               .on_msg = on_msg, .arg = arg };
    return probe(&c, path, call_run(&c, path, timeout_ms, st), timeout_ms,
                 st);
}

int grpcc_client_stream(grpcc *g, const char *path, grpcc_next_fn next,
                        void *arg, void **resp, size_t *resp_len,
                        int timeout_ms, grpcc_status *st)
{
    call c = { .g = g, .kind = CALL_CSTREAM, .next = next,
               .next_arg = arg };
    int rc = call_run(&c, path, timeout_ms, st);
    rc = probe(&c, path, rc, timeout_ms, st);
    free(c.first);
    *resp = c.resp;
    *resp_len = c.resp_len;
    return rc;
}

/* ---- command-line glue --------------------------------------------------- */

int grpcc_exit_code(int rc)
{
    if (rc == 0)
        return EXIT_OK;
    if (rc < 0)
        return EXIT_UNAVAILABLE;
    switch (rc) {
    case GRPCC_NOT_FOUND: return EXIT_NOTFOUND;
    case GRPCC_UNAVAILABLE: return EXIT_UNAVAILABLE;
    case GRPCC_DEADLINE_EXCEEDED: return EXIT_TIMEOUT;
    case GRPCC_UNAUTHENTICATED:
    case GRPCC_PERMISSION_DENIED: return EXIT_AUTH;
    case GRPCC_INVALID_ARGUMENT: return EXIT_DATA;
    default: return EXIT_FAIL;
    }
}

int grpcc_fail(const char *verb, const char *what, int rc,
               const grpcc_status *st)
{
    if (rc < 0)
        cli_err(verb, "%s%s%s", what ? what : "", what ? ": " : "",
                st->message);
    else
        cli_err(verb, "%s%s%s (%s)", what ? what : "", what ? ": " : "",
                st->message, grpcc_code_name(rc));
    return grpcc_exit_code(rc);
}

static const char *env_or_null(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

void grpcc_opts_init(grpcc_opts *o, int timeout_ms)
{
    o->server = env_or_null("LAGRANGE_SERVER");
    o->token_file = env_or_null("LAGRANGE_TOKEN_FILE");
    o->cacert = env_or_null("LAGRANGE_CACERT");
    o->timeout_ms = timeout_ms;
}

/* Durations as lg_units_dur, plus "m" for minutes. */
static const lg_unit cli_dur[] = {
    { "d", 86400, 1, 1 }, { "h", 3600, 1, 1 }, { "min", 60, 1, 1 },
    { "m", 60, 1, 0 }, { "s", 1, 1, 1 }, { "ms", 1, 1e3, 1 },
    { "", 1, 1, 0 }, { NULL, 0, 0, 0 },
};

int grpcc_dur_ms(const char *s, uint64_t *ms)
{
    double v;
    if (lg_units_parse(s, cli_dur, 0, &v) < 0 || !(v > 0) || v > 1e10)
        return -1;
    *ms = (uint64_t)llround(v * 1e3);
    return *ms ? 0 : -1;
}

int grpcc_opt(grpcc_opts *o, const char *verb, int c, const char *arg)
{
    uint64_t ms;
    switch (c) {
    case GRPCC_OPT_SERVER: o->server = arg; return 1;
    case GRPCC_OPT_TOKEN: o->token_file = arg; return 1;
    case GRPCC_OPT_CACERT: o->cacert = arg; return 1;
    case GRPCC_OPT_TIMEOUT:
        if (grpcc_dur_ms(arg, &ms) < 0 || ms > INT_MAX) {
            cli_err(verb, "--timeout wants a duration up to 24d (30s, 5m, "
                    "1h), got '%s'", arg);
            return -1;
        }
        o->timeout_ms = (int)ms;
        return 1;
    default:
        return 0;
    }
}

int grpcc_connect(const char *verb, const grpcc_opts *o, grpcc **g)
{
    char err[512];
    int rc = grpcc_open(g, o->server, o->token_file, o->cacert, err,
                        sizeof err);
    if (rc < 0) {
        cli_err(verb, "%s", err);
        return rc == -EINVAL ? EXIT_USAGE : EXIT_FAIL;
    }
    /* Unary, read-only, small, and checked like every call. */
    if (grpcc_set_probe(*g, GRPCC_API "ListNodes") < 0) {
        cli_err(verb, "out of memory");
        grpcc_close(*g);
        *g = NULL;
        return EXIT_FAIL;
    }
    return EXIT_OK;
}

int grpcc_call(grpcc *g, const char *verb, const char *what,
               const char *path, const ProtobufCMessage *req,
               const ProtobufCMessageDescriptor *out_desc,
               ProtobufCMessage **out, int timeout_ms)
{
    size_t n = protobuf_c_message_get_packed_size(req), rlen = 0;
    uint8_t *buf = malloc(n ? n : 1);
    void *resp = NULL;
    grpcc_status st;
    int rc;

    *out = NULL;
    if (!buf) {
        cli_err(verb, "out of memory");
        return EXIT_FAIL;
    }
    protobuf_c_message_pack(req, buf);
    rc = grpcc_unary(g, path, buf, n, &resp, &rlen, timeout_ms, &st);
    free(buf);
    if (rc != 0)
        return grpcc_fail(verb, what, rc, &st);
    *out = protobuf_c_message_unpack(out_desc, NULL, rlen, resp);
    free(resp);
    if (!*out) {
        cli_err(verb, "cannot decode the answer to %s from %s", path,
                grpcc_server(g));
        return EXIT_FAIL;
    }
    return EXIT_OK;
}
