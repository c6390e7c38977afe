# SPDX-License-Identifier: ISC
# Zest: plain GNU make.  Targets: all check bench fuzz run install clean.
# `make SAN=1 BUILD=build/asan` builds everything under AddressSanitizer and
# UBSan into a separate tree.

PREFIX     ?= /usr/local
SYSCONFDIR ?= /etc/zest
LIBEXECDIR ?= $(PREFIX)/libexec/zest
SBINDIR    ?= $(PREFIX)/sbin
MANDIR     ?= $(PREFIX)/share/man
DESTDIR    ?=

BUILD ?= build
SAN   ?= 0
V     ?= 0
ifeq ($(V),0)
Q := @echo "  CC  $<";
else
Q :=
endif
CC    ?= cc

PKGS      := libcdb zlib libdeflate libcrypto libssl libsasl2
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lcrypt -lresolv
CMOCKA_LIBS := $(shell pkg-config --libs cmocka 2>/dev/null || echo -lcmocka)

WARN   := -Wall -Wextra -Werror -Wformat=2 -Wshadow -Wpointer-arith \
	  -Wstrict-prototypes -Wmissing-prototypes -Wvla -Wno-unused-parameter
HARDEN := -fstack-protector-strong -fPIE
LDHARD := -pie -Wl,-z,relro,-z,now
ifeq ($(SAN),1)
OPT    := -O1 -g -fno-omit-frame-pointer
SANF   := -fsanitize=address,undefined -fno-sanitize-recover=undefined
else
OPT    := -O2 -g
HARDEN += -D_FORTIFY_SOURCE=3
SANF   :=
endif

ALL_CFLAGS = -std=c17 -D_GNU_SOURCE $(OPT) $(WARN) $(HARDEN) $(SANF) \
	-Ilib $(PKG_CFLAGS) -MMD -MP \
	-DSYSCONFDIR='"$(SYSCONFDIR)"' -DLIBEXECDIR='"$(LIBEXECDIR)"' \
	-DSBINDIR='"$(SBINDIR)"' $(CFLAGS)
ALL_LDFLAGS = $(LDHARD) -Wl,--as-needed $(SANF) $(LDFLAGS)

LIB_SRCS := $(sort $(wildcard lib/*.c))
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/%.o)
LIBZEST  := $(BUILD)/lib/libzest.a

# Programs: name -> sources.  zest goes to sbin, the others to libexec.
# A program whose sources do not exist yet is left out.
ALL_PROGRAMS := zest deliver smtpd tlsrelay queue-inject queued spawner \
	remote listen sendmail imapd imapd-session pop3d pop3d-session
zest_SRCS         := $(sort $(wildcard zest/*.c))
deliver_SRCS      := $(sort $(wildcard deliver/*.c))
smtpd_SRCS        := $(sort $(wildcard smtpd/*.c))
tlsrelay_SRCS     := $(sort $(wildcard tlsrelay/*.c))
queue-inject_SRCS := $(wildcard queue/inject.c)
queued_SRCS       := $(sort $(wildcard queue/queued*.c))
spawner_SRCS      := $(sort $(wildcard queue/spawner*.c))
remote_SRCS       := $(sort $(wildcard remote/*.c))
listen_SRCS       := $(sort $(wildcard listen/*.c))
sendmail_SRCS     := $(sort $(wildcard sendmail/*.c))
# imapd is the login half (checker, pre-login); imapd-session the rest,
# linked without OpenSSL and libsasl2 (see imapd/session-main.c).
IMAPD_LOGIN_SRCS  := imapd/main.c imapd/prelogin.c
imapd_SRCS        := $(wildcard $(IMAPD_LOGIN_SRCS) imapd/common.c)
imapd-session_SRCS := $(filter-out $(IMAPD_LOGIN_SRCS),$(sort $(wildcard imapd/*.c)))
POP3D_LOGIN_SRCS  := pop3d/main.c pop3d/prelogin.c
pop3d_SRCS        := $(wildcard $(POP3D_LOGIN_SRCS) pop3d/common.c)
pop3d-session_SRCS := $(filter-out $(POP3D_LOGIN_SRCS),$(sort $(wildcard pop3d/*.c)))
PROGRAMS := $(foreach p,$(ALL_PROGRAMS),$(if $($(p)_SRCS),$(p)))

# Per-program link: <name>_LIBS replaces PKG_LIBS, <name>_LDFLAGS comes
# after ALL_LDFLAGS.  smtpd (one process per open SMTP session) links no
# OpenSSL, libsasl2, zlib or libdeflate: STARTTLS is tlsrelay's job, and
# smtpd needs only libcdb (tables) and libc.  Outside the sanitizer build
# it is a static PIE, because an idle session's RSS is mostly the pages of
# code mapped into it: dynamically linked, libc.so and ld.so alone hold
# about 2 MB.  The static one is linked by lld with smtpd/smtpd.order (the
# functions a worker runs first, made by t/smtpd-order.py), packed
# relative relocations and --gc-sections, so that the code a session runs
# sits in few pages: about 0.8 MB RSS per session instead of 1.1 MB with
# glibc's static code in archive order.  Without ld.lld the same static
# PIE is linked by ld.bfd, unordered.  The hardening stays: -z relro,now
# (LDHARD), stack protector and FORTIFY at compile time.  ld.bfd warns
# that getpwnam_r in a static program needs the shared libraries of the
# same glibc at run time: harmless, smtpd looks up only zest-smtpd, once,
# as root before the drop, through the NSS modules of the glibc it was
# built against (a linker warning: -Werror does not apply to it).  ASan
# and UBSan need the dynamic runtime, so SAN=1 links smtpd dynamically.
smtpd_LIBS        := $(shell pkg-config --libs libcdb 2>/dev/null || echo -lcdb)
ifneq ($(SAN),1)
ifneq ($(shell command -v ld.lld 2>/dev/null),)
smtpd_LDFLAGS     := -static-pie -fuse-ld=lld -Wl,--pack-dyn-relocs=relr \
	-Wl,--gc-sections -Wl,--symbol-ordering-file=smtpd/smtpd.order \
	-Wl,--no-warn-symbol-ordering
else
smtpd_LDFLAGS     := -static-pie -Wl,-z,pack-relative-relocs -Wl,--gc-sections
endif
$(BUILD)/bin/smtpd: smtpd/smtpd.order
endif

BINS := $(PROGRAMS:%=$(BUILD)/bin/%)

TEST_SRCS := $(sort $(wildcard t/lib/test-*.c))
TESTS     := $(TEST_SRCS:t/lib/%.c=$(BUILD)/t/%)
TEST_HELP := $(filter-out $(TEST_SRCS),$(wildcard t/lib/*.c))
TEST_HELP_OBJS := $(TEST_HELP:%.c=$(BUILD)/%.o)

FUZZ_SRCS := $(sort $(wildcard t/fuzz/fuzz-*.c))

.PHONY: all tests check unit integration asan bench fuzz run install clean deps

all: $(BINS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(LIBZEST): $(LIB_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

define program_rule
$(BUILD)/bin/$(1): $$($(1)_SRCS:%.c=$(BUILD)/%.o) $(LIBZEST)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(ALL_LDFLAGS) $$($(1)_LDFLAGS) -o $$@ $$($(1)_SRCS:%.c=$(BUILD)/%.o) \
		$(LIBZEST) $$(if $$($(1)_LIBS),$$($(1)_LIBS),$$(PKG_LIBS))
endef
$(foreach p,$(PROGRAMS),$(eval $(call program_rule,$(p))))

$(BUILD)/t/test-%: $(BUILD)/t/lib/test-%.o $(TEST_HELP_OBJS) $(LIBZEST)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $< $(TEST_HELP_OBJS) $(LIBZEST) $(PKG_LIBS) $(CMOCKA_LIBS)

tests: $(TESTS)

deps:
	sh t/install-deps.sh

# README's test command: packages, both builds, unit tests twice, integration.
check: deps
	$(MAKE) all tests
	$(MAKE) SAN=1 BUILD=build/asan all tests
	sh t/run-all.sh build build/asan

unit: all tests
	sh t/run-unit.sh $(BUILD)

integration: all
	sh t/run-integration.sh $(BUILD)

asan:
	$(MAKE) SAN=1 BUILD=build/asan all tests
	sh t/run-unit.sh build/asan

bench: all
	sh bench/run.sh $(BUILD)

FUZZ_BINS := $(FUZZ_SRCS:t/fuzz/%.c=build/fuzz/%)
fuzz: $(FUZZ_BINS)
	sh t/fuzz/run.sh build/fuzz

build/fuzz/%: t/fuzz/%.c $(LIB_SRCS)
	@mkdir -p $(dir $@)
	clang -std=c17 -D_GNU_SOURCE -g -O1 -Ilib $(PKG_CFLAGS) \
		-fsanitize=fuzzer,address,undefined -o $@ $< $(LIB_SRCS) $(PKG_LIBS)

run: all
	sh t/demo.sh $(BUILD)

install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(LIBEXECDIR) \
		$(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man7 $(DESTDIR)$(MANDIR)/man8
	install -m 755 $(BUILD)/bin/zest $(DESTDIR)$(SBINDIR)/zest
	for p in $(filter-out zest,$(PROGRAMS)); do \
		install -m 755 $(BUILD)/bin/$$p $(DESTDIR)$(LIBEXECDIR)/$$p || exit 1; done
	if [ -x $(BUILD)/bin/sendmail ]; then \
		ln -sf sendmail $(DESTDIR)$(LIBEXECDIR)/mailq && \
		ln -sf sendmail $(DESTDIR)$(LIBEXECDIR)/newaliases; fi
	for m in man/*.[578]; do \
		s=$${m##*.}; install -m 644 $$m $(DESTDIR)$(MANDIR)/man$$s/ || exit 1; done

clean:
	rm -rf build

-include $(LIB_OBJS:.o=.d) $(foreach p,$(PROGRAMS),$($(p)_SRCS:%.c=$(BUILD)/%.d)) \
	$(TEST_SRCS:%.c=$(BUILD)/%.d) $(TEST_HELP_OBJS:.o=.d)
