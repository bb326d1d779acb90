/*
 * web_util.c - what the generators of src/web/ share: the listeners as
 * customers see them, HTML/XML escaping that always yields well-formed
 * UTF-8, durations and sizes in words, the checked e-mail parameter.
 */
#include <event2/buffer.h>

#include <stdlib.h>

#include "web/web_int.h"
#include "core/addr.h"
#include "util/net.h"
#include "util/xalloc.h"
#include "util/compat.h"

_Static_assert(WEB_EMAIL_MAX == ADDR_BUFSZ, "web.h's address size");

/* Whether ROLE is one of the mail services the pages describe (the
   HTTP roles of the control plane are not). */
bool
web_mail_role(enum listen_role role, bool *implicit_tls)
{
	switch (role) {
	case ROLE_SMTP:
	case ROLE_SUBMISSION:
	case ROLE_POP3:
	case ROLE_IMAP:
		*implicit_tls = false;
		return true;
	case ROLE_SUBMISSIONS:
	case ROLE_POP3S:
	case ROLE_IMAPS:
		*implicit_tls = true;
		return true;
	default:
		return false;
	}
}

static bool
host_is_loopback(const char *host)
{
	struct netaddr a;

	return net_addr_parse(host, &a) == 0 && net_addr_is_loopback(&a);
}

static int
port_cmp(const void *x, const void *y)
{
	const struct web_port *a = x, *b = y;

	if (a->role != b->role)
		return a->role < b->role ? -1 : 1;
	return a->port < b->port ? -1 : a->port > b->port;
}

void
web_ports_get(const struct config *cfg, struct web_ports *ps)
{
	bool all_loopback = true, tls;
	size_t i, j;

	ps->v = xcalloc(cfg->nlisten + 1, sizeof(*ps->v));
	ps->n = 0;
	for (i = 0; i < cfg->nlisten; i++)
		if (web_mail_role(cfg->listen[i].role, &tls) &&
		    !host_is_loopback(cfg->listen[i].host))
			all_loopback = false;
	for (i = 0; i < cfg->nlisten; i++) {
		const struct listen_cfg *l = &cfg->listen[i];

		if (!web_mail_role(l->role, &tls) ||
		    (!all_loopback && host_is_loopback(l->host)))
			continue;
		for (j = 0; j < ps->n; j++)
			if (ps->v[j].port == l->port && ps->v[j].role == l->role)
				break;
		if (j < ps->n) {
			/* gate=connect on one address of two: say so */
			ps->v[j].gate_connect |= l->gate_connect;
			continue;
		}
		ps->v[ps->n].port = l->port;
		ps->v[ps->n].role = l->role;
		ps->v[ps->n].implicit_tls = tls;
		ps->v[ps->n].gate_connect = l->gate_connect;
		ps->n++;
	}
	qsort(ps->v, ps->n, sizeof(*ps->v), port_cmp);
}

void
web_ports_free(struct web_ports *ps)
{
	free(ps->v);
	ps->v = NULL;
	ps->n = 0;
}

const struct web_port *
web_ports_first(const struct web_ports *ps, enum listen_role role)
{
	size_t i;

	for (i = 0; i < ps->n; i++)
		if (ps->v[i].role == role)
			return &ps->v[i];
	return NULL;
}

bool
web_ports_has(const struct web_ports *ps, enum listen_role role)
{
	return web_ports_first(ps, role) != NULL;
}

/* The length of the UTF-8 sequence at S (N octets left) and its code
   point into *CP, or 0 when it is not a valid one (RFC 3629: shortest
   form, no surrogates, at most U+10FFFF). */
static size_t
utf8_seq(const unsigned char *s, size_t n, uint32_t *cp)
{
	size_t len, i;
	uint32_t c, min;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if ((s[0] & 0xe0) == 0xc0) {
		len = 2, c = s[0] & 0x1f, min = 0x80;
	} else if ((s[0] & 0xf0) == 0xe0) {
		len = 3, c = s[0] & 0x0f, min = 0x800;
	} else if ((s[0] & 0xf8) == 0xf0) {
		len = 4, c = s[0] & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}

void
web_esc_n(struct evbuffer *out, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, len;
	uint32_t cp;

	while (i < n) {
		len = utf8_seq(p + i, n - i, &cp);
		if (len == 0) {
			(void)evbuffer_add(out, "\xef\xbf\xbd", 3);	/* U+FFFD */
			i++;
			continue;
		}
		switch (cp) {
		case '&':
			(void)evbuffer_add(out, "&amp;", 5);
			break;
		case '<':
			(void)evbuffer_add(out, "&lt;", 4);
			break;
		case '>':
			(void)evbuffer_add(out, "&gt;", 4);
			break;
		case '"':
			(void)evbuffer_add(out, "&quot;", 6);
			break;
		case '\'':
			(void)evbuffer_add(out, "&#39;", 5);
			break;
		default:
			/* XML 1.0 Char: no C0 control but tab, LF, CR (a
			   config value holds neither), no DEL, C1 or the
			   two noncharacters. */
			if ((cp < 0x20 && cp != '\t') ||
			    (cp >= 0x7f && cp < 0xa0) || cp == 0xfffe ||
			    cp == 0xffff)
				break;
			(void)evbuffer_add(out, p + i, len);
		}
		i += len;
	}
}

void
web_esc(struct evbuffer *out, const char *s)
{
	if (s != NULL)
		web_esc_n(out, s, strlen(s));
}

/* Appends "N UNIT(s)" to OUT (at *POS), with SEP before it. */
static void
add_unit(char *out, size_t outsz, size_t *pos, const char *sep,
    uint64_t n, const char *unit)
{
	int w;

	if (*pos >= outsz)
		return;
	w = snprintf(out + *pos, outsz - *pos, "%s%llu %s%s", sep,
	    (unsigned long long)n, unit, n == 1 ? "" : "s");
	if (w > 0)
		*pos += (size_t)w;
}

void
web_fmt_duration(char *out, size_t outsz, uint64_t secs)
{
	static const struct {
		uint64_t	 secs;
		const char	*name;
	} units[] = { { 86400, "day" }, { 3600, "hour" }, { 60, "minute" },
		{ 1, "second" } };
	uint64_t part[nitems(units)];
	size_t i, pos = 0, nparts = 0, done = 0;

	if (outsz == 0)
		return;
	out[0] = '\0';
	for (i = 0; i < nitems(units); i++) {
		part[i] = secs / units[i].secs;
		secs %= units[i].secs;
		nparts += part[i] != 0;
	}
	if (nparts == 0) {
		(void)str_copy(out, "0 seconds", outsz);
		return;
	}
	/* As the file says it ("90m": 90 minutes, not 1 hour and 30
	   minutes): the largest unit that divides it, seconds aside. */
	for (i = 0; i + 1 < nitems(units); i++) {
		uint64_t all = part[0] * 86400 + part[1] * 3600 +
		    part[2] * 60 + part[3];

		if (all % units[i].secs == 0) {
			add_unit(out, outsz, &pos, "", all / units[i].secs,
			    units[i].name);
			return;
		}
	}
	for (i = 0; i < nitems(units); i++) {
		if (part[i] == 0)
			continue;
		done++;
		add_unit(out, outsz, &pos, done == 1 ? "" : done == nparts ?
		    " and " : ", ", part[i], units[i].name);
	}
}

void
web_fmt_size(char *out, size_t outsz, uint64_t bytes)
{
	static const struct {
		uint64_t	 size;
		const char	*name;
	} units[] = { { 1ULL << 30, "GB" }, { 1ULL << 20, "MB" },
		{ 1ULL << 10, "KB" } };
	size_t i;

	for (i = 0; i < nitems(units); i++) {
		if (bytes < units[i].size)
			continue;
		if (bytes % units[i].size == 0)
			(void)str_fmt(out, outsz, "%llu %s",
			    (unsigned long long)(bytes / units[i].size),
			    units[i].name);
		else
			(void)str_fmt(out, outsz, "%.1f %s",
			    (double)bytes / (double)units[i].size,
			    units[i].name);
		return;
	}
	(void)str_fmt(out, outsz, "%llu byte%s", (unsigned long long)bytes,
	    bytes == 1 ? "" : "s");
}

void
web_esc_title(struct evbuffer *out, const struct config *cfg)
{
	if (cfg->help_title != NULL && *cfg->help_title != '\0') {
		web_esc(out, cfg->help_title);
		return;
	}
	(void)evbuffer_add_printf(out, "Mail settings for ");
	web_esc(out, cfg->hostname);
}

const char *
web_provider_name(const struct config *cfg)
{
	if (cfg->help_company != NULL && *cfg->help_company != '\0')
		return cfg->help_company;
	return cfg->hostname;
}

int
web_email_check(const char *email, char out[WEB_EMAIL_MAX])
{
	struct mailaddr a;
	const char *err;

	if (email == NULL || *email == '\0')
		return 0;
	if (addr_parse(email, strlen(email), ADDR_F_UTF8, &a, &err) == -1 ||
	    a.literal)
		return -1;
	str_lower(a.domain);
	addr_format(&a, out, WEB_EMAIL_MAX);
	return 1;
}
