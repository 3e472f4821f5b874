// Corruption test, built with AddressSanitizer and UBSan: thousands of mutated
// safetensors files and checkpoints (truncations, bit flips in the header,
// offsets out of range, huge shapes, overlapping ranges, bad length fields).
// Every one must be rejected with a clear invalid_argument, or - when the
// mutation happens to leave a valid file - read completely without a single
// out-of-bounds access. Exit code 0 only when all hold.
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "io_test_util.h"
#include "w4a8/io.h"

namespace {

using namespace w4a8;
using w4a8::test::TempDir;

std::vector<uint8_t> valid_checkpoint_bytes() {
  std::mt19937 rng(1);
  std::vector<int32_t> packed(16 * 32);
  for (auto& v : packed) v = static_cast<int32_t>(rng());
  std::vector<uint16_t> scale(16 * 2, 0x2c00);  // fp16 0.0625
  const std::vector<int64_t> shape = {16, 256};
  std::vector<uint16_t> bias(16, 0x3c00);
  const std::string path = std::filesystem::temp_directory_path() / "w4a8-fuzz-seed.safetensors";
  const std::string p = "layers.0.proj.";
  Status s = io::write_safetensors(
      path,
      {{{p + "weight_packed", io::StDType::I32, {16, 32}}, packed.data(), packed.size() * 4},
       {{p + "weight_shape", io::StDType::I64, {2}}, shape.data(), 16},
       {{p + "weight_scale", io::StDType::F16, {16, 2}}, scale.data(), scale.size() * 2},
       {{p + "bias", io::StDType::F16, {16}}, bias.data(), bias.size() * 2}},
      {{"format", "pt"}});
  if (!s.is_ok()) {
    std::fprintf(stderr, "cannot write the seed file: %s\n", s.to_string().c_str());
    std::exit(2);
  }
  auto bytes = w4a8::test::read_bytes(path);
  std::filesystem::remove(path);
  return bytes;
}

uint64_t header_len(const std::vector<uint8_t>& b) {
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | b[static_cast<size_t>(i)];
  return n;
}

// One random mutation of a valid file.
std::vector<uint8_t> mutate(std::vector<uint8_t> b, std::mt19937_64& rng) {
  if (b.size() < 10) {  // already truncated to (almost) nothing: grow it by a byte
    b.push_back(static_cast<uint8_t>(rng()));
    return b;
  }
  const size_t hl = static_cast<size_t>(std::min<uint64_t>(header_len(b), b.size() - 8));
  auto pick = [&](size_t lo, size_t hi) { return hi <= lo ? lo : lo + static_cast<size_t>(rng() % (hi - lo)); };
  static const char* kNumbers[] = {"0", "1", "7", "4294967296", "9223372036854775807", "18446744073709551615",
                                   "-1", "1e3", "99999999999999999999999", "2.5"};
  switch (rng() % 8) {
    case 0: b.resize(pick(0, b.size())); break;                                    // truncation
    case 1: b[pick(8, 8 + hl)] ^= static_cast<uint8_t>(1u << (rng() % 8)); break;  // header bit flip
    case 2: {                                                                      // header byte -> JSON punctuation
      static const char kChars[] = "{}[]\",:0123456789-e. \\\xff";
      b[pick(8, 8 + hl)] = static_cast<uint8_t>(kChars[rng() % (sizeof kChars - 1)]);
      break;
    }
    case 3: {  // length field
      uint64_t n = rng() % 3 == 0 ? rng() : header_len(b) + (rng() % 17) - 8;
      for (int i = 0; i < 8; ++i) b[static_cast<size_t>(i)] = static_cast<uint8_t>(n >> (8 * i));
      break;
    }
    case 4: {  // a number in the header (shape or offset) -> an extreme one
      std::string h(b.begin() + 8, b.begin() + 8 + static_cast<long>(hl));
      std::vector<size_t> starts;
      for (size_t i = 0; i < h.size(); ++i)
        if (std::isdigit(static_cast<unsigned char>(h[i])) && (i == 0 || !std::isdigit(static_cast<unsigned char>(h[i - 1]))))
          starts.push_back(i);
      if (starts.empty()) break;
      const size_t at = starts[rng() % starts.size()];
      size_t end = at;
      while (end < h.size() && std::isdigit(static_cast<unsigned char>(h[end]))) ++end;
      h.replace(at, end - at, kNumbers[rng() % (sizeof kNumbers / sizeof *kNumbers)]);
      std::vector<uint8_t> data(b.begin() + 8 + static_cast<long>(hl), b.end());
      b = w4a8::test::safetensors_bytes(h, data);
      break;
    }
    case 5: b.resize(b.size() + 1 + rng() % 64, static_cast<uint8_t>(rng())); break;  // trailing bytes
    case 6: {  // duplicate a slice of the header (repeated keys, overlapping entries)
      std::string h(b.begin() + 8, b.begin() + 8 + static_cast<long>(hl));
      if (h.size() < 2) break;
      const size_t a = pick(1, h.size() - 1), len = 1 + rng() % 60;
      h.insert(a, h.substr(a, std::min(len, h.size() - a)));
      std::vector<uint8_t> data(b.begin() + 8 + static_cast<long>(hl), b.end());
      b = w4a8::test::safetensors_bytes(h, data);
      break;
    }
    default:  // a data byte: the file stays valid
      if (b.size() > 8 + hl) b[pick(8 + hl, b.size())] ^= static_cast<uint8_t>(rng());
      break;
  }
  return b;
}

// Touches every byte a valid file claims, so ASan sees any bad range.
uint64_t read_everything(const io::SafetensorsFile& f) {
  uint64_t sum = 0;
  for (const io::TensorInfo& t : f.tensors()) {
    const std::byte* p = f.bytes(t);
    for (uint64_t i = 0; i < t.nbytes(); ++i) sum += static_cast<uint8_t>(p[i]);
    auto copy = f.read(t.name);
    if (copy.is_ok() && copy->nbytes() != t.nbytes()) return ~0ull;
  }
  return sum;
}

}  // namespace

int main() {
  const std::vector<uint8_t> seed = valid_checkpoint_bytes();
  if (!io::SafetensorsFile::from_bytes(seed.data(), seed.size(), "seed").is_ok()) {
    std::fprintf(stderr, "the seed file is not valid\n");
    return 1;
  }
  std::mt19937_64 rng(20261124);
  int rejected = 0, accepted = 0, failures = 0;
  const int kFileCases = 6000;
  for (int i = 0; i < kFileCases; ++i) {
    std::vector<uint8_t> b = mutate(seed, rng);
    if (rng() % 4 == 0) b = mutate(b, rng);  // sometimes two mutations
    auto f = io::SafetensorsFile::from_bytes(b.data(), b.size(), "fuzz.safetensors");
    if (f.is_ok()) {
      ++accepted;
      if (read_everything(*f) == ~0ull) {
        std::fprintf(stderr, "case %d: read() size disagrees with the header\n", i);
        ++failures;
      }
    } else {
      ++rejected;
      const Status s = f.status();
      if (s.code() != StatusCode::invalid_argument || s.message().find("fuzz.safetensors") == std::string::npos) {
        std::fprintf(stderr, "case %d: unclear rejection: %s\n", i, s.to_string().c_str());
        ++failures;
      }
    }
  }
  // The same through the checkpoint loader, from files on disk.
  TempDir dir;
  w4a8::test::write_text(dir.file("config.json"),
                         R"({"quantization_config":{"quant_method":"compressed-tensors","format":"pack-quantized",)"
                         R"("config_groups":{"g":{"targets":["Linear"],"weights":{"num_bits":4,"type":"int","symmetric":true,)"
                         R"("strategy":"group","group_size":128},"input_activations":{"num_bits":8,"type":"int",)"
                         R"("symmetric":true,"strategy":"token","dynamic":true}}}}})");
  int loaded = 0;
  const int kCheckpointCases = 1500;
  for (int i = 0; i < kCheckpointCases; ++i) {
    w4a8::test::write_bytes(dir.file("model.safetensors"), mutate(seed, rng));
    auto ck = io::Checkpoint::open(dir.path());
    if (!ck.is_ok()) continue;
    for (const io::LayerInfo& l : ck->layers()) {
      auto layer = ck->load_layer(l.name);
      if (layer.is_ok()) {
        ++loaded;
        if (layer->values.numel() != l.out_features * l.in_features) {
          std::fprintf(stderr, "checkpoint case %d: loaded %lld values for %lldx%lld\n", i,
                       static_cast<long long>(layer->values.numel()), static_cast<long long>(l.out_features),
                       static_cast<long long>(l.in_features));
          ++failures;
        }
      }
    }
  }
  std::printf("%d mutated files: %d rejected cleanly, %d still valid and read in full; %d mutated checkpoints, "
              "%d layers loaded; %d failures\n",
              kFileCases, rejected, accepted, kCheckpointCases, loaded, failures);
  return failures == 0 && rejected > kFileCases / 2 && accepted > 0 ? 0 : 1;
}
