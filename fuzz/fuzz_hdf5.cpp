// libFuzzer target: HDF5 bytes through kerasrt's reader, then every group, attribute and dataset.
#include <cstdint>
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
  return 0;
}
