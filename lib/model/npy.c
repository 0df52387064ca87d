/*
 * npy.c - the NumPy .npy format: header parsing, data checks, Fortran to C
 * order, and numpy-identical writing.
 *
 * The header dictionary is parsed by a small recursive-descent reader of
 * the Python literal subset numpy writes (strings, True/False, tuples of
 * non-negative integers), instead of by pattern matching, so that key order
 * and whitespace do not matter and anything else fails with a message
 * naming the offset. Reading is in two steps everywhere: header first, then
 * the data size is checked against the shape (lg_shape_nbytes) before a
 * byte of data is allocated. No globals; thread-safe.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include "npy.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lgerr.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "npy.c assumes a little-endian host ('<' data is copied as is)"
#endif

#define NPY_MAGIC "\x93NUMPY"
#define NPY_MAGIC_LEN 6         /* "\x93NUMPY" */
#define NPY_ALIGN 64            /* numpy's ARRAY_ALIGN */
#define NPY_GROWTH_DIGITS 21    /* numpy's GROWTH_AXIS_MAX_DIGITS */
#define NPY_HDR_CAP 1024        /* our own headers: rank <= 8, well under */

#ifndef O_CLOEXEC
#define O_CLOEXEC 0
#endif

/* What a header says about the data that follows it. */
struct npy_hdr {
    enum lg_dtype dtype;
    lg_shape shape;
    int fortran;                /* data is in Fortran (column-major) order */
    size_t data_off;            /* offset of the data from the file start */
    size_t nbytes;              /* data bytes the shape requires */
};

/* ---------------------------------------------------------------- prefix */

/* Check magic and version and find the header's extent. b holds the first
 * min(len, 12) bytes of an image whose total length is len. Sets *dict_off
 * (start of the dictionary text) and *hdr_end (start of the data). */
static int npy_prefix(const uint8_t *b, size_t len, size_t *dict_off,
                      size_t *hdr_end, char *err, size_t errlen)
{
    size_t n = len < NPY_MAGIC_LEN ? len : NPY_MAGIC_LEN;
    uint32_t hl;
    unsigned major, minor;

    if (memcmp(b, NPY_MAGIC, n) != 0)
        return lg_errf(err, errlen, LG_EMODEL,
                       "header: bad magic: not a .npy file");
    if (len < 10)
        return lg_errf(err, errlen, LG_EMODEL,
                       "header: truncated: %zu bytes, shorter than the "
                       "magic and header length", len);
    major = b[6];
    minor = b[7];
    if (major < 1 || major > 3 || minor != 0)
        return lg_errf(err, errlen, LG_EUNSUP,
                       "header: unsupported format version %u.%u",
                       major, minor);
    if (major == 1) {
        hl = (uint32_t)b[8] | (uint32_t)b[9] << 8;
        *dict_off = 10;
    } else {
        if (len < 12)
            return lg_errf(err, errlen, LG_EMODEL,
                           "header: truncated: %zu bytes, shorter than the "
                           "magic and header length", len);
        hl = (uint32_t)b[8] | (uint32_t)b[9] << 8 | (uint32_t)b[10] << 16 |
             (uint32_t)b[11] << 24;
        *dict_off = 12;
    }
    if (hl > len - *dict_off)
        return lg_errf(err, errlen, LG_EMODEL,
                       "header: truncated: header length is %lu bytes but "
                       "only %zu follow", (unsigned long)hl,
                       len - *dict_off);
    *hdr_end = *dict_off + hl;
    return 0;
}

/* ------------------------------------------------------ dictionary lexer */

struct lex {
    const char *s;              /* start of the dictionary text */
    const char *p;              /* cursor */
    const char *e;              /* end (exclusive) */
    char *err;
    size_t errlen;
};

static void lex_ws(struct lex *x)
{
    while (x->p < x->e && (*x->p == ' ' || *x->p == '\t' || *x->p == '\n' ||
                           *x->p == '\r' || *x->p == '\f' || *x->p == '\v'))
        x->p++;
}

static int lex_at(const struct lex *x, char c)
{
    return x->p < x->e && *x->p == c;
}

static int lex_bad(const struct lex *x, const char *what)
{
    return lg_errf(x->err, x->errlen, LG_EMODEL, "header: %s at offset %zu",
                   what, (size_t)(x->p - x->s));
}

/* Copy at most cap-1 bytes of s into dst, replacing unprintable bytes, so
 * that garbage from a file can be quoted in a message. */
static void printable(char *dst, size_t cap, const char *s, size_t n)
{
    size_t i;
    for (i = 0; i < n && i + 1 < cap; i++)
        dst[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
    dst[i] = 0;
}

/* A quoted string without escapes (numpy never writes any). */
static int lex_str(struct lex *x, const char **s, size_t *n)
{
    char q;
    const char *start;
    if (!lex_at(x, '\'') && !lex_at(x, '"'))
        return lex_bad(x, "expected a quoted string");
    q = *x->p++;
    start = x->p;
    while (x->p < x->e && *x->p != q) {
        if (*x->p == '\\')
            return lex_bad(x, "escape sequences are not supported");
        if (*x->p == '\n')
            return lex_bad(x, "unterminated string");
        x->p++;
    }
    if (x->p >= x->e)
        return lex_bad(x, "unterminated string");
    *s = start;
    *n = (size_t)(x->p - start);
    x->p++;
    return 0;
}

static int is_ident(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '_';
}

/* True or False. */
static int lex_bool(struct lex *x, int *v)
{
    size_t left = (size_t)(x->e - x->p);
    if (left >= 4 && memcmp(x->p, "True", 4) == 0 &&
        (left == 4 || !is_ident(x->p[4]))) {
        x->p += 4;
        *v = 1;
        return 0;
    }
    if (left >= 5 && memcmp(x->p, "False", 5) == 0 &&
        (left == 5 || !is_ident(x->p[5]))) {
        x->p += 5;
        *v = 0;
        return 0;
    }
    return lex_bad(x, "fortran_order is not True or False");
}

/* A dimension: decimal digits, with Python 2's optional 'L' suffix. A
 * leading '-' is parsed only to say clearly that it is not allowed. */
static int lex_dim(struct lex *x, int64_t *v)
{
    int64_t n = 0;
    int neg = 0;
    if (lex_at(x, '-')) {
        neg = 1;
        x->p++;
    }
    if (!(x->p < x->e && *x->p >= '0' && *x->p <= '9'))
        return lex_bad(x, "expected an integer dimension");
    while (x->p < x->e && *x->p >= '0' && *x->p <= '9') {
        int d = *x->p - '0';
        if (n > (INT64_MAX - d) / 10)
            return lex_bad(x, "dimension overflows 64 bits");
        n = n * 10 + d;
        x->p++;
    }
    if (lex_at(x, 'L') || lex_at(x, 'l'))
        x->p++;
    if (x->p < x->e && is_ident(*x->p))
        return lex_bad(x, "malformed integer dimension");
    if (neg && n != 0)
        return lg_errf(x->err, x->errlen, LG_EMODEL,
                       "header: negative dimension -%lld in shape",
                       (long long)n);
    *v = n;
    return 0;
}

/* A tuple of dimensions: (), (5,), (2, 3) or (2, 3,). */
static int lex_shape(struct lex *x, lg_shape *s)
{
    int rc;
    memset(s, 0, sizeof *s);
    if (!lex_at(x, '('))
        return lex_bad(x, "shape is not a tuple");
    x->p++;
    lex_ws(x);
    if (lex_at(x, ')')) {
        x->p++;
        return 0;               /* () : a scalar */
    }
    for (;;) {
        int64_t d = 0;
        if ((rc = lex_dim(x, &d)) < 0)
            return rc;
        if (s->rank == LG_MAX_RANK)
            return lg_errf(x->err, x->errlen, LG_EMODEL,
                           "header: shape has more than %d dimensions",
                           LG_MAX_RANK);
        s->d[s->rank++] = d;
        lex_ws(x);
        if (lex_at(x, ',')) {
            x->p++;
            lex_ws(x);
            if (lex_at(x, ')')) {
                x->p++;
                return 0;
            }
            continue;
        }
        if (lex_at(x, ')')) {
            if (s->rank == 1)   /* Python's (5) is the int 5 */
                return lex_bad(x, "shape (n) is not a tuple, expected (n,)");
            x->p++;
            return 0;
        }
        return lex_bad(x, "expected ',' or ')' in shape");
    }
}

/* --------------------------------------------------------------- descr */

/* Whether a type code (after the byte order) looks like one numpy could
 * write: a letter, digits, and a datetime unit ('f2', 'U10', 'M8[ns]'). It
 * decides between "unsupported" and "malformed". */
static int descr_wellformed(const char *c, size_t n)
{
    size_t i = 1;
    if (n == 0 || !((c[0] >= 'a' && c[0] <= 'z') ||
                    (c[0] >= 'A' && c[0] <= 'Z') || c[0] == '?'))
        return 0;
    while (i < n && c[i] >= '0' && c[i] <= '9')
        i++;
    if (i < n && c[i] == '[') {
        for (i++; i < n && ((c[i] >= 'a' && c[i] <= 'z') ||
                            (c[i] >= 'A' && c[i] <= 'Z') ||
                            (c[i] >= '0' && c[i] <= '9')); i++)
            ;
        if (i < n && c[i] == ']')
            i++;
        else
            return 0;
    }
    return i == n;
}

/* Map a dtype string ('<f4') to our type. */
static int parse_descr(const char *s, size_t n, enum lg_dtype *t, char *err,
                       size_t errlen)
{
    static const struct {
        const char *code;
        enum lg_dtype t;
    } map[] = {
        {"f4", LG_F32}, {"f8", LG_F64}, {"i8", LG_I64}, {"i4", LG_I32},
        {"b1", LG_BOOL}, {"u1", LG_U8}, {"i1", LG_I8},
    };
    char q[40];
    char order = 0;
    const char *c = s;
    size_t cn = n;

    printable(q, sizeof q, s, n);
    if (n == 0)
        return lg_errf(err, errlen, LG_EMODEL, "header: empty descr");
    if (s[0] == '<' || s[0] == '>' || s[0] == '=' || s[0] == '|') {
        order = s[0];
        c++;
        cn--;
    }
    if ((cn == 1 && c[0] == 'O') || (cn == 2 && c[0] == 'O' && c[1] == '8'))
        return lg_errf(err, errlen, LG_EUNSUP,
                       "header: object arrays (dtype '%s', pickled Python "
                       "objects) are not supported", q);
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
        if (cn != 2 || memcmp(c, map[i].code, 2) != 0)
            continue;
        /* '>' matters only for multi-byte types; '=' and '|' (and no
         * order character) mean native, which is little-endian here. */
        if (order == '>' && lg_dtype_size(map[i].t) > 1)
            return lg_errf(err, errlen, LG_EUNSUP,
                           "header: big-endian dtype '%s' is not supported "
                           "(save a.astype('<%.2s') instead)", q, c);
        *t = map[i].t;
        return 0;
    }
    if (!descr_wellformed(c, cn))
        return lg_errf(err, errlen, LG_EMODEL, "header: invalid descr '%s'",
                       q);
    return lg_errf(err, errlen, LG_EUNSUP, "header: unsupported dtype '%s'",
                   q);
}

/* ----------------------------------------------------------- dictionary */

enum { K_DESCR = 1, K_FORTRAN = 2, K_SHAPE = 4 };

/* Parse the dictionary text [s, e) into h (dtype, shape, fortran). */
static int parse_dict(const char *s, const char *e, struct npy_hdr *h,
                      char *err, size_t errlen)
{
    struct lex x = {s, s, e, err, errlen};
    unsigned seen = 0;
    int rc;

    lex_ws(&x);
    if (!lex_at(&x, '{'))
        return lex_bad(&x, "expected '{'");
    x.p++;
    for (;;) {
        const char *k;
        size_t kn;
        unsigned key;
        char q[40];

        lex_ws(&x);
        if (lex_at(&x, '}'))
            break;
        if ((rc = lex_str(&x, &k, &kn)) < 0)
            return rc;
        printable(q, sizeof q, k, kn);
        if (kn == 5 && memcmp(k, "descr", 5) == 0)
            key = K_DESCR;
        else if (kn == 13 && memcmp(k, "fortran_order", 13) == 0)
            key = K_FORTRAN;
        else if (kn == 5 && memcmp(k, "shape", 5) == 0)
            key = K_SHAPE;
        else
            return lg_errf(err, errlen, LG_EMODEL,
                           "header: unexpected key '%s'", q);
        if (seen & key)
            return lg_errf(err, errlen, LG_EMODEL,
                           "header: duplicate key '%s'", q);
        seen |= key;
        lex_ws(&x);
        if (!lex_at(&x, ':'))
            return lex_bad(&x, "expected ':' after key");
        x.p++;
        lex_ws(&x);
        if (key == K_DESCR) {
            const char *d;
            size_t dn;
            if (lex_at(&x, '['))
                return lg_errf(err, errlen, LG_EUNSUP,
                               "header: structured dtypes are not supported");
            if (!lex_at(&x, '\'') && !lex_at(&x, '"'))
                return lex_bad(&x, "descr is not a string");
            if ((rc = lex_str(&x, &d, &dn)) < 0)
                return rc;
            if ((rc = parse_descr(d, dn, &h->dtype, err, errlen)) < 0)
                return rc;
        } else if (key == K_FORTRAN) {
            if ((rc = lex_bool(&x, &h->fortran)) < 0)
                return rc;
        } else {
            if ((rc = lex_shape(&x, &h->shape)) < 0)
                return rc;
        }
        lex_ws(&x);
        if (lex_at(&x, ',')) {
            x.p++;
            continue;
        }
        if (lex_at(&x, '}'))
            break;
        return lex_bad(&x, "expected ',' or '}'");
    }
    x.p++;                      /* the '}' */
    lex_ws(&x);
    if (x.p != x.e)
        return lex_bad(&x, "unexpected text after the dictionary");
    if (!(seen & K_DESCR))
        return lg_errf(err, errlen, LG_EMODEL, "header: missing key 'descr'");
    if (!(seen & K_FORTRAN))
        return lg_errf(err, errlen, LG_EMODEL,
                       "header: missing key 'fortran_order'");
    if (!(seen & K_SHAPE))
        return lg_errf(err, errlen, LG_EMODEL, "header: missing key 'shape'");
    return 0;
}

/* Parse the dictionary at [dict_off, hdr_end) of b and size the data. */
static int npy_header(const uint8_t *b, size_t dict_off, size_t hdr_end,
                      struct npy_hdr *h, char *err, size_t errlen)
{
    int rc;
    char sb[200];

    memset(h, 0, sizeof *h);
    rc = parse_dict((const char *)b + dict_off, (const char *)b + hdr_end, h,
                    err, errlen);
    if (rc < 0)
        return rc;
    h->data_off = hdr_end;
    if (lg_shape_nbytes(&h->shape, h->dtype, &h->nbytes) < 0)
        return lg_errf(err, errlen, LG_EMODEL,
                       "header: shape %s of %s is larger than the %llu-byte "
                       "tensor limit",
                       lg_shape_str(&h->shape, sb, sizeof sb),
                       lg_dtype_name(h->dtype),
                       (unsigned long long)LG_TENSOR_MAX_BYTES);
    return 0;
}

/* The data present (avail bytes) must be exactly what the shape needs. */
static int npy_check_size(const struct npy_hdr *h, uint64_t avail, char *err,
                          size_t errlen)
{
    char sb[200];
    if (avail == h->nbytes)
        return 0;
    lg_shape_str(&h->shape, sb, sizeof sb);
    if (avail < h->nbytes)
        return lg_errf(err, errlen, LG_EMODEL,
                       "data: truncated: shape %s of %s needs %zu bytes, "
                       "%llu present", sb, lg_dtype_name(h->dtype),
                       h->nbytes, (unsigned long long)avail);
    return lg_errf(err, errlen, LG_EMODEL,
                   "data: %llu trailing bytes after the %zu bytes that "
                   "shape %s of %s needs",
                   (unsigned long long)(avail - h->nbytes), h->nbytes, sb,
                   lg_dtype_name(h->dtype));
}

/* ------------------------------------------------------------ the data */

/* Copy Fortran-order src into C-order dst: walk dst in order while an
 * odometer over the indices tracks the matching offset in src. */
static void f_to_c(void *dst, const void *src, const lg_shape *s, size_t es,
                   size_t numel)
{
    size_t fs[LG_MAX_RANK], idx[LG_MAX_RANK] = {0}, off = 0;
    const int r = s->rank;

    if (numel == 0)
        return;
    fs[0] = 1;
    for (int k = 1; k < r; k++)
        fs[k] = fs[k - 1] * (size_t)s->d[k - 1];
    for (size_t i = 0; i < numel; i++) {
        switch (es) {
        case 1: ((uint8_t *)dst)[i] = ((const uint8_t *)src)[off]; break;
        case 4: memcpy((uint32_t *)dst + i, (const uint32_t *)src + off, 4);
                break;
        default: memcpy((uint64_t *)dst + i, (const uint64_t *)src + off, 8);
                break;
        }
        for (int k = r - 1; k >= 0; k--) {
            off += fs[k];
            if (++idx[k] < (size_t)s->d[k])
                break;
            off -= fs[k] * (size_t)s->d[k];
            idx[k] = 0;
        }
    }
}

/* A new tensor for h whose data is a C-order copy of src (h->nbytes). */
static int npy_make(const struct npy_hdr *h, const void *src, lg_tensor **out,
                    char *err, size_t errlen)
{
    void *d = lg_aligned_alloc(h->nbytes);
    lg_tensor *t;
    size_t es = lg_dtype_size(h->dtype);

    if (!d)
        return lg_errf(err, errlen, -ENOMEM,
                       "data: out of memory for %zu bytes", h->nbytes);
    if (h->fortran && h->shape.rank > 1)
        f_to_c(d, src, &h->shape, es, h->nbytes / es);
    else if (h->nbytes)
        memcpy(d, src, h->nbytes);
    if (h->dtype == LG_BOOL) {  /* numpy stores True as 1; be safe */
        uint8_t *u = d;
        for (size_t i = 0; i < h->nbytes; i++)
            u[i] = u[i] != 0;
    }
    t = lg_tensor_wrap(h->dtype, &h->shape, d, NULL, NULL);
    if (!t) {
        free(d);
        return lg_errf(err, errlen, -ENOMEM, "data: out of memory");
    }
    *out = t;
    return 0;
}

int lg_npy_parse(const void *buf, size_t len, lg_tensor **out, char *err,
                 size_t errlen)
{
    const uint8_t *b = buf;
    size_t dict_off, hdr_end;
    struct npy_hdr h;
    int rc;

    *out = NULL;
    if (!b)
        len = 0;
    if (len == 0)
        return lg_errf(err, errlen, LG_EMODEL,
                       "header: empty input, not a .npy file");
    if ((rc = npy_prefix(b, len, &dict_off, &hdr_end, err, errlen)) < 0)
        return rc;
    if ((rc = npy_header(b, dict_off, hdr_end, &h, err, errlen)) < 0)
        return rc;
    if ((rc = npy_check_size(&h, len - hdr_end, err, errlen)) < 0)
        return rc;
    return npy_make(&h, b + hdr_end, out, err, errlen);
}

/* ------------------------------------------------------------- file I/O */

/* Read exactly n bytes unless the file ends first; returns bytes read or
 * -errno. */
static long long read_full(int fd, void *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        size_t want = n - got;
        ssize_t r;
        if (want > ((size_t)1 << 30))
            want = (size_t)1 << 30;
        r = read(fd, (char *)buf + got, want);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (long long)got;
}

static int write_full(int fd, const void *buf, size_t n)
{
    size_t put = 0;
    while (put < n) {
        size_t want = n - put;
        ssize_t w;
        if (want > ((size_t)1 << 30))
            want = (size_t)1 << 30;
        w = write(fd, (const char *)buf + put, want);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        put += (size_t)w;
    }
    return 0;
}

/* Prefix a failure's detail with the path ("x.npy: header: ..."). */
static int with_path(const char *path, int rc, char *err, size_t errlen)
{
    char tmp[1024];
    if (rc >= 0 || !err || errlen == 0)
        return rc;
    snprintf(tmp, sizeof tmp, "%s", err);
    return lg_errf(err, errlen, rc, "%s: %s", path, tmp);
}

/* Read and check the header of the open file fd: *h describes it, and
 * the file's size agrees with the shape. */
static int npy_read_header(int fd, struct npy_hdr *h, char *err,
                           size_t errlen)
{
    struct stat st;
    uint8_t pre[12];
    uint8_t *hb = NULL;
    size_t size, n, dict_off, hdr_end;
    long long r;
    int rc;

    if (fstat(fd, &st) < 0)
        return lg_errf(err, errlen, -errno, "stat: %s", strerror(errno));
    if (!S_ISREG(st.st_mode))
        return lg_errf(err, errlen, -EINVAL, "not a regular file");
    if ((uint64_t)st.st_size > (uint64_t)SIZE_MAX)
        return lg_errf(err, errlen, -EFBIG, "file too large");
    size = (size_t)st.st_size;
    if (size == 0)
        return lg_errf(err, errlen, LG_EMODEL,
                       "header: empty file, not a .npy file");
    n = size < sizeof pre ? size : sizeof pre;
    if ((r = read_full(fd, pre, n)) < 0)
        return lg_errf(err, errlen, (int)r, "read: %s", strerror((int)-r));
    if ((size_t)r < n)
        return lg_errf(err, errlen, LG_EMODEL, "header: truncated");
    if ((rc = npy_prefix(pre, size, &dict_off, &hdr_end, err, errlen)) < 0)
        return rc;
    if (hdr_end - dict_off > LG_NPY_MAX_HEADER)
        return lg_errf(err, errlen, LG_EMODEL,
                       "header: length %zu exceeds the %zu-byte limit",
                       hdr_end - dict_off, LG_NPY_MAX_HEADER);
    hb = malloc(hdr_end);
    if (!hb)
        return lg_errf(err, errlen, -ENOMEM, "header: out of memory");
    memcpy(hb, pre, n);
    r = read_full(fd, hb + n, hdr_end - n);
    if (r < 0)
        rc = lg_errf(err, errlen, (int)r, "read: %s", strerror((int)-r));
    else if ((size_t)r < hdr_end - n)
        rc = lg_errf(err, errlen, LG_EMODEL, "header: truncated");
    else if ((rc = npy_header(hb, dict_off, hdr_end, h, err, errlen)) == 0)
        rc = npy_check_size(h, size - hdr_end, err, errlen);
    free(hb);
    return rc;
}

static int npy_read_fd(int fd, lg_tensor **out, char *err, size_t errlen)
{
    uint8_t *tmp = NULL;
    struct npy_hdr h;
    lg_tensor *t = NULL;
    long long r;
    int rc;

    if ((rc = npy_read_header(fd, &h, err, errlen)) < 0)
        return rc;

    /* Sizes agree with the shape: now allocate and read the data. */
    if (h.fortran && h.shape.rank > 1) {
        tmp = malloc(h.nbytes ? h.nbytes : 1);
        if (!tmp) {
            rc = lg_errf(err, errlen, -ENOMEM,
                         "data: out of memory for %zu bytes", h.nbytes);
            goto out;
        }
        r = read_full(fd, tmp, h.nbytes);
    } else {
        t = lg_tensor_new(h.dtype, &h.shape);
        if (!t) {
            rc = lg_errf(err, errlen, -ENOMEM,
                         "data: out of memory for %zu bytes", h.nbytes);
            goto out;
        }
        r = read_full(fd, t->data, h.nbytes);
    }
    if (r < 0) {
        rc = lg_errf(err, errlen, (int)r, "read: %s", strerror((int)-r));
        goto out;
    }
    if ((size_t)r < h.nbytes) {  /* the file shrank under us */
        rc = npy_check_size(&h, (uint64_t)r, err, errlen);
        goto out;
    }
    {
        uint8_t extra;
        r = read_full(fd, &extra, 1);
        if (r != 0) {           /* it grew, or the read failed */
            rc = r > 0 ? lg_errf(err, errlen, LG_EMODEL,
                                 "data: trailing bytes after the data")
                       : lg_errf(err, errlen, (int)r, "read: %s",
                                 strerror((int)-r));
            goto out;
        }
    }
    if (tmp) {
        rc = npy_make(&h, tmp, &t, err, errlen);
        if (rc < 0)
            goto out;
    } else if (h.dtype == LG_BOOL) {
        uint8_t *u = t->data;
        for (size_t i = 0; i < h.nbytes; i++)
            u[i] = u[i] != 0;
    }
    *out = t;
    t = NULL;
    rc = 0;
out:
    lg_tensor_unref(t);
    free(tmp);
    return rc;
}

int lg_npy_stat(const char *path, enum lg_dtype *dtype, lg_shape *shape,
                char *err, size_t errlen)
{
    struct npy_hdr h;
    int fd, rc;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return with_path(path, lg_errf(err, errlen, -errno, "open: %s",
                                       strerror(errno)), err, errlen);
    rc = npy_read_header(fd, &h, err, errlen);
    close(fd);
    if (rc == 0) {
        *dtype = h.dtype;
        *shape = h.shape;
    }
    return with_path(path, rc, err, errlen);
}

int lg_npy_read(const char *path, lg_tensor **out, char *err, size_t errlen)
{
    int fd, rc;

    *out = NULL;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return with_path(path, lg_errf(err, errlen, -errno, "open: %s",
                                       strerror(errno)), err, errlen);
    rc = npy_read_fd(fd, out, err, errlen);
    close(fd);
    return with_path(path, rc, err, errlen);
}

/* -------------------------------------------------------------- writing */

static const char *npy_descr(enum lg_dtype t)
{
    switch (t) {
    case LG_F32: return "<f4";
    case LG_F64: return "<f8";
    case LG_I64: return "<i8";
    case LG_I32: return "<i4";
    case LG_BOOL: return "|b1";
    case LG_U8: return "|u1";
    case LG_I8: return "|i1";
    default: return NULL;
    }
}

/* Build numpy's header for t into hdr (cap bytes): magic, version, length,
 * dictionary, spare room for the first axis to grow, padding to 64 bytes
 * and '\n'. Exactly what numpy 1.24's np.save writes. */
static int npy_encode_header(const lg_tensor *t, char *hdr, size_t cap,
                             size_t *hlen, size_t *nbytes, char *err,
                             size_t errlen)
{
    char d[NPY_HDR_CAP];
    const char *descr;
    size_t nb, dn, total, pre, body, pad;
    int w;

    if (!t)
        return lg_errf(err, errlen, -EINVAL, "no tensor");
    descr = npy_descr(t->dtype);
    if (!descr)
        return lg_errf(err, errlen, LG_EUNSUP,
                       "dtype %d has no .npy equivalent", (int)t->dtype);
    if (lg_shape_nbytes(&t->shape, t->dtype, &nb) < 0)
        return lg_errf(err, errlen, -EINVAL, "invalid tensor shape");
    if (nb != t->nbytes || (nb > 0 && !t->data))
        return lg_errf(err, errlen, -EINVAL,
                       "tensor holds %zu bytes, its shape needs %zu",
                       t->data ? t->nbytes : 0, nb);

    w = snprintf(d, sizeof d,
                 "{'descr': '%s', 'fortran_order': False, 'shape': (",
                 descr);
    dn = (size_t)w;
    for (int i = 0; i < t->shape.rank; i++) {
        w = snprintf(d + dn, sizeof d - dn, "%s%lld", i ? ", " : "",
                     (long long)t->shape.d[i]);
        dn += (size_t)w;
    }
    w = snprintf(d + dn, sizeof d - dn, "%s), }",
                 t->shape.rank == 1 ? "," : "");
    dn += (size_t)w;
    if (t->shape.rank > 0) {
        char num[32];
        int nl = snprintf(num, sizeof num, "%lld",
                          (long long)t->shape.d[0]);
        for (int i = nl; i < NPY_GROWTH_DIGITS; i++)
            d[dn++] = ' ';
    }
    /* The dictionary is at most ~50 + 8*21 + 21 bytes: far from the cap. */

    body = dn + 1;              /* + '\n' */
    pre = 10;                   /* magic, version, 2-byte length */
    pad = NPY_ALIGN - (pre + body) % NPY_ALIGN;
    if (body + pad > 65535) {   /* numpy's 2.0: 4-byte length */
        pre = 12;
        pad = NPY_ALIGN - (pre + body) % NPY_ALIGN;
    }
    total = pre + body + pad;
    if (total > cap)
        return lg_errf(err, errlen, -EOVERFLOW, "header too long");
    memcpy(hdr, NPY_MAGIC, NPY_MAGIC_LEN);
    hdr[6] = pre == 10 ? 1 : 2;
    hdr[7] = 0;
    {
        size_t hl = body + pad;
        hdr[8] = (char)(hl & 0xff);
        hdr[9] = (char)(hl >> 8 & 0xff);
        if (pre == 12) {
            hdr[10] = (char)(hl >> 16 & 0xff);
            hdr[11] = (char)(hl >> 24 & 0xff);
        }
    }
    memcpy(hdr + pre, d, dn);
    memset(hdr + pre + dn, ' ', pad);
    hdr[total - 1] = '\n';
    *hlen = total;
    *nbytes = nb;
    return 0;
}

int lg_npy_encode(const lg_tensor *t, void **buf, size_t *len, char *err,
                  size_t errlen)
{
    char hdr[NPY_HDR_CAP];
    size_t hl, nb;
    char *b;
    int rc;

    *buf = NULL;
    *len = 0;
    if ((rc = npy_encode_header(t, hdr, sizeof hdr, &hl, &nb, err,
                                errlen)) < 0)
        return rc;
    b = malloc(hl + nb);
    if (!b)
        return lg_errf(err, errlen, -ENOMEM, "out of memory for %zu bytes",
                       hl + nb);
    memcpy(b, hdr, hl);
    if (nb)
        memcpy(b + hl, t->data, nb);
    *buf = b;
    *len = hl + nb;
    return 0;
}

/* Create a fresh temporary file next to path; its name goes to tmp. */
static int open_temp(const char *path, char *tmp, size_t cap)
{
    for (int attempt = 0; attempt < 100; attempt++) {
        struct timespec ts;
        int fd;
        clock_gettime(CLOCK_REALTIME, &ts);
        if ((size_t)snprintf(tmp, cap, "%s.tmp.%ld.%ld.%d", path,
                             (long)getpid(), (long)ts.tv_nsec,
                             attempt) >= cap)
            return -ENAMETOOLONG;
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd >= 0 || errno != EEXIST)
            return fd >= 0 ? fd : -errno;
    }
    return -EEXIST;
}

static int npy_write(const char *path, const lg_tensor *t, char *err,
                     size_t errlen)
{
    char hdr[NPY_HDR_CAP];
    size_t hl, nb, cap;
    char *tmp;
    int fd, rc;

    if ((rc = npy_encode_header(t, hdr, sizeof hdr, &hl, &nb, err,
                                errlen)) < 0)
        return rc;
    cap = strlen(path) + 80;
    tmp = malloc(cap);
    if (!tmp)
        return lg_errf(err, errlen, -ENOMEM, "out of memory");
    fd = open_temp(path, tmp, cap);
    if (fd < 0) {
        rc = lg_errf(err, errlen, fd, "create temporary file: %s",
                     strerror(-fd));
        free(tmp);
        return rc;
    }
    rc = write_full(fd, hdr, hl);
    if (rc == 0 && nb)
        rc = write_full(fd, t->data, nb);
    if (close(fd) < 0 && rc == 0)
        rc = -errno;
    if (rc < 0)
        rc = lg_errf(err, errlen, rc, "write: %s", strerror(-rc));
    else if (rename(tmp, path) < 0)
        rc = lg_errf(err, errlen, -errno, "rename: %s", strerror(errno));
    if (rc < 0)
        unlink(tmp);
    free(tmp);
    return rc;
}

int lg_npy_write(const char *path, const lg_tensor *t, char *err,
                 size_t errlen)
{
    return with_path(path, npy_write(path, t, err, errlen), err, errlen);
}
