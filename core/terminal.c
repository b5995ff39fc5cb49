/*
 * terminal.c - the terminal rescue of terminal.h.
 */
#include "terminal.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

/* What a crash handler needs to give the terminal back. A global because a
 * signal handler receives nothing but the signal number. Written before the
 * handlers are installed (and `armed` last), only read by them. */
static struct {
    volatile sig_atomic_t armed;
    int tty_fd, output_fd;
    struct termios saved;
    char sequence[128];
    size_t sequence_length;
    volatile sig_atomic_t saved_stderr;
    struct sigaction previous[NSIG];
} rescue = {.saved_stderr = -1};

static const int crash_signals[] = {SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL};
#define CRASH_SIGNAL_COUNT (sizeof crash_signals / sizeof *crash_signals)

void terminal_rescue_now(void)
{
    if (!rescue.armed)
        return;
    rescue.armed = 0;
    /* Only async-signal-safe calls here: write, tcsetattr, dup2. */
    if (rescue.sequence_length &&
        write(rescue.output_fd, rescue.sequence, rescue.sequence_length) < 0)
        (void)0;   /* nothing better to do in a crash */
    tcsetattr(rescue.tty_fd, TCSANOW, &rescue.saved);
    if (rescue.saved_stderr >= 0)
        dup2(rescue.saved_stderr, STDERR_FILENO);
}

static void on_crash(int signal_number, siginfo_t *info, void *context)
{
    (void)context;
    terminal_rescue_now();
    sigaction(signal_number, &rescue.previous[signal_number], NULL);
    /* A fault (si_code > 0 from the kernel) recurs when we return, now with
     * the default action; a sent signal (abort, kill) is sent again. */
    if (info->si_code <= 0)
        raise(signal_number);
}

static void install_crash_handlers(void)
{
    struct sigaction action = {.sa_sigaction = on_crash, .sa_flags = SA_SIGINFO | SA_ONSTACK};
    sigemptyset(&action.sa_mask);
    for (size_t i = 0; i < CRASH_SIGNAL_COUNT; i++) {
        int number = crash_signals[i];
        if (sigaction(number, NULL, &rescue.previous[number]) == 0 &&
            !(rescue.previous[number].sa_flags & SA_SIGINFO) &&
            rescue.previous[number].sa_handler == SIG_DFL)
            sigaction(number, &action, NULL);
    }
}

static void remove_crash_handlers(void)
{
    for (size_t i = 0; i < CRASH_SIGNAL_COUNT; i++) {
        struct sigaction current;
        int number = crash_signals[i];
        if (sigaction(number, NULL, &current) == 0 && (current.sa_flags & SA_SIGINFO) &&
            current.sa_sigaction == on_crash)
            sigaction(number, &rescue.previous[number], NULL);
    }
}

void terminal_rescue_arm(int tty_fd, const struct termios *saved, int output_fd,
                         const char *sequence, size_t sequence_length)
{
    rescue.armed = 0;
    rescue.tty_fd = tty_fd;
    rescue.saved = *saved;
    rescue.output_fd = output_fd;
    if (sequence_length > sizeof rescue.sequence)
        sequence_length = sizeof rescue.sequence;
    memcpy(rescue.sequence, sequence, sequence_length);
    rescue.sequence_length = sequence_length;
    rescue.armed = 1;
    install_crash_handlers();
}

void terminal_rescue_set_stderr(int saved_stderr)
{
    rescue.saved_stderr = saved_stderr;
}

void terminal_rescue_disarm(void)
{
    remove_crash_handlers();
    rescue.armed = 0;
}
