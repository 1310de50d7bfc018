/* SPDX-License-Identifier: MIT */
/* The training-statistics reader without the file: what mlshift_stats_read
 * does after reading, for the fuzz harness and any caller that holds the
 * bytes. */
#ifndef MLSHIFT_STATS_H
#define MLSHIFT_STATS_H

#include "mlshift.h"

/* Parses the JSON text (len bytes, not necessarily NUL-terminated) of a
 * statistics file (docs/stats-format.md) into *st; path labels errors. On
 * failure *st holds nothing to free. */
mlshift_status ms_stats_parse(mlshift_train_stats *st, const char *text,
                              size_t len, const char *path, mlshift_error *err);

#endif /* MLSHIFT_STATS_H */
