/* SPDX-License-Identifier: MIT */
/* Fast, correctly rounded decimal text <-> double, for the text readers.
 *
 * Parsing follows Python's float() grammar for decimal numbers
 * ([+-] digits [. digits] [e [+-] digits], or [+-] . digits ...), with no
 * underscores and no hexadecimal. Clinger's fast path handles mantissas of at
 * most 19 significant digits that fit in 2^53 with |decimal exponent| <= 22:
 * both the mantissa and 10^|e| are exact doubles, so one IEEE multiply or
 * divide is the correctly rounded result. Everything else goes to strtod
 * (correctly rounded in glibc) on a copy of the token. Either way the result
 * is bit for bit what Python's float() returns for the same text. */
#ifndef MLSHIFT_NUMPARSE_H
#define MLSHIFT_NUMPARSE_H

#include <stddef.h>

/* Also accept nan, inf, infinity (any case, optional sign), as float() does. */
#define MS_NUM_SPECIAL 1

/* Parses a number starting at p (p < end). Returns the pointer just past it
 * and stores the value in *out, or NULL when p does not start a number. The
 * caller checks that what follows is a separator. Never reads at or past
 * end. Locale: strtod's, so the C locale ('.' as decimal point). */
const char *ms_parse_double(const char *p, const char *end, double *out,
                            int flags);

/* Writes the shortest of "%.15g", "%.16g", "%.17g" that reads back to
 * exactly v into buf (cap >= 32). Returns the length. */
int ms_format_double(char *buf, size_t cap, double v);

#endif /* MLSHIFT_NUMPARSE_H */
