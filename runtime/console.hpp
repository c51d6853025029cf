// Console sessions: a guest's serial console (the pty QEMU serves) relayed
// to a pcloudsh far away. One thread per open session reads the pty; what
// pcloudsh types is written to it. The guest's output is untrusted bytes: it
// is passed on as it is, in chunks, and never parsed.
#pragma once

#include <caf/fwd.hpp>

#include "messages/interfaces.hpp"

namespace pcloud::runtime {

msg::console_factory_actor spawn_console_factory(caf::actor_system& sys);

} // namespace pcloud::runtime
