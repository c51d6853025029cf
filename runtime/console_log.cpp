#include "runtime/console_log.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "runtime/posix/copy.hpp"
#include "runtime/posix/unique_fd.hpp"

namespace pcloud::runtime {

result<bool> cap_console_log(const std::string& path, size_t max) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0
      || static_cast<size_t>(st.st_size) <= max) {
    return false;
  }
  // Copied rather than renamed: QEMU keeps its descriptor of this file.
  auto old = path + ".1";
  auto partial = old + ".partial";
  posix::unique_fd in{::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW)};
  posix::unique_fd out{
    ::open(partial.c_str(),
           O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600)};
  if (!in || !out) {
    return fail("cannot rotate " + path + ": " + std::strerror(errno));
  }
  // Fewer bytes when QEMU's log shrank meanwhile: keep what was copied.
  (void)posix::copy_bytes(in.get(), out.get(), st.st_size);
  if (::rename(partial.c_str(), old.c_str()) != 0
      || ::truncate(path.c_str(), 0) != 0) {
    auto err = errno;
    ::unlink(partial.c_str());
    return fail("cannot rotate " + path + ": " + std::strerror(err));
  }
  return true;
}

} // namespace pcloud::runtime
