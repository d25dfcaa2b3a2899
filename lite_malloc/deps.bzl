"""The external repositories lite_malloc needs, declared offline.

A workspace that depends on lite_malloc calls this from its WORKSPACE, after
declaring lite_malloc itself (README, "Usage", "Bazel"):

    local_repository(name = "lite_malloc", path = "../lite_malloc")
    load("@lite_malloc//lite_malloc:deps.bzl", "lite_malloc_dependencies")
    lite_malloc_dependencies()

and so does lite_malloc's own WORKSPACE. Bazel 4.2.3 would otherwise download
three repositories, even for a build that only compiles C:

  @rules_cc               lite_malloc's BUILD files load @rules_cc//cc:defs.bzl;
                          the copy vendored in third_party/rules_cc re-exports
                          Bazel's native rules (Debian's bazel-rules-cc is too
                          new for 4.2.3)
  @rules_java             the Java toolchain that every build refers to;
                          Debian's package bazel-rules-java
  @remote_coverage_tools  Bazel's test rules refer to it even with coverage
                          off; the stand-ins vendored in third_party/

A repository the workspace has already declared (before the call) is kept, so
a consumer that brings its own rules_cc or rules_java keeps it.
"""

def _vendored_repository_impl(rctx):
    # The directory of a label resolves wherever lite_malloc itself came from
    # (local_repository, an archive, or this being the main workspace); a plain
    # local_repository would need a path relative to the consumer's workspace.
    src = rctx.path(rctx.attr.anchor).dirname.get_child(rctx.attr.subdir)
    for entry in src.readdir():
        rctx.symlink(entry, entry.basename)

_vendored_repository = repository_rule(
    implementation = _vendored_repository_impl,
    attrs = {
        "anchor": attr.label(allow_single_file = True),
        "subdir": attr.string(),
    },
    local = True,
    doc = "A repository made of the files of anchor's directory's subdir.",
)

def _declare(name, rule, **kwargs):
    if not native.existing_rule(name):
        rule(name = name, **kwargs)

def lite_malloc_dependencies(rules_java_path = "/usr/share/bazel/rules/java"):
    """Declares @rules_cc, @rules_java and @remote_coverage_tools, all local.

    Args:
      rules_java_path: a rules_java that works with the Bazel in use; the
        default is where Debian's bazel-rules-java puts it.
    """

    # third_party's own BUILD file is the anchor: the vendored directories are
    # repositories of their own, not packages of lite_malloc (.bazelignore).
    anchor = Label("//third_party:BUILD.bazel")
    _declare("rules_cc", _vendored_repository, anchor = anchor, subdir = "rules_cc")
    _declare(
        "remote_coverage_tools",
        _vendored_repository,
        anchor = anchor,
        subdir = "remote_coverage_tools",
    )
    _declare("rules_java", native.local_repository, path = rules_java_path)
