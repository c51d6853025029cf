#include "guest/agent/managed_resource.hpp"

#include <signal.h>

#include "guest/agent/exec_resource.hpp"
#include "guest/agent/operation_resource.hpp"
#include "guest/agent/probed_resource.hpp"

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

namespace {

std::unique_ptr<managed_resource>
make_class_resource(event_loop& loop, wire::resource_definition def,
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

} // namespace

std::unique_ptr<managed_resource>
make_resource(event_loop& loop, wire::resource_definition def,
              managed_resource::reporter report,
              managed_resource::probe_reporter probe_report, std::string& error,
              const std::string& ocf_root) {
  if (def.probe.kind.empty()) {
    return make_class_resource(loop, std::move(def), std::move(report), error,
                               ocf_root);
  }
  if (auto why = wire::check_probe(def.probe); !why.empty()) {
    error = "probe: " + why;
    return nullptr;
  }
  auto inner_def = def;
  auto r = std::make_unique<probed_resource>(
    loop, std::move(def), std::move(report), std::move(probe_report),
    [&](managed_resource::reporter inner_report) {
      return make_class_resource(loop, inner_def, std::move(inner_report),
                                 error, ocf_root);
    });
  return r->built() ? std::move(r) : nullptr;
}

} // namespace pcloud::guest
