#include "runtime/console.hpp"

#include <fcntl.h>
#include <poll.h>
#include <termios.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <memory>
#include <thread>

#include <caf/all.hpp>
#include <spdlog/spdlog.h>

#include "runtime/posix/unique_fd.hpp"

namespace pcloud::runtime {

namespace {

/// The open pty and the thread reading it.
class pty_reader {
public:
  /// Owns `fd`.
  pty_reader(int fd, msg::console_listener_actor listener)
      : fd_(fd), listener_(std::move(listener)) {
    // Without the pipe (wake_ stays empty) only the pty ends the reader.
    (void)posix::make_pipe(wake_, O_CLOEXEC | O_NONBLOCK);
    thread_ = std::thread{[this] { run(); }};
  }

  ~pty_reader() {
    stop_ = true;
    if (wake_.write) {
      char c = 'x';
      (void)!::write(wake_.write.get(), &c, 1);
    }
    thread_.join();
  }

  void write(const std::string& bytes) {
    size_t done = 0;
    while (done < bytes.size()) {
      auto n = ::write(fd_.get(), bytes.data() + done, bytes.size() - done);
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n <= 0) {
        return; // the console is gone; the reader reports it
      }
      done += static_cast<size_t>(n);
    }
  }

private:
  void run() {
    std::string why = "console closed";
    while (!stop_) {
      pollfd fds[2] = {{fd_.get(), POLLIN, 0}, {wake_.read.get(), POLLIN, 0}};
      if (::poll(fds, 2, -1) < 0) {
        if (errno == EINTR) {
          continue;
        }
        why = std::string{"console: "} + std::strerror(errno);
        break;
      }
      if (fds[1].revents != 0) {
        return; // closed on request: pcloudsh knows
      }
      if (fds[0].revents & POLLIN) {
        char buf[4096];
        auto n = ::read(fd_.get(), buf, sizeof(buf));
        if (n > 0) {
          caf::anon_send(listener_, msg::console_atom::value,
                         std::string(buf, static_cast<size_t>(n)));
          continue;
        }
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
          continue;
        }
      }
      if (fds[0].revents & (POLLHUP | POLLERR)) {
        why = "the VM's console went away (VM stopped?)";
        break;
      }
    }
    caf::anon_send(listener_, caf::close_atom::value, why);
  }

  posix::unique_fd fd_;
  /// Wakes the reader when this ends.
  posix::fd_pair wake_;
  msg::console_listener_actor listener_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

struct session_state {
  static inline const char* name = "pcloud.console_session";
  std::unique_ptr<pty_reader> reader;
};

msg::console_session_actor::behavior_type console_session(
  msg::console_session_actor::stateful_pointer<session_state> self, int fd,
  msg::console_listener_actor listener) {
  self->state.reader = std::make_unique<pty_reader>(fd, listener);
  // The session ends with its pcloudsh (a remote actor that goes away).
  self->monitor(listener);
  self->set_down_handler([=](const caf::down_msg&) { self->quit(); });
  return {
    [=](msg::console_atom, const std::string& bytes) {
      self->state.reader->write(bytes);
    },
    [=](caf::close_atom) { self->quit(); },
  };
}

} // namespace

msg::console_factory_actor spawn_console_factory(caf::actor_system& sys) {
  // The tag argument: CAF 0.17 dereferences a null argument tuple for a
  // function actor spawned without arguments (UBSan).
  return sys.spawn(
    [](msg::console_factory_actor::pointer self,
       bool) -> msg::console_factory_actor::behavior_type {
      return {
        [=](caf::open_atom, const std::string& path,
            msg::console_listener_actor listener)
          -> caf::result<msg::console_session_actor> {
          int fd = ::open(path.c_str(), O_RDWR | O_NOCTTY | O_CLOEXEC);
          if (fd < 0) {
            return msg::make_error(msg::errc::unavailable,
                                   "cannot open the console " + path + ": "
                                     + std::strerror(errno));
          }
          // Raw, as virsh console sets it: bytes pass both ways unchanged.
          termios tio{};
          if (::tcgetattr(fd, &tio) == 0) {
            ::cfmakeraw(&tio);
            ::tcsetattr(fd, TCSANOW, &tio);
          }
          spdlog::info("console: {} opened", path);
          // Detached: writes to a pty may block for a moment. Linked: the
          // sessions end with the factory when pcloudd stops.
          return self->spawn<caf::detached + caf::linked>(console_session, fd,
                                                          std::move(listener));
        },
      };
    },
    true);
}

} // namespace pcloud::runtime
