/*
 * sched.c - planning general DAGs: a contact- and power-aware list
 * scheduler in the style of HEFT (each group, in topological order, goes
 * to the node where it would finish earliest, counting the wait for
 * contacts, link and node reservations and the battery), then local
 * improvement of whole schedules with plan_eval as the judge: move a
 * boundary group to its neighbour's node, move a whole partition to
 * another node, until a pass finds nothing better or the budget runs out.
 *
 * The list scheduler keeps the same simulation state as the evaluator
 * (plan_sim) so that its estimates are the evaluator's numbers for the
 * groups placed so far, and counts a node's weights as the evaluator
 * does: each initializer once, however many of its groups read it.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lgerr.h"
#include "plan_int.h"

/* Bytes of producer q's tensors that group g reads (q == G: inputs). */
static uint64_t bytes_from(const plan_model *m, int q, int g)
{
    uint64_t b = 0;
    for (int k = m->gin0[g]; k < m->gin0[g + 1]; k++) {
        const plan_tensor *x = &m->ten[m->gin[k]];
        if ((x->producer < 0 ? m->n_grp : x->producer) == q)
            b += x->bytes;
    }
    return b;
}

static uint64_t out_bytes(const plan_model *m, int g)
{
    uint64_t b = 0;
    for (int x = 0; x < m->n_ten; x++)
        if (m->ten[x].producer == g && m->ten[x].is_output)
            b += m->ten[x].bytes;
    return b;
}

/* Which nodes hold which initializers, as groups are placed: per
 * initializer a list of its holders (in the arrays of one pool: each
 * placement adds at most one entry per initializer of the group). */
typedef struct holders {
    int *head;                   /* per initializer: first entry, -1 */
    int *next, *node;            /* per entry */
    int n;
} holders;

static int holds(const holders *h, int x, int n)
{
    for (int e = h->head[x]; e >= 0; e = h->next[e])
        if (h->node[e] == n)
            return 1;
    return 0;
}

/* Bytes of group g's initializers that node n does not hold yet; with
 * add, n holds them afterwards. */
static uint64_t new_weights(const plan_model *m, holders *h, int g, int n,
                            int add)
{
    uint64_t b = 0;
    for (int k = m->gw0[g]; k < m->gw0[g + 1]; k++) {
        int x = m->gw[k];
        if (holds(h, x, n))
            continue;
        b += plan_weight_bytes(m, x);
        if (add) {
            h->node[h->n] = n;
            h->next[h->n] = h->head[x];
            h->head[x] = h->n++;
        }
    }
    return b;
}

/* Delivered bundles: (producer, node) -> arrival. Small open list. */
typedef struct deliv {
    int q, node;
    double at;
} deliv;

int plan_heft(const plan_problem *p, int *assign, char *err, size_t errlen)
{
    const plan_model *m = p->m;
    const plan_topology *t = p->t;
    int G = m->n_grp, N = t->n_nodes, rc = -ENOMEM, nq = 0, n_del = 0,
        cap_del = 0;
    plan_sim sim;
    int sim_ok = 0;
    double *fin = NULL, *arr = NULL, *rest = NULL, *best_t = NULL;
    int *qs = NULL;
    uint64_t *qb = NULL, *mem_w = NULL, *mem_a = NULL;
    deliv *del = NULL;
    holders h = {0};

    h.head = malloc(((size_t)m->n_w + 1) * sizeof *h.head);
    h.next = malloc(((size_t)m->gw0[G] + 1) * sizeof *h.next);
    h.node = malloc(((size_t)m->gw0[G] + 1) * sizeof *h.node);
    if (!h.head || !h.next || !h.node)
        goto out;
    for (int x = 0; x < m->n_w; x++)
        h.head[x] = -1;
    fin = malloc(((size_t)G + 1) * sizeof *fin);
    rest = calloc((size_t)G + 1, sizeof *rest);
    best_t = malloc(((size_t)G + 1) * sizeof *best_t);
    qs = malloc(((size_t)G + 1) * sizeof *qs);
    qb = malloc(((size_t)G + 1) * sizeof *qb);
    mem_w = calloc((size_t)N, sizeof *mem_w);
    mem_a = calloc((size_t)N, sizeof *mem_a);
    if (!fin || !rest || !best_t || !qs || !qb || !mem_w || !mem_a)
        goto out;
    if (plan_sim_init(&sim, p))
        goto out;
    sim_ok = 1;

    /* the fastest possible remaining path after each group */
    for (int g = 0; g < G; g++) {
        best_t[g] = INFINITY;
        for (int n = 0; n < N; n++)
            if (plan_allowed(p, g, n)) {
                double c = plan_group_time(m, g, t, n);
                if (c < best_t[g])
                    best_t[g] = c;
            }
    }
    for (int g = G - 1; g >= 0; g--)
        for (int k = m->gin0[g]; k < m->gin0[g + 1]; k++) {
            int q = m->ten[m->gin[k]].producer;
            if (q >= 0 && rest[g] + best_t[g] > rest[q])
                rest[q] = rest[g] + best_t[g];
        }

    for (int g = 0; g < G; g++) {
        double bestf = INFINITY, beste = INFINITY;
        int bn = -1;
        uint64_t ob = out_bytes(m, g);

        /* distinct producers of g's inputs */
        nq = 0;
        for (int k = m->gin0[g]; k < m->gin0[g + 1]; k++) {
            int q = m->ten[m->gin[k]].producer;
            int j;
            q = q < 0 ? G : q;
            for (j = 0; j < nq && qs[j] != q; j++)
                ;
            if (j == nq)
                qs[nq++] = q;
        }
        free(arr);
        arr = malloc(((size_t)nq + 1) * N * sizeof *arr);
        if (!arr)
            goto out;
        for (int j = 0; j < nq; j++) {
            int q = qs[j], from = q == G ? p->src : assign[q];
            double at = q == G ? p->t0 : fin[q];
            double *a = arr + (size_t)j * N;
            qb[j] = bytes_from(m, q, g);
            for (int n = 0; n < N; n++)
                sim.ready[n] = INFINITY;
            sim.ready[from] = at;
            if (plan_route(sim.r, qb[j], sim.ready, sim.link_free, NULL, a,
                           sim.via))
                goto out;
            sim.ready[from] = INFINITY;
            for (int d = 0; d < n_del; d++)
                if (del[d].q == q && del[d].at < a[del[d].node])
                    a[del[d].node] = del[d].at;
        }
        for (int n = 0; n < N; n++) {
            double ready = p->t0, c, st, f, e;
            enum plan_wait w;
            uint64_t need;
            if (!plan_allowed(p, g, n))
                continue;
            need = mem_w[n] + new_weights(m, &h, g, n, 0) +
                   (m->grp[g].act_bytes > mem_a[n] ? m->grp[g].act_bytes
                                                   : mem_a[n]);
            if (need > t->nodes[n].memory)
                continue;
            for (int j = 0; j < nq; j++)
                if (arr[(size_t)j * N + n] > ready)
                    ready = arr[(size_t)j * N + n];
            if (!isfinite(ready))
                continue;
            c = plan_group_time(m, g, t, n);
            st = plan_sim_start(&sim, n, ready, c, &w);
            if (!isfinite(st))
                continue;
            f = st + c;
            if (ob && n != p->dst) {    /* outputs must still get home */
                for (int k = 0; k < N; k++)
                    sim.ready[k] = INFINITY;
                sim.ready[n] = f;
                if (plan_route(sim.r, ob, sim.ready, sim.link_free, NULL,
                               sim.arrive, sim.via))
                    goto out;
                sim.ready[n] = INFINITY;
                f = sim.arrive[p->dst];
            }
            e = t->nodes[n].power.solar ? t->nodes[n].power.busy_w * c : 0;
            if (p->obj == PLAN_OBJ_ENERGY && isfinite(p->deadline)) {
                /* least energy among nodes that keep the deadline within
                 * reach; the earliest finish otherwise */
                int ok = f + rest[g] <= p->deadline;
                int bok = bn >= 0 && bestf + rest[g] <= p->deadline;
                if ((ok && (!bok || e < beste ||
                            (e == beste && f < bestf))) ||
                    (!ok && !bok && f < bestf)) {
                    bestf = f;
                    beste = e;
                    bn = n;
                }
            } else if (f < bestf) {
                bestf = f;
                beste = e;
                bn = n;
            }
        }
        if (bn < 0) {
            rc = lg_errf(err, errlen, LG_EMODEL,
                         "no node can run model node '%s': every allowed "
                         "node lacks memory, battery or a route for its "
                         "inputs", m->grp[g].name);
            goto out;
        }
        assign[g] = bn;
        /* commit: bring the inputs, run */
        {
            double ready = p->t0, c = plan_group_time(m, g, t, bn), st;
            enum plan_wait w;
            for (int j = 0; j < nq; j++) {
                int q = qs[j], from = q == G ? p->src : assign[q], d;
                double at = q == G ? p->t0 : fin[q], a;
                for (d = 0; d < n_del; d++)
                    if (del[d].q == q && del[d].node == bn)
                        break;
                if (from == bn)
                    a = at;
                else if (d < n_del)
                    a = del[d].at;
                else {
                    a = plan_sim_send(&sim, from, bn, at, qb[j], NULL, NULL);
                    if (n_del == cap_del) {
                        int nc = cap_del ? 2 * cap_del : 64;
                        deliv *nd = realloc(del, (size_t)nc * sizeof *nd);
                        if (!nd)
                            goto out;
                        del = nd;
                        cap_del = nc;
                    }
                    del[n_del++] = (deliv){q, bn, a};
                }
                if (a > ready)
                    ready = a;
            }
            st = plan_sim_start(&sim, bn, ready, c, &w);
            if (plan_sim_commit(&sim, bn, st, c))
                goto out;
            fin[g] = st + c;
            mem_w[bn] += new_weights(m, &h, g, bn, 1);
            if (m->grp[g].act_bytes > mem_a[bn])
                mem_a[bn] = m->grp[g].act_bytes;
        }
    }
    rc = 0;
out:
    if (rc == -ENOMEM)
        lg_errf(err, errlen, -ENOMEM, "out of memory");
    if (sim_ok)
        plan_sim_free(&sim);
    free(fin);
    free(arr);
    free(rest);
    free(best_t);
    free(qs);
    free(qb);
    free(mem_w);
    free(mem_a);
    free(del);
    free(h.head);
    free(h.next);
    free(h.node);
    return rc;
}

/* Try assign[g0..g1] = n; keep it if better. Returns 1 if kept. */
static int try_move(const plan_problem *p, int *assign, int *trial, int g0,
                    int g1, int n, plan_sched *best, plan_sched *cand)
{
    int G = p->m->n_grp, changed = 0;
    memcpy(trial, assign, (size_t)G * sizeof *trial);
    for (int g = g0; g <= g1; g++) {
        if (!plan_allowed(p, g, n))
            return 0;
        changed |= trial[g] != n;
        trial[g] = n;
    }
    if (!changed || plan_eval(p, trial, cand) != 0)
        return 0;
    if (plan_sched_cmp(p, cand, best) < 0) {
        plan_sched tmp = *best;
        *best = *cand;
        *cand = tmp;
        memcpy(assign, trial, (size_t)G * sizeof *assign);
        return 1;
    }
    return 0;
}

int plan_improve(const plan_problem *p, int *assign, plan_sched *best,
                 double budget_ms)
{
    const plan_topology *t = p->t;
    int G = p->m->n_grp, N = t->n_nodes, rc = -ENOMEM, ncand = 0;
    double t_end = plan_now_ms() + budget_ms;
    int *trial = malloc(((size_t)G + 1) * sizeof *trial);
    int *cand = malloc(((size_t)N + 1) * sizeof *cand);
    unsigned char *used = calloc((size_t)N, 1);
    plan_sched c;

    plan_sched_init(&c);
    if (!trial || !cand || !used)
        goto out;
    if (plan_eval(p, assign, best) != 0)
        goto out;
    for (int improved = 1; improved && plan_now_ms() < t_end;) {
        improved = 0;
        /* candidate nodes: those in use, the endpoints, the fastest few */
        memset(used, 0, (size_t)N);
        ncand = 0;
        used[p->src] = used[p->dst] = 1;
        for (int g = 0; g < G; g++)
            used[assign[g]] = 1;
        for (int n = 0; n < N; n++)
            if (used[n])
                cand[ncand++] = n;
        for (int k = 0; k < 4; k++) {
            int bn = -1;
            double bt = INFINITY;
            for (int n = 0; n < N; n++) {
                double s = 0;
                if (used[n])
                    continue;
                for (int g = 0; g < G && s < bt; g += 1 + G / 64)
                    s += plan_group_time(p->m, g, t, n);
                if (s < bt) {
                    bt = s;
                    bn = n;
                }
            }
            if (bn < 0)
                break;
            used[bn] = 1;
            cand[ncand++] = bn;
        }
        /* boundary moves */
        for (int g = 0; g < G && plan_now_ms() < t_end; g++) {
            if (g > 0 && assign[g - 1] != assign[g])
                improved |= try_move(p, assign, trial, g, g, assign[g - 1],
                                     best, &c);
            if (g + 1 < G && assign[g + 1] != assign[g])
                improved |= try_move(p, assign, trial, g, g, assign[g + 1],
                                     best, &c);
        }
        /* whole-partition moves */
        for (int g0 = 0; g0 < G && plan_now_ms() < t_end;) {
            int g1 = g0;
            while (g1 + 1 < G && assign[g1 + 1] == assign[g0])
                g1++;
            for (int k = 0; k < ncand && plan_now_ms() < t_end; k++)
                improved |= try_move(p, assign, trial, g0, g1, cand[k],
                                     best, &c);
            g0 = g1 + 1;
        }
    }
    rc = 0;
out:
    plan_sched_free(&c);
    free(trial);
    free(cand);
    free(used);
    return rc;
}
