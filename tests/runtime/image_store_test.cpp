// The image store on real files: a recipe's progress while it builds, one
// build per recipe at a time, and the assemblies' disk overlays.
#include "runtime/image_store.hpp"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include <caf/all.hpp>
#include <gtest/gtest.h>

namespace pcloud::runtime {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
/// Waits for a file to appear (the recipe's progress), checking every 20 ms.
bool wait_for_file(const std::string& path) {
  for (int i = 0; i < 1500 && !fs::exists(path); ++i) {
    std::this_thread::sleep_for(20ms);
  }
  return fs::exists(path);
}

class image_store_test : public ::testing::Test {
protected:
  image_store_test() : sys(cfg) {
    char tmpl[] = "/tmp/pcloud-images-XXXXXX";
    dir = ::mkdtemp(tmpl);
    opts = {dir + "/images", dir + "/recipes", "", dir + "/disks"};
    // A recipe that reports a step, then waits for the test to let it end.
    fs::create_directories(dir + "/recipes/slow");
    std::ofstream{dir + "/recipes/slow/build.sh"}
      << "echo 'slow: [0s] first step'\n"
         "for i in $(seq 300); do [ -e '"
      << dir << "/release' ] && break; sleep 0.1; done\n"
      << "mkdir -p \"$1\" && echo key > \"$1/stamp\"\n";
  }

  ~image_store_test() override {
    sys.await_all_actors_done();
    fs::remove_all(dir);
  }

  std::vector<msg::jeos_info> list(const msg::image_store_actor& store) {
    std::vector<msg::jeos_info> result;
    caf::scoped_actor self{sys};
    self->request(store, 10s, caf::get_atom::value)
      .receive([&](std::vector<msg::jeos_info>& xs) { result = std::move(xs); },
               [&](caf::error& err) { ADD_FAILURE() << sys.render(err); });
    return result;
  }

  /// A recipe's image with a disk, as debian12's build.sh leaves it.
  void fake_disk_image(const std::string& name, const std::string& key) {
    auto d = opts.directory + "/" + name;
    fs::create_directories(d);
    for (auto f : {"vmlinuz", "initrd.img"}) {
      std::ofstream{d + "/" + f} << "x";
    }
    std::ofstream{d + "/cmdline"} << "console=ttyS0 root=/dev/vda1\n";
    std::ofstream{d + "/stamp"} << key << "\n";
    auto cmd = "qemu-img create -q -f qcow2 " + d + "/disk.qcow2 16M";
    ASSERT_EQ(std::system(cmd.c_str()), 0);
  }

  caf::actor_system_config cfg;
  caf::actor_system sys;
  std::string dir;
  image_store_options opts;
};

TEST_F(image_store_test, a_build_shows_its_latest_step_and_runs_once) {
  auto store = spawn_image_store(sys, opts);
  caf::scoped_actor builder{sys};
  builder->send(store, msg::create_atom::value, std::string{"slow"},
                std::string{"x86_64"});
  ASSERT_TRUE(wait_for_file(opts.directory + "/slow.progress"));
  auto xs = list(store);
  auto slow = std::find_if(xs.begin(), xs.end(),
                           [](auto& x) { return x.name == "slow"; });
  ASSERT_NE(slow, xs.end());
  EXPECT_EQ(slow->progress, "[0s] first step");
  EXPECT_FALSE(slow->built) << "half-built is not built";

  caf::scoped_actor second{sys};
  second
    ->request(store, 10s, msg::create_atom::value, std::string{"slow"},
              std::string{"x86_64"})
    .receive([](msg::jeos_info&) { ADD_FAILURE() << "a second build ran"; },
             [&](caf::error& err) {
               EXPECT_NE(sys.render(err).find("is being built already"),
                         std::string::npos)
                 << sys.render(err);
             });

  std::ofstream{dir + "/release"} << "go";
  bool built = false;
  builder->receive([&](msg::jeos_info& x) { built = x.built; },
                   [&](caf::error& err) { ADD_FAILURE() << sys.render(err); },
                   caf::after(60s) >> [] { ADD_FAILURE() << "no reply"; });
  EXPECT_TRUE(built);
  EXPECT_FALSE(fs::exists(opts.directory + "/slow.progress"));
  for (auto& x : list(store)) {
    EXPECT_TRUE(x.progress.empty()) << x.name << ": " << x.progress;
  }
  caf::anon_send_exit(store, caf::exit_reason::user_shutdown);
}

TEST_F(image_store_test, each_assembly_gets_an_overlay_made_for_it) {
  fake_disk_image("disky", "build-1");
  auto resolve = make_image_resolver(opts);
  msg::assembly_spec a;
  a.name = "a1";
  a.uuid = "11111111-1111-4111-8111-111111111111";
  a.jeos = "disky";
  auto img = resolve(a);
  ASSERT_TRUE(img) << img.error();
  EXPECT_EQ(img->disk, dir + "/disks/a1.qcow2");
  EXPECT_EQ(fs::status(img->disk).permissions(),
            fs::perms::owner_read | fs::perms::owner_write)
    << "the guest's data is nobody else's";
  EXPECT_EQ(img->kernel, opts.directory + "/disky/vmlinuz");
  EXPECT_EQ(img->cmdline, "console=ttyS0 root=/dev/vda1");
  // The assembly's writes live in its overlay: kept across restarts.
  std::ofstream{dir + "/disks/a1.qcow2", std::ios::app} << "guest data";
  auto size = fs::file_size(dir + "/disks/a1.qcow2");
  ASSERT_TRUE(resolve(a));
  EXPECT_EQ(fs::file_size(dir + "/disks/a1.qcow2"), size) << "the same disk";

  // A new assembly under the old name does not inherit the old disk, and
  // neither does anyone once the JEOS is rebuilt under its overlays.
  a.uuid = "22222222-2222-4222-8222-222222222222";
  ASSERT_TRUE(resolve(a));
  EXPECT_NE(fs::file_size(dir + "/disks/a1.qcow2"), size) << "a fresh overlay";
  size = fs::file_size(dir + "/disks/a1.qcow2");
  std::ofstream{dir + "/disks/a1.qcow2", std::ios::app} << "guest data";
  std::ofstream{opts.directory + "/disky/stamp"} << "build-2\n";
  ASSERT_TRUE(resolve(a));
  EXPECT_EQ(fs::file_size(dir + "/disks/a1.qcow2"), size) << "a fresh overlay";
}

} // namespace
} // namespace pcloud::runtime
