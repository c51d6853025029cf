#include "guest/agent/exec_resource.hpp"

#include <signal.h>
#include <sys/epoll.h>

#include <cstring>
#include <fstream>
#include <utility>

namespace pcloud::guest {

exec_resource::exec_resource(event_loop& loop, wire::resource_definition def,
                             reporter report, launch_spec spec)
    : managed_resource(loop, std::move(def), std::move(report)),
      spec_(std::move(spec)), kill_timer_(loop), check_timer_(loop) {
  auto i = def_.parameters.find("stop_timeout_ms");
  if (i != def_.parameters.end()) {
    stop_timeout_
      = std::chrono::milliseconds{std::strtoul(i->second.c_str(), nullptr, 10)};
  }
}

exec_resource::~exec_resource() {
  // Removed from the configuration while running: do not leave it behind.
  kill_child(proc_);
}

bool exec_resource::parse(const wire::resource_definition& def,
                          launch_spec& spec, std::string& error) {
  if (!split_command(def.type, spec.argv, error)) {
    error = "command line: " + error;
    return false;
  }
  for (auto& [key, value] : def.parameters) {
    if (key == "user") {
      spec.user = value;
    } else if (key == "directory") {
      spec.directory = value;
    } else if (key.rfind("env.", 0) == 0 && key.size() > 4) {
      spec.env[key.substr(4)] = value;
    } else if (key == "stop_timeout_ms") {
      if (value.empty()
          || value.find_first_not_of("0123456789") != std::string::npos) {
        error = "stop_timeout_ms is not a number of milliseconds";
        return false;
      }
    } else {
      error = "unknown parameter '" + key
              + "' (exec takes user, directory, env.NAME, stop_timeout_ms)";
      return false;
    }
  }
  return true;
}

char process_state(pid_t pid) {
  std::ifstream in{"/proc/" + std::to_string(pid) + "/stat"};
  std::string line;
  std::getline(in, line);
  // "PID (COMM) S ...": COMM may hold blanks and parentheses, the state
  // follows the last ')'.
  auto close = line.rfind(')');
  if (close == std::string::npos || close + 2 >= line.size()) {
    return 0;
  }
  return line[close + 2];
}

void exec_resource::set(phase next, const std::string& condition,
                        const std::string& cause) {
  phase_ = next;
  condition_ = condition;
  cause_ = cause;
  if (next == phase::running) {
    schedule_check();
  } else {
    check_timer_.cancel();
  }
  report_(condition, cause);
}

void exec_resource::schedule_check() {
  check_timer_.set(std::chrono::milliseconds{def_.monitor_interval_ms},
                   [this] { check_not_stopped(); });
}

void exec_resource::check_not_stopped() {
  if (phase_ != phase::running) {
    return;
  }
  auto state = process_state(proc_.pid());
  if (state == 'T' || state == 't') {
    // Stopped, it serves no one and SIGTERM would wait for a SIGCONT.
    killed_because_ = "process " + std::to_string(proc_.pid())
                      + " is stopped (state " + std::string(1, state)
                      + "); killed";
    proc_.signal_group(SIGKILL);
    return;
  }
  schedule_check();
}

void exec_resource::probe() {
  // Processes of the exec class are the agent's own children: a new
  // resource never runs yet.
  report_again();
}

void exec_resource::start() {
  switch (phase_) {
  case phase::running:
    report_("running", "already running");
    break;
  case phase::starting:
    break; // its report is on the way
  case phase::stopping:
    start_after_stop_ = true;
    break;
  case phase::stopped:
  case phase::failed:
    launch();
    break;
  }
}

void exec_resource::launch() {
  std::string error;
  killed_because_.clear();
  exec_error_ = 0;
  proc_ = spawn(spec_, error);
  if (!proc_.running()) {
    set(phase::failed, "start_failed", error);
    return;
  }
  phase_ = phase::starting;
  loop_.watch(proc_.exec_fd(), EPOLLIN, [this](uint32_t) { on_exec_result(); });
  loop_.watch(proc_.pidfd(), EPOLLIN, [this](uint32_t) { on_exit(); });
}

void exec_resource::on_exec_result() {
  loop_.unwatch(proc_.exec_fd());
  exec_error_ = proc_.exec_result();
  if (exec_error_ == 0 && phase_ == phase::starting) {
    set(phase::running, "running",
        "started (pid " + std::to_string(proc_.pid()) + ")");
  }
  // On an exec error the child exits at once: on_exit reports it.
}

void exec_resource::on_exit() {
  if (proc_.exec_fd() >= 0) {
    on_exec_result();
  }
  loop_.unwatch(proc_.pidfd());
  auto how = describe_exit(proc_.reap());
  kill_timer_.cancel();
  if (phase_ == phase::stopping) {
    if (start_after_stop_) {
      start_after_stop_ = false;
      phase_ = phase::stopped;
      launch();
    } else {
      set(phase::stopped, "stopped", "stopped (" + how + ")");
    }
    return;
  }
  if (exec_error_ != 0) {
    set(phase::failed, "start_failed",
        "cannot execute " + spec_.argv[0] + ": " + strerror(exec_error_));
    return;
  }
  if (!killed_because_.empty()) {
    how = std::exchange(killed_because_, {});
  }
  set(phase::failed, "failed", how);
}

void exec_resource::stop() {
  start_after_stop_ = false;
  switch (phase_) {
  case phase::running:
  case phase::starting:
    phase_ = phase::stopping;
    proc_.signal_group(SIGTERM);
    kill_timer_.set(stop_timeout_, [this] {
      if (proc_.running()) {
        proc_.signal_group(SIGKILL);
      }
    });
    break;
  case phase::stopping:
    break;
  case phase::stopped:
  case phase::failed:
    set(phase::stopped, "stopped", "not running");
    break;
  }
}

void exec_resource::kill() {
  start_after_stop_ = false;
  if (phase_ == phase::running || phase_ == phase::starting) {
    phase_ = phase::stopping;
    check_timer_.cancel();
    proc_.signal_group(SIGKILL);
  } else if (phase_ == phase::stopping) {
    proc_.signal_group(SIGKILL);
  } else {
    set(phase_ == phase::failed ? phase::failed : phase::stopped, condition_,
        cause_);
  }
}

void exec_resource::restart() {
  if (phase_ == phase::running || phase_ == phase::starting) {
    stop();
    start_after_stop_ = true;
  } else if (phase_ == phase::stopping) {
    start_after_stop_ = true;
  } else {
    launch();
  }
}

void exec_resource::monitor() {
  report_again();
}

void exec_resource::report_again() {
  report_(condition_, cause_);
}

bool exec_resource::idle() const {
  return !proc_.running();
}

} // namespace pcloud::guest
