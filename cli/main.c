/*
 * main.c - the lagrange command-line tool: verb dispatch, --help and
 * --version. Each verb parses its own options (see cli/<verb>.c).
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const struct verb {
    const char *name;
    int (*fn)(int, char **);
    const char *summary;
} verbs[] = {
    { "inspect", cmd_inspect, "show a model's ops, shapes, costs and cut points" },
    { "run", cmd_run, "run a model (or a partition) locally on .npy inputs" },
    { "split", cmd_split, "cut a model into partition models + a manifest" },
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
            "model or data, 4 unsupported.\n");
}

int main(int argc, char **argv)
{
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
