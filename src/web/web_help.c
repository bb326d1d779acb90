/*
 * web_help.c - the customers' help page (SPEC 12): how to read and send
 * mail here, generated from the live configuration so it is never wrong.
 *
 * One self-contained HTML5 document (inline style, no script, no
 * external resource): the server names, the settings to enter, every
 * port customers can reach (web_ports_get: exactly the configured
 * listeners) with its TLS and login, SMTP AUTH and POP-before-SMTP in
 * plain words with the relay window, and the sending limits. The
 * elements a program may want carry ids and data- attributes
 * (data-port, data-role, data-tls on each port row; data-value on each
 * limit), so tests and scrapers need not read the prose.
 */
#include <event2/buffer.h>

#include "web/web_int.h"
#include "util/compat.h"

static const char style[] =
    "body{font-family:system-ui,sans-serif;max-width:52em;margin:2em auto;"
    "padding:0 1em;line-height:1.5;color:#222}"
    "h1{margin-bottom:0}.company{margin-top:0;color:#555}"
    "table{border-collapse:collapse;margin:1em 0}"
    "th,td{border:1px solid #ccc;padding:.3em .6em;text-align:left;"
    "vertical-align:top}th{background:#f4f4f4}"
    "code,.port{font-family:ui-monospace,monospace}"
    "footer{margin-top:3em;font-size:.9em;color:#666}";

/* What a port is for, as its row says it. */
static const char *
port_service(const struct web_port *p)
{
	switch (p->role) {
	case ROLE_SMTP:
		if (p->port == 25)
			return "SMTP: mail from other servers, and sending "
			    "after checking your mail";
		return "SMTP: sending after checking your mail, if your ISP "
		    "blocks port 25";
	case ROLE_SUBMISSION:
		return "SMTP submission: sending with your password";
	case ROLE_SUBMISSIONS:
		return "SMTP submission over SSL/TLS: sending with your "
		    "password";
	case ROLE_POP3:
	case ROLE_POP3S:
		return "POP3: reading mail (downloads it)";
	case ROLE_IMAP:
	case ROLE_IMAPS:
		return "IMAP: reading mail (keeps it on the server, for "
		    "several devices)";
	default:
		return "";
	}
}

/* How one logs in on port P. */
static const char *
port_login(const struct config *cfg, const struct web_port *p)
{
	enum plaintext_auth pa = p->role == ROLE_POP3 ?
	    cfg->pop3_plaintext_auth : cfg->imap_plaintext_auth;

	switch (p->role) {
	case ROLE_SMTP:
		if (p->gate_connect)
			return "none: check your mail first (other clients "
			    "are turned away at once)";
		return "none after checking your mail first; or SMTP AUTH "
		    "after STARTTLS";
	case ROLE_SUBMISSION:
		return "SMTP AUTH after STARTTLS, required";
	case ROLE_SUBMISSIONS:
		return "SMTP AUTH, required";
	case ROLE_POP3:
	case ROLE_IMAP:
		return pa == PLAINTEXT_YES ? "address and password (use "
		    "STARTTLS)" : "address and password, after STARTTLS";
	default:
		return "address and password";
	}
}

static void
head(struct evbuffer *out, const struct config *cfg)
{
	(void)evbuffer_add_printf(out, "<!DOCTYPE html>\n<html lang=\"en\">\n"
	    "<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" "
	    "content=\"width=device-width, initial-scale=1\">\n<title>");
	web_esc_title(out, cfg);
	(void)evbuffer_add_printf(out, "</title>\n<style>%s</style>\n"
	    "</head>\n<body>\n<header>\n<h1>", style);
	web_esc_title(out, cfg);
	(void)evbuffer_add_printf(out, "</h1>\n");
	if (*cfg->help_company != '\0') {
		(void)evbuffer_add_printf(out, "<p class=\"company\">");
		web_esc(out, cfg->help_company);
		(void)evbuffer_add_printf(out, "</p>\n");
	}
	(void)evbuffer_add_printf(out, "</header>\n<main>\n");
}

static void
servers(struct evbuffer *out, const struct config *cfg)
{
	size_t i, n = 0;

	(void)evbuffer_add_printf(out, "<section id=\"servers\">\n<h2>Server"
	    "</h2>\n<p>Your mail program talks to <strong id=\"hostname\">");
	web_esc(out, cfg->hostname);
	(void)evbuffer_add_printf(out, "</strong>, for reading and for "
	    "sending.</p>\n");
	for (i = 0; i < cfg->ntls_host; i++) {
		const char *name = cfg->tls_host[i].name;

		if (name[0] == '*')	/* a wildcard names no server */
			continue;
		(void)evbuffer_add_printf(out, "%s<code class=\"server\">",
		    n++ == 0 ? "<p>It also answers, with a certificate of "
		    "that name, as " : ", ");
		web_esc(out, name);
		(void)evbuffer_add_printf(out, "</code>");
	}
	if (n > 0)
		(void)evbuffer_add_printf(out, ".</p>\n");
	(void)evbuffer_add_printf(out, "</section>\n");
}

/* "port 993, SSL/TLS" for P. */
static void
port_words(struct evbuffer *out, const struct web_port *p)
{
	(void)evbuffer_add_printf(out, "port <strong>%u</strong>, %s",
	    (unsigned)p->port, p->implicit_tls ? "SSL/TLS" : "STARTTLS");
}

static const struct web_port *
first_of(const struct web_ports *ps, const enum listen_role *roles,
    size_t n)
{
	const struct web_port *p;
	size_t i;

	for (i = 0; i < n; i++)
		if ((p = web_ports_first(ps, roles[i])) != NULL)
			return p;
	return NULL;
}

static void
settings(struct evbuffer *out, const struct config *cfg,
    const struct web_ports *ps)
{
	static const enum listen_role in[] = { ROLE_IMAPS, ROLE_IMAP,
		ROLE_POP3S, ROLE_POP3 };
	static const enum listen_role send[] = { ROLE_SUBMISSIONS,
		ROLE_SUBMISSION, ROLE_SMTP };
	const struct web_port *i = first_of(ps, in, nitems(in));
	const struct web_port *o = first_of(ps, send, nitems(send));

	(void)evbuffer_add_printf(out, "<section id=\"settings\">\n<h2>Settings "
	    "for your mail program</h2>\n<p>Most mail programs find these "
	    "themselves from your address; if yours asks:</p>\n<table>\n");
	if (i != NULL) {
		(void)evbuffer_add_printf(out, "<tr><th>Incoming mail</th><td>"
		    "%s, server <strong>", i->role == ROLE_IMAP ||
		    i->role == ROLE_IMAPS ? "IMAP" : "POP3");
		web_esc(out, cfg->hostname);
		(void)evbuffer_add_printf(out, "</strong>, ");
		port_words(out, i);
		(void)evbuffer_add_printf(out, "</td></tr>\n");
	}
	if (o != NULL) {
		(void)evbuffer_add_printf(out, "<tr><th>Outgoing mail</th><td>"
		    "SMTP, server <strong>");
		web_esc(out, cfg->hostname);
		(void)evbuffer_add_printf(out, "</strong>, ");
		port_words(out, o);
		(void)evbuffer_add_printf(out, ", %s</td></tr>\n",
		    o->role == ROLE_SMTP ? "no authentication: check your "
		    "mail before sending" : "with authentication (normal "
		    "password)");
	}
	(void)evbuffer_add_printf(out, "<tr><th>User name</th><td>your whole "
	    "e-mail address");
	if (*cfg->login_default_domain != '\0') {
		(void)evbuffer_add_printf(out, " (for addresses of <code>");
		web_esc(out, cfg->login_default_domain);
		(void)evbuffer_add_printf(out, "</code> the part before the @ "
		    "is enough)");
	}
	(void)evbuffer_add_printf(out, "</td></tr>\n<tr><th>Password</th><td>"
	    "the password of your mailbox</td></tr>\n</table>\n"
	    "</section>\n");
}

static void
ports_table(struct evbuffer *out, const struct config *cfg,
    const struct web_ports *ps)
{
	size_t i;

	(void)evbuffer_add_printf(out, "<section id=\"ports\">\n<h2>Ports</h2>\n"
	    "<p>STARTTLS: the connection starts plain and is encrypted "
	    "before anything else is said. SSL/TLS: encrypted from the "
	    "start.</p>\n<table>\n<thead><tr><th>Port</th><th>Service</th>"
	    "<th>Encryption</th><th>Login</th></tr></thead>\n<tbody>\n");
	for (i = 0; i < ps->n; i++) {
		const struct web_port *p = &ps->v[i];

		(void)evbuffer_add_printf(out, "<tr data-port=\"%u\" "
		    "data-role=\"%s\" data-tls=\"%s\"><td class=\"port\">%u"
		    "</td><td>%s</td><td>%s</td><td>%s</td></tr>\n",
		    (unsigned)p->port, config_role_name(p->role),
		    p->implicit_tls ? "implicit" : "starttls",
		    (unsigned)p->port, port_service(p),
		    p->implicit_tls ? "SSL/TLS" : "STARTTLS",
		    port_login(cfg, p));
	}
	if (ps->n == 0)
		(void)evbuffer_add_printf(out, "<tr><td colspan=\"4\">This "
		    "server has no mail port open to customers.</td></tr>\n");
	(void)evbuffer_add_printf(out, "</tbody>\n</table>\n</section>\n");
}

/* "587 (STARTTLS) or 465 (SSL/TLS)": the ports of the roles of MASK
   (bits of enum listen_role), as a list in words. */
static void
port_list(struct evbuffer *out, const struct web_ports *ps, unsigned mask,
    bool with_tls)
{
	size_t i, n = 0, total = 0;

	for (i = 0; i < ps->n; i++)
		total += (mask >> ps->v[i].role) & 1;
	for (i = 0; i < ps->n; i++) {
		const struct web_port *p = &ps->v[i];

		if (!((mask >> p->role) & 1))
			continue;
		n++;
		(void)evbuffer_add_printf(out, "%s<strong>%u</strong>%s",
		    n == 1 ? "" : n == total ? " or " : ", ",
		    (unsigned)p->port, !with_tls ? "" : p->implicit_tls ?
		    " (SSL/TLS)" : " (STARTTLS)");
	}
}

#define BIT(r)	(1U << (r))

static void
sending(struct evbuffer *out, const struct config *cfg,
    const struct web_ports *ps)
{
	unsigned sub = BIT(ROLE_SUBMISSION) | BIT(ROLE_SUBMISSIONS);
	unsigned rd = BIT(ROLE_POP3) | BIT(ROLE_POP3S) | BIT(ROLE_IMAP) |
	    BIT(ROLE_IMAPS);
	bool has_sub = web_ports_has(ps, ROLE_SUBMISSION) ||
	    web_ports_has(ps, ROLE_SUBMISSIONS);
	bool has_rd = web_ports_has(ps, ROLE_POP3) ||
	    web_ports_has(ps, ROLE_POP3S) || web_ports_has(ps, ROLE_IMAP) ||
	    web_ports_has(ps, ROLE_IMAPS);
	char window[64];

	(void)evbuffer_add_printf(out, "<section id=\"sending\">\n<h2>Sending "
	    "mail</h2>\n<h3 id=\"smtp-auth\">With your password (SMTP AUTH): "
	    "the better way</h3>\n<p>Your mail program logs in with your "
	    "address and password whenever it sends, so sending works from "
	    "anywhere, at any time. ");
	if (has_sub) {
		(void)evbuffer_add_printf(out, "Use port ");
		port_list(out, ps, sub, true);
		(void)evbuffer_add_printf(out, ".");
	} else if (web_ports_has(ps, ROLE_SMTP)) {
		(void)evbuffer_add_printf(out, "Use port ");
		port_list(out, ps, BIT(ROLE_SMTP), false);
		(void)evbuffer_add_printf(out, " with STARTTLS.");
	}
	(void)evbuffer_add_printf(out, "</p>\n");
	if (!web_ports_has(ps, ROLE_SMTP) || !has_rd) {
		(void)evbuffer_add_printf(out, "</section>\n");
		return;
	}
	web_fmt_duration(window, sizeof(window), cfg->relay_window);
	(void)evbuffer_add_printf(out, "<h3 id=\"pop-before-smtp\">Or: check "
	    "your mail first (POP-before-SMTP)</h3>\n<p>For mail programs "
	    "that cannot log in to send: check your mail first (port ");
	port_list(out, ps, rd, false);
	(void)evbuffer_add_printf(out, ") from the computer or phone you "
	    "send from; you may then send for <strong id=\"relay-window\" "
	    "data-seconds=\"%llu\">%s</strong> from its address through "
	    "port ", (unsigned long long)cfg->relay_window, window);
	port_list(out, ps, BIT(ROLE_SMTP), false);
	(void)evbuffer_add_printf(out, ", without a password. Each time you "
	    "check your mail, that time starts again. From an IPv6 address "
	    "this holds for your whole network (/%llu).</p>\n</section>\n",
	    (unsigned long long)cfg->relay_ipv6_prefix);
}

static void
limit(struct evbuffer *out, const char *id, uint64_t value,
    const char *text, const char *after)
{
	(void)evbuffer_add_printf(out, "<li id=\"%s\" data-value=\"%llu\">"
	    "%s%s</li>\n", id, (unsigned long long)value, text, after);
}

static void
limits(struct evbuffer *out, const struct config *cfg)
{
	char n[96], size[32], files[32];

	(void)evbuffer_add_printf(out, "<section id=\"limits\">\n<h2>Sending "
	    "limits</h2>\n<p>So that the server is no tool for spam, mail "
	    "you send to other providers is limited:</p>\n<ul>\n");
	(void)str_fmt(n, sizeof(n), "at most <strong>%llu</strong> recipients "
	    "per message", (unsigned long long)cfg->relay_max_recipients);
	limit(out, "limit-recipients", cfg->relay_max_recipients, n, ";");
	(void)str_fmt(n, sizeof(n), "at most <strong>%llu</strong> messages "
	    "per hour", (unsigned long long)cfg->relay_max_messages_per_hour);
	limit(out, "limit-messages-per-hour",
	    cfg->relay_max_messages_per_hour, n, ";");
	(void)str_fmt(n, sizeof(n), "at most <strong>%llu</strong> recipients "
	    "per hour", (unsigned long long)cfg->relay_max_recipients_per_hour);
	limit(out, "limit-recipients-per-hour",
	    cfg->relay_max_recipients_per_hour, n, ", all messages together;");
	web_fmt_size(size, sizeof(size), cfg->relay_max_message_size);
	/* base64 makes 3 octets 4, plus line ends: about 3/4 is left */
	web_fmt_size(files, sizeof(files), cfg->relay_max_message_size / 4 * 3);
	(void)str_fmt(n, sizeof(n), "messages of at most <strong>%s</strong>",
	    size);
	limit(out, "limit-message-size", cfg->relay_max_message_size, n, "");
	(void)evbuffer_add_printf(out, "</ul>\n<p>Attachments grow by about a "
	    "third when sent: about %s of files fit into one message. The "
	    "hourly limits hold for all mailboxes of your domains together. "
	    "You may send from %s.</p>\n", files,
	    cfg->sender_policy == SENDER_POLICY_ADDRESS ? "your own mailboxes "
	    "and aliases only" : "any address of your own domains");
	web_fmt_size(size, sizeof(size), cfg->max_message_size);
	(void)evbuffer_add_printf(out, "<p id=\"limit-inbound-size\" "
	    "data-value=\"%llu\">Mail you receive may be up to %s.</p>\n"
	    "</section>\n", (unsigned long long)cfg->max_message_size, size);
}

void
web_help_page(struct evbuffer *out, const struct config *cfg)
{
	struct web_ports ps;

	web_ports_get(cfg, &ps);
	head(out, cfg);
	servers(out, cfg);
	settings(out, cfg, &ps);
	ports_table(out, cfg, &ps);
	sending(out, cfg, &ps);
	limits(out, cfg);
	(void)evbuffer_add_printf(out, "</main>\n<footer>This page is made "
	    "from the server's configuration at the moment you load it");
	if (*cfg->help_company != '\0') {
		(void)evbuffer_add_printf(out, "; ");
		web_esc(out, cfg->help_company);
	}
	(void)evbuffer_add_printf(out, ".</footer>\n</body>\n</html>\n");
	web_ports_free(&ps);
}
