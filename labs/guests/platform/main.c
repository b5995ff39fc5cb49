/*
 * platform - probes the PC platform the way xv6 and kvm-unit-tests find it
 * (BIOS data area, MP tables, local APIC, I/O APIC, fw_cfg) and prints what
 * it sees, so the transcript can be compared with qemu-system-i386's.
 *
 * "test=NAME" picks one probe (bda, mptable, ...); without it every probe
 * runs in turn.
 */
#include "platform.h"

struct probe {
    const char *name;
    int (*run)(void);
};

static const struct probe probes[] = {
    {"bda", probe_bda},
    {"mptable", probe_mptable},
    {"lapic", probe_lapic},
    {"ioapic", probe_ioapic},
    {"fw_cfg", probe_fw_cfg},
    {"cga", probe_cga},
};

int guest_main(void)
{
    char wanted[32] = "";
    cmdline_get("test", wanted, sizeof wanted);
    int failures = 0, ran = 0;
    for (unsigned i = 0; i < sizeof probes / sizeof probes[0]; i++) {
        if (wanted[0] && !str_eq(wanted, probes[i].name))
            continue;
        printf("== %s\n", probes[i].name);
        failures += probes[i].run();
        ran++;
    }
    if (!ran) {
        printf("no probe named \"%s\"\n", wanted);
        return 2;
    }
    return failures ? 1 : 0;
}
