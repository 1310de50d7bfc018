/* SPDX-License-Identifier: MIT */
/* HDF5 reader tests.
 *
 *   test_hdf5                      run the tests (data from $MLSHIFT_DATA)
 *   test_hdf5 --dump FILE DIR [L]  read FILE (ANI-1x level L) and write
 *                                  DIR/{natoms,numbers,positions,energy,
 *                                  forces}.bin (raw float64, NaN where a
 *                                  label is absent) and DIR/info.txt
 *                                  (name, conf, smiles, subset, tab-separated)
 *                                  for tests/reference/test_hdf5_h5py.py
 *
 * References: the shipped extxyz conversions of the SPICE and ANI-1x samples
 * (parsed here, independently of the library's extxyz reader), values
 * listed by h5py, Newton's third law for the ANI-2x diatomics, and small
 * files written here with the HDF5 C API whose values are known in closed
 * form. Bad inputs: missing, non-HDF5, empty and truncated files, foreign
 * layouts, wrong shapes and units; each must fail cleanly, print nothing,
 * close every HDF5 handle and leave the frames set as it was. */
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "mlshift.h"

#define BOHR MLSHIFT_ANGSTROM_PER_BOHR
#define HARTREE MLSHIFT_EV_PER_HARTREE

/* -------------------------------------------------------------- dump mode */

static int write_bin(const char *dir, const char *name, const double *x,
                     size_t n)
{
    char p[4096];
    snprintf(p, sizeof p, "%s/%s.bin", dir, name);
    FILE *fp = fopen(p, "wb");
    if (!fp || fwrite(x, sizeof *x, n, fp) != n) {
        if (fp)
            fclose(fp);
        return -1;
    }
    return fclose(fp);
}

static int dump(const char *file, const char *dir, const char *level)
{
    mlshift_read_options opt = {0};
    opt.hdf5_level = level;
    mlshift_error err;
    mlshift_frames *fr = mlshift_frames_create();
    if (mlshift_read_hdf5(fr, file, &opt, &err) != MLSHIFT_OK) {
        fprintf(stderr, "test_hdf5: %s\n", err.message);
        mlshift_frames_destroy(fr);
        return 2;
    }
    size_t n = mlshift_frames_count(fr), A = mlshift_frames_total_atoms(fr);
    double *nat = malloc((n + 1) * sizeof *nat);     // (n,)
    double *en = malloc((n + 1) * sizeof *en);       // (n,) eV
    double *z = malloc((A + 1) * sizeof *z);         // (A,)
    double *pos = malloc((3 * A + 1) * sizeof *pos); // (A, 3) Å
    double *frc = malloc((3 * A + 1) * sizeof *frc); // (A, 3) eV/Å
    char p[4096];
    snprintf(p, sizeof p, "%s/info.txt", dir);
    FILE *info = fopen(p, "w");
    int rc = 0;
    if (!nat || !en || !z || !pos || !frc || !info)
        rc = 2;
    for (size_t i = 0, a = 0; i < n && rc == 0; i++) {
        mlshift_frame f;
        mlshift_frames_get(fr, i, &f);
        nat[i] = (double)f.natoms;
        en[i] = (f.flags & MLSHIFT_HAS_ENERGY) ? f.energy : NAN;
        for (size_t j = 0; j < f.natoms; j++, a++) {
            z[a] = f.numbers[j];
            for (int k = 0; k < 3; k++) {
                pos[3 * a + k] = f.positions[3 * j + k];
                frc[3 * a + k] = f.forces ? f.forces[3 * j + k] : NAN;
            }
        }
        static const char *const keys[] = {"name", "conf", "smiles", "subset"};
        for (int k = 0; k < 4; k++) {
            char v[2048] = "";
            mlshift_info_get(f.info, keys[k], v, sizeof v);
            fprintf(info, "%s%s", k ? "\t" : "", v);
        }
        fputc('\n', info);
    }
    if (rc == 0 && (write_bin(dir, "natoms", nat, n) ||
                    write_bin(dir, "energy", en, n) ||
                    write_bin(dir, "numbers", z, A) ||
                    write_bin(dir, "positions", pos, 3 * A) ||
                    write_bin(dir, "forces", frc, 3 * A)))
        rc = 2;
    if (info && fclose(info))
        rc = 2;
    free(nat);
    free(en);
    free(z);
    free(pos);
    free(frc);
    mlshift_frames_destroy(fr);
    return rc;
}

/* ------------------------------------------------- extxyz, independently */

/* The frames of an extxyz file written by ASE with Properties=species:S:1:
 * pos:R:3:forces:R:3, energy in info key `energy` and optionally a second
 * energy under key2. */
typedef struct xyz_ref {
    size_t n, atoms;
    size_t nat[256];
    double e[256], e2[256];  /* eV */
    char comment[256][1024];
    int z[4096];
    double pos[3 * 4096];    /* Å */
    double frc[3 * 4096];    /* eV/Å */
} xyz_ref;

/* Value of " key=" in a comment line (strtod: "nan" reads as NaN). */
static double comment_number(const char *line, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof pat, " %s=", key);
    const char *p = strstr(line, pat);
    return p ? strtod(p + strlen(pat), NULL) : NAN;
}

static int read_xyz_ref(const char *path, const char *key2, xyz_ref *r)
{
    FILE *fp = fopen(path, "r");
    if (!fp)
        return -1;
    char line[1024];
    r->n = r->atoms = 0;
    while (fgets(line, sizeof line, fp)) {
        size_t nat = strtoul(line, NULL, 10);
        if (nat == 0 || r->n >= 256 || r->atoms + nat > 4096 ||
            !fgets(line, sizeof line, fp))
            break;
        snprintf(r->comment[r->n], sizeof r->comment[r->n], "%s", line);
        r->e[r->n] = comment_number(line, "energy");
        r->e2[r->n] = key2 ? comment_number(line, key2) : NAN;
        r->nat[r->n] = nat;
        for (size_t i = 0; i < nat; i++, r->atoms++) {
            char sym[8];
            double *x = r->pos + 3 * r->atoms, *f = r->frc + 3 * r->atoms;
            if (!fgets(line, sizeof line, fp) ||
                sscanf(line, "%7s %lf %lf %lf %lf %lf %lf", sym, x, x + 1,
                       x + 2, f, f + 1, f + 2) != 7) {
                fclose(fp);
                return -1;
            }
            r->z[r->atoms] = mlshift_element_number(sym);
        }
        r->n++;
    }
    fclose(fp);
    return 0;
}

/* Compares every frame of fr with the extxyz reference: positions and
 * forces were printed with 8 decimals, energies in full. pos_rtol allows
 * for the SPICE conversion, which multiplied the float32 bohr coordinates
 * in float32 (one float32 rounding, 2^-24 relative; 2^-22 allowed). */
static void compare_with_xyz(const char *what, const mlshift_frames *fr,
                             const xyz_ref *r, double pos_rtol)
{
    CHECK(mlshift_frames_count(fr) == r->n, "%s: %zu frames, reference %zu",
          what, mlshift_frames_count(fr), r->n);
    for (size_t i = 0, a = 0; i < r->n && i < mlshift_frames_count(fr); i++) {
        mlshift_frame f;
        mlshift_frames_get(fr, i, &f);
        CHECK(f.natoms == r->nat[i], "%s frame %zu: %zu atoms, want %zu", what,
              i, f.natoms, r->nat[i]);
        if (f.natoms != r->nat[i])
            return;
        int zok = 1;
        for (size_t j = 0; j < f.natoms; j++)
            zok &= f.numbers[j] == r->z[a + j];
        CHECK(zok, "%s frame %zu: atomic numbers differ", what, i);
        char msg[128];
        snprintf(msg, sizeof msg, "%s frame %zu positions", what, i);
        check_array_close(msg, f.positions, r->pos + 3 * a, 3 * f.natoms,
                          1e-8, pos_rtol);
        CHECK(f.forces != NULL, "%s frame %zu: no forces", what, i);
        if (f.forces) {
            snprintf(msg, sizeof msg, "%s frame %zu forces", what, i);
            check_array_close(msg, f.forces, r->frc + 3 * a, 3 * f.natoms,
                              1e-8, 0);
        }
        CHECK(f.flags & MLSHIFT_HAS_ENERGY, "%s frame %zu: no energy", what, i);
        CHECK_CLOSE(f.energy, r->e[i], 0, 1e-13, "%s frame %zu energy", what,
                    i);
        a += f.natoms;
    }
}

/* --------------------------------------------- HDF5 state the reader owns */

static int open_ids(void)
{
    return (int)H5Fget_obj_count((hid_t)H5F_OBJ_ALL, H5F_OBJ_ALL);
}

/* Reads path into fr; checks that no HDF5 handle is left open and that the
 * caller's error handler is back in place. */
static mlshift_status read_h5(mlshift_frames *fr, const char *path,
                              const char *level, int require_energy,
                              mlshift_error *err)
{
    mlshift_read_options opt = {0};
    opt.hdf5_level = level;
    opt.require_energy = require_energy;
    H5E_auto2_t fn0, fn1;
    void *d0, *d1;
    H5Eget_auto2(H5E_DEFAULT, &fn0, &d0);
    err->message[0] = '\0';
    mlshift_status st = mlshift_read_hdf5(fr, path, &opt, err);
    H5Eget_auto2(H5E_DEFAULT, &fn1, &d1);
    CHECK(fn0 == fn1 && d0 == d1, "%s: HDF5 error handler not restored", path);
    CHECK(open_ids() == 0, "%s: %d HDF5 handles left open", path, open_ids());
    return st;
}

/* ------------------------------------------------------- the real samples */

static void test_spice(void)
{
    static xyz_ref ref;
    const char *h5 = check_data_path("spice/SPICE-1.1.4_n2.hdf5");
    int ok = read_xyz_ref(check_data_path("spice/SPICE-1.1.4_n2.extxyz"),
                          NULL, &ref) == 0;
    CHECK(ok && ref.n == 55, "spice extxyz reference: %zu frames", ref.n);
    mlshift_frames *fr = mlshift_frames_create();
    mlshift_error err;
    mlshift_status st = read_h5(fr, h5, NULL, 0, &err);
    CHECK(st == MLSHIFT_OK, "spice: %s", err.message);
    CHECK(mlshift_frames_count(fr) == 55, "spice: %zu frames, want 55",
          mlshift_frames_count(fr));
    CHECK(mlshift_frames_total_atoms(fr) == 50 * 27 + 5 * 5,
          "spice: %zu atoms, want 1375", mlshift_frames_total_atoms(fr));
    if (ok)
        compare_with_xyz("spice", fr, &ref, 0x1p-22);
    /* Group order (name order: "103147721" < "C#C.[Na+]"), info values
     * as h5py lists them, and agreement with the extxyz's own info. */
    for (size_t i = 0; i < mlshift_frames_count(fr) && i < ref.n; i++) {
        mlshift_frame f;
        mlshift_frames_get(fr, i, &f);
        char v[1024], w[1024];
        CHECK(!(f.flags & MLSHIFT_HAS_CELL) && !f.pbc[0] && !f.pbc[1] &&
                  !f.pbc[2], "spice frame %zu: cell or pbc set", i);
        static const char *const keys[] = {"name", "conf", "subset"};
        for (int k = 0; k < 3; k++) {
            int got = mlshift_info_get(f.info, keys[k], v, sizeof v);
            int want = mlshift_info_get(ref.comment[i], keys[k], w, sizeof w);
            CHECK(got && want && strcmp(v, w) == 0,
                  "spice frame %zu: %s='%s', extxyz has '%s'", i, keys[k],
                  got ? v : "(none)", want ? w : "(none)");
        }
    }
    mlshift_frame f;
    char v[1024];
    if (mlshift_frames_get(fr, 50, &f) == MLSHIFT_OK) {
        CHECK(mlshift_info_get(f.info, "name", v, sizeof v) &&
                  strcmp(v, "C#C.[Na+]") == 0, "spice frame 50 name '%s'", v);
        CHECK(mlshift_info_get(f.info, "smiles", v, sizeof v) &&
                  strcmp(v, "[H:3][C:1]#[C:2][H:4].[Na+:5]") == 0,
              "spice frame 50 smiles '%s'", v);
        CHECK(mlshift_info_get(f.info, "conf", v, sizeof v) &&
                  strcmp(v, "0") == 0, "spice frame 50 conf '%s'", v);
    }
    if (mlshift_frames_get(fr, 0, &f) == MLSHIFT_OK)
        CHECK(mlshift_info_get(f.info, "subset", v, sizeof v) &&
                  strcmp(v, "SPICE PubChem Set 6 Single Points Dataset v1.2") ==
                      0, "spice frame 0 subset '%s'", v);
    mlshift_frames_destroy(fr);
}

static void test_ani1x(void)
{
    static xyz_ref ref;
    const char *h5 = check_data_path("ani1x/ani1x_format_n5.hdf5");
    int ok = read_xyz_ref(check_data_path(
                              "ani1x/ani1x_format_n5_wb97x_dz.extxyz"),
                          "ccsd_t_cbs_energy_eV", &ref) == 0;
    CHECK(ok && ref.n == 8, "ani1x extxyz reference: %zu frames", ref.n);
    mlshift_frames *fr = mlshift_frames_create();
    mlshift_error err;
    mlshift_status st = read_h5(fr, h5, NULL, 0, &err);
    CHECK(st == MLSHIFT_OK, "ani1x: %s", err.message);
    CHECK(mlshift_frames_count(fr) == 8, "ani1x: %zu frames, want 8",
          mlshift_frames_count(fr));
    CHECK(mlshift_frames_total_atoms(fr) == 2 * 13 + 14 + 3 * 14 + 19 + 19,
          "ani1x: %zu atoms, want 120", mlshift_frames_total_atoms(fr));
    if (ok)
        compare_with_xyz("ani1x", fr, &ref, 0);
    for (size_t i = 0; i < mlshift_frames_count(fr) && i < ref.n; i++) {
        mlshift_frame f;
        mlshift_frames_get(fr, i, &f);
        char v[256], w[256];
        CHECK(mlshift_info_get(f.info, "name", v, sizeof v) &&
                  mlshift_info_get(ref.comment[i], "formula_group", w,
                                   sizeof w) && strcmp(v, w) == 0,
              "ani1x frame %zu: name '%s', extxyz formula_group '%s'", i, v, w);
    }

    /* The CCSD(T)/CBS level: energies only, NaN (absent) for 2 of 8. */
    mlshift_frames_destroy(fr);
    fr = mlshift_frames_create();
    st = read_h5(fr, h5, "ccsd(t)_cbs", 0, &err);
    CHECK(st == MLSHIFT_OK, "ani1x ccsd(t)_cbs: %s", err.message);
    size_t absent = 0;
    for (size_t i = 0; i < mlshift_frames_count(fr) && i < ref.n; i++) {
        mlshift_frame f;
        mlshift_frames_get(fr, i, &f);
        CHECK(!(f.flags & MLSHIFT_HAS_FORCES) && !f.forces,
              "ani1x ccsd(t)_cbs frame %zu has forces", i);
        if (isnan(ref.e2[i])) {
            absent++;
            CHECK(!(f.flags & MLSHIFT_HAS_ENERGY) && isnan(f.energy),
                  "ani1x ccsd(t)_cbs frame %zu: NaN energy not absent", i);
        } else {
            CHECK(f.flags & MLSHIFT_HAS_ENERGY, "frame %zu no energy", i);
            CHECK_CLOSE(f.energy, ref.e2[i], 0, 1e-13,
                        "ani1x ccsd(t)_cbs frame %zu energy", i);
        }
    }
    CHECK(absent == 2, "ani1x ccsd(t)_cbs: %zu absent energies, want 2",
          absent);

    /* require_energy turns the absent ones into an error; a level that is
     * not there is an error; both leave the set as it was. */
    size_t n0 = mlshift_frames_count(fr);
    st = read_h5(fr, h5, "ccsd(t)_cbs", 1, &err);
    CHECK(st == MLSHIFT_ERR_MISSING && strstr(err.message, "C1H6N2O5"),
          "ani1x require_energy: status %d: %s", st, err.message);
    CHECK(mlshift_frames_count(fr) == n0, "require_energy changed the set");
    st = read_h5(fr, h5, "b3lyp_nope", 0, &err);
    CHECK(st == MLSHIFT_ERR_MISSING && strstr(err.message, "b3lyp_nope"),
          "ani1x unknown level: status %d: %s", st, err.message);
    CHECK(mlshift_frames_count(fr) == n0, "unknown level changed the set");
    mlshift_frames_destroy(fr);
}

static void test_ani2x(void)
{
    const char *h5 = check_data_path("ani1x/ani2x_minimal.hdf5");
    mlshift_frames *fr = mlshift_frames_create();
    mlshift_error err;
    mlshift_status st = read_h5(fr, h5, NULL, 0, &err);
    CHECK(st == MLSHIFT_OK, "ani2x: %s", err.message);
    size_t n = mlshift_frames_count(fr);
    CHECK(n == 5706, "ani2x: %zu frames, want 5706", n);
    CHECK(mlshift_frames_total_atoms(fr) == 2 * 5706,
          "ani2x: %zu atoms, want 11412", mlshift_frames_total_atoms(fr));
    /* Pairs of species with their counts, as numpy.unique lists them. */
    static const int pair[10][2] = {{1, 9}, {1, 17}, {6, 8}, {7, 7}, {8, 8},
                                    {8, 16}, {9, 9}, {9, 17}, {16, 16},
                                    {17, 17}};
    static const size_t want[10] = {517, 479, 457, 511, 360,
                                    771, 489, 938, 611, 573};
    size_t count[10] = {0}, other = 0;
    double worst_sum = 0, worst_cross = 0;
    for (size_t i = 0; i < n; i++) {
        mlshift_frame f;
        mlshift_frames_get(fr, i, &f);
        int k = 0;
        while (k < 10 && !(f.numbers[0] == pair[k][0] &&
                           f.numbers[1] == pair[k][1]))
            k++;
        if (k < 10)
            count[k]++;
        else
            other++;
        if (!f.forces || !(f.flags & MLSHIFT_HAS_ENERGY)) {
            other++;
            continue;
        }
        /* Newton's third law for a diatomic: F0 = −F1, both along r1 − r0. */
        const double *F = f.forces, *R = f.positions;
        double d[3] = {R[3] - R[0], R[4] - R[1], R[5] - R[2]};
        double c[3] = {F[1] * d[2] - F[2] * d[1], F[2] * d[0] - F[0] * d[2],
                       F[0] * d[1] - F[1] * d[0]};
        for (int a = 0; a < 3; a++) {
            worst_sum = fmax(worst_sum, fabs(F[a] + F[3 + a]));
            worst_cross = fmax(worst_cross, fabs(c[a]));
        }
    }
    int counts_ok = other == 0;
    for (int k = 0; k < 10; k++)
        counts_ok &= count[k] == want[k];
    CHECK(counts_ok, "ani2x: species pair counts differ from h5py's");
    CHECK(worst_sum <= 1e-8, "ani2x: |F0 + F1| up to %g eV/Å", worst_sum);
    CHECK(worst_cross <= 1e-10, "ani2x: |F0 × r01| up to %g", worst_cross);
    mlshift_frame f;
    if (mlshift_frames_get(fr, 0, &f) == MLSHIFT_OK) {
        /* h5py: energies[0] = -113.278573616 Ha, species [6, 8],
         * coordinates[0] z = -0.66948843, 0.50212127 Å (float32),
         * forces[0] z = ±0.14980902 Ha/Å. */
        CHECK(f.numbers[0] == 6 && f.numbers[1] == 8, "ani2x frame 0 species");
        CHECK_CLOSE(f.energy, -113.278573616 * HARTREE, 0, 1e-15,
                    "ani2x frame 0 energy");
        CHECK_CLOSE(f.positions[2], -0.66948843, 1e-7, 0, "ani2x frame 0 z0");
        CHECK_CLOSE(f.positions[5], 0.50212127, 1e-7, 0, "ani2x frame 0 z1");
        CHECK_CLOSE(f.forces[2], 0.14980902 * HARTREE, 1e-7, 0,
                    "ani2x frame 0 Fz0");
    }
    mlshift_frames_destroy(fr);
}

/* ----------------------------------------------- files written right here */

static char tmpdir[256];

static const char *tmp_path(const char *name)
{
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
    return buf[k];
}

static void put(hid_t loc, const char *name, hid_t ftype, hid_t mtype,
                int rank, const hsize_t *dims, const void *data)
{
    hid_t s = H5Screate_simple(rank, dims, NULL);
    hid_t d = H5Dcreate2(loc, name, ftype, s, H5P_DEFAULT, H5P_DEFAULT,
                         H5P_DEFAULT);
    H5Dwrite(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
    H5Dclose(d);
    H5Sclose(s);
}

static void put_vlen_string(hid_t loc, const char *name, const char *val)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    hsize_t one = 1;
    put(loc, name, t, t, 1, &one, &val);
    H5Tclose(t);
}

static void put_fixed_string(hid_t loc, const char *name, const char *val)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, strlen(val));
    H5Tset_strpad(t, H5T_STR_NULLPAD);
    hid_t s = H5Screate(H5S_SCALAR);
    hid_t d = H5Dcreate2(loc, name, t, s, H5P_DEFAULT, H5P_DEFAULT,
                         H5P_DEFAULT);
    H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, val);
    H5Dclose(d);
    H5Sclose(s);
    H5Tclose(t);
}

static void put_units(hid_t loc, const char *dset, const char *units)
{
    hid_t d = H5Dopen2(loc, dset, H5P_DEFAULT);
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    hid_t s = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(d, "units", t, s, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, t, &units);
    H5Aclose(a);
    H5Sclose(s);
    H5Tclose(t);
    H5Dclose(d);
}

/* A SPICE group of M = 2 conformers of N = 3 atoms (H, C, O) with known
 * values: x = 0.5·(3N·k + 3i + a) bohr, E = −1 − k hartree, gradient
 * 0.01·(3i + a + 1)·(k + 1) hartree/bohr. pos_last/e_len bend the shapes. */
static void put_spice(hid_t file, const char *name, int pos_last, int e_len,
                      const char *smiles, const char *units)
{
    hid_t g = H5Gcreate2(file, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    short z[3] = {1, 6, 8};
    float x[18], gr[18];
    double e[3] = {-1, -2, -3};
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < 9; i++) {
            x[9 * k + i] = 0.5f * (float)(9 * k + i);
            gr[9 * k + i] = 0.01f * (float)((i + 1) * (k + 1));
        }
    hsize_t dn = 3, dx[3] = {2, 3, (hsize_t)pos_last}, de = (hsize_t)e_len,
            dg[3] = {2, 3, 3};
    put(g, "atomic_numbers", H5T_STD_I16LE, H5T_NATIVE_SHORT, 1, &dn, z);
    put(g, "conformations", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 3, dx, x);
    put(g, "dft_total_energy", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, &de, e);
    put(g, "dft_total_gradient", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 3, dg, gr);
    if (smiles)
        put_vlen_string(g, "smiles", smiles);
    put_fixed_string(g, "subset", "tiny set");
    if (units)
        put_units(g, "conformations", units);
    H5Gclose(g);
}

/* An ANI-2x group of M conformers of 2 atoms (H, F): x = k + 0.25·a Å,
 * E = −100 − k hartree, F = 0.1·(a + 1) hartree/Å. */
static void put_ani2x(hid_t loc, const char *name, int M)
{
    hid_t g = H5Gcreate2(loc, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    long long sp[8];
    double x[24], e[4], f[24];
    for (int k = 0; k < M; k++) {
        sp[2 * k] = 1;
        sp[2 * k + 1] = 9;
        e[k] = -100.0 - k;
        for (int a = 0; a < 6; a++) {
            x[6 * k + a] = k + 0.25 * a;
            f[6 * k + a] = 0.1 * (a + 1);
        }
    }
    hsize_t ds[2] = {(hsize_t)M, 2}, dx[3] = {(hsize_t)M, 2, 3},
            de = (hsize_t)M;
    put(g, "species", H5T_STD_I64LE, H5T_NATIVE_LLONG, 2, ds, sp);
    put(g, "coordinates", H5T_IEEE_F32LE, H5T_NATIVE_DOUBLE, 3, dx, x);
    put(g, "energies", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, &de, e);
    put(g, "forces", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 3, dx, f);
    H5Gclose(g);
}

static hid_t new_file(const char *name)
{
    return H5Fcreate(tmp_path(name), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
}

static void write_bytes(const char *path, const void *data, size_t n)
{
    FILE *fp = fopen(path, "wb");
    if (fp) {
        if (n)
            fwrite(data, 1, n, fp);
        fclose(fp);
    }
}

static void make_files(void)
{
    hid_t f, g;
    /* Nested groups, links and both string kinds. */
    f = new_file("nested.h5");
    put_ani2x(f, "a", 1);
    g = H5Gcreate2(f, "b", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    put_spice(g, "inner", 3, 2, "C\\C=C/C \"x\"", "bohr");
    H5Lcreate_hard(f, "/b", g, "loop", H5P_DEFAULT, H5P_DEFAULT);
    H5Gclose(g);
    g = H5Gcreate2(f, "c_empty", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Gclose(g);
    H5Lcreate_soft("/a", f, "z_soft", H5P_DEFAULT, H5P_DEFAULT);
    H5Lcreate_external("nowhere.h5", "/x", f, "y_ext", H5P_DEFAULT,
                       H5P_DEFAULT);
    H5Fclose(f);

    /* A foreign layout after a good group. */
    f = new_file("foreign.h5");
    put_ani2x(f, "a", 2);
    g = H5Gcreate2(f, "mol", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    double xyz[9] = {0};
    int zz[3] = {1, 1, 1};
    hsize_t d2[2] = {3, 3}, d1 = 3;
    put(g, "xyz", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, d2, xyz);
    put(g, "z", H5T_STD_I32LE, H5T_NATIVE_INT, 1, &d1, zz);
    H5Gclose(g);
    H5Fclose(f);

    f = new_file("shape.h5");
    put_spice(f, "bad", 2, 2, NULL, NULL);
    H5Fclose(f);
    f = new_file("eshape.h5");
    put_spice(f, "bad", 3, 3, NULL, NULL);
    H5Fclose(f);
    f = new_file("units.h5");
    put_spice(f, "nm", 3, 2, NULL, "nanometer");
    H5Fclose(f);
    f = new_file("nogroups.h5");
    H5Fclose(f);

    /* A shape far beyond the file's bytes (declared, never written). */
    f = new_file("huge.h5");
    g = H5Gcreate2(f, "big", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t dh[3] = {1000000000, 3, 3};
    hid_t sh = H5Screate_simple(3, dh, NULL);
    hid_t dd = H5Dcreate2(g, "conformations", H5T_IEEE_F32LE, sh,
                          H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dclose(dd);
    H5Sclose(sh);
    put(g, "atomic_numbers", H5T_STD_I32LE, H5T_NATIVE_INT, 1, &d1, zz);
    H5Gclose(g);
    H5Fclose(f);

    /* ANI-1x with an absent level on conformer 1 and a broken one. */
    for (int broken = 0; broken < 2; broken++) {
        f = new_file(broken ? "ani1x_broken.h5" : "ani1x_nan.h5");
        g = H5Gcreate2(f, "H2", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        unsigned char z[2] = {1, 1};
        float x[12] = {0, 0, 0, 0, 0, 0.74f, 0, 0, 0, 0, 0, 0.8f};
        double e[2] = {-1.1, NAN};
        float fr[12] = {0, 0, 1, 0, 0, -1, NAN, NAN, NAN, NAN, NAN, NAN};
        if (broken)
            fr[6] = 0.5f;
        hsize_t dn = 2, dx[3] = {2, 2, 3}, de = 2;
        put(g, "atomic_numbers", H5T_STD_U8LE, H5T_NATIVE_UCHAR, 1, &dn, z);
        put(g, "coordinates", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 3, dx, x);
        put(g, "wb97x_dz.energy", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, &de,
            e);
        put(g, "wb97x_dz.forces", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 3, dx,
            fr);
        H5Gclose(g);
        H5Fclose(f);
    }

    /* An element that does not exist. */
    f = new_file("badz.h5");
    g = H5Gcreate2(f, "X", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    int z0[2] = {1, 0};
    double x0[6] = {0, 0, 0, 1, 0, 0};
    hsize_t dn = 2, dx[3] = {1, 2, 3};
    put(g, "atomic_numbers", H5T_STD_I32LE, H5T_NATIVE_INT, 1, &dn, z0);
    put(g, "coordinates", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 3, dx, x0);
    put(g, "wb97x_dz.forces", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 3, dx, x0);
    H5Gclose(g);
    H5Fclose(f);

    write_bytes(tmp_path("text.h5"), "hello, not hdf5\n", 16);
    write_bytes(tmp_path("empty.h5"), "", 0);
    char *data = NULL;
    size_t len = 0;
    FILE *fp = fopen(check_data_path("spice/SPICE-1.1.4_n2.hdf5"), "rb");
    if (fp) {
        data = malloc(1 << 20);
        len = data ? fread(data, 1, 1 << 20, fp) : 0;
        fclose(fp);
    }
    const size_t cut[] = {8, 100, 1024, 4096, len / 2, len - 1};
    for (int k = 0; k < 6 && data && len > 8192; k++) {
        char name[64];
        snprintf(name, sizeof name, "trunc%d.h5", k);
        write_bytes(tmp_path(name), data, cut[k]);
    }
    free(data);
}

static void test_nested(void)
{
    mlshift_frames *fr = mlshift_frames_create();
    mlshift_error err;
    mlshift_status st = read_h5(fr, tmp_path("nested.h5"), NULL, 0, &err);
    CHECK(st == MLSHIFT_OK, "nested: %s", err.message);
    /* "a" (1 frame), then "b/inner" (2); "b/loop", "z_soft", "y_ext" and
     * the empty "c_empty" add nothing. */
    CHECK(mlshift_frames_count(fr) == 3, "nested: %zu frames, want 3",
          mlshift_frames_count(fr));
    static const char *const names[] = {"a", "b/inner", "b/inner"};
    for (size_t i = 0; i < mlshift_frames_count(fr) && i < 3; i++) {
        mlshift_frame f;
        mlshift_frames_get(fr, i, &f);
        char v[256];
        CHECK(mlshift_info_get(f.info, "name", v, sizeof v) &&
                  strcmp(v, names[i]) == 0, "nested frame %zu name '%s'", i, v);
    }
    mlshift_frame f;
    if (mlshift_frames_get(fr, 0, &f) == MLSHIFT_OK) {
        CHECK(f.natoms == 2 && f.numbers[0] == 1 && f.numbers[1] == 9,
              "nested ani2x species");
        CHECK_CLOSE(f.energy, -100 * HARTREE, 0, 1e-15, "nested ani2x energy");
        CHECK_CLOSE(f.forces[5], 0.6 * HARTREE, 0, 1e-15, "nested ani2x F");
        CHECK_CLOSE(f.positions[5], 1.25, 0, 1e-15, "nested ani2x x");
    }
    if (mlshift_frames_get(fr, 2, &f) == MLSHIFT_OK) {
        /* conformer k = 1, atom i = 2 (O), component a = 1: index 7. */
        CHECK(f.natoms == 3 && f.numbers[2] == 8, "nested spice numbers");
        CHECK_CLOSE(f.positions[7], 0.5 * (9 + 7) * BOHR, 0, 1e-15,
                    "nested spice x");
        CHECK_CLOSE(f.energy, -2 * HARTREE, 0, 1e-15, "nested spice energy");
        double g = (double)(0.01f * (float)(8 * 2));
        CHECK_CLOSE(f.forces[7], -g * HARTREE / BOHR, 0, 1e-15,
                    "nested spice force");
        char v[256];
        CHECK(mlshift_info_get(f.info, "smiles", v, sizeof v) &&
                  strcmp(v, "C\\C=C/C \"x\"") == 0,
              "nested smiles read back as '%s' (info: %s)", v, f.info);
        CHECK(mlshift_info_get(f.info, "subset", v, sizeof v) &&
                  strcmp(v, "tiny set") == 0, "nested subset '%s'", v);
        CHECK(mlshift_info_get(f.info, "conf", v, sizeof v) &&
                  strcmp(v, "1") == 0, "nested conf '%s'", v);
    }
    mlshift_frames_destroy(fr);

    /* ANI-1x: NaN energy and all-NaN forces mean "absent". */
    fr = mlshift_frames_create();
    st = read_h5(fr, tmp_path("ani1x_nan.h5"), NULL, 0, &err);
    CHECK(st == MLSHIFT_OK && mlshift_frames_count(fr) == 2, "ani1x_nan: %s",
          err.message);
    if (mlshift_frames_get(fr, 0, &f) == MLSHIFT_OK)
        CHECK(f.flags == (MLSHIFT_HAS_ENERGY | MLSHIFT_HAS_FORCES) &&
                  f.forces[2] == HARTREE,
              "ani1x_nan frame 0 flags %u", f.flags);
    if (mlshift_frames_get(fr, 1, &f) == MLSHIFT_OK)
        CHECK(f.flags == 0 && !f.forces && isnan(f.energy),
              "ani1x_nan frame 1 flags %u", f.flags);
    mlshift_frames_destroy(fr);
}

/* Every bad input fails with the expected status and a message naming the
 * problem, leaves the set as it was and prints nothing. */
static void test_bad_inputs(void)
{
    mlshift_frames *fr = mlshift_frames_create();
    mlshift_error err;
    mlshift_status st = read_h5(fr, check_data_path("spice/SPICE-1.1.4_n2.hdf5"),
                                NULL, 0, &err);
    CHECK(st == MLSHIFT_OK, "spice: %s", err.message);
    size_t n0 = mlshift_frames_count(fr), a0 = mlshift_frames_total_atoms(fr);
    mlshift_frame last;
    mlshift_frames_get(fr, n0 - 1, &last);
    char info0[1024];
    snprintf(info0, sizeof info0, "%s", last.info);

    struct {
        const char *file;
        mlshift_status want;
        const char *text;
    } cases[] = {
        {"missing.h5", MLSHIFT_ERR_IO, "cannot open"},
        {"text.h5", MLSHIFT_ERR_FORMAT, "not an HDF5 file"},
        {"empty.h5", MLSHIFT_ERR_FORMAT, "not an HDF5 file"},
        {"trunc0.h5", MLSHIFT_ERR_FORMAT, ""},
        {"trunc1.h5", MLSHIFT_ERR_FORMAT, ""},
        {"trunc2.h5", MLSHIFT_ERR_FORMAT, ""},
        {"trunc3.h5", MLSHIFT_ERR_FORMAT, ""},
        {"trunc4.h5", MLSHIFT_ERR_FORMAT, ""},
        {"trunc5.h5", MLSHIFT_ERR_FORMAT, ""},
        {"foreign.h5", MLSHIFT_ERR_FORMAT,
         "foreign.h5:mol: not a SPICE, ANI-1x or ANI-2x group "
         "(datasets: xyz, z)"},
        {"shape.h5", MLSHIFT_ERR_FORMAT,
         "shape.h5:bad/conformations: shape (2, 3, 2) but (M, 3, 3) expected"},
        {"eshape.h5", MLSHIFT_ERR_FORMAT,
         "eshape.h5:bad/dft_total_energy: shape (3,) but (2,) expected"},
        {"units.h5", MLSHIFT_ERR_UNSUPPORTED, "units 'nanometer' but 'bohr'"},
        {"nogroups.h5", MLSHIFT_ERR_FORMAT, "no SPICE, ANI-1x or ANI-2x group"},
        {"huge.h5", MLSHIFT_ERR_FORMAT,
         "big/conformations: shape (1000000000, 3, 3) needs more bytes"},
        {"ani1x_broken.h5", MLSHIFT_ERR_VALUE,
         "ani1x_broken.h5:H2: conformer 1: atom 0: force is not finite"},
        {"badz.h5", MLSHIFT_ERR_VALUE, "X: conformer 0: atom 1: atomic number"},
    };
    size_t ncase = sizeof cases / sizeof cases[0];
    mlshift_error errs[sizeof cases / sizeof cases[0]];
    mlshift_status sts[sizeof cases / sizeof cases[0]];
    size_t counts[sizeof cases / sizeof cases[0]];

    /* stderr goes to a file while the reader runs on bad input. */
    fflush(stderr);
    int saved = dup(2);
    FILE *cap = fopen(tmp_path("stderr.txt"), "w+");
    if (cap)
        dup2(fileno(cap), 2);
    for (size_t k = 0; k < ncase; k++) {
        sts[k] = mlshift_read_hdf5(fr, tmp_path(cases[k].file), NULL, &errs[k]);
        counts[k] = mlshift_frames_count(fr);
    }
    fflush(stderr);
    long printed = cap ? ftell(cap) : -1;
    if (saved >= 0) {
        dup2(saved, 2);
        close(saved);
    }
    if (cap)
        fclose(cap);
    CHECK(printed == 0, "the reader printed %ld bytes to stderr", printed);
    CHECK(open_ids() == 0, "bad inputs left %d HDF5 handles open", open_ids());

    for (size_t k = 0; k < ncase; k++) {
        CHECK(sts[k] == cases[k].want, "%s: status %s, want %s: %s",
              cases[k].file, mlshift_status_string(sts[k]),
              mlshift_status_string(cases[k].want), errs[k].message);
        CHECK(strstr(errs[k].message, cases[k].text) != NULL,
              "%s: message '%s' lacks '%s'", cases[k].file, errs[k].message,
              cases[k].text);
        CHECK(strstr(errs[k].message, cases[k].file) != NULL,
              "%s: message '%s' does not name the file", cases[k].file,
              errs[k].message);
        CHECK(counts[k] == n0, "%s: frames %zu after a failed read, want %zu",
              cases[k].file, counts[k], n0);
    }
    CHECK(mlshift_frames_total_atoms(fr) == a0, "atoms changed");
    mlshift_frames_get(fr, n0 - 1, &last);
    CHECK(strcmp(last.info, info0) == 0, "last frame's info changed: %s",
          last.info);

    /* The set still grows correctly after the failures. */
    st = read_h5(fr, tmp_path("nested.h5"), NULL, 0, &err);
    CHECK(st == MLSHIFT_OK && mlshift_frames_count(fr) == n0 + 3,
          "append after failures: %zu frames: %s", mlshift_frames_count(fr),
          err.message);
    mlshift_frame f;
    if (mlshift_frames_get(fr, n0, &f) == MLSHIFT_OK)
        CHECK(f.natoms == 2 && strncmp(f.info, "name=a conf=0", 13) == 0,
              "frame after failures: %zu atoms, info '%s'", f.natoms, f.info);
    mlshift_frames_destroy(fr);
}

int main(int argc, char **argv)
{
    if (argc >= 4 && strcmp(argv[1], "--dump") == 0)
        return dump(argv[2], argv[3], argc >= 5 ? argv[4] : NULL);
    snprintf(tmpdir, sizeof tmpdir, "/tmp/mlshift_test_hdf5_XXXXXX");
    if (!mkdtemp(tmpdir)) {
        fprintf(stderr, "test_hdf5: cannot create a temporary directory\n");
        return 1;
    }
    test_spice();
    test_ani1x();
    test_ani2x();
    make_files();
    test_nested();
    test_bad_inputs();

    static const char *const files[] = {
        "nested.h5", "foreign.h5", "shape.h5", "eshape.h5", "units.h5",
        "nogroups.h5", "huge.h5", "ani1x_nan.h5", "ani1x_broken.h5", "badz.h5",
        "text.h5", "empty.h5", "trunc0.h5", "trunc1.h5", "trunc2.h5",
        "trunc3.h5", "trunc4.h5", "trunc5.h5", "stderr.txt"};
    for (size_t k = 0; k < sizeof files / sizeof files[0]; k++)
        remove(tmp_path(files[k]));
    rmdir(tmpdir);
    return check_done();
}
