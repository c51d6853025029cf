// A level of the supervision tree and its children: a deployable's are its
// assemblies, an assembly's its resources. Each child pushes its status on
// every change; the level keeps the latest one and tells its children what
// to do. A deployable also derives its own state from its children's
// (all_active, all_stopped, first_not_active); an assembly's follows its VM.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "messages/interfaces.hpp"

namespace pcloud::actors::level {

/// The children of a level by name, each with its actor and the status it
/// last reported.
template <class Actor, class Status>
class children {
public:
  struct child {
    Actor actor;
    Status status;
  };

  using map = std::map<std::string, child>;

  /// Adds a child, or replaces the one of that name; its status starts
  /// afresh (STOPPED).
  void add(const std::string& name, Actor actor) {
    Status status;
    status.name = name;
    xs_[name] = child{std::move(actor), std::move(status)};
  }

  /// Keeps the latest status of the child it names; false if none.
  bool update(Status status) {
    auto i = xs_.find(status.name);
    if (i == xs_.end()) {
      return false;
    }
    i->second.status = std::move(status);
    return true;
  }

  /// The child of that name, or null.
  const child* find(const std::string& name) const {
    auto i = xs_.find(name);
    return i == xs_.end() ? nullptr : &i->second;
  }

  /// Sends `xs...` from `self` to every child, in name order.
  template <class Self, class... Ts>
  void tell(Self self, const Ts&... xs) const {
    for (auto& [name, x] : xs_) {
      self->send(x.actor, xs...);
    }
  }

  /// Their statuses, in name order.
  std::vector<Status> statuses() const {
    std::vector<Status> result;
    result.reserve(xs_.size());
    for (auto& [name, x] : xs_) {
      result.push_back(x.status);
    }
    return result;
  }

  size_t size() const { return xs_.size(); }
  typename map::const_iterator begin() const { return xs_.begin(); }
  typename map::const_iterator end() const { return xs_.end(); }

private:
  map xs_;
};

using assemblies = children<msg::assembly_actor, msg::assembly_status>;
using resources = children<msg::resource_actor, msg::resource_status>;

/// Whether every assembly, and every resource in it, is ACTIVE.
bool all_active(const assemblies& xs);

/// Whether every assembly is STOPPED.
bool all_stopped(const assemblies& xs);

/// The first assembly or resource that is not ACTIVE, in words ("assy3
/// RECOVERING", "assy3/httpd STARTING"); empty when all are ACTIVE.
std::string first_not_active(const assemblies& xs);

} // namespace pcloud::actors::level
