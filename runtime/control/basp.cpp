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

void serve_over(caf::actor_system& sys, posix::unique_fd fd,
                const caf::strong_actor_ptr& whom) {
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
