/*
 * native.h - the host CPU as the reference: run a sequence in 32-bit
 * compatibility mode in a forked child.
 *
 * The child is persistent (one fork, many sequences) and shares the low
 * region of layout.h with the harness: the harness writes the code and the
 * data area, the child runs and fills the save area. An exception in the
 * sequence arrives as a signal and is reported with the state it left
 * (struct fault_report). A child that dies anyway (a fault outside the
 * sequence: a harness bug) or hangs is reported, and the next run forks a
 * fresh child.
 */
#ifndef VMLAB_DIFF_NATIVE_H
#define VMLAB_DIFF_NATIVE_H

#include <stdbool.h>
#include <stdint.h>

#include "layout.h"

/* Maps the shared low region and forks the child. 0 or -1 (message printed).
 * *low_area says whether the low data area (layout.h) could be mapped. */
int native_start(bool *low_area);
void native_stop(void);

/* Runs code[0..length) from `initial` over `data` (DATA_BUFFER_SIZE bytes). */
void native_run(const uint8_t *code, unsigned length, const struct machine_state *initial,
                const uint8_t *data, uint32_t protected_page, bool absent, struct run_result *result);

#endif
