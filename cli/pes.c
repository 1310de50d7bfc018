/* SPDX-License-Identifier: MIT */
/* mlshift pes: a potential-energy map (paper Figs 4b, 16). The Hessian of
 * the first calculator at the (optionally relaxed) structure by central
 * differences of its forces, its two leading eigenvectors, and the energy
 * of every calculator on the same grid along them: CSV, a contour plot
 * with one panel per calculator (before and after TTT side by side), and
 * one JSON line on stdout. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "md_calc.h"
#include "plot.h"

static const char help[] =
    "usage: mlshift pes (--model M | --prior SPEC)... START -o PES.csv [options]\n"
    "\n"
    "Energies on a plane through frame I of START along the two leading\n"
    "eigenvectors (largest eigenvalues) of the Hessian of the first\n"
    "calculator, for every calculator given (up to 4, in order; e.g. a model\n"
    "before and after TTT): the paper's Figs 4b and 16. The Hessian is\n"
    "H = -dF/dx by central differences of the forces (ASE's Vibrations,\n"
    "nfree 2), symmetrised; docs/md.md.\n"
    "\n"
    "  --model M           a model (repeatable); --head main|prior and\n"
    "                      --radius R apply to every model\n"
    "  --prior SPEC        a prior (repeatable): lj | emt | xtb:… | sgdml:MODEL\n"
    "  --frame I           frame of START (default 0)\n"
    "  --relax             first relax START with the first calculator (BFGS,\n"
    "                      --fmax F, default 0.01 eV/Å, --steps N, default 1000)\n"
    "  --delta H           finite-difference displacement in Å (default 0.01)\n"
    "  --extent A          the grid spans [-A, A] Å along each mode (default 0.2)\n"
    "  --points K          grid points per axis, odd so the centre is on it\n"
    "                      (default 21)\n"
    "  -o, --output CSV    i,j,a_A,b_A and one energy_eV column per calculator\n"
    "  --plot FILE         contours of E - E(centre) per calculator (.svg/.png)\n"
    "  --hessian FILE      the symmetrised Hessian as CSV (3N rows, eV/Å^2)\n"
    "  --modes FILE        the structure and both modes as extxyz (mode1, mode2)\n"
    "  --quiet             no summary on stderr\n"
    "\n"
    "stdout: {\"atoms\", \"calculators\", \"eigenvalues\", \"hessian_asymmetry\",\n"
    "\"relax_steps\", \"points\", \"extent_A\", \"energy_centre\", \"energy_range\"}\n"
    "\n"
    "example: mlshift pes --model ft.model --model ttt.model toluene.extxyz "
    "--relax -o pes.csv --plot pes.svg\n";

#define MAXC 4

typedef struct pes_opts {
    const char *model[MAXC], *prior[MAXC];  /* calculator k: one of them */
    size_t nc;
    const char *head, *start, *out, *plot, *hess, *modes;
    double radius, delta, extent, fmax;
    uint64_t frame, points, steps;
    int relax, quiet;
} pes_opts;

static int option(cli_args *a, void *ov)
{
    pes_opts *o = ov;
    const char *v, *m = NULL, *p = NULL;
    if (cli_value(a, "--model", &m) || cli_value(a, "--prior", &p)) {
        if (o->nc == MAXC)
            return cli_fail("pes: at most %d calculators", MAXC), -1;
        o->model[o->nc] = m;
        o->prior[o->nc++] = p;
        return 1;
    }
    if (cli_value(a, "--head", &o->head) || cli_value(a, "-o", &o->out) ||
        cli_value(a, "--output", &o->out) || cli_value(a, "--plot", &o->plot) ||
        cli_value(a, "--hessian", &o->hess) || cli_value(a, "--modes", &o->modes))
        return 1;
    const md_calc_positive pos[] = {
        {"--radius", &o->radius}, {"--delta", &o->delta}, {"--extent", &o->extent},
        {"--fmax", &o->fmax}};
    int r = md_calc_positive_option(a, "pes", pos, sizeof pos / sizeof pos[0]);
    if (r)
        return r;
    if (cli_value(a, "--frame", &v))
        return cli_parse_u64("--frame", v, &o->frame) ? -1 : 1;
    if (cli_value(a, "--points", &v))
        return cli_parse_u64("--points", v, &o->points) ? -1 : 1;
    if (cli_value(a, "--steps", &v))
        return cli_parse_u64("--steps", v, &o->steps) ? -1 : 1;
    if (cli_flag(a, "--relax"))
        return o->relax = 1;
    if (cli_flag(a, "--quiet"))
        return o->quiet = 1;
    return a->bad ? -1 : 0;
}

static int check(const pes_opts *o)
{
    if (!o->start)
        return cli_fail("pes: no START file (see mlshift pes --help)");
    if (!o->out)
        return cli_fail("pes: no output file: give -o PES.csv");
    if (!o->nc)
        return cli_fail("pes: give at least one --model M or --prior SPEC");
    int models = 0;
    for (size_t k = 0; k < o->nc; k++)
        models += o->model[k] != NULL;
    if (!models && (o->head || o->radius != 0))
        return cli_fail("pes: --head and --radius go with --model");
    if (o->head && strcmp(o->head, "main") && strcmp(o->head, "prior"))
        return cli_fail("pes: --head %s: main or prior", o->head);
    if (!(o->delta < 1))
        return cli_fail("pes: --delta %g Å is not below 1 Å", o->delta);
    if (o->points < 3 || o->points % 2 == 0 || o->points > 201)
        return cli_fail("pes: --points %llu: odd, 3 to 201",
                        (unsigned long long)o->points);
    const char *in[] = {o->start}, *outs[] = {o->out, o->plot, o->hess, o->modes};
    if (cli_outputs_check("pes", in, 1, outs, 4))
        return CLI_ERROR;
    return o->modes ? cli_extxyz_output("pes", o->modes) : CLI_OK;
}

/* "M" or "prior:SPEC" for calculator k. */
static const char *label(const pes_opts *o, size_t k)
{
    if (o->prior[k])
        return o->prior[k];
    const char *b = strrchr(o->model[k], '/');
    return b ? b + 1 : o->model[k];
}

/* Marching squares: the segments where the grid z (K, K; z[i*K + j] at
 * (g[i], g[j])) crosses `level`, appended to seg as (x0, y0, x1, y1) ×
 * (capacity checked by the caller: at most 2 per cell). Returns the count.
 * A saddle cell (opposite corners on the same side) is split the same way
 * every time, which is enough for a picture. */
static size_t contour(const double *z, const double *g, size_t K, double level,
                      double *seg)
{
    size_t n = 0;
    for (size_t i = 0; i + 1 < K; i++)
        for (size_t j = 0; j + 1 < K; j++) {
            /* corners counter-clockwise: (i,j) (i+1,j) (i+1,j+1) (i,j+1) */
            double v[4] = {z[i * K + j], z[(i + 1) * K + j], z[(i + 1) * K + j + 1],
                           z[i * K + j + 1]};
            double x[4] = {g[i], g[i + 1], g[i + 1], g[i]};
            double y[4] = {g[j], g[j], g[j + 1], g[j + 1]};
            if (!(isfinite(v[0]) && isfinite(v[1]) && isfinite(v[2]) && isfinite(v[3])))
                continue;
            double px[4], py[4];
            int m = 0;
            for (int e = 0; e < 4; e++) {
                int f = (e + 1) % 4;
                if ((v[e] < level) != (v[f] < level)) {
                    double t = (level - v[e]) / (v[f] - v[e]);
                    px[m] = x[e] + t * (x[f] - x[e]);
                    py[m] = y[e] + t * (y[f] - y[e]);
                    m++;
                }
            }
            for (int k = 0; k + 1 < m; k += 2) {
                double *s = seg + 4 * n++;
                s[0] = px[k];
                s[1] = py[k];
                s[2] = px[k + 1];
                s[3] = py[k + 1];
            }
        }
    return n;
}

/* One panel per calculator: contours of E − E(centre) at levels shared by
 * every panel (NL evenly spaced over the range of all of them), coloured
 * from blue (low) to red (high), and the centre marked. */
static int plot_map(const pes_opts *o, const double *E, const double *g, size_t K)
{
    enum { NL = 12 };
    const size_t nc = o->nc, c0 = (K / 2) * K + K / 2, cells = (K - 1) * (K - 1);
    double lo = INFINITY, hi = -INFINITY;
    for (size_t k = 0; k < nc; k++)
        for (size_t p = 0; p < K * K; p++) {
            double d = E[k * K * K + p] - E[k * K * K + c0];
            if (isfinite(d)) {
                lo = fmin(lo, d);
                hi = fmax(hi, d);
            }
        }
    if (!(hi > lo))
        hi = lo + 1e-3;
    double *seg = malloc(nc * NL * 2 * cells * 4 * sizeof *seg);
    plot_series *ser = malloc(nc * (NL * 2 * cells + 1) * sizeof *ser);
    plot_panel pan[MAXC];
    static char colours[NL][8], titles[MAXC][160];
    static const double centre[2] = {0, 0};
    double *z = malloc(K * K * sizeof *z);
    int rc = CLI_ERROR;
    if (!seg || !ser || !z) {
        cli_fail("out of memory");
        goto done;
    }
    size_t ns = 0, nseg = 0;
    for (int l = 0; l < NL; l++) {
        double t = (double)l / (NL - 1);
        snprintf(colours[l], sizeof colours[l], "#%02x%02x%02x", (int)(40 + 200 * t),
                 (int)(90 + 60 * (1 - fabs(2 * t - 1))), (int)(240 - 200 * t));
    }
    for (size_t k = 0; k < nc; k++) {
        size_t first = ns;
        for (size_t p = 0; p < K * K; p++)
            z[p] = E[k * K * K + p] - E[k * K * K + c0];
        ser[ns++] = (plot_series){NULL, centre, centre + 1, 1, "#000000", 1, 0};
        for (int l = 0; l < NL; l++) {
            double level = lo + (hi - lo) * (l + 0.5) / NL;
            size_t m = contour(z, g, K, level, seg + 4 * nseg);
            for (size_t q = 0; q < m; q++, nseg++) {
                /* x = (x0, x1), y = (y0, y1): the segment as a 2-point line */
                double *s4 = seg + 4 * nseg;
                double t0 = s4[1];
                s4[1] = s4[2];
                s4[2] = t0;
                ser[ns++] = (plot_series){NULL, s4, s4 + 2, 2, colours[l], -1, 0};
            }
        }
        snprintf(titles[k], sizeof titles[k], "%s: %d levels, %.3g to %.3g eV",
                 label(o, k), NL, lo, hi);
        pan[k] = (plot_panel){titles[k], "mode 1 (Å)", "mode 2 (Å)", ser + first,
                              ns - first, NAN, NAN, 0};
    }
    rc = plot_write(o->plot, "Potential energy along the two leading Hessian modes", pan,
                    nc);
done:
    free(seg);
    free(ser);
    free(z);
    return rc;
}

static int write_csv(const pes_opts *o, const double *E, const double *g, size_t K)
{
    cli_output *out;
    FILE *fp = cli_output_open(&out, o->out);
    if (!fp)
        return CLI_ERROR;
    fputs("i,j,a_A,b_A", fp);
    for (size_t k = 0; k < o->nc; k++) {
        fputs(",", fp);
        /* the header names the calculator; commas would split it */
        for (const char *c = label(o, k); *c; c++)
            fputc(*c == ',' || *c == '"' || (unsigned char)*c < 32 ? '_' : *c, fp);
    }
    fputc('\n', fp);
    for (size_t i = 0; i < K; i++)
        for (size_t j = 0; j < K; j++) {
            fprintf(fp, "%zu,%zu,%.17g,%.17g", i, j, g[i], g[j]);
            for (size_t k = 0; k < o->nc; k++)
                fprintf(fp, ",%.17g", E[k * K * K + i * K + j]);
            fputc('\n', fp);
        }
    return cli_output_close(out);
}

static int write_hessian(const char *path, const double *H, size_t d)
{
    cli_output *out;
    FILE *fp = cli_output_open(&out, path);
    if (!fp)
        return CLI_ERROR;
    for (size_t r = 0; r < d; r++)
        for (size_t c = 0; c < d; c++)
            fprintf(fp, "%.17g%c", H[r * d + c], c + 1 < d ? ',' : '\n');
    return cli_output_close(out);
}

/* The structure with the two modes as per-atom columns. */
static int write_modes(const char *path, const mlshift_frame *f, const double *vec)
{
    mlshift_error err;
    char *text = NULL;
    size_t cap = 0, len = 0, n = f->natoms;
    FILE *mem = open_memstream(&text, &cap);
    if (!mem)
        return cli_fail("out of memory");
    fprintf(mem, "%zu\nProperties=species:S:1:pos:R:3:mode1:R:3:mode2:R:3 pbc=\"F F F\"\n",
            n);
    for (size_t i = 0; i < n; i++) {
        fprintf(mem, "%s", mlshift_element_symbol(f->numbers[i]));
        for (int c = 0; c < 3; c++)
            fprintf(mem, " %.17g", f->positions[3 * i + c]);
        for (int m = 0; m < 2; m++)
            for (int c = 0; c < 3; c++)
                fprintf(mem, " %.17g", vec[m * 3 * n + 3 * i + c]);
        fputc('\n', mem);
    }
    fclose(mem);
    len = strlen(text);
    cli_output *out;
    FILE *fp = cli_output_open(&out, path);
    int rc = CLI_ERROR;
    if (fp) {
        fwrite(text, 1, len, fp);
        rc = cli_output_close(out);
    }
    (void)err;
    free(text);
    return rc;
}

static int run(const pes_opts *o, md_calc *mc, mlshift_frame *f, mlshift_frames *keep)
{
    mlshift_error err;
    const size_t n = f->natoms, d = 3 * n, K = (size_t)o->points;
    double *H = malloc(d * d * sizeof *H), *vec = malloc(2 * d * sizeof *vec);
    double *g = malloc(K * sizeof *g), *E = malloc(o->nc * K * K * sizeof *E);
    double eig[2], asym = 0;
    unsigned long long relax_steps = 0;
    mlshift_relax *r = NULL;
    int rc = CLI_ERROR;
    (void)keep;
    if (!H || !vec || !g || !E) {
        cli_fail("pes: out of memory (%zu atoms)", n);
        goto done;
    }
    if (o->relax) {
        mlshift_relax_options ro;
        mlshift_relax_options_default(&ro);
        ro.method = MLSHIFT_RELAX_BFGS;
        ro.fmax = o->fmax;
        mlshift_relax_state s;
        if (mlshift_relax_create(f, &mc[0].calc, &ro, &r, &err) ||
            mlshift_relax_run(r, o->steps, NULL, NULL, &err)) {
            cli_fail("pes: --relax: %s", err.message);
            goto done;
        }
        mlshift_relax_get_state(r, &s);
        relax_steps = s.step;
        if (!s.converged)
            fprintf(stderr, "mlshift: pes: warning: --relax did not reach fmax %g eV/Å "
                    "in %llu steps (%.3g); mapping there\n", o->fmax, relax_steps, s.fmax);
        mlshift_frame rf;
        mlshift_relax_frame(r, &rf);
        f->positions = rf.positions; /* valid while r lives */
    }
    if (mlshift_hessian(&mc[0].calc, f, o->delta, H, &asym, &err) ||
        mlshift_hessian_modes(H, d, 2, eig, vec, &err)) {
        cli_fail("pes: %s", err.message);
        goto done;
    }
    for (size_t i = 0; i < K; i++)
        g[i] = -o->extent + 2 * o->extent * (double)i / (double)(K - 1);
    g[K / 2] = 0;
    for (size_t k = 0; k < o->nc; k++)
        if (mlshift_pes_grid(&mc[k].calc, f, vec, vec + d, g, K, g, K, E + k * K * K, &err)) {
            cli_fail("pes: %s: %s", label(o, k), err.message);
            goto done;
        }
    mlshift_outputs_begin();
    rc = write_csv(o, E, g, K);
    if (!rc && o->hess)
        rc = write_hessian(o->hess, H, d);
    if (!rc && o->modes)
        rc = write_modes(o->modes, f, vec);
    if (!rc && o->plot)
        rc = plot_map(o, E, g, K);
    rc = cli_outputs_end(rc);
    if (rc)
        goto done;
    size_t c0 = (K / 2) * K + K / 2;
    printf("{\"atoms\":%zu,\"calculators\":[", n);
    for (size_t k = 0; k < o->nc; k++) {
        if (k)
            putchar(',');
        cli_json_string(stdout, label(o, k));
    }
    printf("],\"eigenvalues\":[");
    cli_json_num(stdout, eig[0]);
    putchar(',');
    cli_json_num(stdout, eig[1]);
    printf("],\"hessian_asymmetry\":");
    cli_json_num(stdout, asym);
    printf(",\"relax_steps\":%llu,\"points\":%zu,\"extent_A\":", relax_steps, K);
    cli_json_num(stdout, o->extent);
    printf(",\"energy_centre\":[");
    for (size_t k = 0; k < o->nc; k++) {
        if (k)
            putchar(',');
        cli_json_num(stdout, E[k * K * K + c0]);
    }
    printf("],\"energy_range\":[");
    for (size_t k = 0; k < o->nc; k++) {
        double lo = INFINITY, hi = -INFINITY;
        for (size_t p = 0; p < K * K; p++) {
            lo = fmin(lo, E[k * K * K + p]);
            hi = fmax(hi, E[k * K * K + p]);
        }
        if (k)
            putchar(',');
        cli_json_num(stdout, hi - lo);
    }
    printf("]}\n");
    if (!o->quiet)
        fprintf(stderr, "mlshift: pes: %zu atoms, Hessian of %s (%zu force calls, "
                "asymmetry %.3g eV/Å²), modes %.4g and %.4g eV/Å², %zu x %zu grid of "
                "±%g Å, %zu calculator%s -> %s\n", n, label(o, 0), 6 * n, asym, eig[0],
                eig[1], K, K, o->extent, o->nc, o->nc == 1 ? "" : "s", o->out);
done:
    mlshift_relax_destroy(r);
    free(H);
    free(vec);
    free(g);
    free(E);
    return rc;
}

int cmd_pes(int argc, char **argv)
{
    pes_opts o;
    memset(&o, 0, sizeof o);
    o.delta = 0.01;
    o.extent = 0.2;
    o.points = 21;
    o.fmax = 0.01;
    o.steps = 1000;
    int r = md_calc_args(argc, argv, "pes", help, option, &o, &o.start);
    if (r)
        return r == 1 ? CLI_OK : CLI_ERROR;
    if (check(&o))
        return CLI_ERROR;
    md_calc mc[MAXC];
    memset(mc, 0, sizeof mc);
    mlshift_frames *fr = NULL;
    mlshift_frame f;
    int rc = CLI_ERROR;
    size_t k = 0;
    for (; k < o.nc; k++) {
        md_calc_opts co = {.model = o.model[k], .head = o.model[k] ? o.head : NULL,
                           .prior = o.prior[k], .radius = o.model[k] ? o.radius : 0};
        if (md_calc_open(&co, &mc[k]))
            goto done;
    }
    if (!md_load_frame("pes", o.start, o.frame, &fr, &f))
        rc = run(&o, mc, &f, fr);
done:
    for (size_t q = 0; q < o.nc; q++)
        md_calc_close(&mc[q]);
    mlshift_frames_destroy(fr);
    return rc;
}
