#include "messages/reach.hpp"

namespace pcloud::msg {

std::string service_address(const std::vector<std::string>& addresses) {
  for (auto& a : addresses) {
    bool ipv4 = !a.empty() && a.find(':') == std::string::npos;
    if (ipv4 && a.rfind("127.", 0) != 0 && a.rfind("169.254.", 0) != 0) {
      return a;
    }
  }
  return {};
}

std::string client_address(const std::string& listen_address) {
  if (listen_address == "0.0.0.0" || listen_address.empty()) {
    return "127.0.0.1";
  }
  if (listen_address == "::") {
    return "::1";
  }
  return listen_address;
}

} // namespace pcloud::msg
