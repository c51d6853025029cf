// Notification hooks: real scripts in a real directory, run by the hook
// runner actor on the threaded scheduler.
#include "runtime/hooks.hpp"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "tests/support/live.hpp"

namespace pcloud::runtime {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::string slurp(const std::string& path) {
  std::ifstream in{path};
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

/// Waits for a file the hooks write (the hooks run in processes of their
/// own, so there is no actor to wait on).
bool wait_for_text(const std::string& path, const std::string& text,
                   std::chrono::milliseconds timeout = 20s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (slurp(path).find(text) != std::string::npos) {
      return true;
    }
    std::this_thread::sleep_for(10ms);
  }
  return false;
}

msg::event make(std::string assembly, std::string resource, msg::state s,
                uint64_t seq) {
  msg::event ev;
  ev.sequence = seq;
  ev.time = caf::make_timestamp();
  ev.deployable = "dep1";
  ev.assembly = std::move(assembly);
  ev.resource = std::move(resource);
  ev.state = s;
  ev.reason = "killed by signal 9";
  ev.action = "restarting";
  return ev;
}

class hooks_test : public ::testing::Test {
protected:
  hooks_test() : sys(cfg) {
    char tmpl[] = "/tmp/pcloud-hooks-XXXXXX";
    dir = ::mkdtemp(tmpl);
    fs::create_directories(dir + "/hooks");
  }

  ~hooks_test() override {
    if (runner) {
      caf::anon_send_exit(runner, caf::exit_reason::user_shutdown);
    }
    sys.await_all_actors_done();
    fs::remove_all(dir);
  }

  void hook(const std::string& name, const std::string& body) {
    auto path = dir + "/hooks/" + name;
    std::ofstream{path} << "#!/bin/sh\n" << body << "\n";
    ::chmod(path.c_str(), 0755);
  }

  void start(std::chrono::milliseconds timeout = 5s) {
    hook_options opts;
    opts.directory = dir + "/hooks";
    opts.timeout = timeout;
    runner = spawn_hook_runner(sys, opts);
  }

  void send(const msg::event& ev) { caf::anon_send(runner, ev); }

  std::string log() const { return dir + "/log"; }

  test::live_config cfg;
  caf::actor_system sys;
  std::string dir;
  msg::event_listener_actor runner;
};

TEST(hook_triggers, failed_recovering_and_a_deployable_becoming_active) {
  EXPECT_TRUE(triggers_hooks(make("a", "r", msg::state::failed, 1)));
  EXPECT_TRUE(triggers_hooks(make("a", "", msg::state::recovering, 1)));
  EXPECT_TRUE(triggers_hooks(make("", "", msg::state::active, 1)));
  EXPECT_FALSE(triggers_hooks(make("a", "r", msg::state::active, 1)));
  EXPECT_FALSE(triggers_hooks(make("a", "", msg::state::active, 1)));
  EXPECT_FALSE(triggers_hooks(make("", "", msg::state::stopped, 1)));
  EXPECT_FALSE(triggers_hooks(make("a", "r", msg::state::starting, 1)));
}

TEST_F(hooks_test, hooks_see_the_event_in_their_environment) {
  hook("10-record", "echo \"$PCLOUD_SEQUENCE $PCLOUD_KIND $PCLOUD_PATH "
                    "$PCLOUD_STATE $PCLOUD_REASON|$PCLOUD_ACTION\" >> "
                      + log());
  start();
  send(make("assy2", "httpd", msg::state::active, 1)); // no hook
  send(make("assy2", "httpd", msg::state::recovering, 2));
  send(make("", "", msg::state::active, 3));
  ASSERT_TRUE(wait_for_text(log(), "3 deployable dep1 ACTIVE")) << slurp(log());
  EXPECT_EQ(slurp(log()),
            "2 resource dep1/assy2/httpd RECOVERING killed by signal "
            "9|restarting\n"
            "3 deployable dep1 ACTIVE killed by signal 9|restarting\n");
}

TEST_F(hooks_test, a_hook_that_hangs_is_killed_at_its_timeout) {
  hook("10-hang", "echo start >> " + log() + "; sleep 60 & echo $! > " + dir
                    + "/sleeper; wait; echo late >> " + log());
  hook("20-next", "echo \"next $PCLOUD_SEQUENCE\" >> " + log());
  start(300ms);
  auto begin = std::chrono::steady_clock::now();
  send(make("assy1", "", msg::state::failed, 1));
  ASSERT_TRUE(wait_for_text(log(), "next 1")) << slurp(log());
  auto took = std::chrono::steady_clock::now() - begin;
  EXPECT_LT(took, 10s) << "the hang was not cut short";
  EXPECT_EQ(slurp(log()).find("late"), std::string::npos);
  // What it started dies with it: its process group was killed.
  auto sleeper = slurp(dir + "/sleeper");
  ASSERT_FALSE(sleeper.empty());
  auto stat = "/proc/" + sleeper.substr(0, sleeper.find('\n')) + "/stat";
  auto gone = [&] {
    auto text = slurp(stat);
    auto close = text.rfind(')');
    return text.empty()
           || (close != std::string::npos && text.size() > close + 2
               && text[close + 2] == 'Z');
  };
  for (int i = 0; i < 500 && !gone(); ++i) {
    std::this_thread::sleep_for(10ms); // a process, not an actor
  }
  EXPECT_TRUE(gone()) << slurp(stat);
}

TEST_F(hooks_test, a_failing_hook_changes_nothing_else) {
  hook("10-fail", "echo fail >> " + log() + "; exit 3");
  hook("20-after", "echo \"after $PCLOUD_SEQUENCE\" >> " + log());
  std::ofstream{dir + "/hooks/30-not-executable"} << "#!/bin/sh\necho no\n";
  start();
  send(make("assy1", "web", msg::state::failed, 7));
  send(make("assy1", "web", msg::state::failed, 8));
  ASSERT_TRUE(wait_for_text(log(), "after 8")) << slurp(log());
  EXPECT_EQ(slurp(log()), "fail\nafter 7\nfail\nafter 8\n");
}

// Hooks run as root: only what root alone can change may run.
using hooks_security = hooks_test;

TEST_F(hooks_security, hooks_others_can_change_never_run) {
  hook("10-open", "echo open >> " + log());
  ::chmod((dir + "/hooks/10-open").c_str(), 0757);
  hook("20-group", "echo group >> " + log());
  ::chmod((dir + "/hooks/20-group").c_str(), 0775);
  hook("30-nobody", "echo nobody >> " + log());
  ASSERT_EQ(::chown((dir + "/hooks/30-nobody").c_str(), 65534, 65534), 0);
  hook("bad name", "echo badname >> " + log());
  hook("90-fine", "echo \"fine $PCLOUD_SEQUENCE\" >> " + log());
  start();
  send(make("assy1", "web", msg::state::failed, 1));
  ASSERT_TRUE(wait_for_text(log(), "fine 1")) << slurp(log());
  EXPECT_EQ(slurp(log()), "fine 1\n");
}

TEST_F(hooks_security, a_directory_others_can_change_runs_nothing) {
  hook("10-any", "true");
  std::set<std::string> warned;
  EXPECT_EQ(hooks_in(dir + "/hooks", warned),
            std::vector<std::string>{dir + "/hooks/10-any"});
  ::chmod((dir + "/hooks").c_str(), 0777);
  EXPECT_TRUE(hooks_in(dir + "/hooks", warned).empty());
  EXPECT_EQ(warned.size(), 1u) << "said once";
  EXPECT_TRUE(hooks_in(dir + "/hooks", warned).empty());
  EXPECT_EQ(warned.size(), 1u);
}

} // namespace
} // namespace pcloud::runtime
