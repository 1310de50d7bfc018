/* SPDX-License-Identifier: MIT */
/* STUB — to be replaced by the HDF5 reader. */
#include "../core/util.h"
mlshift_status mlshift_read_hdf5(mlshift_frames *fr, const char *path,
                                 const mlshift_read_options *opt, mlshift_error *err)
{ (void)fr; (void)opt; return ms_fail(err, MLSHIFT_ERR_UNSUPPORTED, "%s: hdf5 not built yet", path); }
