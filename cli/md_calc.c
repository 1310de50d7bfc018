/* SPDX-License-Identifier: MIT */
/* The calculator options and start frame of md, relax and pes. */
#include <string.h>

#include "md_calc.h"

int md_calc_option(cli_args *a, md_calc_opts *o)
{
    const char *v;
    if (cli_value(a, "--model", &o->model) || cli_value(a, "--head", &o->head) ||
        cli_value(a, "--prior", &o->prior) || cli_value(a, "--dtype", &o->dtype))
        return 1;
    if (cli_value(a, "--radius", &v)) {
        if (cli_parse_double("--radius", v, &o->radius))
            return -1;
        if (!(o->radius > 0))
            return cli_fail("%s: --radius must be > 0", a->cmd), -1;
        return 1;
    }
    return a->bad ? -1 : 0;
}

int md_calc_check(const char *cmd, const md_calc_opts *o)
{
    if (!o->model == !o->prior)
        return cli_fail("%s: give exactly one of --model M and --prior SPEC", cmd);
    if (o->prior && (o->head || o->radius != 0 || o->dtype))
        return cli_fail("%s: --head, --radius and --dtype go with --model, not --prior", cmd);
    mlshift_dtype dt;
    if (o->dtype && cli_dtype_parse(cmd, o->dtype, &dt))
        return CLI_ERROR;
    if (o->head && strcmp(o->head, "main") && strcmp(o->head, "prior"))
        return cli_fail("%s: --head %s: main or prior", cmd, o->head);
    return CLI_OK;
}

int md_calc_open(const md_calc_opts *o, md_calc *c)
{
    mlshift_error err;
    memset(c, 0, sizeof *c);
    if (o->prior ? mlshift_prior_create(o->prior, &c->prior, &err)
                 : mlshift_model_load(o->model, &c->model, &err))
        return cli_fail("%s", err.message);
    if (c->model && o->dtype && !strcmp(o->dtype, "float32"))
        mlshift_model_set_dtype(c->model, MLSHIFT_FLOAT32);
    c->calc.prior = c->prior;
    c->calc.model = c->model;
    c->calc.head = o->head && !strcmp(o->head, "prior") ? MLSHIFT_HEAD_PRIOR
                                                         : MLSHIFT_HEAD_MAIN;
    c->calc.cutoff = o->radius;
    return CLI_OK;
}

void md_calc_close(md_calc *c)
{
    mlshift_prior_destroy(c->prior);
    mlshift_model_destroy(c->model);
    memset(c, 0, sizeof *c);
}

int md_load_frame(const char *cmd, const char *path, uint64_t index,
                  mlshift_frames **fr, mlshift_frame *f)
{
    mlshift_error err;
    if (!(*fr = mlshift_frames_create()))
        return cli_fail("out of memory");
    if (mlshift_read(*fr, path, NULL, &err))
        return cli_fail("%s", err.message);
    size_t n = mlshift_frames_count(*fr);
    if (index >= n)
        return cli_fail("%s: --frame %llu: %s holds %zu frame%s", cmd,
                        (unsigned long long)index, path, n, n == 1 ? "" : "s");
    mlshift_frames_get(*fr, (size_t)index, f);
    return CLI_OK;
}

int md_calc_args(int argc, char **argv, const char *cmd, const char *help,
                 int (*option)(cli_args *a, void *o), void *o, const char **start)
{
    cli_args a = {argc, 1, argv, cmd, 0};
    for (; a.i < argc; a.i++) {
        if (cli_flag(&a, "--help") || cli_flag(&a, "-h")) {
            fputs(help, stdout);
            return 1;
        }
        int r = option(&a, o);
        if (r < 0 || a.bad)
            return CLI_ERROR;
        if (r)
            continue;
        const char *arg = argv[a.i];
        if (arg[0] == '-' && arg[1])
            return cli_fail("%s: unknown option '%s' (see mlshift %s --help)", cmd, arg, cmd);
        if (*start)
            return cli_fail("%s: one START file only ('%s' and '%s')", cmd, *start, arg);
        *start = arg;
    }
    return CLI_OK;
}

int md_calc_positive_option(cli_args *a, const char *cmd, const md_calc_positive *t, size_t n)
{
    const char *v;
    for (size_t k = 0; k < n; k++)
        if (cli_value(a, t[k].name, &v)) {
            if (cli_parse_double(t[k].name, v, t[k].dst))
                return -1;
            if (!(*t[k].dst > 0))
                return cli_fail("%s: %s must be > 0", cmd, t[k].name), -1;
            return 1;
        }
    return 0;
}
