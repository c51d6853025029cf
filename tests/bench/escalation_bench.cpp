// Escalation engine under load: a tree of deployables x assemblies x resources
// with fake hypervisor and agents on CAF's threaded scheduler. Injects one
// failure into every resource at once and prints how the tree copes.
//
//   pcloud_bench_escalation [ASSEMBLIES [RESOURCES_PER_ASSEMBLY]]
//
// Not a test: it prints figures and checks only that every resource
// recovered. Goals: all recovered within 1 s; at most 30 MB for 10,000
// resources.
#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <string>

#include <caf/all.hpp>

#include "actors/deployable.hpp"
#include "actors/event_bus.hpp"
#include "runtime/logging.hpp"
#include "runtime/scheduler_settings.hpp"
#include "tests/bench/results.hpp"
#include "tests/support/fakes.hpp"

using namespace pcloud;
using namespace std::chrono_literals;
using bench_clock = std::chrono::steady_clock;

namespace {

constexpr size_t assemblies_per_deployable = 10;

/// Counts events of interest; the main thread waits on it.
struct tally {
  std::mutex mtx;
  std::condition_variable cv;
  size_t deployables_active = 0;
  size_t resources_restarted = 0;
  size_t events = 0;
  size_t escalations = 0;

  template <class Pred>
  bool wait(Pred pred, std::chrono::seconds timeout) {
    std::unique_lock<std::mutex> guard{mtx};
    return cv.wait_for(guard, timeout, [&] { return pred(*this); });
  }
};

msg::event_listener_actor::behavior_type
counter(msg::event_listener_actor::pointer, std::shared_ptr<tally> t) {
  return {
    [=](const msg::event& ev) {
      std::lock_guard<std::mutex> guard{t->mtx};
      ++t->events;
      if (ev.assembly.empty() && ev.state == msg::state::active) {
        ++t->deployables_active;
      } else if (!ev.resource.empty() && ev.state == msg::state::active
                 && ev.restarts > 0) {
        ++t->resources_restarted;
      } else if (ev.state == msg::state::failed) {
        ++t->escalations;
      }
      t->cv.notify_all();
    },
  };
}

msg::deployable_spec make_deployable(size_t index, size_t assemblies,
                                     size_t resources) {
  msg::deployable_spec spec;
  spec.name = "dep" + std::to_string(index);
  for (size_t a = 0; a < assemblies; ++a) {
    std::vector<std::string> names;
    for (size_t r = 0; r < resources; ++r) {
      names.push_back("res" + std::to_string(r));
    }
    spec.assemblies.push_back(
      test::make_assembly(spec.name + "-assy" + std::to_string(a), names));
  }
  return spec;
}

long rss_kib() {
  std::ifstream in{"/proc/self/status"};
  std::string key;
  while (in >> key) {
    if (key == "VmRSS:") {
      long kib = 0;
      in >> kib;
      return kib;
    }
    in.ignore(1 << 16, '\n');
  }
  return 0;
}

double cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto secs = [](timeval tv) { return tv.tv_sec + tv.tv_usec / 1e6; };
  return secs(ru.ru_utime) + secs(ru.ru_stime);
}

/// Figures counted on the deterministic scheduler (it processes exactly one
/// message per step and its clock moves only when told).
struct message_counts {
  /// Messages the whole tree handles in an hour of actor-clock time while
  /// nothing fails: timers left from the start-up, and nothing periodic.
  size_t idle_hour = 0;
  /// Messages one resource recovery takes through the tree.
  size_t per_recovery = 0;
};

message_counts count_messages() {
  test::deterministic_config cfg;
  caf::actor_system sys{cfg};
  auto& sched
    = dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler());
  auto hv = std::make_shared<test::hypervisor_script>();
  auto gw = std::make_shared<test::gateway_script>();
  auto bus = sys.spawn(actors::event_bus, size_t{16});
  auto hyp = test::spawn_fake_hypervisor(sys, hv);
  auto gate = test::spawn_fake_gateway(sys, gw);
  auto d = sys.spawn(actors::deployable, make_deployable(0, 1, 1),
                     actors::tree_context{{}, bus, hyp, gate, {}, "127.0.0.1"});
  caf::anon_send(d, msg::start_atom::value);
  sched.run();
  message_counts result;
  // An hour of idleness, a minute at a time, so a timer that re-arms itself
  // would show as many messages.
  for (int minute = 0; minute < 60; ++minute) {
    sched.advance_time(std::chrono::minutes(1));
    result.idle_hour += sched.run();
  }
  auto& link = gw->links.begin()->second;
  caf::anon_send(link.listener,
                 msg::resource_report{
                   link.domain.assembly, link.domain.incarnation, "res0",
                   msg::resource_condition::failed, "killed by signal 9"});
  result.per_recovery = sched.run();
  for (auto h :
       {caf::actor_cast<caf::actor>(d), caf::actor_cast<caf::actor>(bus),
        caf::actor_cast<caf::actor>(hyp), caf::actor_cast<caf::actor>(gate)}) {
    caf::anon_send_exit(h, caf::exit_reason::user_shutdown);
  }
  sched.run();
  return result;
}

} // namespace

int main(int argc, char** argv) {
  size_t assemblies = argc > 1 ? std::stoul(argv[1]) : 1000;
  size_t resources = argc > 2 ? std::stoul(argv[2]) : 10;
  if (assemblies == 0 || resources == 0
      || assemblies % assemblies_per_deployable != 0) {
    std::fprintf(stderr,
                 "usage: %s [ASSEMBLIES (a multiple of %zu) "
                 "[RESOURCES_PER_ASSEMBLY]]\n",
                 argv[0], assemblies_per_deployable);
    return 2;
  }
  auto total = assemblies * resources;
  // Every failure is logged as a warning; keep the terminal out of the figures.
  if (auto err = runtime::configure_logging({"error", ""}); !err.empty()) {
    std::fprintf(stderr, "%s\n", err.c_str());
    return 1;
  }
  auto counts = count_messages();
  auto per_recovery = counts.per_recovery;

  caf::actor_system_config cfg;
  runtime::apply_scheduler_settings(cfg); // as pcloudd runs
  cfg.set("logger.verbosity", caf::atom("quiet"));
  msg::add_message_types(cfg);
  caf::actor_system sys{cfg};
  auto rss_before = rss_kib();

  auto t = std::make_shared<tally>();
  auto hv = std::make_shared<test::hypervisor_script>();
  auto gw = std::make_shared<test::gateway_script>();
  gw->keep_resources = false;
  auto bus = sys.spawn(actors::event_bus, size_t{1000});
  auto hyp = test::spawn_fake_hypervisor(sys, hv);
  auto gate = test::spawn_fake_gateway(sys, gw);
  auto count = sys.spawn(counter, t);
  caf::anon_send(bus, caf::subscribe_atom::value, count);

  auto deployables = assemblies / assemblies_per_deployable;
  std::vector<msg::deployable_actor> tree;
  auto t0 = bench_clock::now();
  for (size_t i = 0; i < deployables; ++i) {
    auto d
      = sys.spawn(actors::deployable,
                  make_deployable(i, assemblies_per_deployable, resources),
                  actors::tree_context{{}, bus, hyp, gate, {}, "127.0.0.1"});
    caf::anon_send(d, msg::start_atom::value);
    tree.push_back(d);
  }
  if (!t->wait([&](tally& x) { return x.deployables_active == deployables; },
               60s)) {
    std::fprintf(stderr, "the tree did not become ACTIVE within 60 s\n");
    return 1;
  }
  auto startup = bench_clock::now() - t0;
  auto rss_tree = rss_kib();

  // Every agent link the fake gateway holds, read while the tree is quiet.
  std::vector<test::gateway_script::link> links;
  for (auto& [name, link] : gw->links) {
    links.push_back(link);
  }
  auto events_before = t->events;
  auto cpu1 = cpu_seconds();
  auto t1 = bench_clock::now();
  for (auto& link : links) {
    for (size_t r = 0; r < resources; ++r) {
      caf::anon_send(link.listener,
                     msg::resource_report{
                       link.domain.assembly, link.domain.incarnation,
                       "res" + std::to_string(r),
                       msg::resource_condition::failed, "killed by signal 9"});
    }
  }
  auto recovered
    = t->wait([&](tally& x) { return x.resources_restarted == total; }, 60s);
  auto elapsed = bench_clock::now() - t1;
  auto cpu_used = cpu_seconds() - cpu1;
  auto secs = std::chrono::duration<double>(elapsed).count();

  auto policy = msg::default_resource_policy();
  std::printf("escalation engine: %zu deployables x %zu assemblies x %zu "
              "resources = %zu resources, %zu scheduler threads\n",
              deployables, assemblies_per_deployable, resources, total,
              sys.scheduler().num_workers());
  std::printf("settings: resource %u failures in %s, backoff %s then %s "
              "doubling to %s (the first restart is immediate), escalation "
              "on; one failure per resource, so neither backoff nor "
              "escalation is reached\n",
              policy.max_failures, msg::format_duration(policy.window).c_str(),
              "0s", msg::format_duration(policy.backoff_initial).c_str(),
              msg::format_duration(policy.backoff_max).c_str());
  std::printf("startup: all ACTIVE after %.1f ms\n",
              std::chrono::duration<double, std::milli>(startup).count());
  std::printf("memory: RSS %.1f MB for the tree, %.2f MB per 1,000 "
              "resources (goal: at most 30 MB for 10,000)\n",
              (rss_tree - rss_before) / 1024.0,
              (rss_tree - rss_before) / 1024.0 / (total / 1000.0));
  std::printf("idle: %zu messages in an hour of actor-clock time with "
              "nothing failing (deterministic scheduler; timers left from "
              "the start-up, nothing periodic)\n",
              counts.idle_hour);
  std::printf("recovery: %zu of %zu resources ACTIVE again after %.1f ms "
              "(goal: all within 1000 ms)\n",
              t->resources_restarted, total, secs * 1000.0);
  std::printf("throughput: %zu messages per recovery (counted on the "
              "deterministic scheduler), %.0f messages/s, %.0f events/s, "
              "%.2f s of CPU\n",
              per_recovery, per_recovery * total / secs,
              (t->events - events_before) / secs, cpu_used);
  if (t->escalations > 0) {
    std::printf("unexpected: %zu escalations\n", t->escalations);
  }
  auto scale = std::to_string(total) + " resources ("
               + std::to_string(deployables) + " deployables x "
               + std::to_string(assemblies_per_deployable) + " assemblies x "
               + std::to_string(resources) + ")";
  bench::figure memory;
  memory.case_id = "scale-memory";
  memory.case_title = "memory of the supervision tree";
  memory.peer = "pcloud";
  memory.end_point = "RSS added by the tree, all ACTIVE";
  memory.unit = "MB";
  memory.samples = {(rss_tree - rss_before) / 1024.0};
  memory.goal_median = 30.0 * static_cast<double>(total) / 10000;
  memory.setting = scale + "; fake hypervisor and agents";
  bench::record(memory);
  bench::figure failures;
  failures.case_id = "scale-failures";
  failures.case_title = "every resource failed at once";
  failures.peer = "pcloud";
  failures.end_point = "the last resource ACTIVE again (the tree's events)";
  if (recovered) {
    failures.samples = {secs * 1000.0};
  } else {
    failures.dropped["not all recovered within 60 s"] = 1;
  }
  failures.goal_median = 1000;
  failures.setting = scale + "; fake hypervisor and agents, "
                     + std::to_string(sys.scheduler().num_workers())
                     + " scheduler threads";
  bench::record(failures);

  for (auto& d : tree) {
    caf::anon_send_exit(d, caf::exit_reason::user_shutdown);
  }
  for (auto h :
       {caf::actor_cast<caf::actor>(bus), caf::actor_cast<caf::actor>(hyp),
        caf::actor_cast<caf::actor>(gate),
        caf::actor_cast<caf::actor>(count)}) {
    caf::anon_send_exit(h, caf::exit_reason::user_shutdown);
  }
  sys.await_all_actors_done();
  return recovered ? 0 : 1;
}
