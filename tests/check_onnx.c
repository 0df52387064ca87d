/*
 * check_onnx.c - the ONNX loader (lib/model/onnx_load.c): valid models in
 * every storage form, and malformed ones, which must fail with an error
 * naming the file, tensor or node, never crash.
 *
 * Models are built here with protobuf-c from the same .proto subset; the
 * torch-exported models are covered by the zoo tests against torch.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "graph.h"
#include "lgerr.h"
#include "onnx/onnx-subset.pb-c.h"
#include "onnx_load.h"

/* --- a tiny model builder --------------------------------------------- */

/* Builder objects come from an arena freed after each test, so the suite
 * stays clean under LeakSanitizer. */
static void *arena[4096];
static int n_arena;

static void *A(size_t n, size_t sz)
{
    void *p = calloc(n ? n : 1, sz);
    ck_assert_ptr_nonnull(p);
    ck_assert_int_lt(n_arena, 4096);
    arena[n_arena++] = p;
    return p;
}

static void arena_free(void)
{
    while (n_arena > 0)
        free(arena[--n_arena]);
}

typedef struct mb {
    Onnx__ModelProto m;
    Onnx__GraphProto g;
    Onnx__OperatorSetIdProto op;
    Onnx__OperatorSetIdProto *opp[1];
    Onnx__NodeProto *nodes[16];
    Onnx__TensorProto *inits[16];
    Onnx__ValueInfoProto *ins[8], *outs[8];
} mb;

static void mb_init(mb *b, int64_t opset)
{
    memset(b, 0, sizeof *b);
    onnx__model_proto__init(&b->m);
    onnx__graph_proto__init(&b->g);
    onnx__operator_set_id_proto__init(&b->op);
    b->op.has_version = 1;
    b->op.version = opset;
    b->opp[0] = &b->op;
    b->m.has_ir_version = 1;
    b->m.ir_version = 8;
    b->m.n_opset_import = 1;
    b->m.opset_import = b->opp;
    b->m.graph = &b->g;
    b->g.name = "t";
    b->g.node = b->nodes;
    b->g.initializer = b->inits;
    b->g.input = b->ins;
    b->g.output = b->outs;
}

static Onnx__ValueInfoProto *vi(const char *name, int et, int rank,
                                const int64_t *dims)
{
    Onnx__ValueInfoProto *v = A(1, sizeof *v);
    Onnx__TypeProto *t = A(1, sizeof *t);
    Onnx__TypeProto__Tensor *tt = A(1, sizeof *tt);
    Onnx__TensorShapeProto *s = A(1, sizeof *s);
    onnx__value_info_proto__init(v);
    onnx__type_proto__init(t);
    onnx__type_proto__tensor__init(tt);
    onnx__tensor_shape_proto__init(s);
    s->n_dim = (size_t)rank;
    s->dim = A((size_t)rank + 1, sizeof *s->dim);
    for (int i = 0; i < rank; i++) {
        s->dim[i] = A(1, sizeof **s->dim);
        onnx__tensor_shape_proto__dimension__init(s->dim[i]);
        s->dim[i]->value_case =
            ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
        s->dim[i]->dim_value = dims[i];
    }
    tt->has_elem_type = 1;
    tt->elem_type = et;
    tt->shape = s;
    t->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    t->tensor_type = tt;
    v->name = (char *)name;
    v->type = t;
    return v;
}

static Onnx__TensorProto *tensor_f32(const char *name, int rank,
                                     const int64_t *dims, const float *data,
                                     size_t n, int raw)
{
    Onnx__TensorProto *t = A(1, sizeof *t);
    onnx__tensor_proto__init(t);
    t->name = (char *)name;
    t->has_data_type = 1;
    t->data_type = 1;
    t->n_dims = (size_t)rank;
    t->dims = (int64_t *)dims;
    if (raw) {
        t->has_raw_data = 1;
        t->raw_data.len = n * 4;
        t->raw_data.data = (uint8_t *)data;
    } else {
        t->n_float_data = n;
        t->float_data = (float *)data;
    }
    return t;
}

static Onnx__NodeProto *node(const char *name, const char *op, int nin,
                             const char **in, int nout, const char **out)
{
    Onnx__NodeProto *n = A(1, sizeof *n);
    onnx__node_proto__init(n);
    n->name = (char *)name;
    n->op_type = (char *)op;
    n->n_input = (size_t)nin;
    n->input = (char **)in;
    n->n_output = (size_t)nout;
    n->output = (char **)out;
    return n;
}

static void *mb_pack(mb *b, size_t *len)
{
    void *buf;
    *len = onnx__model_proto__get_packed_size(&b->m);
    buf = malloc(*len);
    onnx__model_proto__pack(&b->m, buf);
    return buf;
}


static const int64_t d23[] = { 2, 3 };
static const float w6[] = { 1, 2, 3, 4, 5, 6 };
static const char *in_xw[] = { "x", "w" };
static const char *out_y[] = { "y" };

/* y = Add(x, w), x: input [2,3], w: initializer. */
static void mb_add_model(mb *b, int raw)
{
    mb_init(b, 13);
    b->ins[b->g.n_input++] = vi("x", 1, 2, d23);
    b->outs[b->g.n_output++] = vi("y", 1, 2, d23);
    b->inits[b->g.n_initializer++] = tensor_f32("w", 2, d23, w6, 6, raw);
    b->nodes[b->g.n_node++] = node("add0", "Add", 2, in_xw, 1, out_y);
}

static int load(mb *b, const char *dir, lg_graph **g, char *err, size_t n)
{
    size_t len;
    void *buf = mb_pack(b, &len);
    int rc = lg_onnx_load_buffer(buf, len, dir, NULL, g, err, n);
    free(buf);
    return rc;
}

START_TEST(loads_raw_and_typed)
{
    for (int raw = 0; raw < 2; raw++) {
        mb b;
        lg_graph *g = NULL;
        char err[512] = "";
        mb_add_model(&b, raw);
        ck_assert_int_eq(load(&b, NULL, &g, err, sizeof err), 0);
        ck_assert_int_eq(g->n_nodes, 1);
        ck_assert_int_eq(g->n_inputs, 1);
        ck_assert_int_eq(g->n_outputs, 1);
        int w = lg_graph_find(g, "w");
        ck_assert_int_ge(w, 0);
        ck_assert_int_eq(g->values[w].kind, LG_VAL_CONST);
        ck_assert(g->values[w].initializer);
        ck_assert_float_eq(((float *)g->values[w].konst->data)[5], 6.0f);
        ck_assert_int_eq(g->opset, 13);
        ck_assert_int_eq(lg_graph_infer(g, NULL, err, sizeof err), 0);
        ck_assert_int_eq(g->values[g->outputs[0]].shape.d[1], 3);
        ck_assert_int_eq(g->nodes[0].param_bytes, 24);
        lg_graph_free(g);
    }
}
END_TEST

START_TEST(truncated_and_garbage)
{
    mb b;
    size_t len;
    void *buf;
    lg_graph *g = NULL;
    char err[512];
    mb_add_model(&b, 1);
    buf = mb_pack(&b, &len);
    /* Every truncation either fails cleanly or (rarely) parses. */
    for (size_t cut = 0; cut < len; cut++) {
        int rc = lg_onnx_load_buffer(buf, cut, NULL, NULL, &g, err, sizeof err);
        if (rc == 0) {
            lg_graph_free(g);
            g = NULL;
        } else {
            ck_assert(rc == LG_EMODEL || rc == LG_EUNSUP);
        }
    }
    /* Bit flips never crash. */
    srand(1);
    for (int i = 0; i < 2000; i++) {
        unsigned char *c = malloc(len);
        memcpy(c, buf, len);
        c[rand() % len] ^= (unsigned char)(1 << (rand() % 8));
        if (lg_onnx_load_buffer(c, len, NULL, NULL, &g, err, sizeof err) == 0) {
            lg_graph_infer(g, NULL, err, sizeof err);
            lg_graph_free(g);
            g = NULL;
        }
        free(c);
    }
    ck_assert_int_eq(lg_onnx_load_buffer("garbage!", 8, NULL, NULL, &g, err,
                                         sizeof err), LG_EMODEL);
    ck_assert_ptr_nonnull(strstr(err, "not a valid ONNX"));
    free(buf);
}
END_TEST

START_TEST(raw_length_mismatch_names_tensor)
{
    mb b;
    lg_graph *g = NULL;
    char err[512];
    mb_add_model(&b, 1);
    b.inits[0]->raw_data.len = 20;
    ck_assert_int_eq(load(&b, NULL, &g, err, sizeof err), LG_EMODEL);
    ck_assert_ptr_nonnull(strstr(err, "'w'"));
    ck_assert_ptr_nonnull(strstr(err, "raw_data"));
}
END_TEST

START_TEST(missing_initializer_names_tensor)
{
    mb b;
    lg_graph *g = NULL;
    char err[512];
    mb_add_model(&b, 1);
    b.g.n_initializer = 0;
    ck_assert_int_eq(load(&b, NULL, &g, err, sizeof err), 0);
    ck_assert_int_eq(lg_graph_infer(g, NULL, err, sizeof err), LG_EMODEL);
    ck_assert_ptr_nonnull(strstr(err, "'w'"));
    ck_assert_ptr_nonnull(strstr(err, "add0"));
    lg_graph_free(g);
}
END_TEST

START_TEST(cycle_is_reported)
{
    static const char *i1[] = { "x", "b" }, *o1[] = { "a" };
    static const char *i2[] = { "a" }, *o2[] = { "b" };
    static const char *i3[] = { "a" };
    mb b;
    lg_graph *g = NULL;
    char err[512];
    mb_init(&b, 13);
    b.ins[b.g.n_input++] = vi("x", 1, 2, d23);
    b.outs[b.g.n_output++] = vi("y", 1, 2, d23);
    b.nodes[b.g.n_node++] = node("n1", "Add", 2, i1, 1, o1);
    b.nodes[b.g.n_node++] = node("n2", "Relu", 1, i2, 1, o2);
    b.nodes[b.g.n_node++] = node("n3", "Relu", 1, i3, 1, out_y);
    ck_assert_int_eq(load(&b, NULL, &g, err, sizeof err), 0);
    ck_assert_int_eq(lg_graph_infer(g, NULL, err, sizeof err), LG_EMODEL);
    ck_assert_ptr_nonnull(strstr(err, "cycle"));
    lg_graph_free(g);
}
END_TEST

START_TEST(unsupported_op_named)
{
    mb b;
    lg_graph *g = NULL;
    char err[512];
    mb_add_model(&b, 1);
    b.nodes[0]->op_type = "FrobnicateV9";
    ck_assert_int_eq(load(&b, NULL, &g, err, sizeof err), 0);
    ck_assert_int_eq(lg_graph_infer(g, NULL, err, sizeof err), LG_EUNSUP);
    ck_assert_ptr_nonnull(strstr(err, "FrobnicateV9"));
    ck_assert_ptr_nonnull(strstr(err, "add0"));
    lg_graph_free(g);
}
END_TEST

START_TEST(empty_required_output)
{
    static const char *empty[] = { "" };
    mb b;
    lg_graph *g = NULL;
    char err[512];
    mb_add_model(&b, 1);
    b.nodes[0]->output = (char **)empty;   /* found by fuzz_onnx */
    b.outs[0] = vi("x", 1, 2, d23);
    ck_assert_int_eq(load(&b, NULL, &g, err, sizeof err), 0);
    ck_assert_int_eq(lg_graph_infer(g, NULL, err, sizeof err), LG_EMODEL);
    ck_assert_ptr_nonnull(strstr(err, "required output"));
    ck_assert_ptr_nonnull(strstr(err, "add0"));
    lg_graph_free(g);
}
END_TEST

START_TEST(opset_range)
{
    mb b;
    lg_graph *g = NULL;
    char err[512];
    mb_add_model(&b, 1);
    b.op.version = 3;
    ck_assert_int_eq(load(&b, NULL, &g, err, sizeof err), LG_EUNSUP);
    ck_assert_ptr_nonnull(strstr(err, "opset 3"));
    b.m.n_opset_import = 0;
    ck_assert_int_eq(load(&b, NULL, &g, err, sizeof err), LG_EMODEL);
}
END_TEST

START_TEST(dims_overflow)
{
    static const int64_t huge[] = { INT64_C(1) << 40, INT64_C(1) << 40 };
    static const int64_t neg[] = { 2, -3 };
    mb b;
    lg_graph *g = NULL;
    char err[512];
    mb_add_model(&b, 1);
    b.inits[0]->dims = (int64_t *)huge;
    ck_assert_int_eq(load(&b, NULL, &g, err, sizeof err), LG_EMODEL);
    ck_assert_ptr_nonnull(strstr(err, "'w'"));
    b.inits[0]->dims = (int64_t *)neg;
    ck_assert_int_eq(load(&b, NULL, &g, err, sizeof err), LG_EMODEL);
    mb_add_model(&b, 1);
    b.ins[0] = vi("x", 1, 2, huge);
    ck_assert_int_eq(load(&b, NULL, &g, err, sizeof err), LG_EMODEL);
    ck_assert_ptr_nonnull(strstr(err, "'x'"));
}
END_TEST

static Onnx__StringStringEntryProto *kv(const char *k, const char *v)
{
    Onnx__StringStringEntryProto *e = A(1, sizeof *e);
    onnx__string_string_entry_proto__init(e);
    e->key = (char *)k;
    e->value = (char *)v;
    return e;
}

static void set_external(Onnx__TensorProto *t, const char *loc)
{
    Onnx__StringStringEntryProto **e = A(3, sizeof *e);
    e[0] = kv("location", loc);
    e[1] = kv("offset", "4");
    e[2] = kv("length", "24");
    t->has_raw_data = 0;
    t->n_float_data = 0;
    t->has_data_location = 1;
    t->data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
    t->n_external_data = 3;
    t->external_data = e;
}

START_TEST(external_data)
{
    char dir[] = "/tmp/lg-onnx-XXXXXX", path[256], err[512];
    float buf[7] = { 99, 1, 2, 3, 4, 5, 6 };
    FILE *f;
    mb b;
    lg_graph *g = NULL;
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/w.bin", dir);
    f = fopen(path, "wb");
    fwrite(buf, 4, 7, f);
    fclose(f);

    mb_add_model(&b, 1);
    set_external(b.inits[0], "w.bin");
    ck_assert_int_eq(load(&b, dir, &g, err, sizeof err), 0);
    {
        int w = lg_graph_find(g, "w");
        ck_assert_float_eq(((float *)g->values[w].konst->data)[0], 1.0f);
        ck_assert_float_eq(((float *)g->values[w].konst->data)[5], 6.0f);
    }
    lg_graph_free(g);

    /* Escapes are refused, with the tensor named. */
    const char *bad[] = { "../w.bin", "/etc/passwd", "sub/../../w.bin",
                          "missing.bin", "" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        set_external(b.inits[0], bad[i]);
        ck_assert_int_eq(load(&b, dir, &g, err, sizeof err), LG_EMODEL);
        ck_assert_ptr_nonnull(strstr(err, "'w'"));
    }
    /* A symlink pointing outside the folder is refused too. */
    snprintf(path, sizeof path, "%s/link.bin", dir);
    ck_assert_int_eq(symlink("/etc/hostname", path), 0);
    set_external(b.inits[0], "link.bin");
    ck_assert_int_eq(load(&b, dir, &g, err, sizeof err), LG_EMODEL);
    ck_assert_ptr_nonnull(strstr(err, "outside"));
    /* Without a folder (loaded from memory) external data is refused. */
    set_external(b.inits[0], "w.bin");
    ck_assert_int_eq(load(&b, NULL, &g, err, sizeof err), LG_EMODEL);
    /* A file too short for offset + length. */
    b.inits[0]->external_data[1] = kv("offset", "8");
    ck_assert_int_eq(load(&b, dir, &g, err, sizeof err), LG_EMODEL);
    ck_assert_ptr_nonnull(strstr(err, "too short"));
    unlink(path);
    snprintf(path, sizeof path, "%s/w.bin", dir);
    unlink(path);
    rmdir(dir);
}
END_TEST

START_TEST(constant_node_becomes_constant)
{
    static const char *ic[] = { "x", "c" }, *oc[] = { "c" };
    mb b;
    lg_graph *g = NULL;
    char err[512];
    Onnx__NodeProto *cn;
    Onnx__AttributeProto *a = A(1, sizeof *a), **ap = A(1, sizeof *ap);
    mb_init(&b, 13);
    b.ins[b.g.n_input++] = vi("x", 1, 2, d23);
    b.outs[b.g.n_output++] = vi("y", 1, 2, d23);
    onnx__attribute_proto__init(a);
    a->name = "value_float";
    a->has_type = 1;
    a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT;
    a->has_f = 1;
    a->f = 2.5f;
    ap[0] = a;
    cn = node("c0", "Constant", 0, NULL, 1, oc);
    cn->n_attribute = 1;
    cn->attribute = ap;
    b.nodes[b.g.n_node++] = cn;
    b.nodes[b.g.n_node++] = node("add0", "Add", 2, ic, 1, out_y);
    ck_assert_int_eq(load(&b, NULL, &g, err, sizeof err), 0);
    ck_assert_int_eq(g->n_nodes, 1);
    int c = lg_graph_find(g, "c");
    ck_assert_int_eq(g->values[c].kind, LG_VAL_CONST);
    ck_assert_float_eq(*(float *)g->values[c].konst->data, 2.5f);
    ck_assert_int_eq(g->values[c].shape.rank, 0);
    lg_graph_free(g);
}
END_TEST

START_TEST(output_not_produced)
{
    mb b;
    lg_graph *g = NULL;
    char err[512];
    mb_add_model(&b, 1);
    b.outs[0] = vi("nope", 1, 2, d23);
    ck_assert_int_eq(load(&b, NULL, &g, err, sizeof err), LG_EMODEL);
    ck_assert_ptr_nonnull(strstr(err, "'nope'"));
}
END_TEST

START_TEST(file_errors)
{
    lg_graph *g = NULL;
    char err[512], path[] = "/tmp/lg-empty-XXXXXX";
    int fd;
    ck_assert_int_lt(lg_onnx_load_file("/nonexistent/m.onnx", NULL, &g, err,
                                       sizeof err), 0);
    ck_assert_ptr_nonnull(strstr(err, "/nonexistent/m.onnx"));
    fd = mkstemp(path);
    close(fd);
    ck_assert_int_eq(lg_onnx_load_file(path, NULL, &g, err, sizeof err),
                     LG_EMODEL);
    ck_assert_ptr_nonnull(strstr(err, "empty"));
    unlink(path);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("onnx_load");
    TCase *t = tcase_create("core");
    tcase_add_test(t, loads_raw_and_typed);
    tcase_add_test(t, truncated_and_garbage);
    tcase_add_test(t, raw_length_mismatch_names_tensor);
    tcase_add_test(t, missing_initializer_names_tensor);
    tcase_add_test(t, cycle_is_reported);
    tcase_add_test(t, unsupported_op_named);
    tcase_add_test(t, empty_required_output);
    tcase_add_test(t, opset_range);
    tcase_add_test(t, dims_overflow);
    tcase_add_test(t, external_data);
    tcase_add_test(t, constant_node_becomes_constant);
    tcase_add_test(t, output_not_produced);
    tcase_add_test(t, file_errors);
    tcase_add_checked_fixture(t, NULL, arena_free);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    int failed;
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
