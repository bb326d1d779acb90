/*
 * queue_state.c - the per-message state file (queue/state/ID) and the
 * hold (quarantine) it records.
 *
 * The state file is text, replaced atomically (written beside, fsynced,
 * renamed, the directory fsynced), one line per fact:
 *   hold HELD_AT<TAB>REASON          the message is held (quarantine)
 *   held_for SECONDS                 time spent held before, not counted
 *                                    against max_queue_lifetime
 *   warned TIME                      the delay notice went out
 *   INDEX STATE NEXT_TRY ATTEMPTS<TAB>LAST_ERROR   one per recipient
 * A reader skips lines it cannot use, so files of older versions (no
 * hold lines) read as before and an older version reads a held message
 * as not held. A damaged "hold" line errs on the safe side: a line that
 * starts with the word is a hold, whatever follows it, because the
 * quarantine of a message must not be lifted by a bad octet.
 */
#include <errno.h>
#include <limits.h>
#include <unistd.h>

#include "queue/queue_int.h"
#include "util/fsutil.h"
#include "util/str.h"
#include "util/compat.h"

/* At most a century of earlier holds: sums of times cannot overflow. */
#define HELD_FOR_MAX	(100ULL * 366 * 86400)

static const char *const state_names[] = { "pending", "deferred",
	"delivered", "bounced" };

/* ---- the hold ---- */

/* N octets of SRC into the hold reason DST (QUEUE_HOLD_MAX + 1 octets):
   control characters as spaces, cut before QUEUE_HOLD_MAX octets at the
   start of a UTF-8 sequence, "held" when nothing is left. true when
   SRC was taken as it is. */
static bool
hold_copy(char *dst, const char *src, size_t n)
{
	bool same = true;
	size_t i;

	if (n > QUEUE_HOLD_MAX) {
		n = QUEUE_HOLD_MAX;
		/* Not inside a sequence: back to its lead octet. */
		while (n > 0 && ((unsigned char)src[n] & 0xc0) == 0x80)
			n--;
		same = false;
	}
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)src[i];

		if (c < 0x20 || c == 0x7f) {
			c = ' ';
			same = false;
		}
		dst[i] = (char)c;
	}
	dst[n] = '\0';
	if (n == 0) {
		(void)str_copy(dst, "held", QUEUE_HOLD_MAX + 1);
		same = false;
	}
	return same;
}

bool
queue_env_hold(struct queue_env *e, const char *reason, time_t now)
{
	e->held_at = now;
	return hold_copy(e->hold, reason, strlen(reason));
}

void
queue_env_release(struct queue_env *e, time_t now)
{
	time_t since = e->held_at;

	if (!queue_env_held(e))
		return;
	if (since <= 0 || since > now)
		since = now;
	e->held_for += (uint64_t)(now - since);
	if (e->held_for > HELD_FOR_MAX)
		e->held_for = HELD_FOR_MAX;
	e->hold[0] = '\0';
	e->held_at = 0;
}

time_t
queue_env_age(const struct queue_env *e, time_t now)
{
	time_t age;

	/* Times come from files: no arithmetic may overflow on them. */
	if (e->arrival > now || e->arrival < 0)
		return 0;
	age = now - e->arrival - (time_t)(e->held_for > HELD_FOR_MAX ?
	    HELD_FOR_MAX : e->held_for);
	if (queue_env_held(e) && e->held_at > 0 && e->held_at <= now)
		age -= now - e->held_at;
	return age > 0 ? age : 0;
}

time_t
queue_env_expiry(const struct queue_env *e, uint64_t lifetime)
{
	time_t t;

	if (lifetime > INT64_MAX || e->held_for > INT64_MAX ||
	    __builtin_add_overflow(e->arrival, (time_t)e->held_for, &t) ||
	    __builtin_add_overflow(t, (time_t)lifetime, &t))
		return INT64_MAX;
	return t;
}

bool
queue_hold_reason_ok(const char *reason)
{
	size_t i, n = strlen(reason);

	if (n == 0 || n > QUEUE_HOLD_MAX)
		return false;
	for (i = 0; i < n; i++)
		if ((unsigned char)reason[i] < 0x20 || reason[i] == 0x7f)
			return false;
	return true;
}

/* ---- the reader ---- */

/* The next field of the line [*P, END) up to SEP (or the end) into
   *F and *FLEN; *P moves past SEP. -1 when SEP is not there. */
static int
next_field(const char **p, const char *end, char sep, const char **f,
    size_t *flen)
{
	const char *q = memchr(*p, sep, (size_t)(end - *p));

	if (q == NULL)
		return -1;
	*f = *p;
	*flen = (size_t)(q - *p);
	*p = q + 1;
	return 0;
}

static int
state_of(const char *f, size_t n, enum queue_rstate *st_r)
{
	size_t k;

	for (k = 0; k < nitems(state_names); k++) {
		if (strlen(state_names[k]) == n &&
		    memcmp(f, state_names[k], n) == 0) {
			*st_r = (enum queue_rstate)k;
			return 0;
		}
	}
	return -1;
}

/* "hold[ HELD_AT[<TAB>REASON]]", [P, END): a hold whatever follows the
   word; a time that does not parse is unknown (0), a NUL ends the
   reason. */
static void
hold_line(struct queue_env *e, const char *p, const char *end)
{
	const char *tab, *nul;
	uint64_t at;

	p += 4;
	if (p < end)
		p++;	/* the blank */
	tab = memchr(p, '\t', (size_t)(end - p));
	if (tab == NULL)
		tab = end;
	e->held_at = str_to_uint_n(p, (size_t)(tab - p), 0, INT64_MAX,
	    &at) == 0 ? (time_t)at : 0;
	p = tab < end ? tab + 1 : end;
	if ((nul = memchr(p, '\0', (size_t)(end - p))) != NULL)
		end = nul;
	(void)hold_copy(e->hold, p, (size_t)(end - p));
}

/* A line "WORD NUMBER" ("warned", "held_for") of [P, END): 1 with the
   number in [0, MAX] into *V, 0 when it is not that word, -1 when it is
   with a bad number. */
static int
word_number(const char *p, const char *end, const char *word, uint64_t max,
    uint64_t *v)
{
	size_t w = strlen(word);

	if ((size_t)(end - p) <= w || memcmp(p, word, w) != 0 || p[w] != ' ')
		return 0;
	return str_to_uint_n(p + w + 1, (size_t)(end - p) - w - 1, 0, max,
	    v) == 0 ? 1 : -1;
}

/* One recipient line "INDEX STATE NEXT_TRY ATTEMPTS[<TAB>LAST_ERROR]",
   [P, END) without its LF. */
static void
rcpt_line(struct queue_env *e, const char *p, const char *end)
{
	const char *f[4], *tab = memchr(p, '\t', (size_t)(end - p));
	size_t n[4], i;
	uint64_t idx, next, att;
	enum queue_rstate st;

	if (tab == NULL)
		tab = end;
	for (i = 0; i < 3; i++)
		if (next_field(&p, tab, ' ', &f[i], &n[i]) == -1)
			return;
	f[3] = p;
	n[3] = (size_t)(tab - p);
	if (str_to_uint_n(f[0], n[0], 0, e->nrcpts > 0 ? e->nrcpts - 1 : 0,
	    &idx) == -1 || e->nrcpts == 0 || state_of(f[1], n[1], &st) == -1 ||
	    str_to_uint_n(f[2], n[2], 0, INT64_MAX, &next) == -1 ||
	    str_to_uint_n(f[3], n[3], 0, UINT_MAX, &att) == -1)
		return;
	e->rcpts[idx].state = st;
	e->rcpts[idx].next_try = (time_t)next;
	e->rcpts[idx].attempts = (unsigned)att;
	if (tab != end)
		(void)str_ncopy(e->rcpts[idx].last_error, tab + 1,
		    (size_t)(end - tab - 1) < sizeof(e->rcpts[idx].last_error) ?
		    (size_t)(end - tab - 1) :
		    sizeof(e->rcpts[idx].last_error) - 1,
		    sizeof(e->rcpts[idx].last_error));
}

/* One line of the state file, [P, END) without its LF. */
static void
state_line(struct queue_env *e, const char *p, const char *end)
{
	size_t n = (size_t)(end - p);
	uint64_t v;
	int r;

	if (n >= 4 && memcmp(p, "hold", 4) == 0 && (n == 4 || p[4] == ' ')) {
		hold_line(e, p, end);
		return;
	}
	/* A NUL cannot be in a line we wrote. */
	if (memchr(p, '\0', n) != NULL)
		return;
	if ((r = word_number(p, end, "warned", INT64_MAX, &v)) != 0) {
		if (r == 1)
			e->warned = (time_t)v;
		return;
	}
	if ((r = word_number(p, end, "held_for", HELD_FOR_MAX, &v)) != 0) {
		if (r == 1)
			e->held_for = v;
		return;
	}
	rcpt_line(e, p, end);
}

void
queue_state_parse(struct queue_env *e, const char *text, size_t len)
{
	const char *p = text, *end = text + len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl != NULL ? nl : end;

		state_line(e, p, eol);
		p = eol + (nl != NULL);
	}
}

int
queue_state_read(struct queue *q, struct queue_env *e)
{
	struct buf b;

	buf_init(&b, 4 * 1024 * 1024);
	if (fs_read_file_at(q->state_fd, e->id, &b) == -1) {
		buf_free(&b);
		return errno == ENOENT ? 0 : -1;
	}
	if (b.len > 0)
		queue_state_parse(e, b.data, b.len);
	buf_free(&b);
	return 0;
}

/* ---- the writer ---- */

/* S onto B, an LF as a space: one line whatever a caller put there. */
static void
put_text(struct buf *b, const char *s)
{
	for (; *s != '\0'; s++)
		(void)buf_putc(b, *s == '\n' ? ' ' : *s);
}

int
queue_write_state(struct queue *q, const struct queue_env *e)
{
	struct buf b;
	size_t i;
	int r;

	buf_init(&b, BUF_UNLIMITED);
	if (queue_env_held(e)) {
		(void)buf_printf(&b, "hold %lld\t", (long long)e->held_at);
		put_text(&b, e->hold);
		(void)buf_putc(&b, '\n');
	}
	if (e->held_for != 0)
		(void)buf_printf(&b, "held_for %llu\n",
		    (unsigned long long)e->held_for);
	if (e->warned != 0)
		(void)buf_printf(&b, "warned %lld\n", (long long)e->warned);
	for (i = 0; i < e->nrcpts; i++) {
		const struct queue_rcpt *r0 = &e->rcpts[i];

		(void)buf_printf(&b, "%zu %s %lld %u\t", i,
		    state_names[r0->state], (long long)r0->next_try,
		    r0->attempts);
		put_text(&b, r0->last_error);
		(void)buf_putc(&b, '\n');
	}
	r = fs_write_atomic_at(q->state_fd, e->id, buf_cstr(&b), b.len, 0600);
	buf_free(&b);
	return r;
}

/* Releases E at NOW, every deferred recipient due at once: a release
   means "try it now", even by a daemon that starts later. */
static void
release_now(struct queue_env *e, time_t now)
{
	size_t i;

	queue_env_release(e, now);
	for (i = 0; i < e->nrcpts; i++)
		if (e->rcpts[i].state == QR_DEFERRED &&
		    e->rcpts[i].next_try > now)
			e->rcpts[i].next_try = now;
}

enum queue_hold_result
queue_set_hold(struct queue *q, const char *id, const char *reason,
    time_t now, struct queue_env *env_r, const char **error_r)
{
	struct queue_env e;
	uint64_t off, len;
	enum queue_hold_result res = QUEUE_HOLD_DONE;
	int fd = -1, r;

	r = queue_open(q, id, &e, &fd, &off, &len, error_r);
	if (r != 1)
		return r == 0 ? QUEUE_HOLD_NONE : QUEUE_HOLD_FAILED;
	(void)close(fd);
	if ((reason != NULL) == queue_env_held(&e)) {
		*error_r = reason != NULL ? "already held" : "not held";
		res = QUEUE_HOLD_ALREADY;
	} else {
		if (reason != NULL)
			(void)queue_env_hold(&e, reason, now);
		else
			release_now(&e, now);
		if (queue_write_state(q, &e) == -1) {
			*error_r = strerror(errno);
			res = QUEUE_HOLD_FAILED;
		}
	}
	if (env_r != NULL && res != QUEUE_HOLD_FAILED)
		*env_r = e;
	else
		queue_env_free(&e);
	return res;
}
