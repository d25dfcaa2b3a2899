#!/usr/bin/env bash
# Mode 4: LD_PRELOAD=.../liblite-malloc-shared.so on unmodified programs, built
# without any knowledge of lite_malloc (they find lite_malloc_owns with dlsym).
source testing/modes/mode_test_lib.sh

SO="$PWD/lite_malloc/liblite-malloc-shared.so"
run testing/modes/mode_probe glibc                     # the control run
run env LD_PRELOAD="$SO" testing/modes/mode_probe lite
run env LD_PRELOAD="$SO" testing/modes/cxx_probe lite
run env LD_PRELOAD="$SO" testing/modes/lifecycle_probe
