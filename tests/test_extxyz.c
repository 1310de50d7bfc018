/* SPDX-License-Identifier: MIT */
/* Extended XYZ reader and writer: hand-written texts (quoting, escapes, bare
 * keys, Lattice/pbc defaults, plain xyz, species as numbers, key choice),
 * every malformed-input error with its file and line, exact write→read round
 * trips, the number parser against strtod, and the real data files.
 *
 * Modes for tests/reference/test_extxyz_ase.py:
 *   test_extxyz --roundtrip IN OUT [STATS]   read IN, write OUT; STATS gets
 *       one line per frame: natoms energy mean_force_norm n_fixed
 *   test_extxyz --write-extra OUT            a small set with extras */
#include <stdint.h>

#include "check.h"
#include "mlshift.h"
#include "io/extxyz.h"
#include "io/numparse.h"

static const char *const NAME = "bad.xyz";

static mlshift_status parse_n(mlshift_frames *fr, const char *s, size_t n,
                              const mlshift_read_options *opt,
                              mlshift_error *err)
{
    return mlshift_parse_extxyz(fr, s, n, NAME, opt, err);
}

static mlshift_status parse(mlshift_frames *fr, const char *s,
                            const mlshift_read_options *opt, mlshift_error *err)
{
    return parse_n(fr, s, strlen(s), opt, err);
}

static int info_is(const mlshift_frame *f, const char *key, const char *want)
{
    char v[256];
    return mlshift_info_get(f->info, key, v, sizeof v) && strcmp(v, want) == 0;
}

/* ------------------------------------------------------- good inputs */

static void test_basic(void)
{
    const char *s =
        "2\n"
        "Lattice=\"1.5 0 0 0 2 0 0.25 0 3\" "
        "Properties=species:S:1:pos:R:3:forces:R:3 energy=-1.5 "
        "name=\"two words\" esc=\"a \\\"q\\\" b\" flag pbc=\"T F T\" n=7\n"
        "H 0.1 0.2 0.3 1 2 3\n"
        "O\t1e-3  -2.5E+1 .5   -1 -2 -3.75\n";
    mlshift_error err = {0};
    mlshift_frames *fr = mlshift_frames_create();
    mlshift_status st = parse(fr, s, NULL, &err);
    CHECK(st == MLSHIFT_OK, "basic: %s", err.message);
    CHECK(mlshift_frames_count(fr) == 1, "basic: frames");
    mlshift_frame f;
    if (st == MLSHIFT_OK && mlshift_frames_get(fr, 0, &f) == MLSHIFT_OK) {
        CHECK(f.natoms == 2 && f.numbers[0] == 1 && f.numbers[1] == 8,
              "basic: species");
        const double pos[6] = {0.1, 0.2, 0.3, 1e-3, -2.5E+1, .5};
        const double frc[6] = {1, 2, 3, -1, -2, -3.75};
        const double cell[9] = {1.5, 0, 0, 0, 2, 0, 0.25, 0, 3};
        CHECK(memcmp(f.positions, pos, sizeof pos) == 0, "basic: positions");
        CHECK(f.forces && memcmp(f.forces, frc, sizeof frc) == 0,
              "basic: forces");
        CHECK(f.cell && memcmp(f.cell, cell, sizeof cell) == 0,
              "basic: cell rows are a, b, c");
        CHECK(f.pbc[0] == 1 && f.pbc[1] == 0 && f.pbc[2] == 1, "basic: pbc");
        CHECK((f.flags & MLSHIFT_HAS_ENERGY) && f.energy == -1.5,
              "basic: energy");
        CHECK(!(f.flags & MLSHIFT_HAS_FIXED) && !f.fixed, "basic: no fixed");
        CHECK(info_is(&f, "name", "two words"), "basic: quoted value: %s",
              f.info);
        CHECK(info_is(&f, "esc", "a \"q\" b"), "basic: escapes: %s", f.info);
        CHECK(info_is(&f, "flag", "T"), "basic: bare key is True: %s", f.info);
        CHECK(info_is(&f, "n", "7"), "basic: bare value: %s", f.info);
        CHECK(!mlshift_info_get(f.info, "Lattice", NULL, 0) &&
              !mlshift_info_get(f.info, "Properties", NULL, 0) &&
              !mlshift_info_get(f.info, "pbc", NULL, 0) &&
              !mlshift_info_get(f.info, "energy", NULL, 0),
              "basic: special keys are not info: %s", f.info);
    }
    mlshift_frames_destroy(fr);
}

/* ASE's splitter: blanks around '=', {…} […] '…' delimiters, repeated keys
 * (last wins), '=' inside a value. Expected values worked out by hand from
 * key_val_str_to_dict. */
static void test_quoting(void)
{
    const char *s =
        "1\n"
        "a = 1 b= 2 c =3 d={x y} e=[1, 2] f='it is' g=u=v h=\"\" a=9 "
        "k\\ ey=5 Properties=species:S:1:pos:R:3 z=\"\"\n"
        "C 0 0 0\n";
    mlshift_error err = {0};
    mlshift_frames *fr = mlshift_frames_create();
    mlshift_status st = parse(fr, s, NULL, &err);
    CHECK(st == MLSHIFT_OK, "quoting: %s", err.message);
    mlshift_frame f;
    if (st == MLSHIFT_OK && mlshift_frames_get(fr, 0, &f) == MLSHIFT_OK) {
        CHECK(info_is(&f, "a", "1"), "quoting: a=1: %s", f.info);
        CHECK(info_is(&f, "b", "2") && info_is(&f, "c", "3"),
              "quoting: blanks around '=': %s", f.info);
        CHECK(info_is(&f, "d", "x y"), "quoting: {}: %s", f.info);
        CHECK(info_is(&f, "e", "1, 2"), "quoting: []: %s", f.info);
        CHECK(info_is(&f, "f", "it is"), "quoting: '': %s", f.info);
        CHECK(info_is(&f, "g", "u=v"), "quoting: '=' in value: %s", f.info);
        CHECK(info_is(&f, "h", "a=9"), "quoting: h=\"\" takes the next "
              "pair as its value, as in ASE: %s", f.info);
        CHECK(info_is(&f, "z", ""), "quoting: empty value at the end: %s",
              f.info);
        CHECK(strstr(f.info, "\"k ey\"=5") != NULL,
              "quoting: escaped blank in a key: %s", f.info);
        CHECK(strncmp(f.info, "a=1 b=2", 7) == 0, "quoting: info order: %s",
              f.info);
    }
    mlshift_frames_destroy(fr);
}

static void test_defaults(void)
{
    mlshift_error err = {0};
    mlshift_frames *fr = mlshift_frames_create();
    /* Lattice without pbc: T T T. No Lattice: F F F and no cell. */
    const char *s =
        "1\nLattice=\"2 0 0 0 2 0 0 0 2\" Properties=species:S:1:pos:R:3\n"
        "Cu 0 0 0\n"
        "1\nProperties=species:S:1:pos:R:3 energy=3\nCu 0 0 0\n"
        "1\nLattice=\"2,0,0,0,2,0,0,0,2\" pbc=F\nCu 0 0 0\n"
        "1\nLattice=\"2 0 0 0 2 0 0 0 2\" pbc=\"1 0 1\"\nCu 0 0 0\n";
    mlshift_status st = parse(fr, s, NULL, &err);
    CHECK(st == MLSHIFT_OK, "defaults: %s", err.message);
    CHECK(mlshift_frames_count(fr) == 4, "defaults: 4 frames");
    mlshift_frame f;
    if (st == MLSHIFT_OK) {
        mlshift_frames_get(fr, 0, &f);
        CHECK(f.cell && f.pbc[0] && f.pbc[1] && f.pbc[2],
              "Lattice without pbc is periodic");
        CHECK(!(f.flags & MLSHIFT_HAS_ENERGY) && isnan(f.energy),
              "no energy key: no energy");
        CHECK(!f.forces, "no forces property: no forces");
        mlshift_frames_get(fr, 1, &f);
        CHECK(!f.cell && !f.pbc[0] && !f.pbc[1] && !f.pbc[2],
              "no Lattice: no cell, not periodic");
        CHECK(f.energy == 3.0, "energy=3");
        mlshift_frames_get(fr, 2, &f);
        CHECK(f.cell && f.cell[4] == 2.0 && !f.pbc[0] && !f.pbc[1] && !f.pbc[2],
              "pbc=F with commas in Lattice");
        mlshift_frames_get(fr, 3, &f);
        CHECK(f.pbc[0] == 1 && f.pbc[1] == 0 && f.pbc[2] == 1, "pbc=\"1 0 1\"");
    }
    mlshift_frames_destroy(fr);
}

static void test_plain_xyz(void)
{
    mlshift_error err = {0};
    mlshift_frames *fr = mlshift_frames_create();
    const char *s =
        "3\nwater molecule, from a textbook\n"
        "O 0 0 0\nH 0.96 0 0\r\nH -0.24 0.93 0\n"
        "\n"
        "1\n\nHe 1 2 3\n"
        "1\nenergy=-2.5 note=ok\nNe 0 0 0\n\n\n";
    mlshift_status st = parse(fr, s, NULL, &err);
    CHECK(st == MLSHIFT_OK, "plain xyz: %s", err.message);
    CHECK(mlshift_frames_count(fr) == 3, "plain xyz: 3 frames (blank lines "
          "between frames skipped)");
    mlshift_frame f;
    if (st == MLSHIFT_OK && mlshift_frames_count(fr) == 3) {
        mlshift_frames_get(fr, 0, &f);
        CHECK(f.natoms == 3 && f.numbers[0] == 8 && f.numbers[2] == 1,
              "plain xyz: species");
        CHECK(f.positions[3] == 0.96 && f.positions[6] == -0.24 &&
              f.positions[7] == 0.93, "plain xyz: positions (CRLF too)");
        CHECK(f.info[0] == '\0', "plain xyz: free text is not info: '%s'",
              f.info);
        CHECK(!f.cell && !f.forces && !(f.flags & MLSHIFT_HAS_ENERGY),
              "plain xyz: no cell, forces, energy");
        mlshift_frames_get(fr, 1, &f);
        CHECK(f.numbers[0] == 2 && f.info[0] == '\0', "empty comment line");
        mlshift_frames_get(fr, 2, &f);
        CHECK(f.energy == -2.5 && info_is(&f, "note", "ok"),
              "key=value comment without Properties: %s", f.info);
    }
    mlshift_frames_destroy(fr);
}

static void test_species(void)
{
    mlshift_error err = {0};
    mlshift_frames *fr = mlshift_frames_create();
    const char *s =
        "4\nProperties=species:S:1:pos:R:3\n"
        "6 0 0 0\n79 0 0 1\ncu 0 0 2\nCL 0 0 3\n"
        "2\nProperties=Z:I:1:pos:R:3\n8 0 0 0\n1 0 0 1\n"
        "2\nProperties=species:S:1:pos:R:3:Z:I:1\nH 0 0 0 26\nH 0 0 1 1\n";
    mlshift_status st = parse(fr, s, NULL, &err);
    CHECK(st == MLSHIFT_OK, "species: %s", err.message);
    mlshift_frame f;
    if (st == MLSHIFT_OK) {
        mlshift_frames_get(fr, 0, &f);
        CHECK(f.numbers[0] == 6 && f.numbers[1] == 79 && f.numbers[2] == 29 &&
              f.numbers[3] == 17, "species as numbers, any case: %d %d %d %d",
              f.numbers[0], f.numbers[1], f.numbers[2], f.numbers[3]);
        mlshift_frames_get(fr, 1, &f);
        CHECK(f.numbers[0] == 8 && f.numbers[1] == 1, "Z:I:1");
        mlshift_frames_get(fr, 2, &f);
        CHECK(f.numbers[0] == 26 && f.numbers[1] == 1,
              "Z overrides species, as in ASE");
    }
    mlshift_frames_destroy(fr);
}

static void test_keys(void)
{
    const char *s =
        "1\nProperties=species:S:1:pos:R:3:forces:R:3:REF_forces:R:3 "
        "energy=1 REF_energy=2 Energy=3\nH 0 0 0 1 1 1 2 2 2\n"
        "1\nProperties=species:S:1:pos:R:3:REF_forces:R:3:force:R:3 "
        "REF_energy=2 Energy=3\nH 0 0 0 2 2 2 3 3 3\n"
        "1\nProperties=species:S:1:pos:R:3:force:R:3 Energy=3\n"
        "H 0 0 0 3 3 3\n";
    mlshift_error err = {0};
    mlshift_frame f;
    mlshift_frames *fr = mlshift_frames_create();
    mlshift_status st = parse(fr, s, NULL, &err);
    CHECK(st == MLSHIFT_OK, "keys: %s", err.message);
    if (st == MLSHIFT_OK) {
        for (size_t i = 0; i < 3; i++) {
            mlshift_frames_get(fr, i, &f);
            CHECK(f.energy == (double)(i + 1) && f.forces &&
                  f.forces[0] == (double)(i + 1),
                  "default keys, frame %zu: energy %g", i, f.energy);
        }
        mlshift_frames_get(fr, 0, &f);
        CHECK(info_is(&f, "REF_energy", "2") && info_is(&f, "Energy", "3"),
              "keys not chosen stay in info: %s", f.info);
    }
    mlshift_frames_destroy(fr);

    /* Named keys: exactly those, no fallback. */
    mlshift_read_options opt = {0};
    opt.energy_key = "REF_energy";
    opt.forces_key = "REF_forces";
    fr = mlshift_frames_create();
    st = parse(fr, s, &opt, &err);
    CHECK(st == MLSHIFT_OK, "named keys: %s", err.message);
    if (st == MLSHIFT_OK) {
        mlshift_frames_get(fr, 0, &f);
        CHECK(f.energy == 2 && f.forces && f.forces[0] == 2,
              "named keys, frame 0");
        CHECK(info_is(&f, "energy", "1"), "unused energy stays in info: %s",
              f.info);
        mlshift_frames_get(fr, 2, &f);
        CHECK(!(f.flags & MLSHIFT_HAS_ENERGY) && !f.forces,
              "named keys absent: no energy, no forces (no fallback)");
    }
    mlshift_frames_destroy(fr);
}

static void test_fixed(void)
{
    const char *s =
        "3\nLattice=\"3 0 0 0 3 0 0 0 3\" "
        "Properties=species:S:1:pos:R:3:fixed:I:1\n"
        "Cu 0 0 0 1\nCu 1 1 1 0\nCu 2 2 2 -3\n"
        "3\nLattice=\"3 0 0 0 3 0 0 0 3\" "
        "Properties=species:S:1:pos:R:3:move_mask:L:3\n"
        "Cu 0 0 0 F F F\nCu 1 1 1 T T T\nCu 2 2 2 F T F\n"
        "1\nProperties=species:S:1:pos:R:3:move_mask:L:1\nCu 0 0 0 F\n";
    mlshift_error err = {0};
    mlshift_frames *fr = mlshift_frames_create();
    mlshift_status st = parse(fr, s, NULL, &err);
    CHECK(st == MLSHIFT_OK, "fixed: %s", err.message);
    mlshift_frame f;
    if (st == MLSHIFT_OK) {
        mlshift_frames_get(fr, 0, &f);
        CHECK(f.fixed && f.fixed[0] == 1 && f.fixed[1] == 0 && f.fixed[2] == 1,
              "fixed:I:1");
        mlshift_frames_get(fr, 1, &f);
        CHECK(f.fixed && f.fixed[0] == 1 && f.fixed[1] == 0 && f.fixed[2] == 0,
              "move_mask:L:3: all F is fixed");
        mlshift_frames_get(fr, 2, &f);
        CHECK(f.fixed && f.fixed[0] == 1, "move_mask:L:1");
    }
    mlshift_frames_destroy(fr);
}

/* Other per-atom properties are checked and dropped; dropped reals may be
 * nan/inf as float() allows. */
static void test_dropped(void)
{
    const char *s =
        "2\nProperties=species:S:1:pos:R:3:charge:R:1:tag:S:1:id:I:1:ok:L:1:"
        "vel:R:3 e=1\n"
        "H 0 0 0 nan a -5 T 1 2 3\nO 1 1 1 -Infinity b_2 +7 False 4 5 6\n";
    mlshift_error err = {0};
    mlshift_frames *fr = mlshift_frames_create();
    mlshift_status st = parse(fr, s, NULL, &err);
    CHECK(st == MLSHIFT_OK, "dropped columns: %s", err.message);
    mlshift_frame f;
    if (st == MLSHIFT_OK) {
        mlshift_frames_get(fr, 0, &f);
        CHECK(f.natoms == 2 && f.positions[3] == 1.0 && !f.forces && !f.fixed,
              "dropped columns: positions kept, the rest dropped");
        CHECK(info_is(&f, "e", "1"), "dropped columns: info %s", f.info);
    }
    mlshift_frames_destroy(fr);
}

/* ------------------------------------------------------- bad inputs */

/* The text must fail with `want`, a message starting "bad.xyz:LINE: " and
 * containing `sub`, and leave a set holding one earlier frame as it was. */
static void expect_fail_n(const char *what, const char *text, size_t n,
                          const mlshift_read_options *opt, mlshift_status want,
                          int line, const char *sub)
{
    mlshift_error err = {0};
    mlshift_frames *fr = mlshift_frames_create();
    const char *good = "1\nProperties=species:S:1:pos:R:3 tag=keep\nH 1 2 3\n";
    mlshift_status st0 = mlshift_parse_extxyz(fr, good, strlen(good), "good",
                                              NULL, &err);
    mlshift_status st = parse_n(fr, text, n, opt, &err);
    char prefix[64];
    snprintf(prefix, sizeof prefix, "%s:%d: ", NAME, line);
    CHECK(st0 == MLSHIFT_OK && st == want, "%s: status %s, want %s (%s)", what,
          mlshift_status_string(st), mlshift_status_string(want),
          st ? err.message : "");
    CHECK(st != MLSHIFT_OK && strncmp(err.message, prefix, strlen(prefix)) == 0,
          "%s: message '%s' should start '%s'", what, err.message, prefix);
    CHECK(st != MLSHIFT_OK && strstr(err.message, sub) != NULL,
          "%s: message '%s' should contain '%s'", what, err.message, sub);
    mlshift_frame f;
    CHECK(mlshift_frames_count(fr) == 1 && mlshift_frames_total_atoms(fr) == 1 &&
          mlshift_frames_get(fr, 0, &f) == MLSHIFT_OK &&
          f.positions[2] == 3.0 && info_is(&f, "tag", "keep"),
          "%s: the set is left as it was", what);
    mlshift_frames_destroy(fr);
}

static void expect_fail(const char *what, const char *text,
                        const mlshift_read_options *opt, mlshift_status want,
                        int line, const char *sub)
{
    expect_fail_n(what, text, strlen(text), opt, want, line, sub);
}

#define GOOD2 "2\nProperties=species:S:1:pos:R:3\nH 0 0 0\nH 0 0 1\n"
#define LAT "Lattice=\"2 0 0 0 2 0 0 0 2\" "
#define PF "Properties=species:S:1:pos:R:3:forces:R:3"

static void test_errors(void)
{
    const mlshift_status F = MLSHIFT_ERR_FORMAT, V = MLSHIFT_ERR_VALUE,
                         M = MLSHIFT_ERR_MISSING;
    expect_fail("truncated", "3\ncomment x=1\nH 0 0 0\nH 0 0 0\n", NULL, F, 5,
                "end of file");
    expect_fail("truncated, second frame", GOOD2 "2\nx=1\nH 0 0 0\n", NULL, F,
                8, "has 2 atoms, found 1");
    expect_fail("missing comment line", GOOD2 "2\n", NULL, F, 6, "comment");
    expect_fail("too few columns", "2\n" PF "\nH 0 0 0 1 2\nH 0 0 0 1 2 3\n",
                NULL, F, 3, "expected 7 columns");
    expect_fail("too many columns", "2\n" PF "\nH 0 0 0 1 2 3\nH 0 0 0 1 2 3 4\n",
                NULL, F, 4, "found 8");
    expect_fail("non-numeric position", GOOD2 "1\nx=1\nH 0 x1 0\n", NULL, F, 7,
                "'x1' is not a number");
    expect_fail("trailing garbage in a number", "1\nx=1\nH 0 1.5q 0\n", NULL,
                F, 3, "'1.5q' is not a number");
    expect_fail("non-numeric force", "1\n" PF "\nH 0 0 0 1 - 3\n", NULL, F, 3,
                "'-' is not a number");
    expect_fail("NaN position", "1\nx=1\nH 0 nan 0\n", NULL, V, 3, "not finite");
    expect_fail("Inf force", "1\n" PF "\nH 0 0 0 1 -inf 3\n", NULL, V, 3,
                "not finite");
    expect_fail("overflowing position", "1\nx=1\nH 0 1e999 0\n", NULL, V, 3,
                "not finite");
    expect_fail("NaN energy", "1\nenergy=nan\nH 0 0 0\n", NULL, V, 2,
                "not finite");
    expect_fail("non-numeric energy", "1\nenergy=abc\nH 0 0 0\n", NULL, F, 2,
                "not a number");
    expect_fail("bare energy key", "1\nenergy x=1\nH 0 0 0\n", NULL, F, 2,
                "not a number");
    expect_fail("negative count", "-3\nx=1\nH 0 0 0\n", NULL, F, 1,
                "atom count");
    expect_fail("garbage count", GOOD2 "abc\n", NULL, F, 5, "'abc'");
    expect_fail("count with junk", "2 atoms\nx=1\n", NULL, F, 1, "atom count");
    expect_fail("huge count", "99999999999999999999999\nx=1\nH 0 0 0\n", NULL,
                F, 1, "too large");
    expect_fail("big count, short file", "1000000000\nx=1\nH 0 0 0\n", NULL, F,
                4, "end of file");
    expect_fail("Lattice with 8 numbers", "1\nLattice=\"1 0 0 0 1 0 0 0\"\n"
                "H 0 0 0\n", NULL, F, 2, "bad Lattice");
    expect_fail("Lattice with 10 numbers", "1\nLattice=\"1 0 0 0 1 0 0 0 1 1\"\n"
                "H 0 0 0\n", NULL, F, 2, "bad Lattice");
    expect_fail("Lattice not numeric", "1\nLattice=\"1 0 0 0 1 0 0 0 z\"\n"
                "H 0 0 0\n", NULL, F, 2, "bad Lattice");
    expect_fail("Lattice NaN", "1\nLattice=\"1 0 0 0 nan 0 0 0 1\"\nH 0 0 0\n",
                NULL, F, 2, "bad Lattice");
    expect_fail("bare Lattice", "1\nLattice x=1\nH 0 0 0\n", NULL, F, 2,
                "bad Lattice");
    expect_fail("Properties not triples", "1\nProperties=species:S:1:pos:R\n"
                "H 0 0 0\n", NULL, F, 2, "bad Properties");
    expect_fail("Properties bad type", "1\nProperties=species:S:1:pos:X:3\n"
                "H 0 0 0\n", NULL, F, 2, "bad Properties");
    expect_fail("Properties zero columns", "1\nProperties=species:S:1:pos:R:3:"
                "q:R:0\nH 0 0 0\n", NULL, F, 2, "bad Properties");
    expect_fail("Properties bad count", "1\nProperties=species:S:1:pos:R:x\n"
                "H 0 0 0\n", NULL, F, 2, "bad Properties");
    expect_fail("Properties without pos", "1\nProperties=species:S:1:p:R:3\n"
                "H 0 0 0\n", NULL, F, 2, "no pos:R:3");
    expect_fail("Properties pos:R:2", "1\nProperties=species:S:1:pos:R:2\n"
                "H 0 0\n", NULL, F, 2, "no pos:R:3");
    expect_fail("Properties without species", "1\nProperties=pos:R:3\n0 0 0\n",
                NULL, F, 2, "species");
    expect_fail("Properties duplicate", "1\nProperties=species:S:1:pos:R:3:"
                "pos:R:3\nH 0 0 0 0 0 0\n", NULL, F, 2, "twice");
    expect_fail("forces not R:3", "1\nProperties=species:S:1:pos:R:3:forces:I:3"
                "\nH 0 0 0 1 2 3\n", NULL, F, 2, "R:3");
    expect_fail("unknown element", GOOD2 "1\nx=1\nXx 0 0 0\n", NULL, V, 7,
                "unknown element 'Xx'");
    expect_fail("element number 0", "1\nx=1\n0 0 0 0\n", NULL, V, 3,
                "unknown element '0'");
    expect_fail("Z out of range", "1\nProperties=Z:I:1:pos:R:3\n119 0 0 0\n",
                NULL, V, 3, "unknown element '119'");
    expect_fail("integer column not integer", "1\nProperties=species:S:1:"
                "pos:R:3:fixed:I:1\nH 0 0 0 1.0\n", NULL, F, 3,
                "not an integer");
    expect_fail("logical column not logical", "1\nProperties=species:S:1:"
                "pos:R:3:move_mask:L:1\nH 0 0 0 yes\n", NULL, F, 3, "logical");
    expect_fail("dropped real column non-numeric", "1\nProperties=species:S:1:"
                "pos:R:3:charge:R:1\nH 0 0 0 q\n", NULL, F, 3, "not a number");
    expect_fail("bad pbc", "1\n" LAT "pbc=\"T T\"\nH 0 0 0\n", NULL, F, 2,
                "bad pbc");
    expect_fail("pbc without Lattice", "1\npbc=\"T T T\"\nH 0 0 0\n", NULL, V, 1,
                "periodic");
    expect_fail_n("NUL in comment", "1\nx=1\0\nH 0 0 0\n", 14, NULL, F, 2,
                  "NUL");
    expect_fail_n("NUL in a number", "1\nx=1\nH 0 0\0 0\n", 14, NULL, F, 3,
                  "not a number");

    mlshift_read_options opt = {0};
    opt.require_energy = 1;
    expect_fail("require_energy", "1\nenergy=1\nH 0 0 0\n"
                "1\nProperties=species:S:1:pos:R:3 e=1\nH 0 0 0\n", &opt, M, 5,
                "no energy");
    opt.require_energy = 0;
    opt.require_forces = 1;
    expect_fail("require_forces", "1\nenergy=1 Properties=species:S:1:pos:R:3:"
                "F:R:3\nH 0 0 0 1 2 3\n", &opt, M, 2, "no forces");
    opt.forces_key = "F";
    expect_fail("require_forces, named key", "1\nenergy=1 " PF "\n"
                "H 0 0 0 1 2 3\n", &opt, M, 2, "'F'");
    opt.require_forces = 0;
    opt.forces_key = NULL;
    opt.energy_key = "E";
    opt.require_energy = 1;
    expect_fail("require_energy, named key", "1\nenergy=1\nH 0 0 0\n", &opt, M,
                2, "'E'");
}

/* ------------------------------------------------------- number parser */

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rng(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* A random finite double from random bits: every exponent, subnormals. */
static double random_double(void)
{
    for (;;) {
        uint64_t b = rng();
        double x;
        memcpy(&x, &b, sizeof x);
        if (isfinite(x))
            return x;
    }
}

static int parse_matches_strtod(const char *s)
{
    double a, b;
    const char *end = s + strlen(s);
    const char *q = ms_parse_double(s, end, &a, 0);
    b = strtod(s, NULL);
    return q == end && memcmp(&a, &b, sizeof a) == 0;
}

static void test_numbers(void)
{
    static const char *const fixed[] = {
        "0", "-0", "+0.0", "-0.000", "1", "-1.", ".5", "+.5e1", "1e22",
        "1e23", "9007199254740992", "9007199254740993", "1.7976931348623157e308",
        "4.9e-324", "2.2250738585072014e-308", "0.1", "0.30000000000000004",
        "123456789012345678901234567890", "-17660.461737861464",
        "0.000000000000000000000000000001", "1.00000000000000000000000001",
        "7.2057594037927933e16", "8.17203382", "-1.01286015", "1E-7",
        "2.2250738585072011e-308", "0.32656990", "12345678.12345678",
        "1234567890123456789", "12345678901234567890", "5e-324",
    };
    int bad = 0;
    for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++)
        if (!parse_matches_strtod(fixed[i])) {
            bad++;
            fprintf(stderr, "number '%s' differs from strtod\n", fixed[i]);
        }
    CHECK(bad == 0, "hand-picked numbers equal strtod bit for bit");

    /* Fixed-point numbers as data files write them (the fast path). */
    char buf[64];
    bad = 0;
    for (int i = 0; i < 200000; i++) {
        double x = (double)(int64_t)(rng() % 2000000001) / 1e6 - 1000.0;
        int prec = (int)(rng() % 12);
        snprintf(buf, sizeof buf, "%.*f", prec, x * (double)(rng() % 3 + 1));
        bad += !parse_matches_strtod(buf);
    }
    CHECK(bad == 0, "fixed-point numbers: %d differ from strtod", bad);
    /* Random doubles, every magnitude, %.17g and %.15e (slow path too). */
    bad = 0;
    for (int i = 0; i < 200000; i++) {
        double x = random_double();
        snprintf(buf, sizeof buf, (i & 1) ? "%.17g" : "%.15e", x);
        bad += !parse_matches_strtod(buf);
        double y;
        if (!(i & 1))
            continue;
        const char *q = ms_parse_double(buf, buf + strlen(buf), &y, 0);
        bad += !q || memcmp(&x, &y, sizeof x) != 0;
    }
    CHECK(bad == 0, "random doubles: %d differ", bad);
    /* Shortest round-trip formatting. */
    bad = 0;
    for (int i = 0; i < 100000; i++) {
        double x = random_double(), y;
        ms_format_double(buf, sizeof buf, x);
        y = strtod(buf, NULL);
        bad += memcmp(&x, &y, sizeof x) != 0;
    }
    CHECK(bad == 0, "ms_format_double round trip: %d differ", bad);
    ms_format_double(buf, sizeof buf, 0.1);
    CHECK(strcmp(buf, "0.1") == 0, "0.1 is written as 0.1, got %s", buf);
    /* Not numbers for Python's float(). */
    static const char *const bad_tokens[] = {"", "-", "+", ".", "e5", "1e",
                                             "1e+", "-.e1", "0x10"};
    bad = 0;
    for (size_t i = 0; i < sizeof bad_tokens / sizeof *bad_tokens; i++) {
        const char *s = bad_tokens[i];
        const char *end = s + strlen(s);
        double v;
        const char *q = ms_parse_double(s, end, &v, 0);
        if (q == end) {
            bad++;
            fprintf(stderr, "'%s' parsed as a number\n", s);
        }
    }
    CHECK(bad == 0, "malformed numbers rejected");
    double v;
    CHECK(ms_parse_double("-inf", "-inf" + 4, &v, MS_NUM_SPECIAL) &&
          isinf(v) && v < 0 && !ms_parse_double("inf", "inf" + 3, &v, 0),
          "inf only with MS_NUM_SPECIAL");
}

/* ------------------------------------------------------- round trips */

static int frames_equal(const mlshift_frames *a, const mlshift_frames *b,
                        char *why, size_t cap)
{
    if (mlshift_frames_count(a) != mlshift_frames_count(b)) {
        snprintf(why, cap, "frame counts %zu, %zu", mlshift_frames_count(a),
                 mlshift_frames_count(b));
        return 0;
    }
    for (size_t i = 0; i < mlshift_frames_count(a); i++) {
        mlshift_frame x, y;
        mlshift_frames_get(a, i, &x);
        mlshift_frames_get(b, i, &y);
        size_t N = x.natoms;
        int ok = x.natoms == y.natoms && x.flags == y.flags &&
                 memcmp(x.pbc, y.pbc, sizeof x.pbc) == 0 &&
                 memcmp(&x.energy, &y.energy, sizeof x.energy) == 0 &&
                 memcmp(x.numbers, y.numbers, N * sizeof *x.numbers) == 0 &&
                 memcmp(x.positions, y.positions, 3 * N * sizeof(double)) == 0;
        ok = ok && (!x.forces ||
                    memcmp(x.forces, y.forces, 3 * N * sizeof(double)) == 0);
        ok = ok && (!x.fixed || memcmp(x.fixed, y.fixed, N) == 0);
        ok = ok && (!x.cell || memcmp(x.cell, y.cell, 9 * sizeof(double)) == 0);
        ok = ok && strcmp(x.info, y.info) == 0;
        if (!ok) {
            snprintf(why, cap, "frame %zu differs (info '%s' vs '%s')", i,
                     x.info, y.info);
            return 0;
        }
    }
    return 1;
}

static void test_roundtrip_random(const char *dir)
{
    mlshift_frames *fr = mlshift_frames_create();
    mlshift_error err = {0};
    enum { NMAX = 40 };
    int Z[NMAX];
    double pos[3 * NMAX], frc[3 * NMAX], cell[9];
    unsigned char fixed[NMAX];
    static const char *const infos[] = {
        "", "name=\"two words\" k=1", "q=\"say \\\"hi\\\"\" flag",
        "path=\"C:\\\\dir\" json=\"_JSON [1, 2]\"", "weird=\"a=b\" e2=\"{x}\" empty=\"\""};
    mlshift_status st = MLSHIFT_OK;
    for (int i = 0; i < 60 && st == MLSHIFT_OK; i++) {
        mlshift_frame f;
        memset(&f, 0, sizeof f);
        f.natoms = (size_t)(rng() % NMAX);
        for (size_t j = 0; j < f.natoms; j++) {
            Z[j] = 1 + (int)(rng() % 118);
            fixed[j] = rng() & 1;
            for (int k = 0; k < 3; k++) {
                pos[3 * j + k] = (i % 3 == 0) ? random_double()
                               : (double)(int64_t)(rng() % 2000001) * 1e-5 - 10;
                frc[3 * j + k] = random_double();
            }
        }
        for (int k = 0; k < 9; k++)
            cell[k] = (i & 1) ? random_double() : 0.0;
        f.numbers = Z;
        f.positions = pos;
        f.forces = (i % 4) ? frc : NULL;
        f.fixed = (i % 5 == 0) ? fixed : NULL;
        f.cell = (i & 1) ? cell : NULL;
        for (int k = 0; k < 3; k++)
            f.pbc[k] = f.cell ? (int)(rng() & 1) : 0;
        f.flags = (i % 6) ? MLSHIFT_HAS_ENERGY : 0;
        f.energy = (i % 6) ? random_double() : NAN;
        if (i == 7)
            f.energy = -0.0;
        f.info = infos[i % 5];
        st = mlshift_frames_append(fr, &f, "random", &err);
    }
    CHECK(st == MLSHIFT_OK, "random frames: %s", err.message);
    char path[4096];
    snprintf(path, sizeof path, "%s/test_extxyz_rt.extxyz", dir);
    st = mlshift_write_extxyz(fr, path, NULL, &err);
    CHECK(st == MLSHIFT_OK, "write: %s", err.message);
    mlshift_frames *back = mlshift_frames_create();
    st = mlshift_read_extxyz(back, path, NULL, &err);
    CHECK(st == MLSHIFT_OK, "read back: %s", err.message);
    char why[512] = "";
    CHECK(frames_equal(fr, back, why, sizeof why),
          "write→read is exact (memcmp): %s", why);

    /* Named keys on both sides. */
    mlshift_write_options wo = {"REF_energy", "REF_forces"};
    mlshift_read_options ro = {0};
    ro.energy_key = "REF_energy";
    ro.forces_key = "REF_forces";
    st = mlshift_write_extxyz(fr, path, &wo, &err);
    CHECK(st == MLSHIFT_OK, "write named keys: %s", err.message);
    mlshift_frames_destroy(back);
    back = mlshift_frames_create();
    st = mlshift_read_extxyz(back, path, &ro, &err);
    CHECK(st == MLSHIFT_OK && frames_equal(fr, back, why, sizeof why),
          "named keys round trip: %s %s", err.message, why);
    /* And read with defaults, REF_energy is found as a fallback. */
    mlshift_frames_destroy(back);
    back = mlshift_frames_create();
    st = mlshift_read_extxyz(back, path, NULL, &err);
    CHECK(st == MLSHIFT_OK && frames_equal(fr, back, why, sizeof why),
          "REF_ keys found by default: %s %s", err.message, why);
    wo.energy_key = "bad key";
    CHECK(mlshift_write_extxyz(fr, path, &wo, &err) == MLSHIFT_ERR_VALUE,
          "a key with a blank is refused");
    mlshift_frames_destroy(back);
    mlshift_frames_destroy(fr);
    remove(path);
}

static void test_extra(const char *dir)
{
    const char *s = "2\n" LAT PF " energy=1 note=x\nH 0 0 0 1 2 3\nO 1 1 1 4 5 6\n"
                    "1\nenergy=2\nHe 0 0 0\n";
    mlshift_error err = {0};
    mlshift_frames *fr = mlshift_frames_create();
    CHECK(parse(fr, s, NULL, &err) == MLSHIFT_OK, "extra: %s", err.message);
    const double q[3] = {0.25, -1.5, 1e-300};       /* (A, 1) */
    const double sc[4] = {1.0 / 3.0, 2, 7, 8};      /* (n, 2) */
    ms_extxyz_extra ex[2] = {{"charge", 1, 1, q}, {"stress_x", 0, 2, sc}};
    char path[4096];
    snprintf(path, sizeof path, "%s/test_extxyz_extra.extxyz", dir);
    mlshift_status st = ms_write_extxyz_extra(fr, path, NULL, ex, 2, &err);
    CHECK(st == MLSHIFT_OK, "write extra: %s", err.message);
    mlshift_frames *back = mlshift_frames_create();
    st = mlshift_read_extxyz(back, path, NULL, &err);
    CHECK(st == MLSHIFT_OK, "read extra: %s", err.message);
    char why[512] = "", v[128];
    mlshift_frame f;
    if (st == MLSHIFT_OK) {
        mlshift_frames_get(back, 0, &f);
        CHECK(mlshift_info_get(f.info, "stress_x", v, sizeof v) &&
              strtod(v, NULL) == 1.0 / 3.0 && strchr(v, ' ') &&
              strtod(strchr(v, ' '), NULL) == 2.0,
              "per-frame extra in info: '%s'", f.info);
        CHECK(info_is(&f, "note", "x"), "info kept beside extras: %s", f.info);
        /* The per-atom extra is dropped on reading; the rest is intact. */
        CHECK(frames_equal(fr, back, why, sizeof why) == 0, "info differs "
              "by the extra only");
    }
    ms_extxyz_extra clash = {"energy", 0, 1, sc};
    CHECK(ms_write_extxyz_extra(fr, path, NULL, &clash, 1, &err) ==
          MLSHIFT_ERR_VALUE, "an extra named like the energy key is refused");
    ms_extxyz_extra clash2 = {"pos", 1, 3, q};
    CHECK(ms_write_extxyz_extra(fr, path, NULL, &clash2, 1, &err) ==
          MLSHIFT_ERR_VALUE, "an extra named pos is refused");
    mlshift_frames_destroy(back);
    mlshift_frames_destroy(fr);
    remove(path);
}

/* ------------------------------------------------------- real files */

static mlshift_frames *read_data(const char *rel, const mlshift_read_options *o)
{
    mlshift_error err = {0};
    mlshift_frames *fr = mlshift_frames_create();
    mlshift_status st = mlshift_read_extxyz(fr, check_data_path(rel), o, &err);
    CHECK(st == MLSHIFT_OK, "%s: %s", rel, err.message);
    return fr;
}

static void test_real(const char *dir)
{
    mlshift_read_options req = {0};
    req.require_energy = req.require_forces = 1;
    mlshift_frame f;

    mlshift_frames *fr = read_data("3bpa/train_300K.xyz", &req);
    CHECK(mlshift_frames_count(fr) == 500 &&
          mlshift_frames_total_atoms(fr) == 500 * 27, "3bpa: 500 × 27 atoms");
    if (mlshift_frames_count(fr) == 500) {
        mlshift_frames_get(fr, 0, &f);
        CHECK(f.energy == -17660.461737861464, "3bpa: first energy %.17g",
              f.energy);
        CHECK(f.numbers[0] == 6 && f.positions[0] == 0.32656990 &&
              f.positions[1] == -1.01286015 && f.forces[5] == -1.90941638,
              "3bpa: first atoms");
        CHECK(f.cell && f.cell[0] == 50.0 && !f.pbc[0] && !f.pbc[1] && !f.pbc[2],
              "3bpa: Lattice 50 Å, pbc F F F");
        CHECK(info_is(&f, "dihedrals", "_JSON [209.44, 80.54, 59.96]"),
              "3bpa: info kept: %s", f.info);
        int all = 1;
        for (size_t i = 0; i < 500; i++) {
            mlshift_frames_get(fr, i, &f);
            all &= f.natoms == 27 && (f.flags & MLSHIFT_HAS_FORCES) &&
                   (f.flags & MLSHIFT_HAS_ENERGY);
        }
        CHECK(all, "3bpa: every frame has 27 atoms, energy and forces");
        /* Write and read back: exact. */
        char path[4096], why[512] = "";
        snprintf(path, sizeof path, "%s/test_extxyz_3bpa.extxyz", dir);
        mlshift_error err = {0};
        mlshift_frames *back = mlshift_frames_create();
        CHECK(mlshift_write_extxyz(fr, path, NULL, &err) == MLSHIFT_OK &&
              mlshift_read_extxyz(back, path, NULL, &err) == MLSHIFT_OK &&
              frames_equal(fr, back, why, sizeof why),
              "3bpa: write→read exact: %s %s", err.message, why);
        mlshift_frames_destroy(back);
        remove(path);
    }
    mlshift_frames_destroy(fr);

    fr = read_data("oc20/random1000120.extxyz", &req);
    CHECK(mlshift_frames_count(fr) == 112 &&
          mlshift_frames_total_atoms(fr) == 112 * 38, "oc20: 112 × 38 atoms");
    if (mlshift_frames_count(fr) == 112) {
        int ok = 1;
        for (size_t i = 0; i < 112; i++) {
            mlshift_frames_get(fr, i, &f);
            size_t nf = 0;
            for (size_t j = 0; f.fixed && j < f.natoms; j++)
                nf += f.fixed[j];
            ok &= nf == 24 && f.pbc[0] && f.pbc[1] && f.pbc[2] && f.cell &&
                  f.forces;
        }
        CHECK(ok, "oc20: 24 fixed atoms per frame, periodic, forces");
        mlshift_frames_get(fr, 0, &f);
        CHECK(f.cell[0] == 8.17203382 && f.cell[8] == 28.60211837 &&
              f.energy == -116.90134739 && f.numbers[0] == 29 &&
              f.positions[1] == 2.45951258 && f.forces[0] == 0.04716548,
              "oc20: first frame values");
        CHECK(info_is(&f, "system", "random1000120") && info_is(&f, "frame", "0"),
              "oc20: info: %s", f.info);
    }
    mlshift_frames_destroy(fr);

    fr = read_data("spice/SPICE-1.1.4_n2.extxyz", &req);
    CHECK(mlshift_frames_count(fr) == 55, "spice: 55 conformations, got %zu",
          mlshift_frames_count(fr));
    if (mlshift_frames_count(fr) > 0) {
        mlshift_frames_get(fr, 0, &f);
        CHECK(f.natoms == 27 && f.energy == -10080.02195183658 && !f.cell,
              "spice: first frame");
        CHECK(info_is(&f, "subset", "SPICE PubChem Set 6 Single Points Dataset "
                      "v1.2"), "spice: quoted info: %s", f.info);
    }
    mlshift_frames_destroy(fr);

    fr = read_data("md22/md22_Ac-Ala3-NHMe_5frames.xyz", &req);
    CHECK(mlshift_frames_count(fr) == 5 &&
          mlshift_frames_total_atoms(fr) == 5 * 42, "md22: 5 × 42 atoms");
    if (mlshift_frames_count(fr) == 5) {
        mlshift_frames_get(fr, 0, &f);
        CHECK(f.energy == -620726.002662 && f.numbers[0] == 1 &&
              f.positions[2] == -1.90538 && f.forces[0] == 1.07102,
              "md22: Energy key (kcal/mol, as in the file)");
    }
    mlshift_frames_destroy(fr);
}

/* ------------------------------------------------------- modes */

static int roundtrip(const char *in, const char *out, const char *stats)
{
    mlshift_error err;
    mlshift_frames *fr = mlshift_frames_create();
    if (mlshift_read_extxyz(fr, in, NULL, &err) != MLSHIFT_OK ||
        mlshift_write_extxyz(fr, out, NULL, &err) != MLSHIFT_OK) {
        fprintf(stderr, "test_extxyz: %s\n", err.message);
        mlshift_frames_destroy(fr);
        return 1;
    }
    if (stats) {
        FILE *fp = fopen(stats, "w");
        if (!fp)
            return 1;
        for (size_t i = 0; i < mlshift_frames_count(fr); i++) {
            mlshift_frame f;
            mlshift_frames_get(fr, i, &f);
            size_t nf = 0;
            for (size_t j = 0; f.fixed && j < f.natoms; j++)
                nf += f.fixed[j];
            fprintf(fp, "%zu %.17g %.17g %zu\n", f.natoms, f.energy,
                    mlshift_frame_mean_force_norm(&f), nf);
        }
        fclose(fp);
    }
    mlshift_frames_destroy(fr);
    return 0;
}

/* Two frames (3 and 2 atoms) with a per-atom extra a (A, 2) and a per-frame
 * extra s (n, 1); values a[i][c] = i + c/8 - 0.1, s[i] = 1/(i+3). */
static int write_extra(const char *out)
{
    const char *s = "3\n" LAT "energy=1\nH 0 0 0\nH 0 0 1\nO 0 1 0\n"
                    "2\nenergy=2\nHe 0 0 0\nNe 1 0 0\n";
    mlshift_error err;
    mlshift_frames *fr = mlshift_frames_create();
    double a[5 * 2], sc[2];
    for (int i = 0; i < 5; i++)
        for (int c = 0; c < 2; c++)
            a[2 * i + c] = i + c / 8.0 - 0.1;
    for (int i = 0; i < 2; i++)
        sc[i] = 1.0 / (i + 3);
    ms_extxyz_extra ex[2] = {{"a", 1, 2, a}, {"s", 0, 1, sc}};
    int bad = parse(fr, s, NULL, &err) != MLSHIFT_OK ||
              ms_write_extxyz_extra(fr, out, NULL, ex, 2, &err) != MLSHIFT_OK;
    if (bad)
        fprintf(stderr, "test_extxyz: %s\n", err.message);
    mlshift_frames_destroy(fr);
    return bad;
}

int main(int argc, char **argv)
{
    if (argc >= 4 && strcmp(argv[1], "--roundtrip") == 0)
        return roundtrip(argv[2], argv[3], argc >= 5 ? argv[4] : NULL);
    if (argc >= 3 && strcmp(argv[1], "--write-extra") == 0)
        return write_extra(argv[2]);
    const char *dir = getenv("TMPDIR");
    if (!dir || !*dir)
        dir = "/tmp";
    test_basic();
    test_quoting();
    test_defaults();
    test_plain_xyz();
    test_species();
    test_keys();
    test_fixed();
    test_dropped();
    test_errors();
    test_numbers();
    test_roundtrip_random(dir);
    test_extra(dir);
    test_real(dir);
    return check_done();
}
