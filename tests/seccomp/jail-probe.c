/*
 * jail-probe.c - a stand-in for wisp under wisp-jailer (tests/bats/jailer.bats).
 *
 * Built static (the jail holds no libraries). Prints what the jail looks like from inside,
 * one "jail-probe: KEY: VALUE" line each, then "jail-probe: ready" and sleeps for the number
 * of seconds given with --sleep (default 60) so the test can inspect /proc/PID from outside.
 */
#include <dirent.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern char **environ;

static void probe_ids(void)
{
	uid_t ru, eu, su;
	gid_t rg, eg, sg;

	getresuid(&ru, &eu, &su);
	getresgid(&rg, &eg, &sg);
	printf("jail-probe: uid: %u %u %u\n", ru, eu, su);
	printf("jail-probe: gid: %u %u %u\n", rg, eg, sg);
	printf("jail-probe: groups: %d\n", getgroups(0, NULL));
	printf("jail-probe: pid: %d\n", (int)getpid());
}

static void probe_env_and_args(int argc, char **argv)
{
	int n = 0;

	while (environ && environ[n])
		n++;
	printf("jail-probe: environment: %d\n", n);
	printf("jail-probe: argv:");
	for (int i = 0; i < argc; i++)
		printf(" %s", argv[i]);
	printf("\n");
}

static void probe_root(void)
{
	DIR *d = opendir("/");
	struct dirent *e;

	printf("jail-probe: root:");
	while (d && (e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			printf(" %s", e->d_name);
	printf("\n");
	if (d)
		closedir(d);
}

int main(int argc, char **argv)
{
	int seconds = 60;

	for (int i = 1; i + 1 < argc; i++)
		if (!strcmp(argv[i], "--sleep"))
			seconds = atoi(argv[i + 1]);
	probe_ids();
	probe_env_and_args(argc, argv);
	probe_root();
	printf("jail-probe: ready\n");
	fflush(stdout);
	sleep((unsigned)seconds);
	return 0;
}
