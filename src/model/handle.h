/* SPDX-License-Identifier: MIT */
/* The public model handle (struct mlshift_model) seen from the rest of the
 * library: the calculator, training and TTT reach the model inside it. */
#ifndef MLSHIFT_MODEL_HANDLE_H
#define MLSHIFT_MODEL_HANDLE_H

#include "mlshift.h"
#include "model.h"

/* The model inside a handle. */
ms_model *ms_model_of(mlshift_model *mm);
const ms_model *ms_model_of_const(const mlshift_model *mm);
/* A handle owning m (taken over; destroyed on failure). */
mlshift_status ms_model_wrap(ms_model *m, mlshift_model **out, mlshift_error *err);

/* Energy, and when non-NULL forces (N, 3), per-atom energies (N,) and the
 * virial (3, 3) W = −Σ_e r_e ⊗ ∂E/∂r_e of frame f through head at r_cut
 * (<= 0: the training cutoff), on the handle's workspace. */
mlshift_status ms_model_handle_compute(mlshift_model *mm, const mlshift_frame *f,
                                       mlshift_head head, double r_cut, double *energy,
                                       double *forces, double *energies, double *virial,
                                       mlshift_error *err);
/* Energies (nf,) and forces (Σ N, 3) of frames f[0..nf) in one graph. */
mlshift_status ms_model_handle_batch(mlshift_model *mm, const mlshift_frame *f, size_t nf,
                                     mlshift_head head, double r_cut, double *energy,
                                     double *forces, mlshift_error *err);

#endif /* MLSHIFT_MODEL_HANDLE_H */
