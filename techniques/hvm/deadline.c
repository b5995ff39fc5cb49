/*
 * deadline.c - leaving KVM_RUN at vm->deadline_ns without busy-waiting.
 *
 * A guest that never exits (a compute loop) would keep KVM_RUN forever, and
 * the core would never get to update the PIT. So a one-shot POSIX timer
 * sends a signal to the vCPU thread at the deadline; a pending signal makes
 * KVM_RUN return -EINTR with exit reason KVM_EXIT_INTR (KVM API: KVM_RUN).
 *
 * The signal is blocked in the vCPU thread and unblocked only while the
 * thread is inside KVM_RUN, through the vCPU's own signal mask (KVM API:
 * KVM_SET_SIGNAL_MASK). That closes the classic race: a timer that fires
 * between our deadline check and the ioctl stays pending, and the ioctl
 * returns at once instead of running the guest past its deadline. The
 * alternative (a handler that sets kvm_run->immediate_exit) needs a global
 * pointer for the handler; this needs none.
 *
 * Cost: one timer_settime per run() call (not per exit) and one
 * sigtimedwait per deadline.
 */
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "techniques/hvm/hvm_internal.h"

/* Never called in practice: the signal is taken with sigtimedwait. But a
 * signal whose action is "ignore" is discarded when sent and would never
 * interrupt KVM_RUN, and the default action of a real-time signal is to
 * kill the process, so it needs a handler that does nothing. */
static void deadline_signal_handler(int signal_number)
{
    (void)signal_number;
}

static int fail(char *why, size_t why_len, const char *what)
{
    snprintf(why, why_len, "%s: %s", what, strerror(errno));
    return -1;
}

static int install_handler(struct hvm_deadline *deadline, char *why, size_t why_len)
{
    struct sigaction action = {.sa_handler = deadline_signal_handler};
    sigemptyset(&action.sa_mask);
    if (sigaction(deadline->signal_number, &action, &deadline->action_before) < 0)
        return fail(why, why_len, "sigaction for the deadline signal");
    deadline->handler_installed = true;
    return 0;
}

/* Block the signal in this thread, and give KVM the mask to use inside
 * KVM_RUN: this thread's mask without our signal. KVM's sigset is the
 * kernel's (8 bytes on x86-64), not glibc's 128-byte sigset_t, whose first
 * bytes hold the same bits (KVM API: KVM_SET_SIGNAL_MASK). */
static int block_outside_kvm_run(struct hvm_deadline *deadline, int vcpu_fd, char *why,
                                 size_t why_len)
{
    sigset_t ours;
    sigemptyset(&ours);
    sigaddset(&ours, deadline->signal_number);
    if (pthread_sigmask(SIG_BLOCK, &ours, &deadline->thread_mask_before) != 0)
        return fail(why, why_len, "pthread_sigmask");
    sigset_t inside = deadline->thread_mask_before;
    sigdelset(&inside, deadline->signal_number);
    struct {
        struct kvm_signal_mask header;
        uint8_t bits[8];
    } mask = {.header.len = 8};
    memcpy(mask.bits, &inside, sizeof mask.bits);
    if (deadline->kvm_mask_set && memcmp(mask.bits, deadline->kvm_mask, sizeof mask.bits) == 0)
        return 0;   /* the kept vCPU has it already */
    deadline->kvm_mask_set = false;
    if (ioctl(vcpu_fd, KVM_SET_SIGNAL_MASK, &mask) < 0)
        return fail(why, why_len, "KVM_SET_SIGNAL_MASK");
    memcpy(deadline->kvm_mask, mask.bits, sizeof mask.bits);
    deadline->kvm_mask_set = true;
    return 0;
}

/* A timer that signals this thread, not the process (SIGEV_THREAD_ID,
 * timer_create(2)): the vCPU thread is the one that must leave KVM_RUN. */
static int create_thread_timer(struct hvm_deadline *deadline, char *why, size_t why_len)
{
    struct sigevent event = {.sigev_notify = SIGEV_THREAD_ID,
                             .sigev_signo = deadline->signal_number};
    event._sigev_un._tid = gettid();
    if (timer_create(CLOCK_MONOTONIC, &event, &deadline->timer) < 0)
        return fail(why, why_len, "timer_create");
    deadline->timer_created = true;
    return 0;
}

int hvm_deadline_start(struct hvm_deadline *deadline, int vcpu_fd, char *why, size_t why_len)
{
    /* Everything but the mask the vCPU keeps (above) starts afresh. */
    bool kvm_mask_set = deadline->kvm_mask_set;
    uint8_t kvm_mask[8];
    memcpy(kvm_mask, deadline->kvm_mask, sizeof kvm_mask);
    memset(deadline, 0, sizeof *deadline);
    deadline->kvm_mask_set = kvm_mask_set;
    memcpy(deadline->kvm_mask, kvm_mask, sizeof kvm_mask);
    /* The first real-time signal: glibc keeps the ones below SIGRTMIN for
     * itself, and no other part of vmlab uses real-time signals. */
    deadline->signal_number = SIGRTMIN;
    deadline->thread = pthread_self();
    if (install_handler(deadline, why, why_len) < 0)
        return -1;
    if (block_outside_kvm_run(deadline, vcpu_fd, why, why_len) < 0)
        return -1;
    return create_thread_timer(deadline, why, why_len);
}

int hvm_deadline_arm(struct hvm_deadline *deadline, uint64_t deadline_ns)
{
    if (deadline_ns == deadline->armed_ns)
        return 0;
    struct itimerspec when = {
        .it_value = {.tv_sec = (time_t)(deadline_ns / 1000000000u),
                     .tv_nsec = (long)(deadline_ns % 1000000000u)}};
    if (when.it_value.tv_sec == 0 && when.it_value.tv_nsec == 0)
        when.it_value.tv_nsec = 1;   /* zero would disarm the timer */
    if (timer_settime(deadline->timer, TIMER_ABSTIME, &when, NULL) < 0)
        return -1;
    deadline->armed_ns = deadline_ns;
    return 0;
}

void hvm_deadline_consume(struct hvm_deadline *deadline)
{
    sigset_t ours;
    sigemptyset(&ours);
    sigaddset(&ours, deadline->signal_number);
    const struct timespec no_wait = {0, 0};
    if (sigtimedwait(&ours, NULL, &no_wait) == deadline->signal_number)
        deadline->armed_ns = 0;   /* a one-shot timer that fired is disarmed */
}

void hvm_deadline_stop(struct hvm_deadline *deadline)
{
    if (deadline->timer_created)
        timer_delete(deadline->timer);
    deadline->timer_created = false;
    if (!deadline->handler_installed)
        return;
    hvm_deadline_consume(deadline);   /* a signal fired but never taken */
    pthread_sigmask(SIG_SETMASK, &deadline->thread_mask_before, NULL);
    sigaction(deadline->signal_number, &deadline->action_before, NULL);
    deadline->handler_installed = false;
}
