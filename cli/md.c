/* SPDX-License-Identifier: MIT */
/* mlshift md: molecular dynamics with any calculator (a model, either head,
 * at a fixed cutoff; or a prior). Frames go to the trajectory one whole
 * frame per write(2), so a run killed at any moment leaves a valid extxyz
 * up to its last whole frame; the CSV log likewise, one line per write. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "md_calc.h"

static const char help[] =
    "usage: mlshift md (--model M [--head main|prior] [--radius R] | --prior SPEC)\n"
    "                  START -o TRAJ.extxyz [options]\n"
    "\n"
    "Runs molecular dynamics from frame I of START and writes every N-th frame\n"
    "(positions, velocities in Å/fs, momenta in ASE's units, forces, energies,\n"
    "time_fs) to TRAJ.extxyz, frame by frame: a killed run leaves a valid file\n"
    "up to its last whole frame. Units: eV, Å, fs, amu (docs/md.md).\n"
    "\n"
    "Calculator (one of):\n"
    "  --model M           a model file; --head main (default) or prior;\n"
    "  --radius R          run-time cutoff in Å (default: the training cutoff)\n"
    "  --dtype float32     the model in float32 (twice as fast; default float64)\n"
    "  --refine-radius STATS  the cutoff chosen once, on the start frame, by\n"
    "                      radius refinement (eq. 4) against STATS among\n"
    "                      --radii A:B:K | R1,R2,… (default 3:9:10) and the\n"
    "                      training cutoff, then kept for the whole run\n"
    "  --prior SPEC        lj[:FILE] | emt | xtb:gfn2|gfn1|gfnff[,…] | sgdml:MODEL\n"
    "Start:\n"
    "  START               frames file (extxyz, npz, hdf5); --frame I (default 0)\n"
    "                      If frame I carries velocities (extxyz `velocities`,\n"
    "                      Å/fs, or ASE's `momenta`) they are used as given;\n"
    "                      otherwise Maxwell–Boltzmann at --temperature with\n"
    "                      zero centre-of-mass momentum (--draw-velocities\n"
    "                      draws even then; --temperature 0 starts at rest).\n"
    "Integrator:\n"
    "  --integrator I      verlet (NVE) | langevin (BAOAB, default) |\n"
    "                      nose-hoover (MDsim's); --ensemble nve|… is the same\n"
    "  --dt FS             time step in fs (default 0.5)\n"
    "  --temperature K     target and initial temperature (default 500)\n"
    "  --friction G        Langevin friction in fs^-1 (default 0.01, the paper's;\n"
    "                      the authors' code ran ≈ 0.001 fs^-1, docs/md.md)\n"
    "  --fix-com           Langevin: keep the centre of mass at rest\n"
    "  --ttime X           Nosé–Hoover: Q = 3N k_B T (X·dt)^2 (default 20)\n"
    "  --steps N | --time PS   length (default 1000 steps)\n"
    "  --seed S            velocities and Langevin noise (default 0)\n"
    "Output:\n"
    "  -o, --output TRAJ   the trajectory (extxyz); frame 0 is the start\n"
    "  --save-every N      frame and log interval in steps (default 10);\n"
    "                      --every N is the same\n"
    "  --log LOG.csv       step,time_ps,potential_eV,kinetic_eV,total_eV,\n"
    "                      temperature_K at each saved frame\n"
    "  --monitor STATS     every saved frame also gets, against the training\n"
    "                      statistics STATS (mlshift stats), its spectral\n"
    "                      distance (eq. 5) at the run's cutoff and the mean\n"
    "                      force norm with 1-std OOD flags (info and log:\n"
    "                      spectral_distance= force_norm= ood_force=T|F\n"
    "                      ood_connectivity=T|F monitor_cutoff=; docs/md.md)\n"
    "  --ttt-on-shift      with --model and --monitor: when --ttt-sustain K (3)\n"
    "                      saved frames in a row are flagged, adapt the model\n"
    "                      by --ttt-steps N (20) TTT steps (SGD, --ttt-lr 1e-3,\n"
    "                      --ttt-batch 8) on the last --ttt-window W (10) saved\n"
    "                      frames labelled by --ttt-prior SPEC, then continue;\n"
    "                      at most --ttt-max M (10) times (0: no limit); frames\n"
    "                      get adapted=T|F, the log an adapted column\n"
    "  --quiet             no progress line or summary on stderr\n"
    "Stops (reported, exit 0, the trajectory ends with the stopped frame):\n"
    "  NaN/Inf; T outside [--t-min, --t-max] K (default 0.1, 1e5; 0 = none);\n"
    "  --collapse          a bond (start frame, covalent radii + 0.6 Å) off its\n"
    "                      length by more than --collapse-threshold Å (0.5);\n"
    "  --collapse-reference REF   reference bond lengths = means over REF\n"
    "                      (e.g. the MD17 frames); implies --collapse\n"
    "Ctrl-C stops the run at the next saved frame (written; exit 0).\n"
    "\n"
    "example: mlshift md --prior emt cu.extxyz --integrator verlet --dt 1 "
    "--steps 2000 -o cu_md.extxyz --log cu_md.csv\n";

typedef struct opts {
    md_calc_opts c;
    const char *start, *out, *log, *coll_ref;
    const char *monitor, *refine, *radii, *ttt_prior;
    double time_ps;
    uint64_t frame, steps, every;
    int have_steps, have_time, draw, quiet, ttt;
    mlshift_md_options md;
    mlshift_md_adapt_options adapt;
} opts;

static volatile sig_atomic_t interrupted;
static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
}

static int parse_integrator(const char *v, mlshift_md_integrator *out)
{
    if (!strcmp(v, "verlet") || !strcmp(v, "nve") || !strcmp(v, "velocity-verlet"))
        *out = MLSHIFT_MD_VERLET;
    else if (!strcmp(v, "langevin"))
        *out = MLSHIFT_MD_LANGEVIN;
    else if (!strcmp(v, "nose-hoover") || !strcmp(v, "nosehoover") || !strcmp(v, "nh"))
        *out = MLSHIFT_MD_NOSE_HOOVER;
    else
        return cli_fail("md: --integrator %s: verlet, langevin or nose-hoover", v);
    return 0;
}

/* One option at a->i; 1 consumed, 0 not ours, -1 bad (reported). */
static int option(cli_args *a, void *ov)
{
    opts *o = ov;
    const char *v;
    mlshift_md_options *m = &o->md;
    int r = md_calc_option(a, &o->c);
    if (r)
        return r;
    if (cli_value(a, "-o", &o->out) ||
        cli_value(a, "--output", &o->out) || cli_value(a, "--log", &o->log) ||
        cli_value(a, "--monitor", &o->monitor) || cli_value(a, "--ttt-prior", &o->ttt_prior) ||
        cli_value(a, "--refine-radius", &o->refine) || cli_value(a, "--radii", &o->radii))
        return 1;
    if (cli_value(a, "--collapse-reference", &o->coll_ref)) {
        m->check_collapse = 1;
        return 1;
    }
    if (cli_value(a, "--integrator", &v) || cli_value(a, "--ensemble", &v))
        return parse_integrator(v, &m->integrator) ? -1 : 1;
    struct { const char *name; double *dst; } dbl[] = {
        {"--ttt-lr", &o->adapt.lr}, {"--dt", &m->dt_fs},
        {"--temperature", &m->temperature_K}, {"--friction", &m->friction_per_fs},
        {"--ttime", &m->ttime}, {"--time", &o->time_ps}, {"--t-min", &m->t_min_K},
        {"--t-max", &m->t_max_K}, {"--collapse-threshold", &m->collapse_A}};
    for (size_t k = 0; k < sizeof dbl / sizeof dbl[0]; k++)
        if (cli_value(a, dbl[k].name, &v)) {
            o->have_time |= dbl[k].dst == &o->time_ps;
            return cli_parse_double(dbl[k].name, v, dbl[k].dst) ? -1 : 1;
        }
    if (cli_value(a, "--steps", &v)) {
        o->have_steps = 1;
        return cli_parse_u64("--steps", v, &o->steps) ? -1 : 1;
    }
    if (cli_value(a, "--save-every", &v) || cli_value(a, "--every", &v))
        return cli_parse_u64("--save-every", v, &o->every) ? -1 : 1;
    if (cli_value(a, "--frame", &v))
        return cli_parse_u64("--frame", v, &o->frame) ? -1 : 1;
    struct { const char *name; size_t *dst; } sz[] = {
        {"--ttt-sustain", &o->adapt.sustain}, {"--ttt-window", &o->adapt.window},
        {"--ttt-steps", &o->adapt.steps}, {"--ttt-batch", &o->adapt.batch},
        {"--ttt-max", &o->adapt.max_adaptations}};
    for (size_t k = 0; k < sizeof sz / sizeof sz[0]; k++)
        if (cli_value(a, sz[k].name, &v)) {
            uint64_t u;
            if (cli_parse_u64(sz[k].name, v, &u))
                return -1;
            *sz[k].dst = (size_t)u;
            return 1;
        }
    if (cli_flag(a, "--ttt-on-shift"))
        return o->ttt = 1;
    if (cli_value(a, "--seed", &v))
        return cli_parse_u64("--seed", v, &m->seed) ? -1 : 1;
    if (cli_flag(a, "--fix-com"))
        return m->fix_com = 1;
    if (cli_flag(a, "--collapse"))
        return m->check_collapse = 1;
    if (cli_flag(a, "--draw-velocities"))
        return o->draw = 1;
    if (cli_flag(a, "--quiet"))
        return o->quiet = 1;
    return a->bad ? -1 : 0;
}

/* Checks what the library does not: the calculator choice, lengths. */
static int check(opts *o)
{
    if (!o->start)
        return cli_fail("md: no START file (see mlshift md --help)");
    if (!o->out)
        return cli_fail("md: no trajectory file: give -o TRAJ.extxyz");
    if (md_calc_check("md", &o->c))
        return CLI_ERROR;
    if (o->c.prior && o->refine)
        return cli_fail("md: --refine-radius goes with --model, not --prior");
    if (o->refine && o->c.radius != 0)
        return cli_fail("md: give --radius R or --refine-radius STATS, not both");
    if (o->radii && !o->refine)
        return cli_fail("md: --radii goes with --refine-radius");
    if (o->ttt && (!o->c.model || !o->monitor || !o->ttt_prior))
        return cli_fail("md: --ttt-on-shift needs --model M, --monitor STATS and "
                        "--ttt-prior SPEC");
    if (o->ttt_prior && !o->ttt)
        return cli_fail("md: --ttt-prior goes with --ttt-on-shift");
    if (o->ttt && (!o->adapt.sustain || !o->adapt.window || !o->adapt.steps ||
                   !o->adapt.batch || !(o->adapt.lr > 0)))
        return cli_fail("md: --ttt-sustain, --ttt-window, --ttt-steps and "
                        "--ttt-batch must be >= 1, --ttt-lr > 0");
    if (!(o->md.temperature_K >= 0 && o->md.temperature_K <= 1e6))
        return cli_fail("md: --temperature %g K is not in [0, 1e6] K",
                        o->md.temperature_K);
    if (o->have_steps && o->have_time)
        return cli_fail("md: give --steps or --time, not both");
    if (!(o->md.dt_fs > 0 && o->md.dt_fs <= 100))
        return cli_fail("md: --dt %g fs is not in (0, 100]", o->md.dt_fs);
    if (o->have_time) {
        double n = o->time_ps * 1e3 / o->md.dt_fs;
        if (!(n >= 1 && n < 1e15))
            return cli_fail("md: --time %g ps is not a positive number of %g fs "
                            "steps", o->time_ps, o->md.dt_fs);
        o->steps = (uint64_t)llround(n);
    }
    if (!o->every)
        return cli_fail("md: --save-every must be >= 1");
    if (!strcmp(o->out, o->start) || (o->log && !strcmp(o->log, o->out)))
        return cli_fail("md: the output would overwrite an input or the log");
    return 0;
}

/* The start frame and its velocities (if any and not --draw-velocities). */
static int load_start(const opts *o, mlshift_frames **fr, mlshift_frame *f,
                      double **vel)
{
    mlshift_error err;
    *vel = NULL;
    if (md_load_frame("md", o->start, o->frame, fr, f))
        return CLI_ERROR;
    if (f->flags & MLSHIFT_HAS_FIXED)
        for (size_t i = 0; i < f->natoms; i++)
            if (f->fixed[i])
                return cli_fail("md: %s frame %llu has fixed atoms; md does not "
                                "apply constraints yet", o->start,
                                (unsigned long long)o->frame);
    const char *dot = strrchr(o->start, '.');
    if (o->draw || !dot || (strcmp(dot, ".xyz") && strcmp(dot, ".extxyz")))
        return 0;
    *vel = malloc(3 * f->natoms * sizeof **vel);
    if (!*vel)
        return cli_fail("out of memory");
    int found = 0;
    if (mlshift_read_extxyz_velocities(o->start, (size_t)o->frame, f->natoms,
                                       *vel, &found, &err))
        return cli_fail("%s", err.message);
    if (!found) {
        free(*vel);
        *vel = NULL;
    }
    return 0;
}

/* Writes all of buf to fd with write(2): one call unless interrupted or
 * the disk is full. */
static int write_all(int fd, const char *buf, size_t len)
{
    while (len) {
        ssize_t w = write(fd, buf, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        buf += w;
        len -= (size_t)w;
    }
    return 0;
}

/* --monitor: the statistics, scratch, the cutoff and what was flagged. */
typedef struct shift_monitor {
    mlshift_train_stats *st;
    mlshift_shift_ws *ws;
    double cutoff;               /* Å */
    size_t frames, flag_force, flag_conn;
    double first_flag_ps;        /* NaN until a frame is flagged */
    mlshift_md_adapter *adapter; /* --ttt-on-shift, else NULL */
    mlshift_md *md;              /* the run, which adaptation changes */
} shift_monitor;

typedef struct sink {
    const opts *o;
    int traj, log;               /* file descriptors, log -1 if none */
    char *buf, line[512];
    size_t cap;
    uint64_t total;
    double t0, last;
    int failed;
    shift_monitor *mon;          /* NULL without --monitor */
} sink;

static const char log_header[] = "step,time_ps,potential_eV,kinetic_eV,total_eV,"
                                 "temperature_K";
static const char log_header_monitor[] = ",spectral_distance,force_norm_eV_A,"
                                         "ood_force,ood_connectivity";

/* The monitor's info text for this state into extra, its CSV columns into
 * cols; counts the flags. */
static int monitor(sink *s, const mlshift_md *md, const mlshift_md_state *st,
                   char *extra, size_t cap, char *cols, size_t ccap)
{
    shift_monitor *m = s->mon;
    mlshift_md_monitor r;
    mlshift_error err;
    int adapted = 0;
    if (m->adapter ? mlshift_md_adapt(m->md, m->adapter, &r, &adapted, &err)
                   : mlshift_md_monitor_state(md, m->st, m->cutoff, m->ws, &r, &err)) {
        cli_fail("md: --%s: %s", m->adapter ? "ttt-on-shift" : "monitor", err.message);
        return s->failed = 1;
    }
    const char *of = r.ood_force < 0 ? "" : r.ood_force ? "T" : "F";
    snprintf(extra, cap, "spectral_distance=%.17g force_norm=%.17g%s%s "
             "ood_connectivity=%s monitor_cutoff=%.17g%s", r.spectral_distance,
             r.force_norm, *of ? " ood_force=" : "", of,
             r.ood_connectivity ? "T" : "F", r.cutoff,
             !m->adapter ? "" : adapted ? " adapted=T" : " adapted=F");
    snprintf(cols, ccap, ",%.10g,%.10g,%s,%s%s", r.spectral_distance, r.force_norm,
             r.ood_force < 0 ? "" : r.ood_force ? "1" : "0",
             r.ood_connectivity ? "1" : "0", !m->adapter ? "" : adapted ? ",1" : ",0");
    if (adapted && !s->o->quiet) {
        mlshift_md_adapt_report ar;
        mlshift_md_adapter_report(m->adapter, &ar);
        fprintf(stderr, "%smlshift: md: TTT on shift at %.6g ps (%zu flagged frames in "
                "a row): %zu steps on %zu frames, prior loss %.4g -> %.4g\n",
                !s->o->quiet && isatty(2) ? "\n" : "", st->time_fs * 1e-3,
                s->o->adapt.sustain, s->o->adapt.steps,
                ar.frames < s->o->adapt.window ? ar.frames : s->o->adapt.window,
                ar.prior_loss_before, ar.prior_loss_after);
    }
    m->frames++;
    m->flag_force += r.ood_force > 0;
    m->flag_conn += r.ood_connectivity != 0;
    if ((r.ood_force > 0 || r.ood_connectivity) && isnan(m->first_flag_ps))
        m->first_flag_ps = st->time_fs * 1e-3;
    return 0;
}

static int save(sink *s, const mlshift_md *md)
{
    mlshift_error err;
    size_t len = 0;
    mlshift_md_state st;
    mlshift_md_get_state(md, &st);
    char extra[256] = "", cols[128] = "";
    if (s->mon && monitor(s, md, &st, extra, sizeof extra, cols, sizeof cols))
        return 1;
    if (mlshift_md_frame_extxyz_info(md, extra, &s->buf, &s->cap, &len, &err) ||
        write_all(s->traj, s->buf, len)) {
        cli_fail("md: %s: %s", s->o->out, len ? "write failed" : err.message);
        return s->failed = 1;
    }
    if (s->log >= 0) {
        int n = snprintf(s->line, sizeof s->line, "%llu,%.10g,%.17g,%.17g,%.17g,%.10g%s\n",
                         (unsigned long long)st.step, st.time_fs * 1e-3, st.potential,
                         st.kinetic, st.potential + st.kinetic, st.temperature, cols);
        if (write_all(s->log, s->line, (size_t)n)) {
            cli_fail("md: %s: write failed", s->o->log);
            return s->failed = 1;
        }
    }
    return 0;
}

static void progress(sink *s, const mlshift_md *md, int final)
{
    double t = cli_now();
    if (!final && t - s->last < 0.5)
        return;
    s->last = t;
    mlshift_md_state st;
    mlshift_md_get_state(md, &st);
    double wall = t - s->t0, ps = st.time_fs * 1e-3;
    double total_ps = (double)s->total * s->o->md.dt_fs * 1e-3;
    double ns_day = wall > 0 ? ps * 1e-3 / (wall / 86400) : 0;
    double eta = ps > 0 ? wall * (total_ps - ps) / ps : 0;
    fprintf(stderr, "\rmd: %.4g/%.4g ps, T %.0f K, %.3g ns/day, ETA %.0f s   ", ps,
            total_ps, st.temperature, ns_day, eta);
    if (final)
        fputc('\n', stderr);
}

static int observe(void *ctx, const mlshift_md *md)
{
    sink *s = ctx;
    if (save(s, md))
        return 1;
    if (!s->o->quiet && isatty(2))
        progress(s, md, 0);
    return interrupted;
}

static int open_out(const char *path, const char *header)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        cli_fail("md: %s: %s", path, strerror(errno));
        return -1;
    }
    if (header && write_all(fd, header, strlen(header))) {
        cli_fail("md: %s: write failed", path);
        close(fd);
        return -1;
    }
    return fd;
}

/* The run after everything is checked and the first forces are known. */
static int simulate(const opts *o, mlshift_md *md, shift_monitor *mon)
{
    sink s = {o, -1, -1, NULL, {0}, 0, o->steps, 0, 0, 0, mon};
    int rc = CLI_ERROR;
    char header[256];
    snprintf(header, sizeof header, "%s%s%s\n", log_header, mon ? log_header_monitor : "",
             mon && mon->adapter ? ",adapted" : "");
    if ((s.traj = open_out(o->out, NULL)) < 0 ||
        (o->log && (s.log = open_out(o->log, header)) < 0))
        goto done;
    if (save(&s, md))
        goto done;
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigaction(SIGINT, &sa, &old);
    s.t0 = s.last = cli_now();
    mlshift_error err;
    mlshift_status st = mlshift_md_run(md, o->steps, o->every, observe, &s, &err);
    sigaction(SIGINT, &old, NULL);
    int tty = !o->quiet && isatty(2);
    if (tty)
        progress(&s, md, 1);
    if (st != MLSHIFT_OK) {
        cli_fail("md: %s (the trajectory holds the frames before it)", err.message);
        goto done;
    }
    if (s.failed)
        goto done;
    mlshift_md_state ms;
    mlshift_md_get_state(md, &ms);
    double wall = cli_now() - s.t0;
    if (!o->quiet) {
        fprintf(stderr, "mlshift: md: %llu steps, %.6g ps in %.3g s (%.3g ns/day), "
                "%llu frames in %s\n", (unsigned long long)ms.step, ms.time_fs * 1e-3,
                wall, wall > 0 ? ms.time_fs * 1e-6 / (wall / 86400) : 0.0,
                (unsigned long long)(1 + ms.step / o->every +
                                     (ms.stop && ms.step % o->every ? 1 : 0)),
                o->out);
        if (mon) {
            char first[64] = "no frame flagged";
            if (!isnan(mon->first_flag_ps))
                snprintf(first, sizeof first, "first flag at %.6g ps", mon->first_flag_ps);
            fprintf(stderr, "mlshift: md: monitor at %g Å: %zu of %zu frames flagged "
                    "on force norm, %zu on connectivity; %s\n", mon->cutoff,
                    mon->flag_force, mon->frames, mon->flag_conn, first);
        }
        if (mon && mon->adapter) {
            mlshift_md_adapt_report ar;
            mlshift_md_adapter_report(mon->adapter, &ar);
            if (ar.adaptations)
                fprintf(stderr, "mlshift: md: TTT on shift: adapted %zu time%s (first at "
                        "%.6g ps, last at %.6g ps), %zu TTT steps; %zu of %zu frames "
                        "flagged\n", ar.adaptations, ar.adaptations == 1 ? "" : "s",
                        ar.first_ps, ar.last_ps, ar.ttt_steps, ar.flagged, ar.frames);
            else
                fprintf(stderr, "mlshift: md: TTT on shift: never adapted (%zu of %zu "
                        "frames flagged, never %zu in a row)\n", ar.flagged, ar.frames,
                        o->adapt.sustain);
        }
        if (ms.stop)
            fprintf(stderr, "mlshift: md: stopped (%s): %s\n",
                    mlshift_md_stop_string(ms.stop),
                    ms.stop == MLSHIFT_MD_STOP_OBSERVER ? "interrupted" : ms.stop_reason);
    }
    rc = CLI_OK;
done:
    if (s.traj >= 0 && close(s.traj) && rc == CLI_OK)
        rc = cli_fail("md: %s: %s", o->out, strerror(errno));
    if (s.log >= 0 && close(s.log) && rc == CLI_OK)
        rc = cli_fail("md: %s: %s", o->log, strerror(errno));
    free(s.buf);
    return rc;
}

/* Bond reference for --collapse-reference. */
static int set_reference(const opts *o, mlshift_md *md, const mlshift_frame *f)
{
    mlshift_error err;
    mlshift_frames *ref = mlshift_frames_create();
    mlshift_bonds b = {0};
    int rc = CLI_ERROR;
    if (!ref)
        return cli_fail("out of memory");
    if (mlshift_read(ref, o->coll_ref, NULL, &err) ||
        mlshift_bonds_from_frame(&b, f, o->md.bond_skin_A, &err) ||
        mlshift_bonds_reference(&b, ref, &err) || mlshift_md_set_bonds(md, &b, &err))
        cli_fail("md: --collapse-reference %s: %s", o->coll_ref, err.message);
    else
        rc = CLI_OK;
    mlshift_bonds_free(&b);
    mlshift_frames_destroy(ref);
    return rc;
}

/* --refine-radius: the run's cutoff, chosen once on the start frame (paper
 * A.1.2: the radius must stay fixed during MD). */
static int refine(const opts *o, const mlshift_frame *f, mlshift_md_calculator *calc)
{
    mlshift_error err;
    mlshift_train_stats *st = NULL;
    mlshift_shift_ws *ws = NULL;
    double *radii = NULL;
    size_t k = 0;
    mlshift_refinement res;
    int rc = CLI_ERROR;
    if (cli_parse_radii(o->radii ? o->radii : "3:9:10", &radii, &k))
        goto done;
    if (mlshift_stats_read(o->refine, &st, &err) || !(ws = mlshift_shift_ws_create()) ||
        mlshift_refine_radius(st, f, radii, k, ws, &res, NULL, &err)) {
        cli_fail("md: --refine-radius %s: %s", o->refine, ws ? err.message : "out of memory");
        goto done;
    }
    calc->cutoff = res.radius;
    if (!o->quiet)
        fprintf(stderr, "mlshift: md: radius refined on the start frame: %g Å (eq. 5 "
                "distance %.4g; %.4g at the training cutoff %g Å), kept for the run\n",
                res.radius, res.spectral_distance, res.spectral_distance_train,
                mlshift_stats_cutoff(st));
    rc = CLI_OK;
done:
    free(radii);
    mlshift_shift_ws_destroy(ws);
    mlshift_stats_destroy(st);
    return rc;
}

/* --monitor: statistics and scratch; the cutoff is the run's. */
static int monitor_open(const opts *o, const mlshift_md_calculator *calc,
                        mlshift_prior *prior, shift_monitor *m)
{
    mlshift_error err;
    m->first_flag_ps = NAN;
    if (mlshift_stats_read(o->monitor, &m->st, &err))
        return cli_fail("md: --monitor %s: %s", o->monitor, err.message);
    if (!(m->ws = mlshift_shift_ws_create()))
        return cli_fail("out of memory");
    m->cutoff = !calc->model ? mlshift_stats_cutoff(m->st)
                : calc->cutoff > 0 ? calc->cutoff : mlshift_model_cutoff(calc->model);
    if (!o->ttt)
        return 0;
    mlshift_md_adapt_options ao = o->adapt;
    ao.stats = m->st;
    ao.cutoff = m->cutoff;
    ao.prior = prior;
    if (mlshift_md_adapter_create(&ao, &m->adapter, &err))
        return cli_fail("md: --ttt-on-shift: %s", err.message);
    return 0;
}

int cmd_md(int argc, char **argv)
{
    opts o;
    memset(&o, 0, sizeof o);
    mlshift_md_options_default(&o.md);
    o.md.integrator = MLSHIFT_MD_LANGEVIN;
    mlshift_md_adapt_options_default(&o.adapt);
    o.steps = 1000;
    o.every = 10;
    int r = md_calc_args(argc, argv, "md", help, option, &o, &o.start);
    if (r)
        return r == 1 ? CLI_OK : CLI_ERROR;
    if (check(&o))
        return CLI_ERROR;

    int rc = CLI_ERROR;
    mlshift_error err;
    mlshift_frames *fr = NULL;
    mlshift_prior *ttt_prior = NULL;
    md_calc mc;
    mlshift_md *md = NULL;
    double *vel = NULL;
    mlshift_frame f;
    shift_monitor mon;
    memset(&mon, 0, sizeof mon);
    if (md_calc_open(&o.c, &mc))
        goto done;
    mlshift_md_calculator calc = mc.calc;
    if (o.ttt && mlshift_prior_create(o.ttt_prior, &ttt_prior, &err)) {
        cli_fail("md: --ttt-prior: %s", err.message);
        goto done;
    }
    if (load_start(&o, &fr, &f, &vel) || (o.refine && refine(&o, &f, &calc)) ||
        (o.monitor && monitor_open(&o, &calc, ttt_prior, &mon)))
        goto done;
    if (mlshift_md_create(&f, vel, &calc, &o.md, &md, &err)) {
        cli_fail("%s%s", strncmp(err.message, "md:", 3) ? "md: " : "", err.message);
        goto done;
    }
    if (o.coll_ref && set_reference(&o, md, &f))
        goto done;
    mon.md = md;
    if (!o.quiet)
        fprintf(stderr, "mlshift: md: %zu atoms, %s, dt %g fs, %s, %llu steps\n",
                f.natoms, o.md.integrator == MLSHIFT_MD_VERLET ? "velocity Verlet (NVE)"
                : o.md.integrator == MLSHIFT_MD_LANGEVIN ? "Langevin BAOAB"
                                                         : "Nose-Hoover (MDsim)",
                o.md.dt_fs, vel ? "velocities from START" : "Maxwell-Boltzmann start",
                (unsigned long long)o.steps);
    rc = simulate(&o, md, o.monitor ? &mon : NULL);
done:
    mlshift_md_adapter_destroy(mon.adapter);
    mlshift_shift_ws_destroy(mon.ws);
    mlshift_stats_destroy(mon.st);
    mlshift_md_destroy(md);
    mlshift_frames_destroy(fr);
    md_calc_close(&mc);
    mlshift_prior_destroy(ttt_prior);
    free(vel);
    return rc;
}
