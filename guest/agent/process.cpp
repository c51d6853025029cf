#include "guest/agent/process.hpp"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <utility>

namespace pcloud::guest {

namespace {

int pidfd_open(pid_t pid) {
  return static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
}

struct identity {
  uid_t uid = 0;
  gid_t gid = 0;
  std::string home;
};

bool resolve_user(const std::string& user, identity& id, std::string& error) {
  passwd pw{};
  passwd* found = nullptr;
  std::vector<char> buf(16384);
  bool numeric = !user.empty()
                 && user.find_first_not_of("0123456789") == std::string::npos;
  if (numeric) {
    getpwuid_r(static_cast<uid_t>(std::strtoul(user.c_str(), nullptr, 10)), &pw,
               buf.data(), buf.size(), &found);
    if (found == nullptr) {
      id.uid = static_cast<uid_t>(std::strtoul(user.c_str(), nullptr, 10));
      id.gid = id.uid;
      id.home = "/";
      return true;
    }
  } else {
    getpwnam_r(user.c_str(), &pw, buf.data(), buf.size(), &found);
  }
  if (found == nullptr) {
    error = "unknown user '" + user + "'";
    return false;
  }
  id.uid = found->pw_uid;
  id.gid = found->pw_gid;
  id.home = found->pw_dir ? found->pw_dir : "/";
  return true;
}

} // namespace

child_process::child_process(pid_t pid, posix::unique_fd pidfd,
                             posix::unique_fd exec_fd)
    : pid_(pid), pidfd_(std::move(pidfd)), exec_fd_(std::move(exec_fd)) {
  // nop
}

child_process::child_process(child_process&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)), pidfd_(std::move(other.pidfd_)),
      exec_fd_(std::move(other.exec_fd_)) {
  // nop
}

child_process& child_process::operator=(child_process&& other) noexcept {
  if (this != &other) {
    clear();
    pid_ = std::exchange(other.pid_, -1);
    pidfd_ = std::move(other.pidfd_);
    exec_fd_ = std::move(other.exec_fd_);
  }
  return *this;
}

void child_process::clear() {
  pidfd_.reset();
  exec_fd_.reset();
  pid_ = -1;
}

int child_process::exec_result() {
  int err = 0;
  ssize_t n;
  do {
    n = read(exec_fd_.get(), &err, sizeof(err));
  } while (n < 0 && errno == EINTR);
  exec_fd_.reset();
  return n == static_cast<ssize_t>(sizeof(err)) ? err : 0;
}

int child_process::reap() {
  int status = 0;
  pid_t r;
  do {
    r = waitpid(pid_, &status, 0);
  } while (r < 0 && errno == EINTR);
  clear();
  return status;
}

void child_process::signal_group(int sig) const {
  if (pid_ > 0) {
    // The child leads its own session; kill(-pid) reaches what it forked.
    if (kill(-pid_, sig) != 0) {
      kill(pid_, sig);
    }
  }
}

child_process spawn(const launch_spec& spec, std::string& error) {
  if (spec.argv.empty()) {
    error = "empty command";
    return {};
  }
  identity id;
  bool switch_user = !spec.user.empty();
  if (switch_user && !resolve_user(spec.user, id, error)) {
    return {};
  }
  // Everything the child needs is prepared before fork: between fork and
  // exec only async-signal-safe calls are allowed (the agent may have
  // threads when it runs inside a test).
  std::map<std::string, std::string> env{
    {"PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
    {"HOME", switch_user ? id.home : "/root"},
    {"LANG", "C"}};
  for (auto& kv : spec.env) {
    env[kv.first] = kv.second;
  }
  std::vector<std::string> env_strings;
  for (auto& kv : env) {
    env_strings.push_back(kv.first + "=" + kv.second);
  }
  std::vector<char*> envp;
  for (auto& s : env_strings) {
    envp.push_back(s.data());
  }
  envp.push_back(nullptr);
  std::vector<std::string> args = spec.argv;
  std::vector<char*> argv;
  for (auto& s : args) {
    argv.push_back(s.data());
  }
  argv.push_back(nullptr);
  std::string dir = spec.directory.empty() ? "/" : spec.directory;
  posix::fd_pair exec_pipe;
  if (!posix::make_pipe(exec_pipe, O_CLOEXEC)) {
    error = std::string{"pipe: "} + strerror(errno);
    return {};
  }
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pid_t pid = fork();
  if (pid == 0) {
    auto fail = [&](int err) {
      [[maybe_unused]] auto n = write(exec_pipe.write.get(), &err, sizeof(err));
      _exit(127);
    };
    for (int sig = 1; sig < NSIG; ++sig) {
      signal(sig, SIG_DFL);
    }
    sigset_t none;
    sigemptyset(&none);
    pthread_sigmask(SIG_SETMASK, &none, nullptr);
    setsid();
    if (spec.quiet) {
      int devnull = open("/dev/null", O_RDWR);
      if (devnull >= 0) {
        dup2(devnull, 0);
        dup2(devnull, 1);
        dup2(devnull, 2);
      }
    } else {
      int devnull = open("/dev/null", O_RDONLY);
      if (devnull >= 0) {
        dup2(devnull, 0);
      }
    }
    if (switch_user) {
      if (setgroups(0, nullptr) != 0 || setgid(id.gid) != 0
          || setuid(id.uid) != 0) {
        fail(errno);
      }
    }
    if (chdir(dir.c_str()) != 0) {
      fail(errno);
    }
    execvpe(argv[0], argv.data(), envp.data());
    fail(errno);
  }
  int fork_errno = errno;
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  exec_pipe.write.reset();
  if (pid < 0) {
    error = std::string{"fork: "} + strerror(fork_errno);
    return {};
  }
  posix::unique_fd pidfd{pidfd_open(pid)};
  if (!pidfd) {
    error = std::string{"pidfd_open: "} + strerror(errno);
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    return {};
  }
  return child_process{pid, std::move(pidfd), std::move(exec_pipe.read)};
}

std::string describe_exit(int wait_status) {
  if (WIFEXITED(wait_status)) {
    return "exited with status " + std::to_string(WEXITSTATUS(wait_status));
  }
  if (WIFSIGNALED(wait_status)) {
    int sig = WTERMSIG(wait_status);
    const char* abbrev = sigabbrev_np(sig);
    return "killed by signal " + std::to_string(sig)
           + (abbrev ? std::string{" (SIG"} + abbrev + ")" : std::string{});
  }
  return "ended with status " + std::to_string(wait_status);
}

bool split_command(const std::string& line, std::vector<std::string>& words,
                   std::string& error) {
  words.clear();
  std::string word;
  bool in_word = false;
  char quote = 0;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (quote != 0) {
      if (c == quote) {
        quote = 0;
      } else if (c == '\\' && quote == '"' && i + 1 < line.size()) {
        word += line[++i];
      } else {
        word += c;
      }
    } else if (c == '\'' || c == '"') {
      quote = c;
      in_word = true;
    } else if (c == '\\' && i + 1 < line.size()) {
      word += line[++i];
      in_word = true;
    } else if (c == ' ' || c == '\t' || c == '\n') {
      if (in_word) {
        words.push_back(std::move(word));
        word.clear();
        in_word = false;
      }
    } else {
      word += c;
      in_word = true;
    }
  }
  if (quote != 0) {
    error = std::string{"unterminated "} + (quote == '"' ? "double" : "single")
            + " quote";
    return false;
  }
  if (in_word) {
    words.push_back(std::move(word));
  }
  if (words.empty()) {
    error = "empty command";
    return false;
  }
  return true;
}

} // namespace pcloud::guest
