/*
 * hook_spool.c - what the webhooks keep on disk.
 *
 * Pending deliveries: one file DATA_DIR/webhooks/DELIVERY-ID per
 * delivery, a JSON object {"id", "event", "url", "created", "body"},
 * written (atomically, durably) when it is queued and removed when it
 * is done, by the io workers one operation after the other (a removal
 * never overtakes its write); the loop never touches the disk. At
 * start-up the files are read back, before the loop serves; a file
 * whose URL is no longer configured, or older than webhook_max_age, is
 * removed. At most webhook_queue_max files exist, as deliveries.
 *
 * The logins' memory (login.new_ip): per mailbox the last HOOK_SEEN_IPS
 * addresses (IPv6 ones as their relay_ipv6_prefix) with when each was
 * last seen, for at most HOOK_SEEN_MAX mailboxes (the one idle longest
 * is forgotten first): under 1 MB. It is kept in memory and saved to
 * DATA_DIR/webhooks.seen when the daemon stops (read when it starts),
 * one line "MAILBOX ADDRESS UNIX-TIME" per address: a restart does not
 * make every mailbox's next login look new, and a crash costs only what
 * was learnt since the start. Not in the account store: a login must
 * not wait for a write, and the memory is a hint, not an account's data.
 */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include <jansson.h>

#include "core/addr.h"
#include "hook/hook_int.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/fsutil.h"
#include "util/hmap.h"
#include "util/log.h"
#include "util/worker.h"
#include "util/xalloc.h"
#include "util/compat.h"

#define HOOK_SEEN_IPS	8
#define HOOK_SEEN_MAX	10000
#define SPOOL_FILE_MAX	(HOOK_BODY_MAX * 2 + 4096)

/* ---- pending deliveries ---- */

struct spool_op {
	struct spool_op	*next;
	char		 name[sizeof(((struct hook_dlv *)0)->id)];
	char		*data;		/* NULL: remove */
	size_t		 len;
};

struct hook_spool {
	struct worker_pool	*io;
	int			 data_fd;
	struct spool_op		*head, **tail;
	struct spool_op		*running;	/* its job's */
	bool			 dying;		/* freed when RUNNING ends */
};

static void
op_run(int data_fd, const struct spool_op *op)
{
	char path[sizeof(HOOK_DIR) + sizeof(op->name) + 1];

	(void)str_fmt(path, sizeof(path), "%s/%s", HOOK_DIR, op->name);
	if (op->data != NULL) {
		if (fs_write_atomic_at(data_fd, path, op->data, op->len,
		    0600) == -1)
			log_warn("webhook delivery=%s: cannot write %s: %s",
			    op->name, path, strerror(errno));
	} else if (unlinkat(data_fd, path, 0) == -1 && errno != ENOENT) {
		log_warn("webhook delivery=%s: cannot remove %s: %s",
		    op->name, path, strerror(errno));
	}
}

static void
op_free(struct spool_op *op)
{
	free(op->data);
	free(op);
}

static void next_op(struct hook_spool *);

static void
job_work(void *ctx, void *arg)
{
	struct hook_spool *s = arg;

	(void)ctx;
	op_run(s->data_fd, s->running);
}

/* Done or released: the next operation, or, stopping, all that is left
   at once (the loop no longer serves). */
static void
job_end(void *arg, bool ran)
{
	struct hook_spool *s = arg;
	struct spool_op *op;

	if (!ran)
		op_run(s->data_fd, s->running);
	op_free(s->running);
	s->running = NULL;
	if (!s->dying) {
		next_op(s);
		return;
	}
	while ((op = s->head) != NULL) {
		s->head = op->next;
		op_run(s->data_fd, op);
		op_free(op);
	}
	free(s);
}

static void
job_done(void *arg)
{
	job_end(arg, true);
}

static void
job_release(void *arg)
{
	job_end(arg, false);
}

static const struct worker_ops spool_ops = { job_work, job_done,
	job_release };

static void
next_op(struct hook_spool *s)
{
	if (s->running != NULL || (s->running = s->head) == NULL)
		return;
	s->head = s->running->next;
	if (s->head == NULL)
		s->tail = &s->head;
	(void)worker_submit(s->io, &spool_ops, s);
}

static void
push(struct hook_spool *s, const char *name, char *data, size_t len)
{
	struct spool_op *op = xcalloc(1, sizeof(*op));

	(void)str_copy(op->name, name, sizeof(op->name));
	op->data = data;
	op->len = len;
	*s->tail = op;
	s->tail = &op->next;
	next_op(s);
}

struct hook_spool *
hook_spool_new(struct worker_pool *io, int data_fd)
{
	struct hook_spool *s = xcalloc(1, sizeof(*s));

	s->io = io;
	s->data_fd = data_fd;
	s->tail = &s->head;
	if (data_fd >= 0 && fs_mkdir_p_at(data_fd, HOOK_DIR, 0700, false) ==
	    -1)
		log_warn("cannot create %s/: %s (pending webhooks are kept in "
		    "memory only)", HOOK_DIR, strerror(errno));
	return s;
}

void
hook_spool_free(struct hook_spool **sp)
{
	struct hook_spool *s = *sp;
	struct spool_op *op;

	if (s == NULL)
		return;
	*sp = NULL;
	if (s->running != NULL) {
		s->dying = true;	/* job_end() goes on */
		return;
	}
	while ((op = s->head) != NULL) {
		s->head = op->next;
		op_run(s->data_fd, op);
		op_free(op);
	}
	free(s);
}

void
hook_spool_save(struct hook_spool *s, const struct hook_dlv *d)
{
	json_t *o;
	char *text;

	if (s->io == NULL || s->data_fd < 0)
		return;
	o = json_pack("{s:s, s:s, s:s, s:I, s:s%}", "id", d->id, "event",
	    config_webhook_event(d->event), "url", d->url.url, "created",
	    (json_int_t)d->created, "body", d->body, d->len);
	text = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (text == NULL) {
		log_warn("webhook delivery=%s: cannot make its spool file",
		    d->id);
		return;
	}
	push(s, d->id, text, strlen(text));
}

void
hook_spool_drop(struct hook_spool *s, const struct hook_dlv *d)
{
	if (s->io != NULL && s->data_fd >= 0)
		push(s, d->id, NULL, 0);
}

static bool
id_ok(const char *name)
{
	size_t n = strlen(name);

	return n > 0 && n < sizeof(((struct hook_dlv *)0)->id) &&
	    strspn(name, "0123456789abcdef.") == n;
}

/* One file back into the queue: 0, or -1 when it goes. */
static int
load_one(struct hooks *h, const char *text)
{
	const char *id, *event, *url, *body;
	json_int_t created;
	size_t len, i;
	unsigned e;
	json_t *o = json_loads(text, 0, NULL);
	int r = -1;

	if (o == NULL || json_unpack(o, "{s:s, s:s, s:s, s:I, s:s%}", "id",
	    &id, "event", &event, "url", &url, "created", &created, "body",
	    &body, &len) == -1 || !id_ok(id))
		goto out;
	for (e = 0; e < HOOK_NEVENTS; e++)
		if (strcmp(config_webhook_event(e), event) == 0)
			break;
	if (e == HOOK_NEVENTS || created + (json_int_t)h->cfg->webhook_max_age <
	    (json_int_t)clock_now())
		goto out;
	for (i = 0; i < h->cfg->nwebhook; i++) {
		if (strcmp(h->cfg->webhook[i].url, url) != 0)
			continue;
		hook_requeue(h, id, (enum hook_event)e, &h->cfg->webhook[i],
		    (time_t)created, body, len);
		r = 0;
		break;
	}
out:
	json_decref(o);
	return r;
}

void
hook_spool_load(struct hooks *h)
{
	struct dirent *de;
	DIR *dir;
	int fd;
	size_t n = 0, gone = 0;

	if (h->data_fd < 0 || (fd = fs_open_dir(h->data_fd, HOOK_DIR)) == -1)
		return;
	if ((dir = fdopendir(fd)) == NULL) {
		(void)close(fd);
		return;
	}
	while ((de = readdir(dir)) != NULL) {
		struct buf b;
		bool ok;

		if (de->d_name[0] == '.')
			continue;
		buf_init(&b, SPOOL_FILE_MAX);
		ok = id_ok(de->d_name) && fs_read_file_at(fd, de->d_name,
		    &b) == 0 && load_one(h, buf_cstr(&b)) == 0;
		buf_free(&b);
		if (ok) {
			n++;
			continue;
		}
		/* a temporary, a stranger, or one that has no URL now */
		(void)unlinkat(fd, de->d_name, 0);
		gone++;
	}
	(void)closedir(dir);
	if (n > 0 || gone > 0)
		log_info("webhook spool loaded=%zu removed=%zu", n, gone);
}

/* ---- the logins' memory ---- */

struct seen_ip {
	struct netaddr	 a;
	time_t		 at;
};

struct seen_box {
	struct seen_ip	 ip[HOOK_SEEN_IPS];
	size_t		 n;
	time_t		 last;
};

struct hook_seen {
	struct hmap	*boxes;		/* mailbox -> struct seen_box */
};

struct hook_seen *
hook_seen_new(void)
{
	struct hook_seen *s = xcalloc(1, sizeof(*s));

	s->boxes = hmap_new();
	return s;
}

void
hook_seen_free(struct hook_seen **sp)
{
	if (*sp == NULL)
		return;
	hmap_free(&(*sp)->boxes, free);
	free(*sp);
	*sp = NULL;
}

struct oldest {
	const char	*key;
	time_t		 last;
	time_t		 before;	/* forget boxes idle since */
};

static bool
sweep_box(const char *key, void *val, void *arg)
{
	struct seen_box *b = val;
	struct oldest *o = arg;

	if (b->last < o->before) {
		free(b);
		return true;
	}
	if (o->key == NULL || b->last < o->last) {
		o->key = key;
		o->last = b->last;
	}
	return false;
}

/* Room for one more mailbox. */
static void
make_room(struct hook_seen *s, time_t now, time_t memory)
{
	struct oldest o = { NULL, 0, now - memory };
	char key[ADDR_BUFSZ];

	hmap_sweep(s->boxes, sweep_box, &o);
	if (hmap_count(s->boxes) < HOOK_SEEN_MAX || o.key == NULL)
		return;
	/* the key lives in the map: copy it before the removal */
	(void)str_copy(key, o.key, sizeof(key));
	free(hmap_del(s->boxes, key));
}

/* Records A in B at NOW; false when it was there within MEMORY. */
static bool
note(struct seen_box *b, const struct netaddr *a, time_t now, time_t memory)
{
	size_t i, old = 0;

	b->last = now;
	for (i = 0; i < b->n; i++) {
		if (!net_addr_equal(&b->ip[i].a, a))
			continue;
		if (b->ip[i].at + memory >= now) {
			b->ip[i].at = now;
			return false;
		}
		b->ip[i].at = now;
		return true;
	}
	if (b->n < HOOK_SEEN_IPS) {
		b->ip[b->n].a = *a;
		b->ip[b->n++].at = now;
		return true;
	}
	for (i = 1; i < b->n; i++)
		if (b->ip[i].at < b->ip[old].at)
			old = i;
	b->ip[old].a = *a;
	b->ip[old].at = now;
	return true;
}

bool
hook_seen_check(struct hook_seen *s, const char *mailbox,
    const struct netaddr *a, time_t now, time_t memory)
{
	struct seen_box *b;

	if (s == NULL)
		return false;
	if ((b = hmap_get(s->boxes, mailbox)) != NULL)
		return note(b, a, now, memory);
	if (hmap_count(s->boxes) >= HOOK_SEEN_MAX)
		make_room(s, now, memory);
	/* A mailbox's first login is its baseline, not news. */
	b = xcalloc(1, sizeof(*b));
	(void)note(b, a, now, memory);
	(void)hmap_put(s->boxes, mailbox, b);
	return false;
}

void
hook_seen_load(struct hook_seen *s, int data_fd)
{
	struct buf b;
	char *line, *p, box[ADDR_BUFSZ], ip[NET_ADDRSTRLEN];
	long long at;
	struct netaddr a;
	struct seen_box *sb;

	if (data_fd < 0)
		return;
	buf_init(&b, (size_t)HOOK_SEEN_MAX * HOOK_SEEN_IPS * 400);
	if (fs_read_file_at(data_fd, HOOK_SEEN_FILE, &b) == -1) {
		buf_free(&b);
		return;
	}
	p = b.data;
	while (p != NULL && (line = strsep(&p, "\n")) != NULL) {
		if (sscanf(line, "%319s %45s %lld", box, ip, &at) != 3 ||
		    net_addr_parse(ip, &a) == -1)
			continue;
		if ((sb = hmap_get(s->boxes, box)) == NULL) {
			if (hmap_count(s->boxes) >= HOOK_SEEN_MAX)
				continue;
			sb = xcalloc(1, sizeof(*sb));
			(void)hmap_put(s->boxes, box, sb);
		}
		if (sb->n < HOOK_SEEN_IPS) {
			sb->ip[sb->n].a = a;
			sb->ip[sb->n++].at = (time_t)at;
		}
		if ((time_t)at > sb->last)
			sb->last = (time_t)at;
	}
	buf_free(&b);
}

static bool
save_box(const char *key, void *val, void *arg)
{
	const struct seen_box *sb = val;
	char ip[NET_ADDRSTRLEN];
	size_t i;

	for (i = 0; i < sb->n; i++) {
		net_addr_format(&sb->ip[i].a, ip, sizeof(ip));
		(void)buf_printf(arg, "%s %s %lld\n", key, ip,
		    (long long)sb->ip[i].at);
	}
	return false;
}

void
hook_seen_save(struct hook_seen *s, int data_fd)
{
	struct buf b;

	if (s == NULL || data_fd < 0)
		return;
	buf_init(&b, (size_t)HOOK_SEEN_MAX * HOOK_SEEN_IPS * 400);
	hmap_sweep(s->boxes, save_box, &b);
	if (fs_write_atomic_at(data_fd, HOOK_SEEN_FILE, b.data != NULL ?
	    b.data : "", b.len, 0600) == -1)
		log_warn("cannot save %s: %s", HOOK_SEEN_FILE, strerror(errno));
	buf_free(&b);
}
