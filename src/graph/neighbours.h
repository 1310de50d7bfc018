/* SPDX-License-Identifier: MIT */
/* The layout of a neighbour list. Opaque in include/mlshift.h (callers
 * read it through mlshift_neighbours_n_edges(), _src(), … so a field can be
 * added without breaking the ABI); the library embeds it in its workspaces
 * (a zeroed struct is an empty list) and reads the fields directly. */
#ifndef MLSHIFT_NEIGHBOURS_H
#define MLSHIFT_NEIGHBOURS_H

#include <stddef.h>
#include <stdint.h>
#include "mlshift.h"

/* A radius graph (see mlshift_neighbours_build in mlshift.h): edges grouped
 * by src, CSR: edges of atom i are [first[i], first[i+1]). E = n_edges.
 * A zeroed struct is an empty list; build/filter reuse its memory. */
struct mlshift_neighbours {
    size_t n_atoms;          /* N */
    size_t n_edges;          /* E */
    size_t capacity;         /* edges allocated */
    double cutoff;           /* Å */
    int half;                /* 1: each pair once */
    int32_t *src;            /* (E,) i */
    int32_t *dst;            /* (E,) j */
    int32_t *shift;          /* (E, 3) integer cell shift S of atom j */
    double *vec;             /* (E, 3) r_j + S·cell − r_i, Å */
    double *dist;            /* (E,) |vec|, Å */
    size_t *first;           /* (N + 1,) */
};

/* Frees the memory of an embedded list and zeroes it (an empty list
 * again); NULL and a zeroed list are fine. */
void ms_neighbours_free(mlshift_neighbours *nl);

#endif /* MLSHIFT_NEIGHBOURS_H */
