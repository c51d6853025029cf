#include "runtime/hooks.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <filesystem>
#include <mutex>
#include <set>
#include <thread>

#include <caf/all.hpp>
#include <spdlog/spdlog.h>

#include "messages/names.hpp"
#include "runtime/posix/unique_fd.hpp"

namespace pcloud::runtime {

namespace fs = std::filesystem;

namespace {

std::string iso_time(caf::timestamp t) {
  auto since = std::chrono::duration_cast<std::chrono::milliseconds>(
                 t.time_since_epoch())
                 .count();
  time_t secs = since / 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
  char out[40];
  std::snprintf(out, sizeof(out), "%s.%03dZ", buf,
                static_cast<int>(since % 1000));
  return out;
}

std::vector<std::string> environment_of(const msg::event& ev) {
  auto kind = !ev.resource.empty()   ? "resource"
              : !ev.assembly.empty() ? "assembly"
                                     : "deployable";
  auto downtime
    = std::chrono::duration_cast<std::chrono::milliseconds>(ev.downtime)
        .count();
  return {
    "PCLOUD_EVENT=" + msg::to_string(ev),
    "PCLOUD_SEQUENCE=" + std::to_string(ev.sequence),
    "PCLOUD_TIME=" + iso_time(ev.time),
    "PCLOUD_KIND=" + std::string{kind},
    "PCLOUD_PATH=" + msg::path_of(ev),
    "PCLOUD_DEPLOYABLE=" + ev.deployable,
    "PCLOUD_ASSEMBLY=" + ev.assembly,
    "PCLOUD_RESOURCE=" + ev.resource,
    "PCLOUD_STATE=" + msg::to_string(ev.state),
    "PCLOUD_REASON=" + ev.reason,
    "PCLOUD_ACTION=" + ev.action,
    "PCLOUD_FAILURES=" + std::to_string(ev.failures),
    "PCLOUD_MAX_FAILURES=" + std::to_string(ev.max_failures),
    "PCLOUD_RESTARTS=" + std::to_string(ev.restarts),
    "PCLOUD_DOWNTIME_MS=" + std::to_string(downtime),
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
  };
}

/// Runs one hook to its end or its timeout; its output goes to the log.
void run_hook(const std::string& path, const std::vector<std::string>& env,
              std::chrono::milliseconds timeout, std::atomic<pid_t>& running) {
  posix::fd_pair out;
  if (!posix::make_pipe(out, O_CLOEXEC)) {
    spdlog::warn("hooks: {}: pipe: {}", path, std::strerror(errno));
    return;
  }
  std::vector<char*> envp;
  for (auto& e : env) {
    envp.push_back(const_cast<char*>(e.c_str()));
  }
  envp.push_back(nullptr);
  auto started = std::chrono::steady_clock::now();
  pid_t pid = ::fork();
  if (pid == 0) {
    ::setsid(); // its own process group: a timeout kills what it started
    ::dup2(out.write.get(), STDOUT_FILENO);
    ::dup2(out.write.get(), STDERR_FILENO);
    int null = ::open("/dev/null", O_RDONLY);
    ::dup2(null, STDIN_FILENO);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    char* argv[] = {const_cast<char*>(path.c_str()), nullptr};
    ::execve(path.c_str(), argv, envp.data());
    ::_exit(127);
  }
  out.write.reset();
  if (pid < 0) {
    spdlog::warn("hooks: {}: fork: {}", path, std::strerror(errno));
    return;
  }
  running = pid;
  posix::unique_fd pidfd{static_cast<int>(::syscall(SYS_pidfd_open, pid, 0))};
  std::string output;
  bool timed_out = false;
  bool open = true;
  for (;;) {
    auto left = timeout
                - std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::steady_clock::now() - started);
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd fds[2]
      = {{pidfd.get(), POLLIN, 0}, {open ? out.read.get() : -1, POLLIN, 0}};
    auto n = ::poll(fds, 2, static_cast<int>(left.count()));
    if (n < 0 && errno != EINTR) {
      break;
    }
    if (fds[1].revents & (POLLIN | POLLHUP)) {
      char buf[1024];
      auto got = ::read(out.read.get(), buf, sizeof(buf));
      if (got <= 0) {
        open = false;
      } else if (output.size() < 4096) {
        output.append(buf, static_cast<size_t>(got));
      }
    }
    if (fds[0].revents & POLLIN) {
      break;
    }
  }
  if (timed_out) {
    ::kill(-pid, SIGKILL);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  running = 0;
  while (!output.empty() && output.back() == '\n') {
    output.pop_back();
  }
  auto name = fs::path(path).filename().string();
  if (!output.empty()) {
    spdlog::info("hooks: {}: {}", name, output);
  }
  if (timed_out) {
    spdlog::warn("hooks: {} killed after its timeout of {} ms", name,
                 timeout.count());
  } else if (WIFEXITED(status) && WEXITSTATUS(status) != 0) {
    spdlog::warn("hooks: {} failed with exit status {}", name,
                 WEXITSTATUS(status));
  } else if (WIFSIGNALED(status)) {
    spdlog::warn("hooks: {} killed by signal {}", name, WTERMSIG(status));
  }
}

/// Why `st` may not run as pcloudd's user (root), or empty: it must be
/// that user's own and writable by nobody else, as must its directory;
/// else whoever could change it would run code as root.
std::string untrusted_because(const struct stat& st) {
  if (st.st_uid != ::geteuid()) {
    return "owned by uid " + std::to_string(st.st_uid) + ", not "
           + std::to_string(::geteuid());
  }
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    return "writable by its group or by others";
  }
  return {};
}

} // namespace

std::vector<std::string> hooks_in(const std::string& dir,
                                  std::set<std::string>& warned) {
  auto skip = [&](const std::string& path, const std::string& why) {
    if (warned.size() > 1000) {
      warned.clear(); // a bound, not a memory: at worst a warning again
    }
    if (warned.insert(path + ": " + why).second) {
      spdlog::warn("hooks: not running {}: {}", path, why);
    }
  };
  std::vector<std::string> result;
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) {
    return result;
  }
  if (auto why = untrusted_because(st); !why.empty()) {
    skip(dir, "the directory is " + why);
    return result;
  }
  std::error_code ec;
  for (auto& entry : fs::directory_iterator(dir, ec)) {
    auto name = entry.path().filename().string();
    auto path = entry.path().string();
    if (name.empty() || name[0] == '.') {
      continue;
    }
    // The target of a link is what runs: it is checked, and the directory
    // check above says who could have made the link.
    if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)
        || (st.st_mode & S_IXUSR) == 0) {
      continue; // not an executable: notes, disabled hooks
    }
    if (!msg::valid_name(name)) {
      skip(path, "its name is not a valid name (letters, digits, '_', '.', "
                 "'-')");
    } else if (auto why = untrusted_because(st); !why.empty()) {
      skip(path, "it is " + why);
    } else {
      result.push_back(path);
    }
  }
  std::sort(result.begin(), result.end());
  return result;
}

namespace {

/// The thread that runs hooks, one event after another.
class hook_executor {
public:
  explicit hook_executor(hook_options opts) : opts_(std::move(opts)) {
    thread_ = std::thread{[this] { run(); }};
  }

  ~hook_executor() {
    {
      std::lock_guard<std::mutex> guard{mtx_};
      stopping_ = true;
      queue_.clear();
    }
    cv_.notify_all();
    // pcloudd is stopping: a hook running now does not delay it.
    if (pid_t pid = running_; pid > 0) {
      ::kill(-pid, SIGKILL);
    }
    thread_.join();
  }

  void post(msg::event ev) {
    std::lock_guard<std::mutex> guard{mtx_};
    if (queue_.size() >= opts_.max_queued) {
      spdlog::warn("hooks: {} events waiting; dropped: {}", queue_.size(),
                   msg::to_string(ev));
      return;
    }
    queue_.push_back(std::move(ev));
    cv_.notify_all();
  }

private:
  bool stopping() {
    std::lock_guard<std::mutex> guard{mtx_};
    return stopping_;
  }

  void run() {
    for (;;) {
      msg::event ev;
      {
        std::unique_lock<std::mutex> guard{mtx_};
        cv_.wait(guard, [&] { return stopping_ || !queue_.empty(); });
        if (stopping_) {
          return;
        }
        ev = std::move(queue_.front());
        queue_.pop_front();
      }
      auto env = environment_of(ev);
      for (auto& hook : hooks_in(opts_.directory, warned_)) {
        if (stopping()) {
          return;
        }
        run_hook(hook, env, opts_.timeout, running_);
      }
    }
  }

  hook_options opts_;
  std::mutex mtx_;
  std::condition_variable cv_;
  std::deque<msg::event> queue_;
  bool stopping_ = false;
  std::atomic<pid_t> running_{0};
  std::set<std::string> warned_; // the executor's thread only
  std::thread thread_;
};

struct hook_runner_state {
  static inline const char* name = "pcloud.hook_runner";
  std::unique_ptr<hook_executor> executor;
};

} // namespace

bool triggers_hooks(const msg::event& ev) {
  if (ev.state == msg::state::failed || ev.state == msg::state::recovering) {
    return true;
  }
  return ev.state == msg::state::active && ev.assembly.empty();
}

msg::event_listener_actor spawn_hook_runner(caf::actor_system& sys,
                                            hook_options opts) {
  return sys.spawn(
    [](msg::event_listener_actor::stateful_pointer<hook_runner_state> self,
       hook_options opts) -> msg::event_listener_actor::behavior_type {
      spdlog::info("hooks: running executables in {} (timeout {} ms)",
                   opts.directory, opts.timeout.count());
      self->state.executor = std::make_unique<hook_executor>(std::move(opts));
      return {
        [=](const msg::event& ev) {
          if (triggers_hooks(ev)) {
            self->state.executor->post(ev);
          }
        },
      };
    },
    std::move(opts));
}

} // namespace pcloud::runtime
