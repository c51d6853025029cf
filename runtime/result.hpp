// A value or an error message: how runtime/ reports failures that come from
// the environment (libvirt, files, guests). No exceptions cross runtime/.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace pcloud::runtime {

struct failure {
  std::string message;
};

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

  const std::string& error() const { return std::get<1>(data_).message; }

private:
  std::variant<T, failure> data_;
};

template <>
class [[nodiscard]] result<void> {
public:
  result() = default;

  result(failure err) : error_(std::move(err.message)), ok_(false) {
    // nop
  }

  bool ok() const noexcept { return ok_; }

  explicit operator bool() const noexcept { return ok_; }

  const std::string& error() const { return error_; }

private:
  std::string error_;
  bool ok_ = true;
};

inline failure fail(std::string message) {
  return failure{std::move(message)};
}

} // namespace pcloud::runtime
