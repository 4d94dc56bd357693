# Builds and installs libfastspf (the C library) under a prefix:
#   make install PREFIX=/usr/local     (header, libfastspf.so + soname links, libfastspf.a, fastspf.pc)
#   make uninstall PREFIX=/usr/local
# and fastspf's libspf2.so.2 (libspf2's ABI, spf-compat/) in a directory of its own:
#   make install-compat PREFIX=/usr/local    (lib/fastspf-compat/libspf2.so.2, include/fastspf-compat/spf2/)
#   make uninstall-compat PREFIX=/usr/local
#   make compat-deb      (target/fastspf-libspf2_<version>_<arch>.deb: /usr/lib/fastspf-compat plus an
#                         /etc/ld.so.conf.d entry, so installing it switches the whole system; dpkg -r switches back)
# PROFILE=debug installs the debug build (faster to build, for tests).
# Libraries are installed stripped; STRIP=0 keeps their debug info, and
# DEBUGDIR=DIR (with STRIP=1) keeps the shared libraries' in DIR/<file>.debug,
# linked from the stripped file (.gnu_debuglink), for gdb and perf.
# Release sizes (x86_64): libfastspf.so 25.4 MB -> 3.2 MB, libfastspf.a
# 100.6 MB -> 15.5 MB, libspf2.so.2 14.1 MB -> 2.2 MB.
# `make install` runs ldconfig when it installs as root, without DESTDIR,
# into a directory the dynamic linker searches (/usr/local/lib, /usr/lib,
# ...); LDCONFIG=true turns that off. install-compat never runs ldconfig:
# its directory is not searched, so it never shadows the system's libspf2.
PREFIX ?= /usr/local
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
COMPAT_LIBDIR ?= $(LIBDIR)/fastspf-compat
COMPAT_INCLUDEDIR ?= $(INCLUDEDIR)/fastspf-compat
PROFILE ?= release
STRIP ?= 1
DEBUGDIR ?=
LDCONFIG ?= ldconfig
CARGO ?= cargo
DEB_ARCH ?= $(shell dpkg --print-architecture 2>/dev/null || echo amd64)
OBJCOPY ?= objcopy
TARGET_DIR ?= $(or $(CARGO_TARGET_DIR),target)
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
MAJOR := $(firstword $(subst ., ,$(VERSION)))
BUILD := $(TARGET_DIR)/$(PROFILE)
CARGO_PROFILE := $(if $(filter release,$(PROFILE)),--release,)

.PHONY: lib install uninstall compat-lib install-compat uninstall-compat compat-deb

lib:
	$(CARGO) build --locked $(CARGO_PROFILE) -p spf-ffi

# strip_lib FILE OPTIONS: strips FILE unless STRIP=0, first saving a shared
# object's debug info to DEBUGDIR when given (archives: use STRIP=0 to keep
# theirs). Archives also lose the LLVM bitcode sections Rust's objects carry
# (.llvmbc, .llvmcmd: only cross-language LTO reads them).
ARCHIVE_STRIP := --strip-debug --remove-section=.llvmbc --remove-section=.llvmcmd
define strip_lib
	if [ "$(STRIP)" != 0 ]; then \
	    if [ -n "$(DEBUGDIR)" ] && [ "$(suffix $(1))" != .a ]; then \
	        install -d $(DESTDIR)$(DEBUGDIR) && \
	        $(OBJCOPY) --only-keep-debug $(1) $(DESTDIR)$(DEBUGDIR)/$(notdir $(1)).debug && \
	        $(OBJCOPY) $(2) --add-gnu-debuglink=$(DESTDIR)$(DEBUGDIR)/$(notdir $(1)).debug $(1); \
	    else \
	        $(OBJCOPY) $(2) $(1); \
	    fi; \
	fi
endef

# Runs ldconfig for LIBDIR when that is a directory the dynamic linker
# already searches, we are root, and this is not a staged (DESTDIR) install.
# (Directories compare by real path: with merged /usr, ldconfig lists /lib for /usr/lib.)
define run_ldconfig
	if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ] && command -v $(LDCONFIG) >/dev/null 2>&1; then \
	    libdir="$$(realpath -m $(LIBDIR))"; \
	    for dir in $$($(LDCONFIG) -v -N 2>/dev/null | sed -n 's|^\(/[^:]*\):.*|\1|p'); do \
	        if [ "$$(realpath -m "$$dir")" = "$$libdir" ]; then $(LDCONFIG); break; fi; \
	    done; \
	fi
endef

install: lib
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(PKGCONFIGDIR)
	install -m 644 include/fastspf.h $(DESTDIR)$(INCLUDEDIR)/fastspf.h
	install -m 755 $(BUILD)/libfastspf.so $(DESTDIR)$(LIBDIR)/libfastspf.so.$(VERSION)
	@$(call strip_lib,$(DESTDIR)$(LIBDIR)/libfastspf.so.$(VERSION),--strip-unneeded)
	ln -sf libfastspf.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libfastspf.so.$(MAJOR)
	ln -sf libfastspf.so.$(MAJOR) $(DESTDIR)$(LIBDIR)/libfastspf.so
	install -m 644 $(BUILD)/libfastspf.a $(DESTDIR)$(LIBDIR)/libfastspf.a
	@$(call strip_lib,$(DESTDIR)$(LIBDIR)/libfastspf.a,$(ARCHIVE_STRIP))
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' \
	    -e 's|@VERSION@|$(VERSION)|' spf-ffi/fastspf.pc.in > $(DESTDIR)$(PKGCONFIGDIR)/fastspf.pc
	@$(run_ldconfig)

uninstall:
	rm -f $(DESTDIR)$(INCLUDEDIR)/fastspf.h $(DESTDIR)$(LIBDIR)/libfastspf.so* \
	    $(DESTDIR)$(LIBDIR)/libfastspf.a $(DESTDIR)$(PKGCONFIGDIR)/fastspf.pc
	@$(run_ldconfig)

compat-lib:
	$(CARGO) build --locked $(CARGO_PROFILE) -p spf-compat

install-compat: compat-lib
	install -d $(DESTDIR)$(COMPAT_LIBDIR) $(DESTDIR)$(COMPAT_INCLUDEDIR)/spf2
	install -m 755 $(BUILD)/libspf2.so $(DESTDIR)$(COMPAT_LIBDIR)/libspf2.so.2
	@$(call strip_lib,$(DESTDIR)$(COMPAT_LIBDIR)/libspf2.so.2,--strip-unneeded)
	ln -sf libspf2.so.2 $(DESTDIR)$(COMPAT_LIBDIR)/libspf2.so
	install -m 644 spf-compat/include/spf2/*.h $(DESTDIR)$(COMPAT_INCLUDEDIR)/spf2/

uninstall-compat:
	rm -f $(DESTDIR)$(COMPAT_LIBDIR)/libspf2.so.2 $(DESTDIR)$(COMPAT_LIBDIR)/libspf2.so
	rm -rf $(DESTDIR)$(COMPAT_INCLUDEDIR)/spf2
	-rmdir $(DESTDIR)$(COMPAT_LIBDIR) $(DESTDIR)$(COMPAT_INCLUDEDIR) 2>/dev/null

DEB_ROOT := $(abspath $(TARGET_DIR))/compat-deb
compat-deb: compat-lib
	rm -rf $(DEB_ROOT)
	$(MAKE) --no-print-directory install-compat PREFIX=/usr DESTDIR=$(DEB_ROOT)
	install -d $(DEB_ROOT)/DEBIAN $(DEB_ROOT)/etc/ld.so.conf.d
	echo /usr/lib/fastspf-compat > $(DEB_ROOT)/etc/ld.so.conf.d/00-fastspf-compat.conf
	printf '%s\n' 'Package: fastspf-libspf2' 'Version: $(VERSION)' 'Architecture: $(DEB_ARCH)' \
	    'Maintainer: fastspf developers <fastspf@example.invalid>' 'Depends: libc6, libgcc-s1' \
	    'Section: libs' 'Priority: optional' \
	    'Description: libspf2.so.2 (the libspf2 1.2.x ABI) over fastspf' \
	    ' Installs /usr/lib/fastspf-compat/libspf2.so.2 and lists its directory in' \
	    ' /etc/ld.so.conf.d, ahead of the system libspf2: programs linked against' \
	    ' libspf2 (Exim, OpenDMARC, spfquery) get fastspf. Remove it to switch back.' \
	    > $(DEB_ROOT)/DEBIAN/control
	printf '#!/bin/sh\nset -e\nldconfig\n' > $(DEB_ROOT)/DEBIAN/postinst
	cp $(DEB_ROOT)/DEBIAN/postinst $(DEB_ROOT)/DEBIAN/postrm
	chmod 755 $(DEB_ROOT)/DEBIAN/postinst $(DEB_ROOT)/DEBIAN/postrm
	dpkg-deb --build --root-owner-group $(DEB_ROOT) $(TARGET_DIR)/fastspf-libspf2_$(VERSION)_$(DEB_ARCH).deb
