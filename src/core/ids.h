/*
 * ids.h - session and queue identifiers.
 */
#ifndef POPGATE_IDS_H
#define POPGATE_IDS_H

#define ID_LEN 16	/* hex digits */

/* A fresh identifier, ID_LEN hex digits plus NUL: 32 bits of seconds
   then 32 random bits, so identifiers sort by creation time. Unique in
   practice; files named by them are still created with O_EXCL. */
void	ids_new(char out[ID_LEN + 1]);

#endif
