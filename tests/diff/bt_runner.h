/*
 * bt_runner.h - the same sequence under the bt technique (techniques/bt),
 * through the core's technique interface.
 *
 * A small VM (vm_create_empty: RAM and devices, no guest image) whose
 * guest is the sequence: the region of layout.h at its own physical
 * addresses, the CPU state of machine.c, then technique_find("bt")'s
 * attach, run and detach, as a live switch would do them. The sequence is
 * followed by UD2: the run ends with an exception, which the empty IDT
 * turns into a triple fault (VM_EXIT_TRIPLE_FAULT) with the CPU state the
 * faulting instruction left. Which exception it was, and where, is the
 * first `guest-exception` event in the VM's event log - reported there by
 * bt like by every technique - so #UD at the end of the code means the
 * sequence completed.
 *
 * bt runs guest-virtual addresses as host addresses in the low 4 GiB of
 * its process and confines that process with seccomp, so the VM lives in
 * a forked, persistent child, like the native side's. The two share one
 * mapping (the request and the result) and talk through two pipes. A
 * child that dies (a VMM crash is a finding) or hangs is reported, and
 * the next run forks a fresh one.
 */
#ifndef VMLAB_DIFF_BT_RUNNER_H
#define VMLAB_DIFF_BT_RUNNER_H

#include <stddef.h>
#include <stdint.h>

#include "layout.h"

/* Forks the child. 0, or -1 with why: bt is not compiled in or cannot run
 * in this process (direct_supported, e.g. under AddressSanitizer). Call it
 * before native_start, which maps the low region bt needs. */
int bt_runner_start(char *why, size_t why_len);
void bt_runner_stop(void);

/* What bt did over all the runs so far, from its statistics rows: a bt
 * that ran every instruction in the core would compare the interpreter
 * with itself (tests/diff/run.sh checks that blocks were translated). */
struct bt_totals {
    uint64_t runs;
    uint64_t blocks;              /* bt-translate/block */
    uint64_t chains;              /* bt-chain/direct-exit: exits patched block to block */
    uint64_t callouts;            /* bt-callout/... (the run-ending UD2 included) */
    uint64_t fallbacks;           /* bt-fallback/... */
    uint64_t deadline_exits;      /* run() returned at a deadline (VM_EXIT_DEADLINE) */
};
void bt_runner_totals(struct bt_totals *totals);

/* Runs code[0..length) from `initial` over `data` (DATA_BUFFER_SIZE
 * bytes), the machine set up as for the interpreter. */
void bt_runner_run(const uint8_t *code, unsigned length, const struct machine_state *initial,
                   const uint8_t *data, struct interp_setup setup, struct run_result *result);

#endif
