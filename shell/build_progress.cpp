#include "shell/build_progress.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>

namespace pcloud::shell {

build_progress::build_progress(client& c, std::string distro)
    : client_(c), distro_(std::move(distro)), thread_([this] { run(); }) {
  // nop
}

build_progress::~build_progress() {
  {
    std::lock_guard<std::mutex> guard{mtx_};
    done_ = true;
  }
  done_cv_.notify_all();
  thread_.join();
  if (shown_) {
    std::fputs("\r\033[K", stderr);
    std::fflush(stderr);
  }
}

void build_progress::run() {
  using namespace std::chrono_literals;
  std::string last;
  std::unique_lock<std::mutex> lock{mtx_};
  while (!done_cv_.wait_for(lock, 1s, [this] { return done_; })) {
    lock.unlock();
    auto list = client_.call("jeos_list", {}, 5s);
    lock.lock();
    if (done_ || !list.ok()) {
      continue;
    }
    auto& cols = list.columns;
    auto name = std::find(cols.begin(), cols.end(), "name") - cols.begin();
    auto progress
      = std::find(cols.begin(), cols.end(), "progress") - cols.begin();
    for (auto& row : list.rows) {
      if (static_cast<size_t>(std::max(name, progress)) >= row.size()
          || row[name] != distro_ || row[progress].empty()
          || row[progress] == last) {
        continue;
      }
      last = row[progress];
      std::fprintf(stderr, "\r\033[K%s: %s", distro_.c_str(), last.c_str());
      std::fflush(stderr);
      shown_ = true;
    }
  }
}

} // namespace pcloud::shell
