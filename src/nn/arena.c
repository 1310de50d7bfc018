/* SPDX-License-Identifier: MIT */
/* Bump allocator with block chaining and coalescing on reset (see arena.h). */
#include "arena.h"

#include <stdint.h>
#include <stdlib.h>

struct ms_arena_block {
    ms_arena_block *prev; /* the block allocated before this one (this step) */
    size_t cap;           /* bytes of data */
    size_t used;          /* bytes of data handed out */
    char *data;           /* (cap) MS_ARENA_ALIGN-aligned */
};

static size_t round_up(size_t n, size_t k) { return (n + k - 1) / k * k; }

static ms_arena_block *block_new(ms_arena *a, size_t cap)
{
    cap = round_up(cap, MS_ARENA_ALIGN);
    ms_arena_block *b = malloc(sizeof *b);
    if (!b)
        return NULL;
    b->data = aligned_alloc(MS_ARENA_ALIGN, cap);
    if (!b->data) {
        free(b);
        return NULL;
    }
    b->cap = cap;
    b->used = 0;
    b->prev = NULL;
    a->n_malloc++;
    return b;
}

void *ms_arena_alloc(ms_arena *a, size_t bytes)
{
    size_t n = round_up(bytes ? bytes : 1, MS_ARENA_ALIGN);
    if (n < bytes) /* overflow */
        return NULL;
    ms_arena_block *h = a->head;
    if (!h || h->cap - h->used < n) {
        size_t cap = a->min_block ? a->min_block : ((size_t)1 << 20);
        if (h && cap < 2 * h->cap)
            cap = 2 * h->cap;
        if (cap < n)
            cap = n;
        ms_arena_block *b = block_new(a, cap);
        if (!b)
            return NULL;
        b->prev = h;
        a->head = h = b;
    }
    void *p = h->data + h->used;
    h->used += n;
    a->used_total += n;
    if (a->used_total > a->high_water)
        a->high_water = a->used_total;
    return p;
}

size_t ms_arena_capacity(const ms_arena *a)
{
    size_t c = 0;
    for (const ms_arena_block *b = a->head; b; b = b->prev)
        c += b->cap;
    return c;
}

static void free_chain(ms_arena_block *b)
{
    while (b) {
        ms_arena_block *p = b->prev;
        free(b->data);
        free(b);
        b = p;
    }
}

void ms_arena_reset(ms_arena *a)
{
    a->used_total = 0;
    if (!a->head)
        return;
    if (a->head->prev) {
        /* The step overflowed: replace the chain by one block holding it all,
         * so the next step of the same size needs no malloc. If that malloc
         * fails, keep the newest block: later allocations chain again. */
        size_t total = ms_arena_capacity(a);
        ms_arena_block *b = block_new(a, total);
        if (b) {
            free_chain(a->head);
            a->head = b;
        } else {
            free_chain(a->head->prev);
            a->head->prev = NULL;
        }
    }
    a->head->used = 0;
}

void ms_arena_free(ms_arena *a)
{
    free_chain(a->head);
    a->head = NULL;
    a->used_total = 0;
}
