#!/usr/bin/env bash
# `make install`: the files a packager expects, in PREFIX or under DESTDIR; a
# program built with pkg-config against the installed copy in modes 1, 2 and
# 5; the installed lite-run preloading the installed library; `make
# uninstall` taking all of it away again.
source testing/modes/mode_test_lib.sh

src="$SCRATCH/src"
copy_sources "$src"
prefix="$SCRATCH/prefix"
run make -C "$src" -j2 install PREFIX="$prefix" >"$SCRATCH/make.log" 2>&1 ||
  { cat "$SCRATCH/make.log"; exit 1; }

# The version, from the one place it is written.
version_part() {
  sed -n "s/^#define LITE_MALLOC_VERSION_$1 \([0-9]*\)$/\1/p" lite_malloc/lite_malloc.h
}
major="$(version_part MAJOR)"
version="$major.$(version_part MINOR).$(version_part PATCH)"
file="liblite-malloc-shared.so.$major.$(version_part MINOR)"
soname="liblite-malloc-shared.so.$major"

fail() { echo "FAIL $*"; exit 1; }
lib="$prefix/lib"
for f in "lib/$file" lib/liblite-malloc-static.a lib/liblite-malloc-hooks.a \
         include/lite_malloc/lite_malloc.h include/lite_malloc/lite-hooks.h \
         lib/pkgconfig/lite-malloc.pc lib/pkgconfig/lite-malloc-static.pc; do
  [[ -f "$prefix/$f" && ! -L "$prefix/$f" ]] || fail "make install put no $f in PREFIX"
done
[[ "$(readlink "$lib/$soname")" == "$file" ]] || fail "$soname is not a link to $file"
[[ "$(readlink "$lib/liblite-malloc-shared.so")" == "$soname" ]] ||
  fail "liblite-malloc-shared.so is not a link to $soname"
run readelf -d "$lib/$file" | grep -q "SONAME.*\[$soname\]" || fail "the soname is not $soname"
[[ -x "$prefix/bin/lite-run" ]] || fail "no bin/lite-run"
echo "ok   make install: $file, its links, soname $soname, archives, headers, .pc files, lite-run"

export PKG_CONFIG_PATH="$lib/pkgconfig"
for pc in lite-malloc lite-malloc-static; do
  [[ "$(run pkg-config --modversion "$pc")" == "$version" ]] ||
    fail "$pc.pc's version is not $version"
done
echo "ok   pkg-config: version $version"

# The probe, away from the source tree, so that lite_malloc/lite_malloc.h can
# only come from the installed headers (pkg-config --cflags).
probe="$SCRATCH/probe"
mkdir -p "$probe/testing/modes"
cp testing/modes/mode_probe.c testing/modes/probe.h "$probe/testing/modes/"
pc_cc() {
  run "$CC" -O2 -I"$probe" -DLITE_PROBE_LINKED=1 -o "$SCRATCH/$1" \
    "$probe/testing/modes/mode_probe.c" "${@:2}"
  run "$SCRATCH/$1" lite
}
# Mode 2, the shared library; mode 1, -static and --wrap; mode 5, --defsym.
# shellcheck disable=SC2046  # pkg-config's output is a list of words
pc_cc app_shared $(pkg-config --cflags --libs lite-malloc) -Wl,-rpath,"$lib"
run readelf -d "$SCRATCH/app_shared" | grep -q "NEEDED.*\[$soname\]" ||
  fail "the program does not need $soname"
# shellcheck disable=SC2046
pc_cc app_wrap -static "${WRAP_FLAGS[@]}" $(pkg-config --cflags --libs lite-malloc-static)
# shellcheck disable=SC2046
pc_cc app_defsym "${DEFSYM_FLAGS[@]}" $(pkg-config --cflags --libs lite-malloc-static)
echo "ok   pkg-config --cflags --libs: modes 2 (lite-malloc), 1 and 5 (lite-malloc-static)"

# The installed lite-run preloads the installed library, by its soname.
preload="$(run "$prefix/bin/lite-run" sh -c 'echo "$LD_PRELOAD"')"
[[ "$preload" == "$lib/$soname" ]] || fail "installed lite-run preloads $preload"
run "$prefix/bin/lite-run" testing/modes/mode_probe lite
echo "ok   bin/lite-run preloads $soname from PREFIX"

# A packager's staged install: the same tree under DESTDIR, with no DESTDIR in
# what the files say.
stage="$SCRATCH/stage"
run make -C "$src" install PREFIX=/usr DESTDIR="$stage" >"$SCRATCH/make-stage.log" 2>&1 ||
  { cat "$SCRATCH/make-stage.log"; exit 1; }
[[ -f "$stage/usr/lib/$file" ]] || fail "DESTDIR: no $stage/usr/lib/$file"
grep -qx "prefix=/usr" "$stage/usr/lib/pkgconfig/lite-malloc.pc" ||
  fail "DESTDIR reached lite-malloc.pc"
grep -qx "installed_lib=\"/usr/lib/$soname\"" "$stage/usr/bin/lite-run" ||
  fail "DESTDIR reached lite-run"
if [[ ! -e "/usr/lib/$soname" ]]; then
  # Not moved into place yet: the staged lite-run falls back to ../lib.
  preload="$(run "$stage/usr/bin/lite-run" sh -c 'echo "$LD_PRELOAD"')"
  [[ "$preload" == "$stage/usr/lib/liblite-malloc-shared.so" ]] ||
    fail "staged lite-run preloads $preload"
fi
echo "ok   make install DESTDIR=... PREFIX=/usr"

# make uninstall leaves no file and no link behind.
run make -C "$src" uninstall PREFIX="$prefix" >/dev/null
run make -C "$src" uninstall PREFIX=/usr DESTDIR="$stage" >/dev/null
left="$(find "$prefix" "$stage" ! -type d)"
[[ -z "$left" ]] || fail "make uninstall left: $left"
echo "ok   make uninstall"
echo PASSED
