#include "actors/deployable_machine.hpp"

namespace pcloud::actors {

namespace {

using E = deployable_event;
using namespace machine::names;

} // namespace

// The diagram at the top of actors/deployable.cpp shows this table; a test
// keeps them equal.
// clang-format off
const std::array<deployable_row, 7> deployable_table{{
  // from                                  event             to          action
  {any,                                    E::start,         starting,   ""},
  {{starting, recovering},                 E::all_active,    active,     ""},
  {{active},                               E::degraded,      recovering, ""},
  {{starting, active, recovering},         E::escalated,     recovering, "restarting all assemblies"},
  {{starting, active, recovering},         E::limit_reached, failed,     "stopping deployable: restart-all limit reached"},
  {{starting, active, recovering},         E::policy_stop,   failed,     "stopping deployable (policy stop)"},
  {{starting, active, recovering, failed}, E::all_stopped,   stopped,    ""},
}};
// clang-format on

std::string_view to_string(deployable_event x) {
  switch (x) {
  case E::start:
    return "start";
  case E::all_active:
    return "all_active";
  case E::degraded:
    return "degraded";
  case E::escalated:
    return "escalated";
  case E::limit_reached:
    return "limit_reached";
  case E::policy_stop:
    return "policy_stop";
  case E::all_stopped:
    return "all_stopped";
  }
  return "invalid";
}

} // namespace pcloud::actors
