// messages/probe.cpp -- a resource's probe: its settings as the shell takes
// them and the one check of a whole probe. The agent checks what it is sent
// again (guest/link/wire.cpp's check_probe): it links no CAF, so it cannot
// share this code, and it must not spin on a probe it was sent by mistake.
#include "messages/definitions.hpp"

#include <algorithm>
#include <tuple>

namespace pcloud::msg {

namespace {

constexpr size_t max_probe_text = 1024;
constexpr uint32_t max_failures = 100;

error bad(const std::string& what) {
  return {errc::invalid_argument, "probe " + what};
}

bool printable(const std::string& x) {
  return std::none_of(x.begin(), x.end(), [](char c) {
    return static_cast<unsigned char>(c) < 0x20;
  });
}

/// A decimal number within [lo, hi], or nothing.
std::optional<uint32_t> parse_number(const std::string& text, uint32_t lo,
                                     uint32_t hi) {
  if (text.empty() || text.size() > 9
      || text.find_first_not_of("0123456789") != std::string::npos) {
    return std::nullopt;
  }
  auto x = static_cast<uint32_t>(std::stoul(text));
  if (x < lo || x > hi) {
    return std::nullopt;
  }
  return x;
}

error set_port(probe_spec& x, const std::string& value) {
  auto port = parse_number(value, 1, 65535);
  if (!port) {
    return bad("port '" + value + "' is not a port number (1-65535)");
  }
  x.port = static_cast<uint16_t>(*port);
  return {};
}

/// http://HOST:PORT/PATH, HOST empty, localhost or 127.0.0.1: the probe
/// runs inside the guest, against its own loopback.
error set_url(probe_spec& x, const std::string& value) {
  const std::string scheme = "http://";
  auto unparsable = bad("url '" + value
                        + "' is not http://:PORT/PATH (the probe runs in "
                          "the guest, against its loopback)");
  if (value.rfind(scheme, 0) != 0) {
    return unparsable;
  }
  auto rest = value.substr(scheme.size());
  auto slash = rest.find('/');
  auto authority = rest.substr(0, slash);
  auto path = slash == std::string::npos ? "/" : rest.substr(slash);
  auto colon = authority.rfind(':');
  if (colon == std::string::npos) {
    return unparsable;
  }
  auto host = authority.substr(0, colon);
  if (!host.empty() && host != "localhost" && host != "127.0.0.1") {
    return unparsable;
  }
  probe_spec next = x;
  if (auto err = set_port(next, authority.substr(colon + 1))) {
    return err;
  }
  if (!printable(path) || path.find(' ') != std::string::npos) {
    return unparsable;
  }
  next.kind = "http";
  next.path = path;
  next.command.clear();
  x = next;
  return {};
}

error set_duration(caf::timespan& field, const char* name,
                   const std::string& value) {
  auto d = parse_duration(value);
  if (!d) {
    return bad(std::string{name} + " '" + value
               + "' is not a duration (such as 500ms, 1s)");
  }
  field = *d;
  return {};
}

} // namespace

bool operator==(const probe_spec& x, const probe_spec& y) {
  auto tie = [](const probe_spec& p) {
    return std::tie(p.kind, p.port, p.path, p.status_min, p.status_max, p.body,
                    p.command, p.interval, p.timeout, p.failures,
                    p.initial_delay);
  };
  return tie(x) == tie(y);
}

const std::vector<std::string>& probe_settings() {
  static const std::vector<std::string> names{
    "kind",    "url",      "port",    "path",     "status",       "body",
    "command", "interval", "timeout", "failures", "initial_delay"};
  return names;
}

error set_probe_setting(probe_spec& x, const std::string& setting,
                        const std::string& value) {
  if (setting == "kind") {
    if (value == "none") {
      x = probe_spec{};
      return {};
    }
    if (value != "tcp" && value != "http" && value != "command") {
      return bad("kind '" + value + "' is not one of none, tcp, http, command");
    }
    x.kind = value;
    if (value != "command") {
      x.command.clear(); // what a command probe ran is no longer meant
    }
    return {};
  }
  if (x.kind.empty() && setting != "url" && setting != "command") {
    auto& names = probe_settings();
    if (std::find(names.begin(), names.end(), setting) != names.end()) {
      return bad(setting
                 + " needs a probe first: set its kind, url or command");
    }
  }
  if (setting == "url") {
    return set_url(x, value);
  }
  if (setting == "port") {
    return set_port(x, value);
  }
  if (setting == "path") {
    if (value.empty() || value[0] != '/' || value.size() > max_probe_text
        || !printable(value) || value.find(' ') != std::string::npos) {
      return bad("path '" + value + "' is not an absolute URL path");
    }
    x.path = value;
    return {};
  }
  if (setting == "status") {
    auto dash = value.find('-');
    auto lo = parse_number(value.substr(0, dash), 100, 599);
    auto hi = dash == std::string::npos
                ? lo
                : parse_number(value.substr(dash + 1), 100, 599);
    if (!lo || !hi || *lo > *hi) {
      return bad("status '" + value
                 + "' is not a status or a range within 100-599 (200-399)");
    }
    x.status_min = static_cast<uint16_t>(*lo);
    x.status_max = static_cast<uint16_t>(*hi);
    return {};
  }
  if (setting == "body" || setting == "command") {
    if (value.size() > max_probe_text || !printable(value)) {
      return bad(setting + " is longer than " + std::to_string(max_probe_text)
                 + " bytes or has control characters");
    }
    if (setting == "body") {
      x.body = value;
    } else if (value.empty()) {
      return bad("command is empty");
    } else {
      x.kind = "command";
      x.command = value;
    }
    return {};
  }
  if (setting == "interval") {
    return set_duration(x.interval, "interval", value);
  }
  if (setting == "timeout") {
    return set_duration(x.timeout, "timeout", value);
  }
  if (setting == "initial_delay") {
    return set_duration(x.initial_delay, "initial_delay", value);
  }
  if (setting == "failures") {
    auto n = parse_number(value, 1, max_failures);
    if (!n) {
      return bad("failures '" + value + "' is not a number within 1-"
                 + std::to_string(max_failures));
    }
    x.failures = *n;
    return {};
  }
  std::string names;
  for (auto& n : probe_settings()) {
    names += (names.empty() ? "" : ", ") + n;
  }
  return bad("setting '" + setting + "' is unknown (settings: " + names + ")");
}

error check_probe(const probe_spec& x) {
  using namespace std::chrono;
  if (x.kind.empty()) {
    return {};
  }
  if (x.kind != "tcp" && x.kind != "http" && x.kind != "command") {
    return bad("kind '" + x.kind + "' is not one of none, tcp, http, command");
  }
  if (x.kind != "command" && x.port == 0) {
    return bad("port is not set (a " + x.kind + " probe needs one)");
  }
  if (x.kind == "command" && x.command.empty()) {
    return bad("command is not set");
  }
  if (x.interval < milliseconds(100) || x.interval > hours(1)) {
    return bad("interval " + format_exact_duration(x.interval)
               + " is outside 100ms-1h");
  }
  if (x.timeout <= caf::timespan{0} || x.timeout >= x.interval) {
    return bad("timeout " + format_exact_duration(x.timeout)
               + " is not below the interval ("
               + format_exact_duration(x.interval) + ")");
  }
  if (x.initial_delay < caf::timespan{0} || x.initial_delay > hours(1)) {
    return bad("initial_delay " + format_exact_duration(x.initial_delay)
               + " is outside 0-1h");
  }
  if (x.failures < 1 || x.failures > max_failures) {
    return bad("failures " + std::to_string(x.failures) + " is outside 1-"
               + std::to_string(max_failures));
  }
  return {};
}

std::string describe_probe(const probe_spec& x) {
  if (x.kind.empty()) {
    return "none";
  }
  std::string what;
  if (x.kind == "http") {
    what = "http :" + std::to_string(x.port) + x.path;
    if (x.status_min != 200 || x.status_max != 399) {
      what += " status " + std::to_string(x.status_min) + "-"
              + std::to_string(x.status_max);
    }
    if (!x.body.empty()) {
      what += " body '" + x.body + "'";
    }
  } else if (x.kind == "tcp") {
    what = "tcp :" + std::to_string(x.port);
  } else {
    what = "command '" + x.command + "'";
  }
  what += " every " + format_exact_duration(x.interval) + ", timeout "
          + format_exact_duration(x.timeout) + ", " + std::to_string(x.failures)
          + " failures";
  if (x.initial_delay.count() > 0) {
    what += ", after " + format_exact_duration(x.initial_delay);
  }
  return what;
}

} // namespace pcloud::msg
