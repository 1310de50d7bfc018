/* SPDX-License-Identifier: MIT */
/* libFuzzer harness: any bytes through the npz (zip + npy) reader, with both
 * label sets. Must never crash, leak or read out of bounds. */
#include <stdint.h>

#include "mlshift.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mlshift_error err;
    for (int old = 0; old < 2; old++) {
        mlshift_read_options opt = {0};
        opt.labels_old = old;
        mlshift_frames *fr = mlshift_frames_create();
        if (!fr)
            return 0;
        mlshift_parse_npz(fr, data, size, "fuzz", &opt, &err);
        mlshift_frames_destroy(fr);
    }
    return 0;
}
