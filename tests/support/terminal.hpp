// pcloudsh on a pseudo-terminal, typed at as a person would.
#pragma once

#include <poll.h>
#include <pty.h>

#include "tests/support/daemon_process.hpp"

namespace pcloud::test {

/// pcloudsh on the slave side of a pty; the test types on the master side.
class terminal {
public:
  /// Runs `pcloudsh --state-dir STATE ARGS...`.
  explicit terminal(const std::string& state_dir,
                    std::vector<std::string> args = {}) {
    args.insert(args.begin(), {PCLOUDSH_BINARY, "--state-dir", state_dir});
    pid_ = ::forkpty(&master_, nullptr, nullptr, nullptr);
    if (pid_ == 0) {
      ::setenv("HOME", state_dir.c_str(), 1);
      ::setenv("TERM", "dumb", 1);
      std::vector<char*> argv;
      for (auto& a : args) {
        argv.push_back(a.data());
      }
      argv.push_back(nullptr);
      ::execv(PCLOUDSH_BINARY, argv.data());
      ::_exit(127);
    }
  }

  ~terminal() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (master_ >= 0) {
      ::close(master_);
    }
  }

  void type(const std::string& keys) {
    (void)!::write(master_, keys.data(), keys.size());
  }

  /// Reads until the screen shows `text` after what was seen before.
  bool expect(const std::string& text,
              std::chrono::milliseconds timeout = 20s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      auto pos = screen_.find(text, seen_);
      if (pos != std::string::npos) {
        seen_ = pos + text.size();
        return true;
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        return false;
      }
      pollfd pfd{master_, POLLIN, 0};
      if (::poll(&pfd, 1, static_cast<int>(left.count())) <= 0) {
        continue;
      }
      char buf[4096];
      auto n = ::read(master_, buf, sizeof(buf));
      if (n <= 0) {
        return false;
      }
      screen_.append(buf, static_cast<size_t>(n));
    }
  }

  /// Exit status once pcloudsh ends.
  int wait_exit() {
    int status = 0;
    wait_until([&] { return ::waitpid(pid_, &status, WNOHANG) == pid_; });
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  const std::string& screen() const { return screen_; }

private:
  int master_ = -1;
  pid_t pid_ = -1;
  std::string screen_;
  size_t seen_ = 0;
};

} // namespace pcloud::test
