// The store: definitions as XML files under STATE/definitions, one per
// assembly (assemblies/NAME.xml) and deployable (deployables/NAME.xml).
// Every write goes to a temporary file that is fsynced and renamed over the
// old one, then the directory is fsynced: a crash (kill -9, power loss)
// leaves either the old or the new file, never half of one. A file that does
// not parse or match the schema is moved to rejected/ with an error naming
// its file and line; the others load.
#pragma once

#include <string>

#include <caf/fwd.hpp>

#include "messages/interfaces.hpp"
#include "runtime/result.hpp"

namespace pcloud::runtime {

struct store_options {
  /// STATE/definitions.
  std::string directory;
  /// conf/schema/definitions.rng.
  std::string schema;
  /// STATE/disks: an assembly's disk overlay goes with its definition.
  std::string disks = {};
};

/// Loads every definition (setting bad files aside) and spawns the store
/// actor on a thread of its own (fsync blocks). Fails only when the
/// directory cannot be created or the schema cannot be read.
result<msg::store_actor> spawn_store(caf::actor_system& sys,
                                     store_options opts);

/// Writes `text` to `path` atomically: temp file, fsync, rename, fsync of
/// the directory.
result<void> write_file_atomically(const std::string& path,
                                   const std::string& text, int mode = 0640);

/// Reads a whole file.
result<std::string> read_file(const std::string& path);

} // namespace pcloud::runtime
