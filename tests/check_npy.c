/*
 * check_npy.c - unit tests for lib/model/npy.c: round trips of every dtype,
 * header variants, malformed inputs (each must fail cleanly with the right
 * code), and an oracle test against numpy (/usr/bin/python3) in both
 * directions, including byte-for-byte equality with np.save.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <check.h>
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lgerr.h"
#include "npy.h"
#include "tensor.h"

#define PY "/usr/bin/python3"

/* ------------------------------------------------------------- helpers */

static char tmpdir[64];

static void mk_tmpdir(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/check_npy.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void rm_tmpdir(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "check_npy: could not remove %s\n", tmpdir);
}

static const char *tpath(const char *name)
{
    static char p[256];
    snprintf(p, sizeof p, "%s/%s", tmpdir, name);
    return p;
}

static void write_bytes(const char *path, const void *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(b, 1, n, f), n);
    ck_assert_int_eq(fclose(f), 0);
}

/* A .npy image with the given version and dictionary text (padded with
 * spaces and '\n' to 64 bytes as numpy does) followed by data. */
static size_t mk_npy(uint8_t *out, size_t cap, int major, const char *dict,
                     const void *data, size_t dn)
{
    size_t pre = major == 1 ? 10 : 12, dl = strlen(dict);
    size_t body = dl + 1, pad = (64 - (pre + body) % 64) % 64;
    size_t hl = body + pad;
    ck_assert_uint_le(pre + hl + dn, cap);
    memcpy(out, "\x93NUMPY", 6);
    out[6] = (uint8_t)major;
    out[7] = 0;
    out[8] = (uint8_t)(hl & 0xff);
    out[9] = (uint8_t)(hl >> 8);
    if (pre == 12) {
        out[10] = (uint8_t)(hl >> 16);
        out[11] = (uint8_t)(hl >> 24);
    }
    memcpy(out + pre, dict, dl);
    memset(out + pre + dl, ' ', pad);
    out[pre + hl - 1] = '\n';
    if (dn)
        memcpy(out + pre + hl, data, dn);
    return pre + hl + dn;
}

/* Parse an image made of dict + data; return the code, free any tensor. */
static int parse_dict(const char *dict, const void *data, size_t dn,
                      char *err, size_t errlen)
{
    uint8_t b[4096];
    size_t n = mk_npy(b, sizeof b, 1, dict, data, dn);
    lg_tensor *t = (lg_tensor *)1;
    int rc = lg_npy_parse(b, n, &t, err, errlen);
    if (rc < 0)
        ck_assert_ptr_null(t);
    else
        lg_tensor_unref(t);
    return rc;
}

/* Fill t with values that depend on the index and the dtype. */
static void fill(lg_tensor *t)
{
    int64_t n = lg_tensor_numel(t);
    for (int64_t i = 0; i < n; i++) {
        switch (t->dtype) {
        case LG_F32: ((float *)t->data)[i] = (float)i * 0.25f - 3.0f; break;
        case LG_F64: ((double *)t->data)[i] = (double)i / 3.0 - 1e300 * (i == 1); break;
        case LG_I64: ((int64_t *)t->data)[i] = i * 1000000007LL - (INT64_MAX / 2) * (i & 1); break;
        case LG_I32: ((int32_t *)t->data)[i] = (int32_t)(i * 77 - 1000); break;
        case LG_U8: ((uint8_t *)t->data)[i] = (uint8_t)(i * 7); break;
        case LG_I8: ((int8_t *)t->data)[i] = (int8_t)(i * 13 - 128); break;
        case LG_BOOL: ((uint8_t *)t->data)[i] = (uint8_t)(i % 3 == 0); break;
        default: break;
        }
    }
}

static lg_tensor *mk_tensor(enum lg_dtype dt, int rank, const int64_t *d)
{
    lg_shape s = lg_shape_make(rank, d);
    lg_tensor *t = lg_tensor_new(dt, &s);
    ck_assert_ptr_nonnull(t);
    fill(t);
    return t;
}

static void assert_same(const lg_tensor *a, const lg_tensor *b)
{
    ck_assert_int_eq(a->dtype, b->dtype);
    ck_assert(lg_shape_eq(&a->shape, &b->shape));
    ck_assert_uint_eq(a->nbytes, b->nbytes);
    if (a->nbytes)
        ck_assert(memcmp(a->data, b->data, a->nbytes) == 0);
}

static const enum lg_dtype all_types[] = {
    LG_F32, LG_F64, LG_I64, LG_I32, LG_BOOL, LG_U8, LG_I8,
};
#define N_TYPES (int)(sizeof all_types / sizeof all_types[0])

/* ---------------------------------------------------------- round trips */

/* Encode, then parse from memory; write, then read from a file. */
static void round_trip(enum lg_dtype dt, int rank, const int64_t *d)
{
    char err[256] = "";
    lg_tensor *t = mk_tensor(dt, rank, d), *u = NULL, *v = NULL;
    void *buf = NULL;
    size_t len = 0;

    ck_assert_int_eq(lg_npy_encode(t, &buf, &len, err, sizeof err), 0);
    /* data starts at a multiple of 64, and the header is v1.0 */
    ck_assert_uint_eq((len - t->nbytes) % 64, 0);
    ck_assert_int_eq(((uint8_t *)buf)[6], 1);
    ck_assert_int_eq(lg_npy_parse(buf, len, &u, err, sizeof err), 0);
    assert_same(t, u);
    ck_assert_uint_eq((uintptr_t)u->data % 64, 0);

    mk_tmpdir();
    ck_assert_msg(lg_npy_write(tpath("t.npy"), t, err, sizeof err) == 0,
                  "%s", err);
    ck_assert_msg(lg_npy_read(tpath("t.npy"), &v, err, sizeof err) == 0,
                  "%s", err);
    assert_same(t, v);
    rm_tmpdir();

    free(buf);
    lg_tensor_unref(t);
    lg_tensor_unref(u);
    lg_tensor_unref(v);
}

START_TEST(test_round_trip_dtypes)
{
    const int64_t d[] = {2, 3, 5};
    for (int i = 0; i < N_TYPES; i++)
        round_trip(all_types[i], 3, d);
}
END_TEST

START_TEST(test_round_trip_shapes)
{
    const int64_t d1[] = {5}, d0[] = {0, 3}, d8[] = {1, 2, 1, 2, 1, 2, 1, 3};
    const int64_t big[] = {1, 3, 224, 224};
    for (int i = 0; i < N_TYPES; i++) {
        round_trip(all_types[i], 0, NULL);  /* scalar */
        round_trip(all_types[i], 1, d1);
        round_trip(all_types[i], 2, d0);    /* empty */
        round_trip(all_types[i], LG_MAX_RANK, d8);
    }
    round_trip(LG_F32, 4, big);
}
END_TEST

START_TEST(test_scalar)
{
    char err[256];
    float v = 3.5f;
    lg_tensor *t = NULL;
    uint8_t b[256];
    size_t n = mk_npy(b, sizeof b, 1,
                      "{'descr': '<f4', 'fortran_order': False, 'shape': (), }",
                      &v, sizeof v);
    ck_assert_int_eq(lg_npy_parse(b, n, &t, err, sizeof err), 0);
    ck_assert_int_eq(t->shape.rank, 0);
    ck_assert_int_eq(lg_tensor_numel(t), 1);
    ck_assert(((float *)t->data)[0] == 3.5f);
    lg_tensor_unref(t);
}
END_TEST

START_TEST(test_rank1)
{
    char err[256];
    int64_t v[5] = {1, -2, 3, -4, 5};
    lg_tensor *t = NULL;
    uint8_t b[256];
    size_t n = mk_npy(b, sizeof b, 1,
                      "{'descr': '<i8', 'fortran_order': False, 'shape': (5,), }",
                      v, sizeof v);
    ck_assert_int_eq(lg_npy_parse(b, n, &t, err, sizeof err), 0);
    ck_assert_int_eq(t->shape.rank, 1);
    ck_assert_int_eq(t->shape.d[0], 5);
    ck_assert_int_eq(t->dtype, LG_I64);
    ck_assert(memcmp(t->data, v, sizeof v) == 0);
    lg_tensor_unref(t);
}
END_TEST

START_TEST(test_v2_v3_headers)
{
    char err[256];
    int32_t v[6] = {1, 2, 3, 4, 5, 6};
    uint8_t b[512];
    for (int major = 2; major <= 3; major++) {
        lg_tensor *t = NULL;
        size_t n = mk_npy(b, sizeof b, major,
                          "{'descr': '<i4', 'fortran_order': False, 'shape': (2, 3), }",
                          v, sizeof v);
        ck_assert_msg(lg_npy_parse(b, n, &t, err, sizeof err) == 0, "%s", err);
        ck_assert_int_eq(t->shape.rank, 2);
        ck_assert_int_eq(t->shape.d[1], 3);
        ck_assert(memcmp(t->data, v, sizeof v) == 0);
        lg_tensor_unref(t);
    }
}
END_TEST

START_TEST(test_header_variants)
{
    char err[256];
    float v[6] = {0};
    static const char *ok[] = {
        "{'shape': (2, 3), 'fortran_order': False, 'descr': '<f4'}",
        "{\"descr\":\"<f4\",\"fortran_order\":False,\"shape\":(2,3)}",
        "  {  'descr' : '=f4' ,\n 'fortran_order' :False,'shape':( 2 , 3 , ) , }  ",
        "{'descr': 'f4', 'fortran_order': False, 'shape': (2L, 3L), }",
        "{'descr':'|f4','fortran_order':False,'shape':(2,3),}\t\r\n",
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        ck_assert_msg(parse_dict(ok[i], v, sizeof v, err, sizeof err) == 0,
                      "%s: %s", ok[i], err);
    /* any byte order on one-byte types */
    ck_assert_int_eq(parse_dict("{'descr': '>u1', 'fortran_order': False, "
                                "'shape': (6,), }", v, 6, err, sizeof err), 0);
    ck_assert_int_eq(parse_dict("{'descr': '<b1', 'fortran_order': False, "
                                "'shape': (6,), }", v, 6, err, sizeof err), 0);
}
END_TEST

START_TEST(test_fortran_order)
{
    /* A 2x3x2 array stored column-major: element (i,j,k) at i + 2j + 6k. */
    char err[256];
    int32_t f[12], *c;
    uint8_t b[512];
    lg_tensor *t = NULL;
    size_t n;
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++)
            for (int k = 0; k < 2; k++)
                f[i + 2 * j + 6 * k] = 100 * i + 10 * j + k;
    n = mk_npy(b, sizeof b, 1,
               "{'descr': '<i4', 'fortran_order': True, 'shape': (2, 3, 2), }",
               f, sizeof f);
    ck_assert_int_eq(lg_npy_parse(b, n, &t, err, sizeof err), 0);
    c = t->data;
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++)
            for (int k = 0; k < 2; k++)
                ck_assert_int_eq(c[(i * 3 + j) * 2 + k], 100 * i + 10 * j + k);
    lg_tensor_unref(t);

    /* and through a file */
    mk_tmpdir();
    write_bytes(tpath("f.npy"), b, n);
    ck_assert_int_eq(lg_npy_read(tpath("f.npy"), &t, err, sizeof err), 0);
    c = t->data;
    ck_assert_int_eq(c[1], 1);
    ck_assert_int_eq(c[2], 10);
    ck_assert_int_eq(c[6], 100);
    lg_tensor_unref(t);
    rm_tmpdir();
}
END_TEST

START_TEST(test_bool_normalized)
{
    char err[256];
    uint8_t v[4] = {0, 1, 2, 255}, b[256];
    lg_tensor *t = NULL;
    size_t n = mk_npy(b, sizeof b, 1,
                      "{'descr': '|b1', 'fortran_order': False, 'shape': (4,), }",
                      v, sizeof v);
    ck_assert_int_eq(lg_npy_parse(b, n, &t, err, sizeof err), 0);
    ck_assert_int_eq(((uint8_t *)t->data)[0], 0);
    ck_assert_int_eq(((uint8_t *)t->data)[2], 1);
    ck_assert_int_eq(((uint8_t *)t->data)[3], 1);
    lg_tensor_unref(t);
}
END_TEST

/* ------------------------------------------------------ malformed input */

START_TEST(test_truncated_header)
{
    char err[256];
    const int64_t d[] = {2, 3};
    lg_tensor *t = mk_tensor(LG_F32, 2, d), *u;
    void *buf;
    size_t len, hdr;
    ck_assert_int_eq(lg_npy_encode(t, &buf, &len, err, sizeof err), 0);
    hdr = len - t->nbytes;
    /* every cut, including inside the header, must fail without reading
     * past the cut (a malloc'd copy of exactly n bytes lets ASan see it) */
    for (size_t n = 0; n < len; n++) {
        uint8_t *c = malloc(n ? n : 1);
        memcpy(c, buf, n);
        u = (lg_tensor *)1;
        err[0] = 0;
        ck_assert_int_eq(lg_npy_parse(c, n, &u, err, sizeof err), LG_EMODEL);
        ck_assert_ptr_null(u);
        ck_assert(err[0] != 0);
        if (n >= 10 && n < hdr)
            ck_assert_msg(strstr(err, "truncated") != NULL, "%s", err);
        free(c);
    }
    ck_assert_int_eq(lg_npy_parse(NULL, 0, &u, err, sizeof err), LG_EMODEL);
    free(buf);
    lg_tensor_unref(t);
}
END_TEST

START_TEST(test_bad_magic)
{
    char err[256];
    uint8_t b[256];
    float v = 1;
    lg_tensor *t;
    size_t n = mk_npy(b, sizeof b, 1,
                      "{'descr': '<f4', 'fortran_order': False, 'shape': (), }",
                      &v, sizeof v);
    b[1] = 'X';
    ck_assert_int_eq(lg_npy_parse(b, n, &t, err, sizeof err), LG_EMODEL);
    ck_assert_msg(strstr(err, "magic") != NULL, "%s", err);
    ck_assert_int_eq(lg_npy_parse("PK\3\4", 4, &t, err, sizeof err), LG_EMODEL);
    /* an unknown version is valid-looking but unsupported */
    b[1] = 'N';
    b[6] = 4;
    ck_assert_int_eq(lg_npy_parse(b, n, &t, err, sizeof err), LG_EUNSUP);
    ck_assert_msg(strstr(err, "version 4.0") != NULL, "%s", err);
}
END_TEST

START_TEST(test_bad_dict)
{
    char err[256];
    uint8_t data[64] = {0};
    static const char *bad[] = {
        "",
        "{",
        "}",
        "[]",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), ",
        "{'descr': '<f4' 'fortran_order': False, 'shape': (2,)}",
        "{'descr' '<f4', 'fortran_order': False, 'shape': (2,)}",
        "{'descr': '<f4, 'fortran_order': False, 'shape': (2,)}",
        "{'descr': <f4, 'fortran_order': False, 'shape': (2,)}",
        "{'descr': '<f4', 'fortran_order': false, 'shape': (2,)}",
        "{'descr': '<f4', 'fortran_order': 0, 'shape': (2,)}",
        "{'descr': '<f4', 'fortran_order': Falsey, 'shape': (2,)}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': [2]}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2)}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2,,)}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (,)}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2 3)}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2.0,)}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (0x2,)}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2,)} x",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2,)}}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}",
        "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,)}",
        "{'descr': '\\x3cf4', 'fortran_order': False, 'shape': (2,)}",
        "{'descr': '', 'fortran_order': False, 'shape': (2,)}",
        "{,'descr': '<f4', 'fortran_order': False, 'shape': (2,)}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2,)\0}",
        "{'descr': 5, 'fortran_order': False, 'shape': (2,)}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = 0;
        ck_assert_msg(parse_dict(bad[i], data, 8, err, sizeof err) == LG_EMODEL,
                      "accepted: %s", bad[i]);
        ck_assert_msg(strncmp(err, "header: ", 8) == 0, "%s", err);
    }
}
END_TEST

START_TEST(test_missing_key)
{
    char err[256];
    uint8_t data[8] = {0};
    ck_assert_int_eq(parse_dict("{'descr': '<f4', 'fortran_order': False}",
                                data, 4, err, sizeof err), LG_EMODEL);
    ck_assert_str_eq(err, "header: missing key 'shape'");
    ck_assert_int_eq(parse_dict("{'shape': (2,), 'fortran_order': False}",
                                data, 8, err, sizeof err), LG_EMODEL);
    ck_assert_str_eq(err, "header: missing key 'descr'");
    ck_assert_int_eq(parse_dict("{'shape': (2,), 'descr': '<f4'}",
                                data, 8, err, sizeof err), LG_EMODEL);
    ck_assert_str_eq(err, "header: missing key 'fortran_order'");
    ck_assert_int_eq(parse_dict("{}", data, 8, err, sizeof err), LG_EMODEL);
}
END_TEST

START_TEST(test_huge_dims)
{
    char err[256];
    uint8_t data[8] = {0};
    static const char *bad[] = {
        /* product overflows 64 bits */
        "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 4294967296), }",
        /* a dimension that does not fit 64 bits */
        "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999999,), }",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (9223372036854775808,), }",
        /* fits int64 but over the tensor byte limit */
        "{'descr': '<f8', 'fortran_order': False, 'shape': (2147483648, 2), }",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (-1, 2), }",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 1, 1, 1, 1, 1, 1, 1), }",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = 0;
        ck_assert_msg(parse_dict(bad[i], data, 4, err, sizeof err) == LG_EMODEL,
                      "accepted: %s", bad[i]);
        ck_assert(err[0] != 0);
    }
    parse_dict(bad[0], data, 4, err, sizeof err);
    ck_assert_msg(strstr(err, "tensor limit") != NULL, "%s", err);
    parse_dict(bad[4], data, 4, err, sizeof err);
    ck_assert_msg(strstr(err, "negative dimension -1") != NULL, "%s", err);
    parse_dict(bad[5], data, 4, err, sizeof err);
    ck_assert_msg(strstr(err, "more than 8 dimensions") != NULL, "%s", err);
    /* INT64_MAX itself parses, then is over the limit */
    ck_assert_int_eq(parse_dict("{'descr': '|u1', 'fortran_order': False, "
                                "'shape': (9223372036854775807,), }",
                                data, 4, err, sizeof err), LG_EMODEL);
}
END_TEST

START_TEST(test_data_size)
{
    char err[256];
    float v[7] = {0};
    const char *d = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
    ck_assert_int_eq(parse_dict(d, v, 6 * 4, err, sizeof err), 0);
    ck_assert_int_eq(parse_dict(d, v, 6 * 4 - 1, err, sizeof err), LG_EMODEL);
    ck_assert_str_eq(err, "data: truncated: shape [2,3] of float32 needs 24 "
                          "bytes, 23 present");
    ck_assert_int_eq(parse_dict(d, v, 0, err, sizeof err), LG_EMODEL);
    ck_assert_int_eq(parse_dict(d, v, 7 * 4, err, sizeof err), LG_EMODEL);
    ck_assert_msg(strstr(err, "4 trailing bytes") != NULL, "%s", err);
}
END_TEST

START_TEST(test_unsupported)
{
    char err[256];
    uint8_t data[64] = {0};
    static const struct {
        const char *descr, *msg;
    } cases[] = {
        {"'>f4'", "big-endian dtype '>f4'"},
        {"'>i8'", "big-endian dtype '>i8'"},
        {"'<f2'", "unsupported dtype '<f2'"},
        {"'<c8'", "unsupported dtype '<c8'"},
        {"'<U3'", "unsupported dtype '<U3'"},
        {"'|O'", "object arrays"},
        {"'<M8[ns]'", "unsupported dtype '<M8[ns]'"},
        {"[('a', '<f4'), ('b', '<i4')]", "structured dtypes"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char dict[256];
        snprintf(dict, sizeof dict,
                 "{'descr': %s, 'fortran_order': False, 'shape': (2,), }",
                 cases[i].descr);
        ck_assert_int_eq(parse_dict(dict, data, 16, err, sizeof err), LG_EUNSUP);
        ck_assert_msg(strstr(err, cases[i].msg) != NULL, "%s", err);
    }
}
END_TEST

START_TEST(test_read_errors_name_file)
{
    char err[256];
    uint8_t b[256], z[8] = {0};
    lg_tensor *t = (lg_tensor *)1;
    size_t n = mk_npy(b, sizeof b, 1,
                      "{'descr': '<f2', 'fortran_order': False, 'shape': (2,), }",
                      z, 4);
    mk_tmpdir();
    write_bytes(tpath("x.npy"), b, n);
    ck_assert_int_eq(lg_npy_read(tpath("x.npy"), &t, err, sizeof err), LG_EUNSUP);
    ck_assert_ptr_null(t);
    {
        char want[300];
        snprintf(want, sizeof want, "%s: header: unsupported dtype '<f2'",
                 tpath("x.npy"));
        ck_assert_str_eq(err, want);
    }
    /* every cut of a valid file fails with LG_EMODEL, naming the file */
    n = mk_npy(b, sizeof b, 2,
               "{'descr': '<i4', 'fortran_order': True, 'shape': (2, 1), }",
               z, 8);
    for (size_t cut = 0; cut < n; cut++) {
        write_bytes(tpath("cut.npy"), b, cut);
        ck_assert_int_eq(lg_npy_read(tpath("cut.npy"), &t, err, sizeof err),
                         LG_EMODEL);
        ck_assert(strstr(err, "cut.npy: ") != NULL);
    }
    write_bytes(tpath("cut.npy"), b, n);
    ck_assert_int_eq(lg_npy_read(tpath("cut.npy"), &t, err, sizeof err), 0);
    lg_tensor_unref(t);
    b[n] = 0;
    write_bytes(tpath("cut.npy"), b, n + 1);
    ck_assert_int_eq(lg_npy_read(tpath("cut.npy"), &t, err, sizeof err),
                     LG_EMODEL);
    ck_assert_msg(strstr(err, "1 trailing bytes") != NULL, "%s", err);

    /* a header longer than LG_NPY_MAX_HEADER is refused before reading it */
    {
        size_t hl = LG_NPY_MAX_HEADER + 64, fl = 12 + hl;
        uint8_t *big = malloc(fl);
        ck_assert_ptr_nonnull(big);
        memset(big, ' ', fl);
        memcpy(big, "\x93NUMPY\x02\x00", 8);
        big[8] = (uint8_t)hl;
        big[9] = (uint8_t)(hl >> 8);
        big[10] = (uint8_t)(hl >> 16);
        big[11] = (uint8_t)(hl >> 24);
        write_bytes(tpath("big.npy"), big, fl);
        free(big);
        ck_assert_int_eq(lg_npy_read(tpath("big.npy"), &t, err, sizeof err),
                         LG_EMODEL);
        ck_assert_msg(strstr(err, "exceeds the 1048576-byte limit") != NULL,
                      "%s", err);
    }
    ck_assert_int_eq(lg_npy_read(tpath("missing.npy"), &t, err, sizeof err),
                     -ENOENT);
    ck_assert(strstr(err, "missing.npy: open: ") != NULL);
    ck_assert_int_eq(lg_npy_read(tmpdir, &t, err, sizeof err) < 0, 1);
    /* a NULL error buffer is allowed */
    ck_assert_int_eq(lg_npy_read(tpath("x.npy"), &t, NULL, 0), LG_EUNSUP);
    rm_tmpdir();
}
END_TEST

START_TEST(test_write_replaces_atomically)
{
    char err[256];
    const int64_t d1[] = {1000}, d2[] = {3};
    lg_tensor *a = mk_tensor(LG_F32, 1, d1), *b = mk_tensor(LG_I8, 1, d2), *u;
    DIR *dir;
    struct dirent *de;
    int files = 0;

    mk_tmpdir();
    ck_assert_int_eq(lg_npy_write(tpath("o.npy"), a, err, sizeof err), 0);
    ck_assert_int_eq(lg_npy_write(tpath("o.npy"), b, err, sizeof err), 0);
    ck_assert_int_eq(lg_npy_read(tpath("o.npy"), &u, err, sizeof err), 0);
    assert_same(b, u);
    lg_tensor_unref(u);
    dir = opendir(tmpdir);
    ck_assert_ptr_nonnull(dir);
    while ((de = readdir(dir)) != NULL)
        if (de->d_name[0] != '.')
            files++;
    closedir(dir);
    ck_assert_int_eq(files, 1);     /* no temporary left behind */

    ck_assert_int_eq(lg_npy_write("/nonexistent-dir/o.npy", a, err, sizeof err),
                     -ENOENT);
    ck_assert_msg(strncmp(err, "/nonexistent-dir/o.npy: ", 24) == 0, "%s", err);
    {
        lg_tensor bad = *a;
        bad.dtype = LG_UNDEF;
        ck_assert_int_eq(lg_npy_write(tpath("u.npy"), &bad, err, sizeof err),
                         LG_EUNSUP);
        bad = *a;
        bad.nbytes = 12;
        ck_assert_int_eq(lg_npy_write(tpath("u.npy"), &bad, err, sizeof err),
                         -EINVAL);
    }
    rm_tmpdir();
    lg_tensor_unref(a);
    lg_tensor_unref(b);
}
END_TEST

/* ---------------------------------------------------------- numpy oracle */

/* numpy writes, we read: one file per case, values from simple formulas. */
static const char *py_gen =
    "import sys, numpy as np\n"
    "from numpy.lib import format as F\n"
    "d = sys.argv[1]\n"
    "def save(n, a): np.save(d + '/' + n + '.npy', a)\n"
    "save('f32', (np.arange(24, dtype=np.float32) * 0.5 - 3).reshape(2, 3, 4))\n"
    "save('f64', np.arange(7, dtype=np.float64) / 3.0)\n"
    "save('i64', np.array([[-2**62, 5], [7, 2**62]], dtype=np.int64))\n"
    "save('i32', np.arange(-5, 5, dtype=np.int32).reshape(2, 5))\n"
    "save('b1', np.array([True, False, True, True]))\n"
    "save('u1', np.arange(256, dtype=np.uint8))\n"
    "save('i1', np.arange(-128, 128, dtype=np.int8).reshape(16, 16))\n"
    "save('scalar', np.array(2.5, dtype=np.float32))\n"
    "save('empty', np.zeros((0, 3), dtype=np.float32))\n"
    "save('rank8', np.arange(64, dtype=np.int64).reshape(2, 2, 2, 2, 2, 2, 1, 1))\n"
    "save('fortran', np.asfortranarray(np.arange(24, dtype=np.int32).reshape(2, 3, 4)))\n"
    "save('transposed', np.arange(12, dtype=np.float64).reshape(3, 4).T)\n"
    "save('bigendian', np.arange(3, dtype='>f4'))\n"
    "save('half', np.arange(3, dtype=np.float16))\n"
    "for v in (2, 3):\n"
    "    with open(d + '/v%d.npy' % v, 'wb') as f:\n"
    "        F.write_array(f, np.arange(6, dtype=np.int32).reshape(3, 2), version=(v, 0))\n";

/* we write, numpy reads: check dtype, shape, values, and that our bytes
 * are exactly what np.save would have written. */
static const char *py_check =
    "import sys, io, numpy as np\n"
    "d = sys.argv[1]\n"
    "def check(n, want):\n"
    "    p = d + '/' + n + '.npy'\n"
    "    a = np.load(p)\n"
    "    assert a.dtype == want.dtype, (n, a.dtype, want.dtype)\n"
    "    assert a.shape == want.shape, (n, a.shape, want.shape)\n"
    "    assert np.array_equal(a, want), (n, a, want)\n"
    "    b = io.BytesIO(); np.save(b, want)\n"
    "    assert open(p, 'rb').read() == b.getvalue(), (n, 'bytes differ from np.save')\n"
    "i = np.arange(30)\n"
    "check('f32', (i * 0.25 - 3).astype(np.float32).reshape(2, 3, 5))\n"
    "check('f64', (i / 3.0 - 1e300 * (i == 1)).reshape(2, 3, 5))\n"
    "check('i64', (i * 1000000007 - (2**63 - 1) // 2 * (i & 1)).astype(np.int64).reshape(2, 3, 5))\n"
    "check('i32', (i * 77 - 1000).astype(np.int32).reshape(2, 3, 5))\n"
    "check('u1', (i * 7).astype(np.uint8).reshape(2, 3, 5))\n"
    "check('i1', (i * 13 - 128).astype(np.int8).reshape(2, 3, 5))\n"
    "check('b1', (i % 3 == 0).reshape(2, 3, 5))\n"
    "check('scalar', np.array(-3.0, dtype=np.float32))\n"
    "check('rank1', np.arange(5, dtype=np.int32) * 77 - 1000)\n"
    "check('empty', np.zeros((0, 4), dtype=np.float32))\n"
    "check('rank8', (np.arange(24) * 7).astype(np.uint8).reshape(1, 2, 1, 3, 1, 4, 1, 1))\n"
    "check('wide', (np.arange(36) * 0.25 - 3).astype(np.float32).reshape(1, 36))\n"
    "print('numpy oracle: ok')\n";

static int have_numpy(void)
{
    return system(PY " -c 'import numpy' >/dev/null 2>&1") == 0;
}

static int run_py(const char *script, const char *name)
{
    char cmd[512];
    FILE *f = fopen(tpath(name), "w");
    ck_assert_ptr_nonnull(f);
    fputs(script, f);
    ck_assert_int_eq(fclose(f), 0);
    snprintf(cmd, sizeof cmd, PY " '%s/%s' '%s'", tmpdir, name, tmpdir);
    return system(cmd);
}

static lg_tensor *rd(const char *name)
{
    char err[256], file[64];
    lg_tensor *t = NULL;
    snprintf(file, sizeof file, "%s.npy", name);
    ck_assert_msg(lg_npy_read(tpath(file), &t, err, sizeof err) == 0, "%s", err);
    return t;
}

START_TEST(test_oracle_numpy_writes)
{
    char err[256];
    lg_tensor *t;
    if (!have_numpy()) {
        fprintf(stderr, "check_npy: SKIP numpy oracle: " PY " lacks numpy\n");
        return;
    }
    mk_tmpdir();
    ck_assert_int_eq(run_py(py_gen, "gen.py"), 0);

    t = rd("f32");
    ck_assert_int_eq(t->dtype, LG_F32);
    ck_assert_int_eq(t->shape.rank, 3);
    ck_assert_int_eq(t->shape.d[2], 4);
    for (int i = 0; i < 24; i++)
        ck_assert(((float *)t->data)[i] == (float)i * 0.5f - 3.0f);
    lg_tensor_unref(t);

    t = rd("f64");
    ck_assert_int_eq(t->dtype, LG_F64);
    for (int i = 0; i < 7; i++)
        ck_assert(((double *)t->data)[i] == (double)i / 3.0);
    lg_tensor_unref(t);

    t = rd("i64");
    ck_assert_int_eq(t->dtype, LG_I64);
    ck_assert_int_eq(((int64_t *)t->data)[0], -(INT64_C(1) << 62));
    ck_assert_int_eq(((int64_t *)t->data)[1], 5);
    ck_assert_int_eq(((int64_t *)t->data)[2], 7);
    ck_assert_int_eq(((int64_t *)t->data)[3], INT64_C(1) << 62);
    lg_tensor_unref(t);

    t = rd("i32");
    ck_assert_int_eq(t->dtype, LG_I32);
    for (int i = 0; i < 10; i++)
        ck_assert_int_eq(((int32_t *)t->data)[i], i - 5);
    lg_tensor_unref(t);

    t = rd("b1");
    ck_assert_int_eq(t->dtype, LG_BOOL);
    ck_assert(memcmp(t->data, "\1\0\1\1", 4) == 0);
    lg_tensor_unref(t);

    t = rd("u1");
    ck_assert_int_eq(t->dtype, LG_U8);
    for (int i = 0; i < 256; i++)
        ck_assert_int_eq(((uint8_t *)t->data)[i], i);
    lg_tensor_unref(t);

    t = rd("i1");
    ck_assert_int_eq(t->dtype, LG_I8);
    ck_assert_int_eq(t->shape.d[0], 16);
    for (int i = 0; i < 256; i++)
        ck_assert_int_eq(((int8_t *)t->data)[i], i - 128);
    lg_tensor_unref(t);

    t = rd("scalar");
    ck_assert_int_eq(t->shape.rank, 0);
    ck_assert(((float *)t->data)[0] == 2.5f);
    lg_tensor_unref(t);

    t = rd("empty");
    ck_assert_int_eq(t->shape.rank, 2);
    ck_assert_int_eq(t->shape.d[0], 0);
    ck_assert_int_eq(t->shape.d[1], 3);
    ck_assert_uint_eq(t->nbytes, 0);
    lg_tensor_unref(t);

    t = rd("rank8");
    ck_assert_int_eq(t->shape.rank, 8);
    for (int i = 0; i < 64; i++)
        ck_assert_int_eq(((int64_t *)t->data)[i], i);
    lg_tensor_unref(t);

    t = rd("fortran");             /* written with fortran_order True */
    ck_assert_int_eq(t->shape.d[0], 2);
    ck_assert_int_eq(t->shape.d[2], 4);
    for (int i = 0; i < 24; i++)
        ck_assert_int_eq(((int32_t *)t->data)[i], i);
    lg_tensor_unref(t);

    t = rd("transposed");          /* a.T of a 3x4: element (i,j) = 4j+i */
    ck_assert_int_eq(t->shape.d[0], 4);
    ck_assert_int_eq(t->shape.d[1], 3);
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 3; j++)
            ck_assert(((double *)t->data)[i * 3 + j] == (double)(4 * j + i));
    lg_tensor_unref(t);

    for (int v = 2; v <= 3; v++) {
        char n[16];
        snprintf(n, sizeof n, "v%d", v);
        t = rd(n);
        ck_assert_int_eq(t->shape.d[0], 3);
        for (int i = 0; i < 6; i++)
            ck_assert_int_eq(((int32_t *)t->data)[i], i);
        lg_tensor_unref(t);
    }

    ck_assert_int_eq(lg_npy_read(tpath("bigendian.npy"), &t, err, sizeof err),
                     LG_EUNSUP);
    ck_assert_msg(strstr(err, "big-endian dtype '>f4'") != NULL, "%s", err);
    ck_assert_int_eq(lg_npy_read(tpath("half.npy"), &t, err, sizeof err),
                     LG_EUNSUP);
    ck_assert_msg(strstr(err, "half.npy: header: unsupported dtype '<f2'") != NULL,
                  "%s", err);
    rm_tmpdir();
}
END_TEST

static void wr(const char *name, enum lg_dtype dt, int rank, const int64_t *d)
{
    char err[256], file[64];
    lg_tensor *t = mk_tensor(dt, rank, d);
    snprintf(file, sizeof file, "%s.npy", name);
    ck_assert_msg(lg_npy_write(tpath(file), t, err, sizeof err) == 0, "%s", err);
    lg_tensor_unref(t);
}

START_TEST(test_oracle_numpy_reads)
{
    const int64_t d3[] = {2, 3, 5}, d1[] = {5}, d0[] = {0, 4};
    const int64_t d8[] = {1, 2, 1, 3, 1, 4, 1, 1}, dw[] = {1, 36};
    char err[256];
    lg_tensor *s;
    if (!have_numpy()) {
        fprintf(stderr, "check_npy: SKIP numpy oracle: " PY " lacks numpy\n");
        return;
    }
    mk_tmpdir();
    wr("f32", LG_F32, 3, d3);
    wr("f64", LG_F64, 3, d3);
    wr("i64", LG_I64, 3, d3);
    wr("i32", LG_I32, 3, d3);
    wr("u1", LG_U8, 3, d3);
    wr("i1", LG_I8, 3, d3);
    wr("b1", LG_BOOL, 3, d3);
    wr("rank1", LG_I32, 1, d1);
    wr("empty", LG_F32, 2, d0);
    wr("rank8", LG_U8, 8, d8);
    wr("wide", LG_F32, 2, dw);
    s = lg_tensor_new(LG_F32, &(lg_shape){0, {0}});
    ((float *)s->data)[0] = -3.0f;
    ck_assert_int_eq(lg_npy_write(tpath("scalar.npy"), s, err, sizeof err), 0);
    lg_tensor_unref(s);
    ck_assert_int_eq(run_py(py_check, "check.py"), 0);
    rm_tmpdir();
}
END_TEST

/* ------------------------------------------------------------------ main */

static Suite *npy_suite(void)
{
    Suite *s = suite_create("npy");
    TCase *tc = tcase_create("core");
    TCase *bad = tcase_create("malformed");
    TCase *orc = tcase_create("oracle");

    tcase_add_test(tc, test_round_trip_dtypes);
    tcase_add_test(tc, test_round_trip_shapes);
    tcase_add_test(tc, test_scalar);
    tcase_add_test(tc, test_rank1);
    tcase_add_test(tc, test_v2_v3_headers);
    tcase_add_test(tc, test_header_variants);
    tcase_add_test(tc, test_fortran_order);
    tcase_add_test(tc, test_bool_normalized);
    tcase_add_test(tc, test_write_replaces_atomically);
    suite_add_tcase(s, tc);

    tcase_add_test(bad, test_truncated_header);
    tcase_add_test(bad, test_bad_magic);
    tcase_add_test(bad, test_bad_dict);
    tcase_add_test(bad, test_missing_key);
    tcase_add_test(bad, test_huge_dims);
    tcase_add_test(bad, test_data_size);
    tcase_add_test(bad, test_unsupported);
    tcase_add_test(bad, test_read_errors_name_file);
    suite_add_tcase(s, bad);

    tcase_set_timeout(orc, 120);
    tcase_add_test(orc, test_oracle_numpy_writes);
    tcase_add_test(orc, test_oracle_numpy_reads);
    suite_add_tcase(s, orc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(npy_suite());
    int failed;
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
