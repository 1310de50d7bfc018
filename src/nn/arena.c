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

/* A released buffer, stored in its own first bytes. */
typedef struct ms_arena_freebuf {
    struct ms_arena_freebuf *next;
    size_t bytes; /* rounded size */
} free_buf;

void *ms_arena_alloc(ms_arena *a, size_t bytes)
{
    size_t n = round_up(bytes ? bytes : 1, MS_ARENA_ALIGN);
    if (n < bytes) /* overflow */
        return NULL;
    for (free_buf **f = &a->free_list; *f; f = &(*f)->next)
        if ((*f)->bytes == n) {
            free_buf *hit = *f;
            *f = hit->next;
            return hit;
        }
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

void ms_arena_release(ms_arena *a, void *p, size_t bytes)
{
    size_t n = round_up(bytes ? bytes : 1, MS_ARENA_ALIGN);
    if (!p || n < sizeof(free_buf))
        return;
    free_buf *f = p;
    f->bytes = n;
    f->next = a->free_list;
    a->free_list = f;
}

size_t ms_arena_n_free(const ms_arena *a)
{
    size_t n = 0;
    for (const free_buf *f = a->free_list; f; f = f->next)
        n++;
    return n;
}

ms_arena_mark ms_arena_mark_now(const ms_arena *a)
{
    ms_arena_mark m = {a->head, a->head ? a->head->used : 0};
    return m;
}

int ms_arena_since(const ms_arena *a, ms_arena_mark m, const void *p)
{
    const char *c = p;
    for (const ms_arena_block *b = a->head; b; b = b->prev) {
        size_t lo = b == m.block ? m.used : 0;
        /* compare as integers: p may lie in another block */
        if ((uintptr_t)c >= (uintptr_t)(b->data + lo) &&
            (uintptr_t)c < (uintptr_t)(b->data + b->used))
            return 1;
        if (b == m.block)
            return 0;
    }
    return 0;
}

void ms_arena_reset(ms_arena *a)
{
    a->used_total = 0;
    a->free_list = NULL;
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
    a->free_list = NULL;
}
