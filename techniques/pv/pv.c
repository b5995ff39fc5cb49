/*
 * pv.c - paravirtualization: a guest that knows it is virtualized.
 *
 * The other techniques run an unmodified guest and must find, one way or
 * another, every instruction that would notice the VMM: trapemu traps
 * them, bt translates them, hvm lets the CPU exit on them. Xen (SOSP 2003)
 * and lguest took the opposite road: port the guest kernel to an
 * interface of explicit calls into the VMM, so that nothing sensitive is
 * left in it to find. vmlab's interface (docs/pv.md, core/pv/abi.h):
 *
 *      guest kernel (kernel-pv.elf)           VMM (core/pv)
 *      ----------------------------------     ---------------------------------
 *      cli / sti                              shared info page: a mask byte the
 *        -> write shared->event_mask            guest writes - no exit at all
 *      mov %eax,%cr3 ; invlpg ; PTE writes    PV_MMUEXT / PV_MMU_UPDATE: every
 *        -> hypercalls, batched                 entry checked before it is made
 *      out to the UART, the PIC, the PIT      PV_CONSOLE_WRITE, PV_SET_TIMER,
 *        -> hypercalls                          events delivered as upcalls
 *      lidt / iret                            PV_SET_TRAP_TABLE, PV_IRET
 *
 * A hypercall is `call hypercall_page + 32 * n`; the page, written by the
 * VMM at PV_INIT, holds `mov $n,%eax; out %eax,$0xe0; ret`. Whichever
 * technique runs the guest services that OUT (the interpreter, bt's
 * callout), so a pv guest can be switched like any other.
 *
 * What this technique adds to running the same guest under bt is what
 * paravirtualization buys: **direct paging**. The VMM has validated every
 * entry of the guest's page tables (core/pv/mmu.c), so it does not need to
 * learn the address space one hidden fault at a time, nor to write-protect
 * the tables to notice edits (the guest cannot edit them: it asks). The
 * engine mirrors the whole address space when CR3 is loaded and each entry
 * when a hypercall writes it (core/direct/shadow.c, "direct paging"): the
 * shadow-pf, dirty and pt-write rows stay at zero, next to bt's hundreds.
 *
 * Where the guest's code runs: Xen runs the pv kernel directly on the CPU
 * (ring 1). Here that would mean 32-bit compatibility mode, which some of
 * our hosts do not have, and the direct path is not built yet; so the
 * guest runs on the bt engine (techniques/bt), whose translation of a pv
 * guest is almost all IDENT - there is nothing sensitive to rewrite - with
 * the hypercall page's OUT as the callout. pv borrows the engine through
 * the core's technique table (it does not include bt) and says so at
 * attach, once per run.
 */
#include "pv.h"

#include <stdio.h>

#include "core/host.h"
#include "core/vm.h"

/* The technique whose engine runs the pv guest's code. */
static const struct technique *engine(void)
{
    return technique_find("bt");
}

static bool pv_available(char *why, size_t why_len)
{
    const struct technique *bt = engine();
    if (!bt) {
        snprintf(why, why_len, "pv runs on the bt engine, and this build has no bt");
        return false;
    }
    return bt->available(why, why_len);
}

static int refuse(struct vm *vm, const char *why)
{
    snprintf(vm->stop_reason, sizeof vm->stop_reason, "%s", why);
    return -1;
}

/* Once per run, on stderr: which engine runs the code, and why. */
static void say_engine(struct vm *vm)
{
    char why[200];
    if (vm->pv.engine_said)
        return;
    vm->pv.engine_said = true;
    if (host_has(HOST_COMPAT_MODE, why, sizeof why))
        fprintf(stderr, "vmlab: pv: the guest's code runs on the bt engine (direct execution in "
                        "compatibility mode is not built yet); its page tables are mirrored "
                        "whole (direct paging)\n");
    else
        fprintf(stderr, "vmlab: pv: the guest's code runs on the bt engine, because %s; its page "
                        "tables are mirrored whole (direct paging)\n", why);
}

/* A pv guest says so in its image (core/pv/note.c): without the note it
 * would use instructions this technique does not expect to see. */
static bool pv_takes_guest(const struct vm *vm, char *why, size_t why_len)
{
    if (vm->pv.enabled)
        return true;
    snprintf(why, why_len, "this guest is not a pv guest: its image has no PV note (ELF note "
                           "\"" PV_NOTE_NAME "\", type 0x5056; docs/pv.md). Run it under "
                           "interp, trapemu, bt or hvm");
    return false;
}

static int pv_attach(struct vm *vm)
{
    char why[300];
    if (!pv_takes_guest(vm, why, sizeof why))
        return refuse(vm, why);
    if (!pv_available(why, sizeof why))
        return refuse(vm, why);
    vm->pv.direct_paging = true;
    if (engine()->attach(vm) < 0) {
        vm->pv.direct_paging = false;
        return -1;
    }
    say_engine(vm);
    stats_count(stats_counter(&vm->stats, "pv-engine", "bt"), 0);
    return 0;
}

static enum vm_exit pv_run(struct vm *vm)
{
    return engine()->run(vm);
}

static void pv_detach(struct vm *vm)
{
    engine()->detach(vm);
    vm->pv.direct_paging = false;
}

const struct technique pv_technique = {
    .name = "pv",
    .summary = "a guest ported to hypercalls; validated page tables mapped whole (on the bt engine)",
    .available = pv_available,
    .takes_guest = pv_takes_guest,
    .attach = pv_attach,
    .run = pv_run,
    .detach = pv_detach,
    .can_single_step = true,
};
