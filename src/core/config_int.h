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

/* A number of P's type (size, duration or count) as the file would
   write it; 0 as "0". */
void	config_fmt_number(const struct param *p, uint64_t u, char *out,
	    size_t outsz);

#endif
