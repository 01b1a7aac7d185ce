// How the op's batch shards find cores: one shard per intra-op thread, the extra shards on
// the op's own helper threads (class Crew).
//
// Why a crew of its own: TensorFlow's pool parks its threads within microseconds of going
// idle, and on a 2-core virtual machine waking one took 0.3 to 0.6 ms per op, a few percent
// of a training step, while the shard on the calling thread waited for it. A crew thread
// instead waits for its next shard spinning (with a yield, so it gives way to any other
// runnable thread) for kSpin after its last one, which spans the gaps between a step's
// forward and backward ops and between steps, then sleeps, as PyTorch's OpenMP team does.
// Measured when it came in (commit ea52089, A/B of whole Keras models in one process, the
// shapes of benchmarks/results/recurrent_speed.md): training +3% and +12% at batch 64 / 50
// steps and batch 32 / 200 steps, inference +18% and +26%.
#ifndef RNNKIT_OPS_CREW_H_
#define RNNKIT_OPS_CREW_H_

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/platform/blocking_counter.h"

namespace rnnkit {

class Crew {
 public:
  // The process's crew of `threads` - 1 helpers, or null: another size was asked for
  // first, this is a forked child (whose copy of the crew has no threads), or the process
  // is exiting.
  static Crew* Get(int threads) {
    static Owner owner{new Crew(threads)};  // destroyed at exit: ends and joins the threads
    if (Ended().load(std::memory_order_acquire)) return nullptr;
    Crew* crew = owner.crew;
    return crew->size_ == threads && crew->pid_ == getpid() ? crew : nullptr;
  }

  // Runs job(shard) for shard in [0, shards): 0 on the calling thread, shard s on helper s,
  // unless the calling thread, done with its own, finds that helper not started yet: then
  // it claims and runs that shard itself, so that a helper without a core (descheduled,
  // or still waking) delays the op by nothing more than running the shard here. False
  // (nothing run) when another op holds the crew or shards exceed it.
  bool Run(int shards, const std::function<void(int)>& job) {
    if (shards > size_) return false;
    std::unique_lock<std::mutex> busy(busy_, std::try_to_lock);
    if (!busy.owns_lock()) return false;
    job_ = &job;  // read by a helper only after it claims a shard of this run
    pending_.store(shards - 1, std::memory_order_relaxed);
    const uint64_t run = ++generation_;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      for (int id = 1; id < shards; ++id) tickets_[id].store(run, std::memory_order_release);
    }
    wake_.notify_all();
    job(0);
    for (int id = shards - 1; id > 0; --id) {
      if (!Claim(id, run)) continue;  // its helper has it
      job(id);
      pending_.fetch_sub(1, std::memory_order_release);
    }
    for (int n = 1; pending_.load(std::memory_order_acquire) > 0; ++n) {
      Pause();
      if (n % 256 == 0) std::this_thread::yield();
    }
    return true;
  }

 private:
  static constexpr auto kSpin = std::chrono::milliseconds(5);

  // Frees the crew at exit in the process that made it. A forked child leaks its copy: its
  // mutexes and condition variable hold the parent's waiters, and destroying them would
  // wait for threads the child does not have.
  struct Owner {
    Crew* crew;
    ~Owner() {
      Ended().store(true, std::memory_order_release);
      if (crew->pid_ != getpid()) return;
      crew->Stop();
      delete crew;
    }
  };

  // Ends the helpers once a run in progress is done, and joins them.
  void Stop() {
    std::lock_guard<std::mutex> busy(busy_);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_.store(true, std::memory_order_release);
    }
    wake_.notify_all();
    for (std::thread& thread : threads_) thread.join();
  }

  explicit Crew(int threads)
      : size_(threads), tickets_(new std::atomic<uint64_t>[threads]), claims_(new std::atomic<uint64_t>[threads]) {
    for (int id = 0; id < threads; ++id) tickets_[id].store(0), claims_[id].store(0);
    for (int id = 1; id < threads; ++id) threads_.emplace_back([this, id] { Loop(id); });
  }

  // Set once the crew is destroyed (at exit): an op still running then uses TensorFlow's pool.
  static std::atomic<bool>& Ended() {
    static std::atomic<bool> ended{false};  // trivially destructible: valid after the crew is gone
    return ended;
  }

  static void Pause() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
  }

  // Whether this call takes shard `id` of `run`: each shard of a run is claimed once, by its
  // helper or by the calling thread. Claims only grow, so a helper that wakes after its run
  // is over (every shard claimed) never claims, nor reads that run's job.
  bool Claim(int id, uint64_t run) {
    uint64_t claimed = claims_[id].load(std::memory_order_acquire);
    while (claimed < run) {
      if (claims_[id].compare_exchange_weak(claimed, run, std::memory_order_acq_rel)) return true;
    }
    return false;
  }

  bool Waiting(const std::atomic<uint64_t>& ticket, uint64_t seen) const {
    return ticket.load(std::memory_order_acquire) == seen && !stop_.load(std::memory_order_acquire);
  }

  // Helper `id`: waits for a new ticket (spinning for kSpin, then asleep), runs its shard.
  void Loop(int id) {
    std::atomic<uint64_t>& ticket = tickets_[id];
    uint64_t seen = 0;
    for (;;) {
      const auto idle_since = std::chrono::steady_clock::now();
      for (int n = 1; Waiting(ticket, seen); ++n) {
        Pause();
        if (n % 256 != 0) continue;
        std::this_thread::yield();
        if (std::chrono::steady_clock::now() - idle_since < kSpin) continue;
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return !Waiting(ticket, seen); });
      }
      if (stop_.load(std::memory_order_acquire)) return;
      seen = ticket.load(std::memory_order_acquire);
      if (!Claim(id, seen)) continue;  // the calling thread ran it
      (*job_)(id);
      pending_.fetch_sub(1, std::memory_order_release);
    }
  }

  const int size_;  // helpers + the calling thread
  const pid_t pid_ = getpid();
  std::unique_ptr<std::atomic<uint64_t>[]> tickets_;  // per helper: the last Run it is given
  std::unique_ptr<std::atomic<uint64_t>[]> claims_;   // per shard: the last Run that claimed it
  std::vector<std::thread> threads_;
  std::mutex busy_, mutex_;
  std::condition_variable wake_;
  std::atomic<int> pending_{0};
  std::atomic<bool> stop_{false};
  uint64_t generation_ = 0;
  const std::function<void(int)>* job_ = nullptr;
};

// How many row shards ForEachShard cuts a batch into: one per intra-op thread, at least 4 rows each.
inline int ShardCount(tensorflow::OpKernelContext* context, int batch) {
  auto* workers = context->device()->tensorflow_cpu_worker_threads()->workers;
  return std::max(1, std::min(workers->NumThreads(), batch / 4));
}

// Runs fn(shard, first_row, rows) over the ShardCount row shards of the batch; each shard
// runs its whole time loop alone, so shards never wait for each other. The crew runs them
// when it is free, else TensorFlow's pool (another op holds the crew, such as the second
// direction of a Bidirectional layer).
template <typename Fn>
void ForEachShard(tensorflow::OpKernelContext* context, int batch, Fn fn) {
  auto* workers = context->device()->tensorflow_cpu_worker_threads()->workers;
  const int shards = ShardCount(context, batch);
  const int per_shard = (batch + shards - 1) / shards;
  const std::function<void(int)> shard = [&](int s) {
    const int first = s * per_shard;
    const int rows = std::min(batch, first + per_shard) - first;
    if (rows > 0) fn(s, first, rows);
  };
  if (shards == 1) return shard(0);
  Crew* crew = Crew::Get(workers->NumThreads());
  if (crew != nullptr && crew->Run(shards, shard)) return;
  tensorflow::BlockingCounter done(shards - 1);
  for (int s = 1; s < shards; ++s) {
    workers->Schedule([&, s] {
      shard(s);
      done.DecrementCount();
    });
  }
  shard(0);
  done.Wait();
}

}  // namespace rnnkit

#endif  // RNNKIT_OPS_CREW_H_
