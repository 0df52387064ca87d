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
    /* The API verbs (grpcc_exit_code maps a gRPC status to these). */
    EXIT_NOTFOUND = 6,          /* NOT_FOUND: no such job, model, blob */
    EXIT_UNAVAILABLE = 7,       /* lagranged not reachable; UNAVAILABLE */
    EXIT_TIMEOUT = 8,           /* DEADLINE_EXCEEDED; a wait timed out */
    EXIT_JOBFAIL = 9,           /* a job waited for ended FAILED,
                                 * CANCELLED or EXPIRED */
    EXIT_AUTH = 10,             /* UNAUTHENTICATED, PERMISSION_DENIED */
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
int cmd_fault(int argc, char **argv);
int cmd_ping(int argc, char **argv);
int cmd_send(int argc, char **argv);
int cmd_spool(int argc, char **argv);
/* The API verbs, gRPC to lagranged (cli/jobs.c, cli/models.c). */
int cmd_submit(int argc, char **argv);
int cmd_queue(int argc, char **argv);
int cmd_show(int argc, char **argv);
int cmd_watch(int argc, char **argv);
int cmd_cancel(int argc, char **argv);
int cmd_result(int argc, char **argv);
int cmd_nodes(int argc, char **argv);
int cmd_model(int argc, char **argv);
/* The default constellation on this machine (cli/demo.c). */
int cmd_demo(int argc, char **argv);

/* Upload the file at path with PutBlob (cli/models.c) and put its id (hex
 * SHA-256) in id[65]. Progress on stderr when progress is nonzero. Prints
 * its errors; returns an exit code. */
struct grpcc;
int models_put_blob(struct grpcc *g, const char *verb, const char *path,
                    int timeout_ms, int progress, char id[65]);
/* Set cell col of the last row of t to a list of TensorInfo: text
 * "name:dtype[1,3,?]" separated by spaces, JSON an array of
 * {"name","dtype","shape"} objects (cli/models.c). */
struct table;
struct Lagrange__V1__TensorInfo;
int models_tinfo_cell(struct table *t, int col,
                      struct Lagrange__V1__TensorInfo *const *v, size_t n);

/* lagrange model stage (cli/jobs.c): a stage-only job for model on
 * nodes[0..n), followed to its end; prints where each partition went.
 * Returns an exit code. */
int jobs_stage(struct grpcc *g, const char *model, char **nodes, int n,
               int json, int timeout_ms);

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
