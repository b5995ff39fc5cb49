/*
 * native.c - the real-CPU runner (see native.h and native_switch.S).
 *
 * Never built with AddressSanitizer: ASan's shadow would not know the
 * fixed low mappings, and the child leaves the compiler's world entirely.
 */
#include "native.h"

#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "layout_asm.h"

_Static_assert(CODE_BASE == CODE_BASE_ASM, "native_switch.S enters at CODE_BASE");

void diff_native_enter(const struct machine_state *initial);
void diff_native_return(void);

/* Where the harness leaves the initial state for the child. */
#define ENTRY_STATE ((struct machine_state *)(uintptr_t)(SAVE_BASE + 0x900u))
#define SAVED_STATE ((const struct machine_state *)(uintptr_t)SAVE_BASE)
/* The page to protect for the next run (0: none), and whether it is to be
 * inaccessible rather than read-only. */
#define ENTRY_PROTECTION ((volatile uint32_t *)(uintptr_t)(SAVE_BASE + 0x980u))

/* What the child's fault handler saw, also in the shared region. */
struct fault_record {
    uint32_t faulted, vector, eip, cr2, error_code;
};
#define FAULT_RECORD ((struct fault_record *)(uintptr_t)(SAVE_BASE + 0xa00u))

/* Linux's compatibility-mode user code selector (__USER32_CS). */
#define USER32_CS 0x23

#define PAGE_BYTES 4096u

/* A sequence runs in microseconds; this only catches a hang. */
#define CHILD_TIMEOUT_MS 2000

static pid_t child = -1;
static int go_pipe[2] = { -1, -1 }, done_pipe[2] = { -1, -1 };
static bool region_mapped, low_area_mapped;

static uint8_t *at(uint32_t address)
{
    return (uint8_t *)(uintptr_t)address;
}

static void put32(uint8_t **p, uint32_t value)
{
    memcpy(*p, &value, 4);
    *p += 4;
}

/* 32-bit exit stub: store the registers, then EFLAGS through a private
 * stack, then far-jump to the 64-bit stub. MOV does not change flags. */
static unsigned write_exit_stub(uint8_t *p)
{
    uint8_t *start = p;
    *p++ = 0xa3;                                  /* mov [SAVE], eax */
    put32(&p, SAVE_BASE);
    for (unsigned reg = 1; reg < 8; reg++) {      /* mov [SAVE + 4*reg], reg */
        *p++ = 0x89;
        *p++ = (uint8_t)(0x05 | reg << 3);
        put32(&p, SAVE_BASE + 4 * reg);
    }
    *p++ = 0xbc;                                  /* mov esp, SAVE_STACK_TOP */
    put32(&p, SAVE_STACK_TOP);
    *p++ = 0x9c;                                  /* pushfd */
    *p++ = 0x8f;                                  /* pop dword [SAVE + 32] */
    *p++ = 0x05;
    put32(&p, SAVE_BASE + 32);
    *p++ = 0xea;                                  /* jmp far 0x33:STUB64_BASE */
    put32(&p, STUB64_BASE);
    *p++ = 0x33;
    *p++ = 0x00;
    return (unsigned)(p - start);
}

/* 64-bit stub below 4 GiB: movabs rax, diff_native_return; jmp rax. */
static void write_stub64(void)
{
    uint8_t *p = at(STUB64_BASE);
    uint64_t target = (uint64_t)(uintptr_t)diff_native_return;
    *p++ = 0x48;
    *p++ = 0xb8;
    memcpy(p, &target, 8);
    p += 8;
    *p++ = 0xff;
    *p++ = 0xe0;
}

static sigjmp_buf child_resume;

/*
 * An exception in the sequence: Linux reports the vector in the signal
 * context's trap number (SIGFPE for #DE, SIGSEGV for #BR/#GP/#PF, SIGILL
 * for #UD) with the compatibility-mode registers as they were at the
 * fault. Record them as the final state and resume the child's loop.
 * Anything outside compatibility mode is the harness's own bug: die.
 */
static void child_fault_handler(int signal_number, siginfo_t *info, void *context)
{
    const greg_t *gregs = ((ucontext_t *)context)->uc_mcontext.gregs;
    static const int order[8] = { REG_RAX, REG_RCX, REG_RDX, REG_RBX, REG_RSP, REG_RBP, REG_RSI, REG_RDI };
    if ((gregs[REG_CSGSFS] & 0xffff) != USER32_CS) {
        signal(signal_number, SIG_DFL);
        return;
    }
    struct machine_state *saved = (struct machine_state *)(uintptr_t)SAVE_BASE;
    for (unsigned i = 0; i < 8; i++)
        saved->regs[i] = (uint32_t)gregs[order[i]];
    saved->eflags = (uint32_t)gregs[REG_EFL];
    /* For a #PF Linux reports CR2 as si_addr. */
    *FAULT_RECORD = (struct fault_record){ 1, (uint32_t)gregs[REG_TRAPNO], (uint32_t)gregs[REG_RIP],
                                           (uint32_t)(uintptr_t)info->si_addr, (uint32_t)gregs[REG_ERR] };
    siglongjmp(child_resume, 1);
}

/* The handler runs on its own stack: the guest's ESP points into the
 * compared data area. */
static void child_catch_faults(void)
{
    static const int signals[] = { SIGFPE, SIGSEGV, SIGILL, SIGBUS, SIGTRAP };
    stack_t alternate = { .ss_sp = malloc(1 << 16), .ss_size = 1 << 16 };
    sigaltstack(&alternate, NULL);
    struct sigaction action = { .sa_sigaction = child_fault_handler, .sa_flags = SA_SIGINFO | SA_ONSTACK };
    sigemptyset(&action.sa_mask);
    for (unsigned i = 0; i < sizeof signals / sizeof signals[0]; i++)
        sigaction(signals[i], &action, NULL);
}

static _Noreturn void child_loop(void)
{
    close(go_pipe[1]);
    close(done_pipe[0]);
    child_catch_faults();
    char token;
    uint32_t protected_page = 0, absent = 0;
    while (read(go_pipe[0], &token, 1) == 1) {
        if (ENTRY_PROTECTION[0] != protected_page || ENTRY_PROTECTION[1] != absent) {
            if (protected_page)                        /* the child's own view of the shared page */
                mprotect((void *)(uintptr_t)protected_page, PAGE_BYTES, PROT_READ | PROT_WRITE);
            protected_page = ENTRY_PROTECTION[0];
            absent = ENTRY_PROTECTION[1];
            if (protected_page)
                mprotect((void *)(uintptr_t)protected_page, PAGE_BYTES, absent ? PROT_NONE : PROT_READ);
        }
        FAULT_RECORD->faulted = 0;
        if (sigsetjmp(child_resume, 1) == 0)
            diff_native_enter(ENTRY_STATE);
        if (write(done_pipe[1], &token, 1) != 1)
            break;
    }
    _exit(0);
}

static int fork_child(void)
{
    if (pipe(go_pipe) != 0 || pipe(done_pipe) != 0) {
        perror("diff: pipe");
        return -1;
    }
    child = fork();
    if (child < 0) {
        perror("diff: fork");
        return -1;
    }
    if (child == 0)
        child_loop();
    close(go_pipe[0]);
    close(done_pipe[1]);
    return 0;
}

int native_start(bool *low_area)
{
    if (!region_mapped) {
        void *region = mmap(at(DIFF_REGION_BASE), DIFF_REGION_SIZE,
                            PROT_READ | PROT_WRITE | PROT_EXEC,
                            MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
        if (region != at(DIFF_REGION_BASE)) {
            fprintf(stderr, "diff: cannot map the low region at 0x%x: %s\n", DIFF_REGION_BASE,
                    strerror(errno));
            return -1;
        }
        region_mapped = true;
        write_stub64();
        void *low = mmap(at(LOW_DATA_BASE), LOW_DATA_SIZE, PROT_READ | PROT_WRITE,
                         MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
        low_area_mapped = low == at(LOW_DATA_BASE);
        if (!low_area_mapped)
            fprintf(stderr, "diff: no low data area at 0x%x (%s): no 16-bit addressing\n",
                    LOW_DATA_BASE, strerror(errno));
    }
    *low_area = low_area_mapped;
    signal(SIGPIPE, SIG_IGN);
    return fork_child();
}

void native_stop(void)
{
    if (child > 0) {
        close(go_pipe[1]);
        close(done_pipe[0]);
        kill(child, SIGKILL);
        waitpid(child, NULL, 0);
    }
    child = -1;
}

/* The child died or hung: say how, and reap it (the next run re-forks). */
static void child_failed(struct run_result *result, bool timed_out)
{
    int status = 0;
    if (timed_out)
        kill(child, SIGKILL);
    waitpid(child, &status, 0);
    if (timed_out)
        snprintf(result->failure, sizeof result->failure, "native run hung (> %d ms)",
                 CHILD_TIMEOUT_MS);
    else if (WIFSIGNALED(status))
        snprintf(result->failure, sizeof result->failure, "native run died: signal %d (%s)",
                 WTERMSIG(status), strsignal(WTERMSIG(status)));
    else
        snprintf(result->failure, sizeof result->failure, "native child exited (status %d)",
                 WEXITSTATUS(status));
    close(go_pipe[1]);
    close(done_pipe[0]);
    child = -1;
}

void native_run(const uint8_t *code, unsigned length, const struct machine_state *initial,
                const uint8_t *data, uint32_t protected_page, bool absent, struct run_result *result)
{
    memset(result, 0, sizeof *result);
    if (child < 0 && fork_child() != 0) {
        snprintf(result->failure, sizeof result->failure, "cannot fork the native child");
        return;
    }
    memcpy(at(CODE_BASE), code, length);
    write_exit_stub(at(CODE_BASE + length));
    memcpy(at(DATA_BASE), data, DATA_SIZE);
    if (low_area_mapped)
        memcpy(at(LOW_DATA_BASE), data + DATA_SIZE, LOW_DATA_SIZE);
    *ENTRY_STATE = *initial;
    ENTRY_PROTECTION[0] = protected_page;
    ENTRY_PROTECTION[1] = absent;

    char token = 'g';
    struct pollfd wait_done = { .fd = done_pipe[0], .events = POLLIN };
    if (write(go_pipe[1], &token, 1) != 1 || poll(&wait_done, 1, CHILD_TIMEOUT_MS) != 1 ||
        read(done_pipe[0], &token, 1) != 1) {
        child_failed(result, poll(&wait_done, 1, 0) == 0);
        return;
    }
    result->completed = true;
    result->final = *SAVED_STATE;
    if (FAULT_RECORD->faulted)
        result->fault = (struct fault_report){ true, (int)FAULT_RECORD->vector, FAULT_RECORD->eip,
                                               FAULT_RECORD->vector == 14 ? FAULT_RECORD->cr2 : 0,
                                               FAULT_RECORD->error_code };
    result->data = at(DATA_BASE);
    result->low_data = low_area_mapped ? at(LOW_DATA_BASE) : data + DATA_SIZE;
}
