// pcloud's one error type: a code that says what kind of failure it is and a
// one-line message for people. runtime/ makes them where the outside world
// fails, actors/ pass them on, pcloudsh turns the code into its exit status
// and its --json error object. Between actors an error travels as a
// caf::error of category "pcloud" (code and message intact, also across the
// remote link). Nothing decides by searching a message's text.
#pragma once

#include <cstdint>
#include <string>

#include <caf/error.hpp>
#include <caf/meta/type_name.hpp>

namespace pcloud::msg {

enum class errc : uint8_t {
  /// Not an error.
  none = 0,
  /// pcloud itself failed: a bug, or a failure nobody classified.
  internal,
  /// The request is wrong: usage, a bad name, value or file.
  invalid_argument,
  /// pcloudd, or something it needs (libvirt, the disk, a peer), does not
  /// answer now; trying again later may work.
  unavailable,
  /// The caller holds no valid credential.
  permission_denied,
  /// The named thing does not exist.
  not_found,
  /// A thing of that name exists already.
  exists,
  /// Other definitions depend on it (a JEOS used by assemblies, an assembly
  /// in a deployable, a host port held by another assembly).
  in_use,
  /// Its current state forbids it: running, not running, changed meanwhile.
  wrong_state,
};

/// Every code, in declaration order (tests and documentation walk them).
inline constexpr errc all_errcs[] = {
  errc::none,
  errc::internal,
  errc::invalid_argument,
  errc::unavailable,
  errc::permission_denied,
  errc::not_found,
  errc::exists,
  errc::in_use,
  errc::wrong_state,
};

/// "not_found": the name scripts see in pcloudsh's --json output.
std::string to_string(errc code);

/// pcloudsh's exit status for a command that ended with `code`: 0 for none,
/// a distinct status for every other code (pcloudsh(1) lists them).
int exit_status(errc code);

struct error {
  errc code = errc::none;
  std::string message;

  explicit operator bool() const noexcept { return code != errc::none; }
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, error& x) {
  return f(caf::meta::type_name("pcloud_error"), x.code, x.message);
}

bool operator==(const error& x, const error& y);

/// The error's CAF form, category "pcloud": what request handlers return
/// and deliver.
caf::error make_error(errc code, std::string message);

inline caf::error make_error(const error& x) {
  return make_error(x.code, x.message);
}

/// Any CAF error as pcloud's: category "pcloud" keeps its code and message;
/// CAF's own errors (a request timed out, the receiver is gone, a peer
/// unreachable) are `unavailable`; anything else is `internal`.
error to_error(const caf::error& err);

/// The same error with `prefix` before its message ("not saved: ...").
error with_context(error x, const std::string& prefix);

} // namespace pcloud::msg
