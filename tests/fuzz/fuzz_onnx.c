/*
 * fuzz_onnx.c - libFuzzer target for the ONNX loader and graph preparation
 * (lib/model/onnx_load.c, then lg_graph_infer with constant folding by the
 * cpu kernels through lg_exec_fold).
 *
 * External data is refused (base_dir NULL), so the target never touches
 * the file system. A failed load must leave *out NULL. Build and run with
 * tests/fuzz/run.sh.
 */
#include <stdint.h>
#include <stdlib.h>

#include "exec.h"
#include "graph.h"
#include "lgerr.h"
#include "onnx_load.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512];
    lg_graph *g = (lg_graph *)&err;
    int rc;

    rc = lg_onnx_load_buffer(data, size, NULL, NULL, &g, err, sizeof err);
    if (rc < 0) {
        if (g != NULL)
            abort();
        return 0;
    }
    if (!g)
        abort();
    (void)lg_graph_infer(g, lg_exec_fold, err, sizeof err);
    lg_graph_free(g);
    return 0;
}
