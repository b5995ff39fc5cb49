/*
 * interrupts.c - the core's 8259A pair delivers into the vCPU.
 *
 * vmlab creates no in-kernel interrupt controller (no KVM_CREATE_IRQCHIP):
 * the PICs live in the core, shared with every technique. That is KVM's
 * "user space irqchip" mode, and its protocol (KVM API: KVM_INTERRUPT, and
 * request_interrupt_window / ready_for_interrupt_injection in "The kvm_run
 * structure") is exactly a CPU's INTR pin:
 *
 *   INTR asserted and the CPU can take it (EFLAGS.IF, no STI/MOV SS shadow,
 *   no event already being delivered: KVM sums this up in
 *   ready_for_interrupt_injection)  -> the INTA cycle (the PIC gives the
 *   vector) and KVM_INTERRUPT, which KVM delivers at the next VM entry
 *   through the guest's IDT (SDM vol. 3, 6.12).
 *
 *   INTR asserted but the CPU cannot take it yet -> request_interrupt_window:
 *   KVM exits with KVM_EXIT_IRQ_WINDOW_OPEN as soon as it can (after the
 *   guest's STI and one more instruction, or its IRET).
 */
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>

#include "techniques/hvm/hvm_internal.h"

/* The IRQ line behind a vector, for the statistics: the 8259A gives vector
 * base + line (ICW2; 8259A datasheet), the slave serving IRQ 8-15. */
static int irq_of_vector(const struct pic_pair *pic, int vector)
{
    if (vector >= pic->master.vector_base && vector < pic->master.vector_base + 8)
        return vector - pic->master.vector_base;
    if (vector >= pic->slave.vector_base && vector < pic->slave.vector_base + 8)
        return 8 + vector - pic->slave.vector_base;
    return -1;
}

static void count_injection(struct vm *vm, struct hvm *hvm, int vector)
{
    int irq = irq_of_vector(&vm->pic, vector);
    char detail[32];
    snprintf(detail, sizeof detail, "vector 0x%02x", vector);
    struct stats_counter *row = irq >= 0 ? hvm->irq_rows[irq] : NULL;
    if (!row) {
        char reason[STATS_NAME_LEN];
        vm_interrupt_name(vm, vector, reason, sizeof reason);
        row = stats_counter(&vm->stats, "inject", reason);
        if (irq >= 0)
            hvm->irq_rows[irq] = row;
    }
    /* Where the interrupt lands: the EIP of the last exit, or vm->cpu's if
     * the registers were set since (attach, emulate.c). */
    uint32_t eip = hvm->registers_in_run ? (uint32_t)hvm->run->s.regs.regs.rip : vm->cpu.eip;
    stats_log(&vm->stats, row, 0, stats_now_ns(), eip, detail);
}

void hvm_offer_interrupt(struct vm *vm, struct hvm *hvm)
{
    struct kvm_run *run = hvm->run;
    if (hvm->draining) {
        run->request_interrupt_window = 0;
        return;
    }
    if (vm_intr(vm) && run->ready_for_interrupt_injection && run->if_flag) {
        int vector = vm_acknowledge_interrupt(vm);
        struct kvm_interrupt interrupt = {.irq = (uint32_t)vector};
        /* Cannot fail while ready_for_interrupt_injection is set: KVM only
         * refuses a second vector while one is still queued. */
        if (ioctl(hvm->vcpu_fd, KVM_INTERRUPT, &interrupt) == 0)
            count_injection(vm, hvm, vector);
        else
            fprintf(stderr, "vmlab: hvm: KVM_INTERRUPT vector 0x%02x: %s\n", vector,
                    strerror(errno));
    }
    /* Still (or again) something pending, e.g. a second IRQ behind the one
     * just injected: be told when the guest can take it. */
    run->request_interrupt_window = vm_intr(vm);
}

/* An interrupt or exception that KVM has accepted but not yet delivered to
 * the guest (KVM API: KVM_GET_VCPU_EVENTS). struct cpu has nowhere to keep
 * one, so detach must let the vCPU deliver it first. */
bool hvm_event_in_flight(struct hvm *hvm)
{
    struct kvm_vcpu_events events;
    if (ioctl(hvm->vcpu_fd, KVM_GET_VCPU_EVENTS, &events) < 0)
        return false;
    /* Kept until the next KVM_RUN: detach's save need not read it again. */
    hvm->known.events = events;
    hvm->known.events_valid = true;
    return events.interrupt.injected || events.exception.injected || events.exception.pending ||
           events.nmi.injected || events.nmi.pending;
}
