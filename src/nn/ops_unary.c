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

#include <math.h>

#include "bcast.h" /* last: its vectoriser pragma covers this file only */

enum { U_NEG, U_SCALE, U_ADDC, U_POW, U_EXP, U_LOG, U_SQRT, U_SIN, U_COS,
       U_TANH, U_SIGMOID, U_SILU, U_SILU_D, U_SILU_DD };
static const char *u_name[] = {"neg", "scale", "add_scalar", "pow", "exp", "log",
                               "sqrt", "sin", "cos", "tanh", "sigmoid", "silu",
                               "silu_grad", "silu_grad2"};

static double sigmoid(double x)
{
    /* stable on both sides: never exp of a large positive number */
    if (x >= 0)
        return 1.0 / (1.0 + exp(-x));
    double e = exp(x);
    return e / (1.0 + e);
}

/* silu'(x) = s(1 + x(1 − s)) */
static double silu_d(double x)
{
    double s = sigmoid(x);
    return s * (1.0 + x * (1.0 - s));
}

/* silu''(x) = q(2 + x t), q = s(1 − s), t = 1 − 2s */
static double silu_dd(double x)
{
    double s = sigmoid(x), q = s * (1.0 - s), t = 1.0 - 2.0 * s;
    return q * (2.0 + x * t);
}

/* silu'''(x) = q(t(3 + x t) − 2 x q) */
static double silu_ddd(double x)
{
    double s = sigmoid(x), q = s * (1.0 - s), t = 1.0 - 2.0 * s;
    return q * (t * (3.0 + x * t) - 2.0 * x * q);
}

static void unary_backward(ms_graph *g, const ms_node *n, ms_t *gy, ms_t **gin,
                           const int *need);

static ms_t *unary(ms_graph *g, ms_t *x, int op, double c)
{
    if (!x)
        return NULL;
    ms_t *y = ms_empty_like(g, x); // (shape of x)
    if (!y)
        return NULL;
    const double *X = x->data;
    double *Y = y->data;
    size_t n = x->numel;
#define LOOP(EXPR) for (size_t i = 0; i < n; i++) { double u = X[i]; Y[i] = (EXPR); }
    switch (op) {
    case U_NEG:     LOOP(-u); break;
    case U_SCALE:   LOOP(c * u); break;
    case U_ADDC:    LOOP(u + c); break;
    case U_POW:
        if (c == 2.0)
            LOOP(u * u)
        else
            LOOP(pow(u, c))
        break;
    case U_EXP:     LOOP(exp(u)); break;
    case U_LOG:     LOOP(log(u)); break;
    case U_SQRT:    LOOP(sqrt(u)); break;
    case U_SIN:     LOOP(sin(u)); break;
    case U_COS:     LOOP(cos(u)); break;
    case U_TANH:    LOOP(tanh(u)); break;
    case U_SIGMOID: LOOP(sigmoid(u)); break;
    case U_SILU:    LOOP(u * sigmoid(u)); break;
    case U_SILU_D:  LOOP(silu_d(u)); break;
    default:        LOOP(silu_dd(u)); break;
    }
#undef LOOP
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
    const double *X = x->data, *Y = yt->data, *G = gy->data;
    double *D = dx->data, c = n->c;
    size_t m = x->numel;
#define LOOP(EXPR)                                                            \
    for (size_t i = 0; i < m; i++) {                                          \
        double u = X[i], y = Y[i];                                            \
        (void)u;                                                              \
        (void)y;                                                              \
        D[i] = G[i] * (EXPR);                                                 \
    }
    switch (n->flags) {
    case U_NEG:     LOOP(-1.0); break;
    case U_SCALE:   LOOP(c); break;
    case U_ADDC:    LOOP(1.0); break;
    case U_POW:
        if (c == 1.0)
            LOOP(1.0)
        else if (c == 2.0)
            LOOP(2.0 * u)
        else
            LOOP(c * pow(u, c - 1.0))
        break;
    case U_EXP:     LOOP(y); break;
    case U_LOG:     LOOP(1.0 / u); break;
    case U_SQRT:    LOOP(0.5 / y); break;
    case U_SIN:     LOOP(cos(u)); break;
    case U_COS:     LOOP(-sin(u)); break;
    case U_TANH:    LOOP(1.0 - y * y); break;
    case U_SIGMOID: LOOP(y * (1.0 - y)); break;
    case U_SILU:    LOOP(silu_d(u)); break;
    case U_SILU_D:  LOOP(silu_dd(u)); break;
    default:        LOOP(silu_ddd(u)); break;
    }
#undef LOOP
    return dx;
}

static void unary_backward(ms_graph *g, const ms_node *n, ms_t *gy, ms_t **gin,
                           const int *need)
{
    (void)need;
    ms_t *x = n->in[0], *y = n->out;
    double c = n->c;
    if (g->no_grad) {
        gin[0] = n->flags == U_ADDC ? gy : fused_backward(g, n, gy);
        return;
    }
    switch (n->flags) {
    case U_NEG:   gin[0] = ms_neg(g, gy); break;
    case U_SCALE: gin[0] = ms_scale(g, gy, c); break;
    case U_ADDC:  gin[0] = gy; break;
    case U_POW:
        if (c == 1.0)
            gin[0] = gy;
        else if (c == 2.0)
            gin[0] = ms_mul(g, gy, ms_scale(g, x, 2.0));
        else
            gin[0] = ms_mul(g, gy, ms_scale(g, ms_pow(g, x, c - 1.0), c));
        break;
    case U_EXP:   gin[0] = ms_mul(g, gy, y); break;
    case U_LOG:   gin[0] = ms_div(g, gy, x); break;
    case U_SQRT:  gin[0] = ms_scale(g, ms_div(g, gy, y), 0.5); break;
    case U_SIN:   gin[0] = ms_mul(g, gy, ms_cos(g, x)); break;
    case U_COS:   gin[0] = ms_neg(g, ms_mul(g, gy, ms_sin(g, x))); break;
    case U_TANH:  gin[0] = ms_mul(g, gy, one_minus(g, ms_mul(g, y, y))); break;
    case U_SIGMOID:
        gin[0] = ms_mul(g, gy, ms_mul(g, y, one_minus(g, y)));
        break;
    case U_SILU:   gin[0] = ms_mul(g, gy, ms_silu_grad(g, x)); break;
    case U_SILU_D: gin[0] = ms_mul(g, gy, ms_silu_grad2(g, x)); break;
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

ms_t *ms_neg(ms_graph *g, ms_t *a) { return unary(g, a, U_NEG, 0); }
ms_t *ms_scale(ms_graph *g, ms_t *a, double c) { return unary(g, a, U_SCALE, c); }
ms_t *ms_add_scalar(ms_graph *g, ms_t *a, double c) { return unary(g, a, U_ADDC, c); }
ms_t *ms_pow(ms_graph *g, ms_t *a, double p) { return unary(g, a, U_POW, p); }
ms_t *ms_exp(ms_graph *g, ms_t *a) { return unary(g, a, U_EXP, 0); }
ms_t *ms_log(ms_graph *g, ms_t *a) { return unary(g, a, U_LOG, 0); }
ms_t *ms_sqrt(ms_graph *g, ms_t *a) { return unary(g, a, U_SQRT, 0); }
ms_t *ms_sin(ms_graph *g, ms_t *a) { return unary(g, a, U_SIN, 0); }
ms_t *ms_cos(ms_graph *g, ms_t *a) { return unary(g, a, U_COS, 0); }
ms_t *ms_tanh(ms_graph *g, ms_t *a) { return unary(g, a, U_TANH, 0); }
ms_t *ms_sigmoid(ms_graph *g, ms_t *a) { return unary(g, a, U_SIGMOID, 0); }
ms_t *ms_silu(ms_graph *g, ms_t *a) { return unary(g, a, U_SILU, 0); }
ms_t *ms_silu_grad(ms_graph *g, ms_t *a) { return unary(g, a, U_SILU_D, 0); }
ms_t *ms_silu_grad2(ms_graph *g, ms_t *a) { return unary(g, a, U_SILU_DD, 0); }
