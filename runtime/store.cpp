#include "runtime/store.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <caf/all.hpp>
#include <spdlog/spdlog.h>

#include "runtime/definitions_xml.hpp"
#include "runtime/posix/unique_fd.hpp"

namespace pcloud::runtime {

namespace fs = std::filesystem;

namespace {

std::string errno_text(const std::string& what, const std::string& path) {
  return what + " " + path + ": " + std::strerror(errno);
}

result<void> fsync_directory(const std::string& dir) {
  posix::unique_fd fd{::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
  if (!fd) {
    return fail(errno_text("cannot open", dir));
  }
  if (::fsync(fd.get()) != 0) {
    return fail(errno_text("cannot sync", dir));
  }
  return {};
}

struct store_state {
  static inline const char* name = "pcloud.store";
  store_options opts;
  msg::definitions loaded;
};

using store_ptr = msg::store_actor::stateful_pointer<store_state>;

std::string assemblies_dir(const store_options& o) {
  return o.directory + "/assemblies";
}

std::string deployables_dir(const store_options& o) {
  return o.directory + "/deployables";
}

/// Moves a file that cannot be loaded out of the way, keeping it for the
/// operator to look at.
void set_aside(const store_options& opts, const fs::path& file,
               const std::string& problem, msg::definitions& out) {
  auto rejected = fs::path(opts.directory) / "rejected";
  std::error_code ec;
  fs::create_directories(rejected, ec);
  auto target
    = rejected
      / (file.parent_path().filename().string() + "-" + file.filename().string()
         + "." + std::to_string(std::time(nullptr)));
  fs::rename(file, target, ec);
  auto line = problem + " (set aside as " + target.string() + ")";
  if (ec) {
    line = problem + " (could not set it aside: " + ec.message() + ")";
  }
  spdlog::error("store: {}", line);
  out.problems.push_back(std::move(line));
}

template <class T, class Parse>
void load_kind(const store_options& opts, const std::string& dir,
               const xml::schema& schema, Parse parse, std::vector<T>& out,
               msg::definitions& all) {
  std::error_code ec;
  std::vector<fs::path> files;
  for (auto& entry : fs::directory_iterator(dir, ec)) {
    auto path = entry.path();
    auto file = path.filename().string();
    if (file.size() > 4 && file.front() == '.'
        && file.compare(file.size() - 4, 4, ".tmp") == 0) {
      // A write that a crash interrupted: the rename never happened, so
      // the previous version (if any) is still in place.
      fs::remove(path, ec);
      continue;
    }
    if (path.extension() == ".xml") {
      files.push_back(path);
    }
  }
  std::sort(files.begin(), files.end());
  for (auto& path : files) {
    auto text = read_file(path.string());
    if (!text) {
      set_aside(opts, path, text.error(), all);
      continue;
    }
    auto parsed = parse(*text, path.string(), schema);
    if (!parsed) {
      set_aside(opts, path, parsed.error(), all);
      continue;
    }
    if (parsed->name != path.stem().string()) {
      set_aside(opts, path,
                path.string() + ": names '" + parsed->name
                  + "', but the file name says '" + path.stem().string() + "'",
                all);
      continue;
    }
    out.push_back(std::move(*parsed));
  }
}

template <class T>
void replace_or_add(std::vector<T>& xs, T x) {
  for (auto& y : xs) {
    if (y.name == x.name) {
      y = std::move(x);
      return;
    }
  }
  xs.push_back(std::move(x));
}

template <class T>
void remove_named(std::vector<T>& xs, const std::string& name) {
  xs.erase(std::remove_if(xs.begin(), xs.end(),
                          [&](const T& y) { return y.name == name; }),
           xs.end());
}

caf::error store_error(const failure& err) {
  return msg::make_error(err);
}

result<void> remove_file(const std::string& dir, const std::string& file) {
  if (::unlink((dir + "/" + file).c_str()) != 0 && errno != ENOENT) {
    return fail(errno_text("cannot delete", dir + "/" + file));
  }
  return fsync_directory(dir);
}

msg::store_actor::behavior_type store(store_ptr self, store_options opts,
                                      msg::definitions loaded) {
  self->state.opts = std::move(opts);
  self->state.loaded = std::move(loaded);
  return {
    [=](caf::get_atom) { return self->state.loaded; },
    [=](caf::put_atom, msg::assembly_spec x) -> caf::result<caf::ok_atom> {
      auto& st = self->state;
      auto ok = write_file_atomically(
        assemblies_dir(st.opts) + "/" + x.name + ".xml", to_xml(x));
      if (!ok) {
        return store_error(ok.failure_value());
      }
      replace_or_add(st.loaded.assemblies, std::move(x));
      return caf::ok_atom::value;
    },
    [=](caf::put_atom,
        msg::deployable_definition x) -> caf::result<caf::ok_atom> {
      auto& st = self->state;
      auto ok = write_file_atomically(
        deployables_dir(st.opts) + "/" + x.name + ".xml", to_xml(x));
      if (!ok) {
        return store_error(ok.failure_value());
      }
      replace_or_add(st.loaded.deployables, std::move(x));
      return caf::ok_atom::value;
    },
    [=](caf::delete_atom,
        const msg::assembly_spec& x) -> caf::result<caf::ok_atom> {
      auto& st = self->state;
      if (auto ok = remove_file(assemblies_dir(st.opts), x.name + ".xml");
          !ok) {
        return store_error(ok.failure_value());
      }
      remove_named(st.loaded.assemblies, x.name);
      // Its disk overlay (image_store.cpp): nothing else would ever use it.
      if (!st.opts.disks.empty()) {
        std::error_code ec;
        auto disk = st.opts.disks + "/" + x.name;
        if (fs::remove(disk + ".qcow2", ec)) {
          spdlog::info("store: deleted {}.qcow2, the disk of assembly {}", disk,
                       x.name);
        }
        fs::remove(disk + ".base", ec);
      }
      return caf::ok_atom::value;
    },
    [=](caf::delete_atom,
        const msg::deployable_definition& x) -> caf::result<caf::ok_atom> {
      auto& st = self->state;
      if (auto ok = remove_file(deployables_dir(st.opts), x.name + ".xml");
          !ok) {
        return store_error(ok.failure_value());
      }
      remove_named(st.loaded.deployables, x.name);
      return caf::ok_atom::value;
    },
  };
}

} // namespace

result<std::string> read_file(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  if (!in) {
    return fail(errno_text("cannot read", path));
  }
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

result<void> write_file_atomically(const std::string& path,
                                   const std::string& text, int mode) {
  auto p = fs::path(path);
  auto dir = p.parent_path().string();
  auto tmp
    = (p.parent_path() / ("." + p.filename().string() + ".tmp")).string();
  posix::unique_fd fd{
    ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)};
  if (!fd) {
    return fail(errno_text("cannot create", tmp));
  }
  size_t done = 0;
  while (done < text.size()) {
    auto n = ::write(fd.get(), text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      auto err = errno_text("cannot write", tmp);
      ::unlink(tmp.c_str());
      return fail(err);
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd.get()) != 0) {
    auto err = errno_text("cannot sync", tmp);
    ::unlink(tmp.c_str());
    return fail(err);
  }
  fd.reset(); // closed before it takes the final name
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    auto err = errno_text("cannot rename to", path);
    ::unlink(tmp.c_str());
    return fail(err);
  }
  return fsync_directory(dir);
}

result<msg::store_actor> spawn_store(caf::actor_system& sys,
                                     store_options opts) {
  for (auto& dir : {assemblies_dir(opts), deployables_dir(opts)}) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) {
      return fail("cannot create " + dir + ": " + ec.message());
    }
  }
  auto schema = xml::schema::load(opts.schema);
  if (!schema) {
    return fail(schema.error());
  }
  msg::definitions loaded;
  load_kind(opts, assemblies_dir(opts), *schema, assembly_from_xml,
            loaded.assemblies, loaded);
  load_kind(opts, deployables_dir(opts), *schema, deployable_from_xml,
            loaded.deployables, loaded);
  spdlog::info("store: {} assemblies, {} deployables loaded from {}",
               loaded.assemblies.size(), loaded.deployables.size(),
               opts.directory);
  return sys.spawn<caf::detached>(store, std::move(opts), std::move(loaded));
}

} // namespace pcloud::runtime
