/*
 * fuzz_http_api.c - the API's request parsing (src/http/): the route
 * matcher on any path and method against the real route table, the
 * query-parameter decoder, and the JSON body checker against each
 * route's fields, with the properties the server relies on: a match
 * names a route of the method asked for, its parameters are decoded,
 * NUL-free, '/'-free and within HTTP_PARAM_MAX; a 405 has an Allow; a
 * body is accepted only as an object whose members are all known,
 * typed and within length.
 *
 * Input: one octet (the method), one (which route's body), then the
 * request target up to a NUL, then the body.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "http/http_int.h"

static const unsigned methods[] = { HTTP_GET, HTTP_POST, HTTP_PATCH,
	HTTP_DELETE, HTTP_PUT, HTTP_HEAD, HTTP_OTHER };

static void
check_match(unsigned method, const char *path, size_t len)
{
	struct http_match m;
	char allow[64], v[128];
	unsigned i;
	int r;

	r = http_route_match(http_routes, http_nroutes, method, path, len,
	    &m);
	if (r == 200) {
		if (m.route == NULL || !(m.route->method == method ||
		    (method == HTTP_HEAD && m.route->method == HTTP_GET)))
			abort();
		for (i = 0; i < m.nparams; i++)
			if (m.params[i][0] == '\0' ||
			    strchr(m.params[i], '/') != NULL ||
			    strlen(m.params[i]) > HTTP_PARAM_MAX)
				abort();
	} else if (r == 405) {
		http_allow_text(m.allow, allow, sizeof(allow));
		if (m.allow == 0 || allow[0] == '\0' || (m.allow & method))
			abort();
	} else if (r != 404 && r != 400)
		abort();
	/* the query part, if any */
	(void)http_query_get(memchr(path, '?', len) != NULL ?
	    memchr(path, '?', len) : NULL, "customer", v, sizeof(v));
	(void)http_query_get(path, "limit", v, sizeof(v));
}

static void
check_body(const struct http_field *fields, const char *body, size_t len)
{
	const struct http_field *f;
	struct http_error e;
	const char *key;
	json_t *obj, *v;
	uint64_t size;

	memset(&e, 0, sizeof(e));
	if (http_json_body(body, len, fields, &obj, &e) != 0) {
		if (obj != NULL || (e.status != 400 && e.status != 422) ||
		    e.message[0] == '\0')
			abort();
		return;
	}
	if (!json_is_object(obj))
		abort();
	json_object_foreach(obj, key, v) {
		for (f = fields; f->name != NULL; f++)
			if (strcmp(f->name, key) == 0)
				break;
		if (f->name == NULL)
			abort();	/* an unknown member let through */
		if (f->type == HF_STRING && (!json_is_string(v) ||
		    json_string_length(v) > f->max))
			abort();
		if (f->type == HF_SIZE)
			(void)http_json_size(obj, key, &size, &e);
	}
	json_decref(obj);
}

static const struct http_field *const bodies[] = { http_customer_body,
	http_customer_patch_body, http_domain_body, http_mailbox_body,
	http_mailbox_patch_body };

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	const char *p = (const char *)data, *nul;
	const struct http_field *fields;
	unsigned method;
	char *path;
	size_t plen;

	if (len < 2)
		return 0;
	method = methods[data[0] % (sizeof(methods) / sizeof(methods[0]))];
	fields = bodies[data[1] % (sizeof(bodies) / sizeof(bodies[0]))];

	p += 2;
	len -= 2;
	nul = memchr(p, '\0', len);
	plen = nul != NULL ? (size_t)(nul - p) : len;
	path = malloc(plen + 1);
	if (path == NULL)
		return 0;
	memcpy(path, p, plen);
	path[plen] = '\0';
	check_match(method, path, plen);
	free(path);
	if (nul != NULL)
		check_body(fields, nul + 1, len - plen - 1);
	return 0;
}
