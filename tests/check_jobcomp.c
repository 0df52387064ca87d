/*
 * check_jobcomp.c - daemon/jobcomp.c, the job completion log: the line
 * (every field, "-" for what is absent, quoting and escapes, long values
 * cut, times in UTC with milliseconds, Elapsed), the buffer bound; the
 * file: created 0640 with its directory, appended to, reopened after a
 * move (logrotate), a path that cannot be opened (the error names it,
 * each write tries again), none.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jobcomp.h"

static char err[512];

static jobcomp_rec rec(void)
{
    jobcomp_rec r;
    memset(&r, 0, sizeof r);
    r.id = "j0123456789ab";
    r.name = "nightly";
    r.model_name = "resnet";
    r.model_id = "3f2a9c01d4e5aa00112233445566778899aabbccddeeff00112233445566";
    r.state = "COMPLETED";
    r.reason = "";
    r.node = "gs-mad";
    r.submit_ms = 1714564800123ull;     /* 2024-05-01T12:00:00.123Z */
    r.start_ms = 1714564800200ull;
    r.end_ms = 1714564801450ull;
    r.attempts = 1;
    return r;
}

static const char *fmt(const jobcomp_rec *r)
{
    static char buf[JOBCOMP_LINE_MAX];
    int n = jobcomp_format(r, buf, sizeof buf);
    ck_assert_int_gt(n, 0);
    ck_assert_uint_eq((size_t)n, strlen(buf));
    ck_assert_int_eq(buf[n - 1], '\n');
    ck_assert_ptr_null(memchr(buf, '\n', (size_t)n - 1));
    return buf;
}

START_TEST(line_fields)
{
    jobcomp_rec r = rec();
    ck_assert_str_eq(fmt(&r),
        "JobId=j0123456789ab Name=nightly Model=resnet@3f2a9c01d4e5 "
        "State=COMPLETED Reason=- Submit=2024-05-01T12:00:00.123Z "
        "Start=2024-05-01T12:00:00.200Z End=2024-05-01T12:00:01.450Z "
        "Elapsed=1.250 Node=gs-mad Attempts=1\n");
    /* Never ran: Start "-", Elapsed 0; no name. */
    r.name = NULL;
    r.start_ms = 0;
    r.state = "CANCELLED";
    r.reason = "cancelled by request";
    r.attempts = 0;
    ck_assert_str_eq(fmt(&r),
        "JobId=j0123456789ab Name=- Model=resnet@3f2a9c01d4e5 "
        "State=CANCELLED Reason=\"cancelled by request\" "
        "Submit=2024-05-01T12:00:00.123Z Start=- "
        "End=2024-05-01T12:00:01.450Z Elapsed=0.000 Node=gs-mad "
        "Attempts=0\n");
}
END_TEST

START_TEST(quoting)
{
    jobcomp_rec r = rec();
    const char *l;
    r.reason = "bad \"x\"\\y=1\n\tz\001";
    l = fmt(&r);
    ck_assert_ptr_nonnull(strstr(l, " Reason=\"bad \\\"x\\\"\\\\y=1\\n\\tz"
                                    "\\x01\" Submit="));
    r.reason = "-";              /* not the same as no reason */
    ck_assert_ptr_nonnull(strstr(fmt(&r), " Reason=\"-\" "));
    r.reason = "a=b";
    ck_assert_ptr_nonnull(strstr(fmt(&r), " Reason=\"a=b\" "));
    r.reason = "caf\xc3\xa9";    /* UTF-8 passes */
    ck_assert_ptr_nonnull(strstr(fmt(&r), " Reason=caf\xc3\xa9 "));
    r.model_name = "";
    r.model_id = NULL;
    ck_assert_ptr_nonnull(strstr(fmt(&r), " Model=-@- "));
}
END_TEST

START_TEST(bounds)
{
    jobcomp_rec r = rec();
    char big[3000], buf[JOBCOMP_LINE_MAX], small[40];
    const char *l;
    /* The worst value: every byte escaped to 4, cut at the field bound. */
    memset(big, 1, sizeof big - 1);
    big[sizeof big - 1] = '\0';
    r.reason = big;
    ck_assert_int_gt(jobcomp_format(&r, buf, sizeof buf), 0);
    ck_assert_ptr_nonnull(strstr(buf, "\\x01...\" Submit="));
    memset(big, 'x', sizeof big - 1);
    l = fmt(&r);
    ck_assert_ptr_nonnull(strstr(l, "xxx... Submit="));
    /* Too small a buffer: refused, still a string. */
    ck_assert_int_eq(jobcomp_format(&r, small, sizeof small), -ENOSPC);
    ck_assert_uint_lt(strlen(small), sizeof small);
    /* The last second ISO 8601 has four digits for. */
    r = rec();
    r.end_ms = 253402300799999ull;  /* 9999-12-31T23:59:59.999Z */
    ck_assert_ptr_nonnull(strstr(fmt(&r), " End=9999-12-31T23:59:59.999Z "));
}
END_TEST

static char dir[64];

static void mkdir_tmp(void)
{
    snprintf(dir, sizeof dir, "/tmp/check_jobcomp.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static char *slurp(const char *path)
{
    static char buf[8192];
    FILE *f = fopen(path, "r");
    size_t n;
    ck_assert_ptr_nonnull(f);
    n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

START_TEST(file_append_reopen)
{
    jobcomp jc;
    char path[128], moved[128], cmd[160];
    struct stat st;
    mode_t old = umask(0);
    mkdir_tmp();
    snprintf(path, sizeof path, "%s/log/sub/jobcomp.log", dir);
    snprintf(moved, sizeof moved, "%s/log/sub/jobcomp.log.1", dir);
    jobcomp_init(&jc);
    /* Nothing configured: writes are no-ops. */
    ck_assert_int_eq(jobcomp_write(&jc, "x\n", 2, err, sizeof err), 0);
    ck_assert_int_eq(jobcomp_open(&jc, path, err, sizeof err), 0);
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_uint_eq(st.st_mode & 0777, 0640);
    ck_assert_int_eq(jobcomp_write(&jc, "one\n", 4, err, sizeof err), 0);
    ck_assert_int_eq(jobcomp_write(&jc, "two\n", 4, err, sizeof err), 0);
    ck_assert_str_eq(slurp(path), "one\ntwo\n");
    /* logrotate: move, then SIGHUP's reopen makes a new file. */
    ck_assert_int_eq(rename(path, moved), 0);
    ck_assert_int_eq(jobcomp_write(&jc, "three\n", 6, err, sizeof err), 0);
    ck_assert_int_eq(jobcomp_open(&jc, path, err, sizeof err), 0);
    ck_assert_int_eq(jobcomp_write(&jc, "four\n", 5, err, sizeof err), 0);
    ck_assert_str_eq(slurp(moved), "one\ntwo\nthree\n");
    ck_assert_str_eq(slurp(path), "four\n");
    /* Reopening the same file appends. */
    ck_assert_int_eq(jobcomp_open(&jc, path, err, sizeof err), 0);
    ck_assert_int_eq(jobcomp_write(&jc, "five\n", 5, err, sizeof err), 0);
    ck_assert_str_eq(slurp(path), "four\nfive\n");
    /* none: closed, writes are no-ops. */
    ck_assert_int_eq(jobcomp_open(&jc, NULL, err, sizeof err), 0);
    ck_assert_int_eq(jc.fd, -1);
    ck_assert_int_eq(jobcomp_write(&jc, "six\n", 4, err, sizeof err), 0);
    ck_assert_str_eq(slurp(path), "four\nfive\n");
    jobcomp_close(&jc);
    umask(old);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

START_TEST(file_errors)
{
    jobcomp jc;
    char path[128], file[128], cmd[160];
    FILE *f;
    mkdir_tmp();
    /* Under a regular file: cannot be made; the error names it, and a
     * write tries again (and fails again, naming it). */
    snprintf(file, sizeof file, "%s/plain", dir);
    ck_assert_ptr_nonnull(f = fopen(file, "w"));
    fclose(f);
    snprintf(path, sizeof path, "%s/plain/jobcomp.log", dir);
    jobcomp_init(&jc);
    ck_assert_int_eq(jobcomp_open(&jc, path, err, sizeof err), -ENOTDIR);
    ck_assert_msg(strstr(err, "JobCompLog ") && strstr(err, path) &&
                      strstr(err, "Not a directory"), "%s", err);
    err[0] = '\0';
    ck_assert_int_eq(jobcomp_write(&jc, "x\n", 2, err, sizeof err),
                     -ENOTDIR);
    ck_assert_ptr_nonnull(strstr(err, path));
    /* Once it can be opened, the next write does. */
    ck_assert_int_eq(unlink(file), 0);
    ck_assert_int_eq(jobcomp_write(&jc, "x\n", 2, err, sizeof err), 0);
    ck_assert_str_eq(slurp(path), "x\n");
    /* A directory where the file should be. */
    ck_assert_int_eq(jobcomp_open(&jc, dir, err, sizeof err), -EISDIR);
    ck_assert_ptr_nonnull(strstr(err, dir));
    jobcomp_close(&jc);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("jobcomp");
    TCase *tc = tcase_create("core");
    SRunner *sr;
    int nf;
    tcase_add_test(tc, line_fields);
    tcase_add_test(tc, quoting);
    tcase_add_test(tc, bounds);
    tcase_add_test(tc, file_append_reopen);
    tcase_add_test(tc, file_errors);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    nf = srunner_ntests_failed(sr);
    srunner_free(sr);
    return nf ? EXIT_FAILURE : EXIT_SUCCESS;
}
