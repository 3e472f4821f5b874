// Parser (pattern -> tree), compiler (tree -> NFA program) and the
// all-states-at-once simulation behind ModuleRegex; see module_regex.h.
#include "io/module_regex.h"

#include <cctype>
#include <limits>
#include <memory>
#include <unordered_map>
#include <utility>

#include "io/file_util.h"

// `decl = *expr`, or return expr's error.
#define CONCAT_INNER(a, b) a##b
#define CONCAT(a, b) CONCAT_INNER(a, b)
#define ASSIGN_OR_RETURN(decl, expr)             \
  auto CONCAT(result_, __LINE__) = (expr);       \
  if (!CONCAT(result_, __LINE__)) return CONCAT(result_, __LINE__).status(); \
  decl = std::move(*CONCAT(result_, __LINE__))

namespace w4a8::io {

namespace {

constexpr int kUnbounded = -1;
// Counted repeats expand into copies; past this many instructions a pattern is
// refused instead of growing without bound ("(a{1000}){1000}").
constexpr size_t kMaxProgram = 20000;
// Each '(' is one level of the recursive parser; a limit keeps hostile
// patterns from exhausting the stack.
constexpr int kMaxNesting = 200;

struct Node {
  enum Kind { bytes, concat, alternate, repeat, line_start, line_end, text_end } kind = concat;
  std::bitset<256> set;
  std::vector<Node> kids;
  int min = 1, max = 1;
};

std::bitset<256> range_set(int lo, int hi) {
  std::bitset<256> s;
  for (int c = lo; c <= hi; ++c) s.set(static_cast<size_t>(c));
  return s;
}
std::bitset<256> digit_set() { return range_set('0', '9'); }
std::bitset<256> word_set() { return range_set('a', 'z') | range_set('A', 'Z') | digit_set() | range_set('_', '_'); }
std::bitset<256> space_set() { return range_set('\t', '\r') | range_set(' ', ' '); }

class Parser {
 public:
  explicit Parser(const std::string& p) : p_(p) {}

  Result<Node> parse() {
    ASSIGN_OR_RETURN(Node n, alternation(0));
    if (pos_ < p_.size()) return fail("unbalanced ')'");
    return n;
  }

 private:
  const std::string& p_;
  size_t pos_ = 0;

  Status fail(const std::string& why) const {
    return invalid_argument(why + " at position " + std::to_string(pos_));
  }
  bool at_end() const { return pos_ >= p_.size(); }
  char peek() const { return p_[pos_]; }

  Result<Node> alternation(int depth) {
    Node alt;
    alt.kind = Node::alternate;
    while (true) {
      ASSIGN_OR_RETURN(Node c, sequence(depth));
      alt.kids.push_back(std::move(c));
      if (at_end() || peek() != '|') break;
      ++pos_;
    }
    if (alt.kids.size() == 1) return std::move(alt.kids[0]);
    return alt;
  }

  Result<Node> sequence(int depth) {
    Node seq;
    seq.kind = Node::concat;
    while (!at_end() && peek() != '|' && peek() != ')') {
      ASSIGN_OR_RETURN(Node a, atom(depth));
      ASSIGN_OR_RETURN(Node q, quantified(std::move(a)));
      seq.kids.push_back(std::move(q));
    }
    return seq;
  }

  // Reads "{m}", "{m,}", "{,n}", "{m,n}", "{,}" (Python's forms) at pos_; a brace
  // that does not form one is a literal '{', as in Python.
  bool counted(int* lo, int* hi) {
    size_t i = pos_ + 1;
    auto number = [&](int* out) {
      const size_t start = i;
      long long v = 0;
      while (i < p_.size() && std::isdigit(static_cast<unsigned char>(p_[i]))) {
        v = std::min<long long>(v * 10 + (p_[i] - '0'), std::numeric_limits<int>::max());
        ++i;
      }
      *out = static_cast<int>(v);
      return i > start;
    };
    int a = 0, b = 0;
    const bool has_a = number(&a);
    bool has_b = false;
    bool comma = false;
    if (i < p_.size() && p_[i] == ',') {
      comma = true;
      ++i;
      has_b = number(&b);
    }
    if (i >= p_.size() || p_[i] != '}') return false;
    if (!has_a && !comma) return false;  // "{}" is literal text in Python; "{,}" is {0,}
    *lo = has_a ? a : 0;
    *hi = comma ? (has_b ? b : kUnbounded) : a;
    pos_ = i + 1;
    return true;
  }

  static bool is_quantifier_start(const std::string& p, size_t i) {
    return i < p.size() && (p[i] == '*' || p[i] == '+' || p[i] == '?' || p[i] == '{');
  }

  Result<Node> quantified(Node atom) {
    if (at_end()) return atom;
    int lo = 0, hi = 0;
    const char c = peek();
    if (c == '*') {
      lo = 0, hi = kUnbounded, ++pos_;
    } else if (c == '+') {
      lo = 1, hi = kUnbounded, ++pos_;
    } else if (c == '?') {
      lo = 0, hi = 1, ++pos_;
    } else if (c == '{') {
      if (!counted(&lo, &hi)) return atom;
      if (hi != kUnbounded && hi < lo) return fail("min repeat greater than max repeat");
    } else {
      return atom;
    }
    if (atom.kind == Node::line_start || atom.kind == Node::line_end || atom.kind == Node::text_end)
      return fail("nothing to repeat");
    if (!at_end() && peek() == '?') {
      ++pos_;  // lazy: the same set of matches, so the same answer for re.match
    } else if (!at_end() && peek() == '+') {
      return fail("possessive quantifiers are not supported");
    }
    if (is_quantifier_start(p_, pos_)) {
      int l2, h2;
      const size_t keep = pos_;
      if (peek() != '{' || counted(&l2, &h2)) {
        pos_ = keep;
        return fail("multiple repeat");
      }
    }
    Node r;
    r.kind = Node::repeat;
    r.min = lo;
    r.max = hi;
    r.kids.push_back(std::move(atom));
    return r;
  }

  Result<Node> atom(int depth) {
    const char c = p_[pos_++];
    Node n;
    n.kind = Node::bytes;
    switch (c) {
      case '(': return group(depth);
      case '[': return byte_class();
      case '.': n.set = ~range_set('\n', '\n'); return n;
      case '^': n.kind = Node::line_start; return n;
      case '$': n.kind = Node::line_end; return n;
      case '\\': return escape(/*in_class=*/false);
      case '*':
      case '+':
      case '?': --pos_; return fail("nothing to repeat");
      case '{': {
        int lo, hi;
        --pos_;
        if (counted(&lo, &hi)) {
          pos_ -= 1;
          return fail("nothing to repeat");
        }
        ++pos_;
        n.set.set(static_cast<unsigned char>(c));
        return n;
      }
      default: n.set.set(static_cast<unsigned char>(c)); return n;
    }
  }

  Result<Node> group(int depth) {
    if (depth + 1 > kMaxNesting) return fail("groups nested more than " + std::to_string(kMaxNesting) + " deep");
    if (!at_end() && peek() == '?') {
      if (p_.compare(pos_, 2, "?:") == 0) {
        pos_ += 2;
      } else if (p_.compare(pos_, 3, "?P<") == 0) {
        const size_t close = p_.find('>', pos_ + 3);
        if (close == std::string::npos || close == pos_ + 3) return fail("bad group name");
        for (size_t i = pos_ + 3; i < close; ++i)
          if (!std::isalnum(static_cast<unsigned char>(p_[i])) && p_[i] != '_') return fail("bad group name");
        pos_ = close + 1;
      } else {
        return fail("lookaround, inline flags and named references are not supported");
      }
    }
    ASSIGN_OR_RETURN(Node inner, alternation(depth + 1));
    if (at_end() || peek() != ')') return fail("missing ')'");
    ++pos_;
    return inner;
  }

  // One escape after '\' (pos_ is past the backslash). Inside a class, the
  // result must be a plain set of bytes.
  Result<Node> escape(bool in_class) {
    if (at_end()) return fail("bad escape (end of pattern)");
    const char c = p_[pos_++];
    Node n;
    n.kind = Node::bytes;
    switch (c) {
      case 'd': n.set = digit_set(); return n;
      case 'D': n.set = ~digit_set(); return n;
      case 'w': n.set = word_set(); return n;
      case 'W': n.set = ~word_set(); return n;
      case 's': n.set = space_set(); return n;
      case 'S': n.set = ~space_set(); return n;
      case 'n': n.set.set('\n'); return n;
      case 't': n.set.set('\t'); return n;
      case 'r': n.set.set('\r'); return n;
      case 'f': n.set.set('\f'); return n;
      case 'v': n.set.set('\v'); return n;
      case 'a': n.set.set('\a'); return n;
      case 'x': {
        if (pos_ + 2 > p_.size() || !std::isxdigit(static_cast<unsigned char>(p_[pos_])) ||
            !std::isxdigit(static_cast<unsigned char>(p_[pos_ + 1])))
          return fail("bad escape \\x");
        const int v = std::stoi(p_.substr(pos_, 2), nullptr, 16);
        if (v >= 0x80) return fail("\\x escapes above \\x7f are not supported (names are matched as bytes)");
        pos_ += 2;
        n.set.set(static_cast<size_t>(v));
        return n;
      }
      case 'A':
        if (in_class) break;
        n.kind = Node::line_start;
        return n;
      case 'Z':
        if (in_class) break;
        n.kind = Node::text_end;
        return n;
      default:
        if (!std::isalnum(static_cast<unsigned char>(c)) && static_cast<unsigned char>(c) < 0x80) {
          n.set.set(static_cast<unsigned char>(c));  // escaped punctuation: itself
          return n;
        }
        break;
    }
    --pos_;
    return fail(std::string("unsupported escape \\") + detail::printable(std::string(1, c)));
  }

  Result<Node> byte_class() {
    Node n;
    n.kind = Node::bytes;
    bool negate = false;
    if (!at_end() && peek() == '^') negate = true, ++pos_;
    bool first = true;
    while (true) {
      if (at_end()) return fail("unterminated character set");
      if (peek() == ']' && !first) {
        ++pos_;
        break;
      }
      first = false;
      // One item: a byte, an escape, or a range lo-hi.
      std::bitset<256> item;
      int lo = -1;
      if (peek() == '\\') {
        ++pos_;
        ASSIGN_OR_RETURN(Node e, escape(/*in_class=*/true));
        item = e.set;
        if (e.set.count() == 1)
          for (int b = 0; b < 256; ++b)
            if (e.set.test(static_cast<size_t>(b))) lo = b;
      } else {
        lo = static_cast<unsigned char>(p_[pos_++]);
        item.set(static_cast<size_t>(lo));
      }
      if (pos_ + 1 < p_.size() && peek() == '-' && p_[pos_ + 1] != ']') {
        if (lo < 0) return fail("bad character range");
        ++pos_;
        int hi;
        if (peek() == '\\') {
          ++pos_;
          ASSIGN_OR_RETURN(Node e, escape(/*in_class=*/true));
          if (e.set.count() != 1) return fail("bad character range");
          hi = -1;
          for (int b = 0; b < 256; ++b)
            if (e.set.test(static_cast<size_t>(b))) hi = b;
        } else {
          hi = static_cast<unsigned char>(p_[pos_++]);
        }
        if (hi < lo) return fail("bad character range");
        item = range_set(lo, hi);
      }
      n.set |= item;
    }
    if (negate) n.set = ~n.set;
    return n;
  }
};

class Compiler {
 public:
  explicit Compiler(std::vector<ModuleRegex::Inst>* prog) : prog_(*prog) {}

  Status emit(const Node& n) {
    if (prog_.size() > kMaxProgram)
      return invalid_argument("pattern too large once its counted repeats are expanded (over " +
                              std::to_string(kMaxProgram) + " steps)");
    switch (n.kind) {
      case Node::bytes: push(ModuleRegex::Inst::byte_set).bytes = n.set; return Status::ok();
      case Node::line_start: push(ModuleRegex::Inst::line_start); return Status::ok();
      case Node::line_end: push(ModuleRegex::Inst::line_end); return Status::ok();
      case Node::text_end: push(ModuleRegex::Inst::text_end); return Status::ok();
      case Node::concat:
        for (const Node& k : n.kids) W4A8_RETURN_IF_ERROR(emit(k));
        return Status::ok();
      case Node::alternate: return alternate(n);
      case Node::repeat: return repeat(n);
    }
    return Status::ok();
  }

 private:
  std::vector<ModuleRegex::Inst>& prog_;

  ModuleRegex::Inst& push(ModuleRegex::Inst::Op op) {
    prog_.push_back(ModuleRegex::Inst{op, {}, 0, 0});
    return prog_.back();
  }
  int here() const { return static_cast<int>(prog_.size()); }

  Status alternate(const Node& n) {
    // split a, next; a: ...; jump end; next: split b, next2; ...
    std::vector<size_t> jumps;
    for (size_t i = 0; i < n.kids.size(); ++i) {
      const bool last = i + 1 == n.kids.size();
      size_t split = 0;
      if (!last) {
        split = prog_.size();
        push(ModuleRegex::Inst::split).x = static_cast<int>(split) + 1;
      }
      W4A8_RETURN_IF_ERROR(emit(n.kids[i]));
      if (!last) {
        jumps.push_back(prog_.size());
        push(ModuleRegex::Inst::jump);
        prog_[split].y = here();
      }
    }
    for (size_t j : jumps) prog_[j].x = here();
    return Status::ok();
  }

  Status repeat(const Node& n) {
    const Node& body = n.kids[0];
    for (int i = 0; i < n.min; ++i) W4A8_RETURN_IF_ERROR(emit(body));
    if (n.max == kUnbounded) {
      const size_t loop = prog_.size();
      push(ModuleRegex::Inst::split).x = static_cast<int>(loop) + 1;
      W4A8_RETURN_IF_ERROR(emit(body));
      push(ModuleRegex::Inst::jump).x = static_cast<int>(loop);
      prog_[loop].y = here();
      return Status::ok();
    }
    // Optional copies: split body, end; body; split body, end; body; ... end:
    std::vector<size_t> splits;
    for (int i = n.min; i < n.max; ++i) {
      splits.push_back(prog_.size());
      push(ModuleRegex::Inst::split).x = static_cast<int>(splits.back()) + 1;
      W4A8_RETURN_IF_ERROR(emit(body));
    }
    for (size_t s : splits) prog_[s].y = here();
    return Status::ok();
  }
};

}  // namespace

Result<ModuleRegex> ModuleRegex::compile(const std::string& pattern) {
  Parser parser(pattern);
  auto tree = parser.parse();
  if (!tree) return tree.status();
  ModuleRegex r;
  Compiler compiler(&r.program_);
  Status s = compiler.emit(*tree);
  if (!s.is_ok()) return s;
  r.program_.push_back(Inst{Inst::accept, {}, 0, 0});
  return r;
}

bool ModuleRegex::match_prefix(const std::string& name) const {
  const size_t n = name.size();
  std::vector<int> mark(program_.size(), -1);
  std::vector<int> current, next, stack;
  bool matched = false;
  // Follows the non-consuming steps from pc at position pos and collects the
  // byte steps reached; each state is visited once per position, so empty
  // loops such as (a*)* end.
  auto add = [&](std::vector<int>& list, int pc0, size_t pos, int generation) {
    stack.assign(1, pc0);
    while (!stack.empty()) {
      const int pc = stack.back();
      stack.pop_back();
      if (mark[static_cast<size_t>(pc)] == generation) continue;
      mark[static_cast<size_t>(pc)] = generation;
      const Inst& in = program_[static_cast<size_t>(pc)];
      switch (in.op) {
        case Inst::byte_set: list.push_back(pc); break;
        case Inst::split:
          stack.push_back(in.y);  // popped after x; order does not matter for a yes/no answer
          stack.push_back(in.x);
          break;
        case Inst::jump: stack.push_back(in.x); break;
        case Inst::line_start:
          if (pos == 0) stack.push_back(pc + 1);
          break;
        case Inst::line_end:
          if (pos == n || (pos + 1 == n && name[pos] == '\n')) stack.push_back(pc + 1);
          break;
        case Inst::text_end:
          if (pos == n) stack.push_back(pc + 1);
          break;
        case Inst::accept: matched = true; break;
      }
    }
  };
  add(current, 0, 0, 0);
  for (size_t pos = 0; pos < n && !matched && !current.empty(); ++pos) {
    next.clear();
    const auto byte = static_cast<unsigned char>(name[pos]);
    const int generation = static_cast<int>(pos) + 1;
    for (int pc : current)
      if (program_[static_cast<size_t>(pc)].bytes.test(byte)) add(next, pc + 1, pos + 1, generation);
    std::swap(current, next);
  }
  return matched;
}

Status check_module_patterns(const std::vector<std::string>& patterns) {
  for (const std::string& p : patterns) {
    if (p.rfind("re:", 0) != 0) continue;
    auto r = ModuleRegex::compile(p.substr(3));
    if (!r)
      return invalid_argument("pattern '" + detail::printable(p) + "' is not a valid regular expression: " +
                              r.status().message());
  }
  return Status::ok();
}

bool module_regex_matches(const std::string& pattern, const std::string& name) {
  // Bounded: a program that matches against ever new patterns does not grow it forever.
  constexpr size_t kMaxCached = 256;
  thread_local std::unordered_map<std::string, std::unique_ptr<ModuleRegex>> cache;
  auto it = cache.find(pattern);
  if (it == cache.end()) {
    if (cache.size() >= kMaxCached) cache.clear();
    auto r = ModuleRegex::compile(pattern);
    it = cache.emplace(pattern, r ? std::make_unique<ModuleRegex>(std::move(*r)) : nullptr).first;
  }
  return it->second && it->second->match_prefix(name);
}

}  // namespace w4a8::io
