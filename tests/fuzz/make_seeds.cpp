// Writes one valid message of each kind into DIR: the fuzzer's seed corpus.
#include <cstdio>
#include <fstream>
#include <string>

#include "guest/link/wire.hpp"

namespace {

void write(const std::string& dir, const std::string& name, char selector,
           const proton::message& m) {
  std::vector<char> bytes;
  m.encode(bytes);
  std::ofstream out{dir + "/" + name, std::ios::binary};
  out.put(selector);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

} // namespace

int main(int argc, char** argv) {
  using namespace pcloud::wire;
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_seeds DIR\n");
    return 2;
  }
  std::string dir = argv[1];
  write(dir, "hello", 0,
        encode(hello{
          protocol_version, "web1", "0.1.0", "6e1c-9a", {"10.0.2.15"}, ""}));
  // A TCP agent's hello carries a nonce; its proof follows the challenge.
  write(dir, "hello-tcp", 0,
        encode(hello{protocol_version,
                     "web1",
                     "0.1.0",
                     "6e1c-9a",
                     {"10.0.2.15"},
                     std::string(64, 'f')}));
  write(dir, "proof", 0, encode(proof{std::string(64, 'e')}));
  write(dir, "challenge", 1,
        encode(challenge{std::string(64, 'a'), std::string(64, 'b')}));
  write(dir, "resource", 0,
        encode(resource_state{"httpd", "failed", "killed by signal 9"}));
  write(dir, "configure", 1,
        encode(configure{
          "web1",
          {{"httpd",
            "ocf",
            "heartbeat:apache",
            {{"port", "80"}},
            10000,
            20000,
            {"http", 80, "/", 200, 399, "ok", "", 1000, 500, 3, 0}}}}));
  write(dir, "probe", 0,
        encode(probe_result{"httpd", false, 2, "timed out after 500ms"}));
  write(dir, "command", 1, encode(command{"httpd", "restart"}));
  write(dir, "addresses", 1,
        encode(address_change{{"192.168.122.57", "fe80::1"}}));
  return 0;
}
