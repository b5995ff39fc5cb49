/*
 * stats_out.h - `--stats-out FILE --stats-interval MS`: the statistics of a
 * running VM as one JSON object per line, every MS milliseconds, and a last
 * line (with "final": true) when the run ends.
 *
 * A thread of its own writes them, so the stream works the same with and
 * without the dashboard and never waits on the vCPU. Each line is flushed,
 * so `tail -f` and a grader reading the file as it grows see whole lines.
 * Like the dashboard, it reads the counters without locks (see dashboard.h).
 */
#ifndef VMLAB_STATS_OUT_H
#define VMLAB_STATS_OUT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct vm;

struct stats_out {
    struct vm *vm;
    int fd;
    bool opened;             /* fd is ours: from stats_out_open to finish or discard */
    const char *path;
    unsigned interval_ms;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stopping;
    bool running;
    bool regular_file;       /* discard may remove it (never a device or FIFO) */
    bool write_failed;
    int write_errno;         /* why the first failed write failed */
    uint64_t lines;
};

/* Opens the file (truncating it) before the run, so a bad path is an error
 * before anything runs - and before trapemu's seccomp filter, which allows
 * no open (core/direct/containment.c): the stream lives on this one fd,
 * never reopened. Returns 0, or -1 with a one-line reason. */
int stats_out_open(struct stats_out *out, const char *path, unsigned interval_ms, char *error,
                   size_t error_len);
/* Starts the periodic lines for vm. Returns 0, or -1 with a reason. */
int stats_out_start(struct stats_out *out, struct vm *vm, char *error, size_t error_len);
/* Bad input after the open: close and remove the file (nothing ran). */
void stats_out_discard(struct stats_out *out);
/* After the run: stops the thread, writes the final line and closes the
 * file. Returns 0, or -1 with a reason (a write failed). */
int stats_out_finish(struct stats_out *out, char *error, size_t error_len);

#endif
