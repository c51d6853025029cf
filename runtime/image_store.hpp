// The image store: JEOS images under STATE/images. Recipes are the
// directories of conf/jeos that hold a build.sh (tiny, debian12, ...): adding
// a distro is adding a recipe. `jeos_create` runs the recipe on a thread of
// its own; recipes build into a temporary directory and rename it into
// place, so a half-built image never shows as built. Imported images are
// registered by path and booted through a per-assembly qcow2 overlay.
#pragma once

#include <string>

#include <caf/fwd.hpp>

#include "messages/interfaces.hpp"
#include "runtime/hypervisor.hpp"
#include "runtime/result.hpp"

namespace pcloud::runtime {

struct image_store_options {
  /// STATE/images.
  std::string directory;
  /// conf/jeos: one directory per recipe.
  std::string recipes;
  /// pcloud-agent and its libraries, copied into images that carry it.
  std::string agent_bundle;
  /// Where assemblies' overlays of imported images go (STATE/disks).
  std::string disks;
};

msg::image_store_actor spawn_image_store(caf::actor_system& sys,
                                         image_store_options opts);

/// How the hypervisor boots an assembly from the store's images. Reads the
/// file system only (and creates an imported image's overlay once).
image_resolver make_image_resolver(image_store_options opts);

} // namespace pcloud::runtime
