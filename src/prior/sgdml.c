/* SPDX-License-Identifier: MIT */
/* The sGDML prior: the predictor and the model files.
 *
 * Descriptor: x_k = 1/|r_i − r_j| over the pairs i > j in tril order. With
 * d = x − P_p x_b, u = √5|d|/σ, c0 = 5/(3σ²) and w_bp = P_p(J_b α_b):
 *
 *   E(x) = −y_std Σ_{b,p} c0 (1 + u) e^{−u} (d·w_bp) + c
 *   F(x) = y_std Jᵀ Σ_{b,p} c0 e^{−u} [(1 + u) w_bp − (5/σ²)(d·w_bp) d]
 *
 * and F = −∇E exactly (d/dd of (1+u)e^{−u} is −(5/σ²) e^{−u} d). The BLAS
 * path stacks Z = [P x_b − x̄; P w_b] (2Q, D) once (centred on the mean x̄);
 * a call is one dgemv for Z·x' with x' = x − x̄ (giving |d|² = |x'|² −
 * 2 x'·X'_r + |X'_r|² and d·w = x'·w − X'_r·w), the scalar coefficients,
 * and one transposed dgemv for v = Σ a w + (5/σ²)(Σ b X'_r − (Σ b) x'). docs/priors-sgdml.md has the
 * derivation and the file format. */
#include "sgdml.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/util.h"
#include "../io/npy.h"
#include "prior.h"

void ms_sgdml_model_free(ms_sgdml_model *mo)
{
    free(mo->z);
    free(mo->perms);
    free(mo->x);
    free(mo->w);
    memset(mo, 0, sizeof *mo);
}

mlshift_status ms_sgdml_model_alloc(ms_sgdml_model *mo, mlshift_error *err)
{
    size_t md = (size_t)mo->m * (size_t)mo->d;
    mo->z = calloc((size_t)mo->n, sizeof *mo->z);
    mo->perms = calloc((size_t)mo->p * (size_t)mo->n, sizeof *mo->perms);
    mo->x = malloc((md ? md : 1) * sizeof *mo->x);
    mo->w = malloc((md ? md : 1) * sizeof *mo->w);
    if (!mo->z || !mo->perms || !mo->x || !mo->w) {
        ms_sgdml_model_free(mo);
        return ms_fail(err, MLSHIFT_ERR_NOMEM, "sgdml: out of memory for a "
                       "model of %d training points", mo->m);
    }
    return MLSHIFT_OK;
}

mlshift_status ms_sgdml_model_check(const ms_sgdml_model *mo, const char *name,
                                    mlshift_error *err)
{
    if (mo->n < 2 || mo->d != mo->n * (mo->n - 1) / 2 || mo->m < 1 ||
        mo->p < 1 || mo->p > MS_SGDML_MAX_PERMS)
        return ms_fail(err, MLSHIFT_ERR_FORMAT, "%s: inconsistent sizes "
                       "(atoms %d, descriptor %d, points %d, perms %d)", name,
                       mo->n, mo->d, mo->m, mo->p);
    if (!(mo->sigma > 0) || !isfinite(mo->sigma) || !isfinite(mo->c) ||
        !(mo->y_std > 0) || !isfinite(mo->y_std))
        return ms_fail(err, MLSHIFT_ERR_VALUE, "%s: bad sigma %g, c %g or "
                       "y_std %g", name, mo->sigma, mo->c, mo->y_std);
    for (int i = 0; i < mo->n; i++)
        if (!mlshift_element_symbol(mo->z[i]))
            return ms_fail(err, MLSHIFT_ERR_VALUE, "%s: atom %d has unknown "
                           "atomic number %d", name, i, mo->z[i]);
    char seen[4096];
    if (mo->n > (int)sizeof seen)
        return ms_fail(err, MLSHIFT_ERR_UNSUPPORTED, "%s: %d atoms (at most "
                       "%zu)", name, mo->n, sizeof seen);
    for (int p = 0; p < mo->p; p++) {
        const int *pm = mo->perms + (size_t)p * mo->n;
        memset(seen, 0, (size_t)mo->n);
        for (int i = 0; i < mo->n; i++) {
            if (pm[i] < 0 || pm[i] >= mo->n || seen[pm[i]])
                return ms_fail(err, MLSHIFT_ERR_FORMAT, "%s: permutation %d "
                               "is not a permutation of %d atoms", name, p,
                               mo->n);
            seen[pm[i]] = 1;
            if (mo->z[pm[i]] != mo->z[i])
                return ms_fail(err, MLSHIFT_ERR_FORMAT, "%s: permutation %d "
                               "maps atom %d (Z=%d) to atom %d (Z=%d)", name,
                               p, i, mo->z[i], pm[i], mo->z[pm[i]]);
        }
    }
    size_t md = (size_t)mo->m * (size_t)mo->d;
    for (size_t k = 0; k < md; k++)
        if (!isfinite(mo->x[k]) || !isfinite(mo->w[k]))
            return ms_fail(err, MLSHIFT_ERR_VALUE, "%s: training point %zu "
                           "has a non-finite descriptor or coefficient", name,
                           k / (size_t)mo->d);
    return MLSHIFT_OK;
}

/* ------------------------------------------------------------ descriptor */

int ms_sgdml_desc(int n, const double *r, double *x, double *rd)
{
    int k = 0;
    for (int i = 1; i < n; i++) {
        for (int j = 0; j < i; j++, k++) {
            double dx = r[3 * i] - r[3 * j], dy = r[3 * i + 1] - r[3 * j + 1];
            double dz = r[3 * i + 2] - r[3 * j + 2];
            double d2 = dx * dx + dy * dy + dz * dz;
            if (!(d2 > 0) || !isfinite(d2))
                return -1;
            double inv = 1.0 / sqrt(d2), inv3 = inv * inv * inv;
            x[k] = inv;
            rd[3 * k] = dx * inv3;
            rd[3 * k + 1] = dy * inv3;
            rd[3 * k + 2] = dz * inv3;
        }
    }
    return 0;
}

void ms_sgdml_jt(int n, const double *rd, const double *v, double *g)
{
    int k = 0;
    for (int i = 1; i < n; i++) {
        for (int j = 0; j < i; j++, k++) {
            for (int c = 0; c < 3; c++) {
                double t = v[k] * rd[3 * k + c];
                g[3 * i + c] -= t;
                g[3 * j + c] += t;
            }
        }
    }
}

static int pair_index(int i, int j)
{
    if (i < j) {
        int t = i;
        i = j;
        j = t;
    }
    return i * (i - 1) / 2 + j;
}

void ms_sgdml_desc_perms(int n, int p, const int *perms, int *pi)
{
    int d = n * (n - 1) / 2;
    for (int q = 0; q < p; q++) {
        const int *pm = perms + (size_t)q * n;
        int k = 0;
        for (int i = 1; i < n; i++)
            for (int j = 0; j < i; j++, k++)
                pi[(size_t)q * d + k] = pair_index(pm[i], pm[j]);
    }
}

/* ------------------------------------------------------------- predictor */

void ms_sgdml_pred_free(ms_sgdml_pred *pr)
{
    free(pr->xp);
    free(pr->dw0);
    memset(pr, 0, sizeof *pr);
}

mlshift_status ms_sgdml_pred_init(ms_sgdml_pred *pr, const ms_sgdml_model *mo,
                                  mlshift_error *err)
{
    memset(pr, 0, sizeof *pr);
    size_t d = (size_t)mo->d, q = (size_t)mo->m * (size_t)mo->p;
    pr->mo = mo;
    pr->q = q;
    pr->xp = malloc(3 * q * d * sizeof *pr->xp);
    pr->dw0 = malloc((2 * q + 2 * q + d + 3 * d + d + d) * sizeof *pr->dw0);
    int *pi = malloc((size_t)mo->p * d * sizeof *pi);
    if (!pr->xp || !pr->dw0 || !pi) {
        free(pi);
        ms_sgdml_pred_free(pr);
        return ms_fail(err, MLSHIFT_ERR_NOMEM, "sgdml: out of memory for the "
                       "predictor (%zu permuted points of %zu)", q, d);
    }
    pr->xc = pr->xp + q * d;
    pr->wp = pr->xc + q * d;
    pr->xx = pr->dw0 + q;
    pr->s = pr->xx + q;
    pr->xq = pr->s + 2 * q;
    pr->rd = pr->xq + d;
    pr->v = pr->rd + 3 * d;
    pr->xm = pr->v + d;
    ms_sgdml_desc_perms(mo->n, mo->p, mo->perms, pi);
    memset(pr->xm, 0, d * sizeof *pr->xm);
    for (size_t b = 0; b < (size_t)mo->m; b++) {
        const double *xb = mo->x + b * d, *wb = mo->w + b * d;
        for (size_t p = 0; p < (size_t)mo->p; p++) {
            size_t row = b * (size_t)mo->p + p;
            double *xr = pr->xp + row * d, *wr = pr->wp + row * d;
            const int *pp = pi + p * d;
            for (size_t k = 0; k < d; k++) {
                xr[k] = xb[pp[k]];
                wr[k] = wb[pp[k]];
                pr->xm[k] += xr[k] / (double)q;
            }
        }
    }
    /* centred copies for the BLAS path: |d|² and d·w lose less to
     * cancellation when x and P x_b are both near the mean */
    for (size_t row = 0; row < q; row++) {
        double *xr = pr->xc + row * d, *wr = pr->wp + row * d;
        double xx = 0, xw = 0;
        for (size_t k = 0; k < d; k++) {
            xr[k] = pr->xp[row * d + k] - pr->xm[k];
            xx += xr[k] * xr[k];
            xw += xr[k] * wr[k];
        }
        pr->xx[row] = xx;
        pr->dw0[row] = xw;
    }
    free(pi);
    return MLSHIFT_OK;
}

int ms_sgdml_predict(ms_sgdml_pred *pr, const double *r, double *e, double *f)
{
    const ms_sgdml_model *mo = pr->mo;
    int n = mo->n, d = mo->d;
    size_t q = pr->q;
    double *x = pr->xq, *s = pr->s, *v = pr->v;
    if (ms_sgdml_desc(n, r, x, pr->rd))
        return -1;
    double sig = mo->sigma, c0 = 5.0 / (3.0 * sig * sig), g = 5.0 / (sig * sig);
    double sq5s = sqrt(5.0) / sig;
    for (int k = 0; k < d; k++)
        x[k] -= pr->xm[k];      /* centred, as the rows of xc */
    /* s[0..Q) = (P x_b − x̄)·(x − x̄), s[Q..2Q) = P w_b · (x − x̄) */
    cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)(2 * q), d, 1.0, pr->xc, d,
                x, 1, 0.0, s, 1);
    double x2 = cblas_ddot(d, x, 1, x, 1);
    double en = 0, bsum = 0;
    for (size_t i = 0; i < q; i++) {
        double dd = x2 - 2.0 * s[i] + pr->xx[i];
        double u = sq5s * sqrt(dd > 0 ? dd : 0);
        double ex = exp(-u);
        double dw = s[q + i] - pr->dw0[i];
        double a = c0 * (1.0 + u) * ex, b = c0 * ex * dw;
        en += a * dw;
        bsum += b;
        s[i] = g * b;           /* multiplies P x_b */
        s[q + i] = a;           /* multiplies P w_b */
    }
    *e = -mo->y_std * en + mo->c;
    if (f) {
        cblas_dgemv(CblasRowMajor, CblasTrans, (int)(2 * q), d, 1.0, pr->xc,
                    d, s, 1, 0.0, v, 1);
        cblas_daxpy(d, -g * bsum, x, 1, v, 1);
        cblas_dscal(d, mo->y_std, v, 1);
        memset(f, 0, (size_t)n * 3 * sizeof *f);
        ms_sgdml_jt(n, pr->rd, v, f);
    }
    return 0;
}

int ms_sgdml_predict_ref(ms_sgdml_pred *pr, const double *r, double *e,
                         double *f)
{
    const ms_sgdml_model *mo = pr->mo;
    int n = mo->n, d = mo->d;
    double *x = pr->xq, *v = pr->v, *dv = pr->s; /* s has 2Q ≥ D entries */
    if (ms_sgdml_desc(n, r, x, pr->rd))
        return -1;
    double sig = mo->sigma, c0 = 5.0 / (3.0 * sig * sig), g = 5.0 / (sig * sig);
    memset(v, 0, (size_t)d * sizeof *v);
    long double en = 0;   /* E is a sum of large cancelling terms */
    for (size_t i = 0; i < pr->q; i++) {
        const double *xr = pr->xp + i * d, *wr = pr->wp + i * d;
        double dd = 0, dw = 0;
        for (int k = 0; k < d; k++) {
            dv[k] = x[k] - xr[k];
            dd += dv[k] * dv[k];
            dw += dv[k] * wr[k];
        }
        double u = sqrt(5.0 * dd) / sig, ex = exp(-u);
        en += (long double)(c0 * (1.0 + u) * ex * dw);
        for (int k = 0; k < d; k++)
            v[k] += c0 * ex * ((1.0 + u) * wr[k] - g * dw * dv[k]);
    }
    *e = -mo->y_std * (double)en + mo->c;
    if (f) {
        for (int k = 0; k < d; k++)
            v[k] *= mo->y_std;
        memset(f, 0, (size_t)n * 3 * sizeof *f);
        ms_sgdml_jt(n, pr->rd, v, f);
    }
    return 0;
}

/* ------------------------------------------------------------ npz models */

static mlshift_status npz_array(ms_npz *z, const char *key, int ndim_max,
                                ms_npy *a, double **out, mlshift_error *err)
{
    mlshift_status s = ms_npz_get(z, key, a, err);
    if (s != MLSHIFT_OK)
        return s;
    if (a->ndim > ndim_max) {
        char sh[128];
        ms_npy_shape_str(a, sh, sizeof sh);
        ms_npy_free(a);
        return ms_fail(err, MLSHIFT_ERR_FORMAT, "%s:%s: unexpected shape %s",
                       z->name, key, sh);
    }
    *out = malloc((a->count ? a->count : 1) * sizeof **out);
    if (!*out) {
        ms_npy_free(a);
        return ms_fail(err, MLSHIFT_ERR_NOMEM, "%s:%s: out of memory",
                       z->name, key);
    }
    s = ms_npy_to_double(a, *out, err);
    if (s != MLSHIFT_OK) {
        free(*out);
        *out = NULL;
        ms_npy_free(a);
    }
    return s;
}

/* The model from an open npz z (closed here); path labels errors. */
static mlshift_status load_npz(ms_sgdml_model *mo, ms_npz *z, const char *path,
                               mlshift_error *err)
{
    mlshift_status s = MLSHIFT_OK;
    ms_npy az = {0}, ax = {0}, aw = {0}, ap = {0}, a1 = {0};
    double *dz = NULL, *dx = NULL, *dw = NULL, *dp = NULL, *d1 = NULL;
    int old = ms_npz_has(z, "Rt_desc");
    const char *kx = old ? "Rt_desc" : "R_desc";
    const char *kw = old ? "Rt_d_desc_alpha" : "R_d_desc_alpha";
    if ((s = npz_array(z, "z", 1, &az, &dz, err)) ||
        (s = npz_array(z, kx, 2, &ax, &dx, err)) ||
        (s = npz_array(z, kw, 3, &aw, &dw, err)) ||
        (s = npz_array(z, "perms", 2, &ap, &dp, err)))
        goto done;
    int n = (int)az.count, dd = n * (n - 1) / 2;
    /* descriptors (D, M); coefficients (M, D) or (M, D, 1) */
    if (az.ndim != 1 || n < 2 || ax.ndim != 2 || ax.shape[0] != (size_t)dd ||
        aw.ndim < 2 || aw.shape[0] != ax.shape[1] || aw.shape[1] != (size_t)dd ||
        (aw.ndim == 3 && aw.shape[2] != 1) || ap.ndim != 2 ||
        ap.shape[1] != (size_t)n || ap.shape[0] < 1) {
        char s1[64], s2[64], s3[64];
        ms_npy_shape_str(&ax, s1, sizeof s1);
        ms_npy_shape_str(&aw, s2, sizeof s2);
        ms_npy_shape_str(&ap, s3, sizeof s3);
        s = ms_fail(err, MLSHIFT_ERR_FORMAT, "%s: inconsistent shapes: z (%zu,),"
                    " %s %s, %s %s, perms %s", path, az.count, kx, s1, kw, s2,
                    s3);
        goto done;
    }
    mo->n = n;
    mo->d = dd;
    mo->m = (int)ax.shape[1];
    mo->p = (int)ap.shape[0];
    if (mo->p > MS_SGDML_MAX_PERMS) {
        s = ms_fail(err, MLSHIFT_ERR_UNSUPPORTED, "%s: %d permutations (at most"
                    " %d)", path, mo->p, MS_SGDML_MAX_PERMS);
        goto done;
    }
    if ((s = ms_sgdml_model_alloc(mo, err)))
        goto done;
    double sig = NAN, c = NAN, ystd = 1.0;
    if ((s = npz_array(z, "sig", 0, &a1, &d1, err)))
        goto done;
    sig = d1[0];
    ms_npy_free(&a1);
    free(d1);
    d1 = NULL;
    if ((s = npz_array(z, "c", 0, &a1, &d1, err)))
        goto done;
    c = d1[0];
    ms_npy_free(&a1);
    free(d1);
    d1 = NULL;
    if (ms_npz_has(z, "std")) {
        if ((s = npz_array(z, "std", 0, &a1, &d1, err)))
            goto done;
        ystd = d1[0];
        ms_npy_free(&a1);
        free(d1);
        d1 = NULL;
    }
    mo->sigma = sig;
    mo->c = c;
    mo->y_std = ystd;
    /* 1-based atom indices in the 2018 files, 0-based later */
    double pmin = 1e300;
    for (size_t k = 0; k < ap.count; k++)
        pmin = dp[k] < pmin ? dp[k] : pmin;
    int base = pmin >= 1.0 ? 1 : 0;
    for (int i = 0; i < n; i++)
        mo->z[i] = (int)dz[i] == dz[i] ? (int)dz[i] : -1;
    for (size_t k = 0; k < ap.count; k++)
        mo->perms[k] = dp[k] == floor(dp[k]) && fabs(dp[k]) < 1e6
                           ? (int)dp[k] - base : -1;
    size_t m = (size_t)mo->m;
    for (size_t b = 0; b < m; b++)
        for (size_t k = 0; k < (size_t)dd; k++) {
            mo->x[b * dd + k] = dx[k * m + b];
            mo->w[b * dd + k] = -dw[b * dd + k];   /* α_code = −α */
        }
    s = ms_sgdml_model_check(mo, path, err);
    if (s == MLSHIFT_OK && ms_npz_has(z, "tril_perms_lin")) {
        /* cross-check: tril_perms_lin (D, P) holds p·D + π_p(k) */
        if ((s = npz_array(z, "tril_perms_lin", 1, &a1, &d1, err)))
            goto done;
        int *pi = malloc((size_t)mo->p * dd * sizeof *pi);
        if (!pi) {
            s = ms_fail(err, MLSHIFT_ERR_NOMEM, "%s: out of memory", path);
            goto done;
        }
        ms_sgdml_desc_perms(n, mo->p, mo->perms, pi);
        int bad = a1.count != (size_t)mo->p * dd;
        for (size_t k = 0; !bad && k < (size_t)dd; k++)
            for (size_t p = 0; !bad && p < (size_t)mo->p; p++)
                bad = d1[k * mo->p + p] != (double)(p * dd + pi[p * dd + k]);
        free(pi);
        if (bad)
            s = ms_fail(err, MLSHIFT_ERR_FORMAT, "%s: tril_perms_lin does not "
                        "match perms", path);
    }
done:
    if (s != MLSHIFT_OK)
        ms_sgdml_model_free(mo);
    ms_npy_free(&az);
    ms_npy_free(&ax);
    ms_npy_free(&aw);
    ms_npy_free(&ap);
    ms_npy_free(&a1);
    free(dz);
    free(dx);
    free(dw);
    free(dp);
    free(d1);
    ms_npz_close(z);
    return s;
}

mlshift_status ms_sgdml_load_npz(ms_sgdml_model *mo, const char *path,
                                 mlshift_error *err)
{
    memset(mo, 0, sizeof *mo);
    ms_npz z;
    mlshift_status s = ms_npz_open(&z, path, err);
    return s != MLSHIFT_OK ? s : load_npz(mo, &z, path, err);
}

/* ---------------------------------------------------------- our own file */

/* Little-endian layout (docs/priors-sgdml.md):
 *   magic[8] "MLSGDML\n", u32 version, u32 N, u32 M, u32 P, u32 0,
 *   f64 sigma, f64 c, f64 y_std, i32 z[N], i32 perms[P·N],
 *   f64 x[M·D], f64 w[M·D], u64 FNV-1a of everything before it. */
#define HDR_SIZE 52

static uint64_t fnv1a(const unsigned char *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    return h;
}

static void put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}
static void put_u32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}
static void put_f64(unsigned char *p, double v)
{
    uint64_t u;
    memcpy(&u, &v, 8);
    put_u64(p, u);
}
static uint64_t get_u64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}
static uint32_t get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}
static double get_f64(const unsigned char *p)
{
    uint64_t u = get_u64(p);
    double v;
    memcpy(&v, &u, 8);
    return v;
}

static size_t file_size(size_t n, size_t m, size_t p)
{
    size_t d = n * (n - 1) / 2;
    return HDR_SIZE + 4 * (n + p * n) + 16 * m * d + 8;
}

mlshift_status ms_sgdml_save(const ms_sgdml_model *mo, const char *path,
                             mlshift_error *err)
{
    size_t n = (size_t)mo->n, m = (size_t)mo->m, np = (size_t)mo->p;
    size_t d = (size_t)mo->d, len = file_size(n, m, np);
    unsigned char *buf = malloc(len), *q = buf;
    if (!buf)
        return ms_fail(err, MLSHIFT_ERR_NOMEM, "%s: out of memory (%zu bytes)",
                       path, len);
    memcpy(q, MS_SGDML_MAGIC, 8);
    put_u32(q + 8, MS_SGDML_VERSION);
    put_u32(q + 12, (uint32_t)n);
    put_u32(q + 16, (uint32_t)m);
    put_u32(q + 20, (uint32_t)np);
    put_u32(q + 24, 0);
    put_f64(q + 28, mo->sigma);
    put_f64(q + 36, mo->c);
    put_f64(q + 44, mo->y_std);
    q += HDR_SIZE;
    for (size_t i = 0; i < n; i++, q += 4)
        put_u32(q, (uint32_t)mo->z[i]);
    for (size_t i = 0; i < np * n; i++, q += 4)
        put_u32(q, (uint32_t)mo->perms[i]);
    for (size_t i = 0; i < m * d; i++, q += 8)
        put_f64(q, mo->x[i]);
    for (size_t i = 0; i < m * d; i++, q += 8)
        put_f64(q, mo->w[i]);
    put_u64(q, fnv1a(buf, len - 8));
    ms_atomic_file af;
    mlshift_status s = ms_atomic_open(&af, path, err);
    if (s == MLSHIFT_OK) {
        if (fwrite(buf, 1, len, af.fp) != len) {
            ms_atomic_abort(&af);
            s = ms_fail(err, MLSHIFT_ERR_IO, "%s: write failed", path);
        } else {
            s = ms_atomic_commit(&af, err);
        }
    }
    free(buf);
    return s;
}

static mlshift_status load_ours(ms_sgdml_model *mo, const char *path,
                                const unsigned char *b, size_t len,
                                mlshift_error *err)
{
    memset(mo, 0, sizeof *mo);
    if (len < HDR_SIZE + 8)
        return ms_fail(err, MLSHIFT_ERR_FORMAT, "%s: truncated sGDML model "
                       "(%zu bytes)", path, len);
    uint32_t ver = get_u32(b + 8);
    if (ver != MS_SGDML_VERSION)
        return ms_fail(err, MLSHIFT_ERR_UNSUPPORTED, "%s: sGDML model file "
                       "version %u (this build reads version %u)", path, ver,
                       MS_SGDML_VERSION);
    uint32_t n = get_u32(b + 12), m = get_u32(b + 16), np = get_u32(b + 20);
    if (n < 2 || n > 4096 || m < 1 || m > (1u << 24) || np < 1 ||
        np > MS_SGDML_MAX_PERMS || get_u32(b + 24) != 0)
        return ms_fail(err, MLSHIFT_ERR_FORMAT, "%s: corrupt header (atoms %u,"
                       " points %u, perms %u)", path, n, m, np);
    size_t want = file_size(n, m, np);
    if (len != want)
        return ms_fail(err, MLSHIFT_ERR_FORMAT, "%s: %zu bytes, expected %zu "
                       "for %u atoms, %u points, %u perms (truncated or "
                       "corrupt)", path, len, want, n, m, np);
    if (!MS_CHECKSUM_OK(fnv1a(b, len - 8), get_u64(b + len - 8)))
        return ms_fail(err, MLSHIFT_ERR_FORMAT, "%s: checksum mismatch "
                       "(corrupt file)", path);
    mo->n = (int)n;
    mo->m = (int)m;
    mo->p = (int)np;
    mo->d = mo->n * (mo->n - 1) / 2;
    mlshift_status s = ms_sgdml_model_alloc(mo, err);
    if (s != MLSHIFT_OK)
        return s;
    mo->sigma = get_f64(b + 28);
    mo->c = get_f64(b + 36);
    mo->y_std = get_f64(b + 44);
    const unsigned char *q = b + HDR_SIZE;
    for (size_t i = 0; i < n; i++, q += 4)
        mo->z[i] = (int32_t)get_u32(q);
    for (size_t i = 0; i < (size_t)np * n; i++, q += 4)
        mo->perms[i] = (int32_t)get_u32(q);
    size_t md = (size_t)m * (size_t)mo->d;
    for (size_t i = 0; i < md; i++, q += 8)
        mo->x[i] = get_f64(q);
    for (size_t i = 0; i < md; i++, q += 8)
        mo->w[i] = get_f64(q);
    s = ms_sgdml_model_check(mo, path, err);
    if (s != MLSHIFT_OK)
        ms_sgdml_model_free(mo);
    return s;
}

mlshift_status ms_sgdml_load(ms_sgdml_model *mo, const char *path,
                             mlshift_error *err)
{
    memset(mo, 0, sizeof *mo);
    char *data;
    size_t len;
    mlshift_status s = ms_read_file(path, &data, &len, err);
    if (s != MLSHIFT_OK)
        return s;
    s = ms_sgdml_parse(mo, (const unsigned char *)data, len, path, err);
    free(data);
    return s;
}

mlshift_status ms_sgdml_parse(ms_sgdml_model *mo, const unsigned char *data,
                              size_t len, const char *name, mlshift_error *err)
{
    memset(mo, 0, sizeof *mo);
    if (len >= 8 && !memcmp(data, MS_SGDML_MAGIC, 8))
        return load_ours(mo, name, data, len, err);
    if (!(len >= 4 && !memcmp(data, "PK\003\004", 4)))
        return ms_fail(err, MLSHIFT_ERR_FORMAT, "%s: not an sGDML model (neither"
                       " an mlshift sGDML file nor an sGDML .npz)", name);
    ms_npz z;
    mlshift_status s = ms_npz_open_memory(&z, data, len, name, err);
    return s != MLSHIFT_OK ? s : load_npz(mo, &z, name, err);
}

/* ----------------------------------------------------------------- prior */

typedef struct sgdml_prior {
    ms_sgdml_model mo;
    ms_sgdml_pred pr;
    double *fbuf;       /* (N, 3) forces when only the virial is asked for */
    char path[1024];
} sgdml_prior;

static mlshift_status sgdml_compute(void *self, const mlshift_frame *f,
                                    double *energy, double *forces,
                                    double *virial, mlshift_error *err)
{
    sgdml_prior *sp = self;
    const ms_sgdml_model *mo = &sp->mo;
    if (f->natoms != (size_t)mo->n)
        return ms_fail(err, MLSHIFT_ERR_VALUE, "prior sgdml:%s: the structure "
                       "has %zu atoms, the model %d", sp->path, f->natoms,
                       mo->n);
    for (int i = 0; i < mo->n; i++)
        if (f->numbers[i] != mo->z[i])
            return ms_fail(err, MLSHIFT_ERR_VALUE, "prior sgdml:%s: atom %d is"
                           " Z=%d, the model expects Z=%d (same atoms in the "
                           "same order)", sp->path, i, f->numbers[i], mo->z[i]);
    double e;
    double *fk = forces ? forces : virial ? sp->fbuf : NULL;
    if (ms_sgdml_predict(&sp->pr, f->positions, &e, fk))
        return ms_fail(err, MLSHIFT_ERR_VALUE, "prior sgdml:%s: two atoms "
                       "coincide or a coordinate is not finite", sp->path);
    *energy = e / MLSHIFT_KCALMOL_PER_EV;
    if (fk) {
        for (size_t k = 0; k < 3 * f->natoms; k++)
            fk[k] /= MLSHIFT_KCALMOL_PER_EV;
        if (virial) {
            /* W = −Σ r ⊗ ∂E/∂r = Σ r ⊗ F */
            for (int a = 0; a < 3; a++)
                for (int b = 0; b < 3; b++) {
                    double t = 0;
                    for (size_t i = 0; i < f->natoms; i++)
                        t += f->positions[3 * i + a] * fk[3 * i + b];
                    virial[3 * a + b] = t;
                }
        }
    }
    return MLSHIFT_OK;
}

static void sgdml_destroy(void *self)
{
    sgdml_prior *sp = self;
    ms_sgdml_pred_free(&sp->pr);
    ms_sgdml_model_free(&sp->mo);
    free(sp->fbuf);
    free(sp);
}

static const ms_prior_ops sgdml_ops = {
    "sgdml", MLSHIFT_PRIOR_VIRIAL, sgdml_compute, sgdml_destroy,
};

mlshift_status ms_prior_sgdml_create(const char *args, mlshift_prior *p,
                                     mlshift_error *err)
{
    if (!args || !*args)
        return ms_fail(err, MLSHIFT_ERR_VALUE, "prior sgdml: give the model "
                       "file, sgdml:MODEL");
    sgdml_prior *sp = calloc(1, sizeof *sp);
    if (!sp)
        return ms_fail(err, MLSHIFT_ERR_NOMEM, "prior sgdml: out of memory");
    snprintf(sp->path, sizeof sp->path, "%s", args);
    mlshift_status s = ms_sgdml_load(&sp->mo, args, err);
    if (s == MLSHIFT_OK) {
        s = ms_sgdml_pred_init(&sp->pr, &sp->mo, err);
        sp->fbuf = malloc(3 * (size_t)sp->mo.n * sizeof *sp->fbuf);
        if (s == MLSHIFT_OK && !sp->fbuf)
            s = ms_fail(err, MLSHIFT_ERR_NOMEM, "prior sgdml: out of memory");
    }
    if (s != MLSHIFT_OK) {
        ms_sgdml_pred_free(&sp->pr);
        ms_sgdml_model_free(&sp->mo);
        free(sp->fbuf);
        free(sp);
        return s;
    }
    p->ops = &sgdml_ops;
    p->self = sp;
    return MLSHIFT_OK;
}
