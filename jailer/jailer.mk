# wisp-jailer: builds the jail (chroot, namespaces, cgroups, rlimits, uid/gid) and execs wisp.
# The link rule for $(BUILD)/wisp-jailer is in the top Makefile.
JAILER_SRCS += jailer/main.c jailer/args.c jailer/cgroup.c jailer/fs.c jailer/privs.c jailer/cleanup.c
BINS += $(BUILD)/wisp-jailer
# The pure parts (argument syntax, mountinfo parsing) are unit-tested in tests/unit/test_jailer.c.
UNIT_SRCS += jailer/args.c jailer/cgroup.c jailer/cleanup.c
