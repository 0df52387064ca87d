/*
 * lgerr.c - formatting of error details into caller buffers. Owns nothing
 * else; thread-safe (no globals).
 */
#include "lgerr.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int lg_errf(char *err, size_t errlen, int code, const char *fmt, ...)
{
    if (err && errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return code;
}

const char *lg_strerror(int code)
{
    switch (code) {
    case 0: return "ok";
    case LG_EMODEL: return "malformed model or data";
    case LG_EUNSUP: return "unsupported";
    default: return strerror(-code);
    }
}
