/* SPDX-License-Identifier: MIT */
/* kernels.inc compiled for double (name_f64) and for float (name_f32). */
#include "kernels.h"

#include <math.h>

#include "bcast.h" /* last: its vectoriser pragma covers this file only */

#define T double
#define FN(x) x##_f64
#define EXP exp
#define LOG log
#define SQRT sqrt
#define SIN sin
#define COS cos
#define TANH tanh
#define POW pow
#include "kernels.inc"
#undef T
#undef FN
#undef EXP
#undef LOG
#undef SQRT
#undef SIN
#undef COS
#undef TANH
#undef POW

#define T float
#define FN(x) x##_f32
#define EXP expf
#define LOG logf
#define SQRT sqrtf
#define SIN sinf
#define COS cosf
#define TANH tanhf
#define POW powf
#include "kernels.inc"
