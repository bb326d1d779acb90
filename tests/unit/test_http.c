/*
 * test_http.c - the API's pure parts (src/http/): the route matcher on a
 * table of its own (a page route beside JSON ones, parameters, 404 / 405
 * / 400), Allow texts, query parameters, and the JSON body checker.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "http/http_int.h"
#include "util/compat.h"
#include "testlib.h"

static int
page(const struct config *cfg, const struct http_page_req *req,
    struct buf *out, const char **ctype_r)
{
	(void)cfg;
	(void)req;
	(void)out;
	*ctype_r = "text/plain";
	return 200;
}

static const struct http_route table[] = {
	{ HTTP_GET, "/api/v1/things", HTTP_AUTH_TOKEN, NULL, NULL, NULL,
	    "list", NULL },
	{ HTTP_POST, "/api/v1/things", HTTP_AUTH_TOKEN, NULL, NULL, NULL,
	    "add", NULL },
	{ HTTP_GET, "/api/v1/things/{name}", HTTP_AUTH_TOKEN, NULL, NULL,
	    NULL, "show", NULL },
	{ HTTP_DELETE, "/api/v1/things/{name}", HTTP_AUTH_TOKEN, NULL, NULL,
	    NULL, "delete", NULL },
	{ HTTP_GET, "/api/v1/things/{name}/parts/{part}", HTTP_AUTH_TOKEN,
	    NULL, NULL, NULL, "part", NULL },
	HTTP_PAGE("/metrics", page, "metrics"),
	{ HTTP_POST, "/api/v1/things/flush", HTTP_AUTH_TOKEN, NULL, NULL,
	    NULL, "flush", NULL },
};

static const struct match_case {
	const char	*name;
	unsigned	 method;
	const char	*path;
	int		 want;
	int		 route;		/* index, for 200 */
	const char	*p0, *p1;	/* parameters, for 200 */
	const char	*allow;		/* for 405 */
} match_cases[] = {
	{ "list", HTTP_GET, "/api/v1/things", 200, 0, NULL, NULL, NULL },
	{ "add", HTTP_POST, "/api/v1/things", 200, 1, NULL, NULL, NULL },
	{ "show", HTTP_GET, "/api/v1/things/abc", 200, 2, "abc", NULL, NULL },
	{ "head is get", HTTP_HEAD, "/api/v1/things/abc", 200, 2, "abc", NULL,
	    NULL },
	{ "decoded", HTTP_DELETE, "/api/v1/things/ann%40x.test", 200, 3,
	    "ann@x.test", NULL, NULL },
	{ "two params", HTTP_GET, "/api/v1/things/a/parts/b", 200, 4, "a",
	    "b", NULL },
	{ "page", HTTP_GET, "/metrics", 200, 5, NULL, NULL, NULL },
	{ "405 with allow", HTTP_PATCH, "/api/v1/things/abc", 405, 0, NULL,
	    NULL, "GET, DELETE" },
	{ "405 on the list", HTTP_DELETE, "/api/v1/things", 405, 0, NULL,
	    NULL, "GET, POST" },
	{ "405 page", HTTP_POST, "/metrics", 405, 0, NULL, NULL, "GET" },
	{ "trailing slash", HTTP_GET, "/api/v1/things/", 404, 0, NULL, NULL,
	    NULL },
	{ "double slash", HTTP_GET, "/api/v1//things", 404, 0, NULL, NULL,
	    NULL },
	{ "unknown", HTTP_GET, "/api/v2/things", 404, 0, NULL, NULL, NULL },
	{ "longer", HTTP_GET, "/api/v1/things/a/b", 404, 0, NULL, NULL, NULL },
	{ "prefix only", HTTP_GET, "/api/v1/thing", 404, 0, NULL, NULL, NULL },
	{ "root", HTTP_GET, "/", 404, 0, NULL, NULL, NULL },
	{ "empty", HTTP_GET, "", 404, 0, NULL, NULL, NULL },
	{ "encoded slash", HTTP_GET, "/api/v1/things/a%2fb", 400, 0, NULL,
	    NULL, NULL },
	{ "encoded nul", HTTP_GET, "/api/v1/things/a%00", 400, 0, NULL, NULL,
	    NULL },
	{ "cut escape", HTTP_GET, "/api/v1/things/a%4", 400, 0, NULL, NULL,
	    NULL },
	{ "bad escape", HTTP_GET, "/api/v1/things/%zz", 400, 0, NULL, NULL,
	    NULL },
	{ "other method", HTTP_OTHER, "/api/v1/things", 405, 0, NULL, NULL,
	    "GET, POST" },
	/* a literal segment beats a parameter, in the table's order or not */
	{ "literal wins", HTTP_POST, "/api/v1/things/flush", 200, 6, NULL,
	    NULL, NULL },
	{ "literal's 405", HTTP_GET, "/api/v1/things/flush", 405, 0, NULL,
	    NULL, "POST" },
	{ "literal's 405 too", HTTP_DELETE, "/api/v1/things/flush", 405, 0,
	    NULL, NULL, "POST" },
	{ "a parameter still", HTTP_DELETE, "/api/v1/things/flushed", 200, 3,
	    "flushed", NULL, NULL },
};

static void
test_match(void **state)
{
	const struct match_case *tc = *state;
	struct http_match m;
	char allow[64];

	assert_int_equal(http_route_match(table, nitems(table), tc->method,
	    tc->path, strlen(tc->path), &m), tc->want);
	if (tc->want == 200) {
		assert_ptr_equal(m.route, &table[tc->route]);
		assert_int_equal(m.nparams, (tc->p0 != NULL) +
		    (tc->p1 != NULL));
		if (tc->p0 != NULL)
			assert_string_equal(m.params[0], tc->p0);
		if (tc->p1 != NULL)
			assert_string_equal(m.params[1], tc->p1);
	}
	if (tc->want == 405) {
		http_allow_text(m.allow, allow, sizeof(allow));
		assert_string_equal(allow, tc->allow);
	}
}

/* A parameter longer than HTTP_PARAM_MAX is refused, not cut. */
static void
test_long_param(void **state)
{
	char path[HTTP_PARAM_MAX + 64];
	struct http_match m;

	(void)state;
	memset(path, 'a', sizeof(path));
	memcpy(path, "/api/v1/things/", 15);
	path[sizeof(path) - 1] = '\0';
	assert_int_equal(http_route_match(table, nitems(table), HTTP_GET,
	    path, strlen(path), &m), 400);
	path[15 + HTTP_PARAM_MAX] = '\0';
	assert_int_equal(http_route_match(table, nitems(table), HTTP_GET,
	    path, strlen(path), &m), 200);
	assert_int_equal(strlen(m.params[0]), HTTP_PARAM_MAX);
}

static void
test_query(void **state)
{
	char v[16];

	(void)state;
	assert_int_equal(http_query_get("a=1&customer=ac%20me+x", "customer",
	    v, sizeof(v)), 1);
	assert_string_equal(v, "ac me x");
	assert_int_equal(http_query_get("customers=x", "customer", v,
	    sizeof(v)), 0);
	assert_int_equal(http_query_get("force", "force", v, sizeof(v)), 1);
	assert_string_equal(v, "");
	assert_int_equal(http_query_get("x=%zz", "x", v, sizeof(v)), -1);
	assert_int_equal(http_query_get("x=%0a", "x", v, sizeof(v)), -1);
	assert_int_equal(http_query_get("x=0123456789abcdefg", "x", v,
	    sizeof(v)), -1);
	assert_int_equal(http_query_get(NULL, "x", v, sizeof(v)), 0);
	assert_int_equal(http_query_get("&&x=1&", "x", v, sizeof(v)), 1);
	assert_string_equal(v, "1");
}

static const struct http_field fields[] = {
	{ "name", HF_STRING, true, 8, "a name" },
	{ "on", HF_BOOL, false, 0, "a flag" },
	{ "quota", HF_SIZE, false, 0, "a size" },
	{ NULL, HF_STRING, false, 0, NULL },
};

static const struct body_case {
	const char	*body;
	int		 want;
	const char	*field;
} body_cases[] = {
	{ "{\"name\":\"acme\"}", 0, "" },
	{ "{\"name\":\"acme\",\"on\":true,\"quota\":\"5M\"}", 0, "" },
	{ "{\"name\":\"acme\",\"quota\":10}", 0, "" },
	{ "", 400, "" },
	{ "{\"name\":", 400, "" },
	{ "[\"name\"]", 400, "" },
	{ "\"acme\"", 400, "" },
	{ "{\"name\":\"a\",\"name\":\"b\"}", 400, "" },
	{ "{}", 422, "name" },
	{ "{\"name\":\"toolongname\"}", 422, "name" },
	{ "{\"name\":\"\"}", 422, "name" },
	{ "{\"name\":\"a\\u0000b\"}", 400, "" },	/* jansson: no NUL */
	{ "{\"name\":1}", 422, "name" },
	{ "{\"name\":\"a\",\"on\":\"yes\"}", 422, "on" },
	{ "{\"name\":\"a\",\"quota\":true}", 422, "quota" },
	{ "{\"name\":\"a\",\"extra\":1}", 422, "extra" },
};

static void
test_body(void **state)
{
	const struct body_case *tc = *state;
	struct http_error e;
	json_t *obj;

	memset(&e, 0, sizeof(e));
	assert_int_equal(http_json_body(tc->body, strlen(tc->body), fields,
	    &obj, &e), tc->want);
	if (tc->want == 0) {
		assert_non_null(obj);
		json_decref(obj);
		return;
	}
	assert_null(obj);
	assert_int_equal(e.status, tc->want);
	assert_string_equal(e.field, tc->field);
	assert_true(e.message[0] != '\0');
}

static void
test_size(void **state)
{
	struct http_error e;
	json_t *o = json_pack("{s:s, s:i, s:i, s:s, s:s}", "a", "500M", "b",
	    1024, "c", -1, "d", "unlimited", "e", "lots");
	uint64_t v;

	(void)state;
	assert_int_equal(http_json_size(o, "a", &v, &e), 1);
	assert_int_equal(v, 500 << 20);
	assert_int_equal(http_json_size(o, "b", &v, &e), 1);
	assert_int_equal(v, 1024);
	assert_int_equal(http_json_size(o, "c", &v, &e), -1);
	assert_string_equal(e.field, "c");
	assert_int_equal(http_json_size(o, "d", &v, &e), 1);
	assert_int_equal(v, 0);
	assert_int_equal(http_json_size(o, "e", &v, &e), -1);
	assert_int_equal(http_json_size(o, "none", &v, &e), 0);
	json_decref(o);
}

/* The document of the real table names every route once. */
static void
test_openapi(void **state)
{
	json_t *doc = http_openapi(http_routes, http_nroutes), *paths;
	size_t i, n = 0;
	const char *k;
	json_t *v;

	(void)state;
	assert_non_null(doc);
	paths = json_object_get(doc, "paths");
	json_object_foreach(paths, k, v)
		n += json_object_size(v);
	assert_int_equal(n, http_nroutes);
	for (i = 0; i < http_nroutes; i++)
		assert_non_null(json_object_get(paths,
		    http_routes[i].pattern));
	json_decref(doc);
}

int
main(void)
{
	size_t i;
	int r;

	for (i = 0; i < nitems(match_cases); i++)
		add_test(match_cases[i].name, test_match, &match_cases[i]);
	add_test("long parameter", test_long_param, NULL);
	add_test("query parameters", test_query, NULL);
	for (i = 0; i < nitems(body_cases); i++)
		add_test(body_cases[i].body, test_body, &body_cases[i]);
	add_test("sizes", test_size, NULL);
	add_test("openapi of the route table", test_openapi, NULL);
	r = _cmocka_run_group_tests("http", tests, ntests, NULL, NULL);
	free(tests);
	return r;
}
