// Experiment files: strict parsing with file:line:column, and grid expansion into stably named points.
#include "bench/experiment.h"

#include <gtest/gtest.h>

#include <fstream>

#include "../support/child_process.h"

namespace edgeserve::bench {
namespace {

core::Result<Experiment> parse(const testing::TempDir& dir, const std::string& text) {
  const auto file = dir.path() / "e.toml";
  std::ofstream(file) << text;
  return parse_experiment(file);
}

TEST(Experiment, ExpandsTheGridWithStableNames) {
  testing::TempDir dir;
  auto e = parse(dir,
                 "[experiment]\nname = \"x\"\n[run]\nrepetitions = 2\n[grid]\ntransport = [\"tcp\", \"rdma/gdr\"]\n"
                 "model = [\"tiny\"]\nclients = [1, 4]\nlanes = [\"clients\"]\nrate = [0, 50]\n");
  ASSERT_TRUE(e.ok()) << e.status().message();
  const auto points = expand_grid(*e);
  ASSERT_EQ(points.size(), 2u * 2 * 2 * 2);
  EXPECT_EQ(points[0].name, "x-tcp-tiny-raw-c1-l1-per-client-rep0");
  EXPECT_EQ(points.back().name, "x-rdma_gdr-tiny-raw-c4-l4-per-client-r50-rep1");
  EXPECT_EQ(points.back().lanes, 4) << "lanes = \"clients\": one per client";
  EXPECT_EQ(split_transport("rdma/gdr"), (std::pair<std::string, std::string>{"rdma", "gdr"}));
}

TEST(Experiment, VariantsOverrideTheProcessLayout) {
  testing::TempDir dir;
  auto e = parse(dir,
                 "[experiment]\nname = \"f17\"\n[processes]\nenv = { A = \"1\" }\n[grid]\nclients = [2, 8]\n"
                 "lanes = [1, 2]\n[[grid.variant]]\nname = \"streams\"\nservers = 1\nlanes = \"clients\"\n"
                 "[[grid.variant]]\nname = \"mps\"\nservers = \"clients\"\nlanes = 1\nmps = true\n"
                 "env = { B = \"2\" }\n");
  ASSERT_TRUE(e.ok()) << e.status().message();
  const auto points = expand_grid(*e);
  ASSERT_EQ(points.size(), 4u) << "a variant that fixes lanes makes the lanes axis moot";
  EXPECT_EQ(points[1].name, "f17-tcp-tiny-raw-c8-l8-per-client-streams");
  EXPECT_EQ(points[3].name, "f17-tcp-tiny-raw-c8-l1-per-client-s8-mps");
  EXPECT_TRUE(points[3].mps);
  EXPECT_EQ(points[3].servers, 8);
  EXPECT_EQ(points[3].env, (std::map<std::string, std::string>{{"A", "1"}, {"B", "2"}}));
}

TEST(Experiment, RefusesMistakesWithFileLineAndReason) {
  testing::TempDir dir;
  const std::string file = (dir.path() / "e.toml").string();
  const std::pair<std::string, std::string> cases[] = {
      {"[experiment]\nname = \"x\"\n[run]\nrequest = 3\n", ":4:1: unknown key 'request' in [run]"},
      {"[experiment]\nname = \"x\"\n[grid]\nclients = [0]\n", ":4:12: 'clients' must be in 1..4096, not 0"},
      {"[experiment]\nname = \"x\"\n[grid]\ntransport = [\"gdr/tcp\"]\n", ":4:14: transport 'gdr/tcp'"},
      {"[experiment]\nname = \"x\"\n[grid]\ninput = [\"png\"]\n", ":4:10: 'input' has 'png'"},
      {"[experiment]\nname = \"x\"\n[[plot]]\nfigure = \"1\"\nkind = \"pie\"\nx = \"clients\"\n",
       ":5:8: [[plot]] 'kind'"},
      {"[experiment]\nname = \"x\"\n[[plot]]\nfigure = \"1\"\nkind = \"bars\"\nx = \"colour\"\n",
       ":6:5: 'x' must be an axis"},
      {"[run]\nrequests = 1\n", ":1:1: missing [experiment]"},
      {"[experiment]\nname = \"x\"\nname = \"y\"\n", ":3:8: Error while parsing"},  // toml++: a redefined key
  };
  for (const auto& [text, expected] : cases) {
    auto e = parse(dir, text);
    ASSERT_FALSE(e.ok()) << text;
    EXPECT_NE(e.status().message().find(file + expected), std::string::npos)
        << "got: " << e.status().message() << "\nexpected: " << expected;
  }
}

}  // namespace
}  // namespace edgeserve::bench
