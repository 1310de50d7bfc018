/* SPDX-License-Identifier: MIT */
/* Errors, whole-file reads, atomic writes and growable arrays. */
#include "util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

const char *mlshift_status_string(mlshift_status s)
{
    switch (s) {
    case MLSHIFT_OK: return "ok";
    case MLSHIFT_ERR_IO: return "i/o error";
    case MLSHIFT_ERR_FORMAT: return "malformed input";
    case MLSHIFT_ERR_VALUE: return "invalid value";
    case MLSHIFT_ERR_MISSING: return "missing field";
    case MLSHIFT_ERR_NOMEM: return "out of memory";
    case MLSHIFT_ERR_UNSUPPORTED: return "unsupported";
    }
    return "unknown status";
}

mlshift_status ms_fail(mlshift_error *err, mlshift_status s, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
        err->status = s;
    }
    return s;
}

mlshift_status ms_read_file(const char *path, char **data, size_t *len,
                            mlshift_error *err)
{
    *data = NULL;
    *len = 0;
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return ms_fail(err, MLSHIFT_ERR_IO, "%s: cannot open: %s", path,
                       strerror(errno));
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    if (!buf) {
        fclose(fp);
        return ms_fail(err, MLSHIFT_ERR_NOMEM, "%s: out of memory", path);
    }
    /* Size hint from seeking; still read until EOF (pipes, growing files). */
    if (fseek(fp, 0, SEEK_END) == 0) {
        long sz = ftell(fp);
        if (sz > 0 && (size_t)sz + 1 > cap) {
            char *nb = realloc(buf, (size_t)sz + 1);
            if (nb) {
                buf = nb;
                cap = (size_t)sz + 1;
            }
        }
        rewind(fp);
    }
    for (;;) {
        if (n + 1 >= cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                fclose(fp);
                return ms_fail(err, MLSHIFT_ERR_NOMEM, "%s: out of memory", path);
            }
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - 1 - n, fp);
        n += got;
        if (got == 0)
            break;
    }
    int bad = ferror(fp);
    fclose(fp);
    if (bad) {
        free(buf);
        return ms_fail(err, MLSHIFT_ERR_IO, "%s: read error", path);
    }
    buf[n] = '\0';
    *data = buf;
    *len = n;
    return MLSHIFT_OK;
}

mlshift_status ms_atomic_open(ms_atomic_file *af, const char *path,
                              mlshift_error *err)
{
    memset(af, 0, sizeof *af);
    if (strlen(path) >= sizeof af->path)
        return ms_fail(err, MLSHIFT_ERR_VALUE, "%s: path too long", path);
    strcpy(af->path, path);
    snprintf(af->tmp, sizeof af->tmp, "%s.tmp.%ld", path, (long)getpid());
    af->fp = fopen(af->tmp, "wb");
    if (!af->fp)
        return ms_fail(err, MLSHIFT_ERR_IO, "%s: cannot create: %s", af->tmp,
                       strerror(errno));
    return MLSHIFT_OK;
}

mlshift_status ms_atomic_commit(ms_atomic_file *af, mlshift_error *err)
{
    int bad = fflush(af->fp) != 0 || ferror(af->fp);
    bad |= fclose(af->fp) != 0;
    af->fp = NULL;
    if (bad) {
        remove(af->tmp);
        return ms_fail(err, MLSHIFT_ERR_IO, "%s: write failed", af->path);
    }
    if (rename(af->tmp, af->path) != 0) {
        int e = errno;
        remove(af->tmp);
        return ms_fail(err, MLSHIFT_ERR_IO, "%s: cannot rename into place: %s",
                       af->path, strerror(e));
    }
    return MLSHIFT_OK;
}

void ms_atomic_abort(ms_atomic_file *af)
{
    if (af->fp)
        fclose(af->fp);
    af->fp = NULL;
    if (af->tmp[0])
        remove(af->tmp);
}

int ms_grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t nc = *cap ? *cap : 16;
    while (nc < need)
        nc *= 2;
    void *np = realloc(*p, nc * elem);
    if (!np)
        return -1;
    *p = np;
    *cap = nc;
    return 0;
}

double ms_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}
