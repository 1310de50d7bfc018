/* SPDX-License-Identifier: MIT */
/* mlshift_prior_*: the spec parser and dispatcher over the kinds of prior,
 * and the checks every compute call shares (a prior sees only frames with
 * atoms, and periodic frames only if it can handle them). */
#include "prior.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/util.h"

typedef mlshift_status (*ctor)(const char *, mlshift_prior *, mlshift_error *);

static const struct {
    const char *name;
    ctor create;
} kinds[] = {
    {"lj", ms_prior_lj_create},
    {"emt", ms_prior_emt_create},
    {"xtb", ms_prior_xtb_create},
    {"sgdml", ms_prior_sgdml_create},
};

mlshift_status mlshift_prior_create(const char *spec, mlshift_prior **out,
                                    mlshift_error *err)
{
    *out = NULL;
    if (!spec || !*spec)
        return ms_fail(err, MLSHIFT_ERR_VALUE, "prior: empty spec (lj, emt, "
                       "xtb:gfn2, sgdml:MODEL)");
    size_t n = strcspn(spec, ":");
    const char *args = spec[n] == ':' ? spec + n + 1 : "";
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        if (strlen(kinds[k].name) != n || strncmp(kinds[k].name, spec, n))
            continue;
        mlshift_prior *p = calloc(1, sizeof *p);
        if (!p)
            return ms_fail(err, MLSHIFT_ERR_NOMEM, "prior %s: out of memory", spec);
        snprintf(p->spec, sizeof p->spec, "%s", spec);
        mlshift_status s = kinds[k].create(args, p, err);
        if (s != MLSHIFT_OK) {
            free(p);
            return s;
        }
        *out = p;
        return MLSHIFT_OK;
    }
    return ms_fail(err, MLSHIFT_ERR_VALUE, "prior: unknown kind '%.*s' in '%s' "
                   "(lj, emt, xtb, sgdml)", (int)n, spec, spec);
}

void mlshift_prior_destroy(mlshift_prior *p)
{
    if (!p)
        return;
    if (p->ops && p->ops->destroy)
        p->ops->destroy(p->self);
    free(p);
}

const char *mlshift_prior_spec(const mlshift_prior *p) { return p->spec; }
unsigned mlshift_prior_caps(const mlshift_prior *p) { return p->ops->caps; }

mlshift_status mlshift_prior_compute(mlshift_prior *p, const mlshift_frame *f,
                                     double *energy, double *forces,
                                     double *virial, mlshift_error *err)
{
    if (f->natoms == 0)
        return ms_fail(err, MLSHIFT_ERR_VALUE, "prior %s: the structure has no "
                       "atoms", p->spec);
    int periodic = f->cell && (f->pbc[0] || f->pbc[1] || f->pbc[2]);
    if (periodic && !(p->ops->caps & MLSHIFT_PRIOR_PERIODIC))
        return ms_fail(err, MLSHIFT_ERR_UNSUPPORTED, "prior %s: periodic cells "
                       "are not supported by this prior", p->spec);
    if (virial && !(p->ops->caps & MLSHIFT_PRIOR_VIRIAL))
        return ms_fail(err, MLSHIFT_ERR_UNSUPPORTED, "prior %s: no virial",
                       p->spec);
    mlshift_status s = p->ops->compute(p->self, f, energy, forces, virial, err);
    if (s == MLSHIFT_OK && !isfinite(*energy))
        s = ms_fail(err, MLSHIFT_ERR_VALUE, "prior %s: energy is not finite",
                    p->spec);
    return s;
}
