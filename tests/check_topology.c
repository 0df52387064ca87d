/*
 * check_topology.c - unit tests for what lib/plan/topology.c keeps about
 * orbits that the golden files of tests/plan/topo cannot see:
 *
 *  - Tle= paths: relative to the topology file's directory for
 *    plan_topology_load, to the current directory for
 *    plan_topology_parse; the path opened and the one written are kept;
 *  - plan_topology_stale: 0 after a load, 1 once a TLE file's mtime
 *    changes or the file goes, 0 for a topology without TLEs;
 *  - warnings: "FILE:LINE: ..." once each, at most PLAN_MAX_WARNINGS kept
 *    and the rest counted;
 *  - Window=orbit links: finite windows, FIFO (plan_link_fifo), the same
 *    both ways, delays at least the light time of a 550 km orbit.
 *
 * The TLEs are written here, into a temporary directory.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <check.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "contact.h"
#include "lgerr.h"
#include "topology.h"

/* Two satellites 20 deg apart at 550 km, epoch 2026-11-22T00:00:00Z
 * (examples/default.tle), and one with an epoch 492 days earlier. */
static const char tles[] =
    "leo-gpu-1\n"
    "1 90001U 26900A   26326.00000000  .00000800  00000+0  40000-4 0  9991\n"
    "2 90001  53.0000  30.0000 0001200  90.0000  40.0000 15.05570000 10014\n"
    "leo-gpu-2\n"
    "1 90002U 26900B   26326.00000000  .00000800  00000+0  40000-4 0  9992\n"
    "2 90002  53.0000  30.0000 0001200  90.0000  20.0000 15.05570000 10024\n"
    "oldsat\n"
    "1 90021U 25900A   25200.00000000  .00000800  00000+0  40000-4 0  9992\n"
    "2 90021  53.0000  30.0000 0001200  90.0000   0.0000 15.05570000    55\n";

static const char topo[] =
    "Epoch=2026-11-22T00:00:00Z\n"
    "Horizon=6h\n"
    "Node=gs Kind=ground Lat=40.43 Lon=-4.25 Alt=650\n"
    "Node=leo-gpu-1 Kind=leo Tle=sats.tle Eclipse=orbit\n"
    "Node=two Kind=leo Tle=sats.tle TleName=leo-gpu-2\n"
    "Link=gs<>leo-gpu-1 Rate=50M/2G Window=orbit\n"
    "Link=leo-gpu-1<>two Rate=10G Window=orbit Delay=1ms\n";

static char dir[64];

static void write_file(const char *name, const char *text)
{
    char path[256];
    FILE *f;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fputs(text, f) >= 0, 1);
    ck_assert_int_eq(fclose(f), 0);
}

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/check_topology.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    write_file("sats.tle", tles);
    write_file("a.topo", topo);
}

static void teardown(void)
{
    char cmd[128];
    if (chdir("/") != 0)         /* a test may have gone into dir */
        return;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
}

START_TEST(tle_paths_and_stale)
{
    plan_topology *t = NULL;
    char path[256], tle[256], err[512] = "";
    struct timespec ts[2];
    const plan_orbit *o;
    int n;

    snprintf(path, sizeof path, "%s/a.topo", dir);
    snprintf(tle, sizeof tle, "%s/sats.tle", dir);
    ck_assert_msg(plan_topology_load(path, &t, err, sizeof err) == 0, "%s",
                  err);
    n = plan_topology_find(t, "leo-gpu-1");
    ck_assert_int_ge(n, 0);
    o = &t->nodes[n].orbit;
    ck_assert_str_eq(o->tle_decl, "sats.tle");
    ck_assert_str_eq(o->tle_path, tle);
    ck_assert_int_eq(o->satnum, 90001);
    ck_assert_int_gt(o->tle_mtime, 0);
    ck_assert(o->eclipse);
    o = &t->nodes[plan_topology_find(t, "two")].orbit;
    ck_assert_int_eq(o->satnum, 90002);
    ck_assert_str_eq(o->tle_name, "leo-gpu-2");
    o = &t->nodes[plan_topology_find(t, "gs")].orbit;
    ck_assert(o->site && o->mask_deg == 10 && o->alt_m == 650);
    ck_assert_int_eq(t->n_warnings, 0);
    ck_assert_int_eq(plan_topology_stale(t), 0);

    /* a new mtime: stale; the file gone: stale */
    ts[0].tv_sec = ts[1].tv_sec = 1700000000;
    ts[0].tv_nsec = ts[1].tv_nsec = 0;
    ck_assert_int_eq(utimensat(AT_FDCWD, tle, ts, 0), 0);
    ck_assert_int_eq(plan_topology_stale(t), 1);
    plan_topology_free(t);
    ck_assert_int_eq(plan_topology_load(path, &t, err, sizeof err), 0);
    ck_assert_int_eq(plan_topology_stale(t), 0);
    ck_assert_int_eq(unlink(tle), 0);
    ck_assert_int_eq(plan_topology_stale(t), 1);
    plan_topology_free(t);
}
END_TEST

START_TEST(parse_is_relative_to_cwd)
{
    plan_topology *t = NULL;
    char err[512] = "";
    /* from elsewhere the relative Tle= is not found, naming both files */
    ck_assert_int_eq(chdir("/"), 0);
    ck_assert_int_eq(plan_topology_parse("mem", topo, sizeof topo - 1, &t,
                                         err, sizeof err), LG_EMODEL);
    ck_assert_ptr_null(t);
    ck_assert_msg(strstr(err, "mem:4: sats.tle: No such file"), "%s", err);
    ck_assert_int_eq(chdir(dir), 0);
    ck_assert_msg(plan_topology_parse("mem", topo, sizeof topo - 1, &t, err,
                                      sizeof err) == 0, "%s", err);
    ck_assert_str_eq(t->nodes[1].orbit.tle_path, "sats.tle");
    plan_topology_free(t);
}
END_TEST

START_TEST(orbit_windows_are_sane)
{
    plan_topology *t = NULL;
    char path[256], err[512] = "";
    int gs, a, b, n_pass = 0;

    snprintf(path, sizeof path, "%s/a.topo", dir);
    ck_assert_msg(plan_topology_load(path, &t, err, sizeof err) == 0, "%s",
                  err);
    gs = plan_topology_find(t, "gs");
    a = plan_topology_find(t, "leo-gpu-1");
    b = plan_topology_find(t, "two");
    for (int l = 0; l < t->n_links; l++) {
        const plan_link *k = &t->links[l];
        const plan_link *r = &t->links[plan_topology_link(t, k->to,
                                                          k->from)];
        ck_assert(k->orbit);
        ck_assert_msg(plan_link_fifo(k), "link %d not FIFO", l);
        ck_assert_int_eq(k->n_win, r->n_win);
        for (int i = 0; i < k->n_win; i++) {
            const plan_window *w = &k->win[i];
            ck_assert(isfinite(w->start) && isfinite(w->end) &&
                      isfinite(w->delay) && w->end > w->start);
            ck_assert(w->start >= 0 && w->end <= t->horizon);
            ck_assert(w->start == r->win[i].start &&
                      w->end == r->win[i].end &&
                      w->delay == r->win[i].delay);
            /* 550 km straight up is 1.83 ms; a 20 deg chord 8.0 ms,
             * plus the link's 1 ms */
            if (k->from == gs || k->to == gs)
                ck_assert(w->delay > 1.8e-3 && w->delay < 7e-3);
            else
                ck_assert(fabs(w->delay - 9.03e-3) < 0.1e-3);
        }
    }
    for (int i = 0; i < t->links[plan_topology_link(t, gs, a)].n_win; i++)
        n_pass++;
    ck_assert_int_gt(n_pass, 0);
    ck_assert_int_eq(t->links[plan_topology_link(t, a, b)].n_win, 1);
    /* 6 h at 95.6 min an orbit: 4 eclipses of ~35 min (the last cut) */
    ck_assert_int_eq(t->nodes[a].power.n_eclipse, 4);
    for (int i = 0; i < 3; i++) {
        const plan_interval *e = &t->nodes[a].power.eclipse[i];
        ck_assert(e->end - e->start > 34 * 60 && e->end - e->start < 37 * 60);
    }
    ck_assert_int_eq(t->nodes[b].power.n_eclipse, 0);
    plan_topology_free(t);
}
END_TEST

START_TEST(warnings_once_and_capped)
{
    plan_topology *t = NULL;
    char *text = malloc(64 * 1024), err[512] = "";
    size_t n = 0;
    ck_assert_ptr_nonnull(text);
    n += (size_t)sprintf(text + n, "Epoch=2026-11-22T00:00:00Z\n");
    for (int i = 0; i < PLAN_MAX_WARNINGS + 50; i++)
        n += (size_t)sprintf(text + n, "Node=old%d Kind=leo Tle=sats.tle "
                             "TleName=oldsat\n", i);
    ck_assert_int_eq(chdir(dir), 0);
    ck_assert_msg(plan_topology_parse("w.topo", text, n, &t, err,
                                      sizeof err) == 0, "%s", err);
    ck_assert_int_eq(t->n_warnings, PLAN_MAX_WARNINGS);
    ck_assert_int_eq(t->n_warnings_dropped, 50);
    ck_assert_msg(!strncmp(t->warnings[0], "w.topo:2: old0: TLE epoch "
                           "2025-07-19T00:00:00Z is 498.0 days", 59),
                  "%s", t->warnings[0]);
    plan_topology_free(t);
    free(text);
}
END_TEST

START_TEST(no_tle_is_never_stale)
{
    plan_topology *t = NULL;
    static const char plain[] = "Node=a Kind=ground\nNode=b Kind=leo\n"
                                "Link=a<>b Delay=4ms Rate=1G\n";
    char err[256];
    ck_assert_int_eq(plan_topology_parse("p", plain, sizeof plain - 1, &t,
                                         err, sizeof err), 0);
    ck_assert_int_eq(plan_topology_stale(t), 0);
    ck_assert_ptr_null(t->nodes[1].orbit.tle_path);
    ck_assert_int_eq(t->n_warnings, 0);
    plan_topology_free(t);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("topology");
    TCase *tc = tcase_create("orbit");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, tle_paths_and_stale);
    tcase_add_test(tc, parse_is_relative_to_cwd);
    tcase_add_test(tc, orbit_windows_are_sane);
    tcase_add_test(tc, warnings_once_and_capped);
    tcase_add_test(tc, no_tle_is_never_stale);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    int nf;
    srunner_run_all(sr, CK_NORMAL);
    nf = srunner_ntests_failed(sr);
    srunner_free(sr);
    return nf ? EXIT_FAILURE : EXIT_SUCCESS;
}
