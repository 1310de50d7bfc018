/* SPDX-License-Identifier: MIT */
/* Small SVG charts for the commands' --plot options: panels of lines or
 * points with axes, ticks and labels. PNG output goes through rsvg-convert
 * (Debian librsvg2-bin) when the file name ends in .png. */
#ifndef MLSHIFT_PLOT_H
#define MLSHIFT_PLOT_H

#include <stddef.h>

typedef struct plot_series {
    const char *label;      /* NULL: no legend entry */
    const double *x, *y;    /* (n,) each; NaN points are skipped */
    size_t n;
    const char *color;      /* CSS colour */
    int points;             /* 1: markers, 0: a line, -1: a line without
                               markers (contours) */
    int step;               /* 1: draw as a step line (spectra) */
} plot_series;

typedef struct plot_panel {
    const char *title, *xlabel, *ylabel;
    const plot_series *series;
    size_t n_series;
    double band_lo, band_hi;  /* shaded x band (training mean ± std); NaN = none */
    int logy;
} plot_panel;

/* Writes panels side by side (up to 4 per row) to path (.svg or .png),
 * atomically. Returns 0, or reports and returns 2. */
int plot_write(const char *path, const char *title, const plot_panel *panels,
               size_t n_panels);

#endif /* MLSHIFT_PLOT_H */
