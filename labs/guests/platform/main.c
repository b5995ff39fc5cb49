/*
 * platform - probes the PC platform the way xv6 and kvm-unit-tests find it
 * (BIOS data area, MP tables, local APIC, I/O APIC, fw_cfg) and prints what
 * it sees, so the transcript can be compared with qemu-system-i386's.
 *
 * "test=NAME" picks one probe (bda, mptable, ...); without it every probe
 * runs in turn, except those that need disk images (ata).
 */
#include "platform.h"

struct probe {
    const char *name;
    int (*run)(void);
    bool only_when_named;   /* needs something from the test script (disk images) */
};

static const struct probe probes[] = {
    {"bda", probe_bda, false},
    {"mptable", probe_mptable, false},
    {"lapic", probe_lapic, false},
    {"ioapic", probe_ioapic, false},
    {"fw_cfg", probe_fw_cfg, false},
    {"cga", probe_cga, false},
    {"task", probe_task, false},
    {"uart", probe_uart, false},
    {"ata", probe_ata, true},
};

int guest_main(void)
{
    char wanted[32] = "";
    cmdline_get("test", wanted, sizeof wanted);
    int failures = 0, ran = 0;
    for (unsigned i = 0; i < sizeof probes / sizeof probes[0]; i++) {
        if (wanted[0] ? !str_eq(wanted, probes[i].name) : probes[i].only_when_named)
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
