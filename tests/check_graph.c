/*
 * check_graph.c - the graph IR (lib/model/graph.c, tensor.c, opdef.c):
 * name lookup under growth, topological order, attributes, checked shape
 * arithmetic and broadcasting.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph.h"
#include "lgerr.h"
#include "op.h"

START_TEST(value_map_grows)
{
    lg_graph *g = lg_graph_new();
    char name[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(name, sizeof name, "t%d", i);
        ck_assert_int_eq(lg_graph_value(g, name), i);
    }
    for (int i = 0; i < 5000; i += 7) {
        snprintf(name, sizeof name, "t%d", i);
        ck_assert_int_eq(lg_graph_find(g, name), i);
        ck_assert_int_eq(lg_graph_value(g, name), i);
    }
    ck_assert_int_eq(lg_graph_find(g, "absent"), -1);
    lg_graph_free(g);
}
END_TEST

static void chain_node(lg_graph *g, const char *name, const char *in,
                       const char *out)
{
    const char *i[] = { in }, *o[] = { out };
    ck_assert_int_ge(lg_graph_add_node(g, name, "Relu", "", 1, i, 1, o, NULL,
                                       0), 0);
}

START_TEST(toposort_orders_and_keeps_file_order)
{
    lg_graph *g = lg_graph_new();
    char err[256];
    int x = lg_graph_value(g, "x");
    g->values[x].dtype = LG_F32;
    lg_graph_add_input(g, x);
    /* Given out of order: c reads b reads a reads x; d reads x. */
    chain_node(g, "c", "b", "yc");
    chain_node(g, "d", "x", "yd");
    chain_node(g, "b", "a", "b");
    chain_node(g, "a", "x", "a");
    lg_graph_add_output(g, lg_graph_find(g, "yc"));
    lg_graph_add_output(g, lg_graph_find(g, "yd"));
    ck_assert_int_eq(lg_graph_toposort(g, err, sizeof err), 0);
    /* "d" is ready first in file order, then a, b, c. */
    ck_assert_str_eq(g->nodes[0].name, "d");
    ck_assert_str_eq(g->nodes[1].name, "a");
    ck_assert_str_eq(g->nodes[2].name, "b");
    ck_assert_str_eq(g->nodes[3].name, "c");
    ck_assert_int_eq(g->values[lg_graph_find(g, "a")].producer, 1);
    ck_assert_int_eq(g->values[x].n_consumers, 2);
    ck_assert_int_eq(g->values[x].last_use, 1);
    lg_graph_free(g);
}
END_TEST

START_TEST(double_producer_rejected)
{
    lg_graph *g = lg_graph_new();
    char err[256];
    lg_graph_add_input(g, lg_graph_value(g, "x"));
    chain_node(g, "a", "x", "y");
    chain_node(g, "b", "x", "y");
    ck_assert_int_eq(lg_graph_toposort(g, err, sizeof err), LG_EMODEL);
    ck_assert_ptr_nonnull(strstr(err, "'y'"));
    lg_graph_free(g);
}
END_TEST

START_TEST(attributes)
{
    lg_graph *g = lg_graph_new();
    lg_attr *a = calloc(3, sizeof *a);
    const int64_t *v;
    const char *i[] = { "x" }, *o[] = { "y" };
    a[0].name = strdup("axis");
    a[0].type = LG_ATTR_INT;
    a[0].i = -2;
    a[1].name = strdup("pads");
    a[1].type = LG_ATTR_INTS;
    a[1].n = 2;
    a[1].ints = malloc(2 * sizeof(int64_t));
    a[1].ints[0] = 1;
    a[1].ints[1] = 3;
    a[2].name = strdup("mode");
    a[2].type = LG_ATTR_STRING;
    a[2].s = strdup("reflect");
    ck_assert_int_ge(lg_graph_add_node(g, "n", "Pad", "", 1, i, 1, o, a, 3), 0);
    ck_assert_int_eq(lg_attr_int(&g->nodes[0], "axis", 0), -2);
    ck_assert_int_eq(lg_attr_int(&g->nodes[0], "absent", 42), 42);
    ck_assert_int_eq(lg_attr_ints(&g->nodes[0], "pads", &v), 2);
    ck_assert_int_eq(v[1], 3);
    ck_assert_int_eq(lg_attr_ints(&g->nodes[0], "axis", &v), -1);
    ck_assert_str_eq(lg_attr_str(&g->nodes[0], "mode", "constant"), "reflect");
    ck_assert_float_eq(lg_attr_float(&g->nodes[0], "axis", 0), -2.0f);
    lg_graph_free(g);
}
END_TEST

START_TEST(shape_arithmetic_checked)
{
    lg_shape s = { 2, { INT64_C(1) << 31, INT64_C(1) << 31 } };
    int64_t n;
    size_t nb;
    ck_assert_int_eq(lg_shape_numel(&s, &n), 0);
    ck_assert(n == INT64_C(1) << 62);
    s.d[1] = INT64_C(1) << 33;      /* 2^64: overflows */
    ck_assert_int_eq(lg_shape_numel(&s, &n), -ERANGE);
    s.d[0] = 3;
    s.d[1] = -1;
    ck_assert_int_eq(lg_shape_numel(&s, &n), -ERANGE);
    s.d[1] = INT64_C(1) << 40;      /* numel fine, bytes over the limit */
    ck_assert_int_eq(lg_shape_nbytes(&s, LG_F32, &nb), -ERANGE);
    ck_assert_ptr_null(lg_tensor_new(LG_F32, &s));
    s.rank = 0;
    ck_assert_int_eq(lg_shape_numel(&s, &n), 0);
    ck_assert_int_eq(n, 1);
}
END_TEST

START_TEST(broadcasting)
{
    lg_node n = { .name = "b", .op = "Add" };
    lg_shape a = { 4, { 8, 1, 6, 1 } }, b = { 3, { 7, 1, 5 } }, o;
    char err[256];
    ck_assert_int_eq(lg_broadcast(&n, &a, &b, &o, err, sizeof err), 0);
    ck_assert_int_eq(o.rank, 4);
    ck_assert_int_eq(o.d[0], 8);
    ck_assert_int_eq(o.d[1], 7);
    ck_assert_int_eq(o.d[2], 6);
    ck_assert_int_eq(o.d[3], 5);
    b.d[2] = 3;
    a.d[3] = 4;
    ck_assert_int_eq(lg_broadcast(&n, &a, &b, &o, err, sizeof err), LG_EMODEL);
    ck_assert_ptr_nonnull(strstr(err, "'b'"));
    ck_assert_int_eq(lg_axis(-1, 4), 3);
    ck_assert_int_eq(lg_axis(4, 4), -1);
    ck_assert_int_eq(lg_axis(-5, 4), -1);
}
END_TEST

START_TEST(tensor_views_share_data)
{
    lg_shape s = { 2, { 2, 3 } }, r = { 1, { 6 } }, bad = { 1, { 5 } };
    lg_tensor *t = lg_tensor_new(LG_F32, &s), *v;
    ((float *)t->data)[4] = 7;
    v = lg_tensor_view(t, &r);
    ck_assert_ptr_nonnull(v);
    ck_assert_ptr_eq(v->data, t->data);
    ck_assert_ptr_null(lg_tensor_view(t, &bad));
    lg_tensor_unref(t);             /* the view keeps the data alive */
    ck_assert_float_eq(((float *)v->data)[4], 7.0f);
    lg_tensor_unref(v);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("graph");
    TCase *t = tcase_create("core");
    SRunner *sr;
    int failed;
    tcase_add_test(t, value_map_grows);
    tcase_add_test(t, toposort_orders_and_keeps_file_order);
    tcase_add_test(t, double_producer_rejected);
    tcase_add_test(t, attributes);
    tcase_add_test(t, shape_arithmetic_checked);
    tcase_add_test(t, broadcasting);
    tcase_add_test(t, tensor_views_share_data);
    suite_add_tcase(s, t);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
