// The hypervisor actor against libvirt's test:///default driver: real libvirt
// calls and lifecycle events, no VMs (the driver keeps domains in memory).
#include "runtime/hypervisor.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <memory>

#include <gtest/gtest.h>
#include <libvirt/libvirt.h>

#include "runtime/virt/connection.hpp"
#include "runtime/virt/domain_xml.hpp"
#include "tests/support/fakes.hpp"
#include "tests/support/live.hpp"

using namespace pcloud;
using namespace std::chrono_literals;
using events = std::vector<msg::domain_event>;

namespace {

size_t count_deaths(const events& evs, const std::string& name,
                    bool requested) {
  size_t n = 0;
  for (auto& ev : evs) {
    n += ev.assembly == name && msg::is_death(ev.kind)
         && ev.requested == requested;
  }
  return n;
}

class hypervisor_test : public ::testing::Test {
public:
  hypervisor_test() : sys(cfg) {
    state_dir = std::filesystem::temp_directory_path()
                / ("pcloud-hv-test-" + std::to_string(getpid()));
    std::filesystem::create_directories(state_dir);
    hv = spawn("hv");
    listener = test::spawn_domain_recorder(sys, seen);
  }

  ~hypervisor_test() override {
    for (auto& name : started) {
      destroy(hv, name);
    }
    caf::anon_send_exit(hv, caf::exit_reason::user_shutdown);
    for (auto& extra : others) {
      caf::anon_send_exit(extra, caf::exit_reason::user_shutdown);
    }
    caf::anon_send_exit(listener, caf::exit_reason::user_shutdown);
    sys.await_all_actors_done();
    std::filesystem::remove_all(state_dir);
  }

  msg::hypervisor_actor spawn(const std::string&) {
    runtime::hypervisor_options opts;
    opts.uri = "test:///default";
    opts.state_dir = state_dir.string();
    opts.virt_type = "test";
    opts.images = [](const msg::assembly_spec&) {
      return runtime::result<runtime::boot_image>{runtime::boot_image{
        "/boot/vmlinuz-test", "", "console=ttyS0", "", "qcow2"}};
    };
    auto result = runtime::spawn_hypervisor(sys, opts);
    EXPECT_TRUE(result) << result.error();
    return *result;
  }

  /// Starts an assembly's domain; the error text on failure.
  std::variant<msg::domain_info, std::string>
  start(const msg::hypervisor_actor& h, const std::string& name) {
    std::variant<msg::domain_info, std::string> result{"no answer"};
    caf::scoped_actor self{sys};
    auto spec = test::make_assembly(name, {"httpd"});
    self->request(h, 10s, msg::start_atom::value, spec, listener)
      .receive([&](msg::domain_info& info) { result = std::move(info); },
               [&](caf::error& err) { result = sys.render(err); });
    if (std::holds_alternative<msg::domain_info>(result)) {
      started.push_back(name);
    }
    return result;
  }

  bool destroy(const msg::hypervisor_actor& h, const std::string& name) {
    bool ok = false;
    caf::scoped_actor self{sys};
    self->request(h, 10s, msg::destroy_atom::value, name)
      .receive([&](caf::ok_atom) { ok = true; }, [&](caf::error&) {});
    return ok;
  }

  /// Deaths reported for `name` so far.
  size_t deaths(const std::string& name, bool requested) {
    return count_deaths(seen->items(), name, requested);
  }

  test::live_config cfg;
  caf::actor_system sys;
  std::filesystem::path state_dir;
  msg::hypervisor_actor hv;
  std::vector<msg::hypervisor_actor> others;
  std::shared_ptr<test::sink<msg::domain_event>> seen
    = std::make_shared<test::sink<msg::domain_event>>();
  msg::domain_listener_actor listener;
  std::vector<std::string> started;
};

} // namespace

TEST_F(hypervisor_test, starts_and_destroys_many_domains_with_an_event_each) {
  constexpr int n = 20;
  for (int i = 0; i < n; ++i) {
    auto res = start(hv, "many" + std::to_string(i));
    ASSERT_TRUE(std::holds_alternative<msg::domain_info>(res))
      << std::get<std::string>(res);
    auto& info = std::get<msg::domain_info>(res);
    EXPECT_EQ(info.domain_name, "pcloud-many" + std::to_string(i));
    EXPECT_EQ(info.incarnation, 1u);
    EXPECT_FALSE(info.adopted);
  }
  for (int i = 0; i < n; ++i) {
    EXPECT_TRUE(destroy(hv, "many" + std::to_string(i)));
  }
  ASSERT_TRUE(seen->wait_for(
    [&](const events& evs) {
      size_t stopped = 0;
      for (auto& ev : evs) {
        stopped += ev.kind == msg::domain_event_kind::stopped;
      }
      return stopped == n;
    },
    10s));
  for (int i = 0; i < n; ++i) {
    EXPECT_EQ(deaths("many" + std::to_string(i), true), 1u)
      << "destroyed by pcloud: reported once, as requested";
  }
}

TEST_F(hypervisor_test, force_off_from_outside_is_reported_as_unrequested) {
  auto res = start(hv, "outside");
  ASSERT_TRUE(std::holds_alternative<msg::domain_info>(res));
  // A second client of the same driver, as virsh destroy would be.
  auto other = runtime::virt::connection::open("test:///default");
  ASSERT_TRUE(other) << other.error();
  auto dom = other->lookup("pcloud-outside");
  ASSERT_TRUE(dom && dom->has_value());
  ASSERT_TRUE((*dom)->destroy());
  ASSERT_TRUE(seen->wait_for(
    [&](const events& evs) { return count_deaths(evs, "outside", false) == 1; },
    10s));
  auto evs = seen->items();
  auto& ev = evs.back();
  EXPECT_EQ(ev.kind, msg::domain_event_kind::stopped);
  EXPECT_EQ(ev.reason, "destroyed");
  EXPECT_EQ(ev.incarnation, 1u);
}

TEST_F(hypervisor_test, each_start_is_a_new_incarnation_with_a_new_uuid) {
  auto first = std::get<msg::domain_info>(start(hv, "again"));
  ASSERT_TRUE(destroy(hv, "again"));
  auto second = std::get<msg::domain_info>(start(hv, "again"));
  EXPECT_EQ(second.domain_name, first.domain_name);
  EXPECT_EQ(second.incarnation, first.incarnation + 1);
  EXPECT_NE(second.domain_uuid, first.domain_uuid);
}

TEST_F(hypervisor_test, a_running_domain_is_adopted_not_restarted) {
  auto first = std::get<msg::domain_info>(start(hv, "adopt"));
  // Another hypervisor actor, as a restarted pcloudd would have.
  auto hv2 = spawn("hv2");
  others.push_back(hv2);
  auto res = start(hv2, "adopt");
  ASSERT_TRUE(std::holds_alternative<msg::domain_info>(res))
    << std::get<std::string>(res);
  auto& adopted = std::get<msg::domain_info>(res);
  EXPECT_TRUE(adopted.adopted);
  EXPECT_EQ(adopted.incarnation, first.incarnation);
  EXPECT_EQ(adopted.domain_uuid, first.domain_uuid);
  EXPECT_EQ(deaths("adopt", true) + deaths("adopt", false), 0u);
}

TEST_F(hypervisor_test, refuses_a_name_taken_by_a_domain_it_does_not_own) {
  auto other = runtime::virt::connection::open("test:///default");
  ASSERT_TRUE(other);
  runtime::virt::domain_config foreign;
  foreign.name = "pcloud-foreign";
  foreign.uuid = "11111111-2222-3333-4444-555555555555";
  foreign.virt_type = "test";
  auto xml = runtime::virt::domain_xml(foreign);
  // Strip pcloud's metadata: this domain belongs to someone else.
  auto begin = xml.find("<metadata>");
  auto end = xml.find("</metadata>") + std::string{"</metadata>"}.size();
  xml.erase(begin, end - begin);
  auto dom = other->create(xml);
  ASSERT_TRUE(dom) << dom.error();
  auto res = start(hv, "foreign");
  ASSERT_TRUE(std::holds_alternative<std::string>(res));
  EXPECT_NE(std::get<std::string>(res).find("is not assembly foreign's"),
            std::string::npos)
    << std::get<std::string>(res);
  ASSERT_TRUE(dom->destroy());
}

TEST_F(hypervisor_test, graceful_shutdown_answers_once_the_domain_is_gone) {
  ASSERT_TRUE(std::holds_alternative<msg::domain_info>(start(hv, "calm")));
  caf::scoped_actor self{sys};
  bool ok = false;
  self
    ->request(hv, 10s, msg::shutdown_atom::value, std::string{"calm"},
              caf::timespan{5s})
    .receive([&](caf::ok_atom) { ok = true; },
             [&](caf::error& err) { ADD_FAILURE() << sys.render(err); });
  EXPECT_TRUE(ok);
  EXPECT_TRUE(seen->wait_for(
    [&](const events& evs) { return count_deaths(evs, "calm", true) == 1; },
    10s));
  EXPECT_EQ(deaths("calm", false), 0u);
}

TEST_F(hypervisor_test, unknown_uri_is_a_clear_error) {
  runtime::hypervisor_options opts;
  opts.uri = "nosuchdriver:///x";
  auto res = runtime::spawn_hypervisor(sys, opts);
  ASSERT_FALSE(res);
  EXPECT_NE(res.error().find("cannot open nosuchdriver:///x"),
            std::string::npos)
    << res.error();
}

TEST_F(hypervisor_test, a_host_port_another_program_listens_on_is_not_free) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)), 0);
  ASSERT_EQ(::listen(fd, 1), 0);
  socklen_t len = sizeof(sa);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
  auto busy = ntohs(sa.sin_port);
  // The neighbouring port is most likely free; a UDP port is another
  // space: TCP's listener does not take it.
  auto other = static_cast<uint16_t>(busy == 65535 ? busy - 1 : busy + 1);
  std::vector<msg::service_port> asked{{"http", "tcp", 80, busy},
                                       {"http", "tcp", 80, other},
                                       {"dns", "udp", 53, busy}};
  std::vector<msg::service_port> free;
  caf::scoped_actor self{sys};
  self->request(hv, 5s, msg::port_atom::value, asked)
    .receive([&](std::vector<msg::service_port>& x) { free = x; },
             [](caf::error& err) { FAIL() << to_string(err); });
  ::close(fd);
  ASSERT_FALSE(free.empty());
  for (auto& p : free) {
    EXPECT_FALSE(p.protocol == "tcp" && p.host_port == busy)
      << "the listener's port was taken for free";
  }
  EXPECT_TRUE(std::any_of(free.begin(), free.end(), [&](auto& p) {
    return p.protocol == "udp" && p.host_port == busy;
  }));
}

TEST_F(hypervisor_test, networks_are_user_none_and_libvirts_own) {
  std::vector<std::string> names;
  caf::scoped_actor self{sys};
  self->request(hv, 5s, msg::network_atom::value)
    .receive([&](std::vector<std::string>& x) { names = x; },
             [](caf::error& err) { FAIL() << to_string(err); });
  // test:///default defines one network called "default".
  EXPECT_EQ(names, (std::vector<std::string>{"user", "none", "default"}));
}

TEST_F(hypervisor_test, a_networks_subnets_come_from_its_definition) {
  caf::scoped_actor self{sys};
  std::vector<std::string> subnets;
  self->request(hv, 5s, msg::network_atom::value, std::string{"default"})
    .receive([&](std::vector<std::string>& x) { subnets = x; },
             [](caf::error& err) { FAIL() << to_string(err); });
  // <ip address='192.168.122.1' netmask='255.255.255.0'>
  EXPECT_EQ(subnets, std::vector<std::string>{"192.168.122.1/24"});
  std::string why;
  self->request(hv, 5s, msg::network_atom::value, std::string{"nosuchnet"})
    .receive([](std::vector<std::string>&) { FAIL() << "no such network"; },
             [&](caf::error& err) { why = msg::to_error(err).message; });
  EXPECT_NE(why.find("nosuchnet"), std::string::npos) << why;
}

TEST_F(hypervisor_test, ipv6_subnets_are_read_too) {
  // test:///default is one driver state per process: a network made on a
  // connection of this test's own is the hypervisor's too.
  std::unique_ptr<virConnect, decltype(&virConnectClose)> conn{
    virConnectOpen("test:///default"), virConnectClose};
  ASSERT_NE(conn, nullptr);
  auto define = [&](const std::string& name, const std::string& ips) {
    auto xml = "<network><name>" + name + "</name><bridge name='" + name + "'/>"
               + ips + "</network>";
    auto* net = virNetworkCreateXML(conn.get(), xml.c_str());
    ASSERT_NE(net, nullptr) << name;
    virNetworkFree(net);
  };
  define("dual6", "<ip address='10.9.0.1' prefix='24'/>"
                  "<ip family='ipv6' address='fd00:9::1' prefix='64'/>");
  define("only6", "<ip family='ipv6' address='fd00:6::1' prefix='64'/>");
  auto subnets_of = [&](const std::string& name) {
    std::vector<std::string> result;
    caf::scoped_actor self{sys};
    self->request(hv, 5s, msg::network_atom::value, name)
      .receive([&](std::vector<std::string>& x) { result = x; },
               [](caf::error& err) { FAIL() << to_string(err); });
    return result;
  };
  auto dual = subnets_of("dual6");
  auto only = subnets_of("only6");
  EXPECT_EQ(dual, (std::vector<std::string>{"10.9.0.1/24", "fd00:9::1/64"}));
  EXPECT_EQ(only, std::vector<std::string>{"fd00:6::1/64"});
  // Dual stack: services are reached over IPv4; IPv6-only: over IPv6.
  std::vector<std::string> guest{"fe80::5", "fd00:9::5", "10.9.0.5"};
  EXPECT_EQ(msg::service_address(guest, dual), "10.9.0.5");
  EXPECT_EQ(msg::service_address({"fe80::5", "fd00:6::5"}, only), "fd00:6::5");
  for (auto name : {"dual6", "only6"}) {
    if (auto* net = virNetworkLookupByName(conn.get(), name)) {
      virNetworkDestroy(net);
      virNetworkFree(net);
    }
  }
}
