// libFuzzer target: any bytes as a safetensors file (SafetensorsFile::from_bytes).
// Either a clear error, or a file whose every tensor lies inside the buffer
// and reads back (ASan/UBSan catch any access outside).
#include <cstdint>
#include <cstdlib>
#include <string>

#include "w4a8/io.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto f = w4a8::io::SafetensorsFile::from_bytes(data, size, "fuzz.safetensors");
  if (!f.is_ok()) {
    if (f.status().message().empty()) std::abort();  // every rejection says why
    return 0;
  }
  for (const w4a8::io::TensorInfo& t : f->tensors()) {
    if (t.end > size || f->find(t.name) != &t) std::abort();
    volatile uint8_t sum = 0;
    const std::byte* b = f->bytes(t);
    for (uint64_t i = 0; i < t.nbytes(); ++i) sum = static_cast<uint8_t>(sum + static_cast<uint8_t>(b[i]));
    (void)f->view(t.name);
    (void)f->read(t.name);  // a copy in its dtype, or an error for dtypes w4a8 does not compute with
  }
  return 0;
}
