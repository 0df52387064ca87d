/*
 * model.h - one call from a file name to a prepared graph: load, then
 * infer shapes and fold constants with the CPU kernels. Used by the CLI,
 * the daemon and the tests.
 */
#ifndef LG_MODEL_H
#define LG_MODEL_H

#include "graph.h"
#include "onnx_load.h"

int lg_model_open(const char *path, const lg_load_opts *o, lg_graph **out,
                  char *err, size_t errlen);

#endif
