/*
 * http_pages.c - the plain pages of the HTTP listeners (SPEC 12): the
 * Prometheus scrape (core/metrics.h), the customers' help page and the
 * client autoconfiguration documents (web/web.h), each made on the loop
 * from the live configuration at request time, so a reload changes the
 * next answer.
 */
#include <string.h>

#include <event2/buffer.h>

#include "core/config.h"
#include "core/metrics.h"
#include "http/http_int.h"
#include "util/log.h"
#include "util/net.h"
#include "web/web.h"
#include "util/compat.h"

/* Moves what a generator wrote into the page. */
static int
take(struct evbuffer *eb, struct buf *out)
{
	size_t n = evbuffer_get_length(eb);
	int r = 0;

	if (n > 0 && buf_append(out, evbuffer_pullup(eb, -1), n) == -1)
		r = -1;
	evbuffer_free(eb);
	return r;
}

static int
text_error(struct buf *out, const char **ctype_r, int status,
    const char *text)
{
	buf_reset(out);
	(void)buf_append_str(out, text);
	(void)buf_putc(out, '\n');
	*ctype_r = "text/plain; charset=utf-8";
	return status;
}

/* The emailaddress parameter: 1 with EMAIL, 0 absent, -1 bad. */
static int
email_param(const struct http_page_req *req, char *email, size_t sz)
{
	if (req->query == NULL)
		return 0;
	return http_query_get(req->query, "emailaddress", email, sz);
}

int
http_page_metrics(const struct config *cfg, const struct http_page_req *req,
    struct buf *out, const char **ctype_r)
{
	struct evbuffer *eb;

	/* Not for everyone: the scrape names customers and rates. */
	if (cfg->metrics_networks.n == 0 ? !net_addr_is_loopback(req->peer) :
	    !netlist_match(&cfg->metrics_networks, req->peer))
		return text_error(out, ctype_r, 403, "/metrics: this address "
		    "is not in metrics_networks");
	if ((eb = evbuffer_new()) == NULL || metrics_render(eb) == -1 ||
	    take(eb, out) == -1) {
		/* take() freed EB unless metrics_render() failed */
		return text_error(out, ctype_r, 503, "out of memory");
	}
	*ctype_r = METRICS_CONTENT_TYPE;
	return 200;
}

int
http_page_help(const struct config *cfg, const struct http_page_req *req,
    struct buf *out, const char **ctype_r)
{
	struct evbuffer *eb = evbuffer_new();

	(void)req;
	if (eb == NULL)
		return text_error(out, ctype_r, 503, "out of memory");
	web_help_page(eb, cfg);
	if (take(eb, out) == -1)
		return text_error(out, ctype_r, 503, "out of memory");
	*ctype_r = WEB_TYPE_HTML;
	return 200;
}

/* A document for the mail address of ?emailaddress= (or none): GEN's
   answer in CTYPE, or 400 saying WHY GEN refused. */
static int
email_page(const struct http_page_req *req, struct buf *out,
    const char **ctype_r, const struct config *cfg,
    int (*gen)(struct evbuffer *, const struct config *, const char *),
    const char *ctype, const char *why)
{
	char email[WEB_EMAIL_MAX];
	struct evbuffer *eb;
	int r = email_param(req, email, sizeof(email));

	if (r == -1)
		return text_error(out, ctype_r, 400, "emailaddress: not a "
		    "valid parameter");
	if ((eb = evbuffer_new()) == NULL)
		return text_error(out, ctype_r, 503, "out of memory");
	if (gen(eb, cfg, r == 1 ? email : NULL) == -1) {
		evbuffer_free(eb);
		return text_error(out, ctype_r, 400, why);
	}
	if (take(eb, out) == -1)
		return text_error(out, ctype_r, 503, "out of memory");
	*ctype_r = ctype;
	return 200;
}

int
http_page_autoconfig(const struct config *cfg,
    const struct http_page_req *req, struct buf *out, const char **ctype_r)
{
	return email_page(req, out, ctype_r, cfg, web_autoconfig_mozilla,
	    WEB_TYPE_XML, "emailaddress: not a mail address");
}

int
http_page_autodiscover(const struct config *cfg,
    const struct http_page_req *req, struct buf *out, const char **ctype_r)
{
	struct evbuffer *eb = evbuffer_new();
	const char *err = "";

	if (eb == NULL)
		return text_error(out, ctype_r, 503, "out of memory");
	/* An error is Exchange's error document, sent with 200 as
	   Exchange does (Outlook reads it). */
	if (web_autodiscover(eb, cfg, req->body != NULL ? req->body : "",
	    req->body_len, &err) == -1)
		log_info("http autodiscover refused: %s", err);
	if (take(eb, out) == -1)
		return text_error(out, ctype_r, 503, "out of memory");
	*ctype_r = WEB_TYPE_AUTODISCOVER;
	return 200;
}

int
http_page_apple(const struct config *cfg, const struct http_page_req *req,
    struct buf *out, const char **ctype_r)
{
	int status = email_page(req, out, ctype_r, cfg, web_apple_profile,
	    WEB_TYPE_MOBILECONFIG, "emailaddress: not a mail address, or no "
	    "POP3 or IMAP listener to offer");

	/* A download for the device to install, not a page to show (a
	   failure to add it is only out of memory: the profile goes). */
	if (status == 200)
		(void)http_page_header(req, "Content-Disposition",
		    "attachment; filename=\"popgate.mobileconfig\"");
	return status;
}
