/* SPDX-License-Identifier: MIT */
/* Broadcast index spaces for the elementwise kernels (internal to src/nn).
 *
 * An elementwise op runs over a padded 3-d index space o[3] (shapes
 * right-aligned, leading 1s); each operand k reads or writes element
 * Σ_d i_d·s[k][d], with stride 0 along the dims it is broadcast (or
 * reduced) over. ms_bc_collapse() merges adjacent dims where every operand
 * is contiguous across them (or broadcast along both) and drops size-1
 * dims, so the common patterns become one long inner loop:
 *   (N,F)∘(N,F)      -> (1, 1, N·F)  strides 1, 1
 *   (N,F)∘(F,)       -> (1, N, F)    inner strides 1, 1; outer F, 0
 *   (N,F)∘(N,1)      -> (1, N, F)    inner strides 1, 0
 *   (N,3,F)∘(N,1,F)  -> (N, 3, F)    inner 1, 1; middle F, 0
 * and the kernels (kernels.inc) specialise the inner loop on strides 0/1 so
 * that the compiler vectorises it at -O2. */
#ifndef MLSHIFT_BCAST_H
#define MLSHIFT_BCAST_H

#include <stddef.h>

#include "tensor.h"

#define MS_BC_MAXOP 3

/* GCC's -O2 vectorises only loops whose trip count is a multiple of the
 * vector width ("very cheap" cost model); the elementwise kernels are
 * worth a remainder loop. kernels.c includes this header after its own
 * includes and gets the "cheap" model (still no fast-math: results are the
 * same IEEE operations, only several at a time). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("vect-cost-model=cheap")
#endif

/* shape padded to 3 dims with leading 1s */
static inline void ms_bc_pad3(int ndim, const size_t *shape, size_t p[3])
{
    int off = 3 - ndim;
    for (int d = 0; d < 3; d++)
        p[d] = d < off ? 1 : shape[d - off];
}

/* Row-major element strides of padded shape p inside index space o: 0 along
 * the dims where p is 1 (broadcast or reduced). */
static inline void ms_bc_strides(const size_t p[3], const size_t o[3], size_t s[3])
{
    s[2] = 1;
    s[1] = p[2];
    s[0] = p[1] * p[2];
    for (int d = 0; d < 3; d++)
        if (p[d] == 1 && o[d] != 1)
            s[d] = 0;
}

/* Merges dims of o (3, padded) in place for nop operands with strides
 * s[k][3]: afterwards o[2] is the longest contiguous run. */
static inline void ms_bc_collapse(size_t o[3], int nop, size_t s[][3])
{
    size_t no[3], ns[MS_BC_MAXOP][3];
    int m = 0; /* merged dims, innermost first */
    for (int d = 2; d >= 0; d--) {
        if (o[d] == 1)
            continue;
        if (m > 0) {
            int ok = 1;
            for (int k = 0; k < nop; k++)
                ok &= s[k][d] == ns[k][m - 1] * no[m - 1];
            if (ok) {
                no[m - 1] *= o[d];
                continue;
            }
        }
        no[m] = o[d];
        for (int k = 0; k < nop; k++)
            ns[k][m] = s[k][d];
        m++;
    }
    for (int d = 0; d < 3; d++) {
        int j = 2 - d; /* o[2] <- no[0] */
        o[d] = j < m ? no[j] : 1;
        for (int k = 0; k < nop; k++)
            s[k][d] = j < m ? ns[k][j] : 0;
    }
}

#endif /* MLSHIFT_BCAST_H */
