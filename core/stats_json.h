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

/* Written to a temporary file and renamed over path, so a reader never sees
 * a partial document. Returns 0, or -1 with a reason in error. */
int stats_write_json(const struct vm *vm, const char *path, char *error, size_t error_len);

/* The document as a string (caller frees). */
char *stats_to_json(const struct vm *vm);

/* --stats-out: the same summary and counters on one line (no newline), for
 * a VM that may still be running: elapsed_ns is its run time so far. The
 * CPU registers and the event ring are left out (the former belong to the
 * vCPU thread while it runs). final marks the line written after the stop,
 * which also has the exit status and reason. Caller frees. */
char *stats_to_json_line(const struct vm *vm, uint64_t elapsed_ns, bool final);

#endif
