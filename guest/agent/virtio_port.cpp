#include "guest/agent/virtio_port.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

namespace pcloud::guest {

int open_virtio_port(const std::string& channel, std::string& error,
                     const std::string& sysfs, const std::string& dev) {
  DIR* dir = opendir(sysfs.c_str());
  if (dir == nullptr) {
    error = sysfs + ": " + strerror(errno) + " (is virtio_console loaded?)";
    return -1;
  }
  std::string port;
  while (auto* e = readdir(dir)) {
    std::string entry = e->d_name;
    if (entry.rfind("vport", 0) != 0) {
      continue;
    }
    std::ifstream in{sysfs + "/" + entry + "/name"};
    std::string name;
    std::getline(in, name);
    if (name == channel) {
      port = entry;
      break;
    }
  }
  closedir(dir);
  if (port.empty()) {
    error = "no virtio-serial port named " + channel;
    return -1;
  }
  auto path = dev + "/" + port;
  int fd = open(path.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    error = path + ": " + strerror(errno);
  }
  return fd;
}

} // namespace pcloud::guest
