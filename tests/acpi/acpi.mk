# acpi-dump: the ACPI tables of a VM as files, for tests/bats/acpi.bats (iasl -d).
BINS += $(BUILD)/tests/acpi-dump

$(BUILD)/tests/acpi-dump: $(BUILD)/obj/tests/acpi/acpi-dump.o $(BUILD)/libwisp.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(BUILD)/libwisp.a $(LDLIBS)
