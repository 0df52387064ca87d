/*
 * taskmsg.h - the control messages of distributed jobs (wire.proto Task,
 * TaskStatus, JobEnd, PartitionStored, TaskResend: the payloads of the
 * CONTROL bundles named "task", "task.status", "job.end", "part.stored"
 * and "task.resend"): decoded from a bundle payload and validated, before
 * the daemon trusts any field.
 *
 * Owns every rule such a message must pass. A decode function takes the
 * payload as it arrived, refuses it before protobuf-c sees it if it is
 * longer than TASKMSG_MAX_LEN, malformed, or repeats a field more often
 * than allowed (so protobuf-c's allocations stay proportional to what the
 * rules allow, not to the payload), unpacks it, then checks each field;
 * on success *out is the unpacked message (free it with the matching
 * lagrange__v1__*__free_unpacked(msg, NULL)), on failure *out is NULL and
 * err says which field and what is wrong with it, e.g.
 * "Task: part: 3 is not below n_parts 3".
 *
 * The rules (lagranged(8), DISTRIBUTED JOBS):
 *   - job: a job id, 1..TASKMSG_JOB_MAX bytes of [A-Za-z0-9._-];
 *   - epoch: Task and TaskStatus from 1 (JobEnd: 0 means every epoch);
 *   - Task: 1 <= n_parts <= TASKMSG_MAX_PARTS, part < n_parts; controller,
 *     node and every output's dst are nodes of the topology;
 *     partition_sha256 is 64 lowercase hex digits; priority 0..7; at most
 *     TASKMSG_MAX_VALUES inputs and outputs, each named by 1..
 *     TASKMSG_VALUE_MAX bytes of UTF-8 without control characters; at
 *     most TASKMSG_MAX_DST nodes per output; partition_size and
 *     deadline_unix_ms are taken as they are;
 *   - TaskStatus: part < TASKMSG_MAX_PARTS (the controller checks it
 *     against its plan); node is a node of the topology; state is one of
 *     WAITING..NEED_PARTITION; detail at most TASKMSG_TEXT_MAX bytes
 *     (any bytes but NUL: a worker cuts its error message there, perhaps
 *     inside a UTF-8 sequence, and a FAILED status must not be lost);
 *     exec_s finite and not negative;
 *   - JobEnd: why at most TASKMSG_TEXT_MAX bytes of UTF-8 without control
 *     characters (it is logged);
 *   - PartitionStored: sha256 is 64 lowercase hex digits, node is a node
 *     of the topology;
 *   - TaskResend: 0 < from_epoch < epoch; 1 <= n_parts <=
 *     TASKMSG_MAX_PARTS, part < n_parts; controller is a node of the
 *     topology; priority 0..7; outputs as a Task's (at most
 *     TASKMSG_MAX_VALUES, names 1..TASKMSG_VALUE_MAX bytes of UTF-8
 *     without control characters, at most TASKMSG_MAX_DST nodes each,
 *     every dst a node of the topology);
 *   - no string holds a NUL byte (protobuf-c would cut it there); at most
 *     TASKMSG_MAX_OTHER fields besides the repeated ones (unknown fields
 *     from a newer peer are kept by protobuf-c, within that cap).
 *
 * Errors: -EMSGSIZE (payload above TASKMSG_MAX_LEN), -EBADMSG (malformed:
 * "does not parse"), -EINVAL (a field breaks a rule). Whether a Task is
 * for this node, whether its job has ended, and whether a TaskResend's
 * outputs are kept here, is the daemon's business.
 *
 * Threading: no globals; every call is thread-safe (the topology is only
 * read).
 */
#ifndef LG_WIRE_TASKMSG_H
#define LG_WIRE_TASKMSG_H

#include <stddef.h>
#include <stdint.h>

#include "topology.h"
#include "lagrange/v1/wire.pb-c.h"

#define TASKMSG_MAX_LEN (1u << 20) /* bytes of one payload */
#define TASKMSG_JOB_MAX 13       /* job id bytes: "j" + 12 hex */
#define TASKMSG_MAX_PARTS 64     /* = JOBPLAN_MAX_PARTS */
#define TASKMSG_MAX_VALUES 256   /* inputs, and outputs, of one Task */
#define TASKMSG_MAX_DST 64       /* nodes one output goes to */
#define TASKMSG_VALUE_MAX 200    /* bytes of a value (tensor) name */
#define TASKMSG_TEXT_MAX 255     /* bytes of a detail or a why */
#define TASKMSG_MAX_OTHER 64     /* non-repeated fields, known or not */

int taskmsg_task_decode(const uint8_t *p, size_t len,
                        const plan_topology *topo, Lagrange__V1__Task **out,
                        char *err, size_t errlen);
int taskmsg_status_decode(const uint8_t *p, size_t len,
                          const plan_topology *topo,
                          Lagrange__V1__TaskStatus **out, char *err,
                          size_t errlen);
int taskmsg_end_decode(const uint8_t *p, size_t len,
                       Lagrange__V1__JobEnd **out, char *err, size_t errlen);
int taskmsg_stored_decode(const uint8_t *p, size_t len,
                          const plan_topology *topo,
                          Lagrange__V1__PartitionStored **out, char *err,
                          size_t errlen);
int taskmsg_resend_decode(const uint8_t *p, size_t len,
                          const plan_topology *topo,
                          Lagrange__V1__TaskResend **out, char *err,
                          size_t errlen);

/* The field rules alone, for a message built or unpacked elsewhere:
 * 0 or -EINVAL with the field in err. */
int taskmsg_task_validate(const Lagrange__V1__Task *k,
                          const plan_topology *topo, char *err,
                          size_t errlen);
int taskmsg_status_validate(const Lagrange__V1__TaskStatus *st,
                            const plan_topology *topo, char *err,
                            size_t errlen);
int taskmsg_end_validate(const Lagrange__V1__JobEnd *e, char *err,
                         size_t errlen);
int taskmsg_stored_validate(const Lagrange__V1__PartitionStored *ps,
                            const plan_topology *topo, char *err,
                            size_t errlen);
int taskmsg_resend_validate(const Lagrange__V1__TaskResend *r,
                            const plan_topology *topo, char *err,
                            size_t errlen);

/* 1 if s is a job id (the rule above), else 0. */
int taskmsg_job_ok(const char *s);
/* 1 if s is 64 lowercase hex digits, else 0. */
int taskmsg_sha_ok(const char *s);

#endif
