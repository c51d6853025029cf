#include "runtime/control/basp.hpp"

#include <set>
#include <string>

#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <caf/io/basp_broker.hpp>

namespace pcloud::runtime::control {

namespace {

caf::actor basp_broker_of(caf::actor_system& sys) {
  return sys.middleman().named_broker<caf::io::basp_broker>(caf::atom("BASP"));
}

} // namespace

void forget_departed_nodes(caf::actor_system& sys,
                           std::function<void(size_t)> done) {
  auto* sys_ptr = &sys;
  sys.middleman().run_later([sys_ptr, done = std::move(done)] {
    auto handle = basp_broker_of(*sys_ptr);
    auto* broker = dynamic_cast<caf::io::basp_broker*>(
      caf::actor_cast<caf::abstract_actor*>(handle));
    if (broker == nullptr) {
      return;
    }
    auto& servers = broker->spawn_servers;
    for (auto i = servers.begin(); i != servers.end();) {
      if (!broker->instance.tbl().lookup(i->first)) {
        caf::anon_send_exit(i->second, caf::exit_reason::kill);
        i = servers.erase(i);
      } else {
        ++i;
      }
    }
    if (done) {
      done(servers.size());
    }
  });
}

void serve_over(caf::actor_system& sys, posix::unique_fd fd,
                const caf::strong_actor_ptr& whom) {
  // Each connection is a chance to forget the ones that have gone: the
  // map then holds about as many nodes as are connected.
  forget_departed_nodes(sys);
  auto scribe = sys.middleman().backend().new_scribe(fd.release());
  // The interface stays unsaid: pcloudsh knows it, and nobody else gets
  // this far.
  caf::anon_send(basp_broker_of(sys), caf::publish_atom::value,
                 std::move(scribe), basp_label, whom, std::set<std::string>{});
}

result<caf::strong_actor_ptr> connect_over(caf::actor_system& sys,
                                           posix::unique_fd fd,
                                           std::chrono::milliseconds timeout) {
  auto scribe = sys.middleman().backend().new_scribe(fd.release());
  result<caf::strong_actor_ptr> out
    = fail(msg::errc::unavailable, "no answer from pcloudd");
  caf::scoped_actor self{sys};
  self
    ->request(basp_broker_of(sys), timeout, caf::connect_atom::value,
              std::move(scribe), basp_label)
    .receive(
      [&](const caf::node_id&, caf::strong_actor_ptr& ptr,
          const std::set<std::string>&) {
        if (ptr) {
          out = std::move(ptr);
        } else {
          out = fail(msg::errc::unavailable,
                     "pcloudd accepted the connection but serves nothing");
        }
      },
      [&](caf::error& err) {
        out = fail(msg::errc::unavailable,
                   err == caf::sec::request_timeout
                     ? std::string{"pcloudd did not answer in time"}
                     : "pcloudd: " + sys.render(err));
      });
  return out;
}

} // namespace pcloud::runtime::control
