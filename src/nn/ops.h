/* SPDX-License-Identifier: MIT */
/* Differentiable tensor ops. Each returns a new tensor in the graph's arena
 * (NULL on failure or on a NULL input, the error kept in g->err) and, when an
 * input requires grad, records itself on the tape with a backward rule that
 * is written with these same ops (so gradients can be differentiated again).
 *
 * Size letters: N atoms, E edges, F features, K radial functions,
 * B structures, M/K/N for matmul dimensions where stated. */
#ifndef MLSHIFT_OPS_H
#define MLSHIFT_OPS_H

#include "tensor.h"

/* --- elementwise binary with numpy broadcasting over <= 3 dims
 *     (ops_binary.c): shapes right-aligned, each dim equal or 1. */
ms_t *ms_add(ms_graph *g, ms_t *a, ms_t *b);
ms_t *ms_sub(ms_graph *g, ms_t *a, ms_t *b);
ms_t *ms_mul(ms_graph *g, ms_t *a, ms_t *b);
ms_t *ms_div(ms_graph *g, ms_t *a, ms_t *b);
/* sum_to(a ⊙ b, shape) without materialising the broadcast product: over
 * the index space P = broadcast(a, b, shape), y[s] = Σ_{p -> s} a[p]·b[p]
 * (shape's dims each 1 or P's). Bilinear; the backward rule of mul. */
ms_t *ms_mul_sum_to(ms_graph *g, ms_t *a, ms_t *b, int ndim, const size_t *shape);

/* --- broadcasting and reductions (ops_reduce.c) */
/* a broadcast to shape (a must be broadcastable to it). */
ms_t *ms_expand(ms_graph *g, ms_t *a, int ndim, const size_t *shape);
/* The adjoint of expand: sums a down to shape (numpy's "unbroadcast"):
 * leading dims dropped, dims where shape has 1 summed with keepdim. */
ms_t *ms_sum_to(ms_graph *g, ms_t *a, int ndim, const size_t *shape);
/* Sum over one axis, keeping it with size 1: (N, 3, F) axis 1 -> (N, 1, F). */
ms_t *ms_sum_axis(ms_graph *g, ms_t *a, int axis);
/* Sum of all entries: a scalar (ndim 0). */
ms_t *ms_sum(ms_graph *g, ms_t *a);

/* --- elementwise unary (ops_unary.c) */
ms_t *ms_neg(ms_graph *g, ms_t *a);
ms_t *ms_scale(ms_graph *g, ms_t *a, double c);      /* c·a */
ms_t *ms_add_scalar(ms_graph *g, ms_t *a, double c); /* a + c */
ms_t *ms_pow(ms_graph *g, ms_t *a, double p);        /* a^p (pow(3)) */
ms_t *ms_exp(ms_graph *g, ms_t *a);
ms_t *ms_log(ms_graph *g, ms_t *a);
ms_t *ms_sqrt(ms_graph *g, ms_t *a);
ms_t *ms_sin(ms_graph *g, ms_t *a);
ms_t *ms_cos(ms_graph *g, ms_t *a);
ms_t *ms_tanh(ms_graph *g, ms_t *a);
ms_t *ms_sigmoid(ms_graph *g, ms_t *a);
ms_t *ms_silu(ms_graph *g, ms_t *a);                 /* a·sigmoid(a) */
/* silu' and silu'' as ops of their own (one kernel each instead of a chain
 * of seven elementwise ops in silu's backward): s = sigmoid(a),
 *   silu_grad  = s·(1 + a·(1 − s)),  silu_grad2 = s(1 − s)·(2 + a·(1 − 2s)). */
ms_t *ms_silu_grad(ms_graph *g, ms_t *a);
ms_t *ms_silu_grad2(ms_graph *g, ms_t *a);

/* --- linear algebra (ops_linalg.c) */
/* op(a) op(b) with op = transpose when ta / tb: (M, K) x (K, N) -> (M, N),
 * through cblas_dgemm. a and b are 2-D (reshape (N, 3, F) to (3N, F)). */
ms_t *ms_matmul(ms_graph *g, ms_t *a, ms_t *b, int ta, int tb);
/* A dense layer x·W + b in one op (bias rows copied, then dgemm with
 * beta = 1): x (M, K), W (K, N), b (N,) or NULL -> (M, N). */
ms_t *ms_matmul_bias(ms_graph *g, ms_t *x, ms_t *W, ms_t *b);

/* --- indexing and shape (ops_index.c). idx is copied into the arena. */
/* Rows of a (M, ...) picked by idx (E): (E, ...). */
ms_t *ms_gather(ms_graph *g, ms_t *a, const int32_t *idx, size_t E);
/* Rows of a (E, ...) added into row idx[e] of a zero (M, ...) tensor. */
ms_t *ms_scatter_add(ms_graph *g, ms_t *a, const int32_t *idx, size_t M);
/* Per-segment sums: row i of a (N, ...) into segment seg[i] of (B, ...)
 * (per-structure energies from per-atom ones). Same as scatter_add. */
ms_t *ms_segment_sum(ms_graph *g, ms_t *a, const int32_t *seg, size_t B);
/* scatter_add(gather(a, ia) ⊙ b, ib, M) in one pass (ops_gms.c): a (Na, …),
 * ia (E) or NULL (a has E rows), b (E, …) of a's ndim, the non-row dims
 * broadcast; ib (E) or NULL (no scatter: E rows, M ignored). The message
 * step of a message-passing network without the (E, …) product. */
ms_t *ms_gather_mul_scatter(ms_graph *g, ms_t *a, const int32_t *ia, ms_t *b,
                            const int32_t *ib, size_t M);
/* Its adjoint: z[e] = sum_to(x[ix e] ⊙ y[iy e], shape's rows) (ops_gms.c),
 * x (Nx, …), y (Ny, …), ix / iy (E) or NULL (E rows in order), all of
 * ndim dims, the rows broadcast; shape = (E, S…), S's dims 1 (summed) or
 * the broadcast size. -> (E, S…). */
ms_t *ms_gather_mul_sum(ms_graph *g, ms_t *x, const int32_t *ix, ms_t *y, const int32_t *iy,
                        size_t E, int ndim, const size_t *shape);
/* Concatenation of n tensors along axis (other dims equal). */
ms_t *ms_concat(ms_graph *g, int n, ms_t *const *ts, int axis);
/* a[..., start:start+len, ...] along axis. */
ms_t *ms_slice(ms_graph *g, ms_t *a, int axis, size_t start, size_t len);
/* The adjoint of slice: a placed at [start, start+len) along axis of a zero
 * tensor whose axis has size total. */
ms_t *ms_pad(ms_graph *g, ms_t *a, int axis, size_t start, size_t total);
/* Same data, another shape (a view; numel must match). */
ms_t *ms_reshape(ms_graph *g, ms_t *a, int ndim, const size_t *shape);

/* --- reverse mode (tape.c) */
/* dy/dxs[i] into out[i] (shape of xs[i]; zeros when y does not depend on
 * it), like torch.autograd.grad(y, xs, seed, create_graph). y is a scalar
 * (seed NULL means 1) or seed has y's shape (a vector-Jacobian product).
 * create_graph = 1 records the backward pass on the tape, so the results can
 * be differentiated again (forces, then a force loss w.r.t. parameters).
 * Returns g->err.status. */
mlshift_status ms_grad(ms_graph *g, ms_t *y, ms_t *seed, size_t n,
                       ms_t *const *xs, ms_t **out, int create_graph);

#endif /* MLSHIFT_OPS_H */
