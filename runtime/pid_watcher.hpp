// Tells when a process exits, through pidfds and one epoll thread: the
// fastest death signal for a VM is its qemu process going away (libvirt's own
// event comes ~2 s later on these hosts). Processes that are our children
// (qemu under an embed driver in a child subreaper) are reaped at once,
// which also lets libvirt clean up in milliseconds.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "runtime/posix/unique_fd.hpp"
#include "runtime/result.hpp"

namespace pcloud::runtime {

class pid_watcher {
public:
  /// Called on the watcher's thread with how the process ended, e.g.
  /// "killed by signal 9", "exited with code 0", or "exited" when the
  /// process was not ours to reap.
  using exit_callback = std::function<void(const std::string&)>;

  pid_watcher();
  pid_watcher(const pid_watcher&) = delete;
  pid_watcher& operator=(const pid_watcher&) = delete;
  ~pid_watcher();

  /// Watches `pid`; `cb` runs once when it exits. A pid that is already gone
  /// is an error.
  result<void> watch(pid_t pid, exit_callback cb);

  /// Stops watching `pid` without calling its callback.
  void forget(pid_t pid);

  /// Makes this process the reaper of its orphaned descendants (qemu
  /// daemonizes away from libvirt's embed driver and would otherwise be
  /// reaped late by PID 1).
  static result<void> become_subreaper();

  /// Reaps zombie children of this process whose command starts with
  /// `prefix`. Under a subreaper, a qemu that daemonized and then failed to
  /// start is left to us and nobody else will reap it; call this only when
  /// libvirt is done waiting for its own children of that start.
  static size_t reap_zombies(const std::string& prefix);

private:
  struct entry {
    posix::unique_fd fd;
    exit_callback cb;
  };
  void run();

  posix::unique_fd epoll_fd_;
  posix::unique_fd wake_fd_;
  std::atomic<bool> stopping_{false};
  std::mutex mtx_;
  std::map<pid_t, entry> entries_;
  std::thread thread_;
};

/// The pid in a pid file, such as libvirt's ROOT/run/qemu/NAME.pid.
result<pid_t> read_pid_file(const std::string& path);

} // namespace pcloud::runtime
