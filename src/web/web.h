/*
 * web.h - what popgate tells customers and their mail programs, generated
 * from the live configuration (SPEC 12): the help page, the three client
 * autoconfiguration formats, and the DNS records of a hosted domain.
 *
 * Every generator appends to a libevent evbuffer and reads only the
 * configuration it is given (and, for the DNS records, the DKIM keys the
 * caller read from the store), so an HTTP handler on the daemon's loop
 * calls it at request time with the configuration of the moment: a
 * reload changes the next answer. None of them blocks, allocates beyond
 * its output, or keeps state between calls. On -1 OUT may hold a partial
 * or an error answer, as each says.
 *
 * Text from the configuration or the request is escaped for HTML/XML
 * (and invalid UTF-8 or control characters replaced), so the output is
 * always well-formed whatever help_title says.
 */
#ifndef POPGATE_WEB_H
#define POPGATE_WEB_H

#include <stddef.h>

struct evbuffer;
struct config;
struct store_dkim_key;

/* Content types of the answers. */
#define WEB_TYPE_HTML		"text/html; charset=utf-8"
#define WEB_TYPE_XML		"application/xml; charset=utf-8"
#define WEB_TYPE_AUTODISCOVER	"text/xml; charset=utf-8"
#define WEB_TYPE_MOBILECONFIG	"application/x-apple-aspen-config"

/* The largest autodiscover request body read; a bigger one is refused
   (the HTTP layer may refuse it sooner, with 413). */
#define WEB_AUTODISCOVER_MAX	(16 * 1024)

/*
 * GET /help: the customers' help page (WEB_TYPE_HTML), self-contained
 * (no external resource): the server names, every listener customers
 * can reach with its TLS and login, POP-before-SMTP and SMTP AUTH, the
 * sending limits. Always succeeds.
 */
void	web_help_page(struct evbuffer *out, const struct config *);

/*
 * GET /.well-known/autoconfig/mail/config-v1.1.xml and
 * GET /mail/config-v1.1.xml?emailaddress=EMAIL: Mozilla's autoconfig
 * (WEB_TYPE_XML). EMAIL is the query parameter, untrusted, NULL or ""
 * when absent (the provider is then the hostname). 0, or -1 when EMAIL
 * is no mail address: nothing is written, answer 400.
 */
int	web_autoconfig_mozilla(struct evbuffer *out, const struct config *,
	    const char *email);

/*
 * POST /autodiscover/autodiscover.xml (also /Autodiscover/...): BODY is
 * the request (LEN octets, untrusted), Outlook's POX request naming
 * EMailAddress. 0: OUT holds the settings (WEB_TYPE_AUTODISCOVER).
 * -1: OUT holds an autodiscover error response (ErrorCode 600 "Invalid
 * Request" for a malformed body or address, 601 for a response schema
 * other than Outlook's), *ERROR_R says why for the log; Exchange sends
 * it with status 200, which Outlook reads.
 */
int	web_autodiscover(struct evbuffer *out, const struct config *,
	    const char *body, size_t len, const char **error_r);

/* The request parser alone (fuzz/fuzz_autodiscover.c): the address of
   BODY into EMAIL, canonical (domain lower case), and whether the
   request accepts Outlook's response schema into *SCHEMA_OK. 0, or -1
   with *ERROR_R (static text) saying what is wrong. A DOCTYPE (and so
   every entity declaration) is refused. */
#define WEB_EMAIL_MAX	321	/* core/addr.h ADDR_BUFSZ */
int	web_autodiscover_parse(const char *body, size_t len,
	    char email[WEB_EMAIL_MAX], int *schema_ok, const char **error_r);

/*
 * GET /apple/popgate.mobileconfig?emailaddress=EMAIL (the route is the
 * HTTP layer's choice): an unsigned Apple configuration profile
 * (WEB_TYPE_MOBILECONFIG; send it with Content-Disposition: attachment;
 * filename="popgate.mobileconfig", as src/http/http_pages.c does). EMAIL as for Mozilla: without it
 * the device asks for the address. 0, or -1 when EMAIL is no mail
 * address (nothing written: 400) or the configuration has no POP3 or
 * IMAP listener (404).
 */
int	web_apple_profile(struct evbuffer *out, const struct config *,
	    const char *email);

/*
 * The DNS records a hosted DOMAIN (lower case, checked by the caller)
 * should publish, as zone file lines, one record a line, absolute names:
 * MX, SPF, DKIM (KEYS: the domain's keys, as store_dkim_list gives them,
 * read by the caller: the store may block), DMARC, the SRV records of
 * RFC 6186 and RFC 8314 ("." and port 0 for a service not offered), the
 * autoconfig/autodiscover names and Outlook's _autodiscover._tcp SRV
 * (the https listener's port). Comments start with ';'.
 */
void	web_dns_records(struct evbuffer *out, const struct config *,
	    const char *domain, const struct store_dkim_key *keys,
	    size_t nkeys);
/* One DKIM key's TXT record, the line `domain dkim show` prints. */
void	web_dns_dkim(struct evbuffer *out, const struct store_dkim_key *);

#endif
