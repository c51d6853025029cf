// Child processes of the agent: resources of the exec class and the
// operations of script-driven classes (OCF agents, init scripts, systemctl).
// Each child comes with a pidfd, so its death is an event on the loop, and
// with a close-on-exec pipe that tells a failed exec from a started program.
#pragma once

#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

#include "runtime/posix/unique_fd.hpp"

namespace pcloud::guest {

struct launch_spec {
  std::vector<std::string> argv;
  /// Added to (or replacing entries of) a minimal base environment.
  std::map<std::string, std::string> env;
  /// Run as this user (name or uid); empty: as the agent.
  std::string user;
  /// Working directory; empty: "/".
  std::string directory;
  /// Silence stdout/stderr (operations); otherwise they go where the
  /// agent's go (the console).
  bool quiet = false;
};

/// A started child. Move-only; the destructor closes the descriptors but
/// leaves the process alone.
class child_process {
public:
  child_process() = default;
  child_process(pid_t pid, posix::unique_fd pidfd, posix::unique_fd exec_fd);
  child_process(child_process&& other) noexcept;
  child_process& operator=(child_process&& other) noexcept;
  ~child_process() = default;

  pid_t pid() const { return pid_; }
  /// Readable once the process has exited.
  int pidfd() const { return pidfd_.get(); }
  /// Reads EOF once the program runs; a failed exec writes its errno first.
  int exec_fd() const { return exec_fd_.get(); }

  /// After exec_fd() was readable: 0 if the program runs, else the errno.
  int exec_result();
  /// After pidfd() was readable: reaps the child and returns its status.
  int reap();
  /// Signals the child's process group (it leads one).
  void signal_group(int sig) const;
  bool running() const { return pid_ > 0; }

private:
  /// Closes the descriptors and forgets the process.
  void clear();

  pid_t pid_ = -1;
  posix::unique_fd pidfd_;
  posix::unique_fd exec_fd_;
};

/// Forks and execs; on failure `error` says why and the result is empty.
child_process spawn(const launch_spec& spec, std::string& error);

/// "exited with status 3", "killed by signal 9".
std::string describe_exit(int wait_status);

/// Splits a command line into words: blanks separate, single and double
/// quotes group, a backslash escapes. No shell is involved.
bool split_command(const std::string& line, std::vector<std::string>& words,
                   std::string& error);

} // namespace pcloud::guest
