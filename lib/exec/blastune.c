/*
 * blastune.c - OpenBLAS kernel choice by re-execution (see blastune.h).
 */
#include "blastune.h"

#include <stdlib.h>
#include <unistd.h>

void lg_blas_tune(char **argv)
{
    if (getenv("OPENBLAS_CORETYPE") || getenv("LAGRANGE_NO_REEXEC"))
        return;
    setenv("LAGRANGE_NO_REEXEC", "1", 1);
    if (!getenv("OPENBLAS_NUM_THREADS"))
        setenv("OPENBLAS_NUM_THREADS", "1", 1);
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") &&
        __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512dq")) {
        setenv("OPENBLAS_CORETYPE", "SkylakeX", 1);
        execv("/proc/self/exe", argv);
        /* If that failed, carry on with the default kernels. */
    }
#else
    (void)argv;
#endif
}
