/*
 * config.h - lagranged's configuration: the lagranged.conf(5) parser, its
 * checks against the topology, and the normal-form printer.
 *
 * Owns dconf. The file is slurm.conf-like: Key=Value words, '#' starts a
 * comment, keys are case-insensitive. A line either holds global settings
 * (one or more Key=Value words) or starts with Peer=NAME and gives that
 * neighbour's Address=HOST:PORT, or starts with Webhook=URL and gives
 * that webhook's Events=LIST and SecretFile=PATH. Errors name FILE:LINE.
 *
 * Relative paths are taken against the config file's directory, so a
 * config and its topology can move together. Each path keeps the text as
 * written (printed by the normal form, so print -> parse -> print is a
 * fixed point) and the path as resolved (what the daemon opens).
 *
 * Loading reads the topology that Topology= names (plan_topology_load)
 * and checks that NodeId is one of its nodes and that every Peer= is a
 * neighbour of it (a link in either direction). A loaded dconf owns its
 * topology.
 *
 * Threading: a load touches only its own state; a loaded dconf is read
 * on the loop thread and changes only there (a reload swaps whole
 * dconfs; a changed TLE file swaps the topology, dconf_set_topology).
 */
#ifndef LG_DAEMON_CONFIG_H
#define LG_DAEMON_CONFIG_H

#include <stdint.h>
#include <stdio.h>

#include "log.h"
#include "topology.h"

#define DCONF_DEFAULT_PATH "/etc/lagrange/lagranged.conf" /* without
                                    $CONFIGURATION_DIRECTORY */
#define DCONF_MAX_FILE (1u << 20)   /* bytes in a config file */
#define DCONF_MAX_LINE 4096         /* bytes in one line */
#define DCONF_MAX_PEERS 4096        /* Peer= lines */
#define DCONF_HOST_MAX 254          /* host name or address, incl. NUL */
#define DCONF_ADDR_MAX (DCONF_HOST_MAX + 8) /* "[HOST]:PORT", incl. NUL */
#define DCONF_SUN_PATH_MAX 108      /* sockaddr_un.sun_path, incl. NUL */
#define DCONF_MAX_WARNINGS 100      /* warnings kept */
#define DCONF_DIR_MAX 1024          /* one directory from the environment,
                                       incl. NUL */

/* Defaults (lagranged.conf(5)). The paths are those outside systemd; under
 * it they derive from the directories it gives the service (dconf_dirs). */
#define DCONF_DEF_LISTEN "0.0.0.0:7400"
#define DCONF_DEF_SPOOL_DIR "/var/lib/lagrange/spool"
#define DCONF_DEF_SPOOL_MAX_BYTES (10ull << 30)
#define DCONF_DEF_PARTITION_CACHE_MAX (4ull << 30)
/* StallTimeout: how long a distributed job may go past the later of its
 * predicted completion and its last progress before it fails. */
#define DCONF_DEF_STALL_TIMEOUT 3600.0
#define DCONF_MAX_STALL_TIMEOUT (30 * 86400.0)
#define DCONF_DEF_SPOOL_MAX_BUNDLES 100000ull /* the spool's own default */
#define DCONF_DEF_INBOX_DIR "/var/lib/lagrange/inbox"
#define DCONF_DEF_TLS_CERT "/etc/lagrange/tls/node.crt"
#define DCONF_DEF_TLS_KEY "/etc/lagrange/tls/node.key"
#define DCONF_DEF_TLS_CA "/etc/lagrange/tls/ca.crt"
#define DCONF_DEF_CONTROL_SOCKET "/run/lagrange/lagranged.sock"
#define DCONF_DEF_API_SOCKET "/run/lagrange/api.sock"
#define DCONF_DEF_API_TOKEN_FILE "/etc/lagrange/api.tokens"
#define DCONF_DEF_API_MAX_MESSAGE (64ull << 20)
#define DCONF_DEF_JOB_DIR "/var/lib/lagrange/jobs"
#define DCONF_DEF_MODEL_DIR "/var/lib/lagrange/models"
#define DCONF_DEF_BLOB_DIR "/var/lib/lagrange/blobs"
#define DCONF_DEF_METRICS_LISTEN "127.0.0.1:9474"
#define DCONF_DEF_JOB_RETENTION (7 * 86400.0)
/* Below the unit's TimeoutStopSec=30s, so that systemd never has to
 * SIGKILL a stop. */
#define DCONF_DEF_STOP_TIMEOUT 20.0
#define DCONF_MAX_STOP_TIMEOUT 3600.0
#define DCONF_DEF_MAX_FRAME (2ull << 20)
#define DCONF_DEF_CHUNK_SIZE (1ull << 20)
#define DCONF_DEF_HEARTBEAT 5.0
#define DCONF_DEF_SUSPECT_BEATS 3   /* SuspectAfter: heartbeat intervals */
#define DCONF_DEF_DEAD_BEATS 12     /* DeadAfter: heartbeat intervals */
#define DCONF_MAX_HEALTH_AFTER (30 * 86400.0) /* SuspectAfter, DeadAfter */
#define DCONF_DEF_RECONNECT_MIN 1.0
#define DCONF_DEF_RECONNECT_MAX 60.0
#define DCONF_DEF_TLE_CHECK 60.0

/* Bounds. A frame carries one chunk plus its bundle header (at most
 * 1 KiB, lib/wire) and the frame's own fields, hence the room. */
#define DCONF_MIN_FRAME (4ull << 10)
#define DCONF_MAX_FRAME_LIMIT (256ull << 20) /* = WIRE_FRAME_LIMIT */
#define DCONF_FRAME_ROOM (4ull << 10)
#define DCONF_MAX_DURATION 86400.0  /* timers longer than a day are typos */

/* Webhooks (Webhook= lines, EventDir=, WebhookTimeout=, WebhookRetryFor=;
 * daemon/webhook.h delivers them). */
#define DCONF_MAX_WEBHOOKS 64        /* Webhook= lines */
#define DCONF_URL_MAX 2048           /* a webhook URL, incl. NUL */
#define DCONF_DEF_EVENT_DIR "/var/lib/lagrange/events"
#define DCONF_DEF_WEBHOOK_TIMEOUT 10.0
#define DCONF_DEF_WEBHOOK_RETRY_FOR 86400.0
#define DCONF_MAX_WEBHOOK_RETRY_FOR (30 * 86400.0)

/* The events a webhook can be sent (Events=; the bit of each is 1 << its
 * index in dconf_event_names). */
enum dconf_event {
    DCONF_EV_JOB_COMPLETED = 0, DCONF_EV_JOB_FAILED, DCONF_EV_JOB_CANCELLED,
    DCONF_EV_JOB_EXPIRED, DCONF_EV_NODE_SUSPECT, DCONF_EV_NODE_DEAD,
    DCONF_EV_NODE_RECOVERED, DCONF_EV_NODE_FAULT, DCONF_EV_N
};
#define DCONF_EV_ALL ((1u << DCONF_EV_N) - 1)
/* "job.completed", ... "node.fault", in enum dconf_event order. */
extern const char *const dconf_event_names[DCONF_EV_N];
/* The index of an event name, or -1. */
int dconf_event_find(const char *name);

typedef struct dconf_path {
    char *decl;                  /* as written (the normal form prints it) */
    char *path;                  /* resolved against the config's directory */
} dconf_path;

typedef struct dconf_peer {
    char name[PLAN_NAME_MAX];    /* a neighbour of NodeId in the topology */
    char addr[DCONF_ADDR_MAX];   /* "HOST:PORT" or "[V6]:PORT", as written */
    int node;                    /* its index in the topology */
    int line;                    /* where declared */
} dconf_peer;

typedef struct dconf_webhook {
    char *url;                   /* http:// or https:// URL, as written */
    unsigned events;             /* Events=: bits 1 << enum dconf_event */
    dconf_path secret_file;      /* SecretFile=: HMAC-SHA256 key; decl and
                                    path NULL: unsigned */
    int line;                    /* where declared */
} dconf_webhook;

typedef struct dconf {
    char *file;                  /* config file name, for messages */
    char node_id[PLAN_NAME_MAX]; /* NodeId: this node (required) */
    int node_line;               /* line of NodeId= */
    dconf_path topology;         /* Topology: the shared topology (required) */
    int topology_line;           /* line of Topology= */
    char listen[DCONF_ADDR_MAX]; /* Listen: address for peer sessions */
    dconf_peer *peers;           /* Peer= lines, in declaration order */
    int n_peers;
    dconf_path spool_dir;        /* SpoolDir: bundles kept in custody */
    uint64_t spool_max_bytes;    /* SpoolMaxBytes: stored bytes, > 0 */
    uint64_t spool_max_bundles;  /* SpoolMaxBundles: live bundles, > 0 */
    dconf_path inbox_dir;        /* InboxDir: objects delivered here */
    int tls;                     /* Tls: TLS 1.3 on peer sessions */
    dconf_path tls_cert;         /* TlsCert: this node's certificate (PEM) */
    dconf_path tls_key;          /* TlsKey: its private key (PEM) */
    dconf_path tls_ca;           /* TlsCA: the CA that signs every node */
    dconf_path control_socket;   /* ControlSocket: the local control API */
    enum log_level log_level;    /* LogLevel */
    uint64_t max_frame;          /* MaxFrame: largest frame accepted, bytes */
    uint64_t chunk_size;         /* ChunkSize: tensor chunk per bundle */
    double heartbeat;            /* HeartbeatInterval, s */
    double suspect_after;        /* SuspectAfter: audible silence before
                                    a node is suspect, s */
    double dead_after;           /* DeadAfter: ... before it is dead, s */
    double reconnect_min;        /* ReconnectMin: first retry delay, s */
    double reconnect_max;        /* ReconnectMax: backoff ceiling, s */
    int emulate;                 /* Emulate: delay/rate/windows in user space */
    double tle_check;            /* TleCheckInterval: TLE change checks, s */
    dconf_path api_socket;       /* ApiSocket: gRPC for the local CLI */
    char api_listen[DCONF_ADDR_MAX]; /* ApiListen: gRPC over TLS + token
                                    for remote apps; "" = none */
    dconf_path api_token_file;   /* ApiTokenFile: accepted bearer tokens */
    uint64_t api_max_message;    /* ApiMaxMessage: largest gRPC message */
    dconf_path job_dir;          /* JobDir: durable jobs, inputs, outputs */
    dconf_path model_dir;        /* ModelDir: content-addressed models */
    dconf_path blob_dir;         /* BlobDir: uploaded input blobs */
    int job_workers;             /* JobWorkers: jobs running at once */
    int distribute;              /* Distribute: plan jobs across nodes */
    uint64_t partition_cache_max; /* PartitionCacheMax: bytes of partitions
                                    kept in ModelDir, 0: unbounded */
    double stall_timeout;        /* StallTimeout: s past the prediction and
                                    the last progress, 0: unbounded */
    char metrics_listen[DCONF_ADDR_MAX]; /* MetricsListen: /metrics over
                                    HTTP/1.1; "" = none */
    int metrics_listen_set;      /* written in the file (else the default,
                                    which may fail to bind with a warning) */
    double job_retention;        /* JobRetention: final jobs and uploaded
                                    blobs older than this are removed, s */
    dconf_path jobcomp_log;      /* JobCompLog: one line per finished job;
                                    decl and path NULL: none */
    double stop_timeout;         /* StopTimeout: how long SIGTERM waits for
                                    running jobs and store work before
                                    exiting anyway (they resume at the next
                                    start), s */
    dconf_webhook *webhooks;     /* Webhook= lines, in declaration order */
    int n_webhooks;
    dconf_path event_dir;        /* EventDir: deliveries not yet made */
    double webhook_timeout;      /* WebhookTimeout: one attempt, s */
    double webhook_retry_for;    /* WebhookRetryFor: give a delivery up
                                    this long after its event, s */

    plan_topology *topo;         /* loaded from topology.path; owned */
    int node;                    /* index of node_id in topo */
    char **warnings;             /* "FILE: what", for the caller to print */
    int n_warnings;
} dconf;

/* The directories systemd gives a service (systemd.exec(5)
 * StateDirectory=, RuntimeDirectory=, ConfigurationDirectory=,
 * LogsDirectory=, as $STATE_DIRECTORY and so on): the first of the
 * colon-separated paths of each, "" where unset. The defaults of the
 * paths come from them when set:
 *   state    SpoolDir=S/spool InboxDir=S/inbox JobDir=S/jobs
 *            ModelDir=S/models BlobDir=S/blobs EventDir=S/events
 *   runtime  ControlSocket=R/lagranged.sock ApiSocket=R/api.sock
 *   config   the configuration file C/lagranged.conf, TlsCert=C/tls/node.crt
 *            TlsKey=C/tls/node.key TlsCA=C/tls/ca.crt
 *            ApiTokenFile=C/api.tokens
 *   logs     JobCompLog=L/jobcomp.log (else none)
 * and from the compiled-in DCONF_DEF_* otherwise. */
typedef struct dconf_dirs {
    char state[DCONF_DIR_MAX];
    char runtime[DCONF_DIR_MAX];
    char config[DCONF_DIR_MAX];
    char logs[DCONF_DIR_MAX];
} dconf_dirs;

/* Fill d from the four values (NULL or "" = unset; each may hold several
 * paths separated by ':', the first is taken). A value whose first path
 * is not absolute, holds white space or '#' (the normal form could not
 * print it), or is longer than DCONF_DIR_MAX - 1 is ignored, with a
 * message naming it in warn (the last one wins); returns the number
 * ignored. Pure. */
int dconf_dirs_set(dconf_dirs *d, const char *state, const char *runtime,
                   const char *config, const char *logs, char *warn,
                   size_t warnlen);

/* dconf_dirs_set from $STATE_DIRECTORY, $RUNTIME_DIRECTORY,
 * $CONFIGURATION_DIRECTORY and $LOGS_DIRECTORY. */
int dconf_dirs_from_env(dconf_dirs *d, char *warn, size_t warnlen);

/* The directories every later dconf_parse and dconf_load take their
 * defaults from (copied; NULL = none, the compiled-in defaults). lagranged
 * sets them once, in main, before its first load. Not thread-safe. */
void dconf_set_dirs(const dconf_dirs *d);

/* The configuration file to read without -f: C/lagranged.conf under the
 * directories set, else DCONF_DEFAULT_PATH. Returns buf. */
const char *dconf_default_path(char *buf, size_t len);

/* Read and check path, load its topology and check the config against
 * it. On error returns LG_EMODEL (bad content, the config's or the
 * topology's) or -errno (a file could not be read, out of memory), with
 * "FILE:LINE: what" in err, and *out is NULL. */
int dconf_load(const char *path, dconf **out, char *err, size_t errlen);

/* Parse text only (name is used in messages and to resolve relative
 * paths): syntax, values, required keys. No topology is loaded; topo is
 * NULL and node -1. Same errors as dconf_load. */
int dconf_parse(const char *name, const char *text, size_t len, dconf **out,
                char *err, size_t errlen);

/* Check c against topology t (NodeId a node of t, every Peer a neighbour)
 * and, if it passes, give t to c (freeing the topology c had) and return
 * 0. Otherwise LG_EMODEL with "FILE:LINE: what" in err; c and t are
 * unchanged and t still belongs to the caller. */
int dconf_set_topology(dconf *c, plan_topology *t, char *err, size_t errlen);

void dconf_free(dconf *c);

/* Normal form: every key, defaults spelled out, in a fixed order, then the
 * Peer= lines in declaration order, then the Webhook= lines in theirs.
 * Returns 0 or -EIO. */
int dconf_print(const dconf *c, FILE *f);

/* Split "HOST:PORT" / "[V6]:PORT" (as Listen= and Address= take them) into
 * host (without brackets) and port 1-65535. Returns 0 or -EINVAL. */
int dconf_split_addr(const char *addr, char *host, size_t hostlen,
                     int *port);

/* Durations and sizes in the units of lagrange-topology(5), as the normal
 * form prints them ("5s", "1min", "2M"): for messages and status output. */
const char *dconf_fmt_duration(char *buf, size_t len, double s);
const char *dconf_fmt_size(char *buf, size_t len, uint64_t bytes);

#endif
