/*
 * config.c - the lagranged.conf(5) parser, its checks against the
 * topology and the normal-form printer (see config.h).
 *
 * One pass over the lines fills a dconf that starts with every default;
 * each key remembers the line that set it, so that checks made after the
 * pass (required keys, ReconnectMin <= ReconnectMax, NodeId and Peer=
 * against the topology) still name a line. Numbers and units follow
 * lagrange-topology(5) (the small scanners here mirror lib/plan's, which
 * keeps its own static), and the printer writes the shortest text that
 * parses back to the same value, so print -> parse -> print is a fixed
 * point (tests/test_lagranged.sh checks it).
 *
 * The default paths come from the directories systemd gives the service
 * when lagranged has set them (dconf_set_dirs, from the environment read
 * once in main), else from the DCONF_DEF_* constants; the parser itself
 * reads no environment.
 */
#include "config.h"
#include "units.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "lgerr.h"

#define MAX_WORDS 64             /* words on one line */

enum key {
    K_NODEID = 0, K_TOPOLOGY, K_LISTEN, K_SPOOLDIR, K_SPOOLMAXBYTES,
    K_SPOOLMAXBUNDLES, K_INBOXDIR, K_TLS, K_TLSCERT, K_TLSKEY, K_TLSCA, K_CONTROLSOCKET,
    K_LOGLEVEL, K_MAXFRAME, K_CHUNKSIZE, K_HEARTBEAT, K_RECONNECTMIN,
    K_RECONNECTMAX, K_EMULATE, K_TLECHECK, K_APISOCKET, K_APILISTEN,
    K_APITOKENFILE, K_APIMAXMESSAGE, K_JOBDIR, K_MODELDIR, K_BLOBDIR,
    K_JOBWORKERS, K_METRICSLISTEN, K_JOBRETENTION, K_JOBCOMPLOG,
    K_STOPTIMEOUT, K_SUSPECTAFTER, K_DEADAFTER, K_EVENTDIR,
    K_WEBHOOKTIMEOUT, K_WEBHOOKRETRYFOR, K_DISTRIBUTE, K_PARTITIONCACHEMAX,
    K_STALLTIMEOUT,
    K_N
};

/* Also the order of the normal form. */
static const char *const key_names[K_N] = {
    "NodeId", "Topology", "Listen", "SpoolDir", "SpoolMaxBytes",
    "SpoolMaxBundles", "InboxDir", "Tls", "TlsCert", "TlsKey", "TlsCA", "ControlSocket",
    "LogLevel", "MaxFrame", "ChunkSize", "HeartbeatInterval",
    "ReconnectMin", "ReconnectMax", "Emulate", "TleCheckInterval",
    "ApiSocket", "ApiListen", "ApiTokenFile", "ApiMaxMessage", "JobDir",
    "ModelDir", "BlobDir", "JobWorkers", "MetricsListen", "JobRetention",
    "JobCompLog",
    "StopTimeout",
    "SuspectAfter", "DeadAfter",
    "EventDir", "WebhookTimeout", "WebhookRetryFor", "Distribute",
    "PartitionCacheMax", "StallTimeout",
};

const char *const dconf_event_names[DCONF_EV_N] = {
    "job.completed", "job.failed", "job.cancelled", "job.expired",
    "node.suspect", "node.dead", "node.recovered", "node.fault",
};

int dconf_event_find(const char *name)
{
    for (int i = 0; i < DCONF_EV_N; i++)
        if (!strcmp(name, dconf_event_names[i]))
            return i;
    return -1;
}

typedef struct parser {
    dconf *c;
    const char *name;            /* file name for messages */
    char *dir;                   /* its directory, NULL: the current one */
    int line;                    /* current line, 0: none */
    int key_line[K_N];           /* where each key was set, 0: default */
    int peer_cap;                /* allocated c->peers */
    int hook_cap;                /* allocated c->webhooks */
    char *err;
    size_t errlen;
} parser;

static int perr(parser *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int perr(parser *p, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (p->line > 0)
        return lg_errf(p->err, p->errlen, LG_EMODEL, "%s:%d: %s", p->name,
                       p->line, msg);
    return lg_errf(p->err, p->errlen, LG_EMODEL, "%s: %s", p->name, msg);
}

static int oom(parser *p)
{
    return lg_errf(p->err, p->errlen, -ENOMEM, "%s: out of memory", p->name);
}

/* ---- numbers and units (lib/common/units.c, as lagrange-topology(5)) --- */

#define DUR_HINT "units us, ms, s, min, h, d"
#define SIZE_HINT "suffixes K, M, G, T"

const char *dconf_fmt_duration(char *buf, size_t len, double s)
{
    return lg_units_fmt(buf, len, s, lg_units_dur, "s");
}

const char *dconf_fmt_size(char *buf, size_t len, uint64_t m)
{
    static const char sfx[] = "TGMK";
    for (int i = 0; i < 4; i++) {
        uint64_t u = 1ull << (10 * (4 - i));
        if (m >= u && m % u == 0) {
            snprintf(buf, len, "%llu%c", (unsigned long long)(m / u), sfx[i]);
            return buf;
        }
    }
    snprintf(buf, len, "%llu", (unsigned long long)m);
    return buf;
}

/* ---- values ------------------------------------------------------------ */

static int check_name(parser *p, const char *key, const char *s)
{
    size_t n = strlen(s);
    int ok = n > 0 && n < PLAN_NAME_MAX;
    for (const char *q = s; ok && *q; q++)
        ok = isalnum((unsigned char)*q) || *q == '.' || *q == '_' ||
             *q == '-';
    if (!ok)
        return perr(p, "bad node name '%s' for %s (1-%d characters of "
                    "A-Z a-z 0-9 . _ -)", s, key, PLAN_NAME_MAX - 1);
    return 0;
}

static int val_dur(parser *p, const char *key, const char *v, double *x)
{
    if (lg_units_parse(v, lg_units_dur, 0, x) < 0)
        return perr(p, "bad duration '%s' for %s (" DUR_HINT ")", v, key);
    if (*x <= 0 || *x > DCONF_MAX_DURATION)
        return perr(p, "%s must be above 0 and at most 1d, got '%s'", key, v);
    return 0;
}

/* A duration of days rather than seconds (retention). */
static int val_dur_long(parser *p, const char *key, const char *v, double lo,
                        double hi, double *x)
{
    char a[32], b[32];
    if (lg_units_parse(v, lg_units_dur, 0, x) < 0)
        return perr(p, "bad duration '%s' for %s (" DUR_HINT ")", v, key);
    if (*x < lo || *x > hi)
        return perr(p, "%s must be between %s and %s, got '%s'", key,
                    dconf_fmt_duration(a, sizeof a, lo),
                    dconf_fmt_duration(b, sizeof b, hi), v);
    return 0;
}

static int val_size(parser *p, const char *key, const char *v, uint64_t lo,
                    uint64_t hi, uint64_t *x)
{
    char a[32], b[32];
    double d;
    if (lg_units_parse(v, lg_units_bin, 0, &d) < 0 || d != floor(d))
        return perr(p, "bad size '%s' for %s (whole bytes, " SIZE_HINT ")",
                    v, key);
    if (d < (double)lo || d > (double)hi)
        return perr(p, "%s must be between %s and %s, got '%s'", key,
                    dconf_fmt_size(a, sizeof a, lo),
                    dconf_fmt_size(b, sizeof b, hi), v);
    *x = (uint64_t)d;
    return 0;
}

static int val_count(parser *p, const char *key, const char *v,
                     uint64_t hi, uint64_t *x)
{
    unsigned long long n = 0;
    const char *q = v;
    for (; isdigit((unsigned char)*q) && n <= hi; q++)
        n = n * 10 + (unsigned)(*q - '0');
    if (q == v || *q || n < 1 || n > hi)
        return perr(p, "%s must be a whole number from 1 to %llu, got '%s'",
                    key, (unsigned long long)hi, v);
    *x = n;
    return 0;
}

int dconf_split_addr(const char *addr, char *host, size_t hostlen,
                     int *port)
{
    const char *colon, *h = addr, *hend, *q;
    long pn = 0;
    size_t n;
    if (addr[0] == '[') {
        /* [IPv6]:PORT; the address itself is checked when it is used */
        h = addr + 1;
        if (!(hend = strchr(h, ']')) || hend[1] != ':')
            return -EINVAL;
        colon = hend + 1;
        for (q = h; q < hend; q++)     /* hex, ':', '.', a %zone */
            if (!isalnum((unsigned char)*q) && *q != ':' && *q != '.' &&
                *q != '%')
                return -EINVAL;
        if (!memchr(h, ':', (size_t)(hend - h)))
            return -EINVAL;
    } else {
        if (!(colon = strrchr(addr, ':')))
            return -EINVAL;
        hend = colon;
        for (q = h; q < hend; q++)
            if (!isalnum((unsigned char)*q) && *q != '.' && *q != '-' &&
                *q != '_')
                return -EINVAL; /* a bare IPv6 address needs brackets */
    }
    n = (size_t)(hend - h);
    if (n == 0 || n >= hostlen || n >= DCONF_HOST_MAX)
        return -EINVAL;
    for (q = colon + 1; isdigit((unsigned char)*q) && pn <= 65535; q++)
        pn = pn * 10 + (*q - '0');
    if (q == colon + 1 || *q || pn < 1 || pn > 65535)
        return -EINVAL;
    memcpy(host, h, n);
    host[n] = '\0';
    *port = (int)pn;
    return 0;
}

static int val_addr(parser *p, const char *key, const char *v, char *out)
{
    char host[DCONF_HOST_MAX];
    int port;
    if (strlen(v) >= DCONF_ADDR_MAX ||
        dconf_split_addr(v, host, sizeof host, &port) < 0)
        return perr(p, "bad address '%s' for %s (HOST:PORT or [IPV6]:PORT, "
                    "port 1-65535)", v, key);
    snprintf(out, DCONF_ADDR_MAX, "%s", v);
    return 0;
}

/* An address, or "none" (stored as ""): for listeners that are off
 * unless asked for. */
static int val_addr_opt(parser *p, const char *key, const char *v, char *out)
{
    if (!strcasecmp(v, "none")) {
        out[0] = '\0';
        return 0;
    }
    return val_addr(p, key, v, out);
}

/* A path as written, and resolved against the config's directory. */
static int set_path(parser *p, dconf_path *dp, const char *v)
{
    char *decl = strdup(v), *path;
    size_t n;
    if (!decl)
        return oom(p);
    if (v[0] == '/' || !p->dir) {
        path = strdup(v);
    } else {
        n = strlen(p->dir) + strlen(v) + 2;
        if ((path = malloc(n)))
            snprintf(path, n, "%s%s%s", p->dir,
                     p->dir[strlen(p->dir) - 1] == '/' ? "" : "/", v);
    }
    if (!path) {
        free(decl);
        return oom(p);
    }
    free(dp->decl);
    free(dp->path);
    dp->decl = decl;
    dp->path = path;
    return 0;
}

static void free_path(dconf_path *dp)
{
    free(dp->decl);
    free(dp->path);
    dp->decl = dp->path = NULL;
}

/* ---- lines -------------------------------------------------------------- */

/* Split at white space, dropping '#' to the end of the line. Returns the
 * word count, or -1 past MAX_WORDS. */
static int split_words(char *s, char **w)
{
    int n = 0;
    char *h = strchr(s, '#');
    if (h)
        *h = '\0';
    for (;;) {
        while (*s && isspace((unsigned char)*s))
            s++;
        if (!*s)
            return n;
        if (n == MAX_WORDS)
            return -1;
        w[n++] = s;
        while (*s && !isspace((unsigned char)*s))
            s++;
        if (*s)
            *s++ = '\0';
    }
}

static int set_key(parser *p, enum key k, const char *v)
{
    dconf *c = p->c;
    const char *name = key_names[k];
    int rc = 0;
    if (!*v)
        return perr(p, "%s has an empty value", name);
    switch (k) {
    case K_NODEID:
        if ((rc = check_name(p, name, v)) == 0) {
            snprintf(c->node_id, sizeof c->node_id, "%s", v);
            c->node_line = p->line;
        }
        break;
    case K_TOPOLOGY:
        if ((rc = set_path(p, &c->topology, v)) == 0)
            c->topology_line = p->line;
        break;
    case K_LISTEN: rc = val_addr(p, name, v, c->listen); break;
    case K_SPOOLDIR: rc = set_path(p, &c->spool_dir, v); break;
    case K_SPOOLMAXBYTES:
        rc = val_size(p, name, v, 1ull << 20, 1ull << 50, &c->spool_max_bytes);
        break;
    case K_SPOOLMAXBUNDLES:
        rc = val_count(p, name, v, UINT32_MAX, &c->spool_max_bundles);
        break;
    case K_INBOXDIR: rc = set_path(p, &c->inbox_dir, v); break;
    case K_TLS:
        if (!strcasecmp(v, "yes"))
            c->tls = 1;
        else if (!strcasecmp(v, "no"))
            c->tls = 0;
        else
            rc = perr(p, "Tls must be yes or no, got '%s'", v);
        break;
    case K_DISTRIBUTE:
        if (!strcasecmp(v, "yes"))
            c->distribute = 1;
        else if (!strcasecmp(v, "no"))
            c->distribute = 0;
        else
            rc = perr(p, "Distribute must be yes or no, got '%s'", v);
        break;
    case K_PARTITIONCACHEMAX:
        /* 0 or none: unbounded. */
        if (!strcasecmp(v, "none") || !strcmp(v, "0"))
            c->partition_cache_max = 0;
        else
            rc = val_size(p, name, v, 1ull << 10, 1ull << 50,
                          &c->partition_cache_max);
        break;
    case K_STALLTIMEOUT:
        /* 0 or none: a distributed job may wait without bound. */
        if (!strcasecmp(v, "none") || !strcmp(v, "0"))
            c->stall_timeout = 0;
        else
            rc = val_dur_long(p, name, v, 1.0, DCONF_MAX_STALL_TIMEOUT,
                              &c->stall_timeout);
        break;
    case K_TLSCERT: rc = set_path(p, &c->tls_cert, v); break;
    case K_TLSKEY: rc = set_path(p, &c->tls_key, v); break;
    case K_TLSCA: rc = set_path(p, &c->tls_ca, v); break;
    case K_CONTROLSOCKET:
        if ((rc = set_path(p, &c->control_socket, v)) == 0 &&
            strlen(c->control_socket.path) >= DCONF_SUN_PATH_MAX)
            rc = perr(p, "ControlSocket path '%s' is longer than the %d "
                      "bytes a unix socket allows", c->control_socket.path,
                      DCONF_SUN_PATH_MAX - 1);
        break;
    case K_LOGLEVEL:
        if (log_level_parse(v, &c->log_level) < 0)
            rc = perr(p, "LogLevel must be error, warn, info or debug, got "
                      "'%s'", v);
        break;
    case K_MAXFRAME:
        rc = val_size(p, name, v, DCONF_MIN_FRAME, DCONF_MAX_FRAME_LIMIT,
                      &c->max_frame);
        break;
    case K_CHUNKSIZE:
        rc = val_size(p, name, v, 1ull << 10,
                      DCONF_MAX_FRAME_LIMIT - DCONF_FRAME_ROOM,
                      &c->chunk_size);
        break;
    case K_HEARTBEAT: rc = val_dur(p, name, v, &c->heartbeat); break;
    case K_RECONNECTMIN: rc = val_dur(p, name, v, &c->reconnect_min); break;
    case K_RECONNECTMAX: rc = val_dur(p, name, v, &c->reconnect_max); break;
    case K_TLECHECK: rc = val_dur(p, name, v, &c->tle_check); break;
    case K_APISOCKET:
        if ((rc = set_path(p, &c->api_socket, v)) == 0 &&
            strlen(c->api_socket.path) >= DCONF_SUN_PATH_MAX)
            rc = perr(p, "ApiSocket path '%s' is longer than the %d "
                      "bytes a unix socket allows", c->api_socket.path,
                      DCONF_SUN_PATH_MAX - 1);
        break;
    case K_APILISTEN: rc = val_addr_opt(p, name, v, c->api_listen); break;
    case K_APITOKENFILE: rc = set_path(p, &c->api_token_file, v); break;
    case K_APIMAXMESSAGE:
        rc = val_size(p, name, v, 64ull << 10, 1ull << 30,
                      &c->api_max_message);
        break;
    case K_JOBDIR: rc = set_path(p, &c->job_dir, v); break;
    case K_MODELDIR: rc = set_path(p, &c->model_dir, v); break;
    case K_BLOBDIR: rc = set_path(p, &c->blob_dir, v); break;
    case K_JOBWORKERS: {
        uint64_t n;
        if ((rc = val_count(p, name, v, 64, &n)) == 0)
            c->job_workers = (int)n;
        break;
    }
    case K_METRICSLISTEN:
        if ((rc = val_addr_opt(p, name, v, c->metrics_listen)) == 0)
            c->metrics_listen_set = 1;
        break;
    case K_JOBRETENTION:
        rc = val_dur_long(p, name, v, 1.0, 3650 * 86400.0,
                          &c->job_retention);
        break;
    case K_JOBCOMPLOG:
        if (!strcasecmp(v, "none"))
            free_path(&c->jobcomp_log);
        else if (v[strlen(v) - 1] == '/')
            rc = perr(p, "JobCompLog must name a file (or be none), got "
                      "'%s'", v);
        else
            rc = set_path(p, &c->jobcomp_log, v);
        break;
    case K_SUSPECTAFTER:
        rc = val_dur_long(p, name, v, 1e-3, DCONF_MAX_HEALTH_AFTER,
                          &c->suspect_after);
        break;
    case K_DEADAFTER:
        rc = val_dur_long(p, name, v, 1e-3, DCONF_MAX_HEALTH_AFTER,
                          &c->dead_after);
        break;
    case K_STOPTIMEOUT:
        rc = val_dur_long(p, name, v, 1.0, DCONF_MAX_STOP_TIMEOUT,
                          &c->stop_timeout);
        break;
    case K_EVENTDIR: rc = set_path(p, &c->event_dir, v); break;
    case K_WEBHOOKTIMEOUT:
        rc = val_dur_long(p, name, v, 0.1, 3600.0, &c->webhook_timeout);
        break;
    case K_WEBHOOKRETRYFOR:
        rc = val_dur_long(p, name, v, 1.0, DCONF_MAX_WEBHOOK_RETRY_FOR,
                          &c->webhook_retry_for);
        break;
    case K_EMULATE:
        if (!strcasecmp(v, "yes"))
            c->emulate = 1;
        else if (!strcasecmp(v, "no"))
            c->emulate = 0;
        else
            rc = perr(p, "Emulate must be yes or no, got '%s'", v);
        break;
    default:
        break;
    }
    if (rc == 0)
        p->key_line[k] = p->line;
    return rc;
}

static int do_peer(parser *p, char **w, int n)
{
    dconf *c = p->c;
    const char *name = strchr(w[0], '=') + 1, *addr = NULL;
    dconf_peer *pe;
    int rc;
    if ((rc = check_name(p, "Peer", name)) < 0)
        return rc;
    for (int i = 1; i < n; i++) {
        char *eq = strchr(w[i], '=');
        if (!eq || eq == w[i])
            return perr(p, "expected Key=Value on the Peer line, got '%s'",
                        w[i]);
        *eq = '\0';
        if (strcasecmp(w[i], "Address"))
            return perr(p, "unknown key '%s' on a Peer line (only Address)",
                        w[i]);
        if (addr)
            return perr(p, "Address given twice");
        addr = eq + 1;
    }
    if (!addr)
        return perr(p, "Peer %s needs Address=HOST:PORT", name);
    for (int i = 0; i < c->n_peers; i++)
        if (!strcmp(c->peers[i].name, name))
            return perr(p, "Peer %s given twice (first at line %d)", name,
                        c->peers[i].line);
    if (c->n_peers == DCONF_MAX_PEERS)
        return perr(p, "more than %d Peer lines", DCONF_MAX_PEERS);
    if (c->n_peers == p->peer_cap) {
        int cap = p->peer_cap ? 2 * p->peer_cap : 8;
        dconf_peer *np;
        if (cap > DCONF_MAX_PEERS)
            cap = DCONF_MAX_PEERS;
        if (!(np = realloc(c->peers, (size_t)cap * sizeof *np)))
            return oom(p);
        c->peers = np;
        p->peer_cap = cap;
    }
    pe = &c->peers[c->n_peers];
    memset(pe, 0, sizeof *pe);
    if ((rc = val_addr(p, "Address", addr, pe->addr)) < 0)
        return rc;
    snprintf(pe->name, sizeof pe->name, "%s", name);
    pe->node = -1;
    pe->line = p->line;
    c->n_peers++;
    return 0;
}

/* An http:// or https:// URL with a host (and a port 1-65535 if one is
 * given). Whatever follows the authority is the receiver's business. */
static int check_url(parser *p, const char *u)
{
    const char *a, *end, *host, *q;
    size_t n = strlen(u);
    if (n >= DCONF_URL_MAX)
        return perr(p, "Webhook URL longer than %d bytes", DCONF_URL_MAX - 1);
    if (!strncasecmp(u, "http://", 7))
        a = u + 7;
    else if (!strncasecmp(u, "https://", 8))
        a = u + 8;
    else
        return perr(p, "Webhook URL must start with http:// or https://, "
                    "got '%s'", u);
    end = a + strcspn(a, "/?");
    host = a;
    for (q = a; q < end; q++)
        if (*q == '@')
            host = q + 1;
    for (q = u; *q; q++)
        if ((unsigned char)*q < 0x21 || *q == 0x7f)
            return perr(p, "Webhook URL '%s' holds a control character", u);
    if (host == end || *host == ':')
        return perr(p, "Webhook URL '%s' has no host", u);
    if (*host == '[') {
        if (!(q = memchr(host, ']', (size_t)(end - host))))
            return perr(p, "Webhook URL '%s': unclosed '[' in the host", u);
        q++;
    } else {
        q = memchr(host, ':', (size_t)(end - host));
        if (!q)
            q = end;
    }
    if (q < end) {
        long port = 0;
        const char *d = q + 1;
        if (*q != ':')
            return perr(p, "Webhook URL '%s': bad host", u);
        for (; d < end && isdigit((unsigned char)*d) && port <= 65535; d++)
            port = port * 10 + (*d - '0');
        if (d != end || d == q + 1 || port < 1 || port > 65535)
            return perr(p, "Webhook URL '%s': bad port (1-65535)", u);
    }
    return 0;
}

/* Events=: "all" or a comma-separated list of dconf_event_names. */
static int parse_events(parser *p, const char *v, unsigned *mask)
{
    char buf[512];
    const char *s = v;
    *mask = 0;
    if (!strcasecmp(v, "all")) {
        *mask = DCONF_EV_ALL;
        return 0;
    }
    for (;;) {
        size_t n = strcspn(s, ",");
        int e;
        if (n == 0 || n >= sizeof buf)
            return perr(p, "bad Events list '%s' (comma-separated event "
                        "names, or all)", v);
        memcpy(buf, s, n);
        buf[n] = '\0';
        for (char *c = buf; *c; c++)
            *c = (char)tolower((unsigned char)*c);
        if (!strcmp(buf, "all"))
            *mask = DCONF_EV_ALL;
        else if ((e = dconf_event_find(buf)) < 0)
            return perr(p, "unknown event '%s' in Events (job.completed, "
                        "job.failed, job.cancelled, job.expired, "
                        "node.suspect, node.dead, node.recovered, "
                        "node.fault, or all)", buf);
        else
            *mask |= 1u << e;
        if (!s[n])
            return 0;
        s += n + 1;
    }
}

static int do_webhook(parser *p, char **w, int n)
{
    dconf *c = p->c;
    const char *url = strchr(w[0], '=') + 1, *events = NULL, *secret = NULL;
    dconf_webhook *wh;
    unsigned mask = DCONF_EV_ALL;
    int rc;
    if (!*url)
        return perr(p, "Webhook has an empty value");
    if ((rc = check_url(p, url)) < 0)
        return rc;
    for (int i = 1; i < n; i++) {
        char *eq = strchr(w[i], '=');
        if (!eq || eq == w[i])
            return perr(p, "expected Key=Value on the Webhook line, got "
                        "'%s'", w[i]);
        *eq = '\0';
        if (!strcasecmp(w[i], "Events")) {
            if (events)
                return perr(p, "Events given twice");
            events = eq + 1;
        } else if (!strcasecmp(w[i], "SecretFile")) {
            if (secret)
                return perr(p, "SecretFile given twice");
            secret = eq + 1;
        } else {
            return perr(p, "unknown key '%s' on a Webhook line (Events, "
                        "SecretFile)", w[i]);
        }
        if (!eq[1])
            return perr(p, "%s has an empty value", w[i]);
    }
    if (events && (rc = parse_events(p, events, &mask)) < 0)
        return rc;
    for (int i = 0; i < c->n_webhooks; i++)
        if (!strcmp(c->webhooks[i].url, url))
            return perr(p, "Webhook %s given twice (first at line %d)", url,
                        c->webhooks[i].line);
    if (c->n_webhooks == DCONF_MAX_WEBHOOKS)
        return perr(p, "more than %d Webhook lines", DCONF_MAX_WEBHOOKS);
    if (c->n_webhooks == p->hook_cap) {
        int cap = p->hook_cap ? 2 * p->hook_cap : 4;
        dconf_webhook *nw;
        if (cap > DCONF_MAX_WEBHOOKS)
            cap = DCONF_MAX_WEBHOOKS;
        if (!(nw = realloc(c->webhooks, (size_t)cap * sizeof *nw)))
            return oom(p);
        c->webhooks = nw;
        p->hook_cap = cap;
    }
    wh = &c->webhooks[c->n_webhooks];
    memset(wh, 0, sizeof *wh);
    if (!(wh->url = strdup(url)))
        return oom(p);
    c->n_webhooks++;             /* freed with c from here on */
    wh->events = mask;
    wh->line = p->line;
    if (secret && (rc = set_path(p, &wh->secret_file, secret)) < 0)
        return rc;
    return 0;
}

static int do_line(parser *p, char *s)
{
    char *w[MAX_WORDS];
    int n = split_words(s, w);
    if (n < 0)
        return perr(p, "more than %d words on a line", MAX_WORDS);
    if (n == 0)
        return 0;
    if (!strncasecmp(w[0], "Peer=", 5))
        return do_peer(p, w, n);
    if (!strncasecmp(w[0], "Webhook=", 8))
        return do_webhook(p, w, n);
    for (int i = 0; i < n; i++) {
        char *eq = strchr(w[i], '=');
        int k, rc;
        if (!eq || eq == w[i])
            return perr(p, "expected Key=Value, got '%s'", w[i]);
        *eq = '\0';
        if (!strcasecmp(w[i], "Peer"))
            return perr(p, "Peer= must start its line");
        if (!strcasecmp(w[i], "Webhook"))
            return perr(p, "Webhook= must start its line");
        for (k = 0; k < K_N && strcasecmp(w[i], key_names[k]); k++)
            ;
        if (k == K_N)
            return perr(p, "unknown key '%s'", w[i]);
        if (p->key_line[k])
            return perr(p, "%s given twice (first at line %d)", key_names[k],
                        p->key_line[k]);
        if ((rc = set_key(p, (enum key)k, eq + 1)) < 0)
            return rc;
    }
    return 0;
}

/* Checks across keys, after the last line. */
static int check_all(parser *p)
{
    dconf *c = p->c;
    char a[32], b[32];
    p->line = 0;
    if (!c->node_id[0])
        return perr(p, "NodeId is required (this node's name in the "
                    "topology)");
    if (!c->topology.path)
        return perr(p, "Topology is required (the topology file)");
    /* Node health: the silence limits default to multiples of the
     * heartbeat interval. */
    if (c->suspect_after == 0)
        c->suspect_after = DCONF_DEF_SUSPECT_BEATS * c->heartbeat;
    if (c->dead_after == 0)
        c->dead_after = DCONF_DEF_DEAD_BEATS * c->heartbeat;
    if (c->dead_after < c->suspect_after) {
        p->line = p->key_line[K_SUSPECTAFTER] > p->key_line[K_DEADAFTER]
                      ? p->key_line[K_SUSPECTAFTER]
                      : p->key_line[K_DEADAFTER];
        return perr(p, "DeadAfter %s is below SuspectAfter %s (defaults: "
                    "%d and %d x HeartbeatInterval)",
                    dconf_fmt_duration(a, sizeof a, c->dead_after),
                    dconf_fmt_duration(b, sizeof b, c->suspect_after),
                    DCONF_DEF_SUSPECT_BEATS, DCONF_DEF_DEAD_BEATS);
    }
    if (c->reconnect_min > c->reconnect_max) {
        p->line = p->key_line[K_RECONNECTMIN] > p->key_line[K_RECONNECTMAX]
                      ? p->key_line[K_RECONNECTMIN]
                      : p->key_line[K_RECONNECTMAX];
        return perr(p, "ReconnectMin %s is above ReconnectMax %s",
                    dconf_fmt_duration(a, sizeof a, c->reconnect_min),
                    dconf_fmt_duration(b, sizeof b, c->reconnect_max));
    }
    /* Socket paths set in the file were checked on their line; a default
     * under a long RUNTIME_DIRECTORY is checked here. */
    if (!p->key_line[K_CONTROLSOCKET] &&
        strlen(c->control_socket.path) >= DCONF_SUN_PATH_MAX)
        return perr(p, "the default ControlSocket '%s' (under "
                    "RUNTIME_DIRECTORY) is longer than the %d bytes a unix "
                    "socket allows; set ControlSocket", c->control_socket.path,
                    DCONF_SUN_PATH_MAX - 1);
    if (!p->key_line[K_APISOCKET] &&
        strlen(c->api_socket.path) >= DCONF_SUN_PATH_MAX)
        return perr(p, "the default ApiSocket '%s' (under RUNTIME_DIRECTORY) "
                    "is longer than the %d bytes a unix socket allows; set "
                    "ApiSocket", c->api_socket.path, DCONF_SUN_PATH_MAX - 1);
    if (c->chunk_size + DCONF_FRAME_ROOM > c->max_frame) {
        p->line = p->key_line[K_CHUNKSIZE] > p->key_line[K_MAXFRAME]
                      ? p->key_line[K_CHUNKSIZE]
                      : p->key_line[K_MAXFRAME];
        return perr(p, "ChunkSize %s does not fit in MaxFrame %s (a frame "
                    "needs 4K more for the bundle header)",
                    dconf_fmt_size(a, sizeof a, c->chunk_size),
                    dconf_fmt_size(b, sizeof b, c->max_frame));
    }
    return 0;
}

/* The directories systemd gave us, if main set them. */
static dconf_dirs g_dirs;
static int g_dirs_set;

/* The first of the ':'-separated paths in v into out; "" if v is unset.
 * -1 (with out "") for one that cannot be used. */
static int first_dir(const char *v, char *out, const char *var, char *warn,
                     size_t warnlen)
{
    size_t n;
    out[0] = '\0';
    if (!v || !*v)
        return 0;
    n = strcspn(v, ":");
    if (v[0] != '/' || n >= DCONF_DIR_MAX) {
        snprintf(warn, warnlen, "%s='%.200s' ignored: not an absolute path "
                 "of at most %d bytes", var, v, DCONF_DIR_MAX - 1);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        if (isspace((unsigned char)v[i]) || v[i] == '#') {
            snprintf(warn, warnlen, "%s='%.200s' ignored: white space and "
                     "'#' cannot be written in lagranged.conf(5)", var, v);
            return -1;
        }
    memcpy(out, v, n);
    out[n] = '\0';
    /* "/var/lib/lagrange/" and "/var/lib/lagrange" alike, "/" kept */
    while (n > 1 && out[n - 1] == '/')
        out[--n] = '\0';
    return 0;
}

int dconf_dirs_set(dconf_dirs *d, const char *state, const char *runtime,
                   const char *config, const char *logs, char *warn,
                   size_t warnlen)
{
    int bad = 0;
    if (warnlen)
        warn[0] = '\0';
    bad -= first_dir(state, d->state, "STATE_DIRECTORY", warn, warnlen);
    bad -= first_dir(runtime, d->runtime, "RUNTIME_DIRECTORY", warn,
                     warnlen);
    bad -= first_dir(config, d->config, "CONFIGURATION_DIRECTORY", warn,
                     warnlen);
    bad -= first_dir(logs, d->logs, "LOGS_DIRECTORY", warn, warnlen);
    return bad;
}

int dconf_dirs_from_env(dconf_dirs *d, char *warn, size_t warnlen)
{
    return dconf_dirs_set(d, getenv("STATE_DIRECTORY"),
                          getenv("RUNTIME_DIRECTORY"),
                          getenv("CONFIGURATION_DIRECTORY"),
                          getenv("LOGS_DIRECTORY"), warn, warnlen);
}

void dconf_set_dirs(const dconf_dirs *d)
{
    g_dirs_set = d != NULL;
    if (d)
        g_dirs = *d;
    else
        memset(&g_dirs, 0, sizeof g_dirs);
}

const char *dconf_default_path(char *buf, size_t len)
{
    if (g_dirs_set && g_dirs.config[0])
        snprintf(buf, len, "%s/lagranged.conf",
                 strcmp(g_dirs.config, "/") ? g_dirs.config : "");
    else
        snprintf(buf, len, "%s", DCONF_DEFAULT_PATH);
    return buf;
}

/* A default: leaf under dir when systemd gave that directory, else def.
 * Defaults are absolute: the config file's directory does not apply. */
static int set_default(parser *p, dconf_path *dp, const char *dir,
                       const char *leaf, const char *def)
{
    char buf[DCONF_DIR_MAX + 64];
    if (!g_dirs_set || !dir[0])
        return set_path(p, dp, def);
    snprintf(buf, sizeof buf, "%s/%s", strcmp(dir, "/") ? dir : "", leaf);
    return set_path(p, dp, buf);
}

int dconf_parse(const char *name, const char *text, size_t len, dconf **out,
                char *err, size_t errlen)
{
    parser p;
    dconf *c;
    char *buf = NULL;
    const char *slash = strrchr(name, '/');
    size_t pos = 0;
    int rc = 0;

    *out = NULL;
    memset(&p, 0, sizeof p);
    p.name = name;
    p.err = err;
    p.errlen = errlen;
    if (len > DCONF_MAX_FILE)
        return perr(&p, "larger than %u KiB", DCONF_MAX_FILE >> 10);
    if (!(c = calloc(1, sizeof *c)))
        return oom(&p);
    p.c = c;
    c->node = -1;
    if (!(c->file = strdup(name)) || !(buf = malloc(DCONF_MAX_LINE + 1))) {
        rc = oom(&p);
        goto out;
    }
    snprintf(c->listen, sizeof c->listen, "%s", DCONF_DEF_LISTEN);
    c->spool_max_bytes = DCONF_DEF_SPOOL_MAX_BYTES;
    c->spool_max_bundles = DCONF_DEF_SPOOL_MAX_BUNDLES;
    c->log_level = LOG_LVL_INFO;
    c->max_frame = DCONF_DEF_MAX_FRAME;
    c->chunk_size = DCONF_DEF_CHUNK_SIZE;
    c->heartbeat = DCONF_DEF_HEARTBEAT;
    c->reconnect_min = DCONF_DEF_RECONNECT_MIN;
    c->reconnect_max = DCONF_DEF_RECONNECT_MAX;
    c->emulate = 1;
    c->tls = 1;
    c->tle_check = DCONF_DEF_TLE_CHECK;
    c->api_max_message = DCONF_DEF_API_MAX_MESSAGE;
    c->job_workers = 1;
    c->distribute = 1;
    c->partition_cache_max = DCONF_DEF_PARTITION_CACHE_MAX;
    c->stall_timeout = DCONF_DEF_STALL_TIMEOUT;
    c->job_retention = DCONF_DEF_JOB_RETENTION;
    c->stop_timeout = DCONF_DEF_STOP_TIMEOUT;
    c->webhook_timeout = DCONF_DEF_WEBHOOK_TIMEOUT;
    c->webhook_retry_for = DCONF_DEF_WEBHOOK_RETRY_FOR;
    snprintf(c->metrics_listen, sizeof c->metrics_listen, "%s",
             DCONF_DEF_METRICS_LISTEN);
    {
        const char *st = g_dirs.state, *rt = g_dirs.runtime,
                   *cf = g_dirs.config;
        if ((rc = set_default(&p, &c->spool_dir, st, "spool",
                              DCONF_DEF_SPOOL_DIR)) < 0 ||
            (rc = set_default(&p, &c->inbox_dir, st, "inbox",
                              DCONF_DEF_INBOX_DIR)) < 0 ||
            (rc = set_default(&p, &c->tls_cert, cf, "tls/node.crt",
                              DCONF_DEF_TLS_CERT)) < 0 ||
            (rc = set_default(&p, &c->tls_key, cf, "tls/node.key",
                              DCONF_DEF_TLS_KEY)) < 0 ||
            (rc = set_default(&p, &c->tls_ca, cf, "tls/ca.crt",
                              DCONF_DEF_TLS_CA)) < 0 ||
            (rc = set_default(&p, &c->control_socket, rt, "lagranged.sock",
                              DCONF_DEF_CONTROL_SOCKET)) < 0 ||
            (rc = set_default(&p, &c->api_socket, rt, "api.sock",
                              DCONF_DEF_API_SOCKET)) < 0 ||
            (rc = set_default(&p, &c->api_token_file, cf, "api.tokens",
                              DCONF_DEF_API_TOKEN_FILE)) < 0 ||
            (rc = set_default(&p, &c->job_dir, st, "jobs",
                              DCONF_DEF_JOB_DIR)) < 0 ||
            (rc = set_default(&p, &c->model_dir, st, "models",
                              DCONF_DEF_MODEL_DIR)) < 0 ||
            (rc = set_default(&p, &c->blob_dir, st, "blobs",
                              DCONF_DEF_BLOB_DIR)) < 0 ||
            (rc = set_default(&p, &c->event_dir, st, "events",
                              DCONF_DEF_EVENT_DIR)) < 0)
            goto out;
        /* JobCompLog: none unless systemd gave a logs directory. */
        if (g_dirs_set && g_dirs.logs[0] &&
            (rc = set_default(&p, &c->jobcomp_log, g_dirs.logs,
                              "jobcomp.log", NULL)) < 0)
            goto out;
    }
    /* Relative paths are relative to the file's directory ("dir/x" rather
     * than "./x" for a file in the current one). */
    if (slash && strcmp(name, "-") &&
        !(p.dir = strndup(name, slash == name ? 1 : (size_t)(slash - name)))) {
        rc = oom(&p);
        goto out;
    }
    while (pos < len) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;
        p.line++;
        if (n > DCONF_MAX_LINE) {
            rc = perr(&p, "line longer than %d bytes", DCONF_MAX_LINE);
            goto out;
        }
        if (memchr(text + pos, '\0', n)) {
            rc = perr(&p, "NUL byte");
            goto out;
        }
        memcpy(buf, text + pos, n);
        buf[n] = '\0';
        if ((rc = do_line(&p, buf)) < 0)
            goto out;
        pos += n + 1;
    }
    rc = check_all(&p);
out:
    free(buf);
    free(p.dir);
    if (rc < 0) {
        dconf_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

static int is_neighbour(const plan_topology *t, int a, int b)
{
    return plan_topology_link(t, a, b) >= 0 || plan_topology_link(t, b, a) >= 0;
}

int dconf_set_topology(dconf *c, plan_topology *t, char *err, size_t errlen)
{
    int node = plan_topology_find(t, c->node_id);
    if (node < 0)
        return lg_errf(err, errlen, LG_EMODEL,
                       "%s:%d: NodeId %s is not a node of %s", c->file,
                       c->node_line, c->node_id, t->path);
    for (int i = 0; i < c->n_peers; i++) {
        const dconf_peer *pe = &c->peers[i];
        int n = plan_topology_find(t, pe->name);
        if (n < 0)
            return lg_errf(err, errlen, LG_EMODEL,
                           "%s:%d: Peer %s is not a node of %s", c->file,
                           pe->line, pe->name, t->path);
        if (n == node)
            return lg_errf(err, errlen, LG_EMODEL,
                           "%s:%d: Peer %s is this node (NodeId)", c->file,
                           pe->line, pe->name);
        if (!is_neighbour(t, node, n))
            return lg_errf(err, errlen, LG_EMODEL,
                           "%s:%d: Peer %s is not a neighbour of %s in %s "
                           "(no link between them)", c->file, pe->line,
                           pe->name, c->node_id, t->path);
    }
    for (int i = 0; i < c->n_peers; i++)
        c->peers[i].node = plan_topology_find(t, c->peers[i].name);
    if (c->topo != t)
        plan_topology_free(c->topo);
    c->topo = t;
    c->node = node;
    return 0;
}

/* The whole file, bounded; -errno with "FILE: what" in err. */
static int read_conf(const char *path, char **text, size_t *len, char *err,
                     size_t errlen)
{
    FILE *f = fopen(path, "rb");
    struct stat st;
    char *b;
    size_t n;
    int e;
    *text = NULL;
    *len = 0;
    if (!f)
        return lg_errf(err, errlen, -errno, "%s: %s", path, strerror(errno));
    if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
        fclose(f);
        return lg_errf(err, errlen, -EISDIR, "%s: %s", path,
                       strerror(EISDIR));
    }
    if (!(b = malloc(DCONF_MAX_FILE + 1))) {
        fclose(f);
        return lg_errf(err, errlen, -ENOMEM, "%s: out of memory", path);
    }
    n = fread(b, 1, DCONF_MAX_FILE + 1, f);
    e = ferror(f) ? errno : 0;
    fclose(f);
    if (e) {
        free(b);
        return lg_errf(err, errlen, -e, "%s: %s", path, strerror(e));
    }
    if (n > DCONF_MAX_FILE) {
        free(b);
        return lg_errf(err, errlen, LG_EMODEL, "%s: larger than %u KiB", path,
                       DCONF_MAX_FILE >> 10);
    }
    *text = b;
    *len = n;
    return 0;
}

int dconf_load(const char *path, dconf **out, char *err, size_t errlen)
{
    char *text, terr[1024] = "";
    size_t len;
    plan_topology *t = NULL;
    dconf *c;
    int rc;
    *out = NULL;
    if ((rc = read_conf(path, &text, &len, err, errlen)) < 0)
        return rc;
    rc = dconf_parse(path, text, len, &c, err, errlen);
    free(text);
    if (rc < 0)
        return rc;
    if ((rc = plan_topology_load(c->topology.path, &t, terr, sizeof terr)) <
        0) {
        lg_errf(err, errlen, rc, "%s:%d: Topology: %s", c->file,
                c->topology_line, terr[0] ? terr : lg_strerror(rc));
        dconf_free(c);
        return rc;
    }
    if ((rc = dconf_set_topology(c, t, err, errlen)) < 0) {
        plan_topology_free(t);
        dconf_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

void dconf_free(dconf *c)
{
    if (!c)
        return;
    free(c->file);
    free_path(&c->topology);
    free(c->peers);
    free_path(&c->spool_dir);
    free_path(&c->inbox_dir);
    free_path(&c->tls_cert);
    free_path(&c->tls_key);
    free_path(&c->tls_ca);
    free_path(&c->control_socket);
    free_path(&c->api_socket);
    free_path(&c->api_token_file);
    free_path(&c->job_dir);
    free_path(&c->model_dir);
    free_path(&c->blob_dir);
    free_path(&c->jobcomp_log);
    for (int i = 0; i < c->n_webhooks; i++) {
        free(c->webhooks[i].url);
        free_path(&c->webhooks[i].secret_file);
    }
    free(c->webhooks);
    free_path(&c->event_dir);
    plan_topology_free(c->topo);
    free(c);
}

int dconf_print(const dconf *c, FILE *f)
{
    char a[64];
    fprintf(f, "# lagranged.conf(5) normal form: node %s, %d peer%s\n",
            c->node_id, c->n_peers, c->n_peers == 1 ? "" : "s");
    fprintf(f, "NodeId=%s\n", c->node_id);
    fprintf(f, "Topology=%s\n", c->topology.decl);
    fprintf(f, "Listen=%s\n", c->listen);
    fprintf(f, "SpoolDir=%s\n", c->spool_dir.decl);
    fprintf(f, "SpoolMaxBytes=%s\n",
            dconf_fmt_size(a, sizeof a, c->spool_max_bytes));
    fprintf(f, "SpoolMaxBundles=%llu\n",
            (unsigned long long)c->spool_max_bundles);
    fprintf(f, "InboxDir=%s\n", c->inbox_dir.decl);
    fprintf(f, "Tls=%s\n", c->tls ? "yes" : "no");
    fprintf(f, "TlsCert=%s\n", c->tls_cert.decl);
    fprintf(f, "TlsKey=%s\n", c->tls_key.decl);
    fprintf(f, "TlsCA=%s\n", c->tls_ca.decl);
    fprintf(f, "ControlSocket=%s\n", c->control_socket.decl);
    fprintf(f, "LogLevel=%s\n", log_level_name(c->log_level));
    fprintf(f, "MaxFrame=%s\n", dconf_fmt_size(a, sizeof a, c->max_frame));
    fprintf(f, "ChunkSize=%s\n", dconf_fmt_size(a, sizeof a, c->chunk_size));
    fprintf(f, "HeartbeatInterval=%s\n",
            dconf_fmt_duration(a, sizeof a, c->heartbeat));
    fprintf(f, "ReconnectMin=%s\n",
            dconf_fmt_duration(a, sizeof a, c->reconnect_min));
    fprintf(f, "ReconnectMax=%s\n",
            dconf_fmt_duration(a, sizeof a, c->reconnect_max));
    fprintf(f, "Emulate=%s\n", c->emulate ? "yes" : "no");
    fprintf(f, "TleCheckInterval=%s\n",
            dconf_fmt_duration(a, sizeof a, c->tle_check));
    fprintf(f, "ApiSocket=%s\n", c->api_socket.decl);
    fprintf(f, "ApiListen=%s\n", c->api_listen[0] ? c->api_listen : "none");
    fprintf(f, "ApiTokenFile=%s\n", c->api_token_file.decl);
    fprintf(f, "ApiMaxMessage=%s\n",
            dconf_fmt_size(a, sizeof a, c->api_max_message));
    fprintf(f, "JobDir=%s\n", c->job_dir.decl);
    fprintf(f, "ModelDir=%s\n", c->model_dir.decl);
    fprintf(f, "BlobDir=%s\n", c->blob_dir.decl);
    fprintf(f, "JobWorkers=%d\n", c->job_workers);
    fprintf(f, "MetricsListen=%s\n",
            c->metrics_listen[0] ? c->metrics_listen : "none");
    fprintf(f, "JobRetention=%s\n",
            dconf_fmt_duration(a, sizeof a, c->job_retention));
    fprintf(f, "JobCompLog=%s\n",
            c->jobcomp_log.decl ? c->jobcomp_log.decl : "none");
    fprintf(f, "StopTimeout=%s\n",
            dconf_fmt_duration(a, sizeof a, c->stop_timeout));
    fprintf(f, "SuspectAfter=%s\n",
            dconf_fmt_duration(a, sizeof a, c->suspect_after));
    fprintf(f, "DeadAfter=%s\n",
            dconf_fmt_duration(a, sizeof a, c->dead_after));
    fprintf(f, "EventDir=%s\n", c->event_dir.decl);
    fprintf(f, "WebhookTimeout=%s\n",
            dconf_fmt_duration(a, sizeof a, c->webhook_timeout));
    fprintf(f, "WebhookRetryFor=%s\n",
            dconf_fmt_duration(a, sizeof a, c->webhook_retry_for));
    fprintf(f, "Distribute=%s\n", c->distribute ? "yes" : "no");
    fprintf(f, "PartitionCacheMax=%s\n", c->partition_cache_max
            ? dconf_fmt_size(a, sizeof a, c->partition_cache_max) : "none");
    fprintf(f, "StallTimeout=%s\n", c->stall_timeout > 0
            ? dconf_fmt_duration(a, sizeof a, c->stall_timeout) : "none");
    for (int i = 0; i < c->n_peers; i++)
        fprintf(f, "Peer=%s Address=%s\n", c->peers[i].name,
                c->peers[i].addr);
    for (int i = 0; i < c->n_webhooks; i++) {
        const dconf_webhook *wh = &c->webhooks[i];
        fprintf(f, "Webhook=%s Events=", wh->url);
        if (wh->events == DCONF_EV_ALL) {
            fprintf(f, "all");
        } else {
            const char *sep = "";
            for (int e = 0; e < DCONF_EV_N; e++)
                if (wh->events & (1u << e)) {
                    fprintf(f, "%s%s", sep, dconf_event_names[e]);
                    sep = ",";
                }
        }
        if (wh->secret_file.decl)
            fprintf(f, " SecretFile=%s", wh->secret_file.decl);
        fprintf(f, "\n");
    }
    if (fflush(f) != 0 || ferror(f))
        return -EIO;
    return 0;
}
