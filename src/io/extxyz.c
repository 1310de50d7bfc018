/* SPDX-License-Identifier: MIT */
/* STUB — to be replaced by the extxyz reader/writer. */
#include "../core/util.h"
mlshift_status mlshift_read_extxyz(mlshift_frames *fr, const char *path,
                                   const mlshift_read_options *opt, mlshift_error *err)
{ (void)fr; (void)opt; return ms_fail(err, MLSHIFT_ERR_UNSUPPORTED, "%s: extxyz not built yet", path); }
mlshift_status mlshift_parse_extxyz(mlshift_frames *fr, const char *text, size_t len, const char *name,
                                    const mlshift_read_options *opt, mlshift_error *err)
{ (void)fr; (void)text; (void)len; (void)opt; return ms_fail(err, MLSHIFT_ERR_UNSUPPORTED, "%s: extxyz not built yet", name); }
mlshift_status mlshift_write_extxyz(const mlshift_frames *fr, const char *path,
                                    const mlshift_write_options *opt, mlshift_error *err)
{ (void)fr; (void)opt; return ms_fail(err, MLSHIFT_ERR_UNSUPPORTED, "%s: extxyz not built yet", path); }
