// POSIX access control lists (libacl) for the one place pcloud needs more
// than mode bits: a directory that is its owner's alone, except that one
// other user may pass through it.
#pragma once

#include <sys/types.h>

#include <string>

#include "runtime/result.hpp"

namespace pcloud::runtime {

/// Sets `dir`'s access ACL to: the owner everything, `user` search (pass
/// through) only, nobody else anything. `ls -l` then shows 0710 plus an ACL
/// mark: the group bits are the ACL's mask, and the owning group has none.
/// Fails (leaving the directory as it was) where the file system keeps no
/// ACLs.
result<void> open_only_to_owner_and_passage_for(const std::string& dir,
                                                uid_t user);

/// Whether `user` has exactly search access to `dir` through a named ACL
/// entry, and the owning group and others nothing: what the call above
/// sets.
bool passage_only_for(const std::string& dir, uid_t user);

} // namespace pcloud::runtime
