/* SPDX-License-Identifier: MIT */
/* libFuzzer harness: any bytes through the extxyz parser, then (if it
 * parsed) through the writer. Must never crash, leak or read out of bounds. */
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include "mlshift.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mlshift_error err;
    mlshift_frames *fr = mlshift_frames_create();
    if (!fr)
        return 0;
    if (mlshift_parse_extxyz(fr, (const char *)data, size, "fuzz", NULL, &err) ==
            MLSHIFT_OK &&
        mlshift_frames_count(fr) > 0) {
        char path[64];
        snprintf(path, sizeof path, "/tmp/mlshift-fuzz-%ld.extxyz", (long)getpid());
        if (mlshift_write_extxyz(fr, path, NULL, &err) == MLSHIFT_OK) {
            mlshift_frames *back = mlshift_frames_create();
            if (back && mlshift_read_extxyz(back, path, NULL, &err) == MLSHIFT_OK &&
                mlshift_frames_count(back) != mlshift_frames_count(fr))
                __builtin_trap(); /* what we write we must read back */
            mlshift_frames_destroy(back);
            remove(path);
        }
    }
    mlshift_frames_destroy(fr);
    return 0;
}
