#include "format/keras/keras_version.hpp"

#include <cctype>
#include <tuple>

namespace kerasrt::format {

bool KerasVersion::before(int ma, int mi, int pa) const {
  return known() && std::tie(major, minor, patch) < std::tie(ma, mi, pa);
}

KerasVersion parse_keras_version(const std::string& text) {
  KerasVersion v;
  int parts[3] = {0, 0, 0};
  size_t i = 0;
  for (int p = 0; p < 3; ++p) {
    if (i >= text.size() || !std::isdigit(static_cast<unsigned char>(text[i]))) {
      if (p == 0) return {};
      break;
    }
    int n = 0;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])) && n < 100000) n = n * 10 + (text[i++] - '0');
    parts[p] = n;
    if (i < text.size() && text[i] == '.') ++i;
    else break;
  }
  v.major = parts[0];
  v.minor = parts[1];
  v.patch = parts[2];
  return v;
}

KerasSemantics keras_semantics(const std::string& keras_version, const std::string& backend) {
  const KerasVersion v = parse_keras_version(keras_version);
  KerasSemantics s;
  if (v.known() && v.major < 3) {
    s.hard_sigmoid_slope = 0.2f;
    s.recurrent_activation_default = "hard_sigmoid";
  }
  const bool keras3_before_316 = v.major == 3 && v.before(3, 16);
  s.sparsemax_summed_threshold = keras3_before_316;
  s.training_from_outer_call = keras3_before_316;
  // A .keras archive does not record the backend; the replicated edges were torch's alone.
  s.avg_pool_same_replicates_edges = keras3_before_316 && (backend.empty() || backend == "torch");
  return s;
}

}  // namespace kerasrt::format
