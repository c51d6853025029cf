#include "runtime/service_prober.hpp"

#include <algorithm>
#include <map>
#include <memory>
#include <thread>

#include <caf/all.hpp>

#include "guest/link/endpoint_check.hpp"
#include "guest/link/event_loop.hpp"

namespace pcloud::runtime {

namespace {

using guest::endpoint_check;
using guest::endpoint_target;

/// The loop thread and the checks it runs; touched only on that thread
/// except through post().
class prober_loop {
public:
  explicit prober_loop(service_prober_options opts) : opts_(opts) {
    thread_ = std::thread{[this] { loop_.run(); }};
  }

  ~prober_loop() {
    loop_.post([this] { checks_.clear(); });
    loop_.stop();
    thread_.join();
  }

  prober_loop(const prober_loop&) = delete;
  prober_loop& operator=(const prober_loop&) = delete;

  void check(msg::reach_check x, msg::reach_listener_actor listener) {
    loop_.post([this, x = std::move(x), listener = std::move(listener)] {
      run(x, listener);
    });
  }

private:
  endpoint_target target_of(const msg::reach_check& x) const {
    endpoint_target t;
    t.address = x.address;
    t.port = x.port;
    t.http = x.probe.kind == "http";
    t.path = x.probe.path;
    t.status_min = x.probe.status_min;
    t.status_max = x.probe.status_max;
    t.body = x.probe.body;
    t.timeout
      = std::chrono::duration_cast<std::chrono::milliseconds>(x.probe.timeout);
    if (x.forwarded && !t.http) {
      t.hold = std::min(opts_.forward_hold, t.timeout / 2);
    }
    return t;
  }

  void run(const msg::reach_check& x,
           const msg::reach_listener_actor& listener) {
    if (checks_.size() >= opts_.max_checks) {
      caf::anon_send(
        listener,
        msg::reach_result{x.id, false,
                          "prober busy: " + std::to_string(checks_.size())
                            + " checks in flight"});
      return;
    }
    auto key = next_++;
    auto& check = checks_[key];
    check = std::make_unique<endpoint_check>(loop_);
    check->run(target_of(x), [this, key, id = x.id,
                              listener](bool ok, const std::string& detail) {
      caf::anon_send(listener, msg::reach_result{id, ok, detail});
      // Not from inside the check's own callback.
      loop_.after(std::chrono::milliseconds{0},
                  [this, key] { checks_.erase(key); });
    });
  }

  service_prober_options opts_;
  guest::event_loop loop_;
  std::map<uint64_t, std::unique_ptr<endpoint_check>> checks_;
  uint64_t next_ = 0;
  std::thread thread_;
};

struct prober_state {
  static inline const char* name = "pcloud.service_prober";
  std::shared_ptr<prober_loop> loop;
};

msg::service_prober_actor::behavior_type
prober(msg::service_prober_actor::stateful_pointer<prober_state> self,
       service_prober_options opts) {
  self->state.loop = std::make_shared<prober_loop>(opts);
  return {
    [=](msg::reach_check& x, msg::reach_listener_actor& listener) {
      self->state.loop->check(std::move(x), std::move(listener));
    },
  };
}

} // namespace

msg::service_prober_actor spawn_service_prober(caf::actor_system& sys,
                                               service_prober_options opts) {
  return sys.spawn(prober, opts);
}

} // namespace pcloud::runtime
