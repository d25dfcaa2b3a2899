"""What the usage-mode and real-program tests share.

NOT_UNDER_SANITIZERS: target_compatible_with for a test that replaces the
process's malloc. Under --config=asan, tsan or ubsan the libraries are built
instrumented and the sanitizer runtime owns malloc, so these tests are skipped
(reported as skipped, not failed) instead of linking two mallocs.
"""

NOT_UNDER_SANITIZERS = select({
    "//testing/modes:asan": ["//testing/modes:never"],
    "//testing/modes:tsan": ["//testing/modes:never"],
    "//testing/modes:ubsan": ["//testing/modes:never"],
    "//conditions:default": [],
})
