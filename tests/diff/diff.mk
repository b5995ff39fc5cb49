# diff.mk - differential testing: the interpreter's core against the host CPU.
#
# Included by the top Makefile (which defines BUILD, CC, CFLAGS_COMMON).
#   make diff-test                     the bounded run of `make test`
#   make fuzz-diff SEED=7 N=1000000    a campaign (defaults below)
#
# The harness is built without the sanitizers: its native runner maps fixed
# low addresses and runs 32-bit code in a child (tests/diff/native.c). The
# interpreter's core is compiled into it from the same sources as vmlab;
# the unit tests (tests/unit/test_diff_regressions.c) cover it under
# ASan+UBSan.

DIFF_BIN     := $(BUILD)/diff/vmlab-diff
DIFF_SOURCES := $(wildcard tests/diff/*.c) tests/diff/native_switch.S
DIFF_HEADERS := $(wildcard tests/diff/*.h)
DIFF_CORE    := $(wildcard core/x86/*.c) core/mem.c core/stats.c core/cpu.c core/dev/bus.c
DIFF_SEED    ?= 1
DIFF_COUNT   ?= 20000
SEED         ?= $(shell date +%s)
N            ?= 1000000

$(DIFF_BIN): $(DIFF_SOURCES) $(DIFF_HEADERS) $(DIFF_CORE) $(HEADERS) tests/diff/diff.mk
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_COMMON) -O2 -o $@ $(DIFF_SOURCES) $(DIFF_CORE) -lcapstone -lm

.PHONY: diff-test fuzz-diff
diff-test: $(DIFF_BIN) $(BUILD)/vmlab
	@if ! $(BUILD)/vmlab host | grep -Eq '^compat +yes'; then \
	   echo "SKIP diff-test: the native runner needs 32-bit compatibility mode:" \
	        "$$($(BUILD)/vmlab host | sed -n 's/^compat *no *//p')"; exit 0; fi; \
	 $(DIFF_BIN) --inject-difference --count 200 --max-reports 0 > /dev/null; \
	 if [ $$? -ne 1 ]; then echo "diff-test: the harness failed to report an injected difference"; exit 1; fi; \
	 $(DIFF_BIN) --seed $(DIFF_SEED) --count $(DIFF_COUNT)

fuzz-diff: $(DIFF_BIN)
	@echo "fuzz-diff: seed $(SEED), $(N) sequences"
	@$(DIFF_BIN) --seed $(SEED) --count $(N) --max-items 48 --max-reports 20
