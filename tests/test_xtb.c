/* SPDX-License-Identifier: MIT */
/* The xtb prior (libxtb GFN2/GFN1/GFN-FF). References are independent of
 * the code under test: forces against central finite differences of the
 * energy, reused objects against a fresh prior per frame, the electron-count
 * rule worked out by hand, the working directory and stdout inspected
 * directly. Equality with the `xtb` binary is tests/reference/
 * test_xtb_binary.py, which runs this program in dump mode:
 *
 *     test_xtb --dump SPEC FILE.xyz
 *
 * prints, for the first frame of FILE computed by a fresh prior, the energy
 * (eV) on one line and then N lines of forces (eV/Å), all "%.17g". */
#define _GNU_SOURCE /* mkdtemp, setenv, fork */
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "mlshift.h"

#define N_MAX 64

/* LeakSanitizer: libxtb 6.5 leaks the text of every error it records
 * (allocated in its TEnvironment%error, never freed by xtb_getError); the
 * SCC-failure tests provoke three. Not ours, so not reported. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    return "leak:__xtb_type_environment_MOD_error\n";
}

/* Number of entries (other than . and ..) in directory d; -1 if unreadable. */
static int dir_entries(const char *d)
{
    DIR *dp = opendir(d);
    if (!dp)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(dp)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            n++;
    closedir(dp);
    return n;
}

static int open_fds(void)
{
    return dir_entries("/proc/self/fd");
}

/* A copy of frame f with positions replaced (scaled by s about the origin
 * and atom a displaced by dx along axis k). pos (N, 3) is the storage. */
static mlshift_frame moved(const mlshift_frame *f, double *pos, double s,
                           size_t a, int k, double dx)
{
    mlshift_frame g = *f;
    for (size_t i = 0; i < 3 * f->natoms; i++)
        pos[i] = s * f->positions[i];
    pos[3 * a + (size_t)k] += dx;
    g.positions = pos;
    g.forces = NULL;
    g.flags &= ~(unsigned)MLSHIFT_HAS_FORCES;
    return g;
}

/* Energy and forces of f by a fresh prior `spec`; returns the status. */
static mlshift_status fresh(const char *spec, const mlshift_frame *f,
                            double *e, double *forces, mlshift_error *err)
{
    mlshift_prior *p;
    mlshift_status s = mlshift_prior_create(spec, &p, err);
    if (s != MLSHIFT_OK)
        return s;
    s = mlshift_prior_compute(p, f, e, forces, NULL, err);
    mlshift_prior_destroy(p);
    return s;
}

static int dump(const char *spec, const char *path)
{
    mlshift_error err;
    mlshift_frames *fr = mlshift_frames_create();
    mlshift_frame f;
    double e, *forces = NULL;
    if (mlshift_read(fr, path, NULL, &err) != MLSHIFT_OK ||
        mlshift_frames_count(fr) == 0) {
        fprintf(stderr, "test_xtb: %s\n", mlshift_frames_count(fr) ? err.message
                : "no frames");
        mlshift_frames_destroy(fr);
        return 2;
    }
    mlshift_frames_get(fr, 0, &f);
    forces = malloc(3 * f.natoms * sizeof *forces);
    if (!forces || fresh(spec, &f, &e, forces, &err) != MLSHIFT_OK) {
        fprintf(stderr, "test_xtb: %s\n", forces ? err.message : "no memory");
        free(forces);
        mlshift_frames_destroy(fr);
        return 2;
    }
    printf("%.17g\n", e);
    for (size_t i = 0; i < f.natoms; i++)
        printf("%.17g %.17g %.17g\n", forces[3 * i], forces[3 * i + 1],
               forces[3 * i + 2]);
    free(forces);
    mlshift_frames_destroy(fr);
    return 0;
}

static void test_spec(void)
{
    mlshift_error err;
    mlshift_prior *p = NULL;
    const char *good[] = {"xtb", "xtb:gfn2", "xtb:gfn1", "xtb:gfnff",
                          "xtb:gfn2,charge=-1,uhf=0", "xtb:gfn1,uhf=2",
                          "xtb:charge=+1,uhf=1", "xtb:gfn1,acc=0.01"};
    for (size_t k = 0; k < sizeof good / sizeof *good; k++) {
        mlshift_status s = mlshift_prior_create(good[k], &p, &err);
        CHECK(s == MLSHIFT_OK, "'%s' refused: %s", good[k],
              s ? err.message : "");
        if (s == MLSHIFT_OK) {
            CHECK(!strcmp(mlshift_prior_spec(p), good[k]), "spec of '%s'",
                  good[k]);
            CHECK(mlshift_prior_caps(p) == 0, "'%s': molecules only, no "
                  "virial", good[k]);
        }
        mlshift_prior_destroy(p);
    }
    struct {
        const char *spec, *says;
    } bad[] = {
        {"xtb:gfn3", "unknown method"},
        {"xtb:gfn2,charge=x", "charge"},
        {"xtb:gfn2,charge=0.5", "charge"},
        {"xtb:gfn2,uhf=-1", "non-negative"},
        {"xtb:gfn2,uhf=", "uhf"},
        {"xtb:gfn2,spin=1", "unknown option"},
        {"xtb:gfn2,", "trailing comma"},
        {"xtb:gfn2,gfn1", "key=value"},
        {"xtb:gfn2,acc=0", "acc"},
        {"xtb:gfn2,acc=1e9", "acc"},
        {"xtb:gfnff,acc=0.01", "no SCC"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        p = NULL;
        mlshift_status s = mlshift_prior_create(bad[k].spec, &p, &err);
        CHECK(s == MLSHIFT_ERR_VALUE && !p, "'%s' accepted", bad[k].spec);
        CHECK(s == MLSHIFT_OK || strstr(err.message, bad[k].says),
              "'%s': message '%s' lacks '%s'", bad[k].spec, err.message,
              bad[k].says);
        mlshift_prior_destroy(p);
    }
}

/* Forces against central differences of the energy, every coordinate,
 * h = 1e-4 Å, by one reused prior (the SCC restarts from the previous
 * density, as in MD). Pass if |F + dE/dx| <= atol + 1e-4·|dE/dx|. */
static void test_fd(const char *spec, const mlshift_frame *f, double atol)
{
    mlshift_error err;
    mlshift_prior *p;
    if (mlshift_prior_create(spec, &p, &err) != MLSHIFT_OK) {
        CHECK(0, "%s: %s", spec, err.message);
        return;
    }
    size_t n = f->natoms;
    double e0, forces[3 * N_MAX], num[3 * N_MAX], pos[3 * N_MAX];
    mlshift_status s = mlshift_prior_compute(p, f, &e0, forces, NULL, &err);
    CHECK(s == MLSHIFT_OK, "%s: %s", spec, err.message);
    CHECK(isfinite(e0), "%s: energy %g", spec, e0);
    int finite = 1;
    for (size_t i = 0; i < 3 * n; i++)
        finite &= isfinite(forces[i]) != 0;
    CHECK(finite, "%s: forces not finite", spec);
    const double h = 1e-4;
    for (size_t a = 0; a < n && s == MLSHIFT_OK; a++)
        for (int k = 0; k < 3; k++) {
            double ep, em;
            mlshift_frame g = moved(f, pos, 1.0, a, k, h);
            s = mlshift_prior_compute(p, &g, &ep, NULL, NULL, &err);
            g = moved(f, pos, 1.0, a, k, -h);
            if (s == MLSHIFT_OK)
                s = mlshift_prior_compute(p, &g, &em, NULL, NULL, &err);
            num[3 * a + (size_t)k] = -(ep - em) / (2 * h);
        }
    CHECK(s == MLSHIFT_OK, "%s: %s", spec, err.message);
    double worst = 0;
    size_t wi = 0;
    for (size_t i = 0; i < 3 * n; i++)
        if (fabs(forces[i] - num[i]) > worst) {
            worst = fabs(forces[i] - num[i]);
            wi = i;
        }
    printf("%-10s forces vs finite differences (h = 1e-4 Å): worst |dF| = "
           "%.2e eV/Å at atom %zu axis %zu (F = %.6f)\n", spec, worst, wi / 3,
           wi % 3, forces[wi]);
    char what[64];
    snprintf(what, sizeof what, "%s forces vs finite differences", spec);
    check_array_close(what, forces, num, 3 * n, atol, 1e-4);
    mlshift_prior_destroy(p);
}

/* Several distorted frames through one prior (SCC restart, coordinates
 * only), and a change of molecule and back (rebuild), against a fresh prior
 * per frame. The restart changes only where the SCC stops: within its
 * convergence, tol_e (Eh) and tol_f (eV/Å). */
static void test_reuse(const char *spec, const mlshift_frame *asp,
                       const mlshift_frame *benz, double tol_e, double tol_f)
{
    mlshift_error err;
    mlshift_prior *p;
    if (mlshift_prior_create(spec, &p, &err) != MLSHIFT_OK) {
        CHECK(0, "%s: %s", spec, err.message);
        return;
    }
    double pos[3 * N_MAX], f1[3 * N_MAX], f2[3 * N_MAX];
    double worst_e = 0, worst_f = 0;
    for (int step = 0; step < 8; step++) {
        /* aspirin, aspirin moved, …; benzene at step 5, aspirin after */
        const mlshift_frame *base = step == 5 ? benz : asp;
        mlshift_frame g = moved(base, pos, 1.0 + 0.004 * (step % 3),
                                (size_t)step % base->natoms, step % 3,
                                0.01 * step);
        double e1, e2;
        mlshift_status s1 = mlshift_prior_compute(p, &g, &e1, f1, NULL, &err);
        CHECK(s1 == MLSHIFT_OK, "%s step %d: %s", spec, step, err.message);
        mlshift_status s2 = fresh(spec, &g, &e2, f2, &err);
        CHECK(s2 == MLSHIFT_OK, "%s step %d fresh: %s", spec, step,
              err.message);
        if (s1 || s2)
            continue;
        CHECK_CLOSE(e1, e2, tol_e * MLSHIFT_EV_PER_HARTREE, 0,
                    "%s step %d: reused vs fresh energy", spec, step);
        char what[64];
        snprintf(what, sizeof what, "%s step %d: reused vs fresh forces", spec,
                 step);
        check_array_close(what, f1, f2, 3 * g.natoms, tol_f, 0);
        worst_e = fmax(worst_e, fabs(e1 - e2));
        for (size_t i = 0; i < 3 * g.natoms; i++)
            worst_f = fmax(worst_f, fabs(f1[i] - f2[i]));
    }
    printf("%-10s reused vs fresh prior over 8 frames: worst |dE| = %.2e eV, "
           "worst |dF| = %.2e eV/Å\n", spec, worst_e, worst_f);
    mlshift_prior_destroy(p);
}

/* aspirin C9H8O4: Σ Z = 9·6 + 8·1 + 4·8 = 94 electrons when neutral. */
static void test_charge_uhf(const mlshift_frame *asp)
{
    struct {
        const char *spec;
        int ok;
        const char *says;
    } cases[] = {
        {"xtb:gfn2,charge=0,uhf=0", 1, NULL},
        {"xtb:gfn2,charge=0,uhf=2", 1, NULL},   /* triplet: 94 − 2 even */
        {"xtb:gfn2,charge=1,uhf=1", 1, NULL},   /* 93 electrons, doublet */
        {"xtb:gfn2,charge=-1,uhf=1", 1, NULL},  /* 95 electrons */
        {"xtb:gfn2,charge=1,uhf=0", 0, "93 electrons"},
        {"xtb:gfn2,charge=-1", 0, "95 electrons"},
        {"xtb:gfn2,uhf=1", 0, "94 electrons"},
        {"xtb:gfnff,charge=1", 0, "93 electrons"},
        {"xtb:gfn1,uhf=95", 0, "94 electrons"},
        {"xtb:gfn2,charge=95", 0, "-1 electrons"},
    };
    double forces[3 * N_MAX];
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        mlshift_error err;
        double e = NAN;
        mlshift_status s = fresh(cases[k].spec, asp, &e, forces, &err);
        if (cases[k].ok) {
            CHECK(s == MLSHIFT_OK && isfinite(e), "%s: %s", cases[k].spec,
                  s ? err.message : "energy not finite");
        } else {
            CHECK(s == MLSHIFT_ERR_VALUE, "%s accepted (E = %g)",
                  cases[k].spec, e);
            CHECK(s == MLSHIFT_OK || strstr(err.message, cases[k].says),
                  "%s: message '%s' lacks '%s'", cases[k].spec, err.message,
                  cases[k].says);
        }
    }
    /* a charged doublet is not the neutral singlet */
    mlshift_error err;
    double e0 = NAN, e1 = NAN;
    fresh("xtb:gfn2", asp, &e0, NULL, &err);
    fresh("xtb:gfn2,charge=1,uhf=1", asp, &e1, NULL, &err);
    CHECK(e1 - e0 > 5.0, "cation above the neutral by the ionisation energy: "
          "%g eV", e1 - e0);
}

static void test_errors(const mlshift_frame *asp)
{
    mlshift_error err;
    mlshift_prior *p;
    if (mlshift_prior_create("xtb:gfn2", &p, &err) != MLSHIFT_OK) {
        CHECK(0, "%s", err.message);
        return;
    }
    double e, e_ok, e_fresh, pos[3 * N_MAX], f_ok[3 * N_MAX],
        f_fresh[3 * N_MAX];
    /* an element beyond Rn */
    int z[2] = {87, 1};
    double xy[6] = {0, 0, 0, 2.3, 0, 0};
    mlshift_frame fr = {.natoms = 2, .numbers = z, .positions = xy};
    mlshift_status s = mlshift_prior_compute(p, &fr, &e, NULL, NULL, &err);
    CHECK(s == MLSHIFT_ERR_UNSUPPORTED && strstr(err.message, "Fr"),
          "francium: status %d, '%s'", s, err.message);
    /* periodic cells and virials are refused by the interface */
    double cell[9] = {20, 0, 0, 0, 20, 0, 0, 0, 20};
    mlshift_frame per = *asp;
    per.cell = cell;
    per.pbc[0] = per.pbc[1] = per.pbc[2] = 1;
    per.flags |= MLSHIFT_HAS_CELL;
    s = mlshift_prior_compute(p, &per, &e, NULL, NULL, &err);
    CHECK(s == MLSHIFT_ERR_UNSUPPORTED, "periodic frame accepted");
    double vir[9];
    s = mlshift_prior_compute(p, asp, &e, NULL, vir, &err);
    CHECK(s == MLSHIFT_ERR_UNSUPPORTED, "virial given");
    /* coincident atoms: refused naming both, as by every prior (issue 12;
     * tests/prior_check.h for LJ and EMT) */
    {
        double pc[3 * N_MAX];
        memcpy(pc, asp->positions, 3 * asp->natoms * sizeof *pc);
        memcpy(pc + 3 * 4, pc + 3 * 2, 3 * sizeof *pc); /* atom 4 onto atom 2 */
        mlshift_frame co = *asp;
        co.positions = pc;
        s = mlshift_prior_compute(p, &co, &e, NULL, NULL, &err);
        CHECK(s == MLSHIFT_ERR_VALUE && strstr(err.message, "atoms 2 and 4 coincide"),
              "xtb: coincident atoms refused naming both: status %d, '%s'", (int)s,
              s == MLSHIFT_OK ? "" : err.message);
    }
    /* SCC failure: aspirin stretched to twice its size (bonds broken, a
     * near-degenerate open-shell mess the SCC cannot converge). It is an
     * error for that frame; the prior stays usable and, rebuilt, gives
     * exactly what a fresh prior gives. */
    s = mlshift_prior_compute(p, asp, &e, NULL, NULL, &err);
    CHECK(s == MLSHIFT_OK, "aspirin: %s", err.message);
    mlshift_frame big = moved(asp, pos, 2.0, 0, 0, 0.0);
    s = mlshift_prior_compute(p, &big, &e, NULL, NULL, &err);
    CHECK(s == MLSHIFT_ERR_VALUE, "stretched aspirin converged (E = %g)", e);
    CHECK(s == MLSHIFT_OK || strstr(err.message, "did not converge"),
          "SCC failure message: '%s'", err.message);
    if (s != MLSHIFT_OK)
        printf("SCC failure reported as: %s\n", err.message);
    mlshift_frame g = moved(asp, pos, 1.0, 3, 1, 0.02);
    s = mlshift_prior_compute(p, &g, &e_ok, f_ok, NULL, &err);
    CHECK(s == MLSHIFT_OK, "after an SCC failure: %s", err.message);
    s = fresh("xtb:gfn2", &g, &e_fresh, f_fresh, &err);
    CHECK(s == MLSHIFT_OK, "fresh: %s", err.message);
    CHECK_CLOSE(e_ok, e_fresh, 0, 1e-13, "energy after an SCC failure");
    check_array_close("forces after an SCC failure", f_ok, f_fresh,
                      3 * g.natoms, 1e-11, 0);
    /* atoms exactly on top of each other: libxtb refuses the structure */
    mlshift_frame ov = moved(asp, pos, 1.0, 0, 0, 0.0);
    pos[3] = pos[0], pos[4] = pos[1], pos[5] = pos[2];
    s = mlshift_prior_compute(p, &ov, &e, NULL, NULL, &err);
    CHECK(s == MLSHIFT_ERR_VALUE, "overlapping atoms accepted (E = %g)", e);
    s = mlshift_prior_compute(p, asp, &e, NULL, NULL, &err);
    CHECK(s == MLSHIFT_OK, "after overlapping atoms: %s", err.message);
    mlshift_prior_destroy(p);
}

/* Runs create/compute/destroy for each method inside an empty working
 * directory and an empty TMPDIR, with stdout and stderr sent to a file:
 * nothing may appear in any of them, and the working directory is the same
 * after. Also no file descriptors are left open after ten rebuilds. */
static void test_files_quiet(const mlshift_frame *asp)
{
    char base[] = "/tmp/test_xtb_XXXXXX";
    if (!mkdtemp(base)) {
        CHECK(0, "mkdtemp");
        return;
    }
    char cwd_dir[256], tmp_dir[256], log[256], old_cwd[4096], now[4096];
    snprintf(cwd_dir, sizeof cwd_dir, "%s/cwd", base);
    snprintf(tmp_dir, sizeof tmp_dir, "%s/tmp", base);
    snprintf(log, sizeof log, "%s/out.log", base);
    mkdir(cwd_dir, 0700);
    mkdir(tmp_dir, 0700);
    const char *old_tmp = getenv("TMPDIR");
    char saved_tmp[4096] = "";
    if (old_tmp)
        snprintf(saved_tmp, sizeof saved_tmp, "%s", old_tmp);
    setenv("TMPDIR", tmp_dir, 1);
    CHECK(getcwd(old_cwd, sizeof old_cwd) != NULL, "getcwd");
    CHECK(chdir(cwd_dir) == 0, "chdir %s", cwd_dir);

    fflush(stdout);
    fflush(stderr);
    int out = dup(1), errfd = dup(2);
    int logfd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(logfd, 1);
    dup2(logfd, 2);
    const char *specs[] = {"xtb:gfn2", "xtb:gfn1", "xtb:gfnff"};
    mlshift_status st[3];
    char msg[3][1024];
    double forces[3 * N_MAX];
    for (int k = 0; k < 3; k++) {
        mlshift_error err = {0};
        double e;
        st[k] = fresh(specs[k], asp, &e, forces, &err);
        memcpy(msg[k], err.message, sizeof msg[k]);
    }
    int fd0 = open_fds();
    for (int k = 0; k < 10; k++) {
        mlshift_error err;
        double e;
        fresh("xtb:gfnff", asp, &e, NULL, &err);
    }
    int fd1 = open_fds();
    fflush(stdout);
    fflush(stderr);
    dup2(out, 1);
    dup2(errfd, 2);
    close(out);
    close(errfd);
    close(logfd);

    for (int k = 0; k < 3; k++)
        CHECK(st[k] == MLSHIFT_OK, "%s: %s", specs[k], msg[k]);
    CHECK(getcwd(now, sizeof now) && !strcmp(now, cwd_dir),
          "working directory changed to %s", now);
    int n_cwd = dir_entries(cwd_dir), n_tmp = dir_entries(tmp_dir);
    CHECK(n_cwd == 0, "%d files left in the working directory %s", n_cwd,
          cwd_dir);
    CHECK(n_tmp == 0, "%d entries left in TMPDIR %s", n_tmp, tmp_dir);
    struct stat sb;
    CHECK(stat(log, &sb) == 0 && sb.st_size == 0, "libxtb printed %lld "
          "bytes (see %s)", (long long)sb.st_size, log);
    CHECK(fd1 == fd0, "file descriptors: %d before ten GFN-FF rebuilds, %d "
          "after", fd0, fd1);

    CHECK(chdir(old_cwd) == 0, "chdir back");
    if (old_tmp)
        setenv("TMPDIR", saved_tmp, 1);
    else
        unsetenv("TMPDIR");
    if (check_failed == 0) {
        remove(log);
        rmdir(cwd_dir);
        rmdir(tmp_dir);
        rmdir(base);
    }
}

/* Child mode: threads this process gains over five GFN2 calls on aspirin
 * (OpenMP creates its workers at the first parallel region that asks for
 * more than one thread), as the exit status; 100 on error. */
static int count_threads(const char *path)
{
    mlshift_error err;
    mlshift_frames *fr = mlshift_frames_create();
    mlshift_frame f;
    mlshift_prior *p;
    if (mlshift_read(fr, path, NULL, &err) != MLSHIFT_OK ||
        mlshift_prior_create("xtb:gfn2", &p, &err) != MLSHIFT_OK)
        return 100;
    mlshift_frames_get(fr, 0, &f);
    int before = dir_entries("/proc/self/task");
    double e, forces[3 * N_MAX];
    for (int k = 0; k < 5; k++)
        if (mlshift_prior_compute(p, &f, &e, forces, NULL, &err) != MLSHIFT_OK)
            return 100;
    int after = dir_entries("/proc/self/task");
    mlshift_prior_destroy(p);
    mlshift_frames_destroy(fr);
    return after - before;
}

/* Runs this program in --threads mode with OMP_NUM_THREADS set to omp (NULL:
 * unset, and OPENBLAS_NUM_THREADS unset too); returns its exit status. */
static int threads_gained(const char *omp, const char *path)
{
    pid_t pid = fork();
    if (pid == 0) {
        unsetenv("OPENBLAS_NUM_THREADS");
        if (omp)
            setenv("OMP_NUM_THREADS", omp, 1);
        else
            unsetenv("OMP_NUM_THREADS");
        char *args[] = {"test_xtb", "--threads", (char *)path, NULL};
        execv("/proc/self/exe", args);
        _exit(101);
    }
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
        return 102;
    return WEXITSTATUS(status);
}

/* One thread by default: without OMP_NUM_THREADS the prior gains no OpenMP
 * worker; with OMP_NUM_THREADS=2 (the positive control, showing the count
 * sees them) it does. Needs 2 CPUs for the control to mean anything. */
static void test_threads(void)
{
    if (sysconf(_SC_NPROCESSORS_ONLN) < 2) {
        printf("one CPU: thread test skipped\n");
        return;
    }
    const char *path = check_data_path("sgdml_models/geom_aspirin.xyz");
    int dflt = threads_gained(NULL, path);
    int two = threads_gained("2", path);
    printf("threads gained by 5 GFN2 calls: %d by default, %d with "
           "OMP_NUM_THREADS=2\n", dflt, two);
    CHECK(dflt == 0, "default: the prior started %d threads", dflt);
    CHECK(two >= 1 && two < 100, "OMP_NUM_THREADS=2: %d threads started", two);
}

int main(int argc, char **argv)
{
    if (argc == 4 && !strcmp(argv[1], "--dump"))
        return dump(argv[2], argv[3]);
    if (argc == 3 && !strcmp(argv[1], "--threads"))
        return count_threads(argv[2]);
    if (argc != 1) {
        fprintf(stderr, "usage: test_xtb [--dump SPEC FILE.xyz]\n");
        return 2;
    }
    test_spec();

    mlshift_error err;
    mlshift_frames *fr = mlshift_frames_create();
    mlshift_status s = mlshift_read(
        fr, check_data_path("sgdml_models/geom_aspirin.xyz"), NULL, &err);
    CHECK(s == MLSHIFT_OK, "%s", err.message);
    s = mlshift_read(fr, check_data_path("sgdml_models/geom_benzene.xyz"),
                     NULL, &err);
    CHECK(s == MLSHIFT_OK, "%s", err.message);
    if (mlshift_frames_count(fr) != 2) {
        mlshift_frames_destroy(fr);
        return check_done();
    }
    mlshift_frame asp, benz;
    mlshift_frames_get(fr, 0, &asp);
    mlshift_frames_get(fr, 1, &benz);
    CHECK(asp.natoms == 21 && benz.natoms == 12, "atoms %zu, %zu",
          asp.natoms, benz.natoms);

    test_files_quiet(&asp);
    test_threads();
    /* Tolerances. At libxtb's default accuracy the SCC stops at charges
     * converged to ~1e-5 e, and the gradient error is first order in that
     * (the energy's only second order): measured up to 6e-4 eV/Å against
     * finite differences, so 1e-3 eV/Å. With acc=0.0001 (the tightest
     * libxtb allows) and for GFN-FF (no SCC) the agreement is ~5e-7 eV/Å:
     * 5e-6 eV/Å. */
    test_fd("xtb:gfn2", &asp, 1e-3);
    test_fd("xtb:gfnff", &asp, 5e-6);
    test_fd("xtb:gfn2,acc=0.0001", &asp, 5e-6);
    test_fd("xtb:gfn1,acc=0.0001", &asp, 5e-6);
    test_fd("xtb:gfn2,charge=1,uhf=1,acc=0.0001", &benz, 5e-6);
    test_reuse("xtb:gfn2", &asp, &benz, 1e-6, 1e-3);
    test_reuse("xtb:gfn1", &asp, &benz, 1e-6, 1e-3);
    test_reuse("xtb:gfnff", &asp, &benz, 1e-9, 1e-8);
    test_reuse("xtb:gfn2,acc=0.0001", &asp, &benz, 1e-9, 1e-5);
    test_charge_uhf(&asp);
    test_errors(&asp);

    mlshift_frames_destroy(fr);
    return check_done();
}
