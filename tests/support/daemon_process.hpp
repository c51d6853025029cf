// pcloudd as a process of its own and pcloudsh runs against it: what an
// operator does, for tests that drive the product from outside.
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace pcloud::test {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

struct shell_result {
  int rc = -1;
  std::string out;
  std::string err;
};

inline std::string slurp(const std::string& path) {
  std::ifstream in{path};
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

/// Waits for `pred` (a file or a process state, never an actor), checking
/// every 20 ms; false on timeout.
inline bool wait_until(const std::function<bool()>& pred,
                       std::chrono::milliseconds timeout = 30s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) {
      return true;
    }
    std::this_thread::sleep_for(20ms);
  }
  return pred();
}

class daemon_fixture : public ::testing::Test {
protected:
  /// `tmpl`: mkdtemp template of the state directory; `uri`: libvirt's.
  daemon_fixture(std::string tmpl, std::string uri) : uri(std::move(uri)) {
    dir = ::mkdtemp(tmpl.data());
  }

  ~daemon_fixture() override {
    if (daemon_pid > 0) {
      stop_daemon(SIGKILL);
    }
    fs::remove_all(dir);
  }

  void start_daemon() {
    fs::remove(dir + "/shell.address");
    daemon_pid = ::fork();
    if (daemon_pid == 0) {
      auto log = dir + "/pcloudd.log";
      std::vector<std::string> args{PCLOUDD_BINARY, "--state-dir", dir,
                                    "--uri",        uri,           "--listen",
                                    "127.0.0.1:0",  "--log-file",  log};
      args.insert(args.end(), daemon_args.begin(), daemon_args.end());
      std::vector<char*> argv;
      for (auto& a : args) {
        argv.push_back(a.data());
      }
      argv.push_back(nullptr);
      ::execv(PCLOUDD_BINARY, argv.data());
      ::_exit(127);
    }
    ASSERT_TRUE(wait_until([&] { return fs::exists(dir + "/shell.address"); }))
      << slurp(dir + "/pcloudd.log");
  }

  /// Sends `sig` and waits for the daemon; its wait status.
  int stop_daemon(int sig) {
    ::kill(daemon_pid, sig);
    int status = -1;
    wait_until([&] { return ::waitpid(daemon_pid, &status, WNOHANG) != 0; });
    daemon_pid = -1;
    return status;
  }

  shell_result sh(const std::vector<std::string>& args,
                  const std::string& input = {},
                  const std::vector<std::string>& options = {}) {
    auto in = dir + "/sh.in", out = dir + "/sh.out", err = dir + "/sh.err";
    std::ofstream{in} << input;
    auto pid = ::fork();
    if (pid == 0) {
      std::vector<std::string> argv{PCLOUDSH_BINARY};
      if (options.empty()) {
        argv.push_back("--state-dir");
        argv.push_back(dir);
      }
      argv.insert(argv.end(), options.begin(), options.end());
      argv.insert(argv.end(), args.begin(), args.end());
      std::vector<char*> cargv;
      for (auto& a : argv) {
        cargv.push_back(a.data());
      }
      cargv.push_back(nullptr);
      std::freopen(in.c_str(), "r", stdin);
      std::freopen(out.c_str(), "w", stdout);
      std::freopen(err.c_str(), "w", stderr);
      ::execv(PCLOUDSH_BINARY, cargv.data());
      ::_exit(127);
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    shell_result r;
    r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    r.out = slurp(out);
    r.err = slurp(err);
    return r;
  }

  /// The image store's view of a built tiny JEOS (test:///default boots
  /// nothing, so empty files do).
  void fake_tiny_jeos() {
    fs::create_directories(dir + "/images/tiny");
    for (auto f : {"stamp", "vmlinuz", "initrd.img"}) {
      std::ofstream{dir + "/images/tiny/" + f} << "x";
    }
  }

  std::string uuid_of(const std::string& assembly) {
    auto text = slurp(dir + "/definitions/assemblies/" + assembly + ".xml");
    std::smatch m;
    std::regex re{"uuid=\"([0-9a-f-]+)\""};
    return std::regex_search(text, m, re) ? m[1].str() : std::string{};
  }

  std::string uri;
  /// More options for pcloudd.
  std::vector<std::string> daemon_args;
  std::string dir;
  pid_t daemon_pid = -1;
};

} // namespace pcloud::test
