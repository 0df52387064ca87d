/*
 * bench_spool.c - ingest speed of the bundle spool (lib/store/spool.c).
 *
 * Build (bench/bench_spool.sh does this), from the source tree:
 *   gcc -std=c11 -D_GNU_SOURCE -O2 -Ilib/common -Ilib/store \
 *     lib/common/lgerr.c lib/store/{crc32c,spool}*.c bench/bench_spool.c \
 *     -lpthread -o /tmp/bench_spool
 *
 * usage:
 *   bench_spool put DIR SIZE N
 *       N bundles of SIZE bytes, each with spool_put (durable on return).
 *   bench_spool batch DIR SIZE N B
 *       N bundles, spool_put_nosync, one spool_sync per B (group commit).
 *   bench_spool ack DIR SIZE N B
 *       N bundles put in batches of B, then all acked in batches of B
 *       (spool_delete_nosync + spool_sync): the time of the acks only.
 * DIR is created empty (it must not exist) and removed at the end. Prints
 * one line:
 *   RESULT mode size n seconds bundles_per_s MB_per_s fsyncs
 * The timed part is the loop (open and close are outside it; the close
 * flushes nothing, since every batch ended with a sync). bench_spool.sh
 * runs it against dd oflag=dsync and prints the table. Exit status
 * reports usage and I/O errors only, never slowness.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "spool.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void mkmeta(spool_meta *m, uint64_t k, uint64_t size, uint64_t t0)
{
    memset(m, 0, sizeof *m);
    memcpy(m->id, &k, sizeof k);
    memcpy(m->id + 8, &t0, sizeof t0);
    snprintf(m->src, sizeof m->src, "gs-mad");
    snprintf(m->dst, sizeof m->dst, "leo-gpu-%d", (int)(k % 3) + 1);
    m->priority = (uint8_t)(k % 8);
    m->kind = 1;
    m->created_unix_ms = t0;
    m->lifetime_ms = 24ull * 3600 * 1000;
    m->size = size;
}

static int usage(void)
{
    fprintf(stderr, "usage: bench_spool put DIR SIZE N\n"
                    "       bench_spool batch DIR SIZE N B\n"
                    "       bench_spool ack DIR SIZE N B\n");
    return 2;
}

int main(int argc, char **argv)
{
    const char *mode, *dir;
    uint64_t size, n, b = 1, t0 = (uint64_t)time(NULL) * 1000;
    spool_opts o;
    spool_stats st0, st1;
    spool *sp;
    char err[512];
    unsigned char *buf;
    double t, el;
    int rc = 0;
    if (argc < 5)
        return usage();
    mode = argv[1];
    dir = argv[2];
    size = strtoull(argv[3], NULL, 0);
    n = strtoull(argv[4], NULL, 0);
    if (strcmp(mode, "put")) {
        if (argc < 6 || (strcmp(mode, "batch") && strcmp(mode, "ack")))
            return usage();
        b = strtoull(argv[5], NULL, 0);
    }
    if (!n || !b || size > (1u << 30))
        return usage();
    if (access(dir, F_OK) == 0) {
        fprintf(stderr, "bench_spool: %s exists; give a fresh path\n", dir);
        return 2;
    }
    buf = malloc(size ? size : 1);
    if (!buf)
        return 1;
    for (uint64_t i = 0; i < size; i++)
        buf[i] = (unsigned char)(i * 2654435761u >> 13);

    spool_opts_init(&o);
    o.max_count = (uint32_t)(n + 16);
    o.max_bytes = (n + 16) * (size + 256);
    o.max_bundle = size ? size : 1;
    o.reserve_pct = 0;          /* measure the disk, not the policy */
    if ((rc = spool_open(&sp, dir, &o, err, sizeof err))) {
        fprintf(stderr, "bench_spool: %s\n", err);
        return 1;
    }
    if (!strcmp(mode, "ack")) {
        /* Fill first, untimed. */
        for (uint64_t k = 0; k < n && rc >= 0; k++) {
            spool_meta m;
            mkmeta(&m, k, size, t0);
            rc = spool_put_nosync(sp, &m, buf, err, sizeof err);
            if (rc >= 0 && (k + 1) % b == 0)
                rc = spool_sync(sp, err, sizeof err);
        }
        if (rc >= 0)
            rc = spool_sync(sp, err, sizeof err);
    }
    spool_stats_get(sp, &st0);
    t = now_s();
    for (uint64_t k = 0; k < n && rc >= 0; k++) {
        spool_meta m;
        mkmeta(&m, k, size, t0);
        if (!strcmp(mode, "put"))
            rc = spool_put(sp, &m, buf, err, sizeof err);
        else if (!strcmp(mode, "batch"))
            rc = spool_put_nosync(sp, &m, buf, err, sizeof err);
        else
            rc = spool_delete_nosync(sp, m.id, SPOOL_ACKED, err, sizeof err);
        if (rc >= 0 && strcmp(mode, "put") && ((k + 1) % b == 0 || k + 1 == n))
            rc = spool_sync(sp, err, sizeof err);
    }
    el = now_s() - t;
    spool_stats_get(sp, &st1);
    if (rc < 0)
        fprintf(stderr, "bench_spool: %s\n", err);
    if (spool_close(sp, err, sizeof err) && rc >= 0) {
        fprintf(stderr, "bench_spool: close: %s\n", err);
        rc = -EIO;
    }
    {
        char cmd[4200];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0)
            fprintf(stderr, "bench_spool: cannot remove %s\n", dir);
    }
    free(buf);
    if (rc < 0)
        return 1;
    printf("RESULT %s %llu %llu %.6f %.1f %.2f %llu\n", mode,
           (unsigned long long)size, (unsigned long long)n, el,
           (double)n / el, (double)n * (double)size / el / 1e6,
           (unsigned long long)(st1.syncs - st0.syncs));
    return 0;
}
