#include "runtime/control/handshake.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace pcloud::runtime::control {

namespace {

constexpr char client_label[] = "pcloud control client v1";
constexpr char server_label[] = "pcloud control server v1";

using clock_type = std::chrono::steady_clock;

int remaining_ms(clock_type::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
    deadline - clock_type::now());
  return static_cast<int>(std::max<int64_t>(0, left.count()));
}

/// Waits for `events` on `fd` until `deadline`; false on timeout.
bool wait_for(int fd, short events, clock_type::time_point deadline) {
  for (;;) {
    pollfd p{fd, events, 0};
    auto n = ::poll(&p, 1, remaining_ms(deadline));
    if (n > 0) {
      return true;
    }
    if (n == 0 || errno != EINTR) {
      return false;
    }
  }
}

result<bool> send_all(int fd, const void* data, size_t size,
                      clock_type::time_point deadline) {
  auto p = static_cast<const char*>(data);
  while (size > 0) {
    auto n = ::send(fd, p, size, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      p += n;
      size -= static_cast<size_t>(n);
    } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      if (!wait_for(fd, POLLOUT, deadline)) {
        return fail(msg::errc::unavailable,
                    "pcloudd did not take the handshake in time");
      }
    } else {
      return fail(msg::errc::unavailable,
                  std::string{"the connection broke during the handshake: "}
                    + std::strerror(errno));
    }
  }
  return true;
}

/// Reads exactly `size` bytes and not one more: what follows is CAF's.
result<bool> receive_exactly(int fd, void* data, size_t size,
                             clock_type::time_point deadline) {
  auto p = static_cast<char*>(data);
  while (size > 0) {
    auto n = ::recv(fd, p, size, MSG_DONTWAIT);
    if (n > 0) {
      p += n;
      size -= static_cast<size_t>(n);
    } else if (n == 0) {
      return fail(msg::errc::unavailable,
                  "the peer closed the connection during the handshake "
                  "(not pcloudd, or it refused this connection)");
    } else if (errno == EAGAIN || errno == EINTR) {
      if (!wait_for(fd, POLLIN, deadline)) {
        return fail(msg::errc::unavailable,
                    "no handshake answer in time (not pcloudd?)");
      }
    } else {
      return fail(msg::errc::unavailable,
                  std::string{"the connection broke during the handshake: "}
                    + std::strerror(errno));
    }
  }
  return true;
}

} // namespace

nonce make_nonce() {
  nonce result;
  if (RAND_bytes(result.data(), static_cast<int>(result.size())) != 1) {
    // No entropy means no security: better to stop than to go on with a
    // predictable nonce.
    std::abort();
  }
  return result;
}

proof prove(side who, const std::string& token, const nonce& client,
            const nonce& server) {
  std::string message = who == side::client ? client_label : server_label;
  message.append(reinterpret_cast<const char*>(client.data()), client.size());
  message.append(reinterpret_cast<const char*>(server.data()), server.size());
  proof result{};
  unsigned int size = 0;
  HMAC(EVP_sha256(), token.data(), static_cast<int>(token.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(),
       result.data(), &size);
  return result;
}

bool proofs_equal(const proof& a, const proof& b) {
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

server_handshake::server_handshake(std::string token)
    : token_(std::move(token)) {
  // nop
}

size_t server_handshake::wanted() const noexcept {
  switch (state_) {
  case state::awaiting_hello:
    return hello_size - have_;
  case state::awaiting_proof:
    return proof_size - have_;
  default:
    return 0;
  }
}

size_t server_handshake::consume(const uint8_t* bytes, size_t size) {
  auto n = std::min(size, wanted());
  std::copy_n(bytes, n, frame_.begin() + static_cast<ptrdiff_t>(have_));
  have_ += n;
  if (n > 0 && wanted() == 0) {
    on_frame();
  }
  return n;
}

void server_handshake::on_frame() {
  have_ = 0;
  if (state_ == state::awaiting_hello) {
    if (!std::equal(magic.begin(), magic.end(), frame_.begin())) {
      state_ = state::refused;
      reason_ = "not a pcloud control handshake";
      return;
    }
    std::copy_n(frame_.begin() + magic.size(), nonce_size, client_.begin());
    server_ = make_nonce();
    auto mine = prove(side::server, token_, client_, server_);
    output_.assign(magic.begin(), magic.end());
    output_.append(reinterpret_cast<const char*>(server_.data()),
                   server_.size());
    output_.append(reinterpret_cast<const char*>(mine.data()), mine.size());
    state_ = state::awaiting_proof;
    return;
  }
  proof theirs;
  std::copy_n(frame_.begin(), proof_size, theirs.begin());
  if (proofs_equal(theirs, prove(side::client, token_, client_, server_))) {
    state_ = state::accepted;
    output_ += accepted;
  } else {
    state_ = state::refused;
    reason_ = "wrong token";
    output_ += refused;
  }
}

result<bool> client_handshake(int fd, const std::string& token,
                              std::chrono::milliseconds timeout) {
  auto deadline = clock_type::now() + timeout;
  auto mine = make_nonce();
  std::string hello(magic.begin(), magic.end());
  hello.append(reinterpret_cast<const char*>(mine.data()), mine.size());
  if (auto ok = send_all(fd, hello.data(), hello.size(), deadline); !ok) {
    return ok;
  }
  std::array<uint8_t, welcome_size> welcome{};
  if (auto ok = receive_exactly(fd, welcome.data(), welcome.size(), deadline);
      !ok) {
    return ok;
  }
  nonce theirs;
  proof server_proof;
  std::copy_n(welcome.begin() + magic.size(), nonce_size, theirs.begin());
  std::copy_n(welcome.begin() + magic.size() + nonce_size, proof_size,
              server_proof.begin());
  if (!std::equal(magic.begin(), magic.end(), welcome.begin())
      || !proofs_equal(server_proof,
                       prove(side::server, token, mine, theirs))) {
    return fail(msg::errc::permission_denied,
                "the server did not prove that it holds this token: the "
                "token file is not this pcloudd's, or something else "
                "listens there; it was told nothing");
  }
  auto answer = prove(side::client, token, mine, theirs);
  if (auto ok = send_all(fd, answer.data(), answer.size(), deadline); !ok) {
    return ok;
  }
  char verdict = 0;
  if (auto ok = receive_exactly(fd, &verdict, 1, deadline); !ok) {
    return ok;
  }
  if (verdict != accepted) {
    return fail(msg::errc::permission_denied,
                "pcloudd refused the token (is the token file pcloudd's?)");
  }
  return true;
}

} // namespace pcloud::runtime::control
