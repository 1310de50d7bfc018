/* SPDX-License-Identifier: MIT */
/* The extxyz reader's state, shared by its two halves: extxyz_read.c (the
 * frame loop and atom lines) and extxyz_comment.c (the comment line:
 * Properties, Lattice, pbc, energy, info). Internal. */
#ifndef MLSHIFT_EXTXYZ_READER_H
#define MLSHIFT_EXTXYZ_READER_H

#include <stddef.h>

#include "../core/util.h"
#include "extxyz.h"

/* What to do with one column of an atom line. */
enum {
    COL_SPECIES,      /* symbol or digits -> numbers */
    COL_SPECIES_CHK,  /* symbol checked, numbers come from Z */
    COL_Z,            /* atomic number -> numbers */
    COL_POS,          /* component k of the position */
    COL_FORCE,        /* component k of the force */
    COL_FIXED_I,      /* nonzero integer = fixed */
    COL_FIXED_L,      /* T = fixed */
    COL_MASK,         /* move_mask component k: T = may move */
    COL_SKIP_R,
    COL_SKIP_I,
    COL_SKIP_L,
    COL_SKIP_S
};

typedef struct col {
    unsigned char kind, k;
} col;

/* One name:type:ncols triple of a Properties value. */
typedef struct prop {
    const char *name;
    size_t nlen;
    char type;
    size_t ncols;
} prop;

#define MAX_COLUMNS 4096

typedef struct reader {
    const char *name;                 /* labels errors */
    const mlshift_read_options *opt;  /* may be NULL */
    mlshift_error *err;
    mlshift_status status;            /* of the last failure */
    unsigned char z_of[26][27];       /* symbol -> Z: [A-Z][none or a-z] */
    ms_kv_list kv;                    /* pairs of the current comment line */
    prop *props;                      /* (np,) triples of Properties */
    size_t np, cap_props;
    col *cols;                        /* (ncols,) column plan */
    size_t ncols, cap_cols;
    char *plan_key;                   /* Properties value the plan is for */
    size_t plan_len, cap_plan_key;
    int plan_valid;
    int has_forces, has_fixed, has_mask;
    int *numbers;                     /* (N,) */
    double *pos;                      /* (N, 3) Å */
    double *forces;                   /* (N, 3) eV/Å */
    unsigned char *fixed;             /* (N,) */
    unsigned char *movable;           /* (N,) move_mask T count */
    size_t cap_atoms;
    char *info;                       /* info text of the current frame */
    size_t info_len, info_cap;
} reader;

/* "NAME:LINE: message", recorded in r->status; returns s. */
mlshift_status ms_xr_fail(reader *r, mlshift_status s, size_t line,
                          const char *fmt, ...) MS_PRINTF(4, 5);
mlshift_status ms_xr_nomem(reader *r, size_t line);
/* A token shown in an error message: at most 40 bytes of it. */
static inline int ms_xr_show(size_t n) { return n > 40 ? 40 : (int)n; }
/* [+-]digits, as Python's int() (without underscores). Saturates. NULL if
 * [p, end) does not start with one. */
const char *ms_xr_parse_int(const char *p, const char *end, long long *out);
/* T/F/True/False as ASE's parse_bool; -1 if neither. */
int ms_xr_parse_bool(const char *t, size_t n);
/* The comment line [s, e) of the frame starting at `line`: fills f's
 * cell/pbc/energy (cell is f's storage), the column plan and r->info. */
mlshift_status ms_xr_parse_comment(reader *r, const char *s, const char *e,
                                   size_t line, mlshift_frame *f, double *cell);

#endif /* MLSHIFT_EXTXYZ_READER_H */
