# popgate - build, test, run, install.
#
#   make            release build: build/popgate
#   make run        bootstrap, build, demo instance in ./run, serve
#   make test       bootstrap, ASan+UBSan build, unit + black-box tests
#   make install    PREFIX=/usr/local DESTDIR= (make uninstall)
#   make deb        build/deb/popgate_*.deb, checked by lintian
#   make clean

PREFIX	?= /usr/local
DESTDIR	?=
CC	?= cc
PYTHON	?= /usr/bin/python3
WERROR	?= -Werror
V	?= 0
# Build directory (helpers working in parallel use their own).
B	?= build
Q	:= $(if $(filter 1,$(V)),,@)

PKGS	:= libevent_core libevent_extra libevent_openssl libevent_pthreads \
	   openssl sqlite3 libcares libcrypt libpq hiredis zlib libpsl jansson expat \
	   libseccomp
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

WARN	:= -Wall -Wextra -Wshadow -Wformat=2 -Wstrict-prototypes \
	   -Wmissing-prototypes -Wpointer-arith -Wvla $(WERROR)
CPPFLAGS_ALL := -D_GNU_SOURCE -Isrc $(PKG_CFLAGS)
CFLAGS_rel  := -std=c11 -O2 -g -pthread -fstack-protector-strong \
	       -D_FORTIFY_SOURCE=2 $(WARN)
CFLAGS_asan := -std=c11 -O1 -g -pthread -fno-omit-frame-pointer \
	       -fsanitize=address,undefined -fno-sanitize-recover=undefined \
	       $(WARN)
LDFLAGS_rel  := -pthread -Wl,--as-needed
LDFLAGS_asan := -pthread -fsanitize=address,undefined

SRCS	:= $(sort $(wildcard src/*/*.c))
MAIN	:= src/main.c
TESTS	:= $(sort $(wildcard tests/unit/test_*.c))
TOOLS	:= $(sort $(wildcard tests/tools/*.c))

OBJS_rel   := $(SRCS:%.c=$(B)/rel/%.o)
OBJS_asan  := $(SRCS:%.c=$(B)/asan/%.o)
TESTBINS   := $(TESTS:%.c=$(B)/asan/%)
TOOLBINS   := $(TOOLS:%.c=$(B)/asan/%)

# Fuzzing: the parsers of untrusted input have harnesses in fuzz/, run
# with libFuzzer by `make fuzz`, replayed over their corpora by `make
# test`.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := $(basename $(notdir $(sort $(wildcard fuzz/fuzz_*.c))))
FUZZ_REPLAY  := $(FUZZ_TARGETS:%=$(B)/asan/fuzz/%)
FUZZ_BINS    := $(FUZZ_TARGETS:%=$(B)/fuzz/bin/%)
OBJS_fuzz    := $(SRCS:%.c=$(B)/fuzz/%.o)
CLANG        ?= clang
CFLAGS_fuzz  := -std=c11 -O1 -g -pthread -fno-omit-frame-pointer \
	        -fsanitize=fuzzer-no-link,address,undefined \
	        -fno-sanitize-recover=undefined -Wall -Wextra -Wno-unused-command-line-argument

.PHONY: all asan test unit run install uninstall clean bootstrap \
	check-layers fuzz fuzz-tools lint valgrind
# Objects made through pattern chains are kept, not deleted.
.SECONDARY:

all: $(B)/popgate

$(B)/popgate: $(B)/rel/popgate
	cp $< $@

$(B)/rel/popgate: $(OBJS_rel) $(B)/rel/src/main.o
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS_rel) -o $@ $^ $(PKG_LIBS)

$(B)/asan/popgate: $(OBJS_asan) $(B)/asan/src/main.o
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS_asan) -o $@ $^ $(PKG_LIBS)

$(B)/rel/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(CPPFLAGS_ALL) $(CFLAGS_rel) -MMD -MP -c -o $@ $<

$(B)/asan/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC/asan $<"
	$(Q)$(CC) $(CPPFLAGS_ALL) $(CFLAGS_asan) -MMD -MP -c -o $@ $<

$(B)/asan/tests/unit/%: tests/unit/%.c $(OBJS_asan)
	@mkdir -p $(dir $@)
	@echo "  TEST    $<"
	$(Q)$(CC) $(CPPFLAGS_ALL) $(CFLAGS_asan) -Wno-missing-prototypes \
	    -DPOPGATE_SRCDIR='"$(CURDIR)"' -MMD -MP \
	    $(shell pkg-config --cflags cmocka) -o $@ $< $(OBJS_asan) \
	    $(LDFLAGS_asan) $(PKG_LIBS) $(shell pkg-config --libs cmocka)

$(B)/asan/tests/tools/%: tests/tools/%.c $(OBJS_asan)
	@mkdir -p $(dir $@)
	@echo "  TOOL    $<"
	$(Q)$(CC) $(CPPFLAGS_ALL) $(CFLAGS_asan) -Wno-missing-prototypes \
	    -o $@ $< $(OBJS_asan) $(LDFLAGS_asan) $(PKG_LIBS)

$(B)/asan/fuzz/%.o: fuzz/%.c
	@mkdir -p $(dir $@)
	@echo "  CC/asan $<"
	$(Q)$(CC) $(CPPFLAGS_ALL) -Ifuzz $(CFLAGS_asan) -Wno-missing-prototypes \
	    -MMD -MP -c -o $@ $<

$(B)/asan/fuzz/fuzz_%: $(B)/asan/fuzz/fuzz_%.o $(B)/asan/fuzz/session.o \
    $(B)/asan/fuzz/standalone_main.o $(OBJS_asan)
	@echo "  REPLAY  $@"
	$(Q)$(CC) $(LDFLAGS_asan) -o $@ $^ $(PKG_LIBS)

$(B)/fuzz/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC/fuzz $<"
	$(Q)$(CLANG) $(CPPFLAGS_ALL) -Ifuzz $(CFLAGS_fuzz) -MMD -MP -c -o $@ $<

$(B)/fuzz/bin/fuzz_%: $(B)/fuzz/fuzz/fuzz_%.o $(B)/fuzz/fuzz/session.o \
    $(OBJS_fuzz)
	@mkdir -p $(dir $@)
	@echo "  FUZZER  $@"
	$(Q)$(CLANG) -fsanitize=fuzzer,address,undefined -pthread -o $@ $^ \
	    $(PKG_LIBS)

asan: $(B)/asan/popgate $(TESTBINS) $(TOOLBINS) $(FUZZ_REPLAY)

bootstrap:
	@scripts/bootstrap

# The include layering of src/ (the order is in scripts/check-layers),
# checked on every test run.
check-layers:
	@scripts/check-layers

test: bootstrap
	@$(MAKE) --no-print-directory -j$$(nproc) check-layers asan
	@POPGATE_BIN=$(CURDIR)/$(B)/asan/popgate POPGATE_BUILD=$(CURDIR)/$(B) \
	    PYTHON=$(PYTHON) \
	    $(PYTHON) scripts/run-tests $(TESTBINS) $(FUZZ_REPLAY:%=--replay=%)

unit: asan
	@$(PYTHON) scripts/run-tests --unit-only $(TESTBINS)

# make run [PORT_BASE=N]: the demo's ports are N+25, N+587, ... (10000).
run: bootstrap
	@$(MAKE) --no-print-directory -j$$(nproc) all
	@PORT_BASE=$(PORT_BASE) scripts/run-dev

# make fuzz FUZZ_SECONDS=N [FUZZ_TARGETS="fuzz_addr ..."]: each harness
# for N seconds on its corpus; new inputs go to $(B)/fuzz/corpus, crashes
# to $(B)/fuzz/artifacts (add them to fuzz/corpus/ once fixed).
fuzz: fuzz-tools
	@$(MAKE) --no-print-directory -j$$(nproc) $(FUZZ_BINS)
	@scripts/fuzz-run $(B)/fuzz $(FUZZ_SECONDS) $(FUZZ_TARGETS)

fuzz-tools:
	@scripts/bootstrap clang

# Static checks (scripts/lint): cppcheck and clang-tidy, zero findings.
lint:
	@scripts/bootstrap cppcheck clang-tidy
	@scripts/lint

# The black-box suite against a release build run under valgrind: zero
# errors, zero definite leaks (scripts/valgrind-test; about 20 minutes).
valgrind: bootstrap
	@scripts/bootstrap valgrind
	@$(MAKE) --no-print-directory -j$$(nproc) all
	@$(PYTHON) scripts/valgrind-test $(CURDIR)/$(B)/popgate

# Benchmarks (bench/README.md): `make bench` runs the release build alone
# under the load generator $(B)/bench/pgbench; `make bench-compare` also
# installs Postfix and Dovecot and runs them side by side. BENCH_QUICK=1
# is a short smoke run; BENCH_ROWS="id ..." runs some rows only;
# BENCH_PERF=1 profiles popgate into $(B)/bench/perf-ROW.data.
.PHONY: bench bench-compare
# bench_milter.c is a program of its own: the no-op content filter of the
# milter row, on Sendmail's libmilter (libmilter-dev, scripts/bootstrap).
BENCH_SRCS := $(filter-out bench/bench_milter.c,$(sort $(wildcard bench/*.c)))
BENCH_BINS := $(B)/bench/pgbench $(B)/bench/bench_milter
BENCH_OBJS := $(BENCH_SRCS:%.c=$(B)/bench/obj/%.o)
BENCH_RUN  = $(PYTHON) bench/run.py --build $(B) \
	     $(if $(filter 1,$(BENCH_QUICK)),--quick) \
	     $(if $(BENCH_ROWS),--rows "$(BENCH_ROWS)") \
	     $(if $(filter 1,$(BENCH_PERF)),--perf)

$(B)/bench/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) -D_GNU_SOURCE $(PKG_CFLAGS) $(CFLAGS_rel) -MMD -MP -c \
	    -o $@ $<

$(B)/bench/pgbench: $(BENCH_OBJS)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS_rel) -o $@ $^ \
	    $(shell pkg-config --libs libevent_core 2>/dev/null)

$(B)/bench/bench_milter: bench/bench_milter.c
	@mkdir -p $(dir $@)
	@echo "  CCLD    $@"
	$(Q)$(CC) -D_GNU_SOURCE $(CFLAGS_rel) $(LDFLAGS_rel) -o $@ $< \
	    -lmilter -lpthread

bench: bootstrap
	@$(MAKE) --no-print-directory -j$$(nproc) all $(BENCH_BINS)
	@$(BENCH_RUN)

bench-compare:
	@echo "bench-compare: installs Postfix and Dovecot from Debian" \
	    "(scripts/bootstrap; their system services stay disabled)"
	@scripts/bootstrap postfix dovecot-pop3d dovecot-imapd
	@$(MAKE) --no-print-directory -j$$(nproc) all $(BENCH_BINS)
	@$(BENCH_RUN) --compare

-include $(BENCH_OBJS:.o=.d)

# make install [PREFIX=/usr/local] [DESTDIR=]: the binary, popgate(8) and
# popgate.conf(5), the systemd unit (its ExecStart names SBINDIR), the
# fail2ban filter (inert until a jail names it), and as examples the
# configuration and the fail2ban jail (an enabled jail whose logpath does
# not exist stops fail2ban from starting: the admin sets logpath first).
# The configuration itself is written by `popgate init`. Debian's layout
# is `make install PREFIX=/usr SYSTEMDUNITDIR=/lib/systemd/system`
# (debian/rules).
SBINDIR		?= $(PREFIX)/sbin
MANDIR		?= $(PREFIX)/share/man
DOCDIR		?= $(PREFIX)/share/doc/popgate
SYSTEMDUNITDIR	?= $(PREFIX)/lib/systemd/system
FAIL2BANDIR	?= /etc/fail2ban
INSTALL_FILES = $(SBINDIR)/popgate $(MANDIR)/man8/popgate.8 \
	$(MANDIR)/man5/popgate.conf.5 $(SYSTEMDUNITDIR)/popgate.service \
	$(FAIL2BANDIR)/filter.d/popgate.conf \
	$(DOCDIR)/examples/popgate.conf.example \
	$(DOCDIR)/examples/fail2ban/jail.d/popgate.conf

install: $(B)/popgate
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man5 \
	    $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(SYSTEMDUNITDIR) \
	    $(DESTDIR)$(FAIL2BANDIR)/filter.d \
	    $(DESTDIR)$(DOCDIR)/examples/fail2ban/jail.d
	install -m 0755 $(B)/popgate $(DESTDIR)$(SBINDIR)/popgate
	install -m 0644 docs/popgate.8 $(DESTDIR)$(MANDIR)/man8/
	install -m 0644 docs/popgate.conf.5 $(DESTDIR)$(MANDIR)/man5/
	sed 's|/usr/sbin/popgate|$(SBINDIR)/popgate|g' \
	    contrib/systemd/popgate.service \
	    >$(DESTDIR)$(SYSTEMDUNITDIR)/popgate.service
	chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/popgate.service
	install -m 0644 contrib/fail2ban/filter.d/popgate.conf \
	    $(DESTDIR)$(FAIL2BANDIR)/filter.d/popgate.conf
	install -m 0644 contrib/popgate.conf.example \
	    $(DESTDIR)$(DOCDIR)/examples/popgate.conf.example
	install -m 0644 contrib/fail2ban/jail.d/popgate.conf \
	    $(DESTDIR)$(DOCDIR)/examples/fail2ban/jail.d/popgate.conf

# Removes what install put there; the configuration and data_dir stay.
uninstall:
	rm -f $(INSTALL_FILES:%=$(DESTDIR)%)
	for d in /examples/fail2ban/jail.d /examples/fail2ban /examples ''; do \
	    rmdir $(DESTDIR)$(DOCDIR)$$d 2>/dev/null || true; done

# make deb: build/deb/popgate_VERSION_ARCH.deb from a copy of the tree
# (scripts/make-deb), checked by lintian (errors fail). make deb-test
# installs it into a cached Debian 12 chroot (scripts/deb-test).
.PHONY: deb deb-test
deb:
	@scripts/bootstrap debhelper lintian
	@scripts/make-deb $(B)/deb

deb-test: deb
	@scripts/bootstrap debootstrap systemd-container
	@scripts/deb-test $(B)/deb

clean:
	rm -rf $(B)

-include $(OBJS_rel:.o=.d) $(OBJS_asan:.o=.d) $(B)/rel/src/main.d \
	$(B)/asan/src/main.d $(wildcard $(B)/asan/fuzz/*.d) \
	$(OBJS_fuzz:.o=.d) $(wildcard $(B)/fuzz/fuzz/*.d) \
	$(wildcard $(TESTBINS:=.d))
