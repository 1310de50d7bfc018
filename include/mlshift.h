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
 *     mlshift_neighbours nl = {0};
 *     mlshift_neighbours_build(&nl, f.natoms, f.positions, f.cell, f.pbc,
 *                              5.0, 0, &err);
 *     printf("%zu edges\n", nl.n_edges);
 *     mlshift_neighbours_free(&nl);
 *     mlshift_frames_destroy(fr);
 */
#ifndef MLSHIFT_H
#define MLSHIFT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MLSHIFT_VERSION "0.1.0"

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
 * E = n_edges. A zeroed struct is an empty list; build/filter reuse its
 * memory. */
typedef struct mlshift_neighbours {
    size_t n_atoms;          /* N */
    size_t n_edges;          /* E */
    size_t capacity;         /* edges allocated */
    double cutoff;           /* Å */
    int half;                /* 1: each pair once */
    int32_t *src;            /* (E,) i */
    int32_t *dst;            /* (E,) j */
    int32_t *shift;          /* (E, 3) integer cell shift S of atom j */
    double *vec;             /* (E, 3) r_j + S·cell − r_i, Å */
    double *dist;            /* (E,) |vec|, Å */
    size_t *first;           /* (N + 1,) */
} mlshift_neighbours;

/* Builds the list with a cell list, O(N). cell (3,3) rows a, b, c or NULL;
 * pbc NULL = none. Periodic directions need a cell; any triclinic cell and
 * cutoffs longer than the cell (several images) work. */
mlshift_status mlshift_neighbours_build(mlshift_neighbours *nl, size_t n,
                                        const double *positions,
                                        const double *cell, const int *pbc,
                                        double cutoff, int half,
                                        mlshift_error *err);
/* Keeps the edges of `in` with dist <= cutoff (cutoff <= in->cutoff) in out,
 * same order; out may not be in. No rebuild. */
mlshift_status mlshift_neighbours_filter(mlshift_neighbours *out,
                                         const mlshift_neighbours *in,
                                         double cutoff, mlshift_error *err);
void mlshift_neighbours_free(mlshift_neighbours *nl);

/* ----------------------------------------------------- Laplacian spectra */

/* Workspace for spectra of graphs of up to max_n atoms (reusable; the
 * compute calls allocate nothing). NULL when out of memory. */
typedef struct mlshift_spectrum_ws mlshift_spectrum_ws;
mlshift_spectrum_ws *mlshift_spectrum_ws_create(size_t max_n);
void mlshift_spectrum_ws_destroy(mlshift_spectrum_ws *ws);

/* Builds L = I − D^-1/2 A D^-1/2 (paper eq. 3) of the subgraph of nl with
 * dist <= cutoff (cutoff <= nl->cutoff): A binary, no self loops (periodic
 * self-images ignored), an isolated atom keeps L_ii = 1. The matrix (N, N),
 * column-major, is then at mlshift_laplacian_matrix(ws). */
mlshift_status mlshift_laplacian(mlshift_spectrum_ws *ws,
                                 const mlshift_neighbours *nl, double cutoff,
                                 mlshift_error *err);
const double *mlshift_laplacian_matrix(const mlshift_spectrum_ws *ws);
/* Eigenvalues (N,) of that Laplacian, ascending (LAPACK dsyevd). */
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

/* What a training set looks like along the paper's shift axes (§3.2, A.5).
 * Standard deviations are population ones (numpy's default, ddof = 0). */
typedef struct mlshift_train_stats {
    double cutoff;                  /* Å, radius graph of the spectra */
    size_t n_structures;
    size_t element_atoms[119];      /* atoms of each element */
    size_t natoms_max;              /* N_max, length of the spectrum */
    double natoms_mean, natoms_std;
    double carbon_mean, carbon_std; /* fraction of atoms that are carbon */
    size_t n_force;                 /* structures with a force norm */
    double force_norm_mean, force_norm_std;  /* eV/Å, (1/N) Σ_i |F_i| */
    char force_source[128];         /* "labels", "prior:SPEC" or "none" */
    double *spectrum;               /* (N_max,) average ascending spectrum,
                                       each zero-padded at the end */
    double spectral_mean, spectral_std;  /* eq. 5 of each training graph to
                                            the average */
    /* Fraction of the training structures themselves that the 1-std rule
     * flags on each axis: what a flag rate on test data compares with. */
    double train_ood_size, train_ood_carbon, train_ood_force_norm,
        train_ood_connectivity;
    char *compositions;             /* distinct Hill formulas, each
                                       NUL-terminated, back to back */
    size_t n_compositions, compositions_len;
} mlshift_train_stats;

/* Computes the statistics of frames at `cutoff` Å. force_norms (n,) gives
 * each structure's force norm (NaN = none), or NULL to take them from the
 * frames' labels; source names where they came from (NULL: "labels").
 * Fails on an empty set. Frees nothing in *out: call _free after. */
mlshift_status mlshift_stats_compute(const mlshift_frames *frames,
                                     double cutoff, const double *force_norms,
                                     const char *source,
                                     mlshift_train_stats *out,
                                     mlshift_error *err);
/* A versioned JSON file (docs/stats-format.md), written atomically. */
mlshift_status mlshift_stats_write(const mlshift_train_stats *st,
                                   const char *path, mlshift_error *err);
mlshift_status mlshift_stats_read(mlshift_train_stats *st, const char *path,
                                  mlshift_error *err);
void mlshift_stats_free(mlshift_train_stats *st);

/* Out-of-distribution flags, as bits. */
enum {
    MLSHIFT_OOD_FEATURES = 1u << 0,     /* unseen element or composition */
    MLSHIFT_OOD_SIZE = 1u << 1,         /* |N − mean| > std */
    MLSHIFT_OOD_CARBON = 1u << 2,       /* |carbon fraction − mean| > std */
    MLSHIFT_OOD_FORCE_NORM = 1u << 3,   /* |force norm − mean| > std */
    MLSHIFT_OOD_CONNECTIVITY = 1u << 4  /* |D − mean D| > std */
};

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
 * A prior is not thread-safe; use one per thread. */
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

/* Reads a model file (another version, a bad checksum, truncation: a clear
 * error). */
mlshift_status mlshift_model_load(const char *path, mlshift_model **out,
                                  mlshift_error *err);
void mlshift_model_destroy(mlshift_model *m);
/* The training cutoff, Å (the default run-time cutoff). */
double mlshift_model_cutoff(const mlshift_model *m);
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
 * run-time cutoff, or st->cutoff). ws: reusable scratch. */
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
mlshift_status mlshift_model_compute_atoms(mlshift_model *m, const mlshift_frame *f,
                                           mlshift_head head, double cutoff,
                                           const double *weights, double *energy,
                                           double *forces, double *atom_energies,
                                           mlshift_error *err);
/* How far an atom's energy reaches, Å: blocks × cutoff (each message-
 * passing block is one hop of at most the cutoff; cutoff <= 0: the
 * training cutoff). */
double mlshift_model_interaction_range(const mlshift_model *m, double cutoff);

#ifdef __cplusplus
}
#endif
#endif /* MLSHIFT_H */
