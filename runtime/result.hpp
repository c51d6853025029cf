// A value or an error: how runtime/ reports failures that come from the
// environment (libvirt, files, guests). The error is pcloud's one error type
// (messages/error.hpp): a code and a one-line message. No exceptions cross
// runtime/.
#pragma once

#include <string>
#include <utility>
#include <variant>

#include "messages/error.hpp"

namespace pcloud::runtime {

using failure = msg::error;

template <class T>
class [[nodiscard]] result {
public:
  result(T value) : data_(std::move(value)) {
    // nop
  }

  result(failure err) : data_(std::move(err)) {
    // nop
  }

  bool ok() const noexcept { return data_.index() == 0; }

  explicit operator bool() const noexcept { return ok(); }

  T& value() & { return std::get<0>(data_); }

  T&& value() && { return std::get<0>(std::move(data_)); }

  const T& value() const& { return std::get<0>(data_); }

  T* operator->() { return &value(); }

  T& operator*() & { return value(); }

  /// The error's message.
  const std::string& error() const { return std::get<1>(data_).message; }

  /// The whole error: code and message.
  const failure& failure_value() const { return std::get<1>(data_); }

  msg::errc code() const {
    return ok() ? msg::errc::none : std::get<1>(data_).code;
  }

private:
  std::variant<T, failure> data_;
};

template <>
class [[nodiscard]] result<void> {
public:
  result() = default;

  result(failure err) : error_(std::move(err)) {
    // nop
  }

  bool ok() const noexcept { return error_.code == msg::errc::none; }

  explicit operator bool() const noexcept { return ok(); }

  const std::string& error() const { return error_.message; }

  const failure& failure_value() const { return error_; }

  msg::errc code() const { return error_.code; }

private:
  failure error_;
};

/// A failure nobody classified: internal.
inline failure fail(std::string message) {
  return failure{msg::errc::internal, std::move(message)};
}

inline failure fail(msg::errc code, std::string message) {
  // A failure without a code would read as success.
  return failure{code == msg::errc::none ? msg::errc::internal : code,
                 std::move(message)};
}

} // namespace pcloud::runtime
