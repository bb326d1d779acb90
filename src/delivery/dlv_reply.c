/*
 * dlv_reply.c - the delivery client's bytes, as pure functions: a reply
 * line off the wire (bounded before anything is searched for), the
 * capabilities of an EHLO reply (RFC 1869, RFC 1870 SIZE, RFC 2920
 * PIPELINING, RFC 3207 STARTTLS, RFC 6152 8BITMIME, RFC 6531 SMTPUTF8),
 * and the message as DATA sends it (RFC 5321 4.5.2).
 */
#include <strings.h>

#include <event2/buffer.h>

#include "delivery/dlv_int.h"
#include "util/compat.h"

int
dlv_reply_line(struct evbuffer *in, struct buf *line)
{
	struct evbuffer_ptr eol;
	size_t n;
	const char *l;

	eol = evbuffer_search_eol(in, NULL, NULL, EVBUFFER_EOL_LF);
	if (eol.pos == -1)
		return evbuffer_get_length(in) > DLV_REPLY_LINE_MAX ? -1 : 0;
	n = (size_t)eol.pos + 1;
	if (n > DLV_REPLY_LINE_MAX)
		return -1;
	buf_reset(line);
	if (buf_append(line, evbuffer_pullup(in, (ssize_t)n), n) == -1)
		return -1;
	(void)evbuffer_drain(in, n);
	buf_truncate(line, line->len - 1);
	if (line->len > 0 && line->data[line->len - 1] == '\r')
		buf_truncate(line, line->len - 1);
	l = buf_cstr(line);
	if (line->len < 3 || l[0] < '2' || l[0] > '5' || l[1] < '0' ||
	    l[1] > '9' || l[2] < '0' || l[2] > '9' ||
	    (line->len > 3 && l[3] != ' ' && l[3] != '-') ||
	    memchr(l, '\0', line->len) != NULL)
		return -1;
	return 1;
}

/* One EHLO keyword line P..NL (after its "250-"). */
static void
ehlo_keyword(const char *p, const char *nl, struct dlv_caps *caps)
{
	size_t n = strcspn(p, " \n");
	uint64_t v;
	char kw[64];

	if (n > (size_t)(nl - p))
		n = (size_t)(nl - p);
	(void)str_fmt(kw, sizeof(kw), "%.*s", (int)(n > 60 ? 60 : n), p);
	if (strcasecmp(kw, "PIPELINING") == 0)
		caps->pipelining = true;
	else if (strcasecmp(kw, "STARTTLS") == 0)
		caps->starttls = true;
	else if (strcasecmp(kw, "8BITMIME") == 0)
		caps->eightbit = true;
	else if (strcasecmp(kw, "SMTPUTF8") == 0)
		caps->utf8 = true;
	else if (strcasecmp(kw, "DSN") == 0)
		caps->dsn = true;
	else if (strcasecmp(kw, "SIZE") == 0) {
		/* RFC 1870: "SIZE" alone means no fixed limit; the number
		   is on the same line. */
		caps->size_offered = true;
		if (p[4] == ' ' && str_to_uint_n(p + 5, strspn(p + 5,
		    "0123456789"), 0, UINT64_MAX, &v) == 0)
			caps->size_max = v;
	}
}

void
dlv_ehlo_parse(const char *p, struct dlv_caps *caps)
{
	const char *nl;

	memset(caps, 0, sizeof(*caps));
	for (; *p != '\0'; p = nl + 1) {
		nl = strchr(p, '\n');
		if (nl == NULL)
			nl = p + strlen(p);
		if ((size_t)(nl - p) > 4)
			ehlo_keyword(p + 4, nl, caps);
		if (*nl == '\0')
			break;
	}
}

void
dlv_body_put(struct evbuffer *out, const char *p, size_t n, bool *bol)
{
	size_t i = 0;

	while (i < n) {
		const char *lf = memchr(p + i, '\n', n - i);
		size_t seg = (lf != NULL ? (size_t)(lf - p) : n) - i;

		if (*bol && seg > 0 && p[i] == '.')
			(void)evbuffer_add(out, ".", 1);
		(void)evbuffer_add(out, p + i, seg);
		i += seg;
		*bol = false;
		if (lf != NULL) {
			(void)evbuffer_add(out, "\r\n", 2);
			*bol = true;
			i++;
		}
	}
}
