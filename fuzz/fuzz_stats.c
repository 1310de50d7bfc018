/* SPDX-License-Identifier: MIT */
/* libFuzzer harness: any bytes through the training-statistics reader (the
 * JSON parser of src/io/json.c and the checks of src/shift/stats.c); what
 * parses is written back and must read back. Must never crash, leak or
 * read out of bounds. */
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include "mlshift.h"
#include "shift/stats.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mlshift_error err;
    mlshift_train_stats st;
    if (ms_stats_parse(&st, (const char *)data, size, "fuzz", &err) != MLSHIFT_OK)
        return 0;
    char path[64];
    snprintf(path, sizeof path, "/tmp/mlshift-fuzz-%ld.stats", (long)getpid());
    if (mlshift_stats_write(&st, path, &err) == MLSHIFT_OK) {
        mlshift_train_stats *back;
        if (mlshift_stats_read(path, &back, &err) != MLSHIFT_OK ||
            back->natoms_max != st.natoms_max ||
            back->n_compositions != st.n_compositions)
            __builtin_trap(); /* what we write we must read back */
        mlshift_stats_destroy(back);
        remove(path);
    }
    ms_stats_free(&st);
    return 0;
}
