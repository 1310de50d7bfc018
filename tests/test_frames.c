/* SPDX-License-Identifier: MIT */
/* The frames container, info strings, splits and deduplication. Expected
 * values are worked out by hand in the comments, not by the code under
 * test. */
#include <stdint.h>

#include "check.h"
#include "mlshift.h"

/* A water-like frame with natoms atoms, coordinates from a base value. */
static mlshift_frame make_frame(size_t natoms, const int *z, const double *pos,
                                const double *forces, double energy,
                                const char *info)
{
    mlshift_frame f = {0};
    f.natoms = natoms;
    f.numbers = z;
    f.positions = pos;
    f.forces = forces;
    f.flags = isnan(energy) ? 0 : MLSHIFT_HAS_ENERGY;
    f.energy = energy;
    f.info = info;
    return f;
}

static void test_append_get(void)
{
    mlshift_error err;
    mlshift_frames *fr = mlshift_frames_create();
    int z[3] = {8, 1, 1};
    double pos[9] = {0, 0, 0, 0.96, 0, 0, -0.24, 0.93, 0};
    double frc[9] = {3, 4, 0, 0, 0, 1, 0, 0, 0};
    /* 2000 frames force several reallocations of every array. */
    int appended = 0;
    for (int k = 0; k < 2000; k++) {
        double p[9];
        for (int i = 0; i < 9; i++)
            p[i] = pos[i] + k;
        char info[64];
        snprintf(info, sizeof info, "old_index=%d name=\"w %d\"", k % 7, k);
        mlshift_frame f = make_frame(3, z, p, k % 2 ? frc : NULL,
                                     k % 3 ? -10.0 - k : NAN, info);
        appended += mlshift_frames_append(fr, &f, "t", &err) == MLSHIFT_OK;
    }
    CHECK(appended == 2000, "only %d of 2000 appends succeeded", appended);
    CHECK(mlshift_frames_count(fr) == 2000, "count %zu", mlshift_frames_count(fr));
    CHECK(mlshift_frames_total_atoms(fr) == 6000, "atoms %zu",
          mlshift_frames_total_atoms(fr));
    int bad = 0;
    for (size_t k = 0; k < 2000; k++) {
        mlshift_frame f;
        mlshift_frames_get(fr, k, &f);
        bad |= f.natoms != 3 || f.numbers[0] != 8 || f.numbers[2] != 1;
        bad |= f.positions[3] != 0.96 + (double)k;
        bad |= (k % 2) != (f.forces != NULL);
        bad |= (k % 3 != 0) != ((f.flags & MLSHIFT_HAS_ENERGY) != 0);
        if (k % 3)
            bad |= f.energy != -10.0 - (double)k;
        else
            bad |= !isnan(f.energy);
        bad |= f.cell != NULL || f.fixed != NULL;
        char v[32];
        bad |= !mlshift_info_get(f.info, "name", v, sizeof v);
        char want[32];
        snprintf(want, sizeof want, "w %zu", k);
        bad |= strcmp(v, want) != 0;
    }
    CHECK(!bad, "frames read back differ from what was appended");
    CHECK(mlshift_frames_get(fr, 2000, &(mlshift_frame){0}) != MLSHIFT_OK,
          "get past the end must fail");

    /* Mean force norm: |(3,4,0)| = 5, |(0,0,1)| = 1, 0 → 6/3 = 2. */
    mlshift_frame f;
    mlshift_frames_get(fr, 1, &f);
    CHECK_CLOSE(mlshift_frame_mean_force_norm(&f), 2.0, 0, 1e-15, "mean |F|");
    mlshift_frames_get(fr, 0, &f);
    CHECK(isnan(mlshift_frame_mean_force_norm(&f)), "no forces → NaN");

    /* select keeps order and content. */
    mlshift_frames *sub = mlshift_frames_create();
    size_t idx[3] = {1999, 5, 5};
    CHECK(mlshift_frames_select(sub, fr, idx, 3, &err) == MLSHIFT_OK, "select");
    mlshift_frames_get(sub, 0, &f);
    CHECK(f.positions[0] == 1999.0 && f.forces, "select picks frame 1999");
    mlshift_frames_get(sub, 2, &f);
    CHECK(f.positions[0] == 5.0, "select picks frame 5 twice");
    size_t oob[2] = {0, 5000};
    CHECK(mlshift_frames_select(sub, fr, oob, 2, &err) == MLSHIFT_ERR_VALUE &&
          mlshift_frames_count(sub) == 3,
          "a bad index fails and leaves the target as it was");
    mlshift_frames_destroy(sub);
    mlshift_frames_destroy(fr);
}

static void test_validation(void)
{
    mlshift_error err;
    mlshift_frames *fr = mlshift_frames_create();
    int z[2] = {6, 1};
    double pos[6] = {0, 0, 0, 1, 0, 0};
    double nanpos[6] = {0, 0, 0, NAN, 0, 0};
    double inff[6] = {0, 0, INFINITY, 0, 0, 0};
    int zbad[2] = {6, 119};
    mlshift_frame f = make_frame(2, z, nanpos, NULL, 1.0, NULL);
    CHECK(mlshift_frames_append(fr, &f, "x.xyz:7", &err) == MLSHIFT_ERR_VALUE &&
          strstr(err.message, "x.xyz:7") && strstr(err.message, "atom 1"),
          "NaN position rejected with place: %s", err.message);
    f = make_frame(2, z, pos, inff, 1.0, NULL);
    CHECK(mlshift_frames_append(fr, &f, "w", &err) == MLSHIFT_ERR_VALUE,
          "infinite force rejected");
    f = make_frame(2, zbad, pos, NULL, 1.0, NULL);
    CHECK(mlshift_frames_append(fr, &f, "w", &err) == MLSHIFT_ERR_VALUE &&
          strstr(err.message, "119"), "Z = 119 rejected: %s", err.message);
    f = make_frame(2, z, pos, NULL, INFINITY, NULL);
    CHECK(mlshift_frames_append(fr, &f, "w", &err) == MLSHIFT_ERR_VALUE,
          "infinite energy rejected");
    f = make_frame(2, z, pos, NULL, 1.0, NULL);
    f.pbc[0] = 1;
    CHECK(mlshift_frames_append(fr, &f, "w", &err) == MLSHIFT_ERR_VALUE,
          "pbc without a cell rejected");
    CHECK(mlshift_frames_count(fr) == 0, "nothing was appended");
    double cell[9] = {5, 0, 0, 0, 5, 0, 0, 0, 5};
    unsigned char fixed[2] = {1, 0};
    f.cell = cell;
    f.fixed = fixed;
    CHECK(mlshift_frames_append(fr, &f, "w", &err) == MLSHIFT_OK, "periodic ok");
    mlshift_frame g;
    mlshift_frames_get(fr, 0, &g);
    CHECK(g.cell && g.cell[8] == 5.0 && g.pbc[0] == 1 && g.pbc[1] == 0 &&
          g.fixed && g.fixed[0] == 1 && (g.flags & MLSHIFT_HAS_CELL) &&
          (g.flags & MLSHIFT_HAS_FIXED), "cell, pbc and fixed flags kept");
    mlshift_frames_destroy(fr);
}

static void test_info(void)
{
    const char *info = "a=1 name=\"two words\" esc=\"say \\\"hi\\\"\" flag "
                       "arr={1 2 3} last=x";
    char v[64];
    CHECK(mlshift_info_get(info, "a", v, sizeof v) && !strcmp(v, "1"), "a");
    CHECK(mlshift_info_get(info, "name", v, sizeof v) && !strcmp(v, "two words"),
          "quoted value: '%s'", v);
    CHECK(mlshift_info_get(info, "esc", v, sizeof v) && !strcmp(v, "say \"hi\""),
          "escaped quotes: '%s'", v);
    CHECK(mlshift_info_get(info, "flag", v, sizeof v) && !strcmp(v, "T"),
          "bare key means T: '%s'", v);
    CHECK(mlshift_info_get(info, "arr", v, sizeof v) && !strcmp(v, "1 2 3"),
          "braced value: '%s'", v);
    CHECK(mlshift_info_get(info, "last", v, sizeof v) && !strcmp(v, "x"), "last");
    CHECK(!mlshift_info_get(info, "nam", v, sizeof v), "no prefix match");
    CHECK(!mlshift_info_get(info, "missing", v, sizeof v), "missing key");
    CHECK(mlshift_info_get(info, "name", v, 4) && !strcmp(v, "two"),
          "value truncated to the buffer: '%s'", v);
    CHECK(!mlshift_info_get("", "a", v, sizeof v), "empty info");
    CHECK(!mlshift_info_get(NULL, "a", v, sizeof v), "NULL info");
    CHECK(!mlshift_info_get("x=\"unterminated", "y", v, sizeof v),
          "unterminated quote does not run off");
}

static void test_split(void)
{
    mlshift_error err;
    size_t n = 1000, perm[1000], perm2[1000], c[3];
    mlshift_split_spec spec = {0.8, 0.1, -1};
    CHECK(mlshift_split(n, &spec, 42, perm, c, &err) == MLSHIFT_OK, "split");
    CHECK(c[0] == 800 && c[1] == 100 && c[2] == 100, "sizes %zu %zu %zu",
          c[0], c[1], c[2]);
    /* A permutation: every index exactly once. */
    unsigned char seen[1000] = {0};
    int perm_ok = 1;
    for (size_t i = 0; i < n; i++) {
        perm_ok &= perm[i] < n && !seen[perm[i]];
        if (perm[i] < n)
            seen[perm[i]] = 1;
    }
    CHECK(perm_ok, "split is a permutation");
    size_t fixed_points = 0;
    for (size_t i = 0; i < n; i++)
        fixed_points += perm[i] == i;
    /* A uniform shuffle has ~1 fixed point on average; 10 is p < 1e-7. */
    CHECK(fixed_points < 10, "shuffled (%zu fixed points)", fixed_points);
    mlshift_split(n, &spec, 42, perm2, c, &err);
    CHECK(!memcmp(perm, perm2, sizeof perm), "same seed, same split");
    mlshift_split(n, &spec, 43, perm2, c, &err);
    CHECK(memcmp(perm, perm2, sizeof perm) != 0, "another seed, another split");
    /* The first output of splitmix64 from state 0 is the published
     * 0xE220A8397B1DCDAF (Vigna's reference implementation); with n = 2
     * Fisher–Yates draws j = r mod 2 = 1, so the order stays (0, 1). */
    size_t p2[2];
    mlshift_split_spec all = {2, 0, 0};
    mlshift_split(2, &all, 0, p2, c, &err);
    CHECK(p2[0] == 0 && p2[1] == 1, "splitmix64 reference draw");
    mlshift_split_spec counts = {950, 50, 10};
    CHECK(mlshift_split(n, &counts, 1, perm, c, &err) == MLSHIFT_ERR_VALUE &&
          strstr(err.message, "exceed"), "too many frames asked: %s",
          err.message);
    mlshift_split_spec frac = {1.5, 0, -1};
    CHECK(mlshift_split(n, &frac, 1, perm, c, &err) == MLSHIFT_ERR_VALUE,
          "1.5 is neither a count nor a fraction");
    mlshift_split_spec cnt = {10, 5, 3};
    CHECK(mlshift_split(n, &cnt, 1, perm, c, &err) == MLSHIFT_OK &&
          c[0] == 10 && c[1] == 5 && c[2] == 3, "counts");
}

static void test_dedup(void)
{
    mlshift_error err;
    mlshift_frames *fr = mlshift_frames_create();
    int z[1] = {1};
    double pos[3] = {0, 0, 0};
    /* keys: 3 1 3 none 1 2 → keep frames 0 (3), 1 (1), 3 (none), 5 (2). */
    const char *infos[6] = {"old_index=3", "old_index=1", "old_index=3", "x=1",
                            "old_index=1", "old_index=2"};
    for (int k = 0; k < 6; k++) {
        mlshift_frame f = make_frame(1, z, pos, NULL, NAN, infos[k]);
        mlshift_frames_append(fr, &f, "t", &err);
    }
    size_t idx[6], m = 0;
    CHECK(mlshift_dedup(fr, "old_index", idx, &m, &err) == MLSHIFT_OK, "dedup");
    CHECK(m == 4 && idx[0] == 0 && idx[1] == 1 && idx[2] == 3 && idx[3] == 5,
          "dedup keeps 0 1 3 5, got %zu entries", m);
    /* Many distinct keys grow the hash set. */
    mlshift_frames *big = mlshift_frames_create();
    for (int k = 0; k < 5000; k++) {
        char info[32];
        snprintf(info, sizeof info, "old_index=%d", k % 1234);
        mlshift_frame f = make_frame(1, z, pos, NULL, NAN, info);
        mlshift_frames_append(big, &f, "t", &err);
    }
    size_t *bi = malloc(5000 * sizeof *bi);
    mlshift_dedup(big, "old_index", bi, &m, &err);
    CHECK(m == 1234 && bi[1233] == 1233, "1234 distinct keys, got %zu", m);
    free(bi);
    mlshift_frames_destroy(big);
    mlshift_frames_destroy(fr);
}

static void test_elements(void)
{
    CHECK(mlshift_element_number("H") == 1 && mlshift_element_number("Cu") == 29 &&
          mlshift_element_number("Og") == 118, "symbol → Z");
    CHECK(!mlshift_element_number("Xx") && !mlshift_element_number("") &&
          !mlshift_element_number("cu") && !mlshift_element_number("Cuu") &&
          !mlshift_element_number(NULL), "unknown symbols give 0");
    CHECK(!strcmp(mlshift_element_symbol(79), "Au") && !mlshift_element_symbol(0) &&
          !mlshift_element_symbol(119), "Z → symbol");
    CHECK_CLOSE(mlshift_element_mass(6), 12.011, 0, 1e-12, "mass of C");
    CHECK(mlshift_element_mass(0) == 0.0, "no mass for Z = 0");
    CHECK(!strcmp(mlshift_status_string(MLSHIFT_ERR_FORMAT), "malformed input"),
          "status string");
}

int main(void)
{
    test_append_get();
    test_validation();
    test_info();
    test_split();
    test_dedup();
    test_elements();
    return check_done();
}
