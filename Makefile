# lite_malloc without Bazel: `make` builds, in build/,
#
#   liblite-malloc-static.a   core + every override (--wrap, --defsym, -static,
#                             or plain linking: README, "Usage", modes 1 and 5)
#   liblite-malloc-shared.so  the same as a shared library (-l, LD_PRELOAD:
#                             modes 2 and 4)
#   liblite-malloc-hooks.a    core + what lite-hooks.h renames malloc to (mode 3)
#
# Options are compile-time defines (README, "Options"), e.g.
#
#   make CFLAGS+=-DLITE_MALLOC_ENGINES_COUNT=8
#   make CC=clang CXX=clang++ O=build-clang
#
# A change of flags rebuilds everything. Bazel builds the same artifacts:
# //lite_malloc:liblite-malloc-static.a and //lite_malloc:liblite-malloc-shared.so.

CC ?= cc
CXX ?= c++
LD ?= ld
AR ?= ar
O ?= build

# Yours to set or add to: defines, -O3, -march=native, ... They come last, so
# they win over the defaults (make CFLAGS+=... keeps -O2; CFLAGS=-O0 replaces it).
CFLAGS ?=
CXXFLAGS ?= $(CFLAGS)

# Always: what the core needs to be correct, as in lite_malloc/options.bzl.
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
SHARED := $(O)/liblite-malloc-shared.so
HOOKS := $(O)/liblite-malloc-hooks.a

.PHONY: all clean
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
$(SHARED): $(CORE_OBJS) $(NAMES_OBJS) $(NEW_OBJ)
	$(CXX) -shared -pthread -Wl,-soname,liblite-malloc-shared.so -Wl,-Bsymbolic-functions \
	  -o $@ $^

$(HOOKS): $(CORE_OBJS) $(HOOKS_OBJ)
	rm -f $@
	$(AR) rcs $@ $^

clean:
	rm -rf $(O)

-include $(wildcard $(O)/*.d)
