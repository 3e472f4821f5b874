// io_probe: the library's checkpoint code driven from the Python
// interoperability tests (tests/python/test_interop.py).
//   io_probe copy IN OUT                      read IN, write every tensor and the metadata to OUT
//   io_probe dump-layer CKPT LAYER OUT        the loaded layer as tensors values/scales/zero_points/g_idx/bias
//   io_probe reencode CKPT LAYER FORMAT OUT   the loaded layer written back with encode_layer
#include <cstdio>
#include <string>
#include <vector>

#include "w4a8/io.h"

using namespace w4a8;

namespace {
int fail(const Status& s) {
  std::fprintf(stderr, "io_probe: %s\n", s.to_string().c_str());
  return 1;
}
void add(std::vector<io::NamedBytes>& out, const std::string& name, const Tensor& t) {
  if (t.defined()) out.push_back({{name, io::from_dtype(t.dtype()), t.shape()}, t.data(), t.nbytes()});
}
}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> a(argv + 1, argv + argc);
  if (a.size() == 3 && a[0] == "copy") {
    auto f = io::SafetensorsFile::open(a[1]);
    if (!f) return fail(f.status());
    std::vector<io::NamedBytes> t;
    for (const io::TensorInfo& i : f->tensors()) t.push_back({{i.name, i.dtype, i.shape}, f->bytes(i), i.nbytes()});
    const Status s = io::write_safetensors(a[2], t, f->metadata());
    return s.is_ok() ? 0 : fail(s);
  }
  if ((a.size() == 4 && a[0] == "dump-layer") || (a.size() == 5 && a[0] == "reencode")) {
    auto ck = io::Checkpoint::open(a[1]);
    if (!ck) return fail(ck.status());
    auto layer = ck->load_layer(a[2]);
    if (!layer) return fail(layer.status());
    if (a[0] == "reencode") {
      auto enc = io::encode_layer(*layer, a[3]);
      if (!enc) return fail(enc.status());
      std::vector<io::NamedBytes> t;
      for (size_t i = 0; i < enc->specs.size(); ++i) t.push_back({enc->specs[i], enc->data[i].data(), enc->data[i].size()});
      const Status s = io::write_safetensors(a[4], t);
      return s.is_ok() ? 0 : fail(s);
    }
    std::vector<io::NamedBytes> t;
    add(t, "values", layer->values);
    add(t, "scales", layer->scales);
    add(t, "zero_points", layer->zero_points);
    add(t, "g_idx", layer->g_idx);
    add(t, "bias", layer->bias);
    const Status s = io::write_safetensors(a[3], t);
    return s.is_ok() ? 0 : fail(s);
  }
  std::fprintf(stderr, "usage: io_probe copy IN OUT | dump-layer CKPT LAYER OUT | reencode CKPT LAYER FORMAT OUT\n");
  return 2;
}
