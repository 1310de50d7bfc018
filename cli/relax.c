/* SPDX-License-Identifier: MIT */
/* mlshift relax: FIRE or BFGS (ASE's, step for step) with any calculator.
 * The relaxation's frames (the start, then one per step; the last is the
 * relaxed structure) go to OUT as extxyz, written atomically at the end;
 * a JSON line on stdout says how it went. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char help[] =
    "usage: mlshift relax (--model M [--head main|prior] [--radius R] | --prior SPEC)\n"
    "                     START -o OUT.extxyz [options]\n"
    "\n"
    "Relaxes frame I of START to max_i |F_i| < --fmax with ASE's FIRE or BFGS\n"
    "(same defaults, same steps: docs/md.md). OUT holds the start and every\n"
    "step (energy, forces, info step= fmax=); its last frame is the relaxed\n"
    "structure. Fixed atoms (extxyz move_mask) stay put. One JSON line on\n"
    "stdout: steps, converged, energies, fmax.\n"
    "\n"
    "  --model M           a model file; --head main (default) or prior;\n"
    "  --radius R          run-time cutoff in Å (default: the training cutoff)\n"
    "  --prior SPEC        lj[:FILE] | emt | xtb:gfn2|gfn1|gfnff[,…] | sgdml:MODEL\n"
    "  --frame I           frame of START (default 0)\n"
    "  --optimizer O       fire (default) | bfgs\n"
    "  --fmax F            eV/Å (default 0.05)\n"
    "  --steps N           at most N steps (default 1000)\n"
    "  --maxstep A         Å (default 0.2)\n"
    "  --alpha X           BFGS initial Hessian, eV/Å² (default 70)\n"
    "  --dt X              FIRE initial time step, ASE's units (default 0.1)\n"
    "  -o, --output OUT    the relaxation's frames (extxyz)\n"
    "  --quiet             no summary on stderr\n"
    "\n"
    "A relaxation that does not converge in N steps is reported (\"converged\":\n"
    "false, exit 0). Bad input or a calculator failure: exit 2, nothing written.\n"
    "\n"
    "example: mlshift relax --prior emt cu.extxyz --optimizer bfgs -o cu_relaxed.extxyz\n";

typedef struct relax_opts {
    const char *model, *head, *prior, *start, *out;
    double radius;
    uint64_t frame, steps;
    int quiet;
    mlshift_relax_options ro;
} relax_opts;

static int option(cli_args *a, relax_opts *o)
{
    const char *v;
    if (cli_value(a, "--model", &o->model) || cli_value(a, "--head", &o->head) ||
        cli_value(a, "--prior", &o->prior) || cli_value(a, "-o", &o->out) ||
        cli_value(a, "--output", &o->out))
        return 1;
    if (cli_value(a, "--optimizer", &v)) {
        if (!strcmp(v, "fire"))
            o->ro.method = MLSHIFT_RELAX_FIRE;
        else if (!strcmp(v, "bfgs"))
            o->ro.method = MLSHIFT_RELAX_BFGS;
        else
            return cli_fail("relax: --optimizer %s: fire or bfgs", v), -1;
        return 1;
    }
    struct { const char *name; double *dst; } dbl[] = {
        {"--radius", &o->radius}, {"--fmax", &o->ro.fmax},
        {"--maxstep", &o->ro.maxstep}, {"--alpha", &o->ro.alpha}, {"--dt", &o->ro.dt}};
    for (size_t k = 0; k < sizeof dbl / sizeof dbl[0]; k++)
        if (cli_value(a, dbl[k].name, &v)) {
            if (cli_parse_double(dbl[k].name, v, dbl[k].dst))
                return -1;
            if (!(*dbl[k].dst > 0))
                return cli_fail("relax: %s must be > 0", dbl[k].name), -1;
            return 1;
        }
    if (cli_value(a, "--steps", &v))
        return cli_parse_u64("--steps", v, &o->steps) ? -1 : 1;
    if (cli_value(a, "--frame", &v))
        return cli_parse_u64("--frame", v, &o->frame) ? -1 : 1;
    if (cli_flag(a, "--quiet"))
        return o->quiet = 1;
    return a->bad ? -1 : 0;
}

static int check(const relax_opts *o)
{
    if (!o->start)
        return cli_fail("relax: no START file (see mlshift relax --help)");
    if (!o->out)
        return cli_fail("relax: no output file: give -o OUT.extxyz");
    if (!o->model == !o->prior)
        return cli_fail("relax: give exactly one of --model M and --prior SPEC");
    if (o->prior && (o->head || o->radius != 0))
        return cli_fail("relax: --head and --radius go with --model, not --prior");
    if (o->head && strcmp(o->head, "main") && strcmp(o->head, "prior"))
        return cli_fail("relax: --head %s: main or prior", o->head);
    if (!strcmp(o->out, o->start))
        return cli_fail("relax: the output would overwrite START");
    return 0;
}

/* Appends the current structure with info "step=K fmax=F". */
static int observe(void *ctx, const mlshift_relax *r)
{
    mlshift_frames *traj = ctx;
    mlshift_relax_state s;
    mlshift_frame f;
    char info[96];
    mlshift_error err;
    mlshift_relax_get_state(r, &s);
    mlshift_relax_frame(r, &f);
    snprintf(info, sizeof info, "step=%llu fmax=%.17g", (unsigned long long)s.step,
             s.fmax);
    f.info = info;
    if (mlshift_frames_append(traj, &f, "relax", &err)) {
        cli_fail("relax: %s", err.message);
        return 1;
    }
    return 0;
}

static int relax(const relax_opts *o, const mlshift_frame *start,
                 const mlshift_md_calculator *calc)
{
    mlshift_error err;
    mlshift_relax *r = NULL;
    mlshift_frames *traj = mlshift_frames_create();
    int rc = CLI_ERROR;
    if (!traj) {
        cli_fail("out of memory");
        goto done;
    }
    if (mlshift_relax_create(start, calc, &o->ro, &r, &err)) {
        cli_fail("relax: %s", err.message);
        goto done;
    }
    mlshift_relax_state s0, s;
    mlshift_relax_get_state(r, &s0);
    if (observe(traj, r))
        goto done;
    if (mlshift_relax_run(r, o->steps, observe, traj, &err)) {
        cli_fail("relax: %s", err.message);
        goto done;
    }
    mlshift_relax_get_state(r, &s);
    if (mlshift_frames_count(traj) != s.step + 1)
        goto done; /* an append failed (reported) */
    if (mlshift_write_extxyz(traj, o->out, NULL, &err)) {
        cli_fail("%s", err.message);
        goto done;
    }
    const char *name = o->ro.method == MLSHIFT_RELAX_FIRE ? "fire" : "bfgs";
    printf("{\"optimizer\":\"%s\",\"steps\":%llu,\"converged\":%s,\"fmax\":%.10g,"
           "\"fmax_start\":%.10g,\"energy\":%.17g,\"energy_start\":%.17g,"
           "\"atoms\":%zu}\n", name, (unsigned long long)s.step,
           s.converged ? "true" : "false", s.fmax, s0.fmax, s.energy, s0.energy,
           s.natoms);
    if (!o->quiet)
        fprintf(stderr, "mlshift: relax: %s, %llu steps, %s: fmax %.3g eV/Å, energy "
                "%.6f eV (%+.6f)\n", name, (unsigned long long)s.step,
                s.converged ? "converged" : "NOT converged", s.fmax, s.energy,
                s.energy - s0.energy);
    rc = CLI_OK;
done:
    mlshift_relax_destroy(r);
    mlshift_frames_destroy(traj);
    return rc;
}

int cmd_relax(int argc, char **argv)
{
    relax_opts o;
    memset(&o, 0, sizeof o);
    mlshift_relax_options_default(&o.ro);
    o.steps = 1000;
    cli_args a = {argc, 1, argv, "relax", 0};
    for (; a.i < argc; a.i++) {
        if (cli_flag(&a, "--help") || cli_flag(&a, "-h")) {
            fputs(help, stdout);
            return CLI_OK;
        }
        int r = option(&a, &o);
        if (r < 0 || a.bad)
            return CLI_ERROR;
        if (r)
            continue;
        const char *arg = argv[a.i];
        if (arg[0] == '-' && arg[1])
            return cli_fail("relax: unknown option '%s' (see mlshift relax --help)", arg);
        if (o.start)
            return cli_fail("relax: one START file only ('%s' and '%s')", o.start, arg);
        o.start = arg;
    }
    if (check(&o))
        return CLI_ERROR;
    int rc = CLI_ERROR;
    mlshift_error err;
    mlshift_frames *fr = mlshift_frames_create();
    mlshift_prior *prior = NULL;
    mlshift_model *model = NULL;
    mlshift_md_calculator calc = {0};
    if (!fr) {
        cli_fail("out of memory");
        goto done;
    }
    if (o.prior ? mlshift_prior_create(o.prior, &prior, &err)
                : mlshift_model_load(o.model, &model, &err)) {
        cli_fail("%s", err.message);
        goto done;
    }
    calc.prior = prior;
    calc.model = model;
    calc.head = o.head && !strcmp(o.head, "prior") ? MLSHIFT_HEAD_PRIOR : MLSHIFT_HEAD_MAIN;
    calc.cutoff = o.radius;
    if (mlshift_read(fr, o.start, NULL, &err)) {
        cli_fail("%s", err.message);
        goto done;
    }
    size_t n = mlshift_frames_count(fr);
    if (o.frame >= n) {
        cli_fail("relax: --frame %llu: %s holds %zu frame%s", (unsigned long long)o.frame,
                 o.start, n, n == 1 ? "" : "s");
        goto done;
    }
    mlshift_frame f;
    mlshift_frames_get(fr, (size_t)o.frame, &f);
    rc = relax(&o, &f, &calc);
done:
    mlshift_frames_destroy(fr);
    mlshift_prior_destroy(prior);
    mlshift_model_destroy(model);
    return rc;
}
