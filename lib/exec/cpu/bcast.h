/*
 * bcast.h - index arithmetic shared by the CPU kernels.
 *
 * Owns two things:
 *  - broadcast plans (lg_bcast): up to three inputs broadcast numpy-style
 *    against an output shape, with adjacent dimensions collapsed so that
 *    the inner loop runs over the longest run that is contiguous (or
 *    constant) in every operand. [1,C,H,W] op [1,C,1,1] becomes C rows of
 *    H*W against one scalar each; [N,C] op [C] becomes N rows of C.
 *  - strided views (lg_bcast_view): a contiguous destination filled from a
 *    source addressed by per-dimension strides that may be 0 or negative.
 *    Expand, Slice, Transpose, Tile and DepthToSpace are all one such copy;
 *    a copy whose source is transposed is done in cache-sized tiles.
 *
 * Plans and views are plain values owned by the caller. Everything here is
 * thread-safe; walkers are called from pool tasks on disjoint ranges.
 */
#ifndef LG_BCAST_H
#define LG_BCAST_H

#include <stddef.h>
#include <stdint.h>

#include "pool.h"
#include "tensor.h"

/* Hot elementwise and reduction loops get an AVX2 clone picked once at
 * load time (ifunc) on x86-64, while the build stays plain x86-64. The
 * kernels are compiled without FMA contraction (see the pragmas in
 * elem.c), so both clones round every operation identically: results do
 * not depend on which clone a machine picks. Never compare the address of
 * a cloned function: it may be the resolver's, not the one a table holds.
 * Build with -DLG_NO_CLONES to test the baseline code on an AVX2 host. */
#if defined(__x86_64__) && defined(__has_attribute) && !defined(LG_NO_CLONES)
#if __has_attribute(target_clones)
#define LG_CLONES __attribute__((target_clones("avx2", "default")))
#endif
#endif
#ifndef LG_CLONES
#define LG_CLONES
#endif

#define LG_BCAST_MAXIN 3                /* Where has three operands */
#define LG_BCAST_MAXR (2 * LG_MAX_RANK) /* views may split every dim in two */

typedef struct lg_bcast {
    int rank;                           /* collapsed rank, >= 1 */
    int nin;                            /* operands */
    int64_t numel;                      /* output elements */
    int64_t d[LG_MAX_RANK];             /* collapsed output dims */
    int64_t st[LG_BCAST_MAXIN][LG_MAX_RANK]; /* element strides, 0 = bcast */
} lg_bcast;

/* Plan nin inputs broadcast to out. Each input must broadcast to out
 * (shape inference checked that): -EINVAL if one does not. */
int lg_bcast_plan(lg_bcast *p, const lg_shape *out, int nin,
                  const lg_shape *const *in);

/* A run of n output elements starting at flat index o; operand k starts at
 * element off[k] and advances by inc[k] (0 or 1) per element. */
typedef void (*lg_bcast_row_fn)(void *arg, int64_t o, const int64_t *off,
                                const int64_t *inc, int64_t n);

/* Visit output elements [begin, end) as runs, in order. */
void lg_bcast_walk(const lg_bcast *p, int64_t begin, int64_t end,
                   lg_bcast_row_fn fn, void *arg);

typedef struct lg_bcast_view {
    int rank;                           /* >= 0 */
    int64_t d[LG_BCAST_MAXR];           /* destination dims, row-major */
    int64_t st[LG_BCAST_MAXR];          /* source element stride per dim */
    int64_t base;                       /* source element offset of index 0 */
} lg_bcast_view;

/* dst (contiguous, v->d) [i] = src[base + sum idx*st], in parallel over
 * pool (may be NULL). esize is the element size in bytes. The view is
 * collapsed on a copy; the caller's is left alone. */
void lg_bcast_copy(lg_pool *pool, const lg_bcast_view *v, void *dst,
                   const void *src, size_t esize);

/* Fill n elements of esize bytes at dst with the element at val. */
void lg_bcast_fill(void *dst, const void *val, size_t esize, int64_t n);

/* Row-major element strides of a shape into st[rank]. */
void lg_bcast_strides(const lg_shape *s, int64_t *st);

#endif
