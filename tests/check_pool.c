/*
 * check_pool.c - the thread pool (lib/exec/pool.c): every index is visited
 * exactly once, ranges are contiguous and the split is the same each run.
 */
#include <check.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "pool.h"

typedef struct visit {
    atomic_int *hits;
    int64_t begins[64];
    atomic_int nb;
} visit;

static void mark(void *arg, int64_t b, int64_t e)
{
    visit *v = arg;
    int k = atomic_fetch_add(&v->nb, 1);
    if (k < 64)
        v->begins[k] = b;
    for (int64_t i = b; i < e; i++)
        atomic_fetch_add(&v->hits[i], 1);
}

START_TEST(covers_once)
{
    static const int threads[] = { 1, 2, 3, 8 };
    static const int64_t sizes[] = { 0, 1, 2, 7, 100, 4099 };
    for (size_t t = 0; t < 4; t++) {
        lg_pool *p = lg_pool_new(threads[t]);
        ck_assert_ptr_nonnull(p);
        ck_assert_int_eq(lg_pool_size(p), threads[t]);
        for (size_t s = 0; s < 6; s++)
            for (int rep = 0; rep < 20; rep++) {
                visit v;
                memset(&v, 0, sizeof v);
                v.hits = calloc((size_t)sizes[s] + 1, sizeof *v.hits);
                lg_pool_run(p, sizes[s], 1, mark, &v);
                for (int64_t i = 0; i < sizes[s]; i++)
                    ck_assert_int_eq(v.hits[i], 1);
                ck_assert_int_le(v.nb, threads[t]);
                free(v.hits);
            }
        lg_pool_free(p);
    }
}
END_TEST

START_TEST(min_per_thread_runs_inline)
{
    lg_pool *p = lg_pool_new(4);
    visit v;
    memset(&v, 0, sizeof v);
    v.hits = calloc(10, sizeof *v.hits);
    lg_pool_run(p, 10, 100, mark, &v);
    ck_assert_int_eq(v.nb, 1);
    ck_assert_int_eq(v.begins[0], 0);
    for (int i = 0; i < 10; i++)
        ck_assert_int_eq(v.hits[i], 1);
    free(v.hits);
    /* A NULL pool runs inline too. */
    memset(&v, 0, sizeof v);
    v.hits = calloc(10, sizeof *v.hits);
    lg_pool_run(NULL, 10, 1, mark, &v);
    ck_assert_int_eq(v.nb, 1);
    free(v.hits);
    lg_pool_free(p);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("pool");
    TCase *t = tcase_create("core");
    SRunner *sr;
    int failed;
    tcase_add_test(t, covers_once);
    tcase_add_test(t, min_per_thread_runs_inline);
    suite_add_tcase(s, t);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
