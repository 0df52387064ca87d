/*
 * taskmsg.c - decoding and validation of the distributed-job control
 * messages (Task, TaskStatus, JobEnd, PartitionStored, TaskResend; see
 * taskmsg.h for the rules).
 *
 * How a payload is decoded: a small scanner walks the raw protobuf fields
 * first, without allocating (into TaskOutput submessages too): it refuses
 * malformed encodings, caps the repeated fields and the others (known or
 * unknown), and refuses NUL bytes in strings. Only then does protobuf-c
 * unpack the payload, and the unpacked struct is checked field by field.
 * The scanner is a sibling of bundle.c's (which is private to the link
 * code); both follow the protobuf encoding spec.
 *
 * Threading: no globals; thread-safe.
 */
#include "taskmsg.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#include "bundle.h"
#include "jobplan.h"
#include "lgerr.h"

_Static_assert(TASKMSG_MAX_PARTS == JOBPLAN_MAX_PARTS,
               "a Task may name any partition a plan has");

/* ----------------------------------------------------------- raw scan */

enum { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_I32 = 5 };

/* What the scanner enforces for one field number. */
typedef struct rule {
    uint32_t num;               /* field number */
    const char *name;           /* for messages */
    unsigned text;              /* a string: no NUL bytes */
    unsigned maxcount;          /* repeated: occurrences allowed; 0:
                                   singular (counted with the others) */
    const struct spec *sub;     /* a submessage to scan too, or NULL */
} rule;

typedef struct spec {
    const char *what;           /* message name, for messages */
    const rule *rules;
    size_t nrules;
} spec;

#define MAX_RULES 16

static int get_varint(const uint8_t **pp, const uint8_t *end, uint64_t *v)
{
    const uint8_t *p = *pp;
    uint64_t x = 0;
    for (unsigned i = 0; i < 10; i++) {
        uint8_t c;
        if (p >= end)
            return -1;
        c = *p++;
        if (i == 9 && c > 1)
            return -1;          /* more than 64 bits */
        x |= (uint64_t)(c & 0x7f) << (7 * i);
        if (!(c & 0x80)) {
            *pp = p;
            *v = x;
            return 0;
        }
    }
    return -1;
}

/* Walk a message of n bytes at p with spec sp; prefix names where it is
 * ("Task", "Task: outputs[2]"). 0, -EBADMSG or -EINVAL. */
static int scan(const spec *sp, const char *prefix, const uint8_t *p,
                size_t n, char *err, size_t errlen)
{
    const uint8_t *base = p, *end = p + n;
    unsigned count[MAX_RULES] = { 0 }, other = 0;

    while (p < end) {
        const uint8_t *start = p, *val = NULL;
        const char *why = NULL;
        uint64_t tag, v = 0;
        uint32_t num = 0;
        unsigned wt = 0;
        size_t i;

        if (get_varint(&p, end, &tag) < 0 || tag > UINT32_MAX)
            why = "bad tag";
        else if ((num = (uint32_t)(tag >> 3)) == 0)
            why = "field number 0";
        else if ((wt = (unsigned)(tag & 7)) == WT_VARINT) {
            if (get_varint(&p, end, &v) < 0)
                why = "truncated or overlong varint";
        } else if (wt == WT_I64 || wt == WT_I32) {
            size_t w = wt == WT_I64 ? 8 : 4;
            if ((size_t)(end - p) < w)
                why = "truncated fixed-width field";
            else
                p += w;
        } else if (wt == WT_LEN) {
            if (get_varint(&p, end, &v) < 0)
                why = "bad length";
            else if (v > (uint64_t)(end - p))
                why = "length runs past the end";
            else {
                val = p;
                p += v;
            }
        } else {
            why = "unsupported wire type (groups?)";
        }
        if (why)
            return lg_errf(err, errlen, -EBADMSG,
                           "%s: does not parse: %s at byte %zu", prefix, why,
                           (size_t)(start - base));

        for (i = 0; i < sp->nrules && sp->rules[i].num != num; i++)
            ;
        if (i == sp->nrules || !sp->rules[i].maxcount) {
            if (++other > TASKMSG_MAX_OTHER)
                return lg_errf(err, errlen, -EINVAL,
                               "%s: more than %u non-repeated fields", prefix,
                               TASKMSG_MAX_OTHER);
        }
        if (i == sp->nrules)
            continue;           /* unknown: protobuf-c keeps it */
        {
            const rule *r = &sp->rules[i];
            unsigned k = count[i]++;
            if (r->maxcount && count[i] > r->maxcount)
                return lg_errf(err, errlen, -EINVAL,
                               "%s: %s: more than %u", prefix, r->name,
                               r->maxcount);
            if (wt != WT_LEN)
                continue;       /* protobuf-c refuses a wrong wire type */
            if (r->text && v > 0 && memchr(val, 0, (size_t)v)) {
                if (r->maxcount)
                    return lg_errf(err, errlen, -EINVAL,
                                   "%s: %s[%u] contains a NUL byte", prefix,
                                   r->name, k);
                return lg_errf(err, errlen, -EINVAL,
                               "%s: %s contains a NUL byte", prefix, r->name);
            }
            if (r->sub) {
                char sub[96];
                int rc;
                if (r->maxcount)
                    snprintf(sub, sizeof sub, "%s: %s[%u]", prefix, r->name,
                             k);
                else
                    snprintf(sub, sizeof sub, "%s: %s", prefix, r->name);
                if ((rc = scan(r->sub, sub, val, (size_t)v, err, errlen)) < 0)
                    return rc;
            }
        }
    }
    return 0;
}

static const rule output_rules[] = {
    { 1, "name", 1, 0, NULL },
    { 2, "dst", 1, TASKMSG_MAX_DST, NULL },
};
static const spec output_spec = { "TaskOutput", output_rules, 2 };

static const rule task_rules[] = {
    { 1, "job", 1, 0, NULL },
    { 5, "controller", 1, 0, NULL },
    { 6, "partition_sha256", 1, 0, NULL },
    { 8, "inputs", 1, TASKMSG_MAX_VALUES, NULL },
    { 9, "outputs", 0, TASKMSG_MAX_VALUES, &output_spec },
    { 13, "node", 1, 0, NULL },
};
static const spec task_spec = { "Task", task_rules, 6 };

static const rule status_rules[] = {
    { 1, "job", 1, 0, NULL },
    { 4, "node", 1, 0, NULL },
    { 6, "detail", 1, 0, NULL },
};
static const spec status_spec = { "TaskStatus", status_rules, 3 };

static const rule end_rules[] = {
    { 1, "job", 1, 0, NULL },
    { 3, "why", 1, 0, NULL },
};
static const spec end_spec = { "JobEnd", end_rules, 2 };

static const rule stored_rules[] = {
    { 1, "sha256", 1, 0, NULL },
    { 2, "node", 1, 0, NULL },
};
static const spec stored_spec = { "PartitionStored", stored_rules, 2 };

static const rule resend_rules[] = {
    { 1, "job", 1, 0, NULL },
    { 6, "controller", 1, 0, NULL },
    { 7, "outputs", 0, TASKMSG_MAX_VALUES, &output_spec },
};
static const spec resend_spec = { "TaskResend", resend_rules, 3 };

/* Length and raw scan: what comes before protobuf-c. */
static int precheck(const spec *sp, const uint8_t *p, size_t len, char *err,
                    size_t errlen)
{
    if (len > TASKMSG_MAX_LEN)
        return lg_errf(err, errlen, -EMSGSIZE,
                       "%s: payload of %zu bytes is above %u", sp->what, len,
                       TASKMSG_MAX_LEN);
    if (len && !p)
        return lg_errf(err, errlen, -EINVAL, "%s: no payload", sp->what);
    if (!len)
        return 0;               /* every field has its default */
    return scan(sp, sp->what, p, len, err, errlen);
}

/* ---------------------------------------------------------- text rules */

static int token_char(int c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
           (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

int taskmsg_job_ok(const char *s)
{
    size_t n;
    if (!s)
        return 0;
    n = strnlen(s, TASKMSG_JOB_MAX + 1);
    if (n == 0 || n > TASKMSG_JOB_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!token_char((unsigned char)s[i]))
            return 0;
    return 1;
}

int taskmsg_sha_ok(const char *s)
{
    if (!s || strnlen(s, 65) != 64)
        return 0;
    for (int i = 0; i < 64; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

/* Text of min..max bytes (wire_text_ok: UTF-8, no control characters). */
static int text_ok(const char *str, size_t min, size_t max)
{
    return str && strnlen(str, max + 1) >= min && wire_text_ok(str, max + 1);
}

static int is_node(const plan_topology *topo, const char *name)
{
    return topo && name && strnlen(name, PLAN_NAME_MAX) < PLAN_NAME_MAX &&
           plan_topology_find(topo, name) >= 0;
}

/* "'NAME'" for a message: at most 63 bytes of it, control characters as
 * '?', so that the log line stays one line. */
static const char *shown(const char *s, char buf[68])
{
    size_t n = 0;
    buf[n++] = '\'';
    for (size_t i = 0; s && s[i] && i < 63; i++) {
        unsigned char c = (unsigned char)s[i];
        buf[n++] = (char)(c < 0x20 || c == 0x7f ? '?' : c);
    }
    buf[n++] = '\'';
    buf[n] = '\0';
    return buf;
}

/* ------------------------------------------------------------ messages */

static int job_field(const char *what, const char *job, char *err,
                     size_t errlen)
{
    char b[68];
    if (!taskmsg_job_ok(job))
        return lg_errf(err, errlen, -EINVAL,
                       "%s: job: %s is not a job id (1..%u of "
                       "[A-Za-z0-9._-])",
                       what, shown(job, b), TASKMSG_JOB_MAX);
    return 0;
}

static int node_field(const char *what, const char *field,
                      const plan_topology *topo, const char *name, char *err,
                      size_t errlen)
{
    char b[68];
    if (!is_node(topo, name))
        return lg_errf(err, errlen, -EINVAL,
                       "%s: %s: %s is not a node of the topology", what,
                       field, shown(name, b));
    return 0;
}

/* The outputs of a Task or a TaskResend: at most TASKMSG_MAX_VALUES, each
 * named by a value name and going to at most TASKMSG_MAX_DST nodes. */
static int outputs_field(const char *what,
                         Lagrange__V1__TaskOutput *const *outs, size_t n,
                         const plan_topology *topo, char *err, size_t errlen)
{
    char b[68];
    if (n > TASKMSG_MAX_VALUES)
        return lg_errf(err, errlen, -EINVAL, "%s: outputs: %zu, more than %u",
                       what, n, TASKMSG_MAX_VALUES);
    for (size_t i = 0; i < n; i++) {
        const Lagrange__V1__TaskOutput *o = outs[i];
        if (!o)
            return lg_errf(err, errlen, -EINVAL, "%s: outputs[%zu]: missing",
                           what, i);
        if (!text_ok(o->name, 1, TASKMSG_VALUE_MAX))
            return lg_errf(err, errlen, -EINVAL,
                           "%s: outputs[%zu].name: %s is not a value name "
                           "(1..%u bytes of UTF-8 without control "
                           "characters)",
                           what, i, shown(o->name, b), TASKMSG_VALUE_MAX);
        if (o->n_dst > TASKMSG_MAX_DST)
            return lg_errf(err, errlen, -EINVAL,
                           "%s: outputs[%zu].dst: %zu nodes, more than %u",
                           what, i, o->n_dst, TASKMSG_MAX_DST);
        for (size_t d = 0; d < o->n_dst; d++)
            if (!is_node(topo, o->dst[d]))
                return lg_errf(err, errlen, -EINVAL,
                               "%s: outputs[%zu].dst[%zu]: %s is not a node "
                               "of the topology",
                               what, i, d, shown(o->dst[d], b));
    }
    return 0;
}

int taskmsg_task_validate(const Lagrange__V1__Task *k,
                          const plan_topology *topo, char *err,
                          size_t errlen)
{
    const char *w = "Task";
    char b[68];
    int rc;
    if ((rc = job_field(w, k->job, err, errlen)) < 0)
        return rc;
    if (k->epoch == 0)
        return lg_errf(err, errlen, -EINVAL,
                       "Task: epoch: 0 (epochs start at 1)");
    if (k->n_parts == 0 || k->n_parts > TASKMSG_MAX_PARTS)
        return lg_errf(err, errlen, -EINVAL,
                       "Task: n_parts: %u is not in 1..%u", k->n_parts,
                       TASKMSG_MAX_PARTS);
    if (k->part >= k->n_parts)
        return lg_errf(err, errlen, -EINVAL,
                       "Task: part: %u is not below n_parts %u", k->part,
                       k->n_parts);
    if ((rc = node_field(w, "controller", topo, k->controller, err,
                         errlen)) < 0 ||
        (rc = node_field(w, "node", topo, k->node, err, errlen)) < 0)
        return rc;
    if (!taskmsg_sha_ok(k->partition_sha256))
        return lg_errf(err, errlen, -EINVAL,
                       "Task: partition_sha256: %s is not 64 lowercase hex "
                       "digits", shown(k->partition_sha256, b));
    if (k->priority > 7)
        return lg_errf(err, errlen, -EINVAL,
                       "Task: priority: %u is above 7", k->priority);
    if (k->n_inputs > TASKMSG_MAX_VALUES)
        return lg_errf(err, errlen, -EINVAL,
                       "Task: inputs: %zu, more than %u", k->n_inputs,
                       TASKMSG_MAX_VALUES);
    for (size_t i = 0; i < k->n_inputs; i++)
        if (!text_ok(k->inputs[i], 1, TASKMSG_VALUE_MAX))
            return lg_errf(err, errlen, -EINVAL,
                           "Task: inputs[%zu]: %s is not a value name "
                           "(1..%u bytes of UTF-8 without control "
                           "characters)",
                           i, shown(k->inputs[i], b), TASKMSG_VALUE_MAX);
    return outputs_field(w, k->outputs, k->n_outputs, topo, err, errlen);
}

int taskmsg_status_validate(const Lagrange__V1__TaskStatus *st,
                            const plan_topology *topo, char *err,
                            size_t errlen)
{
    const char *w = "TaskStatus";
    int rc;
    if ((rc = job_field(w, st->job, err, errlen)) < 0)
        return rc;
    if (st->epoch == 0)
        return lg_errf(err, errlen, -EINVAL,
                       "TaskStatus: epoch: 0 (epochs start at 1)");
    if (st->part >= TASKMSG_MAX_PARTS)
        return lg_errf(err, errlen, -EINVAL,
                       "TaskStatus: part: %u is not below %u", st->part,
                       TASKMSG_MAX_PARTS);
    if ((rc = node_field(w, "node", topo, st->node, err, errlen)) < 0)
        return rc;
    if ((int)st->state < LAGRANGE__V1__TASK_STATUS__STATE__WAITING ||
        (int)st->state > LAGRANGE__V1__TASK_STATUS__STATE__NEED_PARTITION)
        return lg_errf(err, errlen, -EINVAL,
                       "TaskStatus: state: %d is not in %d..%d", (int)st->state,
                       LAGRANGE__V1__TASK_STATUS__STATE__WAITING,
                       LAGRANGE__V1__TASK_STATUS__STATE__NEED_PARTITION);
    if (!st->detail || strnlen(st->detail, TASKMSG_TEXT_MAX + 1) >
                           TASKMSG_TEXT_MAX)
        return lg_errf(err, errlen, -EINVAL,
                       "TaskStatus: detail: longer than %u bytes",
                       TASKMSG_TEXT_MAX);
    if (!isfinite(st->exec_s) || st->exec_s < 0)
        return lg_errf(err, errlen, -EINVAL,
                       "TaskStatus: exec_s: %g is not a duration",
                       st->exec_s);
    return 0;
}

int taskmsg_end_validate(const Lagrange__V1__JobEnd *e, char *err,
                         size_t errlen)
{
    char b[68];
    int rc;
    if ((rc = job_field("JobEnd", e->job, err, errlen)) < 0)
        return rc;
    if (!text_ok(e->why, 0, TASKMSG_TEXT_MAX))
        return lg_errf(err, errlen, -EINVAL,
                       "JobEnd: why: %s is not text (at most %u bytes of "
                       "UTF-8 without control characters)",
                       shown(e->why, b), TASKMSG_TEXT_MAX);
    return 0;
}

int taskmsg_stored_validate(const Lagrange__V1__PartitionStored *ps,
                            const plan_topology *topo, char *err,
                            size_t errlen)
{
    char b[68];
    if (!taskmsg_sha_ok(ps->sha256))
        return lg_errf(err, errlen, -EINVAL,
                       "PartitionStored: sha256: %s is not 64 lowercase hex "
                       "digits", shown(ps->sha256, b));
    return node_field("PartitionStored", "node", topo, ps->node, err,
                      errlen);
}

int taskmsg_resend_validate(const Lagrange__V1__TaskResend *r,
                            const plan_topology *topo, char *err,
                            size_t errlen)
{
    const char *w = "TaskResend";
    int rc;
    if ((rc = job_field(w, r->job, err, errlen)) < 0)
        return rc;
    if (r->epoch == 0)
        return lg_errf(err, errlen, -EINVAL,
                       "TaskResend: epoch: 0 (epochs start at 1)");
    if (r->from_epoch == 0)
        return lg_errf(err, errlen, -EINVAL,
                       "TaskResend: from_epoch: 0 (epochs start at 1)");
    if (r->from_epoch >= r->epoch)
        return lg_errf(err, errlen, -EINVAL,
                       "TaskResend: from_epoch: %u is not below epoch %u",
                       r->from_epoch, r->epoch);
    if (r->n_parts == 0 || r->n_parts > TASKMSG_MAX_PARTS)
        return lg_errf(err, errlen, -EINVAL,
                       "TaskResend: n_parts: %u is not in 1..%u", r->n_parts,
                       TASKMSG_MAX_PARTS);
    if (r->part >= r->n_parts)
        return lg_errf(err, errlen, -EINVAL,
                       "TaskResend: part: %u is not below n_parts %u",
                       r->part, r->n_parts);
    if ((rc = node_field(w, "controller", topo, r->controller, err,
                         errlen)) < 0)
        return rc;
    if (r->priority > 7)
        return lg_errf(err, errlen, -EINVAL,
                       "TaskResend: priority: %u is above 7", r->priority);
    return outputs_field(w, r->outputs, r->n_outputs, topo, err, errlen);
}

/* ------------------------------------------------------------- decoding */

static const uint8_t none[1];  /* what an empty payload points to */

int taskmsg_task_decode(const uint8_t *p, size_t len,
                        const plan_topology *topo, Lagrange__V1__Task **out,
                        char *err, size_t errlen)
{
    Lagrange__V1__Task *k;
    int rc;
    *out = NULL;
    if ((rc = precheck(&task_spec, p, len, err, errlen)) < 0)
        return rc;
    if (!(k = lagrange__v1__task__unpack(NULL, len, p ? p : none)))
        return lg_errf(err, errlen, -EBADMSG,
                       "Task: does not parse (protobuf-c refused it)");
    if ((rc = taskmsg_task_validate(k, topo, err, errlen)) < 0) {
        lagrange__v1__task__free_unpacked(k, NULL);
        return rc;
    }
    *out = k;
    return 0;
}

int taskmsg_status_decode(const uint8_t *p, size_t len,
                          const plan_topology *topo,
                          Lagrange__V1__TaskStatus **out, char *err,
                          size_t errlen)
{
    Lagrange__V1__TaskStatus *st;
    int rc;
    *out = NULL;
    if ((rc = precheck(&status_spec, p, len, err, errlen)) < 0)
        return rc;
    if (!(st = lagrange__v1__task_status__unpack(NULL, len, p ? p : none)))
        return lg_errf(err, errlen, -EBADMSG,
                       "TaskStatus: does not parse (protobuf-c refused it)");
    if ((rc = taskmsg_status_validate(st, topo, err, errlen)) < 0) {
        lagrange__v1__task_status__free_unpacked(st, NULL);
        return rc;
    }
    *out = st;
    return 0;
}

int taskmsg_end_decode(const uint8_t *p, size_t len,
                       Lagrange__V1__JobEnd **out, char *err, size_t errlen)
{
    Lagrange__V1__JobEnd *e;
    int rc;
    *out = NULL;
    if ((rc = precheck(&end_spec, p, len, err, errlen)) < 0)
        return rc;
    if (!(e = lagrange__v1__job_end__unpack(NULL, len, p ? p : none)))
        return lg_errf(err, errlen, -EBADMSG,
                       "JobEnd: does not parse (protobuf-c refused it)");
    if ((rc = taskmsg_end_validate(e, err, errlen)) < 0) {
        lagrange__v1__job_end__free_unpacked(e, NULL);
        return rc;
    }
    *out = e;
    return 0;
}

int taskmsg_stored_decode(const uint8_t *p, size_t len,
                          const plan_topology *topo,
                          Lagrange__V1__PartitionStored **out, char *err,
                          size_t errlen)
{
    Lagrange__V1__PartitionStored *ps;
    int rc;
    *out = NULL;
    if ((rc = precheck(&stored_spec, p, len, err, errlen)) < 0)
        return rc;
    if (!(ps = lagrange__v1__partition_stored__unpack(NULL, len, p ? p : none)))
        return lg_errf(err, errlen, -EBADMSG,
                       "PartitionStored: does not parse (protobuf-c refused "
                       "it)");
    if ((rc = taskmsg_stored_validate(ps, topo, err, errlen)) < 0) {
        lagrange__v1__partition_stored__free_unpacked(ps, NULL);
        return rc;
    }
    *out = ps;
    return 0;
}

int taskmsg_resend_decode(const uint8_t *p, size_t len,
                          const plan_topology *topo,
                          Lagrange__V1__TaskResend **out, char *err,
                          size_t errlen)
{
    Lagrange__V1__TaskResend *r;
    int rc;
    *out = NULL;
    if ((rc = precheck(&resend_spec, p, len, err, errlen)) < 0)
        return rc;
    if (!(r = lagrange__v1__task_resend__unpack(NULL, len, p ? p : none)))
        return lg_errf(err, errlen, -EBADMSG,
                       "TaskResend: does not parse (protobuf-c refused it)");
    if ((rc = taskmsg_resend_validate(r, topo, err, errlen)) < 0) {
        lagrange__v1__task_resend__free_unpacked(r, NULL);
        return rc;
    }
    *out = r;
    return 0;
}
