/*
 * base64.h - strict RFC 4648 base64 for SASL (RFC 4422: a response that
 * is not valid base64 is an error, never "decoded as far as possible").
 */
#ifndef POPGATE_BASE64_H
#define POPGATE_BASE64_H

#include <stddef.h>

#include "util/buf.h"
#include "util/compat.h"

/* Decodes LEN characters of IN (padding required, no blanks) appending
   to OUT. 0, or -1 for bad input or when OUT's limit is reached. */
int	base64_decode(const char *in, size_t len, struct buf *out)
	    WARN_UNUSED;
/* Appends the encoding of LEN octets of IN to OUT. 0 or -1. */
int	base64_encode(const void *in, size_t len, struct buf *out)
	    WARN_UNUSED;

#endif
