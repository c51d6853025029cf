// VM failure detection and restart latency on qemu:///embed with the tiny
// JEOS under TCG. Each trial kills the guest's qemu with SIGKILL once it has
// booted and measures, from the kill:
//   detection  -- until the assembly's RECOVERING event reaches a subscriber
//   running    -- until the assembly is ACTIVE on a new domain (started)
//   booted     -- until the new guest printed its ready line on the console
//
//   pcloud_bench_vm_restart [TRIALS] [--agent]     (default 20 trials)
//
// With --agent the real guest gateway talks to pcloud-agent in the guest, and
// "running" becomes the agent's hello on the new domain: the guest usable
// again. Without it the agent is faked (hello as soon as the domain started).
//
// Goals: detection at most 20 ms; running again at most 1.5 s.
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <thread>

#include <caf/all.hpp>

#include "actors/deployable.hpp"
#include "actors/event_bus.hpp"
#include "runtime/guest_gateway.hpp"
#include "runtime/hypervisor.hpp"
#include "runtime/logging.hpp"
#include "runtime/scheduler_settings.hpp"
#include "tests/bench/bench_stats.hpp"
#include "tests/bench/vm_bench.hpp"
#include "tests/support/fakes.hpp"
#include "tests/support/live.hpp"
#include "tests/support/vm.hpp"

using namespace pcloud;
using namespace std::chrono_literals;
using bench_clock = std::chrono::steady_clock;
using ms = std::chrono::duration<double, std::milli>;

using bench::print_stats;

namespace {

struct seen {
  bench_clock::time_point at;
  msg::event ev;
};

bool wait_until(std::function<bool()> pred, std::chrono::seconds timeout) {
  auto deadline = bench_clock::now() + timeout;
  while (bench_clock::now() < deadline) {
    if (pred()) {
      return true;
    }
    std::this_thread::sleep_for(2ms);
  }
  return false;
}

} // namespace

int main(int argc, char** argv) {
  int trials = 20;
  bool real_agent = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--agent") {
      real_agent = true;
    } else {
      trials = std::atoi(argv[i]);
    }
  }
  if (trials < 1) {
    std::fprintf(stderr, "usage: %s [TRIALS] [--agent]\n", argv[0]);
    return 2;
  }
  bench::vm_bench vm;
  if (!vm.ready()) {
    return 1;
  }
  auto [env, sys, hv] = vm.parts();
  auto out = std::make_shared<test::sink<seen>>();
  auto bus = sys.spawn(actors::event_bus, size_t{100});
  auto gw = real_agent ? runtime::spawn_guest_gateway(sys)
                       : test::spawn_fake_gateway(
                         sys, std::make_shared<test::gateway_script>());
  auto rec = sys.spawn([out](msg::event_listener_actor::pointer)
                         -> msg::event_listener_actor::behavior_type {
    return {[out](const msg::event& ev) {
      out->push(seen{bench_clock::now(), ev});
    }};
  });
  caf::anon_send(bus, caf::subscribe_atom::value, rec);
  msg::deployable_spec spec;
  spec.name = "bench";
  spec.assemblies = {test::make_assembly("assy1", {})};
  // Keep backoff and escalation out of the measurement.
  spec.assembly_escalation = msg::no_escalation_policy();
  auto dep = sys.spawn(actors::deployable, spec,
                       actors::tree_context{{}, bus, *hv, gw, {}, "127.0.0.1"});
  caf::anon_send(dep, msg::start_atom::value);

  std::printf("VM restart on %s, tiny JEOS under TCG, %d trials\n",
              env.uri().c_str(), trials);
  std::printf("settings: assembly escalation off, no backoff (every restart "
              "immediate); %s\n",
              real_agent ? "pcloud-agent in the guest, real gateway"
                         : "guest agent faked (hello at domain start)");
  std::vector<double> detect, running, booted;
  for (int i = 0; i < trials; ++i) {
    if (!wait_until([&] { return env.boots("assy1") >= size_t(i + 1); },
                    240s)) {
      std::fprintf(stderr, "trial %d: guest did not boot\n", i);
      break;
    }
    auto pid = env.qemu_pid("pcloud-assy1");
    if (!pid) {
      std::fprintf(stderr, "trial %d: no qemu pid\n", i);
      break;
    }
    auto mark = out->items().size();
    auto t0 = bench_clock::now();
    kill(*pid, SIGKILL);
    bench_clock::time_point t_detect{}, t_running{};
    out->wait_for(
      [&](const std::vector<seen>& xs) {
        for (size_t j = mark; j < xs.size(); ++j) {
          auto& ev = xs[j].ev;
          if (ev.assembly != "assy1" || !ev.resource.empty()) {
            continue;
          }
          if (ev.state == msg::state::recovering
              && t_detect == bench_clock::time_point{}) {
            t_detect = xs[j].at;
          }
          if (ev.state == msg::state::active) {
            t_running = xs[j].at;
            return true;
          }
        }
        return false;
      },
      60s);
    if (t_running == bench_clock::time_point{}) {
      std::fprintf(stderr, "trial %d: VM not running again within 60 s\n", i);
      break;
    }
    wait_until([&] { return env.boots("assy1") >= size_t(i + 2); }, 240s);
    auto t_booted = bench_clock::now();
    detect.push_back(ms(t_detect - t0).count());
    running.push_back(ms(t_running - t0).count());
    booted.push_back(ms(t_booted - t0).count());
  }
  int rc = 1;
  if (!detect.empty()) {
    print_stats("detection", detect, "(goal: at most 20 ms)");
    if (real_agent) {
      print_stats("agent hello", running, "(the guest usable again)");
    } else {
      print_stats("running", running, "(goal: at most 1500 ms)");
    }
    print_stats("booted", booted, "(console ready line, polled every 2 ms)");
    rc = static_cast<int>(detect.size()) == trials ? 0 : 1;
  }
  caf::anon_send(dep, msg::stop_atom::value);
  wait_until([&] { return !env.qemu_pid("pcloud-assy1"); }, 60s);
  for (auto h :
       {caf::actor_cast<caf::actor>(dep), caf::actor_cast<caf::actor>(*hv),
        caf::actor_cast<caf::actor>(bus), caf::actor_cast<caf::actor>(gw),
        caf::actor_cast<caf::actor>(rec)}) {
    caf::anon_send_exit(h, caf::exit_reason::user_shutdown);
  }
  return rc;
}
