// The shell service's live sessions: the event stream (through the bus) and
// guest serial consoles (through the hypervisor and the console factory).
// pcloudsh holds a session number, never a handle of ours.
#include "actors/shell/handlers.hpp"

#include <caf/all.hpp>
#include <spdlog/spdlog.h>

namespace pcloud::actors::shell {

caf::result<std::vector<msg::event>>
subscribe_events(self_ptr self, msg::event_listener_actor listener) {
  auto bus = self->state.services.bus;
  self->send(bus, caf::subscribe_atom::value, listener);
  return self->delegate(bus, caf::get_atom::value);
}

caf::result<uint64_t> open_console(self_ptr self, const std::string& assembly,
                                   msg::console_listener_actor listener) {
  if (self->state.defs.assemblies.count(assembly) == 0) {
    return msg::make_error(msg::errc::not_found,
                           "no assembly named '" + assembly
                             + "' (assembly_list shows them)");
  }
  auto rp = self->make_response_promise<uint64_t>();
  auto& s = self->state.services;
  self
    ->request(s.hypervisor, status_timeout, msg::console_atom::value, assembly)
    .then(
      [=](const std::string& path) mutable {
        self
          ->request(self->state.services.consoles, status_timeout,
                    caf::open_atom::value, path, listener)
          .then(
            [=](msg::console_session_actor session) mutable {
              auto& st = self->state;
              auto id = st.next_console++;
              self->monitor(session);
              st.consoles[id] = session;
              spdlog::info("shell: console {} of {} opened", id, assembly);
              rp.deliver(id);
            },
            [=](const caf::error& err) mutable { rp.deliver(err); });
      },
      [=](const caf::error& err) mutable { rp.deliver(err); });
  return rp;
}

void console_input(self_ptr self, uint64_t id, const std::string& bytes) {
  auto& consoles = self->state.consoles;
  if (auto i = consoles.find(id); i != consoles.end()) {
    self->send(i->second, msg::console_atom::value, bytes);
  }
}

void close_console(self_ptr self, uint64_t id) {
  auto& consoles = self->state.consoles;
  if (auto i = consoles.find(id); i != consoles.end()) {
    self->send(i->second, caf::close_atom::value);
    consoles.erase(i);
  }
}

bool console_ended(self_ptr self, const caf::actor_addr& source) {
  auto& consoles = self->state.consoles;
  for (auto i = consoles.begin(); i != consoles.end(); ++i) {
    if (i->second.address() == source) {
      consoles.erase(i);
      return true;
    }
  }
  return false;
}

} // namespace pcloud::actors::shell
