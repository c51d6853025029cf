#include "actors/level.hpp"

namespace pcloud::actors::level {

using msg::state;

bool all_active(const children& xs) {
  for (auto& [name, child] : xs) {
    if (child.state != state::active) {
      return false;
    }
    for (auto& r : child.resources) {
      if (r.state != state::active) {
        return false;
      }
    }
  }
  return true;
}

bool all_stopped(const children& xs) {
  for (auto& [name, child] : xs) {
    if (child.state != state::stopped) {
      return false;
    }
  }
  return true;
}

std::string first_not_active(const children& xs) {
  for (auto& [name, child] : xs) {
    if (child.state != state::active) {
      return name + " " + msg::to_string(child.state);
    }
    for (auto& r : child.resources) {
      if (r.state != state::active) {
        return name + "/" + r.name + " " + msg::to_string(r.state);
      }
    }
  }
  return {};
}

} // namespace pcloud::actors::level
