/*
 * check_control.c - unit tests for daemon/control.c (the control socket)
 * and report_window_at (daemon/report.c), on a loop of their own:
 *
 *  - the line protocol: answers in order, each ended by an empty line;
 *    blank lines ignored; an unterminated last line served at EOF; JSON
 *    escaping; errors from a command, an unknown command, a response over
 *    CONTROL_MAX_RESPONSE, a request line over CONTROL_MAX_LINE (skipped,
 *    the next one served);
 *  - the socket file: mode 0660, its directory created, removed at close;
 *    a stale socket replaced; a live one, a regular file and a path too
 *    long refused;
 *  - every test closes every handle and asserts uv_loop_close() == 0
 *    (libuv's MAKE_VALGRIND_HAPPY).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <uv.h>

#include "control.h"
#include "log.h"
#include "report.h"

static uv_loop_t loop;
static char dir[64];
static char path[100];

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/check_control.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/run/ctl.sock", dir);
    ck_assert_int_eq(uv_loop_init(&loop), 0);
    log_set_level(LOG_LVL_ERR);
}

static void teardown(void)
{
    char cmd[128];
    /* Everything was closed: nothing may be left on the loop. */
    ck_assert_int_eq(uv_loop_close(&loop), 0);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* ---- commands ------------------------------------------------------------ */

static int calls;

static int cmd_echo(void *ctx, const char *args, control_out *o)
{
    calls++;
    ck_assert_ptr_eq(ctx, &calls);
    control_printf(o, "{\"args\":");
    control_json_str(o, args);
    control_printf(o, ",\"n\":");
    control_json_num(o, 0.004);
    control_printf(o, "}\n");
    return 0;
}

static int cmd_fail(void *ctx, const char *args, control_out *o)
{
    control_printf(o, "this partial line is dropped\n");
    return control_error(o, "nope %d", 42);
}

static int cmd_big(void *ctx, const char *args, control_out *o)
{
    char line[1024];
    memset(line, 'x', sizeof line - 2);
    line[sizeof line - 2] = '\n';
    line[sizeof line - 1] = '\0';
    for (unsigned i = 0; i < (CONTROL_MAX_RESPONSE / 1000) + 10; i++)
        control_printf(o, "%s", line);
    return 0;
}

static const control_cmd cmds[] = {
    { "echo", "say the arguments back", cmd_echo },
    { "fail", "always fails", cmd_fail },
    { "big", "answers too much", cmd_big },
    { NULL, NULL, NULL },
};

/* ---- a client on the same loop --------------------------------------------- */

typedef struct client {
    uv_pipe_t pipe;
    uv_connect_t creq;
    uv_write_t wreq;
    uv_shutdown_t sreq;
    const char *request;
    size_t reqlen;
    char *reply;
    size_t len;
    control *ctl;                /* closed when the reply is complete */
} client;

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    client *c = h->data;
    char *p = realloc(c->reply, c->len + 65536 + 1);
    ck_assert_ptr_nonnull(p);
    c->reply = p;
    *buf = uv_buf_init(p + c->len, 65536);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    client *c = s->data;
    if (n > 0) {
        c->len += (size_t)n;
        c->reply[c->len] = '\0';
        return;
    }
    if (n < 0) {
        ck_assert_int_eq((int)n, UV_EOF);
        uv_close((uv_handle_t *)s, NULL);
        control_close(c->ctl);
    }
}

static void on_written(uv_write_t *w, int status)
{
    ck_assert_int_eq(status, 0);
}

static void on_shutdown(uv_shutdown_t *r, int status)
{
    ck_assert_int_eq(status, 0);
}

static void on_connect(uv_connect_t *r, int status)
{
    client *c = r->data;
    uv_buf_t b = uv_buf_init((char *)c->request, (unsigned)c->reqlen);
    ck_assert_int_eq(status, 0);
    ck_assert_int_eq(uv_read_start((uv_stream_t *)&c->pipe, on_alloc,
                                   on_read), 0);
    ck_assert_int_eq(uv_write(&c->wreq, (uv_stream_t *)&c->pipe, &b, 1,
                              on_written), 0);
    ck_assert_int_eq(uv_shutdown(&c->sreq, (uv_stream_t *)&c->pipe,
                                 on_shutdown), 0);
}

/* Open a control at path, send request, run the loop until the answer is
 * complete and everything is closed; returns the answer (malloc'd). */
static char *exchange(const char *request, size_t len)
{
    client c;
    char err[256] = "";
    struct stat st;
    memset(&c, 0, sizeof c);
    c.request = request;
    c.reqlen = len;
    ck_assert_msg(control_open(&loop, path, cmds, &calls, &c.ctl, err,
                               sizeof err) == 0, "control_open: %s", err);
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert(S_ISSOCK(st.st_mode));
    ck_assert_int_eq(st.st_mode & 0777, 0660);
    ck_assert_int_eq(uv_pipe_init(&loop, &c.pipe, 0), 0);
    c.pipe.data = &c;
    c.creq.data = &c;
    uv_pipe_connect(&c.creq, &c.pipe, path, on_connect);
    ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
    /* control_close removed the socket file. */
    ck_assert_int_eq(stat(path, &st), -1);
    ck_assert_int_eq(errno, ENOENT);
    ck_assert_ptr_nonnull(c.reply);
    return c.reply;
}

/* ---- tests ----------------------------------------------------------------- */

START_TEST(answers_in_order)
{
    static const char req[] =
        "echo hello  world\n"
        "\n"
        "   \n"
        "fail\n"
        "frobnicate now\r\n"
        "echo \"q\\\t\n"
        "help\n"
        "echo last";             /* no newline: served at EOF */
    char *r;
    calls = 0;
    r = exchange(req, sizeof req - 1);
    ck_assert_str_eq(r,
        "{\"args\":\"hello  world\",\"n\":0.004}\n\n"
        "{\"error\":\"nope 42\"}\n\n"
        "{\"error\":\"unknown command 'frobnicate' (try help)\"}\n\n"
        "{\"args\":\"\\\"q\\\\\",\"n\":0.004}\n\n"
        "{\"command\":\"echo\",\"help\":\"say the arguments back\"}\n"
        "{\"command\":\"fail\",\"help\":\"always fails\"}\n"
        "{\"command\":\"big\",\"help\":\"answers too much\"}\n"
        "{\"command\":\"help\",\"help\":\"list the commands\"}\n\n"
        "{\"args\":\"last\",\"n\":0.004}\n\n");
    ck_assert_int_eq(calls, 3);
    free(r);
}
END_TEST

START_TEST(bounded_request_and_response)
{
    size_t n = 3 * CONTROL_MAX_LINE;
    char *req = malloc(n + 32), *r;
    ck_assert_ptr_nonnull(req);
    memset(req, 'x', n);
    memcpy(req + n, "\nbig\necho ok\n", 13);
    r = exchange(req, n + 13);
    ck_assert_str_eq(r,
        "{\"error\":\"request line longer than 4096 bytes\"}\n\n"
        "{\"error\":\"response larger than 16 MiB\"}\n\n"
        "{\"args\":\"ok\",\"n\":0.004}\n\n");
    free(r);
    free(req);
}
END_TEST

START_TEST(stale_socket_replaced)
{
    struct sockaddr_un sa;
    char *r;
    int fd;
    snprintf(path, sizeof path, "%s/ctl.sock", dir);
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    close(fd);                   /* the file stays: a dead daemon's */
    r = exchange("echo x\n", 7);
    ck_assert_str_eq(r, "{\"args\":\"x\",\"n\":0.004}\n\n");
    free(r);
}
END_TEST

START_TEST(refusals)
{
    control *a = NULL, *b = NULL;
    char err[256] = "", longp[200];
    struct stat st;
    FILE *f;

    /* A live control socket: the second is refused, the first unharmed. */
    ck_assert_int_eq(control_open(&loop, path, cmds, &calls, &a, err,
                                  sizeof err), 0);
    ck_assert_int_eq(control_open(&loop, path, cmds, &calls, &b, err,
                                  sizeof err), -EADDRINUSE);
    ck_assert_ptr_null(b);
    ck_assert_ptr_nonnull(strstr(err, "another lagranged is listening"));
    ck_assert_int_eq(stat(path, &st), 0);
    control_close(a);
    control_close(a);            /* idempotent */
    ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);

    /* Something else at the path: refused and left alone. */
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("keep\n", f);
    fclose(f);
    ck_assert_int_eq(control_open(&loop, path, cmds, &calls, &b, err,
                                  sizeof err), -EEXIST);
    ck_assert_ptr_nonnull(strstr(err, "is not a socket"));
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert(S_ISREG(st.st_mode));

    /* Longer than sun_path. */
    memset(longp, 'a', sizeof longp - 1);
    longp[0] = '/';
    longp[sizeof longp - 1] = '\0';
    ck_assert_int_eq(control_open(&loop, longp, cmds, &calls, &b, err,
                                  sizeof err), -ENAMETOOLONG);
    ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
}
END_TEST

START_TEST(window_at)
{
    plan_window w[2] = { { 10, 20, 1e6, 0.1 }, { 30, 40, 2e6, 0.2 } };
    plan_link k;
    memset(&k, 0, sizeof k);
    k.win = w;
    k.n_win = 2;
    ck_assert_ptr_eq(report_window_at(&k, -5), &w[0]);
    ck_assert_ptr_eq(report_window_at(&k, 10), &w[0]);
    ck_assert_ptr_eq(report_window_at(&k, 19.999), &w[0]);
    ck_assert_ptr_eq(report_window_at(&k, 20), &w[1]);   /* [start, end) */
    ck_assert_ptr_eq(report_window_at(&k, 25), &w[1]);
    ck_assert_ptr_eq(report_window_at(&k, 39.5), &w[1]);
    ck_assert_ptr_null(report_window_at(&k, 40));
    k.n_win = 0;
    ck_assert_ptr_null(report_window_at(&k, 0));
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("control");
    TCase *tc = tcase_create("control");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, answers_in_order);
    tcase_add_test(tc, bounded_request_and_response);
    tcase_add_test(tc, stale_socket_replaced);
    tcase_add_test(tc, refusals);
    tcase_add_test(tc, window_at);
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
