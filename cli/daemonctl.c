/*
 * daemonctl.c - `lagrange status` and `lagrange links`: ask the local
 * lagranged over its control socket (lagranged(8), CONTROL SOCKET) and
 * print a table, or JSON with --json.
 *
 * The socket speaks one request line per command and answers JSON lines
 * ended by an empty line, and closes the connection after our EOF once
 * it has answered. The daemon writes flat objects (no nesting), so
 * a small bounded reader of flat JSON objects is all the table needs;
 * --json passes the daemon's objects through unchanged. This goes when
 * the CLI speaks gRPC to the daemon (DESIGN.md, "API").
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

#define CTL_DEFAULT_SOCKET "/run/lagrange/lagranged.sock"
#define CTL_MAX_REPLY (17u << 20) /* the daemon's 16 MiB answer + slack */
#define CTL_TIMEOUT_S 30          /* a daemon that says nothing by then */
#define JF_MAX 64                 /* fields in one object */

/* ---- the socket ---------------------------------------------------------- */

/* Send cmd, read the answer up to the empty line that ends it. On success
 * *reply holds the answer's lines (NUL-terminated, without the empty
 * line). Prints its own errors; returns an exit code. */
static int ctl_ask(const char *verb, const char *path, const char *cmd,
                   char **reply)
{
    struct sockaddr_un sa;
    struct timeval tv = { CTL_TIMEOUT_S, 0 };
    size_t len = 0, cap = 0, n = strlen(cmd);
    char *buf = NULL;
    int fd;

    *reply = NULL;
    if (strlen(path) >= sizeof sa.sun_path) {
        cli_err(verb, "socket path too long: %s", path);
        return EXIT_USAGE;
    }
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, path, strlen(path) + 1);
    if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
        cli_err(verb, "socket: %s", strerror(errno));
        return EXIT_FAIL;
    }
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        int e = errno;
        close(fd);
        cli_err(verb, "cannot reach lagranged at %s: %s%s", path,
                strerror(e),
                e == ENOENT || e == ECONNREFUSED
                    ? " (is lagranged running? --socket names another "
                      "socket)"
                    : "");
        return EXIT_FAIL;
    }
    if (send(fd, cmd, n, MSG_NOSIGNAL) != (ssize_t)n ||
        send(fd, "\n", 1, MSG_NOSIGNAL) != 1) {
        cli_err(verb, "writing to %s: %s", path, strerror(errno));
        close(fd);
        return EXIT_FAIL;
    }
    shutdown(fd, SHUT_WR);
    for (;;) {
        ssize_t r;
        if (len + 4097 > cap) {
            char *nb;
            cap = cap ? 2 * cap : 65536;
            if (cap > CTL_MAX_REPLY + 4097)
                cap = CTL_MAX_REPLY + 4097;
            if (len + 4097 > cap || !(nb = realloc(buf, cap))) {
                cli_err(verb, "answer from %s too large", path);
                goto fail;
            }
            buf = nb;
        }
        r = recv(fd, buf + len, cap - len - 1, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            cli_err(verb, "reading from %s: %s", path,
                    errno == EAGAIN ? "no answer (timed out)"
                                    : strerror(errno));
            goto fail;
        }
        if (r == 0)
            break;
        len += (size_t)r;
    }
    close(fd);
    /* The daemon closes after answering, since we sent EOF: the answer
     * is complete if it ends with the empty line. */
    if (!buf || !(len == 1 ? buf[0] == '\n'
                           : len >= 2 && buf[len - 1] == '\n' &&
                                 buf[len - 2] == '\n')) {
        cli_err(verb, "lagranged at %s closed the connection mid-answer",
                path);
        free(buf);
        return EXIT_FAIL;
    }
    buf[len - 1] = '\0';        /* drop the empty line */
    *reply = buf;
    return EXIT_OK;
fail:
    close(fd);
    free(buf);
    return EXIT_FAIL;
}

/* ---- flat JSON objects ----------------------------------------------------- */

enum jtype { J_NULL = 0, J_BOOL, J_NUM, J_STR };

typedef struct jfield {
    char key[64];
    enum jtype type;
    double num;                  /* J_NUM, J_BOOL (0 / 1) */
    char str[512];               /* J_STR, truncated */
} jfield;

typedef struct jobj {
    jfield f[JF_MAX];
    int n;
} jobj;

static const char *ws(const char *p)
{
    while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
        p++;
    return p;
}

/* A JSON string at p (after the quote) into out; returns the character
 * after the closing quote, or NULL. \u escapes outside ASCII become '?':
 * the daemon only sends ASCII names and paths. */
static const char *jstr(const char *p, char *out, size_t len)
{
    size_t n = 0;
    for (; *p && *p != '"'; p++) {
        char c = *p;
        if (c == '\\') {
            p++;
            switch (*p) {
            case 'n': c = '\n'; break;
            case 't': c = '\t'; break;
            case 'r': c = '\r'; break;
            case 'b': c = '\b'; break;
            case 'f': c = '\f'; break;
            case 'u': {
                unsigned v = 0;
                for (int i = 1; i <= 4; i++) {
                    char h = p[i];
                    if (!((h >= '0' && h <= '9') || (h >= 'a' && h <= 'f') ||
                          (h >= 'A' && h <= 'F')))
                        return NULL;
                    v = v * 16 + (unsigned)(h <= '9' ? h - '0'
                                                     : (h | 0x20) - 'a' + 10);
                }
                p += 4;
                c = v >= 0x20 && v < 0x7f ? (char)v : '?';
                break;
            }
            case '"': case '\\': case '/': c = *p; break;
            default: return NULL;
            }
        }
        if (n + 1 < len)
            out[n++] = c;
    }
    if (*p != '"')
        return NULL;
    out[n] = '\0';
    return p + 1;
}

/* Parse one flat object; 0 or -1. */
static int jparse(const char *s, jobj *o)
{
    const char *p = ws(s);
    o->n = 0;
    if (*p++ != '{')
        return -1;
    p = ws(p);
    if (*p == '}')
        return *ws(p + 1) ? -1 : 0;
    for (;;) {
        jfield *f;
        if (o->n == JF_MAX || *p != '"')
            return -1;
        f = &o->f[o->n++];
        memset(f, 0, sizeof *f);
        if (!(p = jstr(p + 1, f->key, sizeof f->key)))
            return -1;
        p = ws(p);
        if (*p++ != ':')
            return -1;
        p = ws(p);
        if (*p == '"') {
            f->type = J_STR;
            if (!(p = jstr(p + 1, f->str, sizeof f->str)))
                return -1;
        } else if (!strncmp(p, "true", 4) || !strncmp(p, "false", 5)) {
            f->type = J_BOOL;
            f->num = *p == 't';
            p += *p == 't' ? 4 : 5;
        } else if (!strncmp(p, "null", 4)) {
            f->type = J_NULL;
            p += 4;
        } else {
            char *e;
            f->type = J_NUM;
            f->num = strtod(p, &e);
            if (e == p)
                return -1;
            p = e;
        }
        p = ws(p);
        if (*p == '}')
            return *ws(p + 1) ? -1 : 0;
        if (*p++ != ',')
            return -1;
        p = ws(p);
    }
}

static const jfield *jget(const jobj *o, const char *key)
{
    for (int i = 0; i < o->n; i++)
        if (!strcmp(o->f[i].key, key))
            return &o->f[i];
    return NULL;
}

static const char *jstr_of(const jobj *o, const char *key, const char *dflt)
{
    const jfield *f = jget(o, key);
    return f && f->type == J_STR ? f->str : dflt;
}

static double jnum_of(const jobj *o, const char *key)
{
    const jfield *f = jget(o, key);
    return f && (f->type == J_NUM || f->type == J_BOOL) ? f->num : NAN;
}

/* Next line of a reply (modified in place), or NULL. */
static char *next_line(char **p)
{
    char *s = *p, *nl;
    if (!s || !*s)
        return NULL;
    if ((nl = strchr(s, '\n'))) {
        *nl = '\0';
        *p = nl + 1;
    } else {
        *p = s + strlen(s);
    }
    return s;
}

/* An {"error":...} answer: print it, return EXIT_FAIL; else EXIT_OK. */
static int daemon_error(const char *verb, const char *reply)
{
    jobj o;
    const char *e;
    if (strncmp(reply, "{\"error\":", 9) || jparse(reply, &o) < 0 ||
        !(e = jstr_of(&o, "error", NULL)))
        return EXIT_OK;
    cli_err(verb, "lagranged: %s", e);
    return EXIT_FAIL;
}

/* ---- formatting ------------------------------------------------------------ */

static const char *fmt_rate(double bits, char *buf, size_t len)
{
    static const char *sfx[] = { "", "k", "M", "G", "T", "P" };
    int u = 0;
    if (!isfinite(bits)) {
        snprintf(buf, len, "-");
        return buf;
    }
    while (bits >= 1000 && u < 5) {
        bits /= 1000;
        u++;
    }
    snprintf(buf, len, "%.4g %sbit/s", bits, sfx[u]);
    return buf;
}

/* A duration without the sign cli_dt writes ("4ms", "1.28s"). */
static const char *fmt_abs(double s, char *buf, size_t len)
{
    if (!isfinite(s)) {
        snprintf(buf, len, "-");
        return buf;
    }
    cli_dt(s, buf, len);
    if (buf[0] == '+')
        memmove(buf, buf + 1, strlen(buf));
    return buf;
}

static const char *fmt_rel(double s, char *buf, size_t len)
{
    if (!isfinite(s))
        snprintf(buf, len, "-");
    else
        cli_dt(s, buf, len);
    return buf;
}

static const char *sock_default(void)
{
    const char *s = getenv("LAGRANGE_SOCKET");
    return s && *s ? s : CTL_DEFAULT_SOCKET;
}

/* ---- lagrange links ----------------------------------------------------- */

static void links_help(FILE *f)
{
    fprintf(f,
"usage: lagrange links [--socket PATH] [--json]\n\n"
"Ask the local lagranged for the links leaving its node: for each, the\n"
"contact window open now or the next one (relative to now: OPENS is\n"
"negative while the window is open), the rate and the one-way delay of\n"
"that window, and the neighbour's configured address.\n\n"
"  --socket PATH  the daemon's control socket (default $LAGRANGE_SOCKET,\n"
"                 else " CTL_DEFAULT_SOCKET ")\n"
"  --json         print a JSON array of the daemon's link objects\n\n"
"WINDOW is 'always', 'open', 'waiting' (the next one is ahead) or 'none'\n"
"(no window left before the topology's horizon).\n"
"Exit status: 0 ok, 1 lagranged not reachable or it refused, 2 usage.\n");
}

static int parse_common(int argc, char **argv, const char *verb,
                        void (*help)(FILE *), const char **sock, int *json)
{
    static const struct option opts[] = {
        { "socket", required_argument, 0, 's' },
        { "json", no_argument, 0, 'j' },
        { "help", no_argument, 0, 'h' },
        { 0, 0, 0, 0 },
    };
    int c;
    *sock = sock_default();
    *json = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "s:jh", opts, NULL)) != -1) {
        switch (c) {
        case 's': *sock = optarg; break;
        case 'j': *json = 1; break;
        case 'h': help(stdout); return -1;
        default: help(stderr); return EXIT_USAGE;
        }
    }
    if (optind != argc) {
        cli_err(verb, "unexpected argument '%s'", argv[optind]);
        help(stderr);
        return EXIT_USAGE;
    }
    return EXIT_OK;
}

static int flush_out(const char *verb)
{
    if (fflush(stdout) != 0 || ferror(stdout)) {
        cli_err(verb, "write error on standard output");
        return EXIT_FAIL;
    }
    return EXIT_OK;
}

int cmd_links(int argc, char **argv)
{
    const char *sock;
    char *reply, *p, *line;
    int json, ex, n = 0;

    if ((ex = parse_common(argc, argv, "links", links_help, &sock, &json)))
        return ex < 0 ? EXIT_OK : ex;
    if ((ex = ctl_ask("links", sock, "links", &reply)) != EXIT_OK)
        return ex;
    if ((ex = daemon_error("links", reply)) != EXIT_OK) {
        free(reply);
        return ex;
    }
    p = reply;
    if (json) {
        printf("[");
        while ((line = next_line(&p)))
            printf("%s%s", n++ ? ",\n" : "\n", line);
        printf("%s]\n", n ? "\n" : "");
    } else {
        printf("%-32s %-8s %14s %14s %16s %10s  %s\n", "LINK", "WINDOW",
               "OPENS", "CLOSES", "RATE", "DELAY", "PEER");
        while ((line = next_line(&p))) {
            jobj o;
            char a[64], b[64], c[64], d[64];
            if (jparse(line, &o) < 0) {
                cli_err("links", "lagranged sent a line that is not a flat "
                        "JSON object: %.80s", line);
                ex = EXIT_FAIL;
                break;
            }
            printf("%-32s %-8s %14s %14s %16s %10s  %s\n",
                   jstr_of(&o, "link", "?"), jstr_of(&o, "window", "?"),
                   fmt_rel(jnum_of(&o, "opens_in_s"), a, sizeof a),
                   fmt_rel(jnum_of(&o, "closes_in_s"), b, sizeof b),
                   fmt_rate(jnum_of(&o, "rate_bit_s"), c, sizeof c),
                   fmt_abs(jnum_of(&o, "delay_s"), d, sizeof d),
                   jstr_of(&o, "peer", "-"));
        }
    }
    free(reply);
    return ex != EXIT_OK ? ex : flush_out("links");
}

/* ---- lagrange status ------------------------------------------------------- */

static void status_help(FILE *f)
{
    fprintf(f,
"usage: lagrange status [--socket PATH] [--json]\n\n"
"Ask the local lagranged who it is and how it runs: node, pid, uptime,\n"
"configuration and topology files, topology size and time, peers.\n\n"
"  --socket PATH  the daemon's control socket (default $LAGRANGE_SOCKET,\n"
"                 else " CTL_DEFAULT_SOCKET ")\n"
"  --json         print the daemon's JSON object\n\n"
"Exit status: 0 ok, 1 lagranged not reachable or it refused, 2 usage.\n");
}

static const char *fmt_unix(double u, char *buf, size_t len)
{
    time_t t = (time_t)u;
    struct tm tm;
    if (!isfinite(u) || !gmtime_r(&t, &tm))
        snprintf(buf, len, "-");
    else
        strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

int cmd_status(int argc, char **argv)
{
    const char *sock;
    char *reply, *p, *line, a[64], b[64], c[64];
    jobj o;
    int json, ex;

    if ((ex = parse_common(argc, argv, "status", status_help, &sock, &json)))
        return ex < 0 ? EXIT_OK : ex;
    if ((ex = ctl_ask("status", sock, "status", &reply)) != EXIT_OK)
        return ex;
    if ((ex = daemon_error("status", reply)) != EXIT_OK) {
        free(reply);
        return ex;
    }
    p = reply;
    if (!(line = next_line(&p)) || jparse(line, &o) < 0) {
        cli_err("status", "lagranged sent no status object");
        free(reply);
        return EXIT_FAIL;
    }
    if (json) {
        printf("%s\n", line);
    } else {
        printf("%-15s %s\n", "node", jstr_of(&o, "node", "?"));
        printf("%-15s %s\n", "state", jstr_of(&o, "state", "?"));
        printf("%-15s %.0f\n", "pid", jnum_of(&o, "pid"));
        printf("%-15s %s\n", "version", jstr_of(&o, "version", "?"));
        printf("%-15s %s (since %s)\n", "uptime",
               fmt_abs(jnum_of(&o, "uptime_s"), a, sizeof a),
               fmt_unix(jnum_of(&o, "started_unix"), b, sizeof b));
        printf("%-15s %s\n", "config", jstr_of(&o, "config", "?"));
        printf("%-15s %s (%.0f nodes, %.0f links; %.0f leaving this node, "
               "%.0f arriving)\n", "topology", jstr_of(&o, "topology", "?"),
               jnum_of(&o, "nodes"), jnum_of(&o, "links"),
               jnum_of(&o, "out_links"), jnum_of(&o, "in_links"));
        printf("%-15s %s after the epoch (%s), horizon %s\n", "topology time",
               fmt_rel(jnum_of(&o, "topology_time_s"), a, sizeof a),
               isfinite(jnum_of(&o, "epoch_unix"))
                   ? fmt_unix(jnum_of(&o, "epoch_unix"), b, sizeof b)
                   : "daemon start",
               fmt_abs(jnum_of(&o, "horizon_s"), c, sizeof c));
        printf("%-15s %.0f\n", "peers", jnum_of(&o, "peers"));
        printf("%-15s %s\n", "listen", jstr_of(&o, "listen", "?"));
        printf("%-15s %s\n", "emulate",
               jnum_of(&o, "emulate") == 1 ? "yes" : "no");
        printf("%-15s %s\n", "log level", jstr_of(&o, "log_level", "?"));
        printf("%-15s %.0f (topology %.0f)\n", "reloads",
               jnum_of(&o, "reloads"), jnum_of(&o, "topology_reloads"));
        printf("%-15s %s\n", "control socket",
               jstr_of(&o, "control_socket", "?"));
    }
    free(reply);
    return flush_out("status");
}
