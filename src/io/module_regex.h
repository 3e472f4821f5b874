// The "re:" patterns of compressed-tensors configs (targets, ignore) and of
// `--ignore`: Python `re.match` semantics (anchored at the start of the module
// name, not at its end) for the subset of Python's syntax that module patterns
// use, matched in time linear in the name.
//
// Why not std::regex: it backtracks, so a pattern from a file such as
// "re:.**l.pm" or "re:(a*)*b" takes exponential time on a 30-character name
// (the config fuzzer found it), and it accepts syntax Python rejects. Here a
// pattern compiles to a small NFA that is simulated over all states at once
// (Thompson): the cost is at most name length × program size, whatever the
// pattern.
//
// Supported: literals, `.`, classes `[a-z0-9_]` / `[^...]`, the escapes
// \d \D \w \W \s \S and escaped punctuation, `^` `$` \A \Z, groups `(...)`
// `(?:...)` `(?P<name>...)`, `|`, and the quantifiers `* + ? {m} {m,} {,n}
// {m,n}` with or without the lazy `?` (laziness does not change whether a
// match exists). Rejected with a message: back-references, lookaround, \b,
// inline flags, a quantifier on a quantifier ("multiple repeat", as Python
// says), and patterns whose counted repeats expand past a size limit.
#pragma once

#include <bitset>
#include <string>
#include <vector>

#include "w4a8/status.h"

namespace w4a8::io {

class ModuleRegex {
 public:
  static Result<ModuleRegex> compile(const std::string& pattern);
  // True when a prefix of `name` matches (Python's re.match).
  bool match_prefix(const std::string& name) const;

  struct Inst {
    enum Op { byte_set, split, jump, line_start, line_end, text_end, accept } op;
    std::bitset<256> bytes;  // byte_set: the bytes that step forward
    int x = 0, y = 0;        // split: both targets; jump: x
  };

 private:
  std::vector<Inst> program_;
};

// The first "re:" entry of `patterns` that does not compile, as "pattern 'P'
// is not a valid regular expression: why" (P made printable); ok when every
// one compiles. Plain names need no check.
Status check_module_patterns(const std::vector<std::string>& patterns);

// Whether `name` matches the "re:" pattern `pattern` (given without its
// prefix). Each thread keeps the patterns it compiled, so matching every
// module of a checkpoint against a config compiles each pattern once; a
// pattern that does not compile matches nothing (configs are checked with
// check_module_patterns when they are parsed).
bool module_regex_matches(const std::string& pattern, const std::string& name);

}  // namespace w4a8::io
