// actors/event_bus.cpp -- one ordered stream of every state change.
#include "actors/event_bus.hpp"

#include <algorithm>

#include <caf/all.hpp>
#include <spdlog/spdlog.h>

namespace pcloud::actors {

namespace {

void log_event(const msg::event& ev) {
  auto line = msg::to_string(ev);
  switch (ev.state) {
  case msg::state::failed:
    spdlog::error("{}", line);
    break;
  case msg::state::recovering:
    spdlog::warn("{}", line);
    break;
  default:
    spdlog::info("{}", line);
  }
}

} // namespace

msg::event_bus_actor::behavior_type
event_bus(msg::event_bus_actor::stateful_pointer<event_bus_state> self,
          size_t history_limit) {
  self->state.history_limit = history_limit;
  self->set_down_handler([=](const caf::down_msg& dm) {
    auto& subs = self->state.subscribers;
    subs.erase(std::remove_if(subs.begin(), subs.end(),
                              [&](const msg::event_listener_actor& x) {
                                return x.address() == dm.source;
                              }),
               subs.end());
  });
  return {
    [=](caf::publish_atom, msg::event ev) {
      auto& st = self->state;
      ev.sequence = st.next_sequence++;
      log_event(ev);
      for (auto& sub : st.subscribers) {
        self->send(sub, ev);
      }
      st.history.push_back(std::move(ev));
      while (st.history.size() > st.history_limit) {
        st.history.pop_front();
      }
    },
    [=](caf::subscribe_atom, msg::event_listener_actor listener) {
      self->monitor(listener);
      self->state.subscribers.push_back(std::move(listener));
    },
    [=](caf::unsubscribe_atom, const msg::event_listener_actor& listener) {
      auto& subs = self->state.subscribers;
      subs.erase(std::remove(subs.begin(), subs.end(), listener), subs.end());
      self->demonitor(listener.address());
    },
    [=](caf::get_atom) {
      auto& h = self->state.history;
      return std::vector<msg::event>(h.begin(), h.end());
    },
  };
}

} // namespace pcloud::actors
