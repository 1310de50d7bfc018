/* SPDX-License-Identifier: MIT */
/* mlshift ttt: test-time training (paper eq. 7) of a trained model on the
 * prior labels of test structures, one adapted model per molecule, with a
 * before/after table and a per-step log (the paper's Fig. 9b). */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "opttab.h"
#include "plot.h"
#include "trainio.h"
#include "cli_mpi.h" /* issue 11: MPI */

static const char help[] =
    "usage: mlshift ttt --model MODEL [--prior SPEC] -o OUT TEST... [options]\n"
    "\n"
    "Updates only the TTT subset of the representation (embedding and the first\n"
    "--ttt-blocks blocks) by gradient steps on the prior loss of the test\n"
    "structures, the prior head and everything else frozen (eq. 7); the main\n"
    "head then predicts with the adapted representation (eq. 8). No reference\n"
    "label is used; where the test frames carry labels, the main-task error\n"
    "before and after is reported. Frames are grouped by composition (or\n"
    "--group-key) and each group gets its own adapted model: with one group OUT\n"
    "is the model file, with several OUT is a folder of FORMULA.model files.\n"
    "\n"
    "  --model MODEL       a model trained with mlshift train (finetune/joint)\n"
    "  --prior SPEC        the prior whose labels TTT fits (cached beside OUT);\n"
    "                      without it the frames' prior_energy/prior_forces\n"
    "  --preset P          md17 (default): SGD lr 1e-3, momentum 0.9, wd 1e-3,\n"
    "                      3000 steps | spice: lr 1e-4, 250 steps | md22: lr\n"
    "                      1e-5, 50 steps | oc20: Adam lr 1e-4, wd 1e-3, 11 steps\n"
    "  --steps N  --lr LR|auto  --batch B (32)  --optimizer sgd|adam|adamw\n"
    "  --momentum M  --weight-decay W  --clip NORM (10)  --seed S (1)\n"
    "  --energy-weight W (1)  --force-weight W (100)  --l2mae\n"
    "  --lr-candidates LIST  for --lr auto (default 1e-5,3e-5,1e-4,3e-4,1e-3)\n"
    "  --probe-steps N     steps per candidate for --lr auto (default 50)\n"
    "  --patience N        stop when the running prior loss has not improved for\n"
    "                      N steps (default 0: off)\n"
    "  --no-target         do not stop at the model's in-distribution prior loss\n"
    "  --radius R          run-time cutoff, Å (default: the model's)\n"
    "  --ttt-blocks j      the TTT subset: embedding + blocks 0..j-1 of the\n"
    "                      representation (default: the model's, as trained)\n"
    "  --dtype float32|float64  of the steps (default float32; weights stay double)\n"
    "  --threads N (1)  --chunk N (0)  parts of a batch at once / structures per part\n"
    "  --group-key K       group frames by this info key instead of composition\n"
    "  --log FILE.csv      per step: group, step, prior loss (batch, running),\n"
    "                      prior force MSE, lr, main force/energy MAE when measured\n"
    "  --eval-every N      measure the main-task MAE every N steps (labelled\n"
    "                      frames; default 0: before and after only)\n"
    "  --eval-frames N     at most N frames for it (default all)\n"
    "  --plot FILE.svg     prior loss and main-task MAE against step (Fig. 9b);\n"
    "                      with several groups one file each, FILE-<group>.svg\n"
    "\n"
    "example: mlshift ttt --model ft.model --prior sgdml:naph50.sgdml --labels old \\\n"
    "           ../shared/data/rmd17/rmd17_naphthalene_test_01.npz -o naph.model\n\n";

typedef struct topts {
    const char *model, *prior, *preset, *lr, *optimizer, *group_key, *log, *ekey, *fkey, *out,
        *cands, *plot, *dtype;
    size_t steps, batch, patience, eval_every, eval_frames, probe, chunk;
    int threads, ttt_blocks;
    double momentum, wd, clip, we, wf, radius;
    int l2mae, no_target;
} topts;

typedef struct tlog {
    FILE *fp;
    const char *group;
    int tty, quiet;
    double t0, last;
    /* for --plot: per step, and at the main-task measurements */
    double *step, *loss, *avg;      /* (n,) */
    double *mstep, *mmae;           /* (nm,) */
    size_t n, nm, cap;
} tlog;

static void remember(tlog *l, const mlshift_ttt_event *ev)
{
    if (l->n == l->cap) {
        size_t c = l->cap ? 2 * l->cap : 1024;
        double *p[5] = {l->step, l->loss, l->avg, l->mstep, l->mmae};
        for (int k = 0; k < 5; k++) {
            double *q = realloc(p[k], c * sizeof *q);
            if (!q)
                return;
            p[k] = q;
        }
        l->step = p[0], l->loss = p[1], l->avg = p[2], l->mstep = p[3], l->mmae = p[4];
        l->cap = c;
    }
    l->step[l->n] = (double)ev->step;
    l->loss[l->n] = ev->prior_loss;
    l->avg[l->n++] = ev->prior_loss_avg;
    if (ev->have_main) {
        l->mstep[l->nm] = (double)ev->step;
        l->mmae[l->nm++] = 1e3 * ev->main_f_mae;
    }
}

/* The paper's Fig. 9b: prior loss and main-task force MAE against step. */
static int plot_group(const tlog *l, const char *path, double before, double after,
                      size_t steps)
{
    double xs[2] = {0, (double)steps}, ys[2] = {1e3 * before, 1e3 * after};
    plot_series a[2] = {{"batch", l->step, l->loss, l->n, "#9ab", 0, 0},
                        {"running average", l->step, l->avg, l->n, "#1f4e9c", 0, 0}};
    plot_series b[2] = {{"during TTT (subset)", l->mstep, l->mmae, l->nm, "#c0392b", 0, 0},
                        {"before / after (all frames)", xs, ys, 2, "#222", 1, 0}};
    plot_panel p[2] = {{"prior loss (no labels)", "TTT step", "loss", a, 2, NAN, NAN, 1},
                       {"main head vs reference labels", "TTT step", "force MAE (meV/Å)", b,
                        before > 0 ? 2 : 0, NAN, NAN, 0}};
    char title[128];
    snprintf(title, sizeof title, "test-time training: %s", l->group);
    return plot_write(path, title, p, before > 0 ? 2 : 1);
}

static void on_step(const mlshift_ttt_event *ev, void *ctx)
{
    tlog *l = ctx;
    remember(l, ev);
    if (l->fp) {
        fprintf(l->fp, "%s,%zu,%.9g,%.9g,%.9g,%.6g,", l->group, ev->step, ev->prior_loss,
                ev->prior_loss_avg, ev->prior_f_mse, ev->lr);
        if (ev->have_main)
            fprintf(l->fp, "%.9g,%.9g\n", ev->main_f_mae, ev->main_e_mae);
        else
            fprintf(l->fp, ",\n");
    }
    double t = cli_now() - l->t0;
    if (l->quiet || (t - l->last < (l->tty ? 0.5 : 30) && ev->step != ev->steps))
        return;
    l->last = t;
    char eta[32];
    cli_duration(t / (double)ev->step * (double)(ev->steps - ev->step), eta, sizeof eta);
    fprintf(stderr, "%sttt %s step %zu/%zu prior loss %.4g (running %.4g)", l->tty ? "\r" : "",
            l->group, ev->step, ev->steps, ev->prior_loss, ev->prior_loss_avg);
    if (ev->have_main)
        fprintf(stderr, " main force MAE %.1f meV/Å", 1e3 * ev->main_f_mae);
    fprintf(stderr, " ETA %s%s", eta, l->tty ? "   " : "\n");
}

static int preset(const char *p, mlshift_ttt_config *c)
{
    mlshift_error err;
    if (mlshift_ttt_config_preset(c, p, &err))
        return cli_fail("ttt: --preset '%s': md17, spice, md22 or oc20", p);
    return 0;
}

/* Groups: frames with the same composition (or value of key). */
static size_t group_frames(const mlshift_frames *fr, const char *key, char (**names)[64],
                           size_t **gid)
{
    size_t n = mlshift_frames_count(fr), ng = 0;
    *names = calloc(n ? n : 1, sizeof **names);
    *gid = calloc(n ? n : 1, sizeof **gid);
    if (!*names || !*gid)
        return 0;
    for (size_t k = 0; k < n; k++) {
        mlshift_frame f;
        mlshift_frames_get(fr, k, &f);
        char g[64] = "";
        if (!key || !mlshift_info_get(f.info, key, g, sizeof g))
            mlshift_formula(&f, g, sizeof g);
        /* the name becomes a file name: keep [A-Za-z0-9._-] */
        for (char *c = g; *c; c++)
            if (!isalnum((unsigned char)*c) && *c != '.' && *c != '_' && *c != '-')
                *c = '_';
        if (g[0] == '.' || !g[0])
            g[0] = '_';
        size_t j = 0;
        while (j < ng && strcmp((*names)[j], g))
            j++;
        if (j == ng)
            snprintf((*names)[ng++], 64, "%s", g);
        (*gid)[k] = j;
    }
    return ng;
}

static int parse_list(const char *s, double *v, size_t *k)
{
    *k = 0;
    char buf[512];
    snprintf(buf, sizeof buf, "%s", s);
    for (char *t = strtok(buf, ","); t && *k < 16; t = strtok(NULL, ",")) {
        if (cli_parse_double("--lr-candidates", t, &v[*k]))
            return CLI_ERROR;
        if (!(v[*k] > 0))
            return cli_fail("ttt: --lr-candidates: %s must be > 0", t);
        (*k)++;
    }
    return *k ? 0 : cli_fail("ttt: --lr-candidates is empty");
}

static int run_group(const topts *o, const mlshift_model *base, mlshift_dataset *d,
                     const char *group, const char *path, const char *plot,
                     mlshift_ttt_config c, FILE *logfp, int quiet, int first)
{
    mlshift_error err;
    mlshift_model *m = NULL;
    if (mlshift_model_clone(base, &m, &err))
        return cli_fail("%s", err.message);
    int rc = CLI_ERROR;
    double lr_used = c.opt.lr;
    tlog l;
    memset(&l, 0, sizeof l);
    if (!strcmp(o->lr, "auto")) {
        double cand[16], loss[16];
        size_t k;
        if (parse_list(o->cands, cand, &k))
            goto done;
        if (mlshift_ttt_probe_lr(m, d, &c, cand, k, o->probe, &lr_used, loss, &err)) {
            cli_fail("ttt %s: %s", group, err.message);
            goto done;
        }
        if (!quiet) {
            fprintf(stderr, "ttt %s: --lr auto, prior loss after %zu steps:", group, o->probe);
            for (size_t i = 0; i < k; i++)
                fprintf(stderr, " %g→%.4g", cand[i], loss[i]);
            fprintf(stderr, "; using %g\n", lr_used);
        }
        c.opt.lr = lr_used;
    }
    l.fp = logfp;
    l.group = group;
    l.tty = isatty(2);
    l.quiet = quiet;
    l.t0 = cli_now();
    l.last = -1e9;
    c.progress = on_step;
    c.progress_ctx = &l;
    mlshift_ttt_report r;
    if (mlshift_ttt(m, d, &c, &r, &err)) {
        cli_fail("ttt %s: %s", group, err.message);
        goto done;
    }
    if (plot && plot_group(&l, plot, r.have_main ? r.main_f_mae_before : 0,
                           r.have_main ? r.main_f_mae_after : 0, r.steps))
        goto done;
    if (l.tty && !quiet)
        fputc('\n', stderr);
    /* the adapted model's record: TTT on top of the model's own */
    mlshift_model_info bi;
    mlshift_model_get_info(base, &bi);
    const char *bmeta = bi.record;
    size_t nd = mlshift_dataset_count(d);
    size_t cap = 512 + (bmeta ? strlen(bmeta) : 0) + strlen(group);
    char *meta = malloc(cap);
    if (!meta) {
        cli_fail("out of memory");
        goto done;
    }
    double ind = mlshift_model_record_number(base, "prior_f_mse_in_dist");
    snprintf(meta, cap,
             "{\"prior_f_mse_in_dist\":%.9g,\"mode\":\"ttt\",\"group\":\"%s\",\"prior\":\"%s\","
             "\"steps\":%zu,\"lr\":%g,\"dtype\":\"%s\",\"frames\":%zu,"
             "\"prior_loss\":[%.9g,%.9g]%s%s}",
             isfinite(ind) ? ind : -1, group, o->prior ? o->prior : "file", r.steps, lr_used,
             c.dtype == MLSHIFT_FLOAT64 ? "float64" : "float32", nd, r.prior_before,
             r.prior_after, bmeta ? ",\"init\":" : "",
             bmeta ? bmeta : "");
    int bad = mlshift_model_set_record(m, meta, &err) != MLSHIFT_OK;
    free(meta);
    if (bad || mlshift_model_save(m, path, &err)) {
        cli_fail("%s", err.message);
        goto done;
    }
    static const char *why[] = {"all steps", "patience", "reached in-distribution prior loss"};
    if (!quiet) {
        fprintf(stderr, "ttt %s: %zu frames, %zu steps (%s), %.1f s\n", group, nd, r.steps,
                why[r.stop_reason], r.seconds);
        fprintf(stderr, "  prior loss          %10.4g -> %10.4g\n", r.prior_before, r.prior_after);
        fprintf(stderr, "  prior force MAE     %10.1f -> %10.1f meV/Å\n",
                1e3 * r.prior_f_mae_before, 1e3 * r.prior_f_mae_after);
        if (r.have_main)
            fprintf(stderr, "  main force MAE      %10.1f -> %10.1f meV/Å\n",
                    1e3 * r.main_f_mae_before, 1e3 * r.main_f_mae_after);
    }
    printf("%s{\"group\":\"%s\",\"model\":\"%s\",\"frames\":%zu,\"steps\":%zu,\"stop\":\"%s\","
           "\"lr\":%g,\"seconds\":%.1f,\"prior_loss\":[%.6g,%.6g],"
           "\"prior_force_mae_meV\":[%.3f,%.3f]",
           first ? "" : ",", group, path, nd, r.steps, why[r.stop_reason], lr_used, r.seconds,
           r.prior_before, r.prior_after, 1e3 * r.prior_f_mae_before, 1e3 * r.prior_f_mae_after);
    if (r.have_main)
        printf(",\"main_force_mae_meV\":[%.3f,%.3f]", 1e3 * r.main_f_mae_before,
               1e3 * r.main_f_mae_after);
    printf("}");
    rc = CLI_OK;
done:
    free(l.step), free(l.loss), free(l.avg), free(l.mstep), free(l.mmae);
    mlshift_model_destroy(m);
    return rc;
}

int cmd_ttt(int argc, char **argv)
{
    topts o = {.preset = "md17", .ekey = "prior_energy", .fkey = "prior_forces",
               .cands = "1e-5,3e-5,1e-4,3e-4,1e-3", .probe = 50, .batch = 32, .we = 1,
               .wf = 100, .clip = 10, .momentum = -1, .wd = -1,
               .threads = 1, .chunk = SIZE_MAX, .ttt_blocks = -1};
    const cli_opt tab[] = {
        {"--model", OPT_STR, &o.model, 0, 0, 0}, {"--prior", OPT_STR, &o.prior, 0, 0, 0},
        {"--preset", OPT_STR, &o.preset, 0, 0, 0}, {"--lr", OPT_STR, &o.lr, 0, 0, 0},
        {"--optimizer", OPT_STR, &o.optimizer, 0, 0, 0},
        {"--group-key", OPT_STR, &o.group_key, 0, 0, 0}, {"--log", OPT_STR, &o.log, 0, 0, 0},
        {"--prior-energy-key", OPT_STR, &o.ekey, 0, 0, 0},
        {"--prior-forces-key", OPT_STR, &o.fkey, 0, 0, 0},
        {"--output", OPT_STR, &o.out, 0, 0, 0},
        {"--lr-candidates", OPT_STR, &o.cands, 0, 0, 0},
        {"--plot", OPT_STR, &o.plot, 0, 0, 0},
        {"--steps", OPT_SIZE, &o.steps, 0, 1e12, 0}, {"--batch", OPT_SIZE, &o.batch, 1, 1e6, 0},
        {"--patience", OPT_SIZE, &o.patience, 0, 1e12, 0},
        {"--eval-every", OPT_SIZE, &o.eval_every, 0, 1e12, 0},
        {"--eval-frames", OPT_SIZE, &o.eval_frames, 0, 1e12, 0},
        {"--probe-steps", OPT_SIZE, &o.probe, 1, 1e6, 0},
        {"--momentum", OPT_DBL, &o.momentum, 0, 0.999999, 0},
        {"--weight-decay", OPT_DBL, &o.wd, 0, 1, 0}, {"--clip", OPT_DBL, &o.clip, 0, 1e12, 0},
        {"--energy-weight", OPT_DBL, &o.we, 0, 1e12, 0},
        {"--force-weight", OPT_DBL, &o.wf, 0, 1e12, 0},
        {"--radius", OPT_DBL, &o.radius, 0, 100, 1}, {"--l2mae", OPT_FLAG, &o.l2mae, 0, 0, 0},
        {"--no-target", OPT_FLAG, &o.no_target, 0, 0, 0},
        {"--dtype", OPT_STR, &o.dtype, 0, 0, 0},
        {"--threads", OPT_INT, &o.threads, 1, 64, 0},
        {"--chunk", OPT_SIZE, &o.chunk, 0, 1e9, 0},
        {"--ttt-blocks", OPT_INT, &o.ttt_blocks, 0, 64, 0},
    };
    const size_t ntab = sizeof tab / sizeof tab[0];
    cli_frames_opts fo = {0};
    fo.seed = 1;
    cli_args a = {argc, 1, argv, "ttt", 0};
    char **files = calloc((size_t)argc + 1, sizeof *files);
    size_t nfiles = 0, *gid = NULL, *idx = NULL;
    char(*names)[64] = NULL;
    int rc = CLI_ERROR;
    mlshift_frames *fr = NULL;
    mlshift_model *m = NULL;
    cli_output *logout = NULL;
    FILE *logfp = NULL;
    char *cache = NULL, *path = NULL, *plot = NULL;
    size_t lp = 0;
    mlshift_error err;
    if (!files) {
        cli_fail("out of memory");
        goto done;
    }
    for (; a.i < argc; a.i++) {
        int r;
        if (cli_flag(&a, "--help") || cli_flag(&a, "-h")) {
            printf("%s%s", help, cli_frames_help);
            rc = CLI_OK;
            goto done;
        } else if (cli_value(&a, "-o", &o.out)) {
            continue;
        } else if ((r = cli_opt_match(&a, tab, ntab)) != 0) {
            if (r < 0)
                goto done;
        } else if (cli_frames_arg(&a, &fo, files, &nfiles)) {
            goto done;
        }
    }
    if (!o.model || !o.out || !nfiles) {
        cli_fail("ttt: needs --model MODEL, -o OUT and test files (--help)");
        goto done;
    }
    mlshift_ttt_config c;
    if (preset(o.preset, &c))
        goto done;
    if (o.optimizer) {
        int ki = mlshift_optimizer_parse(o.optimizer);
        mlshift_optimizer k = (mlshift_optimizer)ki;
        if (ki < 0) {
            cli_fail("ttt: --optimizer '%s': sgd, adam or adamw", o.optimizer);
            goto done;
        }
        double lr = c.opt.lr, wd = c.opt.weight_decay;
        mlshift_optim_config_default(&c.opt, k);
        c.opt.lr = lr;
        c.opt.weight_decay = wd;
        if (k == MLSHIFT_OPT_SGD)
            c.opt.momentum = 0.9;
    }
    if (o.lr && strcmp(o.lr, "auto")) {
        if (cli_parse_double("--lr", o.lr, &c.opt.lr))
            goto done;
        if (!(c.opt.lr > 0)) {
            cli_fail("ttt: --lr %s must be > 0 (or auto)", o.lr);
            goto done;
        }
    }
    if (!o.lr)
        o.lr = "preset";
    if (o.steps)
        c.steps = o.steps;
    if (o.momentum >= 0 && c.opt.kind == MLSHIFT_OPT_SGD)
        c.opt.momentum = o.momentum;
    if (o.wd >= 0)
        c.opt.weight_decay = o.wd;
    c.opt.clip_norm = o.clip;
    c.batch = o.batch;
    c.seed = fo.seed;
    c.energy_weight = o.we;
    c.force_weight = o.wf;
    c.l2mae = o.l2mae;
    c.cutoff = o.radius;
    c.patience = o.patience;
    c.eval_every = o.eval_every;
    c.eval_frames = o.eval_frames;
    if (o.dtype && cli_dtype_parse("ttt", o.dtype, &c.dtype))
        goto done;
    c.threads = o.threads;
    if (o.chunk != SIZE_MAX) /* else the library's default */
        c.chunk = o.chunk;
    if (mlshift_model_load(o.model, &m, &err) ||
        (o.ttt_blocks >= 0 && mlshift_model_set_ttt_blocks(m, o.ttt_blocks, &err))) {
        cli_fail("%s%s", o.ttt_blocks >= 0 ? "--ttt-blocks: " : "", err.message);
        goto done;
    }
    double target = mlshift_model_record_number(m, "prior_f_mse_in_dist");
    c.target_f_mse = !o.no_target && target > 0 ? target : 0;
    if (cli_load_frames(&fo, files, nfiles, &fr, NULL, NULL, NULL))
        goto done;
    size_t ng = group_frames(fr, o.group_key, &names, &gid), n = mlshift_frames_count(fr);
    idx = malloc((n ? n : 1) * sizeof *idx);
    size_t lo = strlen(o.out) + 128;
    cache = malloc(lo);
    path = malloc(lo);
    lp = (o.plot ? strlen(o.plot) : 0) + 128;
    plot = malloc(lp);
    if (!ng || !idx || !cache || !path || !plot) {
        cli_fail("out of memory");
        goto done;
    }
    if (ng > 1 && mkdir(o.out, 0777) && errno != EEXIST) {
        cli_fail("ttt: cannot create the folder %s", o.out);
        goto done;
    }
    if (o.log) {
        o.log = cli_mpi_rank_path(o.log); /* MPI: LOG.rankR on ranks > 0 */
        if (!(logfp = cli_output_open(&logout, o.log)))
            goto done;
        fprintf(logfp, "group,step,prior_loss,prior_loss_running,prior_force_mse,lr,"
                       "main_force_mae,main_energy_mae\n");
    }
    printf("{\"ttt\":[");
    if (cli_mpi_stdout_begin()) /* MPI: the groups' report lines, gathered below */
        goto done;
    for (size_t g = 0; g < ng; g++) {
        if (!cli_mpi_mine(g)) /* MPI: rank r takes groups r, r + P, … (cli/mpi.c) */
            continue;
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
            if (gid[i] == g)
                idx[k++] = i;
        mlshift_dataset *d = NULL;
        if (mlshift_dataset_create(fr, idx, k, &d, &err)) {
            cli_fail("%s", err.message);
            goto done;
        }
        if (ng > 1)
            snprintf(path, lo, "%s/%s.model", o.out, names[g]);
        else
            snprintf(path, lo, "%s", o.out);
        snprintf(cache, lo, "%s.prior-cache", path);
        char *plotpath = NULL;
        if (o.plot) {
            const char *dot = strrchr(o.plot, '.');
            size_t stem = dot ? (size_t)(dot - o.plot) : strlen(o.plot);
            if (ng > 1)
                snprintf(plot, lp, "%.*s-%s%s", (int)stem, o.plot, names[g], dot ? dot : "");
            else
                snprintf(plot, lp, "%s", o.plot);
            plotpath = plot;
        }
        const char *outs[4] = {path, cache, o.log, plotpath}, *in[1] = {o.model};
        if (cli_outputs_check("ttt", in, 1, outs, 4) ||
            cli_outputs_check("ttt", (const char *const *)files, nfiles, outs, 4)) {
            mlshift_dataset_destroy(d);
            goto done;
        }
        int r = cli_prior_labels(d, o.prior, cache, &fo, files, nfiles, idx, o.ekey, o.fkey);
        if (!r)
            r = run_group(&o, m, d, names[g], path, plotpath, c, logfp, fo.quiet, g == 0);
        mlshift_dataset_destroy(d);
        if (r)
            goto done;
    }
    if (cli_mpi_stdout_gather()) /* MPI */
        goto done;
    printf("]}\n");
    if (logout && cli_output_close(logout)) {
        logout = NULL;
        goto done;
    }
    logout = NULL;
    rc = CLI_OK;
done:
    cli_output_abort(logout);
    mlshift_model_destroy(m);
    mlshift_frames_destroy(fr);
    free(files);
    free(names);
    free(gid);
    free(idx);
    free(cache);
    free(path);
    free(plot);
    return rc;
}
