// `assembly_console NAME` in pcloudsh: the guest's serial console, raw on the
// terminal, until Ctrl-] (or the end of standard input when it is not a
// terminal). Bytes come from a listener actor and go out through pcloudd.
#include <fcntl.h>
#include <poll.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <mutex>

#include <caf/all.hpp>

#include "runtime/posix/unique_fd.hpp"
#include "shell/session.hpp"

namespace pcloud::shell {

namespace {

using namespace std::chrono_literals;

/// What the console sent, handed from the listener actor to the loop.
struct console_output {
  std::mutex mtx;
  std::string bytes;
  std::string closed;
  posix::fd_pair wake;

  void push(const std::string& x, bool end) {
    {
      std::lock_guard<std::mutex> guard{mtx};
      (end ? closed : bytes) += x;
    }
    char c = 'o';
    (void)!::write(wake.write.get(), &c, 1);
  }
};

} // namespace

int session::console(const std::string& assembly) {
  auto out = std::make_shared<console_output>();
  if (!posix::make_pipe(out->wake, O_CLOEXEC | O_NONBLOCK)) {
    return fail(msg::errc::internal,
                "pipe: " + std::string{std::strerror(errno)});
  }
  auto listener = sys_.spawn(
    [](msg::console_listener_actor::pointer,
       std::shared_ptr<console_output> out)
      -> msg::console_listener_actor::behavior_type {
      return {
        [out](msg::console_atom, const std::string& bytes) {
          out->push(bytes, false);
        },
        [out](caf::close_atom, const std::string& why) {
          out->push(why.empty() ? "closed" : why, true);
        },
      };
    },
    out);
  msg::error error;
  auto id = client_->open_console(assembly, listener, error);
  if (id == 0) {
    caf::anon_send_exit(listener, caf::exit_reason::user_shutdown);
    return fail(error);
  }
  bool tty = ::isatty(STDIN_FILENO);
  termios saved{};
  if (tty) {
    std::fprintf(stderr, "Connected to the console of %s. Ctrl-] detaches.\r\n",
                 assembly.c_str());
    ::tcgetattr(STDIN_FILENO, &saved);
    auto raw = saved;
    ::cfmakeraw(&raw);
    ::tcsetattr(STDIN_FILENO, TCSANOW, &raw);
  }
  // A guest shell answers a newline with its prompt.
  client_->console_input(id, "\n");
  int rc = 0;
  bool in_open = true;
  auto linger = std::chrono::steady_clock::time_point::max();
  for (;;) {
    pollfd fds[2] = {{in_open ? STDIN_FILENO : -1, POLLIN, 0},
                     {out->wake.read.get(), POLLIN, 0}};
    int wait_ms = -1;
    if (!in_open) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        linger - std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        break;
      }
      wait_ms = static_cast<int>(left.count());
    }
    if (::poll(fds, 2, wait_ms) < 0 && errno != EINTR) {
      break;
    }
    if (fds[1].revents & POLLIN) {
      char buf[64];
      while (::read(out->wake.read.get(), buf, sizeof(buf)) > 0) {
        // drained
      }
      std::string bytes, closed;
      {
        std::lock_guard<std::mutex> guard{out->mtx};
        bytes.swap(out->bytes);
        closed = out->closed;
      }
      (void)!::write(STDOUT_FILENO, bytes.data(), bytes.size());
      if (!closed.empty()) {
        if (tty) {
          ::tcsetattr(STDIN_FILENO, TCSANOW, &saved);
        }
        tty = false;
        rc = fail(msg::errc::internal, closed);
        break;
      }
    }
    if (fds[0].revents & (POLLIN | POLLHUP)) {
      char buf[256];
      auto n = ::read(STDIN_FILENO, buf, sizeof(buf));
      if (n <= 0) {
        if (tty) {
          break;
        }
        // Not a terminal: the input is done; give the guest a moment to
        // answer what it was sent, then detach.
        in_open = false;
        linger = std::chrono::steady_clock::now() + 2s;
        continue;
      }
      std::string typed(buf, static_cast<size_t>(n));
      auto detach = typed.find('\x1d');
      if (detach != std::string::npos) {
        typed.resize(detach);
      }
      if (!typed.empty()) {
        client_->console_input(id, typed);
      }
      if (detach != std::string::npos) {
        break;
      }
    }
  }
  if (tty) {
    ::tcsetattr(STDIN_FILENO, TCSANOW, &saved);
    std::fprintf(stderr, "\nDetached from the console of %s.\n",
                 assembly.c_str());
  }
  client_->close_console(id);
  caf::anon_send_exit(listener, caf::exit_reason::user_shutdown);
  return rc;
}

} // namespace pcloud::shell
