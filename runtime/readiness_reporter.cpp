#include "runtime/readiness_reporter.hpp"

#include <caf/all.hpp>
#include <spdlog/spdlog.h>

namespace pcloud::runtime {

namespace {

using self_ptr
  = readiness_reporter_actor::stateful_pointer<readiness_reporter_state>;

/// "a, b and 3 more"
std::string some_of(const std::set<std::string>& xs) {
  std::string result;
  size_t shown = 0;
  for (auto& x : xs) {
    if (shown == 3) {
      return result + " and " + std::to_string(xs.size() - shown) + " more";
    }
    result += (shown++ == 0 ? "" : ", ") + x;
  }
  return result;
}

void say_status(self_ptr self) {
  auto& st = self->state;
  auto status = describe_assemblies(st.assemblies);
  if (!st.ready) {
    status = "adopting the VMs of " + std::to_string(st.adopting.size())
             + " assemblies (" + some_of(st.adopting) + "); " + status;
  }
  if (status != st.status) {
    st.status = status;
    st.opts.notify("STATUS=" + status);
  }
}

void become_ready(self_ptr self, const std::string& note) {
  auto& st = self->state;
  st.ready = true;
  st.status = describe_assemblies(st.assemblies) + note;
  spdlog::info("pcloudd: ready ({})", st.status);
  st.opts.notify("READY=1\nSTATUS=" + st.status);
}

} // namespace

std::string describe_assemblies(const std::map<std::string, msg::state>& xs) {
  std::map<msg::state, size_t> counts;
  size_t total = 0;
  for (auto& [name, state] : xs) {
    if (state != msg::state::stopped) {
      ++counts[state];
      ++total;
    }
  }
  if (total == 0) {
    return "no assemblies running";
  }
  auto result
    = std::to_string(total) + (total == 1 ? " assembly: " : " assemblies: ");
  bool first = true;
  for (auto state : {msg::state::active, msg::state::starting,
                     msg::state::recovering, msg::state::failed}) {
    if (counts[state] > 0) {
      result += (first ? "" : ", ") + std::to_string(counts[state]) + " "
                + msg::to_string(state);
      first = false;
    }
  }
  return result;
}

readiness_reporter_actor::behavior_type readiness_reporter(
  readiness_reporter_actor::stateful_pointer<readiness_reporter_state> self,
  readiness_options opts) {
  auto& st = self->state;
  st.opts = std::move(opts);
  st.adopting.insert(st.opts.adopting.begin(), st.opts.adopting.end());
  if (st.opts.watchdog.count() > 0) {
    self->send(self, msg::watchdog_atom::value);
  }
  return {
    [=](msg::start_atom) {
      auto& st = self->state;
      if (st.open) {
        return;
      }
      st.open = true;
      if (st.adopting.empty()) {
        become_ready(self, "");
        return;
      }
      say_status(self);
      self->delayed_send(self, st.opts.adopt_deadline, msg::ready_atom::value);
    },
    [=](const msg::event& ev) {
      auto& st = self->state;
      if (ev.assembly.empty() || !ev.resource.empty()) {
        return; // a deployable's or a resource's: the assemblies tell enough
      }
      auto key = ev.deployable + "/" + ev.assembly;
      if (ev.state == msg::state::stopped) {
        // Not counted, and an assembly deleted later leaves nothing here.
        st.assemblies.erase(key);
      } else {
        st.assemblies[key] = ev.state;
      }
      if (ev.state != msg::state::starting) {
        st.adopting.erase(key);
      }
      if (!st.open) {
        return; // said once pcloudd takes connections
      }
      if (!st.ready && st.adopting.empty()) {
        become_ready(self, "");
      } else {
        say_status(self);
      }
    },
    [=](msg::ready_atom) {
      auto& st = self->state;
      if (!st.ready) {
        spdlog::warn("pcloudd: still adopting {} after {}: ready anyway",
                     some_of(st.adopting),
                     msg::format_duration(st.opts.adopt_deadline));
        become_ready(self, "; still adopting " + some_of(st.adopting));
      }
    },
    [=](msg::watchdog_atom) {
      // A timer that fires and a mailbox that is read: the scheduler makes
      // progress. Twice per interval, as sd_watchdog_enabled(3) advises.
      auto& st = self->state;
      st.opts.notify("WATCHDOG=1");
      self->delayed_send(self, st.opts.watchdog / 2, msg::watchdog_atom::value);
    },
  };
}

} // namespace pcloud::runtime
