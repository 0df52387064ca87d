/*
 * lgerr.h - error convention shared by every module of liblagrange.
 *
 * Functions return 0 on success or a negative errno-style code (as libuv
 * does). Human-readable detail goes into a caller-supplied buffer through
 * lg_errf(); it is printed once, at the boundary (the CLI's main, the
 * daemon's log), never deep inside the library.
 *
 * Codes beyond errno: LG_EMODEL (the model or data is malformed) and
 * LG_EUNSUP (valid ONNX that we do not support).
 */
#ifndef LG_LGERR_H
#define LG_LGERR_H

#include <errno.h>
#include <stddef.h>

#define LG_EMODEL (-1001) /* malformed model, tensor or data file */
#define LG_EUNSUP (-1002) /* valid input we do not implement */

/* An error detail buffer: always NUL-terminated, may be NULL/0. */
typedef struct lg_err {
    char *buf;                  /* caller's buffer, may be NULL */
    size_t len;                 /* its size in bytes */
} lg_err;

/* Format into err (if any) and return code, for "return lg_errf(...)". */
int lg_errf(char *err, size_t errlen, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Short name of a code for messages ("malformed model", "out of memory"). */
const char *lg_strerror(int code);

#endif
