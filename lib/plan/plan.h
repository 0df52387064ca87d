/*
 * plan.h - the planner: split a model and place the pieces on the nodes of
 * a topology, scheduling every transfer inside a contact window and every
 * run inside its node's power budget.
 *
 * Owns the planner's view of a model (plan_model: coarse groups of graph
 * nodes in topological order, the tensors between them, per-group costs),
 * the problem statement (plan_problem), the schedule (plan_sched), the
 * evaluator that turns an assignment of groups to nodes into a timed
 * schedule, and the strategies that search for assignments:
 *
 *   dp         exact dynamic programming over (cut, node) for chains
 *   list       contact- and power-aware list scheduling (HEFT-style earliest
 *              finish) followed by local improvement, for general DAGs
 *   source, fastest, split, heft
 *              baselines: all on the input's node, all on the node that
 *              computes the model fastest, best single split from the
 *              source (Neurosurgeon), plain HEFT
 *   exhaustive every assignment (tiny instances; the test oracle)
 *   auto       dp + list + every baseline, keep the best
 *
 * The evaluator is the single source of truth for times: every strategy's
 * result is re-evaluated by plan_eval, so a plan's numbers never depend on
 * which search produced it.
 *
 * Model of execution (lagrange-topology(5), "Planning"):
 *  - a group runs on one node, after all its input tensors are there, once
 *    the node is free and its battery allows the whole run;
 *  - the tensors a group needs from one producer group travel as one
 *    bundle, store-and-forward along the earliest-arrival route from the
 *    producer's node (graph inputs start at the input node at t0);
 *  - transfers on one directed link are serialised in plan order;
 *  - weights are the model's initializers, each counted once however many
 *    graph nodes or groups read it (a weight tensor shared by every layer
 *    is one tensor): a group needs the union of the initializers its graph
 *    nodes read (plan_model.gw), and a node holds the union of the
 *    initializers of every group placed on it, plus the largest activation
 *    working set of those groups;
 *  - a partition on a node that does not already hold some of its groups'
 *    weights (plan_problem.resident) waits for them: one bundle leaves the
 *    input node (the controller, which holds every weight) at t0 carrying
 *    each initializer that a non-resident group of the partition reads
 *    once, and travels like any other transfer, after the graph inputs in
 *    plan order. Each partition gets its own bundle (the daemon ships each
 *    partition as a model of its own), so two partitions on one node that
 *    both lack an initializer each receive it;
 *  - the job completes when the last graph output reaches the output node.
 *
 * Not thread-safe per plan_sched; the model and topology are read-only.
 */
#ifndef LG_PLAN_PLAN_H
#define LG_PLAN_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "contact.h"
#include "topology.h"

struct lg_graph;

#define PLAN_MAX_GROUPS 1000000

typedef struct plan_group {
    int first, last;             /* graph node range in topological order */
    char name[64];               /* first graph node's name (for output) */
    double flops[PLAN_OC_N];     /* FLOPs per op class */
    double mem_bytes;            /* bytes moved by memory-bound ops */
    int n_ops;                   /* graph nodes in the group */
    uint64_t param_bytes;        /* weights read: the group's initializers
                                    (plan_model.gw), each once */
    uint64_t act_bytes;          /* activation working set while it runs */
} plan_group;

typedef struct plan_tensor {
    char name[64];               /* value name (for output) */
    uint64_t bytes;
    int producer;                /* group index, or -1: a graph input */
    int is_output;               /* must reach the output node */
    int cons0, n_cons;           /* consumer groups: cons[cons0 ..] */
} plan_tensor;

typedef struct plan_model {
    int n_grp;
    plan_group *grp;
    int n_ten;
    plan_tensor *ten;
    int *cons;                   /* consumer group lists, sorted, per tensor */
    int n_cons_total;
    /* filled by plan_model_finish: */
    int *gin0, *gin;             /* input tensors of group g: gin[gin0[g] ..
                                    gin0[g+1]) */
    uint64_t *cut;               /* cut[k]: bytes crossing between groups
                                    k-1 and k (cut[0]: graph inputs; cut[n]:
                                    graph outputs), all crossing tensors */
    int chain;                   /* every cut carries only the previous
                                    group's tensors to the next group */
    int graph_nodes;             /* nodes of the source graph, 0 if none */
    /* Weights, each initializer counted once: initializer x has
     * plan_weight_bytes(m, x) bytes (0 <= x < n_w) and group g reads
     * gw[gw0[g] .. gw0[g+1]), sorted and distinct. plan_model_from_graph
     * fills them. A model built by hand may leave w_bytes NULL: then
     * plan_model_finish gives each group one initializer of its own
     * (x = g) whose size is grp[g].param_bytes, read when used. With
     * w_bytes set (plan_model_alloc_weights), finish checks the lists and
     * sets each group's param_bytes to the sum over its list. */
    int n_w;
    uint64_t *w_bytes;
    int *gw0, *gw;
} plan_model;

static inline uint64_t plan_weight_bytes(const plan_model *m, int x)
{
    return m->w_bytes ? m->w_bytes[x] : m->grp[x].param_bytes;
}

/* Coarsen a prepared graph into groups. Cheap single-input ops that only
 * follow their producer (a Relu after its Conv, a Reshape) join the
 * producer's group when cutting after them moves no more bytes: there is
 * no reason to cut between a conv and its relu. coarsen = 0 keeps one
 * group per graph node. */
int plan_model_from_graph(const struct lg_graph *g, int coarsen,
                          plan_model **out, char *err, size_t errlen);
/* For tests and benches: a model with the given sizes, zero-filled; fill
 * grp[], ten[] and cons[], then call plan_model_finish. */
plan_model *plan_model_alloc(int n_grp, int n_ten, int n_cons_total);
/* For tests and benches: shared weights. n_w initializers (w_bytes[],
 * zeroed) and n_refs entries of group lists (gw0[] zeroed, gw[]); fill
 * them, then call plan_model_finish. 0 or -ENOMEM. */
int plan_model_alloc_weights(plan_model *m, int n_w, int n_refs);
/* Validate (producers before consumers, consumer lists in range, weight
 * lists sorted and in range) and fill gin, cut, chain and the weight
 * lists (see plan_model). LG_EMODEL with a message on a bad model. */
int plan_model_finish(plan_model *m, char *err, size_t errlen);
/* Bytes of the initializers that groups g0..g1 (inclusive) read, each
 * once: the weights one node needs to run them. */
uint64_t plan_model_weights(const plan_model *m, int g0, int g1);
void plan_model_free(plan_model *m);
/* The coarsest chain above m: merge the groups between the cuts where
 * every crossing tensor comes from the group just before (block
 * boundaries of a ResNet, say). map[g] (n_grp entries, caller-allocated)
 * gets group g's chain group. The result has chain = 1. */
int plan_model_chain(const plan_model *m, plan_model **out, int *map,
                     char *err, size_t errlen);

/* Compute time of group g on node n of t, seconds. */
double plan_group_time(const plan_model *m, int g, const plan_topology *t,
                       int n);

enum plan_objective {
    PLAN_OBJ_TIME = 0,           /* earliest completion */
    PLAN_OBJ_ENERGY,             /* least orbital energy meeting deadline */
};

enum plan_strategy {
    PLAN_STRAT_AUTO = 0,
    PLAN_STRAT_DP,
    PLAN_STRAT_LIST,
    PLAN_STRAT_SOURCE,
    PLAN_STRAT_FASTEST,
    PLAN_STRAT_SPLIT,
    PLAN_STRAT_HEFT,
    PLAN_STRAT_EXHAUSTIVE,
    PLAN_STRAT_N
};

typedef struct plan_problem {
    const plan_model *m;
    const plan_topology *t;
    double t0;                   /* submission time, topology seconds */
    int src;                     /* node where the graph inputs are */
    int dst;                     /* node the outputs must reach */
    double deadline;             /* absolute; INFINITY: none */
    enum plan_objective obj;
    const unsigned char *allowed; /* n_grp * n_nodes (row per group):
                                    1 = may run there; NULL: all */
    double budget_ms;            /* search time cap for improvement; 0 =
                                    default */
    const unsigned char *resident; /* n_grp * n_nodes (row per group, like
                                    allowed): 1 = that group's weights are
                                    already on that node. A partition placed
                                    on a node other than src whose groups
                                    are not all resident there waits for a
                                    transfer from src, starting at t0, of
                                    the initializers the non-resident
                                    groups read, each once.
                                    NULL: every weight is everywhere (no
                                    weight transfers) */
} plan_problem;

enum plan_wait {
    PLAN_WAIT_NONE = 0,
    PLAN_WAIT_CONTACT,           /* no window open on the link */
    PLAN_WAIT_POWER,             /* battery must recharge first */
    PLAN_WAIT_NODE,              /* node busy with an earlier partition */
    PLAN_WAIT_LINK,              /* link busy with an earlier transfer */
};

/* A partition: a maximal run of consecutive groups on one node. */
typedef struct plan_part {
    int node;
    int g0, g1;                  /* groups g0..g1 inclusive */
    double ready;                /* all inputs on the node */
    double start, finish;
    enum plan_wait wait;         /* why start > ready */
    double energy_j;             /* busy_w * (finish - start) */
    uint64_t param_bytes;        /* its groups' initializers, each once */
    uint64_t weight_bytes;       /* of param_bytes, those shipped from src
                                    before it may start (0: all resident) */
    double weights_arrive;       /* when they are all on the node (t0 if
                                    nothing is shipped); ready >= this */
    int weight_xfer;             /* index in xfers of that transfer, -1 */
} plan_part;

/* plan_xfer.producer of the transfer of a partition's weights */
#define PLAN_XFER_WEIGHTS (-2)

typedef struct plan_xfer {
    int from_part, to_part;      /* -1: the input source / output sink */
    int from_node, to_node;
    int producer;                /* producer group, -1: graph inputs,
                                    PLAN_XFER_WEIGHTS: weights from src for
                                    partition to_part (ready at t0) */
    uint64_t bytes;
    int n_tensors;               /* tensors; for weights: initializers
                                    shipped */
    double ready;                /* bundle complete at from_node */
    double first_send;           /* first byte leaves */
    double arrive;               /* last byte at to_node */
    enum plan_wait wait;         /* CONTACT or LINK if first_send > ready */
    int wait_link;               /* link waited for, -1 */
    int leg0, n_legs;            /* legs[leg0 .. leg0 + n_legs) */
} plan_xfer;

typedef struct plan_sched {
    int feasible;
    char reason[512];            /* why not, naming node / link / battery */
    int severity;                /* 0 feasible, 1 deadline, 2 memory /
                                    battery / route, 3 forbidden node */
    char strategy[32];           /* which search produced it */
    int proven_optimal;          /* optimal for this objective and model */
    int proven_cuts;             /* the DP proved this plan best among
                                    plans cutting only at this many cut
                                    positions (all n_grp - 1: optimal) */
    double completion;           /* absolute time the outputs arrive */
    double energy_orbit_j;       /* sum over solar-powered nodes */
    double lower_bound;          /* absolute; completion >= lower_bound */
    double solve_ms;             /* wall time of the search */
    int n_nodes;
    double *node_energy_j;       /* per topology node */
    double *node_busy_s;
    uint64_t *node_mem;          /* weights (each initializer once) +
                                    the largest activation set there */
    int *assign;                 /* per group: node */
    int n_assign;                /* groups */
    double *gstart, *gfinish;    /* per group: when it runs */
    plan_part *parts;
    int n_parts, cap_parts;
    plan_xfer *xfers;
    int n_xfers, cap_xfers;
    plan_leg *legs;
    int n_legs, cap_legs;
} plan_sched;

void plan_sched_init(plan_sched *s);
void plan_sched_free(plan_sched *s);

/* Turn an assignment into a schedule. Returns 0 (s->feasible says whether
 * it is; s->reason why not) or -ENOMEM. */
int plan_eval(const plan_problem *p, const int *assign, plan_sched *s);

/* Search with one strategy and evaluate the result into s. Returns 0
 * (check s->feasible) or a negative code with err filled. */
int plan_solve(const plan_problem *p, enum plan_strategy st, plan_sched *s,
               char *err, size_t errlen);

/* max(critical-path compute on the fastest allowed node per group,
 * earliest possible departure + light time + min-cut bytes / best rate). */
double plan_lower_bound(const plan_problem *p);

const char *plan_strategy_name(enum plan_strategy st);
int plan_strategy_parse(const char *s, enum plan_strategy *st);
const char *plan_wait_name(enum plan_wait w);

#endif
