/* SPDX-License-Identifier: MIT */
/* libFuzzer harness: any bytes through the model-file parser; what parses
 * is written back and must parse again to the same bytes. Must never
 * crash, leak or read out of bounds. scripts/fuzz builds with the checksum
 * comparison off (MS_CHECKSUM_OK), so mutations reach the body. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mlshift_error err;
    ms_model *m = NULL;
    if (ms_model_parse(&m, data, size, "fuzz", &err) != MLSHIFT_OK)
        return 0;
    unsigned char *buf = NULL;
    size_t len = 0;
    if (ms_model_serialize(m, &buf, &len, &err) == MLSHIFT_OK) {
        ms_model *back = NULL;
        if (ms_model_parse(&back, buf, len, "fuzz (written back)", &err) != MLSHIFT_OK)
            __builtin_trap(); /* what we write we must read back */
        unsigned char *buf2 = NULL;
        size_t len2 = 0;
        if (ms_model_serialize(back, &buf2, &len2, &err) != MLSHIFT_OK || len2 != len ||
            memcmp(buf, buf2, len) != 0)
            __builtin_trap(); /* and it must read back as the same model */
        free(buf2);
        ms_model_destroy(back);
        free(buf);
    }
    ms_model_destroy(m);
    return 0;
}
