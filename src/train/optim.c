/* SPDX-License-Identifier: MIT */
/* SGD/Adam/AdamW steps on a masked flat parameter array, gradient clipping,
 * EMA of the weights, ReduceLROnPlateau and the serialised state. The update
 * rules (and their torch equivalents) are derived in optim.h; each loop
 * below writes them in torch's order of operations, so that float64 results
 * agree with torch.optim to a few ulps (written as Debian 12's torch 1.13
 * does; torch ≥ 2.0 forms the first moment with lerp_, equal but for the
 * last bit):
 *   mul_(β).add_(g, alpha=c)  m·β + c·g
 *   addcmul_(g, g, value=c)   v + (c·g)·g
 *   addcdiv_(m, d, value=s)   θ + (s·m)/d
 * An entry with mask 0 is skipped by every loop: never read, never written. */
#include "optim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "core/util.h"

#define SEL(mask, i) (!(mask) || (mask)[i])

void ms_optim_config_default(ms_optim_config *c, ms_opt_kind kind)
{
    memset(c, 0, sizeof *c);
    c->kind = kind;
    c->lr = 1e-3;
    c->momentum = 0.0;
    c->beta1 = 0.9;
    c->beta2 = 0.999;
    c->eps = 1e-8;
    c->amsgrad = 0;
    c->weight_decay = 0.0;
    c->clip_norm = 0.0;
    c->ema_decay = 0.0;
}

/* ------------------------------------------------------------ validation */

static mlshift_status bad(mlshift_error *err, const char *field, const char *rule,
                          double got)
{
    return ms_fail(err, MLSHIFT_ERR_VALUE, "optimizer: %s must be %s (got %g)", field,
                   rule, got);
}

static mlshift_status validate(const ms_optim_config *c, mlshift_error *err)
{
    if (c->kind != MS_OPT_SGD && c->kind != MS_OPT_ADAM && c->kind != MS_OPT_ADAMW)
        return ms_fail(err, MLSHIFT_ERR_VALUE,
                       "optimizer: kind must be sgd, adam or adamw (got %d)", (int)c->kind);
    if (!(c->lr > 0) || !isfinite(c->lr))
        return bad(err, "lr", "> 0", c->lr);
    if (!(c->momentum >= 0) || !isfinite(c->momentum))
        return bad(err, "momentum", ">= 0", c->momentum);
    if (!(c->beta1 >= 0 && c->beta1 < 1))
        return bad(err, "beta1", "in [0, 1)", c->beta1);
    if (!(c->beta2 >= 0 && c->beta2 < 1))
        return bad(err, "beta2", "in [0, 1)", c->beta2);
    if (!(c->eps >= 0) || !isfinite(c->eps))
        return bad(err, "eps", ">= 0", c->eps);
    if (c->amsgrad != 0 && c->amsgrad != 1)
        return ms_fail(err, MLSHIFT_ERR_VALUE, "optimizer: amsgrad must be 0 or 1 (got %d)",
                       c->amsgrad);
    if (!(c->weight_decay >= 0) || !isfinite(c->weight_decay))
        return bad(err, "weight_decay", ">= 0", c->weight_decay);
    if (!(c->clip_norm >= 0) || !isfinite(c->clip_norm))
        return bad(err, "clip_norm", ">= 0 (0 = off)", c->clip_norm);
    if (!(c->ema_decay >= 0 && c->ema_decay < 1))
        return bad(err, "ema_decay", "in [0, 1) (0 = off)", c->ema_decay);
    return MLSHIFT_OK;
}

/* ------------------------------------------------------------ lifetime */

/* Points m, v, vmax, ema into o->state (or at NULL) from the config; returns
 * the number of doubles needed. */
static size_t layout(ms_optim *o, double *base)
{
    size_t P = o->P, n = 0;
    int adam = o->c.kind != MS_OPT_SGD;
    o->m = base ? base + n : NULL;
    n += P;
    o->v = adam && base ? base + n : NULL;
    n += adam ? P : 0;
    o->vmax = adam && o->c.amsgrad && base ? base + n : NULL;
    n += adam && o->c.amsgrad ? P : 0;
    o->ema = o->c.ema_decay > 0 && base ? base + n : NULL;
    n += o->c.ema_decay > 0 ? P : 0;
    return n;
}

mlshift_status ms_optim_init(ms_optim *o, const ms_optim_config *c, size_t P,
                             const double *theta, mlshift_error *err)
{
    memset(o, 0, sizeof *o);
    mlshift_status s = validate(c, err);
    if (s != MLSHIFT_OK)
        return s;
    if (c->ema_decay > 0 && !theta && P > 0)
        return ms_fail(err, MLSHIFT_ERR_VALUE,
                       "optimizer: ema_decay > 0 needs the initial weights");
    o->c = *c;
    o->P = P;
    size_t n = layout(o, NULL);
    if (n > 0) {
        if (n > SIZE_MAX / sizeof(double))
            return ms_fail(err, MLSHIFT_ERR_NOMEM, "optimizer: %zu parameters: out of memory", P);
        o->state = calloc(n, sizeof(double));
        if (!o->state) {
            memset(o, 0, sizeof *o);
            return ms_fail(err, MLSHIFT_ERR_NOMEM, "optimizer: %zu parameters: out of memory", P);
        }
    }
    o->n_state = n;
    layout(o, o->state);
    if (o->ema && P > 0)
        memcpy(o->ema, theta, P * sizeof(double));
    return MLSHIFT_OK;
}

void ms_optim_free(ms_optim *o)
{
    free(o->state);
    memset(o, 0, sizeof *o);
}

void ms_optim_set_lr(ms_optim *o, double lr)
{
    o->c.lr = lr;
}

/* ------------------------------------------------------------ the step */

/* L2 norm of the masked gradient; clips it in place as clip_grad_norm_. */
static double clip(const ms_optim *o, double *grad, const unsigned char *mask)
{
    double ss = 0.0;
    for (size_t i = 0; i < o->P; i++)
        if (SEL(mask, i))
            ss += grad[i] * grad[i];
    double norm = sqrt(ss);
    if (o->c.clip_norm > 0) {
        double coef = o->c.clip_norm / (norm + 1e-6);
        if (coef < 1.0)
            for (size_t i = 0; i < o->P; i++)
                if (SEL(mask, i))
                    grad[i] *= coef;
    }
    return norm;
}

static void sgd_step(ms_optim *o, double *theta, const double *grad,
                     const unsigned char *mask)
{
    const double lr = o->c.lr, wd = o->c.weight_decay, mu = o->c.momentum;
    double *m = o->m; // (P)
    for (size_t i = 0; i < o->P; i++) {
        if (!SEL(mask, i))
            continue;
        double d = wd != 0 ? grad[i] + wd * theta[i] : grad[i];
        if (mu != 0) {
            m[i] = mu * m[i] + d; /* = d at the first step, as torch's clone */
            d = m[i];
        }
        theta[i] += -lr * d;
    }
}

static void adam_step(ms_optim *o, double *theta, const double *grad,
                      const unsigned char *mask)
{
    const double lr = o->c.lr, wd = o->c.weight_decay;
    const double b1 = o->c.beta1, b2 = o->c.beta2, eps = o->c.eps;
    const int decoupled = o->c.kind == MS_OPT_ADAMW;
    const double step = (double)o->t;
    const double step_size = lr / (1.0 - pow(b1, step));
    const double bc2_sqrt = sqrt(1.0 - pow(b2, step));
    double *m = o->m, *v = o->v, *vmax = o->vmax; // (P) each; vmax may be NULL
    for (size_t i = 0; i < o->P; i++) {
        if (!SEL(mask, i))
            continue;
        double d = grad[i];
        if (decoupled)
            theta[i] *= 1.0 - lr * wd;
        else if (wd != 0)
            d += wd * theta[i];
        m[i] = m[i] * b1 + (1.0 - b1) * d;
        v[i] = v[i] * b2 + ((1.0 - b2) * d) * d;
        double vv = v[i];
        if (vmax) {
            vmax[i] = fmax(vmax[i], v[i]);
            vv = vmax[i];
        }
        double denom = sqrt(vv) / bc2_sqrt + eps;
        theta[i] += (-step_size * m[i]) / denom;
    }
}

/* e ← e − (1−d)(e − θ), d = min(decay, (1+t)/(10+t)): the OCP EMA. */
static void ema_update(ms_optim *o, const double *theta, const unsigned char *mask)
{
    const double n = (double)o->t;
    const double d = fmin(o->c.ema_decay, (1.0 + n) / (10.0 + n));
    const double one_minus_d = 1.0 - d;
    double *e = o->ema; // (P)
    for (size_t i = 0; i < o->P; i++)
        if (SEL(mask, i))
            e[i] -= one_minus_d * (e[i] - theta[i]);
}

double ms_optim_step(ms_optim *o, double *theta, double *grad, const unsigned char *mask)
{
    double norm = clip(o, grad, mask);
    o->t++;
    if (o->c.kind == MS_OPT_SGD)
        sgd_step(o, theta, grad, mask);
    else
        adam_step(o, theta, grad, mask);
    if (o->ema)
        ema_update(o, theta, mask);
    return norm;
}

void ms_optim_swap_ema(ms_optim *o, double *theta, const unsigned char *mask)
{
    if (!o->ema)
        return;
    for (size_t i = 0; i < o->P; i++) {
        if (!SEL(mask, i))
            continue;
        double x = theta[i];
        theta[i] = o->ema[i];
        o->ema[i] = x;
    }
}

/* ------------------------------------------------------------ plateau */

void ms_plateau_init(ms_plateau *p, double factor, int patience, double min_lr)
{
    p->factor = factor;
    p->patience = patience;
    p->threshold = 1e-4;
    p->min_lr = min_lr;
    p->best = INFINITY;
    p->num_bad = 0;
}

double ms_plateau_step(ms_plateau *p, double metric, double lr)
{
    if (metric < p->best * (1.0 - p->threshold)) {
        p->best = metric;
        p->num_bad = 0;
    } else {
        p->num_bad++;
    }
    if (p->num_bad > p->patience) {
        double new_lr = fmax(lr * p->factor, p->min_lr);
        if (lr - new_lr > 1e-8)
            lr = new_lr;
        p->num_bad = 0;
    }
    return lr;
}

/* ------------------------------------------------------------ checkpoint state */

#define OPT_MAGIC "MSOPTIM1"
#define OPT_VERSION 1u
/* magic, 3 × u32, 8 × f64, 3 × u64, state, u32 CRC */
#define OPT_HEADER (8 + 3 * 4 + 8 * 8 + 3 * 8)

size_t ms_optim_state_bytes(const ms_optim *o)
{
    return OPT_HEADER + o->n_state * 8 + 4;
}

static unsigned char *put_u32(unsigned char *p, uint32_t x)
{
    for (int k = 0; k < 4; k++)
        p[k] = (unsigned char)(x >> (8 * k));
    return p + 4;
}

static unsigned char *put_u64(unsigned char *p, uint64_t x)
{
    for (int k = 0; k < 8; k++)
        p[k] = (unsigned char)(x >> (8 * k));
    return p + 8;
}

static unsigned char *put_f64(unsigned char *p, double x)
{
    uint64_t u;
    memcpy(&u, &x, 8);
    return put_u64(p, u);
}

static uint32_t get_u32(const unsigned char **p)
{
    uint32_t x = 0;
    for (int k = 0; k < 4; k++)
        x |= (uint32_t)(*p)[k] << (8 * k);
    *p += 4;
    return x;
}

static uint64_t get_u64(const unsigned char **p)
{
    uint64_t x = 0;
    for (int k = 0; k < 8; k++)
        x |= (uint64_t)(*p)[k] << (8 * k);
    *p += 8;
    return x;
}

static double get_f64(const unsigned char **p)
{
    uint64_t u = get_u64(p);
    double x;
    memcpy(&x, &u, 8);
    return x;
}

static uint32_t crc(const unsigned char *buf, size_t n)
{
    uLong c = crc32(0L, Z_NULL, 0);
    while (n > 0) { /* zlib takes uInt lengths */
        uInt k = n > 0x40000000u ? 0x40000000u : (uInt)n;
        c = crc32(c, buf, k);
        buf += k;
        n -= k;
    }
    return (uint32_t)c;
}

mlshift_status ms_optim_save(const ms_optim *o, unsigned char *buf)
{
    if (!buf)
        return MLSHIFT_ERR_VALUE;
    unsigned char *p = buf;
    memcpy(p, OPT_MAGIC, 8);
    p += 8;
    p = put_u32(p, OPT_VERSION);
    p = put_u32(p, (uint32_t)o->c.kind);
    p = put_u32(p, (uint32_t)o->c.amsgrad);
    const double f[8] = {o->c.lr, o->c.momentum, o->c.beta1, o->c.beta2,
                         o->c.eps, o->c.weight_decay, o->c.clip_norm, o->c.ema_decay};
    for (int k = 0; k < 8; k++)
        p = put_f64(p, f[k]);
    p = put_u64(p, o->t);
    p = put_u64(p, (uint64_t)o->P);
    p = put_u64(p, (uint64_t)o->n_state);
    for (size_t i = 0; i < o->n_state; i++)
        p = put_f64(p, o->state[i]);
    put_u32(p, crc(buf, (size_t)(p - buf)));
    return MLSHIFT_OK;
}

static const char *kind_name(uint32_t k)
{
    return k == MS_OPT_SGD ? "sgd" : k == MS_OPT_ADAM ? "adam" : k == MS_OPT_ADAMW ? "adamw" : "?";
}

mlshift_status ms_optim_restore(ms_optim *o, const unsigned char *buf, size_t len,
                                mlshift_error *err)
{
    const char *w = "optimizer state";
    if (len < OPT_HEADER + 4 || memcmp(buf, OPT_MAGIC, 8) != 0)
        return ms_fail(err, MLSHIFT_ERR_FORMAT, "%s: not an optimizer state (%zu bytes)", w, len);
    const unsigned char *p = buf + 8;
    uint32_t version = get_u32(&p);
    if (version != OPT_VERSION)
        return ms_fail(err, MLSHIFT_ERR_UNSUPPORTED, "%s: version %u, this build reads %u", w,
                       (unsigned)version, OPT_VERSION);
    if (len != ms_optim_state_bytes(o))
        return ms_fail(err, MLSHIFT_ERR_FORMAT,
                       "%s: %zu bytes, this optimizer's state is %zu (P = %zu)", w, len,
                       ms_optim_state_bytes(o), o->P);
    const unsigned char *tail = buf + len - 4;
    if (get_u32(&tail) != crc(buf, len - 4))
        return ms_fail(err, MLSHIFT_ERR_FORMAT, "%s: checksum mismatch (corrupted)", w);
    ms_optim_config c = o->c;
    uint32_t kind = get_u32(&p), ams = get_u32(&p);
    if (kind != (uint32_t)o->c.kind)
        return ms_fail(err, MLSHIFT_ERR_VALUE, "%s: saved by %s, restoring into %s", w,
                       kind_name(kind), kind_name((uint32_t)o->c.kind));
    c.amsgrad = (int)ams;
    c.lr = get_f64(&p);
    c.momentum = get_f64(&p);
    c.beta1 = get_f64(&p);
    c.beta2 = get_f64(&p);
    c.eps = get_f64(&p);
    c.weight_decay = get_f64(&p);
    c.clip_norm = get_f64(&p);
    c.ema_decay = get_f64(&p);
    uint64_t t = get_u64(&p), P = get_u64(&p), n_state = get_u64(&p);
    if (P != (uint64_t)o->P)
        return ms_fail(err, MLSHIFT_ERR_VALUE, "%s: %llu parameters, this model has %zu", w,
                       (unsigned long long)P, o->P);
    mlshift_status s = validate(&c, err);
    if (s != MLSHIFT_OK)
        return s;
    if ((c.amsgrad != 0) != (o->vmax != NULL) && c.kind != MS_OPT_SGD)
        return ms_fail(err, MLSHIFT_ERR_VALUE, "%s: amsgrad %s in the state, %s here", w,
                       c.amsgrad ? "on" : "off", o->vmax ? "on" : "off");
    if ((c.ema_decay > 0) != (o->ema != NULL))
        return ms_fail(err, MLSHIFT_ERR_VALUE, "%s: EMA %s in the state, %s here", w,
                       c.ema_decay > 0 ? "on" : "off", o->ema ? "on" : "off");
    if (n_state != (uint64_t)o->n_state)
        return ms_fail(err, MLSHIFT_ERR_FORMAT, "%s: %llu state values, expected %zu", w,
                       (unsigned long long)n_state, o->n_state);
    o->c = c;
    o->t = t;
    for (size_t i = 0; i < o->n_state; i++)
        o->state[i] = get_f64(&p);
    return MLSHIFT_OK;
}

int ms_opt_kind_parse(const char *name)
{
    return !strcmp(name, "sgd")     ? MS_OPT_SGD
           : !strcmp(name, "adam")  ? MS_OPT_ADAM
           : !strcmp(name, "adamw") ? MS_OPT_ADAMW
                                    : -1;
}
