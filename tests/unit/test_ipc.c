/*
 * test_ipc.c - util/ipc.h: a message read back field by field consumes
 * it exactly; a field cut short, a length over its limit, bytes left
 * over, another number of descriptors, a datagram whose header lies
 * about its length and a wait past its timeout are each refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/ipc.h"
#include "util/compat.h"

struct fx {
	int		 sv[2];
	struct ipc_msg	*m;
};

static int
setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));

	assert_non_null(fx);
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC,
	    0, fx->sv), 0);
	fx->m = calloc(1, sizeof(*fx->m));
	assert_non_null(fx->m);
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *fx = *state;

	ipc_msg_close_fds(fx->m);
	(void)close(fx->sv[0]);
	(void)close(fx->sv[1]);
	free(fx->m);
	free(fx);
	return 0;
}

/* A message of every field kind, sent on sv[0] and received on sv[1]. */
static void
send_all_kinds(struct fx *fx, const int *fds, unsigned nfds)
{
	struct ipc_out o;

	ipc_out_init(&o);
	ipc_put_u32(&o, 7);
	ipc_put_u64(&o, UINT64_C(0x0102030405060708));
	ipc_put_bytes(&o, "\0\1\2", 3);
	ipc_put_text(&o, "hello");
	assert_int_equal(ipc_send(fx->sv[0], 42, 9, &o, fds, nfds), 0);
	ipc_out_free(&o);
	assert_int_equal(ipc_recv(fx->sv[1], fx->m, 1000), 1);
	assert_int_equal(fx->m->type, 42);
	assert_int_equal(fx->m->id, 9);
	assert_int_equal(fx->m->nfds, nfds);
}

static void
test_exact(void **state)
{
	struct fx *fx = *state;
	struct ipc_in in;
	uint32_t a;
	uint64_t b;
	const void *p;
	size_t n;
	char text[6];

	send_all_kinds(fx, NULL, 0);
	ipc_in_init(&in, fx->m);
	assert_int_equal(ipc_get_u32(&in, &a), 0);
	assert_int_equal(a, 7);
	assert_int_equal(ipc_get_done(&in, 0), -1);	/* not yet */
	assert_int_equal(ipc_get_u64(&in, &b), 0);
	assert_true(b == UINT64_C(0x0102030405060708));
	assert_int_equal(ipc_get_bytes(&in, 3, &p, &n), 0);
	assert_int_equal(n, 3);
	assert_memory_equal(p, "\0\1\2", 3);
	assert_int_equal(ipc_get_text(&in, text, sizeof(text)), 0);
	assert_string_equal(text, "hello");
	assert_int_equal(ipc_get_done(&in, 0), 0);
	/* Nothing more to read. */
	assert_int_equal(ipc_get_u32(&in, &a), -1);
}

static void
test_leftover(void **state)
{
	struct fx *fx = *state;
	struct ipc_in in;
	uint32_t a;
	uint64_t b;
	const void *p;
	size_t n;

	send_all_kinds(fx, NULL, 0);
	ipc_in_init(&in, fx->m);
	assert_int_equal(ipc_get_u32(&in, &a), 0);
	assert_int_equal(ipc_get_u64(&in, &b), 0);
	assert_int_equal(ipc_get_bytes(&in, 3, &p, &n), 0);
	/* The text is left: not done. */
	assert_int_equal(ipc_get_done(&in, 0), -1);
}

static void
test_short_field(void **state)
{
	struct fx *fx = *state;
	struct ipc_in in;
	uint32_t a = 1234;
	uint64_t b = 99;
	const void *p;
	size_t n;

	fx->m->len = 3;		/* less than a u32 */
	memcpy(fx->m->data, "abc", 3);
	ipc_in_init(&in, fx->m);
	assert_int_equal(ipc_get_u32(&in, &a), -1);
	assert_int_equal(a, 1234);
	assert_int_equal(ipc_get_u64(&in, &b), -1);
	assert_int_equal(b, 99);
	/* A byte string whose length says more than is there. */
	a = 10;
	memcpy(fx->m->data, &a, 4);
	memcpy(fx->m->data + 4, "xyz", 3);
	fx->m->len = 7;
	ipc_in_init(&in, fx->m);
	assert_int_equal(ipc_get_bytes(&in, 100, &p, &n), -1);
	/* The cursor did not move: the length field is still there. */
	assert_int_equal(ipc_get_u32(&in, &a), 0);
	assert_int_equal(a, 10);
}

static void
test_over_limit(void **state)
{
	struct fx *fx = *state;
	struct ipc_in in;
	char small[5];
	const void *p;
	size_t n;
	uint32_t a;
	uint64_t b;

	send_all_kinds(fx, NULL, 0);
	ipc_in_init(&in, fx->m);
	assert_int_equal(ipc_get_u32(&in, &a), 0);
	assert_int_equal(ipc_get_u64(&in, &b), 0);
	assert_int_equal(ipc_get_bytes(&in, 2, &p, &n), -1);	/* 3 > 2 */
	assert_int_equal(ipc_get_bytes(&in, 3, &p, &n), 0);
	/* "hello" needs 6 bytes with its NUL. */
	assert_int_equal(ipc_get_text(&in, small, sizeof(small)), -1);
	assert_int_equal(ipc_get_done(&in, 0), -1);
}

static void
test_text_with_nul(void **state)
{
	struct fx *fx = *state;
	struct ipc_out o;
	struct ipc_in in;
	char text[16];

	ipc_out_init(&o);
	ipc_put_bytes(&o, "ab\0cd", 5);
	assert_int_equal(ipc_send(fx->sv[0], 1, 0, &o, NULL, 0), 0);
	ipc_out_free(&o);
	assert_int_equal(ipc_recv(fx->sv[1], fx->m, 1000), 1);
	ipc_in_init(&in, fx->m);
	assert_int_equal(ipc_get_text(&in, text, sizeof(text)), -1);
}

static void
test_fd_count(void **state)
{
	struct fx *fx = *state;
	struct ipc_in in;
	struct stat st;
	int fds[2];
	uint32_t a;

	fds[0] = open("/dev/null", O_RDONLY | O_CLOEXEC);
	fds[1] = open("/dev/null", O_RDONLY | O_CLOEXEC);
	assert_true(fds[0] >= 0 && fds[1] >= 0);
	send_all_kinds(fx, fds, 2);
	(void)close(fds[0]);
	(void)close(fds[1]);
	assert_int_equal(fstat(fx->m->fds[0], &st), 0);
	assert_true(S_ISCHR(st.st_mode));
	ipc_in_init(&in, fx->m);
	assert_int_equal(ipc_get_u32(&in, &a), 0);
	in.off = fx->m->len;	/* every byte read */
	assert_int_equal(ipc_get_done(&in, 1), -1);
	assert_int_equal(ipc_get_done(&in, 0), -1);
	assert_int_equal(ipc_get_done(&in, 2), 0);
}

/* A datagram whose header says another length than it has. */
static void
test_lying_header(void **state)
{
	struct fx *fx = *state;
	uint32_t raw[4] = { 1, 8, 0, 0 };	/* says 8, carries 4 */

	assert_int_equal(send(fx->sv[0], raw, sizeof(raw), 0),
	    (ssize_t)sizeof(raw));
	errno = 0;
	assert_int_equal(ipc_recv(fx->sv[1], fx->m, 1000), -1);
	assert_int_equal(errno, EPROTO);
	assert_int_equal(ipc_msg_parse(fx->m, raw, sizeof(raw)), -1);
	assert_int_equal(ipc_msg_parse(fx->m, raw, 8), -1);	/* no header */
	raw[1] = 4;
	assert_int_equal(ipc_msg_parse(fx->m, raw, sizeof(raw)), 0);
	assert_int_equal(fx->m->len, 4);
}

static void
test_timeout_and_end(void **state)
{
	struct fx *fx = *state;

	errno = 0;
	assert_int_equal(ipc_recv(fx->sv[1], fx->m, 10), -1);
	assert_int_equal(errno, ETIMEDOUT);
	(void)close(fx->sv[0]);
	fx->sv[0] = -1;
	assert_int_equal(ipc_recv(fx->sv[1], fx->m, 1000), 0);
}

static void
test_too_large(void **state)
{
	struct fx *fx = *state;
	struct ipc_out o;
	char *big = calloc(1, IPC_PAYLOAD_MAX);

	assert_non_null(big);
	ipc_out_init(&o);
	ipc_put_bytes(&o, big, IPC_PAYLOAD_MAX);	/* + its length: over */
	assert_true(o.failed);
	errno = 0;
	assert_int_equal(ipc_send(fx->sv[0], 1, 0, &o, NULL, 0), -1);
	assert_int_equal(errno, EMSGSIZE);
	ipc_out_free(&o);
	free(big);
}

int
main(void)
{
	const struct CMUnitTest t[] = {
		cmocka_unit_test_setup_teardown(test_exact, setup, teardown),
		cmocka_unit_test_setup_teardown(test_leftover, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_short_field, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_over_limit, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_text_with_nul, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_fd_count, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_lying_header, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_timeout_and_end, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_too_large, setup,
		    teardown),
	};

	return cmocka_run_group_tests_name("ipc", t, NULL, NULL);
}
