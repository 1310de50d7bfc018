/* SPDX-License-Identifier: MIT */
/* Which OpenBLAS kernels run. OpenBLAS (DYNAMIC_ARCH, as Debian builds it)
 * picks them once, when it is loaded, from the CPU, or from
 * OPENBLAS_CORETYPE where the environment pins them; the speed of every
 * GEMM here depends on it (on this machine, pinned to "Haswell": SGEMM 107
 * GFLOP/s at n = 512 on one thread; its own choice, "Cooperlake", 208), so
 * `mlshift --version` and the bench lines say which. */
#include "mlshift.h"

/* OpenBLAS's own, exported by libopenblas (the build links it). */
char *openblas_get_corename(void);

const char *mlshift_blas_core(void)
{
    const char *c = openblas_get_corename();
    return c ? c : "unknown";
}
