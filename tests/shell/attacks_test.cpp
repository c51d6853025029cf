// Attacks on a running pcloudd from outside, as doc/security.md lists
// them: each asserts that the attacker got nothing and that pcloudd still
// serves its operator afterwards.
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <iterator>
#include <set>
#include <sstream>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include <gtest/gtest.h>

#include "runtime/access_list.hpp"
#include "runtime/control/basp.hpp"
#include "runtime/control/handshake.hpp"
#include "runtime/control/sockets.hpp"
#include "tests/support/attackers.hpp"

using namespace pcloud;
using namespace pcloud::test;
using pcloud::posix::unique_fd;

namespace {

class attacks : public daemon_fixture {
protected:
  attacks() : daemon_fixture("/tmp/pcloud-attack-XXXXXX", "test:///default") {
    // nop
  }

  uint16_t tcp_port() { return control_port(dir); }

  size_t daemon_rss_kb() { return rss_kb(daemon_pid); }

  /// The operator's command still works.
  void operator_still_served() {
    auto r = sh({"deployable_list"});
    EXPECT_EQ(r.rc, 0) << r.err;
  }
};

} // namespace

TEST_F(attacks, a_caf_client_without_the_token_reaches_no_actor) {
  start_daemon();
  // CAF's own remote_actor, as the reproduced attack used: with no handle
  // there is nothing to send exit, kill or a link to.
  EXPECT_FALSE(caf_client_gets_an_actor(tcp_port()))
    << "got the shell service without the token";
  operator_still_served();
  EXPECT_NE(
    slurp(dir + "/pcloudd.log")
      .find(
        "refused a connection from 127.0.0.1: not a pcloud control handshake"),
    std::string::npos)
    << slurp(dir + "/pcloudd.log");
}

TEST_F(attacks, an_impostor_on_the_socket_is_told_nothing) {
  start_daemon();
  // pcloudsh is pointed at a socket something else listens on.
  auto fake = runtime::listen_unix(dir + "/impostor.sock");
  ASSERT_TRUE(fake);
  std::string seen;
  std::thread impostor{[&] {
    pollfd p{fake->get(), POLLIN, 0};
    ASSERT_EQ(::poll(&p, 1, 10000), 1);
    unique_fd fd{::accept(fake->get(), nullptr, nullptr)};
    char buf[512];
    std::string welcome(runtime::control::magic.begin(),
                        runtime::control::magic.end());
    welcome.append(64, 'x');
    for (int i = 0; i < 2; ++i) {
      pollfd q{fd.get(), POLLIN, 0};
      if (::poll(&q, 1, 5000) != 1) {
        break;
      }
      auto n = ::recv(fd.get(), buf, sizeof(buf), 0);
      if (n <= 0) {
        break;
      }
      seen.append(buf, static_cast<size_t>(n));
      (void)!::send(fd.get(), welcome.data(), welcome.size(), MSG_NOSIGNAL);
    }
  }};
  auto r = sh({"deployable_create", "dep1"}, {},
              {"--state-dir", dir, "--connect", dir + "/impostor.sock"});
  impostor.join();
  EXPECT_EQ(r.rc, 4) << r.err;
  EXPECT_NE(r.err.find("did not prove"), std::string::npos) << r.err;
  EXPECT_EQ(seen.size(), runtime::control::hello_size)
    << "only the hello reached the impostor";
  auto token = slurp(dir + "/shell.token");
  EXPECT_EQ(seen.find(token.substr(0, 16)), std::string::npos);
  operator_still_served();
}

TEST_F(attacks, idle_connections_and_huge_headers_cost_pcloudd_nothing) {
  start_daemon();
  size_t flood = 2000;
  ASSERT_TRUE(test::allow_descriptors(flood + 200))
    << "this test needs the descriptors";
  operator_still_served();
  auto before = daemon_rss_kb();
  std::string why;
  auto idle = idle_flood(tcp_port(), flood, why);
  ASSERT_EQ(idle.size(), flood) << why;
  // Over the socket and over TCP, the operator gets in while they wait.
  auto start = std::chrono::steady_clock::now();
  operator_still_served();
  auto r = sh({"deployable_list"}, {},
              {"--state-dir", dir, "--connect",
               "127.0.0.1:" + std::to_string(tcp_port())});
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  auto fds = std::distance(
    fs::directory_iterator{"/proc/" + std::to_string(daemon_pid) + "/fd"},
    fs::directory_iterator{});
  EXPECT_LT(fds, 200) << "pcloudd holds the idle connections";
  EXPECT_LT(daemon_rss_kb(), before + 20 * 1024);
}

TEST_F(attacks, names_never_reach_outside_the_state_directory) {
  fake_tiny_jeos();
  start_daemon();
  // The reproduced attack: jeos_delete ../../DIR removed any directory
  // holding a file named stamp.
  auto outside = dir + "-outside";
  fs::create_directories(outside);
  std::ofstream{outside + "/stamp"} << "x\n";
  std::ofstream{outside + "/two-lines"} << "a\nb\n";
  auto base = fs::path{outside}.filename().string();
  std::vector<std::string> hostile{"../../" + base,
                                   "../../" + base + "/two-lines",
                                   outside,
                                   "",
                                   ".",
                                   "..",
                                   "a/b",
                                   std::string(300, 'a'),
                                   "\xff\xfe",
                                   "-rf",
                                   "a b",
                                   "a\nb"};
  for (auto& name : hostile) {
    for (std::vector<std::string> cmd :
         {std::vector<std::string>{"jeos_delete", name},
          {"jeos_import", name, outside + "/two-lines"},
          {"jeos_create", name, "x86_64"},
          {"assembly_create", name, "tiny", "x86_64"},
          {"assembly_delete", name},
          {"assembly_resource_add", name, "httpd", "a1"},
          {"assembly_resource_add", "web", name, "a1"},
          {"deployable_create", name},
          {"deployable_delete", name},
          {"deployable_start", name},
          {"deployable_assembly_add", "d1", name}}) {
      auto r = sh(cmd);
      EXPECT_EQ(r.rc, 2) << cmd[0] << " '" << name << "': " << r.err;
      EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1)
        << "one line: " << r.err;
    }
  }
  EXPECT_TRUE(fs::exists(outside + "/stamp"));
  EXPECT_TRUE(fs::exists(outside + "/two-lines"));
  fs::remove_all(outside);
  operator_still_served();
}

TEST_F(attacks, jeos_import_takes_only_plain_files_it_can_trust) {
  start_daemon();
  std::string mbr(1 << 20, '\0');
  mbr[510] = '\x55';
  mbr[511] = '\xaa';
  std::ofstream{dir + "/disk.img", std::ios::binary} << mbr;
  fs::create_symlink(dir + "/disk.img", dir + "/link.img");
  // A qcow2 header (version 3) whose backing file is /etc/shadow.
  std::string qcow(4096, '\0');
  qcow.replace(0, 4, "QFI\xfb");
  qcow[7] = 3;
  qcow[15] = 104;  // backing_file_offset
  qcow[19] = 11;   // backing_file_size
  qcow[103] = 104; // header_length
  qcow.replace(104, 11, "/etc/shadow");
  std::ofstream{dir + "/backed.qcow2", std::ios::binary} << qcow;
  std::ofstream{dir + "/open.img", std::ios::binary} << mbr;
  fs::permissions(dir + "/open.img", fs::perms::others_write,
                  fs::perm_options::add);
  struct attempt {
    std::string file;
    int rc;
    std::string says;
  };
  for (auto& a : std::vector<attempt>{
         {dir + "/link.img", 2, "is a symbolic link"},
         {"/dev/zero", 2, "is not a regular file"},
         {dir, 2, "is not a regular file"},
         {dir + "/backed.qcow2", 2, "has a backing file"},
         {dir + "/open.img", 4, "writable by others"},
       }) {
    auto r = sh({"jeos_import", "x1", a.file});
    EXPECT_EQ(r.rc, a.rc) << a.file << ": " << r.err;
    EXPECT_NE(r.err.find(a.says), std::string::npos) << r.err;
  }
  EXPECT_FALSE(fs::exists(dir + "/images/imported/x1"));
  auto r = sh({"jeos_import", "x1", dir + "/disk.img"});
  EXPECT_EQ(r.rc, 0) << r.err;
}

TEST_F(attacks, a_jeos_in_use_is_neither_rebuilt_nor_deleted) {
  // A rebuild under an assembly lost the guest's data at the next
  // recovery, with only "VM restarted" said.
  fake_tiny_jeos();
  start_daemon();
  ASSERT_EQ(sh({"assembly_create", "a1", "tiny", "x86_64"}).rc, 0);
  auto stamp = slurp(dir + "/images/tiny/stamp");
  for (auto cmd : {std::vector<std::string>{"jeos_create", "tiny", "x86_64"},
                   {"jeos_delete", "tiny"}}) {
    auto r = sh(cmd);
    EXPECT_EQ(r.rc, 7) << cmd[0] << ": " << r.err;
    EXPECT_NE(r.err.find("JEOS 'tiny' is used by a1"), std::string::npos)
      << r.err;
  }
  EXPECT_EQ(slurp(dir + "/images/tiny/stamp"), stamp);
}

TEST_F(attacks, an_assembly_takes_no_more_resources_than_its_agent_can) {
  // 300 resources stayed STARTING for ever: the agent refused the
  // configuration. The 257th is refused when it is added.
  fake_tiny_jeos();
  start_daemon();
  std::string script = "assembly_create a1 tiny x86_64\n";
  for (int i = 0; i < 300; ++i) {
    script += "assembly_resource_add r" + std::to_string(i) + " httpd a1\n";
  }
  auto r = sh({}, script);
  EXPECT_EQ(r.rc, 2) << r.err;
  EXPECT_NE(r.err.find("assembly 'a1' has 256 resources, the most one "
                       "assembly can have"),
            std::string::npos)
    << r.err;
  EXPECT_NE(r.err.find("stopped at line 258"), std::string::npos) << r.err;
  r = sh({"assembly_resource_list", "a1"});
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 257) << r.out;
}

namespace {

/// Whether `user` can stat `path` (which needs passage through every
/// directory above it), tried in a child that became that user.
bool reachable_as(const char* user, const std::string& path) {
  auto* pw = ::getpwnam(user);
  if (pw == nullptr) {
    ADD_FAILURE() << "no user " << user;
    return false;
  }
  pid_t pid = ::fork();
  if (pid == 0) {
    struct stat st {};
    bool ok = ::setgroups(0, nullptr) == 0 && ::setgid(pw->pw_gid) == 0
              && ::setuid(pw->pw_uid) == 0 && ::stat(path.c_str(), &st) == 0;
    ::_exit(ok ? 0 : 1);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

} // namespace

TEST_F(attacks, nothing_private_in_the_state_directory_is_open_to_others) {
  start_daemon();
  ASSERT_EQ(sh({"deployable_create", "d1"}).rc, 0);
  auto mode = [&](const std::string& path) {
    return fs::status(dir + path).permissions();
  };
  using p = fs::perms;
  // Root's; QEMU (libvirt-qemu) passes through by an ACL entry of its own,
  // so the group bits show that entry's mask; nobody else gets anything.
  EXPECT_EQ(mode(""), p::owner_all | p::group_exec);
  EXPECT_TRUE(
    runtime::passage_only_for(dir, ::getpwnam("libvirt-qemu")->pw_uid));
  EXPECT_TRUE(reachable_as("libvirt-qemu", dir + "/pcloudd.lock"))
    << "QEMU reaches its images, sockets and logs";
  EXPECT_FALSE(reachable_as("nobody", dir + "/pcloudd.lock"))
    << "a local user cannot even open what it can name";
  EXPECT_EQ(mode("/definitions"), p::owner_all);
  EXPECT_EQ(mode("/hooks"), p::owner_all) << "what runs as root";
  for (auto secret : {"/shell.token", "/pcloudd.sock"}) {
    EXPECT_EQ(mode(secret), p::owner_read | p::owner_write) << secret;
  }
  EXPECT_EQ(mode("/pcloudd.log") & (p::group_all | p::others_all), p::none);
}

namespace {

/// Socket inodes of `pid` that listen on TCP (IPv4 or IPv6).
std::vector<std::string> tcp_listeners_of(pid_t pid) {
  std::set<std::string> mine;
  auto fds = "/proc/" + std::to_string(pid) + "/fd";
  for (auto& entry : fs::directory_iterator{fds}) {
    std::error_code ec;
    auto target = fs::read_symlink(entry.path(), ec).string();
    if (target.rfind("socket:[", 0) == 0) {
      mine.insert(target.substr(8, target.size() - 9));
    }
  }
  std::vector<std::string> found;
  for (auto table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::istringstream lines{slurp(table)};
    std::string line;
    std::getline(lines, line); // the header
    while (std::getline(lines, line)) {
      std::istringstream words{line};
      std::vector<std::string> w{std::istream_iterator<std::string>{words},
                                 std::istream_iterator<std::string>{}};
      // sl local rem st tx:rx tr:when retrnsmt uid timeout inode
      if (w.size() > 9 && w[3] == "0A" && mine.count(w[9]) > 0) {
        found.push_back(w[1]);
      }
    }
  }
  return found;
}

} // namespace

TEST_F(attacks, by_default_no_tcp_port_is_open_to_guests) {
  // User-mode guests reach the host's loopback at 10.0.2.2: a loopback
  // listener would be open to every guest. By default there is none, for
  // pcloudsh or for agents; pcloudsh uses the unix socket.
  daemon_pid = ::fork();
  if (daemon_pid == 0) {
    ::execl(PCLOUDD_BINARY, PCLOUDD_BINARY, "--state-dir", dir.c_str(), "--uri",
            "test:///default", "--log-file", (dir + "/pcloudd.log").c_str(),
            nullptr);
    ::_exit(127);
  }
  ASSERT_TRUE(wait_until([&] { return fs::exists(dir + "/pcloudd.sock"); }))
    << slurp(dir + "/pcloudd.log");
  operator_still_served();
  EXPECT_TRUE(tcp_listeners_of(daemon_pid).empty())
    << ::testing::PrintToString(tcp_listeners_of(daemon_pid));
  EXPECT_FALSE(fs::exists(dir + "/shell.address"));
}

TEST_F(attacks, pcloudd_never_lives_on_without_its_supervisor) {
  // The reproduced attack ended the shell service and left pcloudd up,
  // watching nothing. Only a holder of the token can reach it now; if it
  // still ends, pcloudd exits with an error so that systemd starts a new
  // one, which adopts the VMs.
  start_daemon();
  remote_client_config cfg;
  {
    caf::actor_system sys{cfg};
    auto fd = runtime::connect_unix(dir + "/pcloudd.sock");
    ASSERT_TRUE(fd) << fd.error();
    auto token = slurp(dir + "/shell.token");
    token.pop_back();
    ASSERT_TRUE(runtime::control::client_handshake(fd->get(), token,
                                                   std::chrono::seconds(5)));
    auto service = runtime::control::connect_over(sys, std::move(*fd),
                                                  std::chrono::seconds(5));
    ASSERT_TRUE(service) << service.error();
    caf::anon_send_exit(caf::actor_cast<caf::actor>(*service),
                        caf::exit_reason::kill);
    int status = 0;
    ASSERT_TRUE(wait_until(
      [&] { return ::waitpid(daemon_pid, &status, WNOHANG) == daemon_pid; }));
    daemon_pid = -1;
    EXPECT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 70);
  }
  EXPECT_NE(slurp(dir + "/pcloudd.log").find("the shell service ended"),
            std::string::npos)
    << slurp(dir + "/pcloudd.log");
  start_daemon();
  operator_still_served();
}
