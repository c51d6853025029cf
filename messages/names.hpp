// The one name check: every name an operator gives (JEOS, assembly,
// resource, deployable, template, recipe) passes valid_name before anything
// uses it, because names become file names under pcloudd's state directory
// and parts of libvirt domain names. Commands check all their arguments
// by kind at the shell service's door (check_arguments).
#pragma once

#include <string>
#include <vector>

#include "messages/error.hpp"
#include "messages/shell.hpp"

namespace pcloud::msg {

/// 1-63 ASCII letters, digits, '_', '.' or '-', starting with a letter or
/// a digit: no '/', no "..", nothing a path or a shell would read.
bool valid_name(const std::string& x);

/// invalid_argument unless `name` is valid; `kind` names it ("assembly").
error check_name(const std::string& kind, const std::string& name);

/// Free text (a file path, a setting's value): at most 1024 bytes, no
/// control characters (a newline would split a record on disk).
error check_text(const std::string& what, const std::string& text);

/// `x` cut to 64 characters with every byte that is not printable ASCII
/// shown as '?': safe to echo in a one-line error or a log.
std::string printable(const std::string& x);

/// Checks every argument of `cmd` by its kind: names with check_name, the
/// rest with check_text. The first failure, or no error.
error check_arguments(const command_info& cmd,
                      const std::vector<std::string>& args);

} // namespace pcloud::msg
