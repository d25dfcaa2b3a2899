/* What the consumer's tests share: check() prints one result and counts the
 * failures, which main returns. */
#ifndef LITE_CONSUMER_CHECK_H
#define LITE_CONSUMER_CHECK_H

#include <stdio.h>

static int failures;

static void check(int ok, const char* what) {
  printf("%s %s\n", ok ? "ok  " : "FAIL", what);
  failures += !ok;
}

#endif
