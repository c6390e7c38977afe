/* SPDX-License-Identifier: ISC */
/*
 * login: the checker protocol's frames (format in login.h).  Reads are
 * exact: a frame cut short, longer than LOGIN_FRAME_MAX, or carrying a
 * descriptor where none is expected is an error, never a guess.
 */
#include "login.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define FRAME_HDR 3

int
login_frame_encode(struct str *out, unsigned char type, size_t nfield,
    const char *const *field, const size_t *len)
{
	size_t i, total = 0;
	unsigned char hdr[FRAME_HDR];

	for (i = 0; i < nfield; i++) {
		if (i + 1 < nfield && memchr(field[i], '\0', len[i]) != NULL) {
			errno = EINVAL;
			return -1;
		}
		if (len[i] > LOGIN_FRAME_MAX) {
			errno = E2BIG;
			return -1;
		}
		total += len[i] + (i + 1 < nfield);
	}
	if (total > LOGIN_FRAME_MAX) {
		errno = E2BIG;
		return -1;
	}
	hdr[0] = type;
	hdr[1] = (unsigned char)(total >> 8);
	hdr[2] = (unsigned char)(total & 0xff);
	if (str_append(out, hdr, sizeof hdr) < 0)
		return -1;
	for (i = 0; i < nfield; i++) {
		if (str_append(out, field[i], len[i]) < 0 ||
		    (i + 1 < nfield && str_appendc(out, '\0') < 0))
			return -1;
	}
	return 0;
}

int
login_frame_decode(unsigned char type, const char *payload, size_t len,
    size_t nfield, struct login_frame *f)
{
	const char *p = payload, *end = payload + len, *nul;
	size_t i;

	if (nfield == 0 || nfield > 4) {
		errno = EINVAL;
		return -1;
	}
	memset(f, 0, sizeof *f);
	f->type = type;
	f->nfield = nfield;
	for (i = 0; i + 1 < nfield; i++) {
		nul = memchr(p, '\0', (size_t)(end - p));
		if (nul == NULL) {
			errno = EBADMSG;
			return -1;
		}
		f->field[i] = p;
		f->len[i] = (size_t)(nul - p);
		p = nul + 1;
	}
	f->field[i] = p;
	f->len[i] = (size_t)(end - p);
	return 0;
}

int
login_frame_send(int fd, unsigned char type, size_t nfield,
    const char *const *field, const size_t *len, int fd_pass)
{
	struct str buf = STR_INIT;
	struct msghdr msg;
	struct iovec iov;
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int))];
	} cm;
	size_t off = 0;
	ssize_t n;
	int r = -1;

	if (login_frame_encode(&buf, type, nfield, field, len) < 0)
		goto out;
	while (off < buf.len) {
		memset(&msg, 0, sizeof msg);
		iov.iov_base = buf.s + off;
		iov.iov_len = buf.len - off;
		msg.msg_iov = &iov;
		msg.msg_iovlen = 1;
		if (off == 0 && fd_pass >= 0) {
			memset(&cm, 0, sizeof cm);
			msg.msg_control = cm.b;
			msg.msg_controllen = sizeof cm.b;
			cm.h.cmsg_level = SOL_SOCKET;
			cm.h.cmsg_type = SCM_RIGHTS;
			cm.h.cmsg_len = CMSG_LEN(sizeof(int));
			memcpy(CMSG_DATA(&cm.h), &fd_pass, sizeof(int));
		}
		n = sendmsg(fd, &msg, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto out;
		off += (size_t)n;
	}
	r = 0;
out:
	if (buf.s != NULL)
		explicit_bzero(buf.s, buf.len);	/* passwords went through */
	str_free(&buf);
	return r;
}

/* Read exactly n bytes into p; a descriptor with the first byte goes to
 * *fd_r.  Returns 1, 0 at EOF before any byte, -1 (EBADMSG when cut). */
static int
frame_read(int fd, void *p, size_t n, int *fd_r)
{
	struct msghdr msg;
	struct iovec iov;
	struct cmsghdr *h;
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int))];
	} cm;
	size_t off = 0;
	ssize_t r;
	int got;

	while (off < n) {
		memset(&msg, 0, sizeof msg);
		iov.iov_base = (char *)p + off;
		iov.iov_len = n - off;
		msg.msg_iov = &iov;
		msg.msg_iovlen = 1;
		msg.msg_control = cm.b;
		msg.msg_controllen = sizeof cm.b;
		r = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0) {
			if (off == 0)
				return 0;
			errno = EBADMSG;
			return -1;
		}
		for (h = CMSG_FIRSTHDR(&msg); h != NULL;
		    h = CMSG_NXTHDR(&msg, h)) {
			if (h->cmsg_level != SOL_SOCKET ||
			    h->cmsg_type != SCM_RIGHTS)
				continue;
			memcpy(&got, CMSG_DATA(h), sizeof got);
			if (fd_r == NULL || *fd_r >= 0 ||
			    h->cmsg_len != CMSG_LEN(sizeof(int))) {
				close(got);
				errno = EBADMSG;
				return -1;
			}
			*fd_r = got;
		}
		if (msg.msg_flags & MSG_CTRUNC) {
			errno = EBADMSG;
			return -1;
		}
		off += (size_t)r;
	}
	return 1;
}

int
login_frame_recv(int fd, unsigned char *type_r, struct str *buf, int *fd_r)
{
	unsigned char hdr[FRAME_HDR];
	size_t len;
	int r;

	if (fd_r != NULL)
		*fd_r = -1;
	str_clear(buf);
	if ((r = frame_read(fd, hdr, sizeof hdr, fd_r)) <= 0)
		goto fail;
	len = (size_t)hdr[1] << 8 | hdr[2];
	if (len > LOGIN_FRAME_MAX) {
		errno = EBADMSG;
		r = -1;
		goto fail;
	}
	if (str_ready(buf, len) < 0) {
		r = -1;
		goto fail;
	}
	if (len > 0 && frame_read(fd, buf->s, len, NULL) <= 0) {
		if (errno != EBADMSG && errno != EINTR)
			errno = EBADMSG;
		r = -1;
		goto fail;
	}
	buf->len = len;
	buf->s[len] = '\0';
	*type_r = hdr[0];
	return 1;
fail:
	if (fd_r != NULL && *fd_r >= 0) {
		close(*fd_r);
		*fd_r = -1;
	}
	return r;
}
