/*
 * partition.h - cutting a prepared graph into partitions.
 *
 * A partition is a set of node indices of a prepared graph. It is valid if
 * it is convex: no path leaves the set and comes back into it. Its inputs
 * are the runtime values it reads but does not produce; its outputs are the
 * values it produces that are read outside it or are graph outputs.
 * Extraction gives a self-contained prepared graph that shares constant
 * tensors (weights) with the parent by reference. A graph output that is a
 * constant (folded at prepare time) or a graph input is produced by no
 * partition: take it from the parent graph.
 *
 * All functions only read the parent graph. Extraction takes tensor
 * references (not atomic, see tensor.h): extract from one thread at a time
 * per parent graph.
 */
#ifndef LG_PARTITION_H
#define LG_PARTITION_H

#include <stddef.h>
#include <stdint.h>

#include "graph.h"

/* 0 if nodes[0..n) is a non-empty convex set of distinct valid indices;
 * LG_EMODEL naming the offending node/path otherwise. */
int lg_partition_check(const lg_graph *g, const int *nodes, int n,
                       char *err, size_t errlen);

/* Extract nodes[0..n) as a new prepared graph (inputs/outputs as above,
 * ordered by value index for determinism). */
int lg_partition_extract(const lg_graph *g, const int *nodes, int n,
                         lg_graph **out, char *err, size_t errlen);

/* A cut point: after node index `after` in topological order, the prefix
 * [0..after] and the suffix are partitions. The values crossing the cut
 * are the runtime values live across it: available before it (produced by
 * the prefix, or graph inputs) and needed after it (read by the suffix, or
 * graph outputs, which must reach the end of the chain). That is the union
 * of the suffix's inputs and the prefix's outputs. Constants never cross.
 * `bytes` is their total size, `n_tensors` their count. */
typedef struct lg_cut {
    int after;
    int n_tensors;
    uint64_t bytes;
} lg_cut;

/* All cut positions 0..n_nodes-2 (every prefix of a topological order is
 * convex). *cuts is malloc'ed; free() it. */
int lg_cuts_all(const lg_graph *g, lg_cut **cuts, int *n, char *err,
                size_t errlen);
/* The candidate cut points shown to users: positions where exactly one
 * tensor crosses (the "narrow waist" points between blocks). */
int lg_cuts_candidates(const lg_graph *g, lg_cut **cuts, int *n, char *err,
                       size_t errlen);

/* Split into k contiguous pieces of the topological order with roughly
 * equal FLOPs, preferring single-tensor cuts. bounds[i] is the first node
 * of piece i (bounds[0] = 0), k entries. */
int lg_partition_balanced(const lg_graph *g, int k, int *bounds, char *err,
                          size_t errlen);

#endif
