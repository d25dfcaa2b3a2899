/* Diagnostics every layer may use, so they sit at the bottom: the global
 * counters (lite_stat, relaxed atomics touched on slow paths only), digit
 * formatting, and the one-line report of a fatal misuse. Everything is
 * formatted by hand: nothing may call printf inside malloc. */
#include "lite_internal.h"

lite_counters lite_stat;

/* Writes the decimal (base 10) or hex (base 16) digits of v at out. */
char* lite_fmt_u64(char* out, uint64_t v, unsigned base) {
  char tmp[24];
  int n = 0;
  do {
    tmp[n++] = "0123456789abcdef"[v % base];
    v /= base;
  } while (v);
  while (n) *out++ = tmp[--n];
  return out;
}

static char* lite_fmt_str(char* out, const char* s) {
  while (*s) *out++ = *s++;
  return out;
}

void lite_fatal(const char* what, const void* p, const char* reason) {
  char line[256], *o = line;
  o = lite_fmt_str(o, "lite_malloc: ");
  o = lite_fmt_str(o, what);
  o = lite_fmt_str(o, " of 0x");
  o = lite_fmt_u64(o, (uintptr_t)p, 16);
  o = lite_fmt_str(o, " (");
  o = lite_fmt_str(o, reason);
  o = lite_fmt_str(o, ")\n");
  lite_os_write_stderr(line, (size_t)(o - line));
  lite_os_abort();
}
