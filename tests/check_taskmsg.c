/*
 * check_taskmsg.c - unit tests for lib/wire/taskmsg.c, the decoding and
 * validation of the distributed-job control messages (Task, TaskStatus,
 * JobEnd, PartitionStored, TaskResend): valid messages pass with every
 * field intact; each rule refuses with a message naming the field;
 * truncated, malformed and oversized payloads are refused before
 * protobuf-c allocates; random mutations of valid encodings never crash
 * and keep the contracts (run under ASan/UBSan in CI). The fuzzer for the same code is
 * tests/fuzz/fuzz_taskmsg.c.
 */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lgerr.h"
#include "taskmsg.h"
#include "topology.h"

static char err[512];
static plan_topology *topo;

static const char TOPO[] = "Horizon=1000\n"
                           "Node=gs-a Kind=ground\n"
                           "Node=geo Kind=geo\n"
                           "Node=moon Kind=lunar\n"
                           "Node=gs-b Kind=ground\n"
                           "Link=gs-a<>geo Delay=120ms Rate=1M\n"
                           "Link=geo<>moon Delay=1.28s Rate=1M\n"
                           "Link=geo<>gs-b Delay=120ms Rate=1M\n";

#define SHA "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

static void setup(void)
{
    ck_assert_int_eq(plan_topology_parse("t.topo", TOPO, sizeof TOPO - 1,
                                         &topo, err, sizeof err), 0);
}

static void teardown(void)
{
    plan_topology_free(topo);
    topo = NULL;
}

/* ------------------------------------------------------------ helpers */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
    uint64_t x = rng_state;     /* xorshift64* */
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng_state = x;
    return x * 0x2545f4914f6cdd1dull;
}

/* A valid Task as a controller sends it: part 2 of 3, two inputs, two
 * outputs (one to two nodes). Points into static storage. */
static char *g_inputs[300];
static char *g_dst0[70], *g_dst1[1] = { "gs-a" };
static Lagrange__V1__TaskOutput g_out[300], *g_outp[300];

static void sample_task(Lagrange__V1__Task *k)
{
    lagrange__v1__task__init(k);
    k->job = "j0123456789ab";
    k->epoch = 1;
    k->part = 1;
    k->n_parts = 3;
    k->controller = "gs-a";
    k->node = "geo";
    k->partition_sha256 = SHA;
    k->partition_size = 123456;
    k->priority = 3;
    k->deadline_unix_ms = 1700000000000ull;
    k->partition_follows = 1;
    g_inputs[0] = "/layer1/Relu_output_0";
    g_inputs[1] = "x";
    k->inputs = g_inputs;
    k->n_inputs = 2;
    for (int i = 0; i < 300; i++) {
        lagrange__v1__task_output__init(&g_out[i]);
        g_out[i].name = "y";
        g_outp[i] = &g_out[i];
    }
    g_dst0[0] = "moon";
    g_dst0[1] = "gs-b";
    g_out[0].name = "/layer2/Gemm_output_0";
    g_out[0].dst = g_dst0;
    g_out[0].n_dst = 2;
    g_out[1].name = "aux";
    g_out[1].dst = g_dst1;
    g_out[1].n_dst = 1;
    k->outputs = g_outp;
    k->n_outputs = 2;
}

static void sample_status(Lagrange__V1__TaskStatus *st)
{
    lagrange__v1__task_status__init(st);
    st->job = "j0123456789ab";
    st->epoch = 2;
    st->part = 1;
    st->node = "geo";
    st->state = LAGRANGE__V1__TASK_STATUS__STATE__DONE;
    st->detail = "";
    st->exec_s = 0.25;
}

static void sample_end(Lagrange__V1__JobEnd *e)
{
    lagrange__v1__job_end__init(e);
    e->job = "j0123456789ab";
    e->epoch = 0;
    e->why = "COMPLETED";
}

static void sample_stored(Lagrange__V1__PartitionStored *ps)
{
    lagrange__v1__partition_stored__init(ps);
    ps->sha256 = SHA;
    ps->node = "moon";
}

/* A valid TaskResend as a controller sends it after a re-plan: part 2
 * of 3 ran in epoch 2, its two outputs go again under epoch 3 (the same
 * static outputs as sample_task's). */
static void sample_resend(Lagrange__V1__TaskResend *r)
{
    Lagrange__V1__Task k;
    sample_task(&k);            /* fills g_out */
    lagrange__v1__task_resend__init(r);
    r->job = "j0123456789ab";
    r->epoch = 3;
    r->from_epoch = 2;
    r->part = 1;
    r->n_parts = 3;
    r->controller = "gs-a";
    r->outputs = g_outp;
    r->n_outputs = 2;
    r->priority = 5;
}

/* protobuf-c encodings, malloc'd; *len their size. */
static uint8_t *pack_msg(const ProtobufCMessage *m, size_t *len)
{
    uint8_t *buf;
    *len = protobuf_c_message_get_packed_size(m);
    buf = malloc(*len ? *len : 1);
    ck_assert_ptr_nonnull(buf);
    ck_assert_uint_eq(protobuf_c_message_pack(m, buf), *len);
    return buf;
}

enum { M_TASK, M_STATUS, M_END, M_STORED, M_RESEND, M_COUNT };

/* Decode with the decoder for kind; on success check validate agrees and
 * free. The contracts of a refusal are checked here too. */
static int decode(int kind, const uint8_t *p, size_t n)
{
    Lagrange__V1__Task *k = (void *)1;
    Lagrange__V1__TaskStatus *st = (void *)1;
    Lagrange__V1__JobEnd *e = (void *)1;
    Lagrange__V1__PartitionStored *ps = (void *)1;
    Lagrange__V1__TaskResend *r = (void *)1;
    const void *out;
    int rc = 0;
    memset(err, 'x', sizeof err);
    switch (kind) {
    case M_TASK:
        rc = taskmsg_task_decode(p, n, topo, &k, err, sizeof err);
        out = k;
        if (rc == 0) {
            ck_assert_int_eq(taskmsg_task_validate(k, topo, err, sizeof err),
                             0);
            lagrange__v1__task__free_unpacked(k, NULL);
        }
        break;
    case M_STATUS:
        rc = taskmsg_status_decode(p, n, topo, &st, err, sizeof err);
        out = st;
        if (rc == 0) {
            ck_assert_int_eq(taskmsg_status_validate(st, topo, err,
                                                     sizeof err), 0);
            lagrange__v1__task_status__free_unpacked(st, NULL);
        }
        break;
    case M_END:
        rc = taskmsg_end_decode(p, n, &e, err, sizeof err);
        out = e;
        if (rc == 0) {
            ck_assert_int_eq(taskmsg_end_validate(e, err, sizeof err), 0);
            lagrange__v1__job_end__free_unpacked(e, NULL);
        }
        break;
    case M_RESEND:
        rc = taskmsg_resend_decode(p, n, topo, &r, err, sizeof err);
        out = r;
        if (rc == 0) {
            ck_assert_int_eq(taskmsg_resend_validate(r, topo, err,
                                                     sizeof err), 0);
            lagrange__v1__task_resend__free_unpacked(r, NULL);
        }
        break;
    default:
        rc = taskmsg_stored_decode(p, n, topo, &ps, err, sizeof err);
        out = ps;
        if (rc == 0) {
            ck_assert_int_eq(taskmsg_stored_validate(ps, topo, err,
                                                     sizeof err), 0);
            lagrange__v1__partition_stored__free_unpacked(ps, NULL);
        }
        break;
    }
    if (rc < 0) {
        ck_assert_msg(rc == -EMSGSIZE || rc == -EBADMSG || rc == -EINVAL,
                      "unexpected code %d", rc);
        ck_assert_ptr_null(out);
        ck_assert_ptr_nonnull(memchr(err, '\0', sizeof err));
        ck_assert_msg(err[0] != '\0', "refused without a message");
    } else {
        ck_assert_int_eq(rc, 0);
        ck_assert_ptr_nonnull(out);
    }
    return rc;
}

/* Pack m, decode it as kind: expect rc and, when refused, every one of
 * the NULL-terminated words in err. */
static void expect(int kind, const ProtobufCMessage *m, int want,
                   const char *w1, const char *w2)
{
    size_t len;
    uint8_t *buf = pack_msg(m, &len);
    int rc = decode(kind, buf, len);
    free(buf);
    ck_assert_msg(rc == want, "rc %d, want %d (%s)", rc, want,
                  rc ? err : "accepted");
    if (w1)
        ck_assert_msg(strstr(err, w1), "'%s' not in '%s'", w1, err);
    if (w2)
        ck_assert_msg(strstr(err, w2), "'%s' not in '%s'", w2, err);
}

/* ------------------------------------------------------------- valid */

START_TEST(test_valid_roundtrip)
{
    Lagrange__V1__Task k, *k2;
    Lagrange__V1__TaskStatus st, *st2;
    Lagrange__V1__JobEnd e, *e2;
    Lagrange__V1__PartitionStored ps, *ps2;
    Lagrange__V1__TaskResend r, *r2;
    uint8_t *buf;
    size_t len;

    sample_task(&k);
    buf = pack_msg(&k.base, &len);
    ck_assert_int_eq(taskmsg_task_decode(buf, len, topo, &k2, err,
                                         sizeof err), 0);
    ck_assert_str_eq(k2->job, "j0123456789ab");
    ck_assert_uint_eq(k2->epoch, 1);
    ck_assert_uint_eq(k2->part, 1);
    ck_assert_uint_eq(k2->n_parts, 3);
    ck_assert_str_eq(k2->controller, "gs-a");
    ck_assert_str_eq(k2->node, "geo");
    ck_assert_str_eq(k2->partition_sha256, SHA);
    ck_assert_uint_eq(k2->partition_size, 123456);
    ck_assert_uint_eq(k2->priority, 3);
    ck_assert_uint_eq(k2->deadline_unix_ms, 1700000000000ull);
    ck_assert_int_eq(k2->partition_follows, 1);
    ck_assert_uint_eq(k2->n_inputs, 2);
    ck_assert_str_eq(k2->inputs[0], "/layer1/Relu_output_0");
    ck_assert_uint_eq(k2->n_outputs, 2);
    ck_assert_str_eq(k2->outputs[0]->name, "/layer2/Gemm_output_0");
    ck_assert_uint_eq(k2->outputs[0]->n_dst, 2);
    ck_assert_str_eq(k2->outputs[0]->dst[1], "gs-b");
    ck_assert_str_eq(k2->outputs[1]->dst[0], "gs-a");
    lagrange__v1__task__free_unpacked(k2, NULL);
    free(buf);

    sample_status(&st);
    buf = pack_msg(&st.base, &len);
    ck_assert_int_eq(taskmsg_status_decode(buf, len, topo, &st2, err,
                                           sizeof err), 0);
    ck_assert_str_eq(st2->job, "j0123456789ab");
    ck_assert_uint_eq(st2->epoch, 2);
    ck_assert_uint_eq(st2->part, 1);
    ck_assert_str_eq(st2->node, "geo");
    ck_assert_int_eq(st2->state, LAGRANGE__V1__TASK_STATUS__STATE__DONE);
    ck_assert(st2->exec_s == 0.25);
    lagrange__v1__task_status__free_unpacked(st2, NULL);
    free(buf);

    sample_end(&e);
    buf = pack_msg(&e.base, &len);
    ck_assert_int_eq(taskmsg_end_decode(buf, len, &e2, err, sizeof err), 0);
    ck_assert_str_eq(e2->job, "j0123456789ab");
    ck_assert_uint_eq(e2->epoch, 0);
    ck_assert_str_eq(e2->why, "COMPLETED");
    lagrange__v1__job_end__free_unpacked(e2, NULL);
    free(buf);

    sample_stored(&ps);
    buf = pack_msg(&ps.base, &len);
    ck_assert_int_eq(taskmsg_stored_decode(buf, len, topo, &ps2, err,
                                           sizeof err), 0);
    ck_assert_str_eq(ps2->sha256, SHA);
    ck_assert_str_eq(ps2->node, "moon");
    lagrange__v1__partition_stored__free_unpacked(ps2, NULL);
    free(buf);

    sample_resend(&r);
    buf = pack_msg(&r.base, &len);
    ck_assert_int_eq(taskmsg_resend_decode(buf, len, topo, &r2, err,
                                           sizeof err), 0);
    ck_assert_str_eq(r2->job, "j0123456789ab");
    ck_assert_uint_eq(r2->epoch, 3);
    ck_assert_uint_eq(r2->from_epoch, 2);
    ck_assert_uint_eq(r2->part, 1);
    ck_assert_uint_eq(r2->n_parts, 3);
    ck_assert_str_eq(r2->controller, "gs-a");
    ck_assert_uint_eq(r2->priority, 5);
    ck_assert_uint_eq(r2->n_outputs, 2);
    ck_assert_str_eq(r2->outputs[0]->name, "/layer2/Gemm_output_0");
    ck_assert_uint_eq(r2->outputs[0]->n_dst, 2);
    ck_assert_str_eq(r2->outputs[0]->dst[0], "moon");
    ck_assert_str_eq(r2->outputs[0]->dst[1], "gs-b");
    ck_assert_str_eq(r2->outputs[1]->name, "aux");
    ck_assert_str_eq(r2->outputs[1]->dst[0], "gs-a");
    lagrange__v1__task_resend__free_unpacked(r2, NULL);
    free(buf);
}
END_TEST

/* The limits themselves are allowed: 256 inputs and outputs of 200-byte
 * names, 64 nodes per output, part 63 of 64, priority 7, UTF-8 names, a
 * 255-byte detail and why, every state. */
START_TEST(test_valid_limits)
{
    static char name[TASKMSG_VALUE_MAX + 1], text[TASKMSG_TEXT_MAX + 1];
    static const char *nodes[] = { "gs-a", "geo", "moon", "gs-b" };
    Lagrange__V1__Task k;
    Lagrange__V1__TaskStatus st;
    Lagrange__V1__JobEnd e;
    Lagrange__V1__TaskResend r;

    sample_task(&k);
    memset(name, 'v', TASKMSG_VALUE_MAX);
    for (int i = 0; i < TASKMSG_MAX_VALUES; i++) {
        g_inputs[i] = name;
        g_out[i].name = name;
    }
    for (int d = 0; d < TASKMSG_MAX_DST; d++)
        g_dst0[d] = (char *)nodes[d % 4];
    g_out[0].n_dst = TASKMSG_MAX_DST;
    k.n_inputs = TASKMSG_MAX_VALUES;
    k.n_outputs = TASKMSG_MAX_VALUES;
    k.part = 63;
    k.n_parts = 64;
    k.priority = 7;
    expect(M_TASK, &k.base, 0, NULL, NULL);

    sample_task(&k);
    g_inputs[1] = "\xc3\xa9t\xc3\xa9 \xe2\x82\xac \xf0\x9f\x9b\xb0";
    k.job = "j";
    k.part = 0;
    k.n_parts = 1;
    k.epoch = UINT32_MAX;
    k.n_outputs = 0;
    k.n_inputs = 2;
    expect(M_TASK, &k.base, 0, NULL, NULL);

    sample_status(&st);
    memset(text, 'd', TASKMSG_TEXT_MAX);
    st.detail = text;
    st.part = TASKMSG_MAX_PARTS - 1;
    for (int s = 1; s <= 5; s++) {
        st.state = (Lagrange__V1__TaskStatus__State)s;
        expect(M_STATUS, &st.base, 0, NULL, NULL);
    }
    st.detail = "cut inside a UTF-8 sequence \xe2\x82"; /* a worker's cut */
    expect(M_STATUS, &st.base, 0, NULL, NULL);

    sample_end(&e);
    e.why = text;
    e.epoch = 9;
    expect(M_END, &e.base, 0, NULL, NULL);
    e.why = "";
    expect(M_END, &e.base, 0, NULL, NULL);

    /* TaskResend: 256 outputs of 200-byte names, 64 nodes on one, part 63
     * of 64, priority 7, from_epoch just below epoch, a UTF-8 name; and
     * no outputs at all (nothing to send: the worker answers DONE) */
    sample_resend(&r);
    for (int i = 0; i < TASKMSG_MAX_VALUES; i++)
        g_out[i].name = name;
    for (int d = 0; d < TASKMSG_MAX_DST; d++)
        g_dst0[d] = (char *)nodes[d % 4];
    g_out[0].n_dst = TASKMSG_MAX_DST;
    r.n_outputs = TASKMSG_MAX_VALUES;
    r.part = 63;
    r.n_parts = 64;
    r.priority = 7;
    r.epoch = UINT32_MAX;
    r.from_epoch = UINT32_MAX - 1;
    expect(M_RESEND, &r.base, 0, NULL, NULL);

    sample_resend(&r);
    g_out[1].name = "\xc3\xa9t\xc3\xa9 \xe2\x82\xac \xf0\x9f\x9b\xb0";
    r.job = "j";
    r.epoch = 2;
    r.from_epoch = 1;
    r.part = 0;
    r.n_parts = 1;
    r.priority = 0;
    expect(M_RESEND, &r.base, 0, NULL, NULL);
    r.n_outputs = 0;
    expect(M_RESEND, &r.base, 0, NULL, NULL);
}
END_TEST

/* ------------------------------------------------------------ refusals */

START_TEST(test_task_refusals)
{
    static char longname[TASKMSG_VALUE_MAX + 2];
    Lagrange__V1__Task k;

    sample_task(&k);
    k.job = "bad/id";
    expect(M_TASK, &k.base, -EINVAL, "Task: job:", "'bad/id'");
    k.job = "";
    expect(M_TASK, &k.base, -EINVAL, "job:", "not a job id");
    k.job = "j0123456789abc";   /* 14 bytes */
    expect(M_TASK, &k.base, -EINVAL, "job:", NULL);

    sample_task(&k);
    k.epoch = 0;
    expect(M_TASK, &k.base, -EINVAL, "epoch:", NULL);

    sample_task(&k);
    k.n_parts = 0;
    k.part = 0;
    expect(M_TASK, &k.base, -EINVAL, "n_parts: 0", NULL);
    k.n_parts = 65;
    expect(M_TASK, &k.base, -EINVAL, "n_parts: 65", NULL);
    k.n_parts = 3;
    k.part = 3;
    expect(M_TASK, &k.base, -EINVAL, "part: 3 is not below n_parts 3", NULL);

    sample_task(&k);
    k.controller = "mars";
    expect(M_TASK, &k.base, -EINVAL, "controller: 'mars' is not a node",
           NULL);
    k.controller = "";
    expect(M_TASK, &k.base, -EINVAL, "controller:", NULL);

    sample_task(&k);
    k.node = "leo-9";
    expect(M_TASK, &k.base, -EINVAL, "node: 'leo-9' is not a node", NULL);

    sample_task(&k);
    k.partition_sha256 =
        "9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08";
    expect(M_TASK, &k.base, -EINVAL, "partition_sha256:", NULL);
    k.partition_sha256 = "9f86d081";
    expect(M_TASK, &k.base, -EINVAL, "partition_sha256:", NULL);
    k.partition_sha256 = SHA "00";
    expect(M_TASK, &k.base, -EINVAL, "partition_sha256:", NULL);

    sample_task(&k);
    k.priority = 8;
    expect(M_TASK, &k.base, -EINVAL, "priority: 8", NULL);

    sample_task(&k);
    for (int i = 0; i < 257; i++)
        g_inputs[i] = "x";
    k.n_inputs = 257;
    expect(M_TASK, &k.base, -EINVAL, "inputs: more than 256", NULL);

    sample_task(&k);
    k.n_outputs = 257;
    expect(M_TASK, &k.base, -EINVAL, "outputs: more than 256", NULL);

    sample_task(&k);
    g_inputs[1] = "";
    expect(M_TASK, &k.base, -EINVAL, "inputs[1]:", "not a value name");
    memset(longname, 'n', TASKMSG_VALUE_MAX + 1);
    g_inputs[1] = longname;
    expect(M_TASK, &k.base, -EINVAL, "inputs[1]:", NULL);
    g_inputs[1] = "a\nb";
    expect(M_TASK, &k.base, -EINVAL, "inputs[1]: 'a?b'", NULL);
    g_inputs[1] = "caf\xc3";    /* cut UTF-8 */
    expect(M_TASK, &k.base, -EINVAL, "inputs[1]:", NULL);
    g_inputs[1] = "\xc0\xaf";   /* overlong '/' */
    expect(M_TASK, &k.base, -EINVAL, "inputs[1]:", NULL);

    sample_task(&k);
    g_out[1].name = "";
    expect(M_TASK, &k.base, -EINVAL, "outputs[1].name:", NULL);
    g_out[1].name = longname;
    expect(M_TASK, &k.base, -EINVAL, "outputs[1].name:", NULL);

    sample_task(&k);
    g_dst0[1] = "venus";
    expect(M_TASK, &k.base, -EINVAL, "outputs[0].dst[1]: 'venus' is not a "
           "node", NULL);

    sample_task(&k);
    for (int d = 0; d < 65; d++)
        g_dst0[d] = "geo";
    g_out[0].n_dst = 65;
    expect(M_TASK, &k.base, -EINVAL, "outputs[0]: dst: more than 64", NULL);
}
END_TEST

START_TEST(test_status_refusals)
{
    static char text[TASKMSG_TEXT_MAX + 2];
    Lagrange__V1__TaskStatus st;

    sample_status(&st);
    st.job = "j 1";
    expect(M_STATUS, &st.base, -EINVAL, "TaskStatus: job:", NULL);

    sample_status(&st);
    st.epoch = 0;
    expect(M_STATUS, &st.base, -EINVAL, "TaskStatus: epoch:", NULL);

    sample_status(&st);
    st.part = TASKMSG_MAX_PARTS;
    expect(M_STATUS, &st.base, -EINVAL, "part: 64 is not below 64", NULL);

    sample_status(&st);
    st.node = "ghost";
    expect(M_STATUS, &st.base, -EINVAL, "node: 'ghost' is not a node", NULL);

    sample_status(&st);
    st.state = LAGRANGE__V1__TASK_STATUS__STATE__STATE_UNSPECIFIED;
    expect(M_STATUS, &st.base, -EINVAL, "state: 0", NULL);
    st.state = (Lagrange__V1__TaskStatus__State)6;
    expect(M_STATUS, &st.base, -EINVAL, "state: 6", NULL);
    st.state = (Lagrange__V1__TaskStatus__State)-3;
    expect(M_STATUS, &st.base, -EINVAL, "state: -3", NULL);
    st.state = (Lagrange__V1__TaskStatus__State)300;
    expect(M_STATUS, &st.base, -EINVAL, "state: 300", NULL);

    sample_status(&st);
    memset(text, 'd', TASKMSG_TEXT_MAX + 1);
    st.detail = text;
    expect(M_STATUS, &st.base, -EINVAL, "detail:", "255");

    sample_status(&st);
    st.exec_s = NAN;
    expect(M_STATUS, &st.base, -EINVAL, "exec_s:", NULL);
    st.exec_s = -1;
    expect(M_STATUS, &st.base, -EINVAL, "exec_s:", NULL);
    st.exec_s = INFINITY;
    expect(M_STATUS, &st.base, -EINVAL, "exec_s:", NULL);
}
END_TEST

START_TEST(test_end_stored_refusals)
{
    static char text[TASKMSG_TEXT_MAX + 2];
    Lagrange__V1__JobEnd e;
    Lagrange__V1__PartitionStored ps;

    sample_end(&e);
    e.job = "";
    expect(M_END, &e.base, -EINVAL, "JobEnd: job:", NULL);
    sample_end(&e);
    e.why = "line\ninjected";
    expect(M_END, &e.base, -EINVAL, "JobEnd: why: 'line?injected'", NULL);
    memset(text, 'w', TASKMSG_TEXT_MAX + 1);
    e.why = text;
    expect(M_END, &e.base, -EINVAL, "JobEnd: why:", NULL);
    e.why = "\xff\xfe";
    expect(M_END, &e.base, -EINVAL, "JobEnd: why:", NULL);

    sample_stored(&ps);
    ps.sha256 = "not-a-sha";
    expect(M_STORED, &ps.base, -EINVAL, "PartitionStored: sha256:", NULL);
    sample_stored(&ps);
    ps.node = "pluto";
    expect(M_STORED, &ps.base, -EINVAL, "PartitionStored: node: 'pluto'",
           NULL);
    ps.node = "";
    expect(M_STORED, &ps.base, -EINVAL, "node:", NULL);
}
END_TEST

START_TEST(test_resend_refusals)
{
    static char longname[TASKMSG_VALUE_MAX + 2];
    Lagrange__V1__TaskResend r;

    sample_resend(&r);
    r.job = "bad/id";
    expect(M_RESEND, &r.base, -EINVAL, "TaskResend: job:", "'bad/id'");
    r.job = "";
    expect(M_RESEND, &r.base, -EINVAL, "TaskResend: job:", "not a job id");
    r.job = "j0123456789abc";   /* 14 bytes */
    expect(M_RESEND, &r.base, -EINVAL, "TaskResend: job:", NULL);
    r.job = "j\x01";
    expect(M_RESEND, &r.base, -EINVAL, "TaskResend: job: 'j?'", NULL);

    sample_resend(&r);
    r.epoch = 0;
    r.from_epoch = 0;
    expect(M_RESEND, &r.base, -EINVAL, "TaskResend: epoch: 0", NULL);
    sample_resend(&r);
    r.from_epoch = 0;
    expect(M_RESEND, &r.base, -EINVAL, "TaskResend: from_epoch: 0", NULL);
    r.from_epoch = 3;           /* = epoch */
    expect(M_RESEND, &r.base, -EINVAL,
           "TaskResend: from_epoch: 3 is not below epoch 3", NULL);
    r.from_epoch = 4;
    expect(M_RESEND, &r.base, -EINVAL, "from_epoch: 4 is not below epoch 3",
           NULL);
    r.epoch = 1;                /* no earlier epoch to resend from */
    r.from_epoch = 1;
    expect(M_RESEND, &r.base, -EINVAL, "from_epoch: 1 is not below epoch 1",
           NULL);

    sample_resend(&r);
    r.n_parts = 0;
    r.part = 0;
    expect(M_RESEND, &r.base, -EINVAL, "TaskResend: n_parts: 0", NULL);
    r.n_parts = 65;
    expect(M_RESEND, &r.base, -EINVAL, "TaskResend: n_parts: 65", NULL);
    r.n_parts = 3;
    r.part = 3;
    expect(M_RESEND, &r.base, -EINVAL,
           "TaskResend: part: 3 is not below n_parts 3", NULL);
    r.part = UINT32_MAX;
    expect(M_RESEND, &r.base, -EINVAL, "TaskResend: part:", NULL);

    sample_resend(&r);
    r.controller = "mars";
    expect(M_RESEND, &r.base, -EINVAL,
           "TaskResend: controller: 'mars' is not a node", NULL);
    r.controller = "";
    expect(M_RESEND, &r.base, -EINVAL, "TaskResend: controller:", NULL);

    sample_resend(&r);
    r.priority = 8;
    expect(M_RESEND, &r.base, -EINVAL, "TaskResend: priority: 8", NULL);

    sample_resend(&r);
    r.n_outputs = 257;
    expect(M_RESEND, &r.base, -EINVAL, "TaskResend: outputs: more than 256",
           NULL);

    sample_resend(&r);
    g_out[1].name = "";
    expect(M_RESEND, &r.base, -EINVAL, "TaskResend: outputs[1].name:",
           "not a value name");
    memset(longname, 'n', TASKMSG_VALUE_MAX + 1);
    g_out[1].name = longname;
    expect(M_RESEND, &r.base, -EINVAL, "TaskResend: outputs[1].name:", NULL);
    g_out[1].name = "a\tb";
    expect(M_RESEND, &r.base, -EINVAL, "TaskResend: outputs[1].name: 'a?b'",
           NULL);
    g_out[1].name = "caf\xc3";  /* cut UTF-8 */
    expect(M_RESEND, &r.base, -EINVAL, "TaskResend: outputs[1].name:", NULL);
    g_out[1].name = "\xed\xa0\x80"; /* a surrogate */
    expect(M_RESEND, &r.base, -EINVAL, "TaskResend: outputs[1].name:", NULL);

    sample_resend(&r);
    g_dst0[1] = "venus";
    expect(M_RESEND, &r.base, -EINVAL,
           "TaskResend: outputs[0].dst[1]: 'venus' is not a node", NULL);
    sample_resend(&r);
    g_dst1[0] = "";
    expect(M_RESEND, &r.base, -EINVAL, "TaskResend: outputs[1].dst[0]: ''",
           NULL);
    g_dst1[0] = "gs-a";

    sample_resend(&r);
    for (int d = 0; d < 65; d++)
        g_dst0[d] = "geo";
    g_out[0].n_dst = 65;
    expect(M_RESEND, &r.base, -EINVAL,
           "TaskResend: outputs[0]: dst: more than 64", NULL);
}
END_TEST

/* ---------------------------------------------- malformed and truncated */

/* Raw payloads, as a broken or hostile peer would send them. */
START_TEST(test_malformed)
{
    static uint8_t big[TASKMSG_MAX_LEN + 1];
    uint8_t buf[1024];
    size_t n;

    /* a varint that never ends */
    {
        const uint8_t p[] = { 0x10, 0xff, 0xff, 0xff };
        for (int kind = M_TASK; kind < M_COUNT; kind++) {
            ck_assert_int_eq(decode(kind, p, sizeof p), -EBADMSG);
            ck_assert_msg(strstr(err, "does not parse"), "%s", err);
        }
    }
    /* a string longer than what is left */
    {
        const uint8_t p[] = { 0x0a, 0x20, 'j', '1' };
        ck_assert_int_eq(decode(M_TASK, p, sizeof p), -EBADMSG);
        ck_assert_msg(strstr(err, "length runs past the end"), "%s", err);
    }
    /* a group (wire type 3), field number 0 */
    {
        const uint8_t g[] = { 0x0b, 0x0c };
        const uint8_t z[] = { 0x00, 0x01 };
        ck_assert_int_eq(decode(M_END, g, sizeof g), -EBADMSG);
        ck_assert_msg(strstr(err, "wire type"), "%s", err);
        ck_assert_int_eq(decode(M_END, z, sizeof z), -EBADMSG);
        ck_assert_msg(strstr(err, "field number 0"), "%s", err);
    }
    /* the right field number with the wrong wire type: protobuf-c refuses */
    {
        const uint8_t p[] = { 0x0d, 1, 2, 3, 4 };       /* job as fixed32 */
        ck_assert_int_lt(decode(M_TASK, p, sizeof p), 0);
    }
    /* a NUL inside a string: protobuf-c would cut it there */
    {
        const uint8_t p[] = { 0x0a, 0x05, 'j', '1', 0, 'x', 'y' };
        ck_assert_int_eq(decode(M_END, p, sizeof p), -EINVAL);
        ck_assert_msg(strstr(err, "JobEnd: job contains a NUL byte"), "%s",
                      err);
    }
    /* a NUL inside a TaskOutput's dst, found by the nested scan */
    {
        const uint8_t p[] = { 0x4a, 0x07, 0x0a, 0x01, 'y', 0x12, 0x02, 'g',
                              0 };
        ck_assert_int_eq(decode(M_TASK, p, sizeof p), -EINVAL);
        ck_assert_msg(strstr(err, "Task: outputs[0]: dst[0] contains a NUL"),
                      "%s", err);
    }
    /* the same in a TaskResend's output; then a NUL in its controller */
    {
        const uint8_t p[] = { 0x3a, 0x07, 0x0a, 0x01, 'y', 0x12, 0x02, 'g',
                              0 };
        const uint8_t c[] = { 0x32, 0x03, 'g', 0, 'o' };
        ck_assert_int_eq(decode(M_RESEND, p, sizeof p), -EINVAL);
        ck_assert_msg(strstr(err, "TaskResend: outputs[0]: dst[0] contains "
                                  "a NUL"), "%s", err);
        ck_assert_int_eq(decode(M_RESEND, c, sizeof c), -EINVAL);
        ck_assert_msg(strstr(err, "TaskResend: controller contains a NUL"),
                      "%s", err);
    }
    /* a malformed TaskOutput */
    {
        const uint8_t p[] = { 0x4a, 0x02, 0x12, 0x05 };
        ck_assert_int_eq(decode(M_TASK, p, sizeof p), -EBADMSG);
        ck_assert_msg(strstr(err, "Task: outputs[0]: does not parse"), "%s",
                      err);
    }
    /* unknown fields are kept, up to the cap */
    {
        Lagrange__V1__PartitionStored ps;
        uint8_t *enc;
        size_t len;
        sample_stored(&ps);
        enc = pack_msg(&ps.base, &len);
        memcpy(buf, enc, len);
        free(enc);
        n = len;
        for (int i = 0; i < TASKMSG_MAX_OTHER - 2; i++) {
            buf[n++] = 0xf8;    /* field 15, varint */
            buf[n++] = 0x01;
            buf[n++] = (uint8_t)i;
        }
        ck_assert_int_eq(decode(M_STORED, buf, n), 0);
        buf[n++] = 0xf8;
        buf[n++] = 0x01;
        buf[n++] = 0x7f;
        ck_assert_int_eq(decode(M_STORED, buf, n), -EINVAL);
        ck_assert_msg(strstr(err, "more than 64 non-repeated fields"), "%s",
                      err);
    }
    /* too many repeated fields, counted before protobuf-c allocates */
    {
        n = 0;
        for (int i = 0; i < 300; i++) {
            buf[n++] = 0x42;    /* inputs, empty */
            buf[n++] = 0x00;
        }
        ck_assert_int_eq(decode(M_TASK, buf, n), -EINVAL);
        ck_assert_msg(strstr(err, "Task: inputs: more than 256"), "%s", err);
        n = 0;
        for (int i = 0; i < 257; i++) {
            buf[n++] = 0x3a;    /* TaskResend outputs, empty */
            buf[n++] = 0x00;
        }
        ck_assert_int_eq(decode(M_RESEND, buf, n), -EINVAL);
        ck_assert_msg(strstr(err, "TaskResend: outputs: more than 256"), "%s",
                      err);
    }
    /* too many dst in one of a TaskResend's outputs */
    {
        n = 0;
        buf[n++] = 0x3a;        /* outputs, 65 empty dst: 130 bytes */
        buf[n++] = 0x82;
        buf[n++] = 0x01;
        for (int i = 0; i < 65; i++) {
            buf[n++] = 0x12;
            buf[n++] = 0x00;
        }
        ck_assert_int_eq(decode(M_RESEND, buf, n), -EINVAL);
        ck_assert_msg(strstr(err, "TaskResend: outputs[0]: dst: more than 64"),
                      "%s", err);
    }
    /* above TASKMSG_MAX_LEN: refused unread */
    memset(big, 0, sizeof big);
    for (int kind = M_TASK; kind < M_COUNT; kind++) {
        ck_assert_int_eq(decode(kind, big, sizeof big), -EMSGSIZE);
        ck_assert_msg(strstr(err, "above"), "%s", err);
    }
    /* empty: every field missing, refused by the rules */
    for (int kind = M_TASK; kind < M_COUNT; kind++)
        ck_assert_int_eq(decode(kind, (const uint8_t *)"", 0), -EINVAL);
    ck_assert_int_eq(decode(M_STORED, NULL, 0), -EINVAL);
}
END_TEST

static uint8_t *sample_enc(int kind, size_t *len)
{
    Lagrange__V1__Task k;
    Lagrange__V1__TaskStatus st;
    Lagrange__V1__JobEnd e;
    Lagrange__V1__PartitionStored ps;
    Lagrange__V1__TaskResend r;
    switch (kind) {
    case M_TASK:
        sample_task(&k);
        return pack_msg(&k.base, len);
    case M_STATUS:
        sample_status(&st);
        return pack_msg(&st.base, len);
    case M_END:
        sample_end(&e);
        return pack_msg(&e.base, len);
    case M_RESEND:
        sample_resend(&r);
        return pack_msg(&r.base, len);
    default:
        sample_stored(&ps);
        return pack_msg(&ps.base, len);
    }
}

/* Every prefix of every valid encoding: refused or (at a field boundary,
 * with what is left valid) accepted; never a crash or a read past it. */
START_TEST(test_truncated)
{
    for (int kind = M_TASK; kind < M_COUNT; kind++) {
        size_t len;
        uint8_t *enc = sample_enc(kind, &len);
        int refused = 0;
        for (size_t n = 0; n < len; n++) {
            uint8_t *cut = malloc(n ? n : 1);  /* exact size for ASan */
            ck_assert_ptr_nonnull(cut);
            memcpy(cut, enc, n);
            refused += decode(kind, cut, n) < 0;
            free(cut);
        }
        ck_assert_msg(refused > 0, "no prefix refused");
        ck_assert_int_eq(decode(kind, enc, len), 0);
        free(enc);
    }
}
END_TEST

/* Random garbage and random mutations of valid encodings (bit flips,
 * bytes set, inserted, deleted, a cut): no crash, the contracts hold. */
START_TEST(test_mutations)
{
    enum { ITER = 20000 };
    unsigned accepted = 0, refused = 0;
    for (int kind = M_TASK; kind < M_COUNT; kind++) {
        size_t len;
        uint8_t *enc = sample_enc(kind, &len);
        for (int it = 0; it < ITER; it++) {
            size_t n = len, cap = len + 16;
            uint8_t *p = malloc(cap);
            int muts = 1 + (int)(rnd() % 4);
            ck_assert_ptr_nonnull(p);
            memcpy(p, enc, len);
            if (it % 50 == 0) {          /* garbage */
                n = rnd() % cap;
                for (size_t i = 0; i < n; i++)
                    p[i] = (uint8_t)rnd();
                muts = 0;
            }
            for (int m = 0; m < muts && n > 0; m++) {
                size_t at = rnd() % n;
                switch (rnd() % 5) {
                case 0:
                    p[at] ^= (uint8_t)(1u << (rnd() % 8));
                    break;
                case 1:
                    p[at] = (uint8_t)rnd();
                    break;
                case 2:
                    if (n < cap) {
                        memmove(p + at + 1, p + at, n - at);
                        p[at] = (uint8_t)rnd();
                        n++;
                    }
                    break;
                case 3:
                    memmove(p + at, p + at + 1, n - at - 1);
                    n--;
                    break;
                default:
                    n = at;
                    break;
                }
            }
            {
                /* exact-size copy so that ASan sees any read past it */
                uint8_t *q = malloc(n ? n : 1);
                ck_assert_ptr_nonnull(q);
                memcpy(q, p, n);
                if (decode(kind, q, n) == 0)
                    accepted++;
                else
                    refused++;
                free(q);
            }
            free(p);
        }
        free(enc);
    }
    /* both outcomes happen: the loop exercises the rules, not one path */
    ck_assert_uint_gt(accepted, 0);
    ck_assert_uint_gt(refused, 0);
}
END_TEST

START_TEST(test_helpers)
{
    ck_assert(taskmsg_job_ok("j0123456789ab"));
    ck_assert(taskmsg_job_ok("a.b_c-d"));
    ck_assert(!taskmsg_job_ok("j0123456789abc"));
    ck_assert(!taskmsg_job_ok(""));
    ck_assert(!taskmsg_job_ok(NULL));
    ck_assert(!taskmsg_job_ok("j/1"));
    ck_assert(taskmsg_sha_ok(SHA));
    ck_assert(!taskmsg_sha_ok(SHA "0"));
    ck_assert(!taskmsg_sha_ok("9f86"));
    ck_assert(!taskmsg_sha_ok(NULL));
    /* no topology: no name is a node */
    {
        Lagrange__V1__PartitionStored ps;
        sample_stored(&ps);
        ck_assert_int_eq(taskmsg_stored_validate(&ps, NULL, err, sizeof err),
                         -EINVAL);
        /* a short error buffer is still NUL-terminated */
        ck_assert_int_eq(taskmsg_stored_validate(&ps, NULL, err, 8),
                         -EINVAL);
        ck_assert_uint_lt(strlen(err), 8);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("taskmsg");
    TCase *v = tcase_create("valid"), *r = tcase_create("refusals"),
          *m = tcase_create("malformed");
    SRunner *sr;
    int failed;

    tcase_add_checked_fixture(v, setup, teardown);
    tcase_add_checked_fixture(r, setup, teardown);
    tcase_add_checked_fixture(m, setup, teardown);
    tcase_add_test(v, test_valid_roundtrip);
    tcase_add_test(v, test_valid_limits);
    tcase_add_test(v, test_helpers);
    tcase_add_test(r, test_task_refusals);
    tcase_add_test(r, test_status_refusals);
    tcase_add_test(r, test_end_stored_refusals);
    tcase_add_test(r, test_resend_refusals);
    tcase_add_test(m, test_malformed);
    tcase_add_test(m, test_truncated);
    tcase_add_test(m, test_mutations);
    tcase_set_timeout(m, 120);
    suite_add_tcase(s, v);
    suite_add_tcase(s, r);
    suite_add_tcase(s, m);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
