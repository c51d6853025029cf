#include "guest/agent/health_check.hpp"

#include <signal.h>
#include <sys/epoll.h>
#include <sys/wait.h>

#include <utility>

namespace pcloud::guest {

health_check::health_check(event_loop& loop, wire::probe_definition def)
    : loop_(loop), def_(std::move(def)), endpoint_(loop), timeout_(loop),
      failing_(loop) {
  // nop
}

health_check::~health_check() {
  cancel();
}

endpoint_target health_check::target_of(const wire::probe_definition& def) {
  endpoint_target t;
  t.port = static_cast<uint16_t>(def.port);
  t.http = def.kind == "http";
  t.path = def.path;
  t.status_min = def.status_min;
  t.status_max = def.status_max;
  t.body = def.body;
  t.timeout = std::chrono::milliseconds{def.timeout_ms};
  return t;
}

std::string health_check::describe(const wire::probe_definition& def) {
  if (def.kind == "command") {
    return "command '" + def.command + "'";
  }
  return endpoint_check::describe(target_of(def));
}

void health_check::run(done_fn done) {
  cancel();
  done_ = std::move(done);
  if (def_.kind != "command") {
    endpoint_.run(target_of(def_), [this](bool ok, const std::string& detail) {
      finish(ok, detail);
    });
    return;
  }
  timeout_.set(std::chrono::milliseconds{def_.timeout_ms}, [this] {
    finish(false, "timed out after " + std::to_string(def_.timeout_ms) + "ms");
  });
  start_command();
}

void health_check::cancel() {
  timeout_.cancel();
  failing_.cancel();
  endpoint_.cancel();
  if (proc_.running()) {
    // A hung check: its whole process group goes, now.
    loop_.unwatch(proc_.pidfd());
    proc_.signal_group(SIGKILL);
    proc_.reap();
  }
  proc_ = child_process{};
  done_ = nullptr;
}

void health_check::finish(bool ok, const std::string& detail) {
  auto done = std::move(done_);
  cancel();
  if (done) {
    done(ok, detail);
  }
}

void health_check::start_command() {
  launch_spec spec;
  spec.argv = {"/bin/sh", "-c", def_.command};
  spec.quiet = true;
  std::string error;
  proc_ = spawn(spec, error);
  if (!proc_.running()) {
    failing_.set(std::chrono::milliseconds{0}, [this, error] {
      if (running()) {
        finish(false, error);
      }
    });
    return;
  }
  loop_.watch(proc_.pidfd(), EPOLLIN, [this](uint32_t) { on_command_exit(); });
}

void health_check::on_command_exit() {
  loop_.unwatch(proc_.pidfd());
  auto status = proc_.reap();
  proc_ = child_process{};
  bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  finish(ok, describe_exit(status));
}

} // namespace pcloud::guest
