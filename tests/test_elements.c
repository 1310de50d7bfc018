/* SPDX-License-Identifier: MIT */
/* The periodic table. `test_elements --dump` prints "Z symbol mass" for
 * Z = 1..118, which tests/reference/test_elements.py compares with ASE. */
#include "check.h"
#include "mlshift.h"

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--dump") == 0) {
        for (int z = 1; z <= 118; z++)
            printf("%d %s %.17g\n", z, mlshift_element_symbol(z),
                   mlshift_element_mass(z));
        return 0;
    }
    /* Symbol → Z → symbol is the identity for every element. */
    int bad = 0;
    for (int z = 1; z <= 118; z++)
        bad |= mlshift_element_number(mlshift_element_symbol(z)) != z;
    CHECK(!bad, "symbol/number round trip");
    CHECK(mlshift_element_number("N") == 7 && mlshift_element_number("Na") == 11,
          "one- and two-letter symbols");
    return check_done();
}
