// libFuzzer target: .npz bytes (a zip of .npy arrays) through the reader.
#include <cstdint>
#include <kerasrt/kerasrt.hpp>

#include "io/npy.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    kerasrt::io::read_npz({data, size}, "fuzz.npz");
  } catch (const kerasrt::Error&) {
  }
  return 0;
}
