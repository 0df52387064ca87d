/*
 * report.c - the control command "status" and the topology-time helpers
 * that the network's "links" uses (see report.h and
 * lagranged(8), CONTROL SOCKET).
 *
 * Link windows are in topology time: seconds after the topology's Epoch,
 * taken from the wall clock. A topology without an Epoch starts at the
 * moment lagranged started. Windows exist only up to the topology's
 * horizon; past it a scheduled link reports "none".
 */
#include "report.h"

#include <math.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lagranged.h"
#include "log.h"

/* Times to the millisecond: finer is noise for a human or a script. */
static double ms(double s)
{
    return round(s * 1e3) / 1e3;
}

static double now_unix(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

double report_topo_now(const lagranged *d)
{
    const plan_topology *t = d->conf->topo;
    return now_unix() - (t->epoch_unix != 0 ? t->epoch_unix : d->start_unix);
}

const plan_window *report_window_at(const plan_link *k, double t)
{
    int lo = 0, hi = k->n_win;
    /* First window that ends after t (windows are sorted and disjoint). */
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (k->win[mid].end > t)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo < k->n_win ? &k->win[lo] : NULL;
}

static int cmd_status(void *ctx, const char *args, control_out *o)
{
    lagranged *d = ctx;
    const dconf *c = d->conf;
    const plan_topology *t = c->topo;
    int out = t->out_first[c->node + 1] - t->out_first[c->node], in = 0;
    if (*args)
        return control_error(o, "status takes no arguments");
    for (int l = 0; l < t->n_links; l++)
        in += t->links[l].to == c->node;
    control_printf(o, "{\"node\":");
    control_json_str(o, c->node_id);
    control_printf(o, ",\"pid\":%ld,\"version\":", (long)getpid());
    control_json_str(o, PACKAGE_VERSION);
    control_printf(o, ",\"state\":\"%s\",\"uptime_s\":",
                   d->state == LGD_RUNNING ? "running" : "stopping");
    control_json_num(o, ms((double)(uv_hrtime() - d->start_hr) * 1e-9));
    control_printf(o, ",\"started_unix\":");
    control_json_num(o, floor(d->start_unix));
    control_printf(o, ",\"config\":");
    control_json_str(o, d->conf_path);
    control_printf(o, ",\"topology\":");
    control_json_str(o, c->topology.path);
    control_printf(o, ",\"epoch_unix\":");
    if (t->epoch_unix != 0)
        control_json_num(o, t->epoch_unix);
    else
        control_printf(o, "null");
    control_printf(o, ",\"topology_time_s\":");
    control_json_num(o, ms(report_topo_now(d)));
    control_printf(o, ",\"horizon_s\":");
    control_json_num(o, t->horizon);
    control_printf(o, ",\"nodes\":%d,\"links\":%d,\"out_links\":%d,"
                   "\"in_links\":%d,\"peers\":%d,\"reloads\":%d,"
                   "\"topology_reloads\":%d,\"log_level\":",
                   t->n_nodes, t->n_links, out, in, c->n_peers, d->reloads,
                   d->topo_reloads);
    control_json_str(o, log_level_name(log_get_level()));
    control_printf(o, ",\"emulate\":%s,\"listen\":",
                   c->emulate ? "true" : "false");
    control_json_str(o, c->listen);
    control_printf(o, ",\"control_socket\":");
    control_json_str(o, d->socket_path);
    control_printf(o, ",\"control_clients\":%d}\n",
                   d->ctl ? control_clients(d->ctl) : 0);
    return 0;
}

const control_cmd report_cmds[] = {
    { "status", "this node: identity, uptime, configuration, topology size",
      cmd_status },
    { NULL, NULL, NULL },
};
