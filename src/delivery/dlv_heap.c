/*
 * dlv_heap.c - the queue manager's clock (dlv_sched.c): the retry
 * back-off, and the heap of waiting messages by next try, whose top is
 * the next message due (one timer for the whole queue, so a queue of
 * deferred messages costs nothing while none is due).
 */
#include "delivery/dlv_int.h"
#include "util/xalloc.h"
#include "util/compat.h"

/* ---- pure helpers ---- */

time_t
dlv_next_try(time_t now, unsigned attempts, uint64_t retry_min,
    uint64_t retry_max)
{
	uint64_t wait = retry_min;
	unsigned i;

	for (i = 1; i < attempts && wait < retry_max; i++)
		wait *= 2;
	if (wait > retry_max)
		wait = retry_max;
	return now + (time_t)wait;
}

/* ---- the waiting heap, by next_try ---- */

static void
heap_swap(struct qmgr *q, size_t a, size_t b)
{
	struct qentry *t = q->heap[a];

	q->heap[a] = q->heap[b];
	q->heap[b] = t;
	q->heap[a]->heap = a;
	q->heap[b]->heap = b;
}

static void
heap_up(struct qmgr *q, size_t i)
{
	while (i > 0 && q->heap[(i - 1) / 2]->next_try > q->heap[i]->next_try) {
		heap_swap(q, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

static void
heap_down(struct qmgr *q, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;

		if (l < q->nheap && q->heap[l]->next_try < q->heap[m]->next_try)
			m = l;
		if (r < q->nheap && q->heap[r]->next_try < q->heap[m]->next_try)
			m = r;
		if (m == i)
			return;
		heap_swap(q, i, m);
		i = m;
	}
}

void
qmgr_heap_push(struct qmgr *q, struct qentry *e)
{
	if (q->nheap == q->heapcap) {
		q->heapcap = q->heapcap == 0 ? 64 : q->heapcap * 2;
		q->heap = xreallocarray(q->heap, q->heapcap, sizeof(*q->heap));
	}
	e->heap = q->nheap;
	q->heap[q->nheap++] = e;
	heap_up(q, e->heap);
}

void
qmgr_heap_remove(struct qmgr *q, struct qentry *e)
{
	size_t i = e->heap;

	q->nheap--;
	if (i != q->nheap) {
		heap_swap(q, i, q->nheap);
		heap_down(q, i);
		heap_up(q, i);
	}
}
