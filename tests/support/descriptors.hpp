// Tests that open thousands of connections (the idle-connection attack)
// need more descriptors than a shell's default soft limit.
#pragma once

#include <sys/resource.h>

#include <cstddef>

namespace pcloud::test {

/// Raises the soft limit of open files to the hard one; whether `needed`
/// descriptors are then allowed.
inline bool allow_descriptors(size_t needed) {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) {
    return false;
  }
  lim.rlim_cur = lim.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &lim);
  return lim.rlim_cur >= needed;
}

} // namespace pcloud::test
