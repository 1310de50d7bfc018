/* SPDX-License-Identifier: MIT */
/* Cell list: atoms binned into a grid of cells at least one cutoff wide, in
 * the fractional coordinates of a triclinic cell, periodic along any subset
 * of a, b, c. Internal to the library; neighbours.c walks it.
 *
 * Binning basis. Periodic axes use the lattice vectors of the cell; the other
 * axes are completed with orthonormal vectors perpendicular to them (no cell,
 * or a cell whose non-periodic vectors are zero or skewed, bins the same), so
 * the basis B (rows) is never singular when the periodic rows are not. With
 * G = B⁻¹ (columns g_k = recip[k]) the fractional coordinates are f_k = r·g_k
 * and the width of the cell perpendicular to axis k is h_k = 1/|g_k|.
 *
 * Two atoms closer than rc differ in f_k by at most rc/h_k. With nb_k bins of
 * fractional width 1/nb_k along a periodic axis (span/nb_k along an open
 * axis), the bin indices of the pair — counted on the unrolled, infinite
 * axis, so that bin b in image s is b + s·nb_k — differ by at most
 * m_k = ceil(rc·nb_k/h_k) (= 1 when the bins are a cutoff wide, more when
 * the cutoff is longer than the cell). Visiting the (2m_k+1) unrolled bins
 * around an atom's own along each axis therefore meets every neighbour and
 * every periodic image of it exactly once (distinct unrolled bins are
 * distinct (bin, image) pairs).
 *
 * Sizes: N atoms, M = n_bins cells. */
#ifndef MLSHIFT_CELL_LIST_H
#define MLSHIFT_CELL_LIST_H

#include <stddef.h>
#include <stdint.h>
#include "mlshift.h"

/* Zeroed slots after the last, for reads four at a time. */
#define MS_CL_PAD 4

/* One entry of an axis's stencil table: `n` consecutive bins from `bin` in
 * periodic image `img` along the axis, whose lattice translation is
 * off = img·(lattice vector of the axis). Along a (the innermost, contiguous
 * axis of the cell numbering) consecutive bins of one image merge into one
 * entry, so the walk reads them as one slot range; along b and c n = 1. */
typedef struct ms_cl_entry {
    double off[3];            /* Å */
    int32_t bin, n, img, pad;
} ms_cl_entry;

typedef struct ms_cell_list {
    size_t n;                 /* N */
    double cutoff;            /* Å, as asked */
    double reach;             /* Å, cutoff + rounding slack; bins are this wide */
    int periodic[3];          /* 1 along the periodic axes */
    double cell[3][3];        /* Å, rows a, b, c; zero rows where not periodic */
    double basis[3][3];       /* Å, binning basis rows (see above) */
    double recip[3][3];       /* 1/Å, recip[k] = g_k: f_k = r·g_k */
    double width[3];          /* Å, h_k = 1/|g_k| */
    double lo[3], span[3];    /* fractional bounding box along open axes */
    int nb[3];                /* bins along each axis */
    int m[3];                 /* stencil reach along each axis, bins */
    int ntab[3];              /* table row length: 2m+1, or <= nb on open axes */
    size_t n_bins;            /* M = nb[0]·nb[1]·nb[2] */
    double n_stencil;         /* cells visited per atom: Π ntab */
    double est_pairs;         /* candidate pairs the walk will test */
    size_t work_bytes;        /* workspace ms_cell_list_fill needs */
    double wmax;              /* Å, largest |wrapped coordinate| (for the
                                 float pre-test's rounding bound) */
    int wrapped;              /* 1 if any w_i is nonzero */
    /* Views into the caller's workspace, set by ms_cell_list_fill. Slot
     * arrays read by the 4-wide pre-test carry MS_CL_PAD zeroed slots
     * after the last one, so a group of four may run past a cell. */
    double *wpos;             /* (N, 3) Å, wrapped positions, atom order */
    int32_t *wrap;            /* (N, 3) w_i: r_i = wpos_i + w_i·cell */
    int32_t *bin;             /* (N, 3) bin of each atom along a, b, c */
    size_t *start;            /* (M + 1,) slots of cell c: [start[c], start[c+1]) */
    int32_t *sidx;            /* (N + PAD,) atom in each slot (ascending
                                 within a cell) */
    double *sx, *sy, *sz;     /* (N,) each, Å, wrapped positions, slot order */
    float *fx, *fy, *fz;      /* (N + PAD,) each, Å, the same in float */
    ms_cl_entry *tab[3];      /* (nb_k, ntab_k) stencil entries of bin b
                                 along axis k, in order (see below) */
    int32_t *tab_len[3];      /* (nb_k,) entries used in each row */
    int32_t *cand;            /* (N + PAD,) scratch: candidates of a range */
} ms_cell_list;

/* Checks the input (finite positions and cell, positive cutoff, a
 * non-singular cell along the periodic axes, a sane number of images) and
 * plans the grid: fills everything up to work_bytes. cell NULL = no cell,
 * pbc NULL = not periodic. n may be 0 (positions may then be NULL). */
mlshift_status ms_cell_list_plan(ms_cell_list *cl, size_t n,
                                 const double *positions, const double *cell,
                                 const int *pbc, double cutoff,
                                 mlshift_error *err);

/* Bins the atoms into `work` (work_bytes, 8-byte aligned) and builds the
 * stencil tables. Cannot fail once planned. */
void ms_cell_list_fill(ms_cell_list *cl, const double *positions, void *work);

#endif /* MLSHIFT_CELL_LIST_H */
