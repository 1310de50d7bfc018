/* SPDX-License-Identifier: MIT */
/* The per-format halves of the streaming reader (mlshift_reader_*,
 * stream.c): each appends the next frames of its file to a small set, so
 * frames, checks and messages are those of the whole-file readers. Not part
 * of the public API. */
#ifndef MLSHIFT_STREAM_H
#define MLSHIFT_STREAM_H

#include <stddef.h>

#include "mlshift.h"

/* Each: open; fill appends at most max_frames frames (at least one unless
 * the file is exhausted) to fr and sets *end once nothing is left; close.
 * opt is copied (its strings must outlive the stream). */
typedef struct ms_xyz_stream ms_xyz_stream;
mlshift_status ms_xyz_stream_open(ms_xyz_stream **s, const char *path,
                                  const mlshift_read_options *opt,
                                  mlshift_error *err);
mlshift_status ms_xyz_stream_fill(ms_xyz_stream *s, mlshift_frames *fr,
                                  size_t max_frames, int *end,
                                  mlshift_error *err);
void ms_xyz_stream_close(ms_xyz_stream *s);

/* npz: a file that cannot be mapped (a pipe) opens as *s NULL with
 * MLSHIFT_OK: the caller reads it whole. */
typedef struct ms_npz_stream ms_npz_stream;
mlshift_status ms_npz_stream_open(ms_npz_stream **s, const char *path,
                                  const mlshift_read_options *opt,
                                  mlshift_error *err);
mlshift_status ms_npz_stream_fill(ms_npz_stream *s, mlshift_frames *fr,
                                  size_t max_frames, int *end,
                                  mlshift_error *err);
void ms_npz_stream_close(ms_npz_stream *s);

typedef struct ms_h5_stream ms_h5_stream;
mlshift_status ms_h5_stream_open(ms_h5_stream **s, const char *path,
                                 const mlshift_read_options *opt,
                                 mlshift_error *err);
mlshift_status ms_h5_stream_fill(ms_h5_stream *s, mlshift_frames *fr,
                                 size_t max_frames, int *end,
                                 mlshift_error *err);
void ms_h5_stream_close(ms_h5_stream *s);

/* The format of path: opt->format, or by extension (read.c). */
mlshift_status ms_format_of(const char *path, const mlshift_read_options *opt,
                            mlshift_format *out, mlshift_error *err);

#endif /* MLSHIFT_STREAM_H */
