/*
 * config_int.h - what config.c and config_types.c share. Not for outside
 * use: core/config.h is the configuration's only public header.
 *
 * config.c owns params[] (one row per key) and reads the file line by
 * line; config_types.c owns config_types[] (one row per value type:
 * parse, release, print) and the value syntaxes behind them.
 */
#ifndef POPGATE_CONFIG_INT_H
#define POPGATE_CONFIG_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "core/config.h"
#include "util/compat.h"
#include "util/str.h"

enum ptype {
	P_STRING,	/* free text, may be empty */
	P_PATH,		/* absolute path, or empty for "derived" */
	P_HOSTNAME,	/* a domain name, or empty for "this host" */
	P_USER,		/* a user name, or empty */
	P_SIZE,
	P_DURATION,
	P_UINT,
	P_BOOL,
	P_ENUM,
	P_NETLIST,	/* prefixes, comma or space separated */
	P_LISTEN,	/* repeats */
	P_TRANSPORT,	/* repeats; "transport DOMAIN = HOST:PORT" */
	P_RELAYHOST,	/* "", "host", "host:port", "[host]:port" */
	P_DNS,		/* "", addresses with optional ports */
	P_STORE,	/* "sqlite", "sqlite:PATH", "postgresql://..." */
	P_RELAY_STORE,	/* "local", "redis://host:port/db" */
	P_ADDRESS,	/* a mail address, or empty */
	P_MILTER,	/* repeats; "milter = NAME ADDRESS" */
	P_MILTER_APPLY,	/* "milter_apply NAME = inbound|relay|all" */
	P_TLS_HOST,	/* repeats; "tls_host = NAME CERT KEY" */
	P_DNSBL,	/* repeats; "dnsbl = ZONE [WEIGHT]" */
	P_TLS_POLICY,	/* repeats; "tls_policy DOMAIN = LEVEL" */
	P_WEBHOOK,	/* repeats; "webhook = URL [EVENT,...]" */
	P_SECRET,	/* free text, printed as "***" */
	P_NTYPES
};

struct param {
	const char		*name;
	enum ptype		 type;
	size_t			 off;
	const char		*def;
	uint64_t		 min, max;
	const char *const	*names;	/* P_ENUM */
};

/* Parse state: where we are and what went wrong. */
struct pstate {
	const char	*file;
	unsigned	 line;
	struct strlist	*errors;
	unsigned	*seen;		/* per params[]: first setting's line */
	unsigned	 listen_line[64];	/* of the first listen lines */
};

/*
 * The operations of a value type. parse checks V and stores it in P's
 * field of C, or reports with config_perr and returns -1; release frees
 * what parse allocated; print writes the value as the file would.
 */
struct ptype_ops {
	int	(*parse)(struct config *, struct pstate *,
		    const struct param *, const char *);
	void	(*release)(struct config *, const struct param *);
	void	(*print)(const struct config *, const struct param *,
		    FILE *);
};

/* Indexed by enum ptype, one entry for each (config_types.c). */
extern const struct ptype_ops config_types[];

/* Adds the error "FILE:LINE: " FMT (just "FILE: " at line 0) to
   PS's error list. */
void	config_perr(struct pstate *ps, const char *fmt, ...)
	    PRINTFLIKE(2, 3);

/* One "listen" value, "HOST:PORT ROLE [gate=connect|rcpt]", appended to
   C's listeners. 0, or -1 after config_perr. */
int	config_parse_listen(struct config *c, struct pstate *ps,
	    const char *v);

/* "transport DOMAIN = HOST:PORT": DOMAIN is the key's argument (NULL or
   empty is an error). 0, or -1 after config_perr. */
int	config_parse_transport(struct config *c, struct pstate *ps,
	    const char *domain, const char *v);

/* "milter = NAME ADDRESS", appended to C's filters. 0, or -1 after
   config_perr. */
int	config_parse_milter(struct config *c, struct pstate *ps,
	    const char *v);
/* Whether key P takes a filter name ("milter_apply NAME", the
   milter_*_timeout and milter_default_action keys). */
bool	config_milter_keyed(const struct param *p);
/* "KEY NAME = VALUE" for a filter declared before. 0, or -1 after
   config_perr. */
int	config_parse_milter_keyed(struct config *c, struct pstate *ps,
	    const struct param *p, const char *name, const char *v);
/* The filters' values not set per filter, from the global keys. */
void	config_milter_derive(struct config *c);
/* The operations of P_MILTER and P_MILTER_APPLY (config_milter.c), in
   config_types[]: "milter" is parsed as a value, every other one with
   its name through config_parse_milter_keyed; the filters are freed and
   printed (with their settings) by P_MILTER's row. */
int	config_milter_parse(struct config *, struct pstate *,
	    const struct param *, const char *);
int	config_milter_apply_parse(struct config *, struct pstate *,
	    const struct param *, const char *);
void	config_milter_release(struct config *, const struct param *);
void	config_milter_print(const struct config *, const struct param *,
	    FILE *);

/* The operations of P_TLS_HOST (config_tls.c), in config_types[]:
   "tls_host = NAME CERT KEY" appended to C's tls_host after its checks
   (a host name or a wildcard *.DOMAIN, absolute paths, each name once,
   any case); freed and printed in the file's order. */
int	config_tls_host_parse(struct config *, struct pstate *,
	    const struct param *, const char *);
void	config_tls_host_release(struct config *, const struct param *);
void	config_tls_host_print(const struct config *, const struct param *,
	    FILE *);

/* The operations of P_DNSBL (config_dnsbl.c), in config_types[]:
   "dnsbl = ZONE [WEIGHT]" appended to C's dnsbl (a domain name, each
   once, any case; a weight from 1 to 100, default 1); freed and printed
   in the file's order. */
int	config_dnsbl_parse(struct config *, struct pstate *,
	    const struct param *, const char *);
void	config_dnsbl_release(struct config *, const struct param *);
void	config_dnsbl_print(const struct config *, const struct param *,
	    FILE *);

/* The operations of P_TLS_POLICY (config_tlspol.c): parse_line calls
   config_parse_tls_policy with the key's argument ("tls_policy DOMAIN =
   LEVEL"; a domain or ".parent", each once, any case); freed and
   printed in the file's order. */
int	config_parse_tls_policy(struct config *, struct pstate *,
	    const char *domain, const char *v);
int	config_tls_policy_value(struct config *, struct pstate *,
	    const struct param *, const char *);
void	config_tls_policy_release(struct config *, const struct param *);
void	config_tls_policy_print(const struct config *, const struct param *,
	    FILE *);

/* The operations of P_WEBHOOK and P_SECRET (config_webhook.c), in
   config_types[]; config_webhook_check() holds the webhooks to
   webhook_insecure and the secret keys, after the file was read. */
int	config_webhook_parse(struct config *, struct pstate *,
	    const struct param *, const char *);
void	config_webhook_release(struct config *, const struct param *);
void	config_webhook_print(const struct config *, const struct param *,
	    FILE *);
int	config_secret_parse(struct config *, struct pstate *,
	    const struct param *, const char *);
void	config_secret_release(struct config *, const struct param *);
void	config_secret_print(const struct config *, const struct param *,
	    FILE *);
void	config_webhook_check(struct config *, struct pstate *);
/* Where key NAME was first set (0: not set). */
unsigned config_seen_line(const struct pstate *, const char *name);

/* A number of P's type (size, duration or count) as the file would
   write it; 0 as "0". */
void	config_fmt_number(const struct param *p, uint64_t u, char *out,
	    size_t outsz);

#endif
