// Client-observed downtime: how long a client on the host gets no answer
// from a service in a tiny TCG guest, reached through its port forward.
//
// A client thread asks GET / every 5 ms on a fresh connection. Downtime is
// the time from the last HTTP 200 before the failure to the first one after
// it, both as the client saw them. Cases:
//   (a) busybox httpd killed with SIGKILL inside the guest (typed on its
//       serial console, as the original's users did);
//   (b) the VM forced off from outside (SIGTERM to its qemu: what a destroy
//       sends first, and all that embed mode lets another process do);
//   (c) case (a) for the same busybox httpd under supervisord on the host,
//       when supervisord is installed (apt-get install supervisor);
//   (d) case (b) three times in a row for the same assembly, within its
//       window, with pcloud's default escalation settings (3 VM failures
//       in 300 s; 500 ms before every restart after the first): the
//       downtime of each failure by its place in the window. Goal: the
//       second and third within 1 s of the first (a doubling backoff made
//       the second 5 s longer). Printed as a table and one JSON line.
//
//   pcloud_bench_downtime [TRIALS]   (default 20)
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include <caf/all.hpp>

#include "actors/deployable.hpp"
#include "actors/event_bus.hpp"
#include "runtime/guest_gateway.hpp"
#include "runtime/logging.hpp"
#include "runtime/scheduler_settings.hpp"
#include "runtime/service_prober.hpp"
#include "tests/bench/bench_stats.hpp"
#include "tests/bench/supervisord.hpp"
#include "tests/bench/vm_bench.hpp"
#include "tests/support/fakes.hpp"
#include "tests/support/http.hpp"
#include "tests/support/live.hpp"
#include "tests/support/vm.hpp"

using namespace pcloud;
using namespace std::chrono_literals;
using bench_clock = std::chrono::steady_clock;
using ms = std::chrono::duration<double, std::milli>;
namespace fs = std::filesystem;

namespace {

constexpr auto poll_interval = 5ms;

/// Asks the service every 5 ms and remembers every answer.
class client {
public:
  explicit client(uint16_t port) : port_(port), thread_([this] { run(); }) {
    // nop
  }

  ~client() {
    done_ = true;
    thread_.join();
  }

  /// Waits until the last `n` answers were all 200.
  bool steady(size_t n, std::chrono::seconds timeout) {
    auto deadline = bench_clock::now() + timeout;
    while (bench_clock::now() < deadline) {
      {
        std::lock_guard<std::mutex> guard{mtx_};
        if (samples_.size() >= n
            && std::all_of(samples_.end() - static_cast<long>(n),
                           samples_.end(), [](auto& s) { return s.ok; })) {
          return true;
        }
      }
      std::this_thread::sleep_for(poll_interval);
    }
    return false;
  }

  /// Downtime around a failure caused at `at`: from the last 200 before the
  /// first failed request after `at` to the first 200 after it. When no
  /// request failed, the gap between the 200s around `at` (the resolution).
  std::optional<double> downtime(bench_clock::time_point at,
                                 std::chrono::seconds timeout) {
    auto deadline = bench_clock::now() + timeout;
    while (bench_clock::now() < deadline) {
      {
        std::lock_guard<std::mutex> guard{mtx_};
        auto i = std::find_if(samples_.begin(), samples_.end(),
                              [&](auto& s) { return s.at >= at && !s.ok; });
        auto settled = !samples_.empty() && samples_.back().at > at + 2s;
        if (i == samples_.end() && settled) {
          i = std::find_if(samples_.begin(), samples_.end(),
                           [&](auto& s) { return s.at >= at; });
        }
        if (i != samples_.end() && i != samples_.begin()) {
          auto back
            = std::find_if(i, samples_.end(), [](auto& s) { return s.ok; });
          auto before
            = std::find_if(std::make_reverse_iterator(i), samples_.rend(),
                           [](auto& s) { return s.ok; });
          if (back != samples_.end() && before != samples_.rend()) {
            return ms(back->at - before->at).count();
          }
        }
      }
      std::this_thread::sleep_for(50ms);
    }
    return std::nullopt;
  }

private:
  struct sample {
    bench_clock::time_point at;
    bool ok;
  };

  void run() {
    auto next = bench_clock::now();
    while (!done_) {
      auto at = bench_clock::now();
      auto ok = test::http_get(port_, 500ms).status == 200;
      {
        std::lock_guard<std::mutex> guard{mtx_};
        samples_.push_back({at, ok});
      }
      next += poll_interval;
      auto now = bench_clock::now();
      if (next < now) {
        next = now;
      }
      std::this_thread::sleep_until(next);
    }
  }

  uint16_t port_;
  std::atomic<bool> done_{false};
  std::mutex mtx_;
  std::vector<sample> samples_;
  std::thread thread_;
};

/// A free TCP port on 127.0.0.1, for the forwards.
uint16_t free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa));
  socklen_t len = sizeof(sa);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
  ::close(fd);
  return ntohs(sa.sin_port);
}

/// The guest's serial console (a pty), open for the whole run: QEMU takes a
/// pty nobody holds open for disconnected and drops what was typed.
class console {
public:
  explicit console(const std::string& pty)
      : fd_(::open(pty.c_str(), O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK)) {
    if (fd_ >= 0) {
      termios t{};
      ::tcgetattr(fd_, &t);
      ::cfmakeraw(&t);
      ::tcsetattr(fd_, TCSANOW, &t);
    }
  }

  ~console() {
    if (fd_ >= 0) {
      ::close(fd_);
    }
  }

  bool ok() const { return fd_ >= 0; }

  /// Types `line`, after reading away what the guest wrote meanwhile.
  void type(const std::string& line) {
    char buf[4096];
    while (::read(fd_, buf, sizeof(buf)) > 0) {
      // drained
    }
    auto text = line + "\r";
    (void)!::write(fd_, text.data(), text.size());
  }

private:
  int fd_;
};

/// Case (c): busybox httpd under supervisord on the host.
std::vector<double> supervisord_trials(int trials) {
  std::vector<double> result;
  if (!bench::supervised_program::available()) {
    std::printf("(c) supervisord not installed (apt-get install supervisor): "
                "skipped\n");
    return result;
  }
  auto www = fs::temp_directory_path()
             / ("pcloud-bench-www-" + std::to_string(::getpid()));
  fs::create_directories(www);
  std::ofstream{www / "index.html"} << "supervised\n";
  auto port = free_port();
  {
    bench::supervised_program sv{"/bin/busybox httpd -f -p 127.0.0.1:"
                                 + std::to_string(port) + " -h "
                                 + www.string()};
    client c{port};
    for (int i = 0; i < trials; ++i) {
      if (!c.steady(40, 30s)) {
        std::printf("(c) supervisord's httpd does not answer: stopped\n");
        break;
      }
      auto pid = sv.child("busybox");
      if (pid == 0) {
        break;
      }
      auto at = bench_clock::now();
      ::kill(pid, SIGKILL);
      if (auto d = c.downtime(at, 30s)) {
        result.push_back(*d);
      }
    }
  }
  fs::remove_all(www);
  return result;
}

/// Prints case (d): downtime by the failure's place in the window, as a
/// table and as one JSON line; answers whether the goal was met.
bool print_repeated(const std::array<std::vector<double>, 3>& by_place) {
  const char* names[]
    = {"(d) 1st VM failure", "(d) 2nd VM failure", "(d) 3rd VM failure"};
  bench::stats st[3];
  for (size_t i = 0; i < 3; ++i) {
    st[i] = bench::print_stats(names[i], by_place[i],
                               i == 0 ? "(default settings)"
                                      : "(goal: within 1000 ms of the 1st)");
  }
  bool complete
    = !by_place[0].empty() && !by_place[1].empty() && !by_place[2].empty();
  bool met = complete && st[1].median - st[0].median <= 1000
             && st[2].median - st[0].median <= 1000;
  std::printf("(d) goal %s: 2nd %+.0f ms, 3rd %+.0f ms against the 1st "
              "(medians)\n",
              !complete ? "not measured"
              : met     ? "met"
                        : "MISSED",
              st[1].median - st[0].median, st[2].median - st[0].median);
  std::printf("{\"benchmark\": \"repeated_vm_failures\", \"unit\": \"ms\"");
  const char* keys[] = {"first", "second", "third"};
  for (size_t i = 0; i < 3; ++i) {
    std::printf(", \"%s\": {\"trials\": %zu, \"median\": %.1f, \"p95\": "
                "%.1f}",
                keys[i], by_place[i].size(), st[i].median, st[i].p95);
  }
  std::printf(", \"goal_met\": %s}\n", met ? "true" : "false");
  return met;
}

} // namespace

int main(int argc, char** argv) {
  int trials = bench::trials_from(argc, argv, 20);
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  if (trials < 1) {
    return 2;
  }
  bench::vm_bench vm;
  if (!vm.ready()) {
    return 1;
  }
  auto [env, sys, hv] = vm.parts();
  auto bus = sys.spawn(actors::event_bus, size_t{100});
  auto gw = runtime::spawn_guest_gateway(sys);
  // The tree's events tell whether a kill really happened: a trial counts
  // only once pcloud has seen the failure and recovered from it.
  auto events = std::make_shared<test::sink<msg::event>>();
  auto rec = sys.spawn([events](msg::event_listener_actor::pointer)
                         -> msg::event_listener_actor::behavior_type {
    return {[events](const msg::event& ev) { events->push(ev); }};
  });
  caf::anon_send(bus, caf::subscribe_atom::value, rec);
  auto count
    = [](const std::vector<msg::event>& xs, const std::string& resource) {
        size_t n = 0;
        for (auto& ev : xs) {
          n += ev.state == msg::state::active && ev.resource == resource
               && ev.restarts > 0;
        }
        return n;
      };
  auto recoveries = [&](const std::string& resource) {
    return count(events->items(), resource);
  };
  auto recovered = [&](const std::string& resource, size_t before) {
    return events->wait_for(
      [&](const std::vector<msg::event>& xs) {
        return count(xs, resource) > before;
      },
      std::chrono::milliseconds{240000});
  };
  auto port = free_port();
  msg::resource_spec httpd;
  httpd.name = "httpd";
  httpd.resource_class = "exec";
  httpd.type = "httpd -f -p 80 -h /www";
  httpd.ports = {{"http", "tcp", 80, port}};
  msg::deployable_spec spec;
  spec.name = "bench";
  spec.assemblies = {test::make_assembly("assy1", {})};
  spec.assemblies[0].resources = {httpd};
  spec.resource_escalation = msg::no_escalation_policy();
  spec.assembly_escalation = msg::no_escalation_policy();
  auto dep = sys.spawn(actors::deployable, spec,
                       actors::tree_context{{}, bus, *hv, gw, {}, "127.0.0.1"});
  std::printf("client-observed downtime, tiny TCG guest (%s), %d trials per "
              "case\n",
              env.uri().c_str(), trials);
  std::printf("settings: no backoff, no escalation at either level "
              "(no_escalation_policy); user-mode networking, 127.0.0.1:%u -> "
              "80; client: GET / every %lld ms, fresh connection each\n",
              port, static_cast<long long>(poll_interval.count()));
  caf::anon_send(dep, msg::start_atom::value);
  std::vector<double> killed, forced_off;
  {
    client c{port};
    if (!c.steady(20, 240s)) {
      std::fprintf(stderr, "the guest's httpd never answered on port %u\n",
                   port);
      return 1;
    }
    caf::scoped_actor self{sys};
    std::string pty;
    self->request(*hv, 10s, msg::console_atom::value, std::string{"assy1"})
      .receive([&](std::string& path) { pty = path; }, [](caf::error&) {});
    console tty{pty};
    if (!tty.ok()) {
      std::fprintf(stderr, "cannot open the guest console %s\n", pty.c_str());
    }
    for (int i = 0; i < trials && tty.ok(); ++i) {
      if (!c.steady(40, 60s)) {
        break;
      }
      auto before = recoveries("httpd");
      auto at = bench_clock::now();
      tty.type("killall -9 httpd");
      if (!recovered("httpd", before)) {
        std::printf("(a) trial %d: pcloud saw no failure of httpd\n", i + 1);
        continue;
      }
      if (auto d = c.downtime(at, 30s)) {
        killed.push_back(*d);
      }
    }
    for (int i = 0; i < trials; ++i) {
      if (!c.steady(40, 240s)) {
        break;
      }
      auto pid = env.qemu_pid("pcloud-assy1");
      if (!pid) {
        break;
      }
      auto before = recoveries("");
      auto at = bench_clock::now();
      ::kill(*pid, SIGTERM);
      if (!recovered("", before)) {
        std::printf("(b) trial %d: pcloud saw no VM failure\n", i + 1);
        continue;
      }
      if (auto d = c.downtime(at, 240s)) {
        forced_off.push_back(*d);
      }
    }
  }
  // The tree first, so nothing starts the VM again, then the VM.
  caf::anon_send_exit(dep, caf::exit_reason::user_shutdown);
  caf::scoped_actor self{sys};
  auto destroy = [&] {
    self->request(*hv, 60s, msg::destroy_atom::value, std::string{"assy1"})
      .receive([](caf::ok_atom) {}, [](caf::error&) {});
  };
  destroy();
  // (d) Rounds of three force-offs, each round with a fresh tree (a fresh
  // window) and pcloud's defaults; a real prober, so ACTIVE is reachable.
  std::array<std::vector<double>, 3> by_place;
  int dropped = 0;
  auto prober = runtime::spawn_service_prober(sys);
  auto defaults = spec;
  defaults.resource_escalation = msg::default_resource_policy();
  defaults.assembly_escalation = msg::default_assembly_policy();
  auto rounds = std::max(1, trials / 4);
  for (int round = 0; round < rounds; ++round) {
    auto d
      = sys.spawn(actors::deployable, defaults,
                  actors::tree_context{{}, bus, *hv, gw, prober, "127.0.0.1"});
    caf::anon_send(d, msg::start_atom::value);
    {
      client c{port};
      for (size_t place = 0; place < 3; ++place) {
        auto pid
          = c.steady(40, 240s) ? env.qemu_pid("pcloud-assy1") : std::nullopt;
        if (!pid) {
          ++dropped;
          break;
        }
        auto before = recoveries("");
        auto at = bench_clock::now();
        ::kill(*pid, SIGTERM);
        auto down = recovered("", before) ? c.downtime(at, 240s) : std::nullopt;
        if (!down) {
          ++dropped;
          break;
        }
        by_place[place].push_back(*down);
      }
    }
    caf::anon_send_exit(d, caf::exit_reason::user_shutdown);
    destroy();
  }
  caf::anon_send_exit(prober, caf::exit_reason::user_shutdown);
  for (auto h :
       {caf::actor_cast<caf::actor>(bus), caf::actor_cast<caf::actor>(gw),
        caf::actor_cast<caf::actor>(rec), caf::actor_cast<caf::actor>(*hv)}) {
    caf::anon_send_exit(h, caf::exit_reason::user_shutdown);
  }
  auto supervised = supervisord_trials(trials);
  if (killed.empty() || forced_off.empty()) {
    std::fprintf(stderr,
                 "no downtime measured (httpd killed: %zu, VM forced "
                 "off: %zu)\n",
                 killed.size(), forced_off.size());
    return 1;
  }
  auto a = bench::print_stats("(a) httpd kill -9 in guest", killed,
                              "(goal: median <= 50 ms)");
  bench::print_stats("(b) VM forced off", forced_off,
                     "(goal: median <= 6 s under TCG)");
  if (!supervised.empty()) {
    auto c = bench::print_stats("(c) supervisord, host", supervised,
                                "(busybox httpd, kill -9)");
    std::printf("ratio (a)/(c): median %.2f, p95 %.2f\n", a.median / c.median,
                a.p95 / c.p95);
  }
  std::printf("(d) %d round%s of three force-offs; %d dropped (no steady "
              "service or no recovery seen)\n",
              rounds, rounds == 1 ? "" : "s", dropped);
  print_repeated(by_place);
  std::printf("resolution: one request every %lld ms; a downtime under it "
              "means no request failed\n",
              static_cast<long long>(poll_interval.count()));
  return 0;
}
