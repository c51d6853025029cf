// unique_fd: the one owner of a descriptor closes it, and only once.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

#include <gtest/gtest.h>

#include "runtime/posix/unique_fd.hpp"

using pcloud::posix::fd_pair;
using pcloud::posix::make_pipe;
using pcloud::posix::unique_fd;

namespace {

bool is_open(int fd) {
  errno = 0;
  return ::fcntl(fd, F_GETFD) != -1;
}

bool is_closed(int fd) {
  errno = 0;
  return ::fcntl(fd, F_GETFD) == -1 && errno == EBADF;
}

int open_null() {
  return ::open("/dev/null", O_RDONLY | O_CLOEXEC);
}

} // namespace

TEST(unique_fd, closes_on_destruction) {
  int raw = open_null();
  ASSERT_GE(raw, 0);
  {
    unique_fd fd{raw};
    EXPECT_TRUE(fd);
    EXPECT_EQ(fd.get(), raw);
    EXPECT_TRUE(is_open(raw));
  }
  EXPECT_TRUE(is_closed(raw));
}

TEST(unique_fd, default_owns_nothing) {
  unique_fd fd;
  EXPECT_FALSE(fd);
  EXPECT_EQ(fd.get(), -1);
  unique_fd none{-1};
  EXPECT_FALSE(none);
}

TEST(unique_fd, move_transfers_ownership) {
  int raw = open_null();
  ASSERT_GE(raw, 0);
  unique_fd a{raw};
  {
    unique_fd b{std::move(a)};
    EXPECT_FALSE(a); // a moved-from unique_fd owns nothing
    EXPECT_EQ(b.get(), raw);
    EXPECT_TRUE(is_open(raw)); // a's end of life closes nothing
  }
  EXPECT_TRUE(is_closed(raw));
}

TEST(unique_fd, move_assignment_closes_the_target_first) {
  int first = open_null();
  int second = open_null();
  ASSERT_GE(first, 0);
  ASSERT_GE(second, 0);
  {
    unique_fd a{first};
    unique_fd b{second};
    a = std::move(b);
    EXPECT_TRUE(is_closed(first));
    EXPECT_EQ(a.get(), second);
    EXPECT_FALSE(b);
    EXPECT_TRUE(is_open(second));
  }
  EXPECT_TRUE(is_closed(second));
}

TEST(unique_fd, release_gives_up_ownership) {
  int raw = open_null();
  ASSERT_GE(raw, 0);
  {
    unique_fd fd{raw};
    EXPECT_EQ(fd.release(), raw);
    EXPECT_FALSE(fd);
  }
  EXPECT_TRUE(is_open(raw));
  ::close(raw);
}

TEST(unique_fd, reset_closes_the_old_one) {
  int first = open_null();
  int second = open_null();
  ASSERT_GE(first, 0);
  ASSERT_GE(second, 0);
  unique_fd fd{first};
  fd.reset(second);
  EXPECT_TRUE(is_closed(first));
  EXPECT_EQ(fd.get(), second);
  EXPECT_TRUE(is_open(second));
  fd.reset();
  EXPECT_TRUE(is_closed(second));
  EXPECT_FALSE(fd);
}

TEST(unique_fd, make_pipe_owns_both_ends) {
  int read_end = -1;
  int write_end = -1;
  {
    fd_pair pipe;
    ASSERT_TRUE(make_pipe(pipe, O_CLOEXEC));
    read_end = pipe.read.get();
    write_end = pipe.write.get();
    EXPECT_EQ(::fcntl(read_end, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
    char c = 'x';
    ASSERT_EQ(::write(write_end, &c, 1), 1);
    char got = 0;
    ASSERT_EQ(::read(read_end, &got, 1), 1);
    EXPECT_EQ(got, 'x');
  }
  EXPECT_TRUE(is_closed(read_end));
  EXPECT_TRUE(is_closed(write_end));
}
