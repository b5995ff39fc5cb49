/*
 * cpu_state.c - struct cpu <-> the vCPU's state in KVM.
 *
 * Attach copies the core's struct cpu into the vCPU; detach copies it all
 * back, so that a live switch between interp and hvm loses nothing:
 *
 *   struct cpu                      KVM
 *   regs[], eip, eflags             KVM_SET_REGS / KVM_GET_REGS
 *   segments, LDTR, TR, GDTR, IDTR  KVM_SET_SREGS / KVM_GET_SREGS
 *   CR0, CR2, CR3, CR4, apic_base   (IA32_APIC_BASE is kvm_sregs.apic_base)
 *   DR0-3, DR6, DR7                 KVM_SET_DEBUGREGS / KVM_GET_DEBUGREGS
 *   sysenter_cs/esp/eip             KVM_SET_MSRS / KVM_GET_MSRS (0x174-0x176)
 *   tsc_offset                      the vCPU attribute KVM_VCPU_TSC_OFFSET, or MSR 0x10
 *   interrupt_shadow                KVM_SET_VCPU_EVENTS / KVM_GET_VCPU_EVENTS
 *   halted                          vmlab's own: without an in-kernel local
 *                                   APIC, KVM hands HLT to user space and
 *                                   does not keep a halted state itself.
 *
 * The vCPU is kept from one attach to the next (hvm.c), and nothing changes
 * it while another technique runs. So hvm->known remembers what it holds,
 * as last read or written here, and loading writes only what differs: a
 * flat guest back from a slice under interp usually has new registers but
 * the same segments, control, debug and SYSENTER registers and TSC offset.
 * Every vCPU ioctl skipped saves about 10 us on PVM (measured: the nine of
 * a full load took 85-100 us). KVM_RUN changes the vCPU, so run_guest
 * (hvm.c) forgets hvm->known before entering the guest.
 */
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>
#include <x86intrin.h>

#include "techniques/hvm/hvm_internal.h"

static int fail(char *why, size_t why_len, const char *what)
{
    snprintf(why, why_len, "%s: %s", what, strerror(errno));
    return -1;
}

/* ---- segments ------------------------------------------------------------ */

/* cpu.h keeps descriptor attributes in the VMX access-rights layout (SDM
 * vol. 3, 24.4.1); KVM wants them as separate fields (KVM API: KVM_GET_SREGS,
 * struct kvm_segment). An unusable segment (a null selector was loaded) is
 * also not present: VMX and SVM agree on that reading. */
static struct kvm_segment to_kvm_segment(const struct segment *segment)
{
    uint32_t attributes = segment->attributes;
    bool unusable = attributes & SEG_ATTR_UNUSABLE;
    return (struct kvm_segment){
        .base = segment->base,
        .limit = segment->limit,
        .selector = segment->selector,
        .type = SEG_ATTR_TYPE(attributes),
        .present = (attributes & SEG_ATTR_P) && !unusable,
        .dpl = SEG_ATTR_DPL(attributes),
        .db = !!(attributes & SEG_ATTR_DB),
        .s = !!(attributes & SEG_ATTR_S),
        .l = 0,
        .g = !!(attributes & SEG_ATTR_G),
        .avl = !!(attributes & SEG_ATTR_AVL),
        .unusable = unusable,
    };
}

static struct segment from_kvm_segment(const struct kvm_segment *kvm)
{
    uint32_t attributes = (kvm->type & 0xfu) | (kvm->s ? SEG_ATTR_S : 0) |
                          ((kvm->dpl & 3u) << 5) | (kvm->present ? SEG_ATTR_P : 0) |
                          (kvm->avl ? SEG_ATTR_AVL : 0) | (kvm->db ? SEG_ATTR_DB : 0) |
                          (kvm->g ? SEG_ATTR_G : 0) | (kvm->unusable ? SEG_ATTR_UNUSABLE : 0);
    return (struct segment){.selector = kvm->selector, .base = (uint32_t)kvm->base,
                            .limit = kvm->limit, .attributes = attributes};
}

/* Multiboot hands over a CPU that never executed LTR: TR is null. A VMX
 * VM entry requires a present, busy TSS in TR anyway (SDM vol. 3, 26.3.1.2),
 * so we give the vCPU what KVM itself puts there at reset (busy 32-bit TSS,
 * base 0, limit 0xffff) and remember that we did, so that detach returns the
 * null TR if the guest never loaded its own. A guest cannot tell: TR is only
 * used by a task switch or an interrupt from ring 3, both of which need a
 * TSS the guest must first load with LTR. */
static struct kvm_segment task_register_for_kvm(struct hvm *hvm, const struct segment *tr)
{
    hvm->tr_given = *tr;
    hvm->tr_invented = !(tr->attributes & SEG_ATTR_P) || (tr->attributes & SEG_ATTR_UNUSABLE);
    if (!hvm->tr_invented)
        return to_kvm_segment(tr);
    return (struct kvm_segment){.selector = tr->selector, .base = 0, .limit = 0xffff,
                                .type = 11, .present = 1};
}

static struct segment task_register_from_kvm(const struct hvm *hvm, const struct kvm_segment *tr)
{
    bool untouched = tr->selector == hvm->tr_given.selector && tr->base == 0 &&
                     tr->limit == 0xffff && tr->type == 11;
    if (hvm->tr_invented && untouched)
        return hvm->tr_given;
    return from_kvm_segment(tr);
}

/* ---- registers ----------------------------------------------------------- */

static struct kvm_regs to_kvm_regs(const struct cpu *cpu)
{
    const uint32_t *r = cpu->regs;
    return (struct kvm_regs){
        .rax = r[REG_EAX], .rbx = r[REG_EBX], .rcx = r[REG_ECX], .rdx = r[REG_EDX],
        .rsi = r[REG_ESI], .rdi = r[REG_EDI], .rsp = r[REG_ESP], .rbp = r[REG_EBP],
        .rip = cpu->eip, .rflags = cpu->eflags | EFLAGS_FIXED,
    };
}

static void from_kvm_regs(const struct kvm_regs *kvm, struct cpu *cpu)
{
    uint32_t *r = cpu->regs;
    r[REG_EAX] = (uint32_t)kvm->rax;
    r[REG_EBX] = (uint32_t)kvm->rbx;
    r[REG_ECX] = (uint32_t)kvm->rcx;
    r[REG_EDX] = (uint32_t)kvm->rdx;
    r[REG_ESI] = (uint32_t)kvm->rsi;
    r[REG_EDI] = (uint32_t)kvm->rdi;
    r[REG_ESP] = (uint32_t)kvm->rsp;
    r[REG_EBP] = (uint32_t)kvm->rbp;
    cpu->eip = (uint32_t)kvm->rip;
    cpu->eflags = (uint32_t)kvm->rflags;
}

void hvm_save_registers_from_run(const struct hvm *hvm, struct cpu *cpu)
{
    from_kvm_regs(&hvm->run->s.regs.regs, cpu);
}

/* Some KVMs accept KVM_SET_SREGS and quietly keep other control register
 * values: PVM, for one, drops CR0.PG for a 32-bit guest. Running on would
 * run the guest in the wrong mode, so read them back and say so. ET is
 * hardwired to 1 on every CPU since the 486 (SDM vol. 3, 2.5), so ignore it. */
static int check_control_registers_taken(struct hvm *hvm, const struct cpu *cpu, char *why,
                                         size_t why_len)
{
    struct kvm_sregs taken;
    if (ioctl(hvm->vcpu_fd, KVM_GET_SREGS, &taken) < 0)
        return fail(why, why_len, "KVM_GET_SREGS");
    hvm->known.sregs = taken;   /* what the vCPU really holds now */
    bool same = ((uint32_t)taken.cr0 | CR0_ET) == (cpu->cr0 | CR0_ET) &&
                (uint32_t)taken.cr4 == cpu->cr4 && (uint32_t)taken.cr3 == cpu->cr3;
    if (same)
        return 0;
    snprintf(why, why_len, "this KVM did not take the guest's control registers (asked CR0=0x%08x "
             "CR3=0x%08x CR4=0x%08x, kept 0x%08x 0x%08x 0x%08x): it cannot run the guest in this "
             "mode%s", cpu->cr0, cpu->cr3, cpu->cr4, (uint32_t)taken.cr0, (uint32_t)taken.cr3,
             (uint32_t)taken.cr4, (cpu->cr0 & CR0_PG) ? " (32-bit paging)" : "");
    return -1;
}

/* The kvm_sregs for cpu, on top of base for what struct cpu does not model
 * (CR8). */
static struct kvm_sregs sregs_for_kvm(struct hvm *hvm, const struct cpu *cpu,
                                      const struct kvm_sregs *base)
{
    struct kvm_sregs sregs = *base;
    const struct segment *s = cpu->segments;
    sregs.es = to_kvm_segment(&s[SEG_ES]);
    sregs.cs = to_kvm_segment(&s[SEG_CS]);
    sregs.ss = to_kvm_segment(&s[SEG_SS]);
    sregs.ds = to_kvm_segment(&s[SEG_DS]);
    sregs.fs = to_kvm_segment(&s[SEG_FS]);
    sregs.gs = to_kvm_segment(&s[SEG_GS]);
    sregs.ldt = to_kvm_segment(&cpu->ldtr);
    sregs.tr = task_register_for_kvm(hvm, &cpu->tr);
    sregs.gdt = (struct kvm_dtable){.base = cpu->gdtr.base, .limit = cpu->gdtr.limit};
    sregs.idt = (struct kvm_dtable){.base = cpu->idtr.base, .limit = cpu->idtr.limit};
    sregs.cr0 = cpu->cr0;
    sregs.cr2 = cpu->cr2;
    sregs.cr3 = cpu->cr3;
    sregs.cr4 = cpu->cr4;
    sregs.efer = 0;   /* a 32-bit CPU: no long mode, no NX */
    sregs.apic_base = cpu->apic_base;   /* the APIC itself is core/dev/lapic.c */
    /* A set bit here would be an interrupt pending in KVM's own (absent)
     * interrupt controller (KVM API: KVM_SET_SREGS). */
    memset(sregs.interrupt_bitmap, 0, sizeof sregs.interrupt_bitmap);
    return sregs;
}

static int load_sregs(struct hvm *hvm, const struct cpu *cpu, char *why, size_t why_len)
{
    struct kvm_sregs base;
    if (hvm->known.valid)
        base = hvm->known.sregs;
    else if (ioctl(hvm->vcpu_fd, KVM_GET_SREGS, &base) < 0)
        return fail(why, why_len, "KVM_GET_SREGS");
    struct kvm_sregs sregs = sregs_for_kvm(hvm, cpu, &base);
    if (hvm->known.valid && memcmp(&sregs, &hvm->known.sregs, sizeof sregs) == 0)
        return 0;   /* the vCPU holds exactly these: checked when they were set */
    if (ioctl(hvm->vcpu_fd, KVM_SET_SREGS, &sregs) < 0) {
        snprintf(why, why_len, "KVM_SET_SREGS refused the CPU state (CR0=0x%08x CR3=0x%08x "
                 "CR4=0x%08x CS=0x%04x): %s", cpu->cr0, cpu->cr3, cpu->cr4,
                 cpu->segments[SEG_CS].selector, strerror(errno));
        return -1;
    }
    return check_control_registers_taken(hvm, cpu, why, why_len);
}

static int save_sregs(struct hvm *hvm, struct cpu *cpu, char *why, size_t why_len)
{
    struct kvm_sregs sregs;
    if (ioctl(hvm->vcpu_fd, KVM_GET_SREGS, &sregs) < 0)
        return fail(why, why_len, "KVM_GET_SREGS");
    hvm->known.sregs = sregs;
    struct segment *s = cpu->segments;
    s[SEG_ES] = from_kvm_segment(&sregs.es);
    s[SEG_CS] = from_kvm_segment(&sregs.cs);
    s[SEG_SS] = from_kvm_segment(&sregs.ss);
    s[SEG_DS] = from_kvm_segment(&sregs.ds);
    s[SEG_FS] = from_kvm_segment(&sregs.fs);
    s[SEG_GS] = from_kvm_segment(&sregs.gs);
    cpu->ldtr = from_kvm_segment(&sregs.ldt);
    cpu->tr = task_register_from_kvm(hvm, &sregs.tr);
    cpu->gdtr = (struct table_register){.base = (uint32_t)sregs.gdt.base, .limit = sregs.gdt.limit};
    cpu->idtr = (struct table_register){.base = (uint32_t)sregs.idt.base, .limit = sregs.idt.limit};
    cpu->cr0 = (uint32_t)sregs.cr0;
    cpu->cr2 = (uint32_t)sregs.cr2;
    cpu->cr3 = (uint32_t)sregs.cr3;
    cpu->cr4 = (uint32_t)sregs.cr4;
    cpu->apic_base = sregs.apic_base;
    return 0;
}

/* ---- debug registers (SDM vol. 3, 17.2) ------------------------------------ */

static int load_debug_registers(struct hvm *hvm, const struct cpu *cpu, char *why, size_t why_len)
{
    struct kvm_debugregs debug;
    memset(&debug, 0, sizeof debug);   /* compared with memcmp: no stray padding */
    debug.dr6 = cpu->dr[6];
    debug.dr7 = cpu->dr[7];
    for (int i = 0; i < 4; i++)
        debug.db[i] = cpu->dr[i];
    /* DR6 and DR7 have bits that always read as 1 (0xffff0ff0 and 0x400);
     * a struct cpu that was never run may hold zeros there. */
    debug.dr6 |= 0xffff0ff0u;
    debug.dr7 |= 0x400u;
    if (hvm->known.valid && memcmp(&debug, &hvm->known.debug, sizeof debug) == 0)
        return 0;
    if (ioctl(hvm->vcpu_fd, KVM_SET_DEBUGREGS, &debug) < 0)
        return fail(why, why_len, "KVM_SET_DEBUGREGS");
    hvm->known.debug = debug;
    return 0;
}

static int save_debug_registers(struct hvm *hvm, struct cpu *cpu, char *why, size_t why_len)
{
    struct kvm_debugregs debug;
    if (ioctl(hvm->vcpu_fd, KVM_GET_DEBUGREGS, &debug) < 0)
        return fail(why, why_len, "KVM_GET_DEBUGREGS");
    hvm->known.debug = debug;
    for (int i = 0; i < 4; i++)
        cpu->dr[i] = (uint32_t)debug.db[i];
    cpu->dr[6] = (uint32_t)debug.dr6;
    cpu->dr[7] = (uint32_t)debug.dr7;
    return 0;
}

/* ---- MSRs and the TSC ------------------------------------------------------ */

#define SYSENTER_MSR_COUNT 3

struct msr_list {
    struct kvm_msrs header;
    struct kvm_msr_entry entries[SYSENTER_MSR_COUNT + 1];
};

static bool sysenter_known(const struct hvm *hvm, const struct cpu *cpu)
{
    return hvm->known.valid && hvm->known.sysenter[0] == cpu->sysenter_cs &&
           hvm->known.sysenter[1] == cpu->sysenter_esp &&
           hvm->known.sysenter[2] == cpu->sysenter_eip;
}

static void remember_sysenter(struct hvm *hvm, const struct cpu *cpu)
{
    hvm->known.sysenter[0] = cpu->sysenter_cs;
    hvm->known.sysenter[1] = cpu->sysenter_esp;
    hvm->known.sysenter[2] = cpu->sysenter_eip;
}

static int load_msrs(struct hvm *hvm, const struct cpu *cpu, char *why, size_t why_len)
{
    /* The TSC through the MSR is relative to now: always written. */
    if (hvm->has_tsc_offset_attribute && sysenter_known(hvm, cpu))
        return 0;
    struct msr_list list = {.header.nmsrs = SYSENTER_MSR_COUNT};
    list.entries[0] = (struct kvm_msr_entry){.index = MSR_IA32_SYSENTER_CS,
                                             .data = cpu->sysenter_cs};
    list.entries[1] = (struct kvm_msr_entry){.index = MSR_IA32_SYSENTER_ESP,
                                             .data = cpu->sysenter_esp};
    list.entries[2] = (struct kvm_msr_entry){.index = MSR_IA32_SYSENTER_EIP,
                                             .data = cpu->sysenter_eip};
    if (!hvm->has_tsc_offset_attribute) {
        /* Guest TSC = host TSC + offset (cpu.h): computed now, so it is off
         * by the few hundred cycles until KVM takes it. */
        list.entries[list.header.nmsrs++] = (struct kvm_msr_entry){
            .index = MSR_IA32_TSC, .data = __rdtsc() + (uint64_t)cpu->tsc_offset};
    }
    int set = ioctl(hvm->vcpu_fd, KVM_SET_MSRS, &list);
    if (set != (int)list.header.nmsrs) {
        snprintf(why, why_len, "KVM_SET_MSRS took %d of %u MSRs (SYSENTER_*, TSC)", set,
                 list.header.nmsrs);
        return -1;
    }
    remember_sysenter(hvm, cpu);
    return 0;
}

static int save_msrs(struct hvm *hvm, struct cpu *cpu, char *why, size_t why_len)
{
    struct msr_list list = {.header.nmsrs = SYSENTER_MSR_COUNT};
    list.entries[0].index = MSR_IA32_SYSENTER_CS;
    list.entries[1].index = MSR_IA32_SYSENTER_ESP;
    list.entries[2].index = MSR_IA32_SYSENTER_EIP;
    if (!hvm->has_tsc_offset_attribute)
        list.entries[list.header.nmsrs++].index = MSR_IA32_TSC;
    int got = ioctl(hvm->vcpu_fd, KVM_GET_MSRS, &list);
    uint64_t host_tsc = __rdtsc();
    if (got != (int)list.header.nmsrs) {
        snprintf(why, why_len, "KVM_GET_MSRS read %d of %u MSRs", got, list.header.nmsrs);
        return -1;
    }
    cpu->sysenter_cs = (uint32_t)list.entries[0].data;
    cpu->sysenter_esp = (uint32_t)list.entries[1].data;
    cpu->sysenter_eip = (uint32_t)list.entries[2].data;
    remember_sysenter(hvm, cpu);
    if (!hvm->has_tsc_offset_attribute)
        cpu->tsc_offset = (int64_t)(list.entries[3].data - host_tsc);
    return 0;
}

/* KVM keeps exactly cpu.h's relation, guest TSC = host TSC + offset, and
 * lets user space set the offset itself (KVM API: "VCPU TSC control",
 * KVM_VCPU_TSC_OFFSET), which is exact where the MSR route is not. */
static int tsc_offset_attribute(struct hvm *hvm, int64_t *offset, unsigned long request)
{
    struct kvm_device_attr attribute = {.group = KVM_VCPU_TSC_CTRL, .attr = KVM_VCPU_TSC_OFFSET,
                                        .addr = (uint64_t)(uintptr_t)offset};
    return ioctl(hvm->vcpu_fd, request, &attribute);
}

/* ---- events ---------------------------------------------------------------- */

/* discard_past: start from no events at all rather than KVM's (see
 * hvm_load_cpu). */
static int load_events(struct hvm *hvm, const struct cpu *cpu, bool discard_past, char *why,
                       size_t why_len)
{
    struct kvm_vcpu_events events;
    memset(&events, 0, sizeof events);
    if (!discard_past && ioctl(hvm->vcpu_fd, KVM_GET_VCPU_EVENTS, &events) < 0)
        return fail(why, why_len, "KVM_GET_VCPU_EVENTS");
    /* struct cpu does not say whether STI or MOV SS made the shadow; both
     * block interrupts for one instruction (SDM vol. 3, 6.8.3), which is
     * all an interrupt controller can observe. */
    events.interrupt.shadow = cpu->interrupt_shadow ? KVM_X86_SHADOW_INT_STI : 0;
    events.flags = KVM_VCPUEVENT_VALID_SHADOW |
                   (discard_past ? KVM_VCPUEVENT_VALID_NMI_PENDING : 0);
    hvm->known.events_valid = false;
    if (ioctl(hvm->vcpu_fd, KVM_SET_VCPU_EVENTS, &events) < 0)
        return fail(why, why_len, "KVM_SET_VCPU_EVENTS");
    return 0;
}

static int save_events(struct hvm *hvm, struct cpu *cpu, char *why, size_t why_len)
{
    struct kvm_vcpu_events events = hvm->known.events;
    if (!hvm->known.events_valid && ioctl(hvm->vcpu_fd, KVM_GET_VCPU_EVENTS, &events) < 0)
        return fail(why, why_len, "KVM_GET_VCPU_EVENTS");
    cpu->interrupt_shadow = events.interrupt.shadow != 0;
    return 0;
}

/* ---- the whole CPU ------------------------------------------------------------ */

/* TSC offset: KVM keeps it constant, so it is known like the rest. */
static int load_tsc_offset(struct hvm *hvm, const struct cpu *cpu, char *why, size_t why_len)
{
    int64_t offset = cpu->tsc_offset;
    if (!hvm->has_tsc_offset_attribute ||
        (hvm->known.valid && hvm->known.tsc_offset == offset))
        return 0;
    if (tsc_offset_attribute(hvm, &offset, KVM_SET_DEVICE_ATTR) < 0)
        return fail(why, why_len, "KVM_SET_DEVICE_ATTR (TSC offset)");
    hvm->known.tsc_offset = offset;
    return 0;
}

/*
 * discard_past, on attach: an interrupt or exception KVM had accepted but
 * not delivered, an NMI pending or blocked, belong to a past the guest has
 * left while another technique ran it (detach lets KVM deliver what it can
 * first, hvm.c). A new vCPU starts with none; so does a kept one.
 * KVM_SET_VCPU_EVENTS always takes the exception, interrupt and
 * injected-NMI fields, and the pending NMI with VALID_NMI_PENDING (KVM API:
 * KVM_SET_VCPU_EVENTS). What it cannot reach - a vector given with
 * KVM_INTERRUPT that no KVM_RUN has taken yet - cannot exist here:
 * interrupts.c calls KVM_INTERRUPT only right before KVM_RUN. Without
 * discard_past (emulate.c, in the middle of a slice) KVM's events stay.
 */
static int load_all(struct hvm *hvm, const struct cpu *cpu, bool discard_past, char *why,
                    size_t why_len)
{
    struct kvm_regs regs = to_kvm_regs(cpu);
    if (load_sregs(hvm, cpu, why, why_len) < 0)
        return -1;
    if (ioctl(hvm->vcpu_fd, KVM_SET_REGS, &regs) < 0)
        return fail(why, why_len, "KVM_SET_REGS");
    hvm->registers_in_run = false;   /* kvm_run->s.regs is stale until the next exit */
    if (load_debug_registers(hvm, cpu, why, why_len) < 0 || load_msrs(hvm, cpu, why, why_len) < 0 ||
        load_tsc_offset(hvm, cpu, why, why_len) < 0)
        return -1;
    return load_events(hvm, cpu, discard_past, why, why_len);
}

int hvm_load_cpu(struct hvm *hvm, const struct cpu *cpu, bool discard_past, char *why,
                 size_t why_len)
{
    int result = load_all(hvm, cpu, discard_past, why, why_len);
    hvm->known.valid = result == 0;   /* after a failure, trust nothing */
    return result;
}

/* The general registers: KVM copied them into kvm_run at the last return
 * from KVM_RUN (KVM_SYNC_X86_REGS, also after an immediate_exit that
 * completed an IN), so no ioctl is needed unless that copy is missing. */
static int save_registers(struct hvm *hvm, struct cpu *cpu, char *why, size_t why_len)
{
    if (hvm->registers_in_run && (hvm->run->kvm_valid_regs & KVM_SYNC_X86_REGS)) {
        hvm_save_registers_from_run(hvm, cpu);
        return 0;
    }
    struct kvm_regs regs;
    if (ioctl(hvm->vcpu_fd, KVM_GET_REGS, &regs) < 0)
        return fail(why, why_len, "KVM_GET_REGS");
    from_kvm_regs(&regs, cpu);
    return 0;
}

int hvm_save_cpu(struct hvm *hvm, struct cpu *cpu, char *why, size_t why_len)
{
    hvm->known.valid = false;
    if (save_registers(hvm, cpu, why, why_len) < 0 || save_sregs(hvm, cpu, why, why_len) < 0 ||
        save_debug_registers(hvm, cpu, why, why_len) < 0 || save_msrs(hvm, cpu, why, why_len) < 0)
        return -1;
    int64_t offset;
    if (hvm->has_tsc_offset_attribute) {
        if (tsc_offset_attribute(hvm, &offset, KVM_GET_DEVICE_ATTR) < 0)
            return fail(why, why_len, "KVM_GET_DEVICE_ATTR (TSC offset)");
        cpu->tsc_offset = offset;
        hvm->known.tsc_offset = offset;
    }
    if (save_events(hvm, cpu, why, why_len) < 0)
        return -1;
    hvm->known.valid = true;
    return 0;
}
