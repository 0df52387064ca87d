/*
 * check_eventq.c - unit tests for lib/store/eventq.c: the durable queue
 * of webhook deliveries.
 *
 *  - round trip: add, reopen, the same deliveries with their headers and
 *    bodies; reschedule is seen after a reopen; done removes the file;
 *    a second add of (id, url) is -EEXIST; the name is ID-URLHASH.ev;
 *  - bad arguments (id, event name, URL, body size) are -EINVAL and leave
 *    nothing;
 *  - the bound: add beyond max is -ENOSPC and writes nothing; a reopen
 *    with a smaller max keeps the rest on disk (warned) and a larger one
 *    takes them again;
 *  - damage: a truncated file, a flipped body byte, a bad header line, a
 *    file renamed to another id, an empty file are each set aside as
 *    NAME.bad with a warning naming them; .tmp-* leftovers are removed;
 *    other files are left alone; eventq_body of a file changed under the
 *    queue is LG_EMODEL;
 *  - a second open of the same directory is refused (flock);
 *  - kill -9: a child adds deliveries (and reschedules and removes some),
 *    reporting through a pipe after each call returns; it is killed at
 *    random moments, 10 times on the same directory. Every reopen finds
 *    no damaged file and no temp file, every add that returned (and was
 *    not removed) is there with its body whole.
 *
 * Each test works in its own directory under /tmp and removes it.
 */
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "eventq.h"
#include "lgerr.h"

static char err[1024];
static char dir[256];
static char qdir[300];
static char warns[8192];
static int n_warns;

static void on_warn(void *arg, const char *msg)
{
    (void)arg;
    n_warns++;
    strncat(warns, msg, sizeof warns - strlen(warns) - 2);
    strcat(warns, "\n");
}

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/check_eventq.%d.XXXXXX", (int)getpid());
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(qdir, sizeof qdir, "%s/events", dir);
    warns[0] = '\0';
    n_warns = 0;
}

static void teardown(void)
{
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

static eventq *q_open(uint32_t max)
{
    eventq *q = NULL;
    int rc = eventq_open(qdir, max, on_warn, NULL, &q, err, sizeof err);
    ck_assert_msg(rc == 0, "eventq_open: %d %s", rc, err);
    return q;
}

static void mkid(char *id, unsigned k)
{
    snprintf(id, EVENTQ_ID_LEN + 1, "%032x", k);
}

static eventq_item *find(eventq *q, const char *id, const char *url)
{
    for (int i = 0; i < eventq_count(q); i++) {
        eventq_item *it = eventq_get(q, i);
        if (!strcmp(it->id, id) && !strcmp(it->url, url))
            return it;
    }
    return NULL;
}

static int exists(const char *name)
{
    char p[600];
    struct stat st;
    snprintf(p, sizeof p, "%s/%s", qdir, name);
    return stat(p, &st) == 0;
}

static int count_files(const char *suffix)
{
    char cmd[600];
    FILE *f;
    int n = -1;
    snprintf(cmd, sizeof cmd, "ls -a '%s' | grep -c -- '%s' || true", qdir,
             suffix);
    f = popen(cmd, "r");
    if (f) {
        if (fscanf(f, "%d", &n) != 1)
            n = -1;
        pclose(f);
    }
    return n;
}

static const char *U1 = "https://hooks.example.com/x";
static const char *U2 = "http://127.0.0.1:8080/y?z=1";

START_TEST(round_trip)
{
    eventq *q = q_open(0);
    eventq_item *it, *it2;
    char id[40], name[EVENTQ_NAME_MAX], *body;
    size_t len;
    const char *b1 = "{\"id\":\"1\",\"event\":\"job.completed\"}";
    mkid(id, 1);
    ck_assert_int_eq(eventq_count(q), 0);
    ck_assert_int_eq(eventq_add(q, id, "job.completed", U1, b1, strlen(b1),
                                1000, &it, err, sizeof err), 0);
    ck_assert_int_eq(eventq_add(q, id, "job.completed", U2, b1, strlen(b1),
                                1000, &it2, err, sizeof err), 0);
    ck_assert_int_eq(eventq_add(q, id, "job.completed", U1, b1, strlen(b1),
                                1000, NULL, err, sizeof err), -EEXIST);
    ck_assert_int_eq(eventq_count(q), 2);
    eventq_name(id, U1, name, sizeof name);
    ck_assert_str_eq(it->name, name);
    ck_assert_int_eq((int)strlen(name), 32 + 1 + 16 + 3);
    ck_assert(exists(name));
    ck_assert_int_eq(eventq_reschedule(q, it2, 3, 5000, err, sizeof err), 0);
    eventq_close(q);

    q = q_open(0);
    ck_assert_int_eq(eventq_count(q), 2);
    ck_assert_int_eq(n_warns, 0);
    it = find(q, id, U1);
    it2 = find(q, id, U2);
    ck_assert_ptr_nonnull(it);
    ck_assert_ptr_nonnull(it2);
    ck_assert_str_eq(it->event, "job.completed");
    ck_assert_uint_eq(it->created_ms, 1000);
    ck_assert_uint_eq(it->next_ms, 1000);
    ck_assert_uint_eq(it->attempts, 0);
    ck_assert_uint_eq(it2->attempts, 3);
    ck_assert_uint_eq(it2->next_ms, 5000);
    ck_assert_uint_eq(it2->created_ms, 1000);
    ck_assert_int_eq(eventq_body(q, it2, &body, &len, err, sizeof err), 0);
    ck_assert_uint_eq(len, strlen(b1));
    ck_assert_str_eq(body, b1);
    free(body);
    ck_assert_int_eq(eventq_done(q, it, err, sizeof err), 0);
    ck_assert(!exists(name));
    ck_assert_int_eq(eventq_count(q), 1);
    ck_assert_ptr_eq(eventq_get(q, 0), it2);
    ck_assert_ptr_null(eventq_get(q, 1));
    /* an empty body is a body */
    mkid(id, 2);
    ck_assert_int_eq(eventq_add(q, id, "node.dead", U1, "", 0, 7, &it, err,
                                sizeof err), 0);
    ck_assert_int_eq(eventq_body(q, it, &body, &len, err, sizeof err), 0);
    ck_assert_uint_eq(len, 0);
    free(body);
    eventq_close(q);
    q = q_open(0);
    ck_assert_int_eq(eventq_count(q), 2);
    eventq_close(q);
}
END_TEST

START_TEST(bad_args)
{
    eventq *q = q_open(0);
    char id[40], *big;
    mkid(id, 1);
    ck_assert_int_eq(eventq_add(q, "ABC", "job.failed", U1, "{}", 2, 1, NULL,
                                err, sizeof err), -EINVAL);
    ck_assert_int_eq(eventq_add(q, "0123456789ABCDEF0123456789ABCDEF",
                                "job.failed", U1, "{}", 2, 1, NULL, err,
                                sizeof err), -EINVAL);
    ck_assert_int_eq(eventq_add(q, id, "Job Failed", U1, "{}", 2, 1, NULL, err,
                                sizeof err), -EINVAL);
    ck_assert_int_eq(eventq_add(q, id, "", U1, "{}", 2, 1, NULL, err,
                                sizeof err), -EINVAL);
    ck_assert_int_eq(eventq_add(q, id, "job.failed", "http://a/\nb", "{}", 2,
                                1, NULL, err, sizeof err), -EINVAL);
    ck_assert_int_eq(eventq_add(q, id, "job.failed", "", "{}", 2, 1, NULL, err,
                                sizeof err), -EINVAL);
    big = calloc(1, EVENTQ_BODY_MAX + 2);
    ck_assert_ptr_nonnull(big);
    memset(big, 'x', EVENTQ_BODY_MAX + 1);
    ck_assert_int_eq(eventq_add(q, id, "job.failed", U1, big,
                                EVENTQ_BODY_MAX + 1, 1, NULL, err, sizeof err),
                     -EINVAL);
    ck_assert_int_eq(eventq_add(q, id, "job.failed", U1, big, EVENTQ_BODY_MAX,
                                1, NULL, err, sizeof err), 0);
    free(big);
    ck_assert_int_eq(eventq_count(q), 1);
    ck_assert_int_eq(count_files(".ev"), 1);
    ck_assert_int_eq(count_files("tmp"), 0);
    eventq_close(q);
}
END_TEST

START_TEST(bounded)
{
    eventq *q = q_open(5);
    char id[40];
    for (unsigned k = 0; k < 5; k++) {
        mkid(id, k);
        ck_assert_int_eq(eventq_add(q, id, "job.completed", U1, "{}", 2, 1,
                                    NULL, err, sizeof err), 0);
    }
    mkid(id, 99);
    ck_assert_int_eq(eventq_add(q, id, "job.completed", U1, "{}", 2, 1, NULL,
                                err, sizeof err), -ENOSPC);
    ck_assert_msg(strstr(err, "holds 5 deliveries"), "%s", err);
    ck_assert_int_eq(count_files(".ev"), 5);
    eventq_close(q);
    /* smaller: the rest stays on disk, said once */
    q = q_open(3);
    ck_assert_int_eq(eventq_count(q), 3);
    ck_assert_int_eq(n_warns, 1);
    ck_assert_msg(strstr(warns, "more than 3 deliveries"), "%s", warns);
    eventq_close(q);
    ck_assert_int_eq(count_files(".ev"), 5);
    q = q_open(10);
    ck_assert_int_eq(eventq_count(q), 5);
    eventq_close(q);
}
END_TEST

static void write_raw(const char *name, const char *text, size_t len)
{
    char p[600];
    FILE *f;
    snprintf(p, sizeof p, "%s/%s", qdir, name);
    ck_assert_ptr_nonnull(f = fopen(p, "wb"));
    ck_assert_uint_eq(fwrite(text, 1, len, f), len);
    fclose(f);
}

static char *read_raw(const char *name, size_t *len)
{
    char p[600], *b = malloc(1 << 17);
    FILE *f;
    snprintf(p, sizeof p, "%s/%s", qdir, name);
    ck_assert_ptr_nonnull(b);
    ck_assert_ptr_nonnull(f = fopen(p, "rb"));
    *len = fread(b, 1, 1 << 17, f);
    fclose(f);
    return b;
}

START_TEST(damage)
{
    eventq *q = q_open(0);
    eventq_item *it;
    char id[40], names[6][EVENTQ_NAME_MAX], *t, *body;
    size_t len, blen;
    const char *b = "{\"hello\":\"world\"}";
    for (unsigned k = 0; k < 6; k++) {
        mkid(id, k);
        ck_assert_int_eq(eventq_add(q, id, "job.expired", U1, b, strlen(b),
                                    1, &it, err, sizeof err), 0);
        snprintf(names[k], sizeof names[k], "%s", it->name);
    }
    eventq_close(q);
    /* 0: truncated; 1: a body byte flipped; 2: a bad header line; 3: the
     * content of another id; 4: empty; 5: left whole */
    t = read_raw(names[0], &len);
    write_raw(names[0], t, len - 3);
    free(t);
    t = read_raw(names[1], &len);
    t[len - 2] ^= 1;
    write_raw(names[1], t, len);
    free(t);
    t = read_raw(names[2], &len);
    memcpy(strstr(t, "attempts=") , "attempts=x", 10);
    write_raw(names[2], t, len);
    free(t);
    t = read_raw(names[5], &len);
    write_raw(names[3], t, len);
    free(t);
    write_raw(names[4], "", 0);
    write_raw(".tmp-0000.ev", "half", 4);
    write_raw("README", "not ours", 8);
    q = q_open(0);
    ck_assert_int_eq(eventq_count(q), 1);
    ck_assert_int_eq(n_warns, 5);
    for (int k = 0; k < 5; k++) {
        char bad[EVENTQ_NAME_MAX + 8];
        snprintf(bad, sizeof bad, "%.60s.bad", names[k]);
        ck_assert_msg(exists(bad), "%s not set aside", names[k]);
        ck_assert_msg(strstr(warns, bad), "%s", warns);
    }
    ck_assert_msg(strstr(warns, "checksum"), "%s", warns);
    ck_assert_msg(strstr(warns, "bad created, attempts"), "%s", warns);
    ck_assert_msg(strstr(warns, "make the name"), "%s", warns);
    ck_assert(!exists(".tmp-0000.ev"));
    ck_assert(exists("README"));
    /* changed under the queue */
    it = eventq_get(q, 0);
    ck_assert_int_eq(eventq_body(q, it, &body, &blen, err, sizeof err), 0);
    free(body);
    t = read_raw(it->name, &len);
    t[len - 2] ^= 1;
    write_raw(it->name, t, len);
    free(t);
    ck_assert_int_eq(eventq_body(q, it, &body, &blen, err, sizeof err),
                     LG_EMODEL);
    ck_assert_ptr_null(body);
    eventq_close(q);
    /* a reopen does not touch the .bad files again */
    n_warns = 0;
    warns[0] = '\0';
    q = q_open(0);
    ck_assert_int_eq(n_warns, 1);
    ck_assert_int_eq(eventq_count(q), 0);
    eventq_close(q);
}
END_TEST

START_TEST(locked)
{
    eventq *q = q_open(0), *q2 = NULL;
    ck_assert_int_eq(eventq_open(qdir, 0, on_warn, NULL, &q2, err,
                                 sizeof err), -EBUSY);
    ck_assert_ptr_null(q2);
    eventq_close(q);
    q = q_open(0);
    eventq_close(q);
}
END_TEST

/* ---------------------------------------------------------------- kill -9 */

#define CRASH_ROUNDS 10
#define CRASH_MAX 4000

/* The body of delivery k: its number, repeated to a length that varies. */
static size_t crash_body(unsigned k, char *buf, size_t cap)
{
    size_t n = 0, want = 20 + (k * 7919u) % 3000;
    while (n + 16 < want && n + 16 < cap)
        n += (size_t)snprintf(buf + n, cap - n, "[%u]", k);
    return n;
}

/* Child: add k = start.., reschedule every 3rd, remove every 5th; "a K\n"
 * after an add returns, "d K\n" before a remove starts. */
static void crash_child(unsigned start, int pfd)
{
    eventq *q = NULL;
    char id[40], body[4096], line[32];
    if (eventq_open(qdir, 0, NULL, NULL, &q, err, sizeof err) < 0)
        _exit(3);
    for (unsigned k = start; k < CRASH_MAX; k++) {
        eventq_item *it;
        size_t n = crash_body(k, body, sizeof body);
        int m;
        mkid(id, k);
        if (eventq_add(q, id, "job.completed", U1, body, n, k, &it, err,
                       sizeof err) < 0)
            _exit(4);
        m = snprintf(line, sizeof line, "a %u\n", k);
        if (write(pfd, line, (size_t)m) != m)
            _exit(5);
        if (k % 3 == 0 &&
            eventq_reschedule(q, it, 1, k + 1000, err, sizeof err) < 0)
            _exit(6);
        if (k % 5 == 0) {
            m = snprintf(line, sizeof line, "d %u\n", k);
            if (write(pfd, line, (size_t)m) != m)
                _exit(7);
            if (eventq_done(q, it, err, sizeof err) < 0)
                _exit(8);
        }
    }
    _exit(0);
}

START_TEST(kill9)
{
    static unsigned char added[CRASH_MAX], removing[CRASH_MAX];
    unsigned next = 0;
    srand((unsigned)time(NULL) ^ (unsigned)getpid());
    memset(added, 0, sizeof added);
    memset(removing, 0, sizeof removing);
    for (int round = 0; round < CRASH_ROUNDS && next < CRASH_MAX; round++) {
        int p[2], status;
        pid_t pid;
        char buf[65536], *s;
        size_t have = 0;
        ssize_t r;
        eventq *q;
        struct timespec ts = { 0, (long)(5 + rand() % 60) * 1000000L };
        ck_assert_int_eq(pipe(p), 0);
        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
            close(p[0]);
            crash_child(next, p[1]);
        }
        close(p[1]);
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        while ((r = read(p[0], buf + have, sizeof buf - 1 - have)) > 0)
            have += (size_t)r;
        buf[have] = '\0';
        close(p[0]);
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert_msg(WIFSIGNALED(status) || WEXITSTATUS(status) == 0,
                      "child exited %d", WEXITSTATUS(status));
        for (s = buf; *s;) {
            char *nl = strchr(s, '\n');
            unsigned k;
            if (!nl)
                break;        /* a line cut by the kill */
            if (sscanf(s, "a %u", &k) == 1 && k < CRASH_MAX) {
                added[k] = 1;
                if (k + 1 > next)
                    next = k + 1;
            } else if (sscanf(s, "d %u", &k) == 1 && k < CRASH_MAX) {
                removing[k] = 1;
            }
            s = nl + 1;
        }
        /* an add the kill interrupted may or may not be there: skip its k */
        next++;
        n_warns = 0;
        warns[0] = '\0';
        q = q_open(0);
        ck_assert_msg(n_warns == 0, "round %d: %s", round, warns);
        ck_assert_int_eq(count_files("tmp"), 0);
        ck_assert_int_eq(count_files(".bad"), 0);
        for (unsigned k = 0; k < next && k < CRASH_MAX; k++) {
            char id[40], want[4096], *body;
            size_t n, len;
            eventq_item *it;
            mkid(id, k);
            it = find(q, id, U1);
            if (added[k] && !removing[k])
                ck_assert_msg(it != NULL, "round %d: delivery %u lost", round,
                              k);
            if (removing[k] && k + 1 < next - 1 && it)
                ck_assert_msg(0, "round %d: %u removed, back", round, k);
            if (!it)
                continue;
            n = crash_body(k, want, sizeof want);
            ck_assert_int_eq(eventq_body(q, it, &body, &len, err, sizeof err),
                             0);
            ck_assert_uint_eq(len, n);
            ck_assert(memcmp(body, want, n) == 0);
            free(body);
            ck_assert_uint_eq(it->created_ms, k);
            ck_assert(it->attempts == 0 || (k % 3 == 0 && it->attempts == 1 &&
                                            it->next_ms == k + 1000));
        }
        eventq_close(q);
    }
    ck_assert_uint_gt(next, 20);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("eventq");
    TCase *t = tcase_create("eventq");
    SRunner *sr;
    int nf;
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_set_timeout(t, 120);
    tcase_add_test(t, round_trip);
    tcase_add_test(t, bad_args);
    tcase_add_test(t, bounded);
    tcase_add_test(t, damage);
    tcase_add_test(t, locked);
    tcase_add_test(t, kill9);
    suite_add_tcase(s, t);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    nf = srunner_ntests_failed(sr);
    srunner_free(sr);
    return nf == 0 ? 0 : 1;
}
