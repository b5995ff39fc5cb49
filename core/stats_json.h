/*
 * stats_json.h - the statistics of a finished run as one JSON document
 * (--stats-json), for scripts, graders and the comparison reports.
 */
#ifndef VMLAB_STATS_JSON_H
#define VMLAB_STATS_JSON_H

#include <stddef.h>

struct vm;

/* Written to a temporary file and renamed over path, so a reader never sees
 * a partial document. Returns 0, or -1 with a reason in error. */
int stats_write_json(const struct vm *vm, const char *path, char *error, size_t error_len);

/* The document as a string (caller frees). */
char *stats_to_json(const struct vm *vm);

#endif
