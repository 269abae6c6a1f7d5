# xenith: a PVH guest kernel for Xen.  `make` builds build/xenith.elf.
#
#   make [CONFIG=default|debug|small|failtest|badmagic] [V=1]   build the kernel
#   make run      boot under Xen in QEMU, selftest=all, output live
#   make test     everything: host unit tests, the boot matrix (1, 2, 4 and
#                 8 vCPUs), the mutant proof, the scale runs (test-scale)
#                 and the xl rig (test-xl)
#   make bench    boot-time, event-channel and pv-spinlock figures
#   make mutants  each historic bug put back must be caught
#   make test-xl  xenith as a domU of the real xl toolstack, nested
#   make test-scale  selftest=all with 16, 32, 48 and 64 vCPUs on 2 pCPUs
#   make fuzz     libFuzzer on what others feed xenith (tests/fuzz), FUZZ_S
#                 seconds per target (default 60)
#   make torture  torture=TORTURE_S (default 300) at 8 and 64 vCPUs, debug
#   make torture-mutants  torture against every mutant build
#
# A config (configs/NAME.mk) sets CONFIG_* switches; each config builds
# into its own object directory so switching configs never mixes objects.

CONFIG ?= default
include configs/$(CONFIG).mk

ifeq ($(V),1)
Q :=
SUBMAKE := $(MAKE)
else
Q := @
SUBMAKE := $(MAKE) -s
endif

# A recipe that fails leaves no half-written target behind to look done.
.DELETE_ON_ERROR:

BUILD   := build
OBJDIR  := $(BUILD)/obj-$(CONFIG)
ifeq ($(CONFIG),default)
ELF     := $(BUILD)/xenith.elf
else
ELF     := $(BUILD)/xenith-$(CONFIG).elf
endif

CC      ?= gcc
LD      := ld
NM      := nm
OBJCOPY := objcopy
STRIP   := strip

XEN_INC := /usr/include/xen
GCC_INC := $(shell $(CC) -print-file-name=include)

# The Xen public headers are a dependency, never a copy: build/include/xen
# is a link to the system's, so `#include <xen/xen.h>` works under -nostdinc
# without exposing the rest of /usr/include (libc) to a freestanding kernel.
XEN_LINK := $(BUILD)/include/xen

CFLAGS  := -std=gnu11 -O2 -g -Wall -Wextra -Werror -Wno-unused-parameter \
           -ffreestanding -fno-builtin -nostdinc -isystem $(GCC_INC) \
           -I include -I $(BUILD)/include \
           -m64 -mcmodel=small -mno-red-zone -mno-sse -mno-sse2 -mno-mmx \
           -mno-80387 -mgeneral-regs-only -fno-pic -fno-pie \
           -fno-stack-protector -fno-omit-frame-pointer \
           -mno-omit-leaf-frame-pointer -fstack-clash-protection \
           -fno-asynchronous-unwind-tables -fno-strict-aliasing \
           -fno-common -ffunction-sections -fno-toplevel-reorder \
           -D__XEN_INTERFACE_VERSION__=0x00040e00 \
           $(CONFIG_CFLAGS)
ASFLAGS := -D__ASSEMBLY__ -nostdinc -I include -I $(BUILD)/include -m64 \
           $(CONFIG_CFLAGS)
LDFLAGS := -nostdlib -static -n -z max-page-size=4096 -z noexecstack \
           --no-warn-rwx-segments -T arch/x86/link.ld

SRCS := $(wildcard arch/x86/*.c arch/x86/*.S kernel/*.c events/*.c lock/*.c \
                   drivers/*.c tests/ktests/*.c tests/torture/*.c)
SRCS += $(foreach f,$(CONFIG_EXTRA_SRCS),$(f))
OBJS := $(patsubst %,$(OBJDIR)/%.o,$(basename $(SRCS)))
DEPS := $(OBJS:.o=.d)

.PHONY: all clean run test bench mutants deps host-test fuzz fuzz-build \
        check-headers FORCE
all: $(ELF)

# The object list as a file that changes only when the list does, so that
# removing a source (or switching CONFIG_EXTRA_SRCS) relinks.
$(OBJDIR)/objs.list: FORCE
	@mkdir -p $(dir $@)
	@echo $(OBJS) | cmp -s - $@ || echo $(OBJS) > $@

check-headers:
	@test -f $(XEN_INC)/xen.h || { \
	  echo "error: Xen public headers not found ($(XEN_INC)/xen.h)."; \
	  echo "       install them with: apt-get install libxen-dev"; exit 1; }

$(XEN_LINK): | check-headers
	$(Q)mkdir -p $(dir $@) && ln -sfn $(XEN_INC) $@

# Through scripts/objcache.sh: a config that differs from another by one
# -D (every mutant) compiles again only the files that test the macro.
$(OBJDIR)/%.o: %.c Makefile configs/$(CONFIG).mk scripts/objcache.sh | $(XEN_LINK)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)sh scripts/objcache.sh $(BUILD)/objcache $@ $< $(CC) $(CFLAGS)

$(OBJDIR)/%.o: %.S Makefile configs/$(CONFIG).mk | $(XEN_LINK)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  AS      $<")
	$(Q)$(CC) $(ASFLAGS) -MMD -MP -c $< -o $@

# Symbolised backtraces: link once without symbols, turn the function
# symbols into a table (scripts/ksyms.sh), link again with it.  The table
# sits in the last segment, so the second link moves no code; the build
# checks that claim instead of trusting it.
$(ELF): $(OBJS) $(OBJDIR)/objs.list arch/x86/link.ld scripts/ksyms.sh
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(LD) $(LDFLAGS) -o $(OBJDIR)/pass1.elf $(OBJS)
	$(Q)sh scripts/ksyms.sh $(NM) $(OBJDIR)/pass1.elf > $(OBJDIR)/ksyms.S
	$(Q)$(CC) $(ASFLAGS) -c $(OBJDIR)/ksyms.S -o $(OBJDIR)/ksyms.o
	$(Q)$(LD) $(LDFLAGS) -o $@ $(OBJS) $(OBJDIR)/ksyms.o
	$(Q)$(NM) -n $(OBJDIR)/pass1.elf | grep -i ' t ' > $(OBJDIR)/pass1.syms
	$(Q)$(NM) -n $@ | grep -i ' t ' > $(OBJDIR)/pass2.syms
	$(Q)cmp -s $(OBJDIR)/pass1.syms $(OBJDIR)/pass2.syms || \
	  { echo "error: symbol table moved code between link passes"; exit 1; }
	$(Q)$(STRIP) -o $(OBJDIR)/stripped.elf $@
	@echo "  IMAGE   $@: $$(stat -c %s $(OBJDIR)/stripped.elf) bytes stripped ($(CONFIG))"

# The floor (tests/floor/floor.S): the least a 64-bit PVH kernel does
# before its result, the yardstick tests/boot_time.py sets xenith against.
FLOOR := $(BUILD)/floor.elf
$(FLOOR): tests/floor/floor.S Makefile | $(XEN_LINK)
	@mkdir -p $(BUILD)/obj-floor
	@$(if $(Q),echo "  AS      $<")
	$(Q)$(CC) -D__ASSEMBLY__ -nostdinc -I $(BUILD)/include -m64 \
	    -c $< -o $(BUILD)/obj-floor/floor.o
	$(Q)$(LD) -nostdlib -static -n -z noexecstack --no-warn-rwx-segments \
	    -Ttext=0x100000 -e floor_start32 -o $@ $(BUILD)/obj-floor/floor.o

# Host-side unit tests: pure C modules built for the host (arch/sim).
host-test:
	$(Q)$(SUBMAKE) -C tests/host

# libFuzzer targets (tests/fuzz): the command line, the xenstore wire, the
# shared rings' indices, the start-info memory map; each runs FUZZ_S
# seconds, one after the other (one core).  make test runs them over the
# committed corpus plus FUZZ_TEST_S seconds each.
FUZZ_TARGETS := cmdline xenstore_reply ring_indices memmap
FUZZ_S ?= 60
FUZZ_TEST_S ?= 10
fuzz-build: | check-headers
	$(Q)$(SUBMAKE) -C tests/fuzz all

fuzz: fuzz-build
	$(Q)sh tests/fuzz/run.sh $(FUZZ_S) $(FUZZ_TARGETS)

deps:
	$(Q)sh tests/deps.sh

# run and bench boot the image of the CONFIG given (default: the default).
run: deps
	$(Q)$(SUBMAKE) all
	$(Q)python3 tests/xenrun.py --live --vcpus 2 --elf $(ELF) \
	    --cmdline "selftest=all"

# Every mutant config (configs/mutant-*.mk): the historic bugs A-E and
# the concurrency.md scenarios S5-S17.
MUTANTS := $(sort $(basename $(notdir $(wildcard configs/mutant-*.mk))))

# test always covers every config, whatever CONFIG says.
# The mutant configs build too, so none of them rots unnoticed: 25
# configs, 6 minutes one file at a time on 2 cores, so on every core.
NPROC := $(shell nproc 2>/dev/null || echo 1)
test: deps
	$(Q)for c in default debug small failtest badmagic $(MUTANTS); do \
	    $(SUBMAKE) -j$(NPROC) CONFIG=$$c all || exit 1; done
	$(Q)$(SUBMAKE) host-test
	$(Q)$(SUBMAKE) fuzz FUZZ_S=$(FUZZ_TEST_S)
	$(Q)sh tests/boot-matrix.sh
	$(Q)sh tests/mutants.sh
	$(Q)ELF=$(BUILD)/xenith-debug.elf TORTURE_S=60 sh tests/torture.sh 4
	$(Q)ELF=$(BUILD)/xenith.elf SCALE_VCPUS=64 sh tests/scale.sh
	$(Q)python3 tests/xl/xlrun.py --elf $(BUILD)/xenith.elf

# Each historic bug put back must be caught by its regress case.
mutants: deps
	$(Q)sh tests/mutants.sh

bench: deps
	$(Q)$(SUBMAKE) all
	$(Q)ELF=$(ELF) sh tests/bench.sh

# xenith as a domU of the real Xen toolstack (xl), nested in QEMU: see
# tests/xl/xlrun.py.  Downloads Debian's dom0 kernel and Xen tools once
# into build/xl-cache/.
# selftest=all at 16-64 vCPUs on 2 pCPUs (tests/scale.sh): about 4
# minutes on 2 idle cores.  make test runs 64 (46-133 s), the most a
# dom0 may have and a count that failed before (48 did too: test-scale);
# 8 vCPUs are in the boot matrix.
.PHONY: test-scale
test-scale: deps
	$(Q)$(SUBMAKE) all
	$(Q)ELF=$(ELF) sh tests/scale.sh

# tests/torture/: every concurrent path at once, randomised and seeded.
TORTURE_S ?= 300
.PHONY: torture torture-mutants
torture: deps
	$(Q)$(SUBMAKE) CONFIG=debug all
	$(Q)ELF=$(BUILD)/xenith-debug.elf TORTURE_S=$(TORTURE_S) \
	    sh tests/torture.sh 8 64

torture-mutants: deps
	$(Q)sh tests/torture_mutants.sh

.PHONY: test-xl
test-xl: deps
	$(Q)$(SUBMAKE) all
	$(Q)python3 tests/xl/xlrun.py --elf $(ELF)

clean:
	rm -rf $(BUILD)
	$(Q)$(SUBMAKE) -C tests/host clean

-include $(DEPS)
