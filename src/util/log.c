/*
 * log.c - line logger for stderr and syslog.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "util/log.h"
#include "util/compat.h"

static const char *log_prog = "popgate";
static enum log_target log_target = LOG_TO_STDERR;
static bool log_debug_on;

/* The daemon never forks: the pid of log_init() stays true. */
static long log_pid;

void
log_init(const char *progname, enum log_target target)
{
	log_prog = progname;
	log_pid = (long)getpid();
	if (log_target == LOG_TO_SYSLOG && target != LOG_TO_SYSLOG)
		closelog();
	log_target = target;
	if (target == LOG_TO_SYSLOG)
		openlog(progname, LOG_PID | LOG_NDELAY, LOG_MAIL);
}

void
log_set_debug(bool on)
{
	log_debug_on = on;
}

bool
log_debug_enabled(void)
{
	return log_debug_on;
}

/*
 * Copies the formatted message MSG into DST (room for DSTSZ octets, no
 * NUL) with every control octet and every octet above 0x7e as \xNN: a
 * log line is one line of ASCII whatever a client sent, even where a
 * caller logs an untrusted string without str_vis(). Returns the length.
 */
static size_t
log_escape(char *dst, size_t dstsz, const char *msg)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p;
	size_t off = 0;

	for (p = (const unsigned char *)msg; *p != '\0'; p++) {
		if (*p >= 0x20 && *p < 0x7f) {
			if (off + 1 > dstsz)
				break;
			dst[off++] = (char)*p;
			continue;
		}
		if (off + 4 > dstsz)
			break;
		dst[off++] = '\\';
		dst[off++] = 'x';
		dst[off++] = hex[*p >> 4];
		dst[off++] = hex[*p & 15];
	}
	return off;
}

/* Whether C may stand in a bare (unquoted) value. */
static bool
log_bare_ok(unsigned char c)
{
	return c > 0x20 && c < 0x7f && c != '"' && c != '\\' && c != '=';
}

/* Whether the NPARTS strings of PARTS, one after the other, make a bare
   value: non-empty and nothing but log_bare_ok() octets. */
static bool
log_bare(const char *const *parts, size_t nparts, size_t *len_r)
{
	const unsigned char *p;
	size_t i, len = 0;
	bool ok = true;

	for (i = 0; i < nparts; i++)
		for (p = (const unsigned char *)parts[i]; *p != '\0'; p++) {
			ok = ok && log_bare_ok(*p);
			len++;
		}
	*len_r = len;
	return ok && len > 0;
}

/* log_quote() of the concatenation of PARTS; quoted whatever they hold
   if FORCE. */
static char *
log_quote_parts(char *dst, size_t dstsz, const char *const *parts,
    size_t nparts, bool force)
{
	const unsigned char *p;
	size_t off = 0, len, i;

	if (dstsz == 0)
		return dst;
	if (log_bare(parts, nparts, &len) && !force && len < dstsz) {
		for (i = 0; i < nparts; i++)
			for (p = (const unsigned char *)parts[i]; *p != '\0';
			    p++)
				dst[off++] = (char)*p;
		dst[off] = '\0';
		return dst;
	}
	dst[0] = '\0';
	if (dstsz < 3)
		return dst;
	dst[off++] = '"';
	/* Room is kept for the closing quote and the NUL. */
	for (i = 0; i < nparts; i++)
		for (p = (const unsigned char *)parts[i]; *p != '\0'; p++) {
			bool esc = *p == '"' || *p == '\\';

			if (off + (esc ? 2 : 1) > dstsz - 2)
				goto close;
			if (esc)
				dst[off++] = '\\';
			dst[off++] = (char)*p;
		}
close:
	dst[off++] = '"';
	dst[off] = '\0';
	return dst;
}

char *
log_quote(char *dst, size_t dstsz, const char *value)
{
	return log_quote_parts(dst, dstsz, &value, 1, false);
}

char *
log_quote_text(char *dst, size_t dstsz, const char *value)
{
	return log_quote_parts(dst, dstsz, &value, 1, true);
}

char *
log_quote_addr(char *dst, size_t dstsz, const char *addr)
{
	const char *parts[3] = { "<", addr, ">" };

	return log_quote_parts(dst, dstsz, parts, nitems(parts), false);
}

static void
log_vline(int prio, const char *fmt, va_list ap)
{
	char line[2048], msg[2048];
	size_t off = 0;
	int n;

	if (vsnprintf(msg, sizeof(msg), fmt, ap) < 0)
		msg[0] = '\0';
	if (log_target == LOG_TO_SYSLOG) {
		off = log_escape(line, sizeof(line) - 1, msg);
		line[off] = '\0';
		syslog(prio, "%s", line);
		return;
	}
	{
		struct timespec ts;
		struct tm tm;

		(void)clock_gettime(CLOCK_REALTIME, &ts);
		(void)gmtime_r(&ts.tv_sec, &tm);
		off = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
		n = snprintf(line + off, sizeof(line) - off, ".%03ldZ %s[%ld]: ",
		    ts.tv_nsec / 1000000, log_prog, log_pid != 0 ? log_pid :
		    (long)getpid());
		if (n > 0)
			off += (size_t)n;
	}
	if (prio == LOG_WARNING || prio == LOG_ERR || prio == LOG_CRIT) {
		const char *tag = prio == LOG_WARNING ? "warning: " :
		    prio == LOG_ERR ? "error: " : "fatal: ";

		n = snprintf(line + off, sizeof(line) - off, "%s", tag);
		if (n > 0)
			off += (size_t)n;
	}
	if (off > sizeof(line) - 1)
		off = sizeof(line) - 1;
	off += log_escape(line + off, sizeof(line) - 1 - off, msg);
	line[off++] = '\n';
	(void)!write(STDERR_FILENO, line, off);
}

#define LOG_FN(name, prio)                                                 \
	void name(const char *fmt, ...)                                    \
	{                                                                  \
		va_list ap;                                                \
		va_start(ap, fmt);                                         \
		log_vline(prio, fmt, ap);                                  \
		va_end(ap);                                                \
	}

LOG_FN(log_info, LOG_INFO)
LOG_FN(log_warn, LOG_WARNING)
LOG_FN(log_error, LOG_ERR)

void
log_debug(const char *fmt, ...)
{
	va_list ap;

	if (!log_debug_on)
		return;
	va_start(ap, fmt);
	log_vline(LOG_DEBUG, fmt, ap);
	va_end(ap);
}

void
log_fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vline(LOG_CRIT, fmt, ap);
	va_end(ap);
	exit(1);
}

void
log_panic(const char *file, int line, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_error("panic at %s:%d: %s", file, line, msg);
	abort();
}
