/*
 * test_session.c - the protocol session skeleton (src/core/session.c)
 * with a small made-up protocol on a socketpair: the command table's
 * rules (state, missing and extra arguments) answered by the dispatcher
 * alone, the line limit that follows the state, SASL lines, bad lines,
 * pipelining across an async step, output back-pressure, the error cap
 * and closing.
 *
 * Table-driven: each row is the client's input and the trace of what
 * the protocol's hooks and handlers saw, in order.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "core/conn.h"
#include "core/session.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/compat.h"

#include "testlib.h"

enum { T_A, T_B, T_AUTH, T_TLS, T_CLOSING, T_NSTATES };

static const char *const names[T_NSTATES] = {
	"a", "b", "auth", "tls", "closing",
};

struct test_session {
	struct session	 base;
	unsigned	 extra;		/* the protocol's own field */
};

static struct buf trace;

static void
note(const char *what, const char *arg, size_t len)
{
	(void)buf_append(&trace, what, strlen(what));
	if (arg != NULL) {
		(void)buf_putc(&trace, ':');
		(void)buf_append(&trace, arg, len);
	}
	(void)buf_putc(&trace, ';');
}

static void
cmd_noop(struct session *s, const char *arg, size_t len)
{
	(void)s;
	(void)arg;
	(void)len;
	note("noop", NULL, 0);
}

static void
cmd_echo(struct session *s, const char *arg, size_t len)
{
	(void)s;
	note("echo", arg, len);
}

static void
cmd_gob(struct session *s, const char *arg, size_t len)
{
	(void)arg;
	(void)len;
	note("gob", NULL, 0);
	session_enter_state(s, T_B);
}

static void
cmd_onlyb(struct session *s, const char *arg, size_t len)
{
	(void)s;
	note("onlyb", arg, len);
}

static void
cmd_auth(struct session *s, const char *arg, size_t len)
{
	(void)arg;
	(void)len;
	note("auth", NULL, 0);
	session_enter_state(s, T_AUTH);
}

static void
waited(struct session *s)
{
	note("resumed", NULL, 0);
	session_resume(s);
}

static void
cmd_wait(struct session *s, const char *arg, size_t len)
{
	static const struct timeval tv = { 0, 2000 };

	(void)arg;
	(void)len;
	note("wait", NULL, 0);
	session_delay(s, &tv, waited);
}

static void
cmd_big(struct session *s, const char *arg, size_t len)
{
	static const char block[4096];

	(void)arg;
	(void)len;
	note("big", NULL, 0);
	(void)evbuffer_add(bufferevent_get_output(s->conn->bev), block,
	    sizeof(block));
}

static void
cmd_quit(struct session *s, const char *arg, size_t len)
{
	(void)arg;
	(void)len;
	note("quit", NULL, 0);
	session_close(s, "quit");
}

#define AB	(SESSION_ST(T_A) | SESSION_ST(T_B))

static const struct session_cmd cmds[] = {
	{ "NOOP", cmd_noop, AB, SESSION_CMD_NOARG },
	{ "ECHO", cmd_echo, AB, SESSION_CMD_ARG },
	{ "GOB", cmd_gob, SESSION_ST(T_A), 0 },
	{ "ONLYB", cmd_onlyb, SESSION_ST(T_B), 0 },
	{ "AUTH", cmd_auth, AB, 0 },
	{ "WAIT", cmd_wait, AB, 0 },
	{ "BIG", cmd_big, AB, 0 },
	{ "QUIT", cmd_quit, AB, SESSION_CMD_NOARG | SESSION_CMD_LAST },
};

static const struct session_cmd *
parse(struct session *s, const char *line, size_t len, const char **arg_r,
    size_t *arglen_r)
{
	const char *sp = memchr(line, ' ', len);
	size_t n = sp != NULL ? (size_t)(sp - line) : len, i;

	*arg_r = sp != NULL ? sp + 1 : line + len;
	*arglen_r = sp != NULL ? len - n - 1 : 0;
	for (i = 0; i < nitems(cmds); i++)
		if (strlen(cmds[i].name) == n &&
		    strncasecmp(line, cmds[i].name, n) == 0)
			return &cmds[i];
	note("unknown", NULL, 0);
	session_count_error(s);
	return NULL;
}

static void
refuse(struct session *s, const struct session_cmd *cmd,
    enum session_refusal why, const char *arg, size_t arglen)
{
	char what[64];

	(void)arg;
	(void)arglen;
	(void)snprintf(what, sizeof(what), "refuse-%s-%s", cmd->name,
	    why == SESSION_WRONG_STATE ? "state" : why == SESSION_EXTRA_ARG ?
	    "extra" : "missing");
	note(what, NULL, 0);
	session_count_error(s);
}

static void
auth_line(struct session *s, const char *line, size_t len)
{
	note("authline", line, len);
	session_enter_state(s, T_A);
}

static void
bad_line(struct session *s, enum line_result r)
{
	note(r == LINE_TOO_LONG ? "long" : "bare", NULL, 0);
	session_count_error(s);
}

static void
tls_reset(struct session *s)
{
	session_enter_state(s, T_A);
}

static void
timed_out(struct session *s, bool reply)
{
	(void)s;
	note(reply ? "timeout" : "timeout-quiet", NULL, 0);
}

static void
lost(struct session *s)
{
	(void)s;
	note("lost", NULL, 0);
}

static void
too_many(struct session *s)
{
	(void)s;
	note("too-many", NULL, 0);
}

static void
shutdown_line(struct session *s)
{
	(void)s;
	note("shutdown", NULL, 0);
}

static void
fini(struct session *s)
{
	assert_int_equal(((struct test_session *)(void *)s)->extra, 7);
	note("fini", NULL, 0);
}

static const struct session_proto proto = {
	.name = "test",
	.starttls_name = "starttls",
	.state_names = names,
	.tls_state = T_TLS,
	.closing_state = T_CLOSING,
	.auth_states = SESSION_ST(T_AUTH),
	.line_max = 16,
	.auth_line_max = 64,
	.input_max = 4096,
	.output_max = 1024,
	.parse = parse,
	.refuse = refuse,
	.auth_line = auth_line,
	.bad_line = bad_line,
	.tls_reset = tls_reset,
	.timeout = timed_out,
	.lost = lost,
	.too_many_errors = too_many,
	.shutdown = shutdown_line,
	.fini = fini,
};

struct session_case {
	const char	*name;
	const char	*input;
	const char	*want;
};

static const struct session_case cases[] = {
	{ "a command runs", "NOOP\r\n", "noop;lost;fini;" },
	{ "commands are case-insensitive", "noop\r\necho x\r\n",
	    "noop;echo:x;lost;fini;" },
	{ "unknown command", "FROB\r\nNOOP\r\n", "unknown;noop;lost;fini;" },
	{ "wrong state: refused, the handler never runs", "ONLYB x\r\n",
	    "refuse-ONLYB-state;lost;fini;" },
	{ "the right state after a transition", "GOB\r\nONLYB x\r\nGOB\r\n",
	    "gob;onlyb:x;refuse-GOB-state;lost;fini;" },
	{ "extra argument refused", "NOOP now\r\n",
	    "refuse-NOOP-extra;lost;fini;" },
	{ "missing argument refused", "ECHO\r\nECHO \r\nECHO hi\r\n",
	    "refuse-ECHO-missing;refuse-ECHO-missing;echo:hi;lost;fini;" },
	{ "state before arguments", "GOB\r\nGOB x\r\n",
	    "gob;refuse-GOB-state;lost;fini;" },
	{ "over-long command line", "ECHO 0123456789abcdef\r\nNOOP\r\n",
	    "long;noop;lost;fini;" },
	{ "longest command line", "ECHO 012345678\r\n",
	    "echo:012345678;lost;fini;" },
	{ "longer lines in the auth state only",
	    "AUTH\r\n0123456789012345678901234567890123456789\r\n"
	    "ECHO 0123456789abcdef\r\n",
	    "auth;authline:0123456789012345678901234567890123456789;long;"
	    "lost;fini;" },
	{ "a command word in the auth state is a SASL line",
	    "AUTH\r\nNOOP\r\nNOOP\r\n", "auth;authline:NOOP;noop;lost;fini;" },
	{ "bare LF: one bad line up to the CRLF", "NOOP\nNOOP\r\nNOOP\r\n",
	    "bare;noop;lost;fini;" },
	{ "bare CR", "NO\rOP\r\nNOOP\r\n", "bare;noop;lost;fini;" },
	{ "error cap closes, nothing more runs",
	    "FROB\r\nNOOP x\r\nECHO\r\nNOOP\r\n",
	    "unknown;refuse-NOOP-extra;refuse-ECHO-missing;too-many;fini;" },
	{ "pipelined commands wait for the async step",
	    "WAIT\r\nECHO 1\r\nWAIT\r\nECHO 2\r\n",
	    "wait;resumed;echo:1;wait;resumed;echo:2;lost;fini;" },
	{ "reading stops above the output mark and resumes",
	    "BIG\r\nBIG\r\nECHO after\r\n", "big;big;echo:after;lost;fini;" },
	{ "QUIT closes, pipelined input is not run", "QUIT\r\nNOOP\r\n",
	    "quit;fini;" },
	{ "a partial line at the end is not run", "NOOP\r\nNOO",
	    "noop;lost;fini;" },
};

static uint64_t
now_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Turns the loop for MS milliseconds (or until SET is empty), reading
   whatever the session sends. */
static void
run(struct event_base *base, int fd, struct session_set *set, uint64_t ms)
{
	uint64_t end = now_ms() + ms;
	char sink[8192];

	while (now_ms() < end && set->n > 0) {
		while (read(fd, sink, sizeof(sink)) > 0)
			;
		(void)event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		usleep(200);
	}
}

static void
test_case(void **state)
{
	const struct session_case *tc = *state;
	struct event_base *base = event_base_new();
	struct conn_hub *hub;
	struct listen_cfg lc;
	struct session_set set;
	struct netaddr peer;
	struct session *s;
	struct conn *c;
	int sv[2];

	assert_non_null(base);
	hub = conn_hub_new(base, NULL, 10, 10);
	memset(&lc, 0, sizeof(lc));
	lc.role = ROLE_SMTP;
	memset(&set, 0, sizeof(set));
	LIST_INIT(&set.list);
	assert_int_equal(net_addr_parse("127.0.0.1", &peer), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0,
	    sv), 0);
	c = conn_adopt(hub, &lc, sv[0], &peer);
	assert_non_null(c);
	buf_init(&trace, BUF_UNLIMITED);
	s = session_new(&proto, sizeof(struct test_session), &set, base, c,
	    0, 3);
	((struct test_session *)(void *)s)->extra = 7;
	assert_int_equal(s->state, T_A);
	assert_int_equal(write(sv[1], tc->input, strlen(tc->input)),
	    (ssize_t)strlen(tc->input));
	run(base, sv[1], &set, 100);
	(void)shutdown(sv[1], SHUT_WR);
	run(base, sv[1], &set, 2000);
	assert_int_equal(set.n, 0);
	assert_string_equal(buf_cstr(&trace), tc->want);
	buf_free(&trace);
	close(sv[1]);
	conn_hub_free(&hub);
	event_base_free(base);
}

/* The daemon stops: every open session gets its shutdown line. */
static void
test_set_free(void **state)
{
	struct event_base *base = event_base_new();
	struct conn_hub *hub = conn_hub_new(base, NULL, 10, 10);
	struct listen_cfg lc;
	struct session_set set;
	struct netaddr peer;
	struct session *s;
	int sv[2], i;

	(void)state;
	memset(&lc, 0, sizeof(lc));
	memset(&set, 0, sizeof(set));
	LIST_INIT(&set.list);
	assert_int_equal(net_addr_parse("127.0.0.1", &peer), 0);
	buf_init(&trace, BUF_UNLIMITED);
	for (i = 0; i < 2; i++) {
		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM |
		    SOCK_NONBLOCK, 0, sv), 0);
		s = session_new(&proto, sizeof(struct test_session), &set,
		    base, conn_adopt(hub, &lc, sv[0], &peer), 0, 3);
		((struct test_session *)(void *)s)->extra = 7;
		close(sv[1]);
	}
	assert_int_equal(set.n, 2);
	session_set_free(&set);
	assert_int_equal(set.n, 0);
	assert_string_equal(buf_cstr(&trace), "shutdown;fini;shutdown;fini;");
	buf_free(&trace);
	conn_hub_free(&hub);
	event_base_free(base);
}

int
main(void)
{
	size_t i;
	int r;

	log_init("test_session", LOG_TO_STDERR);
	for (i = 0; i < nitems(cases); i++)
		add_test(cases[i].name, test_case, &cases[i]);
	add_test("shutdown answers every session", test_set_free, NULL);
	r = _cmocka_run_group_tests("session", tests, ntests, NULL, NULL);
	free(tests);
	return r;
}
