// This host as QEMU needs it: the embed root of a daemonless libvirt, the
// directories QEMU writes into, whether QEMU may use /dev/kvm, and whether a
// host port forward is free to bind. Plain host checks and file writes, apart
// from the hypervisor actor so that they read (and change) without it.
#pragma once

#include <string>

#include "messages/definitions.hpp"
#include "runtime/result.hpp"

namespace pcloud::runtime {

/// The embed root of a qemu:///embed URI, or empty for other URIs.
std::string embed_root_of(const std::string& uri);

/// Writes what an embed root needs on a fresh machine (its qemu.conf).
result<void> prepare_embed_root(const std::string& root);

/// Why QEMU (as libvirt-qemu) could not open an existing /dev/kvm, or empty
/// when it can or there is none.
std::string kvm_unusable_by_qemu();

/// Closes the state directory to everyone but its owner, except that QEMU
/// (libvirt-qemu, which runs it even under an embedded driver) may pass
/// through to its images, sockets and logs: an ACL entry for that user
/// alone (mode 0700 where there is no such user). Where the file system
/// keeps no ACLs, others get passage too (0711), and the result says so.
result<void> close_state_dir(const std::string& dir);

/// A directory QEMU writes into (channel sockets, console logs). QEMU runs as
/// libvirt-qemu even under an embedded driver, so that user must own it.
void ensure_qemu_dir(const std::string& path);

/// Writes `text` to `path` for QEMU (libvirt-qemu) and root only: mode
/// 0600, owned by libvirt-qemu where that user exists.
result<void> write_for_qemu(const std::string& path, const std::string& text);

/// Whether QEMU could bind `port` on `address` now. SO_REUSEADDR as QEMU's
/// own listeners use it: a port with connections in TIME_WAIT is free.
bool port_free(const std::string& address, const msg::service_port& port);

} // namespace pcloud::runtime
