/*
 * gemm.c - lg_sgemm: OpenBLAS calls split across the pool (see gemm.h).
 */
#include "gemm.h"

#include <cblas.h>

/* Below this many multiply-adds a single call beats waking threads. */
#define PAR_MACS (1 << 18)

typedef struct gemm_job {
    int ta, tb;
    int64_t m, n, k;
    float alpha, beta;
    const float *a, *b;
    float *c;
    int64_t lda, ldb, ldc;
    int by_cols;                /* split n (else m) */
    int64_t blk;                /* columns or rows per block */
} gemm_job;

static void one(const gemm_job *j, int64_t m, int64_t n, const float *a,
                const float *b, float *c)
{
    if (m == 1 && j->ldc >= 1) {
        /* c[n] = alpha * op(B)^T a + beta c: a is contiguous unless A is
         * transposed, in which case its stride is lda. */
        cblas_sgemv(CblasRowMajor, j->tb ? CblasNoTrans : CblasTrans,
                    (int)(j->tb ? n : j->k), (int)(j->tb ? j->k : n),
                    j->alpha, b, (int)j->ldb, a, j->ta ? (int)j->lda : 1,
                    j->beta, c, 1);
    } else if (n == 1) {
        cblas_sgemv(CblasRowMajor, j->ta ? CblasTrans : CblasNoTrans,
                    (int)(j->ta ? j->k : m), (int)(j->ta ? m : j->k),
                    j->alpha, a, (int)j->lda, b, j->tb ? 1 : (int)j->ldb,
                    j->beta, c, (int)j->ldc);
    } else {
        cblas_sgemm(CblasRowMajor, j->ta ? CblasTrans : CblasNoTrans,
                    j->tb ? CblasTrans : CblasNoTrans, (int)m, (int)n,
                    (int)j->k, j->alpha, a, (int)j->lda, b, (int)j->ldb,
                    j->beta, c, (int)j->ldc);
    }
}

static void blocks(void *arg, int64_t b0, int64_t b1)
{
    const gemm_job *j = arg;
    int64_t lo = b0 * j->blk, hi = b1 * j->blk;
    if (j->by_cols) {
        if (hi > j->n)
            hi = j->n;
        one(j, j->m, hi - lo, j->a,
            j->tb ? j->b + lo * j->ldb : j->b + lo, j->c + lo);
    } else {
        if (hi > j->m)
            hi = j->m;
        one(j, hi - lo, j->n, j->ta ? j->a + lo : j->a + lo * j->lda, j->b,
            j->c + lo * j->ldc);
    }
}

void lg_sgemm(lg_pool *pool, int ta, int tb, int64_t m, int64_t n,
              int64_t k, float alpha, const float *a, int64_t lda,
              const float *b, int64_t ldb, float beta, float *c,
              int64_t ldc)
{
    gemm_job j = { ta, tb, m, n, k, alpha, beta, a, b, c, lda, ldb, ldc,
                   1, 0 };
    int parts = lg_pool_size(pool);
    int64_t nblk;
    if (m == 0 || n == 0)
        return;
    if (parts <= 1 || m * n * (k ? k : 1) < PAR_MACS) {
        one(&j, m, n, a, b, c);
        return;
    }
    /* Split the wider side, in blocks that keep the micro-kernels'
     * widths (16 columns, 8 rows) whole. */
    if (n >= m || m < 8 * parts) {
        j.by_cols = 1;
        j.blk = (n + parts - 1) / parts;
        j.blk = (j.blk + 15) / 16 * 16;
        nblk = (n + j.blk - 1) / j.blk;
    } else {
        j.by_cols = 0;
        j.blk = (m + parts - 1) / parts;
        j.blk = (j.blk + 7) / 8 * 8;
        nblk = (m + j.blk - 1) / j.blk;
    }
    lg_pool_run(pool, nblk, 1, blocks, &j);
}
