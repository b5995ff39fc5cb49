/*
 * stats_out.c - the periodic statistics stream.
 */
#include "core/ui/stats_out.h"

#include <errno.h>
#include <poll.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/stats_json.h"
#include "core/vm.h"

int stats_out_open(struct stats_out *out, const char *path, unsigned interval_ms, char *error,
                   size_t error_len)
{
    memset(out, 0, sizeof *out);
    out->path = path;
    out->interval_ms = interval_ms;
    /* O_NONBLOCK only for the open: a FIFO nobody reads is an error now
     * (ENXIO), not a wait forever before the guest starts. */
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NONBLOCK | O_CLOEXEC, 0666);
    if (fd < 0) {
        snprintf(error, error_len, "--stats-out %s: %s", path,
                 errno == ENXIO ? "a FIFO with no reader" : strerror(errno));
        return -1;
    }
    struct stat info;
    out->regular_file = fstat(fd, &info) == 0 && S_ISREG(info.st_mode);
    out->fd = fd;   /* still O_NONBLOCK: see write_patiently */
    out->opened = true;
    return 0;
}

/* A pipe, FIFO or terminal whose reader stops taking lines must not hold
 * the stream's thread - and at the end the final line, and so vmlab - for
 * ever: a line not taken within this long is a failed write (reported when
 * the run ends). Regular files never wait. */
#define STATS_OUT_PATIENCE_MS 1000

static int write_patiently(int fd, const char *data, size_t length)
{
    uint64_t give_up_at = stats_now_ns() + STATS_OUT_PATIENCE_MS * 1000000ull;
    while (length > 0) {
        ssize_t written = write(fd, data, length);
        if (written > 0) {
            data += written;
            length -= (size_t)written;
            continue;
        }
        if (written < 0 && errno == EINTR)
            continue;
        if (written == 0 || errno != EAGAIN)
            return -1;
        uint64_t now = stats_now_ns();
        if (now >= give_up_at) {
            errno = ETIMEDOUT;
            return -1;
        }
        struct pollfd poller = {.fd = fd, .events = POLLOUT};
        poll(&poller, 1, (int)((give_up_at - now) / 1000000ull) + 1);
    }
    return 0;
}

static void note_failure(struct stats_out *out, int error_number)
{
    if (!out->write_failed)
        out->write_errno = error_number;
    out->write_failed = true;
}

static void write_line(struct stats_out *out, bool final)
{
    const struct vm *vm = out->vm;
    char *line = stats_to_json_line(vm, final ? vm->run_ns : stats_now_ns() - vm->stats.start_ns,
                                    final);
    size_t length = line ? strlen(line) : 0;
    char *with_newline = line ? realloc(line, length + 2) : NULL;
    if (!with_newline) {
        free(line);
        note_failure(out, ENOMEM);
    } else {
        memcpy(with_newline + length, "\n", 2);
        if (write_patiently(out->fd, with_newline, length + 1) < 0)
            note_failure(out, errno);
        free(with_newline);
    }
    out->lines++;
}

/* The deadline for pthread_cond_timedwait, on the monotonic clock (a
 * change of the wall clock must not stop or flood the stream). */
static struct timespec after_ms(unsigned ms)
{
    struct timespec when;
    clock_gettime(CLOCK_MONOTONIC, &when);
    when.tv_sec += ms / 1000;
    when.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (when.tv_nsec >= 1000000000L) {
        when.tv_sec++;
        when.tv_nsec -= 1000000000L;
    }
    return when;
}

static void *stream_thread(void *argument)
{
    struct stats_out *out = argument;
    pthread_mutex_lock(&out->lock);
    while (!out->stopping) {
        struct timespec deadline = after_ms(out->interval_ms);
        int waited = 0;
        while (!out->stopping && waited != ETIMEDOUT)
            waited = pthread_cond_timedwait(&out->wake, &out->lock, &deadline);
        if (!out->stopping)
            write_line(out, false);
    }
    pthread_mutex_unlock(&out->lock);
    return NULL;
}

int stats_out_start(struct stats_out *out, struct vm *vm, char *error, size_t error_len)
{
    pthread_condattr_t attributes;
    out->vm = vm;
    pthread_mutex_init(&out->lock, NULL);
    pthread_condattr_init(&attributes);
    pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC);
    pthread_cond_init(&out->wake, &attributes);
    pthread_condattr_destroy(&attributes);
    /* The stream's thread takes no signals: they are the main thread's. */
    sigset_t all, previous;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &previous);
    int failed = pthread_create(&out->thread, NULL, stream_thread, out);
    pthread_sigmask(SIG_SETMASK, &previous, NULL);
    if (failed) {
        snprintf(error, error_len, "--stats-out: cannot start its thread: %s", strerror(failed));
        return -1;
    }
    out->running = true;
    return 0;
}

void stats_out_discard(struct stats_out *out)
{
    if (!out->opened)
        return;
    close(out->fd);
    out->opened = false;
    if (out->regular_file)
        unlink(out->path);   /* not /dev/null or a FIFO: those are not ours to remove */
}

int stats_out_finish(struct stats_out *out, char *error, size_t error_len)
{
    if (!out->opened)
        return 0;
    if (out->running) {
        pthread_mutex_lock(&out->lock);
        out->stopping = true;
        pthread_cond_signal(&out->wake);
        pthread_mutex_unlock(&out->lock);
        pthread_join(out->thread, NULL);
        pthread_cond_destroy(&out->wake);
        pthread_mutex_destroy(&out->lock);
        out->running = false;
    }
    if (out->vm)
        write_line(out, true);
    if (close(out->fd) != 0)
        note_failure(out, errno);
    out->opened = false;
    if (out->write_failed) {
        snprintf(error, error_len, "--stats-out %s: could not write every line (%llu written or "
                 "attempted): %s", out->path, (unsigned long long)out->lines,
                 out->write_errno == ETIMEDOUT ? "its reader took no line for 1 s"
                                               : strerror(out->write_errno));
        return -1;
    }
    return 0;
}
