/*
 * lagranged.h - the daemon's process-wide state: the loop, the loaded
 * configuration and the handles that main.c opens and closes.
 *
 * Owned by main.c; the modules it calls get a pointer to it (the control
 * commands in report.c read it). The state is explicit:
 *
 *   STARTING  handles being opened, loop not yet running
 *   RUNNING   serving; SIGHUP reloads, SIGINT/SIGTERM lead to STOPPING
 *   STOPPING  every handle is being closed; the loop ends when the last
 *             close callback has run, or at StopTimeout (stop_expired:
 *             main.c then exits without waiting for the threadpool)
 *
 * Threading: loop thread only.
 */
#ifndef LG_DAEMON_LAGRANGED_H
#define LG_DAEMON_LAGRANGED_H

#include <stdint.h>
#include <uv.h>

#include "config.h"
#include "control.h"
#include "notify.h"
#include "sdlisten.h"

enum lgd_state { LGD_STARTING = 0, LGD_RUNNING, LGD_STOPPING };

typedef struct lagranged {
    enum lgd_state state;
    uv_loop_t loop;
    const char *conf_path;       /* -f */
    dconf *conf;                 /* the configuration in force; owned */
    int debug;                   /* -d/-v: log level stays debug */
    int quiet;                   /* -q: log level stays warn */
    int usr1_debug;              /* SIGUSR1 turned debug on */
    uint64_t start_hr;           /* uv_hrtime() at start, ns */
    double start_unix;           /* wall clock at start, Unix s */
    int reloads;                 /* configurations loaded by SIGHUP */
    int topo_reloads;            /* topologies reloaded after a TLE change */
    char socket_path[DCONF_SUN_PATH_MAX]; /* control socket in use: a
                                    reload does not move it */
    control *ctl;                /* the control socket, NULL once closed */
    struct dnet *net;            /* peers, spool, routing (net.h) */
    struct dapi *api;            /* gRPC listeners (api.h), NULL once
                                    stopped */
    sdlisten sdl;                /* sockets systemd passed (LISTEN_FDS):
                                    the API socket's fd, or -1 */
    struct dsched *sched;        /* models and jobs (scheduler.h) */
    struct dsvc *svc;            /* health and reflection (svc.h) */
    struct dmetrics *metrics;    /* /metrics listener (metrics.h) */
    struct dhook *hooks;         /* webhooks (webhook.h); its handles close
                                    at the stop, the rest after the loop */
    int net_open;                /* dnet_stop not yet done */
    uv_signal_t sig_int, sig_term, sig_hup, sig_usr1;
    uv_timer_t stale_timer;      /* TleCheckInterval: plan_topology_stale */
    notify ntf;                  /* systemd's NOTIFY_SOCKET, if any */
    uv_timer_t notify_timer;     /* WATCHDOG=1 and STATUS= under systemd */
    uv_timer_t stop_timer;       /* StopTimeout: the stop's deadline */
    uint64_t stop_hr;            /* uv_hrtime() when the stop began */
    int stop_expired;            /* deadline passed (or a second SIGTERM):
                                    exit now, work left resumes at start */
    int handles_open;            /* signals and timers not yet closed */
    char stale_err[1024];        /* last failed TLE reload, logged once */
} lagranged;

#endif
