/*
 * hmap.c - chained hash table with SipHash-2-4.
 */
#include <stdint.h>

#include <openssl/rand.h>

#include "util/hmap.h"
#include "util/log.h"
#include "util/xalloc.h"
#include "util/compat.h"

struct entry {
	struct entry	*next;
	uint64_t	 hash;
	void		*val;
	char		 key[];
};

struct hmap {
	struct entry	**b;
	size_t		  nb, n;
};

static uint64_t sip_k0, sip_k1;
static bool sip_keyed;

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                           \
	do {                                                               \
		v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32);  \
		v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2;                     \
		v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0;                     \
		v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32);  \
	} while (0)

static uint64_t
siphash(const unsigned char *in, size_t len)
{
	uint64_t v0 = 0x736f6d6570736575ULL ^ sip_k0;
	uint64_t v1 = 0x646f72616e646f6dULL ^ sip_k1;
	uint64_t v2 = 0x6c7967656e657261ULL ^ sip_k0;
	uint64_t v3 = 0x7465646279746573ULL ^ sip_k1;
	uint64_t b = (uint64_t)len << 56, m;
	size_t i, left = len & 7, end = len - left;

	for (i = 0; i < end; i += 8) {
		memcpy(&m, in + i, 8);
		v3 ^= m;
		SIPROUND;
		SIPROUND;
		v0 ^= m;
	}
	for (i = 0; i < left; i++)
		b |= (uint64_t)in[end + i] << (8 * i);
	v3 ^= b;
	SIPROUND;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

struct hmap *
hmap_new(void)
{
	struct hmap *h = xcalloc(1, sizeof(*h));

	if (!sip_keyed) {
		uint64_t k[2];

		if (RAND_bytes((unsigned char *)k, sizeof(k)) != 1)
			PANIC("no randomness for the hash key");
		sip_k0 = k[0];
		sip_k1 = k[1];
		sip_keyed = true;
	}
	h->nb = 16;
	h->b = xcalloc(h->nb, sizeof(*h->b));
	return h;
}

void
hmap_free(struct hmap **hp, void (*free_val)(void *))
{
	struct hmap *h = *hp;
	struct entry *e, *next;
	size_t i;

	if (h == NULL)
		return;
	*hp = NULL;
	for (i = 0; i < h->nb; i++) {
		for (e = h->b[i]; e != NULL; e = next) {
			next = e->next;
			if (free_val != NULL)
				free_val(e->val);
			free(e);
		}
	}
	free(h->b);
	free(h);
}

static struct entry **
find(const struct hmap *h, const char *key, uint64_t hash)
{
	struct entry **ep = &h->b[hash & (h->nb - 1)];

	for (; *ep != NULL; ep = &(*ep)->next)
		if ((*ep)->hash == hash && strcmp((*ep)->key, key) == 0)
			break;
	return ep;
}

void *
hmap_get(const struct hmap *h, const char *key)
{
	struct entry **ep = find(h, key, siphash((const void *)key,
	    strlen(key)));

	return *ep != NULL ? (*ep)->val : NULL;
}

static void
grow(struct hmap *h)
{
	size_t nb = h->nb * 2, i;
	struct entry **b = xcalloc(nb, sizeof(*b)), *e, *next;

	for (i = 0; i < h->nb; i++) {
		for (e = h->b[i]; e != NULL; e = next) {
			next = e->next;
			e->next = b[e->hash & (nb - 1)];
			b[e->hash & (nb - 1)] = e;
		}
	}
	free(h->b);
	h->b = b;
	h->nb = nb;
}

void *
hmap_put(struct hmap *h, const char *key, void *val)
{
	size_t len = strlen(key);
	uint64_t hash = siphash((const void *)key, len);
	struct entry **ep = find(h, key, hash), *e;
	void *old;

	if (*ep != NULL) {
		old = (*ep)->val;
		(*ep)->val = val;
		return old;
	}
	e = xmalloc(sizeof(*e) + len + 1);
	memcpy(e->key, key, len + 1);
	e->hash = hash;
	e->val = val;
	e->next = NULL;
	*ep = e;
	if (++h->n > h->nb)
		grow(h);
	return NULL;
}

void *
hmap_del(struct hmap *h, const char *key)
{
	struct entry **ep = find(h, key, siphash((const void *)key,
	    strlen(key))), *e = *ep;
	void *val;

	if (e == NULL)
		return NULL;
	*ep = e->next;
	val = e->val;
	free(e);
	h->n--;
	return val;
}

size_t
hmap_count(const struct hmap *h)
{
	return h->n;
}

void
hmap_sweep(struct hmap *h, bool (*fn)(const char *, void *, void *),
    void *arg)
{
	struct entry **ep, *e;
	size_t i;

	for (i = 0; i < h->nb; i++) {
		for (ep = &h->b[i]; (e = *ep) != NULL;) {
			if (fn(e->key, e->val, arg)) {
				*ep = e->next;
				free(e);
				h->n--;
			} else {
				ep = &e->next;
			}
		}
	}
}

bool
hmap_walk(const struct hmap *h, size_t *cursor, size_t max,
    void (*fn)(const char *, void *, void *), void *arg)
{
	const struct entry *e;
	size_t i, end;

	end = *cursor + max < h->nb && *cursor + max > *cursor ?
	    *cursor + max : h->nb;
	for (i = *cursor; i < end; i++)
		for (e = h->b[i]; e != NULL; e = e->next)
			fn(e->key, e->val, arg);
	*cursor = end < h->nb ? end : 0;
	return *cursor == 0;
}
