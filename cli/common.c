/*
 * common.c - helpers shared by the CLI verbs (see cli.h).
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "lgerr.h"
#include "model.h"

int cli_exit_code(int rc)
{
    if (rc == 0)
        return EXIT_OK;
    if (rc == LG_EMODEL || rc == -ERANGE)
        return EXIT_DATA;
    if (rc == LG_EUNSUP)
        return EXIT_UNSUP;
    if (rc == -EINVAL)
        return EXIT_USAGE;
    return EXIT_FAIL;
}

void cli_err(const char *verb, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "lagrange%s%s: ", verb ? " " : "", verb ? verb : "");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

int cli_dims_add(cli_dims *d, const char *verb, const char *arg)
{
    const char *eq = strchr(arg, '=');
    char *end;
    long long v;
    if (!eq || eq == arg) {
        cli_err(verb, "--dim takes NAME=VALUE, got '%s'", arg);
        return EXIT_USAGE;
    }
    v = strtoll(eq + 1, &end, 10);
    if (*end || v < 0 || v > (1LL << 40)) {
        cli_err(verb, "--dim %s: value must be a non-negative integer", arg);
        return EXIT_USAGE;
    }
    if (d->n == CLI_MAX_DIMS) {
        cli_err(verb, "too many --dim options (max %d)", CLI_MAX_DIMS);
        return EXIT_USAGE;
    }
    d->d[d->n].name = strndup(arg, (size_t)(eq - arg));
    d->d[d->n].value = v;
    d->n++;
    return EXIT_OK;
}

int cli_open_model(const char *verb, const char *path, const cli_dims *d,
                   lg_graph **g)
{
    char err[1024] = "";
    lg_load_opts o = { d ? d->d : NULL, d ? d->n : 0 };
    int rc = lg_model_open(path, &o, g, err, sizeof err);
    if (rc < 0) {
        cli_err(verb, "%s", err[0] ? err : lg_strerror(rc));
        return cli_exit_code(rc);
    }
    return EXIT_OK;
}

void cli_json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

void cli_json_shape(FILE *f, const lg_shape *s)
{
    fputc('[', f);
    for (int i = 0; i < s->rank; i++)
        fprintf(f, "%s%lld", i ? "," : "", (long long)s->d[i]);
    fputc(']', f);
}

const char *cli_bytes(uint64_t b, char *buf, size_t len)
{
    static const char *unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };
    double v = (double)b;
    int u = 0;
    while (v >= 1024 && u < 4) {
        v /= 1024;
        u++;
    }
    if (u == 0)
        snprintf(buf, len, "%llu B", (unsigned long long)b);
    else
        snprintf(buf, len, "%.1f %s", v, unit[u]);
    return buf;
}

double cli_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

void cli_safe_name(const char *in, char *out, size_t len)
{
    size_t i = 0;
    for (; *in && i + 1 < len; in++, i++) {
        char c = *in;
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                 (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
        out[i] = ok ? c : '_';
    }
    out[i] = 0;
    if (i == 0 && len > 1)
        snprintf(out, len, "_");
}
