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
#include <functional>

#include <caf/fwd.hpp>

#include "runtime/posix/unique_fd.hpp"
#include "runtime/result.hpp"

namespace pcloud::runtime::control {

/// The BASP "port" the shell service is published at on door connections;
/// no TCP port: a label both sides agree on.
constexpr uint16_t basp_label = 1;

/// pcloudd: serves `whom` on `fd` (thread-safe; call from any thread).
/// Also forgets the nodes that have left (forget_departed_nodes).
void serve_over(caf::actor_system& sys, posix::unique_fd fd,
                const caf::strong_actor_ptr& whom);

/// CAF 0.17.6, all Debian 12 ships, keeps a "spawn server" actor for every
/// node its BASP broker ever learned: `purge_state`, run when a node's last
/// connection closes, drops its proxies and routes but not that entry, so
/// each pcloudsh process (a node of its own) left about 1 KB behind for
/// the daemon's life. This does what purge_state leaves out: on the
/// broker's own event loop (where no other thread touches its state) it
/// drops the servers of nodes the broker has no route to any more.
/// `done`, if set, is called there with how many remain.
void forget_departed_nodes(caf::actor_system& sys,
                           std::function<void(size_t)> done = {});

/// pcloudsh: the actor pcloudd serves on `fd`, within `timeout`.
result<caf::strong_actor_ptr> connect_over(caf::actor_system& sys,
                                           posix::unique_fd fd,
                                           std::chrono::milliseconds timeout);

} // namespace pcloud::runtime::control
