#include "actors/level.hpp"

namespace pcloud::actors::level {

using msg::state;

bool all_active(const assemblies& xs) {
  for (auto& [name, x] : xs) {
    if (x.status.state != state::active) {
      return false;
    }
    for (auto& r : x.status.resources) {
      if (r.state != state::active) {
        return false;
      }
    }
  }
  return true;
}

bool all_stopped(const assemblies& xs) {
  for (auto& [name, x] : xs) {
    if (x.status.state != state::stopped) {
      return false;
    }
  }
  return true;
}

std::string first_not_active(const assemblies& xs) {
  for (auto& [name, x] : xs) {
    if (x.status.state != state::active) {
      return name + " " + msg::to_string(x.status.state);
    }
    for (auto& r : x.status.resources) {
      if (r.state != state::active) {
        return name + "/" + r.name + " " + msg::to_string(r.state);
      }
    }
  }
  return {};
}

} // namespace pcloud::actors::level
