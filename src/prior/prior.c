/* SPDX-License-Identifier: MIT */
/* mlshift_prior_*: the spec parser and dispatcher over the kinds of prior,
 * and the checks every compute call shares (a prior sees only frames with
 * atoms, no two at the same place, and periodic frames only if it can
 * handle them). */
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

/* Atoms sorted by position: equal neighbours in this order coincide. */
typedef struct ms_placed {
    double x[3];
    size_t i;
} ms_placed;

static int placed_cmp(const void *a, const void *b)
{
    const ms_placed *p = a, *q = b;
    for (int k = 0; k < 3; k++)
        if (p->x[k] != q->x[k])
            return p->x[k] < q->x[k] ? -1 : 1;
    return p->i < q->i ? -1 : p->i > q->i;
}

/* Two atoms at the same position have no defined pair energy: the
 * neighbour list skips r = 0, so LJ and EMT would drop the pair and return
 * a finite energy, while xtb and sGDML fail. Every prior refuses it here,
 * with the same message. O(N log N). */
static mlshift_status check_coincident(const mlshift_prior *p,
                                       const mlshift_frame *f, mlshift_error *err)
{
    size_t n = f->natoms;
    if (n < 2)
        return MLSHIFT_OK;
    ms_placed *a = malloc(n * sizeof *a);
    if (!a)
        return ms_fail(err, MLSHIFT_ERR_NOMEM, "prior %s: out of memory", p->spec);
    for (size_t i = 0; i < n; i++) {
        memcpy(a[i].x, f->positions + 3 * i, sizeof a[i].x);
        a[i].i = i;
    }
    qsort(a, n, sizeof *a, placed_cmp);
    mlshift_status s = MLSHIFT_OK;
    for (size_t k = 1; k < n && s == MLSHIFT_OK; k++)
        if (a[k].x[0] == a[k - 1].x[0] && a[k].x[1] == a[k - 1].x[1] &&
            a[k].x[2] == a[k - 1].x[2])
            s = ms_fail(err, MLSHIFT_ERR_VALUE, "prior %s: atoms %zu and %zu "
                        "coincide (both at %.8g, %.8g, %.8g Å): no energy is "
                        "defined", p->spec, a[k - 1].i, a[k].i, a[k].x[0],
                        a[k].x[1], a[k].x[2]);
    free(a);
    return s;
}

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
    mlshift_status s = check_coincident(p, f, err);
    if (s != MLSHIFT_OK)
        return s;
    s = p->ops->compute(p->self, f, energy, forces, virial, err);
    if (s == MLSHIFT_OK && !isfinite(*energy))
        s = ms_fail(err, MLSHIFT_ERR_VALUE, "prior %s: energy is not finite",
                    p->spec);
    return s;
}
