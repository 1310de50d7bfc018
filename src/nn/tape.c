/* SPDX-License-Identifier: MIT */
/* Reverse-mode differentiation over the tape: ms_grad, the analogue of
 * torch.autograd.grad(y, xs, seed, create_graph).
 *
 * The tape is the list of nodes in creation order, which is a topological
 * order (an op's inputs exist before it). For L = ⟨seed, y⟩:
 *   1. mark the tensors that depend on some x (a forward sweep up to y);
 *   2. set ḡ(y) = seed and sweep the nodes backwards from y's node; for a
 *      node whose output has a gradient and depends on an x, call its
 *      backward rule for the inputs that depend on an x and add the results
 *      into their gradients (a tensor used twice gets the sum, by ms_add);
 *   3. return ḡ(x) for each x (zeros when L does not depend on x).
 * Backward rules are written with the ops themselves, so with create_graph
 * the sweep appends its own nodes to the tape (after y, so this sweep does
 * not visit them) and ḡ(x) is an ordinary recorded tensor: F = −ḡ(r) can
 * enter a loss that is differentiated again, by another ms_grad call whose
 * forward sweep now runs through the nodes of the first backward pass.
 * Without create_graph, recording is switched off during the sweep (as
 * torch.no_grad), so the gradients are plain constants; then a tensor
 * used several times accumulates its gradient in place, in a buffer this
 * sweep allocated for it (owned[id]), instead of a new tensor per ms_add —
 * never in a tensor a backward rule handed over, which may be another
 * tensor's gradient or a view of one. Also without create_graph, once a
 * node is done its output's gradient is dead (every consumer came later on
 * the tape and has been visited), and so are gradients replaced by a sum
 * and rule results added into a sum: their buffers go back to the arena
 * (ms_arena_release) for the rest of the sweep to reuse, when this sweep
 * allocated them and no gradient slot still points at them (views share
 * data). This keeps a backward pass's memory about the size of the live
 * gradients rather than of all of them. */
#include "ops.h"

#include <string.h>

#include "kernels.h"

#define MS_GRAD_STACK_IN 8
#define MS_RELEASE_MIN 512 /* elements: smaller buffers are not worth a scan */

typedef struct sweep {
    ms_graph *g;
    ms_arena_mark mark; /* buffers handed out after it are this sweep's */
    ms_t **grad;        /* (T) gradient slots */
    size_t T;
    ms_t *cand[2 * MS_GRAD_STACK_IN + 1]; /* dead candidates of one node */
    int ncand;
} sweep;

static void candidate(sweep *sw, ms_t *t)
{
    if (!t || t->numel < MS_RELEASE_MIN ||
        sw->ncand >= (int)(sizeof sw->cand / sizeof sw->cand[0]))
        return;
    for (int k = 0; k < sw->ncand; k++)
        if (sw->cand[k]->raw == t->raw)
            return;
    sw->cand[sw->ncand++] = t;
}

/* Releases the candidates that this sweep allocated and no slot uses. */
static void release_dead(sweep *sw)
{
    for (int k = 0; k < sw->ncand; k++) {
        const ms_t *t = sw->cand[k];
        if (!ms_arena_since(&sw->g->arena, sw->mark, t->raw))
            continue;
        int used = 0;
        for (size_t j = 0; j < sw->T && !used; j++)
            used = sw->grad[j] && sw->grad[j]->raw == t->raw;
        if (!used)
            ms_arena_release(&sw->g->arena, t->raw, t->numel * ms_dtype_size(t->dtype));
    }
    sw->ncand = 0;
}

mlshift_status ms_grad(ms_graph *g, ms_t *y, ms_t *seed, size_t n, ms_t *const *xs,
                       ms_t **out, int create_graph)
{
    for (size_t i = 0; i < n; i++)
        out[i] = NULL;
    if (g->err.status != MLSHIFT_OK)
        return g->err.status;
    if (!y) {
        ms_graph_fail(g, MLSHIFT_ERR_VALUE, "grad: no output tensor");
        return g->err.status;
    }
    for (size_t i = 0; i < n; i++)
        if (!xs[i]) {
            ms_graph_fail(g, MLSHIFT_ERR_VALUE, "grad: input %zu is NULL", i);
            return g->err.status;
        }
    if (seed && !ms_same_shape(seed, y)) {
        ms_graph_fail(g, MLSHIFT_ERR_VALUE, "grad: seed and output shapes differ");
        return g->err.status;
    }
    if (!seed) {
        if (y->numel != 1) {
            ms_graph_fail(g, MLSHIFT_ERR_VALUE,
                          "grad: output has %zu entries; give a seed", y->numel);
            return g->err.status;
        }
        seed = ms_full(g, y->ndim, y->shape, 1.0);
        if (!seed)
            return g->err.status;
    }

    size_t T = g->n_tensors; /* every tensor on the tape has id < T */
    unsigned char *dep = ms_arena_alloc(&g->arena, T);       // (T)
    unsigned char *owned = ms_arena_alloc(&g->arena, T);     // (T) grad[id] is ours
    ms_t **grad = ms_arena_alloc(&g->arena, T * sizeof *grad); // (T)
    if (!dep || !owned || !grad) {
        ms_graph_fail(g, MLSHIFT_ERR_NOMEM, "grad: out of memory");
        return g->err.status;
    }
    memset(dep, 0, T);
    memset(owned, 0, T);
    memset(grad, 0, T * sizeof *grad);
    for (size_t i = 0; i < n; i++)
        dep[xs[i]->id] = 1;
    for (size_t i = 0; i < n; i++)
        owned[xs[i]->id] = 2; /* a result: its slot is never cleared */
    sweep sw = {g, ms_arena_mark_now(&g->arena), grad, T, {0}, 0};

    /* 1. forward sweep: which tensors depend on an x */
    ms_node *stop = y->node;
    if (stop)
        for (ms_node *nd = g->first; nd; nd = nd->next) {
            for (int i = 0; i < nd->nin; i++)
                if (dep[nd->in[i]->id]) {
                    dep[nd->out->id] = 1;
                    break;
                }
            if (nd == stop)
                break;
        }

    /* 2. backward sweep */
    grad[y->id] = seed;
    int saved_no_grad = g->no_grad;
    g->no_grad = !create_graph;
    ms_t *gin_stack[MS_GRAD_STACK_IN];
    int need_stack[MS_GRAD_STACK_IN];
    for (ms_node *nd = stop; nd && g->err.status == MLSHIFT_OK; nd = nd->prev) {
        ms_t *gout = grad[nd->out->id];
        if (!gout || !dep[nd->out->id])
            continue;
        ms_t **gin = gin_stack;
        int *need = need_stack;
        if (nd->nin > MS_GRAD_STACK_IN) {
            gin = ms_arena_alloc(&g->arena, (size_t)nd->nin * sizeof *gin);
            need = ms_arena_alloc(&g->arena, (size_t)nd->nin * sizeof *need);
            if (!gin || !need) {
                ms_graph_fail(g, MLSHIFT_ERR_NOMEM, "grad: out of memory");
                break;
            }
        }
        int any = 0;
        for (int i = 0; i < nd->nin; i++) {
            gin[i] = NULL;
            need[i] = dep[nd->in[i]->id];
            any |= need[i];
        }
        if (!any)
            continue;
        int release = !create_graph && nd->nin <= MS_GRAD_STACK_IN;
        nd->backward(g, nd, gout, gin, need);
        for (int i = 0; i < nd->nin && g->err.status == MLSHIFT_OK; i++) {
            if (!need[i] || !gin[i])
                continue;
            size_t id = nd->in[i]->id;
            if (!grad[id])
                grad[id] = gin[i];
            else if (create_graph)
                grad[id] = ms_add(g, grad[id], gin[i]);
            else if (owned[id] == 1) {
                MS_K(gin[i]->dtype, ms_k_acc)(gin[i]->numel, grad[id]->raw, gin[i]->raw);
                if (release)
                    candidate(&sw, gin[i]);
            } else {
                if (release) {
                    candidate(&sw, grad[id]);
                    candidate(&sw, gin[i]);
                }
                grad[id] = ms_add(g, grad[id], gin[i]);
                if (!owned[id])
                    owned[id] = 1;
            }
        }
        if (release && g->err.status == MLSHIFT_OK) {
            /* this node's output gradient is consumed: clear its slot */
            size_t oid = nd->out->id;
            if (owned[oid] != 2) {
                candidate(&sw, grad[oid]);
                grad[oid] = NULL;
            }
            release_dead(&sw);
        }
    }
    g->no_grad = saved_no_grad;
    if (g->err.status != MLSHIFT_OK)
        return g->err.status;

    /* 3. results */
    for (size_t i = 0; i < n; i++) {
        out[i] = grad[xs[i]->id];
        if (!out[i])
            out[i] = ms_zeros(g, xs[i]->ndim, xs[i]->shape);
    }
    return g->err.status;
}
