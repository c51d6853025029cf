// The store on a real directory: durable writes, bad files set aside.
#include "runtime/store.hpp"

#include <sys/stat.h>

#include <filesystem>

#include <gtest/gtest.h>

#include "tests/support/live.hpp"

namespace pcloud::runtime {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class store_test : public ::testing::Test {
protected:
  store_test() : sys(cfg) {
    char tmpl[] = "/tmp/pcloud-store-XXXXXX";
    dir = ::mkdtemp(tmpl);
  }

  ~store_test() override {
    if (store) {
      caf::anon_send_exit(store, caf::exit_reason::user_shutdown);
    }
    sys.await_all_actors_done();
    fs::remove_all(dir);
  }

  store_options options() const {
    return {dir + "/definitions", PCLOUD_CONF_DIR "/schema/definitions.rng",
            dir + "/disks"};
  }

  void open() {
    if (store) {
      caf::anon_send_exit(store, caf::exit_reason::user_shutdown);
    }
    auto s = spawn_store(sys, options());
    ASSERT_TRUE(s) << s.error();
    store = *s;
  }

  msg::definitions get() {
    msg::definitions result;
    caf::scoped_actor self{sys};
    self->request(store, 10s, caf::get_atom::value)
      .receive([&](msg::definitions& x) { result = std::move(x); },
               [&](caf::error& err) { ADD_FAILURE() << sys.render(err); });
    return result;
  }

  template <class T>
  void put(const T& x) {
    caf::scoped_actor self{sys};
    self->request(store, 10s, caf::put_atom::value, x)
      .receive([](caf::ok_atom) {},
               [&](caf::error& err) { ADD_FAILURE() << sys.render(err); });
  }

  static msg::assembly_spec assembly(const std::string& name) {
    msg::assembly_spec x;
    x.name = name;
    x.uuid = "0f0e0d0c-0b0a-4908-8706-050403020100";
    x.jeos = "tiny";
    return x;
  }

  test::live_config cfg;
  caf::actor_system sys;
  std::string dir;
  msg::store_actor store;
};

TEST_F(store_test, definitions_survive_a_restart) {
  open();
  put(assembly("assy1"));
  put(assembly("assy2"));
  msg::deployable_definition dep;
  dep.name = "dep1";
  dep.assemblies = {"assy1", "assy2"};
  dep.running = true;
  put(dep);
  open();
  auto all = get();
  ASSERT_EQ(all.assemblies.size(), 2u);
  EXPECT_EQ(all.assemblies[0], assembly("assy1"));
  ASSERT_EQ(all.deployables.size(), 1u);
  EXPECT_EQ(all.deployables[0], dep);
  EXPECT_TRUE(all.problems.empty());
}

TEST_F(store_test, delete_removes_the_file) {
  open();
  put(assembly("assy1"));
  put(assembly("assy2"));
  fs::create_directories(dir + "/disks");
  for (auto f : {"assy1.qcow2", "assy1.base", "assy2.qcow2"}) {
    std::ofstream{dir + "/disks/" + f} << "x";
  }
  {
    caf::scoped_actor self{sys};
    self->request(store, 10s, caf::delete_atom::value, assembly("assy1"))
      .receive([](caf::ok_atom) {},
               [&](caf::error& err) { ADD_FAILURE() << sys.render(err); });
  }
  EXPECT_FALSE(fs::exists(dir + "/definitions/assemblies/assy1.xml"));
  EXPECT_FALSE(fs::exists(dir + "/disks/assy1.qcow2")) << "its disk goes too";
  EXPECT_FALSE(fs::exists(dir + "/disks/assy1.base"));
  EXPECT_TRUE(fs::exists(dir + "/disks/assy2.qcow2")) << "no other disk";
  open();
  EXPECT_EQ(get().assemblies.size(), 1u);
}

TEST_F(store_test, a_malformed_file_is_set_aside_and_the_others_load) {
  open();
  put(assembly("good"));
  auto bad = dir + "/definitions/assemblies/bad.xml";
  ASSERT_TRUE(write_file_atomically(bad, "<assembly name=\"bad\"\n oops"));
  // Named for another assembly than its file: also refused.
  auto moved = dir + "/definitions/assemblies/other.xml";
  ASSERT_TRUE(write_file_atomically(
    moved, read_file(dir + "/definitions/assemblies/good.xml").value()));
  open();
  auto all = get();
  ASSERT_EQ(all.assemblies.size(), 1u);
  EXPECT_EQ(all.assemblies[0].name, "good");
  ASSERT_EQ(all.problems.size(), 2u);
  EXPECT_NE(all.problems[0].find(bad + ": line 2: "), std::string::npos)
    << all.problems[0];
  EXPECT_NE(all.problems[1].find("the file name says 'other'"),
            std::string::npos)
    << all.problems[1];
  EXPECT_FALSE(fs::exists(bad));
  size_t rejected = 0;
  for (auto& entry : fs::directory_iterator(dir + "/definitions/rejected")) {
    (void)entry;
    ++rejected;
  }
  EXPECT_EQ(rejected, 2u);
}

TEST_F(store_test, a_write_interrupted_before_rename_leaves_the_old_file) {
  open();
  put(assembly("assy1"));
  // What a crash between write and rename leaves: a temp file.
  auto tmp = dir + "/definitions/assemblies/.assy1.xml.tmp";
  {
    std::ofstream out{tmp};
    out << "<assembly name=\"assy1\" half";
  }
  open();
  auto all = get();
  ASSERT_EQ(all.assemblies.size(), 1u);
  EXPECT_EQ(all.assemblies[0], assembly("assy1"));
  EXPECT_TRUE(all.problems.empty());
  EXPECT_FALSE(fs::exists(tmp));
}

TEST_F(store_test, a_missing_schema_is_a_clear_error) {
  auto opts = options();
  opts.schema = dir + "/nope.rng";
  auto s = spawn_store(sys, opts);
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().find("nope.rng"), std::string::npos) << s.error();
}

} // namespace
} // namespace pcloud::runtime
