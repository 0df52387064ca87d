/*
 * pool.c - fixed pthread pool with static range splitting (see pool.h).
 *
 * A job is published by bumping an atomic generation counter. Workers and
 * the caller spin briefly (a few tens of microseconds) before sleeping on
 * a condition variable: kernels come in quick succession during a run,
 * and a futex wake-up per kernel costs more than many small kernels do.
 * The spin is short so that an idle pool, or one waiting while OpenBLAS
 * owns the cores, gives the CPU back quickly.
 *
 * Lost wake-ups are excluded by the usual pattern: a sleeper registers
 * itself (seq_cst) and re-checks the condition under the mutex; a waker
 * changes the condition (seq_cst), then takes the mutex to signal if it
 * sees a registered sleeper.
 */
#include "pool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#define SPIN_ITERS 4000         /* ~50 us of pause instructions */

struct lg_pool {
    int n;                      /* threads including the caller */
    pthread_t *tid;             /* n - 1 workers */
    pthread_mutex_t mu;
    pthread_cond_t work;        /* workers sleep here between jobs */
    pthread_cond_t done;        /* the caller sleeps here for the last worker */
    atomic_uint_fast64_t gen;   /* job generation */
    atomic_int pending;         /* workers yet to acknowledge this job */
    atomic_int sleepers;        /* workers blocked on `work` */
    atomic_int caller_sleeping; /* caller blocked on `done` */
    atomic_int quit;
    /* The job; written before gen is bumped, read after it is seen. */
    int parts;
    lg_range_fn fn;
    void *arg;
    int64_t total;
};

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static void range_of(int64_t total, int parts, int i, int64_t *b, int64_t *e)
{
    int64_t q = total / parts, r = total % parts;
    *b = i * q + (i < r ? i : r);
    *e = *b + q + (i < r ? 1 : 0);
}

struct worker_arg {
    lg_pool *p;
    int idx;
};

static void *worker(void *a)
{
    struct worker_arg *wa = a;
    lg_pool *p = wa->p;
    int idx = wa->idx;
    uint_fast64_t seen = 0;
    free(wa);
    for (;;) {
        int spins = 0;
        while (atomic_load(&p->gen) == seen && !atomic_load(&p->quit) &&
               spins++ < SPIN_ITERS)
            cpu_relax();
        if (atomic_load(&p->gen) == seen && !atomic_load(&p->quit)) {
            pthread_mutex_lock(&p->mu);
            atomic_fetch_add(&p->sleepers, 1);
            while (atomic_load(&p->gen) == seen && !atomic_load(&p->quit))
                pthread_cond_wait(&p->work, &p->mu);
            atomic_fetch_sub(&p->sleepers, 1);
            pthread_mutex_unlock(&p->mu);
        }
        if (atomic_load(&p->quit))
            break;
        seen = atomic_load(&p->gen);
        if (idx < p->parts) {
            int64_t b, e;
            range_of(p->total, p->parts, idx, &b, &e);
            p->fn(p->arg, b, e);
        }
        /* Every worker acknowledges every job, so the caller cannot
         * publish the next one while anyone still reads this one. */
        if (atomic_fetch_sub(&p->pending, 1) == 1 &&
            atomic_load(&p->caller_sleeping)) {
            pthread_mutex_lock(&p->mu);
            pthread_cond_signal(&p->done);
            pthread_mutex_unlock(&p->mu);
        }
    }
    return NULL;
}

lg_pool *lg_pool_new(int nthreads)
{
    lg_pool *p;
    if (nthreads <= 0) {
        long c = sysconf(_SC_NPROCESSORS_ONLN);
        nthreads = c > 0 ? (int)c : 1;
    }
    if (nthreads > 256)
        nthreads = 256;
    p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->n = nthreads;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->work, NULL);
    pthread_cond_init(&p->done, NULL);
    p->tid = calloc((size_t)nthreads, sizeof *p->tid);
    if (!p->tid) {
        free(p);
        return NULL;
    }
    for (int i = 1; i < nthreads; i++) {
        struct worker_arg *wa = malloc(sizeof *wa);
        if (wa) {
            wa->p = p;
            wa->idx = i;
        }
        if (!wa || pthread_create(&p->tid[i - 1], NULL, worker, wa) != 0) {
            free(wa);
            p->n = i;           /* run with the threads we have */
            break;
        }
    }
    return p;
}

void lg_pool_free(lg_pool *p)
{
    if (!p)
        return;
    atomic_store(&p->quit, 1);
    pthread_mutex_lock(&p->mu);
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i < p->n; i++)
        pthread_join(p->tid[i - 1], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->work);
    pthread_cond_destroy(&p->done);
    free(p->tid);
    free(p);
}

int lg_pool_size(const lg_pool *p)
{
    return p ? p->n : 1;
}

void lg_pool_run(lg_pool *p, int64_t n, int64_t min_per_thread,
                 lg_range_fn fn, void *arg)
{
    int parts, spins = 0;
    int64_t b, e;
    if (n <= 0)
        return;
    if (min_per_thread < 1)
        min_per_thread = 1;
    parts = p ? p->n : 1;
    if (n / min_per_thread < parts)
        parts = (int)(n / min_per_thread);
    if (parts <= 1) {
        fn(arg, 0, n);
        return;
    }
    p->fn = fn;
    p->arg = arg;
    p->total = n;
    p->parts = parts;
    atomic_store(&p->pending, p->n - 1);
    atomic_fetch_add(&p->gen, 1);
    if (atomic_load(&p->sleepers) > 0) {
        pthread_mutex_lock(&p->mu);
        pthread_cond_broadcast(&p->work);
        pthread_mutex_unlock(&p->mu);
    }
    range_of(n, parts, 0, &b, &e);
    fn(arg, b, e);
    while (atomic_load(&p->pending) > 0 && spins++ < SPIN_ITERS)
        cpu_relax();
    if (atomic_load(&p->pending) > 0) {
        pthread_mutex_lock(&p->mu);
        atomic_store(&p->caller_sleeping, 1);
        while (atomic_load(&p->pending) > 0)
            pthread_cond_wait(&p->done, &p->mu);
        atomic_store(&p->caller_sleeping, 0);
        pthread_mutex_unlock(&p->mu);
    }
}
