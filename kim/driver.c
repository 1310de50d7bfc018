/* SPDX-License-Identifier: MIT */
/* mlshift_driver: a KIM API model driver (kim-api 2.x, C binding) for
 * trained mlshift models, so that LAMMPS (pair_style kim), ASE's KIM
 * calculator or any KIM simulator runs MD with them (docs/lammps.md).
 *
 * A portable model made with kim/mlshift-kim-model embeds one parameter
 * file, the model file itself; this driver loads it through the public
 * API (mlshift_model_load) and computes with mlshift_model_compute_atoms.
 *
 * Domain decomposition, message passing. KIM hands the model the atoms a
 * process owns (contributing) and padding atoms around them. A T-block
 * message-passing model is not a pair potential: the energy of atom i
 * depends on every atom within T hops of at most r_cut, that is within
 * T × r_cut. So the driver declares the influence distance T × r_cut,
 * builds its own graph over all the atoms it is given (no periodic cell:
 * periodic images arrive as padding atoms), and returns
 *   E = Σ_{i contributing} e_i,   F_j = −∂E/∂r_j  on every atom j,
 * padding atoms included; the simulator adds the padding atoms' forces to
 * their owners (LAMMPS: reverse communication, newton on). The atomic
 * energies of the contributing atoms are exact (every path of ≤ T hops
 * from them stays inside the padding); the padding atoms' own e_i are not
 * and carry weight 0. The alternative, influence distance r_cut with
 * features exchanged between processes after every block, needs a
 * simulator hook KIM does not have (docs/lammps.md).
 *
 * The KIM neighbour list is requested (KIM requires one) at r_cut for
 * contributing atoms only, and not used: the model builds its own over the
 * padding atoms too, which KIM lists do not give.
 *
 * No Refresh routine: KIM wants one only for models with parameters a
 * simulator may change, and this driver publishes none.
 *
 * Species: code = atomic number, for every element the model handles.
 * Units: Å and eV (LAMMPS `units metal`); other requested units are
 * refused by the simulator's unit check, not converted here. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "KIM_ModelDriverHeaders.h"
#include "mlshift.h"

typedef struct driver {
    mlshift_model *model;
    double influence;           /* Å, T × r_cut */
    double list_cutoff;         /* Å, r_cut */
    int will_not_request_ghost_neighbours;
    size_t cap;                 /* atoms the buffers hold */
    int *numbers;               /* (cap,) */
    double *weights;            /* (cap,) 1 contributing, 0 padding */
    double *forces;             /* (cap, 3) eV/Å */
    double *energies;           /* (cap,) eV */
} driver;

static void driver_free(driver *d)
{
    if (!d)
        return;
    mlshift_model_destroy(d->model);
    free(d->numbers);
    free(d->weights);
    free(d->forces);
    free(d->energies);
    free(d);
}

static int grow(driver *d, size_t n)
{
    if (n <= d->cap)
        return 0;
    size_t c = d->cap ? d->cap : 64;
    while (c < n)
        c *= 2;
    int *z = realloc(d->numbers, c * sizeof *z);
    if (z)
        d->numbers = z;
    double *w = realloc(d->weights, c * sizeof *w);
    if (w)
        d->weights = w;
    double *f = realloc(d->forces, 3 * c * sizeof *f);
    if (f)
        d->forces = f;
    double *e = realloc(d->energies, c * sizeof *e);
    if (e)
        d->energies = e;
    if (!z || !w || !f || !e)
        return 1;
    d->cap = c;
    return 0;
}

#define LOG_ERROR(obj, kind, msg) \
    KIM_##kind##_LogEntry(obj, KIM_LOG_VERBOSITY_error, msg, __LINE__, __FILE__)

static int compute_arguments_create(KIM_ModelCompute const *const mc,
                                    KIM_ModelComputeArgumentsCreate *const cac)
{
    (void)mc;
    int e = KIM_ModelComputeArgumentsCreate_SetArgumentSupportStatus(
                cac, KIM_COMPUTE_ARGUMENT_NAME_partialEnergy, KIM_SUPPORT_STATUS_optional) ||
            KIM_ModelComputeArgumentsCreate_SetArgumentSupportStatus(
                cac, KIM_COMPUTE_ARGUMENT_NAME_partialForces, KIM_SUPPORT_STATUS_optional) ||
            KIM_ModelComputeArgumentsCreate_SetArgumentSupportStatus(
                cac, KIM_COMPUTE_ARGUMENT_NAME_partialParticleEnergy,
                KIM_SUPPORT_STATUS_optional);
    if (e)
        LOG_ERROR(cac, ModelComputeArgumentsCreate, "mlshift_driver: cannot declare arguments");
    return e;
}

static int compute_arguments_destroy(KIM_ModelCompute const *const mc,
                                     KIM_ModelComputeArgumentsDestroy *const cad)
{
    (void)mc;
    (void)cad;
    return 0;
}

static int compute(KIM_ModelCompute const *const mc, KIM_ModelComputeArguments const *const ca)
{
    driver *d;
    KIM_ModelCompute_GetModelBufferPointer(mc, (void **)&d);
    int *n_ptr = NULL, *codes = NULL, *contributing = NULL;
    double *coords = NULL, *energy = NULL, *forces = NULL, *atom_energy = NULL;
    if (KIM_ModelComputeArguments_GetArgumentPointerInteger(
            ca, KIM_COMPUTE_ARGUMENT_NAME_numberOfParticles, &n_ptr) ||
        KIM_ModelComputeArguments_GetArgumentPointerInteger(
            ca, KIM_COMPUTE_ARGUMENT_NAME_particleSpeciesCodes, &codes) ||
        KIM_ModelComputeArguments_GetArgumentPointerInteger(
            ca, KIM_COMPUTE_ARGUMENT_NAME_particleContributing, &contributing) ||
        KIM_ModelComputeArguments_GetArgumentPointerDouble(
            ca, KIM_COMPUTE_ARGUMENT_NAME_coordinates, &coords) ||
        KIM_ModelComputeArguments_GetArgumentPointerDouble(
            ca, KIM_COMPUTE_ARGUMENT_NAME_partialEnergy, &energy) ||
        KIM_ModelComputeArguments_GetArgumentPointerDouble(
            ca, KIM_COMPUTE_ARGUMENT_NAME_partialForces, &forces) ||
        KIM_ModelComputeArguments_GetArgumentPointerDouble(
            ca, KIM_COMPUTE_ARGUMENT_NAME_partialParticleEnergy, &atom_energy)) {
        LOG_ERROR(mc, ModelCompute, "mlshift_driver: cannot get the compute arguments");
        return 1;
    }
    size_t n = (size_t)*n_ptr;
    if (grow(d, n)) {
        LOG_ERROR(mc, ModelCompute, "mlshift_driver: out of memory");
        return 1;
    }
    for (size_t i = 0; i < n; i++) {
        d->numbers[i] = codes[i];
        d->weights[i] = contributing[i] ? 1.0 : 0.0;
    }
    mlshift_frame f = {.natoms = n, .numbers = d->numbers, .positions = coords, .energy = NAN};
    mlshift_error err;
    double e = 0;
    if (mlshift_model_compute_atoms(d->model, &f, MLSHIFT_HEAD_MAIN, 0, d->weights,
                                    &e, forces ? d->forces : NULL,
                                    atom_energy ? d->energies : NULL, &err) != MLSHIFT_OK) {
        char msg[1100];
        snprintf(msg, sizeof msg, "mlshift_driver: %s", err.message);
        LOG_ERROR(mc, ModelCompute, msg);
        return 1;
    }
    if (energy)
        *energy = e;
    if (forces)
        memcpy(forces, d->forces, 3 * n * sizeof *forces);
    if (atom_energy)
        for (size_t i = 0; i < n; i++)
            atom_energy[i] = contributing[i] ? d->energies[i] : 0.0;
    return 0;
}

static int destroy(KIM_ModelDestroy *const md)
{
    driver *d;
    KIM_ModelDestroy_GetModelBufferPointer(md, (void **)&d);
    driver_free(d);
    return 0;
}

/* Whether the model handles element z: a single atom of it computes (the
 * model refuses elements it was not made for). */
static int handles(mlshift_model *m, int z)
{
    const double zero[3] = {0, 0, 0};
    mlshift_frame f = {.natoms = 1, .numbers = &z, .positions = zero, .energy = NAN};
    double e;
    return mlshift_model_compute_atoms(m, &f, MLSHIFT_HEAD_MAIN, 0, NULL, &e, NULL, NULL,
                                       NULL) == MLSHIFT_OK;
}

int mlshift_kim_driver_create(KIM_ModelDriverCreate *const mdc,
                              KIM_LengthUnit const length, KIM_EnergyUnit const energy,
                              KIM_ChargeUnit const charge,
                              KIM_TemperatureUnit const temperature, KIM_TimeUnit const time);

int mlshift_kim_driver_create(KIM_ModelDriverCreate *const mdc,
                              KIM_LengthUnit const length, KIM_EnergyUnit const energy,
                              KIM_ChargeUnit const charge,
                              KIM_TemperatureUnit const temperature, KIM_TimeUnit const time)
{
    (void)length;
    (void)energy;
    (void)charge;
    (void)temperature;
    (void)time;
    int nfiles = 0;
    KIM_ModelDriverCreate_GetNumberOfParameterFiles(mdc, &nfiles);
    if (nfiles != 1) {
        LOG_ERROR(mdc, ModelDriverCreate,
                  "mlshift_driver: a model needs exactly one parameter file, the mlshift model");
        return 1;
    }
    const char *dir = NULL, *base = NULL;
    KIM_ModelDriverCreate_GetParameterFileDirectoryName(mdc, &dir);
    if (KIM_ModelDriverCreate_GetParameterFileBasename(mdc, 0, &base)) {
        LOG_ERROR(mdc, ModelDriverCreate, "mlshift_driver: no parameter file name");
        return 1;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, base);
    driver *d = calloc(1, sizeof *d);
    if (!d) {
        LOG_ERROR(mdc, ModelDriverCreate, "mlshift_driver: out of memory");
        return 1;
    }
    mlshift_error err;
    if (mlshift_model_load(path, &d->model, &err) != MLSHIFT_OK) {
        char msg[1100];
        snprintf(msg, sizeof msg, "mlshift_driver: %s", err.message);
        LOG_ERROR(mdc, ModelDriverCreate, msg);
        driver_free(d);
        return 1;
    }
    d->list_cutoff = mlshift_model_cutoff(d->model);
    d->influence = mlshift_model_interaction_range(d->model, 0);
    d->will_not_request_ghost_neighbours = 1;
    int bad = KIM_ModelDriverCreate_SetUnits(mdc, KIM_LENGTH_UNIT_A, KIM_ENERGY_UNIT_eV,
                                             KIM_CHARGE_UNIT_unused,
                                             KIM_TEMPERATURE_UNIT_unused, KIM_TIME_UNIT_unused) ||
              KIM_ModelDriverCreate_SetModelNumbering(mdc, KIM_NUMBERING_zeroBased);
    int n_species = 0;
    for (int z = 1; z <= 118 && !bad; z++) {
        if (!handles(d->model, z))
            continue;
        KIM_SpeciesName sp = KIM_SpeciesName_FromString(mlshift_element_symbol(z));
        if (KIM_SpeciesName_Known(sp)) {
            bad = KIM_ModelDriverCreate_SetSpeciesCode(mdc, sp, z);
            n_species++;
        }
    }
    if (!bad && n_species == 0) {
        LOG_ERROR(mdc, ModelDriverCreate, "mlshift_driver: the model handles no element");
        bad = 1;
    }
    KIM_LanguageName c = KIM_LANGUAGE_NAME_c;
    bad = bad ||
          KIM_ModelDriverCreate_SetRoutinePointer(mdc, KIM_MODEL_ROUTINE_NAME_ComputeArgumentsCreate,
                                                  c, 1, (KIM_Function *)compute_arguments_create) ||
          KIM_ModelDriverCreate_SetRoutinePointer(mdc, KIM_MODEL_ROUTINE_NAME_Compute, c, 1,
                                                  (KIM_Function *)compute) ||
          KIM_ModelDriverCreate_SetRoutinePointer(
              mdc, KIM_MODEL_ROUTINE_NAME_ComputeArgumentsDestroy, c, 1,
              (KIM_Function *)compute_arguments_destroy) ||
          KIM_ModelDriverCreate_SetRoutinePointer(mdc, KIM_MODEL_ROUTINE_NAME_Destroy, c, 1,
                                                  (KIM_Function *)destroy);
    if (bad) {
        LOG_ERROR(mdc, ModelDriverCreate, "mlshift_driver: cannot register the model");
        driver_free(d);
        return 1;
    }
    KIM_ModelDriverCreate_SetModelBufferPointer(mdc, d);
    KIM_ModelDriverCreate_SetInfluenceDistancePointer(mdc, &d->influence);
    KIM_ModelDriverCreate_SetNeighborListPointers(mdc, 1, &d->list_cutoff,
                                                  &d->will_not_request_ghost_neighbours);
    return 0;
}
