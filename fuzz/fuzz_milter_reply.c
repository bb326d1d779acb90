/* fuzz_milter_reply.c - the milter reply reader and validator
   (src/milter/milter_proto.c). The first byte picks the stage, the
   second how the stream is split, the third which actions and protocol
   steps were negotiated; the rest is the filter's byte stream. Checks:
   every pointer of a validated reply lies inside its packet, a reply code
   has 4xx/5xx and its SMTP form keeps an enhanced code on every line,
   and the packets and verdicts do not depend on how the stream was
   split. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "milter/milter.h"
#include "util/buf.h"

static void
inside(const struct milter_reader *rd, const char *p)
{
	if (p != NULL && (p < rd->pkt.data || p >= rd->pkt.data + rd->pkt.len))
		abort();
}

static void
check(const struct milter_reader *rd, const struct milter_reply *r,
    struct buf *log)
{
	struct buf smtp;
	size_t i;

	inside(rd, r->text);
	inside(rd, r->name);
	inside(rd, r->value);
	inside(rd, r->addr);
	inside(rd, r->args);
	for (i = 0; i < MILTER_M_NSTAGES; i++)
		inside(rd, r->macros[i]);
	if (r->body != NULL && (r->body < rd->pkt.data ||
	    r->body + r->bodylen > rd->pkt.data + rd->pkt.len))
		abort();
	if (r->cmd != MILTER_R_REPLYCODE)
		return;
	if (r->code < 400 || r->code > 599)
		abort();
	buf_init(&smtp, BUF_UNLIMITED);
	if (milter_reply_smtp(r, &smtp) == -1)
		abort();
	/* every line "NNN[- ]C." */
	for (i = 0; i < smtp.len; i = (size_t)(strstr(smtp.data + i, "\r\n") -
	    smtp.data) + 2) {
		if (smtp.len - i < 6 || smtp.data[i + 4] != smtp.data[i] ||
		    smtp.data[i + 5] != '.')
			abort();
	}
	(void)buf_append(log, smtp.data, smtp.len);
	buf_free(&smtp);
}

/* Reads the stream in pieces of PIECE octets; logs what it saw. */
static void
run(const uint8_t *p, size_t n, size_t piece, enum milter_stage stage,
    uint32_t actions, uint32_t protocol, struct buf *log)
{
	struct milter_reader rd;
	struct milter_reply r;
	const char *err;
	size_t i = 0, k, used;
	int rc;

	milter_reader_init(&rd, 70000);
	while (i < n) {
		k = n - i < piece ? n - i : piece;
		rc = milter_reader_feed(&rd, p + i, k, &used, &err);
		if (rc == -1) {
			(void)buf_printf(log, "E:%s;", err);
			break;
		}
		if (used > k)
			abort();
		i += used;
		if (rc == 0)
			continue;
		if (milter_reply_parse(&rd, stage, actions, protocol, &r,
		    &err) == -1) {
			(void)buf_printf(log, "X:%s;", err);
			continue;
		}
		(void)buf_printf(log, "R:%c;", (char)r.cmd);
		check(&rd, &r, log);
	}
	milter_reader_free(&rd);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct buf whole, split;
	enum milter_stage stage;
	uint32_t actions, protocol;
	size_t piece;
	uint8_t *p;

	if (len < 3)
		return 0;
	stage = (enum milter_stage)(data[0] % MILTER_S_NSTAGES);
	piece = (size_t)(data[1] % 13) + 1;
	actions = (data[2] & 1) ? MILTER_A_ALL : (uint32_t)(data[2] >> 1) *
	    0x3u;
	protocol = (data[2] & 2) ? MILTER_P_OFFER : MILTER_P_NR_HDR;
	if (stage == MILTER_S_OPTNEG)
		actions = MILTER_A_ALL;
	p = malloc(len - 3 ? len - 3 : 1);	/* exact size: overreads show */
	if (p == NULL)
		return 0;
	memcpy(p, data + 3, len - 3);
	buf_init(&whole, BUF_UNLIMITED);
	buf_init(&split, BUF_UNLIMITED);
	run(p, len - 3, len, stage, actions, protocol, &whole);
	run(p, len - 3, piece, stage, actions, protocol, &split);
	if (whole.len != split.len || (whole.len > 0 &&
	    memcmp(whole.data, split.data, whole.len) != 0))
		abort();
	buf_free(&whole);
	buf_free(&split);
	free(p);
	return 0;
}
