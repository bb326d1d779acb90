/*
 * mailbox_index.c - the index of one folder on disk: a snapshot and an
 * append-only log of changes since it, each record checksummed.
 *
 * Format (all integers little-endian):
 *
 *   popgate-index      "PGMBXIX1" then records
 *   popgate-index.log  "PGMBXLG1" then records
 *
 *   record   u32 len | u8 type | payload (len octets) | u32 crc
 *            crc: CRC-32 (IEEE 802.3) of len, type and payload.
 *   'H'      u32 uidvalidity, u32 uidnext, u64 highestmodseq,
 *            u64 generation. First record of both files; a log whose
 *            generation is not the snapshot's is stale (left by a
 *            compaction cut short) and ignored.
 *   'K'      u8 slot, name: keyword SLOT (slots are defined in order).
 *   'M'      u32 uid, u8 flags, u64 kw[2], u64 modseq, u64 size (with
 *            CRLF), i64 internaldate, base name (the rest, 1-255 octets,
 *            no '/', ':' or NUL, not starting with '.'). In the snapshot
 *            ascending UIDs below uidnext; in the log a new message,
 *            uid >= the uidnext so far.
 *   'F'      u32 uid, u8 flags, u64 kw[2], u64 modseq: flags changed.
 *   'X'      u32 uid, u64 modseq: expunged (in the snapshot: the
 *            remembered expunges, for QRESYNC).
 *   'C'      u32 uid, blob: the cache blob of a message (<= 64 KiB).
 *
 * Writes. A change appends its records to the log in one write(2) and
 * fsyncs it before it is acknowledged: O(change) on any folder size.
 * When the log outgrows the snapshot (and 64 KiB) the state is written
 * as a new snapshot of generation G+1 (tmp, fsync, rename, fsync of the
 * directory), then an empty log of generation G+1 replaces the old one
 * the same way. A crash between the two leaves a stale log, ignored.
 *
 * Reads. A record cut off at the end of the log is a write that never
 * completed (never acknowledged): dropped. Any other damage (a bad
 * checksum or an inconsistent record with data after it, a damaged
 * snapshot) keeps what was read before it, and bounds what was lost:
 * every lost record that could have given out a UID or MODSEQ is at
 * least the size of the smallest such record, so UIDNEXT and
 * HIGHESTMODSEQ skip ahead by the lost octets over that size and no UID
 * or MODSEQ a client may have seen is ever given out again. Messages
 * whose records were lost are found again by the directory scan and get
 * new UIDs. Only when no snapshot header survives does the folder get a
 * new UIDVALIDITY.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mailbox/mailbox_int.h"
#include "util/fsutil.h"
#include "util/hmap.h"
#include "util/log.h"
#include "util/str.h"
#include "util/xalloc.h"
#include "util/compat.h"

#define SNAP_MAGIC	"PGMBXIX1"
#define LOG_MAGIC	"PGMBXLG1"
#define MAGIC_LEN	8
#define REC_OVERHEAD	9		/* len, type, crc */
#define REC_MAX		(MAILBOX_CACHE_MAX + 64)
#define M_FIXED		45		/* 'M' payload before the name */
#define MIN_UID_REC	(REC_OVERHEAD + M_FIXED + 1)
#define MIN_MODSEQ_REC	(REC_OVERHEAD + 12)
#define INDEX_FILE_MAX	(512u * 1024 * 1024)
#define COMPACT_MIN	(64 * 1024)

/* ---- CRC-32 ---- */

static uint32_t crc_table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void
crc_init(void)
{
	uint32_t c, i, k;

	for (i = 0; i < 256; i++) {
		for (c = i, k = 0; k < 8; k++)
			c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
		crc_table[i] = c;
	}
}

static uint32_t
crc32_of(const unsigned char *p, size_t n)
{
	uint32_t c = 0xffffffffu;

	(void)pthread_once(&crc_once, crc_init);
	while (n-- > 0)
		c = crc_table[(c ^ *p++) & 0xff] ^ (c >> 8);
	return c ^ 0xffffffffu;
}

/* ---- encoding ---- */

static void
put_le(struct buf *b, uint64_t v, size_t n)
{
	unsigned char o[8];
	size_t i;

	for (i = 0; i < n; i++)
		o[i] = (unsigned char)(v >> (8 * i));
	(void)buf_append(b, o, n);
}

static uint64_t
get_le(const unsigned char *p, size_t n)
{
	uint64_t v = 0;
	size_t i;

	for (i = n; i > 0; i--)
		v = (v << 8) | p[i - 1];
	return v;
}

/* Starts a record of TYPE in B; returns its offset for rec_end(). */
static size_t
rec_begin(struct buf *b, char type)
{
	size_t at = b->len;

	put_le(b, 0, 4);
	(void)buf_putc(b, type);
	return at;
}

static void
rec_end(struct buf *b, size_t at)
{
	uint32_t len = (uint32_t)(b->len - at - 5);
	size_t i;

	for (i = 0; i < 4; i++)
		b->data[at + i] = (char)(len >> (8 * i));
	put_le(b, crc32_of((unsigned char *)b->data + at, b->len - at), 4);
}

static void
rec_header(struct buf *b, const struct mbx_folder *f)
{
	size_t at = rec_begin(b, 'H');

	put_le(b, f->uidvalidity, 4);
	put_le(b, f->uidnext, 4);
	put_le(b, f->highestmodseq, 8);
	put_le(b, f->generation, 8);
	rec_end(b, at);
}

static void
rec_msg(struct buf *b, const struct mbx_msg *m)
{
	size_t at = rec_begin(b, 'M');

	put_le(b, m->uid, 4);
	put_le(b, m->flags, 1);
	put_le(b, m->kw[0], 8);
	put_le(b, m->kw[1], 8);
	put_le(b, m->modseq, 8);
	put_le(b, m->size, 8);
	put_le(b, (uint64_t)m->idate, 8);
	(void)buf_append(b, m->name, m->base_len);
	rec_end(b, at);
}

static void
rec_flags(struct buf *b, const struct mbx_msg *m)
{
	size_t at = rec_begin(b, 'F');

	put_le(b, m->uid, 4);
	put_le(b, m->flags, 1);
	put_le(b, m->kw[0], 8);
	put_le(b, m->kw[1], 8);
	put_le(b, m->modseq, 8);
	rec_end(b, at);
}

static void
rec_expunge(struct buf *b, uint32_t uid, uint64_t modseq)
{
	size_t at = rec_begin(b, 'X');

	put_le(b, uid, 4);
	put_le(b, modseq, 8);
	rec_end(b, at);
}

static void
rec_keyword(struct buf *b, const struct mbx_folder *f, unsigned idx)
{
	size_t at = rec_begin(b, 'K');

	put_le(b, idx, 1);
	(void)buf_append_str(b, f->kw[idx]);
	rec_end(b, at);
}

static void
rec_cache(struct buf *b, const struct mbx_msg *m)
{
	size_t at = rec_begin(b, 'C');

	put_le(b, m->uid, 4);
	(void)buf_append(b, m->cache, m->cache_len);
	rec_end(b, at);
}

void
mbx_log_msg(struct mbx_folder *f, const struct mbx_msg *m)
{
	rec_msg(&f->pending, m);
	if (m->cache_len > 0)
		rec_cache(&f->pending, m);
}

void
mbx_log_flags(struct mbx_folder *f, const struct mbx_msg *m)
{
	rec_flags(&f->pending, m);
}

void
mbx_log_expunge(struct mbx_folder *f, uint32_t uid, uint64_t modseq)
{
	rec_expunge(&f->pending, uid, modseq);
}

void
mbx_log_keyword(struct mbx_folder *f, unsigned idx)
{
	rec_keyword(&f->pending, f, idx);
}

void
mbx_log_cache(struct mbx_folder *f, const struct mbx_msg *m)
{
	rec_cache(&f->pending, m);
}

/* ---- decoding ---- */

struct reader {
	const unsigned char *p;
	size_t		 len, off;
};

enum rec_result {
	REC_OK,
	REC_END,	/* clean end of the data */
	REC_TORN,	/* a record cut off by the end of the data */
	REC_BAD,	/* a checksum that does not match */
};

static enum rec_result
next_rec(struct reader *r, char *type, const unsigned char **pl,
    size_t *plen)
{
	size_t left = r->len - r->off;
	uint64_t len;
	const unsigned char *rec = r->p + r->off;

	if (left == 0)
		return REC_END;
	if (left < 4)
		return REC_TORN;
	len = get_le(rec, 4);
	if (len > REC_MAX)
		return REC_BAD;
	if (left < len + REC_OVERHEAD)
		return REC_TORN;
	if (crc32_of(rec, (size_t)len + 5) != get_le(rec + len + 5, 4))
		return left == len + REC_OVERHEAD ? REC_TORN : REC_BAD;
	*type = (char)rec[4];
	*pl = rec + 5;
	*plen = (size_t)len;
	r->off += (size_t)len + REC_OVERHEAD;
	return REC_OK;
}

/* Parse context: the names seen, for duplicates. */
struct parse {
	struct mbx_folder *f;
	struct hmap	*names;
	bool		 in_log;
};

static bool
base_ok(const unsigned char *p, size_t n)
{
	size_t i;

	if (n == 0 || n > MBX_BASE_MAX || p[0] == '.')
		return false;
	for (i = 0; i < n; i++)
		if (p[i] == '\0' || p[i] == '/' || p[i] == ':')
			return false;
	return true;
}

static int
cmp_uid(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = ((const struct mbx_msg *)b)->uid;

	return x < y ? -1 : x > y;
}

struct mbx_msg *
mbx_folder_find(struct mbx_folder *f, uint32_t uid)
{
	if (f->n == 0)
		return NULL;
	return bsearch(&uid, f->msgs, f->n, sizeof(*f->msgs), cmp_uid);
}

/* Keyword bits beyond the defined slots are dropped. */
static void
mask_keywords(const struct mbx_folder *f, uint64_t kw[2])
{
	unsigned i;

	for (i = f->nkw; i < MAILBOX_KEYWORDS_MAX; i++)
		kw[i / 64] &= ~(1ULL << (i % 64));
}

static int
parse_msg(struct parse *ps, const unsigned char *p, size_t n)
{
	struct mbx_folder *f = ps->f;
	struct mbx_msg m;
	char key[MBX_BASE_MAX + 1];

	if (n < M_FIXED + 1 || !base_ok(p + M_FIXED, n - M_FIXED))
		return -1;
	memset(&m, 0, sizeof(m));
	m.uid = (uint32_t)get_le(p, 4);
	m.flags = p[4];
	m.kw[0] = get_le(p + 5, 8);
	m.kw[1] = get_le(p + 13, 8);
	m.modseq = get_le(p + 21, 8);
	m.size = get_le(p + 29, 8);
	m.idate = (int64_t)get_le(p + 37, 8);
	if (m.uid == 0 || (m.flags & ~MAILBOX_FLAGS_ALL) != 0 ||
	    m.modseq == 0 || m.uid == UINT32_MAX)
		return -1;
	if (ps->in_log) {
		if (m.uid < f->uidnext)
			return -1;
		f->uidnext = m.uid + 1;
		if (m.modseq > f->highestmodseq)
			f->highestmodseq = m.modseq;
	} else if (m.uid >= f->uidnext || m.modseq > f->highestmodseq ||
	    (f->n > 0 && m.uid <= f->msgs[f->n - 1].uid)) {
		return -1;
	}
	memcpy(key, p + M_FIXED, n - M_FIXED);
	key[n - M_FIXED] = '\0';
	if (hmap_get(ps->names, key) != NULL)
		return -1;
	(void)hmap_put(ps->names, key, (void *)1);
	mask_keywords(f, m.kw);
	m.base_len = (uint16_t)(n - M_FIXED);
	m.name = xstrdup(key);
	(void)mbx_folder_add(f, &m);
	return 0;
}

static int
parse_flags(struct parse *ps, const unsigned char *p, size_t n)
{
	struct mbx_folder *f = ps->f;
	struct mbx_msg *m;
	uint64_t modseq;

	if (n != 29 || (p[4] & ~MAILBOX_FLAGS_ALL) != 0)
		return -1;
	modseq = get_le(p + 21, 8);
	if (modseq == 0)
		return -1;
	if (modseq > f->highestmodseq)
		f->highestmodseq = modseq;
	if ((m = mbx_folder_find(f, (uint32_t)get_le(p, 4))) == NULL)
		return 0;	/* a message lost with damage before */
	m->flags = p[4];
	m->kw[0] = get_le(p + 5, 8);
	m->kw[1] = get_le(p + 13, 8);
	mask_keywords(f, m->kw);
	m->modseq = modseq;
	return 0;
}

static int
parse_expunge(struct parse *ps, const unsigned char *p, size_t n)
{
	struct mbx_folder *f = ps->f;
	uint32_t uid;
	uint64_t modseq;
	struct mbx_msg *m;

	if (n != 12)
		return -1;
	uid = (uint32_t)get_le(p, 4);
	modseq = get_le(p + 4, 8);
	if (uid == 0 || uid >= f->uidnext || modseq == 0)
		return -1;
	if (!ps->in_log) {
		if (modseq > f->highestmodseq || (f->ntombs > 0 &&
		    modseq < f->tombs[f->ntombs - 1].modseq))
			return -1;
		mbx_folder_tomb(f, uid, modseq);
		return 0;
	}
	if (modseq > f->highestmodseq)
		f->highestmodseq = modseq;
	if ((m = mbx_folder_find(f, uid)) != NULL) {
		char key[MBX_BASE_MAX + 1];

		(void)str_ncopy(key, m->name, m->base_len, sizeof(key));
		(void)hmap_del(ps->names, key);
		mbx_folder_remove(f, (size_t)(m - f->msgs), modseq);
	}
	return 0;
}

static int
parse_keyword(struct parse *ps, const unsigned char *p, size_t n)
{
	struct mbx_folder *f = ps->f;
	char name[MAILBOX_KEYWORD_MAX + 1];
	unsigned i;

	if (n < 2 || n - 1 > MAILBOX_KEYWORD_MAX || p[0] != f->nkw ||
	    f->nkw >= MAILBOX_KEYWORDS_MAX)
		return -1;
	memcpy(name, p + 1, n - 1);
	name[n - 1] = '\0';
	if (strlen(name) != n - 1 || !mbx_keyword_valid(name))
		return -1;
	for (i = 0; i < f->nkw; i++)
		if (strcasecmp(f->kw[i], name) == 0)
			return -1;
	mbx_folder_kw_add(f, name);
	return 0;
}

static int
parse_cache(struct parse *ps, const unsigned char *p, size_t n)
{
	struct mbx_msg *m;

	if (n < 4 || n - 4 > MAILBOX_CACHE_MAX)
		return -1;
	if ((m = mbx_folder_find(ps->f, (uint32_t)get_le(p, 4))) == NULL)
		return ps->in_log ? 0 : -1;
	free(m->cache);
	m->cache = NULL;
	m->cache_len = (uint32_t)(n - 4);
	if (m->cache_len > 0) {
		m->cache = xmalloc(m->cache_len);
		memcpy(m->cache, p + 4, m->cache_len);
	}
	return 0;
}

static int
parse_header(struct mbx_folder *f, const unsigned char *p, size_t n)
{
	if (n != 24)
		return -1;
	f->uidvalidity = (uint32_t)get_le(p, 4);
	f->uidnext = (uint32_t)get_le(p + 4, 4);
	f->highestmodseq = get_le(p + 8, 8);
	f->generation = get_le(p + 16, 8);
	return f->uidvalidity == 0 || f->uidnext == 0 ? -1 : 0;
}

static int
apply(struct parse *ps, char type, const unsigned char *p, size_t n)
{
	switch (type) {
	case 'M':
		return parse_msg(ps, p, n);
	case 'F':
		return ps->in_log ? parse_flags(ps, p, n) : -1;
	case 'X':
		return parse_expunge(ps, p, n);
	case 'K':
		return parse_keyword(ps, p, n);
	case 'C':
		return parse_cache(ps, p, n);
	default:
		return -1;
	}
}

/* Reads the records after the header; the octets lost to damage into
   *LOST (0: none). The offset where valid data ends into *VALID. */
static void
read_records(struct parse *ps, struct reader *r, size_t *lost,
    size_t *valid)
{
	const unsigned char *pl;
	size_t plen, at;
	char type;
	enum rec_result rr;

	*lost = 0;
	for (;;) {
		at = r->off;
		rr = next_rec(r, &type, &pl, &plen);
		if (rr == REC_OK && apply(ps, type, pl, plen) == 0)
			continue;
		*valid = at;
		if (rr == REC_END || (rr == REC_TORN && ps->in_log))
			return;
		*lost = r->len - at;
		return;
	}
}

/* Skips UIDs and MODSEQs that LOST octets of records may have given out.
   -1 when UIDs run out. */
static int
skip_lost(struct mbx_folder *f, size_t lost)
{
	uint64_t uidnext = (uint64_t)f->uidnext + lost / MIN_UID_REC + 1;

	if (lost == 0)
		return 0;
	if (uidnext >= UINT32_MAX)
		return -1;
	f->uidnext = (uint32_t)uidnext;
	f->highestmodseq += lost / MIN_MODSEQ_REC + 1;
	return 0;
}

static bool
open_file(struct reader *r, const unsigned char *p, size_t len,
    const char *magic)
{
	r->p = p;
	r->len = len;
	r->off = MAGIC_LEN;
	return p != NULL && len >= MAGIC_LEN && memcmp(p, magic, MAGIC_LEN) ==
	    0;
}

/* The log: its header must carry the snapshot's generation. Returns 1
   on damage (*LOST set), 0 otherwise; *VALID is where its valid records
   end, 0 when it is not a log of this generation at all. */
static int
parse_log(struct parse *ps, const unsigned char *log, size_t loglen,
    size_t *lost, size_t *valid)
{
	struct mbx_folder *f = ps->f, hdr;
	struct reader r;
	const unsigned char *pl;
	size_t plen;
	char type;

	*lost = 0;
	*valid = 0;
	if (log == NULL)
		return 0;
	if (!open_file(&r, log, loglen, LOG_MAGIC)) {
		*lost = loglen;
		return loglen > 0;
	}
	memset(&hdr, 0, sizeof(hdr));
	switch (next_rec(&r, &type, &pl, &plen)) {
	case REC_OK:
		if (type == 'H' && parse_header(&hdr, pl, plen) == 0)
			break;
		/* FALLTHROUGH */
	case REC_BAD:
		*lost = loglen;
		return 1;
	default:
		return 0;	/* cut short while it was made: empty */
	}
	if (hdr.generation != f->generation)
		return 0;	/* stale: the snapshot has it all */
	ps->in_log = true;
	*valid = r.off;
	read_records(ps, &r, lost, valid);
	return *lost > 0;
}

int
mbx_index_parse(struct mbx_folder *f, const unsigned char *snap,
    size_t snaplen, const unsigned char *log, size_t loglen,
    size_t *log_valid_r)
{
	struct parse ps = { f, NULL, false };
	struct reader r;
	const unsigned char *pl;
	size_t plen, lost = 0, lost_log, valid;
	char type;
	int damaged = 0;

	*log_valid_r = 0;
	if (!open_file(&r, snap, snaplen, SNAP_MAGIC) ||
	    next_rec(&r, &type, &pl, &plen) != REC_OK || type != 'H' ||
	    parse_header(f, pl, plen) == -1) {
		mbx_folder_clear(f);
		return 2;
	}
	ps.names = hmap_new();
	read_records(&ps, &r, &lost, &valid);
	damaged = lost > 0;
	if (skip_lost(f, lost) == -1)
		goto fresh;
	damaged |= parse_log(&ps, log, loglen, &lost_log, log_valid_r);
	if (skip_lost(f, lost_log) == -1)
		goto fresh;
	hmap_free(&ps.names, NULL);
	return damaged ? 1 : 0;
fresh:
	hmap_free(&ps.names, NULL);
	mbx_folder_clear(f);
	return 2;
}

/* ---- files ---- */

static int
file_path(const struct mbx_folder *f, const char *name, char *out,
    size_t outsz)
{
	return str_fmt(out, outsz, "%s/%s", f->path, name);
}

/* Reads NAME of F into B; a missing file is empty. */
static int
read_index_file(const struct mbx_folder *f, const char *name, struct buf *b,
    bool *exists)
{
	char path[MBX_PATH_MAX + 32];

	*exists = false;
	if (file_path(f, name, path, sizeof(path)) == -1) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (fs_read_file_at(f->dir_fd, path, b) == -1) {
		if (errno == ENOENT)
			return 0;
		if (errno != EFBIG)
			return -1;
		buf_reset(b);	/* too large to be ours: damaged */
	}
	*exists = true;
	return 0;
}

/* ---- Dovecot's UIDs ---- */

/* One line "UID [FIELDS] :NAME" (version 3) or "UID NAME" (version 1)
   of dovecot-uidlist into H. */
static void
import_line(struct mbx_folder *f, char *line, bool v3, uint32_t *max)
{
	char *sp = strchr(line, ' '), *name;
	uint64_t uid;

	if (sp == NULL || str_to_uint_n(line, (size_t)(sp - line), 1,
	    UINT32_MAX - 1, &uid) == -1)
		return;
	if (v3) {
		if ((name = strstr(sp, " :")) == NULL)
			return;
		name += 2;
	} else {
		name = sp + 1;
	}
	name[strcspn(name, ":")] = '\0';
	if (!base_ok((const unsigned char *)name, strlen(name)))
		return;
	(void)hmap_put(f->import, name, (void *)(uintptr_t)uid);
	if (uid > *max)
		*max = (uint32_t)uid;
}

/* A folder Dovecot served before popgate: its UIDVALIDITY and UIDs are
   kept (dovecot-uidlist, Dovecot's Maildir format), so clients do not
   download everything again. MODSEQs start above any Dovecot can have
   reached, so CONDSTORE clients resync flags once. */
static void
import_dovecot(struct mbx_folder *f)
{
	char path[MBX_PATH_MAX + 32], *line, *nl, *tok;
	uint64_t uv = 0, next = 0;
	uint32_t max = 0;
	struct buf b;
	bool v3;

	buf_init(&b, 64 * 1024 * 1024);
	if (file_path(f, "dovecot-uidlist", path, sizeof(path)) == -1 ||
	    fs_read_file_at(f->dir_fd, path, &b) == -1 || b.len == 0 ||
	    (nl = memchr(b.data, '\n', b.len)) == NULL)
		goto out;
	*nl = '\0';
	v3 = strncmp(b.data, "3 ", 2) == 0;
	if (!v3 && strncmp(b.data, "1 ", 2) != 0)
		goto out;
	for (tok = strtok_r(b.data + 2, " ", &line); tok != NULL;
	    tok = strtok_r(NULL, " ", &line)) {
		const char *num = v3 ? tok + 1 : tok;

		if ((!v3 || *tok == 'V') && uv == 0) {
			if (str_to_uint(num, 1, UINT32_MAX, &uv) == -1)
				uv = 0;
		} else if ((!v3 || *tok == 'N') && next == 0) {
			if (str_to_uint(num, 1, UINT32_MAX, &next) == -1)
				next = 0;
		}
	}
	if (uv == 0 || next == 0)
		goto out;
	f->import = hmap_new();
	for (line = nl + 1; (size_t)(line - b.data) < b.len; line = nl + 1) {
		if ((nl = memchr(line, '\n', b.len - (size_t)(line - b.data))) ==
		    NULL)
			break;
		*nl = '\0';
		import_line(f, line, v3, &max);
	}
	f->uidvalidity = (uint32_t)uv;
	f->uidnext = max >= next ? max + 1 : (uint32_t)next;
	f->highestmodseq = 1ULL << 40;
	log_info("mailbox %s: UIDVALIDITY %u and %zu UIDs taken over from "
	    "dovecot-uidlist", f->path, f->uidvalidity, hmap_count(f->import));
out:
	buf_free(&b);
}

int
mbx_index_load(struct mbx_folder *f, struct mailbox_err *err)
{
	struct buf snap, log;
	bool have_snap, have_log;
	size_t valid;
	int r = -1, p;

	buf_init(&snap, INDEX_FILE_MAX);
	buf_init(&log, INDEX_FILE_MAX);
	if (read_index_file(f, MBX_INDEX, &snap, &have_snap) == -1 ||
	    read_index_file(f, MBX_LOG, &log, &have_log) == -1) {
		mbx_err(err, MAILBOX_ERR_TEMP, "%s: cannot read the index: %s",
		    f->path, strerror(errno));
		goto out;
	}
	p = mbx_index_parse(f, have_snap ? (unsigned char *)snap.data : NULL,
	    snap.len, have_log ? (unsigned char *)log.data : NULL, log.len,
	    &valid);
	if (p == 2) {
		if (have_snap || have_log)
			log_warn("mailbox %s: index unusable, rebuilt with a "
			    "new UIDVALIDITY", f->path);
		f->uidvalidity = mbx_new_uidvalidity(f->uidvalidity);
		f->uidnext = 1;
		f->highestmodseq = 1;
		f->generation = 0;
		if (!have_snap && !have_log)
			import_dovecot(f);
	} else if (p == 1) {
		log_warn("mailbox %s: damaged index repaired, UIDVALIDITY "
		    "%u kept", f->path, f->uidvalidity);
	}
	f->loaded = true;
	f->snap_size = snap.len;
	f->log_size = valid;
	/* Appends go only after a whole log of this generation. */
	if (p != 0 || valid == 0 || valid < log.len) {
		r = mbx_index_compact(f, err);
		goto out;
	}
	r = 0;
out:
	buf_free(&snap);
	buf_free(&log);
	return r;
}

int
mbx_index_compact(struct mbx_folder *f, struct mailbox_err *err)
{
	char path[MBX_PATH_MAX + 32];
	struct buf b;
	size_t i;
	unsigned k;
	int r = -1;

	f->generation++;
	buf_init(&b, BUF_UNLIMITED);
	(void)buf_append(&b, SNAP_MAGIC, MAGIC_LEN);
	rec_header(&b, f);
	for (k = 0; k < f->nkw; k++)
		rec_keyword(&b, f, k);
	for (i = 0; i < f->n; i++) {
		rec_msg(&b, &f->msgs[i]);
		if (f->msgs[i].cache_len > 0)
			rec_cache(&b, &f->msgs[i]);
	}
	for (i = 0; i < f->ntombs; i++)
		rec_expunge(&b, f->tombs[i].uid, f->tombs[i].modseq);
	if (file_path(f, MBX_INDEX, path, sizeof(path)) == -1 ||
	    fs_write_atomic_at(f->dir_fd, path, b.data, b.len, 0600) == -1)
		goto fail;
	f->snap_size = b.len;
	buf_reset(&b);
	(void)buf_append(&b, LOG_MAGIC, MAGIC_LEN);
	rec_header(&b, f);
	if (file_path(f, MBX_LOG, path, sizeof(path)) == -1 ||
	    fs_write_atomic_at(f->dir_fd, path, b.data, b.len, 0600) == -1)
		goto fail;
	if (f->log_fd != -1)
		(void)close(f->log_fd);
	f->log_fd = openat(f->dir_fd, path, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (f->log_fd == -1)
		goto fail;
	f->log_size = b.len;
	buf_reset(&f->pending);	/* the snapshot holds it all */
	r = 0;
	goto out;
fail:
	mbx_err(err, MAILBOX_ERR_TEMP, "%s: cannot write the index: %s",
	    f->path, strerror(errno));
out:
	buf_free(&b);
	return r;
}

int
mbx_index_commit(struct mbx_folder *f, bool durable, struct mailbox_err *err)
{
	char path[MBX_PATH_MAX + 32];

	if (f->pending.len == 0)
		return 0;
	if (f->log_fd == -1) {
		if (file_path(f, MBX_LOG, path, sizeof(path)) == 0)
			f->log_fd = openat(f->dir_fd, path,
			    O_WRONLY | O_APPEND | O_CLOEXEC);
		if (f->log_fd == -1)
			return mbx_index_compact(f, err);
	}
	if (fs_write_all(f->log_fd, f->pending.data, f->pending.len) == -1 ||
	    (durable && fdatasync(f->log_fd) == -1)) {
		int e = errno;

		/* A record cut in the middle would read as damage later. */
		if (ftruncate(f->log_fd, (off_t)f->log_size) == -1) {
			(void)close(f->log_fd);
			f->log_fd = -1;
		}
		mbx_err(err, MAILBOX_ERR_TEMP, "%s: cannot write the index "
		    "log: %s", f->path, strerror(e));
		return -1;
	}
	f->log_size += f->pending.len;
	buf_reset(&f->pending);
	if (f->log_size > COMPACT_MIN && f->log_size > f->snap_size &&
	    mbx_index_compact(f, err) == -1)
		log_warn("mailbox %s: compaction failed: %s", f->path,
		    err != NULL ? err->text : "");
	return 0;
}
