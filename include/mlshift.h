/* SPDX-License-Identifier: MIT */
/*
 * mlshift — machine-learning interatomic potentials under distribution shift.
 *
 * The public C API. Everything is in eV, Å, fs and amu; readers convert at
 * the file boundary and say so. Fallible calls return an mlshift_status and,
 * when given a non-NULL mlshift_error, fill it with a message of the form
 * "FILE:LINE: what is wrong" (or "FILE:KEY: …"). The library never prints and
 * never exits. Optional arguments: NULL means the default.
 *
 * Example: read frames, build the radius graph of the first one.
 *
 *     mlshift_error err;
 *     mlshift_frames *fr = mlshift_frames_create();
 *     if (mlshift_read(fr, "train.extxyz", NULL, &err) != MLSHIFT_OK) {
 *         fprintf(stderr, "mlshift: %s\n", err.message);
 *         return 2;
 *     }
 *     mlshift_frame f;
 *     mlshift_frames_get(fr, 0, &f);
 *     mlshift_neighbours *nl = mlshift_neighbours_create();
 *     mlshift_neighbours_build(nl, f.natoms, f.positions, f.cell, f.pbc,
 *                              5.0, 0, &err);
 *     printf("%zu edges\n", mlshift_neighbours_n_edges(nl));
 *     mlshift_neighbours_destroy(nl);
 *     mlshift_frames_destroy(fr);
 */
#ifndef MLSHIFT_H
#define MLSHIFT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MLSHIFT_VERSION "0.1.0"

/* Exports. libmlshift.so is built with -fvisibility=hidden: only what this
 * header declares is exported (tests/reference/test_api_symbols.py lists the
 * library's dynamic symbols and fails on any other). The pragma below makes
 * every declaration up to the matching pop at the end of this file public,
 * so a section appended here needs nothing more; MLSHIFT_API marks the
 * same thing on one declaration, for compilers without the pragma. */
#if defined(__GNUC__) && __GNUC__ >= 4
#define MLSHIFT_API __attribute__((visibility("default")))
#pragma GCC visibility push(default)
#else
#define MLSHIFT_API
#endif

/* ------------------------------------------------------------------ status */

typedef enum mlshift_status {
    MLSHIFT_OK = 0,
    MLSHIFT_ERR_IO,          /* cannot open, read or write a file */
    MLSHIFT_ERR_FORMAT,      /* malformed or truncated input */
    MLSHIFT_ERR_VALUE,       /* NaN/Inf, unknown element, bad argument */
    MLSHIFT_ERR_MISSING,     /* a required field (energy, forces, key) is absent */
    MLSHIFT_ERR_NOMEM,       /* out of memory */
    MLSHIFT_ERR_UNSUPPORTED  /* a valid input this build cannot handle */
} mlshift_status;

/* A short constant name for a status ("ok", "i/o error", …). */
const char *mlshift_status_string(mlshift_status s);

typedef struct mlshift_error {
    mlshift_status status;
    char message[1024];      /* "FILE:LINE: what is wrong" */
} mlshift_error;

/* Output files. Every file the library writes goes to a temporary
 * "<path>.tmp.<pid>" beside the real file (symbolic links followed; the
 * permissions of a file being replaced kept) and is renamed over it only
 * when every write succeeded. A path that exists and is not a regular file
 * (FIFO, device such as /dev/null) is written through, never replaced.
 *
 * All or none: between mlshift_outputs_begin() and mlshift_outputs_commit()
 * the files written by this thread are completed but left as temporaries;
 * commit renames them all into place, mlshift_outputs_discard() removes them
 * all (a command with several outputs commits them together, or none).
 * Outputs written through to special files cannot be held back. */
void mlshift_outputs_begin(void);
mlshift_status mlshift_outputs_commit(mlshift_error *err);
void mlshift_outputs_discard(void);

/* Removes every temporary of this process that is still being written or
 * held by mlshift_outputs_begin. Async-signal-safe: call it from a SIGINT /
 * SIGTERM handler, then re-raise the signal (the mlshift command does). */
void mlshift_remove_temporaries(void);

/* ---------------------------------------------------------------- elements */

/* Atomic number for a symbol ("C", "Cu"; case-sensitive as in the periodic
 * table), or 0 when unknown. Accepts Z = 1..118. */
int mlshift_element_number(const char *symbol);
/* Symbol for Z = 1..118, or NULL. */
const char *mlshift_element_symbol(int z);
/* Standard atomic mass in amu (IUPAC, as ASE's atomic_masses), or 0. */
double mlshift_element_mass(int z);

/* ------------------------------------------------------------------ frames */

/* Unit conversions applied by the readers. */
#define MLSHIFT_KCALMOL_PER_EV 23.0605      /* MD17/sGDML convention (paper) */
#define MLSHIFT_EV_PER_HARTREE 27.211386245988
#define MLSHIFT_ANGSTROM_PER_BOHR 0.529177210903

/* What a frame carries, as bits of mlshift_frame.flags. */
enum {
    MLSHIFT_HAS_ENERGY = 1u << 0,
    MLSHIFT_HAS_FORCES = 1u << 1,
    MLSHIFT_HAS_CELL = 1u << 2,
    MLSHIFT_HAS_FIXED = 1u << 3
};

/* A view of one frame. mlshift_frames_get fills it with pointers into the
 * set (valid until the set is changed); mlshift_frames_append copies from it.
 * N = natoms. */
typedef struct mlshift_frame {
    size_t natoms;               /* N */
    unsigned flags;              /* MLSHIFT_HAS_* */
    const int *numbers;          /* (N,) atomic numbers */
    const double *positions;     /* (N, 3) Å */
    const double *forces;        /* (N, 3) eV/Å, NULL unless HAS_FORCES */
    const unsigned char *fixed;  /* (N,) 1 = fixed atom, NULL unless HAS_FIXED */
    const double *cell;          /* (3, 3) Å, rows are lattice vectors a, b, c;
                                    NULL unless HAS_CELL */
    int pbc[3];                  /* periodic along a, b, c */
    double energy;               /* eV; NaN unless HAS_ENERGY */
    const char *info;            /* further per-frame fields as extxyz
                                    key=value text, or NULL/"" */
} mlshift_frame;

/* A growable set of frames stored contiguously: one array per quantity, so
 * millions of frames cost a handful of allocations. */
typedef struct mlshift_frames mlshift_frames;

mlshift_frames *mlshift_frames_create(void);
void mlshift_frames_destroy(mlshift_frames *fr);
size_t mlshift_frames_count(const mlshift_frames *fr);
size_t mlshift_frames_total_atoms(const mlshift_frames *fr);
/* Fills *out with a view of frame i (i < count). */
mlshift_status mlshift_frames_get(const mlshift_frames *fr, size_t i,
                                  mlshift_frame *out);
/* Appends a copy of *f. Checks it: known elements, finite positions,
 * energy and forces. `where` names the source in errors (NULL: "frame"). */
mlshift_status mlshift_frames_append(mlshift_frames *fr, const mlshift_frame *f,
                                     const char *where, mlshift_error *err);
/* Appends frames idx[0..n) of src to dst. */
mlshift_status mlshift_frames_select(mlshift_frames *dst,
                                     const mlshift_frames *src,
                                     const size_t *idx, size_t n,
                                     mlshift_error *err);
/* Looks up key in an extxyz info string; copies its (unquoted) value into
 * val (size cap). Returns 1 if found, 0 if not. */
int mlshift_info_get(const char *info, const char *key, char *val, size_t cap);
/* The Hill formula of a frame ("C9H8O4": C, then H, then alphabetical;
 * without carbon, all alphabetical) into buf. */
void mlshift_formula(const mlshift_frame *f, char *buf, size_t cap);
/* Per-structure mean force norm: (1/N) Σ_i |F_i|, eV/Å; NaN without forces. */
double mlshift_frame_mean_force_norm(const mlshift_frame *f);

/* ----------------------------------------------------------------- readers */

typedef enum mlshift_format {
    MLSHIFT_FORMAT_AUTO = 0,     /* by extension: .xyz .extxyz .npz .h5 .hdf5 */
    MLSHIFT_FORMAT_EXTXYZ,
    MLSHIFT_FORMAT_NPZ,
    MLSHIFT_FORMAT_HDF5
} mlshift_format;

/* Options every command that reads frames shares. NULL = all defaults. */
typedef struct mlshift_read_options {
    mlshift_format format;
    const char *energy_key;  /* extxyz info key; NULL: "energy", then
                                "REF_energy", "Energy" */
    const char *forces_key;  /* extxyz per-atom property; NULL: "forces",
                                then "REF_forces", "force" */
    int labels_old;          /* npz (rMD17): use old_energies/old_forces,
                                the original MD17 labels */
    int require_energy;      /* a frame without energy is an error */
    int require_forces;      /* a frame without forces is an error */
    const char *hdf5_level;  /* ANI-1x level prefix; NULL: "wb97x_dz" */
} mlshift_read_options;

/* Appends every frame of `path` to fr; on error fr is left as it was. */
mlshift_status mlshift_read(mlshift_frames *fr, const char *path,
                            const mlshift_read_options *opt, mlshift_error *err);
mlshift_status mlshift_read_extxyz(mlshift_frames *fr, const char *path,
                                   const mlshift_read_options *opt,
                                   mlshift_error *err);
/* Parses extxyz text held in memory (len bytes); `name` labels errors. */
mlshift_status mlshift_parse_extxyz(mlshift_frames *fr, const char *text,
                                    size_t len, const char *name,
                                    const mlshift_read_options *opt,
                                    mlshift_error *err);
/* npz: MD17/MD22 (z, R, E, F) and rMD17 (nuclear_charges, coords, energies,
 * forces, old_indices, old_energies, old_forces); kcal/mol and kcal/mol/Å
 * are divided by MLSHIFT_KCALMOL_PER_EV. rMD17 frames get
 * "old_index=K" in their info (for deduplication). */
mlshift_status mlshift_read_npz(mlshift_frames *fr, const char *path,
                                const mlshift_read_options *opt,
                                mlshift_error *err);
/* Same from memory. */
mlshift_status mlshift_parse_npz(mlshift_frames *fr, const unsigned char *data,
                                 size_t len, const char *name,
                                 const mlshift_read_options *opt,
                                 mlshift_error *err);
/* HDF5: the SPICE layout (conformations bohr, dft_total_energy hartree,
 * dft_total_gradient hartree/bohr → forces = −gradient in eV/Å), the
 * ANI-1x layout (coordinates Å, <level>.energy hartree, <level>.forces
 * hartree/Å; NaN labels mean absent) and the ANI-2x/torchani layout
 * (species (M, N), coordinates Å, energies hartree, forces hartree/Å), one
 * group per molecule. Frames get info name=<group path> conf=<k>
 * [smiles= subset=]; groups in name order, depth first
 * (docs/formats-hdf5.md). */
mlshift_status mlshift_read_hdf5(mlshift_frames *fr, const char *path,
                                 const mlshift_read_options *opt,
                                 mlshift_error *err);

/* ----------------------------------------------------------------- writers */

typedef struct mlshift_write_options {
    const char *energy_key;  /* NULL: "energy" */
    const char *forces_key;  /* NULL: "forces" */
} mlshift_write_options;

/* Writes extxyz that ASE reads. Atomic: a temporary file beside `path`,
 * renamed into place only when complete. */
mlshift_status mlshift_write_extxyz(const mlshift_frames *fr, const char *path,
                                    const mlshift_write_options *opt,
                                    mlshift_error *err);

/* ------------------------------------------------------ splits, dedup */

/* Sizes of train/val/test: counts if >= 1, fractions of n if < 1;
 * a negative test size means "the rest". */
typedef struct mlshift_split_spec {
    double train, val, test;
} mlshift_split_spec;

/* Shuffles 0..n-1 with `seed` (a fixed, documented generator: splitmix64 +
 * Fisher–Yates) and writes the first counts[0] indices as train, the next
 * counts[1] as val, the next counts[2] as test into perm (n,). */
mlshift_status mlshift_split(size_t n, const mlshift_split_spec *spec,
                             uint64_t seed, size_t *perm, size_t counts[3],
                             mlshift_error *err);
/* Indices of the first frame of each distinct (composition, value of info
 * key `key`) pair, in order — an index repeats across molecules (rMD17's
 * old_index does), a frame does not; frames without the key are kept. idx
 * must hold count() entries; *n_out receives how many were written. */
mlshift_status mlshift_dedup(const mlshift_frames *fr, const char *key,
                             size_t *idx, size_t *n_out, mlshift_error *err);

/* --------------------------------------------------------- neighbour lists */

/* A radius graph: every ordered pair (full list) or each pair once (half
 * list, i < j, or for periodic self-images the shift with the first nonzero
 * component positive) with 0 < |r_j + S·cell − r_i| <= cutoff. Edges are
 * grouped by src (CSR: edges of atom i are [first[i], first[i+1])).
 * N = n_atoms, E = n_edges. Opaque (docs/api.md): read it through the
 * accessors below. A list is reusable: build and filter keep its memory. */
typedef struct mlshift_neighbours mlshift_neighbours;

/* An empty list (no atoms, no edges), or NULL when out of memory. */
mlshift_neighbours *mlshift_neighbours_create(void);
/* Frees the list and its memory; NULL is fine. */
void mlshift_neighbours_destroy(mlshift_neighbours *nl);

/* Builds the list with a cell list, O(N). cell (3,3) rows a, b, c or NULL;
 * pbc NULL = none. Periodic directions need a cell; any triclinic cell and
 * cutoffs longer than the cell (several images) work. On failure nl is an
 * empty list. */
mlshift_status mlshift_neighbours_build(mlshift_neighbours *nl, size_t n,
                                        const double *positions,
                                        const double *cell, const int *pbc,
                                        double cutoff, int half,
                                        mlshift_error *err);
/* Keeps the edges of `in` with dist <= cutoff (cutoff <= the cutoff of in)
 * in out, same order; out may not be in. No rebuild. */
mlshift_status mlshift_neighbours_filter(mlshift_neighbours *out,
                                         const mlshift_neighbours *in,
                                         double cutoff, mlshift_error *err);

/* What a list holds. The arrays point into the list: valid until its next
 * build, filter or destroy; with no edges (or before the first build) they
 * may be NULL. */
size_t mlshift_neighbours_n_atoms(const mlshift_neighbours *nl);   /* N */
size_t mlshift_neighbours_n_edges(const mlshift_neighbours *nl);   /* E */
/* The cutoff it was built (or filtered) at, Å; 0 before the first build. */
double mlshift_neighbours_cutoff(const mlshift_neighbours *nl);
/* 1: a half list (each pair once), 0: a full list. */
int mlshift_neighbours_half(const mlshift_neighbours *nl);
/* (E,) i of each edge, ascending. */
const int32_t *mlshift_neighbours_src(const mlshift_neighbours *nl);
/* (E,) j of each edge. */
const int32_t *mlshift_neighbours_dst(const mlshift_neighbours *nl);
/* (E, 3) integer cell shift S of atom j. */
const int32_t *mlshift_neighbours_shift(const mlshift_neighbours *nl);
/* (E, 3) r_j + S·cell − r_i, Å. */
const double *mlshift_neighbours_vec(const mlshift_neighbours *nl);
/* (E,) |vec|, Å. */
const double *mlshift_neighbours_dist(const mlshift_neighbours *nl);
/* (N + 1,) edges of atom i are [first[i], first[i+1]); NULL before the
 * first build. */
const size_t *mlshift_neighbours_first(const mlshift_neighbours *nl);

/* ----------------------------------------------------- Laplacian spectra */

/* Workspace for spectra of graphs of up to max_n atoms (reusable; the
 * compute calls allocate nothing). NULL when out of memory. */
typedef struct mlshift_spectrum_ws mlshift_spectrum_ws;
mlshift_spectrum_ws *mlshift_spectrum_ws_create(size_t max_n);
void mlshift_spectrum_ws_destroy(mlshift_spectrum_ws *ws);

/* Builds L = I − D^-1/2 A D^-1/2 (paper eq. 3) of the subgraph of nl with
 * dist <= cutoff (cutoff <= the list's): A binary, no self loops (periodic
 * self-images ignored), an isolated atom keeps L_ii = 1. The matrix (N, N),
 * column-major, is then at mlshift_laplacian_matrix(ws). */
mlshift_status mlshift_laplacian(mlshift_spectrum_ws *ws,
                                 const mlshift_neighbours *nl, double cutoff,
                                 mlshift_error *err);
const double *mlshift_laplacian_matrix(const mlshift_spectrum_ws *ws);
/* Eigenvalues (N,) of that Laplacian, ascending (LAPACK dsyevd; single
 * precision from MLSHIFT_SINGLE_PRECISION_ATOMS atoms, see below). */
mlshift_status mlshift_laplacian_spectrum(mlshift_spectrum_ws *ws,
                                          const mlshift_neighbours *nl,
                                          double cutoff, double *eig,
                                          mlshift_error *err);
/* Squared spectral distance (paper eq. 5): Σ_l (avg_l − eig_l)², the
 * shorter of the two ascending spectra zero-padded at the end. */
double mlshift_spectral_distance(const double *eig, size_t n,
                                 const double *avg, size_t n_avg);

/* ------------------------------------------------------ shift diagnostics */

#define MLSHIFT_STATS_VERSION 1

/* What a training set looks like along the paper's shift axes (§3.2, A.5):
 * elements and compositions, atoms per structure, carbon fraction, force
 * norm, and the average Laplacian spectrum at a cutoff with each training
 * graph's eq. 5 distance to it. Standard deviations are population ones
 * (numpy's default, ddof = 0). Opaque (docs/api.md): read it through the
 * accessors below. */
typedef struct mlshift_train_stats mlshift_train_stats;

/* Computes the statistics of frames at `cutoff` Å into a new *out (free it
 * with mlshift_stats_destroy; NULL on failure). force_norms (n,) gives each
 * structure's force norm (NaN = none), or NULL to take them from the
 * frames' labels; source names where they came from (NULL: "labels").
 * Fails on an empty set. */
mlshift_status mlshift_stats_compute(const mlshift_frames *frames,
                                     double cutoff, const double *force_norms,
                                     const char *source,
                                     mlshift_train_stats **out,
                                     mlshift_error *err);
/* A versioned JSON file (docs/stats-format.md), written atomically. */
mlshift_status mlshift_stats_write(const mlshift_train_stats *st,
                                   const char *path, mlshift_error *err);
/* Reads such a file into a new *out (NULL on failure). */
mlshift_status mlshift_stats_read(const char *path, mlshift_train_stats **out,
                                  mlshift_error *err);
/* Frees the statistics; NULL is fine. */
void mlshift_stats_destroy(mlshift_train_stats *st);

/* Out-of-distribution flags, as bits. */
enum {
    MLSHIFT_OOD_FEATURES = 1u << 0,     /* unseen element or composition */
    MLSHIFT_OOD_SIZE = 1u << 1,         /* |N − mean| > std */
    MLSHIFT_OOD_CARBON = 1u << 2,       /* |carbon fraction − mean| > std */
    MLSHIFT_OOD_FORCE_NORM = 1u << 3,   /* |force norm − mean| > std */
    MLSHIFT_OOD_CONNECTIVITY = 1u << 4  /* |D − mean D| > std */
};

/* What statistics hold. Strings and arrays point into st: valid until
 * mlshift_stats_destroy. */
/* Å, the cutoff of the radius graphs behind the spectra. */
double mlshift_stats_cutoff(const mlshift_train_stats *st);
/* Training structures. */
size_t mlshift_stats_n_structures(const mlshift_train_stats *st);
/* Atoms of element z (1..118) over the training set; 0 for another z. */
size_t mlshift_stats_element_atoms(const mlshift_train_stats *st, int z);
/* N_max: the largest structure, the length of the spectrum. */
size_t mlshift_stats_natoms_max(const mlshift_train_stats *st);
/* (N_max,) the average ascending spectrum, each training spectrum
 * zero-padded at the end. */
const double *mlshift_stats_spectrum(const mlshift_train_stats *st);
/* Structures that had a force norm, and where the norms came from:
 * "labels", "prior:SPEC" or "none". */
size_t mlshift_stats_n_force(const mlshift_train_stats *st);
const char *mlshift_stats_force_source(const mlshift_train_stats *st);
/* The distinct Hill formulas of the training set: n_compositions of them,
 * each NUL-terminated, back to back (*len, if non-NULL, receives the bytes
 * in all). */
size_t mlshift_stats_n_compositions(const mlshift_train_stats *st);
const char *mlshift_stats_compositions(const mlshift_train_stats *st,
                                       size_t *len);
/* One shift axis, named by its flag: MLSHIFT_OOD_SIZE (atoms per
 * structure), MLSHIFT_OOD_CARBON (fraction of atoms that are carbon),
 * MLSHIFT_OOD_FORCE_NORM ((1/N) Σ_i |F_i|, eV/Å, over the structures with
 * a norm) or MLSHIFT_OOD_CONNECTIVITY (each training graph's eq. 5
 * distance to the average spectrum). Its mean, its std, and the fraction
 * of the training structures themselves that the 1-std rule flags on it
 * (what a flag rate on test data compares with). NaN for another axis, and
 * for the force norm when no structure had one. */
double mlshift_stats_mean(const mlshift_train_stats *st, unsigned axis);
double mlshift_stats_std(const mlshift_train_stats *st, unsigned axis);
double mlshift_stats_train_ood(const mlshift_train_stats *st, unsigned axis);

/* One structure seen against the training statistics. */
typedef struct mlshift_diagnosis {
    size_t natoms;
    int n_unseen_elements;          /* elements absent from training */
    int unseen_elements[8];         /* the first 8 of them (Z) */
    int composition_seen;           /* its Hill formula occurs in training */
    double carbon_fraction;
    double force_norm;              /* eV/Å, NaN when none was given */
    double spectral_distance;       /* eq. 5 to the training average */
    int padded;                     /* N > N_max: the average was padded */
    unsigned ood;                   /* MLSHIFT_OOD_* */
} mlshift_diagnosis;

/* Reusable scratch for diagnosis and radius refinement (a neighbour list,
 * a spectrum workspace, spectra). */
typedef struct mlshift_shift_ws mlshift_shift_ws;
mlshift_shift_ws *mlshift_shift_ws_create(void);
void mlshift_shift_ws_destroy(mlshift_shift_ws *ws);

/* Diagnoses frame f. force_norm: the structure's force norm (from labels or
 * a prior), NaN if none (then no force-norm flag). The overall verdict is
 * d->ood != 0. */
mlshift_status mlshift_diagnose(const mlshift_train_stats *st,
                                const mlshift_frame *f, double force_norm,
                                mlshift_shift_ws *ws, mlshift_diagnosis *d,
                                mlshift_error *err);

/* Test-time radius refinement (paper eq. 4): the radius among radii[0..k)
 * — and the training cutoff, always a candidate — whose spectrum is closest
 * (eq. 5) to the training average. Ties go to the training cutoff, then to
 * the smaller radius. The graph is built once at the largest radius and
 * filtered for the others. distances (k,), if non-NULL, receives eq. 5 at
 * each trial radius. */
typedef struct mlshift_refinement {
    double radius;                  /* Å, chosen */
    double spectral_distance;       /* at the chosen radius */
    double spectral_distance_train; /* at the training cutoff */
    double degree_std;              /* std of node degrees at the chosen radius */
    double degree_std_train;        /* … at the training cutoff */
} mlshift_refinement;
mlshift_status mlshift_refine_radius(const mlshift_train_stats *st,
                                     const mlshift_frame *f,
                                     const double *radii, size_t k,
                                     mlshift_shift_ws *ws,
                                     mlshift_refinement *out,
                                     double *distances, mlshift_error *err);

/* One radius for a set of structures (a molecule, for MD, where the radius
 * must stay fixed): the candidate minimising the mean eq. 5 distance over
 * frames idx[0..n) of fr, with the same candidates and ties as above. out
 * holds means over the set. */
mlshift_status mlshift_refine_radius_set(const mlshift_train_stats *st,
                                         const mlshift_frames *fr,
                                         const size_t *idx, size_t n,
                                         const double *radii, size_t k,
                                         mlshift_shift_ws *ws,
                                         mlshift_refinement *out,
                                         mlshift_error *err);

/* Eq. 5 distance of frame f's spectrum at radius r to the training
 * average, and (if non-NULL) the std of its node degrees. */
mlshift_status mlshift_spectral_distance_at(const mlshift_train_stats *st,
                                            const mlshift_frame *f, double r,
                                            mlshift_shift_ws *ws, double *dist,
                                            double *degree_std,
                                            mlshift_error *err);

/* Training graphs within spectral distance ε of a test graph (paper
 * Fig. 19), counted through an index of the training spectra sorted by norm
 * (exact: the norm bounds the candidates, eq. 5 decides). */
typedef struct mlshift_spectral_index mlshift_spectral_index;
mlshift_status mlshift_spectral_index_build(const mlshift_frames *train,
                                            double cutoff,
                                            mlshift_spectral_index **out,
                                            mlshift_error *err);
/* How many training spectra b have eq. 5 distance(eig, b) <= eps. */
size_t mlshift_spectral_index_count(const mlshift_spectral_index *ix,
                                    const double *eig, size_t n, double eps);
size_t mlshift_spectral_index_size(const mlshift_spectral_index *ix);
void mlshift_spectral_index_destroy(mlshift_spectral_index *ix);
/* The ascending spectrum at `cutoff` of frame f into eig (f->natoms,):
 * the same graph and Laplacian the diagnostics use. */
mlshift_status mlshift_frame_spectrum(const mlshift_frame *f, double cutoff,
                                      mlshift_shift_ws *ws, double *eig,
                                      mlshift_error *err);

/* ------------------------------------------------------------------ priors */

/* A cheap physical prior behind one calculator interface (labelling,
 * diagnostics, TTT, MD and relaxation all use it). SPEC:
 *   "lj" or "lj:FILE"   Lennard-Jones, UFF σ/ε by element (FILE overrides),
 *                       Lorentz–Berthelot mixing, smooth cutoff
 *   "emt"               effective-medium theory with ASE's parameters
 *   "xtb:gfn2" | "xtb:gfn1" | "xtb:gfnff" [",charge=Q,uhf=U"]   libxtb
 *   "sgdml:MODEL"       an sGDML model file (ours, or a 2018 sGDML .npz)
 * A prior is not thread-safe; use one per thread (the xtb prior also
 * shares one libxtb environment behind a process-wide lock: see
 * "process-wide state" at the end of this header). */
typedef struct mlshift_prior mlshift_prior;

/* What a prior can do, as bits of mlshift_prior_caps(). */
enum {
    MLSHIFT_PRIOR_PERIODIC = 1u << 0,   /* handles periodic cells */
    MLSHIFT_PRIOR_VIRIAL = 1u << 1      /* returns a virial */
};

mlshift_status mlshift_prior_create(const char *spec, mlshift_prior **out,
                                    mlshift_error *err);
void mlshift_prior_destroy(mlshift_prior *p);
/* The spec it was created from, e.g. "xtb:gfn2,charge=0,uhf=0". */
const char *mlshift_prior_spec(const mlshift_prior *p);
unsigned mlshift_prior_caps(const mlshift_prior *p);
/* Energy (eV) and, when non-NULL, forces (N, 3) eV/Å and virial (3, 3) eV
 * (W = −Σ r ⊗ ∂E/∂r, so the stress is −W/V) of frame f. A frame the prior
 * cannot handle (an element it lacks parameters for, a periodic cell it
 * cannot do, SCC failure) is an error naming the reason. */
mlshift_status mlshift_prior_compute(mlshift_prior *p, const mlshift_frame *f,
                                     double *energy, double *forces,
                                     double *virial, mlshift_error *err);

/* ------------------------------------------------------------------ models */

/* A conservative MLIP (PaiNN or SchNet) with a shared representation and two
 * heads: main (the reference level) and prior (the cheap prior's level).
 * Forces are −dE/dr. The radial basis is in absolute Å; only the envelope
 * follows the run-time cutoff, so radius refinement changes the graph and
 * the envelope, nothing else (docs/models.md). Not thread-safe: one model
 * object per thread. */
typedef struct mlshift_model mlshift_model;

typedef enum mlshift_head {
    MLSHIFT_HEAD_MAIN = 0,
    MLSHIFT_HEAD_PRIOR = 1
} mlshift_head;

/* The arithmetic of a model's graphs: float64, or float32 (twice the speed;
 * forces within ~1e-6 of the largest, energies within ~1e-6 eV: the
 * constant per-element energies are added in double). Training and TTT
 * default to float32 (same validation MAE as float64, docs/training.md),
 * model evaluation and MD to float64. Weights are double either way. */
typedef enum mlshift_dtype { MLSHIFT_FLOAT64 = 0, MLSHIFT_FLOAT32 = 1 } mlshift_dtype;

/* Reads a model file (another version, a bad checksum, truncation: a clear
 * error). */
mlshift_status mlshift_model_load(const char *path, mlshift_model **out,
                                  mlshift_error *err);
void mlshift_model_destroy(mlshift_model *m);
/* The training cutoff, Å (the default run-time cutoff). */
double mlshift_model_cutoff(const mlshift_model *m);
/* The arithmetic of m's evaluations from now on (mlshift_model_compute,
 * the calculator, MD): MLSHIFT_FLOAT64 (default) or MLSHIFT_FLOAT32. */
void mlshift_model_set_dtype(mlshift_model *m, mlshift_dtype dt);
/* Makes the TTT subset the embedding and blocks [0, ttt_blocks) of the
 * representation (0 <= ttt_blocks <= rep_blocks): a regrouping of the same
 * parameters, the function unchanged (the paper's min/max choice of what
 * test-time training may move, made at test time). */
mlshift_status mlshift_model_set_ttt_blocks(mlshift_model *m, int ttt_blocks,
                                            mlshift_error *err);
/* Energy (eV) and, when non-NULL, forces (N, 3) eV/Å of frame f through
 * `head` at run-time cutoff `cutoff` Å (<= 0: the training cutoff). */
mlshift_status mlshift_model_compute(mlshift_model *m, const mlshift_frame *f,
                                     mlshift_head head, double cutoff,
                                     double *energy, double *forces,
                                     mlshift_error *err);

/* ------------------------------------------------------ molecular dynamics */

/* Units of MD: positions Å, velocities Å/fs, masses amu (mlshift_element_
 * mass), time fs, energies eV, forces eV/Å (docs/md.md). The constants are
 * CODATA 2014, the set ASE 3.22 uses, so trajectories and momenta agree with
 * ASE's bit for bit in the constants. */
#define MLSHIFT_CODATA_E 1.6021766208e-19      /* elementary charge, C */
#define MLSHIFT_CODATA_AMU 1.660539040e-27     /* atomic mass unit, kg */
#define MLSHIFT_CODATA_KB 1.38064852e-23       /* Boltzmann constant, J/K */
/* k_B in eV/K (8.6173303e-5). */
#define MLSHIFT_KB_EV (MLSHIFT_CODATA_KB / MLSHIFT_CODATA_E)
/* 1 amu·Å²/fs² in eV (103.642696…): E_kin = ½ m v² · this; a = F/m / this. */
#define MLSHIFT_EV_PER_AMU_A2_FS2 (MLSHIFT_CODATA_AMU * 1e10 / MLSHIFT_CODATA_E)
/* ASE's time unit in fs, 1e5·√(amu/e) (10.1805…): ASE momenta (amu·Å per
 * ASE time unit) = m·v(Å/fs)·this. */
#define MLSHIFT_FS_PER_ASE_TIME 10.180505671156723

/* A calculator for MD: energy (eV) and forces (N, 3) eV/Å of frame f.
 * Either a function pointer with its context, or a prior, or a model with a
 * head and a run-time cutoff (Å, <= 0: the training cutoff); exactly one. */
typedef mlshift_status (*mlshift_md_compute_fn)(void *ctx,
                                                const mlshift_frame *f,
                                                double *energy, double *forces,
                                                mlshift_error *err);
typedef struct mlshift_md_calculator {
    mlshift_md_compute_fn compute;
    void *ctx;
    mlshift_prior *prior;
    mlshift_model *model;
    mlshift_head head;
    double cutoff;
} mlshift_md_calculator;

typedef enum mlshift_md_integrator {
    MLSHIFT_MD_VERLET = 0,      /* velocity Verlet, NVE */
    MLSHIFT_MD_LANGEVIN,        /* Langevin NVT, BAOAB splitting */
    MLSHIFT_MD_NOSE_HOOVER      /* one Nosé–Hoover thermostat, as MDsim */
} mlshift_md_integrator;

typedef struct mlshift_md_options {
    mlshift_md_integrator integrator;
    double dt_fs;               /* time step, fs (default 0.5) */
    double temperature_K;       /* thermostat target and Maxwell–Boltzmann
                                   draw, K (default 500) */
    double friction_per_fs;     /* Langevin γ, fs⁻¹ (default 0.01, the
                                   paper's; the authors' code ran ≈ 0.001) */
    double ttime;               /* Nosé–Hoover: Q = 3N·k_B·T·(ttime·dt)²
                                   (default 20, MDsim's) */
    int fix_com;                /* Langevin: remove the centre-of-mass
                                   momentum after each O step (ASE's fixcm);
                                   default 0 */
    uint64_t seed;              /* velocities and Langevin noise (default 0) */
    double t_min_K, t_max_K;    /* stop when T leaves [t_min, t_max]
                                   (default 0.1, 1e5; <= 0: no bound) */
    int check_collapse;         /* stop on bond collapse (default 0) */
    double collapse_A;          /* max |ℓ_b − ℓ̄_b| allowed, Å (default 0.5) */
    double bond_skin_A;         /* bond: d < r_cov,i + r_cov,j + skin
                                   (default 0.6, MDsim's) */
} mlshift_md_options;

/* Fills *o with the defaults above (velocity Verlet). */
void mlshift_md_options_default(mlshift_md_options *o);

/* Why a run stopped. */
typedef enum mlshift_md_stop {
    MLSHIFT_MD_RUNNING = 0,
    MLSHIFT_MD_STOP_NONFINITE,     /* NaN/Inf in energy, forces or state */
    MLSHIFT_MD_STOP_TEMPERATURE,   /* T outside [t_min, t_max] */
    MLSHIFT_MD_STOP_COLLAPSE,      /* a bond left its reference by more than
                                      collapse_A */
    MLSHIFT_MD_STOP_CALCULATOR,    /* the calculator failed (the error says
                                      why) */
    MLSHIFT_MD_STOP_OBSERVER       /* the run's observer asked to stop */
} mlshift_md_stop;
const char *mlshift_md_stop_string(mlshift_md_stop s);

/* An MD run: the state (positions, velocities, forces, energies, thermostat
 * variables, generator) of one system. Not thread-safe. */
typedef struct mlshift_md mlshift_md;

/* Starts a run from frame `start` (numbers, positions, cell, pbc). velocities
 * (N, 3) Å/fs are used as given, or, when NULL, drawn from Maxwell–Boltzmann
 * at temperature_K with zero centre-of-mass momentum. Computes the first
 * forces: an element or cell the calculator cannot handle fails here. The
 * calculator (and the prior or model in it) must outlive the run. opt NULL:
 * defaults. */
mlshift_status mlshift_md_create(const mlshift_frame *start,
                                 const double *velocities,
                                 const mlshift_md_calculator *calc,
                                 const mlshift_md_options *opt,
                                 mlshift_md **out, mlshift_error *err);
void mlshift_md_destroy(mlshift_md *md);

/* Bond-collapse reference (used when check_collapse is set): the bonds of
 * the start frame with ref_lengths (B,) Å, e.g. means over a reference
 * trajectory (mlshift_bonds_reference); without it, the start frame's own
 * bond lengths. */
typedef struct mlshift_bonds mlshift_bonds;
mlshift_status mlshift_md_set_bonds(mlshift_md *md, const mlshift_bonds *b,
                                    mlshift_error *err);

/* One step. A stop (see mlshift_md_stop) is not an error: it returns
 * MLSHIFT_OK and the state says why; a step after a stop is
 * MLSHIFT_ERR_VALUE. A calculator failure returns its status. */
mlshift_status mlshift_md_step(mlshift_md *md, mlshift_error *err);

/* Called every `every` steps of mlshift_md_run (and not at step 0); a
 * nonzero return stops the run (MLSHIFT_MD_STOP_OBSERVER). */
typedef int (*mlshift_md_observer)(void *ctx, const mlshift_md *md);
/* Up to n_steps steps, or until a stop. every 0: no observer calls. The
 * observer is also called once on the state a stop left, if that step was
 * not already observed. */
mlshift_status mlshift_md_run(mlshift_md *md, uint64_t n_steps,
                              uint64_t every, mlshift_md_observer observer,
                              void *ctx, mlshift_error *err);

/* A view of the current state (pointers valid until the next step). */
typedef struct mlshift_md_state {
    uint64_t step;
    double time_fs;
    size_t natoms;              /* N */
    const int *numbers;         /* (N,) */
    const double *masses;       /* (N,) amu */
    const double *positions;    /* (N, 3) Å */
    const double *velocities;   /* (N, 3) Å/fs */
    const double *forces;       /* (N, 3) eV/Å */
    const double *cell;         /* (3, 3) Å or NULL */
    int pbc[3];
    double potential;           /* eV */
    double kinetic;             /* eV, Σ ½ m v² */
    double temperature;         /* K, 2 E_kin / (3 N k_B) */
    double zeta;                /* Nosé–Hoover friction, fs⁻¹ (0 otherwise) */
    double max_bond_deviation;  /* Å, when bonds are checked, else NaN */
    mlshift_md_stop stop;
    const char *stop_reason;    /* a sentence, "" while running */
} mlshift_md_state;
void mlshift_md_get_state(const mlshift_md *md, mlshift_md_state *s);

/* The current state as one extxyz frame in *buf (grown with realloc; *cap
 * its size), *len bytes, no NUL counted: species, pos, velocities (Å/fs),
 * momenta (ASE units, so ase.io.read gives get_velocities()), forces;
 * energy (potential), kinetic_energy, total_energy, temperature, time_fs,
 * step, [Lattice,] pbc. Write it with one fwrite and a killed run leaves
 * whole frames only. */
mlshift_status mlshift_md_frame_extxyz(const mlshift_md *md, char **buf,
                                       size_t *cap, size_t *len,
                                       mlshift_error *err);

/* The same with `extra` (NULL or "": nothing) appended to the comment
 * line: further key=value pairs, e.g. the shift monitor's. */
mlshift_status mlshift_md_frame_extxyz_info(const mlshift_md *md,
                                            const char *extra, char **buf,
                                            size_t *cap, size_t *len,
                                            mlshift_error *err);

/* The shift monitor (what `mlshift md --monitor STATS` writes for every
 * saved frame): the current structure seen against training statistics,
 * as mlshift_diagnose sees a structure, with the calculator's forces. */
typedef struct mlshift_md_monitor {
    double cutoff;              /* Å, the radius graph of the spectrum */
    double spectral_distance;   /* eq. 5 to the training average at cutoff */
    double force_norm;          /* (1/N) Σ_i |F_i| of the calculator, eV/Å */
    int ood_force;              /* |force_norm − mean| > std; -1: the stats
                                   hold no force norms */
    int ood_connectivity;       /* distance − spectral_mean > spectral_std,
                                   as mlshift_diagnose */
} mlshift_md_monitor;
/* Fills *out for md's current state; cutoff > 0 Å (the run's: a model's
 * run-time cutoff, or mlshift_stats_cutoff(st)). ws: reusable scratch. */
mlshift_status mlshift_md_monitor_state(const mlshift_md *md,
                                        const mlshift_train_stats *st,
                                        double cutoff, mlshift_shift_ws *ws,
                                        mlshift_md_monitor *out,
                                        mlshift_error *err);

/* Velocities (N, 3) Å/fs of frame `index` of an extxyz file, from its
 * `velocities` column (Å/fs) or else its `momenta` column (ASE's units,
 * divided by the masses of its species). *found = 0 when the frame has
 * neither (velocities untouched); natoms must match the frame. */
mlshift_status mlshift_read_extxyz_velocities(const char *path, size_t index,
                                              size_t natoms, double *velocities,
                                              int *found, mlshift_error *err);

/* One single point of any MD calculator: energy (eV) and forces (N, 3)
 * eV/Å of frame f (what MD, relaxation and the maps below call). */
mlshift_status mlshift_md_calculator_compute(const mlshift_md_calculator *calc,
                                             const mlshift_frame *f, double *energy,
                                             double *forces, mlshift_error *err);

/* Test-time training during MD when the shift monitor flags a sustained
 * shift (the paper's "recalculate θ′ when a new OOD region is
 * encountered"; docs/md.md). Every saved frame is monitored as
 * mlshift_md_monitor_state does and kept in a window of the last `window`
 * frames; after `sustain` consecutive flagged frames (either flag), the
 * model of the run's calculator is adapted in place by `steps` TTT steps
 * (paper eq. 7: only its TTT subset learns, on the prior head's loss)
 * on the window's structures labelled by `prior`; the forces are then
 * recomputed and the run continues. The counter restarts after each
 * adaptation; at most max_adaptations (0: no limit). The model must have
 * a prior head trained on this prior's labels. */
typedef struct mlshift_md_adapt_options {
    const mlshift_train_stats *stats;   /* the monitor's training statistics */
    double cutoff;              /* monitor cutoff, Å (<= 0: the run's) */
    mlshift_prior *prior;       /* labels for TTT */
    size_t sustain;             /* K consecutive flagged frames (default 3) */
    size_t window;              /* recent frames TTT learns from (default 10) */
    size_t steps;               /* TTT steps per adaptation (default 20) */
    size_t batch;               /* TTT batch (default 8) */
    double lr;                  /* SGD learning rate (default 1e-3; momentum
                                   0.9, weight decay 1e-3: the paper's MD17) */
    size_t max_adaptations;     /* default 10 */
    uint64_t seed;              /* TTT batches (default 1) */
} mlshift_md_adapt_options;
void mlshift_md_adapt_options_default(mlshift_md_adapt_options *o);

typedef struct mlshift_md_adapter mlshift_md_adapter;
/* o->stats and o->prior must outlive the adapter. */
mlshift_status mlshift_md_adapter_create(const mlshift_md_adapt_options *o,
                                         mlshift_md_adapter **out,
                                         mlshift_error *err);
void mlshift_md_adapter_destroy(mlshift_md_adapter *a);
/* Call on each saved state of md (a model calculator): *mon gets the
 * monitor's numbers, *adapted 1 when this frame set off an adaptation
 * (the model and md's forces have then changed). */
mlshift_status mlshift_md_adapt(mlshift_md *md, mlshift_md_adapter *a,
                                mlshift_md_monitor *mon, int *adapted,
                                mlshift_error *err);
typedef struct mlshift_md_adapt_report {
    size_t frames;              /* frames seen */
    size_t flagged;             /* of them flagged */
    size_t adaptations;
    double first_ps, last_ps;   /* times of the first and last (NaN: none) */
    size_t ttt_steps;           /* TTT steps in all */
    double prior_loss_before, prior_loss_after;  /* of the last adaptation,
                                   over its window */
} mlshift_md_adapt_report;
void mlshift_md_adapter_report(const mlshift_md_adapter *a,
                               mlshift_md_adapt_report *r);

/* Hessian of calc at frame f by central differences of forces:
 * H_{ia,jb} = −(F_jb(x + h e_ia) − F_jb(x − h e_ia)) / 2h, eV/Å², 6N
 * calls (ASE's Vibrations, nfree 2, delta h), then symmetrised
 * ½(H + Hᵀ) as ASE does; H is (3N, 3N) row-major. *asymmetry (if
 * non-NULL) gets the largest |H − Hᵀ|/2 removed. 0 < h < 1 Å. */
mlshift_status mlshift_hessian(const mlshift_md_calculator *calc,
                               const mlshift_frame *f, double h, double *H,
                               double *asymmetry, mlshift_error *err);
/* The k eigenpairs of symmetric H (d, d) with the largest eigenvalues,
 * descending (LAPACK dsyevd): eig (k,), vec (k, d) unit rows, each with its
 * largest-magnitude component positive. */
mlshift_status mlshift_hessian_modes(const double *H, size_t d, size_t k,
                                     double *eig, double *vec, mlshift_error *err);
/* Energies of calc on the plane x + a·u + b·w through frame f: E (na, nb),
 * E[i·nb + j] at (a[i], b[j]) Å along directions u, w (N, 3). */
mlshift_status mlshift_pes_grid(const mlshift_md_calculator *calc,
                                const mlshift_frame *f, const double *u,
                                const double *w, const double *a, size_t na,
                                const double *b, size_t nb, double *E,
                                mlshift_error *err);

/* ---------------------------------------------------------- relaxation */

/* Geometry optimisation with any MD calculator, step for step ASE 3.22's
 * optimisers (ase.optimize.FIRE, ase.optimize.BFGS with their defaults;
 * docs/md.md, "Relaxation"). Converged when max_i |F_i| < fmax, checked
 * before every step, as ASE's Optimizer.run. Fixed atoms (MLSHIFT_HAS_FIXED)
 * feel no force and do not move, as under ASE's FixAtoms. */
typedef enum mlshift_relax_method {
    MLSHIFT_RELAX_FIRE = 0,     /* fast inertial relaxation engine */
    MLSHIFT_RELAX_BFGS          /* quasi-Newton, dense (3N, 3N) Hessian */
} mlshift_relax_method;

typedef struct mlshift_relax_options {
    mlshift_relax_method method;
    double fmax;                /* eV/Å (default 0.05) */
    double maxstep;             /* Å (default 0.2): FIRE bounds |Δx| of the
                                   whole step, BFGS the longest atom's */
    double alpha;               /* BFGS: initial Hessian α·I, eV/Å² (70) */
    /* FIRE, in ASE's units (v += dt·F, Δx = dt·v): dt 0.1, dtmax 1.0,
     * nmin 5, finc 1.1, fdec 0.5, astart 0.1 (also the first α), fa 0.99. */
    double dt, dtmax, finc, fdec, astart, fa;
    int nmin;
} mlshift_relax_options;

/* Fills *o with the defaults above (FIRE). */
void mlshift_relax_options_default(mlshift_relax_options *o);

/* A relaxation: positions, forces, energy and the optimiser's memory. */
typedef struct mlshift_relax mlshift_relax;

/* Starts from frame `start` (numbers, positions, cell, pbc, fixed) and
 * computes the first forces (an element the calculator lacks fails here).
 * The calculator must outlive the run. opt NULL: defaults. */
mlshift_status mlshift_relax_create(const mlshift_frame *start,
                                    const mlshift_md_calculator *calc,
                                    const mlshift_relax_options *opt,
                                    mlshift_relax **out, mlshift_error *err);
void mlshift_relax_destroy(mlshift_relax *r);

/* One optimiser step (ASE's step()) and the forces at the new positions;
 * it steps even when already converged. NaN/Inf energy or forces are an
 * error (MLSHIFT_ERR_VALUE). */
mlshift_status mlshift_relax_step(mlshift_relax *r, mlshift_error *err);

/* Called after every step of mlshift_relax_run; nonzero stops the run. */
typedef int (*mlshift_relax_observer)(void *ctx, const mlshift_relax *r);
/* Steps until converged, max_steps steps, or the observer says stop (ASE's
 * run(fmax, steps)). Not converging is not an error: see the state. */
mlshift_status mlshift_relax_run(mlshift_relax *r, uint64_t max_steps,
                                 mlshift_relax_observer observer, void *ctx,
                                 mlshift_error *err);

typedef struct mlshift_relax_state {
    uint64_t step;              /* optimiser steps taken */
    size_t natoms;              /* N */
    double energy;              /* eV */
    double fmax;                /* max_i |F_i|, eV/Å (fixed atoms: 0) */
    int converged;              /* fmax < options.fmax */
} mlshift_relax_state;
void mlshift_relax_get_state(const mlshift_relax *r, mlshift_relax_state *s);

/* The current structure as a frame view (numbers, positions, forces (fixed
 * atoms zeroed), energy, cell, pbc, fixed; info NULL), valid until the next
 * step: append it to a mlshift_frames to keep the trajectory. */
void mlshift_relax_frame(const mlshift_relax *r, mlshift_frame *f);

/* ----------------------------------------------------- MD analysis */

/* Bonds after MDsim: pairs i < j of a frame closer than r_cov,i + r_cov,j
 * + skin (Cordero covalent radii, ASE's natural_cutoffs + 2 × 0.3 Å skin),
 * with reference lengths. B = n. */
struct mlshift_bonds {
    size_t n;                   /* B */
    int32_t *pairs;             /* (B, 2) i < j */
    double *ref_length;         /* (B,) Å */
};
/* Bonds of frame f (non-periodic distances), reference = their lengths in
 * f. skin <= 0: 0.6. Frees what *b held. */
mlshift_status mlshift_bonds_from_frame(mlshift_bonds *b, const mlshift_frame *f,
                                        double skin, mlshift_error *err);
/* Sets ref_length to the mean length of each bond over every frame of ref
 * (same atoms in the same order). */
mlshift_status mlshift_bonds_reference(mlshift_bonds *b,
                                       const mlshift_frames *ref,
                                       mlshift_error *err);
/* max_b |ℓ_b − ref_b| for positions (N, 3) Å; 0 without bonds. */
double mlshift_bonds_max_deviation(const mlshift_bonds *b,
                                   const double *positions);
void mlshift_bonds_free(mlshift_bonds *b);
/* Covalent radius (Cordero 2008, as ASE's covalent_radii), Å; 0.2 for
 * elements without one. */
double mlshift_covalent_radius(int z);

/* Stability after Fu et al. (MDsim): the first saved frame k of traj
 * whose max bond deviation exceeds threshold (Å) is the collapse; stability
 * = k · save_interval_ps, or (frames − 1) · save_interval_ps without one.
 * *collapse_frame (if non-NULL) gets k, or the frame count. */
mlshift_status mlshift_stability(const mlshift_bonds *b,
                                 const mlshift_frames *traj, size_t first,
                                 double save_interval_ps, double threshold,
                                 double *stability_ps, size_t *collapse_frame,
                                 mlshift_error *err);

/* h(r) of MDsim (paper eq. 13): every ordered pair i ≠ j of frames
 * [first, end) of fr, histogrammed as numpy.histogram(d, bins=linspace(r_lo,
 * r_hi, nbins + 1), density=True): h (nbins,) in Å⁻¹, integrating to 1 over
 * the range. Distances are non-periodic. MDsim: 500 bins, 1e-6 .. 10 Å. */
mlshift_status mlshift_hr(const mlshift_frames *fr, size_t first, size_t end,
                          size_t nbins, double r_lo, double r_hi, double *h,
                          mlshift_error *err);
/* Paper eq. 14: Σ_k |h_k − g_k| · Δr, Δr = (r_hi − r_lo)/nbins. */
double mlshift_hr_mae(const double *h, const double *g, size_t nbins,
                      double r_lo, double r_hi);

/* NVE energy drift: the least-squares slope of etot (n,) eV against t_ps
 * (n,) over samples with t >= skip_ps, divided by natoms → eV/atom/ps;
 * *fluct (if non-NULL) the std of etot about that line, eV. Needs >= 2
 * samples after skip_ps. */
mlshift_status mlshift_energy_drift(const double *t_ps, const double *etot,
                                    size_t n, size_t natoms, double skip_ps,
                                    double *drift, double *fluct,
                                    mlshift_error *err);

/* ------------------------------------------ streaming: frames in, frames out */

/* Frames one at a time, with memory bounded by a chunk of frames rather
 * than by the file: extxyz is read block by block; npz arrays are mapped
 * and converted a chunk of rows at a time (pages of rows already read are
 * released; a DEFLATE-compressed member is still inflated whole); HDF5 is
 * read one molecule group at a time. Frames, checks and error messages are
 * those of mlshift_read. An error ends the stream; frames returned before it
 * were whole and valid. Not thread-safe.
 *
 *     mlshift_reader *rd;
 *     mlshift_frame f;
 *     int got;
 *     if (mlshift_reader_open("big.extxyz", NULL, &rd, &err)) return …;
 *     while (!mlshift_reader_next(rd, &f, &got, &err) && got)
 *         …                     // f valid until the next call
 *     mlshift_reader_close(rd); // after an error: err says why
 */
typedef struct mlshift_reader mlshift_reader;
/* opt (NULL: defaults) is copied; its strings must outlive the reader.
 * A file that cannot be mapped (an npz pipe) is read whole. */
mlshift_status mlshift_reader_open(const char *path,
                                   const mlshift_read_options *opt,
                                   mlshift_reader **out, mlshift_error *err);
/* The next frame into *f (a view valid until the next call) and *got = 1;
 * at the end of the file *got = 0 and MLSHIFT_OK. */
mlshift_status mlshift_reader_next(mlshift_reader *r, mlshift_frame *f,
                                   int *got, mlshift_error *err);
/* Frames returned so far: the index in the file of the next one. */
size_t mlshift_reader_count(const mlshift_reader *r);
void mlshift_reader_close(mlshift_reader *r);

/* extxyz written frame by frame, with extra named columns beside the
 * standard ones (what mlshift_write_extxyz writes, plus these): per_atom 1
 * is a per-atom property name:R:ncols, per_atom 0 a per-frame info key
 * (name=v, or name="v1 v2 …" for ncols > 1). Names are plain identifiers
 * ([A-Za-z_][A-Za-z0-9_-]*) that do not clash with the standard keys.
 * Atomic as every output: a temporary renamed into place by commit (and
 * held back by mlshift_outputs_begin like any other). */
typedef struct mlshift_column {
    const char *name;
    int per_atom;
    int ncols;
} mlshift_column;
typedef struct mlshift_writer mlshift_writer;
mlshift_status mlshift_writer_open(const char *path,
                                   const mlshift_write_options *opt,
                                   const mlshift_column *columns,
                                   size_t n_columns, mlshift_writer **out,
                                   mlshift_error *err);
/* Writes frame f; values[c] holds column c's values for this frame:
 * (N, ncols) per atom, (ncols,) per frame (values may be NULL without
 * columns). */
mlshift_status mlshift_writer_write(mlshift_writer *w, const mlshift_frame *f,
                                    const double *const *values,
                                    mlshift_error *err);
size_t mlshift_writer_count(const mlshift_writer *w);
/* Completes the file and frees w (also on failure). */
mlshift_status mlshift_writer_commit(mlshift_writer *w, mlshift_error *err);
/* Removes the temporary and frees w; the file at path is untouched. */
void mlshift_writer_abort(mlshift_writer *w);

/* Any other output (CSV, JSON, plots) with the same guarantees: a stdio
 * stream on a temporary beside path, renamed into place by commit. */
typedef struct mlshift_output mlshift_output;
mlshift_status mlshift_output_open(const char *path, mlshift_output **out,
                                   FILE **fp, mlshift_error *err);
/* Flushes, checks every write, renames; frees o (also on failure). */
mlshift_status mlshift_output_commit(mlshift_output *o, mlshift_error *err);
void mlshift_output_abort(mlshift_output *o);

/* Deduplication as mlshift_dedup, one frame at a time: *keep = 1 for the
 * first frame of each (composition, value of info key) pair and for frames
 * without the key. Memory: the distinct pairs seen. */
typedef struct mlshift_dedup_set mlshift_dedup_set;
mlshift_dedup_set *mlshift_dedup_set_create(const char *key);
mlshift_status mlshift_dedup_set_add(mlshift_dedup_set *s,
                                     const mlshift_frame *f, int *keep,
                                     mlshift_error *err);
/* After the last frame: the error mlshift_dedup gives when frames were
 * seen but none had the key. */
mlshift_status mlshift_dedup_set_finish(const mlshift_dedup_set *s,
                                        mlshift_error *err);
void mlshift_dedup_set_destroy(mlshift_dedup_set *s);

/* Training statistics one frame at a time, bit for bit what
 * mlshift_stats_compute gives for the same frames in the same order. Each
 * frame's spectrum is kept for the second pass that the standard
 * deviations and the distances to the average need: in memory up to
 * `spill_bytes` (0: 1 MiB), beyond that in an unnamed temporary file
 * (tmpfile(), in TMPDIR or /tmp: 8 bytes per atom and 24 per frame). */
typedef struct mlshift_stats_builder mlshift_stats_builder;
mlshift_status mlshift_stats_begin(double cutoff, const char *source,
                                   size_t spill_bytes,
                                   mlshift_stats_builder **out,
                                   mlshift_error *err);
/* force_norm: the structure's force norm (eV/Å, NaN = none), or pass
 * mlshift_frame_mean_force_norm(f) for the labels'. */
mlshift_status mlshift_stats_add(mlshift_stats_builder *b,
                                 const mlshift_frame *f, double force_norm,
                                 mlshift_error *err);
/* The statistics into a new *out (free it with mlshift_stats_destroy;
 * NULL on failure); frees b, also on failure. */
mlshift_status mlshift_stats_finish(mlshift_stats_builder *b,
                                    mlshift_train_stats **out,
                                    mlshift_error *err);
void mlshift_stats_abort(mlshift_stats_builder *b);

/* -------------------------------------------- spectra of large structures */

/* From MLSHIFT_SINGLE_PRECISION_ATOMS atoms on, Laplacian eigenvalues come
 * from LAPACK's single-precision ssyevd_2stage (about half the time of
 * dsyevd_2stage; eigenvalues within ~1e-5 absolute, eq. 5 within ~1e-5
 * relative: docs/shift-diagnostics.md, "Cost"). exact = 1 keeps double
 * precision at every size, for one workspace. */
#define MLSHIFT_SINGLE_PRECISION_ATOMS 2000
void mlshift_spectrum_ws_set_exact(mlshift_spectrum_ws *ws, int exact);
void mlshift_shift_ws_set_exact(mlshift_shift_ws *ws, int exact);
/* Radius refinement of a structure above 128 atoms solves its distinct
 * trial graphs on this many threads at once (default 1; each thread holds
 * one more N × N matrix: 200 MB at 5,000 atoms). The result does not
 * depend on the count. */
void mlshift_shift_ws_set_threads(mlshift_shift_ws *ws, int threads);

/* =================================================================== */
/* The product's spine: models, training, test-time training and one    */
/* calculator for a prior or a model alike. The command line, the ASE    */
/* binding (python/mlshift_ase.py) and examples/ use only these calls.   */
/* =================================================================== */

/* ------------------------------------------------------------- version */

/* The library's version, "MAJOR.MINOR.PATCH" (MLSHIFT_VERSION of the
 * library that is running, which may differ from the header compiled
 * against). */
MLSHIFT_API const char *mlshift_version(void);

/* ---------------------------------------------------------------- BLAS */

/* The kernels OpenBLAS runs: its core name ("Haswell", "SkylakeX", …),
 * chosen when it was loaded, from the CPU or from OPENBLAS_CORETYPE. */
MLSHIFT_API const char *mlshift_blas_core(void);

/* ------------------------------------------------------ process-wide state
 *
 * Every handle (frames, prior, model, calculator, data set, MD run) is
 * independent: two threads may use two handles at once, one handle is used
 * by one thread at a time. The exceptions, all inside the library:
 *   - the xtb prior: libxtb 6.5 keeps module state and its output unit per
 *     process, so all xtb priors share one libxtb environment and every
 *     libxtb call of the process is serialised by one lock (xtb priors are
 *     thread-safe but do not run in parallel). Loading a calculator (the
 *     first compute of a prior, and each change of the atoms) changes the
 *     process's working directory to a private temporary one for the
 *     duration of that call, under the lock, and restores it: another
 *     thread that resolves a relative path at that moment sees the
 *     temporary directory. Give absolute paths in threaded programs that
 *     use xtb.
 *   - BLAS threads: the xtb prior sets OpenBLAS (process-wide) to one
 *     thread around its calls when neither OMP_NUM_THREADS nor
 *     OPENBLAS_NUM_THREADS is set. Everything else uses OpenBLAS as the
 *     process configured it; the mlshift command runs it on one thread, and
 *     sGDML's sums differ in the last digits (1e-9 eV/Å) with more.
 *   - output temporaries (mlshift_outputs_begin …): per thread, and one
 *     process-wide list for mlshift_remove_temporaries. */

/* ------------------------------------------------- models: create, save */

typedef enum mlshift_arch {
    MLSHIFT_ARCH_PAINN = 0,
    MLSHIFT_ARCH_SCHNET = 1
} mlshift_arch;

/* Hyper-parameters: everything that fixes the parameter shapes. */
typedef struct mlshift_model_hyper {
    mlshift_arch arch;
    int features;       /* F, features per atom (default 128) */
    int rbf;            /* K, radial basis functions (default 20) */
    int blocks;         /* T, message/interaction blocks (default 3) */
    int rep_blocks;     /* k, blocks in the shared representation, 0..T
                           (default T − 1) */
    int ttt_blocks;     /* j, blocks in the TTT subset, 0..k (default 1) */
    double cutoff;      /* training cutoff, Å: the radial basis and the
                           default run-time cutoff (default 5) */
    int readout_every;  /* 0: one readout after the last block (default);
                           1: a readout after every block, summed (GemNet's
                           output blocks): a shared block's readout is
                           shared by both heads and adapted by TTT */
} mlshift_model_hyper;

/* Fills *h with the defaults above for arch. */
MLSHIFT_API void mlshift_model_hyper_default(mlshift_model_hyper *h,
                                             mlshift_arch arch);
/* A model with seeded random weights (Glorot-uniform matrices, zero
 * biases, scale 1, shift and reference energies 0) for the elements z
 * (n_el distinct atomic numbers). A bad hyper-parameter is an error naming
 * it. */
MLSHIFT_API mlshift_status mlshift_model_create(const mlshift_model_hyper *h,
                                                const int *z, int n_el,
                                                uint64_t seed,
                                                mlshift_model **out,
                                                mlshift_error *err);
/* Writes the model file atomically (docs/models.md). */
MLSHIFT_API mlshift_status mlshift_model_save(const mlshift_model *m,
                                              const char *path,
                                              mlshift_error *err);
/* A deep copy (weights, statistics, training record). */
MLSHIFT_API mlshift_status mlshift_model_clone(const mlshift_model *m,
                                               mlshift_model **out,
                                               mlshift_error *err);

/* Groups of parameters (paper A.1.1.1): the TTT subset and the rest of the
 * representation g_R, the main head h_M, the prior head h_P. */
enum {
    MLSHIFT_GROUP_TTT = 0,
    MLSHIFT_GROUP_REP = 1,
    MLSHIFT_GROUP_MAIN = 2,
    MLSHIFT_GROUP_PRIOR = 3,
    MLSHIFT_NGROUPS = 4
};
/* "ttt", "representation", "main", "prior"; NULL for another number. */
MLSHIFT_API const char *mlshift_group_name(int group);
/* "painn", "schnet". */
MLSHIFT_API const char *mlshift_arch_name(mlshift_arch a);

/* What a model is. Pointers stay valid while the model lives and is not
 * changed (trained, given a new record). */
typedef struct mlshift_model_info {
    mlshift_model_hyper hyper;
    int n_elements;
    const int *elements;        /* (n_elements,) atomic numbers */
    size_t n_params;            /* scalars in all parameters */
    size_t n_tensors;
    size_t group_params[MLSHIFT_NGROUPS];   /* scalars per group */
    size_t group_tensors[MLSHIFT_NGROUPS];  /* tensors per group */
    size_t stats_len;           /* bytes of training statistics carried */
    const char *record;         /* the training record, JSON (what made
                                   this model: mode, optimiser, data files
                                   and their CRC-32, the in-distribution
                                   prior loss), or NULL */
} mlshift_model_info;
MLSHIFT_API void mlshift_model_get_info(const mlshift_model *m,
                                        mlshift_model_info *info);

/* One named parameter tensor. */
typedef struct mlshift_tensor_info {
    const char *name;           /* e.g. "blocks.0.message.W1" */
    int group;                  /* MLSHIFT_GROUP_* */
    int trainable;              /* 0: a statistic set from data (atom_ref,
                                   scale, shift) */
    int ndim;
    size_t shape[3];
} mlshift_tensor_info;
/* Tensor i < info.n_tensors. */
MLSHIFT_API mlshift_status mlshift_model_tensor(const mlshift_model *m,
                                                size_t i,
                                                mlshift_tensor_info *out,
                                                mlshift_error *err);

/* Replaces the training record (a JSON object, copied; NULL clears it). */
MLSHIFT_API mlshift_status mlshift_model_set_record(mlshift_model *m,
                                                    const char *json,
                                                    mlshift_error *err);
/* The number stored under "key" at the top of the record, or NaN. */
MLSHIFT_API double mlshift_model_record_number(const mlshift_model *m,
                                               const char *key);
/* The training statistics the model carries (bytes, e.g. a stats file as
 * mlshift_stats_write writes it), *len bytes, or NULL. */
MLSHIFT_API const void *mlshift_model_stats(const mlshift_model *m,
                                            size_t *len);
MLSHIFT_API mlshift_status mlshift_model_set_stats(mlshift_model *m,
                                                   const void *data,
                                                   size_t len,
                                                   mlshift_error *err);

/* ---------------------------------------------------------- calculator */

/* One calculator for a prior or a model alike: energy, forces, per-atom
 * energies and the virial of a structure, one structure or a batch. It
 * borrows the prior or model (which must outlive it). Not thread-safe:
 * one calculator (and one model or prior) per thread. */
typedef struct mlshift_calc mlshift_calc;

MLSHIFT_API mlshift_status mlshift_calc_from_prior(mlshift_prior *p,
                                                   mlshift_calc **out,
                                                   mlshift_error *err);
/* A model through `head` at run-time cutoff `cutoff` Å (<= 0: the
 * model's training cutoff). */
MLSHIFT_API mlshift_status mlshift_calc_from_model(mlshift_model *m,
                                                   mlshift_head head,
                                                   double cutoff,
                                                   mlshift_calc **out,
                                                   mlshift_error *err);
MLSHIFT_API void mlshift_calc_destroy(mlshift_calc *c);
/* A model's run-time cutoff, Å (<= 0: the training cutoff); radius
 * refinement by hand (e.g. once per molecule before MD). Ends automatic
 * refinement. A prior: MLSHIFT_ERR_VALUE. */
MLSHIFT_API mlshift_status mlshift_calc_set_cutoff(mlshift_calc *c,
                                                   double cutoff,
                                                   mlshift_error *err);
/* Automatic test-time radius refinement (paper eq. 4): every compute
 * first chooses the structure's radius among radii[0..k) and the training
 * cutoff (mlshift_stats_cutoff(st)) with mlshift_refine_radius, as
 * `mlshift predict --refine-radius` does. st and radii are copied. A prior:
 * MLSHIFT_ERR_VALUE. Note that the radius then changes with the geometry:
 * for MD fix it with mlshift_calc_set_cutoff. */
MLSHIFT_API mlshift_status mlshift_calc_set_refinement(
    mlshift_calc *c, const mlshift_train_stats *st, const double *radii,
    size_t k, mlshift_error *err);
/* The cutoff the last compute used, Å (the refined radius under automatic
 * refinement); a prior: 0. */
MLSHIFT_API double mlshift_calc_last_cutoff(const mlshift_calc *c);

/* What a calculator can return, as bits of mlshift_calc_caps(). */
enum {
    MLSHIFT_CALC_FORCES = 1u << 0,
    MLSHIFT_CALC_ENERGIES = 1u << 1,    /* per-atom energies */
    MLSHIFT_CALC_VIRIAL = 1u << 2,      /* virial (periodic or not) */
    MLSHIFT_CALC_PERIODIC = 1u << 3     /* periodic cells */
};
MLSHIFT_API unsigned mlshift_calc_caps(const mlshift_calc *c);

/* Energy (eV) and, when non-NULL, forces (N, 3) eV/Å, per-atom energies
 * (N,) eV summing to the energy, and the virial (3, 3) eV,
 * W = −Σ_edges r_e ⊗ ∂E/∂r_e (for a prior, as mlshift_prior_compute), so
 * the stress of a periodic cell of volume V is σ = −W/V (ASE's sign:
 * σ = (1/V) ∂E/∂ε). A model's virial is the sum over the edges of the
 * radius graph of each pair vector times the energy's gradient with
 * respect to it (the model's energy depends on the positions only through
 * the pair vectors r_e = r_j + S·cell − r_i), which equals −∂E/∂ε under a
 * homogeneous strain of positions and cell. Per-atom energies of a prior:
 * MLSHIFT_ERR_UNSUPPORTED. */
MLSHIFT_API mlshift_status mlshift_calc_compute(mlshift_calc *c,
                                                const mlshift_frame *f,
                                                double *energy, double *forces,
                                                double *energies,
                                                double *virial,
                                                mlshift_error *err);
/* Energies (n,) eV and forces (Σ N, 3) eV/Å (either may be NULL) of frames
 * idx[0..n) of fr (idx NULL: 0..n-1), in order; a model computes them in
 * batches of `batch` structures (0: 32), one graph per batch. A failure
 * names the frame. */
MLSHIFT_API mlshift_status mlshift_calc_compute_batch(mlshift_calc *c,
                                                      const mlshift_frames *fr,
                                                      const size_t *idx,
                                                      size_t n, size_t batch,
                                                      double *energy,
                                                      double *forces,
                                                      mlshift_error *err);
/* The calculator as an MD calculator (for mlshift_md_create and
 * mlshift_relax_create): it fills *out to call c. */
MLSHIFT_API void mlshift_calc_md(mlshift_calc *c, mlshift_md_calculator *out);

/* Force MAE / RMSE (eV/Å, over all 3N components) and energy MAE (eV per
 * structure, over the frames with energies) of c against the frames' own
 * labels (the paper's metrics, reference-notes §1.6). Every frame needs
 * force labels. */
typedef struct mlshift_errors {
    size_t frames, atoms, energy_frames;
    double force_mae, force_rmse;   /* eV/Å */
    double energy_mae;              /* eV per structure; NaN without any */
} mlshift_errors;
MLSHIFT_API mlshift_status mlshift_evaluate(mlshift_calc *c,
                                            const mlshift_frames *fr,
                                            mlshift_errors *out,
                                            mlshift_error *err);

/* ------------------------------------------------------------ data sets */

/* Frames with labels for each head: the main head h_M learns the
 * reference labels (the frames' own energies and forces, where every frame
 * has them), the prior head h_P the prior's. It views the frames (which
 * must outlive it) and copies the labels. */
typedef struct mlshift_dataset mlshift_dataset;

/* Frames idx[0..n) of fr (idx NULL: 0..n-1). */
MLSHIFT_API mlshift_status mlshift_dataset_create(const mlshift_frames *fr,
                                                  const size_t *idx, size_t n,
                                                  mlshift_dataset **out,
                                                  mlshift_error *err);
MLSHIFT_API void mlshift_dataset_destroy(mlshift_dataset *d);
MLSHIFT_API size_t mlshift_dataset_count(const mlshift_dataset *d);
/* Atoms over all frames (the rows of a force label array). */
MLSHIFT_API size_t mlshift_dataset_atoms(const mlshift_dataset *d);
/* Frame k's view (k < count). */
MLSHIFT_API mlshift_status mlshift_dataset_frame(const mlshift_dataset *d,
                                                 size_t k, mlshift_frame *f);
/* Whether head has energy (bit 0) and force (bit 1) labels. */
MLSHIFT_API unsigned mlshift_dataset_labels(const mlshift_dataset *d,
                                            mlshift_head head);
/* Sets head's labels: E (n,) eV and F (atoms, 3) eV/Å (either NULL),
 * copied. */
MLSHIFT_API mlshift_status mlshift_dataset_set_labels(mlshift_dataset *d,
                                                      mlshift_head head,
                                                      const double *E,
                                                      const double *F,
                                                      mlshift_error *err);
/* Called after each frame a prior labels: done of total. */
typedef void (*mlshift_count_fn)(void *ctx, size_t done, size_t total);
/* The prior head's labels computed by prior p. With cache (a file path,
 * or NULL) they are read from it when it holds labels of the same prior
 * spec and the same frames (a CRC-32 over every frame's positions and
 * numbers; *reused = 1), and otherwise computed and written to it
 * atomically (a cache that cannot be written is not an error: *cached =
 * 0). reused, cached, progress may be NULL. */
MLSHIFT_API mlshift_status mlshift_dataset_prior_labels(
    mlshift_dataset *d, mlshift_prior *p, const char *cache, int *reused,
    int *cached, mlshift_count_fn progress, void *ctx, mlshift_error *err);

/* ----------------------------------------------------------- training */

typedef enum mlshift_train_mode {
    MLSHIFT_TRAIN_PRETRAIN = 0,   /* g_R + h_P on prior labels */
    MLSHIFT_TRAIN_FINETUNE = 1,   /* h_M on reference labels, the rest frozen */
    MLSHIFT_TRAIN_JOINT = 2,      /* prior and main losses in one step */
    MLSHIFT_TRAIN_PLAIN = 3       /* g_R + h_M on reference labels (baseline) */
} mlshift_train_mode;
/* "pretrain", …; and back (-1 for another name). */
MLSHIFT_API const char *mlshift_train_mode_name(mlshift_train_mode m);
MLSHIFT_API int mlshift_train_mode_parse(const char *name);

typedef enum mlshift_optimizer {
    MLSHIFT_OPT_SGD = 0,
    MLSHIFT_OPT_ADAM = 1,
    MLSHIFT_OPT_ADAMW = 2
} mlshift_optimizer;
/* "sgd", "adam", "adamw" -> the kind, or -1. */
MLSHIFT_API int mlshift_optimizer_parse(const char *name);

/* torch.optim's rules on float64 (docs/training.md). */
typedef struct mlshift_optim_config {
    mlshift_optimizer kind;
    double lr;                  /* > 0 */
    double momentum;            /* SGD */
    double beta1, beta2, eps;   /* Adam/AdamW */
    int amsgrad;
    double weight_decay;        /* SGD/Adam: L2 in the gradient; AdamW:
                                   decoupled */
    double clip_norm;           /* global gradient norm; 0: off */
    double ema_decay;           /* EMA of the weights; 0: off */
} mlshift_optim_config;
/* lr 1e-3, momentum 0, betas 0.9/0.999, eps 1e-8, nothing else. */
MLSHIFT_API void mlshift_optim_config_default(mlshift_optim_config *c,
                                              mlshift_optimizer kind);

/* The loss parts of eq. 6, per head (index mlshift_head). */
typedef struct mlshift_loss_parts {
    double loss;                /* Σ_h L_h */
    double head[2];             /* L_h */
    double f_mse[2];            /* (eV/Å)² */
    double f_mae[2];            /* eV/Å over 3N components */
    double e_mae[2];            /* eV per structure */
} mlshift_loss_parts;

/* One line of progress: after every step (epoch_end 0) and after every
 * epoch's validation (epoch_end 1). */
typedef struct mlshift_train_event {
    int epoch_end;
    int epoch, epochs;          /* epoch 0-based */
    size_t step, steps_total;   /* global step (1-based), planned total */
    size_t step_in_epoch, steps_per_epoch;
    double loss, lr, grad_norm;
    mlshift_loss_parts train;   /* this step's */
    int have_val;
    mlshift_loss_parts val;     /* epoch_end: validation */
    double seconds;             /* since the start of this run */
    size_t frames_done;
} mlshift_train_event;
typedef void (*mlshift_train_progress_fn)(const mlshift_train_event *ev,
                                          void *ctx);

/* Data parallelism over processes (mlshift-mpi, docs/mpi.md): every rank
 * holds the same model and data and takes a contiguous shard of every
 * batch, its loss weighted by its share of the batch's structures and
 * atoms; allreduce_sum sums x (n,) over the ranks in place (the gradient,
 * then the step's loss parts), returning nonzero on failure. Needs a loss
 * without a centred energy term. */
typedef struct mlshift_train_parallel {
    int rank, size;
    int (*allreduce_sum)(void *ctx, double *x, size_t n);
    void *ctx;
} mlshift_train_parallel;

typedef struct mlshift_train_config {
    mlshift_train_mode mode;
    mlshift_optim_config opt;   /* AdamW, amsgrad, lr 1e-3, eps 1e-7, wd
                                   2e-6, clip 10, EMA 0.999 */
    int epochs;                 /* 10 */
    size_t batch;               /* 32 */
    uint64_t seed;              /* 1: shuffling */
    double energy_weight;       /* λ_E (1) */
    double force_weight;        /* λ_F (100) */
    int l2mae;                  /* force term: mean over atoms of |ΔF_i| */
    double cutoff;              /* Å; <= 0: the model's */
    int plateau_patience;       /* epochs (5); 0: no ReduceLROnPlateau */
    double plateau_factor;      /* 0.8 */
    double min_lr;              /* 1e-6 */
    int early_stop;             /* epochs without a better validation loss;
                                   0: off */
    size_t checkpoint_every;    /* steps; 0: end of each epoch */
    const char *checkpoint;     /* path (written atomically), NULL: none */
    size_t stop_after;          /* stop after this many steps of this run
                                   (the checkpoint keeps the state); 0 off */
    int copy_prior_head;        /* finetune: h_M starts as a copy of h_P (1) */
    mlshift_dtype dtype;        /* MLSHIFT_FLOAT32 */
    int threads;                /* parts of a batch computed at once (1) */
    size_t chunk;               /* structures per part at most (8; memory:
                                   the arena holds one part); 0: batch / threads */
    const mlshift_train_parallel *parallel; /* NULL: one process */
    mlshift_train_progress_fn progress;
    void *progress_ctx;
} mlshift_train_config;
MLSHIFT_API void mlshift_train_config_default(mlshift_train_config *c,
                                              mlshift_train_mode mode);

typedef struct mlshift_train_report {
    size_t steps;               /* global steps taken */
    int epochs;                 /* completed */
    int stopped_early;
    int interrupted;            /* stop_after ended the run */
    int weights;                /* 0 last, 1 EMA, 2 best validation */
    int have_val;
    mlshift_loss_parts val;     /* of the returned weights */
    int underdetermined[2];     /* rank deficit of each fitted head's
                                   per-element reference energies */
    double seconds;
} mlshift_train_report;

/* Trains m in place (paper eq. 6) on train, validating on val (NULL:
 * none). pretrain and joint need prior labels, the others reference
 * labels. resume: a checkpoint of the same configuration; the run then
 * continues bit-identical to an uninterrupted one. The training record is
 * left to the caller (mlshift_model_set_record). */
MLSHIFT_API mlshift_status mlshift_train(mlshift_model *m,
                                         const mlshift_dataset *train,
                                         const mlshift_dataset *val,
                                         const mlshift_train_config *c,
                                         const char *resume,
                                         mlshift_train_report *rep,
                                         mlshift_error *err);

/* The loss of eq. 6 with weights w_e[head], w_f[head] (a head with both 0
 * is skipped) over all of d in batches of `batch`, no gradient; parts are
 * means over frames (force terms weighted by atoms). */
typedef struct mlshift_loss_config {
    double w_e[2], w_f[2];
    int l2mae;
    int center_energy;          /* energy term on ΔE_b − mean ΔE */
} mlshift_loss_config;
MLSHIFT_API mlshift_status mlshift_dataset_loss(mlshift_model *m,
                                                const mlshift_dataset *d,
                                                size_t batch, double cutoff,
                                                const mlshift_loss_config *c,
                                                mlshift_loss_parts *out,
                                                mlshift_error *err);

/* ------------------------------------------------- test-time training */

typedef struct mlshift_ttt_event {
    size_t step, steps;
    double prior_loss;          /* this batch */
    double prior_loss_avg;      /* running average (the stop rules') */
    double prior_f_mse;         /* (eV/Å)² this batch */
    double lr;
    int have_main;              /* main-task MAE measured at this step */
    double main_f_mae, main_e_mae;
} mlshift_ttt_event;
typedef void (*mlshift_ttt_progress_fn)(const mlshift_ttt_event *ev,
                                        void *ctx);

typedef struct mlshift_ttt_config {
    mlshift_optim_config opt;   /* md17: SGD lr 1e-3, momentum 0.9, wd 1e-3,
                                   clip 10 */
    size_t steps, batch;        /* 3000, 32 */
    uint64_t seed;              /* 1 */
    double energy_weight, force_weight;     /* 1, 100 */
    int l2mae;
    double cutoff;              /* Å; <= 0: the model's */
    size_t patience;            /* steps without a better running prior
                                   loss; 0: off */
    double target_f_mse;        /* stop at this running prior force MSE
                                   (the model's in-distribution value,
                                   record key "prior_f_mse_in_dist"); <= 0:
                                   off */
    size_t eval_every;          /* main-task MAE every so many steps; 0 off */
    size_t eval_frames;         /* at most this many frames for it; 0 all */
    mlshift_dtype dtype;        /* MLSHIFT_FLOAT32 */
    int threads;                /* parts of a batch computed at once (1) */
    size_t chunk;               /* structures per part at most; 0: batch / threads */
    mlshift_ttt_progress_fn progress;
    void *progress_ctx;
} mlshift_ttt_config;

/* The paper's presets: "md17" (the defaults above), "spice" (lr 1e-4, 250
 * steps), "md22" (lr 1e-5, 50 steps), "oc20" (Adam lr 1e-4, wd 1e-3, 11
 * steps); NULL: md17. Another name: MLSHIFT_ERR_VALUE. */
MLSHIFT_API mlshift_status mlshift_ttt_config_preset(mlshift_ttt_config *c,
                                                     const char *preset,
                                                     mlshift_error *err);

typedef struct mlshift_ttt_report {
    size_t steps;
    int stop_reason;            /* 0 all steps, 1 patience, 2 reached the
                                   in-distribution prior loss */
    double prior_before, prior_after;           /* prior loss over the set */
    double prior_f_mae_before, prior_f_mae_after;   /* eV/Å */
    int have_main;
    double main_f_mae_before, main_f_mae_after; /* eV/Å */
    double main_e_mae_before, main_e_mae_after; /* eV per structure */
    double seconds;
} mlshift_ttt_report;

/* Test-time training (eq. 7): adapts the TTT subset of m in place on the
 * prior labels of d, everything else frozen; main labels, where d has
 * them, are only measured. */
MLSHIFT_API mlshift_status mlshift_ttt(mlshift_model *m,
                                       const mlshift_dataset *d,
                                       const mlshift_ttt_config *c,
                                       mlshift_ttt_report *rep,
                                       mlshift_error *err);
/* TTT's learning rate from candidates lr (k,): `probe` steps of each from
 * the same start, the lowest prior loss wins (no reference label is read);
 * losses (k,) may be NULL. m is not changed. */
MLSHIFT_API mlshift_status mlshift_ttt_probe_lr(const mlshift_model *m,
                                                const mlshift_dataset *d,
                                                const mlshift_ttt_config *c,
                                                const double *lr, size_t k,
                                                size_t probe, double *best,
                                                double *losses,
                                                mlshift_error *err);

/* -------------------------------------------------------------- sGDML */

/* Trains an sGDML force field on frames fr (energies and forces
 * required) and writes it to path (the "sgdml:PATH" prior reads it);
 * docs/priors-sgdml.md. */
typedef struct mlshift_sgdml_options {
    size_t samples;             /* M training points (required) */
    size_t val;                 /* validation points (0: none: σ = first) */
    const double *sigmas;       /* (nsig,) σ grid */
    size_t nsig;
    uint64_t seed;
    double lambda;              /* regulariser (0: 1e-10) */
    double max_memory;          /* bytes for the kernel; 0: physical RAM */
    int no_perms;               /* identity permutation only */
    int full_grid;              /* every σ on all M points */
} mlshift_sgdml_options;
typedef struct mlshift_sgdml_report {
    size_t frames;
    int perms;                  /* permutational symmetries found */
    double sigma;               /* chosen */
    double val_rmse[64];        /* (nsig,) kcal/mol/Å on all M points, or NaN */
    double val_rmse_sub[64];    /* on the first stage's subset, or NaN */
    size_t sub_samples;         /* points of that subset (0: none) */
    double seconds;
} mlshift_sgdml_report;
MLSHIFT_API mlshift_status mlshift_sgdml_train(const mlshift_frames *fr,
                                               const mlshift_sgdml_options *o,
                                               const char *path,
                                               mlshift_sgdml_report *rep,
                                               mlshift_error *err);

/* ------------------------------------ models in domain decomposition
 * (issue 11: the LAMMPS/KIM driver, kim/; docs/lammps.md) */

/* Atomic energies and the forces of a weighted sum of them, for a frame
 * that holds a process's own atoms and its ghost (padding) atoms:
 * atom_energies (N,) eV the e_i with Σ_i e_i the model's energy,
 * *energy = Σ_i w_i e_i (weights (N,); NULL: all 1) and forces (N, 3) eV/Å
 * = −∂(Σ_i w_i e_i)/∂r_j on every atom j, ghosts included. With w = 1 on
 * the owned atoms, 0 on ghosts reaching mlshift_model_interaction_range()
 * beyond them, the energy is the owned atoms' exact share and a ghost's
 * force is what its owner must add. Outputs may be NULL; head and cutoff
 * as mlshift_model_compute. */
MLSHIFT_API mlshift_status mlshift_model_compute_atoms(mlshift_model *m, const mlshift_frame *f,
                                           mlshift_head head, double cutoff,
                                           const double *weights, double *energy,
                                           double *forces, double *atom_energies,
                                           mlshift_error *err);
/* How far an atom's energy reaches, Å: blocks × cutoff (each message-
 * passing block is one hop of at most the cutoff; cutoff <= 0: the
 * training cutoff). */
MLSHIFT_API double mlshift_model_interaction_range(const mlshift_model *m, double cutoff);

#if defined(__GNUC__) && __GNUC__ >= 4
#pragma GCC visibility pop
#endif

#ifdef __cplusplus
}
#endif
#endif /* MLSHIFT_H */
