/*
 * webhook.c - webhooks over libcurl's multi interface on the loop (see
 * webhook.h).
 *
 * The libuv integration is curl's documented one (curl_multi_socket_action
 * with CURLMOPT_SOCKETFUNCTION and CURLMOPT_TIMERFUNCTION): curl says
 * which sockets to watch for what (a uv_poll_t each, an hsock, attached
 * with curl_multi_assign) and when to call it back (ctimer); each poll
 * event and timeout goes to curl_multi_socket_action, and then finished
 * transfers are read with curl_multi_info_read.
 *
 * A delivery's life (one eventq_item):
 *   QUEUED    in EventDir, next_ms in the future or due
 *   SENDING   an hdeliv with its easy handle in the multi (item->busy)
 *   then      2xx: done (file removed); retryable: QUEUED again with
 *             attempts+1 and next_ms (file rewritten); permanent or past
 *             WebhookRetryFor: given up (logged, file removed)
 * pump() starts what is due within the concurrency limits and arms the
 * wake timer for the earliest delivery not yet due.
 */
#include "webhook.h"

#include <curl/curl.h>
#include <errno.h>
#include <math.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "eventq.h"
#include "lgerr.h"
#include "lgtime.h"
#include "log.h"

#define SECRET_MAX 4096            /* bytes of a SecretFile */
#define RESP_KEEP 200              /* bytes of an answer kept for the log */
#define LOG_BODY_MAX 2048          /* bytes of a body logged on give-up */
#define WAKE_MAX_MS 3600000ull     /* re-check at least hourly (clock) */

typedef struct hhook {
    char *url;
    char *url_log;                 /* redacted, for messages */
    unsigned events;
    unsigned char *secret;         /* NULL: unsigned */
    size_t secret_len;
} hhook;

typedef struct hsock {
    uv_poll_t poll;
    curl_socket_t fd;
    dhook *h;
    int closing;
    struct hsock *prev, *next;
} hsock;

typedef struct hdeliv {
    dhook *h;
    eventq_item *it;
    CURL *easy;
    struct curl_slist *hdrs;
    char *body;
    char errbuf[CURL_ERROR_SIZE];
    char resp[RESP_KEEP + 1];
    size_t resp_len;
    struct hdeliv *prev, *next;
} hdeliv;

struct dhook {
    lagranged *d;
    eventq *q;
    char *q_dir;                   /* the EventDir opened (moves at restart) */
    hhook *hooks;
    int n_hooks;
    double timeout, retry_for;     /* s */
    CURLM *multi;
    int curl_init;
    uv_timer_t ctimer;             /* curl's timeout */
    uv_timer_t wake;               /* the next delivery due */
    int handles;                   /* our uv handles not yet closed */
    hsock *socks;
    hdeliv *inflight;
    int n_inflight;
    int stopping, cleaning;
    uint64_t rng;
    dhook_stats st;
};

/* ---- small things ----------------------------------------------------------- */

static uint64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Unix ms as 2026-11-22T12:00:00.123Z (lib/common/lgtime). */
static void iso_ms(uint64_t ms, char *buf, size_t len)
{
    lg_time_fmt_fixed(buf, len, (double)ms / 1e3, 3);
}

static uint64_t rnd(dhook *h)
{
    /* xorshift64*: jitter only */
    h->rng ^= h->rng >> 12;
    h->rng ^= h->rng << 25;
    h->rng ^= h->rng >> 27;
    return h->rng * 0x2545f4914f6cdd1dull;
}

static int new_id(char out[EVENTQ_ID_LEN + 1])
{
    unsigned char b[16];
    size_t got = 0;
    while (got < sizeof b) {
        ssize_t r = getrandom(b + got, sizeof b - got, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -errno;
        got += (size_t)r;
    }
    for (int i = 0; i < 16; i++)
        snprintf(out + 2 * i, 3, "%02x", b[i]);
    return 0;
}

const char *dhook_redact_url(const char *url, char *buf, size_t len)
{
    const char *a = strstr(url, "://"), *end, *at = NULL;
    if (!a) {
        snprintf(buf, len, "%s", url);
        return buf;
    }
    a += 3;
    end = a + strcspn(a, "/?#");
    for (const char *q = a; q < end; q++)
        if (*q == '@')
            at = q;
    if (!at)
        snprintf(buf, len, "%s", url);
    else
        snprintf(buf, len, "%.*s***%s", (int)(a - url), url, at);
    return buf;
}

static hhook *find_hook(dhook *h, const char *url)
{
    for (int i = 0; i < h->n_hooks; i++)
        if (!strcmp(h->hooks[i].url, url))
            return &h->hooks[i];
    return NULL;
}

static int per_url(dhook *h, const char *url)
{
    int n = 0;
    for (hdeliv *v = h->inflight; v; v = v->next)
        n += !strcmp(v->it->url, url);
    return n;
}

/* ---- the fields builder ------------------------------------------------------ */

void dhook_fields_init(dhook_fields *f)
{
    f->len = 0;
    f->buf[0] = '\0';
    f->depth = 0;
    f->first[0] = 0;             /* the top level follows "node" */
    f->bad = 0;
}

static void fput(dhook_fields *f, const char *s, size_t n)
{
    if (f->bad)
        return;
    if (f->len + n >= sizeof f->buf) {
        f->bad = 1;
        return;
    }
    memcpy(f->buf + f->len, s, n);
    f->len += n;
    f->buf[f->len] = '\0';
}

static void fputs_(dhook_fields *f, const char *s)
{
    fput(f, s, strlen(s));
}

/* The length of the UTF-8 sequence at s (1-4), or 0 if it is not one. */
static int utf8_len(const unsigned char *s)
{
    int n;
    unsigned c = s[0];
    uint32_t cp;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        n = 2, cp = c & 0x1f;
    else if (c >= 0xe0 && c <= 0xef)
        n = 3, cp = c & 0x0f;
    else if (c >= 0xf0 && c <= 0xf4)
        n = 4, cp = c & 0x07;
    else
        return 0;
    for (int i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
        (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
        return 0;
    return n;
}

static void fstr(dhook_fields *f, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    char e[8];
    fput(f, "\"", 1);
    while (*p) {
        int n;
        if (*p == '"' || *p == '\\') {
            e[0] = '\\';
            e[1] = (char)*p;
            fput(f, e, 2);
            p++;
        } else if (*p < 0x20 || *p == 0x7f) {
            snprintf(e, sizeof e, "\\u%04x", *p);
            fputs_(f, e);
            p++;
        } else if ((n = utf8_len(p)) == 0) {
            fputs_(f, "\\ufffd");
            p++;
        } else {
            fput(f, (const char *)p, (size_t)n);
            p += n;
        }
    }
    fput(f, "\"", 1);
}

static void fkey(dhook_fields *f, const char *key)
{
    if (!f->first[f->depth])
        fput(f, ",", 1);
    f->first[f->depth] = 0;
    fstr(f, key);
    fput(f, ":", 1);
}

void dhook_f_begin(dhook_fields *f, const char *key)
{
    if (f->depth == DHOOK_DEPTH_MAX) {
        f->bad = 1;
        return;
    }
    fkey(f, key);
    fput(f, "{", 1);
    f->first[++f->depth] = 1;
}

void dhook_f_end(dhook_fields *f)
{
    if (f->depth == 0) {
        f->bad = 1;
        return;
    }
    f->depth--;
    fput(f, "}", 1);
}

void dhook_f_str(dhook_fields *f, const char *key, const char *v)
{
    fkey(f, key);
    if (v)
        fstr(f, v);
    else
        fputs_(f, "null");
}

void dhook_f_num(dhook_fields *f, const char *key, double v)
{
    char b[40];
    fkey(f, key);
    if (!isfinite(v))
        snprintf(b, sizeof b, "null");
    else if (v == floor(v) && fabs(v) < 1e15)
        snprintf(b, sizeof b, "%.0f", v);
    else
        snprintf(b, sizeof b, "%.15g", v);
    fputs_(f, b);
}

void dhook_f_uint(dhook_fields *f, const char *key, uint64_t v)
{
    char b[24];
    fkey(f, key);
    snprintf(b, sizeof b, "%llu", (unsigned long long)v);
    fputs_(f, b);
}

void dhook_f_bool(dhook_fields *f, const char *key, int v)
{
    fkey(f, key);
    fputs_(f, v ? "true" : "false");
}

void dhook_f_time(dhook_fields *f, const char *key, uint64_t unix_ms)
{
    char b[80];
    if (!unix_ms) {
        dhook_f_str(f, key, NULL);
        return;
    }
    iso_ms(unix_ms, b, sizeof b);
    dhook_f_str(f, key, b);
}

/* ---- the hooks table -------------------------------------------------------- */

static void free_hooks(hhook *v, int n)
{
    for (int i = 0; i < n; i++) {
        free(v[i].url);
        free(v[i].url_log);
        if (v[i].secret)
            OPENSSL_cleanse(v[i].secret, v[i].secret_len);
        free(v[i].secret);
    }
    free(v);
}

/* The secret in path: its bytes less trailing white space. */
static int read_secret(const char *path, unsigned char **out, size_t *len,
                       char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    unsigned char *b;
    struct stat st;
    size_t n;
    *out = NULL;
    if (!f)
        return lg_errf(err, errlen, -errno, "SecretFile %s: %s", path,
                       strerror(errno));
    if (!(b = malloc(SECRET_MAX + 1))) {
        fclose(f);
        return lg_errf(err, errlen, -ENOMEM, "out of memory");
    }
    n = fread(b, 1, SECRET_MAX + 1, f);
    if (fstat(fileno(f), &st) == 0 && (st.st_mode & 0004))
        log_warn("SecretFile %s is readable by every user; chmod o-r it",
                 path);
    fclose(f);
    while (n > 0 && (b[n - 1] == '\n' || b[n - 1] == '\r' ||
                     b[n - 1] == ' ' || b[n - 1] == '\t'))
        n--;
    if (n == 0 || n > SECRET_MAX) {
        OPENSSL_cleanse(b, SECRET_MAX + 1);
        free(b);
        return lg_errf(err, errlen, -EINVAL, "SecretFile %s: %s", path,
                       n ? "longer than 4096 bytes" : "empty");
    }
    *out = b;
    *len = n;
    return 0;
}

static int build_hooks(const dconf *c, hhook **out, char *err, size_t errlen)
{
    hhook *v = calloc((size_t)(c->n_webhooks ? c->n_webhooks : 1), sizeof *v);
    char red[DCONF_URL_MAX];
    int rc;
    *out = NULL;
    if (!v)
        return lg_errf(err, errlen, -ENOMEM, "out of memory");
    for (int i = 0; i < c->n_webhooks; i++) {
        const dconf_webhook *w = &c->webhooks[i];
        v[i].events = w->events;
        if (!(v[i].url = strdup(w->url)) ||
            !(v[i].url_log = strdup(dhook_redact_url(w->url, red,
                                                     sizeof red)))) {
            free_hooks(v, i + 1);
            return lg_errf(err, errlen, -ENOMEM, "out of memory");
        }
        if (w->secret_file.path &&
            (rc = read_secret(w->secret_file.path, &v[i].secret,
                              &v[i].secret_len, err, errlen)) < 0) {
            free_hooks(v, i + 1);
            return rc;
        }
    }
    *out = v;
    return 0;
}

/* ---- curl on the loop ------------------------------------------------------- */

static void pump(dhook *h);
static void check_done(dhook *h);

static void on_sock_closed(uv_handle_t *hd)
{
    hsock *k = hd->data;
    dhook *h = k->h;
    free(k);
    h->handles--;
}

static void sock_close(hsock *k)
{
    dhook *h = k->h;
    if (k->closing)
        return;
    k->closing = 1;
    if (k->prev)
        k->prev->next = k->next;
    else
        h->socks = k->next;
    if (k->next)
        k->next->prev = k->prev;
    uv_close((uv_handle_t *)&k->poll, on_sock_closed);
}

static void on_poll(uv_poll_t *p, int status, int events)
{
    hsock *k = p->data;
    dhook *h = k->h;
    int flags = 0, running;
    if (!h->multi)
        return;
    if (status < 0)
        flags = CURL_CSELECT_ERR;
    else {
        if (events & UV_READABLE)
            flags |= CURL_CSELECT_IN;
        if (events & UV_WRITABLE)
            flags |= CURL_CSELECT_OUT;
    }
    curl_multi_socket_action(h->multi, k->fd, flags, &running);
    check_done(h);
}

/* CURLMOPT_SOCKETFUNCTION: watch s for what curl says. */
static int on_curl_socket(CURL *e, curl_socket_t s, int what, void *userp,
                          void *socketp)
{
    dhook *h = userp;
    hsock *k = socketp;
    int ev = 0;
    (void)e;
    if (what == CURL_POLL_REMOVE) {
        if (k) {
            uv_poll_stop(&k->poll);
            sock_close(k);
            if (!h->cleaning)
                curl_multi_assign(h->multi, s, NULL);
        }
        return 0;
    }
    if (!k) {
        if (!(k = calloc(1, sizeof *k)))
            return -1;
        k->fd = s;
        k->h = h;
        if (uv_poll_init_socket(&h->d->loop, &k->poll, s) < 0) {
            free(k);
            return -1;
        }
        k->poll.data = k;
        h->handles++;
        k->next = h->socks;
        if (h->socks)
            h->socks->prev = k;
        h->socks = k;
        curl_multi_assign(h->multi, s, k);
    }
    if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
        ev |= UV_READABLE;
    if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
        ev |= UV_WRITABLE;
    uv_poll_start(&k->poll, ev, on_poll);
    return 0;
}

static void on_ctimer(uv_timer_t *t)
{
    dhook *h = t->data;
    int running;
    if (!h->multi)
        return;
    curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_done(h);
}

/* CURLMOPT_TIMERFUNCTION */
static int on_curl_timer(CURLM *m, long ms, void *userp)
{
    dhook *h = userp;
    (void)m;
    if (ms < 0)
        uv_timer_stop(&h->ctimer);
    else
        uv_timer_start(&h->ctimer, on_ctimer, (uint64_t)ms, 0);
    return 0;
}

static size_t on_body(char *p, size_t sz, size_t n, void *arg)
{
    hdeliv *v = arg;
    size_t k = sz * n, room = RESP_KEEP - v->resp_len;
    size_t take = k < room ? k : room;
    memcpy(v->resp + v->resp_len, p, take);
    v->resp_len += take;
    v->resp[v->resp_len] = '\0';
    return k;
}

/* ---- deliveries --------------------------------------------------------------- */

static void deliv_free(hdeliv *v)
{
    dhook *h = v->h;
    if (v->prev)
        v->prev->next = v->next;
    else
        h->inflight = v->next;
    if (v->next)
        v->next->prev = v->prev;
    h->n_inflight--;
    if (v->easy) {
        if (h->multi)
            curl_multi_remove_handle(h->multi, v->easy);
        curl_easy_cleanup(v->easy);
    }
    curl_slist_free_all(v->hdrs);
    free(v->body);
    if (v->it)
        v->it->busy = 0;
    free(v);
}

/* The answer's first line of text, printable, for a message. */
static const char *resp_text(hdeliv *v)
{
    for (size_t i = 0; i < v->resp_len; i++)
        if ((unsigned char)v->resp[i] < 0x20 || v->resp[i] == 0x7f)
            v->resp[i] = i + 1 < v->resp_len ? ' ' : '\0';
    return v->resp;
}

/* Given up: say all, with the body so that it can be sent by hand. */
static void give_up(dhook *h, eventq_item *it, const char *url_log,
                    const char *why)
{
    char err[512] = "", *body = NULL;
    size_t len = 0;
    h->st.failed++;
    if (eventq_body(h->q, it, &body, &len, err, sizeof err) < 0)
        body = NULL;
    log_err("webhook: %s %s to %s failed for good after %u attempt%s: %s; "
            "removed from the queue; body: %.*s%s", it->event, it->id,
            url_log, it->attempts, it->attempts == 1 ? "" : "s", why,
            LOG_BODY_MAX, body ? body : "(unreadable)",
            len > LOG_BODY_MAX ? "..." : "");
    free(body);
    if (eventq_done(h->q, it, err, sizeof err) < 0)
        log_err("webhook: %s", err);
}

/* An attempt failed in a way worth retrying. */
static void retry(dhook *h, eventq_item *it, const char *url_log,
                  const char *why, long retry_after)
{
    char err[512] = "";
    uint64_t now = wall_ms();
    uint32_t att = it->attempts + 1;
    double base, delay;
    if ((double)(now - (it->created_ms < now ? it->created_ms : now)) >=
        h->retry_for * 1e3) {
        it->attempts = att;
        give_up(h, it, url_log, why);
        return;
    }
    base = att >= 10 ? DHOOK_BACKOFF_MAX : ldexp(1.0, (int)att - 1);
    if (base > DHOOK_BACKOFF_MAX)
        base = DHOOK_BACKOFF_MAX;
    delay = base * (0.8 + 0.4 * (double)(rnd(h) >> 11) / 9007199254740992.0);
    if (retry_after > 0)
        delay = retry_after > 3600 ? 3600.0 : (double)retry_after;
    h->st.retry++;
    log_warn("webhook: %s %s to %s: %s (attempt %u); retrying in %.1f s",
             it->event, it->id, url_log, why, att, delay);
    if (eventq_reschedule(h->q, it, att, now + (uint64_t)(delay * 1e3), err,
                          sizeof err) < 0)
        log_err("webhook: %s (the retry is kept in memory)", err);
}

static void finish(hdeliv *v, CURLcode res)
{
    dhook *h = v->h;
    eventq_item *it = v->it;
    hhook *k = find_hook(h, it->url);
    char why[CURL_ERROR_SIZE + 300], red[EVENTQ_URL_MAX];
    const char *ul = k ? k->url_log : dhook_redact_url(it->url, red,
                                                        sizeof red);
    long code = 0;
    curl_off_t ra = 0;
    if (res == CURLE_OK)
        curl_easy_getinfo(v->easy, CURLINFO_RESPONSE_CODE, &code);
    if (res == CURLE_OK && (code == 429 || code == 503))
        curl_easy_getinfo(v->easy, CURLINFO_RETRY_AFTER, &ra);
    v->it = NULL;                      /* it stays queued, not busy */
    deliv_free(v);
    it->busy = 0;
    if (res == CURLE_OK && code >= 200 && code < 300) {
        char err[512] = "";
        h->st.ok++;
        if (it->attempts)
            log_info("webhook: %s %s delivered to %s (HTTP %ld) after %u "
                     "failed attempt%s", it->event, it->id, ul, code,
                     it->attempts, it->attempts == 1 ? "" : "s");
        else
            log_debug("webhook: %s %s delivered to %s (HTTP %ld)", it->event,
                      it->id, ul, code);
        if (eventq_done(h->q, it, err, sizeof err) < 0)
            log_err("webhook: %s", err);
        return;
    }
    if (res != CURLE_OK) {
        snprintf(why, sizeof why, "%s", curl_easy_strerror(res));
        retry(h, it, ul, why, 0);
        return;
    }
    snprintf(why, sizeof why, "HTTP %ld", code);
    if (code == 408 || code == 429 || code >= 500) {
        retry(h, it, ul, why, (long)ra);
        return;
    }
    it->attempts++;
    snprintf(why, sizeof why, "HTTP %ld%s", code,
             code >= 300 && code < 400 ? " (redirects are not followed)"
                                       : " (not retried)");
    give_up(h, it, ul, why);
}

/* Finished transfers: each to finish(), then start what is due. */
static void check_done(dhook *h)
{
    CURLMsg *m;
    int left, any = 0;
    while (h->multi && (m = curl_multi_info_read(h->multi, &left))) {
        hdeliv *v;
        char *pv = NULL;
        if (m->msg != CURLMSG_DONE)
            continue;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &pv);
        v = (hdeliv *)pv;
        if (v) {
            /* the answer's text is in v->resp; log it on failure */
            long code = 0;
            CURLcode res = m->data.result;
            curl_easy_getinfo(v->easy, CURLINFO_RESPONSE_CODE, &code);
            if (res == CURLE_OK && (code < 200 || code >= 300) &&
                v->resp_len)
                log_debug("webhook: %s %s: HTTP %ld answer: %s",
                          v->it->event, v->it->id, code, resp_text(v));
            if (res != CURLE_OK && v->errbuf[0])
                log_debug("webhook: %s %s: %s", v->it->event, v->it->id,
                          v->errbuf);
            finish(v, res);
            any = 1;
        }
    }
    if (any)
        pump(h);
}

static struct curl_slist *add_hdr(struct curl_slist *l, int *ok,
                                  const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static struct curl_slist *add_hdr(struct curl_slist *l, int *ok,
                                  const char *fmt, ...)
{
    char b[256];
    struct curl_slist *n;
    va_list ap;
    if (!*ok)
        return l;
    va_start(ap, fmt);
    vsnprintf(b, sizeof b, fmt, ap);
    va_end(ap);
    if (!(n = curl_slist_append(l, b)))
        *ok = 0;
    return n ? n : l;
}

/* Start one attempt of it to k. 0, or <0 when it could not start (it
 * then waits for the next wake). */
static int start_one(dhook *h, eventq_item *it, hhook *k)
{
    char err[512] = "", sig[80] = "";
    hdeliv *v;
    size_t len;
    int ok = 1, rc;
    if (!(v = calloc(1, sizeof *v)))
        return -ENOMEM;
    v->h = h;
    if ((rc = eventq_body(h->q, it, &v->body, &len, err, sizeof err)) < 0) {
        free(v);
        if (rc == LG_EMODEL || rc == -ENOENT) {
            /* The file changed or went: nothing sane to send. */
            log_err("webhook: %s %s to %s: %s; dropped", it->event, it->id,
                    k->url_log, err);
            h->st.failed++;
            eventq_done(h->q, it, err, sizeof err);
            return 0;
        }
        log_err("webhook: %s %s: %s", it->event, it->id, err);
        return rc;
    }
    if (k->secret) {
        unsigned char mac[EVP_MAX_MD_SIZE];
        unsigned int ml = 0;
        if (!HMAC(EVP_sha256(), k->secret, (int)k->secret_len,
                  (unsigned char *)v->body, len, mac, &ml)) {
            free(v->body);
            free(v);
            log_err("webhook: %s %s: HMAC-SHA256 failed", it->event, it->id);
            return -EIO;
        }
        memcpy(sig, "sha256=", 7);
        for (unsigned i = 0; i < ml && i < 32; i++)
            snprintf(sig + 7 + 2 * i, 3, "%02x", mac[i]);
    }
    v->hdrs = add_hdr(NULL, &ok, "Content-Type: application/json");
    v->hdrs = add_hdr(v->hdrs, &ok, "X-Lagrange-Event: %s", it->event);
    v->hdrs = add_hdr(v->hdrs, &ok, "X-Lagrange-Delivery: %s", it->id);
    v->hdrs = add_hdr(v->hdrs, &ok, "Expect:");
    if (sig[0])
        v->hdrs = add_hdr(v->hdrs, &ok, "X-Lagrange-Signature: %s", sig);
    if (!ok || !(v->easy = curl_easy_init())) {
        curl_slist_free_all(v->hdrs);
        free(v->body);
        free(v);
        return -ENOMEM;
    }
    curl_easy_setopt(v->easy, CURLOPT_URL, it->url);
    curl_easy_setopt(v->easy, CURLOPT_POST, 1L);
    curl_easy_setopt(v->easy, CURLOPT_POSTFIELDS, v->body);
    curl_easy_setopt(v->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(v->easy, CURLOPT_HTTPHEADER, v->hdrs);
    curl_easy_setopt(v->easy, CURLOPT_USERAGENT,
                     "lagranged/" PACKAGE_VERSION);
    curl_easy_setopt(v->easy, CURLOPT_TIMEOUT_MS,
                     (long)(h->timeout * 1e3));
    curl_easy_setopt(v->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(v->easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(v->easy, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(v->easy, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(v->easy, CURLOPT_WRITEDATA, v);
    curl_easy_setopt(v->easy, CURLOPT_ERRORBUFFER, v->errbuf);
    curl_easy_setopt(v->easy, CURLOPT_PRIVATE, v);
    v->it = it;
    it->busy = 1;
    v->next = h->inflight;
    if (h->inflight)
        h->inflight->prev = v;
    h->inflight = v;
    h->n_inflight++;
    if (curl_multi_add_handle(h->multi, v->easy) != CURLM_OK) {
        curl_easy_cleanup(v->easy);
        v->easy = NULL;
        deliv_free(v);
        return -ENOMEM;
    }
    log_debug("webhook: %s %s to %s: attempt %u", it->event, it->id,
              k->url_log, it->attempts + 1);
    return 0;
}

static void on_wake(uv_timer_t *t)
{
    pump(t->data);
}

/* Start what is due, within the limits; wake for the next one. */
static void pump(dhook *h)
{
    uint64_t now = wall_ms(), next = UINT64_MAX;
    if (!h->q || h->stopping || !h->multi)
        return;
    for (int i = 0; i < eventq_count(h->q);) {
        eventq_item *it = eventq_get(h->q, i);
        hhook *k;
        if (it->busy) {
            i++;
            continue;
        }
        if (!(k = find_hook(h, it->url))) {
            char red[EVENTQ_URL_MAX];
            /* eventq_done moves the last item here: same i again */
            give_up(h, it, dhook_redact_url(it->url, red, sizeof red),
                    "its URL is no longer a Webhook= line");
            continue;
        }
        if (it->next_ms > now) {
            if (it->next_ms < next)
                next = it->next_ms;
            i++;
            continue;
        }
        if (h->n_inflight >= DHOOK_MAX_INFLIGHT ||
            per_url(h, it->url) >= DHOOK_MAX_PER_URL) {
            i++;                  /* a finish pumps again */
            continue;
        }
        {
            int before = eventq_count(h->q);
            int rc = start_one(h, it, k);
            if (eventq_count(h->q) < before)
                continue;         /* dropped: the last one moved here */
            if (rc < 0 && now + 1000 < next)
                next = now + 1000;
            i++;
        }
    }
    if (next != UINT64_MAX) {
        uint64_t ms = next > now ? next - now : 0;
        if (ms > WAKE_MAX_MS)
            ms = WAKE_MAX_MS;
        uv_timer_start(&h->wake, on_wake, ms, 0);
    } else {
        uv_timer_stop(&h->wake);
    }
}

/* pump() soon, from the loop (not inside the caller's stack). */
static void pump_soon(dhook *h)
{
    if (h->q && !h->stopping && h->multi)
        uv_timer_start(&h->wake, on_wake, 0, 0);
}

/* ---- the queue --------------------------------------------------------------- */

static void on_q_warn(void *arg, const char *msg)
{
    (void)arg;
    log_warn("webhook: %s", msg);
}

static int open_queue(dhook *h, char *err, size_t errlen)
{
    const char *dir = h->d->conf->event_dir.path;
    int rc = eventq_open(dir, 0, on_q_warn, h, &h->q, err, errlen);
    if (rc < 0)
        return rc;
    if (!(h->q_dir = strdup(dir))) {
        eventq_close(h->q);
        h->q = NULL;
        return lg_errf(err, errlen, -ENOMEM, "out of memory");
    }
    if (eventq_count(h->q))
        log_info("webhook: %d deliver%s queued in %s, sending", 
                 eventq_count(h->q), eventq_count(h->q) == 1 ? "y" : "ies",
                 dir);
    return 0;
}

int dhook_emit(dhook *h, const char *event, const dhook_fields *f)
{
    char id[EVENTQ_ID_LEN + 1], when[80], err[1024];
    dhook_fields head;
    char *body;
    size_t blen;
    uint64_t now;
    int e, rc, queued = 0, worst = 0;
    if (!h || !h->q || h->n_hooks == 0)
        return 0;
    if ((e = dconf_event_find(event)) < 0) {
        log_err("webhook: unknown event %s not queued (a bug)", event);
        return -EINVAL;
    }
    {
        int want = 0;
        for (int i = 0; i < h->n_hooks; i++)
            want += (h->hooks[i].events >> e) & 1;
        if (!want)
            return 0;
    }
    if (f && (f->bad || f->depth)) {
        h->st.refused++;
        log_err("webhook: %s not queued: its fields are too long or "
                "unbalanced (a bug)", event);
        return -EINVAL;
    }
    if ((rc = new_id(id)) < 0) {
        h->st.refused++;
        log_err("webhook: %s not queued: no random id: %s", event,
                strerror(-rc));
        return rc;
    }
    now = wall_ms();
    iso_ms(now, when, sizeof when);
    dhook_fields_init(&head);
    head.first[0] = 1;
    dhook_f_str(&head, "id", id);
    dhook_f_str(&head, "event", event);
    dhook_f_str(&head, "time", when);
    dhook_f_str(&head, "node", h->d->conf->node_id);
    blen = head.len + (f ? f->len : 0) + 2;
    if (head.bad || blen > EVENTQ_BODY_MAX || !(body = malloc(blen + 1))) {
        h->st.refused++;
        log_err("webhook: %s %s not queued: out of memory", event, id);
        return -ENOMEM;
    }
    snprintf(body, blen + 1, "{%s%s}", head.buf, f ? f->buf : "");
    for (int i = 0; i < h->n_hooks; i++) {
        hhook *k = &h->hooks[i];
        if (!((k->events >> e) & 1))
            continue;
        err[0] = '\0';
        if ((rc = eventq_add(h->q, id, event, k->url, body, blen, now, NULL,
                             err, sizeof err)) < 0) {
            h->st.refused++;
            log_err("webhook: %s %s for %s not queued: %s", event, id,
                    k->url_log, err);
            worst = rc;
            continue;
        }
        queued++;
    }
    free(body);
    if (queued)
        pump_soon(h);
    return worst < 0 ? worst : queued;
}

/* ---- life ------------------------------------------------------------------ */

static void on_timer_closed(uv_handle_t *hd)
{
    dhook *h = hd->data;
    h->handles--;
}

int dhook_start(lagranged *d, dhook **out, char *err, size_t errlen)
{
    const dconf *c = d->conf;
    dhook *h;
    int rc;
    *out = NULL;
    if (!(h = calloc(1, sizeof *h)))
        return lg_errf(err, errlen, -ENOMEM, "out of memory");
    h->d = d;
    h->timeout = c->webhook_timeout;
    h->retry_for = c->webhook_retry_for;
    h->rng = wall_ms() ^ ((uint64_t)getpid() << 32) ^ 0x9e3779b97f4a7c15ull;
    if (!h->rng)
        h->rng = 1;
    if ((rc = build_hooks(c, &h->hooks, err, errlen)) < 0) {
        free(h);
        return rc;
    }
    h->n_hooks = c->n_webhooks;
    *out = h;                    /* dhook_stop and dhook_free from here */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return lg_errf(err, errlen, -ENOMEM, "libcurl does not initialise");
    h->curl_init = 1;
    uv_timer_init(&d->loop, &h->ctimer);
    uv_timer_init(&d->loop, &h->wake);
    h->ctimer.data = h->wake.data = h;
    h->handles = 2;
    if (!(h->multi = curl_multi_init()))
        return lg_errf(err, errlen, -ENOMEM, "libcurl: no multi handle");
    curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
    curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
    curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
    curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
    if (h->n_hooks && (rc = open_queue(h, err, errlen)) < 0)
        return rc;
    if (h->n_hooks)
        log_info("webhook: %d URL%s, deliveries kept in %s", h->n_hooks,
                 h->n_hooks == 1 ? "" : "s", h->q_dir);
    pump_soon(h);
    return 0;
}

int dhook_reload(dhook *h, char *err, size_t errlen)
{
    const dconf *c;
    hhook *nv;
    int rc;
    if (!h)
        return 0;
    c = h->d->conf;
    if ((rc = build_hooks(c, &nv, err, errlen)) < 0)
        return rc;
    free_hooks(h->hooks, h->n_hooks);
    h->hooks = nv;
    h->n_hooks = c->n_webhooks;
    h->timeout = c->webhook_timeout;
    h->retry_for = c->webhook_retry_for;
    if (h->n_hooks && !h->q && (rc = open_queue(h, err, errlen)) < 0)
        return rc;
    if (h->q_dir && strcmp(h->q_dir, c->event_dir.path))
        log_warn("webhook: EventDir changed to %s; it moves at the next "
                 "restart, still using %s", c->event_dir.path, h->q_dir);
    pump_soon(h);
    return 0;
}

void dhook_stop(dhook *h)
{
    int aborted = 0;
    if (!h || h->stopping)
        return;
    h->stopping = 1;
    while (h->inflight) {
        deliv_free(h->inflight);
        aborted++;
    }
    if (h->multi) {
        h->cleaning = 1;
        curl_multi_cleanup(h->multi);
        h->multi = NULL;
    }
    while (h->socks)
        sock_close(h->socks);
    if (h->ctimer.loop) {
        uv_close((uv_handle_t *)&h->ctimer, on_timer_closed);
        uv_close((uv_handle_t *)&h->wake, on_timer_closed);
    }
    if (h->q)
        log_info("webhook: stopped; %d attempt%s aborted, %d deliver%s kept "
                 "in %s for the next start", aborted,
                 aborted == 1 ? "" : "s", eventq_count(h->q),
                 eventq_count(h->q) == 1 ? "y" : "ies", h->q_dir);
}

void dhook_free(dhook *h)
{
    if (!h)
        return;
    dhook_stop(h);
    eventq_close(h->q);
    free(h->q_dir);
    free_hooks(h->hooks, h->n_hooks);
    if (h->curl_init)
        curl_global_cleanup();
    free(h);
}

void dhook_get_stats(const dhook *h, dhook_stats *st)
{
    memset(st, 0, sizeof *st);
    if (!h)
        return;
    *st = h->st;
    st->pending = eventq_count(h->q);
    st->inflight = h->n_inflight;
}
