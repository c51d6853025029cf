// libFuzzer target: raw bytes as an AMQP message from a guest (and, with the
// first byte odd, from the host), through proton's decoder and pcloud's
// checks. A guest controls these bytes; nothing here may crash, hang or leak.
#include <cstddef>
#include <cstdint>

#include <proton/message.hpp>

#include "guest/link/wire.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) {
    return 0;
  }
  auto* bytes = reinterpret_cast<const char*>(data) + 1;
  auto n = size - 1;
  if ((data[0] & 1) == 0) {
    auto d = pcloud::wire::decode_from_agent(bytes, n);
    // A decoded message must encode again (both ends use the same code).
    if (d.ok()) {
      std::visit([](auto& x) { pcloud::wire::encode(x); }, d.value);
    }
  } else if (n <= pcloud::wire::limits::max_message_bytes) {
    proton::message m;
    try {
      m.decode(std::vector<char>(bytes, bytes + n));
    } catch (const std::exception&) {
      return 0;
    }
    auto d = pcloud::wire::decode_from_host(m);
    if (d.ok()) {
      std::visit([](auto& x) { pcloud::wire::encode(x); }, d.value);
    }
  }
  return 0;
}
