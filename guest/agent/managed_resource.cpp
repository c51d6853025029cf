#include "guest/agent/managed_resource.hpp"

#include <signal.h>

#include "guest/agent/exec_resource.hpp"
#include "guest/agent/operation_resource.hpp"

namespace pcloud::guest {

void managed_resource::kill_child(child_process& proc) {
  if (!proc.running()) {
    return;
  }
  loop_.unwatch(proc.pidfd());
  if (proc.exec_fd() >= 0) {
    loop_.unwatch(proc.exec_fd());
  }
  proc.signal_group(SIGKILL);
  proc.reap();
}

std::unique_ptr<managed_resource>
make_resource(event_loop& loop, wire::resource_definition def,
              managed_resource::reporter report, std::string& error,
              const std::string& ocf_root) {
  auto& cls = def.resource_class;
  if (cls == "exec") {
    launch_spec spec;
    if (!exec_resource::parse(def, spec, error)) {
      return nullptr;
    }
    return std::make_unique<exec_resource>(loop, std::move(def),
                                           std::move(report), std::move(spec));
  }
  if (def.type.empty()) {
    error = "no " + cls + " type given";
    return nullptr;
  }
  if (cls == "ocf") {
    if (!ocf_resource::parse(def, error)) {
      return nullptr;
    }
    return std::make_unique<ocf_resource>(loop, std::move(def),
                                          std::move(report), ocf_root);
  }
  if (cls == "lsb") {
    return std::make_unique<lsb_resource>(loop, std::move(def),
                                          std::move(report));
  }
  if (cls == "systemd") {
    return std::make_unique<systemd_resource>(loop, std::move(def),
                                              std::move(report));
  }
  error = "unknown resource class '" + cls + "'";
  return nullptr;
}

} // namespace pcloud::guest
