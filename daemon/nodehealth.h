/*
 * nodehealth.h - node health in the daemon: this node's own NodeHealth record
 * (jobs, executor load, battery state of charge and sunlight from the
 * topology's power model, fault counters), the gossip of every node's
 * freshest record in heartbeats, and the liveness of every node
 * (lib/plan/health.h) with its log lines and events. lagranged(8), NODE
 * HEALTH.
 *
 * Owns struct dhealth, held by the network (dnet.health): created by
 * dnet_start, its timer closed by dnet_stop, freed with the network.
 *
 * Own record: a timer samples the executor every HeartbeatInterval / 4
 * (50 ms to 500 ms) and integrates the battery over each sample:
 *   E += dt * (solar(t) - (busy ? BusyW : IdleW)) / 3600, clamped to
 *   [0, BatteryWh], from Soc= * BatteryWh at the daemon's start,
 * solar(t) being ArrayW outside the topology's eclipses (t: topology
 * time); a new record (seq + 1) is made every HeartbeatInterval, with
 * load = the busy fraction of the samples since the previous one. Grid
 * nodes report battery_soc -1 and sunlit. Then the liveness table is
 * advanced.
 *
 * Fault counters: fault_spool_quarantined is the spool's count; the
 * executor checksum and ECC counters have no hardware behind them here:
 * the control command "fault KIND [N]" (lagrange fault) adds to them,
 * the hook a real hardware monitor would call.
 *
 * Threading: loop thread only.
 */
#ifndef LG_DAEMON_NODEHEALTH_H
#define LG_DAEMON_NODEHEALTH_H

#include <stddef.h>
#include <stdint.h>

#include "bundle.h"
#include "control.h"
#include "lagranged.h"

typedef struct dhealth dhealth;

/* What `nodes`, ListNodes and /metrics show of topology node i. */
typedef struct dhealth_view {
    const char *state;           /* "up", "suspect", "dead", "unknown" */
    int have;                    /* rec is set */
    wire_health rec;             /* the freshest record */
    double age_s;                /* now - rec.unix_ms, s (>= 0) */
    int audible;                 /* an open path leads here now */
    double silent_s;             /* expected-audible silence, s */
} dhealth_view;

/* 0 and *out filled, or -ENOENT (no such node, or no network). */
int dhealth_node(lagranged *d, int i, dhealth_view *out);

/* THE event seam: every liveness transition and fault increase calls
 * this once, event being "node.suspect", "node.dead", "node.recovered"
 * or "node.fault". It only logs (debug) for now; the webhook module
 * (dhook_emit) is to be called from here. */
void health_event(lagranged *d, const char *event, const char *node,
                  const char *detail);

/* The control command "fault KIND [N]" (KIND exec_checksum, ecc or
 * upset: an ECC error whose damage the next N tensors this node sends
 * carry, a drill for the receivers' checks). */
int dhealth_cmd_fault(void *ctx, const char *args, control_out *o);

/* 1 if a tensor about to be sent must be mangled ("fault upset"), which
 * uses one up; 0 otherwise. */
int dhealth_take_upset(lagranged *d);

#endif
