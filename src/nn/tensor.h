/* SPDX-License-Identifier: MIT */
/* Dense tensors and the tape (graph) that records operations on them.
 *
 * A graph computes in one element type, float64 (the default) or float32
 * (ms_graph_set_dtype before the first op): every tensor it makes has it,
 * so ops never mix types. Data of external double storage enters a float32
 * graph by conversion (ms_wrap copies it), and results leave through
 * ms_at / ms_copy_out, which convert back to double.
 *
 * A tensor is row-major with at most MS_MAXDIM = 3 dimensions (shapes such
 * as (N, F), (E, 3), (N, 3, F)); ndim = 0 is a scalar (numel 1). Tensors are
 * immutable once an op has produced them, so views (reshape) may share data.
 *
 * Every tensor struct and every tape node lives in the graph's arena and is
 * forgotten by ms_graph_reset() once per step. Parameters and positions keep
 * their storage outside the arena: ms_wrap() makes a graph tensor that points
 * at them (no copy), flagged requires_grad. A tensor records how it was made
 * (node) only when one of its inputs requires grad and recording is on.
 *
 * Errors are sticky, as in ggml: an op that fails (shape mismatch, index out
 * of range, out of memory) returns NULL and stores the first error in the
 * graph; every op given a NULL input returns NULL, so a whole model can be
 * written without checks and g->err looked at once at the end. */
#ifndef MLSHIFT_TENSOR_H
#define MLSHIFT_TENSOR_H

#include <stddef.h>
#include <stdint.h>

#include "mlshift.h"
#include "arena.h"

#define MS_MAXDIM 3

typedef enum { MS_F64 = 0, MS_F32 = 1 } ms_dtype;

typedef struct ms_t ms_t;
typedef struct ms_node ms_node;
typedef struct ms_graph ms_graph;

/* The backward rule of an op: given dL/d(out) (gout, shape of n->out), sets
 * gin[i] = dL/d(in[i]) for every i with need[i] (others are left NULL),
 * written with ms_* ops on g so that it is itself recorded when the
 * gradient is being created with create_graph = 1. */
typedef void (*ms_backward_fn)(ms_graph *g, const ms_node *n, ms_t *gout,
                               ms_t **gin, const int *need);

struct ms_t {
    union {                   /* (numel) row-major, of type dtype: */
        double *data;         /*   MS_F64 */
        float *f32;           /*   MS_F32 */
        void *raw;            /*   either, for the kernels */
    };
    ms_dtype dtype;
    size_t shape[MS_MAXDIM];  /* shape[0..ndim-1]; unused entries are 1 */
    size_t numel;
    int ndim;
    int requires_grad;        /* a parameter/position, or made from one */
    size_t id;                /* 0, 1, … in order of creation in the graph */
    ms_node *node;            /* the op that made it; NULL for leaves */
};

struct ms_node {
    const char *name;         /* op name, for messages and docs */
    ms_backward_fn backward;
    int nin;
    ms_t **in;                /* (nin) inputs */
    ms_t *out;
    /* auxiliary data saved for the backward rule */
    double c;                 /* a scalar constant (scale, exponent) */
    int axis;
    int flags;                /* matmul: bit 0 transpose a, bit 1 transpose b */
    size_t start, len;        /* slice / pad along axis */
    const int32_t *idx;       /* (nidx) gather / scatter indices, arena copy */
    size_t nidx;
    const int32_t *idx2;      /* (nidx) a second index array (gather_mul_scatter) */
    ms_node *prev, *next;     /* creation order */
};

struct ms_graph {
    ms_arena arena;
    ms_node *first, *last;    /* the tape, in creation order */
    size_t n_nodes;
    size_t n_tensors;         /* next tensor id */
    int no_grad;              /* 1: ops record nothing (backward without create_graph) */
    ms_dtype dtype;           /* of every tensor made (MS_F64 in a zeroed graph) */
    mlshift_error err;        /* first error; err.status != MLSHIFT_OK after a failure */
    /* A float32 copy of a double buffer (ms_graph_set_shadow): float32
     * leaves wrapped inside shadow_of read it instead of being converted. */
    const double *shadow_of;
    const float *shadow;
    size_t shadow_n;
};

/* A zeroed ms_graph is ready; arena_bytes (0: 1 MiB) sizes the first block. */
void ms_graph_init(ms_graph *g, size_t arena_bytes);
/* Sets the element type of the tensors the graph makes from now on (call
 * on a fresh or reset graph: ops refuse operands of another type). */
void ms_graph_set_dtype(ms_graph *g, ms_dtype dt);
/* Forgets every tensor, node and error: call once per step. */
void ms_graph_reset(ms_graph *g);
/* From now on, a float32 leaf that ms_wrap makes of storage inside
 * of[0..n) points at f32 + (data − of) (n floats, the values of `of`
 * converted) rather than at a converted copy: a model's parameters,
 * converted once for many steps instead of once per step. The caller keeps
 * f32 equal to `of` converted, and both alive, until it sets another
 * shadow or none (of = NULL). Leaves are never written through, so the
 * shadow is read only. Survives ms_graph_reset. */
void ms_graph_set_shadow(ms_graph *g, const double *of, const float *f32, size_t n);
void ms_graph_free(ms_graph *g);
/* Records an error (the first one wins); returns NULL for `return` chaining. */
void *ms_graph_fail(ms_graph *g, mlshift_status s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* New tensors in the arena. shape has ndim entries (NULL when ndim = 0). */
ms_t *ms_empty(ms_graph *g, int ndim, const size_t *shape);      /* data uninitialised */
ms_t *ms_zeros(ms_graph *g, int ndim, const size_t *shape);
ms_t *ms_full(ms_graph *g, int ndim, const size_t *shape, double v);
ms_t *ms_const(ms_graph *g, int ndim, const size_t *shape, const double *data); /* a copy */
/* A leaf pointing at external storage data (numel doubles, no copy): a
 * parameter or positions with requires_grad = 1, or an input with 0. In a
 * float32 graph the leaf is a converted copy in the arena instead, or a
 * view of the graph's shadow (ms_graph_set_shadow) when data lies in it. */
ms_t *ms_wrap(ms_graph *g, int ndim, const size_t *shape, double *data,
              int requires_grad);
/* An empty tensor of a's shape. */
ms_t *ms_empty_like(ms_graph *g, const ms_t *a);
/* A tensor of another shape on a's data (same numel; no copy, no record). */
ms_t *ms_view(ms_graph *g, ms_t *a, int ndim, const size_t *shape);

/* Element i of t as a double, and t's numel elements into out (doubles),
 * whatever t's type. */
static inline double ms_at(const ms_t *t, size_t i)
{
    return t->dtype == MS_F32 ? (double)t->f32[i] : t->data[i];
}
void ms_copy_out(const ms_t *t, double *out);
/* out[i] += t[i] for i < numel (a gradient into a double buffer). */
void ms_acc_out(const ms_t *t, double *out);
/* Elements [off, off + n) of t (made by this graph, not yet used by an op)
 * set from the doubles src. */
void ms_copy_in(ms_t *t, size_t off, size_t n, const double *src);
/* Element i of t (made by this graph, not yet used by an op) set to v. */
static inline void ms_set(ms_t *t, size_t i, double v)
{
    if (t->dtype == MS_F32)
        t->f32[i] = (float)v;
    else
        t->data[i] = v;
}

/* For op implementations: records out as made by `name` from in[0..nin-1]
 * when recording is on and an input requires grad; returns the node (for
 * its auxiliary fields) or NULL when nothing was recorded (also on failure:
 * check g->err.status). */
ms_node *ms_record(ms_graph *g, ms_t *out, const char *name,
                   ms_backward_fn backward, int nin, ms_t *const *in);

/* 1 if a and b have the same shape. */
int ms_same_shape(const ms_t *a, const ms_t *b);

#define MS_SHAPE(...) ((const size_t[]){__VA_ARGS__})

#endif /* MLSHIFT_TENSOR_H */
