/*
 * test_mime.c - the MIME parser (src/mime/) and the IMAP renderings of
 * its trees (src/imap/imap_body.c).
 *
 * The BODYSTRUCTURE, ENVELOPE, BODY and RFC822.SIZE expected below are
 * what Dovecot 2.3.19 (Debian dovecot-imapd, run as a one-shot preauth
 * imap over a scratch Maildir) answered for the messages of
 * fuzz/corpus/fuzz_mime/ of the same names, with its literals written as
 * quoted strings (Dovecot sends subjects and names as literals when it
 * cleaned their white space; both read the same to a client) - our output
 * is compared after the same rewriting. The messages where we differ on
 * purpose are not in that table; their own tests say what we return:
 * nesting past MIME_DEPTH_MAX, message/global parsed as a message (RFC
 * 9051), "name*" kept for an index-less RFC 2231 extended parameter,
 * addresses after junk kept; and, without a test of its own, invalid
 * UTF-8 in subjects and names stays as it is (Dovecot writes U+FFFD).
 *
 * Every message is also parsed trickled octet by octet and in random
 * splits: the tree (its cache encoding) must not change. Sizes, line
 * counts and section ranges are checked against hand-computed values,
 * the cache against every truncation and octet flip, the limits just
 * under and just over.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "testlib.h"

#include <stdbool.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "imap/imap_body.h"
#include "mime/mime.h"
#include "util/compat.h"

#ifndef POPGATE_SRCDIR
#define POPGATE_SRCDIR "."
#endif
#define CORPUS POPGATE_SRCDIR "/fuzz/corpus/fuzz_mime/"

struct dovecot_case {
	const char	*file;
	uint64_t	 size;
	const char	*bodystructure, *envelope, *body;
};

static const struct dovecot_case dovecot_cases[] = {
	{ "alternative.eml", 496,
	    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
	    "10 1 NIL NIL NIL NIL)(\"text\" \"html\" (\"charset\" \"us-ascii\""
	    ") NIL NIL \"7bit\" 43 1 NIL NIL NIL NIL) \"alternative\" (\"bound"
	    "ary\" \"=_alt_01\") NIL NIL NIL)",
	    "(\"Tue, 1 Dec 2026 10:00:00 +0000\" \"alt\" ((\"Ann Example\" NIL"
	    " \"ann\" \"example.com\")) ((\"Ann Example\" NIL \"ann\" \"exampl"
	    "e.com\")) ((\"Ann Example\" NIL \"ann\" \"example.com\")) ((\"Bob"
	    "\" NIL \"bob\" \"example.org\")) NIL NIL NIL \"<m4@example.com>\""
	    ")",
	    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
	    "10 1)(\"text\" \"html\" (\"charset\" \"us-ascii\") NIL NIL \"7bit"
	    "\" 43 1) \"alternative\")" },
	{ "bad_ct.eml", 47,
	    "(\"text\" \"\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 6 1 NI"
	    "L NIL NIL NIL)",
	    "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)",
	    "(\"text\" \"\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 6 1)" },
	{ "bad_ct2.eml", 65,
	    "(\"\" \"\" NIL NIL NIL \"7bit\" 6 NIL NIL NIL NIL)",
	    "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)",
	    "(\"\" \"\" NIL NIL NIL \"7bit\" 6)" },
	{ "bad_headers.eml", 200,
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 6"
	    " 1 NIL NIL NIL NIL)",
	    "(NIL \"spaced colon\" NIL NIL NIL ((NIL NIL \"a\" \"SYNTAX_ERROR"
	    "\")) NIL NIL NIL NIL)",
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 6"
	    " 1)" },
	{ "boundary_at_start.eml", 64,
	    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
	    "5 0 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"s\") NIL NIL NIL)",
	    "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)",
	    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
	    "5 0) \"mixed\")" },
	{ "boundary_never.eml", 219,
	    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
	    "0 0 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"zz\") NIL NIL NIL)",
	    "(\"Tue, 1 Dec 2026 10:00:00 +0000\" \"boundary never\" ((\"Ann Ex"
	    "ample\" NIL \"ann\" \"example.com\")) ((\"Ann Example\" NIL \"ann"
	    "\" \"example.com\")) ((\"Ann Example\" NIL \"ann\" \"example.com"
	    "\")) ((\"Bob\" NIL \"bob\" \"example.org\")) NIL NIL NIL \"<m21@e"
	    "xample.com>\")",
	    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
	    "0 0) \"mixed\")" },
	{ "boundary_ws.eml", 261,
	    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
	    "1 0 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"ws b\") NIL NIL NI"
	    "L)",
	    "(\"Tue, 1 Dec 2026 10:00:00 +0000\" \"ws\" ((\"Ann Example\" NIL "
	    "\"ann\" \"example.com\")) ((\"Ann Example\" NIL \"ann\" \"example"
	    ".com\")) ((\"Ann Example\" NIL \"ann\" \"example.com\")) ((\"Bob"
	    "\" NIL \"bob\" \"example.org\")) NIL NIL NIL \"<m22@example.com>"
	    "\")",
	    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
	    "1 0) \"mixed\")" },
	{ "calendar.eml", 392,
	    "((\"text\" \"plain\" (\"charset\" \"UTF-8\") NIL NIL \"7bit\" 6 0"
	    " NIL NIL NIL NIL)(\"text\" \"calendar\" (\"charset\" \"UTF-8\" \""
	    "method\" \"REQUEST\") NIL NIL \"7bit\" 30 1 NIL NIL NIL NIL) \"al"
	    "ternative\" (\"boundary\" \"cal\") NIL NIL NIL)",
	    "(\"Tue, 1 Dec 2026 10:00:00 +0000\" \"invite\" ((\"Ann Example\" "
	    "NIL \"ann\" \"example.com\")) ((\"Ann Example\" NIL \"ann\" \"exa"
	    "mple.com\")) ((\"Ann Example\" NIL \"ann\" \"example.com\")) ((\""
	    "Bob\" NIL \"bob\" \"example.org\")) NIL NIL NIL \"<m33@example.co"
	    "m>\")",
	    "((\"text\" \"plain\" (\"charset\" \"UTF-8\") NIL NIL \"7bit\" 6 0"
	    ")(\"text\" \"calendar\" (\"charset\" \"UTF-8\" \"method\" \"REQUE"
	    "ST\") NIL NIL \"7bit\" 30 1) \"alternative\")" },
	{ "comments_ct.eml", 257,
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3"
	    " 1 NIL NIL NIL NIL)",
	    "(\"Tue, 1 Dec 2026 10:00:00 +0000\" \"comments\" ((\"Ann Example"
	    "\" NIL \"ann\" \"example.com\")) ((\"Ann Example\" NIL \"ann\" \""
	    "example.com\")) ((\"Ann Example\" NIL \"ann\" \"example.com\")) ("
	    "(\"Bob\" NIL \"bob\" \"example.org\")) NIL NIL NIL \"<m36@example"
	    ".com>\")",
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3"
	    " 1)" },
	{ "cr_only.eml", 58,
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 9"
	    " 1 NIL NIL NIL NIL)",
	    "(NIL \"cr inside\" NIL NIL NIL NIL NIL NIL NIL NIL)",
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 9"
	    " 1)" },
	{ "crlf_stored.eml", 275,
	    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
	    "18 1 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"cr\") NIL NIL NIL"
	    ")",
	    "(\"Tue, 1 Dec 2026 10:00:00 +0000\" \"crlf\" ((\"Ann Example\" NI"
	    "L \"ann\" \"example.com\")) ((\"Ann Example\" NIL \"ann\" \"examp"
	    "le.com\")) ((\"Ann Example\" NIL \"ann\" \"example.com\")) ((\"Bo"
	    "b\" NIL \"bob\" \"example.org\")) NIL NIL NIL \"<m17@example.com>"
	    "\")",
	    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
	    "18 1) \"mixed\")" },
	{ "dup_fields.eml", 106,
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3"
	    " 1 NIL NIL NIL NIL)",
	    "(NIL \"two\" ((NIL NIL \"a\" \"b\")(NIL NIL \"c\" \"d\")) ((NIL N"
	    "IL \"a\" \"b\")(NIL NIL \"c\" \"d\")) ((NIL NIL \"a\" \"b\")(NIL "
	    "NIL \"c\" \"d\")) NIL NIL NIL NIL NIL)",
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3"
	    " 1)" },
	{ "eightbit_names.eml", 126,
	    "(\"application\" \"octet-stream\" (\"name\" \"\303\234bersicht.pd"
	    "f\") NIL NIL \"7bit\" 3 NIL NIL NIL NIL)",
	    "(NIL \"Gr\303\274\303\237e\" ((\"J\303\266rg M\303\274ller\" NIL "
	    "\"joerg\" \"example.de\")) ((\"J\303\266rg M\303\274ller\" NIL \""
	    "joerg\" \"example.de\")) ((\"J\303\266rg M\303\274ller\" NIL \"jo"
	    "erg\" \"example.de\")) NIL NIL NIL NIL NIL)",
	    "(\"application\" \"octet-stream\" (\"name\" \"\303\234bersicht.pd"
	    "f\") NIL NIL \"7bit\" 3)" },
	{ "empty.eml", 0,
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0"
	    " 0 NIL NIL NIL NIL)",
	    "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)",
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0"
	    " 0)" },
	{ "epilogue_boundaryish.eml", 91,
	    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
	    "5 0 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"s\") NIL NIL NIL)",
	    "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)",
	    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
	    "5 0) \"mixed\")" },
	{ "folded_ct.eml", 356,
	    "((\"text\" \"plain\" (\"charset\" \"utf-8\" \"format\" \"flowed\""
	    ") NIL NIL \"7bit\" 18 1 NIL NIL NIL NIL) \"mixed\" (\"boundary\" "
	    "\"folded-boundary\") NIL NIL NIL)",
	    "(\"Tue, 1 Dec 2026 10:00:00 +0000\" \"folded\" ((\"Ann Example\" "
	    "NIL \"ann\" \"example.com\")) ((\"Ann Example\" NIL \"ann\" \"exa"
	    "mple.com\")) ((\"Ann Example\" NIL \"ann\" \"example.com\")) ((\""
	    "Bob\" NIL \"bob\" \"example.org\")) NIL NIL NIL \"<m35@example.co"
	    "m>\")",
	    "((\"text\" \"plain\" (\"charset\" \"utf-8\" \"format\" \"flowed\""
	    ") NIL NIL \"7bit\" 18 1) \"mixed\")" },
	{ "groups.eml", 358,
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 6"
	    " 1 NIL NIL NIL NIL)",
	    "(\"Tue, 1 Dec 2026 10:00:00 +0000\" \"groups\" ((\"Ann\" NIL \"an"
	    "n\" \"example.com\")) ((\"Secretary\" NIL \"sec\" \"example.com\""
	    ")) ((\"Ann (work)\" NIL \"ann\" \"work.example\")) ((NIL NIL \"un"
	    "disclosed-recipients\" NIL)(NIL NIL NIL NIL)) ((NIL NIL \"Team\" "
	    "NIL)(NIL NIL \"a\" \"example.com\")(\"B, Bee\" NIL \"b\" \"exampl"
	    "e.com\")(NIL NIL NIL NIL)(NIL NIL \"c\" \"example.com\")) ((NIL "
	    "\"@relay1.example,@relay2.example\" \"d\" \"example.com\")) \"<pa"
	    "rent@example.com>\" NIL)",
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 6"
	    " 1)" },
	{ "html_only.eml", 313,
	    "(\"text\" \"html\" (\"charset\" \"UTF-8\") NIL NIL \"quoted-print"
	    "able\" 57 1 NIL NIL NIL NIL)",
	    "(\"Tue, 1 Dec 2026 10:00:00 +0000\" \"html\" ((\"Ann Example\" NI"
	    "L \"ann\" \"example.com\")) ((\"Ann Example\" NIL \"ann\" \"examp"
	    "le.com\")) ((\"Ann Example\" NIL \"ann\" \"example.com\")) ((\"Bo"
	    "b\" NIL \"bob\" \"example.org\")) NIL NIL NIL \"<m32@example.com>"
	    "\")",
	    "(\"text\" \"html\" (\"charset\" \"UTF-8\") NIL NIL \"quoted-print"
	    "able\" 57 1)" },
	{ "lang_loc_md5.eml", 375,
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") \"<ext@example.com"
	    ">\" \"a description\" \"7bit\" 3 1 \"Q2hlY2sgSW50ZWdyaXR5IQ==\" N"
	    "IL (\"en-US\" \"fr-CA\") \"http://example.com/a\")",
	    "(\"Tue, 1 Dec 2026 10:00:00 +0000\" \"ext\" ((\"Ann Example\" NIL"
	    " \"ann\" \"example.com\")) ((\"Ann Example\" NIL \"ann\" \"exampl"
	    "e.com\")) ((\"Ann Example\" NIL \"ann\" \"example.com\")) ((\"Bob"
	    "\" NIL \"bob\" \"example.org\")) NIL NIL NIL \"<m28@example.com>"
	    "\")",
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") \"<ext@example.com"
	    ">\" \"a description\" \"7bit\" 3 1)" },
	{ "long_header.eml", 7169,
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 8"
	    " 2 NIL NIL NIL NIL)",
	    "(\"Tue, 1 Dec 2026 10:00:00 +0000\" \"long\" ((\"Ann Example\" NI"
	    "L \"ann\" \"example.com\")) ((\"Ann Example\" NIL \"ann\" \"examp"
	    "le.com\")) ((\"Ann Example\" NIL \"ann\" \"example.com\")) ((\"Bo"
	    "b\" NIL \"bob\" \"example.org\")) NIL NIL NIL \"<m29@example.com>"
	    "\")",
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 8"
	    " 2)" },
	{ "mailing_list.eml", 364,
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\" \"format\" \"flowed"
	    "\" \"delsp\" \"yes\") NIL NIL \"7bit\" 41 3 NIL NIL NIL NIL)",
	    "(\"Tue, 1 Dec 2026 10:00:00 +0000\" \"[list] topic\" ((\"Ann Exam"
	    "ple\" NIL \"ann\" \"example.com\")) ((\"Ann Example\" NIL \"ann\""
	    " \"example.com\")) ((\"Ann Example\" NIL \"ann\" \"example.com\")"
	    ") ((\"Bob\" NIL \"bob\" \"example.org\")) NIL NIL NIL \"<m40@exam"
	    "ple.com>\")",
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\" \"format\" \"flowed"
	    "\" \"delsp\" \"yes\") NIL NIL \"7bit\" 41 3)" },
	{ "message_base64.eml", 248,
	    "(\"message\" \"rfc822\" NIL NIL NIL \"base64\" 30 (NIL NIL NIL NI"
	    "L NIL NIL NIL NIL NIL NIL) (\"text\" \"plain\" (\"charset\" \"us-"
	    "ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL) 1 NIL NIL NIL NIL)",
	    "(\"Tue, 1 Dec 2026 10:00:00 +0000\" \"b64 msg\" ((\"Ann Example\""
	    " NIL \"ann\" \"example.com\")) ((\"Ann Example\" NIL \"ann\" \"ex"
	    "ample.com\")) ((\"Ann Example\" NIL \"ann\" \"example.com\")) (("
	    "\"Bob\" NIL \"bob\" \"example.org\")) NIL NIL NIL \"<m26@example."
	    "com>\")",
	    "(\"message\" \"rfc822\" NIL NIL NIL \"base64\" 30 (NIL NIL NIL NI"
	    "L NIL NIL NIL NIL NIL NIL) (\"text\" \"plain\" (\"charset\" \"us-"
	    "ascii\") NIL NIL \"7bit\" 0 0) 1)" },
	{ "message_top.eml", 75,
	    "(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 43 (NIL \"inner top"
	    "\" ((NIL NIL \"x\" \"y\")) ((NIL NIL \"x\" \"y\")) ((NIL NIL \"x"
	    "\" \"y\")) NIL NIL NIL NIL NIL) (\"text\" \"plain\" (\"charset\" "
	    "\"us-ascii\") NIL NIL \"7bit\" 10 0 NIL NIL NIL NIL) 3 NIL NIL NI"
	    "L NIL)",
	    "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)",
	    "(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 43 (NIL \"inner top"
	    "\" ((NIL NIL \"x\" \"y\")) ((NIL NIL \"x\" \"y\")) ((NIL NIL \"x"
	    "\" \"y\")) NIL NIL NIL NIL NIL) (\"text\" \"plain\" (\"charset\" "
	    "\"us-ascii\") NIL NIL \"7bit\" 10 0) 3)" },
	{ "mixed_attach.eml", 957,
	    "((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 15 "
	    "1 NIL NIL NIL NIL)(\"application\" \"pdf\" (\"name\" \"report.pdf"
	    "\") NIL NIL \"base64\" 492 NIL (\"attachment\" (\"filename\" \"re"
	    "port.pdf\")) NIL NIL) \"mixed\" (\"boundary\" \"b1_mixed\") NIL N"
	    "IL NIL)",
	    "(\"Tue, 1 Dec 2026 10:00:00 +0000\" \"report\" ((\"Ann Example\" "
	    "NIL \"ann\" \"example.com\")) ((\"Ann Example\" NIL \"ann\" \"exa"
	    "mple.com\")) ((\"Ann Example\" NIL \"ann\" \"example.com\")) ((\""
	    "Bob\" NIL \"bob\" \"example.org\")) NIL NIL NIL \"<m5@example.com"
	    ">\")",
	    "((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 15 "
	    "1)(\"application\" \"pdf\" (\"name\" \"report.pdf\") NIL NIL \"ba"
	    "se64\" 492) \"mixed\")" },
	{ "mixed_eol.eml", 258,
	    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
	    "4 1 NIL NIL NIL NIL)(\"text\" \"plain\" (\"charset\" \"us-ascii\""
	    ") NIL NIL \"7bit\" 1 0 NIL NIL NIL NIL) \"mixed\" (\"boundary\" "
	    "\"me\") NIL NIL NIL)",
	    "(\"Tue, 1 Dec 2026 10:00:00 +0000\" \"mixed eol\" ((\"Ann Example"
	    "\" NIL \"ann\" \"example.com\")) ((\"Ann Example\" NIL \"ann\" \""
	    "example.com\")) ((\"Ann Example\" NIL \"ann\" \"example.com\")) ("
	    "(\"Bob\" NIL \"bob\" \"example.org\")) NIL NIL NIL \"<m18@example"
	    ".com>\")",
	    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
	    "4 1)(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit"
	    "\" 1 0) \"mixed\")" },
	{ "no_blank_line.eml", 27,
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0"
	    " 0 NIL NIL NIL NIL)",
	    "(NIL \"no body\" ((NIL NIL \"a\" \"b\")) ((NIL NIL \"a\" \"b\")) "
	    "((NIL NIL \"a\" \"b\")) NIL NIL NIL NIL NIL)",
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0"
	    " 0)" },
	{ "no_boundary_param.eml", 208,
	    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
	    "0 0 NIL NIL NIL NIL) \"mixed\" NIL NIL NIL NIL)",
	    "(\"Tue, 1 Dec 2026 10:00:00 +0000\" \"no boundary\" ((\"Ann Examp"
	    "le\" NIL \"ann\" \"example.com\")) ((\"Ann Example\" NIL \"ann\" "
	    "\"example.com\")) ((\"Ann Example\" NIL \"ann\" \"example.com\"))"
	    " ((\"Bob\" NIL \"bob\" \"example.org\")) NIL NIL NIL \"<m20@examp"
	    "le.com>\")",
	    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
	    "0 0) \"mixed\")" },
	{ "no_final_boundary.eml", 248,
	    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
	    "8 0 NIL NIL NIL NIL)(\"text\" \"plain\" (\"charset\" \"us-ascii\""
	    ") NIL NIL \"7bit\" 24 1 NIL NIL NIL NIL) \"mixed\" (\"boundary\" "
	    "\"nf\") NIL NIL NIL)",
	    "(\"Tue, 1 Dec 2026 10:00:00 +0000\" \"no final\" ((\"Ann Example"
	    "\" NIL \"ann\" \"example.com\")) ((\"Ann Example\" NIL \"ann\" \""
	    "example.com\")) ((\"Ann Example\" NIL \"ann\" \"example.com\")) ("
	    "(\"Bob\" NIL \"bob\" \"example.org\")) NIL NIL NIL \"<m19@example"
	    ".com>\")",
	    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
	    "8 0)(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit"
	    "\" 24 1) \"mixed\")" },
	{ "no_headers.eml", 24,
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 2"
	    "2 1 NIL NIL NIL NIL)",
	    "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)",
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 2"
	    "2 1)" },
	{ "only_headers.eml", 34,
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0"
	    " 0 NIL NIL NIL NIL)",
	    "(NIL \"headers only\" ((NIL NIL \"a\" \"b\")) ((NIL NIL \"a\" \"b"
	    "\")) ((NIL NIL \"a\" \"b\")) NIL NIL NIL NIL NIL)",
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0"
	    " 0)" },
	{ "plain.eml", 195,
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 4"
	    "5 5 NIL NIL NIL NIL)",
	    "(\"Tue, 1 Dec 2026 10:00:00 +0000\" \"plain\" ((\"Ann Example\" N"
	    "IL \"ann\" \"example.com\")) ((\"Ann Example\" NIL \"ann\" \"exam"
	    "ple.com\")) ((\"Ann Example\" NIL \"ann\" \"example.com\")) ((\"B"
	    "ob\" NIL \"bob\" \"example.org\")) NIL NIL NIL \"<m1@example.com>"
	    "\")",
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 4"
	    "5 5)" },
	{ "plain_mime.eml", 271,
	    "(\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"8bit\" 23 1"
	    " NIL NIL NIL NIL)",
	    "(\"Tue, 1 Dec 2026 10:00:00 +0000\" \"mime plain\" ((\"Ann Exampl"
	    "e\" NIL \"ann\" \"example.com\")) ((\"Ann Example\" NIL \"ann\" "
	    "\"example.com\")) ((\"Ann Example\" NIL \"ann\" \"example.com\"))"
	    " ((\"Bob\" NIL \"bob\" \"example.org\")) NIL NIL NIL \"<m2@exampl"
	    "e.com>\")",
	    "(\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"8bit\" 23 1"
	    ")" },
	{ "probe2_c1.eml", 78,
	    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
	    "0 0 NIL NIL NIL NIL) \"mixed\" NIL NIL NIL NIL)",
	    "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)",
	    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
	    "0 0) \"mixed\")" },
	{ "probe2_c2.eml", 93,
	    "(\"message\" \"rfc822\" NIL NIL NIL \"base64\" 26 (NIL NIL NIL NI"
	    "L NIL NIL NIL NIL NIL NIL) (\"text\" \"plain\" (\"charset\" \"us-"
	    "ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL) 1 NIL NIL NIL NIL)",
	    "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)",
	    "(\"message\" \"rfc822\" NIL NIL NIL \"base64\" 26 (NIL NIL NIL NI"
	    "L NIL NIL NIL NIL NIL NIL) (\"text\" \"plain\" (\"charset\" \"us-"
	    "ascii\") NIL NIL \"7bit\" 0 0) 1)" },
	{ "probe2_c4.eml", 96,
	    "(((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\""
	    " 0 0 NIL NIL NIL NIL) \"mixed\" NIL NIL NIL NIL) \"alternative\" "
	    "(\"boundary\" \"q\") NIL NIL NIL)",
	    "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)",
	    "(((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\""
	    " 0 0) \"mixed\") \"alternative\")" },
	{ "probe2_c5.eml", 97,
	    "(\"text\" \"plain\" (\"charset\" \"utf-8\" \"charset\" \"iso-8859"
	    "-1\") NIL NIL \"7bit\" 3 1 NIL (\"inline\" NIL) NIL NIL)",
	    "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)",
	    "(\"text\" \"plain\" (\"charset\" \"utf-8\" \"charset\" \"iso-8859"
	    "-1\") NIL NIL \"7bit\" 3 1)" },
	{ "probe2_c6.eml", 138,
	    "(((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\""
	    " 2 0 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"ab\") NIL NIL NIL"
	    ")(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
	    "6 0 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"a\") NIL NIL NIL)",
	    "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)",
	    "(((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\""
	    " 2 0) \"mixed\")(\"text\" \"plain\" (\"charset\" \"us-ascii\") NI"
	    "L NIL \"7bit\" 6 0) \"mixed\")" },
	{ "probe2_c7.eml", 86,
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\" \"name\" \"x\") NIL"
	    " NIL \"7bit\" 3 1 NIL NIL NIL NIL)",
	    "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)",
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\" \"name\" \"x\") NIL"
	    " NIL \"7bit\" 3 1)" },
	{ "probe2_c8.eml", 32,
	    "(\"\" \"\" NIL NIL NIL \"7bit\" 3 NIL NIL NIL NIL)",
	    "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)",
	    "(\"\" \"\" NIL NIL NIL \"7bit\" 3)" },
	{ "probe2_c9.eml", 61,
	    "(\"image\" \"png\" (\"name\" \"\303\251.png\") NIL NIL \"7bit\" 3"
	    " NIL NIL NIL NIL)",
	    "(NIL \"caf\303\251\" NIL NIL NIL NIL NIL NIL NIL NIL)",
	    "(\"image\" \"png\" (\"name\" \"\303\251.png\") NIL NIL \"7bit\" 3"
	    ")" },
	{ "probe3_d1.eml", 46,
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3"
	    " 1 NIL NIL NIL NIL)",
	    "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)",
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3"
	    " 1)" },
	{ "probe3_d2.eml", 65,
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") \"<c@x>\" NIL \"7b"
	    "it\" 3 1 NIL NIL (\"en\") NIL)",
	    "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)",
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") \"<c@x>\" NIL \"7b"
	    "it\" 3 1)" },
	{ "probe3_d3.eml", 106,
	    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") \"<c@x>\" \"dd\" "
	    "\"7bit\" 1 0 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"q\") NIL "
	    "NIL NIL)",
	    "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)",
	    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") \"<c@x>\" \"dd\" "
	    "\"7bit\" 1 0) \"mixed\")" },
	{ "probe3_d5.eml", 39,
	    "(\"\" \"\" NIL NIL NIL \"7bit\" 3 NIL NIL NIL NIL)",
	    "(NIL NIL NIL NIL NIL NIL NIL NIL NIL \"\011foo\")",
	    "(\"\" \"\" NIL NIL NIL \"7bit\" 3)" },
	{ "probe3_d6.eml", 55,
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3"
	    " 1 NIL NIL NIL NIL)",
	    "(NIL \"two\" ((NIL NIL \"a\" \"b\")(NIL NIL \"c\" \"d\")) ((NIL N"
	    "IL \"a\" \"b\")(NIL NIL \"c\" \"d\")) ((NIL NIL \"a\" \"b\")(NIL "
	    "NIL \"c\" \"d\")) NIL NIL NIL NIL NIL)",
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3"
	    " 1)" },
	{ "probe3_d7.eml", 121,
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3"
	    " 1 \"abc  \" NIL (\"en-US\") \"a b\")",
	    "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)",
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3"
	    " 1)" },
	{ "probe_a1.eml", 167,
	    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
	    "5 0 NIL NIL NIL NIL)(\"Text\" \"HTML\" (\"Charset\" \"UTF-8\") NI"
	    "L NIL \"7bit\" 10 1 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"b1"
	    "\") NIL NIL NIL)",
	    "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)",
	    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
	    "5 0)(\"Text\" \"HTML\" (\"Charset\" \"UTF-8\") NIL NIL \"7bit\" 1"
	    "0 1) \"mixed\")" },
	{ "probe_a2.eml", 222,
	    "(\"text\" \"\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 6 1 NI"
	    "L NIL NIL NIL)",
	    "(\"\" \"spaced\" ((\"=?utf-8?q?J=C3=B6rg?=\" NIL \"j\" \"x\")) (("
	    "\"=?utf-8?q?J=C3=B6rg?=\" NIL \"j\" \"x\")) ((\"=?utf-8?q?J=C3=B6"
	    "rg?=\" NIL \"j\" \"x\")) ((NIL NIL \"undisclosed-recipients\" NIL"
	    ")(NIL NIL NIL NIL)) ((NIL NIL \"foo\" \"MISSING_DOMAIN\")(\"Bar B"
	    "az\" NIL \"bar\" \"x\")(NIL \"@r1,@r2\" \"u\" \"h\")(NIL NIL \"u2"
	    "\" \"h2\")(NIL NIL \"g\" NIL)(NIL NIL \"a\" \"b\")(NIL NIL \"c\" "
	    "\"d\")(NIL NIL NIL NIL)) NIL NIL \"<id@x>  \")",
	    "(\"text\" \"\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 6 1)" },
	{ "probe_a5.eml", 68,
	    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
	    "14 1 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"zz\") NIL NIL NIL"
	    ")",
	    "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)",
	    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
	    "14 1) \"mixed\")" },
	{ "probe_a6.eml", 64,
	    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
	    "0 0 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"zz\") NIL NIL NIL)",
	    "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)",
	    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
	    "0 0) \"mixed\")" },
	{ "probe_a7.eml", 44,
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 1"
	    "6 0 NIL NIL NIL NIL)",
	    "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)",
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 1"
	    "6 0)" },
	{ "probe_a8.eml", 96,
	    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
	    "1 0 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"zz\") NIL NIL NIL)",
	    "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)",
	    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
	    "1 0) \"mixed\")" },
	{ "probe_a9.eml", 118,
	    "((\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 20 (NIL \"d1\" NIL "
	    "NIL NIL NIL NIL NIL NIL NIL) (\"text\" \"plain\" (\"charset\" \"u"
	    "s-ascii\") NIL NIL \"7bit\" 5 0 NIL NIL NIL NIL) 2 NIL NIL NIL NI"
	    "L)(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\""
	    " 1 0 NIL NIL NIL NIL) \"digest\" (\"boundary\" \"d\") NIL NIL NIL"
	    ")",
	    "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)",
	    "((\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 20 (NIL \"d1\" NIL "
	    "NIL NIL NIL NIL NIL NIL NIL) (\"text\" \"plain\" (\"charset\" \"u"
	    "s-ascii\") NIL NIL \"7bit\" 5 0) 2)(\"text\" \"plain\" (\"charset"
	    "\" \"us-ascii\") NIL NIL \"7bit\" 1 0) \"digest\")" },
	{ "probe_b1.eml", 60,
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3"
	    " 1 NIL NIL NIL NIL)",
	    "(NIL NIL ((NIL NIL \"a\" \"b\")) ((NIL NIL \"a\" \"b\")) ((NIL NI"
	    "L \"a\" \"b\")) NIL NIL NIL NIL NIL)",
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3"
	    " 1)" },
	{ "probe_b2.eml", 118,
	    "(\"TEXT\" \"PLAIN\" (\"format\" \"flowed\" \"charset\" \"us-ascii"
	    "\") NIL NIL \"7bit\" 3 1 NIL NIL NIL NIL)",
	    "(NIL \"\" ((\"q\\\"x\" NIL \"a\" \"b\")(NIL NIL \"Foo\" \"MISSING"
	    "_DOMAIN\")) ((\"q\\\"x\" NIL \"a\" \"b\")(NIL NIL \"Foo\" \"MISSI"
	    "NG_DOMAIN\")) ((\"q\\\"x\" NIL \"a\" \"b\")(NIL NIL \"Foo\" \"MIS"
	    "SING_DOMAIN\")) NIL NIL NIL NIL NIL)",
	    "(\"TEXT\" \"PLAIN\" (\"format\" \"flowed\" \"charset\" \"us-ascii"
	    "\") NIL NIL \"7bit\" 3 1)" },
	{ "probe_b3.eml", 76,
	    "(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 44 (NIL \"x\" NIL NI"
	    "L NIL NIL NIL NIL NIL NIL) (\"text\" \"plain\" (\"charset\" \"us-"
	    "ascii\") NIL NIL \"7bit\" 4 0 NIL NIL NIL NIL) 3 NIL NIL NIL NIL)",
	    "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)",
	    "(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 44 (NIL \"x\" NIL NI"
	    "L NIL NIL NIL NIL NIL NIL) (\"text\" \"plain\" (\"charset\" \"us-"
	    "ascii\") NIL NIL \"7bit\" 4 0) 3)" },
	{ "probe_b4.eml", 94,
	    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
	    "4 1 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"zz\") NIL NIL NIL)",
	    "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)",
	    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
	    "4 1) \"mixed\")" },
	{ "probe_b5.eml", 78,
	    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
	    "0 0 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"zz\") NIL NIL NIL)",
	    "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)",
	    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
	    "0 0) \"mixed\")" },
	{ "qp.eml", 313,
	    "(\"text\" \"plain\" (\"charset\" \"iso-8859-1\") NIL NIL \"quoted"
	    "-printable\" 32 2 NIL NIL NIL NIL)",
	    "(\"Tue, 1 Dec 2026 10:00:00 +0000\" \"=?utf-8?q?Caf=C3=A9?= menu"
	    "\" ((\"Ann Example\" NIL \"ann\" \"example.com\")) ((\"Ann Exampl"
	    "e\" NIL \"ann\" \"example.com\")) ((\"Ann Example\" NIL \"ann\" "
	    "\"example.com\")) ((\"Bob\" NIL \"bob\" \"example.org\")) NIL NIL"
	    " NIL \"<m3@example.com>\")",
	    "(\"text\" \"plain\" (\"charset\" \"iso-8859-1\") NIL NIL \"quoted"
	    "-printable\" 32 2)" },
	{ "related.eml", 476,
	    "((\"text\" \"html\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 20 0"
	    " NIL NIL NIL \"http://example.com/index.html\")(\"image\" \"gif\""
	    " NIL \"<logo>\" NIL \"base64\" 20 NIL NIL NIL NIL) \"related\" ("
	    "\"type\" \"text/html\" \"boundary\" \"rel\") NIL NIL NIL)",
	    "(\"Tue, 1 Dec 2026 10:00:00 +0000\" \"related\" ((\"Ann Example\""
	    " NIL \"ann\" \"example.com\")) ((\"Ann Example\" NIL \"ann\" \"ex"
	    "ample.com\")) ((\"Ann Example\" NIL \"ann\" \"example.com\")) (("
	    "\"Bob\" NIL \"bob\" \"example.org\")) NIL NIL NIL \"<m7@example.c"
	    "om>\")",
	    "((\"text\" \"html\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 20 0"
	    ")(\"image\" \"gif\" NIL \"<logo>\" NIL \"base64\" 20) \"related\""
	    ")" },
	{ "rfc2231.eml", 355,
	    "(\"application\" \"octet-stream\" (\"name*\" \"utf-8''%E2%82%AC%2"
	    "0rates.txt\") NIL NIL \"7bit\" 6 NIL (\"attachment\" (\"filename*"
	    "\" \"utf-8'en'%E2%82%AC%20rates.txt\")) NIL NIL)",
	    "(\"Tue, 1 Dec 2026 10:00:00 +0000\" \"2231\" ((\"Ann Example\" NI"
	    "L \"ann\" \"example.com\")) ((\"Ann Example\" NIL \"ann\" \"examp"
	    "le.com\")) ((\"Ann Example\" NIL \"ann\" \"example.com\")) ((\"Bo"
	    "b\" NIL \"bob\" \"example.org\")) NIL NIL NIL \"<m13@example.com>"
	    "\")",
	    "(\"application\" \"octet-stream\" (\"name*\" \"utf-8''%E2%82%AC%2"
	    "0rates.txt\") NIL NIL \"7bit\" 6)" },
	{ "rfc2231_long.eml", 318,
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\" \"title\" \"A very "
	    "long title that goes on and on and ends here.\") NIL NIL \"7bit\""
	    " 6 1 NIL NIL NIL NIL)",
	    "(\"Tue, 1 Dec 2026 10:00:00 +0000\" \"2231 long\" ((\"Ann Example"
	    "\" NIL \"ann\" \"example.com\")) ((\"Ann Example\" NIL \"ann\" \""
	    "example.com\")) ((\"Ann Example\" NIL \"ann\" \"example.com\")) ("
	    "(\"Bob\" NIL \"bob\" \"example.org\")) NIL NIL NIL \"<m14@example"
	    ".com>\")",
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\" \"title\" \"A very "
	    "long title that goes on and on and ends here.\") NIL NIL \"7bit\""
	    " 6 1)" },
	{ "smime_enc.eml", 899,
	    "(\"application\" \"pkcs7-mime\" (\"smime-type\" \"enveloped-data"
	    "\" \"name\" \"smime.p7m\") NIL NIL \"base64\" 552 NIL (\"attachme"
	    "nt\" (\"filename\" \"smime.p7m\")) NIL NIL)",
	    "(\"Tue, 1 Dec 2026 10:00:00 +0000\" \"encrypted\" ((\"Ann Example"
	    "\" NIL \"ann\" \"example.com\")) ((\"Ann Example\" NIL \"ann\" \""
	    "example.com\")) ((\"Ann Example\" NIL \"ann\" \"example.com\")) ("
	    "(\"Bob\" NIL \"bob\" \"example.org\")) NIL NIL NIL \"<m11@example"
	    ".com>\")",
	    "(\"application\" \"pkcs7-mime\" (\"smime-type\" \"enveloped-data"
	    "\" \"name\" \"smime.p7m\") NIL NIL \"base64\" 552)" },
};

/* ---- helpers ---- */

/* The message NAME of the corpus, malloc'ed; *LEN_R its length. */
static char *
load(const char *name, size_t *len_r)
{
	char path[512];
	FILE *f;
	char *d;
	long n;

	(void)snprintf(path, sizeof(path), "%s%s", CORPUS, name);
	f = fopen(path, "rb");
	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	d = malloc((size_t)n + 1);
	assert_non_null(d);
	assert_int_equal(fread(d, 1, (size_t)n, f), (size_t)n);
	(void)fclose(f);
	*len_r = (size_t)n;
	return d;
}

/* IMAP output with literals rewritten as quoted strings (what the
   expected strings use). Malloc'ed. */
static char *
unliteral(const char *s, size_t len)
{
	struct buf b;
	size_t i = 0, n, j;

	buf_init(&b, BUF_UNLIMITED);
	while (i < len) {
		if (s[i] == '{') {
			n = 0;
			for (i++; s[i] >= '0' && s[i] <= '9'; i++)
				n = n * 10 + (size_t)(s[i] - '0');
			assert_memory_equal(s + i, "}\r\n", 3);
			i += 3;
			assert_true(buf_putc(&b, '"') == 0);
			for (j = 0; j < n; j++, i++) {
				if (s[i] == '"' || s[i] == '\\')
					assert_true(buf_putc(&b, '\\') == 0);
				assert_true(buf_putc(&b, s[i]) == 0);
			}
			assert_true(buf_putc(&b, '"') == 0);
		} else {
			assert_true(buf_putc(&b, s[i++]) == 0);
		}
	}
	assert_true(buf_putc(&b, '\0') == 0);
	return b.data;
}

static void
assert_rendered(const char *got, size_t len, const char *want)
{
	char *n = unliteral(got, len);

	if (strcmp(n, want) != 0)
		print_error("got  %s\nwant %s\n", n, want);
	assert_string_equal(n, want);
	free(n);
}

static struct mime_tree *
parse_str(const char *s)
{
	return mime_parse(s, strlen(s));
}

/* The cache encoding of T (the tree compared as bytes). */
static void
encode(const struct mime_tree *t, struct buf *b)
{
	buf_init(b, BUF_UNLIMITED);
	assert_int_equal(mime_tree_encode(t, b), 0);
}

static uint64_t
rng(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* MSG parsed octet by octet and in random splits gives WHOLE. */
static void
assert_split_invariant(const char *msg, size_t len, const struct buf *whole)
{
	uint64_t seed = 88172645463325252ULL;
	struct mime_parser *p;
	struct mime_tree *t;
	struct buf e;
	size_t off, n;
	int round;

	for (round = 0; round < 4; round++) {
		p = mime_parser_new();
		for (off = 0; off < len; off += n) {
			n = round == 0 ? 1 : 1 + (size_t)(rng(&seed) % 97);
			if (n > len - off)
				n = len - off;
			mime_parser_feed(p, msg + off, n);
		}
		t = mime_parser_finish(&p);
		assert_null(p);
		encode(t, &e);
		assert_int_equal(e.len, whole->len);
		assert_memory_equal(e.data, whole->data, e.len);
		buf_free(&e);
		mime_tree_free(&t);
	}
}

/* ---- the Dovecot references ---- */

static void
test_dovecot(void **state)
{
	const struct dovecot_case *c = *state;
	struct mime_tree *t;
	struct buf b, enc;
	size_t len;
	char *msg = load(c->file, &len);

	t = mime_parse(msg, len);
	assert_int_equal(mime_tree_size(t), len);
	assert_int_equal(mime_tree_size_crlf(t), c->size);
	buf_init(&b, BUF_UNLIMITED);
	assert_int_equal(imap_body_structure(mime_tree_root(t), true, &b), 0);
	assert_rendered(b.data, b.len, c->bodystructure);
	buf_reset(&b);
	assert_int_equal(imap_body_envelope(mime_tree_root(t), &b), 0);
	assert_rendered(b.data, b.len, c->envelope);
	buf_reset(&b);
	assert_int_equal(imap_body_structure(mime_tree_root(t), false, &b),
	    0);
	assert_rendered(b.data, b.len, c->body);
	encode(t, &enc);
	assert_split_invariant(msg, len, &enc);
	buf_free(&enc);
	buf_free(&b);
	mime_tree_free(&t);
	free(msg);
}

/* ---- what we return where Dovecot differs ---- */

struct render_case {
	const char	*name;
	const char	*msg;
	bool		 envelope;	/* else BODYSTRUCTURE */
	const char	*want;
	size_t		 len;		/* 0: strlen(msg) */
};

static const struct render_case render_cases[] = {
	{ "message/global is a message (RFC 9051 media-message)",
	  "Content-Type: message/global\n\nSubject: x\n\nbody\n", false,
	  "(\"message\" \"global\" NIL NIL NIL \"7bit\" 20 (NIL \"x\" NIL NIL "
	  "NIL NIL NIL NIL NIL NIL) (\"text\" \"plain\" (\"charset\" "
	  "\"us-ascii\") NIL NIL \"7bit\" 6 1 NIL NIL NIL NIL) 3 NIL NIL NIL "
	  "NIL)", 0 },
	{ "index-less extended parameter stays name*",
	  "Content-Type: application/x; title*=us-ascii'en'This%20is\n\nx\n",
	  false,
	  "(\"application\" \"x\" (\"title*\" \"us-ascii'en'This%20is\") NIL "
	  "NIL \"7bit\" 3 NIL NIL NIL NIL)", 0 },
	{ "NUL octets in fields become 0x80 (as Dovecot)",
	  "Subject: a\0b\nCont\0ent-Type: text/html\n\nx\n", true,
	  "(NIL {3}\r\na\200b NIL NIL NIL NIL NIL NIL NIL NIL)", 41 },
	{ "a NUL in a field name makes no field of it",
	  "Cont\0ent-Type: text/html\n\nx\n", false,
	  "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 "
	  "1 NIL NIL NIL NIL)", 28 },
	{ "addresses after junk are kept",
	  "To: Ann <a@b> junk, c@d\n\nx\n", true,
	  "(NIL NIL NIL NIL NIL ((\"Ann\" NIL \"a\" \"b\")(NIL NIL \"c\" "
	  "\"d\")) NIL NIL NIL NIL)", 0 },
	{ "quoted strings escape quote and backslash",
	  "Subject: say \"hi\" \\o/\n\nx\n", true,
	  "(NIL \"say \\\"hi\\\" \\\\o/\" NIL NIL NIL NIL NIL NIL NIL "
	  "NIL)", 0 },
	{ "8-bit goes as a literal",
	  "Subject: caf\303\251\n\nx\n", true,
	  "(NIL {5}\r\ncaf\303\251 NIL NIL NIL NIL NIL NIL NIL NIL)", 0 },
	{ "empty message",
	  "", false,
	  "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 "
	  "NIL NIL NIL NIL)", 0 },
	{ "Content-Language stops at junk (as Dovecot)",
	  "MIME-Version: 1.0\nContent-Language: en, fr; x, de\n\nx\n", false,
	  "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 "
	  "1 NIL NIL (\"en\" \"fr\") NIL)", 0 },
	{ "Content-Language stops at an empty tag (as Dovecot)",
	  "MIME-Version: 1.0\nContent-Language: en (c) , ,fr de\n\nx\n",
	  false,
	  "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 "
	  "1 NIL NIL (\"en\") NIL)", 0 },
	{ "Content-Type without '/' and subtype, but parameters",
	  "MIME-Version: 1.0\nContent-Type: text;charset=x\n\nx\n", false,
	  "(\"\" \"\" NIL NIL NIL \"7bit\" 3 NIL NIL NIL NIL)", 0 },
	{ "Content-Type with junk after the subtype",
	  "Content-Type: text/plain junk; charset=x\n\nx\n", false,
	  "(\"\" \"\" NIL NIL NIL \"7bit\" 3 NIL NIL NIL NIL)", 0 },
	{ "Content-Type with blanks around '/' and 8-bit",
	  "Content-Type: text /pl\303\223ain\n\nx\n", false,
	  "(\"text\" {7}\r\npl\303\223ain (\"charset\" \"us-ascii\") NIL NIL "
	  "\"7bit\" 3 1 NIL NIL NIL NIL)", 0 },
	{ "To: foo bar (as Dovecot)",
	  "To: foo bar\n\nx\n", true,
	  "(NIL NIL NIL NIL NIL "
	  "((\"foo bar\" NIL \"MISSING_MAILBOX\" "
	  "\"MISSING_DOMAIN\"))"
	  " NIL NIL NIL NIL)", 0 },
	{ "To: \"foo bar\" (as Dovecot)",
	  "To: \"foo bar\"\n\nx\n", true,
	  "(NIL NIL NIL NIL NIL "
	  "((\"foo bar\" NIL \"MISSING_MAILBOX\" "
	  "\"MISSING_DOMAIN\"))"
	  " NIL NIL NIL NIL)", 0 },
	{ "To: foo.bar (as Dovecot)",
	  "To: foo.bar\n\nx\n", true,
	  "(NIL NIL NIL NIL NIL "
	  "((NIL NIL \"foo.bar\" \"MISSING_DOMAIN\"))"
	  " NIL NIL NIL NIL)", 0 },
	{ "To: foo bar, c@d (as Dovecot)",
	  "To: foo bar, c@d\n\nx\n", true,
	  "(NIL NIL NIL NIL NIL "
	  "((\"foo bar\" NIL \"MISSING_MAILBOX\" "
	  "\"MISSING_DOMAIN\")(NIL NIL \"c\" \"d\"))"
	  " NIL NIL NIL NIL)", 0 },
	{ "To: foo bar@x (as Dovecot)",
	  "To: foo bar@x\n\nx\n", true,
	  "(NIL NIL NIL NIL NIL "
	  "((\"foo bar\" NIL \"MISSING_MAILBOX\" "
	  "\"MISSING_DOMAIN\"))"
	  " NIL NIL NIL NIL)", 0 },
	{ "To: \"q\" x@y (as Dovecot)",
	  "To: \"q\" x@y\n\nx\n", true,
	  "(NIL NIL NIL NIL NIL "
	  "((\"q x\" NIL \"MISSING_MAILBOX\" \"MISSING_DOMAIN\"))"
	  " NIL NIL NIL NIL)", 0 },
	{ "To: foo (c) (as Dovecot)",
	  "To: foo (c)\n\nx\n", true,
	  "(NIL NIL NIL NIL NIL "
	  "((\"c\" NIL \"foo\" \"MISSING_DOMAIN\"))"
	  " NIL NIL NIL NIL)", 0 },
	{ "To: a@b c (as Dovecot)",
	  "To: a@b c\n\nx\n", true,
	  "(NIL NIL NIL NIL NIL "
	  "((NIL NIL \"a\" \"b\"))"
	  " NIL NIL NIL NIL)", 0 },
	{ "group with an empty name is no end marker",
	  "To: :a@b;\n\nx\n", true,
	  "(NIL NIL NIL NIL NIL ((NIL NIL \"\" NIL)(NIL NIL \"a\" \"b\")"
	  "(NIL NIL "
	  "NIL NIL)) NIL NIL NIL NIL)", 0 },
};

static void
test_render(void **state)
{
	const struct render_case *c = *state;
	struct mime_tree *t;
	struct buf b;

	t = mime_parse(c->msg, c->len ? c->len : strlen(c->msg));
	buf_init(&b, BUF_UNLIMITED);
	if (c->envelope)
		assert_int_equal(imap_body_envelope(mime_tree_root(t), &b), 0);
	else
		assert_int_equal(imap_body_structure(mime_tree_root(t), true,
		    &b), 0);
	assert_true(buf_putc(&b, '\0') == 0);
	assert_string_equal(b.data, c->want);
	buf_free(&b);
	mime_tree_free(&t);
}

/* ---- sizes, lines and sections by hand ---- */

/* Offsets: header 0..53 (3 lines, the blank one at 53); "--b" 54; part 1
   header "\n" at 58, body "one" 59..61; "--b" 63; part 2 header 67..92,
   body "two" 93..95 (its CRLF at 96 belongs to the delimiter); "--b--"
   98..103. Bare LFs: 10 of 11 (the one after CR is not). */
static const char hand_msg[] =
    "Subject: s\n"
    "Content-Type: multipart/mixed; boundary=b\n"
    "\n"
    "--b\n"
    "\n"
    "one\n"
    "--b\n"
    "Content-Type: text/plain\n"
    "\n"
    "two\r\n"
    "--b--\n";

static void
assert_part(const struct mime_part *p, uint64_t ho, uint64_t hs,
    uint64_t hsc, uint64_t hl, uint64_t bo, uint64_t bs, uint64_t bsc,
    uint64_t bl)
{
	assert_non_null(p);
	assert_int_equal(p->hdr_off, ho);
	assert_int_equal(p->hdr_size, hs);
	assert_int_equal(p->hdr_size_crlf, hsc);
	assert_int_equal(p->hdr_lines, hl);
	assert_int_equal(p->body_off, bo);
	assert_int_equal(p->body_size, bs);
	assert_int_equal(p->body_size_crlf, bsc);
	assert_int_equal(p->body_lines, bl);
}

static void
test_hand_sizes(void **state)
{
	struct mime_tree *t = parse_str(hand_msg);
	const struct mime_part *r = mime_tree_root(t);

	(void)state;
	assert_int_equal(sizeof(hand_msg) - 1, 104);
	assert_int_equal(mime_tree_size(t), 104);
	assert_int_equal(mime_tree_size_crlf(t), 114);
	assert_int_equal(mime_tree_nparts(t), 3);
	assert_false(mime_tree_truncated(t));
	assert_true(r->flags & MIME_PART_MULTIPART);
	assert_part(r, 0, 54, 57, 3, 54, 50, 57, 8);
	assert_part(r->children, 58, 1, 2, 1, 59, 3, 3, 0);
	assert_part(r->children->next, 67, 26, 28, 2, 93, 3, 3, 0);
	assert_null(r->children->next->next);
	mime_tree_free(&t);
}

struct section_case {
	const char	*sec;
	int		 found;
	uint64_t	 off, len, len_crlf;
};

static const struct section_case hand_sections[] = {
	{ "", 1, 0, 104, 114 },
	{ "HEADER", 1, 0, 54, 57 },
	{ "HEADER.FIELDS", 1, 0, 54, 57 },
	{ "TEXT", 1, 54, 50, 57 },
	{ "1", 1, 59, 3, 3 },
	{ "1.MIME", 1, 58, 1, 2 },
	{ "2", 1, 93, 3, 3 },
	{ "2.MIME", 1, 67, 26, 28 },
	{ "3", 0, 0, 0, 0 },
	{ "1.1", 0, 0, 0, 0 },
	{ "2.HEADER", 0, 0, 0, 0 },	/* not a message/rfc822 */
	{ "2.TEXT", 0, 0, 0, 0 },
};

static void
test_hand_section(void **state)
{
	const struct section_case *c = *state;
	struct mime_tree *t = parse_str(hand_msg);
	struct mime_section sec;
	struct mime_range r;
	uint32_t parts[8];

	assert_int_equal(mime_section_parse(c->sec, strlen(c->sec), parts, 8,
	    &sec), 0);
	assert_int_equal(mime_section_range(t, &sec, &r), c->found);
	if (c->found) {
		assert_int_equal(r.off, c->off);
		assert_int_equal(r.len, c->len);
		assert_int_equal(r.len_crlf, c->len_crlf);
	}
	mime_tree_free(&t);
}

struct fwd_case {
	const char	*sec;
	const char	*want;	/* NULL: no such section */
};

/* forward.eml: 1 text/plain, 2 message/rfc822 holding a text/plain. */
static const struct fwd_case fwd_sections[] = {
	{ "1", "Forwarding this." },
	{ "2.TEXT", "Original body\nline 2\n" },
	{ "2.1", "Original body\nline 2\n" },
	{ "2.1.MIME", NULL },	/* checked below: the embedded header */
	{ "2.2", NULL },
	{ "2.1.1", NULL },
	{ "2.MIME", "Content-Type: message/rfc822\n"
	  "Content-Disposition: inline\n\n" },
};

static void
test_fwd_section(void **state)
{
	const struct fwd_case *c = *state;
	struct mime_section sec;
	struct mime_range r;
	uint32_t parts[8];
	struct mime_tree *t;
	size_t len;
	char *msg = load("forward.eml", &len);
	int found;

	t = mime_parse(msg, len);
	assert_int_equal(mime_section_parse(c->sec, strlen(c->sec), parts, 8,
	    &sec), 0);
	found = mime_section_range(t, &sec, &r);
	if (strcmp(c->sec, "2.1.MIME") == 0) {
		/* The MIME header of a non-multipart message's part 1 is
		   the message header, as 2.HEADER. */
		struct mime_range h;

		assert_int_equal(mime_section_parse("2.HEADER", 8, parts, 8,
		    &sec), 0);
		assert_int_equal(mime_section_range(t, &sec, &h), 1);
		assert_int_equal(found, 1);
		assert_int_equal(r.off, h.off);
		assert_int_equal(r.len, h.len);
		assert_memory_equal(msg + h.off, "Date: ", 6);
		assert_memory_equal(msg + h.off + h.len - 2, "\n\n", 2);
	} else if (c->want == NULL) {
		assert_int_equal(found, 0);
	} else {
		assert_int_equal(found, 1);
		assert_int_equal(r.len, strlen(c->want));
		assert_memory_equal(msg + r.off, c->want, r.len);
	}
	mime_tree_free(&t);
	free(msg);
}

struct secparse_case {
	const char	*in;
	int		 r;
	size_t		 nparts;
	enum mime_sec_kind kind;
};

static const struct secparse_case secparse_cases[] = {
	{ "", 0, 0, MIME_SEC_BODY },
	{ "1.2.3", 0, 3, MIME_SEC_BODY },
	{ "header", 0, 0, MIME_SEC_HEADER },
	{ "4.2.HEADER.FIELDS.NOT", 0, 2, MIME_SEC_HEADER_FIELDS_NOT },
	{ "3.MIME", 0, 1, MIME_SEC_MIME },
	{ "MIME", -1, 0, 0 },
	{ "0", -1, 0, 0 },
	{ "01", -1, 0, 0 },
	{ "1.", -1, 0, 0 },
	{ "1..2", -1, 0, 0 },
	{ "4294967296", -1, 0, 0 },
	{ "1.2.3.4.5.6.7.8.9", -1, 0, 0 },	/* more than the room (8) */
	{ "TEXTX", -1, 0, 0 },
};

static void
test_secparse(void **state)
{
	const struct secparse_case *c = *state;
	struct mime_section sec;
	uint32_t parts[8];

	assert_int_equal(mime_section_parse(c->in, strlen(c->in), parts, 8,
	    &sec), c->r);
	if (c->r == 0) {
		assert_int_equal(sec.nparts, c->nparts);
		assert_int_equal(sec.kind, c->kind);
	}
}

/* ---- HEADER.FIELDS ---- */

static void
test_header_filter(void **state)
{
	static const char hdr[] =
	    "From: a@b\n"
	    "To: c@d,\n"
	    "\te@f\n"
	    "Subject : hi\r\n"
	    "X-Other: x\n"
	    "broken line\n"
	    "\n";
	static const char *const names[] = { "to", "SUBJECT", NULL };
	struct buf b;

	(void)state;
	buf_init(&b, BUF_UNLIMITED);
	assert_int_equal(mime_header_filter(hdr, sizeof(hdr) - 1,
	    mime_name_in, (void *)names, false, &b), 0);
	assert_true(buf_putc(&b, '\0') == 0);
	assert_string_equal(b.data,
	    "To: c@d,\r\n\te@f\r\nSubject : hi\r\n\r\n");
	buf_reset(&b);
	assert_int_equal(mime_header_filter(hdr, sizeof(hdr) - 1,
	    mime_name_in, (void *)names, true, &b), 0);
	assert_true(buf_putc(&b, '\0') == 0);
	assert_string_equal(b.data, "From: a@b\r\nX-Other: x\r\n\r\n");
	/* A full buffer is an error, never a cut header. */
	buf_free(&b);
	buf_init(&b, 10);
	assert_int_equal(mime_header_filter(hdr, sizeof(hdr) - 1,
	    mime_name_in, (void *)names, false, &b), -1);
	buf_free(&b);
}

/* ---- the LF to CRLF reader, partial fetch ---- */

static void
test_crlf_reader(void **state)
{
	static const char file[] = "xx" "a\nb\r\nc\n\n" "yy";
	static const char conv[] = "a\r\nb\r\nc\r\n\r\n";	/* 11 */
	static const size_t rooms[] = { 1, 2, 3, 64 };
	struct mime_range r = { 2, 9, 11, 4 };
	struct mime_crlf_reader rd;
	uint64_t origin, count;
	char out[64], got[64];
	size_t k, glen, want;
	ssize_t n;
	int fd;

	(void)state;
	fd = memfd_create("test_mime", 0);
	assert_true(fd != -1);
	assert_int_equal(write(fd, file, sizeof(file) - 1), sizeof(file) - 1);
	for (origin = 0; origin <= 12; origin++) {
		for (count = 0; count <= 12; count++) {
			uint64_t c = count == 12 ? UINT64_MAX : count;

			want = (size_t)mime_partial_len(11, origin, c);
			for (k = 0; k < nitems(rooms); k++) {
				mime_crlf_init(&rd, fd, &r, origin, c);
				glen = 0;
				while ((n = mime_crlf_read(&rd, out,
				    rooms[k])) > 0) {
					memcpy(got + glen, out, (size_t)n);
					glen += (size_t)n;
				}
				assert_int_equal(n, 0);
				assert_int_equal(glen, want);
				if (want > 0)
					assert_memory_equal(got, conv + origin,
					    want);
			}
		}
	}
	/* A file shorter than the tree says: an error, not a short body. */
	assert_int_equal(ftruncate(fd, 6), 0);
	mime_crlf_init(&rd, fd, &r, 0, UINT64_MAX);
	while ((n = mime_crlf_read(&rd, out, sizeof(out))) > 0)
		;
	assert_int_equal(n, -1);
	(void)close(fd);
}

/* ---- the cache ---- */

static uint64_t
fnv1a(const unsigned char *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	while (n-- > 0) {
		h ^= *p++;
		h *= 0x100000001b3ULL;
	}
	return h;
}

static void
reseal(unsigned char *d, size_t len)
{
	uint64_t h = fnv1a(d, len - 8);
	size_t i;

	for (i = 0; i < 8; i++)
		d[len - 8 + i] = (unsigned char)(h >> (8 * i));
}

static const char *const cache_files[] = {
	"forward_nested.eml", "groups.eml", "rfc2231.eml", "digest.eml",
	"lang_loc_md5.eml", "alt_in_mixed.eml", "empty.eml",
};

static void
test_cache(void **state)
{
	const char *const *file = *state;
	struct mime_tree *t, *d;
	struct buf e, again, r1, r2;
	unsigned char *bad;
	size_t len, i, flips = 0;
	char *msg = load(*file, &len);

	t = mime_parse(msg, len);
	encode(t, &e);
	d = mime_tree_decode(e.data, e.len);
	assert_non_null(d);
	encode(d, &again);
	assert_int_equal(again.len, e.len);
	assert_memory_equal(again.data, e.data, e.len);
	buf_init(&r1, BUF_UNLIMITED);
	buf_init(&r2, BUF_UNLIMITED);
	assert_int_equal(imap_body_structure(mime_tree_root(t), true, &r1), 0);
	assert_int_equal(imap_body_envelope(mime_tree_root(t), &r1), 0);
	assert_int_equal(imap_body_structure(mime_tree_root(d), true, &r2), 0);
	assert_int_equal(imap_body_envelope(mime_tree_root(d), &r2), 0);
	assert_int_equal(r1.len, r2.len);
	assert_memory_equal(r1.data, r2.data, r1.len);
	assert_int_equal(mime_tree_size_crlf(d), mime_tree_size_crlf(t));
	mime_tree_free(&d);
	/* Every cut and every flipped octet is a miss. */
	for (i = 0; i < e.len; i++)
		assert_null(mime_tree_decode(e.data, i));
	bad = malloc(e.len);
	assert_non_null(bad);
	for (i = 0; i < e.len; i++) {
		memcpy(bad, e.data, e.len);
		bad[i] ^= (unsigned char)(i % 2 ? 0x80 : 0x01);
		assert_null(mime_tree_decode(bad, e.len));
		/* Damage that the checksum does not see (a writer's bug):
		   decoded or refused, never a crash. */
		reseal(bad, e.len);
		if ((d = mime_tree_decode(bad, e.len)) != NULL) {
			buf_reset(&r2);
			assert_int_equal(imap_body_structure(mime_tree_root(d),
			    true, &r2), 0);
			mime_tree_free(&d);
		} else {
			flips++;
		}
	}
	assert_true(flips > 0);
	free(bad);
	buf_free(&r1);
	buf_free(&r2);
	buf_free(&again);
	buf_free(&e);
	mime_tree_free(&t);
	free(msg);
}

static void
test_cache_version(void **state)
{
	struct mime_tree *t = parse_str(hand_msg);
	struct buf e;

	(void)state;
	encode(t, &e);
	e.data[3] = MIME_CACHE_VERSION + 1;
	reseal((unsigned char *)e.data, e.len);
	assert_null(mime_tree_decode(e.data, e.len));
	assert_null(mime_tree_decode("", 0));
	buf_free(&e);
	/* A full buffer refuses the encoding whole. */
	buf_init(&e, 10);
	assert_int_equal(mime_tree_encode(t, &e), -1);
	assert_int_equal(e.len, 0);
	buf_free(&e);
	mime_tree_free(&t);
}

/* ---- limits, just under and just over ---- */

/* N multiparts nested, a text part in the innermost. */
static struct mime_tree *
nested(unsigned n)
{
	struct buf b;
	struct mime_tree *t;
	unsigned i;

	buf_init(&b, BUF_UNLIMITED);
	for (i = 0; i < n; i++)
		assert_int_equal(buf_printf(&b, "Content-Type: multipart/"
		    "mixed; boundary=d%u\n\n--d%u\n", i, i), 0);
	assert_int_equal(buf_append_str(&b, "Content-Type: text/plain\n\n"
	    "deep\n"), 0);
	for (i = n; i-- > 0;)
		assert_int_equal(buf_printf(&b, "--d%u--\n", i), 0);
	t = mime_parse(b.data, b.len);
	buf_free(&b);
	return t;
}

static void
test_limit_depth(void **state)
{
	struct mime_tree *t;
	const struct mime_part *p;

	(void)state;
	t = nested(MIME_DEPTH_MAX);
	assert_false(mime_tree_truncated(t));
	for (p = mime_tree_root(t); p->children != NULL; p = p->children)
		;
	assert_int_equal(p->depth, MIME_DEPTH_MAX);
	assert_true(mime_part_is(p, "text", "plain"));
	assert_int_equal(p->body_size, 4);	/* its LF is the delimiter's */
	mime_tree_free(&t);
	t = nested(MIME_DEPTH_MAX + 1);
	assert_true(mime_tree_truncated(t));
	for (p = mime_tree_root(t); p->children != NULL; p = p->children)
		;
	/* The multipart at the limit is opaque: it holds the rest. */
	assert_int_equal(p->depth, MIME_DEPTH_MAX);
	assert_true(p->flags & MIME_PART_OPAQUE);
	assert_true(mime_part_is(p, "multipart", "mixed"));
	mime_tree_free(&t);
}

static struct mime_tree *
many_parts(unsigned n)
{
	struct buf b;
	struct mime_tree *t;
	unsigned i;

	buf_init(&b, BUF_UNLIMITED);
	assert_int_equal(buf_append_str(&b, "Content-Type: multipart/mixed; "
	    "boundary=m\n\n"), 0);
	for (i = 0; i < n; i++)
		assert_int_equal(buf_printf(&b, "--m\n\npart %u\n", i), 0);
	assert_int_equal(buf_append_str(&b, "--m--\nepilogue\n"), 0);
	t = mime_parse(b.data, b.len);
	buf_free(&b);
	return t;
}

static void
test_limit_parts(void **state)
{
	struct mime_tree *t;
	const struct mime_part *p, *last = NULL;
	size_t n = 0;

	(void)state;
	t = many_parts(MIME_PARTS_MAX - 1);
	assert_false(mime_tree_truncated(t));
	assert_int_equal(mime_tree_nparts(t), MIME_PARTS_MAX);
	mime_tree_free(&t);
	t = many_parts(MIME_PARTS_MAX);
	assert_true(mime_tree_truncated(t));
	assert_int_equal(mime_tree_nparts(t), MIME_PARTS_MAX);
	for (p = mime_tree_root(t)->children; p != NULL; p = p->next) {
		last = p;
		n++;
	}
	assert_int_equal(n, MIME_PARTS_MAX - 1);
	/* The parts made end where they should; the rest is opaque. */
	assert_int_equal(last->body_size, strlen("part 998"));
	assert_int_equal(mime_tree_root(t)->hdr_size +
	    mime_tree_root(t)->body_size, mime_tree_size(t));
	mime_tree_free(&t);
}

/* A header of about SIZE octets of filler, then a Content-Type. */
static struct mime_tree *
big_header(size_t size)
{
	struct buf b;
	struct mime_tree *t;

	buf_init(&b, BUF_UNLIMITED);
	while (b.len + 80 <= size)
		assert_int_equal(buf_append_str(&b, "X-Filler: "
		    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
		    "xxxxxxxxxxxx\n"), 0);
	while (b.len < size)
		assert_int_equal(buf_append_str(&b, "Y: z\n"), 0);
	assert_int_equal(buf_append_str(&b, "Content-Type: text/html\n\nx\n"),
	    0);
	t = mime_parse(b.data, b.len);
	buf_free(&b);
	return t;
}

static void
test_limit_header(void **state)
{
	struct mime_tree *t;

	(void)state;
	t = big_header(MIME_HEADER_MAX - 10);
	assert_true(mime_part_is(mime_tree_root(t), "text", "html"));
	assert_false(mime_tree_root(t)->flags & MIME_PART_HDR_TRUNCATED);
	mime_tree_free(&t);
	t = big_header(MIME_HEADER_MAX + 10);
	assert_true(mime_part_is(mime_tree_root(t), "text", "plain"));
	assert_true(mime_tree_root(t)->flags & MIME_PART_HDR_TRUNCATED);
	assert_true(mime_tree_truncated(t));
	/* The header still ends where it does. */
	assert_int_equal(mime_tree_root(t)->body_size, 2);
	mime_tree_free(&t);
}

static struct mime_tree *
long_subject(size_t n)
{
	struct buf b;
	struct mime_tree *t;

	buf_init(&b, BUF_UNLIMITED);
	assert_int_equal(buf_append_str(&b, "Subject: "), 0);
	while (b.len < n)
		assert_int_equal(buf_append_str(&b, (b.len % 70) ? "s" :
		    "\n s"), 0);
	assert_int_equal(buf_append_str(&b, "\nFrom: a@b\n\nx\n"), 0);
	t = mime_parse(b.data, b.len);
	buf_free(&b);
	return t;
}

static void
test_limit_field(void **state)
{
	struct mime_tree *t;
	const struct mime_envelope *env;

	(void)state;
	/* The field buffer holds the unfolded field with its name. */
	t = long_subject(MIME_FIELD_MAX - 100);
	env = mime_tree_root(t)->env;
	assert_non_null(env->field[MIME_ENV_SUBJECT]);
	assert_true(strlen(env->field[MIME_ENV_SUBJECT]) > MIME_FIELD_MAX -
	    2000);
	mime_tree_free(&t);
	t = long_subject(MIME_FIELD_MAX + 2000);	/* + folds */
	env = mime_tree_root(t)->env;
	assert_null(env->field[MIME_ENV_SUBJECT]);	/* dropped whole */
	assert_int_equal(env->naddrs[MIME_ENV_FROM], 1);
	mime_tree_free(&t);
}

static void
test_limit_params(void **state)
{
	struct mime_tree *t;
	struct buf b;
	unsigned n, i;

	(void)state;
	for (n = MIME_PARAMS_MAX; n <= MIME_PARAMS_MAX + 1; n++) {
		buf_init(&b, BUF_UNLIMITED);
		assert_int_equal(buf_append_str(&b, "Content-Type: text/plain"),
		    0);
		for (i = 0; i < n; i++)
			assert_int_equal(buf_printf(&b, ";\n p%u=v%u", i, i),
			    0);
		assert_int_equal(buf_append_str(&b, "\n\nx\n"), 0);
		t = mime_parse(b.data, b.len);
		assert_int_equal(mime_tree_root(t)->nparams, MIME_PARAMS_MAX);
		assert_string_equal(mime_tree_root(t)->params[
		    MIME_PARAMS_MAX - 1].name, "p63");
		mime_tree_free(&t);
		buf_free(&b);
	}
}

static void
test_limit_boundary(void **state)
{
	char bnd[MIME_BOUNDARY_MAX + 2];
	struct mime_tree *t;
	struct buf b;
	size_t n;

	(void)state;
	for (n = MIME_BOUNDARY_MAX; n <= MIME_BOUNDARY_MAX + 1; n++) {
		memset(bnd, 'b', n);
		bnd[n] = '\0';
		buf_init(&b, BUF_UNLIMITED);
		assert_int_equal(buf_printf(&b, "Content-Type: multipart/mixed;"
		    " boundary=%s\n\n--%s\n\none\n--%s--\n", bnd, bnd, bnd), 0);
		t = mime_parse(b.data, b.len);
		if (n == MIME_BOUNDARY_MAX) {
			assert_non_null(mime_tree_root(t)->children);
			assert_int_equal(mime_tree_root(t)->children->body_size,
			    3);
		} else {
			/* No boundary to look for: no parts at all. */
			assert_null(mime_tree_root(t)->children);
		}
		mime_tree_free(&t);
		buf_free(&b);
	}
}

static void
test_limit_memory(void **state)
{
	struct mime_tree *t;
	struct buf b;
	unsigned i;
	size_t j;

	(void)state;
	/* 900 parts with 8 KiB descriptions: past MIME_KEPT_MAX. */
	buf_init(&b, BUF_UNLIMITED);
	assert_int_equal(buf_append_str(&b, "Content-Type: multipart/mixed; "
	    "boundary=m\n\n"), 0);
	for (i = 0; i < 900; i++) {
		assert_int_equal(buf_append_str(&b, "--m\nContent-Description:"
		    " "), 0);
		for (j = 0; j < 8192 / 64; j++)
			assert_int_equal(buf_append_str(&b, "dddddddddddddddddd"
			    "ddddddddddddddddddddddddddddddddddddddddddddd\n "),
			    0);
		assert_int_equal(buf_append_str(&b, "\n\nbody\n"), 0);
	}
	t = mime_parse(b.data, b.len);
	assert_true(mime_tree_truncated(t));
	assert_int_equal(mime_tree_size(t), b.len);
	assert_int_equal(mime_tree_root(t)->hdr_size +
	    mime_tree_root(t)->body_size, b.len);
	buf_free(&b);
	buf_init(&b, BUF_UNLIMITED);
	assert_int_equal(imap_body_structure(mime_tree_root(t), true, &b), 0);
	buf_free(&b);
	mime_tree_free(&t);
}

/* ---- RFC 2231 and RFC 2047 ---- */

struct param_case {
	const char	*name;
	const char	*ct;		/* Content-Type value */
	const char	*want;		/* "n=v;n=v" */
};

static const struct param_case param_cases[] = {
	{ "plain", "text/plain; a=1; b=\"two words\"", "a=1;b=two words" },
	{ "continuations merge", "x/y; n*0=\"one \"; n*1=two; n*2=\"3\"",
	  "n=one two3" },
	{ "out of order", "x/y; n*1=b; n*0=a", "n=ab" },
	{ "extended pieces", "x/y; n*0*=utf-8''%E2%82; n*1*=%AC",
	  "n*=utf-8''%E2%82%AC" },
	{ "plain piece in an extended value is encoded",
	  "x/y; n*0*=us-ascii'en'a; n*1=\"b c%\"", "n*=us-ascii'en'ab%20c%25" },
	{ "first piece plain", "x/y; n*0=a; n*1*=b%25", "n*=''ab%25" },
	/* Broken sets stay as written (Dovecot 2.3.19 too): */
	{ "gap", "x/y; n*0=a; n*2=c", "n*0=a;n*2=c" },
	{ "no piece 0", "x/y; n*5=x", "n*5=x" },
	{ "piece twice", "x/y; n*0*=a; n*0=b", "n*0*=a;n*0=b" },
	{ "gap after an extended piece", "x/y; n*0=a; n*1*=b; n*3=d",
	  "n*0=a;n*1*=b;n*3=d" },
	{ "leading zero is no index", "x/y; n*01=a", "n*01=a" },
	{ "plain after merged", "x/y; z*0=a; b=c; z*1=d", "b=c;z=ad" },
	{ "comments and spaces", "x/y (c) ; (c) a (c) = (c) b (c)", "a=b" },
	{ "junk skipped", "x/y; ;; =x; a; b=c", "=x" },
	{ "name without value", "x/y; a; b=c", "" },
	{ "empty name", "x/y; =x; b=c", "=x;b=c" },
	{ "junk after a value", "x/y; a=1 junk b=2; c=3", "a=1;c=3" },
	{ "trailing ';'", "x/y; a=1;", "a=1" },
	{ "empty value at the end", "x/y; n=", "n=" },
	{ "empty value before ';'", "x/y; n= ; z=1", "n=;z=1" },
	{ "empty quoted value", "x/y; n=\"\"", "n=" },
	{ "unterminated quote dropped", "x/y; a=\"open; b=c", "" },
	{ "escaped quote", "x/y; a=\"q\\\"x\"", "a=q\"x" },
	/* What Dovecot 2.3.19 makes of unquoted junk: */
	{ "value stops at a tspecial", "x/y; n=a/b; z=1", "n=a;z=1" },
	{ "value empty before junk", "x/y; n=,abc; z=1", "n=;z=1" },
	{ "value stops at a blank", "x/y; n=abc def; z=1", "n=abc;z=1" },
	{ "value stops at a comment", "x/y; n=a(c)b; z=1", "n=a;z=1" },
	{ "quote after a value", "x/y; n=\"q\" x; z=1", "n=q;z=1" },
};

static void
test_params(void **state)
{
	const struct param_case *c = *state;
	struct mime_tree *t;
	struct buf msg, got;
	size_t i;
	const struct mime_part *r;

	buf_init(&msg, BUF_UNLIMITED);
	assert_int_equal(buf_printf(&msg, "MIME-Version: 1.0\nContent-Type: "
	    "%s\n\nx\n", c->ct), 0);
	t = mime_parse(msg.data, msg.len);
	r = mime_tree_root(t);
	buf_init(&got, BUF_UNLIMITED);
	assert_true(buf_putc(&got, '\0') == 0);
	buf_reset(&got);
	for (i = 0; i < r->nparams; i++)
		assert_int_equal(buf_printf(&got, "%s%s=%s", i ? ";" : "",
		    r->params[i].name, r->params[i].value), 0);
	assert_string_equal(buf_cstr(&got), c->want);
	buf_free(&got);
	buf_free(&msg);
	mime_tree_free(&t);
}

static void
test_param_decode(void **state)
{
	struct buf b;
	char cs[32];

	(void)state;
	buf_init(&b, BUF_UNLIMITED);
	assert_int_equal(mime_param_decode("utf-8'en'%E2%82%AC%20rates.txt",
	    &b, cs, sizeof(cs)), 0);
	assert_string_equal(cs, "utf-8");
	assert_string_equal(buf_cstr(&b), "\342\202\254 rates.txt");
	buf_reset(&b);
	assert_int_equal(mime_param_decode("''plain", &b, cs, sizeof(cs)), 0);
	assert_string_equal(cs, "");
	assert_string_equal(buf_cstr(&b), "plain");
	assert_int_equal(mime_param_decode("no quotes", &b, cs, sizeof(cs)),
	    -1);
	assert_int_equal(mime_param_decode("x''%4", &b, cs, sizeof(cs)), -1);
	assert_int_equal(mime_param_decode("x''%G0", &b, cs, sizeof(cs)), -1);
	buf_free(&b);
}

struct words_case {
	const char	*in;
	const char	*want;
};

/* Mostly RFC 2047 section 8's examples. */
static const struct words_case words_cases[] = {
	{ "=?ISO-8859-1?Q?a?=", "a" },
	{ "=?ISO-8859-1?Q?a?= b", "a b" },
	{ "=?ISO-8859-1?Q?a?= =?ISO-8859-1?Q?b?=", "ab" },
	{ "=?ISO-8859-1?Q?a?=  \n  =?ISO-8859-1?Q?b?=", "ab" },
	{ "=?ISO-8859-1?Q?a_b?=", "a b" },
	{ "=?ISO-8859-1?Q?a?= =?ISO-8859-2?Q?_b?=", "a b" },
	{ "=?ISO-8859-1?Q?Andr=E9?= Pirard", "Andr\303\251 Pirard" },
	{ "=?UTF-8?B?4oKs?=", "\342\202\254" },
	{ "=?utf-8?b?4oKs?=", "\342\202\254" },
	{ "=?UTF-8*en?Q?x?=", "x" },
	{ "=?x-unknown?Q?a?=", "=?x-unknown?Q?a?=" },
	{ "=?UTF-8?Q?bad=Z?=", "=?UTF-8?Q?bad=Z?=" },
	{ "=?UTF-8?X?a?=", "=?UTF-8?X?a?=" },
	{ "not =? a word", "not =? a word" },
	{ "a =?UTF-8?Q?b?= c", "a b c" },
};

static void
test_words(void **state)
{
	const struct words_case *c = *state;
	struct buf b;

	buf_init(&b, BUF_UNLIMITED);
	assert_int_equal(mime_decode_words(c->in, strlen(c->in), &b), 0);
	assert_string_equal(buf_cstr(&b), c->want);
	buf_free(&b);
}

/* ---- RFC 9051 examples ---- */

/* 7.5.2's BODY example: ("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL
   "7BIT" 3028 92), from a body of 92 lines and 3028 octets with CRLF. */
static void
test_rfc9051_body(void **state)
{
	struct mime_tree *t;
	struct buf m, b;
	int i;

	(void)state;
	buf_init(&m, BUF_UNLIMITED);
	assert_int_equal(buf_append_str(&m, "Content-Type: TEXT/PLAIN; "
	    "CHARSET=US-ASCII\nContent-Transfer-Encoding: 7BIT\n\n"), 0);
	for (i = 0; i < 91; i++)	/* 91 * (31 + 2) + 23 + 2 = 3028 */
		assert_int_equal(buf_append_str(&m,
		    "0123456789012345678901234567890\n"), 0);
	assert_int_equal(buf_append_str(&m, "01234567890123456789012\n"), 0);
	t = mime_parse(m.data, m.len);
	buf_init(&b, BUF_UNLIMITED);
	assert_int_equal(imap_body_structure(mime_tree_root(t), false, &b), 0);
	assert_true(buf_putc(&b, '\0') == 0);
	assert_string_equal(b.data, "(\"TEXT\" \"PLAIN\" (\"CHARSET\" "
	    "\"US-ASCII\") NIL NIL \"7BIT\" 3028 92)");
	buf_free(&b);
	buf_free(&m);
	mime_tree_free(&t);
}

/* 6.4.5's example of part numbers, each body naming its part. A part
   closed by its close delimiter keeps that line's LF (Dovecot too). */
static const char rfc_parts_msg[] =
    "Subject: top\nContent-Type: MULTIPART/MIXED; boundary=t\n\n"
    "--t\nContent-Type: TEXT/PLAIN\n\n[1]\n"
    "--t\nContent-Type: APPLICATION/OCTET-STREAM\n\n[2]\n"
    "--t\nContent-Type: MESSAGE/RFC822\n\n"
    "Subject: three\nContent-Type: MULTIPART/MIXED; boundary=m3\n\n"
    "--m3\nContent-Type: TEXT/PLAIN\n\n[3.1]\n"
    "--m3\nContent-Type: APPLICATION/OCTET-STREAM\n\n[3.2]\n"
    "--m3--\n"
    "--t\nContent-Type: MULTIPART/MIXED; boundary=m4\n\n"
    "--m4\nContent-Type: IMAGE/GIF\n\n[4.1]\n"
    "--m4\nContent-Type: MESSAGE/RFC822\n\n"
    "Subject: four-two\nContent-Type: MULTIPART/MIXED; boundary=m42\n\n"
    "--m42\nContent-Type: TEXT/PLAIN\n\n[4.2.1]\n"
    "--m42\nContent-Type: MULTIPART/ALTERNATIVE; boundary=alt\n\n"
    "--alt\nContent-Type: TEXT/PLAIN\n\n[4.2.2.1]\n"
    "--alt\nContent-Type: TEXT/RICHTEXT\n\n[4.2.2.2]\n"
    "--alt--\n--m42--\n--m4--\n--t--\n";

struct rfc_part_case {
	const char	*sec;
	const char	*starts;	/* what the range starts with */
	const char	*ends;		/* and ends with */
};

static const struct rfc_part_case rfc_parts[] = {
	{ "HEADER", "Subject: top\n", "boundary=t\n\n" },
	{ "TEXT", "--t\n", "--t--\n" },
	{ "1", "[1]", "[1]" },
	{ "2", "[2]", "[2]" },
	{ "3", "Subject: three\n", "--m3--\n" },
	{ "3.HEADER", "Subject: three\n", "boundary=m3\n\n" },
	{ "3.TEXT", "--m3\n", "--m3--\n" },
	{ "3.1", "[3.1]", "[3.1]" },
	{ "3.2", "[3.2]", "[3.2]" },
	{ "4", "--m4\n", "--m4--\n" },
	{ "4.1", "[4.1]", "[4.1]" },
	{ "4.1.MIME", "Content-Type: IMAGE/GIF\n\n", "IMAGE/GIF\n\n" },
	{ "4.2", "Subject: four-two\n", "--m42--\n" },
	{ "4.2.HEADER", "Subject: four-two\n", "boundary=m42\n\n" },
	{ "4.2.TEXT", "--m42\n", "--m42--\n" },
	{ "4.2.1", "[4.2.1]", "[4.2.1]" },
	{ "4.2.2", "--alt\n", "--alt--\n" },
	{ "4.2.2.1", "[4.2.2.1]", "[4.2.2.1]" },
	{ "4.2.2.2", "[4.2.2.2]", "[4.2.2.2]" },
	{ "4.2.2.2.MIME", "Content-Type: TEXT/RICHTEXT\n\n", "RICHTEXT\n\n" },
	{ "4.2.3", NULL, NULL },
	{ "5", NULL, NULL },
	{ "4.2.2.2.1", NULL, NULL },
};

static void
test_rfc_parts(void **state)
{
	const struct rfc_part_case *c = *state;
	struct mime_tree *t = parse_str(rfc_parts_msg);
	struct mime_section sec;
	struct mime_range r;
	uint32_t parts[8];

	assert_int_equal(mime_section_parse(c->sec, strlen(c->sec), parts, 8,
	    &sec), 0);
	if (c->starts == NULL) {
		assert_int_equal(mime_section_range(t, &sec, &r), 0);
	} else {
		assert_int_equal(mime_section_range(t, &sec, &r), 1);
		assert_true(r.len >= strlen(c->starts));
		assert_memory_equal(rfc_parts_msg + r.off, c->starts,
		    strlen(c->starts));
		assert_memory_equal(rfc_parts_msg + r.off + r.len -
		    strlen(c->ends), c->ends, strlen(c->ends));
	}
	mime_tree_free(&t);
}

/* ---- the parser API ---- */

static void
test_api(void **state)
{
	struct mime_parser *p = mime_parser_new();
	struct mime_tree *t = NULL;
	struct buf b;

	(void)state;
	mime_parser_feed(p, "Subject: x\n", 11);
	mime_parser_free(&p);
	assert_null(p);
	mime_parser_free(&p);
	mime_tree_free(&t);
	/* A multipart/digest's parts default to message/rfc822. */
	t = parse_str("Content-Type: multipart/digest; boundary=d\n\n--d\n\n"
	    "Subject: in\n\nx\n--d--\n");
	assert_true(mime_part_is(mime_tree_root(t)->children, "message",
	    "rfc822"));
	assert_string_equal(mime_part_param(mime_tree_root(t), "BOUNDARY"),
	    "d");
	assert_null(mime_part_param(mime_tree_root(t), "charset"));
	buf_init(&b, 0);
	assert_int_equal(imap_body_structure(mime_tree_root(t), true, &b), -1);
	assert_int_equal(imap_body_envelope(mime_tree_root(t), &b), -1);
	assert_int_equal(imap_body_nstring(&b, "x"), -1);
	assert_int_equal(b.len, 0);
	buf_free(&b);
	buf_init(&b, BUF_UNLIMITED);
	assert_int_equal(imap_body_envelope(NULL, &b), 0);
	assert_int_equal(imap_body_nstring(&b, NULL), 0);
	assert_true(buf_putc(&b, '\0') == 0);
	assert_string_equal(b.data,
	    "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)NIL");
	buf_free(&b);
	mime_tree_free(&t);
}

int
main(void)
{
	size_t i;
	int r;

#define ADD(table, fn)                                                     \
	for (i = 0; i < nitems(table); i++)                                \
		add_test(table[i].name, fn, &table[i])

	for (i = 0; i < nitems(dovecot_cases); i++)
		add_test(dovecot_cases[i].file, test_dovecot,
		    &dovecot_cases[i]);
	ADD(render_cases, test_render);
	add_test("sizes and lines by hand", test_hand_sizes, NULL);
	for (i = 0; i < nitems(hand_sections); i++)
		add_test(hand_sections[i].sec[0] ? hand_sections[i].sec :
		    "BODY[]", test_hand_section, &hand_sections[i]);
	for (i = 0; i < nitems(fwd_sections); i++)
		add_test(fwd_sections[i].sec, test_fwd_section,
		    &fwd_sections[i]);
	for (i = 0; i < nitems(secparse_cases); i++)
		add_test(secparse_cases[i].in[0] ? secparse_cases[i].in :
		    "section \"\"", test_secparse, &secparse_cases[i]);
	add_test("HEADER.FIELDS and .NOT", test_header_filter, NULL);
	add_test("CRLF reader, every origin and length", test_crlf_reader,
	    NULL);
	for (i = 0; i < nitems(cache_files); i++)
		add_test(cache_files[i], test_cache, &cache_files[i]);
	add_test("cache version and room", test_cache_version, NULL);
	add_test("limit depth", test_limit_depth, NULL);
	add_test("limit parts", test_limit_parts, NULL);
	add_test("limit header section", test_limit_header, NULL);
	add_test("limit field", test_limit_field, NULL);
	add_test("limit parameters", test_limit_params, NULL);
	add_test("limit boundary", test_limit_boundary, NULL);
	add_test("limit memory", test_limit_memory, NULL);
	ADD(param_cases, test_params);
	add_test("RFC 2231 value decoding", test_param_decode, NULL);
	for (i = 0; i < nitems(words_cases); i++)
		add_test(words_cases[i].in, test_words, &words_cases[i]);
	add_test("RFC 9051 7.5.2 BODY example", test_rfc9051_body, NULL);
	for (i = 0; i < nitems(rfc_parts); i++)
		add_test(rfc_parts[i].sec, test_rfc_parts, &rfc_parts[i]);
	add_test("parser API", test_api, NULL);
	r = _cmocka_run_group_tests("mime", tests, ntests, NULL, NULL);
	free(tests);
	return r;
}
