/* SPDX-License-Identifier: MIT */
/* SVG charts (see plot.h). Each panel is 360 × 260 px with a 56 px left and
 * 40 px bottom margin for ticks and labels; "nice" ticks at 1, 2, 5 × 10^k. */
#include "plot.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"

#define PW 360.0
#define PH 260.0
#define ML 60.0
#define MR 14.0
#define MT 44.0
#define MB 44.0

static double nice_step(double range)
{
    if (!(range > 0))
        return 1;
    double raw = range / 5, p = pow(10, floor(log10(raw))), f = raw / p;
    return (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * p;
}

static void esc(FILE *fp, const char *s)
{
    for (; s && *s; s++)
        switch (*s) {
        case '<': fputs("&lt;", fp); break;
        case '>': fputs("&gt;", fp); break;
        case '&': fputs("&amp;", fp); break;
        default: fputc(*s, fp);
        }
}

static void panel(FILE *fp, const plot_panel *p, double ox, double oy)
{
    double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
    for (size_t s = 0; s < p->n_series; s++)
        for (size_t i = 0; i < p->series[s].n; i++) {
            double x = p->series[s].x[i], y = p->series[s].y[i];
            if (!isfinite(x) || !isfinite(y) || (p->logy && !(y > 0)))
                continue;
            if (p->logy)
                y = log10(y);
            x0 = fmin(x0, x), x1 = fmax(x1, x), y0 = fmin(y0, y), y1 = fmax(y1, y);
        }
    if (isfinite(p->band_lo))
        x0 = fmin(x0, p->band_lo), x1 = fmax(x1, p->band_hi);
    if (!isfinite(x0))
        x0 = 0, x1 = 1, y0 = 0, y1 = 1;
    if (x1 == x0)
        x0 -= 0.5, x1 += 0.5;
    if (y1 == y0)
        y0 -= 0.5, y1 += 0.5;
    double padx = 0.04 * (x1 - x0), pady = 0.06 * (y1 - y0);
    x0 -= padx, x1 += padx, y0 -= pady, y1 += pady;
    double w = PW - ML - MR, h = PH - MT - MB;
#define SX(x) (ox + ML + ((x) - x0) / (x1 - x0) * w)
#define SY(y) (oy + MT + h - ((y) - y0) / (y1 - y0) * h)
    fprintf(fp, "<g font-family=\"sans-serif\" font-size=\"11\">\n");
    fprintf(fp, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"13\" text-anchor=\"middle\">",
            ox + ML + w / 2, oy + 18);
    esc(fp, p->title);
    fprintf(fp, "</text>\n");
    if (isfinite(p->band_lo))
        fprintf(fp, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                "fill=\"#ddd\"/>\n", SX(p->band_lo), oy + MT,
                SX(p->band_hi) - SX(p->band_lo), h);
    fprintf(fp, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
            "fill=\"none\" stroke=\"#333\"/>\n", ox + ML, oy + MT, w, h);
    double st = nice_step(x1 - x0);
    for (double t = ceil(x0 / st) * st; t <= x1; t += st)
        fprintf(fp, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
                "stroke=\"#333\"/><text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">"
                "%g</text>\n", SX(t), oy + MT + h, SX(t), oy + MT + h + 4, SX(t),
                oy + MT + h + 16, fabs(t) < 1e-12 * st ? 0.0 : t);
    st = nice_step(y1 - y0);
    for (double t = ceil(y0 / st) * st; t <= y1; t += st) {
        double lab = fabs(t) < 1e-12 * st ? 0.0 : t;
        fprintf(fp, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
                "stroke=\"#333\"/><text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">",
                ox + ML - 4, SY(t), ox + ML, SY(t), ox + ML - 6, SY(t) + 4);
        if (p->logy)
            fprintf(fp, "%g", pow(10, lab));
        else
            fprintf(fp, "%g", lab);
        fprintf(fp, "</text>\n");
    }
    fprintf(fp, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", ox + ML + w / 2,
            oy + PH - 8);
    esc(fp, p->xlabel);
    fprintf(fp, "</text>\n<text transform=\"translate(%.1f,%.1f) rotate(-90)\" "
            "text-anchor=\"middle\">", ox + 14, oy + MT + h / 2);
    esc(fp, p->ylabel);
    fprintf(fp, "</text>\n");
    for (size_t s = 0; s < p->n_series; s++) {
        const plot_series *sr = &p->series[s];
        const char *col = sr->color ? sr->color : "#1f77b4";
        if (sr->points > 0 || (!sr->step && !sr->points)) { /* markers; on plain lines too */
            for (size_t i = 0; i < sr->n; i++) {
                double y = p->logy ? log10(sr->y[i]) : sr->y[i];
                if (isfinite(sr->x[i]) && isfinite(y))
                    fprintf(fp, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" "
                            "fill=\"%s\" fill-opacity=\"0.7\"/>\n", SX(sr->x[i]),
                            SY(y), col);
            }
        }
        if (sr->points <= 0) {
            fprintf(fp, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.6\" "
                    "points=\"", col);
            double py = NAN;
            for (size_t i = 0; i < sr->n; i++) {
                double y = p->logy ? log10(sr->y[i]) : sr->y[i];
                if (!isfinite(sr->x[i]) || !isfinite(y))
                    continue;
                if (sr->step && isfinite(py))
                    fprintf(fp, "%.1f,%.1f ", SX(sr->x[i]), SY(py));
                fprintf(fp, "%.1f,%.1f ", SX(sr->x[i]), SY(y));
                py = y;
            }
            fprintf(fp, "\"/>\n");
        }
        if (!sr->label)
            continue;
        /* Legend: one row above the plot area, entries side by side. */
        double lx = ox + ML + 118.0 * (double)(s % 3);
        double ly = oy + MT - 6 - 12.0 * (double)((p->n_series - 1) / 3 - s / 3);
        fprintf(fp, "<rect x=\"%.1f\" y=\"%.1f\" width=\"9\" height=\"9\" "
                "fill=\"%s\"/><text x=\"%.1f\" y=\"%.1f\" font-size=\"10\">",
                lx, ly - 8, col, lx + 12, ly);
        esc(fp, sr->label);
        fprintf(fp, "</text>\n");
    }
    fprintf(fp, "</g>\n");
#undef SX
#undef SY
}

/* Rasterises the SVG svg[0..len) with rsvg-convert (stdin to stdout) into
 * the open file out; 0 on success. */
static int rasterise(const char *svg, size_t len, FILE *out)
{
    int in[2];
    if (fflush(out) != 0 || pipe(in) != 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0) {
        close(in[0]);
        close(in[1]);
        return -1;
    }
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        if (dup2(in[0], 0) < 0 || dup2(fileno(out), 1) < 0)
            _exit(127);
        if (devnull >= 0)
            dup2(devnull, 2);
        close(in[0]);
        close(in[1]);
        execlp("rsvg-convert", "rsvg-convert", "-f", "png", (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    /* A rasteriser that dies early must not kill us with SIGPIPE. */
    struct sigaction ign, old;
    memset(&ign, 0, sizeof ign);
    ign.sa_handler = SIG_IGN;
    sigemptyset(&ign.sa_mask);
    sigaction(SIGPIPE, &ign, &old);
    size_t off = 0;
    int bad = 0;
    while (off < len) {
        ssize_t w = write(in[1], svg + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            bad = 1;
            break;
        }
        off += (size_t)w;
    }
    close(in[1]);
    sigaction(SIGPIPE, &old, NULL);
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    if (bad || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return -1;
    /* The child wrote through the shared descriptor: move our stream's
     * idea of the offset to the end so nothing overwrites it. */
    if (fseek(out, 0, SEEK_END) != 0 && errno != ESPIPE)
        return -1;
    return 0;
}

int plot_write(const char *path, const char *title, const plot_panel *panels,
               size_t n_panels)
{
    size_t len = strlen(path);
    int png = len > 4 && strcmp(path + len - 4, ".png") == 0;
    if (!png && !(len > 4 && strcmp(path + len - 4, ".svg") == 0))
        return cli_fail("%s: --plot writes .svg or .png", path);
    char *svg = NULL;
    size_t svg_len = 0;
    FILE *fp = open_memstream(&svg, &svg_len);
    if (!fp)
        return cli_fail("out of memory");
    size_t cols = n_panels < 4 ? n_panels : 4, rows = (n_panels + 3) / 4;
    double W = PW * (double)cols, H = PH * (double)rows + 30;
    double tw = 8.5 * (double)strlen(title) + 40; /* room for the title */
    if (W < tw)
        W = tw;
    fprintf(fp, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" "
            "height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\">\n<rect width=\"100%%\" "
            "height=\"100%%\" fill=\"white\"/>\n<text x=\"%.1f\" y=\"20\" "
            "font-family=\"sans-serif\" font-size=\"15\" text-anchor=\"middle\">",
            W, H, W, H, W / 2);
    esc(fp, title);
    fprintf(fp, "</text>\n");
    for (size_t k = 0; k < n_panels; k++)
        panel(fp, &panels[k], PW * (double)(k % 4), 30 + PH * (double)(k / 4));
    fprintf(fp, "</svg>\n");
    if (fclose(fp) != 0 || !svg) {
        free(svg);
        return cli_fail("out of memory");
    }
    /* Written like every other output: atomically, or through a FIFO. */
    cli_output *out;
    FILE *of = cli_output_open(&out, path);
    if (!of) {
        free(svg);
        return CLI_ERROR;
    }
    int bad = png ? rasterise(svg, svg_len, of) != 0
                  : fwrite(svg, 1, svg_len, of) != svg_len;
    free(svg);
    if (bad) {
        cli_output_abort(out);
        return png ? cli_fail("%s: PNG needs rsvg-convert (apt-get install "
                              "librsvg2-bin), or write .svg", path)
                   : cli_fail("%s: write failed", path);
    }
    return cli_output_close(out);
}
