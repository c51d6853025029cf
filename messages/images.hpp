// JEOS images as the image store lists them.
#pragma once

#include <cstdint>
#include <string>

#include <caf/meta/type_name.hpp>

namespace pcloud::msg {

struct jeos_info {
  /// The name assemblies use: the recipe's distro ("tiny") or the name an
  /// imported image was given.
  std::string name;
  std::string distro;
  std::string arch;
  /// "recipe" (built by jeos_create) or "imported" (jeos_import).
  std::string origin;
  /// Whether a usable image exists (a recipe may be listed before it is
  /// built).
  bool built = false;
  std::string path;
  /// What assemblies made from it start with (a recipe's `defaults` file);
  /// 0 means the assembly's own default.
  uint32_t memory_mib = 0;
  uint32_t vcpus = 0;
  uint32_t boot_timeout_s = 0;
  /// While jeos_create builds it: the recipe's latest step
  /// ("[12s] unpacking the base"); empty otherwise.
  std::string progress = {};
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, jeos_info& x) {
  return f(caf::meta::type_name("jeos_info"), x.name, x.distro, x.arch,
           x.origin, x.built, x.path, x.memory_mib, x.vcpus, x.boot_timeout_s);
}

} // namespace pcloud::msg
