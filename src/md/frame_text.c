/* SPDX-License-Identifier: MIT */
/* One MD frame as extxyz text in a buffer, so the caller writes it with one
 * fwrite and a killed run never leaves half a frame:
 *
 *     N
 *     [Lattice="…"] Properties=species:S:1:pos:R:3:velocities:R:3:momenta:R:3:forces:R:3
 *         energy=E kinetic_energy=K total_energy=E+K temperature=T
 *         time_fs=t step=k pbc="F F F"
 *     Sym x y z vx vy vz px py pz fx fy fz
 *
 * velocities in Å/fs; momenta m·v in ASE's units (amu·Å per ASE time unit,
 * MLSHIFT_FS_PER_ASE_TIME fs), so ASE reads them with set_momenta and
 * get_velocities() is ASE's; energy (the potential energy) and forces go to
 * ASE's SinglePointCalculator. Numbers are the shortest decimal that reads
 * back to the same double (numparse.c), so a frame restarts a run exactly. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/util.h"
#include "../io/numparse.h"
#include "md.h"

typedef struct sink {
    char **buf;
    size_t *cap, len;
    int bad;
} sink;

static void put(sink *s, const char *t, size_t n)
{
    if (s->bad)
        return;
    if (ms_grow((void **)s->buf, s->cap, s->len + n + 1, 1)) {
        s->bad = 1;
        return;
    }
    memcpy(*s->buf + s->len, t, n);
    s->len += n;
    (*s->buf)[s->len] = '\0';
}

static void puts_(sink *s, const char *t) { put(s, t, strlen(t)); }

static void num(sink *s, const char *before, double v)
{
    char b[48];
    int n = ms_format_double(b, sizeof b, v);
    puts_(s, before);
    put(s, b, (size_t)n);
}

mlshift_status mlshift_md_frame_extxyz(const mlshift_md *md, char **buf,
                                       size_t *cap, size_t *len,
                                       mlshift_error *err)
{
    return mlshift_md_frame_extxyz_info(md, NULL, buf, cap, len, err);
}

mlshift_status mlshift_md_frame_extxyz_info(const mlshift_md *md,
                                            const char *extra, char **buf,
                                            size_t *cap, size_t *len,
                                            mlshift_error *err)
{
    mlshift_md_state st;
    mlshift_md_get_state(md, &st);
    sink s = {buf, cap, 0, 0};
    char line[64];
    snprintf(line, sizeof line, "%zu\n", st.natoms);
    puts_(&s, line);
    if (st.cell) {
        puts_(&s, "Lattice=\"");
        for (int k = 0; k < 9; k++)
            num(&s, k ? " " : "", st.cell[k]);
        puts_(&s, "\" ");
    }
    puts_(&s, "Properties=species:S:1:pos:R:3:velocities:R:3:momenta:R:3:forces:R:3");
    num(&s, " energy=", st.potential);
    num(&s, " kinetic_energy=", st.kinetic);
    num(&s, " total_energy=", st.potential + st.kinetic);
    num(&s, " temperature=", st.temperature);
    num(&s, " time_fs=", st.time_fs);
    snprintf(line, sizeof line, " step=%llu pbc=\"%c %c %c\"",
             (unsigned long long)st.step, st.pbc[0] ? 'T' : 'F',
             st.pbc[1] ? 'T' : 'F', st.pbc[2] ? 'T' : 'F');
    puts_(&s, line);
    if (extra && *extra) {
        if (strchr(extra, '\n'))
            return ms_fail(err, MLSHIFT_ERR_VALUE, "md: extra frame info holds a "
                           "newline");
        puts_(&s, " ");
        puts_(&s, extra);
    }
    puts_(&s, "\n");
    for (size_t i = 0; i < st.natoms; i++) {
        const char *sym = mlshift_element_symbol(st.numbers[i]);
        snprintf(line, sizeof line, "%-2s", sym ? sym : "X");
        puts_(&s, line);
        const double *x = st.positions + 3 * i, *v = st.velocities + 3 * i,
                     *f = st.forces + 3 * i;
        for (int k = 0; k < 3; k++)
            num(&s, " ", x[k]);
        for (int k = 0; k < 3; k++)
            num(&s, " ", v[k]);
        for (int k = 0; k < 3; k++)
            num(&s, " ", st.masses[i] * v[k] * MLSHIFT_FS_PER_ASE_TIME);
        for (int k = 0; k < 3; k++)
            num(&s, " ", f[k]);
        puts_(&s, "\n");
    }
    if (s.bad)
        return ms_fail(err, MLSHIFT_ERR_NOMEM, "md: out of memory formatting a "
                       "frame");
    *len = s.len;
    return MLSHIFT_OK;
}
