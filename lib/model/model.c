/*
 * model.c - lg_model_open: load an ONNX file and prepare it with constant
 * folding by the CPU kernels. The one entry point the CLI and daemon use.
 */
#include "model.h"

#include "exec.h"

int lg_model_open(const char *path, const lg_load_opts *o, lg_graph **out,
                  char *err, size_t errlen)
{
    lg_graph *g;
    int rc = lg_onnx_load_file(path, o, &g, err, errlen);
    if (rc < 0)
        return rc;
    if ((rc = lg_graph_infer(g, lg_exec_fold, err, errlen)) < 0) {
        lg_graph_free(g);
        return rc;
    }
    *out = g;
    return 0;
}
