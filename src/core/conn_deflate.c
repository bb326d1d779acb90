/*
 * conn_deflate.c - COMPRESS=DEFLATE (RFC 4978): raw deflate (RFC 1951,
 * no zlib header) both ways over the connection, as a libevent filter
 * on top of whatever carries it (TCP or TLS). Each write is flushed
 * with Z_SYNC_FLUSH, so every response reaches the client whole.
 */
#include <zlib.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "core/conn.h"
#include "util/xalloc.h"
#include "util/compat.h"

#define CHUNK	16384

struct deflate_ctx {
	z_stream	 in, out;
	bool		 in_ok, out_ok;
	bool		 broken;	/* the client sent what is no deflate */
};

static void
ctx_free(void *arg)
{
	struct deflate_ctx *z = arg;

	if (z->in_ok)
		(void)inflateEnd(&z->in);
	if (z->out_ok)
		(void)deflateEnd(&z->out);
	free(z);
}

/* Runs Z over everything in SRC into DST (inflate, or deflate ending
   with FLUSH). -1 on a stream error. */
static int
pump(z_stream *z, bool inflating, struct evbuffer *src, struct evbuffer *dst,
    int flush)
{
	unsigned char inbuf[CHUNK], outbuf[CHUNK];
	ev_ssize_t got;
	int r, mode;

	while ((got = evbuffer_remove(src, inbuf, sizeof(inbuf))) > 0) {
		z->next_in = inbuf;
		z->avail_in = (uInt)got;
		mode = inflating ? Z_SYNC_FLUSH : evbuffer_get_length(src) > 0 ?
		    Z_NO_FLUSH : flush;
		do {
			z->next_out = outbuf;
			z->avail_out = sizeof(outbuf);
			r = inflating ? inflate(z, mode) : deflate(z, mode);
			if (r != Z_OK && r != Z_BUF_ERROR && r != Z_STREAM_END)
				return -1;
			if (evbuffer_add(dst, outbuf, sizeof(outbuf) -
			    z->avail_out) == -1)
				return -1;
			/* Nothing after the end of the stream is allowed. */
			if (r == Z_STREAM_END)
				return z->avail_in > 0 || evbuffer_get_length(
				    src) > 0 ? -1 : 0;
			if (r == Z_BUF_ERROR && z->avail_out != 0)
				break;
		} while (z->avail_out == 0 || z->avail_in > 0);
	}
	return got < 0 ? -1 : 0;
}

static enum bufferevent_filter_result
in_filter(struct evbuffer *src, struct evbuffer *dst, ev_ssize_t limit,
    enum bufferevent_flush_mode mode, void *arg)
{
	struct deflate_ctx *z = arg;

	(void)limit;
	(void)mode;
	if (z->broken)
		return BEV_ERROR;
	if (evbuffer_get_length(src) == 0)
		return BEV_NEED_MORE;
	if (pump(&z->in, true, src, dst, Z_SYNC_FLUSH) == -1) {
		z->broken = true;
		return BEV_ERROR;
	}
	return BEV_OK;
}

static enum bufferevent_filter_result
out_filter(struct evbuffer *src, struct evbuffer *dst, ev_ssize_t limit,
    enum bufferevent_flush_mode mode, void *arg)
{
	struct deflate_ctx *z = arg;

	(void)limit;
	if (evbuffer_get_length(src) == 0)
		return BEV_OK;
	if (pump(&z->out, false, src, dst, mode == BEV_FINISHED ? Z_FINISH :
	    Z_SYNC_FLUSH) == -1)
		return BEV_ERROR;
	return BEV_OK;
}

int
conn_compress(struct conn *c, const char **error_r)
{
	struct deflate_ctx *z = xcalloc(1, sizeof(*z));
	struct bufferevent *f;

	*error_r = "cannot start compression";
	z->in_ok = inflateInit2(&z->in, -15) == Z_OK;
	z->out_ok = z->in_ok && deflateInit2(&z->out, Z_DEFAULT_COMPRESSION,
	    Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) == Z_OK;
	if (!z->out_ok) {
		ctx_free(z);
		return -1;
	}
	f = bufferevent_filter_new(c->bev, in_filter, out_filter,
	    BEV_OPT_CLOSE_ON_FREE, ctx_free, z);
	if (f == NULL) {
		ctx_free(z);
		return -1;
	}
	c->bev = f;
	c->compressed = true;
	return 0;
}
