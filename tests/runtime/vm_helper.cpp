// Starts one assembly's domain in an embed root and exits, leaving it
// running: stands in for a pcloudd that died, in the adoption test.
//   pcloud_vm_helper URI STATE_DIR KERNEL INITRD ASSEMBLY
#include <cstdio>

#include <caf/all.hpp>

#include "runtime/hypervisor.hpp"
#include "tests/support/fakes.hpp"

using namespace pcloud;

int main(int argc, char** argv) {
  if (argc != 6) {
    std::fprintf(stderr, "usage: %s URI STATE_DIR KERNEL INITRD ASSEMBLY\n",
                 argv[0]);
    return 2;
  }
  caf::actor_system_config cfg;
  msg::add_message_types(cfg);
  caf::actor_system sys{cfg};
  runtime::hypervisor_options opts;
  opts.uri = argv[1];
  opts.state_dir = argv[2];
  std::string kernel = argv[3];
  std::string initrd = argv[4];
  opts.images = [=](const msg::assembly_spec&) {
    return runtime::result<runtime::boot_image>{
      runtime::boot_image{kernel, initrd, "console=ttyS0 quiet", "", "qcow2"}};
  };
  auto hv = runtime::spawn_hypervisor(sys, opts);
  if (!hv) {
    std::fprintf(stderr, "%s\n", hv.error().c_str());
    return 1;
  }
  int rc = 1;
  {
    caf::scoped_actor self{sys};
    self
      ->request(*hv, std::chrono::seconds(120), msg::start_atom::value,
                test::make_assembly(argv[5], {}), msg::domain_listener_actor{})
      .receive([&](msg::domain_info&) { rc = 0; },
               [&](caf::error& err) {
                 std::fprintf(stderr, "%s\n", sys.render(err).c_str());
               });
  }
  caf::anon_send_exit(*hv, caf::exit_reason::user_shutdown);
  return rc;
}
