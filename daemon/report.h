/*
 * report.h - what the control socket answers: the daemon's status and the
 * state of the links leaving this node, as JSON lines (lagrange status,
 * lagrange links). Reads the lagranged state; changes nothing.
 *
 * Threading: loop thread only.
 */
#ifndef LG_DAEMON_REPORT_H
#define LG_DAEMON_REPORT_H

#include "control.h"
#include "topology.h"

/* The command table for control_open; ctx is the struct lagranged. */
extern const control_cmd report_cmds[];

/* Where link k stands at topology time t (seconds after the epoch):
 * the window open at t or the next one, NULL if none is left before the
 * horizon. */
const plan_window *report_window_at(const plan_link *k, double t);

#endif
