/*
 * reflect.c - server reflection from a FileDescriptorSet (see reflect.h).
 *
 * The walker reads protobuf wire format directly: a FileDescriptorSet is
 * `repeated FileDescriptorProto file = 1`, and of each file we need only
 * name (1), package (2), dependency (3), message_type (4), enum_type (5)
 * and service (6); of a message its name (1), nested_type (3) and
 * enum_type (4); of a service its name (1) and method (2, whose name is 1).
 * Every length is checked against what is left of its enclosing message.
 */
#include "reflect.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grpc/reflection/v1/reflection.pb-c.h"
#include "lgerr.h"

#define MAX_FILES 64
#define MAX_SYMBOLS 4096
#define MAX_DEPTH 16              /* message nesting we follow */
#define SYM_MAX 256

typedef struct rfile {
    const uint8_t *bytes;        /* the serialized FileDescriptorProto */
    size_t len;
    char name[SYM_MAX];
    int deps[MAX_FILES];         /* indexes of dependencies found */
    int n_deps;
} rfile;

typedef struct rsym {
    char name[SYM_MAX];
    int file;
    int is_message;
} rsym;

struct reflect {
    rfile files[MAX_FILES];
    int n_files;
    rsym *syms;
    int n_syms;
    char **services;
    int n_services;
};

/* ---- wire walking ---------------------------------------------------------- */

typedef struct rd {
    const uint8_t *p, *end;
} rd;

static int rd_varint(rd *r, uint64_t *v)
{
    uint64_t x = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (r->p >= r->end)
            return -1;
        uint8_t b = *r->p++;
        x |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = x;
            return 0;
        }
    }
    return -1;
}

/* Next field: its number and wire type; for length-delimited fields the
 * payload in *sub. Skips the others. 1 = field, 0 = end, -1 = malformed. */
static int rd_field(rd *r, uint32_t *num, rd *sub)
{
    uint64_t key, v;
    if (r->p == r->end)
        return 0;
    if (rd_varint(r, &key) < 0 || (key >> 3) == 0 || (key >> 3) > 0x1fffffff)
        return -1;
    *num = (uint32_t)(key >> 3);
    sub->p = sub->end = NULL;
    switch (key & 7) {
    case 0:
        return rd_varint(r, &v) < 0 ? -1 : 1;
    case 1:
        if (r->end - r->p < 8)
            return -1;
        r->p += 8;
        return 1;
    case 5:
        if (r->end - r->p < 4)
            return -1;
        r->p += 4;
        return 1;
    case 2:
        if (rd_varint(r, &v) < 0 || v > (uint64_t)(r->end - r->p))
            return -1;
        sub->p = r->p;
        sub->end = r->p + v;
        r->p += v;
        return 1;
    default:
        return -1;
    }
}

static int copy_str(char *dst, const rd *s)
{
    size_t n = (size_t)(s->end - s->p);
    if (!s->p || n >= SYM_MAX || memchr(s->p, '\0', n))
        return -1;
    memcpy(dst, s->p, n);
    dst[n] = '\0';
    return 0;
}

static int add_sym(reflect *r, const char *scope, const char *name, int file,
                   int is_message)
{
    rsym *s;
    if (r->n_syms == MAX_SYMBOLS)
        return -1;
    if (r->n_syms % 64 == 0) {
        rsym *n = realloc(r->syms, sizeof *n * (size_t)(r->n_syms + 64));
        if (!n)
            return -1;
        r->syms = n;
    }
    s = &r->syms[r->n_syms];
    if ((size_t)snprintf(s->name, SYM_MAX, "%s%s%s", scope, *scope ? "." : "",
                         name) >= SYM_MAX)
        return -1;
    s->file = file;
    s->is_message = is_message;
    r->n_syms++;
    return 0;
}

/* The name (field 1) of a DescriptorProto, EnumDescriptorProto, ... */
static int name_of(rd m, char *out)
{
    rd sub;
    uint32_t num;
    int k;
    out[0] = '\0';
    while ((k = rd_field(&m, &num, &sub)) == 1)
        if (num == 1 && sub.p && copy_str(out, &sub) < 0)
            return -1;
    return k < 0 || !out[0] ? -1 : 0;
}

static int walk_message(reflect *r, rd m, const char *scope, int file,
                        int depth)
{
    char name[SYM_MAX], full[SYM_MAX];
    rd sub;
    uint32_t num;
    int k;
    if (depth > MAX_DEPTH || name_of(m, name) < 0 ||
        add_sym(r, scope, name, file, 1) < 0)
        return -1;
    snprintf(full, sizeof full, "%s", r->syms[r->n_syms - 1].name);
    while ((k = rd_field(&m, &num, &sub)) == 1) {
        if (num == 3 && sub.p) {
            if (walk_message(r, sub, full, file, depth + 1) < 0)
                return -1;
        } else if (num == 4 && sub.p) {
            if (name_of(sub, name) < 0 || add_sym(r, full, name, file, 0) < 0)
                return -1;
        }
    }
    return k < 0 ? -1 : 0;
}

static int walk_service(reflect *r, rd m, const char *scope, int file)
{
    char name[SYM_MAX], full[SYM_MAX];
    rd sub;
    uint32_t num;
    int k;
    if (name_of(m, name) < 0 || add_sym(r, scope, name, file, 0) < 0)
        return -1;
    snprintf(full, sizeof full, "%s", r->syms[r->n_syms - 1].name);
    while ((k = rd_field(&m, &num, &sub)) == 1)
        if (num == 2 && sub.p &&
            (name_of(sub, name) < 0 || add_sym(r, full, name, file, 0) < 0))
            return -1;
    return k < 0 ? -1 : 0;
}

static int walk_file(reflect *r, int fi, char deps[][SYM_MAX], int *n_deps)
{
    rfile *f = &r->files[fi];
    rd m = { f->bytes, f->bytes + f->len }, sub;
    char pkg[SYM_MAX] = "", name[SYM_MAX];
    uint32_t num;
    int k;
    /* The package first: symbols are qualified by it wherever it sits. */
    while ((k = rd_field(&m, &num, &sub)) == 1) {
        if (num == 1 && sub.p && copy_str(f->name, &sub) < 0)
            return -1;
        if (num == 2 && sub.p && copy_str(pkg, &sub) < 0)
            return -1;
        if (num == 3 && sub.p) {
            if (*n_deps == MAX_FILES || copy_str(deps[*n_deps], &sub) < 0)
                return -1;
            (*n_deps)++;
        }
    }
    if (k < 0 || !f->name[0])
        return -1;
    m.p = f->bytes;
    while ((k = rd_field(&m, &num, &sub)) == 1) {
        if (!sub.p)
            continue;
        if (num == 4 && walk_message(r, sub, pkg, fi, 0) < 0)
            return -1;
        if (num == 5 &&
            (name_of(sub, name) < 0 || add_sym(r, pkg, name, fi, 0) < 0))
            return -1;
        if (num == 6 && walk_service(r, sub, pkg, fi) < 0)
            return -1;
    }
    return k < 0 ? -1 : 0;
}

static int find_file(const reflect *r, const char *name)
{
    for (int i = 0; i < r->n_files; i++)
        if (!strcmp(r->files[i].name, name))
            return i;
    return -1;
}

static int find_sym(const reflect *r, const char *name)
{
    if (name[0] == '.')
        name++;
    for (int i = 0; i < r->n_syms; i++)
        if (!strcmp(r->syms[i].name, name))
            return i;
    return -1;
}

int reflect_has_symbol(const reflect *r, const char *sym)
{
    return find_sym(r, sym) >= 0;
}

void reflect_free(reflect *r)
{
    if (!r)
        return;
    for (int i = 0; i < r->n_services; i++)
        free(r->services[i]);
    free(r->services);
    free(r->syms);
    free(r);
}

int reflect_new(const uint8_t *desc, size_t len, const char *const *services,
                int n_services, reflect **out, char *err, size_t errlen)
{
    reflect *r;
    rd set = { desc, desc + len }, sub;
    uint32_t num;
    int k;
    char (*deps)[MAX_FILES][SYM_MAX];   /* names, until resolved */
    int n_deps[MAX_FILES] = { 0 };

    *out = NULL;
    if (!(r = calloc(1, sizeof *r)) ||
        !(deps = malloc(sizeof *deps * MAX_FILES))) {
        free(r);
        return lg_errf(err, errlen, -ENOMEM, "out of memory");
    }
    while ((k = rd_field(&set, &num, &sub)) == 1) {
        if (num != 1 || !sub.p)
            continue;
        if (r->n_files == MAX_FILES) {
            k = -1;
            break;
        }
        r->files[r->n_files].bytes = sub.p;
        r->files[r->n_files].len = (size_t)(sub.end - sub.p);
        if (walk_file(r, r->n_files, deps[r->n_files],
                      &n_deps[r->n_files]) < 0) {
            k = -1;
            break;
        }
        r->n_files++;
    }
    if (k < 0 || r->n_files == 0) {
        free(deps);
        reflect_free(r);
        return lg_errf(err, errlen, LG_EMODEL,
                       "malformed or empty descriptor set");
    }
    for (int i = 0; i < r->n_files; i++)
        for (int j = 0; j < n_deps[i]; j++) {
            int d = find_file(r, deps[i][j]);
            if (d >= 0)
                r->files[i].deps[r->files[i].n_deps++] = d;
        }
    free(deps);
    if (!(r->services = calloc((size_t)(n_services ? n_services : 1),
                               sizeof *r->services))) {
        reflect_free(r);
        return lg_errf(err, errlen, -ENOMEM, "out of memory");
    }
    for (int i = 0; i < n_services; i++) {
        if (find_sym(r, services[i]) < 0) {
            reflect_free(r);
            return lg_errf(err, errlen, LG_EMODEL,
                           "service %s is not in the descriptor set",
                           services[i]);
        }
        if (!(r->services[i] = strdup(services[i]))) {
            reflect_free(r);
            return lg_errf(err, errlen, -ENOMEM, "out of memory");
        }
        r->n_services++;
    }
    *out = r;
    return 0;
}

/* ---- answers ----------------------------------------------------------------- */

/* Files to send for file f: f first, then its dependencies, each once. */
static void closure(const reflect *r, int f, int *list, int *n, int *seen)
{
    if (seen[f])
        return;
    seen[f] = 1;
    list[(*n)++] = f;
    for (int i = 0; i < r->files[f].n_deps; i++)
        closure(r, r->files[f].deps[i], list, n, seen);
}

int reflect_answer(const reflect *r, const uint8_t *req, size_t len,
                   uint8_t **resp, size_t *resp_len)
{
    Grpc__Reflection__V1__ServerReflectionRequest *q;
    Grpc__Reflection__V1__ServerReflectionResponse a =
        GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__INIT;
    Grpc__Reflection__V1__FileDescriptorResponse fd =
        GRPC__REFLECTION__V1__FILE_DESCRIPTOR_RESPONSE__INIT;
    Grpc__Reflection__V1__ListServiceResponse ls =
        GRPC__REFLECTION__V1__LIST_SERVICE_RESPONSE__INIT;
    Grpc__Reflection__V1__ExtensionNumberResponse en =
        GRPC__REFLECTION__V1__EXTENSION_NUMBER_RESPONSE__INIT;
    Grpc__Reflection__V1__ErrorResponse er =
        GRPC__REFLECTION__V1__ERROR_RESPONSE__INIT;
    Grpc__Reflection__V1__ServiceResponse svc[64];
    Grpc__Reflection__V1__ServiceResponse *svcp[64];
    ProtobufCBinaryData blobs[MAX_FILES];
    int list[MAX_FILES], seen[MAX_FILES] = { 0 }, n = 0, f = -1, s;
    char msg[SYM_MAX + 64];
    int rc = 0;

    *resp = NULL;
    *resp_len = 0;
    if (!(q = grpc__reflection__v1__server_reflection_request__unpack(
              NULL, len, req)))
        return LG_EMODEL;
    a.valid_host = q->host ? q->host : "";
    a.original_request = q;
    switch (q->message_request_case) {
    case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_LIST_SERVICES:
        for (int i = 0; i < r->n_services && i < 64; i++) {
            grpc__reflection__v1__service_response__init(&svc[i]);
            svc[i].name = r->services[i];
            svcp[i] = &svc[i];
        }
        ls.n_service = (size_t)(r->n_services < 64 ? r->n_services : 64);
        ls.service = svcp;
        a.message_response_case =
            GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_LIST_SERVICES_RESPONSE;
        a.list_services_response = &ls;
        break;
    case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_BY_FILENAME:
        f = find_file(r, q->file_by_filename);
        snprintf(msg, sizeof msg, "file not found: %.*s", SYM_MAX,
                 q->file_by_filename);
        break;
    case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_CONTAINING_SYMBOL:
        s = find_sym(r, q->file_containing_symbol);
        f = s < 0 ? -1 : r->syms[s].file;
        snprintf(msg, sizeof msg, "symbol not found: %.*s", SYM_MAX,
                 q->file_containing_symbol);
        break;
    case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_ALL_EXTENSION_NUMBERS_OF_TYPE:
        s = find_sym(r, q->all_extension_numbers_of_type);
        if (s >= 0 && r->syms[s].is_message) {
            en.base_type_name = r->syms[s].name;
            a.message_response_case =
                GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_ALL_EXTENSION_NUMBERS_RESPONSE;
            a.all_extension_numbers_response = &en;
        }
        snprintf(msg, sizeof msg, "type not found: %.*s", SYM_MAX,
                 q->all_extension_numbers_of_type);
        break;
    case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_CONTAINING_EXTENSION:
        snprintf(msg, sizeof msg, "no extensions in this server");
        break;
    default:
        snprintf(msg, sizeof msg, "empty reflection request");
        break;
    }
    if (f >= 0) {
        closure(r, f, list, &n, seen);
        for (int i = 0; i < n; i++) {
            blobs[i].data = (uint8_t *)r->files[list[i]].bytes;
            blobs[i].len = r->files[list[i]].len;
        }
        fd.n_file_descriptor_proto = (size_t)n;
        fd.file_descriptor_proto = blobs;
        a.message_response_case =
            GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_FILE_DESCRIPTOR_RESPONSE;
        a.file_descriptor_response = &fd;
    } else if (a.message_response_case ==
               GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE__NOT_SET) {
        er.error_code = 5;       /* NOT_FOUND */
        er.error_message = msg;
        a.message_response_case =
            GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_ERROR_RESPONSE;
        a.error_response = &er;
    }
    *resp_len = grpc__reflection__v1__server_reflection_response__get_packed_size(&a);
    if (!(*resp = malloc(*resp_len ? *resp_len : 1)))
        rc = -ENOMEM;
    else
        grpc__reflection__v1__server_reflection_response__pack(&a, *resp);
    grpc__reflection__v1__server_reflection_request__free_unpacked(q, NULL);
    return rc;
}
