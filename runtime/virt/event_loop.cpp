#include "runtime/virt/event_loop.hpp"

#include <signal.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

namespace pcloud::runtime::virt {

namespace {

/// libvirt prints every error to stderr unless told otherwise; pcloud reads
/// them with virGetLastError where they happen and logs them itself.
void ignore_error(void*, virErrorPtr) {
  // nop
}

} // namespace

event_loop& event_loop::instance() {
  static event_loop loop;
  return loop;
}

event_loop::event_loop() {
  // libvirt's client writes to its daemon's socket without MSG_NOSIGNAL: a
  // write racing a libvirtd restart raised SIGPIPE and killed the process
  // (seen in hypervisor_system_test). The error comes back as EPIPE instead.
  ::signal(SIGPIPE, SIG_IGN);
  virSetErrorFunc(nullptr, ignore_error);
  virEventRegisterDefaultImpl();
  // A periodic no-op lets the loop wake up to notice that it must stop.
  wake_timer_ = virEventAddTimeout(
    500, [](int, void*) {}, nullptr, nullptr);
  thread_ = std::thread{[this] { run(); }};
}

event_loop::~event_loop() {
  stopping_ = true;
  if (thread_.joinable()) {
    thread_.join();
  }
  if (wake_timer_ >= 0) {
    virEventRemoveTimeout(wake_timer_);
  }
}

void event_loop::run() {
  while (!stopping_) {
    virEventRunDefaultImpl();
  }
}

} // namespace pcloud::runtime::virt
