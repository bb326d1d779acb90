/*
 * imap_parse_util.c - the pure helpers of imap_parse.h the session
 * needs beside the parser: literal announcements at the end of a line
 * (RFC 7888), sequence-set membership, resolution and iteration (RFC
 * 9051 9, "seq-range"), date and date-time (9, "date", "date-time"),
 * strings for responses (4.3: quoted or literal), mailbox-name checks
 * for Maildir++ folders and UTF-8 validation (RFC 3629).
 */
#include <stdlib.h>
#include <strings.h>

#include "imap/imap_parse_int.h"
#include "util/str.h"
#include "util/compat.h"

const char imap_months[12][4] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	"Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
};

/* ---- the reading loop ---- */

int
imap_literal_scan(const char *line, size_t len, uint64_t max,
    struct imap_literal *lit)
{
	size_t i, start, end;
	uint64_t n = 0;
	bool nonsync = false;

	if (len < 3 || line[len - 1] != '}')
		return 0;
	end = len - 1;
	if (line[end - 1] == '+') {
		nonsync = true;
		end--;
	}
	for (start = end; start > 0 && line[start - 1] >= '0' &&
	    line[start - 1] <= '9'; start--)
		;
	if (start == end || start == 0 || line[start - 1] != '{')
		return 0;
	for (i = start; i < end; i++) {
		/* number64: beyond 2^63 - 1 it is too big for anyone. */
		if (n > (IMAP_NUM64_MAX - (uint64_t)(line[i] - '0')) / 10) {
			n = UINT64_MAX;
			break;
		}
		n = n * 10 + (uint64_t)(line[i] - '0');
	}
	lit->size = n;
	lit->nonsync = nonsync;
	lit->binary = start >= 2 && line[start - 2] == '~';
	return n == UINT64_MAX || n > max ? -1 : 1;
}

bool
imap_is_done(const char *line, size_t len)
{
	return len == 4 && strncasecmp(line, "DONE", 4) == 0;
}

/* ---- sequence sets ---- */

/* R against MAX: '*' is MAX, the two ends in order. */
static void
range_resolve(const struct imap_range *r, uint32_t max, uint32_t *lo,
    uint32_t *hi)
{
	uint32_t a = r->lo == IMAP_SEQ_STAR ? max : r->lo;
	uint32_t b = r->hi == IMAP_SEQ_STAR ? max : r->hi;

	*lo = a < b ? a : b;
	*hi = a < b ? b : a;
}

bool
imap_seqset_contains(const struct imap_seqset *set, uint32_t n, uint32_t max)
{
	uint32_t lo, hi;
	size_t i;

	for (i = 0; i < set->n; i++) {
		range_resolve(&set->r[i], max, &lo, &hi);
		if (n >= lo && n <= hi)
			return true;
	}
	return false;
}

bool
imap_seqset_in_bounds(const struct imap_seqset *set, uint32_t max)
{
	size_t i;

	for (i = 0; i < set->n; i++)
		if ((set->r[i].lo != IMAP_SEQ_STAR && set->r[i].lo > max) ||
		    (set->r[i].hi != IMAP_SEQ_STAR && set->r[i].hi > max))
			return false;
	return true;
}

static int
range_cmp(const void *a, const void *b)
{
	const struct imap_range *x = a, *y = b;

	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

size_t
imap_seqset_resolve(const struct imap_seqset *set, uint32_t max,
    struct imap_range *out)
{
	uint32_t lo, hi;
	size_t i, n = 0, m;

	for (i = 0; i < set->n; i++) {
		range_resolve(&set->r[i], max, &lo, &hi);
		if (lo == 0)
			lo = 1;
		if (hi > max)
			hi = max;
		if (lo > hi)
			continue;
		out[n].lo = lo;
		out[n++].hi = hi;
	}
	if (n < 2)
		return n;
	qsort(out, n, sizeof(*out), range_cmp);
	for (i = 1, m = 0; i < n; i++) {
		/* Overlapping or adjacent ranges merge (hi + 1: hi <= max
		   < UINT32_MAX is not certain, so compare without it). */
		if (out[i].lo <= out[m].hi || out[i].lo - out[m].hi == 1) {
			if (out[i].hi > out[m].hi)
				out[m].hi = out[i].hi;
		} else {
			out[++m] = out[i];
		}
	}
	return m + 1;
}

void
imap_seq_iter_init(struct imap_seq_iter *it, const struct imap_range *r,
    size_t n)
{
	it->r = r;
	it->n = n;
	it->i = 0;
	it->next = n > 0 ? r[0].lo : 0;
}

int
imap_seq_iter_next(struct imap_seq_iter *it, uint32_t *n)
{
	if (it->i >= it->n)
		return 0;
	*n = it->next;
	if (it->next == it->r[it->i].hi) {
		if (++it->i < it->n)
			it->next = it->r[it->i].lo;
	} else {
		it->next++;
	}
	return 1;
}

/* ---- dates ---- */

static bool
is_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int
month_days(int y, int m)
{
	static const int days[12] = {
		31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31,
	};

	return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

/* Days from 1970-01-01 to Y-M-D, proleptic Gregorian (the civil-days
   algorithm: eras of 400 years). */
static int64_t
days_from_civil(int y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* N decimal digits at S into *V. */
static bool
digits(const char *s, size_t n, int *v)
{
	size_t i;

	*v = 0;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		*v = *v * 10 + (s[i] - '0');
	}
	return true;
}

/* "-Mon-yyyy" at S (9 octets) into *MON, *YEAR. */
static bool
month_year(const char *s, int *mon, int *year)
{
	int m;

	if (s[0] != '-' || s[4] != '-' || !digits(s + 5, 4, year))
		return false;
	for (m = 0; m < 12; m++)
		if (strncasecmp(s + 1, imap_months[m], 3) == 0) {
			*mon = m + 1;
			return true;
		}
	return false;
}

/* date-text = date-day "-" date-month "-" date-year */
int
imap_date_parse(const char *s, size_t len, struct imap_date *d)
{
	int day, mon, year;
	size_t dl = len == 11 ? 2 : 1;

	if ((len != 10 && len != 11) || !digits(s, dl, &day) ||
	    !month_year(s + dl, &mon, &year) || day < 1 ||
	    day > month_days(year, mon))
		return -1;
	d->year = year;
	d->mon = mon;
	d->day = day;
	d->t = (time_t)(days_from_civil(year, mon, day) * 86400);
	return 0;
}

int
imap_datetime_parse(const char *s, size_t len, time_t *t, int *zone)
{
	int day, mon, year, hh, mm, ss, zh, zm;
	size_t dl;

	/* date-day-fixed = (SP DIGIT) / 2DIGIT; a lone digit passes. */
	if (len > 0 && s[0] == ' ') {
		s++;
		len--;
	}
	dl = len == 26 ? 2 : 1;
	if ((len != 25 && len != 26) || !digits(s, dl, &day))
		return -1;
	s += dl;
	/* "-Mon-yyyy hh:mm:ss +zzzz" */
	if (!month_year(s, &mon, &year) || s[9] != ' ' ||
	    !digits(s + 10, 2, &hh) || s[12] != ':' ||
	    !digits(s + 13, 2, &mm) || s[15] != ':' ||
	    !digits(s + 16, 2, &ss) || s[18] != ' ' ||
	    (s[19] != '+' && s[19] != '-') || !digits(s + 20, 2, &zh) ||
	    !digits(s + 22, 2, &zm))
		return -1;
	if (day < 1 || day > month_days(year, mon) || hh > 23 || mm > 59 ||
	    ss > 60 || zm > 59)
		return -1;
	*zone = (zh * 60 + zm) * (s[19] == '-' ? -1 : 1);
	*t = (time_t)(days_from_civil(year, mon, day) * 86400 + hh * 3600 +
	    mm * 60 + ss - (int64_t)*zone * 60);
	return 0;
}

int
imap_put_datetime(struct buf *b, time_t t, int zone)
{
	struct tm tm;
	time_t local;
	int az = zone < 0 ? -zone : zone;

	if (zone <= -100 * 60 || zone >= 100 * 60 ||
	    __builtin_add_overflow(t, (time_t)zone * 60, &local) ||
	    gmtime_r(&local, &tm) == NULL || tm.tm_year + 1900 < 0 ||
	    tm.tm_year + 1900 > 9999)
		return -1;
	return buf_printf(b, "\"%2d-%s-%04d %02d:%02d:%02d %c%02d%02d\"",
	    tm.tm_mday, imap_months[tm.tm_mon], tm.tm_year + 1900,
	    tm.tm_hour, tm.tm_min, tm.tm_sec, zone < 0 ? '-' : '+', az / 60,
	    az % 60);
}

/* ---- strings in responses ---- */

/* Quoted strings longer than this go as literals: easier on clients
   and on the eye in traces. */
#define QUOTED_MAX	1024

static bool
quotable(const char *s, size_t len, unsigned flags)
{
	bool eight = false;
	size_t i;

	if (len > QUOTED_MAX)
		return false;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\0' || c == '\r' || c == '\n')
			return false;
		eight |= c >= 0x80;
	}
	return !eight || ((flags & IMAP_PUT_UTF8) && imap_utf8_valid(s, len));
}

int
imap_put_string(struct buf *b, const char *s, size_t len, unsigned flags)
{
	size_t save = b->len, i, from;

	if (!quotable(s, len, flags)) {
		if (buf_printf(b, "{%zu}\r\n", len) == -1 ||
		    buf_append(b, s, len) == -1)
			goto fail;
		return 0;
	}
	if (buf_putc(b, '"') == -1)
		goto fail;
	for (i = from = 0; i < len; i++) {
		if (s[i] != '"' && s[i] != '\\')
			continue;
		if (buf_append(b, s + from, i - from) == -1 ||
		    buf_putc(b, '\\') == -1)
			goto fail;
		from = i;
	}
	if (buf_append(b, s + from, len - from) == -1 ||
	    buf_putc(b, '"') == -1)
		goto fail;
	return 0;
fail:
	buf_truncate(b, save);
	return -1;
}

int
imap_put_astring(struct buf *b, const char *s, size_t len, unsigned flags)
{
	size_t i;

	/* An atom "NIL" would read as NIL where an nstring may stand. */
	if (len == 0 || (len == 3 && strncasecmp(s, "NIL", 3) == 0))
		return imap_put_string(b, s, len, flags);
	for (i = 0; i < len; i++)
		if (!imap_is_astring_char((unsigned char)s[i]))
			return imap_put_string(b, s, len, flags);
	return buf_append(b, s, len);
}

int
imap_put_nstring(struct buf *b, const char *s, size_t len, unsigned flags)
{
	if (s == NULL)
		return buf_append(b, "NIL", 3);
	return imap_put_string(b, s, len, flags);
}

/* ---- mailbox names, UTF-8 ---- */

bool
imap_utf8_valid(const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0, n;

	while (i < len) {
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		if ((n = str_utf8_seq(s + i, len - i)) == 0)
			return false;
		i += n;
	}
	return true;
}

bool
imap_mailbox_name_ok(const char *name, size_t len, const char **why)
{
	size_t i;

	if (len == 0) {
		*why = "empty mailbox name";
		return false;
	}
	if (len > IMAP_MAILBOX_MAX) {
		*why = "mailbox name too long";
		return false;
	}
	if (!imap_utf8_valid(name, len)) {
		*why = "mailbox name is not UTF-8";
		return false;
	}
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c < 0x20 || c == 0x7f) {
			*why = "control character in mailbox name";
			return false;
		}
		/* A path separator would leave the Maildir; wildcards
		   could never be listed back (RFC 9051 5.1). */
		if (c == '/' || c == '*' || c == '%') {
			*why = c == '/' ? "'/' in mailbox name" :
			    "wildcard in mailbox name";
			return false;
		}
		/* '.' is the hierarchy separator: no empty level. */
		if (c == '.' && (i == 0 || i == len - 1 ||
		    name[i + 1] == '.')) {
			*why = "empty level in mailbox name";
			return false;
		}
	}
	return true;
}
