// Copying a file's bytes in the kernel (copy_file_range), for the copies
// pcloud keeps of images and logs. Header-only, like unique_fd.
#pragma once

#include <sys/types.h>
#include <unistd.h>

namespace pcloud::posix {

/// Copies the first `size` bytes of `from` to `to`; how many it copied
/// (fewer when `from` shrank meanwhile), or -1 with errno set.
inline off_t copy_bytes(int from, int to, off_t size) {
  off_t offset = 0;
  while (offset < size) {
    auto n = ::copy_file_range(from, &offset, to, nullptr,
                               static_cast<size_t>(size - offset), 0);
    if (n < 0) {
      return -1;
    }
    if (n == 0) {
      break;
    }
  }
  return offset;
}

} // namespace pcloud::posix
