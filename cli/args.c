/* SPDX-License-Identifier: MIT */
/* Argument scanning and strict number parsing for the command line. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "cli_mpi.h"

char *cli_escape(const char *s, char *buf, size_t cap)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (; *s && o + 1 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        /* C0 controls (ESC drives a terminal) and DEL; UTF-8 (Å) passes. */
        if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f) {
            if (o + 5 > cap)
                break;
            buf[o++] = '\\', buf[o++] = 'x';
            buf[o++] = hex[c >> 4], buf[o++] = hex[c & 15];
        } else {
            buf[o++] = (char)c;
        }
    }
    if (cap)
        buf[o] = '\0';
    return buf;
}

/* Messages quote files and values from untrusted input: escaped. */
int cli_fail(const char *fmt, ...)
{
    char msg[8192], esc[8192 + 64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    char line[sizeof esc + 16];
    snprintf(line, sizeof line, "mlshift: %s\n", cli_escape(msg, esc, sizeof esc));
    if (!cli_mpi_hold_message(line)) /* MPI: one rank prints (cli/mpi.c) */
        fputs(line, stderr);
    return CLI_ERROR;
}

int cli_flag(cli_args *a, const char *name)
{
    return strcmp(a->argv[a->i], name) == 0;
}

int cli_value(cli_args *a, const char *name, const char **val)
{
    const char *arg = a->argv[a->i];
    size_t n = strlen(name);
    if (strncmp(arg, name, n) != 0)
        return 0;
    if (arg[n] == '=') {
        *val = arg + n + 1;
        return 1;
    }
    if (arg[n] != '\0')
        return 0;
    if (a->i + 1 >= a->argc) {
        cli_fail("%s: option %s needs a value", a->cmd, name);
        a->bad = 1;
        return 0;
    }
    *val = a->argv[++a->i];
    return 1;
}

int cli_parse_double(const char *opt, const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || errno || !isfinite(v)) {
        cli_fail("%s: '%s' is not a number", opt, s);
        return -1;
    }
    *out = v;
    return 0;
}

int cli_parse_u64(const char *opt, const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    if (*s == '-') {
        cli_fail("%s: '%s' must not be negative", opt, s);
        return -1;
    }
    unsigned long long v = strtoull(s, &end, 10);
    if (end == s || *end || errno) {
        cli_fail("%s: '%s' is not a non-negative integer", opt, s);
        return -1;
    }
    *out = (uint64_t)v;
    return 0;
}

/* "A:B:K" (linspace) or "R1,R2,…" into a malloc'ed array. */
int cli_parse_radii(const char *s, double **out, size_t *k)
{
    *out = NULL;
    *k = 0;
    if (strchr(s, ':')) {
        double a, b, kk;
        char tail;
        if (sscanf(s, "%lf:%lf:%lf%c", &a, &b, &kk, &tail) != 3 || kk < 1 ||
            kk != floor(kk))
            return cli_fail("--radii: '%s' is not A:B:K (K a count >= 1)", s);
        if (kk > 10000)
            return cli_fail("--radii: '%s': K = %.0f trial radii is more than "
                            "the 10000 allowed", s, kk);
        *k = (size_t)kk;
        *out = malloc(*k * sizeof **out);
        if (!*out)
            return cli_fail("out of memory");
        for (size_t i = 0; i < *k; i++) /* numpy.linspace's formula */
            (*out)[i] = *k == 1 ? a : a + (b - a) * (double)i / (double)(*k - 1);
        if (*k > 1)
            (*out)[*k - 1] = b;
        return 0;
    }
    size_t cap = 1;
    for (const char *p = s; *p; p++)
        cap += *p == ',';
    *out = malloc(cap * sizeof **out);
    char *buf = malloc(strlen(s) + 1);
    if (!*out || !buf) {
        free(buf);
        return cli_fail("out of memory");
    }
    strcpy(buf, s);
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ","))
        if (cli_parse_double("--radii", tok, &(*out)[(*k)++])) {
            free(buf);
            return CLI_ERROR;
        }
    free(buf);
    return 0;
}

double cli_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

void cli_json_num(FILE *fp, double v)
{
    if (isfinite(v))
        fprintf(fp, "%.17g", v);
    else
        fputs("null", fp);
}

void cli_json_string(FILE *fp, const char *s)
{
    fputc('"', fp);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(fp, "\\%c", c);
        else if (c < 0x20)
            fprintf(fp, "\\u%04x", c);
        else
            fputc(c, fp);
    }
    fputc('"', fp);
}

int cli_dtype_parse(const char *cmd, const char *s, mlshift_dtype *dt)
{
    if (s && strcmp(s, "float32") == 0)
        *dt = MLSHIFT_FLOAT32;
    else if (s && strcmp(s, "float64") == 0)
        *dt = MLSHIFT_FLOAT64;
    else
        return cli_fail("%s: --dtype %s: use float32 or float64", cmd, s ? s : "(none)");
    return CLI_OK;
}
