#include "runtime/disk_import.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "runtime/posix/copy.hpp"
#include "runtime/posix/unique_fd.hpp"

namespace pcloud::runtime {

namespace {

uint64_t big_endian(const std::string& bytes, size_t offset, size_t size) {
  uint64_t x = 0;
  for (size_t i = 0; i < size && offset + i < bytes.size(); ++i) {
    x = (x << 8) | static_cast<unsigned char>(bytes[offset + i]);
  }
  return x;
}

/// qcow2 header fields (QEMU's docs/interop/qcow2.txt).
result<bool> check_qcow2(const std::string& head, const std::string& file) {
  auto flatten
    = ": flatten it first (qemu-img convert -O qcow2 " + file + " NEW.qcow2)";
  if (big_endian(head, 8, 8) != 0) {
    return fail(msg::errc::invalid_argument,
                file + " has a backing file" + flatten);
  }
  auto version = big_endian(head, 4, 4);
  constexpr uint64_t external_data_file = 1u << 2;
  if (version >= 3 && (big_endian(head, 72, 8) & external_data_file) != 0) {
    return fail(msg::errc::invalid_argument,
                file + " keeps its data in an external file" + flatten);
  }
  return true;
}

} // namespace

result<std::string> disk_format_of(const std::string& head,
                                   const std::string& file) {
  auto at = [&](size_t offset, const std::string& magic) {
    return head.size() >= offset + magic.size()
           && head.compare(offset, magic.size(), magic) == 0;
  };
  if (at(0, "QFI\xfb")) {
    return std::string{"qcow2"};
  }
  if (at(510, "\x55\xaa") || at(1080, "\x53\xef")) {
    return std::string{"raw"};
  }
  auto convert = " image: convert it first (qemu-img convert -O qcow2 " + file
                 + " NEW.qcow2)";
  if (at(0, "KDMV") || at(0, "# Disk DescriptorFile")) {
    return fail(msg::errc::invalid_argument, file + " is a VMDK" + convert);
  }
  if (at(0x40, "\x7f\x10\xda\xbe")) {
    return fail(msg::errc::invalid_argument,
                file + " is a VirtualBox VDI" + convert);
  }
  if (at(0, "vhdxfile")) {
    return fail(msg::errc::invalid_argument, file + " is a VHDX" + convert);
  }
  if (at(32769, "CD001")) {
    return fail(msg::errc::invalid_argument,
                file + " is an ISO (an installer, not a disk image)");
  }
  return fail(msg::errc::invalid_argument,
              file
                + " is not a disk image (no qcow2 header, partition "
                  "table or file system)");
}

result<imported_disk> import_disk(const std::string& file,
                                  const std::string& directory,
                                  const std::string& name) {
  // O_NONBLOCK: a FIFO put there must not hang the import.
  posix::unique_fd in{
    ::open(file.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)};
  if (!in) {
    auto err = errno;
    if (err == ELOOP) {
      return fail(msg::errc::invalid_argument,
                  file + " is a symbolic link: name the image itself");
    }
    return fail(err == ENOENT ? msg::errc::not_found
                              : msg::errc::permission_denied,
                "cannot read image " + file + ": " + std::strerror(err));
  }
  struct stat st {};
  if (::fstat(in.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return fail(msg::errc::invalid_argument,
                file
                  + " is not a regular file (a device, a pipe or a "
                    "directory): copy the image into a file first");
  }
  if (st.st_uid != ::geteuid() || (st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    return fail(msg::errc::permission_denied,
                file + " is owned by uid " + std::to_string(st.st_uid)
                  + " or writable by others: only files of uid "
                  + std::to_string(::geteuid())
                  + " that nobody else can change are imported");
  }
  std::string head(36 * 1024, '\0');
  auto n = ::pread(in.get(), head.data(), head.size(), 0);
  head.resize(n > 0 ? static_cast<size_t>(n) : 0);
  auto format = disk_format_of(head, file);
  if (!format) {
    return format.failure_value();
  }
  if (*format == "qcow2") {
    if (auto ok = check_qcow2(head, file); !ok) {
      return ok.failure_value();
    }
  }
  std::error_code ec;
  std::filesystem::create_directories(directory, ec);
  imported_disk out{directory + "/" + name + "." + *format, *format};
  auto partial = out.path + ".partial";
  posix::unique_fd copy{
    ::open(partial.c_str(),
           O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600)};
  if (!copy) {
    return fail("cannot create " + partial + ": " + std::strerror(errno));
  }
  errno = 0;
  if (posix::copy_bytes(in.get(), copy.get(), st.st_size) != st.st_size) {
    auto err = errno != 0 ? std::strerror(errno) : "the file shrank";
    ::unlink(partial.c_str());
    return fail("cannot copy " + file + ": " + err);
  }
  if (::fsync(copy.get()) != 0
      || ::rename(partial.c_str(), out.path.c_str()) != 0) {
    auto err = errno;
    ::unlink(partial.c_str());
    return fail("cannot store the copy of " + file + ": " + std::strerror(err));
  }
  return out;
}

} // namespace pcloud::runtime
