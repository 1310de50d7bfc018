/* SPDX-License-Identifier: MIT */
/* mlshift_output_*: the library's atomic output file (a temporary beside
 * the path, renamed into place on commit; see mlshift_outputs_begin) for
 * callers that write their own text, such as the command line's CSV and
 * JSON. */
#include <stdlib.h>

#include "../core/util.h"

struct mlshift_output {
    ms_atomic_file af;
};

mlshift_status mlshift_output_open(const char *path, mlshift_output **out,
                                   FILE **fp, mlshift_error *err)
{
    *out = NULL;
    *fp = NULL;
    mlshift_output *o = malloc(sizeof *o);
    if (!o)
        return ms_fail(err, MLSHIFT_ERR_NOMEM, "%s: out of memory",
                       path ? path : "output");
    mlshift_status st = ms_atomic_open(&o->af, path, err);
    if (st != MLSHIFT_OK) {
        free(o);
        return st;
    }
    *out = o;
    *fp = o->af.fp;
    return MLSHIFT_OK;
}

mlshift_status mlshift_output_commit(mlshift_output *o, mlshift_error *err)
{
    if (!o)
        return ms_fail(err, MLSHIFT_ERR_VALUE, "output: none open");
    mlshift_status st = ms_atomic_commit(&o->af, err);
    free(o);
    return st;
}

void mlshift_output_abort(mlshift_output *o)
{
    if (!o)
        return;
    ms_atomic_abort(&o->af);
    free(o);
}
