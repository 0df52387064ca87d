/*
 * spool_crash.c - kill -9 test of lib/store/spool.c. check_spool's
 * crash_kill9 runs it; run it alone for a longer soak.
 *
 * usage: spool_crash [-n ITERS] [-s SEED] [-v] DIR
 *   DIR is created and removed (its contents are replaced each iteration).
 *   Exit 0 when every check passed, 1 on a failed check, 2 on usage.
 *   Run with no arguments it prints usage and exits 77 (automake's SKIP).
 *
 * Each iteration forks a child that opens the spool in DIR and ingests a
 * fixed stream of NB bundles (content, sizes and ids derived from SEED and
 * the index: small ones go to segments, every tenth is large enough for its
 * own file), mixing durable puts and group commits (put_nosync + sync),
 * acking or deleting every third bundle after its put returned, recording
 * progress on large ones, compacting and expiring now and then. Through a
 * pipe it reports, with one write() per line:
 *   S seg synced next  after a sync returned: open segment (0: none), its
 *                   durable size, and the number the next new segment gets
 *   P i r sha       put of bundle i returned r (0 stored, 1 duplicate), and
 *                   the SHA-256 of what it put; written only after the
 *                   put (or the group's spool_sync) returned
 *   d i             about to delete bundle i
 *   D i r           its delete returned r (0, or -ENOENT: already gone)
 *   C               about to compact (until the next S the durable size
 *                   of the open segment is unknown, so tear() spares it)
 * The parent SIGKILLs the child after a random delay (0 to 1.2x the time of
 * a full run), sometimes twice in a row on the same directory. In every
 * other iteration it then simulates torn writes, which SIGKILL alone never
 * causes since the page cache survives: the open segment is cut at a random
 * length (or its tail overwritten with garbage) anywhere past its last
 * reported durable size, and bundle files or temp files whose put was never
 * reported are cut short. Then it reopens the spool in-process and checks:
 *  - every bundle reported P and not being deleted is present, exactly once,
 *    with the right content and the SHA-256 the child reported;
 *  - every bundle reported D is absent; nothing present is unknown or wrong
 *    (nothing corrupt is ever returned);
 *  - putting the whole stream again yields SPOOL_DUPLICATE for every bundle
 *    reported P or D, or present; afterwards every bundle is present or
 *    delivered, and a second reopen agrees.
 * No timing assertions: the delays only spread the kill points.
 */
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "spool.h"

#define NB 200                  /* bundles in the stream */
#define BIG_MAX (200u << 10)    /* largest payload */
#define BASE_MS 1700000000000ull
#define LIFE_MS (20ull * 365 * 24 * 3600 * 1000) /* never expires here */

static const char *dsts[] = { "leo-gpu-1", "geo-relay", "luna-1" };
static int verbose;
static int failures;

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "spool_crash: FAIL: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    failures++;
}

static uint64_t splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Bundle i of the stream: metadata and payload (buf holds BIG_MAX). */
static void gen(uint64_t seed, int i, spool_meta *m, uint8_t *buf)
{
    uint64_t x = seed * 1000003u + (uint64_t)i, r;
    memset(m, 0, sizeof *m);
    r = splitmix(&x);
    memcpy(m->id, &r, 8);
    r = splitmix(&x);
    memcpy(m->id + 8, &r, 8);
    r = splitmix(&x);
    if (i % 10 == 7)
        m->size = (16u << 10) + 1 + r % (BIG_MAX - (16u << 10));
    else
        m->size = i % 23 == 0 ? 0 : 1 + r % 6000;
    snprintf(m->src, sizeof m->src, "gs-mad");
    snprintf(m->dst, sizeof m->dst, "%s", dsts[i % 3]);
    m->priority = (uint8_t)(splitmix(&x) % 8);
    m->kind = (uint16_t)(i % 4);
    m->created_unix_ms = BASE_MS + (uint64_t)i;
    m->lifetime_ms = LIFE_MS;
    for (uint64_t k = 0; k < m->size; k += 8) {
        r = splitmix(&x);
        memcpy(buf + k, &r, m->size - k < 8 ? (size_t)(m->size - k) : 8);
    }
}

static void sha_hex(const void *p, size_t n, char out[65])
{
    unsigned char md[32];
    unsigned int len = 0;
    EVP_Digest(p, n, md, &len, EVP_sha256(), NULL);
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static void say(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(int fd, const char *fmt, ...)
{
    char line[256];
    va_list ap;
    int n;
    va_start(ap, fmt);
    n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (write(fd, line, (size_t)n) != n)
        _exit(4);
}

static void opts_for_test(spool_opts *o)
{
    spool_opts_init(o);
    o->segment_bytes = 64u << 10;   /* many segments: rollover, compaction */
    o->small_max = 16u << 10;
    o->dlog_slack = 16;             /* frequent delivered.log rewrites */
    o->progress_step = 8192;
    o->max_count = 10000;
}

/* ------------------------------------------------------------ child */

static void report_sync(spool *sp, int fd)
{
    spool_stats st;
    spool_stats_get(sp, &st);
    say(fd, "S %llu %llu %llu\n", (unsigned long long)st.active_segment,
        (unsigned long long)st.active_synced,
        (unsigned long long)st.next_segment);
}

static void child_delete(spool *sp, int fd, uint64_t seed, int j, uint8_t *buf)
{
    spool_meta m;
    char err[256];
    int rc;
    gen(seed, j, &m, buf);
    say(fd, "d %d\n", j);
    if (j % 2) {
        rc = spool_ack(sp, m.id, err, sizeof err);
    } else {
        rc = spool_delete_nosync(sp, m.id, SPOOL_DELIVERED, err, sizeof err);
        if (rc == 0)
            rc = spool_sync(sp, err, sizeof err);
    }
    if (rc && rc != -ENOENT) {
        say(fd, "F %d %d\n", j, rc);
        _exit(3);
    }
    report_sync(sp, fd);
    say(fd, "D %d %d\n", j, rc);
}

static void child(const char *dir, uint64_t seed, int fd)
{
    spool_opts o;
    spool *sp;
    char err[256], sha[NB][65];
    uint8_t *buf = malloc(BIG_MAX);
    int batch[16], nbatch = 0, rc[NB];
    opts_for_test(&o);
    /* Opening may compact segments that held a bad range (copies of
     * durable bundles): like spool_compact, bracket it with C ... S. */
    say(fd, "C\n");
    if (!buf || spool_open(&sp, dir, &o, err, sizeof err)) {
        say(fd, "X open: %s\n", err);
        _exit(2);
    }
    report_sync(sp, fd);
    for (int i = 0; i < NB; i++) {
        spool_meta m;
        int durable = i % 7 < 3, last = i == NB - 1;
        gen(seed, i, &m, buf);
        sha_hex(buf, (size_t)m.size, sha[i]);
        rc[i] = durable ? spool_put(sp, &m, buf, err, sizeof err)
                        : spool_put_nosync(sp, &m, buf, err, sizeof err);
        if (rc[i] < 0) {
            say(fd, "F %d %d %s\n", i, rc[i], err);
            _exit(3);
        }
        if (m.size > (16u << 10))
            spool_set_progress(sp, m.id, m.size / 2);
        if (!durable)
            batch[nbatch++] = i;
        if (durable)
            report_sync(sp, fd);
        if (nbatch && (nbatch == 1 + (i * 31) % 12 || last || durable)) {
            if (spool_sync(sp, err, sizeof err)) {
                say(fd, "F sync %s\n", err);
                _exit(3);
            }
            report_sync(sp, fd);
            for (int k = 0; k < nbatch; k++)
                say(fd, "P %d %d %s\n", batch[k], rc[batch[k]],
                    sha[batch[k]]);
            for (int k = 0; k < nbatch; k++)
                if (batch[k] % 3 == 0)
                    child_delete(sp, fd, seed, batch[k], buf);
            nbatch = 0;
        }
        if (durable) {
            say(fd, "P %d %d %s\n", i, rc[i], sha[i]);
            if (i % 3 == 0)
                child_delete(sp, fd, seed, i, buf);
        }
        if (i % 40 == 39) {
            /* Compaction copies durable bundles into the open segment and
             * syncs before dropping the originals: report the new durable
             * size so that tear() never cuts below it. */
            say(fd, "C\n");
            if (spool_compact(sp, err, sizeof err)) {
                say(fd, "F compact %s\n", err);
                _exit(3);
            }
            report_sync(sp, fd);
        }
        if (i % 50 == 49 && spool_expire(sp, BASE_MS + 1000, err,
                                         sizeof err) != 0) {
            say(fd, "F expire %s\n", err);
            _exit(3);
        }
    }
    if (spool_close(sp, err, sizeof err)) {
        say(fd, "F close %s\n", err);
        _exit(3);
    }
    say(fd, "E\n");
    free(buf);
    _exit(0);
}

/* ----------------------------------------------------------- parent */

typedef struct state {
    int acked[NB];              /* a put of it returned */
    int del_started[NB];
    int del_done[NB];
    char sha[NB][65];           /* reported SHA-256 */
    uint64_t seg, synced, next; /* last S report */
    int compacting;             /* C seen, no S since: durable size unknown */
    int finished;               /* the child printed E */
} state;

static void parse(state *s, char *text)
{
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        int i, r;
        unsigned long long a, b, c;
        char sha[65];
        if (sscanf(line, "P %d %d %64s", &i, &r, sha) == 3 && i >= 0 &&
            i < NB) {
            if (s->acked[i] && strcmp(s->sha[i], sha))
                fail("bundle %d reported with two hashes", i);
            s->acked[i] = 1;
            snprintf(s->sha[i], sizeof s->sha[i], "%s", sha);
        } else if (sscanf(line, "d %d", &i) == 1 && i >= 0 && i < NB) {
            s->del_started[i] = 1;
        } else if (sscanf(line, "D %d %d", &i, &r) == 2 && i >= 0 && i < NB) {
            s->del_done[i] = 1;
        } else if (sscanf(line, "S %llu %llu %llu", &a, &b, &c) == 3) {
            s->seg = a;
            s->synced = b;
            s->next = c;
            s->compacting = 0;
        } else if (!strcmp(line, "C")) {
            s->compacting = 1;
        } else if (!strcmp(line, "E")) {
            s->finished = 1;
        } else if (line[0] == 'F' || line[0] == 'X') {
            fail("child: %s", line);
        }
    }
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Run one child; kill it after delay_us (< 0: let it finish). */
static void run_child(const char *dir, uint64_t seed, long delay_us,
                      state *s)
{
    int p[2];
    pid_t pid;
    static char text[1 << 17];
    size_t used = 0;
    ssize_t n;
    if (pipe(p) < 0) {
        perror("pipe");
        exit(2);
    }
    fflush(NULL);
    pid = fork();
    if (pid < 0) {
        perror("fork");
        exit(2);
    }
    if (pid == 0) {
        close(p[0]);
        child(dir, seed, p[1]);
    }
    close(p[1]);
    if (delay_us >= 0) {
        struct timespec ts = { delay_us / 1000000, (delay_us % 1000000) * 1000 };
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
    }
    /* The pipe holds everything (a run writes ~10 KiB): read it after the
     * child is gone, so the report is complete. */
    waitpid(pid, NULL, 0);
    while (used < sizeof text - 1 &&
           (n = read(p[0], text + used, sizeof text - 1 - used)) > 0)
        used += (size_t)n;
    close(p[0]);
    text[used] = 0;
    parse(s, text);
}

static uint64_t rng_state;
static uint64_t rnd(uint64_t n)
{
    return n ? splitmix(&rng_state) % n : 0;
}

static int id_index(uint64_t seed, const uint8_t id[SPOOL_ID_LEN])
{
    static uint64_t cached_seed = 0;
    static uint8_t ids[NB][SPOOL_ID_LEN];
    static int have;
    if (!have || cached_seed != seed) {
        uint8_t *tmp = malloc(BIG_MAX);
        for (int i = 0; i < NB; i++) {
            spool_meta m;
            gen(seed, i, &m, tmp);
            memcpy(ids[i], m.id, SPOOL_ID_LEN);
        }
        free(tmp);
        cached_seed = seed;
        have = 1;
    }
    for (int i = 0; i < NB; i++)
        if (!memcmp(ids[i], id, SPOOL_ID_LEN))
            return i;
    return -1;
}

/* Cut or scribble on what a crash could have left half-written. */
static int tear(const char *dir, uint64_t seed, const state *s)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char last_seg[256] = "", path[4400];
    int torn = 0;
    if (!d)
        return 0;
    while ((de = readdir(d))) {
        const char *nm = de->d_name;
        size_t len = strlen(nm);
        if (!strncmp(nm, "s-", 2) && len == 14 && strcmp(nm, last_seg) > 0)
            snprintf(last_seg, sizeof last_seg, "%s", nm);
        if ((len > 4 && !strcmp(nm + len - 4, ".tmp")) ||
            (!strncmp(nm, "b-", 2) && len == 38)) {
            uint8_t id[SPOOL_ID_LEN];
            int i;
            struct stat st;
            for (int k = 0; k < SPOOL_ID_LEN; k++) {
                unsigned v;
                if (sscanf(nm + 2 + 2 * k, "%2x", &v) != 1)
                    v = 0;
                id[k] = (uint8_t)v;
            }
            i = id_index(seed, id);
            if (i >= 0 && s->acked[i] && strcmp(nm + len - 4, ".tmp"))
                continue;       /* durable: a crash cannot tear it */
            snprintf(path, sizeof path, "%s/%s", dir, nm);
            if (stat(path, &st) == 0 && rnd(2)) {
                off_t cut = (off_t)rnd((uint64_t)st.st_size + 1);
                if (truncate(path, cut) == 0) {
                    torn++;
                    if (verbose)
                        fprintf(stderr, "  tear: cut %s to %lld\n", nm,
                                (long long)cut);
                }
            }
        }
    }
    closedir(d);
    if (last_seg[0] && !s->compacting) {
        struct stat st;
        unsigned long long no = strtoull(last_seg + 2, NULL, 16);
        /* Only the open segment past its durable size, or a segment
         * created after the last report, holds unacknowledged bytes. */
        int maybe = (no == s->seg && s->seg) || no >= s->next;
        uint64_t lo = no == s->seg ? s->synced : 0;
        snprintf(path, sizeof path, "%s/%s", dir, last_seg);
        if (maybe && stat(path, &st) == 0 && (uint64_t)st.st_size > lo) {
            uint64_t at = lo + rnd((uint64_t)st.st_size - lo + 1);
            if (rnd(3)) {
                if (truncate(path, (off_t)at) == 0)
                    torn++;
                if (verbose)
                    fprintf(stderr, "  tear: cut %s to %llu (durable %llu)\n",
                            last_seg, (unsigned long long)at,
                            (unsigned long long)lo);
            } else {
                int fd = open(path, O_WRONLY);
                uint8_t junk[64];
                size_t n = (size_t)((uint64_t)st.st_size - at < sizeof junk
                                        ? (uint64_t)st.st_size - at
                                        : sizeof junk);
                for (size_t k = 0; k < n; k++)
                    junk[k] = (uint8_t)rnd(256);
                if (fd >= 0 && pwrite(fd, junk, n, (off_t)at) == (ssize_t)n)
                    torn++;
                if (fd >= 0)
                    close(fd);
                if (verbose)
                    fprintf(stderr, "  tear: %zu garbage bytes into %s at "
                            "%llu (durable %llu)\n", n, last_seg,
                            (unsigned long long)at, (unsigned long long)lo);
            }
        }
    }
    return torn;
}

typedef struct seen {
    int count[NB];
    int unknown;
    uint64_t seed;
} seen;

static int count_cb(void *arg, const spool_meta *m)
{
    seen *sn = arg;
    int i = id_index(sn->seed, m->id);
    if (i < 0)
        sn->unknown++;
    else
        sn->count[i]++;
    return 0;
}

static int nquarantined;
static void log_cb(void *arg, spool_event ev, const spool_meta *m,
                   const char *msg)
{
    if (ev == SPOOL_EV_QUARANTINED)
        nquarantined++;
    if (ev == SPOOL_EV_ERROR)
        fail("spool reported an error: %s", msg);
    if (verbose && ev != SPOOL_EV_INFO)
        fprintf(stderr, "  spool[%d]: %s\n", (int)ev, msg);
}

/* Everything present is right; the promises in s are kept. */
static void verify(spool *sp, uint64_t seed, const state *s, int it,
                   const char *when, int *present, uint8_t *buf, uint8_t *exp)
{
    seen sn;
    memset(&sn, 0, sizeof sn);
    sn.seed = seed;
    spool_foreach(sp, count_cb, &sn);
    if (sn.unknown)
        fail("iter %d %s: %d bundles not from the stream", it, when,
             sn.unknown);
    for (int i = 0; i < NB; i++) {
        spool_meta m, g;
        char err[256], sha[65];
        gen(seed, i, &m, exp);
        present[i] = spool_stat(sp, m.id, NULL) == 0;
        if (sn.count[i] > 1)
            fail("iter %d %s: bundle %d stored %d times", it, when, i,
                 sn.count[i]);
        if (s->del_done[i] && present[i])
            fail("iter %d %s: bundle %d present after its delete returned",
                 it, when, i);
        if (s->acked[i] && !s->del_started[i] && !present[i])
            fail("iter %d %s: bundle %d lost (its put had returned)", it,
                 when, i);
        if (!present[i])
            continue;
        if (spool_get(sp, m.id, &g, buf, BIG_MAX, err, sizeof err)) {
            fail("iter %d %s: bundle %d: get: %s", it, when, i, err);
            continue;
        }
        if (g.size != m.size || memcmp(buf, exp, (size_t)m.size) ||
            strcmp(g.dst, m.dst) || g.priority != m.priority ||
            g.created_unix_ms != m.created_unix_ms || g.kind != m.kind)
            fail("iter %d %s: bundle %d: wrong content or metadata", it,
                 when, i);
        sha_hex(buf, (size_t)g.size, sha);
        if (s->acked[i] && strcmp(sha, s->sha[i]))
            fail("iter %d %s: bundle %d: SHA-256 differs from the child's",
                 it, when, i);
    }
}

static void rm_rf(const char *dir)
{
    char cmd[4300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "spool_crash: cannot remove %s\n", dir);
}

static void iteration(const char *dir, uint64_t seed, int it, double full_s,
                      int *torn_total)
{
    static state s;
    spool_opts o;
    spool *sp;
    char err[256];
    int present[NB], rounds = it % 3 == 2 ? 2 : 1;
    uint8_t *buf = malloc(BIG_MAX), *exp = malloc(BIG_MAX);
    memset(&s, 0, sizeof s);
    rm_rf(dir);
    for (int r = 0; r < rounds; r++) {
        long delay = (long)rnd((uint64_t)(full_s * 1.2e6) + 1);
        if (verbose)
            fprintf(stderr, "iter %d round %d: kill after %ld us\n", it, r,
                    delay);
        run_child(dir, seed, delay, &s);
    }
    if (it % 2 == 1)
        *torn_total += tear(dir, seed, &s);
    opts_for_test(&o);
    o.log = log_cb;
    if (spool_open(&sp, dir, &o, err, sizeof err)) {
        fail("iter %d: reopen: %s", it, err);
        goto out;
    }
    verify(sp, seed, &s, it, "after crash", present, buf, exp);
    /* The sender resends everything: no bundle is stored twice, nothing
     * delivered comes back. */
    for (int i = 0; i < NB; i++) {
        spool_meta m;
        int rc;
        gen(seed, i, &m, exp);
        rc = spool_put(sp, &m, exp, err, sizeof err);
        if (rc < 0)
            fail("iter %d: re-put %d: %s", it, i, err);
        else if ((s.acked[i] || s.del_done[i] || present[i]) &&
                 rc != SPOOL_DUPLICATE)
            fail("iter %d: re-put of bundle %d (acked %d deleted %d "
                 "present %d) was stored again", it, i, s.acked[i],
                 s.del_done[i], present[i]);
        if (!s.del_started[i])
            s.acked[i] = 1, sha_hex(exp, (size_t)m.size, s.sha[i]);
    }
    if (spool_close(sp, err, sizeof err))
        fail("iter %d: close: %s", it, err);
    if (spool_open(&sp, dir, &o, err, sizeof err)) {
        fail("iter %d: second reopen: %s", it, err);
        goto out;
    }
    verify(sp, seed, &s, it, "after resend and reopen", present, buf, exp);
    spool_close(sp, NULL, 0);
out:
    free(buf);
    free(exp);
}

int main(int argc, char **argv)
{
    int iters = 30, opt, torn = 0;
    uint64_t seed = 20240917;
    const char *dir;
    double t0, full;
    state s;
    if (argc == 1) {
        fprintf(stderr, "usage: spool_crash [-n ITERS] [-s SEED] [-v] DIR\n"
                "(a helper for check_spool's crash test)\n");
        return 77;
    }
    while ((opt = getopt(argc, argv, "n:s:v")) != -1) {
        switch (opt) {
        case 'n': iters = atoi(optarg); break;
        case 's': seed = strtoull(optarg, NULL, 0); break;
        case 'v': verbose = 1; break;
        default:
            fprintf(stderr, "usage: spool_crash [-n ITERS] [-s SEED] [-v] "
                    "DIR\n");
            return 2;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "usage: spool_crash [-n ITERS] [-s SEED] [-v] DIR\n");
        return 2;
    }
    dir = argv[optind];
    rng_state = seed;

    /* One full run: the stream completes, and its length spreads the kill
     * points of the iterations over the whole run. */
    memset(&s, 0, sizeof s);
    rm_rf(dir);
    t0 = now_s();
    run_child(dir, seed, -1, &s);
    full = now_s() - t0;
    if (!s.finished)
        fail("the uninterrupted run did not finish");
    for (int i = 0; i < NB; i++)
        if (!s.acked[i] || (i % 3 == 0 && !s.del_done[i]))
            fail("uninterrupted run: bundle %d not put/deleted", i);

    for (int it = 0; it < iters && failures < 20; it++)
        iteration(dir, seed, it, full, &torn);
    rm_rf(dir);
    fprintf(stderr, "spool_crash: %d iterations (seed %llu, full run %.2f s): "
            "%d torn files simulated, %d entries quarantined, %d failures\n",
            iters, (unsigned long long)seed, full, torn, nquarantined,
            failures);
    return failures ? 1 : 0;
}
