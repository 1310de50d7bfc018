/* SPDX-License-Identifier: MIT */
/* mlshift train: pre-training on prior labels, fine-tuning the main head,
 * joint training, and the plain baseline (paper §4.2, eq. 6), with
 * checkpoints, resume, a metrics log and a training record in the model. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "opttab.h"
#include "trainio.h"
#include "cli_mpi.h" /* issue 11: MPI */

#define MAX_ELEMENTS 118

static const char help[] =
    "usage: mlshift train --mode pretrain|finetune|joint|plain -o MODEL TRAIN... [options]\n"
    "\n"
    "Trains a PaiNN/SchNet model with a shared representation and two heads:\n"
    "  pretrain  representation + prior head on prior labels\n"
    "  finetune  main head on reference labels, everything else frozen; the\n"
    "            main head starts as a copy of the trained prior head\n"
    "  joint     prior and main losses in one step\n"
    "  plain     representation + main head on reference labels (no prior)\n"
    "The model (and MODEL.ckpt, checkpoints replaced atomically) is written\n"
    "only when training ends; the last stdout line is a JSON summary.\n"
    "\n"
    "model (without --init):\n"
    "  --init MODEL        start from this model (finetune needs one)\n"
    "  --arch A            painn (default) | schnet\n"
    "  --features F        features (default 128)      --rbf K    radial functions (20)\n"
    "  --blocks T          blocks (default 3)          --cutoff R training cutoff, Å (5)\n"
    "  --rep-blocks k      blocks in the shared representation (default T-1: only\n"
    "                      the last block and the readout belong to the heads)\n"
    "  --ttt-blocks j      blocks in the TTT subset (default 1)\n"
    "  --readout last|every  one readout after the last block (default), or one\n"
    "                      after every block, summed as GemNet's output blocks:\n"
    "                      the shared blocks' readouts then serve both heads and\n"
    "                      TTT adapts the TTT blocks' own (docs/models.md)\n"
    "  --elements LIST     e.g. H,C,N,O (default: those of the training frames)\n"
    "  --model-seed S      weight initialisation seed (default 1)\n"
    "labels:\n"
    "  --prior SPEC        compute prior labels with this prior (cached in\n"
    "                      MODEL.prior-cache; a second run reuses them)\n"
    "  --prior-energy-key K, --prior-forces-key K   without --prior, the frames'\n"
    "                      own prior labels (default prior_energy, prior_forces)\n"
    "  --val FILE          validation frames (repeatable); with --split and no\n"
    "                      --part the split's val part is used\n"
    "optimisation:\n"
    "  --epochs N (10)  --batch B (32)  --seed S (1)  --lr LR (1e-3)\n"
    "  --optimizer adamw|adam|sgd (adamw)  --momentum M (sgd, 0.9)\n"
    "  --weight-decay W (2e-6)  --amsgrad 0|1 (1)  --clip NORM (10; 0 off)\n"
    "  --ema D (0.999; 0 off)  --plateau-patience N (5 epochs; 0 off)\n"
    "  --plateau-factor F (0.8)  --min-lr LR (1e-6)  --early-stop N (0 off)\n"
    "  --energy-weight W (1)  --force-weight W (100)  --l2mae (force term as\n"
    "                      the authors' mean over atoms of |dF_i|)\n"
    "arithmetic:\n"
    "  --dtype float32|float64  of the steps (float32: twice as fast, the same\n"
    "                      validation MAE; weights are kept in double either way)\n"
    "  --threads N (1)     parts of a batch computed at once\n"
    "  --chunk N (8)       structures per part at most (bounds memory at the same\n"
    "                      speed; 0: the batch / threads)\n"
    "run:\n"
    "  --checkpoint-every STEPS   (default: end of each epoch only)\n"
    "  --resume CKPT       continue a run (same other arguments)\n"
    "  --metrics FILE      a JSON line per step and per epoch\n"
    "  --stop-after N      stop after N steps of this run, keeping the checkpoint\n"
    "  --copy-prior-head 0|1  finetune: start the main head as a copy of the prior\n"
    "                      head (default: when --init was pre-trained, not when its\n"
    "                      main head was already trained)\n"
    "  --config FILE       key = value lines with the same names (no --)\n"
    "\n"
    "example: mlshift train --mode plain --labels old --epochs 2 -o m.model \\\n"
    "           ../shared/data/rmd17/rmd17_aspirin_train_01.npz\n\n";

typedef struct opts {
    const char *mode, *init, *arch, *elements, *prior, *ekey, *fkey, *optimizer, *resume,
        *metrics, *config, *out, *dtype, *readout;
    int features, rbf, blocks, rep_blocks, ttt_blocks, epochs, amsgrad, plateau, early, l2mae;
    int threads;
    size_t chunk;
    uint64_t model_seed;
    double cutoff, lr, momentum, wd, clip, ema, pfactor, min_lr, we, wf;
    size_t batch, ckpt_every, stop_after;
    int copy_head;      /* −1: only when --init was pre-trained (its main head untrained) */
} opts;

typedef struct progress {
    FILE *metrics;
    int tty, quiet;
    double last;
    const char *mode;
    int heads;          /* bit 0 main, bit 1 prior: the heads in the loss */
    size_t first_step;  /* the first step of this run (ETA) */
} progress;

/* A JSON number, or null for NaN (a head that was not evaluated). */
static void jnum(FILE *fp, const char *key, double x, int comma)
{
    fprintf(fp, comma ? ",\"%s\":" : "\"%s\":", key);
    cli_json_num(fp, x);
}

static void on_event(const mlshift_train_event *ev, void *ctx)
{
    progress *p = ctx;
    const int hm = p->heads & 1, hp = p->heads & 2;
    if (p->metrics) {
        FILE *fp = p->metrics;
        fprintf(fp, "{\"epoch\":%d,\"step\":%zu,\"lr\":%.6g", ev->epoch + 1, ev->step, ev->lr);
        if (ev->epoch_end) {
            jnum(fp, "seconds", ev->seconds, 1);
            jnum(fp, "val_loss", ev->have_val ? ev->val.loss : NAN, 1);
            jnum(fp, "val_f_mae_main", ev->have_val && hm ? ev->val.f_mae[0] : NAN, 1);
            jnum(fp, "val_f_mae_prior", ev->have_val && hp ? ev->val.f_mae[1] : NAN, 1);
        } else {
            jnum(fp, "loss", ev->loss, 1);
            jnum(fp, "grad_norm", ev->grad_norm, 1);
            jnum(fp, "f_mae_main", hm ? ev->train.f_mae[0] : NAN, 1);
            jnum(fp, "f_mae_prior", hp ? ev->train.f_mae[1] : NAN, 1);
        }
        fputs("}\n", fp);
    }
    if (p->quiet)
        return;
    double t = ev->seconds;
    if (!ev->epoch_end && t - p->last < (p->tty ? 0.5 : 30))
        return;
    p->last = t;
    if (!p->first_step)
        p->first_step = ev->step;
    size_t done = ev->step - p->first_step + 1;
    size_t left = ev->steps_total > ev->step ? ev->steps_total - ev->step : 0;
    char eta[32];
    cli_duration(t / (double)done * (double)left, eta, sizeof eta);
    if (ev->epoch_end) {
        fprintf(stderr, "%s%s epoch %d/%d done: step %zu, lr %.3g", p->tty ? "\r" : "", p->mode,
                ev->epoch + 1, ev->epochs, ev->step, ev->lr);
        if (ev->have_val) {
            fprintf(stderr, ", val loss %.4g, force MAE", ev->val.loss);
            if (hm)
                fprintf(stderr, " main %.1f", 1e3 * ev->val.f_mae[0]);
            if (hp)
                fprintf(stderr, " prior %.1f", 1e3 * ev->val.f_mae[1]);
            fprintf(stderr, " meV/Å");
        }
        fprintf(stderr, "%s\n", p->tty ? "          " : "");
        return;
    }
    double rate = t > 0 ? (double)ev->frames_done / t : 0;
    fprintf(stderr, "%s%s epoch %d/%d step %zu/%zu loss %.4g lr %.3g %.0f structures/s ETA %s%s",
            p->tty ? "\r" : "", p->mode, ev->epoch + 1, ev->epochs, ev->step_in_epoch,
            ev->steps_per_epoch, ev->loss, ev->lr, rate, eta, p->tty ? "   " : "\n");
}

static int parse_elements(const char *s, int *z, int *n)
{
    *n = 0;
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", s);
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        int zz = mlshift_element_number(tok);
        if (!zz || *n >= MAX_ELEMENTS)
            return cli_fail("train: --elements: '%s' is not an element", tok);
        z[(*n)++] = zz;
    }
    return *n ? 0 : cli_fail("train: --elements is empty");
}

static int data_elements(const mlshift_dataset *d, int *z, int *n)
{
    char seen[MAX_ELEMENTS + 1] = {0};
    for (size_t k = 0; k < mlshift_dataset_count(d); k++) {
        mlshift_frame f;
        mlshift_dataset_frame(d, k, &f);
        for (size_t i = 0; i < f.natoms; i++) {
            int zz = f.numbers[i];
            if (zz >= 1 && zz <= MAX_ELEMENTS)
                seen[zz] = 1;
        }
    }
    *n = 0;
    for (int zz = 1; zz <= MAX_ELEMENTS; zz++)
        if (seen[zz])
            z[(*n)++] = zz;
    return 0;
}

static int make_model(const opts *o, const mlshift_dataset *d, mlshift_model **m)
{
    mlshift_error err;
    if (o->init) {
        if (mlshift_model_load(o->init, m, &err))
            return cli_fail("%s", err.message);
        return CLI_OK;
    }
    mlshift_model_hyper h;
    if (strcmp(o->arch, "painn") && strcmp(o->arch, "schnet"))
        return cli_fail("train: --arch '%s': painn or schnet", o->arch);
    if (strcmp(o->readout, "last") && strcmp(o->readout, "every"))
        return cli_fail("train: --readout '%s': last or every", o->readout);
    mlshift_model_hyper_default(&h, strcmp(o->arch, "painn") ? MLSHIFT_ARCH_SCHNET
                                                             : MLSHIFT_ARCH_PAINN);
    if (o->features)
        h.features = o->features;
    if (o->rbf)
        h.rbf = o->rbf;
    if (o->blocks)
        h.blocks = o->blocks;
    h.rep_blocks = o->rep_blocks >= 0 ? o->rep_blocks : h.blocks - 1;
    h.ttt_blocks = o->ttt_blocks >= 0 ? o->ttt_blocks : 1;
    if (o->cutoff > 0)
        h.cutoff = o->cutoff;
    h.readout_every = !strcmp(o->readout, "every");
    int z[MAX_ELEMENTS], nz = 0;
    if (o->elements ? parse_elements(o->elements, z, &nz) : data_elements(d, z, &nz))
        return CLI_ERROR;
    if (mlshift_model_create(&h, z, nz, o->model_seed, m, &err))
        return cli_fail("train: %s", err.message);
    return CLI_OK;
}

static unsigned long file_crc(const char *path)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return 0;
    uLong crc = crc32(0L, Z_NULL, 0);
    unsigned char buf[1 << 16];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, fp)) > 0)
        crc = crc32(crc, buf, (uInt)n);
    fclose(fp);
    return crc;
}

/* The training record: what made this model, and the in-distribution
 * prior loss TTT's stop rule compares with. */
static char *record(const opts *o, const mlshift_train_config *c, char **files, size_t nfiles,
                    size_t ntrain, size_t nval, double prior_f_mse, double prior_loss,
                    const char *prev)
{
    size_t cap = 4096 + (prev ? strlen(prev) : 0);
    for (size_t k = 0; k < nfiles; k++)
        cap += strlen(files[k]) + 64;
    char *s = malloc(cap);
    if (!s)
        return NULL;
    size_t at = 0;
#define P(...) at += (size_t)snprintf(s + at, cap - at, __VA_ARGS__)
    P("{\"prior_f_mse_in_dist\":%.9g,\"prior_loss_in_dist\":%.9g,\"mode\":\"%s\","
      "\"optimizer\":\"%s\",\"lr\":%g,\"epochs\":%d,\"batch\":%zu,\"seed\":%llu,"
      "\"energy_weight\":%g,\"force_weight\":%g,\"l2mae\":%d,\"prior\":\"%s\","
      "\"dtype\":\"%s\",\"frames\":%zu,\"val_frames\":%zu,\"files\":[",
      isfinite(prior_f_mse) ? prior_f_mse : -1, isfinite(prior_loss) ? prior_loss : -1,
      mlshift_train_mode_name(c->mode), o->optimizer, c->opt.lr, c->epochs, c->batch,
      (unsigned long long)c->seed, c->energy_weight, c->force_weight, c->l2mae, o->prior ? o->prior : "file",
      c->dtype == MLSHIFT_FLOAT64 ? "float64" : "float32", ntrain, nval);
    for (size_t k = 0; k < nfiles; k++)
        P("%s{\"path\":\"%s\",\"crc32\":\"%08lx\"}", k ? "," : "", files[k], file_crc(files[k]));
    P("]");
    if (prev)
        P(",\"init\":%s", prev);
    P("}");
#undef P
    return s;
}

static int build_sets(const opts *o, cli_frames_opts *fo, char **files, size_t nfiles,
                      char **vfiles, size_t nv, mlshift_frames **fr, mlshift_frames **vfr,
                      mlshift_dataset **tr, mlshift_dataset **va, size_t **tidx,
                      size_t **vidx)
{
    size_t *parts[3] = {NULL, NULL, NULL}, counts[3] = {0, 0, 0};
    int split = fo->split && !fo->part;
    mlshift_error err;
    if (cli_load_frames(fo, files, nfiles, fr, split ? parts : NULL, counts, NULL))
        return CLI_ERROR;
    free(parts[2]);
    size_t n = split ? counts[0] : mlshift_frames_count(*fr);
    if (mlshift_dataset_create(*fr, split ? parts[0] : NULL, n, tr, &err))
        return free(parts[0]), free(parts[1]), cli_fail("%s", err.message);
    *tidx = parts[0];
    if (split && counts[1]) {
        if (mlshift_dataset_create(*fr, parts[1], counts[1], va, &err))
            return free(parts[1]), cli_fail("%s", err.message);
        *vidx = parts[1];
    } else {
        free(parts[1]);
    }
    if (nv) {
        cli_frames_opts vo = *fo;
        vo.split = NULL;
        vo.part = NULL;
        vo.dedup_key = NULL;
        if (cli_load_frames(&vo, vfiles, nv, vfr, NULL, NULL, NULL))
            return CLI_ERROR;
        mlshift_dataset_destroy(*va);
        *va = NULL;
        if (mlshift_dataset_create(*vfr, NULL, mlshift_frames_count(*vfr), va, &err))
            return cli_fail("%s", err.message);
    }
    (void)o;
    return CLI_OK;
}

int cmd_train(int argc, char **argv)
{
    opts o = {.arch = "painn", .readout = "last", .ekey = "prior_energy", .fkey = "prior_forces",
              .optimizer = "adamw", .rep_blocks = -1, .ttt_blocks = -1, .model_seed = 1,
              .epochs = 10, .amsgrad = 1, .plateau = 5, .lr = 1e-3, .momentum = 0.9,
              .wd = 2e-6, .clip = 10, .ema = 0.999, .pfactor = 0.8, .min_lr = 1e-6, .we = 1,
              .wf = 100, .batch = 32, .copy_head = -1, .threads = 1, .chunk = SIZE_MAX};
    const cli_opt tab[] = {
        {"--mode", OPT_STR, &o.mode, 0, 0, 0}, {"--init", OPT_STR, &o.init, 0, 0, 0},
        {"--arch", OPT_STR, &o.arch, 0, 0, 0}, {"--elements", OPT_STR, &o.elements, 0, 0, 0},
        {"--prior", OPT_STR, &o.prior, 0, 0, 0},
        {"--prior-energy-key", OPT_STR, &o.ekey, 0, 0, 0},
        {"--prior-forces-key", OPT_STR, &o.fkey, 0, 0, 0},
        {"--optimizer", OPT_STR, &o.optimizer, 0, 0, 0},
        {"--resume", OPT_STR, &o.resume, 0, 0, 0}, {"--metrics", OPT_STR, &o.metrics, 0, 0, 0},
        {"--output", OPT_STR, &o.out, 0, 0, 0},
        {"--features", OPT_INT, &o.features, 1, 4096, 0}, {"--rbf", OPT_INT, &o.rbf, 1, 1024, 0},
        {"--blocks", OPT_INT, &o.blocks, 1, 64, 0},
        {"--rep-blocks", OPT_INT, &o.rep_blocks, 0, 64, 0},
        {"--ttt-blocks", OPT_INT, &o.ttt_blocks, 0, 64, 0},
        {"--readout", OPT_STR, &o.readout, 0, 0, 0},
        {"--model-seed", OPT_U64, &o.model_seed, 0, 1.8e19, 0},
        {"--cutoff", OPT_DBL, &o.cutoff, 0, 100, 1},
        {"--epochs", OPT_INT, &o.epochs, 1, 1e9, 0}, {"--batch", OPT_SIZE, &o.batch, 1, 1e6, 0},
        {"--lr", OPT_DBL, &o.lr, 0, 10, 1}, {"--momentum", OPT_DBL, &o.momentum, 0, 0.999999, 0},
        {"--weight-decay", OPT_DBL, &o.wd, 0, 1, 0}, {"--amsgrad", OPT_INT, &o.amsgrad, 0, 1, 0},
        {"--clip", OPT_DBL, &o.clip, 0, 1e12, 0}, {"--ema", OPT_DBL, &o.ema, 0, 0.999999999, 0},
        {"--plateau-patience", OPT_INT, &o.plateau, 0, 1e9, 0},
        {"--plateau-factor", OPT_DBL, &o.pfactor, 0, 1, 1},
        {"--min-lr", OPT_DBL, &o.min_lr, 0, 10, 0},
        {"--early-stop", OPT_INT, &o.early, 0, 1e9, 0},
        {"--energy-weight", OPT_DBL, &o.we, 0, 1e12, 0},
        {"--force-weight", OPT_DBL, &o.wf, 0, 1e12, 0}, {"--l2mae", OPT_FLAG, &o.l2mae, 0, 0, 0},
        {"--checkpoint-every", OPT_SIZE, &o.ckpt_every, 0, 1e15, 0},
        {"--stop-after", OPT_SIZE, &o.stop_after, 0, 1e15, 0},
        {"--copy-prior-head", OPT_INT, &o.copy_head, 0, 1, 0},
        {"--dtype", OPT_STR, &o.dtype, 0, 0, 0},
        {"--threads", OPT_INT, &o.threads, 1, 64, 0},
        {"--chunk", OPT_SIZE, &o.chunk, 0, 1e9, 0},
    };
    const size_t ntab = sizeof tab / sizeof tab[0];
    cli_frames_opts fo = {0};
    fo.seed = 1;
    cli_args a = {argc, 1, argv, "train", 0};
    char **files = calloc((size_t)argc + 1, sizeof *files),
         **vfiles = calloc((size_t)argc + 1, sizeof *vfiles);
    size_t nfiles = 0, nv = 0, *tidx = NULL, *vidx = NULL;
    int rc = CLI_ERROR;
    mlshift_frames *fr = NULL, *vfr = NULL;
    mlshift_dataset *tr = NULL, *va = NULL;
    mlshift_model *m = NULL;
    char *ckpt = NULL, *cache = NULL, *meta = NULL;
    progress pg = {0};
    if (!files || !vfiles) {
        cli_fail("out of memory");
        goto done;
    }
    for (int i = 1; i + 1 < argc; i++) /* the config first: the command line overrides it */
        if (!strcmp(argv[i], "--config") && cli_opt_config(argv[i + 1], tab, ntab, "train"))
            goto done;
    for (; a.i < argc; a.i++) {
        const char *v;
        int r;
        if (cli_flag(&a, "--help") || cli_flag(&a, "-h")) {
            printf("%s%s", help, cli_frames_help);
            rc = CLI_OK;
            goto done;
        } else if (cli_value(&a, "--config", &v)) {
            continue;
        } else if (cli_value(&a, "-o", &o.out)) {
            continue;
        } else if (cli_value(&a, "--val", &v)) {
            vfiles[nv++] = (char *)v;
        } else if ((r = cli_opt_match(&a, tab, ntab)) != 0) {
            if (r < 0)
                goto done;
        } else if (cli_frames_arg(&a, &fo, files, &nfiles)) {
            goto done;
        }
    }
    if (!o.mode) {
        cli_fail("train: --mode pretrain|finetune|joint|plain is required");
        goto done;
    }
    int mode_i = mlshift_train_mode_parse(o.mode);
    if (mode_i < 0) {
        cli_fail("train: --mode '%s': pretrain, finetune, joint or plain", o.mode);
        goto done;
    }
    mlshift_train_mode mode = (mlshift_train_mode)mode_i;
    if (!o.out || !nfiles) {
        cli_fail("train: needs -o MODEL and at least one training file (--help)");
        goto done;
    }
    if (mode == MLSHIFT_TRAIN_FINETUNE && !o.init) {
        cli_fail("train: --mode finetune needs --init MODEL (a pre-trained model)");
        goto done;
    }
    mlshift_train_config c;
    mlshift_train_config_default(&c, mode);
    int kind_i = mlshift_optimizer_parse(o.optimizer);
    mlshift_optimizer kind = (mlshift_optimizer)kind_i;
    if (kind_i < 0) {
        cli_fail("train: --optimizer '%s': adamw, adam or sgd", o.optimizer);
        goto done;
    }
    mlshift_optim_config_default(&c.opt, kind);
    c.opt.lr = o.lr;
    c.opt.momentum = kind == MLSHIFT_OPT_SGD ? o.momentum : 0;
    c.opt.weight_decay = o.wd;
    c.opt.amsgrad = kind != MLSHIFT_OPT_SGD && o.amsgrad;
    if (kind != MLSHIFT_OPT_SGD)
        c.opt.eps = 1e-7;
    c.opt.clip_norm = o.clip;
    c.opt.ema_decay = o.ema;
    c.epochs = o.epochs;
    c.batch = o.batch;
    c.seed = fo.seed;
    c.energy_weight = o.we;
    c.force_weight = o.wf;
    c.l2mae = o.l2mae;
    c.plateau_patience = o.plateau;
    c.plateau_factor = o.pfactor;
    c.min_lr = o.min_lr;
    c.early_stop = o.early;
    c.checkpoint_every = o.ckpt_every;
    c.stop_after = o.stop_after;
    if (o.dtype && cli_dtype_parse("train", o.dtype, &c.dtype))
        goto done;
    c.threads = o.threads;
    if (o.chunk != SIZE_MAX) /* else the library's default */
        c.chunk = o.chunk;
    size_t lo = strlen(o.out);
    ckpt = malloc(lo + 16);
    cache = malloc(lo + 16);
    if (!ckpt || !cache) {
        cli_fail("out of memory");
        goto done;
    }
    snprintf(ckpt, lo + 16, "%s.ckpt", o.out);
    snprintf(cache, lo + 16, "%s.prior-cache", o.out);
    c.checkpoint = ckpt;
    const char *outs[4] = {o.out, ckpt, cache, o.metrics}, *init[1] = {o.init};
    if (cli_outputs_check("train", init, 1, outs, 4) ||
        cli_outputs_check("train", (const char *const *)files, nfiles, outs, 4) ||
        cli_outputs_check("train", (const char *const *)vfiles, nv, outs, 4))
        goto done;
    if (build_sets(&o, &fo, files, nfiles, vfiles, nv, &fr, &vfr, &tr, &va, &tidx, &vidx))
        goto done;
    int need_prior = mode == MLSHIFT_TRAIN_PRETRAIN || mode == MLSHIFT_TRAIN_JOINT;
    size_t ntr = mlshift_dataset_count(tr), nva = va ? mlshift_dataset_count(va) : 0;
    if (need_prior) {
        /* MPI: rank 0 alone writes the prior-label cache */
        if (cli_prior_labels(tr, o.prior, cli_mpi_rank() ? NULL : cache, &fo, files, nfiles,
                             tidx, o.ekey, o.fkey))
            goto done;
        if (nva && !nv && cli_prior_labels(va, o.prior, NULL, &fo, files, nfiles, vidx,
                                           o.ekey, o.fkey))
            goto done;
        if (nva && nv) {
            cli_frames_opts vo = fo;
            vo.split = vo.part = vo.dedup_key = NULL;
            if (cli_prior_labels(va, o.prior, NULL, &vo, vfiles, nv, NULL, o.ekey, o.fkey))
                goto done;
        }
    }
    if (make_model(&o, tr, &m))
        goto done;
    mlshift_model_info mi;
    mlshift_model_get_info(m, &mi);
    const char *prev = mi.record;
    /* finetune: h_M starts as a copy of h_P when h_M was never trained (the
     * --init model was pre-trained); a fine-tuned or adapted model keeps its
     * main head (few-shot fine-tuning on a new molecule, Fig. 14) */
    c.copy_prior_head = o.copy_head >= 0 ? o.copy_head
                        : !prev || strstr(prev, "\"mode\":\"pretrain\"") ==
                                       strstr(prev, "\"mode\":");
    if (o.metrics && cli_mpi_rank() == 0 && /* MPI: rank 0 writes the metrics */
        !(pg.metrics = fopen(o.metrics, o.resume ? "a" : "w"))) {
        cli_fail("train: --metrics %s: cannot open", o.metrics);
        goto done;
    }
    pg.tty = isatty(2);
    pg.quiet = fo.quiet || cli_mpi_rank() != 0; /* MPI: rank 0 reports */
    pg.mode = o.mode;
    pg.last = -1e9;
    pg.heads = (mode != MLSHIFT_TRAIN_PRETRAIN) |
               (mode == MLSHIFT_TRAIN_PRETRAIN || mode == MLSHIFT_TRAIN_JOINT) << 1;
    c.progress = on_event;
    c.progress_ctx = &pg;
    cli_mpi_train_config(&c); /* MPI: each rank a shard of every batch (cli/mpi.c) */
    if (!fo.quiet)
        fprintf(stderr, "train %s: %zu training frames, %zu validation, %s %dx%d, %zu parameters\n",
                o.mode, ntr, nva, mlshift_arch_name(mi.hyper.arch), mi.hyper.features,
                mi.hyper.blocks, mi.n_params);
    mlshift_train_report rep;
    mlshift_error err;
    if (mlshift_train(m, tr, nva ? va : NULL, &c, o.resume, &rep, &err)) {
        cli_fail("%s", err.message);
        goto done;
    }
    if (rep.interrupted) {
        fprintf(stderr, "train: stopped after %zu steps (--stop-after); resume with --resume %s\n",
                rep.steps, ckpt);
        rc = CLI_OK;
        goto done;
    }
    /* the in-distribution prior loss, for TTT's stop rule */
    double pf = NAN, pl = NAN;
    mlshift_model_get_info(m, &mi); /* the record again: training kept it */
    if (mlshift_dataset_labels(tr, MLSHIFT_HEAD_PRIOR) & 2) {
        mlshift_loss_config lc = {{0, 0}, {0, 0}, 0, 0};
        lc.w_f[MLSHIFT_HEAD_PRIOR] = c.force_weight;
        const mlshift_dataset *ind =
            nva && (mlshift_dataset_labels(va, MLSHIFT_HEAD_PRIOR) & 2) ? va : tr;
        mlshift_loss_parts p;
        if (!mlshift_dataset_loss(m, ind, c.batch, 0, &lc, &p, &err)) {
            pf = p.f_mse[MLSHIFT_HEAD_PRIOR];
            pl = p.loss;
        }
    } else if (mi.record) {
        pf = mlshift_model_record_number(m, "prior_f_mse_in_dist");
        pl = mlshift_model_record_number(m, "prior_loss_in_dist");
    }
    meta = record(&o, &c, files, nfiles, ntr, nva, pf, pl, mi.record);
    if (!meta || mlshift_model_set_record(m, meta, &err) ||
        (cli_mpi_rank() == 0 && mlshift_model_save(m, o.out, &err))) { /* MPI: rank 0 saves */
        cli_fail("%s", meta ? err.message : "out of memory");
        goto done;
    }
    printf("{\"mode\":\"%s\",\"model\":\"%s\",\"frames\":%zu,\"val_frames\":%zu,\"steps\":%zu,"
           "\"epochs\":%d,\"seconds\":%.1f,\"weights\":\"%s\",\"stopped_early\":%d,"
           "\"underdetermined_atom_refs\":[%d,%d]",
           o.mode, o.out, ntr, nva, rep.steps, rep.epochs, rep.seconds,
           rep.weights == 2 ? "best-val" : rep.weights == 1 ? "ema" : "last", rep.stopped_early,
           rep.underdetermined[0], rep.underdetermined[1]);
    if (rep.have_val) {
        const int hm = pg.heads & 1, hp = pg.heads & 2;
        jnum(stdout, "val_loss", rep.val.loss, 1);
        jnum(stdout, "val_force_mae_meV_main", hm ? 1e3 * rep.val.f_mae[0] : NAN, 1);
        jnum(stdout, "val_force_mae_meV_prior", hp ? 1e3 * rep.val.f_mae[1] : NAN, 1);
        jnum(stdout, "val_energy_mae_meV_main", hm ? 1e3 * rep.val.e_mae[0] : NAN, 1);
        jnum(stdout, "val_energy_mae_meV_prior", hp ? 1e3 * rep.val.e_mae[1] : NAN, 1);
    }
    jnum(stdout, "prior_f_mse_in_dist", pf, 1);
    printf("}\n");
    rc = CLI_OK;
done:
    if (pg.metrics)
        fclose(pg.metrics);
    mlshift_model_destroy(m);
    mlshift_dataset_destroy(tr);
    mlshift_dataset_destroy(va);
    mlshift_frames_destroy(fr);
    mlshift_frames_destroy(vfr);
    free(tidx);
    free(vidx);
    free(files);
    free(vfiles);
    free(ckpt);
    free(cache);
    free(meta);
    return rc;
}
