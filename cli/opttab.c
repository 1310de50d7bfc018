/* SPDX-License-Identifier: MIT */
/* Option tables (cli/opttab.h). */
#include "opttab.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int set(const cli_opt *o, const char *val, const char *cmd, const char *where)
{
    if (o->type == OPT_STR) {
        *(const char **)o->ptr = val;
        return 0;
    }
    if (o->type == OPT_FLAG) {
        if (!val || !strcmp(val, "1") || !strcmp(val, "true") || !strcmp(val, "yes"))
            *(int *)o->ptr = 1;
        else if (!strcmp(val, "0") || !strcmp(val, "false") || !strcmp(val, "no"))
            *(int *)o->ptr = 0;
        else
            return cli_fail("%s: %s%s: '%s' is not true or false", cmd, where, o->name, val);
        return 0;
    }
    char *end;
    errno = 0;
    double x = strtod(val, &end);
    while (end && isspace((unsigned char)*end))
        end++;
    if (end == val || *end || errno == ERANGE || !isfinite(x))
        return cli_fail("%s: %s%s: '%s' is not a number", cmd, where, o->name, val);
    int integral = o->type != OPT_DBL;
    if ((integral && x != floor(x)) || x < o->lo || x > o->hi || (o->lo_open && x <= o->lo)) {
        if (integral)
            return cli_fail("%s: %s%s: '%s' must be an integer in [%.17g, %.17g]", cmd, where,
                            o->name, val, o->lo_open ? o->lo + 1 : o->lo, o->hi);
        return cli_fail("%s: %s%s: %s must be in %c%g, %g]", cmd, where, o->name, val,
                        o->lo_open ? '(' : '[', o->lo, o->hi);
    }
    switch (o->type) {
    case OPT_DBL: *(double *)o->ptr = x; break;
    case OPT_SIZE: *(size_t *)o->ptr = (size_t)x; break;
    case OPT_INT: *(int *)o->ptr = (int)x; break;
    case OPT_U64: *(uint64_t *)o->ptr = (uint64_t)x; break;
    default: break;
    }
    return 0;
}

int cli_opt_match(cli_args *a, const cli_opt *t, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        const char *v = NULL;
        if (t[k].type == OPT_FLAG) {
            if (cli_flag(a, t[k].name))
                return set(&t[k], NULL, a->cmd, "") ? -1 : 1;
            continue;
        }
        if (cli_value(a, t[k].name, &v))
            return set(&t[k], v, a->cmd, "") ? -1 : 1;
        if (a->bad)
            return -1;
    }
    return 0;
}

int cli_opt_config(const char *path, const cli_opt *t, size_t n, const char *cmd)
{
    FILE *fp = fopen(path, "r");
    if (!fp)
        return cli_fail("%s: --config %s: %s", cmd, path, strerror(errno));
    static char lines[64][512];     /* values stay valid for the command's life */
    char buf[512];
    int ln = 0, used = 0, rc = 0;
    while (!rc && fgets(buf, sizeof buf, fp)) {
        ln++;
        char *h = strchr(buf, '#');
        if (h)
            *h = 0;
        char *s = buf;
        while (isspace((unsigned char)*s))
            s++;
        size_t l = strlen(s);
        while (l && isspace((unsigned char)s[l - 1]))
            s[--l] = 0;
        if (!*s)
            continue;
        char *eq = strchr(s, '=');
        char *key = s, *val = NULL;
        if (eq) {
            *eq = 0;
            val = eq + 1;
            while (isspace((unsigned char)*val))
                val++;
            size_t kl = strlen(key);
            while (kl && isspace((unsigned char)key[kl - 1]))
                key[--kl] = 0;
        }
        char where[600];
        snprintf(where, sizeof where, "%s line %d: ", path, ln);
        const cli_opt *o = NULL;
        for (size_t k = 0; k < n && !o; k++)
            if (!strcmp(t[k].name + 2, key))
                o = &t[k];
        if (!o) {
            rc = cli_fail("%s: %sunknown key '%s'", cmd, where, key);
        } else if (!val && o->type != OPT_FLAG) {
            rc = cli_fail("%s: %s'%s' needs '= value'", cmd, where, key);
        } else if (used >= 64) {
            rc = cli_fail("%s: %smore than 64 keys", cmd, where);
        } else {
            if (val) {
                snprintf(lines[used], sizeof lines[used], "%s", val);
                val = lines[used++];
            }
            rc = set(o, val, cmd, where) ? CLI_ERROR : 0;
        }
    }
    fclose(fp);
    return rc;
}
