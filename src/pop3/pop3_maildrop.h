/*
 * pop3_maildrop.h - a Maildir as a POP3 maildrop. Not for outside use.
 *
 * Opening moves new/ into cur/ and lists cur/ without reading any
 * message: sizes come from the ,W= field of the file name (octets with
 * CRLF line ends, Dovecot's convention), else from an index file beside
 * the Maildir (popgate-sizes), else from one read of the file, which is
 * then added to the index. UIDLs are the unique part of the file name,
 * so they survive restarts and the move to cur/.
 */
#ifndef POPGATE_POP3_MAILDROP_H
#define POPGATE_POP3_MAILDROP_H

#include <stdbool.h>
#include <stdint.h>

struct evbuffer;

#define POP3_UIDL_MAX	70	/* RFC 1939: 1 to 70 characters */

struct pop3_msg {
	char		*file;		/* name in new/ or cur/ */
	char		 uidl[POP3_UIDL_MAX + 1];
	uint64_t	 size;		/* octets RETR sends, unstuffed */
	bool		 deleted;
	bool		 in_new;	/* in new/, else cur/ */
};

struct maildrop {
	int		 dir_fd;	/* borrowed: PATH is below it */
	char		 path[1024];
	struct pop3_msg	*v;
	size_t		 n, cap;
	uint64_t	 total;		/* sum of sizes */
};

/* The Maildir PATH below the directory DIR_FD (which must outlive the
   maildrop). On a worker. 0, or -1 with *ERROR_R (static or strerror). */
int	maildrop_open(struct maildrop *, int dir_fd, const char *path,
	    const char **error_r);
void	maildrop_free(struct maildrop *);
/* UPDATE state: unlinks the messages marked deleted, then fsyncs their
   directories. Returns the number that could not be removed (0 all went). */
unsigned maildrop_commit(struct maildrop *);

/* A message being sent (RETR, TOP): CRLF line ends, dot-stuffed, then
   the ".\r\n" terminator. */
struct pop3_stream {
	int		fd;
	bool		bol;		/* at a line start */
	bool		prev_cr;
	bool		in_headers;
	size_t		line_len;	/* octets of the line so far */
	long		body_lines;	/* TOP: lines still to send; -1 all */
	bool		done;
};

/* Opens message M of D for sending; TOP_LINES -1 for RETR. 0 or -1. */
int	pop3_stream_open(struct pop3_stream *, const struct maildrop *,
	    const struct pop3_msg *, long top_lines);
/* Appends up to about WANT octets to OUT; true once the terminator was
   written (the stream is closed then). -1 on a read error. */
int	pop3_stream_fill(struct pop3_stream *, struct evbuffer *out,
	    size_t want);
void	pop3_stream_close(struct pop3_stream *);

#endif
