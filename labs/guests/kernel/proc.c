/*
 * proc.c - processes and the round-robin scheduler.
 *
 * As in xv6, the scheduler is a loop on the boot stack (proc_run_all) that
 * picks the next runnable process and switches to its kernel stack; a
 * process gives the CPU back by switching to the scheduler (sched). A
 * process leaves the CPU when it blocks, yields, exits, or when the timer
 * interrupts it in ring 3 (trap.c): that is the preemption.
 *
 * The kernel itself is never preempted: it runs with interrupts off, except
 * while the scheduler waits for one in arch_wait_for_interrupt().
 */
#include "proc.h"
#include "arch.h"

extern void switch_context(struct context **old, struct context *new);
extern void trap_return(void);

static struct proc procs[NPROC];
static uint8_t kernel_stacks[NPROC][KERNEL_STACK_SIZE] __attribute__((aligned(PAGE_SIZE)));
static struct proc *current;
static struct context *scheduler_context;
static int next_pid = 1;

struct proc *proc_current(void)
{
    return current;
}

/* Build the kernel stack so that the first switch_context "returns" into
 * trap_return, which irets to the program's entry in ring 3. */
static void build_first_frames(struct proc *p, uint32_t entry, uint32_t arg0, uint32_t arg1)
{
    uint8_t *top = p->kernel_stack + KERNEL_STACK_SIZE;
    p->tf = (struct trapframe *)(top - sizeof(struct trapframe));
    memset(p->tf, 0, sizeof(*p->tf));
    p->tf->cs = SEL_USER_CODE;
    p->tf->ds = p->tf->es = p->tf->fs = p->tf->gs = SEL_USER_DATA;
    p->tf->user_ss = SEL_USER_DATA;
    p->tf->user_esp = USER_STACK_TOP;
    p->tf->eflags = EFLAGS_IF | EFLAGS_RESERVED1;   /* user code runs interruptible */
    p->tf->eip = entry;
    p->tf->eax = arg0;                  /* user/start.S passes these to main */
    p->tf->ebx = arg1;
    p->context = (struct context *)((uint8_t *)p->tf - sizeof(struct context));
    memset(p->context, 0, sizeof(*p->context));
    p->context->eip = (uint32_t)trap_return;
}

/* Create a process running `program` (a name from programs.S). Returns its
 * pid, or -1 if there is no such program, no free slot or no memory. */
int proc_spawn(const char *program, uint32_t arg0, uint32_t arg1)
{
    uint32_t size, entry, image_end;
    const uint8_t *elf = program_find(program, &size);
    struct proc *p = NULL;
    for (int i = 0; i < NPROC && !p; i++)
        if (procs[i].state == UNUSED)
            p = &procs[i];
    if (!elf || !p)
        return -1;
    memset(p, 0, sizeof(*p));
    p->directory = vm_new_space();
    if (!p->directory)
        return -1;
    if (exec_load(p->directory, elf, size, &entry, &image_end) < 0) {
        vm_free_space(p->directory);
        return -1;
    }
    p->name = program;
    p->kernel_stack = kernel_stacks[p - procs];
    p->image_end = p->brk = image_end;
    p->pid = next_pid++;
    build_first_frames(p, entry, arg0, arg1);
    p->state = RUNNABLE;
    return p->pid;
}

static void run(struct proc *p)
{
    current = p;
    p->state = RUNNING;
    tss_set_kernel_stack((uint32_t)p->kernel_stack + KERNEL_STACK_SIZE);
    vm_switch(p->directory);
    switch_context(&scheduler_context, p->context);
    vm_switch(vm_kernel_directory());
    current = NULL;
    if (p->state == ZOMBIE) {        /* its memory can go now that we left its stack */
        vm_free_space(p->directory);
        p->directory = NULL;
    }
}

static bool any_alive(void)
{
    for (int i = 0; i < NPROC; i++)
        if (procs[i].state != UNUSED && procs[i].state != ZOMBIE)
            return true;
    return false;
}

/* Run processes until all have exited. Round robin: each pass starts after
 * the process that ran last. */
void proc_run_all(void)
{
    int last = NPROC - 1;
    while (any_alive()) {
        struct proc *chosen = NULL;
        for (int k = 1; k <= NPROC && !chosen; k++) {
            int i = (last + k) % NPROC;
            if (procs[i].state == RUNNABLE) {
                chosen = &procs[i];
                last = i;
            }
        }
        if (chosen)
            run(chosen);
        else
            arch_wait_for_interrupt();   /* everyone sleeps: wait for a tick or a key */
    }
}

/* Give the CPU back to the scheduler. The caller has set current->state. */
static void sched(void)
{
    switch_context(&current->context, scheduler_context);
}

void proc_yield(void)
{
    current->state = RUNNABLE;
    sched();
}

/* Sleep until proc_wakeup(channel). Callers loop on their condition, as a
 * wakeup only says "look again". Without a process (the kernel shell) we
 * simply wait for the next interrupt. */
void proc_sleep_on(void *channel)
{
    if (!current) {
        arch_wait_for_interrupt();
        return;
    }
    current->channel = channel;
    current->state = SLEEPING;
    sched();
    current->channel = NULL;
}

void proc_wakeup(void *channel)
{
    for (int i = 0; i < NPROC; i++)
        if (procs[i].state == SLEEPING && procs[i].channel == channel)
            procs[i].state = RUNNABLE;
}

void proc_exit(int status)
{
    current->exit_status = status;
    current->state = ZOMBIE;
    sched();
    panic("a zombie ran again");
}

/* The end of a process that did something fatal: the kernel says why and
 * goes on with the others. */
void proc_kill(const char *why)
{
    kprintf("pid %d (%s) killed: %s\n", current->pid, current->name, why);
    current->killed = true;
    proc_exit(-1);
}

/* How an exited process ended; false if pid is not an exited process. */
bool proc_result(int pid, struct proc_result *result)
{
    for (int i = 0; i < NPROC; i++)
        if (procs[i].pid == pid && procs[i].state == ZOMBIE) {
            result->status = procs[i].exit_status;
            result->killed = procs[i].killed;
            result->preemptions = procs[i].preemptions;
            return true;
        }
    return false;
}

/* Free the slots of exited processes once their results were read. */
void proc_forget_all(void)
{
    for (int i = 0; i < NPROC; i++)
        if (procs[i].state == ZOMBIE)
            procs[i].state = UNUSED;
}

void proc_list(void)
{
    static const char *const names[] = { "unused", "runnable", "running", "sleeping", "exited" };
    kprintf("pid  state     name\n");
    for (int i = 0; i < NPROC; i++)
        if (procs[i].state != UNUSED)
            kprintf("%-4d %-9s %s\n", procs[i].pid, names[procs[i].state], procs[i].name);
}
