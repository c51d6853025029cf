#include "runtime/pid_watcher.hpp"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <mutex>

#include <gtest/gtest.h>

using namespace pcloud::runtime;
using namespace std::chrono_literals;

namespace {

/// Waits for one callback's text.
struct outcome {
  std::mutex mtx;
  std::condition_variable cv;
  std::string text;

  pid_watcher::exit_callback callback() {
    return [this](const std::string& how) {
      std::lock_guard<std::mutex> guard{mtx};
      text = how;
      cv.notify_all();
    };
  }

  std::string wait() {
    std::unique_lock<std::mutex> guard{mtx};
    cv.wait_for(guard, 10s, [this] { return !text.empty(); });
    return text;
  }
};

pid_t spawn_child(int exit_code_or_sleep) {
  auto pid = fork();
  if (pid == 0) {
    if (exit_code_or_sleep < 0) {
      pause();
    }
    _exit(exit_code_or_sleep);
  }
  return pid;
}

} // namespace

TEST(pid_watcher, reports_a_killed_child_and_reaps_it) {
  pid_watcher w;
  outcome out;
  auto pid = spawn_child(-1);
  ASSERT_TRUE(w.watch(pid, out.callback()));
  kill(pid, SIGKILL);
  EXPECT_EQ(out.wait(), "killed by signal 9");
  // Reaped already: nothing left to wait for.
  EXPECT_EQ(waitpid(pid, nullptr, WNOHANG), -1);
}

TEST(pid_watcher, reports_an_exit_code) {
  pid_watcher w;
  outcome out;
  auto pid = spawn_child(-1);
  ASSERT_TRUE(w.watch(pid, out.callback()));
  kill(pid, SIGTERM);
  EXPECT_EQ(out.wait(), "killed by signal 15");
  auto pid2 = spawn_child(3);
  outcome out2;
  if (auto res = w.watch(pid2, out2.callback()); !res) {
    // It may be a zombie already: still watchable until reaped.
    FAIL() << res.error();
  }
  EXPECT_EQ(out2.wait(), "exited with code 3");
}

TEST(pid_watcher, a_process_that_is_gone_is_an_error) {
  pid_watcher w;
  auto pid = spawn_child(0);
  waitpid(pid, nullptr, 0);
  auto res = w.watch(pid, [](const std::string&) {});
  EXPECT_FALSE(res);
}

TEST(pid_watcher, forgotten_processes_are_not_reported) {
  pid_watcher w;
  outcome out;
  auto pid = spawn_child(-1);
  ASSERT_TRUE(w.watch(pid, out.callback()));
  w.forget(pid);
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  std::unique_lock<std::mutex> guard{out.mtx};
  EXPECT_FALSE(
    out.cv.wait_for(guard, 200ms, [&] { return !out.text.empty(); }));
}

TEST(pid_file, reads_a_pid_and_refuses_garbage) {
  auto path = ::testing::TempDir() + "pcloud-test.pid";
  {
    FILE* f = fopen(path.c_str(), "w");
    fputs("4242\n", f);
    fclose(f);
  }
  auto pid = read_pid_file(path);
  ASSERT_TRUE(pid) << pid.error();
  EXPECT_EQ(*pid, 4242);
  {
    FILE* f = fopen(path.c_str(), "w");
    fputs("qemu\n", f);
    fclose(f);
  }
  EXPECT_FALSE(read_pid_file(path));
  EXPECT_FALSE(read_pid_file(path + ".missing"));
}

TEST(pid_watcher, reaps_zombie_children_by_command_only) {
  // Two children that exit at once: one named like qemu, one not.
  auto qemu_like = fork();
  if (qemu_like == 0) {
    execl("/bin/sh", "qemu-system-x86_64", "-c", "exit 0", nullptr);
    _exit(127);
  }
  auto other = spawn_child(0);
  // Wait until both are zombies (state Z) without reaping them.
  for (auto pid : {qemu_like, other}) {
    siginfo_t info{};
    ASSERT_EQ(waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOWAIT),
              0);
  }
  // comm of the exec'd shell is "sh": name the prefix after it.
  EXPECT_EQ(pid_watcher::reap_zombies("sh"), 1u);
  EXPECT_EQ(waitpid(qemu_like, nullptr, WNOHANG), -1) << "reaped already";
  EXPECT_EQ(waitpid(other, nullptr, WNOHANG), other) << "left alone";
}
