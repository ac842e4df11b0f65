/*
 * rebase_main.c - wisp-rebase-snap: merges a Diff snapshot's memory file onto its base, as
 * Firecracker's rebase-snap does, so that the base plus the Diff's state file restore the VM
 * as it was at the Diff snapshot.
 *
 *   wisp-rebase-snap --base-file BASE.mem --diff-file DIFF.mem
 *
 * Exit status 0, or 1 with one error line (wrong arguments, files of different sizes, I/O).
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "vmm/snapshot/memfile.h"

static int usage(void)
{
	fprintf(stderr, "usage: wisp-rebase-snap --base-file BASE.mem --diff-file DIFF.mem\n");
	return 1;
}

int main(int argc, char **argv)
{
	const char *base = NULL, *diff = NULL;
	char err[256];
	int bfd, dfd, rc;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--base-file") == 0 && i + 1 < argc)
			base = argv[++i];
		else if (strcmp(argv[i], "--diff-file") == 0 && i + 1 < argc)
			diff = argv[++i];
		else
			return usage();
	}
	if (!base || !diff)
		return usage();
	bfd = open(base, O_WRONLY | O_CLOEXEC);
	if (bfd < 0) {
		fprintf(stderr, "wisp-rebase-snap: error: %s: %m\n", base);
		return 1;
	}
	dfd = open(diff, O_RDONLY | O_CLOEXEC);
	if (dfd < 0) {
		fprintf(stderr, "wisp-rebase-snap: error: %s: %m\n", diff);
		close(bfd);
		return 1;
	}
	rc = memfile_merge(bfd, dfd, err, sizeof(err));
	if (rc < 0)
		fprintf(stderr, "wisp-rebase-snap: error: %s onto %s: %s\n", diff, base, err);
	close(dfd);
	if (close(bfd) < 0 && rc == 0) {
		fprintf(stderr, "wisp-rebase-snap: error: %s: %m\n", base);
		rc = -1;
	}
	return rc < 0 ? 1 : 0;
}
