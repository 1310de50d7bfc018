/* SPDX-License-Identifier: MIT */
/* mlshift analyze: the quality of an MD trajectory as Fu et al. (MDsim) and
 * the paper judge it (reference-notes §3; docs/md.md, "Analysis"):
 *
 *   stability  bonds of the trajectory's first frame (covalent radii +
 *              0.6 Å), reference lengths = means over the reference frames
 *              (or the first frame's own); the first saved frame k whose
 *              max |ℓ_b − ℓ̄_b| > 0.5 Å is the collapse; k · save interval;
 *   h(r)       eq. 13 over frames [0, k] (MDsim's traj[:collapse_pt],
 *              collapse_pt = k + 1; all frames without a collapse), and
 *              over every reference frame; MAE of eq. 14 between them;
 *   energy     NVE drift (least-squares slope, eV/atom/ps) and fluctuation
 *              of total_energy over the same frames, mean temperature.
 *
 * One JSON line on stdout; --csv writes h(r), --plot draws both curves and
 * the energies. Everything it computes comes from include/mlshift.h. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "plot.h"

static const char help[] =
    "usage: mlshift analyze TRAJ.extxyz [--reference REF]... [options]\n"
    "\n"
    "Stability, h(r) and energy conservation of an MD trajectory (what\n"
    "mlshift md writes, or any extxyz of one molecule), as MDsim computes\n"
    "them. One JSON line on stdout.\n"
    "\n"
    "  --reference REF     reference frames of the same molecule, same atom\n"
    "                      order (e.g. the rMD17 npz with --labels old);\n"
    "                      repeatable. Gives the bond reference lengths (their\n"
    "                      means) and the reference h(r) for the MAE. Without\n"
    "                      it the first frame's own bond lengths are used and\n"
    "                      there is no MAE. The reader options below apply to\n"
    "                      REF (e.g. --split … --part test).\n"
    "  --threshold A       collapse when a bond is off by more than A Å (0.5)\n"
    "  --skin A            bond: d < r_cov,i + r_cov,j + A (default 0.6)\n"
    "  --save-interval PS  time between frames (default: from time_fs of\n"
    "                      frames 0 and 1)\n"
    "  --skip PS           energy drift: leave out t < PS (default 0)\n"
    "  --bins K, --r-max R h(r) on K bins over (1e-6, R] Å (default 500, 10)\n"
    "  --csv FILE          r_lo_A,r_hi_A,h_traj,h_ref per bin\n"
    "  --plot FILE.svg     h(r) of both, and the energies over time\n"
    "\n";

typedef struct an_opts {
    const char *traj, *csv, *plot;
    char **refs;
    size_t n_refs;
    double threshold, skin, interval_ps, skip_ps, r_max;
    uint64_t bins;
} an_opts;

/* What analyze found; NaN = not available. */
typedef struct an_result {
    size_t frames, atoms, bonds, ref_frames, collapse, hr_end;
    int collapsed;
    double interval_ps, stability_ps, max_dev, hr_mae;
    double t_mean, drift, fluct, max_de;
    double *h, *g;              /* (bins,) trajectory, reference h(r) */
    double *t_ps, *etot, *epot; /* (hr_end,) */
} an_result;

/* A number from frame f's info, NaN if absent or not a number. */
static double info_num(const mlshift_frame *f, const char *key)
{
    char buf[64], *end;
    if (!mlshift_info_get(f->info, key, buf, sizeof buf))
        return NAN;
    double v = strtod(buf, &end);
    return end == buf || *end ? NAN : v;
}

/* Same molecule, same order: every frame of fr has traj's numbers. */
static int same_atoms(const mlshift_frame *f0, const mlshift_frames *fr,
                      const char *what)
{
    for (size_t s = 0; s < mlshift_frames_count(fr); s++) {
        mlshift_frame f;
        mlshift_frames_get(fr, s, &f);
        if (f.natoms != f0->natoms)
            return cli_fail("analyze: %s frame %zu has %zu atoms, the trajectory "
                            "%zu", what, s, f.natoms, f0->natoms);
        for (size_t i = 0; i < f.natoms; i++)
            if (f.numbers[i] != f0->numbers[i])
                return cli_fail("analyze: %s frame %zu atom %zu is Z=%d, the "
                                "trajectory's is Z=%d (same molecule, same order "
                                "needed)", what, s, i, f.numbers[i], f0->numbers[i]);
    }
    return 0;
}

/* Stability: bonds of frame 0, reference means, the collapse frame. */
static int stability(const an_opts *o, const mlshift_frames *traj,
                     const mlshift_frames *ref, an_result *r)
{
    mlshift_error err;
    mlshift_bonds b = {0};
    mlshift_frame f0;
    mlshift_frames_get(traj, 0, &f0);
    int rc = CLI_ERROR;
    double interval = isfinite(r->interval_ps) && r->interval_ps > 0 ? r->interval_ps : 1;
    if (mlshift_bonds_from_frame(&b, &f0, o->skin, &err) ||
        (ref && mlshift_bonds_reference(&b, ref, &err)) ||
        mlshift_stability(&b, traj, 0, interval, o->threshold, &r->stability_ps,
                          &r->collapse, &err)) {
        cli_fail("analyze: %s", err.message);
        goto done;
    }
    r->bonds = b.n;
    r->collapsed = r->collapse < r->frames;
    if (!(isfinite(r->interval_ps) && r->interval_ps > 0))
        r->stability_ps = NAN;
    r->hr_end = r->collapsed ? r->collapse + 1 : r->frames;
    r->max_dev = 0;
    for (size_t s = 0; s < r->hr_end; s++) {
        mlshift_frame f;
        mlshift_frames_get(traj, s, &f);
        double d = mlshift_bonds_max_deviation(&b, f.positions);
        if (!(d <= r->max_dev))
            r->max_dev = d;
    }
    rc = CLI_OK;
done:
    mlshift_bonds_free(&b);
    return rc;
}

/* Energies over frames [0, hr_end): drift, fluctuation, mean T. */
static int energies(const an_opts *o, const mlshift_frames *traj, an_result *r)
{
    size_t n = r->hr_end, ne = 0, nt = 0;
    r->t_ps = malloc(n * sizeof *r->t_ps);
    r->etot = malloc(n * sizeof *r->etot);
    r->epot = malloc(n * sizeof *r->epot);
    if (!r->t_ps || !r->etot || !r->epot)
        return cli_fail("out of memory");
    double tsum = 0;
    for (size_t s = 0; s < n; s++) {
        mlshift_frame f;
        mlshift_frames_get(traj, s, &f);
        double t_fs = info_num(&f, "time_fs"), e = info_num(&f, "total_energy");
        double k = info_num(&f, "kinetic_energy"), temp = info_num(&f, "temperature");
        r->epot[s] = f.flags & MLSHIFT_HAS_ENERGY ? f.energy : NAN;
        if (!isfinite(e))
            e = r->epot[s] + k;
        r->t_ps[s] = isfinite(t_fs) ? t_fs * 1e-3
                     : (double)s * (isfinite(r->interval_ps) ? r->interval_ps : NAN);
        r->etot[s] = e;
        ne += isfinite(e) && isfinite(r->t_ps[s]);
        if (isfinite(temp)) {
            tsum += temp;
            nt++;
        }
    }
    r->t_mean = nt ? tsum / (double)nt : NAN;
    r->drift = r->fluct = r->max_de = NAN;
    if (ne < n || n < 2)
        return 0; /* no (complete) energies: nothing to report */
    mlshift_error err;
    if (mlshift_energy_drift(r->t_ps, r->etot, n, r->atoms, o->skip_ps, &r->drift,
                             &r->fluct, &err))
        return cli_fail("analyze: %s", err.message);
    r->max_de = 0;
    for (size_t s = 0; s < n; s++)
        if (r->t_ps[s] >= o->skip_ps)
            r->max_de = fmax(r->max_de, fabs(r->etot[s] - r->etot[0]));
    return 0;
}

static int write_csv(const an_opts *o, const an_result *r)
{
    cli_output *out;
    FILE *fp = cli_output_open(&out, o->csv);
    if (!fp)
        return CLI_ERROR;
    double lo = 1e-6, step = (o->r_max - lo) / (double)o->bins;
    fprintf(fp, "r_lo_A,r_hi_A,h_traj,h_ref\n");
    for (size_t k = 0; k < o->bins; k++) {
        double e0 = (double)k * step + lo, e1 = k + 1 == o->bins ? o->r_max
                                                   : (double)(k + 1) * step + lo;
        fprintf(fp, "%.10g,%.10g,%.17g,", e0, e1, r->h[k]);
        if (r->g)
            fprintf(fp, "%.17g", r->g[k]);
        fputc('\n', fp);
    }
    return cli_output_close(out);
}

static int write_plot(const an_opts *o, const an_result *r)
{
    size_t nb = (size_t)o->bins, n = r->hr_end;
    double *x = malloc(nb * sizeof *x), *de = malloc(n * sizeof *de);
    if (!x || !de) {
        free(x);
        free(de);
        return cli_fail("out of memory");
    }
    double step = (o->r_max - 1e-6) / (double)nb;
    for (size_t k = 0; k < nb; k++)
        x[k] = 1e-6 + ((double)k + 0.5) * step;
    double e0 = r->etot[0], p0 = r->epot[0];
    for (size_t s = 0; s < n; s++) {
        de[s] = r->etot[s] - e0;
        r->epot[s] -= p0;
    }
    plot_series hs[2] = {{"trajectory", x, r->h, nb, "#d62728", 0, 1},
                         {"reference", x, r->g, nb, "#1f77b4", 0, 1}};
    plot_series es[2] = {{"total − E(0)", r->t_ps, de, n, "#2ca02c", 0, 0},
                         {"potential − E(0)", r->t_ps, r->epot, n, "#9467bd", 0, 0}};
    plot_panel pan[2] = {
        {"h(r)", "r (Å)", "h(r) (1/Å)", hs, r->g ? 2 : 1, NAN, NAN, 0},
        {"energies", "t (ps)", "E − E(0) (eV)", es, 2, NAN, NAN, 0}};
    int rc = plot_write(o->plot, "MD trajectory analysis", pan, 2);
    free(x);
    free(de);
    return rc;
}

static void print_result(const an_opts *o, const an_result *r)
{
    printf("{\"trajectory\":");
    cli_json_string(stdout, o->traj);
    printf(",\"frames\":%zu,\"atoms\":%zu,\"save_interval_ps\":", r->frames, r->atoms);
    cli_json_num(stdout, r->interval_ps);
    printf(",\"bonds\":%zu,\"reference_frames\":%zu,\"threshold_A\":", r->bonds,
           r->ref_frames);
    cli_json_num(stdout, o->threshold);
    printf(",\"collapsed\":%s,\"collapse_frame\":", r->collapsed ? "true" : "false");
    if (r->collapsed)
        printf("%zu", r->collapse);
    else
        printf("null");
    printf(",\"stability_ps\":");
    cli_json_num(stdout, r->stability_ps);
    printf(",\"max_bond_deviation_A\":");
    cli_json_num(stdout, r->max_dev);
    printf(",\"hr_frames\":%zu,\"hr_mae\":", r->hr_end);
    cli_json_num(stdout, r->hr_mae);
    printf(",\"mean_temperature_K\":");
    cli_json_num(stdout, r->t_mean);
    printf(",\"energy_drift_eV_per_atom_ps\":");
    cli_json_num(stdout, r->drift);
    printf(",\"energy_fluctuation_eV\":");
    cli_json_num(stdout, r->fluct);
    printf(",\"energy_max_deviation_eV\":");
    cli_json_num(stdout, r->max_de);
    printf("}\n");
}

static int analyze(const an_opts *o, const cli_frames_opts *fo)
{
    mlshift_error err;
    an_result r;
    memset(&r, 0, sizeof r);
    r.hr_mae = NAN;
    mlshift_frames *traj = mlshift_frames_create(), *ref = NULL;
    int rc = CLI_ERROR;
    if (!traj) {
        cli_fail("out of memory");
        goto done;
    }
    if (mlshift_read(traj, o->traj, NULL, &err)) {
        cli_fail("%s", err.message);
        goto done;
    }
    r.frames = mlshift_frames_count(traj);
    if (!r.frames) {
        cli_fail("analyze: %s holds no frames", o->traj);
        goto done;
    }
    mlshift_frame f0, f1;
    mlshift_frames_get(traj, 0, &f0);
    r.atoms = f0.natoms;
    if (same_atoms(&f0, traj, "trajectory"))
        goto done;
    r.interval_ps = o->interval_ps;
    if (!(r.interval_ps > 0) && r.frames > 1) {
        mlshift_frames_get(traj, 1, &f1);
        r.interval_ps = (info_num(&f1, "time_fs") - info_num(&f0, "time_fs")) * 1e-3;
        if (!(r.interval_ps > 0))
            r.interval_ps = NAN;
    }
    if (o->n_refs) {
        if (cli_load_frames(fo, o->refs, o->n_refs, &ref, NULL, NULL, NULL))
            goto done;
        r.ref_frames = mlshift_frames_count(ref);
        if (!r.ref_frames) {
            cli_fail("analyze: the reference holds no frames");
            goto done;
        }
        if (same_atoms(&f0, ref, "reference"))
            goto done;
    }
    if (stability(o, traj, ref, &r) || energies(o, traj, &r))
        goto done;
    size_t nb = (size_t)o->bins;
    r.h = malloc(nb * sizeof *r.h);
    r.g = ref ? malloc(nb * sizeof *r.g) : NULL;
    if (!r.h || (ref && !r.g)) {
        cli_fail("out of memory");
        goto done;
    }
    if (mlshift_hr(traj, 0, r.hr_end, nb, 1e-6, o->r_max, r.h, &err) ||
        (ref && mlshift_hr(ref, 0, r.ref_frames, nb, 1e-6, o->r_max, r.g, &err))) {
        cli_fail("analyze: %s", err.message);
        goto done;
    }
    if (ref)
        r.hr_mae = mlshift_hr_mae(r.h, r.g, nb, 1e-6, o->r_max);
    if ((o->csv && write_csv(o, &r)) || (o->plot && write_plot(o, &r)))
        goto done;
    print_result(o, &r);
    rc = CLI_OK;
done:
    free(r.h);
    free(r.g);
    free(r.t_ps);
    free(r.etot);
    free(r.epot);
    mlshift_frames_destroy(traj);
    mlshift_frames_destroy(ref);
    return rc;
}

/* One of analyze's own options at a->i: 1 consumed, 0 not ours, -1 bad. */
static int option(cli_args *a, an_opts *o)
{
    const char *v;
    if (cli_value(a, "--csv", &o->csv) || cli_value(a, "--plot", &o->plot))
        return 1;
    if (cli_value(a, "--reference", &v)) {
        o->refs[o->n_refs++] = (char *)v;
        return 1;
    }
    struct { const char *name; double *dst; } dbl[] = {
        {"--threshold", &o->threshold}, {"--skin", &o->skin},
        {"--save-interval", &o->interval_ps}, {"--skip", &o->skip_ps},
        {"--r-max", &o->r_max}};
    for (size_t k = 0; k < sizeof dbl / sizeof dbl[0]; k++)
        if (cli_value(a, dbl[k].name, &v)) {
            if (cli_parse_double(dbl[k].name, v, dbl[k].dst))
                return -1;
            if (!(*dbl[k].dst > 0) && dbl[k].dst != &o->skip_ps)
                return cli_fail("analyze: %s must be > 0", dbl[k].name), -1;
            return 1;
        }
    if (cli_value(a, "--bins", &v)) {
        if (cli_parse_u64("--bins", v, &o->bins))
            return -1;
        if (o->bins < 1 || o->bins > 1000000)
            return cli_fail("analyze: --bins must be 1..1000000"), -1;
        return 1;
    }
    return 0;
}

int cmd_analyze(int argc, char **argv)
{
    cli_frames_opts fo = {0};
    an_opts o = {0};
    o.threshold = 0.5;
    o.skin = 0.6;
    o.r_max = 10;
    o.bins = 500;
    o.interval_ps = NAN;
    cli_args a = {argc, 1, argv, "analyze", 0};
    char **files = calloc((size_t)argc, sizeof *files);
    o.refs = calloc((size_t)argc, sizeof *o.refs);
    size_t nfiles = 0;
    int rc = CLI_ERROR;
    if (!files || !o.refs) {
        cli_fail("out of memory");
        goto done;
    }
    for (; a.i < argc; a.i++) {
        if (cli_flag(&a, "--help") || cli_flag(&a, "-h")) {
            printf("%s%s", help, cli_frames_help);
            rc = CLI_OK;
            goto done;
        }
        int r = option(&a, &o);
        if (r < 0)
            goto done;
        if (!r && cli_frames_arg(&a, &fo, files, &nfiles))
            goto done;
    }
    if (nfiles != 1)
        cli_fail("analyze: give one trajectory file (got %zu; see mlshift analyze "
                 "--help)", nfiles);
    else if (!(o.r_max > 1e-6))
        cli_fail("analyze: --r-max must be > 1e-6 Å");
    else {
        o.traj = files[0];
        rc = analyze(&o, &fo);
    }
done:
    free(files);
    free(o.refs);
    return rc;
}
