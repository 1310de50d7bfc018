/* SPDX-License-Identifier: MIT */
/* The "xtb" prior: GFN2-xTB, GFN1-xTB and GFN-FF through libxtb's C API
 * (xtb.h, libxtb 6.5). Spec: "xtb" | "xtb:gfn2" | "xtb:gfn1" | "xtb:gfnff",
 * optionally followed by ",charge=Q,uhf=U" (integers, default 0).
 *
 * Units: libxtb works in bohr and hartree and returns the gradient, so
 *     x_bohr = x_Å / a0,  E_eV = E_Eh · Eh,  F_eV/Å = −(∂E/∂x)_Eh/bohr · Eh / a0
 * with a0 = MLSHIFT_ANGSTROM_PER_BOHR and Eh = MLSHIFT_EV_PER_HARTREE.
 * Molecules only: periodic frames are refused by the interface (no
 * MLSHIFT_PRIOR_PERIODIC / _VIRIAL capability).
 *
 * Electrons: n_el = Σ Z − charge. n_el − uhf must be even and 0 <= uhf <=
 * n_el (libxtb silently accepts an odd count with uhf = 0).
 *
 * Reuse: a prior's molecule, calculator and results objects live as long
 * as the frames have the same atoms (same Z list; charge and uhf are fixed
 * per prior); a new frame then only updates the coordinates
 * (xtb_updateMolecule) and the SCC restarts from the previous density,
 * which lives in the results object. Another Z list, or a failed call,
 * drops the objects and the next call rebuilds them.
 *
 * Quiet: one process-wide environment, verbosity muted and output bound to
 * /dev/null (GFN-FF prints its topology otherwise, whatever the verbosity);
 * see env below for why there is only one, and the lock that serialises
 * all libxtb calls of the process.
 *
 * Files: loading a calculator looks for parameter files in the working
 * directory, and GFN-FF reads ".CHRG" from it and writes "gfnff_topo" and
 * "gfnff_adjacency" into it. libxtb 6.5 has no option against that, so the
 * calculator is loaded inside a private temporary directory (mkdtemp): the
 * process's working directory is changed for the duration of that call only
 * (it is process-wide state: another thread resolving relative paths at that
 * moment would see the temporary directory), restored by file descriptor
 * on every path, and the directory is emptied and removed. The single points
 * themselves write nothing.
 *
 * Threads: libxtb parallelises with OpenMP (and calls OpenBLAS). When the
 * environment sets neither OMP_NUM_THREADS nor OPENBLAS_NUM_THREADS, each
 * call runs on one thread: the thread counts are set to 1 around it and
 * restored after. Otherwise the environment decides. */
#define _GNU_SOURCE /* RTLD_NOLOAD, O_PATH */
#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xtb.h>

#include "../core/util.h"
#include "prior.h"

/* OpenBLAS (on the link line through -lopenblas). */
void openblas_set_num_threads(int n);
int openblas_get_num_threads(void);

enum { GFN2, GFN1, GFNFF };
static const char *method_name[] = {"GFN2-xTB", "GFN1-xTB", "GFN-FF"};
#define XTB_MAX_Z 86 /* GFN2, GFN1 and GFN-FF cover H..Rn */

typedef struct xtb_prior {
    char spec[512];            /* for messages */
    int method;                /* GFN2, GFN1, GFNFF */
    double charge;             /* e */
    int uhf;                   /* unpaired electrons */
    double acc;                /* libxtb accuracy (1 = its default), gfn1/2 */
    /* libxtb objects, all NULL when there is no current molecule */
    xtb_TMolecule mol;
    xtb_TCalculator calc;
    xtb_TResults res;
    size_t n;                  /* N atoms of the current molecule (0: none) */
    size_t cap;                /* atoms allocated below */
    int *numbers;              /* (cap,) Z of the current molecule */
    double *xyz;               /* (cap, 3) bohr */
    double *grad;              /* (cap, 3) Eh/bohr */
    /* one thread unless the environment says otherwise */
    int one_thread;
    void (*omp_set)(int);
    int (*omp_get)(void);
} xtb_prior;

/* ------------------------------------------------------------ threads */

static void find_omp(xtb_prior *s)
{
    void *h = dlopen("libgomp.so.1", RTLD_LAZY | RTLD_NOLOAD);
    if (!h)
        return;
    void *set = dlsym(h, "omp_set_num_threads");
    void *get = dlsym(h, "omp_get_max_threads");
    if (set && get) {
        memcpy(&s->omp_set, &set, sizeof s->omp_set);
        memcpy(&s->omp_get, &get, sizeof s->omp_get);
    }
    dlclose(h); /* libxtb keeps it loaded */
}

typedef struct thread_state {
    int omp, blas;
} thread_state;

static thread_state threads_enter(const xtb_prior *s)
{
    thread_state t = {0, 0};
    if (!s->one_thread)
        return t;
    if (s->omp_get) {
        t.omp = s->omp_get();
        s->omp_set(1);
    }
    t.blas = openblas_get_num_threads();
    if (t.blas != 1)
        openblas_set_num_threads(1);
    return t;
}

static void threads_leave(const xtb_prior *s, thread_state t)
{
    if (!s->one_thread)
        return;
    if (s->omp_get && t.omp > 0)
        s->omp_set(t.omp);
    if (t.blas > 1)
        openblas_set_num_threads(t.blas);
}

/* ----------------------------------------------------- libxtb objects */

/* Frees the libxtb objects of s (lock held). */
static void drop_objects(xtb_prior *s)
{
    if (s->res)
        xtb_delResults(&s->res);
    if (s->calc)
        xtb_delCalculator(&s->calc);
    if (s->mol)
        xtb_delMolecule(&s->mol);
    s->res = NULL;
    s->calc = NULL;
    s->mol = NULL;
    s->n = 0;
}

/* libxtb's error stack as one line into buf (emptying the stack). */
static void xtb_message(xtb_TEnvironment e, char *buf, size_t cap)
{
    memset(buf, 0, cap);
    int len = (int)cap - 1;
    xtb_getError(e, buf, &len);
    buf[cap - 1] = 0;
    /* the copy is not always terminated: keep printable text only */
    size_t k = 0;
    for (size_t i = 0; buf[i]; i++) {
        unsigned char c = (unsigned char)buf[i];
        if (c == '\n' || c == '\r' || c == '\t')
            c = ' ';
        if (c < 32 || c > 126)
            break;
        if (c == ' ' && (k == 0 || buf[k - 1] == ' '))
            continue;
        buf[k++] = (char)c;
    }
    while (k > 0 && buf[k - 1] == ' ')
        k--;
    buf[k] = 0;
    if (k == 0)
        snprintf(buf, cap, "no message from libxtb");
}

/* One libxtb environment for the whole process, created on first use and
 * never freed, and a lock around every use of libxtb. One environment,
 * because libxtb 6.5 never closes the unit that xtb_setOutput opens
 * (xtb_releaseOutput skips files), and the Fortran runtime refuses to open
 * /dev/null in a second unit: a second environment could not be silenced.
 * The lock, because the environment (its error stack), the working
 * directory change around calculator loading and libxtb's own module
 * variables are shared by all priors. */
static pthread_mutex_t env_lock = PTHREAD_MUTEX_INITIALIZER;
static xtb_TEnvironment env;

/* Creates the shared environment if there is none yet (lock held). */
static mlshift_status open_env(const xtb_prior *s, mlshift_error *err)
{
    if (env)
        return MLSHIFT_OK;
    xtb_TEnvironment e = xtb_newEnvironment();
    if (!e)
        return ms_fail(err, MLSHIFT_ERR_NOMEM, "prior %s: libxtb cannot "
                       "create an environment", s->spec);
    xtb_setVerbosity(e, XTB_VERBOSITY_MUTED);
    xtb_setOutput(e, "/dev/null");
    if (xtb_checkEnvironment(e)) {
        char msg[800];
        xtb_message(e, msg, sizeof msg);
        xtb_delEnvironment(&e);
        return ms_fail(err, MLSHIFT_ERR_IO, "prior %s: cannot send libxtb's "
                       "output to /dev/null: %s", s->spec, msg);
    }
    env = e;
    return MLSHIFT_OK;
}

/* drop_objects from outside the lock. */
static void drop_unlocked(xtb_prior *s)
{
    pthread_mutex_lock(&env_lock);
    drop_objects(s);
    pthread_mutex_unlock(&env_lock);
}

/* Empties and removes the directory `dir` (flat: libxtb writes only files). */
static void remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        int fd = dirfd(d);
        struct dirent *e;
        while ((e = readdir(d)))
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
                unlinkat(fd, e->d_name, 0);
        closedir(d);
    }
    rmdir(dir);
}

/* Loads the calculator of s->method for s->mol inside a private temporary
 * working directory (see the header), restoring the working directory. */
static mlshift_status load_calculator(xtb_prior *s, mlshift_error *err)
{
#ifdef O_PATH
    int cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
#else
    int cwd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
#endif
    if (cwd < 0)
        return ms_fail(err, MLSHIFT_ERR_IO, "prior %s: cannot open the working "
                       "directory to come back to", s->spec);
    const char *tmp = getenv("TMPDIR");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/mlshift-xtb-XXXXXX",
             tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        close(cwd);
        return ms_fail(err, MLSHIFT_ERR_IO, "prior %s: cannot create a "
                       "temporary directory %s for libxtb's files", s->spec,
                       dir);
    }
    if (chdir(dir) != 0) {
        rmdir(dir);
        close(cwd);
        return ms_fail(err, MLSHIFT_ERR_IO, "prior %s: cannot enter %s",
                       s->spec, dir);
    }
    if (s->method == GFN2)
        xtb_loadGFN2xTB(env, s->mol, s->calc, NULL);
    else if (s->method == GFN1)
        xtb_loadGFN1xTB(env, s->mol, s->calc, NULL);
    else
        xtb_loadGFNFF(env, s->mol, s->calc, NULL);
    int back = fchdir(cwd);
    close(cwd);
    remove_dir(dir);
    if (back != 0)
        return ms_fail(err, MLSHIFT_ERR_IO, "prior %s: cannot return to the "
                       "working directory after loading %s", s->spec,
                       method_name[s->method]);
    if (s->acc != 1.0 && !xtb_checkEnvironment(env))
        xtb_setAccuracy(env, s->calc, s->acc);
    if (xtb_checkEnvironment(env)) {
        char msg[800];
        xtb_message(env, msg, sizeof msg);
        return ms_fail(err, MLSHIFT_ERR_VALUE, "prior %s: libxtb cannot set "
                       "up %s for this structure: %s", s->spec,
                       method_name[s->method], msg);
    }
    return MLSHIFT_OK;
}

/* New molecule, calculator and results for the N atoms in s->numbers and
 * s->xyz. */
static mlshift_status build_objects(xtb_prior *s, size_t n, mlshift_error *err)
{
    drop_objects(s);
    s->calc = xtb_newCalculator();
    s->res = xtb_newResults();
    if (!s->calc || !s->res) {
        drop_objects(s);
        return ms_fail(err, MLSHIFT_ERR_NOMEM, "prior %s: libxtb cannot "
                       "allocate its objects", s->spec);
    }
    int natoms = (int)n;
    s->mol = xtb_newMolecule(env, &natoms, s->numbers, s->xyz, &s->charge,
                             &s->uhf, NULL, NULL);
    if (xtb_checkEnvironment(env) || !s->mol) {
        char msg[800];
        xtb_message(env, msg, sizeof msg);
        drop_objects(s);
        return ms_fail(err, MLSHIFT_ERR_VALUE, "prior %s: libxtb rejects the "
                       "structure (%zu atoms; two atoms at the same place?): "
                       "%s", s->spec, n, msg);
    }
    mlshift_status st = load_calculator(s, err);
    if (st != MLSHIFT_OK) {
        drop_objects(s);
        return st;
    }
    s->n = n;
    return MLSHIFT_OK;
}

/* ------------------------------------------------------------ compute */

/* Elements, electron count and the parity rule against charge and uhf. */
static mlshift_status check_frame(const xtb_prior *s, const mlshift_frame *f,
                                  mlshift_error *err)
{
    long zsum = 0;
    for (size_t i = 0; i < f->natoms; i++) {
        int z = f->numbers[i];
        if (z < 1 || z > XTB_MAX_Z) {
            const char *sym = mlshift_element_symbol(z);
            return ms_fail(err, MLSHIFT_ERR_UNSUPPORTED, "prior %s: atom %zu: "
                           "element %s (Z = %d) is not covered by %s (H to Rn, "
                           "Z 1-86)", s->spec, i, sym ? sym : "?", z,
                           method_name[s->method]);
        }
        zsum += z;
    }
    long nel = zsum - lround(s->charge);
    if (nel < 0)
        return ms_fail(err, MLSHIFT_ERR_VALUE, "prior %s: charge %g leaves %ld "
                       "electrons (sum of Z = %ld)", s->spec, s->charge, nel,
                       zsum);
    if (s->uhf > nel)
        return ms_fail(err, MLSHIFT_ERR_VALUE, "prior %s: uhf = %d unpaired "
                       "electrons but only %ld electrons (sum of Z = %ld, "
                       "charge %g)", s->spec, s->uhf, nel, zsum, s->charge);
    if ((nel - s->uhf) % 2 != 0)
        return ms_fail(err, MLSHIFT_ERR_VALUE, "prior %s: %ld electrons (sum of "
                       "Z = %ld, charge %g) is %s but uhf = %d: the number of "
                       "unpaired electrons must be %s (set uhf=%d or change "
                       "the charge)", s->spec, nel, zsum, s->charge,
                       nel % 2 ? "odd" : "even", s->uhf,
                       nel % 2 ? "odd" : "even",
                       s->uhf == 0 ? 1 : s->uhf - 1);
    return MLSHIFT_OK;
}

/* The libxtb part of a call, with the lock held: update or rebuild, single
 * point, energy (Eh) and, if grad, the gradient (N, 3) Eh/bohr into s->grad.
 * Any failure drops the objects so that the next call starts afresh. */
static mlshift_status run_locked(xtb_prior *s, const mlshift_frame *f,
                                 int same, int grad, double *e_eh,
                                 mlshift_error *err)
{
    mlshift_status st = open_env(s, err);
    if (st != MLSHIFT_OK)
        return st;
    char msg[800];
    if (same) {
        xtb_updateMolecule(env, s->mol, s->xyz, NULL);
        if (xtb_checkEnvironment(env)) {
            xtb_message(env, msg, sizeof msg);
            drop_objects(s);
            return ms_fail(err, MLSHIFT_ERR_VALUE, "prior %s: libxtb rejects "
                           "the new coordinates: %s", s->spec, msg);
        }
    } else {
        memcpy(s->numbers, f->numbers, f->natoms * sizeof *s->numbers);
        st = build_objects(s, f->natoms, err);
        if (st != MLSHIFT_OK)
            return st;
    }
    xtb_singlepoint(env, s->mol, s->calc, s->res);
    if (xtb_checkEnvironment(env)) {
        xtb_message(env, msg, sizeof msg);
        drop_objects(s);
        return ms_fail(err, MLSHIFT_ERR_VALUE, "prior %s: %s failed for this "
                       "structure: %s", s->spec, method_name[s->method], msg);
    }
    xtb_getEnergy(env, s->res, e_eh);
    if (grad)
        xtb_getGradient(env, s->res, s->grad);
    if (xtb_checkEnvironment(env)) {
        xtb_message(env, msg, sizeof msg);
        drop_objects(s);
        return ms_fail(err, MLSHIFT_ERR_VALUE, "prior %s: cannot read the "
                       "results: %s", s->spec, msg);
    }
    return MLSHIFT_OK;
}

static mlshift_status xtb_compute(void *self, const mlshift_frame *f,
                                  double *energy, double *forces,
                                  double *virial, mlshift_error *err)
{
    xtb_prior *s = self;
    (void)virial; /* refused by prior.c: no MLSHIFT_PRIOR_VIRIAL */
    size_t n = f->natoms;
    if (n > (size_t)INT32_MAX / 3)
        return ms_fail(err, MLSHIFT_ERR_VALUE, "prior %s: %zu atoms is too "
                       "many for libxtb", s->spec, n);
    mlshift_status st = check_frame(s, f, err);
    if (st != MLSHIFT_OK)
        return st;
    int same = s->mol && s->n == n &&
               memcmp(s->numbers, f->numbers, n * sizeof *f->numbers) == 0;
    if (n > s->cap) {
        drop_unlocked(s); /* s->numbers is about to change */
        same = 0;
        int *z = realloc(s->numbers, n * sizeof *z);
        if (z)
            s->numbers = z;
        double *x = realloc(s->xyz, 3 * n * sizeof *x);
        if (x)
            s->xyz = x;
        double *g = realloc(s->grad, 3 * n * sizeof *g);
        if (g)
            s->grad = g;
        if (!z || !x || !g)
            return ms_fail(err, MLSHIFT_ERR_NOMEM, "prior %s: out of memory "
                           "for %zu atoms", s->spec, n);
        s->cap = n;
    }
    for (size_t k = 0; k < 3 * n; k++)
        s->xyz[k] = f->positions[k] / MLSHIFT_ANGSTROM_PER_BOHR;

    double e = NAN;
    pthread_mutex_lock(&env_lock);
    thread_state ts = threads_enter(s);
    st = run_locked(s, f, same, forces != NULL, &e, err);
    threads_leave(s, ts);
    pthread_mutex_unlock(&env_lock);
    if (st != MLSHIFT_OK)
        return st;

    *energy = e * MLSHIFT_EV_PER_HARTREE;
    if (!isfinite(e))
        drop_unlocked(s); /* prior.c reports it */
    if (forces) {
        const double c = -MLSHIFT_EV_PER_HARTREE / MLSHIFT_ANGSTROM_PER_BOHR;
        for (size_t k = 0; k < 3 * n; k++) {
            if (!isfinite(s->grad[k])) {
                drop_unlocked(s);
                return ms_fail(err, MLSHIFT_ERR_VALUE, "prior %s: atom %zu: "
                               "the gradient is not finite", s->spec, k / 3);
            }
            forces[k] = c * s->grad[k];
        }
    }
    return MLSHIFT_OK;
}

static void xtb_destroy(void *self)
{
    xtb_prior *s = self;
    if (!s)
        return;
    drop_unlocked(s);
    free(s->numbers);
    free(s->xyz);
    free(s->grad);
    free(s);
}

static const ms_prior_ops xtb_ops = {
    .name = "xtb",
    .caps = 0, /* molecules only, no virial */
    .compute = xtb_compute,
    .destroy = xtb_destroy,
};

/* ---------------------------------------------------------------- spec */

/* An integer in [lo, hi] from text t (length len). Returns 0 if it is one. */
static int parse_int(const char *t, size_t len, long lo, long hi, long *out)
{
    char buf[32];
    if (len == 0 || len >= sizeof buf)
        return -1;
    memcpy(buf, t, len);
    buf[len] = 0;
    char *end;
    long v = strtol(buf, &end, 10);
    if (*end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

mlshift_status ms_prior_xtb_create(const char *args, mlshift_prior *p,
                                   mlshift_error *err)
{
    xtb_prior *s = calloc(1, sizeof *s);
    if (!s)
        return ms_fail(err, MLSHIFT_ERR_NOMEM, "prior %s: out of memory",
                       p->spec);
    snprintf(s->spec, sizeof s->spec, "%s", p->spec);
    s->method = GFN2;
    s->acc = 1.0;
    const char *t = args;
    int first = 1;
    while (*t) {
        size_t len = strcspn(t, ",");
        const char *eq = memchr(t, '=', len);
        if (first && !eq) {
            if (len == 4 && !strncmp(t, "gfn2", 4))
                s->method = GFN2;
            else if (len == 4 && !strncmp(t, "gfn1", 4))
                s->method = GFN1;
            else if (len == 5 && !strncmp(t, "gfnff", 5))
                s->method = GFNFF;
            else {
                free(s);
                return ms_fail(err, MLSHIFT_ERR_VALUE, "prior %s: unknown "
                               "method '%.*s' (gfn2, gfn1, gfnff)", p->spec,
                               (int)len, t);
            }
        } else if (eq) {
            size_t klen = (size_t)(eq - t);
            size_t vlen = len - klen - 1;
            long v;
            if (klen == 6 && !strncmp(t, "charge", 6)) {
                if (parse_int(eq + 1, vlen, -1000, 1000, &v)) {
                    free(s);
                    return ms_fail(err, MLSHIFT_ERR_VALUE, "prior %s: charge "
                                   "'%.*s' is not an integer", p->spec,
                                   (int)vlen, eq + 1);
                }
                s->charge = (double)v;
            } else if (klen == 3 && !strncmp(t, "uhf", 3)) {
                if (parse_int(eq + 1, vlen, -1000000, 1000000, &v) || v < 0) {
                    free(s);
                    return ms_fail(err, MLSHIFT_ERR_VALUE, "prior %s: uhf "
                                   "'%.*s' must be a non-negative integer "
                                   "(the number of unpaired electrons)",
                                   p->spec, (int)vlen, eq + 1);
                }
                s->uhf = (int)v;
            } else if (klen == 3 && !strncmp(t, "acc", 3)) {
                char buf[32] = "", *end = buf;
                if (vlen > 0 && vlen < sizeof buf) {
                    memcpy(buf, eq + 1, vlen);
                    buf[vlen] = 0;
                    s->acc = strtod(buf, &end);
                }
                if (*end || !(s->acc >= 1e-4 && s->acc <= 1e3)) {
                    free(s);
                    return ms_fail(err, MLSHIFT_ERR_VALUE, "prior %s: acc "
                                   "'%.*s' must be a number in [0.0001, 1000] "
                                   "(libxtb's accuracy, 1 by default)",
                                   p->spec, (int)vlen, eq + 1);
                }
            } else {
                free(s);
                return ms_fail(err, MLSHIFT_ERR_VALUE, "prior %s: unknown "
                               "option '%.*s' (charge=Q, uhf=U, acc=A)", p->spec,
                               (int)klen, t);
            }
        } else {
            free(s);
            return ms_fail(err, MLSHIFT_ERR_VALUE, "prior %s: '%.*s' is not "
                           "key=value (charge=Q, uhf=U)", p->spec, (int)len, t);
        }
        first = 0;
        t += len;
        if (*t == ',') {
            t++;
            if (!*t) {
                free(s);
                return ms_fail(err, MLSHIFT_ERR_VALUE, "prior %s: trailing "
                               "comma", p->spec);
            }
        }
    }
    if (s->method == GFNFF && s->acc != 1.0) {
        free(s);
        return ms_fail(err, MLSHIFT_ERR_VALUE, "prior %s: acc sets the SCC "
                       "convergence of gfn1/gfn2; GFN-FF has no SCC", p->spec);
    }
    s->one_thread = !getenv("OMP_NUM_THREADS") &&
                    !getenv("OPENBLAS_NUM_THREADS");
    if (s->one_thread)
        find_omp(s);
    p->ops = &xtb_ops;
    p->self = s;
    return MLSHIFT_OK;
}
