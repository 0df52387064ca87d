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
#include <ctype.h>
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
#include "table.h"
#include "units.h"

/* lagranged's ControlSocket default outside systemd (DCONF_DEF_CONTROL_SOCKET;
 * tests/test_sockact.sh checks they agree). $RUNTIME_DIRECTORY is not
 * looked at: in a client it names the calling unit's own directory, not
 * lagranged's; $LAGRANGE_SOCKET or --socket say where else to look. */
#define CTL_DEFAULT_SOCKET "/run/lagrange/lagranged.sock"
#define CTL_MAX_REPLY (17u << 20) /* the daemon's 16 MiB answer + slack */
#define CTL_TIMEOUT_S 30          /* a daemon that says nothing by then */
#define JF_MAX 64                 /* fields in one object */

/* ---- the socket ---------------------------------------------------------- */

/* Send cmd, read the answer up to the empty line that ends it. On success
 * *reply holds the answer's lines (NUL-terminated, without the empty
 * line). Prints its own errors; returns an exit code. */
static int ctl_ask_t(const char *verb, const char *path, const char *cmd,
                     char **reply, int timeout_s)
{
    struct sockaddr_un sa;
    struct timeval tv = { timeout_s, 0 };
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

static int ctl_ask(const char *verb, const char *path, const char *cmd,
                   char **reply)
{
    return ctl_ask_t(verb, path, cmd, reply, CTL_TIMEOUT_S);
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

static const char *fmt_bytes(double b, char *buf, size_t len)
{
    static const char *sfx[] = { "B", "KiB", "MiB", "GiB", "TiB" };
    int u = 0;
    if (!isfinite(b)) {
        snprintf(buf, len, "-");
        return buf;
    }
    while (b >= 1024 && u < 4) {
        b /= 1024;
        u++;
    }
    snprintf(buf, len, u ? "%.1f%s" : "%.0f%s", b, sfx[u]);
    return buf;
}

/* ---- lagrange links ----------------------------------------------------- */

static void links_help(FILE *f)
{
    fprintf(f,
"usage: lagrange links [--socket PATH] [--json | --parsable] [-o COLS]\n"
"                      [--noheader]\n\n"
"Ask the local lagranged about its node's links, one per neighbour: the\n"
"session's STATE (up, connecting, retrying, waiting for the neighbour to\n"
"dial, down(admin)), the contact window open now or the next one\n"
"(relative to now: OPENS is negative while the window is open), the rate\n"
"and one-way delay of that window, the bundles sent and not yet acked\n"
"(INFLIGHT), the bytes sent and received, and the neighbour's configured\n"
"address. The JSON has more: bundles, acks, resends, errors.\n\n"
"  --socket PATH  the daemon's control socket (default $LAGRANGE_SOCKET,\n"
"                 else " CTL_DEFAULT_SOCKET ")\n"
"  --json         print a JSON array of the daemon's link objects (with\n"
"                 -o: of those columns only)\n"
"  --parsable     fields separated by '|', a header line first\n"
"  --noheader     no header line\n"
"  -o, --format COLS  comma-separated columns: link, state, window, opens,\n"
"                 closes, rate, delay, inflight, tx, rx, peer\n\n"
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

static const table_col link_cols[] = {
    { "link", "LINK", 0, 0 },
    { "state", "STATE", 0, 0 },
    { "window", "WINDOW", 0, 0 },
    { "opens", "OPENS", TABLE_RIGHT, 0 },
    { "closes", "CLOSES", TABLE_RIGHT, 0 },
    { "rate", "RATE", TABLE_RIGHT, 0 },
    { "delay", "DELAY", TABLE_RIGHT, 0 },
    { "inflight", "INFLIGHT", TABLE_RIGHT, 0 },
    { "tx", "TX", TABLE_RIGHT, 0 },
    { "rx", "RX", TABLE_RIGHT, 0 },
    { "peer", "PEER", 0, 0 },
};
#define LINK_COLS ((int)(sizeof link_cols / sizeof link_cols[0]))

int cmd_links(int argc, char **argv)
{
    static const struct option opts[] = {
        { "socket", required_argument, 0, 's' },
        { "help", no_argument, 0, 'h' },
        TABLE_LONG_OPTIONS,
        { 0, 0, 0, 0 },
    };
    const char *sock = sock_default();
    char *reply, *p, *line, err[512];
    table_opts to = { TABLE_TEXT, 0, NULL };
    table *t = NULL;
    int c, ex, n = 0;

    optind = 1;
    while ((c = getopt_long(argc, argv, "s:ho:", opts, NULL)) != -1) {
        if (table_opt(&to, c, optarg))
            continue;
        switch (c) {
        case 's': sock = optarg; break;
        case 'h': links_help(stdout); return EXIT_OK;
        default: links_help(stderr); return EXIT_USAGE;
        }
    }
    if (optind != argc) {
        cli_err("links", "unexpected argument '%s'", argv[optind]);
        links_help(stderr);
        return EXIT_USAGE;
    }
    if ((to.mode != TABLE_JSON || to.format) &&
        table_new(&t, link_cols, LINK_COLS, &to, err, sizeof err) < 0) {
        cli_err("links", "-o: %s", err);
        return EXIT_USAGE;
    }
    if ((ex = ctl_ask("links", sock, "links", &reply)) != EXIT_OK ||
        (ex = daemon_error("links", reply)) != EXIT_OK) {
        if (ex != EXIT_OK && reply)
            free(reply);
        table_free(t);
        return ex;
    }
    p = reply;
    if (!t) {                    /* --json alone: the daemon's objects */
        printf("[");
        while ((line = next_line(&p)))
            printf("%s%s", n++ ? ",\n" : "\n", line);
        printf("%s]\n", n ? "\n" : "");
    } else {
        while ((line = next_line(&p))) {
            jobj o;
            char a[64];
            if (jparse(line, &o) < 0) {
                cli_err("links", "lagranged sent a line that is not a flat "
                        "JSON object: %.80s", line);
                ex = EXIT_FAIL;
                break;
            }
            table_row(t);
            table_set(t, 0, jstr_of(&o, "link", "?"), NULL);
            table_set(t, 1, jstr_of(&o, "state", "?"), NULL);
            table_set(t, 2, jstr_of(&o, "window", "?"), NULL);
            table_num(t, 3, fmt_rel(jnum_of(&o, "opens_in_s"), a, sizeof a),
                      jnum_of(&o, "opens_in_s"));
            table_num(t, 4, fmt_rel(jnum_of(&o, "closes_in_s"), a, sizeof a),
                      jnum_of(&o, "closes_in_s"));
            table_num(t, 5, fmt_rate(jnum_of(&o, "rate_bit_s"), a, sizeof a),
                      jnum_of(&o, "rate_bit_s"));
            table_num(t, 6, fmt_abs(jnum_of(&o, "delay_s"), a, sizeof a),
                      jnum_of(&o, "delay_s"));
            table_num(t, 7, NULL, jnum_of(&o, "in_flight"));
            table_num(t, 8, fmt_bytes(jnum_of(&o, "tx_bytes"), a, sizeof a),
                      jnum_of(&o, "tx_bytes"));
            table_num(t, 9, fmt_bytes(jnum_of(&o, "rx_bytes"), a, sizeof a),
                      jnum_of(&o, "rx_bytes"));
            table_set(t, 10, jstr_of(&o, "peer", "-"), NULL);
        }
        if (ex == EXIT_OK && table_print(t, stdout) < 0)
            ex = EXIT_FAIL;
        table_free(t);
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

/* ---- lagrange ping / link / send / spool --------------------------------- */

static void ping_help(FILE *f)
{
    fprintf(f,
"usage: lagrange ping NODE [-c COUNT] [--timeout DURATION] [--socket PATH]\n"
"                     [--json]\n\n"
"Measure the round trip of a bundle from the local node to NODE and back:\n"
"a control bundle goes hop by hop along the route, with custody at every\n"
"hop (each hop stores it durably before acking), and NODE answers with\n"
"another. The time includes every link's emulated delay and rate, every\n"
"wait for a contact window, and every spool write on the way.\n\n"
"  -c, --count N        pings, one after the other (default 1)\n"
"  -t, --timeout D      give up on a ping after D (default 30s)\n"
"  --socket PATH        the daemon's control socket\n"
"  --json               one JSON object per ping\n\n"
"Exit status: 0 every ping answered, 1 a ping got no answer or lagranged\n"
"is not reachable, 2 usage.\n");
}

int cmd_ping(int argc, char **argv)
{
    static const struct option opts[] = {
        { "count", required_argument, 0, 'c' },
        { "timeout", required_argument, 0, 't' },
        { "socket", required_argument, 0, 's' },
        { "json", no_argument, 0, 'j' },
        { "help", no_argument, 0, 'h' },
        { 0, 0, 0, 0 },
    };
    const char *sock = sock_default();
    double timeout = 30;
    long count = 1;
    int c, json = 0, ex = EXIT_OK, lost = 0;
    char *e;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:t:s:jh", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            count = strtol(optarg, &e, 10);
            if (*e || count < 1 || count > 100000) {
                cli_err("ping", "--count wants 1..100000, got '%s'", optarg);
                return EXIT_USAGE;
            }
            break;
        case 't':
            if (lg_units_parse(optarg, lg_units_dur, 0, &timeout) < 0 ||
                !(timeout > 0) || timeout > 86400) {
                cli_err("ping", "--timeout wants a duration up to 1d, got "
                        "'%s'", optarg);
                return EXIT_USAGE;
            }
            break;
        case 's': sock = optarg; break;
        case 'j': json = 1; break;
        case 'h': ping_help(stdout); return EXIT_OK;
        default: ping_help(stderr); return EXIT_USAGE;
        }
    }
    if (optind + 1 != argc) {
        cli_err("ping", optind == argc ? "which node?"
                                       : "one node at a time");
        ping_help(stderr);
        return EXIT_USAGE;
    }
    for (long i = 0; i < count; i++) {
        char cmd[256], *reply, *p, *line;
        jobj o;
        snprintf(cmd, sizeof cmd, "ping %.63s %.3f", argv[optind], timeout);
        if ((ex = ctl_ask_t("ping", sock, cmd, &reply,
                            (int)timeout + 10)) != EXIT_OK)
            return ex;
        p = reply;
        if (!strncmp(reply, "{\"error\":", 9)) {
            jparse(reply, &o);
            if (strstr(jstr_of(&o, "error", ""), "no answer")) {
                lost++;
                if (json)
                    printf("{\"node\":\"%s\",\"rtt_s\":null}\n",
                           argv[optind]);
                else
                    printf("%s: %s\n", argv[optind],
                           jstr_of(&o, "error", "?"));
                free(reply);
                continue;
            }
            ex = daemon_error("ping", reply);
            free(reply);
            return ex;
        }
        if (!(line = next_line(&p)) || jparse(line, &o) < 0) {
            cli_err("ping", "lagranged sent no answer object");
            free(reply);
            return EXIT_FAIL;
        }
        if (json)
            printf("%s\n", line);
        else
            printf("bundle round trip to %s: %.3f ms\n",
                   jstr_of(&o, "node", "?"), jnum_of(&o, "rtt_s") * 1e3);
        fflush(stdout);
        free(reply);
    }
    if (lost)
        cli_err("ping", "%d of %ld pings unanswered", lost, count);
    ex = flush_out("ping");
    return lost ? EXIT_FAIL : ex;
}

static void link_help(FILE *f)
{
    fprintf(f,
"usage: lagrange link up|down PEER [--socket PATH]\n\n"
"Take the link to neighbour PEER down, as an outage would (the session\n"
"closes, bundles for it wait in the spool, routes avoid it), or bring it\n"
"back up (lagranged dials again at once). For drills and tests; the\n"
"state is not kept across a restart.\n\n"
"Exit status: 0 ok, 1 lagranged refused or is not reachable, 2 usage.\n");
}

int cmd_link(int argc, char **argv)
{
    const char *sock;
    char cmd[256], *reply;
    int json, ex;
    if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        link_help(stdout);
        return EXIT_OK;
    }
    if (argc < 3 || (strcmp(argv[1], "up") && strcmp(argv[1], "down"))) {
        link_help(stderr);
        return EXIT_USAGE;
    }
    snprintf(cmd, sizeof cmd, "link %s %.63s", argv[1], argv[2]);
    if ((ex = parse_common(argc - 2, argv + 2, "link", link_help, &sock,
                           &json)))
        return ex < 0 ? EXIT_OK : ex;
    if ((ex = ctl_ask("link", sock, cmd, &reply)) != EXIT_OK)
        return ex;
    ex = daemon_error("link", reply);
    if (ex == EXIT_OK && json)
        printf("%s", reply);
    free(reply);
    return ex != EXIT_OK ? ex : flush_out("link");
}

static void fault_help(FILE *f)
{
    fprintf(f,
"usage: lagrange fault exec_checksum|ecc|upset [N] [--socket PATH] [--json]\n\n"
"Count N (default 1, at most 1000000) hardware faults of a kind in this\n"
"node's health record: exec_checksum (an executor result failed its\n"
"check) or ecc (a memory error or upset). upset counts as ecc and also\n"
"does the damage: the next N tensors this node sends for distributed\n"
"jobs leave with their first 16 bytes zeroed, so that the receivers'\n"
"checks can be drilled. The counters go out with the\n"
"next heartbeats, every node logs a node.fault line for them, and\n"
"`lagrange nodes` shows them under FAULTS. The hook a hardware monitor\n"
"calls (the control command \"fault\"); for drills and tests. The\n"
"counts start at 0 when lagranged starts.\n\n"
"Exit status: 0 ok, 1 lagranged refused or is not reachable, 2 usage.\n");
}

int cmd_fault(int argc, char **argv)
{
    const char *sock, *count = "1";
    char cmd[128], *reply;
    int json, ex, k = 1;
    if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        fault_help(stdout);
        return EXIT_OK;
    }
    if (argc < 2 || (strcmp(argv[1], "exec_checksum") &&
                     strcmp(argv[1], "ecc") && strcmp(argv[1], "upset"))) {
        if (argc >= 2)
            cli_err("fault", "unknown fault kind '%s' (exec_checksum, ecc "
                    "or upset)", argv[1]);
        fault_help(stderr);
        return EXIT_USAGE;
    }
    if (argc >= 3 && argv[2][0] != '-') {
        char *end;
        unsigned long long n = strtoull(argv[2], &end, 10);
        if (!isdigit((unsigned char)argv[2][0]) || *end || n < 1 ||
            n > 1000000) {
            cli_err("fault", "N must be a whole number 1..1000000, got "
                    "'%s'", argv[2]);
            return EXIT_USAGE;
        }
        count = argv[2];
        k = 2;
    }
    snprintf(cmd, sizeof cmd, "fault %s %.16s", argv[1], count);
    if ((ex = parse_common(argc - k, argv + k, "fault", fault_help, &sock,
                           &json)))
        return ex < 0 ? EXIT_OK : ex;
    if ((ex = ctl_ask("fault", sock, cmd, &reply)) != EXIT_OK)
        return ex;
    ex = daemon_error("fault", reply);
    if (ex == EXIT_OK && json)
        printf("%s", reply);
    free(reply);
    return ex != EXIT_OK ? ex : flush_out("fault");
}

static void send_help(FILE *f)
{
    fprintf(f,
"usage: lagrange send NODE FILE [--priority 0-7] [--lifetime DURATION]\n"
"                     [--name NAME] [--socket PATH] [--json]\n\n"
"Hand FILE (at most 1 GiB; a tensor as .npy, or any bytes) to the local\n"
"lagranged for delivery into NODE's inbox (InboxDir, lagranged.conf(5)).\n"
"It is cut into ChunkSize bundles, stored durably here before this\n"
"command returns, and forwarded hop by hop with custody; at NODE it is\n"
"reassembled, checked against its SHA-256 and delivered exactly once.\n"
"Prints the object id that names the delivered file.\n\n"
"  -p, --priority P   0..7, higher first (default 3)\n"
"  -l, --lifetime D   dropped, with a log line, if not delivered by then\n"
"                     (default 1d)\n"
"  -n, --name NAME    a label for the inbox journal (default: FILE's name)\n\n"
"Exit status: 0 stored for sending, 1 refused (spool full: retry later)\n"
"or lagranged not reachable, 2 usage.\n");
}

int cmd_send(int argc, char **argv)
{
    static const struct option opts[] = {
        { "priority", required_argument, 0, 'p' },
        { "lifetime", required_argument, 0, 'l' },
        { "name", required_argument, 0, 'n' },
        { "socket", required_argument, 0, 's' },
        { "json", no_argument, 0, 'j' },
        { "help", no_argument, 0, 'h' },
        { 0, 0, 0, 0 },
    };
    const char *sock = sock_default(), *name = NULL;
    char cmd[4600], *reply, *p, *line, *abs_path, *e;
    double life = 86400;
    long prio = 3;
    int c, json = 0, ex;
    jobj o;
    optind = 1;
    while ((c = getopt_long(argc, argv, "p:l:n:s:jh", opts, NULL)) != -1) {
        switch (c) {
        case 'p':
            prio = strtol(optarg, &e, 10);
            if (*e || prio < 0 || prio > 7) {
                cli_err("send", "--priority wants 0..7, got '%s'", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'l':
            if (lg_units_parse(optarg, lg_units_dur, 0, &life) < 0 ||
                !(life > 0)) {
                cli_err("send", "--lifetime wants a duration, got '%s'",
                        optarg);
                return EXIT_USAGE;
            }
            break;
        case 'n': name = optarg; break;
        case 's': sock = optarg; break;
        case 'j': json = 1; break;
        case 'h': send_help(stdout); return EXIT_OK;
        default: send_help(stderr); return EXIT_USAGE;
        }
    }
    if (optind + 2 != argc) {
        cli_err("send", "want NODE FILE");
        send_help(stderr);
        return EXIT_USAGE;
    }
    if (!(abs_path = realpath(argv[optind + 1], NULL))) {
        cli_err("send", "%s: %s", argv[optind + 1], strerror(errno));
        return EXIT_FAIL;
    }
    if (!name) {
        name = strrchr(abs_path, '/') + 1;
    }
    for (const char *q = name; *q; q++)
        if (*q == ' ' || *q == '\t' || (unsigned char)*q < 0x20) {
            cli_err("send", "--name must not contain spaces or control "
                    "characters");
            free(abs_path);
            return EXIT_USAGE;
        }
    if (strchr(abs_path, ' ') || strlen(abs_path) > 4000) {
        cli_err("send", "%s: paths with spaces are not supported", abs_path);
        free(abs_path);
        return EXIT_USAGE;
    }
    snprintf(cmd, sizeof cmd, "send %.63s %ld %.3f %s %.255s",
             argv[optind], prio, life, abs_path, name);
    free(abs_path);
    if ((ex = ctl_ask_t("send", sock, cmd, &reply, 600)) != EXIT_OK)
        return ex;
    if ((ex = daemon_error("send", reply)) != EXIT_OK) {
        free(reply);
        return ex;
    }
    p = reply;
    if (!(line = next_line(&p)) || jparse(line, &o) < 0) {
        cli_err("send", "lagranged sent no answer object");
        free(reply);
        return EXIT_FAIL;
    }
    if (json)
        printf("%s\n", line);
    else
        printf("%s\n", jstr_of(&o, "object", "?"));
    free(reply);
    return flush_out("send");
}

static void spool_help(FILE *f)
{
    fprintf(f,
"usage: lagrange spool [--job JOB] [--socket PATH] [--json]\n\n"
"The local lagranged's spool and delivery counters: bundles held in\n"
"custody, bytes, in flight, quarantined entries, objects delivered here,\n"
"bundles made here, forwarded, expired and refused, and bundles dropped\n"
"because their job ended.\n\n"
"  --job JOB   also count the bundles of distributed job JOB held here\n"
"              (job, job_bundles, job_bytes)\n\n"
"Exit status: 0 ok, 1 lagranged not reachable, 2 usage.\n");
}

int cmd_spool(int argc, char **argv)
{
    const char *sock, *job = NULL;
    char *reply, *p, *line, cmd[64], **av;
    int json, ex, ac = 0;
    jobj o;
    /* --job JOB (or --job=JOB) here; the rest is parse_common's. */
    if (!(av = calloc((size_t)argc + 1, sizeof *av))) {
        cli_err("spool", "out of memory");
        return EXIT_FAIL;
    }
    for (int i = 0; i < argc; i++) {
        if (i > 0 && !strcmp(argv[i], "--job")) {
            if (i + 1 >= argc) {
                cli_err("spool", "--job needs a job id");
                free(av);
                return EXIT_USAGE;
            }
            job = argv[++i];
        } else if (i > 0 && !strncmp(argv[i], "--job=", 6))
            job = argv[i] + 6;
        else
            av[ac++] = argv[i];
    }
    ex = parse_common(ac, av, "spool", spool_help, &sock, &json);
    free(av);
    if (ex)
        return ex < 0 ? EXIT_OK : ex;
    if (job) {
        size_t n = strlen(job);
        int good = n > 0 && n <= 16;
        for (size_t i = 0; good && i < n; i++)
            good = isalnum((unsigned char)job[i]) || job[i] == '.' ||
                   job[i] == '_' || job[i] == '-';
        if (!good) {
            cli_err("spool", "--job '%s' is not a job id (1-16 of "
                    "[A-Za-z0-9._-])", job);
            return EXIT_USAGE;
        }
    }
    snprintf(cmd, sizeof cmd, "spool%s%s", job ? " " : "", job ? job : "");
    if ((ex = ctl_ask("spool", sock, cmd, &reply)) != EXIT_OK)
        return ex;
    if ((ex = daemon_error("spool", reply)) != EXIT_OK) {
        free(reply);
        return ex;
    }
    p = reply;
    if (!(line = next_line(&p)) || jparse(line, &o) < 0) {
        cli_err("spool", "lagranged sent no answer object");
        free(reply);
        return EXIT_FAIL;
    }
    if (json) {
        printf("%s\n", line);
    } else {
        for (int i = 0; i < o.n; i++) {
            if (o.f[i].type == J_STR)
                printf("%-18s %s\n", o.f[i].key, o.f[i].str);
            else
                printf("%-18s %.0f\n", o.f[i].key, o.f[i].num);
        }
    }
    free(reply);
    return flush_out("spool");
}
