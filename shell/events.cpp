#include "shell/events.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <caf/all.hpp>

#include "shell/render.hpp"

namespace pcloud::shell {

bool event_queue::open() {
  return posix::make_pipe(wake_, O_CLOEXEC | O_NONBLOCK);
}

void event_queue::wake(char c) {
  (void)!::write(wake_.write.get(), &c, 1);
}

void event_queue::push(msg::event ev) {
  {
    std::lock_guard<std::mutex> guard{mtx_};
    items_.push_back(std::move(ev));
  }
  wake('e');
}

void event_queue::gone() {
  {
    std::lock_guard<std::mutex> guard{mtx_};
    daemon_gone_ = true;
  }
  wake('x');
}

std::vector<msg::event> event_queue::take() {
  char buf[256];
  while (::read(wake_.read.get(), buf, sizeof(buf)) > 0) {
    // drained
  }
  std::lock_guard<std::mutex> guard{mtx_};
  std::vector<msg::event> result;
  for (auto& ev : items_) {
    if (ev.sequence > shown_) {
      shown_ = ev.sequence;
      result.push_back(ev);
    }
  }
  items_.clear();
  return result;
}

bool event_queue::daemon_gone() {
  std::lock_guard<std::mutex> guard{mtx_};
  return daemon_gone_;
}

msg::event_listener_actor spawn_listener(caf::actor_system& sys,
                                         std::shared_ptr<event_queue> q,
                                         const msg::shell_service_actor& svc) {
  // Values as arguments, not captures: CAF 0.17 dereferences a null argument
  // tuple for a lambda spawned without arguments.
  return sys.spawn(
    [](msg::event_listener_actor::pointer self, std::shared_ptr<event_queue> q,
       msg::shell_service_actor svc)
      -> msg::event_listener_actor::behavior_type {
      self->monitor(svc);
      self->set_down_handler([q](const caf::down_msg&) { q->gone(); });
      return {[q](const msg::event& ev) { q->push(ev); }};
    },
    q, svc);
}

std::string event_line(const msg::event& ev, bool json, bool replayed) {
  return json ? render_event_json(ev, replayed) : render_event(ev);
}

} // namespace pcloud::shell
