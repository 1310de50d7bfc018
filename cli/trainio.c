/* SPDX-License-Identifier: MIT */
/* Prior labels for training and TTT: computed once by a prior and cached
 * (the library's mlshift_dataset_prior_labels), or read back from the
 * frames' own prior_energy/prior_forces. */
#include "trainio.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void cli_duration(double s, char *buf, size_t cap)
{
    if (!(s >= 0) || s > 1e8)
        snprintf(buf, cap, "?");
    else if (s >= 3600)
        snprintf(buf, cap, "%dh%02dm", (int)(s / 3600), (int)fmod(s / 60, 60));
    else if (s >= 60)
        snprintf(buf, cap, "%dm%02ds", (int)(s / 60), (int)fmod(s, 60));
    else
        snprintf(buf, cap, "%.0fs", s);
}

typedef struct labelling {
    const char *spec;
    int tty;
    double t0, last;
} labelling;

static void on_frame(void *ctx, size_t done, size_t total)
{
    labelling *l = ctx;
    double t = cli_now() - l->t0;
    if (!l->tty || (t - l->last <= 0.5 && done != total))
        return;
    char eta[32];
    cli_duration(t / (double)done * (double)(total - done), eta, sizeof eta);
    fprintf(stderr, "\rprior labels (%s): %zu/%zu frames, ETA %s   ", l->spec, done, total, eta);
    l->last = t;
}

int cli_prior_labels(mlshift_dataset *d, const char *spec, const char *cache,
                     const cli_frames_opts *o, char **files, size_t nfiles,
                     const size_t *idx, const char *ekey, const char *fkey)
{
    if (spec) {
        mlshift_error err;
        mlshift_prior *p = NULL;
        if (mlshift_prior_create(spec, &p, &err))
            return cli_fail("%s", err.message);
        labelling l = {spec, !o->quiet && isatty(2), cli_now(), 0};
        int reused = 0, cached = 0;
        mlshift_status s = mlshift_dataset_prior_labels(d, p, cache, &reused, &cached,
                                                        on_frame, &l, &err);
        mlshift_prior_destroy(p);
        if (l.tty && !reused && l.last > 0)
            fputc('\n', stderr);
        if (s)
            return cli_fail("%s", err.message);
        if (reused && !o->quiet)
            fprintf(stderr, "prior labels: reused %s\n", cache);
        else if (cache && !cached)
            fprintf(stderr, "mlshift: warning: prior labels not cached in %s\n", cache);
        return CLI_OK;
    }
    /* the frames' own prior labels: read the files again with the prior keys */
    cli_frames_opts po = *o;
    po.read.energy_key = ekey;
    po.read.forces_key = fkey;
    po.read.require_energy = 1;
    po.read.require_forces = 1;
    po.read.labels_old = 0;
    po.quiet = 1;
    mlshift_frames *pf = NULL;
    size_t *parts[3] = {NULL, NULL, NULL}, counts[3];
    int split = o->split && !o->part;
    if (cli_load_frames(&po, files, nfiles, &pf, split ? parts : NULL, counts, NULL))
        return cli_fail("no prior labels: give --prior SPEC, or frames with %s and %s "
                        "(mlshift label)", ekey, fkey);
    int rc = CLI_OK;
    size_t n = mlshift_dataset_count(d), nf = 3 * mlshift_dataset_atoms(d), at = 0;
    double *E = malloc((n + 1) * sizeof *E), *F = malloc((nf + 1) * sizeof *F);
    for (int k = 0; k < 3; k++)
        free(parts[k]);
    if (!E || !F || (!idx && mlshift_frames_count(pf) < n)) {
        rc = cli_fail("prior labels: the files' frames do not line up with the data set");
        goto done;
    }
    for (size_t k = 0; k < n && rc == CLI_OK; k++) {
        mlshift_frame f, g;
        mlshift_dataset_frame(d, k, &g);
        if (mlshift_frames_get(pf, idx ? idx[k] : k, &f)) {
            rc = cli_fail("prior labels: the files' frames do not line up with the data set");
            break;
        }
        if (f.natoms != g.natoms ||
            memcmp(f.positions, g.positions, 3 * f.natoms * sizeof(double))) {
            rc = cli_fail("prior labels: frame %zu differs between the two reads", k);
            break;
        }
        E[k] = f.energy;
        memcpy(F + 3 * at, f.forces, 3 * f.natoms * sizeof(double));
        at += f.natoms;
    }
    mlshift_error err;
    if (rc == CLI_OK && mlshift_dataset_set_labels(d, MLSHIFT_HEAD_PRIOR, E, F, &err))
        rc = cli_fail("%s", err.message);
done:
    free(E);
    free(F);
    mlshift_frames_destroy(pf);
    return rc;
}
