// Golden transcripts of pcloudsh: each tests/shell/transcripts/NAME.txt is
// run against a fresh pcloudd on test:///default and must read the same
// afterwards, volatile fields masked. A change of output is a reviewed
// change of a golden file; PCLOUD_UPDATE_TRANSCRIPTS=1 rewrites them.
//
// The format, one line at a time:
//   # text        a comment (kept; blank lines too)
//   $ ARGS        one pcloudsh run with `--state-dir <DIR>` put first (a run
//                 that names --state-dir itself gets nothing put first);
//                 ARGS are split at spaces
//   < TEXT        a line of that run's standard input (a script)
//   TEXT          what it printed on standard output; a line that would read
//                 as something else (empty, or starting with one of #$<@!?|\)
//                 is written after "| ", a missing last newline as
//                 "\ no newline"
//   ! TEXT        what it printed on standard error
//   ? N           its exit status, when not 0
//   @ DIRECTIVE   what an operator does outside pcloudsh:
//     @fake_tiny_jeos            a built tiny JEOS (fake_tiny_jeos())
//     @file NAME TEXT            writes TEXT and a newline to <DIR>/NAME
//     @agent ASSEMBLY            a scripted agent on ASSEMBLY's channel
//     @until ARGS ~ REGEX        runs pcloudsh ARGS until its output matches
//     @stop_daemon               SIGTERM to pcloudd, waits for its exit
//     @sh COMMAND                /bin/sh -c COMMAND, which must succeed
//     @interrupt REGEX           SIGINT to the next run once its standard
//                                output matches
// `<DIR>` in ARGS and directives is the state directory. In the output the
// masks below replace what changes from run to run.
#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tests/support/daemon_process.hpp"
#include "tests/support/guest_link.hpp"

namespace {

namespace fs = std::filesystem;
using namespace pcloud::test;

/// What changes from run to run: the regex's first group is replaced by
/// <KIND>, or by <KIND1>, <KIND2>, ... when numbered: each distinct value
/// gets the next number in the order the transcript shows them, so that
/// equal values stay equal and different ones different. `text`, when
/// given, replaces it instead.
struct mask {
  std::regex re;
  std::string kind;
  bool numbered;
  std::string text = {};
};

const std::vector<mask>& masks() {
  static const std::vector<mask> table{
    {std::regex{
       "([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})"},
     "UUID", true},
    // Host ports of port forwards (20000-29999): the free ones on this host.
    {std::regex{"127\\.0\\.0\\.1:(2[0-9]{4})\\b"}, "PORT", true},
    {std::regex{"host port (2[0-9]{4})\\b"}, "PORT", true},
    {std::regex{"\\bpid ([0-9]+)"}, "PID", true},
    // The time of an event line (one that starts with "<" would read as
    // standard input).
    {std::regex{"^([0-9]{2}:[0-9]{2}:[0-9]{2}) "}, "TIME", false, "HH:MM:SS"},
    {std::regex{"\"time_ms\": ([0-9]+)"}, "TIME", false},
    {std::regex{"^pcloudsh ([0-9]+\\.[0-9]+\\.[0-9]+)$"}, "VERSION", false},
  };
  return table;
}

bool starts_with(const std::string& x, const std::string& prefix) {
  return x.rfind(prefix, 0) == 0;
}

std::string replace_all(std::string text, const std::string& from,
                        const std::string& to) {
  for (auto at = text.find(from); at != std::string::npos;
       at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
  return text;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> result;
  std::istringstream in{text};
  for (std::string line; std::getline(in, line);) {
    result.push_back(line);
  }
  return result;
}

/// Words at spaces (no quoting: a script on `<` lines has pcloudsh's).
std::vector<std::string> words_of(const std::string& text) {
  std::vector<std::string> result;
  std::istringstream in{text};
  for (std::string word; in >> word;) {
    result.push_back(word);
  }
  return result;
}

/// What a transcript says to do: every line but the recorded output.
struct step {
  /// A comment, a blank line, a directive or a `$` line, as written.
  std::string line;
  /// The `<` lines after a `$` line.
  std::vector<std::string> input;
};

std::vector<step> parse(const std::string& text) {
  std::vector<step> steps;
  for (auto& line : lines_of(text)) {
    auto input = starts_with(line, "< ") || line == "<";
    if (input && !steps.empty() && starts_with(steps.back().line, "$")) {
      steps.back().input.push_back(line);
    } else if (line.empty() || line[0] == '#' || line[0] == '@' || line == "$"
               || starts_with(line, "$ ")) {
      steps.push_back({line, {}});
    }
    // Anything else is recorded output, made again by the run.
  }
  return steps;
}

/// `out`, a run's standard output or error, as transcript lines.
void render_output(const std::string& out, bool is_stdout, std::string& text) {
  for (auto& line : lines_of(out)) {
    if (!is_stdout) {
      text += line.empty() ? "!\n" : "! " + line + "\n";
    } else if (line.empty()
               || std::string{"#$<@!?|\\"}.find(line[0]) != std::string::npos) {
      text += line.empty() ? "|\n" : "| " + line + "\n";
    } else {
      text += line + "\n";
    }
  }
  if (!out.empty() && out.back() != '\n') {
    text += is_stdout ? "\\ no newline\n" : "! \\ no newline\n";
  }
}

/// A unified-style diff of two texts' lines, with three lines of context.
std::string diff(const std::string& expected, const std::string& actual) {
  auto a = lines_of(expected), b = lines_of(actual);
  auto n = a.size(), m = b.size();
  // Longest common subsequence lengths of every pair of suffixes.
  std::vector<std::vector<size_t>> common(n + 1, std::vector<size_t>(m + 1));
  for (auto i = n; i-- > 0;) {
    for (auto j = m; j-- > 0;) {
      common[i][j] = a[i] == b[j]
                       ? common[i + 1][j + 1] + 1
                       : std::max(common[i + 1][j], common[i][j + 1]);
    }
  }
  struct edit {
    char tag;
    size_t i, j;
  };
  std::vector<edit> edits;
  size_t i = 0, j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] == b[j]) {
      edits.push_back({' ', i++, j++});
    } else if (i < n && (j == m || common[i + 1][j] >= common[i][j + 1])) {
      edits.push_back({'-', i++, j});
    } else {
      edits.push_back({'+', i, j++});
    }
  }
  std::vector<bool> shown(edits.size());
  for (size_t k = 0; k < edits.size(); ++k) {
    if (edits[k].tag != ' ') {
      for (auto c = k < 3 ? 0 : k - 3; c < edits.size() && c <= k + 3; ++c) {
        shown[c] = true;
      }
    }
  }
  std::string out = "--- expected\n+++ actual\n";
  for (size_t k = 0; k < edits.size(); ++k) {
    if (!shown[k]) {
      continue;
    }
    auto& e = edits[k];
    if (k == 0 || !shown[k - 1]) {
      out += "@@ -" + std::to_string(e.i + 1) + " +" + std::to_string(e.j + 1)
             + " @@\n";
    }
    out += e.tag + (e.tag == '+' ? b[e.j] : a[e.i]) + "\n";
  }
  return out;
}

/// A scripted agent on an assembly's channel socket, as its guest's would.
struct scripted_agent {
  explicit scripted_agent(const std::string& path) : channel(path) {}
  socket_channel channel;
  std::unique_ptr<agent_thread> agent;
};

std::vector<std::string> transcript_names() {
  std::vector<std::string> names;
  for (auto& entry : fs::directory_iterator(PCLOUD_TRANSCRIPT_DIR)) {
    if (entry.path().extension() == ".txt") {
      names.push_back(entry.path().stem().string());
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

class transcript : public daemon_fixture,
                   public ::testing::WithParamInterface<std::string> {
protected:
  transcript()
      : daemon_fixture("/tmp/pcloudsh-transcript-XXXXXX", "test:///default") {
    // nop
  }

  ~transcript() override {
    // Agents end before the daemon: the fixture kills it afterwards.
    agents.clear();
  }

  /// `line` with one mask applied.
  std::string masked(const std::string& line, const mask& m) {
    std::string result;
    auto rest = line.begin();
    for (std::sregex_iterator i{line.begin(), line.end(), m.re}, end; i != end;
         ++i) {
      auto& value = (*i)[1];
      std::string number;
      if (m.numbered) {
        auto& seen = seen_values[m.kind];
        auto n = std::find(seen.begin(), seen.end(), value.str());
        if (n == seen.end()) {
          n = seen.insert(seen.end(), value.str());
        }
        number = std::to_string(n - seen.begin() + 1);
      }
      result.append(rest, value.first);
      result += m.text.empty() ? "<" + m.kind + number + ">" : m.text;
      rest = value.second;
    }
    return result.append(rest, line.end());
  }

  /// `text` with the state directory and the masks replaced, line by line.
  std::string masked(const std::string& text) {
    std::string result;
    for (size_t at = 0; at < text.size();) {
      auto end = std::min(text.find('\n', at), text.size());
      auto line = replace_all(text.substr(at, end - at), dir, "<DIR>");
      for (auto& m : masks()) {
        line = masked(line, m);
      }
      result += line + text.substr(end, 1);
      at = end + 1;
    }
    return result;
  }

  /// One pcloudsh run of `$ ARGS`, in transcript form.
  std::string run(const step& s) {
    auto args = words_of(replace_all(s.line.substr(1), "<DIR>", dir));
    std::vector<std::string> options;
    if (std::find(args.begin(), args.end(), "--state-dir") == args.end()) {
      options = {"--state-dir", dir};
    }
    options.insert(options.end(), args.begin(), args.end());
    std::string input;
    for (auto& line : s.input) {
      input += (line.size() > 2 ? line.substr(2) : "") + "\n";
    }
    input = replace_all(input, "<DIR>", dir);
    shell_result r;
    if (interrupt_when.empty()) {
      r = sh({}, input, options);
    } else {
      // A run that lasts until Ctrl-C (events): SIGINT once it printed
      // what was awaited.
      std::regex re{interrupt_when};
      interrupt_when.clear();
      fs::remove(dir + "/sh.out");
      std::thread run{[&] { r = sh({}, input, options); }};
      wait_until([&] { return std::regex_search(slurp(dir + "/sh.out"), re); });
      for (auto pid : child_pids("pcloudsh")) {
        ::kill(pid, SIGINT);
      }
      run.join();
    }
    std::string text;
    render_output(masked(r.out), true, text);
    render_output(masked(r.err), false, text);
    if (r.rc != 0) {
      text += "? " + std::to_string(r.rc) + "\n";
    }
    return text;
  }

  /// Does what an `@` line says; an error's text, or nothing.
  std::string directive(const std::string& line) {
    auto words = words_of(replace_all(line.substr(1), "<DIR>", dir));
    auto what = words.empty() ? std::string{} : words[0];
    if (what == "fake_tiny_jeos" && words.size() == 1) {
      fake_tiny_jeos();
    } else if (what == "file" && words.size() >= 2) {
      auto rest = line.substr(std::string{"@file "}.size());
      auto space = std::min(rest.find(' '), rest.size());
      std::ofstream{dir + "/" + rest.substr(0, space)}
        << rest.substr(std::min(space + 1, rest.size())) << "\n";
    } else if (what == "agent" && words.size() == 2) {
      auto uuid = uuid_of(words[1]);
      if (uuid.empty()) {
        return "no assembly " + words[1];
      }
      fs::create_directories(dir + "/run");
      auto a
        = std::make_unique<scripted_agent>(dir + "/run/" + uuid + ".agent");
      if (!a->channel.error().empty()) {
        return a->channel.error();
      }
      a->agent = std::make_unique<agent_thread>(a->channel, words[1]);
      agents.push_back(std::move(a));
    } else if (what == "until" && line.find(" ~ ") != std::string::npos) {
      auto tilde = line.find(" ~ ");
      auto from = std::string{"@until "}.size();
      auto args
        = words_of(replace_all(line.substr(from, tilde - from), "<DIR>", dir));
      std::regex re{line.substr(tilde + 3)};
      args.insert(args.begin(), {"--state-dir", dir});
      shell_result r;
      if (!wait_until([&] {
            r = sh({}, {}, args);
            return std::regex_search(r.out, re);
          })) {
        return "never matched; the last output:\n" + r.out + r.err;
      }
    } else if (what == "stop_daemon" && words.size() == 1) {
      stop_daemon(SIGTERM);
    } else if (what == "interrupt" && words.size() >= 2) {
      interrupt_when = line.substr(std::string{"@interrupt "}.size());
    } else if (what == "sh" && words.size() >= 2) {
      auto command = replace_all(line.substr(4), "<DIR>", dir);
      if (std::system(command.c_str()) != 0) {
        return "failed";
      }
    } else {
      return "unknown directive";
    }
    return {};
  }

  std::vector<std::unique_ptr<scripted_agent>> agents;
  /// The values each numbered mask has seen, in order.
  std::map<std::string, std::vector<std::string>> seen_values;
  /// Set by @interrupt for the next run.
  std::string interrupt_when;
};

TEST_P(transcript, reads_as_recorded) {
  auto path = std::string{PCLOUD_TRANSCRIPT_DIR} + "/" + GetParam() + ".txt";
  if (!fs::exists(path)) {
    GTEST_SKIP() << path << " was deleted (the next build drops its test)";
  }
  auto expected = slurp(path);
  start_daemon();
  std::string actual;
  for (auto& s : parse(expected)) {
    actual += s.line + "\n";
    for (auto& line : s.input) {
      actual += line + "\n";
    }
    if (starts_with(s.line, "$")) {
      actual += run(s);
    } else if (starts_with(s.line, "@")) {
      auto error = directive(s.line);
      EXPECT_EQ(error, "") << path << ": " << s.line;
    }
  }
  if (actual == expected) {
    return;
  }
  if (auto* update = std::getenv("PCLOUD_UPDATE_TRANSCRIPTS");
      update != nullptr && std::string{update} == "1") {
    std::ofstream{path} << actual;
    std::cout << "rewrote " << path << "\n" << diff(expected, actual);
    return;
  }
  ADD_FAILURE() << path << " reads differently now "
                << "(PCLOUD_UPDATE_TRANSCRIPTS=1 rewrites it):\n"
                << diff(expected, actual);
}

INSTANTIATE_TEST_SUITE_P(pcloudsh, transcript,
                         ::testing::ValuesIn(transcript_names()),
                         [](const auto& info) { return info.param; });

} // namespace
