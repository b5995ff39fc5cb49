/*
 * console.c - stdin/stdout as the guest's serial line.
 */
#include "console.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dev/uart16550.h"
#include "stats.h"
#include "terminal.h"

void console_init(struct console *console, int input_fd, int output_fd)
{
    memset(console, 0, sizeof *console);
    console->input_fd = input_fd;
    console->output_fd = output_fd;
    console->input_open = fcntl(input_fd, F_GETFL) >= 0;
    if (console->input_open && isatty(input_fd) && tcgetattr(input_fd, &console->saved_terminal) == 0) {
        struct termios raw = console->saved_terminal;
        cfmakeraw(&raw);
        raw.c_lflag |= ISIG;          /* keep Ctrl-C as a way out */
        raw.c_oflag |= OPOST | ONLCR; /* our own messages still start at column 0 */
        /* Armed first: a crash between the two must still give it back. */
        terminal_rescue_arm(input_fd, &console->saved_terminal, output_fd, "", 0);
        if (tcsetattr(input_fd, TCSANOW, &raw) == 0)
            console->raw_mode = true;
        else
            terminal_rescue_disarm();
    }
}

/* Output that will never be written: count it where a student looks. */
static void drop_output(struct console *console, size_t bytes)
{
    console->bytes_dropped += bytes;
    if (!console->stats)
        return;
    if (!console->dropped_row)
        console->dropped_row = stats_counter(console->stats, "console", "output-dropped-bytes");
    console->dropped_row->count += bytes;
}

static bool should_give_up(const struct console *console)
{
    if (atomic_load(&console->abandon_output))
        return true;
    return console->give_up_at_ns && stats_now_ns() >= console->give_up_at_ns;
}

/* Waits until output_fd can take more; returns false if it cannot now and
 * the run has given up on it. Waits in short steps so that a stop signal or
 * the deadline is seen within POLL_STEP_MS even if poll() is not
 * interrupted (the signal may go to another thread). */
#define POLL_STEP_MS 10
static bool wait_writable(struct console *console)
{
    for (;;) {
        bool giving_up = should_give_up(console);
        struct pollfd poller = {.fd = console->output_fd, .events = POLLOUT};
        int ready = poll(&poller, 1, giving_up ? 0 : POLL_STEP_MS);
        if (ready > 0)
            return true;   /* writable, or an error that write() will report */
        if (giving_up || (ready < 0 && errno != EINTR))
            return false;
    }
}

/* Chunks of at most PIPE_BUF bytes: after poll() says a pipe is writable, a
 * write of PIPE_BUF bytes or fewer does not block, so a reader that stops
 * cannot trap us inside write(). A signal that interrupts a write on a
 * terminal or socket (our handlers have no SA_RESTART) brings us back to
 * should_give_up(). */
void console_flush(struct console *console)
{
    size_t done = 0;
    while (done < console->output_length) {
        if (!wait_writable(console))
            break;
        size_t chunk = console->output_length - done;
        if (chunk > PIPE_BUF)
            chunk = PIPE_BUF;
        ssize_t wrote = write(console->output_fd, console->output + done, chunk);
        if (wrote < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (wrote <= 0)
            break;   /* stdout closed: the guest keeps running, its output is dropped */
        done += (size_t)wrote;
    }
    if (done < console->output_length)
        drop_output(console, console->output_length - done);
    console->output_length = 0;
}

void console_write(struct console *console, uint8_t byte)
{
    console->output[console->output_length++] = byte;
    console->bytes_written++;
    if (byte == '\n' || console->output_length == sizeof console->output)
        console_flush(console);
}

static void read_input(struct console *console)
{
    if (!console->input_open || console->pending_length == sizeof console->pending)
        return;
    struct pollfd poller = {.fd = console->input_fd, .events = POLLIN};
    if (poll(&poller, 1, 0) <= 0)
        return;
    ssize_t got = read(console->input_fd, console->pending + console->pending_length,
                       sizeof console->pending - console->pending_length);
    if (got > 0)
        console->pending_length += (size_t)got;
    else if (got == 0 || (errno != EINTR && errno != EAGAIN))
        console->input_open = false;   /* EOF: the guest sees no more input */
}

void console_feed(struct console *console, struct uart16550 *uart)
{
    read_input(console);
    size_t taken = 0;
    while (taken < console->pending_length && uart_receive(uart, console->pending[taken]))
        taken++;
    memmove(console->pending, console->pending + taken, console->pending_length - taken);
    console->pending_length -= taken;
}

size_t console_take(struct console *console, uint8_t *into, size_t room)
{
    read_input(console);
    size_t taken = console->pending_length < room ? console->pending_length : room;
    memcpy(into, console->pending, taken);
    memmove(console->pending, console->pending + taken, console->pending_length - taken);
    console->pending_length -= taken;
    return taken;
}

void console_wait(struct console *console, uint64_t deadline_ns)
{
    console_flush(console);
    uint64_t now = stats_now_ns();
    if (deadline_ns <= now)
        return;
    uint64_t wait = deadline_ns - now;
    struct timespec timeout = {.tv_sec = (time_t)(wait / 1000000000ull),
                               .tv_nsec = (long)(wait % 1000000000ull)};
    /* Waiting on input only makes sense if there is room to take it. */
    bool watch_input = console->input_open && console->pending_length < sizeof console->pending;
    struct pollfd poller = {.fd = console->input_fd, .events = POLLIN};
    ppoll(watch_input ? &poller : NULL, watch_input ? 1 : 0, &timeout, NULL);
}

void console_restore(struct console *console)
{
    console_flush(console);
    if (console->raw_mode) {
        tcsetattr(console->input_fd, TCSANOW, &console->saved_terminal);
        terminal_rescue_disarm();
    }
    console->raw_mode = false;
}
