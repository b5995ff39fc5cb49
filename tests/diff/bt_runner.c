/*
 * bt_runner.c - see bt_runner.h.
 */
#include "bt_runner.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/technique.h"
#include "core/vm.h"
#include "core/x86/system.h"
#include "machine.h"

#define BT_RAM_SIZE (32u << 20)          /* >= MACHINE_RAM_SIZE, whole MiB */
#define RUN_LIMIT_NS 2000000000ull       /* a sequence runs in microseconds */
#define SLICE_NS 10000000ull             /* vm_run's slice */
#define SHORT_SLICE_NS 20000ull          /* the second run's first: a deadline inside the sequence */
#define CHILD_WAIT_MS 20000              /* the parent's patience, per sequence */

/* The shared mapping: the parent writes the request, the child the reply. */
struct exchange {
    uint8_t code[CODE_CAPACITY];
    unsigned length;
    struct machine_state initial;
    struct interp_setup setup;
    uint8_t data[DATA_BUFFER_SIZE];
    /* The reply: a struct run_result whose pointers the parent sets. */
    struct run_result result;
    uint8_t data_after[DATA_BUFFER_SIZE];
    struct bt_totals totals;             /* the current child's */
};

static struct exchange *exchange;
static struct bt_totals earlier_children;    /* of children that died */
static pid_t child = -1;
static int to_child = -1, from_child = -1;

/* ---- the child: a VM under bt ------------------------------------------------ */

static struct vm vm;                     /* large: not on the stack */
static const struct technique *bt;

/* UD2 (0f 0b) after the code: #UD at the end marks completion. */
static const uint8_t ud2_filler[16] = { 0x0f, 0x0b, 0x0f, 0x0b, 0x0f, 0x0b, 0x0f, 0x0b,
                                        0x0f, 0x0b, 0x0f, 0x0b, 0x0f, 0x0b, 0x0f, 0x0b };

/* The exception bt reported last since event `since` of the log: the
 * one that ended the run (delivering it failed, so there is no other). */
static bool last_exception(uint64_t since, int *vector, uint32_t *eip, uint32_t *error_code)
{
    uint64_t next = atomic_load(&vm.stats.ring_next);
    for (uint64_t i = next; i > since && next - i < STATS_RING_SIZE; i--) {
        const struct stats_event *event = &vm.stats.ring[(i - 1) % STATS_RING_SIZE];
        const struct stats_counter *row = &vm.stats.counters[event->counter];
        if (strcmp(row->category, "guest-exception") != 0)
            continue;
        for (int v = 0; v < 32; v++)
            if (!strcmp(row->reason, x86_exception_name(v)))
                *vector = v;
        *eip = event->eip;
        *error_code = 0;
        sscanf(event->detail, "error code %x", error_code);
        return true;
    }
    return false;
}

/* Sums the rows of bt's statistics into x->totals. */
static void count_totals(struct exchange *x)
{
    struct bt_totals *t = &x->totals;
    t->runs++;
    t->blocks = t->chains = t->callouts = t->fallbacks = 0;
    int rows = atomic_load(&vm.stats.counter_count);
    for (int i = 0; i < rows; i++) {
        const struct stats_counter *row = &vm.stats.counters[i];
        if (!strcmp(row->category, "bt-translate") && !strcmp(row->reason, "block"))
            t->blocks += row->count;
        else if (!strcmp(row->category, "bt-chain") && !strcmp(row->reason, "direct-exit"))
            t->chains += row->count;
        else if (!strcmp(row->category, "bt-callout"))
            t->callouts += row->count;
        else if (!strcmp(row->category, "bt-fallback"))
            t->fallbacks += row->count;
    }
}

/* Runs until the guest's triple fault, in slices as vm_run gives them; the
 * first one first_slice_ns long (a deadline that passes in translated code
 * closes the chain gate, and run() returns at the next chainable exit:
 * bt.c). Later slices are long, so that a loaded host still makes
 * progress. False with why. */
static bool run_until_triple_fault(uint64_t first_slice_ns, char *why, size_t why_len)
{
    atomic_store(&vm.stop_requested, false);
    vm.stop_reason[0] = 0;
    uint64_t give_up = stats_now_ns() + RUN_LIMIT_NS, slice_ns = first_slice_ns;
    enum vm_exit exit;
    do {
        vm.deadline_ns = stats_now_ns() + slice_ns;
        exit = bt->run(&vm);
        exchange->totals.deadline_exits += exit == VM_EXIT_DEADLINE;
        slice_ns = SLICE_NS;
    } while (exit == VM_EXIT_DEADLINE && stats_now_ns() < give_up);
    if (exit == VM_EXIT_TRIPLE_FAULT)
        return true;
    snprintf(why, why_len, "bt: %.80s",
             exit == VM_EXIT_DEADLINE ? "no end after 2 s" : exit == VM_EXIT_HALT ? "HLT" : vm.stop_reason);
    return false;
}

/* One run from the state machine_reset left: the result, and the data
 * areas copied to data_after. */
static void run_once(const struct exchange *x, uint64_t first_slice_ns, struct run_result *result,
                     uint8_t *data_after)
{
    memset(result, 0, sizeof *result);
    uint64_t since = atomic_load(&vm.stats.ring_next);
    int vector = -1;
    uint32_t eip = 0, error_code = 0;
    if (!run_until_triple_fault(first_slice_ns, result->failure, sizeof result->failure))
        return;
    if (!last_exception(since, &vector, &eip, &error_code)) {
        snprintf(result->failure, sizeof result->failure, "bt: %.60s, no guest exception logged",
                 vm.stop_reason);
        return;
    }
    result->completed = true;
    if (vector != EXC_UD || eip != CODE_BASE + x->length)
        result->fault = (struct fault_report){ true, vector, eip, vector == EXC_PF ? vm.cpu.cr2 : 0,
                                               error_code };
    memcpy(result->final.regs, vm.cpu.regs, sizeof vm.cpu.regs);
    result->final.eflags = vm.cpu.eflags;
    memcpy(data_after, vm.ram.host + DATA_BASE, DATA_SIZE);
    memcpy(data_after + DATA_SIZE, vm.ram.host + LOW_DATA_BASE, LOW_DATA_SIZE);
}

/* What differs between two runs of the same sequence (NULL: nothing). */
static const char *runs_differ(const struct run_result *a, const struct run_result *b,
                               const uint8_t *a_data, const uint8_t *b_data)
{
    if (a->fault.faulted != b->fault.faulted || a->fault.vector != b->fault.vector ||
        a->fault.eip != b->fault.eip || a->fault.cr2 != b->fault.cr2 ||
        a->fault.error_code != b->fault.error_code)
        return "the exception";
    if (memcmp(a->final.regs, b->final.regs, sizeof a->final.regs))
        return "the registers";
    if (a->final.eflags != b->final.eflags)
        return "EFLAGS";
    if (memcmp(a_data, b_data, DATA_BUFFER_SIZE))
        return "memory";
    return NULL;
}

/*
 * The sequence runs twice in one attach: first translated block by block,
 * then again from the same state out of the code cache, with the direct
 * exits the first run took now chained (bt.c, chain()), and with a first
 * slice so short that its deadline often passes in the middle of it. Both runs must give the same
 * result; the second is the one compared with the other sides.
 */
static void run_request(struct exchange *x)
{
    static struct run_result first;
    static uint8_t first_data[DATA_BUFFER_SIZE];
    memset(&x->result, 0, sizeof x->result);
    machine_prepare(vm.ram.host, x->setup);
    machine_reset(&vm.cpu, &x->initial, x->setup);
    machine_load(vm.ram.host, x->code, x->length, ud2_filler, sizeof ud2_filler, x->data);
    if (bt->attach(&vm) < 0) {
        snprintf(x->result.failure, sizeof x->result.failure, "bt: attach: %.80s", vm.stop_reason);
        return;
    }
    vm.technique = bt;
    run_once(x, SLICE_NS, &first, first_data);
    if (first.completed) {
        machine_reset(&vm.cpu, &x->initial, x->setup);
        machine_load_data(vm.ram.host, x->data);
        run_once(x, SHORT_SLICE_NS, &x->result, x->data_after);
        const char *what = x->result.completed ? runs_differ(&first, &x->result, first_data, x->data_after)
                                               : NULL;
        if (what) {
            x->result.completed = false;
            snprintf(x->result.failure, sizeof x->result.failure,
                     "bt: %s differs between the first run and the second (cached, chained)", what);
        }
    } else {
        x->result = first;
    }
    bt->detach(&vm);
    vm.technique = NULL;
}

static int create_vm(void)
{
    /* bt allocates its code cache's tables on every attach, and this child
     * attaches once per sequence: a fixed threshold puts the big ones in
     * their own zero-filled mappings, instead of glibc's adaptive one
     * moving them to the heap, where calloc clears them by hand. */
    mallopt(M_MMAP_THRESHOLD, 128 * 1024);
    /* A child forked after native_start inherits the native side's low
     * mappings: the guest's 4 GiB must be free for bt to reserve them. */
    munmap((void *)(uintptr_t)DIFF_REGION_BASE, DIFF_REGION_SIZE);
    munmap((void *)(uintptr_t)LOW_DATA_BASE, LOW_DATA_SIZE);
    int null = open("/dev/null", O_RDWR);
    struct vm_config config = { .memory_bytes = BT_RAM_SIZE, .console_input_fd = null,
                                .console_output_fd = null };
    if (null < 0 || vm_create_empty(&vm, &config) < 0)
        return -1;
    machine_build_page_tables(vm.ram.host);
    return 0;
}

static _Noreturn void child_main(int in, int out)
{
    if (create_vm() < 0)
        _exit(3);
    char byte;
    while (read(in, &byte, 1) == 1) {
        run_request(exchange);
        count_totals(exchange);
        if (write(out, &byte, 1) != 1)
            break;
    }
    _exit(0);
}

/* ---- the parent ----------------------------------------------------------------- */

static int fork_child(void)
{
    int down[2], up[2];
    if (pipe2(down, O_CLOEXEC) < 0 || pipe2(up, O_CLOEXEC) < 0) {
        perror("diff: bt runner: pipe");
        return -1;
    }
    fflush(stdout);
    child = fork();
    if (child < 0) {
        perror("diff: bt runner: fork");
        return -1;
    }
    if (child == 0) {
        close(down[1]);
        close(up[0]);
        child_main(down[0], up[1]);
    }
    close(down[0]);
    close(up[1]);
    to_child = down[1];
    from_child = up[0];
    return 0;
}

int bt_runner_start(char *why, size_t why_len)
{
    bt = technique_find("bt");
    if (!bt) {
        snprintf(why, why_len, "the bt technique is not compiled in");
        return -1;
    }
    if (bt->available && !bt->available(why, why_len))
        return -1;
    exchange = mmap(NULL, sizeof *exchange, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (exchange == MAP_FAILED) {
        snprintf(why, why_len, "shared mapping: %s", strerror(errno));
        return -1;
    }
    signal(SIGPIPE, SIG_IGN);            /* a dead child shows as a failed write */
    return fork_child() < 0 ? snprintf(why, why_len, "cannot fork the bt runner"), -1 : 0;
}

static void reap(char *failure, size_t length)
{
    int status = 0;
    if (waitpid(child, &status, WNOHANG) == 0) {
        kill(child, SIGKILL);
        waitpid(child, &status, 0);
        snprintf(failure, length, "bt: the runner hung (killed)");
    } else if (WIFSIGNALED(status)) {
        snprintf(failure, length, "bt: the runner died: signal %d (%s)", WTERMSIG(status),
                 strsignal(WTERMSIG(status)));
    } else {
        snprintf(failure, length, "bt: the runner exited with status %d", WEXITSTATUS(status));
    }
    close(to_child);
    close(from_child);
    child = -1;
    earlier_children.runs += exchange->totals.runs;
    earlier_children.blocks += exchange->totals.blocks;
    earlier_children.chains += exchange->totals.chains;
    earlier_children.deadline_exits += exchange->totals.deadline_exits;
    earlier_children.callouts += exchange->totals.callouts;
    earlier_children.fallbacks += exchange->totals.fallbacks;
    exchange->totals = (struct bt_totals){ 0 };
}

void bt_runner_totals(struct bt_totals *totals)
{
    *totals = earlier_children;
    if (exchange) {
        totals->runs += exchange->totals.runs;
        totals->blocks += exchange->totals.blocks;
        totals->chains += exchange->totals.chains;
        totals->deadline_exits += exchange->totals.deadline_exits;
        totals->callouts += exchange->totals.callouts;
        totals->fallbacks += exchange->totals.fallbacks;
    }
}

void bt_runner_stop(void)
{
    if (child < 0)
        return;
    close(to_child);                     /* EOF: the child exits */
    close(from_child);
    waitpid(child, NULL, 0);
    child = -1;
}

void bt_runner_run(const uint8_t *code, unsigned length, const struct machine_state *initial,
                   const uint8_t *data, struct interp_setup setup, struct run_result *result)
{
    memset(result, 0, sizeof *result);
    if (length > sizeof exchange->code - sizeof ud2_filler) {
        snprintf(result->failure, sizeof result->failure, "bt: %u bytes of code is too long", length);
        return;
    }
    if (child < 0 && fork_child() < 0) {
        snprintf(result->failure, sizeof result->failure, "bt: cannot fork the runner");
        return;
    }
    memcpy(exchange->code, code, length);
    exchange->length = length;
    exchange->initial = *initial;
    exchange->setup = setup;
    memcpy(exchange->data, data, DATA_BUFFER_SIZE);
    char byte = 1;
    struct pollfd reply = { .fd = from_child, .events = POLLIN };
    if (write(to_child, &byte, 1) != 1 || poll(&reply, 1, CHILD_WAIT_MS) != 1 ||
        read(from_child, &byte, 1) != 1) {
        reap(result->failure, sizeof result->failure);
        return;
    }
    *result = exchange->result;
    result->data = exchange->data_after;
    result->low_data = exchange->data_after + DATA_SIZE;
}
