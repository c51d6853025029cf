#include "shell/render.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>

namespace pcloud::shell {

std::string json_string(const std::string& x) {
  std::string result = "\"";
  for (unsigned char c : x) {
    switch (c) {
    case '"':
      result += "\\\"";
      break;
    case '\\':
      result += "\\\\";
      break;
    case '\n':
      result += "\\n";
      break;
    case '\t':
      result += "\\t";
      break;
    default:
      if (c < 0x20) {
        char buf[8];
        std::snprintf(buf, sizeof(buf), "\\u%04x", c);
        result += buf;
      } else {
        result += static_cast<char>(c);
      }
    }
  }
  return result + "\"";
}

std::string render_text(const msg::shell_reply& reply) {
  if (reply.columns.empty()) {
    return reply.message;
  }
  std::vector<size_t> widths;
  for (auto& c : reply.columns) {
    widths.push_back(c.size());
  }
  for (auto& row : reply.rows) {
    for (size_t i = 0; i < row.size() && i < widths.size(); ++i) {
      widths[i] = std::max(widths[i], row[i].size());
    }
  }
  std::string out;
  auto line = [&](const std::vector<std::string>& cells, bool upper) {
    std::string text;
    for (size_t i = 0; i < widths.size(); ++i) {
      auto cell = i < cells.size() ? cells[i] : std::string{};
      if (upper) {
        std::transform(cell.begin(), cell.end(), cell.begin(), ::toupper);
      }
      text += cell;
      if (i + 1 < widths.size()) {
        text += std::string(widths[i] - cell.size() + 2, ' ');
      }
    }
    while (!text.empty() && text.back() == ' ') {
      text.pop_back();
    }
    out += text + "\n";
  };
  line(reply.columns, true);
  for (auto& row : reply.rows) {
    line(row, false);
  }
  if (!out.empty()) {
    out.pop_back();
  }
  return out;
}

std::string render_json(const msg::shell_reply& reply) {
  if (!reply.ok()) {
    // The code and the exit status, so scripts need not read the message.
    return "{\"ok\": false, \"error\": "
           + json_string(msg::to_string(reply.code)) + ", \"exit_status\": "
           + std::to_string(msg::exit_status(reply.code))
           + ", \"message\": " + json_string(reply.message) + "}";
  }
  if (reply.columns.empty()) {
    return "{\"ok\": true, \"message\": " + json_string(reply.message) + "}";
  }
  std::string out = "[";
  for (size_t r = 0; r < reply.rows.size(); ++r) {
    out += r == 0 ? "\n  {" : ",\n  {";
    for (size_t i = 0; i < reply.columns.size(); ++i) {
      auto cell = i < reply.rows[r].size() ? reply.rows[r][i] : std::string{};
      out += (i == 0 ? "" : ", ") + json_string(reply.columns[i]) + ": "
             + json_string(cell);
    }
    out += "}";
  }
  return out + (reply.rows.empty() ? "]" : "\n]");
}

std::string render_event(const msg::event& ev) {
  auto t = std::chrono::system_clock::to_time_t(
    std::chrono::system_clock::time_point{
      std::chrono::duration_cast<std::chrono::system_clock::duration>(
        ev.time.time_since_epoch())});
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[16];
  std::strftime(buf, sizeof(buf), "%H:%M:%S", &tm);
  return std::string{buf} + " " + msg::to_string(ev);
}

std::string render_event_json(const msg::event& ev, bool replayed) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
              ev.time.time_since_epoch())
              .count();
  auto downtime_ms
    = std::chrono::duration_cast<std::chrono::milliseconds>(ev.downtime)
        .count();
  return "{\"sequence\": " + std::to_string(ev.sequence)
         + ", \"time_ms\": " + std::to_string(ms)
         + ", \"deployable\": " + json_string(ev.deployable)
         + ", \"assembly\": " + json_string(ev.assembly)
         + ", \"resource\": " + json_string(ev.resource) + ", \"state\": "
         + json_string(msg::to_string(ev.state)) + ", \"reason\": "
         + json_string(ev.reason) + ", \"action\": " + json_string(ev.action)
         + ", \"restarts\": " + std::to_string(ev.restarts)
         + ", \"downtime_ms\": " + std::to_string(downtime_ms)
         + ", \"replayed\": " + (replayed ? "true" : "false") + "}";
}

} // namespace pcloud::shell
