// A single-node Pacemaker 2.1 cluster started by a benchmark: corosync and
// pacemakerd in the foreground as children of the benchmark (no systemd),
// with a configuration of their own, torn down by the destructor.
//
// Pacemaker keeps its CIB in /var/lib/pacemaker/cib (built in): the harness
// moves whatever is there aside and puts it back afterwards, and refuses to
// start when a corosync or pacemakerd already runs on this host.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <string>

namespace pcloud::bench {

class pacemaker_cluster {
public:
  /// Empty when corosync, pacemakerd, the CLI tools and the heartbeat OCF
  /// agents are installed; otherwise what is missing.
  static std::string missing();

  /// Starts corosync and pacemakerd and waits until this node is the DC;
  /// error() says why not.
  pacemaker_cluster();
  pacemaker_cluster(const pacemaker_cluster&) = delete;
  pacemaker_cluster& operator=(const pacemaker_cluster&) = delete;
  ~pacemaker_cluster();

  const std::string& error() const { return error_; }

  /// Adds a primitive (`primitive_xml`, id `id`) and waits until Pacemaker
  /// reports it started; false (and error()) when it does not in `timeout`.
  bool add_resource(const std::string& id, const std::string& primitive_xml,
                    std::chrono::seconds timeout);

  /// Stops and deletes resource `id`, and forgets its failures.
  void remove_resource(const std::string& id);

  /// Pacemaker's version as pacemakerd prints it.
  static std::string version();

private:
  bool wait_for_dc(std::chrono::seconds timeout);
  void stop();

  std::filesystem::path dir_;
  std::filesystem::path cib_backup_;
  std::string node_;
  pid_t corosync_ = -1;
  pid_t pacemakerd_ = -1;
  std::string error_;
};

} // namespace pcloud::bench
