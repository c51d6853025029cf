// What every benchmark with real VMs starts with: errors-only logs, a VM
// environment (an embed root of its own), an actor system set up as
// pcloudd's, and the hypervisor on it.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <tuple>

#include <caf/all.hpp>

#include "messages/type_ids.hpp"
#include "runtime/hypervisor.hpp"
#include "runtime/logging.hpp"
#include "runtime/scheduler_settings.hpp"
#include "tests/support/vm.hpp"

namespace pcloud::bench {

class vm_bench {
public:
  /// `system`: on qemu:///system (root; libvirtd must run) rather than an
  /// embed root of its own.
  explicit vm_bench(bool system = false)
      : quiet_(runtime::configure_logging({"error", ""}).empty()),
        env(system), sys{configured(cfg)}, hv{runtime::spawn_hypervisor(
                                             sys, env.options())} {
    // nop
  }

private:
  static caf::actor_system_config& configured(caf::actor_system_config& x) {
    runtime::apply_scheduler_settings(x);
    msg::add_message_types(x);
    return x;
  }

  bool quiet_;

public:
  test::vm_environment env;
  caf::actor_system_config cfg;
  caf::actor_system sys;
  /// The hypervisor, or why libvirt could not be opened.
  runtime::result<msg::hypervisor_actor> hv;

  /// Whether the hypervisor runs; says why not on standard error.
  bool ready() const {
    if (!hv) {
      std::fprintf(stderr, "%s\n", hv.error().c_str());
    }
    return hv.ok();
  }

  /// The environment, the actor system and the hypervisor, to bind by name.
  auto parts() { return std::tie(env, sys, hv); }
};

/// The number of trials in argv[1] (`fallback` without one); 0, with the
/// usage on standard error, when it is not a positive number.
inline int trials_from(int argc, char** argv, int fallback) {
  int trials = argc > 1 ? std::atoi(argv[1]) : fallback;
  if (trials < 1) {
    std::fprintf(stderr, "usage: %s [TRIALS]\n", argv[0]);
    return 0;
  }
  return trials;
}

} // namespace pcloud::bench
