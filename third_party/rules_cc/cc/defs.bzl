"""Offline stand-in for @rules_cc//cc:defs.bzl.

Re-exports the C/C++ rules that Bazel 4.2.3 implements natively, with the same
names and signatures as the real rules_cc, so BUILD files load them from here.
"""


def cc_library(**attrs):
    """Bazel cc_library rule (native)."""
    native.cc_library(**attrs)

def cc_binary(**attrs):
    """Bazel cc_binary rule (native)."""
    native.cc_binary(**attrs)

def cc_test(**attrs):
    """Bazel cc_test rule (native)."""
    native.cc_test(**attrs)

def cc_import(**attrs):
    """Bazel cc_import rule (native)."""
    native.cc_import(**attrs)

def cc_proto_library(**attrs):
    """Bazel cc_proto_library rule (native)."""
    native.cc_proto_library(**attrs)

def cc_toolchain(**attrs):
    """Bazel cc_toolchain rule (native)."""
    native.cc_toolchain(**attrs)

def cc_toolchain_suite(**attrs):
    """Bazel cc_toolchain_suite rule (native)."""
    native.cc_toolchain_suite(**attrs)

def fdo_profile(**attrs):
    """Bazel fdo_profile rule (native)."""
    native.fdo_profile(**attrs)

def fdo_prefetch_hints(**attrs):
    """Bazel fdo_prefetch_hints rule (native)."""
    native.fdo_prefetch_hints(**attrs)

def objc_library(**attrs):
    """Bazel objc_library rule (native)."""
    native.objc_library(**attrs)

def objc_import(**attrs):
    """Bazel objc_import rule (native)."""
    native.objc_import(**attrs)
