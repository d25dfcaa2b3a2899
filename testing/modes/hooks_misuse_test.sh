#!/usr/bin/env bash
# Mode 3's compile-time failures: lite-hooks.h stops the build, with its
# message, where it cannot rename malloc.
source testing/modes/mode_test_lib.sh

# expect_error FILE MESSAGE [COMPILER]: compiling FILE fails, saying MESSAGE.
expect_error() {
  local file="$1" message="$2" compiler="${3:-$CC}"
  if "$compiler" -fsyntax-only -I. "$file" 2>"$SCRATCH/err"; then
    echo "FAIL $file compiled"
    exit 1
  fi
  grep -F "$message" "$SCRATCH/err" || { echo "FAIL $file: no '$message' in:"; cat "$SCRATCH/err"; exit 1; }
  echo "ok   $file: $message"
}

printf '#include <stdlib.h>\n#include "lite_malloc/lite-hooks.h"\n' >"$SCRATCH/after_stdlib.c"
expect_error "$SCRATCH/after_stdlib.c" "lite-hooks.h must be the first #include of the file"

printf '#include <malloc.h>\n#include "lite_malloc/lite-hooks.h"\n' >"$SCRATCH/after_malloc_h.c"
expect_error "$SCRATCH/after_malloc_h.c" "lite-hooks.h must be the first #include of the file"

printf '#include <cstdlib>\n#include "lite_malloc/lite-hooks.h"\n' >"$SCRATCH/after_cstdlib.cc"
expect_error "$SCRATCH/after_cstdlib.cc" "lite-hooks.h must be the first #include of the file" \
  "${CXX:-c++}"

printf '#define malloc my_malloc\n#include "lite_malloc/lite-hooks.h"\n' >"$SCRATCH/macro.c"
expect_error "$SCRATCH/macro.c" "is a macro here"

# And the right way round compiles, in C and C++.
printf '#include "lite_malloc/lite-hooks.h"\n#include <stdlib.h>\n#include <malloc.h>\n' >"$SCRATCH/good.c"
run "$CC" -fsyntax-only -Wall -Werror -I. "$SCRATCH/good.c"
printf '#include "lite_malloc/lite-hooks.h"\n#include <cstdlib>\n#include <malloc.h>\n' >"$SCRATCH/good.cc"
run "${CXX:-c++}" -fsyntax-only -Wall -Werror -I. "$SCRATCH/good.cc"
echo PASSED
