/*
 * pool.h - a small fixed thread pool for data-parallel kernels.
 *
 * Owns its worker threads. lg_pool_run() splits [0, n) into contiguous
 * static ranges, one per thread (the caller's thread takes the first), and
 * returns when all are done. Static splitting keeps results bit-identical
 * from run to run. Not reentrant: one lg_pool_run at a time per pool; a
 * kernel called from inside a pool task must not call it again.
 */
#ifndef LG_POOL_H
#define LG_POOL_H

#include <stdint.h>

typedef struct lg_pool lg_pool;

/* fn(arg, begin, end) processes items [begin, end). */
typedef void (*lg_range_fn)(void *arg, int64_t begin, int64_t end);

lg_pool *lg_pool_new(int nthreads);     /* nthreads <= 0: all online CPUs */
void lg_pool_free(lg_pool *p);
int lg_pool_size(const lg_pool *p);
/* Run fn over [0, n). With a NULL pool, or n < min_per_thread*2, runs
 * inline on the caller. min_per_thread avoids waking threads for tiny
 * loops. */
void lg_pool_run(lg_pool *p, int64_t n, int64_t min_per_thread,
                 lg_range_fn fn, void *arg);

#endif
