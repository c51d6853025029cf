#include "actors/assembly_machine.hpp"

namespace pcloud::actors {

namespace {

using E = assembly_event;
using namespace machine::names;

} // namespace

// The diagram at the top of actors/assembly.cpp shows this table; a test
// keeps them equal.
// clang-format off
const std::array<assembly_row, 7> assembly_table{{
  // from                                  event           to          action
  {{stopped, failed},                      E::start,       starting,   "starting VM"},
  {{starting, recovering},                 E::hello,       active,     ""},
  {{starting, active, recovering},         E::vm_failed,   recovering, "restarting VM"},
  {{starting, active, recovering},         E::gave_up,     failed,     "escalating to deployable"},
  {any,                                    E::restart,     recovering, "restarting VM"},
  {{starting, active, recovering, failed}, E::shut_down,   stopped,    ""},
  {{starting, active, recovering, failed}, E::stop_failed, failed,     ""},
}};
// clang-format on

std::string_view to_string(assembly_event x) {
  switch (x) {
  case E::start:
    return "start";
  case E::hello:
    return "hello";
  case E::vm_failed:
    return "vm_failed";
  case E::gave_up:
    return "gave_up";
  case E::restart:
    return "restart";
  case E::shut_down:
    return "shut_down";
  case E::stop_failed:
    return "stop_failed";
  }
  return "invalid";
}

} // namespace pcloud::actors
