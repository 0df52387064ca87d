/*
 * onnx_load.h - reading an ONNX ModelProto into the graph IR.
 *
 * Parses with protobuf-c (our wire-compatible subset in proto/onnx/),
 * converts initializers (raw_data, typed fields, or external data files
 * inside the model's folder), turns Constant nodes into constants, and
 * binds symbolic input dimensions. The result is an unprepared lg_graph:
 * call lg_graph_infer() (or lg_model_open() in model.h, which does both).
 * Every length and index from the file is checked before use.
 */
#ifndef LG_ONNX_LOAD_H
#define LG_ONNX_LOAD_H

#include <stddef.h>

#include "graph.h"

#define LG_MODEL_MAX_BYTES ((size_t)4 << 30)   /* largest .onnx we read */

typedef struct lg_dim_bind {
    const char *name;           /* a dim_param, e.g. "batch" */
    int64_t value;
} lg_dim_bind;

typedef struct lg_load_opts {
    const lg_dim_bind *dims;    /* symbolic dims to bind; others become 1 */
    int n_dims;
} lg_load_opts;

/* Load from a file; external data is resolved relative to its folder.
 * Errors name the file, and the tensor or node at fault. */
int lg_onnx_load_file(const char *path, const lg_load_opts *o,
                      lg_graph **out, char *err, size_t errlen);
/* Load from memory; base_dir for external data (NULL: external data is
 * refused). */
int lg_onnx_load_buffer(const void *buf, size_t len, const char *base_dir,
                        const lg_load_opts *o, lg_graph **out, char *err,
                        size_t errlen);

#endif
