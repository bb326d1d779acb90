/*
 * log.h - one event per line, to stderr or syslog (STYLE.md section 5).
 *
 * Lines are "ids first, then key=value". Network text must go through
 * str_vis() before it is logged; passwords and AUTH data never are.
 * Safe to call from worker threads: a line is written with one write(2).
 */
#ifndef POPGATE_LOG_H
#define POPGATE_LOG_H

#include <stdbool.h>
#include <stddef.h>

#include "util/compat.h"

enum log_target {
	LOG_TO_STDERR,
	LOG_TO_SYSLOG,
};

/* Where lines go from now on. PROGNAME is kept by reference. */
void	log_init(const char *progname, enum log_target);
/* Debug traces on or off (off by default). */
void	log_set_debug(bool);
bool	log_debug_enabled(void);

void	log_info(const char *, ...) PRINTFLIKE(1, 2);
void	log_warn(const char *, ...) PRINTFLIKE(1, 2);
void	log_error(const char *, ...) PRINTFLIKE(1, 2);
void	log_debug(const char *, ...) PRINTFLIKE(1, 2);
/*
 * Room log_quote() needs for a value of N octets: every octet escaped, the
 * two quotes and the NUL.
 */
#define LOG_QUOTE_SZ(n)	(2 * (n) + 3)
/*
 * Writes VALUE, a string a client or a remote server supplied (a login
 * name, a HELO, an address, a reply text), into DST (DSTSZ octets, at
 * least 3) as one token of a key=value line, so that it can never supply
 * another field: as it is when it is a non-empty run of printable ASCII
 * without space, '"', '\\' or '=', otherwise between double quotes with
 * '"' and '\\' escaped by a backslash (control and 8-bit octets become
 * \xNN in the line itself). A value too long is cut, never inside an
 * escape, and the quote is always closed. Returns DST.
 */
char	*log_quote(char *dst, size_t dstsz, const char *value);
/* log_quote() always between quotes: for the fields a text fills (a
   reply=, a reason=), quoted even when the text is one word. */
char	*log_quote_text(char *dst, size_t dstsz, const char *value);
/* log_quote() of "<ADDR>": the from=<...>, to=<...> of an envelope
   address, bare as before unless ADDR holds a space, '"', '\\', '=' or
   an unprintable octet. DSTSZ: LOG_QUOTE_SZ(strlen(ADDR) + 2). */
char	*log_quote_addr(char *dst, size_t dstsz, const char *addr);

/* Startup only (config, bind, privilege drop): logs and exits 1. */
void	log_fatal(const char *, ...) PRINTFLIKE(1, 2) NORETURN;
/* A broken invariant: logs with the location and aborts. */
void	log_panic(const char *file, int line, const char *, ...)
	    PRINTFLIKE(3, 4) NORETURN;

#define PANIC(...) log_panic(__FILE__, __LINE__, __VA_ARGS__)

#endif
