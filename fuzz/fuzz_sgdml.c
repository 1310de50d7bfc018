/* SPDX-License-Identifier: MIT */
/* libFuzzer harness: any bytes through the sGDML model reader, both kinds
 * (an sGDML .npz, or our own file); what loads is saved in our format and
 * must load again. Must never crash, leak or read out of bounds.
 * scripts/fuzz builds with the checksum comparisons off (MS_CHECKSUM_OK:
 * zip members' CRC-32, our file's FNV-1a), so mutations reach the body. */
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include "prior/sgdml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mlshift_error err;
    ms_sgdml_model mo;
    if (ms_sgdml_parse(&mo, data, size, "fuzz", &err) != MLSHIFT_OK)
        return 0;
    char path[64];
    snprintf(path, sizeof path, "/tmp/mlshift-fuzz-%ld.sgdml", (long)getpid());
    if (ms_sgdml_save(&mo, path, &err) == MLSHIFT_OK) {
        ms_sgdml_model back;
        if (ms_sgdml_load(&back, path, &err) != MLSHIFT_OK || back.n != mo.n ||
            back.m != mo.m || back.p != mo.p)
            __builtin_trap(); /* what we write we must read back */
        ms_sgdml_model_free(&back);
        remove(path);
    }
    ms_sgdml_model_free(&mo);
    return 0;
}
