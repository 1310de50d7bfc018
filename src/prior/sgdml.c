/* SPDX-License-Identifier: MIT */
/* STUB — the sgdml prior is being written. */
#include "../core/util.h"
#include "prior.h"

mlshift_status ms_prior_sgdml_create(const char *args, mlshift_prior *p,
                                    mlshift_error *err)
{
    (void)args;
    (void)p;
    return ms_fail(err, MLSHIFT_ERR_UNSUPPORTED, "prior sgdml: not built yet");
}
