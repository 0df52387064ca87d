/*
 * jobcomp.c - the job completion log (see jobcomp.h).
 */
#include "jobcomp.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lgerr.h"
#include "lgfs.h"
#include "lgtime.h"

/* A bounded appender: once full, everything else is refused. */
typedef struct out {
    char *b;
    size_t len, n;
    int full;
} out;

static void put(out *o, const char *s, size_t n)
{
    if (o->full || o->n + n >= o->len) {
        o->full = 1;
        return;
    }
    memcpy(o->b + o->n, s, n);
    o->n += n;
    o->b[o->n] = '\0';
}

static void puts_(out *o, const char *s)
{
    put(o, s, strlen(s));
}

static int needs_quotes(const char *v)
{
    if (!strcmp(v, "-"))
        return 1;
    for (const unsigned char *q = (const unsigned char *)v; *q; q++)
        if (*q <= ' ' || *q == 0x7f || *q == '"' || *q == '\\' || *q == '=')
            return 1;
    return 0;
}

/* " Key=value", the value as jobcomp.h says. */
static void field(out *o, const char *key, const char *v)
{
    size_t n;
    if (o->n)
        put(o, " ", 1);
    puts_(o, key);
    put(o, "=", 1);
    if (!v || !*v) {
        put(o, "-", 1);
        return;
    }
    n = strnlen(v, JOBCOMP_FIELD_MAX + 1);
    if (!needs_quotes(v)) {
        put(o, v, n > JOBCOMP_FIELD_MAX ? JOBCOMP_FIELD_MAX : n);
        if (n > JOBCOMP_FIELD_MAX)
            puts_(o, "...");
        return;
    }
    put(o, "\"", 1);
    for (size_t i = 0; i < n && i < JOBCOMP_FIELD_MAX; i++) {
        unsigned char ch = (unsigned char)v[i];
        char e[8];
        if (ch == '"' || ch == '\\') {
            e[0] = '\\';
            e[1] = (char)ch;
            put(o, e, 2);
        } else if (ch == '\n') {
            puts_(o, "\\n");
        } else if (ch == '\t') {
            puts_(o, "\\t");
        } else if (ch < ' ' || ch == 0x7f) {
            snprintf(e, sizeof e, "\\x%02x", ch);
            puts_(o, e);
        } else {
            put(o, (const char *)&ch, 1);
        }
    }
    if (n > JOBCOMP_FIELD_MAX)
        puts_(o, "...");
    put(o, "\"", 1);
}

/* 2024-05-01T12:00:00.123Z, or "-" for 0. */
static void time_field(out *o, const char *key, uint64_t ms)
{
    char b[48];
    if (!ms) {
        field(o, key, NULL);
        return;
    }
    lg_time_fmt_fixed(b, sizeof b, (double)ms / 1e3, 3);
    field(o, key, strcmp(b, "-") ? b : NULL);  /* not representable */
}

int jobcomp_format(const jobcomp_rec *r, char *buf, size_t len)
{
    out o = { buf, len, 0, 0 };
    char model[160], num[48];
    uint64_t el = 0;
    if (len)
        buf[0] = '\0';
    field(&o, "JobId", r->id);
    field(&o, "Name", r->name);
    snprintf(model, sizeof model, "%.64s@%.12s",
             r->model_name && *r->model_name ? r->model_name : "-",
             r->model_id && *r->model_id ? r->model_id : "-");
    field(&o, "Model", model);
    field(&o, "State", r->state);
    field(&o, "Reason", r->reason);
    time_field(&o, "Submit", r->submit_ms);
    time_field(&o, "Start", r->start_ms);
    time_field(&o, "End", r->end_ms);
    if (r->start_ms && r->end_ms >= r->start_ms)
        el = r->end_ms - r->start_ms;
    snprintf(num, sizeof num, "%llu.%03u", (unsigned long long)(el / 1000),
             (unsigned)(el % 1000));
    field(&o, "Elapsed", num);
    field(&o, "Node", r->node);
    snprintf(num, sizeof num, "%u", r->attempts);
    field(&o, "Attempts", num);
    put(&o, "\n", 1);
    if (o.full || !len)
        return -ENOSPC;
    return (int)o.n;
}

void jobcomp_init(jobcomp *jc)
{
    jc->fd = -1;
    jc->path = NULL;
}

static int open_file(const char *path, int *fd, char *err, size_t errlen)
{
    char e2[512];
    int rc;
    *fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY,
               0640);
    if (*fd >= 0)
        return 0;
    rc = -errno;
    if (rc == -ENOENT && lg_mkdir_parents(path, e2, sizeof e2) == 0) {
        *fd = open(path,
                   O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY,
                   0640);
        if (*fd >= 0)
            return 0;
        rc = -errno;
    }
    return lg_errf(err, errlen, rc, "JobCompLog %s: %s", path,
                   strerror(-rc));
}

int jobcomp_open(jobcomp *jc, const char *path, char *err, size_t errlen)
{
    char *np = NULL;
    int fd = -1, rc = 0;
    if (path && !(np = strdup(path)))
        return lg_errf(err, errlen, -ENOMEM, "JobCompLog %s: out of memory",
                       path);
    if (np)
        rc = open_file(np, &fd, err, errlen);
    if (jc->fd >= 0)
        close(jc->fd);
    free(jc->path);
    jc->fd = fd;
    jc->path = np;
    return rc;
}

int jobcomp_write(jobcomp *jc, const char *line, size_t n, char *err,
                  size_t errlen)
{
    ssize_t w;
    int rc;
    if (!jc->path)
        return 0;
    if (jc->fd < 0 && (rc = open_file(jc->path, &jc->fd, err, errlen)) < 0)
        return rc;
    do
        w = write(jc->fd, line, n);
    while (w < 0 && errno == EINTR);
    if (w < 0)
        return lg_errf(err, errlen, -errno, "JobCompLog %s: %s", jc->path,
                       strerror(errno));
    if ((size_t)w != n)
        return lg_errf(err, errlen, -EIO, "JobCompLog %s: short write, %zd "
                       "of %zu bytes (disk full?)", jc->path, w, n);
    return 0;
}

void jobcomp_close(jobcomp *jc)
{
    if (jc->fd >= 0)
        close(jc->fd);
    free(jc->path);
    jobcomp_init(jc);
}
