/*
 * main.c - the lagrange command-line tool: verb dispatch, --help and
 * --version. Each verb parses its own options (see cli/<verb>.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blastune.h"
#include "cli.h"

static const struct verb {
    const char *name;
    int (*fn)(int, char **);
    const char *summary;
} verbs[] = {
    { "inspect", cmd_inspect, "show a model's ops, shapes, costs and cut points" },
    { "run", cmd_run, "run a model (or a partition) locally on .npy inputs" },
    { "split", cmd_split, "cut a model into partition models + a manifest" },
    { "plan", cmd_plan, "place a model on a topology: partitions, schedule, energy" },
    { "topology", cmd_topology, "check a topology file and print it in normal form" },
    { "calibrate", cmd_calibrate, "measure this machine's throughput as a Profile= line" },
    { "contacts", cmd_contacts, "passes, light time and eclipses from TLEs" },
    { "cert", cmd_cert, "make the CA and node certificates of a constellation" },
    { "status", cmd_status, "ask the local lagranged how it runs" },
    { "links", cmd_links, "ask the local lagranged about this node's links" },
    { "link", cmd_link, "take a link of the local lagranged down or up" },
    { "ping", cmd_ping, "bundle round trip from the local node to a node" },
    { "send", cmd_send, "send a file to a node's inbox through the network" },
    { "spool", cmd_spool, "the local lagranged's spool and delivery counters" },
    { "model", cmd_model, "push, list or remove the models lagranged holds" },
    { "submit", cmd_submit, "submit a job: a model and .npy inputs" },
    { "queue", cmd_queue, "list jobs: state, reason, age, nodes" },
    { "show", cmd_show, "everything about one job" },
    { "watch", cmd_watch, "follow a job until it ends" },
    { "cancel", cmd_cancel, "cancel a job" },
    { "result", cmd_result, "fetch a job's outputs as .npy files" },
    { "nodes", cmd_nodes, "the constellation's nodes as lagranged sees them" },
    { "demo", cmd_demo, "run the default constellation here and tour it" },
    { "fault", cmd_fault, "count hardware faults in the local node's health" },
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: lagrange [--version] [--help] VERB [ARGS]\n\n"
            "Split, place and run ONNX inference across ground stations,\n"
            "satellites and the Moon.\n\nverbs:\n");
    for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
        fprintf(f, "  %-9s %s\n", verbs[i].name, verbs[i].summary);
    fprintf(f,
            "\n'lagrange VERB --help' describes a verb; man lagrange(1) has "
            "the details.\nExit status: 0 ok, 1 failure, 2 usage, 3 bad "
            "model or data, 4 unsupported,\n5 infeasible plan, 6 not found, "
            "7 lagranged not reachable, 8 timed out,\n9 job failed, "
            "10 not authorised.\n");
}

int main(int argc, char **argv)
{
    lg_blas_tune(argv);   /* OpenBLAS kernels: see blastune.h */
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
        !strcmp(argv[1], "help")) {
        usage(stdout);
        return EXIT_OK;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
        printf("lagrange %s\n", PACKAGE_VERSION);
        return EXIT_OK;
    }
    for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
        if (!strcmp(argv[1], verbs[i].name))
            return verbs[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "lagrange: unknown verb '%s'\n\n", argv[1]);
    usage(stderr);
    return EXIT_USAGE;
}
