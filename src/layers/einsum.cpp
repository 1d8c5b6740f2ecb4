#include "layers/einsum.hpp"

#include <algorithm>

namespace kerasrt::layers {
namespace {

// One term ("ij", "...ij"); false on a malformed one.
bool parse_term(const std::string& t, std::vector<int>& out) {
  for (size_t i = 0; i < t.size(); ++i) {
    if (t[i] == '.') {
      if (t.compare(i, 3, "...") != 0 || std::count(out.begin(), out.end(), kEinsumEllipsis)) return false;
      out.push_back(kEinsumEllipsis);
      i += 2;
      continue;
    }
    int l = einsum_label(t[i]);
    if (l < 0) return false;
    out.push_back(l);
  }
  return true;
}

}  // namespace

int einsum_label(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return 26 + (c - 'a');
  return -2;
}

std::optional<EinsumSubscripts> parse_einsum(const std::string& s) {
  EinsumSubscripts out;
  size_t arrow = s.find("->");
  std::string lhs = s.substr(0, arrow);
  if (arrow != std::string::npos) {
    out.output.emplace();
    if (!parse_term(s.substr(arrow + 2), *out.output)) return std::nullopt;
  }
  size_t start = 0;
  while (true) {
    size_t comma = lhs.find(',', start);
    out.inputs.emplace_back();
    if (!parse_term(lhs.substr(start, comma == std::string::npos ? std::string::npos : comma - start),
                    out.inputs.back()))
      return std::nullopt;
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

Shape Einsum::output_shape(std::span<const Shape> operands) const {
  Plan p = plan(operands);
  Shape out;
  for (int l : p.out_labels) out.push_back(p.sizes[l]);
  return out;
}

void Einsum::run(std::span<const ConstView> in, const MutView& out) const {
  std::vector<Shape> shapes;
  for (const ConstView& v : in) shapes.emplace_back(v.shape.begin(), v.shape.end());
  Plan p = plan(shapes);
  // Every label, output ones first, then the summed ones as they first appear; per operand, the
  // offset step each label's index moves it by.
  std::vector<int> labels = p.out_labels;
  for (const std::vector<int>& dims : p.dims)
    for (int l : dims)
      if (std::find(labels.begin(), labels.end(), l) == labels.end()) labels.push_back(l);
  Shape out_sizes, sum_sizes;
  for (size_t i = 0; i < labels.size(); ++i)
    (i < p.out_labels.size() ? out_sizes : sum_sizes).push_back(p.sizes[labels[i]]);
  size_t k = in.size();
  std::vector<std::vector<int64_t>> step(k, std::vector<int64_t>(labels.size(), 0));
  for (size_t o = 0; o < k; ++o) {
    std::span<const int64_t> s = in[o].shape;
    std::vector<int64_t> strides = row_major_strides(s);
    for (size_t d = 0; d < s.size(); ++d) {
      if (s[d] == 1 && p.sizes[p.dims[o][d]] != 1) continue;  // broadcast along this axis
      size_t pos = std::find(labels.begin(), labels.end(), p.dims[o][d]) - labels.begin();
      step[o][pos] += strides[d];
    }
  }
  int64_t n_out = element_count(out_sizes), n_sum = element_count(sum_sizes);
  std::vector<int64_t> out_idx(out_sizes.size(), 0);
  for (int64_t e = 0; e < n_out; ++e) {
    std::vector<int64_t> base(k, 0);
    for (size_t o = 0; o < k; ++o)
      for (size_t i = 0; i < out_idx.size(); ++i) base[o] += out_idx[i] * step[o][i];
    std::vector<int64_t> sum_idx(sum_sizes.size(), 0);
    double acc = 0;
    for (int64_t t = 0; t < n_sum; ++t) {
      double prod = 1;
      for (size_t o = 0; o < k; ++o) {
        int64_t off = base[o];
        for (size_t i = 0; i < sum_idx.size(); ++i) off += sum_idx[i] * step[o][out_idx.size() + i];
        prod *= in[o].data[off];
      }
      acc += prod;
      next_index(sum_idx, sum_sizes);
    }
    out.data[e] = static_cast<float>(acc);
    next_index(out_idx, out_sizes);
  }
}

Einsum::Plan Einsum::plan(std::span<const Shape> in) const {
  Plan p;
  size_t ell = 0;
  std::vector<size_t> own_ell(s_.inputs.size(), 0);
  for (size_t o = 0; o < s_.inputs.size(); ++o) {
    const Shape& s = in[o];
    bool has_ell = std::count(s_.inputs[o].begin(), s_.inputs[o].end(), kEinsumEllipsis) > 0;
    size_t letters = s_.inputs[o].size() - (has_ell ? 1 : 0);
    if (s.size() < letters || (!has_ell && s.size() != letters))
      throw Error("einsum operand " + std::to_string(o) + " of shape " + shape_to_string(s) +
                  " does not match its subscripts");
    own_ell[o] = s.size() - letters;
    ell = std::max(ell, own_ell[o]);
  }
  p.sizes.assign(kEinsumLetters + ell, 1);
  std::vector<bool> sized(p.sizes.size(), false);
  p.used.assign(p.sizes.size(), false);
  std::vector<int> counts(p.sizes.size(), 0);
  for (size_t o = 0; o < s_.inputs.size(); ++o) {
    const Shape& s = in[o];
    std::vector<int> dims;
    for (int l : s_.inputs[o]) {
      if (l != kEinsumEllipsis) {
        dims.push_back(l);
        continue;
      }
      for (size_t j = 0; j < own_ell[o]; ++j) dims.push_back(static_cast<int>(kEinsumLetters + ell - own_ell[o] + j));
    }
    for (size_t d = 0; d < dims.size(); ++d) {
      int l = dims[d];
      int64_t sz = s[d];
      p.used[l] = true;
      ++counts[l];
      if (!sized[l] || p.sizes[l] == 1) {
        if (!sized[l] || sz != 1) p.sizes[l] = sz;
        sized[l] = true;
      } else if (sz != 1 && sz >= 0 && p.sizes[l] >= 0 && sz != p.sizes[l]) {
        throw Error("einsum sizes " + std::to_string(sz) + " and " + std::to_string(p.sizes[l]) +
                    " of one subscript do not match");
      } else if (p.sizes[l] < 0 && sz > 1) {
        p.sizes[l] = sz;
      }
    }
    p.dims.push_back(std::move(dims));
  }
  if (s_.output) {
    for (int l : *s_.output) {
      if (l == kEinsumEllipsis) {
        for (size_t j = 0; j < ell; ++j) p.out_labels.push_back(static_cast<int>(kEinsumLetters + j));
        continue;
      }
      if (!p.used[l]) throw Error("einsum output subscript does not appear in the inputs");
      if (std::find(p.out_labels.begin(), p.out_labels.end(), l) != p.out_labels.end())
        throw Error("einsum output repeats a subscript");
      p.out_labels.push_back(l);
    }
    if (ell > 0 && std::count(s_.output->begin(), s_.output->end(), kEinsumEllipsis) == 0)
      throw Error("einsum output must keep '...' when the inputs have it");
  } else {  // implicit: broadcast axes, then labels seen once, in alphabetical order
    for (size_t j = 0; j < ell; ++j) p.out_labels.push_back(static_cast<int>(kEinsumLetters + j));
    for (int l = 0; l < kEinsumLetters; ++l)
      if (counts[l] == 1) p.out_labels.push_back(l);
  }
  return p;
}

}  // namespace kerasrt::layers
