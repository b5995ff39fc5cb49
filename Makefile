# vmlab - a teaching virtual machine monitor.
#
#   make          build vmlab and the guests (build/vmlab, build/guests/*.elf)
#   make demo     install the packages, build, boot the teaching kernel (test=sched)
#   make test     every suite: unit tests (ASan+UBSan), the real CPU as oracle,
#                 guests and kernel against QEMU, switching, hvm, dashboard,
#                 trapemu and its containment, bt, guest survival, bad input
#   make bench    vmlab bench (every technique side by side, docs/bench.md), then
#                 hvm exit and switch costs and trapemu trap costs where they run
#   make fuzz-diff SEED= N=    a differential campaign (tests/diff)
#   make fuzz-guest SEED= N=   a guest-survival campaign (tests/fuzz)
#   make labs     the course labs and what each needs from the host
#                 (labs/README.md): make lab-skeleton LAB=NN OUT=DIR,
#                 make grade LAB=NN, make grade-all SUBMISSIONS=DIR LAB=NN
#
# Sources are found by wildcard: a new file in core/ or techniques/ is built
# without touching this file.

CC      ?= gcc
CFLAGS_COMMON := -std=c11 -Wall -Wextra -Werror -D_GNU_SOURCE -I. -g \
                 $(shell pkg-config --cflags libcjson 2>/dev/null)
CFLAGS  ?= -O2
LIBS    := -lcjson -lm -lcapstone $(shell pkg-config --libs ncurses) -pthread -lseccomp

BUILD   := build
VMM_SOURCES := $(shell find core techniques -name '*.c' | sort)
VMM_MAIN    := core/ui/main.c
LIB_SOURCES := $(filter-out $(VMM_MAIN),$(VMM_SOURCES))
HEADERS     := $(shell find core techniques -name '*.h')

# The release build.
OBJ      := $(BUILD)/obj
LIB_OBJS := $(LIB_SOURCES:%.c=$(OBJ)/%.o)

# The test build: the same sources under AddressSanitizer and UBSan.
SAN_FLAGS := -O1 -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
SAN_OBJ      := $(BUILD)/san
SAN_LIB_OBJS := $(LIB_SOURCES:%.c=$(SAN_OBJ)/%.o)

.PHONY: all deps demo test unit-tests guest-tests bench clean guests fuzz-guest
all: $(BUILD)/vmlab $(BUILD)/vmlab-san guests

$(OBJ)/%.o: %.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_COMMON) $(CFLAGS) -c $< -o $@

$(SAN_OBJ)/%.o: %.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_COMMON) $(SAN_FLAGS) -c $< -o $@

$(BUILD)/vmlab: $(LIB_OBJS) $(OBJ)/$(VMM_MAIN:.c=.o)
	$(CC) $(CFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/vmlab-san: $(SAN_LIB_OBJS) $(SAN_OBJ)/$(VMM_MAIN:.c=.o)
	$(CC) $(SAN_FLAGS) -o $@ $^ $(LIBS)

# ---- guests (32-bit, freestanding) ------------------------------------------
include labs/guests/guests.mk
-include labs/guests/kernel/kernel.mk
include tests/diff/diff.mk

# ---- unit tests (Criterion, under the sanitizers) ---------------------------
UNIT_SOURCES := $(wildcard tests/unit/*.c)
UNIT_TESTS   := $(UNIT_SOURCES:tests/unit/%.c=$(BUILD)/unit/%)

$(BUILD)/unit/%: tests/unit/%.c $(SAN_LIB_OBJS) $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_COMMON) $(SAN_FLAGS) -o $@ $< $(SAN_LIB_OBJS) $(LIBS) -lcriterion -lcapstone

# Every binary runs to its end; tests/unit/run.sh counts passes, failures
# and skips (a host without compatibility mode skips the CPU-oracle tests).
unit-tests: $(UNIT_TESTS)
	@tests/unit/run.sh $(UNIT_TESTS)

guest-tests: all
	@tests/guests/run.sh

# Every suite runs, and tests/totals.sh adds them up: the last line is
# "make test: N passed, N failed, N skipped". What this host cannot run is
# skipped with the host fact; tests/host/run.sh then runs the quick checks
# again as if the host had neither compatibility mode nor KVM.
TEST_SUITES := "tests/unit/run.sh $(UNIT_TESTS)" tests/diff/run.sh tests/guests/run.sh \
               tests/kernel/run.sh tests/switch/run.sh tests/hvm/run.sh tests/dashboard/run.sh \
               tests/trapemu/run.sh tests/trapemu/containment.sh tests/bt/run.sh "tests/fuzz/run.sh --strict" \
               tests/cli/run.sh tests/bench/check.sh tests/platform/run.sh \
               tests/host/run.sh tests/labs/run.sh tests/pv/run.sh
test: all $(UNIT_TESTS) $(DIFF_BIN)
	@tests/totals.sh $(TEST_SUITES)

# A guest-survival campaign: random code under every technique (tests/fuzz).
#   make fuzz-guest SEED=1000 N=500
fuzz-guest: all
	@tests/fuzz/run.sh --strict --seed-from $(or $(SEED),61) --count $(or $(N),300)

# Installs the missing Debian packages (packages.txt), then builds and boots.
deps:
	@scripts/install-deps.sh

# A guest that passes writes 0 to isa-debug-exit, which is vmlab's status 1.
demo: deps
	$(MAKE) all
	@echo "== the teaching kernel's scheduler scenario, under the interpreter:"
	@$(BUILD)/vmlab run --timeout 60 $(BUILD)/guests/kernel.elf -- test=sched; status=$$?; \
	 if [ $$status -eq 1 ]; then echo "== the guest passed (status 1: it wrote 0 to isa-debug-exit)"; \
	 else echo "== the guest failed: vmlab status $$status (see vmlab --help)"; exit 1; fi

# Each part says SKIP with the reason where the host cannot run it.
bench: all
	@$(BUILD)/vmlab bench
	@tests/hvm/bench.sh
	@tests/trapemu/bench.sh

# ---- the labs (labs/README.md) -----------------------------------------------
# `labs` is also a folder: .PHONY makes make run the recipe anyway.
.PHONY: labs lab-skeleton grade grade-all
labs:
	@scripts/labs-list.sh

lab-skeleton:
	@test -n "$(LAB)" -a -n "$(OUT)" || { echo "usage: make lab-skeleton LAB=NN OUT=DIR" >&2; exit 2; }
	@scripts/lab-skeleton.sh $(LAB) $(OUT)

grade:
	@scripts/lab-grade.sh $(LAB)

grade-all:
	@test -n "$(LAB)" -a -n "$(SUBMISSIONS)" || { echo "usage: make grade-all SUBMISSIONS=DIR LAB=NN" >&2; exit 2; }
	@JOBS=$(or $(JOBS),2) scripts/lab-grade-all.sh $(SUBMISSIONS) $(LAB)

clean:
	rm -rf $(BUILD)
