/*
 * log.c - line logger for stderr and syslog.
 */
#include <stdarg.h>
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

static void
log_vline(int prio, const char *fmt, va_list ap)
{
	char line[2048];
	size_t off = 0;
	int n;

	if (log_target == LOG_TO_SYSLOG) {
		vsyslog(prio, fmt, ap);
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
	n = vsnprintf(line + off, sizeof(line) - off - 1, fmt, ap);
	if (n < 0)
		n = 0;
	off += (size_t)n;
	if (off > sizeof(line) - 2)
		off = sizeof(line) - 2;
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
