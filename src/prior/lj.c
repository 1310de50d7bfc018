/* SPDX-License-Identifier: MIT */
/* The Lennard-Jones prior ("lj", "lj:FILE", "lj:[FILE,]key=value,…").
 *
 * Pair energy, for each pair of atoms i, j (each periodic image once):
 *     u(r) = 4 ε_ij ((σ_ij/r)^12 − (σ_ij/r)^6),
 * with per-element σ_i, ε_i from UFF (Rappé et al., J. Am. Chem. Soc. 114,
 * 10024 (1992), Table 1; lj_params.h): σ_i = x_i / 2^(1/6) from the UFF
 * nonbond distance x_i (the minimum of u), ε_i = D_i / 23.0605 eV from the
 * well depth D_i in kcal/mol, and Lorentz–Berthelot mixing
 *     σ_ij = (σ_i + σ_j) / 2,   ε_ij = sqrt(ε_i ε_j).
 * Cutoff rc_ij = (rc_i + rc_j) / 2 with rc_i = 3 σ_i unless a parameter
 * file gives it (so 3 σ_ij by default), or one rc for every pair (rc=).
 *
 * Three ways of ending the potential at rc (cutoff=), s = r², in Å²:
 *   smooth (default; ASE's LennardJones(smooth=True), from jax-md/HOOMD):
 *       u_c(r) = f(s) u(r), f = 1 for s < ro², 0 for s >= rc², between
 *       f(s) = (rc² − s)² (rc² + 2s − 3ro²) / (rc² − ro²)³,
 *       f'(s) = 6 (rc² − s)(ro² − s) / (rc² − ro²)³,
 *       ro = 0.66 rc unless ro= is given. f and f' are continuous at ro and
 *       at rc (f = f' = 0 there), so energy and forces go to zero
 *       continuously at rc. d u_c/dr / r = f u'(r)/r + 2 f'(s) u(r).
 *   fs (energy and force shifted):
 *       u_c(r) = u(r) − u(rc) − (r − rc) u'(rc)   for r <= rc,
 *       so u_c(rc) = u_c'(rc) = 0.
 *   shift (ASE's LennardJones(smooth=False)): u_c(r) = u(r) − u(rc) for
 *       r <= rc; the energy is continuous, the force jumps to zero at rc.
 * Pairs with r² <= rc² count (as ASE). In every mode the forces are the
 * exact derivative of the energy (the shift mode's only kink is at rc).
 *
 * With g = (du_c/dr)/r and d = r_j − r_i (+ image shift):
 *     F_i += g d,  F_j −= g d,  W −= g d ⊗ d      (W = −Σ r ⊗ ∂E/∂r).
 * u'(r)/r = −24 ε (2 (σ²/s)^6 − (σ²/s)^3) / s, computed as ASE does.
 *
 * Equal to ASE: for one element, "lj" is LennardJones(sigma=σ_el,
 * epsilon=ε_el, smooth=True) (ASE's defaults rc = 3σ, ro = 0.66 rc);
 * "lj:sigma=S,epsilon=E[,rc=R][,ro=O],cutoff=smooth|shift" is
 * LennardJones(sigma=S, epsilon=E, rc=R, ro=O, smooth=True|False).
 *
 * Parameter file lines: "Symbol sigma_Å epsilon_eV [rc_Å]", '#' starts a
 * comment; each line overrides the table for that element.
 *
 * Sizes: N atoms, E edges (half list), S species present in the frame. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/util.h"
#include "../graph/neighbours.h"
#include "lj_params.h"
#include "prior.h"

#define LJ_NZ 119

enum { LJ_SMOOTH, LJ_FS, LJ_SHIFT };

typedef struct lj_pair {
    double sig2;    /* σ_ij², Å² */
    double eps;     /* ε_ij, eV */
    double rc, rc2; /* Å, Å² */
    double ro2;     /* smooth onset², Å² */
    double u_rc;    /* u(rc), eV */
    double du_rc;   /* u'(rc), eV/Å */
} lj_pair;

typedef struct ms_lj {
    double sigma[LJ_NZ];        /* Å, by Z */
    double eps[LJ_NZ];          /* eV, by Z */
    double rc[LJ_NZ];           /* Å, by Z; NaN: 3 σ */
    unsigned char have[LJ_NZ];  /* parameters known */
    int mode;                   /* LJ_SMOOTH, LJ_FS, LJ_SHIFT */
    double rc_all;              /* Å, one cutoff for all pairs; 0: per pair */
    double ro_all;              /* Å, smooth onset for all pairs; 0: 0.66 rc */
    /* workspace, grown only */
    mlshift_neighbours nl;
    int *spec;                  /* (N,) local species index */
    size_t spec_cap;
    lj_pair *pairs;             /* (S, S) */
    size_t pairs_cap;
} ms_lj;

/* u(r) and u'(r)/r at s = r² for one pair, as ASE computes them. */
static inline void lj_u(const lj_pair *p, double s, double *u, double *du_r)
{
    double c6 = p->sig2 / s;
    c6 = c6 * c6 * c6;
    double c12 = c6 * c6;
    *u = 4 * p->eps * (c12 - c6);
    *du_r = -24 * p->eps * (2 * c12 - c6) / s;
}

static mlshift_status lj_pair_init(const ms_lj *lj, int za, int zb,
                                   lj_pair *p, mlshift_error *err)
{
    double sig = 0.5 * (lj->sigma[za] + lj->sigma[zb]);
    p->sig2 = sig * sig;
    p->eps = sqrt(lj->eps[za] * lj->eps[zb]);
    if (lj->rc_all > 0) {
        p->rc = lj->rc_all;
    } else {
        double ra = isnan(lj->rc[za]) ? 3 * lj->sigma[za] : lj->rc[za];
        double rb = isnan(lj->rc[zb]) ? 3 * lj->sigma[zb] : lj->rc[zb];
        p->rc = 0.5 * (ra + rb);
    }
    p->rc2 = p->rc * p->rc;
    double ro = lj->ro_all > 0 ? lj->ro_all : 0.66 * p->rc;
    p->ro2 = ro * ro;
    if (lj->mode == LJ_SMOOTH && !(ro < p->rc))
        return ms_fail(err, MLSHIFT_ERR_VALUE, "prior lj: smooth onset ro = %g "
                       "Å is not below the cutoff %g Å of the %s-%s pair", ro,
                       p->rc, mlshift_element_symbol(za),
                       mlshift_element_symbol(zb));
    double du_r;
    lj_u(p, p->rc2, &p->u_rc, &du_r);
    p->du_rc = du_r * p->rc;
    return MLSHIFT_OK;
}

static mlshift_status lj_compute(void *self, const mlshift_frame *f,
                                 double *energy, double *forces, double *virial,
                                 mlshift_error *err)
{
    ms_lj *lj = self;
    size_t n = f->natoms;
    /* species present, in order of first appearance */
    int local[LJ_NZ];
    int zs[LJ_NZ];
    int S = 0;
    for (int z = 0; z < LJ_NZ; z++)
        local[z] = -1;
    if (ms_grow((void **)&lj->spec, &lj->spec_cap, n, sizeof *lj->spec))
        return ms_fail(err, MLSHIFT_ERR_NOMEM, "prior lj: out of memory for "
                       "%zu atoms", n);
    for (size_t i = 0; i < n; i++) {
        int z = f->numbers[i];
        if (z < 1 || z >= LJ_NZ || !lj->have[z]) {
            const char *sym = (z >= 1 && z < LJ_NZ) ? mlshift_element_symbol(z)
                                                    : NULL;
            return ms_fail(err, MLSHIFT_ERR_VALUE, "prior lj: no Lennard-Jones "
                           "parameters for element %s (Z = %d, atom %zu)",
                           sym ? sym : "?", z, i);
        }
        if (local[z] < 0) {
            zs[S] = z;
            local[z] = S++;
        }
        lj->spec[i] = local[z];
    }
    if (ms_grow((void **)&lj->pairs, &lj->pairs_cap, (size_t)S * S,
                sizeof *lj->pairs))
        return ms_fail(err, MLSHIFT_ERR_NOMEM, "prior lj: out of memory");
    double rc_max = 0;
    for (int a = 0; a < S; a++)
        for (int b = 0; b < S; b++) {
            lj_pair *p = &lj->pairs[a * S + b];
            mlshift_status st = lj_pair_init(lj, zs[a], zs[b], p, err);
            if (st != MLSHIFT_OK)
                return st;
            if (p->rc > rc_max)
                rc_max = p->rc;
        }
    mlshift_status st = mlshift_neighbours_build(
        &lj->nl, n, f->positions, f->cell, f->cell ? f->pbc : NULL, rc_max, 1,
        err);
    if (st != MLSHIFT_OK)
        return st;

    double e = 0;
    double w[9] = {0};
    if (forces)
        memset(forces, 0, 3 * n * sizeof *forces);
    const mlshift_neighbours *nl = &lj->nl;
    for (size_t k = 0; k < nl->n_edges; k++) {
        int i = nl->src[k], j = nl->dst[k];
        const lj_pair *p = &lj->pairs[lj->spec[i] * S + lj->spec[j]];
        const double *d = nl->vec + 3 * k;
        double s = d[0] * d[0] + d[1] * d[1] + d[2] * d[2];
        if (s > p->rc2)
            continue;
        double u, g;
        lj_u(p, s, &u, &g);
        if (lj->mode == LJ_SMOOTH) {
            if (s >= p->ro2) {
                double den = p->rc2 - p->ro2;
                den = den * den * den;
                double fc = (p->rc2 - s) * (p->rc2 - s) *
                            (p->rc2 + 2 * s - 3 * p->ro2) / den;
                double dfc = 6 * (p->rc2 - s) * (p->ro2 - s) / den;
                if (!(s < p->rc2))
                    fc = dfc = 0;
                g = fc * g + 2 * dfc * u;
                u *= fc;
            }
        } else if (lj->mode == LJ_FS) {
            double r = nl->dist[k];
            u -= p->u_rc + (r - p->rc) * p->du_rc;
            g -= p->du_rc / r;
        } else {
            u -= p->u_rc;
        }
        e += u;
        ms_pair_force(forces, virial ? w : NULL, i, j, g, d);
    }
    *energy = e;
    if (virial)
        memcpy(virial, w, sizeof w);
    return MLSHIFT_OK;
}

static void lj_destroy(void *self)
{
    ms_lj *lj = self;
    if (!lj)
        return;
    ms_neighbours_free(&lj->nl);
    free(lj->spec);
    free(lj->pairs);
    free(lj);
}

static const ms_prior_ops lj_ops = {
    "lj", MLSHIFT_PRIOR_PERIODIC | MLSHIFT_PRIOR_VIRIAL, lj_compute,
    lj_destroy,
};

/* A finite number filling the whole of s, or -1. */
static int parse_number(const char *s, double *out)
{
    char *end;
    if (!*s)
        return -1;
    double v = strtod(s, &end);
    if (end == s || *end || !isfinite(v))
        return -1;
    *out = v;
    return 0;
}

/* Reads "Symbol sigma_Å epsilon_eV [rc_Å]" lines into lj. */
static mlshift_status lj_read_file(ms_lj *lj, const char *path,
                                   mlshift_error *err)
{
    char *text;
    size_t len;
    mlshift_status st = ms_read_file(path, &text, &len, err);
    if (st != MLSHIFT_OK)
        return st;
    size_t line = 0;
    char *p = text;
    while (p < text + len) {
        line++;
        char *eol = memchr(p, '\n', (size_t)(text + len - p));
        char *next = eol ? eol + 1 : text + len;
        if (eol)
            *eol = '\0';
        char *hash = strchr(p, '#');
        if (hash)
            *hash = '\0';
        char *tok[5];
        int nt = 0;
        char *save = NULL;
        for (char *t = strtok_r(p, " \t\r", &save); t;
             t = strtok_r(NULL, " \t\r", &save)) {
            if (nt == 5)
                break;
            tok[nt++] = t;
        }
        p = next;
        if (nt == 0)
            continue;
        if (nt < 3 || nt > 4) {
            st = ms_fail(err, MLSHIFT_ERR_FORMAT, "%s:%zu: want \"Symbol "
                         "sigma_A epsilon_eV [rc_A]\", got %d fields", path,
                         line, nt);
            break;
        }
        int z = mlshift_element_number(tok[0]);
        if (z < 1 || z >= LJ_NZ) {
            st = ms_fail(err, MLSHIFT_ERR_FORMAT, "%s:%zu: unknown element "
                         "'%s'", path, line, tok[0]);
            break;
        }
        double v[3] = {0, 0, NAN};
        const char *what[3] = {"sigma", "epsilon", "rc"};
        for (int k = 1; k < nt && st == MLSHIFT_OK; k++)
            if (parse_number(tok[k], &v[k - 1]) ||
                !(k == 2 ? v[k - 1] >= 0 : v[k - 1] > 0))
                st = ms_fail(err, MLSHIFT_ERR_FORMAT, "%s:%zu: %s '%s' is not "
                             "a %s finite number", path, line, what[k - 1],
                             tok[k], k == 2 ? "non-negative" : "positive");
        if (st != MLSHIFT_OK)
            break;
        lj->sigma[z] = v[0];
        lj->eps[z] = v[1];
        lj->rc[z] = v[2];
        lj->have[z] = 1;
    }
    free(text);
    return st;
}

mlshift_status ms_prior_lj_create(const char *args, mlshift_prior *p,
                                  mlshift_error *err)
{
    ms_lj *lj = calloc(1, sizeof *lj);
    if (!lj)
        return ms_fail(err, MLSHIFT_ERR_NOMEM, "prior lj: out of memory");
    const double two16 = pow(2.0, 1.0 / 6.0);
    for (int z = 0; z < LJ_NZ; z++) {
        lj->rc[z] = NAN;
        if (z >= 1 && z <= MS_UFF_ZMAX) {
            lj->sigma[z] = ms_uff_xd[z - 1][0] / two16;
            lj->eps[z] = ms_uff_xd[z - 1][1] / MLSHIFT_KCALMOL_PER_EV;
            lj->have[z] = 1;
        }
    }
    lj->mode = LJ_SMOOTH;
    double sigma = NAN, eps = NAN;
    mlshift_status st = MLSHIFT_OK;
    char buf[512];
    snprintf(buf, sizeof buf, "%s", args);
    int first = 1;
    for (char *t = *buf ? buf : NULL, *next; t && st == MLSHIFT_OK;
         t = next, first = 0) {
        next = strchr(t, ',');
        if (next)
            *next++ = '\0';
        char *eq = strchr(t, '=');
        if (!eq) {
            if (!first || !*t)
                st = ms_fail(err, MLSHIFT_ERR_VALUE, "prior lj:%s: '%s' is not "
                             "key=value (a parameter FILE goes first)", args,
                             t);
            else
                st = lj_read_file(lj, t, err);
            continue;
        }
        *eq = '\0';
        const char *key = t, *val = eq + 1;
        double v;
        if (!strcmp(key, "cutoff")) {
            if (!strcmp(val, "smooth"))
                lj->mode = LJ_SMOOTH;
            else if (!strcmp(val, "fs"))
                lj->mode = LJ_FS;
            else if (!strcmp(val, "shift"))
                lj->mode = LJ_SHIFT;
            else
                st = ms_fail(err, MLSHIFT_ERR_VALUE, "prior lj:%s: cutoff '%s' "
                             "(smooth, fs, shift)", args, val);
        } else if (!strcmp(key, "sigma") || !strcmp(key, "epsilon") ||
                   !strcmp(key, "rc") || !strcmp(key, "ro")) {
            int eps_key = !strcmp(key, "epsilon");
            if (parse_number(val, &v) || !(eps_key ? v >= 0 : v > 0)) {
                st = ms_fail(err, MLSHIFT_ERR_VALUE, "prior lj:%s: %s '%s' is "
                             "not a %s finite number", args, key, val,
                             eps_key ? "non-negative" : "positive");
                continue;
            }
            if (!strcmp(key, "sigma"))
                sigma = v;
            else if (eps_key)
                eps = v;
            else if (!strcmp(key, "rc"))
                lj->rc_all = v;
            else
                lj->ro_all = v;
        } else {
            st = ms_fail(err, MLSHIFT_ERR_VALUE, "prior lj:%s: unknown option "
                         "'%s' (sigma, epsilon, rc, ro, cutoff)", args, key);
        }
    }
    if (st == MLSHIFT_OK && isnan(sigma) != isnan(eps))
        st = ms_fail(err, MLSHIFT_ERR_VALUE, "prior lj:%s: sigma and epsilon go "
                     "together", args);
    if (st == MLSHIFT_OK && !isnan(sigma))
        for (int z = 1; z < LJ_NZ; z++) {
            lj->sigma[z] = sigma;
            lj->eps[z] = eps;
            lj->rc[z] = NAN;
            lj->have[z] = 1;
        }
    if (st == MLSHIFT_OK && lj->ro_all > 0 && lj->mode != LJ_SMOOTH)
        st = ms_fail(err, MLSHIFT_ERR_VALUE, "prior lj:%s: ro is the onset of "
                     "cutoff=smooth only", args);
    if (st == MLSHIFT_OK && lj->ro_all > 0 && lj->rc_all > 0 &&
        !(lj->ro_all < lj->rc_all))
        st = ms_fail(err, MLSHIFT_ERR_VALUE, "prior lj:%s: ro = %g must be "
                     "below rc = %g", args, lj->ro_all, lj->rc_all);
    if (st != MLSHIFT_OK) {
        free(lj);
        return st;
    }
    p->ops = &lj_ops;
    p->self = lj;
    return MLSHIFT_OK;
}
