/*
 * irq.h - an interrupt request line from a device to the interrupt controller.
 *
 * A device holds a struct irq_line and drives it high or low; it does not know
 * which controller is behind it (on a PC, the 8259A pair). ISA interrupts are
 * edge-triggered on the 8259A: raising a line that is already high does
 * nothing until it is lowered again.
 */
#ifndef VMLAB_IRQ_H
#define VMLAB_IRQ_H

struct irq_line {
    void (*set_level)(void *controller, int irq, int level);
    void *controller;
    int irq;
};

static inline void irq_set(const struct irq_line *line, int level)
{
    if (line->set_level)
        line->set_level(line->controller, line->irq, level);
}

/* A pulse: the PIT's OUT0 in mode 2/3 looks like this to an edge-triggered PIC. */
static inline void irq_pulse(const struct irq_line *line)
{
    irq_set(line, 1);
    irq_set(line, 0);
}

#endif
