#include "tests/bench/pacemaker.hpp"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <thread>
#include <utility>
#include <vector>

namespace pcloud::bench {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

const fs::path cib_dir = "/var/lib/pacemaker/cib";

/// In a forked child: becomes `argv` (searched on PATH), or exits 127.
[[noreturn]] void exec(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (auto& a : argv) {
    args.push_back(const_cast<char*>(a.c_str()));
  }
  args.push_back(nullptr);
  ::execvp(args[0], args.data());
  ::_exit(127);
}

/// Runs `argv` and returns its exit status and what it printed (both
/// streams), killing it after 20 s: Pacemaker's tools can wait forever for
/// a daemon that is still starting. The arguments are the benchmark's own,
/// never a shell's.
std::pair<int, std::string> run(std::vector<std::string> argv) {
  argv.insert(argv.begin(), {"timeout", "-s", "KILL", "20"});
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) {
    return {-1, "pipe failed"};
  }
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(out[1], STDOUT_FILENO);
    ::dup2(out[1], STDERR_FILENO);
    exec(argv);
  }
  ::close(out[1]);
  std::string text;
  char buf[4096];
  for (ssize_t n; (n = ::read(out[0], buf, sizeof buf)) > 0;) {
    text.append(buf, static_cast<size_t>(n));
  }
  ::close(out[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, text};
}

/// Starts `argv` in the foreground of its own log file, with `env` added.
pid_t start(const std::vector<std::string>& argv, const fs::path& log,
            const std::vector<std::string>& env = {}) {
  pid_t pid = ::fork();
  if (pid == 0) {
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    ::dup2(fd, STDOUT_FILENO);
    ::dup2(fd, STDERR_FILENO);
    for (auto& e : env) {
      ::putenv(const_cast<char*>(e.c_str()));
    }
    exec(argv);
  }
  return pid;
}

/// SIGTERM, then SIGKILL after `grace`; reaps.
void terminate(pid_t pid, std::chrono::seconds grace) {
  if (pid <= 0) {
    return;
  }
  ::kill(pid, SIGTERM);
  auto deadline = std::chrono::steady_clock::now() + grace;
  while (::waitpid(pid, nullptr, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
      return;
    }
    std::this_thread::sleep_for(50ms);
  }
}

bool running(const std::string& comm) {
  for (auto& e : fs::directory_iterator{"/proc"}) {
    std::ifstream in{e.path() / "comm"};
    std::string name;
    if (std::getline(in, name) && name == comm) {
      return true;
    }
  }
  return false;
}

/// The CIB the cluster starts with: no fencing (one node, nothing to fence)
/// and a short election wait, so the DC is there in about two seconds
/// rather than the default twenty.
const char* initial_cib
  = R"(<cib crm_feature_set="3.16.1" validate-with="pacemaker-3.9" epoch="1" num_updates="0" admin_epoch="0">
  <configuration>
    <crm_config>
      <cluster_property_set id="cib-bootstrap-options">
        <nvpair id="opt-stonith" name="stonith-enabled" value="false"/>
        <nvpair id="opt-dc-deadtime" name="dc-deadtime" value="1s"/>
      </cluster_property_set>
    </crm_config>
    <nodes/>
    <resources/>
    <constraints/>
  </configuration>
  <status/>
</cib>
)";

} // namespace

std::string pacemaker_cluster::missing() {
  for (auto tool :
       {"corosync", "pacemakerd", "cibadmin", "crm_resource", "crmadmin"}) {
    if (run({"sh", "-c", std::string{"command -v "} + tool}).first != 0) {
      return std::string{tool} + " is not installed (./setup installs it)";
    }
  }
  if (!fs::exists("/usr/lib/ocf/resource.d/heartbeat/anything")) {
    return "the heartbeat OCF agents are not installed (resource-agents)";
  }
  if (::getpwnam("hacluster") == nullptr || ::getgrnam("haclient") == nullptr) {
    return "the hacluster user or haclient group is missing";
  }
  return {};
}

std::string pacemaker_cluster::version() {
  auto [status, text] = run({"pacemakerd", "--version"});
  auto eol = text.find('\n');
  return status == 0 ? text.substr(0, eol) : "unknown";
}

pacemaker_cluster::pacemaker_cluster() {
  if (error_ = missing(); !error_.empty()) {
    return;
  }
  if (running("corosync") || running("pacemakerd")) {
    error_ = "a corosync or pacemakerd already runs on this host; the "
             "benchmark starts a cluster of its own and leaves that one alone";
    return;
  }
  utsname u{};
  ::uname(&u);
  node_ = u.nodename;
  dir_ = fs::temp_directory_path()
         / ("pcloud-bench-pacemaker-" + std::to_string(::getpid()));
  fs::create_directories(dir_);
  // Whatever CIB this host has goes aside, and back in stop().
  if (fs::exists(cib_dir) && !fs::is_empty(cib_dir)) {
    cib_backup_ = dir_ / "cib-backup";
    fs::copy(cib_dir, cib_backup_, fs::copy_options::recursive);
    for (auto& e : fs::directory_iterator{cib_dir}) {
      fs::remove_all(e.path());
    }
  }
  fs::create_directories(cib_dir);
  auto cib = cib_dir / "cib.xml";
  std::ofstream{cib} << initial_cib;
  auto* user = ::getpwnam("hacluster");
  auto* group = ::getgrnam("haclient");
  if (::chown(cib.c_str(), user->pw_uid, group->gr_gid) != 0
      || ::chmod(cib.c_str(), 0600) != 0) {
    error_ = "cannot hand " + cib.string() + " to hacluster";
    return;
  }
  auto conf = dir_ / "corosync.conf";
  std::ofstream{conf} << "totem {\n  version: 2\n  cluster_name: pcloudbench\n"
                         "  transport: knet\n  crypto_cipher: none\n"
                         "  crypto_hash: none\n}\n"
                         "nodelist {\n  node {\n    ring0_addr: 127.0.0.1\n"
                         "    name: "
                      << node_
                      << "\n    nodeid: 1\n  }\n}\n"
                         "quorum {\n  provider: corosync_votequorum\n}\n"
                         "logging {\n  to_logfile: yes\n  logfile: "
                      << (dir_ / "corosync.log").string()
                      << "\n  to_syslog: no\n  to_stderr: no\n}\n";
  corosync_
    = start({"corosync", "-f", "-c", conf.string()}, dir_ / "corosync.out");
  pacemakerd_ = start({"pacemakerd", "-f"}, dir_ / "pacemakerd.out",
                      {"PCMK_logfile=" + (dir_ / "pacemaker.log").string(),
                       "PCMK_logfacility=none"});
  if (!wait_for_dc(60s)) {
    error_ = "no DC within 60 s (logs in " + dir_.string() + ")";
  }
}

pacemaker_cluster::~pacemaker_cluster() {
  stop();
}

void pacemaker_cluster::stop() {
  if (dir_.empty()) {
    return;
  }
  // pacemakerd stops its resources and daemons first.
  terminate(pacemakerd_, 60s);
  terminate(corosync_, 20s);
  std::error_code ec;
  for (auto& e : fs::directory_iterator{cib_dir, ec}) {
    fs::remove_all(e.path(), ec);
  }
  if (!cib_backup_.empty()) {
    fs::copy(cib_backup_, cib_dir, fs::copy_options::recursive, ec);
  }
  fs::remove_all(dir_, ec);
  dir_.clear();
}

bool pacemaker_cluster::wait_for_dc(std::chrono::seconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    // crmadmin prints the DC on its error stream with -q, so not -q.
    auto [status, text] = run({"crmadmin", "-D", "-t", "2000"});
    if (status == 0 && text.find("is: " + node_) != std::string::npos) {
      return true;
    }
    std::this_thread::sleep_for(200ms);
  }
  return false;
}

bool pacemaker_cluster::add_resource(const std::string& id,
                                     const std::string& primitive_xml,
                                     std::chrono::seconds timeout) {
  auto [status, text] = run(
    {"cibadmin", "--create", "-o", "resources", "--xml-text", primitive_xml});
  if (status != 0) {
    error_ = "cibadmin refused resource " + id + ": " + text;
    return false;
  }
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    auto where = run({"crm_resource", "--locate", "-r", id}).second;
    if (where.find("is running on: " + node_) != std::string::npos) {
      return true;
    }
    std::this_thread::sleep_for(100ms);
  }
  error_ = "resource " + id + " did not start within "
           + std::to_string(timeout.count()) + " s";
  return false;
}

void pacemaker_cluster::remove_resource(const std::string& id) {
  run(
    {"crm_resource", "-r", id, "--meta", "-p", "target-role", "-v", "Stopped"});
  for (int i = 0; i < 300; ++i) {
    auto where = run({"crm_resource", "--locate", "-r", id}).second;
    if (where.find("NOT running") != std::string::npos) {
      break;
    }
    std::this_thread::sleep_for(100ms);
  }
  run({"crm_resource", "--cleanup", "-r", id});
  run({"cibadmin", "--delete", "-o", "resources", "--xml-text",
       "<primitive id=\"" + id + "\"/>"});
}

} // namespace pcloud::bench
