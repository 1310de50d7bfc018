/* SPDX-License-Identifier: MIT */
/* mlshift model init | info: create a model with seeded random weights
 * (training comes with mlshift train), or describe a model file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define MAX_ELEMENTS 118

static const char help[] =
    "usage: mlshift model init --arch painn|schnet --elements H,C,N,O [options] -o MODEL\n"
    "       mlshift model info MODEL [--tensors]\n"
    "\n"
    "init creates a model with seeded random weights (Glorot-uniform matrices,\n"
    "zero biases, scale 1, shift and reference energies 0), split into the\n"
    "representation g_R = embedding + the first k blocks (of which the TTT\n"
    "subset = embedding + the first j blocks) and two heads, main and prior,\n"
    "each a separate copy of the remaining blocks and the readout.\n"
    "\n"
    "  --arch A          painn (default) or schnet\n"
    "  --elements LIST   the elements the model handles, e.g. H,C,N,O\n"
    "  --features F      features per atom (default 128)\n"
    "  --rbf K           radial basis functions (default 20)\n"
    "  --blocks T        message/interaction blocks (default 3)\n"
    "  --rep-blocks k    blocks in the shared representation (default T-1)\n"
    "  --ttt-blocks j    blocks in the TTT subset, j <= k (default 1, or k if k < 1)\n"
    "  --readout last|every  one readout after the last block (default), or one\n"
    "                    after every block, summed (GemNet's output blocks)\n"
    "  --cutoff R        training cutoff in Å: fixes the radial basis and is the\n"
    "                    default run-time cutoff (default 5)\n"
    "  --seed S          weight initialisation seed (default 0)\n"
    "  -o, --output M    the model file (written atomically)\n"
    "\n"
    "info prints the architecture, hyper-parameters, elements and the\n"
    "parameter count of each group; --tensors lists every named tensor.\n"
    "\n"
    "example: mlshift model init --arch painn --elements H,C,N,O -o painn.model\n\n";

static int parse_elements(const char *s, int *z, int *n)
{
    char buf[1024];
    if (snprintf(buf, sizeof buf, "%s", s) >= (int)sizeof buf)
        return cli_fail("model init: --elements is too long");
    *n = 0;
    for (char *tok = strtok(buf, ", "); tok; tok = strtok(NULL, ", ")) {
        int q = mlshift_element_number(tok);
        if (!q)
            return cli_fail("model init: --elements: '%s' is not an element symbol", tok);
        if (*n == MAX_ELEMENTS)
            return cli_fail("model init: --elements: too many");
        z[(*n)++] = q;
    }
    return *n ? 0 : cli_fail("model init: --elements is empty");
}

static int parse_int(const char *opt, const char *v, int lo, int hi, int *out)
{
    uint64_t x;
    if (cli_parse_u64(opt, v, &x))
        return CLI_ERROR;
    if (x < (uint64_t)lo || x > (uint64_t)hi)
        return cli_fail("model init: %s %s is outside [%d, %d]", opt, v, lo, hi);
    *out = (int)x;
    return 0;
}

static int model_init(int argc, char **argv)
{
    cli_args a = {argc, 2, argv, "model init", 0};
    const char *out = NULL, *els = NULL, *arch = "painn", *readout = "last", *v;
    mlshift_model_hyper h;
    int F = -1, K = -1, T = -1, k = -1, j = -1;
    double rc = 5.0;
    uint64_t seed = 0;
    for (; a.i < argc; a.i++) {
        if (cli_flag(&a, "--help") || cli_flag(&a, "-h")) {
            printf("%s", help);
            return CLI_OK;
        } else if (cli_value(&a, "-o", &out) || cli_value(&a, "--output", &out) ||
                   cli_value(&a, "--arch", &arch) || cli_value(&a, "--elements", &els) ||
                   cli_value(&a, "--readout", &readout)) {
            continue;
        } else if (cli_value(&a, "--features", &v)) {
            if (parse_int("--features", v, 2, 65536, &F))
                return CLI_ERROR;
        } else if (cli_value(&a, "--rbf", &v)) {
            if (parse_int("--rbf", v, 1, 4096, &K))
                return CLI_ERROR;
        } else if (cli_value(&a, "--blocks", &v)) {
            if (parse_int("--blocks", v, 1, 64, &T))
                return CLI_ERROR;
        } else if (cli_value(&a, "--rep-blocks", &v)) {
            if (parse_int("--rep-blocks", v, 0, 64, &k))
                return CLI_ERROR;
        } else if (cli_value(&a, "--ttt-blocks", &v)) {
            if (parse_int("--ttt-blocks", v, 0, 64, &j))
                return CLI_ERROR;
        } else if (cli_value(&a, "--cutoff", &v)) {
            if (cli_parse_double("--cutoff", v, &rc))
                return CLI_ERROR;
        } else if (cli_value(&a, "--seed", &v)) {
            if (cli_parse_u64("--seed", v, &seed))
                return CLI_ERROR;
        } else if (a.bad) {
            return CLI_ERROR;
        } else {
            return cli_fail("model init: unknown argument '%s' (see mlshift model --help)",
                            argv[a.i]);
        }
        if (a.bad)
            return CLI_ERROR;
    }
    if (a.bad)
        return CLI_ERROR;
    if (strcmp(arch, "painn") && strcmp(arch, "schnet"))
        return cli_fail("model init: --arch %s: painn or schnet", arch);
    if (strcmp(readout, "last") && strcmp(readout, "every"))
        return cli_fail("model init: --readout %s: last or every", readout);
    if (!els || !out)
        return cli_fail("model init: give --elements LIST and -o MODEL");
    const char *outs[1] = {out};
    if (cli_outputs_check("model init", NULL, 0, outs, 1))
        return CLI_ERROR;
    int z[MAX_ELEMENTS], nz = 0;
    if (parse_elements(els, z, &nz))
        return CLI_ERROR;
    mlshift_model_hyper_default(&h, strcmp(arch, "painn") ? MLSHIFT_ARCH_SCHNET
                                                          : MLSHIFT_ARCH_PAINN);
    if (F > 0)
        h.features = F;
    if (K > 0)
        h.rbf = K;
    if (T > 0)
        h.blocks = T;
    h.rep_blocks = k >= 0 ? k : h.blocks - 1;
    h.ttt_blocks = j >= 0 ? j : (h.rep_blocks < 1 ? h.rep_blocks : 1);
    h.cutoff = rc;
    h.readout_every = !strcmp(readout, "every");
    mlshift_model *m = NULL;
    mlshift_error err;
    if (mlshift_model_create(&h, z, nz, seed, &m, &err) || mlshift_model_save(m, out, &err)) {
        mlshift_model_destroy(m);
        return cli_fail("%s", err.message);
    }
    mlshift_model_info in;
    mlshift_model_get_info(m, &in);
    fprintf(stderr, "mlshift: %s model, %zu parameters, written to %s\n",
            mlshift_arch_name(h.arch), in.n_params, out);
    mlshift_model_destroy(m);
    return CLI_OK;
}

static int model_info(int argc, char **argv)
{
    const char *path = NULL;
    int tensors = 0;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--tensors"))
            tensors = 1;
        else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("%s", help);
            return CLI_OK;
        } else if (argv[i][0] == '-' || path)
            return cli_fail("model info: unexpected argument '%s'", argv[i]);
        else
            path = argv[i];
    }
    if (!path)
        return cli_fail("model info: give the model file");
    mlshift_model *m;
    mlshift_error err;
    if (mlshift_model_load(path, &m, &err))
        return cli_fail("%s", err.message);
    mlshift_model_info in;
    mlshift_model_get_info(m, &in);
    const mlshift_model_hyper *h = &in.hyper;
    printf("model:        %s\n", path);
    printf("architecture: %s\n", mlshift_arch_name(h->arch));
    printf("features:     %d\nrbf:          %d\nblocks:       %d\n", h->features, h->rbf,
           h->blocks);
    printf("split:        representation = embedding + blocks 0..%d; "
           "TTT subset = embedding + blocks 0..%d; heads main, prior = blocks %d..%d + "
           "readout\n", h->rep_blocks - 1, h->ttt_blocks - 1, h->rep_blocks, h->blocks - 1);
    printf("readout:      %s\n", h->readout_every ? "after every block, summed (each block's "
                                                    "readout in its block's group)"
                                                  : "after the last block");
    printf("cutoff:       %g Å (training; radial basis; default run-time cutoff)\n",
           h->cutoff);
    printf("units:        eV, Å, eV/Å\n");
    printf("elements:    ");
    for (int i = 0; i < in.n_elements; i++)
        printf(" %s", mlshift_element_symbol(in.elements[i]));
    printf("\nstatistics:   %zu bytes\n", in.stats_len);
    printf("parameters:   %zu in %zu tensors\n", in.n_params, in.n_tensors);
    for (int g = 0; g < MLSHIFT_NGROUPS; g++)
        printf("  %-16s %9zu in %3zu tensors\n", mlshift_group_name(g), in.group_params[g],
               in.group_tensors[g]);
    for (size_t i = 0; tensors && i < in.n_tensors; i++) {
        mlshift_tensor_info t;
        if (mlshift_model_tensor(m, i, &t, &err))
            break;
        printf("  %-32s %-14s (", t.name, mlshift_group_name(t.group));
        for (int d = 0; d < t.ndim; d++)
            printf(d ? ", %zu" : "%zu", t.shape[d]);
        printf(")%s\n", t.trainable ? "" : " statistic");
    }
    mlshift_model_destroy(m);
    return CLI_OK;
}

int cmd_model(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "init"))
        return model_init(argc, argv);
    if (argc >= 2 && !strcmp(argv[1], "info"))
        return model_info(argc, argv);
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        printf("%s", help);
        return CLI_OK;
    }
    return cli_fail("model: the subcommand is 'init' or 'info' (see mlshift model --help)");
}
