// The race between an owner moving a page to its full list and another
// thread freeing into that page, replayed deterministically with test hooks
// in both windows: a block freed there is never stranded (lifecycle issue,
// case 1).
#include <semaphore.h>

#include <atomic>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "lite_malloc/lite_malloc.h"

namespace {

// 4096-byte blocks: 16 to a 64 KiB page, one class nothing else here uses.
constexpr size_t kSize = 4096;
constexpr size_t kPerPage = 16;

size_t ClassPages() {
  lite_malloc_config c;
  lite_malloc_get_config(&c);
  std::vector<lite_malloc_class_stats> v(c.size_classes);
  lite_malloc_get_class_stats(v.data(), v.size());
  for (const auto& s : v)
    if (s.block_size == kSize) return s.pages;
  return 0;
}

size_t BytesInUse() {
  lite_malloc_stats s;
  lite_malloc_get_stats(&s);
  return s.bytes_in_use;
}

// A helper thread that frees blocks on request.
struct Freer {
  sem_t go, done;
  std::atomic<void*> block{nullptr};
  std::atomic<bool> stop{false};
  std::thread th;
  Freer() {
    sem_init(&go, 0, 0);
    sem_init(&done, 0, 0);
    th = std::thread([this] {
      for (;;) {
        sem_wait(&go);
        if (stop) return;
        lite_free(block.exchange(nullptr));
        sem_post(&done);
      }
    });
  }
  // Frees p on the helper thread and waits until that is done.
  void Free(void* p) {
    block = p;
    sem_post(&go);
    sem_wait(&done);
  }
  ~Freer() {
    stop = true;
    sem_post(&go);
    th.join();
  }
};

Freer* g_freer;
void* g_victim;
std::thread::id g_owner;

// Owner window: the owner found its page out of blocks and is about to arm
// it; the helper frees one of the page's blocks right there.
void FreeInArmWindow() {
  if (std::this_thread::get_id() != g_owner || g_victim == nullptr) return;
  void* p = g_victim;
  g_victim = nullptr;
  g_freer->Free(p);
}

TEST(NotifyRace, FreeJustBeforeTheOwnerArmsIsReused) {
  Freer freer;
  g_freer = &freer;
  g_owner = std::this_thread::get_id();
  std::vector<void*> blocks;
  for (size_t i = 0; i < kPerPage; i++) blocks.push_back(lite_malloc(kSize));
  const size_t pages = ClassPages();
  g_victim = blocks[3];
  ASSERT_EQ(lite_malloc_test_hook(LITE_HOOK_ARM, FreeInArmWindow), 0);
  void* again = lite_malloc(kSize);  // the page is out of blocks: the window opens
  lite_malloc_test_hook(LITE_HOOK_ARM, nullptr);
  EXPECT_EQ(g_victim, nullptr) << "the hook did not run";
  EXPECT_EQ(again, blocks[3]) << "the block freed in the window was not reused";
  EXPECT_EQ(ClassPages(), pages) << "a new page was taken while the old one had room";
  blocks[3] = again;
  for (void* p : blocks) freer.Free(p);
  EXPECT_EQ(BytesInUse(), 0u);
  lite_malloc_trim(0);
  EXPECT_EQ(ClassPages(), 0u);
}

// Remote window: the helper has read the page's remote-free word and is
// about to push; the owner arms the page right then (the helper waits on a
// semaphore inside the hook), so the helper's CAS fails and it must deliver
// the block to the owner instead.
sem_t g_paused, g_resume;
std::atomic<bool> g_pause_once{false};
void PauseBeforePush() {
  if (!g_pause_once.exchange(false)) return;
  sem_post(&g_paused);
  sem_wait(&g_resume);
}

TEST(NotifyRace, FreeRacingWithTheArmingIsDelivered) {
  sem_init(&g_paused, 0, 0);
  sem_init(&g_resume, 0, 0);
  std::vector<void*> blocks;
  for (size_t i = 0; i < kPerPage; i++) blocks.push_back(lite_malloc(kSize));
  ASSERT_EQ(ClassPages(), 1u);
  ASSERT_EQ(lite_malloc_test_hook(LITE_HOOK_REMOTE_PUSH, PauseBeforePush), 0);
  g_pause_once = true;
  std::thread helper([&] { lite_free(blocks[5]); });
  sem_wait(&g_paused);  // the helper read the word: empty, not armed
  void* other = lite_malloc(kSize);  // arms the full page, takes a second one
  EXPECT_EQ(ClassPages(), 2u);
  sem_post(&g_resume);
  helper.join();
  lite_malloc_test_hook(LITE_HOOK_REMOTE_PUSH, nullptr);
  // The block went to the owner's handle: the owner's next look at the class
  // puts the first page back in use, and a trim takes both once all is free.
  blocks[5] = nullptr;
  EXPECT_EQ(BytesInUse(), (kPerPage - 1 + 1) * kSize) << "statistics count the delivered block as live";
  std::thread finisher([&] {
    for (void* p : blocks) lite_free(p);
  });
  finisher.join();
  lite_free(other);
  EXPECT_EQ(BytesInUse(), 0u);
  lite_malloc_trim(0);
  EXPECT_EQ(ClassPages(), 0u) << "the first page was stranded on the full list";
}

}  // namespace
