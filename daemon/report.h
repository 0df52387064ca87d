/*
 * report.h - the control socket's "status" (lagrange status) and the
 * topology-time helpers behind "links" (daemon/relay.c). Reads the
 * lagranged state; changes nothing.
 *
 * Threading: loop thread only.
 */
#ifndef LG_DAEMON_REPORT_H
#define LG_DAEMON_REPORT_H

#include "control.h"
#include "topology.h"

/* The command table for control_open; ctx is the struct lagranged. */
extern const control_cmd report_cmds[];

/* Topology time now: seconds after the topology's Epoch by the wall
 * clock, or after the daemon's start if it has none. */
struct lagranged;
double report_topo_now(const struct lagranged *d);

/* Where link k stands at topology time t (seconds after the epoch):
 * the window open at t or the next one, NULL if none is left before the
 * horizon. */
const plan_window *report_window_at(const plan_link *k, double t);

#endif
