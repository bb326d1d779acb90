/*
 * mailbox_name.c - folder names (UTF-8, RFC 3629), their modified UTF-7
 * directory form (RFC 3501 5.1.3, Dovecot's default on disk), LIST
 * pattern matching (RFC 9051 6.3.9), and the Maildir file name rules:
 * the ":2," info letters, unique names, POP3 UIDLs.
 *
 * A folder name can never name a path outside the user's Maildir: '/'
 * and control bytes are refused, and every level becomes part of one
 * directory name ".A.B" that starts with '.', holds no '/' and is never
 * "." or "..".
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "mailbox/mailbox_int.h"
#include "util/str.h"
#include "util/compat.h"

void
mbx_err(struct mailbox_err *err, enum mailbox_errcode code, const char *fmt,
    ...)
{
	va_list ap;

	if (err == NULL)
		return;
	err->code = code;
	va_start(ap, fmt);
	(void)vsnprintf(err->text, sizeof(err->text), fmt, ap);
	va_end(ap);
}

bool
mbx_is_inbox(const char *name)
{
	return strcasecmp(name, "INBOX") == 0;
}

/* Decodes one UTF-8 sequence at S (LEN octets left): the code point, or
   -1 for an invalid, overlong or surrogate sequence. *N its length. */
static long
utf8_next(const unsigned char *s, size_t len, size_t *n)
{
	unsigned long c;
	size_t need, i;

	if (s[0] < 0x80) {
		*n = 1;
		return s[0];
	}
	if ((s[0] & 0xe0) == 0xc0) {
		need = 2;
		c = s[0] & 0x1f;
	} else if ((s[0] & 0xf0) == 0xe0) {
		need = 3;
		c = s[0] & 0x0f;
	} else if ((s[0] & 0xf8) == 0xf0) {
		need = 4;
		c = s[0] & 0x07;
	} else {
		return -1;
	}
	if (need > len)
		return -1;
	for (i = 1; i < need; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return -1;
		c = (c << 6) | (s[i] & 0x3f);
	}
	if ((need == 2 && c < 0x80) || (need == 3 && c < 0x800) ||
	    (need == 4 && c < 0x10000) || c > 0x10ffff ||
	    (c >= 0xd800 && c <= 0xdfff))
		return -1;
	*n = need;
	return (long)c;
}

bool
mbx_utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, n;
	long c;

	while (i < len) {
		c = utf8_next(p + i, len - i, &n);
		if (c < 0x20 || c == 0x7f || (c >= 0x80 && c <= 0x9f))
			return false;
		i += n;
	}
	return true;
}

bool
mailbox_name_valid(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > MAILBOX_NAME_MAX || !mbx_utf8_valid(name, len))
		return false;
	if (mbx_is_inbox(name))
		return true;
	if (name[0] == '.' || name[len - 1] == '.' ||
	    strstr(name, "..") != NULL || strpbrk(name, "/*%") != NULL)
		return false;
	/* Children of INBOX would be ".INBOX.x" beside INBOX's own files:
	   the namespace is "" with INBOX at the top, so none are made. */
	return strncasecmp(name, "INBOX.", 6) != 0;
}

/* ---- modified UTF-7 ---- */

static const char b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

static int
put(char *out, size_t outsz, size_t *o, char c)
{
	if (*o + 1 >= outsz)
		return -1;
	out[(*o)++] = c;
	return 0;
}

/* Appends the UTF-16 unit U to the base64 run (bits in *ACC). */
static int
put16(char *out, size_t outsz, size_t *o, unsigned u, unsigned long *acc,
    unsigned *bits)
{
	*acc = (*acc << 16) | u;
	*bits += 16;
	while (*bits >= 6) {
		*bits -= 6;
		if (put(out, outsz, o, b64[(*acc >> *bits) & 0x3f]) == -1)
			return -1;
	}
	*acc &= (1UL << *bits) - 1;
	return 0;
}

int
mailbox_utf8_to_mutf7(const char *in, char *out, size_t outsz)
{
	const unsigned char *p = (const unsigned char *)in;
	size_t len = strlen(in), i = 0, o = 0, n;
	unsigned long acc = 0;
	unsigned bits = 0;
	bool shifted = false;
	long c;

	while (i < len) {
		c = utf8_next(p + i, len - i, &n);
		if (c < 0)
			return -1;
		i += n;
		if (c >= 0x20 && c <= 0x7e) {
			if (shifted) {
				if (bits > 0 && put(out, outsz, &o,
				    b64[(acc << (6 - bits)) & 0x3f]) == -1)
					return -1;
				if (put(out, outsz, &o, '-') == -1)
					return -1;
				shifted = false;
				acc = bits = 0;
			}
			if (put(out, outsz, &o, (char)c) == -1 ||
			    (c == '&' && put(out, outsz, &o, '-') == -1))
				return -1;
			continue;
		}
		if (!shifted && put(out, outsz, &o, '&') == -1)
			return -1;
		shifted = true;
		if (c >= 0x10000) {
			c -= 0x10000;
			if (put16(out, outsz, &o, 0xd800 | (unsigned)(c >> 10),
			    &acc, &bits) == -1 || put16(out, outsz, &o,
			    0xdc00 | (unsigned)(c & 0x3ff), &acc, &bits) == -1)
				return -1;
		} else if (put16(out, outsz, &o, (unsigned)c, &acc, &bits) ==
		    -1) {
			return -1;
		}
	}
	if (shifted && ((bits > 0 && put(out, outsz, &o,
	    b64[(acc << (6 - bits)) & 0x3f]) == -1) ||
	    put(out, outsz, &o, '-') == -1))
		return -1;
	if (o >= outsz)
		return -1;
	out[o] = '\0';
	return 0;
}

static int
put_utf8(char *out, size_t outsz, size_t *o, unsigned long c)
{
	if (c < 0x80)
		return put(out, outsz, o, (char)c);
	if (c < 0x800)
		return put(out, outsz, o, (char)(0xc0 | (c >> 6))) == -1 ||
		    put(out, outsz, o, (char)(0x80 | (c & 0x3f))) == -1 ?
		    -1 : 0;
	if (c < 0x10000)
		return put(out, outsz, o, (char)(0xe0 | (c >> 12))) == -1 ||
		    put(out, outsz, o, (char)(0x80 | ((c >> 6) & 0x3f))) ==
		    -1 || put(out, outsz, o, (char)(0x80 | (c & 0x3f))) ==
		    -1 ? -1 : 0;
	return put(out, outsz, o, (char)(0xf0 | (c >> 18))) == -1 ||
	    put(out, outsz, o, (char)(0x80 | ((c >> 12) & 0x3f))) == -1 ||
	    put(out, outsz, o, (char)(0x80 | ((c >> 6) & 0x3f))) == -1 ||
	    put(out, outsz, o, (char)(0x80 | (c & 0x3f))) == -1 ? -1 : 0;
}

/* Decodes the base64 run at P up to '-' into OUT; *P moves past '-'. */
static int
decode_run(const char **pp, char *out, size_t outsz, size_t *o)
{
	const char *p = *pp, *q;
	unsigned long acc = 0, hi = 0;
	unsigned bits = 0, units = 0;

	for (; *p != '-'; p++) {
		if (*p == '\0' || (q = strchr(b64, *p)) == NULL)
			return -1;
		acc = (acc << 6) | (unsigned long)(q - b64);
		bits += 6;
		if (bits < 16)
			continue;
		bits -= 16;
		{
			unsigned long u = (acc >> bits) & 0xffff;

			acc &= (1UL << bits) - 1;
			units++;
			if (hi != 0) {
				if (u < 0xdc00 || u > 0xdfff)
					return -1;
				u = 0x10000 + ((hi - 0xd800) << 10) +
				    (u - 0xdc00);
				hi = 0;
			} else if (u >= 0xd800 && u <= 0xdbff) {
				hi = u;
				continue;
			} else if ((u >= 0xdc00 && u <= 0xdfff) ||
			    (u >= 0x20 && u <= 0x7e)) {
				return -1;	/* must be written directly */
			}
			if (put_utf8(out, outsz, o, u) == -1)
				return -1;
		}
	}
	/* Empty runs, dangling surrogates and non-zero padding bits are
	   not the one encoding of a name. */
	if (units == 0 || hi != 0 || bits >= 6 || acc != 0)
		return -1;
	*pp = p + 1;
	return 0;
}

int
mailbox_mutf7_to_utf8(const char *in, char *out, size_t outsz)
{
	const char *p = in;
	size_t o = 0;

	while (*p != '\0') {
		if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
			return -1;
		if (*p != '&') {
			if (put(out, outsz, &o, *p++) == -1)
				return -1;
			continue;
		}
		p++;
		if (*p == '-') {
			if (put(out, outsz, &o, '&') == -1)
				return -1;
			p++;
			continue;
		}
		if (decode_run(&p, out, outsz, &o) == -1)
			return -1;
	}
	if (o >= outsz)
		return -1;
	out[o] = '\0';
	return 0;
}

int
mbx_folder_path(const char *root, const char *name, char *out, size_t outsz)
{
	char enc[NAME_MAX + 1];

	if (mbx_is_inbox(name))
		return str_copy(out, root, outsz);
	if (!mailbox_name_valid(name) ||
	    mailbox_utf8_to_mutf7(name, enc, sizeof(enc) - 1) == -1)
		return -1;
	return str_fmt(out, outsz, "%s/.%s", root, enc);
}

/* ---- LIST patterns ---- */

#define PATTERN_MAX	1024

bool
mailbox_pattern_match(const char *pattern, const char *name)
{
	char pat[PATTERN_MAX + 1];
	bool cur[PATTERN_MAX + 2], nxt[PATTERN_MAX + 2];
	size_t plen = strlen(pattern), i, k;
	const char *s;

	if (plen > PATTERN_MAX || str_copy(pat, pattern, sizeof(pat)) == -1)
		return false;
	/* INBOX is case-insensitive, in the pattern too (RFC 9051 5.1). */
	if (strcmp(name, "INBOX") == 0)
		for (i = 0; i < plen && i < 5; i++)
			pat[i] = (char)(pat[i] >= 'a' && pat[i] <= 'z' ?
			    pat[i] - 32 : pat[i]);
	/* An NFA over the pattern positions: state k = "matched the
	   pattern's first k octets"; a wildcard may stay where it is. */
	memset(cur, 0, sizeof(cur));
	cur[0] = true;
	for (k = 0; k < plen && (pat[k] == '*' || pat[k] == '%'); k++)
		cur[k + 1] = true;
	for (s = name; *s != '\0'; s++) {
		memset(nxt, 0, plen + 1);
		for (k = 0; k < plen; k++) {
			if (!cur[k])
				continue;
			if (pat[k] == '*' || (pat[k] == '%' && *s != '.'))
				nxt[k] = true;
			else if (pat[k] == *s)
				nxt[k + 1] = true;
		}
		/* Wildcards match the empty string too. */
		for (k = 0; k < plen; k++)
			if (nxt[k] && (pat[k] == '*' || pat[k] == '%'))
				nxt[k + 1] = true;
		memcpy(cur, nxt, plen + 1);
	}
	return cur[plen];
}

/* ---- Maildir file names ---- */

static const struct {
	char		 letter;
	unsigned	 flag;
} letters[] = {
	{ 'D', MAILBOX_DRAFT },
	{ 'F', MAILBOX_FLAGGED },
	{ 'R', MAILBOX_ANSWERED },
	{ 'S', MAILBOX_SEEN },
	{ 'T', MAILBOX_DELETED },
};

size_t
mbx_base_len(const char *name)
{
	return strcspn(name, ":");
}

bool
mbx_file_name_ok(const char *name)
{
	size_t b = mbx_base_len(name);

	return name[0] != '.' && b > 0 && b <= MBX_BASE_MAX &&
	    strlen(name) < NAME_MAX && strchr(name, '/') == NULL;
}

/* The info letters of NAME (after ":2,"), or "". */
static const char *
info_of(const char *name)
{
	const char *c = strchr(name, ':');

	return c != NULL && strncmp(c, ":2,", 3) == 0 ? c + 3 : "";
}

unsigned
mbx_flags_from_name(const char *name)
{
	const char *info = info_of(name);
	unsigned f = 0;
	size_t i;

	for (i = 0; i < nitems(letters); i++)
		if (strchr(info, letters[i].letter) != NULL)
			f |= letters[i].flag;
	return f;
}

int
mbx_name_with_flags(const char *name, size_t base_len, unsigned flags,
    char *out, size_t outsz)
{
	bool have[256];
	const unsigned char *p;
	size_t i, o;

	memset(have, 0, sizeof(have));
	for (p = (const unsigned char *)info_of(name); *p != '\0'; p++)
		if (*p > 0x20 && *p < 0x7f)
			have[*p] = true;
	for (i = 0; i < nitems(letters); i++)
		have[(unsigned char)letters[i].letter] =
		    (flags & letters[i].flag) != 0;
	if (str_ncopy(out, name, base_len, outsz) == -1 ||
	    base_len + 3 >= outsz)
		return -1;
	memcpy(out + base_len, ":2,", 4);
	o = base_len + 3;
	for (i = 0x21; i < 0x7f; i++) {
		if (!have[i])
			continue;
		if (o + 1 >= outsz)
			return -1;
		out[o++] = (char)i;
	}
	out[o] = '\0';
	return 0;
}

static _Atomic unsigned long long name_seq;

int
mbx_unique_name(const char *host, uint64_t size, uint64_t vsize, char *out,
    size_t outsz)
{
	char h[64];
	struct timespec ts;
	uint32_t r;
	size_t i, o = 0;

	for (i = 0; host[i] != '\0' && o + 5 < sizeof(h); i++) {
		if (host[i] == '/' || host[i] == ':' || host[i] == ',' ||
		    (unsigned char)host[i] < 0x21 ||
		    (unsigned char)host[i] > 0x7e) {
			(void)snprintf(h + o, sizeof(h) - o, "\\%03o",
			    (unsigned char)host[i]);
			o += 4;
		} else {
			h[o++] = host[i];
		}
	}
	h[o] = '\0';
	(void)clock_gettime(CLOCK_REALTIME, &ts);
	if (RAND_bytes((unsigned char *)&r, sizeof(r)) != 1)
		return -1;
	return str_fmt(out, outsz, "%lld.M%06ldP%ldQ%lluR%08x.%s,S=%llu,W=%llu",
	    (long long)ts.tv_sec, ts.tv_nsec / 1000, (long)getpid(),
	    ++name_seq, r, h, (unsigned long long)size,
	    (unsigned long long)vsize);
}

void
mailbox_uidl(const char *file, char out[MAILBOX_UIDL_MAX + 1])
{
	size_t n = strcspn(file, ",:"), i;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	bool ok = n > 0 && n <= MAILBOX_UIDL_MAX;

	for (i = 0; ok && i < n; i++)
		if (file[i] < 0x21 || file[i] > 0x7e)
			ok = false;
	if (ok) {
		memcpy(out, file, n);
		out[n] = '\0';
		return;
	}
	(void)EVP_Digest(file, n, md, &mdlen, EVP_sha256(), NULL);
	out[0] = '\0';
	for (i = 0; i < 20 && i < mdlen; i++)
		(void)snprintf(out + 2 * i, 3, "%02x", md[i]);
}

bool
mbx_keyword_valid(const char *kw)
{
	size_t len = strlen(kw), i;

	if (len == 0 || len > MAILBOX_KEYWORD_MAX || kw[0] == '\\')
		return false;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)kw[i];

		/* atom-char: no atom-specials (RFC 9051 9) nor ']'. */
		if (c <= 0x20 || c >= 0x7f || strchr("(){%*\"\\]", c) != NULL)
			return false;
	}
	return true;
}
