// jeos_import's intake: the operator names a disk image file, pcloud takes
// a copy of its own. Only a regular file owned by root (pcloudd's user)
// and writable by nobody else is read, through a descriptor opened without
// following links, so what is checked is what is copied; a qcow2 that
// points at a backing or external data file is refused, since pcloud would
// follow that path as root and keep depending on a file it does not own.
#pragma once

#include <string>

#include "runtime/result.hpp"

namespace pcloud::runtime {

struct imported_disk {
  std::string path;   ///< the copy, mode 0600
  std::string format; ///< "qcow2" or "raw"
};

/// What jeos_import accepts: qcow2, or a raw disk (a partition table or a
/// file system at its start), read from `head` (its first 36 KiB or
/// less). Other formats are named with the way out.
result<std::string> disk_format_of(const std::string& head,
                                   const std::string& file);

/// Checks `file` and copies it to `directory`/NAME.FORMAT (atomically: a
/// temporary file renamed once complete).
result<imported_disk> import_disk(const std::string& file,
                                  const std::string& directory,
                                  const std::string& name);

} // namespace pcloud::runtime
