/*
 * svc.c - grpc.health.v1 and grpc.reflection.v1 (see svc.h).
 *
 * Health: Check answers at once; Watch sends the status now and again on
 * every change, and keeps the stream open until the client goes (or the
 * daemon closes the connection). A service name other than "" and the
 * three served here is NOT_FOUND for Check and SERVICE_UNKNOWN for Watch,
 * as the health protocol says.
 *
 * Reflection: a bidirectional stream; each request message gets one
 * response message, in order.
 */
#include "svc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "grpc/health/v1/health.pb-c.h"
#include "lgerr.h"
#include "log.h"
#include "reflect.h"

extern const unsigned char lg_api_desc[];
extern const size_t lg_api_desc_len;

#define MAX_WATCHERS 256

static const char *const services[] = {
    "lagrange.v1.Scheduler",
    "grpc.health.v1.Health",
    "grpc.reflection.v1.ServerReflection",
};
#define N_SERVICES ((int)(sizeof services / sizeof services[0]))

struct dsvc {
    reflect *refl;
    int serving;                         /* SERVING or NOT_SERVING */
    uint64_t watchers[MAX_WATCHERS];     /* call ids of Watch streams */
    h2rpc_call *watch_calls[MAX_WATCHERS];
    int n_watchers;
};

static dsvc *svc_of(h2rpc_call *c)
{
    return ((lagranged *)h2rpc_app(c))->svc;
}

/* ---- health ------------------------------------------------------------ */

static int known_service(const char *s)
{
    if (!s || !*s)
        return 1;
    for (int i = 0; i < N_SERVICES; i++)
        if (!strcmp(s, services[i]))
            return 1;
    return 0;
}

static int send_status(h2rpc_call *c, int status)
{
    Grpc__Health__V1__HealthCheckResponse r =
        GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__INIT;
    uint8_t buf[16];
    size_t n;
    r.status = (Grpc__Health__V1__HealthCheckResponse__ServingStatus)status;
    n = grpc__health__v1__health_check_response__pack(&r, buf);
    return h2rpc_send(c, buf, n);
}

static Grpc__Health__V1__HealthCheckRequest *health_req(
    h2rpc_call *c, const uint8_t *msg, size_t len)
{
    Grpc__Health__V1__HealthCheckRequest *q =
        grpc__health__v1__health_check_request__unpack(NULL, len, msg);
    if (!q)
        h2rpc_finish(c, H2RPC_INVALID_ARGUMENT,
                     "malformed HealthCheckRequest");
    return q;
}

static int check_msg(h2rpc_call *c, const uint8_t *msg, size_t len)
{
    Grpc__Health__V1__HealthCheckRequest *q = health_req(c, msg, len);
    if (!q)
        return 0;
    if (!known_service(q->service)) {
        h2rpc_finishf(c, H2RPC_NOT_FOUND, "unknown service '%.200s'",
                      q->service);
    } else {
        send_status(c, svc_of(c)->serving);
        h2rpc_finish(c, H2RPC_OK, NULL);
    }
    grpc__health__v1__health_check_request__free_unpacked(q, NULL);
    return 0;
}

static int watch_msg(h2rpc_call *c, const uint8_t *msg, size_t len)
{
    dsvc *s = svc_of(c);
    Grpc__Health__V1__HealthCheckRequest *q = health_req(c, msg, len);
    if (!q)
        return 0;
    if (s->n_watchers == MAX_WATCHERS) {
        h2rpc_finishf(c, H2RPC_RESOURCE_EXHAUSTED,
                      "more than %d health watchers", MAX_WATCHERS);
    } else if (!known_service(q->service)) {
        send_status(c, GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVICE_UNKNOWN);
    } else {
        s->watchers[s->n_watchers] = h2rpc_call_id(c);
        s->watch_calls[s->n_watchers++] = c;
        h2rpc_call_set_data(c, s);       /* marks it as registered */
        send_status(c, s->serving);
    }
    grpc__health__v1__health_check_request__free_unpacked(q, NULL);
    return 0;
}

static void watch_close(h2rpc_call *c, int cancelled)
{
    dsvc *s = h2rpc_call_data(c);
    uint64_t id = h2rpc_call_id(c);
    (void)cancelled;
    if (!s)
        return;
    for (int i = 0; i < s->n_watchers; i++)
        if (s->watchers[i] == id) {
            s->watchers[i] = s->watchers[s->n_watchers - 1];
            s->watch_calls[i] = s->watch_calls[s->n_watchers - 1];
            s->n_watchers--;
            break;
        }
}

/* ---- reflection -------------------------------------------------------- */

static int refl_msg(h2rpc_call *c, const uint8_t *msg, size_t len)
{
    uint8_t *out;
    size_t n;
    int rc = reflect_answer(svc_of(c)->refl, msg, len, &out, &n);
    if (rc == LG_EMODEL)
        return h2rpc_finish(c, H2RPC_INVALID_ARGUMENT,
                            "malformed ServerReflectionRequest"), 0;
    if (rc < 0)
        return h2rpc_finish(c, H2RPC_RESOURCE_EXHAUSTED, "out of memory"), 0;
    h2rpc_send(c, out, n);
    free(out);
    return 0;
}

static void refl_end(h2rpc_call *c)
{
    h2rpc_finish(c, H2RPC_OK, NULL);
}

static const h2rpc_method methods[] = {
    { "/grpc.health.v1.Health/Check", H2RPC_UNARY, 0, NULL, check_msg, NULL,
      NULL, NULL },
    { "/grpc.health.v1.Health/Watch", H2RPC_SERVER_STREAM, 0, NULL,
      watch_msg, NULL, NULL, watch_close },
    { "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo", H2RPC_BIDI,
      0, NULL, refl_msg, refl_end, NULL, NULL },
};

const h2rpc_method *svc_methods(int *n)
{
    *n = (int)(sizeof methods / sizeof methods[0]);
    return methods;
}

/* ---- life -------------------------------------------------------------- */

int svc_start(lagranged *d, char *err, size_t errlen)
{
    dsvc *s;
    int rc;
    if (!(s = calloc(1, sizeof *s)))
        return lg_errf(err, errlen, -ENOMEM, "out of memory");
    if ((rc = reflect_new(lg_api_desc, lg_api_desc_len, services, N_SERVICES,
                          &s->refl, err, errlen)) < 0) {
        free(s);
        return rc;
    }
    s->serving = GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING;
    d->svc = s;
    return 0;
}

void svc_set_stopping(lagranged *d)
{
    dsvc *s = d->svc;
    if (!s)
        return;
    s->serving =
        GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__NOT_SERVING;
    for (int i = 0; i < s->n_watchers; i++)
        send_status(s->watch_calls[i], s->serving);
}

void svc_free(lagranged *d)
{
    dsvc *s = d->svc;
    if (!s)
        return;
    reflect_free(s->refl);
    free(s);
    d->svc = NULL;
}
