/* SPDX-License-Identifier: MIT */
/* STUB — to be replaced by the npz reader. */
#include "../core/util.h"
mlshift_status mlshift_read_npz(mlshift_frames *fr, const char *path,
                                const mlshift_read_options *opt, mlshift_error *err)
{ (void)fr; (void)opt; return ms_fail(err, MLSHIFT_ERR_UNSUPPORTED, "%s: npz not built yet", path); }
mlshift_status mlshift_parse_npz(mlshift_frames *fr, const unsigned char *data, size_t len, const char *name,
                                 const mlshift_read_options *opt, mlshift_error *err)
{ (void)fr; (void)data; (void)len; (void)opt; return ms_fail(err, MLSHIFT_ERR_UNSUPPORTED, "%s: npz not built yet", name); }
