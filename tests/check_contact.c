/*
 * check_contact.c - unit tests for lib/plan/contact.c: window arithmetic
 * of one link (inside a window, waiting for one, the half-open end,
 * transfers spanning several windows, running out of windows, per-window
 * rate and delay, zero bytes, always-links, binary search over 10^5
 * windows) and the earliest-arrival router (direct vs relayed, store and
 * forward, several sources, link reservations, relay_ok, unreachable
 * nodes, paths), plus a randomized property test of the router against
 * a brute-force enumeration of all simple paths.
 *
 * Topologies are filled in by hand (the parser is not needed), and every
 * expected time is worked out in the comment next to it.
 */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "contact.h"
#include "lgerr.h"

#define TOL 1e-9

static plan_window W(double s, double e, double rate, double delay)
{
    plan_window w = {s, e, rate, delay};
    return w;
}

static plan_link mklink(int from, int to, plan_window *w, int n)
{
    plan_link l;
    memset(&l, 0, sizeof l);
    l.from = from;
    l.to = to;
    l.win = w;
    l.n_win = n;
    return l;
}

/* A hand-built topology: nodes and links are the caller's arrays; the CSR
 * is built here (the parser normally does it). */
typedef struct tb {
    plan_topology t;
    plan_node nodes[16];
    int first[17];
    int outl[64];
} tb;

static void tb_init(tb *b, int n_nodes, plan_link *links, int n_links,
                    int with_csr)
{
    int k = 0;
    memset(b, 0, sizeof *b);
    ck_assert_int_le(n_nodes, 16);
    ck_assert_int_le(n_links, 64);
    for (int i = 0; i < n_nodes; i++)
        snprintf(b->nodes[i].name, sizeof b->nodes[i].name, "n%d", i);
    b->t.nodes = b->nodes;
    b->t.n_nodes = n_nodes;
    b->t.links = links;
    b->t.n_links = n_links;
    if (!with_csr)
        return;
    for (int v = 0; v < n_nodes; v++) {
        b->first[v] = k;
        for (int i = 0; i < n_links; i++)
            if (links[i].from == v)
                b->outl[k++] = i;
    }
    b->first[n_nodes] = k;
    b->t.out_first = b->first;
    b->t.out_links = b->outl;
}

/* ------------------------------------------------------- one link */

/* Windows used by several tests:
 *   0: [0, 10)   100 B/s, delay 1
 *   1: [20, 30)  200 B/s, delay 2
 *   2: [40, 50)   50 B/s, delay 3
 * capacities 1000, 2000, 500 bytes. */
static plan_window three[3];

static plan_link three_windows(void)
{
    three[0] = W(0, 10, 100, 1);
    three[1] = W(20, 30, 200, 2);
    three[2] = W(40, 50, 50, 3);
    return mklink(0, 1, three, 3);
}

START_TEST(test_send_inside_window)
{
    plan_window w[1] = {W(10, 100, 1000, 0.5)};
    plan_link l = mklink(0, 1, w, 1);
    plan_leg leg[4];
    double first;
    int n;
    /* 5000 B at 1000 B/s from t = 20: [20, 25), arrives 25.5. */
    double a = plan_link_send(&l, 20, 5000, &first, leg, 4, &n);
    ck_assert_double_eq_tol(a, 25.5, TOL);
    ck_assert_double_eq_tol(first, 20, TOL);
    ck_assert_int_eq(n, 1);
    ck_assert_int_eq(leg[0].window, 0);
    ck_assert_int_eq(leg[0].link, -1);
    ck_assert_double_eq_tol(leg[0].start, 20, TOL);
    ck_assert_double_eq_tol(leg[0].end, 25, TOL);
    ck_assert_double_eq_tol(leg[0].arrive, 25.5, TOL);
    ck_assert_uint_eq(leg[0].bytes, 5000);
}
END_TEST

START_TEST(test_send_waits_for_window)
{
    plan_window w[1] = {W(10, 100, 1000, 0.5)};
    plan_link l = mklink(0, 1, w, 1);
    plan_leg leg[4];
    double first;
    int n;
    /* From t = 0 the transfer waits for the window: [10, 15), 15.5; the
     * wait for the contact is first - t = 10. */
    double a = plan_link_send(&l, 0, 5000, &first, leg, 4, &n);
    ck_assert_double_eq_tol(a, 15.5, TOL);
    ck_assert_double_eq_tol(first, 10, TOL);
    ck_assert_int_eq(n, 1);
    ck_assert_double_eq_tol(leg[0].start, 10, TOL);
    ck_assert_double_eq_tol(leg[0].end, 15, TOL);
}
END_TEST

START_TEST(test_send_at_window_end)
{
    plan_window w[2] = {W(10, 100, 1000, 0.5), W(200, 300, 2000, 0.7)};
    plan_link l = mklink(0, 1, w, 2);
    plan_leg leg[4];
    double first;
    int n;
    /* Windows are half-open: at t = 100 the first is closed. 5000 B at
     * 2000 B/s from 200: [200, 202.5), arrives 203.2. */
    ck_assert_int_eq(plan_link_window_at(&l, 99.999), 0);
    ck_assert_int_eq(plan_link_window_at(&l, 100), 1);
    double a = plan_link_send(&l, 100, 5000, &first, leg, 4, &n);
    ck_assert_double_eq_tol(a, 203.2, TOL);
    ck_assert_double_eq_tol(first, 200, TOL);
    ck_assert_int_eq(n, 1);
    ck_assert_int_eq(leg[0].window, 1);
    ck_assert_double_eq_tol(leg[0].end, 202.5, TOL);
    /* Just before the end a zero-byte probe still goes in window 0,
     * arriving 99.9995 + 0.5. One byte does not fit in the 0.5 ms left
     * (0.5 B at 1000 B/s): half goes by 100 (arriving 100.5), the other
     * half at 2000 B/s in [200, 200.00025), arriving 200.70025. */
    a = plan_link_send(&l, 100 - 0.0005, 0, NULL, NULL, 0, &n);
    ck_assert_double_eq_tol(a, 100 - 0.0005 + 0.5, TOL);
    a = plan_link_send(&l, 100 - 0.0005, 1, NULL, leg, 4, &n);
    ck_assert_double_eq_tol(a, 200.70025, TOL);
    ck_assert_int_eq(n, 2);
    ck_assert_uint_eq(leg[0].bytes + leg[1].bytes, 1);
}
END_TEST

START_TEST(test_send_spans_two_windows)
{
    plan_link l = three_windows();
    plan_leg leg[4];
    double first;
    int n;
    /* 1500 B from t = 5: window 0 carries 5 s * 100 = 500 B over [5, 10)
     * (last byte at 11); 1000 B remain, 5 s at 200 B/s: [20, 25), 27. */
    double a = plan_link_send(&l, 5, 1500, &first, leg, 4, &n);
    ck_assert_double_eq_tol(a, 27, TOL);
    ck_assert_double_eq_tol(first, 5, TOL);
    ck_assert_int_eq(n, 2);
    ck_assert_int_eq(leg[0].window, 0);
    ck_assert_double_eq_tol(leg[0].start, 5, TOL);
    ck_assert_double_eq_tol(leg[0].end, 10, TOL);
    ck_assert_double_eq_tol(leg[0].arrive, 11, TOL);
    ck_assert_uint_eq(leg[0].bytes, 500);
    ck_assert_int_eq(leg[1].window, 1);
    ck_assert_double_eq_tol(leg[1].start, 20, TOL);
    ck_assert_double_eq_tol(leg[1].end, 25, TOL);
    ck_assert_double_eq_tol(leg[1].arrive, 27, TOL);
    ck_assert_uint_eq(leg[1].bytes, 1000);
    ck_assert_uint_eq(leg[0].bytes + leg[1].bytes, 1500);
}
END_TEST

START_TEST(test_send_spans_three_windows)
{
    plan_link l = three_windows();
    plan_leg leg[4];
    double first;
    int n;
    /* 2600 B from 5: 500 in window 0, all 2000 of window 1 ([20, 30),
     * last byte 32), 100 at 50 B/s in window 2: [40, 42), 45. */
    double a = plan_link_send(&l, 5, 2600, &first, leg, 4, &n);
    ck_assert_double_eq_tol(a, 45, TOL);
    ck_assert_int_eq(n, 3);
    ck_assert_uint_eq(leg[0].bytes, 500);
    ck_assert_uint_eq(leg[1].bytes, 2000);
    ck_assert_uint_eq(leg[2].bytes, 100);
    ck_assert_double_eq_tol(leg[1].end, 30, TOL);
    ck_assert_double_eq_tol(leg[1].arrive, 32, TOL);
    ck_assert_double_eq_tol(leg[2].start, 40, TOL);
    ck_assert_double_eq_tol(leg[2].end, 42, TOL);
    /* Exactly filling window 1 ends the transfer there: 2500 B -> 32. */
    a = plan_link_send(&l, 5, 2500, NULL, leg, 4, &n);
    ck_assert_double_eq_tol(a, 32, TOL);
    ck_assert_int_eq(n, 2);
    /* max_legs smaller than needed: n reports 3, one leg written. */
    memset(leg, 0, sizeof leg);
    a = plan_link_send(&l, 5, 2600, NULL, leg, 1, &n);
    ck_assert_double_eq_tol(a, 45, TOL);
    ck_assert_int_eq(n, 3);
    ck_assert_uint_eq(leg[0].bytes, 500);
    ck_assert_uint_eq(leg[1].bytes, 0);
}
END_TEST

START_TEST(test_send_fractional_legs)
{
    /* 3 B/s for 1.5 s carries 4.5 B: legs report whole bytes by flooring
     * the running total (4, then the rest), summing to the transfer. The
     * time stays fluid: the remaining 5.5 B take 5.5 / 3 s. */
    plan_window w[2] = {W(0, 1.5, 3, 0), W(10, 20, 3, 0)};
    plan_link l = mklink(0, 1, w, 2);
    plan_leg leg[2];
    int n;
    double a = plan_link_send(&l, 0, 10, NULL, leg, 2, &n);
    ck_assert_int_eq(n, 2);
    ck_assert_uint_eq(leg[0].bytes, 4);
    ck_assert_uint_eq(leg[1].bytes, 6);
    ck_assert_double_eq_tol(a, 10 + 5.5 / 3, TOL);
}
END_TEST

START_TEST(test_send_runs_out)
{
    plan_link l = three_windows();
    plan_leg leg[4];
    double first;
    int n;
    /* The three windows carry 1000 + 2000 + 500 = 3500 B from t = 0. */
    ck_assert(isinf(plan_link_send(&l, 0, 3501, &first, leg, 4, &n)));
    ck_assert_double_eq_tol(first, 0, TOL);
    ck_assert_int_eq(n, 3);     /* the legs it managed */
    ck_assert_double_eq_tol(plan_link_send(&l, 0, 3500, NULL, NULL, 0, NULL),
                            53, TOL);
    /* After the last window, even zero bytes never arrive. */
    ck_assert(isinf(plan_link_send(&l, 50, 0, &first, NULL, 0, &n)));
    ck_assert(isinf(first));
    ck_assert_int_eq(n, 0);
    ck_assert_int_eq(plan_link_window_at(&l, 50), 3);
    /* No windows at all. */
    plan_link none = mklink(0, 1, NULL, 0);
    ck_assert(isinf(plan_link_send(&none, 0, 1, NULL, NULL, 0, NULL)));
    ck_assert_int_eq(plan_link_window_at(&none, 0), 0);
}
END_TEST

START_TEST(test_send_delay_and_rate_per_window)
{
    /* A pass whose light time falls from 9 ms to 2 ms while the rate
     * rises: window 0 [0, 10) 100 B/s, 50 ms; window 1 [20, 30) 400 B/s,
     * 2 ms. 1200 B from 0: 1000 B in [0, 10) arrive by 10.05; 200 B at
     * 400 B/s [20, 20.5), 20.502. */
    plan_window w[2] = {W(0, 10, 100, 0.05), W(20, 30, 400, 0.002)};
    plan_link l = mklink(0, 1, w, 2);
    plan_leg leg[2];
    int n;
    double a = plan_link_send(&l, 0, 1200, NULL, leg, 2, &n);
    ck_assert_double_eq_tol(a, 20.502, TOL);
    ck_assert_double_eq_tol(leg[0].arrive, 10.05, TOL);
    ck_assert_double_eq_tol(leg[1].arrive, 20.502, TOL);
    ck_assert(plan_link_fifo(&l));

    /* Arrival is the max over legs, not the last leg: window 0 [0, 10)
     * with delay 50 (a Moon-like relay), window 1 [20, 30) delay 1.
     * 1100 B at 100 B/s: 1000 B arrive by 60, 100 B by 22. Such a link is
     * not FIFO: 1000 B sent from 0 arrive at 10 + 50 = 60, from 10 at
     * 30 + 1 = 31. */
    plan_window x[2] = {W(0, 10, 100, 50), W(20, 30, 100, 1)};
    plan_link m = mklink(0, 1, x, 2);
    ck_assert_double_eq_tol(plan_link_send(&m, 0, 1100, NULL, NULL, 0, NULL),
                            60, TOL);
    ck_assert_double_eq_tol(plan_link_send(&m, 0, 1000, NULL, NULL, 0, NULL),
                            60, TOL);
    ck_assert_double_eq_tol(plan_link_send(&m, 10, 1000, NULL, NULL, 0, NULL),
                            31, TOL);
    ck_assert(!plan_link_fifo(&m));
}
END_TEST

START_TEST(test_send_zero_bytes)
{
    plan_link l = three_windows();
    plan_leg leg[2];
    double first;
    int n;
    /* Inside window 0 at 5: leaves at once, arrives 5 + 1. */
    ck_assert_double_eq_tol(plan_link_send(&l, 5, 0, &first, leg, 2, &n), 6,
                            TOL);
    ck_assert_double_eq_tol(first, 5, TOL);
    ck_assert_int_eq(n, 1);
    ck_assert_uint_eq(leg[0].bytes, 0);
    /* Between windows at 12: waits for window 1 at 20, arrives 22. */
    ck_assert_double_eq_tol(plan_link_send(&l, 12, 0, &first, leg, 2, &n), 22,
                            TOL);
    ck_assert_double_eq_tol(first, 20, TOL);
    ck_assert_int_eq(leg[0].window, 1);
    /* Empty and rateless windows are never open. */
    plan_window w[3] = {W(0, 0, 100, 0), W(1, 2, 0, 0), W(3, 4, 100, 0.5)};
    plan_link e = mklink(0, 1, w, 3);
    ck_assert_double_eq_tol(plan_link_send(&e, 0, 0, &first, NULL, 0, NULL),
                            3.5, TOL);
    ck_assert_double_eq_tol(first, 3, TOL);
}
END_TEST

START_TEST(test_send_always_link)
{
    /* GEO relay: one window [0, inf), 1e6 B/s, 130 ms. 2e6 B from 1000:
     * 2 s, arrives 1002.13. */
    plan_window w[1] = {W(0, INFINITY, 1e6, 0.13)};
    plan_link l = mklink(0, 1, w, 1);
    plan_leg leg[2];
    int n;
    l.always = 1;
    ck_assert_int_eq(plan_link_window_at(&l, 0), 0);
    ck_assert_int_eq(plan_link_window_at(&l, 1e12), 0);
    ck_assert_double_eq_tol(plan_link_send(&l, 1000, 2000000, NULL, leg, 2, &n),
                            1002.13, TOL);
    ck_assert_int_eq(n, 1);
    ck_assert_double_eq_tol(leg[0].end, 1002, TOL);
    ck_assert(plan_link_fifo(&l));
    /* A huge transfer still finishes: 1e12 B take 1e6 s. */
    ck_assert_double_eq_tol(plan_link_send(&l, 0, 1000000000000ull, NULL, NULL,
                                           0, NULL),
                            1e6 + 0.13, 1e-6);
}
END_TEST

START_TEST(test_window_binary_search)
{
    /* 10^5 windows [10k, 10k + 5), 1 B/s, no delay. */
    int nw = 100000;
    plan_window *w = malloc((size_t)nw * sizeof *w);
    plan_link l;
    plan_leg leg[3];
    int n;
    ck_assert_ptr_nonnull(w);
    for (int k = 0; k < nw; k++)
        w[k] = W(10.0 * k, 10.0 * k + 5, 1, 0);
    l = mklink(0, 1, w, nw);
    /* Window k ends at 10k + 5, so the first ending after t is
     * floor((t - 5) / 10) + 1, clamped to [0, nw]; edges included. */
    for (int i = 0; i < 20000; i++) {
        double t = (double)(i * 7919 % 1000003) + (i % 4) * 2.5;
        double k = floor((t - 5) / 10) + 1;
        int want = k < 0 ? 0 : k > nw ? nw : (int)k;
        ck_assert_int_eq(plan_link_window_at(&l, t), want);
    }
    /* And against a linear scan at a few instants. */
    for (int i = 0; i < 100; i++) {
        double t = i * 9973.5;
        int lin = 0;
        while (lin < nw && !(w[lin].end > t))
            lin++;
        ck_assert_int_eq(plan_link_window_at(&l, t), lin);
    }
    ck_assert_int_eq(plan_link_window_at(&l, -1), 0);
    ck_assert_int_eq(plan_link_window_at(&l, 999995), nw);
    ck_assert_int_eq(plan_link_window_at(&l, 999994.5), nw - 1);
    /* 7 B from 777777 (window 77777 = [777770, 777775) has closed): 5 B
     * in [777780, 777785), 2 B in [777790, 777792). */
    double a = plan_link_send(&l, 777777, 7, NULL, leg, 3, &n);
    ck_assert_double_eq_tol(a, 777792, TOL);
    ck_assert_int_eq(n, 2);
    ck_assert_int_eq(leg[0].window, 77778);
    ck_assert_int_eq(leg[1].window, 77779);
    ck_assert_uint_eq(leg[0].bytes, 5);
    ck_assert_uint_eq(leg[1].bytes, 2);
    free(w);
}
END_TEST

/* ---------------------------------------------------------- routing */

/*
 * gs (0) -- pass [600, 1000), 1e8 B/s, 5 ms --------------> leo (2)
 * gs (0) -- always, 1e7 B/s, 120 ms --> geo (1) -- always, 1e7 B/s,
 *                                                  130 ms --> leo (2)
 * n3 (3): isolated.
 * 1e7 B from gs at 0: direct waits for the pass, 600 + 0.1 + 0.005 =
 * 600.105; via GEO 0 + 1 + 0.12 = 1.12 at geo, 1.12 + 1 + 0.13 = 2.25
 * at leo.
 */
enum { GS, GEO, LEO, N3 };
enum { L_GS_LEO, L_GS_GEO, L_GEO_LEO };
static plan_window r_pass[1], r_up[1], r_cross[1];
static plan_link r_links[3];

static void relay_topology(tb *b, int with_csr)
{
    r_pass[0] = W(600, 1000, 1e8, 0.005);
    r_up[0] = W(0, INFINITY, 1e7, 0.12);
    r_cross[0] = W(0, INFINITY, 1e7, 0.13);
    r_links[L_GS_LEO] = mklink(GS, LEO, r_pass, 1);
    r_links[L_GS_GEO] = mklink(GS, GEO, r_up, 1);
    r_links[L_GEO_LEO] = mklink(GEO, LEO, r_cross, 1);
    r_links[L_GS_GEO].always = r_links[L_GEO_LEO].always = 1;
    tb_init(b, 4, r_links, 3, with_csr);
}

static void only(double *ready, int n, int src, double t)
{
    for (int i = 0; i < n; i++)
        ready[i] = INFINITY;
    ready[src] = t;
}

START_TEST(test_route_relay_beats_pass)
{
    tb b;
    double ready[4], arr[4];
    int via[4], path[4];
    relay_topology(&b, 1);
    plan_router *r = plan_router_new(&b.t);
    ck_assert_ptr_nonnull(r);
    only(ready, 4, GS, 0);
    ck_assert_int_eq(plan_route(r, 10000000, ready, NULL, NULL, arr, via), 0);
    ck_assert_double_eq_tol(arr[GS], 0, TOL);
    ck_assert_double_eq_tol(arr[GEO], 1.12, TOL);
    ck_assert_double_eq_tol(arr[LEO], 2.25, TOL);
    ck_assert_int_eq(via[GS], -1);
    ck_assert_int_eq(via[GEO], L_GS_GEO);
    ck_assert_int_eq(via[LEO], L_GEO_LEO);
    /* Path reconstruction, in order from the source. */
    ck_assert_int_eq(plan_route_path(&b.t, via, LEO, path, 4), 2);
    ck_assert_int_eq(path[0], L_GS_GEO);
    ck_assert_int_eq(path[1], L_GEO_LEO);
    /* max smaller than the path: the first links, full count. */
    path[0] = path[1] = 99;
    ck_assert_int_eq(plan_route_path(&b.t, via, LEO, path, 1), 2);
    ck_assert_int_eq(path[0], L_GS_GEO);
    ck_assert_int_eq(path[1], 99);
    ck_assert_int_eq(plan_route_path(&b.t, via, GS, path, 4), 0);
    ck_assert_int_eq(plan_route_path(&b.t, via, 7, path, 4), -1);
    ck_assert_int_eq(plan_route_path(&b.t, via, -1, path, 4), -1);
    /* Unreachable: INFINITY and no link. */
    ck_assert(isinf(arr[N3]));
    ck_assert_int_eq(via[N3], -1);
    plan_router_free(r);
}
END_TEST

START_TEST(test_route_pass_beats_relay)
{
    tb b;
    double ready[4], arr[4];
    int via[4], path[4];
    relay_topology(&b, 1);
    plan_router *r = plan_router_new(&b.t);
    ck_assert_ptr_nonnull(r);
    /* Ready at 599.5: the pass opens in 0.5 s, so direct arrives 600.105;
     * via GEO 599.5 + 1.12 + 1.13 = 601.75. */
    only(ready, 4, GS, 599.5);
    ck_assert_int_eq(plan_route(r, 10000000, ready, NULL, NULL, arr, via), 0);
    ck_assert_double_eq_tol(arr[LEO], 600.105, TOL);
    ck_assert_int_eq(via[LEO], L_GS_LEO);
    ck_assert_int_eq(plan_route_path(&b.t, via, LEO, path, 4), 1);
    ck_assert_int_eq(path[0], L_GS_LEO);
    plan_router_free(r);
}
END_TEST

START_TEST(test_route_store_and_forward)
{
    /* Three windowed hops, each transfer spanning windows, so the path's
     * arrival is the composition of the link sends, bit for bit. */
    plan_window a[3] = {W(0, 2, 1000, 0.01), W(5, 9, 500, 0.02),
                        W(20, 40, 800, 0.03)};
    plan_window c[2] = {W(3, 6, 700, 0.1), W(8, 30, 300, 0.1)};
    plan_window d[3] = {W(0, 10, 5000, 1.28), W(12, 13, 4000, 1.3),
                        W(50, 90, 4000, 1.31)};
    plan_link links[3] = {mklink(0, 1, a, 3), mklink(1, 2, c, 2),
                          mklink(2, 3, d, 3)};
    tb b;
    double ready[4], arr[4];
    int via[4];
    uint64_t bytes = 3500;
    tb_init(&b, 4, links, 3, 1);
    plan_router *r = plan_router_new(&b.t);
    ck_assert_ptr_nonnull(r);
    only(ready, 4, 0, 1);
    ck_assert_int_eq(plan_route(r, bytes, ready, NULL, NULL, arr, via), 0);
    double t1 = plan_link_send(&links[0], 1, bytes, NULL, NULL, 0, NULL);
    double t2 = plan_link_send(&links[1], t1, bytes, NULL, NULL, 0, NULL);
    double t3 = plan_link_send(&links[2], t2, bytes, NULL, NULL, 0, NULL);
    ck_assert(arr[1] == t1);
    ck_assert(arr[2] == t2);
    ck_assert(arr[3] == t3);
    /* By hand: hop 1 sends 1000 B in [1, 2), 2000 B in [5, 9), 500 B in
     * [20, 20.625) -> 20.655. Hop 2 from 20.655 at 300 B/s: 3500 / 300 =
     * 11.667 s -> 32.3217 > 30, so 2803.5 B by 30, the rest never: the
     * link's windows end. */
    ck_assert_double_eq_tol(t1, 20.655, TOL);
    ck_assert(isinf(t2) && isinf(arr[2]) && isinf(arr[3]));
    /* Smaller: 1500 B. Hop 1: 1000 in [1, 2), 500 in [5, 6) -> 6.02.
     * Hop 2 from 6.02 (window 0 closed at 6): [8, 13) -> 13.1. Hop 3 from
     * 13.1: window 1 closed at 13, window 2 [50, 50.375) -> 51.685. */
    bytes = 1500;
    ck_assert_int_eq(plan_route(r, bytes, ready, NULL, NULL, arr, via), 0);
    ck_assert_double_eq_tol(arr[1], 6.02, TOL);
    ck_assert_double_eq_tol(arr[2], 13.1, TOL);
    ck_assert_double_eq_tol(arr[3], 51.685, TOL);
    t1 = plan_link_send(&links[0], 1, bytes, NULL, NULL, 0, NULL);
    t2 = plan_link_send(&links[1], t1, bytes, NULL, NULL, 0, NULL);
    t3 = plan_link_send(&links[2], t2, bytes, NULL, NULL, 0, NULL);
    ck_assert(arr[3] == t3);
    plan_router_free(r);
}
END_TEST

START_TEST(test_route_multi_source)
{
    /* A second ground station gs2 (3) whose own pass to leo opens at 1.5:
     * [1.5, 100), 1e8 B/s, 4 ms -> 1.5 + 0.1 + 0.004 = 1.604 < 2.25. */
    plan_window p2[1] = {W(1.5, 100, 1e8, 0.004)};
    plan_link links[4];
    tb b;
    double ready[4], arr[4];
    int via[4];
    relay_topology(&b, 0);
    memcpy(links, r_links, sizeof r_links);
    links[3] = mklink(N3, LEO, p2, 1);
    tb_init(&b, 4, links, 4, 1);
    plan_router *r = plan_router_new(&b.t);
    ck_assert_ptr_nonnull(r);
    only(ready, 4, GS, 0);
    ready[N3] = 0;
    ck_assert_int_eq(plan_route(r, 10000000, ready, NULL, NULL, arr, via), 0);
    ck_assert_double_eq_tol(arr[LEO], 1.604, TOL);
    ck_assert_int_eq(via[LEO], 3);
    ck_assert_int_eq(via[N3], -1);
    ck_assert_double_eq_tol(arr[N3], 0, TOL);
    /* gs2 ready only at 10: the relay path wins again. */
    ready[N3] = 10;
    ck_assert_int_eq(plan_route(r, 10000000, ready, NULL, NULL, arr, via), 0);
    ck_assert_double_eq_tol(arr[LEO], 2.25, TOL);
    ck_assert_int_eq(via[LEO], L_GEO_LEO);
    /* A source reached earlier than its own ready time: geo ready at 100
     * but the bundle gets there at 1.12 from gs; via names that link. */
    only(ready, 4, GS, 0);
    ready[GEO] = 100;
    ck_assert_int_eq(plan_route(r, 10000000, ready, NULL, NULL, arr, via), 0);
    ck_assert_double_eq_tol(arr[GEO], 1.12, TOL);
    ck_assert_int_eq(via[GEO], L_GS_GEO);
    plan_router_free(r);
}
END_TEST

START_TEST(test_route_link_free)
{
    tb b;
    double ready[4], arr[4], lf[3] = {0, 0, 50};
    int via[4];
    relay_topology(&b, 1);
    plan_router *r = plan_router_new(&b.t);
    ck_assert_ptr_nonnull(r);
    only(ready, 4, GS, 0);
    /* geo->leo reserved until 50: 50 + 1 + 0.13 = 51.13. */
    ck_assert_int_eq(plan_route(r, 10000000, ready, lf, NULL, arr, via), 0);
    ck_assert_double_eq_tol(arr[GEO], 1.12, TOL);
    ck_assert_double_eq_tol(arr[LEO], 51.13, TOL);
    ck_assert_int_eq(via[LEO], L_GEO_LEO);
    /* gs->geo reserved until 1000 too: the pass wins, 600.105. */
    lf[L_GS_GEO] = 1000;
    ck_assert_int_eq(plan_route(r, 10000000, ready, lf, NULL, arr, via), 0);
    ck_assert_double_eq_tol(arr[GEO], 1001.12, TOL);
    ck_assert_double_eq_tol(arr[LEO], 600.105, TOL);
    ck_assert_int_eq(via[LEO], L_GS_LEO);
    /* The pass reserved until 999.95: 0.05 s left carry 5e6 B, the rest
     * never goes; relay is 1001.12 + 1.13 = 1002.25. */
    lf[L_GS_LEO] = 999.95;
    ck_assert_int_eq(plan_route(r, 10000000, ready, lf, NULL, arr, via), 0);
    ck_assert_double_eq_tol(arr[LEO], 1002.25, TOL);
    plan_router_free(r);
}
END_TEST

START_TEST(test_route_relay_ok)
{
    tb b;
    double ready[4], arr[4];
    int via[4];
    unsigned char ok[4] = {1, 0, 1, 1};
    int path[4];
    relay_topology(&b, 1);
    plan_router *r = plan_router_new(&b.t);
    ck_assert_ptr_nonnull(r);
    only(ready, 4, GS, 0);
    /* geo may not forward: still reached at 1.12, leo by the pass. */
    ck_assert_int_eq(plan_route(r, 10000000, ready, NULL, ok, arr, via), 0);
    ck_assert_double_eq_tol(arr[GEO], 1.12, TOL);
    ck_assert_double_eq_tol(arr[LEO], 600.105, TOL);
    ck_assert_int_eq(via[LEO], L_GS_LEO);
    /* geo is also a source, ready at 5: it forwards its own copy from 5
     * (not the relayed one from 1.12): 5 + 1.13 = 6.13. Its own label
     * stays 5 (a source), so the path to leo starts there. */
    ready[GEO] = 5;
    ck_assert_int_eq(plan_route(r, 10000000, ready, NULL, ok, arr, via), 0);
    ck_assert_double_eq_tol(arr[GEO], 5, TOL);
    ck_assert_int_eq(via[GEO], -1);
    ck_assert_double_eq_tol(arr[LEO], 6.13, TOL);
    ck_assert_int_eq(plan_route_path(&b.t, via, LEO, path, 4), 1);
    ck_assert_int_eq(path[0], L_GEO_LEO);
    /* The source itself may be relay_ok == 0 and still send. */
    ok[GS] = 0;
    ok[GEO] = 1;
    only(ready, 4, GS, 0);
    ck_assert_int_eq(plan_route(r, 10000000, ready, NULL, ok, arr, via), 0);
    ck_assert_double_eq_tol(arr[LEO], 2.25, TOL);
    plan_router_free(r);
}
END_TEST

START_TEST(test_route_without_csr)
{
    /* A topology without out_first/out_links: the router builds its own
     * adjacency and answers the same. */
    tb b;
    double ready[4], arr[4];
    int via[4];
    relay_topology(&b, 0);
    ck_assert_ptr_null(b.t.out_first);
    plan_router *r = plan_router_new(&b.t);
    ck_assert_ptr_nonnull(r);
    only(ready, 4, GS, 0);
    ck_assert_int_eq(plan_route(r, 10000000, ready, NULL, NULL, arr, via), 0);
    ck_assert_double_eq_tol(arr[LEO], 2.25, TOL);
    ck_assert_int_eq(via[LEO], L_GEO_LEO);
    ck_assert_int_eq(plan_route(r, 1, NULL, NULL, NULL, arr, via), -EINVAL);
    plan_router_free(r);
    plan_router_free(NULL);
}
END_TEST

/* ------------------------------------------- property: brute force */

static uint64_t rng_state;

static uint32_t rnd(void)
{
    /* xorshift64*: deterministic, good enough for test generation. */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (uint32_t)((rng_state * 2685821657736338717ull) >> 32);
}

static double urand(double lo, double hi)
{
    return lo + (hi - lo) * (rnd() / 4294967296.0);
}

#define PN 6
#define PL (PN * (PN - 1))
#define PW 5

typedef struct bf {
    const plan_topology *t;
    uint64_t bytes;
    const double *link_free;
    const unsigned char *relay_ok;
    const double *ready;
    double best[PN];
    unsigned char seen[PN];
} bf;

/* Every simple path from u onward, u holding the bundle from time tu. */
static void bf_walk(bf *s, int u, double tu)
{
    for (int i = 0; i < s->t->n_links; i++) {
        const plan_link *l = &s->t->links[i];
        double ts = tu, a;
        int v = l->to;
        if (l->from != u || s->seen[v])
            continue;
        /* A source that may not relay is only ever its own source. */
        if (s->relay_ok && !s->relay_ok[v] && !isinf(s->ready[v]))
            continue;
        if (s->link_free && s->link_free[i] > ts)
            ts = s->link_free[i];
        a = plan_link_send(l, ts, s->bytes, NULL, NULL, 0, NULL);
        if (a < s->best[v])
            s->best[v] = a;
        if (isinf(a) || (s->relay_ok && !s->relay_ok[v]))
            continue;
        s->seen[v] = 1;
        bf_walk(s, v, a);
        s->seen[v] = 0;
    }
}

START_TEST(test_route_property_brute_force)
{
    plan_window wins[PL][PW];
    plan_link links[PL];
    tb b;
    double ready[PN], arr[PN], lf[PL];
    unsigned char ok[PN];
    int via[PN], path[PN];
    int reached = 0, relayed = 0;

    rng_state = 0x9e3779b97f4a7c15ull;
    for (int iter = 0; iter < 2000; iter++) {
        int n = 2 + (int)(rnd() % (PN - 1)), nl = 0;
        int use_lf = rnd() % 2, use_ok = rnd() % 2;
        bf s;

        for (int u = 0; u < n; u++)
            for (int v = 0; v < n; v++) {
                int nw = (int)(rnd() % (PW + 1));
                double t = urand(0, 20);
                if (u == v || rnd() % 3 == 0)
                    continue;
                if (rnd() % 8 == 0) {
                    wins[nl][0] = W(0, INFINITY, urand(50, 500),
                                    urand(0, 3));
                    links[nl] = mklink(u, v, wins[nl], 1);
                    links[nl].always = 1;
                    nl++;
                    continue;
                }
                for (int k = 0; k < nw; k++) {
                    double len = urand(0.5, 15), d = urand(0, 3);
                    /* Keep the link FIFO: a window's first arrival is
                     * no earlier than the previous window's last. */
                    if (k > 0) {
                        double prev = wins[nl][k - 1].end +
                                      wins[nl][k - 1].delay;
                        if (t + d < prev)
                            t = prev - d + urand(0, 2);
                    }
                    wins[nl][k] = W(t, t + len, urand(20, 400), d);
                    t += len + urand(0, 20);
                }
                links[nl] = mklink(u, v, wins[nl], nw);
                ck_assert(plan_link_fifo(&links[nl]));
                nl++;
            }
        tb_init(&b, n, links, nl, rnd() % 4 != 0);
        for (int v = 0; v < n; v++) {
            ready[v] = rnd() % 3 == 0 ? urand(0, 30) : INFINITY;
            ok[v] = rnd() % 4 != 0;
        }
        if (rnd() % 2)
            ready[rnd() % n] = 0;
        for (int i = 0; i < nl; i++)
            lf[i] = rnd() % 3 == 0 ? urand(0, 40) : 0;

        memset(&s, 0, sizeof s);
        s.t = &b.t;
        s.bytes = rnd() % 3 == 0 ? 0 : rnd() % 6000;
        s.link_free = use_lf ? lf : NULL;
        s.relay_ok = use_ok ? ok : NULL;
        s.ready = ready;
        for (int v = 0; v < n; v++)
            s.best[v] = ready[v];
        for (int v = 0; v < n; v++) {
            if (isinf(ready[v]))
                continue;
            s.seen[v] = 1;
            bf_walk(&s, v, ready[v]);
            s.seen[v] = 0;
        }

        plan_router *r = plan_router_new(&b.t);
        ck_assert_ptr_nonnull(r);
        ck_assert_int_eq(plan_route(r, s.bytes, ready, s.link_free,
                                    s.relay_ok, arr, via), 0);
        for (int v = 0; v < n; v++) {
            ck_assert_msg(arr[v] == s.best[v],
                          "iter %d node %d: router %.17g, brute force %.17g",
                          iter, v, arr[v], s.best[v]);
            if (isinf(arr[v])) {
                ck_assert_int_eq(via[v], -1);
                continue;
            }
            reached++;
            /* The reported path, composed by hand, gives the arrival. */
            int h = plan_route_path(&b.t, via, v, path, PN);
            ck_assert_int_ge(h, 0);
            if (h == 0) {
                ck_assert(arr[v] == ready[v]);
                continue;
            }
            relayed += h > 1;
            int src = links[path[0]].from;
            double t = ready[src];
            ck_assert(!isinf(t));
            for (int k = 0; k < h; k++) {
                const plan_link *l = &links[path[k]];
                if (k > 0) {
                    ck_assert_int_eq(l->from, links[path[k - 1]].to);
                    ck_assert(!s.relay_ok || s.relay_ok[l->from]);
                }
                if (s.link_free && s.link_free[path[k]] > t)
                    t = s.link_free[path[k]];
                t = plan_link_send(l, t, s.bytes, NULL, NULL, 0, NULL);
            }
            ck_assert_int_eq(links[path[h - 1]].to, v);
            ck_assert(t == arr[v]);
        }
        plan_router_free(r);
    }
    /* The generator exercises what it should. */
    ck_assert_int_gt(reached, 2000);
    ck_assert_int_gt(relayed, 200);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("contact");
    TCase *ln = tcase_create("link");
    TCase *rt = tcase_create("route");
    TCase *pr = tcase_create("property");
    SRunner *sr;
    int failed;

    tcase_add_test(ln, test_send_inside_window);
    tcase_add_test(ln, test_send_waits_for_window);
    tcase_add_test(ln, test_send_at_window_end);
    tcase_add_test(ln, test_send_spans_two_windows);
    tcase_add_test(ln, test_send_spans_three_windows);
    tcase_add_test(ln, test_send_fractional_legs);
    tcase_add_test(ln, test_send_runs_out);
    tcase_add_test(ln, test_send_delay_and_rate_per_window);
    tcase_add_test(ln, test_send_zero_bytes);
    tcase_add_test(ln, test_send_always_link);
    tcase_add_test(ln, test_window_binary_search);
    tcase_add_test(rt, test_route_relay_beats_pass);
    tcase_add_test(rt, test_route_pass_beats_relay);
    tcase_add_test(rt, test_route_store_and_forward);
    tcase_add_test(rt, test_route_multi_source);
    tcase_add_test(rt, test_route_link_free);
    tcase_add_test(rt, test_route_relay_ok);
    tcase_add_test(rt, test_route_without_csr);
    tcase_add_test(pr, test_route_property_brute_force);
    tcase_set_timeout(pr, 60);
    suite_add_tcase(s, ln);
    suite_add_tcase(s, rt);
    suite_add_tcase(s, pr);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
