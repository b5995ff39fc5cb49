/*
 * test_outputs.c - where a run's output goes when the other end fails: a
 * stdout nobody reads (the console gives up at its deadline or on a stop
 * signal, and counts what it dropped), a statistics file whose writes fail,
 * and the configuration errors that must name the value they refuse.
 */
#include <criterion/criterion.h>

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/config.h"
#include "core/console.h"
#include "core/stats.h"
#include "core/stats_json.h"
#include "core/vm.h"

/* A pipe whose reader never reads: its buffer is made small and filled, so
 * the next write would block. */
static void stalled_pipe(int fds[2])
{
    cr_assert_eq(pipe(fds), 0);
    fcntl(fds[1], F_SETPIPE_SZ, 4096);
    fcntl(fds[1], F_SETFL, O_NONBLOCK);
    char junk[4096];
    memset(junk, 'j', sizeof junk);
    while (write(fds[1], junk, sizeof junk) > 0)
        ;
    fcntl(fds[1], F_SETFL, 0);   /* blocking again, as stdout usually is */
}

static void fill_line(struct console *console, size_t length)
{
    for (size_t i = 0; i + 1 < length; i++)
        console_write(console, 'x');
    console_write(console, '\n');   /* the newline flushes */
}

Test(console, stalled_reader_gives_up_at_the_deadline_and_counts_the_drop, .timeout = 10)
{
    int fds[2];
    stalled_pipe(fds);
    static struct stats stats;
    stats_init(&stats, stats_now_ns());
    struct console console;
    console_init(&console, -1, fds[1]);
    console.stats = &stats;
    uint64_t start = stats_now_ns();
    console.give_up_at_ns = start + 200000000ull;   /* 200 ms */
    fill_line(&console, 100);
    uint64_t waited = stats_now_ns() - start;
    cr_assert_geq(waited, 190000000ull, "gave up early: %llu ns", (unsigned long long)waited);
    cr_assert_lt(waited, 2000000000ull, "waited %llu ns past the deadline",
                 (unsigned long long)waited);
    cr_assert_eq(console.bytes_dropped, 100);
    const struct stats_counter *row = stats_counter(&stats, "console", "output-dropped-bytes");
    cr_assert_eq(row->count, 100);
    /* Past the deadline, a second flush does not wait at all. */
    start = stats_now_ns();
    fill_line(&console, 10);
    cr_assert_lt(stats_now_ns() - start, 50000000ull);
    cr_assert_eq(console.bytes_dropped, 110);
    close(fds[0]);
    close(fds[1]);
}

Test(console, stalled_reader_gives_up_on_a_stop_signal, .timeout = 10)
{
    int fds[2];
    stalled_pipe(fds);
    struct console console;
    console_init(&console, -1, fds[1]);
    atomic_store(&console.abandon_output, true);   /* what the SIGTERM handler does */
    uint64_t start = stats_now_ns();
    fill_line(&console, 50);
    cr_assert_lt(stats_now_ns() - start, 50000000ull);
    cr_assert_eq(console.bytes_dropped, 50);
    close(fds[0]);
    close(fds[1]);
}

Test(console, a_reader_that_reads_gets_everything)
{
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    struct console console;
    console_init(&console, -1, fds[1]);
    console.give_up_at_ns = stats_now_ns() + 1000000000ull;
    fill_line(&console, 300);
    char got[512];
    cr_assert_eq(read(fds[0], got, sizeof got), 300);
    cr_assert_eq(console.bytes_dropped, 0);
    close(fds[0]);
    close(fds[1]);
}

/* The temporary's fd pointed at /dev/full: the failed write must be
 * reported with its reason, the temporary removed, FILE not created. */
Test(stats_file, a_failed_write_is_reported_and_nothing_is_published)
{
    char directory[] = "/tmp/vmlab-test-XXXXXX";
    cr_assert_not_null(mkdtemp(directory));
    char path[256], error[512];
    snprintf(path, sizeof path, "%s/stats.json", directory);
    struct stats_file file;
    cr_assert_eq(stats_file_open(&file, path, error, sizeof error), 0, "%s", error);
    int full = open("/dev/full", O_WRONLY);
    cr_assert_geq(full, 0);
    dup2(full, file.fd);
    close(full);
    static struct vm vm;
    vm.config.guest_path = "guest.elf";
    stats_init(&vm.stats, 0);
    char temporary[sizeof file.temporary];
    snprintf(temporary, sizeof temporary, "%s", file.temporary);
    cr_assert_eq(stats_file_commit(&file, &vm, error, sizeof error), -1);
    cr_assert(strstr(error, "No space left on device"), "error: %s", error);
    cr_assert_neq(access(temporary, F_OK), 0, "the temporary was left behind");
    cr_assert_neq(access(path, F_OK), 0, "a half-written FILE was published");
    rmdir(directory);
}

Test(stats_file, a_directory_or_device_is_refused_before_the_run)
{
    struct stats_file file;
    char error[512];
    cr_assert_eq(stats_file_open(&file, "/tmp", error, sizeof error), -1);
    cr_assert(strstr(error, "is a directory"), "error: %s", error);
    cr_assert_eq(stats_file_open(&file, "/dev/full", error, sizeof error), -1);
    cr_assert(strstr(error, "not a regular file"), "error: %s", error);
}

static void expect_config_error(const char *json, const char *expected)
{
    struct run_options options;
    memset(&options, 0, sizeof options);
    char error[512] = "";
    cr_assert_eq(config_apply_json(&options, json, "vm.json", error, sizeof error), -1,
                 "%s was accepted", json);
    cr_assert(strstr(error, expected), "%s: error '%s' lacks '%s'", json, error, expected);
    config_free(&options);
}

Test(config, numeric_errors_name_the_value)
{
    expect_config_error("{\"timeout\": -3}", "\"timeout\" (-3)");
    expect_config_error("{\"stats_interval\": 5}", "\"stats_interval\" (5)");
    expect_config_error("{\"mem\": 64}", "64 bytes");
    expect_config_error("{\"mem\": \"64\"}", "64 bytes");
    expect_config_error("{\"mem\": 1.5}", "1.5 is not a size");
}

Test(config, a_size_with_a_unit_or_in_bytes_is_accepted)
{
    struct run_options options;
    memset(&options, 0, sizeof options);
    char error[512] = "";
    cr_assert_eq(config_apply_json(&options, "{\"mem\": 67108864}", "vm.json", error,
                                   sizeof error), 0, "%s", error);
    cr_assert_eq(options.vm.memory_bytes, 64ull << 20);
    cr_assert_eq(config_apply_json(&options, "{\"mem\": \"128M\"}", "vm.json", error,
                                   sizeof error), 0, "%s", error);
    cr_assert_eq(options.vm.memory_bytes, 128ull << 20);
    config_free(&options);
}
