/*
 * fuzz_autodiscover.c - the Outlook autodiscover request parser (expat
 * underneath) and the answer built from it: whatever the body, the
 * parser either refuses with a reason or gives a valid address, and the
 * answer (settings or error) is well-formed XML, checked by parsing it
 * again.
 */
#include <event2/buffer.h>
#include <expat.h>

#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "core/config.h"
#include "web/web.h"

static struct config *cfg;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct strlist errs;

	(void)argc;
	(void)argv;
	strlist_init(&errs);
	cfg = config_parse("fuzz.conf", "hostname = mail.example.net\n"
	    "help_company = A & B <Mail>\n"
	    "listen = 0.0.0.0:25 smtp\nlisten = 0.0.0.0:587 submission\n"
	    "listen = 0.0.0.0:465 submissions\nlisten = 0.0.0.0:110 pop3\n"
	    "listen = 0.0.0.0:993 imaps\n", &errs);
	if (cfg == NULL)
		abort();
	strlist_free(&errs);
	return 0;
}

/* Whether OUT's text is well-formed XML. */
static int
well_formed(struct evbuffer *out)
{
	XML_Parser p = XML_ParserCreate(NULL);
	size_t n = evbuffer_get_length(out);
	int ok;

	if (p == NULL)
		abort();
	ok = XML_Parse(p, (const char *)evbuffer_pullup(out, -1), (int)n,
	    XML_TRUE) == XML_STATUS_OK;
	XML_ParserFree(p);
	return ok;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	char email[WEB_EMAIL_MAX];
	const char *err = NULL;
	struct evbuffer *out;
	int schema_ok = 0, r;

	if (cfg == NULL)
		(void)LLVMFuzzerInitialize(NULL, NULL);
	r = web_autodiscover_parse((const char *)data, len, email, &schema_ok,
	    &err);
	if (r == 0 && (email[0] == '\0' || strchr(email, '@') == NULL ||
	    strlen(email) >= WEB_EMAIL_MAX))
		abort();
	if (r == -1 && err == NULL)
		abort();	/* a refusal always says why */
	if ((out = evbuffer_new()) == NULL)
		abort();
	err = NULL;
	r = web_autodiscover(out, cfg, (const char *)data, len, &err);
	if ((r == -1 && err == NULL) || evbuffer_get_length(out) == 0 ||
	    !well_formed(out))
		abort();
	evbuffer_free(out);
	return 0;
}
