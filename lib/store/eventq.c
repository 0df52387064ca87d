/*
 * eventq.c - the durable queue of webhook deliveries (see eventq.h).
 *
 * Memory: an array of item pointers (order does not matter: a removal
 * moves the last one into the hole, and each item knows its slot). Files
 * are reached through the directory's fd (openat, renameat, unlinkat),
 * which also holds the flock that keeps a second daemon out.
 */
#include "eventq.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crc32c.h"
#include "lgerr.h"
#include "lgfs.h"

#define HEAD_MAX (EVENTQ_URL_MAX + 512) /* the header, incl. the blank line */
#define MAGIC "lagrange-event 1\n"

struct eventq {
    char *dir;
    int dfd;
    eventq_item **v;
    int n, cap;
    uint32_t max;
};

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001b3ull;
    }
    return h;
}

void eventq_name(const char *id, const char *url, char *buf, size_t len)
{
    snprintf(buf, len, "%.32s-%016llx.ev", id,
             (unsigned long long)fnv1a(url));
}

static int valid_id(const char *id)
{
    size_t n = strlen(id);
    if (n != EVENTQ_ID_LEN)
        return 0;
    for (; *id; id++)
        if (!isxdigit((unsigned char)*id) || isupper((unsigned char)*id))
            return 0;
    return 1;
}

static int valid_event(const char *e)
{
    size_t n = strlen(e);
    if (n == 0 || n >= EVENTQ_EVENT_MAX)
        return 0;
    for (; *e; e++)
        if (!islower((unsigned char)*e) && !isdigit((unsigned char)*e) &&
            *e != '.' && *e != '_' && *e != '-')
            return 0;
    return 1;
}

static int valid_url(const char *u)
{
    size_t n = strlen(u);
    if (n == 0 || n >= EVENTQ_URL_MAX)
        return 0;
    for (; *u; u++)
        if ((unsigned char)*u < 0x20 || *u == 0x7f)
            return 0;
    return 1;
}

/* ---- the index ------------------------------------------------------------ */

static void item_free(eventq_item *it)
{
    if (it) {
        free(it->url);
        free(it);
    }
}

static int push(eventq *q, eventq_item *it)
{
    if (q->n == q->cap) {
        int cap = q->cap ? 2 * q->cap : 64;
        eventq_item **nv = realloc(q->v, (size_t)cap * sizeof *nv);
        if (!nv)
            return -ENOMEM;
        q->v = nv;
        q->cap = cap;
    }
    it->slot = q->n;
    q->v[q->n++] = it;
    return 0;
}

static void drop(eventq *q, eventq_item *it)
{
    int i = it->slot;
    if (i < 0 || i >= q->n || q->v[i] != it)
        return;
    q->v[i] = q->v[--q->n];
    q->v[i]->slot = i;
    item_free(it);
}

int eventq_count(const eventq *q)
{
    return q ? q->n : 0;
}

eventq_item *eventq_get(eventq *q, int i)
{
    return i >= 0 && i < q->n ? q->v[i] : NULL;
}

/* ---- files ---------------------------------------------------------------- */

/* The header for it, into buf; its length or -ENAMETOOLONG. */
static int format_head(const eventq_item *it, char *buf, size_t len)
{
    int n = snprintf(buf, len,
                     MAGIC "id=%s\nevent=%s\nurl=%s\ncreated=%llu\n"
                     "attempts=%u\nnext=%llu\nlength=%zu\ncrc32c=%08x\n\n",
                     it->id, it->event, it->url,
                     (unsigned long long)it->created_ms, it->attempts,
                     (unsigned long long)it->next_ms, it->body_len, it->crc);
    return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : n;
}

/* Write NAME whole and durably: .tmp-NAME, fsync, rename, fsync dir. */
static int write_file(eventq *q, const eventq_item *it, const char *body,
                      char *err, size_t errlen)
{
    char head[HEAD_MAX], tmp[EVENTQ_NAME_MAX + 8];
    int n = format_head(it, head, sizeof head), fd, rc;
    if (n < 0)
        return lg_errf(err, errlen, -EINVAL, "EventDir %s: header of %s too "
                       "long", q->dir, it->name);
    snprintf(tmp, sizeof tmp, ".tmp-%s", it->name);
    fd = openat(q->dfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0)
        return lg_errf(err, errlen, -errno, "EventDir %s: create %s: %s",
                       q->dir, tmp, strerror(errno));
    if ((rc = lg_write_all(fd, head, (size_t)n)) < 0 ||
        (rc = lg_write_all(fd, body, it->body_len)) < 0 ||
        (rc = lg_fsync(fd, 0)) < 0) {
        close(fd);
        unlinkat(q->dfd, tmp, 0);
        return lg_errf(err, errlen, rc, "EventDir %s: write %s: %s", q->dir,
                       tmp, strerror(-rc));
    }
    if ((rc = lg_close(fd)) < 0) {
        unlinkat(q->dfd, tmp, 0);
        return lg_errf(err, errlen, rc, "EventDir %s: write %s: %s", q->dir,
                       tmp, strerror(-rc));
    }
    if (renameat(q->dfd, tmp, q->dfd, it->name) < 0) {
        rc = -errno;
        unlinkat(q->dfd, tmp, 0);
        return lg_errf(err, errlen, rc, "EventDir %s: rename %s: %s", q->dir,
                       tmp, strerror(-rc));
    }
    if ((rc = lg_fsync(q->dfd, 0)) < 0)
        return lg_errf(err, errlen, rc, "EventDir %s: sync: %s", q->dir,
                       strerror(-rc));
    return 0;
}

/* Read a whole file (at most HEAD_MAX + EVENTQ_BODY_MAX bytes). */
static int read_file(eventq *q, const char *name, char **out, size_t *len)
{
    size_t cap = HEAD_MAX + EVENTQ_BODY_MAX + 1, n = 0;
    char *b;
    int fd = openat(q->dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return -errno;
    if (!(b = malloc(cap))) {
        close(fd);
        return -ENOMEM;
    }
    for (;;) {
        ssize_t r = read(fd, b + n, cap - 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = -errno;
            close(fd);
            free(b);
            return e;
        }
        if (r == 0)
            break;
        n += (size_t)r;
        if (n == cap - 1) {
            close(fd);
            free(b);
            return -EFBIG;
        }
    }
    close(fd);
    b[n] = '\0';
    *out = b;
    *len = n;
    return 0;
}

/* "key=VALUE\n" at *p: VALUE into a new string, *p past the line. */
static char *take(const char **p, const char *key)
{
    size_t k = strlen(key);
    const char *nl;
    if (strncmp(*p, key, k) || (*p)[k] != '=' || !(nl = strchr(*p, '\n')))
        return NULL;
    char *v = strndup(*p + k + 1, (size_t)(nl - (*p + k + 1)));
    *p = nl + 1;
    return v;
}

static int take_u64(const char **p, const char *key, uint64_t *x)
{
    char *v = take(p, key), *end;
    int ok;
    if (!v)
        return 0;
    errno = 0;
    *x = strtoull(v, &end, 10);
    ok = v[0] && isdigit((unsigned char)v[0]) && !*end && errno == 0;
    free(v);
    return ok;
}

/* Parse a file's text into a new item named name; the reason it does not
 * parse into why. The body's checksum is checked when body_too. */
static eventq_item *parse(const char *name, const char *text, size_t len,
                          int body_too, char *why, size_t whylen)
{
    const char *p = text;
    eventq_item *it = calloc(1, sizeof *it);
    char *s = NULL, want[EVENTQ_NAME_MAX];
    uint64_t att = 0, blen = 0, crc = 0;
    if (!it) {
        snprintf(why, whylen, "out of memory");
        return NULL;
    }
    it->slot = -1;
    snprintf(it->name, sizeof it->name, "%s", name);
    if (strncmp(p, MAGIC, strlen(MAGIC))) {
        snprintf(why, whylen, "not a delivery (no '%.*s' line)",
                 (int)strlen(MAGIC) - 1, MAGIC);
        goto bad;
    }
    p += strlen(MAGIC);
    if (!(s = take(&p, "id")) || !valid_id(s)) {
        snprintf(why, whylen, "bad id line");
        goto bad;
    }
    memcpy(it->id, s, EVENTQ_ID_LEN + 1);
    free(s);
    if (!(s = take(&p, "event")) || !valid_event(s)) {
        snprintf(why, whylen, "bad event line");
        goto bad;
    }
    snprintf(it->event, sizeof it->event, "%s", s);
    free(s);
    s = NULL;
    if (!(it->url = take(&p, "url")) || !valid_url(it->url)) {
        snprintf(why, whylen, "bad url line");
        goto bad;
    }
    if (!take_u64(&p, "created", &it->created_ms) ||
        !take_u64(&p, "attempts", &att) || att > UINT32_MAX ||
        !take_u64(&p, "next", &it->next_ms) ||
        !take_u64(&p, "length", &blen) || blen > EVENTQ_BODY_MAX) {
        snprintf(why, whylen, "bad created, attempts, next or length line");
        goto bad;
    }
    if (!(s = take(&p, "crc32c")) || strlen(s) != 8 ||
        strspn(s, "0123456789abcdef") != 8) {
        snprintf(why, whylen, "bad crc32c line");
        goto bad;
    }
    crc = strtoull(s, NULL, 16);
    free(s);
    s = NULL;
    if (*p != '\n') {
        snprintf(why, whylen, "no blank line after the header");
        goto bad;
    }
    p++;
    it->attempts = (uint32_t)att;
    it->body_len = (size_t)blen;
    it->crc = (uint32_t)crc;
    if ((size_t)(p - text) + it->body_len != len) {
        snprintf(why, whylen, "body of %zu bytes, the header says %zu",
                 len - (size_t)(p - text), it->body_len);
        goto bad;
    }
    if (body_too && crc32c(0, p, it->body_len) != it->crc) {
        snprintf(why, whylen, "body checksum mismatch");
        goto bad;
    }
    eventq_name(it->id, it->url, want, sizeof want);
    if (strcmp(want, name)) {
        snprintf(why, whylen, "its id and url make the name %s", want);
        goto bad;
    }
    return it;
bad:
    free(s);
    item_free(it);
    return NULL;
}

static void warnf(eventq_warn_fn warn, void *arg, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void warnf(eventq_warn_fn warn, void *arg, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    if (!warn)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    warn(arg, msg);
}

static int ends_with(const char *s, const char *sfx)
{
    size_t n = strlen(s), k = strlen(sfx);
    return n >= k && !strcmp(s + n - k, sfx);
}

/* Set name aside as name.bad, saying why. */
static void set_aside(eventq *q, const char *name, const char *why,
                      eventq_warn_fn warn, void *arg)
{
    char bad[EVENTQ_NAME_MAX + 300];
    snprintf(bad, sizeof bad, "%s.bad", name);
    if (renameat(q->dfd, name, q->dfd, bad) < 0)
        warnf(warn, arg, "EventDir %s: %s is damaged (%s) and cannot be set "
              "aside: %s; ignored", q->dir, name, why, strerror(errno));
    else
        warnf(warn, arg, "EventDir %s: %s is damaged (%s); set aside as %s",
              q->dir, name, why, bad);
}

int eventq_open(const char *dir, uint32_t max, eventq_warn_fn warn,
                void *warn_arg, eventq **out, char *err, size_t errlen)
{
    eventq *q;
    DIR *dh;
    struct dirent *de;
    int rc, dfd2, set = 0;
    *out = NULL;
    if (!(q = calloc(1, sizeof *q)) || !(q->dir = strdup(dir))) {
        free(q);
        return lg_errf(err, errlen, -ENOMEM, "out of memory");
    }
    q->dfd = -1;
    q->max = max ? max : EVENTQ_DEF_MAX;
    if ((rc = lg_dir_open(dir, &q->dfd, err, errlen)) < 0)
        goto fail;
    if ((rc = lg_flock(q->dfd, dir, "lagranged", err, errlen)) < 0)
        goto fail;
    if ((dfd2 = openat(q->dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
        !(dh = fdopendir(dfd2))) {
        int e = errno;
        if (dfd2 >= 0)
            close(dfd2);
        rc = lg_errf(err, errlen, -e, "EventDir %s: %s", dir, strerror(e));
        goto fail;
    }
    while ((de = readdir(dh))) {
        const char *nm = de->d_name;
        char *text = NULL, why[256] = "";
        size_t len;
        eventq_item *it;
        if (!strncmp(nm, ".tmp-", 5)) {
            unlinkat(q->dfd, nm, 0); /* a write a crash interrupted */
            continue;
        }
        if (nm[0] == '.' || !ends_with(nm, ".ev"))
            continue;               /* *.bad and whatever else is there */
        if (strlen(nm) >= EVENTQ_NAME_MAX) {
            set_aside(q, nm, "name too long", warn, warn_arg);
            continue;
        }
        if ((rc = read_file(q, nm, &text, &len)) < 0) {
            if (rc == -ENOMEM) {
                closedir(dh);
                rc = lg_errf(err, errlen, rc, "out of memory");
                goto fail;
            }
            snprintf(why, sizeof why, "%s", rc == -EFBIG
                                                ? "larger than a delivery"
                                                : strerror(-rc));
            set_aside(q, nm, why, warn, warn_arg);
            continue;
        }
        it = parse(nm, text, len, 1, why, sizeof why);
        free(text);
        if (!it) {
            set_aside(q, nm, why, warn, warn_arg);
            continue;
        }
        if ((uint32_t)q->n >= q->max) {
            /* Kept on disk, not lost: a larger limit takes it again. */
            if (!set++)
                warnf(warn, warn_arg, "EventDir %s: more than %u deliveries; "
                      "those beyond are left on disk until a restart",
                      dir, q->max);
            item_free(it);
            continue;
        }
        if (push(q, it) < 0) {
            item_free(it);
            closedir(dh);
            rc = lg_errf(err, errlen, -ENOMEM, "out of memory");
            goto fail;
        }
    }
    closedir(dh);
    *out = q;
    return 0;
fail:
    eventq_close(q);
    return rc;
}

void eventq_close(eventq *q)
{
    if (!q)
        return;
    for (int i = 0; i < q->n; i++)
        item_free(q->v[i]);
    free(q->v);
    if (q->dfd >= 0)
        close(q->dfd);
    free(q->dir);
    free(q);
}

int eventq_add(eventq *q, const char *id, const char *event,
               const char *url, const char *body, size_t len,
               uint64_t now_ms, eventq_item **out, char *err, size_t errlen)
{
    eventq_item *it;
    struct stat st;
    int rc;
    if (out)
        *out = NULL;
    if (!valid_id(id) || !valid_event(event) || !valid_url(url) ||
        len > EVENTQ_BODY_MAX)
        return lg_errf(err, errlen, -EINVAL, "EventDir %s: bad delivery "
                       "(id, event name, URL or a body over %u bytes)",
                       q->dir, EVENTQ_BODY_MAX);
    if ((uint32_t)q->n >= q->max)
        return lg_errf(err, errlen, -ENOSPC, "EventDir %s holds %u "
                       "deliveries, the most it may", q->dir, q->max);
    if (!(it = calloc(1, sizeof *it)) || !(it->url = strdup(url))) {
        free(it);
        return lg_errf(err, errlen, -ENOMEM, "out of memory");
    }
    it->slot = -1;
    eventq_name(id, url, it->name, sizeof it->name);
    if (fstatat(q->dfd, it->name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
        rc = lg_errf(err, errlen, -EEXIST, "EventDir %s: %s exists", q->dir,
                     it->name);
        item_free(it);
        return rc;
    }
    memcpy(it->id, id, EVENTQ_ID_LEN + 1);
    snprintf(it->event, sizeof it->event, "%s", event);
    it->created_ms = it->next_ms = now_ms;
    it->body_len = len;
    it->crc = crc32c(0, body, len);
    if ((rc = push(q, it)) < 0) {
        item_free(it);
        return lg_errf(err, errlen, rc, "out of memory");
    }
    if ((rc = write_file(q, it, body, err, errlen)) < 0) {
        drop(q, it);
        return rc;
    }
    if (out)
        *out = it;
    return 0;
}

int eventq_body(eventq *q, const eventq_item *it, char **body, size_t *len,
                char *err, size_t errlen)
{
    char *text, why[256] = "";
    size_t n;
    eventq_item *chk;
    int rc = read_file(q, it->name, &text, &n);
    *body = NULL;
    *len = 0;
    if (rc < 0)
        return lg_errf(err, errlen, rc, "EventDir %s: read %s: %s", q->dir,
                       it->name, strerror(-rc));
    if (!(chk = parse(it->name, text, n, 1, why, sizeof why))) {
        free(text);
        return lg_errf(err, errlen, LG_EMODEL, "EventDir %s: %s: %s", q->dir,
                       it->name, why);
    }
    if (strcmp(chk->id, it->id) || strcmp(chk->url, it->url) ||
        chk->body_len != it->body_len || chk->crc != it->crc) {
        item_free(chk);
        free(text);
        return lg_errf(err, errlen, LG_EMODEL, "EventDir %s: %s changed on "
                       "disk", q->dir, it->name);
    }
    item_free(chk);
    memmove(text, text + n - it->body_len, it->body_len);
    text[it->body_len] = '\0';
    *body = text;
    *len = it->body_len;
    return 0;
}

int eventq_reschedule(eventq *q, eventq_item *it, uint32_t attempts,
                      uint64_t next_ms, char *err, size_t errlen)
{
    char *body;
    size_t len;
    int rc;
    if ((rc = eventq_body(q, it, &body, &len, err, errlen)) < 0)
        return rc;
    it->attempts = attempts;
    it->next_ms = next_ms;
    rc = write_file(q, it, body, err, errlen);
    free(body);
    /* On a failure the old file stands (a restart retries at once) and
     * memory keeps the new schedule, so that the attempts are still
     * spaced out. */
    return rc;
}

int eventq_done(eventq *q, eventq_item *it, char *err, size_t errlen)
{
    int rc = 0;
    if (unlinkat(q->dfd, it->name, 0) < 0 && errno != ENOENT)
        rc = lg_errf(err, errlen, -errno, "EventDir %s: remove %s: %s",
                     q->dir, it->name, strerror(errno));
    drop(q, it);
    return rc;
}
