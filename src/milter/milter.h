/*
 * milter.h - the Sendmail milter protocol, version 6, client side
 * (SPEC.md section 11).
 *
 * The codec (milter_proto.c): encoders for every command the MTA sends,
 * and an incremental reader of the filter's replies that checks every
 * length before it trusts it and validates each reply against the stage
 * it answers and what was negotiated. Written from the public protocol
 * descriptions: Sendmail's libmilter documentation and the values of its
 * mfdef.h, Postfix's MILTER_README.
 *
 * A packet on the wire is a 4-octet big-endian length (of what follows),
 * one command octet and length - 1 octets of data. Strings inside are
 * NUL-terminated.
 */
#ifndef POPGATE_MILTER_H
#define POPGATE_MILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

#define MILTER_VERSION		6
/* The largest BODY chunk we send (libmilter's MILTER_CHUNK_SIZE). */
#define MILTER_CHUNK_SIZE	65535
/* The largest reply data we accept: room for a replaced-body chunk of a
   filter built with a bigger buffer (SMFIP_MDS_1M), no more. */
#define MILTER_MAX_DATA		(1024 * 1024)

/* Commands (SMFIC_*), MTA to filter. */
enum milter_cmd {
	MILTER_C_ABORT = 'A',
	MILTER_C_BODY = 'B',
	MILTER_C_CONNECT = 'C',
	MILTER_C_MACRO = 'D',
	MILTER_C_EOM = 'E',
	MILTER_C_HELO = 'H',
	MILTER_C_QUIT_NC = 'K',
	MILTER_C_HEADER = 'L',
	MILTER_C_MAIL = 'M',
	MILTER_C_EOH = 'N',
	MILTER_C_OPTNEG = 'O',
	MILTER_C_QUIT = 'Q',
	MILTER_C_RCPT = 'R',
	MILTER_C_DATA = 'T',
	MILTER_C_UNKNOWN = 'U',
};

/* Replies (SMFIR_*), filter to MTA. */
enum milter_rep {
	MILTER_R_ADDRCPT = '+',
	MILTER_R_DELRCPT = '-',
	MILTER_R_ADDRCPT_PAR = '2',
	MILTER_R_SHUTDOWN = '4',
	MILTER_R_ACCEPT = 'a',
	MILTER_R_REPLBODY = 'b',
	MILTER_R_CONTINUE = 'c',
	MILTER_R_DISCARD = 'd',
	MILTER_R_CHGFROM = 'e',
	MILTER_R_CONNFAIL = 'f',
	MILTER_R_ADDHEADER = 'h',
	MILTER_R_INSHEADER = 'i',
	MILTER_R_SETSYMLIST = 'l',
	MILTER_R_CHGHEADER = 'm',
	MILTER_R_PROGRESS = 'p',
	MILTER_R_QUARANTINE = 'q',
	MILTER_R_REJECT = 'r',
	MILTER_R_SKIP = 's',
	MILTER_R_TEMPFAIL = 't',
	MILTER_R_REPLYCODE = 'y',
	MILTER_R_OPTNEG = 'O',
};

/* Actions a filter may take at the end of a message (SMFIF_*). */
#define MILTER_A_ADDHDRS	0x001u
#define MILTER_A_CHGBODY	0x002u
#define MILTER_A_ADDRCPT	0x004u
#define MILTER_A_DELRCPT	0x008u
#define MILTER_A_CHGHDRS	0x010u
#define MILTER_A_QUARANTINE	0x020u
#define MILTER_A_CHGFROM	0x040u
#define MILTER_A_ADDRCPT_PAR	0x080u
#define MILTER_A_SETSYMLIST	0x100u
#define MILTER_A_ALL		0x1ffu

/* Protocol steps (SMFIP_*): NO* the filter does not want the step, NR_*
   it will not reply to it. */
#define MILTER_P_NOCONNECT	0x00000001u
#define MILTER_P_NOHELO		0x00000002u
#define MILTER_P_NOMAIL		0x00000004u
#define MILTER_P_NORCPT		0x00000008u
#define MILTER_P_NOBODY		0x00000010u
#define MILTER_P_NOHDRS		0x00000020u
#define MILTER_P_NOEOH		0x00000040u
#define MILTER_P_NR_HDR		0x00000080u
#define MILTER_P_NOUNKNOWN	0x00000100u
#define MILTER_P_NODATA		0x00000200u
#define MILTER_P_SKIP		0x00000400u
#define MILTER_P_RCPT_REJ	0x00000800u
#define MILTER_P_NR_CONN	0x00001000u
#define MILTER_P_NR_HELO	0x00002000u
#define MILTER_P_NR_MAIL	0x00004000u
#define MILTER_P_NR_RCPT	0x00008000u
#define MILTER_P_NR_DATA	0x00010000u
#define MILTER_P_NR_UNKN	0x00020000u
#define MILTER_P_NR_EOH		0x00040000u
#define MILTER_P_NR_BODY	0x00080000u
#define MILTER_P_HDR_LEADSPC	0x00100000u
/* What popgate offers: every step and no-reply flag, SKIP and leading
   space; not RCPT_REJ (rejected recipients are not sent) nor the larger
   data sizes (body chunks stay at MILTER_CHUNK_SIZE). */
#define MILTER_P_OFFER		(0x001fffffu & ~MILTER_P_RCPT_REJ)

/* Address families of CONNECT (SMFIA_*). */
enum milter_family {
	MILTER_F_UNKNOWN = 'U',
	MILTER_F_UNIX = 'L',
	MILTER_F_INET = '4',
	MILTER_F_INET6 = '6',
};

/* Macro stages of the OPTNEG reply (SMFIM_*). */
enum milter_mstage {
	MILTER_M_CONNECT = 0,
	MILTER_M_HELO = 1,
	MILTER_M_ENVFROM = 2,
	MILTER_M_ENVRCPT = 3,
	MILTER_M_DATA = 4,
	MILTER_M_EOM = 5,
	MILTER_M_EOH = 6,
	MILTER_M_NSTAGES = 7
};

/* ---- encoders: each appends one or more whole packets to OUT; 0, or -1
   when OUT's limit would be passed (OUT then unchanged) or a field does
   not fit a packet. Strings are C strings (no NUL inside by nature). */

int	milter_enc_optneg(struct buf *out, uint32_t version,
	    uint32_t actions, uint32_t protocol);
/* MACRO for command CMD: NAMES[i] = VALUES[i], i < N; a name longer than
   one character is sent in braces ("client_addr" -> "{client_addr}"),
   one already in braces as is. */
int	milter_enc_macros(struct buf *out, char cmd, const char *const *names,
	    const char *const *values, size_t n);
/* CONNECT: FAMILY MILTER_F_UNKNOWN sends neither PORT nor ADDR; UNIX
   sends port 0 and the socket path in ADDR. */
int	milter_enc_connect(struct buf *out, const char *hostname,
	    enum milter_family family, uint16_t port, const char *addr);
int	milter_enc_helo(struct buf *out, const char *helo);
/* MAIL and RCPT: ARGV[0] is "<address>", the rest ESMTP parameters. */
int	milter_enc_mail(struct buf *out, const char *const *argv, size_t argc);
int	milter_enc_rcpt(struct buf *out, const char *const *argv, size_t argc);
/* HEADER: NAME and VALUE (without the colon; VALUE as on the wire, its
   leading space kept or not as the caller decided from HDR_LEADSPC). */
int	milter_enc_header(struct buf *out, const char *name, const char *value);
/* BODY: LEN octets in packets of at most MILTER_CHUNK_SIZE (none for 0). */
int	milter_enc_body(struct buf *out, const void *data, size_t len);
int	milter_enc_unknown(struct buf *out, const char *line);
/* The commands without data: DATA, EOH, EOM, ABORT, QUIT, QUIT_NC. */
int	milter_enc_bare(struct buf *out, enum milter_cmd cmd);

/* ---- the reply reader ---- */

/* Where in the conversation a reply arrives: it decides which replies
   are allowed. */
enum milter_stage {
	MILTER_S_OPTNEG,
	MILTER_S_CONNECT,
	MILTER_S_HELO,
	MILTER_S_MAIL,
	MILTER_S_RCPT,
	MILTER_S_DATA,
	MILTER_S_HEADER,
	MILTER_S_EOH,
	MILTER_S_BODY,
	MILTER_S_EOM,
	MILTER_S_UNKNOWN,
	MILTER_S_NSTAGES
};

/* A packet being read: the length is tracked across reads, so any split
   of the stream gives the same packets. */
struct milter_reader {
	uint8_t		hdr[4];
	size_t		hdrlen;		/* octets of hdr[] read so far */
	uint32_t	need;		/* octets of the packet still to read */
	size_t		max;		/* largest data accepted */
	struct buf	pkt;		/* command octet + data */
	bool		ready;		/* pkt holds a whole packet */
};

/* A validated reply. Pointers borrow from the reader's packet and live
   until the next milter_reader_feed() or milter_reader_free(). */
struct milter_reply {
	enum milter_rep	 cmd;
	/* REPLYCODE: the code, the enhanced code of its first line (""
	   when it has none), the whole text with its CRLFs (every line
	   starting "NNN-" but the last "NNN "). */
	unsigned	 code;
	char		 ecode[16];
	const char	*text;
	/* CHGHEADER, INSHEADER: the index; header replies: name, value
	   (CHGHEADER with value "" deletes). QUARANTINE: the reason in
	   value. */
	uint32_t	 index;
	const char	*name, *value;
	/* CHGFROM, ADDRCPT, ADDRCPT_PAR, DELRCPT: the address and the
	   ESMTP arguments (NULL when none). */
	const char	*addr, *args;
	/* REPLBODY: a chunk. */
	const char	*body;
	size_t		 bodylen;
	/* OPTNEG: what the filter chose, and its macro lists per
	   milter_mstage (NULL where it sent none). PROTOCOL has NOUNKNOWN
	   added for a filter of version 2 and NODATA for one of version 2
	   or 3, steps those do not know (as Sendmail does). A SETSYMLIST
	   packet of its own is refused at every stage: the lists come
	   only inside the OPTNEG reply. */
	uint32_t	 version, actions, protocol;
	const char	*macros[MILTER_M_NSTAGES];
};

/* A reader accepting at most MAX octets of data (0: MILTER_MAX_DATA). */
void	milter_reader_init(struct milter_reader *, size_t max);
void	milter_reader_free(struct milter_reader *);
/* Takes up to LEN octets of DATA, stopping at the end of a packet.
   Returns 1 when a whole packet is ready (*used_r octets taken), 0 when
   all LEN were taken and more are needed, -1 on a length that is 0 or
   over the maximum (*error_r says which; the stream cannot be read on).
   A packet returned is forgotten at the next call. */
int	milter_reader_feed(struct milter_reader *, const void *data,
	    size_t len, size_t *used_r, const char **error_r);

/* Validates the ready packet of the reader as a reply at STAGE of a
   conversation that negotiated ACTIONS and PROTOCOL, into *R. 0, or -1
   with *error_r (static text) when it is malformed, not allowed at that
   stage or an action that was not negotiated. PROGRESS is taken at
   every stage but OPTNEG (keep waiting for the real reply, with the
   timeout restarted). At MILTER_S_OPTNEG,
   ACTIONS and PROTOCOL are what we offered: the filter may choose
   less, never more. */
int	milter_reply_parse(const struct milter_reader *, enum milter_stage,
	    uint32_t actions, uint32_t protocol, struct milter_reply *r,
	    const char **error_r);

/* Appends a REPLYCODE reply's text as SMTP reply lines with CRLF, each
   line that has no enhanced code given the one of the first line, or
   5.7.1 / 4.7.1 ("451-4.7.1 a\r\n451 4.7.1 b\r\n"). A line of the
   filter's (up to 1000 octets, libmilter allows 980 of text) longer than
   an SMTP line goes on in more lines of at most 510 octets plus CRLF,
   broken at a blank where it can. "%%" becomes "%" and a lone "%" is
   dropped, as Postfix does (libmilter filters double '%' for Sendmail).
   0 or -1 (limit). */
int	milter_reply_smtp(const struct milter_reply *, struct buf *out);
/* The name of a stage, a command or reply octet for logs. */
const char *milter_stage_name(enum milter_stage);
const char *milter_rep_name(int cmd);

/* ---- the client (milter_client.c, milter_msg.c) ----
 *
 * A chain is the filters of one SMTP session, each over its own
 * connection, opened at the first transaction it applies to (whether it
 * applies, inbound or relay, is known at MAIL), and told then what it
 * missed: CONNECT and HELO. Every step goes through the filters in the
 * order configured, one after the other, never blocking the loop; the
 * first that refuses ends the step. A filter that fails (down, slow,
 * not speaking the protocol) gets its default action: tempfail, or
 * accept, that is left out for the rest of the session.
 */

struct config;
struct event_base;
struct spool;

/* What the filters are told about the SMTP client (CONNECT, HELO and
   the macros). */
struct milter_client_info {
	char		 name[256];	/* {client_name}: rDNS or "[addr]" */
	char		 addr[64];	/* {client_addr} */
	uint16_t	 port;
	enum milter_family family;
	char		 if_addr[64];	/* {if_addr}: our address */
	char		 daemon[32];	/* {daemon_name}: the listener role */
	char		 myhostname[256];	/* j */
	char		 helo[256];
	char		 tls_version[32], cipher[64];	/* "" no TLS */
	char		 auth_type[16], auth_authen[256];	/* "" no AUTH */
};

enum milter_verdict {
	MILTER_V_CONTINUE,	/* every filter let it pass */
	MILTER_V_REJECT,	/* 5xx: RESULT.reply */
	MILTER_V_TEMPFAIL,	/* 4xx: RESULT.reply */
	MILTER_V_DISCARD,	/* accept, deliver to nobody */
};

/* A change a filter asked for at the end of the message, in order. */
struct milter_mod {
	enum milter_rep	 cmd;		/* ADDHEADER, INSHEADER, CHGHEADER,
					   CHGFROM, ADDRCPT(_PAR), DELRCPT */
	uint32_t	 index;
	char		*name;		/* header name */
	char		*value;		/* header value, its leading space
					   and LF line ends as it is to be
					   written; "" CHGHEADER deletes */
	char		*addr, *args;	/* envelope changes; args NULL */
};

struct milter_result {
	enum milter_verdict v;
	char		 filter[33];	/* who decided ("" none) */
	/* REJECT, TEMPFAIL: the SMTP reply lines (CRLF), the filter's own
	   or the default one. */
	struct buf	 reply;
	char		 why[160];	/* for the log */
	bool		 failed;	/* a filter failed: default action */
	/* The end of the message: */
	char		 quarantine[256];	/* "" not quarantined */
	struct milter_mod *mods;
	size_t		 nmods;
	bool		 body_replaced;
	struct buf	 body;		/* the new body, LF line ends */
	bool		 body_cr;	/* a CR ended the last chunk */
};

typedef void milter_done_fn(void *arg, const struct milter_result *);

struct milter_chain;

/* The chain of session SESS_ID (for logs), NULL when no filter is
   configured. INFO is copied. */
struct milter_chain *milter_chain_new(struct event_base *,
	    const struct config *, const char *sess_id);
/* QUIT to every filter, and frees; a step running is cancelled (its
   callback never comes). */
void	milter_chain_free(struct milter_chain **);
/* Whether a filter applies to transactions of class RELAY. */
bool	milter_chain_applies(const struct milter_chain *, bool relay);
/* The steps: each calls DONE once, later (never from inside the call),
   with a result valid until the next step. */
/* MAIL of a new transaction (class RELAY, queue id QID): the filters
   that apply connect when not yet (OPTNEG, CONNECT, HELO from INFO,
   copied), then MAIL (ARGV[0] "<addr>", then ESMTP parameters). */
void	milter_chain_mail(struct milter_chain *, const struct milter_client_info *,
	    bool relay, const char *qid, const char *const *argv, size_t argc,
	    milter_done_fn *done, void *arg);
/* RCPT: a refusal is the recipient's only. */
void	milter_chain_rcpt(struct milter_chain *, const char *const *argv,
	    size_t argc, milter_done_fn *done, void *arg);
void	milter_chain_data(struct milter_chain *, milter_done_fn *done,
	    void *arg);
/* The message, PREFIX (our Received: field, LF line ends) then MSG
   (header section and body, LF line ends): headers, EOH, body, EOM. MSG
   must stay unchanged until DONE. */
void	milter_chain_eom(struct milter_chain *, const char *prefix,
	    size_t prefix_len, const struct spool *msg, milter_done_fn *done,
	    void *arg);
/* The transaction ends (RSET, refused, delivered): ABORT to the filters
   in it. */
void	milter_chain_abort(struct milter_chain *);

/* "<a@b>" or "a@b" (an address on the wire of either side) as the bare
   address, into OUT. */
void	milter_addr_bare(const char *addr, char *out, size_t outsz);

/* milter_msg.c: the message as the filters changed it. Writes PREFIX
   and MSG with R's header changes and replaced body into OUT (empty,
   spool_init()ed). 0, or -1 (errno, OUT->err). */
int	milter_rewrite(const struct milter_result *r, const char *prefix,
	    size_t prefix_len, const struct spool *msg, struct spool *out);

#endif
