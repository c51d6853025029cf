#include "shell/client.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>

#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <caf/openssl/all.hpp>

#include "messages/type_ids.hpp"
#include "runtime/control/basp.hpp"
#include "runtime/control/handshake.hpp"
#include "runtime/control/sockets.hpp"

namespace pcloud::shell {

client_config::client_config(const endpoint& where,
                             const std::string& certificate,
                             const std::string& key,
                             const std::string& cafile) {
  msg::add_message_types(*this);
  load<caf::io::middleman>();
  if (where.tls) {
    load<caf::openssl::manager>();
    set("openssl.certificate", certificate);
    set("openssl.key", key);
    set("openssl.cafile", cafile);
  }
  set("scheduler.max-threads", 1);
  set("logger.verbosity", caf::atom("quiet"));
  // Must match pcloudd's (PLATFORM.md: one side alone drops the peer).
  set("middleman.heartbeat-interval", caf::timespan{std::chrono::seconds(2)});
  set("middleman.connection-timeout", caf::timespan{std::chrono::seconds(10)});
}

std::string describe(const endpoint& where) {
  return where.host.empty() ? where.socket
                            : where.host + ":" + std::to_string(where.port);
}

namespace {

const char* const hint = " (is pcloudd running? --state-dir, --connect and "
                         "$PCLOUDSH_CONNECT choose where)";

/// CAF's own TLS connection: mutual TLS authenticates both sides.
caf::strong_actor_ptr connect_tls(caf::actor_system& sys, const endpoint& where,
                                  std::chrono::milliseconds timeout,
                                  msg::error& error) {
  caf::strong_actor_ptr result;
  caf::scoped_actor self{sys};
  // remote_actor() has no timeout of its own; the manager's connect has.
  self
    ->request(sys.openssl_manager().actor_handle(), timeout,
              caf::connect_atom::value, where.host, where.port)
    .receive(
      [&](const caf::node_id&, caf::strong_actor_ptr& ptr,
          const std::set<std::string>&) {
        if (!ptr) {
          error = {msg::errc::unavailable,
                   "nothing published on " + describe(where)};
        }
        result = std::move(ptr);
      },
      [&](caf::error& err) {
        auto why = err == caf::sec::request_timeout
                     ? std::string{"no answer in time"}
                   : err == caf::sec::cannot_connect_to_node
                     ? std::string{"nothing listens there"}
                     : sys.render(err);
        error
          = {msg::errc::unavailable,
             "cannot reach pcloudd at " + describe(where) + ": " + why + hint};
      });
  return result;
}

/// The control door: connect, prove the token, hand the socket to CAF.
caf::strong_actor_ptr connect_door(caf::actor_system& sys,
                                   const endpoint& where,
                                   std::chrono::milliseconds timeout,
                                   msg::error& error) {
  auto fd = where.host.empty()
              ? runtime::connect_unix(where.socket)
              : runtime::connect_tcp(where.host, where.port, timeout);
  if (!fd) {
    error = fd.failure_value();
    if (error.code == msg::errc::unavailable) {
      error.message += hint;
    }
    return nullptr;
  }
  if (auto ok
      = runtime::control::client_handshake(fd->get(), where.token, timeout);
      !ok) {
    error = msg::with_context(ok.failure_value(), describe(where) + ": ");
    return nullptr;
  }
  auto service = runtime::control::connect_over(sys, std::move(*fd), timeout);
  if (!service) {
    error = service.failure_value();
    return nullptr;
  }
  return std::move(*service);
}

} // namespace

std::unique_ptr<client> client::connect(caf::actor_system& sys,
                                        const endpoint& where,
                                        std::chrono::milliseconds timeout,
                                        msg::error& error) {
  auto service = where.tls ? connect_tls(sys, where, timeout, error)
                           : connect_door(sys, where, timeout, error);
  if (!service) {
    return nullptr;
  }
  return std::unique_ptr<client>(new client(
    sys, caf::actor_cast<msg::shell_service_actor>(std::move(service)),
    where.token));
}

msg::shell_reply client::call(const std::string& command,
                              const std::vector<std::string>& args,
                              std::chrono::milliseconds timeout) {
  msg::shell_reply result;
  caf::scoped_actor self{sys_};
  self->request(service_, timeout, msg::shell_request{token_, command, args})
    .receive([&](msg::shell_reply& reply) { result = std::move(reply); },
             [&](caf::error& err) {
               result = msg::failed_reply(
                 msg::with_context(msg::to_error(err), "pcloudd: "));
             });
  return result;
}

bool client::subscribe(msg::event_listener_actor listener,
                       std::vector<msg::event>& history, msg::error& error) {
  bool ok = false;
  caf::scoped_actor self{sys_};
  self
    ->request(service_, std::chrono::seconds(10), caf::subscribe_atom::value,
              token_, std::move(listener))
    .receive(
      [&](std::vector<msg::event>& xs) {
        history = std::move(xs);
        ok = true;
      },
      [&](caf::error& err) {
        error = msg::with_context(msg::to_error(err), "pcloudd: ");
      });
  return ok;
}

uint64_t client::open_console(const std::string& assembly,
                              msg::console_listener_actor listener,
                              msg::error& error) {
  uint64_t id = 0;
  caf::scoped_actor self{sys_};
  self
    ->request(service_, std::chrono::seconds(20), msg::console_atom::value,
              token_, assembly, std::move(listener))
    .receive([&](uint64_t x) { id = x; },
             [&](caf::error& err) { error = msg::to_error(err); });
  return id;
}

void client::console_input(uint64_t session, std::string bytes) {
  caf::anon_send(service_, msg::console_atom::value, token_, session,
                 std::move(bytes));
}

void client::close_console(uint64_t session) {
  caf::anon_send(service_, caf::close_atom::value, token_, session);
}

bool read_token(const std::string& path, std::string& token,
                std::string& error) {
  std::ifstream in{path};
  if (!in) {
    error = "cannot read the token file " + path + " (" + std::strerror(errno)
            + "); pcloudd creates it, readable by root only";
    return false;
  }
  std::getline(in, token);
  while (!token.empty() && (token.back() == '\r' || token.back() == ' ')) {
    token.pop_back();
  }
  if (token.empty()) {
    error = "the token file " + path + " is empty";
    return false;
  }
  return true;
}

} // namespace pcloud::shell
