// The client of the downtime benchmark: it asks GET / every 5 ms on a fresh
// connection, from the host's namespace or from one of its own, and tells
// how long it got no answer around a failure.
#pragma once

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "runtime/posix/unique_fd.hpp"
#include "tests/support/http.hpp"

namespace pcloud::bench {

using bench_clock = std::chrono::steady_clock;
using ms = std::chrono::duration<double, std::milli>;

constexpr auto poll_interval = std::chrono::milliseconds{5};

/// Where the client asks.
struct http_target {
  std::string address = "127.0.0.1";
  uint16_t port = 0;
  /// A network namespace under /run/netns; empty: the host's.
  std::string netns;
};

/// Asks the service every 5 ms and remembers every answer.
class client {
public:
  /// `request_timeout` bounds each request: while the service is down a
  /// request to an address nobody answers for (a guest that is gone) hangs
  /// until then, so it is also the client's resolution during an outage.
  explicit client(http_target target, std::chrono::milliseconds request_timeout
                                      = std::chrono::milliseconds{500})
      : target_(std::move(target)), request_timeout_(request_timeout),
        thread_([this] { run(); }) {
    // nop
  }

  ~client() {
    done_ = true;
    thread_.join();
  }

  /// Waits until the last `n` answers were all 200.
  bool steady(size_t n, std::chrono::seconds timeout) {
    auto deadline = bench_clock::now() + timeout;
    while (bench_clock::now() < deadline) {
      {
        std::lock_guard<std::mutex> guard{mtx_};
        if (samples_.size() >= n
            && std::all_of(samples_.end() - static_cast<long>(n),
                           samples_.end(), [](auto& s) { return s.ok; })) {
          return true;
        }
      }
      std::this_thread::sleep_for(poll_interval);
    }
    return false;
  }

  /// Downtime around a failure caused at `at`: from the last 200 before the
  /// first failed request after `at` to the first 200 after it. When no
  /// request failed, the gap between the 200s around `at` (the resolution).
  std::optional<double> downtime(bench_clock::time_point at,
                                 std::chrono::seconds timeout) {
    auto deadline = bench_clock::now() + timeout;
    while (bench_clock::now() < deadline) {
      {
        std::lock_guard<std::mutex> guard{mtx_};
        auto i = std::find_if(samples_.begin(), samples_.end(),
                              [&](auto& s) { return s.at >= at && !s.ok; });
        auto settled = !samples_.empty()
                       && samples_.back().at > at + std::chrono::seconds{2};
        if (i == samples_.end() && settled) {
          i = std::find_if(samples_.begin(), samples_.end(),
                           [&](auto& s) { return s.at >= at; });
        }
        if (i != samples_.end() && i != samples_.begin()) {
          auto back
            = std::find_if(i, samples_.end(), [](auto& s) { return s.ok; });
          auto before
            = std::find_if(std::make_reverse_iterator(i), samples_.rend(),
                           [](auto& s) { return s.ok; });
          if (back != samples_.end() && before != samples_.rend()) {
            return ms(back->at - before->at).count();
          }
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds{50});
    }
    return std::nullopt;
  }

  /// Milliseconds from `killed` to the first 200 of a request sent at or
  /// after `from` (when the old service was surely gone); empty when none
  /// came within `timeout`.
  std::optional<double> answered_again(bench_clock::time_point killed,
                                       bench_clock::time_point from,
                                       std::chrono::seconds timeout) {
    auto deadline = bench_clock::now() + timeout;
    while (bench_clock::now() < deadline) {
      {
        std::lock_guard<std::mutex> guard{mtx_};
        auto i = std::find_if(samples_.begin(), samples_.end(),
                              [&](auto& s) { return s.at >= from && s.ok; });
        if (i != samples_.end()) {
          return ms(i->at - killed).count();
        }
      }
      std::this_thread::sleep_for(poll_interval);
    }
    return std::nullopt;
  }

private:
  struct sample {
    bench_clock::time_point at;
    bool ok;
  };

  void run() {
    // A namespace is a thread's own: the client joins it, nobody else.
    if (!target_.netns.empty()) {
      posix::unique_fd ns{
        ::open(("/run/netns/" + target_.netns).c_str(), O_RDONLY | O_CLOEXEC)};
      if (!ns || ::setns(ns.get(), CLONE_NEWNET) != 0) {
        return; // no answers at all: steady() says so
      }
    }
    auto next = bench_clock::now();
    while (!done_) {
      auto at = bench_clock::now();
      auto ok
        = test::http_get(target_.address, target_.port, request_timeout_).status
          == 200;
      {
        std::lock_guard<std::mutex> guard{mtx_};
        samples_.push_back({at, ok});
      }
      next += poll_interval;
      auto now = bench_clock::now();
      if (next < now) {
        next = now;
      }
      std::this_thread::sleep_until(next);
    }
  }

  http_target target_;
  std::chrono::milliseconds request_timeout_;
  std::atomic<bool> done_{false};
  std::mutex mtx_;
  std::vector<sample> samples_;
  std::thread thread_;
};

} // namespace pcloud::bench
