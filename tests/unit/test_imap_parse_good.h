/*
 * test_imap_parse_good.h - the commands that parse, with their canonical
 * form (included by test_imap_parse.c only: the table alone is longer
 * than a file should be).
 */

#define MSG	"From: a@b.c\r\nSubject: hi\r\n\r\nHello\r\n"	/* 35 */
#define HF_TB	"From To Cc Bcc Subject Date Message-ID Priority " \
		"X-Priority References Newsgroups In-Reply-To Content-Type " \
		"Reply-To"

static const struct good_case good_cases[] = {
	/* tags and names */
	GS("CAPABILITY", "a1 CAPABILITY"),
	G("command name in lower case", "a1 capability", "a1 CAPABILITY"),
	G("command name in mixed case", "a1 CaPaBiLiTy", "a1 CAPABILITY"),
	GS("numeric tag (Thunderbird)", "1 NOOP"),
	GS("tag with punctuation", "A.0-1_x NOOP"),
	GS("tag with ]", "a]1 NOOP"),
	GS("tag of 8-bit-free specials", "a!#$&'-/:;<=>?@^`|~ NOOP"),
	GS("NOOP", "a NOOP"),
	GS("LOGOUT", "a LOGOUT"),
	GS("STARTTLS", "a STARTTLS"),
	GS("NAMESPACE", "a NAMESPACE"),
	GS("IDLE", "a IDLE"),
	GS("CHECK", "a CHECK"),
	GS("CLOSE", "a CLOSE"),
	GS("UNSELECT", "a UNSELECT"),
	GS("EXPUNGE", "a EXPUNGE"),
	G("uid in lower case", "a uid expunge 4", "a UID EXPUNGE 4"),

	/* ID */
	GS("ID NIL", "a ID NIL"),
	G("ID nil lower case", "a ID nil", "a ID NIL"),
	GS("ID empty list", "a ID ()"),
	GS("ID one pair", "a ID (\"name\" \"Thunderbird\")"),
	GS("ID value NIL", "a ID (\"name\" \"x\" \"version\" NIL)"),
	GS("ID Apple Mail", "a ID (\"name\" \"Mac OS X Mail\" \"version\" "
	    "\"16.0 (3731.500.231)\" \"os\" \"Mac OS X\" \"vendor\" "
	    "\"Apple Inc.\")"),
	G("ID literal field", "a ID ({4}\r\nname \"x\")",
	    "a ID (\"name\" \"x\")"),

	/* AUTHENTICATE, LOGIN, ENABLE, COMPRESS */
	GS("AUTHENTICATE", "a AUTHENTICATE PLAIN"),
	G("AUTHENTICATE lower-case mechanism kept", "a authenticate plain",
	    "a AUTHENTICATE plain"),
	GS("AUTHENTICATE SASL-IR", "a AUTHENTICATE PLAIN AGFubgBzM2NyZXQ="),
	GS("AUTHENTICATE SASL-IR empty response", "a AUTHENTICATE PLAIN ="),
	GS("AUTHENTICATE XOAUTH2", "a AUTHENTICATE XOAUTH2 dXNlcj1h+/=="),
	GS("LOGIN atoms", "a LOGIN ann secret"),
	G("LOGIN quoted", "a LOGIN \"ann@acme.test\" \"se cret\"",
	    "a LOGIN ann@acme.test \"se cret\""),
	G("LOGIN literals", "a LOGIN {3}\r\nann {6}\r\nsecret",
	    "a LOGIN ann secret"),
	G("LOGIN non-synchronising literals",
	    "a LOGIN {3+}\r\nann {6+}\r\nsecret", "a LOGIN ann secret"),
	G("LOGIN escaped quote", "a LOGIN ann \"pa\\\"ss\"",
	    "a LOGIN ann \"pa\\\"ss\""),
	G("LOGIN escaped backslash", "a LOGIN ann \"a\\\\b\"",
	    "a LOGIN ann \"a\\\\b\""),
	GS("LOGIN empty password", "a LOGIN ann \"\""),
	G("LOGIN zero-length literal", "a LOGIN ann {0}\r\n",
	    "a LOGIN ann \"\""),
	G("LOGIN literal with CRLF inside", "a LOGIN ann {4}\r\na\r\nb",
	    "a LOGIN ann {4}\r\na\r\nb"),
	G("LOGIN 8-bit literal", "a LOGIN ann {4}\r\np\xc3\xa4s",
	    "a LOGIN ann \"p\xc3\xa4s\""),
	G("LOGIN invalid UTF-8 stays a literal", "a LOGIN ann {2}\r\n\xff\xfe",
	    "a LOGIN ann {2}\r\n\xff\xfe"),
	G("LOGIN 8-bit quoted", "a LOGIN ann \"\xc3\xa9t\xc3\xa9\"",
	    "a LOGIN ann \"\xc3\xa9t\xc3\xa9\""),
	G("LOGIN password NIL is a string", "a LOGIN ann NIL",
	    "a LOGIN ann \"NIL\""),
	GS("LOGIN atom with ]", "a LOGIN a]b c]"),
	G("LOGIN quoted that could be an atom", "a LOGIN \"ann\" \"x\"",
	    "a LOGIN ann x"),
	GS("ENABLE one", "a ENABLE CONDSTORE"),
	GS("ENABLE several", "a ENABLE QRESYNC CONDSTORE UTF8=ACCEPT"),
	GS("COMPRESS", "a COMPRESS DEFLATE"),

	/* mailbox names */
	GS("SELECT INBOX", "a SELECT INBOX"),
	G("SELECT inbox folded", "a SELECT inbox", "a SELECT INBOX"),
	G("SELECT quoted InBoX folded", "a SELECT \"InBoX\"",
	    "a SELECT INBOX"),
	G("SELECT literal inbox folded", "a SELECT {5}\r\ninBox",
	    "a SELECT INBOX"),
	GS("SELECT INBOX child not folded", "a SELECT inbox.Sent"),
	GS("SELECT INBOXES not folded", "a SELECT inboxes"),
	G("SELECT quoted name with space", "a SELECT \"Sent Items\"",
	    "a SELECT \"Sent Items\""),
	GS("SELECT UTF-8 name", "a SELECT \"Entw\xc3\xbcrfe\""),
	GS("SELECT modified UTF-7 name as is", "a SELECT Entw&APw-rfe"),
	GS("SELECT empty name parses", "a SELECT \"\""),
	GS("EXAMINE", "a EXAMINE Archive"),
	GS("CREATE", "a CREATE Archive.2024"),
	GS("DELETE", "a DELETE Archive.2024"),
	GS("RENAME", "a RENAME Old New"),
	G("RENAME quoted", "a RENAME \"Old Stuff\" {3}\r\nNew",
	    "a RENAME \"Old Stuff\" New"),
	GS("SUBSCRIBE", "a SUBSCRIBE Sent"),
	GS("UNSUBSCRIBE", "a UNSUBSCRIBE Sent"),
	GS("GETQUOTAROOT", "a GETQUOTAROOT INBOX"),

	/* SELECT parameters */
	GS("SELECT CONDSTORE", "a SELECT INBOX (CONDSTORE)"),
	G("SELECT condstore lower case", "a select inbox (condstore)",
	    "a SELECT INBOX (CONDSTORE)"),
	GS("SELECT QRESYNC minimal", "a SELECT INBOX (QRESYNC (67890007 "
	    "20050715194045000))"),
	GS("SELECT QRESYNC known UIDs", "a SELECT INBOX (QRESYNC (67890007 "
	    "20050715194045000 41,43:211,214:541))"),
	GS("SELECT QRESYNC seq-match", "a SELECT INBOX (QRESYNC (67890007 "
	    "90060115194045000 41:211,214:541 (1:10 41:50)))"),
	GS("SELECT QRESYNC seq-match without known UIDs", "a SELECT INBOX "
	    "(QRESYNC (1 2 (1:10 41:50)))"),
	GS("SELECT CONDSTORE and QRESYNC", "a SELECT INBOX (CONDSTORE "
	    "QRESYNC (1 2))"),
	G("SELECT QRESYNC then CONDSTORE", "a SELECT INBOX (QRESYNC (1 2) "
	    "CONDSTORE)", "a SELECT INBOX (CONDSTORE QRESYNC (1 2))"),
	GS("EXAMINE QRESYNC", "a EXAMINE Sent (QRESYNC (1 "
	    "9223372036854775807))"),

	/* CREATE (USE) */
	GS("CREATE USE Sent", "a CREATE Sent (USE (\\Sent))"),
	G("CREATE USE several, in table order", "a CREATE x (USE (\\Trash "
	    "\\Drafts \\Junk))", "a CREATE x (USE (\\Drafts \\Junk \\Trash))"),
	G("CREATE USE any case", "a CREATE x (use (\\sent \\ARCHIVE))",
	    "a CREATE x (USE (\\Archive \\Sent))"),
	G("CREATE USE empty", "a CREATE x (USE ())", "a CREATE x"),
	G("CREATE USE unknown attribute", "a CREATE x (USE (\\Important))",
	    "a CREATE x (USE (\\XUnknown))"),
	GS("CREATE USE All Flagged", "a CREATE x (USE (\\All \\Flagged))"),

	/* LIST, LSUB */
	GS("LIST star", "a LIST \"\" *"),
	G("LIST quoted star", "a LIST \"\" \"*\"", "a LIST \"\" *"),
	G("LIST percent", "a LIST \"\" \"%\"", "a LIST \"\" %"),
	GS("LIST empty pattern", "a LIST \"\" \"\""),
	GS("LIST reference and pattern", "a LIST ~/Mail/ %"),
	GS("LIST news reference", "a LIST #news.comp.mail.misc \"\""),
	GS("LIST pattern with ]", "a LIST \"\" a]*"),
	G("LIST literal pattern", "a LIST \"\" {3}\r\nA.*", "a LIST \"\" A.*"),
	G("LIST pattern with space", "a LIST \"\" \"Sent *\"",
	    "a LIST \"\" \"Sent *\""),
	G("LIST selection options", "a LIST (SUBSCRIBED) \"\" \"*\"",
	    "a LIST (SUBSCRIBED) \"\" (*)"),
	G("LIST selection in table order",
	    "a LIST (SPECIAL-USE REMOTE SUBSCRIBED) \"\" *",
	    "a LIST (SUBSCRIBED REMOTE SPECIAL-USE) \"\" (*)"),
	G("LIST RECURSIVEMATCH with SUBSCRIBED",
	    "a LIST (SUBSCRIBED RECURSIVEMATCH) \"\" %",
	    "a LIST (SUBSCRIBED RECURSIVEMATCH) \"\" (%)"),
	G("LIST empty selection", "a LIST () \"\" *", "a LIST () \"\" (*)"),
	G("LIST Thunderbird", "a list (SUBSCRIBED) \"\" \"*\" RETURN "
	    "(CHILDREN SPECIAL-USE)", "a LIST (SUBSCRIBED) \"\" (*) RETURN "
	    "(CHILDREN SPECIAL-USE)"),
	G("LIST RETURN SUBSCRIBED", "a LIST \"\" % RETURN (SUBSCRIBED)",
	    "a LIST () \"\" (%) RETURN (SUBSCRIBED)"),
	G("LIST RETURN STATUS", "a LIST \"\" % RETURN (STATUS (MESSAGES "
	    "UNSEEN SIZE))", "a LIST () \"\" (%) RETURN (STATUS (MESSAGES "
	    "UNSEEN SIZE))"),
	G("LIST RETURN CHILDREN STATUS", "a LIST \"\" % RETURN (STATUS "
	    "(UIDNEXT) CHILDREN)", "a LIST () \"\" (%) RETURN (CHILDREN "
	    "STATUS (UIDNEXT))"),
	G("LIST RETURN empty", "a LIST \"\" * RETURN ()", "a LIST () \"\" (*)"),
	G("LIST several patterns", "a LIST \"\" (\"INBOX\" \"Drafts\" "
	    "\"Sent/%\")", "a LIST () \"\" (INBOX Drafts Sent/%)"),
	G("LIST return lower case", "a LIST \"\" * return (children)",
	    "a LIST () \"\" (*) RETURN (CHILDREN)"),
	GS("LSUB", "a LSUB \"\" *"),
	G("LSUB quoted", "a LSUB \"#news.\" \"comp.mail.*\"",
	    "a LSUB #news. comp.mail.*"),

	/* STATUS */
	GS("STATUS one item", "a STATUS INBOX (MESSAGES)"),
	G("STATUS every item", "a STATUS INBOX (APPENDLIMIT HIGHESTMODSEQ "
	    "SIZE DELETED UNSEEN UIDVALIDITY UIDNEXT RECENT MESSAGES)",
	    "a STATUS INBOX (MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN "
	    "DELETED SIZE HIGHESTMODSEQ APPENDLIMIT)"),
	G("STATUS lower case", "a status \"Sent\" (uidnext messages)",
	    "a STATUS Sent (MESSAGES UIDNEXT)"),
	G("STATUS item twice", "a STATUS x (SIZE SIZE)",
	    "a STATUS x (SIZE)"),

	/* APPEND */
	GS("APPEND minimal", "a APPEND INBOX {35}\r\n" MSG),
	G("APPEND non-synchronising", "a APPEND INBOX {35+}\r\n" MSG,
	    "a APPEND INBOX {35}\r\n" MSG),
	GS("APPEND flags", "a APPEND Sent (\\Seen) {35}\r\n" MSG),
	G("APPEND flags and keywords", "a APPEND Sent ($Forwarded \\Seen "
	    "\\Draft) {35}\r\n" MSG, "a APPEND Sent (\\Seen \\Draft "
	    "$Forwarded) {35}\r\n" MSG),
	G("APPEND empty flag list", "a APPEND Sent () {35}\r\n" MSG,
	    "a APPEND Sent {35}\r\n" MSG),
	GS("APPEND date-time", "a APPEND Sent \"17-Jul-1996 02:44:25 -0700\" "
	    "{35}\r\n" MSG),
	GS("APPEND date-time day with space", "a APPEND Sent \" 7-Jul-1996 "
	    "02:44:25 +0200\" {35}\r\n" MSG),
	G("APPEND date-time day 07", "a APPEND Sent \"07-Jul-1996 02:44:25 "
	    "+0000\" {35}\r\n" MSG, "a APPEND Sent \" 7-Jul-1996 02:44:25 "
	    "+0000\" {35}\r\n" MSG),
	G("APPEND date-time day 7", "a APPEND Sent \"7-jul-1996 02:44:25 "
	    "+0000\" {35}\r\n" MSG, "a APPEND Sent \" 7-Jul-1996 02:44:25 "
	    "+0000\" {35}\r\n" MSG),
	GS("APPEND flags and date-time", "a APPEND Sent (\\Seen) \"10-Feb-2023 "
	    "10:11:12 +0100\" {35}\r\n" MSG),
	GS("APPEND zero-length message", "a APPEND Drafts {0}\r\n"),
	{ "APPEND literal8 with NUL", "a APPEND INBOX ~{5}\r\nab\0cd", 26,
	    "a APPEND INBOX ~{5}\r\nab\0cd", 26 },
	{ "APPEND literal with NUL accepted", "a APPEND INBOX {3}\r\na\0b", 23,
	    "a APPEND INBOX {3}\r\na\0b", 23 },
	G("APPEND literal8 non-synchronising", "a APPEND INBOX ~{2+}\r\nhi",
	    "a APPEND INBOX ~{2}\r\nhi"),
	GS("APPEND 8-bit message", "a APPEND INBOX {4}\r\n\xff\xfe\r\n"),
	G("APPEND literal mailbox", "a APPEND {4}\r\nSent {2}\r\nhi",
	    "a APPEND Sent {2}\r\nhi"),

	/* quota */
	GS("GETQUOTA", "a GETQUOTA \"\""),
	GS("GETQUOTA named", "a GETQUOTA #user/alice"),
	GS("SETQUOTA", "a SETQUOTA \"\" (STORAGE 512)"),
	GS("SETQUOTA two", "a SETQUOTA \"\" (STORAGE 512 MESSAGE 1000)"),
	GS("SETQUOTA none", "a SETQUOTA \"\" ()"),

	/* sequence sets (through COPY) */
	GS("set one", "a COPY 1 Trash"),
	GS("set range", "a COPY 1:5 Trash"),
	G("set reversed range", "a COPY 5:1 Trash", "a COPY 1:5 Trash"),
	GS("set star", "a COPY * Trash"),
	GS("set to star", "a COPY 1:* Trash"),
	G("set star first", "a COPY *:5 Trash", "a COPY 5:* Trash"),
	G("set star to star", "a COPY *:* Trash", "a COPY * Trash"),
	GS("set list", "a COPY 1,3,5:7,9:* Trash"),
	GS("set duplicates kept", "a COPY 1,1,2:3,3 Trash"),
	GS("set largest number", "a COPY 4294967295 Trash"),
	G("set leading zeros", "a COPY 007:0010 Trash", "a COPY 7:10 Trash"),
	GS("set saved", "a COPY $ Trash"),
	GS("UID COPY", "a UID COPY 4827313:4828442 \"Sent Items\""),
	GS("MOVE", "a MOVE 1:3 Trash"),
	GS("UID MOVE", "a UID MOVE 42 Archive"),
	GS("UID EXPUNGE", "a UID EXPUNGE 3:5,7"),
	GS("UID EXPUNGE saved", "a UID EXPUNGE $"),

	/* FETCH attributes */
	GS("FETCH ENVELOPE", "a FETCH 1 (ENVELOPE)"),
	G("FETCH single attribute", "a FETCH 1 FLAGS", "a FETCH 1 (FLAGS)"),
	GS("FETCH INTERNALDATE", "a FETCH 1 (INTERNALDATE)"),
	GS("FETCH RFC822.SIZE", "a FETCH 1 (RFC822.SIZE)"),
	GS("FETCH BODY", "a FETCH 1 (BODY)"),
	GS("FETCH BODYSTRUCTURE", "a FETCH 1 (BODYSTRUCTURE)"),
	GS("FETCH UID", "a FETCH 1 (UID)"),
	GS("FETCH MODSEQ", "a FETCH 1 (MODSEQ)"),
	GS("FETCH RFC822", "a FETCH 1 (RFC822)"),
	GS("FETCH RFC822.HEADER", "a FETCH 1 (RFC822.HEADER)"),
	GS("FETCH RFC822.TEXT", "a FETCH 1 (RFC822.TEXT)"),
	GS("FETCH BODY[]", "a FETCH 1 (BODY[])"),
	GS("FETCH BODY.PEEK[]", "a FETCH 1 (BODY.PEEK[])"),
	GS("FETCH BODY[HEADER]", "a FETCH 1 (BODY[HEADER])"),
	GS("FETCH BODY[TEXT]", "a FETCH 1 (BODY[TEXT])"),
	GS("FETCH BODY[1]", "a FETCH 1 (BODY[1])"),
	GS("FETCH BODY[1.2.3]", "a FETCH 1 (BODY[1.2.3])"),
	GS("FETCH BODY[1.MIME]", "a FETCH 1 (BODY[1.MIME])"),
	GS("FETCH BODY[1.HEADER]", "a FETCH 1 (BODY[1.HEADER])"),
	GS("FETCH BODY[2.1.TEXT]", "a FETCH 1 (BODY[2.1.TEXT])"),
	GS("FETCH HEADER.FIELDS", "a FETCH 1 (BODY[HEADER.FIELDS (From To)])"),
	GS("FETCH HEADER.FIELDS.NOT",
	    "a FETCH 1 (BODY[HEADER.FIELDS.NOT (Received DKIM-Signature)])"),
	GS("FETCH part HEADER.FIELDS",
	    "a FETCH 1 (BODY.PEEK[1.2.HEADER.FIELDS (Subject)])"),
	G("FETCH header fields quoted and literal",
	    "a FETCH 1 BODY[HEADER.FIELDS (\"From\" {2}\r\nTo)]",
	    "a FETCH 1 (BODY[HEADER.FIELDS (From To)])"),
	G("FETCH lower case", "a fetch 1 body.peek[header.fields (from)]",
	    "a FETCH 1 (BODY.PEEK[HEADER.FIELDS (from)])"),
	GS("FETCH partial", "a FETCH 1 (BODY[]<0.100>)"),
	GS("FETCH partial peek text", "a FETCH 1 (BODY.PEEK[TEXT]<10.20>)"),
	GS("FETCH partial 64-bit",
	    "a FETCH 1 (BODY[]<4294967296.9223372036854775807>)"),
	GS("FETCH BINARY[1]", "a FETCH 1 (BINARY[1])"),
	GS("FETCH BINARY[]", "a FETCH 1 (BINARY[])"),
	GS("FETCH BINARY.PEEK partial", "a FETCH 1 (BINARY.PEEK[1.2]<0.50>)"),
	GS("FETCH BINARY.SIZE", "a FETCH 1 (BINARY.SIZE[1])"),
	GS("FETCH BINARY.SIZE[]", "a FETCH 1 (BINARY.SIZE[])"),
	G("FETCH ALL", "a FETCH 1:* ALL",
	    "a FETCH 1:* (FLAGS INTERNALDATE RFC822.SIZE ENVELOPE)"),
	G("FETCH FAST", "a FETCH 1 fast",
	    "a FETCH 1 (FLAGS INTERNALDATE RFC822.SIZE)"),
	G("FETCH FULL", "a FETCH 1 FULL",
	    "a FETCH 1 (FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODY)"),
	GS("FETCH Thunderbird headers", "9 UID FETCH 30:33 (UID RFC822.SIZE "
	    "FLAGS BODY.PEEK[HEADER.FIELDS (" HF_TB ")])"),
	GS("FETCH mbsync", "7 UID FETCH 2:* (UID FLAGS BODY.PEEK[HEADER.FIELDS "
	    "(X-TUID)])"),
	GS("FETCH K-9 partial", "5 UID FETCH 5 (UID RFC822.SIZE "
	    "BODY.PEEK[]<0.4096>)"),
	GS("FETCH duplicate attributes", "a FETCH 1 (UID UID FLAGS)"),
	GS("FETCH saved set", "a FETCH $ (UID FLAGS)"),
	GS("FETCH CHANGEDSINCE", "a FETCH 1:* (FLAGS) (CHANGEDSINCE 12345)"),
	GS("FETCH CHANGEDSINCE 0", "a FETCH 1:* (FLAGS) (CHANGEDSINCE 0)"),
	GS("UID FETCH VANISHED", "a UID FETCH 300:500 (FLAGS) (CHANGEDSINCE "
	    "12345 VANISHED)"),
	G("UID FETCH VANISHED first", "a UID FETCH 1:* (FLAGS) (VANISHED "
	    "CHANGEDSINCE 1)", "a UID FETCH 1:* (FLAGS) (CHANGEDSINCE 1 "
	    "VANISHED)"),
	G("FETCH macro with modifier", "a FETCH 1 FAST (CHANGEDSINCE 7)",
	    "a FETCH 1 (FLAGS INTERNALDATE RFC822.SIZE) (CHANGEDSINCE 7)"),
	G("FETCH single att with modifier", "a FETCH 1 MODSEQ (CHANGEDSINCE 7)",
	    "a FETCH 1 (MODSEQ) (CHANGEDSINCE 7)"),

	/* STORE */
	GS("STORE FLAGS", "a STORE 1 FLAGS (\\Seen)"),
	GS("STORE +FLAGS", "a STORE 1 +FLAGS (\\Seen)"),
	GS("STORE -FLAGS", "a STORE 1 -FLAGS (\\Seen)"),
	GS("STORE FLAGS.SILENT", "a STORE 1 FLAGS.SILENT (\\Seen)"),
	GS("STORE +FLAGS.SILENT", "a STORE 1 +FLAGS.SILENT (\\Deleted)"),
	GS("STORE -FLAGS.SILENT", "a STORE 1 -FLAGS.SILENT (\\Deleted)"),
	G("STORE lower case", "a store 1 +flags.silent (\\seen \\ANSWERED)",
	    "a STORE 1 +FLAGS.SILENT (\\Seen \\Answered)"),
	G("STORE bare flags", "a STORE 2:4 +FLAGS \\Deleted \\Seen",
	    "a STORE 2:4 +FLAGS (\\Seen \\Deleted)"),
	G("STORE bare keyword", "a STORE 1 +FLAGS $Junk",
	    "a STORE 1 +FLAGS ($Junk)"),
	GS("STORE empty list", "a STORE 1 FLAGS ()"),
	GS("STORE every system flag", "a STORE 1 FLAGS (\\Seen \\Answered "
	    "\\Flagged \\Deleted \\Draft)"),
	GS("STORE keywords", "a STORE 1 +FLAGS ($Forwarded $MDNSent NonJunk "
	    "$label1)"),
	GS("STORE UNCHANGEDSINCE", "a STORE 1 (UNCHANGEDSINCE 12121230045) "
	    "+FLAGS.SILENT (\\Deleted)"),
	GS("STORE UNCHANGEDSINCE 0", "a STORE 1 (UNCHANGEDSINCE 0) FLAGS ()"),
	GS("UID STORE", "a UID STORE 2:3,5 +FLAGS.SILENT (\\Deleted)"),

	/* SEARCH: every key */
	GS("SEARCH ALL", "a SEARCH ALL"),
	GS("SEARCH ANSWERED", "a SEARCH ANSWERED"),
	GS("SEARCH DELETED", "a SEARCH DELETED"),
	GS("SEARCH DRAFT", "a SEARCH DRAFT"),
	GS("SEARCH FLAGGED", "a SEARCH FLAGGED"),
	GS("SEARCH SEEN", "a SEARCH SEEN"),
	GS("SEARCH UNANSWERED", "a SEARCH UNANSWERED"),
	GS("SEARCH UNDELETED", "a SEARCH UNDELETED"),
	GS("SEARCH UNDRAFT", "a SEARCH UNDRAFT"),
	GS("SEARCH UNFLAGGED", "a SEARCH UNFLAGGED"),
	GS("SEARCH UNSEEN", "a SEARCH UNSEEN"),
	GS("SEARCH NEW", "a SEARCH NEW"),
	GS("SEARCH OLD", "a SEARCH OLD"),
	GS("SEARCH RECENT", "a SEARCH RECENT"),
	GS("SEARCH KEYWORD", "a SEARCH KEYWORD $Forwarded"),
	GS("SEARCH UNKEYWORD", "a SEARCH UNKEYWORD $Junk"),
	GS("SEARCH BCC", "a SEARCH BCC ann"),
	GS("SEARCH BODY", "a SEARCH BODY \"two words\""),
	GS("SEARCH CC", "a SEARCH CC bob"),
	G("SEARCH FROM quoted", "a SEARCH FROM \"Smith\"",
	    "a SEARCH FROM Smith"),
	GS("SEARCH SUBJECT", "a SEARCH SUBJECT \"Re: hi\""),
	G("SEARCH TEXT literal", "a SEARCH TEXT {6}\r\nXXXXXX",
	    "a SEARCH TEXT XXXXXX"),
	GS("SEARCH TO", "a SEARCH TO \"\""),
	GS("SEARCH HEADER", "a SEARCH HEADER Message-ID <x@y>"),
	GS("SEARCH HEADER empty value", "a SEARCH HEADER X-TUID \"\""),
	GS("SEARCH BEFORE", "a SEARCH BEFORE 1-Feb-1994"),
	GS("SEARCH ON", "a SEARCH ON 29-Feb-2024"),
	GS("SEARCH SINCE", "a SEARCH SINCE 31-Dec-1999"),
	GS("SEARCH SENTBEFORE", "a SEARCH SENTBEFORE 1-Jan-2000"),
	GS("SEARCH SENTON", "a SEARCH SENTON 2-Jan-2000"),
	GS("SEARCH SENTSINCE", "a SEARCH SENTSINCE 3-Jan-2000"),
	G("SEARCH quoted date", "a SEARCH SINCE \"5-Mar-2024\"",
	    "a SEARCH SINCE 5-Mar-2024"),
	G("SEARCH date with 2-digit day", "a SEARCH SINCE 05-mar-2024",
	    "a SEARCH SINCE 5-Mar-2024"),
	GS("SEARCH LARGER", "a SEARCH LARGER 10000"),
	GS("SEARCH SMALLER 64-bit", "a SEARCH SMALLER 9223372036854775807"),
	GS("SEARCH LARGER 0", "a SEARCH LARGER 0"),
	GS("SEARCH UID", "a SEARCH UID 1:5,7"),
	GS("SEARCH UID saved", "a SEARCH UID $"),
	GS("SEARCH sequence set", "a SEARCH 2:4,*"),
	GS("SEARCH saved", "a SEARCH $"),
	GS("SEARCH MODSEQ", "a SEARCH MODSEQ 620162338"),
	GS("SEARCH MODSEQ entry", "a SEARCH MODSEQ \"/flags/\\\\draft\" all "
	    "620162338"),
	G("SEARCH MODSEQ entry types", "a SEARCH MODSEQ \"/flags/$x\" PRIV 1 "
	    "MODSEQ \"/flags/y\" shared 0", "a SEARCH MODSEQ \"/flags/$x\" "
	    "priv 1 MODSEQ \"/flags/y\" shared 0"),
	GS("SEARCH NOT", "a SEARCH NOT DELETED"),
	GS("SEARCH NOT NOT", "a SEARCH NOT NOT NOT (DELETED)"),
	GS("SEARCH OR", "a SEARCH OR SEEN FLAGGED"),
	GS("SEARCH OR chain", "a SEARCH OR OR OR FROM smith TO smith CC smith "
	    "SUBJECT smith"),
	GS("SEARCH parentheses", "a SEARCH (SEEN FLAGGED)"),
	GS("SEARCH nested parentheses", "a SEARCH ((SEEN) ((FLAGGED)))"),
	GS("SEARCH OR of lists", "a SEARCH OR (SMALLER 10000 LARGER 100) "
	    "(UID 1:5,7 NEW OLD RECENT)"),
	GS("SEARCH several keys", "a SEARCH FLAGGED SINCE 1-Feb-1994 NOT FROM "
	    "Smith"),
	G("SEARCH lower case keys", "a search from x not seen",
	    "a SEARCH FROM x NOT SEEN"),
	GS("SEARCH CHARSET", "a SEARCH CHARSET UTF-8 TEXT x"),
	G("SEARCH CHARSET quoted", "a SEARCH charset \"US-ASCII\" ALL",
	    "a SEARCH CHARSET US-ASCII ALL"),
	GS("SEARCH RETURN MIN MAX", "a SEARCH RETURN (MIN MAX) FLAGGED"),
	G("SEARCH RETURN every option", "a SEARCH RETURN (SAVE COUNT ALL MAX "
	    "MIN) ALL", "a SEARCH RETURN (MIN MAX ALL COUNT SAVE) ALL"),
	G("SEARCH RETURN empty is ALL", "a SEARCH RETURN () ALL",
	    "a SEARCH RETURN (ALL) ALL"),
	GS("SEARCH RETURN and CHARSET", "a SEARCH RETURN (COUNT) CHARSET "
	    "UTF-8 TEXT x"),
	G("SEARCH return lower case", "a SEARCH return (save) seen",
	    "a SEARCH RETURN (SAVE) SEEN"),
	GS("UID SEARCH K-9", "3 UID SEARCH 1:* NOT DELETED"),
	GS("UID SEARCH neomutt", "a0008 UID SEARCH (OR HEADER FROM xx HEADER "
	    "TO xx)"),
	GS("SEARCH 8-bit UTF-8 string",
	    "a SEARCH SUBJECT \"\xc3\xa9t\xc3\xa9\""),
	G("SEARCH literal with CRLF", "a SEARCH BODY {3}\r\na\r\n",
	    "a SEARCH BODY {3}\r\na\r\n"),
	G("SEARCH literal then key", "a SEARCH CHARSET UTF-8 TEXT {3}\r\nabc "
	    "SEEN", "a SEARCH CHARSET UTF-8 TEXT abc SEEN"),
	GS("SEARCH key named like a set char", "a SEARCH 1"),
};
