// pcloudsh's interactive mode under a pseudo-terminal, as a person uses it:
// Tab completion of commands and names, and events printed live while the
// shell waits for input.
#include "tests/support/terminal.hpp"

namespace {

using namespace pcloud::test;

class interactive : public daemon_fixture {
protected:
  interactive()
      : daemon_fixture("/tmp/pcloudsh-pty-XXXXXX", "test:///default") {
    // nop
  }
};

TEST_F(interactive, completes_commands_and_names_and_shows_events_live) {
  start_daemon();
  fs::create_directories(dir + "/images/tiny");
  for (auto f : {"stamp", "vmlinuz", "initrd.img"}) {
    std::ofstream{dir + "/images/tiny/" + f} << "x";
  }
  ASSERT_EQ(sh({}, "assembly_create assy1 tiny x86_64\n"
                   "deployable_create shop\n"
                   "deployable_assembly_add shop assy1\n")
              .rc,
            0);
  terminal t{dir};
  ASSERT_TRUE(t.expect("pcloudsh> ")) << t.screen();
  // A unique command prefix completes; so does a deployable's name.
  t.type("deployable_li\t\n");
  ASSERT_TRUE(t.expect("deployable_list")) << t.screen();
  ASSERT_TRUE(t.expect("shop  assy1")) << t.screen();
  ASSERT_TRUE(t.expect("pcloudsh> ")) << t.screen();
  t.type("deployable_status sh\t\n");
  ASSERT_TRUE(t.expect("deployable_status shop")) << t.screen();
  ASSERT_TRUE(t.expect("shop/assy1  STOPPED")) << t.screen();
  ASSERT_TRUE(t.expect("pcloudsh> ")) << t.screen();
  // Another shell starts the deployable; this one shows it as it happens,
  // while its own prompt waits.
  t.type("deployable_sta");
  ASSERT_EQ(sh({"deployable_start", "shop"}).rc, 0);
  ASSERT_TRUE(t.expect("shop STARTING: starting 1 assemblies")) << t.screen();
  ASSERT_TRUE(t.expect("pcloudsh> deployable_sta")) << "the line was redrawn\n"
                                                    << t.screen();
  t.type("tus shop\n");
  ASSERT_TRUE(t.expect("shop/assy1  STARTING")) << t.screen();
  t.type("bogus\n");
  ASSERT_TRUE(t.expect("unknown command 'bogus'")) << t.screen();
  t.type("quit\n");
  EXPECT_EQ(t.wait_exit(), 0);
  EXPECT_NE(slurp(dir + "/.pcloudsh_history").find("deployable_status shop"),
            std::string::npos);
}

} // namespace
