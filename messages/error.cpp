#include "messages/error.hpp"

#include <caf/atom.hpp>
#include <caf/message.hpp>
#include <caf/sec.hpp>

namespace pcloud::msg {

namespace {

constexpr auto category = caf::atom("pcloud");

} // namespace

std::string to_string(errc code) {
  switch (code) {
  case errc::none:
    return "none";
  case errc::internal:
    return "internal";
  case errc::invalid_argument:
    return "invalid_argument";
  case errc::unavailable:
    return "unavailable";
  case errc::permission_denied:
    return "permission_denied";
  case errc::not_found:
    return "not_found";
  case errc::exists:
    return "exists";
  case errc::in_use:
    return "in_use";
  case errc::wrong_state:
    return "wrong_state";
  }
  return "internal";
}

int exit_status(errc code) {
  // 1-3 keep the meaning they had before codes existed (failed, bad usage,
  // pcloudd unreachable); the codes added later get statuses of their own.
  switch (code) {
  case errc::none:
    return 0;
  case errc::internal:
    return 1;
  case errc::invalid_argument:
    return 2;
  case errc::unavailable:
    return 3;
  case errc::permission_denied:
    return 4;
  case errc::not_found:
    return 5;
  case errc::exists:
    return 6;
  case errc::in_use:
    return 7;
  case errc::wrong_state:
    return 8;
  }
  return 1;
}

bool operator==(const error& x, const error& y) {
  return x.code == y.code && x.message == y.message;
}

caf::error make_error(errc code, std::string message) {
  // An error with no code would read as success (caf::error's code 0).
  if (code == errc::none) {
    code = errc::internal;
  }
  return caf::error{static_cast<uint8_t>(code), category,
                    caf::make_message(std::move(message))};
}

error to_error(const caf::error& err) {
  if (!err) {
    return {};
  }
  auto& ctx = err.context();
  std::string text;
  if (ctx.size() == 1 && ctx.match_element<std::string>(0)) {
    text = ctx.get_as<std::string>(0);
  }
  if (err.category() == category) {
    auto code = static_cast<errc>(err.code());
    if (code == errc::none
        || err.code() > static_cast<uint8_t>(errc::wrong_state)) {
      code = errc::internal;
    }
    return {code, std::move(text)};
  }
  if (err.category() == caf::atom("system")) {
    auto sec = static_cast<caf::sec>(err.code());
    if (text.empty()) {
      text = caf::to_string(sec);
    }
    switch (sec) {
    case caf::sec::request_timeout:
      return {errc::unavailable, "no answer in time"};
    case caf::sec::request_receiver_down:
    case caf::sec::no_route_to_receiving_node:
    case caf::sec::remote_linking_failed:
    case caf::sec::cannot_connect_to_node:
    case caf::sec::disconnect_during_handshake:
      return {errc::unavailable, text};
    default:
      return {errc::internal, text};
    }
  }
  return {errc::internal, text.empty() ? caf::to_string(err) : text};
}

error with_context(error x, const std::string& prefix) {
  x.message = prefix + x.message;
  return x;
}

} // namespace pcloud::msg
