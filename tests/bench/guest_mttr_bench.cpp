// Resource MTTR with pcloud-agent in a tiny TCG guest over virtio-serial.
//
// The resource kills itself (SIGKILL, inside the guest) 300 ms after every
// start, so each cycle is one failure and one recovery. The host cannot see
// the kill itself: the figure is the agent's failure report reaching the tree
// (RECOVERING) until the restarted process runs again (ACTIVE), i.e. the
// decision, the command to the guest, fork/exec under TCG and the report
// back. Also printed: domain start until the agent's hello.
//
//   pcloud_bench_guest_mttr [TRIALS]   (default 100)
#include <algorithm>
#include <cstdio>

#include "actors/deployable.hpp"
#include "actors/event_bus.hpp"
#include "runtime/guest_gateway.hpp"
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

} // namespace

int main(int argc, char** argv) {
  int trials = bench::trials_from(argc, argv, 100);
  if (trials < 1) {
    return 2;
  }
  bench::vm_bench vm;
  if (!vm.ready()) {
    return 1;
  }
  auto [env, sys, hv] = vm.parts();
  auto out = std::make_shared<test::sink<seen>>();
  auto bus = sys.spawn(actors::event_bus, size_t{100});
  auto gw = runtime::spawn_guest_gateway(sys);
  auto rec = sys.spawn([out](msg::event_listener_actor::pointer)
                         -> msg::event_listener_actor::behavior_type {
    return {[out](const msg::event& ev) {
      out->push(seen{bench_clock::now(), ev});
    }};
  });
  caf::anon_send(bus, caf::subscribe_atom::value, rec);
  msg::resource_spec worker;
  worker.name = "worker";
  worker.resource_class = "exec";
  worker.type = "sh -c 'sleep 0.3; kill -9 $$'";
  msg::deployable_spec spec;
  spec.name = "bench";
  spec.assemblies = {test::make_assembly("assy1", {})};
  spec.assemblies[0].resources = {worker};
  spec.resource_escalation = msg::no_escalation_policy();
  auto dep = sys.spawn(actors::deployable, spec,
                       actors::tree_context{{}, bus, *hv, gw, {}, "127.0.0.1"});
  std::printf("resource MTTR in a tiny TCG guest (%s), %d trials\n",
              env.uri().c_str(), trials);
  std::printf("settings: no backoff, no escalation (no_escalation_policy); "
              "exec resource SIGKILLs itself 300 ms after each start\n");
  auto t_start = bench_clock::now();
  caf::anon_send(dep, msg::start_atom::value);
  std::vector<double> recovery;
  double hello_ms = 0;
  bench_clock::time_point failed_at{};
  size_t next = 0;
  auto deadline = bench_clock::now() + 240s + trials * 5s;
  while (static_cast<int>(recovery.size()) < trials
         && bench_clock::now() < deadline) {
    out->wait_for([&](const std::vector<seen>& xs) { return xs.size() > next; },
                  5s);
    auto xs = out->items();
    for (; next < xs.size(); ++next) {
      auto& ev = xs[next].ev;
      if (ev.assembly == "assy1" && ev.resource.empty()
          && ev.state == msg::state::active && hello_ms == 0) {
        hello_ms = ms(xs[next].at - t_start).count();
      }
      if (ev.resource != "worker") {
        continue;
      }
      if (ev.state == msg::state::recovering) {
        failed_at = xs[next].at;
      } else if (ev.state == msg::state::active
                 && failed_at != bench_clock::time_point{}) {
        recovery.push_back(ms(xs[next].at - failed_at).count());
        failed_at = {};
      }
    }
  }
  if (recovery.empty()) {
    std::fprintf(stderr, "no recovery seen\n");
    return 1;
  }
  std::printf("domain start -> hello   %8.1f ms (first boot of the root "
              "includes QEMU's capability probe)\n",
              hello_ms);
  print_stats("failure report -> running", recovery, "(goal: median <= 20 ms)");
  caf::scoped_actor self{sys};
  self->request(*hv, 60s, msg::destroy_atom::value, std::string{"assy1"})
    .receive([](caf::ok_atom) {}, [](caf::error&) {});
  for (auto h :
       {caf::actor_cast<caf::actor>(dep), caf::actor_cast<caf::actor>(bus),
        caf::actor_cast<caf::actor>(gw), caf::actor_cast<caf::actor>(rec),
        caf::actor_cast<caf::actor>(*hv)}) {
    caf::anon_send_exit(h, caf::exit_reason::user_shutdown);
  }
  return 0;
}
