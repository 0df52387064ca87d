/*
 * control.c - the control socket (see control.h for the protocol).
 *
 * Each client is a conn with an explicit state:
 *
 *   OPEN      reading request lines and queueing their answers
 *   DRAINING  the client sent EOF (or broke a limit): no more reading; a
 *             uv_shutdown is queued behind the answers, and its callback
 *             closes the connection
 *   CLOSING   uv_close called; the memory goes in the close callback
 *
 * conn_close() is the one way to CLOSING and is idempotent. Answers are
 * separate uv_write requests, each owning its buffer, so a request can be
 * answered while earlier answers are still queued; reading pauses while
 * more than CONTROL_MAX_QUEUED bytes wait. The control itself is freed
 * when control_close() has been called and its last handle has closed.
 */
#include "control.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "lgerr.h"
#include "lgfs.h"
#include "log.h"

typedef enum conn_state {
    CONN_OPEN = 0,
    CONN_DRAINING,
    CONN_CLOSING,
} conn_state;

typedef struct conn {
    uv_pipe_t h;                 /* h.data points back here */
    control *ctl;
    conn_state state;
    int reading;                 /* uv_read_start in effect */
    int skipping;                /* dropping the rest of a line too long */
    size_t in_len;               /* bytes of an unfinished line in in[] */
    char in[CONTROL_MAX_LINE];
    uv_shutdown_t sreq;          /* DRAINING: queued behind the answers */
    struct control_later *later; /* a command answering later: requests
                                    after it wait (answers stay in order) */
    int eof_seen;                /* EOF came while a command was deferred */
    control_out *defer_slot;     /* the response a running command builds */
    struct conn *prev, *next;    /* the control's list of open clients */
} conn;

struct control {
    uv_pipe_t server;
    uv_loop_t *loop;
    const control_cmd *cmds;     /* ends with { NULL } */
    void *ctx;                   /* passed to the commands */
    char *path;                  /* the socket file, removed at close */
    int bound;                   /* path is ours to remove */
    conn *conns;                 /* open (not CLOSING) clients */
    int n_conns;
    int handles;                 /* handles not yet closed (server + conns) */
    int closing;                 /* control_close called */
};

struct control_out {
    control *ctl;                /* the control whose client asked */
    char *buf;
    size_t len, cap;
    int overflow;                /* went past CONTROL_MAX_RESPONSE */
    int oom;                     /* an allocation failed */
};

struct control_later {
    control_out out;
    conn *k;                     /* NULL once the client is gone */
};

typedef struct wreq {
    uv_write_t req;
    char *buf;                   /* owned; freed when the write completes */
} wreq;

/* ---- responses ---------------------------------------------------------- */

static void out_vprintf(control_out *o, const char *fmt, va_list ap)
{
    va_list cp;
    int n;
    if (o->overflow || o->oom)
        return;
    va_copy(cp, ap);
    n = vsnprintf(o->buf ? o->buf + o->len : NULL,
                  o->buf ? o->cap - o->len : 0, fmt, cp);
    va_end(cp);
    if (n < 0)
        return;
    if (o->len + (size_t)n + 1 > o->cap) {
        size_t cap = o->cap ? o->cap : 4096;
        char *nb;
        while (cap < o->len + (size_t)n + 1)
            cap *= 2;
        if (cap > CONTROL_MAX_RESPONSE)
            cap = CONTROL_MAX_RESPONSE;
        if (o->len + (size_t)n + 1 > cap) {
            o->overflow = 1;
            return;
        }
        if (!(nb = realloc(o->buf, cap))) {
            o->oom = 1;
            return;
        }
        o->buf = nb;
        o->cap = cap;
        vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
    }
    o->len += (size_t)n;
}

void control_printf(control_out *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    out_vprintf(o, fmt, ap);
    va_end(ap);
}

void control_json_str(control_out *o, const char *s)
{
    control_printf(o, "\"");
    for (const char *p = s; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '"' || c == '\\')
            control_printf(o, "\\%c", c);
        else if (c < 0x20 || c == 0x7f)
            control_printf(o, "\\u%04x", c);
        else
            control_printf(o, "%c", c);
    }
    control_printf(o, "\"");
}

void control_json_num(control_out *o, double x)
{
    char buf[32];
    if (!isfinite(x)) {
        control_printf(o, "null");
        return;
    }
    /* The shortest text that reads back as x: 0.004, not 0.00400...01. */
    for (int p = 15; p <= 17; p++) {
        snprintf(buf, sizeof buf, "%.*g", p, x);
        if (strtod(buf, NULL) == x)
            break;
    }
    control_printf(o, "%s", buf);
}

int control_error(control_out *o, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    o->len = 0;
    o->overflow = o->oom = 0;
    control_printf(o, "{\"error\":");
    control_json_str(o, msg);
    control_printf(o, "}\n");
    return -EINVAL;
}

/* ---- clients -------------------------------------------------------------- */

static void maybe_free(control *c)
{
    if (c->closing && c->handles == 0) {
        free(c->path);
        free(c);
    }
}

static void on_conn_closed(uv_handle_t *h)
{
    conn *k = h->data;
    control *c = k->ctl;
    free(k);
    c->handles--;
    maybe_free(c);
}

static void conn_close(conn *k)
{
    control *c = k->ctl;
    if (k->state == CONN_CLOSING)
        return;
    k->state = CONN_CLOSING;
    if (k->later) {
        k->later->k = NULL;      /* its owner frees it when done */
        k->later = NULL;
    }
    if (k->prev)
        k->prev->next = k->next;
    else
        c->conns = k->next;
    if (k->next)
        k->next->prev = k->prev;
    c->n_conns--;
    uv_close((uv_handle_t *)&k->h, on_conn_closed);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    conn_close(req->data);
}

/* No more requests from this client: answer what is queued, then close. */
static void conn_drain(conn *k)
{
    if (k->state != CONN_OPEN)
        return;
    k->state = CONN_DRAINING;
    if (k->reading) {
        uv_read_stop((uv_stream_t *)&k->h);
        k->reading = 0;
    }
    k->sreq.data = k;
    if (uv_shutdown(&k->sreq, (uv_stream_t *)&k->h, on_shutdown) < 0)
        conn_close(k);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    conn *k = h->data;
    /* There is always room: on_read empties a buffer that fills up
     * without a newline. */
    *buf = uv_buf_init(k->in + k->in_len,
                       (unsigned)(sizeof k->in - k->in_len));
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

static void start_reading(conn *k)
{
    if (k->eof_seen || (k->later && k->in_len >= sizeof k->in - 1))
        return;
    if (k->state == CONN_OPEN && !k->reading) {
        if (uv_read_start((uv_stream_t *)&k->h, on_alloc, on_read) < 0)
            conn_close(k);
        else
            k->reading = 1;
    }
}

static void on_write(uv_write_t *req, int status)
{
    wreq *w = (wreq *)req;
    conn *k = req->handle->data;
    free(w->buf);
    free(w);
    if (status < 0) {
        if (status != UV_ECANCELED)
            log_debug("control: write to a client failed: %s",
                      uv_strerror(status));
        conn_close(k);
        return;
    }
    if (uv_stream_get_write_queue_size((uv_stream_t *)&k->h) <=
        CONTROL_MAX_QUEUED / 2)
        start_reading(k);
}

/* Queue o's bytes to k; the buffer passes to the write request. */
static void conn_send(conn *k, control_out *o)
{
    wreq *w;
    uv_buf_t b;
    if (k->state == CONN_CLOSING || !o->buf) {
        free(o->buf);
        return;
    }
    if (!(w = malloc(sizeof *w))) {
        free(o->buf);
        conn_close(k);
        return;
    }
    w->buf = o->buf;
    o->buf = NULL;
    b = uv_buf_init(w->buf, (unsigned)o->len);
    if (uv_write(&w->req, (uv_stream_t *)&k->h, &b, 1, on_write) < 0) {
        free(w->buf);
        free(w);
        conn_close(k);
        return;
    }
    if (k->reading &&
        uv_stream_get_write_queue_size((uv_stream_t *)&k->h) >
            CONTROL_MAX_QUEUED) {
        uv_read_stop((uv_stream_t *)&k->h);
        k->reading = 0;
    }
}

static void reply_error(conn *k, const char *msg)
{
    control_out o = { 0 };
    control_error(&o, "%s", msg);
    control_printf(&o, "\n");
    conn_send(k, &o);
}

static void help(control *c, control_out *o)
{
    for (const control_cmd *m = c->cmds; m->name; m++) {
        control_printf(o, "{\"command\":");
        control_json_str(o, m->name);
        control_printf(o, ",\"help\":");
        control_json_str(o, m->help ? m->help : "");
        control_printf(o, "}\n");
    }
    control_printf(o, "{\"command\":\"help\",\"help\":\"list the "
                   "commands\"}\n");
}

static void finish(conn *k, control_out *o);

/* Answer one request line (NUL-terminated, no newline). */
static void dispatch(conn *k, char *line)
{
    control *c = k->ctl;
    control_out o = { .ctl = k->ctl };
    char *cmd, *args, *e;
    const control_cmd *m;
    for (cmd = line; *cmd == ' ' || *cmd == '\t'; cmd++)
        ;
    for (e = cmd + strlen(cmd);
         e > cmd && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'); e--)
        ;
    *e = '\0';
    if (!*cmd)
        return;                  /* blank lines are not requests */
    for (args = cmd; *args && *args != ' ' && *args != '\t'; args++)
        ;
    if (*args) {
        *args++ = '\0';
        while (*args == ' ' || *args == '\t')
            args++;
    }
    for (m = c->cmds; m->name && strcmp(m->name, cmd); m++)
        ;
    log_debug("control: %s%s%s", cmd, *args ? " " : "", args);
    if (m->name) {
        k->defer_slot = &o;
        if (m->fn(c->ctx, args, &o) == CONTROL_DEFER && k->later) {
            k->defer_slot = NULL;
            return;              /* answered by control_later_done */
        }
        k->defer_slot = NULL;
    } else if (!strcmp(cmd, "help"))
        help(c, &o);
    else
        control_error(&o, "unknown command '%.64s' (try help)", cmd);
    finish(k, &o);
}

/* Seal a response (limits, the empty line that ends it) and queue it. */
static void finish(conn *k, control_out *o)
{
    if (o->overflow)
        control_error(o, "response larger than %u MiB",
                      CONTROL_MAX_RESPONSE >> 20);
    if (o->oom)
        control_error(o, "out of memory");
    control_printf(o, "\n");     /* the empty line ends the response */
    conn_send(k, o);
}

/* Answer the complete lines buffered, unless a deferred command holds
 * the client; then, if the client has said EOF, drain it. */
static void process_lines(conn *k)
{
    char *nl;
    while (k->state == CONN_OPEN && !k->later &&
           (nl = memchr(k->in, '\n', k->in_len))) {
        size_t n = (size_t)(nl - k->in) + 1;
        *nl = '\0';
        dispatch(k, k->in);
        memmove(k->in, k->in + n, k->in_len - n);
        k->in_len -= n;
    }
    if (k->later || k->state != CONN_OPEN)
        return;
    if (k->eof_seen) {
        if (k->in_len && !k->skipping) {
            k->in[k->in_len] = '\0'; /* in_len < size: see on_read */
            k->in_len = 0;
            dispatch(k, k->in);
            if (k->later)
                return;
        }
        k->in_len = 0;
        conn_drain(k);
        return;
    }
    /* Keep a byte free for the NUL that an unterminated last line needs
     * at EOF: a full buffer is a line too long. It is answered with an
     * error and skipped, and the requests after it are served: closing
     * with unread input would reset the connection before the client
     * reads the error. */
    if (k->in_len >= sizeof k->in - 1) {
        reply_error(k, "request line longer than 4096 bytes");
        k->in_len = 0;
        k->skipping = 1;
    }
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    conn *k = s->data;
    char *nl;
    if (nread == UV_EOF) {
        k->eof_seen = 1;
        if (k->reading) {
            uv_read_stop((uv_stream_t *)&k->h);
            k->reading = 0;
        }
        process_lines(k);
        return;
    }
    if (nread < 0) {
        conn_close(k);
        return;
    }
    k->in_len += (size_t)nread;
    if (k->skipping) {
        /* Drop what is left of a refused line, up to its newline. */
        if (!(nl = memchr(k->in, '\n', k->in_len))) {
            k->in_len = 0;
            return;
        }
        k->skipping = 0;
        k->in_len -= (size_t)(nl + 1 - k->in);
        memmove(k->in, nl + 1, k->in_len);
    }
    process_lines(k);
    /* While a command is deferred, stop reading once the buffer fills. */
    if (k->later && k->reading && k->in_len >= sizeof k->in - 1) {
        uv_read_stop((uv_stream_t *)&k->h);
        k->reading = 0;
    }
}

control_later *control_defer(control_out *o)
{
    control_later *l;
    conn *k = NULL;
    /* Find the client whose command is running: o is its defer_slot. */
    for (control *c = o->ctl; c && !k; c = NULL)
        for (conn *x = c->conns; x; x = x->next)
            if (x->defer_slot == o) {
                k = x;
                break;
            }
    if (!k || k->later || !(l = calloc(1, sizeof *l)))
        return NULL;
    l->k = k;
    k->later = l;
    return l;
}

control_out *control_later_out(control_later *l)
{
    return &l->out;
}

int control_later_alive(const control_later *l)
{
    return l->k != NULL;
}

void control_later_done(control_later *l)
{
    conn *k = l->k;
    if (!k) {
        free(l->out.buf);
        free(l);
        return;
    }
    k->later = NULL;
    finish(k, &l->out);
    free(l);
    if (k->state == CONN_OPEN) {
        process_lines(k);
        if (!k->eof_seen)
            start_reading(k);
    }
}

static void on_connection(uv_stream_t *server, int status)
{
    control *c = server->data;
    conn *k;
    if (status < 0) {
        log_warn("control: accept failed: %s", uv_strerror(status));
        return;
    }
    if (!(k = calloc(1, sizeof *k))) {
        /* Left unaccepted, libuv stops accepting on this socket; without
         * memory there is nothing better to do than to say so. */
        log_err("control: out of memory for a client");
        return;
    }
    k->ctl = c;
    if (uv_pipe_init(c->loop, &k->h, 0) < 0) {
        free(k);
        return;
    }
    k->h.data = k;
    c->handles++;
    k->next = c->conns;
    if (c->conns)
        c->conns->prev = k;
    c->conns = k;
    c->n_conns++;
    if (uv_accept(server, (uv_stream_t *)&k->h) < 0) {
        conn_close(k);
        return;
    }
    if (c->n_conns > CONTROL_MAX_CONNS) {
        reply_error(k, "too many control clients");
        conn_drain(k);
        return;
    }
    start_reading(k);
}

/* ---- the listening socket ---------------------------------------------- */

int control_clear_stale(const char *path, char *err, size_t errlen)
{
    struct sockaddr_un sa;
    struct stat st;
    int fd, rc, e;
    if (lstat(path, &st) < 0) {
        if (errno == ENOENT)
            return 0;
        return lg_errf(err, errlen, -errno, "%s: %s", path, strerror(errno));
    }
    if (!S_ISSOCK(st.st_mode))
        return lg_errf(err, errlen, -EEXIST,
                       "%s exists and is not a socket; not removing it",
                       path);
    if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
        return lg_errf(err, errlen, -errno, "socket: %s", strerror(errno));
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    rc = connect(fd, (struct sockaddr *)&sa, sizeof sa);
    e = errno;
    close(fd);
    if (rc == 0)
        return lg_errf(err, errlen, -EADDRINUSE,
                       "%s: another lagranged is listening there", path);
    if (e != ECONNREFUSED && e != ENOENT)
        return lg_errf(err, errlen, -e, "%s: %s", path, strerror(e));
    log_info("removing stale socket %s", path);
    if (unlink(path) < 0 && errno != ENOENT)
        return lg_errf(err, errlen, -errno, "cannot remove stale %s: %s",
                       path, strerror(errno));
    return 0;
}

static void on_server_closed(uv_handle_t *h)
{
    control *c = h->data;
    c->handles--;
    maybe_free(c);
}

int control_open(uv_loop_t *loop, const char *path, const control_cmd *cmds,
                 void *ctx, control **out, char *err, size_t errlen)
{
    control *c;
    mode_t old;
    int rc;
    *out = NULL;
    if (strlen(path) >= sizeof ((struct sockaddr_un *)0)->sun_path)
        return lg_errf(err, errlen, -ENAMETOOLONG,
                       "%s: too long for a unix socket", path);
    if ((rc = lg_mkdir_parents(path, err, errlen)) < 0 ||
        (rc = control_clear_stale(path, err, errlen)) < 0)
        return rc;
    if (!(c = calloc(1, sizeof *c)) || !(c->path = strdup(path))) {
        free(c);
        return lg_errf(err, errlen, -ENOMEM, "out of memory");
    }
    c->loop = loop;
    c->cmds = cmds;
    c->ctx = ctx;
    if ((rc = uv_pipe_init(loop, &c->server, 0)) < 0) {
        free(c->path);
        free(c);
        return lg_errf(err, errlen, rc, "%s: %s", path, uv_strerror(rc));
    }
    c->server.data = c;
    c->handles = 1;
    /* 0660: the owner and its group may control the daemon. umask is
     * per process, but nothing else runs yet. */
    old = umask(0117);
    rc = uv_pipe_bind(&c->server, path);
    umask(old);
    if (rc == 0) {
        c->bound = 1;
        rc = uv_listen((uv_stream_t *)&c->server, 16, on_connection);
    }
    if (rc < 0) {
        lg_errf(err, errlen, rc, "%s: %s", path, uv_strerror(rc));
        control_close(c);        /* frees c once the loop runs */
        return rc;
    }
    *out = c;
    return 0;
}

void control_close(control *c)
{
    if (!c || c->closing)
        return;
    c->closing = 1;
    while (c->conns)
        conn_close(c->conns);
    if (c->bound && unlink(c->path) < 0 && errno != ENOENT)
        log_warn("control: cannot remove %s: %s", c->path, strerror(errno));
    uv_close((uv_handle_t *)&c->server, on_server_closed);
}

int control_clients(const control *c)
{
    return c->n_conns;
}
