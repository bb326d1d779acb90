"""A content filter on Sendmail's own libmilter (Debian's python3-milter,
pymilter), for test_milter_libmilter.py: an implementation of the
protocol independent of popgate's and of the tests' milter_proto.py.

    libmilter_filter.py SOCKET LOG

SOCKET is libmilter's "inet:PORT@127.0.0.1"; LOG gets one line per
callback. What the filter does is chosen by the sender ({mail_addr})
before the headers and by the Subject at the end of the message:

    sender rcptrefuse@...  RCPT of bob@ gets "554 5.7.0 no bob"
                           (a replycode)
    Subject lm-mods        adds X-Libmilter, changes Subject, replaces
                           the body, adds carol@, deletes bob@, changes
                           the sender
    Subject lm-reject      rejects at the end of the message
    anything else          continues
"""
import sys

import Milter


class Filter(Milter.Base):
    def __init__(self):
        self.subject = ""
        self.log = open(sys.argv[2], "a", buffering=1)

    def connect(self, host, family, hostaddr):
        self.log.write(f"connect {host} j={self.getsymval('j')}\n")
        return Milter.CONTINUE

    def envfrom(self, addr, *params):
        self.log.write(f"mail {addr} i={self.getsymval('i')}\n")
        return Milter.CONTINUE

    def envrcpt(self, addr, *params):
        self.log.write(f"rcpt {addr}\n")
        if addr.startswith("<bob@") and self.getsymval("{mail_addr}") \
                and "rcptrefuse" in self.getsymval("{mail_addr}"):
            self.setreply("554", "5.7.0", "no bob")
            return Milter.REJECT
        return Milter.CONTINUE

    def header(self, name, value):
        if name.lower() == "subject":
            self.subject = value
        return Milter.CONTINUE

    def eom(self):
        self.log.write(f"eom {self.subject}\n")
        if "lm-reject" in self.subject:
            return Milter.REJECT
        if "lm-mods" in self.subject:
            self.addheader("X-Libmilter", "was here")
            self.chgheader("Subject", 1, "lm-mods changed")
            self.replacebody(b"a new body\r\n")
            self.addrcpt("<carol@acme.test>")
            self.delrcpt("<bob@acme.test>")
            self.chgfrom("<changed@example.org>")
        return Milter.CONTINUE

    def abort(self):
        self.log.write("abort\n")
        return Milter.CONTINUE

    def close(self):
        self.log.write("close\n")
        return Milter.CONTINUE


Milter.factory = Filter
Milter.set_flags(Milter.ADDHDRS | Milter.CHGHDRS | Milter.CHGBODY |
                 Milter.ADDRCPT | Milter.DELRCPT | Milter.CHGFROM)
Milter.runmilter("popgate-test", sys.argv[1], 30)
