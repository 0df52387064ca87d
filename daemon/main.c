/*
 * main.c - lagranged: option parsing, the configuration check (-n), and
 * the loop's life: open the handles, run, close every handle on SIGINT or
 * SIGTERM, reload on SIGHUP, and reload the topology when a TLE file it
 * was computed from changes.
 *
 * Only main() returns an exit status, and it exits only through returning:
 * before the loop runs for a bad command line or configuration, after the
 * loop has ended otherwise (through _exit when a stop passed StopTimeout,
 * see "shutdown"). Callbacks never exit; they log and carry on,
 * or move the daemon to STOPPING (see lagranged.h).
 *
 * The environment is read here, once, at start: the directories systemd
 * gives the service (STATE_DIRECTORY and the like: the defaults of the
 * paths, config.h's dconf_dirs), the sockets it passes (LISTEN_FDS:
 * sdlisten.h) and its notify socket (notify.h).
 *
 * Exit status: 0 clean shutdown, 1 runtime failure (the control socket
 * cannot be opened, handles left open at the end), 2 usage, 3 bad
 * configuration (or a topology it names).
 */
#include <assert.h>
#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api.h"
#include "blastune.h"
#include "config.h"
#include "control.h"
#include "lagranged.h"
#include "lgerr.h"
#include "log.h"
#include "metrics.h"
#include "net.h"
#include "report.h"
#include "scheduler.h"
#include "svc.h"
#include "webhook.h"

/* The control commands: status from report.c, the network's from
 * net.h. */
static control_cmd all_cmds[16];

static void build_cmds(void)
{
    int k = 0;
    for (const control_cmd *c = report_cmds; c->name; c++)
        all_cmds[k++] = *c;
    for (const control_cmd *c = dnet_cmds; c->name; c++)
        all_cmds[k++] = *c;
    all_cmds[k].name = NULL;
}

enum {
    EXIT_OK = 0,
    EXIT_FAIL = 1,               /* runtime failure */
    EXIT_USAGE = 2,              /* bad command line */
    EXIT_CONFIG = 3,             /* bad configuration or topology */
};

static void help(FILE *f)
{
    fprintf(f,
"usage: lagranged [-f CONFIG] [-n] [-v | -q] [--help] [--version]\n\n"
"The lagrange node daemon: links this node to its neighbours, serves the\n"
"local control socket, the gRPC API (jobs, models) and /metrics\n"
"(lagranged(8)).\n\n"
"  -f, --config FILE  configuration (lagranged.conf(5)); default\n"
"                     $CONFIGURATION_DIRECTORY/lagranged.conf, else\n"
"                     " DCONF_DEFAULT_PATH "\n"
"  -n, --check        check the configuration and the topology it names,\n"
"                     print the configuration in normal form and exit\n"
"  -v, --verbose      log at debug level, whatever LogLevel says (also -d,\n"
"                     --debug)\n"
"  -q, --quiet        log warnings and errors only, whatever LogLevel says\n"
"  -h, --help         this text\n"
"  -V, --version      print the version\n\n"
"Signals: SIGHUP reloads the configuration and topology (a bad one is\n"
"logged and the running one kept); SIGUSR1 turns debug logging on, and\n"
"off again; SIGINT and SIGTERM shut down cleanly: work in flight ends or\n"
"is left to the next start, within StopTimeout (a second one: at once).\n"
"Under systemd, the default paths follow $STATE_DIRECTORY,\n"
"$RUNTIME_DIRECTORY, $CONFIGURATION_DIRECTORY and $LOGS_DIRECTORY, and a\n"
"socket passed with $LISTEN_FDS (named \"api\") serves the API instead of\n"
"ApiSocket.\n"
"Exit status: 0 ok, 1 runtime failure, 2 usage, 3 bad configuration (the\n"
"message names FILE:LINE, or the systemd socket and why).\n");
}

/* The level in force: SIGUSR1's debug, then -v/-q, then LogLevel. */
static void apply_level(lagranged *d)
{
    log_set_level(d->usr1_debug || d->debug ? LOG_LVL_DEBUG
                  : d->quiet               ? LOG_LVL_WARN
                  : d->conf                ? d->conf->log_level
                                           : LOG_LVL_INFO);
}

static double wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void log_topology_warnings(const plan_topology *t)
{
    for (int i = 0; i < t->n_warnings; i++)
        log_warn("%s", t->warnings[i]);
    if (t->n_warnings_dropped)
        log_warn("%d more topology warnings", t->n_warnings_dropped);
}

/* ---- shutdown ------------------------------------------------------------ */
/*
 * A stop (SIGTERM, SIGINT) loses nothing and takes a bounded time:
 *
 *  1. No new work. Health turns NOT_SERVING and the API's listeners and
 *     connections close; the control socket closes; the peer listener
 *     closes and every session ends with a Goodbye; the scheduler starts
 *     no job and takes runs still queued on the threadpool off it (they
 *     are PENDING again). The log says what was in flight ("stopping:
 *     ...").
 *  2. Work in flight finishes. Bundles already handed to the store become
 *     durable but are not acked (the session is gone): the sender keeps
 *     custody and resends after the restart, and the receiver dedups by
 *     id, so a chunk is acked only once it is on disk. A whole object is
 *     delivered; a `send` already read is stored whole; a job already
 *     running on the threadpool runs to its end and its state is written.
 *  3. The loop ends when the last handle is closed: exit 0.
 *
 * The bound is StopTimeout. Threadpool work cannot be interrupted once it
 * runs (uv_cancel only takes queued work off the queue) and a job can run
 * for hours, so when the deadline passes the daemon logs what is left and
 * exits 0 without waiting for it (lgd_run returns with stop_expired set
 * and main calls _exit: exit() would run libuv's destructor, which joins
 * the threadpool's threads, that is waits for the very work given up).
 * That is safe because everything left is crash-safe: a job RUNNING in
 * JobDir is PENDING again at the next start and runs again (its outputs
 * are rewritten whole before COMPLETED is written), and the spool and the
 * inbox survive kill -9 at any instant. A second SIGTERM or SIGINT during
 * the stop does the same at once. StopTimeout's default (20 s) is below
 * the unit's TimeoutStopSec=30s, so systemd never needs its SIGKILL.
 */

static void on_handle_closed(uv_handle_t *h)
{
    lagranged *d = h->data;
    d->handles_open--;
}

static void close_handle(uv_handle_t *h)
{
    if (h->loop && !uv_is_closing(h))
        uv_close(h, on_handle_closed);
}

static void on_net_stopped(void *arg)
{
    lagranged *d = arg;
    d->net = NULL;
    d->net_open = 0;
    log_debug("network stopped, spool closed");
}

/* systemd's STATUS=: what `systemctl status` shows. */
static void notify_status(lagranged *d)
{
    dnet_link lk[64];
    sched_stats ss;
    int nl, up = 0;
    if (!notify_active(&d->ntf) || !d->conf)
        return;
    nl = dnet_links(d, lk, 64);
    for (int i = 0; i < nl; i++)
        up += lk[i].session_up;
    sched_get_stats(d, &ss);
    notify_sendf(&d->ntf, "STATUS=node %s: %d/%d links up, %llu job%s "
                 "running, %llu pending", d->conf->node_id, up, nl,
                 (unsigned long long)ss.by_state[4],
                 ss.by_state[4] == 1 ? "" : "s",
                 (unsigned long long)ss.by_state[1]);
}

/* WATCHDOG=1 at half the interval systemd asked for: a loop that hangs
 * stops pinging and systemd restarts the daemon. */
static void on_notify_timer(uv_timer_t *t)
{
    lagranged *d = t->data;
    if (notify_watchdog_usec(&d->ntf))
        notify_send(&d->ntf, "WATCHDOG=1");
    notify_status(d);
}

static void start_notify(lagranged *d)
{
    uint64_t wd = notify_watchdog_usec(&d->ntf), every;
    if (!notify_active(&d->ntf))
        return;
    every = wd ? wd / 2000 : 10000;          /* ms */
    if (every < 50)
        every = 50;
    if (uv_timer_init(&d->loop, &d->notify_timer) < 0)
        return;
    d->notify_timer.data = d;
    d->handles_open++;
    uv_timer_start(&d->notify_timer, on_notify_timer, every, every);
    if (wd)
        log_info("systemd watchdog: %.1f s, pinged every %.1f s",
                 (double)wd / 1e6, (double)every / 1e3);
}

static void on_sched_stopped(void *arg)
{
    lagranged *d = arg;
    log_debug("jobs stopped");
    (void)d;
}

static void on_api_stopped(void *arg)
{
    lagranged *d = arg;
    d->api = NULL;
    log_debug("API stopped");
}

/* What the stop still waits for, for the log: "N sessions, M objects
 * partly received (...), ..., J jobs running (IDS)". */
static void describe_inflight(lagranged *d, char *buf, size_t len)
{
    char ids[256];
    size_t at = 0;
    int jobs = sched_describe_running(d, ids, sizeof ids);
    buf[0] = '\0';
    if (d->net_open && d->net)
        at = dnet_describe(d->net, buf, len);
    snprintf(buf + at, len - at, "%s%d job%s running%s%s%s",
             at ? ", " : "", jobs, jobs == 1 ? "" : "s", jobs ? " (" : "",
             jobs ? ids : "", jobs ? ")" : "");
}

/* StopTimeout passed, or a second SIGTERM/SIGINT: end the loop now and
 * leave what still runs to the next start (see above). */
static void stop_expire(lagranged *d, const char *why)
{
    char ids[256], what[1024];
    int jobs;
    if (d->stop_expired)
        return;
    d->stop_expired = 1;
    jobs = sched_describe_running(d, ids, sizeof ids);
    describe_inflight(d, what, sizeof what);
    log_warn("stop: %s after %.1f s; exiting without waiting for what is "
             "left: %s", why, (double)(uv_hrtime() - d->stop_hr) / 1e9, what);
    if (jobs)
        log_warn("stop: job%s %s left RUNNING in %s: %s again at the next "
                 "start", jobs == 1 ? "" : "s", ids, d->conf->job_dir.path,
                 jobs == 1 ? "it runs" : "they run");
    uv_stop(&d->loop);
}

static void on_stop_timer(uv_timer_t *t)
{
    lagranged *d = t->data;
    char why[64], dur[32];
    snprintf(why, sizeof why, "StopTimeout=%s passed",
             dconf_fmt_duration(dur, sizeof dur, d->conf->stop_timeout));
    stop_expire(d, why);
}

/* To STOPPING: close every handle; the loop ends when they are closed,
 * or at StopTimeout. The signal handles stay open, unreferenced (they do
 * not keep the loop alive), to hear a second signal; lgd_run closes them
 * after the loop. Idempotent. */
static void lgd_stop(lagranged *d)
{
    char what[1024], dur[32];
    int was_running = d->state == LGD_RUNNING;
    if (d->state == LGD_STOPPING)
        return;
    d->state = LGD_STOPPING;
    d->stop_hr = uv_hrtime();
    notify_send(&d->ntf, "STOPPING=1");
    /* A StopTimeout above the unit's TimeoutStopSec extends it (systemd
     * never shortens a timeout this way). */
    notify_sendf(&d->ntf, "EXTEND_TIMEOUT_USEC=%llu",
                 (unsigned long long)((d->conf->stop_timeout + 5) * 1e6));
    if (was_running) {
        describe_inflight(d, what, sizeof what);
        log_info("stopping: %s; waiting at most %s (StopTimeout)", what,
                 dconf_fmt_duration(dur, sizeof dur, d->conf->stop_timeout));
        if (uv_timer_init(&d->loop, &d->stop_timer) == 0) {
            d->stop_timer.data = d;
            d->handles_open++;
            uv_timer_start(&d->stop_timer, on_stop_timer,
                           (uint64_t)(d->conf->stop_timeout * 1e3), 0);
            uv_unref((uv_handle_t *)&d->stop_timer);
        }
    }
    svc_set_stopping(d);
    if (d->api)
        dapi_stop(d->api, on_api_stopped, d);
    metrics_stop(d->metrics, NULL, NULL);
    d->metrics = NULL;
    dhook_stop(d->hooks);        /* events still queue, for the next start */
    if (d->sched)
        sched_stop(d, on_sched_stopped, d);
    control_close(d->ctl);
    d->ctl = NULL;
    if (d->net_open)
        dnet_stop(d->net, on_net_stopped, d);
    if (d->sig_int.loop)
        uv_unref((uv_handle_t *)&d->sig_int);
    if (d->sig_term.loop)
        uv_unref((uv_handle_t *)&d->sig_term);
    close_handle((uv_handle_t *)&d->sig_hup);
    close_handle((uv_handle_t *)&d->sig_usr1);
    close_handle((uv_handle_t *)&d->stale_timer);
    close_handle((uv_handle_t *)&d->notify_timer);
}

/* ---- reloads ------------------------------------------------------------- */

static void on_stale_timer(uv_timer_t *tm);

static void start_stale_timer(lagranged *d)
{
    uint64_t ms = (uint64_t)(d->conf->tle_check * 1e3);
    if (ms < 1)
        ms = 1;
    uv_timer_start(&d->stale_timer, on_stale_timer, ms, ms);
}

static void lgd_reload_conf(lagranged *d);

/* SIGHUP, framed for systemd: RELOADING=1 with the monotonic time, the
 * reload, then READY=1 whether it took or not. */
static void lgd_reload(lagranged *d)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    notify_sendf(&d->ntf, "RELOADING=1\nMONOTONIC_USEC=%llu",
                 (unsigned long long)ts.tv_sec * 1000000ull +
                     (unsigned long long)ts.tv_nsec / 1000);
    lgd_reload_conf(d);
    notify_send(&d->ntf, "READY=1");
    notify_status(d);
}

static void lgd_reload_conf(lagranged *d)
{
    char err[1024] = "";
    dconf *nc, *oc = d->conf;
    int rc = dconf_load(d->conf_path, &nc, err, sizeof err);
    if (rc < 0) {
        log_err("reload failed, keeping the running configuration: %s",
                err[0] ? err : lg_strerror(rc));
        return;
    }
    if (strcmp(nc->node_id, oc->node_id)) {
        log_err("reload refused, keeping the running configuration: NodeId "
                "changed from %s to %s; restart lagranged to change the "
                "node's identity", oc->node_id, nc->node_id);
        dconf_free(nc);
        return;
    }
    if (d->net && (rc = dnet_reload_check(d->net, nc, err, sizeof err)) < 0) {
        log_err("reload refused, keeping the running configuration: %s",
                err[0] ? err : lg_strerror(rc));
        dconf_free(nc);
        return;
    }
    if (strcmp(nc->control_socket.path, d->socket_path))
        log_warn("ControlSocket changed to %s; it moves at the next "
                 "restart, still serving %s", nc->control_socket.path,
                 d->socket_path);
    log_topology_warnings(nc->topo);
    d->conf = nc;
    if (nc->tle_check != oc->tle_check)
        start_stale_timer(d);
    dconf_free(oc);
    d->reloads++;
    d->stale_err[0] = '\0';
    if (d->net)
        dnet_reload(d->net);
    sched_reopen_log(d);
    if (dhook_reload(d->hooks, err, sizeof err) < 0)
        log_err("webhooks not reloaded, keeping those in force: %s", err);
    if (d->api && dapi_reload_tokens(d->api, err, sizeof err) < 0)
        log_err("ApiTokenFile not reloaded, keeping the tokens in force: %s",
                err);
    apply_level(d);
    log_info("reloaded %s: topology %s, %d nodes, %d links, %d peers",
             d->conf_path, nc->topology.path, nc->topo->n_nodes,
             nc->topo->n_links, nc->n_peers);
}

/* A TLE file behind the topology changed: recompute the windows. The
 * configuration itself is not re-read; that is what SIGHUP is for. */
static void on_stale_timer(uv_timer_t *tm)
{
    lagranged *d = tm->data;
    dconf *c = d->conf;
    plan_topology *t = NULL;
    char err[1024] = "";
    int rc;
    if (d->state != LGD_RUNNING || !plan_topology_stale(c->topo))
        return;
    rc = plan_topology_load(c->topology.path, &t, err, sizeof err);
    if (rc == 0 && (rc = dconf_set_topology(c, t, err, sizeof err)) < 0)
        plan_topology_free(t);
    if (rc < 0) {
        if (!err[0])
            snprintf(err, sizeof err, "%s", lg_strerror(rc));
        /* It stays stale, so this runs again: say it once per cause. */
        if (strcmp(err, d->stale_err)) {
            log_err("a TLE file changed but the topology does not reload, "
                    "keeping the old one: %s", err);
            snprintf(d->stale_err, sizeof d->stale_err, "%s", err);
        }
        return;
    }
    d->stale_err[0] = '\0';
    d->topo_reloads++;
    if (d->net)
        dnet_reload(d->net);
    log_topology_warnings(c->topo);
    log_info("a TLE file changed: topology %s reloaded, %d nodes, %d links",
             c->topology.path, c->topo->n_nodes, c->topo->n_links);
}

static void on_signal(uv_signal_t *s, int signum)
{
    lagranged *d = s->data;
    if (signum == SIGUSR1) {
        d->usr1_debug = !d->usr1_debug;
        if (d->usr1_debug) {
            apply_level(d);
            log_info("SIGUSR1: debug logging on (SIGUSR1 again: off)");
        } else {
            log_info("SIGUSR1: debug logging off, back to %s",
                     log_level_name(d->debug ? LOG_LVL_DEBUG
                                    : d->quiet ? LOG_LVL_WARN
                                               : d->conf->log_level));
            apply_level(d);
        }
        return;
    }
    if (signum == SIGHUP) {
        if (d->state == LGD_RUNNING) {
            log_info("SIGHUP: reloading %s", d->conf_path);
            lgd_reload(d);
        }
        return;
    }
    if (d->state == LGD_STOPPING) {
        stop_expire(d, signum == SIGINT ? "SIGINT again" : "SIGTERM again");
        return;
    }
    log_info("%s: shutting down", signum == SIGINT ? "SIGINT" : "SIGTERM");
    lgd_stop(d);
}

/* ---- the loop ------------------------------------------------------------ */

static void log_open_handle(uv_handle_t *h, void *arg)
{
    log_err("handle still open at exit: %s%s",
            uv_handle_type_name(uv_handle_get_type(h)),
            uv_is_closing(h) ? " (closing)" : "");
}

static int start_signal(lagranged *d, uv_signal_t *s, int signum)
{
    int rc = uv_signal_init(&d->loop, s);
    if (rc < 0)
        return rc;
    s->data = d;
    d->handles_open++;
    return uv_signal_start(s, on_signal, signum);
}

static int lgd_run(lagranged *d)
{
    char err[1024] = "";
    int rc, ex = EXIT_OK;
    const dconf *c = d->conf;

    d->state = LGD_STARTING;
    if ((rc = uv_loop_init(&d->loop)) < 0) {
        log_err("cannot create the event loop: %s", uv_strerror(rc));
        return EXIT_FAIL;
    }
    d->start_hr = uv_hrtime();
    d->start_unix = wall_now();
    snprintf(d->socket_path, sizeof d->socket_path, "%s",
             c->control_socket.path);
    if ((rc = start_signal(d, &d->sig_int, SIGINT)) < 0 ||
        (rc = start_signal(d, &d->sig_term, SIGTERM)) < 0 ||
        (rc = start_signal(d, &d->sig_hup, SIGHUP)) < 0 ||
        (rc = start_signal(d, &d->sig_usr1, SIGUSR1)) < 0) {
        log_err("cannot handle signals: %s", uv_strerror(rc));
        ex = EXIT_FAIL;
    } else if ((rc = uv_timer_init(&d->loop, &d->stale_timer)) < 0) {
        log_err("cannot create a timer: %s", uv_strerror(rc));
        ex = EXIT_FAIL;
    } else {
        d->stale_timer.data = d;
        d->handles_open++;
        start_stale_timer(d);
        build_cmds();
        if ((rc = control_open(&d->loop, d->socket_path, all_cmds, d,
                               &d->ctl, err, sizeof err)) < 0) {
            log_err("control socket: %s", err);
            ex = EXIT_FAIL;
        } else {
            rc = dnet_start(d, &d->net, err, sizeof err);
            d->net_open = d->net != NULL;
            if (rc < 0) {
                log_err("%s", err);
                ex = EXIT_FAIL;
            } else if ((rc = dhook_start(d, &d->hooks, err,
                                         sizeof err)) < 0) {
                log_err("webhooks: %s", err);
                ex = EXIT_FAIL;
            } else if ((rc = svc_start(d, err, sizeof err)) < 0 ||
                       (rc = sched_start(d, err, sizeof err)) < 0) {
                log_err("jobs: %s", err);
                ex = EXIT_FAIL;
            } else if ((rc = dapi_start(d, &d->api, err, sizeof err)) < 0) {
                log_err("API: %s", err);
                ex = EXIT_FAIL;
            } else if ((rc = metrics_start(d, &d->metrics, err,
                                           sizeof err)) < 0) {
                log_err("metrics: %s", err);
                ex = EXIT_FAIL;
            }
        }
    }
    if (ex == EXIT_OK) {
        d->state = LGD_RUNNING;
        notify_send(&d->ntf, "READY=1");
        notify_status(d);
        start_notify(d);
        log_info("node %s up: topology %s (%d nodes, %d links, %d leaving "
                 "this node), %d peers, control socket %s, pid %ld",
                 c->node_id, c->topology.path, c->topo->n_nodes,
                 c->topo->n_links,
                 c->topo->out_first[c->node + 1] - c->topo->out_first[c->node],
                 c->n_peers, d->socket_path, (long)getpid());
    } else {
        lgd_stop(d);             /* close what was opened */
    }
    uv_run(&d->loop, UV_RUN_DEFAULT);
    if (d->stop_expired) {
        /* Work is still running on the threadpool and uses d, the
         * scheduler and the stores: free nothing, main exits at once. */
        log_info("node %s stopped; what was left resumes at the next start",
                 d->conf->node_id);
        return ex;
    }
    /* Only the unreferenced handles are left: the signals kept for a
     * second SIGTERM, and the stop's deadline. */
    close_handle((uv_handle_t *)&d->sig_int);
    close_handle((uv_handle_t *)&d->sig_term);
    close_handle((uv_handle_t *)&d->stop_timer);
    uv_run(&d->loop, UV_RUN_DEFAULT);
    sched_free(d);
    svc_free(d);
    dhook_free(d->hooks);
    d->hooks = NULL;
    /* Everything is closed by now, or it is a bug: say which handle. */
    if ((rc = uv_loop_close(&d->loop)) != 0) {
        log_err("event loop not empty at exit: %s", uv_strerror(rc));
        uv_walk(&d->loop, log_open_handle, NULL);
        assert(rc == 0);
        return EXIT_FAIL;
    }
    if (ex == EXIT_OK)
        log_info("node %s stopped in %.1f s", d->conf->node_id,
                 (double)(uv_hrtime() - d->stop_hr) / 1e9);
    return ex;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "config", required_argument, 0, 'f' },
        { "check", no_argument, 0, 'n' },
        { "debug", no_argument, 0, 'd' },
        { "verbose", no_argument, 0, 'v' },
        { "quiet", no_argument, 0, 'q' },
        { "help", no_argument, 0, 'h' },
        { "version", no_argument, 0, 'V' },
        { 0, 0, 0, 0 },
    };
    lagranged d;
    dconf_dirs dirs;
    static char def_path[DCONF_DIR_MAX + 32];
    char err[1024] = "";
    int c, check = 0, rc, ex;

    lg_blas_tune(argv);   /* OpenBLAS kernels: see blastune.h */
    memset(&d, 0, sizeof d);
    d.ntf.fd = -1;
    d.sdl.api_fd = -1;
    d.conf_path = NULL;
    while ((c = getopt_long(argc, argv, "f:ndvqhV", opts, NULL)) != -1) {
        switch (c) {
        case 'f': d.conf_path = optarg; break;
        case 'n': check = 1; break;
        case 'd': case 'v': d.debug = 1; break;
        case 'q': d.quiet = 1; break;
        case 'h': help(stdout); return EXIT_OK;
        case 'V': printf("lagranged %s\n", PACKAGE_VERSION); return EXIT_OK;
        default: help(stderr); return EXIT_USAGE;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "lagranged: unexpected argument '%s'\n", argv[optind]);
        help(stderr);
        return EXIT_USAGE;
    }
    if (d.debug && d.quiet) {
        fprintf(stderr, "lagranged: -v and -q contradict each other\n");
        return EXIT_USAGE;
    }
    log_init("lagranged");
    apply_level(&d);

    /* systemd's directories: the defaults of every path, for this load
     * and every reload. */
    if (dconf_dirs_from_env(&dirs, err, sizeof err) > 0) {
        if (check)
            fprintf(stderr, "lagranged: warning: %s\n", err);
        else
            log_warn("%s", err);
    }
    dconf_set_dirs(&dirs);
    if (!d.conf_path)
        d.conf_path = dconf_default_path(def_path, sizeof def_path);
    err[0] = '\0';

    rc = dconf_load(d.conf_path, &d.conf, err, sizeof err);
    if (check) {
        /* A command-line check: plain messages, as the CLI prints them. */
        if (rc < 0) {
            fprintf(stderr, "lagranged: %s\n", err[0] ? err : lg_strerror(rc));
            return EXIT_CONFIG;
        }
        for (int i = 0; i < d.conf->topo->n_warnings; i++)
            fprintf(stderr, "lagranged: warning: %s\n",
                    d.conf->topo->warnings[i]);
        ex = dconf_print(d.conf, stdout) < 0 ? EXIT_FAIL : EXIT_OK;
        dconf_free(d.conf);
        return ex;
    }
    if (rc < 0) {
        log_err("%s", err[0] ? err : lg_strerror(rc));
        return EXIT_CONFIG;
    }
    /* Socket activation: the API socket systemd bound for us, if any. */
    if (sdlisten_take(&d.sdl, err, sizeof err) < 0) {
        log_err("%s", err);
        dconf_free(d.conf);
        return EXIT_CONFIG;
    }
    if (d.sdl.n_closed)
        log_warn("systemd passed %d socket%s besides the API socket; "
                 "lagranged has no use for %s and closed %s", d.sdl.n_closed,
                 d.sdl.n_closed == 1 ? "" : "s",
                 d.sdl.n_closed == 1 ? "it" : "them",
                 d.sdl.n_closed == 1 ? "it" : "them");
    log_topology_warnings(d.conf->topo);
    apply_level(&d);
    /* Bundles are 1 MiB buffers that come and go by the thousand: keep
     * them in the heap instead of an mmap and munmap (and 256 page faults)
     * each. Memory is bounded by the session and store limits anyway. */
    mallopt(M_MMAP_THRESHOLD, 64 << 20);
    mallopt(M_TRIM_THRESHOLD, 128 << 20);
    /* A client that hangs up mid-answer must not kill the daemon. */
    signal(SIGPIPE, SIG_IGN);
    /* Under systemd (Type=notify): READY, STATUS, RELOADING, STOPPING and
     * the watchdog go to $NOTIFY_SOCKET; elsewhere these are no-ops. */
    if (notify_open(&d.ntf, err, sizeof err) < 0)
        log_warn("%s; systemd will not hear from lagranged", err);
    ex = lgd_run(&d);
    if (d.sdl.api_fd >= 0)       /* never handed to the API */
        close(d.sdl.api_fd);
    if (d.stop_expired) {
        /* Not exit(): libuv's destructor would join the threadpool and
         * wait for the work the stop gave up (see "shutdown"). */
        notify_close(&d.ntf);
        _exit(ex);
    }
    notify_close(&d.ntf);
    dconf_free(d.conf);
    return ex;
}
