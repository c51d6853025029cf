// Fails every unit test during which an actor logged a bug: an error line
// starting with "bug:", such as a transition its table does not have.
#include <algorithm>
#include <mutex>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

namespace {

class bug_sink : public spdlog::sinks::base_sink<std::mutex> {
public:
  /// The bug lines since the last call.
  std::vector<std::string> take() {
    std::lock_guard<std::mutex> guard{mutex_};
    return std::exchange(lines_, {});
  }

protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    std::string text{msg.payload.data(), msg.payload.size()};
    if (text.rfind("bug:", 0) == 0) {
      lines_.push_back(std::move(text));
    }
  }

  void flush_() override {
    // Nothing buffered.
  }

private:
  std::vector<std::string> lines_;
};

const auto sink = std::make_shared<bug_sink>();

class no_bugs : public ::testing::EmptyTestEventListener {
  void OnTestStart(const ::testing::TestInfo&) override {
    // On the default logger of the moment: a test may have replaced it.
    auto& sinks = spdlog::default_logger()->sinks();
    if (std::find(sinks.begin(), sinks.end(), sink) == sinks.end()) {
      sinks.push_back(sink);
    }
    sink->take();
  }

  void OnTestEnd(const ::testing::TestInfo&) override {
    for (auto& line : sink->take()) {
      ADD_FAILURE() << "logged a bug: " << line;
    }
  }
};

const bool registered = [] {
  ::testing::UnitTest::GetInstance()->listeners().Append(new no_bugs);
  return true;
}();

} // namespace

TEST(no_bugs, bug_lines_are_caught) {
  EXPECT_TRUE(registered);
  spdlog::error("bug: logged on purpose by this test");
  spdlog::error("not a bug: an ordinary error");
  EXPECT_EQ(sink->take(),
            std::vector<std::string>{"bug: logged on purpose by this test"});
}
