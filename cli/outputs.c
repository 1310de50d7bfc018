/* SPDX-License-Identifier: MIT */
/* What every command does for its outputs beyond the library's atomic
 * writes: refuse an output that is one of its inputs, commit several
 * outputs together, and remove temporaries when a signal ends the run. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "cli.h"

int cli_outputs_check(const char *cmd, const char *const *in, size_t nin,
                      const char *const *out, size_t nout)
{
    for (size_t j = 0; j < nout; j++) {
        if (!out[j])
            continue;
        struct stat so;
        int have = stat(out[j], &so) == 0;
        if (have && S_ISDIR(so.st_mode))
            return cli_fail("%s: output %s is a directory", cmd, out[j]);
        if (!have && errno != ENOENT)
            return cli_fail("%s: output %s: %s", cmd, out[j], strerror(errno));
        if (!have) { /* fail now, not after the work: its folder must exist */
            char dir[4096];
            const char *slash = strrchr(out[j], '/');
            size_t dl = slash ? (size_t)(slash - out[j]) : 0;
            if (slash && dl == 0)
                dl = 1; /* "/name": the root */
            if (dl >= sizeof dir)
                return cli_fail("%s: output %s: path too long", cmd, out[j]);
            memcpy(dir, slash ? out[j] : ".", slash ? dl : 1);
            dir[slash ? dl : 1] = '\0';
            struct stat sd;
            if (stat(dir, &sd) != 0 || !S_ISDIR(sd.st_mode))
                return cli_fail("%s: output %s: folder %s %s", cmd, out[j], dir,
                                stat(dir, &sd) != 0 ? "does not exist" : "is not a folder");
        }
        /* Only regular files can be destroyed by a rename over them; two
         * outputs /dev/null, or a FIFO in and out, are fine. */
        if (have && S_ISREG(so.st_mode)) {
            for (size_t i = 0; i < nin; i++) {
                struct stat si;
                if (in[i] && stat(in[i], &si) == 0 && si.st_dev == so.st_dev &&
                    si.st_ino == so.st_ino)
                    return cli_fail("%s: output %s is the input %s: refusing to "
                                    "overwrite an input (write elsewhere)",
                                    cmd, out[j], in[i]);
            }
        }
        for (size_t k = 0; k < j; k++) {
            struct stat sk;
            if (!out[k])
                continue;
            int same = have && S_ISREG(so.st_mode) && stat(out[k], &sk) == 0 &&
                       sk.st_dev == so.st_dev && sk.st_ino == so.st_ino;
            if (same || strcmp(out[k], out[j]) == 0)
                return cli_fail("%s: %s is given as two outputs", cmd, out[j]);
        }
    }
    return CLI_OK;
}

int cli_outputs_end(int rc)
{
    if (rc != CLI_OK) {
        mlshift_outputs_discard();
        return rc;
    }
    mlshift_error err;
    if (mlshift_outputs_commit(&err) != MLSHIFT_OK)
        return cli_fail("%s", err.message);
    return CLI_OK;
}

static void on_signal(int sig)
{
    mlshift_remove_temporaries();
    /* SA_RESETHAND restored the default action; SA_NODEFER lets it act. */
    raise(sig);
}

void cli_on_ending_signals(void (*handler)(int))
{
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE};
    for (size_t k = 0; k < sizeof sigs / sizeof sigs[0]; k++) {
        struct sigaction sa, old;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = handler;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = SA_RESETHAND | SA_NODEFER;
        /* A signal the caller ignores (nohup, SIGPIPE ignored) stays ignored. */
        if (sigaction(sigs[k], NULL, &old) == 0 && old.sa_handler == SIG_IGN)
            continue;
        sigaction(sigs[k], &sa, NULL);
    }
}

void cli_cleanup_on_signals(void)
{
    cli_on_ending_signals(on_signal);
}

int cli_extxyz_output(const char *cmd, const char *path)
{
    static const char *other[] = {".npz", ".h5", ".hdf5", ".hdf"};
    size_t n = strlen(path);
    for (size_t k = 0; k < sizeof other / sizeof other[0]; k++) {
        size_t m = strlen(other[k]);
        if (n >= m && strcasecmp(path + n - m, other[k]) == 0)
            return cli_fail("%s: %s: mlshift writes extxyz, not %s: name the "
                            "output .extxyz (or .xyz)", cmd, path, other[k] + 1);
    }
    return CLI_OK;
}
