#include "runtime/log_limiter.hpp"

#include <iterator>

namespace pcloud::runtime {

log_limiter::log_limiter(clock::duration interval, size_t max_keys)
    : interval_(interval), max_keys_(max_keys) {
  // nop
}

bool log_limiter::admit(const std::string& key, clock::time_point now,
                        size_t& left_out) {
  auto i = keys_.find(key);
  if (i != keys_.end() && now - i->second.logged_at < interval_) {
    ++i->second.left_out;
    return false;
  }
  left_out = i == keys_.end() ? 0 : i->second.left_out;
  if (i == keys_.end() && keys_.size() >= max_keys_) {
    // Many sources at once (a scan): forget the quiet ones; a key forgotten
    // early only means one more line.
    for (auto j = keys_.begin(); j != keys_.end();) {
      j = now - j->second.logged_at >= interval_ ? keys_.erase(j)
                                                 : std::next(j);
    }
    if (keys_.size() >= max_keys_) {
      return true; // logged, not remembered: the bound holds
    }
  }
  keys_[key] = {now, 0};
  return true;
}

} // namespace pcloud::runtime
