// The proofs of the guest link's TCP transport (guest/link/proof.hpp).
#include <gtest/gtest.h>

#include <set>

#include "guest/link/proof.hpp"

using namespace pcloud;

namespace {

const std::string secret(64, '7');
const std::string agent_nonce(64, 'a');
const std::string host_nonce(64, 'b');

std::string host_proof(const std::string& key, const std::string& assembly,
                       const std::string& a, const std::string& h) {
  return wire::prove(wire::prover::host, key, assembly, a, h);
}

} // namespace

TEST(proof, depends_on_the_secret_the_assembly_and_both_nonces) {
  auto p = host_proof(secret, "web1", agent_nonce, host_nonce);
  EXPECT_TRUE(wire::is_hex(p, wire::proof_digits));
  EXPECT_EQ(p, host_proof(secret, "web1", agent_nonce, host_nonce));
  std::set<std::string> others{
    host_proof(std::string(64, '8'), "web1", agent_nonce, host_nonce),
    host_proof(secret, "web2", agent_nonce, host_nonce),
    host_proof(secret, "web1", host_nonce, host_nonce),
    host_proof(secret, "web1", agent_nonce, agent_nonce),
    // The same bytes split differently are another message.
    host_proof(secret, "web1a", agent_nonce.substr(1), host_nonce),
    wire::prove(wire::prover::agent, secret, "web1", agent_nonce, host_nonce),
  };
  EXPECT_EQ(others.size(), 6u);
  EXPECT_EQ(others.count(p), 0u)
    << "and the agent's proof is never the host's (no reflection)";
  EXPECT_EQ(p.find(secret), std::string::npos);
}

TEST(proof, comparison_needs_equal_non_empty_proofs) {
  auto p = host_proof(secret, "web1", agent_nonce, host_nonce);
  EXPECT_TRUE(wire::same_proof(p, p));
  EXPECT_FALSE(wire::same_proof(p, p.substr(1)));
  EXPECT_FALSE(wire::same_proof("", ""));
  auto q = p;
  q.back() = q.back() == '0' ? '1' : '0';
  EXPECT_FALSE(wire::same_proof(p, q));
}

TEST(proof, nonces_are_fresh_hex) {
  auto a = wire::make_nonce();
  EXPECT_TRUE(wire::is_hex(a, wire::nonce_digits));
  EXPECT_NE(a, wire::make_nonce());
  EXPECT_FALSE(wire::is_hex(a + "0", wire::nonce_digits));
  EXPECT_FALSE(wire::is_hex(std::string(64, 'A'), wire::nonce_digits));
}
