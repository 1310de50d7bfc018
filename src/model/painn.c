/* SPDX-License-Identifier: MIT */
/* PaiNN (Schütt, Unke, Gastegger, ICML 2021), conservative: the energy is a
 * sum of atomic energies, forces are −dE/dr by the tape.
 *
 * State per atom: scalars s (N, F) and vectors v (N, 3, F).
 *   s⁰ = embedding[Z_i], v⁰ = 0.
 * Block t, message (edge e = i → j, aggregated on i, the edge's src):
 *   φ(s) = silu(s W1 + b1) W2 + b2                       (N, 3F)
 *   W_p  = (rbf_p Wf + bf) · env_p                        (P, 3F)
 *          once per pair p = {i → j, j → i} (ms_batch: both edges have
 *          the distance d_p), computed as [rbf_p·env_p, env_p] [Wf; bf],
 *          one matmul per F-column slice of [Wf; bf] (W_s, W_vv, W_vs: no
 *          slice of a (P, 3F) product)
 *   x_e  = φ(s)_j ⊙ W_e = [x_s | x_vv | x_vs]             (E, F) each
 *   Δs_i = Σ_e x_s,   Δv_i = Σ_e (v_j ⊙ x_vv + (r_e/d_e) ⊗ x_vs)
 *          each sum one gather_mul_scatter (src/nn/ops_gms.c) over the
 *          pairs' edges i → j and one over their reverses j → i, whose
 *          direction is −dir_p (a difference of the two vector sums): the
 *          (E, 3, F) terms are never formed, forward or backward
 * Block t, update:
 *   U v, V v (N, 3, F) (matrices (F, F) on the feature axis, no bias),
 *   ‖Vv‖ = √(Σ_axis (Vv)² + eps)                          (N, F)
 *   a = silu([s, ‖Vv‖] A1 + c1) A2 + c2 = [a_vv | a_sv | a_ss]
 *   Δv = a_vv ⊙ Uv,   Δs = a_sv ⊙ ⟨Uv, Vv⟩ + a_ss
 * Readout (layers.c): e_i = scale·MLP(s_i) + shift + atom_ref[Z_i].
 *
 * Rotations act on the axis of length 3 only (every matrix acts on F), and
 * the only geometric inputs are r_e (equivariant) and d_e, so E is
 * invariant and F = −dE/dr equivariant. The block-0 term v_j ⊙ x_vv is
 * skipped because v⁰ = 0 (exactly, not approximately), and the last
 * block's Δv because no output reads v after it.
 *
 * Parameter names (prefix "blocks.t" in g_R, "main.blocks.t" / "prior.
 * blocks.t" in the heads): msg.W1 (F, F), msg.b1 (F), msg.W2 (F, 3F),
 * msg.b2 (3F), msg.Wf (K, 3F), msg.bf (3F), upd.U (F, F), upd.V (F, F),
 * upd.A1 (2F, F), upd.c1 (F), upd.A2 (F, 3F), upd.c2 (3F). */
#include "model.h"

#include <stdio.h>

static mlshift_status block_params(ms_model *m, const char *pre, int grp,
                                   mlshift_error *err)
{
    const size_t F = (size_t)m->h.F, K = (size_t)m->h.K;
    mlshift_status st;
    if ((st = ms_model_add_param(m, grp, 1, 2, MS_SHAPE(F, F), err, "%s.msg.W1", pre)) ||
        (st = ms_model_add_param(m, grp, 1, 1, MS_SHAPE(F), err, "%s.msg.b1", pre)) ||
        (st = ms_model_add_param(m, grp, 1, 2, MS_SHAPE(F, 3 * F), err, "%s.msg.W2", pre)) ||
        (st = ms_model_add_param(m, grp, 1, 1, MS_SHAPE(3 * F), err, "%s.msg.b2", pre)) ||
        (st = ms_model_add_param(m, grp, 1, 2, MS_SHAPE(K, 3 * F), err, "%s.msg.Wf", pre)) ||
        (st = ms_model_add_param(m, grp, 1, 1, MS_SHAPE(3 * F), err, "%s.msg.bf", pre)) ||
        (st = ms_model_add_param(m, grp, 1, 2, MS_SHAPE(F, F), err, "%s.upd.U", pre)) ||
        (st = ms_model_add_param(m, grp, 1, 2, MS_SHAPE(F, F), err, "%s.upd.V", pre)) ||
        (st = ms_model_add_param(m, grp, 1, 2, MS_SHAPE(2 * F, F), err, "%s.upd.A1", pre)) ||
        (st = ms_model_add_param(m, grp, 1, 1, MS_SHAPE(F), err, "%s.upd.c1", pre)) ||
        (st = ms_model_add_param(m, grp, 1, 2, MS_SHAPE(F, 3 * F), err, "%s.upd.A2", pre)) ||
        (st = ms_model_add_param(m, grp, 1, 1, MS_SHAPE(3 * F), err, "%s.upd.c2", pre)))
        return st;
    return MLSHIFT_OK;
}

/* x_e = φ_j ⊙ W_e on the pairs' edges i → j (φ of dst) and on their
 * reverses j → i (φ of src), each (P, 1, F): one gather_mul_scatter
 * without a scatter each. */
static void edge_products(ms_graph *g, const ms_batch *b, ms_t *phi, ms_t *w, size_t F,
                          ms_t **fwd, ms_t **rev)
{
    *fwd = ms_reshape(g, ms_gather_mul_scatter(g, phi, b->dst, w, NULL, 0), 3,
                      MS_SHAPE(b->P, 1, F));
    *rev = ms_reshape(g, ms_gather_mul_scatter(g, phi, b->src, w, NULL, 0), 3,
                      MS_SHAPE(b->P, 1, F));
}

mlshift_status ms_painn_params(ms_model *m, mlshift_error *err)
{
    return ms_model_stack_params(m, block_params, err);
}

void ms_painn_embed(ms_graph *g, const ms_model *m, const ms_batch *b, ms_t *R,
                    ms_t **leaf, ms_rep *r)
{
    ms_model_edges(g, m, b, R, &r->ef);
    r->s = ms_gather(g, ms_model_leaf(g, m, leaf, "embedding"), b->species, b->N); // (N, F)
    r->v = NULL;                                                                   // (N, 3, F)
    /* (rbf Wf + bf)·env as one matmul: [rbf·env, env] [Wf; bf] */
    r->rbfe = ms_concat(g, 2, (ms_t *[]){ms_mul(g, r->ef.rbf, r->ef.env), r->ef.env}, 1);
}

void ms_painn_blocks(ms_graph *g, const ms_model *m, const ms_batch *b, ms_t **leaf,
                     ms_head head, int t0, int t1, ms_rep *r)
{
    const size_t N = b->N, F = (size_t)m->h.F;
    ms_t *s = r->s, *v = r->v, *rbfe = r->rbfe;                      // (N, F), (N, 3, F), (P, K+1)
    const ms_edge_feats ef = r->ef;
    char pre[MS_PARAM_NAME];
#define L(name) ms_model_leaf(g, m, leaf, "%s." name, pre)
    for (int t = t0; t < t1; t++) {
        ms_block_group(m, t, head, pre, sizeof pre);
        /* message */
        ms_t *phi = ms_linear(g, ms_silu(g, ms_linear(g, s, L("msg.W1"), L("msg.b1"))),
                              L("msg.W2"), L("msg.b2"));                           // (N, 3F)
        ms_t *Wfb = ms_concat(g, 2, (ms_t *[]){L("msg.Wf"), ms_reshape(g, L("msg.bf"), 2,
                                                   MS_SHAPE(1, 3 * F))}, 0); // (K+1, 3F)
        /* the three filters as three matmuls (slices of the small Wfb, not of
         * a (P, 3F) product), and each message in gather-multiply-scatter
         * passes: no (E, 3F) or (E, 3, F) tensor in the forward pass */
        /* block 0 (v⁰ = 0) has no v_j ⊙ x_vv term, nor its filter. The
         * products are made in this order, W_s, W_vv, W_vs, so that the
         * backward sums into rbfe and φ in a fixed order (float rounding) */
        ms_t *Ws = ms_matmul(g, rbfe, ms_slice(g, Wfb, 1, 0, F), 0, 0);         // (P, F)
        ms_t *Wvv = v ? ms_matmul(g, rbfe, ms_slice(g, Wfb, 1, F, F), 0, 0) : NULL;
        ms_t *Wvs = ms_matmul(g, rbfe, ms_slice(g, Wfb, 1, 2 * F, F), 0, 0);    // (P, F)
        ms_t *phis = ms_slice(g, phi, 1, 0, F);                                  // (N, F)
        ms_t *phivv = v ? ms_slice(g, phi, 1, F, F) : NULL;                      // (N, F)
        ms_t *phivs = ms_slice(g, phi, 1, 2 * F, F);                             // (N, F)
        /* each message over the edges i → j (φ of j, summed on i), then
         * over their reverses j → i (φ of i, summed on j, direction −dir) */
        s = ms_add(g, s, ms_pair_messages(g, b, phis, Ws, Ws));
        ms_t *xvs, *xvs_r, *xvv, *xvv_r;                                        // (P, 1, F)
        edge_products(g, b, phivs, Wvs, F, &xvs, &xvs_r);
        ms_t *dvi = ms_sub(g, ms_gather_mul_scatter(g, ef.dir, NULL, xvs, b->src, N),
                           ms_gather_mul_scatter(g, ef.dir, NULL, xvs_r, b->dst, N)); // (N, 3, F)
        if (v) {
            edge_products(g, b, phivv, Wvv, F, &xvv, &xvv_r);
            dvi = ms_add(g, dvi, ms_pair_messages(g, b, v, xvv, xvv_r));
        }
        v = v ? ms_add(g, v, dvi) : dvi;
        /* update */
        ms_t *v2 = ms_reshape(g, v, 2, MS_SHAPE(3 * N, F));                        // (3N, F)
        ms_t *Uv = ms_reshape(g, ms_matmul(g, v2, L("upd.U"), 0, 0), 3, MS_SHAPE(N, 3, F));
        ms_t *Vv = ms_reshape(g, ms_matmul(g, v2, L("upd.V"), 0, 0), 3, MS_SHAPE(N, 3, F));
        ms_t *nrm = ms_sqrt(g, ms_add_scalar(g, ms_sum_axis(g, ms_mul(g, Vv, Vv), 1),
                                             m->h.norm_eps));                       // (N, 1, F)
        ms_t *sv = ms_concat(g, 2, (ms_t *[]){s, ms_reshape(g, nrm, 2, MS_SHAPE(N, F))}, 1);
        ms_t *a = ms_linear(g, ms_silu(g, ms_linear(g, sv, L("upd.A1"), L("upd.c1"))),
                            L("upd.A2"), L("upd.c2"));                              // (N, 3F)
        ms_t *asv = ms_slice(g, a, 1, F, F);                                       // (N, F)
        ms_t *ass = ms_slice(g, a, 1, 2 * F, F);                                   // (N, F)
        ms_t *uv = ms_reshape(g, ms_sum_axis(g, ms_mul(g, Uv, Vv), 1), 2, MS_SHAPE(N, F));
        if (t + 1 < m->h.T) { /* the last block's Δv reaches no output: not computed */
            ms_t *avv = ms_reshape(g, ms_slice(g, a, 1, 0, F), 3, MS_SHAPE(N, 1, F));
            v = ms_add(g, v, ms_mul(g, avv, Uv));
        }
        s = ms_add(g, s, ms_add(g, ms_mul(g, asv, uv), ass));
    }
#undef L
    r->s = s;
    r->v = v;
}
