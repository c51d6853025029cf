// A guest's serial console, relayed through pcloudd: in embed mode no other
// process can open the domain, so `assembly_console` comes through pcloud.
#pragma once

#include <string>

#include <caf/typed_actor.hpp>

#include <caf/atom.hpp>

namespace pcloud::msg {

/// Defined here rather than in the type-ID block: the listener below needs
/// it and must itself be in the block (it crosses the remote link).
using console_atom = caf::atom_constant<caf::atom("console")>;

/// pcloudsh's end of a console session: what the guest writes, and the end
/// of the session with its reason.
using console_listener_actor
  = caf::typed_actor<caf::reacts_to<console_atom, std::string>,
                     caf::reacts_to<caf::close_atom, std::string>>;

} // namespace pcloud::msg
