# diff.mk - differential testing: the interpreter's core against the host CPU.
#
# Included by the top Makefile (which defines BUILD, CC, CFLAGS_COMMON).
#   make diff-test                     the bounded run of `make test`
#   make fuzz-diff SEED=7 N=1000000    a campaign (defaults below)
#   make fuzz-diff BT=1 SEED=7 N=...   a campaign of bt against the interpreter
#                                      (and the host CPU where it can run 32-bit code)
#
# The harness is built without the sanitizers: its native runner maps fixed
# low addresses and runs 32-bit code in a child (tests/diff/native.c), and
# its bt runner needs the low 4 GiB (tests/diff/bt_runner.c). It links the
# release objects of core/ and techniques/ (LIB_OBJS): the interpreter's
# core, and the bt technique through core/technique.h. The unit tests
# (tests/unit/test_diff_regressions.c) cover the core under ASan+UBSan.

DIFF_BIN     := $(BUILD)/diff/vmlab-diff
DIFF_SOURCES := $(wildcard tests/diff/*.c) tests/diff/native_switch.S
DIFF_HEADERS := $(wildcard tests/diff/*.h)
DIFF_SEED    ?= 1
DIFF_COUNT   ?= 20000
DIFF_BT_COUNT ?= 10000
SEED         ?= $(shell date +%s)
N            ?= 1000000

$(DIFF_BIN): $(DIFF_SOURCES) $(DIFF_HEADERS) $(LIB_OBJS) $(HEADERS) tests/diff/diff.mk
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_COMMON) -O2 -o $@ $(DIFF_SOURCES) $(LIB_OBJS) $(LIBS)

.PHONY: diff-test fuzz-diff
diff-test: $(DIFF_BIN)
	@DIFF_SEED=$(DIFF_SEED) DIFF_COUNT=$(DIFF_COUNT) DIFF_BT_COUNT=$(DIFF_BT_COUNT) tests/diff/run.sh

fuzz-diff: $(DIFF_BIN)
	@echo "fuzz-diff: seed $(SEED), $(N) sequences$(if $(BT), under bt)"
	@$(DIFF_BIN) $(if $(BT),--bt) --seed $(SEED) --count $(N) --max-items 48 --max-reports 20
