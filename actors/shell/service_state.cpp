#include "actors/shell/service_state.hpp"

#include <caf/all.hpp>

namespace pcloud::actors::shell {

namespace {

template <class T>
void persist_any(self_ptr self, reply_promise rp, T value,
                 std::function<void()> rollback, std::string message) {
  self
    ->request(self->state.services.store, store_timeout, caf::put_atom::value,
              std::move(value))
    .then([rp, message](caf::ok_atom) mutable { rp.deliver(ok(message)); },
          [rp, rollback](const caf::error& err) mutable {
            rollback();
            rp.deliver(failed(err, "not saved: "));
          });
}

template <class T>
reply erase_any(self_ptr self, T value, std::function<void()> rollback,
                std::string message) {
  auto rp = self->make_response_promise<msg::shell_reply>();
  self
    ->request(self->state.services.store, store_timeout,
              caf::delete_atom::value, std::move(value))
    .then([rp, message](caf::ok_atom) mutable { rp.deliver(ok(message)); },
          [rp, rollback](const caf::error& err) mutable {
            rollback();
            rp.deliver(failed(err, "not deleted: "));
          });
  return rp;
}

template <class T>
reply edit_any(self_ptr self, std::map<std::string, T> catalog::*table,
               T* found, const msg::error& missing,
               const change_fn<T>& change) {
  if (found == nullptr) {
    return failed(missing);
  }
  auto before = *found;
  auto after = before;
  std::string message;
  if (auto bad = change(after, message)) {
    return failed(bad);
  }
  (self->state.defs.*table)[after.name] = after;
  return persist(
    self, std::move(after),
    [self, table, before] { (self->state.defs.*table)[before.name] = before; },
    std::move(message));
}

} // namespace

msg::shell_reply failed(const msg::error& err, const std::string& prefix) {
  return msg::failed_reply(msg::with_context(err, prefix));
}

msg::shell_reply failed(const caf::error& err, const std::string& prefix) {
  return failed(msg::to_error(err), prefix);
}

void persist(self_ptr self, reply_promise rp, msg::assembly_spec value,
             std::function<void()> rollback, std::string message) {
  persist_any(self, rp, std::move(value), std::move(rollback),
              std::move(message));
}

void persist(self_ptr self, reply_promise rp, msg::deployable_definition value,
             std::function<void()> rollback, std::string message) {
  persist_any(self, rp, std::move(value), std::move(rollback),
              std::move(message));
}

reply erase(self_ptr self, msg::assembly_spec value,
            std::function<void()> rollback, std::string message) {
  return erase_any(self, std::move(value), std::move(rollback),
                   std::move(message));
}

reply erase(self_ptr self, msg::deployable_definition value,
            std::function<void()> rollback, std::string message) {
  return erase_any(self, std::move(value), std::move(rollback),
                   std::move(message));
}

reply edit_assembly(self_ptr self, const std::string& name,
                    change_fn<msg::assembly_spec> change) {
  msg::error missing;
  auto* x = find_assembly(self->state.defs, name, missing);
  return edit_any(self, &catalog::assemblies, x, missing, change);
}

reply edit_deployable(self_ptr self, const std::string& name,
                      change_fn<msg::deployable_definition> change) {
  msg::error missing;
  auto* x = find_deployable(self->state.defs, name, missing);
  return edit_any(self, &catalog::deployables, x, missing, change);
}

void save_draft(self_ptr self, reply_promise rp, const msg::assembly_spec& base,
                msg::assembly_spec draft, std::string message) {
  auto& defs = self->state.defs;
  auto i = defs.assemblies.find(draft.name);
  if (i == defs.assemblies.end()) {
    rp.deliver(failed({msg::errc::not_found,
                       "assembly '" + draft.name + "' was deleted meanwhile"}));
    return;
  }
  if (!(i->second == base)) {
    rp.deliver(failed({msg::errc::wrong_state,
                       "assembly '" + draft.name
                         + "' was changed meanwhile by another command; "
                           "nothing saved (try again)"}));
    return;
  }
  if (auto bad = check_not_running(defs, draft.name)) {
    rp.deliver(failed(bad));
    return;
  }
  auto before = i->second;
  i->second = draft;
  persist(
    self, rp, std::move(draft),
    [self, before] { self->state.defs.assemblies[before.name] = before; },
    std::move(message));
}

void allocate_ports(self_ptr self, msg::assembly_spec draft, allocated done) {
  auto candidates = port_candidates(self->state.defs, draft);
  if (candidates.empty()) {
    done({}, std::move(draft));
    return;
  }
  self
    ->request(self->state.services.hypervisor, status_timeout,
              msg::port_atom::value, candidates)
    .then(
      [self, draft, done](const std::vector<msg::service_port>& free) mutable {
        // Checked again: another command may have taken some meanwhile.
        if (auto bad = assign_ports(self->state.defs, draft, free)) {
          done(bad, {});
          return;
        }
        done({}, std::move(draft));
      },
      [done](const caf::error& err) mutable {
        done(msg::with_context(msg::to_error(err), "cannot check host ports: "),
             {});
      });
}

} // namespace pcloud::actors::shell
