#include "guest/agent/operation_resource.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <utility>

namespace pcloud::guest {

namespace {

std::string seconds(std::chrono::milliseconds d) {
  auto ms = d.count();
  if (ms % 1000 == 0) {
    return std::to_string(ms / 1000) + "s";
  }
  return std::to_string(ms) + "ms";
}

bool is_reserved(const std::string& key) {
  return key == "start_timeout_ms" || key == "stop_timeout_ms";
}

std::chrono::milliseconds ms_parameter(const wire::resource_definition& def,
                                       const char* key,
                                       std::chrono::milliseconds fallback) {
  auto i = def.parameters.find(key);
  if (i == def.parameters.end() || i->second.empty()
      || i->second.find_first_not_of("0123456789") != std::string::npos) {
    return fallback;
  }
  return std::chrono::milliseconds{
    std::strtoul(i->second.c_str(), nullptr, 10)};
}

} // namespace

// -- operation_resource -------------------------------------------------------

operation_resource::operation_resource(event_loop& loop,
                                       wire::resource_definition def,
                                       reporter report)
    : managed_resource(loop, std::move(def), std::move(report)),
      op_timer_(loop), monitor_timer_(loop) {
  start_timeout_ = ms_parameter(def_, "start_timeout_ms", start_timeout_);
  stop_timeout_ = ms_parameter(def_, "stop_timeout_ms", stop_timeout_);
}

operation_resource::~operation_resource() {
  kill_child(proc_); // an operation still in flight
}

std::chrono::milliseconds
operation_resource::timeout_of(const std::string& op) const {
  if (op == "start") {
    return start_timeout_;
  }
  if (op == "stop") {
    return stop_timeout_;
  }
  return std::chrono::milliseconds{def_.monitor_timeout_ms};
}

void operation_resource::set(const std::string& condition,
                             const std::string& cause) {
  condition_ = condition;
  cause_ = cause;
  report_(condition, cause);
}

void operation_resource::enqueue(const std::string& op) {
  if (op == "start" || op == "stop") {
    // The newest request wins over older ones that have not run yet.
    pending_.clear();
  }
  if (op == "monitor" || op == "probe" || op == "monitor-now") {
    for (auto& p : pending_) {
      if (p == op) {
        return;
      }
    }
  }
  pending_.push_back(op);
  if (current_.empty()) {
    run_next();
  }
}

void operation_resource::run_next() {
  if (pending_.empty()) {
    return;
  }
  current_ = pending_.front();
  pending_.pop_front();
  auto timeout = timeout_of(current_);
  auto op = current_ == "probe" || current_ == "monitor-now"
              ? std::string{"monitor"}
              : current_;
  auto spec = command_for(op, timeout);
  spec.quiet = op == "monitor";
  std::string error;
  exec_error_ = 0;
  timed_out_ = false;
  proc_ = spawn(spec, error);
  if (!proc_.running()) {
    finish(std::nullopt, error);
    return;
  }
  loop_.watch(proc_.exec_fd(), EPOLLIN, [this](uint32_t) {
    loop_.unwatch(proc_.exec_fd());
    exec_error_ = proc_.exec_result();
  });
  loop_.watch(proc_.pidfd(), EPOLLIN, [this](uint32_t) {
    if (proc_.exec_fd() >= 0) {
      loop_.unwatch(proc_.exec_fd());
      exec_error_ = proc_.exec_result();
    }
    loop_.unwatch(proc_.pidfd());
    auto argv0 = command_for("monitor", {}).argv.at(0);
    int status = proc_.reap();
    op_timer_.cancel();
    if (timed_out_) {
      finish(std::nullopt, "timed out after " + seconds(timeout_of(current_)));
    } else if (exec_error_ != 0) {
      finish(std::nullopt,
             "cannot execute " + argv0 + ": " + strerror(exec_error_));
    } else if (WIFEXITED(status)) {
      finish(WEXITSTATUS(status), {});
    } else {
      finish(std::nullopt, describe_exit(status));
    }
  });
  op_timer_.set(timeout, [this] {
    timed_out_ = true;
    proc_.signal_group(SIGKILL);
  });
}

void operation_resource::finish(std::optional<int> rc, const std::string& how) {
  auto op = current_;
  current_.clear();
  auto what = [&] {
    return rc ? op + " returned " + describe_rc(*rc) : op + " " + how;
  };
  if (op == "start") {
    if (rc && *rc == 0) {
      set("running", "started");
      watch_running();
      schedule_monitor();
    } else {
      set("start_failed", what());
    }
  } else if (op == "stop") {
    if (rc && *rc == 0) {
      // Part of a restart: the start that follows reports.
      if (pending_.empty() || pending_.front() != "start") {
        set("stopped", "stopped");
      } else {
        condition_ = "stopped";
      }
    } else {
      set("failed", what());
    }
  } else {
    // monitor or probe
    auto v = rc ? judge_monitor(*rc) : verdict::error;
    bool is_probe = op == "probe";
    if (v == verdict::running) {
      if (condition_ != "running" || is_probe || op == "monitor-now") {
        set("running", is_probe ? "found running" : "monitor: running");
      }
      if (want_running_) {
        watch_running();
      }
      if (want_running_ || is_probe) {
        schedule_monitor();
      }
    } else if (is_probe || !want_running_) {
      set("stopped", rc ? "monitor: " + describe_rc(*rc) : "monitor " + how);
    } else {
      set("failed",
          rc ? "monitor returned " + describe_rc(*rc) : "monitor " + how);
    }
  }
  run_next();
}

void operation_resource::schedule_monitor() {
  if (def_.monitor_interval_ms == 0) {
    return;
  }
  monitor_timer_.set(std::chrono::milliseconds{def_.monitor_interval_ms},
                     [this] {
                       if (condition_ == "running") {
                         enqueue("monitor");
                       }
                     });
}

void operation_resource::probe() {
  enqueue("probe");
}

void operation_resource::start() {
  want_running_ = true;
  if (condition_ == "running" && current_.empty() && pending_.empty()) {
    watch_running();
    report_("running", "already running");
    return;
  }
  enqueue("start");
}

void operation_resource::stop() {
  want_running_ = false;
  unwatch_running();
  monitor_timer_.cancel();
  enqueue("stop");
}

void operation_resource::restart() {
  want_running_ = true;
  unwatch_running();
  monitor_timer_.cancel();
  enqueue("stop");
  enqueue("start"); // pending_ is now exactly {stop, start}
}

void operation_resource::lost(const std::string& cause) {
  unwatch_running();
  if (!want_running_ || condition_ != "running") {
    return;
  }
  if (!idle()) {
    // An operation is under way: a monitor after it tells what is left.
    enqueue("monitor-now");
    return;
  }
  monitor_timer_.cancel();
  set("failed", cause);
}

void operation_resource::monitor() {
  // Asked for by the host: reported even when nothing changed.
  enqueue("monitor-now");
}

void operation_resource::report_again() {
  report_(condition_, cause_);
}

bool operation_resource::idle() const {
  return current_.empty() && pending_.empty();
}

// -- ocf ----------------------------------------------------------------------

namespace {

bool split_ocf_type(const std::string& type, std::string& provider,
                    std::string& agent) {
  auto t = type.rfind("ocf:", 0) == 0 ? type.substr(4) : type;
  auto colon = t.find(':');
  if (colon == std::string::npos) {
    return false;
  }
  provider = t.substr(0, colon);
  agent = t.substr(colon + 1);
  auto safe = [](const std::string& s) {
    return !s.empty() && s.find('/') == std::string::npos && s != ".."
           && s != ".";
  };
  return safe(provider) && safe(agent);
}

} // namespace

ocf_resource::ocf_resource(event_loop& loop, wire::resource_definition def,
                           reporter report, std::string ocf_root)
    : operation_resource(loop, std::move(def), std::move(report)),
      ocf_root_(std::move(ocf_root)) {
  split_ocf_type(def_.type, provider_, agent_);
}

bool ocf_resource::parse(const wire::resource_definition& def,
                         std::string& error) {
  std::string provider, agent;
  if (!split_ocf_type(def.type, provider, agent)) {
    error = "OCF type '" + def.type + "' is not PROVIDER:AGENT";
    return false;
  }
  for (auto& kv : def.parameters) {
    auto& k = kv.first;
    if (k.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWX"
                            "YZ0123456789_")
        != std::string::npos) {
      error = "OCF parameter name '" + k + "' is not an identifier";
      return false;
    }
  }
  return true;
}

launch_spec ocf_resource::command_for(const std::string& op,
                                      std::chrono::milliseconds timeout) const {
  launch_spec spec;
  spec.argv = {ocf_root_ + "/resource.d/" + provider_ + "/" + agent_, op};
  spec.env = {{"OCF_ROOT", ocf_root_},
              {"OCF_RA_VERSION_MAJOR", "1"},
              {"OCF_RA_VERSION_MINOR", "1"},
              {"OCF_RESOURCE_INSTANCE", def_.name},
              {"OCF_RESOURCE_TYPE", agent_},
              {"OCF_RESOURCE_PROVIDER", provider_},
              {"OCF_RESKEY_CRM_meta_timeout", std::to_string(timeout.count())}};
  if (op == "monitor") {
    spec.env["OCF_RESKEY_CRM_meta_interval"]
      = std::to_string(def_.monitor_interval_ms);
  }
  for (auto& [k, v] : def_.parameters) {
    if (!is_reserved(k)) {
      spec.env["OCF_RESKEY_" + k] = v;
    }
  }
  return spec;
}

operation_resource::verdict ocf_resource::judge_monitor(int rc) const {
  switch (rc) {
  case 0:   // OCF_SUCCESS
  case 8:   // OCF_RUNNING_PROMOTED
  case 190: // OCF_DEGRADED
  case 191: // OCF_DEGRADED_PROMOTED
    return verdict::running;
  case 7: // OCF_NOT_RUNNING
    return verdict::not_running;
  default:
    return verdict::error;
  }
}

std::string ocf_resource::describe_rc(int rc) const {
  static const char* names[] = {"success",
                                "generic error",
                                "invalid arguments",
                                "unimplemented",
                                "insufficient privileges",
                                "not installed",
                                "not configured",
                                "not running",
                                "running promoted",
                                "failed promoted"};
  std::string text = rc >= 0 && rc <= 9 ? names[rc]
                     : rc == 190        ? "degraded"
                     : rc == 191        ? "degraded promoted"
                                        : "unknown code";
  return std::to_string(rc) + " (" + text + ")";
}

// -- lsb ----------------------------------------------------------------------

lsb_resource::lsb_resource(event_loop& loop, wire::resource_definition def,
                           reporter report)
    : operation_resource(loop, std::move(def), std::move(report)) {
  // nop
}

launch_spec lsb_resource::command_for(const std::string& op,
                                      std::chrono::milliseconds) const {
  auto script
    = def_.type.front() == '/' ? def_.type : "/etc/init.d/" + def_.type;
  launch_spec spec;
  spec.argv = {script, op == "monitor" ? "status" : op};
  return spec;
}

operation_resource::verdict lsb_resource::judge_monitor(int rc) const {
  switch (rc) {
  case 0:
    return verdict::running;
  case 1: // dead, pid file exists
  case 2: // dead, lock file exists
  case 3: // not running
    return verdict::not_running;
  default:
    return verdict::error;
  }
}

std::string lsb_resource::describe_rc(int rc) const {
  static const char* names[]
    = {"running", "dead, pid file exists", "dead, lock file exists",
       "not running", "status unknown"};
  return std::to_string(rc) + " (" + (rc >= 0 && rc <= 4 ? names[rc] : "error")
         + ")";
}

// -- systemd ------------------------------------------------------------------

systemd_resource::systemd_resource(event_loop& loop,
                                   wire::resource_definition def,
                                   reporter report)
    : operation_resource(loop, std::move(def), std::move(report)) {
  unit_ = def_.type.find('.') == std::string::npos ? def_.type + ".service"
                                                   : def_.type;
  // Instances of a template unit (postgresql@15-main) sit in a slice of
  // their own, named after the template with '-' escaped.
  std::string slice = "/sys/fs/cgroup/system.slice/";
  if (auto at = unit_.find('@'); at != std::string::npos) {
    slice += "system-";
    for (char c : unit_.substr(0, at)) {
      slice += c == '-' ? std::string{"\\x2d"} : std::string(1, c);
    }
    slice += ".slice/";
  }
  cgroup_events_ = slice + unit_ + "/cgroup.events";
}

systemd_resource::~systemd_resource() {
  unwatch_running();
}

launch_spec systemd_resource::command_for(const std::string& op,
                                          std::chrono::milliseconds) const {
  launch_spec spec;
  if (op == "monitor") {
    spec.argv = {"systemctl", "is-active", "--quiet", unit_};
  } else if (op == "start") {
    // The unit name is an argument ($1), never part of the script.
    spec.argv = {"/bin/sh", "-c",
                 "d=/run/systemd/system/$1.d\n"
                 "if [ ! -f \"$d/50-pcloud.conf\" ]; then\n"
                 "  mkdir -p \"$d\" &&\n"
                 "  printf '# pcloud restarts this unit itself\\n"
                 "[Service]\\nRestart=no\\n' > \"$d/50-pcloud.conf\" &&\n"
                 "  systemctl daemon-reload || exit 1\n"
                 "fi\n"
                 "exec systemctl start -- \"$1\"\n",
                 "pcloud-start", unit_};
  } else {
    spec.argv = {"systemctl", op, "--", unit_};
  }
  return spec;
}

namespace {

/// "populated 1" in a cgroup.events file: some process is left.
std::optional<bool> populated(const std::string& path) {
  posix::unique_fd fd{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  if (!fd) {
    return std::nullopt;
  }
  char buf[256];
  auto n = ::read(fd.get(), buf, sizeof(buf) - 1);
  if (n <= 0) {
    return std::nullopt;
  }
  buf[n] = 0;
  auto* p = std::strstr(buf, "populated ");
  if (p == nullptr) {
    return std::nullopt;
  }
  return p[10] == '1';
}

} // namespace

void systemd_resource::watch_running() {
  if (inotify_fd_) {
    return;
  }
  posix::unique_fd fd{::inotify_init1(IN_NONBLOCK | IN_CLOEXEC)};
  if (!fd
      || ::inotify_add_watch(fd.get(), cgroup_events_.c_str(), IN_MODIFY) < 0) {
    return; // no cgroup v2 here: the recurring monitor watches alone
  }
  // A unit without processes (a oneshot that remains active) has nothing
  // to watch.
  if (populated(cgroup_events_) != std::optional<bool>{true}) {
    return;
  }
  inotify_fd_ = std::move(fd);
  loop_.watch(inotify_fd_.get(), EPOLLIN, [this](uint32_t) {
    char buf[4096];
    while (::read(inotify_fd_.get(), buf, sizeof(buf)) > 0) {
      // drained
    }
    if (populated(cgroup_events_) != std::optional<bool>{true}) {
      lost("every process of " + unit_ + " exited");
    }
  });
}

void systemd_resource::unwatch_running() {
  if (!inotify_fd_) {
    return;
  }
  loop_.unwatch(inotify_fd_.get());
  inotify_fd_.reset();
}

operation_resource::verdict systemd_resource::judge_monitor(int rc) const {
  // is-active: 0 active; non-zero inactive, failed or unknown.
  return rc == 0 ? verdict::running : verdict::not_running;
}

std::string systemd_resource::describe_rc(int rc) const {
  return std::to_string(rc) + (rc == 0 ? " (active)" : " (not active)");
}

} // namespace pcloud::guest
