// Resource MTTR: SIGKILL of an exec resource until its process runs again.
//
//   floor        a minimal supervisor: fork/exec, pidfd, restart at once
//   pcloud       pcloud-agent on this host over a socketpair to the real
//                guest gateway and the real supervision tree (resource actor
//                decides)
//   supervisord  the same process under Debian's supervisord (autorestart,
//                startsecs=0), when it is installed; at most 100 trials, as
//                each waits for supervisord's one-second tick
//
// Backoff and escalation are off (no_escalation_policy) so they stay out of
// the measurement. "Running again" is the new process's exec as the kernel
// stamps it (the proc connector, exec_watch.hpp), the same observer for all
// three; pcloud's row "pcloud ACTIVE" is the time until the tree also says
// so (the agent's report of the exec, back through the gateway).
//
//   pcloud_bench_resource_mttr [TRIALS]   (default 200)
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <thread>

#include <spdlog/spdlog.h>

#include "actors/deployable.hpp"
#include "actors/event_bus.hpp"
#include "guest/agent/process.hpp"
#include "runtime/guest_gateway.hpp"
#include "runtime/scheduler_settings.hpp"
#include "tests/bench/bench_stats.hpp"
#include "tests/bench/exec_watch.hpp"
#include "tests/bench/supervisord.hpp"
#include "tests/support/fakes.hpp"
#include "tests/support/guest_link.hpp"
#include "tests/support/live.hpp"

using namespace pcloud;
using namespace std::chrono_literals;
using bench_clock = std::chrono::steady_clock;
using ms = std::chrono::duration<double, std::milli>;

using bench::print_stats;

namespace {

void wait_readable(int fd) {
  pollfd p{fd, POLLIN, 0};
  while (poll(&p, 1, -1) < 0 && errno == EINTR) {
  }
}

/// The floor: what any supervisor must at least do.
std::vector<double> floor_trials(int n, bench::exec_watch& watch) {
  guest::launch_spec spec;
  spec.argv = {"sleep", "1000"};
  std::string error;
  auto proc = guest::spawn(spec, error);
  wait_readable(proc.exec_fd());
  proc.exec_result();
  std::vector<double> xs;
  for (int i = 0; i < n; ++i) {
    auto t0 = bench_clock::now();
    kill(proc.pid(), SIGKILL);
    wait_readable(proc.pidfd());
    proc.reap();
    proc = guest::spawn(spec, error);
    auto exec = watch.next(t0, ::getpid(), "sleep", 5s);
    wait_readable(proc.exec_fd());
    proc.exec_result();
    if (!exec) {
      std::fprintf(stderr, "bench: no exec seen in floor trial %d\n", i);
      std::exit(1);
    }
    xs.push_back(ms(exec->at - t0).count());
  }
  kill(proc.pid(), SIGKILL);
  proc.reap();
  return xs;
}

struct timed_event {
  bench_clock::time_point at;
  msg::event ev;
};

/// Kill to exec, and kill to the tree's ACTIVE event.
std::pair<std::vector<double>, std::vector<double>>
pcloud_trials(int n, bench::exec_watch& watch) {
  test::live_config cfg;
  runtime::apply_scheduler_settings(cfg); // as pcloudd runs
  caf::actor_system sys{cfg};
  auto events = std::make_shared<test::sink<timed_event>>();
  auto bus = sys.spawn(actors::event_bus, size_t{100});
  auto recorder = sys.spawn([events](msg::event_listener_actor::pointer)
                              -> msg::event_listener_actor::behavior_type {
    return {[events](const msg::event& ev) {
      events->push({bench_clock::now(), ev});
    }};
  });
  caf::anon_send(bus, caf::subscribe_atom::value, recorder);
  auto hv = test::spawn_fake_hypervisor(
    sys, std::make_shared<test::hypervisor_script>());
  test::fake_channel channel;
  runtime::guest_gateway_options opts;
  opts.connect
    = [&](const msg::domain_info&) { return channel.host_connect(); };
  auto gateway = runtime::spawn_guest_gateway(sys, opts);
  std::vector<double> xs;
  std::vector<double> active;
  {
    test::agent_thread agent{channel, "a1"};
    msg::resource_spec worker;
    worker.name = "worker";
    worker.resource_class = "exec";
    worker.type = "sleep 1000";
    msg::assembly_spec a;
    a.name = "a1";
    a.uuid = "uuid-a1";
    a.resources = {worker};
    msg::deployable_spec spec;
    spec.name = "dep1";
    spec.assemblies = {a};
    spec.resource_escalation = msg::no_escalation_policy();
    auto dep
      = sys.spawn(actors::deployable, spec,
                  actors::tree_context{{}, bus, hv, gateway, {}, "127.0.0.1"});
    caf::anon_send(dep, msg::start_atom::value);
    auto active_events = [&](size_t from) {
      return [from](const std::vector<timed_event>& evs) {
        for (size_t i = from; i < evs.size(); ++i) {
          if (evs[i].ev.resource == "worker"
              && evs[i].ev.state == msg::state::active) {
            return true;
          }
        }
        return false;
      };
    };
    if (!events->wait_for(active_events(0), 20s)) {
      std::fprintf(stderr, "bench: the resource never became active\n");
      std::exit(1);
    }
    for (int i = 0; i < n; ++i) {
      auto pids = test::child_pids("sleep");
      if (pids.size() != 1) {
        std::fprintf(stderr, "bench: expected one worker, found %zu\n",
                     pids.size());
        std::exit(1);
      }
      auto from = events->items().size();
      auto t0 = bench_clock::now();
      kill(pids[0], SIGKILL);
      // The agent runs in this process: the worker is our child.
      auto exec = watch.next(t0, ::getpid(), "sleep", 20s);
      if (!exec || !events->wait_for(active_events(from), 20s)) {
        std::fprintf(stderr, "bench: no recovery in trial %d\n", i);
        std::exit(1);
      }
      xs.push_back(ms(exec->at - t0).count());
      auto evs = events->items();
      for (size_t j = from; j < evs.size(); ++j) {
        if (evs[j].ev.resource == "worker"
            && evs[j].ev.state == msg::state::active) {
          active.push_back(ms(evs[j].at - t0).count());
          break;
        }
      }
    }
    caf::anon_send_exit(dep, caf::exit_reason::user_shutdown);
  }
  test::stop_all({caf::actor_cast<caf::actor>(bus),
                  caf::actor_cast<caf::actor>(hv),
                  caf::actor_cast<caf::actor>(gateway),
                  caf::actor_cast<caf::actor>(recorder)});
  sys.await_all_actors_done();
  return {xs, active};
}

std::vector<double> supervisord_trials(int n, bench::exec_watch& watch) {
  std::vector<double> xs;
  bench::supervised_program sv{"/bin/sleep 1000"};
  // Its first child, found once (before the watch saw it, maybe).
  pid_t pid = 0;
  for (auto deadline = bench_clock::now() + 20s;
       pid == 0 && bench_clock::now() < deadline;) {
    pid = sv.child("sleep");
    std::this_thread::sleep_for(10ms);
  }
  for (int i = 0; i < n && pid != 0; ++i) {
    auto t0 = bench_clock::now();
    kill(pid, SIGKILL);
    auto exec = watch.next(t0, sv.pid(), "sleep", 20s);
    pid = exec ? exec->pid : 0;
    if (exec) {
      xs.push_back(ms(exec->at - t0).count());
    }
  }
  return xs;
}

} // namespace

int main(int argc, char** argv) {
  int n = argc > 1 ? std::atoi(argv[1]) : 200;
  if (n < 1) {
    std::fprintf(stderr, "usage: pcloud_bench_resource_mttr [TRIALS]\n");
    return 2;
  }
  spdlog::set_level(spdlog::level::err);
  bench::exec_watch watch;
  if (!watch.error().empty()) {
    std::fprintf(stderr,
                 "pcloud_bench_resource_mttr: the proc connector is not "
                 "available (%s); run it as root\n",
                 watch.error().c_str());
    return 1;
  }
  std::printf("resource MTTR, SIGKILL -> running again, %d trials each\n"
              "settings: no backoff, no escalation (no_escalation_policy); "
              "agent over a socketpair on this host\n",
              n);
  auto floor = print_stats("floor", floor_trials(n, watch));
  auto [running, active] = pcloud_trials(n, watch);
  auto pc = print_stats("pcloud", running);
  print_stats("pcloud ACTIVE", active);
  std::printf("ratio pcloud/floor: median %.1fx, p95 %.1fx   (goal: median "
              "within 2x)\n",
              pc.median / floor.median, pc.p95 / floor.p95);
  if (!bench::supervised_program::available()) {
    std::printf("supervisord not installed (./setup installs it): skipped\n");
    return 0;
  }
  auto sv
    = print_stats("supervisord", supervisord_trials(std::min(n, 100), watch));
  if (sv.median > 0) {
    std::printf("ratio supervisord/pcloud: median %.0fx, p95 %.0fx\n",
                sv.median / pc.median, sv.p95 / pc.p95);
  }
  return 0;
}
