/*
 * embed.c - a program that embeds liblagrange's model loader and
 * executor: runs an ONNX model with one input on a .npy file and writes
 * its first output as .npy. Build it against an installed lagrange:
 *
 *   cc -o embed embed.c $(pkg-config --cflags --libs lagrange)
 *   ./embed model.onnx input.npy output.npy
 *
 * Exit status: 0 on success, 1 on any error (printed on stderr).
 */
#include <stdio.h>

#include <lagrange/exec.h>
#include <lagrange/model.h>
#include <lagrange/npy.h>

int main(int argc, char **argv)
{
    char err[512] = "";
    lg_graph *g = NULL;
    lg_exec *e = NULL;
    lg_tensor *in = NULL, *out[16] = {0};
    int rc = 1;

    if (argc != 4) {
        fprintf(stderr, "usage: %s MODEL.onnx INPUT.npy OUTPUT.npy\n", argv[0]);
        return 2;
    }
    if (lg_model_open(argv[1], NULL, &g, err, sizeof err) < 0 ||
        lg_npy_read(argv[2], &in, err, sizeof err) < 0)
        goto out;
    if (g->n_inputs != 1 || g->n_outputs < 1 || g->n_outputs > 16) {
        snprintf(err, sizeof err, "%s: wants 1 input and 1-16 outputs, "
                 "has %d and %d", argv[1], g->n_inputs, g->n_outputs);
        goto out;
    }
    if (lg_exec_new(g, NULL, &e, err, sizeof err) < 0 ||
        lg_exec_run(e, &in, out, err, sizeof err) < 0 ||
        lg_npy_write(argv[3], out[0], err, sizeof err) < 0)
        goto out;
    rc = 0;
out:
    if (rc)
        fprintf(stderr, "embed: %s\n", err);
    for (int i = 0; i < 16; i++)
        lg_tensor_unref(out[i]);
    lg_tensor_unref(in);
    lg_exec_free(e);
    lg_graph_free(g);
    return rc;
}
