// actors/shell_service.cpp -- the shell service's door: the token check on
// every message and the dispatch of commands to their handlers.
//
// Messages are handled one at a time, so two shells racing to create the
// same name see one success and one "exists".
#include "actors/shell_service.hpp"

#include <algorithm>
#include <functional>
#include <map>

#include <caf/all.hpp>
#include <spdlog/spdlog.h>

#include "actors/context.hpp"
#include "actors/shell/handlers.hpp"
#include "messages/names.hpp"

namespace pcloud::actors {

namespace {

using shell::self_ptr;
using handler = std::function<shell::reply(self_ptr, shell::args)>;

const std::map<std::string, handler>& handlers() {
  static const std::map<std::string, handler> table{
    {"jeos_create", shell::jeos_create},
    {"jeos_import", shell::jeos_import},
    {"jeos_list", shell::jeos_list},
    {"jeos_delete", shell::jeos_delete},
    {"assembly_create", shell::assembly_create},
    {"assembly_clone", shell::assembly_clone},
    {"assembly_delete", shell::assembly_delete},
    {"assembly_list", shell::assembly_list},
    {"assembly_resource_add", shell::assembly_resource_add},
    {"assembly_resource_remove", shell::assembly_resource_remove},
    {"assembly_resource_list", shell::assembly_resource_list},
    {"assembly_port_set", shell::assembly_port_set},
    {"assembly_probe_set", shell::assembly_probe_set},
    {"assembly_port_remove", shell::assembly_port_remove},
    {"assembly_network_set", shell::assembly_network_set},
    {"assembly_set", shell::assembly_set},
    {"template_list", shell::template_list},
    {"escalation_resource_set", shell::escalation_resource_set},
    {"escalation_assembly_set", shell::escalation_assembly_set},
    {"deployable_create", shell::deployable_create},
    {"deployable_delete", shell::deployable_delete},
    {"deployable_list", shell::deployable_list},
    {"deployable_assembly_add", shell::deployable_assembly_add},
    {"deployable_assembly_remove", shell::deployable_assembly_remove},
    {"deployable_assembly_list", shell::deployable_assembly_list},
    {"deployable_start", shell::deployable_start},
    {"deployable_stop", shell::deployable_stop},
    {"deployable_status", shell::deployable_status},
  };
  return table;
}

shell::reply dispatch(self_ptr self, const msg::shell_request& req) {
  auto* cmd = msg::find_command(req.command);
  auto h = handlers().find(req.command);
  if (cmd == nullptr || cmd->local || h == handlers().end()) {
    return shell::failed(msg::unknown_command(req.command));
  }
  if (req.args.size() < msg::required_arguments(*cmd)
      || req.args.size() > cmd->arguments.size()) {
    return shell::failed(
      {msg::errc::invalid_argument, "usage: " + msg::usage_of(*cmd)});
  }
  // Names become file names: one check for every command, before any
  // handler sees them.
  if (auto bad = msg::check_arguments(*cmd, req.args)) {
    return shell::failed(bad);
  }
  return h->second(self, req.args);
}

const msg::error not_authorized{msg::errc::permission_denied,
                                "not authorized: wrong or missing token"};

/// Starts every deployable the store marks running (its VMs are adopted).
void restart_running(self_ptr self) {
  auto& defs = self->state.defs;
  for (auto& [name, d] : defs.deployables) {
    if (!d.running) {
      continue;
    }
    msg::error err;
    auto spec = spec_of(defs, d, err);
    if (err) {
      spdlog::error("shell: cannot restart {}: {}", name, err.message);
      continue;
    }
    spdlog::info("shell: {} was running: starting it (running VMs are "
                 "adopted)",
                 name);
    shell::launch(self, spec);
  }
}

/// A deployable's actor died (a bug): if the deployable should run, a new
/// actor takes over and adopts its VMs, within the restart budget.
void supervise(self_ptr self, const std::string& name,
               const caf::error& reason) {
  auto& st = self->state;
  auto d = st.defs.deployables.find(name);
  if (d == st.defs.deployables.end() || !d->second.running) {
    return;
  }
  auto now = self->clock().now();
  auto& times = st.tree_restarts[name];
  times.erase(std::remove_if(
                times.begin(), times.end(),
                [&](auto t) { return now - t > shell::tree_restart_window; }),
              times.end());
  tree_context ctx{name, st.services.bus, {}, {}, {}, {}};
  if (times.size() >= shell::max_tree_restarts) {
    auto why = "its actor died " + std::to_string(times.size() + 1)
               + " times within a minute: not watched until deployable_stop "
                 "and deployable_start";
    spdlog::error("shell: {}: {}", name, why);
    self->send(st.services.bus, caf::publish_atom::value,
               make_event(ctx, {}, {}, msg::state::failed, why));
    return;
  }
  msg::error err;
  auto spec = spec_of(st.defs, d->second, err);
  if (err) {
    spdlog::error("shell: cannot restart {}: {}", name, err.message);
    return;
  }
  times.push_back(now);
  spdlog::warn("shell: restarting {}'s actor; it adopts the running VMs", name);
  self->send(st.services.bus, caf::publish_atom::value,
             make_event(ctx, {}, {}, msg::state::recovering,
                        "its actor died: " + describe(self->system(), reason),
                        "restarting its supervision (VMs are adopted)"));
  shell::launch(self, spec);
}

} // namespace

bool tokens_equal(const std::string& x, const std::string& y) {
  unsigned char diff = x.size() == y.size() ? 0 : 1;
  const auto& longer = x.size() >= y.size() ? x : y;
  for (size_t i = 0; i < longer.size(); ++i) {
    auto cx = i < x.size() ? x[i] : 0;
    auto cy = i < y.size() ? y[i] : 0;
    diff |= static_cast<unsigned char>(cx ^ cy);
  }
  return diff == 0 && !x.empty();
}

msg::shell_service_actor::behavior_type
shell_service(self_ptr self, std::string token, shell_services services,
              std::vector<msg::resource_template> templates,
              msg::definitions loaded, uint64_t seed) {
  auto& st = self->state;
  st.random.seed(seed);
  st.token = std::move(token);
  st.services = std::move(services);
  st.defs.network = st.services.network;
  st.defs.templates = std::move(templates);
  for (auto& x : loaded.assemblies) {
    st.defs.assemblies[x.name] = x;
  }
  for (auto& x : loaded.deployables) {
    st.defs.deployables[x.name] = x;
  }
  restart_running(self);
  // Deployables are linked: they end with the service (their VMs keep
  // running). One that ends by itself does not take the service down.
  self->set_exit_handler([=](const caf::exit_msg& em) {
    auto& running = self->state.running;
    for (auto i = running.begin(); i != running.end(); ++i) {
      if (i->second.address() == em.source) {
        auto name = i->first;
        running.erase(i);
        if (em.reason) {
          spdlog::error("shell: deployable actor {} ended: {}", name,
                        describe(self->system(), em.reason));
          supervise(self, name, em.reason);
        }
        return;
      }
    }
    self->quit(em.reason);
  });
  self->set_down_handler(
    [=](const caf::down_msg& dm) { shell::console_ended(self, dm.source); });
  auto authorized = [=](const std::string& token, const char* what) {
    if (tokens_equal(token, self->state.token)) {
      return true;
    }
    spdlog::warn("shell: {} refused: wrong token", what);
    return false;
  };
  return {
    [=](const msg::shell_request& req) -> shell::reply {
      if (!tokens_equal(req.token, self->state.token)) {
        spdlog::warn("shell: request '{}' refused: wrong token",
                     req.command.substr(0, 40));
        return shell::failed(not_authorized);
      }
      spdlog::debug("shell: {} {}", req.command, join(req.args, " "));
      return dispatch(self, req);
    },
    [=](caf::subscribe_atom, const std::string& token,
        msg::event_listener_actor listener)
      -> caf::result<std::vector<msg::event>> {
      if (!authorized(token, "event subscription")) {
        return msg::make_error(not_authorized);
      }
      return shell::subscribe_events(self, std::move(listener));
    },
    [=](msg::console_atom, const std::string& token,
        const std::string& assembly,
        msg::console_listener_actor listener) -> caf::result<uint64_t> {
      if (!authorized(token, "console")) {
        return msg::make_error(not_authorized);
      }
      if (auto bad = msg::check_name("assembly", assembly)) {
        return msg::make_error(bad);
      }
      return shell::open_console(self, assembly, std::move(listener));
    },
    [=](msg::console_atom, const std::string& token, uint64_t id,
        const std::string& bytes) {
      if (authorized(token, "console input")) {
        shell::console_input(self, id, bytes);
      }
    },
    [=](caf::close_atom, const std::string& token, uint64_t id) {
      if (authorized(token, "console close")) {
        shell::close_console(self, id);
      }
    },
  };
}

} // namespace pcloud::actors
