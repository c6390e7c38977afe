/* SPDX-License-Identifier: ISC */
/*
 * msgsection: FETCH body sections streamed from a message file, in wire
 * form, from the cached section table.  See msgsection.h.
 *
 * The bytes go through three stages: the file (pread in 8 KiB blocks),
 * LF -> CRLF for files kept as text, then the HEADER.FIELDS filter, then
 * the <offset.length> window.  Only the filter needs state between calls;
 * everything is bounded by the fixed buffers in struct msgsection.
 */
#include <errno.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cache.h"
#include "msgsection.h"

/* The row of section table parts/len that section names (lib/mime's rules,
 * mime.h "Sections"), and the row after it (next_r->section[0] == 1 and
 * *has_next_r 0 when there is none). */
static int
find_rows(const unsigned char *parts, size_t len, const char *section,
    struct cache_part *row_r, struct cache_part *next_r, int *has_next_r)
{
	struct cache_part p;
	size_t pos = 0;
	int first = 1, found = 0;

	*has_next_r = 0;
	while (pos < len) {
		if (cache_part_decode(parts, len, &pos, &p) < 0) {
			errno = EBADMSG;
			return -1;
		}
		if (found) {
			*next_r = p;
			*has_next_r = 1;
			return 0;
		}
		if (first && strcmp(section, "1") == 0 && p.kind != 1)
			found = 1;
		else if (strcmp(p.section, section) == 0)
			found = 1;
		if (first && p.section[0] != '\0') {
			errno = EBADMSG;	/* row 0 is the message */
			return -1;
		}
		first = 0;
		if (found)
			*row_r = p;
	}
	if (found)
		return 0;
	errno = first ? EBADMSG : ENOENT;
	return -1;
}

/* Whether the header in disk bytes [start, end) ends in a blank line:
 * its last line end is preceded by another line end (LF or CRLF form) or
 * is all there is.  1, 0, or -1 on a read error. */
static int
ends_blank(int fd, uint64_t start, uint64_t end)
{
	unsigned char b[4];
	size_t n = end - start < 4 ? (size_t)(end - start) : 4;
	ssize_t j, r;

	if (n == 0)
		return 0;
	r = pread(fd, b, n, (off_t)(end - n));
	if (r != (ssize_t)n) {
		if (r >= 0)
			errno = EIO;
		return -1;
	}
	if (b[n - 1] != '\n')
		return 0;
	j = (ssize_t)n - 2;
	if (j >= 0 && b[j] == '\r')
		j--;
	if (j < 0)
		return (uint64_t)n == end - start;
	return b[j] == '\n';
}

/* Point s at the range the spec names. */
static int
resolve(struct msgsection *s, const unsigned char *parts, size_t len,
    uint64_t wire_size)
{
	const struct msgsection_spec *sp = s->spec;
	struct cache_part row, next;
	const struct cache_part *hdr;
	int has_next;
	int header;

	if (strlen(sp->part) > MSGSECTION_PART_MAX) {
		errno = ENOENT;
		return -1;
	}
	if (sp->part[0] == '\0') {
		if (sp->kind == MSEC_MIME) {
			errno = EINVAL;
			return -1;
		}
		if (find_rows(parts, len, "", &row, &next, &has_next) < 0)
			return -1;
		if (sp->kind == MSEC_FULL) {
			s->dstart = 0;
			s->dend = row.body_doff + row.body_dsize;
			s->wsize = wire_size;
			return 0;
		}
		hdr = &row;
	} else {
		if (find_rows(parts, len, sp->part, &row, &next, &has_next) < 0)
			return -1;
		if (sp->kind == MSEC_FULL || sp->kind == MSEC_MIME) {
			if (sp->kind == MSEC_MIME) {
				s->dstart = row.hdr_doff;
				s->dend = row.body_doff;
				s->wsize = row.hdr_size;
			} else {
				s->dstart = row.body_doff;
				s->dend = row.body_doff + row.body_dsize;
				s->wsize = row.body_size;
			}
			return 0;
		}
		/* HEADER, TEXT, FIELDS of part n: n is message/rfc822 and
		 * the row after it is the message inside */
		if (row.kind != 2 || !has_next) {
			errno = EINVAL;
			return -1;
		}
		hdr = &next;
	}
	header = sp->kind != MSEC_TEXT;
	if (header) {
		s->dstart = hdr->hdr_doff;
		s->dend = hdr->body_doff;
		s->wsize = hdr->hdr_size;
	} else {
		s->dstart = hdr->body_doff;
		s->dend = hdr->body_doff + hdr->body_dsize;
		s->wsize = hdr->body_size;
	}
	return 0;
}

/* The next byte of the range in wire form: 1 with *c, 0 at its end, -1. */
static int
wire_byte(struct msgsection *s, unsigned char *c)
{
	if (s->lf_owed) {
		s->lf_owed = 0;
		*c = '\n';
		return 1;
	}
	if (s->ipos == s->ilen) {
		uint64_t want = s->dend - s->dpos;
		ssize_t r;

		if (want == 0)
			return 0;
		if (want > sizeof(s->in))
			want = sizeof(s->in);
		do
			r = pread(s->fd, s->in, (size_t)want, (off_t)s->dpos);
		while (r < 0 && errno == EINTR);
		if (r < 0)
			return -1;
		if (r == 0) {
			errno = EIO;	/* shorter than the table says */
			return -1;
		}
		s->dpos += (uint64_t)r;
		s->ipos = 0;
		s->ilen = (size_t)r;
	}
	*c = s->in[s->ipos++];
	if (*c == '\n' && !s->raw) {
		s->lf_owed = 1;
		*c = '\r';
	}
	return 1;
}

/* Whether field name s->name is one the spec lists. */
static int
name_listed(const struct msgsection *s)
{
	size_t i;

	for (i = 0; i < s->spec->nfields; i++)
		if (strcasecmp(s->spec->fields[i], s->name) == 0)
			return 1;
	return 0;
}

/* Decide on the field whose name was gathered (in held, not yet out). */
static void
field_decided(struct msgsection *s, int named)
{
	int listed = 0;

	if (named) {
		s->name[s->nlen] = '\0';
		/* a name with blanks before the colon is still that name */
		while (s->nlen > 0 && (s->name[s->nlen - 1] == ' ' ||
		    s->name[s->nlen - 1] == '\t'))
			s->name[--s->nlen] = '\0';
		listed = s->nlen <= MSGSECTION_NAME_MAX && name_listed(s);
	}
	s->keep = s->spec->kind == MSEC_FIELDS ? listed : !listed;
	if (!s->keep)
		s->hlen = s->hpos = 0;
	s->in_name = 0;
}

/* The next byte of the filtered stream: 1 with *c, 0 at its end, -1. */
static int
filtered_byte(struct msgsection *s, unsigned char *c)
{
	unsigned char b;
	int r;

	if (s->spec->kind != MSEC_FIELDS && s->spec->kind != MSEC_FIELDS_NOT)
		return wire_byte(s, c);
	for (;;) {
		if (!s->in_name && s->hpos < s->hlen) {
			*c = s->held[s->hpos++];
			if (s->hpos == s->hlen)
				s->hpos = s->hlen = 0;
			return 1;
		}
		if (s->ended) {
			if (s->trailer == 0)
				return 0;
			*c = s->trailer == 2 ? '\r' : '\n';
			s->trailer--;
			return 1;
		}
		r = wire_byte(s, &b);
		if (r < 0)
			return -1;
		if (r == 0) {
			if (s->in_name)
				field_decided(s, 0);
			s->ended = 1;
			continue;
		}
		if (s->at_bol) {
			s->at_bol = 0;
			if (b == '\r' || b == '\n') {
				/* the blank line: the header ends here */
				s->ended = 1;
				continue;
			}
			if (b != ' ' && b != '\t') {
				s->in_name = 1;
				s->nlen = 0;
				s->hlen = s->hpos = 0;
			}
		}
		if (b == '\n')
			s->at_bol = 1;
		if (s->in_name) {
			if (s->hlen < sizeof(s->held))
				s->held[s->hlen++] = b;
			if (b == ':') {
				field_decided(s, 1);
				if (s->keep)
					continue;	/* held goes out */
			} else if (b == '\n') {
				field_decided(s, 0);	/* no colon */
			} else if (s->nlen < MSGSECTION_NAME_MAX) {
				s->name[s->nlen++] = (char)b;
			} else {
				s->nlen = MSGSECTION_NAME_MAX + 1;
				field_decided(s, 0);
			}
			continue;	/* kept: what is held goes out first */
		}
		if (s->keep) {
			*c = b;
			return 1;
		}
	}
}

/* Start (again) at the beginning of the range. */
static void
rewind_range(struct msgsection *s)
{
	s->dpos = s->dstart;
	s->lf_owed = 0;
	s->ipos = s->ilen = 0;
	s->at_bol = 1;
	s->keep = 0;
	s->in_name = 0;
	s->ended = 0;
	s->nlen = 0;
	s->hpos = s->hlen = 0;
	s->trailer = s->has_blank ? 2 : 0;
}

int
msgsection_open(struct msgsection *s, int fd, int raw,
    const unsigned char *parts, size_t parts_len, uint64_t wire_size,
    const struct msgsection_spec *spec)
{
	uint64_t total;
	int fields = spec->kind == MSEC_FIELDS || spec->kind == MSEC_FIELDS_NOT;

	memset(s, 0, sizeof(*s));
	s->fd = fd;
	s->raw = raw;
	s->spec = spec;
	if (resolve(s, parts, parts_len, wire_size) < 0)
		return -1;
	if (s->dend < s->dstart) {
		errno = EBADMSG;
		return -1;
	}
	total = s->wsize;
	if (fields) {
		unsigned char c;
		int r, blank = ends_blank(fd, s->dstart, s->dend);

		if (blank < 0)
			return -1;
		s->has_blank = blank;
		/* counting pass over the header */
		rewind_range(s);
		total = 0;
		while ((r = filtered_byte(s, &c)) > 0)
			total++;
		if (r < 0)
			return -1;
	}
	rewind_range(s);
	if (spec->partial) {
		s->skip = spec->offset < total ? spec->offset : total;
		s->size = total - s->skip;
		if (s->size > spec->length)
			s->size = spec->length;
	} else {
		s->size = total;
	}
	s->left = s->size;
	return 0;
}

uint64_t
msgsection_size(const struct msgsection *s)
{
	return s->size;
}

ssize_t
msgsection_read(struct msgsection *s, void *buf, size_t n)
{
	unsigned char *out = buf;
	size_t got = 0;
	unsigned char c;
	int r;

	while (s->skip > 0) {
		r = filtered_byte(s, &c);
		if (r < 0)
			return -1;
		if (r == 0) {
			s->skip = 0;
			s->left = 0;
			break;
		}
		s->skip--;
	}
	while (got < n && s->left > 0) {
		r = filtered_byte(s, &c);
		if (r < 0)
			return -1;
		if (r == 0) {
			errno = EIO;	/* fewer bytes than counted */
			return -1;
		}
		out[got++] = c;
		s->left--;
	}
	return (ssize_t)got;
}
