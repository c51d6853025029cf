// The shell service's JEOS commands: build, import, list and delete images
// through the image store.
#include "actors/shell/handlers.hpp"

#include <caf/all.hpp>

namespace pcloud::actors::shell {

reply jeos_create(self_ptr self, args a) {
  if (auto bad = check_arch(a[1])) {
    return failed(bad);
  }
  // A rebuilt image is a new base disk: the next recovery of an assembly
  // on the old one would start it on a fresh overlay, its data gone.
  if (auto users = users_of_jeos(self->state.defs, a[0]); !users.empty()) {
    return failed(
      {msg::errc::in_use, "JEOS '" + a[0] + "' is used by " + join(users)
                            + ": rebuilding it would replace their disks "
                              "(assembly_delete them first)"});
  }
  auto rp = self->make_response_promise<msg::shell_reply>();
  self
    ->request(self->state.services.images, build_timeout,
              msg::create_atom::value, a[0], a[1])
    .then(
      [rp](const msg::jeos_info& info) mutable {
        rp.deliver(ok("JEOS " + info.name + " (" + info.arch
                      + ") is ready: " + info.path));
      },
      [rp](const caf::error& err) mutable { rp.deliver(failed(err)); });
  return rp;
}

reply jeos_import(self_ptr self, args a) {
  if (auto bad = check_new_name("JEOS", a[0])) {
    return failed(bad);
  }
  auto rp = self->make_response_promise<msg::shell_reply>();
  self
    ->request(self->state.services.images, build_timeout,
              msg::import_atom::value, a[0], a[1])
    .then(
      [rp, file = a[1]](const msg::jeos_info& info) mutable {
        rp.deliver(ok("JEOS " + info.name + " imported from " + file
                      + " (pcloud's copy: " + info.path + ")"));
      },
      [rp](const caf::error& err) mutable { rp.deliver(failed(err)); });
  return rp;
}

reply jeos_list(self_ptr self, args) {
  auto rp = self->make_response_promise<msg::shell_reply>();
  self
    ->request(self->state.services.images, status_timeout, caf::get_atom::value)
    .then(
      [rp](const std::vector<msg::jeos_info>& xs) mutable {
        auto r = table(
          {"name", "distro", "arch", "origin", "built", "path", "progress"});
        for (auto& x : xs) {
          r.rows.push_back({x.name, x.distro, x.arch, x.origin,
                            x.built ? "yes" : "no", x.path, x.progress});
        }
        rp.deliver(std::move(r));
      },
      [rp](const caf::error& err) mutable { rp.deliver(failed(err)); });
  return rp;
}

reply jeos_delete(self_ptr self, args a) {
  if (auto users = users_of_jeos(self->state.defs, a[0]); !users.empty()) {
    return failed({msg::errc::in_use, "JEOS '" + a[0] + "' is used by "
                                        + join(users)
                                        + " (assembly_delete them first)"});
  }
  auto rp = self->make_response_promise<msg::shell_reply>();
  self
    ->request(self->state.services.images, store_timeout,
              caf::delete_atom::value, a[0])
    .then(
      [rp, name = a[0]](caf::ok_atom) mutable {
        rp.deliver(ok("JEOS " + name + " deleted"));
      },
      [rp](const caf::error& err) mutable { rp.deliver(failed(err)); });
  return rp;
}

} // namespace pcloud::actors::shell
