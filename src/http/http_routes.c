/*
 * http_routes.c - every route of the HTTP listeners, one line each:
 * method, path pattern ("{name}" takes one segment), who may call it,
 * and what answers: a JSON call of the API (run on a worker) or a plain
 * page made on the loop from the live configuration (http.h). The
 * OpenAPI document (/api/v1/openapi.json) is made from this table.
 *
 * To add a page (a GET answered in text/plain, text/html, XML ...):
 *	HTTP_PAGE("/metrics", metrics_page, "Prometheus metrics"),
 * with an http_page_fn declared in the module that makes it.
 */
#include "http/http_int.h"
#include "util/compat.h"

#define API(m, path, auth, fn, body, summary, tag) \
	{ (m), (path), (auth), (fn), NULL, (body), (summary), (tag) }

const struct http_route http_routes[] = {
	API(HTTP_GET, "/api/v1/openapi.json", HTTP_AUTH_NONE,
	    http_api_openapi, NULL, "this document", "meta"),

	API(HTTP_GET, "/api/v1/customers", HTTP_AUTH_TOKEN,
	    http_api_customer_list, NULL, "list customers", "customers"),
	API(HTTP_POST, "/api/v1/customers", HTTP_AUTH_ADMIN,
	    http_api_customer_add, http_customer_body, "add a customer",
	    "customers"),
	API(HTTP_GET, "/api/v1/customers/{name}", HTTP_AUTH_TOKEN,
	    http_api_customer_get, NULL, "show a customer", "customers"),
	API(HTTP_PATCH, "/api/v1/customers/{name}", HTTP_AUTH_ADMIN,
	    http_api_customer_patch, http_customer_patch_body,
	    "suspend or resume a customer", "customers"),
	API(HTTP_DELETE, "/api/v1/customers/{name}", HTTP_AUTH_ADMIN,
	    http_api_customer_delete, NULL, "delete a customer (409 with "
	    "domains unless ?force=true)", "customers"),

	API(HTTP_GET, "/api/v1/domains", HTTP_AUTH_TOKEN,
	    http_api_domain_list, NULL, "list domains (?customer=)",
	    "domains"),
	API(HTTP_POST, "/api/v1/domains", HTTP_AUTH_TOKEN,
	    http_api_domain_add, http_domain_body, "host a domain",
	    "domains"),
	API(HTTP_GET, "/api/v1/domains/{name}", HTTP_AUTH_TOKEN,
	    http_api_domain_get, NULL, "show a domain", "domains"),
	API(HTTP_DELETE, "/api/v1/domains/{name}", HTTP_AUTH_TOKEN,
	    http_api_domain_delete, NULL, "stop hosting a domain (409 with "
	    "mailboxes or aliases unless ?force=true)", "domains"),

	API(HTTP_GET, "/api/v1/domains/{name}/dkim", HTTP_AUTH_TOKEN,
	    http_api_dkim_show, NULL, "the domain's DKIM keys and their DNS "
	    "TXT records", "domains"),
	API(HTTP_POST, "/api/v1/domains/{name}/dkim/rotate", HTTP_AUTH_TOKEN,
	    http_api_dkim_rotate, NULL, "new DKIM keys: the signing pair "
	    "retired, retired pairs past their overlap deleted", "domains"),

	API(HTTP_GET, "/api/v1/mailboxes", HTTP_AUTH_TOKEN,
	    http_api_mailbox_list, NULL, "list mailboxes (?domain= or "
	    "?customer=)", "mailboxes"),
	API(HTTP_POST, "/api/v1/mailboxes", HTTP_AUTH_TOKEN,
	    http_api_mailbox_add, http_mailbox_body, "add a mailbox",
	    "mailboxes"),
	API(HTTP_GET, "/api/v1/mailboxes/{address}", HTTP_AUTH_TOKEN,
	    http_api_mailbox_get, NULL, "show a mailbox", "mailboxes"),
	API(HTTP_PATCH, "/api/v1/mailboxes/{address}", HTTP_AUTH_TOKEN,
	    http_api_mailbox_patch, http_mailbox_patch_body,
	    "set a mailbox's password or quota", "mailboxes"),
	API(HTTP_DELETE, "/api/v1/mailboxes/{address}", HTTP_AUTH_TOKEN,
	    http_api_mailbox_delete, NULL, "delete a mailbox (its Maildir "
	    "stays)", "mailboxes"),

	API(HTTP_GET, "/api/v1/aliases", HTTP_AUTH_TOKEN,
	    http_api_alias_list, NULL, "list aliases (?domain= or "
	    "?customer=)", "aliases"),
	API(HTTP_POST, "/api/v1/aliases", HTTP_AUTH_TOKEN,
	    http_api_alias_add, http_alias_body, "add an alias, or one more "
	    "target to it", "aliases"),
	API(HTTP_GET, "/api/v1/aliases/{address}", HTTP_AUTH_TOKEN,
	    http_api_alias_get, NULL, "show an alias and its targets",
	    "aliases"),
	API(HTTP_DELETE, "/api/v1/aliases/{address}", HTTP_AUTH_TOKEN,
	    http_api_alias_delete, NULL, "delete an alias (?target=: only "
	    "that target)", "aliases"),

	API(HTTP_GET, "/api/v1/relay", HTTP_AUTH_TOKEN,
	    http_api_relay_list, NULL, "the live relay authorizations "
	    "(?customer=)", "relay"),
	API(HTTP_POST, "/api/v1/relay", HTTP_AUTH_ADMIN,
	    http_api_relay_allow, http_relay_body, "open the relay for an "
	    "address or network on behalf of a customer", "relay"),
	API(HTTP_GET, "/api/v1/relay/explain", HTTP_AUTH_ADMIN,
	    http_api_relay_explain, NULL, "which rule would allow or refuse "
	    "?client= sending from ?sender= to ?recipient= now, and why",
	    "relay"),
	API(HTTP_GET, "/api/v1/relay/{address}", HTTP_AUTH_TOKEN,
	    http_api_relay_get, NULL, "the authorizations of an address",
	    "relay"),
	API(HTTP_GET, "/api/v1/relay/{network}/{bits}", HTTP_AUTH_TOKEN,
	    http_api_relay_get, NULL, "the authorizations of a network",
	    "relay"),
	API(HTTP_DELETE, "/api/v1/relay/{address}", HTTP_AUTH_TOKEN,
	    http_api_relay_revoke, NULL, "close the relay for an address "
	    "(?customer=: only that customer's)", "relay"),
	API(HTTP_DELETE, "/api/v1/relay/{network}/{bits}", HTTP_AUTH_TOKEN,
	    http_api_relay_revoke, NULL, "close the relay for a network "
	    "(?customer=: only that customer's)", "relay"),

	API(HTTP_GET, "/api/v1/queue", HTTP_AUTH_ADMIN, http_api_queue_list,
	    NULL, "queued messages (?state=, ?held=, ?sender=, "
	    "?recipient=)", "queue"),
	API(HTTP_POST, "/api/v1/queue/flush", HTTP_AUTH_ADMIN,
	    http_api_queue_flush, NULL, "try every message that is not held "
	    "now", "queue"),
	API(HTTP_GET, "/api/v1/queue/{id}", HTTP_AUTH_ADMIN,
	    http_api_queue_get, NULL, "one message: envelope, recipients, "
	    "who let it through, its hold, its headers", "queue"),
	API(HTTP_DELETE, "/api/v1/queue/{id}", HTTP_AUTH_ADMIN,
	    http_api_queue_delete, NULL, "remove a message, held or not, "
	    "without a bounce", "queue"),
	API(HTTP_POST, "/api/v1/queue/{id}/flush", HTTP_AUTH_ADMIN,
	    http_api_queue_flush, NULL, "try a message now (409 when held)",
	    "queue"),
	API(HTTP_PUT, "/api/v1/queue/{id}/hold", HTTP_AUTH_ADMIN,
	    http_api_queue_hold, http_hold_body, "quarantine a message: "
	    "never tried until released", "queue"),
	API(HTTP_DELETE, "/api/v1/queue/{id}/hold", HTTP_AUTH_ADMIN,
	    http_api_queue_release, NULL, "end the hold: tried at once; the "
	    "time held does not count against max_queue_lifetime", "queue"),

	API(HTTP_GET, "/api/v1/store", HTTP_AUTH_ADMIN, http_api_store_info,
	    NULL, "the account store: its schema version and counts",
	    "store"),

	/* Plain pages (http_pages.c), made on the loop from the live
	   configuration. */
	HTTP_PAGE("/metrics", http_page_metrics, "Prometheus metrics "
	    "(from metrics_networks only)"),
	HTTP_PAGE("/help", http_page_help, "the customers' help page"),
	HTTP_PAGE("/.well-known/autoconfig/mail/config-v1.1.xml",
	    http_page_autoconfig, "Mozilla autoconfig"),
	HTTP_PAGE("/mail/config-v1.1.xml", http_page_autoconfig,
	    "Mozilla autoconfig (?emailaddress=)"),
	HTTP_PAGE_POST("/autodiscover/autodiscover.xml",
	    http_page_autodiscover, "Outlook autodiscover"),
	HTTP_PAGE_POST("/Autodiscover/Autodiscover.xml",
	    http_page_autodiscover, "Outlook autodiscover"),
	HTTP_PAGE("/apple/popgate.mobileconfig", http_page_apple,
	    "an Apple configuration profile (?emailaddress=)"),
};

const size_t http_nroutes = nitems(http_routes);
