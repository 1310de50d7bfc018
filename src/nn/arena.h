/* SPDX-License-Identifier: MIT */
/* A bump allocator for per-step memory (tensors and tape nodes).
 *
 * Allocation moves a pointer; ms_arena_reset() forgets everything at once.
 * When a step needs more than the current block, further blocks are chained
 * (one malloc each); the next reset frees them and allocates a single block
 * as large as all of them together, so after one warm-up step of the largest
 * size a whole step runs without calling malloc. n_malloc counts the blocks
 * ever allocated, so a test can assert exactly that. */
#ifndef MLSHIFT_ARENA_H
#define MLSHIFT_ARENA_H

#include <stddef.h>

#define MS_ARENA_ALIGN 64 /* bytes: a cache line, enough for AVX-512 loads */

typedef struct ms_arena_block ms_arena_block;

typedef struct ms_arena {
    ms_arena_block *head; /* current block; older ones chained behind it */
    size_t min_block;     /* bytes of the first block (0: 1 MiB) */
    size_t used_total;    /* bytes handed out since the last reset */
    size_t high_water;    /* largest used_total ever seen */
    size_t n_malloc;      /* blocks ever allocated (for no-malloc tests) */
    struct ms_arena_freebuf *free_list; /* released buffers (ms_arena_release), by size */
} ms_arena;

/* A point in the arena's allocation history (ms_arena_mark). */
typedef struct ms_arena_mark {
    const ms_arena_block *block;
    size_t used;
} ms_arena_mark;

/* A zeroed struct is an empty arena; min_block may be set before first use. */
void *ms_arena_alloc(ms_arena *a, size_t bytes); /* MS_ARENA_ALIGN-aligned, NULL on OOM */
void ms_arena_reset(ms_arena *a);
void ms_arena_free(ms_arena *a);
/* Bytes the arena holds (all blocks). */
size_t ms_arena_capacity(const ms_arena *a);
/* The current point of the arena, and whether p (a pointer ms_arena_alloc
 * returned) was handed out after that point by a bump allocation. */
ms_arena_mark ms_arena_mark_now(const ms_arena *a);
int ms_arena_since(const ms_arena *a, ms_arena_mark m, const void *p);
/* Gives back a buffer of `bytes` (as asked from ms_arena_alloc) whose
 * contents are dead: a later ms_arena_alloc of the same rounded size
 * returns it instead of bumping (so a backward sweep reuses the memory of
 * gradients it has consumed). Forgotten at reset. */
void ms_arena_release(ms_arena *a, void *p, size_t bytes);
/* Released buffers waiting for reuse (for tests). */
size_t ms_arena_n_free(const ms_arena *a);

#endif /* MLSHIFT_ARENA_H */
