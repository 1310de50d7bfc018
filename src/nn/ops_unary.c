/* SPDX-License-Identifier: MIT */
/* Elementwise unary ops y = f(x) and their backward rules dx = gy·f'(x),
 * with f' written through differentiable ops (so f'' follows):
 *   neg        y = −x              f' = −1           dx = −gy
 *   scale      y = c·x             f' = c            dx = c·gy
 *   add_scalar y = x + c           f' = 1            dx = gy
 *   pow        y = x^p             f' = p·x^(p−1)    dx = gy·p·pow(x, p−1)
 *   exp        y = eˣ              f' = y            dx = gy·y
 *   log        y = ln x            f' = 1/x          dx = gy / x
 *   sqrt       y = √x              f' = 1/(2y)       dx = ½·gy / y
 *   sin        y = sin x           f' = cos x        dx = gy·cos x
 *   cos        y = cos x           f' = −sin x       dx = −gy·sin x
 *   tanh       y = tanh x          f' = 1 − y²       dx = gy·(1 − y²)
 *   sigmoid    y = σ(x)            f' = y(1 − y)     dx = gy·y·(1 − y)
 *   silu       y = x·σ(x)          f' = σ + xσ(1−σ)  dx = gy·silu_grad(x)
 *   silu_grad  y = s(1 + x(1 − s)) f' = q(2 + xt)    dx = gy·silu_grad2(x)
 *   silu_grad2 y = q(2 + x t)       f' = q(t(3 + xt) − 2xq)
 *              with s = σ(x), q = s(1 − s) = σ', t = 1 − 2s (q' = q t):
 *              silu'' = (s + xq)' = q + q + x q t = q(2 + x t), and
 *              silu''' = q t (2 + x t) + q (t + x t') with t' = −2q.
 * silu_grad2's own rule is written with sigmoid/mul/add ops (a third
 * derivative is needed only to differentiate it again).
 *
 * Without create_graph (g->no_grad, nothing is recorded) every rule is one
 * fused loop dx[i] = gy[i]·f'(x[i]) instead of a chain of ops: the values
 * are the same formulas, only no intermediate tensors are made.
 * Rules that reuse y (exp, sqrt, tanh, sigmoid) differentiate through the
 * recorded y, so e.g. the second derivative of exp is gy·y again. Each op is
 * exact; sqrt at 0 has an infinite derivative (models use √(x + ε)). */
#include "ops.h"

#include "kernels.h"

static const char *u_name[] = {"neg", "scale", "add_scalar", "pow", "exp", "log",
                               "sqrt", "sin", "cos", "tanh", "sigmoid", "silu",
                               "silu_grad", "silu_grad2"};

static void unary_backward(ms_graph *g, const ms_node *n, ms_t *gy, ms_t **gin,
                           const int *need);

static ms_t *unary(ms_graph *g, ms_t *x, int op, double c)
{
    if (!x)
        return NULL;
    ms_t *y = ms_empty_like(g, x); // (shape of x)
    if (!y)
        return NULL;
    MS_K(y->dtype, ms_k_unary)(op, c, x->numel, x->raw, y->raw);
    ms_node *nd = ms_record(g, y, u_name[op], unary_backward, 1, &x);
    if (nd) {
        nd->flags = op;
        nd->c = c;
    }
    return g->err.status == MLSHIFT_OK ? y : NULL;
}

/* 1 − t, recorded. */
static ms_t *one_minus(ms_graph *g, ms_t *t) { return ms_add_scalar(g, ms_neg(g, t), 1.0); }

/* dx = gy·f'(x) in one loop, for the backward without create_graph. */
static ms_t *fused_backward(ms_graph *g, const ms_node *n, const ms_t *gy)
{
    const ms_t *x = n->in[0], *yt = n->out;
    ms_t *dx = ms_empty_like(g, x); // (shape of x)
    if (!dx)
        return NULL;
    MS_K(dx->dtype, ms_k_unary_bwd)(n->flags, n->c, x->numel, x->raw, yt->raw, gy->raw,
                                    dx->raw);
    return dx;
}

static void unary_backward(ms_graph *g, const ms_node *n, ms_t *gy, ms_t **gin,
                           const int *need)
{
    (void)need;
    ms_t *x = n->in[0], *y = n->out;
    double c = n->c;
    if (g->no_grad) {
        gin[0] = n->flags == MS_U_ADDC ? gy : fused_backward(g, n, gy);
        return;
    }
    switch (n->flags) {
    case MS_U_NEG:   gin[0] = ms_neg(g, gy); break;
    case MS_U_SCALE: gin[0] = ms_scale(g, gy, c); break;
    case MS_U_ADDC:  gin[0] = gy; break;
    case MS_U_POW:
        if (c == 1.0)
            gin[0] = gy;
        else if (c == 2.0)
            gin[0] = ms_mul(g, gy, ms_scale(g, x, 2.0));
        else
            gin[0] = ms_mul(g, gy, ms_scale(g, ms_pow(g, x, c - 1.0), c));
        break;
    case MS_U_EXP:   gin[0] = ms_mul(g, gy, y); break;
    case MS_U_LOG:   gin[0] = ms_div(g, gy, x); break;
    case MS_U_SQRT:  gin[0] = ms_scale(g, ms_div(g, gy, y), 0.5); break;
    case MS_U_SIN:   gin[0] = ms_mul(g, gy, ms_cos(g, x)); break;
    case MS_U_COS:   gin[0] = ms_neg(g, ms_mul(g, gy, ms_sin(g, x))); break;
    case MS_U_TANH:  gin[0] = ms_mul(g, gy, one_minus(g, ms_mul(g, y, y))); break;
    case MS_U_SIGMOID:
        gin[0] = ms_mul(g, gy, ms_mul(g, y, one_minus(g, y)));
        break;
    case MS_U_SILU:   gin[0] = ms_mul(g, gy, ms_silu_grad(g, x)); break;
    case MS_U_SILU_D: gin[0] = ms_mul(g, gy, ms_silu_grad2(g, x)); break;
    default: {
        /* silu''' = q(t(3 + x t) − 2 x q), q = s(1 − s), t = 1 − 2s */
        ms_t *s = ms_sigmoid(g, x);
        ms_t *q = ms_mul(g, s, one_minus(g, s));
        ms_t *t = ms_add_scalar(g, ms_scale(g, s, -2.0), 1.0);
        ms_t *in = ms_sub(g, ms_mul(g, t, ms_add_scalar(g, ms_mul(g, x, t), 3.0)),
                          ms_scale(g, ms_mul(g, x, q), 2.0));
        gin[0] = ms_mul(g, gy, ms_mul(g, q, in));
        break;
    }
    }
}

ms_t *ms_neg(ms_graph *g, ms_t *a) { return unary(g, a, MS_U_NEG, 0); }
ms_t *ms_scale(ms_graph *g, ms_t *a, double c) { return unary(g, a, MS_U_SCALE, c); }
ms_t *ms_add_scalar(ms_graph *g, ms_t *a, double c) { return unary(g, a, MS_U_ADDC, c); }
ms_t *ms_pow(ms_graph *g, ms_t *a, double p) { return unary(g, a, MS_U_POW, p); }
ms_t *ms_exp(ms_graph *g, ms_t *a) { return unary(g, a, MS_U_EXP, 0); }
ms_t *ms_log(ms_graph *g, ms_t *a) { return unary(g, a, MS_U_LOG, 0); }
ms_t *ms_sqrt(ms_graph *g, ms_t *a) { return unary(g, a, MS_U_SQRT, 0); }
ms_t *ms_sin(ms_graph *g, ms_t *a) { return unary(g, a, MS_U_SIN, 0); }
ms_t *ms_cos(ms_graph *g, ms_t *a) { return unary(g, a, MS_U_COS, 0); }
ms_t *ms_tanh(ms_graph *g, ms_t *a) { return unary(g, a, MS_U_TANH, 0); }
ms_t *ms_sigmoid(ms_graph *g, ms_t *a) { return unary(g, a, MS_U_SIGMOID, 0); }
ms_t *ms_silu(ms_graph *g, ms_t *a) { return unary(g, a, MS_U_SILU, 0); }
ms_t *ms_silu_grad(ms_graph *g, ms_t *a) { return unary(g, a, MS_U_SILU_D, 0); }
ms_t *ms_silu_grad2(ms_graph *g, ms_t *a) { return unary(g, a, MS_U_SILU_DD, 0); }
