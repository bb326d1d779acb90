/*
 * mauth_int.h - what the files of src/mauth/ share.
 */
#ifndef POPGATE_MAUTH_INT_H
#define POPGATE_MAUTH_INT_H

#include <openssl/evp.h>

#include "core/dkim.h"
#include "mauth/mauth.h"

#define MAUTH_BODIES_MAX	(MAUTH_DKIM_MAX + 1)	/* + the last AMS */
#define MAUTH_SIGS_MAX		(MAUTH_DKIM_MAX + 1 + MAUTH_ARC_MAX)

/* A signature's parts beside what mauth.h shows. */
struct sig_state {
	size_t		 field;		/* its field in the message */
	size_t		 body;		/* its body hash (DKIM, AMS) */
	bool		 relaxed_hdr, relaxed_body;	/* c= */
	uint64_t	 limit;		/* l=, UINT64_MAX none */
	int64_t		 t, x;		/* t=, x=; -1 none */
	char		 auid[256];	/* i= (DKIM) */
	struct buf	 hlist;		/* h=, compact */
	struct buf	 b;		/* b=, decoded */
	unsigned char	 bh[DKIM_HASH_LEN];	/* bh=, decoded */
	bool		 cv_none;	/* AS: cv=none */
	bool		 cv_fail;	/* AS: cv=fail */
};

struct body_hash {
	bool		 relaxed;
	uint64_t	 limit;
	struct dkim_body *b;
	unsigned char	 md[DKIM_HASH_LEN];
	uint64_t	 len;		/* canonical, all of it */
};

/* One instance of the ARC chain: its three fields. */
struct arc_set {
	size_t		 aar, ams, as;	/* field indexes, SIZE_MAX none */
};

struct mauth_msg {
	char		 authserv[256];
	struct buf	 hdr;		/* the header section, LF or CRLF */
	bool		 in_body, line_start, hdr_cr, hdr_big;
	uint64_t	 off;		/* octets fed */
	struct dkim_field *f;
	size_t		 nf;
	size_t		 nsigs;
	struct mauth_sig sigs[MAUTH_SIGS_MAX];
	struct sig_state st[MAUTH_SIGS_MAX];
	size_t		 nbodies;
	struct body_hash bodies[MAUTH_BODIES_MAX];
	/* ARC: the sets found, and what is wrong with them ("" none) */
	unsigned	 narc;
	struct arc_set	 arc[MAUTH_ARC_MAX + 1];	/* [1..narc] */
	char		 arc_error[MAUTH_ERROR_MAX];
	bool		 arc_seen;	/* any ARC field */
	size_t		 arc_first;	/* its AMS and ASs in sigs[] */
	size_t		 nforged;
	struct mauth_range *forged;
	bool		 ended;
};

/* Whether D is PARENT or a name below it (case-insensitive). */
bool	mauth_domain_within(const char *d, const char *parent);

/* mauth_sig.c: parsing a signature field into sigs[i] and st[i]. */
int	mauth_sig_parse(struct mauth_msg *, size_t field,
	    enum mauth_sig_kind, struct mauth_sig *, struct sig_state *);
/* mauth_arc.c: finds the ARC sets after the header section ended. */
void	mauth_arc_scan(struct mauth_msg *);
/* The canonical form of field F of M (relaxed or simple), CRLF. */
void	mauth_canon_field(const struct dkim_field *, bool relaxed,
	    struct buf *out);
/* Field F without the value of its b= tag (at VOFF, VLEN into the
   value that starts after the colon), canonicalized, no CRLF. */
int	mauth_canon_self(const struct dkim_field *, bool relaxed,
	    struct buf *out);

#endif
