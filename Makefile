# Wisp: one build for the monitor, the jailer, the test guest, tests and benchmarks.
#
# Each area owns a fragment (vmm/vmm.mk, virtio/virtio.mk, api-socket/api.mk, jailer/jailer.mk,
# tests/*/*.mk) that appends to the variables below; this file only holds the shared rules.
#   WISP_SRCS  sources of libwisp.a: everything in the monitor except main()
#   UNIT_SRCS  C unit tests (tests/unit), linked with libwisp.a into one runner
#   FUZZ_TARGETS  names of fuzz targets; tests/fuzz/<name>.c defines LLVMFuzzerTestOneInput
#
# `make asan` builds everything again in build-asan/ with ASan+UBSan.

BUILD    ?= build
SANITIZE ?= 0
CC       ?= gcc

DEPS_CFLAGS := $(shell pkg-config --cflags liburing libseccomp jansson 2>/dev/null)
DEPS_LIBS   := $(shell pkg-config --libs liburing libseccomp jansson 2>/dev/null || echo -luring -lseccomp -ljansson)
LLHTTP_DIR  ?= /usr/share/llhttp
LLHTTP_INC  ?= /usr/share/include/llhttp

CFLAGS   := -std=gnu11 -O2 -g -Wall -Wextra -Werror -D_GNU_SOURCE -I. -I$(LLHTTP_INC) $(DEPS_CFLAGS) $(EXTRA_CFLAGS)
LDFLAGS  := $(EXTRA_LDFLAGS)
ifeq ($(SANITIZE),1)
CFLAGS   += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS  += -fsanitize=address,undefined
else
# Static by default: no dynamic loader at exec (start-up time), about 1 MiB less resident memory
# than the shared libraries' touched pages, and a binary that runs inside an empty jail.
# STATIC=0 links dynamically. (Sanitizer runtimes need dynamic linking.)
STATIC   ?= 1
ifeq ($(STATIC),1)
LDFLAGS  += -static
DEPS_LIBS := $(shell pkg-config --static --libs liburing libseccomp jansson 2>/dev/null || echo -luring -lseccomp -ljansson)
endif
endif

LDLIBS       := $(DEPS_LIBS) -lpthread

WISP_SRCS    :=
JAILER_SRCS  :=
UNIT_SRCS    :=
FUZZ_TARGETS :=
BINS         :=

all: bins

include $(sort $(wildcard vmm/*.mk vmm/*/*.mk virtio/*.mk api-socket/*.mk jailer/*.mk tests/*/*.mk rootfs-tools/*.mk))

WISP_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(WISP_SRCS))
UNIT_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(UNIT_SRCS))

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

# llhttp is compiled from Debian's node-llhttp sources; its own warnings are not ours.
$(BUILD)/obj/llhttp/%.o: $(LLHTTP_DIR)/%.c
	@mkdir -p $(dir $@)
	$(CC) $(filter-out -Wall -Wextra -Werror,$(CFLAGS)) -w -c $< -o $@

LLHTTP_OBJS := $(BUILD)/obj/llhttp/llhttp.o $(BUILD)/obj/llhttp/api.o $(BUILD)/obj/llhttp/http.o

$(BUILD)/libwisp.a: $(WISP_OBJS) $(LLHTTP_OBJS)
	@rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/unit-tests: $(UNIT_OBJS) $(BUILD)/libwisp.a
	$(CC) $(LDFLAGS) -o $@ $(UNIT_OBJS) $(BUILD)/libwisp.a $(LDLIBS)

# wisp links its objects directly (not the archive) so that every device file, which registers
# itself through a linker section and is never named, is kept.
$(BUILD)/wisp: $(BUILD)/obj/vmm/main.o $(WISP_OBJS) $(LLHTTP_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

JAILER_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(JAILER_SRCS))
$(BUILD)/wisp-jailer: $(JAILER_OBJS) $(BUILD)/libwisp.a
	$(CC) $(LDFLAGS) -o $@ $(JAILER_OBJS) $(BUILD)/libwisp.a $(LDLIBS)

# Fuzz targets, built with the host compiler and a replay driver: `make test` replays the
# committed corpus through them (and through ASan in build-asan). tests/fuzz/run.sh builds the
# libFuzzer versions with clang for `make fuzz`.
$(BUILD)/fuzz/%: $(BUILD)/obj/tests/fuzz/%.o $(BUILD)/obj/tests/fuzz/replay_main.o $(BUILD)/libwisp.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(BUILD)/obj/tests/fuzz/replay_main.o $(BUILD)/libwisp.a $(LDLIBS)

FUZZ_BINS := $(addprefix $(BUILD)/fuzz/,$(FUZZ_TARGETS))

bins: $(BUILD)/wisp $(BINS) $(BUILD)/unit-tests $(FUZZ_BINS)

asan:
	$(MAKE) BUILD=build-asan SANITIZE=1 bins

# The test command of the README: installs missing Debian packages when root, builds the normal
# and the sanitizer builds, then runs unit tests, fuzz corpus replays and the BATS suites on both.
test:
	tests/deps.sh
	$(MAKE) all
	$(MAKE) asan
	tests/run.sh

bench: all
	tests/bench/run.sh

demo:
	tests/deps.sh
	$(MAKE) all
	tests/demo.sh

fuzz:
	tests/fuzz/run.sh

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build build-asan build-fuzz

.PHONY: all bins asan test bench demo fuzz format clean

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
