// How pcloudsh shows replies and events: aligned text tables for people,
// JSON for scripts (--json).
#pragma once

#include <string>

#include "messages/event.hpp"
#include "messages/shell.hpp"

namespace pcloud::shell {

/// A table with a header line and aligned columns, or the reply's message.
std::string render_text(const msg::shell_reply& reply);

/// Tables as an array of objects keyed by column, messages as
/// {"ok": true, "message": ...}, failures as {"ok": false, "error": CODE,
/// "exit_status": N, "message": ...}.
std::string render_json(const msg::shell_reply& reply);

/// "12:04:31 dep1/assy2/httpd ACTIVE: restarted in 14 ms"
std::string render_event(const msg::event& ev);

/// One JSON object per event, on one line.
std::string render_event_json(const msg::event& ev, bool replayed = false);

std::string json_string(const std::string& x);

} // namespace pcloud::shell
