/* SPDX-License-Identifier: MIT */
#include <stdio.h>
int main(void) { puts("mlshift"); return 0; }
