/*
 * xalloc.h - allocation that aborts instead of failing.
 *
 * Used for small control structures whose absence means the process can
 * not go on (STYLE.md section 6). Per-client buffers use struct buf with a
 * limit instead, and fail softly.
 */
#ifndef POPGATE_XALLOC_H
#define POPGATE_XALLOC_H

#include <stddef.h>

void *xmalloc(size_t);
void *xcalloc(size_t, size_t);
/* Overflow-checked realloc of NMEMB * SIZE bytes. */
void *xreallocarray(void *, size_t nmemb, size_t size);
char *xstrdup(const char *);
char *xstrndup(const char *, size_t);

#endif
