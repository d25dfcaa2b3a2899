/* Test hooks (LITE_MALLOC_TEST_HOOKS=1 only): a function per named point
 * inside the allocator, so that a test can run another thread's operation
 * exactly inside a race window and check the outcome. */
#include "lite_internal.h"

#if LITE_MALLOC_TEST_HOOKS
static void (*_Atomic lite_hooks[2])(void);

int lite_malloc_test_hook(lite_malloc_hook_point point, void (*fn)(void)) {
  if ((unsigned)point > LITE_HOOK_REMOTE_PUSH) return -1;
  lite_store_release(&lite_hooks[point], fn);
  return 0;
}

void lite_test_point(lite_malloc_hook_point point) {
  void (*fn)(void) = lite_load_acquire(&lite_hooks[point]);
  if (fn != NULL) fn();
}
#else
int lite_malloc_test_hook(lite_malloc_hook_point point, void (*fn)(void)) {
  (void)point;
  (void)fn;
  return -1;
}
#endif
