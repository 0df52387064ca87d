/*
 * contact.c - window arithmetic for one directed link (how long `bytes`
 * take to cross it, pausing at window ends) and the earliest-arrival
 * router over the whole contact graph (binary-heap Dijkstra).
 *
 * Pure functions of a read-only plan_topology. A plan_router owns only
 * scratch arrays sized for its topology, so one router serves one thread
 * at a time and plan_route itself never allocates.
 *
 * Transfers are fluid: a window of rate R open for T seconds carries R*T
 * bytes, fractions included, so a transfer that needs exactly the rest of
 * a window ends exactly at the window's end. Legs report whole bytes by
 * flooring the running total, which keeps the legs summing to the
 * transfer while every leg's timing stays exact.
 *
 * Exactness of the router rests on FIFO links: sending later never
 * arrives earlier. Inside a window that is automatic; across windows it
 * needs the next window's first arrival to be no earlier than the last
 * arrival through the previous one (plan_link_fifo checks it). Real
 * passes satisfy it by a wide margin: light time changes by milliseconds
 * while the gaps between passes last minutes. On a non-FIFO link the
 * router still returns an arrival that can be achieved, but perhaps not
 * the earliest.
 */
#include "contact.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "lgerr.h"

int plan_link_window_at(const plan_link *l, double t)
{
    int lo = 0, hi = l->n_win;

    /* Windows are sorted and disjoint, so their ends are sorted too. A NaN
     * t compares false everywhere and lands past the last window. */
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (l->win[mid].end > t)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

int plan_link_fifo(const plan_link *l)
{
    for (int i = 0; i + 1 < l->n_win; i++) {
        const plan_window *a = &l->win[i], *b = &l->win[i + 1];
        if (b->start + b->delay < a->end + a->delay)
            return 0;
    }
    return 1;
}

static void put_leg(plan_leg *legs, int max_legs, int n, int window,
                    double start, double end, double arrive, uint64_t bytes)
{
    if (!legs || n >= max_legs)
        return;
    /* plan_link_send gets the link, not its index: the caller fills it. */
    legs[n].link = -1;
    legs[n].window = window;
    legs[n].start = start;
    legs[n].end = end;
    legs[n].arrive = arrive;
    legs[n].bytes = bytes;
}

double plan_link_send(const plan_link *l, double t, uint64_t bytes,
                      double *first, plan_leg *legs, int max_legs,
                      int *n_legs)
{
    double total = (double)bytes;
    double sent = 0;             /* fluid bytes sent in earlier legs */
    uint64_t sent_whole = 0;     /* whole bytes reported in earlier legs */
    double arrive = -INFINITY, first_t = INFINITY;
    int n = 0;

    if (first)
        *first = INFINITY;
    if (n_legs)
        *n_legs = 0;
    for (int i = plan_link_window_at(l, t); i < l->n_win; i++) {
        const plan_window *w = &l->win[i];
        double s0 = t > w->start ? t : w->start;
        double left = total - sent, cap, end;

        /* An empty or rateless window carries nothing, not even the
         * zero-byte probe: it is never open. */
        if (!(w->end > s0) || !(w->rate > 0))
            continue;
        if (n == 0)
            first_t = s0;
        cap = (w->end - s0) * w->rate;
        if (left <= cap) {
            end = s0 + left / w->rate;
            if (end > w->end)    /* rounding only */
                end = w->end;
            if (end + w->delay > arrive)
                arrive = end + w->delay;
            put_leg(legs, max_legs, n, i, s0, end, end + w->delay,
                    bytes - sent_whole);
            n++;
            if (first)
                *first = first_t;
            if (n_legs)
                *n_legs = n;
            return arrive;
        }
        /* The window closes first: send what fits and resume in the next
         * one. The last byte of this leg arrives at the window's end plus
         * its delay, which may exceed a later leg's arrival when a later
         * window has a shorter light time, hence the max. */
        sent += cap;
        {
            uint64_t whole = (uint64_t)floor(sent);
            if (whole > bytes)
                whole = bytes;
            put_leg(legs, max_legs, n, i, s0, w->end, w->end + w->delay,
                    whole - sent_whole);
            sent_whole = whole;
        }
        if (w->end + w->delay > arrive)
            arrive = w->end + w->delay;
        n++;
    }
    /* The windows ran out before the last byte left. */
    if (first)
        *first = first_t;
    if (n_legs)
        *n_legs = n;
    return INFINITY;
}

/* ------------------------------------------------------------- router */

struct plan_router {
    const plan_topology *t;
    const int *first, *links;   /* CSR adjacency (the topology's or ours) */
    int *own;                   /* our CSR when the topology has none */
    int *heap;                  /* binary min-heap of nodes by arrive[] */
    int *pos;                   /* node -> heap slot, -1 if not in heap */
    unsigned char *done;        /* label is final */
    int n_heap;
    double cutoff;              /* labels beyond it are not wanted */
};

/* Topologies built by hand (tests, tools) may leave out the CSR; build it
 * by counting sort so the router works on them too. */
static int build_csr(plan_router *r)
{
    const plan_topology *t = r->t;
    int n = t->n_nodes;
    int *first, *links, *fill;

    r->own = calloc((size_t)(n + 1) + (size_t)t->n_links + (size_t)n + 1,
                    sizeof *r->own);
    if (!r->own)
        return -ENOMEM;
    first = r->own;
    links = first + n + 1;
    fill = links + t->n_links;
    for (int i = 0; i < t->n_links; i++)
        if (t->links[i].from >= 0 && t->links[i].from < n)
            first[t->links[i].from + 1]++;
    for (int v = 0; v < n; v++)
        first[v + 1] += first[v];
    for (int v = 0; v < n; v++)
        fill[v] = first[v];
    for (int i = 0; i < t->n_links; i++)
        if (t->links[i].from >= 0 && t->links[i].from < n)
            links[fill[t->links[i].from]++] = i;
    r->first = first;
    r->links = links;
    return 0;
}

plan_router *plan_router_new(const plan_topology *t)
{
    plan_router *r;
    size_t n;

    if (!t || t->n_nodes < 0)
        return NULL;
    n = (size_t)(t->n_nodes ? t->n_nodes : 1);
    r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->t = t;
    r->cutoff = INFINITY;
    r->heap = malloc(n * sizeof *r->heap);
    r->pos = malloc(n * sizeof *r->pos);
    r->done = malloc(n);
    if (!r->heap || !r->pos || !r->done)
        goto fail;
    if (t->out_first && t->out_links) {
        r->first = t->out_first;
        r->links = t->out_links;
    } else if (build_csr(r) < 0) {
        goto fail;
    }
    return r;
fail:
    plan_router_free(r);
    return NULL;
}

void plan_router_free(plan_router *r)
{
    if (!r)
        return;
    free(r->own);
    free(r->heap);
    free(r->pos);
    free(r->done);
    free(r);
}

static void heap_swap(plan_router *r, int i, int j)
{
    int a = r->heap[i], b = r->heap[j];
    r->heap[i] = b;
    r->heap[j] = a;
    r->pos[b] = i;
    r->pos[a] = j;
}

static void heap_up(plan_router *r, const double *key, int i)
{
    while (i > 0) {
        int p = (i - 1) / 2;
        if (!(key[r->heap[i]] < key[r->heap[p]]))
            break;
        heap_swap(r, i, p);
        i = p;
    }
}

static void heap_down(plan_router *r, const double *key, int i)
{
    for (;;) {
        int c = 2 * i + 1, m = i;
        if (c < r->n_heap && key[r->heap[c]] < key[r->heap[m]])
            m = c;
        if (c + 1 < r->n_heap && key[r->heap[c + 1]] < key[r->heap[m]])
            m = c + 1;
        if (m == i)
            return;
        heap_swap(r, i, m);
        i = m;
    }
}

/* Insert v, or move it up after its key decreased. */
static void heap_push(plan_router *r, const double *key, int v)
{
    if (r->pos[v] < 0) {
        r->heap[r->n_heap] = v;
        r->pos[v] = r->n_heap++;
    }
    heap_up(r, key, r->pos[v]);
}

static int heap_pop(plan_router *r, const double *key)
{
    int v = r->heap[0];
    heap_swap(r, 0, --r->n_heap);
    r->pos[v] = -1;
    if (r->n_heap > 0)
        heap_down(r, key, 0);
    return v;
}

/*
 * Label-setting works because every candidate label derived from u is at
 * least u's own label (a send never arrives before it starts and delays
 * are >= 0), and a later label at u never gives an earlier arrival
 * further on (FIFO links, max() with link_free is monotone too).
 *
 * A node with relay_ok == 0 may not forward what it received. If it is
 * also a source it forwards its own copy, and its label stays ready[u]
 * (via -1) even when a copy could reach it sooner from elsewhere:
 * otherwise via[] would route its successors through hops the bundle
 * never takes, and plan_route_path would disagree with arrive[].
 */
int plan_route(plan_router *r, uint64_t bytes, const double *ready,
               const double *link_free, const unsigned char *relay_ok,
               double *arrive, int *via)
{
    const plan_topology *t;
    int n;

    if (!r || !ready || !arrive || !via)
        return -EINVAL;
    t = r->t;
    n = t->n_nodes;
    r->n_heap = 0;
    for (int v = 0; v < n; v++) {
        r->pos[v] = -1;
        r->done[v] = 0;
        via[v] = -1;
        /* NaN or INFINITY: not a source. */
        arrive[v] = ready[v] < INFINITY ? ready[v] : INFINITY;
        if (arrive[v] <= r->cutoff)
            heap_push(r, arrive, v);
    }
    while (r->n_heap > 0) {
        int u = heap_pop(r, arrive);

        r->done[u] = 1;
        if (relay_ok && !relay_ok[u] && !(ready[u] < INFINITY))
            continue;           /* reached, but may not forward */
        for (int k = r->first[u]; k < r->first[u + 1]; k++) {
            int li = r->links[k];
            const plan_link *l = &t->links[li];
            int v = l->to;
            double ts = arrive[u], a;

            if (v < 0 || v >= n || r->done[v])
                continue;
            if (relay_ok && !relay_ok[v] && ready[v] < INFINITY)
                continue;       /* a non-relaying source keeps its copy */
            if (link_free && link_free[li] > ts)
                ts = link_free[li];
            a = plan_link_send(l, ts, bytes, NULL, NULL, 0, NULL);
            if (a < arrive[v] && a <= r->cutoff) {
                arrive[v] = a;
                via[v] = li;
                heap_push(r, arrive, v);
            }
        }
    }
    return 0;
}

/*
 * Note: via[] alone cannot tell a source from an unreachable node (both
 * are -1, as plan_route documents), so both give 0 hops here; callers
 * tell them apart by arrive[dst]. -1 means dst or the via chain is
 * invalid (out of range, or a cycle that plan_route never produces).
 */
void plan_router_set_cutoff(plan_router *r, double cutoff)
{
    r->cutoff = cutoff;
}

int plan_route_path(const plan_topology *t, const int *via, int dst,
                    int *links, int max)
{
    int hops = 0, v = dst;

    if (!t || !via || dst < 0 || dst >= t->n_nodes)
        return -1;
    while (via[v] >= 0) {
        int li = via[v];
        if (li >= t->n_links || t->links[li].to != v || hops >= t->n_nodes)
            return -1;
        v = t->links[li].from;
        if (v < 0 || v >= t->n_nodes)
            return -1;
        hops++;
    }
    /* Walk again, filling from the back so links[] is in path order. */
    v = dst;
    for (int k = hops - 1; k >= 0; k--) {
        if (links && k < max)
            links[k] = via[v];
        v = t->links[via[v]].from;
    }
    return hops;
}
