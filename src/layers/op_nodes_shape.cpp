// Shape op nodes: reshape, expand_dims, squeeze, transpose, swapaxes, moveaxis and indexing
// (GetItem). Concatenate and Stack are typed (format/keras/concat.cpp).
#include "layers/op_nodes.hpp"

#include <algorithm>
#include <numeric>

namespace kerasrt::layers {
namespace op_nodes {
namespace {

// Ops whose output holds the input's elements in the same order (reshape, expand_dims, squeeze).
class SameOrder : public Op {
 public:
  using ShapeFn = std::function<Shape(const Shape&)>;
  SameOrder(ShapeFn fn, size_t inputs) : fn_(std::move(fn)), inputs_(inputs) {}
  std::vector<Shape> output_shapes(std::span<const Shape> in) const override {
    expect_inputs(in, inputs_);
    return {fn_(in[0])};
  }
  void run(std::span<const ConstView> in, std::span<const MutView> out) const override {
    std::copy(in[0].data, in[0].data + in[0].size(), out[0].data);
  }

 private:
  ShapeFn fn_;
  size_t inputs_;
};

Shape reshape_to(const Shape& in, const std::vector<int64_t>& target) {
  int64_t total = product_or_unknown(in), known = 1;
  int free_at = -1;
  Shape out;
  for (size_t i = 0; i < target.size(); ++i) {
    if (target[i] == -1) {
      if (free_at >= 0) throw Error("the new shape has more than one -1");
      free_at = static_cast<int>(i);
    } else if (target[i] < 0) {
      throw Error("the new shape " + shape_to_string(target) + " has a negative size");
    } else {
      known *= target[i];
    }
    out.push_back(target[i]);
  }
  std::string what = "cannot reshape " + shape_to_string(in) + " to " + shape_to_string(target);
  if (free_at >= 0) {
    if (total >= 0) {
      if (known == 0 || total % known != 0) throw Error(what);
      out[free_at] = total / known;
    }
  } else if (total >= 0 && total != known) {
    throw Error(what);
  }
  return out;
}

Shape expand_dims_shape(const Shape& in, const std::vector<int64_t>& axes) {
  size_t rank = in.size() + axes.size();
  std::vector<int> where = axes_in(axes, rank);
  Shape out;
  size_t next = 0;
  for (size_t a = 0; a < rank; ++a)
    out.push_back(std::binary_search(where.begin(), where.end(), static_cast<int>(a)) ? 1 : in[next++]);
  return out;
}

Shape squeeze_shape(const Shape& in, const std::optional<std::vector<int64_t>>& axes) {
  Shape out;
  if (!axes) {  // every axis of size 1 (unknown axes stay)
    for (int64_t d : in)
      if (d != 1) out.push_back(d);
    return out;
  }
  std::vector<int> drop = axes_in(*axes, in.size());
  for (size_t a = 0; a < in.size(); ++a) {
    bool dropped = std::binary_search(drop.begin(), drop.end(), static_cast<int>(a));
    if (dropped && in[a] != 1 && in[a] != -1)
      throw Error("cannot squeeze axis " + std::to_string(a) + " of size " + std::to_string(in[a]));
    if (!dropped) out.push_back(in[a]);
  }
  return out;
}

// Transpose, swapaxes, moveaxis: a permutation computed from the input's rank.
class Permutation : public Op {
 public:
  using PermFn = std::function<std::vector<int>(size_t rank)>;
  Permutation(PermFn fn, size_t inputs) : fn_(std::move(fn)), inputs_(inputs) {}
  std::vector<Shape> output_shapes(std::span<const Shape> in) const override {
    expect_inputs(in, inputs_);
    std::vector<int> perm = fn_(in[0].size());
    Shape out;
    for (int p : perm) out.push_back(in[0][p]);
    return {out};
  }
  void run(std::span<const ConstView> in, std::span<const MutView> out) const override {
    std::vector<int> perm = fn_(in[0].shape.size());
    permute_copy(in[0], perm, out[0]);
  }

 private:
  PermFn fn_;
  size_t inputs_;
};

std::vector<int> transpose_perm(const std::optional<std::vector<int64_t>>& axes, size_t rank) {
  std::vector<int> perm(rank);
  if (!axes) {
    for (size_t i = 0; i < rank; ++i) perm[i] = static_cast<int>(rank - 1 - i);
    return perm;
  }
  if (axes->size() != rank)
    throw Error("transpose axes " + shape_to_string(*axes) + " do not match rank " + std::to_string(rank));
  std::vector<bool> seen(rank, false);
  for (size_t i = 0; i < rank; ++i) {
    perm[i] = axis_in((*axes)[i], rank);
    if (seen[perm[i]]) throw Error("transpose axes " + shape_to_string(*axes) + " repeat an axis");
    seen[perm[i]] = true;
  }
  return perm;
}

std::vector<int> moveaxis_perm(const std::vector<int64_t>& source, const std::vector<int64_t>& destination,
                               size_t rank) {
  if (source.size() != destination.size()) throw Error("moveaxis needs as many sources as destinations");
  std::vector<int> src, dst;
  for (int64_t a : source) src.push_back(axis_in(a, rank));
  for (int64_t a : destination) dst.push_back(axis_in(a, rank));
  std::vector<int> order;
  for (int a = 0; a < static_cast<int>(rank); ++a)
    if (std::find(src.begin(), src.end(), a) == src.end()) order.push_back(a);
  std::vector<std::pair<int, int>> moves;
  for (size_t i = 0; i < src.size(); ++i) moves.emplace_back(dst[i], src[i]);
  std::sort(moves.begin(), moves.end());
  for (auto [d, s] : moves) {
    if (d > static_cast<int>(order.size())) throw Error("moveaxis destination out of range");
    order.insert(order.begin() + d, s);
  }
  std::vector<int> check = order;
  std::sort(check.begin(), check.end());
  if (std::adjacent_find(check.begin(), check.end()) != check.end()) throw Error("moveaxis repeats an axis");
  return order;
}

// ---- indexing (x[key]) ------------------------------------------------------------------------

struct KeyItem {
  enum class Kind { kIndex, kSlice, kNewAxis, kEllipsis };
  Kind kind;
  int64_t index = 0;
  std::optional<int64_t> start = std::nullopt, stop = std::nullopt, step = std::nullopt;
  explicit KeyItem(Kind k, int64_t i = 0) : kind(k), index(i) {}
};

class GetItem : public Op {
 public:
  GetItem(int x, std::vector<KeyItem> key, size_t inputs) : x_(x), key_(std::move(key)), inputs_(inputs) {}

  std::vector<Shape> output_shapes(std::span<const Shape> in) const override {
    expect_inputs(in, inputs_);
    Shape out;
    for (const Axis& a : resolve(in[x_]).axes) out.push_back(a.length);
    return {out};
  }

  void run(std::span<const ConstView> in, std::span<const MutView> out) const override {
    Shape s(in[x_].shape.begin(), in[x_].shape.end());
    Resolved r = resolve(s);
    std::vector<int64_t> in_strides = row_major_strides(s);
    int64_t base = 0;
    std::vector<int64_t> strides;
    for (const Axis& a : r.axes) {
      if (a.in_axis < 0) {
        strides.push_back(0);
        continue;
      }
      base += a.start * in_strides[a.in_axis];
      strides.push_back(a.step * in_strides[a.in_axis]);
    }
    for (auto [axis, index] : r.fixed) base += index * in_strides[axis];
    std::vector<int64_t> idx(strides.size(), 0);
    int64_t n = out[0].size();
    for (int64_t o = 0; o < n; ++o) {
      int64_t src = base;
      for (size_t k = 0; k < idx.size(); ++k) src += idx[k] * strides[k];
      out[0].data[o] = in[x_].data[src];
      next_index(idx, out[0].shape);
    }
  }

 private:
  struct Axis {
    int in_axis;  // -1 for a new axis
    int64_t start, step, length;
  };
  struct Resolved {
    std::vector<Axis> axes;
    std::vector<std::pair<int, int64_t>> fixed;  // (input axis, index) of integer keys
  };

  // Python's slice.indices() for a known length, then the number of elements taken.
  static Axis slice_axis(const KeyItem& k, int axis, int64_t len) {
    int64_t step = k.step.value_or(1);
    if (len < 0) return {axis, 0, step, -1};
    int64_t start, stop;
    if (step > 0) {
      start = k.start ? (*k.start < 0 ? std::max<int64_t>(*k.start + len, 0) : std::min(*k.start, len)) : 0;
      stop = k.stop ? (*k.stop < 0 ? std::max<int64_t>(*k.stop + len, 0) : std::min(*k.stop, len)) : len;
    } else {
      start = k.start ? (*k.start < 0 ? std::max<int64_t>(*k.start + len, -1) : std::min(*k.start, len - 1)) : len - 1;
      stop = k.stop ? (*k.stop < 0 ? std::max<int64_t>(*k.stop + len, -1) : std::min(*k.stop, len - 1)) : -1;
    }
    int64_t span = step > 0 ? stop - start : start - stop;
    int64_t abs_step = step > 0 ? step : -step;
    int64_t length = span > 0 ? (span + abs_step - 1) / abs_step : 0;
    return {axis, start, step, length};
  }

  Resolved resolve(const Shape& s) const {
    size_t consuming = 0;
    bool has_ellipsis = false;
    for (const KeyItem& k : key_) {
      consuming += k.kind == KeyItem::Kind::kIndex || k.kind == KeyItem::Kind::kSlice;
      has_ellipsis |= k.kind == KeyItem::Kind::kEllipsis;
    }
    if (consuming > s.size())
      throw Error("too many indices (" + std::to_string(consuming) + ") for a tensor of shape " + shape_to_string(s));
    std::vector<KeyItem> key = key_;
    if (!has_ellipsis) key.push_back(KeyItem(KeyItem::Kind::kEllipsis));
    Resolved r;
    int axis = 0;
    for (const KeyItem& k : key) {
      switch (k.kind) {
        case KeyItem::Kind::kNewAxis: r.axes.push_back({-1, 0, 0, 1}); break;
        case KeyItem::Kind::kEllipsis:
          for (size_t n = s.size() - consuming; n > 0; --n, ++axis) r.axes.push_back({axis, 0, 1, s[axis]});
          break;
        case KeyItem::Kind::kSlice:
          r.axes.push_back(slice_axis(k, axis, s[axis]));
          ++axis;
          break;
        case KeyItem::Kind::kIndex: {
          int64_t len = s[axis], i = k.index;
          if (len >= 0) {
            if (i < -len || i >= len)
              throw Error("index " + std::to_string(i) + " is out of range for axis " + std::to_string(axis) +
                          " of shape " + shape_to_string(s));
            if (i < 0) i += len;
          }
          r.fixed.emplace_back(axis, i);
          ++axis;
          break;
        }
      }
    }
    return r;
  }

  int x_;
  std::vector<KeyItem> key_;
  size_t inputs_;
};

std::optional<int64_t> slice_bound(const Json& cfg, const char* key, CallArgs& args) {
  if (!cfg.contains(key) || cfg[key].is_null()) return std::nullopt;
  const Json& v = cfg[key];
  if (v.is_number_integer()) return v.get<int64_t>();
  args.fail(std::string("slice ") + key + " should be an integer or None, got " + v.dump().substr(0, 100));
}

KeyItem parse_key_item(const Json& j, CallArgs& args) {
  if (j.is_null()) return KeyItem(KeyItem::Kind::kNewAxis);
  if (j.is_number_integer()) return KeyItem(KeyItem::Kind::kIndex, j.get<int64_t>());
  if (j.is_object() && j.contains("class_name") && j["class_name"].is_string()) {
    std::string cls = j["class_name"].get<std::string>();
    if (cls == "__ellipsis__") return KeyItem(KeyItem::Kind::kEllipsis);
    if (cls == "__slice__") {
      static const Json kEmpty = Json::object();
      const Json& cfg = j.contains("config") && j["config"].is_object() ? j["config"] : kEmpty;
      KeyItem k(KeyItem::Kind::kSlice);
      k.start = slice_bound(cfg, "start", args);
      k.stop = slice_bound(cfg, "stop", args);
      k.step = slice_bound(cfg, "step", args);
      if (k.step && *k.step == 0) args.fail("slice step cannot be zero");
      return k;
    }
  }
  if (placeholder_index(j)) args.fail("indexing with a tensor is not supported");
  args.fail("unsupported index " + j.dump().substr(0, 200) + " (only integers, slices, None and ... are)");
}

std::shared_ptr<const Op> bind_get_item(CallArgs& args) {
  int x = args.tensor(0, "x");
  const Json* key = args.find(1, "key");
  if (!key) args.fail("the call has no index");
  std::vector<KeyItem> items;
  if (key->is_array()) {
    for (const Json& e : *key) items.push_back(parse_key_item(e, args));
  } else {
    items.push_back(parse_key_item(*key, args));
  }
  if (std::count_if(items.begin(), items.end(), [](const KeyItem& k) { return k.kind == KeyItem::Kind::kEllipsis; }) >
      1)
    args.fail("an index may hold only one ellipsis");
  return std::make_shared<GetItem>(x, std::move(items), args.input_count());
}

}  // namespace
}  // namespace op_nodes

void register_op_nodes_shape(const AddLayer& add) {
  using namespace op_nodes;
  add_op(add, "Reshape", [](const Config& c) -> Binder {
    std::vector<int64_t> target =
        c.raw("newshape").is_number_integer() ? std::vector<int64_t>{c.integer("newshape")} : c.int_list("newshape");
    return [target](CallArgs& a) {
      a.tensor(0, "x");
      return std::make_shared<SameOrder>([target](const Shape& s) { return reshape_to(s, target); }, a.input_count());
    };
  });
  add_op(add, "ExpandDims", [](const Config& c) -> Binder {
    if (!c.has("axis")) c.fail("expand_dims needs an 'axis'");
    std::vector<int64_t> axes = *optional_axes(c, "axis");
    return [axes](CallArgs& a) {
      a.tensor(0, "x");
      return std::make_shared<SameOrder>([axes](const Shape& s) { return expand_dims_shape(s, axes); },
                                         a.input_count());
    };
  });
  add_op(add, "Squeeze", [](const Config& c) -> Binder {
    std::optional<std::vector<int64_t>> axes = optional_axes(c, "axis");
    return [axes](CallArgs& a) {
      a.tensor(0, "x");
      return std::make_shared<SameOrder>([axes](const Shape& s) { return squeeze_shape(s, axes); }, a.input_count());
    };
  });
  add_op(add, "Transpose", [](const Config& c) -> Binder {
    std::optional<std::vector<int64_t>> axes = c.has("axes") ? std::optional(c.int_list("axes")) : std::nullopt;
    return [axes](CallArgs& a) {
      a.tensor(0, "x");
      return std::make_shared<Permutation>([axes](size_t rank) { return transpose_perm(axes, rank); }, a.input_count());
    };
  });
  add_op(add, "Swapaxes", [](const Config& c) -> Binder {
    int64_t a1 = c.integer("axis1"), a2 = c.integer("axis2");
    return [a1, a2](CallArgs& a) {
      a.tensor(0, "x");
      auto perm = [a1, a2](size_t rank) {
        std::vector<int> p(rank);
        std::iota(p.begin(), p.end(), 0);
        std::swap(p[axis_in(a1, rank)], p[axis_in(a2, rank)]);
        return p;
      };
      return std::make_shared<Permutation>(perm, a.input_count());
    };
  });
  add_op(add, "Moveaxis", [](const Config& c) -> Binder {
    if (!c.has("source") || !c.has("destination")) c.fail("moveaxis needs 'source' and 'destination'");
    std::vector<int64_t> src = *optional_axes(c, "source"), dst = *optional_axes(c, "destination");
    return [src, dst](CallArgs& a) {
      a.tensor(0, "x");
      return std::make_shared<Permutation>([src, dst](size_t rank) { return moveaxis_perm(src, dst, rank); },
                                           a.input_count());
    };
  });
  add_op(add, "GetItem", [](const Config&) -> Binder { return bind_get_item; });
}

}  // namespace kerasrt::layers
