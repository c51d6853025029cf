#include "guest/agent/host_transport.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "runtime/posix/unique_fd.hpp"

namespace pcloud::guest {

namespace {

std::string value_in_words(std::istream& in, const std::string& key) {
  std::string word;
  while (in >> word) {
    if (word.rfind(key + "=", 0) == 0) {
      return word.substr(key.size() + 1);
    }
  }
  return {};
}

} // namespace

std::string boot_setting(const std::string& key, const std::string& cmdline,
                         const std::string& dmi, const std::string& fw_cfg) {
  for (auto& words : {cmdline, fw_cfg}) {
    std::ifstream in{words};
    if (auto v = value_in_words(in, key); !v.empty()) {
      return v;
    }
  }
  // Each 11-N/raw: a structure header (type, length, handle), then its
  // strings, each ending in NUL, the set ending in an empty one.
  std::error_code ec;
  for (auto& entry : std::filesystem::directory_iterator(dmi, ec)) {
    if (entry.path().filename().string().rfind("11-", 0) != 0) {
      continue;
    }
    std::ifstream in{entry.path() / "raw", std::ios::binary};
    std::string raw{std::istreambuf_iterator<char>(in),
                    std::istreambuf_iterator<char>()};
    if (raw.size() < 5 || static_cast<unsigned char>(raw[0]) != 11) {
      continue;
    }
    size_t pos = static_cast<unsigned char>(raw[1]);
    while (pos < raw.size()) {
      auto end = raw.find('\0', pos);
      if (end == std::string::npos || end == pos) {
        break;
      }
      auto s = raw.substr(pos, end - pos);
      if (s.rfind(key + "=", 0) == 0) {
        return s.substr(key.size() + 1);
      }
      pos = end + 1;
    }
  }
  return {};
}

bool parse_host_port(const std::string& text, std::string& host,
                     uint16_t& port) {
  auto colon = text.find(':');
  host = text.substr(0, colon);
  in_addr addr{};
  if (host == gateway_host) {
    host.clear();
  } else if (host.empty() || ::inet_pton(AF_INET, host.c_str(), &addr) != 1) {
    return false;
  }
  if (colon == std::string::npos) {
    port = default_agent_port;
    return true;
  }
  auto digits = text.substr(colon + 1);
  if (digits.empty() || digits.size() > 5
      || digits.find_first_not_of("0123456789") != std::string::npos
      || std::stoul(digits) < 1 || std::stoul(digits) > 65535) {
    return false;
  }
  port = static_cast<uint16_t>(std::stoul(digits));
  return true;
}

std::string default_gateway(const std::string& route) {
  // Iface Destination Gateway Flags ...: hex, in network byte order.
  std::ifstream in{route};
  std::string line;
  std::getline(in, line); // header
  while (std::getline(in, line)) {
    std::istringstream words{line};
    std::string iface, destination, gateway;
    if (words >> iface >> destination >> gateway && destination == "00000000"
        && gateway != "00000000") {
      in_addr addr{};
      addr.s_addr = static_cast<uint32_t>(std::stoul(gateway, nullptr, 16));
      char text[INET_ADDRSTRLEN] = {};
      ::inet_ntop(AF_INET, &addr, text, sizeof(text));
      return text;
    }
  }
  return {};
}

int connect_tcp(const std::string& host, uint16_t port,
                std::chrono::milliseconds timeout, std::string& error) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  if (::inet_pton(AF_INET, host.c_str(), &sa.sin_addr) != 1) {
    error = "not an IPv4 address: " + host;
    return -1;
  }
  posix::unique_fd fd{
    ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)};
  if (!fd) {
    error = std::string{"socket: "} + std::strerror(errno);
    return -1;
  }
  auto where = host + ":" + std::to_string(port);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0) {
    if (errno != EINPROGRESS) {
      error = where + ": " + std::strerror(errno);
      return -1;
    }
    pollfd p{fd.get(), POLLOUT, 0};
    int err = 0;
    socklen_t len = sizeof(err);
    if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) {
      error = where + ": no answer in time";
      return -1;
    }
    ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      error = where + ": " + std::strerror(err);
      return -1;
    }
  }
  return fd.release();
}

} // namespace pcloud::guest
