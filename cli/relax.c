/* SPDX-License-Identifier: MIT */
/* mlshift relax: FIRE or BFGS (ASE's, step for step) with any calculator.
 * The relaxation's frames (the start, then one per step; the last is the
 * relaxed structure) go to OUT as extxyz, written atomically at the end;
 * a JSON line on stdout says how it went. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "md_calc.h"

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
    "  --dtype float32     the model in float32 (twice as fast; default float64)\n"
    "  --prior SPEC        lj[:FILE] | emt | xtb:gfn2|gfn1|gfnff[,…] | sgdml:MODEL\n"
    "  --frame I           frame of START (default 0)\n"
    "  --optimizer O       fire (default) | bfgs\n"
    "  --fmax F            eV/Å (default 0.05)\n"
    "  --steps N           at most N steps (default 1000)\n"
    "  --maxstep A         Å (default 0.2)\n"
    "  --alpha X           BFGS initial Hessian, eV/Å² (default 70)\n"
    "  --dt X              FIRE initial time step, ASE's units (default 0.1)\n"
    "  -o, --output OUT    the relaxation's frames (extxyz)\n"
    "  --reference SPEC    then continue from the model's minimum with this\n"
    "                      prior (emt, lj, xtb:gfn2, sgdml:MODEL) to --fmax and\n"
    "                      report its steps as \"extra_steps\" (paper A.3.1.1);\n"
    "                      OUT holds both stages (info stage=model|reference)\n"
    "  --quiet             no summary on stderr\n"
    "\n"
    "A relaxation that does not converge in N steps is reported (\"converged\":\n"
    "false, exit 0). Bad input or a calculator failure: exit 2, nothing written.\n"
    "\n"
    "example: mlshift relax --prior emt cu.extxyz --optimizer bfgs -o cu_relaxed.extxyz\n";

typedef struct relax_opts {
    md_calc_opts c;
    const char *start, *out, *reference;
    uint64_t frame, steps;
    int quiet;
    mlshift_relax_options ro;
} relax_opts;

static int option(cli_args *a, void *ov)
{
    relax_opts *o = ov;
    const char *v;
    int r = md_calc_option(a, &o->c);
    if (r)
        return r;
    if (cli_value(a, "-o", &o->out) || cli_value(a, "--output", &o->out) ||
        cli_value(a, "--reference", &o->reference))
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
    const md_calc_positive pos[] = {
        {"--fmax", &o->ro.fmax},
        {"--maxstep", &o->ro.maxstep}, {"--alpha", &o->ro.alpha}, {"--dt", &o->ro.dt}};
    if ((r = md_calc_positive_option(a, "relax", pos, sizeof pos / sizeof pos[0])))
        return r;
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
    if (md_calc_check("relax", &o->c))
        return CLI_ERROR;
    if (!strcmp(o->out, o->start))
        return cli_fail("relax: the output would overwrite START");
    return 0;
}

/* Appends the current structure with info "step=K fmax=F". */
typedef struct relax_sink {
    mlshift_frames *traj;
    const char *stage;          /* NULL, or "model" / "reference" */
} relax_sink;

static int observe(void *ctx, const mlshift_relax *r)
{
    relax_sink *rs = ctx;
    mlshift_frames *traj = rs->traj;
    mlshift_relax_state s;
    mlshift_frame f;
    char info[128];
    mlshift_error err;
    mlshift_relax_get_state(r, &s);
    mlshift_relax_frame(r, &f);
    snprintf(info, sizeof info, "step=%llu fmax=%.17g%s%s", (unsigned long long)s.step,
             s.fmax, rs->stage ? " stage=" : "", rs->stage ? rs->stage : "");
    f.info = info;
    if (mlshift_frames_append(traj, &f, "relax", &err)) {
        cli_fail("relax: %s", err.message);
        return 1;
    }
    return 0;
}

/* One relaxation from start with calc, its frames appended to rs->traj.
 * *s0, *s receive the first and last states. */
static int run_one(const relax_opts *o, const mlshift_frame *start,
                   const mlshift_md_calculator *calc, relax_sink *rs,
                   mlshift_relax **r, mlshift_relax_state *s0, mlshift_relax_state *s)
{
    mlshift_error err;
    size_t before = mlshift_frames_count(rs->traj);
    if (mlshift_relax_create(start, calc, &o->ro, r, &err))
        return cli_fail("relax%s: %s", rs->stage && !strcmp(rs->stage, "reference")
                        ? " --reference" : "", err.message);
    mlshift_relax_get_state(*r, s0);
    if (observe(rs, *r))
        return CLI_ERROR;
    if (mlshift_relax_run(*r, o->steps, observe, rs, &err))
        return cli_fail("relax: %s", err.message);
    mlshift_relax_get_state(*r, s);
    if (mlshift_frames_count(rs->traj) != before + s->step + 1)
        return CLI_ERROR; /* an append failed (reported) */
    return CLI_OK;
}

static void print_state(const char *name, const mlshift_relax_state *s0,
                        const mlshift_relax_state *s)
{
    printf("\"optimizer\":\"%s\",\"steps\":%llu,\"converged\":%s,\"fmax\":%.10g,"
           "\"fmax_start\":%.10g,\"energy\":%.17g,\"energy_start\":%.17g,"
           "\"atoms\":%zu", name, (unsigned long long)s->step,
           s->converged ? "true" : "false", s->fmax, s0->fmax, s->energy, s0->energy,
           s->natoms);
}

/* The relaxation, and with --reference the continuation from its last
 * structure with the reference calculator (paper A.3.1.1: the extra steps
 * the reference needs after the model's minimum). */
static int relax(const relax_opts *o, const mlshift_frame *start,
                 const mlshift_md_calculator *calc)
{
    mlshift_error err;
    mlshift_relax *r = NULL, *rr = NULL;
    mlshift_prior *ref = NULL;
    relax_sink rs = {mlshift_frames_create(), o->reference ? "model" : NULL};
    int rc = CLI_ERROR;
    mlshift_relax_state s0, s, r0, r1;
    if (!rs.traj) {
        cli_fail("out of memory");
        goto done;
    }
    if (o->reference && mlshift_prior_create(o->reference, &ref, &err)) {
        cli_fail("relax: --reference: %s", err.message);
        goto done;
    }
    if (run_one(o, start, calc, &rs, &r, &s0, &s))
        goto done;
    if (ref) {
        mlshift_frame f;
        mlshift_relax_frame(r, &f);
        mlshift_md_calculator rc_ = {0};
        rc_.prior = ref;
        rs.stage = "reference";
        if (run_one(o, &f, &rc_, &rs, &rr, &r0, &r1))
            goto done;
    }
    if (mlshift_write_extxyz(rs.traj, o->out, NULL, &err)) {
        cli_fail("%s", err.message);
        goto done;
    }
    const char *name = o->ro.method == MLSHIFT_RELAX_FIRE ? "fire" : "bfgs";
    putchar('{');
    print_state(name, &s0, &s);
    if (ref) {
        printf(",\"reference\":{\"spec\":");
        cli_json_string(stdout, o->reference);
        printf(",");
        print_state(name, &r0, &r1);
        printf(",\"extra_steps\":%llu}", (unsigned long long)r1.step);
    }
    printf("}\n");
    if (!o->quiet) {
        fprintf(stderr, "mlshift: relax: %s, %llu steps, %s: fmax %.3g eV/Å, energy "
                "%.6f eV (%+.6f)\n", name, (unsigned long long)s.step,
                s.converged ? "converged" : "NOT converged", s.fmax, s.energy,
                s.energy - s0.energy);
        if (ref)
            fprintf(stderr, "mlshift: relax: --reference %s from the model's minimum "
                    "(fmax %.3g eV/Å there): %llu extra steps, %s, energy %.6f eV\n",
                    o->reference, r0.fmax, (unsigned long long)r1.step,
                    r1.converged ? "converged" : "NOT converged", r1.energy);
    }
    rc = CLI_OK;
done:
    mlshift_relax_destroy(r);
    mlshift_relax_destroy(rr);
    mlshift_prior_destroy(ref);
    mlshift_frames_destroy(rs.traj);
    return rc;
}

int cmd_relax(int argc, char **argv)
{
    relax_opts o;
    memset(&o, 0, sizeof o);
    mlshift_relax_options_default(&o.ro);
    o.steps = 1000;
    int r = md_calc_args(argc, argv, "relax", help, option, &o, &o.start);
    if (r)
        return r == 1 ? CLI_OK : CLI_ERROR;
    if (check(&o))
        return CLI_ERROR;
    int rc = CLI_ERROR;
    mlshift_frames *fr = NULL;
    md_calc mc;
    mlshift_frame f;
    if (!md_calc_open(&o.c, &mc) && !md_load_frame("relax", o.start, o.frame, &fr, &f))
        rc = relax(&o, &f, &mc.calc);
    mlshift_frames_destroy(fr);
    md_calc_close(&mc);
    return rc;
}
