/*
 * topology.c - `lagrange topology`: load a topology file
 * (lagrange-topology(5)), check it, and print it in normal form (every
 * default spelled out, schedules expanded to explicit windows) or as a
 * JSON summary of its nodes and links; --windows lists every window and
 * eclipse, the ones computed from orbits included.
 */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "lgtime.h"
#include "lgerr.h"
#include "topology.h"

static void help(FILE *f)
{
    fprintf(f,
"usage: lagrange topology FILE [--profiles FILE] [--json] [--windows]\n\n"
"Load a topology (lagrange-topology(5); ION contact plans are accepted),\n"
"check it and print its normal form: one entity per line, every default\n"
"spelled out, periodic schedules expanded into explicit windows up to the\n"
"horizon. The normal form loads again to the same topology. FILE '-' reads\n"
"standard input.\n\n"
"  --profiles FILE  add or replace compute profiles from FILE (Profile=\n"
"                   lines, as 'lagrange calibrate' prints them)\n"
"  --json           print a JSON summary instead: profiles, nodes with\n"
"                   power and eclipse time, links with window counts,\n"
"                   open time, rates and light times\n"
"  --windows        list every window of every directed link (start, end,\n"
"                   light time, rate) and every eclipse, those computed\n"
"                   from orbits (Window=orbit, Eclipse=orbit) included;\n"
"                   with --json, as arrays in the summary\n\n"
"Warnings (an old TLE, a decayed satellite) go to standard error.\n"
"Exit status: 0 ok, 1 I/O failure, 2 usage, 3 bad topology (the message\n"
"names FILE:LINE).\n");
}

/* Seconds of [s, e) inside [0, h). */
static double clip(double s, double e, double h)
{
    if (s < 0)
        s = 0;
    if (e > h)
        e = h;
    return e > s ? e - s : 0;
}

static void jnum(double x)
{
    if (isfinite(x))
        printf("%.17g", x);
    else
        printf("null");
}

/* "2026-11-22T01:12:24.213Z" for t seconds after the epoch; "-" when
 * the epoch is unset or t is not finite. */
static const char *utc(const plan_topology *t, double s, char *buf,
                       size_t len)
{
    if (t->epoch_unix == 0) {
        snprintf(buf, len, "-");
        return buf;
    }
    return lg_time_fmt_fixed(buf, len, t->epoch_unix + s, 3);
}

static void print_windows(const plan_topology *t)
{
    char a[64], b[2 * PLAN_NAME_MAX + 4];
    printf("# Windows of each directed link, in seconds after the epoch "
           "(%s); delay: one-way light time plus the link's Delay=\n",
           utc(t, 0, a, sizeof a));
    printf("%-28s %14s %14s %12s %11s %14s  %s\n", "LINK", "START", "END",
           "DURATION", "DELAY_MS", "RATE_BIT_S", "START_UTC");
    for (int l = 0; l < t->n_links; l++) {
        const plan_link *k = &t->links[l];
        snprintf(b, sizeof b, "%s->%s", t->nodes[k->from].name,
                 t->nodes[k->to].name);
        for (int i = 0; i < k->n_win; i++) {
            const plan_window *w = &k->win[i];
            printf("%-28s %14.3f %14.3f %12.3f %11.4f %14.6g  %s\n", b,
                   w->start, w->end, w->end - w->start, w->delay * 1e3,
                   w->rate * 8, utc(t, w->start, a, sizeof a));
        }
    }
    printf("\n# Eclipses of each node (the array gives nothing)\n");
    printf("%-28s %14s %14s %12s  %s\n", "NODE", "START", "END",
           "DURATION", "START_UTC");
    for (int n = 0; n < t->n_nodes; n++) {
        const plan_power *p = &t->nodes[n].power;
        for (int i = 0; i < p->n_eclipse; i++)
            printf("%-28s %14.3f %14.3f %12.3f  %s\n", t->nodes[n].name,
                   p->eclipse[i].start, p->eclipse[i].end,
                   p->eclipse[i].end - p->eclipse[i].start,
                   utc(t, p->eclipse[i].start, a, sizeof a));
    }
}

static void print_json(const plan_topology *t, int windows)
{
    printf("{\"file\":");
    cli_json_str(stdout, t->path);
    printf(",\"epoch_unix\":");
    if (t->epoch_unix != 0)
        jnum(t->epoch_unix);
    else
        printf("null");
    printf(",\"horizon_s\":");
    jnum(t->horizon);
    printf(",\"profiles\":[");
    for (int i = 0; i < t->n_profiles; i++) {
        const plan_profile *p = &t->profiles[i];
        printf("%s{\"name\":", i ? "," : "");
        cli_json_str(stdout, p->name);
        for (int c = 0; c < PLAN_OC_N; c++) {
            printf(",\"%s_flops\":", plan_opclass_name((enum plan_opclass)c));
            jnum(p->flops[c]);
        }
        printf(",\"mem_bw_bytes_s\":");
        jnum(p->mem_bw);
        printf(",\"overhead_s\":");
        jnum(p->overhead_s);
        printf(",\"builtin\":%s}", p->line == 0 ? "true" : "false");
    }
    printf("],\"nodes\":[");
    for (int n = 0; n < t->n_nodes; n++) {
        const plan_node *nd = &t->nodes[n];
        const plan_power *pw = &nd->power;
        double ecl = 0;
        for (int k = 0; k < pw->n_eclipse; k++)
            ecl += clip(pw->eclipse[k].start, pw->eclipse[k].end, t->horizon);
        printf("%s{\"name\":", n ? "," : "");
        cli_json_str(stdout, nd->name);
        printf(",\"kind\":\"%s\",\"profile\":", plan_kind_name(nd->kind));
        cli_json_str(stdout, t->profiles[nd->profile].name);
        printf(",\"scale\":");
        jnum(nd->scale);
        printf(",\"memory_bytes\":%llu,\"ion\":",
               (unsigned long long)nd->memory);
        if (nd->ion)
            printf("%d", nd->ion);
        else
            printf("null");
        printf(",\"power\":\"%s\"", pw->solar ? "solar" : "grid");
        if (pw->solar) {
            printf(",\"array_w\":");
            jnum(pw->array_w);
            printf(",\"battery_wh\":");
            jnum(pw->battery_wh);
            printf(",\"min_soc\":");
            jnum(pw->min_soc);
            printf(",\"soc0\":");
            jnum(pw->soc0);
        }
        printf(",\"idle_w\":");
        jnum(pw->idle_w);
        printf(",\"busy_w\":");
        jnum(pw->busy_w);
        printf(",\"eclipses\":%d,\"eclipse_s\":", pw->n_eclipse);
        jnum(ecl);
        printf(",\"eclipse_orbit\":%s", nd->orbit.eclipse ? "true" : "false");
        printf(",\"tle\":");
        if (nd->orbit.tle_path) {
            cli_json_str(stdout, nd->orbit.tle_path);
            printf(",\"catalog\":%d", nd->orbit.satnum);
        } else {
            printf("null");
        }
        if (nd->orbit.site) {
            printf(",\"lat_deg\":");
            jnum(nd->orbit.lat_deg);
            printf(",\"lon_deg\":");
            jnum(nd->orbit.lon_deg);
            printf(",\"alt_m\":");
            jnum(nd->orbit.alt_m);
            printf(",\"mask_deg\":");
            jnum(nd->orbit.mask_deg);
        }
        printf(",\"moon\":%s", nd->orbit.moon ? "true" : "false");
        if (windows) {
            printf(",\"eclipse_list\":[");
            for (int k = 0; k < pw->n_eclipse; k++) {
                printf("%s[", k ? "," : "");
                jnum(pw->eclipse[k].start);
                printf(",");
                jnum(pw->eclipse[k].end);
                printf("]");
            }
            printf("]");
        }
        printf(",\"out_links\":%d}", t->out_first[n + 1] - t->out_first[n]);
    }
    printf("],\"links\":[");
    for (int l = 0; l < t->n_links; l++) {
        const plan_link *k = &t->links[l];
        double open = 0, rmin = INFINITY, rmax = 0, dmin = INFINITY, dmax = 0;
        for (int i = 0; i < k->n_win; i++) {
            const plan_window *w = &k->win[i];
            open += clip(w->start, w->end, t->horizon);
            rmin = fmin(rmin, w->rate);
            rmax = fmax(rmax, w->rate);
            dmin = fmin(dmin, w->delay);
            dmax = fmax(dmax, w->delay);
        }
        printf("%s{\"from\":", l ? "," : "");
        cli_json_str(stdout, t->nodes[k->from].name);
        printf(",\"to\":");
        cli_json_str(stdout, t->nodes[k->to].name);
        printf(",\"always\":%s,\"windows\":%d,\"first_open_s\":",
               k->always ? "true" : "false", k->n_win);
        if (k->n_win)
            jnum(k->win[0].start);
        else
            printf("null");
        printf(",\"open_s\":");
        jnum(open);
        printf(",\"rate_bytes_s_min\":");
        jnum(k->n_win ? rmin : NAN);
        printf(",\"rate_bytes_s_max\":");
        jnum(k->n_win ? rmax : NAN);
        printf(",\"delay_s_min\":");
        jnum(k->n_win ? dmin : NAN);
        printf(",\"delay_s_max\":");
        jnum(k->n_win ? dmax : NAN);
        printf(",\"orbit\":%s", k->orbit ? "true" : "false");
        if (windows) {
            printf(",\"window_list\":[");
            for (int i = 0; i < k->n_win; i++) {
                const plan_window *w = &k->win[i];
                printf("%s\n[", i ? "," : "");
                jnum(w->start);
                printf(",");
                jnum(w->end);
                printf(",");
                jnum(w->delay);
                printf(",");
                jnum(w->rate);
                printf("]");
            }
            printf("]");
        }
        printf("}");
    }
    printf("],\"warnings\":[");
    for (int i = 0; i < t->n_warnings; i++) {
        printf("%s", i ? "," : "");
        cli_json_str(stdout, t->warnings[i]);
    }
    printf("]}\n");
}

int cmd_topology(int argc, char **argv)
{
    static const struct option opts[] = {
        { "profiles", required_argument, 0, 'p' },
        { "json", no_argument, 0, 'j' },
        { "windows", no_argument, 0, 'w' },
        { "help", no_argument, 0, 'h' },
        { 0, 0, 0, 0 },
    };
    const char *profiles = NULL;
    plan_topology *t = NULL;
    char err[1024] = "";
    int c, json = 0, windows = 0, rc, ex = EXIT_OK;

    optind = 1;
    while ((c = getopt_long(argc, argv, "p:jwh", opts, NULL)) != -1) {
        switch (c) {
        case 'p': profiles = optarg; break;
        case 'j': json = 1; break;
        case 'w': windows = 1; break;
        case 'h': help(stdout); return EXIT_OK;
        default: help(stderr); return EXIT_USAGE;
        }
    }
    if (optind != argc - 1) {
        cli_err("topology", "need exactly one topology FILE");
        help(stderr);
        return EXIT_USAGE;
    }
    if ((rc = plan_topology_load(argv[optind], &t, err, sizeof err)) < 0) {
        cli_err("topology", "%s", err[0] ? err : lg_strerror(rc));
        return rc == LG_EMODEL ? EXIT_DATA : EXIT_FAIL;
    }
    for (int i = 0; i < t->n_warnings; i++)
        cli_err("topology", "warning: %s", t->warnings[i]);
    if (t->n_warnings_dropped)
        cli_err("topology", "warning: %d more warnings",
                t->n_warnings_dropped);
    if (profiles &&
        (rc = plan_topology_add_profiles(t, profiles, err, sizeof err)) < 0) {
        cli_err("topology", "%s", err[0] ? err : lg_strerror(rc));
        ex = rc == LG_EMODEL ? EXIT_DATA : EXIT_FAIL;
        goto out;
    }
    if (json)
        print_json(t, windows);
    else if (windows)
        print_windows(t);
    else if (plan_topology_print(t, stdout) < 0)
        ex = EXIT_FAIL;
    if (fflush(stdout) != 0 || ferror(stdout)) {
        cli_err("topology", "write error on standard output");
        ex = EXIT_FAIL;
    }
out:
    plan_topology_free(t);
    return ex;
}
