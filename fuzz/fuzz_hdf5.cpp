// libFuzzer target: HDF5 bytes through kerasrt's reader, then every group, attribute and dataset,
// both with values copied into the snapshot and read in place from the image (as loads do).
#include <cstdint>
#include <memory>
#include <vector>
#include <kerasrt/kerasrt.hpp>

#include "io/hdf5.hpp"

namespace {
void walk(const kerasrt::io::H5Group& g, int depth) {
  for (const auto& a : g.attr_names()) {
    try {
      g.attr_strings(a);
    } catch (const kerasrt::Error&) {
    }
  }
  for (const auto& c : g.children()) {
    if (g.has_group(c) && depth < 64) walk(g.group(c), depth + 1);
    if (g.has_dataset(c)) {
      try {
        g.read(c);
        g.read_tensor(c);
      } catch (const kerasrt::Error&) {
      }
    }
  }
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    auto f = kerasrt::io::H5File::open_memory({data, size}, "fuzz.h5");
    walk(f.root(), 0);
  } catch (const kerasrt::Error&) {
  }
  try {
    // An owned copy of exactly the input's size: ASan sees any read past its end.
    auto image = std::make_shared<std::vector<uint8_t>>(data, data + size);
    auto f = kerasrt::io::H5File::open_shared({image, *image}, "fuzz.h5");
    walk(f.root(), 0);
  } catch (const kerasrt::Error&) {
  }
  return 0;
}
