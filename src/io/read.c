/* SPDX-License-Identifier: MIT */
/* mlshift_read: picks the reader by format or file extension. */
#include <string.h>
#include <strings.h>

#include "../core/util.h"

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

mlshift_status ms_format_of(const char *path, const mlshift_read_options *opt,
                            mlshift_format *out, mlshift_error *err)
{
    mlshift_format fmt = opt ? opt->format : MLSHIFT_FORMAT_AUTO;
    if (fmt == MLSHIFT_FORMAT_AUTO) {
        if (ends_with(path, ".npz"))
            fmt = MLSHIFT_FORMAT_NPZ;
        else if (ends_with(path, ".h5") || ends_with(path, ".hdf5") ||
                 ends_with(path, ".hdf"))
            fmt = MLSHIFT_FORMAT_HDF5;
        else if (ends_with(path, ".xyz") || ends_with(path, ".extxyz"))
            fmt = MLSHIFT_FORMAT_EXTXYZ;
        else
            return ms_fail(err, MLSHIFT_ERR_UNSUPPORTED,
                           "%s: unknown file type (expected .xyz, .extxyz, "
                           ".npz, .h5 or .hdf5; or name the format)", path);
    }
    if (fmt != MLSHIFT_FORMAT_NPZ && fmt != MLSHIFT_FORMAT_HDF5 &&
        fmt != MLSHIFT_FORMAT_EXTXYZ)
        return ms_fail(err, MLSHIFT_ERR_VALUE, "%s: unknown format %d", path,
                       (int)fmt);
    *out = fmt;
    return MLSHIFT_OK;
}

mlshift_status mlshift_read(mlshift_frames *fr, const char *path,
                            const mlshift_read_options *opt, mlshift_error *err)
{
    mlshift_format fmt;
    mlshift_status st = ms_format_of(path, opt, &fmt, err);
    if (st != MLSHIFT_OK)
        return st;
    switch (fmt) {
    case MLSHIFT_FORMAT_NPZ: return mlshift_read_npz(fr, path, opt, err);
    case MLSHIFT_FORMAT_HDF5: return mlshift_read_hdf5(fr, path, opt, err);
    default: return mlshift_read_extxyz(fr, path, opt, err);
    }
}
