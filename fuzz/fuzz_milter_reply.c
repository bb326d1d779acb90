/* fuzz_milter_reply.c - the milter reply reader and validator
   (src/milter/milter_proto.c). The input's first 4 octets say where the
   replies arrive and what was negotiated, the rest is the filter's byte
   stream:
     [0] the stage (modulo MILTER_S_NSTAGES)
     [1] how the stream is split: pieces of [1] % 13 + 1 octets
     [2] actions bits 0-7, [3] bit 0: action SETSYMLIST
     [3] bit 1: SKIP in the protocol, bit 2: no NR_* steps, bit 3: no NO*
         steps, bit 4: no HDR_LEADSPC (the rest of MILTER_P_OFFER kept)
   At MILTER_S_OPTNEG those actions and steps are what we offered, so a
   filter can choose less or ask for more; elsewhere what was negotiated.
   Checks: every pointer of a validated reply lies inside its packet; a
   reply that passed is allowed at its stage and by what was negotiated
   (an OPTNEG reply only at OPTNEG, within the offer, version 2..6; a
   modification only at EOM with its action; SKIP only in the body when
   negotiated; no SETSYMLIST packet); a reply code has 4xx/5xx and its
   SMTP form keeps an enhanced code of its class on every line, lines of
   at most 512 octets; the packets and verdicts do not depend on how the
   stream was split. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "milter/milter.h"
#include "util/buf.h"

#define NR_STEPS	(MILTER_P_NR_HDR | MILTER_P_NR_CONN | \
    MILTER_P_NR_HELO | MILTER_P_NR_MAIL | MILTER_P_NR_RCPT | \
    MILTER_P_NR_DATA | MILTER_P_NR_UNKN | MILTER_P_NR_EOH | MILTER_P_NR_BODY)
#define NO_STEPS	(MILTER_P_NOCONNECT | MILTER_P_NOHELO | \
    MILTER_P_NOMAIL | MILTER_P_NORCPT | MILTER_P_NOBODY | MILTER_P_NOHDRS | \
    MILTER_P_NOEOH | MILTER_P_NOUNKNOWN | MILTER_P_NODATA)

struct neg {
	enum milter_stage	stage;
	uint32_t		actions, protocol;
};

static void
inside(const struct milter_reader *rd, const char *p)
{
	if (p != NULL && (p < rd->pkt.data || p >= rd->pkt.data + rd->pkt.len))
		abort();
}

/* The action a modification needs (milter.h), 0 for other replies. */
static uint32_t
action_of(int cmd)
{
	static const struct {
		int		cmd;
		uint32_t	action;
	} mods[] = {
		{ MILTER_R_ADDHEADER, MILTER_A_ADDHDRS },
		{ MILTER_R_INSHEADER, MILTER_A_ADDHDRS },
		{ MILTER_R_CHGHEADER, MILTER_A_CHGHDRS },
		{ MILTER_R_REPLBODY, MILTER_A_CHGBODY },
		{ MILTER_R_CHGFROM, MILTER_A_CHGFROM },
		{ MILTER_R_ADDRCPT, MILTER_A_ADDRCPT },
		{ MILTER_R_ADDRCPT_PAR, MILTER_A_ADDRCPT_PAR },
		{ MILTER_R_DELRCPT, MILTER_A_DELRCPT },
		{ MILTER_R_QUARANTINE, MILTER_A_QUARANTINE },
	};
	size_t i;

	for (i = 0; i < sizeof(mods) / sizeof(mods[0]); i++)
		if (mods[i].cmd == cmd)
			return mods[i].action;
	return 0;
}

/* A reply that passed is allowed where it came. */
static void
check_allowed(const struct neg *ng, const struct milter_reply *r)
{
	uint32_t need = action_of((int)r->cmd);

	if ((ng->stage == MILTER_S_OPTNEG) != (r->cmd == MILTER_R_OPTNEG))
		abort();
	if (r->cmd == MILTER_R_OPTNEG && (r->version < 2 || r->version > 6 ||
	    (r->actions & ~ng->actions) != 0 || (r->protocol &
	    ~(ng->protocol | MILTER_P_NOUNKNOWN | MILTER_P_NODATA)) != 0))
		abort();
	if (r->cmd == MILTER_R_SKIP && (ng->stage != MILTER_S_BODY ||
	    (ng->protocol & MILTER_P_SKIP) == 0))
		abort();
	if (need != 0 && (ng->stage != MILTER_S_EOM ||
	    (ng->actions & need) == 0))
		abort();
	if (r->cmd == MILTER_R_SETSYMLIST || (need == 0 && ((int)r->cmd == 0 ||
	    strchr("acrtdy4fpsO", (int)r->cmd) == NULL)))
		abort();
}

/* The SMTP form of a REPLYCODE: every line "NNN[- ]C." with C the class,
   of HT and printable ASCII, at most 512 octets with its CRLF, the last
   one "NNN ". */
static void
check_smtp(const struct milter_reply *r, struct buf *log)
{
	struct buf smtp;
	const char *eol;
	size_t i, k;

	if (r->code < 400 || r->code > 599)
		abort();
	buf_init(&smtp, BUF_UNLIMITED);
	if (milter_reply_smtp(r, &smtp) == -1)
		abort();
	for (i = 0; i < smtp.len; i = (size_t)(eol - smtp.data) + 2) {
		eol = strstr(smtp.data + i, "\r\n");
		if (eol == NULL || smtp.len - i < 6 || eol - smtp.data - i >
		    510 || smtp.data[i + 4] != smtp.data[i] ||
		    smtp.data[i + 5] != '.' || (smtp.data[i + 3] == ' ') !=
		    (eol + 2 == smtp.data + smtp.len))
			abort();
		for (k = i; smtp.data + k < eol; k++)
			if (((unsigned char)smtp.data[k] < ' ' &&
			    smtp.data[k] != '\t') ||
			    (unsigned char)smtp.data[k] >= 0x7f)
				abort();
	}
	(void)buf_append(log, smtp.data, smtp.len);
	buf_free(&smtp);
}

static void
check(const struct milter_reader *rd, const struct neg *ng,
    const struct milter_reply *r, struct buf *log)
{
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
	check_allowed(ng, r);
	if (r->cmd == MILTER_R_REPLYCODE)
		check_smtp(r, log);
}

/* Reads the stream in pieces of PIECE octets; logs what it saw. */
static void
run(const uint8_t *p, size_t n, size_t piece, const struct neg *ng,
    struct buf *log)
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
		if (milter_reply_parse(&rd, ng->stage, ng->actions,
		    ng->protocol, &r, &err) == -1) {
			(void)buf_printf(log, "X:%s;", err);
			continue;
		}
		(void)buf_printf(log, "R:%c;", (char)r.cmd);
		check(&rd, ng, &r, log);
	}
	milter_reader_free(&rd);
}

static void
negotiated(const uint8_t *data, struct neg *ng)
{
	ng->stage = (enum milter_stage)(data[0] % MILTER_S_NSTAGES);
	ng->actions = data[2] | ((data[3] & 1) ? MILTER_A_SETSYMLIST : 0);
	ng->protocol = MILTER_P_OFFER;
	if ((data[3] & 2) == 0)
		ng->protocol &= ~MILTER_P_SKIP;
	if (data[3] & 4)
		ng->protocol &= ~NR_STEPS;
	if (data[3] & 8)
		ng->protocol &= ~NO_STEPS;
	if (data[3] & 16)
		ng->protocol &= ~MILTER_P_HDR_LEADSPC;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct buf whole, split;
	struct neg ng;
	size_t piece;
	uint8_t *p;

	if (len < 4)
		return 0;
	negotiated(data, &ng);
	piece = (size_t)(data[1] % 13) + 1;
	p = malloc(len - 4 ? len - 4 : 1);	/* exact size: overreads show */
	if (p == NULL)
		return 0;
	memcpy(p, data + 4, len - 4);
	buf_init(&whole, BUF_UNLIMITED);
	buf_init(&split, BUF_UNLIMITED);
	run(p, len - 4, len, &ng, &whole);
	run(p, len - 4, piece, &ng, &split);
	if (whole.len != split.len || (whole.len > 0 &&
	    memcmp(whole.data, split.data, whole.len) != 0))
		abort();
	buf_free(&whole);
	buf_free(&split);
	free(p);
	return 0;
}
