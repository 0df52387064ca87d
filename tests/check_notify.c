/*
 * check_notify.c - daemon/notify.c against a real AF_UNIX datagram socket
 * standing in for systemd: what arrives is what sd_notify(3) would send;
 * $NOTIFY_SOCKET as a path and as an abstract name; the watchdog interval
 * only for our own pid; the variables unset for children; no socket, no
 * messages and no error; a bad socket name refused.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "notify.h"

static char err[512];

/* A datagram socket bound at name ("@x": abstract). */
static int listener(const char *name)
{
    struct sockaddr_un sa;
    size_t n = strlen(name);
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(fd, 0);
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, name, n);
    if (name[0] == '@')
        sa.sun_path[0] = '\0';
    else
        unlink(name);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa,
                          (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
                                      n)), 0);
    return fd;
}

static void recv_is(int fd, const char *want)
{
    char buf[NOTIFY_MAX + 1];
    ssize_t r = recv(fd, buf, sizeof buf - 1, MSG_DONTWAIT);
    ck_assert_msg(r >= 0, "nothing received, wanted '%s'", want);
    buf[r] = '\0';
    ck_assert_str_eq(buf, want);
}

START_TEST(test_path_socket)
{
    char path[64], pid[32];
    notify n;
    int fd;
    snprintf(path, sizeof path, "/tmp/check_notify.%ld", (long)getpid());
    fd = listener(path);
    snprintf(pid, sizeof pid, "%ld", (long)getpid());
    setenv("NOTIFY_SOCKET", path, 1);
    setenv("WATCHDOG_USEC", "30000000", 1);
    setenv("WATCHDOG_PID", pid, 1);
    ck_assert_int_eq(notify_open(&n, err, sizeof err), 0);
    ck_assert(notify_active(&n));
    ck_assert_uint_eq(notify_watchdog_usec(&n), 30000000);
    /* Children must not speak for us. */
    ck_assert_ptr_null(getenv("NOTIFY_SOCKET"));
    ck_assert_ptr_null(getenv("WATCHDOG_USEC"));
    ck_assert_ptr_null(getenv("WATCHDOG_PID"));
    ck_assert_int_eq(notify_send(&n, "READY=1"), 0);
    recv_is(fd, "READY=1");
    ck_assert_int_eq(notify_sendf(&n, "STATUS=%d links up", 3), 0);
    recv_is(fd, "STATUS=3 links up");
    ck_assert_int_eq(notify_send(&n, "RELOADING=1\nMONOTONIC_USEC=42"), 0);
    recv_is(fd, "RELOADING=1\nMONOTONIC_USEC=42");
    ck_assert_int_eq(notify_send(&n, "WATCHDOG=1"), 0);
    recv_is(fd, "WATCHDOG=1");
    ck_assert_int_eq(notify_send(&n, "STOPPING=1"), 0);
    recv_is(fd, "STOPPING=1");
    notify_close(&n);
    ck_assert(!notify_active(&n));
    ck_assert_int_eq(notify_send(&n, "READY=1"), 0);   /* closed: no-op */
    close(fd);
    unlink(path);
}
END_TEST

START_TEST(test_abstract_socket)
{
    char name[64];
    notify n;
    int fd;
    snprintf(name, sizeof name, "@check_notify.%ld", (long)getpid());
    fd = listener(name);
    setenv("NOTIFY_SOCKET", name, 1);
    setenv("WATCHDOG_USEC", "1000000", 1);
    setenv("WATCHDOG_PID", "1", 1);      /* another process's watchdog */
    ck_assert_int_eq(notify_open(&n, err, sizeof err), 0);
    ck_assert_uint_eq(notify_watchdog_usec(&n), 0);
    ck_assert_int_eq(notify_send(&n, "READY=1"), 0);
    recv_is(fd, "READY=1");
    notify_close(&n);
    close(fd);
}
END_TEST

START_TEST(test_no_socket)
{
    notify n;
    unsetenv("NOTIFY_SOCKET");
    setenv("WATCHDOG_USEC", "1000000", 1);
    ck_assert_int_eq(notify_open(&n, err, sizeof err), 0);
    ck_assert(!notify_active(&n));
    ck_assert_uint_eq(notify_watchdog_usec(&n), 0);
    ck_assert_ptr_null(getenv("WATCHDOG_USEC"));
    ck_assert_int_eq(notify_send(&n, "READY=1"), 0);
    ck_assert_int_eq(notify_sendf(&n, "STATUS=%s", "x"), 0);
    notify_close(&n);
}
END_TEST

START_TEST(test_bad_socket)
{
    notify n;
    setenv("NOTIFY_SOCKET", "relative/path", 1);
    ck_assert_int_lt(notify_open(&n, err, sizeof err), 0);
    ck_assert_msg(strstr(err, "NOTIFY_SOCKET") != NULL, "%s", err);
    ck_assert(!notify_active(&n));
    /* A socket nobody listens on: the send fails, nothing crashes. */
    setenv("NOTIFY_SOCKET", "/nonexistent/notify.sock", 1);
    ck_assert_int_eq(notify_open(&n, err, sizeof err), 0);
    ck_assert_int_lt(notify_send(&n, "READY=1"), 0);
    notify_close(&n);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("notify");
    TCase *tc = tcase_create("notify");
    SRunner *sr;
    int failed;
    tcase_add_test(tc, test_path_socket);
    tcase_add_test(tc, test_abstract_socket);
    tcase_add_test(tc, test_no_socket);
    tcase_add_test(tc, test_bad_socket);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
