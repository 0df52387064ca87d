/*
 * check_health.c - unit tests for lib/plan/health.c: record freshness
 * ((boot, seq) order, a restarted node winning with a lower seq), garbage
 * records ignored, the suspect and dead thresholds, recovery, silence not
 * counted while no open path leads here (closed windows, a node with no
 * link at all), the light time of a path not counted, fault events, and
 * rebinding to a new topology.
 *
 * Topology (times in s): a - b always (10 ms), b - c always (Moon-like
 * 1.28 s), a - d open only in [100, 110) of every 1000 s, e has no link.
 * This node is a.
 */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "health.h"

static const char *TOPO =
    "Horizon=10000\n"
    "Node=a Kind=ground\n"
    "Node=b Kind=geo\n"
    "Node=c Kind=lunar\n"
    "Node=d Kind=leo\n"
    "Node=e Kind=leo\n"
    "Link=a<>b Delay=10ms Rate=1M\n"
    "Link=b<>c Delay=1.28s Rate=1M\n"
    "Link=a<>d Delay=5ms Rate=1M Window=every:1000s/10s@100s\n";

#define T0 1700000000.0         /* Unix s at topology t = 0 */
#define NB 16
#define GOSSIP 0.5

static plan_topology *topo;
static plan_health *h;
static struct ev { int node; enum plan_hevent e; char d[320]; } evs[NB];
static int n_ev;

static void cb(void *arg, int node, enum plan_hevent e, const char *d)
{
    (void)arg;
    if (n_ev < NB) {
        evs[n_ev].node = node;
        evs[n_ev].e = e;
        snprintf(evs[n_ev].d, sizeof evs[n_ev].d, "%s", d);
    }
    n_ev++;
}

static void setup(void)
{
    char err[256];
    ck_assert_int_eq(plan_topology_parse("t", TOPO, strlen(TOPO), &topo, err,
                                         sizeof err), 0);
    h = plan_health_new(topo, "a", 3, 10, GOSSIP, cb, NULL);
    ck_assert_ptr_nonnull(h);
    n_ev = 0;
}

static void teardown(void)
{
    plan_health_free(h);
    plan_topology_free(topo);
}

static wire_health rec(const char *node, double at, uint64_t seq,
                       double boot)
{
    wire_health r;
    memset(&r, 0, sizeof r);
    snprintf(r.node, sizeof r.node, "%s", node);
    r.unix_ms = (uint64_t)(at * 1e3);
    r.seq = seq;
    r.boot_unix_ms = (uint64_t)(boot * 1e3);
    r.load = 0.5;
    r.battery_soc = -1;
    return r;
}

static int idx(const char *name)
{
    return plan_topology_find(topo, name);
}

static enum plan_hstate st(const char *name)
{
    return plan_health_get(h, idx(name))->state;
}

/* advance from t0 to t1 (Unix s) in steps of dt */
static void run(double t0, double t1, double dt)
{
    for (double t = t0; t <= t1 + 1e-9; t += dt)
        plan_health_advance(h, topo, t, t - T0, 1);
}

START_TEST(test_order)
{
    wire_health r = rec("b", T0 + 10, 5, T0);
    ck_assert_int_eq(st("b"), PLAN_H_UNKNOWN);
    ck_assert_int_eq(plan_health_offer(h, &r, T0 + 10), PLAN_HO_NEWER);
    ck_assert_int_eq(st("b"), PLAN_H_UP);
    ck_assert_int_eq(n_ev, 1);
    ck_assert_int_eq(evs[0].e, PLAN_HE_HEARD);
    /* Same and lower seq of the same boot: older. */
    ck_assert_int_eq(plan_health_offer(h, &r, T0 + 11), PLAN_HO_OLDER);
    r.seq = 4;
    r.unix_ms += 5000;          /* a later clock does not make it newer */
    ck_assert_int_eq(plan_health_offer(h, &r, T0 + 11), PLAN_HO_OLDER);
    /* An older boot with a huge seq: older. */
    r = rec("b", T0 + 12, 1000000, T0 - 100);
    ck_assert_int_eq(plan_health_offer(h, &r, T0 + 12), PLAN_HO_OLDER);
    ck_assert_uint_eq(plan_health_get(h, idx("b"))->rec.seq, 5);
    /* A restarted b: seq 0 but a newer boot wins. */
    r = rec("b", T0 + 20, 0, T0 + 19);
    ck_assert_int_eq(plan_health_offer(h, &r, T0 + 20), PLAN_HO_NEWER);
    ck_assert_uint_eq(plan_health_get(h, idx("b"))->rec.seq, 0);
    ck_assert_uint_eq(plan_health_get(h, idx("b"))->rec.boot_unix_ms,
                      (uint64_t)((T0 + 19) * 1e3));
    r.seq = 1;
    ck_assert_int_eq(plan_health_offer(h, &r, T0 + 20), PLAN_HO_NEWER);
    ck_assert_int_eq(n_ev, 1);
}
END_TEST

START_TEST(test_garbage)
{
    wire_health r = rec("zz", T0, 1, T0);
    ck_assert_int_eq(plan_health_offer(h, &r, T0), PLAN_HO_UNKNOWN_NODE);
    r = rec("a", T0, 1, T0);
    ck_assert_int_eq(plan_health_offer(h, &r, T0), PLAN_HO_SELF);
    r = rec("b", T0, 1, T0);
    r.load = 2;
    ck_assert_int_eq(plan_health_offer(h, &r, T0), PLAN_HO_BAD);
    r.load = 0;
    r.battery_soc = NAN;
    ck_assert_int_eq(plan_health_offer(h, &r, T0), PLAN_HO_BAD);
    r.battery_soc = -0.5;
    ck_assert_int_eq(plan_health_offer(h, &r, T0), PLAN_HO_BAD);
    r.battery_soc = 1;
    strcpy(r.node, "b c");
    ck_assert_int_eq(plan_health_offer(h, &r, T0), PLAN_HO_BAD);
    /* From the far future: would win forever over the real node. */
    r = rec("b", T0, UINT64_MAX, T0 + 2 * PLAN_HEALTH_SKEW_MAX);
    ck_assert_int_eq(plan_health_offer(h, &r, T0), PLAN_HO_BAD);
    r = rec("b", T0 + 2 * PLAN_HEALTH_SKEW_MAX, 1, T0);
    ck_assert_int_eq(plan_health_offer(h, &r, T0), PLAN_HO_BAD);
    r = rec("b", T0, 0, 0);
    ck_assert_int_eq(plan_health_offer(h, &r, T0), PLAN_HO_BAD);
    ck_assert_int_eq(st("b"), PLAN_H_UNKNOWN);
    ck_assert_int_eq(plan_health_get(h, idx("b"))->have, 0);
    ck_assert_int_eq(n_ev, 0);
    /* The garbage left no trace: a sane record is still newer. */
    r = rec("b", T0, 0, T0);
    ck_assert_int_eq(plan_health_offer(h, &r, T0), PLAN_HO_NEWER);
}
END_TEST

START_TEST(test_suspect_dead_recovered)
{
    wire_health r = rec("b", T0 + 1, 1, T0);
    plan_health_offer(h, &r, T0 + 1);
    n_ev = 0;
    /* Heard at 1: silence starts at 1 + 0.01 + GOSSIP. Just under the
     * suspect limit (3 s) at 4.4. */
    run(T0 + 1, T0 + 4.4, 0.1);
    ck_assert_int_eq(st("b"), PLAN_H_UP);
    ck_assert_int_eq(n_ev, 0);
    run(T0 + 4.5, T0 + 4.6, 0.1);
    ck_assert_int_eq(st("b"), PLAN_H_SUSPECT);
    ck_assert_int_eq(n_ev, 1);
    ck_assert_int_eq(evs[0].e, PLAN_HE_SUSPECT);
    ck_assert_int_eq(evs[0].node, idx("b"));
    ck_assert_ptr_nonnull(strstr(evs[0].d, "while reachable"));
    ck_assert_ptr_nonnull(strstr(evs[0].d, "last heard"));
    run(T0 + 4.7, T0 + 11.4, 0.1);
    ck_assert_int_eq(st("b"), PLAN_H_SUSPECT);
    run(T0 + 11.5, T0 + 12, 0.1);
    ck_assert_int_eq(st("b"), PLAN_H_DEAD);
    ck_assert_int_eq(n_ev, 2);
    ck_assert_int_eq(evs[1].e, PLAN_HE_DEAD);
    run(T0 + 12.1, T0 + 30, 0.1);
    ck_assert_int_eq(n_ev, 2);          /* one event per transition */
    /* A newer record: recovered. */
    r = rec("b", T0 + 30, 2, T0);
    ck_assert_int_eq(plan_health_offer(h, &r, T0 + 30), PLAN_HO_NEWER);
    ck_assert_int_eq(st("b"), PLAN_H_UP);
    ck_assert_int_eq(n_ev, 3);
    ck_assert_int_eq(evs[2].e, PLAN_HE_RECOVERED);
    ck_assert_ptr_nonnull(strstr(evs[2].d, "was dead"));
    ck_assert(plan_health_get(h, idx("b"))->silent == 0);
    /* A restart after SUSPECT says so. */
    run(T0 + 30, T0 + 34.5, 0.1);
    ck_assert_int_eq(st("b"), PLAN_H_SUSPECT);
    r = rec("b", T0 + 35, 0, T0 + 34);
    plan_health_offer(h, &r, T0 + 35);
    ck_assert_int_eq(evs[n_ev - 1].e, PLAN_HE_RECOVERED);
    ck_assert_ptr_nonnull(strstr(evs[n_ev - 1].d, "after a restart"));
    /* This node itself is always up. */
    ck_assert_int_eq(st("a"), PLAN_H_UP);
}
END_TEST

START_TEST(test_unreachable_silence)
{
    /* d is heard at 105, inside its window [100, 110); the window then
     * stays closed until 1100: no silence counts in between. */
    wire_health r = rec("d", T0 + 105, 1, T0);
    wire_health e = rec("e", T0 + 105, 1, T0);
    plan_health_offer(h, &r, T0 + 105);
    plan_health_offer(h, &e, T0 + 105);
    n_ev = 0;
    run(T0 + 105, T0 + 107, 0.25);
    ck_assert(plan_health_get(h, idx("d"))->audible);
    ck_assert(plan_health_get(h, idx("d"))->silent > 1);
    ck_assert_int_eq(st("d"), PLAN_H_UP);
    run(T0 + 110, T0 + 1099, 1);
    ck_assert(!plan_health_get(h, idx("d"))->audible);
    ck_assert_int_eq(st("d"), PLAN_H_UP);
    ck_assert(plan_health_get(h, idx("d"))->silent < 3);
    /* e has no link at all: never audible, never suspect. */
    ck_assert(!plan_health_get(h, idx("e"))->audible);
    ck_assert_int_eq(st("e"), PLAN_H_UP);
    ck_assert_int_eq(n_ev, 0);
    /* The window opens again at 1100: silence resumes. */
    run(T0 + 1100, T0 + 1105, 0.25);
    ck_assert_int_eq(st("d"), PLAN_H_SUSPECT);
    ck_assert_int_eq(n_ev, 1);
    /* With windows ignored (no emulation) d is always audible. */
    plan_health_advance(h, topo, T0 + 1106, 2000, 0);
    ck_assert(plan_health_get(h, idx("d"))->audible);
}
END_TEST

START_TEST(test_light_time)
{
    /* c is 1.29 s + 2 gossip hops away: a record made at 0 cannot be
     * followed by a newer one before 2.29. With the suspect limit 3, c
     * is still up at 5.2 (silence 2.91) though 5.2 s passed. */
    double lag[8];
    wire_health r = rec("c", T0, 1, T0);
    plan_health_audible(topo, idx("a"), 0, 1, GOSSIP, lag);
    ck_assert(fabs(lag[idx("c")] - (1.29 + 2 * GOSSIP)) < 1e-9);
    ck_assert(fabs(lag[idx("b")] - (0.01 + GOSSIP)) < 1e-9);
    ck_assert(lag[idx("a")] == 0);
    ck_assert(isinf(lag[idx("e")]));
    ck_assert(isinf(lag[idx("d")]));    /* window closed at 0 */
    plan_health_offer(h, &r, T0 + 1.3);
    run(T0 + 1.3, T0 + 5.2, 0.1);
    ck_assert_int_eq(st("c"), PLAN_H_UP);
    run(T0 + 5.3, T0 + 5.4, 0.1);
    ck_assert_int_eq(st("c"), PLAN_H_SUSPECT);
}
END_TEST

START_TEST(test_faults)
{
    wire_health r = rec("b", T0, 1, T0);
    plan_health_offer(h, &r, T0);
    ck_assert_int_eq(n_ev, 1);          /* heard, no fault */
    r.seq = 2;
    r.fault_ecc = 2;
    plan_health_offer(h, &r, T0);
    ck_assert_int_eq(n_ev, 2);
    ck_assert_int_eq(evs[1].e, PLAN_HE_FAULT);
    ck_assert_ptr_nonnull(strstr(evs[1].d, "ecc +2 (2)"));
    r.seq = 3;                          /* unchanged: no event */
    plan_health_offer(h, &r, T0);
    ck_assert_int_eq(n_ev, 2);
    r.seq = 4;
    r.fault_exec_checksum = 1;
    r.fault_spool_quarantined = 3;
    plan_health_offer(h, &r, T0);
    ck_assert_int_eq(n_ev, 3);
    ck_assert_ptr_nonnull(strstr(evs[2].d, "exec_checksum +1 (1)"));
    ck_assert_ptr_nonnull(strstr(evs[2].d, "spool_quarantined +3 (3)"));
    /* After a restart the counters start over: a lower count is no
     * fault, a nonzero one since the boot is. */
    r = rec("b", T0 + 5, 0, T0 + 4);
    plan_health_offer(h, &r, T0 + 5);
    ck_assert_int_eq(n_ev, 3);
    r.seq = 1;
    r.fault_ecc = 1;
    plan_health_offer(h, &r, T0 + 5);
    ck_assert_int_eq(n_ev, 4);
    ck_assert_int_eq(evs[3].e, PLAN_HE_FAULT);
}
END_TEST

START_TEST(test_rebind)
{
    static const char *T2 =
        "Node=x Kind=leo\n"
        "Node=b Kind=geo\n"
        "Node=a Kind=ground\n"
        "Link=a<>b Delay=10ms Rate=1M\n";
    plan_topology *t2;
    char err[256];
    wire_health r = rec("b", T0, 7, T0);
    plan_health_offer(h, &r, T0);
    r = rec("c", T0, 3, T0);
    plan_health_offer(h, &r, T0);
    ck_assert_int_eq(plan_topology_parse("t2", T2, strlen(T2), &t2, err,
                                         sizeof err), 0);
    ck_assert_int_eq(plan_health_rebind(h, t2, "nobody"), -ENOENT);
    ck_assert_int_eq(plan_health_n(h), 5);
    ck_assert_int_eq(plan_health_rebind(h, t2, "a"), 0);
    ck_assert_int_eq(plan_health_n(h), 3);
    ck_assert_int_eq(plan_health_self(h), 2);
    ck_assert_uint_eq(plan_health_get(h, 1)->rec.seq, 7);
    ck_assert_int_eq(plan_health_get(h, 1)->state, PLAN_H_UP);
    ck_assert_int_eq(plan_health_get(h, 0)->state, PLAN_H_UNKNOWN);
    ck_assert_ptr_null(plan_health_get(h, 3));
    /* An advance with the old topology is refused quietly. */
    plan_health_advance(h, topo, T0 + 100, 100, 1);
    ck_assert(plan_health_get(h, 1)->silent == 0);
    plan_health_advance(h, t2, T0 + 100, 100, 1);
    plan_health_advance(h, t2, T0 + 101, 101, 1);
    ck_assert(plan_health_get(h, 1)->silent > 0);
    r = rec("c", T0 + 1, 4, T0);
    ck_assert_int_eq(plan_health_offer(h, &r, T0 + 1),
                     PLAN_HO_UNKNOWN_NODE);
    plan_topology_free(t2);
}
END_TEST

START_TEST(test_names)
{
    ck_assert_str_eq(plan_hstate_name(PLAN_H_UNKNOWN), "unknown");
    ck_assert_str_eq(plan_hstate_name(PLAN_H_SUSPECT), "suspect");
    ck_assert_str_eq(plan_hevent_name(PLAN_HE_DEAD), "node.dead");
    ck_assert_str_eq(plan_hevent_name(PLAN_HE_RECOVERED), "node.recovered");
    ck_assert_str_eq(plan_hevent_name(PLAN_HE_FAULT), "node.fault");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("health");
    TCase *tc = tcase_create("health");
    SRunner *sr;
    int failed;
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_order);
    tcase_add_test(tc, test_garbage);
    tcase_add_test(tc, test_suspect_dead_recovered);
    tcase_add_test(tc, test_unreachable_silence);
    tcase_add_test(tc, test_light_time);
    tcase_add_test(tc, test_faults);
    tcase_add_test(tc, test_rebind);
    tcase_add_test(tc, test_names);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
