/*
 * exec.h - the executor: runs a prepared graph (a whole model or one
 * partition) on named input tensors.
 *
 * Owns an execution plan: a kernel per node, kernel state (packed weights),
 * and the thread pool. Each intermediate tensor is freed right after its
 * last use; the executor tracks the peak of live intermediate bytes.
 * lg_exec_run is synchronous and must not be called concurrently on the
 * same executor (the daemon calls it from one libuv threadpool worker).
 */
#ifndef LG_EXEC_H
#define LG_EXEC_H

#include <stddef.h>
#include <stdint.h>

#include "graph.h"

typedef struct lg_exec lg_exec;

typedef struct lg_exec_opts {
    const char *backend;        /* NULL = "cpu" */
    int threads;                /* <= 0: all online CPUs */
} lg_exec_opts;

/* Build an executor for a prepared graph (g must outlive it). Fails with
 * LG_EUNSUP naming the first op without a kernel. */
int lg_exec_new(const lg_graph *g, const lg_exec_opts *o, lg_exec **out,
                char *err, size_t errlen);
void lg_exec_free(lg_exec *e);

/* Run. inputs[i] feeds g->inputs[i] (dtype and shape must match exactly);
 * outputs[i] receives a new reference for g->outputs[i]. */
int lg_exec_run(lg_exec *e, lg_tensor *const *inputs, lg_tensor **outputs,
                char *err, size_t errlen);

/* Progress during lg_exec_run: called on the running thread after each
 * node with the work done so far and the total, in FLOPs (in nodes for a
 * graph without FLOP counts). fn must be cheap and thread-safe: it is
 * how the daemon's watchers see a long inference advance. NULL: none. */
typedef void (*lg_progress_fn)(void *arg, uint64_t done, uint64_t total);
void lg_exec_set_progress(lg_exec *e, lg_progress_fn fn, void *arg);

/* Peak bytes of live intermediate tensors during the last run. */
uint64_t lg_exec_peak_bytes(const lg_exec *e);

/* lg_fold_fn for lg_graph_infer: evaluate node `node` on its constant
 * inputs with the cpu kernels, storing the outputs as constants. */
int lg_exec_fold(lg_graph *g, int node, char *err, size_t errlen);

#endif
