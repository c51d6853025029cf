// How a level stands, from its children's states. A deployable derives its
// own state from its assemblies' and their resources' (actors/deployable.cpp);
// these are the questions it asks of them.
#pragma once

#include <map>
#include <string>

#include "messages/status.hpp"

namespace pcloud::actors::level {

/// A level's children by name, as they last reported: the assemblies of a
/// deployable, each with its resources.
using children = std::map<std::string, msg::assembly_status>;

/// Whether every child, and every resource in it, is ACTIVE.
bool all_active(const children& xs);

/// Whether every child is STOPPED.
bool all_stopped(const children& xs);

/// The first child or resource that is not ACTIVE, in words ("assy3
/// RECOVERING", "assy3/httpd STARTING"); empty when all are ACTIVE.
std::string first_not_active(const children& xs);

} // namespace pcloud::actors::level
