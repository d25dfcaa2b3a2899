// stl_threads: a C++ program that uses the standard library across threads:
// producers build strings, maps and shared_ptrs and hand them to consumers
// through a locked queue; futures return each worker's digest. The output is
// a function of the inputs only, so it must be the same under any allocator.
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace {

struct Batch {
  int producer;
  std::vector<std::string> words;
  std::shared_ptr<const std::map<int, std::string>> index;
};

class Channel {
 public:
  void Put(std::unique_ptr<Batch> batch) {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(std::move(batch));
    ready_.notify_one();
  }
  std::unique_ptr<Batch> Take() {  // nullptr once closed and drained
    std::unique_lock<std::mutex> lock(mu_);
    ready_.wait(lock, [this] { return !queue_.empty() || closed_; });
    if (queue_.empty()) return nullptr;
    auto batch = std::move(queue_.front());
    queue_.pop_front();
    return batch;
  }
  void Close() {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
    ready_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable ready_;
  std::deque<std::unique_ptr<Batch>> queue_;
  bool closed_ = false;
};

uint64_t Mix(uint64_t h, const std::string& s) {
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

void Produce(int id, Channel* channel) {
  uint64_t x = 88172645463325252ull + static_cast<uint64_t>(id);
  for (int b = 0; b < 400; b++) {
    auto batch = std::make_unique<Batch>();
    batch->producer = id;
    auto index = std::make_shared<std::map<int, std::string>>();
    for (int w = 0; w < 50; w++) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      std::string word(5 + x % 120, static_cast<char>('a' + x % 26));
      word += std::to_string(x % 1000);
      (*index)[static_cast<int>(x % 997)] = word.substr(0, 8);
      batch->words.push_back(std::move(word));
    }
    batch->index = std::move(index);
    channel->Put(std::move(batch));
  }
}

// Per-producer digests, so the result does not depend on who consumed what.
std::map<int, uint64_t> Consume(Channel* channel) {
  std::map<int, uint64_t> digests;
  std::unordered_map<std::string, int> counts;
  while (auto batch = channel->Take()) {
    uint64_t h = 0;
    for (const auto& word : batch->words) {
      h = Mix(h, word);
      counts[word.substr(0, 3)]++;
    }
    for (const auto& entry : *batch->index) h = Mix(h, entry.second) + entry.first;
    digests[batch->producer] += h;  // a sum: the order of batches does not matter
  }
  return digests;
}

}  // namespace

int main() {
  Channel channel;
  std::vector<std::future<std::map<int, uint64_t>>> consumers;
  for (int c = 0; c < 3; c++) consumers.push_back(std::async(std::launch::async, Consume, &channel));
  std::vector<std::thread> producers;
  for (int p = 0; p < 4; p++) producers.emplace_back(Produce, p, &channel);
  for (auto& producer : producers) producer.join();
  channel.Close();
  std::map<int, uint64_t> total;
  for (auto& consumer : consumers)
    for (const auto& entry : consumer.get()) total[entry.first] += entry.second;
  for (const auto& entry : total)
    std::printf("producer %d digest %016llx\n", entry.first,
                static_cast<unsigned long long>(entry.second));
  return 0;
}
