// One program under supervisord (Debian's `supervisor` package), for the
// benchmarks that compare pcloud's restarts with it. supervisord runs in the
// foreground as a child of the benchmark, with a configuration of its own in
// a temporary directory: the host's supervisord, if any, is not involved.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace pcloud::bench {

class supervised_program {
public:
  /// Whether supervisord is installed (`./setup` installs it).
  static bool available() {
    return std::system("command -v supervisord >/dev/null 2>&1") == 0;
  }

  /// Starts supervisord with `command` as its one program, restarted at
  /// once and forever (autorestart, no start delay, no retry limit).
  explicit supervised_program(const std::string& command) {
    namespace fs = std::filesystem;
    dir_ = fs::temp_directory_path()
           / ("pcloud-bench-sv-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    // .string(): a path written to a stream comes out in quotes.
    std::ofstream{dir_ / "supervisord.conf"}
      << "[supervisord]\nnodaemon=true\nlogfile="
      << (dir_ / "supervisord.log").string()
      << "\npidfile=" << (dir_ / "supervisord.pid").string()
      << "\n[program:bench]\ncommand=" << command
      << "\nautorestart=true\nstartsecs=0\nstartretries=1000000\n";
    pid_ = ::fork();
    if (pid_ == 0) {
      // Its log goes to its log file; the benchmark's output stays clean.
      int null = ::open("/dev/null", O_WRONLY);
      ::dup2(null, STDOUT_FILENO);
      ::dup2(null, STDERR_FILENO);
      auto conf = (dir_ / "supervisord.conf").string();
      ::execlp("supervisord", "supervisord", "-n", "-c", conf.c_str(), nullptr);
      ::_exit(127);
    }
  }

  supervised_program(const supervised_program&) = delete;
  supervised_program& operator=(const supervised_program&) = delete;

  ~supervised_program() {
    ::kill(pid_, SIGTERM);
    ::waitpid(pid_, nullptr, 0);
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  /// supervisord's own pid.
  pid_t pid() const { return pid_; }

  /// The pid of supervisord's child whose command name is `comm` (it has
  /// exec'd), or 0.
  pid_t child(const std::string& comm) const {
    for (auto& e : std::filesystem::directory_iterator{"/proc"}) {
      std::ifstream in{e.path() / "stat"};
      std::string pid, name, st;
      pid_t ppid = 0;
      if (in >> pid >> name >> st >> ppid && ppid == pid_
          && name == "(" + comm + ")") {
        return static_cast<pid_t>(std::stoi(pid));
      }
    }
    return 0;
  }

  const std::filesystem::path& directory() const { return dir_; }

private:
  std::filesystem::path dir_;
  pid_t pid_ = -1;
};

} // namespace pcloud::bench
