/*
 * svc.h - the standard gRPC services lagranged serves beside its own:
 * grpc.health.v1.Health (Check, Watch) and grpc.reflection.v1
 * ServerReflection (from the descriptor set embedded at build time,
 * proto/api_desc.c, answered by lib/api/reflect.c).
 *
 * Owns the serving status that Health reports (SERVING from svc_start,
 * NOT_SERVING once the daemon begins to stop) and the Watch streams that
 * follow it.
 *
 * Threading: loop thread only.
 */
#ifndef LG_DAEMON_SVC_H
#define LG_DAEMON_SVC_H

#include <stddef.h>

#include "h2rpc.h"
#include "lagranged.h"

typedef struct dsvc dsvc;

/* Index the embedded descriptor set; status SERVING. */
int svc_start(lagranged *d, char *err, size_t errlen);
/* Health goes NOT_SERVING; watchers are told. */
void svc_set_stopping(lagranged *d);
/* After every API connection is closed. */
void svc_free(lagranged *d);

/* The method table (health and reflection). */
const h2rpc_method *svc_methods(int *n);

#endif
