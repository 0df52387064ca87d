/*
 * gemm.h - matrix multiply for the CPU kernels: OpenBLAS, driven by our
 * thread pool.
 *
 * OpenBLAS runs single-threaded (the executor sets it so) and lg_sgemm
 * splits C into column or row blocks, one cblas call per pool task. One
 * pool then owns the cores: two pools (OpenBLAS's and ours) spinning on
 * two cores stole time from each other. Each element of C is computed by
 * one call with the full K, in the same order whatever the split, so
 * results do not depend on the thread count.
 *
 * Must not be called from inside a pool task.
 */
#ifndef LG_GEMM_H
#define LG_GEMM_H

#include <stdint.h>

#include "pool.h"

/* Row-major C[m x n] = alpha * op(A) * op(B) + beta * C, with
 * op(X) = X or X^T (ta, tb). Leading dimensions as in cblas. Uses sgemv
 * when m or n is 1. */
void lg_sgemm(lg_pool *pool, int ta, int tb, int64_t m, int64_t n,
              int64_t k, float alpha, const float *a, int64_t lda,
              const float *b, int64_t ldb, float beta, float *c,
              int64_t ldc);

#endif
