# Snapshots: the state file's container (header, tagged sections, CRC-64) and the sparse
# memory file.
WISP_SRCS += vmm/snapshot/crc64.c vmm/snapshot/snapfile.c vmm/snapshot/memfile.c \
	     vmm/snapshot/snapshot.c vmm/snapshot/dirty.c vmm/snapshot/uffd.c \
	     vmm/snapshot/vcpu_state.c vmm/snapshot/vm_state.c
FUZZ_TARGETS += fuzz_snapfile
# wisp-rebase-snap: a Diff snapshot's memory file merged onto its base (Firecracker's rebase-snap).
BINS += $(BUILD)/wisp-rebase-snap
$(BUILD)/wisp-rebase-snap: $(BUILD)/obj/vmm/snapshot/rebase_main.o $(BUILD)/libwisp.a
	$(CC) $(LDFLAGS) -o $@ $< $(BUILD)/libwisp.a $(LDLIBS)
