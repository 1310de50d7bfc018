/* SPDX-License-Identifier: MIT */
/* The loops under the tensor ops, once per element type (internal to
 * src/nn).
 *
 * A graph computes in float64 or float32 (ms_graph.dtype); every loop that
 * touches tensor data is here, written once in kernels.inc and compiled
 * twice by kernels.c: name_f64 on double, name_f32 on float. Arrays are
 * passed as void pointers of the graph's type and MS_K(dtype, name) picks
 * the instance, so an op dispatches with one call:
 *     MS_K(y->dtype, ms_k_binary)(op, o, s, y->raw, a->raw, b->raw);
 * Strided index spaces (o, s) are the collapsed ones of bcast.h.
 *
 * Accuracy of the float32 instance: products and sums are float, except
 * the reductions (a dot product or a row sum: mul_sum_to, sum_to, and the
 * dot-product case of gather_mul_sum), which accumulate in double and round
 * once, so a loss summed over a batch carries no float32 accumulation
 * error. Transcendentals use the float functions (expf, sinf, …). */
#ifndef MLSHIFT_KERNELS_H
#define MLSHIFT_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "tensor.h"

/* elementwise binary ops (ops_binary.c) */
enum { MS_OP_ADD, MS_OP_SUB, MS_OP_MUL, MS_OP_DIV };
/* elementwise unary ops (ops_unary.c) */
enum { MS_U_NEG, MS_U_SCALE, MS_U_ADDC, MS_U_POW, MS_U_EXP, MS_U_LOG, MS_U_SQRT,
       MS_U_SIN, MS_U_COS, MS_U_TANH, MS_U_SIGMOID, MS_U_SILU, MS_U_SILU_D,
       MS_U_SILU_DD };

#define MS_K(dtype, name) ((dtype) == MS_F32 ? name##_f32 : name##_f64)

/* Internal to the library even as ifuncs: GCC gives a target_clones
 * function and its resolver default visibility whatever
 * -fvisibility=hidden says, unless the declaration says otherwise. */
#if defined(__GNUC__)
#define MS_KERNEL_HIDDEN __attribute__((visibility("hidden")))
#else
#define MS_KERNEL_HIDDEN
#endif

#define MS_KERNEL_DECLS(SFX)                                                          \
    /* y = a ∘ b over the collapsed space o with strides s[y, a, b] */              \
    MS_KERNEL_HIDDEN void ms_k_binary_##SFX(int op, const size_t o[3], const size_t s[3][3], void *y, \
                           const void *a, const void *b);                            \
    /* y += a ⊙ b over o (y strides 0 where summed): mul_sum_to */                   \
    MS_KERNEL_HIDDEN void ms_k_mac3_##SFX(const size_t o[3], const size_t s[3][3], void *y,           \
                         const void *a, const void *b);                              \
    /* y += a over o (strides s[y, a]; y 0 where summed): sum_to */                  \
    MS_KERNEL_HIDDEN void ms_k_sum3_##SFX(const size_t o[3], const size_t s[2][3], void *y,           \
                         const void *a);                                             \
    /* y = a broadcast: padded output shape po, a's strides sa (0 broadcast) */     \
    MS_KERNEL_HIDDEN void ms_k_expand_##SFX(const size_t po[3], const size_t sa[3], void *y,          \
                           const void *a);                                           \
    /* y = f(x), n elements; c the op's constant */                                 \
    MS_KERNEL_HIDDEN void ms_k_unary_##SFX(int op, double c, size_t n, const void *x, void *y);       \
    /* d = g·f'(x) with y = f(x) (the fused backward without create_graph) */       \
    MS_KERNEL_HIDDEN void ms_k_unary_bwd_##SFX(int op, double c, size_t n, const void *x,             \
                              const void *y, const void *g, void *d);                \
    /* out row jo(e) (+)= x row jx(e) ⊙ y row jy(e): gather_mul_scatter/sum */      \
    MS_KERNEL_HIDDEN void ms_k_rows_mac_##SFX(size_t E, const size_t p[3], void *out, const size_t po[3], \
                             const int32_t *jo, const void *x, const size_t px[3],   \
                             const int32_t *jx, const void *y, const size_t py[3],   \
                             const int32_t *jy);                                     \
    /* row ix[e] of y (R per row) += row e of a */                                  \
    MS_KERNEL_HIDDEN void ms_k_scatter_add_##SFX(size_t E, size_t R, const int32_t *ix, void *y,      \
                                const void *a);                                      \
    /* acc[i] += add[i] */                                                          \
    MS_KERNEL_HIDDEN void ms_k_acc_##SFX(size_t n, void *acc, const void *add);                       \
    /* y[i] = v */                                                                  \
    MS_KERNEL_HIDDEN void ms_k_fill_##SFX(size_t n, void *y, double v);                               \
    /* y[i] = x[i] (converted from double) */                                       \
    MS_KERNEL_HIDDEN void ms_k_from_f64_##SFX(size_t n, void *y, const double *x);                    \
    /* y[i] = x[i] (converted to double) */                                         \
    MS_KERNEL_HIDDEN void ms_k_to_f64_##SFX(size_t n, double *y, const void *x);

MS_KERNEL_DECLS(f64)
MS_KERNEL_DECLS(f32)

#undef MS_KERNEL_DECLS

/* Bytes per element. */
static inline size_t ms_dtype_size(ms_dtype dt) { return dt == MS_F32 ? sizeof(float) : sizeof(double); }

/* C = A·op(B) + beta·C in the graph's type (beta 0 or 1; A M × K,
 * op(B) K × N, all row-major, C's rows N apart) without packing:
 * small_gemm.c, AVX-512 only. Returns 1 when it computed C, 0 when the
 * shape (ta set; NN with N not a multiple of the vector's lanes, 16 floats
 * or 8 doubles; NT with K not one, or with more than MS_SMALL_GEMM_NT_MAX_M
 * rows and N ≥ 64, where BLAS is as fast) or the CPU is not its own, and
 * C is untouched: then the caller uses BLAS. */
#define MS_SMALL_GEMM_NT_MAX_M 512
int ms_gemm_small(ms_dtype dt, int ta, int tb, size_t M, size_t N, size_t K, const void *a,
                  size_t lda, const void *b, size_t ldb, int beta, void *c);

#endif /* MLSHIFT_KERNELS_H */
