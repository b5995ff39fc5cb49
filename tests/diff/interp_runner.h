/*
 * interp_runner.h - the same sequence under vmlab's interpreter core.
 *
 * A standalone struct emulator (core/x86 + core/mem + core/dev/bus +
 * core/stats), set up like techniques/interp: flat 32-bit protected mode,
 * the code and the data areas at the same linear addresses as natively
 * (layout.h) - physical too, paging being off or an identity mapping - at
 * CPL 0 or 3 (struct interp_setup). Each instruction is decoded with
 * x86_decode and run with its x86_select_handler handler; a fault arrives
 * by longjmp and ends the run, as the interp technique would deliver it.
 */
#ifndef VMLAB_DIFF_INTERP_RUNNER_H
#define VMLAB_DIFF_INTERP_RUNNER_H

#include <stdbool.h>
#include <stdint.h>

#include "layout.h"

int interp_runner_start(void);

void interp_run(const uint8_t *code, unsigned length, const struct machine_state *initial,
                const uint8_t *data, struct interp_setup setup, struct run_result *result);

#endif
