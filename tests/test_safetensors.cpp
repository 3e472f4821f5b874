// safetensors: round trips, zero-copy views, atomic writes, and one hand-made
// file for each rejection SPEC.md lists.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <numeric>

#include "io/file_util.h"
#include "io_test_util.h"
#include "w4a8/io.h"

namespace w4a8::test {
namespace {

using io::NamedBytes;
using io::SafetensorsFile;
using io::SafetensorsWriter;
using io::StDType;

std::vector<uint8_t> iota_bytes(size_t n, uint8_t start = 1) {
  std::vector<uint8_t> v(n);
  std::iota(v.begin(), v.end(), start);
  return v;
}

TEST(Safetensors, RoundTripKeepsEveryByteAndTheMetadata) {
  TempDir dir;
  const auto a = iota_bytes(2 * 3 * 4);  // F32 [2, 3]
  const auto b = iota_bytes(5);          // I8 [5]
  const auto c = iota_bytes(4 * 2);      // BF16 [4]
  const auto d = iota_bytes(8);          // I64 [] (a scalar)
  const std::map<std::string, std::string> meta = {{"format", "pt"}, {"note", "ünïcode"}};
  ASSERT_TRUE(io::write_safetensors(dir.file("a.safetensors"),
                                    {{{"x.weight", StDType::F32, {2, 3}}, a.data(), a.size()},
                                     {{"x.q", StDType::I8, {5}}, b.data(), b.size()},
                                     {{"x.s", StDType::BF16, {4}}, c.data(), c.size()},
                                     {{"empty", StDType::F16, {0, 7}}, nullptr, 0},
                                     {{"scalar", StDType::I64, {}}, d.data(), d.size()}},
                                    meta)
                  .is_ok());
  auto f = SafetensorsFile::open(dir.file("a.safetensors"));
  ASSERT_TRUE(f.is_ok()) << f.status().to_string();
  EXPECT_EQ(f->metadata(), meta);
  ASSERT_EQ(f->tensors().size(), 5u);
  // Largest element first (I64, F32, BF16, F16, I8), so every tensor is aligned.
  EXPECT_EQ(f->find("scalar")->begin, 0u);
  EXPECT_EQ(f->find("x.weight")->begin, 8u);
  EXPECT_EQ(f->find("x.s")->begin, 32u);
  EXPECT_EQ(f->find("x.q")->begin, 40u);
  const io::TensorInfo* w = f->find("x.weight");
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(w->shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(std::memcmp(f->bytes(*w), a.data(), a.size()), 0);
  EXPECT_EQ(std::memcmp(f->bytes(*f->find("x.q")), b.data(), b.size()), 0);
  EXPECT_EQ(f->find("empty")->numel(), 0);
  EXPECT_EQ(f->find("scalar")->numel(), 1);
  EXPECT_EQ(f->find("nope"), nullptr);

  // Zero-copy views point into the mapping.
  auto v = f->view("x.weight");
  ASSERT_TRUE(v.is_ok()) << v.status().to_string();
  EXPECT_EQ(v->data(), static_cast<const void*>(f->bytes(*w)));
  EXPECT_EQ(v->dtype(), DType::f32);
  auto copy = f->read("x.s");
  ASSERT_TRUE(copy.is_ok());
  EXPECT_EQ(std::memcmp(copy->data(), c.data(), c.size()), 0);

  // Writing what was read gives the same file, byte for byte.
  std::vector<NamedBytes> again;
  for (const io::TensorInfo& t : f->tensors()) again.push_back({{t.name, t.dtype, t.shape}, f->bytes(t), t.nbytes()});
  ASSERT_TRUE(io::write_safetensors(dir.file("b.safetensors"), again, f->metadata()).is_ok());
  EXPECT_EQ(read_bytes(dir.file("a.safetensors")), read_bytes(dir.file("b.safetensors")));
  // The header is padded with spaces so the data starts 8-byte aligned.
  const auto bytes = read_bytes(dir.file("a.safetensors"));
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  EXPECT_EQ(n % 8, 0u);
}

TEST(Safetensors, ViewRefusesDtypesW4a8DoesNotComputeWith) {
  TempDir dir;
  const auto a = iota_bytes(4);
  ASSERT_TRUE(io::write_safetensors(dir.file("f8.safetensors"), {{{"t", StDType::F8_E4M3, {4}}, a.data(), 4}}).is_ok());
  auto f = SafetensorsFile::open(dir.file("f8.safetensors"));
  ASSERT_TRUE(f.is_ok());
  auto v = f->view("t");
  ASSERT_FALSE(v.is_ok());
  EXPECT_NE(v.status().message().find("F8_E4M3"), std::string::npos);
}

TEST(Safetensors, WriterLeavesNothingUnderTheFinalNameUntilCommit) {
  TempDir dir;
  const std::string path = dir.file("m.safetensors");
  write_text(path, "old contents");
  const auto a = iota_bytes(16);
  {
    auto w = SafetensorsWriter::create(path, {{"a", StDType::F32, {4}}, {"b", StDType::F32, {4}}});
    ASSERT_TRUE(w.is_ok()) << w.status().to_string();
    ASSERT_TRUE(w->write("a", a.data(), a.size()).is_ok());
    EXPECT_FALSE(w->write("a", a.data(), a.size()).is_ok());     // twice
    EXPECT_FALSE(w->write("b", a.data(), a.size() - 1).is_ok()); // wrong size
    EXPECT_FALSE(w->write("c", a.data(), a.size()).is_ok());     // undeclared
    const Status s = w->commit();                                // "b" missing
    ASSERT_FALSE(s.is_ok());
    EXPECT_NE(s.message().find("'b' was never written"), std::string::npos) << s.message();
    EXPECT_TRUE(std::filesystem::exists(path + ".partial"));
  }
  // Abandoned: the partial file is gone and the old file is untouched.
  EXPECT_FALSE(std::filesystem::exists(path + ".partial"));
  const auto old = read_bytes(path);
  EXPECT_EQ(std::string(old.begin(), old.end()), "old contents");

  auto w = SafetensorsWriter::create(path, {{"b", StDType::F32, {4}}, {"a", StDType::F32, {4}}});
  ASSERT_TRUE(w.is_ok());
  ASSERT_TRUE(w->write("b", a.data(), a.size()).is_ok());  // any order
  ASSERT_TRUE(w->write("a", a.data(), a.size()).is_ok());
  ASSERT_TRUE(w->commit().is_ok());
  EXPECT_FALSE(std::filesystem::exists(path + ".partial"));
  EXPECT_TRUE(SafetensorsFile::open(path).is_ok());
}

TEST(Safetensors, WriterRejectsBadSpecs) {
  TempDir dir;
  EXPECT_FALSE(SafetensorsWriter::create(dir.file("x"), {{"a", StDType::F32, {1}}, {"a", StDType::F32, {1}}}).is_ok());
  EXPECT_FALSE(SafetensorsWriter::create(dir.file("x"), {{"__metadata__", StDType::F32, {1}}}).is_ok());
  EXPECT_FALSE(SafetensorsWriter::create(dir.file("x"), {{"a", StDType::F32, {-1}}}).is_ok());
  EXPECT_FALSE(SafetensorsWriter::create(dir.file("no/such/dir/x"), {{"a", StDType::F32, {1}}}).is_ok());
}

// One hand-made file per rule; each must be refused with a message that names
// the problem (and the tensor, where there is one).
struct BadFile {
  const char* what;
  std::vector<uint8_t> bytes;
  const char* message_part;
};

std::vector<BadFile> bad_files() {
  const std::string ok_entry = R"("a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})";
  auto file = [](const std::string& header, size_t data) { return safetensors_bytes(header, std::vector<uint8_t>(data, 0)); };
  std::vector<BadFile> v;
  v.push_back({"shorter than the length field", {1, 2, 3}, "shorter than its 8-byte header length"});
  {
    auto b = file("{" + ok_entry + "}", 8);
    b[0] = 0xFF;  // header length far beyond the file
    v.push_back({"header longer than the file", b, "runs past the end of the file"});
  }
  v.push_back({"not JSON", file("{not json}", 0), "not valid UTF-8 JSON"});
  v.push_back({"not UTF-8", file("{\"\xff\xfe\":{}}", 0), "not valid UTF-8 JSON"});
  v.push_back({"JSON array", file("[1,2]", 0), "does not start with '{'"});
  v.push_back({"duplicate name", file("{" + ok_entry + "," + ok_entry + "}", 8), "duplicate key 'a'"});
  v.push_back({"duplicate field",
               file(R"({"a":{"dtype":"F32","dtype":"F16","shape":[2],"data_offsets":[0,8]}})", 8), "duplicate key 'dtype'"});
  v.push_back({"unknown dtype", file(R"({"a":{"dtype":"F128","shape":[2],"data_offsets":[0,8]}})", 8), "unknown dtype"});
  v.push_back({"missing field", file(R"({"a":{"dtype":"F32","shape":[2]}})", 8), "needs dtype, shape and data_offsets"});
  v.push_back({"negative dimension", file(R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", 8),
               "non-negative integers"});
  v.push_back({"size disagrees with shape", file(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8),
               "needs 3 x 4 bytes"});
  v.push_back({"offsets past the buffer", file(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", 8),
               "run past the data buffer"});
  v.push_back({"offsets reversed", file(R"({"a":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}})", 8),
               "end before they begin"});
  v.push_back({"overlap",
               file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", 12),
               "overlaps tensor 'a'"});
  v.push_back({"hole",
               file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})", 12),
               "a hole of 4 bytes"});
  v.push_back({"trailing bytes", file("{" + ok_entry + "}", 12), "4 bytes after the last tensor"});
  v.push_back({"huge shape", file(R"({"a":{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,8]}})", 8),
               "more elements than a file can hold"});
  v.push_back({"metadata not strings", file(R"({"__metadata__":{"k":1}})", 0), "is not a string"});
  v.push_back({"entry not an object", file(R"({"a":[1]})", 0), "entry is not an object"});
  v.push_back({"unknown field", file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"x":1}})", 8),
               "unknown field 'x'"});
  return v;
}

TEST(Safetensors, RejectsEveryBrokenRuleWithAClearMessage) {
  for (const BadFile& b : bad_files()) {
    auto f = SafetensorsFile::from_bytes(b.bytes.data(), b.bytes.size(), "bad.safetensors");
    ASSERT_FALSE(f.is_ok()) << b.what;
    EXPECT_EQ(f.status().code(), StatusCode::invalid_argument) << b.what;
    EXPECT_NE(f.status().message().find("bad.safetensors"), std::string::npos) << b.what;
    EXPECT_NE(f.status().message().find(b.message_part), std::string::npos)
        << b.what << ": " << f.status().message();
  }
}

// What a corrupted or hostile header contributes to a message is escaped: no
// control characters (terminal escape sequences) and no ill-formed UTF-8
// reach the user's screen; well-formed UTF-8 stays readable.
TEST(Safetensors, ErrorMessagesEscapeBytesFromTheFile) {
  auto printable = [](const std::string& m) {
    for (size_t i = 0; i < m.size(); ++i) {
      const auto c = static_cast<unsigned char>(m[i]);
      if (c < 0x20 || c == 0x7f) return false;
    }
    return true;
  };
  // A tensor name with an ESC sequence (legal JSON) and a bad dtype.
  const auto esc = safetensors_bytes("{\"\\u001b[31mred\":{\"dtype\":\"Q9\",\"shape\":[1],\"data_offsets\":[0,1]}}", {1});
  auto f = SafetensorsFile::from_bytes(esc.data(), esc.size(), "esc");
  ASSERT_FALSE(f.is_ok());
  EXPECT_TRUE(printable(f.status().message())) << f.status().message();
  EXPECT_NE(f.status().message().find("\\x1b[31mred"), std::string::npos) << f.status().message();
  // Raw bytes that are not UTF-8 inside the header: the parser's message quotes them.
  std::string raw = "{\"a\xff\x01\xc3\":{}}";
  const auto bad = safetensors_bytes(raw, {});
  f = SafetensorsFile::from_bytes(bad.data(), bad.size(), "raw");
  ASSERT_FALSE(f.is_ok());
  const std::string m = f.status().message();
  EXPECT_TRUE(printable(m)) << m;
  EXPECT_EQ(m.find('\xff'), std::string::npos) << m;
  // Well-formed UTF-8 stays as it is; lone continuation bytes and overlong forms do not.
  EXPECT_EQ(io::detail::printable("na\xc3\xafve \xe2\x82\xac"), "na\xc3\xafve \xe2\x82\xac");
  EXPECT_EQ(io::detail::printable("a\x80" "b\xc0\xaf" "c\x07"), "a\\x80b\\xc0\\xafc\\x07");
}

TEST(Safetensors, AcceptsPaddingAndEmptyFiles) {
  const std::string header = R"({"a":{"dtype":"U8","shape":[3],"data_offsets":[0,3]}})";
  const auto padded = safetensors_bytes(header + "     ", {7, 8, 9});
  auto f = SafetensorsFile::from_bytes(padded.data(), padded.size(), "padded");
  ASSERT_TRUE(f.is_ok()) << f.status().to_string();
  EXPECT_EQ(static_cast<uint8_t>(f->bytes(*f->find("a"))[2]), 9);
  const auto empty = safetensors_bytes("{}", {});
  EXPECT_TRUE(SafetensorsFile::from_bytes(empty.data(), empty.size(), "empty").is_ok());
}

// The length checks at their exact boundaries (an off-by-one there reads one
// byte past the file or accepts one byte of garbage).
std::string open_error(const std::vector<uint8_t>& bytes) {
  auto f = SafetensorsFile::from_bytes(bytes.data(), bytes.size(), "edge");
  return f.is_ok() ? "" : f.status().message();
}

TEST(Safetensors, HeaderLengthIsCheckedAtEveryValueAroundTheTruth) {
  const std::string header = R"({"a":{"dtype":"U8","shape":[3],"data_offsets":[0,3]}})";
  const auto good = safetensors_bytes(header, {7, 8, 9});
  const uint64_t size = good.size(), truth = header.size();
  ASSERT_EQ(size, 8 + truth + 3);
  auto with_length = [&](uint64_t len) {
    auto b = good;
    for (int i = 0; i < 8; ++i) b[i] = static_cast<uint8_t>(len >> (8 * i));
    return b;
  };
  EXPECT_EQ(open_error(with_length(truth)), "");
  EXPECT_NE(open_error(with_length(truth - 1)), "") << "a header cut before its closing brace";
  // Longer headers swallow data bytes: the JSON then has trailing garbage, or
  // the tensor's bytes run past the (shorter) buffer.
  for (uint64_t len = truth + 1; len <= size - 8; ++len) EXPECT_NE(open_error(with_length(len)), "") << len;
  for (uint64_t len = size - 7; len <= size + 1; ++len)
    EXPECT_NE(open_error(with_length(len)).find("runs past the end of the file"), std::string::npos)
        << len << ": " << open_error(with_length(len));
}

TEST(Safetensors, DataOffsetsOneByteShortOrLongAreRefused) {
  auto one = [](const std::string& offsets, const char* shape, size_t data) {
    std::string h = R"({"a":{"dtype":"U8","shape":)";
    h += shape;
    h += R"(,"data_offsets":)";
    h += offsets;
    h += "}}";
    return open_error(safetensors_bytes(h, std::vector<uint8_t>(data, 1)));
  };
  EXPECT_EQ(one("[0,3]", "[3]", 3), "");
  EXPECT_NE(one("[0,2]", "[3]", 3).find("needs 3 x 1 bytes"), std::string::npos) << one("[0,2]", "[3]", 3);
  EXPECT_NE(one("[0,4]", "[3]", 3).find("run past the data buffer"), std::string::npos) << one("[0,4]", "[3]", 3);
  EXPECT_NE(one("[0,3]", "[3]", 2).find("run past the data buffer"), std::string::npos) << one("[0,3]", "[3]", 2);
  EXPECT_NE(one("[1,4]", "[3]", 3).find("run past the data buffer"), std::string::npos) << one("[1,4]", "[3]", 3);
  EXPECT_NE(one("[0,3]", "[3]", 4).find("1 bytes after the last tensor"), std::string::npos) << one("[0,3]", "[3]", 4);
  // Two tensors one byte apart, and one byte overlapping.
  auto two = [](int b_begin) {
    std::string h = R"({"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"b":{"dtype":"U8","shape":[4],)"
                    R"("data_offsets":[)";
    h += std::to_string(b_begin);
    h += ",";
    h += std::to_string(b_begin + 4);
    h += "]}}";
    return open_error(safetensors_bytes(h, std::vector<uint8_t>(static_cast<size_t>(b_begin + 4), 1)));
  };
  EXPECT_EQ(two(4), "");
  EXPECT_NE(two(5).find("a hole of 1 bytes"), std::string::npos) << two(5);
  EXPECT_NE(two(3).find("overlaps tensor 'a'"), std::string::npos) << two(3);
}

TEST(Safetensors, WrittenFilesStartTheirDataEightByteAligned) {
  TempDir dir;
  // Names of every length mod 8, so the header's natural size takes every residue.
  for (int extra = 0; extra < 8; ++extra) {
    std::string name(static_cast<size_t>(extra) + 1, 'x');
    name[0] = 't';
    const auto data = iota_bytes(3);
    const std::string path = dir.file(name + ".safetensors");
    ASSERT_TRUE(io::write_safetensors(path, {{{name, StDType::U8, {3}}, data.data(), data.size()}}, {}).is_ok());
    auto f = SafetensorsFile::open(path);
    ASSERT_TRUE(f.is_ok()) << f.status().to_string();
    std::vector<uint8_t> head(8);
    FILE* fp = std::fopen(path.c_str(), "rb");
    ASSERT_NE(fp, nullptr);
    ASSERT_EQ(std::fread(head.data(), 1, 8, fp), 8u);
    std::fclose(fp);
    uint64_t len = 0;
    for (int i = 7; i >= 0; --i) len = (len << 8) | head[i];
    EXPECT_EQ((8 + len) % 8, 0u) << name;
    EXPECT_EQ(static_cast<uint8_t>(f->bytes(*f->find(name))[2]), 3) << name;
  }
}

TEST(Safetensors, OpenReportsMissingFilesAsIoErrors) {
  auto f = SafetensorsFile::open("/nonexistent/w4a8/model.safetensors");
  ASSERT_FALSE(f.is_ok());
  EXPECT_EQ(f.status().code(), StatusCode::io_error);
  EXPECT_NE(f.status().message().find("/nonexistent/w4a8/model.safetensors"), std::string::npos);
}

}  // namespace
}  // namespace w4a8::test
