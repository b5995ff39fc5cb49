/*
 * containment_probe.c - does the seccomp filter trapemu installs let
 * anything open a file, start a program, reach the network or signal
 * another process? Built and run by tests/trapemu/containment.sh.
 *
 * It links core/direct/containment.c itself and calls the function
 * trapemu_attach() calls, direct_contain_process(), so it tests the filter
 * vmlab installs, not a copy. What it does afterwards is what guest code
 * that escaped to 64-bit mode and jumped into libc would try: raw system
 * calls from 64-bit code above 4 GiB, which only the allow-list can stop
 * (the guest-trap filter lets them through). Each must fail with EPERM
 * (ENOSYS accepted for openat2, which an older kernel may not know), and
 * nothing may appear on disk.
 *
 * Before containing itself it makes the same opens and expects them to
 * work: a check that only passes when the call is denied must first show
 * that the call would have succeeded (so the file exists, the flags are
 * valid, we have the rights). After, the descriptors opened before must
 * still read and write: the VMM lives on them.
 *
 *   containment_probe DIR      DIR: an empty scratch directory
 *
 * Prints "PASS name" or "FAIL name: detail" per check; exits 1 if any
 * failed.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/direct/direct.h"

#ifndef SYS_openat2
#define SYS_openat2 437
#endif

static int failures;
static char existing[4096], created[4096];

static void check(bool ok, const char *name, const char *detail)
{
    if (ok) {
        printf("PASS %s\n", name);
    } else {
        printf("FAIL %s: %s\n", name, detail);
        failures++;
    }
}

/* A call that must be refused: result -1 with errno EPERM (or also_ok). */
static void expect_denied(long result, int error, int also_ok, const char *name)
{
    char detail[160];
    if (result >= 0)
        snprintf(detail, sizeof detail, "succeeded (returned %ld)", result);
    else
        snprintf(detail, sizeof detail, "failed with %s, not EPERM", strerror(error));
    check(result < 0 && (error == EPERM || (also_ok && error == also_ok)), name, detail);
    if (result >= 0 && strstr(name, "open"))
        close((int)result);
}

static bool exists(const char *path)
{
    struct stat info;
    return stat(path, &info) == 0;
}

/* The raw system calls, not libc's wrappers: libc may pick another call
 * (open() is openat() in glibc), and a guest's shellcode would not. */
static long raw_openat(const char *path, int flags)
{
    return syscall(SYS_openat, AT_FDCWD, path, flags, 0644);
}

/* ---- before: every open we will deny works now -------------------------------- */

static void controls(void)
{
    static const int flags[] = {O_RDONLY, O_RDONLY | O_CLOEXEC, O_RDWR | O_CLOEXEC};
    bool all = true;
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
        long fd = raw_openat(existing, flags[i]);
        all = all && fd >= 0;
        if (fd >= 0)
            close((int)fd);
    }
    long fd = syscall(SYS_open, existing, O_RDONLY, 0);
    all = all && fd >= 0;
    if (fd >= 0)
        close((int)fd);
    long sock = syscall(SYS_socket, AF_UNIX, SOCK_STREAM, 0);
    all = all && sock >= 0;
    if (sock >= 0)
        close((int)sock);
    check(all, "control: before containment, open/openat and socket succeed",
          "the denials below would prove nothing");
}

/* ---- a thread that existed before the filter (TSYNC) --------------------------- */

static int go[2];
static long thread_result;
static int thread_errno;

static void *other_thread(void *unused)
{
    (void)unused;
    char byte;
    if (read(go[0], &byte, 1) != 1)
        return NULL;
    thread_result = raw_openat(existing, O_RDONLY);
    thread_errno = errno;
    return NULL;
}

/* ---- after: what must be refused ----------------------------------------------- */

static void denied_opens(void)
{
    long r;
    r = raw_openat(existing, O_RDONLY);
    expect_denied(r, errno, 0, "openat O_RDONLY of an existing file");
    r = raw_openat(existing, O_RDONLY | O_CLOEXEC);
    expect_denied(r, errno, 0, "openat O_RDONLY|O_CLOEXEC (a read of /sys, /proc, terminfo)");
    r = raw_openat(existing, O_RDWR | O_CLOEXEC);
    expect_denied(r, errno, 0, "openat O_RDWR|O_CLOEXEC (as of /dev/kvm)");
    r = raw_openat(created, O_WRONLY | O_CREAT | O_TRUNC);
    expect_denied(r, errno, 0, "openat O_WRONLY|O_CREAT|O_TRUNC (fopen \"w\")");
    r = raw_openat(created, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC);
    expect_denied(r, errno, 0, "openat O_CREAT|O_EXCL");
    r = syscall(SYS_open, existing, O_RDONLY, 0);
    expect_denied(r, errno, 0, "open O_RDONLY");
    r = syscall(SYS_creat, created, 0644);
    expect_denied(r, errno, 0, "creat");
    struct { unsigned long long flags, mode, resolve; } how = {O_RDONLY, 0, 0};
    r = syscall(SYS_openat2, AT_FDCWD, existing, &how, sizeof how);
    expect_denied(r, errno, ENOSYS, "openat2");
    r = syscall(SYS_open_by_handle_at, AT_FDCWD, NULL, O_RDONLY);
    expect_denied(r, errno, 0, "open_by_handle_at");
    check(!exists(created), "no file was created", created);
}

static void denied_others(void)
{
    long r;
    char *const argv[] = {"/bin/true", NULL};
    char *const envp[] = {NULL};
    r = syscall(SYS_execve, "/bin/true", argv, envp);
    expect_denied(r, errno, 0, "execve");
    r = syscall(SYS_socket, AF_INET, SOCK_STREAM, 0);
    expect_denied(r, errno, 0, "socket AF_INET");
    r = syscall(SYS_socket, AF_UNIX, SOCK_STREAM, 0);
    expect_denied(r, errno, 0, "socket AF_UNIX");
    r = syscall(SYS_kill, getppid(), 0);
    expect_denied(r, errno, 0, "kill of another process (the parent, signal 0)");
    r = syscall(SYS_fork);
    if (r == 0)
        _exit(0);            /* the filter failed; the parent reports it */
    if (r > 0)
        waitpid((pid_t)r, NULL, 0);
    expect_denied(r, errno, 0, "fork");
}

/* The VMM keeps working through what it opened before. */
static void allowed(int read_fd, int write_fd)
{
    char text[16] = "";
    ssize_t got = pread(read_fd, text, sizeof text - 1, 0);
    check(got == 8 && memcmp(text, "existing", 8) == 0, "read on a descriptor opened before",
          strerror(errno));
    check(write(write_fd, "written\n", 8) == 8 && fsync(write_fd) == 0,
          "write and fsync on a descriptor opened before", strerror(errno));
    check(syscall(SYS_kill, getpid(), 0) == 0, "kill of ourselves (signal 0) still allowed",
          strerror(errno));
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: containment_probe DIR\n");
        return 2;
    }
    snprintf(existing, sizeof existing, "%s/existing", argv[1]);
    snprintf(created, sizeof created, "%s/created", argv[1]);
    char written[4096];
    snprintf(written, sizeof written, "%s/written", argv[1]);
    int read_fd = open(existing, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int write_fd = open(written, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (read_fd < 0 || write_fd < 0 || write(read_fd, "existing", 8) != 8) {
        perror("containment_probe: setup");
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    controls();
    pthread_t thread;
    if (pipe(go) < 0 || pthread_create(&thread, NULL, other_thread, NULL) != 0) {
        perror("containment_probe: thread");
        return 2;
    }
    char why[256] = "";
    int contained = direct_contain_process(why, sizeof why);
    check(contained == 0, "direct_contain_process installs the filters", why);
    if (contained != 0)
        return 1;
    if (write(go[1], "g", 1) != 1 || pthread_join(thread, NULL) != 0)
        return 2;
    expect_denied(thread_result, thread_errno, 0,
                  "openat from a thread created before the filter (TSYNC)");
    denied_opens();
    denied_others();
    allowed(read_fd, write_fd);
    return failures ? 1 : 0;
}
