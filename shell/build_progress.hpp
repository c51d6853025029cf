// What `jeos_create` shows while pcloudd builds: the recipe's latest step on
// one line of the terminal ("debian12: [12s] unpacking the base"), asked of
// pcloudd's jeos_list once a second. For people only: nothing is shown when
// standard error is no terminal, so scripts see the reply alone.
#pragma once

#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "shell/client.hpp"

namespace pcloud::shell {

class build_progress {
public:
  build_progress(client& c, std::string distro);
  build_progress(const build_progress&) = delete;
  build_progress& operator=(const build_progress&) = delete;
  /// Stops asking and clears the line.
  ~build_progress();

private:
  void run();

  client& client_;
  std::string distro_;
  std::mutex mtx_;
  std::condition_variable done_cv_;
  bool done_ = false;
  bool shown_ = false;
  std::thread thread_; // last: starts once the members above exist
};

} // namespace pcloud::shell
