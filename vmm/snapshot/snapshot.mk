# Snapshots: the state file's container (header, tagged sections, CRC-64).
WISP_SRCS += vmm/snapshot/crc64.c vmm/snapshot/snapfile.c
FUZZ_TARGETS += fuzz_snapfile
