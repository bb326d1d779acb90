/*
 * http_int.h - what the files of src/http/ share: the route table and
 * its matcher (http_router.c), JSON bodies (http_json.c), the API calls
 * (http_api.c) and the server (http_server.c). Not for outside use.
 */
#ifndef POPGATE_HTTP_INT_H
#define POPGATE_HTTP_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "http/http.h"
#include "ops/ops.h"
#include "store/store.h"

/* Methods, as bits (Allow: lists them in this order). */
enum http_method {
	HTTP_GET	= 0x01,
	HTTP_POST	= 0x02,
	HTTP_PATCH	= 0x04,
	HTTP_DELETE	= 0x08,
	HTTP_PUT	= 0x10,
	HTTP_HEAD	= 0x20,
	HTTP_OTHER	= 0x40,
};

/* Who may call a route. */
enum http_auth {
	HTTP_AUTH_NONE,		/* anyone (pages, the OpenAPI document) */
	HTTP_AUTH_TOKEN,	/* any token; a customer's sees its own */
	HTTP_AUTH_ADMIN,	/* an admin token only (403 for others) */
};

/* A member of a JSON body: what it must be. */
enum http_ftype {
	HF_STRING,
	HF_BOOL,
	HF_SIZE,	/* a number of bytes, or a size text like "500M" */
};

struct http_field {
	const char	*name;
	enum http_ftype	 type;
	bool		 required;
	size_t		 max;		/* HF_STRING: octets */
	const char	*desc;
};

struct http_call;
struct backends;

/* A JSON API call, on a worker thread with its handles: fills
   C->status and C->reply (and C->location, C->etag). */
typedef void http_api_fn(struct backends *, struct http_call *c);

struct http_route {
	unsigned		 method;	/* one HTTP_* bit */
	const char		*pattern;	/* "/api/v1/domains/{name}" */
	enum http_auth		 auth;
	http_api_fn		*api;		/* JSON; or */
	http_page_fn		*page;		/* a plain page */
	const struct http_field	*body;		/* NULL-named end; or NULL */
	const char		*summary;	/* for OpenAPI */
	const char		*tag;		/* OpenAPI group, or NULL */
};

#define HTTP_PAGE(path, fn, summary) \
	{ HTTP_GET, (path), HTTP_AUTH_NONE, NULL, (fn), NULL, (summary), NULL }
#define HTTP_PAGE_POST(path, fn, summary) \
	{ HTTP_POST, (path), HTTP_AUTH_NONE, NULL, (fn), NULL, (summary), NULL }

/* http_pages.c: the plain pages of the route table. */
http_page_fn	http_page_metrics, http_page_help, http_page_autoconfig,
		http_page_autodiscover, http_page_apple;

extern const struct http_route http_routes[];
extern const size_t http_nroutes;

#define HTTP_MAX_PARAMS	3
#define HTTP_PARAM_MAX	320	/* an address: 64 + 1 + 255 */

struct http_match {
	const struct http_route	*route;
	unsigned		 nparams;
	char			 params[HTTP_MAX_PARAMS][HTTP_PARAM_MAX + 1];
	unsigned		 allow;		/* 405: the path's methods */
};

/* The HTTP_* bit of a method name ("GET"); HTTP_OTHER for others. */
unsigned http_method_bit(const char *name);
/* "GET, POST" for ALLOW into OUT. */
void	http_allow_text(unsigned allow, char *out, size_t outsz);
/* The route of ROUTES for METHOD and PATH (LEN octets, the request
   target without its query, percent-encoded): 200 with *M filled, 404
   no route has that path, 405 one has but not for METHOD (M->allow
   says which), 400 a bad encoding in PATH. Pure: fuzzed alone. */
int	http_route_match(const struct http_route *routes, size_t n,
	    unsigned method, const char *path, size_t len,
	    struct http_match *m);

/* An error for the client: STATUS, a message and, for 422, the field. */
struct http_error {
	int	status;
	char	field[64];
	char	message[256];
};

/* Parses BODY (LEN octets) as a JSON object whose members FIELDS
   describe: 0 with *OUT (the caller's to json_decref), 400 not JSON or
   not an object, 415 (never: the caller checks the media type), 422 a
   member missing, unknown, of the wrong type or too long (E says which
   and why). Pure: fuzzed alone. */
int	http_json_body(const char *body, size_t len,
	    const struct http_field *fields, json_t **out,
	    struct http_error *e);
/* The size member NAME of OBJ (a number, or a text like "500M" or
   "unlimited"): 1 with *V, 0 absent, -1 bad (E says why). */
int	http_json_size(json_t *obj, const char *name, uint64_t *v,
	    struct http_error *e);

/* A query parameter NAME of the raw QUERY, decoded into OUT: 1, 0
   absent, -1 bad or too long. */
int	http_query_get(const char *query, const char *name, char *out,
	    size_t outsz);

struct http_server;

/* One API request, from the loop to a worker and back. */
struct http_call {
	/* in: set on the loop before the worker runs */
	const struct http_route	*route;
	struct http_match	 match;
	char			*query;		/* raw, or NULL */
	json_t			*body;		/* parsed, or NULL */
	char			*raw;		/* the body as it came */
	size_t			 raw_len;
	bool			 json_type;	/* Content-Type said JSON */
	char			 token_hash[STORE_TOKEN_HASH_LEN + 1];
	char			 if_match[96];	/* "" none */
	char			 who[16 + STORE_NAME_MAX];
	/* out: set by the worker */
	bool			 auth_failed;	/* the token did not check */
	struct store_token	 token;
	struct ops_actor	 actor;
	int			 status;
	json_t			*reply;
	char			 location[512];
	char			 etag[48];
	/* A step on the loop once the worker is done (the queue manager's
	   changes): it sets the status and the reply, or WAIT, and then
	   the reply is http_call_answered()'s when the answer comes. */
	void			(*loop)(const struct http_deps *,
				    struct http_call *);
	struct ops_hold_wait	*wait;
	/* the loop's */
	struct http_server	*srv;
	struct evhttp_request	*req;		/* NULL once gone */
	struct worker_job	*job;
	struct http_call	*next, *prev;	/* the server's pending */
	uint64_t		 started_us;
	char			 peer[NET_ADDRSTRLEN];
	struct netaddr		 peer_addr;
	char			 method[8];
	char			 path[512];
	struct event		*delay;		/* a failed token's wait */
};

/* C's answer came after its loop step (C->wait is over): it is sent,
   and C freed. */
void	http_call_answered(struct http_call *c);

/* The API: the calls (http_api.c) and the OpenAPI document. */
void	http_api_error(struct http_call *c, int status, const char *field,
	    const char *fmt, ...) PRINTFLIKE(4, 5);
void	http_api_openapi(struct backends *, struct http_call *c);
/* The OpenAPI 3 document of ROUTES (http_openapi.c). */
json_t	*http_openapi(const struct http_route *routes, size_t n);

void	http_api_customer_list(struct backends *, struct http_call *);
void	http_api_customer_get(struct backends *, struct http_call *);
void	http_api_customer_add(struct backends *, struct http_call *);
void	http_api_customer_patch(struct backends *, struct http_call *);
void	http_api_customer_delete(struct backends *, struct http_call *);
void	http_api_domain_list(struct backends *, struct http_call *);
void	http_api_domain_get(struct backends *, struct http_call *);
void	http_api_domain_add(struct backends *, struct http_call *);
void	http_api_domain_delete(struct backends *, struct http_call *);
void	http_api_mailbox_list(struct backends *, struct http_call *);
void	http_api_mailbox_get(struct backends *, struct http_call *);
void	http_api_mailbox_add(struct backends *, struct http_call *);
void	http_api_mailbox_patch(struct backends *, struct http_call *);
void	http_api_mailbox_delete(struct backends *, struct http_call *);

void	http_api_alias_list(struct backends *, struct http_call *);
void	http_api_alias_get(struct backends *, struct http_call *);
void	http_api_alias_add(struct backends *, struct http_call *);
void	http_api_alias_delete(struct backends *, struct http_call *);

/* http_api.c's helpers, for the calls of http_api_*.c: an ops result
   into C (false: C has the error); the thread's store (NULL: C has the
   503); C's reply OBJ (with its ETag; NULL: 503). */
bool	http_api_from_ops(struct http_call *c, const struct ops_result *r);
struct store *http_api_store(struct backends *, struct http_call *c);
void	http_api_reply(struct http_call *c, int status, json_t *obj);
/* A list of ?limit=&offset=: begun (false: C has the 422), one more
   item (P owns it), the reply (R not OK: C has the error). With HERE
   the items are cut to the window as they come (the relay table, the
   queue); without, the caller passes W to the store, which reads only
   the window and sets W.total (customers, domains, mailboxes, aliases). */
struct page {
	json_t			*items;
	struct store_window	 w;
	uint64_t		 seen;	/* items offered */
	bool			 here;	/* cut here, not by the store */
};
bool	http_api_page_init(struct http_call *c, struct page *p, bool here);
void	http_api_page_add(struct page *p, json_t *item);
void	http_api_page_reply(struct http_call *c, struct page *p,
	    const struct ops_result *r);
/* If-Match (http_api.c): C's tag against CURRENT (consumed): 1, 0
   stale (WHY says so), -1; the first look at the object a change is
   about (false: C has the 412 or 503); FN to check it again inside the
   change's transaction. */
int	http_api_tag_matches(struct http_call *c, json_t *current, char *why,
	    size_t whysz);
bool	http_api_precondition(struct http_call *c, json_t *current);
void	http_api_expect(struct http_call *c, ops_expect_fn *fn);
/* The query filter NAME into OUT, *V NULL when absent: false when bad
   (C has the 422). */
bool	http_api_filter(struct http_call *c, const char *name, char *out,
	    size_t outsz, const char **v);
/* T as "YYYY-MM-DD HH:MM:SS" (UTC), as the CLI prints it. */
void	http_api_fmt_time(char *dst, size_t dstsz, int64_t t);

/* Relay authorizations (http_api_relay.c). */
void	http_api_relay_list(struct backends *, struct http_call *);
void	http_api_relay_get(struct backends *, struct http_call *);
void	http_api_relay_allow(struct backends *, struct http_call *);
void	http_api_relay_revoke(struct backends *, struct http_call *);
void	http_api_relay_explain(struct backends *, struct http_call *);
extern const struct http_field http_relay_body[];

/* The queue (http_api_queue.c). */
void	http_api_queue_list(struct backends *, struct http_call *);
void	http_api_queue_get(struct backends *, struct http_call *);
void	http_api_queue_flush(struct backends *, struct http_call *);
void	http_api_queue_delete(struct backends *, struct http_call *);
void	http_api_queue_hold(struct backends *, struct http_call *);
void	http_api_queue_release(struct backends *, struct http_call *);
extern const struct http_field http_hold_body[];

/* A domain's DKIM keys (http_api_dkim.c), the store (http_api_store.c). */
void	http_api_dkim_show(struct backends *, struct http_call *);
void	http_api_dkim_rotate(struct backends *, struct http_call *);
void	http_api_store_info(struct backends *, struct http_call *);

extern const struct http_field http_alias_body[];
extern const struct http_field http_customer_body[];
extern const struct http_field http_customer_patch_body[];
extern const struct http_field http_domain_body[];
extern const struct http_field http_mailbox_body[];
extern const struct http_field http_mailbox_patch_body[];

#endif
