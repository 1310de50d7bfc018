/* SPDX-License-Identifier: MIT */
/* The effective-medium theory prior ("emt"): K. W. Jacobsen, P. Stoltze and
 * J. K. Nørskov, Surf. Sci. 366, 394 (1996), exactly as ASE 3.22.1's
 * ase.calculators.emt.EMT computes it (default asap_cutoff=False): the
 * same parameters, the same cutoffs, the same reference energies.
 *
 * Per element (table below, converted from bohr to Å): E0, s0, V0, η2, κ,
 * λ, n0; β = 1.809. The cutoff function is a Fermi function
 *     θ(r) = 1 / (1 + exp(acut (r − rc))),
 *     rc   = β s0max (√3 + √4) / 2      (s0max: the largest s0 in the table,
 *                                        Ag's, whatever elements are present),
 *     rr   = rc · 2√4 / (√3 + √4),   acut = ln(9999) / (rr − rc),
 * and pairs count while r < rc + 0.5 Å (ASE's neighbour list: a hard cut
 * where θ ≈ 6.6e-6, as ASE). Reference-structure normalisations, for each
 * element, over the fcc shells (12, 6, 24 atoms at β s0 √k, k = 1, 2, 3):
 *     γ1 = Σ_k (n_k/12) θ(r_k) exp(−η2 (r_k − β s0)),
 *     γ2 = Σ_k (n_k/12) θ(r_k) exp(−κ/β (r_k − β s0)).
 * With χ_ab = n0_b / n0_a, for atom i of element a and neighbours j of
 * element b:
 *     σ_i  = Σ_j χ_ab θ(r) exp(−η2_b (r − β s0_b)) / γ1_a,
 *     s_i  = −ln(σ_i / 12) / (β η2_a)                (neutral-sphere radius
 *                                                      minus s0_a)
 *     E_i  = E0_a ((1 + λ_a s_i) exp(−λ_a s_i) − 1) + 6 V0_a exp(−κ_a s_i)
 * (E_i = −E0_a when σ_i = 0: an isolated atom) and the pair correction,
 * each pair (i, j) once:
 *     −½ V0_a χ_ab θ exp(−κ_b (r/β − s0_b)) / γ2_a
 *     −½ V0_b χ_ba θ exp(−κ_a (r/β − s0_a)) / γ2_b.
 * E = Σ_i E_i + Σ_pairs (pair correction).
 *
 * Forces in two passes over a half neighbour list, as ASE's interact1 and
 * interact2: pass 1 sums σ_i and the pair terms, keeping per edge fp =
 * d(pair correction)/dr and A_ij = −dσ_i/dr (contribution of this edge);
 * then dE_i/dσ_i per atom; pass 2 takes G = dE/dr = fp − (dE_i/dσ_i) A_ij
 * − (dE_j/dσ_j) A_ji and with d = r_j − r_i (+ image shift):
 *     F_i += G d/r,  F_j −= G d/r,  W −= G d ⊗ d / r.
 * (dθ/dr = −acut x θ² with x = exp(acut (r − rc)).)
 *
 * Sizes: N atoms, E edges (half list). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/util.h"
#include "../graph/neighbours.h"
#include "prior.h"

#define EMT_NEL 11
#define EMT_NZ 119

/* ASE 3.22.1's ase.units.Bohr (CODATA 2014), Å. */
#define EMT_BOHR 0.5291772105638411
/* (16 π / 3)^(1/3) / √2, with ASE's historical rounding. */
#define EMT_BETA 1.809

/* ASE's table: E0 eV, s0 bohr, V0 eV, η2 1/bohr, κ 1/bohr, λ 1/bohr,
 * n0 1/bohr³. The first seven are the EMT metals; H, C, N, O are ASE's
 * "just for fun" parameters, not for serious use. */
static const struct {
    int z;
    double p[7];
} emt_table[EMT_NEL] = {
    {13, {-3.28, 3.00, 1.493, 1.240, 2.000, 1.169, 0.00700}},  /* Al */
    {29, {-3.51, 2.67, 2.476, 1.652, 2.740, 1.906, 0.00910}},  /* Cu */
    {47, {-2.96, 3.01, 2.132, 1.652, 2.790, 1.892, 0.00547}},  /* Ag */
    {79, {-3.80, 3.00, 2.321, 1.674, 2.873, 2.182, 0.00703}},  /* Au */
    {28, {-4.44, 2.60, 3.673, 1.669, 2.757, 1.948, 0.01030}},  /* Ni */
    {46, {-3.90, 2.87, 2.773, 1.818, 3.107, 2.155, 0.00688}},  /* Pd */
    {78, {-5.85, 2.90, 4.067, 1.812, 3.145, 2.192, 0.00802}},  /* Pt */
    {1, {-3.21, 1.31, 0.132, 2.652, 2.790, 3.892, 0.00547}},   /* H */
    {6, {-3.50, 1.81, 0.332, 1.652, 2.790, 1.892, 0.01322}},   /* C */
    {7, {-5.10, 1.88, 0.132, 1.652, 2.790, 1.892, 0.01222}},   /* N */
    {8, {-4.60, 1.95, 0.332, 1.652, 2.790, 1.892, 0.00850}},   /* O */
};

typedef struct emt_el {
    double e0;      /* eV */
    double s0;      /* Å */
    double v0;      /* eV */
    double eta2;    /* 1/Å */
    double kappa;   /* 1/Å */
    double lambda;  /* 1/Å */
    double n0;      /* 1/Å³ */
    double gamma1, gamma2;
} emt_el;

/* Neumaier's compensated sum: the energy is a sum of thousands of terms of
 * both signs (pair corrections against embedding energies); a plain running
 * sum loses ~1e-13 eV, which finite differences at h = 1e-5 Å would see. */
typedef struct emt_sum {
    double s, c;
} emt_sum;

static inline void emt_add(emt_sum *a, double x)
{
    double t = a->s + x;
    if (fabs(a->s) >= fabs(x))
        a->c += (a->s - t) + x;
    else
        a->c += (x - t) + a->s;
    a->s = t;
}

typedef struct ms_emt {
    emt_el el[EMT_NEL];
    double chi[EMT_NEL][EMT_NEL];   /* n0_b / n0_a */
    int index[EMT_NZ];              /* Z → row of el, or −1 */
    double rc, acut, rc_list;       /* Å, 1/Å, Å */
    /* workspace, grown only */
    mlshift_neighbours nl;
    int *spec;                      /* (N,) row of el */
    size_t spec_cap;
    double *atom;                   /* (N, 2) σ_i, dE_i/dσ_i */
    size_t atom_cap;
    double *edge;                   /* (E, 3) fp, A_ij, A_ji */
    size_t edge_cap;
} ms_emt;

static mlshift_status emt_compute(void *self, const mlshift_frame *f,
                                  double *energy, double *forces,
                                  double *virial, mlshift_error *err)
{
    ms_emt *m = self;
    size_t n = f->natoms;
    if (ms_grow((void **)&m->spec, &m->spec_cap, n, sizeof *m->spec) ||
        ms_grow((void **)&m->atom, &m->atom_cap, 2 * n, sizeof *m->atom))
        return ms_fail(err, MLSHIFT_ERR_NOMEM, "prior emt: out of memory for "
                       "%zu atoms", n);
    for (size_t i = 0; i < n; i++) {
        int z = f->numbers[i];
        int k = (z >= 1 && z < EMT_NZ) ? m->index[z] : -1;
        if (k < 0) {
            const char *sym = (z >= 1 && z < EMT_NZ) ? mlshift_element_symbol(z)
                                                     : NULL;
            return ms_fail(err, MLSHIFT_ERR_VALUE, "prior emt: no EMT "
                           "parameters for element %s (Z = %d, atom %zu); EMT "
                           "knows Al, Cu, Ag, Au, Ni, Pd, Pt, H, C, N, O",
                           sym ? sym : "?", z, i);
        }
        m->spec[i] = k;
    }
    mlshift_status st = mlshift_neighbours_build(
        &m->nl, n, f->positions, f->cell, f->cell ? f->pbc : NULL, m->rc_list,
        1, err);
    if (st != MLSHIFT_OK)
        return st;
    const mlshift_neighbours *nl = &m->nl;
    size_t ne = nl->n_edges;
    if (ms_grow((void **)&m->edge, &m->edge_cap, 3 * ne, sizeof *m->edge))
        return ms_fail(err, MLSHIFT_ERR_NOMEM, "prior emt: out of memory for "
                       "%zu edges", ne);
    const double beta = EMT_BETA, acut = m->acut, rc = m->rc;
    double *sigma = m->atom, *deds = m->atom + n;
    memset(sigma, 0, n * sizeof *sigma);
    emt_sum e = {0, 0};

    /* pass 1: σ_i, pair correction, per-edge derivatives */
    for (size_t k = 0; k < ne; k++) {
        double *ed = m->edge + 3 * k;
        double r = nl->dist[k];
        if (!(r < m->rc_list)) {
            ed[0] = ed[1] = ed[2] = 0;
            continue;
        }
        int i = nl->src[k], j = nl->dst[k];
        int a = m->spec[i], b = m->spec[j];
        const emt_el *pa = &m->el[a], *pb = &m->el[b];
        double chi = m->chi[a][b];
        double x = exp(acut * (r - rc));
        double theta = 1.0 / (1.0 + x);
        double y1 = 0.5 * pa->v0 * exp(-pb->kappa * (r / beta - pb->s0)) * chi /
                    pa->gamma2 * theta;
        double y2 = 0.5 * pb->v0 * exp(-pa->kappa * (r / beta - pa->s0)) / chi /
                    pb->gamma2 * theta;
        emt_add(&e, -(y1 + y2));
        double dlt = acut * theta * x;  /* −d ln θ / dr */
        double s1 = exp(-pb->eta2 * (r - beta * pb->s0)) * chi * theta /
                    pa->gamma1;
        double s2 = exp(-pa->eta2 * (r - beta * pa->s0)) / chi * theta /
                    pb->gamma1;
        sigma[i] += s1;
        sigma[j] += s2;
        ed[0] = (y1 * pb->kappa + y2 * pa->kappa) / beta + (y1 + y2) * dlt;
        ed[1] = s1 * (pb->eta2 + dlt);
        ed[2] = s2 * (pa->eta2 + dlt);
    }

    /* embedding energies E_i(σ_i) and dE_i/dσ_i */
    for (size_t i = 0; i < n; i++) {
        const emt_el *p = &m->el[m->spec[i]];
        if (!(sigma[i] > 0)) {
            deds[i] = 0;
            emt_add(&e, -p->e0);
            continue;
        }
        double ds = -log(sigma[i] / 12) / (beta * p->eta2);
        double x = p->lambda * ds;
        double y = exp(-x);
        double z = 6 * p->v0 * exp(-p->kappa * ds);
        deds[i] = (x * y * p->e0 * p->lambda + p->kappa * z) /
                  (sigma[i] * beta * p->eta2);
        emt_add(&e, p->e0 * ((1 + x) * y - 1) + z);
    }
    *energy = e.s + e.c;
    if (!forces && !virial)
        return MLSHIFT_OK;

    /* pass 2: G = dE/dr per edge */
    double w[9] = {0};
    if (forces)
        memset(forces, 0, 3 * n * sizeof *forces);
    for (size_t k = 0; k < ne; k++) {
        const double *ed = m->edge + 3 * k;
        int i = nl->src[k], j = nl->dst[k];
        double G = ed[0] - deds[i] * ed[1] - deds[j] * ed[2];
        if (G == 0)
            continue;
        double g = G / nl->dist[k];
        ms_pair_force(forces, virial ? w : NULL, i, j, g, nl->vec + 3 * k);
    }
    if (virial)
        memcpy(virial, w, sizeof w);
    return MLSHIFT_OK;
}

static void emt_destroy(void *self)
{
    ms_emt *m = self;
    if (!m)
        return;
    ms_neighbours_free(&m->nl);
    free(m->spec);
    free(m->atom);
    free(m->edge);
    free(m);
}

static const ms_prior_ops emt_ops = {
    "emt", MLSHIFT_PRIOR_PERIODIC | MLSHIFT_PRIOR_VIRIAL, emt_compute,
    emt_destroy,
};

mlshift_status ms_prior_emt_create(const char *args, mlshift_prior *p,
                                   mlshift_error *err)
{
    if (args && *args)
        return ms_fail(err, MLSHIFT_ERR_VALUE, "prior emt:%s: emt takes no "
                       "options", args);
    ms_emt *m = calloc(1, sizeof *m);
    if (!m)
        return ms_fail(err, MLSHIFT_ERR_NOMEM, "prior emt: out of memory");
    const double beta = EMT_BETA, bohr = EMT_BOHR;
    double maxseq = 0;
    for (int k = 0; k < EMT_NEL; k++)
        if (emt_table[k].p[1] > maxseq)
            maxseq = emt_table[k].p[1];
    maxseq *= bohr;
    /* as ASE's EMT.initialize, operation for operation */
    double rc = beta * maxseq * 0.5 * (sqrt(3.0) + sqrt(4.0));
    double rr = rc * 2 * sqrt(4.0) / (sqrt(3.0) + sqrt(4.0));
    m->rc = rc;
    m->acut = log(9999.0) / (rr - rc);
    m->rc_list = rc + 0.5;
    for (int z = 0; z < EMT_NZ; z++)
        m->index[z] = -1;
    for (int k = 0; k < EMT_NEL; k++) {
        const double *q = emt_table[k].p;
        emt_el *e = &m->el[k];
        m->index[emt_table[k].z] = k;
        e->e0 = q[0];
        e->s0 = q[1] * bohr;
        e->v0 = q[2];
        e->eta2 = q[3] / bohr;
        e->kappa = q[4] / bohr;
        e->lambda = q[5] / bohr;
        e->n0 = q[6] / pow(bohr, 3);
        const double shell[3] = {12, 6, 24};
        for (int s = 0; s < 3; s++) {
            double r = e->s0 * beta * sqrt((double)(s + 1));
            double x = shell[s] / (12 * (1.0 + exp(m->acut * (r - rc))));
            e->gamma1 += x * exp(-e->eta2 * (r - beta * e->s0));
            e->gamma2 += x * exp(-e->kappa / beta * (r - beta * e->s0));
        }
    }
    for (int a = 0; a < EMT_NEL; a++)
        for (int b = 0; b < EMT_NEL; b++)
            m->chi[a][b] = m->el[b].n0 / m->el[a].n0;
    p->ops = &emt_ops;
    p->self = m;
    return MLSHIFT_OK;
}
