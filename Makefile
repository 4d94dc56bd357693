# Builds and installs libfastspf (the C library) under a prefix:
#   make install PREFIX=/usr/local     (header, libfastspf.so + soname links, libfastspf.a, fastspf.pc)
#   make uninstall PREFIX=/usr/local
# PROFILE=debug installs the debug build (faster to build, for tests).
PREFIX ?= /usr/local
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
PROFILE ?= release
CARGO ?= cargo
TARGET_DIR ?= $(or $(CARGO_TARGET_DIR),target)
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
MAJOR := $(firstword $(subst ., ,$(VERSION)))
BUILD := $(TARGET_DIR)/$(PROFILE)
CARGO_PROFILE := $(if $(filter release,$(PROFILE)),--release,)

.PHONY: lib install uninstall

lib:
	$(CARGO) build --locked $(CARGO_PROFILE) -p spf-ffi

install: lib
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(PKGCONFIGDIR)
	install -m 644 include/fastspf.h $(DESTDIR)$(INCLUDEDIR)/fastspf.h
	install -m 755 $(BUILD)/libfastspf.so $(DESTDIR)$(LIBDIR)/libfastspf.so.$(VERSION)
	ln -sf libfastspf.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libfastspf.so.$(MAJOR)
	ln -sf libfastspf.so.$(MAJOR) $(DESTDIR)$(LIBDIR)/libfastspf.so
	install -m 644 $(BUILD)/libfastspf.a $(DESTDIR)$(LIBDIR)/libfastspf.a
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' \
	    -e 's|@VERSION@|$(VERSION)|' spf-ffi/fastspf.pc.in > $(DESTDIR)$(PKGCONFIGDIR)/fastspf.pc

uninstall:
	rm -f $(DESTDIR)$(INCLUDEDIR)/fastspf.h $(DESTDIR)$(LIBDIR)/libfastspf.so* \
	    $(DESTDIR)$(LIBDIR)/libfastspf.a $(DESTDIR)$(PKGCONFIGDIR)/fastspf.pc
