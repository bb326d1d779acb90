/*
 * web_autoconfig.c - client autoconfiguration from the live listeners:
 * Mozilla's config-v1.1.xml (Thunderbird, K-9/Thunderbird for Android,
 * Evolution, KMail) and an Apple configuration profile (iOS, macOS
 * Mail), unsigned.
 *
 * Both offer what the pages recommend, best first: IMAP over SSL/TLS,
 * then IMAP with STARTTLS, POP3 the same way (never a port without
 * TLS); for sending, submission with SMTP AUTH (RFC 8314: implicit TLS
 * before STARTTLS), and last, in Mozilla's format, the smtp ports with
 * "client-IP-address" authentication: POP-before-SMTP. The user name
 * is the whole address, as the logins take it.
 *
 * The e-mail parameter is untrusted: it is parsed as a mail address
 * (web_email_check) and written escaped; a bad one is refused.
 */
#include <event2/buffer.h>
#include <openssl/evp.h>

#include "web/web_int.h"
#include "util/compat.h"

/* ---- Mozilla autoconfig (wiki.mozilla.org/Thunderbird:Autoconfiguration) */

static void
moz_server(struct evbuffer *out, const struct config *cfg, const char *tag,
    const char *type, const struct web_port *p, const char *auth)
{
	(void)evbuffer_add_printf(out, "    <%s type=\"%s\">\n"
	    "      <hostname>", tag, type);
	web_esc(out, cfg->hostname);
	(void)evbuffer_add_printf(out, "</hostname>\n      <port>%u</port>\n"
	    "      <socketType>%s</socketType>\n"
	    "      <authentication>%s</authentication>\n",
	    (unsigned)p->port, p->implicit_tls ? "SSL" : "STARTTLS", auth);
	if (strcmp(auth, "client-IP-address") != 0)
		(void)evbuffer_add_printf(out,
		    "      <username>%%EMAILADDRESS%%</username>\n");
	(void)evbuffer_add_printf(out, "    </%s>\n", tag);
}

/* Every port of ROLE in PS as a server element. */
static void
moz_role(struct evbuffer *out, const struct config *cfg,
    const struct web_ports *ps, enum listen_role role, const char *tag,
    const char *type, const char *auth)
{
	size_t i;

	for (i = 0; i < ps->n; i++)
		if (ps->v[i].role == role)
			moz_server(out, cfg, tag, type, &ps->v[i], auth);
}

int
web_autoconfig_mozilla(struct evbuffer *out, const struct config *cfg,
    const char *email)
{
	char addr[WEB_EMAIL_MAX];
	const char *domain;
	struct web_ports ps;
	int r;

	if ((r = web_email_check(email, addr)) == -1)
		return -1;
	domain = r == 1 ? strrchr(addr, '@') + 1 : cfg->hostname;
	web_ports_get(cfg, &ps);
	(void)evbuffer_add_printf(out, "<?xml version=\"1.0\" "
	    "encoding=\"UTF-8\"?>\n<clientConfig version=\"1.1\">\n"
	    "  <emailProvider id=\"");
	web_esc(out, domain);
	(void)evbuffer_add_printf(out, "\">\n    <domain>");
	web_esc(out, domain);
	(void)evbuffer_add_printf(out, "</domain>\n    <displayName>");
	web_esc(out, web_provider_name(cfg));
	(void)evbuffer_add_printf(out, "</displayName>\n"
	    "    <displayShortName>");
	web_esc(out, web_provider_name(cfg));
	(void)evbuffer_add_printf(out, "</displayShortName>\n");
	moz_role(out, cfg, &ps, ROLE_IMAPS, "incomingServer", "imap",
	    "password-cleartext");
	moz_role(out, cfg, &ps, ROLE_IMAP, "incomingServer", "imap",
	    "password-cleartext");
	moz_role(out, cfg, &ps, ROLE_POP3S, "incomingServer", "pop3",
	    "password-cleartext");
	moz_role(out, cfg, &ps, ROLE_POP3, "incomingServer", "pop3",
	    "password-cleartext");
	moz_role(out, cfg, &ps, ROLE_SUBMISSIONS, "outgoingServer", "smtp",
	    "password-cleartext");
	moz_role(out, cfg, &ps, ROLE_SUBMISSION, "outgoingServer", "smtp",
	    "password-cleartext");
	moz_role(out, cfg, &ps, ROLE_SMTP, "outgoingServer", "smtp",
	    "client-IP-address");
	(void)evbuffer_add_printf(out, "  </emailProvider>\n"
	    "</clientConfig>\n");
	web_ports_free(&ps);
	return 0;
}

/* ---- Apple configuration profile (Apple's Configuration Profile
   Reference, com.apple.mail.managed) ---- */

/* A UUID (RFC 9562 layout, version 8: custom) from SHA-256 of the
   strings A, B, C: the same profile for the same account each time,
   so installing it again replaces the old one instead of adding a
   second. */
static void
stable_uuid(const char *a, const char *b, const char *c, char out[37])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	size_t i, o = 0;

	memset(md, 0, sizeof(md));
	if (ctx != NULL && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1) {
		(void)EVP_DigestUpdate(ctx, a, strlen(a) + 1);
		(void)EVP_DigestUpdate(ctx, b, strlen(b) + 1);
		(void)EVP_DigestUpdate(ctx, c, strlen(c) + 1);
		(void)EVP_DigestFinal_ex(ctx, md, &mdlen);
	}
	EVP_MD_CTX_free(ctx);
	md[6] = (unsigned char)((md[6] & 0x0f) | 0x80);
	md[8] = (unsigned char)((md[8] & 0x3f) | 0x80);
	for (i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = "0123456789ABCDEF"[md[i] >> 4];
		out[o++] = "0123456789ABCDEF"[md[i] & 15];
	}
	out[o] = '\0';
}

static void
plist_str(struct evbuffer *out, const char *key, const char *value)
{
	(void)evbuffer_add_printf(out, "\t\t\t<key>%s</key>\n\t\t\t<string>",
	    key);
	web_esc(out, value);
	(void)evbuffer_add_printf(out, "</string>\n");
}

static void
plist_int(struct evbuffer *out, const char *key, unsigned v)
{
	(void)evbuffer_add_printf(out, "\t\t\t<key>%s</key>\n\t\t\t<integer>"
	    "%u</integer>\n", key, v);
}

static void
plist_bool(struct evbuffer *out, const char *key, bool v)
{
	(void)evbuffer_add_printf(out, "\t\t\t<key>%s</key>\n\t\t\t<%s/>\n",
	    key, v ? "true" : "false");
}

/* The account: incoming I, outgoing O (NULL: none), for ADDR ("" lets
   the device ask). */
static void
apple_account(struct evbuffer *out, const struct config *cfg,
    const struct web_port *i, const struct web_port *o, const char *addr,
    const char *uuid)
{
	bool imap = i->role == ROLE_IMAP || i->role == ROLE_IMAPS;
	char ident[300];

	(void)evbuffer_add_printf(out, "\t\t<dict>\n");
	plist_str(out, "EmailAccountDescription", web_provider_name(cfg));
	plist_str(out, "EmailAccountType", imap ? "EmailTypeIMAP" :
	    "EmailTypePOP");
	if (*addr != '\0')
		plist_str(out, "EmailAddress", addr);
	plist_str(out, "IncomingMailServerAuthentication", "EmailAuthPassword");
	plist_str(out, "IncomingMailServerHostName", cfg->hostname);
	plist_int(out, "IncomingMailServerPortNumber", i->port);
	plist_bool(out, "IncomingMailServerUseSSL", true);
	if (*addr != '\0')
		plist_str(out, "IncomingMailServerUsername", addr);
	if (o != NULL) {
		bool auth = o->role != ROLE_SMTP;

		plist_str(out, "OutgoingMailServerAuthentication", auth ?
		    "EmailAuthPassword" : "EmailAuthNone");
		plist_str(out, "OutgoingMailServerHostName", cfg->hostname);
		plist_int(out, "OutgoingMailServerPortNumber", o->port);
		plist_bool(out, "OutgoingMailServerUseSSL", true);
		if (auth && *addr != '\0')
			plist_str(out, "OutgoingMailServerUsername", addr);
		plist_bool(out, "OutgoingPasswordSameAsIncomingPassword", auth);
	}
	plist_str(out, "PayloadDescription", "The mail account");
	plist_str(out, "PayloadDisplayName", web_provider_name(cfg));
	(void)str_fmt(ident, sizeof(ident), "popgate.%s.mail.account",
	    cfg->hostname);
	plist_str(out, "PayloadIdentifier", ident);
	plist_str(out, "PayloadType", "com.apple.mail.managed");
	plist_str(out, "PayloadUUID", uuid);
	plist_int(out, "PayloadVersion", 1);
	(void)evbuffer_add_printf(out, "\t\t</dict>\n");
}

int
web_apple_profile(struct evbuffer *out, const struct config *cfg,
    const char *email)
{
	static const enum listen_role in[] = { ROLE_IMAPS, ROLE_IMAP,
		ROLE_POP3S, ROLE_POP3 };
	static const enum listen_role send[] = { ROLE_SUBMISSIONS,
		ROLE_SUBMISSION, ROLE_SMTP };
	const struct web_port *i = NULL, *o = NULL;
	char addr[WEB_EMAIL_MAX] = "", uuid[37], ident[300];
	struct web_ports ps;
	size_t k;

	if (web_email_check(email, addr) == -1)
		return -1;
	web_ports_get(cfg, &ps);
	for (k = 0; k < nitems(in) && i == NULL; k++)
		i = web_ports_first(&ps, in[k]);
	for (k = 0; k < nitems(send) && o == NULL; k++)
		o = web_ports_first(&ps, send[k]);
	if (i == NULL) {
		web_ports_free(&ps);
		return -1;
	}
	(void)evbuffer_add_printf(out, "<?xml version=\"1.0\" "
	    "encoding=\"UTF-8\"?>\n<!DOCTYPE plist PUBLIC \"-//Apple//DTD "
	    "PLIST 1.0//EN\" \"http://www.apple.com/DTDs/PropertyList-1.0."
	    "dtd\">\n<plist version=\"1.0\">\n<dict>\n"
	    "\t<key>PayloadContent</key>\n\t<array>\n");
	stable_uuid(cfg->hostname, addr, "account", uuid);
	apple_account(out, cfg, i, o, addr, uuid);
	(void)evbuffer_add_printf(out, "\t</array>\n");
	/* the profile's own keys, one tab less deep than the account's */
	(void)evbuffer_add_printf(out, "\t<key>PayloadDisplayName</key>\n"
	    "\t<string>");
	web_esc_title(out, cfg);
	(void)evbuffer_add_printf(out, "</string>\n"
	    "\t<key>PayloadIdentifier</key>\n\t<string>");
	(void)str_fmt(ident, sizeof(ident), "popgate.%s.mail", cfg->hostname);
	web_esc(out, ident);
	(void)evbuffer_add_printf(out, "</string>\n"
	    "\t<key>PayloadOrganization</key>\n\t<string>");
	web_esc(out, web_provider_name(cfg));
	stable_uuid(cfg->hostname, addr, "profile", uuid);
	(void)evbuffer_add_printf(out, "</string>\n"
	    "\t<key>PayloadRemovalDisallowed</key>\n\t<false/>\n"
	    "\t<key>PayloadType</key>\n\t<string>Configuration</string>\n"
	    "\t<key>PayloadUUID</key>\n\t<string>%s</string>\n"
	    "\t<key>PayloadVersion</key>\n\t<integer>1</integer>\n"
	    "</dict>\n</plist>\n", uuid);
	web_ports_free(&ps);
	return 0;
}
