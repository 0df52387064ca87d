/*
 * onnx_save.h - serializing a prepared graph (whole or a partition) as a
 * valid ONNX ModelProto that onnx.checker accepts: inputs/outputs with
 * static shapes, constants as initializers (raw_data), default-domain
 * opset_import = the graph's opset.
 */
#ifndef LG_ONNX_SAVE_H
#define LG_ONNX_SAVE_H

#include <stddef.h>

#include "graph.h"

int lg_onnx_save_buffer(const lg_graph *g, void **buf, size_t *len,
                        char *err, size_t errlen);
/* Writes atomically (temp file + rename). */
int lg_onnx_save_file(const lg_graph *g, const char *path, char *err,
                      size_t errlen);

#endif
