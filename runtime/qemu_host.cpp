// runtime/qemu_host.cpp -- host checks and files for QEMU (qemu_host.hpp).
#include "runtime/qemu_host.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <vector>

#include <spdlog/spdlog.h>

#include "runtime/access_list.hpp"
#include "runtime/posix/unique_fd.hpp"

namespace pcloud::runtime {

std::string embed_root_of(const std::string& uri) {
  const std::string prefix = "qemu:///embed?root=";
  if (uri.compare(0, prefix.size(), prefix) != 0) {
    return {};
  }
  return uri.substr(prefix.size());
}

result<void> prepare_embed_root(const std::string& root) {
  if (root.empty() || root.front() != '/') {
    return fail("embed root must be an absolute path, got '" + root + "'");
  }
  for (auto dir : {root, root + "/etc"}) {
    if (::mkdir(dir.c_str(), 0755) < 0 && errno != EEXIST) {
      return fail("cannot create " + dir + ": " + std::strerror(errno));
    }
  }
  // Without virtlogd (no daemon here) every start fails unless QEMU writes
  // its own log files.
  auto conf = root + "/etc/qemu.conf";
  std::ofstream out{conf, std::ios::trunc};
  out << "# Written by pcloud: no virtlogd runs for an embedded driver.\n"
      << "stdio_handler = \"file\"\n"
      << "# Images are shared read-only between incarnations and processes;\n"
      << "# remembering owners in xattrs only produced stale-timestamp\n"
      << "# warnings on every start.\n"
      << "remember_owner = 0\n"
      << "# A private /dev per QEMU failed to give the console its pty in\n"
      << "# containers and chroots (\"Failed to create PTY\"); the embedded\n"
      << "# driver is for such hosts, qemu:///system keeps libvirt's default.\n"
      << "namespaces = []\n";
  if (!out) {
    return fail("cannot write " + conf);
  }
  return {};
}

std::string kvm_unusable_by_qemu() {
  struct stat kvm {};
  if (::stat("/dev/kvm", &kvm) != 0) {
    return {};
  }
  auto* pw = ::getpwnam("libvirt-qemu");
  if (pw == nullptr) {
    return {};
  }
  if ((kvm.st_mode & 0006) == 0006
      || (kvm.st_uid == pw->pw_uid && (kvm.st_mode & 0600) == 0600)) {
    return {};
  }
  int n = 64;
  std::vector<gid_t> groups(static_cast<size_t>(n));
  if (::getgrouplist(pw->pw_name, pw->pw_gid, groups.data(), &n) >= 0) {
    groups.resize(static_cast<size_t>(n));
    for (auto g : groups) {
      if (g == kvm.st_gid && (kvm.st_mode & 0060) == 0060) {
        return {};
      }
    }
  }
  return "/dev/kvm is not usable by libvirt-qemu";
}

result<void> close_state_dir(const std::string& dir) {
  auto* pw = ::getpwnam("libvirt-qemu");
  if (pw == nullptr) {
    // No QEMU user: QEMU runs as the daemon's user and needs no passage.
    if (::chmod(dir.c_str(), 0700) != 0) {
      return fail("cannot close " + dir + ": " + std::strerror(errno));
    }
    return {};
  }
  auto opened = open_only_to_owner_and_passage_for(dir, pw->pw_uid);
  if (!opened) {
    // QEMU must pass: without ACLs, everyone passes (nobody lists it).
    ::chmod(dir.c_str(), 0711);
    return fail(opened.error() + "; it is 0711 instead: others may open "
                + "what they can name in it");
  }
  return {};
}

void ensure_qemu_dir(const std::string& path) {
  // Console logs and channel sockets: the guest's output and its link are
  // QEMU's and root's only.
  ::mkdir(path.c_str(), 0700);
  ::chmod(path.c_str(), 0700);
  if (auto* pw = ::getpwnam("libvirt-qemu")) {
    if (::chown(path.c_str(), pw->pw_uid, pw->pw_gid) < 0) {
      spdlog::warn("hypervisor: cannot hand {} to libvirt-qemu: {}", path,
                   std::strerror(errno));
    }
  }
}

result<void> write_for_qemu(const std::string& path, const std::string& text) {
  ::unlink(path.c_str()); // a fresh inode: never one someone else holds
  posix::unique_fd fd{::open(
    path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600)};
  if (!fd) {
    return fail("cannot write " + path + ": " + std::strerror(errno));
  }
  if (::write(fd.get(), text.data(), text.size())
      != static_cast<ssize_t>(text.size())) {
    return fail("cannot write " + path + ": " + std::strerror(errno));
  }
  if (auto* pw = ::getpwnam("libvirt-qemu")) {
    if (::fchown(fd.get(), pw->pw_uid, pw->pw_gid) < 0) {
      return fail("cannot hand " + path
                  + " to libvirt-qemu: " + std::strerror(errno));
    }
  }
  return {};
}

bool port_free(const std::string& address, const msg::service_port& port) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port.host_port);
  if (::inet_pton(AF_INET, address.c_str(), &sa.sin_addr) != 1) {
    return false;
  }
  posix::unique_fd fd{::socket(
    AF_INET, (port.protocol == "udp" ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC,
    0)};
  if (!fd) {
    return false;
  }
  int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  return ::bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0;
}

} // namespace pcloud::runtime
