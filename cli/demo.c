/*
 * demo.c - lagrange demo: bring up the default constellation of DESIGN.md
 * on this machine, as one lagranged process per node on loopback, and tour
 * it; then stop every daemon cleanly (or leave them running: --keep).
 *
 * Owns the demo's scratch directory (certificates, one state directory
 * and configuration per node, logs, pid files), the daemons' lives
 * (fork/exec, readiness, SIGTERM and the exit statuses) and the tour.
 * The tour's steps run this same binary as child processes (the verbs
 * people type), so what it shows is exactly what a user would see.
 *
 * The default topology, the example model and its input are compiled in
 * (cli/demo_assets.c, made from examples/ by make), so `lagrange demo`
 * works from an installed binary with nothing else around.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "lgerr.h"
#include "topology.h"

extern const unsigned char lg_demo_topo[], lg_demo_model[], lg_demo_input[];
extern const size_t lg_demo_topo_len, lg_demo_model_len, lg_demo_input_len;

#define DEMO_MAX_NODES 16
#define DEMO_PATH 512
#define DEMO_READY_S 30          /* a daemon must serve within this */
#define DEMO_LINKS_S 20          /* sessions must come up within this */

typedef struct demo_node {
    char name[PLAN_NAME_MAX];
    char dir[DEMO_PATH];
    int port;
    pid_t pid;
    int status;                  /* wait status once reaped */
    int reaped;
} demo_node;

typedef struct demo {
    char dir[DEMO_PATH];
    char self[PATH_MAX];         /* this binary */
    char daemon[PATH_MAX + 32];  /* lagranged */
    int base_port;
    int keep;
    int made_dir;                /* we created dir: remove it at the end */
    plan_topology *topo;
    demo_node nodes[DEMO_MAX_NODES];
    int n_nodes;
    int gs;                      /* the ground station's index */
} demo;

static volatile sig_atomic_t demo_interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    demo_interrupted = 1;
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    va_list ap;
    printf("\n== ");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
}

static void help(FILE *f)
{
    fprintf(f,
"usage: lagrange demo [--dir DIR] [--keep] [--port BASE] [--lagranged PATH]\n"
"       lagrange demo --stop DIR\n\n"
"Bring up the default constellation on this machine, one lagranged per\n"
"node on loopback: the ground station gs-mad, three LEO GPU satellites,\n"
"a GEO relay and a lunar node, with real light times and rates and a\n"
"compressed pass schedule (a LEO pass every 60 s). Certificates, state\n"
"and logs go to a scratch directory. The tour shows the links, pings\n"
"across the GEO relay, stores a tensor for the Moon until its window\n"
"opens, runs a job through the gRPC API and checks its result against\n"
"a local run, then stops every daemon with SIGTERM.\n\n"
"  --dir DIR          the scratch directory (default: a new one under\n"
"                     $TMPDIR or /tmp, removed at the end unless --keep)\n"
"  --keep             leave the constellation running to explore; stop it\n"
"                     with `lagrange demo --stop DIR`\n"
"  --port BASE        first TCP port; node i listens on BASE+i (default\n"
"                     17400)\n"
"  --lagranged PATH   the daemon to run (default: $LAGRANGED, then next to\n"
"                     this binary, then ../daemon/ or ../sbin/, then PATH)\n"
"  --stop DIR         SIGTERM the daemons of a kept demo and wait for them\n\n"
"Exit status: 0 when every step worked and every daemon exited 0, 1\n"
"otherwise (the scratch directory is then kept, with each node's log).\n");
}

/* ---- files ----------------------------------------------------------------- */

static int write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len) {
        cli_err("demo", "%s: %s", path, strerror(errno));
        if (f)
            fclose(f);
        return -1;
    }
    if (fclose(f) != 0) {
        cli_err("demo", "%s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

static int pathf(char *out, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int pathf(char *out, const char *fmt, ...)
{
    va_list ap;
    int n;
    va_start(ap, fmt);
    n = vsnprintf(out, DEMO_PATH, fmt, ap);
    va_end(ap);
    if (n < 0 || n >= DEMO_PATH) {
        cli_err("demo", "path too long (over %d bytes)", DEMO_PATH - 1);
        return -1;
    }
    return 0;
}

static int executable(const char *p)
{
    return access(p, X_OK) == 0;
}

/* Where lagranged is: --lagranged, $LAGRANGED, beside this binary, the
 * build tree's ../daemon/, an install's ../sbin/, then PATH. */
static int find_daemon(demo *d, const char *opt)
{
    char dir[PATH_MAX], cand[PATH_MAX + 32];
    const char *env = getenv("LAGRANGED"), *path = getenv("PATH");
    char *slash;
    if (opt || (env && *env)) {
        snprintf(d->daemon, sizeof d->daemon, "%s", opt ? opt : env);
        if (executable(d->daemon))
            return 0;
        cli_err("demo", "%s is not an executable lagranged", d->daemon);
        return -1;
    }
    snprintf(dir, sizeof dir, "%s", d->self);
    if ((slash = strrchr(dir, '/')))
        *slash = '\0';
    static const char *const rel[] = { "/lagranged", "/../daemon/lagranged",
                                       "/../sbin/lagranged" };
    for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++) {
        snprintf(cand, sizeof cand, "%s%s", dir, rel[i]);
        if (executable(cand) && realpath(cand, d->daemon))
            return 0;
    }
    while (path && *path) {
        const char *e = strchr(path, ':');
        size_t n = e ? (size_t)(e - path) : strlen(path);
        snprintf(cand, sizeof cand, "%.*s/lagranged", (int)n, path);
        if (n && executable(cand)) {
            snprintf(d->daemon, sizeof d->daemon, "%s", cand);
            return 0;
        }
        path = e ? e + 1 : NULL;
    }
    cli_err("demo", "cannot find lagranged (tried beside %s, ../daemon, "
            "../sbin and PATH); name it with --lagranged or $LAGRANGED",
            d->self);
    return -1;
}

/* ---- child processes ------------------------------------------------------ */

/* Run this binary with argv (NULL-terminated, without argv[0]); stdout to
 * out (NULL: ours). Returns the exit status, or -1. */
static int run_self(demo *d, const char *const *args, const char *out)
{
    const char *argv[32];
    int n = 0, st;
    pid_t pid;
    argv[n++] = "lagrange";
    while (*args && n < 31)
        argv[n++] = *args++;
    argv[n] = NULL;
    fflush(stdout);
    fflush(stderr);
    if ((pid = fork()) < 0) {
        cli_err("demo", "fork: %s", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        if (out) {
            int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
            if (fd < 0 || dup2(fd, 1) < 0)
                _exit(127);
        }
        execv(d->self, (char *const *)argv);
        fprintf(stderr, "lagrange demo: exec %s: %s\n", d->self,
                strerror(errno));
        _exit(127);
    }
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Print the command as a user would type it, then run it. */
static int step(demo *d, const char *const *args)
{
    printf("$ lagrange");
    for (const char *const *a = args; *a; a++)
        printf(" %s", *a);
    printf("\n");
    return run_self(d, args, NULL);
}

static void show_log_tail(const demo_node *nd)
{
    char path[DEMO_PATH + 8], buf[8192];
    FILE *f;
    long size;
    size_t n;
    int lines = 0;
    char *p;
    snprintf(path, sizeof path, "%s/log", nd->dir);
    if (!(f = fopen(path, "r")))
        return;
    fseek(f, 0, SEEK_END);
    size = ftell(f);
    fseek(f, size > (long)sizeof buf - 1 ? size - (long)sizeof buf + 1 : 0,
          SEEK_SET);
    n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* the last 15 lines */
    for (p = buf + n; p > buf; p--)
        if (p[-1] == '\n' && p != buf + n && ++lines == 15)
            break;
    fprintf(stderr, "--- %s (last lines):\n%s", path, p);
}

static int node_conf(demo *d, int i)
{
    demo_node *nd = &d->nodes[i];
    const plan_topology *t = d->topo;
    char path[DEMO_PATH];
    FILE *f;
    if (pathf(path, "%s/lagranged.conf", nd->dir) < 0)
        return -1;
    if (!(f = fopen(path, "w"))) {
        cli_err("demo", "%s: %s", path, strerror(errno));
        return -1;
    }
    fprintf(f,
            "# %s - node %s of the demo constellation (lagranged.conf(5)).\n"
            "# Paths are relative to this file's directory.\n"
            "NodeId=%s\nTopology=../default.topo\nListen=127.0.0.1:%d\n"
            "SpoolDir=spool\nInboxDir=inbox\nControlSocket=ctl.sock\n"
            "ApiSocket=api.sock\nJobDir=jobs\nModelDir=models\n"
            "BlobDir=blobs\nJobCompLog=jobcomp.log\n"
            "TlsCert=../tls/%s.crt\nTlsKey=../tls/%s.key\n"
            "TlsCA=../tls/ca.crt\n",
            path, nd->name, nd->name, nd->port, nd->name, nd->name);
    if (i == d->gs)
        fprintf(f, "MetricsListen=127.0.0.1:%d\n",
                d->base_port + DEMO_MAX_NODES);
    else
        fprintf(f, "MetricsListen=none\n");
    /* Of each linked pair, the node listed first dials the other. */
    for (int j = i + 1; j < d->n_nodes; j++)
        if (plan_topology_link(t, i, j) >= 0 ||
            plan_topology_link(t, j, i) >= 0)
            fprintf(f, "Peer=%s Address=127.0.0.1:%d\n", d->nodes[j].name,
                    d->nodes[j].port);
    if (fclose(f) != 0) {
        cli_err("demo", "%s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

static int start_node(demo *d, demo_node *nd)
{
    char conf[DEMO_PATH], log[DEMO_PATH];
    pid_t pid;
    if (pathf(conf, "%s/lagranged.conf", nd->dir) < 0 ||
        pathf(log, "%s/log", nd->dir) < 0)
        return -1;
    fflush(stdout);
    fflush(stderr);
    if ((pid = fork()) < 0) {
        cli_err("demo", "fork: %s", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        /* Its own process group: a Ctrl-C at the terminal reaches the
         * demo, which stops the daemons with SIGTERM itself. */
        setpgid(0, 0);
        if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
            _exit(127);
        execl(d->daemon, "lagranged", "-f", conf, (char *)NULL);
        fprintf(stderr, "exec %s: %s\n", d->daemon, strerror(errno));
        _exit(127);
    }
    nd->pid = pid;
    nd->reaped = 0;
    {
        char pidpath[DEMO_PATH], buf[32];
        int n = snprintf(buf, sizeof buf, "%ld\n", (long)pid);
        if (pathf(pidpath, "%s/pid", nd->dir) == 0)
            write_file(pidpath, buf, (size_t)n);
    }
    return 0;
}

/* Has nd exited? Reaps it. */
static int node_exited(demo_node *nd)
{
    if (nd->reaped)
        return 1;
    if (nd->pid > 0 && waitpid(nd->pid, &nd->status, WNOHANG) == nd->pid) {
        nd->reaped = 1;
        return 1;
    }
    return 0;
}

static void sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* Wait until every daemon answers `lagrange status` on its control
 * socket and has its API socket. */
static int wait_ready(demo *d)
{
    for (int i = 0; i < d->n_nodes; i++) {
        demo_node *nd = &d->nodes[i];
        char sock[DEMO_PATH], api[DEMO_PATH];
        int ok = 0;
        if (pathf(sock, "%s/ctl.sock", nd->dir) < 0 ||
            pathf(api, "%s/api.sock", nd->dir) < 0)
            return -1;
        for (int k = 0; k < DEMO_READY_S * 10 && !demo_interrupted; k++) {
            const char *args[] = { "status", "--socket", sock, NULL };
            if (node_exited(nd))
                break;
            if (access(api, F_OK) == 0 &&
                run_self(d, args, "/dev/null") == 0) {
                ok = 1;
                break;
            }
            sleep_ms(100);
        }
        if (!ok) {
            cli_err("demo", "%s did not start%s", nd->name,
                    nd->reaped ? "" : " within 30 s");
            show_log_tail(nd);
            return -1;
        }
    }
    return 0;
}

/* Wait until gs-mad's sessions to the neighbours it dials, and those
 * that dial it, are up (or DEMO_LINKS_S passes: the tour goes on and
 * the table shows which are not). */
static void wait_links(demo *d)
{
    char sock[DEMO_PATH], out[DEMO_PATH];
    if (pathf(sock, "%s/ctl.sock", d->nodes[d->gs].dir) < 0 ||
        pathf(out, "%s/links.txt", d->dir) < 0)
        return;
    for (int k = 0; k < DEMO_LINKS_S * 5 && !demo_interrupted; k++) {
        const char *args[] = { "links", "--socket", sock, "--parsable",
                               "-o", "state", "--noheader", NULL };
        char line[128];
        int all_up = 1, n = 0;
        FILE *f;
        if (run_self(d, args, out) != 0)
            break;
        if (!(f = fopen(out, "r")))
            break;
        while (fgets(line, sizeof line, f)) {
            n++;
            if (strncmp(line, "up", 2))
                all_up = 0;
        }
        fclose(f);
        if (n && all_up)
            return;
        sleep_ms(200);
    }
}

/* SIGTERM every daemon still running; wait for each (at most 60 s) and
 * say how it ended. Returns the number that did not exit 0. */
static int stop_nodes(demo *d)
{
    int bad = 0;
    for (int i = 0; i < d->n_nodes; i++)
        if (d->nodes[i].pid > 0 && !node_exited(&d->nodes[i]))
            kill(d->nodes[i].pid, SIGTERM);
    for (int i = 0; i < d->n_nodes; i++) {
        demo_node *nd = &d->nodes[i];
        if (nd->pid <= 0)
            continue;
        for (int k = 0; k < 600 && !node_exited(nd); k++)
            sleep_ms(100);
        if (!nd->reaped) {
            kill(nd->pid, SIGKILL);
            waitpid(nd->pid, &nd->status, 0);
            nd->reaped = 1;
            printf("%-10s did not stop within 60 s: killed\n", nd->name);
            bad++;
        } else if (WIFEXITED(nd->status) && WEXITSTATUS(nd->status) == 0) {
            printf("%-10s stopped (exit 0)\n", nd->name);
        } else {
            printf("%-10s ended with %s %d\n", nd->name,
                   WIFEXITED(nd->status) ? "exit status" : "signal",
                   WIFEXITED(nd->status) ? WEXITSTATUS(nd->status)
                                         : WTERMSIG(nd->status));
            show_log_tail(nd);
            bad++;
        }
    }
    return bad;
}

static int rm_rf(const char *path)
{
    const char *args[] = { "rm", "-rf", "--", path, NULL };
    pid_t pid = fork();
    int st;
    if (pid == 0) {
        execv("/bin/rm", (char *const *)args);
        _exit(127);
    }
    if (pid < 0 || waitpid(pid, &st, 0) < 0)
        return -1;
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

/* ---- --stop DIR ------------------------------------------------------------ */

static int demo_stop(const char *dir)
{
    char path[DEMO_PATH];
    int found = 0, bad = 0;
    const plan_topology *t = NULL;
    plan_topology *tt = NULL;
    char err[512];
    if (pathf(path, "%s/default.topo", dir) < 0)
        return EXIT_USAGE;
    if (plan_topology_load(path, &tt, err, sizeof err) < 0) {
        cli_err("demo", "%s is not a demo directory: %s", dir, err);
        return EXIT_USAGE;
    }
    t = tt;
    for (int i = 0; i < t->n_nodes; i++) {
        FILE *f;
        long pid = 0;
        if (pathf(path, "%s/%s/pid", dir, t->nodes[i].name) < 0 ||
            !(f = fopen(path, "r")))
            continue;
        if (fscanf(f, "%ld", &pid) != 1)
            pid = 0;
        fclose(f);
        if (pid <= 1 || kill((pid_t)pid, SIGTERM) < 0)
            continue;
        found++;
        for (int k = 0; k < 600 && kill((pid_t)pid, 0) == 0; k++)
            sleep_ms(100);
        if (kill((pid_t)pid, 0) == 0) {
            printf("%-10s (pid %ld) still running after 60 s\n",
                   t->nodes[i].name, pid);
            bad++;
        } else {
            printf("%-10s (pid %ld) stopped\n", t->nodes[i].name, pid);
            unlink(path);
        }
    }
    plan_topology_free(tt);
    if (!found)
        printf("no running demo daemons in %s\n", dir);
    return bad ? EXIT_FAIL : EXIT_OK;
}

/* ---- the tour ----------------------------------------------------------------- */

static int npy_equal(const char *a, const char *b)
{
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    int ca, cb, same = fa && fb;
    while (same) {
        ca = getc(fa);
        cb = getc(fb);
        if (ca != cb)
            same = 0;
        if (ca == EOF || cb == EOF)
            break;
    }
    if (fa)
        fclose(fa);
    if (fb)
        fclose(fb);
    return same;
}

/* An outage drill that makes a bundle wait for a pass: with the GEO
 * relay's link down, a tensor for leo-gpu-1 can only go up during a pass
 * (of leo-gpu-1, or of another LEO node and then across the optical
 * links). Shows the wait as it goes; the pass comes within a minute. */
/* Print a file a child wrote; 1 if it contains needle. */
static int cat_has(const char *path, const char *needle)
{
    char line[1024];
    int has = 0;
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    while (fgets(line, sizeof line, f)) {
        fputs(line, stdout);
        has |= needle && strstr(line, needle) != NULL;
    }
    fclose(f);
    return has;
}

static int file_has(const char *path, const char *needle)
{
    char line[1024];
    int has = 0;
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    while (!has && fgets(line, sizeof line, f))
        has = strstr(line, needle) != NULL;
    fclose(f);
    return has;
}

/* Run `lagrange WATCH...` with its output in file out; once out shows the
 * first partition running, run `lagrange UP...` (*up_done = 1). Waits for
 * the watch (at most 5 min: then it is killed). Its exit status. */
static int watch_until_up(demo *d, const char *const *watch, const char *out,
                          int *up_done, const char *const *up)
{
    const char *argv[32];
    int n = 0, st = 0, waited = 0;
    pid_t pid, r;
    argv[n++] = "lagrange";
    while (*watch && n < 31)
        argv[n++] = *watch++;
    argv[n] = NULL;
    fflush(stdout);
    fflush(stderr);
    if ((pid = fork()) < 0)
        return -1;
    if (pid == 0) {
        int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0 || dup2(fd, 1) < 0)
            _exit(127);
        execv(d->self, (char *const *)argv);
        _exit(127);
    }
    while ((r = waitpid(pid, &st, WNOHANG)) == 0 || (r < 0 && errno == EINTR)) {
        /* The input is up once it is on its way to leo-gpu-1 in a pass
         * (or a partition runs); a pass comes every 60 s, so after 70 s
         * it is up whatever the watch has heard. */
        if (!*up_done && (file_has(out, "Running(") ||
                          file_has(out, "Transferring(gs-mad->leo-gpu-1") ||
                          waited > 700)) {
            *up_done = 1;
            if (run_self(d, up, "/dev/null") != 0)
                return -1;
        }
        if (demo_interrupted || ++waited > 3000) {
            kill(pid, SIGTERM);
            while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
                ;
            return -1;
        }
        sleep_ms(100);
    }
    return r == pid && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* A job across the constellation: tinynet split over two LEO GPUs. With
 * gs-mad's GEO link down its inputs can only go up in a pass, so the job
 * waits for one (WaitingContact), then runs on leo-gpu-1 and leo-gpu-2
 * and comes back; its result must equal the local run's (ref). */
static int dist_job(demo *d, const char *sock, const char *input,
                    const char *ref)
{
    const char *leo = "leo-gpu-1", *leo2 = "leo-gpu-2", *geo = "geo-relay";
    char idfile[DEMO_PATH], watchf[DEMO_PATH], out[DEMO_PATH], id[64] = "",
        got[DEMO_PATH], want[DEMO_PATH], place[160];
    int have = 0, failures = 0, geo_up = 0;
    FILE *f;
    for (int i = 0; i < d->n_nodes; i++)
        have += !strcmp(d->nodes[i].name, leo) ||
                !strcmp(d->nodes[i].name, leo2);
    if (have < 2)
        return 0;                /* not the default topology */
    if (pathf(idfile, "%s/dist-id", d->dir) < 0 ||
        pathf(watchf, "%s/dist-watch", d->dir) < 0 ||
        pathf(out, "%s/result-dist", d->dir) < 0)
        return 1;
    snprintf(place, sizeof place, "%s,%s", leo, leo2);
    say("a job across the constellation: tinynet in two partitions, on %s "
        "and %s; with the link to %s down, its input goes up only in a "
        "pass over %s", leo, leo2, geo, d->nodes[d->gs].name);
    {
        const char *a[] = { "link", "down", geo, "--socket", sock, NULL };
        if (step(d, a) != 0)
            return 1;
    }
    {
        const char *a[] = { "submit", "tinynet", "-i", input, "--place",
                            place, NULL };
        printf("$ lagrange submit tinynet -i %s --place %s\n", input, place);
        if (run_self(d, a, idfile) != 0)
            failures++;
        else if ((f = fopen(idfile, "r"))) {
            if (!fgets(id, sizeof id, f))
                id[0] = '\0';
            id[strcspn(id, "\n")] = '\0';
            fclose(f);
            printf("%s\n", id);
        }
    }
    if (id[0] && !demo_interrupted) {
        const char *a[] = { "show", id, NULL };
        const char *w[] = { "watch", id, NULL };
        const char *r[] = { "result", id, "-O", out, NULL };
        int waited;
        if (step(d, a) != 0)
            failures++;
        say("its progress: the reasons say what it waits for");
        printf("$ lagrange watch %s\n", id);
        /* Watch in a child; once the input is up (the first partition
         * runs), bring the GEO link back, or the outputs (routed through
         * GEO) would wait for it. */
        {
            const char *up[] = { "link", "up", geo, "--socket", sock, NULL };
            int st = watch_until_up(d, w, watchf, &geo_up, up);
            if (st != 0)
                failures++;
        }
        waited = cat_has(watchf, "WaitingContact");
        printf("  %s\n", waited ? "it waited for a pass, then ran on both "
                                  "satellites"
                                : "a pass was open: no wait this time");
        if (!demo_interrupted && step(d, r) != 0)
            failures++;
        else if (pathf(got, "%s/logits.npy", out) == 0 &&
                 pathf(want, "%s/logits.npy", ref) == 0) {
            if (npy_equal(got, want))
                printf("result-dist/logits.npy and local/logits.npy are "
                       "identical, bit for bit\n");
            else {
                printf("result-dist/logits.npy DIFFERS from the local "
                       "run's\n");
                failures++;
            }
        }
    } else if (!id[0])
        failures++;
    if (!geo_up) {
        const char *a[] = { "link", "up", geo, "--socket", sock, NULL };
        if (step(d, a) != 0)
            failures++;
    }
    return failures;
}

static int tour(demo *d)
{
    demo_node *gs = &d->nodes[d->gs];
    char sock[DEMO_PATH], server[DEMO_PATH + 8], model[DEMO_PATH],
        input[DEMO_PATH], out[DEMO_PATH], ref[DEMO_PATH], got[DEMO_PATH],
        want[DEMO_PATH];
    int rc, failures = 0;
    if (pathf(sock, "%s/ctl.sock", gs->dir) < 0 ||
        pathf(model, "%s/tinynet.onnx", d->dir) < 0 ||
        pathf(input, "%s/tinynet-input.npy", d->dir) < 0 ||
        pathf(out, "%s/result", d->dir) < 0 ||
        pathf(ref, "%s/local", d->dir) < 0)
        return -1;
    snprintf(server, sizeof server, "unix:%s/api.sock", gs->dir);
    setenv("LAGRANGE_SERVER", server, 1);

    say("the links of %s (contact windows compressed: a LEO pass every 60 s)",
        gs->name);
    wait_links(d);
    {
        const char *a[] = { "links", "--socket", sock, NULL };
        if (step(d, a) != 0)
            failures++;
    }
    if (demo_interrupted)
        return -1;

    say("bundle round trips: GEO is 126 ms away each way; leo-gpu-2 is "
        "reached through it between passes");
    {
        const char *a[] = { "ping", "geo-relay", "-c", "2", "--socket", sock,
                            NULL };
        const char *b[] = { "ping", "leo-gpu-2", "-c", "2", "--socket", sock,
                            NULL };
        if (step(d, a) != 0)
            failures++;
        if (!demo_interrupted && step(d, b) != 0)
            failures++;
    }
    if (demo_interrupted)
        return -1;

    say("store-and-forward: a tensor for luna-1 (1.28 s away) waits in the "
        "spool until the Moon's window opens");
    {
        const char *a[] = { "send", "luna-1", input, "--name", "for-the-moon",
                            "--socket", sock, NULL };
        const char *b[] = { "spool", "--socket", sock, NULL };
        if (step(d, a) != 0)
            failures++;
        if (!demo_interrupted && step(d, b) != 0)
            failures++;
    }
    if (demo_interrupted)
        return -1;

    say("a job through the gRPC API on %s (LAGRANGE_SERVER=%s)", gs->name,
        server);
    {
        const char *a[] = { "model", "push", model, "--name", "tinynet", NULL };
        const char *b[] = { "submit", "tinynet", "-i", input, "--wait", "-O",
                            out, NULL };
        const char *c[] = { "queue", NULL };
        const char *r[] = { "run", model, "-i", input, "-O", ref, NULL };
        if ((rc = step(d, a)) != 0)
            failures++;
        if (!rc && !demo_interrupted && (rc = step(d, b)) != 0)
            failures++;
        if (!demo_interrupted && step(d, c) != 0)
            failures++;
        if (!rc && !demo_interrupted) {
            say("the result against a local run of the same model");
            if (step(d, r) != 0) {
                failures++;
            } else if (pathf(got, "%s/logits.npy", out) == 0 &&
                       pathf(want, "%s/logits.npy", ref) == 0) {
                if (npy_equal(got, want)) {
                    printf("result/logits.npy and local/logits.npy are "
                           "identical, bit for bit\n");
                } else {
                    printf("result/logits.npy DIFFERS from the local "
                           "run's\n");
                    failures++;
                }
            }
        }
    }
    if (!rc && !demo_interrupted && dist_job(d, sock, input, ref) != 0)
        failures++;
    return demo_interrupted ? -1 : failures;
}

/* ---- setup ------------------------------------------------------------------- */

static int setup(demo *d)
{
    char path[DEMO_PATH], tls[DEMO_PATH], err[512];
    const plan_topology *t;
    if (pathf(path, "%s/default.topo", d->dir) < 0 ||
        write_file(path, lg_demo_topo, lg_demo_topo_len) < 0)
        return -1;
    if (plan_topology_load(path, &d->topo, err, sizeof err) < 0) {
        cli_err("demo", "the embedded topology: %s", err);
        return -1;
    }
    t = d->topo;
    if (t->n_nodes > DEMO_MAX_NODES) {
        cli_err("demo", "%d nodes: at most %d", t->n_nodes, DEMO_MAX_NODES);
        return -1;
    }
    if (pathf(path, "%s/tinynet.onnx", d->dir) < 0 ||
        write_file(path, lg_demo_model, lg_demo_model_len) < 0 ||
        pathf(path, "%s/tinynet-input.npy", d->dir) < 0 ||
        write_file(path, lg_demo_input, lg_demo_input_len) < 0)
        return -1;
    d->n_nodes = t->n_nodes;
    d->gs = -1;
    for (int i = 0; i < t->n_nodes; i++) {
        demo_node *nd = &d->nodes[i];
        snprintf(nd->name, sizeof nd->name, "%s", t->nodes[i].name);
        nd->port = d->base_port + i;
        if (pathf(nd->dir, "%s/%s", d->dir, nd->name) < 0)
            return -1;
        if (mkdir(nd->dir, 0700) < 0 && errno != EEXIST) {
            cli_err("demo", "%s: %s", nd->dir, strerror(errno));
            return -1;
        }
        if (d->gs < 0 && t->nodes[i].kind == PLAN_GROUND)
            d->gs = i;
    }
    if (d->gs < 0) {
        cli_err("demo", "the topology has no ground station");
        return -1;
    }

    say("certificates: one CA for the constellation, one per node "
        "(TLS 1.3, mutual)");
    if (pathf(tls, "%s/tls", d->dir) < 0)
        return -1;
    {
        const char *a[] = { "cert", "ca", "--out", tls, NULL };
        if (run_self(d, a, "/dev/null") != 0) {
            cli_err("demo", "lagrange cert ca failed");
            return -1;
        }
    }
    for (int i = 0; i < d->n_nodes; i++) {
        const char *a[] = { "cert", "node", d->nodes[i].name, "--ca", tls,
                            "--out", tls, NULL };
        if (run_self(d, a, "/dev/null") != 0) {
            cli_err("demo", "lagrange cert node %s failed", d->nodes[i].name);
            return -1;
        }
    }
    printf("%s/: ca.crt and %d node certificates\n", tls, d->n_nodes);

    say("starting %d lagranged processes on 127.0.0.1:%d-%d (%s)",
        d->n_nodes, d->base_port, d->base_port + d->n_nodes - 1, d->daemon);
    for (int i = 0; i < d->n_nodes; i++) {
        const plan_node *n = &t->nodes[i];
        if (node_conf(d, i) < 0 || start_node(d, &d->nodes[i]) < 0)
            return -1;
        printf("%-10s %-6s pid %-7ld port %d  %s/\n", n->name,
               plan_kind_name(n->kind), (long)d->nodes[i].pid,
               d->nodes[i].port, d->nodes[i].dir);
    }
    return wait_ready(d);
}

int cmd_demo(int argc, char **argv)
{
    static const struct option opts[] = {
        { "dir", required_argument, NULL, 'd' },
        { "keep", no_argument, NULL, 'k' },
        { "port", required_argument, NULL, 'p' },
        { "lagranged", required_argument, NULL, 'l' },
        { "stop", required_argument, NULL, 's' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    demo *d;
    const char *dir = NULL, *daemon_opt = NULL;
    int c, rc = EXIT_FAIL, failures = 0, stopped_bad = 0;
    long port = 17400;
    struct sigaction sa, old_int, old_term;

    if (!(d = calloc(1, sizeof *d))) {
        cli_err("demo", "out of memory");
        return EXIT_FAIL;
    }
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        char *end;
        switch (c) {
        case 'd':
            dir = optarg;
            break;
        case 'k':
            d->keep = 1;
            break;
        case 'p':
            errno = 0;
            port = strtol(optarg, &end, 10);
            if (errno || *end || port < 1024 ||
                port > 65535 - DEMO_MAX_NODES - 1) {
                cli_err("demo", "--port wants a number from 1024 to %d, got "
                        "'%s'", 65535 - DEMO_MAX_NODES - 1, optarg);
                free(d);
                return EXIT_USAGE;
            }
            break;
        case 'l':
            daemon_opt = optarg;
            break;
        case 's':
            rc = demo_stop(optarg);
            free(d);
            return rc;
        case 'h':
            help(stdout);
            free(d);
            return EXIT_OK;
        default:
            help(stderr);
            free(d);
            return EXIT_USAGE;
        }
    }
    if (optind < argc) {
        cli_err("demo", "unexpected argument '%s'", argv[optind]);
        free(d);
        return EXIT_USAGE;
    }
    d->base_port = (int)port;
    if (!realpath("/proc/self/exe", d->self)) {
        cli_err("demo", "cannot find this program: %s", strerror(errno));
        free(d);
        return EXIT_FAIL;
    }
    if (find_daemon(d, daemon_opt) < 0) {
        free(d);
        return EXIT_FAIL;
    }
    if (dir) {
        if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
            cli_err("demo", "%s: %s", dir, strerror(errno));
            free(d);
            return EXIT_FAIL;
        }
        if (!realpath(dir, d->dir)) {
            cli_err("demo", "%s: %s", dir, strerror(errno));
            free(d);
            return EXIT_FAIL;
        }
    } else {
        const char *tmp = getenv("TMPDIR");
        if (pathf(d->dir, "%s/lagrange-demo.XXXXXX",
                  tmp && *tmp ? tmp : "/tmp") < 0 || !mkdtemp(d->dir)) {
            cli_err("demo", "cannot make a scratch directory: %s",
                    strerror(errno));
            free(d);
            return EXIT_FAIL;
        }
        d->made_dir = 1;
    }

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);

    printf("lagrange demo: the default constellation in %s\n", d->dir);
    if (setup(d) < 0) {
        failures++;
    } else {
        int t = tour(d);
        failures += t < 0 ? 1 : t;
    }
    if (demo_interrupted)
        printf("\ninterrupted\n");

    if (d->keep && !failures && !demo_interrupted) {
        say("the constellation keeps running");
        printf("export LAGRANGE_SERVER=unix:%s/%s/api.sock\n"
               "lagrange links --socket %s/%s/ctl.sock\n"
               "lagrange nodes; lagrange queue\n"
               "curl -s http://127.0.0.1:%d/metrics\n"
               "logs: %s/NODE/log\n"
               "stop it: lagrange demo --stop %s\n",
               d->dir, d->nodes[d->gs].name, d->dir, d->nodes[d->gs].name,
               d->base_port + DEMO_MAX_NODES, d->dir, d->dir);
        rc = EXIT_OK;
    } else {
        say("stopping the constellation (SIGTERM)");
        stopped_bad = stop_nodes(d);
        rc = failures || stopped_bad || demo_interrupted ? EXIT_FAIL : EXIT_OK;
        if (rc == EXIT_OK && d->made_dir && rm_rf(d->dir) == 0)
            printf("\ndemo done; %s removed\n", d->dir);
        else if (rc == EXIT_OK)
            printf("\ndemo done; its files are in %s\n", d->dir);
        else
            printf("\ndemo FAILED (%d step%s, %d daemon%s); logs in %s\n",
                   failures, failures == 1 ? "" : "s", stopped_bad,
                   stopped_bad == 1 ? "" : "s", d->dir);
    }
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    plan_topology_free(d->topo);
    free(d);
    return rc;
}
