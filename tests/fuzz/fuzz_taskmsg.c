/*
 * fuzz_taskmsg.c - libFuzzer target for the distributed-job control
 * messages (lib/wire/taskmsg.c: Task, TaskStatus, JobEnd,
 * PartitionStored, TaskResend, as the CONTROL bundles "task",
 * "task.status", "job.end", "part.stored" and "task.resend" carry them).
 *
 * Input: one selector byte, then a payload. The selector modulo 5 picks
 * the decoder (0 Task, 1 TaskStatus, 2 JobEnd, 3 PartitionStored,
 * 4 TaskResend; selectors 0..3 mean what they meant when the low 2 bits
 * picked among the first four, so older seeds and findings keep their
 * meaning); the payload goes to it with a built-in topology of four nodes
 * (gs-a, geo, moon, gs-b). Beyond "no crash, no leak, no out-of-bounds read"
 * (ASan/UBSan), it checks the contracts: a refusal returns -EMSGSIZE,
 * -EBADMSG or -EINVAL, leaves *out NULL and a non-empty NUL-terminated
 * message; what is accepted passes its validate function again, packs
 * with protobuf-c, and the packed bytes decode again to the same fields
 * (the rules hold for what the daemon itself would send on). Build and run
 * with tests/fuzz/run.sh (target name: taskmsg).
 *
 * Seeds (tests/fuzz/corpus_taskmsg/: a Task with inputs and outputs, a
 * minimal Task, one with part = n_parts, TaskStatus in four states,
 * JobEnd for every epoch and for one, PartitionStored, a TaskResend with
 * outputs, one without, one with from_epoch = epoch) are written by
 * Python's protobuf runtime:
 *   protoc-c -Iproto -o /tmp/wire.desc proto/lagrange/v1/wire.proto
 *   /usr/bin/python3 tests/fuzz/gen_taskmsg_corpus.py /tmp/wire.desc \
 *       tests/fuzz/corpus_taskmsg
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lgerr.h"
#include "taskmsg.h"
#include "topology.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char TOPO[] = "Horizon=1000\n"
                           "Node=gs-a Kind=ground\n"
                           "Node=geo Kind=geo\n"
                           "Node=moon Kind=lunar\n"
                           "Node=gs-b Kind=ground\n"
                           "Link=gs-a<>geo Delay=120ms Rate=1M\n"
                           "Link=geo<>moon Delay=1.28s Rate=1M\n"
                           "Link=geo<>gs-b Delay=120ms Rate=1M\n";

static plan_topology *topo;     /* parsed once, kept (reachable) */

static void same_str(const char *a, const char *b)
{
    if (strcmp(a, b))
        abort();
}

static void refused(int rc, const void *out, const char *err, size_t errlen)
{
    if (rc != -EMSGSIZE && rc != -EBADMSG && rc != -EINVAL)
        abort();
    if (out || !memchr(err, '\0', errlen) || !err[0])
        abort();
}

static void task(const uint8_t *p, size_t n)
{
    char err[256];
    Lagrange__V1__Task *k, *k2;
    uint8_t *buf;
    size_t len;
    int rc;
    memset(err, 'x', sizeof err);
    rc = taskmsg_task_decode(p, n, topo, &k, err, sizeof err);
    if (rc < 0) {
        refused(rc, k, err, sizeof err);
        return;
    }
    if (rc != 0 || !k || taskmsg_task_validate(k, topo, err, sizeof err))
        abort();
    len = lagrange__v1__task__get_packed_size(k);
    if (!(buf = malloc(len ? len : 1)))
        abort();
    if (lagrange__v1__task__pack(k, buf) != len ||
        taskmsg_task_decode(buf, len, topo, &k2, err, sizeof err) != 0)
        abort();
    same_str(k->job, k2->job);
    same_str(k->controller, k2->controller);
    same_str(k->node, k2->node);
    same_str(k->partition_sha256, k2->partition_sha256);
    if (k->epoch != k2->epoch || k->part != k2->part ||
        k->n_parts != k2->n_parts || k->priority != k2->priority ||
        k->partition_size != k2->partition_size ||
        k->deadline_unix_ms != k2->deadline_unix_ms ||
        k->partition_follows != k2->partition_follows ||
        k->n_inputs != k2->n_inputs || k->n_outputs != k2->n_outputs)
        abort();
    for (size_t i = 0; i < k->n_inputs; i++)
        same_str(k->inputs[i], k2->inputs[i]);
    for (size_t i = 0; i < k->n_outputs; i++) {
        const Lagrange__V1__TaskOutput *a = k->outputs[i], *b = k2->outputs[i];
        same_str(a->name, b->name);
        if (a->n_dst != b->n_dst)
            abort();
        for (size_t d = 0; d < a->n_dst; d++)
            same_str(a->dst[d], b->dst[d]);
    }
    lagrange__v1__task__free_unpacked(k2, NULL);
    lagrange__v1__task__free_unpacked(k, NULL);
    free(buf);
}

static void status(const uint8_t *p, size_t n)
{
    char err[256];
    Lagrange__V1__TaskStatus *st, *st2;
    uint8_t *buf;
    size_t len;
    int rc;
    memset(err, 'x', sizeof err);
    rc = taskmsg_status_decode(p, n, topo, &st, err, sizeof err);
    if (rc < 0) {
        refused(rc, st, err, sizeof err);
        return;
    }
    if (rc != 0 || !st || taskmsg_status_validate(st, topo, err, sizeof err))
        abort();
    len = lagrange__v1__task_status__get_packed_size(st);
    if (!(buf = malloc(len ? len : 1)))
        abort();
    if (lagrange__v1__task_status__pack(st, buf) != len ||
        taskmsg_status_decode(buf, len, topo, &st2, err, sizeof err) != 0)
        abort();
    same_str(st->job, st2->job);
    same_str(st->node, st2->node);
    same_str(st->detail, st2->detail);
    if (st->epoch != st2->epoch || st->part != st2->part ||
        st->state != st2->state || st->exec_s != st2->exec_s)
        abort();
    lagrange__v1__task_status__free_unpacked(st2, NULL);
    lagrange__v1__task_status__free_unpacked(st, NULL);
    free(buf);
}

static void end(const uint8_t *p, size_t n)
{
    char err[256];
    Lagrange__V1__JobEnd *e, *e2;
    uint8_t *buf;
    size_t len;
    int rc;
    memset(err, 'x', sizeof err);
    rc = taskmsg_end_decode(p, n, &e, err, sizeof err);
    if (rc < 0) {
        refused(rc, e, err, sizeof err);
        return;
    }
    if (rc != 0 || !e || taskmsg_end_validate(e, err, sizeof err))
        abort();
    len = lagrange__v1__job_end__get_packed_size(e);
    if (!(buf = malloc(len ? len : 1)))
        abort();
    if (lagrange__v1__job_end__pack(e, buf) != len ||
        taskmsg_end_decode(buf, len, &e2, err, sizeof err) != 0)
        abort();
    same_str(e->job, e2->job);
    same_str(e->why, e2->why);
    if (e->epoch != e2->epoch)
        abort();
    lagrange__v1__job_end__free_unpacked(e2, NULL);
    lagrange__v1__job_end__free_unpacked(e, NULL);
    free(buf);
}

static void stored(const uint8_t *p, size_t n)
{
    char err[256];
    Lagrange__V1__PartitionStored *ps, *ps2;
    uint8_t *buf;
    size_t len;
    int rc;
    memset(err, 'x', sizeof err);
    rc = taskmsg_stored_decode(p, n, topo, &ps, err, sizeof err);
    if (rc < 0) {
        refused(rc, ps, err, sizeof err);
        return;
    }
    if (rc != 0 || !ps || taskmsg_stored_validate(ps, topo, err, sizeof err))
        abort();
    len = lagrange__v1__partition_stored__get_packed_size(ps);
    if (!(buf = malloc(len ? len : 1)))
        abort();
    if (lagrange__v1__partition_stored__pack(ps, buf) != len ||
        taskmsg_stored_decode(buf, len, topo, &ps2, err, sizeof err) != 0)
        abort();
    same_str(ps->sha256, ps2->sha256);
    same_str(ps->node, ps2->node);
    lagrange__v1__partition_stored__free_unpacked(ps2, NULL);
    lagrange__v1__partition_stored__free_unpacked(ps, NULL);
    free(buf);
}

static void same_outputs(Lagrange__V1__TaskOutput *const *a, size_t na,
                         Lagrange__V1__TaskOutput *const *b, size_t nb)
{
    if (na != nb)
        abort();
    for (size_t i = 0; i < na; i++) {
        same_str(a[i]->name, b[i]->name);
        if (a[i]->n_dst != b[i]->n_dst)
            abort();
        for (size_t d = 0; d < a[i]->n_dst; d++)
            same_str(a[i]->dst[d], b[i]->dst[d]);
    }
}

static void resend(const uint8_t *p, size_t n)
{
    char err[256];
    Lagrange__V1__TaskResend *r, *r2;
    uint8_t *buf;
    size_t len;
    int rc;
    memset(err, 'x', sizeof err);
    rc = taskmsg_resend_decode(p, n, topo, &r, err, sizeof err);
    if (rc < 0) {
        refused(rc, r, err, sizeof err);
        return;
    }
    if (rc != 0 || !r || taskmsg_resend_validate(r, topo, err, sizeof err))
        abort();
    /* what the daemon relies on once it is accepted */
    if (r->from_epoch == 0 || r->from_epoch >= r->epoch ||
        r->part >= r->n_parts || r->n_parts > TASKMSG_MAX_PARTS ||
        r->priority > 7 || r->n_outputs > TASKMSG_MAX_VALUES)
        abort();
    len = lagrange__v1__task_resend__get_packed_size(r);
    if (!(buf = malloc(len ? len : 1)))
        abort();
    if (lagrange__v1__task_resend__pack(r, buf) != len ||
        taskmsg_resend_decode(buf, len, topo, &r2, err, sizeof err) != 0)
        abort();
    same_str(r->job, r2->job);
    same_str(r->controller, r2->controller);
    if (r->epoch != r2->epoch || r->from_epoch != r2->from_epoch ||
        r->part != r2->part || r->n_parts != r2->n_parts ||
        r->priority != r2->priority)
        abort();
    same_outputs(r->outputs, r->n_outputs, r2->outputs, r2->n_outputs);
    lagrange__v1__task_resend__free_unpacked(r2, NULL);
    lagrange__v1__task_resend__free_unpacked(r, NULL);
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    if (!topo && plan_topology_parse("fuzz.topo", TOPO, sizeof TOPO - 1,
                                     &topo, err, sizeof err) != 0)
        abort();
    if (size < 1)
        return 0;
    switch (data[0] % 5) {
    case 0:
        task(data + 1, size - 1);
        break;
    case 1:
        status(data + 1, size - 1);
        break;
    case 2:
        end(data + 1, size - 1);
        break;
    case 3:
        stored(data + 1, size - 1);
        break;
    default:
        resend(data + 1, size - 1);
        break;
    }
    return 0;
}
