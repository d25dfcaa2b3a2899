/* Runtime options: one table, read once from the environment at start-up.
 *
 * Each option is LITE_MALLOC_<NAME>=<decimal number>. The environment is read
 * from `environ` directly (no getenv: it may not be safe this early), at
 * process start-up (process.c: the constructor, or the first allocation if that
 * comes first). A LITE_MALLOC_* variable that names no option gets a warning, as does
 * a value that is not a number. */
#include "lite_internal.h"

extern char** environ;

#define LITE_OPTION_ROW(NAME, name, def, doc) {#NAME, def, doc},
static const struct {
  const char* name;
  long def;
  const char* doc;
} lite_option_table[LITE_OPTION_COUNT] = {LITE_RUNTIME_OPTIONS(LITE_OPTION_ROW)};

#define LITE_OPTION_DEFAULT(NAME, name, def, doc) def,
long lite_options[LITE_OPTION_COUNT] = {LITE_RUNTIME_OPTIONS(LITE_OPTION_DEFAULT)};

static bool lite_starts_with(const char* s, const char* prefix, const char** rest) {
  while (*prefix)
    if (*s++ != *prefix++) return false;
  *rest = s;
  return true;
}

static void lite_option_warn(const char* what, const char* var) {
  char line[256], *o = line, *end = line + sizeof line - 2;
  for (const char* s = "lite_malloc: "; *s; s++) *o++ = *s;
  for (const char* s = what; *s && o < end; s++) *o++ = *s;
  for (const char* s = var; *s && *s != '=' && o < end; s++) *o++ = *s;
  for (const char* s = " (ignored)"; *s && o < end; s++) *o++ = *s;
  *o++ = '\n';
  lite_os_write_stderr(line, (size_t)(o - line));
}

/* Parses one LITE_MALLOC_NAME=VALUE entry. */
static void lite_option_parse(const char* var) {
  const char* rest;
  if (!lite_starts_with(var, "LITE_MALLOC_", &rest)) return;
  for (size_t i = 0; i < LITE_OPTION_COUNT; i++) {
    const char* value;
    if (!lite_starts_with(rest, lite_option_table[i].name, &value) || *value != '=') continue;
    value++;
    long v = 0;
    const char* d = value;
    if (*d == '\0') return lite_option_warn("option without a value: ", var);
    for (; *d; d++) {
      if (*d < '0' || *d > '9' || v > 100000000000L) return lite_option_warn("option value is not a number: ", var);
      v = v * 10 + (*d - '0');
    }
    lite_options[i] = v;
    return;
  }
  lite_option_warn("unknown option ", var);
}

static void lite_options_print(void) {
  char buf[2048], *o = buf;
  for (const char* s = "lite_malloc: options in force:\n"; *s; s++) *o++ = *s;
  for (size_t i = 0; i < LITE_OPTION_COUNT; i++) {
    for (const char* s = "  LITE_MALLOC_"; *s; s++) *o++ = *s;
    for (const char* s = lite_option_table[i].name; *s; s++) *o++ = *s;
    *o++ = '=';
    o = lite_fmt_u64(o, (uint64_t)lite_options[i], 10);
    for (const char* s = "  ("; *s; s++) *o++ = *s;
    for (const char* s = lite_option_table[i].doc; *s && o < buf + sizeof buf - 8; s++) *o++ = *s;
    *o++ = ')';
    *o++ = '\n';
  }
  lite_os_write_stderr(buf, (size_t)(o - buf));
}

/* Called once, by lite_process_init (process.c). */
void lite_options_init(void) {
  if (environ != NULL)
    for (char** e = environ; *e != NULL; e++) lite_option_parse(*e);
  if (lite_options[LITE_OPT_VERBOSE]) lite_options_print();
}

