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

/* The configuration was reloaded: pick up new peer addresses, timers and
 * the new topology's windows and routes. Sessions stay up. */
void dnet_reload(dnet *n);

/* Control commands: links (replaces the report's), link, ping, send,
 * inbox, spool. */
extern const control_cmd dnet_cmds[];

#endif
