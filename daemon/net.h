/*
 * net.h - lagranged's network of peers: sessions with neighbours over TCP
 * (TLS 1.3 with mutual authentication unless Tls=no), the user-space link
 * emulation, custody transfer through the spool, forwarding hop by hop,
 * delivery at the destination, and the control commands that drive them
 * (links, link, ping, send, inbox).
 *
 * The entry points main.c calls. Everything else is in net_int.h, shared
 * by peer.c (sessions, emulation) and relay.c (bundles, routing,
 * delivery, ping).
 *
 * Threading: loop thread only; spool work runs on the threadpool through
 * daemon/store.c.
 */
#ifndef LG_DAEMON_NET_H
#define LG_DAEMON_NET_H

#include <stddef.h>

#include "control.h"

struct lagranged;
typedef struct dnet dnet;

/* Open the spool and the inbox (recovering both), load the TLS identity,
 * listen for peers, start dialing the neighbours with an address. Returns
 * 0, or a negative code with the reason in err (the daemon then exits). */
int dnet_start(struct lagranged *d, dnet **out, char *err, size_t errlen);

/* Close every session (with a Goodbye), the listener and the timers, then
 * let queued spool work finish and close the spool. done(arg) runs once
 * the last handle is closed. */
void dnet_stop(dnet *n, void (*done)(void *arg), void *arg);

/* What is in flight, for the stop's log line: "N sessions, M objects
 * partly received (NAME, K/T chunks; ...), B bundles sent and not yet
 * acked, S in the spool". Returns the length written (truncated to
 * len). */
size_t dnet_describe(dnet *n, char *buf, size_t len);

struct dconf;

/* Before a reload swaps the configuration: check what the network needs
 * from nc (with Tls=yes, load its certificate, key and CA again: a
 * renewed certificate is used by the next sessions). 0, or a negative
 * code with the reason in err: then the reload is refused and the
 * running configuration stays. Warns about settings that change only at
 * a restart (Listen, SpoolDir, InboxDir). */
int dnet_reload_check(dnet *n, const struct dconf *nc, char *err,
                      size_t errlen);

/* The configuration (after dnet_reload_check) or the topology (a TLE
 * change) was swapped: apply the difference to the neighbours, logging
 * one line per change.
 *   - a new neighbour is created and dialed (if it has an Address);
 *   - an unchanged one (same name, Address and TLS settings) keeps its
 *     session untouched; the new topology's windows, rates and delays
 *     apply at once;
 *   - one whose Address changed: the session this node dialed is closed
 *     with a Goodbye and the new address dialed (a session the peer
 *     dialed stays);
 *   - one no longer a neighbour: its sessions are closed with a Goodbye,
 *     the bundles in flight to it are released in the spool and routed
 *     again (nothing is deleted), and it is freed once its handles are
 *     closed. Its sessions are then refused, with a log line.
 *   - changed TLS settings (Tls, TlsCert, TlsKey, TlsCA): every session
 *     is closed and set up again with the new identity.
 * Then the routes are recomputed. */
void dnet_reload(dnet *n);

/* Control commands: links (replaces the report's), link, ping, send,
 * inbox, spool. */
extern const control_cmd dnet_cmds[];

/* One link of this node, as the API's ListLinks and ListNodes show it. */
typedef struct dnet_link {
    char peer[64];               /* the neighbour */
    char state[24];              /* up, connecting, retrying, waiting,
                                    down(admin) */
    int session_up;              /* a session is up */
    int window_open;             /* the emulated contact window is open */
    double rate_bps;             /* emulated rate now, bit/s (0: none) */
    double delay_s;              /* one-way delay now, s */
    uint64_t tx_bytes, rx_bytes; /* since start */
    int inflight;                /* bundles sent, not yet acked */
} dnet_link;

/* Fill up to max links; returns how many (0 when the network is off). */
int dnet_links(struct lagranged *d, dnet_link *out, int max);

/* Bundle counters and spool use, for /metrics. */
typedef struct dnet_counters {
    uint64_t spool_bundles, spool_bytes; /* stored now */
    uint64_t quarantined;        /* spool entries set aside */
    uint64_t originated;         /* bundles created here */
    uint64_t received;           /* bundles taken into custody from peers */
    uint64_t forwarded;          /* handed to a next hop (acked) */
    uint64_t delivered;          /* objects delivered here */
    uint64_t expired;            /* dropped at the end of their lifetime */
    uint64_t refused;            /* refused from peers */
    uint64_t job_dropped;        /* dropped because their job ended */
    uint64_t job_dropped_bytes;  /* their payload bytes */
} dnet_counters;

/* 0, or -ENOTCONN when the network is not started. */
int dnet_get_counters(struct lagranged *d, dnet_counters *out);

/* ---- what distributed jobs use (scheduler_dist.c) ----------------------- */

/* done(arg, 0, NULL) once every chunk of an object is durable in the spool
 * (from then on it is delivered, whatever happens to this process), or
 * done(arg, -errno, why). Runs on the loop thread, never inside the call
 * that started the send. */
typedef void (*dnet_sent_cb)(void *arg, int rc, const char *err);

typedef struct dnet_object {
    const char *dst;             /* a node of the topology (this one too) */
    const char *name;            /* the bundles' name (< 256 bytes) */
    int kind;                    /* WIRE_KIND_TENSOR_CHUNK, _PARTITION */
    const uint8_t *object_id;    /* 16 bytes, or NULL: a random one. The
                                    destination's inbox delivers an object
                                    id once: a second copy is dropped */
    unsigned priority;           /* 0..7 */
    uint64_t lifetime_ms;
    const char *job;             /* the job it belongs to (NULL: none), at
                                    most 16 bytes: its bundles carry it */
    unsigned job_epoch;          /* that job's epoch */
    const char *path;            /* the bytes: this file's (read on the
                                    threadpool) ... */
    uint8_t *data;               /* ... or these, taken (freed by the net,
                                    also on an error) */
    size_t len;
} dnet_object;

/* Store an object for dst in the spool, chunked at ChunkSize (read and
 * hashed on the threadpool); routing and custody take it from there.
 * 0 (done will be called) or -errno (it will not): -ESHUTDOWN stopping or
 * no network, -EINVAL unknown node, bad priority or name, file errors. */
int dnet_send_object(struct lagranged *d, const dnet_object *o,
                     dnet_sent_cb done, void *arg);

/* A CONTROL bundle named name (payload p, len bytes) for dst, at the
 * highest priority; durable and on its way once stored (no callback).
 * 0 or -errno. */
int dnet_send_control(struct lagranged *d, const char *dst, const char *name,
                      const uint8_t *p, size_t len, uint64_t lifetime_ms);
/* The same for a bundle of job `job` (epoch job_epoch; NULL: none). A
 * "job.end" bundle carries the job (and epoch, 0: all) that ended. */
int dnet_send_control_job(struct lagranged *d, const char *dst,
                          const char *name, const uint8_t *p, size_t len,
                          uint64_t lifetime_ms, const char *job,
                          unsigned job_epoch);

/* A job (one epoch of it, or all when epoch is 0) ended: drop every
 * bundle of it from this node's spool, durably (in flight ones too),
 * remember it so that its bundles that still arrive are dropped on
 * arrival, and log "job J: dropped N bundles (B bytes) from the spool:
 * WHY" (also when N is 0, the first time this node hears of it).
 * If end (the JobEnd payload, endlen bytes) is given and this node had
 * not heard of this end before, a "job.end" bundle carrying it goes to
 * every destination of the dropped bundles other than this node and
 * those in skip[0..nskip) (the nodes told already): so the end follows
 * the job's bundles to the relays on their way. 0, or -errno
 * (-ESHUTDOWN: no network; -EINVAL: bad job). */
int dnet_drop_job(struct lagranged *d, const char *job, unsigned epoch,
                  const char *why, const uint8_t *end, size_t endlen,
                  const char *const *skip, int nskip);
/* 1 if this node has heard that (job, epoch) ended (dnet_drop_job). */
int dnet_job_ended(struct lagranged *d, const char *job, unsigned epoch);

/* Who consumes what arrives here (set once, after dnet_start) and what
 * passes through:
 *  - on_control: a CONTROL bundle for this node whose name the network
 *    does not handle (ping and pong it does). Return 1 to take it: the
 *    bundle then stays in the spool (and comes back through on_control at
 *    the next start) until dnet_control_done(id); 0: not understood, it is
 *    logged and deleted. b and its payload are valid during the call.
 *  - on_delivered: an object was delivered into InboxDir (the file
 *    InboxDir/<32 hex object id>); again = 1 if it had been before (a
 *    second copy, dropped). */
struct wire_bundle;
struct inbox_object;
typedef struct dnet_hooks {
    int (*on_control)(void *arg, const struct wire_bundle *b);
    /* A "job.end" CONTROL bundle for another node passed through here
     * (stored, to be forwarded): b's payload is valid during the call. */
    void (*on_transit_end)(void *arg, const struct wire_bundle *b);
    void (*on_delivered)(void *arg, const struct inbox_object *o, int again);
    void *arg;
} dnet_hooks;
void dnet_set_hooks(struct lagranged *d, const dnet_hooks *h);
/* How a bundle for node leaves this node now: 0, with the first hop's
 * name, whether its window is open, and when the next one opens (s from
 * now, INFINITY: none before the horizon); -ENOENT if node is this one or
 * has no route. */
int dnet_first_hop(struct lagranged *d, const char *node, char *hop,
                   size_t hoplen, int *open, double *opens_in);
/* Delete a CONTROL bundle taken by on_control (durable at the next batch). */
void dnet_control_done(struct lagranged *d, const uint8_t id[16]);

#endif
