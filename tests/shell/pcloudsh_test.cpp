// pcloudsh against a real pcloudd process over a real CAF remote link on
// loopback, with libvirt's test:///default driver and scripted agents (the
// real agent core, serving the channel socket the way QEMU does).
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "messages/shell.hpp"
#include "tests/support/daemon_process.hpp"
#include "tests/support/guest_link.hpp"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using namespace pcloud::test;

class pcloudsh : public daemon_fixture {
protected:
  pcloudsh() : daemon_fixture("/tmp/pcloudsh-test-XXXXXX", "test:///default") {
    // nop
  }
};

#define EXPECT_OK(r) EXPECT_EQ((r).rc, 0) << (r).out << (r).err

/// pcloudsh's exit status for an error of kind `code`.
int exit_of(pcloud::msg::errc code) {
  return pcloud::msg::exit_status(code);
}

using pcloud::msg::errc;

TEST_F(pcloudsh, every_definition_command_works_and_says_what_it_did) {
  start_daemon();
  fake_tiny_jeos();
  auto r = sh({}, R"(# the original's acceptance script, up to the start
jeos_list
assembly_create assy1 tiny x86_64
assembly_clone assy1 assy2
assembly_resource_add web dummy assy1
assembly_resource_add web dummy assy2
assembly_resource_list assy1
deployable_create dep1
deployable_assembly_add dep1 assy1
deployable_assembly_add dep1 assy2
deployable_assembly_list dep1
escalation_resource_set dep1 3 30s
escalation_assembly_set dep1 0 1h
template_list
assembly_list
deployable_list
deployable_status dep1
)");
  EXPECT_OK(r);
  EXPECT_NE(
    r.out.find("assembly assy1 created (JEOS tiny, 128 MiB, 1 vCPU, uuid "),
    std::string::npos)
    << r.out;
  EXPECT_NE(r.out.find("resource web (dummy: exec sleep 2147483647) added to "
                       "assy1"),
            std::string::npos)
    << r.out;
  EXPECT_NE(r.out.find("resource escalation of dep1: 3 failures in 30s"),
            std::string::npos)
    << r.out;
  EXPECT_NE(r.out.find("assembly escalation of dep1: never escalate"),
            std::string::npos)
    << r.out;
  EXPECT_NE(r.out.find("dep1/assy2/web  STOPPED"), std::string::npos) << r.out;
  EXPECT_NE(uuid_of("assy1"), uuid_of("assy2")) << "a clone has its own UUID";

  // Removal and deletion, in the order the checks demand.
  r = sh({}, R"(deployable_assembly_remove dep1 assy2
assembly_resource_remove web assy2
assembly_delete assy2
deployable_delete dep1
assembly_delete assy1
assembly_list
)");
  EXPECT_OK(r);
  EXPECT_EQ(r.out.find("assy1  tiny"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(dir + "/definitions/assemblies/assy1.xml"));
}

TEST_F(pcloudsh, jeos_images_are_built_imported_listed_and_deleted) {
  // The kernel package the build tree's tiny JEOS downloaded already.
  ::setenv("PCLOUD_JEOS_DOWNLOADS", PCLOUD_JEOS_DOWNLOADS_DIR, 1);
  start_daemon();
  auto r = sh({"jeos_create", "tiny", "x86_64"});
  ASSERT_EQ(r.rc, 0) << r.out << r.err << slurp(dir + "/pcloudd.log");
  EXPECT_NE(r.out.find("JEOS tiny (x86_64) is ready: " + dir + "/images/tiny"),
            std::string::npos)
    << r.out;
  for (auto f : {"vmlinuz", "initrd.img", "stamp"}) {
    EXPECT_TRUE(fs::exists(dir + "/images/tiny/" + f)) << f;
  }
  EXPECT_EQ(sh({"jeos_create", "tiny", "x86_64"}).rc, 0) << "up to date";
  {
    // A raw disk: an (empty) MBR partition table.
    std::string mbr(1 << 20, '\0');
    mbr[510] = '\x55';
    mbr[511] = '\xaa';
    std::ofstream{dir + "/disk.img", std::ios::binary} << mbr;
    std::ofstream{dir + "/zeros.img", std::ios::binary}
      << std::string(1 << 20, '\0');
    std::ofstream{dir + "/disk.vmdk", std::ios::binary}
      << "KDMV" << std::string(4096, '\0');
  }
  r = sh({"jeos_import", "junk", dir + "/zeros.img"});
  EXPECT_EQ(r.rc, exit_of(errc::invalid_argument));
  EXPECT_EQ(r.err, "pcloudsh: " + dir
                     + "/zeros.img is not a disk image (no qcow2 header, "
                       "partition table or file system)\n");
  r = sh({"jeos_import", "junk", dir + "/disk.vmdk"});
  EXPECT_EQ(r.rc, exit_of(errc::invalid_argument));
  EXPECT_NE(r.err.find("is a VMDK image: convert it first (qemu-img convert"),
            std::string::npos)
    << r.err;
  r = sh({"jeos_import", "mydisk", dir + "/disk.img"});
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("JEOS mydisk imported from " + dir
                       + "/disk.img (pcloud's copy: " + dir
                       + "/images/imported-disks/mydisk.raw)"),
            std::string::npos)
    << r.out;
  EXPECT_EQ(fs::status(dir + "/images/imported-disks/mydisk.raw").permissions(),
            fs::perms::owner_read | fs::perms::owner_write)
    << "pcloud's copy, for root only";
  r = sh({"jeos_import", "mydisk", dir + "/disk.img"});
  EXPECT_EQ(r.rc, exit_of(errc::exists));
  EXPECT_NE(r.err.find("JEOS 'mydisk' exists already"), std::string::npos)
    << r.err;
  r = sh({"jeos_import", "other", dir + "/nope.img"});
  EXPECT_NE(r.err.find("cannot read image " + dir + "/nope.img"),
            std::string::npos)
    << r.err;
  r = sh({"jeos_list"}, {}, {"--state-dir", dir, "--json"});
  EXPECT_NE(r.out.find("{\"name\": \"tiny\", \"distro\": \"tiny\", "
                       "\"arch\": \"x86_64\", \"origin\": \"recipe\", "
                       "\"built\": \"yes\""),
            std::string::npos)
    << r.out;
  EXPECT_NE(r.out.find("\"name\": \"mydisk\""), std::string::npos);
  EXPECT_EQ(sh({"assembly_create", "a1", "mydisk", "x86_64"}).rc, 0);
  r = sh({"jeos_delete", "mydisk"});
  EXPECT_EQ(r.rc, exit_of(errc::in_use));
  EXPECT_NE(r.err.find("JEOS 'mydisk' is used by a1"), std::string::npos)
    << r.err;
  EXPECT_EQ(sh({"assembly_delete", "a1"}).rc, 0);
  EXPECT_EQ(sh({"jeos_delete", "mydisk"}).rc, 0);
  EXPECT_TRUE(fs::exists(dir + "/disk.img")) << "the operator's file stays";
  EXPECT_FALSE(fs::exists(dir + "/images/imported-disks/mydisk.raw"))
    << "pcloud's copy goes";
  EXPECT_EQ(sh({"jeos_delete", "tiny"}).rc, 0);
  EXPECT_FALSE(fs::exists(dir + "/images/tiny"));
  r = sh({"jeos_list"});
  EXPECT_TRUE(
    std::regex_search(r.out, std::regex{"\ntiny +tiny +x86_64 +recipe +no "}))
    << r.out;
  EXPECT_TRUE(std::regex_search(
    r.out, std::regex{"\ndebian12 +debian12 +x86_64 +recipe "}))
    << "every recipe of conf/jeos is listed\n"
    << r.out;
}

TEST_F(pcloudsh, events_show_the_history_then_follow) {
  start_daemon();
  fake_tiny_jeos();
  ASSERT_EQ(sh({}, "assembly_create assy1 tiny x86_64\n"
                   "deployable_create dep1\n"
                   "deployable_assembly_add dep1 assy1\n"
                   "deployable_start dep1\n")
              .rc,
            0);
  // `events` follows until Ctrl-C: SIGINT ends it with status 0.
  auto out = dir + "/events.out";
  auto pid = ::fork();
  if (pid == 0) {
    std::freopen(out.c_str(), "w", stdout);
    ::execl(PCLOUDSH_BINARY, PCLOUDSH_BINARY, "--state-dir", dir.c_str(),
            "--json", "events", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ASSERT_TRUE(wait_until([&] {
    return slurp(out).find("\"state\": \"STARTING\"") != std::string::npos;
  }))
    << slurp(out);
  ASSERT_EQ(sh({"deployable_stop", "dep1"}).rc, 0);
  ASSERT_TRUE(wait_until([&] {
    return slurp(out).find("\"deployable\": \"dep1\", \"assembly\": \"\", "
                           "\"resource\": \"\", \"state\": \"STOPPED\"")
           != std::string::npos;
  }))
    << slurp(out);
  ::kill(pid, SIGINT);
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  // Each event once, in order, even where history and live stream overlap.
  std::istringstream lines{slurp(out)};
  std::string line;
  long last = 0;
  while (std::getline(lines, line)) {
    auto seq = std::stol(line.substr(line.find(':') + 1));
    EXPECT_GT(seq, last) << slurp(out);
    last = seq;
  }
}

TEST_F(pcloudsh, errors_are_one_line_with_a_non_zero_exit_and_change_nothing) {
  start_daemon();
  fake_tiny_jeos();
  EXPECT_OK(sh({"assembly_create", "assy1", "tiny", "x86_64"}));
  auto before = slurp(dir + "/definitions/assemblies/assy1.xml");
  struct bad {
    std::vector<std::string> args;
    int rc;
    std::string message;
  };
  std::vector<bad> cases{
    {{"bogus"}, exit_of(errc::invalid_argument), "unknown command 'bogus'"},
    {{"assembly_create", "x"},
     exit_of(errc::invalid_argument),
     "usage: assembly_create NAME JEOS ARCH"},
    {{"assembly_create", "assy1", "tiny", "x86_64"},
     exit_of(errc::exists),
     "exists already"},
    {{"assembly_create", "a2", "tiny", "arm64"},
     exit_of(errc::invalid_argument),
     "unsupported architecture 'arm64' (supported: x86_64)"},
    {{"assembly_create", "a2", "fedora14", "x86_64"},
     exit_of(errc::not_found),
     "no JEOS named 'fedora14'"},
    {{"assembly_create", "../a", "tiny", "x86_64"},
     exit_of(errc::invalid_argument),
     "invalid assembly name"},
    {{"jeos_create", "fedora14", "x86_64"},
     exit_of(errc::not_found),
     "unknown distro 'fedora14' (recipes: "},
    {{"assembly_resource_add", "web", "nginx2", "assy1"},
     exit_of(errc::not_found),
     "no template named 'nginx2'"},
    {{"assembly_resource_add", "web", "dummy", "nope"},
     exit_of(errc::not_found),
     "no assembly named 'nope'"},
    {{"deployable_start", "nope"},
     exit_of(errc::not_found),
     "no deployable named 'nope'"},
    {{"escalation_resource_set", "nope", "1", "1s"},
     exit_of(errc::not_found),
     "no deployable"},
  };
  for (auto& c : cases) {
    auto r = sh(c.args);
    EXPECT_EQ(r.rc, c.rc) << c.args[0] << ": " << r.err;
    EXPECT_NE(r.err.find(c.message), std::string::npos)
      << c.args[0] << ": " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
  EXPECT_OK(sh({"deployable_create", "dep1"}));
  auto r = sh({"deployable_start", "dep1"});
  EXPECT_EQ(r.rc, exit_of(errc::wrong_state));
  EXPECT_NE(r.err.find("has no assemblies"), std::string::npos) << r.err;
  r = sh({"escalation_resource_set", "dep1", "many", "1s"});
  EXPECT_NE(r.err.find("MAX_FAILURES must be a whole number"),
            std::string::npos)
    << r.err;
  r = sh({"escalation_resource_set", "dep1", "1", "soon"});
  EXPECT_NE(r.err.find("WINDOW must be a duration"), std::string::npos)
    << r.err;
  // --json says which error it was, as scripts read it.
  r = sh({"assembly_delete", "nope"}, {}, {"--state-dir", dir, "--json"});
  EXPECT_EQ(r.rc, exit_of(errc::not_found));
  EXPECT_EQ(r.out, "{\"ok\": false, \"error\": \"not_found\", "
                   "\"exit_status\": 5, \"message\": \"no assembly named "
                   "'nope' (assembly_list shows them)\"}\n");
  r = sh({"deployable_assembly_add", "dep1", "assy1"});
  EXPECT_OK(r);
  r = sh({"assembly_delete", "assy1"}, {}, {"--state-dir", dir, "--json"});
  EXPECT_EQ(r.rc, exit_of(errc::in_use)) << r.err;
  EXPECT_NE(r.out.find("\"error\": \"in_use\""), std::string::npos) << r.out;
  EXPECT_EQ(slurp(dir + "/definitions/assemblies/assy1.xml"), before);
  // A script stops at its first failure and says where.
  r = sh({}, "deployable_create dep2\nbogus\ndeployable_create dep3\n");
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.err.find("stopped at line 2"), std::string::npos) << r.err;
  EXPECT_TRUE(fs::exists(dir + "/definitions/deployables/dep2.xml"));
  EXPECT_FALSE(fs::exists(dir + "/definitions/deployables/dep3.xml"));
}

TEST_F(pcloudsh, a_connection_without_the_token_can_do_nothing) {
  start_daemon();
  auto port = slurp(dir + "/shell.address");
  port.pop_back();
  std::ofstream{dir + "/wrong.token"} << std::string(64, 'a') << "\n";
  // Over TCP and over the unix socket, the handshake stops it before
  // anything reaches pcloudd's actors.
  auto r = sh({"deployable_create", "dep1"}, {},
              {"--connect", port, "--token-file", dir + "/wrong.token"});
  EXPECT_EQ(r.rc, exit_of(errc::permission_denied));
  EXPECT_NE(r.err.find("did not prove that it holds this token"),
            std::string::npos)
    << r.err;
  r = sh(
    {"events"}, {},
    {"--connect", dir + "/pcloudd.sock", "--token-file", dir + "/wrong.token"});
  EXPECT_EQ(r.rc, exit_of(errc::permission_denied));
  EXPECT_NE(r.err.find("did not prove that it holds this token"),
            std::string::npos)
    << r.err;
  r = sh({"deployable_list"}, {},
         {"--connect", port, "--token-file", dir + "/missing.token"});
  EXPECT_EQ(r.rc, exit_of(errc::permission_denied));
  EXPECT_NE(r.err.find("cannot read the token file"), std::string::npos)
    << r.err;
  EXPECT_FALSE(fs::exists(dir + "/definitions/deployables/dep1.xml"));
  auto mode = fs::status(dir + "/shell.token").permissions();
  EXPECT_EQ(mode, fs::perms::owner_read | fs::perms::owner_write)
    << "the token is for root only";
}

TEST_F(pcloudsh, help_lists_every_command_and_explains_one) {
  // help needs no daemon.
  auto r = sh({"help"}, {}, {"--token-file", "/nonexistent"});
  EXPECT_EQ(r.rc, 0) << r.err;
  for (auto& cmd : pcloud::msg::commands()) {
    EXPECT_NE(r.out.find(pcloud::msg::usage_of(cmd)), std::string::npos)
      << cmd.name;
  }
  r = sh({"help", "assembly_resource_add"}, {}, {"--token-file", "/x"});
  EXPECT_EQ(r.rc, 0);
  EXPECT_EQ(r.out.rfind("assembly_resource_add NAME TEMPLATE ASSEMBLY\n", 0),
            0u)
    << r.out;
  r = sh({"help", "bogus"}, {}, {"--token-file", "/x"});
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.err.find("no command 'bogus'"), std::string::npos) << r.err;
}

TEST_F(pcloudsh, a_daemon_that_is_down_is_a_clear_error) {
  auto r = sh({"deployable_list"}, {},
              {"--connect", "127.0.0.1:1", "--token-file", "/dev/null"});
  EXPECT_EQ(r.rc, exit_of(errc::permission_denied)) << "an empty token file";
  std::ofstream{dir + "/t"} << "token\n";
  r = sh({"deployable_list"}, {},
         {"--connect", "127.0.0.1:1", "--token-file", dir + "/t"});
  EXPECT_EQ(r.rc, 3);
  EXPECT_NE(r.err.find("cannot connect to 127.0.0.1:1: Connection refused"),
            std::string::npos)
    << r.err;
  r = sh({"deployable_list"}, {},
         {"--connect", dir + "/none.sock", "--token-file", dir + "/t"});
  EXPECT_EQ(r.rc, 3);
  EXPECT_NE(r.err.find("is pcloudd running?"), std::string::npos) << r.err;
}

TEST_F(pcloudsh, definitions_survive_kill_9_of_the_daemon) {
  start_daemon();
  fake_tiny_jeos();
  EXPECT_OK(sh({}, R"(assembly_create assy1 tiny x86_64
assembly_resource_add web dummy assy1
assembly_clone assy1 assy2
deployable_create dep1
deployable_assembly_add dep1 assy1
escalation_resource_set dep1 9 90s
)"));
  auto listed = sh({}, "assembly_list\ndeployable_list\nassembly_resource_list "
                       "assy2\n");
  stop_daemon(SIGKILL);
  start_daemon();
  auto again = sh({}, "assembly_list\ndeployable_list\nassembly_resource_list "
                      "assy2\n");
  EXPECT_OK(again);
  EXPECT_EQ(again.out, listed.out);
  EXPECT_NE(slurp(dir + "/definitions/deployables/dep1.xml")
              .find("max-failures=\"9\" window=\"90s\""),
            std::string::npos);
}

TEST_F(pcloudsh, a_malformed_definition_is_set_aside_and_the_others_load) {
  start_daemon();
  fake_tiny_jeos();
  EXPECT_OK(sh({"assembly_create", "good", "tiny", "x86_64"}));
  stop_daemon(SIGTERM);
  std::ofstream{dir + "/definitions/assemblies/bad.xml"}
    << "<assembly name=\"bad\"\n uuid=\"1\" jeos=\"tiny\">\n</assembly>\n";
  start_daemon();
  auto r = sh({"assembly_list"});
  EXPECT_OK(r);
  // Rows start with the name ("bad" alone could be part of a UUID).
  EXPECT_NE(r.out.find("\ngood "), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("\nbad "), std::string::npos) << r.out;
  auto log = slurp(dir + "/pcloudd.log");
  // libxml2 numbers an element by the line its start tag ends on.
  EXPECT_NE(log.find(dir + "/definitions/assemblies/bad.xml: line 2: "),
            std::string::npos)
    << log;
  EXPECT_FALSE(fs::exists(dir + "/definitions/assemblies/bad.xml"));
  EXPECT_TRUE(fs::exists(dir + "/definitions/rejected"));
}

TEST_F(pcloudsh, a_second_daemon_on_the_same_state_is_refused) {
  start_daemon();
  auto out = dir + "/second.err";
  auto cmd = std::string{PCLOUDD_BINARY} + " --state-dir " + dir
             + " --uri test:///default --listen 127.0.0.1:0 2> " + out;
  auto status = std::system(cmd.c_str());
  EXPECT_EQ(WEXITSTATUS(status), 1);
  EXPECT_NE(slurp(out).find("another pcloudd uses " + dir + " (pid "
                            + std::to_string(daemon_pid) + ")"),
            std::string::npos)
    << slurp(out);
}

TEST_F(pcloudsh, a_tls_listener_refuses_plain_connections) {
  // One self-signed pair serves both ends (mutual TLS, PLATFORM.md).
  auto key = dir + "/key.pem", cert = dir + "/cert.pem";
  auto cmd = "openssl req -x509 -newkey rsa:2048 -nodes -keyout " + key
             + " -out " + cert + " -days 2 -subj /CN=pcloud >/dev/null 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  daemon_args
    = {"--tls-certificate", cert, "--tls-key", key, "--tls-cafile", cert};
  start_daemon();
  auto port = slurp(dir + "/shell.address");
  port.pop_back();
  auto r = sh({"deployable_create", "dep1"}, {},
              {"--state-dir", dir, "--connect", port});
  EXPECT_EQ(r.rc, exit_of(errc::unavailable)) << r.out << r.err;
  EXPECT_NE(r.err.find("during the handshake"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir + "/definitions/deployables/dep1.xml"));
  std::vector<std::string> tls{"--state-dir",       dir,  "--connect", port,
                               "--tls-certificate", cert, "--tls-key", key,
                               "--tls-cafile",      cert};
  r = sh({"deployable_create", "dep1"}, {}, tls);
  EXPECT_EQ(r.rc, 0) << r.out << r.err;
  EXPECT_TRUE(fs::exists(dir + "/definitions/deployables/dep1.xml"));
  // TLS alone is not enough: the token is still checked.
  std::ofstream{dir + "/wrong.token"} << std::string(64, 'a') << "\n";
  auto wrong = tls;
  wrong.push_back("--token-file");
  wrong.push_back(dir + "/wrong.token");
  r = sh({"deployable_list"}, {}, wrong);
  EXPECT_EQ(r.rc, exit_of(errc::permission_denied)) << r.out << r.err;
  EXPECT_NE(r.err.find("not authorized"), std::string::npos) << r.err;
}

TEST_F(pcloudsh, a_listener_beyond_loopback_needs_tls) {
  auto out = dir + "/err";
  auto cmd = std::string{PCLOUDD_BINARY} + " --state-dir " + dir
             + " --uri test:///default --listen 0.0.0.0:0 2> " + out;
  auto status = std::system(cmd.c_str());
  EXPECT_EQ(WEXITSTATUS(status), 1);
  EXPECT_NE(slurp(out).find("a shell listener on 0.0.0.0 must use TLS"),
            std::string::npos)
    << slurp(out);
}

TEST_F(pcloudsh, daemonize_returns_once_started_or_failed) {
  auto cmd = std::string{PCLOUDD_BINARY} + " --state-dir " + dir
             + " --uri test:///default --listen 127.0.0.1:0 --daemonize";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  // Started means serving: no wait needed.
  auto r = sh({"deployable_list"});
  EXPECT_EQ(r.rc, 0) << r.err;
  auto pid = std::stoi(slurp(dir + "/pcloudd.lock"));
  EXPECT_TRUE(wait_until([&] {
    return slurp(dir + "/pcloudd.log").find("shell service on")
           != std::string::npos;
  }))
    << "it logs to STATE/pcloudd.log";
  // A second one fails, and says why, before detaching.
  auto err = dir + "/second.err";
  auto status = std::system((cmd + " 2> " + err).c_str());
  EXPECT_EQ(WEXITSTATUS(status), 1);
  EXPECT_NE(slurp(err).find("another pcloudd uses"), std::string::npos)
    << slurp(err);
  ASSERT_EQ(::kill(pid, SIGTERM), 0);
  EXPECT_TRUE(wait_until([&] { return ::kill(pid, 0) != 0; }));
}

TEST_F(pcloudsh, sigterm_is_a_clean_exit) {
  start_daemon();
  ASSERT_TRUE(fs::exists(dir + "/pcloudd.sock"));
  auto status = stop_daemon(SIGTERM);
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_NE(slurp(dir + "/pcloudd.log").find("VMs stay running"),
            std::string::npos);
  // Nothing left that points at a pcloudd that is gone.
  EXPECT_FALSE(fs::exists(dir + "/pcloudd.sock"));
  EXPECT_FALSE(fs::exists(dir + "/shell.address"));
}

TEST_F(pcloudsh, a_deployable_runs_recovers_and_stops_with_scripted_agents) {
  // A notification hook, as an operator would install it.
  fs::create_directories(dir + "/hooks");
  auto hook = dir + "/hooks/50-record";
  std::ofstream{hook} << "#!/bin/sh\necho \"$PCLOUD_PATH $PCLOUD_STATE\" >> "
                      << dir << "/hook.log\n";
  fs::permissions(hook, fs::perms::owner_all);
  start_daemon();
  fake_tiny_jeos();
  EXPECT_OK(sh({}, R"(assembly_create assy1 tiny x86_64
assembly_resource_add web dummy assy1
deployable_create dep1
deployable_assembly_add dep1 assy1
)"));
  fs::create_directories(dir + "/run");
  pcloud::test::socket_channel channel{dir + "/run/" + uuid_of("assy1")
                                       + ".agent"};
  ASSERT_EQ(channel.error(), "");
  pcloud::test::agent_thread agent{channel, "assy1"};
  EXPECT_OK(sh({"deployable_start", "dep1"}));
  auto status_has = [&](const std::string& text) {
    return wait_until(
      [&] {
        return sh({"deployable_status", "dep1"}).out.find(text)
               != std::string::npos;
      },
      60s);
  };
  ASSERT_TRUE(status_has("dep1/assy1/web  ACTIVE"))
    << sh({"deployable_status", "dep1"}).out;
  auto pids = pcloud::test::child_pids("sleep");
  ASSERT_EQ(pids.size(), 1u);
  ASSERT_EQ(::kill(pids[0], SIGKILL), 0);
  ASSERT_TRUE(status_has("dep1/assy1/web  ACTIVE  1"))
    << sh({"deployable_status", "dep1"}).out;
  auto json
    = sh({"deployable_status", "dep1"}, {}, {"--state-dir", dir, "--json"});
  EXPECT_NE(json.out.find("{\"path\": \"dep1/assy1/web\", \"state\": "
                          "\"ACTIVE\", \"restarts\": \"1\""),
            std::string::npos)
    << json.out;
  EXPECT_TRUE(wait_until([&] {
    auto text = slurp(dir + "/hook.log");
    return text.find("dep1/assy1/web RECOVERING") != std::string::npos
           && text.find("dep1 ACTIVE") != std::string::npos;
  }))
    << slurp(dir + "/hook.log");
  auto stop = sh({"deployable_stop", "dep1"});
  EXPECT_OK(stop);
  EXPECT_NE(stop.out.find("deployable dep1 stopped"), std::string::npos)
    << stop.out;
  auto after = sh({"deployable_status", "dep1"}).out;
  EXPECT_TRUE(std::regex_search(after, std::regex{"dep1/assy1 +STOPPED"}))
    << after;
  EXPECT_NE(sh({"deployable_list"}).out.find("dep1  assy1       no"),
            std::string::npos);
}

} // namespace
