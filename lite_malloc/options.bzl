"""Compile-time options of lite_malloc, and the macro that builds its core.

Each option is a C macro with its default in lite_config.h. Bazel overrides it
with a --define, e.g.

    bazel test //... --define=lite_engines=8 --define=lite_perthread=0

which compiles the core with -DLITE_MALLOC_ENGINES_COUNT=8
-DLITE_MALLOC_USE_PERTHREAD_ENGINES=0. Without a --define nothing is passed
and the header's default applies.

Only the values listed in LITE_OPTIONS are accepted: any other value of a
lite_* --define fails the analysis of every core library with an error naming
the allowed values (checked by the `options_check` target, because a select()
with a //conditions:default branch cannot reject unlisted values by itself).

Usage, in lite_malloc/BUILD.bazel only:

    lite_option_settings()           # the config_settings, once
    lite_core_library(name = "core") # options from --define
    lite_core_library(name = "core_small", defines = {"lite_engines": 4})
"""

load("@rules_cc//cc:defs.bzl", "cc_library")

# --------------------------------------------------------------------------
# The one table of options: --define name -> C macro and allowed values.
# Defaults are not repeated here; they live in lite_config.h.
# --------------------------------------------------------------------------
LITE_OPTIONS = {
    "lite_engines": struct(
        macro = "LITE_MALLOC_ENGINES_COUNT",
        values = [1, 2, 4, 8, 16, 32, 64, 128, 256],
        doc = "number of engines (default 32)",
    ),
    "lite_miniblock": struct(
        macro = "LITE_MALLOC_MINIBLOCK_CACHE_SIZE",
        values = [2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192],
        doc = "miniblock cache size, in 8-byte units (default 1024)",
    ),
    "lite_superblock": struct(
        macro = "LITE_MALLOC_SUPERBLOCK_CACHE_SIZE",
        values = [1, 2, 3, 4, 8, 16, 32, 64, 128, 256, 512],
        doc = "superblock cache size, in 4096-byte units (default 32)",
    ),
    "lite_perthread": struct(
        macro = "LITE_MALLOC_USE_PERTHREAD_ENGINES",
        values = [0, 1],
        doc = "1: one engine per thread while engines last (default 1)",
    ),
    "lite_hardened": struct(
        macro = "LITE_MALLOC_HARDENED",
        values = [0, 1],
        doc = "1: hardened build (default 0); also --config=hardened",
    ),
    "lite_faults": struct(
        macro = "LITE_MALLOC_FAULT_INJECTION",
        values = [0, 1],
        doc = "1: the OS layer can be told to fail (lite_malloc_fault_inject; default 0)",
    ),
    "lite_test_page": struct(
        macro = "LITE_MALLOC_TEST_PAGE_SIZE",
        values = [0, 4096, 16384, 65536],
        doc = "tests only: take this for the OS page size when it is at least the kernel's (default 0: the kernel's)",
    ),
    "lite_test_hooks": struct(
        macro = "LITE_MALLOC_TEST_HOOKS",
        values = [0, 1],
        doc = "1: tests can run code at chosen points inside the allocator (lite_malloc_test_hook; default 0)",
    ),
}

# The package that holds the config_settings made by lite_option_settings().
_SETTINGS_PACKAGE = "//lite_malloc"

# Warnings of the core, fatal: the core builds clean with gcc 12 and clang 14.
LITE_WARNING_COPTS = [
    "-Wall",
    "-Wextra",
    "-Werror",
]

# What every library of lite_malloc/ is compiled with, core and overrides, in
# this repository and in any workspace that depends on it: a consumer's build
# never reads our .bazelrc, and a rule's copts come after --copt and after the
# flags of the compilation mode, so these hold in fastbuild, opt and dbg alike
# and a consumer links the code this repository tests and benchmarks. The
# Makefile's LITE_FLAGS are the same.
LITE_COPTS = [
    "-O2",
    # Position-independent in every mode, as the .so must be: without it, -c opt
    # compiles executables' copies as PIE, which inlines calls of the exported
    # lite_* functions that PIC code makes through the PLT.
    "-fPIC",
    # Internal functions stay internal (and callable without the PLT); the API
    # and the libc names say visibility("default") themselves.
    "-fvisibility=hidden",
    # One TLS pointer, reached without __tls_get_addr.
    "-ftls-model=initial-exec",
    # Not the libc builtins: gcc may not drop a malloc/free pair, or turn
    # malloc+memset into a call of calloc, in the code that defines them.
    "-fno-builtin-malloc",
    "-fno-builtin-free",
] + LITE_WARNING_COPTS

# The language of each kind of source: Bazel 4.2.3 passes -std=c++0x to C++
# unless told otherwise, and override_new.cc needs C++17 (std::align_val_t).
LITE_C_COPTS = ["-std=gnu11"]

LITE_CXX_COPTS = ["-std=c++17"]

def _setting_name(define, value):
    return "%s_%s" % (define, value)

def _define_copt(define, value):
    return "-D%s=%s" % (LITE_OPTIONS[define].macro, value)

def _allowed(define):
    return ", ".join([str(v) for v in LITE_OPTIONS[define].values])

# --------------------------------------------------------------------------
# Rejecting unlisted values.
# --define values reach rules as make variables (ctx.var), so this rule sees
# exactly what the select()s below failed to match.
# --------------------------------------------------------------------------
def _options_check_impl(ctx):
    for define, option in LITE_OPTIONS.items():
        value = ctx.var.get(define)
        if value == None:
            continue
        if value not in [str(v) for v in option.values]:
            fail("--define=%s=%s is not supported: %s (%s) must be one of %s" % (
                define,
                value,
                define,
                option.doc,
                _allowed(define),
            ))
    return [CcInfo()]

_options_check = rule(
    implementation = _options_check_impl,
    doc = "Fails analysis when a lite_* --define has a value not in LITE_OPTIONS.",
)

def lite_option_settings(visibility = ["//:__subpackages__"]):
    """Declares one config_setting per option value, and the options check.

    Call once, in the package named by _SETTINGS_PACKAGE. Settings are named
    <define>_<value>, e.g. :lite_engines_8 matches --define=lite_engines=8.
    """
    for define, option in LITE_OPTIONS.items():
        for value in option.values:
            native.config_setting(
                name = _setting_name(define, value),
                define_values = {define: str(value)},
                visibility = visibility,
            )
    _options_check(
        name = "options_check",
        visibility = visibility,
    )

def lite_option_copts(fixed = {}):
    """Returns the copts that set the options, as a sum of select()s.

    Args:
      fixed: {define name: value} for options to fix at that value instead of
        taking them from the command line.
    """
    copts = []
    for define in fixed:
        if define not in LITE_OPTIONS:
            fail("unknown lite_malloc option %r; known: %s" % (
                define,
                ", ".join(LITE_OPTIONS.keys()),
            ))
        if fixed[define] not in LITE_OPTIONS[define].values:
            fail("%s = %r is not supported; must be one of %s" % (
                define,
                fixed[define],
                _allowed(define),
            ))
        copts.append(_define_copt(define, fixed[define]))
    for define, option in LITE_OPTIONS.items():
        if define in fixed:
            continue
        branches = {
            "%s:%s" % (_SETTINGS_PACKAGE, _setting_name(define, value)): [_define_copt(define, value)]
            for value in option.values
        }
        branches["//conditions:default"] = []
        copts = copts + select(branches)
    return copts

def lite_core_library(name, defines = {}, visibility = None, **kwargs):
    """The allocator core (everything but the libc overrides) as a cc_library.

    Sources are lite_malloc/'s *.c except override_*.c, headers its *.h except
    lite-hooks.h; any package may declare a variant (e.g. a test's own build
    with fault injection) next to the tests that use it. Other packages include "lite_malloc/<header>.h"; files in
    lite_malloc/ include each other by bare name.

    Args:
      name: target name.
      defines: {define name: value} options fixed for this library, e.g.
        {"lite_engines": 4}. Options not named still follow --define.
      visibility: target visibility.
      **kwargs: passed to cc_library (e.g. testonly, tags).
    """
    # In lite_malloc/ itself the sources are globbed; elsewhere (a test package
    # with its own variant) they come from the filegroups exported there.
    if native.package_name() == "lite_malloc":
        srcs = native.glob(["*.c"], exclude = ["override_*.c"])
        hdrs = native.glob(["*.h"], exclude = ["lite-hooks.h"])
    else:
        srcs = ["%s:core_sources" % _SETTINGS_PACKAGE]
        hdrs = ["%s:core_headers" % _SETTINGS_PACKAGE]
    cc_library(
        name = name,
        srcs = srcs,
        hdrs = hdrs,
        copts = LITE_COPTS + LITE_C_COPTS + lite_option_copts(defines),
        linkopts = ["-pthread"],
        # Static only: with -fvisibility=hidden a shared core would hide the
        # internal functions that unit tests call.
        linkstatic = True,
        # Every object, referenced or not: the .so exports the whole lite_*
        # API (lite_malloc_version included, which nothing inside calls).
        alwayslink = True,
        deps = ["%s:options_check" % _SETTINGS_PACKAGE],
        visibility = visibility,
        **kwargs
    )
