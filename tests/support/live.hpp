// Helpers for integration tests on CAF's threaded scheduler and real
// libvirt: sinks that actors write into and tests wait on, with timeouts.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <caf/all.hpp>

#include "messages/interfaces.hpp"

namespace pcloud::test {

/// Things received by an actor, for a test thread to wait on.
template <class T>
class sink {
public:
  void push(T x) {
    std::lock_guard<std::mutex> guard{mtx_};
    items_.push_back(std::move(x));
    cv_.notify_all();
  }

  /// Waits until `pred(items)` holds; false on timeout.
  bool wait_for(std::function<bool(const std::vector<T>&)> pred,
                std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> guard{mtx_};
    return cv_.wait_for(guard, timeout, [&] { return pred(items_); });
  }

  std::vector<T> items() {
    std::lock_guard<std::mutex> guard{mtx_};
    return items_;
  }

private:
  std::mutex mtx_;
  std::condition_variable cv_;
  std::vector<T> items_;
};

/// Waits until one of `events`, after the first `from`, reads (as its log
/// line) with `text` in it; false on timeout.
inline bool wait_for_event(sink<msg::event>& events, const std::string& text,
                           size_t from, std::chrono::milliseconds timeout) {
  return events.wait_for(
    [&](const std::vector<msg::event>& evs) {
      for (size_t i = from; i < evs.size(); ++i) {
        if (msg::to_string(evs[i]).find(text) != std::string::npos) {
          return true;
        }
      }
      return false;
    },
    timeout);
}

/// Ends each of `actors` (user_shutdown); the caller then awaits them.
inline void stop_all(std::initializer_list<caf::actor> actors) {
  for (auto& h : actors) {
    caf::anon_send_exit(h, caf::exit_reason::user_shutdown);
  }
}

/// A domain listener that records every domain event it receives.
inline msg::domain_listener_actor
spawn_domain_recorder(caf::actor_system& sys,
                      std::shared_ptr<sink<msg::domain_event>> out) {
  return sys.spawn([out](msg::domain_listener_actor::pointer)
                     -> msg::domain_listener_actor::behavior_type {
    return {
      [out](const msg::domain_event& ev) { out->push(ev); },
    };
  });
}

/// Threaded actor system with pcloud's types, as the daemon runs it.
class live_config : public caf::actor_system_config {
public:
  live_config() {
    set("scheduler.max-threads", 2);
    set("logger.verbosity", caf::atom("quiet"));
    msg::add_message_types(*this);
  }
};

} // namespace pcloud::test
