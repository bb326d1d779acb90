/*
 * web_int.h - what the generators of src/web/ share (web_util.c): the
 * listeners as customers see them, escaping, numbers in words. Not for
 * outside use: web/web.h is the module's public header.
 */
#ifndef POPGATE_WEB_INT_H
#define POPGATE_WEB_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "core/config.h"
#include "web/web.h"

/* One port customers can use: the listeners of a role on a port, on any
   address, counted once. */
struct web_port {
	uint16_t		 port;
	enum listen_role	 role;
	bool			 implicit_tls;	/* submissions, pop3s, imaps */
	bool			 gate_connect;
};

struct web_ports {
	struct web_port	*v;
	size_t		 n;
};

/* Whether ROLE is a mail listener's, and then whether it is implicit
   TLS (*IMPLICIT_TLS). */
bool	web_mail_role(enum listen_role role, bool *implicit_tls);

/*
 * The mail listeners of CFG customers can reach, sorted by role (smtp,
 * submission, submissions, pop3, pop3s, imap, imaps) then port, each
 * (port, role) once. Listeners on a loopback address are left out when
 * any listener is not on one: they serve the host itself (a webmail,
 * the gate=connect port of the defaults), not customers; an instance
 * listening only on loopback (a test, a demo) shows them all. Free
 * with web_ports_free().
 */
void	web_ports_get(const struct config *cfg, struct web_ports *ps);
void	web_ports_free(struct web_ports *ps);
/* The first port of ROLE in PS, or NULL. */
const struct web_port *web_ports_first(const struct web_ports *ps,
	    enum listen_role role);
/* Whether PS has a port of ROLE. */
bool	web_ports_has(const struct web_ports *ps, enum listen_role role);

/* S as HTML/XML text or attribute value: & < > " ' as references;
   invalid UTF-8 as U+FFFD; control characters other than tab, and
   the noncharacters U+FFFE and U+FFFF, dropped (XML 1.0 forbids
   them). NULL writes nothing. */
void	web_esc(struct evbuffer *out, const char *s);
/* The same for the first N octets of S. */
void	web_esc_n(struct evbuffer *out, const char *s, size_t n);

/* SECS in words: "90 minutes", "2 hours", "1 hour and 30 minutes",
   "1 day". */
void	web_fmt_duration(char *out, size_t outsz, uint64_t secs);
/* A size in words: "10 MB", "1.5 GB", "512 KB", "100 bytes" (binary
   units, as the configuration's M and G). */
void	web_fmt_size(char *out, size_t outsz, uint64_t bytes);

/* The help page's title, escaped: help_title, else "Mail settings
   for HOSTNAME". */
void	web_esc_title(struct evbuffer *out, const struct config *);
/* The name the clients show for the account: help_company, else the
   hostname. Borrowed from CFG. */
const char *web_provider_name(const struct config *cfg);

/* EMAIL (untrusted, NULL or "" for none) checked as a mail address:
   1 and its canonical form (domain lower case) into OUT, 0 when none
   given, -1 when it is no address. */
int	web_email_check(const char *email, char out[WEB_EMAIL_MAX]);

#endif
