// A place for real VMs in tests: a fresh embed root and state directory under
// /tmp (QEMU runs as libvirt-qemu and must read the images, which the build
// tree may not allow), with the tiny JEOS copied in. Every test makes its own
// and destroys its domains in teardown; tests/runtime/sweep_vms.sh removes
// what a crashed run left behind.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>

#include "runtime/hypervisor.hpp"

namespace pcloud::test {

class vm_environment {
public:
  /// `system`: use qemu:///system (libvirtd must run) instead of an embed
  /// root of this process.
  explicit vm_environment(bool system = false);
  vm_environment(const vm_environment&) = delete;
  vm_environment& operator=(const vm_environment&) = delete;
  ~vm_environment();

  /// qemu:///embed?root=... of this environment.
  std::string uri() const;

  /// Boots every assembly from the tiny JEOS.
  runtime::image_resolver images() const;

  /// Hypervisor options for this environment.
  runtime::hypervisor_options options() const;

  /// The pid of the domain's qemu, if it runs.
  std::optional<pid_t> qemu_pid(const std::string& domain_name) const;

  /// The console log of `assembly`'s guest (all its boots), for failure
  /// messages.
  std::string console(const std::string& assembly) const;

  /// How often the guest of `assembly` reported "pcloud-tiny: ready" on its
  /// console (the log is appended to across restarts).
  size_t boots(const std::string& assembly) const;

  bool system;
  std::string dir;
  std::string root;
  std::string state_dir;
  std::string kernel;
  std::string initrd;
};

/// Where the build put the tiny JEOS.
std::string tiny_jeos_dir();

} // namespace pcloud::test
