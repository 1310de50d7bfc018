/* SPDX-License-Identifier: MIT */
/* Layers PaiNN and SchNet share: edge geometry, radial basis, envelope,
 * the dense layer and the per-head readout.
 *
 * Pair p = (i → j) of the batch (ms_batch: the edge and its reverse):
 * r_p = r_j − r_i + S_p·cell (Å, the cell shift is a constant: positions
 * are the only geometric leaf), d_p = √(Σ r_p²) > 0 (the neighbour list has
 * no zero distances). The reverse edge j → i has vector −r_p, direction
 * −r_p/d_p and the same d_p, so every radial feature below: one row per
 * pair, P = E / 2 rows. With d_e the distance of either edge of pair e,
 * rbf_{e,n} = sin(nπ d_e / r_b) / d_e, n = 1 … K, with r_b the training
 * cutoff (absolute Å, independent of the run-time cutoff),
 * env_e = u(x) = 1 − 21x⁵ + 35x⁶ − 15x⁷, x = d_e / r_cut (run-time cutoff).
 * u(1) = u′(1) = u″(1) = 0, so an atom crossing r_cut changes the energy by
 * O((1 − x)³) and the forces continuously; edges only exist for x ≤ 1.
 * Horner: u = 1 + x⁵(−21 + x(35 − 15x)).
 *
 * Readout of head h (the paper's atomwise output):
 *   e_i = scale_h·(silu(s_i W1 + b1) W2 + b2 + ε_i) + shift_h + atom_ref_h[Z_i]
 * with ε_i the earlier blocks' readouts (readout_every; else 0)
 *   E_b = Σ_{i ∈ b} e_i (segment_sum).
 * shift and atom_ref are constants (not trained): their sum per structure,
 * the offset O_b = Σ_{i ∈ b} (shift_h + atom_ref_h[Z_i]), is added in
 * double by the callers (ms_model_energy_offset), so the graph carries
 * only the learned part E_b − O_b — small (eV) where E_b is thousands of
 * eV, which a float32 graph could not resolve to meV. */
#include "model.h"

#include <math.h>
#include <stdio.h>

void ms_model_edges(ms_graph *g, const ms_model *m, const ms_batch *b, ms_t *R,
                    ms_edge_feats *ef)
{
    const size_t P = b->P;
    const int K = m->h.K;
    double freq[4096]; // (K) 1/Å
    for (int n = 0; n < K; n++)
        freq[n] = (n + 1) * 3.14159265358979323846 / m->h.r_basis;
    ms_t *r = ms_sub(g, ms_gather(g, R, b->dst, P), ms_gather(g, R, b->src, P)); // (P, 3)
    if (b->periodic)
        r = ms_add(g, r, ms_wrap(g, 2, MS_SHAPE(P, 3), b->shift, 0));
    ms_t *d = ms_sqrt(g, ms_sum_axis(g, ms_mul(g, r, r), 1));                   // (P, 1)
    ef->r = r;
    ef->d = d;
    ef->dir = ms_reshape(g, ms_div(g, r, d), 3, MS_SHAPE(P, 3, 1));             // (P, 3, 1)
    ef->rbf = ms_div(g, ms_sin(g, ms_mul(g, d, ms_const(g, 1, MS_SHAPE((size_t)K), freq))),
                     d);                                                         // (P, K)
    ms_t *x = ms_scale(g, d, 1.0 / b->r_cut);                                    // (P, 1)
    ms_t *in = ms_add_scalar(g, ms_scale(g, x, -15.0), 35.0);
    in = ms_add_scalar(g, ms_mul(g, x, in), -21.0);
    ef->env = ms_add_scalar(g, ms_mul(g, ms_pow(g, x, 5.0), in), 1.0);          // (P, 1)
}

ms_t *ms_pair_messages(ms_graph *g, const ms_batch *b, ms_t *a, ms_t *w, ms_t *w_rev)
{
    return ms_add(g, ms_gather_mul_scatter(g, a, b->dst, w, b->src, b->N),
                  ms_gather_mul_scatter(g, a, b->src, w_rev, b->dst, b->N));
}

ms_t *ms_linear(ms_graph *g, ms_t *x, ms_t *W, ms_t *b)
{
    return ms_matmul_bias(g, x, W, b); /* one op: no broadcast add, no sum_to */
}

int ms_block_group(const ms_model *m, int t, ms_head head, char *prefix, size_t cap)
{
    if (t < m->h.k_rep) {
        snprintf(prefix, cap, "blocks.%d", t);
        return t < m->h.j_ttt ? MS_GROUP_TTT : MS_GROUP_REP;
    }
    snprintf(prefix, cap, "%s.blocks.%d", head == MS_HEAD_MAIN ? "main" : "prior", t);
    return head == MS_HEAD_MAIN ? MS_GROUP_MAIN : MS_GROUP_PRIOR;
}

mlshift_status ms_model_mlp_readout_params(ms_model *m, const char *prefix, int group,
                                           mlshift_error *err)
{
    const size_t F = (size_t)m->h.F, H = F / 2;
    const char *p = prefix;
    mlshift_status st;
    if ((st = ms_model_add_param(m, group, 1, 2, MS_SHAPE(F, H), err, "%s.readout.W1", p)) ||
        (st = ms_model_add_param(m, group, 1, 1, MS_SHAPE(H), err, "%s.readout.b1", p)) ||
        (st = ms_model_add_param(m, group, 1, 2, MS_SHAPE(H, 1), err, "%s.readout.W2", p)) ||
        (st = ms_model_add_param(m, group, 1, 1, MS_SHAPE(1), err, "%s.readout.b2", p)))
        return st;
    return MLSHIFT_OK;
}

mlshift_status ms_model_readout_params(ms_model *m, mlshift_error *err)
{
    const size_t S = (size_t)m->n_el;
    for (int h = 0; h < 2; h++) {
        const char *p = h == MS_HEAD_MAIN ? "main" : "prior";
        int grp = h == MS_HEAD_MAIN ? MS_GROUP_MAIN : MS_GROUP_PRIOR;
        mlshift_status st;
        if ((st = ms_model_mlp_readout_params(m, p, grp, err)) ||
            (st = ms_model_add_param(m, grp, 0, 2, MS_SHAPE(S, 1), err, "%s.atom_ref", p)) ||
            (st = ms_model_add_param(m, grp, 0, 1, MS_SHAPE(1), err, "%s.scale", p)) ||
            (st = ms_model_add_param(m, grp, 0, 1, MS_SHAPE(1), err, "%s.shift", p)))
            return st;
    }
    return MLSHIFT_OK;
}

ms_t *ms_model_mlp_readout(ms_graph *g, const ms_model *m, ms_t **leaf,
                           const char *prefix, ms_t *s)
{
#define L(...) ms_model_leaf(g, m, leaf, __VA_ARGS__)
    const char *p = prefix;
    ms_t *h = ms_silu(g, ms_linear(g, s, L("%s.readout.W1", p), L("%s.readout.b1", p)));
    return ms_linear(g, h, L("%s.readout.W2", p), L("%s.readout.b2", p));         // (N, 1)
#undef L
}

ms_t *ms_model_readout(ms_graph *g, const ms_model *m, const ms_batch *b,
                       ms_t **leaf, ms_head head, ms_t *s, ms_t *e_before)
{
    const char *p = head == MS_HEAD_MAIN ? "main" : "prior";
    ms_t *e = ms_model_mlp_readout(g, m, leaf, p, s);                             // (N, 1)
    if (e_before)
        e = ms_add(g, e, e_before);
    e = ms_mul(g, e, ms_model_leaf(g, m, leaf, "%s.scale", p));
    return ms_segment_sum(g, e, b->seg, b->B);                                    // (B, 1)
}

void ms_model_energy_offset(const ms_model *m, const ms_batch *b, ms_head head, double *off)
{
    const char *p = head == MS_HEAD_MAIN ? "main" : "prior";
    char name[MS_PARAM_NAME];
    snprintf(name, sizeof name, "%s.shift", p);
    long is = ms_model_find(m, name);
    snprintf(name, sizeof name, "%s.atom_ref", p);
    long ia = ms_model_find(m, name);
    const double shift = is < 0 ? 0.0 : m->theta[m->param[is].off];
    const double *ref = ia < 0 ? NULL : m->theta + m->param[ia].off; // (species)
    /* by the batch's segments, as the readout sums: a batch whose atoms
     * are each their own segment (per-atom energies) gets per-atom offsets */
    for (size_t s = 0; s < b->B; s++)
        off[s] = 0;
    for (size_t i = 0; i < b->N; i++)
        off[b->seg[i]] += shift + (ref ? ref[b->species[i]] : 0.0);
}
