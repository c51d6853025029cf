#include "runtime/image_store.hpp"

#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>

#include <caf/all.hpp>
#include <spdlog/spdlog.h>

#include "messages/names.hpp"
#include "runtime/disk_import.hpp"
#include "runtime/store.hpp"

namespace pcloud::runtime {

namespace fs = std::filesystem;

namespace {

const char* supported_arch = "x86_64";

std::string read_first_line(const std::string& path) {
  std::ifstream in{path};
  std::string line;
  std::getline(in, line);
  return line;
}

/// STATE/images/DISTRO.progress: the latest line of a build under way.
std::string progress_file(const image_store_options& opts,
                          const std::string& distro) {
  return opts.directory + "/" + distro + ".progress";
}

std::string quote(const std::string& x) {
  std::string result = "'";
  for (char c : x) {
    if (c == '\'') {
      result += "'\\''";
    } else {
      result += c;
    }
  }
  return result + "'";
}

std::vector<std::string> recipes(const image_store_options& opts) {
  std::vector<std::string> result;
  std::error_code ec;
  for (auto& entry : fs::directory_iterator(opts.recipes, ec)) {
    if (fs::exists(entry.path() / "build.sh")) {
      result.push_back(entry.path().filename().string());
    }
  }
  std::sort(result.begin(), result.end());
  return result;
}

/// An imported image: STATE/images/imported/NAME holds "PATH\nFORMAT\n".
struct imported_image {
  std::string path;
  std::string format;
};

std::string imported_dir(const image_store_options& opts) {
  return opts.directory + "/imported";
}

/// pcloud's copies of imported images.
std::string imported_disks_dir(const image_store_options& opts) {
  return opts.directory + "/imported-disks";
}

std::optional<imported_image> read_imported(const image_store_options& opts,
                                            const std::string& name) {
  std::ifstream in{imported_dir(opts) + "/" + name};
  imported_image x;
  if (!in || !std::getline(in, x.path) || !std::getline(in, x.format)) {
    return std::nullopt;
  }
  return x;
}

/// A recipe's `defaults`: memory_mib=512, vcpus=2, boot_timeout_s=240.
void read_defaults(const std::string& path, msg::jeos_info& x) {
  std::ifstream in{path};
  std::string line;
  while (std::getline(in, line)) {
    auto eq = line.find('=');
    if (eq == std::string::npos) {
      continue;
    }
    auto key = line.substr(0, eq);
    auto value
      = static_cast<uint32_t>(std::strtoul(line.c_str() + eq + 1, nullptr, 10));
    if (key == "memory_mib") {
      x.memory_mib = value;
    } else if (key == "vcpus") {
      x.vcpus = value;
    } else if (key == "boot_timeout_s") {
      x.boot_timeout_s = value;
    }
  }
}

std::vector<msg::jeos_info> list(const image_store_options& opts) {
  std::vector<msg::jeos_info> result;
  for (auto& distro : recipes(opts)) {
    msg::jeos_info x;
    x.name = distro;
    x.distro = distro;
    x.arch = supported_arch;
    x.origin = "recipe";
    x.path = opts.directory + "/" + distro;
    x.built = fs::exists(x.path + "/stamp");
    read_defaults(x.path + "/defaults", x);
    x.progress = read_first_line(progress_file(opts, distro));
    result.push_back(std::move(x));
  }
  std::error_code ec;
  for (auto& entry : fs::directory_iterator(imported_dir(opts), ec)) {
    auto name = entry.path().filename().string();
    auto img = read_imported(opts, name);
    if (!img) {
      continue;
    }
    msg::jeos_info x;
    x.name = name;
    x.distro = "imported";
    x.arch = supported_arch;
    x.origin = "imported";
    x.path = img->path;
    x.built = fs::exists(img->path);
    result.push_back(std::move(x));
  }
  return result;
}

caf::error image_error(msg::errc code, std::string text) {
  return msg::make_error(code, std::move(text));
}

caf::error image_error(const failure& err) {
  return msg::make_error(err);
}

/// Runs a recipe; its output goes to the log, the last line into errors.
result<void> run_recipe(const image_store_options& opts,
                        const std::string& distro) {
  auto out = opts.directory + "/" + distro;
  std::error_code ec;
  fs::create_directories(opts.directory, ec);
  auto cmd = "bash " + quote(opts.recipes + "/" + distro + "/build.sh") + " "
             + quote(out) + " " + quote(opts.agent_bundle) + " 2>&1";
  spdlog::info("images: building {}: {}", distro, cmd);
  auto* pipe = ::popen(cmd.c_str(), "r");
  if (pipe == nullptr) {
    return fail("cannot run the " + distro + " recipe");
  }
  std::string last;
  char line[1024];
  while (std::fgets(line, sizeof(line), pipe) != nullptr) {
    last = line;
    while (!last.empty() && (last.back() == '\n' || last.back() == '\r')) {
      last.pop_back();
    }
    spdlog::info("images: {}: {}", distro, last);
    // "debian12: [12s] unpacking the base" -> "[12s] unpacking the base"
    auto shown = last.rfind(distro + ": ", 0) == 0
                   ? last.substr(distro.size() + 2)
                   : last;
    (void)write_file_atomically(progress_file(opts, distro), shown + "\n");
  }
  fs::remove(progress_file(opts, distro), ec);
  auto status = ::pclose(pipe);
  if (status != 0) {
    return fail("building JEOS " + distro + " failed: " + last);
  }
  return {};
}

using worker_actor
  = caf::typed_actor<caf::replies_to<msg::create_atom, std::string,
                                     std::string>::with<msg::jeos_info>>;

/// One build, on a thread of its own, so listing stays quick meanwhile.
worker_actor::behavior_type build_worker(worker_actor::pointer self,
                                         image_store_options opts) {
  return {
    [=](msg::create_atom, const std::string& distro,
        const std::string&) -> caf::result<msg::jeos_info> {
      self->quit();
      if (auto ok = run_recipe(opts, distro); !ok) {
        return image_error(ok.failure_value());
      }
      for (auto& x : list(opts)) {
        if (x.name == distro && x.built) {
          return x;
        }
      }
      return image_error(msg::errc::internal,
                         "the " + distro + " recipe finished without an image");
    },
  };
}

struct image_store_state {
  static inline const char* name = "pcloud.image_store";
  image_store_options opts;
  /// Recipes being built: one build per recipe at a time.
  std::set<std::string> building;
};

/// A build may take long (debootstrap on a slow mirror); pcloudsh waits
/// up to an hour by default.
constexpr auto build_limit = std::chrono::seconds(2 * 3600);

msg::image_store_actor::behavior_type
image_store(msg::image_store_actor::stateful_pointer<image_store_state> self,
            image_store_options opts) {
  self->state.opts = std::move(opts);
  return {
    [=](caf::get_atom) { return list(self->state.opts); },
    [=](msg::create_atom, const std::string& distro,
        const std::string& arch) -> caf::result<msg::jeos_info> {
      auto& o = self->state.opts;
      auto known = recipes(o);
      if (std::find(known.begin(), known.end(), distro) == known.end()) {
        std::string names;
        for (auto& x : known) {
          names += (names.empty() ? "" : ", ") + x;
        }
        return image_error(msg::errc::not_found, "unknown distro '" + distro
                                                   + "' (recipes: " + names
                                                   + ")");
      }
      if (arch != supported_arch) {
        return image_error(msg::errc::invalid_argument,
                           "unsupported architecture '" + arch
                             + "' (supported: x86_64)");
      }
      if (self->state.building.count(distro) > 0) {
        return image_error(msg::errc::wrong_state,
                           "JEOS " + distro
                             + " is being built already (jeos_list shows how "
                               "far it got)");
      }
      self->state.building.insert(distro);
      auto worker = self->spawn<caf::detached>(build_worker, o);
      auto rp = self->make_response_promise<msg::jeos_info>();
      self->request(worker, build_limit, msg::create_atom::value, distro, arch)
        .then(
          [self, rp, distro](msg::jeos_info& x) mutable {
            self->state.building.erase(distro);
            rp.deliver(std::move(x));
          },
          [self, rp, distro](caf::error& err) mutable {
            self->state.building.erase(distro);
            rp.deliver(std::move(err));
          });
      return rp;
    },
    [=](msg::import_atom, const std::string& name,
        const std::string& file) -> caf::result<msg::jeos_info> {
      auto& o = self->state.opts;
      if (auto bad = msg::check_name("JEOS", name)) {
        return msg::make_error(bad);
      }
      for (auto& x : list(o)) {
        if (x.name == name) {
          return image_error(msg::errc::exists,
                             "JEOS '" + name + "' exists already");
        }
      }
      auto disk = import_disk(file, imported_disks_dir(o), name);
      if (!disk) {
        return image_error(disk.failure_value());
      }
      std::error_code ec;
      fs::create_directories(imported_dir(o), ec);
      auto ok = write_file_atomically(imported_dir(o) + "/" + name,
                                      disk->path + "\n" + disk->format + "\n");
      if (!ok) {
        fs::remove(disk->path, ec);
        return image_error(ok.failure_value());
      }
      spdlog::info("images: imported {} as JEOS {} ({})", file, name,
                   disk->path);
      msg::jeos_info x;
      x.name = name;
      x.distro = "imported";
      x.arch = supported_arch;
      x.origin = "imported";
      x.built = true;
      x.path = disk->path;
      return x;
    },
    [=](caf::delete_atom,
        const std::string& name) -> caf::result<caf::ok_atom> {
      auto& o = self->state.opts;
      if (auto bad = msg::check_name("JEOS", name)) {
        return msg::make_error(bad);
      }
      std::error_code ec;
      if (auto img = read_imported(o, name)) {
        fs::remove(imported_dir(o) + "/" + name, ec);
        // pcloud's copy goes too; an image registered before imports were
        // copied is the operator's file and stays.
        if (fs::path{img->path}.parent_path() == imported_disks_dir(o)) {
          fs::remove(img->path, ec);
        }
        return caf::ok_atom::value;
      }
      auto known = recipes(o);
      auto dir = o.directory + "/" + name;
      if (std::find(known.begin(), known.end(), name) == known.end()
          || !fs::exists(dir + "/stamp")) {
        return image_error(msg::errc::not_found,
                           "no built JEOS named '" + name + "'");
      }
      fs::remove_all(dir, ec);
      if (ec) {
        return image_error(msg::errc::internal,
                           "cannot delete " + dir + ": " + ec.message());
      }
      return caf::ok_atom::value;
    },
  };
}

} // namespace

msg::image_store_actor spawn_image_store(caf::actor_system& sys,
                                         image_store_options opts) {
  // Progress of builds that a previous pcloudd did not finish.
  std::error_code ec;
  for (auto& entry : fs::directory_iterator(opts.directory, ec)) {
    if (entry.path().extension() == ".progress") {
      fs::remove(entry.path(), ec);
    }
  }
  // Detached: listing, imports and deletes touch the file system.
  return sys.spawn<caf::detached>(image_store, std::move(opts));
}

namespace {

/// The assembly's own copy-on-write overlay of a base disk, at
/// STATE/disks/NAME.qcow2. NAME.base says which assembly (UUID) and which
/// base it was made for: a new assembly under an old name, or a rebuilt
/// JEOS, gets a fresh overlay (writes on top of a changed base would
/// corrupt it).
result<std::string> overlay_for(const image_store_options& opts,
                                const msg::assembly_spec& spec,
                                const std::string& base,
                                const std::string& format,
                                const std::string& base_version) {
  auto overlay = opts.disks + "/" + spec.name + ".qcow2";
  auto marker = opts.disks + "/" + spec.name + ".base";
  auto identity = spec.uuid + " " + base + " " + base_version;
  // The guest's data: readable by its owner only (root, or libvirt-qemu
  // once libvirt has handed the disk to QEMU).
  auto owner_only = fs::perms::owner_read | fs::perms::owner_write;
  std::error_code ec;
  if (fs::exists(overlay) && read_first_line(marker) == identity) {
    fs::permissions(overlay, owner_only, ec);
    return overlay;
  }
  fs::create_directories(opts.disks, ec);
  if (fs::exists(overlay)) {
    spdlog::warn("images: {}: its disk was made for another assembly or an "
                 "older {}: starting from a fresh overlay",
                 spec.name, spec.jeos);
  }
  auto tmp = overlay + ".tmp";
  auto cmd = "qemu-img create -q -f qcow2 -F " + format + " -b " + quote(base)
             + " " + quote(tmp) + " 2>&1";
  if (std::system(cmd.c_str()) != 0) {
    fs::remove(tmp, ec);
    return fail("cannot create the overlay " + overlay + " on " + base);
  }
  fs::permissions(tmp, owner_only, ec);
  fs::rename(tmp, overlay, ec);
  if (ec) {
    return fail("cannot create the overlay " + overlay + ": " + ec.message());
  }
  if (auto ok = write_file_atomically(marker, identity + "\n"); !ok) {
    return ok.failure_value();
  }
  return overlay;
}

} // namespace

image_resolver make_image_resolver(image_store_options opts) {
  return [opts](const msg::assembly_spec& spec) -> result<boot_image> {
    auto dir = opts.directory + "/" + spec.jeos;
    if (fs::exists(dir + "/stamp") && fs::exists(dir + "/vmlinuz")
        && fs::exists(dir + "/initrd.img")) {
      // A recipe's image: direct kernel boot, from a disk when it has one.
      boot_image img{dir + "/vmlinuz", dir + "/initrd.img",
                     "console=ttyS0 quiet", "", "qcow2"};
      if (auto cmdline = read_first_line(dir + "/cmdline"); !cmdline.empty()) {
        img.cmdline = cmdline;
      }
      if (fs::exists(dir + "/disk.qcow2")) {
        auto overlay = overlay_for(opts, spec, dir + "/disk.qcow2", "qcow2",
                                   read_first_line(dir + "/stamp"));
        if (!overlay) {
          return overlay.failure_value();
        }
        img.disk = *overlay;
      }
      return img;
    }
    auto img = read_imported(opts, spec.jeos);
    if (!img) {
      return fail("JEOS '" + spec.jeos + "' of assembly " + spec.name
                  + " is not built (jeos_create " + spec.jeos + " x86_64)");
    }
    // Each assembly writes to its own overlay; the image stays untouched.
    auto overlay = overlay_for(opts, spec, img->path, img->format, "imported");
    if (!overlay) {
      return overlay.failure_value();
    }
    return boot_image{"", "", "", *overlay, "qcow2"};
  };
}

} // namespace pcloud::runtime
