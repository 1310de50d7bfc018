/* SPDX-License-Identifier: MIT */
/* STUB — to be replaced by the cell-list neighbour list. */
#include <stdlib.h>
#include "../core/util.h"
mlshift_status mlshift_neighbours_build(mlshift_neighbours *nl, size_t n, const double *positions,
                                        const double *cell, const int *pbc, double cutoff, int half,
                                        mlshift_error *err)
{ (void)nl; (void)n; (void)positions; (void)cell; (void)pbc; (void)cutoff; (void)half;
  return ms_fail(err, MLSHIFT_ERR_UNSUPPORTED, "neighbour lists not built yet"); }
mlshift_status mlshift_neighbours_filter(mlshift_neighbours *out, const mlshift_neighbours *in,
                                         double cutoff, mlshift_error *err)
{ (void)out; (void)in; (void)cutoff; return ms_fail(err, MLSHIFT_ERR_UNSUPPORTED, "neighbour lists not built yet"); }
void mlshift_neighbours_free(mlshift_neighbours *nl) { (void)nl; }
