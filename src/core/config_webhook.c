/*
 * config_webhook.c - the webhooks of popgate.conf (src/hook):
 *
 *   webhook = URL [EVENT,...]
 *   webhook_secret = TEXT  |  webhook_secret_file = PATH
 *
 * "webhook" repeats, one receiver per line. URL is http://HOST[:PORT]/PATH
 * or https://...; HOST a domain name, an IPv4 address or [IPv6]. No user
 * information, no fragment, nothing below space or above '~'. EVENT is
 * one of the names below, comma separated; none listed means every one.
 * An http:// URL must name a loopback host (127.0.0.0/8, ::1, localhost)
 * unless webhook_insecure = yes (a receiver on the same host, or behind
 * a trusted network): the body and its signature would otherwise cross
 * the network in the clear. Deliveries are signed, so a webhook needs
 * exactly one of webhook_secret and webhook_secret_file (read by the
 * daemon at start and at every reload).
 */
#include <stddef.h>
#include <strings.h>
#include <sys/socket.h>

#include "core/config_int.h"
#include "core/addr.h"
#include "util/net.h"
#include "util/xalloc.h"
#include "util/compat.h"

#define USAGE	"webhook = http[s]://HOST[:PORT]/PATH [EVENT,...]"

/* In the order of enum hook_event (src/hook/hook.h). */
static const char *const event_names[] = { "customer.suspended",
	"relay.cap_reached", "message.bounced", "login.new_ip" };
_Static_assert(nitems(event_names) == 4 && WEBHOOK_ALL_EVENTS == 0xfu,
    "one bit per event");

const char *
config_webhook_event(unsigned i)
{
	return i < nitems(event_names) ? event_names[i] : NULL;
}

/* EVENTS ("a,b") into *MASK: NULL, or the name that is not an event. */
static const char *
parse_events(char *events, unsigned *mask, char *bad, size_t badsz)
{
	char *e, *p = events;
	size_t i;

	*mask = 0;
	while ((e = strsep(&p, ",")) != NULL) {
		if (*e == '\0')
			continue;
		for (i = 0; i < nitems(event_names); i++)
			if (strcmp(e, event_names[i]) == 0)
				break;
		if (i == nitems(event_names)) {
			(void)str_copy(bad, e, badsz);
			return bad;
		}
		*mask |= 1u << i;
	}
	return NULL;
}

/* The authority "HOST[:PORT]" (N octets at A) into W. NULL, or what is
   wrong. */
static const char *
parse_authority(const char *a, size_t n, struct webhook_cfg *w)
{
	char hp[300], *colon;
	struct netaddr ad;
	const char *err;
	uint64_t port;

	if (n == 0 || str_ncopy(hp, a, n, sizeof(hp)) == -1)
		return "a missing or too long host";
	if (strchr(hp, '@') != NULL)
		return "user information in the URL";
	w->port = w->https ? 443 : 80;
	if (hp[0] == '[') {
		char *end = strchr(hp, ']');

		if (end == NULL)
			return "an unclosed '['";
		*end = '\0';
		if (str_copy(w->host, hp + 1, sizeof(w->host)) == -1 ||
		    net_addr_parse(w->host, &ad) == -1 ||
		    ad.family != AF_INET6)
			return "a bad IPv6 address";
		colon = end[1] == ':' ? end + 1 : NULL;
		if (end[1] != '\0' && colon == NULL)
			return "text after ']'";
	} else {
		colon = strchr(hp, ':');
		if (colon != NULL)
			*colon = '\0';
		if (str_copy(w->host, hp, sizeof(w->host)) == -1)
			return "a too long host";
		str_lower(w->host);
		if (net_addr_parse(w->host, &ad) == -1 &&
		    addr_domain_check(w->host, strlen(w->host), 0, &err) == -1)
			return "a bad host name";
	}
	if (colon != NULL) {
		if (str_to_uint(colon + 1, 1, 65535, &port) == -1)
			return "a bad port";
		w->port = (uint16_t)port;
	}
	return NULL;
}

/* URL into W. NULL, or what is wrong. */
static const char *
parse_url(const char *url, struct webhook_cfg *w)
{
	const char *rest, *slash, *err;
	size_t i;

	if (str_copy(w->url, url, sizeof(w->url)) == -1)
		return "too long";
	for (i = 0; url[i] != '\0'; i++)
		if ((unsigned char)url[i] <= ' ' ||
		    (unsigned char)url[i] > '~')
			return "a control, blank or non-ASCII character";
	if (strncasecmp(url, "https://", 8) == 0) {
		w->https = true;
		rest = url + 8;
	} else if (strncasecmp(url, "http://", 7) == 0) {
		w->https = false;
		rest = url + 7;
	} else
		return "not http:// or https://";
	if (strchr(rest, '#') != NULL)
		return "a fragment";
	slash = rest + strcspn(rest, "/?");
	if ((err = parse_authority(rest, (size_t)(slash - rest), w)) != NULL)
		return err;
	if (*slash == '\0')
		(void)str_copy(w->path, "/", sizeof(w->path));
	else if (*slash == '?')
		(void)str_fmt(w->path, sizeof(w->path), "/%s", slash);
	else
		(void)str_copy(w->path, slash, sizeof(w->path));
	return NULL;
}

int
config_webhook_parse(struct config *c, struct pstate *ps,
    const struct param *p, const char *v)
{
	struct webhook_cfg w;
	char buf[WEBHOOK_URL_MAX + 256], bad[64], *url, *events, *extra;
	char *s = buf;
	const char *err;

	(void)p;
	if (str_copy(buf, v, sizeof(buf)) == -1) {
		config_perr(ps, "'webhook' value too long");
		return -1;
	}
	url = strsep(&s, " \t");
	while (s != NULL && (*s == ' ' || *s == '\t'))
		s++;
	events = s != NULL ? strsep(&s, " \t") : NULL;
	extra = s != NULL ? s + strspn(s, " \t") : NULL;
	if (url == NULL || *url == '\0' || (extra != NULL && *extra != '\0')) {
		config_perr(ps, "bad value for 'webhook': '%s' (expected "
		    USAGE ")", v);
		return -1;
	}
	memset(&w, 0, sizeof(w));
	if ((err = parse_url(url, &w)) != NULL) {
		config_perr(ps, "bad URL in 'webhook': '%s' (%s)", url, err);
		return -1;
	}
	w.events = WEBHOOK_ALL_EVENTS;
	if (events != NULL && *events != '\0') {
		if (parse_events(events, &w.events, bad, sizeof(bad)) !=
		    NULL) {
			config_perr(ps, "unknown event in 'webhook': '%s' "
			    "(expected customer.suspended, relay.cap_reached, "
			    "message.bounced or login.new_ip)", bad);
			return -1;
		}
		if (w.events == 0)
			w.events = WEBHOOK_ALL_EVENTS;
	}
	w.line = ps->line;
	c->webhook = xreallocarray(c->webhook, c->nwebhook + 1,
	    sizeof(*c->webhook));
	c->webhook[c->nwebhook++] = w;
	return 0;
}

void
config_webhook_release(struct config *c, const struct param *p)
{
	(void)p;
	free(c->webhook);
}

void
config_webhook_print(const struct config *c, const struct param *p, FILE *f)
{
	size_t i;
	unsigned e;

	for (i = 0; i < c->nwebhook; i++) {
		const char *sep = " ";

		fprintf(f, "%s = %s", p->name, c->webhook[i].url);
		for (e = 0; e < nitems(event_names); e++) {
			if ((c->webhook[i].events & (1u << e)) == 0)
				continue;
			fprintf(f, "%s%s", sep, event_names[e]);
			sep = ",";
		}
		fputc('\n', f);
	}
}

static char **
secret_field(struct config *c, const struct param *p)
{
	return (char **)(void *)((char *)c + p->off);
}

int
config_secret_parse(struct config *c, struct pstate *ps,
    const struct param *p, const char *v)
{
	(void)ps;
	free(*secret_field(c, p));
	*secret_field(c, p) = xstrdup(v);
	return 0;
}

void
config_secret_release(struct config *c, const struct param *p)
{
	free(*secret_field(c, p));
}

/* Like doveconf: secrets are not printed. */
void
config_secret_print(const struct config *c, const struct param *p, FILE *f)
{
	const char *v = *secret_field((struct config *)(uintptr_t)c, p);

	fprintf(f, "%s = %s\n", p->name, *v != '\0' ? "***" : "");
}

static bool
loopback_host(const char *host)
{
	struct netaddr a;

	if (strcmp(host, "localhost") == 0)
		return true;
	return net_addr_parse(host, &a) == 0 && net_addr_is_loopback(&a);
}

void
config_webhook_check(struct config *c, struct pstate *ps)
{
	bool secret = *c->webhook_secret != '\0';
	bool file = *c->webhook_secret_file != '\0';
	size_t i;

	for (i = 0; i < c->nwebhook; i++) {
		if (c->webhook[i].https || c->webhook_insecure ||
		    loopback_host(c->webhook[i].host))
			continue;
		ps->line = c->webhook[i].line;
		config_perr(ps, "'webhook %s': http:// only to a loopback "
		    "address (use https://, or set webhook_insecure = yes)",
		    c->webhook[i].url);
	}
	if (secret && file) {
		ps->line = config_seen_line(ps, "webhook_secret_file");
		config_perr(ps, "webhook_secret and webhook_secret_file are "
		    "both set: keep one");
	} else if (c->nwebhook > 0 && !secret && !file) {
		ps->line = c->webhook[0].line;
		config_perr(ps, "'webhook' needs webhook_secret or "
		    "webhook_secret_file (deliveries are signed)");
	}
}
