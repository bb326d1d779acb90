/*
 * http_openapi.c - the OpenAPI 3.0 document of the route table, made from
 * it (so it cannot drift from what the server answers): each route's
 * path, method, parameters, body fields, who may call it and the
 * answers it gives.
 */
#include <string.h>

#include "http/http_int.h"
#include "util/compat.h"

static const char *
method_key(unsigned m)
{
	switch (m) {
	case HTTP_GET:
		return "get";
	case HTTP_POST:
		return "post";
	case HTTP_PATCH:
		return "patch";
	case HTTP_DELETE:
		return "delete";
	case HTTP_PUT:
		return "put";
	}
	return "head";
}

static json_t *
path_params(const char *pattern)
{
	json_t *a = json_array();
	const char *p = pattern, *end;

	while ((p = strchr(p, '{')) != NULL) {
		end = strchr(p, '}');
		if (end == NULL)
			break;
		(void)json_array_append_new(a, json_pack("{s:s%, s:s, s:b, "
		    "s:{s:s}}", "name", p + 1, (size_t)(end - p - 1), "in",
		    "path", "required", 1, "schema", "type", "string"));
		p = end;
	}
	return a;
}

static json_t *
body_schema(const struct http_field *f)
{
	json_t *props = json_object(), *req = json_array(), *t;

	for (; f->name != NULL; f++) {
		if (f->type == HF_STRING)
			t = json_pack("{s:s, s:i, s:s}", "type", "string",
			    "maxLength", (int)f->max, "description", f->desc);
		else if (f->type == HF_BOOL)
			t = json_pack("{s:s, s:s}", "type", "boolean",
			    "description", f->desc);
		else
			t = json_pack("{s:[{s:s, s:i}, {s:s}], s:s}", "oneOf",
			    "type", "integer", "minimum", 0, "type",
			    "string", "description", f->desc);
		(void)json_object_set_new(props, f->name, t);
		if (f->required)
			(void)json_array_append_new(req, json_string(f->name));
	}
	t = json_pack("{s:s, s:o, s:b}", "type", "object", "properties",
	    props, "additionalProperties", 0);
	if (json_array_size(req) > 0)
		(void)json_object_set_new(t, "required", req);
	else
		json_decref(req);
	return json_pack("{s:b, s:{s:{s:o}}}", "required", 1, "content",
	    "application/json", "schema", t);
}

static json_t *
responses(const struct http_route *r)
{
	json_t *o = json_object();
	/* A POST with a body makes an object; one without asks for an
	   action (flush, rotate) and answers what it did. */
	const char *ok = r->method == HTTP_POST && r->body != NULL ? "201" :
	    r->method == HTTP_DELETE ? "204" : "200";

	(void)json_object_set_new(o, ok, json_pack("{s:s}", "description",
	    "done"));
	if (r->auth != HTTP_AUTH_NONE) {
		(void)json_object_set_new(o, "401", json_pack("{s:s}",
		    "description", "no valid token"));
		(void)json_object_set_new(o, "404", json_pack("{s:s}",
		    "description", "no such object (or not the token's)"));
		(void)json_object_set_new(o, "422", json_pack("{s:s}",
		    "description", "a field or query parameter is wrong: "
		    "{error, field}"));
		(void)json_object_set_new(o, "503", json_pack("{s:s}",
		    "description", "a temporary failure (the store, the "
		    "queue manager): try again"));
	}
	if (r->auth == HTTP_AUTH_ADMIN)
		(void)json_object_set_new(o, "403", json_pack("{s:s}",
		    "description", "an admin token is needed"));
	if (r->body != NULL) {
		(void)json_object_set_new(o, "400", json_pack("{s:s}",
		    "description", "malformed JSON"));
		(void)json_object_set_new(o, "422", json_pack("{s:s}",
		    "description", "a field is wrong: {error, field}"));
	}
	if (r->method == HTTP_POST || r->method == HTTP_DELETE ||
	    r->method == HTTP_PUT)
		(void)json_object_set_new(o, "409", json_pack("{s:s}",
		    "description", "exists, still has children, or is in "
		    "another state"));
	if (r->method == HTTP_PATCH || r->method == HTTP_DELETE)
		(void)json_object_set_new(o, "412", json_pack("{s:s}",
		    "description", "If-Match no longer matches"));
	return o;
}

static json_t *
operation(const struct http_route *r)
{
	json_t *op = json_pack("{s:s, s:o, s:o}", "summary", r->summary,
	    "parameters", path_params(r->pattern), "responses", responses(r));

	if (r->tag != NULL)
		(void)json_object_set_new(op, "tags", json_pack("[s]",
		    r->tag));
	if (r->body != NULL)
		(void)json_object_set_new(op, "requestBody",
		    body_schema(r->body));
	if (r->auth == HTTP_AUTH_NONE)
		(void)json_object_set_new(op, "security", json_array());
	return op;
}

json_t *
http_openapi(const struct http_route *routes, size_t n)
{
	json_t *doc, *paths = json_object(), *item;
	size_t i;

	for (i = 0; i < n; i++) {
		item = json_object_get(paths, routes[i].pattern);
		if (item == NULL) {
			item = json_object();
			(void)json_object_set_new(paths, routes[i].pattern,
			    item);
		}
		(void)json_object_set_new(item, method_key(routes[i].method),
		    operation(&routes[i]));
	}
	doc = json_pack("{s:s, s:{s:s, s:s}, s:o, s:{s:{s:{s:s, s:s}}}, "
	    "s:[{s:[]}]}", "openapi", "3.0.3", "info", "title",
	    "popgate provisioning API", "version", "1", "paths", paths,
	    "components", "securitySchemes", "bearer", "type", "http",
	    "scheme", "bearer", "security", "bearer");
	return doc;
}
