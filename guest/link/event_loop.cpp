#include "guest/link/event_loop.hpp"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

namespace pcloud::guest {

event_loop::event_loop()
    : epoll_fd_(epoll_create1(EPOLL_CLOEXEC)),
      wake_fd_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
  if (!epoll_fd_ || !wake_fd_) {
    throw std::runtime_error(std::string{"event loop: "} + strerror(errno));
  }
  watch(wake_fd_.get(), EPOLLIN, [this](uint32_t) {
    uint64_t n;
    while (read(wake_fd_.get(), &n, sizeof(n)) > 0) {
      // drain
    }
    std::vector<timer_callback> tasks;
    {
      std::lock_guard<std::mutex> guard{posted_mutex_};
      tasks.swap(posted_);
    }
    for (auto& task : tasks) {
      task();
    }
  });
}

void event_loop::watch(int fd, uint32_t events, fd_callback cb) {
  epoll_event ev{};
  ev.events = events;
  ev.data.fd = fd;
  auto known = fds_.count(fd) > 0;
  fds_[fd] = std::move(cb);
  if (epoll_ctl(epoll_fd_.get(), known ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &ev)
      != 0) {
    fds_.erase(fd);
    throw std::runtime_error(std::string{"epoll_ctl: "} + strerror(errno));
  }
}

void event_loop::unwatch(int fd) {
  if (fds_.erase(fd) > 0) {
    epoll_ctl(epoll_fd_.get(), EPOLL_CTL_DEL, fd, nullptr);
  }
}

event_loop::timer_id event_loop::after(clock::duration delay,
                                       timer_callback cb) {
  auto id = next_timer_++;
  auto due = clock::now() + delay;
  timers_.emplace(std::make_pair(due, id), std::move(cb));
  timer_due_.emplace(id, due);
  return id;
}

void event_loop::cancel(timer_id id) {
  auto i = timer_due_.find(id);
  if (i != timer_due_.end()) {
    timers_.erase({i->second, id});
    timer_due_.erase(i);
  }
}

void event_loop::run() {
  std::vector<epoll_event> ready(64);
  while (!stopping_) {
    int timeout = -1;
    if (!timers_.empty()) {
      auto wait = timers_.begin()->first.first - clock::now();
      auto ms = std::chrono::ceil<std::chrono::milliseconds>(wait).count();
      timeout = ms < 0 ? 0 : static_cast<int>(ms);
    }
    int n = epoll_wait(epoll_fd_.get(), ready.data(),
                       static_cast<int>(ready.size()), timeout);
    if (n < 0 && errno != EINTR) {
      throw std::runtime_error(std::string{"epoll_wait: "} + strerror(errno));
    }
    for (int i = 0; i < n; ++i) {
      // A callback may unwatch other fds: look each one up again.
      auto it = fds_.find(ready[i].data.fd);
      if (it != fds_.end()) {
        auto cb = it->second;
        cb(ready[i].events);
      }
    }
    auto now = clock::now();
    while (!timers_.empty() && timers_.begin()->first.first <= now) {
      auto node = timers_.extract(timers_.begin());
      timer_due_.erase(node.key().second);
      node.mapped()();
    }
  }
  stopping_ = false;
}

void event_loop::post(timer_callback task) {
  {
    std::lock_guard<std::mutex> guard{posted_mutex_};
    posted_.push_back(std::move(task));
  }
  uint64_t one = 1;
  [[maybe_unused]] auto n = write(wake_fd_.get(), &one, sizeof(one));
}

void event_loop::stop() {
  stopping_ = true;
  uint64_t one = 1;
  [[maybe_unused]] auto n = write(wake_fd_.get(), &one, sizeof(one));
}

void scoped_timer::set(event_loop::clock::duration delay,
                       event_loop::timer_callback cb) {
  cancel();
  id_ = loop_->after(delay, [this, cb = std::move(cb)] {
    id_ = 0;
    cb();
  });
}

void scoped_timer::cancel() {
  if (id_ != 0) {
    loop_->cancel(id_);
    id_ = 0;
  }
}

} // namespace pcloud::guest
