#include "actors/context.hpp"

#include <caf/actor_system.hpp>
#include <caf/message.hpp>

namespace pcloud::actors {

std::string describe(caf::actor_system& sys, const caf::error& err) {
  auto& ctx = err.context();
  if (ctx.size() == 1 && ctx.match_element<std::string>(0)) {
    return ctx.get_as<std::string>(0);
  }
  return sys.render(err);
}

} // namespace pcloud::actors
