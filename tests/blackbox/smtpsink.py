"""A scriptable SMTP sink on loopback for the delivery tests.

    sink = SmtpSink().start()          # sink.port
    ... popgate delivers to it through `transport DOMAIN = 127.0.0.1:PORT`
    sink.wait_for(1)                   # messages received
    m = sink.messages[0]               # .mail_from, .rcpts, .data (bytes,
                                       # CRLF, dot-unstuffed), .conn
    sink.stop()

Behaviour is set by attributes, which may change while it runs:
    rcpt_reply(addr) -> "250 2.1.5 Ok"  (a callable)
    data_reply(msg)  -> "250 2.0.0 Ok"  (a callable, after the final dot)
    greeting, ehlo_extra (list of extension lines), pipelining, size
    slow: seconds to sleep per chunk of DATA received
Every accepted connection is counted in `connections`; `transactions`
per connection in `per_conn`.
"""
import socket
import threading
import time


class Message:
    def __init__(self, conn, mail_from, rcpts, data):
        self.conn = conn
        self.mail_from = mail_from
        self.rcpts = rcpts
        self.data = data

    def __repr__(self):
        return f"<Message from={self.mail_from} to={self.rcpts}>"


class SmtpSink:
    def __init__(self, host="127.0.0.1", port=0):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.sock.listen(128)
        self.host = host
        self.port = self.sock.getsockname()[1]
        self.messages = []
        self.connections = 0
        self.per_conn = {}
        self.lock = threading.Lock()
        self.greeting = "220 sink.test ESMTP"
        self.pipelining = True
        self.size = 0
        self.ehlo_extra = []
        self.slow = 0.0
        self.rcpt_reply = lambda addr: "250 2.1.5 Ok"
        self.data_reply = lambda msg: "250 2.0.0 Ok: queued"
        self._stop = False
        self._threads = []

    def start(self):
        t = threading.Thread(target=self._accept, daemon=True)
        t.start()
        self._threads.append(t)
        return self

    def stop(self):
        self._stop = True
        try:
            self.sock.close()
        except OSError:
            pass

    def wait_for(self, n, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.messages) >= n:
                    return True
            time.sleep(0.02)
        return False

    def _accept(self):
        while not self._stop:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.connections += 1
                cid = self.connections
                self.per_conn[cid] = 0
            t = threading.Thread(target=self._serve, args=(c, cid),
                                 daemon=True)
            t.start()

    def _serve(self, c, cid):
        f = c.makefile("rb")

        def send(line):
            c.sendall(line.encode() + b"\r\n")

        try:
            send(self.greeting)
            if not self.greeting.startswith("220"):
                return
            mail_from, rcpts, accepted = None, [], []
            while True:
                line = f.readline()
                if not line:
                    return
                cmd = line.decode(errors="replace").rstrip("\r\n")
                verb = cmd[:4].upper()
                if verb in ("EHLO", "HELO"):
                    ext = []
                    if self.pipelining:
                        ext.append("PIPELINING")
                    ext.append(f"SIZE {self.size}" if self.size else "SIZE")
                    ext += ["8BITMIME"] + list(self.ehlo_extra)
                    lines = ["sink.test"] + (ext if verb == "EHLO" else [])
                    for i, l in enumerate(lines):
                        sep = " " if i == len(lines) - 1 else "-"
                        send(f"250{sep}{l}")
                elif verb == "MAIL":
                    mail_from = cmd[cmd.index("<") + 1:cmd.index(">")]
                    rcpts, accepted = [], []
                    send("250 2.1.0 Ok")
                elif verb == "RCPT":
                    addr = cmd[cmd.index("<") + 1:cmd.index(">")]
                    rcpts.append(addr)
                    rep = self.rcpt_reply(addr)
                    if rep.startswith("2"):
                        accepted.append(addr)
                    send(rep)
                elif verb == "DATA":
                    if not accepted:
                        send("554 5.5.1 No valid recipients")
                        continue
                    send("354 End data with <CR><LF>.<CR><LF>")
                    data = bytearray()
                    while True:
                        l = f.readline()
                        if not l:
                            return
                        if self.slow:
                            time.sleep(self.slow)
                        if l == b".\r\n":
                            break
                        if l.startswith(b".."):
                            l = l[1:]
                        data += l
                    msg = Message(cid, mail_from, list(accepted),
                                  bytes(data))
                    rep = self.data_reply(msg)
                    if rep.startswith("2"):
                        with self.lock:
                            self.messages.append(msg)
                            self.per_conn[cid] += 1
                    send(rep)
                elif verb == "RSET":
                    mail_from, rcpts, accepted = None, [], []
                    send("250 2.0.0 Ok")
                elif verb == "NOOP":
                    send("250 2.0.0 Ok")
                elif verb == "QUIT":
                    send("221 2.0.0 Bye")
                    return
                else:
                    send("502 5.5.2 Not implemented")
        except OSError:
            return
        finally:
            try:
                c.close()
            except OSError:
                pass
