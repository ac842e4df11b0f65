/*
 * uffd.c - the handshake with a Uffd page-fault handler (uffd.h).
 */
#include "vmm/snapshot/uffd.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "vmm/guest_mem.h"

/* The regions as JSON text (malloc'd), or NULL. */
static char *layout_json(const struct guest_mem *mem)
{
	json_t *arr = json_array();
	char *text;

	if (!arr)
		return NULL;
	for (unsigned i = 0; i < mem->nslots; i++) {
		const struct guest_mem_slot *s = &mem->slots[i];

		json_array_append_new(arr, json_pack("{s:I,s:I,s:I,s:I,s:I}", "base_host_virt_addr",
		                                     (json_int_t)(uintptr_t)s->host, "size",
		                                     (json_int_t)s->size, "offset",
		                                     (json_int_t)s->file_off, "page_size",
		                                     (json_int_t)GUEST_MEM_PAGE, "page_size_kib",
		                                     (json_int_t)(GUEST_MEM_PAGE / 1024)));
	}
	text = json_dumps(arr, JSON_COMPACT);
	json_decref(arr);
	return text;
}

int uffd_send_to_handler(const struct guest_mem *mem, const char *socket_path, char *err,
                         size_t errlen)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov;
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
	struct cmsghdr *cm;
	char *text;
	ssize_t n;
	int sock, rc = -1;

	if (mem->uffd < 0 || strlen(socket_path) >= sizeof(addr.sun_path)) {
		snprintf(err, errlen, "mem_backend Uffd: %s is not a usable socket path",
		         socket_path);
		return -1;
	}
	memcpy(addr.sun_path, socket_path, strlen(socket_path) + 1);
	text = layout_json(mem);
	if (!text) {
		snprintf(err, errlen, "mem_backend Uffd: out of memory");
		return -1;
	}
	sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (sock < 0 || connect(sock, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		snprintf(err, errlen, "mem_backend Uffd: cannot connect to the handler at %s: %s",
		         socket_path, strerror(errno));
		goto out;
	}
	iov = (struct iovec){.iov_base = text, .iov_len = strlen(text)};
	memset(cbuf, 0, sizeof(cbuf));
	msg.msg_control = cbuf;
	msg.msg_controllen = sizeof(cbuf);
	cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &mem->uffd, sizeof(int));
	do
		n = sendmsg(sock, &msg, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)iov.iov_len) {
		snprintf(err, errlen, "mem_backend Uffd: sending the memory layout to %s: %s",
		         socket_path, n < 0 ? strerror(errno) : "short write");
		goto out;
	}
	rc = 0;
out:
	if (sock >= 0)
		close(sock);
	free(text);
	return rc;
}
