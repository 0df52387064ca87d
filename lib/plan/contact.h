/*
 * contact.h - moving bytes over scheduled links: transmission inside
 * contact windows (spanning several windows when one closes first), and
 * earliest-arrival routing over the time-varying contact graph, as DTN
 * contact-graph routing does.
 *
 * Owns the window arithmetic and the router's scratch state. Pure
 * functions of a read-only plan_topology; a plan_router is used by one
 * thread at a time.
 *
 * Semantics (lagrange-topology(5), "Transfers"):
 *  - a link transmits only inside its windows, at the window's rate;
 *  - a byte sent at time s arrives at s + the window's delay;
 *  - a transfer may pause at a window's end and resume in the next one;
 *  - routing is store-and-forward: a hop forwards a bundle only once it
 *    holds all of it, so arrival over a path is the composition of each
 *    link's send; every link's send is non-decreasing in its start time
 *    (FIFO), which is what makes label-setting (Dijkstra) exact.
 */
#ifndef LG_PLAN_CONTACT_H
#define LG_PLAN_CONTACT_H

#include <stdint.h>

#include "topology.h"

/* One leg of a transfer: bytes sent over one link inside one window. */
typedef struct plan_leg {
    int link;                    /* index into topology links */
    int window;                  /* index into that link's windows */
    double start, end;           /* transmission interval, inside window */
    double arrive;               /* end + the window's delay */
    uint64_t bytes;
} plan_leg;

/* Send `bytes` over link l, not starting before t. Returns the arrival
 * time at l->to of the last byte (max over legs of end + delay), or
 * INFINITY if the link's windows end before the bytes are sent. A
 * zero-byte send still needs an open window: it arrives at the first
 * open instant + delay. *first (if not NULL) gets the instant the first
 * byte leaves, so that first - t is the wait for the contact. If legs is
 * not NULL, up to max_legs legs are written and *n_legs set to the number
 * needed (which may exceed max_legs). */
double plan_link_send(const plan_link *l, double t, uint64_t bytes,
                      double *first, plan_leg *legs, int max_legs,
                      int *n_legs);

/* Index of the first window of l ending after t (the one open at t or the
 * next to open), or l->n_win if none. Binary search. */
int plan_link_window_at(const plan_link *l, double t);

/* 1 if sending later never arrives earlier on l (each window's first
 * arrival, start + delay, is no earlier than the previous window's last,
 * end + delay), else 0. plan_route is exact only over FIFO links; a
 * topology loader can warn about the others. */
int plan_link_fifo(const plan_link *l);

typedef struct plan_router plan_router;

plan_router *plan_router_new(const plan_topology *t);
void plan_router_free(plan_router *r);

/* Multi-source earliest arrival of one bundle of `bytes` bytes.
 *  ready[n]:    when the bundle is available at node n (INFINITY: not
 *               there); several sources may be given.
 *  link_free:   optional (NULL), per link, the earliest instant the link
 *               may start a new transmission (reservations by earlier
 *               transfers of the same plan).
 *  relay_ok:    optional (NULL), per node, 0 forbids forwarding through
 *               that node (it may still be a source or destination).
 * Fills arrive[n] (INFINITY if unreachable) and via[n], the link over
 * which n is reached (-1 at a source or if unreachable). Returns 0 or
 * -ENOMEM. O(E log V). */
int plan_route(plan_router *r, uint64_t bytes, const double *ready,
               const double *link_free, const unsigned char *relay_ok,
               double *arrive, int *via);

/* Prune later plan_route calls: arrivals later than cutoff are left at
 * INFINITY (and sources ready later keep their own time without
 * forwarding). Every finite arrival stays exact. INFINITY (the default)
 * turns pruning off. For callers that hold an upper bound on what is
 * worth reaching. */
void plan_router_set_cutoff(plan_router *r, double cutoff);

/* The links from the source to dst, in order, from a via[] filled by
 * plan_route. Returns the hop count (0 if dst is a source; -1 if
 * unreachable); writes at most max links. */
int plan_route_path(const plan_topology *t, const int *via, int dst,
                    int *links, int max);

#endif
