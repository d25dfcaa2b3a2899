# lite_malloc without Bazel: `make` builds, in build/,
#
#   liblite-malloc-static.a   core + every override (--wrap, --defsym, -static,
#                             or plain linking: README, "Usage", modes 1 and 5)
#   liblite-malloc-shared.so  the same as a shared library (-l, LD_PRELOAD:
#                             modes 2 and 4): liblite-malloc-shared.so.1.4,
#                             soname liblite-malloc-shared.so.1, and links
#   liblite-malloc-hooks.a    core + what lite-hooks.h renames malloc to (mode 3)
#
# Options are compile-time defines (README, "Options"), e.g.
#
#   make CFLAGS+=-DLITE_MALLOC_ENGINES_COUNT=8
#   make CC=clang CXX=clang++ O=build-clang
#   make CC=aarch64-linux-gnu-gcc CXX=aarch64-linux-gnu-g++ O=build-arm   (AArch64)
#
# A change of flags rebuilds everything. Bazel builds the same artifacts:
# //lite_malloc:liblite-malloc-static.a and //lite_malloc:liblite-malloc-shared.so.
#
#   make install [PREFIX=/usr/local] [DESTDIR=...]     (and make uninstall)
#
# installs the three libraries in $(LIBDIR), the headers in
# $(INCLUDEDIR)/lite_malloc, lite-malloc.pc and lite-malloc-static.pc (for
# pkg-config) in $(PKGCONFIGDIR), and tools/lite-run in $(BINDIR), set to
# preload the installed library. DESTDIR is prepended to every path written,
# and to none written into the files.

CC ?= cc
CXX ?= c++
O ?= build
# The linker and archiver of the compiler's target: make's own defaults (ld,
# ar) are the host's, which cannot link a cross compiler's objects.
ifeq ($(origin LD),default)
LD := $(shell $(CC) -print-prog-name=ld)
endif
ifeq ($(origin AR),default)
AR := $(or $(shell command -v "$$($(CC) -dumpmachine)-ar"),ar)
endif

# Yours to set or add to: defines, -O3, -march=native, ... They come last, so
# they win over the defaults (make CFLAGS+=... keeps -O2; CFLAGS=-O0 replaces it).
CFLAGS ?=
CXXFLAGS ?= $(CFLAGS)

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
INSTALL ?= install

# The version is written once, in lite_malloc.h (LITE_MALLOC_VERSION_MAJOR ...).
version_part = $(or $(shell sed -n 's/^\#define LITE_MALLOC_VERSION_$(1) \([0-9][0-9]*\)$$/\1/p' \
  lite_malloc/lite_malloc.h),$(error no LITE_MALLOC_VERSION_$(1) in lite_malloc/lite_malloc.h))
MAJOR := $(call version_part,MAJOR)
MINOR := $(call version_part,MINOR)
VERSION := $(MAJOR).$(MINOR).$(call version_part,PATCH)

# Always: what the core needs to be correct, as LITE_COPTS in lite_malloc/options.bzl.
LITE_FLAGS := -O2 -g -fPIC -pthread -fvisibility=hidden -ftls-model=initial-exec \
  -fno-builtin-malloc -fno-builtin-free -Wall -Wextra -Ilite_malloc -MMD -MP
LITE_CFLAGS = -std=gnu11 $(LITE_FLAGS) $(CFLAGS)
LITE_CXXFLAGS = -std=c++17 $(LITE_FLAGS) $(CXXFLAGS)
OVERRIDE_FLAGS := -fno-builtin

CORE_SRCS := $(filter-out lite_malloc/override_%,$(wildcard lite_malloc/*.c))
CORE_OBJS := $(CORE_SRCS:lite_malloc/%.c=$(O)/%.o)
# Partially linked with the core into one object of the archive (see below).
NAMES_OBJS := $(O)/override_libc.o $(O)/override_glibc_extras.o $(O)/override_wrap.o
NEW_OBJ := $(O)/override_new.o
HOOKS_OBJ := $(O)/override_hooks.o

STATIC := $(O)/liblite-malloc-static.a
HOOKS := $(O)/liblite-malloc-hooks.a
# The shared library's file, the name programs record (soname: it changes
# only with MAJOR), and the name -llite-malloc-shared finds.
SHARED_FILE := liblite-malloc-shared.so.$(MAJOR).$(MINOR)
SONAME := liblite-malloc-shared.so.$(MAJOR)
SHARED := $(O)/liblite-malloc-shared.so

.PHONY: all clean install uninstall
all: $(STATIC) $(SHARED) $(HOOKS)

# Rebuild everything when the flags change.
FLAGS_FILE := $(O)/.flags
FLAGS_NOW := $(CC) $(CXX) $(LITE_CFLAGS) | $(LITE_CXXFLAGS)
$(shell mkdir -p $(O); echo '$(FLAGS_NOW)' | cmp -s - $(FLAGS_FILE) || echo '$(FLAGS_NOW)' >$(FLAGS_FILE))

$(O)/%.o: lite_malloc/%.c $(FLAGS_FILE)
	$(CC) $(LITE_CFLAGS) $(if $(filter override_%,$*),$(OVERRIDE_FLAGS)) -c $< -o $@

$(O)/%.o: lite_malloc/%.cc $(FLAGS_FILE)
	$(CXX) $(LITE_CXXFLAGS) $(OVERRIDE_FLAGS) -c $< -o $@

# Two members: lite_malloc.o (core, libc names, glibc extras and __wrap_*, in
# one object, so that any of its names a program uses brings all of them) and
# override_new.o (C++ operators; apart, so that C programs need no libstdc++).
$(STATIC): $(CORE_OBJS) $(NAMES_OBJS) $(NEW_OBJ)
	$(LD) -r -o $(O)/lite_malloc.o $(CORE_OBJS) $(NAMES_OBJS)
	rm -f $@
	$(AR) rcs $@ $(O)/lite_malloc.o $(NEW_OBJ)

# -Bsymbolic-functions: the forwarding calls inside bind directly (jmp, no PLT).
# --as-needed: libstdc++ is referenced weakly only (override_new.cc), so C
# programs that preload the library do not load it. pack-relative-relocs:
# DT_RELR (glibc 2.36), 2 KiB of relocations instead of 450 KiB read at load.
$(O)/$(SHARED_FILE): $(CORE_OBJS) $(NAMES_OBJS) $(NEW_OBJ)
	$(CXX) -shared -pthread -Wl,-soname,$(SONAME) -Wl,-Bsymbolic-functions -Wl,--as-needed -Wl,-z,pack-relative-relocs -o $@ $^

# The links, in build/ as they will be installed: programs linked against
# build/ (-Lbuild -Wl,-rpath,...) find their soname there.
$(O)/$(SONAME): $(O)/$(SHARED_FILE)
	ln -sf $(SHARED_FILE) $@
$(SHARED): $(O)/$(SONAME)
	ln -sf $(SONAME) $@

$(HOOKS): $(CORE_OBJS) $(HOOKS_OBJ)
	rm -f $@
	$(AR) rcs $@ $^

clean:
	rm -rf $(O)

# --------------------------------------------------------------------------
# make install, make uninstall
# --------------------------------------------------------------------------
HEADERS := lite_malloc/lite_malloc.h lite_malloc/lite-hooks.h
LIB_FILES := $(SHARED_FILE) $(SONAME) liblite-malloc-shared.so liblite-malloc-static.a \
  liblite-malloc-hooks.a
INSTALLED := $(addprefix $(DESTDIR)$(LIBDIR)/,$(LIB_FILES)) \
  $(addprefix $(DESTDIR)$(INCLUDEDIR)/,$(HEADERS)) \
  $(addprefix $(DESTDIR)$(PKGCONFIGDIR)/,lite-malloc.pc lite-malloc-static.pc) \
  $(DESTDIR)$(BINDIR)/lite-run

# The lines of a pkg-config file: $(call pc_lines,NAME,DESCRIPTION,LIBS).
# Two files, because the one name cannot give both libraries: lite-malloc
# links the shared library (mode 2), lite-malloc-static the archive (modes 1
# and 5, and plain static linking).
pc_lines = 'prefix=$(PREFIX)' 'libdir=$(patsubst $(PREFIX)/%,$${prefix}/%,$(LIBDIR))' \
  'includedir=$(patsubst $(PREFIX)/%,$${prefix}/%,$(INCLUDEDIR))' '' 'Name: $(1)' \
  'Description: $(2)' 'Version: $(VERSION)' 'Cflags: -I$${includedir}' 'Libs: $(strip $(3))'

install: all
	$(INSTALL) -d $(sort $(dir $(INSTALLED)))
	$(INSTALL) -m 644 $(O)/$(SHARED_FILE) $(STATIC) $(HOOKS) $(DESTDIR)$(LIBDIR)/
	ln -sf $(SHARED_FILE) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/liblite-malloc-shared.so
	$(INSTALL) -m 644 $(HEADERS) $(DESTDIR)$(INCLUDEDIR)/lite_malloc/
	printf '%s\n' $(call pc_lines,lite-malloc,lock-free malloc: the shared library,\
	  -L$${libdir} -llite-malloc-shared) >$(DESTDIR)$(PKGCONFIGDIR)/lite-malloc.pc
	printf '%s\n' $(call pc_lines,lite-malloc-static,lock-free malloc: the static archive,\
	  $${libdir}/liblite-malloc-static.a -pthread) >$(DESTDIR)$(PKGCONFIGDIR)/lite-malloc-static.pc
	sed 's|^installed_lib=""$$|installed_lib="$(LIBDIR)/$(SONAME)"|' tools/lite-run \
	  >$(DESTDIR)$(BINDIR)/lite-run
	grep -q '^installed_lib="/' $(DESTDIR)$(BINDIR)/lite-run
	chmod 755 $(DESTDIR)$(BINDIR)/lite-run

uninstall:
	rm -f $(INSTALLED)
	-rmdir $(DESTDIR)$(INCLUDEDIR)/lite_malloc

-include $(wildcard $(O)/*.d)
