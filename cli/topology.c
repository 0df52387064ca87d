/*
 * topology.c - `lagrange topology`: load a topology file
 * (lagrange-topology(5)), check it, and print it in normal form (every
 * default spelled out, schedules expanded to explicit windows) or as a
 * JSON summary of its nodes and links.
 */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "lgerr.h"
#include "topology.h"

static void help(FILE *f)
{
    fprintf(f,
"usage: lagrange topology FILE [--profiles FILE] [--json]\n\n"
"Load a topology (lagrange-topology(5); ION contact plans are accepted),\n"
"check it and print its normal form: one entity per line, every default\n"
"spelled out, periodic schedules expanded into explicit windows up to the\n"
"horizon. The normal form loads again to the same topology. FILE '-' reads\n"
"standard input.\n\n"
"  --profiles FILE  add or replace compute profiles from FILE (Profile=\n"
"                   lines, as 'lagrange calibrate' prints them)\n"
"  --json           print a JSON summary instead: profiles, nodes with\n"
"                   power and eclipse time, links with window counts,\n"
"                   open time, rates and light times\n\n"
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

static void print_json(const plan_topology *t)
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
        printf("}");
    }
    printf("]}\n");
}

int cmd_topology(int argc, char **argv)
{
    static const struct option opts[] = {
        { "profiles", required_argument, 0, 'p' },
        { "json", no_argument, 0, 'j' },
        { "help", no_argument, 0, 'h' },
        { 0, 0, 0, 0 },
    };
    const char *profiles = NULL;
    plan_topology *t = NULL;
    char err[1024] = "";
    int c, json = 0, rc, ex = EXIT_OK;

    optind = 1;
    while ((c = getopt_long(argc, argv, "p:jh", opts, NULL)) != -1) {
        switch (c) {
        case 'p': profiles = optarg; break;
        case 'j': json = 1; break;
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
    if (profiles &&
        (rc = plan_topology_add_profiles(t, profiles, err, sizeof err)) < 0) {
        cli_err("topology", "%s", err[0] ? err : lg_strerror(rc));
        ex = rc == LG_EMODEL ? EXIT_DATA : EXIT_FAIL;
        goto out;
    }
    if (json)
        print_json(t);
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
