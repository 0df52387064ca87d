/*
 * backend.h - the table of execution backends.
 *
 * A backend maps op types to kernels. The executor asks the backend for a
 * kernel per node when it is built, so an unsupported op is reported by
 * name and node before anything runs. Today there is "cpu"; a GPU backend
 * adds an entry here without touching the executor's callers.
 */
#ifndef LG_BACKEND_H
#define LG_BACKEND_H

#include "kernel.h"

typedef struct lg_backend {
    const char *name;
    const lg_kernel *(*find)(const char *domain, const char *op);
} lg_backend;

/* Backend by name ("cpu"), or NULL. */
const lg_backend *lg_backend_get(const char *name);

#endif
