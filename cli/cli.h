/*
 * cli.h - shared pieces of the lagrange command-line tool: exit codes, the
 * verb entry points and small helpers (model opening with --dim, JSON
 * string output, error mapping). Each verb group lives in its own file.
 */
#ifndef LG_CLI_H
#define LG_CLI_H

#include <stdint.h>
#include <stdio.h>

#include "graph.h"
#include "onnx_load.h"

/* Stable, documented exit codes (lagrange(1), EXIT STATUS). */
enum {
    EXIT_OK = 0,
    EXIT_FAIL = 1,              /* runtime failure (I/O, out of memory) */
    EXIT_USAGE = 2,             /* bad command line */
    EXIT_DATA = 3,              /* malformed model or data file */
    EXIT_UNSUP = 4,             /* valid input we do not support */
    EXIT_INFEASIBLE = 5,        /* no plan meets the constraints */
};

int cmd_inspect(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_split(int argc, char **argv);
int cmd_plan(int argc, char **argv);
int cmd_calibrate(int argc, char **argv);
int cmd_topology(int argc, char **argv);
int cmd_contacts(int argc, char **argv);
int cmd_cert(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_links(int argc, char **argv);
int cmd_link(int argc, char **argv);
int cmd_ping(int argc, char **argv);
int cmd_send(int argc, char **argv);
int cmd_spool(int argc, char **argv);

/* Map a library error code to an exit code. */
int cli_exit_code(int rc);
/* Print "lagrange VERB: msg" to stderr. */
void cli_err(const char *verb, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* --dim NAME=VALUE options, collected. */
#define CLI_MAX_DIMS 16
typedef struct cli_dims {
    lg_dim_bind d[CLI_MAX_DIMS];
    int n;
} cli_dims;
int cli_dims_add(cli_dims *d, const char *verb, const char *arg);

/* lg_model_open with progress-free error reporting; returns exit code. */
int cli_open_model(const char *verb, const char *path, const cli_dims *d,
                   lg_graph **g);

void cli_json_str(FILE *f, const char *s);
void cli_json_shape(FILE *f, const lg_shape *s);
/* Human-readable byte count ("1.5 MiB") into buf. */
const char *cli_bytes(uint64_t b, char *buf, size_t len);
double cli_now_ms(void);
/* Output file name for a tensor name: [A-Za-z0-9._-], others '_'. */
void cli_safe_name(const char *in, char *out, size_t len);

/* Planner output (cli/plan_svg.c). A time difference in seconds as text
 * with a sign and a readable unit, to the millisecond: "+0s", "+52.3ms",
 * "+412.004s", "+16m52s", "+2h13m00.024s"; "never" if not finite. */
const char *cli_dt(double dt, char *buf, size_t len);

struct plan_problem;
struct plan_sched;
/* Write the schedule s of problem p as an SVG Gantt chart to path, with
 * title as its heading. Returns 0, or -errno with the message in err. */
int cli_plan_svg(const char *path, const struct plan_problem *p,
                 const struct plan_sched *s, const char *title, char *err,
                 size_t errlen);

#endif
