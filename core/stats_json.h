/*
 * stats_json.h - the statistics of a finished run as one JSON document
 * (--stats-json), for scripts, graders and the comparison reports.
 */
#ifndef VMLAB_STATS_JSON_H
#define VMLAB_STATS_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vm;

/*
 * --stats-json FILE is written in two steps, because once trapemu runs a
 * guest the process may not open files any more (the seccomp filter of
 * core/direct/containment.c allows no open at all):
 *
 *   stats_file_open    at start-up, before any technique attaches: creates
 *                      the temporary FILE.tmp.PID next to FILE (same
 *                      directory, so the final rename is atomic) and opens
 *                      that directory too; a bad path is an error here,
 *                      before anything runs;
 *   stats_file_commit  when the run ends: writes the document through the
 *                      open fd, fsyncs it, renames it over FILE and fsyncs
 *                      the directory, so a reader sees the old file or the
 *                      whole new one, and the rename survives a crash;
 *   stats_file_discard on bad input or any failure: removes the temporary.
 *
 * The document is written once per run; the temporary is used up by the
 * commit (a second document would need a second temporary, acquired up
 * front like this one). The price of opening early: FILE.tmp.PID exists
 * for the whole run, and a vmlab killed by SIGKILL or a crash leaves it
 * behind (FILE itself is never half-written).
 */
struct stats_file {
    const char *path;        /* FILE, as given */
    char temporary[4096];    /* FILE.tmp.PID; "" when there is none */
    int fd;                  /* the temporary, open for writing; -1 when closed */
    int directory_fd;        /* FILE's directory, for the fsync after rename */
};

/* Returns 0, or -1 with a one-line reason in error (and nothing left behind). */
int stats_file_open(struct stats_file *file, const char *path, char *error, size_t error_len);
/* Returns 0, or -1 with a one-line reason (the temporary is removed). */
int stats_file_commit(struct stats_file *file, const struct vm *vm, char *error,
                      size_t error_len);
/* Closes and removes the temporary, if any. Safe to call more than once. */
void stats_file_discard(struct stats_file *file);
/* An empty stats_file (no temporary, no fds): what discard expects when
 * stats_file_open was never called. */
void stats_file_init(struct stats_file *file);

/* The document as a string (caller frees). */
char *stats_to_json(const struct vm *vm);

/* --stats-out: the same summary and counters on one line (no newline), for
 * a VM that may still be running: elapsed_ns is its run time so far. The
 * CPU registers and the event ring are left out (the former belong to the
 * vCPU thread while it runs). final marks the line written after the stop,
 * which also has the exit status and reason. Caller frees. */
char *stats_to_json_line(const struct vm *vm, uint64_t elapsed_ns, bool final);

#endif
