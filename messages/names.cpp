#include "messages/names.hpp"

#include <algorithm>
#include <cstring>

namespace pcloud::msg {

namespace {

bool alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
         || (c >= '0' && c <= '9');
}

/// What a name argument of `cmd` names, as its errors say it.
std::string kind_of(const command_info& cmd, argument_kind kind) {
  switch (kind) {
  case argument_kind::assembly:
    return "assembly";
  case argument_kind::deployable:
    return "deployable";
  case argument_kind::distro:
    return "recipe";
  case argument_kind::jeos:
    return "JEOS";
  case argument_kind::resource:
    return "resource";
  case argument_kind::template_name:
    return "template";
  default:
    break;
  }
  // A new name: what the command creates.
  std::string name = cmd.name;
  if (name.rfind("jeos_", 0) == 0) {
    return "JEOS";
  }
  if (name.rfind("assembly_resource", 0) == 0) {
    return "resource";
  }
  if (name.rfind("deployable_", 0) == 0) {
    return "deployable";
  }
  return "assembly";
}

bool is_name(argument_kind kind) {
  switch (kind) {
  case argument_kind::new_name:
  case argument_kind::assembly:
  case argument_kind::deployable:
  case argument_kind::distro:
  case argument_kind::jeos:
  case argument_kind::resource:
  case argument_kind::template_name:
    return true;
  default:
    return false;
  }
}

} // namespace

bool valid_name(const std::string& x) {
  if (x.empty() || x.size() > 63 || !alnum(x[0])) {
    return false;
  }
  return std::all_of(x.begin(), x.end(), [](char c) {
    return alnum(c) || c == '_' || c == '.' || c == '-';
  });
}

std::string printable(const std::string& x) {
  std::string out;
  for (auto c : x.substr(0, 64)) {
    out += c >= 0x20 && c < 0x7f ? c : '?';
  }
  if (x.size() > 64) {
    out += "...";
  }
  return out;
}

error check_name(const std::string& kind, const std::string& name) {
  if (valid_name(name)) {
    return {};
  }
  return {errc::invalid_argument,
          "invalid " + kind + " name '" + printable(name)
            + "': use 1-63 letters, digits, '_', '.' or '-', starting with a "
              "letter or digit"};
}

error check_text(const std::string& what, const std::string& text) {
  if (text.size() > 1024) {
    return {errc::invalid_argument, what + " is too long ("
                                      + std::to_string(text.size())
                                      + " bytes, at most 1024)"};
  }
  if (std::any_of(text.begin(), text.end(), [](char c) {
        return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
      })) {
    return {errc::invalid_argument,
            what + " '" + printable(text) + "' has control characters"};
  }
  return {};
}

error check_arguments(const command_info& cmd,
                      const std::vector<std::string>& args) {
  for (size_t i = 0; i < args.size() && i < cmd.kinds.size(); ++i) {
    auto kind = cmd.kinds[i];
    auto bad = is_name(kind) ? check_name(kind_of(cmd, kind), args[i])
                             : check_text(cmd.arguments[i], args[i]);
    if (bad) {
      return bad;
    }
  }
  return {};
}

} // namespace pcloud::msg
