/*
 * fuzz_npy.c - libFuzzer target for the .npy parser (lib/model/npy.c).
 *
 * Feeds arbitrary bytes to lg_npy_parse. Beyond "no crash, no leak, no
 * out-of-bounds read" (ASan/UBSan), it checks the parser's contract: a
 * failure leaves *out NULL and a NUL-terminated message; a success gives a
 * tensor whose size matches its shape, and which survives an encode/parse
 * round trip unchanged. Build and run with tests/fuzz/run.sh.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lgerr.h"
#include "npy.h"
#include "tensor.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    lg_tensor *t = (lg_tensor *)&err, *u = NULL;
    void *buf = NULL;
    size_t len = 0, nb = 0;
    int rc;

    memset(err, 'x', sizeof err);
    rc = lg_npy_parse(data, size, &t, err, sizeof err);
    if (rc < 0) {
        if (t != NULL || memchr(err, 0, sizeof err) == NULL)
            abort();
        if (rc != LG_EMODEL && rc != LG_EUNSUP && rc != -ENOMEM)
            abort();
        return 0;
    }
    if (rc != 0 || !t || lg_shape_nbytes(&t->shape, t->dtype, &nb) < 0 ||
        nb != t->nbytes || nb > size)
        abort();
    if (t->dtype == LG_BOOL)
        for (size_t i = 0; i < nb; i++)
            if (((const uint8_t *)t->data)[i] > 1)
                abort();

    /* What we parsed must encode and parse back to the same tensor. */
    if (lg_npy_encode(t, &buf, &len, err, sizeof err) != 0)
        abort();
    if (lg_npy_parse(buf, len, &u, err, sizeof err) != 0)
        abort();
    if (u->dtype != t->dtype || !lg_shape_eq(&u->shape, &t->shape) ||
        u->nbytes != t->nbytes || (nb && memcmp(u->data, t->data, nb) != 0))
        abort();
    free(buf);
    lg_tensor_unref(u);
    lg_tensor_unref(t);
    return 0;
}
