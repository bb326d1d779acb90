/*
 * hmap.h - a hash table of C-string keys to pointers.
 *
 * Keys are copied. Hashing is SipHash-2-4 with a per-process random key,
 * because keys (client addresses, mailbox names) come from the network.
 * Not thread-safe: one owner, on one thread.
 */
#ifndef POPGATE_HMAP_H
#define POPGATE_HMAP_H

#include <stdbool.h>
#include <stddef.h>

struct hmap;

struct hmap *hmap_new(void);
/* Frees the table, calling FREE_VAL (if not NULL) on every value. */
void	hmap_free(struct hmap **, void (*free_val)(void *));
/* The value for KEY, or NULL. */
void	*hmap_get(const struct hmap *, const char *key);
/* Sets KEY to VAL (not NULL); returns the value it replaced, or NULL. */
void	*hmap_put(struct hmap *, const char *key, void *val);
/* Removes KEY; returns its value, or NULL. */
void	*hmap_del(struct hmap *, const char *key);
size_t	hmap_count(const struct hmap *);
/* Calls FN for each entry; when FN returns true the entry is removed
   (FN must free the value itself then). */
void	hmap_sweep(struct hmap *, bool (*fn)(const char *key, void *val,
	    void *arg), void *arg);
/* A walk in slices, for a table too large to walk at once: calls FN for
   the entries of at most MAX buckets (about as many entries) from
   *CURSOR on (0: the start) and moves *CURSOR past them. True when the
   walk reached the end (*CURSOR is 0 again). The table may change
   between two calls; an entry moved by its growing meanwhile may be
   seen twice or not at all in that walk. */
bool	hmap_walk(const struct hmap *, size_t *cursor, size_t max,
	    void (*fn)(const char *key, void *val, void *arg), void *arg);

#endif
