/*
 * check_sdlisten.c - daemon/sdlisten.c's parser of $LISTEN_PID,
 * $LISTEN_FDS and $LISTEN_FDNAMES (sd_listen_fds(3)): absent variables,
 * another process's pid, counts, names (the one named "api", the only
 * one whatever its name, several without "api"), and garbage: letters,
 * signs, spaces, huge numbers, too many fds, names that do not match the
 * count. sdlisten_take on the environment (nothing passed: nothing
 * taken, the variables unset). The sockets themselves are checked by
 * tests/test_sockact.sh, with systemd-socket-activate.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sdlisten.h"

#define ME 4242L

static char err[512];

static sdlisten ok(const char *pid, const char *fds, const char *names)
{
    sdlisten l;
    err[0] = '\0';
    ck_assert_msg(sdlisten_parse(pid, fds, names, ME, &l, err, sizeof err) ==
                      0, "%s/%s/%s: %s", pid ? pid : "(null)",
                  fds ? fds : "(null)", names ? names : "(null)", err);
    return l;
}

static void bad(const char *pid, const char *fds, const char *names,
                const char *want)
{
    sdlisten l;
    err[0] = '\0';
    ck_assert_int_eq(sdlisten_parse(pid, fds, names, ME, &l, err, sizeof err),
                     -EINVAL);
    ck_assert_msg(strstr(err, want), "'%s' lacks '%s'", err, want);
    ck_assert_int_eq(l.api_fd, -1);
}

START_TEST(nothing_for_us)
{
    sdlisten l = ok(NULL, NULL, NULL);
    ck_assert_int_eq(l.n_fds, 0);
    ck_assert_int_eq(l.api_fd, -1);
    l = ok("", "", "");
    ck_assert_int_eq(l.api_fd, -1);
    /* LISTEN_FDS without LISTEN_PID: not known to be ours. */
    l = ok(NULL, "1", "api");
    ck_assert_int_eq(l.api_fd, -1);
    /* Another process's (a parent that did not unset them). */
    l = ok("4243", "1", "api");
    ck_assert_int_eq(l.n_fds, 0);
    ck_assert_int_eq(l.api_fd, -1);
    /* Ours, but no fds. */
    l = ok("4242", NULL, NULL);
    ck_assert_int_eq(l.api_fd, -1);
    l = ok("4242", "0", NULL);
    ck_assert_int_eq(l.api_fd, -1);
}
END_TEST

START_TEST(one_fd)
{
    sdlisten l = ok("4242", "1", NULL);
    ck_assert_int_eq(l.n_fds, 1);
    ck_assert_int_eq(l.api_fd, 3);
    ck_assert_str_eq(l.api_name, "");
    l = ok("4242", "1", "api");
    ck_assert_int_eq(l.api_fd, 3);
    ck_assert_str_eq(l.api_name, "api");
    /* The only one, whatever systemd named it (by default the .socket
     * unit's name). */
    l = ok("4242", "1", "lagranged-api.socket");
    ck_assert_int_eq(l.api_fd, 3);
    ck_assert_str_eq(l.api_name, "lagranged-api.socket");
}
END_TEST

START_TEST(named_among_several)
{
    sdlisten l = ok("4242", "3", "metrics:api:other");
    ck_assert_int_eq(l.n_fds, 3);
    ck_assert_int_eq(l.api_fd, 4);
    ck_assert_str_eq(l.api_name, "api");
    l = ok("4242", "2", "api:x");
    ck_assert_int_eq(l.api_fd, 3);
    l = ok("4242", "2", ":api");  /* an empty name is a name */
    ck_assert_int_eq(l.api_fd, 4);
    /* "api" must be the whole name. */
    bad("4242", "2", "apix:xapi", "none is named 'api'");
    bad("4242", "2", NULL, "systemd passed 2 sockets and none is named");
    bad("4242", "2", "api:api", "'api' names both fd 3 and fd 4");
}
END_TEST

START_TEST(garbage)
{
    char big[400];
    bad("abc", "1", NULL, "LISTEN_PID='abc' is not a process id");
    bad("-4242", "1", NULL, "is not a process id");
    bad("0", "1", NULL, "is not a process id");
    bad(" 4242", "1", NULL, "is not a process id");
    bad("4242x", "1", NULL, "is not a process id");
    bad("99999999999999999999999", "1", NULL, "is not a process id");
    bad("4242", "abc", NULL, "LISTEN_FDS='abc' is not a number");
    bad("4242", "-1", NULL, "is not a number");
    bad("4242", "1 ", NULL, "is not a number");
    bad("4242", "+1", NULL, "is not a number");
    bad("4242", "18446744073709551617", NULL, "is not a number");
    bad("4242", "2147483647", NULL, "LISTEN_FDS=2147483647: more than");
    bad("4242", "65", NULL, "more than the 64 sockets");
    bad("4242", "1", "a:b", "LISTEN_FDNAMES names 2 sockets but "
        "LISTEN_FDS=1");
    bad("4242", "3", "api", "names 1 socket but LISTEN_FDS=3");
    memset(big, 'n', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    bad("4242", "1", big, "longer than 255 bytes");
    /* Many names, bounded whatever their count. */
    {
        char many[1000] = "";
        for (int i = 0; i < 200; i++)
            strcat(many, "a:");
        strcat(many, "api");
        bad("4242", "64", many, "LISTEN_FDNAMES names");
    }
}
END_TEST

START_TEST(take_unsets)
{
    sdlisten l;
    char pid[32];
    /* Another pid's: nothing taken, and the variables are gone. */
    snprintf(pid, sizeof pid, "%ld", (long)getpid() + 1);
    setenv("LISTEN_PID", pid, 1);
    setenv("LISTEN_FDS", "1", 1);
    setenv("LISTEN_FDNAMES", "api", 1);
    ck_assert_int_eq(sdlisten_take(&l, err, sizeof err), 0);
    ck_assert_int_eq(l.api_fd, -1);
    ck_assert_ptr_null(getenv("LISTEN_PID"));
    ck_assert_ptr_null(getenv("LISTEN_FDS"));
    ck_assert_ptr_null(getenv("LISTEN_FDNAMES"));
    /* Garbage: an error, and unset all the same. */
    setenv("LISTEN_PID", "x", 1);
    setenv("LISTEN_FDS", "1", 1);
    ck_assert_int_eq(sdlisten_take(&l, err, sizeof err), -EINVAL);
    ck_assert_ptr_null(getenv("LISTEN_PID"));
    ck_assert_ptr_null(getenv("LISTEN_FDS"));
    /* None at all. */
    ck_assert_int_eq(sdlisten_take(&l, err, sizeof err), 0);
    ck_assert_int_eq(l.api_fd, -1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("sdlisten");
    TCase *tc = tcase_create("core");
    SRunner *sr;
    int nf;
    tcase_add_test(tc, nothing_for_us);
    tcase_add_test(tc, one_fd);
    tcase_add_test(tc, named_among_several);
    tcase_add_test(tc, garbage);
    tcase_add_test(tc, take_unsets);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    nf = srunner_ntests_failed(sr);
    srunner_free(sr);
    return nf ? EXIT_FAILURE : EXIT_SUCCESS;
}
