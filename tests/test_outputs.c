/* SPDX-License-Identifier: MIT */
/* The atomic writer every output goes through (src/core/util.c): links
 * followed, special files written through, permissions kept, outputs held
 * back and committed together or discarded, temporaries removable from a
 * signal handler. The command-level twin is tests/reference/test_outputs.py. */
#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "core/util.h"

static char dir[256];

static const char *at(const char *name)
{
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
    return buf[k];
}

/* Files in dir whose name contains ".tmp." */
static int temporaries(void)
{
    DIR *d = opendir(dir);
    int n = 0;
    if (!d)
        return -1;
    for (struct dirent *e; (e = readdir(d));)
        n += strstr(e->d_name, ".tmp.") != NULL;
    closedir(d);
    return n;
}

static int write_text(const char *path, const char *text)
{
    ms_atomic_file af;
    mlshift_error err;
    if (ms_atomic_open(&af, path, &err) != MLSHIFT_OK)
        return -1;
    fputs(text, af.fp);
    return ms_atomic_commit(&af, &err) == MLSHIFT_OK ? 0 : -1;
}

static int has_text(const char *path, const char *text)
{
    char buf[256] = {0};
    FILE *fp = fopen(path, "r");
    if (!fp)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, fp);
    fclose(fp);
    return n == strlen(text) && !strcmp(buf, text);
}

static void test_link_and_mode(void)
{
    CHECK(mkdir(at("sub"), 0777) == 0, "mkdir sub");
    CHECK(write_text(at("sub/target"), "old\n") == 0, "write target");
    CHECK(symlink("sub/target", at("link")) == 0, "symlink");
    CHECK(write_text(at("link"), "new\n") == 0, "write through the link");
    struct stat sb;
    CHECK(lstat(at("link"), &sb) == 0 && S_ISLNK(sb.st_mode), "the link stays a link");
    CHECK(has_text(at("sub/target"), "new\n"), "the target holds the new text");

    CHECK(write_text(at("private"), "a\n") == 0 && chmod(at("private"), 0600) == 0,
          "write private");
    CHECK(write_text(at("private"), "b\n") == 0, "replace private");
    CHECK(stat(at("private"), &sb) == 0 && (sb.st_mode & 07777) == 0600,
          "a 600 file stays 600: %o", (unsigned)(sb.st_mode & 07777));

    /* /dev/null is written into, not replaced. */
    CHECK(write_text("/dev/null", "x\n") == 0, "write /dev/null");
    CHECK(stat("/dev/null", &sb) == 0 && S_ISCHR(sb.st_mode), "/dev/null is a device");
    CHECK(temporaries() == 0, "no temporaries left");
}

static void test_all_or_none(void)
{
    CHECK(write_text(at("a"), "old a\n") == 0, "write a");
    mlshift_outputs_begin();
    CHECK(write_text(at("a"), "new a\n") == 0 && write_text(at("b"), "new b\n") == 0,
          "staged writes");
    CHECK(has_text(at("a"), "old a\n") && access(at("b"), F_OK) != 0,
          "held back: a untouched, b absent");
    CHECK(temporaries() == 2, "two temporaries while held: %d", temporaries());
    mlshift_outputs_discard();
    CHECK(has_text(at("a"), "old a\n") && access(at("b"), F_OK) != 0 &&
          temporaries() == 0, "discard: nothing replaced, no temporary left");

    mlshift_outputs_begin();
    CHECK(write_text(at("a"), "new a\n") == 0 && write_text(at("b"), "new b\n") == 0,
          "staged writes");
    mlshift_error err;
    CHECK(mlshift_outputs_commit(&err) == MLSHIFT_OK, "commit");
    CHECK(has_text(at("a"), "new a\n") && has_text(at("b"), "new b\n") &&
          temporaries() == 0, "commit: both in place");
    /* After commit, writes are immediate again. */
    CHECK(write_text(at("a"), "again\n") == 0 && has_text(at("a"), "again\n"),
          "unstaged after commit");
}

/* A child opens a temporary and a staged one, then is killed by SIGTERM
 * from a handler like the command's: neither temporary survives. */
static void on_term(int sig)
{
    mlshift_remove_temporaries();
    signal(sig, SIG_DFL);
    raise(sig);
}

static void test_signal(void)
{
    pid_t pid = fork();
    if (pid == 0) {
        signal(SIGTERM, on_term);
        mlshift_outputs_begin();
        if (write_text(at("held"), "held\n"))
            _exit(3);
        ms_atomic_file af;
        mlshift_error err;
        if (ms_atomic_open(&af, at("open"), &err))
            _exit(3);
        fputs("partial", af.fp);
        fflush(af.fp);
        kill(getpid(), SIGTERM);
        _exit(4);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM, "child ended by SIGTERM");
    CHECK(temporaries() == 0 && access(at("held"), F_OK) != 0 &&
          access(at("open"), F_OK) != 0, "no temporary and no output after the signal");
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/mlshift-test-outputs-XXXXXX");
    if (!mkdtemp(dir)) {
        CHECK(0, "mkdtemp");
        return check_done();
    }
    test_link_and_mode();
    test_all_or_none();
    test_signal();
    static const char *names[] = {"link", "sub/target", "sub", "private", "a", "b"};
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++)
        remove(at(names[k]));
    rmdir(dir);
    return check_done();
}
