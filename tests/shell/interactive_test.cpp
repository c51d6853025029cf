// pcloudsh's interactive mode under a pseudo-terminal, as a person uses it:
// Tab completion of commands and names, and events printed live while the
// shell waits for input.
#include <poll.h>
#include <pty.h>

#include "tests/support/daemon_process.hpp"

namespace {

using namespace pcloud::test;

/// pcloudsh on the slave side of a pty; the test types on the master side.
class terminal {
public:
  explicit terminal(const std::string& state_dir) {
    pid_ = ::forkpty(&master_, nullptr, nullptr, nullptr);
    if (pid_ == 0) {
      ::setenv("HOME", state_dir.c_str(), 1);
      ::setenv("TERM", "dumb", 1);
      ::execl(PCLOUDSH_BINARY, PCLOUDSH_BINARY, "--state-dir",
              state_dir.c_str(), static_cast<char*>(nullptr));
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

class interactive : public daemon_fixture {
protected:
  interactive()
      : daemon_fixture("/tmp/pcloudsh-pty-XXXXXX", "test:///default") {
    // nop
  }
};

TEST_F(interactive, completes_commands_and_names_and_shows_events_live) {
  start_daemon();
  fs::create_directories(dir + "/images/tiny");
  for (auto f : {"stamp", "vmlinuz", "initrd.img"}) {
    std::ofstream{dir + "/images/tiny/" + f} << "x";
  }
  ASSERT_EQ(sh({}, "assembly_create assy1 tiny x86_64\n"
                   "deployable_create shop\n"
                   "deployable_assembly_add shop assy1\n")
              .rc,
            0);
  terminal t{dir};
  ASSERT_TRUE(t.expect("pcloudsh> ")) << t.screen();
  // A unique command prefix completes; so does a deployable's name.
  t.type("deployable_li\t\n");
  ASSERT_TRUE(t.expect("deployable_list")) << t.screen();
  ASSERT_TRUE(t.expect("shop  assy1")) << t.screen();
  ASSERT_TRUE(t.expect("pcloudsh> ")) << t.screen();
  t.type("deployable_status sh\t\n");
  ASSERT_TRUE(t.expect("deployable_status shop")) << t.screen();
  ASSERT_TRUE(t.expect("shop/assy1  STOPPED")) << t.screen();
  ASSERT_TRUE(t.expect("pcloudsh> ")) << t.screen();
  // Another shell starts the deployable; this one shows it as it happens,
  // while its own prompt waits.
  t.type("deployable_sta");
  ASSERT_EQ(sh({"deployable_start", "shop"}).rc, 0);
  ASSERT_TRUE(t.expect("shop STARTING: starting 1 assemblies")) << t.screen();
  ASSERT_TRUE(t.expect("pcloudsh> deployable_sta")) << "the line was redrawn\n"
                                                    << t.screen();
  t.type("tus shop\n");
  ASSERT_TRUE(t.expect("shop/assy1  STARTING")) << t.screen();
  t.type("bogus\n");
  ASSERT_TRUE(t.expect("unknown command 'bogus'")) << t.screen();
  t.type("quit\n");
  EXPECT_EQ(t.wait_exit(), 0);
  EXPECT_NE(slurp(dir + "/.pcloudsh_history").find("deployable_status shop"),
            std::string::npos);
}

} // namespace
