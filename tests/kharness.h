/*
 * kharness.h - the test harness shared by the kernel suites
 * (check_kernels_elem.c, check_kernels_tensor.c): seeded random tensors,
 * hand-built one-node graphs (kt_*), shape inference, and running a node's
 * kernel twice (no pool, then a 3-thread pool) into garbage-filled outputs
 * that must agree bit for bit. Single-threaded test code.
 */
#ifndef LG_TESTS_KHARNESS_H
#define LG_TESTS_KHARNESS_H

#include <stdint.h>

#include "graph.h"
#include "kernel.h"
#include "pool.h"
#include "tensor.h"

extern lg_pool *g_pool;         /* made per test (check forks) */
uint64_t rng(void);
int64_t rnd(int64_t lo, int64_t hi);
double frand(double lo, double hi);
#define SHP(r, ...) lg_shape_make((r), (const int64_t[]){__VA_ARGS__})
#define SHP0() lg_shape_make(0, NULL)
lg_tensor *tnew(enum lg_dtype t, lg_shape s);
lg_tensor *trand(enum lg_dtype t, lg_shape s, double lo, double hi);
lg_tensor *tf32(lg_shape s, const float *v);
lg_tensor *ti64(lg_shape s, const int64_t *v);
lg_tensor *scalar_f(float v);
double getd(const lg_tensor *t, int64_t i);
char *sstr(const lg_shape *s);
int64_t bc_off(const lg_shape *in, const lg_shape *out, int64_t i);
typedef struct attrs {
    lg_attr a[16];
    int n;
} attrs;

lg_attr *at_new(attrs *A, const char *name, enum lg_attr_type t);
void at_int(attrs *A, const char *name, int64_t v);
void at_float(attrs *A, const char *name, float v);
void at_str(attrs *A, const char *name, const char *v);
typedef struct kt {
    lg_graph *g;
    char err[512];
    const char *feed_name[8];   /* runtime inputs and their tensors */
    lg_tensor *feed[8];
    int nfeed;
    lg_tensor **slot;           /* per value after kt_run */
} kt;

kt *kt_new(int64_t opset);
void kt_free(kt *k);
void kt_in(kt *k, const char *name, lg_tensor *t);
void kt_const(kt *k, const char *name, lg_tensor *t);
#define NAMES(...) ((const char *const[]){__VA_ARGS__})
void kt_node(kt *k, const char *name, const char *op, int nin,
                    const char *const *in, int nout, const char *const *out,
                    attrs *A);
int kt_infer(kt *k);
const lg_kernel *find_kernel(const char *op);
int run_pass(kt *k, lg_pool *pool, int fill, lg_tensor **slot);
int kt_run(kt *k);
lg_tensor *kt_get(kt *k, const char *name);
const lg_value *kt_val(kt *k, const char *name);
void expect_fail(kt *k, int code, const char *node);
void close_to(double got, double ref, double rtol, double atol,
                     const char *what, int64_t i);
void setup(void);
void teardown(void);

#endif
