/*
 * cli_web.c - popgate help-page, popgate autoconfig, popgate domain dns:
 * the generators of src/web/ on the command line, from the same
 * configuration the daemon reads (and for the DNS records the store's
 * DKIM keys), so a page can be published statically and every answer
 * checked without the HTTP server.
 */
#include <event2/buffer.h>

#include <errno.h>

#include "cli/cli.h"
#include "web/web.h"
#include "util/xalloc.h"
#include "util/compat.h"

/* OUT to standard output: 0, or an exit code (run() also checks the
   flush). */
static int
put(struct cli *c, struct evbuffer *out)
{
	size_t n = evbuffer_get_length(out);
	const unsigned char *p = evbuffer_pullup(out, -1);

	if (n > 0 && fwrite(p, 1, n, stdout) != n) {
		cli_err(c, "cannot write output: %s", strerror(errno));
		return EXIT_SYSTEM;
	}
	return 0;
}

static int
cmd_help_page(struct cli *c)
{
	struct evbuffer *out;
	int r;

	if ((r = cli_load_config(c)) != 0)
		return r;
	if ((out = evbuffer_new()) == NULL)
		PANIC("evbuffer_new");
	web_help_page(out, c->cfg);
	r = put(c, out);
	evbuffer_free(out);
	return r;
}

/* A minimal autodiscover request naming EMAIL into REQ, as Outlook
   sends it. */
static void
request_for(struct evbuffer *req, const char *email)
{
	(void)evbuffer_add_printf(req, "<?xml version=\"1.0\"?>\n"
	    "<Autodiscover xmlns=\"http://schemas.microsoft.com/exchange/"
	    "autodiscover/outlook/requestschema/2006\">\n<Request>\n"
	    "<EMailAddress>");
	for (; *email != '\0'; email++) {
		if (*email == '<')
			(void)evbuffer_add(req, "&lt;", 4);
		else if (*email == '&')
			(void)evbuffer_add(req, "&amp;", 5);
		else
			(void)evbuffer_add(req, email, 1);
	}
	(void)evbuffer_add_printf(req, "</EMailAddress>\n"
	    "<AcceptableResponseSchema>http://schemas.microsoft.com/exchange/"
	    "autodiscover/outlook/responseschema/2006a"
	    "</AcceptableResponseSchema>\n</Request>\n</Autodiscover>\n");
}

/* autodiscover: the answer to the request on standard input, or when
   EMAIL is given to a request naming it. */
static int
autodiscover(struct cli *c, struct evbuffer *out, const char *email)
{
	struct evbuffer *req;
	const char *err = "";
	char buf[4096];
	size_t n, total = 0;
	int r;

	if ((req = evbuffer_new()) == NULL)
		PANIC("evbuffer_new");
	if (email != NULL) {
		request_for(req, email);
	} else {
		/* one octet more than the limit says "too large" */
		while (total <= WEB_AUTODISCOVER_MAX &&
		    (n = fread(buf, 1, sizeof(buf), stdin)) > 0) {
			(void)evbuffer_add(req, buf, n);
			total += n;
		}
	}
	r = web_autodiscover(out, c->cfg,
	    (const char *)evbuffer_pullup(req, -1), evbuffer_get_length(req),
	    &err);
	evbuffer_free(req);
	if (r == -1) {
		(void)put(c, out);
		cli_err(c, "request refused: %s", err);
		return EXIT_USER;
	}
	return put(c, out);
}

static int
cmd_autoconfig(struct cli *c)
{
	const char *fmt = c->format != NULL ? c->format : "mozilla";
	const char *email = c->npos > 0 ? c->pos[0] : NULL;
	struct evbuffer *out;
	int r;

	if (strcmp(fmt, "mozilla") != 0 && strcmp(fmt, "autodiscover") != 0 &&
	    strcmp(fmt, "apple") != 0) {
		cli_err(c, "bad --format '%s' (expected mozilla, autodiscover "
		    "or apple)", fmt);
		return EXIT_USER;
	}
	if ((r = cli_load_config(c)) != 0)
		return r;
	if ((out = evbuffer_new()) == NULL)
		PANIC("evbuffer_new");
	if (strcmp(fmt, "autodiscover") == 0) {
		r = autodiscover(c, out, email);
	} else if ((strcmp(fmt, "mozilla") == 0 ?
	    web_autoconfig_mozilla(out, c->cfg, email) :
	    web_apple_profile(out, c->cfg, email)) == -1) {
		if (strcmp(fmt, "mozilla") == 0)
			cli_err(c, "'%s' is no mail address", email);
		else if (email != NULL && *email != '\0')
			cli_err(c, "'%s' is no mail address, or no POP3 or "
			    "IMAP listener is configured", email);
		else
			cli_err(c, "no POP3 or IMAP listener is configured");
		r = EXIT_USER;
	} else {
		r = put(c, out);
	}
	evbuffer_free(out);
	return r;
}

struct keys {
	struct store_dkim_key	*v;
	size_t			 n;
};

static void
collect(const struct store_dkim_key *k, void *arg)
{
	struct keys *ks = arg;

	ks->v = xreallocarray(ks->v, ks->n + 1, sizeof(*ks->v));
	ks->v[ks->n] = *k;
	/* the records need only the public half */
	explicit_bzero(ks->v[ks->n].private_key,
	    sizeof(ks->v[ks->n].private_key));
	ks->n++;
}

int
cli_domain_dns(struct cli *c)
{
	struct keys ks = { NULL, 0 };
	struct store_domain d;
	struct evbuffer *out;
	const char *err = "";
	int r;

	if ((r = cli_open(c)) != 0)
		return r;
	r = store_domain_get(c->store, c->pos[0], &d, &err);
	if (r <= 0) {
		if (r == 0)
			cli_err(c, "no domain '%s' is hosted here", c->pos[0]);
		return r == 0 ? EXIT_USER : cli_store_result(c, -1, err);
	}
	r = store_dkim_list(c->store, d.name, false, collect, &ks, &err);
	if (r != 0) {
		free(ks.v);
		return cli_store_result(c, r, err);
	}
	if ((out = evbuffer_new()) == NULL)
		PANIC("evbuffer_new");
	web_dns_records(out, c->cfg, d.name, ks.v, ks.n);
	free(ks.v);
	r = put(c, out);
	evbuffer_free(out);
	return r;
}

static const struct cli_cmd help_cmds[] = {
	{ "", cmd_help_page, OPT_NOSTORE, 0, 0, "> FILE",
	    "the customers' help page (HTML): servers, ports, sending, "
	    "limits, from the configuration" },
};

static const struct cli_cmd autoconfig_cmds[] = {
	{ "", cmd_autoconfig, OPT_NOSTORE | OPT_FORMAT, 0, 1,
	    "[EMAIL] [--format mozilla|autodiscover|apple]",
	    "a mail client's autoconfiguration; autodiscover without EMAIL "
	    "answers the request read from standard input" },
};

int
cli_help_page(int argc, char **argv)
{
	return cli_dispatch("help-page", help_cmds, nitems(help_cmds), argc,
	    argv);
}

int
cli_autoconfig(int argc, char **argv)
{
	return cli_dispatch("autoconfig", autoconfig_cmds,
	    nitems(autoconfig_cmds), argc, argv);
}
