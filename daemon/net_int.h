/*
 * net_int.h - the state shared by peer.c (sessions, link emulation) and
 * relay.c (bundles, routing, delivery, ping). Not for other modules: they
 * use net.h.
 *
 * Objects and who owns them:
 *
 *   dnet     one per daemon: the listener, the TLS context, the store, the
 *            inbox, the peers, the routing table, the objects being
 *            reassembled here, the pings waiting for their pong.
 *   dpeer    one per neighbour in the topology (a link in either
 *            direction), allocated on its own so that sessions and
 *            timers may point at it while the set changes. A reload
 *            (net_peers_reload) adds the new neighbours and removes the
 *            gone ones: a removed dpeer leaves n->peers at once, closes
 *            its sessions and its timer, and is freed when the timer is
 *            closed and no name lookup for it is running (the sessions
 *            forget it first). Holds the outbound link's emulation clock,
 *            the operator's up/down switch, the reconnect backoff and the
 *            counters that `links` shows.
 *   dsess    one TCP connection. Its state machine:
 *
 *     CONNECTING --tcp up--> HANDSHAKE --TLS done (or Tls=no)--> HELLO
 *     HELLO --peer's Hello, names agree, version ok--> UP
 *     any --error, Goodbye, EOF, silence, link down--> CLOSING --> freed
 *
 *            Inbound sessions start in HANDSHAKE and learn their dpeer from
 *            the certificate (then the Hello). A dpeer has at most one UP
 *            session; of two (both sides dialed), the one dialed by the
 *            node with the smaller name stays. A dsess is freed when its
 *            handles are closed and no store request refers to it
 *            (refs).
 *
 * Custody: a bundle sent on a session is in its in-flight table until the
 * peer's Ack (then DSTORE_ACK deletes it from the spool) or until the
 * session ends or the ack is overdue (then DSTORE_RELEASE makes it
 * sendable again; the receiver dedups a resend by id).
 *
 * Spool payloads are whole frames (length prefix included), already with
 * the hop count this node sends, so forwarding is a read and a write.
 *
 * Threading: loop thread only.
 */
#ifndef LG_DAEMON_NET_INT_H
#define LG_DAEMON_NET_INT_H

#include <stdint.h>
#include <uv.h>

#include "bundle.h"
#include "config.h"
#include "frame.h"
#include "inbox.h"
#include "lagranged.h"
#include "net.h"
#include "store.h"
#include "tlsio.h"

#define NET_READ_SLICE (4u << 20)       /* socket read buffer: a 1 MiB frame
                                           usually fits whole, uncopied */
#define NET_ENDED_MAX 1024              /* ended jobs remembered */
#define NET_FETCH_MAX 4                 /* NEXT/READ pairs in flight/session */
#define NET_INFLIGHT_MAX 512            /* bundles sent, not yet acked */
#define NET_INFLIGHT_BYTES (128u << 20) /* their bytes */
#define NET_BACKLOG_BYTES (8u << 20)    /* pipe + socket queue, then wait */
#define NET_RX_STORE_BYTES (64u << 20)  /* received, not yet durable: then
                                           stop reading the socket */
#define NET_LOOKAHEAD 0.05              /* s of emulated transmission
                                           scheduled ahead */
#define NET_HANDSHAKE_TIMEOUT 15.0      /* s to reach UP */
#define NET_ACK_TIMEOUT 60.0            /* s (+ 2 delays) before a resend */
#define NET_MAX_PENDING_SESS 64         /* sessions not yet UP */
#define NET_MAX_OBJECTS 1024            /* objects being reassembled here */
#define NET_MAX_CHUNKS 65536            /* chunks per object */
#define NET_MAX_PINGS 64
#define NET_LOCAL_MAX ((uint64_t)1 << 30) /* lagrange send: largest file */

typedef enum sess_state {
    SESS_CONNECTING = 0,
    SESS_HANDSHAKE,
    SESS_HELLO,
    SESS_UP,
    SESS_CLOSING
} sess_state;

typedef struct dpeer dpeer;
typedef struct dsess dsess;

/* A frame waiting for its emulated release time. */
typedef struct pframe {
    struct pframe *next;
    double release;              /* hr seconds */
    uint8_t *buf;                /* whole frame, owned */
    size_t len;
} pframe;

/* A bundle sent and not yet acked. */
typedef struct inflight {
    uint8_t id[WIRE_ID_LEN];
    uint64_t bytes;
    double sent;                 /* hr seconds */
    int used;
} inflight;

struct dsess {
    dnet *net;
    dpeer *peer;                 /* NULL until known (inbound) */
    sess_state state;
    int inbound;
    int refs;                    /* store requests pointing here */
    int handles;                 /* open uv handles (tcp, 2 timers) */
    uv_tcp_t tcp;
    uv_connect_t creq;
    uv_timer_t hb_timer;         /* heartbeats, silence, ack timeouts */
    uv_timer_t pipe_timer;       /* next emulated release */
    wire_tls *tls;               /* NULL with Tls=no */
    wire_frame_reader rd;
    char peer_name[WIRE_NODE_MAX]; /* from the certificate or the Hello */
    char addr[DCONF_ADDR_MAX];   /* remote address, for logs */
    uint32_t peer_max_frame;     /* from its Hello */
    int reading;
    uint8_t *rbuf;               /* NET_READ_SLICE, plaintext after TLS */
    double opened;               /* hr seconds */
    double last_rx;              /* hr seconds */
    uint64_t hb_seq;
    int hb_cursor;               /* next health record to gossip here */
    /* sending */
    pframe *pipe_head, *pipe_tail;
    size_t pipe_bytes;
    int fetching;                /* NEXT/READ pairs in flight */
    int idle;                    /* the spool had nothing for us */
    inflight *infl;              /* NET_INFLIGHT_MAX slots */
    int n_infl;
    uint64_t infl_bytes;
    /* receiving */
    uint8_t (*acks)[WIRE_ID_LEN];/* ids to ack, WIRE_ACK_MAX slots */
    int n_acks;
    int puts;                    /* PUTs outstanding for this session */
    uint64_t put_bytes;
    struct dsess *prev, *next;   /* dnet's list */
};

struct dpeer {
    dnet *net;
    int idx;                     /* its index in n->peers (next_hop[]) */
    int removed;                 /* no longer a neighbour: closing */
    int resolving;               /* getaddrinfo requests in flight */
    uint64_t win_out, win_in;    /* fingerprints of the links' windows,
                                    for the reload's log */
    char name[WIRE_NODE_MAX];
    int node;                    /* topology index */
    int out_link;                /* topology link self -> peer, or -1 */
    char addr[DCONF_ADDR_MAX];   /* "" if the peer dials us */
    int admin_down;              /* lagrange link down */
    dsess *sess;                 /* the UP session, or NULL */
    dsess *dialing;              /* our outbound attempt, or NULL */
    uv_timer_t retry;            /* reconnect backoff; pump wakeups */
    int retry_open;
    double backoff;              /* current delay, s */
    double next_free;            /* emulation: transmitter free at (hr s) */
    double wake_at;              /* pump timer armed for (hr s), 0 none */
    /* counters for `links` */
    uint64_t tx_bytes, rx_bytes, tx_bundles, rx_bundles, sessions;
    uint64_t acked, resent, refused;
    double up_since;             /* hr s, 0 when down */
    char last_err[256];
};

/* An object being reassembled at its destination. */
typedef struct dobject {
    dnet *net;
    inbox_object o;
    uint8_t (*ids)[WIRE_ID_LEN]; /* chunk i's bundle id; zero if missing */
    uint8_t *have;               /* chunk i stored here */
    uint32_t n_have;
    int delivering;
    struct dobject *next;
} dobject;

/* A ping waiting for its pong. */
typedef struct dping {
    dnet *net;
    double timeout;              /* s */
    uint8_t id[WIRE_ID_LEN];     /* the ping bundle's id */
    char dst[WIRE_NODE_MAX];
    double sent;                 /* hr seconds */
    control_later *later;
    uv_timer_t timer;            /* gives up after its timeout */
    int timer_open;
    struct dping *next;
} dping;

struct dnet {
    lagranged *d;
    int stopping;
    void (*done)(void *);
    void *done_arg;
    int handles;                 /* listener, timers, peer timers */
    int sess_count;              /* sessions not yet freed */
    dstore *store;
    int store_open;
    inbox *ib;
    wire_tls_ctx *tls;
    uv_tcp_t listener;
    int listening;
    uv_timer_t tick;             /* 1 s: routes, windows, expiry */
    dpeer **peers;               /* the neighbours now; see dpeer */
    int n_peers, cap_peers;
    uint64_t rx_gone;            /* rx_bundles of removed peers (the
                                    metrics counter never goes back) */
    wire_tls_ctx *tls_next;      /* loaded by dnet_reload_check ... */
    int tls_next_set;            /* ... and taken by dnet_reload */
    int tls_changed;             /* Tls or its files changed: sessions
                                    are set up again */
    dsess *sessions;             /* every session, any state */
    int n_pending;               /* not yet UP */
    /* routing: next_hop[node] = peer index or -1 */
    int *next_hop;
    int n_route_nodes;           /* entries in next_hop */
    /* split horizon: came_from[dst * sh_peers + peer] = 1 once a bundle
     * for dst came from that peer while it was (or since) this node's
     * first hop for dst is the same peer; cleared for dst when its first
     * hop changes (relay.c, relay_routes) */
    uint8_t *came_from;
    int sh_nodes, sh_peers;
    int tick_open;
    uint64_t ticks;
    int done_set;                /* dnet_stop called */
    double routes_at;            /* topology time of the last computation */
    dobject *objects;
    int n_objects;
    dping *pings;
    int n_pings;
    uint64_t delivered, originated, forwarded, expired, refused;
    /* jobs that ended (dnet_drop_job): bundles of theirs that still
     * arrive are dropped; a ring of the last NET_ENDED_MAX */
    struct { char job[WIRE_JOB_MAX]; uint32_t epoch; } ended[NET_ENDED_MAX];
    int n_ended, ended_next;
    uint64_t job_dropped, job_dropped_bytes; /* bundles, payload bytes */
    struct dhealth *health;      /* node health (nodehealth.c) */
    dnet_hooks hooks;            /* distributed jobs (net.h) */
};

/* peer.c */
double net_hr(void);                      /* monotonic seconds */
uint64_t net_unix_ms(void);               /* wall clock, Unix ms */
dpeer *net_peer_by_name(dnet *n, const char *name);
dpeer *net_peer_by_node(dnet *n, int node);
int net_peers_init(dnet *n, char *err, size_t errlen);
int net_listen(dnet *n, char *err, size_t errlen);
void net_peers_start(dnet *n);
void net_peers_stop(dnet *n);
/* Free the dpeers left once everything is closed (the store's close). */
void net_peers_free(dnet *n);
/* Re-read node and link indices (the topology may have been swapped by
 * a TLE change); addresses and the neighbour set change only through
 * net_peers_reload. */
void net_peers_refresh(dnet *n);
/* The configuration or the topology was swapped: apply the difference
 * to the neighbour set (see dnet_reload in net.h), one log line per
 * change. The caller recomputes the routes after. */
void net_peers_reload(dnet *n);
/* Dial p now if it has an address and no session. */
void net_peers_redial(dpeer *p);
void sess_start_reading(dsess *s);
/* Send a whole frame (length prefix included) on s through the emulated
 * link; takes buf. is_bundle: counts against the rate and waits for the
 * window (control frames only wait for the delay). */
void sess_send(dsess *s, uint8_t *buf, size_t len, int is_bundle);
void sess_close(dsess *s, const char *why, int goodbye);
void sess_unref(dsess *s);
/* Something new may be sendable on p (or on every peer: NULL). */
void net_kick(dnet *n, dpeer *p);
/* Where a link stands now: 1 open (rate/delay filled), 0 closed (*opens
 * gets the topology time of the next window, INFINITY if none). */
int peer_window(const dpeer *p, double *rate, double *delay, double *opens,
                double *closes);
const char *sess_state_name(sess_state s);

/* relay.c */
int relay_start(dnet *n, char *err, size_t errlen);
void relay_stop(dnet *n);
/* While stopping: once no handle and no session is left, close the
 * store; done() runs when it is closed. */
void net_check_done(dnet *n);
/* A bundle frame arrived on s (body: frame body without length prefix;
 * b decoded from it, payload pointing into body). */
void relay_on_bundle(dsess *s, const wire_bundle *b, const uint8_t *body,
                     size_t len);
void relay_routes(dnet *n);               /* recompute next_hop[] */
/* The spool filter for bundles whose next hop is p. */
int relay_filter(dnet *n, dpeer *p, spool_filter *f);
void relay_filter_free(spool_filter *f);

/* nodehealth.c (the public part is nodehealth.h) */
int dhealth_start(dnet *n, char *err, size_t errlen);
void dhealth_stop(dnet *n);              /* close the timer */
void dhealth_free(dnet *n);
/* The configuration or topology was swapped (dnet_reload). */
void dhealth_reload(dnet *n);
/* This node's record and others' into a heartbeat for s, as many as fit
 * the peer's max_frame. */
void dhealth_fill(dnet *n, dsess *s, wire_heartbeat *hb);
/* The records of a heartbeat that arrived on s. */
void dhealth_received(dnet *n, dsess *s, const wire_heartbeat *hb);

#endif
