/*
 * check_config.c - unit tests for daemon/config.c that the golden files of
 * tests/daemon/conf cannot see (those run `lagranged -n` on whole files):
 *
 *  - dconf_parse from memory: defaults, where relative paths resolve
 *    (the config file's directory), no topology loaded;
 *  - dconf_split_addr on good and bad HOST:PORT forms;
 *  - dconf_set_topology: a topology that lacks NodeId or a Peer is
 *    refused with c and t unchanged; one that passes replaces (and frees)
 *    the old one and sets the node and peer indices;
 *  - the printers: every duration and size printed parses back to the
 *    same value;
 *  - log_level_parse and log_level_name agree;
 *  - the directories systemd gives (dconf_dirs): the first of several
 *    paths, unusable ones ignored with a warning, the defaults they make
 *    (and the plain ones without them), keys set in the file winning, a
 *    default socket path too long for a unix socket refused, the default
 *    config path; JobCompLog: none, a path, its default under the logs
 *    directory.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "lgerr.h"
#include "log.h"

static dconf *parse(const char *name, const char *text)
{
    dconf *c = NULL;
    char err[512] = "";
    ck_assert_msg(dconf_parse(name, text, strlen(text), &c, err,
                              sizeof err) == 0, "%s", err);
    return c;
}

static int parse_err(const char *text, char *err, size_t errlen)
{
    dconf *c = NULL;
    int rc = dconf_parse("t.conf", text, strlen(text), &c, err, errlen);
    ck_assert_ptr_null(c);
    return rc;
}

START_TEST(defaults_and_paths)
{
    dconf *c = parse("etc/lagrange/l.conf",
                     "NodeId=gs\nTopology=t.topo\nSpoolDir=/abs/spool\n"
                     "TlsKey=tls/k.pem\n");
    ck_assert_str_eq(c->node_id, "gs");
    ck_assert_str_eq(c->topology.decl, "t.topo");
    ck_assert_str_eq(c->topology.path, "etc/lagrange/t.topo");
    ck_assert_str_eq(c->spool_dir.path, "/abs/spool");
    ck_assert_str_eq(c->tls_key.decl, "tls/k.pem");
    ck_assert_str_eq(c->tls_key.path, "etc/lagrange/tls/k.pem");
    ck_assert_str_eq(c->tls_cert.path, DCONF_DEF_TLS_CERT);
    ck_assert_str_eq(c->control_socket.path, DCONF_DEF_CONTROL_SOCKET);
    ck_assert_str_eq(c->listen, DCONF_DEF_LISTEN);
    ck_assert_uint_eq(c->spool_max_bytes, 10ull << 30);
    ck_assert_uint_eq(c->spool_max_bundles, 100000);
    ck_assert_uint_eq(c->max_frame, 2u << 20);
    ck_assert_uint_eq(c->chunk_size, 1u << 20);
    ck_assert(c->heartbeat == 5 && c->reconnect_min == 1 &&
              c->reconnect_max == 60 && c->tle_check == 60);
    ck_assert_int_eq(c->emulate, 1);
    ck_assert_int_eq(c->log_level, LOG_LVL_INFO);
    ck_assert_ptr_null(c->topo);
    ck_assert_int_eq(c->node, -1);
    dconf_free(c);

    /* A file in the current directory: paths as written; "/x.conf": the
     * root directory. */
    c = parse("l.conf", "NodeId=gs\nTopology=t.topo\n");
    ck_assert_str_eq(c->topology.path, "t.topo");
    dconf_free(c);
    c = parse("/l.conf", "NodeId=gs\nTopology=t.topo\n");
    ck_assert_str_eq(c->topology.path, "/t.topo");
    dconf_free(c);
}
END_TEST

START_TEST(errors_name_lines)
{
    char err[512];
    ck_assert_int_eq(parse_err("NodeId=gs\n\n# c\nBogus=1\n", err,
                               sizeof err), LG_EMODEL);
    ck_assert_str_eq(err, "t.conf:4: unknown key 'Bogus'");
    ck_assert_int_eq(parse_err("Topology=t\n", err, sizeof err), LG_EMODEL);
    ck_assert_str_eq(err, "t.conf: NodeId is required (this node's name in "
                     "the topology)");
    ck_assert_int_eq(parse_err("NodeId=a\nTopology=t\nReconnectMin=2min\n",
                               err, sizeof err), LG_EMODEL);
    ck_assert_str_eq(err, "t.conf:3: ReconnectMin 2min is above "
                     "ReconnectMax 1min");
    ck_assert_int_eq(parse_err("NodeId=a\nTopology=t\nMaxFrame=1M\n", err,
                               sizeof err), LG_EMODEL);
    ck_assert_ptr_nonnull(strstr(err, "t.conf:3: ChunkSize 1M does not fit"));
}
END_TEST

START_TEST(split_addr)
{
    static const struct {
        const char *in, *host;
        int port;
    } good[] = {
        { "a:1", "a", 1 },
        { "0.0.0.0:7400", "0.0.0.0", 7400 },
        { "gs.example.net:65535", "gs.example.net", 65535 },
        { "[::1]:80", "::1", 80 },
        { "[fe80::1%eth0]:7400", "fe80::1%eth0", 7400 },
    };
    static const char *const bad[] = {
        ":80", "a:", "a:0", "a:65536", "a:99999999999", "::1:80",
        "[::1]80", "[]:80", "[abc]:80", "a:+1", "a: 1", "a", "a b:1",
        "[::1]:", "a:1x",
    };
    char host[DCONF_HOST_MAX];
    int port;
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        ck_assert_msg(dconf_split_addr(good[i].in, host, sizeof host,
                                       &port) == 0, "%s", good[i].in);
        ck_assert_str_eq(host, good[i].host);
        ck_assert_int_eq(port, good[i].port);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(dconf_split_addr(bad[i], host, sizeof host, &port) ==
                          -EINVAL, "%s accepted", bad[i]);
    /* The host buffer bounds the host. */
    ck_assert_int_eq(dconf_split_addr("abcdef:1", host, 4, &port), -EINVAL);
}
END_TEST

static plan_topology *topo(const char *text)
{
    plan_topology *t = NULL;
    char err[512] = "";
    ck_assert_msg(plan_topology_parse("x.topo", text, strlen(text), &t, err,
                                      sizeof err) == 0, "%s", err);
    return t;
}

START_TEST(set_topology)
{
    dconf *c = parse("l.conf", "NodeId=b\nTopology=x.topo\n"
                               "Peer=c Address=h:1\nPeer=a Address=h:2\n");
    plan_topology *t1 = topo("Node=a Kind=ground\nNode=b Kind=leo\n"
                             "Node=c Kind=leo\nLink=a>b Delay=1ms Rate=1M\n"
                             "Link=b<>c Delay=1ms Rate=1M\n");
    plan_topology *t2 = topo("Node=b Kind=leo\nNode=c Kind=leo\n"
                             "Node=a Kind=ground\n"
                             "Link=c>b Delay=1ms Rate=1M\n"
                             "Link=b>a Delay=1ms Rate=1M\n");
    plan_topology *no_b = topo("Node=a Kind=ground\nNode=c Kind=leo\n");
    plan_topology *far_a = topo("Node=a Kind=ground\nNode=b Kind=leo\n"
                                "Node=c Kind=leo\n"
                                "Link=b<>c Delay=1ms Rate=1M\n");
    char err[512];

    ck_assert_int_eq(dconf_set_topology(c, no_b, err, sizeof err), LG_EMODEL);
    ck_assert_str_eq(err, "l.conf:1: NodeId b is not a node of x.topo");
    ck_assert_ptr_null(c->topo);
    ck_assert_int_eq(dconf_set_topology(c, far_a, err, sizeof err),
                     LG_EMODEL);
    ck_assert_str_eq(err, "l.conf:4: Peer a is not a neighbour of b in "
                     "x.topo (no link between them)");
    ck_assert_ptr_null(c->topo);
    plan_topology_free(no_b);
    plan_topology_free(far_a);

    /* a>b only: a is still a neighbour (links count both ways). */
    ck_assert_int_eq(dconf_set_topology(c, t1, err, sizeof err), 0);
    ck_assert_ptr_eq(c->topo, t1);
    ck_assert_int_eq(c->node, 1);
    ck_assert_int_eq(c->peers[0].node, 2);
    ck_assert_int_eq(c->peers[1].node, 0);
    /* Replacing frees t1 (the leak checkers would tell). */
    ck_assert_int_eq(dconf_set_topology(c, t2, err, sizeof err), 0);
    ck_assert_ptr_eq(c->topo, t2);
    ck_assert_int_eq(c->node, 0);
    ck_assert_int_eq(c->peers[0].node, 1);
    ck_assert_int_eq(c->peers[1].node, 2);
    dconf_free(c);
}
END_TEST

START_TEST(printers_round_trip)
{
    static const double durs[] = { 1e-6, 250e-6, 0.004, 0.5, 1, 1.5, 2.5, 59,
                                   60, 90, 1000, 3600, 5400, 86399.999,
                                   86400, 0.1 + 0.2, 1.0 / 3 };
    static const uint64_t sizes[] = { 1024, 1536, 4096, 1u << 20, 3u << 20,
                                      (1u << 20) + 1, 1000000, 10ull << 30,
                                      1ull << 40, 1ull << 50 };
    char text[256], buf[64];
    for (size_t i = 0; i < sizeof durs / sizeof durs[0]; i++) {
        dconf *c;
        snprintf(text, sizeof text,
                 "NodeId=a\nTopology=t\nHeartbeatInterval=%s\n",
                 dconf_fmt_duration(buf, sizeof buf, durs[i]));
        c = parse("t.conf", text);
        ck_assert_msg(c->heartbeat == durs[i], "%.17g printed as %s",
                      durs[i], buf);
        dconf_free(c);
    }
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        /* SpoolMaxBytes takes 1M and up; ChunkSize the small ones. */
        int spool = sizes[i] >= 1u << 20;
        dconf *c;
        snprintf(text, sizeof text, "NodeId=a\nTopology=t\n%s=%s\n",
                 spool ? "SpoolMaxBytes" : "ChunkSize",
                 dconf_fmt_size(buf, sizeof buf, sizes[i]));
        c = parse("t.conf", text);
        ck_assert_msg((spool ? c->spool_max_bytes : c->chunk_size) ==
                          sizes[i], "%llu printed as %s",
                      (unsigned long long)sizes[i], buf);
        dconf_free(c);
    }
    ck_assert_str_eq(dconf_fmt_duration(buf, sizeof buf, 60), "1min");
    ck_assert_str_eq(dconf_fmt_duration(buf, sizeof buf, 0.004), "4ms");
    ck_assert_str_eq(dconf_fmt_size(buf, sizeof buf, 1536 << 10), "1536K");
    ck_assert_str_eq(dconf_fmt_size(buf, sizeof buf, 1000), "1000");
}
END_TEST

START_TEST(dirs_parse)
{
    dconf_dirs d;
    char warn[512], longp[DCONF_DIR_MAX + 10];
    ck_assert_int_eq(dconf_dirs_set(&d, NULL, "", NULL, NULL, warn,
                                    sizeof warn), 0);
    ck_assert_str_eq(d.state, "");
    ck_assert_str_eq(d.runtime, "");
    ck_assert_str_eq(warn, "");
    /* The first of several paths; trailing slashes dropped, "/" kept. */
    ck_assert_int_eq(dconf_dirs_set(&d, "/var/lib/a:/var/lib/b", "/run/a/",
                                    "/", "/var/log/a//:x", warn, sizeof warn),
                     0);
    ck_assert_str_eq(d.state, "/var/lib/a");
    ck_assert_str_eq(d.runtime, "/run/a");
    ck_assert_str_eq(d.config, "/");
    ck_assert_str_eq(d.logs, "/var/log/a");
    /* Relative, white space, '#', too long: ignored, and said. */
    ck_assert_int_eq(dconf_dirs_set(&d, "var/lib/a", "/run/a b", "/etc/#x",
                                    ":/var/log", warn, sizeof warn), 4);
    ck_assert_str_eq(d.state, "");
    ck_assert_str_eq(d.runtime, "");
    ck_assert_str_eq(d.config, "");
    ck_assert_str_eq(d.logs, "");
    ck_assert_msg(strstr(warn, "LOGS_DIRECTORY=':/var/log' ignored"), "%s",
                  warn);
    ck_assert_int_eq(dconf_dirs_set(&d, NULL, "/run/a b", NULL, NULL, warn,
                                    sizeof warn), 1);
    ck_assert_msg(strstr(warn, "RUNTIME_DIRECTORY='/run/a b' ignored: white "
                         "space"), "%s", warn);
    longp[0] = '/';
    memset(longp + 1, 'x', sizeof longp - 2);
    longp[sizeof longp - 1] = '\0';
    ck_assert_int_eq(dconf_dirs_set(&d, longp, NULL, NULL, NULL, warn,
                                    sizeof warn), 1);
    ck_assert_ptr_nonnull(strstr(warn, "STATE_DIRECTORY="));
    /* From the environment. */
    setenv("STATE_DIRECTORY", "/st", 1);
    setenv("RUNTIME_DIRECTORY", "/rt:/rt2", 1);
    unsetenv("CONFIGURATION_DIRECTORY");
    setenv("LOGS_DIRECTORY", "/lg", 1);
    ck_assert_int_eq(dconf_dirs_from_env(&d, warn, sizeof warn), 0);
    ck_assert_str_eq(d.state, "/st");
    ck_assert_str_eq(d.runtime, "/rt");
    ck_assert_str_eq(d.config, "");
    ck_assert_str_eq(d.logs, "/lg");
    unsetenv("STATE_DIRECTORY");
    unsetenv("RUNTIME_DIRECTORY");
    unsetenv("LOGS_DIRECTORY");
}
END_TEST

START_TEST(dirs_defaults)
{
    dconf_dirs d;
    dconf *c;
    char warn[256], buf[DCONF_DIR_MAX + 32], err[512];
    /* None set: the compiled-in defaults, no completion log. */
    dconf_set_dirs(NULL);
    c = parse("l.conf", "NodeId=gs\nTopology=t.topo\n");
    ck_assert_str_eq(c->spool_dir.path, DCONF_DEF_SPOOL_DIR);
    ck_assert_str_eq(c->control_socket.decl, DCONF_DEF_CONTROL_SOCKET);
    ck_assert_str_eq(c->api_token_file.path, DCONF_DEF_API_TOKEN_FILE);
    ck_assert_ptr_null(c->jobcomp_log.path);
    ck_assert_ptr_null(c->jobcomp_log.decl);
    ck_assert_str_eq(c->event_dir.path, DCONF_DEF_EVENT_DIR);
    ck_assert_int_eq(c->n_webhooks, 0);
    dconf_free(c);
    ck_assert_str_eq(dconf_default_path(buf, sizeof buf), DCONF_DEFAULT_PATH);

    /* All four. */
    ck_assert_int_eq(dconf_dirs_set(&d, "/s", "/r", "/c", "/l", warn,
                                    sizeof warn), 0);
    dconf_set_dirs(&d);
    c = parse("etc/l.conf", "NodeId=gs\nTopology=t.topo\n");
    ck_assert_str_eq(c->spool_dir.path, "/s/spool");
    ck_assert_str_eq(c->spool_dir.decl, "/s/spool");
    ck_assert_str_eq(c->inbox_dir.path, "/s/inbox");
    ck_assert_str_eq(c->job_dir.path, "/s/jobs");
    ck_assert_str_eq(c->model_dir.path, "/s/models");
    ck_assert_str_eq(c->blob_dir.path, "/s/blobs");
    ck_assert_str_eq(c->control_socket.path, "/r/lagranged.sock");
    ck_assert_str_eq(c->api_socket.path, "/r/api.sock");
    ck_assert_str_eq(c->tls_cert.path, "/c/tls/node.crt");
    ck_assert_str_eq(c->tls_key.path, "/c/tls/node.key");
    ck_assert_str_eq(c->tls_ca.path, "/c/tls/ca.crt");
    ck_assert_str_eq(c->api_token_file.path, "/c/api.tokens");
    ck_assert_str_eq(c->jobcomp_log.path, "/l/jobcomp.log");
    ck_assert_str_eq(c->jobcomp_log.decl, "/l/jobcomp.log");
    ck_assert_str_eq(c->event_dir.path, "/s/events");
    dconf_free(c);
    ck_assert_str_eq(dconf_default_path(buf, sizeof buf),
                     "/c/lagranged.conf");

    /* Keys in the file win; relative ones still resolve against the
     * file's directory; JobCompLog=none turns the default off. */
    c = parse("etc/l.conf", "NodeId=gs\nTopology=t.topo\nSpoolDir=sp\n"
                            "ApiSocket=/x/api.sock\nJobCompLog=none\n");
    ck_assert_str_eq(c->spool_dir.path, "etc/sp");
    ck_assert_str_eq(c->inbox_dir.path, "/s/inbox");
    ck_assert_str_eq(c->api_socket.path, "/x/api.sock");
    ck_assert_ptr_null(c->jobcomp_log.path);
    dconf_free(c);

    /* Only some: the others keep the plain defaults. */
    ck_assert_int_eq(dconf_dirs_set(&d, NULL, "/", NULL, NULL, warn,
                                    sizeof warn), 0);
    dconf_set_dirs(&d);
    c = parse("l.conf", "NodeId=gs\nTopology=t.topo\n");
    ck_assert_str_eq(c->control_socket.path, "/lagranged.sock");
    ck_assert_str_eq(c->spool_dir.path, DCONF_DEF_SPOOL_DIR);
    ck_assert_str_eq(c->tls_ca.path, DCONF_DEF_TLS_CA);
    ck_assert_ptr_null(c->jobcomp_log.path);
    dconf_free(c);
    ck_assert_str_eq(dconf_default_path(buf, sizeof buf), DCONF_DEFAULT_PATH);

    /* A runtime directory too long for the default socket paths: said,
     * unless the file sets them. */
    memset(buf, 0, sizeof buf);
    buf[0] = '/';
    memset(buf + 1, 'r', 100);
    ck_assert_int_eq(dconf_dirs_set(&d, NULL, buf, NULL, NULL, warn,
                                    sizeof warn), 0);
    dconf_set_dirs(&d);
    ck_assert_int_eq(parse_err("NodeId=gs\nTopology=t\n", err, sizeof err),
                     LG_EMODEL);
    ck_assert_msg(strstr(err, "t.conf: the default ControlSocket '/rrr") &&
                  strstr(err, "(under RUNTIME_DIRECTORY) is longer than the "
                         "107 bytes"), "%s", err);
    ck_assert_int_eq(parse_err("NodeId=gs\nTopology=t\n"
                               "ControlSocket=/c.sock\n", err, sizeof err),
                     LG_EMODEL);
    ck_assert_msg(strstr(err, "the default ApiSocket"), "%s", err);
    c = parse("l.conf", "NodeId=gs\nTopology=t\nControlSocket=/c.sock\n"
                        "ApiSocket=/a.sock\n");
    dconf_free(c);
    dconf_set_dirs(NULL);
}
END_TEST

START_TEST(jobcomp_key)
{
    char err[512];
    dconf *c;
    FILE *f;
    char *text = NULL;
    size_t len = 0;
    dconf_set_dirs(NULL);
    c = parse("etc/l.conf", "NodeId=gs\nTopology=t\nJobCompLog=log/jc\n");
    ck_assert_str_eq(c->jobcomp_log.decl, "log/jc");
    ck_assert_str_eq(c->jobcomp_log.path, "etc/log/jc");
    /* The normal form prints it as written, and none as none. */
    ck_assert_ptr_nonnull(f = open_memstream(&text, &len));
    ck_assert_int_eq(dconf_print(c, f), 0);
    fclose(f);
    ck_assert_ptr_nonnull(strstr(text, "\nJobCompLog=log/jc\n"));
    free(text);
    dconf_free(c);
    c = parse("l.conf", "NodeId=gs\nTopology=t\nJobCompLog=NONE\n");
    ck_assert_ptr_null(c->jobcomp_log.path);
    text = NULL;
    ck_assert_ptr_nonnull(f = open_memstream(&text, &len));
    ck_assert_int_eq(dconf_print(c, f), 0);
    fclose(f);
    ck_assert_ptr_nonnull(strstr(text, "\nJobCompLog=none\n"));
    free(text);
    dconf_free(c);
    ck_assert_int_eq(parse_err("NodeId=gs\nTopology=t\nJobCompLog=/v/\n",
                               err, sizeof err), LG_EMODEL);
    ck_assert_str_eq(err, "t.conf:3: JobCompLog must name a file (or be "
                     "none), got '/v/'");
}
END_TEST

/* Webhook= lines: URL checks, Events=, SecretFile= resolved against the
 * file's directory, the other keys and their normal form. */
START_TEST(webhook_keys)
{
    static const struct { const char *line, *msg; } bad[] = {
        { "Webhook=ftp://h/x", "t.conf:3: Webhook URL must start with "
          "http:// or https://, got 'ftp://h/x'" },
        { "Webhook=http://", "t.conf:3: Webhook URL 'http://' has no host" },
        { "Webhook=http://u@:80/", "t.conf:3: Webhook URL 'http://u@:80/' "
          "has no host" },
        { "Webhook=http://h:0/", "t.conf:3: Webhook URL 'http://h:0/': bad "
          "port (1-65535)" },
        { "Webhook=http://h:8x/", "t.conf:3: Webhook URL 'http://h:8x/': bad "
          "port (1-65535)" },
        { "Webhook=http://[::1/", "t.conf:3: Webhook URL 'http://[::1/': "
          "unclosed '[' in the host" },
        { "Webhook=http://h/ Events=", "t.conf:3: Events has an empty "
          "value" },
        { "Webhook=http://h/ Events=job.done", "t.conf:3: unknown event "
          "'job.done' in Events (job.completed, job.failed, job.cancelled, "
          "job.expired, node.suspect, node.dead, node.recovered, "
          "node.fault, or all)" },
        { "Webhook=http://h/ Events=all Events=all", "t.conf:3: Events "
          "given twice" },
        { "Webhook=http://h/ SecretFile=a SecretFile=b", "t.conf:3: "
          "SecretFile given twice" },
        { "Webhook=http://h/ Retries=3", "t.conf:3: unknown key 'Retries' "
          "on a Webhook line (Events, SecretFile)" },
        { "Webhook=http://h/ x", "t.conf:3: expected Key=Value on the "
          "Webhook line, got 'x'" },
        { "Webhook=", "t.conf:3: Webhook has an empty value" },
        { "JobWorkers=1 Webhook=http://h/", "t.conf:3: Webhook= must start "
          "its line" },
        { "Webhook=http://h/\nWebhook=http://h/", "t.conf:4: Webhook "
          "http://h/ given twice (first at line 3)" },
        { "WebhookTimeout=0", "t.conf:3: WebhookTimeout must be between "
          "100ms and 1h, got '0'" },
        { "WebhookRetryFor=31d", "t.conf:3: WebhookRetryFor must be between "
          "1s and 30d, got '31d'" },
    };
    char err[512], text[256];
    dconf *c;
    FILE *f;
    char *out = NULL;
    size_t len = 0;
    dconf_set_dirs(NULL);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(text, sizeof text, "NodeId=gs\nTopology=t\n%s\n",
                 bad[i].line);
        ck_assert_int_eq(parse_err(text, err, sizeof err), LG_EMODEL);
        ck_assert_str_eq(err, bad[i].msg);
    }
    c = parse("etc/l.conf",
              "NodeId=gs\nTopology=t\nEventDir=ev\n"
              "WebhookTimeout=500ms WebhookRetryFor=2h\n"
              "Webhook=https://a.example/x Events=node.dead,job.failed "
              "SecretFile=s/key\n"
              "WEBHOOK=http://u:p@[::1]:8080/y?z events=job.failed,ALL\n");
    ck_assert_str_eq(c->event_dir.path, "etc/ev");
    ck_assert(c->webhook_timeout == 0.5);
    ck_assert(c->webhook_retry_for == 7200.0);
    ck_assert_int_eq(c->n_webhooks, 2);
    ck_assert_str_eq(c->webhooks[0].url, "https://a.example/x");
    ck_assert_uint_eq(c->webhooks[0].events,
                      (1u << DCONF_EV_NODE_DEAD) | (1u << DCONF_EV_JOB_FAILED));
    ck_assert_str_eq(c->webhooks[0].secret_file.path, "etc/s/key");
    ck_assert_int_eq(c->webhooks[0].line, 5);
    ck_assert_uint_eq(c->webhooks[1].events, DCONF_EV_ALL);
    ck_assert_ptr_null(c->webhooks[1].secret_file.path);
    ck_assert_ptr_nonnull(f = open_memstream(&out, &len));
    ck_assert_int_eq(dconf_print(c, f), 0);
    fclose(f);
    ck_assert_ptr_nonnull(strstr(out, "\nEventDir=ev\nWebhookTimeout=500ms\n"
                                      "WebhookRetryFor=2h\n"));
    ck_assert_ptr_nonnull(strstr(out, "\nWebhook=https://a.example/x "
                                      "Events=job.failed,node.dead "
                                      "SecretFile=s/key\n"
                                      "Webhook=http://u:p@[::1]:8080/y?z "
                                      "Events=all\n"));
    free(out);
    dconf_free(c);
    ck_assert_int_eq(dconf_event_find("node.fault"), DCONF_EV_NODE_FAULT);
    ck_assert_int_eq(dconf_event_find("node"), -1);
}
END_TEST

START_TEST(log_levels)
{
    static const char *const names[] = { "error", "warn", "info", "debug" };
    enum log_level l;
    for (size_t i = 0; i < 4; i++) {
        ck_assert_int_eq(log_level_parse(names[i], &l), 0);
        ck_assert_str_eq(log_level_name(l), names[i]);
    }
    ck_assert_int_eq(log_level_parse("DeBuG", &l), 0);
    ck_assert_int_eq(l, LOG_LVL_DEBUG);
    ck_assert_int_eq(log_level_parse("verbose", &l), -EINVAL);
    log_set_level(LOG_LVL_WARN);
    ck_assert(log_enabled(LOG_LVL_ERR) && log_enabled(LOG_LVL_WARN));
    ck_assert(!log_enabled(LOG_LVL_INFO) && !log_enabled(LOG_LVL_DEBUG));
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("config");
    tcase_add_test(tc, defaults_and_paths);
    tcase_add_test(tc, errors_name_lines);
    tcase_add_test(tc, split_addr);
    tcase_add_test(tc, set_topology);
    tcase_add_test(tc, printers_round_trip);
    tcase_add_test(tc, log_levels);
    tcase_add_test(tc, dirs_parse);
    tcase_add_test(tc, dirs_defaults);
    tcase_add_test(tc, jobcomp_key);
    tcase_add_test(tc, webhook_keys);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    int nf;
    srunner_run_all(sr, CK_NORMAL);
    nf = srunner_ntests_failed(sr);
    srunner_free(sr);
    return nf ? EXIT_FAILURE : EXIT_SUCCESS;
}
