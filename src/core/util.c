/* SPDX-License-Identifier: MIT */
/* Errors, whole-file reads, atomic writes and growable arrays. */
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
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
    struct stat sb;
    int have = fstat(fileno(fp), &sb) == 0;
    if (have && S_ISDIR(sb.st_mode)) {
        fclose(fp);
        return ms_fail(err, MLSHIFT_ERR_IO, "%s: read error: %s", path,
                       strerror(EISDIR));
    }
    size_t cap = 1 << 16, n = 0;
    /* Size hint for a regular file only (a directory's or device's ftell
     * is meaningless); still read until EOF (pipes, growing files). */
    if (have && S_ISREG(sb.st_mode) && sb.st_size > 0 &&
        (unsigned long long)sb.st_size < (unsigned long long)SIZE_MAX - 1 &&
        (size_t)sb.st_size + 1 > cap)
        cap = (size_t)sb.st_size + 1;
    char *buf = malloc(cap);
    if (!buf && cap > (1 << 16))
        buf = malloc(cap = 1 << 16);
    if (!buf) {
        fclose(fp);
        return ms_fail(err, MLSHIFT_ERR_NOMEM, "%s: out of memory", path);
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
    int bad = ferror(fp), e = errno;
    fclose(fp);
    if (bad) {
        free(buf);
        return ms_fail(err, MLSHIFT_ERR_IO, "%s: read error: %s", path, strerror(e));
    }
    buf[n] = '\0';
    *data = buf;
    *len = n;
    return MLSHIFT_OK;
}

/* Live temporaries, for mlshift_remove_temporaries: lock-free atomic
 * pointers to malloc'ed names, so a signal handler may read them while the
 * program adds or drops one (it unlinks, then the program frees). */
#define MS_MAX_TEMPS 256
static _Atomic(char *) live_tmp[MS_MAX_TEMPS];

static void tmp_register(char *name)
{
    for (int i = 0; i < MS_MAX_TEMPS; i++) {
        char *expect = NULL;
        if (atomic_compare_exchange_strong(&live_tmp[i], &expect, name))
            return;
    }
    /* Full: still written and renamed, just not removed on a signal. */
}

static void tmp_unregister(char *name)
{
    for (int i = 0; i < MS_MAX_TEMPS; i++) {
        char *expect = name;
        if (atomic_compare_exchange_strong(&live_tmp[i], &expect, NULL))
            return;
    }
}

void mlshift_remove_temporaries(void)
{
    for (int i = 0; i < MS_MAX_TEMPS; i++) {
        char *p = atomic_load(&live_tmp[i]);
        if (p)
            unlink(p);
    }
}

/* Outputs held back between mlshift_outputs_begin and commit/discard. */
typedef struct staged_file {
    char *tmp, *path;
} staged_file;
static _Thread_local struct {
    int on;
    staged_file *f;
    size_t n, cap;
} staged;

void mlshift_outputs_begin(void)
{
    mlshift_outputs_discard();
    staged.on = 1;
}

static void staged_free(void)
{
    free(staged.f);
    staged.f = NULL;
    staged.n = staged.cap = 0;
    staged.on = 0;
}

void mlshift_outputs_discard(void)
{
    for (size_t k = 0; k < staged.n; k++) {
        unlink(staged.f[k].tmp);
        tmp_unregister(staged.f[k].tmp);
        free(staged.f[k].tmp);
        free(staged.f[k].path);
    }
    staged_free();
}

mlshift_status mlshift_outputs_commit(mlshift_error *err)
{
    mlshift_status st = MLSHIFT_OK;
    for (size_t k = 0; k < staged.n; k++) {
        staged_file *f = &staged.f[k];
        if (st == MLSHIFT_OK && rename(f->tmp, f->path) != 0)
            st = ms_fail(err, MLSHIFT_ERR_IO, "%s: cannot rename into place: %s",
                         f->path, strerror(errno));
        if (st != MLSHIFT_OK)
            unlink(f->tmp);
        tmp_unregister(f->tmp);
        free(f->tmp);
        free(f->path);
    }
    staged_free();
    return st;
}

/* The file a write to `path` lands in: symbolic links followed, also a
 * dangling one (its target is created). */
static mlshift_status real_path(const char *path, char *out, size_t cap,
                                mlshift_error *err)
{
    char cur[4096], link[4096];
    if (strlen(path) >= sizeof cur)
        return ms_fail(err, MLSHIFT_ERR_VALUE, "%s: path too long", path);
    strcpy(cur, path);
    for (int hops = 0;; hops++) {
        struct stat ls;
        if (lstat(cur, &ls) != 0 || !S_ISLNK(ls.st_mode))
            break;
        if (hops == 40)
            return ms_fail(err, MLSHIFT_ERR_IO, "%s: too many symbolic links", path);
        ssize_t n = readlink(cur, link, sizeof link - 1);
        if (n < 0)
            return ms_fail(err, MLSHIFT_ERR_IO, "%s: cannot read link: %s", path,
                           strerror(errno));
        link[n] = '\0';
        if (link[0] == '/') {
            strcpy(cur, link);
        } else { /* relative to the link's directory */
            char *slash = strrchr(cur, '/');
            size_t dl = slash ? (size_t)(slash - cur) + 1 : 0;
            if (dl + (size_t)n >= sizeof cur)
                return ms_fail(err, MLSHIFT_ERR_VALUE, "%s: path too long", path);
            memcpy(cur + dl, link, (size_t)n + 1);
        }
    }
    if (strlen(cur) >= cap)
        return ms_fail(err, MLSHIFT_ERR_VALUE, "%s: path too long", path);
    strcpy(out, cur);
    return MLSHIFT_OK;
}

mlshift_status ms_atomic_open(ms_atomic_file *af, const char *path,
                              mlshift_error *err)
{
    memset(af, 0, sizeof *af);
    mlshift_status st = real_path(path, af->path, sizeof af->path, err);
    if (st != MLSHIFT_OK)
        return st;
    struct stat sb;
    int exists = stat(af->path, &sb) == 0;
    if (exists && S_ISDIR(sb.st_mode))
        return ms_fail(err, MLSHIFT_ERR_IO, "%s: is a directory", path);
    if (exists && !S_ISREG(sb.st_mode)) {
        /* A FIFO, a device, a socket: write into it, never replace it. */
        af->direct = 1;
        af->fp = fopen(af->path, "wb");
        if (!af->fp)
            return ms_fail(err, MLSHIFT_ERR_IO, "%s: cannot open: %s", path,
                           strerror(errno));
        return MLSHIFT_OK;
    }
    /* Registered before it exists, so no signal finds it unregistered. */
    int fd = -1;
    for (int k = 0; k < 100 && fd < 0; k++) {
        if (k == 0)
            snprintf(af->tmp, sizeof af->tmp, "%s.tmp.%ld", af->path, (long)getpid());
        else
            snprintf(af->tmp, sizeof af->tmp, "%s.tmp.%ld.%d", af->path,
                     (long)getpid(), k);
        af->reg = malloc(strlen(af->tmp) + 1);
        if (!af->reg)
            return ms_fail(err, MLSHIFT_ERR_NOMEM, "%s: out of memory", path);
        strcpy(af->reg, af->tmp);
        tmp_register(af->reg);
        fd = open(af->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
                  exists ? 0600 : 0666);
        int e = errno;
        if (fd < 0) {
            tmp_unregister(af->reg);
            free(af->reg);
            af->reg = NULL;
        }
        errno = e;
        if (fd < 0 && errno != EEXIST)
            break;
    }
    if (fd < 0) {
        int e = errno;
        af->tmp[0] = '\0';
        return ms_fail(err, MLSHIFT_ERR_IO, "%s: cannot create %s.tmp.%ld: %s",
                       path, af->path, (long)getpid(), strerror(e));
    }
    if (exists) { /* the replaced file's permissions and, where allowed, owner */
        if (fchmod(fd, sb.st_mode & 07777) != 0) {
        }
        if ((sb.st_uid != geteuid() || sb.st_gid != getegid()) &&
            fchown(fd, sb.st_uid, sb.st_gid) != 0) {
        }
    }
    af->fp = fdopen(fd, "wb");
    if (!af->fp) {
        int e = errno;
        close(fd);
        ms_atomic_abort(af);
        return ms_fail(err, MLSHIFT_ERR_IO, "%s: %s", path, strerror(e));
    }
    return MLSHIFT_OK;
}

mlshift_status ms_atomic_commit(ms_atomic_file *af, mlshift_error *err)
{
    errno = 0;
    int bad = fflush(af->fp) != 0 || ferror(af->fp);
    int e = errno;
    if (fclose(af->fp) != 0 && !bad) {
        bad = 1;
        e = errno;
    }
    af->fp = NULL;
    if (bad) {
        ms_atomic_abort(af);
        return ms_fail(err, MLSHIFT_ERR_IO, "%s: write failed%s%s", af->path,
                       e ? ": " : "", e ? strerror(e) : "");
    }
    if (af->direct)
        return MLSHIFT_OK;
    if (staged.on && af->reg) {
        if (ms_grow((void **)&staged.f, &staged.cap, staged.n + 1, sizeof *staged.f) == 0) {
            char *path = malloc(strlen(af->path) + 1);
            if (path) {
                strcpy(path, af->path);
                staged.f[staged.n++] = (staged_file){af->reg, path};
                af->reg = NULL; /* still registered: now the stage's */
                af->tmp[0] = '\0';
                return MLSHIFT_OK;
            }
        }
        ms_atomic_abort(af);
        return ms_fail(err, MLSHIFT_ERR_NOMEM, "%s: out of memory", af->path);
    }
    if (rename(af->tmp, af->path) != 0) {
        e = errno;
        ms_atomic_abort(af);
        return ms_fail(err, MLSHIFT_ERR_IO, "%s: cannot rename into place: %s",
                       af->path, strerror(e));
    }
    if (af->reg) {
        tmp_unregister(af->reg);
        free(af->reg);
        af->reg = NULL;
    }
    return MLSHIFT_OK;
}

void ms_atomic_abort(ms_atomic_file *af)
{
    if (af->fp)
        fclose(af->fp);
    af->fp = NULL;
    if (af->tmp[0])
        unlink(af->tmp);
    af->tmp[0] = '\0';
    if (af->reg) {
        tmp_unregister(af->reg);
        free(af->reg);
        af->reg = NULL;
    }
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
