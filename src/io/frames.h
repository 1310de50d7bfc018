/* SPDX-License-Identifier: MIT */
/* The frames container's layout, for the modules inside the library.
 * A = total atoms over all frames, n = frames. */
#ifndef MLSHIFT_FRAMES_H
#define MLSHIFT_FRAMES_H

#include "mlshift.h"

struct mlshift_frames {
    size_t n, cap;              /* frames, frames allocated */
    size_t atoms, cap_atoms;    /* A, atoms allocated */
    size_t *atom_off;           /* (n + 1,) first atom of each frame */
    unsigned *flags;            /* (n,) MLSHIFT_HAS_* */
    double *energy;             /* (n,) eV, NaN where absent */
    double *cell;               /* (n, 9) Å, zeros where absent */
    int *pbc;                   /* (n, 3) */
    int *numbers;               /* (A,) */
    double *pos;                /* (A, 3) Å */
    double *forces;             /* (A, 3) eV/Å, zeros where absent */
    unsigned char *fixed;       /* (A,) */
    size_t *info_off;           /* (n + 1,) offsets into info */
    char *info;                 /* NUL-separated info strings */
    size_t info_len, info_cap;
};

/* Drops frames [n, count): how a reader undoes a partial read. */
void ms_frames_truncate(mlshift_frames *fr, size_t n);

#endif /* MLSHIFT_FRAMES_H */
