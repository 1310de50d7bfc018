/* SPDX-License-Identifier: MIT */
/* What `train` and `ttt` share: prior labels (from the frames' own
 * prior_energy/prior_forces, or computed with a prior and cached), the
 * progress line. */
#ifndef MLSHIFT_CLI_TRAINIO_H
#define MLSHIFT_CLI_TRAINIO_H

#include "cli.h"

/* Prior labels for the frames of d (head PRIOR). With spec, computed by
 * that prior and cached in `cache` (mlshift_dataset_prior_labels: reused
 * when spec and positions match);
 * without it, read again from files with the prior keys (the same reader
 * options, so the frames line up; idx (d->n,) the indices d was built
 * from, NULL for 0..n-1). Reports errors; returns CLI_ERROR. */
int cli_prior_labels(mlshift_dataset *d, const char *spec, const char *cache,
                     const cli_frames_opts *o, char **files, size_t nfiles,
                     const size_t *idx, const char *ekey, const char *fkey);

/* "1h02m", "3m05s", "12s" */
void cli_duration(double s, char *buf, size_t cap);

#endif /* MLSHIFT_CLI_TRAINIO_H */
