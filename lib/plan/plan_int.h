/*
 * plan_int.h - pieces shared by the planner's own files (eval.c, dp.c,
 * sched.c, baseline.c, solve.c): the incremental simulation state that
 * the evaluator and the list scheduler both advance, and small helpers.
 * Not part of the library's interface.
 */
#ifndef LG_PLAN_INT_H
#define LG_PLAN_INT_H

#include <math.h>

#include "contact.h"
#include "plan.h"
#include "power.h"

#define PLAN_EPS 1e-9

/* Simulation state: when each node and link is next free, each node's
 * busy intervals (for its battery), and routing scratch. */
typedef struct plan_sim {
    const plan_problem *p;
    plan_router *r;
    double *free_at;             /* per node */
    plan_interval **busy;        /* per node, sorted, merged when adjacent */
    int *n_busy, *cap_busy;
    double *link_free;           /* per link */
    double *ready;               /* routing scratch, per node (INFINITY) */
    double *arrive;              /* per node */
    int *via;                    /* per node */
    int *path;                   /* per node (hop list) */
} plan_sim;

int plan_sim_init(plan_sim *s, const plan_problem *p);
void plan_sim_free(plan_sim *s);
/* Route `bytes` from node a (ready at t) to node b and commit the link
 * reservations. Returns the arrival (INFINITY if no route). If x is not
 * NULL its first_send / wait / wait_link and legs are filled, the legs
 * appended to sc. */
double plan_sim_send(plan_sim *s, int a, int b, double t, uint64_t bytes,
                     plan_xfer *x, plan_sched *sc);
/* Earliest start of a run of `dur` seconds on node n, no earlier than
 * `ready` and the node's free time; INFINITY if the battery never allows
 * it. *wait says why it is later than ready. Does not commit. */
double plan_sim_start(const plan_sim *s, int n, double ready, double dur,
                      enum plan_wait *wait);
/* Commit a run [start, start + dur) on node n. 0 or -ENOMEM. */
int plan_sim_commit(plan_sim *s, int n, double start, double dur);

/* Objective comparison of two evaluated schedules: <0 if a is better. */
int plan_sched_cmp(const plan_problem *p, const plan_sched *a,
                   const plan_sched *b);
/* Deep copy src into dst (dst freed first). 0 or -ENOMEM. */
int plan_sched_copy(plan_sched *dst, const plan_sched *src);

/* Strategies: each writes an assignment (n_grp entries). Return 0, or
 * LG_EMODEL with err when they find no assignment at all, or -ENOMEM.
 * *exact is set when the assignment is proven optimal for the relaxation
 * the strategy solves (dp only); *bound gets that relaxation's value. */
/* The DP reads p's model, topology and allowed, not p->resident: the
 * weights a run must receive from src before it starts on a node are
 * those of wp (its model and resident): group c of p->m covers wp->m's
 * groups [wfirst[c], wfirst[c+1]) (wfirst NULL: group c), and a run
 * receives each initializer that a non-resident group of it reads, once.
 * wp NULL: nothing is shipped. */
int plan_dp(const plan_problem *p, const plan_problem *wp,
            const int *wfirst, int *assign, double *bound, char *err,
            size_t errlen);
int plan_heft(const plan_problem *p, int *assign, char *err, size_t errlen);
int plan_improve(const plan_problem *p, int *assign, plan_sched *best,
                 double budget_ms);
int plan_base_source(const plan_problem *p, int *assign);
int plan_base_fastest(const plan_problem *p, int *assign);
int plan_base_split(const plan_problem *p, int *assign);
int plan_exhaustive(const plan_problem *p, int *assign, char *err,
                    size_t errlen);

static inline int plan_allowed(const plan_problem *p, int g, int n)
{
    return !p->allowed || p->allowed[(size_t)g * p->t->n_nodes + n];
}

/* Does node n hold group g's weights before the job (plan_problem.
 * resident)? The input node holds every weight. */
static inline int plan_resident(const plan_problem *p, int g, int n)
{
    return !p->resident || n == p->src ||
           p->resident[(size_t)g * p->t->n_nodes + n];
}

double plan_now_ms(void);

#endif
