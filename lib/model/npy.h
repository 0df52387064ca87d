/*
 * npy.h - NumPy .npy files: reading into and writing from lg_tensor.
 *
 * Owns the .npy format (format versions 1.0, 2.0 and 3.0): the magic, the
 * header dictionary, which is a Python literal such as
 *     {'descr': '<f4', 'fortran_order': False, 'shape': (1, 3, 224, 224), }
 * and the raw data that follows it. This is how users hand input tensors to
 * `lagrange submit` and how they fetch results.
 *
 * Element types: '<f4' float32, '<f8' float64, '<i8' int64, '<i4' int32,
 * '|b1' bool, '|u1' uint8, '|i1' int8. '=' (native) is accepted on a
 * little-endian host, and any byte-order character on one-byte types.
 * Fortran-order arrays are transposed into C order on read. Bool bytes
 * other than 0 are read as 1.
 *
 * Errors: LG_EMODEL for malformed files (bad magic, bad header dictionary,
 * missing or unknown keys, negative or overflowing dimensions, rank above
 * LG_MAX_RANK, data shorter or longer than the shape requires); LG_EUNSUP
 * for valid .npy files we do not handle (big-endian data, float16, complex,
 * strings, structured or object dtypes, unknown format versions); -errno
 * for I/O. The detail goes into err: "header: ..." or "data: ...", prefixed
 * with the path by lg_npy_read and lg_npy_write.
 *
 * Every size taken from a file is checked (lg_shape_nbytes, which caps a
 * tensor at LG_TENSOR_MAX_BYTES) before anything is allocated, and the
 * parser never reads outside the buffer it is given. No globals: all
 * functions are thread-safe.
 */
#ifndef LG_NPY_H
#define LG_NPY_H

#include <stddef.h>

#include "tensor.h"

/* Longest header lg_npy_read accepts (numpy itself refuses above 10000
 * bytes by default; a rank-8 header is under 200). */
#define LG_NPY_MAX_HEADER ((size_t)1 << 20)

/* Parse a whole .npy image held in memory. On success *out is a new tensor
 * (data copied, C order) owned by the caller; on failure *out is NULL. */
int lg_npy_parse(const void *buf, size_t len, lg_tensor **out, char *err,
                 size_t errlen);

/* Read a .npy file. Reads the header first and allocates the data only once
 * the file's size has been checked against the shape. */
int lg_npy_read(const char *path, lg_tensor **out, char *err, size_t errlen);

/* The dtype and shape of a .npy file, from its header, with the same
 * checks as lg_npy_read (the file's size must agree with the shape) but
 * without reading the data. */
int lg_npy_stat(const char *path, enum lg_dtype *dtype, lg_shape *shape,
                char *err, size_t errlen);

/* Write t as a .npy file, byte-identical to numpy's np.save: version 1.0
 * (2.0 if the header would exceed 65535 bytes), little-endian, C order,
 * data starting at a multiple of 64 bytes. Writes a temporary file in the
 * same directory and renames it over path, so readers never see a partial
 * file (no fsync: not durable across power loss). */
int lg_npy_write(const char *path, const lg_tensor *t, char *err,
                 size_t errlen);

/* Encode t as a .npy image in a new malloc'd buffer (*buf, *len), as
 * lg_npy_write would write it. The caller frees *buf. */
int lg_npy_encode(const lg_tensor *t, void **buf, size_t *len, char *err,
                  size_t errlen);

#endif
