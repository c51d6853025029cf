#include "runtime/pid_watcher.hpp"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <dirent.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>

#ifndef P_PIDFD
#  define P_PIDFD 3
#endif

namespace pcloud::runtime {

namespace {

int pidfd_open(pid_t pid) {
  return static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
}

std::string errno_text(const std::string& what) {
  return what + ": " + std::strerror(errno);
}

/// Reaps the process behind `fd` if it is our child, and says how it ended.
std::string reap(int fd) {
  siginfo_t info{};
  if (waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(fd), &info,
             WEXITED | WNOHANG)
        < 0
      || info.si_pid == 0) {
    return "exited"; // not our child: someone else reaps it
  }
  if (info.si_code == CLD_EXITED) {
    return "exited with code " + std::to_string(info.si_status);
  }
  return "killed by signal " + std::to_string(info.si_status);
}

} // namespace

pid_watcher::pid_watcher()
    : epoll_fd_(epoll_create1(EPOLL_CLOEXEC)),
      wake_fd_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = wake_fd_.get();
  epoll_ctl(epoll_fd_.get(), EPOLL_CTL_ADD, wake_fd_.get(), &ev);
  thread_ = std::thread{[this] { run(); }};
}

pid_watcher::~pid_watcher() {
  stopping_ = true;
  uint64_t one = 1;
  [[maybe_unused]] auto n = write(wake_fd_.get(), &one, sizeof(one));
  thread_.join();
  // The members close the pidfds, then the eventfd, then the epoll fd.
}

result<void> pid_watcher::watch(pid_t pid, exit_callback cb) {
  posix::unique_fd fd{pidfd_open(pid)};
  if (!fd) {
    return fail(errno_text("pidfd_open " + std::to_string(pid)));
  }
  std::lock_guard<std::mutex> guard{mtx_};
  if (auto i = entries_.find(pid); i != entries_.end()) {
    epoll_ctl(epoll_fd_.get(), EPOLL_CTL_DEL, i->second.fd.get(), nullptr);
    entries_.erase(i);
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64
    = static_cast<uint64_t>(pid) << 32 | static_cast<uint32_t>(fd.get());
  if (epoll_ctl(epoll_fd_.get(), EPOLL_CTL_ADD, fd.get(), &ev) < 0) {
    return fail(errno_text("epoll_ctl"));
  }
  entries_.emplace(pid, entry{std::move(fd), std::move(cb)});
  return {};
}

void pid_watcher::forget(pid_t pid) {
  std::lock_guard<std::mutex> guard{mtx_};
  if (auto i = entries_.find(pid); i != entries_.end()) {
    epoll_ctl(epoll_fd_.get(), EPOLL_CTL_DEL, i->second.fd.get(), nullptr);
    entries_.erase(i);
  }
}

result<void> pid_watcher::become_subreaper() {
  if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) {
    return fail(errno_text("prctl(PR_SET_CHILD_SUBREAPER)"));
  }
  return {};
}

size_t pid_watcher::reap_zombies(const std::string& prefix) {
  size_t reaped = 0;
  auto self = std::to_string(getpid());
  auto* dir = opendir("/proc");
  if (dir == nullptr) {
    return 0;
  }
  while (auto* entry = readdir(dir)) {
    if (entry->d_name[0] < '0' || entry->d_name[0] > '9') {
      continue;
    }
    // /proc/PID/stat: "pid (comm) state ppid ..."; comm may hold spaces.
    std::ifstream in{std::string{"/proc/"} + entry->d_name + "/stat"};
    std::string line;
    std::getline(in, line);
    auto open = line.find('(');
    auto close = line.rfind(')');
    if (open == std::string::npos || close == std::string::npos) {
      continue;
    }
    auto comm = line.substr(open + 1, close - open - 1);
    std::istringstream rest{line.substr(close + 1)};
    std::string state;
    std::string ppid;
    rest >> state >> ppid;
    if (state == "Z" && ppid == self
        && comm.compare(0, prefix.size(), prefix) == 0) {
      auto pid = static_cast<pid_t>(std::stol(entry->d_name));
      if (waitpid(pid, nullptr, WNOHANG) == pid) {
        ++reaped;
      }
    }
  }
  closedir(dir);
  return reaped;
}

void pid_watcher::run() {
  epoll_event events[16];
  while (!stopping_) {
    auto n = epoll_wait(epoll_fd_.get(), events, 16, -1);
    for (int i = 0; i < n; ++i) {
      // The wake-up eventfd is registered with the pid bits zero.
      if (events[i].data.u64 == static_cast<uint64_t>(wake_fd_.get())) {
        continue;
      }
      auto pid = static_cast<pid_t>(events[i].data.u64 >> 32);
      exit_callback cb;
      posix::unique_fd fd;
      {
        std::lock_guard<std::mutex> guard{mtx_};
        auto e = entries_.find(pid);
        if (e == entries_.end()) {
          continue; // forgotten meanwhile
        }
        fd = std::move(e->second.fd);
        cb = std::move(e->second.cb);
        epoll_ctl(epoll_fd_.get(), EPOLL_CTL_DEL, fd.get(), nullptr);
        entries_.erase(e);
      }
      auto how = reap(fd.get());
      fd.reset();
      cb(how);
    }
  }
}

result<pid_t> read_pid_file(const std::string& path) {
  std::ifstream in{path};
  long pid = 0;
  if (!(in >> pid) || pid <= 0) {
    return fail("cannot read a pid from " + path);
  }
  return static_cast<pid_t>(pid);
}

} // namespace pcloud::runtime
