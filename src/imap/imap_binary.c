/*
 * imap_binary.c - the content transfer decodings BINARY[] returns (RFC
 * 3516, part of IMAP4rev2: RFC 9051 6.4.5): base64 and quoted-printable
 * (RFC 2045 6.7, 6.8), streaming, lenient the way mail needs (line
 * breaks and blanks in base64 skipped, a stray '=' in quoted-printable
 * kept), never reading past what it was given. The identity encodings
 * (7bit, 8bit, binary, none) are the stored text with CRLF line ends.
 */
#include <ctype.h>
#include <strings.h>

#include "imap/imap_int.h"
#include "util/compat.h"

enum imap_cte
imap_cte_of(const char *encoding)
{
	if (encoding == NULL || strcasecmp(encoding, "7bit") == 0 ||
	    strcasecmp(encoding, "8bit") == 0 ||
	    strcasecmp(encoding, "binary") == 0)
		return IMAP_CTE_IDENTITY;
	if (strcasecmp(encoding, "base64") == 0)
		return IMAP_CTE_BASE64;
	if (strcasecmp(encoding, "quoted-printable") == 0)
		return IMAP_CTE_QP;
	return IMAP_CTE_UNKNOWN;
}

void
imap_decode_init(struct imap_decoder *d, enum imap_cte cte)
{
	memset(d, 0, sizeof(*d));
	d->cte = cte;
}

static int
b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

static int
b64(struct imap_decoder *d, const unsigned char *p, size_t n, struct buf *out)
{
	size_t i;
	int v;

	for (i = 0; i < n && !d->done; i++) {
		if (p[i] == '=') {
			d->done = true;	/* padding: the end of the data */
			break;
		}
		if ((v = b64_value(p[i])) < 0)
			continue;	/* line breaks, blanks, junk */
		d->bits = (d->bits << 6) | (unsigned)v;
		d->nbits += 6;
		if (d->nbits >= 8) {
			d->nbits -= 8;
			if (buf_putc(out, (char)((d->bits >> d->nbits) &
			    0xff)) == -1)
				return -1;
		}
	}
	return 0;
}

static int
hexv(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (unsigned char)toupper(c);
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* One quoted-printable octet C; the pending "=X" lives in D->qp. */
static int
qp_octet(struct imap_decoder *d, unsigned char c, struct buf *out)
{
	if (d->qplen == 0) {
		if (c == '=') {
			d->qp[d->qplen++] = '=';
			return 0;
		}
		if (c == '\n')	/* stored LF: the line break is CRLF */
			return buf_append(out, "\r\n", 2);
		if (c == '\r')
			return 0;	/* a CRLF from a client: one break */
		return buf_putc(out, (char)c);
	}
	if (d->qplen == 1) {
		if (c == '\n') {	/* "=" LF: a soft line break */
			d->qplen = 0;
			return 0;
		}
		if (c == '\r')
			return 0;	/* "=" CR LF: the same */
		d->qp[d->qplen++] = (char)c;
		return 0;
	}
	d->qplen = 0;
	if (hexv((unsigned char)d->qp[1]) >= 0 && hexv(c) >= 0)
		return buf_putc(out, (char)(hexv((unsigned char)d->qp[1]) * 16 +
		    hexv(c)));
	/* Not an escape: kept as it came (RFC 2045 6.7, note 1). */
	if (buf_append(out, d->qp, 2) == -1)
		return -1;
	return qp_octet(d, c, out);
}

int
imap_decode(struct imap_decoder *d, const char *p, size_t n, struct buf *out)
{
	const unsigned char *u = (const unsigned char *)p;
	size_t i;

	if (d->cte == IMAP_CTE_BASE64)
		return b64(d, u, n, out);
	if (d->cte == IMAP_CTE_QP) {
		for (i = 0; i < n; i++)
			if (qp_octet(d, u[i], out) == -1)
				return -1;
		return 0;
	}
	for (i = 0; i < n; i++)
		if ((u[i] == '\n' ? buf_append(out, "\r\n", 2) :
		    buf_putc(out, (char)u[i])) == -1)
			return -1;
	return 0;
}

int
imap_decode_end(struct imap_decoder *d, struct buf *out)
{
	/* A "=" or "=X" cut off at the end stays as it was. */
	if (d->cte == IMAP_CTE_QP && d->qplen > 0) {
		if (buf_append(out, d->qp, (size_t)d->qplen) == -1)
			return -1;
		d->qplen = 0;
	}
	return 0;
}
