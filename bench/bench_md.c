/* SPDX-License-Identifier: MIT */
/* MD loop overhead (issue 10): for aspirin (rMD17 test_01, frame 0, 21
 * atoms) with a PaiNN 64 × 3 (5 Å; the MD17 benchmark's size, seeded random
 * weights: the cost does not depend on their values), velocity Verlet at
 * 0.5 fs from a 500 K start:
 *
 *   force_us     one energy + forces call of the calculator (the neighbour
 *                list is built inside it: it counts as force time)
 *   step_us      one mlshift_md_step (integrator + that call + stop rules)
 *   frame_us     one saved frame: mlshift_md_frame_extxyz + write(2) to
 *                /dev/null, as mlshift md writes it
 *   overhead     (step − force + frame / every) / force at every = 10 and
 *                100 steps per frame (issue 10 asks ≤ 5 %)
 *
 * Medians of reps after warm-up, one thread; one JSON line. Run it on a
 * quiet machine: the numbers are differences of similar times. The force
 * call is timed on the trajectory's current positions, interleaved with
 * the steps: random weights push the atoms apart, so a force call on the
 * start frame (more edges) would cost more than one inside a step (the
 * first version timed it there and reported a negative overhead). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "model/model.h"
#include "bench.h"

int main(int argc, char **argv)
{
    int reps = argc > 1 ? atoi(argv[1]) : 200;
    if (reps < 3)
        reps = 3;
    const char *dir = getenv("MLSHIFT_DATA");
    char path[4096], model_path[] = "/tmp/bench_md_XXXXXX";
    snprintf(path, sizeof path, "%s/rmd17/rmd17_aspirin_test_01.npz",
             dir && *dir ? dir : "../shared/data");
    mlshift_error err;
    mlshift_frames *fr = mlshift_frames_create();
    if (mlshift_read(fr, path, NULL, &err)) {
        fprintf(stderr, "bench_md: %s\n", err.message);
        return 1;
    }
    mlshift_frame f;
    mlshift_frames_get(fr, 0, &f);
    /* The model through a file, as mlshift md loads it. */
    ms_model_hyper h;
    ms_model_hyper_default(&h, MS_ARCH_PAINN);
    h.F = 64;
    int z[4] = {1, 6, 7, 8}, fd = mkstemp(model_path);
    ms_model *m = NULL;
    mlshift_model *mm = NULL;
    if (fd < 0 || ms_model_create(&m, &h, z, 4, 1, &err) ||
        ms_model_save(m, model_path, &err) || mlshift_model_load(model_path, &mm, &err)) {
        fprintf(stderr, "bench_md: %s\n", fd < 0 ? "mkstemp failed" : err.message);
        return 1;
    }
    close(fd);
    unlink(model_path);
    ms_model_destroy(m);
    mlshift_md_calculator calc = {0};
    calc.model = mm;
    mlshift_md_options o;
    mlshift_md_options_default(&o);
    o.t_min_K = o.t_max_K = 0; /* random weights: no stop on temperature */
    mlshift_md *md = NULL;
    if (mlshift_md_create(&f, NULL, &calc, &o, &md, &err)) {
        fprintf(stderr, "bench_md: %s\n", err.message);
        return 1;
    }
    double *t = malloc((size_t)reps * sizeof *t), *tf = malloc((size_t)reps * sizeof *tf), E;
    double *F = malloc(3 * f.natoms * sizeof *F), *R = malloc(3 * f.natoms * sizeof *R);
    for (int r = 0; r < 5; r++) {
        mlshift_md_step(md, &err);
        mlshift_md_calculator_compute(&calc, &f, &E, F, &err);
    }
    mlshift_frame g = f; /* the trajectory's current positions */
    g.positions = R;
    for (int r = 0; r < reps; r++) {
        double t0 = bench_now();
        if (mlshift_md_step(md, &err)) {
            fprintf(stderr, "bench_md: %s\n", err.message);
            return 1;
        }
        t[r] = bench_now() - t0;
        mlshift_md_state s;
        mlshift_md_get_state(md, &s);
        memcpy(R, s.positions, 3 * f.natoms * sizeof *R);
        t0 = bench_now();
        mlshift_md_calculator_compute(&calc, &g, &E, F, &err);
        tf[r] = bench_now() - t0;
    }
    double step = bench_median(t, reps), force = bench_median(tf, reps);
    int null = open("/dev/null", O_WRONLY);
    char *buf = NULL;
    size_t cap = 0, len = 0;
    for (int r = 0; r < reps; r++) {
        double t0 = bench_now();
        if (mlshift_md_frame_extxyz(md, &buf, &cap, &len, &err) ||
            write(null, buf, len) != (ssize_t)len) {
            fprintf(stderr, "bench_md: frame output failed\n");
            return 1;
        }
        t[r] = bench_now() - t0;
    }
    double frame = bench_median(t, reps);
    close(null);
    double loop = step - force;
    printf("{\"bench\":\"md_loop\",\"molecule\":\"aspirin\",\"atoms\":%zu,\"model\":"
           "\"painn 64x3\",\"integrator\":\"verlet\",\"reps\":%d,\"force_us\":%.2f,"
           "\"step_us\":%.2f,\"frame_us\":%.2f,\"overhead_every10\":%.4f,"
           "\"overhead_every100\":%.4f,\"ns_per_day\":%.3g}\n",
           f.natoms, reps, 1e6 * force, 1e6 * step, 1e6 * frame,
           (loop + frame / 10) / force, (loop + frame / 100) / force,
           o.dt_fs * 1e-6 / ((step + frame / 10) / 86400));
    free(buf);
    free(t);
    free(tf);
    free(F);
    free(R);
    mlshift_md_destroy(md);
    mlshift_model_destroy(mm);
    mlshift_frames_destroy(fr);
    return 0;
}
