/* SPDX-License-Identifier: MIT */
/* Differentiation core (src/nn): every op's first and second derivatives
 * against central differences in double, forward values against direct
 * loops/libm, error handling, the no-malloc-after-warm-up property, and a
 * composite "energy → forces → force loss → parameter gradient" model.
 *
 * For an op y = f(x_1, …) the test loss is L = Σ y ⊙ (w + ½ y) with fixed
 * weights w; the ½ y² term makes ∇L depend on x even for linear ops, so
 * the second-derivative check really differentiates each backward rule.
 *   first:  ∂L/∂x_j          vs (L(x + h e_j) − L(x − h e_j)) / 2h
 *   second: H v = ∇⟨∇L, v⟩   vs (∇L(x + h v) − ∇L(x − h v)) / 2h
 * with h = 1e-5, pass if |analytic − numeric| <= 1e-8 + 1e-6 |numeric|.
 *
 * `test_nn_ops --dump DIR` writes the composite model's inputs and results
 * for tests/reference/test_nn_torch.py. */
#include "check.h"
#include "nn/kernels.h"
#include "nn/ops.h"

#include <errno.h>
#include <sys/stat.h>

#define H_FD 1e-5
#define ATOL 1e-8
#define RTOL 1e-6
#define MAXX 3

static ms_graph G;

/* deterministic uniform numbers in [lo, hi) */
static unsigned long long rng_state = 88172645463325252ULL;
static double urand(double lo, double hi)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return lo + (hi - lo) * (double)(rng_state >> 11) / 9007199254740992.0;
}

/* ---------------------------------------------------------------- op cases */

typedef ms_t *(*build_fn)(ms_graph *g, ms_t **x);

typedef struct op_case {
    const char *name;
    build_fn f;
    int nx;
    int ndim[MAXX];
    size_t shape[MAXX][3];
    double lo, hi; /* input range */
} op_case;

static const int32_t IDX[] = {2, 0, 2, 1, 3, 2}; /* repeated on purpose */

static ms_t *f_add(ms_graph *g, ms_t **x) { return ms_add(g, x[0], x[1]); }
static ms_t *f_sub(ms_graph *g, ms_t **x) { return ms_sub(g, x[0], x[1]); }
static ms_t *f_mul(ms_graph *g, ms_t **x) { return ms_mul(g, x[0], x[1]); }
static ms_t *f_div(ms_graph *g, ms_t **x) { return ms_div(g, x[0], x[1]); }
static ms_t *f_neg(ms_graph *g, ms_t **x) { return ms_neg(g, x[0]); }
static ms_t *f_scale(ms_graph *g, ms_t **x) { return ms_scale(g, x[0], -1.7); }
static ms_t *f_addc(ms_graph *g, ms_t **x) { return ms_add_scalar(g, x[0], 0.3); }
static ms_t *f_pow2(ms_graph *g, ms_t **x) { return ms_pow(g, x[0], 2.0); }
static ms_t *f_pow3(ms_graph *g, ms_t **x) { return ms_pow(g, x[0], 3.0); }
static ms_t *f_pow25(ms_graph *g, ms_t **x) { return ms_pow(g, x[0], 2.5); }
static ms_t *f_powm15(ms_graph *g, ms_t **x) { return ms_pow(g, x[0], -1.5); }
static ms_t *f_exp(ms_graph *g, ms_t **x) { return ms_exp(g, x[0]); }
static ms_t *f_log(ms_graph *g, ms_t **x) { return ms_log(g, x[0]); }
static ms_t *f_sqrt(ms_graph *g, ms_t **x) { return ms_sqrt(g, x[0]); }
static ms_t *f_sin(ms_graph *g, ms_t **x) { return ms_sin(g, x[0]); }
static ms_t *f_cos(ms_graph *g, ms_t **x) { return ms_cos(g, x[0]); }
static ms_t *f_tanh(ms_graph *g, ms_t **x) { return ms_tanh(g, x[0]); }
static ms_t *f_sigmoid(ms_graph *g, ms_t **x) { return ms_sigmoid(g, x[0]); }
static ms_t *f_silu(ms_graph *g, ms_t **x) { return ms_silu(g, x[0]); }
static ms_t *f_mm00(ms_graph *g, ms_t **x) { return ms_matmul(g, x[0], x[1], 0, 0); }
static ms_t *f_mm10(ms_graph *g, ms_t **x) { return ms_matmul(g, x[0], x[1], 1, 0); }
static ms_t *f_mm01(ms_graph *g, ms_t **x) { return ms_matmul(g, x[0], x[1], 0, 1); }
static ms_t *f_mm11(ms_graph *g, ms_t **x) { return ms_matmul(g, x[0], x[1], 1, 1); }
static ms_t *f_sum0(ms_graph *g, ms_t **x) { return ms_sum_axis(g, x[0], 0); }
static ms_t *f_sum1(ms_graph *g, ms_t **x) { return ms_sum_axis(g, x[0], 1); }
static ms_t *f_sum2(ms_graph *g, ms_t **x) { return ms_sum_axis(g, x[0], 2); }
static ms_t *f_sum(ms_graph *g, ms_t **x) { return ms_sum(g, x[0]); }
static ms_t *f_expand(ms_graph *g, ms_t **x) { return ms_expand(g, x[0], 3, MS_SHAPE(2, 3, 4)); }
static ms_t *f_sum_to(ms_graph *g, ms_t **x) { return ms_sum_to(g, x[0], 2, MS_SHAPE(3, 1)); }
static ms_t *f_gather(ms_graph *g, ms_t **x) { return ms_gather(g, x[0], IDX, 6); }
static ms_t *f_scatter(ms_graph *g, ms_t **x) { return ms_scatter_add(g, x[0], IDX, 5); }
static ms_t *f_segment(ms_graph *g, ms_t **x)
{
    static const int32_t seg[] = {0, 0, 0, 1, 1, 2};
    return ms_segment_sum(g, x[0], seg, 3);
}
static ms_t *f_concat0(ms_graph *g, ms_t **x) { return ms_concat(g, 2, x, 0); }
static ms_t *f_concat2(ms_graph *g, ms_t **x) { return ms_concat(g, 3, x, 2); }
static ms_t *f_slice(ms_graph *g, ms_t **x) { return ms_slice(g, x[0], 1, 1, 2); }
static ms_t *f_pad(ms_graph *g, ms_t **x) { return ms_pad(g, x[0], 0, 1, 4); }
static ms_t *f_reshape(ms_graph *g, ms_t **x) { return ms_reshape(g, x[0], 2, MS_SHAPE(6, 4)); }
static ms_t *f_silu_d(ms_graph *g, ms_t **x) { return ms_silu_grad(g, x[0]); }
static ms_t *f_silu_dd(ms_graph *g, ms_t **x) { return ms_silu_grad2(g, x[0]); }
static ms_t *f_mst_a(ms_graph *g, ms_t **x) { return ms_mul_sum_to(g, x[0], x[1], 3, MS_SHAPE(2, 3, 1)); }
static ms_t *f_mst_b(ms_graph *g, ms_t **x) { return ms_mul_sum_to(g, x[0], x[1], 1, MS_SHAPE(4)); }
static ms_t *f_mst_c(ms_graph *g, ms_t **x) { return ms_mul_sum_to(g, x[0], x[1], 0, NULL); }
static ms_t *f_mst_d(ms_graph *g, ms_t **x) { return ms_mul_sum_to(g, x[0], x[1], 3, MS_SHAPE(2, 3, 4)); }
static ms_t *f_mmb(ms_graph *g, ms_t **x) { return ms_matmul_bias(g, x[0], x[1], x[2]); }
static ms_t *f_mmb0(ms_graph *g, ms_t **x) { return ms_matmul_bias(g, x[0], x[1], NULL); }
/* gather_mul_scatter: both indices, a broadcast b, no a index, no scatter */
static const int32_t IDX2[] = {4, 1, 0, 4, 1, 3};
static ms_t *f_gms(ms_graph *g, ms_t **x) { return ms_gather_mul_scatter(g, x[0], IDX, x[1], IDX2, 5); }
static ms_t *f_gms_a(ms_graph *g, ms_t **x) { return ms_gather_mul_scatter(g, x[0], NULL, x[1], IDX2, 5); }
static ms_t *f_gms_b(ms_graph *g, ms_t **x) { return ms_gather_mul_scatter(g, x[0], IDX, x[1], NULL, 0); }
/* gather_mul_sum: both indices to (6,1,2); one index to (6,3,1); none, to a
 * shape neither factor has (expands) */
static ms_t *f_gmsum(ms_graph *g, ms_t **x)
{
    return ms_gather_mul_sum(g, x[0], IDX, x[1], IDX2, 6, 3, MS_SHAPE(6, 1, 2));
}
static ms_t *f_gmsum_a(ms_graph *g, ms_t **x)
{
    return ms_gather_mul_sum(g, x[0], IDX2, x[1], NULL, 6, 3, MS_SHAPE(6, 3, 1));
}
static ms_t *f_gmsum_b(ms_graph *g, ms_t **x)
{
    return ms_gather_mul_sum(g, x[0], NULL, x[1], NULL, 6, 3, MS_SHAPE(6, 3, 2));
}
/* x used four times, twice by one node (x·x) and through add, whose rule
 * hands the same gradient to both inputs (in-place accumulation, aliasing) */
static ms_t *f_reuse4(ms_graph *g, ms_t **x)
{
    return ms_add(g, ms_add(g, ms_mul(g, x[0], x[0]), x[0]), ms_sin(g, x[0]));
}
/* a norm of vector features, the way models write it: √(Σ_xyz v² + ε) */
static ms_t *f_norm(ms_graph *g, ms_t **x)
{
    return ms_sqrt(g, ms_add_scalar(g, ms_sum_axis(g, ms_mul(g, x[0], x[0]), 1), 1e-3));
}
/* the same tensor used twice (gradient accumulation) */
static ms_t *f_reuse(ms_graph *g, ms_t **x)
{
    return ms_mul(g, ms_sin(g, x[0]), ms_add(g, x[0], x[1]));
}

#define S1(a) {a}
#define S2(a, b) {a, b}
#define S3(a, b, c) {a, b, c}
static const op_case CASES[] = {
    {"add (N,F)+(F,)", f_add, 2, {2, 1}, {S2(4, 3), S1(3)}, -1, 1},
    {"add (N,3,F)+(N,1,F)", f_add, 2, {3, 3}, {S3(2, 3, 4), S3(2, 1, 4)}, -1, 1},
    {"add scalar+(N,F)", f_add, 2, {0, 2}, {{0}, S2(3, 2)}, -1, 1},
    {"sub (N,F)-(N,1)", f_sub, 2, {2, 2}, {S2(4, 3), S2(4, 1)}, -1, 1},
    {"sub (1,F)-(N,1)", f_sub, 2, {2, 2}, {S2(1, 3), S2(4, 1)}, -1, 1},
    {"mul (N,F)*(N,F)", f_mul, 2, {2, 2}, {S2(3, 4), S2(3, 4)}, -1, 1},
    {"mul (N,3,F)*(N,3,1)", f_mul, 2, {3, 3}, {S3(2, 3, 4), S3(2, 3, 1)}, -1, 1},
    {"mul (E,3,1)*(E,1,F)", f_mul, 2, {3, 3}, {S3(2, 3, 1), S3(2, 1, 4)}, -1, 1},
    {"div (N,F)/(F,)", f_div, 2, {2, 1}, {S2(4, 3), S1(3)}, 0.5, 2},
    {"div (N,3,F)/(N,1,F)", f_div, 2, {3, 3}, {S3(2, 3, 4), S3(2, 1, 4)}, 0.5, 2},
    {"neg", f_neg, 1, {2}, {S2(3, 4)}, -1, 1},
    {"scale", f_scale, 1, {3}, {S3(2, 3, 2)}, -1, 1},
    {"add_scalar", f_addc, 1, {2}, {S2(3, 4)}, -1, 1},
    {"pow 2", f_pow2, 1, {2}, {S2(3, 4)}, -1.5, 1.5},
    {"pow 3", f_pow3, 1, {2}, {S2(3, 4)}, -1.5, 1.5},
    {"pow 2.5", f_pow25, 1, {2}, {S2(3, 4)}, 0.5, 2},
    {"pow -1.5", f_powm15, 1, {2}, {S2(3, 4)}, 0.5, 2},
    {"exp", f_exp, 1, {2}, {S2(3, 4)}, -1, 1},
    {"log", f_log, 1, {2}, {S2(3, 4)}, 0.5, 2},
    {"sqrt", f_sqrt, 1, {2}, {S2(3, 4)}, 0.5, 2},
    {"sin", f_sin, 1, {2}, {S2(3, 4)}, -3, 3},
    {"cos", f_cos, 1, {2}, {S2(3, 4)}, -3, 3},
    {"tanh", f_tanh, 1, {2}, {S2(3, 4)}, -2, 2},
    {"sigmoid", f_sigmoid, 1, {2}, {S2(3, 4)}, -3, 3},
    {"silu", f_silu, 1, {2}, {S2(3, 4)}, -3, 3},
    {"matmul (M,K)(K,N)", f_mm00, 2, {2, 2}, {S2(3, 4), S2(4, 2)}, -1, 1},
    {"matmul (K,M)^T(K,N)", f_mm10, 2, {2, 2}, {S2(4, 3), S2(4, 2)}, -1, 1},
    {"matmul (M,K)(N,K)^T", f_mm01, 2, {2, 2}, {S2(3, 4), S2(2, 4)}, -1, 1},
    {"matmul (K,M)^T(N,K)^T", f_mm11, 2, {2, 2}, {S2(4, 3), S2(2, 4)}, -1, 1},
    {"sum_axis 0", f_sum0, 1, {3}, {S3(2, 3, 4)}, -1, 1},
    {"sum_axis 1", f_sum1, 1, {3}, {S3(2, 3, 4)}, -1, 1},
    {"sum_axis 2", f_sum2, 1, {3}, {S3(2, 3, 4)}, -1, 1},
    {"sum", f_sum, 1, {3}, {S3(2, 3, 4)}, -1, 1},
    {"expand (2,1,4)->(2,3,4)", f_expand, 1, {3}, {S3(2, 1, 4)}, -1, 1},
    {"expand (4,)->(2,3,4)", f_expand, 1, {1}, {S1(4)}, -1, 1},
    {"sum_to (2,3,4)->(3,1)", f_sum_to, 1, {3}, {S3(2, 3, 4)}, -1, 1},
    {"gather (4,3)->(6,3)", f_gather, 1, {2}, {S2(4, 3)}, -1, 1},
    {"gather (4,3,2)->(6,3,2)", f_gather, 1, {3}, {S3(4, 3, 2)}, -1, 1},
    {"scatter_add (6,2)->(5,2)", f_scatter, 1, {2}, {S2(6, 2)}, -1, 1},
    {"scatter_add (6,3,2)->(5,3,2)", f_scatter, 1, {3}, {S3(6, 3, 2)}, -1, 1},
    {"segment_sum (6,1)->(3,1)", f_segment, 1, {2}, {S2(6, 1)}, -1, 1},
    {"concat axis 0", f_concat0, 2, {2, 2}, {S2(2, 3), S2(3, 3)}, -1, 1},
    {"concat axis 2", f_concat2, 3, {3, 3, 3}, {S3(2, 3, 1), S3(2, 3, 2), S3(2, 3, 1)}, -1, 1},
    {"slice axis 1", f_slice, 1, {3}, {S3(2, 4, 3)}, -1, 1},
    {"pad axis 0", f_pad, 1, {2}, {S2(2, 3)}, -1, 1},
    {"reshape (2,3,4)->(6,4)", f_reshape, 1, {3}, {S3(2, 3, 4)}, -1, 1},
    {"norm sqrt(sum_xyz v^2 + eps)", f_norm, 1, {3}, {S3(2, 3, 4)}, -1, 1},
    {"reuse sin(x)*(x+y)", f_reuse, 2, {2, 2}, {S2(3, 2), S2(3, 2)}, -1, 1},
    {"reuse x*x + x + sin x", f_reuse4, 1, {2}, {S2(3, 4)}, -1, 1},
    {"silu_grad", f_silu_d, 1, {2}, {S2(3, 4)}, -3, 3},
    {"silu_grad2", f_silu_dd, 1, {2}, {S2(3, 4)}, -3, 3},
    {"mul_sum_to (2,3,4)*(2,1,4)->(2,3,1)", f_mst_a, 2, {3, 3}, {S3(2, 3, 4), S3(2, 1, 4)}, -1, 1},
    {"mul_sum_to (3,4)*(3,4)->(4,)", f_mst_b, 2, {2, 2}, {S2(3, 4), S2(3, 4)}, -1, 1},
    {"mul_sum_to (3,4)*(3,1)->()", f_mst_c, 2, {2, 2}, {S2(3, 4), S2(3, 1)}, -1, 1},
    {"mul_sum_to (3,1)*(4,)->(2,3,4) (expands)", f_mst_d, 2, {2, 1}, {S2(3, 1), S1(4)}, -1, 1},
    {"matmul_bias (M,K)(K,N)+(N,)", f_mmb, 3, {2, 2, 1}, {S2(3, 4), S2(4, 2), S1(2)}, -1, 1},
    {"gather_mul_scatter (4,3)[idx]*(6,3)->(5,3)", f_gms, 2, {2, 2}, {S2(4, 3), S2(6, 3)}, -1, 1},
    {"gather_mul_scatter (4,3,2)[idx]*(6,1,2)->(5,3,2)", f_gms, 2, {3, 3}, {S3(4, 3, 2), S3(6, 1, 2)}, -1, 1},
    {"gather_mul_scatter (4,1,2)[idx]*(6,3,2)->(5,3,2)", f_gms, 2, {3, 3}, {S3(4, 1, 2), S3(6, 3, 2)}, -1, 1},
    {"gather_mul_scatter (6,3,1)*(6,1,2)->(5,3,2)", f_gms_a, 2, {3, 3}, {S3(6, 3, 1), S3(6, 1, 2)}, -1, 1},
    {"gather_mul_scatter (4,3)[idx]*(6,3)->(6,3) no scatter", f_gms_b, 2, {2, 2}, {S2(4, 3), S2(6, 3)}, -1, 1},
    {"gather_mul_scatter (4,2,3)[idx]*(6,2,1) no scatter", f_gms_b, 2, {3, 3}, {S3(4, 2, 3), S3(6, 2, 1)}, -1, 1},
    {"gather_mul_sum (4,3,2)[idx]*(5,3,2)[idx]->(6,1,2)", f_gmsum, 2, {3, 3}, {S3(4, 3, 2), S3(5, 3, 2)}, -1, 1},
    {"gather_mul_sum (4,1,2)[idx]*(5,3,1)[idx]->(6,1,2)", f_gmsum, 2, {3, 3}, {S3(4, 1, 2), S3(5, 3, 1)}, -1, 1},
    {"gather_mul_sum (5,3,2)[idx]*(6,1,2)->(6,3,1)", f_gmsum_a, 2, {3, 3}, {S3(5, 3, 2), S3(6, 1, 2)}, -1, 1},
    {"gather_mul_sum (6,3,1)*(6,1,1)->(6,3,2) (expands)", f_gmsum_b, 2, {3, 3}, {S3(6, 3, 1), S3(6, 1, 1)}, -1, 1},
    {"matmul_bias (M,K)(K,N) no bias", f_mmb0, 2, {2, 2}, {S2(3, 4), S2(4, 2)}, -1, 1},
};

static size_t numel_of(const op_case *c, int i)
{
    size_t n = 1;
    for (int d = 0; d < c->ndim[i]; d++)
        n *= c->shape[i][d];
    return n;
}

/* Builds L = Σ y ⊙ (w + ½ y), w_k = cos(0.37 + 1.618 k), from inputs xd. */
static ms_t *build_loss(const op_case *c, double *const *xd, ms_t **x, int rg)
{
    for (int i = 0; i < c->nx; i++)
        x[i] = ms_wrap(&G, c->ndim[i], c->shape[i], xd[i], rg);
    ms_t *y = c->f(&G, x);
    if (!y)
        return NULL;
    ms_t *w = ms_empty_like(&G, y);
    if (!w)
        return NULL;
    for (size_t k = 0; k < w->numel; k++)
        ms_set(w, k, cos(0.37 + 1.618 * (double)k));
    return ms_sum(&G, ms_mul(&G, y, ms_add(&G, w, ms_scale(&G, y, 0.5))));
}

static double loss_value(const op_case *c, double *const *xd)
{
    ms_graph_reset(&G);
    ms_t *x[MAXX];
    ms_t *L = build_loss(c, xd, x, 0);
    return L ? ms_at(L, 0) : NAN;
}

/* ∇L into gd[i] (numel of input i). */
static int loss_grad(const op_case *c, double *const *xd, double **gd)
{
    ms_graph_reset(&G);
    ms_t *x[MAXX], *gx[MAXX];
    ms_t *L = build_loss(c, xd, x, 1);
    if (ms_grad(&G, L, NULL, (size_t)c->nx, x, gx, 0) != MLSHIFT_OK)
        return -1;
    for (int i = 0; i < c->nx; i++)
        ms_copy_out(gx[i], gd[i]);
    return 0;
}

/* H v into hv[i]: differentiate ⟨∇L, v⟩ again. */
static int loss_hvp(const op_case *c, double *const *xd, double *const *vd, double **hv)
{
    ms_graph_reset(&G);
    ms_t *x[MAXX], *gx[MAXX], *hx[MAXX];
    ms_t *L = build_loss(c, xd, x, 1);
    if (ms_grad(&G, L, NULL, (size_t)c->nx, x, gx, 1) != MLSHIFT_OK)
        return -1;
    ms_t *s = NULL;
    for (int i = 0; i < c->nx; i++) {
        ms_t *v = ms_wrap(&G, c->ndim[i], c->shape[i], vd[i], 0);
        ms_t *t = ms_sum(&G, ms_mul(&G, gx[i], v));
        s = s ? ms_add(&G, s, t) : t;
    }
    if (ms_grad(&G, s, NULL, (size_t)c->nx, x, hx, 0) != MLSHIFT_OK)
        return -1;
    for (int i = 0; i < c->nx; i++)
        ms_copy_out(hx[i], hv[i]);
    return 0;
}

/* Worst |a − n| − (ATOL + RTOL |n|) over an array, for the report. */
static void report(const char *what, int i, const char *name, const double *an,
                   const double *nu, size_t n, double *worst_err)
{
    char msg[256];
    snprintf(msg, sizeof msg, "%s%d of %s", what, i, name);
    check_array_close(msg, an, nu, n, ATOL, RTOL);
    for (size_t k = 0; k < n; k++) {
        double e = fabs(an[k] - nu[k]);
        if (e > *worst_err)
            *worst_err = e;
    }
}

static void test_op_case(const op_case *c, double *worst1, double *worst2)
{
    enum { CAP = 64 };
    double xs[MAXX][CAP], vs[MAXX][CAP], ga[MAXX][CAP], gn[MAXX][CAP];
    double hv[MAXX][CAP], gp[MAXX][CAP], gm[MAXX][CAP], hn[MAXX][CAP];
    double *x[MAXX], *v[MAXX], *g[MAXX], *h[MAXX], *p[MAXX], *m[MAXX];
    for (int i = 0; i < c->nx; i++) {
        x[i] = xs[i];
        v[i] = vs[i];
        g[i] = ga[i];
        h[i] = hv[i];
        p[i] = gp[i];
        m[i] = gm[i];
        for (size_t k = 0; k < numel_of(c, i); k++) {
            xs[i][k] = urand(c->lo, c->hi);
            vs[i][k] = urand(-1, 1);
        }
    }
    /* first derivatives */
    int ok = loss_grad(c, x, g) == 0;
    CHECK(ok, "%s: gradient failed: %s", c->name, G.err.message);
    if (!ok)
        return;
    for (int i = 0; i < c->nx; i++) {
        for (size_t k = 0; k < numel_of(c, i); k++) {
            double x0 = xs[i][k];
            xs[i][k] = x0 + H_FD;
            double lp = loss_value(c, x);
            xs[i][k] = x0 - H_FD;
            double lm = loss_value(c, x);
            xs[i][k] = x0;
            gn[i][k] = (lp - lm) / (2 * H_FD);
        }
        report("dL/dx", i, c->name, ga[i], gn[i], numel_of(c, i), worst1);
    }
    /* second derivatives: H v */
    ok = loss_hvp(c, x, v, h) == 0;
    CHECK(ok, "%s: Hessian-vector product failed: %s", c->name, G.err.message);
    if (!ok)
        return;
    double x0[MAXX][CAP];
    memcpy(x0, xs, sizeof x0);
    for (int i = 0; i < c->nx; i++)
        for (size_t k = 0; k < numel_of(c, i); k++)
            xs[i][k] = x0[i][k] + H_FD * vs[i][k];
    ok = loss_grad(c, x, p) == 0;
    for (int i = 0; i < c->nx; i++)
        for (size_t k = 0; k < numel_of(c, i); k++)
            xs[i][k] = x0[i][k] - H_FD * vs[i][k];
    ok = ok && loss_grad(c, x, m) == 0;
    memcpy(xs, x0, sizeof x0);
    CHECK(ok, "%s: gradient at x ± hv failed", c->name);
    for (int i = 0; i < c->nx; i++) {
        for (size_t k = 0; k < numel_of(c, i); k++)
            hn[i][k] = (gp[i][k] - gm[i][k]) / (2 * H_FD);
        report("(Hv)_x", i, c->name, hv[i], hn[i], numel_of(c, i), worst2);
    }
}

/* The same case in a float32 graph: value, gradient and Hessian-vector
 * product against the float64 ones on the same inputs (exactly
 * representable in float, so the difference is the float32 arithmetic
 * alone: a few ulps of float, 6e-8 relative, through chains of a few ops). */
static void test_op_case_f32(const op_case *c, double *worst)
{
    enum { CAP = 64 };
    double xs[MAXX][CAP], vs[MAXX][CAP], g64[MAXX][CAP], g32[MAXX][CAP];
    double h64[MAXX][CAP], h32[MAXX][CAP];
    double *x[MAXX], *v[MAXX], *ga[MAXX], *gb[MAXX], *ha[MAXX], *hb[MAXX];
    for (int i = 0; i < c->nx; i++) {
        x[i] = xs[i];
        v[i] = vs[i];
        ga[i] = g64[i];
        gb[i] = g32[i];
        ha[i] = h64[i];
        hb[i] = h32[i];
        for (size_t k = 0; k < numel_of(c, i); k++) {
            xs[i][k] = (float)urand(c->lo, c->hi);
            vs[i][k] = (float)urand(-1, 1);
        }
    }
    double l64 = loss_value(c, x);
    int ok = loss_grad(c, x, ga) == 0 && loss_hvp(c, x, v, ha) == 0;
    ms_graph_set_dtype(&G, MS_F32);
    double l32 = loss_value(c, x);
    ok = ok && loss_grad(c, x, gb) == 0 && loss_hvp(c, x, v, hb) == 0;
    ms_graph_set_dtype(&G, MS_F64);
    CHECK(ok, "%s float32: %s", c->name, G.err.message);
    if (!ok)
        return;
    const double atol = 2e-6, rtol = 2e-6;
    CHECK_CLOSE(l32, l64, atol, rtol, "%s float32 value", c->name);
    for (int i = 0; i < c->nx; i++) {
        size_t n = numel_of(c, i);
        check_array_close(check_msg_("%s float32 dL/dx%d", c->name, i), g32[i], g64[i], n,
                          atol, rtol);
        check_array_close(check_msg_("%s float32 (Hv)_x%d", c->name, i), h32[i], h64[i], n,
                          atol, rtol);
        for (size_t k = 0; k < n; k++) {
            double e = fabs(g32[i][k] - g64[i][k]) / (1 + fabs(g64[i][k]));
            double f = fabs(h32[i][k] - h64[i][k]) / (1 + fabs(h64[i][k]));
            *worst = e > *worst ? e : *worst;
            *worst = f > *worst ? f : *worst;
        }
    }
}

/* A float32 graph refuses an operand of the other type (a tensor made
 * before ms_graph_set_dtype), with a message, instead of reading it
 * as the wrong type. */
static void test_mixed_types(void)
{
    ms_graph_reset(&G);
    double a[4] = {1, 2, 3, 4};
    ms_t *A = ms_const(&G, 1, MS_SHAPE(4), a); // float64
    ms_graph_set_dtype(&G, MS_F32);
    ms_t *B = ms_const(&G, 1, MS_SHAPE(4), a); // float32
    CHECK(B && B->dtype == MS_F32 && A->dtype == MS_F64, "tensors carry their graph's type");
    CHECK(ms_add(&G, A, B) == NULL && strstr(G.err.message, "different types"),
          "add of float64 and float32 refused: %s", G.err.message);
    ms_graph_set_dtype(&G, MS_F64);
    ms_graph_reset(&G);
    ms_t *M64 = ms_const(&G, 2, MS_SHAPE(2, 2), a);
    ms_graph_set_dtype(&G, MS_F32);
    ms_t *M32 = ms_const(&G, 2, MS_SHAPE(2, 2), a);
    CHECK(ms_matmul(&G, M64, M32, 0, 0) == NULL, "matmul of float64 and float32 refused");
    ms_graph_set_dtype(&G, MS_F64);
    ms_graph_reset(&G);
}

/* The float32 exp (a polynomial, so that loops of it vectorise) against
 * libm's double exp over its whole useful range, and its edges: sigmoid
 * and silu far out on both sides, and NaN in, NaN out. */
static void test_f32_exp(void)
{
    enum { NX = 2001 };
    static double x[NX], y[NX];
    for (int i = 0; i < NX; i++)
        x[i] = (float)(-87.0 + 175.0 * i / (NX - 1));
    ms_graph_reset(&G);
    ms_graph_set_dtype(&G, MS_F32);
    ms_t *E = ms_exp(&G, ms_const(&G, 1, MS_SHAPE(NX), x));
    double worst = 0;
    if (E) {
        ms_copy_out(E, y);
        for (int i = 0; i < NX; i++) {
            double r = fabs(y[i] - exp(x[i])) / exp(x[i]);
            worst = r > worst ? r : worst;
        }
    }
    CHECK(E && worst < 2.5e-7, "float32 exp on [-87, 88]: worst relative error %.3g", worst);
    double xs[5] = {-200, -30, 30, 200, NAN}, sg[5];
    ms_t *S = ms_silu(&G, ms_const(&G, 1, MS_SHAPE(5), xs));
    ms_t *Q = ms_sigmoid(&G, ms_const(&G, 1, MS_SHAPE(5), xs));
    CHECK(S && Q, "float32 silu, sigmoid: %s", G.err.message);
    if (S && Q) {
        ms_copy_out(Q, sg);
        CHECK(sg[0] >= 0 && sg[0] < 1e-30 && fabs(sg[1] - 1 / (1 + exp(30.0))) < 1e-19 &&
                  sg[2] == 1.0f && sg[3] == 1 && isnan(sg[4]),
              "float32 sigmoid at -200, -30, 30, 200, NaN: %g %g %g %g %g", sg[0], sg[1], sg[2],
              sg[3], sg[4]);
        ms_copy_out(S, sg);
        CHECK(fabs(sg[0]) < 1e-28 && sg[3] == 200 && isnan(sg[4]),
              "float32 silu at -200, 200, NaN: %g %g %g", sg[0], sg[3], sg[4]);
    }
    ms_graph_set_dtype(&G, MS_F64);
    ms_graph_reset(&G);
    printf("float32 exp: worst relative error %.3g on [-87, 88]\n", worst);
}

/* --------------------------------------------------------- forward values */

static void test_forward(void)
{
    ms_graph_reset(&G);
    double a[24], b[8], ref[24];
    for (int k = 0; k < 24; k++)
        a[k] = urand(0.5, 2);
    for (int k = 0; k < 8; k++)
        b[k] = urand(0.5, 2);
    ms_t *A = ms_wrap(&G, 3, MS_SHAPE(2, 3, 4), a, 0); // (2, 3, 4)
    ms_t *B = ms_wrap(&G, 3, MS_SHAPE(2, 1, 4), b, 0); // (2, 1, 4)
    /* broadcast divide and multiply, by explicit indices */
    ms_t *D = ms_div(&G, A, B), *M = ms_mul(&G, B, A);
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++)
            for (int f = 0; f < 4; f++)
                ref[(i * 3 + j) * 4 + f] = a[(i * 3 + j) * 4 + f] / b[i * 4 + f];
    check_array_close("div (2,3,4)/(2,1,4) forward", D->data, ref, 24, 0, 1e-15);
    for (int k = 0; k < 24; k++)
        ref[k] = a[k] * b[(k / 12) * 4 + k % 4];
    check_array_close("mul (2,1,4)*(2,3,4) forward", M->data, ref, 24, 0, 1e-15);
    /* unary ops against libm */
    struct { ms_t *(*f)(ms_graph *, ms_t *); double (*r)(double); const char *n; } un[] = {
        {ms_exp, exp, "exp"}, {ms_log, log, "log"}, {ms_sqrt, sqrt, "sqrt"},
        {ms_sin, sin, "sin"}, {ms_cos, cos, "cos"}, {ms_tanh, tanh, "tanh"}};
    for (size_t u = 0; u < sizeof un / sizeof un[0]; u++) {
        ms_t *y = un[u].f(&G, A);
        for (int k = 0; k < 24; k++)
            ref[k] = un[u].r(a[k]);
        check_array_close(check_msg_("%s forward", un[u].n), y->data, ref, 24, 0, 1e-15);
    }
    double xs[4] = {-40, -1, 0.5, 40}, sg[4], sl[4];
    ms_t *X = ms_wrap(&G, 1, MS_SHAPE(4), xs, 0);
    ms_t *S = ms_sigmoid(&G, X), *L = ms_silu(&G, X);
    for (int k = 0; k < 4; k++) {
        sg[k] = 1 / (1 + exp(-xs[k]));
        sl[k] = xs[k] * sg[k];
    }
    check_array_close("sigmoid forward", S->data, sg, 4, 0, 1e-15);
    check_array_close("silu forward", L->data, sl, 4, 1e-300, 1e-15);
    /* matmul against a triple loop, transposed operands */
    ms_t *Bm = ms_wrap(&G, 2, MS_SHAPE(2, 4), b, 0); // (2, 4)
    ms_t *P = ms_matmul(&G, ms_reshape(&G, A, 2, MS_SHAPE(6, 4)), Bm, 0, 1); // (6, 2)
    for (int i = 0; i < 6; i++)
        for (int j = 0; j < 2; j++) {
            double acc = 0;
            for (int f = 0; f < 4; f++)
                acc += a[i * 4 + f] * b[j * 4 + f];
            ref[i * 2 + j] = acc;
        }
    check_array_close("matmul (6,4)(2,4)^T forward", P->data, ref, 12, 0, 1e-14);
    /* sums */
    ms_t *s1 = ms_sum_axis(&G, A, 1), *s = ms_sum(&G, A);
    double tot = 0;
    for (int k = 0; k < 24; k++)
        tot += a[k];
    CHECK_CLOSE(s->data[0], tot, 0, 1e-14, "sum forward");
    CHECK(s->ndim == 0 && s1->ndim == 3 && s1->shape[1] == 1, "sum shapes");
    for (int i = 0; i < 2; i++)
        for (int f = 0; f < 4; f++)
            ref[i * 4 + f] = a[(i * 3) * 4 + f] + a[(i * 3 + 1) * 4 + f] + a[(i * 3 + 2) * 4 + f];
    check_array_close("sum_axis 1 forward", s1->data, ref, 8, 0, 1e-15);
    CHECK(G.err.status == MLSHIFT_OK, "forward tests: %s", G.err.message);
}

/* Forward values of the fused ops against direct loops / closed forms
 * written differently from the library's. */
static void test_forward_fused(void)
{
    ms_graph_reset(&G);
    double a[24], b[8], c[3], ref[24];
    for (int k = 0; k < 24; k++)
        a[k] = urand(-2, 2);
    for (int k = 0; k < 8; k++)
        b[k] = urand(-2, 2);
    for (int k = 0; k < 3; k++)
        c[k] = urand(-1, 1);
    ms_t *A = ms_wrap(&G, 3, MS_SHAPE(2, 3, 4), a, 0); // (2, 3, 4)
    ms_t *B = ms_wrap(&G, 3, MS_SHAPE(2, 1, 4), b, 0); // (2, 1, 4)
    ms_t *Y = ms_mul_sum_to(&G, A, B, 3, MS_SHAPE(2, 3, 1));
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++) {
            double acc = 0;
            for (int f = 0; f < 4; f++)
                acc += a[(i * 3 + j) * 4 + f] * b[i * 4 + f];
            ref[i * 3 + j] = acc;
        }
    CHECK(Y && Y->ndim == 3 && Y->shape[2] == 1, "mul_sum_to shape");
    if (Y)
        check_array_close("mul_sum_to (2,3,4)*(2,1,4)->(2,3,1) forward", Y->data, ref, 6, 0,
                          1e-14);
    ms_t *Z = ms_mul_sum_to(&G, A, B, 2, MS_SHAPE(1, 4)); // Σ over i, j
    for (int f = 0; f < 4; f++) {
        double acc = 0;
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 3; j++)
                acc += a[(i * 3 + j) * 4 + f] * b[i * 4 + f];
        ref[f] = acc;
    }
    if (Z)
        check_array_close("mul_sum_to ->(1,4) forward", Z->data, ref, 4, 0, 1e-14);
    CHECK(ms_mul_sum_to(&G, A, B, 2, MS_SHAPE(3, 3)) == NULL &&
              strstr(G.err.message, "broadcast"),
          "mul_sum_to to (3,3) fails: '%s'", G.err.message);
    ms_graph_reset(&G);
    /* silu' = (1 + e^-x + x e^-x) / (1 + e^-x)^2; silu'' by central
     * differences of that closed form */
    ms_t *X = ms_wrap(&G, 1, MS_SHAPE(8), b, 0);
    ms_t *D1 = ms_silu_grad(&G, X), *D2 = ms_silu_grad2(&G, X);
    double r1[8], r2[8];
    for (int k = 0; k < 8; k++) {
#define SILU_D(x) ((1 + exp(-(x)) + (x) * exp(-(x))) / ((1 + exp(-(x))) * (1 + exp(-(x)))))
        r1[k] = SILU_D(b[k]);
        r2[k] = (SILU_D(b[k] + 1e-5) - SILU_D(b[k] - 1e-5)) / 2e-5;
#undef SILU_D
    }
    check_array_close("silu_grad forward", D1->data, r1, 8, 0, 1e-14);
    check_array_close("silu_grad2 forward (vs differences of silu')", D2->data, r2, 8, 1e-9,
                      1e-7);
    /* matmul_bias = x W + b by loops */
    ms_t *Xm = ms_wrap(&G, 2, MS_SHAPE(6, 4), a, 0);  // (6, 4)
    ms_t *W = ms_wrap(&G, 2, MS_SHAPE(4, 2), b, 0);   // (4, 2)
    ms_t *bb = ms_wrap(&G, 1, MS_SHAPE(2), c, 0);     // (2,)
    ms_t *P = ms_matmul_bias(&G, Xm, W, bb);
    for (int i = 0; i < 6; i++)
        for (int j = 0; j < 2; j++) {
            double acc = c[j];
            for (int f = 0; f < 4; f++)
                acc += a[i * 4 + f] * b[f * 2 + j];
            ref[i * 2 + j] = acc;
        }
    check_array_close("matmul_bias forward", P->data, ref, 12, 0, 1e-14);
    CHECK(ms_matmul_bias(&G, Xm, W, ms_wrap(&G, 1, MS_SHAPE(3), c, 0)) == NULL &&
              strstr(G.err.message, "bias"),
          "matmul_bias with a (3,) bias fails: '%s'", G.err.message);
    ms_graph_reset(&G);
    /* gather_mul_scatter (4,3,2)[IDX] * (6,1,2) -> (5,3,2) by loops */
    {
        ms_t *Ga = ms_wrap(&G, 3, MS_SHAPE(4, 3, 2), a, 0);  // (4, 3, 2)
        double b12[12];
        for (int k = 0; k < 12; k++)
            b12[k] = urand(-2, 2);
        ms_t *Gb = ms_wrap(&G, 3, MS_SHAPE(6, 1, 2), b12, 0);  // (6, 1, 2)
        ms_t *Q = ms_gather_mul_scatter(&G, Ga, IDX, Gb, IDX2, 5);
        double r3[30] = {0};
        for (int e = 0; e < 6; e++)
            for (int j = 0; j < 3; j++)
                for (int f = 0; f < 2; f++)
                    r3[(IDX2[e] * 3 + j) * 2 + f] += a[(IDX[e] * 3 + j) * 2 + f] * b12[e * 2 + f];
        CHECK(Q && Q->ndim == 3 && Q->shape[0] == 5 && Q->shape[1] == 3 && Q->shape[2] == 2,
              "gather_mul_scatter shape");
        if (Q)
            check_array_close("gather_mul_scatter forward", Q->data, r3, 30, 0, 1e-14);
        /* gather_mul_sum (4,3,2)[IDX] * (6,3,2)[IDX2 mod 6] -> (6,1,2) by loops */
        double c36[36];
        for (int k = 0; k < 36; k++)
            c36[k] = urand(-2, 2);
        ms_t *Gc = ms_wrap(&G, 3, MS_SHAPE(6, 3, 2), c36, 0);  // (6, 3, 2)
        ms_t *Sm = ms_gather_mul_sum(&G, Ga, IDX, Gc, IDX2, 6, 3, MS_SHAPE(6, 1, 2));
        double r4[12] = {0};
        for (int e = 0; e < 6; e++)
            for (int j = 0; j < 3; j++)
                for (int f = 0; f < 2; f++)
                    r4[e * 2 + f] += a[(IDX[e] * 3 + j) * 2 + f] * c36[(IDX2[e] * 3 + j) * 2 + f];
        CHECK(Sm && Sm->ndim == 3 && Sm->shape[0] == 6 && Sm->shape[1] == 1 &&
                  Sm->shape[2] == 2, "gather_mul_sum shape");
        if (Sm)
            check_array_close("gather_mul_sum forward", Sm->data, r4, 12, 0, 1e-14);
        CHECK(ms_gather_mul_sum(&G, Ga, IDX, Gc, IDX2, 6, 3, MS_SHAPE(6, 2, 2)) == NULL &&
                  strstr(G.err.message, "broadcast"),
              "gather_mul_sum to (6,2,2) fails: '%s'", G.err.message);
        ms_graph_reset(&G);
        Ga = ms_wrap(&G, 3, MS_SHAPE(4, 3, 2), a, 0);
        Gb = ms_wrap(&G, 3, MS_SHAPE(6, 1, 2), b12, 0);
        CHECK(ms_gather_mul_scatter(&G, Ga, IDX2, Gb, NULL, 0) == NULL &&
                  strstr(G.err.message, "outside"),
              "gather_mul_scatter with an index out of range fails: '%s'", G.err.message);
        ms_graph_reset(&G);
        CHECK(ms_gather_mul_scatter(&G, Ga, NULL, Gb, IDX2, 5) == NULL &&
                  strstr(G.err.message, "rows"),
              "gather_mul_scatter without an index and 4 != 6 rows fails: '%s'", G.err.message);
        ms_graph_reset(&G);
    }
}

/* A case large enough (640 entries) for the backward sweep without
 * create_graph to release and reuse gradient buffers and to accumulate in
 * place: L = Σ silu(x⊙x + x)⊙sin(x) + (x + x)⊙w, w (F,) broadcast; ∇L and
 * H v against central differences. */
enum { BN = 32, BF = 20 };
static double BX[BN * BF], BW[BF];

static ms_t *big_loss(ms_t **x, int rg)
{
    *x = ms_wrap(&G, 2, MS_SHAPE(BN, BF), BX, rg);
    ms_t *w = ms_wrap(&G, 1, MS_SHAPE(BF), BW, 0);
    ms_t *u = ms_mul(&G, ms_silu(&G, ms_add(&G, ms_mul(&G, *x, *x), *x)), ms_sin(&G, *x));
    return ms_sum(&G, ms_add(&G, u, ms_mul(&G, ms_add(&G, *x, *x), w)));
}

static void big_grad(double *gd, size_t *released)
{
    ms_graph_reset(&G);
    ms_t *x, *gx;
    ms_t *L = big_loss(&x, 1);
    ms_grad(&G, L, NULL, 1, &x, &gx, 0);
    *released = ms_arena_n_free(&G.arena);
    if (gx)
        memcpy(gd, gx->data, sizeof BX);
}

static void test_release(void)
{
    static double ga[BN * BF], gn[BN * BF], hv[BN * BF], v[BN * BF], gp[BN * BF],
        gm[BN * BF];
    for (int k = 0; k < BN * BF; k++) {
        BX[k] = urand(-1, 1);
        v[k] = urand(-1, 1);
    }
    for (int k = 0; k < BF; k++)
        BW[k] = urand(-1, 1);
    size_t rel;
    big_grad(ga, &rel);
    CHECK(G.err.status == MLSHIFT_OK, "big gradient: %s", G.err.message);
    CHECK(rel > 0, "the backward sweep released no gradient buffer");
    for (int k = 0; k < BN * BF; k++) {
        double x0 = BX[k];
        ms_t *x;
        BX[k] = x0 + H_FD;
        ms_graph_reset(&G);
        double lp = big_loss(&x, 0)->data[0];
        BX[k] = x0 - H_FD;
        ms_graph_reset(&G);
        double lm = big_loss(&x, 0)->data[0];
        BX[k] = x0;
        gn[k] = (lp - lm) / (2 * H_FD);
    }
    check_array_close("released/in-place sweep: dL/dx (640 entries)", ga, gn, BN * BF, ATOL,
                      RTOL);
    /* H v: create_graph, then a releasing sweep over the backward graph */
    ms_graph_reset(&G);
    ms_t *x, *gx, *hx;
    ms_t *L = big_loss(&x, 1);
    ms_grad(&G, L, NULL, 1, &x, &gx, 1);
    ms_t *s = ms_sum(&G, ms_mul(&G, gx, ms_wrap(&G, 2, MS_SHAPE(BN, BF), v, 0)));
    int ok = ms_grad(&G, s, NULL, 1, &x, &hx, 0) == MLSHIFT_OK;
    CHECK(ok, "big Hessian-vector product: %s", G.err.message);
    if (!ok)
        return;
    memcpy(hv, hx->data, sizeof hv);
    double x0[BN * BF];
    memcpy(x0, BX, sizeof x0);
    for (int k = 0; k < BN * BF; k++)
        BX[k] = x0[k] + H_FD * v[k];
    big_grad(gp, &rel);
    for (int k = 0; k < BN * BF; k++)
        BX[k] = x0[k] - H_FD * v[k];
    big_grad(gm, &rel);
    memcpy(BX, x0, sizeof x0);
    for (int k = 0; k < BN * BF; k++)
        gn[k] = (gp[k] - gm[k]) / (2 * H_FD);
    check_array_close("released/in-place sweep: H v (640 entries)", hv, gn, BN * BF, ATOL,
                      RTOL);
}

/* ------------------------------------------------------------------ errors */

static void test_errors(void)
{
    ms_graph_reset(&G);
    double a[12] = {0}, b[4] = {0};
    int32_t bad[2] = {0, 7};
    ms_t *A = ms_wrap(&G, 2, MS_SHAPE(3, 4), a, 1); // (3, 4)
    ms_t *B = ms_wrap(&G, 1, MS_SHAPE(3), b, 1);    // (3,) does not broadcast with (3, 4)
    ms_t *y = ms_add(&G, A, B);
    CHECK(y == NULL && G.err.status == MLSHIFT_ERR_VALUE &&
              strstr(G.err.message, "broadcast"),
          "add (3,4)+(3,) must fail, got status %d '%s'", G.err.status, G.err.message);
    CHECK(ms_exp(&G, ms_mul(&G, y, A)) == NULL, "a NULL input propagates");
    ms_t *gx[1];
    CHECK(ms_grad(&G, ms_sum(&G, A), NULL, 1, &A, gx, 0) == MLSHIFT_ERR_VALUE && !gx[0],
          "grad after an error reports it");
    ms_graph_reset(&G);
    A = ms_wrap(&G, 2, MS_SHAPE(3, 4), a, 1);
    CHECK(ms_gather(&G, A, bad, 2) == NULL && strstr(G.err.message, "outside [0, 3)"),
          "gather index 7 of 3 rows: '%s'", G.err.message);
    ms_graph_reset(&G);
    A = ms_wrap(&G, 2, MS_SHAPE(3, 4), a, 1);
    CHECK(ms_matmul(&G, A, A, 0, 0) == NULL && strstr(G.err.message, "inner"),
          "matmul (3,4)(3,4): '%s'", G.err.message);
    ms_graph_reset(&G);
    A = ms_wrap(&G, 2, MS_SHAPE(3, 4), a, 1);
    CHECK(ms_reshape(&G, A, 2, MS_SHAPE(5, 2)) == NULL, "reshape 12 -> 10 fails");
    ms_graph_reset(&G);
    A = ms_wrap(&G, 2, MS_SHAPE(3, 4), a, 1);
    CHECK(ms_grad(&G, A, NULL, 1, &A, gx, 0) == MLSHIFT_ERR_VALUE,
          "grad of a non-scalar without a seed fails");
    ms_graph_reset(&G);
    A = ms_wrap(&G, 2, MS_SHAPE(3, 4), a, 1);
    CHECK(ms_slice(&G, A, 1, 3, 2) == NULL, "slice past the end fails");
    ms_graph_reset(&G);
    CHECK(G.err.status == MLSHIFT_OK, "reset clears the error");
    /* a gradient w.r.t. an input the output does not depend on is zero */
    A = ms_wrap(&G, 2, MS_SHAPE(3, 4), a, 1);
    B = ms_wrap(&G, 1, MS_SHAPE(4), b, 1);
    ms_t *g2[2], *xs2[2] = {A, B};
    CHECK(ms_grad(&G, ms_sum(&G, ms_exp(&G, A)), NULL, 2, xs2, g2, 0) == MLSHIFT_OK &&
              g2[1] && g2[1]->numel == 4 && g2[1]->data[0] == 0 && g2[1]->data[3] == 0,
          "independent input gets a zero gradient");
}

/* ------------------------------------------------------- composite model */

/* A pair-potential-like model with everything an MLIP needs: two
 * structures batched (B = 2, N = 5 atoms), full edge lists within each,
 *   r_ij = r_dst − r_src (E,3), d = √(Σ r²) (E,1),
 *   φ = [sin(nπd/rc)/d, d] (E,K+1)  (radial basis, concat),
 *   u = d/rc, env = 1 − 21u⁵ + 35u⁶ − 15u⁷ (p = 5 envelope),
 *   h = silu(φ W1 + b1) ⊙ emb[species_src] (E,H),
 *   scalar message m = (h w2) env (E,1),
 *   vector message v = (r/d) ⊗ h env (E,3,H) (broadcast (E,3,1)·(E,1,H)),
 *   per atom: e_i = tanh(Σ_e m) + ‖Σ_e v‖² w3   (scatter_add; (N,3,H)),
 *   per structure E_b = segment_sum(e) (B,1), E = Σ_b E_b,
 *   F = −dE/dr (create_graph), loss = Σ (F − F_ref)² + Σ (E_b − E_ref)². */
enum { CN = 5, CB = 2, CK = 4, CH = 3, CS = 2 };
#define CRC 4.0

typedef struct composite {
    double R[CN * 3];               /* (N, 3) Å */
    int32_t species[CN], batch[CN]; /* (N,) */
    int32_t src[32], dst[32];       /* (E,) */
    int32_t esp[32];                /* (E,) species of src */
    size_t E;
    double W1[(CK + 1) * CH];       /* (K+1, H) */
    double b1[CH];                  /* (H,) */
    double emb[CS * CH];            /* (S, H) */
    double w2[CH];                  /* (H, 1) */
    double w3[CH];                  /* (H, 1) */
    double Fref[CN * 3];            /* (N, 3) */
    double Eref[CB];                /* (B, 1) */
} composite;

static composite C;
#define NPARAM 5

static void composite_init(void)
{
    static const int32_t sp[CN] = {0, 1, 1, 0, 1}, bt[CN] = {0, 0, 0, 1, 1};
    for (int i = 0; i < CN; i++) {
        C.species[i] = sp[i];
        C.batch[i] = bt[i];
        for (int k = 0; k < 3; k++)
            C.R[i * 3 + k] = urand(0, 2.2);
    }
    C.E = 0;
    for (int i = 0; i < CN; i++)
        for (int j = 0; j < CN; j++)
            if (i != j && bt[i] == bt[j]) {
                C.src[C.E] = i;
                C.dst[C.E] = j;
                C.esp[C.E] = sp[i];
                C.E++;
            }
    for (int k = 0; k < (CK + 1) * CH; k++)
        C.W1[k] = urand(-1, 1);
    for (int k = 0; k < CH; k++) {
        C.b1[k] = urand(-0.5, 0.5);
        C.w2[k] = urand(-1, 1);
        C.w3[k] = urand(-0.5, 0.5);
    }
    for (int k = 0; k < CS * CH; k++)
        C.emb[k] = urand(0.5, 1.5);
    for (int k = 0; k < CN * 3; k++)
        C.Fref[k] = urand(-1, 1);
    C.Eref[0] = 0.3;
    C.Eref[1] = -0.2;
}

static double *param_data(int p, size_t *n)
{
    double *d[NPARAM] = {C.W1, C.b1, C.emb, C.w2, C.w3};
    size_t s[NPARAM] = {(CK + 1) * CH, CH, CS * CH, CH, CH};
    *n = s[p];
    return d[p];
}

typedef struct comp_out {
    ms_t *R, *theta[NPARAM];
    ms_t *Eb, *F, *loss;
} comp_out;

static int composite_build(comp_out *o, int create_graph)
{
    ms_graph *g = &G;
    const size_t Nn = CN, E = C.E;
    o->R = ms_wrap(g, 2, MS_SHAPE(Nn, 3), C.R, 1);                     // (N, 3)
    ms_t *W1 = o->theta[0] = ms_wrap(g, 2, MS_SHAPE(CK + 1, CH), C.W1, 1); // (K+1, H)
    ms_t *b1 = o->theta[1] = ms_wrap(g, 1, MS_SHAPE(CH), C.b1, 1);     // (H,)
    ms_t *emb = o->theta[2] = ms_wrap(g, 2, MS_SHAPE(CS, CH), C.emb, 1); // (S, H)
    ms_t *w2 = o->theta[3] = ms_wrap(g, 2, MS_SHAPE(CH, 1), C.w2, 1);  // (H, 1)
    ms_t *w3 = o->theta[4] = ms_wrap(g, 2, MS_SHAPE(CH, 1), C.w3, 1);  // (H, 1)
    double freq[CK];
    for (int n = 0; n < CK; n++)
        freq[n] = (n + 1) * 3.14159265358979323846 / CRC;
    ms_t *fr = ms_const(g, 1, MS_SHAPE(CK), freq);                      // (K,)

    ms_t *r = ms_sub(g, ms_gather(g, o->R, C.dst, E), ms_gather(g, o->R, C.src, E)); // (E, 3)
    ms_t *d = ms_sqrt(g, ms_sum_axis(g, ms_mul(g, r, r), 1));          // (E, 1)
    ms_t *rbf = ms_div(g, ms_sin(g, ms_mul(g, d, fr)), d);             // (E, K)
    ms_t *phi = ms_concat(g, 2, (ms_t *[]){rbf, d}, 1);                 // (E, K+1)
    ms_t *u = ms_scale(g, d, 1.0 / CRC);                                // (E, 1)
    ms_t *env = ms_add_scalar(g, ms_add(g, ms_add(g, ms_scale(g, ms_pow(g, u, 5), -21.0),
                                                  ms_scale(g, ms_pow(g, u, 6), 35.0)),
                                        ms_scale(g, ms_pow(g, u, 7), -15.0)),
                              1.0);                                     // (E, 1)
    ms_t *h = ms_mul(g, ms_silu(g, ms_add(g, ms_matmul(g, phi, W1, 0, 0), b1)),
                     ms_gather(g, emb, C.esp, E));                      // (E, H)
    ms_t *m = ms_mul(g, ms_matmul(g, h, w2, 0, 0), env);                // (E, 1)
    ms_t *dir = ms_reshape(g, ms_div(g, r, d), 3, MS_SHAPE(E, 3, 1));   // (E, 3, 1)
    ms_t *hv = ms_reshape(g, ms_mul(g, h, env), 3, MS_SHAPE(E, 1, CH)); // (E, 1, H)
    ms_t *v = ms_scatter_add(g, ms_mul(g, dir, hv), C.src, Nn);         // (N, 3, H)
    ms_t *vn = ms_reshape(g, ms_sum_axis(g, ms_mul(g, v, v), 1), 2, MS_SHAPE(Nn, CH)); // (N, H)
    ms_t *e = ms_add(g, ms_tanh(g, ms_scatter_add(g, m, C.src, Nn)),
                     ms_matmul(g, vn, w3, 0, 0));                       // (N, 1)
    o->Eb = ms_segment_sum(g, e, C.batch, CB);                          // (B, 1)
    ms_t *Etot = ms_sum(g, o->Eb);                                      // ()
    ms_t *dEdR;
    if (ms_grad(g, Etot, NULL, 1, &o->R, &dEdR, create_graph) != MLSHIFT_OK)
        return -1;
    o->F = ms_neg(g, dEdR);                                             // (N, 3) eV/Å
    ms_t *dF = ms_sub(g, o->F, ms_const(g, 2, MS_SHAPE(Nn, 3), C.Fref));
    ms_t *dE = ms_sub(g, o->Eb, ms_const(g, 2, MS_SHAPE(CB, 1), C.Eref));
    o->loss = ms_add(g, ms_sum(g, ms_mul(g, dF, dF)), ms_sum(g, ms_mul(g, dE, dE)));
    return o->loss ? 0 : -1;
}

static double composite_energy(void)
{
    ms_graph_reset(&G);
    comp_out o;
    if (composite_build(&o, 0))
        return NAN;
    return o.Eb->data[0] + o.Eb->data[1];
}

static double composite_loss(void)
{
    ms_graph_reset(&G);
    comp_out o;
    return composite_build(&o, 0) ? NAN : o.loss->data[0];
}

/* One training step: forces with create_graph, d loss / d (θ, R). */
static int composite_step(comp_out *o, ms_t **gtheta, ms_t **gR)
{
    ms_graph_reset(&G);
    if (composite_build(o, 1))
        return -1;
    ms_t *xs[NPARAM + 1], *gs[NPARAM + 1];
    for (int p = 0; p < NPARAM; p++)
        xs[p] = o->theta[p];
    xs[NPARAM] = o->R;
    if (ms_grad(&G, o->loss, NULL, NPARAM + 1, xs, gs, 0) != MLSHIFT_OK)
        return -1;
    for (int p = 0; p < NPARAM; p++)
        gtheta[p] = gs[p];
    *gR = gs[NPARAM];
    return 0;
}

static void test_composite(void)
{
    comp_out o;
    ms_t *gth[NPARAM], *gR;
    int ok = composite_step(&o, gth, &gR) == 0;
    CHECK(ok, "composite step: %s", G.err.message);
    if (!ok)
        return;
    CHECK(C.E == 8, "composite has %zu edges", C.E);
    double F[CN * 3], dth[NPARAM][32], dR[CN * 3], num[32];
    memcpy(F, o.F->data, sizeof F);
    for (int p = 0; p < NPARAM; p++) {
        memcpy(dth[p], gth[p]->data, gth[p]->numel * sizeof(double));
    }
    memcpy(dR, gR->data, sizeof dR);
    /* forces = −dE/dr */
    for (int k = 0; k < CN * 3; k++) {
        double r0 = C.R[k];
        C.R[k] = r0 + H_FD;
        double ep = composite_energy();
        C.R[k] = r0 - H_FD;
        double em = composite_energy();
        C.R[k] = r0;
        num[k] = -(ep - em) / (2 * H_FD);
    }
    check_array_close("composite forces vs -dE/dr by central differences", F, num, CN * 3,
                      ATOL, RTOL);
    double fmax = 0;
    for (int k = 0; k < CN * 3; k++)
        fmax = fmax > fabs(F[k]) ? fmax : fabs(F[k]);
    CHECK(fmax > 1e-2, "forces are not trivially small (max %g)", fmax);
    /* d loss / d θ: the force loss differentiated through the backward pass */
    const char *pname[NPARAM] = {"W1", "b1", "emb", "w2", "w3"};
    for (int p = 0; p < NPARAM; p++) {
        size_t n;
        double *th = param_data(p, &n);
        for (size_t k = 0; k < n; k++) {
            double t0 = th[k];
            th[k] = t0 + H_FD;
            double lp = composite_loss();
            th[k] = t0 - H_FD;
            double lm = composite_loss();
            th[k] = t0;
            num[k] = (lp - lm) / (2 * H_FD);
        }
        check_array_close(check_msg_("composite d loss / d %s", pname[p]), dth[p], num, n,
                          ATOL, RTOL);
    }
    for (int k = 0; k < CN * 3; k++) {
        double r0 = C.R[k];
        C.R[k] = r0 + H_FD;
        double lp = composite_loss();
        C.R[k] = r0 - H_FD;
        double lm = composite_loss();
        C.R[k] = r0;
        num[k] = (lp - lm) / (2 * H_FD);
    }
    check_array_close("composite d loss / d r (second order in r)", dR, num, CN * 3, ATOL,
                      RTOL);
    /* no malloc after warm-up: the step above sized the arena */
    size_t nm = G.arena.n_malloc;
    for (int rep = 0; rep < 3; rep++)
        composite_step(&o, gth, &gR);
    CHECK(G.arena.n_malloc <= nm + 1, "arena blocks grew after warm-up (%zu -> %zu)", nm,
          G.arena.n_malloc);
    nm = G.arena.n_malloc;
    for (int rep = 0; rep < 3; rep++)
        composite_step(&o, gth, &gR);
    CHECK(G.arena.n_malloc == nm, "a training step after warm-up mallocs (%zu -> %zu)", nm,
          G.arena.n_malloc);
}

/* --------------------------------------------------------------- dumping */

static int dump_array(const char *dir, const char *name, const double *a, size_t n)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s.txt", dir, name);
    FILE *fp = fopen(path, "w");
    if (!fp)
        return -1;
    for (size_t k = 0; k < n; k++)
        fprintf(fp, "%.17g\n", a[k]);
    return fclose(fp);
}

static int dump_index(const char *dir, const char *name, const int32_t *a, size_t n)
{
    double t[64];
    for (size_t k = 0; k < n; k++)
        t[k] = a[k];
    return dump_array(dir, name, t, n);
}

static int dump(const char *dir)
{
    comp_out o;
    ms_t *gth[NPARAM], *gR;
    if (composite_step(&o, gth, &gR)) {
        fprintf(stderr, "composite step failed: %s\n", G.err.message);
        return 1;
    }
    const char *pname[NPARAM] = {"W1", "b1", "emb", "w2", "w3"};
    int rc = 0;
    double dims[5] = {CN, CB, CK, CH, CRC};
    rc |= dump_array(dir, "dims", dims, 5);
    rc |= dump_array(dir, "R", C.R, CN * 3);
    rc |= dump_index(dir, "species", C.species, CN);
    rc |= dump_index(dir, "batch", C.batch, CN);
    rc |= dump_index(dir, "src", C.src, C.E);
    rc |= dump_index(dir, "dst", C.dst, C.E);
    rc |= dump_array(dir, "Fref", C.Fref, CN * 3);
    rc |= dump_array(dir, "Eref", C.Eref, CB);
    for (int p = 0; p < NPARAM; p++) {
        size_t n;
        double *th = param_data(p, &n);
        rc |= dump_array(dir, pname[p], th, n);
        char nm[32];
        snprintf(nm, sizeof nm, "grad_%s", pname[p]);
        rc |= dump_array(dir, nm, gth[p]->data, n);
    }
    rc |= dump_array(dir, "out_Eb", o.Eb->data, CB);
    rc |= dump_array(dir, "out_F", o.F->data, CN * 3);
    rc |= dump_array(dir, "out_loss", o.loss->data, 1);
    rc |= dump_array(dir, "grad_R", gR->data, CN * 3);
    if (rc)
        fprintf(stderr, "cannot write into %s\n", dir);
    return rc ? 1 : 0;
}

/* ------------------------------------------------------ small products */

/* One ms_gemm_small product in type dt against a reference summed in long
 * double: |C − ref| within the type's accumulation error,
 * 8 K eps Σ_k |A_ik op(B)_kj| (+ |C₀| when beta = 1), everywhere; A and B
 * with leading dimensions wider than their rows. A shape the kernels leave
 * to BLAS (NT, M > MS_SMALL_GEMM_NT_MAX_M, N ≥ 64) must be refused with C
 * untouched. */
static int small_gemm_case(ms_dtype dt, int tb, size_t M, size_t N, size_t K, int beta,
                           double *worst)
{
    const size_t sz = ms_dtype_size(dt), lda = K + 3, ldb = tb ? K + 7 : N + 5;
    const size_t na = M * lda, nb = (tb ? N : K) * ldb;
    const double eps = dt == MS_F32 ? 6e-8 : 1.2e-16;
    double *A = malloc(na * sizeof *A), *B = malloc(nb * sizeof *B), *C = malloc(M * N * sizeof *C);
    void *a = malloc(na * sz), *b = malloc(nb * sz), *c = malloc(M * N * sz), *c0 = malloc(M * N * sz);
    /* values exactly representable in both types */
    for (size_t i = 0; i < na; i++)
        A[i] = (double)(float)urand(-1, 1);
    for (size_t i = 0; i < nb; i++)
        B[i] = (double)(float)urand(-1, 1);
    for (size_t i = 0; i < M * N; i++)
        C[i] = (double)(float)urand(-1, 1);
    for (size_t i = 0; i < na; i++)
        dt == MS_F32 ? (void)(((float *)a)[i] = (float)A[i]) : (void)(((double *)a)[i] = A[i]);
    for (size_t i = 0; i < nb; i++)
        dt == MS_F32 ? (void)(((float *)b)[i] = (float)B[i]) : (void)(((double *)b)[i] = B[i]);
    for (size_t i = 0; i < M * N; i++)
        dt == MS_F32 ? (void)(((float *)c)[i] = (float)C[i]) : (void)(((double *)c)[i] = C[i]);
    memcpy(c0, c, M * N * sz);
    int ran = ms_gemm_small(dt, 0, tb, M, N, K, a, lda, b, ldb, beta, c), ok;
    if (tb && M > MS_SMALL_GEMM_NT_MAX_M && N >= 64)
        ok = ran == 0 && memcmp(c, c0, M * N * sz) == 0;
    else {
        ok = ran == 1;
        for (size_t i = 0; i < M && ok; i++)
            for (size_t j = 0; j < N && ok; j++) {
                long double ref = beta ? C[i * N + j] : 0.0L;
                double mag = beta ? fabs(C[i * N + j]) : 0.0;
                for (size_t k = 0; k < K; k++) {
                    long double p = (long double)A[i * lda + k] *
                                    (tb ? B[j * ldb + k] : B[k * ldb + j]);
                    ref += p;
                    mag += fabs((double)p);
                }
                double got = dt == MS_F32 ? ((float *)c)[i * N + j] : ((double *)c)[i * N + j];
                double err = fabs(got - (double)ref), tol = 8 * (double)K * eps * mag + 1e-300;
                *worst = err / tol > *worst ? err / tol : *worst;
                ok = err <= tol;
            }
    }
    free(A), free(B), free(C), free(a), free(b), free(c), free(c0);
    return ok;
}

/* small_gemm.c in float and double: every register tile and remainder
 * (NN: rows 1..6 of a block, strips of 4, 2 and 1 vectors; NT: 1..4 rows
 * and columns), the MD sizes (21, 63 and ~140 rows), a training size,
 * beta 0 and 1; the shapes it leaves to BLAS return 0 and leave C as it
 * was. Without AVX-512 every call must return 0. */
static void test_small_gemm(void)
{
    static float a[600 * 64], b[64 * 64], c[600 * 64];
    for (size_t i = 0; i < 600 * 64; i++)
        a[i] = 1, c[i] = 5;
    for (size_t i = 0; i < 64 * 64; i++)
        b[i] = 1;
    __builtin_cpu_init();
    const char *off = getenv("MLSHIFT_SMALL_GEMM");
    if (!__builtin_cpu_supports("avx512f") || (off && strcmp(off, "0") == 0)) {
        CHECK(ms_gemm_small(MS_F32, 0, 0, 1, 16, 16, a, 16, b, 16, 0, c) == 0 &&
                  ms_gemm_small(MS_F64, 0, 1, 1, 16, 16, a, 16, b, 16, 0, c) == 0 && c[0] == 5,
              "small gemm without AVX-512 or with MLSHIFT_SMALL_GEMM=0 must leave the "
              "product to BLAS");
        printf("small gemm: off (no AVX-512 or MLSHIFT_SMALL_GEMM=0), BLAS does every "
               "product\n");
        return;
    }
    static const size_t Ms[] = {1, 2, 3, 4, 5, 6, 7, 11, 13, 21, 63, 140, 256, 700};
    /* sizes for NN (tb 0: N a multiple of the lanes) and NT (tb 1: K one) */
    static const size_t Ns[2][9] = {{16, 32, 48, 64, 80, 112, 128, 384},
                                    {1, 2, 3, 4, 5, 7, 9, 21, 128}};
    static const size_t Ks[2][5] = {{1, 3, 21, 128, 384}, {16, 48, 128, 384}};
    for (int d = 0; d < 2; d++) {
        ms_dtype dt = d ? MS_F64 : MS_F32;
        const char *tn = d ? "double" : "float";
        size_t n = 0, bad = 0;
        double worst = 0;
        for (size_t im = 0; im < sizeof Ms / sizeof *Ms; im++)
            for (int beta = 0; beta < 2; beta++)
                for (int tb = 0; tb < 2; tb++)
                    for (size_t in = 0; in < 9 && Ns[tb][in]; in++)
                        for (size_t ik = 0; ik < 5 && Ks[tb][ik]; ik++) {
                            if (Ms[im] >= 256 && Ks[tb][ik] > 128)
                                continue; /* the reference's time: long rows need no more */
                            n++;
                            if (!small_gemm_case(dt, tb, Ms[im], Ns[tb][in], Ks[tb][ik], beta,
                                                 &worst) &&
                                ++bad <= 5)
                                CHECK(0, "small gemm %s %s M %zu N %zu K %zu beta %d", tn,
                                      tb ? "NT" : "NN", Ms[im], Ns[tb][in], Ks[tb][ik], beta);
                        }
        CHECK(bad == 0, "small gemm %s: %zu of %zu products outside rounding", tn, bad, n);
        printf("small gemm %s: %zu products, worst error %.3g of the bound\n", tn, n, worst);
    }
    /* left to BLAS: C untouched */
    int none = ms_gemm_small(MS_F32, 1, 0, 16, 16, 16, a, 16, b, 16, 0, c) == 0 &&   /* Aᵀ */
               ms_gemm_small(MS_F32, 0, 1, 600, 64, 16, a, 16, b, 16, 0, c) == 0 && /* NT M */
               ms_gemm_small(MS_F32, 0, 0, 4, 20, 16, a, 16, b, 20, 0, c) == 0 &&   /* N % 16 */
               ms_gemm_small(MS_F64, 0, 0, 4, 12, 16, a, 16, b, 12, 0, c) == 0 &&   /* N % 8 */
               ms_gemm_small(MS_F32, 0, 1, 4, 16, 20, a, 20, b, 20, 0, c) == 0 &&   /* K % 16 */
               ms_gemm_small(MS_F64, 0, 1, 4, 16, 12, a, 12, b, 12, 0, c) == 0 &&   /* K % 8 */
               ms_gemm_small(MS_F32, 0, 0, 0, 16, 16, a, 16, b, 16, 0, c) == 0;     /* empty */
    int same = 1;
    for (size_t i = 0; i < 600 * 64; i++)
        same &= c[i] == 5;
    CHECK(none && same, "small gemm must refuse the shapes it leaves to BLAS, C untouched");
}

int main(int argc, char **argv)
{
    ms_graph_init(&G, 0);
    composite_init();
    if (argc == 3 && strcmp(argv[1], "--dump") == 0) {
        int rc = dump(argv[2]);
        ms_graph_free(&G);
        return rc;
    }
    double worst1 = 0, worst2 = 0;
    for (size_t c = 0; c < sizeof CASES / sizeof CASES[0]; c++)
        test_op_case(&CASES[c], &worst1, &worst2);
    printf("ops: %zu cases, worst |analytic - numeric|: first %.3g, second %.3g\n",
           sizeof CASES / sizeof CASES[0], worst1, worst2);
    double worst32 = 0;
    for (size_t c = 0; c < sizeof CASES / sizeof CASES[0]; c++)
        test_op_case_f32(&CASES[c], &worst32);
    printf("ops in float32: worst |f32 - f64| / (1 + |f64|) over values, gradients and "
           "Hessian-vector products: %.3g\n", worst32);
    test_mixed_types();
    test_f32_exp();
    test_forward();
    test_forward_fused();
    test_release();
    test_errors();
    test_composite();
    test_small_gemm();
    ms_graph_free(&G);
    return check_done();
}
