/*
 * milter_proto.c - the milter protocol version 6 on the wire (milter.h):
 * the packets the MTA sends, and the filter's replies read with their
 * length tracked across any split of the stream and validated field by
 * field before anything else looks at them.
 *
 * Written from the public descriptions of the protocol: Sendmail's
 * libmilter documentation and the constants of its mfdef.h, and Postfix's
 * MILTER_README for what a client must do. A reply is checked against the
 * stage it answers (a header change only at the end of the message, a
 * skip only in the body and only when SMFIP_SKIP was negotiated) and
 * against the actions the filter asked for: a filter that did not ask
 * for SMFIF_CHGBODY cannot replace the body.
 */
#include <stdint.h>

#include "milter/milter.h"
#include "util/str.h"
#include "util/compat.h"

/* The longest line of a filter's reply text we take: libmilter allows
   980 octets of text (MAXREPLYLEN) after the code and enhanced code. */
#define REPLY_LINE_MAX	1000
/* The longest SMTP reply line we make, without its CRLF (RFC 5321). */
#define SMTP_LINE_MAX	510

/* ---- encoders ---- */

static void
put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t
get32(const void *v)
{
	const uint8_t *p = v;

	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* Starts a packet for CMD; returns where it starts. */
static int
pkt_begin(struct buf *out, char cmd, size_t *start_r)
{
	static const char hdr[5];

	*start_r = out->len;
	if (buf_append(out, hdr, sizeof(hdr)) == -1)
		return -1;
	out->data[out->len - 1] = cmd;
	return 0;
}

/* Appends a string with its NUL. */
static int
pkt_str(struct buf *out, const char *s)
{
	return buf_append(out, s, strlen(s) + 1);
}

/* Ends the packet begun at START: its length written, or -1 (and the
   packet removed) when a failure happened or it is too long for a
   filter to take (libmilter refuses data over MILTER_CHUNK_SIZE). */
static int
pkt_end(struct buf *out, size_t start, int failed)
{
	size_t n;

	if (failed == 0 && out->len - start - 5 <= MILTER_CHUNK_SIZE) {
		n = out->len - start - 4;
		put32((uint8_t *)out->data + start, (uint32_t)n);
		return 0;
	}
	buf_truncate(out, start);
	return -1;
}

int
milter_enc_bare(struct buf *out, enum milter_cmd cmd)
{
	size_t start;

	if (pkt_begin(out, (char)cmd, &start) == -1)
		return -1;
	return pkt_end(out, start, 0);
}

int
milter_enc_optneg(struct buf *out, uint32_t version, uint32_t actions,
    uint32_t protocol)
{
	uint8_t v[12];
	size_t start;

	if (pkt_begin(out, MILTER_C_OPTNEG, &start) == -1)
		return -1;
	put32(v, version);
	put32(v + 4, actions);
	put32(v + 8, protocol);
	return pkt_end(out, start, buf_append(out, v, sizeof(v)));
}

static int
macro_name(struct buf *out, const char *name)
{
	if (strlen(name) <= 1 || name[0] == '{')
		return pkt_str(out, name);
	if (buf_putc(out, '{') == -1 || buf_append_str(out, name) == -1)
		return -1;
	return pkt_str(out, "}");
}

int
milter_enc_macros(struct buf *out, char cmd, const char *const *names,
    const char *const *values, size_t n)
{
	size_t start, i;
	int failed;

	if (pkt_begin(out, MILTER_C_MACRO, &start) == -1)
		return -1;
	failed = buf_putc(out, cmd);
	for (i = 0; i < n && failed == 0; i++) {
		if (macro_name(out, names[i]) == -1 ||
		    pkt_str(out, values[i]) == -1)
			failed = -1;
	}
	return pkt_end(out, start, failed);
}

int
milter_enc_connect(struct buf *out, const char *hostname,
    enum milter_family family, uint16_t port, const char *addr)
{
	uint8_t p[2];
	size_t start;
	int failed;

	if (pkt_begin(out, MILTER_C_CONNECT, &start) == -1)
		return -1;
	failed = pkt_str(out, hostname);
	if (failed == 0)
		failed = buf_putc(out, (char)family);
	if (failed == 0 && family != MILTER_F_UNKNOWN) {
		p[0] = (uint8_t)(port >> 8);
		p[1] = (uint8_t)port;
		failed = buf_append(out, p, 2);
		if (failed == 0)
			failed = pkt_str(out, addr);
	}
	return pkt_end(out, start, failed);
}

static int
enc_strs(struct buf *out, char cmd, const char *const *argv, size_t argc)
{
	size_t start, i;
	int failed = 0;

	if (pkt_begin(out, cmd, &start) == -1)
		return -1;
	for (i = 0; i < argc && failed == 0; i++)
		failed = pkt_str(out, argv[i]);
	return pkt_end(out, start, failed);
}

int
milter_enc_helo(struct buf *out, const char *helo)
{
	return enc_strs(out, MILTER_C_HELO, &helo, 1);
}

int
milter_enc_mail(struct buf *out, const char *const *argv, size_t argc)
{
	return enc_strs(out, MILTER_C_MAIL, argv, argc);
}

int
milter_enc_rcpt(struct buf *out, const char *const *argv, size_t argc)
{
	return enc_strs(out, MILTER_C_RCPT, argv, argc);
}

int
milter_enc_header(struct buf *out, const char *name, const char *value)
{
	const char *v[2] = { name, value };

	return enc_strs(out, MILTER_C_HEADER, v, 2);
}

int
milter_enc_unknown(struct buf *out, const char *line)
{
	return enc_strs(out, MILTER_C_UNKNOWN, &line, 1);
}

int
milter_enc_body(struct buf *out, const void *data, size_t len)
{
	size_t start, k, was = out->len, i;
	const char *p = data;

	for (i = 0; i < len; i += k) {
		k = len - i < MILTER_CHUNK_SIZE ? len - i : MILTER_CHUNK_SIZE;
		if (pkt_begin(out, MILTER_C_BODY, &start) == -1 ||
		    pkt_end(out, start, buf_append(out, p + i, k)) == -1) {
			buf_truncate(out, was);
			return -1;
		}
	}
	return 0;
}

/* ---- the reader ---- */

void
milter_reader_init(struct milter_reader *r, size_t max)
{
	memset(r, 0, sizeof(*r));
	r->max = max == 0 ? MILTER_MAX_DATA : max;
	buf_init(&r->pkt, r->max + 1);
}

void
milter_reader_free(struct milter_reader *r)
{
	buf_free(&r->pkt);
	r->hdrlen = 0;
	r->need = 0;
	r->ready = false;
}

int
milter_reader_feed(struct milter_reader *r, const void *data, size_t len,
    size_t *used_r, const char **error_r)
{
	const uint8_t *p = data;
	size_t used = 0, k;
	uint32_t n;

	if (r->ready) {
		buf_reset(&r->pkt);
		r->ready = false;
		r->hdrlen = 0;
	}
	while (r->hdrlen < 4 && used < len) {
		r->hdr[r->hdrlen++] = p[used++];
		if (r->hdrlen < 4)
			continue;
		n = get32(r->hdr);
		if (n == 0) {
			*error_r = "packet of length 0";
			return -1;
		}
		if (n - 1 > r->max) {
			*error_r = "packet over the size limit";
			return -1;
		}
		r->need = n;
	}
	*used_r = used;
	if (r->hdrlen < 4)
		return 0;
	k = len - used < r->need ? len - used : r->need;
	if (k > 0 && buf_append(&r->pkt, p + used, k) == -1) {
		*error_r = "packet over the size limit";
		return -1;
	}
	r->need -= (uint32_t)k;
	*used_r = used + k;
	if (r->need > 0)
		return 0;
	r->ready = true;
	return 1;
}

/* ---- reply validation ---- */

/* A cursor over the data of a reply. */
struct cur {
	const char	*p;
	size_t		 n;
};

/* The next NUL-terminated string; -1 when there is no NUL. */
static int
take_str(struct cur *c, const char **s_r)
{
	const char *nul = memchr(c->p, '\0', c->n);

	if (nul == NULL)
		return -1;
	*s_r = c->p;
	c->n -= (size_t)(nul - c->p) + 1;
	c->p = nul + 1;
	return 0;
}

static int
take32(struct cur *c, uint32_t *v_r)
{
	if (c->n < 4)
		return -1;
	*v_r = get32(c->p);
	c->p += 4;
	c->n -= 4;
	return 0;
}

/* RFC 5322 field name: printable ASCII but ':', at least one. */
static bool
is_field_name(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++) {
		if ((unsigned char)*s <= ' ' || (unsigned char)*s >= 0x7f ||
		    *s == ':')
			return false;
	}
	return true;
}

/* A header value: no control octet but TAB, line breaks (LF or CRLF)
   only as folding, i.e. followed by a blank. 8-bit is let through (the
   filter's business, as in Postfix). */
static bool
is_field_value(const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '\r' && s[1] == '\n')
			s++;
		if (*s == '\n') {
			if (s[1] != ' ' && s[1] != '\t')
				return false;
			continue;
		}
		if (((unsigned char)*s < ' ' && *s != '\t') ||
		    (unsigned char)*s == 0x7f)
			return false;
	}
	return true;
}

/* An address: "<...>" or bare, printable, no blank. */
static bool
is_address(const char *s)
{
	if (*s == '\0' || strlen(s) > 1000)
		return false;
	for (; *s != '\0'; s++)
		if ((unsigned char)*s <= ' ' || (unsigned char)*s >= 0x7f)
			return false;
	return true;
}

/* ESMTP arguments: printable text, blanks allowed. */
static bool
is_args(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < ' ' || (unsigned char)*s >= 0x7f)
			return false;
	return true;
}

/* Length of an RFC 3463 code "C.SSS.DDD" at S whose class is CLASS,
   followed by a blank or the end of the line; 0 if none. */
static size_t
ecode_len(const char *s, size_t n, char klass)
{
	size_t i = 0, part, d;

	if (n < 5 || s[0] != klass || s[1] != '.')
		return 0;
	i = 2;
	for (part = 0; part < 2; part++) {
		for (d = 0; i < n && s[i] >= '0' && s[i] <= '9'; i++)
			d++;
		if (d == 0 || d > 3)
			return 0;
		if (part == 0) {
			if (i >= n || s[i] != '.')
				return 0;
			i++;
		}
	}
	if (i < n && s[i] != ' ')
		return 0;
	return i;
}

/* One line of a REPLYCODE text: "NNN-text" (not LAST) or "NNN text" /
   "NNN" (LAST), the same code on every line. */
static const char *
check_reply_line(const char *s, size_t n, bool last, struct milter_reply *r,
    bool first)
{
	unsigned code;
	size_t i, e;

	if (n < 3 || n > REPLY_LINE_MAX)
		return "reply line of bad length";
	for (i = 0; i < 3; i++)
		if (s[i] < '0' || s[i] > '9')
			return "reply without a code";
	code = (unsigned)(s[0] - '0') * 100 + (unsigned)(s[1] - '0') * 10 +
	    (unsigned)(s[2] - '0');
	if (first) {
		if (code < 400 || code > 599)
			return "reply code not 4xx or 5xx";
		r->code = code;
	} else if (code != r->code)
		return "reply lines with different codes";
	if (n > 3 && s[3] != (last ? ' ' : '-'))
		return "reply line continuation wrong";
	if (n == 3 && !last)
		return "reply line continuation wrong";
	for (i = 4; i < n; i++)	/* RFC 5321 textstring: HT, SP, VCHAR */
		if (((unsigned char)s[i] < ' ' && s[i] != '\t') ||
		    (unsigned char)s[i] >= 0x7f)
			return "reply text not printable";
	if (first && n > 4) {
		e = ecode_len(s + 4, n - 4, s[0]);
		if (e == 0 && n - 4 >= 2 && s[5] == '.' && s[4] != s[0] &&
		    s[4] >= '2' && s[4] <= '5')
			return "enhanced code of another class";
		if (e > 0 && str_ncopy(r->ecode, s + 4, e,
		    sizeof(r->ecode)) == -1)
			return "enhanced code too long";
	}
	return NULL;
}

static const char *
parse_replycode(struct cur *c, struct milter_reply *r)
{
	const char *text, *s, *eol;
	bool first = true;
	const char *err;

	if (take_str(c, &text) == -1 || c->n != 0)
		return "reply code without its NUL or with data after it";
	r->text = text;
	r->ecode[0] = '\0';
	for (s = text;; s = eol + 2) {
		eol = strstr(s, "\r\n");
		err = check_reply_line(s, eol == NULL ? strlen(s) :
		    (size_t)(eol - s), eol == NULL, r, first);
		if (err != NULL)
			return err;
		first = false;
		if (eol == NULL)
			return NULL;
	}
}

static const char *
parse_header(struct cur *c, struct milter_reply *r, bool indexed)
{
	if (indexed && take32(c, &r->index) == -1)
		return "header change without its index";
	if (take_str(c, &r->name) == -1 || take_str(c, &r->value) == -1 ||
	    c->n != 0)
		return "header reply malformed";
	if (!is_field_name(r->name))
		return "header reply with a bad field name";
	if (!is_field_value(r->value))
		return "header reply with a bad value";
	return NULL;
}

/* CHGFROM, ADDRCPT(_PAR), DELRCPT: an address, ARGS_OK: arguments. */
static const char *
parse_addr(struct cur *c, struct milter_reply *r, bool args_ok)
{
	if (take_str(c, &r->addr) == -1)
		return "address reply without its NUL";
	r->args = NULL;
	if (args_ok && c->n > 0 && take_str(c, &r->args) == -1)
		return "address reply arguments without their NUL";
	if (c->n != 0)
		return "address reply with data after it";
	if (!is_address(r->addr))
		return "address reply with a bad address";
	if (r->args != NULL && !is_args(r->args))
		return "address reply with bad arguments";
	return NULL;
}

/* A macro list: "name name ..." of printable names. */
static bool
is_macro_list(const char *s)
{
	return is_args(s) && strlen(s) < 1000;
}

static const char *
parse_optneg(struct cur *c, struct milter_reply *r, uint32_t offer_a,
    uint32_t offer_p)
{
	uint32_t stage;
	const char *list;

	if (take32(c, &r->version) == -1 || take32(c, &r->actions) == -1 ||
	    take32(c, &r->protocol) == -1)
		return "option negotiation reply too short";
	if (r->version < 2 || r->version > MILTER_VERSION)
		return "option negotiation with an unsupported version";
	if ((r->actions & ~offer_a) != 0)
		return "filter asks for actions not offered";
	if ((r->protocol & ~offer_p) != 0)
		return "filter asks for protocol steps not offered";
	/* Steps an older filter does not know, as Sendmail has it: UNKNOWN
	   came with version 3, DATA with version 4. */
	if (r->version <= 2)
		r->protocol |= MILTER_P_NOUNKNOWN;
	if (r->version <= 3)
		r->protocol |= MILTER_P_NODATA;
	while (c->n > 0) {
		if (take32(c, &stage) == -1 || take_str(c, &list) == -1)
			return "option negotiation macro list malformed";
		if (stage >= MILTER_M_NSTAGES || r->macros[stage] != NULL)
			return "option negotiation macro stage bad or repeated";
		if (!is_macro_list(list))
			return "option negotiation macro list malformed";
		r->macros[stage] = list;
	}
	return NULL;
}

/* The action flag a modification needs, 0 for a reply that is not one. */
static uint32_t
needed_action(int cmd)
{
	switch (cmd) {
	case MILTER_R_ADDHEADER:
	case MILTER_R_INSHEADER:
		return MILTER_A_ADDHDRS;
	case MILTER_R_CHGHEADER:
		return MILTER_A_CHGHDRS;
	case MILTER_R_REPLBODY:
		return MILTER_A_CHGBODY;
	case MILTER_R_CHGFROM:
		return MILTER_A_CHGFROM;
	case MILTER_R_ADDRCPT:
		return MILTER_A_ADDRCPT;
	case MILTER_R_ADDRCPT_PAR:
		return MILTER_A_ADDRCPT_PAR;
	case MILTER_R_DELRCPT:
		return MILTER_A_DELRCPT;
	case MILTER_R_QUARANTINE:
		return MILTER_A_QUARANTINE;
	default:
		return 0;
	}
}

/* NULL when reply CMD may come at STAGE, else why not. */
static const char *
check_allowed(int cmd, enum milter_stage stage, uint32_t actions,
    uint32_t protocol)
{
	uint32_t need;

	/* Only the OPTNEG reply answers OPTNEG: no MTA takes SETSYMLIST as a
	   packet of its own (the lists come inside the OPTNEG reply), nor a
	   PROGRESS before the negotiation is done. */
	if (stage == MILTER_S_OPTNEG)
		return cmd == MILTER_R_OPTNEG ? NULL :
		    "reply other than option negotiation";
	switch (cmd) {
	case MILTER_R_ACCEPT:
	case MILTER_R_CONTINUE:
	case MILTER_R_REJECT:
	case MILTER_R_TEMPFAIL:
	case MILTER_R_DISCARD:
	case MILTER_R_REPLYCODE:
	case MILTER_R_SHUTDOWN:
	case MILTER_R_CONNFAIL:
	case MILTER_R_PROGRESS:	/* anywhere a reply is awaited (Postfix) */
		return NULL;
	case MILTER_R_SKIP:
		if (stage != MILTER_S_BODY)
			return "skip outside the body";
		return (protocol & MILTER_P_SKIP) ? NULL :
		    "skip not negotiated";
	default:
		break;
	}
	need = needed_action(cmd);
	if (need == 0)
		return "unknown reply";	/* SETSYMLIST and OPTNEG too */
	if (stage != MILTER_S_EOM)
		return "modification before the end of the message";
	return (actions & need) ? NULL : "modification not negotiated";
}

static const char *
parse_data(struct cur *c, int cmd, struct milter_reply *r, uint32_t actions,
    uint32_t protocol)
{
	switch (cmd) {
	case MILTER_R_OPTNEG:
		return parse_optneg(c, r, actions, protocol);
	case MILTER_R_REPLYCODE:
		return parse_replycode(c, r);
	case MILTER_R_ADDHEADER:
		return parse_header(c, r, false);
	case MILTER_R_INSHEADER:
	case MILTER_R_CHGHEADER:
		return parse_header(c, r, true);
	case MILTER_R_CHGFROM:
	case MILTER_R_ADDRCPT_PAR:
		return parse_addr(c, r, true);
	case MILTER_R_ADDRCPT:
	case MILTER_R_DELRCPT:
		return parse_addr(c, r, false);
	case MILTER_R_REPLBODY:
		r->body = c->p;
		r->bodylen = c->n;
		return NULL;
	case MILTER_R_QUARANTINE:
		if (take_str(c, &r->value) == -1 || c->n != 0 ||
		    !is_args(r->value))
			return "quarantine reason malformed";
		return NULL;
	default:
		/* accept, continue, reject, tempfail, discard, skip,
		   progress, shutdown, connfail: no data */
		return c->n == 0 ? NULL : "reply with unexpected data";
	}
}

int
milter_reply_parse(const struct milter_reader *rd, enum milter_stage stage,
    uint32_t actions, uint32_t protocol, struct milter_reply *r,
    const char **error_r)
{
	struct cur c;
	const char *err;
	int cmd;

	if (!rd->ready || rd->pkt.len == 0) {
		*error_r = "no packet";
		return -1;
	}
	memset(r, 0, sizeof(*r));
	cmd = (unsigned char)rd->pkt.data[0];
	c.p = rd->pkt.data + 1;
	c.n = rd->pkt.len - 1;
	err = check_allowed(cmd, stage, actions, protocol);
	if (err == NULL)
		err = parse_data(&c, cmd, r, actions, protocol);
	if (err != NULL) {
		*error_r = err;
		return -1;
	}
	r->cmd = (enum milter_rep)cmd;
	return 0;
}

/* ---- SMTP form of a reply ---- */

/* The N octets of T into BUF (N + 1 octets) with "%%" made "%" and a
   lone "%" dropped: libmilter filters double a '%' for Sendmail, which
   takes the text as a format string (Postfix undoes it the same way).
   Returns the new length. */
static size_t
unpercent(char *buf, const char *t, size_t n)
{
	size_t i, k = 0;

	for (i = 0; i < n; i++) {
		if (t[i] == '%' && ++i == n)
			break;
		buf[k++] = t[i];
	}
	buf[k] = '\0';
	return k;
}

/* One line of a filter's reply text, TEXT of N octets after "NNN[- ]",
   as SMTP lines of code CODE with the line's own enhanced code or DFLT.
   A text longer than an SMTP line takes (libmilter allows 980 octets,
   RFC 5321 512 with the CRLF) goes on in more lines, broken at a blank
   where there is one; LAST: the reply ends with this line. */
static int
smtp_line(struct buf *out, unsigned code, const char *dflt, const char *text,
    size_t n, bool last)
{
	char ec[16], line[REPLY_LINE_MAX + 1];
	const char *t = line;
	size_t e, k, skip, room;
	bool more;
	int failed;

	if (n > REPLY_LINE_MAX)
		return -1;
	n = unpercent(line, text, n);
	e = ecode_len(t, n, dflt[0]);
	if (e > 0 && str_ncopy(ec, t, e, sizeof(ec)) == 0) {
		t += e < n ? e + 1 : e;
		n -= e < n ? e + 1 : e;
	} else
		(void)str_copy(ec, dflt, sizeof(ec));
	room = SMTP_LINE_MAX - 4 - strlen(ec) - 1;
	do {
		k = n;
		skip = 0;
		if (n > room) {
			for (k = room; k > 0 && t[k] != ' '; k--)
				;
			if (k == 0)
				k = room;
			else
				skip = 1;
		}
		more = n - k - skip > 0;
		failed = buf_printf(out, "%u%c%s%s", code, last && !more ?
		    ' ' : '-', ec, k > 0 ? " " : "");
		if (failed == 0)
			failed = buf_append(out, t, k);
		if (failed == 0)
			failed = buf_append(out, "\r\n", 2);
		t += k + skip;
		n -= k + skip;
	} while (failed == 0 && more);
	return failed;
}

int
milter_reply_smtp(const struct milter_reply *r, struct buf *out)
{
	char dflt[16];
	const char *s, *eol;
	size_t n, was = out->len;
	int failed = 0;

	if (r->ecode[0] != '\0')
		(void)str_copy(dflt, r->ecode, sizeof(dflt));
	else
		(void)str_fmt(dflt, sizeof(dflt), "%c.7.1",
		    r->code >= 500 ? '5' : '4');
	for (s = r->text; failed == 0; s = eol + 2) {
		eol = strstr(s, "\r\n");
		n = eol == NULL ? strlen(s) : (size_t)(eol - s);
		failed = smtp_line(out, r->code, dflt, n > 4 ? s + 4 : "",
		    n > 4 ? n - 4 : 0, eol == NULL);
		if (eol == NULL)
			break;
	}
	if (failed != 0)
		buf_truncate(out, was);
	return failed;
}

const char *
milter_stage_name(enum milter_stage s)
{
	static const char *const names[MILTER_S_NSTAGES] = {
		"optneg", "connect", "helo", "mail", "rcpt", "data",
		"header", "eoh", "body", "eom", "unknown"
	};

	return (unsigned)s < MILTER_S_NSTAGES ? names[s] : "?";
}

const char *
milter_rep_name(int cmd)
{
	static const struct {
		int		 cmd;
		const char	*name;
	} names[] = {
		{ MILTER_R_ADDRCPT, "addrcpt" }, { MILTER_R_DELRCPT, "delrcpt" },
		{ MILTER_R_ADDRCPT_PAR, "addrcpt_par" },
		{ MILTER_R_SHUTDOWN, "shutdown" }, { MILTER_R_ACCEPT, "accept" },
		{ MILTER_R_REPLBODY, "replbody" },
		{ MILTER_R_CONTINUE, "continue" },
		{ MILTER_R_DISCARD, "discard" }, { MILTER_R_CHGFROM, "chgfrom" },
		{ MILTER_R_CONNFAIL, "connfail" },
		{ MILTER_R_ADDHEADER, "addheader" },
		{ MILTER_R_INSHEADER, "insheader" },
		{ MILTER_R_SETSYMLIST, "setsymlist" },
		{ MILTER_R_CHGHEADER, "chgheader" },
		{ MILTER_R_PROGRESS, "progress" },
		{ MILTER_R_QUARANTINE, "quarantine" },
		{ MILTER_R_REJECT, "reject" }, { MILTER_R_SKIP, "skip" },
		{ MILTER_R_TEMPFAIL, "tempfail" },
		{ MILTER_R_REPLYCODE, "replycode" },
		{ MILTER_R_OPTNEG, "optneg" },
	};
	size_t i;

	for (i = 0; i < nitems(names); i++)
		if (names[i].cmd == cmd)
			return names[i].name;
	return "?";
}
