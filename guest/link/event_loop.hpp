// The agent's only thread of control: one epoll loop for every file
// descriptor (the host link, pidfds of resources and their operations) and a
// timer queue (monitors, operation timeouts, reconnects). Nothing in the agent
// blocks; everything is a callback from here.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <utility>
#include <vector>

#include "runtime/posix/unique_fd.hpp"

namespace pcloud::guest {

class event_loop {
public:
  using clock = std::chrono::steady_clock;
  using fd_callback = std::function<void(uint32_t events)>;
  using timer_callback = std::function<void()>;
  using timer_id = uint64_t;

  event_loop();
  event_loop(const event_loop&) = delete;
  event_loop& operator=(const event_loop&) = delete;
  ~event_loop() = default;

  /// Calls `cb` with the epoll events whenever `fd` is ready; watching a
  /// watched fd again replaces its events and callback.
  void watch(int fd, uint32_t events, fd_callback cb);
  void unwatch(int fd);

  /// Runs `cb` once after `delay`. Returns an id for cancel().
  timer_id after(clock::duration delay, timer_callback cb);
  void cancel(timer_id id);

  /// Runs `task` on the loop's thread soon; safe from any thread.
  void post(timer_callback task);

  /// Runs until stop(); stop() may be called from any thread.
  void run();
  void stop();

  clock::time_point now() const { return clock::now(); }

private:
  posix::unique_fd epoll_fd_;
  posix::unique_fd wake_fd_;
  std::atomic<bool> stopping_{false};
  timer_id next_timer_ = 1;
  std::map<std::pair<clock::time_point, timer_id>, timer_callback> timers_;
  std::map<timer_id, clock::time_point> timer_due_;
  std::map<int, fd_callback> fds_;
  std::mutex posted_mutex_;
  std::vector<timer_callback> posted_;
};

/// A timer that cancels itself when replaced or destroyed: one pending
/// callback per purpose (a resource's next monitor, an operation timeout).
class scoped_timer {
public:
  explicit scoped_timer(event_loop& loop) : loop_(&loop) {
    // nop
  }
  scoped_timer(const scoped_timer&) = delete;
  scoped_timer& operator=(const scoped_timer&) = delete;
  ~scoped_timer() { cancel(); }

  void set(event_loop::clock::duration delay, event_loop::timer_callback cb);
  void cancel();
  bool pending() const { return id_ != 0; }

private:
  event_loop* loop_;
  event_loop::timer_id id_ = 0;
};

} // namespace pcloud::guest
