// cxx_probe: checks that C++'s operators new and delete, in all their forms,
// reach the allocator a usage mode promises (see mode_probe.c).
//
//   cxx_probe lite    every new is lite_malloc's; the failure paths follow
//                     the standard (new_handler loop, bad_alloc, nothrow NULL)
//   cxx_probe glibc   nothing is lite_malloc's
#include <cstddef>
#include <cstdint>
#include <map>
#include <new>
#include <string>
#include <thread>
#include <vector>

#include "testing/modes/probe.h"

#if !__cpp_sized_deallocation
#error "cxx_probe calls the sized operator delete: build it with -fsized-deallocation (clang < 19)"
#endif

namespace {

int failures = 0;
bool expect_lite = false;

void check_block(const void* p, std::size_t alignment, const char* what) {
  std::string line = std::string(what) + (expect_lite ? " -> lite_malloc" : " -> glibc");
  bool ok = p != nullptr && (probe_owns(p) != 0) == expect_lite &&
            reinterpret_cast<std::uintptr_t>(p) % alignment == 0;
  failures += probe_check(ok, line.c_str());
}

struct alignas(256) Aligned {
  char bytes[300];
};

int handler_calls = 0;
void handler() {
  // The standard's loop calls the handler until allocation succeeds or the
  // handler gives up; give up on the second call.
  if (++handler_calls == 2) std::set_new_handler(nullptr);
}

}  // namespace

int main(int argc, char** argv) {
  std::string mode = argc > 1 ? argv[1] : "";
  if (mode != "lite" && mode != "glibc") {
    std::fprintf(stderr, "usage: cxx_probe lite|glibc\n");
    return 2;
  }
  expect_lite = mode == "lite";

  int* one = new int(7);
  check_block(one, alignof(int), "new int");
  delete one;  // sized delete: operator delete(void*, size_t)
  int* many = new int[100];
  check_block(many, alignof(int), "new int[100]");
  delete[] many;
  int* nothrow = new (std::nothrow) int[10];
  check_block(nothrow, alignof(int), "new (nothrow) int[10]");
  delete[] nothrow;
  Aligned* aligned = new Aligned;
  check_block(aligned, 256, "new alignas(256)");
  delete aligned;  // operator delete(void*, size_t, align_val_t)
  Aligned* aligned_many = new Aligned[3];
  check_block(aligned_many, 256, "new alignas(256)[3]");
  delete[] aligned_many;
  Aligned* aligned_nothrow = new (std::nothrow) Aligned;
  check_block(aligned_nothrow, 256, "new (nothrow) alignas(256)");
  delete aligned_nothrow;
  void* raw = ::operator new(1000);
  check_block(raw, 16, "operator new(1000)");
  ::operator delete(raw, 1000);
  raw = ::operator new(1000, std::align_val_t(4096));
  check_block(raw, 4096, "operator new(1000, align_val_t(4096))");
  ::operator delete(raw, 1000, std::align_val_t(4096));

  // The STL across threads: each builds strings, the main thread frees them.
  std::vector<std::vector<std::string>> made(4);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; t++)
    threads.emplace_back([&made, t] {
      std::map<int, std::string> m;
      for (int i = 0; i < 2000; i++) m[i] = std::string(20 + i % 200, char('a' + t));
      for (auto& kv : m) made[t].push_back(kv.second);
    });
  for (auto& thread : threads) thread.join();
  bool same = true;
  for (int t = 0; t < 4; t++)
    for (int i = 0; i < 2000; i++)
      same = same && made[t][i] == std::string(20 + i % 200, char('a' + t));
  failures += probe_check(same, "std::map and std::string across 4 threads");
  check_block(made[3][1999].data(), 1, "std::string made in another thread");
  made.clear();

  if (expect_lite) {
    // Failure: more than PTRDIFF_MAX bytes can never be had.
    const std::size_t huge = static_cast<std::size_t>(PTRDIFF_MAX) + 1;
    bool threw = false;
    std::set_new_handler(handler);
    try {
      void* volatile p = ::operator new(huge);
      (void)p;
    } catch (const std::bad_alloc&) {
      threw = true;
    }
    failures += probe_check(threw && handler_calls == 2,
                            "operator new(huge): new_handler called twice, then bad_alloc");
    void* volatile p = ::operator new(huge, std::nothrow);
    failures += probe_check(p == nullptr, "operator new(huge, nothrow) is NULL");
    p = ::operator new(huge, std::align_val_t(64), std::nothrow);
    failures += probe_check(p == nullptr, "operator new(huge, align_val_t(64), nothrow) is NULL");
  }
  std::printf("%s\n", failures ? "FAILED" : "PASSED");
  return failures ? 1 : 0;
}
