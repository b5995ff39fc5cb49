/*
 * test_dashboard_config.c - the dashboard's and the stats stream's options,
 * as flags and as --config keys.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "core/config.h"

static char error[512];

Test(dashboard_config, flags)
{
    struct run_options options;
    char *argv[] = {"run", "--dashboard", "--dashboard-exit-on-stop", "--stats-out", "s.jsonl",
                    "--stats-interval", "250", "g.elf", NULL};
    cr_assert_eq(config_parse_run(8, argv, &options, error, sizeof error), 0, "%s", error);
    cr_assert(options.dashboard);
    cr_assert(options.dashboard_exit_on_stop);
    cr_assert_str_eq(options.stats_out_path, "s.jsonl");
    cr_assert_eq(options.stats_interval_ms, 250);
    config_free(&options);
}

Test(dashboard_config, stats_out_defaults_to_one_second)
{
    struct run_options options;
    char *argv[] = {"run", "--stats-out", "s.jsonl", "g.elf", NULL};
    cr_assert_eq(config_parse_run(4, argv, &options, error, sizeof error), 0, "%s", error);
    cr_assert_eq(options.stats_interval_ms, 1000);
    cr_assert_not(options.dashboard);
    config_free(&options);
}

Test(dashboard_config, bad_values_are_errors)
{
    struct run_options options;
    char *no_file[] = {"run", "--stats-interval", "100", "g.elf", NULL};
    cr_assert_eq(config_parse_run(4, no_file, &options, error, sizeof error), -1);
    cr_assert(strstr(error, "--stats-interval needs --stats-out"), "%s", error);
    config_free(&options);
    char *too_fast[] = {"run", "--stats-out", "s", "--stats-interval", "1", "g.elf", NULL};
    cr_assert_eq(config_parse_run(6, too_fast, &options, error, sizeof error), -1);
    cr_assert(strstr(error, "from 10 to"), "%s", error);
    config_free(&options);
    char *not_a_number[] = {"run", "--stats-out", "s", "--stats-interval", "fast", "g.elf", NULL};
    cr_assert_eq(config_parse_run(6, not_a_number, &options, error, sizeof error), -1);
    cr_assert(strstr(error, "'fast'"), "%s", error);
    config_free(&options);
}

Test(dashboard_config, json_keys)
{
    struct run_options options;
    memset(&options, 0, sizeof options);
    cr_assert_eq(config_apply_json(&options,
                                   "{\"dashboard\": true, \"dashboard_exit_on_stop\": true, "
                                   "\"stats_out\": \"o.jsonl\", \"stats_interval\": 500}",
                                   "vm.json", error, sizeof error), 0, "%s", error);
    cr_assert(options.dashboard);
    cr_assert(options.dashboard_exit_on_stop);
    cr_assert_str_eq(options.stats_out_path, "o.jsonl");
    cr_assert_eq(options.stats_interval_ms, 500);
    cr_assert_eq(config_apply_json(&options, "{\"dashboard\": 1}", "vm.json", error, sizeof error),
                 -1);
    cr_assert(strstr(error, "\"dashboard\" must be true or false"), "%s", error);
    cr_assert_eq(config_apply_json(&options, "{\"stats_interval\": 2.5}", "vm.json", error,
                                   sizeof error), -1);
    cr_assert(strstr(error, "whole number of milliseconds"), "%s", error);
    config_free(&options);
}
