/*
 * models.c - `lagrange model push|ls|rm`: the models lagranged holds
 * (PutModel, ListModels, DeleteModel of lagrange.v1.Scheduler), and the
 * upload of large job inputs as blobs (PutBlob) for `lagrange submit`.
 *
 * Uploads are client-streaming calls: a header message (name, size,
 * SHA-256), then the file's bytes in chunks of UP_CHUNK read as libcurl
 * asks for them, so a 1 GiB model is never in memory. The SHA-256 is
 * computed in a first pass over the file; the server checks it, and we
 * check that the id it answers (its own SHA-256) is the same.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "cli.h"
#include "grpcc.h"
#include "lagrange/v1/api.pb-c.h"
#include "table.h"

#define UP_CHUNK ((size_t)1 << 20)      /* bytes of file per message */
#define RPC_TIMEOUT_MS 30000            /* unary calls, unless --timeout */

/* ---- uploads ------------------------------------------------------------- */

typedef struct upload {
    const char *verb;
    const char *path;
    const char *name;            /* model name; NULL for a blob */
    int fd;
    uint64_t size, sent;
    char sha[65];                /* hex SHA-256 of the file */
    int state;                   /* 0 header next, 1 chunks */
    uint8_t *chunk;              /* UP_CHUNK bytes read from the file */
    uint8_t *msg;                /* the packed request */
    size_t msg_cap;
    int progress;                /* draw progress on stderr */
    double last_draw;            /* cli_now_ms of the last draw */
    char err[512];               /* a local failure, reported first */
} upload;

static int sha256_file(int fd, char hex[65], uint8_t *buf, char *err,
                       size_t errlen)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    int rc = 0;

    if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
        snprintf(err, errlen, "SHA-256: cannot initialise");
        EVP_MD_CTX_free(ctx);
        return -ENOMEM;
    }
    for (off_t off = 0;;) {
        ssize_t r = pread(fd, buf, UP_CHUNK, off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = -errno;
            snprintf(err, errlen, "%s", strerror(errno));
            break;
        }
        if (r == 0)
            break;
        EVP_DigestUpdate(ctx, buf, (size_t)r);
        off += r;
    }
    if (rc == 0) {
        EVP_DigestFinal_ex(ctx, md, &mdlen);
        for (unsigned i = 0; i < mdlen && i < 32; i++)
            snprintf(hex + 2 * i, 3, "%02x", md[i]);
    }
    EVP_MD_CTX_free(ctx);
    return rc;
}

static void draw(upload *u, int done)
{
    char a[32], b[32];
    double now = cli_now_ms();
    if (!u->progress || (!done && now - u->last_draw < 100))
        return;
    u->last_draw = now;
    fprintf(stderr, "\r%s %s: %s of %s (%d%%)%s", u->verb, u->path,
            cli_bytes(u->sent, a, sizeof a),
            cli_bytes(u->size, b, sizeof b),
            u->size ? (int)(100 * u->sent / u->size) : 100,
            done ? "\n" : "\033[K");
    fflush(stderr);
}

/* Pack m into u->msg. */
static int pack(upload *u, const ProtobufCMessage *m, size_t *n)
{
    size_t len = protobuf_c_message_get_packed_size(m);
    if (len > u->msg_cap) {
        uint8_t *nb = realloc(u->msg, len);
        if (!nb) {
            snprintf(u->err, sizeof u->err, "out of memory");
            return -1;
        }
        u->msg = nb;
        u->msg_cap = len;
    }
    *n = protobuf_c_message_pack(m, u->msg);
    return 0;
}

/* grpcc_next_fn: the header, then the file in chunks. */
static int up_next(void *arg, const void **m, size_t *n)
{
    upload *u = arg;
    if (u->state == 0) {
        u->state = 1;
        if (u->name) {
            Lagrange__V1__ModelHeader h = LAGRANGE__V1__MODEL_HEADER__INIT;
            Lagrange__V1__PutModelRequest r =
                LAGRANGE__V1__PUT_MODEL_REQUEST__INIT;
            h.name = (char *)u->name;
            h.size = u->size;
            h.sha256 = u->sha;
            r.part_case = LAGRANGE__V1__PUT_MODEL_REQUEST__PART_HEADER;
            r.header = &h;
            if (pack(u, &r.base, n) < 0)
                return -1;
        } else {
            Lagrange__V1__BlobHeader h = LAGRANGE__V1__BLOB_HEADER__INIT;
            Lagrange__V1__PutBlobRequest r =
                LAGRANGE__V1__PUT_BLOB_REQUEST__INIT;
            h.size = u->size;
            h.sha256 = u->sha;
            r.part_case = LAGRANGE__V1__PUT_BLOB_REQUEST__PART_HEADER;
            r.header = &h;
            if (pack(u, &r.base, n) < 0)
                return -1;
        }
        *m = u->msg;
        draw(u, 0);
        return 0;
    }
    if (u->sent == u->size) {
        draw(u, 1);
        return 1;
    }
    size_t want = u->size - u->sent < UP_CHUNK ? (size_t)(u->size - u->sent)
                                               : UP_CHUNK;
    size_t got = 0;
    while (got < want) {
        ssize_t r = pread(u->fd, u->chunk + got, want - got,
                          (off_t)(u->sent + got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            snprintf(u->err, sizeof u->err, "%s: %s", u->path,
                     strerror(errno));
            return -1;
        }
        if (r == 0) {
            snprintf(u->err, sizeof u->err, "%s: the file shrank while "
                     "being sent", u->path);
            return -1;
        }
        got += (size_t)r;
    }
    ProtobufCBinaryData chunk = { got, u->chunk };
    if (u->name) {
        Lagrange__V1__PutModelRequest r = LAGRANGE__V1__PUT_MODEL_REQUEST__INIT;
        r.part_case = LAGRANGE__V1__PUT_MODEL_REQUEST__PART_CHUNK;
        r.chunk = chunk;
        if (pack(u, &r.base, n) < 0)
            return -1;
    } else {
        Lagrange__V1__PutBlobRequest r = LAGRANGE__V1__PUT_BLOB_REQUEST__INIT;
        r.part_case = LAGRANGE__V1__PUT_BLOB_REQUEST__PART_CHUNK;
        r.chunk = chunk;
        if (pack(u, &r.base, n) < 0)
            return -1;
    }
    u->sent += got;
    *m = u->msg;
    draw(u, 0);
    return 0;
}

/* Upload path as a model (name != NULL) or a blob; on success *resp holds
 * the packed answer (Model or Blob). Prints errors; returns an exit
 * code. */
static int upload_file(grpcc *g, const char *verb, const char *path,
                       const char *name, int timeout_ms, int progress,
                       void **resp, size_t *resp_len, char sha[65])
{
    upload u = { .verb = verb, .path = path, .name = name, .fd = -1,
                 .progress = progress };
    struct stat sb;
    grpcc_status st;
    char err[256];
    int rc, ex = EXIT_OK;

    *resp = NULL;
    if ((u.fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 ||
        fstat(u.fd, &sb) < 0) {
        cli_err(verb, "%s: %s", path, strerror(errno));
        ex = EXIT_FAIL;
        goto out;
    }
    if (!S_ISREG(sb.st_mode)) {
        cli_err(verb, "%s: not a regular file", path);
        ex = EXIT_USAGE;
        goto out;
    }
    u.size = (uint64_t)sb.st_size;
    if (!(u.chunk = malloc(UP_CHUNK))) {
        cli_err(verb, "out of memory");
        ex = EXIT_FAIL;
        goto out;
    }
    if ((rc = sha256_file(u.fd, u.sha, u.chunk, err, sizeof err)) < 0) {
        cli_err(verb, "%s: %s", path, err);
        ex = EXIT_FAIL;
        goto out;
    }
    rc = grpcc_client_stream(g, name ? GRPCC_API "PutModel"
                                     : GRPCC_API "PutBlob",
                             up_next, &u, resp, resp_len, timeout_ms, &st);
    if (u.progress && u.sent && u.sent < u.size)
        fputc('\n', stderr);
    if (u.err[0]) {
        cli_err(verb, "%s", u.err);
        ex = EXIT_FAIL;
    } else if (rc != 0) {
        ex = grpcc_fail(verb, path, rc, &st);
    }
    memcpy(sha, u.sha, 65);
out:
    if (u.fd >= 0)
        close(u.fd);
    free(u.chunk);
    free(u.msg);
    return ex;
}

int models_put_blob(grpcc *g, const char *verb, const char *path,
                    int timeout_ms, int progress, char id[65])
{
    void *resp;
    size_t len;
    char sha[65] = "";
    Lagrange__V1__Blob *b;
    int ex = upload_file(g, verb, path, NULL, timeout_ms, progress, &resp,
                         &len, sha);
    if (ex != EXIT_OK)
        return ex;
    b = lagrange__v1__blob__unpack(NULL, len, resp);
    free(resp);
    if (!b) {
        cli_err(verb, "cannot decode the answer to PutBlob");
        return EXIT_FAIL;
    }
    if (strcmp(b->id, sha)) {
        cli_err(verb, "%s: the server stored blob %.64s, but the file's "
                "SHA-256 is %s", path, b->id, sha);
        ex = EXIT_FAIL;
    } else {
        memcpy(id, sha, 65);
    }
    lagrange__v1__blob__free_unpacked(b, NULL);
    return ex;
}

/* ---- model rows ---------------------------------------------------------- */

enum { MC_NAME, MC_ID, MC_SIZE, MC_NODES, MC_GFLOPS, MC_CREATED, MC_INPUTS,
       MC_OUTPUTS, MC_N };
static const table_col model_cols[MC_N] = {
    [MC_NAME] = { "name", "NAME", 0, 0 },
    [MC_ID] = { "id", "ID", 0, 16 },
    [MC_SIZE] = { "size", "SIZE", TABLE_RIGHT, 0 },
    [MC_NODES] = { "nodes", "NODES", TABLE_RIGHT, 0 },
    [MC_GFLOPS] = { "gflops", "GFLOPS", TABLE_RIGHT, 0 },
    [MC_CREATED] = { "created", "CREATED", 0, 0 },
    [MC_INPUTS] = { "inputs", "INPUTS", 0, 0 },
    [MC_OUTPUTS] = { "outputs", "OUTPUTS", TABLE_EXTRA, 0 },
};

int models_tinfo_cell(table *t, int col,
                      struct Lagrange__V1__TensorInfo *const *v, size_t n)
{
    char *text = NULL, *json = NULL;
    size_t tl = 0, jl = 0;
    FILE *ft = open_memstream(&text, &tl), *fj = open_memstream(&json, &jl);
    int rc;
    if (!ft || !fj) {
        if (ft)
            fclose(ft);
        if (fj)
            fclose(fj);
        free(text);
        free(json);
        return -ENOMEM;
    }
    fputc('[', fj);
    for (size_t i = 0; i < n; i++) {
        fprintf(ft, "%s%s:%s[", i ? " " : "", v[i]->name, v[i]->dtype);
        fprintf(fj, "%s{\"name\":", i ? "," : "");
        cli_json_str(fj, v[i]->name);
        fputs(",\"dtype\":", fj);
        cli_json_str(fj, v[i]->dtype);
        fputs(",\"shape\":[", fj);
        for (size_t k = 0; k < v[i]->n_shape; k++) {
            long long d = (long long)v[i]->shape[k];
            if (d < 0)
                fprintf(ft, "%s?", k ? "," : "");
            else
                fprintf(ft, "%s%lld", k ? "," : "", d);
            fprintf(fj, "%s%lld", k ? "," : "", d);
        }
        fputc(']', ft);
        fputs("]}", fj);
    }
    fputc(']', fj);
    rc = (fclose(ft) | fclose(fj)) ? -ENOMEM
                                   : table_set(t, col, text, json);
    free(text);
    free(json);
    return rc;
}

static int model_row(table *t, const Lagrange__V1__Model *m)
{
    char a[64], b[64];
    if (table_row(t) < 0)
        return -ENOMEM;
    table_set(t, MC_NAME, m->name, NULL);
    table_set(t, MC_ID, m->id, NULL);
    table_num(t, MC_SIZE, cli_bytes(m->size, a, sizeof a), (double)m->size);
    table_num(t, MC_NODES, NULL, m->nodes);
    table_num(t, MC_GFLOPS, NULL, m->gflops);
    table_set(t, MC_CREATED, table_time(a, sizeof a, m->created_unix_ms),
              table_time_json(b, sizeof b, m->created_unix_ms));
    models_tinfo_cell(t, MC_INPUTS, m->inputs, m->n_inputs);
    return models_tinfo_cell(t, MC_OUTPUTS, m->outputs, m->n_outputs);
}

/* ---- the verb ------------------------------------------------------------ */

static void help(FILE *f)
{
    fprintf(f,
"usage: lagrange model push FILE.onnx [--name NAME] [--json]\n"
"       lagrange model ls [--json | --parsable] [-o COLS] [--noheader]\n"
"       lagrange model rm MODEL [--json]\n"
"       lagrange model stage MODEL --nodes NODE,... [--json]\n\n"
"The models lagranged holds. push uploads FILE (streamed in 1 MiB chunks,\n"
"with its SHA-256; progress on stderr when it is a terminal) and prints\n"
"the model's id, its SHA-256; pushing the same bytes again is a no-op that\n"
"renames it. --name defaults to FILE's name without .onnx (1-63 of\n"
"[A-Za-z0-9._-]). ls lists them; rm deletes MODEL: an id, a unique id\n"
"prefix of at least 8 hex digits, or a name. stage cuts MODEL into one\n"
"partition per NODE, as `lagrange submit --place` would, and sends each\n"
"partition to its node ahead of time; it returns once every node has\n"
"stored its partition, so that a job on the same model and nodes later\n"
"ships no weights.\n\n"
"Columns of ls (default: all but outputs): name, id, size, nodes (graph\n"
"nodes), gflops (per inference), created, inputs, outputs.\n\n"
"Options:\n"
GRPCC_OPTIONS_HELP
TABLE_OPTIONS_HELP
"\nExit status: 0 ok, 2 usage, 3 the server refused the model as invalid,\n"
"6 no such model, 7 lagranged not reachable, 8 timed out, 10 not\n"
"authorised, 1 any other failure.\n");
}

static int valid_name(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > 63)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
              (*s >= '0' && *s <= '9') || *s == '.' || *s == '_' ||
              *s == '-'))
            return 0;
    return 1;
}

static int out_flush(const char *verb)
{
    if (fflush(stdout) != 0 || ferror(stdout)) {
        cli_err(verb, "write error on standard output");
        return EXIT_FAIL;
    }
    return EXIT_OK;
}

static int model_push(grpcc *g, const char *file, const char *name,
                      int json, int timeout_ms)
{
    char def[64], sha[65] = "", *dup, *base, err[256];
    void *resp;
    size_t len;
    Lagrange__V1__Model *m;
    table_opts to = { TABLE_JSON, 0, NULL };
    table *t;
    int ex;

    if (!name) {
        size_t n;
        if (!(dup = strdup(file)))
            return EXIT_FAIL;
        base = basename(dup);
        n = strlen(base);
        if (n > 5 && !strcmp(base + n - 5, ".onnx"))
            base[n - 5] = '\0';
        cli_safe_name(base, def, sizeof def);
        free(dup);
        name = def;
    }
    if (!valid_name(name)) {
        cli_err("model push", "--name wants 1-63 of [A-Za-z0-9._-], got "
                "'%s'", name);
        return EXIT_USAGE;
    }
    ex = upload_file(g, "model push", file, name, timeout_ms, isatty(2),
                     &resp, &len, sha);
    if (ex != EXIT_OK)
        return ex;
    m = lagrange__v1__model__unpack(NULL, len, resp);
    free(resp);
    if (!m) {
        cli_err("model push", "cannot decode the answer to PutModel");
        return EXIT_FAIL;
    }
    if (strcmp(m->id, sha)) {
        cli_err("model push", "%s: the server stored model %.64s, but the "
                "file's SHA-256 is %s", file, m->id, sha);
        ex = EXIT_FAIL;
    } else if (json) {
        if (table_new(&t, model_cols, MC_N, &to, err, sizeof err) < 0 ||
            model_row(t, m) < 0) {
            cli_err("model push", "out of memory");
            ex = EXIT_FAIL;
        } else {
            table_json_row(t, stdout, 0);
            putchar('\n');
        }
        table_free(t);
    } else {
        printf("%s\n", m->id);
    }
    lagrange__v1__model__free_unpacked(m, NULL);
    return ex != EXIT_OK ? ex : out_flush("model push");
}

static int model_ls(grpcc *g, const table_opts *to, int timeout_ms)
{
    Lagrange__V1__ListModelsRequest req =
        LAGRANGE__V1__LIST_MODELS_REQUEST__INIT;
    Lagrange__V1__ListModelsResponse *r;
    table *t;
    char err[512];
    int ex;

    if (table_new(&t, model_cols, MC_N, to, err, sizeof err) < 0) {
        cli_err("model ls", "%s", err);
        return EXIT_USAGE;
    }
    ex = grpcc_call(g, "model ls", NULL, GRPCC_API "ListModels", &req.base,
                    &lagrange__v1__list_models_response__descriptor,
                    (ProtobufCMessage **)&r, timeout_ms);
    if (ex != EXIT_OK) {
        table_free(t);
        return ex;
    }
    for (size_t i = 0; i < r->n_models && ex == EXIT_OK; i++)
        if (model_row(t, r->models[i]) < 0) {
            cli_err("model ls", "out of memory");
            ex = EXIT_FAIL;
        }
    if (ex == EXIT_OK)
        table_print(t, stdout);
    table_free(t);
    lagrange__v1__list_models_response__free_unpacked(r, NULL);
    return ex != EXIT_OK ? ex : out_flush("model ls");
}

static int model_rm(grpcc *g, const char *ref, int json, int timeout_ms)
{
    Lagrange__V1__DeleteModelRequest req =
        LAGRANGE__V1__DELETE_MODEL_REQUEST__INIT;
    Lagrange__V1__DeleteModelResponse *r;
    int ex;
    req.model = (char *)ref;
    ex = grpcc_call(g, "model rm", ref, GRPCC_API "DeleteModel", &req.base,
                    &lagrange__v1__delete_model_response__descriptor,
                    (ProtobufCMessage **)&r, timeout_ms);
    if (ex != EXIT_OK)
        return ex;
    if (json) {
        printf("{\"id\":");
        cli_json_str(stdout, r->id);
        printf("}\n");
    } else {
        printf("%s\n", r->id);
    }
    lagrange__v1__delete_model_response__free_unpacked(r, NULL);
    return out_flush("model rm");
}

int cmd_model(int argc, char **argv)
{
    static const struct option opts[] = {
        { "name", required_argument, 0, 'n' },
        { "nodes", required_argument, 0, 'N' },
        { "help", no_argument, 0, 'h' },
        GRPCC_LONG_OPTIONS,
        TABLE_LONG_OPTIONS,
        { 0, 0, 0, 0 },
    };
    const char *sub, *name = NULL;
    char verb[32], nbuf[4096], *nodes[64];
    int n_nodes = 0, stage;
    grpcc_opts go;
    table_opts to = { TABLE_TEXT, 0, NULL };
    grpcc *g = NULL;
    int c, ex, r, push, ls, rm;

    if (argc < 2) {
        help(stderr);
        return EXIT_USAGE;
    }
    sub = argv[1];
    if (!strcmp(sub, "--help") || !strcmp(sub, "-h") || !strcmp(sub, "help")) {
        help(stdout);
        return EXIT_OK;
    }
    push = !strcmp(sub, "push");
    ls = !strcmp(sub, "ls") || !strcmp(sub, "list");
    rm = !strcmp(sub, "rm") || !strcmp(sub, "delete");
    stage = !strcmp(sub, "stage");
    if (!push && !ls && !rm && !stage) {
        cli_err("model", "unknown command '%s' (push, ls, rm or stage)", sub);
        help(stderr);
        return EXIT_USAGE;
    }
    snprintf(verb, sizeof verb, "model %s",
             push ? "push" : ls ? "ls" : rm ? "rm" : "stage");
    /* Uploads take as long as they take, unless --timeout says. */
    grpcc_opts_init(&go, 0);
    optind = 1;
    argc--;
    argv++;
    while ((c = getopt_long(argc, argv, "n:o:h", opts, NULL)) != -1) {
        if ((r = grpcc_opt(&go, verb, c, optarg)) != 0) {
            if (r < 0)
                return EXIT_USAGE;
            continue;
        }
        if (c == 'n' && push) {
            name = optarg;
            continue;
        }
        if (c == 'N' && stage) {
            char *p, *save = NULL;
            if (strlen(optarg) >= sizeof nbuf) {
                cli_err(verb, "--nodes: list too long");
                return EXIT_USAGE;
            }
            snprintf(nbuf, sizeof nbuf, "%s", optarg);
            n_nodes = 0;
            for (p = strtok_r(nbuf, ",", &save); p;
                 p = strtok_r(NULL, ",", &save)) {
                if (n_nodes == 64) {
                    cli_err(verb, "--nodes: at most 64 nodes");
                    return EXIT_USAGE;
                }
                nodes[n_nodes++] = p;
            }
            continue;
        }
        if (c == 'h') {
            help(stdout);
            return EXIT_OK;
        }
        if ((ls || c == TABLE_OPT_JSON) && table_opt(&to, c, optarg))
            continue;
        if (c == 'o' || c == TABLE_OPT_FORMAT || c == TABLE_OPT_PARSABLE ||
            c == TABLE_OPT_NOHEADER) {
            cli_err(verb, "%s is for listings (model ls)", argv[optind - 1]);
            return EXIT_USAGE;
        }
        if (c != '?')
            cli_err(verb, "%s is not an option of %s", argv[optind - 1],
                    verb);
        help(stderr);
        return EXIT_USAGE;
    }
    if (optind != argc - (ls ? 0 : 1)) {
        if (optind == argc)
            cli_err(verb, "missing %s", push ? "FILE.onnx" : "MODEL");
        else
            cli_err(verb, "unexpected argument '%s'", argv[optind + !ls]);
        help(stderr);
        return EXIT_USAGE;
    }
    if (stage && n_nodes == 0) {
        cli_err(verb, "--nodes NODE[,NODE...] is required");
        help(stderr);
        return EXIT_USAGE;
    }
    if ((ex = grpcc_connect(verb, &go, &g)) != EXIT_OK)
        return ex;
    if (stage)
        ex = jobs_stage(g, argv[optind], nodes, n_nodes,
                        to.mode == TABLE_JSON, go.timeout_ms);
    else if (push)
        ex = model_push(g, argv[optind], name, to.mode == TABLE_JSON,
                        go.timeout_ms);
    else if (ls)
        ex = model_ls(g, &to, go.timeout_ms ? go.timeout_ms : RPC_TIMEOUT_MS);
    else
        ex = model_rm(g, argv[optind], to.mode == TABLE_JSON,
                      go.timeout_ms ? go.timeout_ms : RPC_TIMEOUT_MS);
    grpcc_close(g);
    return ex;
}
