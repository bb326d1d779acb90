/*
 * imap_body.h - the FETCH items ENVELOPE, BODY and BODYSTRUCTURE (RFC
 * 9051 7.5.2, the body grammar of section 9) from a parsed MIME tree
 * (mime/mime.h).
 *
 * Strings go out as quoted strings when they are short 7-bit text
 * without CR, LF or NUL, as literals {n} otherwise (8-bit names, long
 * values), NIL when absent. What the tree does not say gets Dovecot's
 * defaults, so a client sees the same structure from both servers:
 * "text" "plain" ("charset" "us-ascii") and "7bit"; a text part with no
 * charset parameter has ("charset" "us-ascii") appended; a multipart
 * whose parts could not be read (no boundary, a limit) gets one empty
 * text/plain part, as the grammar wants at least one.
 */
#ifndef POPGATE_IMAP_BODY_H
#define POPGATE_IMAP_BODY_H

#include <stdbool.h>
#include <stddef.h>

#include "mime/mime.h"
#include "util/buf.h"
#include "util/compat.h"

/* Appends the ENVELOPE value "(date subject from sender reply-to to cc
   bcc in-reply-to message-id)" of message M (the tree's root, or the
   child of a message/rfc822 part; NULL or one without an envelope
   gives all NIL). Sender and Reply-To default to From (RFC 9051
   7.5.2). 0, or -1 when OUT is full. */
int	imap_body_envelope(const struct mime_part *m, struct buf *out)
	    WARN_UNUSED;
/* Appends the BODYSTRUCTURE value (EXT true: with the extension data
   md5, disposition, language, location; multipart: parameters,
   disposition, language, location) or the BODY value (EXT false) of
   the part P, normally the root. 0, or -1 when OUT is full. */
int	imap_body_structure(const struct mime_part *p, bool ext,
	    struct buf *out) WARN_UNUSED;
/* Appends S as an IMAP string (quoted or literal) or NIL for NULL. 0
   or -1. */
int	imap_body_nstring(struct buf *out, const char *s) WARN_UNUSED;

#endif
