/* SPDX-License-Identifier: MIT */
/* Load a model, refine the radius of each structure against training
 * statistics (paper eq. 4), and compute energies and forces there, with
 * nothing but the public API (mlshift.h) of the installed library:
 *
 *   cc refine_forces.c $(pkg-config --cflags --libs mlshift) -o refine_forces
 *   ./refine_forces MODEL STATS FRAMES
 *
 * prints one line per structure: index, chosen radius (Å), energy (eV),
 * max |F_i| (eV/Å), all with 17 significant digits. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include <mlshift.h>

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s MODEL STATS FRAMES\n", argv[0]);
        return 2;
    }
    mlshift_error err;
    mlshift_model *model = NULL;
    mlshift_calc *calc = NULL;
    mlshift_frames *frames = mlshift_frames_create();
    mlshift_train_stats *stats = NULL;
    double *forces = NULL;
    int rc = 2;
    if (mlshift_model_load(argv[1], &model, &err) ||
        mlshift_stats_read(argv[2], &stats, &err) ||
        mlshift_read(frames, argv[3], NULL, &err) ||
        mlshift_calc_from_model(model, MLSHIFT_HEAD_MAIN, 0, &calc, &err))
        goto fail;
    /* the candidate radii of `mlshift predict --refine-radius`: 3..9 Å */
    double radii[10];
    for (int k = 0; k < 10; k++)
        radii[k] = 3.0 + k * 6.0 / 9.0;
    if (mlshift_calc_set_refinement(calc, stats, radii, 10, &err))
        goto fail;
    printf("mlshift %s, cutoff %.3g Å\n", mlshift_version(), mlshift_model_cutoff(model));
    for (size_t s = 0; s < mlshift_frames_count(frames); s++) {
        mlshift_frame f;
        mlshift_frames_get(frames, s, &f);
        double *F = realloc(forces, 3 * f.natoms * sizeof *F), e, fmax = 0;
        if (!F)
            goto fail;
        forces = F;
        if (mlshift_calc_compute(calc, &f, &e, forces, NULL, NULL, &err))
            goto fail;
        for (size_t i = 0; i < f.natoms; i++) {
            const double *v = forces + 3 * i;
            double n = sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
            fmax = n > fmax ? n : fmax;
        }
        printf("%zu %.17g %.17g %.17g\n", s, mlshift_calc_last_cutoff(calc), e, fmax);
    }
    rc = 0;
    goto done;
fail:
    fprintf(stderr, "refine_forces: %s\n", err.message);
done:
    free(forces);
    mlshift_calc_destroy(calc);
    mlshift_stats_destroy(stats);
    mlshift_frames_destroy(frames);
    mlshift_model_destroy(model);
    return rc;
}
