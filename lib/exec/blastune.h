/*
 * blastune.h - how a process that runs the executor makes OpenBLAS use
 * the kernels its CPU can run (the CLI and lagranged call it first thing
 * in main).
 *
 * OpenBLAS picks its kernels when the library loads, from the CPU model
 * it knows; Debian's 0.3.21 does not know AMD Zen 4/5 and falls back to
 * its AVX2 (Haswell) kernels, about half as fast as its AVX-512 ones on
 * these CPUs. The choice can only be made through the environment before
 * the library loads, so when the CPU has the AVX-512 subsets the SkylakeX
 * kernels need, and the user has not chosen (OPENBLAS_CORETYPE unset),
 * lg_blas_tune sets it and re-executes the program once (same pid, same
 * file descriptors, same arguments). OPENBLAS_NUM_THREADS=1 too: the
 * executor drives OpenBLAS from its own pool, and OpenBLAS's idle threads
 * would only take memory (and spin on the cores other daemons on the same
 * machine want). LAGRANGE_NO_REEXEC=1 in the environment turns the
 * re-execution off (set by the first run; tests set it for a daemon under
 * valgrind, which would not follow the exec).
 */
#ifndef LG_BLASTUNE_H
#define LG_BLASTUNE_H

/* Returns only if nothing was re-executed (or the exec failed: the
 * default kernels then serve). */
void lg_blas_tune(char **argv);

#endif
