// messages/commands.cpp -- the command table of pcloudsh, shared by the shell
// (help, completion, argument checks) and the shell service (dispatch).
#include "messages/shell.hpp"

namespace pcloud::msg {

namespace {

using k = argument_kind;

std::vector<command_info> make_commands() {
  return {
    {"jeos_create",
     {"DISTRO", "ARCH"},
     {k::distro, k::arch},
     "build a JEOS image from a recipe (tiny, debian12)"},
    {"jeos_import",
     {"NAME", "FILE"},
     {k::new_name, k::text},
     "register an existing qcow2 or raw image with pcloud-agent inside"},
    {"jeos_list", {}, {}, "list JEOS images and recipes"},
    {"jeos_delete",
     {"NAME"},
     {k::jeos},
     "delete a JEOS image no assembly uses"},
    {"assembly_create",
     {"NAME", "JEOS", "ARCH"},
     {k::new_name, k::jeos, k::arch},
     "define an assembly: one VM booting JEOS"},
    {"assembly_clone",
     {"FROM", "TO"},
     {k::assembly, k::new_name},
     "copy an assembly's resources under a new identity"},
    {"assembly_delete",
     {"NAME"},
     {k::assembly},
     "delete an assembly no deployable uses"},
    {"assembly_list", {}, {}, "list assemblies"},
    {"assembly_resource_add",
     {"NAME", "TEMPLATE", "ASSEMBLY"},
     {k::new_name, k::template_name, k::assembly},
     "add resource NAME, made from TEMPLATE, to ASSEMBLY"},
    {"assembly_resource_remove",
     {"NAME", "ASSEMBLY"},
     {k::resource, k::assembly},
     "remove a resource from an assembly"},
    {"assembly_resource_list",
     {"ASSEMBLY"},
     {k::assembly},
     "list an assembly's resources"},
    {"assembly_port_set",
     {"ASSEMBLY", "RESOURCE", "PORT[/udp]", "[HOST_PORT]"},
     {k::assembly, k::resource, k::text, k::number},
     "forward HOST_PORT (default: a free one) to the resource's guest PORT"},
    {"assembly_port_remove",
     {"ASSEMBLY", "RESOURCE", "PORT[/udp]"},
     {k::assembly, k::resource, k::text},
     "stop forwarding a guest port of a resource"},
    {"assembly_probe_set",
     {"ASSEMBLY", "RESOURCE", "SETTING", "VALUE"},
     {k::assembly, k::resource, k::text, k::text},
     "set how a resource's answers are checked: kind (none tcp http "
     "command), url, port, path, status, body, command, interval, timeout, "
     "failures, initial_delay"},
    {"assembly_network_set",
     {"ASSEMBLY", "NETWORK"},
     {k::assembly, k::text},
     "put the assembly's NIC on NETWORK: user (port forwards), none, or a "
     "libvirt network"},
    {"assembly_set",
     {"ASSEMBLY", "SETTING", "VALUE"},
     {k::assembly, k::text, k::text},
     "set memory (MiB), vcpus, boot_timeout or stop_timeout (durations such "
     "as 240s), or transport (channel or tcp: how its agent reaches "
     "pcloudd) of an assembly; the next VM start uses them"},
    {"assembly_console",
     {"NAME"},
     {k::assembly},
     "attach to the guest's serial console (detach with Ctrl-])",
     true},
    {"template_list",
     {},
     {},
     "list resource templates and the JEOS they run on"},
    {"escalation_resource_set",
     {"DEPLOYABLE", "MAX_FAILURES", "WINDOW", "[DELAY]"},
     {k::deployable, k::number, k::duration, k::duration},
     "resource restarts allowed per window before the assembly is restarted "
     "(0: never escalate), and the delay before each after the first "
     "(default 500ms)"},
    {"escalation_assembly_set",
     {"DEPLOYABLE", "MAX_FAILURES", "WINDOW", "[DELAY]"},
     {k::deployable, k::number, k::duration, k::duration},
     "VM restarts allowed per window before the deployable policy applies "
     "(0: never escalate), and the delay before each after the first "
     "(default 500ms)"},
    {"deployable_create", {"NAME"}, {k::new_name}, "define a deployable"},
    {"deployable_delete",
     {"NAME"},
     {k::deployable},
     "delete a deployable that is not running"},
    {"deployable_list", {}, {}, "list deployables"},
    {"deployable_assembly_add",
     {"DEPLOYABLE", "ASSEMBLY"},
     {k::deployable, k::assembly},
     "add an assembly to a deployable"},
    {"deployable_assembly_remove",
     {"DEPLOYABLE", "ASSEMBLY"},
     {k::deployable, k::assembly},
     "remove an assembly from a deployable"},
    {"deployable_assembly_list",
     {"DEPLOYABLE"},
     {k::deployable},
     "list a deployable's assemblies"},
    {"deployable_start",
     {"NAME"},
     {k::deployable},
     "start every VM of a deployable and its resources"},
    {"deployable_stop",
     {"NAME"},
     {k::deployable},
     "stop a deployable: its VMs are shut down"},
    {"deployable_status",
     {"[NAME]"},
     {k::deployable},
     "live state of every assembly and resource, with restart counts"},
    {"events", {}, {}, "follow the event stream (Ctrl-C ends)", true},
    {"help", {"[COMMAND]"}, {k::text}, "list commands, or explain one", true},
    {"quit", {}, {}, "leave pcloudsh", true},
    {"exit", {}, {}, "leave pcloudsh", true},
  };
}

} // namespace

const std::vector<command_info>& commands() {
  static const auto table = make_commands();
  return table;
}

const command_info* find_command(const std::string& name) {
  for (auto& cmd : commands()) {
    if (name == cmd.name) {
      return &cmd;
    }
  }
  return nullptr;
}

std::string usage_of(const command_info& cmd) {
  std::string result = cmd.name;
  for (auto arg : cmd.arguments) {
    result += ' ';
    result += arg;
  }
  return result;
}

size_t required_arguments(const command_info& cmd) {
  size_t n = 0;
  for (auto arg : cmd.arguments) {
    if (arg[0] != '[') {
      ++n;
    }
  }
  return n;
}

error unknown_command(const std::string& name) {
  return {errc::invalid_argument,
          "unknown command '" + name + "' (help lists them)"};
}

shell_reply failed_reply(const error& err) {
  shell_reply r;
  r.code = err.code == errc::none ? errc::internal : err.code;
  r.message = err.message;
  return r;
}

} // namespace pcloud::msg
