// Reduction op nodes: sum, mean, max, min, prod, var, std, any, all, logsumexp, argmax, argmin.
#include "layers/op_nodes.hpp"

#include <algorithm>
#include <cmath>

namespace kerasrt::layers {
namespace op_nodes {
namespace {

enum class Reduction { kSum, kMean, kMax, kMin, kProd, kVar, kStd, kAny, kAll, kLogSumExp, kArgMax, kArgMin };

class Reduce : public Op {
 public:
  Reduce(Reduction kind, std::optional<std::vector<int64_t>> axes, bool keepdims, std::optional<float> initial,
         size_t inputs)
      : kind_(kind), axes_(std::move(axes)), keepdims_(keepdims), initial_(initial), inputs_(inputs) {}

  std::vector<Shape> output_shapes(std::span<const Shape> in) const override {
    expect_inputs(in, inputs_);
    const Shape& s = in[0];
    std::vector<bool> reduced = reduced_axes(s.size());
    Shape out;
    int64_t count = 1;
    for (size_t a = 0; a < s.size(); ++a) {
      if (!reduced[a])
        out.push_back(s[a]);
      else if (keepdims_)
        out.push_back(1);
      if (reduced[a]) count = (count < 0 || s[a] < 0) ? -1 : count * s[a];
    }
    bool needs_values = kind_ == Reduction::kArgMax || kind_ == Reduction::kArgMin ||
                        ((kind_ == Reduction::kMax || kind_ == Reduction::kMin) && !initial_);
    if (count == 0 && needs_values && !identity()) throw Error("cannot reduce over an empty axis");
    return {out};
  }

  void run(std::span<const ConstView> in, std::span<const MutView> out) const override {
    std::span<const int64_t> s = in[0].shape;
    if (identity()) {  // an empty axis list: Keras returns the input (Var: zeros)
      for (int64_t i = 0; i < in[0].size(); ++i)
        out[0].data[i] = kind_ == Reduction::kVar                                 ? 0.f
                         : (kind_ == Reduction::kAny || kind_ == Reduction::kAll) ? truth(in[0].data[i] != 0.f)
                                                                                  : in[0].data[i];
      return;
    }
    std::vector<bool> reduced = reduced_axes(s.size());
    std::vector<int64_t> strides = row_major_strides(s);
    Shape kept_shape, red_shape;
    std::vector<int64_t> kept_strides, red_strides;
    for (size_t a = 0; a < s.size(); ++a) {
      (reduced[a] ? red_shape : kept_shape).push_back(s[a]);
      (reduced[a] ? red_strides : kept_strides).push_back(strides[a]);
    }
    int64_t outer = element_count(kept_shape), inner = element_count(red_shape);
    std::vector<int64_t> kept_idx(kept_shape.size(), 0);
    std::vector<float> vals(static_cast<size_t>(inner));
    for (int64_t o = 0; o < outer; ++o) {
      int64_t base = 0;
      for (size_t a = 0; a < kept_idx.size(); ++a) base += kept_idx[a] * kept_strides[a];
      std::vector<int64_t> red_idx(red_shape.size(), 0);
      for (int64_t r = 0; r < inner; ++r) {
        int64_t off = base;
        for (size_t a = 0; a < red_idx.size(); ++a) off += red_idx[a] * red_strides[a];
        vals[r] = in[0].data[off];
        next_index(red_idx, red_shape);
      }
      out[0].data[o] = reduce(vals);
      next_index(kept_idx, kept_shape);
    }
  }

 private:
  bool identity() const { return axes_ && axes_->empty(); }

  std::vector<bool> reduced_axes(size_t rank) const {
    std::vector<bool> reduced(rank, !axes_.has_value());
    if (axes_)
      for (int a : axes_in(*axes_, rank)) reduced[a] = true;
    return reduced;
  }

  float reduce(const std::vector<float>& v) const {
    size_t n = v.size();
    switch (kind_) {
      case Reduction::kSum: return static_cast<float>(sum(v));
      case Reduction::kMean: return n ? static_cast<float>(sum(v) / static_cast<double>(n)) : NAN;
      case Reduction::kProd: {
        double p = 1;
        for (float x : v) p *= x;
        return static_cast<float>(p);
      }
      case Reduction::kMax:
      case Reduction::kMin: {
        bool is_max = kind_ == Reduction::kMax;
        float r = n ? v[0] : *initial_;
        for (float x : v) r = is_max ? nan_max(r, x) : nan_min(r, x);
        if (initial_) r = is_max ? nan_max(r, *initial_) : nan_min(r, *initial_);
        return r;
      }
      case Reduction::kVar:
      case Reduction::kStd: {
        if (!n) return NAN;
        double mean = sum(v) / static_cast<double>(n), sq = 0;
        for (float x : v) sq += (x - mean) * (x - mean);
        double var = sq / static_cast<double>(n);  // population variance, as Keras (no Bessel correction)
        return static_cast<float>(kind_ == Reduction::kStd ? std::sqrt(var) : var);
      }
      case Reduction::kAny: return truth(std::any_of(v.begin(), v.end(), [](float x) { return x != 0.f; }));
      case Reduction::kAll: return truth(std::all_of(v.begin(), v.end(), [](float x) { return x != 0.f; }));
      case Reduction::kLogSumExp: {
        float m = -INFINITY;
        for (float x : v) m = nan_max(m, x);
        if (std::isnan(m)) return NAN;
        if (std::isinf(m)) m = 0.f;  // all -inf gives log(0) = -inf; any +inf gives +inf
        double s = 0;
        for (float x : v) s += std::exp(static_cast<double>(x) - m);
        return static_cast<float>(std::log(s) + m);
      }
      case Reduction::kArgMax:
      case Reduction::kArgMin: {
        // The first extreme value; NaN counts as the extreme, as in torch.
        size_t best = 0;
        for (size_t i = 1; i < n && !std::isnan(v[best]); ++i)
          if (std::isnan(v[i]) || (kind_ == Reduction::kArgMax ? v[i] > v[best] : v[i] < v[best])) best = i;
        return static_cast<float>(best);
      }
    }
    return 0.f;
  }

  static double sum(const std::vector<float>& v) {
    double s = 0;
    for (float x : v) s += x;
    return s;
  }

  Reduction kind_;
  std::optional<std::vector<int64_t>> axes_;  // nullopt: all axes
  bool keepdims_;
  std::optional<float> initial_;
  size_t inputs_;
};

}  // namespace
}  // namespace op_nodes

void register_op_nodes_reduce(const AddLayer& add) {
  using namespace op_nodes;
  struct Def {
    const char* cls;
    Reduction kind;
    bool initial;  // takes an `initial` value
  };
  static const Def defs[] = {
      {"Sum", Reduction::kSum, false},       {"Mean", Reduction::kMean, false},
      {"Max", Reduction::kMax, true},        {"Min", Reduction::kMin, true},
      {"Amax", Reduction::kMax, false},      {"Amin", Reduction::kMin, false},
      {"Prod", Reduction::kProd, false},     {"Var", Reduction::kVar, false},
      {"Std", Reduction::kStd, false},       {"Any", Reduction::kAny, false},
      {"All", Reduction::kAll, false},       {"Logsumexp", Reduction::kLogSumExp, false},
      {"Argmax", Reduction::kArgMax, false}, {"Argmin", Reduction::kArgMin, false},
  };
  for (const Def& d : defs) {
    add_op(add, d.cls, [d](const Config& c) -> Binder {
      std::optional<std::vector<int64_t>> axes = optional_axes(c, "axis");
      bool keepdims = c.flag("keepdims", false);
      std::optional<float> initial;
      if (d.initial && c.has("initial")) initial = static_cast<float>(c.number("initial"));
      bool single = d.kind == Reduction::kArgMax || d.kind == Reduction::kArgMin;
      if (single && axes && axes->size() != 1) c.fail("'axis' should be a single integer or None");
      bool empty_ok = d.kind != Reduction::kStd && d.kind != Reduction::kLogSumExp && !single;
      if (axes && axes->empty() && !empty_ok) c.fail("an empty 'axis' list is not supported for this op");
      if (d.kind == Reduction::kProd && c.has("dtype")) {
        std::string dtype = dtype_name(c, "dtype");
        if (dtype.rfind("float", 0) != 0) c.fail("prod with dtype '" + dtype + "' is not supported");
      }
      return [d, axes, keepdims, initial](CallArgs& a) {
        a.tensor(0, "x");
        return std::make_shared<Reduce>(d.kind, axes, keepdims, initial, a.input_count());
      };
    });
  }
}

}  // namespace kerasrt::layers
