/*
 * health.h - what this node knows of every node's health, and whether
 * each is alive: the table of the freshest NodeHealth record per node
 * (gossiped in heartbeats, lib/wire/bundle.h) and the liveness state
 * machine fed by it.
 *
 * Owns plan_health. Pure: no clock and no I/O; the caller passes the
 * time and gets transitions through a callback. One thread at a time.
 *
 * Freshness: of two records of a node, the one with the higher
 * (boot_unix_ms, seq) wins, so a restarted node (seq from 0, newer boot)
 * replaces its old self. Records that break wire_health_validate, name a
 * node not in the topology, name this node, or claim a time more than
 * PLAN_HEALTH_SKEW_MAX in the future are ignored (a garbage record could
 * otherwise win forever).
 *
 * Liveness, per node other than this one (always UP):
 *
 *   UNKNOWN --first record--> UP --silence >= suspect_after--> SUSPECT
 *   SUSPECT --silence >= dead_after--> DEAD   (UP may jump straight there)
 *   SUSPECT | DEAD --a newer record--> UP ("recovered")
 *
 * Silence is not wall time since the last record: a node out of contact
 * is expected to be silent. It is the time, after the freshest record
 * could at the earliest have arrived, during which the contact plan says
 * the node could be heard: plan_health_advance counts the interval since
 * its previous call only if, at that moment, a path of links whose
 * windows are open leads from the node to this one, and only the part
 * after the record's origin time + the path's one-way light time + one
 * gossip interval per hop (a record is passed on with the next
 * heartbeat). The audibility is sampled once per call, so the caller
 * calls often (every heartbeat interval).
 */
#ifndef LG_PLAN_HEALTH_H
#define LG_PLAN_HEALTH_H

#include "bundle.h"
#include "topology.h"

#define PLAN_HEALTH_SKEW_MAX 3600.0     /* s a record may be ahead of us */

enum plan_hstate {
    PLAN_H_UNKNOWN = 0,          /* never heard of (since our start) */
    PLAN_H_UP,
    PLAN_H_SUSPECT,
    PLAN_H_DEAD
};

enum plan_hevent {
    PLAN_HE_HEARD = 0,           /* UNKNOWN -> UP: first record */
    PLAN_HE_SUSPECT,             /* UP -> SUSPECT */
    PLAN_HE_DEAD,                /* UP | SUSPECT -> DEAD */
    PLAN_HE_RECOVERED,           /* SUSPECT | DEAD -> UP */
    PLAN_HE_FAULT                /* a fault counter went up */
};

/* Result of plan_health_offer. */
enum plan_hoffer {
    PLAN_HO_NEWER = 0,           /* kept: the freshest record now */
    PLAN_HO_OLDER,               /* not newer than the one held */
    PLAN_HO_SELF,                /* names this node */
    PLAN_HO_UNKNOWN_NODE,        /* not in the topology */
    PLAN_HO_BAD                  /* breaks the rules or is from the future */
};

typedef struct plan_hnode {
    int have;                    /* rec is set */
    wire_health rec;             /* the freshest record */
    enum plan_hstate state;
    double silent;               /* expected-audible silence, s */
    double heard_at;             /* caller's time rec arrived, Unix s */
    int audible;                 /* at the last advance */
    double lag;                  /* its expected lag then, s (INFINITY:
                                    no open path) */
} plan_hnode;

/* Transition callback: node index, event, and one line of why (no node
 * name: "silent for 15.2 s while reachable (last heard 19:02:11Z)"). */
typedef void (*plan_health_cb)(void *arg, int node, enum plan_hevent ev,
                               const char *detail);

typedef struct plan_health plan_health;

/* A table for topology t seen from node `self` (must be in t). suspect
 * and dead: the silence limits, s (0 < suspect <= dead). gossip: the
 * per-hop forwarding lag, s (the heartbeat interval). NULL: out of
 * memory or self not in t. t is only read during calls. */
plan_health *plan_health_new(const plan_topology *t, const char *self,
                             double suspect, double dead, double gossip,
                             plan_health_cb cb, void *arg);
void plan_health_free(plan_health *h);

/* Limits changed (reload). */
void plan_health_set_limits(plan_health *h, double suspect, double dead,
                            double gossip);

/* The topology was replaced: entries move by name, those whose node is
 * gone are dropped. -ENOMEM (table unchanged) or -ENOENT (self is not in
 * t; unchanged). */
int plan_health_rebind(plan_health *h, const plan_topology *t,
                       const char *self);

/* This node's own record (always UP). */
void plan_health_set_self(plan_health *h, const wire_health *r);

/* A record received at `now` (Unix s). May call back RECOVERED / HEARD
 * and FAULT. */
enum plan_hoffer plan_health_offer(plan_health *h, const wire_health *r,
                                   double now);

/* Account silence up to `now` (Unix s), with the contact plan sampled at
 * topology time tt; windows 0 treats every link as always open (no
 * emulation). Calls back SUSPECT / DEAD. */
void plan_health_advance(plan_health *h, const plan_topology *t, double now,
                         double tt, int windows);

int plan_health_n(const plan_health *h);
int plan_health_self(const plan_health *h);
/* Entry of topology node i (NULL if out of range). */
const plan_hnode *plan_health_get(const plan_health *h, int i);

const char *plan_hstate_name(enum plan_hstate s);   /* "up", ... */
const char *plan_hevent_name(enum plan_hevent e);   /* "node.suspect", ... */

/* Fill lag[n] (s) with the least one-way light time over paths n -> to
 * whose links are all open at tt, plus `gossip` per hop (INFINITY: no such
 * path; lag[to] = 0). windows 0: every link counts as open. O(V * E)
 * worst case (Bellman-Ford over the links). */
void plan_health_audible(const plan_topology *t, int to, double tt,
                         int windows, double gossip, double *lag);

#endif
