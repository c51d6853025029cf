#include "tests/support/vm.hpp"

#include "runtime/pid_watcher.hpp"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace fs = std::filesystem;

namespace pcloud::test {

std::string tiny_jeos_dir() {
  return PCLOUD_TINY_JEOS_DIR;
}

vm_environment::vm_environment(bool system) : system(system) {
  // libvirt lets a process open one embed root in its lifetime (a second
  // fails: "already open with path ..."), so the root is per process and
  // the state directory per test.
  static std::atomic<int> counter{0};
  dir = "/tmp/pcloud-vm-test-" + std::to_string(getpid());
  root = dir + "/root";
  state_dir = dir + "/state-" + std::to_string(counter++);
  fs::create_directories(dir + "/images");
  fs::remove_all(state_dir);
  fs::create_directories(state_dir);
  auto readable = fs::perms::owner_all | fs::perms::group_read
                  | fs::perms::group_exec | fs::perms::others_read
                  | fs::perms::others_exec;
  fs::permissions(dir, readable);
  fs::permissions(dir + "/images", readable);
  kernel = dir + "/images/vmlinuz";
  initrd = dir + "/images/initrd.img";
  fs::copy_file(tiny_jeos_dir() + "/vmlinuz", kernel,
                fs::copy_options::skip_existing);
  fs::copy_file(tiny_jeos_dir() + "/initrd.img", initrd,
                fs::copy_options::skip_existing);
}

vm_environment::~vm_environment() {
  std::error_code ec;
  // The root stays for the rest of this process (tests/runtime/sweep_vms.sh
  // removes it once the process is gone).
  fs::remove_all(state_dir, ec);
}

std::string vm_environment::uri() const {
  return system ? "qemu:///system" : "qemu:///embed?root=" + root;
}

runtime::image_resolver vm_environment::images() const {
  auto k = kernel;
  auto i = initrd;
  return [k, i](const msg::assembly_spec&) {
    return runtime::result<runtime::boot_image>{
      runtime::boot_image{k, i, "console=ttyS0 quiet", "", "qcow2"}};
  };
}

runtime::hypervisor_options vm_environment::options() const {
  runtime::hypervisor_options opts;
  opts.uri = uri();
  opts.state_dir = state_dir;
  opts.images = images();
  // User-mode networking on every URI: these tests are about VMs dying, and
  // libvirt's `default` network is not active on hosts without dnsmasq.
  opts.default_network = msg::user_network;
  return opts;
}

std::optional<pid_t> vm_environment::qemu_pid(const std::string& name) const {
  auto dir = system ? std::string{"/run/libvirt/qemu"} : root + "/run/qemu";
  auto pid = runtime::read_pid_file(dir + "/" + name + ".pid");
  if (!pid || kill(*pid, 0) != 0) {
    return std::nullopt;
  }
  return *pid;
}

std::string vm_environment::console(const std::string& assembly) const {
  std::ifstream in{state_dir + "/log/" + assembly + ".console.log"};
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

size_t vm_environment::boots(const std::string& assembly) const {
  auto s = console(assembly);
  size_t n = 0;
  for (auto pos = s.find("pcloud-tiny: ready"); pos != std::string::npos;
       pos = s.find("pcloud-tiny: ready", pos + 1)) {
    ++n;
  }
  return n;
}

} // namespace pcloud::test
