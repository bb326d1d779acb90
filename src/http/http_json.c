/*
 * http_json.c - the JSON bodies of the API (RFC 8259, parsed by jansson)
 * checked against the route's fields: an object, no member unknown,
 * each of its type and length, the required ones present. Anything else
 * is the client's mistake, said precisely: 400 for what is not JSON,
 * 422 naming the member and the problem. And the query parameters.
 * Pure functions: fuzz/fuzz_http_api.c drives them alone.
 */
#include <stdarg.h>
#include <string.h>

#include "http/http_int.h"
#include "util/str.h"
#include "util/compat.h"

static void PRINTFLIKE(4, 5)
fail(struct http_error *e, int status, const char *field, const char *fmt,
    ...)
{
	va_list ap;

	e->status = status;
	(void)str_copy(e->field, field != NULL ? field : "", sizeof(e->field));
	va_start(ap, fmt);
	(void)vsnprintf(e->message, sizeof(e->message), fmt, ap);
	va_end(ap);
}

static const struct http_field *
field_of(const struct http_field *fields, const char *name)
{
	for (; fields->name != NULL; fields++)
		if (strcmp(fields->name, name) == 0)
			return fields;
	return NULL;
}

static const char *
type_name(enum http_ftype t)
{
	switch (t) {
	case HF_STRING:
		return "a string";
	case HF_BOOL:
		return "true or false";
	case HF_SIZE:
		return "a number of bytes or a size like \"500M\"";
	}
	return "?";
}

static bool
type_ok(const struct http_field *f, json_t *v)
{
	switch (f->type) {
	case HF_STRING:
		return json_is_string(v);
	case HF_BOOL:
		return json_is_boolean(v);
	case HF_SIZE:
		return json_is_integer(v) || json_is_string(v);
	}
	return false;
}

/* Each member of OBJ known and well typed: 0, or 422 in E. */
static int
check_members(json_t *obj, const struct http_field *fields,
    struct http_error *e)
{
	const struct http_field *f;
	const char *key;
	json_t *v;

	json_object_foreach(obj, key, v) {
		f = field_of(fields, key);
		if (f == NULL) {
			fail(e, 422, key, "unknown field '%.64s'", key);
			return 422;
		}
		if (!type_ok(f, v)) {
			fail(e, 422, f->name, "'%s' must be %s", f->name,
			    type_name(f->type));
			return 422;
		}
		if (f->type == HF_STRING &&
		    (json_string_length(v) == 0 ||
		    json_string_length(v) > f->max ||
		    strlen(json_string_value(v)) != json_string_length(v))) {
			fail(e, 422, f->name, "'%s' must be 1 to %zu "
			    "characters, without NUL", f->name, f->max);
			return 422;
		}
	}
	for (f = fields; f->name != NULL; f++)
		if (f->required && json_object_get(obj, f->name) == NULL) {
			fail(e, 422, f->name, "'%s' is required", f->name);
			return 422;
		}
	return 0;
}

int
http_json_body(const char *body, size_t len, const struct http_field *fields,
    json_t **out, struct http_error *e)
{
	json_error_t je;
	json_t *obj;
	int r;

	*out = NULL;
	obj = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
	if (obj == NULL) {
		fail(e, 400, NULL, "malformed JSON at line %d column %d: %s",
		    je.line, je.column, je.text);
		return 400;
	}
	if (!json_is_object(obj)) {
		json_decref(obj);
		fail(e, 400, NULL, "the body must be a JSON object");
		return 400;
	}
	if ((r = check_members(obj, fields, e)) != 0) {
		json_decref(obj);
		return r;
	}
	*out = obj;
	return 0;
}

int
http_json_size(json_t *obj, const char *name, uint64_t *v,
    struct http_error *e)
{
	json_t *j = json_object_get(obj, name);
	json_int_t i;

	if (j == NULL)
		return 0;
	if (json_is_integer(j)) {
		i = json_integer_value(j);
		if (i >= 0) {
			*v = (uint64_t)i;
			return 1;
		}
	} else if (json_is_string(j)) {
		if (strcmp(json_string_value(j), "unlimited") == 0) {
			*v = 0;
			return 1;
		}
		if (str_parse_size(json_string_value(j), v) == 0)
			return 1;
	}
	fail(e, 422, name, "'%s' must be a number of bytes (0: unlimited) or "
	    "a size like \"500M\" or \"2G\"", name);
	return -1;
}

/* The form-encoded value S (N octets) into OUT: 0 or -1. */
static int
form_decode(const char *s, size_t n, char *out, size_t outsz)
{
	size_t i, o = 0;
	int hi, lo;
	char c;

	for (i = 0; i < n; i++) {
		c = s[i];
		if (c == '+')
			c = ' ';
		else if (c == '%') {
			if (i + 2 >= n || (hi = str_hexval(s[i + 1])) < 0 ||
			    (lo = str_hexval(s[i + 2])) < 0)
				return -1;
			c = (char)(hi * 16 + lo);
			i += 2;
		}
		if ((unsigned char)c < 0x20 || o + 1 >= outsz)
			return -1;
		out[o++] = c;
	}
	out[o] = '\0';
	return 0;
}

int
http_query_get(const char *query, const char *name, char *out, size_t outsz)
{
	size_t nlen = strlen(name), klen, vlen;
	const char *p = query, *amp, *eq;

	if (query == NULL)
		return 0;
	while (*p != '\0') {
		amp = strchr(p, '&');
		if (amp == NULL)
			amp = p + strlen(p);
		eq = memchr(p, '=', (size_t)(amp - p));
		klen = (size_t)((eq != NULL ? eq : amp) - p);
		if (klen == nlen && memcmp(p, name, nlen) == 0) {
			vlen = eq != NULL ? (size_t)(amp - eq - 1) : 0;
			return form_decode(eq != NULL ? eq + 1 : amp, vlen, out,
			    outsz) == 0 ? 1 : -1;
		}
		p = *amp != '\0' ? amp + 1 : amp;
	}
	return 0;
}
