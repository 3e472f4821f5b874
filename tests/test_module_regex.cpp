// The "re:" module patterns (src/io/module_regex.h): the table of cases whose
// answers tests/module_regex_vs_python.py checks against Python's re.match,
// and the limits that keep hostile patterns cheap.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "io/module_regex.h"

namespace {
using w4a8::io::ModuleRegex;

// Runs every line "pattern<TAB>name<TAB>answer" of a table; W4A8_REGEX_CASES
// names another table (the random cases the Python script writes).
TEST(ModuleRegex, CasesFromFile) {
  const char* env = std::getenv("W4A8_REGEX_CASES");
  const std::string path = env ? env : W4A8_TEST_DATA_DIR "/module_regex_cases.tsv";
  std::ifstream in(path);
  ASSERT_TRUE(in) << path;
  std::string line;
  int cases = 0;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    const size_t a = line.find('\t'), b = line.find('\t', a + 1);
    ASSERT_NE(b, std::string::npos) << line;
    const std::string pattern = line.substr(0, a), name = line.substr(a + 1, b - a - 1), want = line.substr(b + 1);
    auto r = ModuleRegex::compile(pattern);
    const std::string got = !r.is_ok() ? "error" : r->match_prefix(name) ? "match" : "no";
    const std::string expected = want == "unsupported" ? "error" : want;
    EXPECT_EQ(got, expected) << "pattern '" << pattern << "' name '" << name << "'"
                             << (r.is_ok() ? "" : ": " + r.status().message());
    ++cases;
  }
  EXPECT_GT(cases, 50) << path;
}

TEST(ModuleRegex, ErrorsSayWhatAndWhere) {
  auto r = ModuleRegex::compile(".**l.pm");
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().message(), "multiple repeat at position 2") << r.status().message();
  r = ModuleRegex::compile("(?=a)");
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("lookaround"), std::string::npos) << r.status().message();
}

// Nested and stacked stars on long names: a backtracking matcher takes
// exponential (or high polynomial) time here; this one is linear.
TEST(ModuleRegex, HostilePatternsOnLongNamesAnswer) {
  const std::string as(5000, 'a');
  struct Case {
    const char* pattern;
    std::string matching, failing;
  };
  for (const Case& c : {Case{"(a*)*b", as + "b", as + "c"}, Case{"(a|a)*b", as + "b", as + "c"},
                        Case{"(a|aa)+$", as, as + "c"}, Case{"(.*)*x", as + "x", as + "c"},
                        Case{".*.*.*.*.*.*.*.*.*.*.*.*.*.*.*.*x", as + "x", as + "c"}}) {
    auto r = ModuleRegex::compile(c.pattern);
    ASSERT_TRUE(r.is_ok()) << c.pattern;
    EXPECT_TRUE(r->match_prefix(c.matching)) << c.pattern;
    EXPECT_FALSE(r->match_prefix(c.failing)) << c.pattern;
  }
}

TEST(ModuleRegex, RefusesPatternsThatExpandPastTheLimit) {
  auto r = ModuleRegex::compile("((a{1000}){1000}){1000}");
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("too large"), std::string::npos) << r.status().message();
  EXPECT_TRUE(ModuleRegex::compile("a{500}").is_ok());
}

TEST(ModuleRegex, RefusesDeepNestingWithoutExhaustingTheStack) {
  auto r = ModuleRegex::compile(std::string(100000, '(') + "a" + std::string(100000, ')'));
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("nested"), std::string::npos) << r.status().message();
  EXPECT_TRUE(ModuleRegex::compile(std::string(100, '(') + "a" + std::string(100, ')')).is_ok());
}
}  // namespace
