/*
 * run.c - `lagrange run`: local inference on .npy inputs, with optional
 * timing (--repeat) in the manner of onnxruntime_perf_test and trtexec:
 * the load is timed once, then the median and p90 per inference.
 */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "cli.h"
#include "exec.h"
#include "lgerr.h"
#include "npy.h"

#define MAX_INPUTS 256

static void help(FILE *f)
{
    fprintf(f,
"usage: lagrange run MODEL.onnx [-i [NAME=]FILE.npy]... [-o OUT.npy | -O DIR]\n"
"                    [--repeat N] [--warmup N] [--threads N] [--dim NAME=V]\n"
"                    [--json]\n\n"
"Run MODEL on the CPU. Each -i feeds a graph input from a .npy file (NAME=\n"
"may be left out when the model has one input). -o writes the single output,\n"
"-O writes every output as DIR/NAME.npy; without either, a summary of each\n"
"output is printed. --repeat N times N inferences after --warmup (default 1)\n"
"and reports load time, median and p90 per inference and peak RSS.\n"
"--json prints the report as one JSON object. --dim binds a symbolic input\n"
"dimension (default 1).\n");
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void summarize(const char *name, const lg_tensor *t)
{
    char sb[128];
    int64_t n = lg_tensor_numel(t);
    printf("%s %s %s", name, lg_dtype_name(t->dtype),
           lg_shape_str(&t->shape, sb, sizeof sb));
    if (t->dtype == LG_F32 && n > 0) {
        const float *x = t->data;
        double mn = x[0], mx = x[0], sum = 0;
        int64_t am = 0;
        for (int64_t i = 0; i < n; i++) {
            if (x[i] < mn) mn = x[i];
            if (x[i] > mx) { mx = x[i]; am = i; }
            sum += x[i];
        }
        printf("  min %.6g  max %.6g  mean %.6g  argmax %lld", mn, mx,
               sum / (double)n, (long long)am);
    }
    printf("\n");
}

static int find_input(const lg_graph *g, const char *name)
{
    for (int k = 0; k < g->n_inputs; k++)
        if (!strcmp(g->values[g->inputs[k]].name, name))
            return k;
    return -1;
}

int cmd_run(int argc, char **argv)
{
    static const struct option opts[] = {
        { "input", required_argument, 0, 'i' },
        { "output", required_argument, 0, 'o' },
        { "output-dir", required_argument, 0, 'O' },
        { "repeat", required_argument, 0, 'r' },
        { "warmup", required_argument, 0, 'w' },
        { "threads", required_argument, 0, 't' },
        { "dim", required_argument, 0, 'd' },
        { "json", no_argument, 0, 'j' },
        { "help", no_argument, 0, 'h' },
        { 0, 0, 0, 0 },
    };
    const char *in_spec[MAX_INPUTS];
    int n_in = 0, repeat = 0, warmup = -1, threads = 0, json = 0, c, rc;
    const char *out_file = NULL, *out_dir = NULL;
    cli_dims dims = { .n = 0 };
    lg_graph *g = NULL;
    lg_exec *e = NULL;
    lg_tensor **inputs = NULL, **outputs = NULL;
    double *times = NULL, t0, load_ms;
    char err[1024] = "";
    int ex = EXIT_OK;

    optind = 1;
    while ((c = getopt_long(argc, argv, "i:o:O:r:t:jh", opts, NULL)) != -1) {
        switch (c) {
        case 'i':
            if (n_in == MAX_INPUTS) {
                cli_err("run", "too many -i options");
                return EXIT_USAGE;
            }
            in_spec[n_in++] = optarg;
            break;
        case 'o': out_file = optarg; break;
        case 'O': out_dir = optarg; break;
        case 'r': repeat = atoi(optarg); break;
        case 'w': warmup = atoi(optarg); break;
        case 't': threads = atoi(optarg); break;
        case 'd':
            if ((rc = cli_dims_add(&dims, "run", optarg)) != EXIT_OK)
                return rc;
            break;
        case 'j': json = 1; break;
        case 'h': help(stdout); return EXIT_OK;
        default: help(stderr); return EXIT_USAGE;
        }
    }
    if (optind != argc - 1) {
        cli_err("run", optind >= argc ? "missing MODEL" : "too many arguments");
        help(stderr);
        return EXIT_USAGE;
    }
    if (repeat < 0 || repeat > 1000000 || threads < 0 || threads > 256) {
        cli_err("run", "--repeat must be 0..1000000 and --threads 0..256");
        return EXIT_USAGE;
    }
    if (out_file && out_dir) {
        cli_err("run", "-o and -O are exclusive");
        return EXIT_USAGE;
    }
    if (warmup < 0)
        warmup = repeat > 1 ? 1 : 0;

    t0 = cli_now_ms();
    if ((ex = cli_open_model("run", argv[optind], &dims, &g)) != EXIT_OK)
        goto out;
    {
        lg_exec_opts eo = { NULL, threads };
        if ((rc = lg_exec_new(g, &eo, &e, err, sizeof err)) < 0) {
            cli_err("run", "%s: %s", argv[optind], err);
            ex = cli_exit_code(rc);
            goto out;
        }
    }
    load_ms = cli_now_ms() - t0;

    inputs = calloc((size_t)g->n_inputs + 1, sizeof *inputs);
    outputs = calloc((size_t)g->n_outputs + 1, sizeof *outputs);
    if (!inputs || !outputs) {
        ex = EXIT_FAIL;
        goto out;
    }
    for (int k = 0; k < n_in; k++) {
        const char *spec = in_spec[k], *eq = strchr(spec, '='), *file = spec;
        int idx;
        lg_tensor *t;
        if (eq) {
            char name[512];
            snprintf(name, sizeof name, "%.*s", (int)(eq - spec), spec);
            idx = find_input(g, name);
            file = eq + 1;
            if (idx < 0) {
                cli_err("run", "%s has no input named '%s'", argv[optind],
                        name);
                ex = EXIT_USAGE;
                goto out;
            }
        } else if (g->n_inputs == 1) {
            idx = 0;
        } else {
            cli_err("run", "-i %s: the model has %d inputs; write NAME=FILE",
                    spec, g->n_inputs);
            ex = EXIT_USAGE;
            goto out;
        }
        if (inputs[idx]) {
            cli_err("run", "input '%s' given twice",
                    g->values[g->inputs[idx]].name);
            ex = EXIT_USAGE;
            goto out;
        }
        if ((rc = lg_npy_read(file, &t, err, sizeof err)) < 0) {
            cli_err("run", "%s", err);
            ex = cli_exit_code(rc);
            goto out;
        }
        inputs[idx] = t;
    }
    for (int k = 0; k < g->n_inputs; k++)
        if (!inputs[k]) {
            char sb[128];
            const lg_value *v = &g->values[g->inputs[k]];
            cli_err("run", "missing input '%s' (%s %s): give -i %s=FILE.npy",
                    v->name, lg_dtype_name(v->dtype),
                    lg_shape_str(&v->shape, sb, sizeof sb), v->name);
            ex = EXIT_USAGE;
            goto out;
        }
    if (out_file && g->n_outputs != 1) {
        cli_err("run", "the model has %d outputs: use -O DIR", g->n_outputs);
        ex = EXIT_USAGE;
        goto out;
    }

    {
        int total = warmup + (repeat > 0 ? repeat : 1);
        times = calloc((size_t)total, sizeof *times);
        if (!times) {
            ex = EXIT_FAIL;
            goto out;
        }
        for (int r = 0; r < total; r++) {
            double s = cli_now_ms();
            for (int k = 0; k < g->n_outputs; k++) {
                lg_tensor_unref(outputs[k]);
                outputs[k] = NULL;
            }
            if ((rc = lg_exec_run(e, inputs, outputs, err, sizeof err)) < 0) {
                cli_err("run", "%s: %s", argv[optind], err);
                ex = cli_exit_code(rc);
                goto out;
            }
            times[r] = cli_now_ms() - s;
        }
        if (out_file || out_dir) {
            if (out_dir && mkdir(out_dir, 0777) < 0 && errno != EEXIST) {
                cli_err("run", "%s: %s", out_dir, strerror(errno));
                ex = EXIT_FAIL;
                goto out;
            }
            for (int k = 0; k < g->n_outputs; k++) {
                char path[4096], safe[512];
                if (out_file) {
                    snprintf(path, sizeof path, "%s", out_file);
                } else {
                    cli_safe_name(g->values[g->outputs[k]].name, safe,
                                  sizeof safe);
                    snprintf(path, sizeof path, "%s/%s.npy", out_dir, safe);
                }
                if ((rc = lg_npy_write(path, outputs[k], err, sizeof err)) < 0) {
                    cli_err("run", "%s", err);
                    ex = EXIT_FAIL;
                    goto out;
                }
            }
        }
        if (repeat > 0 || json) {
            int n = total - warmup;
            double *m = times + warmup, med, p90;
            struct rusage ru;
            double gflop = (double)lg_graph_flops(g) / 1e9;
            qsort(m, (size_t)n, sizeof *m, cmp_double);
            med = n % 2 ? m[n / 2] : (m[n / 2 - 1] + m[n / 2]) / 2;
            p90 = m[(int)ceil(0.9 * n) - 1];
            getrusage(RUSAGE_SELF, &ru);
            if (json) {
                printf("{\"model\":");
                cli_json_str(stdout, argv[optind]);
                printf(",\"load_ms\":%.3f,\"runs\":%d,\"warmup\":%d,"
                       "\"median_ms\":%.3f,\"p90_ms\":%.3f,\"min_ms\":%.3f,"
                       "\"max_ms\":%.3f,\"gflops\":%.6f,\"gflops_per_s\":%.3f,"
                       "\"peak_rss_bytes\":%lld,\"peak_activation_bytes\":%llu,"
                       "\"threads\":%d,\"outputs\":{",
                       load_ms, n, warmup, med, p90, m[0], m[n - 1], gflop,
                       gflop / (med / 1e3), (long long)ru.ru_maxrss * 1024,
                       (unsigned long long)lg_exec_peak_bytes(e), threads);
                for (int k = 0; k < g->n_outputs; k++) {
                    if (k)
                        putchar(',');
                    cli_json_str(stdout, g->values[g->outputs[k]].name);
                    putchar(':');
                    cli_json_shape(stdout, &outputs[k]->shape);
                }
                printf("}}\n");
            } else {
                char b1[32], b2[32];
                printf("model       %s\n", argv[optind]);
                printf("load        %.1f ms\n", load_ms);
                printf("inference   median %.3f ms  p90 %.3f ms  min %.3f ms"
                       "  (%d runs after %d warmup)\n", med, p90, m[0], n,
                       warmup);
                printf("compute     %.3f GFLOP  %.1f GFLOP/s\n", gflop,
                       gflop / (med / 1e3));
                printf("memory      peak RSS %s  peak activations %s\n",
                       cli_bytes((uint64_t)ru.ru_maxrss * 1024, b1, sizeof b1),
                       cli_bytes(lg_exec_peak_bytes(e), b2, sizeof b2));
            }
        }
        if (!json && !out_file && !out_dir)
            for (int k = 0; k < g->n_outputs; k++)
                summarize(g->values[g->outputs[k]].name, outputs[k]);
    }
out:
    if (inputs)
        for (int k = 0; k < (g ? g->n_inputs : 0); k++)
            lg_tensor_unref(inputs[k]);
    if (outputs)
        for (int k = 0; k < (g ? g->n_outputs : 0); k++)
            lg_tensor_unref(outputs[k]);
    free(inputs);
    free(outputs);
    free(times);
    lg_exec_free(e);
    lg_graph_free(g);
    for (int k = 0; k < dims.n; k++)
        free((char *)dims.d[k].name);
    return ex;
}
