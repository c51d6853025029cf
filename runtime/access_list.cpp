#include "runtime/access_list.hpp"

#include <acl/libacl.h>
#include <sys/acl.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <memory>

namespace pcloud::runtime {

namespace {

struct acl_deleter {
  void operator()(void* x) const { acl_free(x); }
};

using unique_acl = std::unique_ptr<std::remove_pointer_t<acl_t>, acl_deleter>;

} // namespace

result<void> open_only_to_owner_and_passage_for(const std::string& dir,
                                                uid_t user) {
  auto text = "u::rwx,u:" + std::to_string(user) + ":--x,g::---,m::--x,o::---";
  unique_acl acl{acl_from_text(text.c_str())};
  if (!acl || acl_valid(acl.get()) != 0) {
    return fail("cannot make the access list '" + text
                + "': " + std::strerror(errno));
  }
  if (acl_set_file(dir.c_str(), ACL_TYPE_ACCESS, acl.get()) != 0) {
    return fail("cannot set the access list of " + dir + ": "
                + std::strerror(errno));
  }
  return {};
}

bool passage_only_for(const std::string& dir, uid_t user) {
  unique_acl acl{acl_get_file(dir.c_str(), ACL_TYPE_ACCESS)};
  if (!acl) {
    return false;
  }
  bool user_passes = false;
  acl_entry_t entry;
  for (int which = ACL_FIRST_ENTRY;
       acl_get_entry(acl.get(), which, &entry) == 1; which = ACL_NEXT_ENTRY) {
    acl_tag_t tag;
    acl_permset_t perms;
    if (acl_get_tag_type(entry, &tag) != 0
        || acl_get_permset(entry, &perms) != 0) {
      return false;
    }
    bool r = acl_get_perm(perms, ACL_READ) == 1;
    bool w = acl_get_perm(perms, ACL_WRITE) == 1;
    bool x = acl_get_perm(perms, ACL_EXECUTE) == 1;
    switch (tag) {
    case ACL_USER: {
      auto* id = static_cast<uid_t*>(acl_get_qualifier(entry));
      bool this_user = id != nullptr && *id == user;
      acl_free(id);
      if (!this_user || r || w || !x) {
        return false; // nobody else named, and the user only passes
      }
      user_passes = true;
      break;
    }
    case ACL_GROUP:
    case ACL_GROUP_OBJ:
    case ACL_OTHER:
      if (r || w || x) {
        return false;
      }
      break;
    default:
      break; // the owner, and the mask (which only narrows)
    }
  }
  return user_passes;
}

} // namespace pcloud::runtime
