# Test programs for the seccomp filters and the jailer (tests/bats/seccomp.bats, jailer.bats).
#   seccomp-probe ROLE SYSCALL: installs a role's filter and makes one system call.
#   jail-probe: a static stand-in for wisp that reports what the jail looks like from inside.
BINS += $(BUILD)/tests/seccomp-probe $(BUILD)/tests/jail-probe

$(BUILD)/tests/seccomp-probe: $(BUILD)/obj/tests/seccomp/probe.o $(BUILD)/libwisp.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(BUILD)/libwisp.a $(LDLIBS)

# Static and without sanitizers: it runs inside a jail that holds no libraries.
$(BUILD)/tests/jail-probe: tests/seccomp/jail-probe.c
	@mkdir -p $(dir $@)
	$(CC) -static -std=gnu11 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -o $@ $<
