// libFuzzer targets: .keras archive bytes, loaded (fuzz_keras_archive) or loaded and, when the model
// is small, run once on zeros (fuzz_predict: this file built with KERASRT_FUZZ_PREDICT). A custom mutator keeps the archive a
// valid zip: it mutates the bytes of one entry (config.json, metadata.json or model.weights.h5) and
// writes the archive again, so the mutations reach the parsers behind the container.
#include <zip.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <kerasrt/kerasrt.hpp>
#include <string>
#include <vector>

extern "C" size_t LLVMFuzzerMutate(uint8_t* data, size_t size, size_t max_size);

namespace {

using Entries = std::vector<std::pair<std::string, std::vector<uint8_t>>>;

bool unzip(const uint8_t* data, size_t size, Entries& out) {
  zip_error_t err;
  zip_error_init(&err);
  zip_source_t* src = zip_source_buffer_create(data, size, 0, &err);
  if (!src) return false;
  zip_t* z = zip_open_from_source(src, ZIP_RDONLY, &err);
  if (!z) {
    zip_source_free(src);
    return false;
  }
  const zip_int64_t n = zip_get_num_entries(z, 0);
  for (zip_int64_t i = 0; i < n && i < 16; ++i) {
    zip_stat_t st;
    if (zip_stat_index(z, static_cast<zip_uint64_t>(i), 0, &st) != 0 || st.size > (1u << 24)) continue;
    zip_file_t* f = zip_fopen_index(z, static_cast<zip_uint64_t>(i), 0);
    if (!f) continue;
    std::vector<uint8_t> bytes(st.size);
    const zip_int64_t got = zip_fread(f, bytes.data(), bytes.size());
    zip_fclose(f);
    if (got != static_cast<zip_int64_t>(st.size)) continue;
    out.emplace_back(st.name, std::move(bytes));
  }
  zip_close(z);
  return !out.empty();
}

std::vector<uint8_t> rezip(const Entries& entries) {
  zip_error_t err;
  zip_error_init(&err);
  zip_source_t* out = zip_source_buffer_create(nullptr, 0, 0, &err);
  zip_source_keep(out);
  zip_t* z = zip_open_from_source(out, ZIP_TRUNCATE, &err);
  std::vector<uint8_t> result;
  if (!z) {
    zip_source_free(out);
    return result;
  }
  for (const auto& [name, bytes] : entries) {
    void* copy = std::malloc(bytes.size() + 1);
    std::memcpy(copy, bytes.data(), bytes.size());
    zip_source_t* s = zip_source_buffer(z, copy, bytes.size(), 1);
    const zip_int64_t idx = zip_file_add(z, name.c_str(), s, ZIP_FL_OVERWRITE);
    if (idx >= 0) zip_set_file_compression(z, static_cast<zip_uint64_t>(idx), ZIP_CM_STORE, 0);
  }
  zip_close(z);
  zip_stat_t st;
  if (zip_source_stat(out, &st) == 0 && zip_source_open(out) == 0) {
    result.resize(st.size);
    zip_source_read(out, result.data(), result.size());
    zip_source_close(out);
  }
  zip_source_free(out);
  return result;
}

}  // namespace

extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size, unsigned int seed) {
  Entries entries;
  if (!unzip(data, size, entries)) return LLVMFuzzerMutate(data, size, max_size);
  auto& [name, bytes] = entries[seed % entries.size()];
  const size_t room = bytes.size() * 2 + 64;
  bytes.resize(room);
  bytes.resize(LLVMFuzzerMutate(bytes.data(), room / 2 > 0 ? room / 2 : 1, room));
  std::vector<uint8_t> out = rezip(entries);
  if (out.empty() || out.size() > max_size) return LLVMFuzzerMutate(data, size, max_size);
  std::memcpy(data, out.data(), out.size());
  return out.size();
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    kerasrt::Model m = kerasrt::Model::load_keras({data, size}, "fuzz.keras");
    (void)m.summary();
#ifndef KERASRT_FUZZ_PREDICT
    return 0;
#endif
    std::vector<kerasrt::Tensor> inputs;
    for (const auto& in : m.inputs()) {
      kerasrt::Shape s = in.shape;
      int64_t n = 1;
      for (auto& d : s) {
        d = d < 0 ? 2 : d;
        n *= d;
      }
      if (n > (1 << 16)) return 0;  // only small models are run
      inputs.emplace_back(s, in.dtype);
    }
    (void)m.predict(inputs);
  } catch (const kerasrt::Error&) {
  }
  return 0;
}
