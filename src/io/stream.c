/* SPDX-License-Identifier: MIT */
/* The streaming frame reader (mlshift_reader_*): frames one at a time with
 * memory bounded by a chunk, not by the file. Each format's half
 * (extxyz_read.c, npz.c, hdf5.c) appends its next frames to a small set
 * with the same parsing, checks and messages as the whole-file reader; the
 * set is emptied and refilled as frames are handed out, so the storage it
 * grew to is reused. */
#include <stdlib.h>
#include <string.h>

#include "../core/util.h"
#include "frames.h"
#include "stream.h"

/* Frames per refill: large enough that the per-chunk work (a page release,
 * a set reset) is noise, small enough to stay in a few hundred kB for
 * molecules. HDF5 refills by one molecule group. */
enum { CHUNK = 256 };

struct mlshift_reader {
    mlshift_format fmt;
    ms_xyz_stream *xyz;
    ms_npz_stream *npz;
    ms_h5_stream *h5;
    mlshift_frames *batch;   /* frames read, handed out from pos on */
    size_t pos;
    size_t count;            /* frames handed out */
    int end;                 /* nothing left to read into batch */
    mlshift_status pending;  /* an error met after the frames in batch */
    mlshift_error pending_err;
    mlshift_read_options opt;
};

mlshift_status mlshift_reader_open(const char *path,
                                   const mlshift_read_options *opt,
                                   mlshift_reader **out, mlshift_error *err)
{
    *out = NULL;
    if (!path)
        return ms_fail(err, MLSHIFT_ERR_VALUE, "reader: no path");
    mlshift_format fmt;
    mlshift_status st = ms_format_of(path, opt, &fmt, err);
    if (st != MLSHIFT_OK)
        return st;
    mlshift_reader *r = calloc(1, sizeof *r);
    if (!r || !(r->batch = mlshift_frames_create())) {
        free(r);
        return ms_fail(err, MLSHIFT_ERR_NOMEM, "%s: out of memory", path);
    }
    r->fmt = fmt;
    if (opt)
        r->opt = *opt;
    const mlshift_read_options *o = opt ? &r->opt : NULL;
    if (fmt == MLSHIFT_FORMAT_EXTXYZ)
        st = ms_xyz_stream_open(&r->xyz, path, o, err);
    else if (fmt == MLSHIFT_FORMAT_HDF5)
        st = ms_h5_stream_open(&r->h5, path, o, err);
    else if ((st = ms_npz_stream_open(&r->npz, path, o, err)) == MLSHIFT_OK &&
             !r->npz) {
        /* Not mappable (a pipe): read whole, then hand out. */
        st = mlshift_read_npz(r->batch, path, o, err);
        r->end = 1;
    }
    if (st != MLSHIFT_OK) {
        mlshift_reader_close(r);
        return st;
    }
    *out = r;
    return MLSHIFT_OK;
}

mlshift_status mlshift_reader_next(mlshift_reader *r, mlshift_frame *f,
                                   int *got, mlshift_error *err)
{
    *got = 0;
    while (r->pos >= mlshift_frames_count(r->batch)) {
        if (r->pending != MLSHIFT_OK) {
            if (err)
                *err = r->pending_err;
            return r->pending;
        }
        if (r->end)
            return MLSHIFT_OK;
        ms_frames_truncate(r->batch, 0);
        r->pos = 0;
        mlshift_error *e = &r->pending_err;
        mlshift_status st =
            r->xyz  ? ms_xyz_stream_fill(r->xyz, r->batch, CHUNK, &r->end, e)
            : r->h5 ? ms_h5_stream_fill(r->h5, r->batch, CHUNK, &r->end, e)
                    : ms_npz_stream_fill(r->npz, r->batch, CHUNK, &r->end, e);
        if (st != MLSHIFT_OK) {
            /* The frames read before the error are whole and checked: hand
             * them out first, then the error. */
            r->pending = st;
            r->pending_err.status = st;
            r->end = 1;
        }
    }
    mlshift_frames_get(r->batch, r->pos++, f);
    r->count++;
    *got = 1;
    return MLSHIFT_OK;
}

size_t mlshift_reader_count(const mlshift_reader *r)
{
    return r ? r->count : 0;
}

void mlshift_reader_close(mlshift_reader *r)
{
    if (!r)
        return;
    ms_xyz_stream_close(r->xyz);
    ms_npz_stream_close(r->npz);
    ms_h5_stream_close(r->h5);
    mlshift_frames_destroy(r->batch);
    free(r);
}
