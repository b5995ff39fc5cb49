/*
 * trapemu.c - trap-and-emulate (Popek and Goldberg, 1974).
 *
 * The guest's instructions run natively, on the host CPU, in 32-bit
 * compatibility mode at host ring 3 - the guest kernel too, de-privileged.
 * Most instructions (mov, add, call, a whole compute loop) never notice.
 * The ones that would let the guest take the machine from us are
 * privileged, so at ring 3 the CPU refuses them with an exception, Linux
 * turns the exception into a signal, and the signal lands in
 * trapemu_trap() below - the trap handler, the heart of this technique:
 *
 *    guest: cli  --#GP-->  Linux: SIGSEGV  -->  trapemu_trap()
 *                          decode the instruction at EIP (x86_decode),
 *                          execute it on the VIRTUAL CPU (x86_execute on
 *                          vm->cpu: clears the virtual IF), EIP += length,
 *                          resume the guest after the instruction.
 *
 * What traps (SDM vol. 3, 5.9 "Privileged instructions", vol. 1, 18.5 I/O):
 * cli, sti, hlt, in/out (CPL > IOPL = 0), lgdt/lidt/ltr/lldt, mov to/from
 * CR and DR, invlpg, wrmsr/rdmsr, int n (the host IDT gates are DPL 0),
 * iret/far jumps/segment loads naming the guest's own selectors (the host
 * GDT refuses them), and page faults on pages the shadow page table has not
 * mapped yet (core/direct/shadow.c).
 *
 * What does NOT trap, and so is not virtualized (the lesson): pushf shows
 * the host's IF (always 1) and IOPL 0; popf silently ignores IF; push cs,
 * mov from a segment register, sgdt/sidt/smsw (answered by Linux's UMIP
 * emulation with dummy values), lar/lsl/verr/verw, cpuid and rdtsc see the
 * host. The teaching kernel's `sensitive` scenario shows each one. Binary
 * translation (bt) and paravirtualization (pv) are the historical answers.
 *
 * Interrupts: the virtual IF lives in vm->cpu.eflags. A PIC interrupt is
 * delivered (x86_deliver_event builds the guest's frame exactly as the
 * hardware would) whenever the handler or the run loop finds the virtual
 * IF set and the line raised. Time: a timer signal at vm->deadline_ns
 * brings even a guest that never traps back to the run loop.
 */
#include "trapemu.h"

#include <linux/audit.h>
#include <setjmp.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "core/direct/compat.h"
#include "core/direct/shadow.h"
#include "core/host.h"
#include "core/vm.h"
#include "core/x86/execute.h"
#include "core/x86/system.h"

#define INT_0X80 0x80

struct trapemu {
    struct vm *vm;
    struct emulator emulator;
    struct x86_executor executor;
    struct shadow shadow;
    struct direct_vcpu vcpu;
    const char *trap_reason;            /* the row this trap is counted in */
    /* Rows looked up by the address of their (static) reason string: a
     * trap must not pay for a search of the whole table by name. */
    struct {
        const char *reason;
        struct stats_counter *row;
    } trap_rows[64];
    struct stats_counter *inject_rows[256];
    struct stats_counter *port_rows[65536];
};

static bool emulate_instruction(struct trapemu *t, enum vm_exit *exit);
static bool handle_page_fault(struct trapemu *t, const struct direct_trap *trap, enum vm_exit *exit);
static bool handle_system_call(struct trapemu *t, const struct direct_trap *trap, enum vm_exit *exit);
static bool after_trap(struct trapemu *t, enum vm_exit *exit);
static bool handle_left_compat(struct trapemu *t, const struct direct_trap *trap, enum vm_exit *exit);
static bool peek_guest(struct trapemu *t, uint32_t linear, uint8_t *bytes, unsigned count);
static void adopt_native_selectors(struct trapemu *t, const struct direct_trap *trap);
static uint32_t instruction_start(struct trapemu *t, const struct direct_trap *trap);
static void count_trap(struct trapemu *t, uint64_t start, uint32_t eip);
static enum vm_exit stop_with(struct trapemu *t, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- the trap handler ------------------------------------------------------------ */

/*
 * Called by the substrate (core/direct/traps.c) in signal context, with the
 * guest's registers, EIP and arithmetic flags already copied into vm->cpu.
 * Returns DIRECT_RESUME to go on natively from vm->cpu, or DIRECT_EXIT to
 * give the run loop *exit_code (an enum vm_exit).
 */
static enum direct_verdict trapemu_trap(void *context, struct direct_trap *trap, int *exit_code)
{
    struct trapemu *t = context;
    struct cpu *cpu = &t->vm->cpu;
    uint64_t start = stats_now_ns();
    uint32_t eip = cpu->eip;
    enum vm_exit exit = VM_EXIT_DEADLINE;
    bool leave = false;

    t->trap_reason = NULL;
    adopt_native_selectors(t, trap);
    switch (trap->kind) {
    case DIRECT_TRAP_DEADLINE:         /* the time slice is over: the core runs the timers */
        leave = true;
        break;
    case DIRECT_TRAP_LEFT_COMPAT:      /* a far transfer to 0x33: a call gate, or hostile */
        leave = handle_left_compat(t, trap, &exit);
        break;
    case DIRECT_TRAP_SYSCALL:          /* seccomp caught int 0x80 (or worse) */
        leave = handle_system_call(t, trap, &exit);
        break;
    case DIRECT_TRAP_FAULT:
        if (trap->signal == SIGSEGV && trap->trap_number == EXC_PF) {
            leave = handle_page_fault(t, trap, &exit);
        } else if (trap->signal == SIGTRAP && trap->trap_number == EXC_DB) {
            t->trap_reason = "debug";  /* TF set natively by popf: dropped, see docs */
        } else {
            /* The privileged instruction itself: emulate it on the virtual CPU. */
            cpu->eip = instruction_start(t, trap);
            eip = cpu->eip;
            leave = emulate_instruction(t, &exit);
        }
        break;
    }
    if (!leave)
        leave = after_trap(t, &exit);
    count_trap(t, start, eip);
    *exit_code = (int)exit;
    return leave ? DIRECT_EXIT : DIRECT_RESUME;
}

/*
 * A host page fault. Usually the guest's page is fine and the shadow
 * simply had not mapped it yet: map it and retry - the guest never knows
 * ("hidden" fault). Otherwise the instruction is emulated: a true guest #PF
 * is then raised by the emulator with the guest's CR2 and error code, and
 * accesses to pages the host cannot map (page 0, the VGA hole, MMIO) and
 * writes to guest page tables simply happen in C.
 */
static bool handle_page_fault(struct trapemu *t, const struct direct_trap *trap, enum vm_exit *exit)
{
    bool write = trap->error_code & 2, present = trap->error_code & 1;
    if (trap->fault_address >= DIRECT_GUEST_SPACE_END)
        return emulate_instruction(t, exit);
    uint32_t linear = (uint32_t)trap->fault_address;
    switch (shadow_fault(&t->shadow, linear, write, present)) {
    case SHADOW_MAPPED:
        t->trap_reason = "shadow-pf";     /* the hidden fault, with its handling time */
        return false;
    case SHADOW_PT_WRITE: {
        uint32_t physical = 0, error;
        bool user = cpu_cpl(&t->vm->cpu) == 3;
        x86_translate(&t->emulator, linear, ACCESS_WRITE, user, false, &physical, &error);
        uint32_t before = t->vm->cpu.regs[REG_ECX];
        bool leave = emulate_instruction(t, exit);
        bool string = before != t->vm->cpu.regs[REG_ECX];   /* rep stos/movs: many entries */
        shadow_pt_written(&t->shadow, physical, 8, string);
        return leave;
    }
    case SHADOW_EMULATE:
        return emulate_instruction(t, exit);
    }
    return false;
}

/*
 * The guest's selector 0x33 (GDT entry 6, RPL 3) is, by accident, the
 * host's 64-bit user code segment: a far call to it does not trap, it
 * switches the host CPU to 64-bit mode (a segment load that "happens to be
 * valid", docs/trapemu.md). If the guest meant a call gate, the offset of the
 * instruction is ignored by the hardware and is usually 0: the very first
 * 64-bit instruction fetch faults, nothing has run, and the far call's
 * return frame (EIP, CS 0x23) is on the stack. Then undo it and emulate the
 * far call with the guest's GDT. Anything else is guest code running in
 * 64-bit mode: stop the VM (seccomp kept its system calls from Linux).
 */
static bool undo_native_far_call(struct trapemu *t, const struct direct_trap *trap)
{
    struct cpu *cpu = &t->vm->cpu;
    uint8_t frame[8], call[7];
    if (trap->signal != SIGSEGV || trap->trap_number != EXC_PF || trap->fault_address != trap->rip ||
        trap->rip >= DIRECT_GUEST_SPACE_END || !peek_guest(t, cpu->regs[REG_ESP], frame, 8))
        return false;
    uint32_t return_eip, offset, pushed_cs = frame[4] | frame[5] << 8;
    memcpy(&return_eip, frame, 4);
    if (pushed_cs != DIRECT_COMPAT_CODE_SELECTOR || !peek_guest(t, return_eip - 7, call, 7))
        return false;
    memcpy(&offset, call + 1, 4);
    if (call[0] != 0x9a || offset != (uint32_t)trap->rip || call[5] != 0x33 || call[6] != 0)
        return false;
    cpu->regs[REG_ESP] += 8;
    cpu->eip = return_eip - 7;
    return true;
}

static bool handle_left_compat(struct trapemu *t, const struct direct_trap *trap, enum vm_exit *exit)
{
    if (undo_native_far_call(t, trap))
        return emulate_instruction(t, exit);
    *exit = stop_with(t, "trapemu: the guest left 32-bit compatibility mode (CS 0x%x, RIP "
                      "0x%llx, signal %d): a far transfer to the host's 64-bit selector 0x33; "
                      "stopped, and no system call it made reached Linux", trap->cs,
                      (unsigned long long)trap->rip, trap->signal);
    return true;
}

/*
 * SIGSYS: seccomp stopped a system call made by guest code. int 0x80 is the
 * guest's own software interrupt, delivered through the guest IDT. A compat
 * `syscall`/`sysenter` that reached Linux lost its EIP on the way (the
 * kernel moved it to the vDSO landing pad and took EBP from the stack), so
 * it cannot be emulated: stop, having made no system call.
 */
static bool handle_system_call(struct trapemu *t, const struct direct_trap *trap, enum vm_exit *exit)
{
    uint8_t bytes[2];
    uint32_t eip = (uint32_t)trap->rip;
    if (trap->syscall_arch == AUDIT_ARCH_I386 && trap->rip < DIRECT_GUEST_SPACE_END &&
        peek_guest(t, eip - 2, bytes, 2) && bytes[0] == 0xcd && bytes[1] == INT_0X80) {
        t->vm->cpu.eip = eip - 2;
        return emulate_instruction(t, exit);
    }
    *exit = stop_with(t, "trapemu: guest code made a %s system call (number %d) that trapemu "
                      "cannot turn into a guest event: a compat-mode SYSCALL/SYSENTER loses its "
                      "EIP in the host kernel; Linux did not run it",
                      trap->syscall_arch == AUDIT_ARCH_I386 ? "Linux i386" : "64-bit",
                      trap->syscall_number);
    return true;
}

/* ---- emulating one instruction --------------------------------------------------------- */

static enum vm_exit triple_fault(struct trapemu *t)
{
    snprintf(t->vm->stop_reason, sizeof t->vm->stop_reason, "%s",
             t->emulator.triple_fault_report);
    return VM_EXIT_TRIPLE_FAULT;
}

static const char *trap_name(const struct x86_instruction *insn)
{
    static const char *const cr_names[8] = {"mov-cr0", "mov-cr1", "mov-cr2", "mov-cr3",
                                            "mov-cr4", "mov-cr5", "mov-cr6", "mov-cr7"};
    switch (insn->operation) {
    case OP_CLI: return "cli";
    case OP_STI: return "sti";
    case OP_HLT: return "hlt";
    case OP_IN_IMM: case OP_IN_DX: return "in";
    case OP_OUT_IMM: case OP_OUT_DX: return "out";
    case OP_INS: return "ins";
    case OP_OUTS: return "outs";
    case OP_MOV_CR_REG: return cr_names[insn->reg & 7];
    case OP_MOV_REG_CR: return "read-cr";
    case OP_INT: return insn->immediate == INT_0X80 ? "int-0x80" : "int";
    case OP_INT3: return "int3";
    case OP_IRET: return "iret";
    case OP_MOV_SEG_RM: case OP_POP_SEG: case OP_LOAD_FAR_POINTER: return "mov-seg";
    case OP_JMP_FAR_IMM: case OP_JMP_FAR_MEM: return "far-jmp";
    case OP_CALL_FAR_IMM: case OP_CALL_FAR_MEM: return "far-call";
    case OP_RET_FAR: return "far-ret";
    default: return x86_operation_name(insn->operation);
    }
}

/*
 * Execute the instruction at vm->cpu.eip with the core's semantics, as the
 * interpreter does (techniques/interp/interp.c): a guest fault longjmps
 * back here, EIP returns to the instruction and the exception is
 * delivered through the guest's IDT. Returns true if the VM must leave.
 */
static bool emulate_instruction(struct trapemu *t, enum vm_exit *exit)
{
    /* LAB 02: BEGIN emulating the instruction that trapped */
    struct emulator *e = &t->emulator;
    struct cpu *cpu = e->cpu;
    struct x86_instruction insn;
    jmp_buf landing;

    e->fault = &landing;
    t->executor.flags.operation = FLAGS_KNOWN;    /* cpu->eflags is the truth at a trap */
    if (setjmp(landing) != 0) {
        x86_executor_sync_flags(&t->executor);
        cpu->eip = e->instruction_eip;
        x86_count_exception(e, &t->vm->stats, e->fault_vector);
        if (!t->trap_reason)
            t->trap_reason = "guest-exception";
        if (!x86_deliver_event(e, e->fault_vector, EVENT_FAULT, e->fault_has_error_code,
                               e->fault_error_code)) {
            *exit = triple_fault(t);
            return true;
        }
        return false;
    }
    e->instruction_eip = cpu->eip;
    x86_fetch_and_decode(e, &insn);
    t->trap_reason = trap_name(&insn);
    cpu->eip += insn.length;
    bool shadowed = cpu->interrupt_shadow;
    enum x86_step step = x86_execute(&t->executor, &insn);
    x86_executor_sync_flags(&t->executor);
    if (shadowed)
        cpu->interrupt_shadow = false;
    if (insn.operation == OP_INVLPG)
        shadow_invalidate_page(&t->shadow, x86_operand_linear_address(cpu, &insn));
    if (step == STEP_SHUTDOWN) {
        *exit = triple_fault(t);
        return true;
    }
    return false;
    /* LAB 02: STUB
    (void)triple_fault;
    (void)trap_name;
    *exit = stop_with(t, "trapemu: not implemented (lab 02): emulating the instruction that "
                      "trapped at EIP 0x%x (techniques/trapemu/trapemu.c, emulate_instruction)",
                      t->vm->cpu.eip);
    return true;
       LAB 02: END */
}

/* ---- after every trap ----------------------------------------------------------------- */

static void count_interrupt(struct trapemu *t, int vector)
{
    struct vm *vm = t->vm;
    struct stats_counter **slot = &t->inject_rows[vector & 0xff];
    if (!*slot) {
        char reason[STATS_NAME_LEN];
        vm_interrupt_name(vm, vector, reason, sizeof reason);
        *slot = stats_counter(&vm->stats, "inject", reason);
    }
    stats_log(&vm->stats, *slot, 0, stats_now_ns(), vm->cpu.eip, NULL);
}

/* Between two guest instructions: the PIC's interrupt, if the VIRTUAL IF
 * lets it in (SDM vol. 3, 6.8.1). Returns true if the CPU shut down. */
static bool deliver_interrupt(struct trapemu *t, enum vm_exit *exit)
{
    /* LAB 02: BEGIN delivering the PIC's interrupt through the guest's IDT */
    struct vm *vm = t->vm;
    int vector = vm_acknowledge_interrupt(vm);
    vm->cpu.halted = false;
    count_interrupt(t, vector);
    if (!x86_deliver_event(&t->emulator, vector, EVENT_EXTERNAL, false, 0)) {
        *exit = triple_fault(t);
        return true;
    }
    return false;
    /* LAB 02: STUB
    (void)count_interrupt;
    *exit = stop_with(t, "trapemu: not implemented (lab 02): delivering a pending interrupt "
                      "once the virtual IF is 1 (techniques/trapemu/trapemu.c, deliver_interrupt)");
    return true;
       LAB 02: END */
}

/* What must hold before the guest runs natively again; shared by the trap
 * handler and the run loop. Returns true (and *exit) to go to the core. */
static bool ready_to_run(struct trapemu *t, enum vm_exit *exit)
{
    struct vm *vm = t->vm;
    char why[200];
    if (atomic_load_explicit(&vm->stop_requested, memory_order_relaxed)) {
        *exit = VM_EXIT_STOP;
        return true;
    }
    if (vm_interrupt_deliverable(vm) && deliver_interrupt(t, exit))
        return true;
    if (vm->cpu.halted) {
        *exit = VM_EXIT_HALT;
        return true;
    }
    if (!(vm->cpu.cr0 & CR0_PE) || (vm->cpu.eflags & EFLAGS_VM)) {
        *exit = stop_with(t, "trapemu: the guest left protected mode at EIP 0x%x (real and "
                          "virtual-8086 mode are not implemented)", vm->cpu.eip);
        return true;
    }
    if (!direct_segments_runnable(&vm->cpu, why, sizeof why)) {
        *exit = stop_with(t, "trapemu: not implemented: %s (EIP 0x%x)", why, vm->cpu.eip);
        return true;
    }
    shadow_follow_cpu(&t->shadow);
    return false;
}

/*
 * After the emulated instruction: an STI or MOV SS holds interrupts off for
 * one more instruction (SDM vol. 3, 6.8.3) - if one is waiting, that
 * instruction is emulated too, then the interrupt goes in. HLT returns to
 * the core unless an interrupt can wake it at once. And a guest that traps
 * all the time must still give the core its timers.
 */
static bool after_trap(struct trapemu *t, enum vm_exit *exit)
{
    struct vm *vm = t->vm;
    if (vm->cpu.interrupt_shadow) {
        if (vm_intr(vm) && !vm->cpu.halted) {
            const char *reason = t->trap_reason;
            if (emulate_instruction(t, exit))
                return true;
            t->trap_reason = reason;
        }
        vm->cpu.interrupt_shadow = false;
    }
    if (ready_to_run(t, exit))
        return true;
    if (stats_now_ns() >= vm->deadline_ns) {
        *exit = VM_EXIT_DEADLINE;
        return true;
    }
    return false;
}

/* ---- helpers ---------------------------------------------------------------------------- */

/* Read guest bytes without faulting (false if any is not readable). */
static bool peek_guest(struct trapemu *t, uint32_t linear, uint8_t *bytes, unsigned count)
{
    bool user = cpu_cpl(&t->vm->cpu) == 3;
    for (unsigned i = 0; i < count; i++) {
        uint32_t physical = linear + i, error;
        if ((t->vm->cpu.cr0 & CR0_PG) &&
            !x86_translate(&t->emulator, linear + i, ACCESS_READ, user, false, &physical, &error))
            return false;
        uint8_t *p = guest_ram_pointer(&t->vm->ram, physical);
        if (!p)
            return false;
        bytes[i] = *p;
    }
    return true;
}

/* #BP and #OF are traps: the host reports the EIP after int3 / int 3 /
 * into / int 4 (SDM vol. 3, 6.5). Everything else reports the instruction. */
static uint32_t instruction_start(struct trapemu *t, const struct direct_trap *trap)
{
    uint32_t eip = t->vm->cpu.eip;
    uint8_t bytes[2];
    if (trap->trap_number != EXC_BP && trap->trap_number != EXC_OF)
        return eip;
    if (peek_guest(t, eip - 2, bytes, 2) && bytes[0] == 0xcd &&
        bytes[1] == (trap->trap_number == EXC_BP ? 3 : 4))
        return eip - 2;
    return eip - 1;
}

/*
 * A segment load that names a valid host selector does not trap (0x23 is
 * the guest's user data selector in many kernels, and the host's 32-bit
 * code segment): the host CPU loaded the HOST descriptor. The substrate
 * noticed the new DS/ES at this trap; load the guest's descriptor for it
 * now, so that emulated instructions see what the guest meant. Until this
 * trap the guest ran with the host's (flat) descriptor: not virtualizable.
 */
static void load_guest_selector(struct trapemu *t, int segment, uint16_t selector)
{
    jmp_buf landing;
    t->emulator.fault = &landing;
    if (setjmp(landing) == 0)
        x86_load_segment(&t->emulator, segment, selector);
    t->emulator.fault = NULL;     /* a refused selector keeps the old descriptor */
    stats_count(stats_counter(&t->vm->stats, "trap", "native-seg-load"), 0);
}

static void adopt_native_selectors(struct trapemu *t, const struct direct_trap *trap)
{
    if (trap->native_selector[SEG_DS])
        load_guest_selector(t, SEG_DS, trap->native_selector[SEG_DS] == 0xffff
                                           ? 0 : trap->native_selector[SEG_DS]);
    if (trap->native_selector[SEG_ES])
        load_guest_selector(t, SEG_ES, trap->native_selector[SEG_ES] == 0xffff
                                           ? 0 : trap->native_selector[SEG_ES]);
}

static struct stats_counter *trap_row(struct trapemu *t, const char *reason)
{
    size_t slots = sizeof t->trap_rows / sizeof t->trap_rows[0];
    for (size_t i = 0; i < slots; i++) {
        if (t->trap_rows[i].reason == reason)
            return t->trap_rows[i].row;
        if (!t->trap_rows[i].reason) {
            t->trap_rows[i].reason = reason;
            return t->trap_rows[i].row = stats_counter(&t->vm->stats, "trap", reason);
        }
    }
    return stats_counter(&t->vm->stats, "trap", reason);
}

static void count_trap(struct trapemu *t, uint64_t start, uint32_t eip)
{
    if (!t->trap_reason)
        return;
    struct stats_counter *row = trap_row(t, t->trap_reason);
    uint64_t now = stats_now_ns();
    stats_log(&t->vm->stats, row, now - start, now, eip, NULL);
}

static enum vm_exit stop_with(struct trapemu *t, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    vsnprintf(t->vm->stop_reason, sizeof t->vm->stop_reason, format, args);
    va_end(args);
    return VM_EXIT_ERROR;
}

/* ---- the technique ----------------------------------------------------------------------- */

static int map_guest_pages(void *context, uint32_t linear, uint32_t physical, uint32_t length,
                           int rights)
{
    struct trapemu *t = context;
    int prot = PROT_READ | PROT_EXEC | (rights & SHADOW_WRITE ? PROT_WRITE : 0);
    return direct_map(DIRECT_SUPERVISOR_VIEW, t->vm->ram.memfd, linear, physical, length, prot);
}

static int protect_guest_pages(void *context, uint32_t linear, uint32_t physical, uint32_t length,
                               int rights)
{
    (void)context;
    (void)physical;
    int prot = rights ? PROT_READ | PROT_EXEC | (rights & SHADOW_WRITE ? PROT_WRITE : 0) : PROT_NONE;
    return direct_protect(DIRECT_SUPERVISOR_VIEW, linear, length, prot);
}

static void unmap_guest_pages(void *context, uint64_t linear, uint64_t length)
{
    (void)context;
    direct_unmap(DIRECT_SUPERVISOR_VIEW, linear, length);
}

/* trapemu runs the guest in compatibility mode, holds the guest's DS and ES
 * in LDT stand-in selectors, and confines the process with seccomp: the
 * host must offer all three (core/host.c probes them). */
static bool trapemu_available(char *why, size_t why_len)
{
    return direct_supported(why, why_len) && host_has(HOST_COMPAT_MODE, why, why_len) &&
           host_has(HOST_LDT, why, why_len) && host_has(HOST_SECCOMP, why, why_len);
}

static int refuse(struct vm *vm, const char *why)
{
    snprintf(vm->stop_reason, sizeof vm->stop_reason, "%s", why);
    return -1;
}

static void setup_emulator(struct trapemu *t, struct vm *vm)
{
    x86_executor_init(&t->executor, &t->emulator, &vm->cpu, &vm->ram, &vm->bus, &vm->stats);
    t->executor.port_counters = t->port_rows;
    t->vm = vm;
}

static int trapemu_attach(struct vm *vm)
{
    char why[300];
    if (!trapemu_available(why, sizeof why))
        return refuse(vm, why);
    if (vm->pv.enabled)
        return refuse(vm, "a pv guest: trapemu does not service the hypercall page yet (run it "
                          "under interp; docs/pv.md)");
    if (!(vm->cpu.cr0 & CR0_PE) || (vm->cpu.eflags & EFLAGS_VM))
        return refuse(vm, "not implemented: real mode and virtual-8086 mode (CR0.PE=0 or "
                          "EFLAGS.VM=1)");
    if (!direct_segments_runnable(&vm->cpu, why, sizeof why))
        return refuse(vm, why);
    if (direct_reserve_guest_space(why, sizeof why) < 0)
        return refuse(vm, why);
    struct trapemu *t = calloc(1, sizeof *t);
    if (!t)
        return refuse(vm, "out of memory");
    setup_emulator(t, vm);
    struct shadow_ops ops = {.map = map_guest_pages, .unmap = unmap_guest_pages,
                             .protect = protect_guest_pages, .context = t};
    if (shadow_init(&t->shadow, &t->emulator, &ops, direct_lowest_mappable(), &vm->stats) < 0) {
        free(t);
        return refuse(vm, "out of memory");
    }
    t->vcpu.cpu = &vm->cpu;
    t->vcpu.handler = trapemu_trap;
    t->vcpu.context = t;
    if (direct_vcpu_attach(&t->vcpu, why, sizeof why) < 0) {
        shadow_destroy(&t->shadow);
        free(t);
        return refuse(vm, why);
    }
    shadow_follow_cpu(&t->shadow);
    vm->technique_state = t;
    /* From the first native instruction on, the guest may store stand-in
     * selectors (push %ds runs natively and is not virtualizable): every
     * later technique must know (cpu.h). */
    vm->cpu.stand_in_selectors_leaked = true;
    return 0;
}

static void trapemu_detach(struct vm *vm)
{
    struct trapemu *t = vm->technique_state;
    if (!t)
        return;
    direct_vcpu_detach(&t->vcpu);
    shadow_flush(&t->shadow);           /* no guest page stays in the low 4 GiB */
    shadow_destroy(&t->shadow);
    free(t);
    vm->technique_state = NULL;
}

static enum vm_exit trapemu_run(struct vm *vm)
{
    struct trapemu *t = vm->technique_state;
    enum vm_exit exit;
    jmp_buf landing;
    if (!t) {       /* the core kept us after a failed attach */
        snprintf(vm->stop_reason, sizeof vm->stop_reason, "trapemu: run() without attach");
        return VM_EXIT_ERROR;
    }
    t->emulator.fault = &landing;      /* event delivery never raises, but be safe */
    if (setjmp(landing) != 0)
        return stop_with(t, "trapemu: internal error: a fault while preparing the guest");
    if (ready_to_run(t, &exit))
        return exit;
    if (stats_now_ns() >= vm->deadline_ns)
        return VM_EXIT_DEADLINE;
    /* The seccomp filter goes on before the first native guest instruction,
     * here rather than at attach: the VMM may still open files between the
     * two (the dashboard reads terminfo after the VM is created). */
    char why[300];
    if (direct_contain_process(why, sizeof why) < 0)
        return stop_with(t, "trapemu: cannot confine the process: %s", why);
    t->emulator.fault = NULL;
    return (enum vm_exit)direct_run(&t->vcpu, vm->deadline_ns);
}

const struct technique trapemu_technique = {
    .name = "trapemu",
    .summary = "run the guest natively at host ring 3; emulate what traps",
    .available = trapemu_available,
    .attach = trapemu_attach,
    .run = trapemu_run,
    .detach = trapemu_detach,
};
