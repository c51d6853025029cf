// Hands a connection that passed the control handshake to CAF's BASP
// broker, on both sides. CAF 0.17 offers no hook before its own handshake
// (publish() answers anyone who connects with the published actor and its
// interface), so pcloud accepts and authenticates connections itself and
// gives CAF only the ones that proved the token: the broker's "publish on a
// connected scribe" and "connect over a scribe" messages take them as if
// CAF had accepted or opened them.
#pragma once

#include <chrono>
#include <cstdint>

#include <caf/fwd.hpp>

#include "runtime/posix/unique_fd.hpp"
#include "runtime/result.hpp"

namespace pcloud::runtime::control {

/// The BASP "port" the shell service is published at on door connections;
/// no TCP port: a label both sides agree on.
constexpr uint16_t basp_label = 1;

/// pcloudd: serves `whom` on `fd` (thread-safe; call from any thread).
void serve_over(caf::actor_system& sys, posix::unique_fd fd,
                const caf::strong_actor_ptr& whom);

/// pcloudsh: the actor pcloudd serves on `fd`, within `timeout`.
result<caf::strong_actor_ptr> connect_over(caf::actor_system& sys,
                                           posix::unique_fd fd,
                                           std::chrono::milliseconds timeout);

} // namespace pcloud::runtime::control
