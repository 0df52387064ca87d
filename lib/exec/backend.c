/*
 * backend.c - the backend table. "cpu" searches the CPU kernel tables;
 * a GPU backend would add its own find() and fall back to cpu per op.
 */
#include "backend.h"

#include <string.h>

static const lg_kernel *const cpu_tables[] = {
    lg_cpu_kernels_conv, lg_cpu_kernels_nn, lg_cpu_kernels_elem,
    lg_cpu_kernels_tensor,
};

static const lg_kernel *cpu_find(const char *domain, const char *op)
{
    if (domain && *domain && strcmp(domain, "ai.onnx") != 0)
        return NULL;
    for (size_t t = 0; t < sizeof cpu_tables / sizeof cpu_tables[0]; t++)
        for (const lg_kernel *k = cpu_tables[t]; k->op; k++)
            if (strcmp(k->op, op) == 0)
                return k;
    return NULL;
}

static const lg_backend backends[] = {
    { "cpu", cpu_find },
};

const lg_backend *lg_backend_get(const char *name)
{
    if (!name)
        name = "cpu";
    for (size_t i = 0; i < sizeof backends / sizeof backends[0]; i++)
        if (strcmp(backends[i].name, name) == 0)
            return &backends[i];
    return NULL;
}
