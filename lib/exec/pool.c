/*
 * pool.c - fixed pthread pool with static range splitting (see pool.h).
 *
 * Workers sleep on a condition variable between jobs; a job is published
 * under the mutex with a generation counter, and the caller waits for the
 * count of finished workers. The caller's thread runs range 0 itself.
 */
#include "pool.h"

#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

struct lg_pool {
    int n;                      /* threads including the caller */
    pthread_t *tid;             /* n - 1 workers */
    pthread_mutex_t mu;
    pthread_cond_t work;        /* workers wait for a new generation */
    pthread_cond_t done;        /* caller waits for pending == 0 */
    uint64_t gen;               /* job generation */
    int pending;                /* workers still running this job */
    int quit;
    int parts;                  /* ranges in the current job */
    lg_range_fn fn;
    void *arg;
    int64_t total;
};

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
    uint64_t seen = 0;
    free(wa);
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->quit && p->gen == seen)
            pthread_cond_wait(&p->work, &p->mu);
        if (p->quit)
            break;
        seen = p->gen;
        if (idx < p->parts) {
            lg_range_fn fn = p->fn;
            void *arg = p->arg;
            int64_t b, e;
            range_of(p->total, p->parts, idx, &b, &e);
            pthread_mutex_unlock(&p->mu);
            fn(arg, b, e);
            pthread_mutex_lock(&p->mu);
            if (--p->pending == 0)
                pthread_cond_signal(&p->done);
        }
    }
    pthread_mutex_unlock(&p->mu);
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
    pthread_mutex_lock(&p->mu);
    p->quit = 1;
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
    int parts;
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
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->arg = arg;
    p->total = n;
    p->parts = parts;
    p->pending = parts - 1;
    p->gen++;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->mu);
    range_of(n, parts, 0, &b, &e);
    fn(arg, b, e);
    pthread_mutex_lock(&p->mu);
    while (p->pending > 0)
        pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
}
