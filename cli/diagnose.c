/* SPDX-License-Identifier: MIT */
/* mlshift diagnose: is each test structure out of the training distribution,
 * along which axis and by how much (paper §3.2, A.5; Figs 2, 6, 7, 11, 19). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_mpi.h" /* issue 11: MPI */
#include "plot.h"

static const char help[] =
    "usage: mlshift diagnose --stats FILE TEST... [options] [reader options]\n"
    "\n"
    "Per test structure: atoms, unseen elements, composition, carbon fraction,\n"
    "force norm (from the labels), spectral distance to the average training\n"
    "spectrum (eq. 5), and an OOD flag per axis by the paper's rule (more than\n"
    "one training std from the training mean): features (unseen element or\n"
    "composition), size, carbon fraction, force norm, connectivity (one-sided:\n"
    "farther than mean + std). Prints a summary with counts per axis and the\n"
    "'isolated' counts (OOD on that axis only, as the paper filters).\n"
    "\n"
    "  --stats FILE        training statistics from mlshift stats (required)\n"
    "  --prior SPEC        force norms from this prior's forces (paper A.5:\n"
    "                      no reference labels at test time); default: labels\n"
    "  --csv FILE          per-structure table (header line; index, natoms,\n"
    "                      force_norm, spectral_distance, ood_* columns, …)\n"
    "  --json FILE         summary and per-structure records\n"
    "  --neighbours EPS    count training graphs within spectral distance EPS\n"
    "                      of each test graph (Fig. 19); needs --train\n"
    "  --train FILE        training frames for --neighbours (repeatable)\n"
    "  --errors PRED       predicted forces for the test frames, same order:\n"
    "                      force MAE binned along each axis (Figs 2, 6, 7, 11)\n"
    "  --pred-key K        per-atom key of the predictions (default pred_forces)\n"
    "  --errors-csv FILE   where the binned MAE goes (required with --errors)\n"
    "  --bins K            bins per axis (default 10)\n"
    "  --plot FILE         .svg or .png of the binned MAE (with --errors)\n"
    "\n"
    "example: mlshift diagnose --stats train.stats "
    "../shared/data/rmd17/rmd17_toluene_test_01.npz --labels old --csv d.csv\n\n";

enum { AX_FEATURES, AX_SIZE, AX_CARBON, AX_FORCE, AX_CONN, N_AX };
static const char *ax_name[N_AX] = {"features", "size", "carbon_fraction",
                                    "force_norm", "connectivity"};
static const unsigned ax_bit[N_AX] = {MLSHIFT_OOD_FEATURES, MLSHIFT_OOD_SIZE,
                                      MLSHIFT_OOD_CARBON, MLSHIFT_OOD_FORCE_NORM,
                                      MLSHIFT_OOD_CONNECTIVITY};

typedef struct diag_opts {
    const char *stats, *csv, *json, *errors, *errors_csv, *plot, *prior;
    const char *pred_key;
    double eps;             /* NaN: no neighbour counts */
    size_t bins;
    char **train;
    size_t n_train;
} diag_opts;

static void csv_field(FILE *fp, double v)
{
    if (isfinite(v))
        fprintf(fp, ",%.17g", v);
    else
        fputs(",", fp);
}

/* What --errors keeps of each structure for the binned MAE: the bins span
 * each axis' range over every structure, so they come after the last. */
typedef struct err_row {
    double x[4];            /* natoms, carbon fraction, force norm, distance */
    double mae;             /* eV/Å, NaN without test forces */
    size_t natoms;
} err_row;

/* Equal-width bins of x over its range; per bin the MAE weighted by atoms
 * (the mean over every component in the bin), written as CSV rows. */
static void bin_axis(FILE *fp, const char *axis, const double *x,
                     const double *mae, const size_t *natoms, size_t n,
                     size_t bins, double *cx, double *cy)
{
    double lo = INFINITY, hi = -INFINITY;
    for (size_t s = 0; s < n; s++)
        if (isfinite(x[s]) && isfinite(mae[s]))
            lo = fmin(lo, x[s]), hi = fmax(hi, x[s]);
    for (size_t b = 0; b < bins; b++)
        cx[b] = cy[b] = NAN;
    if (!isfinite(lo))
        return;
    double w = hi > lo ? (hi - lo) / (double)bins : 1.0;
    for (size_t b = 0; b < bins; b++) {
        double blo = lo + w * (double)b, bhi = b + 1 == bins ? hi : blo + w;
        size_t count = 0;
        double err = 0, atoms = 0;
        for (size_t s = 0; s < n; s++) {
            if (!isfinite(x[s]) || !isfinite(mae[s]))
                continue;
            size_t k = hi > lo ? (size_t)((x[s] - lo) / w) : 0;
            if (k >= bins)
                k = bins - 1;
            if (k != b)
                continue;
            count++;
            err += mae[s] * (double)natoms[s];
            atoms += (double)natoms[s];
        }
        cx[b] = 0.5 * (blo + bhi);
        cy[b] = count ? 1000 * err / atoms : NAN;
        fprintf(fp, "%s,%zu,%.10g,%.10g,%zu,", axis, b, blo, bhi, count);
        if (count)
            fprintf(fp, "%.10g\n", cy[b]);
        else
            fprintf(fp, "\n");
    }
}

static int write_errors(const diag_opts *d, const mlshift_train_stats *st,
                        const err_row *rows, size_t n)
{
    size_t B = d->bins;
    double *x = malloc(4 * n * sizeof *x);
    double *mae = malloc(n * sizeof *mae);
    size_t *nat = malloc(n * sizeof *nat);
    double *cx = malloc(8 * B * sizeof *cx);
    if (!x || !nat || !cx || !mae) {
        free(x), free(nat), free(cx), free(mae);
        return cli_fail("out of memory");
    }
    for (size_t s = 0; s < n; s++) {
        for (int a = 0; a < 4; a++)
            x[(size_t)a * n + s] = rows[s].x[a];
        mae[s] = rows[s].mae;
        nat[s] = rows[s].natoms;
    }
    cli_output *out;
    FILE *fp = cli_output_open(&out, d->errors_csv);
    if (!fp) {
        free(x), free(nat), free(cx), free(mae);
        return CLI_ERROR;
    }
    static const char *axes[4] = {"natoms", "carbon_fraction", "force_norm",
                                  "spectral_distance"};
    fprintf(fp, "axis,bin,lo,hi,count,force_mae_meV_per_A\n");
    for (int a = 0; a < 4; a++)
        bin_axis(fp, axes[a], x + (size_t)a * n, mae, nat, n, B, cx + 2 * B * (size_t)a,
                 cx + 2 * B * (size_t)a + B);
    if (cli_output_close(out)) {
        free(x), free(nat), free(cx), free(mae);
        return CLI_ERROR;
    }
    int rc = CLI_OK;
    if (d->plot) {
        plot_series ser[4];
        plot_panel pan[4];
        static const char *xl[4] = {"atoms per structure", "carbon fraction",
                                    "force norm (eV/Å)",
                                    "spectral distance to training"};
        for (int a = 0; a < 4; a++) {
            double mean = mlshift_stats_mean(st, ax_bit[AX_SIZE + a]);
            double sd = mlshift_stats_std(st, ax_bit[AX_SIZE + a]);
            ser[a] = (plot_series){"force MAE", cx + 2 * B * (size_t)a,
                                   cx + 2 * B * (size_t)a + B, B, "#d62728", 0, 0};
            pan[a] = (plot_panel){axes[a], xl[a], "force MAE (meV/Å)", &ser[a], 1,
                                  mean - sd, mean + sd, 0};
            if (a == 3) /* connectivity's in-distribution side is one-sided */
                pan[a].band_lo = 0;
        }
        rc = plot_write(d->plot, "Force error along each shift axis "
                        "(grey: training mean ± std)", pan, 4);
    }
    free(x), free(nat), free(cx), free(mae);
    return rc;
}

/* The run: per structure a CSV row and a JSON record are written as the
 * frames stream by (the JSON records into a temporary file, since the
 * summary that heads the JSON needs every structure), the summary counts
 * accumulate, and only --errors keeps a row per structure. */
typedef struct diag_run {
    const diag_opts *d;
    const mlshift_train_stats *st;
    mlshift_shift_ws *ws;
    mlshift_spectral_index *ix;
    double *eig;                /* (cap_eig,) for --neighbours */
    size_t cap_eig;
    cli_prior_norms norms;
    int use_prior;
    mlshift_reader *pred;       /* --errors, read in step with the test */
    size_t n_pred;              /* prediction frames read */
    int pred_done;
    int bad_atoms;              /* first frame whose atoms differ */
    size_t bad_s, bad_p, bad_f;
    err_row *rows;              /* --errors */
    size_t cap_rows;
    FILE *csv;
    cli_output *csv_out;
    FILE *json;                 /* per-structure records, tmpfile() */
    cli_mpi_shard *sh;          /* MPI: frames over ranks, rows to rank 0 */
    size_t n, ood[N_AX], iso[N_AX], any, padded;
    double dsum;
} diag_run;

static void csv_row(FILE *fp, size_t s, const char *formula,
                    const mlshift_diagnosis *dg, const size_t *nb,
                    const double *mae)
{
    fprintf(fp, "%zu,%zu,%s,", s, dg->natoms, formula);
    for (int k = 0; k < dg->n_unseen_elements && k < 8; k++)
        fprintf(fp, "%s%s", k ? " " : "",
                mlshift_element_symbol(dg->unseen_elements[k]));
    fprintf(fp, ",%d", dg->composition_seen);
    csv_field(fp, dg->carbon_fraction);
    csv_field(fp, dg->force_norm);
    csv_field(fp, dg->spectral_distance);
    fprintf(fp, ",%d", dg->padded);
    for (int a = 0; a < N_AX; a++)
        fprintf(fp, ",%d", (dg->ood & ax_bit[a]) != 0);
    fprintf(fp, ",%d", dg->ood != 0);
    if (nb)
        fprintf(fp, ",%zu", *nb);
    if (mae)
        csv_field(fp, *mae);
    fputc('\n', fp);
}

/* One record of per_structure, without its separator. */
static void json_record(FILE *fp, size_t s, const mlshift_diagnosis *dg,
                        const size_t *nb, const double *mae)
{
    fprintf(fp, "  {\"index\": %zu, \"natoms\": %zu, \"unseen_elements\": %d, "
            "\"composition_seen\": %s, \"carbon_fraction\": ", s, dg->natoms,
            dg->n_unseen_elements, dg->composition_seen ? "true" : "false");
    cli_json_num(fp, dg->carbon_fraction);
    fprintf(fp, ", \"force_norm\": ");
    cli_json_num(fp, dg->force_norm);
    fprintf(fp, ", \"spectral_distance\": ");
    cli_json_num(fp, dg->spectral_distance);
    fprintf(fp, ", \"padded\": %s", dg->padded ? "true" : "false");
    for (int a = 0; a < N_AX; a++)
        fprintf(fp, ", \"ood_%s\": %s", ax_name[a],
                (dg->ood & ax_bit[a]) ? "true" : "false");
    if (nb)
        fprintf(fp, ", \"neighbours\": %zu", *nb);
    if (mae) {
        fprintf(fp, ", \"force_mae\": ");
        cli_json_num(fp, *mae);
    }
    fputc('}', fp);
}

static int write_json(const diag_run *r)
{
    const diag_opts *d = r->d;
    cli_output *out;
    FILE *fp = cli_output_open(&out, d->json);
    if (!fp)
        return CLI_ERROR;
    fprintf(fp, "{\"stats\": \"%s\", \"cutoff\": %.17g, \"structures\": %zu, "
            "\"padded\": %zu, \"ood_any\": %zu, \"axes\": {", d->stats,
            mlshift_stats_cutoff(r->st), r->n, r->padded, r->any);
    for (int a = 0; a < N_AX; a++)
        fprintf(fp, "%s\"%s\": {\"ood\": %zu, \"isolated\": %zu}", a ? ", " : "",
                ax_name[a], r->ood[a], r->iso[a]);
    fprintf(fp, "},\n \"per_structure\": [\n");
    char buf[1 << 16];
    size_t k;
    int bad = fflush(r->json) || fseek(r->json, 0, SEEK_SET);
    while (!bad && (k = fread(buf, 1, sizeof buf, r->json)) > 0)
        bad = fwrite(buf, 1, k, fp) != k;
    if (bad || ferror(r->json)) {
        cli_output_abort(out);
        return cli_fail("%s: cannot copy the records back from the temporary "
                        "file", d->json);
    }
    fprintf(fp, "\n ]}\n");
    if (cli_output_close(out))
        return CLI_ERROR;
    return CLI_OK;
}

/* Room for one more err_row. */
static int grow_rows(diag_run *r)
{
    if (r->n < r->cap_rows)
        return 0;
    size_t cap = r->cap_rows ? 2 * r->cap_rows : 1024;
    err_row *nr = realloc(r->rows, cap * sizeof *nr);
    if (!nr)
        return -1;
    r->rows = nr;
    r->cap_rows = cap;
    return 0;
}

/* What the rank that diagnoses a structure hands to the one that writes
 * (rank 0; the same in one process): plain data, so it travels as bytes. */
typedef struct diag_rec {
    mlshift_diagnosis dg;
    size_t nb;              /* training graphs within EPS (--neighbours) */
    double mae;             /* eV/Å against --errors; NaN without test forces */
    char formula[256];
} diag_rec;

/* The prediction frame in step with test frame s (every rank reads them
 * all, to stay in step): *p and *got. A count or atom mismatch is
 * reported after the last frame, the count first. */
static int pred_next(diag_run *r, const mlshift_frame *f, size_t s,
                     mlshift_frame *p, int *got)
{
    mlshift_error err;
    *got = 0;
    if (!r->pred_done) {
        if (mlshift_reader_next(r->pred, p, got, &err))
            return cli_fail("%s", err.message);
        r->pred_done = !*got;
        r->n_pred += (size_t)*got;
    }
    if (*got && p->natoms != f->natoms && !r->bad_atoms) {
        r->bad_atoms = 1;
        r->bad_s = s, r->bad_p = p->natoms, r->bad_f = f->natoms;
    }
    return CLI_OK;
}

/* This rank's structure s: the diagnosis and its extras into rec. */
static int diagnose_compute(diag_run *r, const mlshift_frame *f,
                            const mlshift_frame *p, int got, const char *name,
                            diag_rec *rec)
{
    const diag_opts *d = r->d;
    mlshift_error err;
    double fn;
    if (r->use_prior) {
        if (cli_prior_norm(&r->norms, f, name, &fn))
            return CLI_ERROR;
    } else {
        fn = mlshift_frame_mean_force_norm(f);
    }
    if (mlshift_diagnose(r->st, f, fn, r->ws, &rec->dg, &err))
        return cli_fail("%s: %s", name, err.message);
    if (r->ix) {
        if (f->natoms > r->cap_eig) {
            double *ne = realloc(r->eig, (f->natoms + 8) * sizeof *ne);
            if (!ne)
                return cli_fail("out of memory");
            r->eig = ne;
            r->cap_eig = f->natoms + 8;
        }
        if (mlshift_frame_spectrum(f, mlshift_stats_cutoff(r->st), r->ws, r->eig, &err))
            return cli_fail("%s: %s", name, err.message);
        rec->nb = mlshift_spectral_index_count(r->ix, r->eig, f->natoms, d->eps);
    }
    rec->mae = NAN;
    if (got && p->natoms == f->natoms && f->forces) {
        /* Force MAE: mean |ΔF| over the 3N components, eV/Å */
        double acc = 0;
        for (size_t i = 0; i < 3 * f->natoms; i++)
            acc += fabs(p->forces[i] - f->forces[i]);
        rec->mae = acc / (double)(3 * f->natoms);
    }
    mlshift_formula(f, rec->formula, sizeof rec->formula);
    return CLI_OK;
}

static int diagnose_frame(void *ctx, const mlshift_frame *f, size_t s,
                          const char *name)
{
    diag_run *r = ctx;
    mlshift_frame p;
    int got = 0;
    if (r->pred && pred_next(r, f, s, &p, &got))
        return CLI_ERROR;
    if (cli_mpi_shard_mine(r->sh, s)) { /* MPI: frames r, r + P, … */
        diag_rec rec;
        memset(&rec, 0, sizeof rec);
        if (diagnose_compute(r, f, &p, got, name, &rec) ||
            cli_mpi_shard_put(r->sh, s, &rec, sizeof rec))
            return CLI_ERROR;
    }
    return cli_mpi_shard_step(r->sh, s);
}

/* Rank 0, in frame order: structure s's CSV row and JSON record, the
 * summary counts and, with --errors, its row for the binned MAE. */
static int diagnose_emit(void *ctx, size_t s, const void *bytes, size_t len)
{
    diag_run *r = ctx;
    diag_rec rec;
    if (len != sizeof rec)
        return cli_fail("structure %zu: a record of %zu bytes, not %zu", s, len,
                        sizeof rec);
    memcpy(&rec, bytes, sizeof rec);
    const mlshift_diagnosis *dg = &rec.dg;
    if (r->pred) {
        if (grow_rows(r))
            return cli_fail("out of memory");
        r->rows[s] = (err_row){{(double)dg->natoms, dg->carbon_fraction,
                                dg->force_norm, dg->spectral_distance},
                               rec.mae, dg->natoms};
    }
    r->n = s + 1;
    r->any += dg->ood != 0;
    r->padded += dg->padded;
    r->dsum += dg->spectral_distance;
    for (int a = 0; a < N_AX; a++) {
        r->ood[a] += (dg->ood & ax_bit[a]) != 0;
        r->iso[a] += dg->ood == ax_bit[a];
    }
    const size_t *nb = r->ix ? &rec.nb : NULL;
    const double *mae = r->pred ? &rec.mae : NULL;
    if (r->csv)
        csv_row(r->csv, s, rec.formula, dg, nb, mae);
    if (r->json) {
        if (s)
            fputs(",\n", r->json);
        json_record(r->json, s, dg, nb, mae);
    }
    return CLI_OK;
}

static int run(const diag_opts *d, const cli_frames_opts *o, char **files,
               size_t nfiles)
{
    mlshift_error err;
    mlshift_train_stats *st;
    if (mlshift_stats_read(d->stats, &st, &err))
        return cli_fail("%s", err.message);
    mlshift_frames *train = NULL;
    diag_run r = {0};
    r.d = d;
    r.st = st;
    r.ws = mlshift_shift_ws_create();
    int rc = CLI_ERROR;
    if (!r.ws) {
        cli_fail("out of memory");
        goto done;
    }
    if (isfinite(d->eps)) {
        /* The index holds every training spectrum: --neighbours needs them
         * all for each test structure. */
        cli_frames_opts to = *o;
        to.split = NULL;
        to.part = NULL;
        if (cli_load_frames(&to, d->train, d->n_train, &train, NULL, NULL, NULL))
            goto done;
        if (mlshift_spectral_index_build(train, mlshift_stats_cutoff(st), &r.ix, &err)) {
            cli_fail("--train: %s", err.message);
            goto done;
        }
        mlshift_frames_destroy(train);
        train = NULL;
    }
    if (d->prior) {
        if (cli_prior_norms_open(&r.norms, d->prior))
            goto done;
        r.use_prior = 1;
    }
    if (d->errors) {
        mlshift_read_options po = o->read;
        po.forces_key = d->pred_key;
        po.require_forces = 1;
        po.require_energy = 0;
        po.labels_old = 0; /* predictions carry no MD17 labels */
        if (mlshift_reader_open(d->errors, &po, &r.pred, &err)) {
            cli_fail("%s", err.message);
            goto done;
        }
    }
    int root = cli_mpi_rank() == 0; /* MPI: rank 0 writes */
    if (d->csv && root) {
        if (!(r.csv = cli_output_open(&r.csv_out, d->csv)))
            goto done;
        fprintf(r.csv, "index,natoms,formula,unseen_elements,composition_seen,"
                "carbon_fraction,force_norm,spectral_distance,padded,ood_features,"
                "ood_size,ood_carbon_fraction,ood_force_norm,ood_connectivity,"
                "ood_any%s%s\n", r.ix ? ",neighbours" : "", r.pred ? ",force_mae" : "");
    }
    if (d->json && root && !(r.json = tmpfile())) {
        cli_fail("%s: cannot create a temporary file for the records: %s",
                 d->json, strerror(errno));
        goto done;
    }
    if (cli_mpi_shard_begin(&r.sh, diagnose_emit, &r))
        goto done;
    size_t n;
    int sr = cli_stream_frames(o, files, nfiles, diagnose_frame, &r, &n);
    sr = cli_mpi_shard_end(r.sh, sr); /* MPI: the last chunk, or the failure agreed */
    r.sh = NULL;
    if (sr)
        goto done;
    if (!root) { /* MPI: rank 0 writes and reports */
        rc = CLI_OK;
        goto done;
    }
    if (n == 0) {
        cli_fail("diagnose: the test files hold no frames");
        goto done;
    }
    if (r.pred) {
        while (!r.pred_done) { /* count what is left, as the count is checked */
            mlshift_frame p;
            int got;
            if (mlshift_reader_next(r.pred, &p, &got, &err)) {
                cli_fail("%s", err.message);
                goto done;
            }
            r.pred_done = !got;
            r.n_pred += (size_t)got;
        }
        if (r.n_pred != n) {
            cli_fail("%s: %zu frames but the test set has %zu", d->errors,
                     r.n_pred, n);
            goto done;
        }
        if (r.bad_atoms) {
            cli_fail("%s: frame %zu has %zu atoms, the test frame %zu", d->errors,
                     r.bad_s, r.bad_p, r.bad_f);
            goto done;
        }
        if (write_errors(d, st, r.rows, n))
            goto done;
    }

    printf("diagnosed %zu structures against %s (%zu training structures, "
           "cutoff %g Å)\n", n, d->stats, mlshift_stats_n_structures(st),
           mlshift_stats_cutoff(st));
    printf("  %-16s %8s %9s %8s   training mean ± std\n", "axis", "OOD",
           "isolated", "train");
    size_t n_elements = 0;
    for (int z = 1; z <= 118; z++)
        n_elements += mlshift_stats_element_atoms(st, z) > 0;
    for (int a = 0; a < N_AX; a++) {
        /* features has no mean; its training rate reads 0 */
        double rate = a == AX_FEATURES ? 0 : mlshift_stats_train_ood(st, ax_bit[a]);
        printf("  %-16s %8zu %9zu", ax_name[a], r.ood[a], r.iso[a]);
        if (isfinite(rate))
            printf(" %7.1f%%", 100 * rate);
        else
            printf(" %8s", "-");
        if (a == AX_FEATURES)
            printf("   %zu elements, %zu compositions seen\n", n_elements,
                   mlshift_stats_n_compositions(st));
        else
            printf("   %.6g ± %.6g\n", mlshift_stats_mean(st, ax_bit[a]),
                   mlshift_stats_std(st, ax_bit[a]));
    }
    printf("  %-16s %8zu\n", "any", r.any);
    printf("  (train: the share of the training structures themselves that the "
           "rule flags)\n");
    printf("  mean spectral distance %.6g (training %.6g)\n", r.dsum / (double)n,
           mlshift_stats_mean(st, MLSHIFT_OOD_CONNECTIVITY));
    if (r.padded)
        printf("  %zu structures are larger than the largest training structure "
               "(%zu atoms): the average spectrum was padded with zeros\n",
               r.padded, mlshift_stats_natoms_max(st));
    if (!mlshift_stats_n_force(st))
        printf("  the statistics carry no force norms: no force-norm flags\n");
    else
        printf("  force norms: test from %s%s, training from %s\n",
               d->prior ? "the prior " : "the labels", d->prior ? d->prior : "",
               mlshift_stats_force_source(st));
    if (r.csv) {
        cli_output *out = r.csv_out;
        r.csv_out = NULL;
        r.csv = NULL;
        if (cli_output_close(out))
            goto done;
    }
    if (r.json && write_json(&r))
        goto done;
    rc = CLI_OK;
done:
    cli_output_abort(r.csv_out);
    if (r.json)
        fclose(r.json);
    mlshift_reader_close(r.pred);
    cli_prior_norms_close(&r.norms);
    free(r.rows);
    free(r.eig);
    mlshift_spectral_index_destroy(r.ix);
    mlshift_shift_ws_destroy(r.ws);
    mlshift_frames_destroy(train);
    mlshift_stats_destroy(st);
    return rc;
}

int cmd_diagnose(int argc, char **argv)
{
    cli_frames_opts o = {0};
    diag_opts d = {0};
    d.eps = NAN;
    d.bins = 10;
    d.pred_key = "pred_forces";
    cli_args a = {argc, 1, argv, "diagnose", 0};
    const char *v;
    char **files = calloc((size_t)argc, sizeof *files);
    d.train = calloc((size_t)argc, sizeof *d.train);
    size_t nfiles = 0;
    int rc = CLI_ERROR;
    cli_mpi_shared_errors(); /* MPI: one message, every rank exits 2 */
    if (!files || !d.train) {
        cli_fail("out of memory");
        goto done;
    }
    for (; a.i < argc; a.i++) {
        if (cli_flag(&a, "--help") || cli_flag(&a, "-h")) {
            printf("%s%s", help, cli_frames_help);
            rc = CLI_OK;
            goto done;
        } else if (cli_value(&a, "--stats", &d.stats) || cli_value(&a, "--csv", &d.csv) ||
                   cli_value(&a, "--prior", &d.prior) ||
                   cli_value(&a, "--json", &d.json) ||
                   cli_value(&a, "--errors", &d.errors) ||
                   cli_value(&a, "--errors-csv", &d.errors_csv) ||
                   cli_value(&a, "--pred-key", &d.pred_key) ||
                   cli_value(&a, "--plot", &d.plot)) {
            continue;
        } else if (cli_value(&a, "--train", &v)) {
            d.train[d.n_train++] = (char *)v;
        } else if (cli_value(&a, "--neighbours", &v) ||
                   cli_value(&a, "--neighbors", &v)) {
            if (cli_parse_double("--neighbours", v, &d.eps))
                goto done;
            if (d.eps < 0) {
                cli_fail("diagnose: --neighbours EPS must be >= 0");
                goto done;
            }
        } else if (cli_value(&a, "--bins", &v)) {
            uint64_t b;
            if (cli_parse_u64("--bins", v, &b))
                goto done;
            if (b < 1 || b > 1000) {
                cli_fail("diagnose: --bins must be 1..1000");
                goto done;
            }
            d.bins = (size_t)b;
        } else if (cli_frames_arg(&a, &o, files, &nfiles)) {
            goto done;
        }
    }
    if (!d.stats)
        cli_fail("diagnose: give the training statistics with --stats FILE");
    else if (!nfiles)
        cli_fail("diagnose: no test files (see mlshift diagnose --help)");
    else if (isfinite(d.eps) && !d.n_train)
        cli_fail("diagnose: --neighbours needs the training frames: --train FILE");
    else if (d.errors && !d.errors_csv)
        cli_fail("diagnose: --errors needs --errors-csv FILE for the binned MAE");
    else if (d.plot && !d.errors)
        cli_fail("diagnose: --plot draws the binned errors: give --errors PRED");
    else {
        const char *in[4] = {d.stats, d.errors, NULL, NULL};
        const char *out[4] = {d.csv, d.json, d.errors_csv, d.plot};
        if (cli_outputs_check("diagnose", in, 2, out, 4) ||
            cli_outputs_check("diagnose", (const char *const *)files, nfiles, out, 4) ||
            cli_outputs_check("diagnose", (const char *const *)d.train, d.n_train, out, 4))
            goto done;
        if (cli_mpi_rank() != 0)
            o.quiet = 1; /* MPI: rank 0 shows progress */
        /* --csv, --json, --errors-csv and --plot: all written, or none. */
        mlshift_outputs_begin();
        rc = cli_outputs_end(run(&d, &o, files, nfiles));
    }
done:
    free(files);
    free(d.train);
    return rc;
}
