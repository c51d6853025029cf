// A guest that writes to its serial console without end cannot fill the
// host's disk: its log is capped while QEMU keeps appending to it.
#include "runtime/console_log.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "runtime/posix/unique_fd.hpp"

namespace fs = std::filesystem;
using pcloud::posix::unique_fd;
using pcloud::runtime::cap_console_log;

TEST(console_log_security, a_log_past_its_cap_moves_aside_and_qemu_goes_on) {
  std::string tmpl = "/tmp/pcloud-console-XXXXXX";
  std::string dir = ::mkdtemp(tmpl.data());
  auto path = dir + "/a1.console.log";
  // As QEMU opens it for <log append='on'>.
  unique_fd qemu{::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600)};
  ASSERT_TRUE(qemu);
  std::string chunk(64 * 1024, 'x');
  for (int i = 0; i < 32; ++i) { // 2 MiB
    ASSERT_EQ(::write(qemu.get(), chunk.data(), chunk.size()),
              static_cast<ssize_t>(chunk.size()));
  }
  auto under = cap_console_log(path, 4 * 1024 * 1024);
  ASSERT_TRUE(under) << under.error();
  EXPECT_FALSE(*under) << "under the cap: left alone";
  auto over = cap_console_log(path, 1024 * 1024);
  ASSERT_TRUE(over) << over.error();
  EXPECT_TRUE(*over);
  EXPECT_EQ(fs::file_size(path + ".1"), 2u * 1024 * 1024);
  EXPECT_EQ(fs::status(path + ".1").permissions(),
            fs::perms::owner_read | fs::perms::owner_write);
  EXPECT_EQ(fs::file_size(path), 0u);
  // QEMU writes on at the new end: no hole the size of the old log.
  ASSERT_EQ(::write(qemu.get(), "boot\n", 5), 5);
  EXPECT_EQ(fs::file_size(path), 5u);
  fs::remove_all(dir);
}
