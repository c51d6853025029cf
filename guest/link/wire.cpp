#include "guest/link/wire.hpp"

#include <algorithm>
#include <exception>

#include <proton/error.hpp>
#include <proton/scalar.hpp>
#include <proton/types.hpp>
#include <proton/value.hpp>

#include "guest/link/proof.hpp"

namespace pcloud::wire {

namespace {

using body_map = std::map<std::string, proton::value>;

constexpr const char* subject_hello = "hello";
constexpr const char* subject_addresses = "addresses";
constexpr const char* subject_resource = "resource";
constexpr const char* subject_configure = "configure";
constexpr const char* subject_command = "command";
constexpr const char* subject_probe = "probe";
constexpr const char* subject_challenge = "challenge";
constexpr const char* subject_proof = "proof";

proton::message make(const char* subject, body_map body) {
  proton::message m;
  m.subject(subject);
  m.properties().put("v", protocol_version);
  m.body(std::move(body));
  return m;
}

/// Thrown inside the decoder only; every entry point turns it into an error.
struct refused : std::exception {
  explicit refused(std::string why) : why(std::move(why)) {
    // nop
  }
  std::string why;
};

bool printable(const std::string& x) {
  return std::none_of(x.begin(), x.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u < 0x20 && c != '\t';
  });
}

/// Checked access to the fields of one body map.
class fields {
public:
  explicit fields(const proton::value& v, const char* what) : what_(what) {
    if (v.type() != proton::MAP) {
      throw refused(std::string{what} + ": body is not a map");
    }
    proton::get(v, map_);
  }

  std::string text(const char* key, size_t max, bool required = true) const {
    auto i = map_.find(key);
    if (i == map_.end()) {
      if (required) {
        throw refused(std::string{what_} + ": missing field '" + key + "'");
      }
      return {};
    }
    if (i->second.type() != proton::STRING) {
      throw refused(std::string{what_} + ": field '" + key
                    + "' is not a string");
    }
    auto s = proton::get<std::string>(i->second);
    if (s.size() > max) {
      throw refused(std::string{what_} + ": field '" + key + "' longer than "
                    + std::to_string(max) + " bytes");
    }
    if (!printable(s)) {
      throw refused(std::string{what_} + ": field '" + key
                    + "' has control characters");
    }
    return s;
  }

  /// A name: non-empty, no slash (names go into paths and log lines).
  std::string name(const char* key) const {
    auto s = text(key, limits::max_name);
    if (s.empty() || s.find('/') != std::string::npos) {
      throw refused(std::string{what_} + ": field '" + key
                    + "' is not a valid name");
    }
    return s;
  }

  /// A nonce or a proof: exactly `digits` lower-case hex digits.
  std::string hex(const char* key, size_t digits) const {
    auto s = text(key, limits::max_name);
    if (!is_hex(s, digits)) {
      throw refused(std::string{what_} + ": field '" + key + "' is not "
                    + std::to_string(digits) + " lower-case hex digits");
    }
    return s;
  }

  uint32_t number(const char* key, uint32_t fallback) const {
    auto i = map_.find(key);
    if (i == map_.end()) {
      return fallback;
    }
    switch (i->second.type()) {
    case proton::UINT:
      return proton::get<uint32_t>(i->second);
    case proton::ULONG: {
      auto x = proton::get<uint64_t>(i->second);
      if (x <= UINT32_MAX) {
        return static_cast<uint32_t>(x);
      }
      break;
    }
    default:
      break;
    }
    throw refused(std::string{what_} + ": field '" + key
                  + "' is not a 32-bit unsigned number");
  }

  bool flag(const char* key) const {
    auto i = map_.find(key);
    if (i == map_.end() || i->second.type() != proton::BOOLEAN) {
      throw refused(std::string{what_} + ": field '" + key
                    + "' is not a boolean");
    }
    return proton::get<bool>(i->second);
  }

  const proton::value* find(const char* key) const {
    auto i = map_.find(key);
    return i == map_.end() ? nullptr : &i->second;
  }

  /// Every key must be one of `known`: unknown fields are refused rather
  /// than ignored, so a confused peer is noticed at once.
  void only(std::initializer_list<const char*> known) const {
    for (auto& kv : map_) {
      if (std::none_of(known.begin(), known.end(),
                       [&](const char* k) { return kv.first == k; })) {
        throw refused(std::string{what_} + ": unknown field '"
                      + kv.first.substr(0, limits::max_name) + "'");
      }
    }
  }

private:
  const char* what_;
  std::map<std::string, proton::value> map_;
};

std::vector<proton::value> list_of(const proton::value& v, const char* what,
                                   size_t max) {
  if (v.type() != proton::LIST) {
    throw refused(std::string{what} + " is not a list");
  }
  std::vector<proton::value> xs;
  proton::get(v, xs);
  if (xs.size() > max) {
    throw refused(std::string{what} + ": more than " + std::to_string(max)
                  + " entries");
  }
  return xs;
}

/// The envelope every message shares: a known subject and our version.
std::string subject_of(const proton::message& m) {
  auto v = m.properties().get("v");
  if (v.type() != proton::UINT) {
    throw refused("no protocol version");
  }
  auto version = proton::get<uint32_t>(v);
  if (version != protocol_version) {
    throw refused("protocol version " + std::to_string(version)
                  + " is not supported (this side speaks "
                  + std::to_string(protocol_version) + ")");
  }
  if (m.properties().size() != 1) {
    throw refused("unexpected application properties");
  }
  return m.subject();
}

/// A list of at most max_addresses short printable strings.
std::vector<std::string> addresses_of(const proton::value& v,
                                      const std::string& what) {
  std::vector<std::string> result;
  for (auto& a :
       list_of(v, (what + ": addresses").c_str(), limits::max_addresses)) {
    if (a.type() != proton::STRING) {
      throw refused(what + ": an address is not a string");
    }
    auto s = proton::get<std::string>(a);
    if (s.size() > limits::max_name || !printable(s)) {
      throw refused(what + ": invalid address");
    }
    result.push_back(std::move(s));
  }
  return result;
}

hello decode_hello(const proton::message& m) {
  fields f{m.body(), subject_hello};
  f.only({"assembly", "agent_version", "boot_id", "addresses", "nonce"});
  hello x;
  // An agent that was not told its assembly (no kernel parameter) says
  // nothing; the link tells the host which assembly it is anyway.
  if (!f.text("assembly", limits::max_name, false).empty()) {
    x.assembly = f.name("assembly");
  }
  x.agent_version = f.text("agent_version", limits::max_name);
  x.boot_id = f.text("boot_id", limits::max_name);
  if (f.find("nonce") != nullptr) {
    x.nonce = f.hex("nonce", nonce_digits);
  }
  if (auto* addrs = f.find("addresses")) {
    x.addresses = addresses_of(*addrs, "hello");
  }
  return x;
}

address_change decode_address_change(const proton::message& m) {
  fields f{m.body(), subject_addresses};
  f.only({"addresses"});
  auto* addrs = f.find("addresses");
  if (addrs == nullptr) {
    throw refused("addresses: no field 'addresses'");
  }
  return {addresses_of(*addrs, "addresses")};
}

resource_state decode_resource_state(const proton::message& m) {
  fields f{m.body(), subject_resource};
  f.only({"resource", "condition", "cause"});
  resource_state x;
  x.resource = f.name("resource");
  x.condition = f.text("condition", limits::max_name);
  if (!valid_condition(x.condition)) {
    throw refused("resource: unknown condition '" + x.condition + "'");
  }
  x.cause = f.text("cause", limits::max_text, false);
  return x;
}

proof decode_proof(const proton::message& m) {
  fields f{m.body(), subject_proof};
  f.only({"proof"});
  return {f.hex("proof", proof_digits)};
}

challenge decode_challenge(const proton::message& m) {
  fields f{m.body(), subject_challenge};
  f.only({"nonce", "proof"});
  return {f.hex("nonce", nonce_digits), f.hex("proof", proof_digits)};
}

probe_result decode_probe_result(const proton::message& m) {
  fields f{m.body(), subject_probe};
  f.only({"resource", "ok", "failures", "detail"});
  probe_result x;
  x.resource = f.name("resource");
  x.ok = f.flag("ok");
  x.failures = f.number("failures", 0);
  x.detail = f.text("detail", limits::max_text, false);
  return x;
}

probe_definition decode_probe(const proton::value& v) {
  fields f{v, "configure: probe"};
  f.only({"kind", "port", "path", "status_min", "status_max", "body", "command",
          "interval_ms", "timeout_ms", "failures", "initial_delay_ms"});
  probe_definition x;
  x.kind = f.text("kind", limits::max_name);
  x.port = f.number("port", 0);
  x.path = f.text("path", limits::max_probe_text, false);
  x.status_min = f.number("status_min", x.status_min);
  x.status_max = f.number("status_max", x.status_max);
  x.body = f.text("body", limits::max_probe_text, false);
  x.command = f.text("command", limits::max_probe_text, false);
  x.interval_ms = f.number("interval_ms", x.interval_ms);
  x.timeout_ms = f.number("timeout_ms", x.timeout_ms);
  x.failures = f.number("failures", x.failures);
  x.initial_delay_ms = f.number("initial_delay_ms", 0);
  if (auto why = check_probe(x); !why.empty()) {
    throw refused("configure: probe: " + why);
  }
  return x;
}

body_map encode_probe(const probe_definition& x) {
  return {{"kind", x.kind},
          {"port", x.port},
          {"path", x.path},
          {"status_min", x.status_min},
          {"status_max", x.status_max},
          {"body", x.body},
          {"command", x.command},
          {"interval_ms", x.interval_ms},
          {"timeout_ms", x.timeout_ms},
          {"failures", x.failures},
          {"initial_delay_ms", x.initial_delay_ms}};
}

resource_definition decode_definition(const proton::value& v) {
  fields f{v, "configure: resource"};
  f.only({"name", "class", "type", "parameters", "monitor_interval_ms",
          "monitor_timeout_ms", "probe"});
  resource_definition x;
  x.name = f.name("name");
  x.resource_class = f.text("class", limits::max_name);
  if (!valid_class(x.resource_class)) {
    throw refused("configure: unknown resource class '" + x.resource_class
                  + "'");
  }
  x.type = f.text("type", limits::max_text);
  x.monitor_interval_ms = f.number("monitor_interval_ms", 10000);
  x.monitor_timeout_ms = f.number("monitor_timeout_ms", 20000);
  if (auto* probe = f.find("probe")) {
    x.probe = decode_probe(*probe);
  }
  if (auto* params = f.find("parameters")) {
    if (params->type() != proton::MAP) {
      throw refused("configure: parameters is not a map");
    }
    std::map<std::string, std::string> ps;
    proton::get(*params, ps);
    if (ps.size() > limits::max_parameters) {
      throw refused("configure: too many parameters");
    }
    for (auto& [k, val] : ps) {
      if (k.empty() || k.size() > limits::max_name || !printable(k)
          || val.size() > limits::max_text) {
        throw refused("configure: invalid parameter '"
                      + k.substr(0, limits::max_name) + "'");
      }
    }
    x.parameters = std::move(ps);
  }
  return x;
}

configure decode_configure(const proton::message& m) {
  fields f{m.body(), subject_configure};
  f.only({"assembly", "resources"});
  configure x;
  x.assembly = f.name("assembly");
  if (auto* rs = f.find("resources")) {
    for (auto& r : list_of(*rs, "configure: resources", limits::max_resources))
      x.resources.push_back(decode_definition(r));
  }
  return x;
}

command decode_command(const proton::message& m) {
  fields f{m.body(), subject_command};
  f.only({"resource", "operation"});
  command x;
  x.resource = f.name("resource");
  x.operation = f.text("operation", limits::max_name);
  if (!valid_operation(x.operation)) {
    throw refused("command: unknown operation '" + x.operation + "'");
  }
  return x;
}

template <class T, class F>
decoded<T> guarded(F&& f) {
  try {
    return {f(), {}};
  } catch (const refused& e) {
    return {T{}, e.why};
  } catch (const std::exception& e) {
    // proton's conversion errors: a field of the wrong AMQP type.
    return {T{}, std::string{"malformed message: "} + e.what()};
  }
}

} // namespace

proton::message encode(const hello& x) {
  std::vector<proton::value> addrs(x.addresses.begin(), x.addresses.end());
  body_map body{{"assembly", x.assembly},
                {"agent_version", x.agent_version},
                {"boot_id", x.boot_id},
                {"addresses", addrs}};
  if (!x.nonce.empty()) {
    body["nonce"] = x.nonce;
  }
  return make(subject_hello, std::move(body));
}

proton::message encode(const address_change& x) {
  std::vector<proton::value> addrs(x.addresses.begin(), x.addresses.end());
  return make(subject_addresses, {{"addresses", addrs}});
}

proton::message encode(const resource_state& x) {
  return make(
    subject_resource,
    {{"resource", x.resource}, {"condition", x.condition}, {"cause", x.cause}});
}

proton::message encode(const probe_result& x) {
  return make(subject_probe, {{"resource", x.resource},
                              {"ok", x.ok},
                              {"failures", x.failures},
                              {"detail", x.detail}});
}

proton::message encode(const proof& x) {
  return make(subject_proof, {{"proof", x.proof}});
}

proton::message encode(const challenge& x) {
  return make(subject_challenge, {{"nonce", x.nonce}, {"proof", x.proof}});
}

proton::message encode(const configure& x) {
  std::vector<proton::value> rs;
  for (auto& r : x.resources) {
    body_map m{{"name", r.name},
               {"class", r.resource_class},
               {"type", r.type},
               {"parameters", r.parameters},
               {"monitor_interval_ms", r.monitor_interval_ms},
               {"monitor_timeout_ms", r.monitor_timeout_ms}};
    if (!r.probe.kind.empty()) {
      m["probe"] = encode_probe(r.probe);
    }
    rs.emplace_back(std::move(m));
  }
  return make(subject_configure, {{"assembly", x.assembly}, {"resources", rs}});
}

proton::message encode(const command& x) {
  return make(subject_command,
              {{"resource", x.resource}, {"operation", x.operation}});
}

decoded<from_agent> decode_from_agent(const proton::message& m) {
  return guarded<from_agent>([&]() -> from_agent {
    auto subject = subject_of(m);
    if (subject == subject_hello) {
      return decode_hello(m);
    }
    if (subject == subject_resource) {
      return decode_resource_state(m);
    }
    if (subject == subject_addresses) {
      return decode_address_change(m);
    }
    if (subject == subject_probe) {
      return decode_probe_result(m);
    }
    if (subject == subject_proof) {
      return decode_proof(m);
    }
    throw refused("unknown message type '" + subject.substr(0, limits::max_name)
                  + "'");
  });
}

decoded<from_host> decode_from_host(const proton::message& m) {
  return guarded<from_host>([&]() -> from_host {
    auto subject = subject_of(m);
    if (subject == subject_configure) {
      return decode_configure(m);
    }
    if (subject == subject_command) {
      return decode_command(m);
    }
    if (subject == subject_challenge) {
      return decode_challenge(m);
    }
    throw refused("unknown message type '" + subject.substr(0, limits::max_name)
                  + "'");
  });
}

decoded<from_agent> decode_from_agent(const char* data, size_t size) {
  if (size > limits::max_message_bytes) {
    return {from_agent{}, "message larger than "
                            + std::to_string(limits::max_message_bytes)
                            + " bytes"};
  }
  proton::message m;
  try {
    m.decode(std::vector<char>(data, data + size));
  } catch (const std::exception& e) {
    return {from_agent{}, std::string{"undecodable message: "} + e.what()};
  }
  return decode_from_agent(m);
}

bool operator==(const probe_definition& x, const probe_definition& y) {
  return x.kind == y.kind && x.port == y.port && x.path == y.path
         && x.status_min == y.status_min && x.status_max == y.status_max
         && x.body == y.body && x.command == y.command
         && x.interval_ms == y.interval_ms && x.timeout_ms == y.timeout_ms
         && x.failures == y.failures
         && x.initial_delay_ms == y.initial_delay_ms;
}

std::string check_probe(const probe_definition& x) {
  if (x.kind != "tcp" && x.kind != "http" && x.kind != "command") {
    return "kind '" + x.kind.substr(0, limits::max_name)
           + "' is not a probe kind (tcp, http, command)";
  }
  if (x.kind != "command" && (x.port < 1 || x.port > 65535)) {
    return "port " + std::to_string(x.port) + " is outside 1-65535";
  }
  if (x.kind == "http" && (x.path.empty() || x.path[0] != '/')) {
    return "path '" + x.path.substr(0, limits::max_name)
           + "' does not start with /";
  }
  if (x.kind == "http"
      && (x.status_min < 100 || x.status_max > 599
          || x.status_min > x.status_max)) {
    return "status range " + std::to_string(x.status_min) + "-"
           + std::to_string(x.status_max) + " is not within 100-599";
  }
  if (x.kind == "command" && x.command.empty()) {
    return "command is empty";
  }
  for (auto* text : {&x.path, &x.body, &x.command}) {
    if (text->size() > limits::max_probe_text || !printable(*text)) {
      return "path, body or command is too long or has control characters";
    }
  }
  if (x.interval_ms < limits::min_probe_interval_ms
      || x.interval_ms > limits::max_probe_interval_ms) {
    return "interval " + std::to_string(x.interval_ms)
           + "ms is outside 100ms-1h";
  }
  if (x.timeout_ms == 0 || x.timeout_ms >= x.interval_ms) {
    return "timeout " + std::to_string(x.timeout_ms)
           + "ms is not below the interval (" + std::to_string(x.interval_ms)
           + "ms)";
  }
  if (x.failures < 1 || x.failures > limits::max_probe_failures) {
    return "failures " + std::to_string(x.failures) + " is outside 1-"
           + std::to_string(limits::max_probe_failures);
  }
  if (x.initial_delay_ms > limits::max_probe_interval_ms) {
    return "initial delay " + std::to_string(x.initial_delay_ms)
           + "ms is over 1h";
  }
  return {};
}

bool valid_condition(const std::string& x) {
  return x == "running" || x == "stopped" || x == "failed"
         || x == "start_failed";
}

bool valid_operation(const std::string& x) {
  return x == "start" || x == "stop" || x == "restart" || x == "monitor";
}

bool valid_class(const std::string& x) {
  return x == "exec" || x == "ocf" || x == "lsb" || x == "systemd";
}

} // namespace pcloud::wire
